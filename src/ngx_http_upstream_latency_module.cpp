/*
 * Latency-aware load balancing for nginx http upstreams: the directives and
 * the shared latency table of the http block.
 */

#include "ngx_http_upstream_latency.hpp"


typedef ngx_http_upstream_latency_p  P;


extern "C" {

static void *ngx_http_upstream_latency_create_main_conf(ngx_conf_t *cf)
    noexcept;
static ngx_int_t ngx_http_upstream_latency_postconfiguration(ngx_conf_t *cf)
    noexcept;
static ngx_int_t ngx_http_upstream_latency_init_process(ngx_cycle_t *cycle)
    noexcept;


static ngx_command_t  ngx_http_upstream_latency_commands[] = {

#if (NGX_UPSTREAM_LATENCY_LEAST_TIME)
    { ngx_string("least_time"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE12,
      ngx_upstream_least_time<P>,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },
#endif

    { ngx_string("weighted_random"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_upstream_weighted_random<P>,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upstream_latency_half_life"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_upstream_latency_half_life<P>,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upstream_latency_slow_start"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_upstream_latency_slow_start<P>,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upstream_latency_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_upstream_latency_status,
      0,
      0,
      NULL },

    { ngx_string("upstream_latency_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_upstream_latency_zone<P>,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upstream_latency_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_upstream_latency_postconfiguration, /* postconfiguration */

    ngx_http_upstream_latency_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_upstream_latency_create_srv_conf<P>, /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_upstream_latency_module = {
    NGX_MODULE_V1,
    &ngx_http_upstream_latency_module_ctx, /* module context */
    ngx_http_upstream_latency_commands,    /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_upstream_latency_init_process, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_upstream_latency_zone_name =
    ngx_string("upstream_latency");


static void *
ngx_http_upstream_latency_create_main_conf(ngx_conf_t *cf) noexcept
{
    ngx_upstream_latency_main_conf_t  *lmcf;

    lmcf = (ngx_upstream_latency_main_conf_t *)
               ngx_pcalloc(cf->pool, sizeof(ngx_upstream_latency_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_upstream_latency_init_main_conf(cf, lmcf, "http") != NGX_OK) {
        return NULL;
    }

    return lmcf;
}


static ngx_int_t
ngx_http_upstream_latency_postconfiguration(ngx_conf_t *cf) noexcept
{
    return ngx_upstream_latency_postconfiguration<P>(cf,
               &ngx_http_upstream_latency_zone_name,
               &ngx_http_upstream_latency_module,
               ngx_http_upstream_latency_init_header_filter);
}


static ngx_int_t
ngx_http_upstream_latency_init_process(ngx_cycle_t *cycle) noexcept
{
    return ngx_upstream_latency_init_process(cycle, P::main_conf(cycle));
}

}
