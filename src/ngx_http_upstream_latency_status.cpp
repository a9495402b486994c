/*
 * upstream_latency_status: what the balancer sees, as JSON, Prometheus text
 * or a live page, read from the shared latency table without taking any
 * lock the request path takes.
 */

#include "ngx_http_upstream_latency.hpp"

#include "ngx_upstream_latency_status.hpp"

#include "core/status_page.hpp"

#include <string>


using upstream_latency::PeerState;
using upstream_latency::PeerStatus;
using upstream_latency::StatusReport;
using upstream_latency::UpstreamStatus;


#define NGX_HTTP_UPSTREAM_LATENCY_VERSION  "0.1.0"
#define NGX_STREAM_LATENCY_ZONE            "stream_upstream_latency"


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


/*
 * The stream block's upstreams, when the stream module of the balancer is
 * loaded and balances some: found by the module's name, and its zone by
 * name and tag, so that this module does not need the stream modules.
 */

static ngx_upstream_latency_main_conf_t *
ngx_http_upstream_latency_stream_conf(ngx_cycle_t *cycle)
{
    ngx_uint_t       i;
    ngx_shm_zone_t  *zone;

    static ngx_str_t  name = ngx_string(NGX_STREAM_LATENCY_ZONE);

    zone = ngx_upstream_latency_shm_zone(cycle, &name);

    if (zone == NULL) {
        return NULL;
    }

    for (i = 0; i < cycle->modules_n; i++) {
        if (zone->tag == cycle->modules[i]
            && ngx_strcmp(cycle->modules[i]->name,
                          "ngx_stream_upstream_latency_module")
               == 0)
        {
            return (ngx_upstream_latency_main_conf_t *) zone->data;
        }
    }

    return NULL;
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
    time_t                              now;
    ngx_time_t                         *tp;
    std::string                         body;
    StatusReport                        report;
    std::deque<std::string>             texts;
    upstream_latency::LatencyTable     *table;
    ngx_http_upstream_main_conf_t      *umcf;
    ngx_upstream_latency_main_conf_t   *lmcf, *stream;

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
    report.used = table ? table->used() + table->resolved() : 0;

    ngx_upstream_latency_collect<ngx_http_upstream_latency_p>(
        &umcf->upstreams, table, report.upstreams, texts, only, now,
        report.now_us);

    stream = ngx_http_upstream_latency_stream_conf((ngx_cycle_t *) ngx_cycle);

    if (stream && stream->status_build != ngx_upstream_latency_status_build())
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "the stream upstreams are not shown: "
                      "ngx_stream_upstream_latency_module is of another "
                      "build than ngx_http_upstream_latency_module");

    } else if (stream && stream->status) {
        stream->status(stream, report.stream.emplace(), texts, only, now,
                       report.now_us);
    }

    if (only->len && report.upstreams.empty()
        && (!report.stream || report.stream->upstreams.empty()))
    {
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

    /* the name as written in the configuration: "a%20b" is "a b" */

    if (ngx_strlchr(only.data, only.data + only.len, '%')) {
        u_char  *src, *dst;

        src = only.data;
        dst = (u_char *) ngx_pnalloc(r->pool, only.len);
        if (dst == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        only.data = dst;
        ngx_unescape_uri(&dst, &src, only.len, 0);
        only.len = dst - only.data;
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
