/*
 * What every balancer of the module shares: the peers' slots in the latency
 * table, per-request peer data, and measuring each attempt when nginx
 * releases the peer.
 */

#include "ngx_http_upstream_latency.hpp"

#include <time.h>


using upstream_latency::PeakEwma;
using upstream_latency::PeerKey;
using upstream_latency::PeerSlot;
using upstream_latency::SampleKind;


extern "C" {

static ngx_int_t ngx_http_upstream_init_latency_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us) noexcept;
static ngx_int_t ngx_http_upstream_get_latency_peer(ngx_peer_connection_t *pc,
    void *data) noexcept;
static void ngx_http_upstream_free_latency_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state) noexcept;

}


uint64_t
ngx_http_upstream_latency_now_us() noexcept
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/*
 * Called from a balancer's init_upstream after round robin has built the
 * peers: gives each peer, primary then backup, a slot keyed by upstream
 * name and peer address, allocates the per-worker selection buffers, and
 * makes choose() the balancer's choice.
 */

ngx_int_t
ngx_http_upstream_latency_init_peers(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us,
    ngx_http_upstream_latency_srv_conf_t *lcf,
    ngx_http_upstream_latency_choose_pt choose, const char *name) noexcept
{
    PeerKey                       *key;
    ngx_uint_t                     n, most;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *peers, *list;

    peers = (ngx_http_upstream_rr_peers_t *) us->peer.data;

    lcf->first_slot = lcf->main->keys.nelts;
    lcf->nprimary = peers->number;

    n = 0;
    most = 0;

    for (list = peers; list; list = list->next) {

        for (peer = list->peer; peer; peer = peer->next) {
            key = (PeerKey *) ngx_array_push(&lcf->main->keys);
            if (key == NULL) {
                return NGX_ERROR;
            }

            *key = PeerKey::of({(const char *) us->host.data, us->host.len},
                               {(const char *) peer->name.data,
                                peer->name.len});
            n++;
        }

        most = ngx_max(most, list->number);
    }

    lcf->candidates = (upstream_latency::Candidate *)
        ngx_palloc(cf->pool, most * sizeof(upstream_latency::Candidate));
    lcf->candidate_peers = (ngx_http_upstream_rr_peer_t **)
        ngx_palloc(cf->pool, most * sizeof(ngx_http_upstream_rr_peer_t *));
    lcf->current_weights = (int64_t *)
        ngx_pcalloc(cf->pool, n * sizeof(int64_t));

    if (lcf->candidates == NULL
        || lcf->candidate_peers == NULL
        || lcf->current_weights == NULL)
    {
        return NGX_ERROR;
    }

    if (lcf->half_life == NGX_CONF_UNSET_MSEC) {
        lcf->half_life = NGX_HTTP_UPSTREAM_LATENCY_HALF_LIFE;
    }

    lcf->options.decay.half_life_ms = (uint32_t) lcf->half_life;
    lcf->choose = choose;
    lcf->name = name;
    lcf->initialized = 1;

    us->peer.init = ngx_http_upstream_init_latency_peer;

    return NGX_OK;
}


/* The attempt to the peer at index of the current list starts now. */

static void
ngx_http_upstream_latency_start(ngx_http_upstream_latency_peer_data_t *lp,
    ngx_uint_t index, uint64_t now_us)
{
    ngx_time_t             *tp;
    std::atomic<uint64_t>  *ledger;

    tp = ngx_timeofday();

    lp->slot = &ngx_http_upstream_latency_slot(lp, index);
    lp->start_us = now_us;
    lp->in_gauge = upstream_latency::InflightGauge::enter(lp->slot->inflight,
                                                          now_us);

    ledger = lp->conf->main->ledger;
    lp->ledger = NULL;

    if (lp->in_gauge && ledger) {
        ledger += ngx_http_upstream_latency_slot_index(lp, index);

        if (upstream_latency::InflightGauge::enter(*ledger, now_us)) {
            lp->ledger = ledger;
        }
    }

    lp->slot->counters.requests.fetch_add(1, std::memory_order_relaxed);
    lp->slot->selected_ms.store((uint64_t) tp->sec * 1000 + tp->msec,
                                std::memory_order_relaxed);
}


/*
 * Primary peers first, then backup ones, as nginx's own balancers do; the
 * balancer's choose() picks within a list.
 */

static ngx_int_t
ngx_http_upstream_latency_get(ngx_peer_connection_t *pc,
    ngx_http_upstream_latency_peer_data_t *lp)
{
    time_t                         now;
    uint64_t                       now_us;
    uintptr_t                      m;
    ngx_int_t                      rc;
    ngx_uint_t                     i, n, index;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *peers;

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
        peer = lp->conf->choose(lp, now, now_us, &index, pc->log);
        if (peer == NULL) {
            goto failed;
        }

        n = index / (8 * sizeof(uintptr_t));
        m = (uintptr_t) 1 << index % (8 * sizeof(uintptr_t));

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

#if (nginx_version >= 1027003)
    /* as round robin's get: its free drops the reference */
    ngx_http_upstream_rr_peer_ref(peers, peer);
#endif

    ngx_http_upstream_rr_peer_unlock(peers, peer);

    lp->rrp.current = peer;
    lp->rrp.tried[n] |= m;

    ngx_http_upstream_rr_peers_unlock(peers);

    ngx_http_upstream_latency_start(lp, index, now_us);

    return NGX_OK;

failed:

    if (peers->next) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "get latency peer, backup servers");

        lp->rrp.peers = peers->next;
        lp->base += peers->number;
        lp->list = 1;

        n = (lp->rrp.peers->number + (8 * sizeof(uintptr_t) - 1))
                / (8 * sizeof(uintptr_t));

        for (i = 0; i < n; i++) {
            lp->rrp.tried[i] = 0;
        }

        ngx_http_upstream_rr_peers_unlock(peers);

        rc = ngx_http_upstream_latency_get(pc, lp);

        if (rc != NGX_BUSY) {
            return rc;
        }

        ngx_http_upstream_rr_peers_rlock(peers);
    }

    ngx_http_upstream_rr_peers_unlock(peers);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "get latency peer, no peer found");

    pc->name = peers->name;

    return NGX_BUSY;
}


/* The status counters of one attempt; status 0: no response header. */

static void
ngx_http_upstream_latency_count(upstream_latency::PeerCounters &counters,
    ngx_uint_t state, ngx_uint_t status, uint64_t complete_us)
{
    if (state & NGX_PEER_FAILED) {
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


/*
 * Records the attempt that ends now.  A failure or a 5xx response counts
 * as slow (see failure_sample_us); an attempt cut short only shows that the
 * peer took at least this long.  nginx's own times have whole milliseconds:
 * the total comes from the monotonic clock, and the header time is the
 * total less nginx's time for the body.
 */

static void
ngx_http_upstream_latency_record(ngx_http_upstream_latency_peer_data_t *lp,
    ngx_peer_connection_t *pc, ngx_uint_t state, uint64_t now_us) noexcept
{
    uint64_t                     elapsed, body, header, response;
    ngx_flag_t                   received, complete;
    SampleKind                   header_kind, response_kind;
    ngx_http_upstream_t         *u;
    ngx_http_upstream_state_t   *us;
    upstream_latency::Decay      decay;

    u = lp->request->upstream;
    us = u->state;
    decay = lp->conf->options.decay;

    elapsed = now_us > lp->start_us ? now_us - lp->start_us : 0;

    received = us != NULL && us->header_time != (ngx_msec_t) -1;
    complete = received && state == 0
               && us->response_time != (ngx_msec_t) -1
               && !lp->request->connection->error;

    /* a keepalive connection the peer had closed says nothing of it */

    if ((state & NGX_PEER_FAILED) && !received && pc->cached) {
        header = elapsed;
        response = elapsed;
        header_kind = SampleKind::lower_bound;
        response_kind = SampleKind::lower_bound;

    } else if ((state & NGX_PEER_FAILED)
               || (received
                   && u->headers_in.status_n
                      >= NGX_HTTP_INTERNAL_SERVER_ERROR))
    {
        header = upstream_latency::failure_sample_us(elapsed,
                                         lp->rrp.current->fail_timeout);
        response = header;
        header_kind = SampleKind::lower_bound;
        response_kind = SampleKind::lower_bound;

    } else {
        header = elapsed;

        if (complete && us->response_time >= us->header_time) {
            body = (uint64_t) (us->response_time - us->header_time) * 1000;
            header = body < elapsed ? elapsed - body : 0;
        }

        response = elapsed;
        header_kind = received ? SampleKind::exact : SampleKind::lower_bound;
        response_kind = complete ? SampleKind::exact
                                 : SampleKind::lower_bound;
    }

    PeakEwma::record(lp->slot->header_time, header, header_kind, now_us,
                     decay);
    PeakEwma::record(lp->slot->response_time, response, response_kind,
                     now_us, decay);

    ngx_http_upstream_latency_count(lp->slot->counters, state, received
                                    ? u->headers_in.status_n : 0,
                                    complete ? response : 0);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, lp->request->connection->log, 0,
                   "upstream latency sample: header %uLus%s, "
                   "response %uLus%s", header,
                   header_kind == SampleKind::exact ? "" : " or more",
                   response,
                   response_kind == SampleKind::exact ? "" : " or more");
}


extern "C" {

/* Per-request peer data: round robin's, extended. */

static ngx_int_t
ngx_http_upstream_init_latency_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us) noexcept
{
    ngx_http_upstream_latency_srv_conf_t   *lcf;
    ngx_http_upstream_latency_peer_data_t  *lp;

    lcf = (ngx_http_upstream_latency_srv_conf_t *)
              ngx_http_conf_upstream_srv_conf(us,
                                      ngx_http_upstream_latency_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "init %s peer", lcf->name);

    lp = (ngx_http_upstream_latency_peer_data_t *)
             ngx_palloc(r->pool,
                        sizeof(ngx_http_upstream_latency_peer_data_t));
    if (lp == NULL) {
        return NGX_ERROR;
    }

    r->upstream->peer.data = &lp->rrp;

    if (ngx_http_upstream_init_round_robin_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    r->upstream->peer.get = ngx_http_upstream_get_latency_peer;
    r->upstream->peer.free = ngx_http_upstream_free_latency_peer;

    lp->conf = lcf;
    lp->request = r;
    lp->base = 0;
    lp->list = 0;
    lp->slot = NULL;
    lp->in_gauge = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_get_latency_peer(ngx_peer_connection_t *pc, void *data)
    noexcept
{
    ngx_http_upstream_latency_peer_data_t *lp =
        (ngx_http_upstream_latency_peer_data_t *) data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "get %s peer, try: %ui", lp->conf->name, pc->tries);

    return ngx_http_upstream_latency_get(pc, lp);
}


static void
ngx_http_upstream_free_latency_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state) noexcept
{
    ngx_http_upstream_latency_peer_data_t *lp =
        (ngx_http_upstream_latency_peer_data_t *) data;

    uint64_t                       now_us;
    PeerSlot                      *slot;
    ngx_http_upstream_rr_peer_t   *peer;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "free latency peer, state: %ui", state);

    slot = lp->slot;
    peer = lp->rrp.current;

    if (slot) {
        now_us = ngx_http_upstream_latency_now_us();

        ngx_http_upstream_latency_record(lp, pc, state, now_us);

        if (lp->in_gauge) {
            upstream_latency::InflightGauge::leave(slot->inflight,
                                                   lp->start_us);
        }

        if (lp->ledger) {
            upstream_latency::InflightGauge::leave(*lp->ledger, lp->start_us);
        }

        lp->slot = NULL;
    }

    ngx_http_upstream_free_round_robin_peer(pc, &lp->rrp, state);

    /*
     * This failure made the peer unavailable: round robin counted it as
     * the max_fails-th (a racy read with a zone: it only feeds the status).
     */

    if (slot && (state & NGX_PEER_FAILED) && !lp->rrp.peers->single
        && peer->max_fails && peer->fails == peer->max_fails)
    {
        slot->counters.unavail.fetch_add(1, std::memory_order_relaxed);
    }
}

}
