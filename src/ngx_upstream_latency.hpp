/*
 * What the http and the stream modules share: the configuration of the
 * latency table, and the balancers written once over a protocol's traits.
 *
 * A protocol's traits (ngx_http_upstream_latency_proto_t,
 * ngx_stream_upstream_latency_proto_t) name its round robin types and
 * functions, its lock macros and its configuration accessors; everything
 * that differs between http and stream upstreams goes through them.
 */
#pragma once

#include "ngx.hpp"

#include "core/eligibility.hpp"
#include "core/latency_table.hpp"
#include "core/rng.hpp"
#include "core/selection.hpp"
#include "core/slow_start.hpp"
#include "core/weighted_sampler.hpp"

#include <deque>
#include <string>
#include <type_traits>


namespace upstream_latency {
struct StreamStatus;
}


/* where a directive was written, for errors found after parsing */
typedef struct {
    ngx_str_t                          file;
    ngx_uint_t                         line;
} ngx_upstream_latency_where_t;


typedef struct ngx_upstream_latency_main_conf_s
    ngx_upstream_latency_main_conf_t;

/*
 * The stream block's upstreams for the status, which the http module
 * serves: set by the stream module, found through its zone.  Throws
 * std::bad_alloc.
 */
typedef void (*ngx_upstream_latency_status_pt)(
    ngx_upstream_latency_main_conf_t *lmcf,
    upstream_latency::StreamStatus &stream, std::deque<std::string> &texts,
    ngx_str_t *only, time_t now, uint64_t now_us);


struct ngx_upstream_latency_main_conf_s {
    /*
     * First, where a module of any build finds it: the build of status
     * (ngx_upstream_latency_status_build), which the http module calls
     */
    uint64_t                           status_build;  /* stream only */

    ngx_array_t                        keys;   /* PeerKey, in slot order */
    ngx_array_t                        down;   /* uint8_t, as keys */
    ngx_array_t                        upstream_keys;  /* PeerKey, in
                                                          entry order */
    size_t                             zone_size;
    ngx_upstream_latency_where_t       zone_where;
    ngx_cycle_t                       *cycle;  /* of this configuration */
    const char                        *block;  /* "http" or "stream" */
    ngx_upstream_latency_where_t       block_where;
    upstream_latency::LatencyTable    *table;
    size_t                             zone_bytes;
    ngx_uint_t                         workers; /* rows of in-flight cells */
    ngx_uint_t                         resolvable; /* servers with "resolve" */
    ngx_uint_t                         resolved_slots; /* in the table */
    ngx_uint_t                         groups;  /* peer lists that resolve */
    upstream_latency::Rng              rng;    /* seeded in each process */
    ngx_upstream_latency_status_pt     status; /* stream only */
};


/* a metric's name in "least_time" and "least_time=" */
typedef struct {
    const char                        *name;
    upstream_latency::Metric           metric;
} ngx_upstream_latency_metric_name_t;


/* balancing methods; 0 is "not ours" */
#define NGX_UPSTREAM_LATENCY_METHOD_LEAST_TIME       1
#define NGX_UPSTREAM_LATENCY_METHOD_WEIGHTED_RANDOM  2

#define NGX_UPSTREAM_LATENCY_HALF_LIFE      1000
#define NGX_UPSTREAM_LATENCY_MAX_HALF_LIFE  (24 * 3600 * 1000)
#define NGX_UPSTREAM_LATENCY_SLOW_START     1000
#define NGX_UPSTREAM_LATENCY_MAX_SLOW_START (3600 * 1000)
#define NGX_UPSTREAM_LATENCY_MAX_ZONE       (1024 * 1024 * 1024)

/* slots a server with "resolve" adds to the table's default size */
#define NGX_UPSTREAM_LATENCY_RESOLVED_SLOTS  32

/* a list's generation before its first mapping */
#define NGX_UPSTREAM_LATENCY_UNMAPPED  ((ngx_uint_t) -1)


/* nginx 1.31 has its own "least_time", which would shadow ours */
#if (nginx_version < 1031000)
#define NGX_UPSTREAM_LATENCY_LEAST_TIME  1
#else
#define NGX_UPSTREAM_LATENCY_LEAST_TIME  0
#endif


/*
 * A peer list (primary or backup) for drawing peers by index; in an
 * upstream with servers that resolve, also each peer's slot, mapped again
 * by each worker process when the list's generation changes.
 */
template <class P>
struct ngx_upstream_latency_list_t {
    typename P::peers_t               *indexed;  /* list peer[] was made of */
    typename P::peer_t               **peer;
    uint32_t                          *weight;
    upstream_latency::AliasEntry      *alias;
    ngx_uint_t                         number;

    uint32_t                          *slot;    /* npos: none left */
    ngx_uint_t                         bound;   /* peers mapped at most */
    ngx_uint_t                         unslotted;  /* peers with no slot */
    ngx_uint_t                         generation;  /* mapped */
    uint64_t                          *mapped;  /* a bit per resolved slot */
    double                            *share;   /* for the alias table */
    uint32_t                          *work;
};


template <class P> struct ngx_upstream_latency_peer_data_t;

/*
 * A balancer's choice among the current list: a usable peer not yet tried,
 * with its index in the list, or NULL.
 */
template <class P>
using ngx_upstream_latency_choose_pt = typename P::peer_t *(*)(
    ngx_upstream_latency_peer_data_t<P> *lp, time_t now, uint64_t now_us,
    ngx_uint_t *index, ngx_log_t *log);


template <class P>
struct ngx_upstream_latency_srv_conf_t {
    ngx_upstream_latency_main_conf_t  *main;

    ngx_uint_t                         method;
    ngx_upstream_latency_choose_pt<P>  choose;
    const char                        *name;        /* for debug traces */
    ngx_flag_t                         two;         /* weighted_random two */
    ngx_flag_t                         by_latency;  /* ... least_time= */
    upstream_latency::LoadOptions      options;
    ngx_msec_t                         half_life;
    ngx_msec_t                         slow_start_time;
    upstream_latency::SlowStart        slow_start;
    ngx_flag_t                         initialized;

    ngx_upstream_latency_where_t       method_where;
    ngx_upstream_latency_where_t       half_life_where;
    ngx_upstream_latency_where_t       slow_start_where;

    uint32_t                           entry;  /* the upstream's, for
                                                  its clock */
    ngx_uint_t                         first_slot;
    ngx_uint_t                         nprimary;
    ngx_uint_t                         nbackup;
    ngx_uint_t                         resolvable;  /* servers that resolve */
    uint32_t                           group;  /* of the primary list */

    /* per worker process, reused by every selection */
    upstream_latency::Candidate       *candidates;
    typename P::peer_t               **candidate_peers;
    ngx_uint_t                        *raced;  /* by get: peers found full */
    int64_t                           *current_weights;
    ngx_upstream_latency_list_t<P>     lists[2];  /* primary, backup */
};


/* A failure of a peer, as round robin counts it (see failure, failed). */

typedef struct {
    ngx_uint_t                              max_fails;
    ngx_uint_t                              fails;
    time_t                                  fail_timeout;
    ngx_flag_t                              rechecked;
} ngx_upstream_latency_failure_t;


/* The directive that set the upstream's balancing method. */

template <class P>
inline const char *
ngx_upstream_latency_method_name(ngx_upstream_latency_srv_conf_t<P> *lcf)
    noexcept
{
    return lcf->method == NGX_UPSTREAM_LATENCY_METHOD_LEAST_TIME
           ? "least_time" : "weighted_random";
}


template <class P>
struct ngx_upstream_latency_peer_data_t {
    /* the round robin data must be first */
    typename P::rr_data_t                   rrp;

    ngx_upstream_latency_srv_conf_t<P>     *conf;
    typename P::session_t                  *session;  /* request, session */
    ngx_uint_t                              base;   /* slot of list's 1st */
    ngx_uint_t                              list;   /* 0 primary, 1 backup */

    /* the attempt in progress, if slot is set */
    upstream_latency::PeerSlot             *slot;
    upstream_latency::InflightCell         *cell;   /* this worker's */
    uint64_t                                start_us;
    uint64_t                                paused_ms;  /* the upstream's,
                                                   as the choice started */
    uint64_t                                header_us;  /* if answered */
    uint32_t                                found_active; /* the peer's
                                                   requests in flight, all
                                                   workers, at the start */
    unsigned                                waiting:1;  /* for the answer */
    unsigned                                answered:1; /* header or first
                                                           byte arrived */
    unsigned                                connected:1;  /* stream */
};


ngx_int_t ngx_upstream_latency_init_main_conf(ngx_conf_t *cf,
    ngx_upstream_latency_main_conf_t *lmcf, const char *block) noexcept;
void ngx_upstream_latency_seed(ngx_upstream_latency_main_conf_t *lmcf)
    noexcept;
void ngx_upstream_latency_remember(ngx_conf_t *cf,
    ngx_upstream_latency_where_t *where) noexcept;
void ngx_upstream_latency_needs_method(ngx_conf_t *cf, const char *directive,
    ngx_str_t *upstream, ngx_upstream_latency_where_t *where) noexcept;
char *ngx_upstream_latency_parse_half_life(ngx_conf_t *cf,
    ngx_msec_t *half_life, ngx_upstream_latency_where_t *where) noexcept;
char *ngx_upstream_latency_parse_slow_start(ngx_conf_t *cf,
    ngx_msec_t *slow_start, ngx_upstream_latency_where_t *where) noexcept;
char *ngx_upstream_latency_parse_zone(ngx_conf_t *cf,
    ngx_upstream_latency_main_conf_t *lmcf) noexcept;
ngx_shm_zone_t *ngx_upstream_latency_shm_zone(ngx_cycle_t *cycle,
    ngx_str_t *name) noexcept;
ngx_int_t ngx_upstream_latency_add_zone(ngx_conf_t *cf,
    ngx_upstream_latency_main_conf_t *lmcf, ngx_str_t *name, void *tag)
    noexcept;
ngx_int_t ngx_upstream_latency_init_process(ngx_cycle_t *cycle,
    ngx_upstream_latency_main_conf_t *lmcf) noexcept;


/* The monotonic clock in microseconds; inline: three reads per request. */

inline uint64_t
ngx_upstream_latency_now_us() noexcept
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    /* unsigned: tv_nsec is below 10^9, and its division is shorter */
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


/*
 * The status counters of one attempt; status 0: no response header.
 * Inline: on the path of every attempt.
 */

inline void
ngx_upstream_latency_count(upstream_latency::PeerCounters &counters,
    ngx_flag_t failed, ngx_uint_t status, uint64_t complete_us) noexcept
{
    if (failed) {
        counters.fails.fetch_add(1, std::memory_order_relaxed);
    }

    if (status >= 100 && status < 600) {
        counters.responses[status / 100 - 1].fetch_add(1,
                                                  std::memory_order_relaxed);
    }

    if (complete_us) {
        counters.histogram[upstream_latency::histogram_bucket(complete_us)]
            .fetch_add(1, std::memory_order_relaxed);
        counters.histogram_sum_us.fetch_add(complete_us,
                                            std::memory_order_relaxed);
    }
}


/* Inline: every selection calls these once per peer. */

template <class P>
inline ngx_flag_t
ngx_upstream_latency_usable(typename P::peer_t *peer, time_t now)
{
    return upstream_latency::usable({peer->down != 0, peer->fails,
                                     peer->max_fails, peer->checked,
                                     peer->fail_timeout, peer->conns,
                                     peer->max_conns},
                                    now);
}


/* Not so only for a resolved peer the table had no slot left for. */

template <class P>
inline ngx_flag_t
ngx_upstream_latency_has_slot(ngx_upstream_latency_peer_data_t<P> *lp,
    ngx_uint_t index) noexcept
{
    ngx_upstream_latency_list_t<P>  *l;

    l = &lp->conf->lists[lp->list];

    return !lp->conf->resolvable
           || (index < l->bound
               && l->slot[index] != upstream_latency::LatencyTable::npos);
}


/*
 * What a selection reads once of the current list: the peers tried, and
 * where their slots are.
 */
template <class P>
struct ngx_upstream_latency_scan_t {
    typename P::peers_t               *peers;
    ngx_flag_t                         shared;  /* peers in a zone: lock */
    uintptr_t                         *tried;
    const uint32_t                    *mapped;  /* resolvable: per index */
    ngx_uint_t                         bound;   /* resolvable: mapped */
    ngx_uint_t                         first;   /* else: slot of index 0 */
};


template <class P>
inline ngx_upstream_latency_scan_t<P>
ngx_upstream_latency_scan(ngx_upstream_latency_peer_data_t<P> *lp) noexcept
{
    ngx_upstream_latency_scan_t<P>   scan;
    ngx_upstream_latency_list_t<P>  *l;

    l = &lp->conf->lists[lp->list];

    scan.peers = lp->rrp.peers;
    scan.shared = P::shared(scan.peers);
    scan.tried = lp->rrp.tried;
    scan.mapped = lp->conf->resolvable ? l->slot : NULL;
    scan.bound = l->bound;
    scan.first = lp->conf->first_slot + lp->base;

    return scan;
}


/* Whether the request has tried the peer at index of its list. */

[[gnu::always_inline]] inline bool
ngx_upstream_latency_tried(const uintptr_t *tried, ngx_uint_t index) noexcept
{
    return tried[index / (8 * sizeof(uintptr_t))]
           & ((uintptr_t) 1 << index % (8 * sizeof(uintptr_t)));
}


/*
 * The slot of the peer at index of the scanned list if the peer may take
 * this request, else LatencyTable::npos.
 */
template <class P>
[[gnu::always_inline]] inline uint32_t
ngx_upstream_latency_available_slot(const ngx_upstream_latency_scan_t<P> &scan,
    typename P::peer_t *peer, ngx_uint_t index, time_t now) noexcept
{
    uint32_t    slot;
    ngx_flag_t  usable;

    if (ngx_upstream_latency_tried(scan.tried, index)) {
        return upstream_latency::LatencyTable::npos;
    }

    if (scan.mapped == NULL) {
        slot = (uint32_t) (scan.first + index);

    } else if (index < scan.bound) {
        slot = scan.mapped[index];

        if (slot == upstream_latency::LatencyTable::npos) {
            return slot;
        }

    } else {
        return upstream_latency::LatencyTable::npos;
    }

    if (!scan.shared) {
        return ngx_upstream_latency_usable<P>(peer, now)
               ? slot : upstream_latency::LatencyTable::npos;
    }

    P::peer_lock(scan.peers, peer);
    usable = ngx_upstream_latency_usable<P>(peer, now);
    P::peer_unlock(scan.peers, peer);

    return usable ? slot : upstream_latency::LatencyTable::npos;
}


template <class P>
inline ngx_uint_t
ngx_upstream_latency_slot_index(ngx_upstream_latency_peer_data_t<P> *lp,
    ngx_uint_t index)
{
    if (lp->conf->resolvable) {
        return lp->conf->lists[lp->list].slot[index];
    }

    return lp->conf->first_slot + lp->base + index;
}


/*
 * The upstream's clock (upstream_latency::UpstreamClock): its estimates
 * age only while it serves.
 */

template <class P>
inline upstream_latency::UpstreamClock &
ngx_upstream_latency_clock(ngx_upstream_latency_srv_conf_t<P> *lcf) noexcept
{
    return lcf->main->table->upstream(lcf->entry).clock;
}


/* How the upstream's estimates fade at now_us, on its clock. */

template <class P>
[[gnu::always_inline]] inline upstream_latency::Decay
ngx_upstream_latency_decay(ngx_upstream_latency_srv_conf_t<P> *lcf,
    uint64_t now_us) noexcept
{
    upstream_latency::Decay  decay;

    decay = lcf->options.decay;
    decay.paused_ms = ngx_upstream_latency_clock(lcf).paused_ms(
                          now_us / 1000, lcf->half_life);

    return decay;
}


/*
 * What a choice reads of the estimates: the upstream's options, with the
 * upstream's pauses when the choice started.
 */

template <class P>
[[gnu::always_inline]] inline upstream_latency::LoadOptions
ngx_upstream_latency_options(ngx_upstream_latency_peer_data_t<P> *lp)
    noexcept
{
    upstream_latency::LoadOptions  options;

    options = lp->conf->options;
    options.decay.paused_ms = lp->paused_ms;

    return options;
}


/* The load of the peer at index of the current list, at now_ms. */

template <class P>
[[gnu::always_inline]] inline upstream_latency::PeerLoad
ngx_upstream_latency_load(ngx_upstream_latency_peer_data_t<P> *lp,
    const upstream_latency::TableView &view, ngx_uint_t index,
    uint64_t now_ms) noexcept
{
    return upstream_latency::observe_ms(view,
                                        ngx_upstream_latency_slot_index(lp,
                                                                        index),
                                        ngx_upstream_latency_options(lp),
                                        now_ms);
}


template <class P>
inline upstream_latency::PeerSlot &
ngx_upstream_latency_slot(ngx_upstream_latency_peer_data_t<P> *lp,
    ngx_uint_t index)
{
    return lp->conf->main->table->slot(
               ngx_upstream_latency_slot_index(lp, index));
}


/*
 * Slow start: the ramp of the peer at index of the current list, and what
 * a selection sees of it if it joined (upstream_latency::joining).
 */

template <class P>
inline double
ngx_upstream_latency_ramp(ngx_upstream_latency_peer_data_t<P> *lp,
    ngx_uint_t index, uint64_t now_ms, upstream_latency::PeerLoad *load,
    upstream_latency::JoinPrior prior) noexcept
{
    return lp->conf->slow_start.apply(ngx_upstream_latency_slot(lp, index),
                                      now_ms, prior, *load);
}
