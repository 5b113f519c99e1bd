/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/merge/test_vars.c - session variable lists (proxy/px_vars.c): merging SETs into a
 * session's list and the SET that brings a connection in line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proxy/px_vars.h"

static void
test_vars_merge(void **state)
{
	char *list = NULL;

	(void)state;
	assert_true(px_vars_merge(&list, "sql_mode='A'\nwait_timeout=10\n"));
	assert_string_equal(list, "sql_mode='A'\nwait_timeout=10\n");
	/* a name already there takes the new value in place; new names are appended once, with
	 * the last value a SET gave them */
	assert_true(px_vars_merge(&list, "wait_timeout=20\ntime_zone='+01:00'\ntime_zone='UTC'\n"));
	assert_string_equal(list, "sql_mode='A'\nwait_timeout=20\ntime_zone='UTC'\n");
	assert_true(px_vars_merge(&list, "sql_mode=DEFAULT\nsql_mode='B'\n"));
	assert_string_equal(list, "sql_mode='B'\nwait_timeout=20\ntime_zone='UTC'\n");
	/* a prefix of another name is another name */
	assert_true(px_vars_merge(&list, "wait=1\n"));
	assert_string_equal(list, "sql_mode='B'\nwait_timeout=20\ntime_zone='UTC'\nwait=1\n");
	free(list);
}

static void
test_vars_sync(void **state)
{
	char *sql;

	(void)state;
	assert_true(px_vars_same(NULL, ""));
	assert_true(px_vars_same("a=1\n", "a=1\n"));
	assert_false(px_vars_same("a=1\n", "a=2\n"));
	assert_false(px_vars_same(NULL, "a=1\n"));
	sql = px_vars_sync_sql(NULL, "sql_mode='A'\nwait_timeout=10\n");
	assert_string_equal(sql, "SET sql_mode='A', wait_timeout=10");
	free(sql);
	/* what the connection has and the session does not goes back to DEFAULT; equal values
	 * are not sent again */
	sql = px_vars_sync_sql("sql_mode='A'\ntime_zone='UTC'\nwait_timeout=10\n",
			       "wait_timeout=10\nsql_mode='B'\n");
	assert_string_equal(sql, "SET time_zone=DEFAULT, sql_mode='B'");
	free(sql);
	sql = px_vars_sync_sql("wait_timeout=10\n", NULL);
	assert_string_equal(sql, "SET wait_timeout=DEFAULT");
	free(sql);
}

static void
test_vars_drop_charset(void **state)
{
	char *list = strdup("collation_connection='x'\nsql_mode='A'\ncharacter_set_server='y'\n"
			    "character_set_results=NULL\n");

	(void)state;
	/* SET NAMES sets client, connection, results and collation_connection; not _server */
	px_vars_drop_charset(&list);
	assert_string_equal(list, "sql_mode='A'\ncharacter_set_server='y'\n");
	free(list);
	list = strdup("character_set_client='x'\n");
	px_vars_drop_charset(&list);
	assert_null(list);
	assert_true(px_vars_resets_names("character_set_results=NULL\n", NULL));
	assert_false(px_vars_resets_names("character_set_results=NULL\n",
					  "character_set_results=NULL\n"));
	assert_false(px_vars_resets_names("character_set_server='y'\n", NULL));
	px_vars_drop_charset(&list); /* NULL stays NULL */
	assert_null(list);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vars_merge),
		cmocka_unit_test(test_vars_sync),
		cmocka_unit_test(test_vars_drop_charset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
