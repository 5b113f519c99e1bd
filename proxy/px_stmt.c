/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_stmt.c - emulated prepared statements: statement registry per session, bound
 * values to SQL literals, and text rows to binary-protocol rows.
 */
#include "proxy/px_stmt.h"

#include "common/ms_log.h"
#include "protocol/mp_result.h"
#include "proxy/px_command.h"
#include "proxy/px_exec.h"
#include "proxy/px_sess_io.h"
#include "proxy/px_tx.h"
#include "proxy/px_worker.h"
#include "router/rt_tx.h"
#include "router/rt_lex.h"
#include "router/rt_plan.h"
#include "topology/topo.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column / parameter types of the binary protocol. */
enum {
	PX_T_DECIMAL = 0, PX_T_TINY = 1, PX_T_SHORT = 2, PX_T_LONG = 3, PX_T_FLOAT = 4,
	PX_T_DOUBLE = 5, PX_T_NULL = 6, PX_T_TIMESTAMP = 7, PX_T_LONGLONG = 8, PX_T_INT24 = 9,
	PX_T_DATE = 10, PX_T_TIME = 11, PX_T_DATETIME = 12, PX_T_YEAR = 13,
};
#define PX_FLAG_UNSIGNED 0x20u

/* One emulated statement. */
struct px_stmt {
	uint32_t id;
	char *sql;            /* owned */
	size_t len;
	uint16_t n_params;
	uint16_t *types;      /* owned; n_params types (low byte type, 0x8000 unsigned) */
	bool have_types;
	struct evbuffer **long_data; /* owned; per parameter, NULL if none sent */
	struct evbuffer *cur_head; /* owned; cursor: packets before the rows (4-byte length each) */
	struct evbuffer *cur_rows; /* owned; cursor: rows not fetched yet (4-byte length each) */
	size_t cur_left;      /* rows in cur_rows */
	uint16_t cur_status;  /* status of the execution's final EOF */
	bool cur_open;        /* the client was told a cursor exists */
	struct px_stmt *next; /* owned list */
};

static struct px_stmt *
px_stmt_find(struct px_session *s, uint32_t id)
{
	for (struct px_stmt *t = s->stmts; t != NULL; t = t->next) {
		if (t->id == id) {
			return t;
		}
	}
	return NULL;
}

static void
px_stmt_reset_long(struct px_stmt *t)
{
	for (uint16_t i = 0; t->long_data != NULL && i < t->n_params; i++) {
		if (t->long_data[i] != NULL) {
			evbuffer_free(t->long_data[i]);
			t->long_data[i] = NULL;
		}
	}
}

void
px_stmt_cursor_drop(struct px_stmt *t)
{
	if (t->cur_head != NULL) {
		evbuffer_free(t->cur_head);
	}
	if (t->cur_rows != NULL) {
		evbuffer_free(t->cur_rows);
	}
	t->cur_head = t->cur_rows = NULL;
	t->cur_left = 0;
	t->cur_open = false;
}

static bool
px_stmt_cursor_put(struct evbuffer **b, const uint8_t *pl, size_t len)
{
	uint8_t n[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			 (uint8_t)(len >> 24) };

	if (*b == NULL) {
		*b = evbuffer_new();
	}
	return *b != NULL && len <= UINT32_MAX && evbuffer_add(*b, n, 4) == 0 &&
	       evbuffer_add(*b, pl, len) == 0;
}

bool
px_stmt_cursor_head(struct px_stmt *t, const uint8_t *pl, size_t len)
{
	return px_stmt_cursor_put(&t->cur_head, pl, len);
}

bool
px_stmt_cursor_row(struct px_stmt *t, const uint8_t *pl, size_t len, size_t cap)
{
	if ((t->cur_rows != NULL ? evbuffer_get_length(t->cur_rows) : 0) + len > cap ||
	    !px_stmt_cursor_put(&t->cur_rows, pl, len)) {
		px_stmt_cursor_drop(t);
		return false;
	}
	t->cur_left++;
	return true;
}

/* Moves the next packet of <b> to the client with sequence id *<seq>; false when empty. */
static bool
px_stmt_cursor_send(struct px_session *s, struct evbuffer *b, uint8_t *seq, bool patch_eof,
		    uint16_t status)
{
	uint8_t n[4];
	size_t len;
	uint8_t *pl;

	if (b == NULL || evbuffer_copyout(b, n, 4) != 4) {
		return false;
	}
	len = (size_t)n[0] | (size_t)n[1] << 8 | (size_t)n[2] << 16 | (size_t)n[3] << 24;
	evbuffer_drain(b, 4);
	pl = evbuffer_pullup(b, (ev_ssize_t)len);
	if (patch_eof && len == 5 && pl[0] == MP_EOF_HDR) {
		pl[3] = (uint8_t)status;
		pl[4] = (uint8_t)(status >> 8);
	}
	px_sess_send(s, (*seq)++, pl, len);
	evbuffer_drain(b, len);
	return true;
}

void
px_stmt_cursor_open(struct px_session *s, struct px_stmt *t, uint8_t *seq, uint16_t status)
{
	t->cur_status = (uint16_t)(status & ~(MP_STATUS_CURSOR_EXISTS | MP_STATUS_LAST_ROW_SENT |
					       MP_STATUS_MORE_RESULTS));
	while (px_stmt_cursor_send(s, t->cur_head, seq, true,
				   t->cur_status | MP_STATUS_CURSOR_EXISTS)) {
	}
	evbuffer_free(t->cur_head);
	t->cur_head = NULL;
	t->cur_open = true;
}

/* ---- direct executions on the backend's own prepared statement ---- */

/* The cache key of <t> on <b>: the connection's default schema (unqualified names resolve
 * in it), NUL, the text. */
static bool
px_stmt_key_is(const struct px_bstmt *e, const struct px_backend *b, const struct px_stmt *t)
{
	size_t sl = strlen(b->schema);

	return e->key != NULL && e->key_len == sl + 1 + t->len && memcmp(e->key, b->schema, sl) == 0 &&
	       e->key[sl] == '\0' && memcmp(e->key + sl + 1, t->sql, t->len) == 0;
}

uint32_t
px_stmt_direct_id(struct px_backend *b, const struct px_stmt *t)
{
	for (size_t i = 0; b->stmts != NULL && i < PX_BSTMT_MAX; i++) {
		struct px_bstmt *e = &b->stmts[i];

		if (e->id != 0 && px_stmt_key_is(e, b, t)) {
			e->used = ++b->stmt_clock;
			return e->id;
		}
	}
	return 0;
}

static void
px_stmt_put_cmd(struct evbuffer *out, uint8_t cmd, const void *body, size_t n)
{
	uint8_t hdr[MP_HDR_LEN + 1];

	mp_hdr_put(hdr, (uint32_t)(n + 1), 0);
	hdr[MP_HDR_LEN] = cmd;
	evbuffer_add(out, hdr, sizeof(hdr));
	evbuffer_add(out, body, n);
}

void
px_stmt_direct_prepare(struct px_session *s, struct px_backend *b)
{
	const struct px_stmt *t = s->direct;
	struct px_bstmt *slot = NULL;
	size_t sl = strlen(b->schema);

	if (b->stmts == NULL) {
		b->stmts = calloc(PX_BSTMT_MAX, sizeof(*b->stmts));
	}
	for (size_t i = 0; b->stmts != NULL && i < PX_BSTMT_MAX; i++) {
		struct px_bstmt *e = &b->stmts[i];

		if (e->key == NULL) {
			slot = e;
			break;
		}
		if (slot == NULL || e->used < slot->used) {
			slot = e; /* the least recently used so far */
		}
	}
	if (slot != NULL && slot->key != NULL) {
		uint8_t id[4] = { (uint8_t)slot->id, (uint8_t)(slot->id >> 8),
				  (uint8_t)(slot->id >> 16), (uint8_t)(slot->id >> 24) };

		px_stmt_put_cmd(b->conn.out, MP_COM_STMT_CLOSE, id, sizeof(id)); /* no reply */
		free(slot->key);
		slot->key = NULL;
	}
	if (slot != NULL && (slot->key = malloc(sl + 1 + t->len)) != NULL) {
		memcpy(slot->key, b->schema, sl + 1);
		memcpy(slot->key + sl + 1, t->sql, t->len);
		slot->key_len = sl + 1 + t->len;
		slot->id = 0;
		slot->used = ++b->stmt_clock;
	}
	px_stmt_put_cmd(b->conn.out, MP_COM_STMT_PREPARE, t->sql, t->len);
}

void
px_stmt_direct_prepared(struct px_session *s, struct px_backend *b, uint32_t id)
{
	for (size_t i = 0; b->stmts != NULL && i < PX_BSTMT_MAX; i++) {
		struct px_bstmt *e = &b->stmts[i];

		if (e->id == 0 && px_stmt_key_is(e, b, s->direct)) {
			if (id == 0) {
				free(e->key); /* the prepare failed: the slot is free again */
				e->key = NULL;
			}
			e->id = id;
			break;
		}
	}
	s->direct_id = id;
}

void
px_stmt_direct_write(struct px_session *s, struct px_backend *b)
{
	const struct px_stmt *t = s->direct;
	const uint8_t *pl = evbuffer_pullup(s->cl.in, (ev_ssize_t)s->cmd_len) + MP_HDR_LEN;
	size_t len = s->cmd_len - MP_HDR_LEN, nb = (t->n_params + 7u) / 8u, at = 10;
	struct evbuffer *out = b->conn.out;
	uint8_t hdr[MP_HDR_LEN], head[10];

	/* cmd, id, flags, iteration count; then the null bitmap, the bound flag, types, values */
	memcpy(head, pl, 10);
	head[1] = (uint8_t)s->direct_id;
	head[2] = (uint8_t)(s->direct_id >> 8);
	head[3] = (uint8_t)(s->direct_id >> 16);
	head[4] = (uint8_t)(s->direct_id >> 24);
	head[5] = 0; /* no cursor: direct executions never ask for one */
	if (t->n_params == 0) {
		mp_hdr_put(hdr, (uint32_t)len, 0);
		evbuffer_add(out, hdr, sizeof(hdr));
		evbuffer_add(out, head, 10);
		evbuffer_add(out, pl + 10, len - 10);
	} else {
		bool bound = pl[at + nb] != 0;
		size_t values = at + nb + 1 + (bound ? 2u * t->n_params : 0);
		uint8_t one = 1;

		/* the types go along every time: this connection may not have seen them */
		mp_hdr_put(hdr, (uint32_t)(10 + nb + 1 + 2u * t->n_params + (len - values)), 0);
		evbuffer_add(out, hdr, sizeof(hdr));
		evbuffer_add(out, head, 10);
		evbuffer_add(out, pl + at, nb);
		evbuffer_add(out, &one, 1);
		for (uint16_t k = 0; k < t->n_params; k++) {
			uint8_t ty[2] = { (uint8_t)t->types[k], (uint8_t)(t->types[k] >> 8) };

			evbuffer_add(out, ty, 2);
		}
		evbuffer_add(out, pl + values, len - values);
	}
	evbuffer_drain(s->cl.in, s->cmd_len);
}

/* COM_STMT_FETCH: the next <n> rows, then EOF (CURSOR_EXISTS, or LAST_ROW_SENT at the end,
 * which closes the cursor). */
static void
px_stmt_fetch(struct px_session *s, struct px_stmt *t, uint32_t n)
{
	uint8_t seq = 1, eof[5] = { MP_EOF_HDR, 0, 0, 0, 0 };
	uint16_t st;

	for (; n > 0 && t->cur_left > 0; n--, t->cur_left--) {
		(void)px_stmt_cursor_send(s, t->cur_rows, &seq, false, 0);
	}
	st = (uint16_t)(t->cur_status |
			(t->cur_left > 0 ? MP_STATUS_CURSOR_EXISTS : MP_STATUS_LAST_ROW_SENT));
	eof[3] = (uint8_t)st;
	eof[4] = (uint8_t)(st >> 8);
	px_sess_send(s, seq, eof, sizeof(eof));
	if (t->cur_left == 0) {
		px_stmt_cursor_drop(t);
	}
}

static void
px_stmt_free(struct px_stmt *t)
{
	px_stmt_cursor_drop(t);
	px_stmt_reset_long(t);
	free(t->long_data);
	free(t->types);
	free(t->sql);
	free(t);
}

void
px_stmt_free_all(struct px_session *s)
{
	while (s->stmts != NULL) {
		struct px_stmt *t = s->stmts;

		s->stmts = t->next;
		px_stmt_free(t);
	}
}

/* True if some word of <sql> names a sharded or global table: such statements are emulated;
 * others (no configured table) are prepared on the default shard as they are. */
bool
px_stmt_names_table(const struct topo_map *m, const char *sql, size_t len)
{
	struct rt_lex lx;
	struct rt_tok t;

	rt_lex_init(&lx, sql, len);
	while ((t = rt_lex_next(&lx)).kind != RT_TOK_END && t.kind != RT_TOK_ERROR) {
		if (t.kind == RT_TOK_WORD && topo_table_name_known(m, t.ptr, t.len)) {
			return true;
		}
		if (t.kind == RT_TOK_QIDENT && t.len > 2 && topo_table_name_known(m, t.ptr + 1, t.len - 2)) {
			return true;
		}
	}
	return false;
}

bool
px_stmt_prepare(struct px_session *s, const char *sql, size_t len)
{
	const struct topo_snapshot *snap = topo_read_begin(s->w->topo);
	struct rt_plan_in in = { .sql = sql, .len = len, .snap = snap, .schema = s->schema };
	struct rt_plan *p = NULL;
	struct rt_tx tx;
	size_t shard;

	rt_tx_parse(sql, len, &tx);
	if (tx.kind != RT_TX_NONE && px_tx_runs(s)) {
		/* BEGIN, COMMIT, ... prepared (sysbench does): answered here, run by px_tx */
		uint32_t id = PX_STMT_ID_BASE + s->next_stmt++;
		uint8_t ok[12] = { 0, (uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16),
				   (uint8_t)(id >> 24), 0, 0, 0, 0, 0, 0, 0 };

		topo_read_end(s->w->topo);
		px_stmt_prepared(s, id, sql, len, 0);
		px_cmd_drain_keep_pins(s);
		px_sess_send(s, 1, ok, sizeof(ok));
		px_cmd_finish(s);
		return true;
	}
	if (snap == NULL || !px_stmt_names_table(&snap->map, sql, len)) {
		topo_read_end(s->w->topo);
		return false;
	}
	if (rt_plan_build(&in, &p) != MS_OK) {
		topo_read_end(s->w->topo);
		px_sess_close(s, "out of memory");
		return true;
	}
	/* the metadata comes from a shard holding the tables; routing waits for the values */
	shard = p->kind == RT_PLAN_SHARDS && p->n_legs > 0 ? p->legs[0].shard : snap->map.default_shard;
	rt_plan_free(p);
	px_exec_start_prepare(s, snap, shard, sql, len, PX_STMT_ID_BASE + s->next_stmt++);
	topo_read_end(s->w->topo);
	return true;
}

void
px_stmt_prepared(struct px_session *s, uint32_t id, const char *sql, size_t len, uint16_t n_params)
{
	struct px_stmt *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->sql = malloc(len + 1)) == NULL ||
	    (t->types = calloc(n_params + 1u, sizeof(*t->types))) == NULL ||
	    (t->long_data = calloc(n_params + 1u, sizeof(*t->long_data))) == NULL) {
		if (t != NULL) {
			px_stmt_free(t);
		}
		px_sess_close(s, "out of memory");
		return;
	}
	memcpy(t->sql, sql, len);
	t->sql[len] = '\0';
	t->len = len;
	t->id = id;
	t->n_params = n_params;
	t->next = s->stmts;
	s->stmts = t;
}

/* ---- EXECUTE: bound values to SQL text ---- */

static uint64_t
px_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

/* Appends <p>/<n> as a string literal: '...' with quotes doubled, or X'..' when it holds
 * bytes whose escaping depends on sql_mode (backslash) or that are not text. */
static void
px_stmt_put_string(struct evbuffer *out, const uint8_t *p, size_t n)
{
	bool hex = false;

	for (size_t i = 0; i < n; i++) {
		hex |= p[i] == '\\' || p[i] == 0 || p[i] == 0x1a;
	}
	if (hex) {
		evbuffer_add(out, "X'", 2);
		for (size_t i = 0; i < n; i++) {
			evbuffer_add_printf(out, "%02x", p[i]);
		}
		evbuffer_add(out, "'", 1);
		return;
	}
	evbuffer_add(out, "'", 1);
	for (size_t i = 0; i < n; i++) {
		evbuffer_add(out, p[i] == '\'' ? "''" : (const char *)&p[i], p[i] == '\'' ? 2 : 1);
	}
	evbuffer_add(out, "'", 1);
}

/* Appends a temporal value (<n> bytes after the length byte). */
static bool
px_stmt_put_time(struct evbuffer *out, uint8_t type, const uint8_t *p, size_t n)
{
	unsigned int us = n >= 11 ? (unsigned int)px_le(p + 7, 4) : 0;

	if (type == PX_T_TIME) {
		unsigned int us_t = n >= 12 ? (unsigned int)px_le(p + 8, 4) : 0;
		uint64_t hours = n >= 8 ? px_le(p + 1, 4) * 24 + p[5] : 0;

		evbuffer_add_printf(out, "'%s%" PRIu64 ":%02u:%02u.%06u'", n >= 8 && p[0] ? "-" : "",
				    hours, n >= 8 ? p[6] : 0, n >= 8 ? p[7] : 0, us_t);
		return n == 0 || n == 8 || n == 12;
	}
	if (n != 0 && n != 4 && n != 7 && n != 11) {
		return false;
	}
	evbuffer_add_printf(out, "'%04u-%02u-%02u %02u:%02u:%02u.%06u'",
			    n >= 4 ? (unsigned int)px_le(p, 2) : 0, n >= 4 ? p[2] : 0, n >= 4 ? p[3] : 0,
			    n >= 7 ? p[4] : 0, n >= 7 ? p[5] : 0, n >= 7 ? p[6] : 0, us);
	return true;
}

/* Appends the value of one parameter at <c>; false if the packet is malformed. */
static bool
px_stmt_put_value(struct evbuffer *out, uint16_t type, struct mp_cursor *c)
{
	static const unsigned int fixed[] = { [PX_T_TINY] = 1, [PX_T_SHORT] = 2, [PX_T_YEAR] = 2,
					      [PX_T_LONG] = 4, [PX_T_INT24] = 4, [PX_T_LONGLONG] = 8,
					      [PX_T_FLOAT] = 4, [PX_T_DOUBLE] = 8 };
	uint8_t t = (uint8_t)type;
	struct ms_slice v;

	if (t < MS_ARRAY_LEN(fixed) && fixed[t] != 0 && t != PX_T_FLOAT && t != PX_T_DOUBLE) {
		unsigned int n = fixed[t];
		uint64_t u;

		if (c->end - c->pos < (ptrdiff_t)n) {
			return false;
		}
		u = px_le(c->pos, n);
		c->pos += n;
		if (!(type & 0x8000) && n < 8 && (u >> (8 * n - 1)) & 1) {
			u |= ~0ull << (8 * n); /* sign-extend */
		}
		evbuffer_add_printf(out, (type & 0x8000) ? "%" PRIu64 : "%" PRId64, u);
		return true;
	}
	if (t == PX_T_FLOAT || t == PX_T_DOUBLE) {
		unsigned int n = t == PX_T_FLOAT ? 4 : 8;
		uint64_t u;

		if (c->end - c->pos < (ptrdiff_t)n) {
			return false;
		}
		u = px_le(c->pos, n);
		c->pos += n;
		if (n == 4) {
			uint32_t u32 = (uint32_t)u;
			float f;

			memcpy(&f, &u32, sizeof(f));
			evbuffer_add_printf(out, "%.9g", (double)f);
		} else {
			double d;

			memcpy(&d, &u, sizeof(d));
			evbuffer_add_printf(out, "%.17g", d);
		}
		return true;
	}
	if (t == PX_T_DATE || t == PX_T_DATETIME || t == PX_T_TIMESTAMP || t == PX_T_TIME) {
		uint8_t n;

		if (mp_u8_read(c, &n) != MP_OK || c->end - c->pos < n) {
			return false;
		}
		c->pos += n;
		return px_stmt_put_time(out, t, c->pos - n, n);
	}
	if (mp_lenenc_str_read(c, &v) != MP_OK) {
		return false;
	}
	px_stmt_put_string(out, v.ptr, v.len);
	return true;
}

/* Builds the statement text with every ? replaced by its bound value. */
static bool
px_stmt_text(struct px_stmt *t, struct mp_cursor *c, struct evbuffer *out)
{
	size_t nb = (t->n_params + 7u) / 8u;
	const uint8_t *nulls = c->pos;
	struct rt_lex lx;
	struct rt_tok tok;
	const char *from = t->sql;
	uint16_t i = 0;
	uint8_t bound = 0;

	if (t->n_params > 0) {
		if (c->end - c->pos < (ptrdiff_t)nb + 1) {
			return false;
		}
		c->pos += nb;
		bound = *c->pos++;
		if (bound) {
			if (c->end - c->pos < 2 * (ptrdiff_t)t->n_params) {
				return false;
			}
			for (uint16_t k = 0; k < t->n_params; k++) {
				t->types[k] = (uint16_t)px_le(c->pos + 2 * k, 2);
			}
			c->pos += 2 * t->n_params;
			t->have_types = true;
		}
		if (!t->have_types) {
			return false;
		}
	}
	rt_lex_init(&lx, t->sql, t->len);
	while ((tok = rt_lex_next(&lx)).kind != RT_TOK_END && tok.kind != RT_TOK_ERROR) {
		if (tok.kind != RT_TOK_PARAM || i >= t->n_params) {
			continue;
		}
		evbuffer_add(out, from, (size_t)(tok.ptr - from));
		from = tok.ptr + tok.len;
		if (t->long_data[i] != NULL) {
			px_stmt_put_string(out, evbuffer_pullup(t->long_data[i], -1),
					   evbuffer_get_length(t->long_data[i]));
		} else if ((nulls[i / 8] >> (i % 8)) & 1) {
			evbuffer_add(out, "NULL", 4);
		} else if (!px_stmt_put_value(out, t->types[i], c)) {
			return false;
		}
		i++;
	}
	evbuffer_add(out, from, (size_t)(t->sql + t->len - from));
	return i == t->n_params;
}

static bool
px_stmt_execute(struct px_session *s, struct px_stmt *t, const uint8_t *pl, size_t len)
{
	struct evbuffer *text = evbuffer_new();
	struct mp_cursor c;
	const struct topo_snapshot *snap;
	struct rt_plan *p = NULL;
	struct rt_plan_in in = { .schema = s->schema };
	bool cursor = len > 5 && (pl[5] & 0x01); /* CURSOR_TYPE_READ_ONLY */
	bool long_data = false;

	px_stmt_cursor_drop(t); /* a new execution closes the cursor of the last one */
	mp_cursor_init(&c, pl + 10, len - 10); /* cmd, id, flags, iteration count */
	if (text == NULL || len < 10 || !px_stmt_text(t, &c, text)) {
		if (text != NULL) {
			evbuffer_free(text);
		}
		px_cmd_drain_keep_pins(s);
		px_sess_send_err(s, 1, 1210, "HY000", "Incorrect arguments to mysqld_stmt_execute");
		px_cmd_finish(s);
		return true;
	}
	if (s->tx.n > 0 && (px_worker_sync(s->w), px_tx_moved(s))) {
		evbuffer_free(text);
		return true;
	}
	for (uint16_t k = 0; k < t->n_params && !long_data; k++) {
		long_data = t->long_data[k] != NULL;
	}
	px_stmt_reset_long(t);
	in.len = evbuffer_get_length(text);
	in.sql = (const char *)evbuffer_pullup(text, -1);
	if (t->n_params == 0) {
		struct rt_tx tx;
		bool progress;

		rt_tx_parse(in.sql, in.len, &tx);
		if (tx.kind != RT_TX_NONE && px_tx_control(s, &tx, true, &progress)) {
			evbuffer_free(text);
			return true;
		}
	}
	snap = topo_read_begin(s->w->topo);
	in.snap = snap;
	if (rt_plan_build(&in, &p) != MS_OK) {
		px_sess_close(s, "out of memory");
	} else if (p->kind == RT_PLAN_ERROR || p->kind == RT_PLAN_EXPLAIN) {
		px_cmd_digest_begin(s, p); /* counted with its digest, as an error */
		s->q_err = true;
		px_cmd_drain_keep_pins(s);
		px_sess_send_err(s, 1, p->kind == RT_PLAN_ERROR ? p->err_code : 1295,
				 p->kind == RT_PLAN_ERROR ? p->err_state : "HY000", "%s",
				 p->kind == RT_PLAN_ERROR ? p->err_msg :
							    "This command is not supported in the prepared statement protocol yet");
		rt_plan_free(p);
		px_cmd_finish(s);
	} else if (px_tx_enter(s, p->write,
			       p->n_legs > 1 || (p->kind == RT_PLAN_NEED_IDS && p->need_ids > 1),
			       rt_tx_implicit_commit(in.sql, in.len), false) != 0) {
		rt_plan_free(p); /* refused, or an implicit commit runs first and then this again */
	} else if (p->kind == RT_PLAN_SHARDS && p->n_legs == 1 && p->legs[0].sql == NULL &&
		   p->merge.kind == RT_MERGE_NONE && p->insert_id == 0 && !cursor && !long_data &&
		   s->cmd_pkts == 1 && (t->n_params == 0 || t->have_types)) {
		/* one shard, the statement as it is: its own prepared statement there (or on one
		 * of the shard's read replicas, prepared there the same way) */
		size_t shard = p->legs[0].shard;
		bool write = p->write;

		px_cmd_digest_begin(s, p);
		rt_plan_free(p);
		s->direct = t;
		s->direct_id = 0;
		(void)px_cmd_single_shard(s, write ? shard : px_cmd_read_endpoint(s, snap, shard, in.sql,
										    in.len),
					  snap);
	} else {
		px_cmd_digest_begin(s, p); /* prepared executions count with their text's digest */
		px_exec_start_binary(s, p, snap, in.sql, in.len, cursor ? t : NULL, !p->write);
	}
	topo_read_end(s->w->topo);
	evbuffer_free(text);
	return true;
}

bool
px_stmt_command(struct px_session *s, uint32_t first_len)
{
	const uint8_t *pl;
	struct px_stmt *t;
	uint32_t id;

	if (first_len < 5 || s->cmd_pkts > 1) {
		return false;
	}
	pl = evbuffer_pullup(s->cl.in, MP_HDR_LEN + (ev_ssize_t)first_len) + MP_HDR_LEN;
	id = (uint32_t)px_le(pl + 1, 4);
	if (id < PX_STMT_ID_BASE) {
		return false;
	}
	t = px_stmt_find(s, id);
	if (t == NULL) {
		return false;
	}
	switch (s->cmd) {
	case MP_COM_STMT_EXECUTE:
		return px_stmt_execute(s, t, pl, first_len);
	case MP_COM_STMT_SEND_LONG_DATA:
		if (first_len >= 7 && px_le(pl + 5, 2) < t->n_params) {
			uint16_t k = (uint16_t)px_le(pl + 5, 2);

			if (t->long_data[k] == NULL) {
				t->long_data[k] = evbuffer_new();
			}
			if (t->long_data[k] != NULL) {
				evbuffer_add(t->long_data[k], pl + 7, first_len - 7);
			}
		}
		px_cmd_drain_keep_pins(s);
		return true;
	case MP_COM_STMT_CLOSE: {
		struct px_stmt **pp = &s->stmts;

		while (*pp != t) {
			pp = &(*pp)->next;
		}
		*pp = t->next;
		px_stmt_free(t);
		px_cmd_drain_keep_pins(s);
		return true;
	}
	case MP_COM_STMT_RESET:
		px_stmt_reset_long(t);
		px_stmt_cursor_drop(t);
		px_cmd_drain_keep_pins(s);
		px_sess_send_ok(s, 1);
		px_cmd_finish(s);
		return true;
	default: { /* FETCH */
		uint32_t rows = first_len >= 9 ? (uint32_t)px_le(pl + 5, 4) : 0;

		px_cmd_drain_keep_pins(s); /* <pl> points into the input: read before */
		if (t->cur_open && first_len >= 9) {
			px_stmt_fetch(s, t, rows);
		} else {
			px_sess_send_err(s, 1, 1421, "HY000",
					 "The statement (%" PRIu32 ") has no open cursor", id);
		}
		px_cmd_finish(s);
		return true;
	}
	}
}

/* ---- text rows to binary rows ---- */

/* Parses up to <max> unsigned decimal fields separated by any of <seps> from <v>. */
static unsigned int
px_stmt_fields(struct ms_slice v, unsigned int *f, unsigned int max, unsigned int *us)
{
	unsigned int n = 0;
	size_t i = 0;

	*us = 0;
	while (i < v.len && n < max) {
		unsigned int x = 0;

		while (i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9') {
			x = x * 10 + (unsigned int)(v.ptr[i++] - '0');
		}
		f[n++] = x;
		if (i < v.len && v.ptr[i] == '.') {
			unsigned int digits = 0;

			for (i++; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++, digits++) {
				*us = *us * 10 + (unsigned int)(v.ptr[i] - '0');
			}
			for (; digits < 6; digits++) {
				*us *= 10;
			}
			break;
		}
		i++; /* separator */
	}
	return n;
}

static size_t
px_stmt_bin_temporal(uint8_t type, struct ms_slice v, uint8_t *o)
{
	unsigned int f[6] = { 0 }, us;
	bool neg = v.len > 0 && v.ptr[0] == '-';

	if (type == PX_T_TIME) {
		struct ms_slice w = { v.ptr + neg, v.len - neg };
		unsigned int n = px_stmt_fields(w, f, 3, &us);

		if (n < 3) {
			return 0;
		}
		o[0] = us ? 12 : (f[0] | f[1] | f[2]) ? 8 : 0;
		o[1] = neg;
		o[2] = (uint8_t)(f[0] / 24);
		o[3] = (uint8_t)(f[0] / 24 >> 8);
		o[4] = (uint8_t)(f[0] / 24 >> 16);
		o[5] = (uint8_t)(f[0] / 24 >> 24);
		o[6] = (uint8_t)(f[0] % 24);
		o[7] = (uint8_t)f[1];
		o[8] = (uint8_t)f[2];
		memcpy(o + 9, (uint8_t[4]){ (uint8_t)us, (uint8_t)(us >> 8), (uint8_t)(us >> 16), 0 }, 4);
		return (size_t)o[0] + 1;
	}
	(void)px_stmt_fields(v, f, 6, &us);
	/* as the server encodes it: the shortest length that holds every non-zero part */
	o[0] = us ? 11 : (f[3] | f[4] | f[5]) ? 7 : (f[0] | f[1] | f[2]) ? 4 : 0;
	o[1] = (uint8_t)f[0];
	o[2] = (uint8_t)(f[0] >> 8);
	o[3] = (uint8_t)f[1];
	o[4] = (uint8_t)f[2];
	o[5] = (uint8_t)f[3];
	o[6] = (uint8_t)f[4];
	o[7] = (uint8_t)f[5];
	memcpy(o + 8, (uint8_t[4]){ (uint8_t)us, (uint8_t)(us >> 8), (uint8_t)(us >> 16), 0 }, 4);
	if (type == PX_T_DATE) {
		o[0] = (f[0] | f[1] | f[2]) ? 4 : 0;
	}
	return (size_t)o[0] + 1;
}

/* Encodes one non-NULL value <v> of column type <type> at <o> (at least 16 bytes free for
 * fixed-size values). Returns bytes written, 0 if <v> does not parse. */
static size_t
px_stmt_bin_value(uint8_t type, uint16_t flags, struct ms_slice v, uint8_t *o, size_t room)
{
	char num[80];
	unsigned int n = 0;

	switch (type) {
	case PX_T_TINY: n = 1; break;
	case PX_T_SHORT: case PX_T_YEAR: n = 2; break;
	case PX_T_LONG: case PX_T_INT24: n = 4; break;
	case PX_T_LONGLONG: n = 8; break;
	case PX_T_FLOAT: case PX_T_DOUBLE:
		n = type == PX_T_FLOAT ? 4 : 8;
		break;
	case PX_T_DATE: case PX_T_DATETIME: case PX_T_TIMESTAMP: case PX_T_TIME:
		return px_stmt_bin_temporal(type, v, o);
	default: {
		struct mp_writer w;

		mp_writer_init(&w, o, room);
		mp_lenenc_str_put(&w, v.ptr, v.len);
		return w.overflow ? 0 : mp_writer_len(&w);
	}
	}
	if (v.len >= sizeof(num)) {
		return 0;
	}
	memcpy(num, v.ptr, v.len);
	num[v.len] = '\0';
	if (type == PX_T_FLOAT) {
		float f = strtof(num, NULL);

		memcpy(o, &f, 4);
	} else if (type == PX_T_DOUBLE) {
		double d = strtod(num, NULL);

		memcpy(o, &d, 8);
	} else {
		uint64_t u = (flags & PX_FLAG_UNSIGNED) ? strtoull(num, NULL, 10) :
							  (uint64_t)strtoll(num, NULL, 10);

		for (unsigned int i = 0; i < n; i++) {
			o[i] = (uint8_t)(u >> (8 * i));
		}
	}
	return n;
}

size_t
px_stmt_binary_row(const uint8_t *row, size_t len, unsigned int ncols, const uint8_t *types,
		   const uint16_t *flags, uint8_t *out, size_t cap)
{
	size_t nb = (ncols + 9u) / 8u, off = 1 + nb;
	struct mp_cursor c;

	if (cap < off) {
		return 0;
	}
	memset(out, 0, off);
	mp_cursor_init(&c, row, len);
	for (unsigned int i = 0; i < ncols; i++) {
		struct ms_slice v;
		bool is_null;
		size_t n;

		if (mp_textrow_next(&c, &v, &is_null) != MP_OK) {
			return 0;
		}
		if (is_null) {
			out[1 + (i + 2) / 8] |= (uint8_t)(1u << ((i + 2) % 8));
			continue;
		}
		if (cap - off < v.len + 16) {
			return 0;
		}
		n = px_stmt_bin_value(types[i], flags[i], v, out + off, cap - off);
		if (n == 0 && v.len > 0) {
			return 0;
		}
		off += n;
	}
	return off;
}
