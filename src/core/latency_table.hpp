// The latency table shared by all worker processes: a header, an entry per
// upstream and one slot per peer, laid out in shared memory.  Plain data
// only: no pointers, no virtual functions, so any process can map it and a
// new configuration can read the table of the previous one.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "inflight.hpp"
#include "peak_ewma.hpp"
#include "upstream_clock.hpp"

namespace upstream_latency {

// Stable identity of a peer: a 128-bit hash of upstream name and peer address.
struct PeerKey {
    uint64_t high;
    uint64_t low;

    // backup: the key of a peer among the backup servers, never that of
    // the same address among the primary ones (a reload that removes one
    // keeps the other's statistics; resolved, the two lists acquire and
    // release their slots apart)
    static PeerKey of(std::string_view upstream, std::string_view peer,
                      bool backup = false) noexcept;

    bool operator==(const PeerKey& other) const noexcept
    {
        return high == other.high && low == other.low;
    }
    bool operator<(const PeerKey& other) const noexcept
    {
        return high != other.high ? high < other.high : low < other.low;
    }
};

// The time an attempt is measured to: the response header (HTTP) or the
// first byte from the server (stream, the same moment of the exchange), the
// end of the response or session, or the connection to the server (stream).
enum class Metric { header, last_byte, connect, first_byte = header };

// Response time histogram limits in milliseconds, those of the NGINX Plus
// API; one more bucket holds the slower responses.
inline constexpr uint32_t kHistogramLimitsMs[] = {
    5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000};
inline constexpr std::size_t kHistogramBuckets =
    sizeof(kHistogramLimitsMs) / sizeof(kHistogramLimitsMs[0]) + 1;

// The bucket of a response time: the first limit at or above it.  Inline:
// once per response, and most responses stop at the first limits.
inline std::size_t histogram_bucket(uint64_t response_us) noexcept
{
    std::size_t i = 0;
    while (i < kHistogramBuckets - 1
           && response_us > uint64_t{kHistogramLimitsMs[i]} * 1000)
    {
        i++;
    }
    return i;
}

// Totals for the status, over all worker processes; they only grow.
struct PeerCounters {
    std::atomic<uint64_t> requests;      // stream: connections
    std::atomic<uint64_t> responses[5];  // 1xx .. 5xx; stream: see sent()
    std::atomic<uint64_t> fails;
    std::atomic<uint64_t> unavail;
    std::atomic<uint64_t> histogram[kHistogramBuckets];  // not cumulative
    std::atomic<uint64_t> histogram_sum_us;

    // A stream session has no status: the bytes it sent to the server and
    // received from it take the place of the first two status classes, so
    // that a slot stays 256 bytes.
    std::atomic<uint64_t>& sent() noexcept { return responses[0]; }
    std::atomic<uint64_t>& received() noexcept { return responses[1]; }
    const std::atomic<uint64_t>& sent() const noexcept
    {
        return responses[0];
    }
    const std::atomic<uint64_t>& received() const noexcept
    {
        return responses[1];
    }
};

// A slot's key, in halves that may be read while another process writes
// them: a resolved slot's key is rewritten while other processes probe
// the table (see LatencyTable::acquire).  Each half alone is atomic; the
// slot's owner tells when the two make one key.  A half read from a store
// brings along what its writer did before (the claim of the slot).
struct SlotKey {
    std::atomic<uint64_t> high;
    std::atomic<uint64_t> low;

    PeerKey load() const noexcept
    {
        return {high.load(std::memory_order_acquire),
                low.load(std::memory_order_acquire)};
    }
    void store(const PeerKey& key) noexcept
    {
        high.store(key.high, std::memory_order_release);
        low.store(key.low, std::memory_order_release);
    }
};

// A slot's joined_ms: when the peer joined, in monotonic milliseconds, and
// in this bit whether no request sent to it since has been answered.
// Until one is, its estimates are no measure of it: a failure's penalty,
// or an average from before it left, decayed while it was out, would make
// it look faster than it has shown to be.
inline constexpr uint64_t kJoinedUnanswered = uint64_t{1} << 63;

// When the peer of the joined_ms word joined (0: with the first
// configuration).
inline uint64_t joined_at(uint64_t joined) noexcept
{
    return joined & ~kJoinedUnanswered;
}

// Whether the peer of the joined_ms word has answered since it joined, as
// a peer of the first configuration counts.
inline bool answered_since_joining(uint64_t joined) noexcept
{
    return (joined & kJoinedUnanswered) == 0;
}

struct alignas(64) PeerSlot {
    // First cache line: what a selection reads.
    SlotKey key;  // of a configured peer: written before workers start;
                  // of a resolved one: by the process that claims it
    std::atomic<uint64_t> header_time;    // PeakEwma
    std::atomic<uint64_t> response_time;  // PeakEwma
    std::atomic<uint64_t> selected_ms;    // wall clock, 0: never
    std::atomic<uint64_t> connect_time;   // PeakEwma, stream only
    // Slow start: when the peer joined, monotonic ms (0: with the first
    // configuration), a time to come while it is out after failing; and
    // kJoinedUnanswered.
    std::atomic<uint64_t> joined_ms;
    uint32_t down;  // marked down in its configuration; read on reload

    // Slots of resolved peers only (see LatencyTable::acquire): 0 if never
    // used, else the peer list (group) that holds, released or is claiming
    // it, and which of the three.
    std::atomic<uint32_t> owner;

    alignas(64) PeerCounters counters;

    // The member holding metric's estimate.
    static constexpr std::atomic<uint64_t> PeerSlot::*estimate_member(
        Metric metric) noexcept
    {
        return metric == Metric::header      ? &PeerSlot::header_time
               : metric == Metric::last_byte ? &PeerSlot::response_time
                                             : &PeerSlot::connect_time;
    }

    std::atomic<uint64_t>& estimate(Metric metric) noexcept
    {
        return this->*estimate_member(metric);
    }
    const std::atomic<uint64_t>& estimate(Metric metric) const noexcept
    {
        return const_cast<PeerSlot*>(this)->estimate(metric);
    }

    // Statistics carried to the next configuration.
    void copy_statistics(const PeerSlot& from) noexcept;
};

// What a new configuration tells the table of its peers, for slow start:
// the time it takes effect (monotonic ms) and, per key, whether the peer
// is marked down (nullptr: none is).
struct Joining {
    uint64_t now_ms = 0;
    const uint8_t* down = nullptr;
};

// An upstream's own entry: its key, PeerKey::of(name, {}) (no peer has
// an empty address), and its clock.
struct alignas(64) UpstreamEntry {
    SlotKey key;
    UpstreamClock clock;
};

struct alignas(64) TableHeader {
    uint64_t magic;
    uint32_t version;
    uint32_t slot_size;
    uint64_t bytes;
    uint32_t capacity;
    uint32_t used;
    uint32_t kept;     // slots whose statistics came from the predecessor
    uint32_t workers;  // worker processes, each with a row of InflightCells
    uint32_t upstreams;  // UpstreamEntries, before the slots
};

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<PeerSlot>);
static_assert(std::is_standard_layout_v<TableHeader>);
static_assert(std::is_standard_layout_v<UpstreamEntry>);
static_assert(sizeof(UpstreamEntry) == 64);
static_assert(std::is_trivially_destructible_v<PeerSlot>);
static_assert(sizeof(PeerSlot) == 256);

using RowOwner = std::atomic<int32_t>;
static_assert(RowOwner::is_always_lock_free);

class LatencyTable {
public:
    static constexpr uint64_t kMagic = 0x3176544c41535055;  // "UPSLATv1"
    static constexpr uint32_t kVersion = 12;
    static constexpr uint32_t npos = UINT32_MAX;

    // Bytes for capacity slots, the requests in flight of workers (and
    // the process of each row) and the entries of upstreams.
    static constexpr std::size_t bytes_for(std::size_t capacity,
                                           std::size_t workers,
                                           std::size_t upstreams = 0) noexcept
    {
        return sizeof(TableHeader) + upstreams * sizeof(UpstreamEntry)
               + capacity * (sizeof(PeerSlot) + workers * sizeof(InflightCell))
               + workers * sizeof(RowOwner);
    }

    // The most slots whose table fits in bytes.
    static constexpr std::size_t capacity_of(std::size_t bytes,
                                             std::size_t workers,
                                             std::size_t upstreams = 0)
        noexcept
    {
        std::size_t fixed = bytes_for(0, workers, upstreams);
        return bytes < fixed
                   ? 0
                   : (bytes - fixed)
                         / (sizeof(PeerSlot) + workers * sizeof(InflightCell));
    }

    // Lays out a table in mem (bytes long, 64-byte aligned) with one slot
    // per key, in order, and one row of in-flight cells per worker process;
    // the slots left are for resolved peers.  Statistics of keys found in
    // predecessor (the previous configuration's table, or nullptr) are
    // carried over, and so are its resolved peers', released; requests in
    // flight are not, they belong to the old worker processes.  With a
    // predecessor, a peer joins (slot.joined_ms = joining.now_ms) when its
    // key is new, or when it was down and no longer is; a kept peer keeps
    // its time of joining.  Each of the nupstreams upstream_keys has an
    // entry, in order, its clock carried from the predecessor's entry of
    // the same key.  Throws std::bad_alloc; returns nullptr when the keys
    // do not fit.
    static LatencyTable* create(void* mem, std::size_t bytes,
                                const PeerKey* keys, std::size_t nkeys,
                                uint32_t workers, const void* predecessor,
                                std::size_t predecessor_bytes,
                                Joining joining = {},
                                const PeerKey* upstream_keys = nullptr,
                                std::size_t nupstreams = 0);

    // The table at mem if it has this layout, else nullptr.
    static const LatencyTable* attach(const void* mem,
                                      std::size_t bytes) noexcept;

    uint32_t capacity() const noexcept { return header_.capacity; }
    uint32_t used() const noexcept { return header_.used; }
    uint32_t kept() const noexcept { return header_.kept; }
    uint32_t workers() const noexcept { return header_.workers; }
    uint32_t upstreams() const noexcept { return header_.upstreams; }

    UpstreamEntry& upstream(uint32_t index) noexcept
    {
        return entries()[index];
    }
    const UpstreamEntry& upstream(uint32_t index) const noexcept
    {
        return entries()[index];
    }

    PeerSlot& slot(uint32_t index) noexcept { return slots()[index]; }
    const PeerSlot& slot(uint32_t index) const noexcept
    {
        return slots()[index];
    }

    // The in-flight cells of a slot, one per worker process, contiguous.
    InflightCell* cells(uint32_t index) noexcept
    {
        return cell_rows() + std::size_t{index} * header_.workers;
    }
    const InflightCell* cells(uint32_t index) const noexcept
    {
        return const_cast<LatencyTable*>(this)->cells(index);
    }

    // The slot's requests in flight, over all worker processes.
    Inflight inflight(uint32_t index, uint64_t now_us) const noexcept
    {
        return InflightCells::read(cells(index), header_.workers, now_us);
    }

    // Only how many are active, over all worker processes.
    uint32_t active(uint32_t index) const noexcept
    {
        return InflightCells::active(cells(index), header_.workers);
    }

    // The worker process pid starts with the row of worker number worker.
    // If the row's previous process is gone (alive(pid) false: a worker
    // that died, respawned with its number), what it left in flight would
    // never end: it is cleared, the row becomes pid's, and the count is
    // returned.  If it still runs (a binary upgrade rolled back: the old
    // master starts workers with the numbers of its old ones, which still
    // finish their requests), the two share the row, whose cells take
    // read-modify-writes, and it stays the previous one's until that one
    // is gone.
    template <class Alive>
    uint64_t start_worker(uint32_t worker, int32_t pid, Alive&& alive) noexcept
    {
        if (worker >= header_.workers) {
            return 0;
        }
        RowOwner& owner = row_owners()[worker];
        int32_t previous = owner.load(std::memory_order_relaxed);
        if (previous != 0 && previous != pid && alive(previous)) {
            return 0;
        }
        owner.store(pid, std::memory_order_relaxed);
        uint64_t released = 0;
        for (uint32_t i = 0; i < header_.capacity; i++) {
            released += InflightCells::clear(cells(i)[worker]);
        }
        return released;
    }

    // Resolved peers take the slots after the configured ones, found by
    // their key with open addressing (linear probing from the key's low
    // half).  A slot is held by one peer list (group, below kCarried) at a
    // time; a peer that leaves is released, keeping its key and statistics
    // until another peer needs the slot, so an address that comes back
    // finds them.  Only acquire and release_unmapped change owners, by
    // compare-and-swap: the lists of one group must be mapped one process
    // at a time (nginx's write lock of the peers), different groups may
    // race.
    //
    // A slot's key is written only while its owner says "claimed", by the
    // one process whose compare-and-swap claimed it; the store of the
    // owner that ends the claim releases the key, and a reader trusts a
    // key only if the owner it read (acquire) before the key is held or
    // released and is still the same after (see published).

    // The resolved peers' slots, after the configured ones.
    uint32_t resolved_slots() const noexcept
    {
        return header_.capacity - header_.used;
    }

    // The slot of key for group; a new one (statistics cleared) if the key
    // holds none: the first free along its probe, never used or released
    // with no request in flight.  npos if none is left.  The peer joins
    // (slot.joined_ms = now_ms, for slow start) in a new slot, and in its
    // released slot when it comes back to the list; not when the slot is
    // already held, nor when it was carried from the predecessor while
    // held (the address stayed, only the configuration changed).
    uint32_t acquire(const PeerKey& key, uint32_t group, uint64_t now_ms)
        noexcept;

    // Releases the group's slots whose bit is clear in mapped (a bit per
    // resolved slot, in order); returns how many.
    uint32_t release_unmapped(uint32_t group, const uint64_t* mapped)
        noexcept;

    // The slot with the statistics of key's resolved peer, held or
    // released, or npos.
    uint32_t find(const PeerKey& key) const noexcept;

    // Slots held by resolved peers.
    uint32_t resolved() const noexcept;

    // What owner holds while group's peer is in its list, and once
    // released.
    static constexpr uint32_t held_by(uint32_t group) noexcept
    {
        return group << 2 | 1;
    }
    static constexpr uint32_t released_by(uint32_t group) noexcept
    {
        return group << 2 | 2;
    }
    // While group's process writes a new key (or checks the old one).
    static constexpr uint32_t claimed_by(uint32_t group) noexcept
    {
        return group << 2 | 3;
    }

    // The group of the slots the predecessor's groups held at the reload,
    // in released_by: no group of a configuration is numbered so.
    static constexpr uint32_t kCarried = (uint32_t{1} << 30) - 1;

private:
    UpstreamEntry* entries() noexcept
    {
        return reinterpret_cast<UpstreamEntry*>(this + 1);
    }
    const UpstreamEntry* entries() const noexcept
    {
        return reinterpret_cast<const UpstreamEntry*>(this + 1);
    }
    PeerSlot* slots() noexcept
    {
        return reinterpret_cast<PeerSlot*>(entries() + header_.upstreams);
    }
    const PeerSlot* slots() const noexcept
    {
        return reinterpret_cast<const PeerSlot*>(entries()
                                                 + header_.upstreams);
    }
    InflightCell* cell_rows() noexcept
    {
        return reinterpret_cast<InflightCell*>(slots() + header_.capacity);
    }
    // The process (pid) that holds each row of cells, 0 before any.
    RowOwner* row_owners() noexcept
    {
        return reinterpret_cast<RowOwner*>(
            cell_rows() + std::size_t{header_.capacity} * header_.workers);
    }

    // The resolved peers' slot a probe from key visits at step.
    uint32_t probe(const PeerKey& key, uint32_t step) const noexcept
    {
        uint32_t size = resolved_slots();
        return header_.used
               + static_cast<uint32_t>((key.low % size + step) % size);
    }

    // Whether slot holds a whole key (held or released), and then the key
    // and its owner; owner is read in any case.
    static bool published(const PeerSlot& slot, PeerKey& key,
                          uint32_t& owner) noexcept;

    // Puts a slot of the previous table, with its key and owner, released
    // in an unused one.
    void carry(const PeerSlot& from, const PeerKey& key, uint32_t owner)
        noexcept;

    TableHeader header_;
};

static_assert(sizeof(LatencyTable) == sizeof(TableHeader));

// What a selection reads of a table for each peer it scores, found once
// per selection: where the slots and the in-flight cells are, and which
// estimate counts.
struct TableView {
    const PeerSlot* slots;
    const InflightCell* cells;
    uint32_t workers;
    std::atomic<uint64_t> PeerSlot::*estimate;

    TableView(const LatencyTable& table, Metric metric) noexcept
        : slots(&table.slot(0)),
          cells(table.cells(0)),
          workers(table.workers()),
          estimate(PeerSlot::estimate_member(metric))
    {
    }

    uint64_t estimate_of(uint32_t index) const noexcept
    {
        return (slots[index].*estimate).load(std::memory_order_relaxed);
    }

    const InflightCell* cells_of(uint32_t index) const noexcept
    {
        return cells + std::size_t{index} * workers;
    }
};

}  // namespace upstream_latency
