/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/merge/test_merge.c - px_merge without grouping: streamed concatenation with
 * offset/limit and hidden columns, k-way ORDER BY merges with NULLs, a shard's ERR (named,
 * replacing the final EOF), OK packets summed with their info strings, the memory cap and
 * malformed input.
 */
#include "tm.h"

#include "protocol/mp_result.h"
#include "router/rt_plan.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct tm_col id_name[] = {
	{ "id", TM_T_LONG, TM_BINARY, 0 },
	{ "name", TM_T_VARSTRING, TM_CI, 0 },
};

static void
assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
}

/* The header leaves once the first leg's definitions are in; rows stream in arrival order. */
static void
test_concat_stream(void **state)
{
	struct rt_merge spec = { .kind = RT_MERGE_CONCAT,
				 .n_visible = UINT_MAX,
				 .has_limit = true,
				 .limit = 3,
				 .offset = 1 };
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };
	struct px_merge *m;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		tm_rs(&L[i], id_name, 2);
	}
	tm_row(&L[0], 2, "1", "a");
	tm_row(&L[0], 2, "2", "b");
	tm_row(&L[1], 2, "3", NULL);
	tm_row(&L[2], 2, "4", "d");
	tm_row(&L[2], 2, "5", "e");
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_end(&L[1], 1, MP_STATUS_AUTOCOMMIT);
	tm_end(&L[2], 2, MP_STATUS_AUTOCOMMIT | MP_STATUS_MORE_RESULTS);
	assert_int_equal(px_merge_new(&spec, 3, NULL, 1 << 20, tm_emit, &out, &m), MS_OK);
	tm_feed(m, L, 0, "0000");
	assert_int_equal(out.n, 4); /* count, 2 definitions, EOF: before any row */
	assert_bytes(out.p[0], out.len[0], (const uint8_t *)"\x02", 1);
	assert_bytes(out.p[1], out.len[1], L[0].p[1].b, L[0].p[1].len);
	assert_bytes(out.p[2], out.len[2], L[0].p[2].b, L[0].p[2].len);
	assert_bytes(out.p[3], out.len[3], (const uint8_t *)"\xfe\x00\x00\x02\x00", 5);
	tm_feed(m, L, 0, "00");
	assert_int_equal(out.n, 5); /* row 1 skipped by the offset, row 2 passed through */
	assert_bytes(out.p[4], out.len[4], L[0].p[5].b, L[0].p[5].len);
	tm_feed(m, L, 0, "2222211111");
	tm_feed(m, L, 3, "");
	assert_int_equal(px_merge_finish(m, 0), PX_MERGE_OK);
	assert_string_equal(tm_render(&out), "cols=id,name|2,b|4,d|3,NULL|EOF w=3 s=2");
	assert_int_equal(px_merge_status(m), MP_STATUS_AUTOCOMMIT);
	assert_true(px_merge_status_seen(m));
	px_merge_free(m);
	tm_out_free(&out);
	free(L);
}

/* Rows that arrive before the defining leg's definitions wait; hidden columns are cut. */
static void
test_concat_hidden_early_rows(void **state)
{
	struct rt_merge spec = { .kind = RT_MERGE_CONCAT, .n_visible = 1 };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };

	(void)state;
	tm_rs(&L[0], id_name, 2);
	tm_rs(&L[1], id_name, 2);
	tm_row(&L[0], 2, "1", "a");
	tm_row(&L[0], 2, NULL, "b");
	tm_row(&L[1], 2, "300", "c");
	tm_row(&L[1], 2, "4", NULL);
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	/* leg 0 sends its column count first (so defines the columns), then leg 1 runs ahead */
	assert_string_equal(tm_run(&spec, L, 2, "01111111", 1 << 20, &out),
			    "cols=id|300|4|1|NULL|EOF w=0 s=2");
	assert_int_equal(out.n, 8);
	assert_bytes(out.p[0], out.len[0], (const uint8_t *)"\x01", 1);
	assert_bytes(out.p[3], out.len[3],
		     (const uint8_t *)"\x03"
				      "300",
		     4);
	assert_bytes(out.p[5], out.len[5],
		     (const uint8_t *)"\x01"
				      "1",
		     2);
	assert_bytes(out.p[6], out.len[6], (const uint8_t *)"\xfb", 1);
	tm_out_free(&out);
	free(L);
}

/* ORDER BY id: numeric, not textual; NULL first; legs already sorted. */
static void
test_sort_asc_nulls(void **state)
{
	struct rt_sort_key key = { 0, false };
	struct rt_merge spec = {
		.kind = RT_MERGE_SORT, .n_visible = UINT_MAX, .sort = &key, .n_sort = 1
	};
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		tm_rs(&L[i], id_name, 2);
	}
	tm_row(&L[0], 2, NULL, "n0");
	tm_row(&L[0], 2, "2", "x0");
	tm_row(&L[0], 2, "10", "y0");
	tm_row(&L[1], 2, "-5", "x1");
	tm_row(&L[1], 2, "9", "y1");
	tm_row(&L[1], 2, "100", "z1");
	tm_row(&L[2], 2, NULL, "n2");
	tm_row(&L[2], 2, "3", "x2");
	for (i = 0; i < 3; i++) {
		tm_end(&L[i], 0, MP_STATUS_AUTOCOMMIT);
	}
	assert_string_equal(tm_run(&spec, L, 3, "00001111222200112", 1 << 20, &out),
			    "cols=id,name|NULL,n0|NULL,n2|-5,x1|2,x0|3,x2|9,y1|10,y0|100,z1|"
			    "EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* ORDER BY name DESC (case-insensitive), id: NULL last when descending. */
static void
test_sort_desc_two_keys(void **state)
{
	struct rt_sort_key keys[] = { { 1, true }, { 0, false } };
	struct rt_merge spec = {
		.kind = RT_MERGE_SORT, .n_visible = 2, .sort = keys, .n_sort = 2
	};
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };

	(void)state;
	tm_rs(&L[0], id_name, 2);
	tm_row(&L[0], 2, "1", "b");
	tm_row(&L[0], 2, "3", "B");
	tm_row(&L[0], 2, "2", "a");
	tm_row(&L[0], 2, "5", NULL);
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_rs(&L[1], id_name, 2);
	tm_row(&L[1], 2, "2", "B ");
	tm_row(&L[1], 2, "1", "A");
	tm_row(&L[1], 2, "0", NULL);
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	assert_string_equal(tm_run(&spec, L, 2, NULL, 1 << 20, &out),
			    "cols=id,name|1,b|2,B |3,B|1,A|2,a|0,NULL|5,NULL|EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* ORDER BY a hidden DECIMAL column, OFFSET 1 LIMIT 2. */
static void
test_sort_hidden_key_limit(void **state)
{
	static const struct tm_col cols[] = {
		{ "id", TM_T_LONG, TM_BINARY, 0 },
		{ "name", TM_T_VARSTRING, TM_CI, 0 },
		{ "price", TM_T_NEWDECIMAL, TM_BINARY, 2 },
	};
	struct rt_sort_key key = { 2, false };
	struct rt_merge spec = { .kind = RT_MERGE_SORT,
				 .n_visible = 2,
				 .sort = &key,
				 .n_sort = 1,
				 .has_limit = true,
				 .limit = 2,
				 .offset = 1 };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };

	(void)state;
	tm_rs(&L[0], cols, 3);
	tm_row(&L[0], 3, "1", "a", "-2.00");
	tm_row(&L[0], 3, "2", "b", "2.25");
	tm_row(&L[0], 3, "3", "c", "10.00");
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_rs(&L[1], cols, 3);
	tm_row(&L[1], 3, "4", "d", "1.50");
	tm_row(&L[1], 3, "5", "e", "9.99");
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	assert_string_equal(tm_run(&spec, L, 2, "0101", 1 << 20, &out),
			    "cols=id,name|4,d|2,b|EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* SELECT * ... ORDER BY name: the legs append name and its weight after the star's columns
 * (tail columns 0 and 1); the merge orders by the weight and sends only the star's columns. */
static void
test_sort_star_tail(void **state)
{
	static const struct tm_col cols[] = {
		{ "id", TM_T_LONG, TM_BINARY, 0 },
		{ "name", TM_T_VARSTRING, TM_CI, 0 },
		{ "name", TM_T_VARSTRING, TM_CI, 0 },
		{ "WEIGHT_STRING(RTRIM(name))", TM_T_VARSTRING, TM_BINARY, 0 },
	};
	struct rt_merge_col tail[] = { { .has_weight = true, .weight = RT_TAIL_BASE + 1 },
				       { .agg = RT_AGG_NONE } };
	struct rt_sort_key key = { RT_TAIL_BASE, false };
	struct rt_merge spec = { .kind = RT_MERGE_SORT,
				 .n_visible = RT_ALL_COLUMNS,
				 .cols = tail,
				 .n_cols = 2,
				 .n_tail = 2,
				 .sort = &key,
				 .n_sort = 1 };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };

	(void)state;
	tm_rs(&L[0], cols, 4);
	tm_row(&L[0], 4, "1", "y", "y", "1");
	tm_row(&L[0], 4, "2", "x", "x", "2");
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_rs(&L[1], cols, 4);
	tm_row(&L[1], 4, "3", "z", "z", "0");
	tm_row(&L[1], 4, "4", "w", "w", "3");
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	assert_string_equal(tm_run(&spec, L, 2, NULL, 1 << 20, &out),
			    "cols=id,name|3,z|1,y|2,x|4,w|EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* SELECT * ... ORDER BY 2 where column 2 is text: no weight column can exist, so the merge
 * refuses (the connection's collation may not be the column's); ORDER BY 1 (a number) works. */
static void
test_sort_star_text_position(void **state)
{
	struct rt_sort_key key = { 1, false };
	struct rt_merge spec = {
		.kind = RT_MERGE_SORT, .n_visible = RT_ALL_COLUMNS, .sort = &key, .n_sort = 1
	};
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };

	(void)state;
	tm_rs(&L[0], id_name, 2);
	tm_row(&L[0], 2, "1", "b");
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_rs(&L[1], id_name, 2);
	tm_row(&L[1], 2, "2", "a");
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	assert_string_equal(
		tm_run(&spec, L, 2, NULL, 1 << 20, &out),
		"ERR 1235 42000 myshard: ORDER BY the number of a text column with SELECT * across shards: order by its name");
	tm_out_free(&out);
	free(L);
}

/* A shard's ERR after rows were streamed replaces the final EOF; later rows are dropped. */
static void
test_err_after_rows(void **state)
{
	struct rt_merge spec = { .kind = RT_MERGE_CONCAT, .n_visible = UINT_MAX };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };

	(void)state;
	tm_rs(&L[0], id_name, 2);
	tm_row(&L[0], 2, "1", "a");
	tm_row(&L[0], 2, "2", "b");
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_err(&L[1], 1146, "42S02", "Table 'db.t' doesn't exist");
	assert_string_equal(tm_run(&spec, L, 2, "000001", 1 << 20, &out),
			    "cols=id,name|1,a|ERR 1146 42S02 shard s1: Table 'db.t' doesn't exist");
	tm_out_free(&out);
	free(L);
}

/* Several ERRs: the lowest leg's is reported, whatever the arrival order; nothing else. */
static void
test_err_lowest_leg(void **state)
{
	struct rt_sort_key key = { 0, false };
	struct rt_merge spec = {
		.kind = RT_MERGE_SORT, .n_visible = UINT_MAX, .sort = &key, .n_sort = 1
	};
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };

	(void)state;
	tm_rs(&L[0], id_name, 2);
	tm_row(&L[0], 2, "1", "a");
	tm_err(&L[0], 1317, "70100", "Query execution was interrupted");
	tm_rs(&L[1], id_name, 2);
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	tm_err(&L[2], 1064, "42000", "You have an error in your SQL syntax");
	assert_string_equal(tm_run(&spec, L, 3, "21111", 1 << 20, &out),
			    "ERR 1317 70100 shard s0: Query execution was interrupted");
	tm_out_free(&out);
	free(L);
}

/* Every leg fails: one ERR, and no status to report (the session keeps its own). */
static void
test_err_every_leg(void **state)
{
	struct rt_merge spec = { .kind = RT_MERGE_ALL_SAME, .n_visible = UINT_MAX };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };
	struct px_merge *m;

	(void)state;
	tm_err(&L[0], 1062, "23000", "Duplicate entry '1' for key 'PRIMARY'");
	tm_err(&L[1], 1062, "23000", "Duplicate entry '2' for key 'PRIMARY'");
	assert_int_equal(px_merge_new(&spec, 2, (const char *const[]){ "east", "west" }, 100,
				      tm_emit, &out, &m),
			 MS_OK);
	tm_feed(m, L, 2, "10");
	assert_false(px_merge_status_seen(m));
	assert_int_equal(px_merge_finish(m, 0), PX_MERGE_OK);
	assert_string_equal(tm_render(&out),
			    "ERR 1062 23000 shard east: Duplicate entry '1' for key 'PRIMARY'");
	assert_false(px_merge_status_seen(m));
	assert_int_equal(px_merge_status(m), 0);
	px_merge_free(m);
	tm_out_free(&out);
	free(L);
}

/* INSERT split over shards: sums, the max insert id, "Records" recomputed (a single-row
 * INSERT sends no info: it counts as Records: 1), warnings summed, the last status. */
static void
test_ok_insert(void **state)
{
	struct rt_merge spec = { .kind = RT_MERGE_CONCAT, .n_visible = UINT_MAX };
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };
	struct px_merge *m;

	(void)state;
	tm_ok(&L[0], 2, 10, MP_STATUS_AUTOCOMMIT, 0, "Records: 2  Duplicates: 0  Warnings: 0");
	tm_ok(&L[1], 4, 20, MP_STATUS_AUTOCOMMIT | MP_STATUS_IN_TRANS, 1,
	      "Records: 3  Duplicates: 1  Warnings: 1");
	tm_ok(&L[2], 1, 15, MP_STATUS_AUTOCOMMIT | MP_STATUS_MORE_RESULTS, 0, "");
	assert_string_equal(tm_run(&spec, L, 3, NULL, 1 << 20, &out),
			    "OK a=7 id=20 s=2 w=1 info=Records: 6  Duplicates: 1  Warnings: 1");
	tm_out_free(&out);
	/* the sequence's first id, when the plan assigned ids */
	L[0].next = L[1].next = L[2].next = 0;
	assert_int_equal(px_merge_new(&spec, 3, NULL, 100, tm_emit, &out, &m), MS_OK);
	tm_feed(m, L, 3, "201");
	assert_int_equal(px_merge_finish(m, 1000), PX_MERGE_OK);
	assert_string_equal(tm_render(&out),
			    "OK a=7 id=1000 s=3 w=1 info=Records: 6  Duplicates: 1  Warnings: 1");
	assert_int_equal(px_merge_status(m), MP_STATUS_AUTOCOMMIT | MP_STATUS_IN_TRANS);
	px_merge_free(m);
	tm_out_free(&out);
	free(L);
}

static const char *
ok_info2(const char *a, const char *b, uint16_t wa, uint16_t wb)
{
	struct rt_merge spec = { .kind = RT_MERGE_CONCAT, .n_visible = UINT_MAX };
	struct tm_leg *L = tm_legs(2);
	static char text[256];
	struct tm_out out = { 0 };

	tm_ok(&L[0], 1, 0, MP_STATUS_AUTOCOMMIT, wa, a);
	tm_ok(&L[1], 2, 0, MP_STATUS_AUTOCOMMIT, wb, b);
	strncpy(text, tm_run(&spec, L, 2, "10", 1 << 20, &out), sizeof(text) - 1);
	tm_out_free(&out);
	free(L);
	return text;
}

/* UPDATE's "Rows matched" summed; shapes that do not line up keep the first leg's info. */
static void
test_ok_info(void **state)
{
	(void)state;
	assert_string_equal(ok_info2("Rows matched: 3  Changed: 2  Warnings: 0",
				     "Rows matched: 1  Changed: 1  Warnings: 0", 0, 0),
			    "OK a=3 id=0 s=2 w=0 info=Rows matched: 4  Changed: 3  Warnings: 0");
	assert_string_equal(
		ok_info2("Rows matched: 3  Changed: 2  Warnings: 0", "Records: 1", 0, 0),
		"OK a=3 id=0 s=2 w=0 info=Rows matched: 3  Changed: 2  Warnings: 0");
	assert_string_equal(ok_info2("", "", 0, 0), "OK a=3 id=0 s=2 w=0 info=");
	assert_string_equal(ok_info2("", "Rows matched: 1  Changed: 1  Warnings: 0", 0, 0),
			    "OK a=3 id=0 s=2 w=0 info=");
	assert_string_equal(ok_info2("odd text", "odd text", 0, 0),
			    "OK a=3 id=0 s=2 w=0 info=odd text");
	assert_string_equal(ok_info2("", "", 65535, 10), "OK a=3 id=0 s=2 w=65535 info=");
}

/* ALL_SAME: the first leg's OK, the most warnings, the last status; an ERR names its shard. */
static void
test_all_same(void **state)
{
	struct rt_merge spec = { .kind = RT_MERGE_ALL_SAME, .n_visible = UINT_MAX };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };

	(void)state;
	tm_ok(&L[0], 0, 0, MP_STATUS_AUTOCOMMIT, 1, "Records: 0  Duplicates: 0  Warnings: 1");
	tm_ok(&L[1], 5, 9, MP_STATUS_AUTOCOMMIT | MP_STATUS_IN_TRANS, 4, "x");
	assert_string_equal(tm_run(&spec, L, 2, "10", 1 << 20, &out),
			    "OK a=0 id=0 s=2 w=4 info=Records: 0  Duplicates: 0  Warnings: 1");
	tm_out_free(&out);
	memset(L, 0, 2 * sizeof(*L));
	tm_ok(&L[0], 0, 0, MP_STATUS_AUTOCOMMIT, 0, "");
	tm_err(&L[1], 1050, "42S01", "Table 't' already exists");
	assert_string_equal(tm_run(&spec, L, 2, NULL, 1 << 20, &out),
			    "ERR 1050 42S01 shard s1: Table 't' already exists");
	tm_out_free(&out);
	/* a read of a global table through every shard: one copy of the rows */
	memset(L, 0, 2 * sizeof(*L));
	tm_rs(&L[0], id_name, 2);
	tm_row(&L[0], 2, "1", "a");
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_rs(&L[1], id_name, 2);
	tm_row(&L[1], 2, "1", "a");
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	assert_string_equal(tm_run(&spec, L, 2, "1111", 1 << 20, &out),
			    "cols=id,name|1,a|EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* Buffering past the cap ends in ERR 1038 (never an OOM kill); streaming needs no buffer. */
static void
test_mem_cap(void **state)
{
	struct rt_sort_key key = { 0, false };
	struct rt_merge spec = {
		.kind = RT_MERGE_SORT, .n_visible = UINT_MAX, .sort = &key, .n_sort = 1
	};
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };
	char id[16];
	size_t i, k;

	(void)state;
	for (i = 0; i < 3; i++) {
		tm_rs(&L[i], id_name, 2);
		for (k = 0; k < 50; k++) {
			snprintf(id, sizeof(id), "%zu", k * 3 + i);
			tm_row(&L[i], 2, id, "some longer name value");
		}
		tm_end(&L[i], 0, MP_STATUS_AUTOCOMMIT);
	}
	assert_string_equal(
		tm_run(&spec, L, 3, "012012012012012", 1000, &out),
		"ERR 1038 HY001 myshard: merge memory limit of 1000 bytes exceeded; add "
		"a LIMIT or a shard key");
	tm_out_free(&out);
	for (i = 0; i < 3; i++) {
		L[i].next = 0;
	}
	spec.kind = RT_MERGE_CONCAT;
	tm_run(&spec, L, 3, NULL, 1000, &out);
	assert_int_equal(out.n, 4 + 150 + 1);
	tm_out_free(&out);
	/* under the cap the same merge sorts */
	for (i = 0; i < 3; i++) {
		L[i].next = 0;
	}
	spec.kind = RT_MERGE_SORT;
	spec.has_limit = true;
	spec.limit = 2;
	assert_string_equal(tm_run(&spec, L, 3, NULL, 1 << 20, &out),
			    "cols=id,name|0,some longer name value|1,some longer name value|"
			    "EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* Feeds <L> in leg order and returns the first rc that is not PX_MERGE_OK (or finish's). */
static enum px_merge_rc
bad_run(const struct rt_merge *spec, struct tm_leg *L, size_t n, const char **why)
{
	struct tm_out out = { 0 };
	enum px_merge_rc rc = PX_MERGE_OK;
	struct px_merge *m;
	size_t i;

	assert_int_equal(px_merge_new(spec, n, NULL, 1 << 20, tm_emit, &out, &m), MS_OK);
	for (i = 0; i < n && rc == PX_MERGE_OK; i++) {
		while (L[i].next < L[i].n && rc == PX_MERGE_OK) {
			rc = tm_feed1(m, L, i);
		}
	}
	if (rc == PX_MERGE_OK) {
		rc = px_merge_finish(m, 0);
	}
	*why = px_merge_why(m);
	px_merge_free(m);
	tm_out_free(&out);
	return rc;
}

static void
test_bad_input(void **state)
{
	static const struct tm_col three[] = { { "a", TM_T_LONG, TM_BINARY, 0 },
					       { "b", TM_T_LONG, TM_BINARY, 0 },
					       { "c", TM_T_LONG, TM_BINARY, 0 } };
	struct rt_sort_key key = { 5, false };
	struct rt_merge spec = { .kind = RT_MERGE_CONCAT, .n_visible = UINT_MAX };
	struct mp_resp_event ev = { MP_PKT_DATA, false, 0 };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };
	struct px_merge *m;
	const char *why;
	uint8_t *big;

	(void)state;
	tm_rs(&L[0], id_name, 2);
	tm_rs(&L[1], three, 3);
	assert_int_equal(bad_run(&spec, L, 2, &why), PX_MERGE_BAD);
	assert_string_equal(why, "shards returned different numbers of columns");
	memset(L, 0, 2 * sizeof(*L));
	tm_rs(&L[0], id_name, 2);
	tm_row(&L[0], 1, "1");
	assert_int_equal(bad_run(&spec, L, 1, &why), PX_MERGE_BAD);
	memset(L, 0, 2 * sizeof(*L));
	tm_ok(&L[0], 1, 0, 2, 0, "");
	tm_rs(&L[1], id_name, 2);
	tm_end(&L[1], 0, 2);
	assert_int_equal(bad_run(&spec, L, 2, &why), PX_MERGE_BAD);
	assert_string_equal(why, "some shards answered with rows and others with OK");
	memset(L, 0, 2 * sizeof(*L));
	tm_ok(&L[0], 1, 0, 2, 0, "");
	tm_ok(&L[0], 1, 0, 2, 0, "");
	assert_int_equal(bad_run(&spec, L, 1, &why), PX_MERGE_BAD);
	memset(L, 0, 2 * sizeof(*L));
	tm_rs(&L[0], id_name, 2);
	tm_ok(&L[0], 0, 0, 2, 0, ""); /* a DEPRECATE_EOF terminator */
	assert_int_equal(bad_run(&spec, L, 1, &why), PX_MERGE_BAD);
	memset(L, 0, 2 * sizeof(*L));
	tm_rs(&L[0], id_name, 2);
	spec.kind = RT_MERGE_SORT;
	spec.sort = &key;
	spec.n_sort = 1;
	assert_int_equal(bad_run(&spec, L, 1, &why), PX_MERGE_BAD);
	assert_string_equal(why, "the merge plan refers to columns the shards did not return");
	memset(L, 0, 2 * sizeof(*L));
	tm_rs(&L[0], id_name, 2); /* never ends */
	spec.n_sort = 0;
	assert_int_equal(bad_run(&spec, L, 1, &why), PX_MERGE_BAD);
	assert_string_equal(why, "a shard's response is incomplete");
	/* a 16 MiB payload: its row continues in the next packet */
	big = calloc(1, MP_MAX_PAYLOAD);
	assert_non_null(big);
	assert_int_equal(px_merge_new(&spec, 1, NULL, 1 << 20, tm_emit, &out, &m), MS_OK);
	assert_int_equal(px_merge_feed(m, 0, &ev, big, MP_MAX_PAYLOAD), PX_MERGE_BAD);
	assert_non_null(px_merge_why(m));
	px_merge_free(m);
	free(big);
	assert_int_equal(px_merge_new(&spec, 0, NULL, 1, tm_emit, &out, &m), MS_EINVAL);
	free(L);
}

/* Final EOF: warnings summed and capped; status of the last leg without MORE_RESULTS. */
static void
test_eof_warnings_status(void **state)
{
	struct rt_merge spec = { .kind = RT_MERGE_CONCAT, .n_visible = UINT_MAX };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };

	(void)state;
	tm_rs(&L[0], id_name, 2);
	tm_end(&L[0], 65000, MP_STATUS_AUTOCOMMIT | MP_STATUS_MORE_RESULTS | MP_STATUS_IN_TRANS);
	tm_rs(&L[1], id_name, 2);
	tm_end(&L[1], 1000, MP_STATUS_AUTOCOMMIT);
	assert_string_equal(tm_run(&spec, L, 2, "11111", 1 << 20, &out),
			    "cols=id,name|EOF w=65535 s=3");
	tm_out_free(&out);
	free(L);
}

int
tm_run_merge_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concat_stream),
		cmocka_unit_test(test_concat_hidden_early_rows),
		cmocka_unit_test(test_sort_asc_nulls),
		cmocka_unit_test(test_sort_desc_two_keys),
		cmocka_unit_test(test_sort_hidden_key_limit),
		cmocka_unit_test(test_sort_star_tail),
		cmocka_unit_test(test_sort_star_text_position),
		cmocka_unit_test(test_err_after_rows),
		cmocka_unit_test(test_err_lowest_leg),
		cmocka_unit_test(test_err_every_leg),
		cmocka_unit_test(test_ok_insert),
		cmocka_unit_test(test_ok_info),
		cmocka_unit_test(test_all_same),
		cmocka_unit_test(test_mem_cap),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_eof_warnings_status),
	};

	return cmocka_run_group_tests_name("merge", tests, NULL, NULL);
}
