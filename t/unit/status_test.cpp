#include "core/status.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <sstream>

namespace upstream_latency {
namespace {

constexpr Decay kSecond{1000};
constexpr uint64_t kNow = 9'000'000'000;

struct Fixture {
    Fixture()
    {
        PeakEwma::record(slot->header_time, 5000, SampleKind::exact, kNow,
                         kSecond);
        slot->counters.requests = 7;
        slot->counters.responses[1] = 6;
        slot->counters.responses[4] = 1;
        slot->counters.histogram[0] = 2;  // <= 5 ms
        slot->counters.histogram[3] = 4;  // <= 50 ms
        slot->counters.histogram_sum_us = 123'000;
        slot->selected_ms = 1'764'115'200'123;  // 2025-11-26T00:00:00.123Z

        report.server_version = "1.22.1";
        report.module_version = "0.1.0";
        report.now_ms = 1'764'115'201'000;
        report.now_us = kNow;
        report.zone = "upstream_latency";
        report.zone_size = 32768;
        report.slots = 4;
        report.used = 1;
        UpstreamStatus app{"a\"pp", "least_time header", kSecond, {}};
        app.peers.push_back({0, "10.0.0.1:80", "backend\\1", false, 2,
                             PeerState::up, slot.get(), 3});
        UpstreamStatus other{"other", "round robin", kSecond, {}};
        other.peers.push_back({0, "10.0.0.2:80", "10.0.0.2:80", true, 1,
                               PeerState::down, nullptr, 0});
        report.upstreams = {app, other};
    }
    std::unique_ptr<PeerSlot> slot = std::make_unique<PeerSlot>();
    StatusReport report;
};

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

TEST(StatusJson, NamesAndEscapesTheFields)
{
    Fixture f;
    std::string json = render_json(f.report);
    EXPECT_TRUE(contains(json, "\"name\":\"a\\\"pp\""));
    EXPECT_TRUE(contains(json, "\"name\":\"backend\\\\1\""));
    EXPECT_TRUE(contains(json, "\"table\":{\"zone\":\"upstream_latency\","
                               "\"size\":32768,\"slots\":4,\"used\":1,"
                               "\"free\":3}"));
    EXPECT_TRUE(contains(json, "\"active\":3,"));
    EXPECT_TRUE(contains(json, "\"requests\":7,\"responses\":{\"1xx\":0,"
                               "\"2xx\":6,\"3xx\":0,\"4xx\":0,\"5xx\":1,"
                               "\"total\":7}"));
    EXPECT_TRUE(contains(json, "\"selected\":\"2025-11-26T00:00:00.123Z\""));
    EXPECT_TRUE(contains(json, "\"header_time\":5.000,"
                               "\"response_time\":null"));
}

TEST(StatusJson, HistogramBucketsAreCumulative)
{
    Fixture f;
    std::string json = render_json(f.report);
    EXPECT_TRUE(contains(json, "\"count\":6,\"sum\":123.000,\"buckets\":{"
                               "\"5\":2,\"10\":2,\"25\":2,\"50\":6,"));
    EXPECT_TRUE(contains(json, "\"10000\":6,\"inf\":6}"));
}

TEST(StatusJson, PeersOfOtherMethodsHaveNoCounters)
{
    Fixture f;
    std::string json = render_json(f.report);
    std::string other = json.substr(json.find("\"name\":\"other\""));
    EXPECT_TRUE(contains(other, "\"observed\":false"));
    EXPECT_TRUE(contains(other, "\"backup\":true,\"weight\":1,"
                                "\"state\":\"down\"}"));
    EXPECT_FALSE(contains(other, "requests"));
}

// Balanced by the module, an upstream whose first peer has no slot (a
// resolved address the table had no room for) is observed.
TEST(StatusJson, ObservedWhateverItsFirstPeer)
{
    Fixture f;
    UpstreamStatus& app = f.report.upstreams[0];
    app.peers.insert(app.peers.begin(),
                     {1, "10.0.0.9:80", "unslotted", false, 1,
                      PeerState::up, nullptr, 0});
    std::string json = render_json(f.report);
    EXPECT_TRUE(contains(json, "\"observed\":true,\"peers\":[{\"id\":1,"))
        << json;
}

TEST(StatusPrometheus, OneFamilyPerMetricWithTypes)
{
    Fixture f;
    std::string text = render_prometheus(f.report);
    EXPECT_TRUE(contains(text, "# TYPE nginx_upstream_peer_requests_total "
                               "counter\nnginx_upstream_peer_requests_total"
                               "{upstream=\"a\\\"pp\",server=\"10.0.0.1:80\"}"
                               " 7\n"));
    EXPECT_TRUE(contains(text, "nginx_upstream_peer_responses_total{upstream="
                               "\"a\\\"pp\",server=\"10.0.0.1:80\",code=\"5xx\"}"
                               " 1\n"));
    EXPECT_TRUE(contains(text, "nginx_upstream_peer_state{upstream=\"other\","
                               "server=\"10.0.0.2:80\",state=\"down\"} 1\n"));
    // counters only for peers the module balances
    EXPECT_FALSE(contains(text, "nginx_upstream_peer_requests_total{upstream="
                                "\"other\""));
    // no header line for a metric without any sample is fine; families are
    // not repeated
    EXPECT_EQ(text.find("# TYPE nginx_upstream_peer_weight"),
              text.rfind("# TYPE nginx_upstream_peer_weight"));
}

TEST(StatusPrometheus, HistogramInSecondsWithInf)
{
    Fixture f;
    std::string text = render_prometheus(f.report);
    const std::string h = "nginx_upstream_peer_response_duration_seconds";
    const std::string labels = "{upstream=\"a\\\"pp\",server=\"10.0.0.1:80\"";
    EXPECT_TRUE(contains(text, h + "_bucket" + labels + ",le=\"0.005\"} 2\n"));
    EXPECT_TRUE(contains(text, h + "_bucket" + labels + ",le=\"0.05\"} 6\n"));
    EXPECT_TRUE(contains(text, h + "_bucket" + labels + ",le=\"+Inf\"} 6\n"));
    EXPECT_TRUE(contains(text, h + "_sum" + labels + "} 0.123000\n"));
    EXPECT_TRUE(contains(text, h + "_count" + labels + "} 6\n"));
}

// A peer of an upstream, named only by its address and place.
PeerStatus peer_at(uint32_t id, std::string_view server, bool backup,
                   const PeerSlot* slot)
{
    return {id, server, server, backup, 1, PeerState::up, slot, 0};
}

// The series (name and labels) of the exposition that occur more than once.
std::vector<std::string> repeated_series(const std::string& text)
{
    std::map<std::string, int> seen;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && line[0] != '#') {
            seen[line.substr(0, line.rfind(' '))]++;
        }
    }
    std::vector<std::string> repeated;
    for (const auto& [series, count] : seen) {
        if (count > 1) {
            repeated.push_back(series);
        }
    }
    return repeated;
}

// The labels of the fixture's observed peer.
const std::string kAppLabels = "{upstream=\"a\\\"pp\",server=\"10.0.0.1:80\"}";

TEST(StatusPrometheus, TimestampInSecondsToTheMillisecond)
{
    Fixture f;
    f.slot->selected_ms = 1'764'547'200'123;
    std::string text = render_prometheus(f.report);
    EXPECT_TRUE(contains(text,
                         "nginx_upstream_peer_selected_timestamp_seconds" +
                             kAppLabels + " 1764547200.123\n"));
}

TEST(StatusPrometheus, AveragesInSecondsToTheMicrosecond)
{
    Fixture f;
    PeakEwma::record(f.slot->response_time, 67'108'863, SampleKind::exact,
                     kNow, kSecond);
    std::string text = render_prometheus(f.report);
    EXPECT_TRUE(contains(text, "nginx_upstream_peer_header_time_seconds" +
                                   kAppLabels + " 0.005000\n"));
    EXPECT_TRUE(contains(text, "nginx_upstream_peer_response_time_seconds" +
                                   kAppLabels + " 67.108863\n"));
}

// 2^53 + 1 has no double: a sum through floating point loses the last digit.
TEST(StatusPrometheus, HistogramSumExactBeyondDoublePrecision)
{
    Fixture f;
    f.slot->counters.histogram_sum_us = (uint64_t{1} << 53) + 1;
    std::string text = render_prometheus(f.report);
    EXPECT_TRUE(contains(text, "nginx_upstream_peer_response_duration_seconds"
                               "_sum" + kAppLabels + " 9007199254.740993\n"));
    std::string json = render_json(f.report);
    EXPECT_TRUE(contains(json, "\"sum\":9007199254740.993,"));
}

TEST(StatusPrometheus, PeersSharingAnAddressHaveDistinctLabels)
{
    Fixture f;
    // a primary and a backup at one address, two names resolving to one
    // address (or one address written twice), and a peer alone at its own
    UpstreamStatus shared{"shared", "least_time header", kSecond, {}};
    shared.peers = {peer_at(0, "10.0.0.3:80", false, f.slot.get()),
                    peer_at(1, "10.0.0.4:80", false, f.slot.get()),
                    peer_at(2, "10.0.0.4:80", false, f.slot.get()),
                    peer_at(3, "10.0.0.5:80", false, f.slot.get()),
                    peer_at(4, "10.0.0.3:80", true, f.slot.get())};
    f.report.upstreams.push_back(shared);
    std::string text = render_prometheus(f.report);

    EXPECT_EQ(repeated_series(text), std::vector<std::string>{});
    const std::string requests = "nginx_upstream_peer_requests_total{upstream="
                                 "\"shared\",server=";
    EXPECT_TRUE(contains(text, requests + "\"10.0.0.3:80\",id=\"0\"} 7\n"));
    EXPECT_TRUE(contains(text, requests + "\"10.0.0.4:80\",id=\"1\"} 7\n"));
    EXPECT_TRUE(contains(text, requests + "\"10.0.0.4:80\",id=\"2\"} 7\n"));
    EXPECT_TRUE(contains(text, requests + "\"10.0.0.5:80\"} 7\n"));
    EXPECT_TRUE(contains(text, requests + "\"10.0.0.3:80\",id=\"4\"} 7\n"));
    EXPECT_TRUE(contains(text, "nginx_upstream_peer_state{upstream=\"shared\","
                               "server=\"10.0.0.3:80\",id=\"4\",state=\"up\"}"
                               " 1\n"));
}

// The fixture's slot as a stream peer: connections, bytes, three times.
StreamStatus stream_of(Fixture& f)
{
    PeakEwma::record(f.slot->connect_time, 300, SampleKind::exact, kNow,
                     kSecond);
    f.slot->counters.sent() = 1000;
    f.slot->counters.received() = 2000;
    StreamStatus stream{"stream_upstream_latency", 65536, 8, 1, {}};
    UpstreamStatus tcp{"tcp", "least_time connect", kSecond, {}};
    tcp.peers.push_back({0, "10.0.0.3:5432", "db", false, 1, PeerState::up,
                         f.slot.get(), 2});
    stream.upstreams.push_back(tcp);
    return stream;
}

TEST(StatusJson, StreamPeersUnderTheirOwnKey)
{
    Fixture f;
    std::string without = render_json(f.report);
    EXPECT_FALSE(contains(without, "\"stream\""));

    f.report.stream = stream_of(f);
    std::string json = render_json(f.report);
    EXPECT_TRUE(contains(json, "]},{\"name\":\"other\""));
    EXPECT_TRUE(contains(json, ",\"stream\":{\"table\":{\"zone\":"
                               "\"stream_upstream_latency\",\"size\":65536,"
                               "\"slots\":8,\"used\":1,\"free\":7},"
                               "\"upstreams\":[{\"name\":\"tcp\""));
    EXPECT_TRUE(contains(json, "\"active\":2,\"connections\":7,"
                               "\"sent\":1000,\"received\":2000,"
                               "\"fails\":0,\"unavail\":0,"
                               "\"selected\":\"2025-11-26T00:00:00.123Z\","
                               "\"connect_time\":0.300,"
                               "\"first_byte_time\":5.000,"
                               "\"response_time\":null}"));
    // the http peers keep their fields
    EXPECT_TRUE(contains(json, "\"requests\":7,\"responses\":{"));
}

// Counters of a busy stream peer, whose figures together are longer than
// a line of the writer's buffer, come whole (they were cut at 127
// characters, and the JSON with them).
TEST(StatusJson, LargeCountersComeWhole)
{
    Fixture f;
    f.report.stream = stream_of(f);
    f.slot->counters.requests = 2'000'000'000;
    f.slot->counters.sent() = 100'000'000'000'000;
    f.slot->counters.received() = 100'000'000'000'000;
    f.slot->counters.fails = 1'000'000;
    f.slot->counters.unavail = 10'000;
    std::string json = render_json(f.report);
    EXPECT_TRUE(contains(json, "\"active\":2,\"connections\":2000000000,"
                               "\"sent\":100000000000000,"
                               "\"received\":100000000000000,"
                               "\"fails\":1000000,\"unavail\":10000,"
                               "\"selected\":\"2025-11-26T00:00:00.123Z\","
                               "\"connect_time\":0.300,"))
        << json;
}

TEST(StatusPrometheus, StreamPeersHaveTheirOwnFamilies)
{
    Fixture f;
    f.report.stream = stream_of(f);
    std::string text = render_prometheus(f.report);
    EXPECT_TRUE(contains(text, "nginx_stream_upstream_latency_table_slots"
                               "{state=\"free\"} 7\n"));
    EXPECT_TRUE(contains(text, "# TYPE nginx_stream_upstream_peer_"
                               "connections_total counter\n"
                               "nginx_stream_upstream_peer_connections_total"
                               "{upstream=\"tcp\",server=\"10.0.0.3:5432\"}"
                               " 7\n"));
    EXPECT_TRUE(contains(text, "nginx_stream_upstream_peer_connect_time_seconds"
                               "{upstream=\"tcp\",server=\"10.0.0.3:5432\"}"
                               " 0.000300\n"));
    EXPECT_TRUE(contains(text, "nginx_stream_upstream_peer_received_bytes_total"
                               "{upstream=\"tcp\",server=\"10.0.0.3:5432\"}"
                               " 2000\n"));
    EXPECT_FALSE(contains(text, "nginx_stream_upstream_peer_response_time"
                                "_seconds{"));
    EXPECT_TRUE(contains(text, "nginx_stream_upstream_peer_state"
                               "{upstream=\"tcp\",server=\"10.0.0.3:5432\","
                               "state=\"up\"} 1\n"));
}

}  // namespace
}  // namespace upstream_latency
