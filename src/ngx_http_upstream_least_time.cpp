/*
 * least_time: each request goes to the peer with the least expected time,
 * latency * (1 + active / weight); near ties share by weighted round robin.
 */

#include "ngx_http_upstream_latency.hpp"


using upstream_latency::Candidate;


extern "C" {

static ngx_int_t ngx_http_upstream_init_least_time_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us) noexcept;
static ngx_int_t ngx_http_upstream_get_least_time_peer(
    ngx_peer_connection_t *pc, void *data) noexcept;

}


ngx_int_t
ngx_http_upstream_init_least_time(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us) noexcept
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, cf->log, 0, "init least time");

    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_upstream_init_least_time_peer;

    return ngx_http_upstream_latency_init_peers(cf, us,
               (ngx_http_upstream_latency_srv_conf_t *)
                   ngx_http_conf_upstream_srv_conf(us,
                                      ngx_http_upstream_latency_module));
}


/*
 * Scores the usable peers of the current list not yet tried and picks one;
 * returns its index in the list, or NGX_BUSY.
 */

static ngx_int_t
ngx_http_upstream_least_time_choose(ngx_http_upstream_latency_peer_data_t *lp,
    time_t now, uint64_t now_us, ngx_log_t *log)
{
    size_t                                 best;
    uintptr_t                              m;
    ngx_uint_t                             i, n, count;
    Candidate                             *c;
    ngx_http_upstream_rr_peer_t           *peer;
    ngx_http_upstream_rr_peers_t          *peers;
    ngx_http_upstream_latency_srv_conf_t  *lcf;

    lcf = lp->conf;
    peers = lp->rrp.peers;
    count = 0;

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {

        n = i / (8 * sizeof(uintptr_t));
        m = (uintptr_t) 1 << i % (8 * sizeof(uintptr_t));

        if (lp->rrp.tried[n] & m) {
            continue;
        }

        ngx_http_upstream_rr_peer_lock(peers, peer);

        if (!ngx_http_upstream_latency_usable(peer, now)) {
            ngx_http_upstream_rr_peer_unlock(peers, peer);
            continue;
        }

        ngx_http_upstream_rr_peer_unlock(peers, peer);

        c = &lcf->candidates[count];
        c->peer = lp->base + i;
        c->weight = peer->weight;
        c->score = upstream_latency::score(
                       upstream_latency::observe(
                           ngx_http_upstream_latency_slot(lcf, lp->base + i),
                           lcf->options, now_us),
                       peer->weight);

        lcf->candidate_peers[count++] = peer;
    }

    if (count == 0) {
        return NGX_BUSY;
    }

    best = upstream_latency::pick_least_score(lcf->candidates, count,
                                              lcf->current_weights);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "least time peer %V, score %.3fms of %ui",
                   &lcf->candidate_peers[best]->name,
                   lcf->candidates[best].score / 1000, count);

    return lcf->candidates[best].peer - lp->base;
}


extern "C" {

static ngx_int_t
ngx_http_upstream_init_least_time_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us) noexcept
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "init least time peer");

    return ngx_http_upstream_latency_init_peer(r, us,
                                    ngx_http_upstream_get_least_time_peer);
}


static ngx_int_t
ngx_http_upstream_get_least_time_peer(ngx_peer_connection_t *pc, void *data)
    noexcept
{
    ngx_http_upstream_latency_peer_data_t *lp =
        (ngx_http_upstream_latency_peer_data_t *) data;

    time_t                         now;
    uint64_t                       now_us;
    uintptr_t                      m;
    ngx_int_t                      rc, chosen;
    ngx_uint_t                     i, n;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *peers;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "get least time peer, try: %ui", pc->tries);

    now_us = ngx_http_upstream_latency_now_us();

    if (lp->rrp.peers->single) {
        rc = ngx_http_upstream_get_round_robin_peer(pc, &lp->rrp);

        if (rc == NGX_OK) {
            ngx_http_upstream_latency_start(lp, 0, now_us);
        }

        return rc;
    }

    pc->cached = 0;
    pc->connection = NULL;

    now = ngx_time();

    peers = lp->rrp.peers;

    ngx_http_upstream_rr_peers_rlock(peers);

    for ( ;; ) {
        chosen = ngx_http_upstream_least_time_choose(lp, now, now_us,
                                                     pc->log);
        if (chosen == NGX_BUSY) {
            goto failed;
        }

        for (peer = peers->peer, i = 0; i < (ngx_uint_t) chosen; i++) {
            peer = peer->next;
        }

        n = chosen / (8 * sizeof(uintptr_t));
        m = (uintptr_t) 1 << chosen % (8 * sizeof(uintptr_t));

        ngx_http_upstream_rr_peer_lock(peers, peer);

        /* another worker may have taken the last of max_conns meanwhile */

        if (ngx_http_upstream_latency_usable(peer, now)) {
            break;
        }

        ngx_http_upstream_rr_peer_unlock(peers, peer);

        lp->rrp.tried[n] |= m;
    }

    if (now - peer->checked > peer->fail_timeout) {
        peer->checked = now;
    }

    pc->sockaddr = peer->sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &peer->name;

    peer->conns++;

    ngx_http_upstream_rr_peer_unlock(peers, peer);

    lp->rrp.current = peer;
    lp->rrp.tried[n] |= m;

    ngx_http_upstream_rr_peers_unlock(peers);

    ngx_http_upstream_latency_start(lp, chosen, now_us);

    return NGX_OK;

failed:

    if (peers->next) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "get least time peer, backup servers");

        lp->rrp.peers = peers->next;
        lp->base += peers->number;

        n = (lp->rrp.peers->number + (8 * sizeof(uintptr_t) - 1))
                / (8 * sizeof(uintptr_t));

        for (i = 0; i < n; i++) {
            lp->rrp.tried[i] = 0;
        }

        ngx_http_upstream_rr_peers_unlock(peers);

        rc = ngx_http_upstream_get_least_time_peer(pc, lp);

        if (rc != NGX_BUSY) {
            return rc;
        }

        ngx_http_upstream_rr_peers_rlock(peers);
    }

    ngx_http_upstream_rr_peers_unlock(peers);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "get least time peer, no peer found");

    pc->name = peers->name;

    return NGX_BUSY;
}

}
