#include "status.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <numeric>
#include <optional>
#include <type_traits>

namespace upstream_latency {

namespace {

const char* const kStates[] = {"up", "down", "unavail"};
const char* const kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// A plain copy of a peer's counters and averages, read once; times are
// integers, printed exactly.
struct PeerReading {
    uint32_t active;
    uint64_t requests;
    uint64_t responses[5];
    uint64_t responses_total;
    uint64_t fails;
    uint64_t unavail;
    uint64_t selected_ms;
    std::optional<uint64_t> header_us;    // stream: first byte
    std::optional<uint64_t> response_us;  // stream: last byte
    std::optional<uint64_t> connect_us;   // stream
    uint64_t cumulative[kHistogramBuckets];
    uint64_t sum_us;
};

uint64_t load(const std::atomic<uint64_t>& a)
{
    return a.load(std::memory_order_relaxed);
}

// The decayed average to the microsecond; none before the first response.
std::optional<uint64_t> average_us(uint64_t packed, const StatusReport& r,
                                   Decay decay)
{
    if (!PeakEwma::measured(packed)) {
        return std::nullopt;
    }
    return static_cast<uint64_t>(
        std::llround(PeakEwma::read(packed, r.now_us, decay)));
}

PeerReading read(const PeerStatus& peer, const StatusReport& r, Decay decay)
{
    const PeerSlot& slot = *peer.slot;
    const PeerCounters& c = slot.counters;
    PeerReading p{};
    p.active = peer.active;
    p.requests = load(c.requests);
    for (std::size_t i = 0; i < 5; i++) {
        p.responses[i] = load(c.responses[i]);
        p.responses_total += p.responses[i];
    }
    p.fails = load(c.fails);
    p.unavail = load(c.unavail);
    p.selected_ms = load(slot.selected_ms);
    p.header_us = average_us(load(slot.header_time), r, decay);
    p.response_us = average_us(load(slot.response_time), r, decay);
    p.connect_us = average_us(load(slot.connect_time), r, decay);
    uint64_t running = 0;
    for (std::size_t i = 0; i < kHistogramBuckets; i++) {
        running += load(c.histogram[i]);
        p.cumulative[i] = running;
    }
    p.sum_us = load(c.histogram_sum_us);
    return p;
}

class Writer {
public:
    void raw(std::string_view text) { out_.append(text); }

    // Appends what snprintf makes of fmt and args, however long.
    template <class... Args>
    void format(const char* fmt, Args... args)
    {
        char buf[128];
        int n = std::snprintf(buf, sizeof(buf), fmt, args...);
        if (n < 0) {
            return;
        }
        if (static_cast<std::size_t>(n) < sizeof(buf)) {
            out_.append(buf, n);
            return;
        }
        std::size_t at = out_.size();
        out_.resize(at + n + 1);
        std::snprintf(&out_[at], n + 1, fmt, args...);
        out_.resize(at + n);
    }

    // A JSON string, quoted and escaped.
    void json(std::string_view text)
    {
        out_ += '"';
        for (unsigned char c : text) {
            if (c == '"' || c == '\\') {
                out_ += '\\';
                out_ += static_cast<char>(c);
            } else if (c < 0x20) {
                format("\\u%04x", c);
            } else {
                out_ += static_cast<char>(c);
            }
        }
        out_ += '"';
    }

    // units / 10^decimals, exactly: integer division and remainder, never
    // a double, so that no digit is lost however large the count.
    void decimal(uint64_t units, int decimals)
    {
        uint64_t scale = 1;
        for (int i = 0; i < decimals; i++) {
            scale *= 10;
        }
        format("%" PRIu64 ".%0*" PRIu64, units / scale, decimals,
               units % scale);
    }

    void iso8601(uint64_t ms)
    {
        std::time_t sec = static_cast<std::time_t>(ms / 1000);
        std::tm tm{};
        gmtime_r(&sec, &tm);
        format("\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\"", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               static_cast<unsigned>(ms % 1000));
    }

    void milliseconds_or_null(std::optional<uint64_t> us)
    {
        if (us) {
            decimal(*us, 3);
        } else {
            raw("null");
        }
    }

    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

// What http and stream peers share: which server, and its configuration.
void json_peer_identity(Writer& w, const PeerStatus& peer)
{
    w.format("{\"id\":%" PRIu32 ",\"server\":", peer.id);
    w.json(peer.server);
    w.raw(",\"name\":");
    w.json(peer.name);
    w.format(",\"backup\":%s,\"weight\":%" PRIu32 ",\"state\":\"%s\"",
             peer.backup ? "true" : "false", peer.weight,
             kStates[static_cast<int>(peer.state)]);
}

// When the peer was last selected, or null if never.
void json_selected(Writer& w, uint64_t selected_ms)
{
    if (selected_ms == 0) {
        w.raw("null");
    } else {
        w.iso8601(selected_ms);
    }
}

void json_peer(Writer& w, const PeerStatus& peer, const StatusReport& r,
               Decay decay)
{
    json_peer_identity(w, peer);

    if (peer.slot != nullptr) {
        PeerReading p = read(peer, r, decay);
        w.format(",\"active\":%" PRIu32 ",\"requests\":%" PRIu64
                 ",\"responses\":{",
                 p.active, p.requests);
        for (std::size_t i = 0; i < 5; i++) {
            w.format("\"%s\":%" PRIu64 ",", kClasses[i], p.responses[i]);
        }
        w.format("\"total\":%" PRIu64 "},\"fails\":%" PRIu64
                 ",\"unavail\":%" PRIu64 ",\"selected\":",
                 p.responses_total, p.fails, p.unavail);
        json_selected(w, p.selected_ms);
        w.raw(",\"header_time\":");
        w.milliseconds_or_null(p.header_us);
        w.raw(",\"response_time\":");
        w.milliseconds_or_null(p.response_us);
        w.format(",\"response_time_hist\":{\"count\":%" PRIu64 ",\"sum\":",
                 p.cumulative[kHistogramBuckets - 1]);
        w.decimal(p.sum_us, 3);
        w.raw(",\"buckets\":{");
        for (std::size_t i = 0; i + 1 < kHistogramBuckets; i++) {
            w.format("\"%" PRIu32 "\":%" PRIu64 ",", kHistogramLimitsMs[i],
                     p.cumulative[i]);
        }
        w.format("\"inf\":%" PRIu64 "}}", p.cumulative[kHistogramBuckets - 1]);
    }
    w.raw("}");
}

// A stream peer, with the fields of the NGINX Plus API's stream peer.
void json_stream_peer(Writer& w, const PeerStatus& peer,
                      const StatusReport& r, Decay decay)
{
    json_peer_identity(w, peer);

    if (peer.slot != nullptr) {
        PeerReading p = read(peer, r, decay);
        w.format(",\"active\":%" PRIu32 ",\"connections\":%" PRIu64
                 ",\"sent\":%" PRIu64 ",\"received\":%" PRIu64
                 ",\"fails\":%" PRIu64 ",\"unavail\":%" PRIu64
                 ",\"selected\":",
                 p.active, p.requests, p.responses[0], p.responses[1],
                 p.fails, p.unavail);
        json_selected(w, p.selected_ms);
        w.raw(",\"connect_time\":");
        w.milliseconds_or_null(p.connect_us);
        w.raw(",\"first_byte_time\":");
        w.milliseconds_or_null(p.header_us);
        w.raw(",\"response_time\":");
        w.milliseconds_or_null(p.response_us);
    }
    w.raw("}");
}

void json_table(Writer& w, std::string_view zone, uint64_t size,
                uint32_t slots, uint32_t used)
{
    w.raw("\"table\":{\"zone\":");
    w.json(zone);
    w.format(",\"size\":%" PRIu64 ",\"slots\":%" PRIu32 ",\"used\":%" PRIu32
             ",\"free\":%" PRIu32 "}",
             size, slots, used, slots - used);
}

template <class JsonPeer>
void json_upstreams(Writer& w, const std::vector<UpstreamStatus>& upstreams,
                    const StatusReport& r, JsonPeer json_peer)
{
    w.raw("\"upstreams\":[");
    const char* upstream_separator = "";
    for (const UpstreamStatus& u : upstreams) {
        w.raw(upstream_separator);
        upstream_separator = ",";
        w.raw("{\"name\":");
        w.json(u.name);
        w.raw(",\"method\":");
        w.json(u.method);
        // a resolved peer the table had no slot for has none either
        bool observed = std::any_of(
            u.peers.begin(), u.peers.end(),
            [](const PeerStatus& peer) { return peer.slot != nullptr; });
        w.format(",\"observed\":%s,\"peers\":[", observed ? "true" : "false");
        const char* peer_separator = "";
        for (const PeerStatus& peer : u.peers) {
            w.raw(peer_separator);
            peer_separator = ",";
            json_peer(w, peer, r, u.decay);
        }
        w.raw("]}");
    }
    w.raw("]");
}

}  // namespace

std::string render_json(const StatusReport& r)
{
    Writer w;
    w.raw("{\"nginx_version\":");
    w.json(r.server_version);
    w.raw(",\"module_version\":");
    w.json(r.module_version);
    w.raw(",\"timestamp\":");
    w.iso8601(r.now_ms);
    w.raw(",");
    json_table(w, r.zone, r.zone_size, r.slots, r.used);
    w.raw(",");
    json_upstreams(w, r.upstreams, r, json_peer);
    if (r.stream) {
        w.raw(",\"stream\":{");
        json_table(w, r.stream->zone, r.stream->zone_size, r.stream->slots,
                   r.stream->used);
        w.raw(",");
        json_upstreams(w, r.stream->upstreams, r, json_stream_peer);
        w.raw("}");
    }
    w.raw("}\n");
    return w.take();
}

namespace {

// A Prometheus label value, escaped, appended to out.
void append_label_value(std::string& out, std::string_view text)
{
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

// The labels of each peer, by upstream then peer, escaped once.
using PeerLabels = std::vector<std::vector<std::string>>;

// Every peer has the labels upstream and server (its address); a peer whose
// address repeats in its upstream (a primary and a backup at one address,
// two names for one IP, an address written twice) also has its id, so that
// no two peers share a label set.  A peer alone at its address keeps the
// same labels however the servers around it change.
PeerLabels peer_labels(const std::vector<UpstreamStatus>& upstreams)
{
    PeerLabels labels;
    labels.reserve(upstreams.size());
    for (const UpstreamStatus& u : upstreams) {
        const std::vector<PeerStatus>& peers = u.peers;
        std::vector<std::size_t> by_address(peers.size());
        std::iota(by_address.begin(), by_address.end(), 0);
        std::sort(by_address.begin(), by_address.end(),
                  [&peers](std::size_t a, std::size_t b) {
                      return peers[a].server < peers[b].server;
                  });
        std::vector<bool> repeated(peers.size());
        for (std::size_t i = 1; i < by_address.size(); i++) {
            if (peers[by_address[i]].server ==
                peers[by_address[i - 1]].server) {
                repeated[by_address[i]] = true;
                repeated[by_address[i - 1]] = true;
            }
        }

        std::vector<std::string>& upstream_labels = labels.emplace_back();
        upstream_labels.reserve(peers.size());
        for (std::size_t i = 0; i < peers.size(); i++) {
            std::string& l = upstream_labels.emplace_back("upstream=\"");
            append_label_value(l, u.name);
            l += "\",server=\"";
            append_label_value(l, peers[i].server);
            l += '"';
            if (repeated[i]) {
                l += ",id=\"" + std::to_string(peers[i].id) + '"';
            }
        }
    }
    return labels;
}

// A time or duration in seconds, held exactly as a count of milliseconds
// (decimals 3) or microseconds (decimals 6).
struct Seconds {
    uint64_t units;
    int decimals;
};

Seconds from_ms(uint64_t ms) { return {ms, 3}; }
Seconds from_us(uint64_t us) { return {us, 6}; }

// An average in microseconds, or none where the peer has none yet.
std::optional<Seconds> optional_us(const std::optional<uint64_t>& us)
{
    if (!us) {
        return std::nullopt;
    }
    return from_us(*us);
}

// One metric family: its header, then a sample per peer.
template <class Sample>
void family(Writer& w, const std::vector<UpstreamStatus>& upstreams,
            const PeerLabels& labels, const char* name, const char* type,
            const char* help, bool observed_only, Sample sample)
{
    for (const char* part : {"# HELP ", name, " ", help, "\n# TYPE ", name,
                             " ", type, "\n"}) {
        w.raw(part);
    }
    for (std::size_t i = 0; i < upstreams.size(); i++) {
        const UpstreamStatus& u = upstreams[i];
        for (std::size_t j = 0; j < u.peers.size(); j++) {
            const PeerStatus& peer = u.peers[j];
            if (observed_only && peer.slot == nullptr) {
                continue;
            }
            auto write_labels = [&w, &own = labels[i][j]](
                                    const char* extra = "") {
                w.raw("{");
                w.raw(own);
                w.raw(extra);
                w.raw("}");
            };
            sample(write_labels, peer, u);
        }
    }
}

// The families every peer has, from the configuration: state, weight,
// backup; names start with prefix.
void configured_families(Writer& w,
                         const std::vector<UpstreamStatus>& upstreams,
                         const PeerLabels& labels, const std::string& prefix)
{
    const std::string state = prefix + "_state";
    const std::string weight = prefix + "_weight";
    const std::string backup = prefix + "_backup";

    family(w, upstreams, labels, state.c_str(), "gauge",
           "1 for the state the peer is in (up, down, unavail).", false,
           [&w, &state](auto labels, const PeerStatus& peer,
                        const UpstreamStatus&) {
               for (int s = 0; s < 3; s++) {
                   w.raw(state);
                   std::string extra = ",state=\"";
                   extra += kStates[s];
                   extra += "\"";
                   labels(extra.c_str());
                   w.format(" %d\n", static_cast<int>(peer.state) == s);
               }
           });

    family(w, upstreams, labels, weight.c_str(), "gauge",
           "Configured weight.", false,
           [&w, &weight](auto labels, const PeerStatus& peer,
                         const UpstreamStatus&) {
               w.raw(weight);
               labels();
               w.format(" %" PRIu32 "\n", peer.weight);
           });

    family(w, upstreams, labels, backup.c_str(), "gauge",
           "1 for a backup server.", false,
           [&w, &backup](auto labels, const PeerStatus& peer,
                         const UpstreamStatus&) {
               w.raw(backup);
               labels();
               w.format(" %d\n", peer.backup ? 1 : 0);
           });
}

// The stream block's table and peers, under nginx_stream_upstream_*.
void stream_prometheus(Writer& w, const StatusReport& r,
                       const StreamStatus& stream)
{
    const std::vector<UpstreamStatus>& ups = stream.upstreams;
    const PeerLabels label_sets = peer_labels(ups);

    w.raw("# HELP nginx_stream_upstream_latency_table_slots Slots of the "
          "shared latency table of the stream block.\n"
          "# TYPE nginx_stream_upstream_latency_table_slots gauge\n");
    w.format("nginx_stream_upstream_latency_table_slots{state=\"used\"} %"
             PRIu32 "\nnginx_stream_upstream_latency_table_slots"
             "{state=\"free\"} %" PRIu32 "\n",
             stream.used, stream.slots - stream.used);

    configured_families(w, ups, label_sets, "nginx_stream_upstream_peer");

    struct Observed {
        const char* name;
        const char* type;
        const char* help;
        std::optional<Seconds> (*seconds)(const PeerReading&);
        uint64_t (*count)(const PeerReading&);
    };

    const Observed metrics[] = {
        {"nginx_stream_upstream_peer_active", "gauge",
         "Sessions in flight to the peer, all workers.", nullptr,
         [](const PeerReading& p) -> uint64_t { return p.active; }},
        {"nginx_stream_upstream_peer_connections_total", "counter",
         "Sessions passed to the peer.", nullptr,
         [](const PeerReading& p) { return p.requests; }},
        {"nginx_stream_upstream_peer_sent_bytes_total", "counter",
         "Bytes sent to the peer.", nullptr,
         [](const PeerReading& p) { return p.responses[0]; }},
        {"nginx_stream_upstream_peer_received_bytes_total", "counter",
         "Bytes received from the peer.", nullptr,
         [](const PeerReading& p) { return p.responses[1]; }},
        {"nginx_stream_upstream_peer_fails_total", "counter",
         "Unsuccessful sessions with the peer.", nullptr,
         [](const PeerReading& p) { return p.fails; }},
        {"nginx_stream_upstream_peer_unavail_total", "counter",
         "Times the peer became unavailable by max_fails.", nullptr,
         [](const PeerReading& p) { return p.unavail; }},
        {"nginx_stream_upstream_peer_selected_timestamp_seconds", "gauge",
         "When the peer was last selected, 0 if never.",
         [](const PeerReading& p) -> std::optional<Seconds> {
             return from_ms(p.selected_ms);
         },
         nullptr},
        {"nginx_stream_upstream_peer_connect_time_seconds", "gauge",
         "Average time to connect, as the balancer uses it.",
         [](const PeerReading& p) { return optional_us(p.connect_us); },
         nullptr},
        {"nginx_stream_upstream_peer_first_byte_time_seconds", "gauge",
         "Average time to the first byte, as the balancer uses it.",
         [](const PeerReading& p) { return optional_us(p.header_us); },
         nullptr},
        {"nginx_stream_upstream_peer_response_time_seconds", "gauge",
         "Average time to the end of the session, as the balancer uses it.",
         [](const PeerReading& p) { return optional_us(p.response_us); },
         nullptr},
    };

    for (const Observed& m : metrics) {
        family(w, ups, label_sets, m.name, m.type, m.help, true,
               [&w, &r, &m](auto labels, const PeerStatus& peer,
                            const UpstreamStatus& u) {
                   PeerReading p = read(peer, r, u.decay);
                   if (m.count) {
                       w.raw(m.name);
                       labels();
                       w.format(" %" PRIu64 "\n", m.count(p));
                       return;
                   }
                   std::optional<Seconds> v = m.seconds(p);
                   if (v) {
                       w.raw(m.name);
                       labels();
                       w.raw(" ");
                       w.decimal(v->units, v->decimals);
                       w.raw("\n");
                   }
               });
    }
}

}  // namespace

std::string render_prometheus(const StatusReport& r)
{
    Writer w;
    const PeerLabels label_sets = peer_labels(r.upstreams);

    w.raw("# HELP nginx_upstream_latency_table_slots Slots of the shared "
          "latency table.\n"
          "# TYPE nginx_upstream_latency_table_slots gauge\n");
    w.format("nginx_upstream_latency_table_slots{state=\"used\"} %" PRIu32
             "\nnginx_upstream_latency_table_slots{state=\"free\"} %" PRIu32
             "\n",
             r.used, r.slots - r.used);

    configured_families(w, r.upstreams, label_sets, "nginx_upstream_peer");

    // The rest needs the peer's slot; each reading is taken per family,
    // which is as consistent as counters that keep moving can be.
    auto observed = [&w, &r, &label_sets](const char* name,
                                          const char* type, const char* help,
                                          auto value) {
        family(w, r.upstreams, label_sets, name, type, help, true,
               [&w, &r, name, value](auto labels, const PeerStatus& peer,
                                     const UpstreamStatus& u) {
                   PeerReading p = read(peer, r, u.decay);
                   value(p, [&w, name, &labels](const char* extra,
                                                auto v) {
                       w.raw(name);
                       labels(extra);
                       if constexpr (std::is_integral_v<decltype(v)>) {
                           w.format(" %" PRIu64 "\n", uint64_t{v});
                       } else {
                           w.raw(" ");
                           w.decimal(v.units, v.decimals);
                           w.raw("\n");
                       }
                   });
               });
    };

    observed("nginx_upstream_peer_active", "gauge",
             "Requests in flight to the peer, all workers.",
             [](const PeerReading& p, auto emit) { emit("", p.active); });
    observed("nginx_upstream_peer_requests_total", "counter",
             "Requests passed to the peer.",
             [](const PeerReading& p, auto emit) { emit("", p.requests); });
    observed("nginx_upstream_peer_responses_total", "counter",
             "Responses from the peer, by status class.",
             [](const PeerReading& p, auto emit) {
                 for (std::size_t i = 0; i < 5; i++) {
                     std::string extra = ",code=\"";
                     extra += kClasses[i];
                     extra += "\"";
                     emit(extra.c_str(), p.responses[i]);
                 }
             });
    observed("nginx_upstream_peer_fails_total", "counter",
             "Unsuccessful attempts to communicate with the peer.",
             [](const PeerReading& p, auto emit) { emit("", p.fails); });
    observed("nginx_upstream_peer_unavail_total", "counter",
             "Times the peer became unavailable by max_fails.",
             [](const PeerReading& p, auto emit) { emit("", p.unavail); });
    observed("nginx_upstream_peer_selected_timestamp_seconds", "gauge",
             "When the peer was last selected, 0 if never.",
             [](const PeerReading& p, auto emit) {
                 emit("", from_ms(p.selected_ms));
             });
    observed("nginx_upstream_peer_header_time_seconds", "gauge",
             "Average time to the response header, as the balancer uses it.",
             [](const PeerReading& p, auto emit) {
                 if (p.header_us) {
                     emit("", from_us(*p.header_us));
                 }
             });
    observed("nginx_upstream_peer_response_time_seconds", "gauge",
             "Average time to the whole response, as the balancer uses it.",
             [](const PeerReading& p, auto emit) {
                 if (p.response_us) {
                     emit("", from_us(*p.response_us));
                 }
             });

    family(w, r.upstreams, label_sets,
           "nginx_upstream_peer_response_duration_seconds", "histogram",
           "Time to the whole response of complete responses.", true,
           [&w, &r](auto labels, const PeerStatus& peer,
                    const UpstreamStatus& u) {
               PeerReading p = read(peer, r, u.decay);
               const char* name =
                   "nginx_upstream_peer_response_duration_seconds";
               for (std::size_t i = 0; i < kHistogramBuckets; i++) {
                   char extra[32];
                   if (i + 1 < kHistogramBuckets) {
                       std::snprintf(extra, sizeof(extra), ",le=\"%g\"",
                                     kHistogramLimitsMs[i] / 1000.0);
                   } else {
                       std::snprintf(extra, sizeof(extra), ",le=\"+Inf\"");
                   }
                   w.raw(name);
                   w.raw("_bucket");
                   labels(extra);
                   w.format(" %" PRIu64 "\n", p.cumulative[i]);
               }
               w.raw(name);
               w.raw("_sum");
               labels();
               w.raw(" ");
               w.decimal(p.sum_us, 6);
               w.raw("\n");
               w.raw(name);
               w.raw("_count");
               labels();
               w.format(" %" PRIu64 "\n", p.cumulative[kHistogramBuckets - 1]);
           });

    if (r.stream) {
        stream_prometheus(w, r, *r.stream);
    }

    return w.take();
}

}  // namespace upstream_latency
