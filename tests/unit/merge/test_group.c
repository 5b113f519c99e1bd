/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/merge/test_group.c - px_merge GROUP: every aggregate across legs, exact decimal
 * sums beyond 64 bits, AVG rounding, double sums, COUNT(DISTINCT) with duplicates, NULLs and
 * collations, _ci group keys, HAVING in three-valued logic, ORDER BY an aggregate with
 * LIMIT, the one row of an aggregate over no rows, rows held until the definitions arrive,
 * and the memory cap.
 */
#include "tm.h"

#include "protocol/mp_result.h"
#include "router/rt_plan.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SELECT g, COUNT(*), SUM(v), MIN(v), MAX(name), AVG(v), COUNT(DISTINCT x) ... GROUP BY g,
 * with the hidden helpers SUM(v), COUNT(v) and x that the legs also GROUP BY. */
static const struct tm_col agg_cols[] = {
	{ "g", TM_T_VARSTRING, TM_CI, 0 },      { "cnt", TM_T_LONGLONG, TM_BINARY, 0 },
	{ "s", TM_T_NEWDECIMAL, TM_BINARY, 2 }, { "mn", TM_T_LONG, TM_BINARY, 0 },
	{ "mx", TM_T_VARSTRING, TM_CI, 0 },     { "av", TM_T_NEWDECIMAL, TM_BINARY, 4 },
	{ "cd", TM_T_LONGLONG, TM_BINARY, 0 },  { "hs", TM_T_NEWDECIMAL, TM_BINARY, 0 },
	{ "hc", TM_T_LONGLONG, TM_BINARY, 0 },  { "x", TM_T_VARSTRING, TM_CI, 0 },
};
static struct rt_merge_col agg_spec[] = {
	{ .agg = RT_AGG_NONE, .src = 0, .src2 = 0 },
	{ .agg = RT_AGG_COUNT, .src = 0, .src2 = 0 },
	{ .agg = RT_AGG_SUM, .src = 0, .src2 = 0 },
	{ .agg = RT_AGG_MIN, .src = 0, .src2 = 0 },
	{ .agg = RT_AGG_MAX, .src = 0, .src2 = 0 },
	{ .agg = RT_AGG_AVG, .src = 7, .src2 = 8 },
	{ .agg = RT_AGG_COUNT_DISTINCT, .src = 9, .src2 = 0 },
	{ .agg = RT_AGG_SUM, .src = 0, .src2 = 0 },
	{ .agg = RT_AGG_COUNT, .src = 0, .src2 = 0 },
	{ .agg = RT_AGG_NONE, .src = 0, .src2 = 0 },
};
static unsigned int group0[] = { 0 };

static struct rt_merge
agg_merge(void)
{
	struct rt_merge spec = { .kind = RT_MERGE_GROUP,
				 .n_visible = 7,
				 .cols = agg_spec,
				 .n_cols = 10,
				 .group = group0,
				 .n_group = 1 };

	return spec;
}

static void
agg_legs(struct tm_leg *L)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		tm_rs(&L[i], agg_cols, 10);
	}
	tm_row(&L[0], 10, "a", "2", "1.50", "1", "p", "0.7500", "1", "3", "2", "u");
	tm_row(&L[0], 10, "b", "1", "2.00", "5", "q", "5.0000", "1", "5", "1", "u");
	tm_row(&L[1], 10, "A", "3", "10.25", "-4", "Z", "2.0000", "1", "6", "3", "U");
	tm_row(&L[1], 10, "a", "1", NULL, NULL, NULL, NULL, "0", NULL, "0", NULL);
	tm_row(&L[2], 10, "b", "2", "1.00", "2", "r", "2.0000", "1", "4", "2", "v");
	for (i = 0; i < 3; i++) {
		tm_end(&L[i], 0, MP_STATUS_AUTOCOMMIT);
	}
}

static void
test_group_aggregates(void **state)
{
	struct rt_merge spec = agg_merge();
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };

	(void)state;
	agg_legs(L);
	assert_string_equal(
		tm_run(&spec, L, 3, NULL, 1 << 20, &out),
		"cols=g,cnt,s,mn,mx,av,cd|a,6,11.75,-4,Z,1.8000,1|b,3,3.00,2,r,3.0000,2|"
		"EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* Leg 1's rows come before leg 0's definitions: held, then grouped in leg order. */
static void
test_group_early_rows(void **state)
{
	struct rt_merge spec = agg_merge();
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };

	(void)state;
	agg_legs(L);
	assert_string_equal(
		tm_run(&spec, L, 3, "0111111111111111", 1 << 20, &out),
		"cols=g,cnt,s,mn,mx,av,cd|A,6,11.75,-4,Z,1.8000,1|b,3,3.00,2,r,3.0000,2|"
		"EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* One aggregate row over two legs of one row each (n_group 0). */
static const char *
sum2(const struct tm_col *cols, unsigned int n, struct rt_merge_col *aggs, const char *const *row0,
     const char *const *row1)
{
	struct rt_merge spec = {
		.kind = RT_MERGE_GROUP, .n_visible = UINT_MAX, .cols = aggs, .n_cols = n
	};
	struct tm_leg *L = tm_legs(2);
	static char text[1024];
	struct tm_out out = { 0 };

	tm_rs(&L[0], cols, n);
	tm_rowa(&L[0], n, row0);
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_rs(&L[1], cols, n);
	tm_rowa(&L[1], n, row1);
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	strncpy(text, tm_run(&spec, L, 2, NULL, 1 << 20, &out), sizeof(text) - 1);
	tm_out_free(&out);
	free(L);
	return text;
}

/* Exact sums: BIGINT UNSIGNED past 2^64, DECIMAL(65,30) carries, signs, padding, NULLs. */
static void
test_group_decimal_sums(void **state)
{
	static const struct tm_col cols[] = {
		{ "u", TM_T_NEWDECIMAL, TM_BINARY, 0 }, { "d", TM_T_NEWDECIMAL, TM_BINARY, 30 },
		{ "n", TM_T_NEWDECIMAL, TM_BINARY, 2 }, { "p", TM_T_NEWDECIMAL, TM_BINARY, 3 },
		{ "z", TM_T_NEWDECIMAL, TM_BINARY, 2 }, { "c", TM_T_LONGLONG, TM_BINARY, 0 },
	};
	static struct rt_merge_col aggs[] = {
		{ .agg = RT_AGG_SUM, .src = 0, .src2 = 0 }, { .agg = RT_AGG_SUM, .src = 0, .src2 = 0 }, { .agg = RT_AGG_SUM, .src = 0, .src2 = 0 },
		{ .agg = RT_AGG_SUM, .src = 0, .src2 = 0 }, { .agg = RT_AGG_SUM, .src = 0, .src2 = 0 }, { .agg = RT_AGG_COUNT, .src = 0, .src2 = 0 },
	};
	const char *r0[] = { "18446744073709551615",
			     "99999999999999999999999999999999999.999999999999999999999999999999",
			     "-1.50",
			     "1.5",
			     NULL,
			     "18446744073709551615" };
	const char *r1[] = {
		"18446744073709551615", "0.000000000000000000000000000001", "0.15", "2", NULL,
		"18446744073709551615"
	};

	(void)state;
	assert_string_equal(
		sum2(cols, 6, aggs, r0, r1),
		"cols=u,d,n,p,z,c|36893488147419103230,"
		"100000000000000000000000000000000000.000000000000000000000000000000,-1.35,3.500,"
		"NULL,36893488147419103230|EOF w=0 s=2");
}

/* AVG = SUM/COUNT in exact decimal, rounded half away from zero to the column's scale. */
static void
test_group_avg_rounding(void **state)
{
	static const struct tm_col cols[] = {
		{ "k", TM_T_LONG, TM_BINARY, 0 },        { "a4", TM_T_NEWDECIMAL, TM_BINARY, 4 },
		{ "a2", TM_T_NEWDECIMAL, TM_BINARY, 2 }, { "hs", TM_T_NEWDECIMAL, TM_BINARY, 3 },
		{ "hc", TM_T_LONGLONG, TM_BINARY, 0 },
	};
	static struct rt_merge_col aggs[] = {
		{ .agg = RT_AGG_NONE, .src = 0, .src2 = 0 }, { .agg = RT_AGG_AVG, .src = 3, .src2 = 4 },   { .agg = RT_AGG_AVG, .src = 3, .src2 = 4 },
		{ .agg = RT_AGG_SUM, .src = 0, .src2 = 0 },  { .agg = RT_AGG_COUNT, .src = 0, .src2 = 0 },
	};
	static const char *const rows[][5] = {
		{ "1", "x", "x", "3", "1" },     { "1", "x", "x", "4", "1" },  /* 7/2 */
		{ "2", "x", "x", "-7", "3" },    { "3", "x", "x", "-5", "3" }, /* -7/3, -5/3 */
		{ "4", "x", "x", "-1", "8" },    { "5", "x", "x", "1", "8" },  /* -1/8, 1/8 */
		{ "6", NULL, NULL, NULL, "0" },  { "7", "x", "x", "-0.004", "1" },
		{ "8", "x", "x", "2.000", "3" }, { "8", "x", "x", "0.001", "0" },
	};
	struct rt_merge spec = { .kind = RT_MERGE_GROUP,
				 .n_visible = 3,
				 .cols = aggs,
				 .n_cols = 5,
				 .group = group0,
				 .n_group = 1 };
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };
	size_t i;

	(void)state;
	tm_rs(&L[0], cols, 5);
	tm_rs(&L[1], cols, 5);
	for (i = 0; i < MS_ARRAY_LEN(rows); i++) {
		tm_rowa(&L[i % 2], 5, rows[i]);
	}
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	assert_string_equal(tm_run(&spec, L, 2, NULL, 1 << 20, &out),
			    "cols=k,a4,a2|1,3.5000,3.50|2,-2.3333,-2.33|4,-0.1250,-0.13|"
			    "6,NULL,NULL|8,0.6670,0.67|3,-1.6667,-1.67|5,0.1250,0.13|"
			    "7,-0.0040,0.00|EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* FLOAT/DOUBLE sums and averages in C doubles, printed shortest-round-trip. */
static void
test_group_double(void **state)
{
	static const struct tm_col cols[] = {
		{ "s", TM_T_DOUBLE, TM_BINARY, 31 },   { "e", TM_T_DOUBLE, TM_BINARY, 31 },
		{ "f", TM_T_DOUBLE, TM_BINARY, 2 },    { "av", TM_T_DOUBLE, TM_BINARY, 31 },
		{ "hc", TM_T_LONGLONG, TM_BINARY, 0 },
	};
	static struct rt_merge_col aggs[] = {
		{ .agg = RT_AGG_SUM, .src = 0, .src2 = 0 }, { .agg = RT_AGG_SUM, .src = 0, .src2 = 0 },   { .agg = RT_AGG_SUM, .src = 0, .src2 = 0 },
		{ .agg = RT_AGG_AVG, .src = 1, .src2 = 4 }, { .agg = RT_AGG_COUNT, .src = 0, .src2 = 0 },
	};
	const char *r0[] = { "0.1", "1e20", "1.005", NULL, "2" };
	const char *r1[] = { "0.2", "0", "2", NULL, "1" };

	(void)state;
	assert_string_equal(sum2(cols, 5, aggs, r0, r1),
			    "cols=s,e,f,av,hc|0.30000000000000004,1e20,3.00,3.333333333333333e19,3|"
			    "EOF w=0 s=2");
}

/* COUNT(DISTINCT x) per collation: 'a', 'A', 'a ', 'b', NULL spread over legs with repeats. */
static void
test_group_count_distinct(void **state)
{
	static const struct tm_col cols[] = {
		{ "ci", TM_T_LONGLONG, TM_BINARY, 0 },  { "bin", TM_T_LONGLONG, TM_BINARY, 0 },
		{ "raw", TM_T_LONGLONG, TM_BINARY, 0 }, { "dec", TM_T_LONGLONG, TM_BINARY, 0 },
		{ "x1", TM_T_VARSTRING, TM_CI, 0 },     { "x2", TM_T_VARSTRING, TM_BIN, 0 },
		{ "x3", TM_T_VARSTRING, TM_BINARY, 0 }, { "x4", TM_T_NEWDECIMAL, TM_BINARY, 2 },
	};
	static struct rt_merge_col aggs[] = {
		{ .agg = RT_AGG_COUNT_DISTINCT, .src = 4, .src2 = 0 }, { .agg = RT_AGG_COUNT_DISTINCT, .src = 5, .src2 = 0 },
		{ .agg = RT_AGG_COUNT_DISTINCT, .src = 6, .src2 = 0 }, { .agg = RT_AGG_COUNT_DISTINCT, .src = 7, .src2 = 0 },
		{ .agg = RT_AGG_NONE, .src = 0, .src2 = 0 },           { .agg = RT_AGG_NONE, .src = 0, .src2 = 0 },
		{ .agg = RT_AGG_NONE, .src = 0, .src2 = 0 },           { .agg = RT_AGG_NONE, .src = 0, .src2 = 0 },
	};
	static const char *const xs[][2] = { { "a", "1" },   { "A", "1.00" }, { "b", "2" },
					     { NULL, NULL }, { "a ", "01" },  { "a", "2.5" } };
	struct rt_merge spec = {
		.kind = RT_MERGE_GROUP, .n_visible = 4, .cols = aggs, .n_cols = 8
	};
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		tm_rs(&L[i], cols, 8);
	}
	for (i = 0; i < MS_ARRAY_LEN(xs) * 2; i++) {
		const char *x = xs[i % MS_ARRAY_LEN(xs)][0], *d = xs[i % MS_ARRAY_LEN(xs)][1];

		tm_row(&L[i % 3], 8, "0", "0", "0", "0", x, x, x, d);
	}
	for (i = 0; i < 3; i++) {
		tm_end(&L[i], 0, MP_STATUS_AUTOCOMMIT);
	}
	assert_string_equal(tm_run(&spec, L, 3, "012", 1 << 20, &out),
			    "cols=ci,bin,raw,dec|2,3,4,3|EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* Group keys compare per type and collation. */
static const char *
group_keys(const struct tm_col *key, const char *const *vals, size_t n)
{
	static char text[1024];
	const struct tm_col cols[] = { *key, { "c", TM_T_LONGLONG, TM_BINARY, 0 } };
	static struct rt_merge_col aggs[] = { { .agg = RT_AGG_NONE, .src = 0, .src2 = 0 }, { .agg = RT_AGG_COUNT, .src = 0, .src2 = 0 } };
	struct rt_merge spec = { .kind = RT_MERGE_GROUP,
				 .n_visible = UINT_MAX,
				 .cols = aggs,
				 .n_cols = 2,
				 .group = group0,
				 .n_group = 1 };
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };
	size_t i;

	for (i = 0; i < 3; i++) {
		tm_rs(&L[i], cols, 2);
	}
	for (i = 0; i < n; i++) {
		tm_row(&L[i % 3], 2, vals[i], "1");
	}
	for (i = 0; i < 3; i++) {
		tm_end(&L[i], 0, MP_STATUS_AUTOCOMMIT);
	}
	strncpy(text, tm_run(&spec, L, 3, "012012012012", 1 << 20, &out), sizeof(text) - 1);
	tm_out_free(&out);
	free(L);
	return text;
}

static void
test_group_keys(void **state)
{
	static const struct tm_col ci = { "k", TM_T_VARSTRING, TM_CI, 0 };
	static const struct tm_col bin = { "k", TM_T_VARSTRING, TM_BIN, 0 };
	static const struct tm_col raw = { "k", TM_T_VARSTRING, TM_BINARY, 0 };
	static const struct tm_col dec = { "k", TM_T_NEWDECIMAL, TM_BINARY, 1 };
	static const struct tm_col big = { "k", TM_T_LONGLONG, TM_BINARY, 0 };
	const char *s[] = { "abc", "ABC", "abc ", "abd", NULL, "Abc" };
	const char *d[] = { "1.0", "1", "-0.0", "0", "01.00", "-1" };
	const char *b[] = { "18446744073709551615", "-9223372036854775808",
			    "18446744073709551615" };

	(void)state;
	assert_string_equal(group_keys(&ci, s, 6), "cols=k,c|abc,4|abd,1|NULL,1|EOF w=0 s=2");
	assert_string_equal(group_keys(&bin, s, 6),
			    "cols=k,c|abc,2|abd,1|ABC,1|NULL,1|Abc,1|EOF w=0 s=2");
	assert_string_equal(group_keys(&raw, s, 6),
			    "cols=k,c|abc,1|abd,1|ABC,1|NULL,1|abc ,1|Abc,1|EOF w=0 s=2");
	assert_string_equal(group_keys(&dec, d, 6), "cols=k,c|1.0,3|0,2|-1,1|EOF w=0 s=2");
	assert_string_equal(group_keys(&big, b, 3),
			    "cols=k,c|18446744073709551615,2|-9223372036854775808,1|EOF w=0 s=2");
}

/* g, COUNT(*), SUM(v) over groups a (3, 5), b (1, 7), c (2, NULL), zz (1, NULL), d (2, 5). */
static const char *
having_run(struct rt_hv_node *nodes, unsigned int n, struct rt_sort_key *sort, unsigned int n_sort,
	   bool limit)
{
	static const struct tm_col cols[] = { { "g", TM_T_VARSTRING, TM_CI, 0 },
					      { "cnt", TM_T_LONGLONG, TM_BINARY, 0 },
					      { "s", TM_T_NEWDECIMAL, TM_BINARY, 0 } };
	static struct rt_merge_col aggs[] = { { .agg = RT_AGG_NONE, .src = 0, .src2 = 0 },
					      { .agg = RT_AGG_COUNT, .src = 0, .src2 = 0 },
					      { .agg = RT_AGG_SUM, .src = 0, .src2 = 0 } };
	struct rt_merge spec = { .kind = RT_MERGE_GROUP,
				 .n_visible = 3,
				 .cols = aggs,
				 .n_cols = 3,
				 .group = group0,
				 .n_group = 1,
				 .having = nodes,
				 .n_having = n,
				 .sort = sort,
				 .n_sort = n_sort,
				 .has_limit = limit,
				 .limit = 2,
				 .offset = limit ? 1 : 0 };
	struct tm_leg *L = tm_legs(2);
	static char text[1024];
	struct tm_out out = { 0 };

	tm_rs(&L[0], cols, 3);
	tm_row(&L[0], 3, "a", "2", "4");
	tm_row(&L[0], 3, "b", "1", "7");
	tm_row(&L[0], 3, "c", "2", NULL);
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_rs(&L[1], cols, 3);
	tm_row(&L[1], 3, "A", "1", "1");
	tm_row(&L[1], 3, "zz", "1", NULL);
	tm_row(&L[1], 3, "d", "2", "5");
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	strncpy(text, tm_run(&spec, L, 2, NULL, 1 << 20, &out), sizeof(text) - 1);
	tm_out_free(&out);
	free(L);
	return text;
}

#define HV_COL(c)                                                                                  \
	{                                                                                          \
		RT_HV_COL, (c), NULL, 0, false, -1, -1                                             \
	}
#define HV_NUM(s)                                                                                  \
	{                                                                                          \
		RT_HV_LIT, 0, (s), sizeof(s) - 1, false, -1, -1                                    \
	}
#define HV_STR(s)                                                                                  \
	{                                                                                          \
		RT_HV_LIT, 0, (s), sizeof(s) - 1, true, -1, -1                                     \
	}
#define HV_OP(op, a, b)                                                                            \
	{                                                                                          \
		(op), 0, NULL, 0, false, (a), (b)                                                  \
	}

static void
test_group_having(void **state)
{
	/* (cnt > 1 AND s IS NOT NULL) OR g = 'ZZ' */
	struct rt_hv_node h1[] = {
		HV_OP(RT_HV_OR, 1, 6),
		HV_OP(RT_HV_AND, 2, 5),
		HV_OP(RT_HV_GT, 3, 4),
		HV_COL(1),
		HV_NUM("1"),
		HV_OP(RT_HV_IS_NOT_NULL, 7, -1),
		HV_OP(RT_HV_EQ, 8, 9),
		HV_COL(2),
		HV_COL(0),
		HV_STR("ZZ"),
	};
	/* NOT (s > 5): NULL sums stay NULL, and a NULL condition drops the row */
	struct rt_hv_node h2[] = { HV_OP(RT_HV_NOT, 1, -1), HV_OP(RT_HV_GT, 2, 3), HV_COL(2),
				   HV_NUM("5") };
	/* s: a value as the condition (NULL and 0 drop); s <> 5.0 against DECIMAL text */
	struct rt_hv_node h3[] = { HV_OP(RT_HV_AND, 1, 2), HV_COL(2), HV_OP(RT_HV_NE, 1, 3),
				   HV_NUM("5.0") };
	/* s IS NULL OR NULL */
	struct rt_hv_node h4[] = { HV_OP(RT_HV_OR, 1, 3),
				   HV_OP(RT_HV_IS_NULL, 2, -1),
				   HV_COL(2),
				   { RT_HV_NULL, 0, NULL, 0, false, -1, -1 } };

	(void)state;
	assert_string_equal(having_run(h1, 10, NULL, 0, false),
			    "cols=g,cnt,s|a,3,5|zz,1,NULL|d,2,5|EOF w=0 s=2");
	assert_string_equal(having_run(h2, 4, NULL, 0, false),
			    "cols=g,cnt,s|a,3,5|d,2,5|EOF w=0 s=2");
	assert_string_equal(having_run(h3, 4, NULL, 0, false), "cols=g,cnt,s|b,1,7|EOF w=0 s=2");
	assert_string_equal(having_run(h4, 4, NULL, 0, false),
			    "cols=g,cnt,s|c,2,NULL|zz,1,NULL|EOF w=0 s=2");
}

/* ORDER BY cnt DESC, g LIMIT 1, 2 after grouping. */
static void
test_group_sort_limit(void **state)
{
	struct rt_sort_key keys[] = { { 1, true }, { 0, false } };

	(void)state;
	assert_string_equal(having_run(NULL, 0, keys, 2, false),
			    "cols=g,cnt,s|a,3,5|c,2,NULL|d,2,5|b,1,7|zz,1,NULL|EOF w=0 s=2");
	assert_string_equal(having_run(NULL, 0, keys, 2, true),
			    "cols=g,cnt,s|c,2,NULL|d,2,5|EOF w=0 s=2");
}

/* Aggregates over no rows at all: one row (COUNT 0, the rest NULL); with GROUP BY: none. */
static void
test_group_empty_input(void **state)
{
	struct rt_merge spec = agg_merge();
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		tm_rs(&L[i], agg_cols, 10);
		tm_end(&L[i], 0, MP_STATUS_AUTOCOMMIT);
	}
	assert_string_equal(tm_run(&spec, L, 3, NULL, 1 << 20, &out),
			    "cols=g,cnt,s,mn,mx,av,cd|EOF w=0 s=2");
	tm_out_free(&out);
	spec.n_group = 0;
	for (i = 0; i < 3; i++) {
		L[i].next = 0;
	}
	assert_string_equal(tm_run(&spec, L, 3, NULL, 1 << 20, &out),
			    "cols=g,cnt,s,mn,mx,av,cd|NULL,0,NULL,NULL,NULL,NULL,0|EOF w=0 s=2");
	tm_out_free(&out);
	free(L);
}

/* Too many groups (or distinct values) for the cap: ERR 1038, never a partial answer. */
static void
test_group_mem_cap(void **state)
{
	struct rt_merge spec = agg_merge();
	struct tm_leg *L = tm_legs(2);
	struct tm_out out = { 0 };
	char g[16];
	size_t i;

	(void)state;
	tm_rs(&L[0], agg_cols, 10);
	tm_rs(&L[1], agg_cols, 10);
	for (i = 0; i < 100; i++) {
		snprintf(g, sizeof(g), "g%zu", i);
		tm_row(&L[i % 2], 10, g, "1", "1.00", "1", "x", "1.0000", "1", "1", "1", g);
	}
	tm_end(&L[0], 0, MP_STATUS_AUTOCOMMIT);
	tm_end(&L[1], 0, MP_STATUS_AUTOCOMMIT);
	assert_string_equal(
		tm_run(&spec, L, 2, NULL, 20000, &out),
		"ERR 1038 HY001 myshard: merge memory limit of 20000 bytes exceeded; add "
		"a LIMIT or a shard key");
	tm_out_free(&out);
	free(L);
}

/* Every packet cut short, at every length: PX_MERGE_BAD or (where a prefix is itself valid)
 * PX_MERGE_OK, never a crash; whatever comes next, finish and free stay safe. */
static void
test_group_truncated(void **state)
{
	struct rt_merge spec = agg_merge();
	struct tm_leg *L = tm_legs(3);
	struct tm_out out = { 0 };
	struct mp_resp_event ev;
	enum px_merge_rc rc;
	struct px_merge *m;
	size_t p, cut, i;

	(void)state;
	agg_legs(L);
	for (p = 0; p < L[0].n; p++) {
		for (cut = 0; cut < L[0].p[p].len; cut++) {
			assert_int_equal(px_merge_new(&spec, 3, NULL, 1 << 20, tm_emit, &out, &m),
					 MS_OK);
			for (i = 0; i < 3; i++) {
				L[i].next = 0;
			}
			tm_feed(m, L, 0, "1111111111111");
			for (i = 0; i < p; i++) {
				assert_int_equal(tm_feed1(m, L, 0), PX_MERGE_OK);
			}
			memset(&ev, 0, sizeof(ev));
			ev.kind = L[0].p[p].kind;
			rc = px_merge_feed(m, 0, &ev, L[0].p[p].b, cut);
			assert_true(rc == PX_MERGE_OK || rc == PX_MERGE_BAD);
			if (rc == PX_MERGE_BAD) {
				assert_non_null(px_merge_why(m));
			}
			rc = px_merge_finish(m, 0);
			assert_true(rc == PX_MERGE_OK || rc == PX_MERGE_BAD);
			px_merge_free(m);
			tm_out_free(&out);
		}
	}
	free(L);
}

int
tm_run_group_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_aggregates),
		cmocka_unit_test(test_group_early_rows),
		cmocka_unit_test(test_group_decimal_sums),
		cmocka_unit_test(test_group_avg_rounding),
		cmocka_unit_test(test_group_double),
		cmocka_unit_test(test_group_count_distinct),
		cmocka_unit_test(test_group_keys),
		cmocka_unit_test(test_group_having),
		cmocka_unit_test(test_group_sort_limit),
		cmocka_unit_test(test_group_empty_input),
		cmocka_unit_test(test_group_mem_cap),
		cmocka_unit_test(test_group_truncated),
	};

	return cmocka_run_group_tests_name("group", tests, NULL, NULL);
}
