#include "sim.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <queue>

#include "core/eligibility.hpp"
#include "core/latency_table.hpp"
#include "core/rng.hpp"
#include "core/selection.hpp"
#include "core/slow_start.hpp"
#include "core/weighted_sampler.hpp"

namespace sim {

namespace {

using namespace upstream_latency;

// Simulated time 0 on the module's monotonic clock: a machine up a while.
constexpr uint64_t kEpochUs = 1'000'000'000;
constexpr uint64_t kSampleUs = 10'000;  // load sampling period
constexpr uint32_t kMaxFails = 1;       // nginx's default max_fails

uint64_t us(double seconds) { return static_cast<uint64_t>(seconds * 1e6); }

double uniform(Rng& rng) { return (rng.next() >> 11) * 0x1.0p-53; }

double exponential(Rng& rng, double mean)
{
    return -mean * std::log1p(-uniform(rng));
}

double normal(Rng& rng)
{
    double u = uniform(rng), v = uniform(rng);
    return std::sqrt(-2 * std::log1p(-u)) * std::cos(2 * M_PI * v);
}

struct Request {
    uint32_t generation;  // of the attempt: stale events are ignored
    int client;  // closed loop; -1: open loop
    int instance, worker, server;
    int lane;    // the server's queue it waits in
    int step;    // open loop: the rate step it arrived in
    bool live;   // not yet answered
    // the client gave up (timeout_s): the balancer has let the attempt go,
    // the server still holds the request
    bool orphan;
    uint32_t serial;  // of the client's request, for its timeout event
    uint64_t arrival_us;   // sent by the client
    uint64_t start_us;     // sent to the server
    uint32_t active_before;  // the chosen server's active count then
    std::vector<int> tried;
};

enum class Kind { arrive, reach_server, service_done, response, change,
                  join, sample, timeout };

struct Event {
    uint64_t at;
    uint64_t seq;
    Kind kind;
    int id;     // request, server or client
    int extra;  // change index; response: 1 if failed
    bool operator>(const Event& o) const
    {
        return at != o.at ? at > o.at : seq > o.seq;
    }
};

// One queue of a server and the workers that take from it: all of them
// (one queue per server), or one (a queue per worker).
struct Lane {
    int workers;
    int busy = 0;
    std::deque<int> queue;
};

struct ServerState {
    double service_ms;
    int workers;
    bool alive = true;
    bool joined = false;
    std::vector<Lane> lanes;
    std::vector<int> serving;  // requests in service

    // requests served and waiting
    int held() const
    {
        int n = 0;
        for (const Lane& l : lanes) {
            n += l.busy + static_cast<int>(l.queue.size());
        }
        return n;
    }
};

// nginx's per-peer failure accounting (max_fails=1), per instance.
struct Health {
    uint64_t fails = 0;
    int64_t checked = 0;
};

struct Worker {
    std::vector<uint32_t> conns;         // this worker's, per server
    std::vector<uint32_t> own_inflight;  // the module's, this worker only
    std::vector<int64_t> current_weights;
    Rng rng;
};

// A candidate policy's estimate of one server (Variant).
struct Estimate {
    double value_us = 0;  // 0: no sample yet
    uint64_t at_us = 0;
};

struct Instance {
    std::unique_ptr<PeerSlot[]> slots;  // the module's table
    std::unique_ptr<InflightCell[]> cells;  // its requests in flight
    std::vector<Estimate> estimates;    // Variant's
    std::vector<uint32_t> conns;        // with zone, per server
    std::vector<uint64_t> nginx_avg_ms;  // nginx 1.31's average (zone)
    std::vector<Health> health;
    std::vector<Worker> workers;
};

class Simulation {
public:
    Simulation(const Scenario& s, const Policy& p, uint64_t seed)
        : s_(s), p_(p), env_(seed * 0x9e3779b97f4a7c15 + 1)
    {
        std::size_t n = s.servers.size();
        decay_ = Decay{s.half_life_ms};
        slow_start_ = SlowStart{s.slow_start_ms};
        for (const Server& spec : s.servers) {
            ServerState st;
            st.service_ms = spec.service_ms;
            st.workers = spec.workers;
            if (s.per_worker_queues) {
                st.lanes.assign(spec.workers, Lane{1, 0, {}});
            } else {
                st.lanes.assign(1, Lane{spec.workers, 0, {}});
            }
            servers_.push_back(st);
        }
        instances_.resize(s.instances);
        for (int i = 0; i < s.instances; i++) {
            Instance& in = instances_[i];
            in.slots.reset(new PeerSlot[n]());
            in.cells.reset(new InflightCell[n]());
            in.estimates.resize(n);
            in.conns.assign(n, 0);
            in.nginx_avg_ms.assign(n, 0);
            in.health.resize(n);
            for (int w = 0; w < s.workers; w++) {
                in.workers.push_back({std::vector<uint32_t>(n, 0),
                                      std::vector<uint32_t>(n, 0),
                                      std::vector<int64_t>(n, 0),
                                      Rng(seed * 1000003 + i * 131 + w)});
            }
        }
        result_.policy = p.name;
        result_.per_server.assign(n, 0);
        for (const RateStep& r : s.rate) {
            result_.step_offered.push_back(r.per_s);
        }
        step_latencies_.resize(s.rate.size());
        step_errors_.assign(s.rate.size(), 0);
    }

    Result run()
    {
        for (std::size_t i = 0; i < servers_.size(); i++) {
            const Server& spec = s_.servers[i];
            push(us(spec.join_s), Kind::join, static_cast<int>(i));
            for (std::size_t c = 0; c < spec.changes.size(); c++) {
                push(us(spec.changes[c].at_s), Kind::change,
                     static_cast<int>(i), static_cast<int>(c));
            }
        }
        // joins at time 0 come first: same time, lower sequence numbers
        for (int c = 0; c < s_.clients; c++) {
            push(1, Kind::arrive, c);
        }
        if (s_.clients == 0 && !s_.rate.empty()) {
            push(std::max<uint64_t>(1, us(s_.rate[0].from_s)), Kind::arrive,
                 -1);
        }
        push(us(s_.warmup_s), Kind::sample, 0);

        end_ = us(s_.seconds);
        while (!events_.empty() && events_.top().at <= end_) {
            Event e = events_.top();
            events_.pop();
            now_ = e.at;
            dispatch(e);
        }
        return finish();
    }

private:
    uint64_t clock() const { return kEpochUs + now_; }

    void push(uint64_t at, Kind kind, int id, int extra = 0)
    {
        events_.push({at, seq_++, kind, id, extra});
    }

    void dispatch(const Event& e)
    {
        switch (e.kind) {
        case Kind::arrive: arrive(e.id); break;
        case Kind::reach_server: reach_server(e.id); break;
        case Kind::service_done:
            if (static_cast<int>(requests_[e.id].generation) == e.extra) {
                service_done(e.id);
            }
            break;
        case Kind::response: response(e.id, e.extra != 0); break;
        case Kind::change: change(e.id, e.extra); break;
        case Kind::join: join(e.id); break;
        case Kind::sample: sample(); break;
        case Kind::timeout:
            if (requests_[e.id].live
                && static_cast<int>(requests_[e.id].serial) == e.extra)
            {
                abort(e.id);
            }
            break;
        }
    }

    // --- clients ---------------------------------------------------------

    int new_request()
    {
        if (free_.empty()) {
            requests_.emplace_back();
            requests_.back().generation = 0;
            return static_cast<int>(requests_.size() - 1);
        }
        int id = free_.back();
        free_.pop_back();
        return id;
    }

    int step_at(uint64_t t) const
    {
        int step = -1;
        for (std::size_t i = 0; i < s_.rate.size(); i++) {
            if (t >= us(s_.rate[i].from_s)) {
                step = static_cast<int>(i);
            }
        }
        return step;
    }

    void arrive(int client)
    {
        int id = new_request();
        Request& r = requests_[id];
        r.client = client;
        r.step = -1;
        if (client >= 0) {
            r.instance = client % s_.instances;
            r.worker = (client / s_.instances) % s_.workers;
        } else {
            r.instance = static_cast<int>(env_.below(s_.instances));
            r.worker = static_cast<int>(env_.below(s_.workers));
            r.step = step_at(now_);
            double rate = r.step >= 0 ? s_.rate[r.step].per_s : 0;
            if (rate > 0) {
                push(now_ + std::max<uint64_t>(
                                1, us(exponential(env_, 1 / rate))),
                     Kind::arrive, -1);
            }
        }
        r.arrival_us = now_;
        r.live = true;
        r.orphan = false;
        r.serial = ++serials_;
        push(now_ + us(s_.timeout_s), Kind::timeout, id,
             static_cast<int>(r.serial));
        r.tried.clear();
        send(id);
    }

    // Chooses a server and sends the request, or answers with an error.
    void send(int id)
    {
        Request& r = requests_[id];
        int server = choose(r);
        if (server < 0) {
            complete(id, true);
            return;
        }
        r.server = server;
        r.generation++;
        r.tried.push_back(server);
        r.start_us = now_;
        started(r);
        if (now_ >= us(s_.warmup_s)) {
            result_.per_server[server]++;
            if (s_.slice_s > 0) {
                std::size_t slice = static_cast<std::size_t>(
                    (now_ - us(s_.warmup_s)) / us(s_.slice_s));
                if (result_.slices.size() <= slice) {
                    result_.slices.resize(
                        slice + 1, std::vector<uint32_t>(servers_.size(), 0));
                }
                result_.slices[slice][server]++;
            }
        }
        uint64_t half = us(s_.network_ms / 2000);
        if (!servers_[server].alive) {
            // connection refused, seen after a round trip
            push(now_ + 2 * half, Kind::response, id, 1);
        } else {
            push(now_ + half, Kind::reach_server, id);
        }
    }

    void complete(int id, bool error)
    {
        Request& r = requests_[id];
        if (r.arrival_us >= us(s_.warmup_s)) {
            uint64_t latency = now_ - r.arrival_us;
            error = error || latency > us(s_.timeout_s);
            result_.requests++;
            if (error) {
                result_.errors++;
            } else {
                latencies_.push_back(static_cast<uint32_t>(latency));
            }
            if (r.step >= 0) {
                if (error) {
                    step_errors_[r.step]++;
                } else {
                    step_latencies_[r.step].push_back(
                        static_cast<uint32_t>(latency));
                }
            }
        }
        if (r.client >= 0) {
            push(now_, Kind::arrive, r.client);
        }
        r.live = false;
        if (!r.orphan) {
            free_.push_back(id);
        }
    }

    // --- servers ---------------------------------------------------------

    void reach_server(int id)
    {
        ServerState& sv = servers_[requests_[id].server];
        if (!sv.alive) {
            push(now_ + us(s_.network_ms / 2000), Kind::response, id, 1);
            return;
        }
        // a queue per worker: the one of the process that holds the
        // request's connection, any of them
        Request& r = requests_[id];
        r.lane = static_cast<int>(env_.below(sv.lanes.size()));
        Lane& lane = sv.lanes[r.lane];
        if (lane.busy < lane.workers) {
            begin_service(id);
        } else {
            lane.queue.push_back(id);
        }
    }

    void begin_service(int id)
    {
        ServerState& sv = servers_[requests_[id].server];
        sv.lanes[requests_[id].lane].busy++;
        sv.serving.push_back(id);
        double ms = sv.service_ms;
        if (s_.jitter_sigma > 0) {
            double sigma = s_.jitter_sigma;
            ms *= std::exp(sigma * normal(env_) - sigma * sigma / 2);
        }
        push(now_ + std::max<uint64_t>(1, us(ms / 1000)), Kind::service_done,
             id, static_cast<int>(requests_[id].generation));
    }

    void service_done(int id)
    {
        ServerState& sv = servers_[requests_[id].server];
        auto it = std::find(sv.serving.begin(), sv.serving.end(), id);
        if (it == sv.serving.end()) {
            return;  // failed when the server died, and sent elsewhere
        }
        sv.serving.erase(it);
        Lane& lane = sv.lanes[requests_[id].lane];
        lane.busy--;
        uint64_t stall = 0;
        if (s_.stall_share > 0 && uniform(env_) < s_.stall_share) {
            stall = env_.below(us(s_.stall_ms / 1000) + 1);
        }
        push(now_ + us(s_.network_ms / 2000) + stall, Kind::response, id, 0);
        if (!lane.queue.empty()) {
            int next = lane.queue.front();
            lane.queue.pop_front();
            begin_service(next);
        }
    }

    void change(int server, int index)
    {
        ServerState& sv = servers_[server];
        double ms = s_.servers[server].changes[index].service_ms;
        if (ms > 0) {
            sv.service_ms = ms;
            sv.alive = true;
            return;
        }
        // dies: everything it holds fails (connection reset)
        sv.alive = false;
        for (int id : sv.serving) {
            push(now_ + us(s_.network_ms / 2000), Kind::response, id, 1);
        }
        for (Lane& lane : sv.lanes) {
            for (int id : lane.queue) {
                push(now_ + us(s_.network_ms / 2000), Kind::response, id, 1);
            }
            lane.queue.clear();
            lane.busy = 0;
        }
        sv.serving.clear();
    }

    void join(int server)
    {
        servers_[server].joined = true;
        // a reload, not the first configuration: the server joins
        if (now_ > 0) {
            last_join_s_ = s_.servers[server].join_s;
            for (Instance& in : instances_) {
                rejoin(in.slots[server], clock() / 1000);
            }
        }
        pool_.clear();
        for (std::size_t i = 0; i < servers_.size(); i++) {
            bool listed = p_.subset.empty()
                          || std::find(p_.subset.begin(), p_.subset.end(),
                                       static_cast<int>(i))
                                 != p_.subset.end();
            if (servers_[i].joined && listed) {
                pool_.push_back(static_cast<int>(i));
            }
        }
        // the module's alias table of the new configuration
        std::vector<uint32_t> weights;
        for (int i : pool_) {
            weights.push_back(weight(i));
        }
        alias_.resize(pool_.size());
        WeightedSampler::build(weights.data(), weights.size(), alias_.data());
        weights_ = weights;
    }

    void sample()
    {
        for (int i : pool_) {
            const ServerState& sv = servers_[i];
            if (!sv.alive) {
                continue;
            }
            double load = static_cast<double>(sv.held()) / sv.workers;
            if (last_join_s_ > 0 && now_ < us(last_join_s_ + 1)) {
                double& peak = s_.servers[i].join_s == last_join_s_
                                   ? result_.joined_peak_load
                                   : result_.pool_peak_load;
                peak = std::max(peak, load);
            }
            load_sum_ += load;
            load_squares_ += load * load;
            load_count_++;
        }
        push(now_ + kSampleUs, Kind::sample, 0);
    }

    // --- balancers -------------------------------------------------------

    bool usable(const Instance& in, const Request& r, int server) const
    {
        if (std::find(r.tried.begin(), r.tried.end(), server)
            != r.tried.end())
        {
            return false;
        }
        const Health& h = in.health[server];
        PeerHealth peer{false, h.fails, kMaxFails, h.checked,
                        static_cast<int64_t>(s_.fail_timeout_s), 0, 0};
        return upstream_latency::usable(
            peer, static_cast<int64_t>(now_ / 1'000'000));
    }

    // The active count nginx's balancers see: shared with zone.
    uint32_t conns(const Instance& in, const Worker& w, int server) const
    {
        return p_.zone ? in.conns[server] : w.conns[server];
    }

    int choose(const Request& r)
    {
        Instance& in = instances_[r.instance];
        Worker& w = in.workers[r.worker];
        std::vector<int> usable_servers;
        for (int i : pool_) {
            if (usable(in, r, i)) {
                usable_servers.push_back(i);
            }
        }
        if (usable_servers.empty()) {
            return -1;
        }
        switch (p_.method) {
        case Method::round_robin:
            return least_by(usable_servers, w, [](int) { return 0.0; });
        case Method::least_conn:
            return least_by(usable_servers, w, [&](int i) {
                return static_cast<double>(conns(in, w, i)) / weight(i);
            });
        case Method::random_two: {
            int a = draw(in, w, r, {});
            int b = draw(in, w, r, {a});
            if (b < 0) {
                return a;
            }
            return conns(in, w, b) * weight(a) < conns(in, w, a) * weight(b)
                       ? b
                       : a;
        }
        case Method::nginx_least_time:
            return least_by(usable_servers, w, [&](int i) {
                uint64_t rt = in.nginx_avg_ms[i];
                rt = rt > 5000 ? 5000 : rt + 20 - rt % 20;
                return static_cast<double>(rt * (1 + conns(in, w, i)))
                       / weight(i);
            });
        case Method::least_time:
            return module_least_time(in, w, usable_servers);
        case Method::weighted_random_two:
            return module_weighted_random_two(in, w, r);
        case Method::variant:
            return variant(in, w, r, usable_servers);
        case Method::oracle:
            return oracle(usable_servers, w.rng);
        }
        return -1;
    }

    // The least key; ties by smooth weighted round robin (weights 1), as
    // nginx's round robin and least_conn break them.
    template <class Key>
    int least_by(const std::vector<int>& servers, Worker& w, Key key)
    {
        double least = key(servers[0]);
        for (int i : servers) {
            least = std::min(least, key(i));
        }
        int best = -1;
        int64_t total = 0;
        for (int i : servers) {
            if (key(i) != least) {
                continue;
            }
            w.current_weights[i] += weight(i);
            total += weight(i);
            if (best < 0 || w.current_weights[i] > w.current_weights[best]) {
                best = i;
            }
        }
        w.current_weights[best] -= total;
        return best;
    }

    uint32_t weight(int server) const { return s_.servers[server].weight; }

    // A usable server drawn by weight with the module's alias table, not
    // one of `drawn`; -1 if none.
    int draw(const Instance& in, Worker& w, const Request& r,
             std::initializer_list<int> drawn)
    {
        return draw_excluding(in, w, r, drawn.begin(), drawn.end());
    }

    int draw_excluding(const Instance& in, Worker& w, const Request& r,
                       const int* first, const int* last)
    {
        WeightedSampler sampler(alias_.data(), weights_.data(), pool_.size());
        std::size_t k = sampler.draw(w.rng, [&](std::size_t k) {
            return std::find(first, last, pool_[k]) == last
                   && usable(in, r, pool_[k]);
        });
        return k == WeightedSampler::npos ? -1 : pool_[k];
    }

    Inflight inflight(const Instance& in, int server) const
    {
        return InflightCells::read(&in.cells[server], 1, clock());
    }

    PeerLoad module_load(const Instance& in, int server) const
    {
        return observe(in.slots[server], inflight(in, server),
                       {Metric::header, false, decay_}, clock());
    }

    // Slow start as the shim applies it: the ramp of the server, and its
    // load seen as joining (upstream_latency::joining) if it joined.
    double ramp(const Instance& in, int server, PeerLoad& load,
                JoinPrior prior) const
    {
        return slow_start_.apply(in.slots[server], clock() / 1000, prior,
                                 load);
    }

    int module_least_time(Instance& in, Worker& w,
                          const std::vector<int>& servers)
    {
        // slow start's prior: the peers of this choice at full ramp
        JoinPrior prior;
        if (slow_start_.window_ms) {
            JoinPriorSum ramped;
            for (int i : servers) {
                ramped.add(in.slots[i], module_load(in, i).latency_us,
                           slow_start_, clock() / 1000);
            }
            ramped.update(prior);
        }
        candidates_.clear();
        for (int i : servers) {
            PeerLoad load = module_load(in, i);
            uint32_t tie_weight = weight(i);
            if (slow_start_.window_ms) {
                tie_weight = ramped_weight(weight(i),
                                           ramp(in, i, load, prior));
            }
            candidates_.push_back(scored(static_cast<uint32_t>(i),
                                         tie_weight, load, weight(i)));
        }
        std::size_t best = pick_least_score(
            candidates_.data(), candidates_.size(), w.current_weights.data());
        return static_cast<int>(candidates_[best].peer);
    }

    int module_weighted_random_two(Instance& in, Worker& w, const Request& r)
    {
        WeightedSampler sampler(alias_.data(), weights_.data(), pool_.size());
        auto ok = [&](std::size_t k) { return usable(in, r, pool_[k]); };
        auto draw = [&](auto&& usable) {
            if (slow_start_.window_ms == 0) {
                return sampler.draw(w.rng, usable);
            }
            return draw_ramped(sampler, w.rng, usable, [&](std::size_t k) {
                return slow_start_.ramp(in.slots[pool_[k]], clock() / 1000);
            });
        };
        std::size_t first = draw(ok);
        if (first == WeightedSampler::npos) {
            return -1;
        }
        std::size_t second = draw([&](std::size_t k) {
            return k != first && ok(k);
        });
        if (second == WeightedSampler::npos) {
            return pool_[first];
        }
        PeerLoad first_load = module_load(in, pool_[first]);
        PeerLoad second_load = module_load(in, pool_[second]);
        double first_us = first_load.latency_us;
        if (slow_start_.window_ms) {
            double second_us = second_load.latency_us;
            ramp(in, pool_[first], first_load, {second_us, second_us});
            ramp(in, pool_[second], second_load, {first_us, first_us});
        }
        auto candidate = [this](int i, PeerLoad load) {
            return scored(static_cast<uint32_t>(i), weight(i), load,
                          weight(i));
        };
        return first_is_better(candidate(pool_[first], first_load),
                               candidate(pool_[second], second_load),
                               kNoiseFloorUs, w.rng)
                   ? pool_[first]
                   : pool_[second];
    }

    // --- candidate policies ----------------------------------------------

    PeerLoad variant_load(const Instance& in, const Worker& w,
                          int server) const
    {
        const Variant& v = p_.variant;
        Inflight inflight = this->inflight(in, server);
        const Estimate& e = in.estimates[server];
        double latency = 0;
        if (e.value_us > 0) {
            latency = variant_decayed(e);
        } else {
            latency = inflight.mean_wait_us;
        }
        uint32_t active = v.worker_inflight ? w.own_inflight[server]
                                            : inflight.active;
        return {latency, active};
    }

    // A Variant's estimate now, decayed as the variant says.
    double variant_decayed(const Estimate& e) const
    {
        const Variant& v = p_.variant;
        Decay decay = v.half_life_ms ? Decay{v.half_life_ms} : decay_;
        auto elapsed = static_cast<int64_t>((clock() - e.at_us) / 1000);
        if (!v.hold) {
            elapsed += decay.half_life_ms;  // past Decay's hold at once
        }
        return e.value_us * decay.factor(elapsed);
    }

    // hot_cold: the active count above which a server is hot
    double hot_threshold(const Instance& in, const Worker& w,
                         const std::vector<int>& servers)
    {
        actives_.clear();
        for (int i : servers) {
            actives_.push_back(variant_load(in, w, i).active);
        }
        std::size_t rank = static_cast<std::size_t>(std::ceil(
            p_.variant.hot_quantile * actives_.size()));
        rank = std::clamp<std::size_t>(rank, 1, actives_.size()) - 1;
        std::nth_element(actives_.begin(), actives_.begin() + rank,
                         actives_.end());
        return actives_[rank];
    }

    int variant(Instance& in, Worker& w, const Request& r,
                const std::vector<int>& servers)
    {
        const Variant& v = p_.variant;
        bool hot_cold = v.rule == Rule::hot_cold;
        double threshold = hot_cold ? hot_threshold(in, w, servers) : 0;

        // hot_cold ranks by class first: a hot server's key is far above
        // any cold one's, and among hot servers fewer active comes first
        // Another tie factor T through the core's own tie rule: s^k with
        // k = ln(kTieFactor) / ln(T) keeps the order, and s_i <= T s_min
        // exactly when s_i^k <= kTieFactor s_min^k.
        double k = std::log(kTieFactor) / std::log(v.tie_factor);
        auto key = [&](int i) {
            PeerLoad load = variant_load(in, w, i);
            if (!hot_cold) {
                return std::pow(score(load, weight(i)), k);
            }
            if (load.active > threshold) {
                return 1e12 * (1 + load.active);
            }
            return load.latency_us;
        };
        auto scored = [&](int i) {
            return Candidate{static_cast<uint32_t>(i), weight(i), key(i),
                             busy(variant_load(in, w, i), weight(i))};
        };

        if (v.choices > 0) {
            // a tournament: each draw against the best so far, as
            // first_is_better settles two
            drawn_.clear();
            for (int k = 0; k < v.choices; k++) {
                int i = draw_excluding(in, w, r, drawn_.data(),
                                       drawn_.data() + drawn_.size());
                if (i < 0) {
                    break;
                }
                drawn_.push_back(i);
            }
            Candidate best = scored(drawn_[0]);
            for (std::size_t k = 1; k < drawn_.size(); k++) {
                Candidate next = scored(drawn_[k]);
                if (!first_is_better(best, next, kNoiseFloorUs, w.rng)) {
                    best = next;
                }
            }
            return static_cast<int>(best.peer);
        }
        candidates_.clear();
        for (int i : servers) {
            candidates_.push_back(scored(i));
        }
        std::size_t best = pick_least_score(
            candidates_.data(), candidates_.size(), w.current_weights.data());
        return static_cast<int>(candidates_[best].peer);
    }

    // measured: a time the attempt took (exact, or cut short), not a
    // failure's penalty
    void variant_sample(Instance& in, const Request& r, double sample_us,
                        bool exact, bool measured)
    {
        const Variant& v = p_.variant;
        Estimate& e = in.estimates[r.server];
        if (v.per_request && measured) {
            sample_us /= 1.0 + static_cast<double>(r.active_before)
                                   / weight(r.server);
        }
        double current = e.value_us > 0 ? variant_decayed(e) : 0;
        double next;
        if (current == 0 || (!exact && sample_us > current)) {
            next = sample_us;
        } else if (!exact) {
            return;
        } else if (sample_us >= current) {
            double up = r.active_before > 0 ? v.loaded_upward_weight
                                            : v.upward_weight;
            next = current + up * (sample_us - current);
        } else {
            next = current + v.downward_weight * (sample_us - current);
        }
        e.value_us = std::max(next, 1.0);
        e.at_us = clock();
    }

    int oracle(const std::vector<int>& servers, Rng& rng)
    {
        // expected time of one more request, from the true queue and speed
        double least = 0;
        int best = -1;
        int ties = 0;
        for (int i : servers) {
            const ServerState& sv = servers_[i];
            if (!sv.alive) {
                continue;
            }
            double held = sv.held();
            double wait = held < sv.workers
                              ? 0
                              : (held - sv.workers + 1) / sv.workers;
            double expected = sv.service_ms * (1 + wait);
            if (best < 0 || expected < least) {
                least = expected;
                best = i;
                ties = 1;
            } else if (expected == least && rng.below(++ties) == 0) {
                best = i;
            }
        }
        return best >= 0 ? best : servers[0];
    }

    // --- measuring -------------------------------------------------------

    void started(Request& r)
    {
        Instance& in = instances_[r.instance];
        Worker& w = in.workers[r.worker];
        r.active_before = inflight(in, r.server).active;
        if (p_.variant.worker_inflight) {
            r.active_before = w.own_inflight[r.server];
        }
        InflightCells::enter(in.cells[r.server], clock());
        // nginx tries a server that max_fails took out again, once until
        // it answers (checked), and the module has it join then
        Health& h = in.health[r.server];
        if (h.fails >= kMaxFails) {
            h.checked = static_cast<int64_t>(now_ / 1'000'000);
            rejoin(in.slots[r.server], clock() / 1000);
        }
        w.own_inflight[r.server]++;
        w.conns[r.server]++;
        in.conns[r.server]++;
    }

    // The client gave up: nginx closes the upstream connection, and the
    // module records the time so far as a lower bound, as the shim does
    // for an attempt cut short.
    void abort(int id)
    {
        Request& r = requests_[id];
        Instance& in = instances_[r.instance];
        uint64_t elapsed = now_ - r.start_us;
        record_per_request(in.slots[r.server].header_time, elapsed,
                           r.active_before, weight(r.server),
                           SampleKind::lower_bound, clock(), decay_);
        if (p_.method == Method::variant) {
            variant_sample(in, r, static_cast<double>(elapsed), false, true);
        }
        finished(r);
        r.orphan = true;
        complete(id, true);
    }

    // The attempt leaves the balancer's counts.
    void finished(Request& r)
    {
        Instance& in = instances_[r.instance];
        Worker& w = in.workers[r.worker];
        // the simulated response is whole with its header
        InflightCells::answered(in.cells[r.server], kEpochUs + r.start_us);
        InflightCells::leave(in.cells[r.server]);
        w.own_inflight[r.server]--;
        w.conns[r.server]--;
        in.conns[r.server]--;
    }

    void response(int id, bool failed)
    {
        Request& r = requests_[id];
        if (r.orphan) {
            free_.push_back(id);  // the server is done with it too
            return;
        }
        Instance& in = instances_[r.instance];
        PeerSlot& slot = in.slots[r.server];
        uint64_t elapsed = now_ - r.start_us;

        uint64_t sample = failed ? failure_sample_us(elapsed,
                                                     s_.fail_timeout_s)
                                 : elapsed;
        // as the shim records
        if (failed) {
            PeakEwma::record(slot.header_time, sample, SampleKind::lower_bound,
                             clock(), decay_);
        } else {
            record_per_request(slot.header_time, elapsed, r.active_before,
                               weight(r.server), SampleKind::exact, clock(),
                               decay_);
            answered(slot, kEpochUs + r.start_us);
        }
        if (p_.method == Method::variant) {
            variant_sample(in, r, static_cast<double>(sample), !failed,
                           !failed);
        }
        finished(r);

        Health& h = in.health[r.server];
        if (failed) {
            h.fails++;
            h.checked = static_cast<int64_t>(now_ / 1'000'000);
            // unavailable for fail_timeout, then joins again
            if (h.fails >= kMaxFails) {
                rejoin(slot, clock() / 1000 + s_.fail_timeout_s * 1000);
            }
            send(id);  // proxy_next_upstream error: the next server
            return;
        }
        h.fails = 0;
        uint64_t& avg = in.nginx_avg_ms[r.server];
        uint64_t ms = elapsed / 1000;
        avg = avg != 0 ? static_cast<uint64_t>(0.5 + ms * 0.05 + avg * 0.95)
                       : ms;
        complete(id, false);
    }

    static double percentile(std::vector<uint32_t>& v, double q)
    {
        if (v.empty()) {
            return 0;
        }
        std::size_t k = std::min(v.size() - 1,
                                 static_cast<std::size_t>(q * v.size()));
        std::nth_element(v.begin(), v.begin() + k, v.end());
        return v[k] / 1000.0;
    }

    Result finish()
    {
        // requests still unanswered past the timeout at the end are errors
        for (std::size_t id = 0; id < requests_.size(); id++) {
            const Request& r = requests_[id];
            if (r.live && r.arrival_us >= us(s_.warmup_s)
                && now_ - r.arrival_us > us(s_.timeout_s))
            {
                complete(static_cast<int>(id), true);
            }
        }
        Result& res = result_;
        res.seconds = s_.seconds - s_.warmup_s;
        double sum = 0;
        for (uint32_t l : latencies_) {
            sum += l;
        }
        res.mean_ms = latencies_.empty() ? 0 : sum / latencies_.size() / 1000;
        res.p50_ms = percentile(latencies_, 0.50);
        res.p99_ms = percentile(latencies_, 0.99);
        res.p999_ms = percentile(latencies_, 0.999);
        if (load_count_ > 0) {
            double mean = load_sum_ / load_count_;
            double var = load_squares_ / load_count_ - mean * mean;
            res.load_cv = mean > 0 ? std::sqrt(std::max(var, 0.0)) / mean : 0;
        }
        for (std::size_t i = 0; i < step_latencies_.size(); i++) {
            std::size_t ok = step_latencies_[i].size();
            res.step_p99_ms.push_back(percentile(step_latencies_[i], 0.99));
            res.step_error_share.push_back(
                ok + step_errors_[i] == 0
                    ? 0
                    : static_cast<double>(step_errors_[i])
                          / (ok + step_errors_[i]));
        }
        return res;
    }

    const Scenario& s_;
    const Policy& p_;
    Rng env_;
    Decay decay_{1000};
    SlowStart slow_start_{0};
    double last_join_s_ = 0;
    uint64_t now_ = 0, end_ = 0, seq_ = 0;
    uint32_t serials_ = 0;
    std::priority_queue<Event, std::vector<Event>, std::greater<Event>>
        events_;
    std::vector<ServerState> servers_;
    std::vector<Instance> instances_;
    std::vector<int> pool_;  // servers in the configuration
    std::vector<AliasEntry> alias_;
    std::vector<uint32_t> weights_;
    std::vector<Request> requests_;
    std::vector<int> free_;
    std::vector<Candidate> candidates_;
    std::vector<double> actives_;
    std::vector<int> drawn_;
    std::vector<uint32_t> latencies_;
    std::vector<std::vector<uint32_t>> step_latencies_;
    std::vector<uint64_t> step_errors_;
    double load_sum_ = 0, load_squares_ = 0;
    uint64_t load_count_ = 0;
    Result result_;
};

}  // namespace

Result run(const Scenario& scenario, const Policy& policy, uint64_t seed)
{
    return Simulation(scenario, policy, seed).run();
}

}  // namespace sim
