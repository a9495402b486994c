// The stream module's side: its traits for the shared balancers.
#pragma once

#define NGX_UPSTREAM_LATENCY_STREAM  1

#include "ngx_upstream_latency_balancer.hpp"

extern "C" {
extern ngx_module_t  ngx_stream_upstream_latency_module;
}


/* nginx 1.27.3 and later resolve servers at run time in a zone */
#if (defined NGX_STREAM_UPSTREAM_MODIFY && NGX_STREAM_UPSTREAM_ZONE)
#define NGX_STREAM_UPSTREAM_LATENCY_RESOLVE  1
#else
#define NGX_STREAM_UPSTREAM_LATENCY_RESOLVE  0
#endif


struct ngx_stream_upstream_latency_proto_t {
    typedef ngx_stream_upstream_rr_peer_t       peer_t;
    typedef ngx_stream_upstream_rr_peers_t      peers_t;
    typedef ngx_stream_upstream_rr_peer_data_t  rr_data_t;
    typedef ngx_stream_upstream_srv_conf_t      upstream_t;
    typedef ngx_stream_upstream_server_t        server_t;
    typedef ngx_stream_session_t                session_t;

    static constexpr ngx_uint_t  log_debug = NGX_LOG_DEBUG_STREAM;
    static constexpr ngx_uint_t  upstream_flags = NGX_STREAM_UPSTREAM_CREATE
                                                |NGX_STREAM_UPSTREAM_WEIGHT
                                                |NGX_STREAM_UPSTREAM_MAX_CONNS
                                                |NGX_STREAM_UPSTREAM_MAX_FAILS
                                            |NGX_STREAM_UPSTREAM_FAIL_TIMEOUT
                                                |NGX_STREAM_UPSTREAM_DOWN
                                                |NGX_STREAM_UPSTREAM_BACKUP
#if (NGX_STREAM_UPSTREAM_LATENCY_RESOLVE)
                                                |NGX_STREAM_UPSTREAM_MODIFY
#endif
                                                ;

    /* the first byte from the server: the header sample's moment */
    static constexpr const char  *answer_name = "first byte";
    static constexpr ngx_upstream_latency_metric_name_t  metrics[] = {
        { "connect", upstream_latency::Metric::connect },
        { "first_byte", upstream_latency::Metric::first_byte },
        { "last_byte", upstream_latency::Metric::last_byte }
    };
    static constexpr const char  *metrics_expected =
        "\"connect\", \"first_byte\" or \"last_byte\"";
    static constexpr const char  *two_expected =
        "\"least_conn\", \"least_time=connect\", \"least_time=first_byte\" "
        "or \"least_time=last_byte\"";

    static void rlock(peers_t *peers) noexcept
    {
        ngx_stream_upstream_rr_peers_rlock(peers);
    }

    static void unlock(peers_t *peers) noexcept
    {
        ngx_stream_upstream_rr_peers_unlock(peers);
    }

    static void peer_lock(peers_t *peers, peer_t *peer) noexcept
    {
        ngx_stream_upstream_rr_peer_lock(peers, peer);
    }

    static void peer_unlock(peers_t *peers, peer_t *peer) noexcept
    {
        ngx_stream_upstream_rr_peer_unlock(peers, peer);
    }

    /* peers in a zone: other worker processes change them too */
    static bool shared(peers_t *peers) noexcept
    {
#if (NGX_STREAM_UPSTREAM_ZONE)
        return peers->shpool != NULL;
#else
        return false;
#endif
    }

    /* an upstream with "zone": its peer.data is round robin's lists */
    static bool zoned(upstream_t *us) noexcept
    {
#if (NGX_STREAM_UPSTREAM_ZONE)
        return us->shm_zone != NULL;
#else
        return false;
#endif
    }

    /* the reference round robin's get takes and its free drops (1.27.3) */
    static void peer_ref(peers_t *peers, peer_t *peer) noexcept
    {
#if (nginx_version >= 1027003)
        ngx_stream_upstream_rr_peer_ref(peers, peer);
#endif
    }

    /*
     * Servers with "resolve" (nginx 1.27.3): nginx adds and removes their
     * peers at run time, under the peers' write lock, and counts each
     * change in the generation the peer lists share.
     */

    static ngx_uint_t resolvable(peers_t *peers) noexcept
    {
        ngx_uint_t  n;

        n = 0;
#if (NGX_STREAM_UPSTREAM_LATENCY_RESOLVE)
        for (peer_t *peer = peers->resolve; peer; peer = peer->next) {
            n++;
        }
#endif
        return n;
    }

    static ngx_uint_t generation(peers_t *peers) noexcept
    {
#if (NGX_STREAM_UPSTREAM_LATENCY_RESOLVE)
        return peers->config ? *(volatile ngx_uint_t *) peers->config : 0;
#else
        return 0;
#endif
    }

    static ngx_flag_t resolved(peer_t *peer) noexcept
    {
#if (NGX_STREAM_UPSTREAM_LATENCY_RESOLVE)
        return peer->host != NULL;
#else
        return 0;
#endif
    }

    static void wlock(peers_t *peers) noexcept
    {
        ngx_stream_upstream_rr_peers_wlock(peers);
    }

    static ngx_int_t get_round_robin_peer(ngx_peer_connection_t *pc,
        rr_data_t *rrp) noexcept
    {
        return ngx_stream_upstream_get_round_robin_peer(pc, rrp);
    }

    static ngx_int_t init_round_robin(ngx_conf_t *cf, upstream_t *us)
        noexcept
    {
        return ngx_stream_upstream_init_round_robin(cf, us);
    }

    static ngx_int_t init_round_robin_peer(session_t *s, upstream_t *us)
        noexcept
    {
        return ngx_stream_upstream_init_round_robin_peer(s, us);
    }

    static ngx_pool_t *pool(session_t *s) noexcept
    {
        return s->connection->pool;
    }

    /*
     * the session's peer handlers, and the context of the filter that
     * stamps the answer: in ngx_stream_upstream_latency_peer.cpp
     */
    static void attach(session_t *s,
        ngx_upstream_latency_peer_data_t<ngx_stream_upstream_latency_proto_t>
            *lp) noexcept;

    static ngx_upstream_latency_srv_conf_t<
               ngx_stream_upstream_latency_proto_t>
        *conf(upstream_t *us) noexcept
    {
        return (ngx_upstream_latency_srv_conf_t<
                    ngx_stream_upstream_latency_proto_t> *)
                   ngx_stream_conf_upstream_srv_conf(us,
                                      ngx_stream_upstream_latency_module);
    }

    static upstream_t *upstream_conf(ngx_conf_t *cf) noexcept
    {
        return (upstream_t *)
                   ngx_stream_conf_get_module_srv_conf(cf,
                                                 ngx_stream_upstream_module);
    }

    static ngx_array_t *upstreams(ngx_conf_t *cf) noexcept
    {
        return &((ngx_stream_upstream_main_conf_t *)
                     ngx_stream_conf_get_module_main_conf(cf,
                                          ngx_stream_upstream_module))
                    ->upstreams;
    }

    static ngx_upstream_latency_main_conf_t *main_conf(ngx_conf_t *cf)
        noexcept
    {
        return (ngx_upstream_latency_main_conf_t *)
                   ngx_stream_conf_get_module_main_conf(cf,
                                      ngx_stream_upstream_latency_module);
    }

    static ngx_upstream_latency_main_conf_t *main_conf(ngx_cycle_t *cycle)
        noexcept
    {
        return (ngx_upstream_latency_main_conf_t *)
                   ngx_stream_cycle_get_module_main_conf(cycle,
                                      ngx_stream_upstream_latency_module);
    }
};


typedef ngx_stream_upstream_latency_proto_t  ngx_stream_upstream_latency_p;

typedef ngx_upstream_latency_srv_conf_t<ngx_stream_upstream_latency_p>
    ngx_stream_upstream_latency_srv_conf_t;
typedef ngx_upstream_latency_peer_data_t<ngx_stream_upstream_latency_p>
    ngx_stream_upstream_latency_peer_data_t;

static_assert(std::is_trivially_destructible_v<
                  ngx_stream_upstream_latency_peer_data_t>);


void ngx_stream_upstream_latency_init_filter() noexcept;
