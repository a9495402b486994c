/*
 * The status of an upstream block's upstreams, written once for http and
 * stream: what the balancer sees, read from the shared table and round
 * robin's peers without taking any lock the request path takes.
 */
#pragma once

#include "ngx_upstream_latency.hpp"

#include "core/status.hpp"

#include <deque>
#include <string>


/*
 * The build of the status interface between the http and the stream
 * module (ngx_upstream_latency_status_pt, the status types, the main
 * configuration): their .so files, packaged apart, may come from two
 * builds, and the http module must not call the stream module's status
 * with the other's layouts.  Bump the revision when what they mean
 * changes, not only their sizes.
 */

constexpr uint64_t
ngx_upstream_latency_status_build() noexcept
{
    return (uint64_t) 0x5550534c4154 << 16        /* "UPSLAT" */
           ^ (uint64_t) 1 << 12                  /* revision */
           ^ (uint64_t) sizeof(ngx_upstream_latency_main_conf_t) << 32
           ^ (uint64_t) sizeof(upstream_latency::StreamStatus) << 20
           ^ (uint64_t) sizeof(upstream_latency::UpstreamStatus) << 8
           ^ (uint64_t) sizeof(upstream_latency::PeerStatus);
}


template <class P>
std::string
ngx_upstream_latency_method(typename P::upstream_t *uscf,
    ngx_upstream_latency_srv_conf_t<P> *lcf)
{
    std::string  method;

    if (lcf->method == NGX_UPSTREAM_LATENCY_METHOD_LEAST_TIME) {
        method = "least_time ";

    } else if (lcf->method == NGX_UPSTREAM_LATENCY_METHOD_WEIGHTED_RANDOM)
    {
        method = "weighted_random";

        if (!lcf->two) {
            return method;
        }

        method += lcf->by_latency ? " two least_time=" : " two least_conn";

        if (!lcf->by_latency) {
            return method;
        }

    } else {
        /* keepalive alone also sets init_upstream: "other" then */
        return uscf->peer.init_upstream ? "other" : "round robin";
    }

    for (const auto &m : P::metrics) {
        if (m.metric == lcf->options.metric) {
            method += m.name;
        }
    }

    if (lcf->options.inflight) {
        method += " inflight";
    }

    return method;
}


/* Holds a peer list's read lock, if locked, until the scope ends. */

template <class P>
struct ngx_upstream_latency_read_lock_t {
    typename P::peers_t  *list;

    ngx_upstream_latency_read_lock_t(typename P::peers_t *list) noexcept
        : list(list)
    {
        if (list) {
            P::rlock(list);
        }
    }

    ~ngx_upstream_latency_read_lock_t()
    {
        if (list) {
            P::unlock(list);
        }
    }
};


/*
 * The peers of an upstream, from round robin's lists; read without the
 * locks of a zone, as plain words: a status may be a moment behind, never
 * in the way.  Only where nginx resolves servers, and may free peers, are
 * the lists read under their read lock and the peers' names copied to
 * texts.  With the table of the module's upstreams, each peer has its
 * slot: configured ones from first, resolved ones found by key.
 */

template <class P>
void
ngx_upstream_latency_listed_peers(upstream_latency::UpstreamStatus &u,
    typename P::upstream_t *uscf, upstream_latency::LatencyTable *table,
    uint32_t first, bool resolves, std::deque<std::string> &texts,
    time_t now, uint64_t now_us)
{
    uint32_t                      id, index, configured;
    ngx_flag_t                    backup;
    std::string_view              name, server;
    typename P::peer_t           *peer;
    typename P::peers_t          *list;
    upstream_latency::PeerState   state;

    id = 0;
    configured = first;
    backup = 0;

    for (list = (typename P::peers_t *) uscf->peer.data;
         list;
         list = list->next, backup = 1)
    {
        ngx_upstream_latency_read_lock_t<P>  lock(resolves ? list : NULL);

        for (peer = list->peer; peer; peer = peer->next, id++) {

            if (peer->down) {
                state = upstream_latency::PeerState::down;

            } else if (peer->max_fails && peer->fails >= peer->max_fails
                       && now - peer->checked <= peer->fail_timeout)
            {
                state = upstream_latency::PeerState::unavail;

            } else {
                state = upstream_latency::PeerState::up;
            }

            name = {(char *) peer->name.data, peer->name.len};
            server = {(char *) peer->server.data, peer->server.len};

            if (table == NULL) {
                index = upstream_latency::LatencyTable::npos;

            } else if (P::resolved(peer)) {
                index = table->find(upstream_latency::PeerKey::of(
                            {(char *) uscf->host.data, uscf->host.len},
                            name, backup));

            } else {
                index = configured++;
            }

            if (resolves) {
                name = texts.emplace_back(name);
                server = texts.emplace_back(server);
            }

            u.peers.push_back({id, name, server, list != uscf->peer.data,
                               (uint32_t) peer->weight, state,
                               index == upstream_latency::LatencyTable::npos
                               ? nullptr : &table->slot(index),
                               index == upstream_latency::LatencyTable::npos
                               ? 0 : table->inflight(index, now_us).active});
        }
    }
}


/*
 * Whether nginx resolves servers of the upstream, of any method: they are
 * in a zone, and there nginx keeps round robin's lists.
 */

template <class P>
bool
ngx_upstream_latency_resolves(typename P::upstream_t *uscf) noexcept
{
    typename P::peers_t  *peers;

    if (!P::zoned(uscf)) {
        return false;
    }

    peers = (typename P::peers_t *) uscf->peer.data;

    return P::resolvable(peers) || (peers->next && P::resolvable(peers->next));
}


/*
 * The servers of an upstream of another method, none resolved, from its
 * configuration: the primary ones, then the backup ones, as round robin
 * numbers them.
 */

template <class P>
void
ngx_upstream_latency_configured_peers(upstream_latency::UpstreamStatus &u,
    typename P::upstream_t *uscf)
{
    uint32_t                     id;
    ngx_uint_t                   i, j, backup;
    typename P::server_t        *server;

    using upstream_latency::PeerState;

    if (uscf->servers == NULL) {
        return;
    }

    server = (typename P::server_t *) uscf->servers->elts;
    id = 0;

    for (backup = 0; backup < 2; backup++) {
        for (i = 0; i < uscf->servers->nelts; i++) {

            if (server[i].backup != backup) {
                continue;
            }

            for (j = 0; j < server[i].naddrs; j++, id++) {
                u.peers.push_back({id,
                                   {(char *) server[i].addrs[j].name.data,
                                    server[i].addrs[j].name.len},
                                   {(char *) server[i].name.data,
                                    server[i].name.len},
                                   backup != 0,
                                   (uint32_t) server[i].weight,
                                   server[i].down ? PeerState::down
                                                  : PeerState::up,
                                   nullptr, 0});
            }
        }
    }
}


/*
 * The upstreams of one block (all, or only the one named), appended to
 * out; the texts they point to are kept in texts.  Throws std::bad_alloc.
 */

template <class P>
void
ngx_upstream_latency_collect(ngx_array_t *upstreams,
    upstream_latency::LatencyTable *table,
    std::vector<upstream_latency::UpstreamStatus> &out,
    std::deque<std::string> &texts, ngx_str_t *only, time_t now,
    uint64_t now_us)
{
    ngx_uint_t                           i;
    typename P::upstream_t             **uscfp;
    ngx_upstream_latency_srv_conf_t<P>  *lcf;

    uscfp = (typename P::upstream_t **) upstreams->elts;

    for (i = 0; i < upstreams->nelts; i++) {

        if (uscfp[i]->srv_conf == NULL
            || (only->len && (only->len != uscfp[i]->host.len
                              || ngx_strncmp(only->data, uscfp[i]->host.data,
                                             only->len) != 0)))
        {
            continue;
        }

        lcf = P::conf(uscfp[i]);

        texts.push_back(ngx_upstream_latency_method<P>(uscfp[i], lcf));

        upstream_latency::UpstreamStatus &u = out.emplace_back();
        u.name = {(char *) uscfp[i]->host.data, uscfp[i]->host.len};
        u.method = texts.back();
        u.decay = lcf->options.decay;

        if (lcf->initialized && table) {
            u.decay = ngx_upstream_latency_decay(lcf, now_us);
            ngx_upstream_latency_listed_peers<P>(u, uscfp[i], table,
                                                 lcf->first_slot,
                                                 lcf->resolvable != 0, texts,
                                                 now, now_us);

        } else if (ngx_upstream_latency_resolves<P>(uscfp[i])) {
            /* the peers its names resolve to now, in no slot */
            ngx_upstream_latency_listed_peers<P>(u, uscfp[i], NULL, 0, true,
                                                 texts, now, now_us);

        } else {
            ngx_upstream_latency_configured_peers<P>(u, uscfp[i]);
        }
    }
}
