#include "latency_table.hpp"

#include "slow_start.hpp"

#include <algorithm>
#include <new>
#include <utility>
#include <vector>

namespace upstream_latency {

namespace {

// FNV-1a, 64 bits, with a caller-chosen offset basis.
uint64_t fnv1a(std::string_view text, uint64_t hash) noexcept
{
    for (unsigned char c : text) {
        hash = (hash ^ c) * 0x100000001b3;
    }
    return hash;
}

// Final avalanche of splitmix64, so the two halves of a key differ well.
uint64_t mix(uint64_t x) noexcept
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
    x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
    return x ^ (x >> 31);
}

}  // namespace

namespace {

void copy(std::atomic<uint64_t>& to, const std::atomic<uint64_t>& from)
    noexcept
{
    to.store(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace

void PeerSlot::copy_statistics(const PeerSlot& from) noexcept
{
    copy(header_time, from.header_time);
    copy(response_time, from.response_time);
    copy(selected_ms, from.selected_ms);
    copy(connect_time, from.connect_time);
    copy(joined_ms, from.joined_ms);
    copy(counters.requests, from.counters.requests);
    for (std::size_t i = 0; i < 5; i++) {
        copy(counters.responses[i], from.counters.responses[i]);
    }
    copy(counters.fails, from.counters.fails);
    copy(counters.unavail, from.counters.unavail);
    for (std::size_t i = 0; i < kHistogramBuckets; i++) {
        copy(counters.histogram[i], from.counters.histogram[i]);
    }
    copy(counters.histogram_sum_us, from.counters.histogram_sum_us);
}

PeerKey PeerKey::of(std::string_view upstream, std::string_view peer,
                    bool backup) noexcept
{
    // The separator keeps ("ab", "c") and ("a", "bc") apart; a backup
    // peer's hashes start from other seeds, which no name can reach.
    uint64_t flip = backup ? 0x6261636b75702121 : 0;  // "backup!!"
    uint64_t high = fnv1a(peer, fnv1a("\n", fnv1a(upstream,
                                                  0xcbf29ce484222325 ^ flip)));
    uint64_t low = fnv1a(peer, fnv1a("\n", fnv1a(upstream,
                                                 0x84222325cbf29ce4 ^ flip)));
    return {mix(high), mix(low ^ 0x9e3779b97f4a7c15)};
}

const LatencyTable* LatencyTable::attach(const void* mem,
                                         std::size_t bytes) noexcept
{
    if (mem == nullptr || bytes < sizeof(TableHeader)) {
        return nullptr;
    }
    auto table = static_cast<const LatencyTable*>(mem);
    const TableHeader& h = table->header_;
    if (h.magic != kMagic || h.version != kVersion
        || h.slot_size != sizeof(PeerSlot) || h.bytes > bytes
        || h.used > h.capacity || h.workers == 0
        || bytes_for(h.capacity, h.workers, h.upstreams) > h.bytes)
    {
        return nullptr;
    }
    return table;
}

LatencyTable* LatencyTable::create(void* mem, std::size_t bytes,
                                   const PeerKey* keys, std::size_t nkeys,
                                   uint32_t workers, const void* predecessor,
                                   std::size_t predecessor_bytes,
                                   Joining joining,
                                   const PeerKey* upstream_keys,
                                   std::size_t nupstreams)
{
    std::size_t capacity =
        workers ? capacity_of(bytes, workers, nupstreams) : 0;
    if (nkeys > capacity || capacity > UINT32_MAX) {
        return nullptr;
    }

    // The previous table's slots sorted by key, then index, to find each
    // new key: the k-th slot of a key (one address twice in an upstream,
    // as a server and a backup) takes the k-th previous one's statistics.
    std::vector<std::pair<PeerKey, uint32_t>> previous;
    const LatencyTable* old = attach(predecessor, predecessor_bytes);
    if (old != nullptr) {
        previous.reserve(old->used());
        for (uint32_t i = 0; i < old->used(); i++) {
            previous.emplace_back(old->slot(i).key.load(), i);
        }
        std::sort(previous.begin(), previous.end());
    }
    std::vector<bool> taken(previous.size());

    auto table = new (mem) LatencyTable;
    table->header_ = {kMagic,
                      kVersion,
                      sizeof(PeerSlot),
                      bytes,
                      static_cast<uint32_t>(capacity),
                      static_cast<uint32_t>(nkeys),
                      0,
                      workers,
                      static_cast<uint32_t>(nupstreams)};

    for (std::size_t i = 0; i < nupstreams; i++) {
        UpstreamEntry* entry = new (&table->entries()[i]) UpstreamEntry();
        entry->key.store(upstream_keys[i]);
        for (uint32_t j = 0; old != nullptr && j < old->upstreams(); j++) {
            if (old->upstream(j).key.load() == upstream_keys[i]) {
                entry->clock.copy(old->upstream(j).clock);
                break;
            }
        }
    }

    for (std::size_t i = 0; i < capacity; i++) {
        PeerSlot* slot = new (&table->slots()[i]) PeerSlot();
        if (i >= nkeys) {
            continue;
        }
        slot->key.store(keys[i]);
        slot->down = joining.down != nullptr && joining.down[i];

        auto found = std::lower_bound(
            previous.begin(), previous.end(), std::make_pair(keys[i], 0u),
            [](const auto& a, const auto& b) { return a.first < b.first; });
        while (found != previous.end() && found->first == keys[i]
               && taken[found - previous.begin()])
        {
            ++found;
        }
        bool kept = found != previous.end() && found->first == keys[i];
        if (kept) {
            taken[found - previous.begin()] = true;
            slot->copy_statistics(old->slot(found->second));
            table->header_.kept++;
        }
        if (old != nullptr && !slot->down
            && (!kept || old->slot(found->second).down))
        {
            rejoin(*slot, joining.now_ms);
        }
    }
    for (std::size_t i = 0; i < capacity * workers; i++) {
        new (&table->cell_rows()[i]) InflightCell();
    }
    for (uint32_t i = 0; i < workers; i++) {
        new (&table->row_owners()[i]) RowOwner(0);
    }
    for (uint32_t i = old ? old->used() : 0; old && i < old->capacity(); i++)
    {
        PeerKey key;
        uint32_t owner;
        // the old workers may be mapping their lists meanwhile
        if (published(old->slot(i), key, owner)) {
            table->carry(old->slot(i), key, owner);
        }
    }
    return table;
}

bool LatencyTable::published(const PeerSlot& slot, PeerKey& key,
                             uint32_t& owner) noexcept
{
    for (;;) {
        owner = slot.owner.load(std::memory_order_acquire);
        if ((owner & 3) != 1 && (owner & 3) != 2) {
            return false;  // never used, or being claimed
        }
        key = slot.key.load();
        // A half stored by a claim that began after the owner was read
        // brings that claim along: the owner then reads changed.  It
        // comes back to the same value only through a claim and a release
        // by the same group, which acquire checks for.
        if (slot.owner.load(std::memory_order_relaxed) == owner) {
            return true;
        }
    }
}

void LatencyTable::carry(const PeerSlot& from, const PeerKey& key,
                         uint32_t owner) noexcept
{
    for (uint32_t step = 0; step < resolved_slots(); step++) {
        PeerSlot& slot = this->slot(probe(key, step));
        if (slot.owner.load(std::memory_order_relaxed) == 0) {
            slot.key.store(key);
            slot.copy_statistics(from);
            slot.owner.store((owner & 3) == 1 ? released_by(kCarried) : owner,
                             std::memory_order_relaxed);
            return;
        }
    }
}

uint32_t LatencyTable::acquire(const PeerKey& key, uint32_t group,
                               uint64_t now_ms) noexcept
{
    for (;;) {
        // The key's slot, or else the first that may be taken: one a
        // reload carried while its list held it only when no other is,
        // as that list has not mapped its peers again yet.
        uint32_t found = npos, free = npos, carried = npos;
        uint32_t found_owner = 0, free_owner = 0;

        for (uint32_t step = 0; step < resolved_slots(); step++) {
            uint32_t index = probe(key, step);
            PeerKey slot_key;
            uint32_t owner;
            if (published(slot(index), slot_key, owner) && slot_key == key) {
                found = index;
                found_owner = owner;
                break;
            }
            if (owner == released_by(kCarried) && active(index) == 0) {
                carried = carried == npos ? index : carried;
            } else if (free == npos
                       && (owner == 0
                           || ((owner & 3) == 2 && active(index) == 0)))
            {
                free = index;
                free_owner = owner;
            }
            if (owner == 0) {
                break;  // the key was never put further
            }
        }

        if (free == npos && carried != npos) {
            free = carried;
            free_owner = released_by(kCarried);
        }

        if (found != npos && (found_owner & 3) == 1) {
            return found;  // held already (by a list of the same name)
        }

        uint32_t index = found != npos ? found : free;
        uint32_t expected = found != npos ? found_owner : free_owner;
        if (index == npos) {
            return npos;
        }

        PeerSlot& s = slot(index);
        if (!s.owner.compare_exchange_strong(expected, claimed_by(group),
                                             std::memory_order_acquire))
        {
            continue;  // another group took it meanwhile
        }

        if (found == npos) {
            s.key.store(key);
            s.copy_statistics(PeerSlot());
            rejoin(s, now_ms);

        } else if (!(s.key.load() == key)) {
            // it changed keys between the probe and the claim
            s.owner.store(expected, std::memory_order_release);
            continue;

        } else if (expected != released_by(kCarried)) {
            // An address that left the list and comes back joins again,
            // as a server that a reload brings back from down, or one back
            // from failure: its average decayed while it was away and
            // would make it look instant.  (NGINX Plus ramps a server up
            // when it "becomes available after a period of time it was
            // considered unavailable", and a re-resolved address that left
            // comes back there as a new server.)  One that a reload
            // carried while its list held it never left: it keeps its
            // time of joining, as a configured server that a reload keeps.
            rejoin(s, now_ms);
        }
        s.owner.store(held_by(group), std::memory_order_release);
        return index;
    }
}

uint32_t LatencyTable::release_unmapped(uint32_t group,
                                        const uint64_t* mapped) noexcept
{
    uint32_t released = 0;
    for (uint32_t i = 0; i < resolved_slots(); i++) {
        PeerSlot& s = slot(header_.used + i);
        uint32_t owner = held_by(group);
        if ((mapped[i / 64] >> i % 64 & 1) == 0
            && s.owner.load(std::memory_order_relaxed) == owner
            && s.owner.compare_exchange_strong(owner, released_by(group),
                                               std::memory_order_acq_rel))
        {
            released++;
        }
    }
    return released;
}

uint32_t LatencyTable::find(const PeerKey& key) const noexcept
{
    for (uint32_t step = 0; step < resolved_slots(); step++) {
        uint32_t index = probe(key, step);
        PeerKey slot_key;
        uint32_t owner;
        if (published(slot(index), slot_key, owner) && slot_key == key) {
            return index;
        }
        if (owner == 0) {
            break;
        }
    }
    return npos;
}

uint32_t LatencyTable::resolved() const noexcept
{
    uint32_t held = 0;
    for (uint32_t i = header_.used; i < header_.capacity; i++) {
        held += (slot(i).owner.load(std::memory_order_relaxed) & 3) == 1;
    }
    return held;
}

}  // namespace upstream_latency
