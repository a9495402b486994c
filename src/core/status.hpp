// The status report: what the balancer sees of every upstream, rendered as
// JSON (field names and meanings of the NGINX Plus API's upstream peers) or
// in the Prometheus text exposition format 0.0.4.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "latency_table.hpp"

namespace upstream_latency {

enum class PeerState { up, down, unavail };

struct PeerStatus {
    uint32_t id;
    std::string_view server;  // address
    std::string_view name;    // as written in the configuration
    bool backup;
    uint32_t weight;
    PeerState state;
    const PeerSlot* slot;  // nullptr: not balanced by the module
    uint32_t active;       // requests in flight, all worker processes
};

struct UpstreamStatus {
    std::string_view name;
    std::string_view method;
    Decay decay;
    std::vector<PeerStatus> peers;
};

// The stream block's upstreams, from their own table.
struct StreamStatus {
    std::string_view zone;
    uint64_t zone_size;
    uint32_t slots;
    uint32_t used;
    std::vector<UpstreamStatus> upstreams;
};

struct StatusReport {
    std::string_view server_version;  // of nginx
    std::string_view module_version;
    uint64_t now_ms;  // wall clock
    uint64_t now_us;  // monotonic, for the decayed averages
    std::string_view zone;
    uint64_t zone_size;
    uint32_t slots;
    uint32_t used;
    std::vector<UpstreamStatus> upstreams;
    std::optional<StreamStatus> stream;  // with the stream module only
};

// Both throw std::bad_alloc.
std::string render_json(const StatusReport& report);
std::string render_prometheus(const StatusReport& report);

}  // namespace upstream_latency
