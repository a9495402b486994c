/*
 * upstream_latency_status: what the balancer sees, as JSON, Prometheus text
 * or a live page, read from the shared latency table without taking any
 * lock the request path takes.
 */

#include "ngx_http_upstream_latency.hpp"

#include "core/status.hpp"
#include "core/status_page.hpp"

#include <string>


using upstream_latency::PeerState;
using upstream_latency::PeerStatus;
using upstream_latency::StatusReport;
using upstream_latency::UpstreamStatus;


#define NGX_HTTP_UPSTREAM_LATENCY_VERSION  "0.1.0"


extern "C" {

static ngx_int_t ngx_http_upstream_latency_status_handler(
    ngx_http_request_t *r) noexcept;

}


char *
ngx_http_upstream_latency_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf) noexcept
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = (ngx_http_core_loc_conf_t *)
               ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_upstream_latency_status_handler) {
        return (char *) "is duplicate";
    }

    clcf->handler = ngx_http_upstream_latency_status_handler;

    return NGX_CONF_OK;
}


static std::string
ngx_http_upstream_latency_method(ngx_http_upstream_srv_conf_t *uscf,
    ngx_http_upstream_latency_srv_conf_t *lcf)
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

    method += lcf->options.metric == upstream_latency::Metric::header
              ? "header" : "last_byte";

    if (lcf->options.inflight) {
        method += " inflight";
    }

    return method;
}


/*
 * The peers of an upstream of the module, from round robin's lists; read
 * without the locks of a zone, as plain words: a status may be a moment
 * behind, never in the way.
 */

static void
ngx_http_upstream_latency_balanced_peers(UpstreamStatus &u,
    ngx_http_upstream_srv_conf_t *uscf,
    ngx_http_upstream_latency_srv_conf_t *lcf, time_t now, uint64_t now_us)
{
    uint32_t                       id, index;
    PeerState                      state;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *list;

    id = 0;

    for (list = (ngx_http_upstream_rr_peers_t *) uscf->peer.data;
         list;
         list = list->next)
    {
        for (peer = list->peer; peer; peer = peer->next, id++) {

            if (peer->down) {
                state = PeerState::down;

            } else if (peer->max_fails && peer->fails >= peer->max_fails
                       && now - peer->checked <= peer->fail_timeout)
            {
                state = PeerState::unavail;

            } else {
                state = PeerState::up;
            }

            index = lcf->first_slot + id;

            u.peers.push_back({id,
                               {(char *) peer->name.data, peer->name.len},
                               {(char *) peer->server.data, peer->server.len},
                               list != uscf->peer.data,
                               (uint32_t) peer->weight, state,
                               &lcf->main->table->slot(index),
                               lcf->main->table->inflight(index, now_us)
                                   .active});
        }
    }
}


/* The servers of an upstream of another method, from its configuration. */

static void
ngx_http_upstream_latency_configured_peers(UpstreamStatus &u,
    ngx_http_upstream_srv_conf_t *uscf)
{
    uint32_t                     id;
    ngx_uint_t                   i, j;
    ngx_http_upstream_server_t  *server;

    if (uscf->servers == NULL) {
        return;
    }

    server = (ngx_http_upstream_server_t *) uscf->servers->elts;
    id = 0;

    for (i = 0; i < uscf->servers->nelts; i++) {
        for (j = 0; j < server[i].naddrs; j++, id++) {
            u.peers.push_back({id,
                               {(char *) server[i].addrs[j].name.data,
                                server[i].addrs[j].name.len},
                               {(char *) server[i].name.data,
                                server[i].name.len},
                               server[i].backup != 0,
                               (uint32_t) server[i].weight,
                               server[i].down ? PeerState::down
                                              : PeerState::up,
                               nullptr, 0});
        }
    }
}


static ngx_int_t
ngx_http_upstream_latency_reply(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, len ? len : 1);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, body, len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_upstream_latency_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const std::string &reason)
{
    return ngx_http_upstream_latency_reply(r, status,
                                           "text/plain; charset=utf-8",
                                           reason.data(), reason.size());
}


/* Builds and renders the report; may throw std::bad_alloc. */

static ngx_int_t
ngx_http_upstream_latency_report(ngx_http_request_t *r, ngx_flag_t json,
    ngx_str_t *only)
{
    time_t                                  now;
    ngx_uint_t                              i;
    ngx_time_t                             *tp;
    std::string                             body;
    StatusReport                            report;
    upstream_latency::LatencyTable         *table;
    ngx_http_upstream_srv_conf_t          **uscfp;
    ngx_http_upstream_main_conf_t          *umcf;
    ngx_http_upstream_latency_srv_conf_t   *lcf;
    ngx_upstream_latency_main_conf_t  *lmcf;

    std::vector<std::string>  methods;

    umcf = (ngx_http_upstream_main_conf_t *)
               ngx_http_get_module_main_conf(r, ngx_http_upstream_module);
    lmcf = (ngx_upstream_latency_main_conf_t *)
               ngx_http_get_module_main_conf(r,
                                      ngx_http_upstream_latency_module);

    tp = ngx_timeofday();
    now = tp->sec;
    table = lmcf->table;

    report.server_version = NGINX_VERSION;
    report.module_version = NGX_HTTP_UPSTREAM_LATENCY_VERSION;
    report.now_ms = (uint64_t) tp->sec * 1000 + tp->msec;
    report.now_us = ngx_upstream_latency_now_us();
    report.zone = "upstream_latency";
    report.zone_size = lmcf->zone_bytes;
    report.slots = table ? table->capacity() : 0;
    report.used = table ? table->used() : 0;

    uscfp = (ngx_http_upstream_srv_conf_t **) umcf->upstreams.elts;
    methods.reserve(umcf->upstreams.nelts);

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        if (uscfp[i]->srv_conf == NULL
            || (only->len && (only->len != uscfp[i]->host.len
                              || ngx_strncmp(only->data, uscfp[i]->host.data,
                                             only->len) != 0)))
        {
            continue;
        }

        lcf = (ngx_http_upstream_latency_srv_conf_t *)
                  uscfp[i]->srv_conf[ngx_http_upstream_latency_module
                                     .ctx_index];

        methods.push_back(ngx_http_upstream_latency_method(uscfp[i], lcf));

        UpstreamStatus &u = report.upstreams.emplace_back();
        u.name = {(char *) uscfp[i]->host.data, uscfp[i]->host.len};
        u.method = methods.back();
        u.decay = lcf->options.decay;

        if (lcf->initialized && table) {
            ngx_http_upstream_latency_balanced_peers(u, uscfp[i], lcf, now,
                                                     report.now_us);

        } else {
            ngx_http_upstream_latency_configured_peers(u, uscfp[i]);
        }
    }

    if (only->len && report.upstreams.empty()) {
        return ngx_http_upstream_latency_refuse(r, NGX_HTTP_NOT_FOUND,
                   "unknown upstream \""
                   + std::string((char *) only->data, only->len) + "\"\n");
    }

    body = json ? upstream_latency::render_json(report)
                : upstream_latency::render_prometheus(report);

    return ngx_http_upstream_latency_reply(r, NGX_HTTP_OK,
               json ? "application/json"
                    : "text/plain; version=0.0.4; charset=utf-8",
               body.data(), body.size());
}


extern "C" {

static ngx_int_t
ngx_http_upstream_latency_status_handler(ngx_http_request_t *r) noexcept
{
    ngx_int_t  rc;
    ngx_str_t  format, only;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) != NGX_OK) {
        ngx_str_set(&format, "json");
    }

    if (ngx_http_arg(r, (u_char *) "upstream", 8, &only) != NGX_OK) {
        ngx_str_null(&only);
    }

    try {
        if (format.len == 4 && ngx_strncmp(format.data, "html", 4) == 0) {
            return ngx_http_upstream_latency_reply(r, NGX_HTTP_OK,
                       "text/html; charset=utf-8",
                       upstream_latency::kStatusPage,
                       sizeof(upstream_latency::kStatusPage) - 1);
        }

        if (format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0) {
            return ngx_http_upstream_latency_report(r, 1, &only);
        }

        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            return ngx_http_upstream_latency_report(r, 0, &only);
        }

        return ngx_http_upstream_latency_refuse(r, NGX_HTTP_BAD_REQUEST,
                   "unknown format \""
                   + std::string((char *) format.data, format.len)
                   + "\"; use json, prometheus or html\n");

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upstream latency status: %s", e.what());
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

}
