/*
 * weighted_random [two [least_conn | least_time=header|last_byte]]: a peer
 * drawn by weight, or the better of two drawn by weight.
 */

#include "ngx_http_upstream_latency.hpp"


using upstream_latency::WeightedSampler;


static ngx_http_upstream_rr_peer_t *ngx_http_upstream_weighted_random_choose(
    ngx_http_upstream_latency_peer_data_t *lp, time_t now, uint64_t now_us,
    ngx_uint_t *index, ngx_log_t *log);


/*
 * Each worker draws from alias tables built here, once per peer list; the
 * list's peer pointers are taken on first use, as with nginx's zone the
 * peers move to shared memory after this.
 */

ngx_int_t
ngx_http_upstream_init_weighted_random(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us) noexcept
{
    ngx_uint_t                             i, k;
    ngx_http_upstream_rr_peer_t           *peer;
    ngx_http_upstream_rr_peers_t          *list;
    ngx_http_upstream_latency_list_t      *l;
    ngx_http_upstream_latency_srv_conf_t  *lcf;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, cf->log, 0, "init weighted random");

    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    lcf = (ngx_http_upstream_latency_srv_conf_t *)
              ngx_http_conf_upstream_srv_conf(us,
                                      ngx_http_upstream_latency_module);

    if (ngx_http_upstream_latency_init_peers(cf, us, lcf,
                                   ngx_http_upstream_weighted_random_choose,
                                   "weighted random")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (list = (ngx_http_upstream_rr_peers_t *) us->peer.data, k = 0;
         list;
         list = list->next, k++)
    {
        l = &lcf->lists[k];
        l->number = list->number;
        l->indexed = NULL;
        l->peer = (ngx_http_upstream_rr_peer_t **)
            ngx_palloc(cf->pool, l->number * sizeof(void *));
        l->weight = (uint32_t *)
            ngx_palloc(cf->pool, l->number * sizeof(uint32_t));
        l->alias = (upstream_latency::AliasEntry *)
            ngx_palloc(cf->pool,
                       l->number * sizeof(upstream_latency::AliasEntry));

        if (l->peer == NULL || l->weight == NULL || l->alias == NULL) {
            return NGX_ERROR;
        }

        for (peer = list->peer, i = 0; peer; peer = peer->next, i++) {
            l->weight[i] = peer->weight;
        }

        try {
            WeightedSampler::build(l->weight, l->number, l->alias);

        } catch (const std::exception &e) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "weighted_random in upstream \"%V\": %s",
                               &us->host, e.what());
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_http_upstream_rr_peer_t *
ngx_http_upstream_weighted_random_choose(
    ngx_http_upstream_latency_peer_data_t *lp, time_t now, uint64_t now_us,
    ngx_uint_t *index, ngx_log_t *log)
{
    size_t                                 first, second;
    double                                 first_score, second_score, floor;
    ngx_uint_t                             i;
    ngx_http_upstream_rr_peer_t           *peer;
    upstream_latency::Rng                 &rng = lp->conf->main->rng;
    ngx_http_upstream_latency_list_t      *l;
    ngx_http_upstream_latency_srv_conf_t  *lcf;

    lcf = lp->conf;
    l = &lcf->lists[lp->list];

    if (l->indexed != lp->rrp.peers) {
        for (peer = lp->rrp.peers->peer, i = 0; peer; peer = peer->next, i++) {
            l->peer[i] = peer;
        }

        l->indexed = lp->rrp.peers;
    }

    WeightedSampler  sampler(l->alias, l->weight, l->number);

    auto available = [lp, l, now](size_t i) {
        return ngx_http_upstream_latency_available(lp, l->peer[i], i, now);
    };

    /* least_conn: latency left out, fewer active requests per weight */
    auto score_of = [lp, l, lcf, now_us](size_t i) {
        upstream_latency::PeerLoad load =
            ngx_http_upstream_latency_load(lp, i, now_us);
        if (!lcf->by_latency) {
            load.latency_us = 1;
        }
        return upstream_latency::score(load, l->weight[i]);
    };

    first = sampler.draw(rng, available);

    if (first == WeightedSampler::npos) {
        return NULL;
    }

    if (lcf->two) {
        second = sampler.draw(rng, [first, &available](size_t i) {
                                       return i != first && available(i);
                                   });

        if (second != WeightedSampler::npos) {
            first_score = score_of(first);
            second_score = score_of(second);

            ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                           "weighted random two: %V %.3f, %V %.3f",
                           &l->peer[first]->name, first_score,
                           &l->peer[second]->name, second_score);

            /* least_conn's scores, requests per weight, are exact */
            floor = lcf->by_latency ? upstream_latency::kTieFloorUs : 0;

            if (!upstream_latency::first_is_better(first_score, second_score,
                                                   floor, rng))
            {
                first = second;
            }
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "weighted random peer %V", &l->peer[first]->name);

    *index = first;

    return l->peer[first];
}
