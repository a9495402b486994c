/*
 * The balancers, written once for http and stream upstreams: the peers'
 * slots, choosing a peer (least_time, weighted_random), the start and the
 * end of an attempt in the in-flight cells, and the directives.  Included
 * by each protocol's module, instantiated with its traits P.
 */
#pragma once

#include "ngx_upstream_latency.hpp"


template <class P>
void ngx_upstream_latency_map(ngx_upstream_latency_srv_conf_t<P> *lcf,
    typename P::upstream_t *us, ngx_log_t *log) noexcept;


/*
 * Per-request (http) or per-session (stream) peer data: round robin's,
 * extended, with the protocol's peer handlers.
 */

template <class P>
ngx_int_t
ngx_upstream_latency_init_peer(typename P::session_t *s,
    typename P::upstream_t *us) noexcept
{
    ngx_upstream_latency_srv_conf_t<P>   *lcf;
    ngx_upstream_latency_peer_data_t<P>  *lp;

    lcf = P::conf(us);

    ngx_log_debug1(P::log_debug, s->connection->log, 0,
                   "init %s peer", lcf->name);

    lp = (ngx_upstream_latency_peer_data_t<P> *)
             ngx_palloc(P::pool(s),
                        sizeof(ngx_upstream_latency_peer_data_t<P>));
    if (lp == NULL) {
        return NGX_ERROR;
    }

    s->upstream->peer.data = &lp->rrp;

    /* the slots of peers nginx resolved since the last request */
    if (lcf->resolvable) {
        ngx_upstream_latency_map<P>(lcf, us, s->connection->log);
    }

    if (P::init_round_robin_peer(s, us) != NGX_OK) {
        return NGX_ERROR;
    }

    lp->conf = lcf;
    lp->session = s;
    lp->base = 0;
    lp->list = 0;
    lp->slot = NULL;

    P::attach(s, lp);

    return NGX_OK;
}


/*
 * Called from a balancer's init_upstream after round robin has built the
 * peers: gives each peer, primary then backup, a slot keyed by upstream
 * name and peer address, allocates the per-worker selection buffers, and
 * makes choose() the balancer's choice.
 */

template <class P>
ngx_int_t
ngx_upstream_latency_init_peers(ngx_conf_t *cf, typename P::upstream_t *us,
    ngx_upstream_latency_srv_conf_t<P> *lcf,
    ngx_upstream_latency_choose_pt<P> choose, const char *name) noexcept
{
    uint8_t                        *down;
    double                         *factors;
    ngx_uint_t                      i, n, most;
    typename P::peer_t             *peer;
    typename P::peers_t            *peers, *list;
    typename P::server_t           *server;
    upstream_latency::PeerKey      *key;

    /* nginx takes any weight; the module keeps them in 32 bits */

    server = (typename P::server_t *) us->servers->elts;

    for (i = 0; i < us->servers->nelts; i++) {

        if (server[i].weight > upstream_latency::kMaxWeight) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"weight=%ui\" of server \"%V\" in upstream "
                          "\"%V\" is above the %uD that \"%s\" takes in "
                          "%V:%ui", server[i].weight, &server[i].name,
                          &us->host, upstream_latency::kMaxWeight,
                          ngx_upstream_latency_method_name(lcf),
                          &lcf->method_where.file, lcf->method_where.line);
            return NGX_ERROR;
        }
    }

    peers = (typename P::peers_t *) us->peer.data;

    key = (upstream_latency::PeerKey *)
              ngx_array_push(&lcf->main->upstream_keys);
    if (key == NULL) {
        return NGX_ERROR;
    }

    *key = upstream_latency::PeerKey::of(
               {(const char *) us->host.data, us->host.len}, {});

    lcf->entry = lcf->main->upstream_keys.nelts - 1;
    lcf->first_slot = lcf->main->keys.nelts;
    lcf->nprimary = peers->number;

    n = 0;
    most = 0;

    for (list = peers; list; list = list->next) {

        for (peer = list->peer; peer; peer = peer->next) {
            key = (upstream_latency::PeerKey *)
                      ngx_array_push(&lcf->main->keys);
            down = (uint8_t *) ngx_array_push(&lcf->main->down);
            if (key == NULL || down == NULL) {
                return NGX_ERROR;
            }

            *down = peer->down != 0;

            /* a backup server at a primary's address is kept apart */

            *key = upstream_latency::PeerKey::of(
                       {(const char *) us->host.data, us->host.len},
                       {(const char *) peer->name.data, peer->name.len},
                       list != peers);
            n++;
        }

        most = ngx_max(most, list->number);
        lcf->resolvable += P::resolvable(list);
    }

    lcf->nbackup = n - lcf->nprimary;

    if (lcf->resolvable) {
        lcf->group = lcf->main->groups;
        lcf->main->groups += 2;
        lcf->main->resolvable += lcf->resolvable;
    }

    lcf->candidates = (upstream_latency::Candidate *)
        ngx_palloc(cf->pool, most * sizeof(upstream_latency::Candidate));
    lcf->candidate_peers = (typename P::peer_t **)
        ngx_palloc(cf->pool, most * sizeof(typename P::peer_t *));
    lcf->raced = (ngx_uint_t *) ngx_palloc(cf->pool, most * sizeof(ngx_uint_t));
    lcf->current_weights = (int64_t *)
        ngx_pcalloc(cf->pool, n * sizeof(int64_t));
    factors = (double *)
        ngx_palloc(cf->pool,
                   upstream_latency::Decay::kTableSize * sizeof(double));

    if (lcf->candidates == NULL
        || lcf->candidate_peers == NULL
        || lcf->raced == NULL
        || lcf->current_weights == NULL
        || factors == NULL)
    {
        return NGX_ERROR;
    }

    if (lcf->half_life == NGX_CONF_UNSET_MSEC) {
        lcf->half_life = NGX_UPSTREAM_LATENCY_HALF_LIFE;
    }

    if (lcf->slow_start_time == NGX_CONF_UNSET_MSEC) {
        lcf->slow_start_time = NGX_UPSTREAM_LATENCY_SLOW_START;
    }

    upstream_latency::Decay::tabulate((uint32_t) lcf->half_life, factors);
    lcf->options.decay.half_life_ms = (uint32_t) lcf->half_life;
    lcf->options.decay.table = factors;
    lcf->slow_start.window_ms = (uint32_t) lcf->slow_start_time;
    lcf->choose = choose;
    lcf->name = name;
    lcf->initialized = 1;

    us->peer.init = ngx_upstream_latency_init_peer<P>;

    return NGX_OK;
}


/*
 * In an upstream with servers that resolve, each list may take as many
 * peers as it has configured and the table has slots for resolved peers:
 * the per-worker buffers are sized for that, once the table's size is
 * known.
 */

template <class P>
ngx_int_t
ngx_upstream_latency_init_resolvable(ngx_conf_t *cf,
    ngx_upstream_latency_srv_conf_t<P> *lcf, ngx_uint_t resolved_slots)
    noexcept
{
    ngx_uint_t                       k, static_peers[2];
    ngx_upstream_latency_list_t<P>  *l;

    static_peers[0] = lcf->nprimary;
    static_peers[1] = lcf->nbackup;

    for (k = 0; k < 2; k++) {
        l = &lcf->lists[k];
        l->bound = static_peers[k] + resolved_slots;
        l->generation = NGX_UPSTREAM_LATENCY_UNMAPPED;
        l->indexed = NULL;
        l->number = 0;

        l->peer = (typename P::peer_t **)
            ngx_palloc(cf->pool, l->bound * sizeof(void *));
        l->weight = (uint32_t *)
            ngx_palloc(cf->pool, l->bound * sizeof(uint32_t));
        l->alias = (upstream_latency::AliasEntry *)
            ngx_palloc(cf->pool,
                       l->bound * sizeof(upstream_latency::AliasEntry));
        l->slot = (uint32_t *)
            ngx_palloc(cf->pool, l->bound * sizeof(uint32_t));
        l->share = (double *) ngx_palloc(cf->pool, l->bound * sizeof(double));
        l->work = (uint32_t *)
            ngx_palloc(cf->pool, l->bound * sizeof(uint32_t));
        l->mapped = (uint64_t *)
            ngx_palloc(cf->pool,
                       (resolved_slots + 63) / 64 * sizeof(uint64_t));

        if (l->peer == NULL || l->weight == NULL || l->alias == NULL
            || l->slot == NULL || l->share == NULL || l->work == NULL
            || l->mapped == NULL)
        {
            return NGX_ERROR;
        }
    }

    k = ngx_max(lcf->lists[0].bound, lcf->lists[1].bound);

    lcf->candidates = (upstream_latency::Candidate *)
        ngx_palloc(cf->pool, k * sizeof(upstream_latency::Candidate));
    lcf->candidate_peers = (typename P::peer_t **)
        ngx_palloc(cf->pool, k * sizeof(typename P::peer_t *));
    lcf->raced = (ngx_uint_t *) ngx_palloc(cf->pool, k * sizeof(ngx_uint_t));
    lcf->current_weights = (int64_t *)
        ngx_pcalloc(cf->pool, (lcf->lists[0].bound + lcf->lists[1].bound)
                              * sizeof(int64_t));

    if (lcf->candidates == NULL
        || lcf->candidate_peers == NULL
        || lcf->raced == NULL
        || lcf->current_weights == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Maps the peers of one list to their slots, under the list's write lock:
 * configured peers keep theirs, resolved ones acquire one by key (an
 * address new or back joins now, for slow start), and the list's slots of
 * peers that left are released.  Only after nginx changed the list (a name
 * resolved to other addresses), once in each worker process.
 */

template <class P>
void
ngx_upstream_latency_map_list(ngx_upstream_latency_srv_conf_t<P> *lcf,
    typename P::upstream_t *us, typename P::peers_t *list, ngx_uint_t k,
    ngx_log_t *log) noexcept
{
    uint32_t                          slot, released, first;
    uint64_t                          now_ms;
    ngx_uint_t                        i, configured, missing, generation;
    typename P::peer_t               *peer;
    upstream_latency::LatencyTable   *table;
    ngx_upstream_latency_list_t<P>   *l;

    table = lcf->main->table;
    l = &lcf->lists[k];

    P::wlock(list);

    generation = P::generation(list);

    if (l->generation == generation) {
        P::unlock(list);
        return;
    }

    configured = lcf->first_slot + (k ? lcf->nprimary : 0);
    missing = 0;
    now_ms = ngx_upstream_latency_now_us() / 1000;
    first = table->capacity() - table->resolved_slots();
    ngx_memzero(l->mapped,
                (table->resolved_slots() + 63) / 64 * sizeof(uint64_t));

    for (peer = list->peer, i = 0; peer; peer = peer->next, i++) {

        if (i == l->bound) {
            missing += list->number - i;
            break;
        }

        if (P::resolved(peer)) {
            slot = table->acquire(upstream_latency::PeerKey::of(
                                      {(const char *) us->host.data,
                                       us->host.len},
                                      {(const char *) peer->name.data,
                                       peer->name.len},
                                      k == 1),
                                  lcf->group + k, now_ms);

            if (slot == upstream_latency::LatencyTable::npos) {
                missing++;

            } else {
                l->mapped[(slot - first) / 64] |=
                    (uint64_t) 1 << (slot - first) % 64;
            }

        } else {
            slot = configured++;
        }

        l->slot[i] = slot;
        l->peer[i] = peer;
        l->weight[i] = peer->weight;
    }

    l->number = i;
    l->indexed = list;
    l->unslotted = missing;

    released = table->release_unmapped(lcf->group + k, l->mapped);

    upstream_latency::WeightedSampler::build(l->weight, l->number, l->alias,
                                             l->share, l->work);

    l->generation = generation;

    P::unlock(list);

    ngx_log_debug5(P::log_debug, log, 0,
                   "upstream latency: \"%V\" list %ui generation %ui: "
                   "%ui peers, %uD slots released",
                   &us->host, k, generation, i, released);

    if (missing) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "upstream latency zone is full: %ui servers of "
                      "upstream \"%V\" are not measured, and take "
                      "requests only when no measured server can; "
                      "\"upstream_latency_zone\" needs more room",
                      missing, &us->host);
    }
}


/*
 * As a request or session starts in an upstream with servers that
 * resolve, before round robin reads the generation.  Not inlined, so that
 * init_peer saves fewer registers for the other upstreams.
 */

template <class P>
[[gnu::noinline]] void
ngx_upstream_latency_map(ngx_upstream_latency_srv_conf_t<P> *lcf,
    typename P::upstream_t *us, ngx_log_t *log) noexcept
{
    ngx_uint_t            k;
    typename P::peers_t  *list;

    if (lcf->main->table == NULL) {
        return;
    }

    for (list = (typename P::peers_t *) us->peer.data, k = 0;
         list && k < 2;
         list = list->next, k++)
    {
        if (lcf->lists[k].generation != P::generation(list)) {
            ngx_upstream_latency_map_list<P>(lcf, us, list, k, log);
        }
    }
}


/*
 * Whether the current list's slots are mapped for the generation the
 * request started in, which is still the list's: else round robin
 * declines, as nginx's own balancers do after a change.  With the list's
 * read lock held.
 */

template <class P>
ngx_flag_t
ngx_upstream_latency_mapped(ngx_upstream_latency_peer_data_t<P> *lp)
    noexcept
{
    ngx_upstream_latency_list_t<P>  *l;

    if (!lp->conf->resolvable) {
        return 1;
    }

    l = &lp->conf->lists[lp->list];

    return l->generation == lp->rrp.config
           && P::generation(lp->rrp.peers) == lp->rrp.config;
}


/*
 * The attempt to the peer at index of the current list starts now: it is
 * active in this worker's cell, and waits there for its answer if
 * selections read the peer's waiting times (reads_waiting).  The requests
 * it finds in flight divide its measured times (see measure).
 */

template <class P>
[[gnu::always_inline]] inline void
ngx_upstream_latency_start(ngx_upstream_latency_peer_data_t<P> *lp,
    ngx_uint_t index, uint64_t now_us) noexcept
{
    uint32_t                         n, workers;
    ngx_time_t                      *tp;
    upstream_latency::PeerSlot      *slot;
    upstream_latency::InflightCell  *cells, *cell;
    upstream_latency::LatencyTable  *table;

    /* in locals: the stores to lp would reload them */

    tp = ngx_timeofday();
    table = lp->conf->main->table;
    n = ngx_upstream_latency_slot_index(lp, index);
    slot = &table->slot(n);
    cells = table->cells(n);
    workers = table->workers();
    cell = ngx_worker < workers ? &cells[ngx_worker] : NULL;

    lp->slot = slot;
    lp->cell = cell;
    lp->start_us = now_us;
    lp->answered = 0;
    lp->connected = 0;
    lp->found_active = upstream_latency::InflightCells::active(cells, workers);
    lp->waiting = 0;

    if (cell) {
        upstream_latency::InflightCells::enter(*cell);

        lp->waiting = upstream_latency::reads_waiting(lp->conf->options,
                          slot->estimate(lp->conf->options.metric)
                              .load(std::memory_order_relaxed))
                      && upstream_latency::InflightCells::wait(*cell, now_us);
    }

    slot->counters.requests.fetch_add(1, std::memory_order_relaxed);
    slot->selected_ms.store((uint64_t) tp->sec * 1000 + tp->msec,
                            std::memory_order_relaxed);
}


/*
 * The request goes on from the primary servers (primary) to the backup
 * ones, whose slots follow theirs (with resolve, the list's bound of them).
 */

template <class P>
[[gnu::always_inline]] inline void
ngx_upstream_latency_to_backup(ngx_upstream_latency_peer_data_t<P> *lp,
    typename P::peers_t *primary) noexcept
{
    lp->base += lp->conf->resolvable ? lp->conf->lists[0].bound
                                     : primary->number;
    lp->list = 1;
}


/*
 * Whether a peer of the current list that the table had no slot for may
 * take the request: not yet tried, and usable.  With the list's read lock.
 */

template <class P>
ngx_flag_t
ngx_upstream_latency_unslotted_usable(ngx_upstream_latency_peer_data_t<P> *lp,
    time_t now) noexcept
{
    ngx_uint_t                       i;
    ngx_flag_t                       usable;
    typename P::peer_t              *peer;
    ngx_upstream_latency_scan_t<P>   scan;

    scan = ngx_upstream_latency_scan(lp);

    for (peer = scan.peers->peer, i = 0; peer; peer = peer->next, i++) {

        if (ngx_upstream_latency_has_slot(lp, i)
            || ngx_upstream_latency_tried(scan.tried, i))
        {
            continue;
        }

        P::peer_lock(scan.peers, peer);
        usable = ngx_upstream_latency_usable<P>(peer, now);
        P::peer_unlock(scan.peers, peer);

        if (usable) {
            return 1;
        }
    }

    return 0;
}


/*
 * Round robin chooses, unmeasured: where the request's list is not mapped
 * for its generation (round robin then declines, as nginx's own balancers
 * do after a change), or where the only peers that may take the request
 * have no slot.  If it goes on to the backup servers, so does a retry.
 */

template <class P>
ngx_int_t
ngx_upstream_latency_round_robin(ngx_peer_connection_t *pc,
    ngx_upstream_latency_peer_data_t<P> *lp, typename P::peers_t *primary)
    noexcept
{
    ngx_int_t  rc;

    rc = P::get_round_robin_peer(pc, &lp->rrp);

    if (lp->rrp.peers != primary && lp->list == 0) {
        ngx_upstream_latency_to_backup(lp, primary);
    }

    return rc;
}


/*
 * Primary peers first, then backup ones, as nginx's own balancers do; the
 * balancer's choose() picks within a list.
 */

template <class P>
ngx_int_t
ngx_upstream_latency_get(ngx_peer_connection_t *pc,
    ngx_upstream_latency_peer_data_t<P> *lp) noexcept
{
    time_t                 now;
    uint64_t               now_us;
    uintptr_t              m;
    ngx_int_t              rc;
    ngx_flag_t             probe;
    ngx_uint_t             i, n, index, raced;
    typename P::peer_t    *peer;
    typename P::peers_t   *peers;

    /* a retry after a reload without a master process: see table_live */

    if (!ngx_upstream_latency_table_live(lp)) {
        return P::get_round_robin_peer(pc, &lp->rrp);
    }

    now_us = ngx_upstream_latency_now_us();

    /* a request of the upstream starts: its estimates age on */
    lp->paused_ms = ngx_upstream_latency_clock(lp->conf).serve(
                        now_us / 1000, lp->conf->half_life);

    peers = lp->rrp.peers;

    if (peers->single) {
        rc = P::get_round_robin_peer(pc, &lp->rrp);

        if (rc != NGX_OK) {
            return rc;
        }

        /* the slot is released only after the list changes: see mapped */

        P::rlock(peers);

        if (ngx_upstream_latency_mapped(lp)
            && ngx_upstream_latency_has_slot(lp, 0))
        {
            ngx_upstream_latency_start(lp, 0, now_us);
        }

        P::unlock(peers);

        return rc;
    }

    pc->cached = 0;
    pc->connection = NULL;

    now = ngx_time();

    P::rlock(peers);

    if (!ngx_upstream_latency_mapped(lp)) {
        P::unlock(peers);
        return ngx_upstream_latency_round_robin(pc, lp, peers);
    }

    raced = 0;

    for ( ;; ) {
        peer = lp->conf->choose(lp, now, now_us, &index, pc->log);

        if (peer == NULL) {
            break;
        }

        n = index / (8 * sizeof(uintptr_t));
        m = (uintptr_t) 1 << index % (8 * sizeof(uintptr_t));

        P::peer_lock(peers, peer);

        /*
         * choose() took a usable peer; in a zone, another worker may have
         * taken the last of its max_conns meanwhile
         */

        if (!P::shared(peers) || ngx_upstream_latency_usable<P>(peer, now)) {
            break;
        }

        P::peer_unlock(peers, peer);

        ngx_log_debug1(P::log_debug, pc->log, 0,
                       "get latency peer, %V no longer usable", &peer->name);

        /* left out of this choice only (see below) */
        lp->conf->raced[raced++] = index;
        lp->rrp.tried[n] |= m;
    }

    /* as in round robin, a peer found full is not tried: a retry may take it */

    for (i = 0; i < raced; i++) {
        lp->rrp.tried[lp->conf->raced[i] / (8 * sizeof(uintptr_t))] &=
            ~((uintptr_t) 1 << lp->conf->raced[i] % (8 * sizeof(uintptr_t)));
    }

    if (peer == NULL) {

        /* peers the table had no slot for are used when none else is */

        if (lp->conf->resolvable && lp->conf->lists[lp->list].unslotted
            && ngx_upstream_latency_unslotted_usable(lp, now))
        {
            P::unlock(peers);
            return ngx_upstream_latency_round_robin(pc, lp, peers);
        }

        goto failed;
    }

    if (now - peer->checked > peer->fail_timeout) {
        peer->checked = now;
    }

    /* nginx tries a peer that max_fails took out again: it joins now */
    probe = peer->max_fails && peer->fails >= peer->max_fails;

    pc->sockaddr = peer->sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &peer->name;

    peer->conns++;

    /* as round robin's get: its free drops the reference */
    P::peer_ref(peers, peer);

    P::peer_unlock(peers, peer);

    lp->rrp.current = peer;
    lp->rrp.tried[n] |= m;

    /* before a change of the list can release the slot */
    ngx_upstream_latency_start(lp, index, now_us);

    if (probe) {
        upstream_latency::rejoin(*lp->slot, now_us / 1000);
    }

    P::unlock(peers);

    return NGX_OK;

failed:

    if (peers->next) {
        ngx_log_debug0(P::log_debug, pc->log, 0,
                       "get latency peer, backup servers");

        lp->rrp.peers = peers->next;
        ngx_upstream_latency_to_backup(lp, peers);

        n = (lp->rrp.peers->number + (8 * sizeof(uintptr_t) - 1))
                / (8 * sizeof(uintptr_t));

        for (i = 0; i < n; i++) {
            lp->rrp.tried[i] = 0;
        }

        P::unlock(peers);

        rc = ngx_upstream_latency_get(pc, lp);

        if (rc != NGX_BUSY) {
            return rc;
        }

        P::rlock(peers);
    }

    P::unlock(peers);

    ngx_log_debug0(P::log_debug, pc->log, 0,
                   "get latency peer, no peer found");

    pc->name = peers->name;

    return NGX_BUSY;
}


/* The attempt no longer waits for its answer. */

template <class P>
[[gnu::always_inline]] inline void
ngx_upstream_latency_stop_waiting(ngx_upstream_latency_peer_data_t<P> *lp)
    noexcept
{
    if (lp->waiting) {
        upstream_latency::InflightCells::answered(*lp->cell, lp->start_us);
        lp->waiting = 0;
    }
}


/*
 * Records a time the attempt took into one of the peer's estimates, per
 * request (record_per_request), so that the score counts the peer's queue
 * once, stamped on the upstream's clock (decay.paused_ms).  Failure
 * penalties are recorded as they are, not through here.
 */

template <class P>
[[gnu::always_inline]] inline void
ngx_upstream_latency_measure(ngx_upstream_latency_peer_data_t<P> *lp,
    std::atomic<uint64_t> &estimate, uint64_t elapsed_us,
    upstream_latency::SampleKind kind, uint64_t now_us,
    upstream_latency::Decay decay) noexcept
{
    upstream_latency::record_per_request(estimate, elapsed_us,
                                         lp->found_active,
                                         lp->rrp.current->weight, kind,
                                         now_us, decay);

    if (kind == upstream_latency::SampleKind::exact
        && &estimate == &lp->slot->estimate(lp->conf->options.metric))
    {
        upstream_latency::answered(*lp->slot, lp->start_us);
    }
}


/* The answer (header or first byte) of the attempt has arrived. */

template <class P>
[[gnu::always_inline]] inline void
ngx_upstream_latency_answer(ngx_upstream_latency_peer_data_t<P> *lp,
    uint64_t now_us) noexcept
{
    ngx_upstream_latency_stop_waiting(lp);

    lp->answered = 1;
    lp->header_us = now_us > lp->start_us ? now_us - lp->start_us : 0;
}


/* The attempt is over for the table: it no longer counts as in flight. */

template <class P>
[[gnu::always_inline]] inline void
ngx_upstream_latency_leave(ngx_upstream_latency_peer_data_t<P> *lp) noexcept
{
    ngx_upstream_latency_stop_waiting(lp);

    if (lp->cell) {
        upstream_latency::InflightCells::leave(*lp->cell);
    }

    lp->slot = NULL;
}


/*
 * Whether the table of the request's configuration is still mapped.  Only
 * without a master process does a reload unmap the previous table while
 * requests of the previous configuration are still running; they then
 * leave it alone, and retries are chosen by round robin.
 */

template <class P>
ngx_flag_t
ngx_upstream_latency_table_live(ngx_upstream_latency_peer_data_t<P> *lp)
    noexcept
{
    if (ngx_process != NGX_PROCESS_SINGLE) {
        return 1;
    }

    /* the configuration of the current cycle, whose table is mapped */
    return lp->conf->main->cycle == (ngx_cycle_t *) ngx_cycle;
}


/*
 * Records what an attempt that ends now showed.  A failed attempt counts
 * as slow (see failure_sample_us); otherwise the answer's time, taken on
 * arrival, and the whole attempt's, exact when it completed, a lower
 * bound when it was cut short.
 */

template <class P>
[[gnu::always_inline]] inline void
ngx_upstream_latency_record(ngx_upstream_latency_peer_data_t<P> *lp,
    ngx_flag_t failed, ngx_flag_t complete, uint64_t now_us, ngx_log_t *log)
    noexcept
{
    uint64_t                  elapsed, header, sample;
    upstream_latency::Decay   decay;
    upstream_latency::SampleKind  kind, header_kind;

    /* the attempt ends: the upstream's estimates age on */
    decay = lp->conf->options.decay;
    decay.paused_ms = ngx_upstream_latency_clock(lp->conf).serve(
                          now_us / 1000, lp->conf->half_life);
    elapsed = now_us > lp->start_us ? now_us - lp->start_us : 0;

    if (failed) {
        sample = upstream_latency::failure_sample_us(elapsed,
                                            lp->rrp.current->fail_timeout);
        kind = upstream_latency::SampleKind::lower_bound;
        header = sample;
        header_kind = kind;

    } else {
        sample = elapsed;
        kind = complete ? upstream_latency::SampleKind::exact
                        : upstream_latency::SampleKind::lower_bound;

        /* an answered attempt's header sample was taken on arrival */

        header = lp->answered ? lp->header_us : elapsed;
        header_kind = lp->answered
                      ? upstream_latency::SampleKind::exact
                      : upstream_latency::SampleKind::lower_bound;
    }

    if (failed) {
        upstream_latency::PeakEwma::record(lp->slot->header_time, header,
                                           header_kind, now_us, decay);
        upstream_latency::PeakEwma::record(lp->slot->response_time, sample,
                                           kind, now_us, decay);
    } else {
        if (!lp->answered) {
            ngx_upstream_latency_measure(lp, lp->slot->header_time, header,
                                         header_kind, now_us, decay);
        }

        ngx_upstream_latency_measure(lp, lp->slot->response_time, sample,
                                     kind, now_us, decay);
    }

    ngx_log_debug5(P::log_debug, log, 0,
                   "upstream latency sample: %s %uLus%s, "
                   "response %uLus%s",
                   P::answer_name, header,
                   header_kind == upstream_latency::SampleKind::exact
                   ? "" : " or more",
                   sample,
                   kind == upstream_latency::SampleKind::exact
                   ? "" : " or more");
}


/*
 * What a failure of the peer tells, read before round robin's free (which
 * counts it, and may free a peer nginx's resolver removed); with a zone, a
 * racy read: it only feeds the status and the ramp.
 */

template <class P>
ngx_upstream_latency_failure_t
ngx_upstream_latency_failure(typename P::peer_t *peer) noexcept
{
    ngx_upstream_latency_failure_t  f;

    f.max_fails = peer->max_fails;
    f.fails = peer->fails + 1;   /* with this failure, as round robin counts */
    f.fail_timeout = peer->fail_timeout;

    /* nginx tried the peer again since its last failure (round robin's test) */
    f.rechecked = peer->accessed < peer->checked;

    return f;
}


/*
 * After round robin counted a failure of the peer.  If the failure made it
 * unavailable, by reaching max_fails or on the try nginx makes once
 * fail_timeout is over (not the requests that were in flight as it became
 * so), the status counts it, and the peer stays at the floor of its ramp
 * until fail_timeout is over; it joins again when nginx tries it (get),
 * which may be up to a second later: nginx counts fail_timeout from the
 * second of the failure.
 */

template <class P>
void
ngx_upstream_latency_failed(upstream_latency::PeerSlot *slot,
    ngx_upstream_latency_failure_t f) noexcept
{
    if (f.max_fails == 0 || f.fails < f.max_fails) {
        return;
    }

    if (f.fails == f.max_fails || f.rechecked) {
        slot->counters.unavail.fetch_add(1, std::memory_order_relaxed);
    }

    upstream_latency::rejoin(*slot, ngx_upstream_latency_now_us() / 1000
                                    + (uint64_t) f.fail_timeout * 1000);
}


/*
 * Slow start in a choice that met joining peers (ramp below 1, or joined
 * and not yet measured): their latency counts as at least the prior
 * (JoinPrior) of the choice's other peers, those at full ramp (or those
 * ramping, if none of these is measured), so these are summed first;
 * then every peer is scored again, its load read again, at its ramp.
 * Returns the least score, and the idle peers in idle.  Out of line: a
 * pool without joining peers never gets here.
 */

template <class P>
[[gnu::noinline]] double
ngx_upstream_least_time_joining(ngx_upstream_latency_peer_data_t<P> *lp,
    typename P::peer_t **candidate_peers, size_t count, uint64_t now_ms,
    ngx_uint_t *idle, ngx_log_t *log) noexcept
{
    double                               ramp, least;
    size_t                               k;
    uint32_t                             slot;
    typename P::peer_t                  *peer;
    upstream_latency::PeerLoad           load;
    upstream_latency::Candidate         *c;
    upstream_latency::JoinPrior          prior;
    upstream_latency::JoinPriorSum       ramped;
    upstream_latency::LoadOptions        options;
    upstream_latency::SlowStart          slow_start;
    ngx_upstream_latency_srv_conf_t<P>  *lcf;

    lcf = lp->conf;
    options = ngx_upstream_latency_options(lp);
    slow_start = lcf->slow_start;
    upstream_latency::TableView  view(*lcf->main->table, options.metric);

    for (k = 0; k < count; k++) {
        slot = ngx_upstream_latency_slot_index(lp, lcf->candidates[k].peer);
        load = upstream_latency::observe_ms(view, slot, options, now_ms);

        ramped.add(view.slots[slot], load.latency_us, slow_start, now_ms);
    }

    ramped.update(prior);

    least = HUGE_VAL;
    *idle = 0;

    for (k = 0; k < count; k++) {
        c = &lcf->candidates[k];
        peer = candidate_peers[k];
        slot = ngx_upstream_latency_slot_index(lp, c->peer);
        load = upstream_latency::observe_ms(view, slot, options, now_ms);
        ramp = slow_start.apply(view.slots[slot], now_ms, prior, load);

        if (ramp < 1.0) {
            ngx_log_debug3(P::log_debug, log, 0,
                           "least time peer %V in slow start at %.2f, "
                           "latency %.3fms", &peer->name, ramp,
                           load.latency_us / 1000);
        }

        *c = upstream_latency::scored(c->peer,
                 upstream_latency::ramped_weight(peer->weight, ramp), load,
                 peer->weight);
        least = ngx_min(least, c->score);
        *idle += load.active == 0;
    }

    return least;
}


/*
 * Scores every available peer of the current list and takes the least;
 * a choice that meets joining peers scores them again (see joining).
 */

template <class P>
typename P::peer_t *
ngx_upstream_least_time_choose(ngx_upstream_latency_peer_data_t<P> *lp,
    time_t now, uint64_t now_us, ngx_uint_t *index, ngx_log_t *log)
{
    size_t                               best;
    double                               least;
    uint32_t                             slot;
    uint64_t                             now_ms, joined;
    ngx_uint_t                           i, count, idle, joining;
    typename P::peer_t                  *peer, **candidate_peers;
    upstream_latency::PeerLoad           load;
    upstream_latency::SlowStart          slow_start;
    upstream_latency::Candidate         *c, *candidates;
    upstream_latency::LoadOptions        options;
    ngx_upstream_latency_scan_t<P>       scan;
    ngx_upstream_latency_srv_conf_t<P>  *lcf;

    /* in locals: the stores to the candidates would reload them per peer */

    lcf = lp->conf;
    candidates = lcf->candidates;
    candidate_peers = lcf->candidate_peers;
    options = ngx_upstream_latency_options(lp);
    upstream_latency::TableView  view(*lcf->main->table, options.metric);
    slow_start = lcf->slow_start;
    scan = ngx_upstream_latency_scan(lp);
    now_ms = now_us / 1000;
    count = 0;
    idle = 0;
    joining = 0;
    least = HUGE_VAL;

    for (peer = scan.peers->peer, i = 0; peer; peer = peer->next, i++) {

        slot = ngx_upstream_latency_available_slot(scan, peer, i, now);

        if (slot == upstream_latency::LatencyTable::npos) {
            continue;
        }

        load = upstream_latency::observe_ms(view, slot, options, now_ms);
        joined = view.slots[slot].joined_ms.load(std::memory_order_relaxed);

        if (joined && slow_start.window_ms
            && (slow_start.ramp(joined, now_ms) < 1.0
                || !upstream_latency::answered_since_joining(joined)))
        {
            joining = 1;
        }

        c = &candidates[count];
        *c = upstream_latency::scored(i,
                 upstream_latency::ramped_weight(peer->weight, 1.0), load,
                 peer->weight);
        least = ngx_min(least, c->score);
        idle += load.active == 0;

        candidate_peers[count++] = peer;
    }

    if (count == 0) {
        return NULL;
    }

    if (joining) {
        least = ngx_upstream_least_time_joining<P>(lp, candidate_peers, count,
                                                   now_ms, &idle, log);
    }

    best = upstream_latency::pick_least_score(candidates, count, least, idle,
                                              lcf->current_weights + lp->base);

    ngx_log_debug3(P::log_debug, log, 0,
                   "least time peer %V, score %.3fms of %ui",
                   &candidate_peers[best]->name,
                   candidates[best].score / 1000, count);

    *index = candidates[best].peer;

    return candidate_peers[best];
}


template <class P>
ngx_int_t
ngx_upstream_init_least_time(ngx_conf_t *cf, typename P::upstream_t *us)
    noexcept
{
    ngx_log_debug0(P::log_debug, cf->log, 0, "init least time");

    if (P::init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_upstream_latency_init_peers<P>(cf, us, P::conf(us),
               ngx_upstream_least_time_choose<P>, "least time");
}


template <class P>
typename P::peer_t *
ngx_upstream_weighted_random_choose(ngx_upstream_latency_peer_data_t<P> *lp,
    time_t now, uint64_t now_us, ngx_uint_t *index, ngx_log_t *log)
{
    size_t                               first, second;
    double                               floor;
    uint64_t                             now_ms;
    ngx_uint_t                           i;
    typename P::peer_t                  *peer;
    upstream_latency::PeerLoad           first_load, second_load;
    upstream_latency::Candidate          first_scored, second_scored;
    upstream_latency::Rng               &rng = lp->conf->main->rng;
    ngx_upstream_latency_list_t<P>      *l;
    ngx_upstream_latency_srv_conf_t<P>  *lcf;

    lcf = lp->conf;
    l = &lcf->lists[lp->list];
    now_ms = now_us / 1000;

    if (lp->rrp.peers->number == 0) {
        return NULL;   /* a name that resolved to no address */
    }

    if (l->indexed != lp->rrp.peers) {
        for (peer = lp->rrp.peers->peer, i = 0; peer; peer = peer->next, i++) {
            l->peer[i] = peer;
        }

        l->indexed = lp->rrp.peers;
    }

    upstream_latency::WeightedSampler  sampler(l->alias, l->weight,
                                               l->number);

    ngx_upstream_latency_scan_t<P>  scan = ngx_upstream_latency_scan(lp);

    /*
     * The lambdas inline: out of line, their calls were a fifth of the
     * choice
     */

    auto available = [&scan, l, now](size_t i)
                     __attribute__((always_inline)) {
        return ngx_upstream_latency_available_slot(scan, l->peer[i], i, now)
               != upstream_latency::LatencyTable::npos;
    };

    /*
     * least_conn: latency left out, fewer active requests per weight; a
     * peer in slow start not yet measured counts as fast as the other
     */
    auto score_of = [lp, l, lcf, now_ms](size_t i,
                                         upstream_latency::PeerLoad load,
                                         double other_us)
                    __attribute__((always_inline)) {
        if (lcf->slow_start.window_ms) {
            ngx_upstream_latency_ramp(lp, i, now_ms, &load,
                                      {other_us, other_us});
        }
        if (!lcf->by_latency) {
            load.latency_us = 1;
        }
        return upstream_latency::scored((uint32_t) i, l->weight[i], load,
                                        l->weight[i]);
    };

    /* a peer in slow start is kept with the probability of its ramp */
    auto draw = [lp, lcf, now_ms, &rng, &sampler](auto &&usable)
                __attribute__((always_inline)) {
        if (lcf->slow_start.window_ms == 0) {
            return sampler.draw(rng, usable);
        }

        return upstream_latency::draw_ramped(sampler, rng, usable,
                   [lp, lcf, now_ms](size_t i) {
                       return lcf->slow_start.ramp(
                                  ngx_upstream_latency_slot(lp, i), now_ms);
                   });
    };

    first = draw(available);

    if (first == upstream_latency::WeightedSampler::npos) {
        return NULL;
    }

    if (lcf->two) {
        second = draw([first, &available](size_t i) {
                          return i != first && available(i);
                      });

        if (second != upstream_latency::WeightedSampler::npos) {
            upstream_latency::TableView  view(*lcf->main->table,
                                              lcf->options.metric);

            first_load = ngx_upstream_latency_load(lp, view, first, now_ms);
            second_load = ngx_upstream_latency_load(lp, view, second, now_ms);
            first_scored = score_of(first, first_load,
                                    second_load.latency_us);
            second_scored = score_of(second, second_load,
                                     first_load.latency_us);

            ngx_log_debug4(P::log_debug, log, 0,
                           "weighted random two: %V %.3f, %V %.3f",
                           &l->peer[first]->name, first_scored.score,
                           &l->peer[second]->name, second_scored.score);

            /* least_conn's scores, requests per weight, are exact */
            floor = lcf->by_latency ? upstream_latency::kNoiseFloorUs : 0;

            if (!upstream_latency::first_is_better(first_scored,
                                                   second_scored, floor, rng))
            {
                first = second;
            }
        }
    }

    ngx_log_debug1(P::log_debug, log, 0,
                   "weighted random peer %V", &l->peer[first]->name);

    *index = first;

    return l->peer[first];
}


/*
 * Each worker draws from alias tables built here, once per peer list; the
 * list's peer pointers are taken on first use, as with nginx's zone the
 * peers move to shared memory after this.
 */

template <class P>
ngx_int_t
ngx_upstream_init_weighted_random(ngx_conf_t *cf, typename P::upstream_t *us)
    noexcept
{
    ngx_uint_t                           i, k;
    typename P::peer_t                  *peer;
    typename P::peers_t                 *list;
    ngx_upstream_latency_list_t<P>      *l;
    ngx_upstream_latency_srv_conf_t<P>  *lcf;

    ngx_log_debug0(P::log_debug, cf->log, 0, "init weighted random");

    if (P::init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    lcf = P::conf(us);

    if (ngx_upstream_latency_init_peers<P>(cf, us, lcf,
                                   ngx_upstream_weighted_random_choose<P>,
                                   "weighted random")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (list = (typename P::peers_t *) us->peer.data, k = 0;
         list;
         list = list->next, k++)
    {
        l = &lcf->lists[k];
        l->number = list->number;
        l->indexed = NULL;
        l->peer = (typename P::peer_t **)
            ngx_palloc(cf->pool, l->number * sizeof(void *));
        l->weight = (uint32_t *)
            ngx_palloc(cf->pool, l->number * sizeof(uint32_t));
        l->alias = (upstream_latency::AliasEntry *)
            ngx_palloc(cf->pool,
                       l->number * sizeof(upstream_latency::AliasEntry));

        if (l->peer == NULL || l->weight == NULL || l->alias == NULL) {
            return NGX_ERROR;
        }

        for (peer = list->peer, i = 0; peer; peer = peer->next, i++) {
            l->weight[i] = peer->weight;
        }

        try {
            upstream_latency::WeightedSampler::build(l->weight, l->number,
                                                     l->alias);

        } catch (const std::exception &e) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "weighted_random in upstream \"%V\": %s",
                               &us->host, e.what());
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


template <class P>
void *
ngx_upstream_latency_create_srv_conf(ngx_conf_t *cf) noexcept
{
    ngx_upstream_latency_srv_conf_t<P>  *lcf;

    lcf = (ngx_upstream_latency_srv_conf_t<P> *)
              ngx_pcalloc(cf->pool,
                          sizeof(ngx_upstream_latency_srv_conf_t<P>));
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
     *     lcf->raced = NULL;
     */

    lcf->main = P::main_conf(cf);
    lcf->half_life = NGX_CONF_UNSET_MSEC;
    lcf->slow_start_time = NGX_CONF_UNSET_MSEC;

    return lcf;
}


/*
 * Makes method the upstream's balancing method.  nginx's own methods only
 * warn when one replaces another; a second method, or one after keepalive
 * (which wraps the method before it), is an error here.
 */

template <class P>
char *
ngx_upstream_latency_set_method(ngx_conf_t *cf,
    ngx_upstream_latency_srv_conf_t<P> *lcf, ngx_uint_t method,
    ngx_int_t (*init)(ngx_conf_t *cf, typename P::upstream_t *us) noexcept)
{
    ngx_str_t               *value;
    typename P::upstream_t  *uscf;

    value = (ngx_str_t *) cf->args->elts;

    if (lcf->method == method) {
        return (char *) "is duplicate";
    }

    uscf = P::upstream_conf(cf);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" cannot follow another load balancing "
                           "method or \"keepalive\" in upstream \"%V\"; only "
                           "one method is allowed, and it must come before "
                           "\"keepalive\"", &value[0], &uscf->host);
        return (char *) NGX_CONF_ERROR;
    }

    lcf->method = method;
    ngx_upstream_latency_remember(cf, &lcf->method_where);

    uscf->peer.init_upstream = init;
    uscf->flags = P::upstream_flags;

    return NGX_CONF_OK;
}


/* The metric a parameter names, among the protocol's; false if none. */

template <class P>
bool
ngx_upstream_latency_metric(ngx_str_t *value, const char *prefix,
    upstream_latency::Metric *metric) noexcept
{
    size_t  len;

    len = ngx_strlen(prefix);

    if (value->len < len || ngx_strncmp(value->data, prefix, len) != 0) {
        return false;
    }

    for (const auto &m : P::metrics) {
        if (ngx_strcmp(value->data + len, m.name) == 0) {
            *metric = m.metric;
            return true;
        }
    }

    return false;
}


#if (NGX_UPSTREAM_LATENCY_LEAST_TIME)

template <class P>
char *
ngx_upstream_least_time(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
    noexcept
{
    ngx_upstream_latency_srv_conf_t<P> *lcf =
        (ngx_upstream_latency_srv_conf_t<P> *) conf;

    ngx_str_t  *value;

    value = (ngx_str_t *) cf->args->elts;

    if (!ngx_upstream_latency_metric<P>(&value[1], "",
                                        &lcf->options.metric))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of \"least_time\", "
                           "expected %s", &value[1], P::metrics_expected);
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

    return ngx_upstream_latency_set_method(cf, lcf,
               NGX_UPSTREAM_LATENCY_METHOD_LEAST_TIME,
               ngx_upstream_init_least_time<P>);
}

#endif


template <class P>
char *
ngx_upstream_weighted_random(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
    noexcept
{
    ngx_upstream_latency_srv_conf_t<P> *lcf =
        (ngx_upstream_latency_srv_conf_t<P> *) conf;

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
        if (ngx_upstream_latency_metric<P>(&value[2], "least_time=",
                                           &lcf->options.metric))
        {
            lcf->by_latency = 1;

        } else if (ngx_strcmp(value[2].data, "least_conn") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of "
                               "\"weighted_random two\", expected "
                               "%s", &value[2], P::two_expected);
            return (char *) NGX_CONF_ERROR;
        }
    }

    return ngx_upstream_latency_set_method(cf, lcf,
               NGX_UPSTREAM_LATENCY_METHOD_WEIGHTED_RANDOM,
               ngx_upstream_init_weighted_random<P>);
}


template <class P>
char *
ngx_upstream_latency_half_life(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf) noexcept
{
    ngx_upstream_latency_srv_conf_t<P> *lcf =
        (ngx_upstream_latency_srv_conf_t<P> *) conf;

    return ngx_upstream_latency_parse_half_life(cf, &lcf->half_life,
                                                &lcf->half_life_where);
}


template <class P>
char *
ngx_upstream_latency_slow_start(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf) noexcept
{
    ngx_upstream_latency_srv_conf_t<P> *lcf =
        (ngx_upstream_latency_srv_conf_t<P> *) conf;

    return ngx_upstream_latency_parse_slow_start(cf, &lcf->slow_start_time,
                                                 &lcf->slow_start_where);
}


template <class P>
char *
ngx_upstream_latency_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
    noexcept
{
    return ngx_upstream_latency_parse_zone(cf,
               (ngx_upstream_latency_main_conf_t *) conf);
}


/*
 * Checks what only the whole configuration shows, then adds the zone.
 * Errors name the line of the directive at fault.
 */

template <class P>
ngx_int_t
ngx_upstream_latency_check_upstreams(ngx_conf_t *cf) noexcept
{
    ngx_uint_t                           i;
    ngx_array_t                         *upstreams;
    typename P::upstream_t             **uscfp;
    ngx_upstream_latency_srv_conf_t<P>  *lcf;

    upstreams = P::upstreams(cf);
    uscfp = (typename P::upstream_t **) upstreams->elts;

    for (i = 0; i < upstreams->nelts; i++) {

        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        lcf = P::conf(uscfp[i]);

        if (lcf->method && !lcf->initialized) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" in upstream \"%V\" was replaced by "
                          "another load balancing method; only one method "
                          "is allowed in %V:%ui",
                          ngx_upstream_latency_method_name(lcf),
                          &uscfp[i]->host, &lcf->method_where.file,
                          lcf->method_where.line);
            return NGX_ERROR;
        }

        if (lcf->method) {
            continue;
        }

        if (lcf->half_life != NGX_CONF_UNSET_MSEC) {
            ngx_upstream_latency_needs_method(cf, "upstream_latency_half_life",
                                              &uscfp[i]->host,
                                              &lcf->half_life_where);
            return NGX_ERROR;
        }

        if (lcf->slow_start_time != NGX_CONF_UNSET_MSEC) {
            ngx_upstream_latency_needs_method(cf,
                                              "upstream_latency_slow_start",
                                              &uscfp[i]->host,
                                              &lcf->slow_start_where);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


template <class P>
ngx_int_t
ngx_upstream_latency_init_resolvable_upstreams(ngx_conf_t *cf,
    ngx_upstream_latency_main_conf_t *lmcf) noexcept
{
    ngx_uint_t                           i;
    ngx_array_t                         *upstreams;
    typename P::upstream_t             **uscfp;
    ngx_upstream_latency_srv_conf_t<P>  *lcf;

    upstreams = P::upstreams(cf);
    uscfp = (typename P::upstream_t **) upstreams->elts;

    for (i = 0; i < upstreams->nelts; i++) {

        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        lcf = P::conf(uscfp[i]);

        if (lcf->initialized && lcf->resolvable
            && ngx_upstream_latency_init_resolvable<P>(cf, lcf,
                                                   lmcf->resolved_slots)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A module's postconfiguration: the checks of the whole configuration,
 * then, when an upstream uses the module, its zone and the filter that
 * stamps answers.
 */

template <class P>
ngx_int_t
ngx_upstream_latency_postconfiguration(ngx_conf_t *cf, ngx_str_t *zone_name,
    ngx_module_t *module, void (*init_filter)() noexcept) noexcept
{
    ngx_upstream_latency_main_conf_t  *lmcf;

    if (ngx_upstream_latency_check_upstreams<P>(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    lmcf = P::main_conf(cf);

    if (lmcf->keys.nelts == 0 && lmcf->resolvable == 0) {
        return NGX_OK;
    }

    if (ngx_upstream_latency_add_zone(cf, lmcf, zone_name, module) != NGX_OK) {
        return NGX_ERROR;
    }

    if (lmcf->resolvable
        && ngx_upstream_latency_init_resolvable_upstreams<P>(cf, lmcf)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    init_filter();

    return NGX_OK;
}
