// A stand-in for a shared memory zone holding a latency table, for tests.
#pragma once

#include "core/latency_table.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

namespace upstream_latency {

struct Memory {
    explicit Memory(std::size_t bytes)
        : bytes(bytes),
          // aligned_alloc wants a multiple of the alignment
          data(static_cast<char*>(
                   std::aligned_alloc(64, (bytes + 63) / 64 * 64)),
               std::free)
    {
        std::fill(data.get(), data.get() + bytes, 0);
    }
    std::size_t bytes;
    std::unique_ptr<char, decltype(&std::free)> data;
};

inline std::vector<PeerKey> keys_of(const char* upstream,
                                    std::vector<const char*> peers)
{
    std::vector<PeerKey> keys;
    for (const char* peer : peers) {
        keys.push_back(PeerKey::of(upstream, peer));
    }
    return keys;
}

inline LatencyTable* create(Memory& m, const std::vector<PeerKey>& keys,
                            uint32_t workers = 2,
                            const Memory* previous = nullptr)
{
    return LatencyTable::create(m.data.get(), m.bytes, keys.data(),
                                keys.size(), workers,
                                previous ? previous->data.get() : nullptr,
                                previous ? previous->bytes : 0);
}

}  // namespace upstream_latency
