/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_load.c - LOAD DATA LOCAL INFILE (see px_load.h): the client's side of the exchange
 * (0xFB request, file packets up to an empty one), the split by key, the shards' statement.
 */
#include "proxy/px_load.h"

#include "conf/conf.h"
#include "protocol/mp_packet.h"
#include "protocol/mp_resp.h"
#include "proxy/px_command.h"
#include "proxy/px_exec.h"
#include "proxy/px_sess_io.h"
#include "proxy/px_session.h"
#include "proxy/px_tx.h"
#include "proxy/px_worker.h"
#include "router/rt_load.h"
#include "router/rt_plan.h"
#include "topology/topo.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#define PX_LOAD_KEY_MAX 1024 /* bytes of a key value */

struct px_load {
	struct rt_load l;
	char *sql; /* owned copy of the statement */
	size_t len;
	struct evbuffer *file;   /* owned; the file as the client sent it */
	struct evbuffer **parts; /* owned; per shard index: its rows (NULL: none) */
	size_t n_parts;
	uint8_t next_seq;        /* sequence id of the client's next packet */
	bool too_big;            /* the file passed merge_max: the rest is read and dropped */
};

void
px_load_free(struct px_session *s)
{
	struct px_load *d = s->load;

	if (d == NULL) {
		return;
	}
	for (size_t i = 0; d->parts != NULL && i < d->n_parts; i++) {
		if (d->parts[i] != NULL) {
			evbuffer_free(d->parts[i]);
		}
	}
	free(d->parts);
	if (d->file != NULL) {
		evbuffer_free(d->file);
	}
	free(d->sql);
	free(d);
	s->load = NULL;
}

struct evbuffer *
px_load_shard_data(struct px_session *s, size_t shard)
{
	struct px_load *d = s->load;

	return d != NULL && shard < d->n_parts ? d->parts[shard] : NULL;
}

/* The file name literal unquoted (what the client is asked for). */
static size_t
px_load_file_name(const struct px_load *d, char *out, size_t cap)
{
	const char *p = d->sql + d->l.file_off + 1;
	size_t n = d->l.file_len >= 2 ? d->l.file_len - 2 : 0, k = 0;

	for (size_t i = 0; i < n && k < cap; i++) {
		if (p[i] == '\\' && i + 1 < n) {
			i++;
		} else if (p[i] == d->sql[d->l.file_off] && i + 1 < n && p[i + 1] == p[i]) {
			i++;
		}
		out[k++] = p[i];
	}
	return k;
}

bool
px_load_start(struct px_session *s, const char *sql, size_t len)
{
	struct rt_load l;
	const char *why;
	struct px_load *d;
	uint8_t req[1 + 512];
	char msg[160];
	size_t n;

	switch (rt_load_parse(sql, len, &l, &why)) {
	case RT_LOAD_NOT:
		return false;
	case RT_LOAD_REFUSED:
		snprintf(msg, sizeof(msg), "myshard: LOAD DATA LOCAL INFILE: %s", why);
		px_cmd_drain_keep_pins(s);
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1235, "42000", "%s", msg);
		px_cmd_finish(s);
		return true;
	case RT_LOAD_OK:
		break;
	}
	if (!(s->caps & MP_CLIENT_LOCAL_FILES)) {
		px_cmd_drain_keep_pins(s);
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1148, "42000",
				 "The used command is not allowed with this MariaDB version");
		px_cmd_finish(s);
		return true;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->sql = malloc(len + 1)) == NULL || (d->file = evbuffer_new()) == NULL) {
		if (d != NULL) {
			free(d->sql);
		}
		free(d);
		px_sess_close(s, "out of memory");
		return true;
	}
	memcpy(d->sql, sql, len);
	d->sql[len] = '\0';
	d->len = len;
	d->l = l;
	s->load = d;
	req[0] = 0xfb; /* LOCAL INFILE request: the client answers with the file */
	n = px_load_file_name(d, (char *)req + 1, sizeof(req) - 1);
	px_cmd_drain_keep_pins(s);
	px_sess_send(s, (uint8_t)s->cmd_pkts, req, 1 + n);
	d->next_seq = (uint8_t)(s->cmd_pkts + 1);
	px_sess_set_state(s, PX_SESS_LOAD);
	return true;
}

/* A refusal once the file is read: the answer's sequence id follows the client's packets. */
static void
px_load_fail(struct px_session *s, uint16_t code, const char *state, const char *msg)
{
	uint8_t seq = s->load->next_seq;

	px_load_free(s);
	px_sess_set_state(s, PX_SESS_IDLE);
	s->q_err = true;
	px_sess_send_err(s, seq, code, state, "%s", msg);
	px_cmd_finish(s);
}

/* The key text of a row as a routing value. */
static void
px_load_value(const uint8_t *k, size_t n, struct topo_value *v)
{
	size_t i = n > 0 && k[0] == '-' ? 1 : 0;
	uint64_t u = 0;
	bool digits = i < n && n - i <= 19;

	for (size_t j = i; digits && j < n; j++) {
		digits = k[j] >= '0' && k[j] <= '9';
		u = u * 10 + (uint64_t)(k[j] - '0');
	}
	memset(v, 0, sizeof(*v));
	if (digits) {
		v->kind = TOPO_VAL_INT;
		v->neg = i == 1;
		v->u = u;
	} else {
		v->kind = TOPO_VAL_STRING;
		v->str = (const char *)k;
		v->len = n;
	}
}

/* Adds the row <off>/<len> of the file to shard <shard>'s part. */
static bool
px_load_add(struct px_load *d, size_t shard, const uint8_t *data, size_t off, size_t len)
{
	if (d->parts[shard] == NULL && (d->parts[shard] = evbuffer_new()) == NULL) {
		return false;
	}
	return evbuffer_add(d->parts[shard], data + off, len) == 0;
}

/*
 * Splits the file over the shards. Returns NULL, or a message for the client (*<code>) when
 * a row cannot be routed; *<set> gets the shards to run on.
 */
static const char *
px_load_split(struct px_session *s, const struct topo_snapshot *snap, struct topo_shardset *set,
	      enum rt_merge_kind *multi, uint16_t *code, char *msg, size_t cap)
{
	struct px_load *d = s->load;
	const char *schema = d->l.schema[0] != '\0' ? d->l.schema : s->schema;
	const struct topo_table *t = topo_table_find(&snap->map, schema, strlen(schema),
						     d->l.table, strlen(d->l.table));
	size_t len = evbuffer_get_length(d->file), pos = 0, key = 0, line = 0;
	const uint8_t *data = len > 0 ? evbuffer_pullup(d->file, -1) : (const uint8_t *)"";
	uint8_t kbuf[PX_LOAD_KEY_MAX];
	struct rt_load_row row;

	*code = 1235;
	memset(set, 0, sizeof(*set));
	d->n_parts = snap->n_shards;
	d->parts = calloc(d->n_parts, sizeof(*d->parts));
	if (d->parts == NULL) {
		*code = 1037;
		return "myshard: out of memory";
	}
	if (t != NULL && t->kind == TOPO_TABLE_SHARDED) {
		bool found = false;

		for (key = 0; key < d->l.n_cols && !found; key++) {
			found = strcasecmp(d->l.cols[key], t->key) == 0;
		}
		key--;
		if (d->l.n_cols == 0 || !found) {
			snprintf(msg, cap,
				 "myshard: LOAD DATA into sharded table %s needs a column list naming its "
				 "shard key %s: LOAD DATA LOCAL INFILE ... (col, ...)", t->name, t->key);
			return msg;
		}
		if (d->l.set_len > 0) {
			snprintf(msg, cap, "myshard: LOAD DATA into sharded table %s: a SET clause is "
					   "not supported (it could change the shard key)", t->name);
			return msg;
		}
	}
	*multi = t != NULL && t->kind == TOPO_TABLE_GLOBAL ? RT_MERGE_ALL_SAME : RT_MERGE_CONCAT;
	while (rt_load_next(&d->l, data, len, true, &pos, key, kbuf, sizeof(kbuf), &row)) {
		size_t shard = snap->map.default_shard;

		if (++line <= d->l.ignore_lines) {
			continue; /* IGNORE n LINES: done here, the shards get none of them */
		}
		if (t != NULL && t->kind == TOPO_TABLE_SHARDED) {
			struct topo_value v;

			if (!row.has_key || row.key_null) {
				snprintf(msg, cap, "myshard: LOAD DATA line %zu: the shard key %s is %s; "
						   "nothing was loaded", line, t->key,
					 row.has_key ? "NULL" : "missing");
				return msg;
			}
			px_load_value(kbuf, row.key_len, &v);
			if (topo_route_value(&snap->map.funcs[t->func], &v, &shard) != TOPO_ROUTE_OK) {
				snprintf(msg, cap, "myshard: LOAD DATA line %zu: the shard key value "
						   "'%.*s' cannot be routed; nothing was loaded",
					 line, (int)(row.key_len < 64 ? row.key_len : 64), kbuf);
				return msg;
			}
		}
		if (t != NULL && t->kind == TOPO_TABLE_GLOBAL) {
			for (size_t i = 0; i < snap->n_shards; i++) {
				if (!px_load_add(d, i, data, row.off, row.len)) {
					*code = 1037;
					return "myshard: out of memory";
				}
			}
			continue;
		}
		if (!px_load_add(d, shard, data, row.off, row.len)) {
			*code = 1037;
			return "myshard: out of memory";
		}
	}
	for (size_t i = 0; i < snap->n_shards; i++) {
		if (d->parts[i] != NULL || (t != NULL && t->kind == TOPO_TABLE_GLOBAL)) {
			topo_shardset_add(set, i);
		}
	}
	if (topo_shardset_count(set) == 0) {
		topo_shardset_add(set, snap->map.default_shard); /* an empty file: Records: 0 */
	}
	evbuffer_free(d->file);
	d->file = NULL;
	return NULL;
}

/* The file is complete: split it, and run the statement on the shards. */
static void
px_load_run(struct px_session *s)
{
	struct px_load *d = s->load;
	const struct topo_snapshot *snap;
	struct topo_shardset set;
	enum rt_merge_kind multi = RT_MERGE_CONCAT;
	struct rt_plan *p = NULL;
	struct evbuffer *sql;
	const char *err;
	char msg[300];
	uint16_t code;
	int entered;

	if (d->too_big) {
		snprintf(msg, sizeof(msg), "myshard: the LOAD DATA file is larger than merge_max "
					   "(%u bytes); nothing was loaded", s->w->conf->merge_max);
		px_load_fail(s, 1038, "HY001", msg);
		return;
	}
	snap = topo_read_begin(s->w->topo);
	err = px_load_split(s, snap, &set, &multi, &code, msg, sizeof(msg));
	if (err != NULL) {
		topo_read_end(s->w->topo);
		px_load_fail(s, code, code == 1235 ? "42000" : "HY001", err);
		return;
	}
	/* the shards' statement: the same, asking for a file of ours, without IGNORE n LINES */
	sql = evbuffer_new();
	if (sql != NULL) {
		size_t cut = d->l.ignore_len > 0 ? d->l.ignore_off : d->len;

		evbuffer_add(sql, d->sql, d->l.file_off);
		evbuffer_add(sql, "'myshard'", 9);
		evbuffer_add(sql, d->sql + d->l.file_off + d->l.file_len,
			     cut - d->l.file_off - d->l.file_len);
		if (d->l.ignore_len > 0) {
			evbuffer_add(sql, d->sql + d->l.ignore_off + d->l.ignore_len,
				     d->len - d->l.ignore_off - d->l.ignore_len);
		}
	}
	if (sql == NULL || rt_plan_fixed(snap, &set, (const char *)evbuffer_pullup(sql, -1),
					 evbuffer_get_length(sql), multi, &p) != MS_OK) {
		if (sql != NULL) {
			evbuffer_free(sql);
		}
		topo_read_end(s->w->topo);
		px_load_fail(s, 1037, "HY001", "myshard: out of memory");
		return;
	}
	px_sess_set_state(s, PX_SESS_IDLE);
	s->cmd_len = 0;                  /* the command and the file were read already */
	s->cmd_pkts = d->next_seq;       /* the answer follows the client's last packet */
	px_cmd_digest_begin(s, p);
	entered = px_tx_enter(s, true, p->n_legs > 1, false, false);
	if (entered != 0) {
		rt_plan_free(p); /* refused (a doomed transaction): already answered */
		px_load_free(s);
	} else {
		px_exec_start(s, p, snap, (const char *)evbuffer_pullup(sql, -1),
			      evbuffer_get_length(sql), false);
	}
	evbuffer_free(sql);
	topo_read_end(s->w->topo);
}

bool
px_load_step(struct px_session *s)
{
	struct px_load *d = s->load;
	struct evbuffer *in = s->cl.in;
	uint8_t h[MP_HDR_LEN];
	uint32_t len;

	if (evbuffer_copyout(in, h, sizeof(h)) != (ev_ssize_t)sizeof(h)) {
		return false;
	}
	len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
	if (evbuffer_get_length(in) < MP_HDR_LEN + (size_t)len) {
		return false;
	}
	if (h[3] != d->next_seq) {
		px_sess_send_err(s, (uint8_t)(h[3] + 1), 1156, "08S01", "Got packets out of order");
		px_sess_close(s, "LOAD DATA packet out of order");
		return false;
	}
	d->next_seq++;
	evbuffer_drain(in, MP_HDR_LEN);
	if (len == 0) {
		px_load_run(s); /* an empty packet ends the file */
		return true;
	}
	if (d->too_big || evbuffer_get_length(d->file) + len > s->w->conf->merge_max) {
		d->too_big = true;
		evbuffer_drain(in, len);
		return true;
	}
	evbuffer_remove_buffer(in, d->file, len);
	return true;
}
