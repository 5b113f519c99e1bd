/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_merge.c - the merge engine behind px_merge.h: follows each leg's response, sums OK
 * packets, streams concatenations, k-way merges ORDER BY, groups rows with exact decimal
 * aggregates, applies HAVING, offset/limit and a memory cap. How values compare, sum and
 * print (and where that is approximate) lives in px_mval.c.
 */
#include "proxy/px_merge.h"

#include "protocol/mp_result.h"
#include "proxy/px_mval.h"
#include "router/rt_plan.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PX_MEM_ERR_CODE 1038 /* ER_OUT_OF_SORTMEMORY, sqlstate HY001 */
#define PX_MAX_COLS     4096 /* MariaDB's limit on columns in a result */
#define PX_INFO_MAX     8    /* "Label: N" fields in an OK info string */
#define PX_INFO_LABEL   32
#define PX_HASH_SEED    0xcbf29ce484222325ull
#define PX_ENTRY_EXTRA  (2 * sizeof(void *)) /* hash bucket share charged per held entry */

/* One column of the legs' rows, as the first leg to send a column count defined it. */
struct px_col {
	uint8_t *raw; /* owned: the definition packet payload, sent to the client as is */
	size_t len;
	struct mp_coldef def; /* views into <raw> */
};

/* A buffered row: n_cols values, then the payload bytes they point into. */
struct px_row {
	struct px_row *next; /* owned by the list holder */
	size_t size;         /* bytes charged against the memory cap */
	size_t len;          /* payload bytes */
	struct px_mval v[];
};

/* Intrusive chained hash table (groups, distinct values). */
struct px_hent {
	struct px_hent *next; /* borrowed: the entry's owner frees it */
	uint64_t hash;
};

struct px_htab {
	struct px_hent **b; /* owned: the bucket array; NULL until the first insert */
	size_t mask;
	size_t n;
};

/* A column's aggregate within one group. */
struct px_acc {
	struct px_mval_dec dec; /* COUNT, exact SUM */
	double dbl;             /* FLOAT/DOUBLE SUM */
	uint64_t n;             /* non-NULL values seen; COUNT_DISTINCT: distinct values */
	uint8_t *mm;            /* owned: MIN/MAX value so far */
	size_t mm_len;
	uint8_t *mw;            /* owned: <mm>'s weight (from the same leg row); NULL: none */
	size_t mw_len;
	char *txt; /* owned: the final value text */
};

struct px_group {
	struct px_hent h;     /* in merge.groups, by group-key hash */
	size_t ord;           /* first-seen order: sorting is stable */
	struct px_row *first; /* owned: the group's first row; NULL for the empty-input row */
	struct px_mval *ov;   /* the merged row (inside this allocation) */
	bool keep;            /* passed HAVING */
	struct px_acc acc[];  /* one per column */
};

/* One distinct value of a COUNT(DISTINCT) column within a group. */
struct px_dent {
	struct px_hent h;         /* in merge.dset */
	const struct px_group *g; /* borrowed */
	unsigned int col;
	bool weight; /* <v> is the value's weight (compared bytewise), not its text */
	size_t len;
	uint8_t v[];
};

/* Where a leg is in its response. */
enum px_leg_state {
	PX_LEG_FIRST = 0, /* waiting for OK, ERR or the column count */
	PX_LEG_DEFS,      /* <defs_left> column definitions to go */
	PX_LEG_DEFS_EOF,  /* the EOF after the definitions */
	PX_LEG_ROWS,      /* rows until EOF or ERR */
	PX_LEG_DONE,      /* [terminal] response complete */
};

struct px_leg {
	enum px_leg_state st;
	uint64_t defs_left;
	struct px_row *head, *tail; /* owned: rows held until merged */
};

/* "Label: N  Label: N" as in MariaDB's INSERT, UPDATE, ALTER and LOAD DATA info strings. */
struct px_info {
	unsigned int n;
	char label[PX_INFO_MAX][PX_INFO_LABEL];
	uint64_t v[PX_INFO_MAX];
};

/* The legs' OK packets, folded. */
struct px_okacc {
	size_t first_leg; /* lowest leg whose OK is kept below; SIZE_MAX: none yet */
	uint64_t first_affected, first_id;
	char *first_info; /* owned */
	size_t first_info_len;
	uint64_t affected, max_id;
	uint32_t warn_sum;
	uint16_t warn_max;
	struct px_info sum; /* summed fields of the non-empty info strings */
	bool info_bad;      /* an info string had another shape, or labels differ */
	uint64_t empty_n, empty_dups, empty_warn; /* legs with no info (single-row INSERTs) */
};

struct px_merge {
	const struct rt_merge *spec; /* borrowed */
	uint16_t st_keep, st_set;    /* status flags sent: (status & st_keep) | st_set */
	const char *const *names;    /* borrowed */
	size_t n_legs;
	struct px_leg *legs; /* owned */
	size_t mem_cap, mem;
	px_merge_emit_fn emit;
	void *arg;
	const char *why; /* static text: reason of the last PX_MERGE_BAD */
	/* columns */
	unsigned int n_cols; /* 0 until a leg sends its column count */
	unsigned int n_vis;
	size_t def_leg;          /* the leg whose definitions are used; SIZE_MAX: none */
	struct px_col *cols;     /* owned; n_cols */
	struct px_mval_cls *cls; /* owned; n_cols: how each column compares */
	int *wcol;               /* owned; n_cols: the column holding this one's weight, or -1 */
	struct px_mval *scratch; /* owned; n_cols: a row being parsed */
	bool defs_done;
	uint16_t defs_status;
	/* terminators */
	uint16_t status;
	bool status_seen;
	uint32_t warnings;
	size_t n_ok; /* legs that answered OK */
	struct px_okacc ok;
	/* failure: the lowest leg's ERR wins over the memory cap */
	bool failed, over_cap, finished;
	size_t err_leg;
	uint16_t err_code;
	char err_state[6];
	char *err_msg; /* owned: "shard <name>: <message>" */
	size_t err_prefix; /* length of "shard <name>: " in err_msg */
	size_t n_err;      /* legs that answered ERR */
	bool err_differ;   /* two of them differ (code or message) */
	/* output */
	uint64_t skipped, sent;
	uint8_t *out; /* owned: the packet being built */
	size_t out_cap;
	/* SELECT * plans with hidden tail columns: the spec with them resolved (px_tail_resolve);
	 * <spec> points to <tspec> then */
	struct rt_merge tspec;
	struct rt_sort_key *tsort; /* owned */
	struct rt_merge_col *tcols; /* owned; n_cols */
	/* GROUP */
	struct px_htab groups, dset;
	struct px_group **gv; /* owned array of owned groups, first-seen order */
	size_t n_groups, gv_cap;
};

/* ---- small helpers ---- */

static enum px_merge_rc
px_bad(struct px_merge *m, const char *why)
{
	m->why = why;
	return PX_MERGE_BAD;
}

/* Charges <n> bytes; false once the cap is passed (the merge has failed then). */
static bool
px_mem_take(struct px_merge *m, size_t n)
{
	m->mem += n;
	if (m->mem > m->mem_cap) {
		m->over_cap = true;
		m->failed = true;
	}
	return !m->over_cap;
}

static enum rt_agg
px_agg(const struct px_merge *m, unsigned int col)
{
	if (m->spec->kind != RT_MERGE_GROUP || col >= m->spec->n_cols) {
		return RT_AGG_NONE;
	}
	return m->spec->cols[col].agg;
}

/* ---- ordering ---- */

/* Weights (WEIGHT_STRING bytes) compare and hash as plain bytes. */
static const struct px_mval_cls px_bytes_cls = { PX_MVAL_STR, false, false };

/* The weight of column <col> in row <v>, or NULL when it compares by its own text (not a
 * string column, no weight column in the plan, or a NULL weight). */
static const struct px_mval *
px_weight(const struct px_merge *m, unsigned int col, const struct px_mval *v)
{
	int w = m->wcol[col];

	return w >= 0 && !v[w].null && !v[col].null ? &v[w] : NULL;
}

/* Column <col> of rows <a> and <b>: by weight when both have one (the column's own collation;
 * the type and collation in the metadata are the connection's), else by type and collation;
 * NULL sorts first. */
static int
px_cell_cmp(const struct px_merge *m, unsigned int col, const struct px_mval *a,
	    const struct px_mval *b)
{
	const struct px_mval *wa = px_weight(m, col, a), *wb = px_weight(m, col, b);

	if (wa != NULL && wb != NULL) {
		return px_mval_cmp(&px_bytes_cls, wa, wb);
	}
	return px_mval_cmp(&m->cls[col], &a[col], &b[col]);
}

/* A hash of column <col> of row <v> consistent with px_cell_cmp(). */
static uint64_t
px_cell_hash(const struct px_merge *m, unsigned int col, const struct px_mval *v)
{
	const struct px_mval *w = px_weight(m, col, v);

	return w != NULL ? px_mval_hash(&px_bytes_cls, w) : px_mval_hash(&m->cls[col], &v[col]);
}

/* Orders merged rows by the sort keys: NULL first when ascending, last when descending. */
static int
px_row_cmp(const struct px_merge *m, const struct px_mval *a, const struct px_mval *b)
{
	const struct rt_sort_key *k;
	unsigned int i;
	int c;

	for (i = 0; i < m->spec->n_sort; i++) {
		k = &m->spec->sort[i];
		c = px_cell_cmp(m, k->col, a, b);
		if (c != 0) {
			return k->desc ? -c : c;
		}
	}
	return 0;
}

/* ---- output ---- */

static bool
px_out_reserve(struct px_merge *m, size_t n)
{
	return ms_bytes_reserve(&m->out, &m->out_cap, n);
}

static size_t
px_lenenc_len(uint64_t v)
{
	return v < 251 ? 1 : (v < 65536 ? 3 : (v < 16777216 ? 4 : 9));
}

/*
 * Sends merged row <v> unless offset skips it or the limit has been reached. <pl>: the leg's
 * payload, sent as is when every column is visible; NULL re-encodes the visible values.
 */
static enum px_merge_rc
px_emit_row(struct px_merge *m, const struct px_mval *v, const uint8_t *pl, size_t len)
{
	struct mp_writer w;
	size_t need = 0;
	unsigned int i;

	if (m->skipped < m->spec->offset) {
		m->skipped++;
		return PX_MERGE_OK;
	}
	if (m->spec->has_limit && m->sent >= m->spec->limit) {
		return PX_MERGE_OK;
	}
	m->sent++;
	if (pl != NULL && m->n_vis == m->n_cols) {
		m->emit(m->arg, pl, len);
		return PX_MERGE_OK;
	}
	for (i = 0; i < m->n_vis; i++) {
		need += v[i].null ? 1 : px_lenenc_len(v[i].len) + v[i].len;
	}
	if (!px_out_reserve(m, need)) {
		return PX_MERGE_ENOMEM;
	}
	mp_writer_init(&w, m->out, need);
	for (i = 0; i < m->n_vis; i++) {
		if (v[i].null) {
			mp_u8_put(&w, 0xfb);
		} else {
			mp_lenenc_str_put(&w, v[i].p, v[i].len);
		}
	}
	MS_ASSERT(!w.overflow);
	m->emit(m->arg, m->out, need);
	return PX_MERGE_OK;
}

/* The status flags a packet of the merged answer carries. */
static uint16_t
px_out_status(const struct px_merge *m, uint16_t st)
{
	/* a shard's MORE_RESULTS is its own business; the caller's (a multi-statement query
	 * run statement by statement) is kept */
	return (uint16_t)((st & m->st_keep & ~MP_STATUS_MORE_RESULTS) | m->st_set);
}

/* Column count, the visible definitions (the defining leg's bytes) and their EOF. */
static void
px_emit_header(struct px_merge *m)
{
	uint8_t b[16];
	struct mp_writer w;
	unsigned int i;

	mp_writer_init(&w, b, sizeof(b));
	mp_lenenc_put(&w, m->n_vis);
	m->emit(m->arg, b, mp_writer_len(&w));
	for (i = 0; i < m->n_vis; i++) {
		m->emit(m->arg, m->cols[i].raw, m->cols[i].len);
	}
	mp_writer_init(&w, b, sizeof(b));
	mp_eof_write(&w, 0, px_out_status(m, m->defs_status));
	m->emit(m->arg, b, mp_writer_len(&w));
}

static void
px_emit_eof(struct px_merge *m)
{
	uint8_t b[8];
	struct mp_writer w;
	uint16_t warn = m->warnings > 0xffff ? 0xffff : (uint16_t)m->warnings;

	mp_writer_init(&w, b, sizeof(b));
	mp_eof_write(&w, warn, px_out_status(m, m->status));
	m->emit(m->arg, b, mp_writer_len(&w));
}

/* The failure the client gets: the first leg's ERR, else the memory-cap ERR. */
static enum px_merge_rc
px_emit_fail(struct px_merge *m)
{
	char cap[160];
	const char *msg = m->err_msg;
	struct mp_writer w;
	size_t need;

	if (msg != NULL && m->n_err == m->n_legs && !m->err_differ) {
		msg += m->err_prefix; /* every shard said the same (a global table's copies): say
				       * it once, as one server would */
	}
	if (msg == NULL) {
		snprintf(cap, sizeof(cap),
			 "myshard: merge memory limit of %zu bytes exceeded; "
			 "add a LIMIT or a shard key",
			 m->mem_cap);
		msg = cap;
		m->err_code = PX_MEM_ERR_CODE;
		memcpy(m->err_state, "HY001", 6);
	}
	need = 9 + strlen(msg);
	if (!px_out_reserve(m, need)) {
		return PX_MERGE_ENOMEM;
	}
	mp_writer_init(&w, m->out, need);
	mp_err_write(&w, m->err_code, m->err_state, msg);
	MS_ASSERT(!w.overflow);
	m->emit(m->arg, m->out, mp_writer_len(&w));
	return PX_MERGE_OK;
}

/* ---- OK packets ---- */

/* Reads up to 19 digits at *<i>; returns how many. */
static size_t
px_info_num(struct ms_slice s, size_t *i, uint64_t *v)
{
	size_t k = 0;

	for (*v = 0; *i < s.len && k < 19 && s.ptr[*i] >= '0' && s.ptr[*i] <= '9'; (*i)++, k++) {
		*v = *v * 10 + (uint64_t)(s.ptr[*i] - '0');
	}
	return k;
}

/* False if <s> is not "Label: N" fields separated by two spaces. */
static bool
px_info_parse(struct ms_slice s, struct px_info *out)
{
	size_t i = 0, start;

	for (out->n = 0; i < s.len; out->n++) {
		if (out->n == PX_INFO_MAX) {
			return false;
		}
		for (start = i; i < s.len && s.ptr[i] != ':'; i++) {
		}
		if (i == start || i - start >= PX_INFO_LABEL || i + 1 >= s.len ||
		    s.ptr[i + 1] != ' ') {
			return false;
		}
		memcpy(out->label[out->n], s.ptr + start, i - start);
		out->label[out->n][i - start] = '\0';
		i += 2;
		if (px_info_num(s, &i, &out->v[out->n]) == 0) {
			return false;
		}
		if (i < s.len && (i + 2 >= s.len || s.ptr[i] != ' ' || s.ptr[i + 1] != ' ')) {
			return false;
		}
		i = i < s.len ? i + 2 : i;
	}
	return out->n > 0;
}

static void
px_info_add(struct px_okacc *a, const struct mp_ok *ok)
{
	struct px_info one;
	unsigned int i;

	if (ok->info.len == 0) {
		/* 2 affected rows: ON DUPLICATE KEY UPDATE changed the row */
		a->empty_n++;
		a->empty_dups += ok->affected_rows >= 2;
		a->empty_warn += ok->warnings;
		return;
	}
	if (!px_info_parse(ok->info, &one)) {
		a->info_bad = true;
		return;
	}
	if (a->sum.n == 0) {
		a->sum = one;
		return;
	}
	for (i = 0; i < one.n && one.n == a->sum.n; i++) {
		a->info_bad = a->info_bad || strcmp(one.label[i], a->sum.label[i]) != 0;
		a->sum.v[i] += one.v[i];
	}
	a->info_bad = a->info_bad || one.n != a->sum.n;
}

/*
 * The merged info string: the legs' fields summed. A leg without info next to "Records: ..."
 * ones ran a single-row INSERT (MariaDB omits the info then): it counts as Records: 1.
 * Anything else that does not line up: the first leg's info.
 */
static size_t
px_info_fmt(const struct px_okacc *a, char *buf, size_t cap)
{
	struct px_info s = a->sum;
	size_t k = 0;
	unsigned int i;

	if (!a->info_bad && s.n == 3 && a->empty_n > 0 && strcmp(s.label[0], "Records") == 0 &&
	    strcmp(s.label[1], "Duplicates") == 0 && strcmp(s.label[2], "Warnings") == 0) {
		s.v[0] += a->empty_n;
		s.v[1] += a->empty_dups;
		s.v[2] += a->empty_warn;
	} else if (a->info_bad || s.n == 0 || a->empty_n > 0) {
		k = a->first_info_len < cap ? a->first_info_len : cap;
		if (k > 0) {
			memcpy(buf, a->first_info, k);
		}
		return k;
	}
	for (i = 0; i < s.n && k < cap; i++) {
		k += (size_t)snprintf(buf + k, cap - k, "%s%s: %llu", i > 0 ? "  " : "", s.label[i],
				      (unsigned long long)s.v[i]);
	}
	return k < cap ? k : cap - 1;
}

static enum px_merge_rc
px_leg_ok(struct px_merge *m, size_t leg, const uint8_t *pl, size_t len)
{
	struct px_okacc *a = &m->ok;
	struct mp_ok ok;

	if (mp_ok_read(pl, len, true, &ok) != MP_OK && mp_ok_read(pl, len, false, &ok) != MP_OK) {
		return px_bad(m, "malformed OK packet");
	}
	m->legs[leg].st = PX_LEG_DONE;
	m->n_ok++;
	m->status = ok.status;
	m->status_seen = true;
	a->affected = a->affected + ok.affected_rows < a->affected ? UINT64_MAX
								   : a->affected + ok.affected_rows;
	a->max_id = ok.last_insert_id > a->max_id ? ok.last_insert_id : a->max_id;
	a->warn_sum += ok.warnings;
	a->warn_max = ok.warnings > a->warn_max ? ok.warnings : a->warn_max;
	px_info_add(a, &ok);
	if (leg > a->first_leg) {
		return PX_MERGE_OK;
	}
	free(a->first_info);
	a->first_info = NULL;
	if (ok.info.len > 0 && (a->first_info = malloc(ok.info.len)) == NULL) {
		return PX_MERGE_ENOMEM;
	}
	if (ok.info.len > 0) {
		memcpy(a->first_info, ok.info.ptr, ok.info.len);
	}
	a->first_info_len = ok.info.len;
	a->first_leg = leg;
	a->first_affected = ok.affected_rows;
	a->first_id = ok.last_insert_id;
	return PX_MERGE_OK;
}

/* ALL_SAME: the first leg's OK (warnings: the most any leg had); otherwise the sums. */
static enum px_merge_rc
px_emit_ok(struct px_merge *m, uint64_t insert_id)
{
	const struct px_okacc *a = &m->ok;
	bool same = m->spec->kind == RT_MERGE_ALL_SAME;
	struct mp_ok ok;
	char info[PX_INFO_MAX * (PX_INFO_LABEL + 24)];
	struct mp_writer w;
	size_t need;

	memset(&ok, 0, sizeof(ok));
	ok.header = MP_OK_HDR;
	ok.affected_rows = same ? a->first_affected : a->affected;
	ok.last_insert_id = insert_id != 0 ? insert_id : (same ? a->first_id : a->max_id);
	ok.status = px_out_status(m, m->status);
	ok.warnings = same ? a->warn_max : (a->warn_sum > 0xffff ? 0xffff : (uint16_t)a->warn_sum);
	ok.info.ptr = same ? (const uint8_t *)a->first_info : (const uint8_t *)info;
	ok.info.len = same ? a->first_info_len : px_info_fmt(a, info, sizeof(info));
	need = 1 + 9 + 9 + 4 + 9 + ok.info.len;
	if (!px_out_reserve(m, need)) {
		return PX_MERGE_ENOMEM;
	}
	mp_writer_init(&w, m->out, need);
	mp_ok_write(&w, &ok, false);
	MS_ASSERT(!w.overflow);
	m->emit(m->arg, m->out, mp_writer_len(&w));
	return PX_MERGE_OK;
}

/* ---- rows ---- */

static uint8_t *
px_row_bytes(const struct px_merge *m, struct px_row *r)
{
	return (uint8_t *)&r->v[m->n_cols];
}

/* Splits a text row into exactly n_cols values (views into <pl>). */
static enum px_merge_rc
px_row_parse(struct px_merge *m, const uint8_t *pl, size_t len, struct px_mval *v)
{
	struct mp_cursor c;
	struct ms_slice s;
	unsigned int i;
	bool null;

	mp_cursor_init(&c, pl, len);
	for (i = 0; i < m->n_cols; i++) {
		if (mp_textrow_next(&c, &s, &null) != MP_OK) {
			return px_bad(m, "malformed row (or fewer values than columns)");
		}
		v[i].p = s.ptr;
		v[i].len = s.len;
		v[i].null = null;
	}
	return mp_cursor_left(&c) == 0 ? PX_MERGE_OK
				       : px_bad(m, "row with more values than columns");
}

/* Copies and parses a row; *<out> stays NULL when the memory cap was passed. */
static enum px_merge_rc
px_row_new(struct px_merge *m, const uint8_t *pl, size_t len, struct px_row **out)
{
	size_t size = sizeof(struct px_row) + m->n_cols * sizeof(struct px_mval) + len;
	struct px_row *r;
	enum px_merge_rc rc;

	*out = NULL;
	if (!px_mem_take(m, size + PX_ENTRY_EXTRA)) {
		return PX_MERGE_OK;
	}
	r = malloc(size);
	if (r == NULL) {
		return PX_MERGE_ENOMEM;
	}
	r->next = NULL;
	r->size = size + PX_ENTRY_EXTRA;
	r->len = len;
	if (len > 0) {
		memcpy(px_row_bytes(m, r), pl, len);
	}
	rc = px_row_parse(m, px_row_bytes(m, r), len, r->v);
	if (rc != PX_MERGE_OK) {
		free(r);
		return rc;
	}
	*out = r;
	return PX_MERGE_OK;
}

static void
px_rows_free(struct px_row *r)
{
	struct px_row *next;

	for (; r != NULL; r = next) {
		next = r->next;
		free(r);
	}
}

/* ---- hash tables ---- */

static struct px_hent *
px_htab_chain(const struct px_htab *t, uint64_t h)
{
	return t->b == NULL ? NULL : t->b[h & t->mask];
}

/* Inserts <e> (borrowed: its owner frees it), doubling the buckets at load 1. */
static bool
px_htab_insert(struct px_htab *t, struct px_hent *e)
{
	size_t nb = t->b == NULL ? 64 : 2 * (t->mask + 1), i;
	struct px_hent **b, *x, *next;

	if (t->b == NULL || t->n > t->mask) {
		b = calloc(nb, sizeof(*b));
		if (b == NULL) {
			return false;
		}
		for (i = 0; t->b != NULL && i <= t->mask; i++) {
			for (x = t->b[i]; x != NULL; x = next) {
				next = x->next;
				x->next = b[x->hash & (nb - 1)];
				b[x->hash & (nb - 1)] = x;
			}
		}
		free(t->b);
		t->b = b;
		t->mask = nb - 1;
	}
	e->next = t->b[e->hash & t->mask];
	t->b[e->hash & t->mask] = e;
	t->n++;
	return true;
}

/* ---- GROUP ---- */

static uint64_t
px_key_hash(const struct px_merge *m, const struct px_mval *v)
{
	uint64_t h = PX_HASH_SEED, x;
	unsigned int i, c;

	for (i = 0; i < m->spec->n_group; i++) {
		c = m->spec->group[i];
		x = px_cell_hash(m, c, v);
		h = px_mval_fnv(h, &x, sizeof(x));
	}
	return h;
}

static struct px_group *
px_group_find(const struct px_merge *m, const struct px_mval *v, uint64_t h)
{
	struct px_hent *e;
	struct px_group *g;
	unsigned int i, c;

	for (e = px_htab_chain(&m->groups, h); e != NULL; e = e->next) {
		g = (struct px_group *)e;
		if (e->hash != h || g->first == NULL) {
			continue;
		}
		for (i = 0; i < m->spec->n_group; i++) {
			c = m->spec->group[i];
			if (px_cell_cmp(m, c, g->first->v, v) != 0) {
				break;
			}
		}
		if (i == m->spec->n_group) {
			return g;
		}
	}
	return NULL;
}

/* A new group whose first row is <pl> (NULL: the row of an empty input). */
static enum px_merge_rc
px_group_new(struct px_merge *m, const uint8_t *pl, size_t len, uint64_t h, struct px_group **out)
{
	size_t size = sizeof(struct px_group) +
		      m->n_cols * (sizeof(struct px_acc) + sizeof(struct px_mval));
	struct px_group *g, **gv;
	enum px_merge_rc rc;

	*out = NULL;
	if (m->n_groups == m->gv_cap) {
		gv = realloc(m->gv, (m->gv_cap * 2 + 16) * sizeof(*gv));
		if (gv == NULL) {
			return PX_MERGE_ENOMEM;
		}
		m->gv = gv;
		m->gv_cap = m->gv_cap * 2 + 16;
	}
	if (!px_mem_take(m, size + PX_ENTRY_EXTRA) || (g = calloc(1, size)) == NULL) {
		return m->over_cap ? PX_MERGE_OK : PX_MERGE_ENOMEM;
	}
	g->ov = (struct px_mval *)&g->acc[m->n_cols];
	g->ord = m->n_groups;
	g->h.hash = h;
	m->gv[m->n_groups++] = g; /* owned by gv from here on */
	if (pl != NULL) {
		rc = px_row_new(m, pl, len, &g->first);
		if (rc != PX_MERGE_OK || g->first == NULL) {
			return rc;
		}
	}
	if (!px_htab_insert(&m->groups, &g->h)) {
		return PX_MERGE_ENOMEM;
	}
	*out = g;
	return PX_MERGE_OK;
}

/* Counts the (non-NULL) value of column <src> of row <row> for COUNT(DISTINCT) column <col> of
 * <g>: its weight when it has one, else its text. */
static enum px_merge_rc
px_distinct_add(struct px_merge *m, struct px_group *g, unsigned int col, unsigned int src,
		const struct px_mval *row)
{
	const struct px_mval *w = px_weight(m, src, row), *v = w != NULL ? w : &row[src];
	const struct px_mval_cls *cc = w != NULL ? &px_bytes_cls : &m->cls[src];
	uint64_t key[3] = { px_mval_hash(cc, v), g->ord, col };
	uint64_t h = px_mval_fnv(PX_HASH_SEED, key, sizeof(key));
	struct px_mval dv;
	struct px_hent *e;
	struct px_dent *d;

	for (e = px_htab_chain(&m->dset, h); e != NULL; e = e->next) {
		d = (struct px_dent *)e;
		dv = (struct px_mval){ d->v, d->len, false };
		if (e->hash == h && d->g == g && d->col == col && d->weight == (w != NULL) &&
		    px_mval_cmp(cc, &dv, v) == 0) {
			return PX_MERGE_OK;
		}
	}
	if (!px_mem_take(m, sizeof(*d) + v->len + PX_ENTRY_EXTRA)) {
		return PX_MERGE_OK;
	}
	d = malloc(sizeof(*d) + v->len);
	if (d == NULL) {
		return PX_MERGE_ENOMEM;
	}
	d->h.hash = h;
	d->g = g;
	d->col = col;
	d->weight = w != NULL;
	d->len = v->len;
	if (v->len > 0) {
		memcpy(d->v, v->p, v->len);
	}
	if (!px_htab_insert(&m->dset, &d->h)) {
		free(d);
		return PX_MERGE_ENOMEM;
	}
	g->acc[col].n++;
	return PX_MERGE_OK;
}

/* Copies <v> into *<dst> (owned, realloc'd), charging growth; false on allocation failure
 * (a passed memory cap is not one: the merge has failed then). */
static bool
px_keep_copy(struct px_merge *m, uint8_t **dst, size_t *dst_len, const struct px_mval *v)
{
	uint8_t *p;

	if (v->len > *dst_len && !px_mem_take(m, v->len - *dst_len)) {
		return true;
	}
	p = realloc(*dst, v->len > 0 ? v->len : 1);
	if (p == NULL) {
		return false;
	}
	*dst = p;
	if (v->len > 0) {
		memcpy(p, v->p, v->len);
	}
	*dst_len = v->len;
	return true;
}

/* MIN/MAX of column <col>: keeps a copy of the (non-NULL) value of row <row>, and of its weight,
 * if it beats the value so far (by weight when both have one). */
static enum px_merge_rc
px_minmax_add(struct px_merge *m, struct px_acc *a, unsigned int col, bool max,
	      const struct px_mval *row)
{
	const struct px_mval *v = &row[col], *w = px_weight(m, col, row);
	struct px_mval best = { a->mm, a->mm_len, false }, bw = { a->mw, a->mw_len, false };
	int c;

	if (a->n > 0) {
		c = w != NULL && a->mw != NULL ? px_mval_cmp(&px_bytes_cls, w, &bw)
					       : px_mval_cmp(&m->cls[col], v, &best);
		if (max ? c <= 0 : c >= 0) {
			return PX_MERGE_OK;
		}
	}
	if (!px_keep_copy(m, &a->mm, &a->mm_len, v)) {
		return PX_MERGE_ENOMEM;
	}
	if (w == NULL) {
		free(a->mw);
		a->mw = NULL;
		a->mw_len = 0;
	} else if (!px_keep_copy(m, &a->mw, &a->mw_len, w)) {
		return PX_MERGE_ENOMEM;
	}
	a->n++;
	return PX_MERGE_OK;
}

/* Folds value <v>[col] of one leg row into <g>'s aggregate of column <col>. */
static enum px_merge_rc
px_acc_add(struct px_merge *m, struct px_group *g, unsigned int col, const struct px_mval *v)
{
	const struct rt_merge_col *mc = &m->spec->cols[col];
	struct px_acc *a = &g->acc[col];
	const struct px_mval *x = &v[col];

	switch (mc->agg) {
	case RT_AGG_COUNT:
	case RT_AGG_SUM:
		if (x->null) {
			return PX_MERGE_OK;
		}
		a->n++;
		if (mc->agg == RT_AGG_SUM && m->cls[col].kind == PX_MVAL_DBL) {
			a->dbl += px_mval_double(x);
		} else if (!px_mval_dec_add(&a->dec, x)) {
			return px_bad(m, "a COUNT or SUM value is not a decimal number");
		}
		return PX_MERGE_OK;
	case RT_AGG_MIN:
	case RT_AGG_MAX:
		return x->null ? PX_MERGE_OK : px_minmax_add(m, a, col, mc->agg == RT_AGG_MAX, v);
	case RT_AGG_COUNT_DISTINCT:
		x = &v[mc->src];
		return x->null ? PX_MERGE_OK : px_distinct_add(m, g, col, mc->src, v);
	case RT_AGG_NONE:
	case RT_AGG_AVG:
		break;
	}
	return PX_MERGE_OK;
}

/* Adds one leg row (values <v> into payload <pl>) to its group. */
static enum px_merge_rc
px_group_add(struct px_merge *m, const struct px_mval *v, const uint8_t *pl, size_t len)
{
	uint64_t h = px_key_hash(m, v);
	struct px_group *g = px_group_find(m, v, h);
	enum px_merge_rc rc = PX_MERGE_OK;
	unsigned int i;

	if (g == NULL) {
		rc = px_group_new(m, pl, len, h, &g);
	}
	for (i = 0; g != NULL && rc == PX_MERGE_OK && i < m->spec->n_cols && !m->failed; i++) {
		rc = px_acc_add(m, g, i, v);
	}
	return rc;
}

/* Keeps <txt> as the final value of <o> (owned by <a>). */
static enum px_merge_rc
px_acc_text(struct px_merge *m, struct px_acc *a, struct px_mval *o, const char *txt, size_t n)
{
	a->txt = malloc(n + 1);
	if (a->txt == NULL) {
		return PX_MERGE_ENOMEM;
	}
	memcpy(a->txt, txt, n + 1);
	o->p = (const uint8_t *)a->txt;
	o->len = n;
	o->null = false;
	(void)px_mem_take(m, n + 1);
	return PX_MERGE_OK;
}

/* The final value of aggregate column <col> of <g> (AVG excepted). */
static enum px_merge_rc
px_acc_final(struct px_merge *m, struct px_group *g, unsigned int col)
{
	struct px_acc *a = &g->acc[col];
	struct px_mval *o = &g->ov[col];
	unsigned int dec = m->cols[col].def.decimals;
	char buf[PX_MVAL_TEXT];
	size_t n;

	o->null = true;
	switch (m->spec->cols[col].agg) {
	case RT_AGG_COUNT:
		n = px_mval_dec_fmt(&a->dec, 0, buf);
		break;
	case RT_AGG_COUNT_DISTINCT:
		n = (size_t)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)a->n);
		break;
	case RT_AGG_SUM:
		if (a->n == 0) {
			return PX_MERGE_OK;
		}
		n = m->cls[col].kind == PX_MVAL_DBL ? px_mval_dbl_fmt(a->dbl, dec, buf)
						    : px_mval_dec_fmt(&a->dec, dec, buf);
		break;
	case RT_AGG_MIN:
	case RT_AGG_MAX:
		o->null = a->n == 0;
		o->p = a->mm;
		o->len = a->mm_len;
		return PX_MERGE_OK;
	default:
		return PX_MERGE_OK;
	}
	return px_acc_text(m, a, o, buf, n);
}

/* AVG column <col> of <g>: its SUM column over its COUNT column; NULL when the count is 0. */
static enum px_merge_rc
px_avg_final(struct px_merge *m, struct px_group *g, unsigned int col)
{
	const struct rt_merge_col *mc = &m->spec->cols[col];
	const struct px_mval *s = &g->ov[mc->src], *c = &g->ov[mc->src2];
	unsigned int dec = m->cols[col].def.decimals;
	char buf[PX_MVAL_TEXT];
	double cnt;
	size_t n;

	g->ov[col].null = true;
	if (s->null || c->null || (cnt = px_mval_double(c)) == 0) {
		return PX_MERGE_OK;
	}
	if (m->cls[col].kind != PX_MVAL_DBL && px_mval_avg(s, c, dec, buf)) {
		n = strlen(buf);
	} else {
		n = px_mval_dbl_fmt(px_mval_double(s) / cnt, dec, buf);
	}
	return px_acc_text(m, &g->acc[col], &g->ov[col], buf, n);
}

/* ---- finishing a GROUP or SORT merge ---- */

/* Computes <g>'s merged row and whether it passes HAVING. */
static enum px_merge_rc
px_group_final(struct px_merge *m, struct px_group *g)
{
	enum px_merge_rc rc = PX_MERGE_OK;
	unsigned int i;

	for (i = 0; i < m->n_cols && rc == PX_MERGE_OK; i++) {
		if (px_agg(m, i) == RT_AGG_NONE || px_agg(m, i) == RT_AGG_AVG) {
			g->ov[i] = g->first != NULL ? g->first->v[i]
						    : (struct px_mval){ NULL, 0, true };
		} else {
			rc = px_acc_final(m, g, i);
		}
	}
	for (i = 0; i < m->n_cols && rc == PX_MERGE_OK; i++) {
		if (px_agg(m, i) == RT_AGG_AVG) {
			rc = px_avg_final(m, g, i);
		} else if ((px_agg(m, i) == RT_AGG_MIN || px_agg(m, i) == RT_AGG_MAX) &&
			   m->wcol[i] >= 0) {
			/* the weight of the value kept, not of the group's first row */
			g->ov[m->wcol[i]] = (struct px_mval){ g->acc[i].mw, g->acc[i].mw_len,
							      g->acc[i].mw == NULL };
		}
	}
	g->keep = px_mval_having(m->spec, m->cls, g->ov);
	return rc;
}

static int
px_group_cmp(const void *a, const void *b, void *arg)
{
	const struct px_group *x = *(const struct px_group *const *)a;
	const struct px_group *y = *(const struct px_group *const *)b;
	int c = px_row_cmp(arg, x->ov, y->ov);

	return c != 0 ? c : (x->ord > y->ord) - (x->ord < y->ord);
}

static enum px_merge_rc
px_group_finish(struct px_merge *m)
{
	enum px_merge_rc rc = PX_MERGE_OK;
	struct px_group *g;
	size_t i;

	if (m->n_groups == 0 && m->spec->n_group == 0) {
		rc = px_group_new(m, NULL, 0, 0, &g); /* aggregates over no rows: one row */
	}
	for (i = 0; i < m->n_groups && rc == PX_MERGE_OK; i++) {
		rc = px_group_final(m, m->gv[i]);
	}
	if (rc != PX_MERGE_OK || m->over_cap) {
		return rc != PX_MERGE_OK ? rc : px_emit_fail(m);
	}
	if (m->spec->n_sort > 0 && m->n_groups > 1) {
		qsort_r(m->gv, m->n_groups, sizeof(*m->gv), px_group_cmp, m);
	}
	px_emit_header(m);
	for (i = 0; i < m->n_groups && rc == PX_MERGE_OK; i++) {
		if (m->gv[i]->keep) {
			rc = px_emit_row(m, m->gv[i]->ov, NULL, 0);
		}
	}
	if (rc == PX_MERGE_OK) {
		px_emit_eof(m);
	}
	return rc;
}

/* k-way merge of the legs' rows (each leg already in order); ties go to the lower leg. */
static enum px_merge_rc
px_sort_finish(struct px_merge *m)
{
	enum px_merge_rc rc = PX_MERGE_OK;
	struct px_row *r;
	size_t i, best;

	px_emit_header(m);
	while (rc == PX_MERGE_OK && !(m->spec->has_limit && m->sent >= m->spec->limit)) {
		best = SIZE_MAX;
		for (i = 0; i < m->n_legs; i++) {
			if (m->legs[i].head != NULL &&
			    (best == SIZE_MAX ||
			     px_row_cmp(m, m->legs[i].head->v, m->legs[best].head->v) < 0)) {
				best = i;
			}
		}
		if (best == SIZE_MAX) {
			break;
		}
		r = m->legs[best].head;
		m->legs[best].head = r->next;
		rc = px_emit_row(m, r->v, px_row_bytes(m, r), r->len);
		free(r);
	}
	if (rc == PX_MERGE_OK) {
		px_emit_eof(m);
	}
	return rc;
}

/* ---- following the legs ---- */

/* Rows of a leg go to the client (CONCAT), a group (GROUP) or its list (SORT, or too early). */
static enum px_merge_rc
px_row_in(struct px_merge *m, size_t leg, const uint8_t *pl, size_t len)
{
	struct px_leg *l = &m->legs[leg];
	struct px_row *r;
	enum px_merge_rc rc;

	if (m->spec->kind == RT_MERGE_ALL_SAME && leg != m->def_leg) {
		return PX_MERGE_OK; /* every leg holds the same rows: the first one's are enough */
	}
	if (m->defs_done && m->spec->kind != RT_MERGE_SORT) {
		rc = px_row_parse(m, pl, len, m->scratch);
		if (rc != PX_MERGE_OK) {
			return rc;
		}
		return m->spec->kind == RT_MERGE_GROUP ? px_group_add(m, m->scratch, pl, len)
						       : px_emit_row(m, m->scratch, pl, len);
	}
	rc = px_row_new(m, pl, len, &r);
	if (rc != PX_MERGE_OK || r == NULL) {
		return rc;
	}
	if (l->tail != NULL) {
		l->tail->next = r;
	} else {
		l->head = r;
	}
	l->tail = r;
	return PX_MERGE_OK;
}

/* Refuses the statement with ERR <code>/<state> <msg> (nothing was sent to the client yet). */
static enum px_merge_rc
px_refuse(struct px_merge *m, uint16_t code, const char *state, const char *msg)
{
	char *copy = strdup(msg);

	if (copy == NULL) {
		return PX_MERGE_ENOMEM;
	}
	free(m->err_msg);
	m->err_msg = copy;
	m->err_prefix = 0;
	m->err_differ = true; /* myshard's own refusal: shown as it is */
	m->err_leg = 0;
	m->err_code = code;
	memcpy(m->err_state, state, 6);
	m->failed = true;
	return PX_MERGE_OK;
}

/* SELECT * with hidden columns: now that the column count is known, the spec's tail indexes
 * (RT_TAIL_BASE + j) become absolute ones in a private copy, which <spec> then points to. */
static enum px_merge_rc
px_tail_resolve(struct px_merge *m)
{
	static const char *const misfit = "the merge plan's hidden columns do not fit the rows";
	const struct rt_merge *s = m->spec;
	unsigned int base, i, c;

	if (s->n_tail == 0) {
		return PX_MERGE_OK;
	}
	if (s->kind == RT_MERGE_GROUP || s->n_tail >= m->n_cols || s->n_cols != s->n_tail) {
		return px_bad(m, misfit);
	}
	base = m->n_cols - s->n_tail;
	m->tsort = calloc(s->n_sort > 0 ? s->n_sort : 1, sizeof(*m->tsort));
	m->tcols = calloc(m->n_cols, sizeof(*m->tcols));
	if (m->tsort == NULL || m->tcols == NULL) {
		return PX_MERGE_ENOMEM;
	}
	m->tspec = *s;
	for (i = 0; i < s->n_sort; i++) {
		c = s->sort[i].col;
		if (c >= RT_TAIL_BASE && c - RT_TAIL_BASE >= s->n_tail) {
			return px_bad(m, misfit);
		}
		m->tsort[i] = s->sort[i];
		m->tsort[i].col = c >= RT_TAIL_BASE ? base + (c - RT_TAIL_BASE) : c;
	}
	for (i = 0; i < s->n_tail; i++) {
		m->tcols[base + i] = s->cols[i];
		c = s->cols[i].weight;
		if (s->cols[i].has_weight) {
			if (c < RT_TAIL_BASE || c - RT_TAIL_BASE >= s->n_tail) {
				return px_bad(m, misfit);
			}
			m->tcols[base + i].weight = base + (c - RT_TAIL_BASE);
		}
	}
	m->tspec.sort = m->tsort;
	m->tspec.cols = m->tcols;
	m->tspec.n_cols = m->n_cols;
	m->tspec.n_visible = base;
	m->tspec.n_tail = 0;
	m->spec = &m->tspec;
	return PX_MERGE_OK;
}

/* Every column a plan refers to must exist in the legs' rows. */
static bool
px_spec_fits(const struct px_merge *m)
{
	const struct rt_merge *s = m->spec;
	unsigned int nc = m->n_cols, i;
	const struct rt_merge_col *c;

	if (m->n_vis == 0 || m->n_vis > nc) {
		return false;
	}
	for (i = 0; i < s->n_sort; i++) {
		if (s->sort[i].col >= nc) {
			return false;
		}
	}
	for (i = 0; s->cols != NULL && i < s->n_cols && i < nc; i++) {
		if (s->cols[i].has_weight && (s->cols[i].weight >= nc || s->cols[i].weight == i)) {
			return false;
		}
	}
	if (s->kind != RT_MERGE_GROUP) {
		return true;
	}
	for (i = 0; i < s->n_group; i++) {
		if (s->group[i] >= nc) {
			return false;
		}
	}
	for (i = 0; i < s->n_cols; i++) {
		c = &s->cols[i];
		if (i >= nc || (c->agg == RT_AGG_COUNT_DISTINCT && c->src >= nc) ||
		    (c->agg == RT_AGG_AVG &&
		     (c->src >= nc || c->src2 >= nc || px_agg(m, c->src) == RT_AGG_AVG ||
		      px_agg(m, c->src2) == RT_AGG_AVG))) {
			return false;
		}
	}
	return px_mval_having_fits(s, nc);
}

/* The defining leg's definitions are complete: rows held so far can be merged now. */
static enum px_merge_rc
px_defs_ready(struct px_merge *m)
{
	enum px_merge_rc rc = PX_MERGE_OK;
	bool star;
	struct px_row *r;
	unsigned int i;
	size_t l;

	star = m->spec->n_visible == UINT_MAX;
	rc = px_tail_resolve(m);
	if (rc != PX_MERGE_OK) {
		return rc;
	}
	m->n_vis = m->spec->n_visible == UINT_MAX ? m->n_cols : m->spec->n_visible;
	if (!px_spec_fits(m)) {
		return px_bad(m, "the merge plan refers to columns the shards did not return");
	}
	for (i = 0; i < m->n_cols; i++) {
		px_mval_cls_init(&m->cols[i].def, &m->cls[i]);
		m->wcol[i] = -1;
		if (m->spec->cols != NULL && i < m->spec->n_cols && m->spec->cols[i].has_weight &&
		    px_mval_is_text(&m->cols[i].def)) {
			m->wcol[i] = (int)m->spec->cols[i].weight;
		}
	}
	/* SELECT * ... ORDER BY <number> of a text column has no weight column: it would compare
	 * by the connection's collation, not the column's. Refused rather than risk the order. */
	for (i = 0; star && i < m->spec->n_sort; i++) {
		const struct mp_coldef *d = &m->cols[m->spec->sort[i].col].def;

		if (m->wcol[m->spec->sort[i].col] < 0 && px_mval_is_text(d) && d->charset != 63) {
			return px_refuse(
				m, 1235, "42000",
				"myshard: ORDER BY the number of a text column with SELECT * across shards: order by its name");
		}
	}
	m->defs_done = true;
	if (m->spec->kind == RT_MERGE_SORT) {
		return PX_MERGE_OK;
	}
	if (m->spec->kind != RT_MERGE_GROUP) {
		px_emit_header(m);
	}
	for (l = 0; l < m->n_legs; l++) {
		while ((r = m->legs[l].head) != NULL && rc == PX_MERGE_OK && !m->failed) {
			m->legs[l].head = r->next;
			m->mem -= r->size;
			rc = m->spec->kind == RT_MERGE_GROUP
				     ? px_group_add(m, r->v, px_row_bytes(m, r), r->len)
				     : px_emit_row(m, r->v, px_row_bytes(m, r), r->len);
			free(r);
		}
		if (m->legs[l].head == NULL) {
			m->legs[l].tail = NULL;
		}
	}
	return rc;
}

/* A column count: the first leg to send one defines the columns. */
static enum px_merge_rc
px_leg_first(struct px_merge *m, size_t leg, const struct mp_resp_event *ev, const uint8_t *pl,
	     size_t len)
{
	struct mp_cursor c;
	uint64_t n;

	if (ev->kind == MP_PKT_OK) {
		return px_leg_ok(m, leg, pl, len);
	}
	mp_cursor_init(&c, pl, len);
	if (ev->kind != MP_PKT_DATA || mp_lenenc_read(&c, &n) != MP_OK || mp_cursor_left(&c) != 0 ||
	    n == 0 || n > PX_MAX_COLS) {
		return px_bad(m, "malformed first packet of a response");
	}
	if (m->n_cols == 0) {
		m->cols = calloc(n, sizeof(*m->cols));
		m->scratch = calloc(n, sizeof(*m->scratch));
		m->cls = calloc(n, sizeof(*m->cls));
		m->wcol = calloc(n, sizeof(*m->wcol));
		if (m->cols == NULL || m->scratch == NULL || m->cls == NULL || m->wcol == NULL) {
			return PX_MERGE_ENOMEM;
		}
		m->n_cols = (unsigned int)n;
		m->def_leg = leg;
	} else if (n != m->n_cols) {
		return px_bad(m, "shards returned different numbers of columns");
	}
	m->legs[leg].defs_left = n;
	m->legs[leg].st = PX_LEG_DEFS;
	return PX_MERGE_OK;
}

static enum px_merge_rc
px_leg_def(struct px_merge *m, size_t leg, const struct mp_resp_event *ev, const uint8_t *pl,
	   size_t len)
{
	struct px_leg *l = &m->legs[leg];
	struct px_col *col = &m->cols[m->n_cols - l->defs_left];
	struct mp_coldef def;

	if (ev->kind != MP_PKT_DATA || mp_coldef_read(pl, len, &def) != MP_OK) {
		return px_bad(m, "malformed column definition");
	}
	if (leg == m->def_leg) {
		col->raw = malloc(len);
		if (col->raw == NULL) {
			return PX_MERGE_ENOMEM;
		}
		memcpy(col->raw, pl, len);
		col->len = len;
		if (mp_coldef_read(col->raw, len, &col->def) != MP_OK) {
			MS_BUG("a column definition decoded once but not twice");
		}
	}
	if (--l->defs_left == 0) {
		l->st = PX_LEG_DEFS_EOF;
	}
	return PX_MERGE_OK;
}

static enum px_merge_rc
px_leg_eof(struct px_merge *m, size_t leg, const struct mp_resp_event *ev, const uint8_t *pl,
	   size_t len)
{
	struct px_leg *l = &m->legs[leg];
	uint16_t warnings, status;

	if (ev->kind != MP_PKT_EOF || mp_eof_read(pl, len, &warnings, &status) != MP_OK) {
		return px_bad(m, "expected a legacy EOF (CLIENT_DEPRECATE_EOF is not supported)");
	}
	if (l->st == PX_LEG_ROWS) {
		l->st = PX_LEG_DONE;
		m->warnings += warnings;
		m->status = status;
		m->status_seen = true;
		return PX_MERGE_OK;
	}
	l->st = PX_LEG_ROWS;
	if (leg != m->def_leg) {
		return PX_MERGE_OK;
	}
	m->defs_status = status;
	return px_defs_ready(m);
}

static enum px_merge_rc
px_leg_err(struct px_merge *m, size_t leg, const uint8_t *pl, size_t len)
{
	const char *name = m->names != NULL && m->names[leg] != NULL ? m->names[leg] : "?";
	size_t nl = strlen(name);
	struct mp_err e;
	char *msg;

	if (mp_err_read(pl, len, &e) != MP_OK) {
		return px_bad(m, "malformed ERR packet");
	}
	m->legs[leg].st = PX_LEG_DONE;
	m->failed = true;
	m->n_err++;
	if (m->err_msg != NULL &&
	    (e.code != m->err_code || strlen(m->err_msg + m->err_prefix) != e.message.len ||
	     memcmp(m->err_msg + m->err_prefix, e.message.ptr, e.message.len) != 0)) {
		m->err_differ = true;
	}
	if (m->err_msg != NULL && m->err_leg < leg) {
		return PX_MERGE_OK;
	}
	if (m->n_legs == 1) {
		/* one shard (a routed prepared statement): the server's own words, as from a
		 * single server; the shard is named only when several could have failed */
		nl = 0;
	}
	msg = malloc(nl + e.message.len + 9);
	if (msg == NULL) {
		return PX_MERGE_ENOMEM;
	}
	if (nl > 0) {
		memcpy(msg, "shard ", 6);
		memcpy(msg + 6, name, nl);
		memcpy(msg + 6 + nl, ": ", 2);
	}
	if (e.message.len > 0) {
		memcpy(msg + (nl > 0 ? 8 + nl : 0), e.message.ptr, e.message.len);
	}
	msg[(nl > 0 ? 8 + nl : 0) + e.message.len] = '\0';
	free(m->err_msg);
	m->err_msg = msg;
	m->err_prefix = nl > 0 ? 8 + nl : 0;
	m->err_leg = leg;
	m->err_code = e.code;
	memcpy(m->err_state, e.sqlstate, sizeof(m->err_state));
	return PX_MERGE_OK;
}

/* ---- API ---- */

enum ms_rc
px_merge_new(const struct rt_merge *spec, size_t n_legs, const char *const *leg_names,
	     size_t mem_cap, px_merge_emit_fn emit, void *arg, struct px_merge **out)
{
	struct px_merge *m;

	*out = NULL;
	if (spec == NULL || n_legs == 0 || emit == NULL) {
		return MS_EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return MS_ENOMEM;
	}
	m->st_keep = 0xffff;
	m->legs = calloc(n_legs, sizeof(*m->legs));
	if (m->legs == NULL) {
		free(m);
		return MS_ENOMEM;
	}
	m->spec = spec;
	m->names = leg_names;
	m->n_legs = n_legs;
	m->mem_cap = mem_cap;
	m->emit = emit;
	m->arg = arg;
	m->def_leg = SIZE_MAX;
	m->err_leg = SIZE_MAX;
	m->ok.first_leg = SIZE_MAX;
	*out = m;
	return MS_OK;
}

enum px_merge_rc
px_merge_feed(struct px_merge *m, size_t leg, const struct mp_resp_event *ev, const uint8_t *pl,
	      size_t len)
{
	MS_ASSERT(leg < m->n_legs);
	if (len >= MP_MAX_PAYLOAD) {
		return px_bad(m, "a packet of 16 MiB or more (a continued row) cannot be merged");
	}
	if (m->legs[leg].st == PX_LEG_DONE || m->finished) {
		return px_bad(m, "a packet after the end of a response (several result sets)");
	}
	if (ev->kind == MP_PKT_ERR) {
		return px_leg_err(m, leg, pl, len);
	}
	if (m->failed) {
		return PX_MERGE_OK; /* the answer is an ERR now: the rest is drained unread */
	}
	switch (m->legs[leg].st) {
	case PX_LEG_FIRST:
		return px_leg_first(m, leg, ev, pl, len);
	case PX_LEG_DEFS:
		return px_leg_def(m, leg, ev, pl, len);
	case PX_LEG_DEFS_EOF:
		return px_leg_eof(m, leg, ev, pl, len);
	case PX_LEG_ROWS:
		if (ev->kind == MP_PKT_DATA) {
			return px_row_in(m, leg, pl, len);
		}
		return px_leg_eof(m, leg, ev, pl, len);
	case PX_LEG_DONE:
		break;
	}
	MS_BUG("px_merge_feed: leg state");
}

enum px_merge_rc
px_merge_finish(struct px_merge *m, uint64_t insert_id)
{
	size_t i;

	if (m->finished) {
		return px_bad(m, "px_merge_finish called twice");
	}
	m->finished = true;
	if (m->failed) {
		return px_emit_fail(m);
	}
	for (i = 0; i < m->n_legs; i++) {
		if (m->legs[i].st != PX_LEG_DONE) {
			return px_bad(m, "a shard's response is incomplete");
		}
	}
	if (m->n_ok == m->n_legs) {
		return px_emit_ok(m, insert_id);
	}
	if (m->n_ok > 0) {
		return px_bad(m, "some shards answered with rows and others with OK");
	}
	if (m->spec->kind == RT_MERGE_GROUP) {
		return px_group_finish(m);
	}
	if (m->spec->kind == RT_MERGE_SORT) {
		return px_sort_finish(m);
	}
	px_emit_eof(m);
	return PX_MERGE_OK;
}

void
px_merge_fix_status(struct px_merge *m, uint16_t keep, uint16_t set)
{
	m->st_keep = keep;
	m->st_set = set;
}

uint16_t
px_merge_status(const struct px_merge *m)
{
	return (uint16_t)(m->status & ~MP_STATUS_MORE_RESULTS);
}

bool
px_merge_status_seen(const struct px_merge *m)
{
	return m->status_seen;
}

uint64_t
px_merge_rows(const struct px_merge *m)
{
	return m->sent;
}

const char *
px_merge_why(const struct px_merge *m)
{
	return m->why;
}

void
px_merge_free(struct px_merge *m)
{
	struct px_hent *e, *next;
	size_t i, k;

	if (m == NULL) {
		return;
	}
	for (i = 0; i < m->n_legs; i++) {
		px_rows_free(m->legs[i].head);
	}
	for (i = 0; i < m->n_cols; i++) {
		free(m->cols[i].raw);
	}
	for (i = 0; i < m->n_groups; i++) {
		for (k = 0; k < m->n_cols; k++) {
			free(m->gv[i]->acc[k].mm);
			free(m->gv[i]->acc[k].mw);
			free(m->gv[i]->acc[k].txt);
		}
		free(m->gv[i]->first);
		free(m->gv[i]);
	}
	for (i = 0; m->dset.b != NULL && i <= m->dset.mask; i++) {
		for (e = m->dset.b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->dset.b);
	free(m->groups.b);
	free(m->gv);
	free(m->legs);
	free(m->cols);
	free(m->scratch);
	free(m->cls);
	free(m->wcol);
	free(m->tsort);
	free(m->tcols);
	free(m->out);
	free(m->err_msg);
	free(m->ok.first_info);
	free(m);
}
