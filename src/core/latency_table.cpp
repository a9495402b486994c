#include "latency_table.hpp"

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

PeerKey PeerKey::of(std::string_view upstream, std::string_view peer) noexcept
{
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    uint64_t high = fnv1a(peer, fnv1a("\n", fnv1a(upstream,
                                                  0xcbf29ce484222325)));
    uint64_t low = fnv1a(peer, fnv1a("\n", fnv1a(upstream,
                                                 0x84222325cbf29ce4)));
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
        || h.used > h.capacity || bytes_for(h.capacity) > h.bytes)
    {
        return nullptr;
    }
    return table;
}

LatencyTable* LatencyTable::create(void* mem, std::size_t bytes,
                                   const PeerKey* keys, std::size_t nkeys,
                                   const void* predecessor,
                                   std::size_t predecessor_bytes)
{
    std::size_t capacity = capacity_of(bytes);
    if (nkeys > capacity || capacity > UINT32_MAX) {
        return nullptr;
    }

    // The previous table's slots sorted by key, to find each new key.
    std::vector<std::pair<PeerKey, uint32_t>> previous;
    const LatencyTable* old = attach(predecessor, predecessor_bytes);
    if (old != nullptr) {
        previous.reserve(old->used());
        for (uint32_t i = 0; i < old->used(); i++) {
            previous.emplace_back(old->slot(i).key, i);
        }
        std::sort(previous.begin(), previous.end());
    }

    auto table = new (mem) LatencyTable;
    table->header_ = {kMagic, kVersion, sizeof(PeerSlot), bytes,
                      static_cast<uint32_t>(capacity),
                      static_cast<uint32_t>(nkeys), 0};

    for (std::size_t i = 0; i < capacity; i++) {
        PeerSlot* slot = new (&table->slots()[i]) PeerSlot;
        slot->key = i < nkeys ? keys[i] : PeerKey{0, 0};
        slot->header_time.store(0, std::memory_order_relaxed);
        slot->response_time.store(0, std::memory_order_relaxed);
        slot->inflight.store(0, std::memory_order_relaxed);

        if (i >= nkeys) {
            continue;
        }
        auto found = std::lower_bound(
            previous.begin(), previous.end(), std::make_pair(keys[i], 0u),
            [](const auto& a, const auto& b) { return a.first < b.first; });
        if (found != previous.end() && found->first == keys[i]) {
            const PeerSlot& from = old->slot(found->second);
            slot->header_time.store(
                from.header_time.load(std::memory_order_relaxed),
                std::memory_order_relaxed);
            slot->response_time.store(
                from.response_time.load(std::memory_order_relaxed),
                std::memory_order_relaxed);
            table->header_.kept++;
        }
    }
    return table;
}

}  // namespace upstream_latency
