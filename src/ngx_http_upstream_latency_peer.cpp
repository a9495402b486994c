/*
 * What every balancer of the module shares: the peers' slots in the latency
 * table, per-request peer data, and measuring each attempt when nginx
 * releases the peer.
 */

#include "ngx_http_upstream_latency.hpp"

#include <time.h>


using upstream_latency::InflightCells;
using upstream_latency::LatencyTable;
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
static ngx_int_t ngx_http_upstream_latency_header_filter(
    ngx_http_request_t *r) noexcept;

}


static ngx_http_output_header_filter_pt
    ngx_http_upstream_latency_next_header_filter;


void
ngx_http_upstream_latency_init_header_filter() noexcept
{
    ngx_http_upstream_latency_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_upstream_latency_header_filter;
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


/*
 * Whether the table of the request's configuration is still mapped.  Only
 * without a master process does a reload unmap the previous table while
 * requests of the previous configuration are still running; they then
 * leave it alone, and retries are chosen by round robin.
 */

static ngx_flag_t
ngx_http_upstream_latency_table_live(ngx_http_upstream_latency_peer_data_t *lp)
{
    void  **http;

    if (ngx_process != NGX_PROCESS_SINGLE) {
        return 1;
    }

    http = (void **) ngx_cycle->conf_ctx[ngx_http_module.index];

    return http
           && ((ngx_http_conf_ctx_t *) http)->main_conf[
                  ngx_http_upstream_latency_module.ctx_index]
              == lp->conf->main;
}


/*
 * The attempt to the peer at index of the current list starts now: it is
 * active, and waits for its response header, in this worker's cell.
 */

static void
ngx_http_upstream_latency_start(ngx_http_upstream_latency_peer_data_t *lp,
    ngx_uint_t index, uint64_t now_us)
{
    uint32_t       n;
    ngx_time_t    *tp;
    LatencyTable  *table;

    tp = ngx_timeofday();
    table = lp->conf->main->table;
    n = ngx_http_upstream_latency_slot_index(lp, index);

    lp->slot = &table->slot(n);
    lp->start_us = now_us;
    lp->answered = 0;
    lp->cell = ngx_worker < table->workers() ? &table->cells(n)[ngx_worker]
                                             : NULL;
    lp->waiting = lp->cell && InflightCells::enter(*lp->cell, now_us);

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

    if (!ngx_http_upstream_latency_table_live(lp)) {
        return ngx_http_upstream_get_round_robin_peer(pc, &lp->rrp);
    }

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
    ngx_flag_t failed, ngx_uint_t status, uint64_t complete_us)
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


/* The attempt no longer waits for its response header. */

static void
ngx_http_upstream_latency_stop_waiting(
    ngx_http_upstream_latency_peer_data_t *lp)
{
    if (lp->waiting) {
        InflightCells::answered(*lp->cell, lp->start_us);
        lp->waiting = 0;
    }
}


/* The attempt is over for the table: it no longer counts as in flight. */

static void
ngx_http_upstream_latency_leave(ngx_http_upstream_latency_peer_data_t *lp)
{
    ngx_http_upstream_latency_stop_waiting(lp);

    if (lp->cell) {
        InflightCells::leave(*lp->cell);
    }

    lp->slot = NULL;
}


/*
 * The response header of the attempt has arrived: its time, on the
 * monotonic clock, is the header sample (a 5xx status is a failure,
 * recorded when the attempt ends), and the request no longer waits.  An
 * upgraded connection's response is complete with its header: the tunnel
 * that follows has a lifetime, not a response time.
 */

static void
ngx_http_upstream_latency_answered(ngx_http_upstream_latency_peer_data_t *lp,
    uint64_t now_us)
{
    uint64_t              header;
    ngx_uint_t            status;
    ngx_http_upstream_t  *u;

    u = lp->request->upstream;
    status = u->headers_in.status_n;
    header = now_us > lp->start_us ? now_us - lp->start_us : 0;

    ngx_http_upstream_latency_stop_waiting(lp);

    lp->answered = 1;
    lp->header_us = header;

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return;
    }

    PeakEwma::record(lp->slot->header_time, header, SampleKind::exact,
                     now_us, lp->conf->options.decay);

    if (u->upgrade) {
        PeakEwma::record(lp->slot->response_time, header, SampleKind::exact,
                         now_us, lp->conf->options.decay);
        ngx_http_upstream_latency_count(lp->slot->counters, 0, status,
                                        header);
        ngx_http_upstream_latency_leave(lp);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, lp->request->connection->log, 0,
                       "upstream latency sample: header %uLus, "
                       "response %uLus, upgraded", header, header);
    }
}


/*
 * How the response body of an attempt that nginx finalized ended, by the
 * tests nginx itself makes before finalizing (ngx_http_upstream.c): the
 * whole body, a body the server broke off (closed early, a read error, a
 * timeout, an invalid body), or neither, cut short on the client's side.
 */

typedef enum {
    ngx_http_upstream_latency_body_complete = 0,
    ngx_http_upstream_latency_body_broken,
    ngx_http_upstream_latency_body_cut
} ngx_http_upstream_latency_body_e;


static ngx_http_upstream_latency_body_e
ngx_http_upstream_latency_body(ngx_http_request_t *r, ngx_peer_connection_t *pc)
{
    ngx_event_t          *rev;
    ngx_event_pipe_t     *p;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (r->header_only) {
        return ngx_http_upstream_latency_body_complete;
    }

    p = u->pipe;

    if (u->buffering && p && !r->subrequest_in_memory) {

        if (p->upstream_done || (p->upstream_eof && p->length == -1)) {
            return ngx_http_upstream_latency_body_complete;
        }

        return p->upstream_eof || p->upstream_error
               ? ngx_http_upstream_latency_body_broken
               : ngx_http_upstream_latency_body_cut;
    }

    rev = pc->connection ? pc->connection->read : NULL;

    if (u->length == 0 || (rev && rev->eof && u->length == -1)) {
        return ngx_http_upstream_latency_body_complete;
    }

    return rev && (rev->eof || rev->error || rev->timedout)
           ? ngx_http_upstream_latency_body_broken
           : ngx_http_upstream_latency_body_cut;
}


/*
 * Whether a failed attempt met a cached keepalive connection that the
 * server had closed (as its idle timeout ran out, or it reloaded) before
 * any response: that says nothing of the server, and nginx retries it
 * with a try more.
 */

static ngx_flag_t
ngx_http_upstream_latency_stale(ngx_peer_connection_t *pc, ngx_uint_t state,
    ngx_http_upstream_t *u)
{
    return (state & NGX_PEER_FAILED) && pc->cached
           && (u->state == NULL
               || u->state->header_time == (ngx_msec_t) -1);
}


/*
 * Records the attempt that ends now.  A failure, a 5xx response or a body
 * the server broke off counts as slow (see failure_sample_us); a cached
 * keepalive connection the server had closed, or an attempt cut short on
 * the client's side, only shows that the server took at least this long.
 */

static void
ngx_http_upstream_latency_record(ngx_http_upstream_latency_peer_data_t *lp,
    ngx_peer_connection_t *pc, ngx_uint_t state, uint64_t now_us) noexcept
{
    uint64_t                           elapsed, header, sample, complete;
    ngx_uint_t                         status;
    ngx_flag_t                         failed;
    SampleKind                         kind, header_kind;
    ngx_http_upstream_t               *u;
    upstream_latency::Decay            decay;
    ngx_http_upstream_latency_body_e   body;

    u = lp->request->upstream;
    decay = lp->conf->options.decay;
    status = lp->answered ? u->headers_in.status_n : 0;

    elapsed = now_us > lp->start_us ? now_us - lp->start_us : 0;

    body = state ? ngx_http_upstream_latency_body_cut
                 : ngx_http_upstream_latency_body(lp->request, pc);

    failed = ((state & NGX_PEER_FAILED)
              && !ngx_http_upstream_latency_stale(pc, state, u))
             || status >= NGX_HTTP_INTERNAL_SERVER_ERROR
             || body == ngx_http_upstream_latency_body_broken;

    complete = 0;

    if (failed) {
        sample = upstream_latency::failure_sample_us(elapsed,
                                            lp->rrp.current->fail_timeout);
        kind = SampleKind::lower_bound;
        header = sample;
        header_kind = kind;

    } else {
        sample = elapsed;
        kind = SampleKind::lower_bound;

        if (body == ngx_http_upstream_latency_body_complete) {
            kind = SampleKind::exact;
            complete = elapsed;
        }

        /* an answered attempt's header sample was taken on arrival */

        header = lp->answered ? lp->header_us : elapsed;
        header_kind = lp->answered ? SampleKind::exact
                                   : SampleKind::lower_bound;
    }

    if (failed || !lp->answered) {
        PeakEwma::record(lp->slot->header_time, header, header_kind, now_us,
                         decay);
    }

    PeakEwma::record(lp->slot->response_time, sample, kind, now_us, decay);

    ngx_http_upstream_latency_count(lp->slot->counters, failed, status,
                                    complete);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, lp->request->connection->log, 0,
                   "upstream latency sample: header %uLus%s, "
                   "response %uLus%s",
                   header,
                   header_kind == SampleKind::exact ? "" : " or more",
                   sample, kind == SampleKind::exact ? "" : " or more");
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

    /* for the header filter */
    ngx_http_set_ctx(r, lp, ngx_http_upstream_latency_module);

    return NGX_OK;
}


/*
 * Stamps the arrival of the response header of an attempt in progress,
 * when nginx sends it on; first in the chain, so that the time is taken
 * before any other filter runs.
 */

static ngx_int_t
ngx_http_upstream_latency_header_filter(ngx_http_request_t *r) noexcept
{
    ngx_http_upstream_t                    *u;
    ngx_http_upstream_latency_peer_data_t  *lp;

    lp = (ngx_http_upstream_latency_peer_data_t *)
             ngx_http_get_module_ctx(r, ngx_http_upstream_latency_module);

    u = r->upstream;

    if (lp && lp->slot && !lp->answered && u && lp->request == r
        && u->state && u->state->header_time != (ngx_msec_t) -1
        && ngx_http_upstream_latency_table_live(lp))
    {
        ngx_http_upstream_latency_answered(lp,
                                       ngx_http_upstream_latency_now_us());
    }

    return ngx_http_upstream_latency_next_header_filter(r);
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
    ngx_http_upstream_t           *u;
    ngx_http_upstream_rr_peer_t   *peer;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "free latency peer, state: %ui", state);

    peer = lp->rrp.current;
    slot = ngx_http_upstream_latency_table_live(lp) ? lp->slot : NULL;

    if (slot) {
        now_us = ngx_http_upstream_latency_now_us();
        u = lp->request->upstream;

        /*
         * a header that nginx parsed but did not send on, as with errors
         * intercepted, X-Accel-Redirect or proxy_next_upstream
         */

        if (!lp->answered && u->state
            && u->state->header_time != (ngx_msec_t) -1)
        {
            ngx_http_upstream_latency_answered(lp, now_us);
        }

        /* an upgraded connection ended its attempt with the header */

        if (lp->slot) {
            ngx_http_upstream_latency_record(lp, pc, state, now_us);
            ngx_http_upstream_latency_leave(lp);
        }
    }

    lp->slot = NULL;

    /*
     * Round robin is told of no failure for a closed cached connection, so
     * that max_fails counts servers that fail, not idle connections that
     * close (nginx's own "TODO: inform balancer instead").
     */

    if (ngx_http_upstream_latency_stale(pc, state, lp->request->upstream)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "free latency peer, closed keepalive connection");
        state = NGX_PEER_NEXT;
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
