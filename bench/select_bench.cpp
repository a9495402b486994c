// Cost of one least_time choice in the pure C++ core: score every peer from
// its slot in the shared latency table, then pick the least score, as
// ngx_http_upstream_least_time_choose() does for each request.
//
//   g++ -std=c++17 -O2 -Isrc bench/select_bench.cpp src/core/*.cpp -lbenchmark
//       -lpthread -o build/select_bench      (bench/run does this)
//   build/select_bench
//
// One iteration is one selection; time per iteration is ns per selection.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "core/inflight.hpp"
#include "core/latency_table.hpp"
#include "core/peak_ewma.hpp"
#include "core/selection.hpp"

namespace {

using namespace upstream_latency;

constexpr Decay kDecay{1000};              // the module's default half-life
constexpr uint64_t kNowUs = 3'600'000'000;  // one hour into the clock
constexpr uint32_t kWorkers = 2;

// A table of n peers seen by kWorkers worker processes, in a 64-byte aligned
// buffer, as in shared memory, with a history of samples: latencies from 1 to 50 ms, a third of the peers
// within the tie factor of the fastest, requests in flight on some peers.
class Table {
public:
    explicit Table(std::size_t n)
        : bytes_(LatencyTable::bytes_for(n, kWorkers)),
          mem_(::operator new(bytes_, std::align_val_t{64}))
    {
        std::vector<PeerKey> keys;
        for (std::size_t i = 0; i < n; i++) {
            keys.push_back(PeerKey::of(
                "backend", "10.0." + std::to_string(i / 256) + "."
                               + std::to_string(i % 256) + ":8080"));
        }
        table_ = LatencyTable::create(mem_, bytes_, keys.data(), n, kWorkers,
                                      nullptr, 0);
        if (table_ == nullptr) {
            throw std::bad_alloc();
        }

        uint32_t seed = 12345;
        auto next = [&seed] {
            seed = seed * 1664525 + 1013904223;
            return seed >> 8;
        };

        for (std::size_t i = 0; i < n; i++) {
            PeerSlot& slot = table_->slot(static_cast<uint32_t>(i));
            uint64_t base = i % 3 == 0 ? 5000 + next() % 500  // near ties
                                       : 1000 + next() % 49000;
            // eight samples over the last 400 ms, +-20% around the base
            for (uint64_t s = 0; s < 8; s++) {
                uint64_t at = kNowUs - 400'000 + s * 50'000;
                uint64_t sample = base * (80 + next() % 41) / 100;
                PeakEwma::record(slot.header_time, sample, SampleKind::exact,
                                 at, kDecay);
                PeakEwma::record(slot.response_time, sample + 200,
                                 SampleKind::exact, at, kDecay);
            }
            for (uint64_t r = 0; r < i % 4; r++) {  // 0 to 3 in flight
                InflightCells::enter(
                    table_->cells(static_cast<uint32_t>(i))[r % kWorkers],
                    kNowUs - 1000 * (next() % 20));
            }
            weights_.push_back(1 + static_cast<uint32_t>(i % 5 == 0));
        }
    }

    ~Table() { ::operator delete(mem_, std::align_val_t{64}); }

    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;

    const LatencyTable& table() const { return *table_; }
    uint32_t weight(std::size_t i) const { return weights_[i]; }

private:
    std::size_t bytes_;
    void* mem_;
    LatencyTable* table_ = nullptr;
    std::vector<uint32_t> weights_;
};

void select(benchmark::State& state, bool inflight)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    const Table table(n);
    const LoadOptions options{Metric::header, inflight, kDecay};
    std::vector<Candidate> candidates(n);
    std::vector<int64_t> current_weights(n, 0);
    uint64_t now_us = kNowUs;

    for (auto _ : state) {
        for (std::size_t i = 0; i < n; i++) {
            uint32_t weight = table.weight(i);
            candidates[i] = {static_cast<uint32_t>(i), weight,
                             score(observe(table.table(),
                                           static_cast<uint32_t>(i), options,
                                           now_us),
                                   weight)};
        }
        std::size_t best = pick_least_score(candidates.data(), n,
                                            current_weights.data());
        benchmark::DoNotOptimize(best);
        now_us += 1;  // the clock moves on between requests
    }

    state.SetItemsProcessed(state.iterations());
    state.counters["peers"] = static_cast<double>(n);
}

void BM_Select(benchmark::State& state) { select(state, false); }
void BM_SelectInflight(benchmark::State& state) { select(state, true); }

}  // namespace

BENCHMARK(BM_Select)->Arg(2)->Arg(10)->Arg(100)->Arg(1000)
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_SelectInflight)->Arg(2)->Arg(10)->Arg(100)->Arg(1000)
    ->Unit(benchmark::kNanosecond);

BENCHMARK_MAIN();
