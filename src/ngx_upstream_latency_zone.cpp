/*
 * The latency table's zone and the directives' values, for the http and the
 * stream modules alike: nothing here depends on a protocol.
 */

#include "ngx_upstream_latency.hpp"

#include <new>
#include <time.h>


using upstream_latency::LatencyTable;
using upstream_latency::PeerKey;


extern "C" {
static ngx_int_t ngx_upstream_latency_init_zone(ngx_shm_zone_t *shm_zone,
    void *data) noexcept;
}


/*
 * The zone is a slab pool holding the table as one allocation of whole
 * pages; these two sizes bound each other conservatively.
 */

static size_t
ngx_upstream_latency_zone_size(size_t table_bytes)
{
    size_t  pages;

    pages = (table_bytes + ngx_pagesize - 1) / ngx_pagesize;

    return pages * (ngx_pagesize + 64) + 4 * ngx_pagesize;
}


static size_t
ngx_upstream_latency_table_bytes(size_t zone_size)
{
    if (zone_size < 4 * ngx_pagesize) {
        return 0;
    }

    return (zone_size - 4 * ngx_pagesize) / (ngx_pagesize + 64)
           * ngx_pagesize;
}


/* Each process draws from its own generator, seeded apart. */

void
ngx_upstream_latency_seed(ngx_upstream_latency_main_conf_t *lmcf) noexcept
{
    new (&lmcf->rng) upstream_latency::Rng(
        ngx_upstream_latency_now_us() ^ ((uint64_t) ngx_pid << 40)
        ^ ((uint64_t) ngx_random() << 20));
}


/*
 * Worker processes of the configuration, for the rows of in-flight cells:
 * "worker_processes" as parsed so far, at least 1; without it, or when it
 * comes after the "http" or "stream" block, enough for this machine's
 * processors.
 */

static ngx_uint_t
ngx_upstream_latency_workers(ngx_cycle_t *cycle)
{
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ccf->worker_processes == NGX_CONF_UNSET) {
        return ngx_max(ngx_ncpu, 1);
    }

    return ngx_max(ccf->worker_processes, 1);
}


/* lmcf was allocated zeroed: zone_where, table */

ngx_int_t
ngx_upstream_latency_init_main_conf(ngx_conf_t *cf,
    ngx_upstream_latency_main_conf_t *lmcf, const char *block) noexcept
{
    if (ngx_array_init(&lmcf->keys, cf->pool, 16, sizeof(PeerKey))
        != NGX_OK
        || ngx_array_init(&lmcf->down, cf->pool, 16, sizeof(uint8_t))
           != NGX_OK
        || ngx_array_init(&lmcf->upstream_keys, cf->pool, 4, sizeof(PeerKey))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    lmcf->zone_size = NGX_CONF_UNSET_SIZE;
    lmcf->cycle = cf->cycle;
    lmcf->block = block;
    ngx_upstream_latency_remember(cf, &lmcf->block_where);

    /* seeded here too: without a master process, a reload starts none */
    ngx_upstream_latency_seed(lmcf);

    return NGX_OK;
}


void
ngx_upstream_latency_remember(ngx_conf_t *cf,
    ngx_upstream_latency_where_t *where) noexcept
{
    where->file = cf->conf_file->file.name;
    where->line = cf->conf_file->line;
}


/* A directive of the module in an upstream balanced by another method. */

void
ngx_upstream_latency_needs_method(ngx_conf_t *cf, const char *directive,
    ngx_str_t *upstream, ngx_upstream_latency_where_t *where) noexcept
{
    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"%s\" needs \"least_time\" or \"weighted_random\" in "
                  "the same upstream \"%V\" in %V:%ui",
                  directive, upstream, &where->file, where->line);
}


/*
 * Parses the time of a directive (first argument) into *msec, once, in
 * min..max ms; with "off" allowed, "off" is 0.
 */

static char *
ngx_upstream_latency_parse_msec(ngx_conf_t *cf, ngx_msec_t *msec,
    ngx_upstream_latency_where_t *where, ngx_msec_t min, ngx_msec_t max,
    const char *expected) noexcept
{
    ngx_str_t   *value;
    ngx_msec_t   parsed;

    if (*msec != NGX_CONF_UNSET_MSEC) {
        return (char *) "is duplicate";
    }

    value = (ngx_str_t *) cf->args->elts;

    if (min == 0 && ngx_strcmp(value[1].data, "off") == 0) {
        parsed = 0;

    } else {
        parsed = ngx_parse_time(&value[1], 0);
    }

    if (parsed == (ngx_msec_t) NGX_ERROR || parsed < min || parsed > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"%V\", expected %s",
                           &value[1], &value[0], expected);
        return (char *) NGX_CONF_ERROR;
    }

    *msec = parsed;
    ngx_upstream_latency_remember(cf, where);

    return NGX_CONF_OK;
}


char *
ngx_upstream_latency_parse_half_life(ngx_conf_t *cf, ngx_msec_t *half_life,
    ngx_upstream_latency_where_t *where) noexcept
{
    return ngx_upstream_latency_parse_msec(cf, half_life, where, 1,
                                       NGX_UPSTREAM_LATENCY_MAX_HALF_LIFE,
                                       "a time from 1ms to 24h");
}


char *
ngx_upstream_latency_parse_slow_start(ngx_conf_t *cf, ngx_msec_t *slow_start,
    ngx_upstream_latency_where_t *where) noexcept
{
    return ngx_upstream_latency_parse_msec(cf, slow_start, where, 0,
                                       NGX_UPSTREAM_LATENCY_MAX_SLOW_START,
                                       "\"off\" or a time up to 1h");
}


char *
ngx_upstream_latency_parse_zone(ngx_conf_t *cf,
    ngx_upstream_latency_main_conf_t *lmcf) noexcept
{
    ssize_t     size;
    ngx_str_t  *value;

    if (lmcf->zone_size != NGX_CONF_UNSET_SIZE) {
        return (char *) "is duplicate";
    }

    value = (ngx_str_t *) cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR
        || (size_t) size < 8 * ngx_pagesize
        || size > NGX_UPSTREAM_LATENCY_MAX_ZONE)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid size \"%V\" of \"upstream_latency_zone\", "
                           "expected %uzk to %uzm",
                           &value[1], 8 * ngx_pagesize / 1024,
                           (size_t) NGX_UPSTREAM_LATENCY_MAX_ZONE
                               / 1024 / 1024);
        return (char *) NGX_CONF_ERROR;
    }

    lmcf->zone_size = size;
    ngx_upstream_latency_remember(cf, &lmcf->zone_where);

    return NGX_CONF_OK;
}


/* The shared memory zone of a cycle by its name, or NULL. */

ngx_shm_zone_t *
ngx_upstream_latency_shm_zone(ngx_cycle_t *cycle, ngx_str_t *name) noexcept
{
    ngx_uint_t        i;
    ngx_shm_zone_t   *zone;
    ngx_list_part_t  *part;

    part = &cycle->shared_memory.part;
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

        if (name->len == zone[i].shm.name.len
            && ngx_strncmp(name->data, zone[i].shm.name.data, name->len) == 0)
        {
            return &zone[i];
        }
    }
}


/*
 * Sizes the zone for the peers of the configuration and adds it, unless
 * no upstream uses the module.
 */

ngx_int_t
ngx_upstream_latency_add_zone(ngx_conf_t *cf,
    ngx_upstream_latency_main_conf_t *lmcf, ngx_str_t *name, void *tag)
    noexcept
{
    size_t           size, needed;
    ngx_uint_t       reserved;
    ngx_shm_zone_t  *shm_zone;

    reserved = lmcf->resolvable * NGX_UPSTREAM_LATENCY_RESOLVED_SLOTS;

    if (lmcf->keys.nelts + reserved == 0) {
        return NGX_OK;
    }

    lmcf->workers = ngx_upstream_latency_workers(cf->cycle);
    needed = LatencyTable::bytes_for(lmcf->keys.nelts + reserved,
                                     lmcf->workers,
                                     lmcf->upstream_keys.nelts);

    if (lmcf->zone_size == NGX_CONF_UNSET_SIZE) {
        size = ngx_upstream_latency_zone_size(needed);

        if (size > NGX_UPSTREAM_LATENCY_MAX_ZONE) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "the latency table of %ui servers and %ui worker "
                          "processes needs %uzk, more than a zone can have "
                          "(%uzm), for the \"%s\" block in %V:%ui",
                          lmcf->keys.nelts + reserved, lmcf->workers,
                          (size + 1023) / 1024,
                          (size_t) NGX_UPSTREAM_LATENCY_MAX_ZONE / 1024 / 1024,
                          lmcf->block, &lmcf->block_where.file,
                          lmcf->block_where.line);
            return NGX_ERROR;
        }

    } else {
        size = lmcf->zone_size;

        if (ngx_upstream_latency_table_bytes(size) < needed) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upstream_latency_zone\" of %uzk holds %uz peers, "
                          "but %ui are configured%s; it needs at least %uzk "
                          "in %V:%ui",
                          size / 1024,
                          LatencyTable::capacity_of(
                              ngx_upstream_latency_table_bytes(size),
                              lmcf->workers, lmcf->upstream_keys.nelts),
                          lmcf->keys.nelts + reserved,
                          reserved ? " (" ngx_value(
                                         NGX_UPSTREAM_LATENCY_RESOLVED_SLOTS)
                                     " for each server with \"resolve\")"
                                   : "",
                          (ngx_upstream_latency_zone_size(needed) + 1023)
                              / 1024,
                          &lmcf->zone_where.file, lmcf->zone_where.line);
            return NGX_ERROR;
        }
    }

    /* the slots after the configured peers' are for resolved ones */
    lmcf->resolved_slots = LatencyTable::capacity_of(
                               ngx_upstream_latency_table_bytes(size),
                               lmcf->workers, lmcf->upstream_keys.nelts)
                           - lmcf->keys.nelts;

    /* nginx would say "already declared for a different use" at the end */

    shm_zone = ngx_upstream_latency_shm_zone(cf->cycle, name);

    if (shm_zone && shm_zone->tag != tag) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the shared memory zone \"%V\" is the latency "
                      "table's, which the \"%s\" block's upstreams of "
                      "\"least_time\" or \"weighted_random\" need; "
                      "another zone of that name must be renamed, in %V:%ui",
                      name, lmcf->block, &lmcf->block_where.file,
                      lmcf->block_where.line);
        return NGX_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, name, size, tag);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_upstream_latency_init_zone;
    shm_zone->data = lmcf;

    /*
     * A new zone for every configuration: the table is rebuilt with the
     * statistics of the previous one, and the old workers keep theirs.
     */
    shm_zone->noreuse = 1;

    return NGX_OK;
}


ngx_int_t
ngx_upstream_latency_init_process(ngx_cycle_t *cycle,
    ngx_upstream_latency_main_conf_t *lmcf) noexcept
{
    uint64_t  released;

    if (lmcf == NULL) {
        return NGX_OK;
    }

    ngx_upstream_latency_seed(lmcf);

    if (lmcf->table == NULL || ngx_process != NGX_PROCESS_WORKER) {
        return NGX_OK;
    }

    /*
     * The master respawns a worker that died with the same worker number:
     * the new one clears what the dead one left in flight in its cells.
     * Each configuration has a table of its own, so the number names one
     * worker of this configuration, or, after a binary upgrade rolled
     * back, one that still finishes its requests, which the row keeps.
     */

    released = lmcf->table->start_worker(ngx_worker, ngx_pid,
                                         [](int32_t pid) {
                                             return kill(pid, 0) == 0;
                                         });

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
ngx_upstream_latency_previous_table(ngx_shm_zone_t *shm_zone,
    size_t *bytes)
{
    u_char           *start, *data;
    ngx_shm_zone_t   *zone;
    ngx_slab_pool_t  *shpool;

    zone = ngx_upstream_latency_shm_zone((ngx_cycle_t *) ngx_cycle,
                                         &shm_zone->shm.name);

    if (zone == NULL || zone->tag != shm_zone->tag
        || zone->shm.addr == shm_zone->shm.addr)
    {
        return NULL;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    start = zone->shm.addr;
    data = (u_char *) shpool->data;

    if (data <= start || data >= start + zone->shm.size) {
        return NULL;
    }

    *bytes = start + zone->shm.size - data;
    return data;
}


extern "C" {

static ngx_int_t
ngx_upstream_latency_init_zone(ngx_shm_zone_t *shm_zone, void *data)
    noexcept
{
    ngx_upstream_latency_main_conf_t *lmcf =
        (ngx_upstream_latency_main_conf_t *) shm_zone->data;

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

    bytes = ngx_upstream_latency_table_bytes(shm_zone->shm.size);

    mem = ngx_slab_alloc(shpool, bytes);
    if (mem == NULL) {
        return NGX_ERROR;
    }

    previous_bytes = 0;
    previous = ngx_upstream_latency_previous_table(shm_zone,
                                                        &previous_bytes);

    if (ngx_upstream_latency_workers(lmcf->cycle) > lmcf->workers) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "upstream latency zone \"%V\" was sized for %ui "
                      "worker processes; \"worker_processes\" must come "
                      "before the \"%s\" block in %V:%ui",
                      &shm_zone->shm.name, lmcf->workers, lmcf->block,
                      &lmcf->block_where.file, lmcf->block_where.line);
        return NGX_ERROR;
    }

    try {
        table = LatencyTable::create(mem, bytes,
                                     (const PeerKey *) lmcf->keys.elts,
                                     lmcf->keys.nelts,
                                     (uint32_t) lmcf->workers,
                                     previous, previous_bytes,
                                     {ngx_upstream_latency_now_us() / 1000,
                                      (const uint8_t *) lmcf->down.elts},
                                     (const PeerKey *)
                                         lmcf->upstream_keys.elts,
                                     lmcf->upstream_keys.nelts);

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
