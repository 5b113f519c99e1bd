/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_func.c - sharding.functions[]: hash functions with keyspace-id ranges that must cover
 * the whole space once, range functions with contiguous [from, to) key ranges, list functions
 * with unique values. Range bounds and list values go through topo_keyspace_id() and
 * topo_key_normalize(), so the file and the router agree byte for byte.
 */
#include "conf/conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_KSPEC_WANT                                                                            \
	"a keyspace-id range such as \"-80\", \"40-80\", \"80-\" or \"-\" (an even number of hex " \
	"digits, at most 16, on each side; start below end)"

static const char *const conf_kind_names[] = { "hash", "range", "list" };
static const char *const conf_type_names[] = { "int", "uint", "string" };

/* Scalar <n> as one of <names>; *<out> is its index. <what> is "one of a, b, c". */
static enum ms_rc
conf_choice(struct conf_ctx *x, const yaml_node_t *n, const char *path, const char *const *names,
	    size_t n_names, const char *what, int *out)
{
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;

	rc = conf_scalar(x, n, path, what, &s, &len);
	if (rc != MS_OK) {
		return rc;
	}
	for (size_t i = 0; i < n_names; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return MS_OK;
		}
	}
	return conf_bad(x, n, path, what);
}

/* What a key value of <f> must look like, for messages. */
const char *
conf_key_what(const struct topo_func *f)
{
	switch (f->key_type) {
	case TOPO_KEY_INT:
		return "an integer -9223372036854775808..9223372036854775807";
	case TOPO_KEY_UINT:
		return "an integer 0..18446744073709551615";
	case TOPO_KEY_STRING:
	default:
		if (f->ci) {
			return "a string of printable ASCII characters (collation ci)";
		}
		return f->kind == TOPO_FUNC_RANGE ? "a string without control characters"
						  : "a string";
	}
}

/* An optional '-' and 1+ decimal digits that fit 64 bits. */
bool
conf_int_text(const char *s, size_t len, bool *neg, uint64_t *u)
{
	size_t i = 0;

	*neg = len > 0 && s[0] == '-';
	*u = 0;
	i = *neg ? 1 : 0;
	if (i == len) {
		return false;
	}
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || *u > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) {
			return false;
		}
		*u = *u * 10 + (uint64_t)(s[i] - '0');
	}
	return true;
}

/* Reads key value <n> for <f> into *<v> (borrowing the document's text). Integer keys take
 * decimal integers (quoted or not), string keys any string. */
static enum ms_rc
conf_key_value(struct conf_ctx *x, const yaml_node_t *n, const char *path,
	       const struct topo_func *f, struct topo_value *v)
{
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;

	memset(v, 0, sizeof(*v));
	rc = conf_scalar(x, n, path, conf_key_what(f), &s, &len);
	if (rc != MS_OK) {
		return rc;
	}
	if (f->key_type == TOPO_KEY_STRING) {
		v->kind = TOPO_VAL_STRING;
		v->str = s;
		v->len = len;
		return MS_OK;
	}
	v->kind = TOPO_VAL_INT;
	if (!conf_int_text(s, len, &v->neg, &v->u)) {
		return conf_bad(x, n, path, conf_key_what(f));
	}
	return MS_OK;
}

/* The keyspace id of range bound <n> under range function <f>. */
static enum ms_rc
conf_bound(struct conf_ctx *x, const yaml_node_t *n, const char *path, const struct topo_func *f,
	   uint64_t *ksid)
{
	struct topo_value v;
	enum ms_rc rc;

	rc = conf_key_value(x, n, path, f, &v);
	if (rc != MS_OK) {
		return rc;
	}
	if (topo_keyspace_id(f, &v, ksid) != TOPO_ROUTE_OK) {
		return conf_bad(x, n, path, conf_key_what(f));
	}
	return MS_OK;
}

/* <path>[<i>].value of a list function: normalized and stored in <e>; noted in <d>. */
static enum ms_rc
conf_list_value(struct conf_ctx *x, const yaml_node_t *n, const char *path,
		const struct topo_func *f, struct topo_list_entry *e)
{
	struct topo_value v;
	size_t cap;
	enum ms_rc rc;

	rc = conf_key_value(x, n, path, f, &v);
	if (rc != MS_OK) {
		return rc;
	}
	cap = v.len > TOPO_KEY_TEXT_MAX ? v.len : TOPO_KEY_TEXT_MAX;
	e->value = malloc(cap + 1); /* + 1: a NUL, so the entry prints as a C string */
	if (e->value == NULL) {
		return conf_oom(x);
	}
	if (topo_key_normalize(f, &v, (uint8_t *)e->value, cap, &e->len) != TOPO_ROUTE_OK) {
		return conf_bad(x, n, path, conf_key_what(f));
	}
	e->value[e->len] = '\0';
	return MS_OK;
}

/* values[<i>] of list function <f>: {value, shard}. */
static enum ms_rc
conf_list_entry(struct conf_ctx *x, const yaml_node_t *map, const char *list, size_t i,
		struct topo_func *f, struct conf_dup *d)
{
	static const char *const keys[] = { "value", "shard" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	char path[CONF_PATH_LEN], sub[CONF_PATH_LEN];
	struct topo_list_entry *e = &f->list[i];
	enum ms_rc rc;

	conf_index(path, sizeof(path), list, i);
	rc = conf_keys(x, map, path, keys, MS_ARRAY_LEN(keys), v);
	for (size_t k = 0; rc == MS_OK && k < MS_ARRAY_LEN(keys); k++) {
		if (v[k] == NULL) {
			rc = conf_missing(x, map, path, keys[k]);
		}
	}
	if (rc == MS_OK) {
		rc = conf_list_value(x, v[0], conf_join(sub, sizeof(sub), path, "value"), f, e);
	}
	if (rc == MS_OK) {
		rc = conf_shard_ref(x, v[1], conf_join(sub, sizeof(sub), path, "shard"), &e->shard);
	}
	if (rc == MS_OK) {
		*d = (struct conf_dup){ .a = e->value,
					.alen = e->len,
					.ord = i,
					.list = list,
					.idx = i,
					.node = v[0] };
	}
	return rc;
}

/* values: of list function <f>: at least one, no two the same after normalization. */
static enum ms_rc
conf_list_values(struct conf_ctx *x, const yaml_node_t *seq, const char *path, struct topo_func *f)
{
	char sub[CONF_PATH_LEN], idx[CONF_PATH_LEN], got[CONF_GOT_LEN], also[CONF_PATH_LEN];
	const struct conf_dup *dup, *first = NULL;
	struct conf_dup *d;
	enum ms_rc rc;
	void *arr;

	rc = conf_array(x, seq, path, "value", sizeof(*f->list), &arr, &f->n_list);
	f->list = arr;
	if (rc != MS_OK) {
		return rc;
	}
	d = calloc(f->n_list, sizeof(*d));
	if (d == NULL) {
		return conf_oom(x);
	}
	for (size_t i = 0; rc == MS_OK && i < f->n_list; i++) {
		rc = conf_list_entry(x, conf_item(x, seq, i), path, i, f, &d[i]);
	}
	dup = rc == MS_OK ? conf_dup_find(d, f->n_list, &first) : NULL;
	if (dup != NULL) {
		conf_index(idx, sizeof(idx), path, dup->idx);
		rc = conf_err(x, conf_line(dup->node), conf_join(sub, sizeof(sub), idx, "value"),
			      "duplicate value %s (%s)",
			      conf_quote((const char *)dup->node->data.scalar.value,
					 dup->node->data.scalar.length, got, sizeof(got)),
			      conf_dup_also(first, also, sizeof(also)));
	}
	free(d);
	return rc;
}

/* A keyspace-id range of a hash function, for the coverage check. */
struct conf_span {
	uint64_t lo, hi;
	size_t idx;       /* index in ranges: */
	const char *spec; /* borrowed: the text as written */
	size_t line;
};

static int
conf_span_cmp(const void *pa, const void *pb)
{
	const struct conf_span *a = pa, *b = pb;

	if (a->lo != b->lo) {
		return a->lo < b->lo ? -1 : 1;
	}
	return a->idx < b->idx ? -1 : (a->idx > b->idx ? 1 : 0);
}

/* ranges[<i>] of hash function <f>: {keyspace, shard}. */
static enum ms_rc
conf_hash_range(struct conf_ctx *x, const yaml_node_t *map, const char *list, size_t i,
		struct topo_func *f, struct conf_span *sp)
{
	static const char *const keys[] = { "keyspace", "shard" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	char path[CONF_PATH_LEN], sub[CONF_PATH_LEN];
	struct topo_krange *r = &f->ranges[i];
	const char *kpath = NULL;
	size_t len = 0;
	enum ms_rc rc;

	conf_index(path, sizeof(path), list, i);
	rc = conf_keys(x, map, path, keys, MS_ARRAY_LEN(keys), v);
	for (size_t k = 0; rc == MS_OK && k < MS_ARRAY_LEN(keys); k++) {
		if (v[k] == NULL) {
			rc = conf_missing(x, map, path, keys[k]);
		}
	}
	if (rc == MS_OK) {
		kpath = conf_join(sub, sizeof(sub), path, "keyspace");
		rc = conf_scalar(x, v[0], kpath, CONF_KSPEC_WANT, &sp->spec, &len);
	}
	if (rc == MS_OK && topo_krange_parse(sp->spec, &r->lo, &r->hi) != MS_OK) {
		rc = conf_bad(x, v[0], kpath, CONF_KSPEC_WANT);
	}
	if (rc == MS_OK) {
		rc = conf_shard_ref(x, v[1], conf_join(sub, sizeof(sub), path, "shard"), &r->shard);
	}
	sp->lo = r->lo;
	sp->hi = r->hi;
	sp->idx = i;
	sp->line = conf_line(map);
	return rc;
}

static enum ms_rc
conf_gap(struct conf_ctx *x, const yaml_node_t *seq, const char *path, uint64_t lo, uint64_t hi)
{
	return conf_err(x, conf_line(seq), path, "keyspace ids %016llx..%016llx belong to no shard",
			(unsigned long long)lo, (unsigned long long)hi);
}

/* The <n> ranges in <sp> must cover every keyspace id exactly once. */
static enum ms_rc
conf_hash_cover(struct conf_ctx *x, const yaml_node_t *seq, const char *path, struct conf_span *sp,
		size_t n)
{
	char sub[CONF_PATH_LEN];
	const struct conf_span *a, *b;
	uint64_t next = 0; /* first id not covered yet */

	qsort(sp, n, sizeof(*sp), conf_span_cmp);
	for (size_t i = 0; i < n; i++) {
		/* sorted and overlap-free so far: sp[i - 1] reaches furthest */
		if (i > 0 && sp[i].lo <= sp[i - 1].hi) {
			a = sp[i - 1].idx < sp[i].idx ? &sp[i - 1] : &sp[i];
			b = a == &sp[i] ? &sp[i - 1] : &sp[i]; /* the later one in the file */
			conf_index(sub, sizeof(sub), path, b->idx);
			return conf_err(x, b->line, sub,
					"keyspace range %s overlaps %s (ranges[%zu])", b->spec,
					a->spec, a->idx);
		}
		if (sp[i].lo != next) {
			return conf_gap(x, seq, path, next, sp[i].lo - 1);
		}
		next = sp[i].hi + 1; /* wraps only for the last range; anything after overlaps */
	}
	if (sp[n - 1].hi != UINT64_MAX) {
		return conf_gap(x, seq, path, next, UINT64_MAX);
	}
	return MS_OK;
}

/* ranges: of hash function <f>: keyspace-id ranges covering the whole space once. */
static enum ms_rc
conf_hash_ranges(struct conf_ctx *x, const yaml_node_t *seq, const char *path, struct topo_func *f)
{
	struct conf_span *sp;
	enum ms_rc rc;
	void *arr;

	rc = conf_array(x, seq, path, "range", sizeof(*f->ranges), &arr, &f->n_ranges);
	f->ranges = arr;
	if (rc != MS_OK) {
		return rc;
	}
	sp = calloc(f->n_ranges, sizeof(*sp));
	if (sp == NULL) {
		return conf_oom(x);
	}
	for (size_t i = 0; rc == MS_OK && i < f->n_ranges; i++) {
		rc = conf_hash_range(x, conf_item(x, seq, i), path, i, f, &sp[i]);
	}
	if (rc == MS_OK) {
		rc = conf_hash_cover(x, seq, path, sp, f->n_ranges);
	}
	free(sp);
	return rc;
}

/* The previous range's to, which the next range's from must repeat. */
struct conf_prev {
	uint64_t ksid;
	const yaml_node_t *node; /* borrowed; NULL before the first range */
	size_t idx;
};

/* Which of from and to ranges[<i>] (of <n>) needs: the first has no from, the last no to. */
static enum ms_rc
conf_range_keys(struct conf_ctx *x, const yaml_node_t *map, const char *path, size_t i, size_t n,
		const yaml_node_t *const *v)
{
	char sub[CONF_PATH_LEN];

	if (i == 0 && v[0] != NULL) {
		return conf_err(x, conf_line(v[0]), conf_join(sub, sizeof(sub), path, "from"),
				"the first range has no from: it starts at the lowest key");
	}
	if (i > 0 && v[0] == NULL) {
		return conf_missing(x, map, path, "from");
	}
	if (i + 1 == n && v[1] != NULL) {
		return conf_err(x, conf_line(v[1]), conf_join(sub, sizeof(sub), path, "to"),
				"the last range has no to: it runs to the highest key");
	}
	if (i + 1 < n && v[1] == NULL) {
		return conf_missing(x, map, path, "to");
	}
	return v[2] == NULL ? conf_missing(x, map, path, "shard") : MS_OK;
}

/* from <n> of a range after the first: the keyspace id where <prev> ended. */
static enum ms_rc
conf_range_from(struct conf_ctx *x, const yaml_node_t *n, const char *path,
		const struct topo_func *f, const struct conf_prev *prev, uint64_t *lo)
{
	char want[CONF_GOT_LEN], got[CONF_GOT_LEN];
	enum ms_rc rc;

	rc = conf_bound(x, n, path, f, lo);
	if (rc != MS_OK || *lo == prev->ksid) {
		return rc;
	}
	return conf_err(x, conf_line(n), path, "must be equal to ranges[%zu].to (%s), got %s",
			prev->idx, conf_text(prev->node, want, sizeof(want)),
			conf_text(n, got, sizeof(got)));
}

/* to <n> of a range starting at keyspace id <lo> (from <from>, NULL for the first range). */
static enum ms_rc
conf_range_to(struct conf_ctx *x, const yaml_node_t *n, const char *path, const struct topo_func *f,
	      const yaml_node_t *from, uint64_t lo, uint64_t *end)
{
	char want[CONF_GOT_LEN], got[CONF_GOT_LEN];
	enum ms_rc rc;

	rc = conf_bound(x, n, path, f, end);
	if (rc != MS_OK || *end > lo) {
		return rc;
	}
	if (from == NULL) {
		return conf_err(x, conf_line(n), path,
				"must be greater than the lowest key, got %s",
				conf_text(n, got, sizeof(got)));
	}
	return conf_err(x, conf_line(n), path, "must be greater than from (%s)%s, got %s",
			conf_text(from, want, sizeof(want)),
			f->key_type == TOPO_KEY_STRING ? " in its first 8 bytes after normalization"
						       : "",
			conf_text(n, got, sizeof(got)));
}

/* ranges[<i>] of range function <f>: {from, to, shard}; <prev> moves on to this range's to. */
static enum ms_rc
conf_range_entry(struct conf_ctx *x, const yaml_node_t *map, const char *list, size_t i,
		 struct topo_func *f, struct conf_prev *prev)
{
	static const char *const keys[] = { "from", "to", "shard" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	char path[CONF_PATH_LEN], sub[CONF_PATH_LEN];
	struct topo_krange *r = &f->ranges[i];
	uint64_t end = 0;
	enum ms_rc rc;

	conf_index(path, sizeof(path), list, i);
	rc = conf_keys(x, map, path, keys, MS_ARRAY_LEN(keys), v);
	if (rc == MS_OK) {
		rc = conf_range_keys(x, map, path, i, f->n_ranges, v);
	}
	r->lo = 0;
	r->hi = UINT64_MAX;
	if (rc == MS_OK && v[0] != NULL) {
		rc = conf_range_from(x, v[0], conf_join(sub, sizeof(sub), path, "from"), f, prev,
				     &r->lo);
	}
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_range_to(x, v[1], conf_join(sub, sizeof(sub), path, "to"), f, v[0], r->lo,
				   &end);
		r->hi = end - 1;
		*prev = (struct conf_prev){ .ksid = end, .node = v[1], .idx = i };
	}
	if (rc == MS_OK) {
		rc = conf_shard_ref(x, v[2], conf_join(sub, sizeof(sub), path, "shard"), &r->shard);
	}
	return rc;
}

/* ranges: of range function <f>: [from, to) key ranges, in order and contiguous. */
static enum ms_rc
conf_range_ranges(struct conf_ctx *x, const yaml_node_t *seq, const char *path, struct topo_func *f)
{
	struct conf_prev prev = { 0 };
	enum ms_rc rc;
	void *arr;

	rc = conf_array(x, seq, path, "range", sizeof(*f->ranges), &arr, &f->n_ranges);
	f->ranges = arr;
	for (size_t i = 0; rc == MS_OK && i < f->n_ranges; i++) {
		rc = conf_range_entry(x, conf_item(x, seq, i), path, i, f, &prev);
	}
	return rc;
}

/* functions[<i>].name: [A-Za-z0-9_-]{1,64}, unique. */
static enum ms_rc
conf_func_name(struct conf_ctx *x, const yaml_node_t *n, const char *path, size_t i)
{
	struct topo_func *fs = x->c->map.funcs;
	char got[CONF_GOT_LEN];
	enum ms_rc rc;

	rc = conf_str(x, n, path, false, &fs[i].name);
	if (rc != MS_OK) {
		return rc;
	}
	if (!conf_is_name(fs[i].name, strlen(fs[i].name))) {
		return conf_bad(x, n, path, CONF_NAME_WANT);
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(fs[j].name, fs[i].name) == 0) {
			return conf_err(x, conf_line(n), path,
					"duplicate function %s (also functions[%zu])",
					conf_text(n, got, sizeof(got)), j);
		}
	}
	return MS_OK;
}

/* kind, key_type and collation of <f>, from <v> (values of the keys conf_func() lists). */
static enum ms_rc
conf_func_type(struct conf_ctx *x, const char *path, const yaml_node_t *const *v,
	       struct topo_func *f)
{
	static const char *const colls[] = { "ci", "bin" };
	char sub[CONF_PATH_LEN];
	const char *cpath;
	int kind = 0, type = 0, coll = 0;
	enum ms_rc rc;

	rc = conf_choice(x, v[1], conf_join(sub, sizeof(sub), path, "kind"), conf_kind_names,
			 MS_ARRAY_LEN(conf_kind_names), "one of hash, range, list", &kind);
	if (rc == MS_OK) {
		rc = conf_choice(x, v[2], conf_join(sub, sizeof(sub), path, "key_type"),
				 conf_type_names, MS_ARRAY_LEN(conf_type_names),
				 "one of int, uint, string", &type);
	}
	f->kind = (enum topo_func_kind)kind;
	f->key_type = (enum topo_key_type)type;
	if (rc != MS_OK || v[3] == NULL) {
		return rc;
	}
	cpath = conf_join(sub, sizeof(sub), path, "collation");
	if (f->key_type != TOPO_KEY_STRING) {
		return conf_err(x, conf_line(v[3]), cpath,
				"only string keys have a collation (key_type is %s)",
				conf_type_names[type]);
	}
	rc = conf_choice(x, v[3], cpath, colls, MS_ARRAY_LEN(colls), "one of ci, bin", &coll);
	f->ci = coll == 0;
	return rc;
}

/* ranges (hash, range) or values (list) of <f>, whichever its kind takes. */
static enum ms_rc
conf_func_body(struct conf_ctx *x, const yaml_node_t *map, const char *path,
	       const yaml_node_t *ranges, const yaml_node_t *values, struct topo_func *f)
{
	char sub[CONF_PATH_LEN];

	if (f->kind == TOPO_FUNC_LIST) {
		if (ranges != NULL) {
			return conf_err(x, conf_line(ranges),
					conf_join(sub, sizeof(sub), path, "ranges"),
					"list functions take values, not ranges");
		}
		if (values == NULL) {
			return conf_missing(x, map, path, "values");
		}
		return conf_list_values(x, values, conf_join(sub, sizeof(sub), path, "values"), f);
	}
	if (values != NULL) {
		return conf_err(x, conf_line(values), conf_join(sub, sizeof(sub), path, "values"),
				"%s functions take ranges, not values", conf_kind_names[f->kind]);
	}
	if (ranges == NULL) {
		return conf_missing(x, map, path, "ranges");
	}
	if (f->kind == TOPO_FUNC_HASH) {
		return conf_hash_ranges(x, ranges, conf_join(sub, sizeof(sub), path, "ranges"), f);
	}
	return conf_range_ranges(x, ranges, conf_join(sub, sizeof(sub), path, "ranges"), f);
}

/* sharding.functions[<i>]. */
static enum ms_rc
conf_func(struct conf_ctx *x, const yaml_node_t *map, size_t i)
{
	static const char *const keys[] = { "name",      "kind",   "key_type",
					    "collation", "ranges", "values" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	char path[CONF_PATH_LEN], sub[CONF_PATH_LEN];
	struct topo_func *f = &x->c->map.funcs[i];
	enum ms_rc rc;

	snprintf(path, sizeof(path), "sharding.functions[%zu]", i);
	rc = conf_keys(x, map, path, keys, MS_ARRAY_LEN(keys), v);
	for (size_t k = 0; rc == MS_OK && k < 3; k++) { /* name, kind, key_type */
		if (v[k] == NULL) {
			rc = conf_missing(x, map, path, keys[k]);
		}
	}
	if (rc == MS_OK) {
		rc = conf_func_name(x, v[0], conf_join(sub, sizeof(sub), path, "name"), i);
	}
	if (rc == MS_OK) {
		rc = conf_func_type(x, path, v, f);
	}
	if (rc == MS_OK) {
		rc = conf_func_body(x, map, path, v[4], v[5], f);
	}
	return rc;
}

enum ms_rc
conf_funcs(struct conf_ctx *x, const yaml_node_t *seq)
{
	struct topo_map *m = &x->c->map;
	enum ms_rc rc;
	void *arr;

	rc = conf_array(x, seq, "sharding.functions", NULL, sizeof(*m->funcs), &arr, &m->n_funcs);
	m->funcs = arr;
	for (size_t i = 0; rc == MS_OK && i < m->n_funcs; i++) {
		rc = conf_func(x, conf_item(x, seq, i), i);
	}
	return rc;
}