/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_store_import.c - cs_import(): a loaded YAML config written into the staged tables.
 * The map only keeps normalized values and keyspace ids, so bounds and list values are written
 * back as text that normalizes to the same bytes (the decimal of an integer key, the first 8
 * bytes of a string bound): cs_build() over the result gives the same map.
 */
#include "conf/conf_store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CS_SIGN     0x8000000000000000ull /* INT range keys flip it: see topo_ksid_range() */
#define CS_TEXT_LEN 32                    /* an integer key, or 8 string bytes and a '!' */

/* Inserts one row: ?1..?<n> are <vals> (NULL: SQL NULL) of <lens> bytes (NULL: strlen). */
static enum ms_rc
cs_put(struct conf_store *cs, const char *sql, size_t n, const char *const *vals,
       const size_t *lens, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;
	int code = SQLITE_OK;

	rc = cs_prep(cs, sql, &st, err, errlen);
	for (size_t i = 0; rc == MS_OK && code == SQLITE_OK && i < n; i++) {
		code = vals[i] == NULL
			       ? sqlite3_bind_null(st, (int)i + 1)
			       : sqlite3_bind_text(st, (int)i + 1, vals[i],
						   lens != NULL ? (int)lens[i] : -1, SQLITE_STATIC);
	}
	if (rc == MS_OK && (code != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)) {
		rc = cs_sql_fail(cs, "staged tables", err, errlen);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The shard name for index <i> of <c>, or NULL if <c> has no such shard. */
static const char *
cs_shard_name(const struct conf *c, size_t i)
{
	return i < c->n_shards ? c->shards[i].name : NULL;
}

static enum ms_rc
cs_bad_index(char *err, size_t errlen, const char *what)
{
	return cs_errf(MS_EINVAL, err, errlen, "import: %s names a shard the config lacks", what);
}

static enum ms_rc
cs_put_shards(struct conf_store *cs, const struct conf *c, char *err, size_t errlen)
{
	enum ms_rc rc = MS_OK;
	char port[8];

	for (size_t i = 0; rc == MS_OK && i < c->n_shards; i++) {
		const struct conf_shard *s = &c->shards[i];
		const char *sv[] = { s->name, s->user, s->password != NULL ? s->password : "" };
		const char *ev[] = { s->name, s->host, port };

		snprintf(port, sizeof(port), "%u", s->port);
		rc = cs_put(cs, "INSERT INTO shards VALUES (?1, ?2, ?3)", 3, sv, NULL, err, errlen);
		if (rc == MS_OK) {
			rc = cs_put(cs,
				    "INSERT INTO endpoints VALUES (?1, ?2, ?3, 'primary', 1, 'up')",
				    3, ev, NULL, err, errlen);
		}
		for (size_t k = 0; rc == MS_OK && k < s->n_replicas; k++) {
			char weight[16];
			const char *rv[] = { s->name, s->replicas[k].host, port, weight };

			snprintf(port, sizeof(port), "%u", s->replicas[k].port);
			snprintf(weight, sizeof(weight), "%u", s->replicas[k].weight);
			rc = cs_put(cs,
				    "INSERT INTO endpoints VALUES (?1, ?2, ?3, 'replica', ?4, 'up')",
				    4, rv, NULL, err, errlen);
		}
	}
	return rc;
}

static enum ms_rc
cs_put_users(struct conf_store *cs, const struct conf *c, char *err, size_t errlen)
{
	static const char hex[] = "0123456789ABCDEF";
	char hash[CS_NATIVE_HASH_SIZE];
	enum ms_rc rc = MS_OK;

	for (size_t i = 0; rc == MS_OK && i < c->n_users; i++) {
		const struct conf_user *u = &c->users[i];
		const char *v[] = { u->name, hash, u->require_ssl ? "1" : "0" };

		hash[0] = '\0';
		for (size_t k = 0; !u->empty_password && k < MS_SHA1_LEN; k++) {
			hash[0] = '*';
			hash[1 + 2 * k] = hex[u->native_stored[k] >> 4];
			hash[2 + 2 * k] = hex[u->native_stored[k] & 0xf];
			hash[3 + 2 * k] = '\0';
		}
		rc = cs_put(cs, "INSERT INTO users (name, password_hash, require_ssl) VALUES (?1, ?2, ?3)",
			    3, v, NULL, err, errlen);
	}
	return rc;
}

/* Keyspace id <v> (not 0) as the leading bytes a spec names: "80", "4000", "0123". */
static void
cs_kbound(uint64_t v, char *out)
{
	size_t n = 16;

	snprintf(out, 17, "%016" PRIx64, v);
	while (n > 2 && out[n - 1] == '0' && out[n - 2] == '0') {
		n -= 2;
	}
	out[n] = '\0';
}

/* [lo, hi] as a spec: "-80", "80-", "40-80", "-". */
static void
cs_kspec(const struct topo_krange *r, char out[40])
{
	char lo[17] = "", hi[17] = "";

	if (r->lo != 0) {
		cs_kbound(r->lo, lo);
	}
	if (r->hi != UINT64_MAX) {
		cs_kbound(r->hi + 1, hi);
	}
	snprintf(out, 40, "%s-%s", lo, hi);
}

/*
 * Text for range bound <ksid> of <f>: the integer for int/uint keys; for strings the 8 bytes
 * without the zero padding, and a '!' after them when they end in a space, which would be
 * trimmed otherwise (only the first 8 bytes count, so the '!' changes nothing).
 */
static void
cs_bound_text(const struct topo_func *f, uint64_t ksid, char out[CS_TEXT_LEN])
{
	size_t n = 8;

	if (f->key_type == TOPO_KEY_INT) {
		snprintf(out, CS_TEXT_LEN, "%" PRId64, (int64_t)(ksid ^ CS_SIGN));
		return;
	}
	if (f->key_type == TOPO_KEY_UINT) {
		snprintf(out, CS_TEXT_LEN, "%" PRIu64, ksid);
		return;
	}
	for (size_t i = 0; i < 8; i++) {
		out[i] = (char)(ksid >> (56 - 8 * i));
	}
	while (n > 0 && out[n - 1] == '\0') {
		n--;
	}
	if (n > 0 && out[n - 1] == ' ') {
		out[n++] = '!';
	}
	out[n] = '\0';
}

static enum ms_rc
cs_put_ranges(struct conf_store *cs, const struct conf *c, const struct topo_func *f, char *err,
	      size_t errlen)
{
	char spec[40], from[CS_TEXT_LEN], to[CS_TEXT_LEN];
	enum ms_rc rc = MS_OK;

	for (size_t i = 0; rc == MS_OK && i < f->n_ranges; i++) {
		const struct topo_krange *r = &f->ranges[i];
		const char *v[] = { f->name, NULL, NULL, NULL, cs_shard_name(c, r->shard) };

		if (f->kind == TOPO_FUNC_HASH) {
			cs_kspec(r, spec);
			v[1] = spec;
		} else {
			cs_bound_text(f, r->lo, from);
			cs_bound_text(f, r->hi + 1, to);
			v[2] = i > 0 ? from : NULL; /* ranges are sorted: the first starts at 0 */
			v[3] = i + 1 < f->n_ranges ? to : NULL;
		}
		rc = v[4] == NULL
			     ? cs_bad_index(err, errlen, f->name)
			     : cs_put(cs, "INSERT INTO function_ranges VALUES (?1, ?2, ?3, ?4, ?5)",
				      5, v, NULL, err, errlen);
	}
	return rc;
}

/* List value <e> of <f> as text: integers from their 8 big-endian bytes, strings as stored. */
static enum ms_rc
cs_put_value(struct conf_store *cs, const struct conf *c, const struct topo_func *f,
	     const struct topo_list_entry *e, char *err, size_t errlen)
{
	const char *v[] = { f->name, e->value, cs_shard_name(c, e->shard) };
	size_t lens[] = { strlen(f->name), e->len, 0 };
	char num[CS_TEXT_LEN];
	uint64_t u = 0;

	if (f->key_type != TOPO_KEY_STRING) {
		for (size_t i = 0; i < 8 && i < e->len; i++) {
			u = u << 8 | (uint8_t)e->value[i];
		}
		if (f->key_type == TOPO_KEY_INT) {
			snprintf(num, sizeof(num), "%" PRId64, (int64_t)u);
		} else {
			snprintf(num, sizeof(num), "%" PRIu64, u);
		}
		v[1] = num;
		lens[1] = strlen(num);
	}
	if (v[2] == NULL) {
		return cs_bad_index(err, errlen, f->name);
	}
	lens[2] = strlen(v[2]);
	return cs_put(cs, "INSERT INTO function_values VALUES (?1, ?2, ?3)", 3, v, lens, err,
		      errlen);
}

static enum ms_rc
cs_put_funcs(struct conf_store *cs, const struct conf *c, char *err, size_t errlen)
{
	static const char *const kinds[] = { "hash", "range", "list" };
	static const char *const types[] = { "int", "uint", "string" };
	const struct topo_map *m = &c->map;
	enum ms_rc rc = MS_OK;

	for (size_t i = 0; rc == MS_OK && i < m->n_funcs; i++) {
		const struct topo_func *f = &m->funcs[i];
		const char *v[] = { f->name, kinds[f->kind], types[f->key_type],
				    f->key_type != TOPO_KEY_STRING ? NULL
								   : (f->ci ? "ci" : "bin") };

		rc = cs_put(cs, "INSERT INTO functions VALUES (?1, ?2, ?3, ?4)", 4, v, NULL, err,
			    errlen);
		if (rc == MS_OK) {
			rc = cs_put_ranges(cs, c, f, err, errlen);
		}
		for (size_t k = 0; rc == MS_OK && k < f->n_list; k++) {
			rc = cs_put_value(cs, c, f, &f->list[k], err, errlen);
		}
	}
	return rc;
}

static enum ms_rc
cs_put_tables(struct conf_store *cs, const struct conf *c, char *err, size_t errlen)
{
	const struct topo_map *m = &c->map;
	enum ms_rc rc = MS_OK;

	for (size_t i = 0; rc == MS_OK && i < m->n_tables; i++) {
		const struct topo_table *t = &m->tables[i];
		const char *v[] = { t->schema != NULL ? t->schema : "", t->name, t->key, NULL,
				    NULL };

		if (t->kind == TOPO_TABLE_GLOBAL) {
			rc = cs_put(cs, "INSERT INTO global_tables VALUES (?1, ?2)", 2, v, NULL,
				    err, errlen);
			continue;
		}
		v[3] = t->func < m->n_funcs ? m->funcs[t->func].name : NULL;
		v[4] = t->sequence >= 0 && (size_t)t->sequence < m->n_sequences
			       ? m->sequences[t->sequence].name
			       : NULL;
		rc = v[3] == NULL
			     ? cs_errf(MS_EINVAL, err, errlen, "import: table %s names no function",
				       t->name)
			     : cs_put(cs, "INSERT INTO sharded_tables VALUES (?1, ?2, ?3, ?4, ?5)",
				      5, v, NULL, err, errlen);
	}
	return rc;
}

static enum ms_rc
cs_put_seqs(struct conf_store *cs, const struct conf *c, char *err, size_t errlen)
{
	const struct topo_map *m = &c->map;
	enum ms_rc rc = MS_OK;
	char block[16];

	for (size_t i = 0; rc == MS_OK && i < m->n_sequences; i++) {
		const struct topo_sequence *q = &m->sequences[i];
		const char *v[] = { q->name, cs_shard_name(c, q->shard), block };

		snprintf(block, sizeof(block), "%u", q->block);
		rc = v[1] == NULL ? cs_bad_index(err, errlen, q->name)
				  : cs_put(cs, "INSERT INTO sequences VALUES (?1, ?2, ?3)", 3, v,
					   NULL, err, errlen);
	}
	return rc;
}

/* Everything of <c>, into staged tables emptied just before. Sequences come before tables
 * only for readability of the rows; nothing here depends on the order. */
static enum ms_rc
cs_put_all(struct conf_store *cs, const struct conf *c, char *err, size_t errlen)
{
	const char *v[] = { "default_shard", cs_shard_name(c, c->map.default_shard) };
	enum ms_rc rc;

	rc = cs_put_shards(cs, c, err, errlen);
	if (rc == MS_OK) {
		rc = cs_put_users(cs, c, err, errlen);
	}
	if (rc == MS_OK) {
		rc = cs_put_funcs(cs, c, err, errlen);
	}
	if (rc == MS_OK) {
		rc = cs_put_seqs(cs, c, err, errlen);
	}
	if (rc == MS_OK) {
		rc = cs_put_tables(cs, c, err, errlen);
	}
	if (rc == MS_OK && v[1] == NULL) {
		rc = cs_bad_index(err, errlen, "default_shard");
	}
	if (rc == MS_OK) { /* written even when it is the first shard: rows may be reordered */
		rc = cs_put(cs, "INSERT INTO settings VALUES (?1, ?2)", 2, v, NULL, err, errlen);
	}
	return rc;
}

enum ms_rc
cs_import(struct conf_store *cs, const struct conf *c, char *err, size_t errlen)
{
	size_t n = 0;
	const struct cs_table *t = cs_tables(&n);
	enum ms_rc rc;
	char *sql;

	cs_errf(MS_OK, err, errlen, "%s", "");
	rc = cs_begin(cs, err, errlen);
	if (rc != MS_OK) {
		return rc;
	}
	for (size_t i = 0; rc == MS_OK && i < n; i++) {
		if (strcmp(t[i].name, "admin_users") == 0) {
			continue; /* the admin port's own logins are not part of the YAML's config */
		}
		sql = sqlite3_mprintf("DELETE FROM %s", t[i].name);
		rc = sql != NULL ? cs_run(cs, sql, err, errlen)
				 : cs_errf(MS_ENOMEM, err, errlen, "out of memory");
		sqlite3_free(sql);
	}
	if (rc == MS_OK) {
		rc = cs_put_all(cs, c, err, errlen);
	}
	return cs_end(cs, rc, err, errlen);
}
