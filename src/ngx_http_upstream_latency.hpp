// Declarations shared by the files of the module's nginx side.
#pragma once

#include "ngx.hpp"

#include "core/eligibility.hpp"
#include "core/latency_table.hpp"
#include "core/rng.hpp"
#include "core/selection.hpp"
#include "core/weighted_sampler.hpp"

extern "C" {
extern ngx_module_t  ngx_http_upstream_latency_module;
}


/* where a directive was written, for errors found after parsing */
typedef struct {
    ngx_str_t                          file;
    ngx_uint_t                         line;
} ngx_http_upstream_latency_where_t;


typedef struct {
    ngx_array_t                        keys;   /* PeerKey, in slot order */
    size_t                             zone_size;
    ngx_http_upstream_latency_where_t  zone_where;
    ngx_cycle_t                       *cycle;  /* of this configuration */
    upstream_latency::LatencyTable    *table;
    size_t                             zone_bytes;
    ngx_uint_t                         workers; /* rows of in-flight cells */
    upstream_latency::Rng              rng;    /* seeded in each process */
} ngx_http_upstream_latency_main_conf_t;


/* a peer list (primary or backup) for drawing peers by index */
typedef struct {
    ngx_http_upstream_rr_peers_t      *indexed;  /* list peer[] was made of */
    ngx_http_upstream_rr_peer_t      **peer;
    uint32_t                          *weight;
    upstream_latency::AliasEntry      *alias;
    ngx_uint_t                         number;
} ngx_http_upstream_latency_list_t;


typedef struct ngx_http_upstream_latency_peer_data_s
    ngx_http_upstream_latency_peer_data_t;

/*
 * A balancer's choice among the current list: a usable peer not yet tried,
 * with its index in the list, or NULL.
 */
typedef ngx_http_upstream_rr_peer_t *(*ngx_http_upstream_latency_choose_pt)(
    ngx_http_upstream_latency_peer_data_t *lp, time_t now, uint64_t now_us,
    ngx_uint_t *index, ngx_log_t *log);


typedef struct {
    ngx_http_upstream_latency_main_conf_t  *main;

    ngx_uint_t                         method;
    ngx_http_upstream_latency_choose_pt  choose;
    const char                        *name;        /* for debug traces */
    ngx_flag_t                         two;         /* weighted_random two */
    ngx_flag_t                         by_latency;  /* ... least_time= */
    upstream_latency::LoadOptions      options;
    ngx_msec_t                         half_life;
    ngx_flag_t                         initialized;

    ngx_http_upstream_latency_where_t  method_where;
    ngx_http_upstream_latency_where_t  half_life_where;

    ngx_uint_t                         first_slot;
    ngx_uint_t                         nprimary;

    /* per worker process, reused by every selection */
    upstream_latency::Candidate       *candidates;
    ngx_http_upstream_rr_peer_t      **candidate_peers;
    int64_t                           *current_weights;
    ngx_http_upstream_latency_list_t   lists[2];  /* primary, backup */
} ngx_http_upstream_latency_srv_conf_t;


/* balancing methods; 0 is "not ours" */
#define NGX_HTTP_UPSTREAM_LATENCY_METHOD_LEAST_TIME       1
#define NGX_HTTP_UPSTREAM_LATENCY_METHOD_WEIGHTED_RANDOM  2


/* nginx 1.31 has its own "least_time", which would shadow ours */
#if (nginx_version < 1031000)
#define NGX_HTTP_UPSTREAM_LATENCY_LEAST_TIME  1
#else
#define NGX_HTTP_UPSTREAM_LATENCY_LEAST_TIME  0
#endif


struct ngx_http_upstream_latency_peer_data_s {
    /* the round robin data must be first */
    ngx_http_upstream_rr_peer_data_t        rrp;

    ngx_http_upstream_latency_srv_conf_t   *conf;
    ngx_http_request_t                     *request;
    ngx_uint_t                              base;   /* slot of list's 1st */
    ngx_uint_t                              list;   /* 0 primary, 1 backup */

    /* the attempt in progress, if slot is set */
    upstream_latency::PeerSlot             *slot;
    upstream_latency::InflightCell         *cell;   /* this worker's */
    uint64_t                                start_us;
    uint64_t                                header_us;  /* if answered */
    unsigned                                waiting:1;  /* for the header */
    unsigned                                answered:1; /* header arrived */
};

static_assert(std::is_trivially_destructible_v<
                  ngx_http_upstream_latency_peer_data_t>);


#define NGX_HTTP_UPSTREAM_LATENCY_HALF_LIFE  1000


uint64_t ngx_http_upstream_latency_now_us() noexcept;
void ngx_http_upstream_latency_init_header_filter() noexcept;
ngx_int_t ngx_http_upstream_latency_init_peers(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us,
    ngx_http_upstream_latency_srv_conf_t *lcf,
    ngx_http_upstream_latency_choose_pt choose, const char *name) noexcept;

char *ngx_http_upstream_latency_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf) noexcept;

ngx_int_t ngx_http_upstream_init_least_time(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us) noexcept;
ngx_int_t ngx_http_upstream_init_weighted_random(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us) noexcept;


/* Inline: every selection calls these once per peer. */

inline ngx_flag_t
ngx_http_upstream_latency_usable(ngx_http_upstream_rr_peer_t *peer,
    time_t now)
{
    return upstream_latency::usable({peer->down != 0, peer->fails,
                                     peer->max_fails, peer->checked,
                                     peer->fail_timeout, peer->conns,
                                     peer->max_conns},
                                    now);
}


/* Whether the peer at index of the current list may take this request. */

inline ngx_flag_t
ngx_http_upstream_latency_available(ngx_http_upstream_latency_peer_data_t *lp,
    ngx_http_upstream_rr_peer_t *peer, ngx_uint_t index, time_t now) noexcept
{
    uintptr_t                      m;
    ngx_uint_t                     n;
    ngx_flag_t                     usable;
    ngx_http_upstream_rr_peers_t  *peers;

    n = index / (8 * sizeof(uintptr_t));
    m = (uintptr_t) 1 << index % (8 * sizeof(uintptr_t));

    if (lp->rrp.tried[n] & m) {
        return 0;
    }

    peers = lp->rrp.peers;

    ngx_http_upstream_rr_peer_lock(peers, peer);
    usable = ngx_http_upstream_latency_usable(peer, now);
    ngx_http_upstream_rr_peer_unlock(peers, peer);

    return usable;
}


inline ngx_uint_t
ngx_http_upstream_latency_slot_index(ngx_http_upstream_latency_peer_data_t *lp,
    ngx_uint_t index)
{
    return lp->conf->first_slot + lp->base + index;
}


inline upstream_latency::PeerLoad
ngx_http_upstream_latency_load(ngx_http_upstream_latency_peer_data_t *lp,
    ngx_uint_t index, uint64_t now_us) noexcept
{
    return upstream_latency::observe(*lp->conf->main->table,
                                     ngx_http_upstream_latency_slot_index(lp,
                                                                     index),
                                     lp->conf->options, now_us);
}
