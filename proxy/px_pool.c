/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_pool.c - per-worker backend pools. State is location: a backend is on <idle> or
 * <busy>; the counters are the list lengths. Connect failures fail waiting sessions at once
 * instead of letting them sit until their timeout.
 */
#include "proxy/px_pool.h"

#include "proxy/px_health.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "protocol/mp_result.h"
#include "proxy/px_backend.h"
#include "proxy/px_session.h"
#include "proxy/px_tx.h"
#include "topology/topo.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- paused, draining and down shards ---- */

/*
 * Shards with an operator's state: PAUSE SHARD, or the live topology's endpoints.state of the
 * shard's primary. An entry's name is written once, before the entry is published; the flags
 * are atomics. Writers (the admin thread, the main thread before the workers start) take
 * px_pause_mu; workers read without a lock.
 */
static struct {
	char name[PX_NAME_MAX + 1];
	unsigned int paused; /* atomic: PAUSE SHARD */
	unsigned int state;  /* atomic: enum topo_ep_state from the live topology */
} px_pauses[TOPO_MAX_SHARDS];
static unsigned int px_pause_n;      /* atomic: published entries */
static unsigned int px_pause_active; /* atomic: entries paused or with a state other than up */
static pthread_mutex_t px_pause_mu = PTHREAD_MUTEX_INITIALIZER;

static bool
px_pause_entry_active(unsigned int i)
{
	return __atomic_load_n(&px_pauses[i].paused, __ATOMIC_ACQUIRE) != 0 ||
	       __atomic_load_n(&px_pauses[i].state, __ATOMIC_ACQUIRE) != TOPO_EP_UP;
}

/* Under px_pause_mu: the entry of <name>, made if <make>; px_pause_n if none (or no room). */
static unsigned int
px_pause_entry(const char *name, bool make)
{
	unsigned int n = __atomic_load_n(&px_pause_n, __ATOMIC_ACQUIRE), i;

	for (i = 0; i < n && strcmp(px_pauses[i].name, name) != 0; i++) {
	}
	if (i == n && make && n < TOPO_MAX_SHARDS) {
		snprintf(px_pauses[n].name, sizeof(px_pauses[n].name), "%s", name);
		__atomic_store_n(&px_pause_n, n + 1, __ATOMIC_RELEASE);
	}
	return i;
}

/* Under px_pause_mu: sets one flag of entry <i> and keeps px_pause_active counting. */
static bool
px_pause_store(unsigned int i, bool state, unsigned int v)
{
	bool was = px_pause_entry_active(i), changed;

	changed = __atomic_exchange_n(state ? &px_pauses[i].state : &px_pauses[i].paused, v,
				      __ATOMIC_ACQ_REL) != v;
	if (was && !px_pause_entry_active(i)) {
		__atomic_sub_fetch(&px_pause_active, 1, __ATOMIC_RELEASE);
	} else if (!was && px_pause_entry_active(i)) {
		__atomic_add_fetch(&px_pause_active, 1, __ATOMIC_RELEASE);
	}
	return changed;
}

bool
px_pause_set(const char *name, bool paused)
{
	unsigned int i;
	bool ok = true;

	pthread_mutex_lock(&px_pause_mu);
	i = px_pause_entry(name, paused);
	if (i < __atomic_load_n(&px_pause_n, __ATOMIC_ACQUIRE)) {
		(void)px_pause_store(i, false, paused ? 1u : 0u);
	} else {
		ok = !paused;
	}
	pthread_mutex_unlock(&px_pause_mu);
	return ok;
}

bool
px_shard_states_fit(const struct topo_snapshot *snap)
{
	unsigned int n, more = 0;

	pthread_mutex_lock(&px_pause_mu);
	n = __atomic_load_n(&px_pause_n, __ATOMIC_ACQUIRE);
	for (size_t k = 0; k < snap->n_shards; k++) {
		if (snap->shards[k].state != TOPO_EP_UP &&
		    px_pause_entry(snap->shards[k].name, false) == n) {
			more++;
		}
	}
	pthread_mutex_unlock(&px_pause_mu);
	return n + more <= TOPO_MAX_SHARDS;
}

bool
px_shard_states_set(const struct topo_snapshot *snap, bool restrict_only,
		    void (*changed)(const char *, void *), void *arg)
{
	bool ok = true;
	unsigned int n;

	pthread_mutex_lock(&px_pause_mu);
	for (size_t k = 0; k < snap->n_shards; k++) {
		const struct topo_shard *t = &snap->shards[k];
		unsigned int i;

		if (restrict_only && t->state == TOPO_EP_UP) {
			continue;
		}
		i = px_pause_entry(t->name, t->state != TOPO_EP_UP);
		if (i == __atomic_load_n(&px_pause_n, __ATOMIC_ACQUIRE)) {
			ok = ok && t->state == TOPO_EP_UP; /* no entry: up, unless there was no room */
			continue;
		}
		if (px_pause_store(i, true, t->state) && changed != NULL) {
			changed(t->name, arg);
		}
	}
	/* shards the snapshot no longer has lose their state */
	n = restrict_only ? 0 : __atomic_load_n(&px_pause_n, __ATOMIC_ACQUIRE);
	for (unsigned int i = 0; i < n; i++) {
		if (topo_shard_find(snap, px_pauses[i].name) < 0 &&
		    px_pause_store(i, true, TOPO_EP_UP) && changed != NULL) {
			changed(px_pauses[i].name, arg);
		}
	}
	pthread_mutex_unlock(&px_pause_mu);
	return ok;
}

/* Worker side: one lock-free look per statement, a single load when nothing is set. */
static bool
px_pause_find(const char *name, unsigned int *paused, unsigned int *state)
{
	unsigned int n;

	if (MS_LIKELY(__atomic_load_n(&px_pause_active, __ATOMIC_ACQUIRE) == 0)) {
		return false;
	}
	n = __atomic_load_n(&px_pause_n, __ATOMIC_ACQUIRE);
	for (unsigned int i = 0; i < n; i++) {
		if (strcmp(px_pauses[i].name, name) == 0) {
			*paused = __atomic_load_n(&px_pauses[i].paused, __ATOMIC_ACQUIRE);
			*state = __atomic_load_n(&px_pauses[i].state, __ATOMIC_ACQUIRE);
			return true;
		}
	}
	return false;
}

bool
px_pause_cmd_is(const char *name)
{
	unsigned int paused = 0, state = TOPO_EP_UP;

	return px_pause_find(name, &paused, &state) && paused != 0;
}

unsigned int
px_shard_state(const char *name)
{
	unsigned int paused = 0, state = TOPO_EP_UP;

	if (!px_pause_find(name, &paused, &state)) {
		return TOPO_EP_UP;
	}
	return state == TOPO_EP_UP && paused != 0 ? (unsigned int)TOPO_EP_PAUSED : state;
}

const char *
px_shard_state_name(unsigned int state)
{
	switch (state) {
	case TOPO_EP_PAUSED: return "paused";
	case TOPO_EP_DRAINING: return "draining";
	case TOPO_EP_DOWN: return "down";
	default: return "up";
	}
}

bool
px_pause_is(const char *name)
{
	return px_shard_state(name) == TOPO_EP_PAUSED;
}

const char *
px_pause_why(const char *name)
{
	return px_pause_cmd_is(name) ? "PAUSE SHARD" : "endpoints.state 'paused'";
}

void
px_pool_init(struct px_pool *p, struct px_worker *w, size_t slot, unsigned int variant)
{
	p->shard_name[0] = '\0';
	p->w = w;
	p->shard = slot;
	p->variant = variant;
	TAILQ_INIT(&p->idle);
	TAILQ_INIT(&p->busy);
	TAILQ_INIT(&p->waiters);
}

static bool
px_pool_same_endpoint(const struct topo_shard *a, const struct topo_shard *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0 &&
	       strcmp(a->user, b->user) == 0 && strcmp(a->password, b->password) == 0;
}

void
px_pool_target(struct px_pool *p, const struct topo_snapshot *snap, size_t idx)
{
	const struct topo_snapshot *old = p->ep_snap;
	struct px_backend *b;

	if (old == snap && p->ep_idx == idx) {
		return;
	}
	if (old == NULL) {
		snprintf(p->shard_name, sizeof(p->shard_name), "%s", snap->shards[idx].name);
		if (p->variant == 0) { /* a new endpoint in this slot: its own figures from zero */
			memset(&p->w->slot_lat[p->shard], 0, sizeof(p->w->slot_lat[p->shard]));
		}
	} else if (!px_pool_same_endpoint(&old->shards[p->ep_idx], &snap->shards[idx])) {
		p->gen++;
		ms_log_info("worker %u: shard %s moves from %s:%u to %s:%u", p->w->idx, p->shard_name,
			    old->shards[p->ep_idx].host, old->shards[p->ep_idx].port,
			    snap->shards[idx].host, snap->shards[idx].port);
		while ((b = TAILQ_FIRST(&p->idle)) != NULL) {
			TAILQ_REMOVE(&p->idle, b, link);
			p->n_idle--;
			p->w->stats.backend_closed++;
			px_backend_free(b, true);
		}
	}
	p->ep_snap = topo_ref(snap);
	p->ep_idx = idx;
	if (old != NULL) {
		topo_unref(old);
	}
}

void
px_pool_close_idle(struct px_pool *p)
{
	struct px_backend *b;

	while ((b = TAILQ_FIRST(&p->idle)) != NULL) {
		TAILQ_REMOVE(&p->idle, b, link);
		p->n_idle--;
		p->w->stats.backend_closed++;
		px_backend_free(b, true);
	}
}

bool
px_pool_empty(const struct px_pool *p)
{
	return p->n_idle == 0 && p->n_busy == 0 && TAILQ_EMPTY(&p->waiters);
}

void
px_pool_deinit(struct px_pool *p)
{
	struct px_backend *b;

	while ((b = TAILQ_FIRST(&p->idle)) != NULL) {
		TAILQ_REMOVE(&p->idle, b, link);
		px_backend_free(b, true);
	}
	while ((b = TAILQ_FIRST(&p->busy)) != NULL) {
		TAILQ_REMOVE(&p->busy, b, link);
		px_backend_free(b, false);
	}
	p->n_idle = p->n_busy = p->n_connecting = 0;
	if (p->ep_snap != NULL) {
		topo_unref(p->ep_snap);
		p->ep_snap = NULL;
	}
	if (p->down_ev_set) {
		event_del(&p->down_ev);
		p->down_ev_set = false;
	}
}

static void px_pool_grow(struct px_pool *p);

/* True if statements for <p>'s shard are refused now: an operator set it down or draining, or
 * its health checks fail; <why> (at least 300 bytes) then says so. */
static bool
px_pool_refused(struct px_pool *p, char *why, size_t len)
{
	switch (px_shard_state(p->shard_name)) {
	case TOPO_EP_DOWN:
		snprintf(why, len, "shard %s is down (set by an operator: endpoints.state 'down')",
			 p->shard_name);
		return true;
	case TOPO_EP_DRAINING:
		snprintf(why, len, "shard %s is draining (endpoints.state 'draining'): it takes no new "
			 "statements, only those of sessions that already hold a connection to it",
			 p->shard_name);
		return true;
	default:
		if (p->health == NULL || strcmp(px_health_name(p->health), p->shard_name) != 0) {
			p->health = px_health_of(p->shard_name);
		}
		return px_health_down(p->health, why, len);
	}
}

/* Fails every waiter of <p> if its shard is refused (see px_pool_refused); false if not. */
static bool
px_pool_fail_refused(struct px_pool *p)
{
	char why[400];
	struct px_session *s;

	if (!px_pool_refused(p, why, sizeof(why))) {
		return false;
	}
	while ((s = TAILQ_FIRST(&p->waiters)) != NULL) {
		TAILQ_REMOVE(&p->waiters, s, wait_link);
		s->in_wait_list = false;
		p->n_waiting--;
		px_session_backend_failed(s, why);
	}
	return true;
}

/* The shard is refused (down, draining): every waiter gets its ERR now, from the loop. */
static void
px_pool_down_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_pool *p = arg;

	(void)fd;
	(void)what;
	if (!px_pool_fail_refused(p) && !TAILQ_EMPTY(&p->waiters)) {
		px_pool_grow(p); /* back up meanwhile: serve them normally */
	}
}

/* Runs px_pool_down_cb from the loop (never inside the caller's frame). */
static void
px_pool_down_soon(struct px_pool *p)
{
	if (!p->down_ev_set) {
		event_assign(&p->down_ev, p->w->base, -1, 0, px_pool_down_cb, p);
		p->down_ev_set = true;
	}
	event_active(&p->down_ev, EV_TIMEOUT, 0);
}

const char *
px_pool_shard_name(const struct px_pool *p)
{
	return p->shard_name;
}

/* Starts one more connection if the pool may grow. */
static void
px_pool_grow(struct px_pool *p)
{
	struct px_backend *b;
	const char *err = NULL;

	if (p->n_idle + p->n_busy >= p->w->conf->pool_max || p->ep_snap == NULL ||
	    px_shard_state(p->shard_name) != TOPO_EP_UP) {
		return; /* paused: later; down or draining: not at all */
	}
	b = px_backend_start(p, p->ep_snap, p->ep_idx, &err);
	p->w->stats.backend_connects++;
	if (b == NULL) {
		ms_log_error("worker %u: cannot start a connection to shard %s: %s", p->w->idx,
			     px_pool_shard_name(p), err);
		return;
	}
	b->gen = p->gen;
	TAILQ_INSERT_TAIL(&p->busy, b, link);
	p->n_busy++;
	p->n_connecting++;
}

static void
px_pool_assign(struct px_backend *b, struct px_session *s)
{
	b->state = PX_BE_ACTIVE;
	b->owner = s;
}

/*
 * An idle connection <s> can use. MySQL cannot unset a connection's default schema, so a
 * session without one only gets connections that never had one (else unqualified names would
 * resolve where the server would say 1046). If none is idle but others are, one of those is
 * closed to make room for a fresh connection.
 */
static struct px_backend *
px_pool_idle_for(struct px_pool *p, const struct px_session *s)
{
	struct px_backend *b;

	if (s->schema[0] != '\0') {
		return TAILQ_FIRST(&p->idle);
	}
	TAILQ_FOREACH (b, &p->idle, link) {
		if (b->schema[0] == '\0') {
			return b;
		}
	}
	b = TAILQ_LAST(&p->idle, px_backend_list);
	if (b != NULL && p->n_idle + p->n_busy >= p->w->conf->pool_max) {
		TAILQ_REMOVE(&p->idle, b, link);
		p->n_idle--;
		p->w->stats.backend_closed++;
		px_backend_free(b, true);
	}
	return NULL;
}

/*
 * The pool is full and nothing is idle: take back a connection that an idle session keeps only
 * so that its next statement could read LAST_INSERT_ID() or warnings (hold_prev). That session
 * then gets the documented 1235 refusal for such a statement; it loses nothing else. Scans
 * the worker's sessions, which happens only when the pool is exhausted.
 */
/* The connection of <p> that idle session <o> keeps only for its last statement's row count or
 * warnings (no transaction, pin or session state there), or NULL. */
static struct px_backend *
px_pool_kept_only(const struct px_pool *p, const struct px_session *o)
{
	struct px_backend *b = o->be;

	if (b == NULL || b->pool != p || b->gen != p->gen || o->state != PX_SESS_IDLE ||
	    !o->hold_prev || o->sticky != 0 || (o->status & MP_STATUS_IN_TRANS) ||
	    !(o->status & MP_STATUS_AUTOCOMMIT) || px_tx_owns(o, b)) {
		return NULL;
	}
	return b;
}

static struct px_backend *
px_pool_reclaim(struct px_pool *p, const struct px_session *s)
{
	struct px_session *o;
	struct px_backend *b;

	if (p->n_idle + p->n_busy < p->w->conf->pool_max) {
		return NULL;
	}
	TAILQ_FOREACH (o, &p->w->sessions, link) {
		if (o == s || (b = px_pool_kept_only(p, o)) == NULL ||
		    (s->schema[0] == '\0' && b->schema[0] != '\0')) {
			continue;
		}
		o->be = NULL;
		o->hold_prev = false;
		return b; /* stays on busy, ACTIVE; the caller assigns it */
	}
	return NULL;
}

struct px_backend *
px_pool_get(struct px_pool *p, struct px_session *s)
{
	struct px_backend *b;
	unsigned int state = px_shard_state(p->shard_name);

	if (state == TOPO_EP_PAUSED) { /* wait for RESUME SHARD / 'up' (or the wait timeout) */
		TAILQ_INSERT_TAIL(&p->waiters, s, wait_link);
		s->in_wait_list = true;
		p->n_waiting++;
		return NULL;
	}
	if (p->health == NULL || strcmp(px_health_name(p->health), p->shard_name) != 0) {
		p->health = px_health_of(p->shard_name);
	}
	if (__builtin_expect(state != TOPO_EP_UP || px_health_is_down(p->health), 0)) {
		/* fail fast: no connect, no wait; the ERR goes out from the loop */
		TAILQ_INSERT_TAIL(&p->waiters, s, wait_link);
		s->in_wait_list = true;
		p->n_waiting++;
		px_pool_down_soon(p);
		return NULL;
	}
	if (!TAILQ_EMPTY(&p->waiters) && p->n_idle > 0) {
		px_pool_resume(p); /* idle connections with waiters: left over from a pause */
	}
	b = TAILQ_EMPTY(&p->waiters) ? px_pool_idle_for(p, s) : NULL;

	if (b == NULL && TAILQ_EMPTY(&p->waiters)) {
		b = px_pool_reclaim(p, s);
		if (b != NULL) {
			px_pool_assign(b, s);
			return b;
		}
	}
	if (b != NULL) {
		TAILQ_REMOVE(&p->idle, b, link);
		p->n_idle--;
		TAILQ_INSERT_TAIL(&p->busy, b, link);
		p->n_busy++;
		px_pool_assign(b, s);
		return b;
	}
	TAILQ_INSERT_TAIL(&p->waiters, s, wait_link);
	s->in_wait_list = true;
	p->n_waiting++;
	/* connections already on their way serve the earlier waiters first */
	if (p->n_waiting > p->n_connecting) {
		px_pool_grow(p);
	}
	return NULL;
}

void
px_pool_cancel(struct px_pool *p, struct px_session *s)
{
	if (s->in_wait_list) {
		TAILQ_REMOVE(&p->waiters, s, wait_link);
		s->in_wait_list = false;
		p->n_waiting--;
	}
}

/* Hands <b> (on busy, not owned) to the first waiter that may use it, or parks it idle. */
static void
px_pool_offer(struct px_pool *p, struct px_backend *b)
{
	struct px_session *s;
	unsigned int state;

	TAILQ_FOREACH (s, &p->waiters, wait_link) {
		if (s->schema[0] != '\0' || b->schema[0] == '\0') {
			break;
		}
	}
	state = px_shard_state(p->shard_name);
	if (b->gen == p->gen && state == TOPO_EP_PAUSED) {
		/* paused: nobody gets it, it waits idle for RESUME SHARD */
		TAILQ_REMOVE(&p->busy, b, link);
		p->n_busy--;
		b->state = PX_BE_IDLE;
		b->owner = NULL;
		TAILQ_INSERT_HEAD(&p->idle, b, link);
		p->n_idle++;
		return;
	}

	if (b->gen != p->gen || (s == NULL && !TAILQ_EMPTY(&p->waiters)) ||
	    state >= TOPO_EP_DRAINING) {
		/* connected to an endpoint the shard has left, or only schema-less sessions wait:
		 * replace <b> with a fresh connection (for the waiters, if any); an operator set the
		 * shard down or draining: close it, and the waiters get their ERR (they queued
		 * before the change, or on the way to it) */
		TAILQ_REMOVE(&p->busy, b, link);
		p->n_busy--;
		p->w->stats.backend_closed++;
		px_backend_free(b, true);
		if (!TAILQ_EMPTY(&p->waiters) && state >= TOPO_EP_DRAINING) {
			px_pool_down_soon(p);
		} else if (!TAILQ_EMPTY(&p->waiters)) {
			px_pool_grow(p);
		}
		return;
	}
	if (s == NULL) {
		TAILQ_REMOVE(&p->busy, b, link);
		p->n_busy--;
		b->state = PX_BE_IDLE;
		b->owner = NULL;
		TAILQ_INSERT_HEAD(&p->idle, b, link);
		p->n_idle++;
		return;
	}
	TAILQ_REMOVE(&p->waiters, s, wait_link);
	s->in_wait_list = false;
	p->n_waiting--;
	px_pool_assign(b, s);
	px_session_backend_ready(s, b);
}

void
px_pool_put(struct px_backend *b)
{
	b->owner = NULL;
	if (b->killed) {
		px_pool_drop(b); /* a KILL QUERY for it may still be on its way */
		return;
	}
	px_pool_offer(b->pool, b);
}

void
px_pool_drop(struct px_backend *b)
{
	struct px_pool *p = b->pool;

	if (b->state == PX_BE_IDLE) {
		TAILQ_REMOVE(&p->idle, b, link);
		p->n_idle--;
	} else {
		TAILQ_REMOVE(&p->busy, b, link);
		p->n_busy--;
		if (b->state == PX_BE_CONNECTING) {
			p->n_connecting--;
		}
	}
	p->w->stats.backend_closed++;
	px_backend_free(b, false);
	if (!TAILQ_EMPTY(&p->waiters) && p->n_connecting == 0) {
		px_pool_grow(p);
	}
}

/* A connect failed: nothing else is coming for the waiters if nothing else is connecting or
 * running, so fail them all now with the server's reason. */
static void
px_pool_fail_waiters(struct px_pool *p, const char *err)
{
	char msg[700];
	struct px_session *s;
	bool all = p->n_connecting == 0 && p->n_busy == 0;

	snprintf(msg, sizeof(msg), "shard %s unavailable: %s", px_pool_shard_name(p), err);
	while ((s = TAILQ_FIRST(&p->waiters)) != NULL) {
		TAILQ_REMOVE(&p->waiters, s, wait_link);
		s->in_wait_list = false;
		p->n_waiting--;
		px_session_backend_failed(s, msg);
		if (!all) {
			break;
		}
	}
}

void
px_pool_connected(struct px_backend *b, const char *err)
{
	struct px_pool *p = b->pool;

	p->n_connecting--;
	b->state = PX_BE_ACTIVE; /* on busy until offered */
	if (err == NULL) {
		px_pool_offer(p, b);
		return;
	}
	char why[256];

	snprintf(why, sizeof(why), "%s", err); /* <err> may live inside <b> */
	p->w->stats.backend_connect_failures++;
	ms_log_warn("worker %u: backend %llu: connect to shard %s failed: %s", p->w->idx,
		    (unsigned long long)b->id, px_pool_shard_name(p), why);
	TAILQ_REMOVE(&p->busy, b, link);
	p->n_busy--;
	px_backend_free(b, false);
	px_pool_fail_waiters(p, why);
}

void
px_pool_resume(struct px_pool *p)
{
	struct px_backend *b;

	if (px_shard_state(p->shard_name) >= TOPO_EP_DRAINING) {
		struct px_session *o;

		px_pool_close_idle(p); /* down or draining: nothing new goes there */
		(void)px_pool_fail_refused(p);
		/* idle sessions that only keep their last statement's connection (its row count,
		 * warnings) give it up now: it closes; a transaction or a pin keeps its own */
		TAILQ_FOREACH (o, &p->w->sessions, link) {
			if ((b = px_pool_kept_only(p, o)) == NULL) {
				continue;
			}
			o->be = NULL;
			o->hold_prev = false;
			px_pool_put(b);
		}
		return;
	}

	while (!TAILQ_EMPTY(&p->waiters) && (b = TAILQ_FIRST(&p->idle)) != NULL &&
	       !px_pause_is(p->shard_name)) {
		TAILQ_REMOVE(&p->idle, b, link);
		p->n_idle--;
		TAILQ_INSERT_TAIL(&p->busy, b, link);
		p->n_busy++;
		b->state = PX_BE_ACTIVE;
		px_pool_offer(p, b);
	}
	while (p->n_waiting > p->n_connecting && p->n_idle + p->n_busy < p->w->conf->pool_max &&
	       !px_pause_is(p->shard_name)) {
		unsigned int before = p->n_connecting;

		px_pool_grow(p);
		if (p->n_connecting == before) {
			break; /* could not start one (logged) */
		}
	}
}
