/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/conf/test_conf_sharding.c - the sharding: section: the map a good file builds
 * (functions, keyspace-id ranges, list values, tables, sequences, default shard, routing through
 * the built map) and the exact message for each kind of bad section. No files, no sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

/* Lines 1-3 users, 4-7 three shards, 8 "sharding:"; a case's own text starts on line 9. */
#define USERS "users:\n  - name: app\n    password: secret\n"
#define SHARDS                                                                                     \
	"shards:\n  - {name: s0, host: h, user: u}\n  - {name: s1, host: h, user: u}\n"            \
	"  - {name: s2, host: h, user: u}\n"
#define HEAD USERS SHARDS "sharding:\n"

/* A hash function over the whole keyspace on lines 9-14, and a range one on lines 9-15. */
#define FUNC_HASH                                                                                  \
	"  functions:\n    - name: f\n      kind: hash\n      key_type: int\n      ranges:\n"      \
	"        - {keyspace: \"-\", shard: s0}\n"
#define FUNC_STR                                                                                   \
	"  functions:\n    - name: g\n      kind: hash\n      key_type: string\n      ranges:\n"   \
	"        - {keyspace: \"-\", shard: s0}\n"

#define SIGN 0x8000000000000000ull

static struct conf *
load_ok(const char *text)
{
	char err[CONF_ERR_LEN] = "";
	struct conf *c = NULL;
	enum ms_rc rc;

	rc = conf_load_string(text, strlen(text), "t.yaml", &c, err, sizeof(err));
	if (rc != MS_OK) {
		print_error("unexpected error: %s\n", err);
	}
	assert_int_equal(rc, MS_OK);
	assert_non_null(c);
	return c;
}

/* clang-format off */
static const char example[] =
	HEAD
	"  default_shard: s0\n"
	"  functions:\n"
	"    - name: by_customer\n"
	"      kind: hash\n"
	"      key_type: int\n"
	"      ranges:\n"
	"        - {keyspace: \"80-\", shard: s1}\n"
	"        - {keyspace: \"-80\", shard: s0}\n"
	"    - name: by_id\n"
	"      kind: range\n"
	"      key_type: int\n"
	"      ranges:\n"
	"        - {to: 1000, shard: s0}\n"
	"        - {from: 1000, to: 5000, shard: s1}\n"
	"        - {from: 5000, shard: s2}\n"
	"    - name: by_region\n"
	"      kind: list\n"
	"      key_type: string\n"
	"      collation: ci\n"
	"      values:\n"
	"        - {value: eu, shard: s0}\n"
	"        - {value: \"US  \", shard: s1}\n"
	"        - {value: apac, shard: s2}\n"
	"  tables:\n"
	"    - {name: customers, key: id, function: by_customer, sequence: customers_id}\n"
	"    - {name: orders, key: customer_id, function: by_customer, schema: shop}\n"
	"    - {name: orders, key: id, function: by_id}\n"
	"  global_tables:\n"
	"    - {name: countries}\n"
	"  sequences:\n"
	"    - {name: customers_id, shard: s1, block: 500}\n"
	"    - {name: other}\n";
/* clang-format on */

static size_t
route(const struct topo_func *f, struct topo_value v)
{
	size_t shard = 99;

	assert_int_equal(topo_route_value(f, &v, &shard), TOPO_ROUTE_OK);
	return shard;
}

static struct topo_value
v_int(int64_t i)
{
	struct topo_value v = { .kind = TOPO_VAL_INT, .neg = i < 0 };

	v.u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
	return v;
}

static struct topo_value
v_str(const char *s)
{
	struct topo_value v = { .kind = TOPO_VAL_STRING, .str = s, .len = strlen(s) };

	return v;
}

static void
check_example_funcs(const struct topo_map *m)
{
	const struct topo_func *f = m->funcs;

	assert_int_equal(m->n_funcs, 3);
	assert_string_equal(f[0].name, "by_customer");
	assert_int_equal(f[0].kind, TOPO_FUNC_HASH);
	assert_int_equal(f[0].key_type, TOPO_KEY_INT);
	assert_false(f[0].ci);
	assert_int_equal(f[0].n_ranges, 2); /* sorted by keyspace id */
	assert_int_equal(f[0].ranges[0].lo, 0);
	assert_int_equal(f[0].ranges[0].hi, 0x7fffffffffffffffull);
	assert_int_equal(f[0].ranges[0].shard, 0);
	assert_int_equal(f[0].ranges[1].lo, SIGN);
	assert_int_equal(f[0].ranges[1].hi, UINT64_MAX);
	assert_int_equal(f[0].ranges[1].shard, 1);
	assert_int_equal(f[1].kind, TOPO_FUNC_RANGE);
	assert_int_equal(f[1].n_ranges, 3);
	assert_int_equal(f[1].ranges[0].hi, (SIGN ^ 1000) - 1);
	assert_int_equal(f[1].ranges[1].lo, SIGN ^ 1000);
	assert_int_equal(f[1].ranges[1].hi, (SIGN ^ 5000) - 1);
	assert_int_equal(f[1].ranges[2].lo, SIGN ^ 5000);
	assert_int_equal(f[1].ranges[2].hi, UINT64_MAX);
	assert_int_equal(f[1].ranges[2].shard, 2);
	assert_int_equal(f[2].kind, TOPO_FUNC_LIST);
	assert_int_equal(f[2].key_type, TOPO_KEY_STRING);
	assert_true(f[2].ci);
	assert_int_equal(f[2].n_list, 3); /* normalized, sorted by (len, bytes) */
	assert_string_equal(f[2].list[0].value, "EU");
	assert_string_equal(f[2].list[1].value, "US");
	assert_int_equal(f[2].list[1].shard, 1);
	assert_string_equal(f[2].list[2].value, "APAC");
	assert_int_equal(f[2].list[2].len, 4);
	/* routing through the built map */
	assert_int_equal(route(&f[0], v_int(42)), 1); /* keyspace id 0xacc8ab6be9a9c010 */
	assert_int_equal(route(&f[0], v_int(0)), 0);  /* 0x05fe405753166f12 */
	assert_int_equal(route(&f[1], v_int(-7)), 0);
	assert_int_equal(route(&f[1], v_str("4999")), 1);
	assert_int_equal(route(&f[1], v_int(5000)), 2);
	assert_int_equal(route(&f[2], v_str("Us")), 1);
}

static void
check_example_tables(const struct topo_map *m)
{
	const struct topo_table *t = m->tables;

	assert_int_equal(m->n_tables, 4); /* by name, then schema, schema-less last */
	assert_string_equal(t[0].name, "countries");
	assert_int_equal(t[0].kind, TOPO_TABLE_GLOBAL);
	assert_null(t[0].key);
	assert_null(t[0].schema);
	assert_int_equal(t[0].sequence, -1);
	assert_string_equal(t[1].name, "customers");
	assert_string_equal(t[1].key, "id");
	assert_int_equal(t[1].func, 0);
	assert_int_equal(t[1].sequence, 0);
	assert_string_equal(t[2].name, "orders");
	assert_string_equal(t[2].schema, "shop");
	assert_string_equal(t[2].key, "customer_id");
	assert_int_equal(t[2].func, 0); /* co-located with customers */
	assert_int_equal(t[2].sequence, -1);
	assert_null(t[3].schema);
	assert_int_equal(t[3].func, 1);
	assert_ptr_equal(topo_table_find(m, "shop", 4, "orders", 6), &t[2]);
	assert_ptr_equal(topo_table_find(m, "app", 3, "orders", 6), &t[3]);
	assert_true(topo_table_name_known(m, "countries", 9));
	assert_int_equal(m->n_sequences, 2);
	assert_string_equal(m->sequences[0].name, "customers_id");
	assert_int_equal(m->sequences[0].shard, 1);
	assert_int_equal(m->sequences[0].block, 500);
	assert_string_equal(m->sequences[1].name, "other");
	assert_int_equal(m->sequences[1].shard, 0); /* the default shard */
	assert_int_equal(m->sequences[1].block, 1000);
	assert_int_equal(m->default_shard, 0);
}

static void
test_example(void **state)
{
	struct conf *c = load_ok(example);
	struct topo_map copy;

	check_example_funcs(&c->map);
	check_example_tables(&c->map);
	assert_int_equal(topo_map_clone(&c->map, &copy), MS_OK);
	conf_free(c);
	check_example_funcs(&copy); /* the copy owns everything it needs */
	check_example_tables(&copy);
	topo_map_deinit(&copy);
}

static void
test_absent(void **state)
{
	struct conf *c = load_ok(USERS SHARDS);

	assert_null(c->map.funcs);
	assert_int_equal(c->map.n_funcs, 0);
	assert_int_equal(c->map.n_tables, 0);
	assert_int_equal(c->map.n_sequences, 0);
	assert_int_equal(c->map.default_shard, 0);
	conf_free(c);
	c = load_ok(USERS SHARDS "sharding: {}\n");
	assert_int_equal(c->map.n_funcs, 0);
	assert_int_equal(c->map.default_shard, 0);
	conf_free(c);
	c = load_ok(HEAD "  functions: []\n  tables: []\n  global_tables: []\n  sequences: []\n");
	assert_int_equal(c->map.n_funcs, 0);
	assert_int_equal(c->map.n_tables, 0);
	conf_free(c);
}

/* default_shard moves the sequences' default; uint and string range functions; int lists. */
static void
test_other_functions(void **state)
{
	/* clang-format off */
	static const char text[] = HEAD
		"  default_shard: s2\n"
		"  functions:\n"
		"    - {name: u, kind: range, key_type: uint, ranges: [{to: 10, shard: s0},"
		" {from: \"10\", shard: s1}]}\n"
		"    - {name: s, kind: range, key_type: string, ranges: [{to: m, shard: s0},"
		" {from: \"m  \", to: \"t\", shard: s1}, {from: t, shard: s2}]}\n"
		"    - {name: l, kind: list, key_type: int, values: [{value: -1, shard: s0},"
		" {value: \"7\", shard: s1}]}\n"
		"    - {name: one, kind: hash, key_type: uint, ranges: [{keyspace: \"-\", shard: s1}]}\n"
		"    - {name: bin, kind: hash, key_type: string, collation: bin,"
		" ranges: [{keyspace: \"-\", shard: s1}]}\n"
		"  sequences:\n"
		"    - {name: q}\n"
		"  tables:\n"
		"    - {name: t, key: k, function: u, sequence: q}\n";
	/* clang-format on */
	struct conf *c = load_ok(text);
	const struct topo_func *f = c->map.funcs;

	assert_int_equal(c->map.default_shard, 2);
	assert_int_equal(c->map.sequences[0].shard, 2);
	assert_int_equal(f[0].ranges[0].hi, 9);
	assert_int_equal(f[0].ranges[1].lo, 10);
	assert_int_equal(f[1].ranges[1].lo, 0x6d00000000000000ull);
	assert_int_equal(f[1].ranges[1].hi, 0x7400000000000000ull - 1);
	assert_int_equal(route(&f[1], v_str("pear")), 1);
	assert_int_equal(route(&f[1], v_str("zoo")), 2);
	assert_int_equal(f[2].n_list, 2);
	assert_int_equal(route(&f[2], v_int(7)), 1);
	assert_int_equal(route(&f[2], v_str("-1")), 0);
	assert_int_equal(f[3].n_ranges, 1);
	assert_int_equal(route(&f[3], v_int(12345)), 1);
	assert_false(f[4].ci);
	conf_free(c);
}

/* 256 shards are fine, 257 are not (shard sets are 256-bit maps). */
static void
test_shard_limit(void **state)
{
	char err[CONF_ERR_LEN];
	size_t cap = 64 + 40 * 257, o = 0;
	char *text = malloc(cap);
	struct conf *c = NULL;

	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, USERS "shards:\n");
	for (int i = 0; i < 257; i++) {
		o += (size_t)snprintf(text + o, cap - o, "  - {name: s%d, host: h, user: u}\n", i);
	}
	assert_true(o < cap);
	assert_int_equal(conf_load_string(text, o, "t.yaml", &c, err, sizeof(err)), MS_EINVAL);
	assert_string_equal(err, "t.yaml:5: shards: must list at most 256 shards, got 257");
	o -= strlen("  - {name: s256, host: h, user: u}\n");
	assert_int_equal(conf_load_string(text, o, "t.yaml", &c, err, sizeof(err)), MS_OK);
	assert_int_equal(c->n_shards, 256);
	conf_free(c);
	free(text);
}

struct bad_case {
	const char *name; /* what the case is about */
	const char *text; /* the file */
	const char *err;  /* the exact message, file name "t.yaml" */
};

/* clang-format off */
#define F0 "sharding.functions[0]"
#define KSPEC_WANT "must be a keyspace-id range such as \"-80\", \"40-80\", \"80-\" or \"-\" " \
	"(an even number of hex digits, at most 16, on each side; start below end)"
#define INT_WANT "must be an integer -9223372036854775808..9223372036854775807"
#define NAME_WANT "must be 1..64 characters from A-Z a-z 0-9 _ -"
#define LONG_65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* A function head (name, kind, key_type) on lines 9-10, then its ranges/values from line 11. */
#define FN(kind, type) "  functions:\n    - {name: f, kind: " kind ", key_type: " type ",\n"
#define RANGES(...) "       ranges: [" __VA_ARGS__ "]}\n"
#define VALUES(...) "       values: [" __VA_ARGS__ "]}\n"

static const struct bad_case bad_cases[] = {
	/* the section itself */
	{ "sharding not a mapping", USERS SHARDS "sharding: [a]\n",
	  "t.yaml:8: sharding: must be a mapping, got a list" },
	{ "unknown sharding key", HEAD "  defaults: 1\n",
	  "t.yaml:9: sharding.defaults: unknown key (known: default_shard, functions, tables, "
	  "global_tables, sequences)" },
	{ "unknown default shard", HEAD "  default_shard: s9\n",
	  "t.yaml:9: sharding.default_shard: unknown shard \"s9\"" },
	{ "default shard without a value", HEAD "  default_shard:\n",
	  "t.yaml:9: sharding.default_shard: must be a shard name, got no value" },
	{ "functions not a list", HEAD "  functions: {}\n",
	  "t.yaml:9: sharding.functions: must be a list, got a mapping" },
	/* function heads */
	{ "function without a name", HEAD "  functions:\n    - {kind: hash, key_type: int}\n",
	  "t.yaml:10: " F0 ".name: missing required key" },
	{ "function without a kind", HEAD "  functions:\n    - {name: f, key_type: int}\n",
	  "t.yaml:10: " F0 ".kind: missing required key" },
	{ "function without a key_type", HEAD "  functions:\n    - {name: f, kind: hash}\n",
	  "t.yaml:10: " F0 ".key_type: missing required key" },
	{ "bad function name", HEAD "  functions:\n    - {name: by x, kind: hash, key_type: int}\n",
	  "t.yaml:10: " F0 ".name: " NAME_WANT ", got \"by x\"" },
	{ "function name too long",
	  HEAD "  functions:\n    - {name: " LONG_65 ", kind: hash, key_type: int}\n",
	  "t.yaml:10: " F0 ".name: " NAME_WANT ", got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" },
	{ "duplicate function name",
	  HEAD FUNC_HASH "    - {name: f, kind: hash, key_type: int}\n",
	  "t.yaml:15: sharding.functions[1].name: duplicate function \"f\" (also functions[0])" },
	{ "unknown function key", HEAD "  functions:\n    - {name: f, shards: 2}\n",
	  "t.yaml:10: " F0 ".shards: unknown key (known: name, kind, key_type, collation, ranges, "
	  "values)" },
	{ "bad kind", HEAD "  functions:\n    - {name: f, kind: modulo, key_type: int}\n",
	  "t.yaml:10: " F0 ".kind: must be one of hash, range, list, got \"modulo\"" },
	{ "bad key_type", HEAD "  functions:\n    - {name: f, kind: hash, key_type: float}\n",
	  "t.yaml:10: " F0 ".key_type: must be one of int, uint, string, got \"float\"" },
	{ "collation on an int key",
	  HEAD "  functions:\n    - {name: f, kind: hash, key_type: int,\n       collation: ci}\n",
	  "t.yaml:11: " F0 ".collation: only string keys have a collation (key_type is int)" },
	{ "collation on a uint key",
	  HEAD "  functions:\n    - {name: f, kind: list, key_type: uint, collation: bin}\n",
	  "t.yaml:10: " F0 ".collation: only string keys have a collation (key_type is uint)" },
	{ "bad collation",
	  HEAD "  functions:\n    - {name: f, kind: hash, key_type: string, collation: utf8}\n",
	  "t.yaml:10: " F0 ".collation: must be one of ci, bin, got \"utf8\"" },
	{ "hash without ranges", HEAD FN("hash", "int") "       }\n",
	  "t.yaml:10: " F0 ".ranges: missing required key" },
	{ "hash with values", HEAD FN("hash", "int") VALUES("{value: 1, shard: s0}"),
	  "t.yaml:11: " F0 ".values: hash functions take ranges, not values" },
	{ "range with values", HEAD FN("range", "int") VALUES("{value: 1, shard: s0}"),
	  "t.yaml:11: " F0 ".values: range functions take ranges, not values" },
	{ "list with ranges", HEAD FN("list", "int") RANGES("{keyspace: \"-\", shard: s0}"),
	  "t.yaml:11: " F0 ".ranges: list functions take values, not ranges" },
	{ "list without values", HEAD FN("list", "int") "       }\n",
	  "t.yaml:10: " F0 ".values: missing required key" },
	/* hash ranges */
	{ "empty ranges", HEAD FN("hash", "int") RANGES(""),
	  "t.yaml:11: " F0 ".ranges: must list at least one range" },
	{ "ranges not a list", HEAD FN("hash", "int") "       ranges: {keyspace: \"-\"}}\n",
	  "t.yaml:11: " F0 ".ranges: must be a list, got a mapping" },
	{ "range is a scalar", HEAD FN("hash", "int") RANGES("\"-\""),
	  "t.yaml:11: " F0 ".ranges[0]: must be a mapping, got \"-\"" },
	{ "odd hex digits", HEAD FN("hash", "int") RANGES("{keyspace: \"8-\", shard: s0}"),
	  "t.yaml:11: " F0 ".ranges[0].keyspace: " KSPEC_WANT ", got \"8-\"" },
	{ "keyspace start above end", HEAD FN("hash", "int") RANGES("{keyspace: 80-40, shard: s0}"),
	  "t.yaml:11: " F0 ".ranges[0].keyspace: " KSPEC_WANT ", got \"80-40\"" },
	{ "keyspace not hex", HEAD FN("hash", "int") RANGES("{keyspace: x0-, shard: s0}"),
	  "t.yaml:11: " F0 ".ranges[0].keyspace: " KSPEC_WANT ", got \"x0-\"" },
	{ "range without a shard", HEAD FN("hash", "int") RANGES("{keyspace: \"-\"}"),
	  "t.yaml:11: " F0 ".ranges[0].shard: missing required key" },
	{ "range without a keyspace", HEAD FN("hash", "int") RANGES("{shard: s0}"),
	  "t.yaml:11: " F0 ".ranges[0].keyspace: missing required key" },
	{ "range on an unknown shard", HEAD FN("hash", "int") RANGES("{keyspace: \"-\", shard: s3}"),
	  "t.yaml:11: " F0 ".ranges[0].shard: unknown shard \"s3\"" },
	{ "hash range with from", HEAD FN("hash", "int") RANGES("{from: 1, shard: s0}"),
	  "t.yaml:11: " F0 ".ranges[0].from: unknown key (known: keyspace, shard)" },
	{ "overlap (the example)",
	  HEAD "  functions:\n    - name: f\n      kind: hash\n      key_type: int\n      ranges:\n"
	  "        - {keyspace: 40-90, shard: s0}\n"
	  "        - {keyspace: 70-80, shard: s1}\n"
	  "        - {keyspace: \"-40\", shard: s2}\n"
	  "        - {keyspace: 90-, shard: s2}\n",
	  "t.yaml:15: " F0 ".ranges[1]: keyspace range 70-80 overlaps 40-90 (ranges[0])" },
	{ "overlap, later range starts lower",
	  HEAD "  functions:\n    - name: f\n      kind: hash\n      key_type: int\n      ranges:\n"
	  "        - {keyspace: 70-80, shard: s0}\n"
	  "        - {keyspace: \"-\", shard: s1}\n",
	  "t.yaml:15: " F0 ".ranges[1]: keyspace range - overlaps 70-80 (ranges[0])" },
	{ "same range twice",
	  HEAD FN("hash", "int") RANGES("{keyspace: \"-80\", shard: s0}, {keyspace: 80-, shard: s1},"
					" {keyspace: \"-80\", shard: s2}"),
	  "t.yaml:11: " F0 ".ranges[2]: keyspace range -80 overlaps -80 (ranges[0])" },
	{ "gap at the end", HEAD FN("hash", "int") RANGES("{keyspace: \"-80\", shard: s0}"),
	  "t.yaml:11: " F0 ".ranges: keyspace ids 8000000000000000..ffffffffffffffff belong to no "
	  "shard" },
	{ "gap at the start", HEAD FN("hash", "int") RANGES("{keyspace: 80-, shard: s0}"),
	  "t.yaml:11: " F0 ".ranges: keyspace ids 0000000000000000..7fffffffffffffff belong to no "
	  "shard" },
	{ "gap in the middle",
	  HEAD FN("hash", "int") RANGES("{keyspace: c0-, shard: s0}, {keyspace: \"-40\", shard: s1}"),
	  "t.yaml:11: " F0 ".ranges: keyspace ids 4000000000000000..bfffffffffffffff belong to no "
	  "shard" },
	{ "one id missing",
	  HEAD FN("hash", "int") RANGES("{keyspace: \"-ffffffffffffffff\", shard: s0}"),
	  "t.yaml:11: " F0 ".ranges: keyspace ids ffffffffffffffff..ffffffffffffffff belong to no "
	  "shard" },
	/* range functions */
	{ "first range with from",
	  HEAD FN("range", "int") RANGES("{from: 0, to: 10, shard: s0}, {from: 10, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].from: the first range has no from: it starts at the lowest key" },
	{ "last range with to",
	  HEAD FN("range", "int") RANGES("{to: 10, shard: s0}, {from: 10, to: 20, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[1].to: the last range has no to: it runs to the highest key" },
	{ "middle range without from",
	  HEAD FN("range", "int") RANGES("{to: 10, shard: s0}, {to: 20, shard: s1}, {from: 20, shard: s2}"),
	  "t.yaml:11: " F0 ".ranges[1].from: missing required key" },
	{ "first range without to",
	  HEAD FN("range", "int") RANGES("{shard: s0}, {from: 20, shard: s2}"),
	  "t.yaml:11: " F0 ".ranges[0].to: missing required key" },
	{ "range without a shard", HEAD FN("range", "int") RANGES("{}"),
	  "t.yaml:11: " F0 ".ranges[0].shard: missing required key" },
	{ "range function with keyspace", HEAD FN("range", "int") RANGES("{keyspace: \"-\"}"),
	  "t.yaml:11: " F0 ".ranges[0].keyspace: unknown key (known: from, to, shard)" },
	{ "gap between ranges",
	  HEAD FN("range", "int") RANGES("{to: 1000, shard: s0},\n        {from: 1200, shard: s1}"),
	  "t.yaml:12: " F0 ".ranges[1].from: must be equal to ranges[0].to (\"1000\"), got \"1200\"" },
	{ "overlapping ranges",
	  HEAD FN("range", "int") RANGES("{to: 1000, shard: s0}, {from: 999, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[1].from: must be equal to ranges[0].to (\"1000\"), got \"999\"" },
	{ "range going down",
	  HEAD FN("range", "int") RANGES("{to: 5000, shard: s0}, {from: 5000, to: 1000, shard: s1},"
					 " {from: 1000, shard: s2}"),
	  "t.yaml:11: " F0 ".ranges[1].to: must be greater than from (\"5000\"), got \"1000\"" },
	{ "empty range",
	  HEAD FN("range", "int") RANGES("{to: 5, shard: s0}, {from: 5, to: 5, shard: s1},"
					 " {from: 5, shard: s2}"),
	  "t.yaml:11: " F0 ".ranges[1].to: must be greater than from (\"5\"), got \"5\"" },
	{ "first range empty",
	  HEAD FN("range", "int") RANGES("{to: -9223372036854775808, shard: s0},"
					 " {from: -9223372036854775808, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: must be greater than the lowest key, got "
	  "\"-9223372036854775808\"" },
	{ "int bound not an integer", HEAD FN("range", "int") RANGES("{to: abc, shard: s0}, {from: abc, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: " INT_WANT ", got \"abc\"" },
	{ "int bound with a fraction", HEAD FN("range", "int") RANGES("{to: 1.5, shard: s0}, {from: 1.5, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: " INT_WANT ", got \"1.5\"" },
	{ "int bound too big",
	  HEAD FN("range", "int") RANGES("{to: 9223372036854775808, shard: s0}, {from: 0, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: " INT_WANT ", got \"9223372036854775808\"" },
	{ "int bound too small",
	  HEAD FN("range", "int") RANGES("{to: -9223372036854775809, shard: s0}, {from: 0, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: " INT_WANT ", got \"-9223372036854775809\"" },
	{ "int bound beyond 64 bits",
	  HEAD FN("range", "int") RANGES("{to: 99999999999999999999, shard: s0}, {from: 0, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: " INT_WANT ", got \"99999999999999999999\"" },
	{ "uint bound negative",
	  HEAD FN("range", "uint") RANGES("{to: -1, shard: s0}, {from: -1, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: must be an integer 0..18446744073709551615, got \"-1\"" },
	{ "int bound is a list", HEAD FN("range", "int") RANGES("{to: [1], shard: s0}, {from: 1, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: " INT_WANT ", got a list" },
	{ "string bound with a control character",
	  HEAD FN("range", "string") RANGES("{to: \"a\\x01\", shard: s0}, {from: a, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: must be a string without control characters, got "
	  "\"a\\x01\"" },
	{ "non-ASCII bound under ci",
	  HEAD "  functions:\n    - {name: f, kind: range, key_type: string, collation: ci,\n"
	  RANGES("{to: \"\xc3\xa9\", shard: s0}, {from: a, shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: must be a string of printable ASCII characters "
	  "(collation ci), got \"\xc3\xa9\"" },
	{ "string range empty after normalization",
	  HEAD "  functions:\n    - {name: f, kind: range, key_type: string, collation: ci,\n"
	  RANGES("{to: abc, shard: s0}, {from: ABC, to: \"abc \", shard: s1}, {from: b, shard: s2}"),
	  "t.yaml:11: " F0 ".ranges[1].to: must be greater than from (\"ABC\") in its first 8 bytes "
	  "after normalization, got \"abc \"" },
	{ "string range equal in 8 bytes",
	  HEAD FN("range", "string") RANGES("{to: abcdefgh1, shard: s0},"
					    " {from: abcdefgh1, to: abcdefgh2, shard: s1},"
					    " {from: abcdefgh2, shard: s2}"),
	  "t.yaml:11: " F0 ".ranges[1].to: must be greater than from (\"abcdefgh1\") in its first 8 "
	  "bytes after normalization, got \"abcdefgh2\"" },
	{ "string range empty at the start", HEAD FN("range", "string") RANGES("{to: \"\", shard: s0}, {from: \"\", shard: s1}"),
	  "t.yaml:11: " F0 ".ranges[0].to: must be greater than the lowest key, got \"\"" },
	/* list functions */
	{ "empty values", HEAD FN("list", "string") VALUES(""),
	  "t.yaml:11: " F0 ".values: must list at least one value" },
	{ "value without a shard", HEAD FN("list", "string") VALUES("{value: eu}"),
	  "t.yaml:11: " F0 ".values[0].shard: missing required key" },
	{ "value without a value", HEAD FN("list", "string") VALUES("{shard: s0}"),
	  "t.yaml:11: " F0 ".values[0].value: missing required key" },
	{ "unknown value key", HEAD FN("list", "string") VALUES("{value: eu, shard: s0, weight: 1}"),
	  "t.yaml:11: " F0 ".values[0].weight: unknown key (known: value, shard)" },
	{ "value on an unknown shard", HEAD FN("list", "string") VALUES("{value: eu, shard: S0}"),
	  "t.yaml:11: " F0 ".values[0].shard: unknown shard \"S0\"" },
	{ "duplicate value under ci",
	  HEAD "  functions:\n    - {name: f, kind: list, key_type: string, collation: ci,\n"
	  "       values: [{value: eu, shard: s0}, {value: us, shard: s1},\n"
	  "                {value: \"EU  \", shard: s2}]}\n",
	  "t.yaml:12: " F0 ".values[2].value: duplicate value \"EU  \" (also values[0])" },
	{ "duplicate int value",
	  HEAD FN("list", "int") VALUES("{value: 42, shard: s0}, {value: \"042\", shard: s1}"),
	  "t.yaml:11: " F0 ".values[1].value: duplicate value \"042\" (also values[0])" },
	{ "the first duplicate in the file is named",
	  HEAD FN("list", "string") VALUES("{value: b, shard: s0}, {value: a, shard: s1},"
					   " {value: a, shard: s0}, {value: b, shard: s1}"),
	  "t.yaml:11: " F0 ".values[2].value: duplicate value \"a\" (also values[1])" },
	{ "int value not an integer", HEAD FN("list", "int") VALUES("{value: 4.5, shard: s0}"),
	  "t.yaml:11: " F0 ".values[0].value: " INT_WANT ", got \"4.5\"" },
	{ "non-ASCII value under ci",
	  HEAD "  functions:\n    - {name: f, kind: list, key_type: string, collation: ci,\n"
	  VALUES("{value: \"caf\xc3\xa9\", shard: s0}"),
	  "t.yaml:11: " F0 ".values[0].value: must be a string of printable ASCII characters "
	  "(collation ci), got \"caf\xc3\xa9\"" },
	/* tables */
	{ "tables not a list", HEAD "  tables: {name: t}\n",
	  "t.yaml:9: sharding.tables: must be a list, got a mapping" },
	{ "global_tables not a list", HEAD "  global_tables: t\n",
	  "t.yaml:9: sharding.global_tables: must be a list, got \"t\"" },
	{ "table without a name", HEAD FUNC_HASH "  tables:\n    - {key: id, function: f}\n",
	  "t.yaml:16: sharding.tables[0].name: missing required key" },
	{ "table without a key", HEAD FUNC_HASH "  tables:\n    - {name: t, function: f}\n",
	  "t.yaml:16: sharding.tables[0].key: missing required key" },
	{ "table without a function", HEAD FUNC_HASH "  tables:\n    - {name: t, key: id}\n",
	  "t.yaml:16: sharding.tables[0].function: missing required key" },
	{ "table on an unknown function", HEAD FUNC_HASH "  tables:\n    - {name: t, key: id, function: g}\n",
	  "t.yaml:16: sharding.tables[0].function: unknown function \"g\"" },
	{ "table without functions", HEAD "  tables:\n    - {name: t, key: id, function: f}\n",
	  "t.yaml:10: sharding.tables[0].function: unknown function \"f\"" },
	{ "unknown table key", HEAD FUNC_HASH "  tables:\n    - {name: t, key: id, function: f, shard: s0}\n",
	  "t.yaml:16: sharding.tables[0].shard: unknown key (known: name, schema, key, function, "
	  "sequence)" },
	{ "global table with a key", HEAD "  global_tables:\n    - {name: t, key: id}\n",
	  "t.yaml:10: sharding.global_tables[0].key: unknown key (known: name, schema)" },
	{ "global table without a name", HEAD "  global_tables:\n    - {schema: s}\n",
	  "t.yaml:10: sharding.global_tables[0].name: missing required key" },
	{ "table on an unknown sequence",
	  HEAD FUNC_HASH "  tables:\n    - {name: t, key: id, function: f, sequence: q}\n",
	  "t.yaml:16: sharding.tables[0].sequence: unknown sequence \"q\"" },
	{ "sequence for a string key",
	  HEAD FUNC_STR "  sequences: [{name: q}]\n  tables:\n    - {name: t, key: id, function: g, sequence: q}\n",
	  "t.yaml:17: sharding.tables[0].sequence: a sequence needs an integer key, but function g "
	  "has key_type string" },
	{ "empty table name", HEAD "  global_tables:\n    - {name: \"\"}\n",
	  "t.yaml:10: sharding.global_tables[0].name: must be 1..64 bytes long, got 0" },
	{ "table name too long", HEAD "  global_tables:\n    - {name: " LONG_65 "}\n",
	  "t.yaml:10: sharding.global_tables[0].name: must be 1..64 bytes long, got 65" },
	{ "schema too long", HEAD "  global_tables:\n    - {name: t, schema: " LONG_65 "}\n",
	  "t.yaml:10: sharding.global_tables[0].schema: must be 1..64 bytes long, got 65" },
	{ "key column empty", HEAD FUNC_HASH "  tables:\n    - {name: t, key: \"\", function: f}\n",
	  "t.yaml:16: sharding.tables[0].key: must be 1..64 bytes long, got 0" },
	{ "sharded table twice",
	  HEAD FUNC_HASH "  tables:\n    - {name: t, key: id, function: f}\n"
	  "    - {name: t, key: id2, function: f}\n",
	  "t.yaml:17: sharding.tables[1].name: duplicate table \"t\" (also tables[0])" },
	{ "sharded and global",
	  HEAD FUNC_HASH "  global_tables:\n    - {name: t}\n"
	  "  tables:\n    - {name: u, key: id, function: f}\n    - {name: t, key: id, function: f}\n",
	  "t.yaml:16: sharding.global_tables[0].name: duplicate table \"t\" (also tables[1])" },
	{ "global table twice in one schema",
	  HEAD "  global_tables:\n    - {name: t, schema: s}\n    - {name: t}\n    - {name: t, schema: s}\n",
	  "t.yaml:12: sharding.global_tables[2].name: duplicate table \"s.t\" (also global_tables[0])" },
	/* sequences */
	{ "sequences not a list", HEAD "  sequences: q\n",
	  "t.yaml:9: sharding.sequences: must be a list, got \"q\"" },
	{ "sequence without a name", HEAD "  sequences:\n    - {shard: s0}\n",
	  "t.yaml:10: sharding.sequences[0].name: missing required key" },
	{ "bad sequence name", HEAD "  sequences:\n    - {name: \"a.b\"}\n",
	  "t.yaml:10: sharding.sequences[0].name: " NAME_WANT ", got \"a.b\"" },
	{ "duplicate sequence", HEAD "  sequences:\n    - {name: q}\n    - {name: q}\n",
	  "t.yaml:11: sharding.sequences[1].name: duplicate sequence \"q\" (also sequences[0])" },
	{ "sequence on an unknown shard", HEAD "  sequences:\n    - {name: q, shard: x}\n",
	  "t.yaml:10: sharding.sequences[0].shard: unknown shard \"x\"" },
	{ "sequence block 0", HEAD "  sequences:\n    - {name: q, block: 0}\n",
	  "t.yaml:10: sharding.sequences[0].block: must be an integer 1..1000000, got \"0\"" },
	{ "sequence block too big", HEAD "  sequences:\n    - {name: q, block: 1000001}\n",
	  "t.yaml:10: sharding.sequences[0].block: must be an integer 1..1000000, got \"1000001\"" },
	{ "unknown sequence key", HEAD "  sequences:\n    - {name: q, start: 1}\n",
	  "t.yaml:10: sharding.sequences[0].start: unknown key (known: name, shard, block)" },
};
/* clang-format on */

static void
test_bad_sharding(void **state)
{
	char err[CONF_ERR_LEN];
	struct conf *c;
	enum ms_rc rc;

	for (size_t i = 0; i < MS_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *b = &bad_cases[i];

		c = (struct conf *)&c; /* must be reset to NULL */
		memset(err, 'x', sizeof(err));
		rc = conf_load_string(b->text, strlen(b->text), "t.yaml", &c, err, sizeof(err));
		if (rc != MS_EINVAL || strcmp(err, b->err) != 0) {
			print_error("case \"%s\":\n  want %s\n  got  %s (rc %d)\n", b->name, b->err,
				    err, (int)rc);
		}
		assert_int_equal(rc, MS_EINVAL);
		assert_null(c);
		assert_string_equal(err, b->err);
	}
}

int
main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_other_functions),
		cmocka_unit_test(test_shard_limit),
		cmocka_unit_test(test_bad_sharding),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, NULL, NULL);
}
