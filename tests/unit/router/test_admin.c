/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/router/test_admin.c - admin port statement recognition. */
#include "router/rt_admin.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

struct admin_case {
	const char *sql;
	enum rt_admin_kind kind;
	uint64_t num;
	const char *err; /* RT_ADM_BAD: the exact message */
};

static const struct admin_case cases[] = {
	{ "APPLY", RT_ADM_APPLY, 0, NULL },
	{ " apply ; ", RT_ADM_APPLY, 0, NULL },
	{ "/* x */ Apply Dry Run;", RT_ADM_APPLY_DRY, 0, NULL },
	{ "APPLY NOW", RT_ADM_BAD, 0, "usage: APPLY or APPLY DRY RUN" },
	{ "APPLY DRY", RT_ADM_BAD, 0, "usage: APPLY or APPLY DRY RUN" },
	{ "ROLLBACK TOPOLOGY TO 12", RT_ADM_ROLLBACK_TO, 12, NULL },
	{ "rollback topology to 18446744073709551615", RT_ADM_ROLLBACK_TO, UINT64_MAX, NULL },
	{ "ROLLBACK TOPOLOGY TO 18446744073709551616", RT_ADM_BAD, 0,
	  "ROLLBACK TOPOLOGY TO: the version must be a whole number" },
	{ "ROLLBACK TOPOLOGY TO -1", RT_ADM_BAD, 0, "usage: ROLLBACK TOPOLOGY TO <version>" },
	{ "ROLLBACK TOPOLOGY TO 1.5", RT_ADM_BAD, 0,
	  "ROLLBACK TOPOLOGY TO: the version must be a whole number" },
	{ "ROLLBACK TOPOLOGY", RT_ADM_BAD, 0, "usage: ROLLBACK TOPOLOGY TO <version>" },
	{ "ROLLBACK", RT_ADM_SQL, 0, NULL },
	{ "SAVE", RT_ADM_SAVE, 0, NULL },
	{ "save config;", RT_ADM_SAVE, 0, NULL },
	{ "RELOAD", RT_ADM_RELOAD, 0, NULL },
	{ "SHOW VERSION", RT_ADM_SHOW_VERSION, 0, NULL },
	{ "show topology", RT_ADM_SHOW_TOPOLOGY, 0, NULL },
	{ "SHOW SHARDS;", RT_ADM_SHOW_SHARDS, 0, NULL },
	{ "SHOW POOLS", RT_ADM_SHOW_POOLS, 0, NULL },
	{ "SHOW STATS", RT_ADM_SHOW_STATS, 0, NULL },
	{ "SHOW TABLES", RT_ADM_BAD, 0,
	  "unknown SHOW: the admin port has SHOW VERSION, SHOW TOPOLOGY, SHOW SHARDS, SHOW POOLS, "
	  "SHOW STATS, SHOW CLIENTS, SHOW SERVERS, SHOW REPLICAS, SHOW QUERY DIGESTS and SHOW "
	  "TRANSACTIONS IN DOUBT" },
	{ "SHOW QUERY DIGESTS;", RT_ADM_SHOW_DIGESTS, 0, NULL },
	{ "show transactions in doubt", RT_ADM_SHOW_XA, 0, NULL },
	{ "SHOW TRANSACTIONS", RT_ADM_BAD, 0,
	  "unknown SHOW: the admin port has SHOW VERSION, SHOW TOPOLOGY, SHOW SHARDS, SHOW POOLS, "
	  "SHOW STATS, SHOW CLIENTS, SHOW SERVERS, SHOW REPLICAS, SHOW QUERY DIGESTS and SHOW "
	  "TRANSACTIONS IN DOUBT" },
	{ "show servers", RT_ADM_SHOW_SERVERS, 0, NULL },
	{ "SHOW CLIENTS", RT_ADM_SHOW_CLIENTS, 0, NULL },
	{ "KILL CLIENT 42;", RT_ADM_KILL_CLIENT, 42, NULL },
	{ "KILL CLIENT 0", RT_ADM_BAD, 0, "usage: KILL CLIENT <id> (an id from SHOW CLIENTS)" },
	{ "KILL 42", RT_ADM_BAD, 0, "usage: KILL CLIENT <id> (an id from SHOW CLIENTS)" },
	{ "KILL CLIENT x", RT_ADM_BAD, 0, "usage: KILL CLIENT <id> (an id from SHOW CLIENTS)" },
	{ "SET autocommit = 0", RT_ADM_NOOP, 0, NULL },
	{ "USE x", RT_ADM_NOOP, 0, NULL },
	{ "select @@version_comment limit 1", RT_ADM_VERSION_COMMENT, 0, NULL },
	{ "SELECT * FROM shards", RT_ADM_SQL, 0, NULL },
	{ "UPDATE endpoints SET port = 3310 WHERE shard = 's1'", RT_ADM_SQL, 0, NULL },
	{ "PAUSE SHARD s1", RT_ADM_PAUSE_SHARD, 0, NULL },
	{ "pause shard `s-2`;", RT_ADM_PAUSE_SHARD, 0, NULL },
	{ "RESUME SHARD 's1'", RT_ADM_RESUME_SHARD, 0, NULL },
	{ "PAUSE SHARD", RT_ADM_BAD, 0, "usage: PAUSE SHARD <name>" },
	{ "RESUME SHARD s1 now", RT_ADM_BAD, 0, "usage: RESUME SHARD <name>" },
	{ "PAUSE SHARD ''", RT_ADM_BAD, 0, "a shard name is 1..64 characters" },
	{ "APPLY 'DRY RUN", RT_ADM_BAD, 0, "unterminated string, identifier or comment" },
	{ "APPLY /* dry run", RT_ADM_BAD, 0, "unterminated string, identifier or comment" },
	{ "ROLLBACK TOPOLOGY TO 3 'x", RT_ADM_BAD, 0, "unterminated string, identifier or comment" },
	{ "KILL CLIENT 5 \"", RT_ADM_BAD, 0, "unterminated string, identifier or comment" },
	{ "", RT_ADM_EMPTY, 0, NULL },
	{ "  -- nothing\n", RT_ADM_EMPTY, 0, NULL },
};

static void
test_admin_parse(void **state)
{
	struct rt_admin a;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rt_admin_parse(cases[i].sql, strlen(cases[i].sql), &a);
		if (a.kind != cases[i].kind) {
			fail_msg("\"%s\": kind %d, expected %d", cases[i].sql, a.kind, cases[i].kind);
		}
		assert_int_equal(a.num, cases[i].num);
		if (a.kind == RT_ADM_PAUSE_SHARD || a.kind == RT_ADM_RESUME_SHARD) {
			assert_string_equal(a.name, strstr(cases[i].sql, "s-2") != NULL ? "s-2" : "s1");
		}
		if (cases[i].err != NULL) {
			assert_string_equal(a.err, cases[i].err);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
