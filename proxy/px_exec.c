/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_exec.c - multi-leg statements: acquire one pooled connection per leg in shard order,
 * replay schema and charset on each, send each leg its SQL, feed every response packet to the
 * merge, and give the connections back. Also the sequence step of INSERTs that need ids (a block
 * reserved on the sequence's shard with one statement) and the proxy's local result sets.
 */
#include "proxy/px_exec.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "protocol/mp_result.h"
#include "proxy/px_command.h"
#include "proxy/px_merge.h"
#include "proxy/px_pool.h"
#include "proxy/px_sess_io.h"
#include "proxy/px_load.h"
#include "proxy/px_stmt.h"
#include "proxy/px_tx.h"
#include "proxy/px_vars.h"
#include "proxy/px_xa.h"
#include "proxy/px_worker.h"
#include "router/rt_plan.h"
#include "topology/topo.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum px_leg_state {
	PX_LEG_WAIT = 0, /* no connection yet */
	PX_LEG_SYNC,     /* replaying schema / charset */
	PX_LEG_RUN,      /* statement sent, response coming */
	PX_LEG_DONE,     /* [terminal] response complete */
};

struct px_leg {
	struct px_backend *be; /* borrowed from the pool, or the session's own s->be */
	bool own_be;           /* <be> is s->be: it stays with the session afterwards */
	bool branch;           /* <be> is a branch of the session's transaction: it stays there */
	bool new_branch;       /* <be> joins the transaction (START TRANSACTION / XA START) first */
	bool start_xa;         /* ... with XA START */
	size_t shard;
	size_t ep; /* the endpoint it reads from: <shard> (its primary) or one of its replicas */
	enum px_leg_state state;
	enum px_sync_step sync;
	struct mp_resp resp;
	const char *sql; /* borrowed from the plan or px_exec.text */
	size_t len;
	uint64_t sent_us; /* when its statement went out (per-endpoint latency) */
	bool in_trans;    /* its reply ended with a transaction open on a pooled connection */
};

enum px_ex_mode {
	PX_EX_PLAN = 0, /* running the plan's legs through the merge */
	PX_EX_SEQ,      /* reserving sequence ids on the sequence's shard */
	PX_EX_PREPARE,  /* COM_STMT_PREPARE on one shard for an emulated statement's metadata */
};

struct px_exec {
	struct rt_plan *plan;             /* owned */
	const struct topo_snapshot *snap; /* pinned */
	bool replicas;                    /* legs may read from replicas (px_exec_start) */
	char *text;                       /* owned copy of the client's statement */
	size_t text_len;
	struct px_leg *legs;              /* owned */
	const char **names;               /* owned array; strings borrowed from <snap> */
	size_t n_legs, n_acquired, n_done;
	struct px_merge *merge;           /* owned */
	uint8_t seq;                      /* next sequence id towards the client */
	bool paused;                      /* leg reads stopped: client output above high water */
	bool retry;                       /* leg <retry_idx> lost its replica before its reply: it
					     is acquired again, on the primary (px_exec_leg_retry) */
	size_t retry_idx;
	enum px_ex_mode mode;
	size_t seq_idx;                   /* PX_EX_SEQ: sequence in snap->map */
	unsigned int seq_step;            /* 0 reserve, 1 create schema, 2 create table, 3 reserve */
	uint64_t seq_n;                   /* ids asked for */
	uint64_t seq_first;               /* first id of the block reserved */
	char seq_sql[512];
	struct rt_merge whole;            /* single-leg plans: rows pass through whole */
	uint16_t code;                    /* PX_ACT_FAIL: error to answer */
	uint32_t stmt_id;                 /* PX_EX_PREPARE: the client's id */
	uint32_t be_stmt_id;              /* PX_EX_PREPARE: the shard's id (closed at the end) */
	uint16_t n_params;
	bool prepared;                    /* PX_EX_PREPARE: the shard said OK */
	bool binary;                      /* EXECUTE: rows go out in the binary protocol */
	struct px_stmt *cursor;           /* borrowed; EXECUTE with a cursor: the result is kept
					     there, not sent (px_stmt_cursor_*) */
	unsigned int bin_phase;           /* 0 first packet, 1 definitions, 2 their EOF, 3 rows */
	unsigned int bin_cols, bin_seen;
	uint8_t *bin_types;               /* owned; per column */
	uint16_t *bin_flags;              /* owned; per column */
	uint8_t *bin_buf;                 /* owned; one re-encoded row */
	size_t bin_cap;
	char msg[512];                    /* PX_ACT_FAIL / PX_ACT_BROKEN: why */
};

#define PX_SEQ_SCHEMA "CREATE DATABASE IF NOT EXISTS myshard"
#define PX_SEQ_TABLE                                                                               \
	"CREATE TABLE IF NOT EXISTS myshard.sequences (name VARCHAR(64) NOT NULL PRIMARY KEY, "    \
	"next_id BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB"

static void px_exec_begin_legs(struct px_session *s);
static void px_exec_leg_next(struct px_session *s, struct px_leg *l);
static void px_exec_run(struct px_session *s);
static void px_exec_complete(struct px_session *s);

/* ---- lifetime ---- */

static void
px_exec_free_legs(struct px_exec *ex)
{
	px_merge_free(ex->merge);
	ex->merge = NULL;
	free(ex->legs);
	ex->legs = NULL;
	free(ex->names);
	ex->names = NULL;
	ex->n_legs = ex->n_acquired = ex->n_done = 0;
}

static void
px_exec_free(struct px_session *s)
{
	struct px_exec *ex = s->ex;

	if (ex == NULL) {
		return;
	}
	s->ex = NULL;
	px_exec_free_legs(ex);
	if (ex->plan != NULL) {
		rt_plan_free(ex->plan);
	}
	topo_unref(ex->snap);
	free(ex->text);
	free(ex->bin_types);
	free(ex->bin_flags);
	free(ex->bin_buf);
	free(ex);
}

/* Gives every leg connection back (<clean>) or closes it; the session's own one stays. A leg
 * still waiting for a connection stops waiting. */
static void
px_exec_release(struct px_session *s, bool clean)
{
	struct px_exec *ex = s->ex;

	px_sess_stop_waiting(s);

	for (size_t i = 0; i < ex->n_legs; i++) {
		struct px_backend *b = ex->legs[i].be;

		ex->legs[i].be = NULL;
		if (b != NULL && ex->legs[i].branch && !clean &&
		    (ex->legs[i].state == PX_LEG_SYNC || ex->legs[i].state == PX_LEG_RUN)) {
			px_tx_branch_broken(s, b); /* its reply would be read as the next one's */
			continue;
		}
		if (b == NULL || ex->legs[i].own_be || ex->legs[i].branch) {
			continue;
		}
		px_conn_set_read(&b->conn, true);
		if (ex->legs[i].in_trans) {
			/* (never expected: a borrowed connection is outside any transaction) a
			 * transaction left open there must not reach the next borrower */
			ms_log_warn("session %llu: backend %llu (shard %s) has a transaction open after "
				    "a statement outside one; closing it", (unsigned long long)s->id,
				    (unsigned long long)b->id, px_pool_shard_name(b->pool));
			b->owner = NULL;
			px_pool_drop(b);
		} else if (clean && ex->legs[i].state != PX_LEG_SYNC &&
			   ex->legs[i].state != PX_LEG_RUN) {
			px_pool_put(b);
		} else {
			if (ex->legs[i].state == PX_LEG_SYNC || ex->legs[i].state == PX_LEG_RUN) {
				px_xa_abandon(b);
			}
			b->owner = NULL;
			px_pool_drop(b);
		}
	}
	if (ex->paused && s->be != NULL) {
		px_conn_set_read(&s->be->conn, true);
	}
	ex->paused = false;
}

/* The statement ends here (its answer is queued): back to IDLE. */
static void
px_exec_end(struct px_session *s, bool clean)
{
	if (s->ex->merge != NULL) {
		s->q_rows += px_merge_rows(s->ex->merge);
	}
	px_exec_release(s, clean);
	px_exec_free(s);
	px_cmd_finish(s);
}

/* Answers the statement with an ERR and ends it; the session stays usable. */
static void
px_exec_fail(struct px_session *s, uint16_t code, const char *state, const char *msg)
{
	struct px_exec *ex = s->ex;

	s->q_err = true;
	if (s->tx.autowrap && s->tx_stmt) {
		uint8_t buf[600];
		struct mp_writer w;

		mp_writer_init(&w, buf, sizeof(buf));
		mp_err_write(&w, code, state, msg);
		px_tx_hold(s, ex->seq, buf, mp_writer_len(&w));
	} else {
		px_sess_send_err(s, ex->seq, code, state, "%s", msg);
	}
	px_exec_end(s, false);
}

void
px_exec_abort(struct px_session *s)
{
	if (s->ex != NULL) {
		px_exec_release(s, false);
		px_exec_free(s);
	}
}

void
px_exec_kill_query(struct px_session *s)
{
	struct px_exec *ex = s->ex;

	for (size_t i = 0; ex != NULL && i < ex->n_legs; i++) {
		if (ex->legs[i].be != NULL &&
		    (ex->legs[i].state == PX_LEG_RUN || ex->legs[i].state == PX_LEG_SYNC)) {
			px_xa_kill_query(ex->legs[i].be);
		}
	}
}

void
px_exec_flush(struct px_session *s)
{
	struct px_exec *ex = s->ex;

	for (size_t i = 0; ex != NULL && i < ex->n_legs; i++) {
		if (ex->legs[i].be != NULL) {
			px_conn_flush(&ex->legs[i].be->conn);
		}
	}
}

/* ---- building the legs ---- */

static int
px_leg_cmp(const void *a, const void *b)
{
	const struct px_leg *x = a, *y = b;

	return x->shard < y->shard ? -1 : x->shard > y->shard;
}

/* One packet of an EXECUTE's result: to the client, or into the cursor being filled. */
static void
px_exec_bin_out(struct px_session *s, unsigned int phase, const uint8_t *pl, size_t len)
{
	struct px_exec *ex = s->ex;

	if (ex->cursor == NULL) {
		px_sess_send(s, ex->seq++, pl, len);
		return;
	}
	if (phase == 0 && len > 0 && (pl[0] == MP_OK_HDR || pl[0] == MP_ERR_HDR)) {
		ex->cursor = NULL; /* no result set: no cursor, the answer goes as it is */
		px_sess_send(s, ex->seq++, pl, len);
		return;
	}
	if (len > 0 && pl[0] == MP_ERR_HDR) {
		px_stmt_cursor_drop(ex->cursor); /* the client gets the error alone */
		ex->cursor = NULL;
		px_sess_send(s, ex->seq++, pl, len);
		return;
	}
	if (phase == 3 && len < 9 && len > 0 && pl[0] == MP_EOF_HDR) {
		uint16_t st = len >= 5 ? (uint16_t)(pl[3] | pl[4] << 8) : 0;

		px_stmt_cursor_open(s, ex->cursor, &ex->seq, st); /* the final EOF stays here */
		ex->cursor = NULL;
		return;
	}
	if (phase == 3 ? !px_stmt_cursor_row(ex->cursor, pl, len, s->w->conf->merge_max)
			       : !px_stmt_cursor_head(ex->cursor, pl, len)) {
		ex->cursor = NULL;
		px_sess_send_err(s, ex->seq++, 1038, "HY001",
				 "myshard: a cursor's rows exceed merge_max (%u bytes)",
				 (unsigned int)s->w->conf->merge_max);
		ex->bin_phase = 9; /* nothing more goes out */
	}
}

/* EXECUTE of an emulated statement: notes the column types, re-encodes rows. */
static void
px_exec_emit_binary(struct px_session *s, const uint8_t *pl, size_t len)
{
	struct px_exec *ex = s->ex;
	struct mp_coldef d;
	struct mp_cursor c;
	uint64_t n;
	unsigned int phase = ex->bin_phase; /* what this packet is (px_exec_bin_out) */

	if (ex->bin_phase == 0 && len > 0 && pl[0] != MP_OK_HDR && pl[0] != MP_ERR_HDR) {
		mp_cursor_init(&c, pl, len);
		if (mp_lenenc_read(&c, &n) == MP_OK && n > 0 && n < 65536) {
			free(ex->bin_types);
			free(ex->bin_flags);
			ex->bin_types = calloc(n, 1);
			ex->bin_flags = calloc(n, sizeof(*ex->bin_flags));
			ex->bin_cols = (unsigned int)n;
			ex->bin_seen = 0;
			ex->bin_phase = ex->bin_types != NULL && ex->bin_flags != NULL ? 1 : 9;
		}
	} else if (ex->bin_phase == 1) {
		if (mp_coldef_read(pl, len, &d) == MP_OK && ex->bin_seen < ex->bin_cols) {
			ex->bin_types[ex->bin_seen] = d.type;
			ex->bin_flags[ex->bin_seen] = d.flags;
		}
		if (++ex->bin_seen == ex->bin_cols) {
			ex->bin_phase = 2;
		}
	} else if (ex->bin_phase == 2) {
		ex->bin_phase = 3;
	} else if (ex->bin_phase == 3 && len > 0 && !(pl[0] == MP_EOF_HDR && len < 9) &&
		   pl[0] != MP_ERR_HDR) {
		size_t need = len + 9 * (size_t)ex->bin_cols + 16, out;

		if (need > ex->bin_cap) {
			free(ex->bin_buf);
			ex->bin_buf = malloc(need);
			ex->bin_cap = ex->bin_buf != NULL ? need : 0;
		}
		out = ex->bin_buf != NULL ? px_stmt_binary_row(pl, len, ex->bin_cols, ex->bin_types,
								 ex->bin_flags, ex->bin_buf, ex->bin_cap) : 0;
		if (out == 0) {
			px_sess_send_err(s, s->ex->seq++, 1105, "HY000",
					 "myshard: a row could not be converted to the binary protocol");
			ex->bin_phase = 9; /* nothing more goes out */
			return;
		}
		px_exec_bin_out(s, phase, ex->bin_buf, out);
		return;
	}
	if (ex->bin_phase != 9) {
		px_exec_bin_out(s, phase, pl, len);
	}
}

static void
px_exec_emit(void *arg, const uint8_t *payload, size_t len)
{
	struct px_session *s = arg;

	s->q_err |= len > 0 && payload[0] == 0xff; /* an ERR: no row starts with 0xff */
	if (len > 0 && payload[0] == 0xff && px_tx_swallow_err(s, s->ex->seq, payload, len)) {
		s->ex->seq++;
		return;
	}
	if (s->tx.autowrap && s->tx_stmt) {
		px_tx_hold(s, s->ex->seq++, payload, len); /* sent once the commit is decided */
		return;
	}
	if (s->ex->binary) {
		px_exec_emit_binary(s, payload, len);
		return;
	}
	px_sess_send(s, s->ex->seq++, payload, len);
}

/* Legs of the plan, sorted by shard: everyone acquires in the same order, so no two sessions
 * can each hold what the other waits for. */
static bool
px_exec_make_legs(struct px_session *s)
{
	struct px_exec *ex = s->ex;
	const struct rt_plan *p = ex->plan;

	ex->legs = calloc(p->n_legs, sizeof(*ex->legs));
	ex->names = calloc(p->n_legs, sizeof(*ex->names));
	if (ex->legs == NULL || ex->names == NULL) {
		return false;
	}
	for (size_t i = 0; i < p->n_legs; i++) {
		struct px_leg *l = &ex->legs[i];

		l->shard = p->legs[i].shard;
		l->sql = p->legs[i].sql != NULL ? p->legs[i].sql : ex->text;
		l->len = p->legs[i].sql != NULL ? p->legs[i].sql_len : ex->text_len;
	}
	ex->n_legs = p->n_legs;
	qsort(ex->legs, ex->n_legs, sizeof(*ex->legs), px_leg_cmp);
	for (size_t i = 0; i < ex->n_legs; i++) {
		struct px_leg *l = &ex->legs[i];

		ex->names[i] = ex->snap->shards[l->shard].name;
		l->ep = ex->replicas ? px_cmd_read_endpoint(s, ex->snap, l->shard, ex->text,
							    ex->text_len)
				     : l->shard;
	}
	s->replica_read = false; /* (that flag is for one-shard reads; legs fall back below) */
	ex->whole.kind = RT_MERGE_CONCAT;
	ex->whole.n_visible = RT_ALL_COLUMNS;
	if (px_merge_new(p->merge.kind == RT_MERGE_NONE ? &ex->whole : &p->merge, ex->n_legs,
			 ex->names, s->w->conf->merge_max, px_exec_emit, s, &ex->merge) != MS_OK) {
		return false;
	}
	if (px_tx_runs(s) || s->script_more) {
		px_merge_fix_status(ex->merge,
				    px_tx_runs(s) ? (uint16_t)~(MP_STATUS_IN_TRANS | MP_STATUS_AUTOCOMMIT |
							       MP_STATUS_IN_TRANS_READONLY)
						  : (uint16_t)0xffff,
				    px_tx_status(s, 0));
	}
	return true;
}

/* A connection for every leg, one pool at a time in shard order. */
static void
px_exec_acquire(struct px_session *s)
{
	struct px_exec *ex = s->ex;
	unsigned int ms = s->w->conf->pool_wait_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	while (ex->n_acquired < ex->n_legs) {
		struct px_leg *l = &ex->legs[ex->n_acquired];
		struct px_pool *p;

		if (l->be != NULL) { /* (a leg that keeps its connection while another is retried) */
			ex->n_acquired++;
			continue;
		}
		p = px_worker_pool(s->w, px_worker_slot(s->w, ex->snap, l->ep), px_cmd_variant(s));
		if (ex->mode == PX_EX_PLAN && s->tx_stmt) {
			struct px_branch *br = px_tx_branch(s, p->shard);

			if (br != NULL) {
				l->be = br->be;
				l->branch = true;
				ex->n_acquired++;
				continue;
			}
			l->new_branch = true;
		}
		if (ex->mode != PX_EX_SEQ && s->be != NULL && s->be->pool->shard == p->shard) {
			l->be = s->be;
			l->own_be = true;
			ex->n_acquired++;
			continue;
		}
		l->be = px_pool_get(p, s);
		if (l->be == NULL) {
			s->want = p;
			event_assign(&s->wait_ev, s->w->base, -1, 0, px_cmd_wait_cb, s);
			s->wait_ev_added = event_add(&s->wait_ev, &tv) == 0;
			return;
		}
		ex->n_acquired++;
	}
	if (ex->retry) {
		struct px_leg *l = &ex->legs[ex->retry_idx];

		ex->retry = false;
		px_exec_leg_next(s, l);
		px_conn_flush(&l->be->conn);
		px_exec_pump(s);
		return;
	}
	px_exec_begin_legs(s);
}

void
px_exec_backend_ready(struct px_session *s, struct px_backend *b)
{
	struct px_exec *ex = s->ex;

	ex->legs[ex->n_acquired++].be = b;
	px_exec_acquire(s);
}

/* The leg being acquired waits for a replica that has no connection to give (refused, or
 * none free within pool.wait_timeout_ms): nothing was sent, it reads from its primary. */
static bool
px_exec_leg_fallback(struct px_session *s, const char *why)
{
	struct px_exec *ex = s->ex;
	struct px_leg *l;

	if (ex->n_acquired >= ex->n_legs) {
		return false;
	}
	l = &ex->legs[ex->n_acquired];
	if (l->ep == l->shard) {
		return false;
	}
	ms_log_info("session %llu: read replica of shard %s unavailable, its leg reads from the "
		    "primary: %s", (unsigned long long)s->id, ex->names[ex->n_acquired], why);
	l->ep = l->shard;
	s->w->stats.replica_fallbacks++;
	px_exec_acquire(s);
	return true;
}

void
px_exec_backend_failed(struct px_session *s, const char *why)
{
	char msg[600];

	if (px_exec_leg_fallback(s, why)) {
		return;
	}
	snprintf(msg, sizeof(msg), "myshard: %s", why);
	px_exec_fail(s, 1158, "08S01", msg);
}

void
px_exec_wait_timeout(struct px_session *s)
{
	const char *shard = s->ex->snap->shards[s->ex->legs[s->ex->n_acquired].shard].name;
	char msg[300];

	if (px_exec_leg_fallback(s, "no free connection within pool.wait_timeout_ms")) {
		return;
	}
	if (px_pause_is(shard)) {
		snprintf(msg, sizeof(msg),
			 "myshard: shard %s is paused (%s) and was not resumed within %u ms", shard,
			 px_pause_why(shard), s->w->conf->pool_wait_timeout_ms);
		px_exec_fail(s, 1205, "HY000", msg);
		return;
	}
	snprintf(msg, sizeof(msg), "myshard: no connection to shard %s became free within %u ms",
		 shard, s->w->conf->pool_wait_timeout_ms);
	px_exec_fail(s, 1040, "08004", msg);
}

/* ---- sending ---- */

/* Queues COM_<cmd> with <text> on <out>, split into 16 MiB packets as the protocol wants. */
static void
px_exec_send_cmd(struct evbuffer *out, uint8_t cmd, const char *text, size_t len)
{
	size_t total = len + 1, off = 0;
	uint8_t seq = 0, hdr[MP_HDR_LEN];

	for (;;) {
		size_t n = total - off < MP_MAX_PAYLOAD ? total - off : MP_MAX_PAYLOAD;

		mp_hdr_put(hdr, (uint32_t)n, seq++);
		evbuffer_add(out, hdr, sizeof(hdr));
		if (off == 0) {
			evbuffer_add(out, &cmd, 1);
			evbuffer_add(out, text, n - 1);
		} else {
			evbuffer_add(out, text + off - 1, n);
		}
		off += n;
		if (n < MP_MAX_PAYLOAD) {
			return;
		}
	}
}

/* Replays what differs on the leg's connection, or sends its statement. */
static void
px_exec_leg_next(struct px_session *s, struct px_leg *l)
{
	struct px_backend *b = l->be;
	char sql[128];
	uint8_t cmd;

	if (s->ex->mode != PX_EX_SEQ && s->schema[0] != '\0' && strcmp(b->schema, s->schema) != 0) {
		px_exec_send_cmd(b->conn.out, MP_COM_INIT_DB, s->schema, strlen(s->schema));
		l->sync = PX_SYNC_SCHEMA;
		l->state = PX_LEG_SYNC;
		mp_resp_begin(&l->resp, MP_COM_INIT_DB, b->deprecate_eof);
		return;
	}
	if (s->ex->mode != PX_EX_SEQ && b->collation != s->collation) {
		snprintf(sql, sizeof(sql), "SET NAMES %s", px_collation_names(s->collation));
		px_exec_send_cmd(b->conn.out, MP_COM_QUERY, sql, strlen(sql));
		l->sync = PX_SYNC_NAMES;
		l->state = PX_LEG_SYNC;
		mp_resp_begin(&l->resp, MP_COM_QUERY, b->deprecate_eof);
		return;
	}
	/* (a sequence reservation runs with the server's defaults, whatever the client set) */
	if (!px_vars_same(b->vars, s->ex->mode != PX_EX_SEQ ? s->vars : NULL)) {
		char *set = px_vars_sync_sql(b->vars, s->ex->mode != PX_EX_SEQ ? s->vars : NULL);

		if (set != NULL) {
			px_exec_send_cmd(b->conn.out, MP_COM_QUERY, set, strlen(set));
			free(set);
			l->sync = PX_SYNC_VARS;
			l->state = PX_LEG_SYNC;
			mp_resp_begin(&l->resp, MP_COM_QUERY, b->deprecate_eof);
			return;
		}
	}
	if (l->new_branch) {
		char start[400];
		const char *q = px_tx_start_sql(s, b, start, sizeof(start), &l->start_xa);

		if (q != NULL) {
			px_exec_send_cmd(b->conn.out, MP_COM_QUERY, q, strlen(q));
			l->sync = PX_SYNC_TXSTART;
			l->state = PX_LEG_SYNC;
			mp_resp_begin(&l->resp, MP_COM_QUERY, b->deprecate_eof);
			return;
		}
		l->new_branch = false; /* the shard name is too long for XA: its START fails below */
		l->sql = "XA START 'myshard: shard name longer than 64 bytes'";
		l->len = strlen(l->sql);
	}
	if (l->branch && s->tx_write) {
		px_tx_wrote(s, b);
	}
	l->sync = PX_SYNC_NONE;
	l->state = PX_LEG_RUN;
	l->sent_us = ms_now_us();
	cmd = s->ex->mode == PX_EX_PREPARE ? MP_COM_STMT_PREPARE : MP_COM_QUERY;
	px_exec_send_cmd(b->conn.out, cmd, l->sql, l->len);
	mp_resp_begin(&l->resp, cmd, b->deprecate_eof);
}

static void
px_exec_begin_legs(struct px_session *s)
{
	struct px_exec *ex = s->ex;

	for (size_t i = 0; i < ex->n_legs; i++) {
		px_exec_leg_next(s, &ex->legs[i]);
		px_conn_flush(&ex->legs[i].be->conn);
	}
	s->w->stats.commands++;
	px_exec_pump(s);
}

/* ---- receiving ---- */

static void
px_exec_broken(struct px_session *s, struct px_leg *l, const char *why)
{
	ms_log_error("session %llu: backend %llu (shard %s): %s (%s); closing the session",
		     (unsigned long long)s->id, (unsigned long long)l->be->id,
		     s->ex->snap->shards[l->shard].name, why,
		     s->ex->merge != NULL ? px_merge_why(s->ex->merge) : "-");
	px_sess_send_err(s, s->ex->seq, 1158, "08S01", "myshard: %s from shard %s", why,
			 s->ex->snap->shards[l->shard].name);
	px_sess_close(s, why); /* releases the legs (px_exec_abort) */
}

/* What to do once the packet just handled is drained from the leg's input. */
enum px_act {
	PX_ACT_NEXT = 0, /* read on */
	PX_ACT_BROKEN,   /* the shard broke the protocol: ex->msg says how; close the session */
	PX_ACT_FAIL,     /* answer ERR ex->code / ex->msg and end the statement */
	PX_ACT_REPLAN,   /* sequence ids reserved: plan again with them */
};

static enum px_act
px_exec_act_broken(struct px_session *s, const char *why)
{
	snprintf(s->ex->msg, sizeof(s->ex->msg), "%s", why);
	return PX_ACT_BROKEN;
}

/* The reply to a replayed INIT_DB / SET NAMES: an ERR becomes the leg's answer. */
static enum px_act
px_exec_sync_reply(struct px_session *s, struct px_leg *l, const struct mp_resp_event *ev,
		   const uint8_t *pl, size_t len)
{
	if (!ev->done) {
		return px_exec_act_broken(s, "unexpected reply to a session sync");
	}
	if (ev->kind == MP_PKT_ERR) {
		if (l->sync == PX_SYNC_TXSTART) {
			px_tx_start_failed(s, l->start_xa);
			l->new_branch = false;
		}
		l->state = PX_LEG_DONE;
		s->ex->n_done++;
		if (px_merge_feed(s->ex->merge, (size_t)(l - s->ex->legs), ev, pl, len) != PX_MERGE_OK) {
			return px_exec_act_broken(s, "unmergeable response");
		}
		return PX_ACT_NEXT;
	}
	if (l->sync == PX_SYNC_SCHEMA) {
		snprintf(l->be->schema, sizeof(l->be->schema), "%s", s->schema);
	} else if (l->sync == PX_SYNC_TXSTART) {
		if (!px_tx_add(s, l->be, l->start_xa)) {
			return px_exec_act_broken(s, "out of memory");
		}
		l->new_branch = false;
		l->branch = true;
	} else if (l->sync == PX_SYNC_VARS) {
		const char *want = s->ex->mode != PX_EX_SEQ ? s->vars : NULL;

		if (px_vars_resets_names(l->be->vars, want)) {
			l->be->collation = 0; /* back to the server's charset: SET NAMES again */
		}
		free(l->be->vars);
		l->be->vars = want != NULL ? strdup(want) : NULL;
		if (want != NULL && l->be->vars == NULL) {
			return px_exec_act_broken(s, "out of memory");
		}
	} else {
		l->be->collation = s->collation;
		px_vars_drop_charset(&l->be->vars); /* SET NAMES replaced them */
	}
	px_exec_leg_next(s, l); /* queues behind the packet being handled: nothing is freed */
	px_conn_flush(&l->be->conn);
	return PX_ACT_NEXT;
}

static void px_exec_seq_send(struct px_session *s);

static enum px_act
px_exec_seq_reply(struct px_session *s, struct px_leg *l, const struct mp_resp_event *ev,
		  const uint8_t *pl, size_t len)
{
	struct px_exec *ex = s->ex;
	struct mp_err e;
	struct mp_ok ok;

	if (!ev->done) {
		return px_exec_act_broken(s, "unexpected reply to a sequence reservation");
	}
	if (ev->kind == MP_PKT_ERR) {
		bool parsed = mp_err_read(pl, len, &e) == MP_OK;

		if (parsed && (e.code == 1146 || e.code == 1049) && ex->seq_step == 0) {
			ex->seq_step = 1; /* first use on this shard: create the table */
			px_exec_seq_send(s);
			return PX_ACT_NEXT;
		}
		l->state = PX_LEG_DONE;
		ex->code = 1105;
		snprintf(ex->msg, sizeof(ex->msg), "myshard: cannot reserve ids of sequence %s on shard %s: %.*s",
			 ex->snap->map.sequences[ex->seq_idx].name, ex->names[0],
			 (int)(parsed ? e.message.len : 0), parsed ? (const char *)e.message.ptr : "");
		return PX_ACT_FAIL;
	}
	if (ex->seq_step == 1 || ex->seq_step == 2) {
		ex->seq_step++;
		px_exec_seq_send(s);
		return PX_ACT_NEXT;
	}
	if (mp_ok_read(pl, len, true, &ok) != MP_OK || ok.last_insert_id < ex->seq_n) {
		return px_exec_act_broken(s, "unexpected reply to a sequence reservation");
	}
	l->state = PX_LEG_DONE;
	ex->seq_first = ok.last_insert_id - ex->seq_n;
	return PX_ACT_REPLAN;
}

/* Relays the shard's answer to COM_STMT_PREPARE with the client's statement id in it. */
static void
px_exec_prepare_packet(struct px_session *s, struct px_leg *l, const struct mp_resp_event *ev,
		       const uint8_t *pl, size_t len)
{
	struct px_exec *ex = s->ex;

	if (ex->bin_phase == 0 && len >= 12 && pl[0] == MP_OK_HDR) {
		uint8_t first[16];

		memcpy(first, pl, len < sizeof(first) ? len : sizeof(first));
		ex->be_stmt_id = (uint32_t)pl[1] | (uint32_t)pl[2] << 8 | (uint32_t)pl[3] << 16 |
				 (uint32_t)pl[4] << 24;
		ex->n_params = (uint16_t)(pl[7] | pl[8] << 8);
		first[1] = (uint8_t)ex->stmt_id;
		first[2] = (uint8_t)(ex->stmt_id >> 8);
		first[3] = (uint8_t)(ex->stmt_id >> 16);
		first[4] = (uint8_t)(ex->stmt_id >> 24);
		ex->prepared = true;
		px_sess_send(s, ex->seq++, first, len < sizeof(first) ? len : sizeof(first));
	} else {
		px_sess_send(s, ex->seq++, pl, len);
	}
	ex->bin_phase = 1;
	if (ev->done) {
		l->state = PX_LEG_DONE;
		ex->n_done++;
	}
}

/* LOAD DATA LOCAL INFILE: the shard asks for the file (0xFB, sequence 1); it gets its part of
 * the client's file (px_load), then an empty packet, and answers as to any statement. */
static void
px_exec_load_send(struct px_session *s, struct px_leg *l)
{
	struct evbuffer *part = px_load_shard_data(s, l->shard), *out = l->be->conn.out;
	uint8_t seq = 2, hdr[MP_HDR_LEN];

	while (part != NULL && evbuffer_get_length(part) > 0) {
		size_t n = evbuffer_get_length(part);

		n = n < (1u << 20) ? n : (1u << 20);
		mp_hdr_put(hdr, (uint32_t)n, seq++);
		evbuffer_add(out, hdr, sizeof(hdr));
		evbuffer_remove_buffer(part, out, n);
	}
	mp_hdr_put(hdr, 0, seq);
	evbuffer_add(out, hdr, sizeof(hdr));
	px_conn_flush(&l->be->conn);
}

/* Handles one complete packet of leg <l>; frees nothing (the caller still drains it). */
static enum px_act
px_exec_leg_packet(struct px_session *s, struct px_leg *l, const uint8_t *pl, uint32_t len)
{
	struct mp_resp_event ev;
	enum px_merge_rc rc;

	if (len > 0 && pl[0] == 0xfb && s->load != NULL && l->state == PX_LEG_RUN &&
	    l->resp.state == MP_RESP_FIRST) {
		px_exec_load_send(s, l); /* the OK or ERR that follows is the answer */
		return PX_ACT_NEXT;
	}
	if (mp_resp_feed(&l->resp, pl, len, len, &ev) != MP_OK) {
		return px_exec_act_broken(s, "malformed response");
	}
	if (l->state == PX_LEG_SYNC) {
		return px_exec_sync_reply(s, l, &ev, pl, len);
	}
	if (s->ex->mode == PX_EX_SEQ) {
		return px_exec_seq_reply(s, l, &ev, pl, len);
	}
	if (s->ex->mode == PX_EX_PREPARE) {
		px_exec_prepare_packet(s, l, &ev, pl, len);
		return PX_ACT_NEXT;
	}
	rc = px_merge_feed(s->ex->merge, (size_t)(l - s->ex->legs), &ev, pl, len);
	if (rc != PX_MERGE_OK) {
		return px_exec_act_broken(s, rc == PX_MERGE_ENOMEM ? "out of memory merging" :
								   "unmergeable response");
	}
	if (ev.done) {
		l->state = PX_LEG_DONE;
		s->ex->n_done++;
		l->in_trans = (ev.kind == MP_PKT_OK || ev.kind == MP_PKT_EOF) &&
			      (ev.status & MP_STATUS_IN_TRANS) && !l->branch && !l->own_be;
		/* the leg's own time on its endpoint: the per-shard histograms of /metrics */
		px_cmd_lat_add(&s->w->slot_lat[l->be->pool->shard], ms_now_us() - l->sent_us,
			       ev.kind == MP_PKT_ERR);
		s->q_legs_timed = true;
	}
	return PX_ACT_NEXT;
}

static void px_exec_seq_done(struct px_session *s);

static void
px_exec_act(struct px_session *s, struct px_leg *l, enum px_act act)
{
	switch (act) {
	case PX_ACT_BROKEN:
		px_exec_broken(s, l, s->ex->msg);
		break;
	case PX_ACT_FAIL:
		px_exec_fail(s, s->ex->code, "HY000", s->ex->msg);
		break;
	case PX_ACT_REPLAN:
		px_exec_seq_done(s);
		break;
	case PX_ACT_NEXT:
		break;
	}
}

enum px_read {
	PX_READ_WAIT = 0, /* needs more bytes (or the leg is done) */
	PX_READ_FULL,     /* the client's output is above high water */
	PX_READ_STOP,     /* the statement ended or changed: stop touching it */
};

/* Reads whatever complete packets leg <l> has. */
static enum px_read
px_exec_leg_read(struct px_session *s, struct px_leg *l)
{
	struct evbuffer *in = l->be->conn.in;
	uint8_t h[MP_HDR_LEN];

	while (l->state == PX_LEG_SYNC || l->state == PX_LEG_RUN) {
		size_t have = evbuffer_get_length(in);
		uint32_t len;
		enum px_act act;

		if (evbuffer_get_length(s->cl.out) >= PX_HIGH_WATER) {
			return PX_READ_FULL;
		}
		if (have < MP_HDR_LEN) {
			break;
		}
		evbuffer_copyout(in, h, sizeof(h));
		len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
		if (have < MP_HDR_LEN + (size_t)len) {
			break;
		}
		act = px_exec_leg_packet(s, l, evbuffer_pullup(in, MP_HDR_LEN + (ev_ssize_t)len) + MP_HDR_LEN,
					 len);
		evbuffer_drain(in, MP_HDR_LEN + (size_t)len);
		if (act != PX_ACT_NEXT) {
			px_exec_act(s, l, act);
			return PX_READ_STOP;
		}
	}
	return PX_READ_WAIT;
}

static void
px_exec_set_paused(struct px_session *s, bool paused)
{
	struct px_exec *ex = s->ex;

	ex->paused = paused;
	for (size_t i = 0; i < ex->n_legs; i++) {
		if (ex->legs[i].be != NULL) {
			px_conn_set_read(&ex->legs[i].be->conn, !paused);
		}
	}
}

void
px_exec_pump(struct px_session *s)
{
	struct px_exec *ex = s->ex;

	if (ex == NULL || ex->n_acquired < ex->n_legs) {
		return;
	}
	if (ex->paused) {
		if (evbuffer_get_length(s->cl.out) > PX_LOW_WATER) {
			return;
		}
		px_exec_set_paused(s, false);
	}
	for (size_t i = 0; i < ex->n_legs; i++) {
		enum px_read r = px_exec_leg_read(s, &ex->legs[i]);

		if (r == PX_READ_FULL) {
			px_exec_set_paused(s, true); /* resumed by px_sess_settle() */
			return;
		}
		if (r == PX_READ_STOP) {
			return;
		}
	}
	if (ex->n_done == ex->n_legs) {
		px_exec_complete(s);
	}
}

struct px_backend *
px_exec_running_backend(struct px_session *s)
{
	struct px_exec *ex = s->ex;

	for (size_t i = 0; ex != NULL && i < ex->n_legs; i++) {
		if (ex->legs[i].be != NULL && ex->legs[i].state != PX_LEG_DONE) {
			return ex->legs[i].be;
		}
	}
	return NULL;
}

/*
 * <b>, a read replica one leg reads from, was lost before any of that leg's reply came: the
 * read had no effect there and the merge has nothing of it, so the leg runs again on its
 * shard's primary while the other legs' replies wait (their reads paused). False if that is
 * not the case (the caller fails the statement).
 */
static bool
px_exec_leg_retry(struct px_session *s, struct px_backend *b, const char *why)
{
	struct px_exec *ex = s->ex;
	struct px_leg *l = NULL;
	size_t i;

	if (ex->mode != PX_EX_PLAN || !ex->replicas || ex->n_acquired < ex->n_legs ||
	    s->q_timed_out) {
		return false; /* (cut off by timeouts.query_ms: not run again) */
	}
	for (i = 0; i < ex->n_legs; i++) {
		if (ex->legs[i].be == b) {
			l = &ex->legs[i];
			break;
		}
	}
	if (l == NULL || l->ep == l->shard || l->own_be || l->branch ||
	    !(l->state == PX_LEG_SYNC ||
	      (l->state == PX_LEG_RUN && l->resp.state == MP_RESP_FIRST))) {
		return false;
	}
	ms_log_info("session %llu: read replica %s lost before its leg's reply (%s); the leg "
		    "reads from the primary of shard %s", (unsigned long long)s->id,
		    px_pool_shard_name(b->pool), why, ex->names[i]);
	l->be = NULL;
	b->owner = NULL;
	px_pool_drop(b);
	l->ep = l->shard;
	l->state = PX_LEG_WAIT;
	l->sync = PX_SYNC_NONE;
	s->w->stats.replica_fallbacks++;
	px_exec_set_paused(s, true); /* px_exec_pump resumes them once the leg is sent again */
	ex->retry = true;
	ex->retry_idx = i;
	ex->n_acquired = i;
	px_exec_acquire(s);
	return true;
}

bool
px_exec_time_out_waiting(struct px_session *s, const char *why)
{
	char msg[300];

	if (s->ex == NULL || s->want == NULL) {
		return false;
	}
	snprintf(msg, sizeof(msg), "Query execution was interrupted: myshard cut the statement off "
		 "while it waited for a connection: %s", why);
	px_exec_fail(s, 1969, "70100", msg);
	return true;
}

void
px_exec_lost(struct px_session *s, struct px_backend *b, const char *why)
{
	struct px_exec *ex = s->ex;
	const char *shard = px_pool_shard_name(b->pool);
	bool own = b == s->be || px_tx_owns(s, b);
	char msg[400];

	if (!own && px_exec_leg_retry(s, b, why)) {
		return;
	}

	for (size_t i = 0; i < ex->n_legs; i++) {
		if (ex->legs[i].be == b && !own) {
			ex->legs[i].be = NULL;
			b->owner = NULL;
			px_pool_drop(b);
		}
	}
	snprintf(msg, sizeof(msg), "myshard: lost connection to shard %s during the statement (%s)",
		 shard, why);
	if (own) {
		px_sess_send_err(s, ex->seq, 1158, "08S01", "%s", msg);
		px_sess_close(s, "backend with session state lost");
		return;
	}
	px_exec_fail(s, 1158, "08S01", msg);
}

/* ---- finishing ---- */

/* The shard's statement is closed again (COM_STMT_CLOSE has no reply); the client's is ours. */
static void
px_exec_prepare_done(struct px_session *s)
{
	struct px_exec *ex = s->ex;
	struct px_backend *b = ex->legs[0].be;

	if (ex->prepared) {
		uint8_t pkt[MP_HDR_LEN + 5];

		mp_hdr_put(pkt, 5, 0);
		pkt[4] = MP_COM_STMT_CLOSE;
		pkt[5] = (uint8_t)ex->be_stmt_id;
		pkt[6] = (uint8_t)(ex->be_stmt_id >> 8);
		pkt[7] = (uint8_t)(ex->be_stmt_id >> 16);
		pkt[8] = (uint8_t)(ex->be_stmt_id >> 24);
		evbuffer_add(b->conn.out, pkt, sizeof(pkt));
		px_conn_flush(&b->conn);
		px_stmt_prepared(s, ex->stmt_id, ex->text, ex->text_len, ex->n_params);
	}
	px_exec_end(s, true);
}

static void
px_exec_complete(struct px_session *s)
{
	struct px_exec *ex = s->ex;
	const struct rt_plan *p = ex->plan;

	if (ex->mode == PX_EX_PREPARE) {
		px_exec_prepare_done(s);
		return;
	}
	if (px_merge_finish(ex->merge, p->insert_id) != PX_MERGE_OK) {
		px_exec_broken(s, &ex->legs[0], "unmergeable response");
		return;
	}
	if (px_merge_status_seen(ex->merge)) {
		s->status = px_merge_status(ex->merge);
	}
	if (p->insert_id != 0) {
		s->seq_insert_id = p->insert_id;
	}
	s->hold_prev = ex->n_legs == 1 && ex->legs[0].own_be;
	if (ex->n_legs == 1 && !ex->legs[0].own_be && s->pend_sticky != 0) {
		/* one leg that left state behind: the session keeps that connection */
		s->be = ex->legs[0].be;
		ex->legs[0].be = NULL;
	}
	px_cmd_apply_pins(s);
	px_exec_end(s, true);
}

/* ---- sequences ---- */

/* The worker's id block of sequence <idx> of the statement's snapshot, found by name (a newer
 * snapshot may list the sequences in another order); NULL when out of memory. */
static struct px_seq_cache *
px_exec_seq_cache(struct px_session *s, size_t idx)
{
	struct px_worker *w = s->w;
	const char *name = s->ex->snap->map.sequences[idx].name;
	struct px_seq_cache *grown;

	for (size_t i = 0; i < w->n_seqs; i++) {
		if (strcmp(w->seqs[i].name, name) == 0) {
			return &w->seqs[i];
		}
	}
	grown = realloc(w->seqs, (w->n_seqs + 1) * sizeof(*w->seqs));
	if (grown == NULL) {
		return NULL;
	}
	w->seqs = grown;
	memset(&w->seqs[w->n_seqs], 0, sizeof(*w->seqs));
	snprintf(w->seqs[w->n_seqs].name, sizeof(w->seqs[w->n_seqs].name), "%s", name);
	return &w->seqs[w->n_seqs++];
}

/* Plans the statement again with <n> ids from the worker's block and runs it. */
static void
px_exec_replan(struct px_session *s, struct px_seq_cache *c, size_t n)
{
	struct px_exec *ex = s->ex;
	uint64_t *ids = calloc(n, sizeof(*ids));
	struct rt_plan *p = NULL;
	struct rt_plan_in in = { .sql = ex->text, .len = ex->text_len, .snap = ex->snap,
				 .schema = s->schema, .n_ids = n };

	if (ids == NULL) {
		px_sess_close(s, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ids[i] = c->next++;
	}
	in.ids = ids;
	if (rt_plan_build(&in, &p) != MS_OK) {
		free(ids);
		px_sess_close(s, "out of memory");
		return;
	}
	free(ids);
	px_exec_release(s, true);
	px_exec_free_legs(ex);
	rt_plan_free(ex->plan);
	ex->plan = p;
	ex->mode = PX_EX_PLAN;
	if (p->kind == RT_PLAN_SHARDS && p->n_legs > 1) {
		px_tx_late_multi(s, p->write);
	}
	px_exec_run(s);
}

/* Points the sequence leg at the statement of the current step. */
static void
px_exec_seq_sql(struct px_exec *ex)
{
	struct px_leg *l = &ex->legs[0];
	const struct topo_sequence *q = &ex->snap->map.sequences[ex->seq_idx];

	if (ex->seq_step == 1) {
		l->sql = PX_SEQ_SCHEMA;
	} else if (ex->seq_step == 2) {
		l->sql = PX_SEQ_TABLE;
	} else {
		snprintf(ex->seq_sql, sizeof(ex->seq_sql),
			 "INSERT INTO myshard.sequences (name, next_id) VALUES ('%s', "
			 "LAST_INSERT_ID(1 + %llu)) ON DUPLICATE KEY UPDATE next_id = "
			 "LAST_INSERT_ID(next_id + %llu)",
			 q->name, (unsigned long long)ex->seq_n, (unsigned long long)ex->seq_n);
		l->sql = ex->seq_sql;
	}
	l->len = strlen(l->sql);
}

/* Sends the next step's statement on the sequence leg (behind the reply being handled). */
static void
px_exec_seq_send(struct px_session *s)
{
	struct px_leg *l = &s->ex->legs[0];

	px_exec_seq_sql(s->ex);
	l->state = PX_LEG_RUN;
	px_exec_send_cmd(l->be->conn.out, MP_COM_QUERY, l->sql, l->len);
	mp_resp_begin(&l->resp, MP_COM_QUERY, l->be->deprecate_eof);
	px_conn_flush(&l->be->conn);
}

/* The block [seq_first, seq_first + seq_n) is ours: run the statement with its ids. */
static void
px_exec_seq_done(struct px_session *s)
{
	struct px_exec *ex = s->ex;
	struct px_seq_cache *c = px_exec_seq_cache(s, ex->seq_idx);

	if (c == NULL) {
		px_sess_close(s, "out of memory");
		return;
	}
	c->next = ex->seq_first;
	c->end = ex->seq_first + ex->seq_n;
	px_exec_replan(s, c, ex->plan->need_ids);
}

/* INSERT needing ids: from the worker's block if it has enough, else reserve a new block. */
static void
px_exec_need_ids(struct px_session *s)
{
	struct px_exec *ex = s->ex;
	const struct rt_plan *p = ex->plan;
	const struct topo_sequence *q = &ex->snap->map.sequences[p->seq];
	struct px_seq_cache *c = px_exec_seq_cache(s, p->seq);

	if (c == NULL) {
		px_sess_close(s, "out of memory");
		return;
	}
	if (c->end - c->next >= p->need_ids) {
		px_exec_replan(s, c, p->need_ids);
		return;
	}
	ex->mode = PX_EX_SEQ;
	ex->seq_idx = p->seq;
	ex->seq_step = 0;
	ex->seq_n = p->need_ids > q->block ? p->need_ids : q->block;
	ex->legs = calloc(1, sizeof(*ex->legs));
	ex->names = calloc(1, sizeof(*ex->names));
	if (ex->legs == NULL || ex->names == NULL) {
		px_sess_close(s, "out of memory");
		return;
	}
	ex->legs[0].shard = ex->legs[0].ep = q->shard;
	ex->names[0] = ex->snap->shards[q->shard].name;
	ex->n_legs = 1;
	px_exec_seq_sql(ex);
	ex->n_acquired = 0;
	px_exec_acquire(s);
}

/* ---- entry ---- */

static void
px_exec_run(struct px_session *s)
{
	struct px_exec *ex = s->ex;

	ex->n_acquired = ex->n_done = 0;
	if (ex->plan->kind == RT_PLAN_NEED_IDS) {
		px_exec_need_ids(s);
		return;
	}
	if (!px_exec_make_legs(s)) {
		px_sess_close(s, "out of memory");
		return;
	}
	if (px_cmd_pinned(s) &&
	    (ex->n_legs > 1 ||
	     px_worker_slot(s->w, ex->snap, ex->legs[0].shard) != s->be->pool->shard)) {
		snprintf(ex->msg, sizeof(ex->msg),
			 "myshard: this session keeps state on shard %s (a transaction, session variable, "
			 "lock or prepared statement); a statement for %s cannot run in it",
			 px_pool_shard_name(s->be->pool),
			 ex->n_legs > 1 ? "several shards" : ex->names[0]);
		px_exec_fail(s, 1235, "42000", ex->msg);
		return;
	}
	px_exec_acquire(s);
}

void
px_exec_start(struct px_session *s, struct rt_plan *plan, const struct topo_snapshot *snap,
	      const char *sql, size_t len, bool replicas)
{
	struct px_exec *ex = calloc(1, sizeof(*ex));

	if (ex == NULL || (ex->text = malloc(len + 1)) == NULL) {
		free(ex);
		rt_plan_free(plan);
		px_sess_close(s, "out of memory");
		return;
	}
	memcpy(ex->text, sql, len);
	ex->text[len] = '\0';
	ex->text_len = len;
	ex->plan = plan;
	ex->snap = topo_ref(snap);
	ex->seq = (uint8_t)s->cmd_pkts;
	ex->replicas = replicas;
	s->ex = ex;
	px_cmd_drain_keep_pins(s);
	px_sess_set_state(s, PX_SESS_MULTI);
	if (s->be != NULL && !px_cmd_pinned(s)) {
		struct px_backend *b = s->be; /* held only for hold_prev: legs take fresh ones */

		s->be = NULL;
		s->hold_prev = false;
		if (!px_tx_owns(s, b)) {
			px_pool_put(b);
		}
	}
	px_exec_run(s);
}

void
px_exec_start_prepare(struct px_session *s, const struct topo_snapshot *snap, size_t shard,
		      const char *sql, size_t len, uint32_t id)
{
	struct px_exec *ex = calloc(1, sizeof(*ex));

	if (ex == NULL || (ex->text = malloc(len + 1)) == NULL ||
	    (ex->legs = calloc(1, sizeof(*ex->legs))) == NULL ||
	    (ex->names = calloc(1, sizeof(*ex->names))) == NULL) {
		if (ex != NULL) {
			free(ex->legs);
			free(ex->text);
		}
		free(ex);
		px_sess_close(s, "out of memory");
		return;
	}
	memcpy(ex->text, sql, len);
	ex->text[len] = '\0';
	ex->text_len = len;
	ex->snap = topo_ref(snap);
	ex->seq = (uint8_t)s->cmd_pkts;
	ex->mode = PX_EX_PREPARE;
	ex->stmt_id = id;
	ex->legs[0].shard = ex->legs[0].ep = shard;
	ex->legs[0].sql = ex->text;
	ex->legs[0].len = len;
	ex->names[0] = snap->shards[shard].name;
	ex->n_legs = 1;
	s->ex = ex;
	px_cmd_drain_keep_pins(s);
	px_sess_set_state(s, PX_SESS_MULTI);
	px_exec_acquire(s);
}

void
px_exec_start_binary(struct px_session *s, struct rt_plan *plan, const struct topo_snapshot *snap,
		     const char *sql, size_t len, struct px_stmt *cursor, bool replicas)
{
	px_exec_start(s, plan, snap, sql, len, replicas);
	if (s->ex != NULL) {
		s->ex->binary = true;
		s->ex->cursor = cursor;
	}
}

/* ---- local result sets ---- */

static void
px_exec_send_coldef(struct px_session *s, uint8_t seq, const char *name, uint8_t type)
{
	struct mp_coldef d = { 0 };
	uint8_t buf[512];
	struct mp_writer w;

	d.catalog.ptr = (const uint8_t *)"def";
	d.catalog.len = 3;
	d.name.ptr = d.org_name.ptr = (const uint8_t *)name;
	d.name.len = d.org_name.len = strlen(name);
	d.charset = type == 253 ? 45 : 63;
	d.length = type == 253 ? 4096 : 21;
	d.type = type;
	d.flags = type == 253 ? 0 : 0xa1; /* NOT NULL | UNSIGNED | BINARY */
	mp_writer_init(&w, buf, sizeof(buf));
	mp_coldef_write(&w, &d);
	px_sess_send(s, seq, buf, mp_writer_len(&w));
}

void
px_exec_send_rows(struct px_session *s, uint8_t seq, unsigned int ncols, const char *const *names,
		  const uint8_t *types, const char *const *cells, size_t nrows)
{
	uint8_t buf[16];
	struct mp_writer w;
	struct evbuffer *row = evbuffer_new();

	mp_writer_init(&w, buf, sizeof(buf));
	mp_lenenc_put(&w, ncols);
	px_sess_send(s, seq++, buf, mp_writer_len(&w));
	for (unsigned int i = 0; i < ncols; i++) {
		px_exec_send_coldef(s, seq++, names[i], types != NULL ? types[i] : 253);
	}
	mp_writer_init(&w, buf, sizeof(buf));
	mp_eof_write(&w, 0, px_tx_status(s, s->status));
	px_sess_send(s, seq++, buf, mp_writer_len(&w));
	for (size_t r = 0; r < nrows && row != NULL; r++) {
		for (unsigned int i = 0; i < ncols; i++) {
			const char *v = cells[r * ncols + i];
			size_t n = v != NULL ? strlen(v) : 0;

			mp_writer_init(&w, buf, sizeof(buf));
			if (v == NULL) {
				mp_u8_put(&w, 0xfb);
			} else {
				mp_lenenc_put(&w, n);
			}
			evbuffer_add(row, buf, mp_writer_len(&w));
			evbuffer_add(row, v, n);
		}
		px_sess_send(s, seq++, evbuffer_pullup(row, -1), evbuffer_get_length(row));
		evbuffer_drain(row, evbuffer_get_length(row));
	}
	evbuffer_free(row);
	mp_writer_init(&w, buf, sizeof(buf));
	mp_eof_write(&w, 0, px_tx_status(s, s->status));
	px_sess_send(s, seq, buf, mp_writer_len(&w));
}
