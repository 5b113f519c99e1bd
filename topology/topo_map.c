/* SPDX-License-Identifier: Apache-2.0 */
/*
 * topology/topo_map.c - the sharding functions (key -> keyspace id -> shard), table lookup and
 * the map's lifetime (deinit, deep copy, sort). Routing never allocates: a string key is read
 * in place through a struct topo_nkey that trims and case-folds on the fly. The definitions are
 * pinned by docs/sharding.md and the known-answer tests; do not change an output.
 */
#include "topology/topo_map.h"

#include "common/ms_sha1.h"

#include <stdlib.h>
#include <string.h>

#define TOPO_INT_SIGN 0x8000000000000000ull /* flips int64 order into uint64 order */
#define TOPO_NKEY_BUF 24                    /* >= 8 and >= TOPO_KEY_TEXT_MAX */

/* A key value reduced to the bytes the functions see. Strings are not copied: <p> points into
 * the caller's literal and <upper> folds a-z while reading. */
struct topo_nkey {
	const uint8_t *p; /* borrowed: the literal's bytes, or <buf> */
	size_t len;
	bool upper; /* read a-z as A-Z */
	uint8_t buf[TOPO_NKEY_BUF];
};

static uint8_t
topo_nkey_byte(const struct topo_nkey *k, size_t i)
{
	uint8_t b = k->p[i];

	return k->upper && b >= 'a' && b <= 'z' ? (uint8_t)(b - 'a' + 'A') : b;
}

static void
topo_be64_put(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
topo_be64_get(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		v = v << 8 | in[i];
	}
	return v;
}

/*
 * Parses <s> (<len> bytes) as an optional sign and 1+ decimal digits, nothing else, with a
 * magnitude of at most TOPO_KEY_STRING_INT_MAX. False for anything else.
 */
static bool
topo_text_int(const char *s, size_t len, bool *neg, uint64_t *u)
{
	size_t i = 0;

	*neg = false;
	*u = 0;
	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		*neg = s[0] == '-';
		i = 1;
	}
	if (i == len) {
		return false;
	}
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		*u = *u * 10 + (uint64_t)(s[i] - '0');
		if (*u > TOPO_KEY_STRING_INT_MAX) {
			return false;
		}
	}
	return true;
}

/* The 8 big-endian bytes of integer <neg>/<u> for an INT or UINT key; -0 is 0. */
static enum topo_route_rc
topo_nkey_int(const struct topo_func *f, bool neg, uint64_t u, struct topo_nkey *k)
{
	uint64_t bits;

	if (neg && u != 0) {
		if (f->key_type == TOPO_KEY_UINT || u > TOPO_INT_SIGN) {
			return TOPO_ROUTE_UNPROVABLE;
		}
		bits = ~u + 1; /* two's complement of the magnitude */
	} else {
		if (f->key_type == TOPO_KEY_INT && u >= TOPO_INT_SIGN) {
			return TOPO_ROUTE_UNPROVABLE;
		}
		bits = u;
	}
	topo_be64_put(bits, k->buf);
	k->p = k->buf;
	k->len = 8;
	return TOPO_ROUTE_OK;
}

/* The decimal text of integer literal <neg>/<u> for a string key: "-42", "0" (never "-0"). */
static void
topo_nkey_text(bool neg, uint64_t u, struct topo_nkey *k)
{
	char tmp[TOPO_KEY_TEXT_MAX];
	size_t n = 0, o = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (neg && !(n == 1 && tmp[0] == '0')) {
		k->buf[o++] = '-';
	}
	while (n > 0) {
		k->buf[o++] = (uint8_t)tmp[--n];
	}
	k->p = k->buf;
	k->len = o;
}

/*
 * A string literal for a string key: trailing spaces dropped (PAD SPACE), then the bytes the
 * server may compare unlike their value refused: under ci every byte < 0x20 or >= 0x7f (no
 * Unicode folding; UCA ignores control characters), in a RANGE function every byte < 0x20.
 */
static enum topo_route_rc
topo_nkey_str(const struct topo_func *f, const char *s, size_t len, struct topo_nkey *k)
{
	while (len > 0 && s[len - 1] == ' ') {
		len--;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)s[i];

		if (f->ci && (b < 0x20 || b >= 0x7f)) {
			return TOPO_ROUTE_UNPROVABLE;
		}
		if (f->kind == TOPO_FUNC_RANGE && b < 0x20) {
			return TOPO_ROUTE_UNPROVABLE;
		}
	}
	k->p = (const uint8_t *)s;
	k->len = len;
	k->upper = f->ci;
	return TOPO_ROUTE_OK;
}

static enum topo_route_rc
topo_nkey_make(const struct topo_func *f, const struct topo_value *v, struct topo_nkey *k)
{
	bool neg;
	uint64_t u;

	k->upper = false;
	switch (v->kind) {
	case TOPO_VAL_NULL:
		return TOPO_ROUTE_NULL;
	case TOPO_VAL_INT:
		if (f->key_type == TOPO_KEY_STRING) {
			topo_nkey_text(v->neg, v->u, k);
			return TOPO_ROUTE_OK;
		}
		return topo_nkey_int(f, v->neg, v->u, k);
	case TOPO_VAL_STRING:
		if (f->key_type == TOPO_KEY_STRING) {
			return topo_nkey_str(f, v->str, v->len, k);
		}
		if (!topo_text_int(v->str, v->len, &neg, &u)) {
			return TOPO_ROUTE_UNPROVABLE;
		}
		return topo_nkey_int(f, neg, u, k);
	case TOPO_VAL_OTHER:
	default:
		return TOPO_ROUTE_UNPROVABLE;
	}
}

enum topo_route_rc
topo_key_normalize(const struct topo_func *f, const struct topo_value *v, uint8_t *buf, size_t cap,
		   size_t *len)
{
	struct topo_nkey k;
	enum topo_route_rc rc;

	*len = 0;
	rc = topo_nkey_make(f, v, &k);
	if (rc != TOPO_ROUTE_OK) {
		return rc;
	}
	if (cap < k.len) {
		return TOPO_ROUTE_UNPROVABLE;
	}
	for (size_t i = 0; i < k.len; i++) {
		buf[i] = topo_nkey_byte(&k, i);
	}
	*len = k.len;
	return TOPO_ROUTE_OK;
}

/* hash: the first 8 bytes of SHA-1(normalized key), big-endian; fed in chunks, no copy. */
static uint64_t
topo_ksid_hash(const struct topo_nkey *k)
{
	uint8_t chunk[64], digest[MS_SHA1_LEN];
	struct ms_sha1 ctx;
	size_t n;

	ms_sha1_init(&ctx);
	for (size_t off = 0; off < k->len; off += n) {
		n = k->len - off < sizeof(chunk) ? k->len - off : sizeof(chunk);
		for (size_t i = 0; i < n; i++) {
			chunk[i] = topo_nkey_byte(k, off + i);
		}
		ms_sha1_update(&ctx, chunk, n);
	}
	ms_sha1_final(&ctx, digest);
	return topo_be64_get(digest);
}

/* range: order-preserving; INT flips the sign bit, strings keep their first 8 bytes. */
static uint64_t
topo_ksid_range(const struct topo_func *f, const struct topo_nkey *k)
{
	uint8_t b[8] = { 0 };

	for (size_t i = 0; i < 8 && i < k->len; i++) {
		b[i] = topo_nkey_byte(k, i);
	}
	return topo_be64_get(b) ^ (f->key_type == TOPO_KEY_INT ? TOPO_INT_SIGN : 0);
}

enum topo_route_rc
topo_keyspace_id(const struct topo_func *f, const struct topo_value *v, uint64_t *ksid)
{
	struct topo_nkey k;
	enum topo_route_rc rc;

	*ksid = 0;
	if (f->kind != TOPO_FUNC_HASH && f->kind != TOPO_FUNC_RANGE) {
		return TOPO_ROUTE_UNPROVABLE;
	}
	rc = topo_nkey_make(f, v, &k);
	if (rc != TOPO_ROUTE_OK) {
		return rc;
	}
	*ksid = f->kind == TOPO_FUNC_HASH ? topo_ksid_hash(&k) : topo_ksid_range(f, &k);
	return TOPO_ROUTE_OK;
}

/* Index of the range of <f> holding <ksid>, or -1 (no ranges, or a map that leaves a gap). */
static long
topo_krange_find(const struct topo_func *f, uint64_t ksid)
{
	size_t lo = 0, hi = f->n_ranges, mid;

	/* the last range with ranges[i].lo <= ksid */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (f->ranges[mid].lo <= ksid) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	if (f->n_ranges == 0 || f->ranges[lo].lo > ksid || f->ranges[lo].hi < ksid) {
		return -1;
	}
	return (long)lo;
}

/* Orders list entry <e> against key <k>: by length, then bytes. */
static int
topo_list_cmp(const struct topo_list_entry *e, const struct topo_nkey *k)
{
	if (e->len != k->len) {
		return e->len < k->len ? -1 : 1;
	}
	for (size_t i = 0; i < e->len; i++) {
		uint8_t a = (uint8_t)e->value[i], b = topo_nkey_byte(k, i);

		if (a != b) {
			return a < b ? -1 : 1;
		}
	}
	return 0;
}

static enum topo_route_rc
topo_list_route(const struct topo_func *f, const struct topo_nkey *k, size_t *shard)
{
	size_t lo = 0, hi = f->n_list, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = topo_list_cmp(&f->list[mid], k);
		if (c == 0) {
			*shard = f->list[mid].shard;
			return TOPO_ROUTE_OK;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return TOPO_ROUTE_UNPROVABLE;
}

enum topo_route_rc
topo_route_value(const struct topo_func *f, const struct topo_value *v, size_t *shard)
{
	struct topo_nkey k;
	enum topo_route_rc rc;
	uint64_t ksid;
	long i;

	*shard = 0;
	if (f->kind == TOPO_FUNC_LIST) {
		rc = topo_nkey_make(f, v, &k);
		return rc == TOPO_ROUTE_OK ? topo_list_route(f, &k, shard) : rc;
	}
	rc = topo_keyspace_id(f, v, &ksid);
	if (rc != TOPO_ROUTE_OK) {
		return rc;
	}
	i = topo_krange_find(f, ksid);
	if (i < 0) {
		return TOPO_ROUTE_UNPROVABLE;
	}
	*shard = f->ranges[i].shard;
	return TOPO_ROUTE_OK;
}

/* The keyspace id of bound <v>, or <open> when <v> is NULL (an open end). */
static enum topo_route_rc
topo_bound(const struct topo_func *f, const struct topo_value *v, uint64_t open, uint64_t *ksid)
{
	if (v == NULL) {
		*ksid = open;
		return TOPO_ROUTE_OK;
	}
	return topo_keyspace_id(f, v, ksid);
}

enum topo_route_rc
topo_route_between(const struct topo_func *f, const struct topo_value *lo,
		   const struct topo_value *hi, struct topo_shardset *set)
{
	uint64_t a, b;
	enum topo_route_rc rc;
	long i;

	if (f->kind != TOPO_FUNC_RANGE) {
		return TOPO_ROUTE_UNPROVABLE;
	}
	rc = topo_bound(f, lo, 0, &a);
	if (rc == TOPO_ROUTE_OK) {
		rc = topo_bound(f, hi, UINT64_MAX, &b);
	}
	if (rc != TOPO_ROUTE_OK) {
		return rc; /* NULL bound: the predicate matches no row */
	}
	if (a > b) {
		return TOPO_ROUTE_OK;
	}
	i = topo_krange_find(f, a);
	if (i < 0) {
		return TOPO_ROUTE_UNPROVABLE;
	}
	for (size_t j = (size_t)i; j < f->n_ranges && f->ranges[j].lo <= b; j++) {
		topo_shardset_add(set, f->ranges[j].shard);
	}
	return TOPO_ROUTE_OK;
}

void
topo_func_shards(const struct topo_func *f, struct topo_shardset *set)
{
	for (size_t i = 0; i < f->n_ranges; i++) {
		topo_shardset_add(set, f->ranges[i].shard);
	}
	for (size_t i = 0; i < f->n_list; i++) {
		topo_shardset_add(set, f->list[i].shard);
	}
}

size_t
topo_shardset_count(const struct topo_shardset *s)
{
	size_t n = 0;

	for (size_t i = 0; i < MS_ARRAY_LEN(s->bits); i++) {
		n += (size_t)__builtin_popcountll(s->bits[i]);
	}
	return n;
}

/* Byte order of <a> (NUL-terminated) against <b>/<blen>; a proper prefix sorts first. */
static int
topo_name_cmp(const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a);
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0) {
		return c;
	}
	return alen == blen ? 0 : (alen < blen ? -1 : 1);
}

/* Index of the first table called <name>/<len> or, if none, where it would go. */
static size_t
topo_table_lower(const struct topo_map *m, const char *name, size_t len)
{
	size_t lo = 0, hi = m->n_tables, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (topo_name_cmp(m->tables[mid].name, name, len) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

const struct topo_table *
topo_table_find(const struct topo_map *m, const char *schema, size_t schema_len, const char *name,
		size_t name_len)
{
	const struct topo_table *t, *any = NULL;

	if (schema == NULL) {
		schema_len = 0;
	}
	for (size_t i = topo_table_lower(m, name, name_len); i < m->n_tables; i++) {
		t = &m->tables[i];
		if (topo_name_cmp(t->name, name, name_len) != 0) {
			break;
		}
		if (t->schema == NULL) {
			any = t; /* sorts after every schema-qualified entry of the name */
		} else if (schema_len > 0 && topo_name_cmp(t->schema, schema, schema_len) == 0) {
			return t;
		}
	}
	return any;
}

bool
topo_table_name_known(const struct topo_map *m, const char *name, size_t name_len)
{
	size_t i = topo_table_lower(m, name, name_len);

	return i < m->n_tables && topo_name_cmp(m->tables[i].name, name, name_len) == 0;
}

static int
topo_hex(char ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f') {
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F') {
		return ch - 'A' + 10;
	}
	return -1;
}

/* <len> hex digits at <s> as the leading bytes of a keyspace id: even count, at most 16. */
static bool
topo_kbound(const char *s, size_t len, uint64_t *v)
{
	int d;

	*v = 0;
	if (len % 2 != 0 || len > 16) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		d = topo_hex(s[i]);
		if (d < 0) {
			return false;
		}
		*v |= (uint64_t)d << (60 - 4 * i);
	}
	return true;
}

enum ms_rc
topo_krange_parse(const char *spec, uint64_t *lo, uint64_t *hi)
{
	const char *dash = strchr(spec, '-');
	size_t rlen;
	uint64_t end;

	*lo = 0;
	*hi = 0;
	if (dash == NULL || strchr(dash + 1, '-') != NULL) {
		return MS_EINVAL;
	}
	rlen = strlen(dash + 1);
	if (!topo_kbound(spec, (size_t)(dash - spec), lo) || !topo_kbound(dash + 1, rlen, &end)) {
		*lo = 0;
		return MS_EINVAL;
	}
	if (rlen == 0) {
		*hi = UINT64_MAX; /* open end */
		return MS_OK;
	}
	if (*lo >= end) {
		*lo = 0;
		return MS_EINVAL;
	}
	*hi = end - 1;
	return MS_OK;
}

static void
topo_func_deinit(struct topo_func *f)
{
	free(f->name);
	free(f->ranges);
	for (size_t i = 0; i < f->n_list; i++) {
		free(f->list[i].value);
	}
	free(f->list);
}

void
topo_map_deinit(struct topo_map *m)
{
	for (size_t i = 0; i < m->n_funcs; i++) {
		topo_func_deinit(&m->funcs[i]);
	}
	for (size_t i = 0; i < m->n_tables; i++) {
		free(m->tables[i].schema);
		free(m->tables[i].name);
		free(m->tables[i].key);
	}
	for (size_t i = 0; i < m->n_sequences; i++) {
		free(m->sequences[i].name);
	}
	free(m->funcs);
	free(m->tables);
	free(m->sequences);
	memset(m, 0, sizeof(*m));
}

/* A copy of <n> bytes of <src> (NULL stays NULL), plus a NUL; false when out of memory. */
static bool
topo_dup(const char *src, size_t n, char **dst)
{
	*dst = NULL;
	if (src == NULL) {
		return true;
	}
	*dst = malloc(n + 1);
	if (*dst == NULL) {
		return false;
	}
	memcpy(*dst, src, n);
	(*dst)[n] = '\0';
	return true;
}

static bool
topo_sdup(const char *src, char **dst)
{
	return topo_dup(src, src != NULL ? strlen(src) : 0, dst);
}

/* Copies <n> elements of <size> bytes (a zero-length array stays NULL). */
static bool
topo_memdup(const void *src, size_t n, size_t size, void **dst)
{
	*dst = NULL;
	if (n == 0) {
		return true;
	}
	*dst = malloc(n * size);
	if (*dst == NULL) {
		return false;
	}
	memcpy(*dst, src, n * size);
	return true;
}

/* Deep copy of function <s> into <d>, which owns nothing yet; on failure <d> owns what it got. */
static bool
topo_func_clone(const struct topo_func *s, struct topo_func *d)
{
	void *p;

	*d = *s;
	d->name = NULL;
	d->ranges = NULL;
	d->list = NULL;
	d->n_list = 0;
	if (!topo_sdup(s->name, &d->name) ||
	    !topo_memdup(s->ranges, s->n_ranges, sizeof(*s->ranges), &p)) {
		return false;
	}
	d->ranges = p;
	if (s->n_list == 0) {
		return true;
	}
	d->list = calloc(s->n_list, sizeof(*d->list));
	if (d->list == NULL) {
		return false;
	}
	d->n_list = s->n_list;
	for (size_t i = 0; i < s->n_list; i++) {
		d->list[i] = s->list[i];
		if (!topo_dup(s->list[i].value, s->list[i].len, &d->list[i].value)) {
			return false;
		}
	}
	return true;
}

static bool
topo_tables_clone(const struct topo_map *src, struct topo_map *dst)
{
	const struct topo_table *s;
	struct topo_table *d;

	if (src->n_tables == 0) {
		return true;
	}
	dst->tables = calloc(src->n_tables, sizeof(*dst->tables));
	if (dst->tables == NULL) {
		return false;
	}
	dst->n_tables = src->n_tables;
	for (size_t i = 0; i < src->n_tables; i++) {
		s = &src->tables[i];
		d = &dst->tables[i];
		*d = *s;
		d->schema = d->name = d->key = NULL;
		if (!topo_sdup(s->schema, &d->schema) || !topo_sdup(s->name, &d->name) ||
		    !topo_sdup(s->key, &d->key)) {
			return false;
		}
	}
	return true;
}

static bool
topo_sequences_clone(const struct topo_map *src, struct topo_map *dst)
{
	if (src->n_sequences == 0) {
		return true;
	}
	dst->sequences = calloc(src->n_sequences, sizeof(*dst->sequences));
	if (dst->sequences == NULL) {
		return false;
	}
	dst->n_sequences = src->n_sequences;
	for (size_t i = 0; i < src->n_sequences; i++) {
		dst->sequences[i] = src->sequences[i];
		dst->sequences[i].name = NULL;
		if (!topo_sdup(src->sequences[i].name, &dst->sequences[i].name)) {
			return false;
		}
	}
	return true;
}

enum ms_rc
topo_map_clone(const struct topo_map *src, struct topo_map *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->default_shard = src->default_shard;
	if (src->n_funcs > 0) {
		dst->funcs = calloc(src->n_funcs, sizeof(*dst->funcs));
		if (dst->funcs == NULL) {
			goto fail;
		}
		dst->n_funcs = src->n_funcs;
	}
	for (size_t i = 0; i < src->n_funcs; i++) {
		if (!topo_func_clone(&src->funcs[i], &dst->funcs[i])) {
			goto fail;
		}
	}
	if (!topo_tables_clone(src, dst) || !topo_sequences_clone(src, dst)) {
		goto fail;
	}
	return MS_OK;
fail:
	topo_map_deinit(dst);
	return MS_ENOMEM;
}

static int
topo_table_sort_cmp(const void *pa, const void *pb)
{
	const struct topo_table *a = pa, *b = pb;
	int c = topo_name_cmp(a->name, b->name, strlen(b->name));

	if (c != 0) {
		return c;
	}
	if (a->schema == NULL || b->schema == NULL) {
		return (a->schema == NULL) - (b->schema == NULL); /* schema-less last */
	}
	return topo_name_cmp(a->schema, b->schema, strlen(b->schema));
}

static int
topo_list_sort_cmp(const void *pa, const void *pb)
{
	const struct topo_list_entry *a = pa, *b = pb;

	if (a->len != b->len) {
		return a->len < b->len ? -1 : 1;
	}
	return a->len == 0 ? 0 : memcmp(a->value, b->value, a->len);
}

static int
topo_krange_sort_cmp(const void *pa, const void *pb)
{
	const struct topo_krange *a = pa, *b = pb;

	return a->lo == b->lo ? 0 : (a->lo < b->lo ? -1 : 1);
}

void
topo_map_sort(struct topo_map *m)
{
	if (m->n_tables > 1) {
		qsort(m->tables, m->n_tables, sizeof(*m->tables), topo_table_sort_cmp);
	}
	for (size_t i = 0; i < m->n_funcs; i++) {
		struct topo_func *f = &m->funcs[i];

		if (f->n_list > 1) {
			qsort(f->list, f->n_list, sizeof(*f->list), topo_list_sort_cmp);
		}
		if (f->n_ranges > 1) {
			qsort(f->ranges, f->n_ranges, sizeof(*f->ranges), topo_krange_sort_cmp);
		}
	}
}
