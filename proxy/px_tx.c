/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_tx.c - transactions across shards (see px_tx.h).
 *
 * Ending a transaction runs phases; in each, some branches run a short script of statements
 * (in parallel across branches), and the phase ends when every script has:
 *   ROLLBACK   every branch: ROLLBACK, or XA END + XA ROLLBACK
 *   ONEPHASE   at most one branch wrote: COMMIT, or XA END + XA COMMIT ... ONE PHASE
 *   PREPARE    XA branches that wrote: XA END + XA PREPARE (the others commit one phase)
 *   DECIDE     the first branch: INSERT the decision row, COMMIT. Once that COMMIT is
 *              acknowledged the transaction is committed, whatever happens next.
 *   COMMIT2    prepared branches: XA COMMIT (a failure is left to recovery, px_xa.c)
 *   ABORT      after a failed PREPARE or DECIDE: ROLLBACK / XA ROLLBACK what is left
 */
#include "proxy/px_tx.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "protocol/mp_packet.h"
#include "protocol/mp_result.h"
#include "proxy/px_command.h"
#include "proxy/px_exec.h"
#include "proxy/px_pool.h"
#include "proxy/px_sess_io.h"
#include "proxy/px_xa.h"
#include "router/rt_classify.h"
#include "router/rt_tx.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum px_tx_phase {
	PX_PH_NONE = 0,
	PX_PH_ROLLBACK,
	PX_PH_ONEPHASE,
	PX_PH_PREPARE,
	PX_PH_DECIDE,
	PX_PH_COMMIT2,
	PX_PH_ABORT,
};

/* A two-phase commit whose decision would be written later than a third of
 * timeouts.xa_abandon_ms after its first PREPARE is rolled back instead: recovery treats branches
 * prepared for that long as abandoned (px_xa.c). */

static void px_tx_phase_start(struct px_session *s, enum px_tx_phase ph);
static struct px_branch *px_tx_coord(struct px_session *s);
static void px_tx_drop(struct px_session *s, struct px_branch *br);

bool
px_tx_owns(const struct px_session *s, const struct px_backend *b)
{
	for (unsigned int i = 0; b != NULL && i < s->tx.n; i++) {
		if (s->tx.br[i].be == b) {
			return true;
		}
	}
	return false;
}

struct px_branch *
px_tx_branch(struct px_session *s, size_t slot)
{
	for (unsigned int i = 0; i < s->tx.n; i++) {
		if (s->tx.br[i].slot == slot && s->tx.br[i].be != NULL) {
			return &s->tx.br[i];
		}
	}
	return NULL;
}

bool
px_tx_runs(const struct px_session *s)
{
	const struct px_backend *b = s->be;

	if (s->tx.open) {
		return true;
	}
	/* a backend in a transaction of its own (client XA, a routine's START TRANSACTION, a
	 * multi-statement SET autocommit=0): that transaction goes on as the server runs it */
	return b == NULL || px_tx_owns(s, b) ||
	       !((s->status & MP_STATUS_IN_TRANS) || !(s->status & MP_STATUS_AUTOCOMMIT) ||
		 (s->sticky & RT_STICKY_XA));
}

uint16_t
px_tx_status(const struct px_session *s, uint16_t st)
{
	if (s->script_more) {
		st |= MP_STATUS_MORE_RESULTS; /* another statement of the query follows */
	}
	if (!px_tx_runs(s)) {
		return st;
	}
	st = (uint16_t)(st & ~(MP_STATUS_IN_TRANS | MP_STATUS_AUTOCOMMIT | MP_STATUS_IN_TRANS_READONLY));
	if (s->tx.open && !s->tx.autowrap) {
		st |= MP_STATUS_IN_TRANS;
		if (s->tx.modes & RT_TXM_READ_ONLY) {
			st |= MP_STATUS_IN_TRANS_READONLY;
		}
	}
	if (!s->autocommit_off) {
		st |= MP_STATUS_AUTOCOMMIT;
	}
	return st;
}

/* Opens a transaction (no branch yet). */
static void
px_tx_open(struct px_session *s, unsigned int modes)
{
	s->tx.open = true;
	s->tx.doomed = false;
	s->tx.autowrap = false;
	s->tx.victim = false;
	s->tx.modes = modes;
	s->tx.no++;
	s->tx.gtrid[0] = '\0';
	s->tx.xid[0] = '\0';
	s->tx.plain_taken = false;
}

/* Appends <text> as a '...' literal, doubling quotes and backslashes. */
static size_t
px_tx_quote(char *out, size_t cap, size_t at, const char *text)
{
	if (at < cap) {
		out[at] = '\'';
	}
	at++;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\'' || *p == '\\') {
			if (at < cap) {
				out[at] = *p;
			}
			at++;
		}
		if (at < cap) {
			out[at] = *p;
		}
		at++;
	}
	if (at < cap) {
		out[at] = '\'';
	}
	at++;
	if (at < cap) {
		out[at] = '\0';
	}
	return at;
}

/* The global transaction id: 'gtrid','<deciding branch's shard>',format. */
static bool
px_tx_make_xid(struct px_session *s)
{
	size_t n;

	snprintf(s->tx.gtrid, sizeof(s->tx.gtrid), "msx-%08x-%llx-%llx", px_xa_boot,
		 (unsigned long long)s->id, (unsigned long long)s->tx.no);
	if (strlen(s->tx.coord) > 64) {
		return false; /* XA limits the branch qualifier to 64 bytes */
	}
	n = px_tx_quote(s->tx.xid, sizeof(s->tx.xid), 0, s->tx.gtrid);
	if (n < sizeof(s->tx.xid)) {
		s->tx.xid[n++] = ',';
	}
	n = px_tx_quote(s->tx.xid, sizeof(s->tx.xid), n, s->tx.coord);
	if (n + 12 >= sizeof(s->tx.xid)) {
		return false;
	}
	snprintf(s->tx.xid + n, sizeof(s->tx.xid) - n, ",%u", PX_XA_FORMAT);
	return true;
}

const char *
px_tx_start_sql(struct px_session *s, const struct px_backend *b, char *buf, size_t cap, bool *xa)
{
	unsigned int m = s->tx.modes;

	*xa = false;
	if (!s->tx.plain_taken || (m & RT_TXM_READ_ONLY)) {
		/* the first branch decides; every branch of a READ ONLY transaction (nothing to make
		 * atomic) is plain too */
		if (!s->tx.plain_taken) {
			s->tx.plain_taken = true;
			snprintf(s->tx.coord, sizeof(s->tx.coord), "%s", px_pool_shard_name(b->pool));
		}
		snprintf(buf, cap, "START TRANSACTION%s%s%s",
			 (m & RT_TXM_READ_ONLY) ? " READ ONLY" : "",
			 (m & RT_TXM_READ_ONLY) && (m & RT_TXM_SNAPSHOT) ? "," : "",
			 (m & RT_TXM_SNAPSHOT) ? " WITH CONSISTENT SNAPSHOT" : "");
		return buf;
	}
	if (s->tx.xid[0] == '\0' && !px_tx_make_xid(s)) {
		return NULL;
	}
	*xa = true;
	snprintf(buf, cap, "XA START %s", s->tx.xid);
	return buf;
}

void
px_tx_start_failed(struct px_session *s, bool xa)
{
	bool plain_left = false;

	for (unsigned int i = 0; i < s->tx.n; i++) {
		plain_left |= !s->tx.br[i].xa;
	}
	ms_log_debug("session %llu: transaction start failed (%s)", (unsigned long long)s->id,
		     xa ? "xa" : "plain");
	if (!xa && !plain_left) {
		if (s->tx.xid[0] != '\0') {
			/* XA branches carry the failed shard as their deciding one: no commit can
			 * be recorded where recovery would look, so the transaction can only roll back */
			s->tx.doomed = true;
		} else {
			s->tx.plain_taken = false; /* the next branch decides instead */
		}
	}
}

bool
px_tx_add(struct px_session *s, struct px_backend *b, bool xa)
{
	struct px_tx *t = &s->tx;
	struct px_branch *br;

	if (t->n == t->cap) {
		unsigned int cap = t->cap == 0 ? 4 : t->cap * 2;
		struct px_branch *grown = realloc(t->br, cap * sizeof(*grown));

		if (grown == NULL) {
			return false;
		}
		t->br = grown;
		t->cap = cap;
	}
	br = &t->br[t->n];
	memset(br, 0, sizeof(*br));
	br->be = b;
	br->slot = b->pool->shard;
	br->xa = xa;
	t->n++;
	ms_log_debug("session %llu: transaction joined shard %s (%s)", (unsigned long long)s->id,
		     px_pool_shard_name(b->pool), br->xa ? "xa" : "plain");
	return true;
}

void
px_tx_wrote(struct px_session *s, const struct px_backend *b)
{
	for (unsigned int i = 0; i < s->tx.n; i++) {
		if (s->tx.br[i].be == b) {
			s->tx.br[i].wrote = true;
		}
	}
}

/* ---- statements ---- */

static bool
px_tx_answer_ok(struct px_session *s)
{
	evbuffer_drain(s->cl.in, s->cmd_len);
	s->cmd_len = 0;
	px_sess_send_ok(s, (uint8_t)s->cmd_pkts);
	return true;
}

static bool
px_tx_answer_err(struct px_session *s, uint16_t code, const char *state, const char *msg)
{
	evbuffer_drain(s->cl.in, s->cmd_len);
	s->cmd_len = 0;
	s->pend_sticky = 0;
	px_sess_send_err(s, (uint8_t)s->cmd_pkts, code, state, "%s", msg);
	return true;
}

/* Starts ending the transaction; the session is in TXEND until it is over. */
static void
px_tx_end(struct px_session *s, bool asked_commit, enum px_tx_then then)
{
	bool commit = asked_commit && !s->tx.doomed;
	struct px_tx *t = &s->tx;
	unsigned int writers = 0, xa_writers = 0;

	/* a branch held as s->be between statements stays a branch: the end takes it */
	if (s->be != NULL && px_tx_owns(s, s->be) && s->sticky == 0) {
		s->be = NULL;
		s->hold_prev = false;
	}
	for (unsigned int i = 0; i < t->n; i++) {
		writers += t->br[i].wrote;
		xa_writers += t->br[i].wrote && t->br[i].xa;
	}
	if (commit && writers > 0) {
		s->last_write_us = ms_now_us(); /* replica_reads.after_write_ms counts from here */
	}
	if (commit && writers >= 2 && xa_writers >= 1 && px_tx_coord(s) == NULL) {
		commit = false; /* no branch to decide in (cannot happen: XA starts after it) */
		t->doomed = true;
	}
	ms_log_debug("session %llu: transaction %s ends: %s, %u branch(es), %u writer(s)",
		     (unsigned long long)s->id, t->gtrid, commit ? "commit" : "rollback", t->n, writers);
	t->commit = commit;
	t->asked_commit = asked_commit;
	t->then = then;
	t->reply_seq = (uint8_t)s->cmd_pkts;
	px_sess_set_state(s, PX_SESS_TXEND);
	if (!commit) {
		px_tx_phase_start(s, PX_PH_ROLLBACK);
	} else if (writers >= 2 && xa_writers >= 1) {
		px_tx_phase_start(s, PX_PH_PREPARE);
	} else {
		px_tx_phase_start(s, PX_PH_ONEPHASE);
	}
}

bool
px_tx_control(struct px_session *s, const struct rt_tx *tx, bool binary, bool *progress)
{
	struct px_tx *t = &s->tx;

	if (tx->kind == RT_TX_NONE || !px_tx_runs(s) ||
	    (binary && tx->kind == RT_TX_READ_AUTOCOMMIT)) {
		return false; /* (a prepared SELECT @@autocommit needs binary rows: the shard says) */
	}
	*progress = true;
	switch (tx->kind) {
	case RT_TX_UNSUPPORTED:
		return px_tx_answer_err(s, 1235, "42000", tx->why);
	case RT_TX_READ_AUTOCOMMIT: {
		/* the session's autocommit lives here: the backends always run with autocommit on */
		const char *name = tx->name, *cell = s->autocommit_off ? "0" : "1";

		evbuffer_drain(s->cl.in, s->cmd_len);
		s->cmd_len = 0;
		px_exec_send_rows(s, (uint8_t)s->cmd_pkts, 1, &name, (const uint8_t[]){ 8 }, &cell, 1);
		return true;
	}
	case RT_TX_BEGIN:
		if (t->open && t->n > 0) {
			px_tx_end(s, true, PX_TX_RERUN); /* BEGIN commits the open one first */
			*progress = s->state == PX_SESS_IDLE;
			return true;
		}
		if (s->be != NULL && s->sticky == 0 && !px_tx_owns(s, s->be)) {
			struct px_backend *b = s->be; /* held only for hold_prev */

			s->be = NULL;
			s->hold_prev = false;
			px_pool_put(b);
		}
		px_tx_open(s, tx->modes);
		return px_tx_answer_ok(s);
	case RT_TX_COMMIT:
	case RT_TX_ROLLBACK:
		if (!t->open || t->n == 0) {
			t->open = false;
			return px_tx_answer_ok(s);
		}
		px_tx_end(s, tx->kind == RT_TX_COMMIT, PX_TX_REPLY);
		*progress = s->state == PX_SESS_IDLE;
		return true;
	case RT_TX_AUTOCOMMIT:
		if (tx->autocommit && t->open && t->n > 0) {
			px_tx_end(s, true, PX_TX_RERUN); /* autocommit=1 commits */
			*progress = s->state == PX_SESS_IDLE;
			return true;
		}
		if (tx->autocommit) {
			t->open = false;
		}
		s->autocommit_off = !tx->autocommit;
		{
			uint8_t st[32];
			struct mp_writer w;

			evbuffer_drain(s->cl.in, s->cmd_len);
			s->cmd_len = 0;
			mp_writer_init(&w, st, sizeof(st));
			mp_track_sysvar_put(&w, "autocommit", 10, tx->autocommit ? "ON" : "OFF",
					    tx->autocommit ? 2 : 3);
			px_sess_send_ok_state(s, (uint8_t)s->cmd_pkts, st, mp_writer_len(&w));
			return true;
		}
	case RT_TX_SAVEPOINT:
	case RT_TX_ROLLBACK_TO:
	case RT_TX_RELEASE:
		if (!t->open && !s->autocommit_off) {
			return false; /* as a server does outside a transaction */
		}
		if (t->n > 1) {
			return px_tx_answer_err(s, 1235, "42000",
						"myshard: savepoints are supported while a transaction "
						"has touched one shard; this one spans several");
		}
		if (binary) {
			return px_tx_answer_err(s, 1235, "42000",
						"myshard: SAVEPOINT, ROLLBACK TO and RELEASE SAVEPOINT "
						"are supported as text statements, not prepared ones");
		}
		if (!t->open) {
			px_tx_open(s, 0);
		}
		if (t->n == 1) {
			/* run it on the one branch, whatever shard routing would pick */
			if (s->be != NULL && s->be != t->br[0].be) {
				return px_tx_answer_err(s, 1235, "42000",
							"myshard: this session keeps state on another "
							"shard than its transaction");
			}
			s->be = t->br[0].be;
			s->tx_stmt = true;
			s->shard = t->br[0].slot;
			px_cmd_acquire(s);
			*progress = s->state == PX_SESS_IDLE;
			return true;
		}
		return false; /* no branch yet: routed (default shard) and started there */
	default:
		return false;
	}
}

int
px_tx_enter(struct px_session *s, bool write, bool multi, bool implicit, bool tableless)
{
	struct px_tx *t = &s->tx;

	if (write) {
		s->last_write_us = ms_now_us(); /* text, prepared or LOAD DATA (after_write_ms) */
	}
	if (!px_tx_runs(s)) {
		return 0;
	}
	if (t->open && implicit) {
		if (t->n == 0) {
			t->open = false;
			return 0;
		}
		px_tx_end(s, true, PX_TX_RERUN);
		return 2;
	}
	if (!t->open && s->autocommit_off && !implicit && !tableless) {
		px_tx_open(s, 0);
	}
	if (!t->open && write && multi && !implicit && s->sticky == 0) {
		/* a write over several shards in autocommit mode: all or nothing */
		px_tx_open(s, 0);
		t->autowrap = true;
	}
	if (!t->open) {
		return 0;
	}
	if (t->doomed) {
		px_tx_answer_err(s, 1180, "HY000",
				 "myshard: an earlier statement of this transaction failed on some "
				 "shards after others had run it; only ROLLBACK is accepted now");
		return 1;
	}
	s->tx_stmt = true;
	s->tx_write = write;
	s->tx_multi = multi;
	return 0;
}

void
px_tx_cancel_stmt(struct px_session *s)
{
	s->tx_stmt = false;
	if (s->tx.autowrap && s->tx.n == 0) {
		s->tx.open = false;
		s->tx.autowrap = false;
	}
}

void
px_tx_branch_broken(struct px_session *s, struct px_backend *b)
{
	for (unsigned int i = 0; i < s->tx.n; i++) {
		if (s->tx.br[i].be == b) {
			ms_log_warn("session %llu: transaction branch on backend %llu (shard %s) "
				    "left mid-statement; the transaction can only roll back",
				    (unsigned long long)s->id, (unsigned long long)b->id,
				    px_pool_shard_name(b->pool));
			px_xa_abandon(b);
			s->tx.br[i].lost = true;
			px_tx_drop(s, &s->tx.br[i]);
			s->tx.doomed = true;
		}
	}
}

void
px_tx_branch_status(struct px_session *s, const struct px_backend *b, uint16_t status)
{
	if (s->tx.open && !(status & MP_STATUS_IN_TRANS) && px_tx_owns(s, b) &&
	    !s->tx.doomed) {
		/* the server ended the transaction there (a COMMIT inside a routine, a rollback
		 * on timeout): what follows would not be part of it */
		ms_log_warn("session %llu: backend %llu (shard %s) ended its part of the "
			    "transaction on its own; the transaction can only roll back",
			    (unsigned long long)s->id, (unsigned long long)b->id,
			    px_pool_shard_name(b->pool));
		s->tx.doomed = true;
	}
}

bool
px_tx_moved(struct px_session *s)
{
	for (unsigned int i = 0; i < s->tx.n; i++) {
		const struct px_backend *b = s->tx.br[i].be;
		bool moved;

		if (b == NULL) {
			continue;
		}
		moved = b->gen != b->pool->gen;
		if (!moved && px_shard_state(px_pool_shard_name(b->pool)) != TOPO_EP_DOWN) {
			continue;
		}
		evbuffer_drain(s->cl.in, s->cmd_len);
		s->cmd_len = 0;
		px_cmd_shard_gone(s, px_pool_shard_name(b->pool), moved, true);
		return true;
	}
	return false;
}

void
px_tx_late_multi(struct px_session *s, bool write)
{
	if (s->tx_stmt) {
		s->tx_multi = true;
		return;
	}
	if (write && !s->tx.open && px_tx_runs(s) && s->sticky == 0) {
		px_tx_open(s, 0);
		s->tx.autowrap = true;
		s->tx_stmt = true;
		s->tx_write = true;
		s->tx_multi = true;
	}
}

bool
px_tx_swallow_err(struct px_session *s, uint8_t seq, const uint8_t *pl, size_t len)
{
	uint16_t code = len >= 3 ? (uint16_t)(pl[1] | pl[2] << 8) : 0;

	if (!s->tx_stmt || !s->tx.open) {
		return false;
	}
	if (code == 1213 || code == 1614) {
		/* a shard rolled its part back (deadlock): so goes the whole transaction, or the
		 * statements after it would run outside of it there */
		s->tx.victim = true;
	}
	if (!s->tx.victim) {
		return false;
	}
	s->tx.victim_seq = seq;
	s->q_err = true;
	return true;
}

void
px_tx_hold(struct px_session *s, uint8_t seq, const uint8_t *pl, size_t len)
{
	uint8_t *b = realloc(s->tx.held, s->tx.held_len + 1 + len);

	if (b == NULL) {
		return; /* the statement's own answer is lost; the commit's result still goes out */
	}
	s->tx.held = b;
	b[s->tx.held_len] = seq;
	memcpy(b + s->tx.held_len + 1, pl, len);
	s->tx.held_len += 1 + len;
}

bool
px_tx_command_done(struct px_session *s)
{
	struct px_tx *t = &s->tx;
	bool was = s->tx_stmt;

	s->tx_stmt = false;
	if (!was) {
		return false;
	}
	if (s->be != NULL && px_tx_owns(s, s->be) && s->sticky == 0 && !s->hold_prev) {
		s->be = NULL; /* the transaction holds it */
	}
	if (t->victim && !s->q_err) {
		t->victim = false; /* it got through: whatever was asked came too late */
	}
	if (t->victim && !t->autowrap) {
		ms_log_info("session %llu: deadlock: the whole transaction is rolled back",
			    (unsigned long long)s->id);
		px_tx_end(s, false, PX_TX_DEADLOCK);
		return true;
	}
	if (t->autowrap) {
		bool failed = s->q_err;

		px_tx_end(s, !failed, PX_TX_DEFERRED);
		return true;
	}
	if (s->tx_multi && s->tx_write && s->q_err) {
		t->doomed = true; /* some shards may have run it: the statement is not atomic */
	}
	return false;
}

/* ---- ending ---- */

static void
px_tx_send(struct px_backend *b, const char *sql)
{
	size_t n = strlen(sql);
	uint8_t hdr[MP_HDR_LEN + 1];

	mp_hdr_put(hdr, (uint32_t)(n + 1), 0);
	hdr[MP_HDR_LEN] = MP_COM_QUERY;
	evbuffer_add(b->conn.out, hdr, sizeof(hdr));
	evbuffer_add(b->conn.out, sql, n);
	px_conn_flush(&b->conn);
}

/* Runs one or two statements on branch <br>, sent together: a second one is always harmless
 * after a failed first (XA END, then XA PREPARE / XA COMMIT / XA ROLLBACK), and sending both
 * at once saves a round trip. The replies are read in order. */
static void
px_tx_script(struct px_branch *br, const char *a, const char *b)
{
	br->n_sql = 0;
	br->at = 0;
	snprintf(br->sql[br->n_sql++], PX_TX_SQL, "%s", a);
	if (b != NULL) {
		snprintf(br->sql[br->n_sql++], PX_TX_SQL, "%s", b);
	}
	br->busy = br->be != NULL;
	br->failed = false;
	for (uint8_t i = 0; br->busy && i < br->n_sql; i++) {
		ms_log_debug("transaction branch on %s: %s", px_pool_shard_name(br->be->pool), br->sql[i]);
		px_tx_send(br->be, br->sql[i]);
	}
}

/* Drops branch <br>'s connection (whatever the server holds for it is rolled back, unless it
 * is prepared: recovery finishes that). */
static void
px_tx_drop(struct px_session *s, struct px_branch *br)
{
	struct px_backend *b = br->be;

	if (b == NULL) {
		return;
	}
	br->be = NULL;
	if (s->be == b) {
		s->be = NULL;
		s->hold_prev = false;
	}
	b->owner = NULL;
	px_conn_set_read(&b->conn, true);
	px_pool_drop(b);
}

/* The transaction is over: give the connections back and answer. */
static void
px_tx_finish(struct px_session *s, uint16_t code, const char *msg)
{
	struct px_tx *t = &s->tx;
	enum px_tx_then then = t->then;

	if (t->commit && code == 0) {
		s->w->stats.tx_commits++;
		s->w->stats.tx_two_phase_commits += t->phase == PX_PH_COMMIT2;
	} else {
		s->w->stats.tx_rollbacks++;
	}

	for (unsigned int i = 0; i < t->n; i++) {
		struct px_branch *br = &t->br[i];
		struct px_backend *b = br->be;

		if (b == NULL) {
			continue;
		}
		if (br->failed || br->lost || br->busy || (br->prepared && br->failed)) {
			px_tx_drop(s, br);
		} else if (b == s->be && s->sticky != 0) {
			br->be = NULL; /* the session's state lives there: it keeps it */
		} else {
			br->be = NULL;
			if (s->be == b) {
				s->be = NULL;
			}
			px_pool_put(b);
		}
	}
	t->n = 0;
	t->open = false;
	t->autowrap = false;
	t->doomed = false;
	t->phase = PX_PH_NONE;
	if (then == PX_TX_DEADLOCK || (then == PX_TX_DEFERRED && t->victim && !t->commit)) {
		/* as a server answers a deadlock: the whole transaction is rolled back */
		t->victim = false;
		free(t->held);
		t->held = NULL;
		t->held_len = 0;
		s->status = (uint16_t)(s->status & ~MP_STATUS_IN_TRANS);
		px_sess_set_state(s, PX_SESS_IDLE);
		px_sess_send_err(s, t->victim_seq, 1213, "40001",
				 "Deadlock found when trying to get lock; try restarting transaction");
		px_sess_process_input(s);
		return;
	}
	t->victim = false;
	t->plain_taken = false;
	t->gtrid[0] = '\0';
	t->xid[0] = '\0';
	s->hold_prev = false;
	s->status = (uint16_t)(s->status & ~MP_STATUS_IN_TRANS);
	px_sess_set_state(s, PX_SESS_IDLE);
	if (then == PX_TX_DEFERRED) {
		size_t off = 0;

		while (code == 0 && off < t->held_len) {
			/* the statement's answer, held while its commit was decided */
			size_t len = t->held_len - off - 1;

			px_sess_send(s, t->held[off], t->held + off + 1, len);
			off = t->held_len;
		}
		if (code != 0) {
			uint8_t seq = t->held_len > 0 ? t->held[0] : 1;

			px_sess_send_err(s, seq, code, code == 1180 ? "HY000" : "XA100", "%s", msg);
		}
		free(t->held);
		t->held = NULL;
		t->held_len = 0;
	} else if (then == PX_TX_REPLY || code != 0) {
		evbuffer_drain(s->cl.in, s->cmd_len);
		s->cmd_len = 0;
		if (code != 0) {
			px_sess_send_err(s, t->reply_seq, code, code == 1180 ? "HY000" : "XA100", "%s",
					 msg);
		} else {
			px_sess_send_ok(s, t->reply_seq);
		}
	}
	/* PX_TX_RERUN: the statement is still in the input and runs now, outside a transaction */
	px_sess_process_input(s);
}

static const char *
px_tx_sql(char *buf, size_t cap, const char *verb, const char *xid, const char *tail)
{
	snprintf(buf, cap, "%s %s%s", verb, xid, tail);
	return buf;
}

static void
px_tx_phase_start(struct px_session *s, enum px_tx_phase ph)
{
	struct px_tx *t = &s->tx;
	char a[PX_TX_SQL], b[PX_TX_SQL];

	t->phase = ph;
	for (unsigned int i = 0; i < t->n; i++) {
		struct px_branch *br = &t->br[i];

		br->busy = false;
		if (br->be == NULL) {
			continue;
		}
		switch (ph) {
		case PX_PH_ROLLBACK:
			if (br->xa) {
				px_tx_script(br, px_tx_sql(a, sizeof(a), "XA END", t->xid, ""),
					     px_tx_sql(b, sizeof(b), "XA ROLLBACK", t->xid, ""));
			} else {
				px_tx_script(br, "ROLLBACK", NULL);
			}
			break;
		case PX_PH_ONEPHASE:
			if (br->xa) {
				px_tx_script(br, px_tx_sql(a, sizeof(a), "XA END", t->xid, ""),
					     px_tx_sql(b, sizeof(b), "XA COMMIT", t->xid, " ONE PHASE"));
			} else {
				px_tx_script(br, "COMMIT", NULL);
			}
			break;
		case PX_PH_PREPARE:
			/* every XA branch, also those that seem to only read: a SELECT may call a
			 * function that writes, and only a prepared branch waits for the decision.
			 * Meanwhile the deciding branch writes its decision row, uncommitted: it
			 * becomes the decision with that branch's COMMIT (DECIDE) */
			if (br->xa) {
				px_tx_script(br, px_tx_sql(a, sizeof(a), "XA END", t->xid, ""),
					     px_tx_sql(b, sizeof(b), "XA PREPARE", t->xid, ""));
			} else {
				char ins[PX_TX_SQL];

				snprintf(ins, sizeof(ins),
					 "INSERT INTO %s (gtrid, decision) VALUES ('%s', 'C')",
					 PX_XA_TABLE, t->gtrid);
				px_tx_script(br, ins, NULL);
			}
			break;
		case PX_PH_DECIDE:
			if (!br->xa) {
				px_tx_script(br, "COMMIT", NULL);
			}
			break;
		case PX_PH_COMMIT2:
			if (br->xa && br->prepared) {
				px_tx_script(br, px_tx_sql(a, sizeof(a), "XA COMMIT", t->xid, ""),
					     NULL);
			}
			break;
		case PX_PH_ABORT:
			if (!br->xa) {
				px_tx_script(br, "ROLLBACK", NULL);
			} else if (br->prepared) {
				px_tx_script(br, px_tx_sql(a, sizeof(a), "XA ROLLBACK", t->xid, ""),
					     NULL);
			} else {
				px_tx_drop(s, br); /* not prepared: the server rolls it back */
			}
			break;
		default:
			break;
		}
	}
	if (ph == PX_PH_PREPARE) {
		t->prepare_us = ms_now_us();
	}
	px_tx_pump(s);
}

/* The plain branch that holds the commit decision (there is one whenever a two-phase commit
 * runs: XA branches only start after it). */
static struct px_branch *
px_tx_coord(struct px_session *s)
{
	for (unsigned int i = 0; i < s->tx.n; i++) {
		if (!s->tx.br[i].xa) {
			return &s->tx.br[i];
		}
	}
	return NULL;
}

/* The first failure among the branches that wrote (or any branch), for the client's ERR. */
static const struct px_branch *
px_tx_first_failure(const struct px_session *s, bool writers_only)
{
	for (unsigned int i = 0; i < s->tx.n; i++) {
		const struct px_branch *br = &s->tx.br[i];

		if ((br->failed || br->lost) && (!writers_only || br->wrote)) {
			return br;
		}
	}
	return NULL;
}

static void
px_tx_abort(struct px_session *s, const char *why)
{
	struct px_tx *t = &s->tx;

	ms_log_warn("session %llu: transaction %s rolled back: %s", (unsigned long long)s->id,
		    t->gtrid, why);
	snprintf(t->why, sizeof(t->why), "%s", why);
	px_tx_phase_start(s, PX_PH_ABORT);
}

static void
px_tx_phase_done(struct px_session *s)
{
	struct px_tx *t = &s->tx;
	const struct px_branch *f;
	struct px_branch *coord = px_tx_coord(s);
	char msg[512];

	switch ((enum px_tx_phase)t->phase) {
	case PX_PH_ROLLBACK:
		if (t->asked_commit && t->then != PX_TX_DEFERRED) {
			px_tx_finish(s, 1180,
				     "myshard: the transaction was rolled back, not committed: a "
				     "statement in it failed on some shards after others had run it");
			return;
		}
		/* a ROLLBACK; or an autocommit write that failed: its own ERR goes out */
		px_tx_finish(s, 0, NULL);
		return;
	case PX_PH_ONEPHASE:
		f = px_tx_first_failure(s, true);
		if (f != NULL) {
			snprintf(msg, sizeof(msg), "myshard: COMMIT failed: %s", f->msg);
			px_tx_finish(s, f->code != 0 ? f->code : 1180, msg);
			return;
		}
		px_tx_finish(s, 0, NULL);
		return;
	case PX_PH_PREPARE:
		f = px_tx_first_failure(s, false);
		if (f != NULL) {
			snprintf(msg, sizeof(msg),
				 "myshard: transaction rolled back: a shard could not prepare it (%s)",
				 f->msg);
			px_tx_abort(s, msg);
			return;
		}
		px_xa_fault("xa_after_prepare");
		if (ms_now_us() - t->prepare_us > (uint64_t)s->w->conf->xa_abandon_ms * 1000u / 3u) {
			px_tx_abort(s, "myshard: transaction rolled back: preparing the shards took too long");
			return;
		}
		px_tx_phase_start(s, PX_PH_DECIDE);
		return;
	case PX_PH_DECIDE:
		if (coord == NULL || coord->lost) {
			ms_log_error("session %llu: transaction %s: connection to the deciding shard lost "
				     "during COMMIT; recovery will finish it",
				     (unsigned long long)s->id, t->gtrid);
			for (unsigned int i = 0; i < t->n; i++) {
				px_tx_drop(s, &t->br[i]);
			}
			px_tx_finish(s, 1180,
				     "myshard: the outcome of this COMMIT is unknown (the deciding "
				     "shard's connection was lost); recovery makes it all or nothing");
			return;
		}
		if (coord->failed) {
			snprintf(msg, sizeof(msg),
				 "myshard: transaction rolled back: its commit decision could not be "
				 "recorded (%s)",
				 coord->msg);
			px_tx_abort(s, msg);
			return;
		}
		px_xa_fault("xa_after_decision");
		px_tx_phase_start(s, PX_PH_COMMIT2);
		return;
	case PX_PH_COMMIT2:
		for (unsigned int i = 0; i < t->n; i++) {
			if (t->br[i].failed || t->br[i].lost) {
				ms_log_warn("session %llu: transaction %s committed, but XA COMMIT on a "
					    "branch failed (%s); recovery will finish it",
					    (unsigned long long)s->id, t->gtrid, t->br[i].msg);
			}
		}
		px_tx_finish(s, 0, NULL);
		return;
	case PX_PH_ABORT:
		px_tx_finish(s, 1402, t->why);
		return;
	default:
		px_tx_finish(s, 0, NULL);
		return;
	}
}

/* One reply for branch <br>, in the order its statements were sent. An ERR fails the script
 * (the reply to the statement after it is still read), except while rolling back, where XA END
 * may fail (a branch the server made rollback-only) and XA ROLLBACK still ends it. */
static void
px_tx_reply(struct px_session *s, struct px_branch *br, const uint8_t *pl, size_t len)
{
	bool ok = len > 0 && pl[0] == MP_OK_HDR;
	bool rolling = s->tx.phase == PX_PH_ROLLBACK || s->tx.phase == PX_PH_ABORT;
	bool lenient = rolling && !ok && len > 0 && pl[0] == MP_ERR_HDR && br->at + 1 < br->n_sql;
	struct mp_err e;

	ms_log_debug("transaction branch on %s: reply 0x%02x to %s", px_pool_shard_name(br->be->pool),
		     len > 0 ? pl[0] : 0, br->sql[br->at]);
	if (ok) {
		if (s->tx.phase == PX_PH_PREPARE && br->xa && br->at == 1 && !br->failed) {
			br->prepared = true;
		}
	} else if (!lenient && !br->failed) {
		br->failed = true;
		if (len > 0 && pl[0] == MP_ERR_HDR && mp_err_read(pl, len, &e) == MP_OK) {
			br->code = e.code;
			snprintf(br->msg, sizeof(br->msg), "shard %s: %.*s",
				 px_pool_shard_name(br->be->pool), (int)e.message.len,
				 (const char *)e.message.ptr);
		} else {
			br->code = 1180;
			snprintf(br->msg, sizeof(br->msg), "shard %s: unexpected reply",
				 px_pool_shard_name(br->be->pool));
			br->lost = true;
		}
		ms_log_warn("session %llu: transaction %s: %s (after %s)", (unsigned long long)s->id,
			    s->tx.gtrid, br->msg, br->sql[br->at]);
		if (rolling) {
			br->lost = true; /* its state is unknown: the connection is not reused */
		}
	}
	br->at++;
	if (br->at < br->n_sql && !br->lost) {
		return; /* the next statement's reply is still to come */
	}
	br->busy = false;
	if (ok && !br->failed && (s->tx.phase == PX_PH_COMMIT2 || s->tx.phase == PX_PH_ABORT)) {
		br->prepared = false;
	}
}

void
px_tx_pump(struct px_session *s)
{
	struct px_tx *t = &s->tx;
	bool busy = false;

	if (s->state != PX_SESS_TXEND) {
		return;
	}
	for (unsigned int i = 0; i < t->n; i++) {
		struct px_branch *br = &t->br[i];

		while (br->busy && br->be != NULL) {
			struct evbuffer *in = br->be->conn.in;
			struct mp_hdr hdr;
			bool too_big;
			const uint8_t *pl = px_cmd_packet(in, &hdr, 65536, &too_big);

			if (pl == NULL && too_big) {
				/* no OK or ERR is that big: the stream is not what we asked for */
				br->busy = false;
				br->failed = br->lost = true;
				br->code = 1180;
				snprintf(br->msg, sizeof(br->msg), "shard %s: unexpected reply",
					 px_pool_shard_name(br->be->pool));
				px_tx_drop(s, br);
				break;
			}
			if (pl == NULL) {
				break;
			}
			px_tx_reply(s, br, pl, hdr.len);
			evbuffer_drain(in, MP_HDR_LEN + (size_t)hdr.len);
			if (br->lost) {
				px_tx_drop(s, br);
			}
		}
		busy |= br->busy && br->be != NULL;
	}
	if (!busy) {
		px_tx_phase_done(s);
	}
}

bool
px_tx_lost(struct px_session *s, struct px_backend *b, const char *why)
{
	struct px_tx *t = &s->tx;

	for (unsigned int i = 0; i < t->n; i++) {
		struct px_branch *br = &t->br[i];

		if (br->be != b) {
			continue;
		}
		if (s->state != PX_SESS_TXEND) {
			return false;
		}
		if (br->busy) {
			br->failed = true;
			br->code = 1180;
			snprintf(br->msg, sizeof(br->msg), "shard %s: connection lost (%s)",
				 px_pool_shard_name(b->pool), why);
		}
		br->busy = false;
		br->lost = true;
		px_tx_drop(s, br);
		px_tx_pump(s);
		return true;
	}
	return false;
}

void
px_tx_drop_all(struct px_session *s)
{
	struct px_tx *t = &s->tx;
	bool mid = s->state == PX_SESS_FORWARD || s->state == PX_SESS_SYNC ||
		   s->state == PX_SESS_MULTI || s->state == PX_SESS_TXEND;

	for (unsigned int i = 0; i < t->n; i++) {
		if (mid && t->br[i].be != NULL) {
			/* a statement may run there: kill it rather than let it hold locks */
			px_xa_abandon(t->br[i].be);
		}
		px_tx_drop(s, &t->br[i]);
	}
	t->n = 0;
	t->open = false;
	t->autowrap = false;
	t->doomed = false;
	free(t->br);
	t->br = NULL;
	t->cap = 0;
	free(t->held);
	t->held = NULL;
	t->held_len = 0;
}
