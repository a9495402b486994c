// Requests in flight to one peer, one cell per worker process, which any
// process reads and sums.  A worker that dies leaves only its own cells
// behind, and its successor clears them exactly.  Cells take
// read-modify-writes: two processes share a row of them when a binary
// upgrade is rolled back (see LatencyTable::start_worker).
#pragma once

#include <atomic>
#include <cstdint>

namespace upstream_latency {

struct InflightCell {
    // Requests whose response has not ended.
    std::atomic<uint64_t> active;
    // Of those, the ones still awaiting the response header: count (high
    // 16 bits) and the sum of their start times in milliseconds modulo 2^48
    // (low 48 bits).
    std::atomic<uint64_t> waiting;
};

static_assert(sizeof(InflightCell) == 16);

// The peer's requests in flight over all worker processes.
struct Inflight {
    uint32_t active;
    uint32_t waiting;
    double mean_wait_us;  // mean time the waiting ones have waited so far
};

class InflightCells {
public:
    static constexpr uint64_t kSumMask = (uint64_t{1} << 48) - 1;
    static constexpr uint64_t kMaxWaiting = 0xffff;

    // A request starts: it is active, and waiting unless the cell already
    // counts kMaxWaiting; returns whether it was counted as waiting.
    static bool enter(InflightCell& cell, uint64_t start_us) noexcept
    {
        enter(cell);
        return wait(cell, start_us);
    }

    // A request starts, only active: its waiting time would not be read.
    static void enter(InflightCell& cell) noexcept { add(cell.active, 1); }

    // A request that entered awaits its answer since start_us, unless the
    // cell already counts kMaxWaiting; returns whether it was counted.
    static bool wait(InflightCell& cell, uint64_t start_us) noexcept
    {
        uint64_t waiting = cell.waiting.load(std::memory_order_relaxed);
        do {
            if ((waiting >> 48) == kMaxWaiting) {
                return false;
            }
        } while (!cell.waiting.compare_exchange_weak(
            waiting,
            (((waiting >> 48) + 1) << 48)
                | ((waiting + stamp(start_us)) & kSumMask),
            std::memory_order_relaxed));
        return true;
    }

    // The response header of a request counted as waiting has arrived.
    static void answered(InflightCell& cell, uint64_t start_us) noexcept
    {
        uint64_t waiting = cell.waiting.load(std::memory_order_relaxed);
        while (!cell.waiting.compare_exchange_weak(
            waiting,
            (((waiting >> 48) - 1) << 48)
                | ((waiting - stamp(start_us)) & kSumMask),
            std::memory_order_relaxed))
        {
        }
    }

    // The response has ended (or the attempt was given up).
    static void leave(InflightCell& cell) noexcept { add(cell.active, -1); }

    // Clears a cell of a process that is gone; returns its active requests.
    static uint64_t clear(InflightCell& cell) noexcept
    {
        cell.waiting.store(0, std::memory_order_relaxed);
        return cell.active.exchange(0, std::memory_order_relaxed);
    }

    // The requests active over all worker processes: all that a selection
    // needs of a peer with a measured estimate, without inflight.
    // count must be at least 1.
    static uint32_t active(const InflightCell* cells, uint32_t count) noexcept
    {
        uint64_t active = cells[0].active.load(std::memory_order_relaxed);
        for (uint32_t i = 1; i < count; i++) {
            active += cells[i].active.load(std::memory_order_relaxed);
        }
        return static_cast<uint32_t>(active);
    }

    // Sums the cells of all worker processes.  Each cell's waiting time is
    // exact while each of its requests has waited less than 2^47 ms / 65535
    // (24 days), whatever the number of requests and cells.
    static Inflight read(const InflightCell* cells, uint32_t count,
                         uint64_t now_us) noexcept
    {
        return read_ms(cells, count, now_us / 1000);
    }

    // The same at now_ms, monotonic milliseconds.
    static Inflight read_ms(const InflightCell* cells, uint32_t count,
                            uint64_t now_ms) noexcept
    {
        uint64_t active = 0;
        uint64_t waiting = 0;
        uint64_t waited_ms = 0;

        for (uint32_t i = 0; i < count; i++) {
            active += cells[i].active.load(std::memory_order_relaxed);
            uint64_t w = cells[i].waiting.load(std::memory_order_relaxed);
            uint64_t n = w >> 48;
            if (n == 0) {
                continue;
            }
            waiting += n;
            // A request its worker entered after now_us was read makes the
            // difference negative: it wraps to near 2^48; count it as 0.
            uint64_t waited = (n * now_ms - w) & kSumMask;
            if (waited <= kSumMask / 2) {
                waited_ms += waited;
            }
        }

        if (waiting == 0) {
            return {static_cast<uint32_t>(active), 0, 0.0};
        }
        return {static_cast<uint32_t>(active), static_cast<uint32_t>(waiting),
                static_cast<double>(waited_ms) * 1000 / waiting};
    }

private:
    static uint64_t stamp(uint64_t us) noexcept
    {
        return (us / 1000) & kSumMask;
    }

    static void add(std::atomic<uint64_t>& counter, int64_t delta) noexcept
    {
        counter.fetch_add(static_cast<uint64_t>(delta),
                          std::memory_order_relaxed);
    }
};

}  // namespace upstream_latency
