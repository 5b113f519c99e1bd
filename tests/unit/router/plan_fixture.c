/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/router/plan_fixture.c - builds the snapshot described in plan_fixture.h with the
 * real sharding functions, and searches keys for each shard (so the tests do not depend on the
 * hash's exact outputs, which topology's own tests pin).
 */
#include "plan_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char hkeys[4][24];
static char skeys[4][24];

static char *
xdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		abort();
	}
	return p;
}

static void
hash_ranges(struct topo_func *f)
{
	static const char *const specs[] = { "-40", "40-80", "80-c0", "c0-" };

	f->ranges = calloc(4, sizeof(*f->ranges));
	f->n_ranges = 4;
	for (size_t i = 0; i < 4; i++) {
		if (topo_krange_parse(specs[i], &f->ranges[i].lo, &f->ranges[i].hi) != MS_OK) {
			abort();
		}
		f->ranges[i].shard = i;
	}
}

static uint64_t
range_ksid(const struct topo_func *f, uint64_t key)
{
	struct topo_value v = { .kind = TOPO_VAL_INT, .u = key };
	uint64_t ks = 0;

	if (topo_keyspace_id(f, &v, &ks) != TOPO_ROUTE_OK) {
		abort();
	}
	return ks;
}

static void
range_ranges(struct topo_func *f)
{
	uint64_t b[3] = { range_ksid(f, 100), range_ksid(f, 200), range_ksid(f, 300) };

	f->ranges = calloc(4, sizeof(*f->ranges));
	f->n_ranges = 4;
	f->ranges[0] = (struct topo_krange){ .lo = 0, .hi = b[0] - 1, .shard = 0 };
	f->ranges[1] = (struct topo_krange){ .lo = b[0], .hi = b[1] - 1, .shard = 1 };
	f->ranges[2] = (struct topo_krange){ .lo = b[1], .hi = b[2] - 1, .shard = 2 };
	f->ranges[3] = (struct topo_krange){ .lo = b[2], .hi = UINT64_MAX, .shard = 3 };
}

static void
add_table(struct topo_map *m, const char *schema, const char *name, enum topo_table_kind kind,
	  const char *key, size_t func, long seq)
{
	struct topo_table *t = &m->tables[m->n_tables++];

	t->schema = schema != NULL ? xdup(schema) : NULL;
	t->name = xdup(name);
	t->kind = kind;
	t->key = key != NULL ? xdup(key) : NULL;
	t->func = func;
	t->sequence = seq;
}

static void
find_keys(const struct topo_map *m)
{
	bool hf[4] = { false }, sf[4] = { false };

	for (unsigned int k = 1; k < 100000; k++) {
		char s[24];
		struct topo_value v = { .kind = TOPO_VAL_INT, .u = k };
		size_t shard;

		if (topo_route_value(&m->funcs[0], &v, &shard) == TOPO_ROUTE_OK && !hf[shard]) {
			hf[shard] = true;
			snprintf(hkeys[shard], sizeof(hkeys[shard]), "%u", k);
		}
		snprintf(s, sizeof(s), "k%u", k);
		v = (struct topo_value){ .kind = TOPO_VAL_STRING, .str = s, .len = strlen(s) };
		if (topo_route_value(&m->funcs[2], &v, &shard) == TOPO_ROUTE_OK && !sf[shard]) {
			sf[shard] = true;
			memcpy(skeys[shard], s, strlen(s) + 1);
		}
	}
	for (size_t i = 0; i < 4; i++) {
		if (!hf[i] || !sf[i]) {
			abort();
		}
	}
}

struct topo_snapshot *
fixture_snapshot(void)
{
	struct topo_snapshot *s = NULL;
	struct topo_map *m;

	if (topo_snapshot_new(4, &s) != MS_OK) {
		abort();
	}
	for (size_t i = 0; i < 4; i++) {
		char name[8];

		snprintf(name, sizeof(name), "s%zu", i);
		s->shards[i].name = xdup(name);
		s->shards[i].host = xdup("127.0.0.1");
		s->shards[i].user = xdup("u");
		s->shards[i].password = xdup("p");
	}
	m = &s->map;
	m->funcs = calloc(3, sizeof(*m->funcs));
	m->n_funcs = 3;
	m->funcs[0] = (struct topo_func){ .name = xdup("hash"), .kind = TOPO_FUNC_HASH, .key_type = TOPO_KEY_INT };
	m->funcs[1] = (struct topo_func){ .name = xdup("range"), .kind = TOPO_FUNC_RANGE, .key_type = TOPO_KEY_INT };
	m->funcs[2] = (struct topo_func){ .name = xdup("shash"), .kind = TOPO_FUNC_HASH,
					  .key_type = TOPO_KEY_STRING, .ci = true };
	hash_ranges(&m->funcs[0]);
	range_ranges(&m->funcs[1]);
	hash_ranges(&m->funcs[2]);
	m->tables = calloc(8, sizeof(*m->tables));
	add_table(m, NULL, "users", TOPO_TABLE_SHARDED, "id", 0, -1);
	add_table(m, NULL, "orders", TOPO_TABLE_SHARDED, "user_id", 0, -1);
	add_table(m, NULL, "items", TOPO_TABLE_SHARDED, "id", 0, 0);
	add_table(m, NULL, "events", TOPO_TABLE_SHARDED, "id", 1, -1);
	add_table(m, NULL, "names", TOPO_TABLE_SHARDED, "name", 2, -1);
	add_table(m, NULL, "countries", TOPO_TABLE_GLOBAL, NULL, 0, -1);
	add_table(m, NULL, "currencies", TOPO_TABLE_GLOBAL, NULL, 0, -1);
	add_table(m, "shop", "accounts", TOPO_TABLE_SHARDED, "id", 0, -1);
	m->sequences = calloc(1, sizeof(*m->sequences));
	m->n_sequences = 1;
	m->sequences[0] = (struct topo_sequence){ .name = xdup("items_seq"), .shard = 1, .block = 100 };
	m->default_shard = 0;
	topo_map_sort(m);
	find_keys(m);
	return s;
}

const char *
fixture_hkey(size_t i)
{
	return hkeys[i];
}

const char *
fixture_skey(size_t i)
{
	return skeys[i];
}
