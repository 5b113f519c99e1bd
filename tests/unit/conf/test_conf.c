/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/conf/test_conf.c - the YAML configuration loader: every field of a full file,
 * the defaults, size suffixes, password verifiers against hashes computed outside myshard, and
 * the exact message for each kind of bad file. Files only under $TMPDIR; no sockets, no sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

/*
 * Verifiers computed with Python's hashlib, not with ms_sha1:
 * hashlib.sha1(hashlib.sha1(pw).digest()).hexdigest() for pw = b"secret" and b"123456".
 */
#define SECRET_HASH   "14E65567ABDB5135D0CFD9A70B3032C179A49EE7"
#define PW123456_HASH "6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9"

/* The smallest valid users: and shards: sections; USERS is 3 lines, SHARDS 4. */
#define USERS  "users:\n  - name: app\n    password: secret\n"
#define SHARDS "shards:\n  - name: s0\n    host: 127.0.0.1\n    user: myshard\n"

static void
hex_decode(const char *hex, uint8_t out[MS_SHA1_LEN])
{
	unsigned int b;

	assert_int_equal(strlen(hex), 2 * MS_SHA1_LEN);
	for (size_t i = 0; i < MS_SHA1_LEN; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

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

static void
test_full_config(void **state)
{
	/* clang-format off */
	static const char text[] =
		"# myshard.yaml\n"
		"listen:\n"
		"  address: 0.0.0.0\n"
		"  port: 13307\n"
		"workers: 4\n"
		"max_packet: 16MiB\n"
		"log_level: debug\n"
		"pool:\n"
		"  max_per_worker: 8\n"
		"  wait_timeout_ms: 250\n"
		"timeouts:\n"
		"  connect_ms: 1500\n"
		"  client_idle_ms: 60000\n"
		"  client_write_ms: 0\n"
		"  login_ms: 2500\n"
		"  xa_recovery_ms: 700\n"
		"  xa_abandon_ms: 9000\n"
		"  deadlock_check_ms: 250\n"
		"users:\n"
		"  - name: app\n"
		"    password: secret\n"
		"  - name: ro\n"
		"    password_hash: \"*" PW123456_HASH "\"\n"
		"  - name: guest\n"
		"    password: \"\"\n"
		"shards:\n"
		"  - name: s0\n"
		"    host: 127.0.0.1\n"
		"    port: 3306\n"
		"    user: myshard\n"
		"    password: pw\n"
		"  - name: shard_1-b\n"
		"    host: db1.example\n"
		"    port: 23306\n"
		"    user: proxy\n";
	/* clang-format on */
	uint8_t want[MS_SHA1_LEN], zero[MS_SHA1_LEN] = { 0 };
	struct conf *c = load_ok(text);

	assert_string_equal(c->path, "t.yaml");
	assert_string_equal(c->listen_addr, "0.0.0.0");
	assert_int_equal(c->listen_port, 13307);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->max_packet, 16u << 20);
	assert_int_equal(c->log_level, MS_LOG_DEBUG);
	assert_int_equal(c->pool_max, 8);
	assert_int_equal(c->pool_wait_timeout_ms, 250);
	assert_int_equal(c->connect_timeout_ms, 1500);
	assert_int_equal(c->client_idle_timeout_ms, 60000);
	assert_int_equal(c->client_write_timeout_ms, 0);
	assert_int_equal(c->login_timeout_ms, 2500);
	assert_int_equal(c->xa_recovery_ms, 700);
	assert_int_equal(c->xa_abandon_ms, 9000);
	assert_int_equal(c->deadlock_check_ms, 250);

	assert_int_equal(c->n_users, 3);
	assert_string_equal(c->users[0].name, "app");
	hex_decode(SECRET_HASH, want);
	assert_memory_equal(c->users[0].native_stored, want, MS_SHA1_LEN);
	assert_false(c->users[0].empty_password);
	assert_string_equal(c->users[1].name, "ro");
	hex_decode(PW123456_HASH, want);
	assert_memory_equal(c->users[1].native_stored, want, MS_SHA1_LEN);
	assert_false(c->users[1].empty_password);
	assert_string_equal(c->users[2].name, "guest");
	assert_memory_equal(c->users[2].native_stored, zero, MS_SHA1_LEN);
	assert_true(c->users[2].empty_password);

	assert_int_equal(c->n_shards, 2);
	assert_string_equal(c->shards[0].name, "s0");
	assert_string_equal(c->shards[0].host, "127.0.0.1");
	assert_int_equal(c->shards[0].port, 3306);
	assert_string_equal(c->shards[0].user, "myshard");
	assert_string_equal(c->shards[0].password, "pw");
	assert_string_equal(c->shards[1].name, "shard_1-b");
	assert_string_equal(c->shards[1].host, "db1.example");
	assert_int_equal(c->shards[1].port, 23306);
	assert_string_equal(c->shards[1].user, "proxy");
	assert_string_equal(c->shards[1].password, "");
	conf_free(c);
}

static void
test_defaults(void **state)
{
	struct conf *c = load_ok(USERS SHARDS);

	assert_string_equal(c->listen_addr, "127.0.0.1");
	assert_int_equal(c->listen_port, 3307);
	assert_true(c->workers >= 1 && c->workers <= 256);
	assert_int_equal(c->max_packet, 64u << 20);
	assert_int_equal(c->log_level, MS_LOG_INFO);
	assert_int_equal(c->pool_max, 32);
	assert_int_equal(c->pool_wait_timeout_ms, 5000);
	assert_int_equal(c->connect_timeout_ms, 3000);
	assert_int_equal(c->client_idle_timeout_ms, 0);
	assert_int_equal(c->client_write_timeout_ms, 60000);
	assert_int_equal(c->login_timeout_ms, 10000);
	assert_int_equal(c->n_shards, 1);
	assert_int_equal(c->shards[0].port, 3306);
	assert_string_equal(c->shards[0].password, "");
	conf_free(c);

	/* empty sections keep their defaults too */
	c = load_ok("listen: {}\npool: {}\ntimeouts: {}\n" USERS SHARDS);
	assert_string_equal(c->listen_addr, "127.0.0.1");
	assert_int_equal(c->listen_port, 3307);
	assert_int_equal(c->pool_max, 32);
	assert_int_equal(c->connect_timeout_ms, 3000);
	conf_free(c);
}

static void
test_workers_auto(void **state)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct conf *c = load_ok("workers: 0\n" USERS SHARDS);

	assert_true(c->workers >= 1 && c->workers <= 256);
	if (cpus >= 1 && cpus <= 256) {
		assert_int_equal(c->workers, (unsigned int)cpus);
	}
	conf_free(c);

	c = load_ok("workers: 256\n" USERS SHARDS);
	assert_int_equal(c->workers, 256);
	conf_free(c);
}

static void
test_sizes(void **state)
{
	static const struct {
		const char *text;
		uint32_t bytes;
	} cases[] = {
		/* clang-format off */
		{ "1024", 1024 },
		{ "1KiB", 1024 },
		{ "1000000", 1000000 },
		{ "3KiB", 3 * 1024 },
		{ "64MiB", 64u << 20 },
		{ "\"2MiB\"", 2u << 20 },
		{ "1GiB", 1u << 30 },
		{ "1024MiB", 1u << 30 },
		{ "1073741824", 1u << 30 },
		{ "0001KiB", 1024 },
	}; /* clang-format on */
	char text[256];
	struct conf *c;

	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		snprintf(text, sizeof(text), "max_packet: %s\n" USERS SHARDS, cases[i].text);
		c = load_ok(text);
		assert_int_equal(c->max_packet, cases[i].bytes);
		conf_free(c);
	}
}

/* Integers may be quoted; the text, not the YAML tag, decides. */
static void
test_quoted_integers(void **state)
{
	struct conf *c = load_ok("listen:\n  port: \"4000\"\nworkers: '3'\n" USERS SHARDS);

	assert_int_equal(c->listen_port, 4000);
	assert_int_equal(c->workers, 3);
	conf_free(c);
}

/* password: secret and password_hash: *<hex> (either case) give the same verifier. */
static void
test_hash_decode(void **state)
{
	static const char *const users[] = {
		"users:\n  - name: app\n    password: secret\n",
		"users:\n  - name: app\n    password_hash: \"*" SECRET_HASH "\"\n",
		"users:\n  - name: app\n    password_hash: \"*14e65567abdb5135d0cfd9a70b3032c179a49ee7\"\n",
		"users:\n  - name: app\n    password_hash: '*14e65567ABDB5135d0cfd9a70b3032c179A49EE7'\n",
	};
	uint8_t want[MS_SHA1_LEN];
	char text[512];
	struct conf *c;

	hex_decode(SECRET_HASH, want);
	for (size_t i = 0; i < MS_ARRAY_LEN(users); i++) {
		snprintf(text, sizeof(text), "%s" SHARDS, users[i]);
		c = load_ok(text);
		assert_memory_equal(c->users[0].native_stored, want, MS_SHA1_LEN);
		assert_false(c->users[0].empty_password);
		conf_free(c);
	}
}

/* The admin: section: defaults, users kept apart from the application users. */
/* Read replicas per shard and replica_reads; the defaults without them. */
static void
test_replicas(void **state)
{
	static const char text[] = USERS "shards:\n  - name: s0\n    host: 127.0.0.1\n"
				   "    user: myshard\n    replicas:\n      - {host: 10.0.0.2}\n"
				   "      - {host: 10.0.0.3, port: 3310, weight: 3}\n"
				   "  - {name: s1, host: h1, user: u, replicas: []}\n"
				   "replica_reads: {max_lag_s: 2, after_write_ms: 1500}\n";
	static const char bad_port[] = USERS "shards:\n  - name: s0\n    host: h\n    user: u\n"
				       "    replicas:\n      - {host: r, port: 0}\n";
	static const char no_host[] = USERS "shards:\n  - name: s0\n    host: h\n    user: u\n"
				      "    replicas:\n      - {port: 3307}\n";
	static const char zero_weight[] = USERS "shards:\n  - name: s0\n    host: h\n    user: u\n"
					  "    replicas:\n      - {host: r, weight: 0}\n";
	char err[CONF_ERR_LEN];
	struct conf *c = NULL;

	(void)state;
	assert_int_equal(conf_load_string(text, strlen(text), "t.yaml", &c, err, sizeof(err)), MS_OK);
	assert_int_equal(c->n_shards, 2);
	assert_int_equal(c->shards[0].n_replicas, 2);
	assert_string_equal(c->shards[0].replicas[0].host, "10.0.0.2");
	assert_int_equal(c->shards[0].replicas[0].port, 3306);
	assert_string_equal(c->shards[0].replicas[1].host, "10.0.0.3");
	assert_int_equal(c->shards[0].replicas[1].port, 3310);
	assert_int_equal(c->shards[0].replicas[0].weight, 1); /* the default */
	assert_int_equal(c->shards[0].replicas[1].weight, 3);
	assert_int_equal(c->shards[0].state, CONF_EP_UP);
	assert_int_equal(c->shards[1].n_replicas, 0);
	assert_int_equal(c->replica_max_lag_s, 2);
	assert_int_equal(c->replica_after_write_ms, 1500);
	conf_free(c);

	assert_int_equal(conf_load_string(USERS SHARDS, strlen(USERS SHARDS), "t.yaml", &c, err,
					  sizeof(err)),
			 MS_OK);
	assert_int_equal(c->shards[0].n_replicas, 0);
	assert_int_equal(c->replica_max_lag_s, 5);
	assert_int_equal(c->replica_after_write_ms, 0);
	conf_free(c);

	assert_int_equal(conf_load_string(bad_port, strlen(bad_port), "t.yaml", &c, err,
					  sizeof(err)),
			 MS_EINVAL);
	assert_string_equal(err, "t.yaml:9: shards[0].replicas[0].port: must be an integer "
				 "1..65535, got \"0\"");
	assert_int_equal(conf_load_string(no_host, strlen(no_host), "t.yaml", &c, err,
					  sizeof(err)),
			 MS_EINVAL);
	assert_string_equal(err, "t.yaml:9: shards[0].replicas[0].host: missing required key");
	assert_int_equal(conf_load_string(zero_weight, strlen(zero_weight), "t.yaml", &c, err,
					  sizeof(err)),
			 MS_EINVAL);
	assert_string_equal(err, "t.yaml:9: shards[0].replicas[0].weight: must be an integer "
				 "1..2147483647, got \"0\"");

	{ /* a replica's name is "<shard>@<host>:<port>": the host is bounded */
		char text2[600];
		char host[182];

		memset(host, 'h', 181);
		host[181] = '\0';
		snprintf(text2, sizeof(text2),
			 USERS "shards:\n  - name: s0\n    host: h\n    user: u\n"
			       "    replicas:\n      - {host: %s}\n",
			 host);
		assert_int_equal(conf_load_string(text2, strlen(text2), "t.yaml", &c, err,
						  sizeof(err)),
				 MS_EINVAL);
		assert_non_null(strstr(err, "t.yaml:9: shards[0].replicas[0].host: must be a host "
					    "name of at most 180 characters"));
		host[180] = '\0';
		snprintf(text2, sizeof(text2),
			 USERS "shards:\n  - name: s0\n    host: h\n    user: u\n"
			       "    replicas:\n      - {host: %s}\n",
			 host);
		assert_int_equal(conf_load_string(text2, strlen(text2), "t.yaml", &c, err,
						  sizeof(err)),
				 MS_OK);
		assert_int_equal(strlen(c->shards[0].replicas[0].host), 180);
		conf_free(c);
	}
}

static void
test_admin_section(void **state)
{
	static const char text[] = "admin:\n  listen: {port: 6100}\n  users:\n"
				   "    - {name: ops, password: secret}\n  store: /tmp/x.db\n" USERS SHARDS;
	char err[CONF_ERR_LEN];
	struct conf *c = NULL;
	uint8_t want[MS_SHA1_LEN];

	(void)state;
	assert_int_equal(conf_load_string(text, strlen(text), "t.yaml", &c, err, sizeof(err)), MS_OK);
	assert_non_null(c->admin);
	assert_string_equal(c->admin->listen_addr, "127.0.0.1");
	assert_int_equal(c->admin->listen_port, 6100);
	assert_int_equal(c->admin->n_users, 1);
	assert_string_equal(c->admin->users[0].name, "ops");
	hex_decode("14E65567ABDB5135D0CFD9A70B3032C179A49EE7", want); /* PASSWORD('secret') */
	assert_memory_equal(c->admin->users[0].native_stored, want, MS_SHA1_LEN);
	assert_string_equal(c->admin->store, "/tmp/x.db");
	assert_null(conf_user_find(c, "ops", 3)); /* not an application user */
	conf_free(c);

	assert_int_equal(conf_load_string(USERS SHARDS, strlen(USERS SHARDS), "t.yaml", &c, err,
					  sizeof(err)),
			 MS_OK);
	assert_null(c->admin);
	conf_free(c);
}

static void
test_user_find(void **state)
{
	struct conf *c = load_ok("users:\n  - name: app\n    password: a\n"
				 "  - name: ro\n    password: b\n" SHARDS);

	assert_ptr_equal(conf_user_find(c, "app", 3), &c->users[0]);
	assert_ptr_equal(conf_user_find(c, "ro", 2), &c->users[1]);
	assert_ptr_equal(conf_user_find(c, "rox", 2), &c->users[1]); /* only name_len bytes count */
	assert_null(conf_user_find(c, "ro", 1));
	assert_null(conf_user_find(c, "App", 3));
	assert_null(conf_user_find(c, "apps", 4));
	assert_null(conf_user_find(c, "", 0));
	conf_free(c);
}

struct bad_case {
	const char *name; /* what the case is about */
	const char *text; /* the file */
	const char *err;  /* the exact message, file name "t.yaml" */
};

/* clang-format off */
#define KNOWN_TOP "(known: listen, workers, max_packet, log_level, pool, timeouts, users, shards, " \
		  "sharding, merge_max, admin, tls, max_clients, max_clients_per_user, metrics, " \
		  "replica_reads)"
#define SIZE_WANT "must be a size 1KiB..1GiB (bytes, or a number with suffix KiB, MiB or GiB)"
#define HASH_WANT "must be '*' followed by 40 hex digits"
#define SHARD_NAME_WANT "must be 1..64 characters from A-Z a-z 0-9 _ -"
#define LONG_65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_81 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const struct bad_case bad_cases[] = {
	/* unknown keys, at every level */
	{ "unknown top key", "wrokers: 2\n" USERS SHARDS,
	  "t.yaml:1: wrokers: unknown key " KNOWN_TOP },
	{ "unknown listen key", "listen:\n  adress: 0.0.0.0\n" USERS SHARDS,
	  "t.yaml:2: listen.adress: unknown key (known: address, port, reuse_port)" },
	{ "unknown pool key", "pool:\n  max: 3\n" USERS SHARDS,
	  "t.yaml:2: pool.max: unknown key (known: max_per_worker, wait_timeout_ms)" },
	{ "unknown timeouts key", "timeouts:\n  idle_ms: 3\n" USERS SHARDS,
	  "t.yaml:2: timeouts.idle_ms: unknown key (known: connect_ms, client_idle_ms, login_ms, "
	  "xa_recovery_ms, xa_abandon_ms, deadlock_check_ms, shutdown_ms, health_ms, query_ms, "
	  "slow_query_ms, client_write_ms)" },
	{ "timeouts.client_write_ms too big", "timeouts:\n  client_write_ms: 86400001\n" USERS SHARDS,
	  "t.yaml:2: timeouts.client_write_ms: must be an integer 0..86400000, got \"86400001\"" },
	{ "timeouts.deadlock_check_ms too big", "timeouts:\n  deadlock_check_ms: 60001\n" USERS SHARDS,
	  "t.yaml:2: timeouts.deadlock_check_ms: must be an integer 0..60000, got \"60001\"" },
	{ "timeouts.xa_recovery_ms too small", "timeouts:\n  xa_recovery_ms: 5\n" USERS SHARDS,
	  "t.yaml:2: timeouts.xa_recovery_ms: must be an integer 100..3600000, got \"5\"" },
	{ "timeouts.xa_abandon_ms too small", "timeouts:\n  xa_abandon_ms: 1000\n" USERS SHARDS,
	  "t.yaml:2: timeouts.xa_abandon_ms: must be an integer 3000..86400000, got \"1000\"" },
	{ "timeouts.login_ms zero", "timeouts:\n  login_ms: 0\n" USERS SHARDS,
	  "t.yaml:2: timeouts.login_ms: must be an integer 1..3600000, got \"0\"" },
	{ "unknown user key", "users:\n  - name: app\n    pasword: x\n" SHARDS,
	  "t.yaml:3: users[0].pasword: unknown key (known: name, password, password_hash, require_ssl)" },
	{ "unknown shard key", USERS "shards:\n  - name: s0\n    host: h\n    user: u\n    db: x\n",
	  "t.yaml:8: shards[0].db: unknown key (known: name, host, port, user, password, replicas)" },
	{ "unknown key with odd characters", "\"a b\": 1\n" USERS SHARDS,
	  "t.yaml:1: \"a b\": unknown key " KNOWN_TOP },
	{ "key that is not a scalar", "[a]: 1\n" USERS SHARDS,
	  "t.yaml:1: top level: keys must be names, got a list" },
	/* duplicates */
	{ "duplicate top key", "workers: 1\nworkers: 2\n" USERS SHARDS,
	  "t.yaml:2: workers: duplicate key" },
	{ "duplicate nested key", "listen:\n  port: 1\n  port: 2\n" USERS SHARDS,
	  "t.yaml:3: listen.port: duplicate key" },
	{ "duplicate user",
	  "users:\n  - name: app\n    password: a\n  - name: app\n    password: b\n" SHARDS,
	  "t.yaml:4: users[1].name: duplicate user \"app\" (also users[0])" },
	{ "duplicate shard name",
	  USERS "shards:\n  - {name: s0, host: a, user: u}\n  - {name: s0, host: b, user: u}\n",
	  "t.yaml:6: shards[1].name: duplicate shard \"s0\" (also shards[0])" },
	/* ports and other integers */
	{ "bad shard port", USERS "shards:\n  - name: s0\n    host: h\n    port: abc\n    user: u\n",
	  "t.yaml:7: shards[0].port: must be an integer 1..65535, got \"abc\"" },
	{ "port 0", "listen:\n  port: 0\n" USERS SHARDS,
	  "t.yaml:2: listen.port: must be an integer 1..65535, got \"0\"" },
	{ "port 70000", "listen:\n  port: 70000\n" USERS SHARDS,
	  "t.yaml:2: listen.port: must be an integer 1..65535, got \"70000\"" },
	{ "negative port", "listen:\n  port: -1\n" USERS SHARDS,
	  "t.yaml:2: listen.port: must be an integer 1..65535, got \"-1\"" },
	{ "port with a fraction", "listen:\n  port: 3307.0\n" USERS SHARDS,
	  "t.yaml:2: listen.port: must be an integer 1..65535, got \"3307.0\"" },
	{ "port is a mapping", "listen:\n  port: {a: 1}\n" USERS SHARDS,
	  "t.yaml:2: listen.port: must be an integer 1..65535, got a mapping" },
	{ "port without a value", "listen:\n  port:\n" USERS SHARDS,
	  "t.yaml:2: listen.port: must be an integer 1..65535, got no value" },
	{ "listen is a scalar", "listen: 3307\n" USERS SHARDS,
	  "t.yaml:1: listen: must be a mapping, got \"3307\"" },
	{ "workers too many", "workers: 257\n" USERS SHARDS,
	  "t.yaml:1: workers: must be an integer 0..256, got \"257\"" },
	{ "workers not a number", "workers: two\n" USERS SHARDS,
	  "t.yaml:1: workers: must be an integer 0..256, got \"two\"" },
	{ "workers overflow", "workers: 99999999999999999999999999\n" USERS SHARDS,
	  "t.yaml:1: workers: must be an integer 0..256, got \"99999999999999999999999999\"" },
	{ "pool.max_per_worker 0", "pool:\n  max_per_worker: 0\n" USERS SHARDS,
	  "t.yaml:2: pool.max_per_worker: must be an integer 1..10000, got \"0\"" },
	{ "pool.wait_timeout_ms too big", "pool:\n  wait_timeout_ms: 3600001\n" USERS SHARDS,
	  "t.yaml:2: pool.wait_timeout_ms: must be an integer 1..3600000, got \"3600001\"" },
	{ "timeouts.connect_ms 0", "timeouts:\n  connect_ms: 0\n" USERS SHARDS,
	  "t.yaml:2: timeouts.connect_ms: must be an integer 1..3600000, got \"0\"" },
	{ "timeouts.client_idle_ms too big", "timeouts:\n  client_idle_ms: 86400001\n" USERS SHARDS,
	  "t.yaml:2: timeouts.client_idle_ms: must be an integer 0..86400000, got \"86400001\"" },
	/* sizes and names */
	{ "bad size suffix", "max_packet: 64MB\n" USERS SHARDS,
	  "t.yaml:1: max_packet: " SIZE_WANT ", got \"64MB\"" },
	{ "size with a space", "max_packet: 64 MiB\n" USERS SHARDS,
	  "t.yaml:1: max_packet: " SIZE_WANT ", got \"64 MiB\"" },
	{ "size suffix only", "max_packet: MiB\n" USERS SHARDS,
	  "t.yaml:1: max_packet: " SIZE_WANT ", got \"MiB\"" },
	{ "size too small", "max_packet: 1023\n" USERS SHARDS,
	  "t.yaml:1: max_packet: " SIZE_WANT ", got \"1023\"" },
	{ "size too big", "max_packet: 2GiB\n" USERS SHARDS,
	  "t.yaml:1: max_packet: " SIZE_WANT ", got \"2GiB\"" },
	{ "size overflow", "max_packet: 99999999999999999999GiB\n" USERS SHARDS,
	  "t.yaml:1: max_packet: " SIZE_WANT ", got \"99999999999999999999GiB\"" },
	{ "bad log level", "log_level: verbose\n" USERS SHARDS,
	  "t.yaml:1: log_level: must be one of error, warn, info, debug, got \"verbose\"" },
	{ "control character shown escaped", "log_level: \"in\\tfo\\\"\"\n" USERS SHARDS,
	  "t.yaml:1: log_level: must be one of error, warn, info, debug, got \"in\\x09fo\\\"\"" },
	{ "long value shortened", "log_level: " LONG_65 "\n" USERS SHARDS,
	  "t.yaml:1: log_level: must be one of error, warn, info, debug, got \""
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" },
	{ "listen.address without a value", "listen:\n  address: ~\n" USERS SHARDS,
	  "t.yaml:2: listen.address: must be a string, got no value" },
	{ "listen.address empty", "listen:\n  address: \"\"\n" USERS SHARDS,
	  "t.yaml:2: listen.address: must not be empty" },
	/* users */
	{ "missing users", SHARDS, "t.yaml:1: users: missing required key" },
	{ "empty users list", "users: []\n" SHARDS, "t.yaml:1: users: must list at least one user" },
	{ "users is a mapping", "users:\n  name: app\n" SHARDS,
	  "t.yaml:2: users: must be a list, got a mapping" },
	{ "user is a scalar", "users:\n  - app\n" SHARDS,
	  "t.yaml:2: users[0]: must be a mapping, got \"app\"" },
	{ "user without a name", "users:\n  - password: x\n" SHARDS,
	  "t.yaml:2: users[0].name: missing required key" },
	{ "user name empty", "users:\n  - name: \"\"\n    password: x\n" SHARDS,
	  "t.yaml:2: users[0].name: must be 1..80 bytes long, got 0" },
	{ "user name too long", "users:\n  - name: " LONG_81 "\n    password: x\n" SHARDS,
	  "t.yaml:2: users[0].name: must be 1..80 bytes long, got 81" },
	{ "user without a password", "users:\n  - name: app\n" SHARDS,
	  "t.yaml:2: users[0]: needs password or password_hash" },
	{ "user with password and hash",
	  "users:\n  - name: app\n    password: a\n    password_hash: \"*" SECRET_HASH "\"\n" SHARDS,
	  "t.yaml:2: users[0]: has both password and password_hash; give only one" },
	{ "password NUL byte", "users:\n  - name: app\n    password: \"a\\0b\"\n" SHARDS,
	  "t.yaml:3: users[0].password: must not contain NUL bytes" },
	{ "password without a value", "users:\n  - name: app\n    password:\n" SHARDS,
	  "t.yaml:3: users[0].password: must be a string, got no value" },
	{ "bad hash length", "users:\n  - name: app\n    password_hash: \"*14E65567\"\n" SHARDS,
	  "t.yaml:3: users[0].password_hash: " HASH_WANT ", got 9 characters" },
	{ "hash without star", "users:\n  - name: app\n    password_hash: " SECRET_HASH "\n" SHARDS,
	  "t.yaml:3: users[0].password_hash: " HASH_WANT ", got 40 characters" },
	{ "hash with bad characters",
	  "users:\n  - name: app\n    password_hash: \"*14E65567ABDB5135D0CFD9A70B3032C179A49EEZ\"\n"
	  SHARDS,
	  "t.yaml:3: users[0].password_hash: " HASH_WANT ", got a bad character at offset 40" },
	{ "hash with a bad first character",
	  "users:\n  - name: app\n    password_hash: \"#" SECRET_HASH "\"\n" SHARDS,
	  "t.yaml:3: users[0].password_hash: " HASH_WANT ", got a bad character at offset 0" },
	{ "unquoted hash is a YAML alias",
	  "users:\n  - name: app\n    password_hash: *" SECRET_HASH "\n" SHARDS,
	  "t.yaml:3: YAML syntax error: found undefined alias" },
	{ "empty hash", "users:\n  - name: app\n    password_hash: \"\"\n" SHARDS,
	  "t.yaml:3: users[0].password_hash: " HASH_WANT ", got 0 characters" },
	/* shards */
	{ "missing shards", USERS, "t.yaml:1: shards: missing required key" },
	/* admin: */
	{ "admin without users", "admin:\n  listen: {port: 7000}\n" USERS SHARDS,
	  "t.yaml:2: admin.users: missing required key" },
	{ "admin unknown key", "admin:\n  user: []\n" USERS SHARDS,
	  "t.yaml:2: admin.user: unknown key (known: listen, users, store)" },
	{ "admin listen unknown key", "admin:\n  listen: {adress: x}\n  users: [{name: a, password: b}]\n" USERS SHARDS,
	  "t.yaml:2: admin.listen.adress: unknown key (known: address, port)" },
	{ "admin port taken by the client port", "admin:\n  listen: {port: 3307}\n  users: [{name: a, password: b}]\n" USERS SHARDS,
	  "t.yaml:2: admin.listen: the admin port must differ from the client port (3307)" },
	{ "admin users empty", "admin:\n  users: []\n" USERS SHARDS,
	  "t.yaml:2: admin.users: must list at least one user" },
	{ "admin duplicate user", "admin:\n  users:\n    - {name: a, password: b}\n    - {name: a, password: c}\n" USERS SHARDS,
	  "t.yaml:4: admin.users[1].name: duplicate user \"a\" (also admin.users[0])" },
	{ "admin user without secret", "admin:\n  users:\n    - {name: a}\n" USERS SHARDS,
	  "t.yaml:3: admin.users[0]: needs password or password_hash" },
	{ "admin store empty", "admin:\n  users: [{name: a, password: b}]\n  store: \"\"\n" USERS SHARDS,
	  "t.yaml:3: admin.store: must not be empty" },
	{ "empty shards list", USERS "shards: []\n",
	  "t.yaml:4: shards: must list at least one shard" },
	{ "missing shard host", USERS "shards:\n  - name: s0\n    user: u\n",
	  "t.yaml:5: shards[0].host: missing required key" },
	{ "missing shard name", USERS "shards:\n  - host: h\n    user: u\n",
	  "t.yaml:5: shards[0].name: missing required key" },
	{ "missing shard user", USERS "shards:\n  - name: s0\n    host: h\n",
	  "t.yaml:5: shards[0].user: missing required key" },
	{ "empty shard host", USERS "shards:\n  - name: s0\n    host: \"\"\n    user: u\n",
	  "t.yaml:6: shards[0].host: must not be empty" },
	{ "shard name with bad characters", USERS "shards:\n  - name: s 0\n    host: h\n    user: u\n",
	  "t.yaml:5: shards[0].name: " SHARD_NAME_WANT ", got \"s 0\"" },
	{ "shard name too long", USERS "shards:\n  - name: " LONG_65 "\n    host: h\n    user: u\n",
	  "t.yaml:5: shards[0].name: " SHARD_NAME_WANT ", got \""
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" },
	{ "second shard is bad",
	  USERS "shards:\n  - {name: s0, host: a, user: u}\n  - {name: s1, host: b, user: u, port: 0}\n",
	  "t.yaml:6: shards[1].port: must be an integer 1..65535, got \"0\"" },
	/* the file as a whole */
	{ "YAML syntax error", "listen: [1, 2\n" USERS SHARDS,
	  "t.yaml:2: YAML syntax error: did not find expected ',' or ']'" },
	{ "YAML syntax error inside a line", "listen:\n  port: a: b\n" USERS SHARDS,
	  "t.yaml:2: YAML syntax error: mapping values are not allowed in this context" },
	{ "invalid UTF-8", USERS SHARDS "# \xff\n",
	  "t.yaml:8: YAML syntax error: invalid leading UTF-8 octet" },
	{ "top level is a list", "- a\n- b\n", "t.yaml:1: top level: must be a mapping, got a list" },
	{ "top level is a scalar", "hello\n", "t.yaml:1: top level: must be a mapping, got \"hello\"" },
	{ "empty file", "", "t.yaml:1: top level: the document is empty; expected a mapping" },
	{ "only comments", "# nothing here\n\n",
	  "t.yaml:1: top level: the document is empty; expected a mapping" },
	{ "bare document marker", "# nothing\n---\n",
	  "t.yaml:1: top level: the document is empty; expected a mapping" },
	{ "two documents", USERS SHARDS "---\nworkers: 1\n",
	  "t.yaml:9: top level: only one YAML document is allowed" },
};
/* clang-format on */

static void
test_bad_configs(void **state)
{
	char err[CONF_ERR_LEN];
	struct conf *c;
	enum ms_rc rc;

	assert_true(MS_ARRAY_LEN(bad_cases) >= 20);
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

/* A short buffer gets a NUL-terminated prefix; a zero-length one is left alone. */
static void
test_err_truncated(void **state)
{
	char err[16];
	struct conf *c = NULL;

	assert_int_equal(conf_load_string("x: 1\n", 5, "t.yaml", &c, err, sizeof(err)), MS_EINVAL);
	assert_null(c);
	assert_string_equal(err, "t.yaml:1: x: un");
	assert_int_equal(conf_load_string("x: 1\n", 5, "t.yaml", &c, NULL, 0), MS_EINVAL);
	assert_null(c);
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/test_conf_XXXXXX";
	static const char text[] = USERS SHARDS;
	char err[CONF_ERR_LEN] = "";
	struct conf *c = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	assert_int_equal(close(fd), 0);
	assert_int_equal(conf_load_file(path, &c, err, sizeof(err)), MS_OK);
	assert_non_null(c);
	assert_string_equal(c->path, path);
	assert_string_equal(c->users[0].name, "app");
	conf_free(c);
	assert_int_equal(unlink(path), 0);
}

static void
test_unreadable_files(void **state)
{
	static const char path[] = "/nonexistent-myshard-dir/myshard.yaml";
	char err[CONF_ERR_LEN] = "";
	struct conf *c = (struct conf *)&c;

	assert_int_equal(conf_load_file(path, &c, err, sizeof(err)), MS_EIO);
	assert_null(c);
	assert_string_equal(err, "/nonexistent-myshard-dir/myshard.yaml: cannot read: "
				 "No such file or directory");

	c = (struct conf *)&c;
	assert_int_equal(conf_load_file("/", &c, err, sizeof(err)), MS_EIO);
	assert_null(c);
	assert_string_equal(err, "/: cannot read: Is a directory");

	c = (struct conf *)&c; /* endless input stops at the size limit */
	assert_int_equal(conf_load_file("/dev/zero", &c, err, sizeof(err)), MS_EIO);
	assert_null(c);
	assert_string_equal(err, "/dev/zero: cannot read: File too large");
}

static void
test_free_null(void **state)
{
	conf_free(NULL);
}

int
main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_workers_auto),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_quoted_integers),
		cmocka_unit_test(test_hash_decode),
		cmocka_unit_test(test_user_find),
		cmocka_unit_test(test_admin_section),
		cmocka_unit_test(test_replicas),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_err_truncated),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_unreadable_files),
		cmocka_unit_test(test_free_null),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, NULL, NULL);
}
