/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/conf/test_conf_store.c - the staged configuration in SQLite: a YAML config
 * imported and built back unchanged, the exact message for each rule cs_build() applies (one
 * bad edit per rule, made through cs_exec()), what the admin port's authorizer lets through,
 * diffs, commit / restore, and saving to a file. In-memory databases, files only under
 * $TMPDIR; no sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_store.h"

#define ERR_LEN 1024

/* clang-format off */
static const char example[] =
	"listen: {address: 127.0.0.1, port: 3307}\n"
	"workers: 3\n"
	"pool: {max_per_worker: 7}\n"
	"users:\n"
	"  - {name: app, password: secret}\n"
	"  - {name: ro, password_hash: \"*6bb4837eb74329105ee4568dda7dc67ed2ca2ad9\"}\n"
	"  - {name: guest, password: \"\"}\n"
	"shards:\n"
	"  - {name: s0, host: 127.0.0.1, port: 3306, user: myshard, password: pw0}\n"
	"  - {name: s1, host: 127.0.0.1, port: 3307, user: myshard, password: pw1}\n"
	"  - {name: s2, host: db2.example, user: other}\n"
	"  - {name: s3, host: 127.0.0.1, port: 3309, user: myshard, password: \"it's\"}\n"
	"sharding:\n"
	"  default_shard: s2\n"
	"  functions:\n"
	"    - name: by_customer\n"
	"      kind: hash\n"
	"      key_type: int\n"
	"      ranges:\n"
	"        - {keyspace: \"c0-\", shard: s3}\n"
	"        - {keyspace: \"-40\", shard: s0}\n"
	"        - {keyspace: \"40-80\", shard: s1}\n"
	"        - {keyspace: \"80-c0\", shard: s2}\n"
	"    - name: by_id\n"
	"      kind: range\n"
	"      key_type: int\n"
	"      ranges:\n"
	"        - {to: -100, shard: s0}\n"
	"        - {from: -100, to: 1000, shard: s1}\n"
	"        - {from: 1000, shard: s2}\n"
	"    - name: by_name\n"
	"      kind: range\n"
	"      key_type: string\n"
	"      ranges:\n"
	"        - {to: \"abcdefg xyz\", shard: s0}\n"
	"        - {from: \"abcdefg xyz\", to: n, shard: s1}\n"
	"        - {from: n, shard: s2}\n"
	"    - name: by_uid\n"
	"      kind: range\n"
	"      key_type: uint\n"
	"      ranges:\n"
	"        - {to: 100, shard: s3}\n"
	"        - {from: 100, shard: s0}\n"
	"    - name: by_region\n"
	"      kind: list\n"
	"      key_type: string\n"
	"      collation: ci\n"
	"      values:\n"
	"        - {value: eu, shard: s0}\n"
	"        - {value: \"US  \", shard: s1}\n"
	"        - {value: apac, shard: s2}\n"
	"    - name: by_code\n"
	"      kind: list\n"
	"      key_type: int\n"
	"      values:\n"
	"        - {value: 7, shard: s0}\n"
	"        - {value: -3, shard: s3}\n"
	"    - name: by_tag\n"
	"      kind: hash\n"
	"      key_type: string\n"
	"      collation: bin\n"
	"      ranges:\n"
	"        - {keyspace: \"-\", shard: s1}\n"
	"  tables:\n"
	"    - {name: customers, key: id, function: by_customer, sequence: customers_id}\n"
	"    - {name: orders, key: customer_id, function: by_customer, schema: shop}\n"
	"    - {name: orders, key: id, function: by_id}\n"
	"    - {name: people, key: name, function: by_name}\n"
	"    - {name: accounts, key: region, function: by_region, schema: crm}\n"
	"  global_tables:\n"
	"    - {name: countries}\n"
	"    - {name: currencies, schema: shop}\n"
	"  sequences:\n"
	"    - {name: customers_id, shard: s1, block: 500}\n"
	"    - {name: other}\n"
	"admin:\n"
	"  listen: {port: 3310}\n"
	"  users:\n"
	"    - {name: root, password: adminpw}\n";

/* The smallest config worth diffing: two shards, one user, one function, one table. */
static const char small[] =
	"users:\n"
	"  - {name: app, password: secret}\n"
	"  - {name: bob, password: bob}\n"
	"shards:\n"
	"  - {name: s1, host: 127.0.0.1, port: 3306, user: u}\n"
	"  - {name: s2, host: 127.0.0.1, port: 3307, user: u}\n"
	"sharding:\n"
	"  functions:\n"
	"    - name: by_customer\n"
	"      kind: hash\n"
	"      key_type: int\n"
	"      ranges:\n"
	"        - {keyspace: \"-80\", shard: s1}\n"
	"        - {keyspace: \"80-\", shard: s2}\n"
	"  tables:\n"
	"    - {name: orders, key: customer_id, function: by_customer}\n";
/* clang-format on */

static struct conf *
load(const char *text)
{
	char err[CONF_ERR_LEN] = "";
	struct conf *c = NULL;
	enum ms_rc rc;

	rc = conf_load_string(text, strlen(text), "t.yaml", &c, err, sizeof(err));
	if (rc != MS_OK) {
		print_error("unexpected error: %s\n", err);
	}
	assert_int_equal(rc, MS_OK);
	return c;
}

static struct conf_store *
store_open(void)
{
	char err[ERR_LEN] = "";
	struct conf_store *cs = NULL;

	assert_int_equal(cs_open(":memory:", &cs, err, sizeof(err)), MS_OK);
	assert_non_null(cs);
	return cs;
}

/* A store holding <text>'s config in its staged tables; *<c> is that config. */
static struct conf_store *
store_with(const char *text, struct conf **c)
{
	struct conf_store *cs = store_open();
	char err[ERR_LEN] = "";
	enum ms_rc rc;

	*c = load(text);
	rc = cs_import(cs, *c, err, sizeof(err));
	if (rc != MS_OK) {
		print_error("import: %s\n", err);
	}
	assert_int_equal(rc, MS_OK);
	return cs;
}

/* What cs_exec() reported: "a|b\n" for the columns and each row, NULL as "<null>". */
struct rec {
	char text[32768];
	size_t len;
	uint64_t affected;
	int dones;
	int stop_after; /* row callback fails after this many rows; 0 = never */
	int rows;
};

static void
rec_add(struct rec *r, const char *s, size_t len)
{
	assert_true(r->len + len < sizeof(r->text));
	memcpy(r->text + r->len, s, len);
	r->len += len;
	r->text[r->len] = '\0';
}

static enum ms_rc
rec_columns(void *arg, size_t n, const char *const *names)
{
	struct rec *r = arg;

	for (size_t i = 0; i < n; i++) {
		rec_add(r, i > 0 ? "|" : "", i > 0 ? 1 : 0);
		rec_add(r, names[i], strlen(names[i]));
	}
	rec_add(r, "\n", 1);
	return MS_OK;
}

static enum ms_rc
rec_row(void *arg, size_t n, const char *const *values, const size_t *lens)
{
	struct rec *r = arg;

	if (r->stop_after > 0 && r->rows == r->stop_after) {
		return MS_EINVAL;
	}
	r->rows++;
	for (size_t i = 0; i < n; i++) {
		rec_add(r, i > 0 ? "|" : "", i > 0 ? 1 : 0);
		if (values[i] == NULL) {
			rec_add(r, "<null>", 6);
		} else {
			assert_int_equal(strlen(values[i]), lens[i]);
			rec_add(r, values[i], lens[i]);
		}
	}
	rec_add(r, "\n", 1);
	return MS_OK;
}

static enum ms_rc
rec_done(void *arg, uint64_t affected)
{
	struct rec *r = arg;

	r->affected = affected;
	r->dones++;
	return MS_OK;
}

static const struct cs_exec_cb rec_cb = { rec_columns, rec_row, rec_done };

/* Runs <sql>, which must succeed; what it reported is in *<r>. */
static void
exec_ok(struct conf_store *cs, const char *sql, struct rec *r)
{
	char err[ERR_LEN] = "";
	enum ms_rc rc;

	memset(r, 0, sizeof(*r));
	rc = cs_exec(cs, sql, strlen(sql), &rec_cb, r, err, sizeof(err));
	if (rc != MS_OK) {
		print_error("%s: %s\n", sql, err);
	}
	assert_int_equal(rc, MS_OK);
}

static void
exec_quiet(struct conf_store *cs, const char *sql)
{
	struct rec *r = malloc(sizeof(*r));

	assert_non_null(r);
	exec_ok(cs, sql, r);
	free(r);
}

static void
exec_err(struct conf_store *cs, const char *sql, const char *want)
{
	char err[ERR_LEN] = "";
	struct rec r;

	memset(&r, 0, sizeof(r));
	if (cs_exec(cs, sql, strlen(sql), &rec_cb, &r, err, sizeof(err)) != MS_EINVAL) {
		print_error("%s: accepted\n", sql);
		fail();
	}
	assert_string_equal(err, want);
	assert_int_equal(r.dones, 0);
}

/* Every staged (or, with <prefix> "runtime_", live) table's rows in rowid order, as text. */
static char *
dump(struct conf_store *cs, const char *prefix)
{
	static const char *const tables[] = {
		"shards",          "endpoints",      "functions",     "function_ranges",
		"function_values", "sharded_tables", "global_tables", "sequences",
		"users",           "admin_users",    "settings"
	};
	struct rec *r = calloc(1, sizeof(*r));
	char sql[128], *out;
	size_t n = 0;

	assert_non_null(r);
	out = calloc(1, 65536);
	assert_non_null(out);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT * FROM %s%s ORDER BY rowid", prefix, tables[i]);
		exec_ok(cs, sql, r);
		assert_true(n + strlen(tables[i]) + r->len + 3 < 65536);
		n += (size_t)sprintf(out + n, "%s:\n%s", tables[i], r->text);
	}
	free(r);
	return out;
}

static void
assert_func_equal(const struct topo_func *a, const struct topo_func *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->key_type, b->key_type);
	assert_int_equal(a->ci, b->ci);
	assert_int_equal(a->n_ranges, b->n_ranges);
	for (size_t i = 0; i < a->n_ranges; i++) {
		assert_int_equal(a->ranges[i].lo, b->ranges[i].lo);
		assert_int_equal(a->ranges[i].hi, b->ranges[i].hi);
		assert_int_equal(a->ranges[i].shard, b->ranges[i].shard);
	}
	assert_int_equal(a->n_list, b->n_list);
	for (size_t i = 0; i < a->n_list; i++) {
		assert_int_equal(a->list[i].len, b->list[i].len);
		assert_memory_equal(a->list[i].value, b->list[i].value, a->list[i].len);
		assert_int_equal(a->list[i].shard, b->list[i].shard);
	}
}

static void
assert_opt_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		assert_ptr_equal(a, b);
	} else {
		assert_string_equal(a, b);
	}
}

static void
assert_map_equal(const struct topo_map *a, const struct topo_map *b)
{
	assert_int_equal(a->default_shard, b->default_shard);
	assert_int_equal(a->n_funcs, b->n_funcs);
	for (size_t i = 0; i < a->n_funcs; i++) {
		assert_func_equal(&a->funcs[i], &b->funcs[i]);
	}
	assert_int_equal(a->n_tables, b->n_tables);
	for (size_t i = 0; i < a->n_tables; i++) {
		const struct topo_table *x = &a->tables[i], *y = &b->tables[i];

		assert_opt_str_equal(x->schema, y->schema);
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->kind, y->kind);
		assert_opt_str_equal(x->key, y->key);
		assert_int_equal(x->func, y->func);
		assert_int_equal(x->sequence, y->sequence);
	}
	assert_int_equal(a->n_sequences, b->n_sequences);
	for (size_t i = 0; i < a->n_sequences; i++) {
		assert_string_equal(a->sequences[i].name, b->sequences[i].name);
		assert_int_equal(a->sequences[i].shard, b->sequences[i].shard);
		assert_int_equal(a->sequences[i].block, b->sequences[i].block);
	}
}

/* Users, shards and map of <a> and <b> are the same, field by field. */
static void
assert_topology_equal(const struct conf *a, const struct conf *b)
{
	assert_int_equal(a->n_users, b->n_users);
	for (size_t i = 0; i < a->n_users; i++) {
		assert_string_equal(a->users[i].name, b->users[i].name);
		assert_memory_equal(a->users[i].native_stored, b->users[i].native_stored,
				    MS_SHA1_LEN);
		assert_int_equal(a->users[i].empty_password, b->users[i].empty_password);
	}
	assert_int_equal(a->n_shards, b->n_shards);
	for (size_t i = 0; i < a->n_shards; i++) {
		assert_string_equal(a->shards[i].name, b->shards[i].name);
		assert_string_equal(a->shards[i].host, b->shards[i].host);
		assert_int_equal(a->shards[i].port, b->shards[i].port);
		assert_string_equal(a->shards[i].user, b->shards[i].user);
		assert_string_equal(a->shards[i].password, b->shards[i].password);
	}
	assert_map_equal(&a->map, &b->map);
}

static struct conf *
build_ok(struct conf_store *cs, const struct conf *base)
{
	char err[ERR_LEN] = "";
	struct conf *out = NULL;
	enum ms_rc rc;

	rc = cs_build(cs, base, &out, err, sizeof(err));
	if (rc != MS_OK) {
		print_error("build: %s\n", err);
	}
	assert_int_equal(rc, MS_OK);
	assert_non_null(out);
	return out;
}

static void
test_round_trip(void **state)
{
	struct conf *c, *b;
	struct conf_store *cs = store_with(example, &c);

	(void)state;
	assert_int_equal(c->n_shards, 4);
	assert_int_equal(c->map.n_funcs, 7);
	b = build_ok(cs, c);
	assert_topology_equal(b, c);
	/* the rest is <base>'s, copied */
	assert_string_equal(b->path, "t.yaml");
	assert_string_equal(b->listen_addr, "127.0.0.1");
	assert_int_equal(b->listen_port, 3307);
	assert_int_equal(b->workers, 3);
	assert_int_equal(b->pool_max, 7);
	assert_non_null(b->admin);
	assert_ptr_not_equal(b->admin, c->admin);
	assert_int_equal(b->admin->listen_port, 3310);
	assert_string_equal(b->admin->listen_addr, "127.0.0.1");
	assert_int_equal(b->admin->n_users, 1);
	assert_string_equal(b->admin->users[0].name, "root");
	assert_memory_equal(b->admin->users[0].native_stored, c->admin->users[0].native_stored,
			    MS_SHA1_LEN);
	conf_free(b);
	conf_free(c);
	cs_close(cs);
}

/* What import writes: bounds and values as text that normalizes back to the same bytes. */
static void
test_import_rows(void **state)
{
	struct conf *c;
	struct conf_store *cs = store_with(example, &c);
	struct rec r;

	(void)state;
	exec_ok(cs, "SELECT * FROM shards", &r);
	assert_string_equal(r.text, "name|user|password\n"
				    "s0|myshard|pw0\n"
				    "s1|myshard|pw1\n"
				    "s2|other|\n"
				    "s3|myshard|it's\n");
	exec_ok(cs, "SELECT * FROM endpoints WHERE shard = 's2'", &r);
	assert_string_equal(r.text, "shard|host|port|role|weight|state\n"
				    "s2|db2.example|3306|primary|1|up\n");
	exec_ok(cs,
		"SELECT * FROM function_ranges WHERE function IN ('by_id', 'by_name', "
		"'by_customer')",
		&r);
	assert_string_equal(r.text, "function|keyspace|range_from|range_to|shard\n"
				    "by_customer|-40|<null>|<null>|s0\n"
				    "by_customer|40-80|<null>|<null>|s1\n"
				    "by_customer|80-c0|<null>|<null>|s2\n"
				    "by_customer|c0-|<null>|<null>|s3\n"
				    "by_id|<null>|<null>|-100|s0\n"
				    "by_id|<null>|-100|1000|s1\n"
				    "by_id|<null>|1000|<null>|s2\n"
				    "by_name|<null>|<null>|abcdefg !|s0\n"
				    "by_name|<null>|abcdefg !|n|s1\n"
				    "by_name|<null>|n|<null>|s2\n");
	exec_ok(cs, "SELECT * FROM function_values", &r);
	assert_string_equal(r.text, "function|value|shard\n"
				    "by_region|EU|s0\n"
				    "by_region|US|s1\n"
				    "by_region|APAC|s2\n"
				    "by_code|7|s0\n" /* sorted in the map: 7 is 00..07, -3 ff..fd */
				    "by_code|-3|s3\n");
	exec_ok(cs, "SELECT * FROM functions WHERE name IN ('by_id', 'by_region', 'by_tag')", &r);
	assert_string_equal(r.text, "name|kind|key_type|collation\n"
				    "by_id|range|int|<null>\n"
				    "by_region|list|string|ci\n"
				    "by_tag|hash|string|bin\n");
	exec_ok(cs, "SELECT * FROM sharded_tables WHERE name = 'orders'", &r);
	assert_string_equal(r.text, "schema_name|name|key_column|function|sequence\n"
				    "shop|orders|customer_id|by_customer|<null>\n" /* map order */
				    "|orders|id|by_id|<null>\n");
	exec_ok(cs, "SELECT * FROM sequences", &r);
	assert_string_equal(r.text, "name|shard|block\ncustomers_id|s1|500\nother|s2|1000\n");
	exec_ok(cs, "SELECT * FROM users", &r);
	assert_string_equal(r.text, "name|password_hash|require_ssl\n"
				    "app|*14E65567ABDB5135D0CFD9A70B3032C179A49EE7|0\n"
				    "ro|*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9|0\n"
				    "guest||0\n");
	exec_ok(cs, "SELECT * FROM settings", &r);
	assert_string_equal(r.text, "name|value\ndefault_shard|s2\n");
	conf_free(c);
	cs_close(cs);
}

/* Import leaves admin_users alone and replaces everything else. */
static void
test_import_replaces(void **state)
{
	struct conf *c, *c2;
	struct conf_store *cs = store_with(example, &c);
	char err[ERR_LEN] = "";
	struct rec r;

	(void)state;
	exec_quiet(cs, "INSERT INTO admin_users VALUES ('root', '')");
	c2 = load(small);
	assert_int_equal(cs_import(cs, c2, err, sizeof(err)), MS_OK);
	exec_ok(cs, "SELECT count(*) FROM function_ranges", &r);
	assert_string_equal(r.text, "count(*)\n2\n");
	exec_ok(cs, "SELECT * FROM admin_users", &r);
	assert_string_equal(r.text, "name|password_hash\nroot|\n");
	exec_ok(cs, "SELECT * FROM settings", &r);
	assert_string_equal(r.text, "name|value\ndefault_shard|s1\n");
	conf_free(c);
	conf_free(c2);
	cs_close(cs);
}

/* Edits the build accepts: NULLs and "" that mean a default, replicas, lower-case hashes. */
static void
test_build_defaults(void **state)
{
	struct conf *c, *b;
	struct conf_store *cs = store_with(example, &c);

	(void)state;
	exec_quiet(cs, "UPDATE sequences SET shard = NULL WHERE name = 'customers_id'");
	exec_quiet(cs, "UPDATE settings SET value = '' WHERE name = 'default_shard'");
	exec_quiet(cs, "INSERT INTO endpoints (shard, host, port, role, weight, state) VALUES "
		       "('s1', '10.0.0.9', 3306, 'replica', 0, 'draining'), "
		       "('s1', '10.0.0.10', 3306, 'replica', 0, 'up'), "
		       "('s1', '10.0.0.11', 3306, 'replica', 7, 'up'), "
		       "('s1', '10.0.0.12', 3306, 'replica', 5, 'down')");
	exec_quiet(cs, "UPDATE endpoints SET state = 'draining' WHERE shard = 's1' AND "
		       "role = 'primary'");
	exec_quiet(cs, "UPDATE users SET password_hash = lower(password_hash)");
	exec_quiet(cs, "UPDATE functions SET collation = NULL WHERE name = 'by_tag'");
	exec_quiet(
		cs,
		"INSERT INTO admin_users VALUES ('root', '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9')");
	b = build_ok(cs, c);
	assert_int_equal(b->map.default_shard, 0);
	assert_int_equal(b->map.sequences[0].shard, 0);      /* NULL: the default shard */
	assert_string_equal(b->shards[1].host, "127.0.0.1"); /* the primary, not the replica */
	assert_int_equal(b->shards[1].state, CONF_EP_DRAINING);
	assert_int_equal(b->shards[0].state, CONF_EP_UP);
	/* only a replica that is up with a weight above 0 takes reads, with its weight */
	assert_int_equal(b->shards[1].n_replicas, 1);
	assert_string_equal(b->shards[1].replicas[0].host, "10.0.0.11");
	assert_int_equal(b->shards[1].replicas[0].weight, 7);
	assert_memory_equal(b->users[0].native_stored, c->users[0].native_stored, MS_SHA1_LEN);
	assert_false(b->map.funcs[6].ci);
	conf_free(b);
	/* without settings: the first shard, as without default_shard: in the YAML */
	exec_quiet(cs, "DELETE FROM settings");
	b = build_ok(cs, c);
	assert_int_equal(b->map.default_shard, 0);
	conf_free(b);
	conf_free(c);
	cs_close(cs);
}

static void
test_native_hash(void **state)
{
	char h[CS_NATIVE_HASH_SIZE];

	(void)state;
	cs_native_hash("secret", h); /* PASSWORD('secret') on MariaDB */
	assert_string_equal(h, "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7");
	cs_native_hash("123456", h);
	assert_string_equal(h, "*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9");
	cs_native_hash("", h);
	assert_string_equal(h, "");
}

/* One bad edit (up to three statements) and the message cs_build() must give for it. */
struct bad_edit {
	const char *sql[3];
	const char *want;
};

#define KSPEC_WANT                                                                                 \
	"must be a keyspace-id range such as \"-80\", \"40-80\", \"80-\" or \"-\" (an even "       \
	"number of hex digits, at most 16, on each side; start below end)"
#define INT_WANT  "must be an integer -9223372036854775808..9223372036854775807"
#define NAME_WANT "must be 1..64 characters from A-Z a-z 0-9 _ -"
#define X65       "replace(printf('%65s', ''), ' ', 'x')"
#define X40       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

/* clang-format off */
static const struct bad_edit bad_edits[] = {
	/* shards */
	{ { "DELETE FROM shards" }, "shards: must hold at least one shard" },
	{ { "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 253) "
	    "INSERT INTO shards (name, user) SELECT 'x' || i, 'u' FROM c" },
	  "shards: must hold at most 256 shards, got 257" },
	{ { "UPDATE shards SET name = 's 9' WHERE name = 's3'" },
	  "shards row (name=s 9): name: " NAME_WANT ", got \"s 9\"" },
	{ { "UPDATE shards SET user = '' WHERE name = 's1'" },
	  "shards row (name=s1): user: must not be empty" },
	{ { "UPDATE shards SET password = 'a' || char(0) || 'b' WHERE name = 's1'" },
	  "shards row (name=s1): password: must not contain NUL bytes" },
	/* endpoints */
	{ { "UPDATE endpoints SET shard = 's9' WHERE shard = 's3'" },
	  "endpoints row (shard=s9, host=127.0.0.1, port=3309): shard: unknown shard \"s9\"" },
	{ { "UPDATE endpoints SET host = '' WHERE shard = 's1'" },
	  "endpoints row (shard=s1, host=, port=3307): host: must not be empty" },
	{ { "UPDATE endpoints SET port = 0 WHERE shard = 's1'" },
	  "endpoints row (shard=s1, host=127.0.0.1, port=0): port: must be an integer 1..65535, "
	  "got \"0\"" },
	{ { "UPDATE endpoints SET port = 65536 WHERE shard = 's1'" },
	  "endpoints row (shard=s1, host=127.0.0.1, port=65536): port: must be an integer "
	  "1..65535, got \"65536\"" },
	{ { "UPDATE endpoints SET role = 'master' WHERE shard = 's1'" },
	  "endpoints row (shard=s1, host=127.0.0.1, port=3307): role: must be one of primary, "
	  "replica, got \"master\"" },
	{ { "UPDATE endpoints SET weight = -1 WHERE shard = 's1'" },
	  "endpoints row (shard=s1, host=127.0.0.1, port=3307): weight: must be an integer "
	  "0..2147483647, got \"-1\"" },
	{ { "UPDATE endpoints SET state = 'sleeping' WHERE shard = 's1'" },
	  "endpoints row (shard=s1, host=127.0.0.1, port=3307): state: must be one of up, paused, "
	  "draining, down, got \"sleeping\"" },
	{ { "INSERT INTO endpoints (shard, host) VALUES ('s1', '10.0.0.2')" },
	  "endpoints row (shard=s1, host=10.0.0.2, port=3306): role: shard s1 already has a "
	  "primary endpoint (127.0.0.1:3307)" },
	{ { "UPDATE endpoints SET role = 'replica' WHERE shard = 's2'" },
	  "shards row (name=s2): no primary endpoint in endpoints" },
	/* settings */
	{ { "INSERT INTO settings VALUES ('max_conn', '5')" },
	  "settings row (name=max_conn): name: unknown setting (known: default_shard)" },
	{ { "UPDATE settings SET value = 's9'" },
	  "settings row (name=default_shard): value: unknown shard \"s9\"" },
	/* functions */
	{ { "UPDATE functions SET name = 'by id' WHERE name = 'by_id'" },
	  "functions row (name=by id): name: " NAME_WANT ", got \"by id\"" },
	{ { "UPDATE functions SET kind = 'modulo' WHERE name = 'by_id'" },
	  "functions row (name=by_id): kind: must be one of hash, range, list, got \"modulo\"" },
	{ { "UPDATE functions SET key_type = 'float' WHERE name = 'by_id'" },
	  "functions row (name=by_id): key_type: must be one of int, uint, string, got \"float\"" },
	{ { "UPDATE functions SET collation = 'ci' WHERE name = 'by_id'" },
	  "functions row (name=by_id): collation: only string keys have a collation (key_type is "
	  "int)" },
	{ { "UPDATE functions SET collation = 'utf8' WHERE name = 'by_tag'" },
	  "functions row (name=by_tag): collation: must be one of ci, bin, got \"utf8\"" },
	{ { "INSERT INTO function_ranges (function, keyspace, shard) VALUES ('nope', '-', 's0')" },
	  "function_ranges row (function=nope, keyspace=-): function: unknown function \"nope\"" },
	{ { "INSERT INTO function_values VALUES ('nope', 'x', 's0')" },
	  "function_values row (function=nope, value=x): function: unknown function \"nope\"" },
	{ { "INSERT INTO function_ranges (function, keyspace, shard) VALUES ('by_region', '-', "
	    "'s0')" },
	  "function_ranges row (function=by_region, keyspace=-): function: list functions take "
	  "values (function_values), not ranges" },
	{ { "INSERT INTO function_values VALUES ('by_customer', '1', 's0')" },
	  "function_values row (function=by_customer, value=1): function: hash functions take "
	  "ranges (function_ranges), not values" },
	{ { "INSERT INTO function_values VALUES ('by_id', '1', 's0')" },
	  "function_values row (function=by_id, value=1): function: range functions take ranges "
	  "(function_ranges), not values" },
	{ { "DELETE FROM function_values WHERE function = 'by_code'" },
	  "functions row (name=by_code): a list function needs at least one row in "
	  "function_values" },
	{ { "DELETE FROM function_ranges WHERE function = 'by_tag'" },
	  "functions row (name=by_tag): a hash function needs at least one row in "
	  "function_ranges" },
	/* function_ranges of a hash function */
	{ { "UPDATE function_ranges SET range_from = '5' WHERE keyspace = '-40'" },
	  "function_ranges row (function=by_customer, keyspace=-40): range_from: hash functions "
	  "take keyspace, not range_from and range_to" },
	{ { "UPDATE function_ranges SET keyspace = NULL WHERE keyspace = '-40'" },
	  "function_ranges row (function=by_customer, keyspace=NULL): keyspace: " KSPEC_WANT
	  ", got NULL" },
	{ { "UPDATE function_ranges SET keyspace = '8-' WHERE keyspace = '-40'" },
	  "function_ranges row (function=by_customer, keyspace=8-): keyspace: " KSPEC_WANT
	  ", got \"8-\"" },
	{ { "UPDATE function_ranges SET shard = 's9' WHERE keyspace = '80-c0'" },
	  "function_ranges row (function=by_customer, keyspace=80-c0): shard: unknown shard "
	  "\"s9\"" },
	{ { "DELETE FROM function_ranges WHERE keyspace = 'c0-'" },
	  "function_ranges (function=by_customer): keyspace ids c000000000000000..ffffffffffffffff "
	  "are not covered" },
	{ { "DELETE FROM function_ranges WHERE keyspace = '-40'" },
	  "function_ranges (function=by_customer): keyspace ids 0000000000000000..3fffffffffffffff "
	  "are not covered" },
	{ { "INSERT INTO function_ranges (function, keyspace, shard) VALUES ('by_customer', "
	    "'70-90', 's0')" },
	  "function_ranges row (function=by_customer, keyspace=70-90): keyspace: overlaps 40-80" },
	/* function_ranges of a range function */
	{ { "UPDATE function_ranges SET keyspace = '-80' WHERE function = 'by_id' AND "
	    "range_from = '1000'" },
	  "function_ranges row (function=by_id, keyspace=-80): keyspace: range functions take "
	  "range_from and range_to, not keyspace" },
	{ { "UPDATE function_ranges SET range_to = '1e3' WHERE function = 'by_id' AND "
	    "range_from IS NULL" },
	  "function_ranges row (function=by_id, range_from=NULL, range_to=1e3): range_to: " INT_WANT
	  ", got \"1e3\"" },
	{ { "UPDATE function_ranges SET range_from = '9223372036854775808' WHERE function = "
	    "'by_id' AND range_from = '1000'" },
	  "function_ranges row (function=by_id, range_from=9223372036854775808, range_to=NULL): "
	  "range_from: " INT_WANT ", got \"9223372036854775808\"" },
	{ { "UPDATE function_ranges SET range_to = '-5' WHERE function = 'by_uid' AND range_from "
	    "IS NULL" },
	  "function_ranges row (function=by_uid, range_from=NULL, range_to=-5): range_to: must be "
	  "an integer 0..18446744073709551615, got \"-5\"" },
	{ { "UPDATE function_ranges SET range_to = 'a' || char(9) WHERE function = 'by_name' AND "
	    "range_from IS NULL" },
	  "function_ranges row (function=by_name, range_from=NULL, range_to=a\\x09): range_to: "
	  "must be a string without control characters, got \"a\\x09\"" },
	{ { "UPDATE function_ranges SET range_to = '-200' WHERE function = 'by_id' AND "
	    "range_from = '-100'" },
	  "function_ranges row (function=by_id, range_from=-100, range_to=-200): range_to: must "
	  "be greater than range_from (\"-100\"), got \"-200\"" },
	{ { "UPDATE function_ranges SET range_to = 'abcdefg !x' WHERE function = 'by_name' AND "
	    "range_from = 'abcdefg !'" },
	  "function_ranges row (function=by_name, range_from=abcdefg !, range_to=abcdefg !x): "
	  "range_to: must be greater than range_from (\"abcdefg !\") in its first 8 bytes after "
	  "normalization, got \"abcdefg !x\"" },
	{ { "UPDATE function_ranges SET range_to = '0' WHERE function = 'by_uid' AND range_from "
	    "IS NULL" },
	  "function_ranges row (function=by_uid, range_from=NULL, range_to=0): range_to: must be "
	  "greater than the lowest key, got \"0\"" },
	{ { "UPDATE function_ranges SET range_from = '-500' WHERE function = 'by_id' AND "
	    "range_from IS NULL" },
	  "function_ranges (function=by_id): no row has range_from NULL (the first range, from "
	  "the lowest key)" },
	{ { "INSERT INTO function_ranges (function, range_to, shard) VALUES ('by_id', '-300', "
	    "'s0')" },
	  "function_ranges row (function=by_id, range_from=NULL, range_to=-300): range_from: NULL "
	  "in more than one row; only the first range starts at the lowest key" },
	{ { "UPDATE function_ranges SET range_to = NULL WHERE function = 'by_id' AND range_from "
	    "= '-100'" },
	  "function_ranges row (function=by_id, range_from=-100, range_to=NULL): range_to: NULL, "
	  "but the range from \"1000\" follows; only the last range runs to the highest key" },
	{ { "UPDATE function_ranges SET range_from = '500' WHERE function = 'by_id' AND "
	    "range_from = '1000'" },
	  "function_ranges row (function=by_id, range_from=500, range_to=NULL): range_from: "
	  "overlaps the range before it, which ends at range_to \"1000\"" },
	{ { "UPDATE function_ranges SET range_from = '1200' WHERE function = 'by_id' AND "
	    "range_from = '1000'" },
	  "function_ranges (function=by_id): keys from \"1000\" up to \"1200\" belong to no "
	  "range" },
	{ { "UPDATE function_ranges SET range_to = '5000' WHERE function = 'by_id' AND "
	    "range_from = '1000'" },
	  "function_ranges (function=by_id): no row has range_to NULL (the last range, to the "
	  "highest key)" },
	{ { "UPDATE function_ranges SET shard = 's9' WHERE function = 'by_id' AND range_from = "
	    "'1000'" },
	  "function_ranges row (function=by_id, range_from=1000, range_to=NULL): shard: unknown "
	  "shard \"s9\"" },
	/* function_values */
	{ { "UPDATE function_values SET value = '12x' WHERE function = 'by_code' AND value = '7'" },
	  "function_values row (function=by_code, value=12x): value: " INT_WANT ", got \"12x\"" },
	{ { "INSERT INTO function_values VALUES ('by_region', 'café', 's0')" },
	  "function_values row (function=by_region, value=café): value: must be a string of "
	  "printable ASCII characters (collation ci), got \"café\"" },
	{ { "INSERT INTO function_values VALUES ('by_region', 'eu  ', 's1')" },
	  "function_values row (function=by_region, value=eu  ): value: duplicate value \"eu  \" "
	  "(also \"EU\")" },
	{ { "INSERT INTO function_values VALUES ('by_code', '007', 's1')" },
	  "function_values row (function=by_code, value=007): value: duplicate value \"007\" (also "
	  "\"7\")" },
	{ { "UPDATE function_values SET shard = 's9' WHERE value = 'EU'" },
	  "function_values row (function=by_region, value=EU): shard: unknown shard \"s9\"" },
	/* sequences */
	{ { "UPDATE sequences SET name = 'a b' WHERE name = 'other'" },
	  "sequences row (name=a b): name: " NAME_WANT ", got \"a b\"" },
	{ { "UPDATE sequences SET shard = 's9' WHERE name = 'other'" },
	  "sequences row (name=other): shard: unknown shard \"s9\"" },
	{ { "UPDATE sequences SET block = 0 WHERE name = 'other'" },
	  "sequences row (name=other): block: must be an integer 1..1000000, got \"0\"" },
	{ { "UPDATE sequences SET block = 1000001 WHERE name = 'other'" },
	  "sequences row (name=other): block: must be an integer 1..1000000, got \"1000001\"" },
	/* sharded_tables, global_tables */
	{ { "UPDATE sharded_tables SET name = " X65 " WHERE name = 'people'" },
	  "sharded_tables row (schema_name=, name=" X40 "...): name: must be 1..64 bytes long, got "
	  "65" },
	{ { "UPDATE sharded_tables SET name = '' WHERE name = 'people'" },
	  "sharded_tables row (schema_name=, name=): name: must be 1..64 bytes long, got 0" },
	{ { "UPDATE sharded_tables SET schema_name = " X65 " WHERE name = 'people'" },
	  "sharded_tables row (schema_name=" X40 "..., name=people): schema_name: must be '' (any "
	  "schema) or 1..64 bytes long, got 65" },
	{ { "UPDATE sharded_tables SET key_column = '' WHERE name = 'people'" },
	  "sharded_tables row (schema_name=, name=people): key_column: must be 1..64 bytes long, "
	  "got 0" },
	{ { "UPDATE sharded_tables SET function = 'by_custmer' WHERE schema_name = 'shop'" },
	  "sharded_tables row (schema_name=shop, name=orders): function: unknown function "
	  "\"by_custmer\"" },
	{ { "UPDATE sharded_tables SET sequence = 'nope' WHERE name = 'customers'" },
	  "sharded_tables row (schema_name=, name=customers): sequence: unknown sequence \"nope\"" },
	{ { "UPDATE sharded_tables SET function = 'by_region' WHERE name = 'customers'" },
	  "sharded_tables row (schema_name=, name=customers): sequence: a sequence needs an "
	  "integer key, but function by_region has key_type string" },
	{ { "INSERT INTO global_tables VALUES ('', 'orders')" },
	  "sharded_tables row (schema_name=, name=orders): declared twice (also in global_tables)" },
	{ { "INSERT INTO global_tables (name) VALUES ('')" },
	  "global_tables row (schema_name=, name=): name: must be 1..64 bytes long, got 0" },
	/* users, admin_users */
	{ { "DELETE FROM users" }, "users: must hold at least one user" },
	{ { "UPDATE users SET password_hash = 'secret' WHERE name = 'app'" },
	  "users row (name=app): password_hash: must be '' or '*' followed by 40 hex digits" },
	{ { "UPDATE users SET password_hash = '*' || substr(password_hash, 2, 39) || 'G' WHERE "
	    "name = 'app'" },
	  "users row (name=app): password_hash: must be '' or '*' followed by 40 hex digits" },
	{ { "UPDATE users SET name = printf('%81s', 'u') WHERE name = 'app'" },
	  "users row (name=                                        ...): name: must be 1..80 bytes "
	  "long, got 81" },
	{ { "UPDATE users SET name = '' WHERE name = 'app'" },
	  "users row (name=): name: must be 1..80 bytes long, got 0" },
	{ { "INSERT INTO admin_users VALUES ('root', '*12')" },
	  "admin_users row (name=root): password_hash: must be '' or '*' followed by 40 hex "
	  "digits" },
};
/* clang-format on */

static void
test_bad_edits(void **state)
{
	struct conf *c, *out;
	char err[ERR_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_edits) / sizeof(bad_edits[0]); i++) {
		const struct bad_edit *e = &bad_edits[i];
		struct conf_store *cs = store_with(example, &c);

		for (size_t k = 0; k < 3 && e->sql[k] != NULL; k++) {
			exec_quiet(cs, e->sql[k]);
		}
		err[0] = '\0';
		out = (struct conf *)1;
		if (cs_build(cs, c, &out, err, sizeof(err)) != MS_EINVAL ||
		    strcmp(err, e->want) != 0) {
			print_error("case %zu (%s):\n got: %s\nwant: %s\n", i, e->sql[0], err,
				    e->want);
			fail();
		}
		assert_null(out);
		conf_free(c);
		cs_close(cs);
	}
}

#define DENIED "not allowed on the admin port: "

/* What the admin port refuses, and how it says so. */
static void
test_denied(void **state)
{
	/* clang-format off */
	static const char *const cases[][2] = {
		{ "PRAGMA user_version", DENIED "PRAGMA" },
		{ "PRAGMA writable_schema = 1", DENIED "PRAGMA" },
		{ "SELECT * FROM pragma_table_info('shards')", DENIED "PRAGMA" },
		{ "ATTACH DATABASE '/tmp/x.db' AS x", DENIED "ATTACH" },
		{ "DETACH DATABASE x", DENIED "DETACH" },
		{ "CREATE TABLE t (a)", DENIED "CREATE" },
		{ "CREATE TEMP TABLE t (a)", DENIED "CREATE" },
		{ "CREATE INDEX i ON shards (user)", DENIED "CREATE" },
		{ "CREATE VIEW v AS SELECT 1", DENIED "CREATE" },
		{ "CREATE TRIGGER tr AFTER INSERT ON shards BEGIN DELETE FROM users; END",
		  DENIED "CREATE" },
		{ "DROP TABLE shards", DENIED "DROP" },
		{ "DROP TABLE IF EXISTS runtime_shards", DENIED "DROP" },
		{ "ALTER TABLE shards ADD COLUMN x", DENIED "ALTER TABLE" },
		{ "BEGIN", DENIED "BEGIN, COMMIT and ROLLBACK (each statement is its own transaction)" },
		{ "COMMIT", DENIED "BEGIN, COMMIT and ROLLBACK (each statement is its own transaction)" },
		{ "ROLLBACK", DENIED "BEGIN, COMMIT and ROLLBACK (each statement is its own transaction)" },
		{ "SAVEPOINT a", DENIED "SAVEPOINT and RELEASE (each statement is its own transaction)" },
		{ "RELEASE a", DENIED "SAVEPOINT and RELEASE (each statement is its own transaction)" },
		{ "REINDEX", DENIED "REINDEX" },
		{ "ANALYZE", DENIED "ANALYZE" },
		{ "VACUUM", DENIED "only SELECT, INSERT, UPDATE and DELETE statements" },
		{ "VACUUM INTO '/tmp/myshard-test-vacuum.db'",
		  DENIED "only SELECT, INSERT, UPDATE and DELETE statements" },
		{ "INSERT INTO runtime_shards VALUES ('x', 'u', '')", DENIED "changing runtime_shards" },
		{ "UPDATE runtime_users SET password_hash = ''", DENIED "changing runtime_users" },
		{ "DELETE FROM history", DENIED "changing history" },
		{ "UPDATE sqlite_schema SET sql = ''",
		  "staged tables: table sqlite_master may not be modified" },
		{ "INSERT INTO shards SELECT name, name, '' FROM sqlite_schema",
		  DENIED "reading sqlite_master" },
		{ "SELECT * FROM json_each('[1]')", DENIED "reading json_each" },
		{ "SELECT * FROM sqlite_schema", DENIED "reading sqlite_master" },
		{ "SELECT load_extension('/tmp/x.so')", DENIED "function load_extension" },
		{ "SELECT randomblob(1000000)", DENIED "function randomblob" },
		{ "SELECT zeroblob(10)", DENIED "function zeroblob" },
		{ "INSERT INTO shards SELECT 'x', sqlite_version(), ''", DENIED "function sqlite_version" },
		{ "SELECT 1; SELECT 2",
		  "staged tables: one statement at a time (there is more after the first)" },
		{ "DELETE FROM users; DROP TABLE shards",
		  "staged tables: one statement at a time (there is more after the first)" },
		{ "SELEC 1", "staged tables: near \"SELEC\": syntax error" },
		{ "SELECT * FROM nope", "staged tables: no such table: nope" },
		{ "-- nothing", "staged tables: empty statement" },
		{ "INSERT INTO shards VALUES ('s1', 'u', '')",
		  "staged tables: UNIQUE constraint failed: shards.name" },
		{ "UPDATE endpoints SET port = 'abc'",
		  "staged tables: cannot store TEXT value in INTEGER column endpoints.port" },
		{ "INSERT INTO shards (name) VALUES ('s9')",
		  "staged tables: NOT NULL constraint failed: shards.user" },
		{ "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
		  "SELECT count(*) FROM c", "staged tables: statement stopped: it ran too long" },
	};
	/* clang-format on */
	struct conf *c;
	struct conf_store *cs = store_with(small, &c);
	char *before = dump(cs, ""), *after;
	char err[ERR_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		exec_err(cs, cases[i][0], cases[i][1]);
	}
	/* a NUL byte inside the text */
	assert_int_equal(
		cs_exec(cs, "SELECT 1\0; DROP TABLE shards", 28, NULL, NULL, err, sizeof(err)),
		MS_EINVAL);
	assert_string_equal(err, "staged tables: NUL byte in the statement");
	after = dump(cs, "");
	assert_string_equal(before, after);
	assert_false(access("/tmp/myshard-test-vacuum.db", F_OK) == 0);
	free(before);
	free(after);
	conf_free(c);
	cs_close(cs);
}

/* What the admin port allows, and what each statement reports. */
static void
test_allowed(void **state)
{
	struct conf *c;
	struct conf_store *cs = store_with(small, &c);
	char err[ERR_LEN];
	struct rec r;

	(void)state;
	exec_ok(cs, "SELECT name, user, length(password) AS n FROM shards ORDER BY name DESC;", &r);
	assert_string_equal(r.text, "name|user|n\ns2|u|0\ns1|u|0\n");
	assert_int_equal(r.dones, 0);
	exec_ok(cs, "INSERT INTO shards VALUES ('s3', 'u', 'pw'), ('s4', 'u', '') -- two", &r);
	assert_string_equal(r.text, "");
	assert_int_equal(r.dones, 1);
	assert_int_equal(r.affected, 2);
	exec_ok(cs, "UPDATE shards SET password = 'x' WHERE name >= 's2'", &r);
	assert_int_equal(r.affected, 3);
	exec_ok(cs, "UPDATE shards SET password = 'x' WHERE name = 'none'", &r);
	assert_int_equal(r.dones, 1);
	assert_int_equal(r.affected, 0);
	exec_ok(cs, "DELETE FROM shards WHERE name IN ('s3', 's4')", &r);
	assert_int_equal(r.affected, 2);
	exec_ok(cs, "select count(*), max(port), group_concat(host, ',') from endpoints", &r);
	assert_string_equal(r.text, "count(*)|max(port)|group_concat(host, ',')\n"
				    "2|3307|127.0.0.1,127.0.0.1\n");
	exec_ok(cs, "SELECT name, collation FROM functions", &r);
	assert_string_equal(r.text, "name|collation\nby_customer|<null>\n");
	exec_ok(cs, "SELECT count(*) FROM runtime_shards", &r);
	assert_string_equal(r.text, "count(*)\n0\n");
	exec_ok(cs, "SELECT version FROM history", &r);
	assert_string_equal(r.text, "version\n");
	exec_ok(cs, "WITH x(n) AS (SELECT name FROM users) SELECT upper(n) FROM x ORDER BY 1", &r);
	assert_string_equal(r.text, "upper(n)\nAPP\nBOB\n");
	exec_ok(cs, "INSERT INTO users VALUES ('carol', '', 0) RETURNING name", &r);
	assert_string_equal(r.text, "name\ncarol\n");
	assert_int_equal(r.dones, 0);
	exec_ok(cs, "UPDATE users SET name = name || '2' WHERE name = 'carol'", &r);
	assert_int_equal(r.affected, 1);
	exec_ok(cs, "DELETE FROM users WHERE name = 'carol2'", &r);
	assert_int_equal(r.affected, 1);
	/* a callback may stop the statement; its code comes back */
	memset(&r, 0, sizeof(r));
	r.stop_after = 1;
	assert_int_equal(cs_exec(cs, "SELECT name FROM users", 22, &rec_cb, &r, err, sizeof(err)),
			 MS_EINVAL);
	assert_string_equal(r.text, "name\napp\n");
	/* no callbacks at all */
	assert_int_equal(cs_exec(cs, "SELECT 1", 8, NULL, NULL, err, sizeof(err)), MS_OK);
	conf_free(c);
	cs_close(cs);
}

static char *
diff(struct conf_store *cs)
{
	char *d = NULL;

	assert_int_equal(cs_diff(cs, &d), MS_OK);
	assert_non_null(d);
	return d;
}

static void
assert_diff(struct conf_store *cs, const char *want)
{
	char *d = diff(cs);

	assert_string_equal(d, want);
	free(d);
}

static void
commit_ok(struct conf_store *cs, uint64_t version, const char *summary)
{
	char err[ERR_LEN] = "";
	enum ms_rc rc;

	rc = cs_commit(cs, version, "root", summary, err, sizeof(err));
	if (rc != MS_OK) {
		print_error("commit: %s\n", err);
	}
	assert_int_equal(rc, MS_OK);
}

static void
test_diff(void **state)
{
	struct conf *c;
	struct conf_store *cs = store_with(small, &c);

	(void)state;
	assert_diff(cs, "shards: +s1, +s2; endpoints: +s1 127.0.0.1:3306, +s2 127.0.0.1:3307; "
			"functions: +by_customer; function_ranges: +by_customer -80, "
			"+by_customer 80-; sharded_tables: +orders; users: +app, +bob; "
			"settings: +default_shard");
	commit_ok(cs, 1, "import");
	assert_diff(cs, "no changes");
	exec_quiet(cs, "INSERT INTO shards VALUES ('s4', 'u', 'pw')");
	exec_quiet(cs, "INSERT INTO endpoints (shard, host, port) VALUES ('s4', 'db4', 3306)");
	exec_quiet(cs, "UPDATE endpoints SET port = 3310 WHERE shard = 's1'");
	exec_quiet(cs, "UPDATE endpoints SET weight = 5, state = 'paused' WHERE shard = 's2'");
	exec_quiet(cs, "UPDATE function_ranges SET shard = 's2' WHERE keyspace = '-80'");
	exec_quiet(cs, "DELETE FROM users WHERE name = 'bob'");
	exec_quiet(cs, "UPDATE users SET password_hash = '' WHERE name = 'app'");
	exec_quiet(cs, "UPDATE shards SET password = 'new', user = 'v' WHERE name = 's2'");
	exec_quiet(cs, "INSERT INTO global_tables VALUES ('shop', 'countries')");
	exec_quiet(cs, "INSERT INTO admin_users VALUES ('root', '')");
	assert_diff(cs, "shards: +s4, ~s2: user 'u' -> 'v', password changed; "
			"endpoints: -s1 127.0.0.1:3306, +s1 127.0.0.1:3310, +s4 db4:3306, "
			"~s2 127.0.0.1:3307: weight 1 -> 5, state 'up' -> 'paused'; "
			"function_ranges: ~by_customer -80: shard 's1' -> 's2'; "
			"global_tables: +shop.countries; users: -bob, ~app: password_hash changed; "
			"admin_users: +root");
	commit_ok(cs, 2, "more");
	assert_diff(cs, "no changes");
	conf_free(c);
	cs_close(cs);
}

static void
test_commit_restore(void **state)
{
	struct conf *c, *b;
	struct conf_store *cs = store_with(example, &c);
	char err[ERR_LEN] = "", *v1, *v2, *now, *live;
	uint64_t latest = 99;
	struct rec r;

	(void)state;
	assert_int_equal(cs_latest_version(cs, &latest), MS_OK);
	assert_int_equal(latest, 0);
	commit_ok(cs, 1, "first");
	v1 = dump(cs, "");
	live = dump(cs, "runtime_");
	assert_string_equal(v1, live); /* the live copy is the staged tables, rowid order too */
	free(live);
	exec_ok(cs,
		"SELECT version, admin_user, summary, length(applied_at), "
		"applied_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:"
		"[0-9][0-9]:[0-9][0-9]Z', config LIKE 'INSERT INTO shards%' FROM history",
		&r);
	assert_string_equal(strchr(r.text, '\n') + 1, "1|root|first|20|1|1\n");

	/* v2: a new shard owns half of by_customer's upper range; a user goes */
	exec_quiet(cs, "INSERT INTO shards VALUES ('s4', 'u', '')");
	exec_quiet(cs, "INSERT INTO endpoints (shard, host) VALUES ('s4', 'db4')");
	exec_quiet(cs, "UPDATE function_ranges SET keyspace = 'c0-e0' WHERE keyspace = 'c0-'");
	exec_quiet(cs, "INSERT INTO function_ranges (function, keyspace, shard) VALUES "
		       "('by_customer', 'e0-', 's4')");
	exec_quiet(cs, "DELETE FROM users WHERE name = 'guest'");
	b = build_ok(cs, c);
	assert_int_equal(b->n_shards, 5);
	conf_free(b);
	commit_ok(cs, 2, "second");
	v2 = dump(cs, "");
	assert_int_equal(cs_latest_version(cs, &latest), MS_OK);
	assert_int_equal(latest, 2);

	/* admin_users is not rolled back */
	exec_quiet(cs, "INSERT INTO admin_users VALUES ('root', '')");
	assert_int_equal(cs_restore(cs, 1, err, sizeof(err)), MS_OK);
	exec_quiet(cs, "DELETE FROM admin_users");
	now = dump(cs, "");
	assert_string_equal(now, v1);
	free(now);
	/* the live tables still hold v2: the diff undoes v2's edits */
	assert_diff(cs, "shards: -s4; endpoints: -s4 db4:3306; function_ranges: "
			"-by_customer c0-e0, -by_customer e0-, +by_customer c0-; users: +guest");
	b = build_ok(cs, c);
	assert_topology_equal(b, c);
	conf_free(b);
	assert_int_equal(cs_restore(cs, 2, err, sizeof(err)), MS_OK);
	now = dump(cs, "");
	assert_string_equal(now, v2);
	free(now);

	assert_int_equal(cs_restore(cs, 9, err, sizeof(err)), MS_EINVAL);
	assert_string_equal(err, "no version 9 in history");
	assert_int_equal(cs_commit(cs, 2, "root", "again", err, sizeof(err)), MS_EINVAL);
	assert_string_equal(err, "history: version 2 exists already");
	assert_int_equal(cs_commit(cs, 0, "root", "zero", err, sizeof(err)), MS_EINVAL);
	assert_string_equal(err, "history: version must be 1..9223372036854775807");
	now = dump(cs, ""); /* failed calls change nothing */
	assert_string_equal(now, v2);
	free(now);
	free(v1);
	free(v2);
	conf_free(c);
	cs_close(cs);
}

/* A temporary directory and the path of a store file in it. */
struct tmp_file {
	char dir[32];
	char path[64];
};

static void
tmp_file_make(struct tmp_file *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/ms_conf_store_XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/conf.db", t->dir);
}

static void
tmp_file_remove(const struct tmp_file *t)
{
	char junk[96];

	snprintf(junk, sizeof(junk), "%s/junk", t->dir);
	unlink(junk);
	unlink(t->path);
	assert_int_equal(rmdir(t->dir), 0); /* nothing else was left behind */
}

/* The example, committed as version 1, then edited (a gap in the users' rowids, an admin). */
static struct conf_store *
store_edited(struct conf **c)
{
	struct conf_store *cs = store_with(example, c);

	commit_ok(cs, 1, "first");
	exec_quiet(cs, "DELETE FROM users WHERE name = 'ro'");
	exec_quiet(cs, "INSERT INTO users VALUES ('zed', '', 0)");
	exec_quiet(cs, "INSERT INTO admin_users VALUES ('root', '')");
	return cs;
}

static void
assert_same_tables(struct conf_store *a, struct conf_store *b, const char *prefix)
{
	char *x = dump(a, prefix), *y = dump(b, prefix);

	assert_string_equal(x, y);
	free(x);
	free(y);
}

static void
test_save(void **state)
{
	char tmp[128], err[ERR_LEN] = "";
	struct conf *c, *b;
	struct conf_store *cs = store_edited(&c), *again = NULL;
	struct tmp_file t;
	struct stat st;

	(void)state;
	tmp_file_make(&t);
	snprintf(tmp, sizeof(tmp), "%s.tmp", t.path);
	assert_int_equal(cs_save(cs, t.path, err, sizeof(err)), MS_OK);
	assert_int_equal(stat(tmp, &st), -1); /* renamed away */
	/* saving again replaces the file in one step */
	exec_quiet(cs, "UPDATE shards SET password = 'pw9' WHERE name = 's0'");
	assert_int_equal(cs_save(cs, t.path, err, sizeof(err)), MS_OK);
	assert_int_equal(stat(tmp, &st), -1);
	assert_int_equal(cs_open(t.path, &again, err, sizeof(err)), MS_OK);
	assert_same_tables(cs, again, "");
	assert_same_tables(cs, again, "runtime_");
	b = build_ok(again, c);
	assert_int_equal(b->n_users, 3);
	assert_string_equal(b->users[2].name, "zed"); /* rowid order survives the copy */
	assert_string_equal(b->shards[0].password, "pw9");
	conf_free(b);
	/* the store's own file is saved as it changes: not over itself */
	assert_int_equal(cs_save(again, t.path, err, sizeof(err)), MS_EINVAL);
	assert_string_equal(strstr(err, ": is the store's own"),
			    ": is the store's own database; it is saved as it changes");
	cs_close(again);
	snprintf(tmp, sizeof(tmp), "%s/no/such/dir/x.db", t.dir);
	assert_int_equal(cs_save(cs, tmp, err, sizeof(err)), MS_EIO);
	tmp_file_remove(&t);
	conf_free(c);
	cs_close(cs);
}

/* A database at <path> that a later myshard made: schema version 3. */
static void
newer_schema(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* A store saved by schema 1 (users without require_ssl) loads, and its users gain the column
 * with 0: nobody is locked out by an upgrade. */
static void
test_load_schema1(void **state)
{
	char err[ERR_LEN] = "";
	struct conf_store *cs = store_open();
	struct tmp_file t;
	sqlite3 *db = NULL;
	struct rec r;

	(void)state;
	tmp_file_make(&t);
	assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE users (name TEXT PRIMARY KEY NOT NULL, "
				      "password_hash TEXT NOT NULL) STRICT;"
				      "INSERT INTO users VALUES ('old', '');"
				      "PRAGMA user_version = 1",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	if (cs_load(cs, t.path, err, sizeof(err)) != MS_OK) {
		print_error("%s\n", err);
		fail();
	}
	exec_ok(cs, "SELECT * FROM users", &r);
	assert_string_equal(r.text, "name|password_hash|require_ssl\nold||0\n");
	exec_ok(cs, "SELECT name, require_ssl FROM runtime_users", &r); /* created with it */
	assert_string_equal(r.text, "name|require_ssl\n");
	cs_close(cs);
	tmp_file_remove(&t);
}

static void
test_load(void **state)
{
	char junk[96], err[ERR_LEN] = "", *before, *after;
	struct conf *c;
	struct conf_store *cs = store_edited(&c), *again = store_open();
	uint64_t version = 0;
	struct tmp_file t;
	FILE *f;

	(void)state;
	tmp_file_make(&t);
	assert_int_equal(cs_save(cs, t.path, err, sizeof(err)), MS_OK);
	exec_quiet(again, "INSERT INTO users VALUES ('gone', '', 0)");
	assert_int_equal(cs_load(again, t.path, err, sizeof(err)), MS_OK);
	assert_same_tables(cs, again, "");
	assert_same_tables(cs, again, "runtime_");
	assert_int_equal(cs_latest_version(again, &version), MS_OK);
	assert_int_equal(version, 1);
	/* not a database: refused, and nothing changes */
	snprintf(junk, sizeof(junk), "%s/junk", t.dir);
	f = fopen(junk, "w");
	assert_non_null(f);
	fputs("this is not an SQLite database, not even close, really not at all\n", f);
	fclose(f);
	before = dump(again, "");
	assert_int_equal(cs_load(again, junk, err, sizeof(err)), MS_EIO);
	assert_string_equal(strstr(err, ": file is not a database"), ": file is not a database");
	assert_int_equal(cs_load(again, "/nonexistent/x.db", err, sizeof(err)), MS_EIO);
	after = dump(again, "");
	assert_string_equal(before, after);
	free(after);
	cs_close(again);
	again = NULL;
	assert_int_equal(cs_open(junk, &again, err, sizeof(err)), MS_EIO);
	assert_null(again);
	assert_string_equal(strstr(err, ": file is not a database"), ": file is not a database");
	/* a database written by a newer schema: refused by both, and nothing changes */
	assert_int_equal(unlink(junk), 0);
	newer_schema(junk);
	assert_int_equal(cs_open(junk, &again, err, sizeof(err)), MS_EIO);
	assert_string_equal(strstr(err, ": schema version"), ": schema version 3 is newer than 2");
	assert_int_equal(cs_load(cs, junk, err, sizeof(err)), MS_EIO);
	assert_string_equal(strstr(err, ": schema version"), ": schema version 3 is newer than 2");
	after = dump(cs, "");
	assert_string_equal(before, after); /* <before> was a copy of <cs>'s tables */
	free(before);
	free(after);
	tmp_file_remove(&t);
	conf_free(c);
	cs_close(cs);
}

int
main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_import_rows),
		cmocka_unit_test(test_import_replaces),
		cmocka_unit_test(test_build_defaults),
		cmocka_unit_test(test_native_hash),
		cmocka_unit_test(test_bad_edits),
		cmocka_unit_test(test_denied),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_commit_restore),
		cmocka_unit_test(test_save),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_schema1),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, NULL, NULL);
}
