/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_store_func.c - the sharding functions of cs_build(): functions rows, the
 * keyspace-id ranges of hash functions (covering every id once), the [range_from, range_to)
 * key ranges of range functions (contiguous from the lowest key to the highest), and the
 * values of list functions (unique after normalization). Bounds and values go through
 * topo_keyspace_id() and topo_key_normalize(), as the YAML loader's do, so both agree with the
 * router byte for byte. Rows in function_ranges have no order: they are sorted here.
 */
#include "conf/conf_store_int.h"

#include "conf/conf_int.h"

#include <stdlib.h>
#include <string.h>

#define CS_KSPEC_WANT                                                                              \
	"a keyspace-id range such as \"-80\", \"40-80\", \"80-\" or \"-\" (an even number of hex " \
	"digits, at most 16, on each side; start below end)"
#define CS_KSPEC_MAX 36 /* longest valid spec is 33 bytes */
#define CS_RANGES_SQL                                                                              \
	"SELECT function, keyspace, range_from, range_to, shard FROM function_ranges WHERE "       \
	"function = ?1 ORDER BY rowid"

static const char *const cs_kinds[] = { "hash", "range", "list" };
static const char *const cs_types[] = { "int", "uint", "string" };

/* Text <s> as a key value of <f>: any string for string keys, a decimal integer for others. */
static bool
cs_key_value(const struct topo_func *f, const char *s, size_t len, struct topo_value *v)
{
	memset(v, 0, sizeof(*v));
	if (f->key_type == TOPO_KEY_STRING) {
		v->kind = TOPO_VAL_STRING;
		v->str = s;
		v->len = len;
		return true;
	}
	v->kind = TOPO_VAL_INT;
	return conf_int_text(s, len, &v->neg, &v->u);
}

/* "function_ranges row (function=f, keyspace=k)" for a row with a keyspace or no bounds at
 * all, else "function_ranges row (function=f, range_from=a, range_to=b)". */
static const char *
cs_range_where(char *buf, size_t len, const char *fn, const char *ks, const char *from,
	       const char *to)
{
	static const char *const hk[] = { "function", "keyspace" };
	static const char *const rk[] = { "function", "range_from", "range_to" };
	const char *v[3] = { fn, ks, NULL };

	if (ks != NULL || (from == NULL && to == NULL)) {
		return cs_where(buf, len, "function_ranges", 2, hk, v);
	}
	v[1] = from;
	v[2] = to;
	return cs_where(buf, len, "function_ranges", 3, rk, v);
}

/* cs_range_where() for the current row of a query whose columns 0..3 are function,
 * keyspace, range_from, range_to. */
static const char *
cs_range_row_where(sqlite3_stmt *st, char *buf, size_t len)
{
	const char *v[4];
	size_t n;

	for (int i = 0; i < 4; i++) {
		v[i] = cs_col(st, i, &n);
	}
	return cs_range_where(buf, len, v[0], v[1], v[2], v[3]);
}

/* functions row: name, kind, key_type, collation (string keys only; NULL = bin). */
static enum ms_rc
cs_func_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const keys[] = { "name" };
	static const char *const colls[] = { "ci", "bin" };
	struct topo_func *f = &b->c->map.funcs[i];
	size_t len, kind = 0, type = 0, coll = 1;
	char where[CS_WHERE_LEN];
	const char *v[1];
	enum ms_rc rc;

	(void)arg;
	v[0] = cs_col(st, 0, &len);
	cs_where(where, sizeof(where), "functions", 1, keys, v);
	rc = cs_name(b, st, 0, where, &f->name);
	if (rc == MS_OK) {
		rc = cs_choice(b, st, 1, where, "kind", cs_kinds, MS_ARRAY_LEN(cs_kinds), &kind);
	}
	if (rc == MS_OK) {
		rc = cs_choice(b, st, 2, where, "key_type", cs_types, MS_ARRAY_LEN(cs_types),
			       &type);
	}
	f->kind = (enum topo_func_kind)kind;
	f->key_type = (enum topo_key_type)type;
	if (rc != MS_OK || sqlite3_column_type(st, 3) == SQLITE_NULL) {
		return rc;
	}
	if (f->key_type != TOPO_KEY_STRING) {
		return cs_fail(b, where, "collation",
			       "only string keys have a collation (key_type is %s)",
			       cs_types[type]);
	}
	rc = cs_choice(b, st, 3, where, "collation", colls, MS_ARRAY_LEN(colls), &coll);
	f->ci = coll == 0;
	return rc;
}

/* A row that must not exist, found by a query whose first columns identify it. */
struct cs_bad_row {
	const char *why; /* about its function column; NULL: "unknown function <name>" */
	bool ranges;     /* a function_ranges row (else function_values: function, value) */
};

static enum ms_rc
cs_bad_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const vk[] = { "function", "value" };
	const struct cs_bad_row *r = arg;
	char where[CS_WHERE_LEN], got[CONF_GOT_LEN];
	const char *v[2];
	size_t len;

	(void)i;
	v[0] = cs_col(st, 0, &len);
	v[1] = cs_col(st, 1, &len);
	if (r->ranges) {
		cs_range_row_where(st, where, sizeof(where));
	} else {
		cs_where(where, sizeof(where), "function_values", 2, vk, v);
	}
	if (r->why != NULL) {
		return cs_fail(b, where, "function", "%s", r->why);
	}
	return cs_fail(b, where, "function", "unknown function %s",
		       conf_quote(v[0] != NULL ? v[0] : "", v[0] != NULL ? strlen(v[0]) : 0, got,
				  sizeof(got)));
}

/* Rows of function_ranges or function_values that name no function. */
static enum ms_rc
cs_orphans(struct cs_build *b)
{
	static const struct cs_bad_row r = { NULL, true }, v = { NULL, false };
	enum ms_rc rc;

	rc = cs_rows(b,
		     "SELECT function, keyspace, range_from, range_to FROM function_ranges WHERE "
		     "function NOT IN (SELECT name FROM functions) ORDER BY rowid",
		     NULL, 1, cs_bad_row, &r);
	if (rc == MS_OK) {
		rc = cs_rows(b,
			     "SELECT function, value FROM function_values WHERE function NOT IN "
			     "(SELECT name FROM functions) ORDER BY rowid",
			     NULL, 1, cs_bad_row, &v);
	}
	return rc;
}

/* A keyspace-id range of a hash function, for the coverage check. */
struct cs_span {
	uint64_t lo, hi;
	size_t idx; /* row order */
	char spec[CS_KSPEC_MAX];
};

struct cs_hash {
	struct topo_func *f; /* borrowed; ranges allocated, filled here */
	struct cs_span *sp;  /* borrowed; one per range */
};

/* function_ranges row of a hash function: keyspace, shard; no range_from / range_to. */
static enum ms_rc
cs_hash_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	const struct cs_hash *h = arg;
	struct topo_krange *r = &h->f->ranges[i];
	char where[CS_WHERE_LEN], got[CONF_GOT_LEN];
	const char *ks, *shard;
	size_t len;
	enum ms_rc rc;

	cs_range_row_where(st, where, sizeof(where));
	if (sqlite3_column_type(st, 2) != SQLITE_NULL ||
	    sqlite3_column_type(st, 3) != SQLITE_NULL) {
		return cs_fail(b, where,
			       sqlite3_column_type(st, 2) != SQLITE_NULL ? "range_from"
									 : "range_to",
			       "hash functions take keyspace, not range_from and range_to");
	}
	if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
		return cs_fail(b, where, "keyspace", "must be %s, got NULL", CS_KSPEC_WANT);
	}
	rc = cs_str(b, st, 1, where, "keyspace", false, &ks, &len);
	if (rc == MS_OK &&
	    (len >= CS_KSPEC_MAX || topo_krange_parse(ks, &r->lo, &r->hi) != MS_OK)) {
		return cs_fail(b, where, "keyspace", "must be %s, got %s", CS_KSPEC_WANT,
			       conf_quote(ks, len, got, sizeof(got)));
	}
	if (rc == MS_OK) {
		h->sp[i] = (struct cs_span){ .lo = r->lo, .hi = r->hi, .idx = i };
		memcpy(h->sp[i].spec, ks, len + 1);
		rc = cs_str(b, st, 4, where, "shard", false, &shard, &len);
	}
	return rc == MS_OK ? cs_shard_ref(b, where, "shard", shard, len, &r->shard) : rc;
}

static int
cs_span_cmp(const void *pa, const void *pb)
{
	const struct cs_span *a = pa, *b = pb;

	if (a->lo != b->lo) {
		return a->lo < b->lo ? -1 : 1;
	}
	return a->idx < b->idx ? -1 : (a->idx > b->idx ? 1 : 0);
}

static enum ms_rc
cs_gap(struct cs_build *b, const struct topo_func *f, uint64_t lo, uint64_t hi)
{
	return cs_errf(MS_EINVAL, b->err, b->errlen,
		       "function_ranges (function=%s): keyspace ids %016llx..%016llx are not "
		       "covered",
		       f->name, (unsigned long long)lo, (unsigned long long)hi);
}

/* The <n> spans of <f> must cover every keyspace id exactly once. An overlap is reported on
 * the later row of the two. */
static enum ms_rc
cs_hash_cover(struct cs_build *b, const struct topo_func *f, struct cs_span *sp, size_t n)
{
	char where[CS_WHERE_LEN];
	const struct cs_span *a, *later;
	uint64_t next = 0; /* first id not covered yet */

	qsort(sp, n, sizeof(*sp), cs_span_cmp);
	for (size_t i = 0; i < n; i++) {
		/* sorted and overlap-free so far: sp[i - 1] reaches furthest */
		if (i > 0 && sp[i].lo <= sp[i - 1].hi) {
			later = sp[i - 1].idx > sp[i].idx ? &sp[i - 1] : &sp[i];
			a = later == &sp[i] ? &sp[i - 1] : &sp[i];
			cs_range_where(where, sizeof(where), f->name, later->spec, NULL, NULL);
			return cs_fail(b, where, "keyspace", "overlaps %s", a->spec);
		}
		if (sp[i].lo != next) {
			return cs_gap(b, f, next, sp[i].lo - 1);
		}
		next = sp[i].hi + 1; /* wraps only after the last id; anything later overlaps */
	}
	return sp[n - 1].hi != UINT64_MAX ? cs_gap(b, f, next, UINT64_MAX) : MS_OK;
}

static enum ms_rc
cs_hash_ranges(struct cs_build *b, struct topo_func *f)
{
	struct cs_hash h = { .f = f };
	enum ms_rc rc;

	h.sp = calloc(f->n_ranges, sizeof(*h.sp));
	if (h.sp == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	rc = cs_rows(b, CS_RANGES_SQL, f->name, f->n_ranges, cs_hash_row, &h);
	if (rc == MS_OK) {
		rc = cs_hash_cover(b, f, h.sp, f->n_ranges);
	}
	free(h.sp);
	return rc;
}

/* A row of a range function: [from, to) as keyspace ids, NULL bounds open. */
struct cs_rrow {
	uint64_t lo, end; /* end: keyspace id of range_to (exclusive) */
	char *from, *to;  /* owned; the text as stored, NULL for SQL NULL */
	size_t shard;
	size_t idx; /* row order */
};

struct cs_range {
	const struct topo_func *f; /* borrowed */
	struct cs_rrow *rows;      /* borrowed */
};

/* Bound column <i> of range function <f>: NULL (*<text> stays NULL), or a key value whose
 * keyspace id goes to *<ksid> and whose text is copied to *<text>. */
static enum ms_rc
cs_range_bound(struct cs_build *b, sqlite3_stmt *st, int i, const char *where, const char *column,
	       const struct topo_func *f, char **text, uint64_t *ksid)
{
	char got[CONF_GOT_LEN];
	struct topo_value v;
	const char *s;
	size_t len;
	enum ms_rc rc;

	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		return MS_OK;
	}
	rc = cs_str(b, st, i, where, column, false, &s, &len);
	if (rc == MS_OK &&
	    (!cs_key_value(f, s, len, &v) || topo_keyspace_id(f, &v, ksid) != TOPO_ROUTE_OK)) {
		return cs_fail(b, where, column, "must be %s, got %s", conf_key_what(f),
			       conf_quote(s, len, got, sizeof(got)));
	}
	if (rc == MS_OK) {
		*text = strdup(s);
		rc = *text != NULL ? MS_OK : cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	return rc;
}

/* range_to must be past range_from (or past the lowest key when range_from is NULL). */
static enum ms_rc
cs_range_order(struct cs_build *b, const char *where, const struct topo_func *f,
	       const struct cs_rrow *r)
{
	char from[CONF_GOT_LEN], buf[CONF_GOT_LEN];
	const char *to;

	if (r->to == NULL || r->end > r->lo) {
		return MS_OK;
	}
	to = conf_quote(r->to, strlen(r->to), buf, sizeof(buf));
	if (r->from == NULL) {
		return cs_fail(b, where, "range_to", "must be greater than the lowest key, got %s",
			       to);
	}
	return cs_fail(b, where, "range_to", "must be greater than range_from (%s)%s, got %s",
		       conf_quote(r->from, strlen(r->from), from, sizeof(from)),
		       f->key_type == TOPO_KEY_STRING ? " in its first 8 bytes after normalization"
						      : "",
		       to);
}

/* function_ranges row of a range function: range_from, range_to, shard; no keyspace. */
static enum ms_rc
cs_range_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	const struct cs_range *x = arg;
	struct cs_rrow *r = &x->rows[i];
	char where[CS_WHERE_LEN];
	const char *shard;
	size_t len;
	enum ms_rc rc;

	cs_range_row_where(st, where, sizeof(where));
	if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
		return cs_fail(b, where, "keyspace",
			       "range functions take range_from and range_to, not keyspace");
	}
	r->idx = i;
	rc = cs_range_bound(b, st, 2, where, "range_from", x->f, &r->from, &r->lo);
	if (rc == MS_OK) {
		rc = cs_range_bound(b, st, 3, where, "range_to", x->f, &r->to, &r->end);
	}
	if (rc == MS_OK) {
		rc = cs_range_order(b, where, x->f, r);
	}
	if (rc == MS_OK) {
		rc = cs_str(b, st, 4, where, "shard", false, &shard, &len);
	}
	return rc == MS_OK ? cs_shard_ref(b, where, "shard", shard, len, &r->shard) : rc;
}

/* The first range (range_from NULL) first, then by range_from, then by row order. */
static int
cs_rrow_cmp(const void *pa, const void *pb)
{
	const struct cs_rrow *a = pa, *b = pb;

	if ((a->from == NULL) != (b->from == NULL)) {
		return a->from == NULL ? -1 : 1;
	}
	if (a->lo != b->lo) {
		return a->lo < b->lo ? -1 : 1;
	}
	return a->idx < b->idx ? -1 : (a->idx > b->idx ? 1 : 0);
}

/* Row <cur> must start where <prev> ends. */
static enum ms_rc
cs_range_link(struct cs_build *b, const struct topo_func *f, const struct cs_rrow *prev,
	      const struct cs_rrow *cur)
{
	char where[CS_WHERE_LEN], abuf[CONF_GOT_LEN], cbuf[CONF_GOT_LEN];
	const char *a, *c;

	if (cur->from == NULL) {
		cs_range_where(where, sizeof(where), f->name, NULL, cur->from, cur->to);
		return cs_fail(b, where, "range_from",
			       "NULL in more than one row; only the first range starts at the "
			       "lowest key");
	}
	c = conf_quote(cur->from, strlen(cur->from), cbuf, sizeof(cbuf));
	if (prev->to == NULL) {
		cs_range_where(where, sizeof(where), f->name, NULL, prev->from, prev->to);
		return cs_fail(b, where, "range_to",
			       "NULL, but the range from %s follows; only the last range runs to "
			       "the highest key",
			       c);
	}
	a = conf_quote(prev->to, strlen(prev->to), abuf, sizeof(abuf));
	if (cur->lo < prev->end) {
		cs_range_where(where, sizeof(where), f->name, NULL, cur->from, cur->to);
		return cs_fail(b, where, "range_from",
			       "overlaps the range before it, which ends at range_to %s", a);
	}
	if (cur->lo > prev->end) {
		return cs_errf(MS_EINVAL, b->err, b->errlen,
			       "function_ranges (function=%s): keys from %s up to %s belong to no "
			       "range",
			       f->name, a, c);
	}
	return MS_OK;
}

/* Sorts the <n> rows of <f> and checks that they run from the lowest key to the highest
 * without gaps or overlaps; then fills f->ranges. */
static enum ms_rc
cs_range_chain(struct cs_build *b, struct topo_func *f, struct cs_rrow *r, size_t n)
{
	enum ms_rc rc = MS_OK;

	qsort(r, n, sizeof(*r), cs_rrow_cmp);
	if (r[0].from != NULL) {
		return cs_errf(MS_EINVAL, b->err, b->errlen,
			       "function_ranges (function=%s): no row has range_from NULL (the "
			       "first range, from the lowest key)",
			       f->name);
	}
	for (size_t i = 1; rc == MS_OK && i < n; i++) {
		rc = cs_range_link(b, f, &r[i - 1], &r[i]);
	}
	if (rc == MS_OK && r[n - 1].to != NULL) {
		return cs_errf(MS_EINVAL, b->err, b->errlen,
			       "function_ranges (function=%s): no row has range_to NULL (the last "
			       "range, to the highest key)",
			       f->name);
	}
	for (size_t i = 0; rc == MS_OK && i < n; i++) {
		f->ranges[i].lo = r[i].lo;
		f->ranges[i].hi = r[i].to != NULL ? r[i].end - 1 : UINT64_MAX;
		f->ranges[i].shard = r[i].shard;
	}
	return rc;
}

static enum ms_rc
cs_range_ranges(struct cs_build *b, struct topo_func *f)
{
	struct cs_range x = { .f = f };
	enum ms_rc rc;

	x.rows = calloc(f->n_ranges, sizeof(*x.rows));
	if (x.rows == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	rc = cs_rows(b, CS_RANGES_SQL, f->name, f->n_ranges, cs_range_row, &x);
	if (rc == MS_OK) {
		rc = cs_range_chain(b, f, x.rows, f->n_ranges);
	}
	for (size_t i = 0; i < f->n_ranges; i++) {
		free(x.rows[i].from);
		free(x.rows[i].to);
	}
	free(x.rows);
	return rc;
}

/* What the values of a list function need while they are read. */
struct cs_values {
	struct topo_func *f;  /* borrowed; list allocated, filled here */
	char **text;          /* borrowed; each value as stored, owned by the array */
	struct conf_dup *dup; /* borrowed; one per value, for the duplicate check */
};

/* function_values row: function, value, shard. */
static enum ms_rc
cs_value_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const keys[] = { "function", "value" };
	const struct cs_values *x = arg;
	struct topo_list_entry *e = &x->f->list[i];
	char where[CS_WHERE_LEN], got[CONF_GOT_LEN];
	const char *v[2];
	struct topo_value tv;
	size_t len;
	enum ms_rc rc;

	v[0] = cs_col(st, 0, &len);
	v[1] = cs_col(st, 1, &len);
	cs_where(where, sizeof(where), "function_values", 2, keys, v);
	rc = cs_str(b, st, 1, where, "value", false, &v[1], &len);
	if (rc == MS_OK) {
		x->text[i] = strdup(v[1]);
		e->value = malloc((len > TOPO_KEY_TEXT_MAX ? len : TOPO_KEY_TEXT_MAX) + 1);
		if (x->text[i] == NULL || e->value == NULL) {
			return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
		}
	}
	if (rc == MS_OK && (!cs_key_value(x->f, v[1], len, &tv) ||
			    topo_key_normalize(x->f, &tv, (uint8_t *)e->value,
					       len > TOPO_KEY_TEXT_MAX ? len : TOPO_KEY_TEXT_MAX,
					       &e->len) != TOPO_ROUTE_OK)) {
		return cs_fail(b, where, "value", "must be %s, got %s", conf_key_what(x->f),
			       conf_quote(v[1], len, got, sizeof(got)));
	}
	if (rc == MS_OK) {
		e->value[e->len] = '\0';
		x->dup[i] = (struct conf_dup){ .a = e->value, .alen = e->len, .ord = i, .idx = i };
		rc = cs_str(b, st, 2, where, "shard", false, &v[0], &len);
	}
	return rc == MS_OK ? cs_shard_ref(b, where, "shard", v[0], len, &e->shard) : rc;
}

/* Two values of <x> that are one key after normalization: named from the later row. */
static enum ms_rc
cs_values_dup(struct cs_build *b, const struct cs_values *x)
{
	static const char *const keys[] = { "function", "value" };
	const struct conf_dup *dup, *first = NULL;
	char where[CS_WHERE_LEN], a[CONF_GOT_LEN], c[CONF_GOT_LEN];
	const char *v[2];

	dup = conf_dup_find(x->dup, x->f->n_list, &first);
	if (dup == NULL) {
		return MS_OK;
	}
	v[0] = x->f->name;
	v[1] = x->text[dup->idx];
	cs_where(where, sizeof(where), "function_values", 2, keys, v);
	return cs_fail(b, where, "value", "duplicate value %s (also %s)",
		       conf_quote(v[1], strlen(v[1]), a, sizeof(a)),
		       conf_quote(x->text[first->idx], strlen(x->text[first->idx]), c, sizeof(c)));
}

static enum ms_rc
cs_list_values(struct cs_build *b, struct topo_func *f)
{
	struct cs_values x = { .f = f };
	enum ms_rc rc;

	x.text = calloc(f->n_list, sizeof(*x.text));
	x.dup = calloc(f->n_list, sizeof(*x.dup));
	rc = x.text != NULL && x.dup != NULL
		     ? cs_rows(b,
			       "SELECT function, value, shard FROM function_values WHERE "
			       "function = ?1 ORDER BY rowid",
			       f->name, f->n_list, cs_value_row, &x)
		     : cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	if (rc == MS_OK) {
		rc = cs_values_dup(b, &x);
	}
	for (size_t i = 0; x.text != NULL && i < f->n_list; i++) {
		free(x.text[i]);
	}
	free(x.text);
	free(x.dup);
	return rc;
}

/* Rows of <f> in the table its kind does not use. */
static enum ms_rc
cs_func_misplaced(struct cs_build *b, const struct topo_func *f)
{
	static const struct cs_bad_row list = {
		"list functions take values (function_values), not ranges", true
	};
	static const struct cs_bad_row hash = {
		"hash functions take ranges (function_ranges), not values", false
	};
	static const struct cs_bad_row range = {
		"range functions take ranges (function_ranges), not values", false
	};

	if (f->kind == TOPO_FUNC_LIST) {
		return cs_rows(
			b,
			"SELECT function, keyspace, range_from, range_to FROM function_ranges "
			"WHERE function = ?1 ORDER BY rowid",
			f->name, 1, cs_bad_row, &list);
	}
	return cs_rows(b,
		       "SELECT function, value FROM function_values WHERE function = ?1 ORDER BY "
		       "rowid",
		       f->name, 1, cs_bad_row, f->kind == TOPO_FUNC_HASH ? &hash : &range);
}

/* The ranges or values of <f>: at least one, in the table its kind uses. */
static enum ms_rc
cs_func_body(struct cs_build *b, struct topo_func *f)
{
	static const char *const keys[] = { "name" };
	const bool list = f->kind == TOPO_FUNC_LIST;
	char where[CS_WHERE_LEN];
	enum ms_rc rc;
	size_t n = 0;

	rc = cs_func_misplaced(b, f);
	if (rc == MS_OK) {
		rc = cs_count(b,
			      list ? "SELECT count(*) FROM function_values WHERE function = ?1"
				   : "SELECT count(*) FROM function_ranges WHERE function = ?1",
			      f->name, &n);
	}
	if (rc == MS_OK && n == 0) {
		cs_where(where, sizeof(where), "functions", 1, keys, (const char *const *)&f->name);
		return cs_fail(b, where, NULL, "a %s function needs at least one row in %s",
			       cs_kinds[f->kind], list ? "function_values" : "function_ranges");
	}
	if (rc != MS_OK) {
		return rc;
	}
	if (list) {
		f->list = calloc(n, sizeof(*f->list));
		f->n_list = f->list != NULL ? n : 0;
	} else {
		f->ranges = calloc(n, sizeof(*f->ranges));
		f->n_ranges = f->ranges != NULL ? n : 0;
	}
	if (f->list == NULL && f->ranges == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	if (list) {
		return cs_list_values(b, f);
	}
	return f->kind == TOPO_FUNC_HASH ? cs_hash_ranges(b, f) : cs_range_ranges(b, f);
}

enum ms_rc
cs_build_funcs(struct cs_build *b)
{
	struct topo_map *m = &b->c->map;
	enum ms_rc rc;
	size_t n;

	rc = cs_count(b, "SELECT count(*) FROM functions", NULL, &n);
	if (rc == MS_OK && n > 0) {
		m->funcs = calloc(n, sizeof(*m->funcs));
		if (m->funcs == NULL) {
			return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
		}
		m->n_funcs = n; /* topo_map_deinit() copes with functions not read yet */
		rc = cs_rows(b,
			     "SELECT name, kind, key_type, collation FROM functions ORDER BY rowid",
			     NULL, n, cs_func_row, NULL);
	}
	if (rc == MS_OK) {
		rc = cs_orphans(b);
	}
	for (size_t i = 0; rc == MS_OK && i < m->n_funcs; i++) {
		rc = cs_func_body(b, &m->funcs[i]);
	}
	return rc;
}
