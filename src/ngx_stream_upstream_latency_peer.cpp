/*
 * The stream side of measuring: per-session peer data, the connection to
 * the server stamped when nginx reports it (peer.notify), the first byte
 * from the server stamped on its way to the client (a stream filter), and
 * each session classified when nginx releases the peer.
 */

#include "ngx_stream_upstream_latency.hpp"


using upstream_latency::PeakEwma;
using upstream_latency::PeerSlot;
using upstream_latency::SampleKind;


typedef ngx_stream_upstream_latency_p  P;


extern "C" {

static ngx_int_t ngx_stream_upstream_get_latency_peer(
    ngx_peer_connection_t *pc, void *data) noexcept;
static void ngx_stream_upstream_free_latency_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state) noexcept;
static void ngx_stream_upstream_notify_latency_peer(
    ngx_peer_connection_t *pc, void *data, ngx_uint_t type) noexcept;
static ngx_int_t ngx_stream_upstream_latency_filter(ngx_stream_session_t *s,
    ngx_chain_t *in, ngx_uint_t from_upstream) noexcept;

}


static ngx_stream_filter_pt  ngx_stream_upstream_latency_next_filter;


void
ngx_stream_upstream_latency_init_filter() noexcept
{
    ngx_stream_upstream_latency_next_filter = ngx_stream_top_filter;
    ngx_stream_top_filter = ngx_stream_upstream_latency_filter;
}


/* The session's peer handlers, and the context of the first byte filter. */

void
ngx_stream_upstream_latency_proto_t::attach(ngx_stream_session_t *s,
    ngx_stream_upstream_latency_peer_data_t *lp) noexcept
{
    s->upstream->peer.get = ngx_stream_upstream_get_latency_peer;
    s->upstream->peer.free = ngx_stream_upstream_free_latency_peer;
    s->upstream->peer.notify = ngx_stream_upstream_notify_latency_peer;

    ngx_stream_set_ctx(s, lp, ngx_stream_upstream_latency_module);
}


static ngx_flag_t
ngx_stream_upstream_latency_has_data(ngx_chain_t *in)
{
    for ( /* void */ ; in; in = in->next) {
        if (ngx_buf_size(in->buf) > 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * Whether a session the server has not answered failed on the server's
 * side: it reset the connection, or closed it while the client still
 * spoke (with proxy_half_close, a server may close once the client has
 * said all it had to).  A server silent until proxy_timeout has not: over
 * TCP nginx cannot tell a hung server from one whose protocol never
 * answers (syslog, metrics), and ends the session as if well.
 */

static ngx_flag_t
ngx_stream_upstream_latency_server_failed(ngx_connection_t *c,
    ngx_connection_t *pc)
{
    if (pc->read->error || pc->read->timedout) {
        return 1;
    }

    return pc->read->eof && !c->read->eof;
}


/*
 * Records the session that ends now.  A failed connection, and a session
 * that failed on the server's side before it sent a byte, count as slow
 * for every metric; a session cut short on the client's side before the
 * server answered only shows that it took at least this long.  An
 * answered session's end is its last byte, however it ended: a stream has
 * no framing to tell a broken answer from a whole one.
 */

static void
ngx_stream_upstream_latency_record(ngx_stream_upstream_latency_peer_data_t *lp,
    ngx_peer_connection_t *pc, ngx_uint_t state, uint64_t now_us) noexcept
{
    uint64_t                  elapsed;
    ngx_flag_t                failed, complete;
    upstream_latency::Decay   decay;

    failed = (state & NGX_PEER_FAILED)
             || (!lp->answered && pc->connection
                 && ngx_stream_upstream_latency_server_failed(
                        lp->session->connection, pc->connection));

    complete = !failed && lp->answered;

    elapsed = now_us > lp->start_us ? now_us - lp->start_us : 0;
    decay = ngx_upstream_latency_decay(lp->conf, now_us);

    if (failed) {
        PeakEwma::record(lp->slot->connect_time,
                         upstream_latency::failure_sample_us(elapsed,
                                            lp->rrp.current->fail_timeout),
                         SampleKind::lower_bound, now_us, decay);

    } else if (!lp->connected) {
        ngx_upstream_latency_measure(lp, lp->slot->connect_time, elapsed,
                                     SampleKind::lower_bound, now_us, decay);
    }

    ngx_upstream_latency_record(lp, failed, complete, now_us,
                                lp->session->connection->log);

    ngx_upstream_latency_count(lp->slot->counters, failed, 0,
                               complete ? elapsed : 0);

    if (pc->connection) {
        lp->slot->counters.sent().fetch_add(pc->connection->sent,
                                            std::memory_order_relaxed);
        lp->slot->counters.received().fetch_add(
            lp->session->upstream->received, std::memory_order_relaxed);
    }
}


extern "C" {

static ngx_int_t
ngx_stream_upstream_get_latency_peer(ngx_peer_connection_t *pc, void *data)
    noexcept
{
    ngx_stream_upstream_latency_peer_data_t *lp =
        (ngx_stream_upstream_latency_peer_data_t *) data;

    ngx_log_debug2(NGX_LOG_DEBUG_STREAM, pc->log, 0,
                   "get %s peer, try: %ui", lp->conf->name, pc->tries);

    return ngx_upstream_latency_get(pc, lp);
}


/* The connection to the server is established (after TLS, with it). */

static void
ngx_stream_upstream_notify_latency_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t type) noexcept
{
    ngx_stream_upstream_latency_peer_data_t *lp =
        (ngx_stream_upstream_latency_peer_data_t *) data;

    uint64_t  now_us, connect;

    if (type != NGX_STREAM_UPSTREAM_NOTIFY_CONNECT
        || lp->slot == NULL || lp->connected
        || !ngx_upstream_latency_table_live(lp))
    {
        return;
    }

    now_us = ngx_upstream_latency_now_us();
    connect = now_us > lp->start_us ? now_us - lp->start_us : 0;

    lp->connected = 1;

    ngx_upstream_latency_measure(lp, lp->slot->connect_time, connect,
                                 SampleKind::exact, now_us,
                                 ngx_upstream_latency_decay(lp->conf,
                                                            now_us));

    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, pc->log, 0,
                   "upstream latency sample: connect %uLus", connect);
}


/*
 * Stamps the first byte from the server of a session in progress, when
 * nginx passes it on to the client; first in the chain, so that the time
 * is taken before any other filter runs.
 */

static ngx_int_t
ngx_stream_upstream_latency_filter(ngx_stream_session_t *s, ngx_chain_t *in,
    ngx_uint_t from_upstream) noexcept
{
    uint64_t                                  now_us;
    ngx_stream_upstream_latency_peer_data_t  *lp;

    if (from_upstream) {
        lp = (ngx_stream_upstream_latency_peer_data_t *)
                 ngx_stream_get_module_ctx(s,
                                      ngx_stream_upstream_latency_module);

        if (lp && lp->slot && !lp->answered
            && ngx_stream_upstream_latency_has_data(in)
            && ngx_upstream_latency_table_live(lp))
        {
            now_us = ngx_upstream_latency_now_us();

            ngx_upstream_latency_answer(lp, now_us);

            ngx_upstream_latency_measure(lp, lp->slot->header_time,
                                         lp->header_us, SampleKind::exact,
                                         now_us,
                                         ngx_upstream_latency_decay(lp->conf,
                                                                    now_us));

            ngx_log_debug1(NGX_LOG_DEBUG_STREAM, s->connection->log, 0,
                           "upstream latency sample: first byte %uLus",
                           lp->header_us);
        }
    }

    return ngx_stream_upstream_latency_next_filter(s, in, from_upstream);
}


static void
ngx_stream_upstream_free_latency_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state) noexcept
{
    ngx_stream_upstream_latency_peer_data_t *lp =
        (ngx_stream_upstream_latency_peer_data_t *) data;

    PeerSlot                         *slot;
    ngx_flag_t                        failed;
    ngx_stream_upstream_rr_peer_t    *peer;
    ngx_upstream_latency_failure_t    failure;

    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, pc->log, 0,
                   "free latency peer, state: %ui", state);

    peer = lp->rrp.current;
    slot = ngx_upstream_latency_table_live(lp) ? lp->slot : NULL;

    if (slot) {
        ngx_stream_upstream_latency_record(lp, pc, state,
                                           ngx_upstream_latency_now_us());
        ngx_upstream_latency_leave(lp);
    }

    lp->slot = NULL;

    /* read before round robin's free, which may free a resolved peer */

    failed = slot && (state & NGX_PEER_FAILED) && !lp->rrp.peers->single;
    failure = ngx_upstream_latency_failure<P>(peer);

    ngx_stream_upstream_free_round_robin_peer(pc, &lp->rrp, state);

    if (failed) {
        ngx_upstream_latency_failed<P>(slot, failure);
    }
}

}
