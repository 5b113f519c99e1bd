/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/micro/route_micro.c - nanoseconds per statement of each router step that a text
 * COM_QUERY goes through in px_cmd_query/px_cmd_route (classify, transaction parse, plan,
 * implicit-commit check, read-only check, read hint), on the planner tests' 4-shard fixture.
 * Not a test: it prints figures. Build dir: bench/micro/route_micro [iterations].
 */
#include "router/rt_classify.h"
#include "router/rt_hint.h"
#include "router/rt_lex.h"
#include "router/rt_plan.h"
#include "router/rt_tx.h"
#include "plan_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned long sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct step {
	const char *name;
	void (*fn)(const char *sql, size_t len);
};

static const struct topo_snapshot *snap;

static void
do_lex(const char *sql, size_t len)
{
	struct rt_lex lx;
	struct rt_tok t;

	rt_lex_init(&lx, sql, len);
	do {
		t = rt_lex_next(&lx);
		sink += t.len;
	} while (t.kind != RT_TOK_END && t.kind != RT_TOK_ERROR);
}

static void
do_classify(const char *sql, size_t len)
{
	struct rt_class c;

	rt_classify(sql, len, &c);
	sink += c.flags + c.sticky;
}

static void
do_tx(const char *sql, size_t len)
{
	struct rt_tx t;

	rt_tx_parse(sql, len, &t);
	sink += (unsigned long)t.kind;
}

static void
do_plan(const char *sql, size_t len)
{
	struct rt_plan_in in = { .sql = sql, .len = len, .snap = snap, .schema = "" };
	struct rt_plan *p = NULL;

	if (rt_plan_build(&in, &p) != MS_OK) {
		abort();
	}
	sink += p->n_legs;
	rt_plan_free(p);
}

static void
do_implicit(const char *sql, size_t len)
{
	sink += rt_tx_implicit_commit(sql, len);
}

static void
do_readonly(const char *sql, size_t len)
{
	sink += rt_read_only_select(sql, len);
}

static void
do_hint(const char *sql, size_t len)
{
	const char *v = NULL;
	size_t n = 0;

	sink += rt_hint_find_key(sql, len, "read=", &v, &n);
}

int
main(int argc, char **argv)
{
	static const struct step steps[] = {
		{ "lex only", do_lex },		   { "classify", do_classify },	   { "tx_parse", do_tx },
		{ "plan_build+free", do_plan },	   { "implicit_commit", do_implicit },
		{ "read_only_select", do_readonly }, { "hint_find_key", do_hint },
	};
	static const char *const sqls[] = {
		"SELECT c FROM sbtest1 WHERE id=5017",
		"SELECT name FROM users WHERE id = 123",
		"UPDATE orders SET total = total + 1 WHERE user_id = 77",
	};
	long iters = argc > 1 ? atol(argv[1]) : 200000;

	snap = fixture_snapshot();
	for (size_t q = 0; q < sizeof(sqls) / sizeof(sqls[0]); q++) {
		const char *sql = sqls[q];
		size_t len = strlen(sql);
		double total = 0; /* of the steps a statement goes through (not "lex only") */

		printf("%s\n", sql);
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			double t0, ns;

			for (long k = 0; k < iters / 10; k++) {
				steps[i].fn(sql, len); /* warm-up */
			}
			t0 = now_ns();
			for (long k = 0; k < iters; k++) {
				steps[i].fn(sql, len);
			}
			ns = (now_ns() - t0) / (double)iters;
			total += steps[i].fn != do_lex ? ns : 0;
			printf("  %-18s %8.1f ns\n", steps[i].name, ns);
		}
		printf("  %-18s %8.1f ns\n", "total", total);
		{
			double t0 = now_ns(), ns;

			for (long k = 0; k < iters; k++) {
				rt_lex_memo_set(sql, len);
				for (size_t i = 1; i < sizeof(steps) / sizeof(steps[0]); i++) {
					steps[i].fn(sql, len);
				}
				rt_lex_memo_clear();
			}
			ns = (now_ns() - t0) / (double)iters;
			printf("  %-18s %8.1f ns\n", "all, one scan", ns);
		}
	}
	return 0;
}
