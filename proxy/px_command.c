/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_command.c - the command phase. A command is read whole (continuation packets
 * included) before anything is decided; local answers are built here; everything else goes to
 * a pooled backend after replaying the session's schema and charset on it, and the response is
 * streamed back one complete packet at a time with evbuffer moves (no row is decoded). Only OK
 * packets are rewritten: the backend leg tracks session state, the client leg does not.
 */
#include "proxy/px_command.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "protocol/mp_result.h"
#include "proxy/px_exec.h"
#include "proxy/px_health.h"
#include "proxy/px_load.h"
#include "proxy/px_xa.h"
#include "proxy/px_pool.h"
#include "proxy/px_tx.h"
#include "proxy/px_vars.h"
#include "router/rt_tx.h"
#include "proxy/px_sess_io.h"
#include "proxy/px_stmt.h"
#include "proxy/px_session.h"
#include "proxy/px_worker.h"
#include "router/rt_classify.h"
#include "router/rt_hint.h"
#include "router/rt_lex.h"
#include "router/rt_plan.h"
#include "topology/topo.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PX_SYNC_PKT_MAX 65536 /* replies to our own INIT_DB / SET NAMES are small */

enum px_scan {
	PX_SCAN_READY = 0, /* a whole command is buffered */
	PX_SCAN_MORE,      /* wait for more bytes */
	PX_SCAN_TOO_BIG,   /* payload over max_packet */
	PX_SCAN_BAD_SEQ,   /* a packet with the wrong sequence id */
};

struct px_cmd_frame {
	size_t total;       /* bytes of all packets, headers included */
	unsigned int npkts; /* packets (1 + continuations) */
	uint32_t first_len; /* payload bytes of the first packet */
	uint8_t bad_seq;
};

static void px_cmd_go(struct px_session *s);

/* Pins the session's backend for good for the rt_sticky reasons in <bits>. */
static void
px_cmd_pin(struct px_session *s, unsigned int bits)
{
	if (!(bits & ~s->sticky)) {
		return;
	}
	ms_log_debug("session %llu: pinned to its backend (%s)", (unsigned long long)s->id,
		     rt_sticky_name(bits & ~s->sticky));
	s->q_pin = rt_sticky_name(bits & ~s->sticky); /* counted with the statement's digest */
	s->w->stats.pins += s->sticky == 0;
	s->sticky |= bits;
}

static uint32_t
px_hdr_len(const uint8_t h[MP_HDR_LEN])
{
	return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
}

/* Walks the packet headers of the command at the front of <in>. */
/* Sets the sequence id of the packet whose header starts at <off> of <in>. */
static void
px_cmd_put_seq(struct evbuffer *in, size_t off, uint8_t seq)
{
	struct evbuffer_ptr ptr;
	struct evbuffer_iovec v;

	if (evbuffer_ptr_set(in, &ptr, off + 3, EVBUFFER_PTR_SET) == 0 &&
	    evbuffer_peek(in, 1, &ptr, &v, 1) >= 1 && v.iov_len >= 1) {
		*(uint8_t *)v.iov_base = seq;
	}
}

/*
 * Walks the packet headers of the command at the front of <in>. <renumber>: under the
 * compressed protocol the frames carry the order and servers do not check the packets' own
 * sequence ids (clients number them after the frames'); they are set to 0, 1, ... here, as the
 * backends expect them.
 */
static enum px_scan
px_cmd_scan(struct evbuffer *in, uint32_t max, bool renumber, struct px_cmd_frame *f)
{
	size_t off = 0, payload = 0, have = evbuffer_get_length(in);
	struct evbuffer_ptr ptr;
	uint8_t h[MP_HDR_LEN];

	for (f->npkts = 0;; f->npkts++) {
		uint32_t len;

		if (have < off + MP_HDR_LEN) {
			return PX_SCAN_MORE;
		}
		evbuffer_ptr_set(in, &ptr, off, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(in, &ptr, h, sizeof(h));
		len = px_hdr_len(h);
		if (h[3] != (uint8_t)f->npkts && renumber) {
			px_cmd_put_seq(in, off, (uint8_t)f->npkts);
		} else if (h[3] != (uint8_t)f->npkts) {
			f->bad_seq = h[3];
			return PX_SCAN_BAD_SEQ;
		}
		if (f->npkts == 0) {
			f->first_len = len;
		}
		payload += len;
		if (payload > max) {
			return PX_SCAN_TOO_BIG;
		}
		off += MP_HDR_LEN + len;
		if (len < MP_MAX_PAYLOAD) {
			if (have < off) {
				return PX_SCAN_MORE;
			}
			f->npkts++;
			f->total = off;
			return PX_SCAN_READY;
		}
	}
}

/* Drops the current command from the client input: it will not run (nor pin anything). */
static void
px_cmd_drain(struct px_session *s)
{
	evbuffer_drain(s->cl.in, s->cmd_len);
	s->cmd_len = 0;
	s->pend_sticky = 0;
	s->direct = NULL;
	s->set_track = false;
}

/* The command is answered here with an ERR; the session stays usable. */
static bool
px_cmd_refuse(struct px_session *s, uint16_t code, const char *state, const char *msg)
{
	px_cmd_drain(s);
	px_tx_cancel_stmt(s);
	free(s->set_pending);
	s->set_pending = NULL;
	px_sess_send_err(s, (uint8_t)s->cmd_pkts, code, state, "%s", msg);
	s->q_err = true;
	px_cmd_digest_end(s);
	return true;
}

void
px_cmd_drain_keep_pins(struct px_session *s)
{
	evbuffer_drain(s->cl.in, s->cmd_len);
	s->cmd_len = 0;
}

void
px_cmd_apply_pins(struct px_session *s)
{
	if (s->be != NULL) {
		px_cmd_pin(s, s->pend_sticky);
	}
	s->pend_sticky = 0;
}

unsigned int
px_cmd_variant(const struct px_session *s)
{
	return ((s->caps & MP_CLIENT_FOUND_ROWS) ? PX_VAR_FOUND_ROWS : 0) |
	       ((s->caps & MP_CLIENT_MULTI_STATEMENTS) ? PX_VAR_MULTI_STMTS : 0);
}

bool
px_cmd_pinned(const struct px_session *s)
{
	return s->be != NULL &&
	       (s->sticky != 0 || (!px_tx_owns(s, s->be) && ((s->status & MP_STATUS_IN_TRANS) ||
							     !(s->status & MP_STATUS_AUTOCOMMIT))));
}


/* timeouts.query_ms: the statement is cut off. Its backend connection is given up (and its
 * query killed on the server, px_xa_abandon); the client gets ERR 1969 (70100), as from a
 * server's max_statement_time, and goes on, unless the connection held state it needs (a
 * transaction, variables): then it is closed, as for any lost backend. */
static void
px_cmd_query_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct px_session *s = arg;
	struct px_backend *b = s->be;
	char why[160];

	(void)fd;
	(void)what;
	s->q_timer_added = false;
	if (s->ex != NULL) {
		b = px_exec_running_backend(s);
		if (b == NULL) {
			snprintf(why, sizeof(why), "it ran longer than timeouts.query_ms (%u ms)",
				 s->w->conf->query_ms);
			if (px_exec_time_out_waiting(s, why)) {
				ms_log_warn("session %llu: statement cut off after %u ms while waiting "
					    "for a connection (timeouts.query_ms)",
					    (unsigned long long)s->id, s->w->conf->query_ms);
				s->q_timed_out = true;
				px_sess_settle(s);
			}
			return;
		}
	} else if (s->state != PX_SESS_FORWARD) {
		return; /* waiting for a connection or committing: those have limits of their own */
	}
	if (b == NULL) {
		return;
	}
	ms_log_warn("session %llu: statement on backend %llu (shard %s) cut off after %u ms "
		    "(timeouts.query_ms)", (unsigned long long)s->id, (unsigned long long)b->id,
		    px_pool_shard_name(b->pool), s->w->conf->query_ms);
	s->q_timed_out = true;
	snprintf(why, sizeof(why), "it ran longer than timeouts.query_ms (%u ms)",
		 s->w->conf->query_ms);
	px_xa_abandon(b);
	px_session_backend_lost(s, b, why);
}

#define PX_FNV_BASIS 1469598103934665603ull
#define PX_FNV_PRIME 1099511628211ull

/* Copies the digest <from> (NUL-terminated, cut to PX_DIGEST_LEN) into <to> and hashes it on
 * the way: the digest table compares hashes before texts. */
static void
px_cmd_digest_copy(char to[PX_DIGEST_LEN], const char *from, uint64_t *hash)
{
	uint64_t h = PX_FNV_BASIS;
	size_t i = 0;

	for (; i < PX_DIGEST_LEN - 1 && from[i] != '\0'; i++) {
		to[i] = from[i];
		h = (h ^ (uint8_t)from[i]) * PX_FNV_PRIME;
	}
	to[i] = '\0';
	*hash = h;
}

/* The statement's start time, and its timer for timeouts.query_ms. */
static void
px_cmd_q_clock(struct px_session *s)
{
	s->q_start_us = ms_now_us();
	if (s->w->conf->query_ms > 0) {
		struct timeval tv = { s->w->conf->query_ms / 1000,
				      (s->w->conf->query_ms % 1000) * 1000 };

		if (!s->q_timer_set) {
			event_assign(&s->q_timer, s->w->base, -1, 0, px_cmd_query_timeout, s);
			s->q_timer_set = true;
		}
		s->q_timed_out = false;
		s->q_timer_added = event_add(&s->q_timer, &tv) == 0;
	}
}

void
px_cmd_digest_begin(struct px_session *s, const struct rt_plan *p)
{
	s->q_on = true;
	s->q_err = false;
	s->q_legs_timed = false;
	s->q_pin = NULL;
	s->q_rows = 0;
	s->q_scatter = p->scatter;
	s->q_shards = p->kind == RT_PLAN_SHARDS ? (unsigned int)p->n_legs : 0;
	if (s->q_retry) {
		s->q_retry = false; /* its first attempt's start and timer still hold */
	} else {
		px_cmd_q_clock(s);
	}
	px_cmd_digest_copy(s->q_digest, p->digest, &s->q_digest_hash);
}

/* The worker's entry for <text>: its slot, or the "(other)" one when the table is crowded. */
static struct px_digest *
px_cmd_digest_slot(struct px_worker *w, const char *text, uint64_t h)
{
	for (size_t i = 0; i < 32; i++) {
		struct px_digest *d = &w->digests[(h + i) % PX_DIGEST_SLOTS];

		if (d->text[0] == '\0') {
			snprintf(d->text, sizeof(d->text), "%s", text);
			d->hash = h;
			return d;
		}
		if (d->hash == h && strcmp(d->text, text) == 0) {
			return d;
		}
	}
	snprintf(w->digests[PX_DIGEST_SLOTS].text, PX_DIGEST_LEN, "(other)");
	return &w->digests[PX_DIGEST_SLOTS];
}

/* The class of a statement by the first word of its digest. */
static enum px_class
px_cmd_class(const char *digest)
{
#define PX_W(w, c) { w, sizeof(w) - 1, c }
	static const struct {
		const char *word;
		size_t len;
		enum px_class cls;
	} words[] = { /* the common ones first: this runs for every statement */
		PX_W("SELECT", PX_CLASS_READ),	    PX_W("INSERT", PX_CLASS_WRITE),
		PX_W("UPDATE", PX_CLASS_WRITE),	    PX_W("DELETE", PX_CLASS_WRITE),
		PX_W("BEGIN", PX_CLASS_TX),	    PX_W("COMMIT", PX_CLASS_TX),
		PX_W("SET", PX_CLASS_SESSION),	    PX_W("SHOW", PX_CLASS_READ),
		PX_W("DESC", PX_CLASS_READ),	    PX_W("DESCRIBE", PX_CLASS_READ),
		PX_W("EXPLAIN", PX_CLASS_READ),	    PX_W("WITH", PX_CLASS_READ),
		PX_W("(", PX_CLASS_READ),	    PX_W("REPLACE", PX_CLASS_WRITE),
		PX_W("LOAD", PX_CLASS_WRITE),	    PX_W("START", PX_CLASS_TX),
		PX_W("ROLLBACK", PX_CLASS_TX),	    PX_W("SAVEPOINT", PX_CLASS_TX),
		PX_W("RELEASE", PX_CLASS_TX),	    PX_W("XA", PX_CLASS_TX),
		PX_W("USE", PX_CLASS_SESSION),	    PX_W("CREATE", PX_CLASS_DDL),
		PX_W("ALTER", PX_CLASS_DDL),	    PX_W("DROP", PX_CLASS_DDL),
		PX_W("TRUNCATE", PX_CLASS_DDL),	    PX_W("RENAME", PX_CLASS_DDL),
	};
#undef PX_W
	size_t n = strcspn(digest, " (");

	if (n == 0 && digest[0] == '(') {
		n = 1;
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(words); i++) {
		if (words[i].len == n && strncasecmp(digest, words[i].word, n) == 0) {
			return words[i].cls;
		}
	}
	return PX_CLASS_OTHER;
}

void
px_cmd_lat_add(struct px_lat *l, uint64_t us, bool err)
{
	/* the metrics histogram: 50 µs .. 10 s, powers of about 2.5 */
	static const uint64_t le[PX_LAT_BUCKETS - 1] = PX_LAT_LE;
	size_t b = 0;

	while (b < PX_LAT_BUCKETS - 1 && us > le[b]) {
		b++;
	}
	l->bucket[b]++;
	l->sum_us += us;
	l->count++;
	l->errors += err;
}

/* The routed statement ended: its figures go to the worker's digest table. */
void
px_cmd_digest_end(struct px_session *s)
{
	struct px_worker *w = s->w;
	struct px_digest *d;
	uint64_t us;

	if (!s->q_on) {
		return;
	}
	s->q_on = false;
	if (w->digests == NULL) {
		w->digests = calloc(PX_DIGEST_SLOTS + 1, sizeof(*w->digests));
		if (w->digests == NULL) {
			return; /* no figures rather than no service */
		}
	}
	us = ms_now_us() - s->q_start_us;
	px_cmd_lat_add(&w->stats.lat[s->q_scatter ? 2 : s->q_shards > 1 ? 1 : 0], us, s->q_err);
	px_cmd_lat_add(&w->stats.cls[px_cmd_class(s->q_digest)], us, s->q_err);
	if (s->q_shards == 1 && !s->q_scatter && s->be != NULL && !s->q_legs_timed) {
		px_cmd_lat_add(&w->slot_lat[s->be->pool->shard], us, s->q_err);
	}
	if (w->conf->slow_query_ms > 0 && us >= (uint64_t)w->conf->slow_query_ms * 1000) {
		char on[96];

		if (s->be != NULL) {
			snprintf(on, sizeof(on), "backend %llu (shard %s)",
				 (unsigned long long)s->be->id, px_pool_shard_name(s->be->pool));
		} else {
			snprintf(on, sizeof(on), "%u shard legs%s", s->q_shards,
				 s->q_scatter ? " (scatter)" : "");
		}
		ms_log_warn("slow query: session %llu (%s@%s, schema '%s') on %s: %.3f ms%s: %s",
			    (unsigned long long)s->id, s->user, s->peer, s->schema, on,
			    (double)us / 1000.0, s->q_err ? ", error" : "",
			    s->q_digest[0] != '\0' ? s->q_digest : "(empty)");
	}
	if (s->q_digest[0] != '\0') {
		d = px_cmd_digest_slot(w, s->q_digest, s->q_digest_hash);
	} else {
		char empty[PX_DIGEST_LEN];
		uint64_t h;

		px_cmd_digest_copy(empty, "(empty)", &h);
		d = px_cmd_digest_slot(w, empty, h);
	}
	d->count++;
	d->errors += s->q_err;
	d->total_us += us;
	d->max_us = us > d->max_us ? us : d->max_us;
	d->rows += s->q_rows;
	d->shards += s->q_shards;
	d->scatter += s->q_scatter;
	if (s->q_pin != NULL) {
		d->pins++;
		snprintf(d->pin_reason, sizeof(d->pin_reason), "%s", s->q_pin);
		s->q_pin = NULL;
	}
}

void
px_cmd_finish(struct px_session *s)
{
	struct px_backend *b;
	bool keep, owned;

	if (s->q_timer_added) {
		event_del(&s->q_timer);
		s->q_timer_added = false;
	}
	px_cmd_digest_end(s);
	px_sess_set_state(s, PX_SESS_IDLE);
	s->direct = NULL;
	s->set_track = false;
	s->replica_read = s->replica_avoid = false;
	s->q_retry = false;
	if (s->retry != NULL) {
		evbuffer_drain(s->retry, evbuffer_get_length(s->retry));
	}
	px_load_free(s); /* a LOAD DATA's parts, sent by now */
	free(s->set_pending); /* (a SET that did not run to its OK is not replayed) */
	s->set_pending = NULL;
	free(s->trk_pending);
	s->trk_pending = NULL;
	if (px_tx_command_done(s)) {
		return; /* its commit runs now; the next command is read when it is over */
	}
	b = s->be;
	owned = px_tx_owns(s, b);
	keep = s->sticky != 0 || s->hold_prev ||
	       (!owned && ((s->status & MP_STATUS_IN_TRANS) || !(s->status & MP_STATUS_AUTOCOMMIT)));
	if (!keep && b != NULL) {
		s->be = NULL;
		if (!owned) {
			px_pool_put(b);
		}
	}
	px_sess_process_input(s); /* (closes the session instead when draining) */
}

/*
 * No connection to the read replica a read waits for (refused, the replica died since its
 * last check, or its pool is full past pool.wait_timeout_ms): nothing was sent and the
 * command is still in the input, so it runs again, on the shard's primary. False if the
 * session was not waiting for a replica.
 */
/* The read that waited for (or was sent to) a read replica runs again from the client input,
 * on the shard's primary. It is counted once, when it has run, from its first attempt's
 * start, and the query timer (timeouts.query_ms) keeps running from there. */
static void
px_cmd_rerun_on_primary(struct px_session *s)
{
	s->q_on = false;
	s->q_retry = true;
	s->replica_read = false;
	s->replica_avoid = true;
	s->cmd_len = 0;
	s->direct = NULL; /* an execution finds its statement again */
	s->w->stats.replica_fallbacks++;
	px_sess_set_state(s, PX_SESS_IDLE);
	px_sess_process_input(s);
}

static bool
px_cmd_replica_fallback(struct px_session *s, const char *why)
{
	if (!s->replica_read || s->state != PX_SESS_WAIT_BACKEND || s->ex != NULL) {
		return false;
	}
	ms_log_info("session %llu: read replica unavailable, the read goes to the primary: %s",
		    (unsigned long long)s->id, why);
	px_cmd_rerun_on_primary(s);
	return true;
}

void
px_cmd_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_session *s = arg;
	const char *shard = s->want != NULL ? px_pool_shard_name(s->want) : "?";

	(void)fd;
	(void)what;
	s->wait_ev_added = false;
	px_pool_cancel(s->want, s);
	s->want = NULL;
	if (s->ex != NULL) {
		px_exec_wait_timeout(s);
		px_sess_settle(s);
		return;
	}
	if (px_cmd_replica_fallback(s, "no free connection within pool.wait_timeout_ms")) {
		px_sess_settle(s);
		return;
	}
	ms_log_warn("session %llu: no connection to shard %s within %u ms%s",
		    (unsigned long long)s->id, shard, s->w->conf->pool_wait_timeout_ms,
		    px_pause_is(shard) ? " (paused)" : "");
	if (px_pause_is(shard) && !s->login_pending) {
		px_cmd_drain(s);
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1205, "HY000",
				 "myshard: shard %s is paused (%s) and was not resumed within %u ms",
				 shard, px_pause_why(shard), s->w->conf->pool_wait_timeout_ms);
		px_cmd_finish(s);
		px_sess_settle(s);
		return;
	}
	if (s->login_pending) {
		px_sess_send_err(s, s->login_ok_seq, 1040, "08004",
				 "myshard: no connection to shard %s became free within %u ms", shard,
				 s->w->conf->pool_wait_timeout_ms);
		px_sess_close(s, "pool wait timeout at login");
	} else {
		px_cmd_drain(s);
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1040, "08004",
				 "myshard: no connection to shard %s became free within %u ms", shard,
				 s->w->conf->pool_wait_timeout_ms);
		px_cmd_finish(s);
	}
	px_sess_settle(s);
}

void
px_cmd_acquire(struct px_session *s)
{
	unsigned int v = px_cmd_variant(s);
	struct px_pool *p;
	struct px_backend *b;
	unsigned int ms = s->w->conf->pool_wait_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (s->be != NULL) {
		px_cmd_go(s);
		return;
	}
	p = px_worker_pool(s->w, s->shard, v);
	b = px_pool_get(p, s);
	if (b != NULL) {
		s->be = b;
		px_cmd_go(s);
		return;
	}
	s->want = p;
	event_assign(&s->wait_ev, s->w->base, -1, 0, px_cmd_wait_cb, s);
	s->wait_ev_added = event_add(&s->wait_ev, &tv) == 0;
	px_sess_set_state(s, PX_SESS_WAIT_BACKEND);
}

/* ---- replaying schema and charset on the backend ---- */

static void
px_cmd_sync_send(struct px_session *s, uint8_t cmd, const char *text, enum px_sync_step step)
{
	struct evbuffer *out = s->be->conn.out;
	size_t n = strlen(text);
	uint8_t hdr[MP_HDR_LEN];

	mp_hdr_put(hdr, (uint32_t)(n + 1), 0);
	evbuffer_add(out, hdr, sizeof(hdr));
	evbuffer_add(out, &cmd, 1);
	evbuffer_add(out, text, n);
	mp_resp_begin(&s->resp, cmd, s->be->deprecate_eof);
	s->sync = step;
	px_sess_set_state(s, PX_SESS_SYNC);
}

static void
px_cmd_forward(struct px_session *s)
{
	struct px_backend *b = s->be;

	px_cmd_pin(s, s->pend_sticky);
	s->pend_sticky = 0;
	if (s->replica_read && s->cmd_len <= PX_RETRY_MAX) {
		/* kept until the reply starts: a replica lost before that costs a retry on the
		 * primary, not an error (px_cmd_replica_retry) */
		const unsigned char *req = evbuffer_pullup(s->cl.in, (ev_ssize_t)s->cmd_len);

		if (s->retry == NULL) {
			s->retry = evbuffer_new();
		}
		if (s->retry != NULL && req != NULL) {
			evbuffer_drain(s->retry, evbuffer_get_length(s->retry));
			evbuffer_add(s->retry, req, s->cmd_len);
		}
	}
	s->replica_read = false;
	if (s->tx_stmt && s->tx_write) {
		px_tx_wrote(s, b);
	}

	if (s->direct != NULL) {
		px_stmt_direct_write(s, b); /* rewritten for the connection's own statement */
	} else {
		evbuffer_remove_buffer(s->cl.in, b->conn.out, s->cmd_len);
	}
	s->cmd_len = 0;
	s->w->stats.commands++;
	if (!mp_cmd_has_reply(s->cmd)) {
		px_cmd_finish(s);
		return;
	}
	mp_resp_begin(&s->resp, s->cmd, b->deprecate_eof);
	s->left_state = false;
	s->next_seq = (uint8_t)s->cmd_pkts;
	px_sess_set_state(s, PX_SESS_FORWARD);
}

/* With a backend in hand: sync what differs, then run the command (or finish the login). */
static void
px_cmd_go(struct px_session *s)
{
	struct px_backend *b = s->be;
	char sql[400];

	if (s->schema[0] != '\0' && strcmp(b->schema, s->schema) != 0) {
		px_cmd_sync_send(s, MP_COM_INIT_DB, s->schema, PX_SYNC_SCHEMA);
		return;
	}
	if (b->collation != s->collation) {
		snprintf(sql, sizeof(sql), "SET NAMES %s", px_collation_names(s->collation));
		px_cmd_sync_send(s, MP_COM_QUERY, sql, PX_SYNC_NAMES);
		return;
	}
	if (!px_vars_same(b->vars, s->vars) && !s->login_pending) {
		char *set = px_vars_sync_sql(b->vars, s->vars);

		if (set == NULL) {
			px_sess_close(s, "out of memory");
			return;
		}
		px_cmd_sync_send(s, MP_COM_QUERY, set, PX_SYNC_VARS);
		free(set);
		return;
	}
	if (s->tx_stmt && !px_tx_owns(s, b) && !s->login_pending) {
		const char *start = px_tx_start_sql(s, b, sql, sizeof(sql), &s->tx_start_xa);

		if (start == NULL) {
			px_cmd_drain(s);
			px_tx_cancel_stmt(s);
			px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1235, "42000",
					 "myshard: a transaction across shards needs shard names of at "
					 "most 64 bytes (XA branch qualifiers)");
			px_cmd_finish(s);
			return;
		}
		px_cmd_sync_send(s, MP_COM_QUERY, start, PX_SYNC_TXSTART);
		return;
	}
	if (s->direct != NULL && s->direct_id == 0 &&
	    (s->direct_id = px_stmt_direct_id(b, s->direct)) == 0) {
		px_stmt_direct_prepare(s, b);
		mp_resp_begin(&s->resp, MP_COM_STMT_PREPARE, b->deprecate_eof);
		s->sync = PX_SYNC_PREPARE;
		px_sess_set_state(s, PX_SESS_SYNC);
		return;
	}
	s->sync = PX_SYNC_NONE;
	if (s->login_pending) {
		s->login_pending = false;
		/* still inside the login packet's handling when a pooled connection was at hand */
		px_sess_login_ok(s, s->login_ok_seq,
				 s->state != PX_SESS_HANDSHAKE && s->state != PX_SESS_AUTH_SWITCH);
		if (s->state == PX_SESS_CLOSING) {
			return;
		}
		px_cmd_finish(s);
		return;
	}
	px_cmd_forward(s);
}

const uint8_t *
px_cmd_packet(struct evbuffer *in, struct mp_hdr *hdr, uint32_t max, bool *too_big)
{
	uint8_t h[MP_HDR_LEN];
	size_t have = evbuffer_get_length(in);

	*too_big = false;
	if (have < MP_HDR_LEN) {
		return NULL;
	}
	evbuffer_copyout(in, h, sizeof(h));
	hdr->len = px_hdr_len(h);
	hdr->seq = h[3];
	if (hdr->len > max) {
		*too_big = true;
		return NULL;
	}
	if (have < MP_HDR_LEN + (size_t)hdr->len) {
		return NULL;
	}
	return evbuffer_pullup(in, MP_HDR_LEN + (ev_ssize_t)hdr->len) + MP_HDR_LEN;
}

/* The backend refused our INIT_DB / SET NAMES: the client gets the server's ERR. */
static void
px_cmd_sync_failed(struct px_session *s, const uint8_t *err, uint32_t len)
{
	uint8_t seq = s->login_pending ? s->login_ok_seq : (uint8_t)s->cmd_pkts;

	px_sess_send(s, seq, err, len);
	if (s->sync == PX_SYNC_SCHEMA) {
		s->schema[0] = '\0'; /* e.g. dropped meanwhile: go on without a default schema */
	}
	if (s->login_pending) {
		s->login_pending = false;
		px_sess_close(s, "login schema refused");
		return;
	}
	if (s->sync == PX_SYNC_TXSTART) {
		px_tx_start_failed(s, s->tx_start_xa);
	}
	px_cmd_drain(s);
	px_tx_cancel_stmt(s);
	px_cmd_finish(s);
}

static void px_cmd_broken(struct px_session *s, const char *why);

/* A session sync's ERR reply (<pl>, <len> bytes, still in the backend's buffer): kept, drained,
 * then reported to the client. */
static void
px_cmd_sync_err(struct px_session *s, const uint8_t *pl, uint32_t len)
{
	uint8_t err[600];
	uint32_t n = len < sizeof(err) ? len : (uint32_t)sizeof(err);

	memcpy(err, pl, n);
	evbuffer_drain(s->be->conn.in, MP_HDR_LEN + (size_t)len);
	if (s->sync == PX_SYNC_PREPARE) {
		px_stmt_direct_prepared(s, s->be, 0);
	}
	px_cmd_sync_failed(s, err, n);
}

/* The answer to a direct execution's COM_STMT_PREPARE: its id, then its definitions (all of
 * them are read here, however many packets came at once). */
static void
px_cmd_sync_prepare_read(struct px_session *s)
{
	struct evbuffer *in = s->be->conn.in;
	struct mp_resp_event ev;
	struct mp_hdr hdr;
	const uint8_t *pl;
	bool too_big;

	while ((pl = px_cmd_packet(in, &hdr, PX_SYNC_PKT_MAX, &too_big)) != NULL) {
		if (mp_resp_feed(&s->resp, pl, hdr.len, hdr.len, &ev) != MP_OK) {
			px_cmd_broken(s, "unexpected reply to COM_STMT_PREPARE");
			return;
		}
		if (ev.kind == MP_PKT_ERR) {
			px_cmd_sync_err(s, pl, hdr.len);
			return;
		}
		if (s->direct_id == 0) { /* the first packet: 0x00, then the statement id */
			struct mp_cursor c;
			uint8_t status;
			uint32_t id;

			mp_cursor_init(&c, pl, hdr.len);
			if (mp_u8_read(&c, &status) == MP_OK && status == MP_OK_HDR &&
			    mp_u32_read(&c, &id) == MP_OK) {
				px_stmt_direct_prepared(s, s->be, id);
			}
		}
		evbuffer_drain(in, MP_HDR_LEN + (size_t)hdr.len);
		if (ev.done) {
			px_cmd_go(s); /* prepared: the execution goes next */
			return;
		}
	}
	if (too_big) {
		px_cmd_broken(s, "oversized reply to COM_STMT_PREPARE");
	}
}

static void
px_cmd_sync_read(struct px_session *s)
{
	struct evbuffer *in = s->be->conn.in;
	struct mp_resp_event ev;
	struct mp_hdr hdr;
	const uint8_t *pl;
	bool too_big;

	if (s->sync == PX_SYNC_PREPARE) {
		px_cmd_sync_prepare_read(s);
		return;
	}
	pl = px_cmd_packet(in, &hdr, PX_SYNC_PKT_MAX, &too_big);
	if (pl == NULL) {
		if (too_big) {
			px_cmd_broken(s, "oversized reply to a session sync");
		}
		return;
	}
	if (mp_resp_feed(&s->resp, pl, hdr.len, hdr.len, &ev) != MP_OK || !ev.done) {
		px_cmd_broken(s, "unexpected reply to a session sync");
		return;
	}
	if (ev.kind == MP_PKT_ERR) {
		px_cmd_sync_err(s, pl, hdr.len);
		return;
	}
	evbuffer_drain(in, MP_HDR_LEN + (size_t)hdr.len);
	if (s->sync == PX_SYNC_SCHEMA) {
		snprintf(s->be->schema, sizeof(s->be->schema), "%s", s->schema);
	} else if (s->sync == PX_SYNC_TXSTART) {
		if (!px_tx_add(s, s->be, s->tx_start_xa)) {
			px_sess_close(s, "out of memory");
			return;
		}
	} else if (s->sync == PX_SYNC_VARS) {
		if (px_vars_resets_names(s->be->vars, s->vars)) {
			s->be->collation = 0; /* back to the server's charset: SET NAMES again */
		}
		free(s->be->vars);
		s->be->vars = s->vars != NULL ? strdup(s->vars) : NULL;
		if (s->vars != NULL && s->be->vars == NULL) {
			px_sess_close(s, "out of memory");
			return;
		}
	} else {
		s->be->collation = s->collation;
		px_vars_drop_charset(&s->be->vars); /* SET NAMES replaced them */
	}
	px_cmd_go(s);
}

/* ---- streaming the response ---- */

/* True for system variables that follow the default schema (replayed with it). */
static bool
px_cmd_schema_var(struct ms_slice name)
{
	static const char *const vars[] = { "character_set_database", "collation_database" };

	for (size_t i = 0; i < MS_ARRAY_LEN(vars); i++) {
		if (name.len == strlen(vars[i]) && memcmp(name.ptr, vars[i], name.len) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * Reads a session-state block (backends track schema, every system variable and state
 * changes). A schema change is learned and replayed later; anything else the server reports
 * (a variable or user variable set inside a routine, a temporary table, ...) pins the
 * connection to the session. A schema name too long to keep makes the connection unusable
 * for anyone else, so it pins too.
 */
/*
 * A system variable the backend reports changed by a SET myshard runs unpinned
 * (rt_set_trackable): appended to <out> as "name=value" for replay (numbers as they are,
 * anything else quoted). False if it cannot be replayed that way.
 */
static bool
px_cmd_track_var(struct ms_slice name, struct mp_cursor *e, char *out, size_t cap, size_t *at)
{
	struct ms_slice v;
	bool num;
	size_t i = 0;

	if (mp_lenenc_str_read(e, &v) != MP_OK || v.len == 0 || v.len > 512 ||
	    !rt_set_name_replayable((const char *)name.ptr, name.len)) {
		return false;
	}
	num = v.ptr[0] == '-' ? v.len > 1 : true;
	for (i = v.ptr[0] == '-' ? 1 : 0; i < v.len && num; i++) {
		num = (v.ptr[i] >= '0' && v.ptr[i] <= '9') || v.ptr[i] == '.';
	}
	for (i = 0; i < v.len; i++) {
		if (v.ptr[i] == '\'' || v.ptr[i] == '\\' || v.ptr[i] == '"' || v.ptr[i] < 0x20) {
			return false;
		}
	}
	if (*at + name.len + v.len + 4 >= cap) {
		return false;
	}
	for (i = 0; i < name.len; i++) {
		uint8_t ch = name.ptr[i];

		out[(*at)++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	out[(*at)++] = '=';
	if (!num) {
		out[(*at)++] = '\'';
	}
	memcpy(out + *at, v.ptr, v.len);
	*at += v.len;
	if (!num) {
		out[(*at)++] = '\'';
	}
	out[(*at)++] = '\n';
	out[*at] = '\0';
	return true;
}

static void
px_cmd_track(struct px_session *s, struct ms_slice st)
{
	struct mp_cursor c, e;
	struct ms_slice data, name;
	bool schema = false, state = false, other = false;
	uint8_t type;
	char learned[2048];
	size_t at = 0;

	mp_cursor_init(&c, st.ptr, st.len);
	while (mp_u8_read(&c, &type) == MP_OK && mp_lenenc_str_read(&c, &data) == MP_OK) {
		mp_cursor_init(&e, data.ptr, data.len);
		if (type == 2) { /* SESSION_TRACK_STATE_CHANGE ('1'): also sent for a schema change */
			state = true;
		} else if (mp_lenenc_str_read(&e, &name) != MP_OK) {
			other = true;
		} else if (type == 1 && name.len <= PX_NAME_MAX) { /* SESSION_TRACK_SCHEMA */
			memcpy(s->schema, name.ptr, name.len);
			s->schema[name.len] = '\0';
			memcpy(s->be->schema, name.ptr, name.len);
			s->be->schema[name.len] = '\0';
			schema = true;
		} else if (type == 0 && name.len > 14 &&
			   strncasecmp((const char *)name.ptr, "session_track_", 14) == 0) {
			struct ms_slice v, suffix = { name.ptr + 14, name.len - 14 };

			if (mp_lenenc_str_read(&e, &v) == MP_OK) {
				px_sess_track_learn(s, suffix, v); /* the client's own settings now */
			}
			other = true;
		} else if (type == 0 && px_cmd_schema_var(name)) {
			/* follows the default schema, which is replayed */
		} else if (type == 0 && name.len == 9 && memcmp(name.ptr, "last_gtid", 9) == 0) {
			/* a binary-logging server reports each write's GTID: not session state (every
			 * write on a replication primary would pin otherwise) */
		} else if (type == 0 && s->set_track && s->set_pending == NULL &&
			   px_cmd_track_var(name, &e, learned, sizeof(learned), &at)) {
			/* learned: replayed from now on like a SET of a literal */
		} else {
			ms_log_debug("session %llu: tracked change type %u '%.*s'", (unsigned long long)s->id,
				     type, (int)name.len, (const char *)name.ptr);
			other = true;
		}
	}
	if (s->set_pending != NULL) {
		return; /* the SET myshard replays: what it changed comes back with the replay */
	}
	if (s->set_track && !other) {
		/* a SET whose every change is known: merged into the session's variables when its
		 * OK completes (px_cmd_response_done), as a replayed SET is; nothing pins */
		if (at > 0) {
			s->set_pending = strdup(learned);
			if (s->set_pending == NULL) {
				px_cmd_pin(s, RT_STICKY_SET);
			}
		}
		return;
	}
	if (other || (state && !schema)) {
		px_cmd_pin(s, RT_STICKY_SERVER);
	}
}

/*
 * An OK from the backend: note what the next statement may ask about, learn schema changes,
 * and strip the session-state block the client did not negotiate. Returns true if it queued a
 * rewritten packet (and drained the original), false if the original should be moved as is.
 */
static bool
px_cmd_relay_ok(struct px_session *s, const struct mp_hdr *hdr, const uint8_t *pl)
{
	struct evbuffer *in = s->be->conn.in;
	bool track = (s->caps & MP_CLIENT_SESSION_TRACK) != 0;
	uint8_t small[1024], *buf = small, *st;
	size_t cap = (size_t)hdr->len + 16; /* the rewrite is never longer, status aside */
	struct mp_writer w;
	struct mp_ok ok;

	if (mp_ok_read(pl, hdr->len, true, &ok) != MP_OK) {
		return false;
	}
	if (s->trk_pending != NULL && ok.header == MP_OK_HDR) {
		px_sess_track_apply(s); /* the SET took: its own OK follows the new settings */
	}
	if (ok.affected_rows > 0 || ok.last_insert_id > 0 || ok.warnings > 0) {
		s->left_state = true;
	}
	if (!(ok.status & MP_STATUS_STATE_CHANGED) && px_tx_status(s, ok.status) == ok.status) {
		return false;
	}
	if (ok.status & MP_STATUS_STATE_CHANGED) {
		px_cmd_track(s, ok.session_state);
	}
	if (cap * 2 > sizeof(small) && (buf = malloc(cap * 2)) == NULL) {
		return false; /* sent as the backend made it */
	}
	st = buf + cap;
	ok.session_state.len = track && (ok.status & MP_STATUS_STATE_CHANGED)
				       ? px_sess_track_filter(s, ok.session_state, st, cap)
				       : 0;
	ok.session_state.ptr = st;
	ok.status = px_tx_status(s, ok.status);
	mp_writer_init(&w, buf, cap);
	mp_ok_write(&w, &ok, track);
	if (!w.overflow) {
		px_sess_send(s, hdr->seq, buf, mp_writer_len(&w));
		evbuffer_drain(in, MP_HDR_LEN + (size_t)hdr->len);
	}
	if (buf != small) {
		free(buf);
	}
	return !w.overflow;
}

static void
px_cmd_relay(struct px_session *s, const struct mp_hdr *hdr, const uint8_t *pl,
	     const struct mp_resp_event *ev)
{
	s->next_seq = (uint8_t)(hdr->seq + 1);
	s->q_err |= ev->kind == MP_PKT_ERR;
	if (ev->kind == MP_PKT_ERR && px_tx_swallow_err(s, hdr->seq, pl, hdr->len)) {
		evbuffer_drain(s->be->conn.in, MP_HDR_LEN + (size_t)hdr->len);
		return;
	}
	if (ev->kind == MP_PKT_OK && px_cmd_relay_ok(s, hdr, pl)) {
		return;
	}
	if (ev->kind == MP_PKT_ERR || (ev->kind == MP_PKT_EOF && hdr->len >= 3 && (pl[1] | pl[2]) != 0)) {
		s->left_state = true; /* SHOW WARNINGS / ERRORS may follow */
	}
	if (ev->kind == MP_PKT_EOF && hdr->len == 5) {
		uint16_t st = (uint16_t)(pl[3] | pl[4] << 8), want = px_tx_status(s, st);

		if (want != st) {
			uint8_t eof[5] = { pl[0], pl[1], pl[2], (uint8_t)want, (uint8_t)(want >> 8) };

			px_sess_send(s, hdr->seq, eof, sizeof(eof));
			evbuffer_drain(s->be->conn.in, MP_HDR_LEN + (size_t)hdr->len);
			return;
		}
	}
	if (s->script_n > 0) {
		/* renumbered as part of the multi-result reply (px_sess_send) */
		px_sess_send(s, hdr->seq, evbuffer_pullup(s->be->conn.in, MP_HDR_LEN + (ev_ssize_t)hdr->len) +
					      MP_HDR_LEN, hdr->len);
		evbuffer_drain(s->be->conn.in, MP_HDR_LEN + (size_t)hdr->len);
		return;
	}
	if (ev->kind == MP_PKT_ERR) {
		px_sess_count_err(s, pl, hdr->len);
	}
	evbuffer_remove_buffer(s->be->conn.in, s->cl.out,
			       MP_HDR_LEN + (size_t)hdr->len);
}

static void
px_cmd_response_done(struct px_session *s, const struct mp_resp_event *ev)
{
	if (ev->kind == MP_PKT_OK || ev->kind == MP_PKT_EOF) {
		s->status = ev->status;
		if (s->tx_stmt) {
			px_tx_branch_status(s, s->be, ev->status);
		}
	}
	if (s->set_pending != NULL) {
		/* a replayable SET ran: the session and this connection now both have it */
		if (ev->kind == MP_PKT_OK && px_vars_merge(&s->vars, s->set_pending)) {
			free(s->be->vars);
			s->be->vars = strdup(s->vars);
			if (s->be->vars == NULL) {
				s->be->collation = 0; /* unknown state: never reused as it is */
				px_cmd_pin(s, RT_STICKY_SET);
			}
		}
		free(s->set_pending);
		s->set_pending = NULL;
	}
	if (ev->kind == MP_PKT_ERR && s->cmd == MP_COM_STMT_PREPARE && s->prep_pin_new) {
		/* the server kept no statement: nothing ties the session to this connection */
		s->sticky &= ~(unsigned int)RT_STICKY_PREPARE;
		s->q_pin = NULL;
	}
	s->prep_pin_new = false;
	s->hold_prev = s->left_state;
	px_cmd_finish(s);
}

/* Moves the <*pend> bytes of plain packets at the front of the backend's input to the
 * client's output, in one go. */
static void
px_cmd_pump_move(struct px_session *s, size_t *pend)
{
	if (*pend > 0) {
		evbuffer_remove_buffer(s->be->conn.in, s->cl.out, *pend);
		*pend = 0;
	}
}

void
px_cmd_pump(struct px_session *s)
{
	struct evbuffer *in, *out;
	uint8_t peek[MP_HDR_LEN + MP_RESP_PEEK];
	struct mp_resp_event ev;
	struct mp_hdr hdr;
	/* Packets that go to the client unchanged (rows, column definitions) are parsed where
	 * they lie in the first chunk of <in> and moved together: <pend> bytes at its front.
	 * Anything else (OK, EOF, ERR, a packet across chunks) moves <pend> first. */
	size_t pend = 0, view_len = 0;
	const uint8_t *view = NULL;
	bool row;

	if (s->state != PX_SESS_FORWARD || s->be == NULL || s->be_paused) {
		return;
	}
	in = s->be->conn.in;
	out = s->cl.out;
	for (;;) {
		const uint8_t *pl = peek + MP_HDR_LEN;
		size_t have = evbuffer_get_length(in) - pend;
		size_t avail;
		bool whole;
		enum mp_rc rc;

		if (evbuffer_get_length(out) + pend >= PX_HIGH_WATER) {
			px_cmd_pump_move(s, &pend);
			s->be_paused = true; /* resumed when the client's output drains */
			px_conn_set_read(&s->be->conn, false);
			return;
		}
		if (have < MP_HDR_LEN) {
			break;
		}
		if (view == NULL) {
			struct evbuffer_iovec v;

			if (evbuffer_peek(in, -1, NULL, &v, 1) >= 1) {
				view = v.iov_base;
				view_len = v.iov_len;
			}
		}
		whole = view != NULL && pend + MP_HDR_LEN <= view_len &&
			pend + MP_HDR_LEN + px_hdr_len(view + pend) <= view_len;
		if (whole) {
			hdr.len = px_hdr_len(view + pend);
			hdr.seq = view[pend + 3];
			pl = view + pend + MP_HDR_LEN;
			avail = hdr.len;
		} else {
			px_cmd_pump_move(s, &pend);
			view = NULL;
			evbuffer_copyout(in, peek, sizeof(peek));
			hdr.len = px_hdr_len(peek);
			hdr.seq = peek[3];
			if (have < MP_HDR_LEN + (size_t)hdr.len) {
				return; /* whole packets only; at most 16 MiB waits here */
			}
			avail = hdr.len < MP_RESP_PEEK ? hdr.len : MP_RESP_PEEK;
		}
		row = s->resp.state == MP_RESP_ROWS && !s->resp.in_cont;
		rc = mp_resp_feed(&s->resp, pl, avail, hdr.len, &ev);
		if (rc == MP_NEED_MORE) {
			pl = evbuffer_pullup(in, MP_HDR_LEN + (ev_ssize_t)hdr.len) + MP_HDR_LEN;
			view = NULL;
			rc = mp_resp_feed(&s->resp, pl, hdr.len, hdr.len, &ev);
		}
		if (rc != MP_OK) {
			px_cmd_pump_move(s, &pend);
			px_cmd_broken(s, "malformed response");
			return;
		}
		s->q_rows += row && ev.kind == MP_PKT_DATA;
		if (MS_UNLIKELY(s->retry != NULL) && evbuffer_get_length(s->retry) > 0) {
			/* the reply started: from here a lost replica is the client's ERR */
			evbuffer_drain(s->retry, evbuffer_get_length(s->retry));
		}
		if (whole && ev.kind == MP_PKT_DATA && s->script_n == 0 && !ev.done) {
			s->next_seq = (uint8_t)(hdr.seq + 1);
			pend += MP_HDR_LEN + (size_t)hdr.len; /* as px_cmd_relay() would, later */
			continue;
		}
		if (pend > 0) {
			/* <pl> stays valid: the move copies out of the chunk holding this packet
			 * (or hands over chunks before it) */
			px_cmd_pump_move(s, &pend);
		}
		view = NULL;
		px_cmd_relay(s, &hdr, pl, &ev);
		if (ev.done) {
			px_cmd_response_done(s, &ev);
			return;
		}
	}
	px_cmd_pump_move(s, &pend);
}

/* The backend broke the protocol: its stream cannot be trusted, and neither can the reply. */
static void
px_cmd_broken(struct px_session *s, const char *why)
{
	uint8_t seq = s->state == PX_SESS_FORWARD ? s->next_seq : (uint8_t)s->cmd_pkts;

	ms_log_error("session %llu: backend %llu: %s; closing both", (unsigned long long)s->id,
		     (unsigned long long)s->be->id, why);
	if (s->state == PX_SESS_FORWARD && s->resp.in_cont) {
		px_sess_close(s, why); /* an ERR here would be read as the rest of a 16 MiB row */
		return;
	}
	px_sess_send_err(s, s->login_pending ? s->login_ok_seq : seq, 1158, "08S01",
			 "myshard: %s from shard %s", why, px_pool_shard_name(s->be->pool));
	px_sess_close(s, why);
}

/* ---- reading commands ---- */

/* The whole statement text of the current COM_QUERY: a view into the input when it fits one
 * packet, else a malloc'd copy without the packet headers (*<copy> set; caller frees). */
static const char *
px_cmd_text(struct px_session *s, uint32_t first_len, size_t *len, char **copy)
{
	struct evbuffer *in = s->cl.in;
	struct evbuffer_ptr ptr;
	size_t off = MP_HDR_LEN + 1, out = 0, total = s->cmd_len - (size_t)s->cmd_pkts * MP_HDR_LEN - 1;
	uint32_t n = first_len - 1;

	*copy = NULL;
	if (s->cmd_pkts == 1) {
		*len = first_len - 1;
		return (const char *)evbuffer_pullup(in, MP_HDR_LEN + (ev_ssize_t)first_len) + MP_HDR_LEN + 1;
	}
	*copy = malloc(total + 1);
	if (*copy == NULL) {
		return NULL;
	}
	for (unsigned int i = 0; i < s->cmd_pkts; i++) {
		uint8_t h[MP_HDR_LEN];

		evbuffer_ptr_set(in, &ptr, off, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(in, &ptr, *copy + out, n);
		out += n;
		off += n;
		if (i + 1 < s->cmd_pkts) {
			evbuffer_ptr_set(in, &ptr, off, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(in, &ptr, h, sizeof(h));
			n = px_hdr_len(h);
			off += MP_HDR_LEN;
		}
	}
	*len = out;
	return *copy;
}

/* If <sql> is exactly `SELECT <func>()` (an optional ';'), answers it with the one BIGINT
 * <value> in a column named "<func>()" and returns true. */
static bool
px_cmd_local_call(struct px_session *s, const char *sql, size_t len, const char *func,
		  uint64_t value)
{
	const char *const want[] = { "SELECT", func, "(", ")" };
	struct rt_lex lx;
	struct rt_tok t;
	char val[24], name[40];
	const char *cell = val, *col = name;

	rt_lex_init(&lx, sql, len);
	for (size_t i = 0; i < MS_ARRAY_LEN(want); i++) {
		t = rt_lex_next(&lx);
		if (t.len != strlen(want[i]) || strncasecmp(t.ptr, want[i], t.len) != 0) {
			return false;
		}
	}
	t = rt_lex_next(&lx);
	if (t.kind == RT_TOK_PUNCT && t.len == 1 && t.ptr[0] == ';') {
		t = rt_lex_next(&lx);
	}
	if (t.kind != RT_TOK_END) {
		return false;
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)value);
	snprintf(name, sizeof(name), "%s()", func);
	px_cmd_drain(s);
	px_exec_send_rows(s, (uint8_t)s->cmd_pkts, 1, &col, (const uint8_t[]){ 8 }, &cell, 1);
	return true;
}

/* EXPLAIN ROUTE: the plan of the inner statement as rows (step, shard, text). */
static bool
px_cmd_explain(struct px_session *s, struct rt_plan *p, const struct topo_snapshot *snap)
{
	static const char *const names[] = { "step", "shard", "text" };
	struct rt_explain_row *rows = NULL;
	const char **cells;
	size_t n = 0;

	if (rt_plan_explain_rows(p, snap, &rows, &n) != MS_OK ||
	    (cells = calloc(n * 3 + 1, sizeof(*cells))) == NULL) {
		rt_plan_free(p);
		px_sess_close(s, "out of memory");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		cells[i * 3] = rows[i].step;
		cells[i * 3 + 1] = rows[i].shard;
		cells[i * 3 + 2] = rows[i].text;
	}
	px_cmd_drain(s);
	px_exec_send_rows(s, (uint8_t)s->cmd_pkts, 3, names, NULL, cells, n);
	free(cells);
	rt_plan_free(p);
	return true;
}

/* A plan that is one unchanged statement for one shard: stream it as before. */
bool
px_cmd_single_shard(struct px_session *s, size_t shard, const struct topo_snapshot *snap)
{
	size_t slot = px_worker_slot(s->w, snap, shard);
	struct px_branch *br = s->tx_stmt ? px_tx_branch(s, slot) : NULL;

	if (s->be != NULL && s->be->pool->shard != slot) {
		struct px_backend *b = s->be;

		if (px_cmd_pinned(s)) {
			char msg[400];

			snprintf(msg, sizeof(msg),
				 "myshard: this session keeps state on shard %s (a transaction, session "
				 "variable, lock or prepared statement); a statement for shard %s cannot "
				 "run in it",
				 px_pool_shard_name(b->pool), snap->shards[shard].name);
			return px_cmd_refuse(s, 1235, "42000", msg);
		}
		s->be = NULL; /* held only for hold_prev: the next statement goes elsewhere */
		s->hold_prev = false;
		if (!px_tx_owns(s, b)) {
			px_pool_put(b);
		}
	}
	if (s->be != NULL && s->tx_stmt && !px_tx_owns(s, s->be) && s->sticky == 0 &&
	    !px_cmd_pinned(s)) {
		struct px_backend *b = s->be; /* held for hold_prev, outside the transaction */

		s->be = NULL;
		s->hold_prev = false;
		px_pool_put(b);
	}
	if (br != NULL && s->be == NULL) {
		s->be = br->be;
	}
	s->shard = slot;
	px_cmd_acquire(s);
	return true;
}

size_t
px_cmd_read_endpoint(struct px_session *s, const struct topo_snapshot *snap, size_t shard,
		     const char *sql, size_t len)
{
	const struct topo_shard *t = &snap->shards[shard];
	const struct conf *c = s->w->conf;
	unsigned int v = px_cmd_variant(s);
	size_t n = t->n_replicas, hl = 0, n_ok = 0, i;
	uint16_t ok[TOPO_MAX_ENDPOINTS];
	uint32_t wt[TOPO_MAX_ENDPOINTS];
	uint64_t total = 0, pick;
	const char *hint = NULL;

	if (n == 0 || s->replica_avoid ||
	    (s->cmd != MP_COM_QUERY && s->cmd != MP_COM_STMT_EXECUTE) || s->be != NULL || s->sticky != 0 ||
	    s->tx_stmt || s->tx.open || s->set_pending != NULL || s->set_track || s->script_n > 0 ||
	    !rt_read_only_select(sql, len)) {
		return shard;
	}
	if (!rt_hint_find_key(sql, len, "read=", &hint, &hl)) {
		hl = 0;
	}
	if ((hl == 7 && strncasecmp(hint, "primary", 7) == 0) ||
	    (!(hl == 7 && strncasecmp(hint, "replica", 7) == 0) && c->replica_after_write_ms > 0 &&
	     ms_now_us() - s->last_write_us < (uint64_t)c->replica_after_write_ms * 1000)) {
		return shard; /* the primary: asked for, or the session's own writes are recent */
	}
	/* the replicas that may serve now, each by its weight: over any run of total reads on
	 * this worker, each takes weight of them */
	for (i = 0; i < n && i < TOPO_MAX_ENDPOINTS; i++) {
		size_t r = t->first_replica + i;
		struct px_pool *p = px_worker_pool(s->w, px_worker_slot(s->w, snap, r), v);

		if (p->health == NULL || strcmp(px_health_name(p->health), p->shard_name) != 0) {
			p->health = px_health_of(p->shard_name);
		}
		if (px_health_replica_ok(p->health, c->replica_max_lag_s)) {
			ok[n_ok] = (uint16_t)r;
			wt[n_ok] = snap->shards[r].weight > 0 ? snap->shards[r].weight : 1;
			total += wt[n_ok++];
		}
	}
	if (n_ok == 0) {
		return shard;
	}
	pick = s->w->replica_rr[px_worker_slot(s->w, snap, shard)]++ % total;
	for (i = 0; i + 1 < n_ok && pick >= wt[i]; i++) {
		pick -= wt[i];
	}
	s->w->stats.replica_reads++;
	s->replica_read = true;
	return ok[i];
}

void
px_cmd_shard_gone(struct px_session *s, const char *shard, bool moved, bool tx)
{
	const char *what = tx ? "this session's transaction had work" :
				"this session kept state (a transaction, session variables, locks)";

	if (moved) {
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1105, "HY000",
				 "myshard: shard %s moved to another server while %s on the old "
				 "one; reconnect", shard, what);
	} else {
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1105, "HY000",
				 "myshard: shard %s was set down by an operator while %s there; %s"
				 "reconnect", shard, what,
				 tx ? "the transaction is rolled back; " : "");
	}
	px_sess_close(s, moved ? "shard moved under session state" :
				 "shard set down under session state");
}

/* Plans the statement on the current topology and runs the plan. */
static bool
px_cmd_route(struct px_session *s, const char *sql, size_t len, unsigned int sticky,
	     bool prev_state)
{
	const struct topo_snapshot *snap = topo_read_begin(s->w->topo);
	struct rt_plan_in in = { .sql = sql, .len = len, .snap = snap, .schema = s->schema };
	struct rt_plan *p = NULL;
	bool ret = true;
	int entered;

	if (rt_plan_build(&in, &p) != MS_OK) {
		topo_read_end(s->w->topo);
		px_sess_close(s, "out of memory");
		return false;
	}
	s->pend_sticky = sticky; /* takes effect when the statement really runs */
	if (p->kind != RT_PLAN_EXPLAIN) {
		px_cmd_digest_begin(s, p);
	}
	if (p->kind == RT_PLAN_ERROR) {
		ret = px_cmd_refuse(s, p->err_code, p->err_state, p->err_msg);
		rt_plan_free(p);
	} else if (p->kind == RT_PLAN_EXPLAIN) {
		ret = px_cmd_explain(s, p, snap);
	} else if ((entered = px_tx_enter(s, p->write,
					  p->n_legs > 1 || (p->kind == RT_PLAN_NEED_IDS && p->need_ids > 1),
					  rt_tx_implicit_commit(sql, len),
					  s->autocommit_off && !s->tx.open && rt_tx_tableless(sql, len))) != 0) {
		rt_plan_free(p); /* refused, or an implicit commit runs first and then this again */
		ret = entered == 1 || s->state == PX_SESS_IDLE;
	} else if (prev_state && s->be != NULL && p->kind == RT_PLAN_SHARDS && p->n_legs == 1 &&
		   p->legs[0].sql == NULL && p->merge.kind == RT_MERGE_NONE && !p->write &&
		   p->legs[0].shard == snap->map.default_shard) {
		/* ROW_COUNT(), LAST_INSERT_ID(), SHOW WARNINGS ... (no configured table): they ask
		 * about the previous statement, which ran on the connection still held */
		rt_plan_free(p);
		s->shard = s->be->pool->shard;
		px_cmd_acquire(s);
	} else if (p->kind == RT_PLAN_SHARDS && p->n_legs == 1 && p->legs[0].sql == NULL &&
		   p->merge.kind == RT_MERGE_NONE && p->insert_id == 0) {
		size_t shard = p->legs[0].shard;
		bool ro = !p->write && sticky == 0 && !prev_state;

		rt_plan_free(p);
		ret = px_cmd_single_shard(s, ro ? px_cmd_read_endpoint(s, snap, shard, sql, len) : shard,
					  snap);
	} else if (sticky != 0 && (p->kind != RT_PLAN_SHARDS || p->n_legs > 1)) {
		rt_plan_free(p);
		ret = px_cmd_refuse(s, 1235, "42000",
				    "myshard: a statement that leaves session state behind (user "
				    "variables, locks, temporary tables) cannot span shards");
	} else {
		/* a read leaving no state: its legs may read from replicas */
		px_exec_start(s, p, snap, sql, len, !p->write && sticky == 0 && !prev_state);
	}
	topo_read_end(s->w->topo);
	return ret;
}

/* SET NAMES with a collation myshard can replay is session state, not a reason to pin: it is
 * answered here and every backend connection the session uses later gets it by the usual sync
 * (px_cmd_sync). Only with no backend held, so that nothing the previous statement left (row
 * count, warnings) is read after it. */
static bool
px_cmd_set_names(struct px_session *s, const char *sql, size_t len)
{
	char cs[64], coll[64];
	uint8_t id, st[200];
	struct mp_writer w;

	if (s->be != NULL || !rt_set_names(sql, len, cs, coll) ||
	    (id = px_collation_by_name(cs, coll)) == 0) {
		return false;
	}
	px_cmd_drain(s);
	s->collation = id;
	px_vars_drop_charset(&s->vars); /* SET NAMES sets those four again */
	mp_writer_init(&w, st, sizeof(st));
	px_sess_track_names(&w, id);
	px_sess_send_ok_state(s, (uint8_t)s->cmd_pkts, st, mp_writer_len(&w));
	return true;
}

static void px_cmd_kill_timeout(evutil_socket_t fd, short what, void *arg);

/* KILL [QUERY] <id> of one of myshard's sessions (ids are the connection ids clients see):
 * every worker is asked; the one that has it interrupts its statement on the shards (QUERY) or
 * closes it. Only the same user's sessions may be killed. */
static bool
px_cmd_kill_start(struct px_session *s, uint64_t id, bool query)
{
	px_cmd_drain(s);
	if ((uint32_t)id == (uint32_t)s->id && !query) {
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1927, "70100", "Connection was killed");
		px_sess_close(s, "KILL of itself");
		return false;
	}
	unsigned int posted;
	struct timeval tv = { 2, 0 };

	s->kill_id = id;
	s->kill_result = 0;
	s->kill_req++;
	px_sess_set_state(s, PX_SESS_KILLWAIT);
	posted = px_worker_send_kill(s->w, s->id, s->kill_req, id, query, s->user);
	s->kill_pending = posted;
	if (posted == 0) {
		px_sess_set_state(s, PX_SESS_IDLE);
		return px_cmd_refuse(s, 1094, "HY000", "myshard: busy; KILL not delivered, retry");
	}
	/* answers normally come at once; a worker that cannot answer must not hold us forever */
	event_assign(&s->wait_ev, s->w->base, -1, 0, px_cmd_kill_timeout, s);
	s->wait_ev_added = event_add(&s->wait_ev, &tv) == 0;
	return false;
}

static bool
px_cmd_kill(struct px_session *s, const char *sql, size_t len)
{
	bool query;
	uint64_t id;

	if (rt_kill_parse(sql, len, &query, &id) != 1) {
		return px_cmd_refuse(s, 1235, "42000",
				     "myshard supports KILL [HARD | SOFT] [CONNECTION | QUERY] <id> (the "
				     "ids myshard gives its clients), not KILL QUERY ID or KILL USER");
	}
	return px_cmd_kill_start(s, id, query);
}

static void px_cmd_kill_reply(struct px_session *s);

static void
px_cmd_kill_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct px_session *s = arg;

	(void)fd;
	(void)what;
	s->wait_ev_added = false;
	if (s->state == PX_SESS_KILLWAIT) {
		px_cmd_kill_reply(s); /* with the answers that came */
	}
	px_sess_settle(s);
}

void
px_cmd_kill_answer(struct px_session *s, uint32_t req, uint8_t result)
{
	if (s->state != PX_SESS_KILLWAIT || req != s->kill_req) {
		return; /* an answer to an earlier KILL that was already answered */
	}
	s->kill_result |= result;
	if (--s->kill_pending > 0) {
		return;
	}
	if (s->wait_ev_added) {
		event_del(&s->wait_ev);
		s->wait_ev_added = false;
	}
	px_cmd_kill_reply(s);
	px_sess_settle(s);
}

static void
px_cmd_kill_reply(struct px_session *s)
{
	if (s->kill_result & 1) {
		px_sess_send_ok(s, (uint8_t)s->cmd_pkts);
	} else if (s->kill_result & 2) {
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1095, "HY000",
				 "You are not owner of thread %llu", (unsigned long long)s->kill_id);
	} else {
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1094, "HY000", "Unknown thread id: %llu",
				 (unsigned long long)s->kill_id);
	}
	px_cmd_finish(s);
}

/* A SET of session_track_* variables: what the client will be told from now on (see
 * px_sess_track_filter) changes once it succeeds. False for any other statement. */
static bool
px_cmd_track_settings(struct px_session *s, const char *sql, size_t len)
{
	char buf[1024];

	if (!rt_set_track(sql, len, buf, sizeof(buf))) {
		return false;
	}
	free(s->trk_pending);
	s->trk_pending = strdup(buf);
	return true; /* out of memory: learned from the backend's report, if any */
}

/* SET var = literal, ...: remembered to replay on every connection the session uses (no pin);
 * it runs now on one of them, where the server checks it. */
static bool
px_cmd_set_vars(struct px_session *s, const char *sql, size_t len)
{
	char buf[2048];
	int ac;

	if (!rt_set_vars(sql, len, buf, sizeof(buf), &ac)) {
		return false;
	}
	/* autocommit=1 beside other variables (drivers' connect statements) is a no-op only
	 * while autocommit is on and no transaction is open; anything else pins, as before */
	if (ac == 0 || (ac == 1 && (s->autocommit_off || s->tx.open || s->tx.n > 0))) {
		return false;
	}
	/* an expression reading the variable is replayed with @@global.var: right only if the
	 * session had not set it before */
	for (const char *p = buf; *p != '\0'; p = strchr(p, '\n') + 1) {
		const char *eq = strchr(p, '=');

		if (eq[1] == '(' && px_vars_has(s->vars, p)) {
			return false;
		}
	}
	free(s->set_pending);
	s->set_pending = strdup(buf);
	return s->set_pending != NULL;
}

/*
 * The backend this session holds from its last statement belongs to a shard that an APPLY moved
 * to another server, or that is paused. A session that holds it only for hold_prev gives it
 * back (a statement reading the previous one's state is refused, as when the pool reclaims
 * it); a session that keeps state there (transaction, session variables) cannot follow a move
 * and is closed with an ERR saying so, but goes on through a pause (the transaction finishes).
 * Returns 0 to go on, 1 if the command was answered here, 2 if the session is closing.
 */
static int
px_cmd_check_held(struct px_session *s, const struct rt_class *cls)
{
	struct px_backend *b = s->be;
	unsigned int state = TOPO_EP_UP;
	bool stale;

	if (s->tx.n > 0) {
		px_worker_sync(s->w);
		if (px_tx_moved(s)) {
			return 2; /* the transaction's work there went to the old server */
		}
	}
	if (b == NULL) {
		return 0;
	}
	px_worker_sync(s->w);
	stale = b->gen != b->pool->gen;
	if (!stale) {
		state = px_shard_state(px_pool_shard_name(b->pool));
	}
	if (!stale && state == TOPO_EP_UP) {
		return 0;
	}
	if (px_cmd_pinned(s) || px_tx_owns(s, b)) {
		if (!stale && state != TOPO_EP_DOWN) {
			return 0; /* paused, draining: a session holding state there goes on */
		}
		px_cmd_drain(s);
		px_cmd_shard_gone(s, px_pool_shard_name(b->pool), stale, false);
		return 2;
	}
	s->be = NULL;
	s->hold_prev = false;
	px_pool_put(b); /* closed if stale, parked idle if paused */
	if (cls->flags & RT_CLASS_PREV_STATE) {
		px_cmd_refuse(s, 1235, "HY000",
			      "myshard: this statement reads state left by an earlier statement whose "
			      "backend connection was given up (its shard moved or was paused)");
		return 1;
	}
	return 0;
}

#define PX_SCRIPT_MAX 256 /* statements one multi-statement query may hold when split */

/*
 * A multi-statement query that names sharded or global tables (one server could run it whole;
 * myshard routes each statement): its statements replace it at the front of the client input
 * as COM_QUERY packets of their own and run one by one, as if sent one by one, while their
 * replies form one multi-result reply (px_cmd_script_step). Returns false to handle the query
 * as before (nothing to split, or a compound statement the server must see whole).
 */
static bool
px_cmd_script_start(struct px_session *s, const char *sql, size_t len)
{
	struct rt_span *sp;
	struct evbuffer *cmds;
	size_t n;
	bool named;
	const struct topo_snapshot *snap;

	if (!(s->caps & MP_CLIENT_MULTI_STATEMENTS) || s->script_n > 0 || s->cmd_pkts != 1) {
		return false;
	}
	snap = topo_read_begin(s->w->topo);
	named = px_stmt_names_table(&snap->map, sql, len);
	topo_read_end(s->w->topo);
	if (!named || (sp = calloc(PX_SCRIPT_MAX, sizeof(*sp))) == NULL) {
		return false;
	}
	n = rt_split(sql, len, sp, PX_SCRIPT_MAX);
	cmds = n > 1 ? evbuffer_new() : NULL;
	for (size_t i = 0; cmds != NULL && i < n; i++) {
		uint8_t hdr[MP_HDR_LEN + 1];

		if (sp[i].len + 1 >= MP_MAX_PAYLOAD) {
			evbuffer_free(cmds);
			cmds = NULL;
			break;
		}
		mp_hdr_put(hdr, (uint32_t)(sp[i].len + 1), 0);
		hdr[MP_HDR_LEN] = MP_COM_QUERY;
		evbuffer_add(cmds, hdr, sizeof(hdr));
		evbuffer_add(cmds, sql + sp[i].off, sp[i].len);
	}
	if (cmds == NULL || (s->script_text = malloc(len + 1)) == NULL) {
		if (cmds != NULL) {
			evbuffer_free(cmds);
		}
		free(sp);
		return false;
	}
	memcpy(s->script_text, sql, len);
	s->script_len = len;
	s->script_sp = sp;
	ms_log_debug("session %llu: a query of %zu statements runs them one by one",
		     (unsigned long long)s->id, n);
	px_cmd_drain(s);
	evbuffer_prepend_buffer(s->cl.in, cmds);
	evbuffer_free(cmds);
	s->script_n = (unsigned int)n;
	s->script_i = 0;
	s->script_base = 1;
	s->script_last = 0;
	s->script_running = false;
	s->script_more = true;
	s->script_err = false;
	return true;
}

void
px_cmd_script_end(struct px_session *s)
{
	s->script_n = 0;
	s->script_more = false;
	free(s->script_text);
	s->script_text = NULL;
	free(s->script_sp);
	s->script_sp = NULL;
}

/*
 * A syntax error (1064) of statement script_i quotes the text from the error on ("near '...'",
 * at most 80 characters); a server that parsed the whole query would go on quoting past the
 * statement's end into the statements after it. <msg>/<len> is rewritten so (into <out>);
 * returns the new length, or 0 to leave it.
 */
size_t
px_cmd_script_syntax(const struct px_session *s, const char *msg, size_t len, char *out,
		     size_t cap)
{
	const struct rt_span *sp = &s->script_sp[s->script_i];
	const char *near = memmem(msg, len, "near '", 6), *q, *end, *tail;
	size_t qlen, more, at;

	if (near == NULL) {
		return 0;
	}
	q = near + 6;
	end = memmem(q, (size_t)(msg + len - q), "' at line ", 10);
	if (end == NULL) {
		return 0;
	}
	qlen = (size_t)(end - q);
	tail = s->script_text + sp->off + sp->len; /* right after the statement */
	if (qlen >= 80 || qlen > sp->len || memcmp(tail - qlen, q, qlen) != 0) {
		return 0; /* the quote does not reach the statement's end */
	}
	more = (size_t)(s->script_text + s->script_len - tail);
	more = more < 80 - qlen ? more : 80 - qlen;
	if (len + more >= cap) {
		return 0;
	}
	at = (size_t)(end - msg);
	memcpy(out, msg, at);
	memcpy(out + at, tail, more);
	memcpy(out + at + more, end, len - at);
	return len + more;
}

/* Before the next command: a statement of a script has finished; the next one follows, or
 * the script ends (after the last one, or at the first error, whose reply ends it; the
 * statements left are dropped, as a server stops there). */
static void
px_cmd_script_step(struct px_session *s)
{
	if (s->script_n == 0 || !s->script_running) {
		return;
	}
	s->script_running = false;
	if (s->script_err || s->script_i + 1 >= s->script_n) {
		for (unsigned int k = s->script_i + 1; k < s->script_n; k++) {
			uint8_t h[MP_HDR_LEN];

			if (evbuffer_copyout(s->cl.in, h, sizeof(h)) != (ev_ssize_t)sizeof(h)) {
				break;
			}
			evbuffer_drain(s->cl.in, MP_HDR_LEN + px_hdr_len(h));
		}
		px_cmd_script_end(s);
		return;
	}
	s->script_i++;
	s->script_base = (uint8_t)(s->script_last + 1);
	s->script_more = s->script_i + 1 < s->script_n;
}

static bool
px_cmd_query(struct px_session *s, uint32_t len)
{
	char *copy = NULL;
	size_t n = 0;
	const char *sql = px_cmd_text(s, len, &n, &copy);
	struct rt_class cls;
	struct rt_tx tx;
	int held;
	bool ret;

	if (sql == NULL) {
		px_sess_close(s, "out of memory");
		return false;
	}
	rt_lex_memo_set(sql, n); /* the passes below replay one scan of the text */
	rt_classify(sql, n, &cls);
	rt_tx_parse(sql, n, &tx);
	held = px_cmd_check_held(s, &cls);
	if (held != 0) {
		ret = held == 1;
	} else if (cls.flags & RT_CLASS_KILL) {
		ret = px_cmd_kill(s, sql, n);
	} else if (!(cls.flags & RT_CLASS_MULTI) && px_load_start(s, sql, n)) {
		ret = true; /* the client's file comes next (state PX_SESS_LOAD) */
	} else if ((cls.flags & RT_CLASS_MULTI) && px_cmd_script_start(s, sql, n)) {
		ret = true; /* its statements are next in the input */
	} else if ((cls.flags & RT_CLASS_MULTI) && (s->tx.open || s->autocommit_off) &&
		   px_tx_runs(s)) {
		ret = px_cmd_refuse(s, 1235, "42000",
				    "myshard: several statements in one query are not supported inside "
				    "a transaction (one of them could end it on one shard only); send "
				    "them one by one");
	} else if (tx.kind != RT_TX_NONE && px_tx_control(s, &tx, false, &ret)) {
		/* answered, or its commit is under way */
	} else if ((cls.sticky & RT_STICKY_SET) && px_cmd_set_names(s, sql, n)) {
		ret = true;
	} else if ((cls.sticky & RT_STICKY_SET) && !(cls.flags & RT_CLASS_MULTI) &&
		   px_cmd_track_settings(s, sql, n)) {
		/* SET session_track_*: pins (the connection's own tracking changes); its OK
		 * applies it */
		ret = px_cmd_route(s, sql, n, cls.sticky, (cls.flags & RT_CLASS_PREV_STATE) != 0);
	} else if (cls.sticky == RT_STICKY_SET && !(cls.flags & RT_CLASS_MULTI) &&
		   (s->be == NULL || !px_cmd_pinned(s)) && px_cmd_set_vars(s, sql, n)) {
		ret = px_cmd_route(s, sql, n, 0, false); /* runs (and is checked) like any statement */
	} else if (cls.sticky == RT_STICKY_SET && !(cls.flags & RT_CLASS_MULTI) &&
		   (s->be == NULL || !px_cmd_pinned(s)) && rt_set_trackable(sql, n)) {
		/* any other SET of session variables: run unpinned, its effect learned from the
		 * backend's session tracking (px_cmd_track) */
		s->set_track = true;
		ret = px_cmd_route(s, sql, n, 0, false);
	} else if (px_cmd_local_call(s, sql, n, "CONNECTION_ID", (uint32_t)s->id)) {
		/* the id the client got at login (the one KILL takes), not a backend's */
		ret = true;
	} else if ((cls.flags & RT_CLASS_PREV_STATE) && s->be == NULL && s->seq_insert_id != 0 &&
		   px_cmd_local_call(s, sql, n, "LAST_INSERT_ID", s->seq_insert_id)) {
		/* right after an INSERT whose ids came from a sequence */
		ret = true;
	} else if ((cls.flags & RT_CLASS_PREV_STATE) && s->be == NULL) {
		ret = px_cmd_refuse(s, 1235, "HY000",
				    "myshard: this statement reads state left by an earlier statement "
				    "(LAST_INSERT_ID(), ROW_COUNT(), FOUND_ROWS(), warnings) whose "
				    "backend connection was already returned to the pool; run them in "
				    "one transaction");
	} else {
		ret = px_cmd_route(s, sql, n, cls.sticky, (cls.flags & RT_CLASS_PREV_STATE) != 0);
	}
	rt_lex_memo_clear();
	free(copy);
	return ret;
}

static bool
px_cmd_prepare(struct px_session *s, uint32_t first_len)
{
	char *copy = NULL;
	size_t n = 0;
	const char *sql = px_cmd_text(s, first_len, &n, &copy);
	bool ours;

	if (sql == NULL) {
		px_sess_close(s, "out of memory");
		return true;
	}
	rt_lex_memo_set(sql, n);
	ours = px_stmt_prepare(s, sql, n);
	rt_lex_memo_clear();
	free(copy);
	return ours;
}

/* COM_STMT_* other than PREPARE need the connection that prepared the statement. */
static bool
px_cmd_stmt(struct px_session *s, uint32_t first_len)
{
	if (px_stmt_command(s, first_len)) {
		return true;
	}
	if (s->be != NULL && (s->sticky & RT_STICKY_PREPARE)) {
		/* a statement prepared on the pinned connection: inside a transaction that
		 * connection joins it first */
		if (s->cmd == MP_COM_STMT_EXECUTE && px_tx_enter(s, true, false, false, false) == 1) {
			return true;
		}
		px_cmd_acquire(s);
		return true;
	}
	if (s->cmd == MP_COM_STMT_CLOSE || s->cmd == MP_COM_STMT_SEND_LONG_DATA) {
		px_cmd_drain(s); /* no reply is ever sent for these */
		return true;
	}
	return px_cmd_refuse(s, 1243, "HY000", "Unknown prepared statement handler given to myshard");
}

static bool
px_cmd_reset(struct px_session *s)
{
	struct px_backend *b = s->be;

	px_cmd_drain(s);
	if (b != NULL && px_tx_owns(s, b)) {
		s->be = NULL; /* dropped with the transaction below */
		b = NULL;
	}
	if (b != NULL) {
		s->be = NULL;
		b->owner = NULL;
		px_pool_drop(b); /* its state (variables, statements, temp tables) goes with it */
	}
	px_tx_drop_all(s); /* an open transaction rolls back, as on a server */
	s->autocommit_off = false;
	free(s->vars);
	s->vars = NULL;
	s->sticky = 0;
	px_sess_track_reset(s);
	s->hold_prev = false;
	s->status = MP_STATUS_AUTOCOMMIT;
	px_stmt_free_all(s);
	px_sess_send_ok(s, 1);
	return true;
}

/*
 * COM_SET_OPTION turns multi-statements on (0) or off (1) for the session. Holding nothing, the
 * session just changes its capability: its next statements take pooled connections of the
 * matching kind, and nothing pins. A session holding a connection (transaction, pins) sends it
 * there, which pins as before. Returns false if it must be forwarded.
 */
static bool
px_cmd_set_option(struct px_session *s, uint32_t first_len)
{
	const uint8_t *pl;
	uint16_t opt;

	if (s->be != NULL || s->tx.n > 0) {
		return false;
	}
	pl = evbuffer_pullup(s->cl.in, MP_HDR_LEN + (ev_ssize_t)first_len) + MP_HDR_LEN;
	if (first_len != 3 || (opt = (uint16_t)(pl[1] | pl[2] << 8)) > 1) {
		return px_cmd_refuse(s, 1047, "08S01", "Unknown command");
	}
	if (opt == 0) {
		s->caps |= MP_CLIENT_MULTI_STATEMENTS;
	} else {
		s->caps &= ~(uint32_t)MP_CLIENT_MULTI_STATEMENTS;
	}
	px_cmd_drain(s);
	{
		uint8_t eof[5] = { MP_EOF_HDR, 0, 0, (uint8_t)s->status, (uint8_t)(s->status >> 8) };

		px_sess_send(s, 1, eof, sizeof(eof));
	}
	px_cmd_digest_end(s);
	return true;
}

/* Commands without SQL (PING, INIT_DB, PREPARE, ...) go to the default shard. */
void
px_cmd_use_default_shard(struct px_session *s)
{
	const struct topo_snapshot *snap = topo_read_begin(s->w->topo);

	s->shard = px_worker_slot(s->w, snap, snap->map.default_shard);
	topo_read_end(s->w->topo);
}

static bool
px_cmd_dispatch(struct px_session *s, uint32_t first_len)
{
	if (s->cmd != MP_COM_QUERY) {
		px_cmd_use_default_shard(s);
	}
	switch (s->cmd) {
	case MP_COM_QUIT:
		px_cmd_drain(s);
		px_sess_close(s, "COM_QUIT");
		return false;
	case MP_COM_QUERY:
		return px_cmd_query(s, first_len);
	case MP_COM_STMT_PREPARE:
		if (px_cmd_prepare(s, first_len)) {
			return true;
		}
		/* no configured table: prepared on the default shard as it is */
		__attribute__((fallthrough));
	case MP_COM_SET_OPTION:
		if (s->cmd == MP_COM_SET_OPTION && px_cmd_set_option(s, first_len)) {
			return true;
		}
		s->prep_pin_new = s->cmd == MP_COM_STMT_PREPARE && !(s->sticky & RT_STICKY_PREPARE);
		s->pend_sticky = s->cmd == MP_COM_STMT_PREPARE ? RT_STICKY_PREPARE : RT_STICKY_SET;
		px_cmd_acquire(s);
		return true;
	case MP_COM_INIT_DB:
	case MP_COM_PING:
	case MP_COM_STATISTICS:
	case MP_COM_FIELD_LIST:
		px_cmd_acquire(s);
		return true;
	case MP_COM_STMT_EXECUTE:
	case MP_COM_STMT_FETCH:
	case MP_COM_STMT_RESET:
	case MP_COM_STMT_CLOSE:
	case MP_COM_STMT_SEND_LONG_DATA:
		return px_cmd_stmt(s, first_len);
	case MP_COM_RESET_CONNECTION:
		return px_cmd_reset(s);
	case MP_COM_CHANGE_USER:
		px_sess_change_user(s, first_len);
		return s->state == PX_SESS_IDLE;
	case MP_COM_PROCESS_KILL: {
		const uint8_t *pl = evbuffer_pullup(s->cl.in, MP_HDR_LEN + (ev_ssize_t)first_len) +
				    MP_HDR_LEN;
		struct mp_cursor c;
		uint32_t id;

		if (first_len != 5) {
			return px_cmd_refuse(s, 1835, "08S01", "Malformed communication packet");
		}
		mp_cursor_init(&c, pl + 1, first_len - 1);
		if (mp_u32_read(&c, &id) != MP_OK) {
			MS_BUG("COM_PROCESS_KILL of 5 bytes without a 4-byte id");
		}
		return px_cmd_kill_start(s, id, false);
	}
	default:
		return px_cmd_refuse(s, 1047, "08S01", "Unknown command");
	}
}

bool
px_cmd_step(struct px_session *s)
{
	struct evbuffer *in = s->cl.in;
	struct px_cmd_frame f = { 0 };
	struct evbuffer_ptr ptr;

	px_cmd_script_step(s);
	switch (px_cmd_scan(in, s->w->conf->max_packet, s->cl.z != NULL, &f)) {
	case PX_SCAN_MORE:
		return false;
	case PX_SCAN_BAD_SEQ:
		px_sess_send_err(s, (uint8_t)(f.bad_seq + 1), 1156, "08S01", "Got packets out of order");
		px_sess_close(s, "packet out of order");
		return false;
	case PX_SCAN_TOO_BIG:
		px_sess_send_err(s, 1, 1153, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes");
		px_sess_close(s, "packet bigger than max_packet");
		return false;
	case PX_SCAN_READY:
		break;
	}
	s->cmd_len = f.total;
	s->cmd_pkts = f.npkts;
	if (s->script_n > 0) {
		s->script_running = true; /* one of the script's statements */
	}
	if (f.first_len == 0) {
		return px_cmd_refuse(s, 1047, "08S01", "Unknown command");
	}
	evbuffer_ptr_set(in, &ptr, MP_HDR_LEN, EVBUFFER_PTR_SET);
	evbuffer_copyout_from(in, &ptr, &s->cmd, 1);
	free(s->trk_pending);   /* a SET session_track_* refused before it ran is not applied */
	s->trk_pending = NULL;
	return px_cmd_dispatch(s, f.first_len);
}

/* ---- entry points from pools and backends (outermost frames for the session) ---- */

void
px_session_backend_ready(struct px_session *s, struct px_backend *b)
{
	if (s->wait_ev_added) {
		event_del(&s->wait_ev);
		s->wait_ev_added = false;
	}
	s->want = NULL;
	if (s->ex != NULL) {
		px_exec_backend_ready(s, b);
		px_sess_settle(s);
		return;
	}
	s->be = b;
	px_cmd_go(s);
	px_sess_settle(s);
}

void
px_session_backend_failed(struct px_session *s, const char *why)
{
	if (s->wait_ev_added) {
		event_del(&s->wait_ev);
		s->wait_ev_added = false;
	}
	s->want = NULL;
	if (s->ex != NULL) {
		px_exec_backend_failed(s, why);
	} else if (s->login_pending) {
		px_sess_send_err(s, s->login_ok_seq, 1158, "08S01", "myshard: %s", why);
		px_sess_close(s, "no backend at login");
	} else if (px_cmd_replica_fallback(s, why)) {
		/* the shard's primary answers it */
	} else {
		px_cmd_drain(s);
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1158, "08S01", "myshard: %s", why);
		px_cmd_finish(s);
	}
	px_sess_settle(s);
}

void
px_session_backend_read(struct px_session *s)
{
	if (s->ex != NULL) {
		px_exec_pump(s);
	} else if (s->state == PX_SESS_FORWARD) {
		px_cmd_pump(s);
	} else if (s->state == PX_SESS_SYNC) {
		px_cmd_sync_read(s);
	} else if (s->state == PX_SESS_TXEND) {
		px_tx_pump(s);
	} else if (s->be != NULL && evbuffer_get_length(s->be->conn.in) > 0) {
		/* a held but idle backend spoke unasked (e.g. killed with an error): drop it */
		px_session_backend_lost(s, s->be, "unexpected data from an idle backend");
		return;
	} else {
		for (unsigned int i = 0; i < s->tx.n; i++) {
			struct px_backend *b = s->tx.br[i].be;

			if (b != NULL && evbuffer_get_length(b->conn.in) > 0) {
				px_session_backend_lost(s, b, "unexpected data from an idle backend");
				return;
			}
		}
	}
	px_sess_settle(s);
}

/*
 * A read replica was lost after a read was sent to it but before any of its reply came: the
 * read has no effect and nothing reached the client, so it runs again, on the shard's
 * primary. False if that is not the case (the caller reports the loss as usual).
 */
static bool
px_cmd_replica_retry(struct px_session *s, struct px_backend *b, const char *why)
{
	if (s->retry == NULL || evbuffer_get_length(s->retry) == 0 || b != s->be ||
	    s->state != PX_SESS_FORWARD || s->q_timed_out ||
	    s->sticky != 0 || (s->status & MP_STATUS_IN_TRANS) || s->ex != NULL) {
		return false;
	}
	ms_log_info("session %llu: backend %llu (read replica %s) lost before it answered (%s); "
		    "the read runs again on the primary", (unsigned long long)s->id,
		    (unsigned long long)b->id, px_pool_shard_name(b->pool), why);
	s->be = NULL;
	s->be_paused = false;
	b->owner = NULL;
	px_pool_drop(b);
	s->hold_prev = false;
	s->w->stats.commands--; /* counted again when it is sent */
	evbuffer_prepend_buffer(s->cl.in, s->retry); /* back in front of anything pipelined */
	px_cmd_rerun_on_primary(s);
	return true;
}

void
px_session_backend_lost(struct px_session *s, struct px_backend *b, const char *why)
{
	bool mid = s->state == PX_SESS_FORWARD || s->state == PX_SESS_SYNC;
	bool stateful = s->sticky != 0 || (s->status & MP_STATUS_IN_TRANS) ||
			!(s->status & MP_STATUS_AUTOCOMMIT) || s->login_pending;
	uint8_t seq = s->state == PX_SESS_FORWARD ? s->next_seq :
		      s->login_pending		 ? s->login_ok_seq :
						   (uint8_t)s->cmd_pkts;
	char shard[PX_NAME_MAX + 1];

	if (s->ex != NULL) {
		px_exec_lost(s, b, why);
		px_sess_settle(s);
		return;
	}
	if (s->state == PX_SESS_SYNC && s->sync == PX_SYNC_TXSTART && b == s->be) {
		px_tx_start_failed(s, s->tx_start_xa);
	}
	if (px_tx_lost(s, b, why)) {
		px_sess_settle(s);
		return;
	}
	if (px_cmd_replica_retry(s, b, why)) {
		px_sess_settle(s);
		return;
	}
	if (px_tx_owns(s, b)) {
		/* a branch of the open transaction: its work there is gone, so is the transaction */
		ms_log_warn("session %llu: transaction branch on backend %llu (shard %s) lost (%s); "
			    "closing the session", (unsigned long long)s->id,
			    (unsigned long long)b->id, px_pool_shard_name(b->pool), why);
		if (mid && !(s->state == PX_SESS_FORWARD && s->resp.in_cont)) {
			px_sess_send_err(s, seq, 1180, "HY000",
					 "myshard: lost the connection to shard %s inside a "
					 "transaction (%s); the transaction is rolled back",
					 px_pool_shard_name(b->pool), why);
		}
		px_sess_close(s, "transaction branch lost");
		px_sess_settle(s);
		return;
	}
	snprintf(shard, sizeof(shard), "%s", px_pool_shard_name(b->pool));
	if (mid) {
		ms_log_warn("session %llu: backend %llu (shard %s) lost during a statement: %s",
			    (unsigned long long)s->id, (unsigned long long)b->id, shard, why);
	}
	s->be = NULL;
	s->be_paused = false;
	b->owner = NULL;
	px_pool_drop(b);
	s->hold_prev = false;
	if (mid && s->state == PX_SESS_FORWARD && s->resp.in_cont) {
		/* an ERR here would be read as the rest of a 16 MiB row: hang up instead */
		px_sess_close(s, "backend lost inside a continued row");
		px_sess_settle(s);
		return;
	}
	if (mid && s->q_timed_out) {
		px_sess_send_err(s, seq, 1969, "70100",
				 "Query execution was interrupted: myshard cut the statement on shard "
				 "%s off: %s", shard, why);
		if (s->state == PX_SESS_SYNC && !s->login_pending) {
			px_cmd_drain(s);
		}
	} else if (mid) {
		px_sess_send_err(s, seq, 1158, "08S01",
				 "myshard: lost connection to shard %s during the statement (%s)", shard,
				 why);
		if (s->state == PX_SESS_SYNC && !s->login_pending) {
			px_cmd_drain(s);
		}
	}
	if (stateful) {
		/* its transaction, variables or statements are gone: the client must reconnect */
		px_sess_close(s, "backend with session state lost");
	} else if (mid) {
		px_cmd_finish(s);
	}
	px_sess_settle(s);
}
