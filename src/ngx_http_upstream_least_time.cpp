/*
 * least_time: each request goes to the peer with the least expected time,
 * latency * (1 + active / weight); near ties share by weighted round robin.
 */

#include "ngx_http_upstream_latency.hpp"


using upstream_latency::Candidate;


static ngx_http_upstream_rr_peer_t *ngx_http_upstream_least_time_choose(
    ngx_http_upstream_latency_peer_data_t *lp, time_t now, uint64_t now_us,
    ngx_uint_t *index, ngx_log_t *log);


ngx_int_t
ngx_http_upstream_init_least_time(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us) noexcept
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, cf->log, 0, "init least time");

    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_upstream_latency_init_peers(cf, us,
               (ngx_http_upstream_latency_srv_conf_t *)
                   ngx_http_conf_upstream_srv_conf(us,
                                      ngx_http_upstream_latency_module),
               ngx_http_upstream_least_time_choose, "least time");
}


/* Scores every available peer of the current list and takes the least. */

static ngx_http_upstream_rr_peer_t *
ngx_http_upstream_least_time_choose(ngx_http_upstream_latency_peer_data_t *lp,
    time_t now, uint64_t now_us, ngx_uint_t *index, ngx_log_t *log)
{
    size_t                                 best;
    ngx_uint_t                             i, count;
    Candidate                             *c;
    ngx_http_upstream_rr_peer_t           *peer;
    ngx_http_upstream_latency_srv_conf_t  *lcf;

    lcf = lp->conf;
    count = 0;

    for (peer = lp->rrp.peers->peer, i = 0; peer; peer = peer->next, i++) {

        if (!ngx_http_upstream_latency_available(lp, peer, i, now)) {
            continue;
        }

        c = &lcf->candidates[count];
        c->peer = lp->base + i;
        c->weight = peer->weight;
        c->score = upstream_latency::score(
                       ngx_http_upstream_latency_load(lp, i, now_us),
                       peer->weight);

        lcf->candidate_peers[count++] = peer;
    }

    if (count == 0) {
        return NULL;
    }

    best = upstream_latency::pick_least_score(lcf->candidates, count,
                                              lcf->current_weights);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "least time peer %V, score %.3fms of %ui",
                   &lcf->candidate_peers[best]->name,
                   lcf->candidates[best].score / 1000, count);

    *index = lcf->candidates[best].peer - lp->base;

    return lcf->candidate_peers[best];
}
