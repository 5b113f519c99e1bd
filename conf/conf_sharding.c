/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_sharding.c - the sharding: section: default shard, sequences, sharded and global
 * tables, and the helpers the section's files share (list items, shard references, duplicate
 * detection). The functions themselves are read by conf_func.c. Errors follow conf.c: conf_err()
 * and return at once; conf_free() frees the half-built map.
 */
#include "conf/conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_IDENT_MAX     64u /* MariaDB's limit on table, schema and column names */
#define CONF_BLOCK_MAX     1000000u
#define CONF_BLOCK_DEFAULT 1000u

void
conf_index(char *buf, size_t len, const char *list, size_t i)
{
	if (snprintf(buf, len, "%s[%zu]", list, i) < 0) {
		buf[0] = '\0';
	}
}

size_t
conf_len(const yaml_node_t *seq)
{
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

const yaml_node_t *
conf_item(const struct conf_ctx *x, const yaml_node_t *seq, size_t i)
{
	return conf_node(x, seq->data.sequence.items.start[i]);
}

/* *<out> = the index in shards[] of the shard named by <n>. */
enum ms_rc
conf_shard_ref(struct conf_ctx *x, const yaml_node_t *n, const char *path, size_t *out)
{
	char got[CONF_GOT_LEN];
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;

	rc = conf_scalar(x, n, path, "a shard name", &s, &len);
	if (rc != MS_OK) {
		return rc;
	}
	for (size_t i = 0; i < x->c->n_shards; i++) {
		if (strcmp(x->c->shards[i].name, s) == 0) {
			*out = i;
			return MS_OK;
		}
	}
	return conf_err(x, conf_line(n), path, "unknown shard %s",
			conf_quote(s, len, got, sizeof(got)));
}

/* Checks that <seq> is a list and allocates one zeroed <size>-byte element per item in *<arr>
 * (NULL for an empty list, or when <nonempty> rejects it with "must list at least one <what>"). */
enum ms_rc
conf_array(struct conf_ctx *x, const yaml_node_t *seq, const char *path, const char *what,
	   size_t size, void **arr, size_t *n)
{
	enum ms_rc rc;

	*arr = NULL;
	*n = 0;
	rc = conf_want(x, seq, path, YAML_SEQUENCE_NODE);
	if (rc != MS_OK) {
		return rc;
	}
	if (conf_len(seq) == 0) {
		return what == NULL ? MS_OK
				    : conf_err(x, conf_line(seq), path, "must list at least one %s",
					       what);
	}
	*arr = calloc(conf_len(seq), size);
	if (*arr == NULL) {
		return conf_oom(x);
	}
	*n = conf_len(seq);
	return MS_OK;
}

const char *
conf_text(const yaml_node_t *n, char *buf, size_t len)
{
	return conf_quote((const char *)n->data.scalar.value, n->data.scalar.length, buf, len);
}

/* A name for tables, schemas and columns: 1..64 bytes, copied into *<dst>. */
static enum ms_rc
conf_ident(struct conf_ctx *x, const yaml_node_t *n, const char *path, char **dst)
{
	size_t len;
	enum ms_rc rc;

	rc = conf_str(x, n, path, false, dst);
	if (rc != MS_OK) {
		return rc;
	}
	len = strlen(*dst);
	if (len == 0 || len > CONF_IDENT_MAX) {
		return conf_err(x, conf_line(n), path, "must be 1..%u bytes long, got %zu",
				CONF_IDENT_MAX, len);
	}
	return MS_OK;
}

static int
conf_dup_cmp(const void *pa, const void *pb)
{
	const struct conf_dup *a = pa, *b = pb;
	int c = memcmp(a->a, b->a, a->alen < b->alen ? a->alen : b->alen);

	if (c == 0 && a->alen != b->alen) {
		c = a->alen < b->alen ? -1 : 1;
	}
	if (c == 0 && (a->b == NULL || b->b == NULL)) {
		c = (a->b == NULL) - (b->b == NULL);
	} else if (c == 0) {
		c = strcmp(a->b, b->b);
	}
	if (c == 0) {
		c = a->ord < b->ord ? -1 : (a->ord > b->ord ? 1 : 0);
	}
	return c;
}

/* Sorts <d> and returns the duplicate that comes first in the file (its twin in *<first>), or
 * NULL when every entry is unique. */
const struct conf_dup *
conf_dup_find(struct conf_dup *d, size_t n, const struct conf_dup **first)
{
	const struct conf_dup *best = NULL;

	if (n < 2) {
		return NULL;
	}
	qsort(d, n, sizeof(*d), conf_dup_cmp);
	for (size_t i = 0; i + 1 < n; i++) {
		struct conf_dup *a = &d[i], *b = &d[i + 1];

		if (a->alen != b->alen || memcmp(a->a, b->a, a->alen) != 0 ||
		    (a->b == NULL) != (b->b == NULL) || (a->b != NULL && strcmp(a->b, b->b) != 0)) {
			continue;
		}
		if (best == NULL || b->ord < best->ord) {
			best = b;
			*first = a; /* equal run sorted by ord: <a> is earlier */
		}
	}
	return best;
}

/* "also <list's last part>[<idx>]" for messages: "also values[0]", "also tables[2]". */
const char *
conf_dup_also(const struct conf_dup *d, char *buf, size_t len)
{
	const char *dot = strrchr(d->list, '.');

	snprintf(buf, len, "also %s[%zu]", dot != NULL ? dot + 1 : d->list, d->idx);
	return buf;
}

/* sequences[<i>].name: [A-Za-z0-9_-]{1,64}, unique. */
static enum ms_rc
conf_seq_name(struct conf_ctx *x, const yaml_node_t *n, const char *path, size_t i)
{
	struct topo_sequence *qs = x->c->map.sequences;
	char got[CONF_GOT_LEN];
	enum ms_rc rc;

	rc = conf_str(x, n, path, false, &qs[i].name);
	if (rc != MS_OK) {
		return rc;
	}
	if (!conf_is_name(qs[i].name, strlen(qs[i].name))) {
		return conf_bad(x, n, path, CONF_NAME_WANT);
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(qs[j].name, qs[i].name) == 0) {
			return conf_err(x, conf_line(n), path,
					"duplicate sequence %s (also sequences[%zu])",
					conf_text(n, got, sizeof(got)), j);
		}
	}
	return MS_OK;
}

/* sharding.sequences[<i>]: {name, shard (default: the default shard), block}. */
static enum ms_rc
conf_seq(struct conf_ctx *x, const yaml_node_t *map, size_t i)
{
	static const char *const keys[] = { "name", "shard", "block" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	char path[CONF_PATH_LEN], sub[CONF_PATH_LEN];
	struct topo_sequence *q = &x->c->map.sequences[i];
	unsigned int block = CONF_BLOCK_DEFAULT;
	enum ms_rc rc;

	snprintf(path, sizeof(path), "sharding.sequences[%zu]", i);
	rc = conf_keys(x, map, path, keys, MS_ARRAY_LEN(keys), v);
	if (rc == MS_OK && v[0] == NULL) {
		rc = conf_missing(x, map, path, "name");
	}
	if (rc == MS_OK) {
		rc = conf_seq_name(x, v[0], conf_join(sub, sizeof(sub), path, "name"), i);
	}
	q->shard = x->c->map.default_shard;
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_shard_ref(x, v[1], conf_join(sub, sizeof(sub), path, "shard"), &q->shard);
	}
	if (rc == MS_OK && v[2] != NULL) {
		rc = conf_uint(x, v[2], conf_join(sub, sizeof(sub), path, "block"), 1,
			       CONF_BLOCK_MAX, &block);
	}
	q->block = block;
	return rc;
}

static enum ms_rc
conf_seqs(struct conf_ctx *x, const yaml_node_t *seq)
{
	struct topo_map *m = &x->c->map;
	enum ms_rc rc;
	void *arr;

	rc = conf_array(x, seq, "sharding.sequences", NULL, sizeof(*m->sequences), &arr,
			&m->n_sequences);
	m->sequences = arr;
	for (size_t i = 0; rc == MS_OK && i < m->n_sequences; i++) {
		rc = conf_seq(x, conf_item(x, seq, i), i);
	}
	return rc;
}

/* function <n> of a sharded table: must name one of sharding.functions. */
static enum ms_rc
conf_table_func(struct conf_ctx *x, const yaml_node_t *n, const char *path, struct topo_table *t)
{
	const struct topo_map *m = &x->c->map;
	char got[CONF_GOT_LEN];
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;

	rc = conf_scalar(x, n, path, "a function name", &s, &len);
	for (size_t i = 0; rc == MS_OK && i < m->n_funcs; i++) {
		if (strcmp(m->funcs[i].name, s) == 0) {
			t->func = i;
			return MS_OK;
		}
	}
	return rc != MS_OK ? rc
			   : conf_err(x, conf_line(n), path, "unknown function %s",
				      conf_quote(s, len, got, sizeof(got)));
}

/* sequence <n> of a sharded table: one of sharding.sequences, for an integer key. */
static enum ms_rc
conf_table_seq(struct conf_ctx *x, const yaml_node_t *n, const char *path, struct topo_table *t)
{
	const struct topo_map *m = &x->c->map;
	char got[CONF_GOT_LEN];
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;

	rc = conf_scalar(x, n, path, "a sequence name", &s, &len);
	for (size_t i = 0; rc == MS_OK && i < m->n_sequences; i++) {
		if (strcmp(m->sequences[i].name, s) == 0) {
			t->sequence = (long)i;
			break;
		}
	}
	if (rc != MS_OK) {
		return rc;
	}
	if (t->sequence < 0) {
		return conf_err(x, conf_line(n), path, "unknown sequence %s",
				conf_quote(s, len, got, sizeof(got)));
	}
	if (m->funcs[t->func].key_type == TOPO_KEY_STRING) {
		return conf_err(x, conf_line(n), path,
				"a sequence needs an integer key, but function %s has key_type "
				"string",
				m->funcs[t->func].name);
	}
	return MS_OK;
}

/* tables[<i>] (<sharded>) or global_tables[<i>]: filled into <t>, noted in <d> for duplicates. */
static enum ms_rc
conf_table(struct conf_ctx *x, const yaml_node_t *map, const char *list, size_t i, bool sharded,
	   struct topo_table *t, struct conf_dup *d)
{
	static const char *const keys[] = { "name", "schema", "key", "function", "sequence" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	char path[CONF_PATH_LEN], sub[CONF_PATH_LEN];
	enum ms_rc rc;

	conf_index(path, sizeof(path), list, i);
	t->kind = sharded ? TOPO_TABLE_SHARDED : TOPO_TABLE_GLOBAL;
	t->sequence = -1;
	rc = conf_keys(x, map, path, keys, sharded ? MS_ARRAY_LEN(keys) : 2, v);
	for (size_t k = 0; rc == MS_OK && k < (sharded ? 4u : 1u); k++) {
		if (v[k] == NULL && k != 1) { /* name, key, function; schema is optional */
			rc = conf_missing(x, map, path, keys[k]);
		}
	}
	if (rc == MS_OK) {
		rc = conf_ident(x, v[0], conf_join(sub, sizeof(sub), path, "name"), &t->name);
	}
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_ident(x, v[1], conf_join(sub, sizeof(sub), path, "schema"), &t->schema);
	}
	if (rc == MS_OK && sharded) {
		rc = conf_ident(x, v[2], conf_join(sub, sizeof(sub), path, "key"), &t->key);
	}
	if (rc == MS_OK && sharded) {
		rc = conf_table_func(x, v[3], conf_join(sub, sizeof(sub), path, "function"), t);
	}
	if (rc == MS_OK && sharded && v[4] != NULL) {
		rc = conf_table_seq(x, v[4], conf_join(sub, sizeof(sub), path, "sequence"), t);
	}
	if (rc == MS_OK) {
		*d = (struct conf_dup){ .a = t->name,
					.alen = strlen(t->name),
					.b = t->schema,
					.list = list,
					.idx = i,
					.node = v[0] };
	}
	return rc;
}

/* "duplicate table "<schema>.<name>" (also <where>)" about <dup>, the twin of <first>. */
static enum ms_rc
conf_table_dup(struct conf_ctx *x, const struct conf_dup *dup, const struct conf_dup *first)
{
	char path[CONF_PATH_LEN], name[2 * CONF_IDENT_MAX + 2], got[CONF_GOT_LEN];
	char also[CONF_PATH_LEN], idx[CONF_PATH_LEN];

	conf_index(idx, sizeof(idx), dup->list, dup->idx);
	snprintf(name, sizeof(name), "%s%s%s", dup->b != NULL ? dup->b : "",
		 dup->b != NULL ? "." : "", dup->a);
	return conf_err(x, conf_line(dup->node), conf_join(path, sizeof(path), idx, "name"),
			"duplicate table %s (%s)", conf_quote(name, strlen(name), got, sizeof(got)),
			conf_dup_also(first, also, sizeof(also)));
}

static enum ms_rc
conf_list_count(struct conf_ctx *x, const yaml_node_t *seq, const char *path, size_t *n)
{
	*n = 0;
	if (seq == NULL) {
		return MS_OK;
	}
	*n = seq->type == YAML_SEQUENCE_NODE ? conf_len(seq) : 0;
	return conf_want(x, seq, path, YAML_SEQUENCE_NODE);
}

/* tables: and global_tables: together; no (schema, name) may appear twice in either. */
static enum ms_rc
conf_tables(struct conf_ctx *x, const yaml_node_t *tabs, const yaml_node_t *globals)
{
	static const char *const lists[] = { "sharding.tables", "sharding.global_tables" };
	struct topo_map *m = &x->c->map;
	const struct conf_dup *dup, *first = NULL;
	struct conf_dup *d;
	size_t n1 = 0, n2 = 0;
	enum ms_rc rc;

	rc = conf_list_count(x, tabs, lists[0], &n1);
	if (rc == MS_OK) {
		rc = conf_list_count(x, globals, lists[1], &n2);
	}
	if (rc != MS_OK || n1 + n2 == 0) {
		return rc;
	}
	m->tables = calloc(n1 + n2, sizeof(*m->tables));
	d = calloc(n1 + n2, sizeof(*d));
	if (m->tables == NULL || d == NULL) {
		free(d);
		return conf_oom(x);
	}
	m->n_tables = n1 + n2;
	for (size_t i = 0; rc == MS_OK && i < n1 + n2; i++) {
		bool sh = i < n1;

		rc = conf_table(x, conf_item(x, sh ? tabs : globals, sh ? i : i - n1), lists[!sh],
				sh ? i : i - n1, sh, &m->tables[i], &d[i]);
		d[i].ord = i;
	}
	dup = rc == MS_OK ? conf_dup_find(d, n1 + n2, &first) : NULL;
	if (dup != NULL) {
		rc = conf_table_dup(x, dup, first);
	}
	free(d);
	return rc;
}

enum ms_rc
conf_sharding(struct conf_ctx *x, const yaml_node_t *map)
{
	static const char *const keys[] = { "default_shard", "functions", "tables", "global_tables",
					    "sequences" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	enum ms_rc rc;

	rc = conf_keys(x, map, "sharding", keys, MS_ARRAY_LEN(keys), v);
	if (rc == MS_OK && v[0] != NULL) {
		rc = conf_shard_ref(x, v[0], "sharding.default_shard", &x->c->map.default_shard);
	}
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_funcs(x, v[1]);
	}
	if (rc == MS_OK && v[4] != NULL) {
		rc = conf_seqs(x, v[4]);
	}
	if (rc == MS_OK) {
		rc = conf_tables(x, v[2], v[3]);
	}
	if (rc == MS_OK) {
		topo_map_sort(&x->c->map);
	}
	return rc;
}
