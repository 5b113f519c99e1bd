/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_store_build.c - cs_build(): reads every staged table in one read transaction,
 * applies the rules the YAML loader applies (conf.c, conf_sharding.c), plus the ones only
 * tables need (one primary endpoint per shard, roles and states), and fills a struct conf.
 * The first problem ends the build: "<table> row (<key>=<value>, ...): <column>: <why>".
 * Functions and their ranges and values are in conf_store_func.c.
 */
#include "conf/conf_store_int.h"

#include "conf/conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CS_USER_NAME_MAX 80u /* MariaDB's limit on user names */
#define CS_BLOCK_MAX     1000000
#define CS_WEIGHT_MAX    CONF_WEIGHT_MAX
#define CS_HASH_LEN      (1 + 2 * MS_SHA1_LEN)

/* shards row: name, user, password. */
static enum ms_rc
cs_shard_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const keys[] = { "name" };
	struct conf_shard *s = &b->c->shards[i];
	const char *v[1], *user, *pw;
	char where[CS_WHERE_LEN];
	size_t len, ulen, plen;
	enum ms_rc rc;

	(void)arg;
	v[0] = cs_col(st, 0, &len);
	cs_where(where, sizeof(where), "shards", 1, keys, v);
	rc = cs_name(b, st, 0, where, &s->name);
	if (rc == MS_OK) {
		rc = cs_str(b, st, 1, where, "user", true, &user, &ulen);
	}
	if (rc == MS_OK) {
		rc = cs_str(b, st, 2, where, "password", false, &pw, &plen);
	}
	if (rc == MS_OK) {
		s->user = strdup(user);
		s->password = strdup(pw);
		if (s->user == NULL || s->password == NULL) {
			rc = cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
		}
	}
	return rc;
}

static enum ms_rc
cs_build_shards(struct cs_build *b)
{
	struct conf *c = b->c;
	enum ms_rc rc;
	size_t n;

	rc = cs_count(b, "SELECT count(*) FROM shards", NULL, &n);
	if (rc == MS_OK && n == 0) {
		return cs_errf(MS_EINVAL, b->err, b->errlen,
			       "shards: must hold at least one shard");
	}
	if (rc == MS_OK && n > TOPO_MAX_SHARDS) {
		return cs_errf(MS_EINVAL, b->err, b->errlen,
			       "shards: must hold at most %d shards, got %zu", TOPO_MAX_SHARDS, n);
	}
	if (rc != MS_OK) {
		return rc;
	}
	c->shards = calloc(n, sizeof(*c->shards));
	if (c->shards == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	c->n_shards = n; /* conf_free() copes with rows not read yet */
	return cs_rows(b, "SELECT name, user, password FROM shards ORDER BY rowid", NULL, n,
		       cs_shard_row, NULL);
}

/* The shard's one primary endpoint becomes its host and port. */
static enum ms_rc
cs_primary(struct cs_build *b, const char *where, size_t shard, const char *host, int64_t port,
	   size_t state)
{
	struct conf_shard *s = &b->c->shards[shard];

	if (s->host != NULL) {
		return cs_fail(b, where, "role", "shard %s already has a primary endpoint (%s:%u)",
			       s->name, s->host, s->port);
	}
	s->host = strdup(host);
	s->port = (uint16_t)port;
	s->state = (uint8_t)state; /* the order of states[] in cs_endpoint_row: enum conf_ep_state */
	return s->host != NULL ? MS_OK : cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
}

/* A replica that is up with a weight becomes one of its shard's read replicas. */
static enum ms_rc
cs_replica(struct cs_build *b, const char *where, size_t shard, const char *host, int64_t port,
	   int64_t weight)
{
	struct conf_shard *s = &b->c->shards[shard];
	struct conf_replica *r;
	size_t total = b->c->n_shards;

	for (size_t i = 0; i < b->c->n_shards; i++) {
		total += b->c->shards[i].n_replicas;
	}
	if (total >= TOPO_MAX_ENDPOINTS) {
		return cs_fail(b, where, NULL, "shards and replicas in use together must be at most %d",
			       TOPO_MAX_ENDPOINTS);
	}
	if (strlen(host) > CONF_REPLICA_HOST_MAX) {
		return cs_fail(b, where, "host", "a replica's host name must be at most %d characters",
			       CONF_REPLICA_HOST_MAX);
	}
	r = realloc(s->replicas, (s->n_replicas + 1) * sizeof(*r));
	if (r == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	s->replicas = r;
	r[s->n_replicas].host = strdup(host);
	r[s->n_replicas].port = (uint16_t)port;
	r[s->n_replicas].weight = (uint32_t)weight;
	if (r[s->n_replicas].host == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	s->n_replicas++;
	return MS_OK;
}

/* One endpoints row while it is checked. */
struct cs_endpoint {
	const char *host; /* borrowed from the statement */
	size_t shard, role, state;
	int64_t port, weight;
};

/* endpoints row: shard, host, port, role, weight, state. */
static enum ms_rc
cs_endpoint_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const keys[] = { "shard", "host", "port" };
	static const char *const roles[] = { "primary", "replica" };
	static const char *const states[] = { "up", "paused", "draining", "down" };
	struct cs_endpoint e = { 0 };
	char where[CS_WHERE_LEN];
	const char *v[3];
	size_t len;
	enum ms_rc rc;

	(void)i;
	(void)arg;
	for (int k = 0; k < 3; k++) {
		v[k] = cs_col(st, k, &len);
	}
	cs_where(where, sizeof(where), "endpoints", 3, keys, v);
	rc = cs_str(b, st, 0, where, "shard", false, &v[0], &len);
	if (rc == MS_OK) {
		rc = cs_shard_ref(b, where, "shard", v[0], len, &e.shard);
	}
	if (rc == MS_OK) {
		rc = cs_str(b, st, 1, where, "host", true, &e.host, &len);
	}
	if (rc == MS_OK) {
		rc = cs_int(b, st, 2, where, "port", 1, 65535, &e.port);
	}
	if (rc == MS_OK) {
		rc = cs_choice(b, st, 3, where, "role", roles, MS_ARRAY_LEN(roles), &e.role);
	}
	if (rc == MS_OK) {
		rc = cs_int(b, st, 4, where, "weight", 0, CS_WEIGHT_MAX, &e.weight);
	}
	if (rc == MS_OK) {
		rc = cs_choice(b, st, 5, where, "state", states, MS_ARRAY_LEN(states), &e.state);
	}
	if (rc == MS_OK && e.role == 0) { /* the primary */
		rc = cs_primary(b, where, e.shard, e.host, e.port, e.state);
	}
	if (rc == MS_OK && e.role == 1 && e.state == 0 && e.weight > 0) {
		rc = cs_replica(b, where, e.shard, e.host, e.port, e.weight); /* up: it takes reads */
	}
	return rc;
}

static enum ms_rc
cs_build_endpoints(struct cs_build *b)
{
	static const char *const keys[] = { "name" };
	char where[CS_WHERE_LEN];
	enum ms_rc rc;

	rc = cs_rows(b,
		     "SELECT shard, host, port, role, weight, state FROM endpoints ORDER BY rowid",
		     NULL, SIZE_MAX, cs_endpoint_row, NULL);
	for (size_t i = 0; rc == MS_OK && i < b->c->n_shards; i++) {
		const char *name = b->c->shards[i].name;

		if (b->c->shards[i].host == NULL) {
			cs_where(where, sizeof(where), "shards", 1, keys, &name);
			rc = cs_fail(b, where, NULL, "no primary endpoint in endpoints");
		}
	}
	return rc;
}

/* settings row: name (default_shard is the only one), value. */
static enum ms_rc
cs_setting_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const keys[] = { "name" };
	const char *v[1], *value;
	char where[CS_WHERE_LEN];
	size_t len;
	enum ms_rc rc;

	(void)i;
	(void)arg;
	v[0] = cs_col(st, 0, &len);
	cs_where(where, sizeof(where), "settings", 1, keys, v);
	if (v[0] == NULL || strcmp(v[0], "default_shard") != 0) {
		return cs_fail(b, where, "name", "unknown setting (known: default_shard)");
	}
	rc = cs_str(b, st, 1, where, "value", false, &value, &len);
	if (rc != MS_OK || len == 0) { /* "": the first shard, as without default_shard: */
		return rc;
	}
	return cs_shard_ref(b, where, "value", value, len, &b->c->map.default_shard);
}

/* sequences row: name, shard (NULL: the default shard), block. */
static enum ms_rc
cs_seq_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const keys[] = { "name" };
	struct topo_sequence *q = &b->c->map.sequences[i];
	const char *v[1], *shard;
	char where[CS_WHERE_LEN];
	int64_t block = 0;
	size_t len;
	enum ms_rc rc;

	(void)arg;
	v[0] = cs_col(st, 0, &len);
	cs_where(where, sizeof(where), "sequences", 1, keys, v);
	rc = cs_name(b, st, 0, where, &q->name);
	q->shard = b->c->map.default_shard;
	shard = cs_col(st, 1, &len);
	if (rc == MS_OK && shard != NULL) {
		rc = cs_str(b, st, 1, where, "shard", false, &shard, &len);
		if (rc == MS_OK) {
			rc = cs_shard_ref(b, where, "shard", shard, len, &q->shard);
		}
	}
	if (rc == MS_OK) {
		rc = cs_int(b, st, 2, where, "block", 1, CS_BLOCK_MAX, &block);
	}
	q->block = (uint32_t)block;
	return rc;
}

static enum ms_rc
cs_build_seqs(struct cs_build *b)
{
	struct topo_map *m = &b->c->map;
	enum ms_rc rc;
	size_t n;

	rc = cs_count(b, "SELECT count(*) FROM sequences", NULL, &n);
	if (rc != MS_OK || n == 0) {
		return rc;
	}
	m->sequences = calloc(n, sizeof(*m->sequences));
	if (m->sequences == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	m->n_sequences = n;
	return cs_rows(b, "SELECT name, shard, block FROM sequences ORDER BY rowid", NULL, n,
		       cs_seq_row, NULL);
}

/* sharded_tables.function and .sequence of <t>: names of a function and a sequence. */
static enum ms_rc
cs_table_refs(struct cs_build *b, sqlite3_stmt *st, const char *where, struct topo_table *t)
{
	const struct topo_map *m = &b->c->map;
	char got[CONF_GOT_LEN];
	const char *s;
	size_t len, i;
	enum ms_rc rc;

	rc = cs_str(b, st, 3, where, "function", false, &s, &len);
	for (i = 0; rc == MS_OK && i < m->n_funcs && strcmp(m->funcs[i].name, s) != 0; i++) {
	}
	if (rc == MS_OK && i == m->n_funcs) {
		return cs_fail(b, where, "function", "unknown function %s",
			       conf_quote(s, len, got, sizeof(got)));
	}
	t->func = i;
	if (rc != MS_OK || sqlite3_column_type(st, 4) == SQLITE_NULL) {
		return rc;
	}
	rc = cs_str(b, st, 4, where, "sequence", false, &s, &len);
	for (i = 0; rc == MS_OK && i < m->n_sequences && strcmp(m->sequences[i].name, s) != 0;
	     i++) {
	}
	if (rc == MS_OK && i == m->n_sequences) {
		return cs_fail(b, where, "sequence", "unknown sequence %s",
			       conf_quote(s, len, got, sizeof(got)));
	}
	t->sequence = (long)i;
	if (rc == MS_OK && m->funcs[t->func].key_type == TOPO_KEY_STRING) {
		return cs_fail(
			b, where, "sequence",
			"a sequence needs an integer key, but function %s has key_type string",
			m->funcs[t->func].name);
	}
	return rc;
}

/* sharded_tables row (schema_name, name, key_column, function, sequence), or global_tables
 * row (schema_name, name) when <arg> is non-NULL: its first index in map.tables. */
static enum ms_rc
cs_table_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const keys[] = { "schema_name", "name" };
	const size_t *first = arg;
	struct topo_table *t = &b->c->map.tables[i + (first != NULL ? *first : 0)];
	char where[CS_WHERE_LEN];
	const char *v[2];
	size_t len;
	enum ms_rc rc;

	v[0] = cs_col(st, 0, &len);
	v[1] = cs_col(st, 1, &len);
	cs_where(where, sizeof(where), first != NULL ? "global_tables" : "sharded_tables", 2, keys,
		 v);
	t->kind = first != NULL ? TOPO_TABLE_GLOBAL : TOPO_TABLE_SHARDED;
	t->sequence = -1;
	rc = cs_ident(b, st, 0, where, "schema_name", true, &t->schema);
	if (rc == MS_OK) {
		rc = cs_ident(b, st, 1, where, "name", false, &t->name);
	}
	if (rc == MS_OK && first == NULL) {
		rc = cs_ident(b, st, 2, where, "key_column", false, &t->key);
	}
	if (rc == MS_OK && first == NULL) {
		rc = cs_table_refs(b, st, where, t);
	}
	return rc;
}

/* A (schema_name, name) in both tables: named from the sharded_tables side. */
static enum ms_rc
cs_tables_twice(struct cs_build *b)
{
	static const char *const keys[] = { "schema_name", "name" };
	sqlite3_stmt *st = NULL;
	char where[CS_WHERE_LEN];
	const char *v[2];
	enum ms_rc rc;
	size_t len;
	int code = SQLITE_DONE;

	rc = cs_prep(
		b->cs,
		"SELECT s.schema_name, s.name FROM sharded_tables AS s JOIN global_tables AS g "
		"ON g.schema_name = s.schema_name AND g.name = s.name ORDER BY s.rowid LIMIT 1",
		&st, b->err, b->errlen);
	if (rc == MS_OK) {
		code = sqlite3_step(st);
	}
	if (code == SQLITE_ROW) {
		v[0] = cs_col(st, 0, &len);
		v[1] = cs_col(st, 1, &len);
		cs_where(where, sizeof(where), "sharded_tables", 2, keys, v);
		rc = cs_fail(b, where, NULL, "declared twice (also in global_tables)");
	} else if (rc == MS_OK && code != SQLITE_DONE) {
		rc = cs_build_sql(b);
	}
	sqlite3_finalize(st);
	return rc;
}

static enum ms_rc
cs_build_tables(struct cs_build *b)
{
	struct topo_map *m = &b->c->map;
	size_t n1 = 0, n2 = 0;
	enum ms_rc rc;

	rc = cs_count(b, "SELECT count(*) FROM sharded_tables", NULL, &n1);
	if (rc == MS_OK) {
		rc = cs_count(b, "SELECT count(*) FROM global_tables", NULL, &n2);
	}
	if (rc != MS_OK || n1 + n2 == 0) {
		return rc;
	}
	m->tables = calloc(n1 + n2, sizeof(*m->tables));
	if (m->tables == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	m->n_tables = n1 + n2;
	rc = cs_rows(b,
		     "SELECT schema_name, name, key_column, function, sequence FROM sharded_tables "
		     "ORDER BY rowid",
		     NULL, n1, cs_table_row, NULL);
	if (rc == MS_OK) {
		rc = cs_rows(b, "SELECT schema_name, name FROM global_tables ORDER BY rowid", NULL,
			     n2, cs_table_row, &n1);
	}
	return rc == MS_OK ? cs_tables_twice(b) : rc;
}

static int
cs_hex(char ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f') {
		return (ch | 0x20) - 'a' + 10;
	}
	return -1;
}

/* password_hash <s>: "" (empty password) or '*' and 40 hex digits, either case. */
static bool
cs_hash_decode(const char *s, size_t len, struct conf_user *u)
{
	int hi, lo;

	u->empty_password = len == 0;
	if (len == 0) {
		return true;
	}
	if (len != CS_HASH_LEN || s[0] != '*') {
		return false;
	}
	for (size_t i = 0; i < MS_SHA1_LEN; i++) {
		hi = cs_hex(s[1 + 2 * i]);
		lo = cs_hex(s[2 + 2 * i]);
		if (hi < 0 || lo < 0) {
			return false;
		}
		u->native_stored[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Where user rows go: users into the new config, admin_users into a scratch array (they are
 * only checked here; the admin port reads them itself). */
struct cs_user_list {
	const char *table;
	struct conf_user *users; /* owned by whoever passed the list */
	size_t n;
};

/* users or admin_users row (<arg>: a struct cs_user_list): name, password_hash. The message
 * never shows the hash: it may be a password typed into the wrong column. */
static enum ms_rc
cs_user_row(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg)
{
	static const char *const keys[] = { "name" };
	const struct cs_user_list *l = arg;
	struct conf_user *u = &l->users[i];
	char where[CS_WHERE_LEN];
	const char *v[1], *hash;
	size_t len;
	enum ms_rc rc;

	v[0] = cs_col(st, 0, &len);
	cs_where(where, sizeof(where), l->table, 1, keys, v);
	rc = cs_str(b, st, 0, where, "name", false, &v[0], &len);
	if (rc == MS_OK && (len == 0 || len > CS_USER_NAME_MAX)) {
		return cs_fail(b, where, "name", "must be 1..%u bytes long, got %zu",
			       CS_USER_NAME_MAX, len);
	}
	if (rc == MS_OK) {
		u->name = strdup(v[0]);
		rc = u->name != NULL ? MS_OK
				     : cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	if (rc == MS_OK) {
		rc = cs_str(b, st, 1, where, "password_hash", false, &hash, &len);
	}
	if (rc == MS_OK && !cs_hash_decode(hash, len, u)) {
		rc = cs_fail(b, where, "password_hash",
			     "must be '' or '*' followed by 40 hex digits");
	}
	if (rc == MS_OK && strcmp(l->table, "users") == 0) {
		int64_t req = 0;

		rc = cs_int(b, st, 2, where, "require_ssl", 0, 1, &req);
		u->require_ssl = req == 1;
		if (rc == MS_OK && u->require_ssl && b->c->tls == NULL) {
			rc = cs_fail(b, where, "require_ssl",
				     "needs TLS, and the config file has no tls: section");
		}
	}
	return rc;
}

/* Reads <l>->table into a new <l>->users (owned by the caller, even on failure). */
static enum ms_rc
cs_build_users(struct cs_build *b, struct cs_user_list *l, bool required)
{
	char sql[96];
	enum ms_rc rc;
	size_t n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", l->table);
	rc = cs_count(b, sql, NULL, &n);
	if (rc == MS_OK && n == 0 && required) {
		return cs_errf(MS_EINVAL, b->err, b->errlen, "%s: must hold at least one user",
			       l->table);
	}
	if (rc != MS_OK || n == 0) {
		return rc;
	}
	l->users = calloc(n, sizeof(*l->users));
	if (l->users == NULL) {
		return cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	l->n = n;
	snprintf(sql, sizeof(sql), "SELECT name, password_hash%s FROM %s ORDER BY rowid",
		 strcmp(l->table, "users") == 0 ? ", require_ssl" : "", l->table);
	return cs_rows(b, sql, NULL, n, cs_user_row, l);
}

static void
cs_users_free(struct conf_user *users, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(users[i].name);
	}
	free(users);
}

static enum ms_rc
cs_build_all(struct cs_build *b)
{
	struct cs_user_list users = { .table = "users" }, admins = { .table = "admin_users" };
	enum ms_rc rc;

	rc = cs_build_shards(b);
	if (rc == MS_OK) {
		rc = cs_build_endpoints(b);
	}
	if (rc == MS_OK) {
		rc = cs_rows(b, "SELECT name, value FROM settings ORDER BY rowid", NULL, SIZE_MAX,
			     cs_setting_row, NULL);
	}
	if (rc == MS_OK) {
		rc = cs_build_funcs(b);
	}
	if (rc == MS_OK) {
		rc = cs_build_seqs(b);
	}
	if (rc == MS_OK) {
		rc = cs_build_tables(b);
	}
	if (rc == MS_OK) {
		rc = cs_build_users(b, &users, true);
	}
	b->c->users = users.users; /* conf_free() frees them from here on */
	b->c->n_users = users.n;
	if (rc == MS_OK) {
		rc = cs_build_users(b, &admins, false);
	}
	cs_users_free(admins.users, admins.n);
	return rc;
}

static struct conf_admin *
cs_admin_copy(const struct conf_admin *src)
{
	struct conf_admin *a = calloc(1, sizeof(*a));
	bool ok;

	if (a == NULL) {
		return NULL;
	}
	a->listen_port = src->listen_port;
	a->listen_addr = src->listen_addr != NULL ? strdup(src->listen_addr) : NULL;
	a->store = src->store != NULL ? strdup(src->store) : NULL;
	a->users = src->n_users > 0 ? calloc(src->n_users, sizeof(*a->users)) : NULL;
	ok = (a->listen_addr != NULL) == (src->listen_addr != NULL) &&
	     (a->store != NULL) == (src->store != NULL) && (a->users != NULL) == (src->n_users > 0);
	for (size_t i = 0; ok && i < src->n_users; i++) {
		a->users[i] = src->users[i];
		a->users[i].name = strdup(src->users[i].name);
		a->n_users = i + 1;
		ok = a->users[i].name != NULL;
	}
	if (!ok) {
		cs_users_free(a->users, a->n_users);
		free(a->listen_addr);
		free(a->store);
		free(a);
		return NULL;
	}
	return a;
}

/*
 * A copy of <base> without users, shards and map (cs_build() fills those). The scalar fields
 * are copied wholesale, so each owned pointer of struct conf must be duplicated or cleared
 * here: one added to struct conf needs a line below too.
 */
static struct conf *
cs_conf_copy(const struct conf *base)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		return NULL;
	}
	*c = *base;
	c->users = NULL;
	c->n_users = 0;
	c->shards = NULL;
	c->n_shards = 0;
	memset(&c->map, 0, sizeof(c->map));
	c->path = base->path != NULL ? strdup(base->path) : NULL;
	c->listen_addr = base->listen_addr != NULL ? strdup(base->listen_addr) : NULL;
	c->admin = base->admin != NULL ? cs_admin_copy(base->admin) : NULL;
	c->metrics_addr = base->metrics_addr != NULL ? strdup(base->metrics_addr) : NULL;
	c->tls = base->tls != NULL ? calloc(1, sizeof(*c->tls)) : NULL;
	if (c->tls != NULL) {
		c->tls->cert_line = base->tls->cert_line;
		c->tls->key_line = base->tls->key_line;
		c->tls->cert = strdup(base->tls->cert);
		c->tls->key = strdup(base->tls->key);
		if (c->tls->cert == NULL || c->tls->key == NULL) {
			conf_free(c);
			return NULL;
		}
	}
	if ((c->path == NULL) != (base->path == NULL) ||
	    (c->tls == NULL) != (base->tls == NULL) ||
	    (c->metrics_addr == NULL) != (base->metrics_addr == NULL) ||
	    (c->listen_addr == NULL) != (base->listen_addr == NULL) ||
	    (c->admin == NULL) != (base->admin == NULL)) {
		conf_free(c);
		return NULL;
	}
	return c;
}

enum ms_rc
cs_build(struct conf_store *cs, const struct conf *base, struct conf **out, char *err,
	 size_t errlen)
{
	struct cs_build b = { .cs = cs, .err = err, .errlen = errlen };
	enum ms_rc rc;

	*out = NULL;
	cs_errf(MS_OK, err, errlen, "%s", "");
	b.c = cs_conf_copy(base);
	if (b.c == NULL) {
		return cs_errf(MS_ENOMEM, err, errlen, "out of memory");
	}
	rc = cs_run(cs, "BEGIN", err, errlen); /* every table read from one snapshot */
	if (rc == MS_OK) {
		rc = cs_build_all(&b);
		(void)sqlite3_exec(cs->db, "ROLLBACK", NULL, NULL, NULL); /* nothing was written */
	}
	if (rc != MS_OK) {
		conf_free(b.c);
		return rc;
	}
	topo_map_sort(&b.c->map);
	*out = b.c;
	return MS_OK;
}
