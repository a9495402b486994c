/*
 * Latency-aware load balancing for nginx stream (TCP and UDP) upstreams:
 * the directives and the shared latency table of the stream block.
 */

#include "ngx_stream_upstream_latency.hpp"
#include "ngx_upstream_latency_status.hpp"


typedef ngx_stream_upstream_latency_p  P;


extern "C" {

static void *ngx_stream_upstream_latency_create_main_conf(ngx_conf_t *cf)
    noexcept;
static ngx_int_t ngx_stream_upstream_latency_postconfiguration(
    ngx_conf_t *cf) noexcept;
static ngx_int_t ngx_stream_upstream_latency_init_process(ngx_cycle_t *cycle)
    noexcept;


static ngx_command_t  ngx_stream_upstream_latency_commands[] = {

#if (NGX_UPSTREAM_LATENCY_LEAST_TIME)
    { ngx_string("least_time"),
      NGX_STREAM_UPS_CONF|NGX_CONF_TAKE12,
      ngx_upstream_least_time<P>,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },
#endif

    { ngx_string("weighted_random"),
      NGX_STREAM_UPS_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_upstream_weighted_random<P>,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upstream_latency_half_life"),
      NGX_STREAM_UPS_CONF|NGX_CONF_TAKE1,
      ngx_upstream_latency_half_life<P>,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upstream_latency_slow_start"),
      NGX_STREAM_UPS_CONF|NGX_CONF_TAKE1,
      ngx_upstream_latency_slow_start<P>,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upstream_latency_zone"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_upstream_latency_zone<P>,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_upstream_latency_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_stream_upstream_latency_postconfiguration, /* postconfiguration */

    ngx_stream_upstream_latency_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_upstream_latency_create_srv_conf<P>, /* create server configuration */
    NULL                                   /* merge server configuration */
};


ngx_module_t  ngx_stream_upstream_latency_module = {
    NGX_MODULE_V1,
    &ngx_stream_upstream_latency_module_ctx, /* module context */
    ngx_stream_upstream_latency_commands,  /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_stream_upstream_latency_init_process, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* its own zone: an http zone of the same name would be another's */
static ngx_str_t  ngx_stream_upstream_latency_zone_name =
    ngx_string("stream_upstream_latency");


/* For the http module's status: the stream block's upstreams. */

static void
ngx_stream_upstream_latency_status(ngx_upstream_latency_main_conf_t *lmcf,
    upstream_latency::StreamStatus &stream, std::deque<std::string> &texts,
    ngx_str_t *only, time_t now, uint64_t now_us)
{
    ngx_stream_upstream_main_conf_t  *umcf;

    umcf = (ngx_stream_upstream_main_conf_t *)
               ngx_stream_cycle_get_module_main_conf(lmcf->cycle,
                                                 ngx_stream_upstream_module);

    stream.zone = {(char *) ngx_stream_upstream_latency_zone_name.data,
                   ngx_stream_upstream_latency_zone_name.len};
    stream.zone_size = lmcf->zone_bytes;
    stream.slots = lmcf->table ? lmcf->table->capacity() : 0;
    stream.used = lmcf->table
                  ? lmcf->table->used() + lmcf->table->resolved() : 0;

    ngx_upstream_latency_collect<P>(&umcf->upstreams, lmcf->table,
                                    stream.upstreams, texts, only, now,
                                    now_us);
}


static void *
ngx_stream_upstream_latency_create_main_conf(ngx_conf_t *cf) noexcept
{
    ngx_upstream_latency_main_conf_t  *lmcf;

    lmcf = (ngx_upstream_latency_main_conf_t *)
               ngx_pcalloc(cf->pool, sizeof(ngx_upstream_latency_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_upstream_latency_init_main_conf(cf, lmcf, "stream") != NGX_OK) {
        return NULL;
    }

    lmcf->status = ngx_stream_upstream_latency_status;
    lmcf->status_build = ngx_upstream_latency_status_build();

    return lmcf;
}


static ngx_int_t
ngx_stream_upstream_latency_postconfiguration(ngx_conf_t *cf) noexcept
{
    return ngx_upstream_latency_postconfiguration<P>(cf,
               &ngx_stream_upstream_latency_zone_name,
               &ngx_stream_upstream_latency_module,
               ngx_stream_upstream_latency_init_filter);
}


static ngx_int_t
ngx_stream_upstream_latency_init_process(ngx_cycle_t *cycle) noexcept
{
    return ngx_upstream_latency_init_process(cycle, P::main_conf(cycle));
}

}
