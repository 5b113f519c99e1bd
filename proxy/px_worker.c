/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_worker.c - worker thread lifecycle and mailbox.
 */
#include "proxy/px_worker.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "proxy/px_command.h"
#include "proxy/px_pool.h"
#include "proxy/px_tx.h"
#include "protocol/mp_result.h"
#include "proxy/px_sess_io.h"
#include "proxy/px_session.h"
#include "router/rt_arena.h"
#include "topology/topo.h"

#include <ck_ring.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#define PX_RING_SIZE 4096 /* power of two; capacity is one less */

enum px_msg_kind {
	PX_MSG_FD = 0, /* a new client socket */
	PX_MSG_STOP,   /* close everything and leave the loop */
	PX_MSG_RESUME, /* shard <peer> was resumed: serve the waiters of its pools */
	PX_MSG_ASK,    /* answer <ask> (SHOW CLIENTS, KILL CLIENT) */
	PX_MSG_KILL,   /* a client's KILL: find session <kill_id> here, answer the asker's worker */
	PX_MSG_KILL_DONE, /* the answer to a PX_MSG_KILL, for session <from_session> here */
	PX_MSG_DRAIN,  /* SIGTERM: close idle sessions now, the others when their statement ends */
};

struct px_ask {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned int refs;    /* under <mu>: the asker and every worker not done yet */
	unsigned int pending; /* under <mu>: workers still to answer */
	uint64_t kill_id;
	bool digests;                /* SHOW QUERY DIGESTS: <drows> instead of <rows> */
	struct px_digest *drows;     /* under <mu> */
	size_t n_drows, cap_drows;
	struct px_client_row *rows; /* under <mu> */
	size_t n_rows, cap;
	size_t killed;
	bool branches;               /* deadlock detection: <brows> instead of <rows> */
	struct px_branch_row *brows; /* under <mu> */
	size_t n_brows, cap_brows;
	uint64_t victim_id;          /* mark this session's transaction a deadlock victim */
	size_t victims;
};

struct px_msg {
	enum px_msg_kind kind;
	int fd;
	struct px_ask *ask;
	char peer[64]; /* PX_MSG_FD: the client's address */
	char shard[PX_NAME_MAX + 1]; /* PX_MSG_RESUME: the shard's name */
	/* PX_MSG_KILL / PX_MSG_KILL_DONE */
	uint64_t kill_id, from_session;
	uint32_t req;
	unsigned int from_worker;
	bool query;
	uint8_t result; /* KILL_DONE: 0 not here, 1 killed, 2 not the asker's */
	char user[PX_USER_MAX + 1];
};

/* The stop message needs no allocation, so stopping cannot fail for lack of memory. */
static struct px_msg px_stop_msg = { .kind = PX_MSG_STOP, .fd = -1 };
static struct px_msg px_drain_msg = { .kind = PX_MSG_DRAIN, .fd = -1 };

static void
px_ask_unref(struct px_ask *a)
{
	unsigned int left;

	pthread_mutex_lock(&a->mu);
	left = --a->refs;
	pthread_mutex_unlock(&a->mu);
	if (left == 0) {
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->cv);
		free(a->rows);
		free(a->drows);
		free(a->brows);
		free(a);
	}
}

static void
px_client_row_fill(struct px_worker *w, const struct px_session *s, struct px_client_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = s->id;
	r->worker = w->idx;
	snprintf(r->user, sizeof(r->user), "%s", s->user);
	snprintf(r->peer, sizeof(r->peer), "%s", s->peer);
	snprintf(r->schema, sizeof(r->schema), "%s", s->schema);
	r->state = px_sess_state_name(s->state);
	if (s->be != NULL) {
		snprintf(r->shard, sizeof(r->shard), "%s", px_pool_shard_name(s->be->pool));
	}
	for (unsigned int i = 0; i < s->tx.n; i++) {
		/* the shards the open transaction holds connections to */
		const struct px_backend *b = s->tx.br[i].be;
		size_t at = strlen(r->shard);

		if (b != NULL && b != s->be) {
			snprintf(r->shard + at, sizeof(r->shard) - at, "%s%s", at > 0 ? "," : "",
				 px_pool_shard_name(b->pool));
		}
	}
	r->pinned = s->sticky != 0;
	r->in_trans = s->tx.open || (s->status & MP_STATUS_IN_TRANS) != 0;
}

/* A question this worker will never answer (it is stopping). */
static void
px_ask_drop(struct px_ask *a)
{
	pthread_mutex_lock(&a->mu);
	a->pending--;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	px_ask_unref(a);
}

/* Worker side of px_workers_ask(). */
static void
px_worker_answer(struct px_worker *w, struct px_ask *a)
{
	struct px_session *s, *next;
	size_t killed = 0;

	if (a->kill_id != 0) {
		for (s = TAILQ_FIRST(&w->sessions); s != NULL; s = next) {
			next = TAILQ_NEXT(s, link);
			if (s->id == a->kill_id && s->state != PX_SESS_CLOSING &&
			    s->state != PX_SESS_DONE) {
				ms_log_info("session %llu: killed by the admin port",
					    (unsigned long long)s->id);
				px_sess_close(s, "KILL CLIENT");
				px_sess_settle(s);
				killed++;
			}
		}
	}
	for (s = TAILQ_FIRST(&w->sessions); a->victim_id != 0 && s != NULL; s = TAILQ_NEXT(s, link)) {
		if (s->id == a->victim_id && s->tx.open) {
			s->tx.victim = true;
			killed++;
		}
	}
	pthread_mutex_lock(&a->mu);
	if (a->victim_id != 0) {
		a->victims += killed;
		killed = 0;
	}
	a->killed += killed;
	TAILQ_FOREACH (s, &w->sessions, link) {
		if (!a->branches) {
			break;
		}
		for (unsigned int i = 0; i <= s->tx.n; i++) {
			/* the branches, and a backend in a transaction of its own */
			const struct px_backend *b = i < s->tx.n ? s->tx.br[i].be : s->be;
			struct px_branch_row *r;

			if (b == NULL || (i == s->tx.n && (px_tx_owns(s, b) ||
							   !(s->status & MP_STATUS_IN_TRANS)))) {
				continue;
			}
			if (a->n_brows == a->cap_brows) {
				size_t cap = a->cap_brows == 0 ? 64 : 2 * a->cap_brows;

				r = realloc(a->brows, cap * sizeof(*r));
				if (r == NULL) {
					break;
				}
				a->brows = r;
				a->cap_brows = cap;
			}
			r = &a->brows[a->n_brows++];
			r->session = s->id;
			r->server_id = b->server_id;
			snprintf(r->shard, sizeof(r->shard), "%s", px_pool_shard_name(b->pool));
		}
	}
	for (size_t i = 0; a->digests && w->digests != NULL && i <= PX_DIGEST_SLOTS; i++) {
		if (w->digests[i].text[0] == '\0') {
			continue;
		}
		if (a->n_drows == a->cap_drows) {
			size_t cap = a->cap_drows == 0 ? 64 : 2 * a->cap_drows;
			struct px_digest *d = realloc(a->drows, cap * sizeof(*d));

			if (d == NULL) {
				break;
			}
			a->drows = d;
			a->cap_drows = cap;
		}
		a->drows[a->n_drows++] = w->digests[i];
	}
	TAILQ_FOREACH (s, &w->sessions, link) {
		if (a->kill_id != 0 || a->digests || a->branches || a->victim_id != 0) {
			break;
		}
		if (a->n_rows == a->cap) {
			size_t cap = a->cap == 0 ? 64 : 2 * a->cap;
			struct px_client_row *r = realloc(a->rows, cap * sizeof(*r));

			if (r == NULL) {
				break; /* the list comes out short; nothing else to do */
			}
			a->rows = r;
			a->cap = cap;
		}
		px_client_row_fill(w, s, &a->rows[a->n_rows++]);
	}
	a->pending--;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	px_ask_unref(a);
}

static bool px_worker_post(struct px_worker *w, struct px_msg *m);

/* A client's KILL for a session that may live here (any worker gets it). */
static void
px_worker_kill(struct px_worker *w, struct px_msg *m)
{
	struct px_session *s;
	struct px_msg *r = calloc(1, sizeof(*r));
	uint8_t result = 0;

	TAILQ_FOREACH (s, &w->sessions, link) {
		/* clients know the low 32 bits (the handshake's connection id) */
		if ((uint32_t)s->id != (uint32_t)m->kill_id || s->state == PX_SESS_CLOSING ||
		    s->state == PX_SESS_DONE) {
			continue;
		}
		if (strcmp(s->user, m->user) != 0) {
			result = 2;
		} else if (m->query) {
			ms_log_info("session %llu: KILL QUERY from session %llu",
				    (unsigned long long)s->id, (unsigned long long)m->from_session);
			px_sess_kill_query(s);
			result = 1;
		} else {
			ms_log_info("session %llu: killed by session %llu", (unsigned long long)s->id,
				    (unsigned long long)m->from_session);
			px_sess_close(s, "KILL CONNECTION");
			px_sess_settle(s);
			result = 1;
		}
		break;
	}
	if (r == NULL) {
		return; /* the asker waits on; out of memory is not expected to last */
	}
	r->kind = PX_MSG_KILL_DONE;
	r->fd = -1;
	r->from_session = m->from_session;
	r->req = m->req;
	r->result = result;
	if (m->from_worker >= w->n_all || !px_worker_post(&w->all[m->from_worker], r)) {
		free(r);
	}
}

static void
px_worker_kill_done(struct px_worker *w, const struct px_msg *m)
{
	struct px_session *s;

	TAILQ_FOREACH (s, &w->sessions, link) {
		if (s->id == m->from_session) {
			px_cmd_kill_answer(s, m->req, m->result);
			return; /* (it may be freed now) */
		}
	}
}

unsigned int
px_worker_send_kill(struct px_worker *w, uint64_t from_session, uint32_t req, uint64_t id,
		    bool query, const char *user)
{
	unsigned int posted = 0;

	for (unsigned int i = 0; i < w->n_all; i++) {
		struct px_msg *m = calloc(1, sizeof(*m));

		if (m == NULL) {
			continue;
		}
		m->kind = PX_MSG_KILL;
		m->fd = -1;
		m->kill_id = id;
		m->from_session = from_session;
		m->req = req;
		m->from_worker = w->idx;
		m->query = query;
		snprintf(m->user, sizeof(m->user), "%s", user);
		if (!px_worker_post(&w->all[i], m)) {
			free(m);
			continue;
		}
		posted++;
	}
	return posted;
}


static const struct timeval px_drain_sweep = { 0, 100 * 1000 };

/* While draining: idle sessions whose login grace has passed are closed (px_session_drain_all). */
static void
px_worker_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_worker *w = arg;

	(void)fd;
	(void)what;
	px_session_drain_all(w);
	if (w->n_sessions == 0 && w->drain_ev_set) {
		event_del(&w->drain_ev);
		w->drain_ev_set = false;
	}
}

static void
px_worker_ring(struct px_worker *w)
{
	uint64_t n;
	void *p;

	if (read(w->efd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
		ms_log_warn("worker %u: eventfd read: %s", w->idx, strerror(errno));
	}
	while (ck_ring_dequeue_mpsc(w->ring, w->ring_buf, &p)) {
		struct px_msg *m = p;

		if (m->kind == PX_MSG_FD) {
			if (w->stopping) {
				close(m->fd);
			} else {
				px_session_accept(w, m->fd, m->peer);
			}
		} else if (m->kind == PX_MSG_ASK) {
			px_worker_answer(w, m->ask);
		} else if (m->kind == PX_MSG_KILL) {
			if (!w->stopping) {
				px_worker_kill(w, m);
			}
		} else if (m->kind == PX_MSG_KILL_DONE) {
			if (!w->stopping) {
				px_worker_kill_done(w, m);
			}
		} else if (m->kind == PX_MSG_DRAIN) {
			w->draining = true;
			px_session_drain_all(w);
			if (!w->drain_ev_set) {
				event_assign(&w->drain_ev, w->base, -1, EV_PERSIST, px_worker_drain_cb, w);
				w->drain_ev_set = event_add(&w->drain_ev, &px_drain_sweep) == 0;
			}
		} else if (m->kind == PX_MSG_RESUME) {
			for (size_t k = 0; k < PX_SLOTS; k++) {
				if (w->pools[k * PX_VARIANTS].ep_snap == NULL ||
				    strcmp(w->pools[k * PX_VARIANTS].shard_name, m->shard) != 0) {
					continue;
				}
				for (unsigned int v = 0; v < PX_VARIANTS; v++) {
					px_pool_resume(px_worker_pool(w, k, v));
				}
			}
		} else {
			w->stopping = true;
			event_base_loopexit(w->base, NULL);
		}
		if (m != &px_stop_msg && m != &px_drain_msg) {
			free(m);
		}
	}
}

static void
px_worker_mbox_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	px_worker_ring(arg);
}

static bool
px_worker_post(struct px_worker *w, struct px_msg *m)
{
	uint64_t one = 1;

	if (!ck_ring_enqueue_mpsc(w->ring, w->ring_buf, m)) {
		return false;
	}
	if (write(w->efd, &one, sizeof(one)) < 0) {
		ms_log_warn("worker %u: eventfd write: %s", w->idx, strerror(errno));
	}
	return true;
}

/* Posts <a> to every worker and waits for their answers; false if some did not answer in time.
 * Returns with <a->mu> held (the caller copies what it needs, then unlocks and unrefs). */
static bool
px_ask_run(struct px_worker *ws, unsigned int n, struct px_ask *a, unsigned int timeout_ms)
{
	struct timespec until;

	for (unsigned int i = 0; i < n; i++) {
		struct px_msg *m = calloc(1, sizeof(*m));

		if (m == NULL) {
			continue;
		}
		m->kind = PX_MSG_ASK;
		m->fd = -1;
		m->ask = a;
		pthread_mutex_lock(&a->mu);
		a->refs++;
		a->pending++;
		pthread_mutex_unlock(&a->mu);
		if (!px_worker_post(&ws[i], m)) {
			free(m);
			pthread_mutex_lock(&a->mu);
			a->refs--;
			a->pending--;
			pthread_mutex_unlock(&a->mu);
		}
	}
	until = ms_deadline(timeout_ms);
	pthread_mutex_lock(&a->mu);
	while (a->pending > 0 && pthread_cond_timedwait(&a->cv, &a->mu, &until) == 0) {
	}
	return a->pending == 0;
}

static struct px_ask *
px_ask_new(void)
{
	struct px_ask *a = calloc(1, sizeof(*a));

	if (a != NULL) {
		pthread_mutex_init(&a->mu, NULL);
		pthread_cond_init(&a->cv, NULL);
		a->refs = 1;
	}
	return a;
}

bool
px_workers_digests(struct px_worker *ws, unsigned int n, unsigned int timeout_ms,
		   struct px_digest **out, size_t *n_out)
{
	struct px_ask *a = px_ask_new();
	bool all;

	*out = NULL;
	*n_out = 0;
	if (a == NULL) {
		return false;
	}
	a->digests = true;
	all = px_ask_run(ws, n, a, timeout_ms);
	*out = a->drows; /* taken over */
	*n_out = a->n_drows;
	a->drows = NULL;
	pthread_mutex_unlock(&a->mu);
	px_ask_unref(a);
	return all;
}

bool
px_workers_ask(struct px_worker *ws, unsigned int n, uint64_t kill_id, unsigned int timeout_ms,
	       struct px_client_row **rows, size_t *n_rows)
{
	struct px_ask *a = px_ask_new();
	bool all;

	*rows = NULL;
	*n_rows = 0;
	if (a == NULL) {
		return false;
	}
	a->kill_id = kill_id;
	all = px_ask_run(ws, n, a, timeout_ms);
	if (kill_id != 0) {
		*n_rows = a->killed;
	} else if (a->n_rows > 0) {
		*rows = malloc(a->n_rows * sizeof(**rows));
		if (*rows != NULL) {
			memcpy(*rows, a->rows, a->n_rows * sizeof(**rows));
			*n_rows = a->n_rows;
		}
	}
	pthread_mutex_unlock(&a->mu);
	px_ask_unref(a);
	return all;
}

bool
px_workers_branches(struct px_worker *ws, unsigned int n, unsigned int timeout_ms,
		    struct px_branch_row **out, size_t *n_out)
{
	struct px_ask *a = px_ask_new();
	bool all;

	*out = NULL;
	*n_out = 0;
	if (a == NULL) {
		return false;
	}
	a->branches = true;
	all = px_ask_run(ws, n, a, timeout_ms);
	*out = a->brows; /* taken over */
	*n_out = a->n_brows;
	a->brows = NULL;
	pthread_mutex_unlock(&a->mu);
	px_ask_unref(a);
	return all;
}

bool
px_workers_victim(struct px_worker *ws, unsigned int n, uint64_t id, unsigned int timeout_ms)
{
	struct px_ask *a = px_ask_new();
	bool found;

	if (a == NULL) {
		return false;
	}
	a->victim_id = id;
	(void)px_ask_run(ws, n, a, timeout_ms);
	found = a->victims > 0;
	pthread_mutex_unlock(&a->mu);
	px_ask_unref(a);
	return found;
}

bool
px_worker_send_resume(struct px_worker *w, const char *shard)
{
	struct px_msg *m = malloc(sizeof(*m));

	if (m == NULL) {
		return false;
	}
	m->kind = PX_MSG_RESUME;
	m->fd = -1;
	snprintf(m->shard, sizeof(m->shard), "%s", shard);
	if (!px_worker_post(w, m)) {
		free(m);
		return false;
	}
	return true;
}

bool
px_worker_send_fd(struct px_worker *w, int fd, const char *peer)
{
	struct px_msg *m = malloc(sizeof(*m));

	if (m == NULL) {
		return false;
	}
	m->kind = PX_MSG_FD;
	m->fd = fd;
	snprintf(m->peer, sizeof(m->peer), "%s", peer);
	if (!px_worker_post(w, m)) {
		free(m);
		return false;
	}
	return true;
}

struct px_pool *
px_worker_pool(struct px_worker *w, size_t slot, unsigned int variant)
{
	return &w->pools[slot * PX_VARIANTS + variant];
}

/* The slot whose pools serve shard <name>, or an unused one (then targeted by the caller). */
static size_t
px_worker_find_slot(struct px_worker *w, const char *name)
{
	size_t unused = SIZE_MAX;

	for (size_t k = 0; k < PX_SLOTS; k++) {
		const struct px_pool *p = &w->pools[k * PX_VARIANTS];

		if (p->ep_snap != NULL && strcmp(p->shard_name, name) == 0) {
			return k;
		}
		if (p->ep_snap == NULL && unused == SIZE_MAX) {
			unused = k;
		}
	}
	/* a snapshot needs at most TOPO_MAX_SHARDS slots; px_worker_remap() frees the slots of
	 * shards that left before it assigns new ones, keeping only those still busy: running
	 * out takes more than TOPO_MAX_SHARDS departed shards with statements in flight */
	MS_ASSERT(unused != SIZE_MAX);
	return unused;
}

/* A newer snapshot: map its shards to slots, re-target their pools, and release the slots of
 * shards it no longer has once nothing uses them. */
static void
px_worker_remap(struct px_worker *w, const struct topo_snapshot *snap)
{
	/* first: slots of shards <snap> no longer has lose their idle connections, and are freed
	 * when nothing else uses them */
	for (size_t k = 0; k < PX_SLOTS; k++) {
		const struct px_pool *p0 = &w->pools[k * PX_VARIANTS];
		bool empty = true;

		if (p0->ep_snap == NULL || topo_endpoint_find(snap, p0->shard_name) >= 0) {
			continue;
		}
		for (unsigned int v = 0; v < PX_VARIANTS; v++) {
			px_pool_close_idle(px_worker_pool(w, k, v));
			empty = empty && px_pool_empty(px_worker_pool(w, k, v));
		}
		for (unsigned int v = 0; empty && v < PX_VARIANTS; v++) {
			px_pool_deinit(px_worker_pool(w, k, v));
		}
	}
	for (size_t i = 0; i < snap->n_endpoints; i++) { /* shards, then read replicas */
		size_t k = px_worker_find_slot(w, snap->shards[i].name);

		for (unsigned int v = 0; v < PX_VARIANTS; v++) {
			px_pool_target(px_worker_pool(w, k, v), snap, i);
		}
		w->slot_of[i] = (uint16_t)k;
	}
	w->map_ver = snap->version;
}

static size_t
px_worker_find_slot_or_target(struct px_worker *w, const struct topo_snapshot *snap, size_t idx)
{
	size_t k = px_worker_find_slot(w, snap->shards[idx].name);

	if (w->pools[k * PX_VARIANTS].ep_snap == NULL) {
		for (unsigned int v = 0; v < PX_VARIANTS; v++) {
			px_pool_target(px_worker_pool(w, k, v), snap, idx);
		}
	}
	return k;
}

void
px_worker_sync(struct px_worker *w)
{
	const struct topo_snapshot *snap = topo_read_begin(w->topo);

	if (snap != NULL && snap->version > w->map_ver) {
		px_worker_remap(w, snap);
	}
	topo_read_end(w->topo);
}

size_t
px_worker_slot(struct px_worker *w, const struct topo_snapshot *snap, size_t idx)
{
	MS_ASSERT(idx < snap->n_endpoints);
	if (snap->version > w->map_ver) {
		px_worker_remap(w, snap);
	}
	if (snap->version == w->map_ver) {
		return w->slot_of[idx];
	}
	/* an older snapshot (a statement that started before the change): same name, same slot;
	 * a shard that has left since keeps its slot while anything of it is in use */
	return px_worker_find_slot_or_target(w, snap, idx);
}

static void *
px_worker_main(void *arg)
{
	struct px_worker *w = arg;

	ms_log_debug("worker %u: running", w->idx);
	rt_arena_thread_cache(true);
	event_base_dispatch(w->base);
	px_session_close_all(w);
	for (size_t i = 0; i < w->n_pools; i++) {
		px_pool_deinit(&w->pools[i]);
	}
	/* let libevent finish any callbacks queued by the closes above */
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	rt_arena_thread_cache(false);
	ms_log_debug("worker %u: stopped", w->idx);
	return NULL;
}

static enum ms_rc
px_worker_init(struct px_worker *w, unsigned int idx, const struct conf *conf, struct topo_domain *topo)
{
	struct event_config *cfg = event_config_new();

	w->idx = idx;
	w->conf = conf;
	w->efd = -1;
	TAILQ_INIT(&w->sessions);
	if (cfg == NULL) {
		return MS_ENOMEM;
	}
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->ring = calloc(1, sizeof(*w->ring));
	w->ring_buf = calloc(PX_RING_SIZE, sizeof(*w->ring_buf));
	w->n_pools = (size_t)PX_SLOTS * PX_VARIANTS;
	w->pools = calloc(w->n_pools, sizeof(*w->pools));
	w->slot_lat = calloc(PX_SLOTS, sizeof(*w->slot_lat));
	if (w->base == NULL || w->efd < 0 || w->ring == NULL || w->ring_buf == NULL || w->pools == NULL ||
	    w->slot_lat == NULL) {
		return MS_ENOMEM;
	}
	if (topo_reader_new(topo, &w->topo) != MS_OK) {
		return MS_ENOMEM;
	}
	ck_ring_init(w->ring, PX_RING_SIZE);
	for (size_t i = 0; i < w->n_pools; i++) {
		px_pool_init(&w->pools[i], w, i / PX_VARIANTS, (unsigned int)(i % PX_VARIANTS));
	}
	event_assign(&w->mbox_ev, w->base, w->efd, EV_READ | EV_PERSIST, px_worker_mbox_cb, w);
	if (event_add(&w->mbox_ev, NULL) != 0) {
		return MS_EIO;
	}
	return MS_OK;
}

static void
px_worker_deinit(struct px_worker *w)
{
	void *p;

	if (w->drain_ev_set) {
		event_del(&w->drain_ev);
		w->drain_ev_set = false;
	}
	if (w->ring != NULL && w->ring_buf != NULL) {
		while (ck_ring_dequeue_mpsc(w->ring, w->ring_buf, &p)) {
			struct px_msg *m = p;

			if (m->kind == PX_MSG_FD) {
				close(m->fd);
			} else if (m->kind == PX_MSG_ASK) {
				px_ask_drop(m->ask);
			}
			if (m != &px_stop_msg && m != &px_drain_msg) {
				free(m);
			}
		}
	}
	if (w->base != NULL) {
		event_del(&w->mbox_ev);
		event_base_free(w->base);
	}
	if (w->efd >= 0) {
		close(w->efd);
	}
	topo_reader_free(w->topo);
	free(w->ring);
	free(w->ring_buf);
	free(w->pools);
	free(w->slot_lat);
	free(w->seqs);
	free(w->digests);
}

enum ms_rc
px_workers_start(const struct conf *conf, struct topo_domain *topo, unsigned int n,
		 struct px_worker **out)
{
	struct px_worker *ws = calloc(n, sizeof(*ws));
	unsigned int started = 0;

	*out = NULL;
	if (ws == NULL) {
		return MS_ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		ws[i].all = ws;
		ws[i].n_all = n;
		if (px_worker_init(&ws[i], i, conf, topo) != MS_OK) {
			ms_log_error("worker %u: cannot initialise", i);
			goto fail;
		}
	}
	for (; started < n; started++) {
		if (pthread_create(&ws[started].thread, NULL, px_worker_main, &ws[started]) != 0) {
			ms_log_error("worker %u: cannot start thread", started);
			goto fail;
		}
	}
	*out = ws;
	return MS_OK;
fail:
	for (unsigned int i = 0; i < started; i++) {
		while (!px_worker_post(&ws[i], &px_stop_msg)) {
			sched_yield();
		}
		pthread_join(ws[i].thread, NULL);
	}
	for (unsigned int i = 0; i < n; i++) {
		px_worker_deinit(&ws[i]);
	}
	free(ws);
	return MS_ENOMEM;
}

void
px_workers_drain(struct px_worker *ws, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		while (!px_worker_post(&ws[i], &px_drain_msg)) {
			sched_yield();
		}
	}
}

void
px_workers_stop(struct px_worker *ws, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		while (!px_worker_post(&ws[i], &px_stop_msg)) {
			sched_yield(); /* ring full of connections: the worker drains it */
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		pthread_join(ws[i].thread, NULL);
		px_worker_deinit(&ws[i]);
	}
	free(ws);
}
