/*
 * Latency-aware load balancing for nginx upstreams: configuration and the
 * shared latency table.
 */

#include "ngx_http_upstream_latency.hpp"

#include <new>


using upstream_latency::LatencyTable;
using upstream_latency::PeerKey;


extern "C" {

static void *ngx_http_upstream_latency_create_main_conf(ngx_conf_t *cf)
    noexcept;
static void *ngx_http_upstream_latency_create_srv_conf(ngx_conf_t *cf)
    noexcept;
static ngx_int_t ngx_http_upstream_latency_postconfiguration(ngx_conf_t *cf)
    noexcept;
static ngx_int_t ngx_http_upstream_latency_init_zone(ngx_shm_zone_t *shm_zone,
    void *data) noexcept;
static ngx_int_t ngx_http_upstream_latency_init_process(ngx_cycle_t *cycle)
    noexcept;

#if (NGX_HTTP_UPSTREAM_LATENCY_LEAST_TIME)
static char *ngx_http_upstream_least_time(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf) noexcept;
#endif
static char *ngx_http_upstream_weighted_random(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf) noexcept;
static char *ngx_http_upstream_latency_half_life(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf) noexcept;
static char *ngx_http_upstream_latency_zone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf) noexcept;


static ngx_command_t  ngx_http_upstream_latency_commands[] = {

#if (NGX_HTTP_UPSTREAM_LATENCY_LEAST_TIME)
    { ngx_string("least_time"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE12,
      ngx_http_upstream_least_time,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },
#endif

    { ngx_string("weighted_random"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_http_upstream_weighted_random,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upstream_latency_half_life"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_upstream_latency_half_life,
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
      ngx_http_upstream_latency_zone,
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

    ngx_http_upstream_latency_create_srv_conf, /* create server configuration */
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

#define NGX_HTTP_UPSTREAM_LATENCY_MAX_HALF_LIFE  (24 * 3600 * 1000)
#define NGX_HTTP_UPSTREAM_LATENCY_MAX_ZONE       (1024 * 1024 * 1024)


/*
 * The zone is a slab pool holding the table as one allocation of whole
 * pages; these two sizes bound each other conservatively.
 */

static size_t
ngx_http_upstream_latency_zone_size(size_t table_bytes)
{
    size_t  pages;

    pages = (table_bytes + ngx_pagesize - 1) / ngx_pagesize;

    return pages * (ngx_pagesize + 64) + 4 * ngx_pagesize;
}


static size_t
ngx_http_upstream_latency_table_bytes(size_t zone_size)
{
    if (zone_size < 4 * ngx_pagesize) {
        return 0;
    }

    return (zone_size - 4 * ngx_pagesize) / (ngx_pagesize + 64)
           * ngx_pagesize;
}


/* Each process draws from its own generator, seeded apart. */

static void
ngx_http_upstream_latency_seed(ngx_http_upstream_latency_main_conf_t *lmcf)
{
    new (&lmcf->rng) upstream_latency::Rng(
        ngx_http_upstream_latency_now_us() ^ ((uint64_t) ngx_pid << 40)
        ^ ((uint64_t) ngx_random() << 20));
}


/*
 * Worker processes of the configuration, for the rows of in-flight cells:
 * "worker_processes" as parsed so far, at least 1; without it, or when it
 * comes after the "http" block, enough for this machine's processors.
 */

static ngx_uint_t
ngx_http_upstream_latency_workers(ngx_cycle_t *cycle)
{
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ccf->worker_processes == NGX_CONF_UNSET) {
        return ngx_max(ngx_ncpu, 1);
    }

    return ngx_max(ccf->worker_processes, 1);
}


static void *
ngx_http_upstream_latency_create_main_conf(ngx_conf_t *cf) noexcept
{
    ngx_http_upstream_latency_main_conf_t  *lmcf;

    lmcf = (ngx_http_upstream_latency_main_conf_t *)
               ngx_pcalloc(cf->pool,
                           sizeof(ngx_http_upstream_latency_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lmcf->zone_where = { { 0, NULL }, 0 };
     *     lmcf->table = NULL;
     */

    if (ngx_array_init(&lmcf->keys, cf->pool, 16, sizeof(PeerKey))
        != NGX_OK)
    {
        return NULL;
    }

    lmcf->zone_size = NGX_CONF_UNSET_SIZE;
    lmcf->cycle = cf->cycle;

    /* seeded here too: without a master process, a reload starts none */
    ngx_http_upstream_latency_seed(lmcf);

    return lmcf;
}


static void *
ngx_http_upstream_latency_create_srv_conf(ngx_conf_t *cf) noexcept
{
    ngx_http_upstream_latency_srv_conf_t  *lcf;

    lcf = (ngx_http_upstream_latency_srv_conf_t *)
              ngx_pcalloc(cf->pool,
                          sizeof(ngx_http_upstream_latency_srv_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lcf->method = 0;
     *     lcf->initialized = 0;
     *     lcf->first_slot = 0;
     *     lcf->candidates = NULL;
     */

    lcf->main = (ngx_http_upstream_latency_main_conf_t *)
                    ngx_http_conf_get_module_main_conf(cf,
                                      ngx_http_upstream_latency_module);
    lcf->half_life = NGX_CONF_UNSET_MSEC;

    return lcf;
}


static void
ngx_http_upstream_latency_remember(ngx_conf_t *cf,
    ngx_http_upstream_latency_where_t *where)
{
    where->file = cf->conf_file->file.name;
    where->line = cf->conf_file->line;
}


/*
 * Makes method the upstream's balancing method.  nginx's own methods only
 * warn when one replaces another; a second method, or one after keepalive
 * (which wraps the method before it), is an error here.
 */

static char *
ngx_http_upstream_latency_set_method(ngx_conf_t *cf,
    ngx_http_upstream_latency_srv_conf_t *lcf, ngx_uint_t method,
    ngx_http_upstream_init_pt init)
{
    ngx_str_t                     *value;
    ngx_http_upstream_srv_conf_t  *uscf;

    value = (ngx_str_t *) cf->args->elts;

    if (lcf->method == method) {
        return (char *) "is duplicate";
    }

    uscf = (ngx_http_upstream_srv_conf_t *)
               ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" cannot follow another load balancing "
                           "method or \"keepalive\" in upstream \"%V\"; only "
                           "one method is allowed, and it must come before "
                           "\"keepalive\"", &value[0], &uscf->host);
        return (char *) NGX_CONF_ERROR;
    }

    lcf->method = method;
    ngx_http_upstream_latency_remember(cf, &lcf->method_where);

    uscf->peer.init_upstream = init;

    uscf->flags = NGX_HTTP_UPSTREAM_CREATE
                  |NGX_HTTP_UPSTREAM_WEIGHT
                  |NGX_HTTP_UPSTREAM_MAX_CONNS
                  |NGX_HTTP_UPSTREAM_MAX_FAILS
                  |NGX_HTTP_UPSTREAM_FAIL_TIMEOUT
                  |NGX_HTTP_UPSTREAM_DOWN
                  |NGX_HTTP_UPSTREAM_BACKUP;

    return NGX_CONF_OK;
}


#if (NGX_HTTP_UPSTREAM_LATENCY_LEAST_TIME)

static char *
ngx_http_upstream_least_time(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
    noexcept
{
    ngx_http_upstream_latency_srv_conf_t *lcf =
        (ngx_http_upstream_latency_srv_conf_t *) conf;

    ngx_str_t  *value;

    value = (ngx_str_t *) cf->args->elts;

    if (ngx_strcmp(value[1].data, "header") == 0) {
        lcf->options.metric = upstream_latency::Metric::header;

    } else if (ngx_strcmp(value[1].data, "last_byte") == 0) {
        lcf->options.metric = upstream_latency::Metric::last_byte;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of \"least_time\", "
                           "expected \"header\" or \"last_byte\"", &value[1]);
        return (char *) NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strcmp(value[2].data, "inflight") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of \"least_time\", "
                               "expected \"inflight\"", &value[2]);
            return (char *) NGX_CONF_ERROR;
        }

        lcf->options.inflight = true;
    }

    lcf->by_latency = 1;

    return ngx_http_upstream_latency_set_method(cf, lcf,
               NGX_HTTP_UPSTREAM_LATENCY_METHOD_LEAST_TIME,
               ngx_http_upstream_init_least_time);
}

#endif


static char *
ngx_http_upstream_weighted_random(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf) noexcept
{
    ngx_http_upstream_latency_srv_conf_t *lcf =
        (ngx_http_upstream_latency_srv_conf_t *) conf;

    ngx_str_t  *value;

    value = (ngx_str_t *) cf->args->elts;

    if (cf->args->nelts > 1) {
        if (ngx_strcmp(value[1].data, "two") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of "
                               "\"weighted_random\", expected \"two\"",
                               &value[1]);
            return (char *) NGX_CONF_ERROR;
        }

        lcf->two = 1;
    }

    if (cf->args->nelts > 2) {
        if (ngx_strcmp(value[2].data, "least_time=header") == 0) {
            lcf->by_latency = 1;
            lcf->options.metric = upstream_latency::Metric::header;

        } else if (ngx_strcmp(value[2].data, "least_time=last_byte") == 0) {
            lcf->by_latency = 1;
            lcf->options.metric = upstream_latency::Metric::last_byte;

        } else if (ngx_strcmp(value[2].data, "least_conn") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of "
                               "\"weighted_random two\", expected "
                               "\"least_conn\", \"least_time=header\" or "
                               "\"least_time=last_byte\"", &value[2]);
            return (char *) NGX_CONF_ERROR;
        }
    }

    return ngx_http_upstream_latency_set_method(cf, lcf,
               NGX_HTTP_UPSTREAM_LATENCY_METHOD_WEIGHTED_RANDOM,
               ngx_http_upstream_init_weighted_random);
}


static char *
ngx_http_upstream_latency_half_life(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf) noexcept
{
    ngx_http_upstream_latency_srv_conf_t *lcf =
        (ngx_http_upstream_latency_srv_conf_t *) conf;

    ngx_str_t   *value;
    ngx_msec_t   half_life;

    if (lcf->half_life != NGX_CONF_UNSET_MSEC) {
        return (char *) "is duplicate";
    }

    value = (ngx_str_t *) cf->args->elts;

    half_life = ngx_parse_time(&value[1], 0);

    if (half_life == (ngx_msec_t) NGX_ERROR
        || half_life == 0
        || half_life > NGX_HTTP_UPSTREAM_LATENCY_MAX_HALF_LIFE)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of "
                           "\"upstream_latency_half_life\", expected a time "
                           "from 1ms to 24h", &value[1]);
        return (char *) NGX_CONF_ERROR;
    }

    lcf->half_life = half_life;
    ngx_http_upstream_latency_remember(cf, &lcf->half_life_where);

    return NGX_CONF_OK;
}


static char *
ngx_http_upstream_latency_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf) noexcept
{
    ngx_http_upstream_latency_main_conf_t *lmcf =
        (ngx_http_upstream_latency_main_conf_t *) conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (lmcf->zone_size != NGX_CONF_UNSET_SIZE) {
        return (char *) "is duplicate";
    }

    value = (ngx_str_t *) cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR
        || (size_t) size < 8 * ngx_pagesize
        || size > NGX_HTTP_UPSTREAM_LATENCY_MAX_ZONE)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid size \"%V\" of \"upstream_latency_zone\", "
                           "expected %uzk to %uzm",
                           &value[1], 8 * ngx_pagesize / 1024,
                           (size_t) NGX_HTTP_UPSTREAM_LATENCY_MAX_ZONE
                               / 1024 / 1024);
        return (char *) NGX_CONF_ERROR;
    }

    lmcf->zone_size = size;
    ngx_http_upstream_latency_remember(cf, &lmcf->zone_where);

    return NGX_CONF_OK;
}


/*
 * Checks what only the whole configuration shows, then sizes the zone.
 * Errors name the line of the directive at fault.
 */

static ngx_int_t
ngx_http_upstream_latency_postconfiguration(ngx_conf_t *cf) noexcept
{
    size_t                                  size, needed;
    ngx_uint_t                              i;
    ngx_shm_zone_t                         *shm_zone;
    ngx_http_upstream_srv_conf_t          **uscfp;
    ngx_http_upstream_main_conf_t          *umcf;
    ngx_http_upstream_latency_srv_conf_t   *lcf;
    ngx_http_upstream_latency_main_conf_t  *lmcf;

    umcf = (ngx_http_upstream_main_conf_t *)
               ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    lmcf = (ngx_http_upstream_latency_main_conf_t *)
               ngx_http_conf_get_module_main_conf(cf,
                                      ngx_http_upstream_latency_module);

    uscfp = (ngx_http_upstream_srv_conf_t **) umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        lcf = (ngx_http_upstream_latency_srv_conf_t *)
                  uscfp[i]->srv_conf[ngx_http_upstream_latency_module
                                     .ctx_index];

        if (lcf->method && !lcf->initialized) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" in upstream \"%V\" was replaced by "
                          "another load balancing method; only one method "
                          "is allowed in %V:%ui",
                          lcf->method
                              == NGX_HTTP_UPSTREAM_LATENCY_METHOD_LEAST_TIME
                          ? "least_time" : "weighted_random",
                          &uscfp[i]->host, &lcf->method_where.file,
                          lcf->method_where.line);
            return NGX_ERROR;
        }

        if (!lcf->method && lcf->half_life != NGX_CONF_UNSET_MSEC) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upstream_latency_half_life\" needs "
                          "\"least_time\" or \"weighted_random\" in the "
                          "same upstream \"%V\" in %V:%ui",
                          &uscfp[i]->host, &lcf->half_life_where.file,
                          lcf->half_life_where.line);
            return NGX_ERROR;
        }
    }

    if (lmcf->keys.nelts == 0) {
        return NGX_OK;
    }

    lmcf->workers = ngx_http_upstream_latency_workers(cf->cycle);
    needed = LatencyTable::bytes_for(lmcf->keys.nelts, lmcf->workers);

    if (lmcf->zone_size == NGX_CONF_UNSET_SIZE) {
        size = ngx_http_upstream_latency_zone_size(needed);

    } else {
        size = lmcf->zone_size;

        if (ngx_http_upstream_latency_table_bytes(size) < needed) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upstream_latency_zone\" of %uzk holds %uz peers, "
                          "but %ui are configured; it needs at least %uzk "
                          "in %V:%ui",
                          size / 1024,
                          LatencyTable::capacity_of(
                              ngx_http_upstream_latency_table_bytes(size),
                              lmcf->workers),
                          lmcf->keys.nelts,
                          ngx_http_upstream_latency_zone_size(needed) / 1024,
                          &lmcf->zone_where.file, lmcf->zone_where.line);
            return NGX_ERROR;
        }
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_upstream_latency_zone_name,
                                     size, &ngx_http_upstream_latency_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_upstream_latency_init_zone;
    shm_zone->data = lmcf;

    /*
     * A new zone for every configuration: the table is rebuilt with the
     * statistics of the previous one, and the old workers keep theirs.
     */
    shm_zone->noreuse = 1;

    ngx_http_upstream_latency_init_header_filter();

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_latency_init_process(ngx_cycle_t *cycle) noexcept
{
    uint64_t                                released;
    ngx_http_upstream_latency_main_conf_t  *lmcf;

    lmcf = (ngx_http_upstream_latency_main_conf_t *)
               ngx_http_cycle_get_module_main_conf(cycle,
                                      ngx_http_upstream_latency_module);
    if (lmcf == NULL) {
        return NGX_OK;
    }

    ngx_http_upstream_latency_seed(lmcf);

    if (lmcf->table == NULL || ngx_process != NGX_PROCESS_WORKER) {
        return NGX_OK;
    }

    /*
     * The master respawns a worker that died with the same worker number:
     * the new one clears what the dead one left in flight in its cells.
     * Each configuration has a table of its own, so the number names one
     * worker of this configuration.
     */

    released = lmcf->table->release(ngx_worker);

    if (released) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "upstream latency: %uL requests in flight of a "
                      "worker process that exited were released",
                      released);
    }

    return NGX_OK;
}


/* The table of the configuration being replaced, if any. */

static const void *
ngx_http_upstream_latency_previous_table(ngx_shm_zone_t *shm_zone,
    size_t *bytes)
{
    u_char           *start, *data;
    ngx_uint_t        i;
    ngx_shm_zone_t   *zone;
    ngx_list_part_t  *part;
    ngx_slab_pool_t  *shpool;

    part = &((ngx_cycle_t *) ngx_cycle)->shared_memory.part;
    zone = (ngx_shm_zone_t *) part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }
            part = part->next;
            zone = (ngx_shm_zone_t *) part->elts;
            i = 0;
        }

        if (zone[i].tag != shm_zone->tag
            || zone[i].shm.addr == shm_zone->shm.addr
            || zone[i].shm.name.len != shm_zone->shm.name.len
            || ngx_strncmp(zone[i].shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len) != 0)
        {
            continue;
        }

        shpool = (ngx_slab_pool_t *) zone[i].shm.addr;
        start = zone[i].shm.addr;
        data = (u_char *) shpool->data;

        if (data <= start || data >= start + zone[i].shm.size) {
            return NULL;
        }

        *bytes = start + zone[i].shm.size - data;
        return data;
    }
}


static ngx_int_t
ngx_http_upstream_latency_init_zone(ngx_shm_zone_t *shm_zone, void *data)
    noexcept
{
    ngx_http_upstream_latency_main_conf_t *lmcf =
        (ngx_http_upstream_latency_main_conf_t *) shm_zone->data;

    void             *mem;
    size_t            bytes, previous_bytes;
    const void       *previous;
    LatencyTable     *table;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        table = const_cast<LatencyTable *>(
                    LatencyTable::attach(shpool->data, shm_zone->shm.size));
        if (table == NULL) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "upstream latency zone \"%V\" has an unknown layout",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        lmcf->table = table;
        lmcf->zone_bytes = shm_zone->shm.size;
        return NGX_OK;
    }

    bytes = ngx_http_upstream_latency_table_bytes(shm_zone->shm.size);

    mem = ngx_slab_alloc(shpool, bytes);
    if (mem == NULL) {
        return NGX_ERROR;
    }

    previous_bytes = 0;
    previous = ngx_http_upstream_latency_previous_table(shm_zone,
                                                        &previous_bytes);

    if (ngx_http_upstream_latency_workers(lmcf->cycle) > lmcf->workers) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "upstream latency zone \"%V\" was sized for %ui "
                      "worker processes; \"worker_processes\" must come "
                      "before the \"http\" block",
                      &shm_zone->shm.name, lmcf->workers);
        return NGX_ERROR;
    }

    try {
        table = LatencyTable::create(mem, bytes,
                                     (const PeerKey *) lmcf->keys.elts,
                                     lmcf->keys.nelts,
                                     (uint32_t) lmcf->workers,
                                     previous, previous_bytes);

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "upstream latency zone \"%V\": %s",
                      &shm_zone->shm.name, e.what());
        return NGX_ERROR;
    }

    if (table == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "upstream latency zone \"%V\" is too small",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "upstream latency zone \"%V\": %ui peers in %uz bytes, "
                  "%ui kept from the previous configuration",
                  &shm_zone->shm.name, (ngx_uint_t) table->used(),
                  shm_zone->shm.size, (ngx_uint_t) table->kept());

    shpool->data = table;
    lmcf->table = table;
    lmcf->zone_bytes = shm_zone->shm.size;

    return NGX_OK;
}

}
