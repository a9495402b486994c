/*
 * The http side of measuring: per-request peer data, the response header
 * stamped on arrival by a header filter, and each attempt classified when
 * nginx releases the peer.
 */

#include "ngx_http_upstream_latency.hpp"


using upstream_latency::PeakEwma;
using upstream_latency::PeerSlot;
using upstream_latency::SampleKind;


typedef ngx_http_upstream_latency_p  P;


extern "C" {

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


/*
 * The status the server answered the attempt with.  When nginx sent a
 * cached response instead (a stale one for a 500), headers_in holds the
 * cached one's: the server's is the one its protocol module kept in the
 * attempt's state, the first it parsed (0: none, or a 103 Early Hints
 * before it, whose final status is then unknown).
 */

static ngx_uint_t
ngx_http_upstream_latency_status(ngx_http_request_t *r,
    ngx_http_upstream_t *u)
{
    if (!r->cached) {
        return u->headers_in.status_n;
    }

    return u->state && u->state->status >= NGX_HTTP_OK ? u->state->status : 0;
}


/* A 5xx status: the server failed (nginx passes on any three digits). */

static ngx_flag_t
ngx_http_upstream_latency_server_error(ngx_uint_t status)
{
    return status >= NGX_HTTP_INTERNAL_SERVER_ERROR && status < 600;
}


/*
 * The response header of the attempt has arrived: its time, on the
 * monotonic clock, is the header sample (a 5xx status is a failure,
 * recorded when the attempt ends; an unknown one is no sample), and the
 * request no longer waits.  An upgraded connection's response is complete
 * with its header: the tunnel that follows has a lifetime, not a response
 * time.
 */

[[gnu::always_inline]] static inline void
ngx_http_upstream_latency_answered(ngx_http_upstream_latency_peer_data_t *lp,
    uint64_t now_us)
{
    uint64_t                 header;
    ngx_uint_t               status;
    ngx_http_upstream_t     *u;
    upstream_latency::Decay  decay;

    u = lp->session->upstream;
    status = ngx_http_upstream_latency_status(lp->session, u);

    ngx_upstream_latency_answer(lp, now_us);
    header = lp->header_us;

    if (status == 0 || ngx_http_upstream_latency_server_error(status)) {
        return;
    }

    decay = ngx_upstream_latency_decay(lp->conf, now_us);

    ngx_upstream_latency_measure(lp, lp->slot->header_time, header,
                                 SampleKind::exact, now_us, decay);

    if (u->upgrade) {
        ngx_upstream_latency_measure(lp, lp->slot->response_time, header,
                                     SampleKind::exact, now_us, decay);
        ngx_upstream_latency_count(lp->slot->counters, 0, status, header);
        ngx_upstream_latency_leave(lp);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, lp->session->connection->log, 0,
                       "upstream latency sample: header %uLus, "
                       "response %uLus, upgraded", header, header);
    }
}


/*
 * How the response body of an attempt that nginx finalized ended, by the
 * tests nginx itself makes before finalizing (ngx_http_upstream.c): the
 * whole body, a body the server broke off (closed early, a read error, a
 * timeout, an invalid body), or neither: cut short on the client's side,
 * or never read, as when nginx finalizes with the header (a HEAD's, whose
 * server may have had a body to send, X-Accel-Redirect, intercepted
 * errors) or before it.
 */

typedef enum {
    ngx_http_upstream_latency_body_complete = 0,
    ngx_http_upstream_latency_body_broken,
    ngx_http_upstream_latency_body_cut
} ngx_http_upstream_latency_body_e;


static ngx_http_upstream_latency_body_e
ngx_http_upstream_latency_body(ngx_http_request_t *r, ngx_peer_connection_t *pc)
{
    ngx_uint_t            status;
    ngx_event_t          *rev;
    ngx_event_pipe_t     *p;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    /* nginx read the whole response: the connection can be kept */

    if (u->keepalive) {
        return ngx_http_upstream_latency_body_complete;
    }

    status = ngx_http_upstream_latency_status(r, u);

    if (r->header_only
        && (status == NGX_HTTP_NO_CONTENT || status == NGX_HTTP_NOT_MODIFIED))
    {
        return ngx_http_upstream_latency_body_complete;
    }

    p = u->pipe;

    /* the pipe runs only once the body is relayed, or read for the cache */

    if (u->buffering && p) {

        if (p->upstream_done || (p->upstream_eof && p->length == -1)) {
            return ngx_http_upstream_latency_body_complete;
        }

        return p->upstream_eof || p->upstream_error
               ? ngx_http_upstream_latency_body_broken
               : ngx_http_upstream_latency_body_cut;
    }

    /* unbuffered, u->length counts down only once the header is sent on */

    if (!u->header_sent || r->header_only) {
        return ngx_http_upstream_latency_body_cut;
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
 * server had closed (as its idle timeout ran out, or it reloaded): an
 * error, not a timeout, before a byte of the response.  That says nothing
 * of the server, and nginx retries such an error with a try more.
 */

static ngx_flag_t
ngx_http_upstream_latency_stale(ngx_peer_connection_t *pc, ngx_uint_t state,
    ngx_http_upstream_t *u)
{
    ngx_connection_t  *c;

    c = pc->connection;

    return (state & NGX_PEER_FAILED) && pc->cached
           && c && !c->read->timedout && !c->write->timedout
           && (u->state == NULL || u->state->bytes_received == 0);
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
    uint64_t                           elapsed;
    ngx_uint_t                         status;
    ngx_flag_t                         failed, complete;
    ngx_http_upstream_t               *u;
    ngx_http_upstream_latency_body_e   body;

    u = lp->session->upstream;
    status = lp->answered ? ngx_http_upstream_latency_status(lp->session, u)
                          : 0;

    body = state ? ngx_http_upstream_latency_body_cut
                 : ngx_http_upstream_latency_body(lp->session, pc);

    failed = ((state & NGX_PEER_FAILED)
              && !ngx_http_upstream_latency_stale(pc, state, u))
             || ngx_http_upstream_latency_server_error(status)
             || body == ngx_http_upstream_latency_body_broken;

    complete = !failed && body == ngx_http_upstream_latency_body_complete;
    elapsed = now_us > lp->start_us ? now_us - lp->start_us : 0;

    ngx_upstream_latency_record(lp, failed, complete, now_us,
                                lp->session->connection->log);

    ngx_upstream_latency_count(lp->slot->counters, failed, status,
                               complete ? elapsed : 0);
}


/* The request's peer handlers, and the context of the header filter. */

void
ngx_http_upstream_latency_proto_t::attach(ngx_http_request_t *r,
    ngx_http_upstream_latency_peer_data_t *lp) noexcept
{
    r->upstream->peer.get = ngx_http_upstream_get_latency_peer;
    r->upstream->peer.free = ngx_http_upstream_free_latency_peer;

    ngx_http_set_ctx(r, lp, ngx_http_upstream_latency_module);
}


/*
 * The response header of the request's attempt in progress, if any, is
 * sent on now: stamped, then passed on.  Out of the filter, which every
 * response of the http block passes, so that the filter stays a few
 * instructions; both end in a tail call of the next filter.
 */

[[gnu::noinline]] static ngx_int_t
ngx_http_upstream_latency_header_arrived(ngx_http_request_t *r,
    ngx_http_upstream_latency_peer_data_t *lp) noexcept
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    /*
     * a response sent from the cache instead of the server's (a stale one
     * for an error) is not the attempt's: it is answered when it ends
     */

    if (u && lp->session == r && !r->cached
        && u->state && u->state->header_time != (ngx_msec_t) -1
        && ngx_upstream_latency_table_live(lp))
    {
        ngx_http_upstream_latency_answered(lp, ngx_upstream_latency_now_us());
    }

    return ngx_http_upstream_latency_next_header_filter(r);
}


extern "C" {

/*
 * Stamps the arrival of the response header of an attempt in progress,
 * when nginx sends it on; first in the chain, so that the time is taken
 * before any other filter runs.
 */

static ngx_int_t
ngx_http_upstream_latency_header_filter(ngx_http_request_t *r) noexcept
{
    ngx_http_upstream_latency_peer_data_t  *lp;

    lp = (ngx_http_upstream_latency_peer_data_t *)
             ngx_http_get_module_ctx(r, ngx_http_upstream_latency_module);

    /* the other balancers' requests and answered attempts pass at once */

    if (lp && lp->slot && !lp->answered) {
        return ngx_http_upstream_latency_header_arrived(r, lp);
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

    return ngx_upstream_latency_get(pc, lp);
}


static void
ngx_http_upstream_free_latency_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state) noexcept
{
    ngx_http_upstream_latency_peer_data_t *lp =
        (ngx_http_upstream_latency_peer_data_t *) data;

    uint64_t                         now_us;
    PeerSlot                        *slot;
    ngx_flag_t                       failed;
    ngx_http_upstream_t             *u;
    ngx_http_upstream_rr_peer_t     *peer;
    ngx_upstream_latency_failure_t   failure;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "free latency peer, state: %ui", state);

    peer = lp->rrp.current;
    slot = ngx_upstream_latency_table_live(lp) ? lp->slot : NULL;

    if (slot) {
        now_us = ngx_upstream_latency_now_us();
        u = lp->session->upstream;

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
            ngx_upstream_latency_leave(lp);
        }
    }

    lp->slot = NULL;

    /*
     * Round robin is told of no failure for a closed cached connection, so
     * that max_fails counts servers that fail, not idle connections that
     * close (nginx's own "TODO: inform balancer instead").
     */

    if (ngx_http_upstream_latency_stale(pc, state, lp->session->upstream)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "free latency peer, closed keepalive connection");
        state = NGX_PEER_NEXT;
    }

    /* read before round robin's free, which may free a resolved peer */

    failed = slot && (state & NGX_PEER_FAILED) && !lp->rrp.peers->single;
    failure = ngx_upstream_latency_failure<P>(peer);

    ngx_http_upstream_free_round_robin_peer(pc, &lp->rrp, state);

    if (failed) {
        ngx_upstream_latency_failed<P>(slot, failure);
    }
}

}
