/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz/fuzz_sql.c - libFuzzer target for everything that reads a client's SQL text: the
 * lexer and classifier, transaction statements, SET replay and tracking (and session_track_*
 * settings), read-only SELECTs for replicas, read hints, multi-statement
 * splitting, KILL, LOAD DATA, digests, the admin port's statements, and the planner over the
 * 4-shard snapshot of the unit tests.
 */
#include "router/rt_admin.h"
#include "router/rt_classify.h"
#include "router/rt_digest.h"
#include "router/rt_hint.h"
#include "router/rt_lex.h"
#include "router/rt_load.h"
#include "router/rt_plan.h"
#include "router/rt_tx.h"
#include "tests/unit/router/plan_fixture.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* A scan replayed from the statement memo must equal a live scan, view for view. */
static void
memo_check(const char *sql, size_t n)
{
	struct rt_lex live, memo;

	rt_lex_memo_clear();
	rt_lex_init(&live, sql, n);
	rt_lex_memo_set(sql, n);
	rt_lex_init(&memo, sql, n);
	for (int i = 0; i < 4096; i++) {
		struct rt_tok a, b;

		rt_lex_memo_clear(); /* <live> never looks at it again; <memo> holds its entries */
		a = rt_lex_next(&live);
		b = rt_lex_next(&memo);
		if (a.kind != b.kind || a.ptr != b.ptr || a.len != b.len || a.intro != b.intro ||
		    live.pos != memo.pos || live.in_exec_comment != memo.in_exec_comment) {
			__builtin_trap();
		}
		if (a.kind == RT_TOK_END || a.kind == RT_TOK_ERROR) {
			break;
		}
	}
	rt_lex_memo_clear();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct topo_snapshot *snap;
	const char *sql = (const char *)d;
	struct rt_class cls;
	struct rt_tx tx;
	struct rt_span sp[16];
	struct rt_load *l = malloc(sizeof(*l));
	struct rt_admin adm;
	struct rt_plan *p = NULL;
	struct rt_plan_in in = { .sql = sql, .len = n, .schema = "shop" };
	char out[4096], dig[128];
	const char *why;
	int ac;
	bool q;
	uint64_t id;

	if (snap == NULL) {
		snap = fixture_snapshot();
	}
	memo_check(sql, n);
	/* the digest is the same whether the text is scanned live or replayed */
	{
		char live[128];

		(void)rt_digest(sql, n, live, sizeof(live));
		rt_lex_memo_set(sql, n);
		(void)rt_digest(sql, n, dig, sizeof(dig));
		if (strcmp(live, dig) != 0) {
			__builtin_trap();
		}
	}
	/* everything below runs with the memo set, as in the proxy */
	rt_classify(sql, n, &cls);
	rt_tx_parse(sql, n, &tx);
	(void)rt_tx_implicit_commit(sql, n);
	(void)rt_tx_tableless(sql, n);
	(void)rt_set_vars(sql, n, out, sizeof(out), &ac);
	(void)rt_set_trackable(sql, n);
	(void)rt_set_track(sql, n, out, sizeof(out));
	(void)rt_read_only_select(sql, n);
	{
		const char *hv;
		size_t hl;

		(void)rt_hint_find_key(sql, n, "read=", &hv, &hl);
	}
	(void)rt_split(sql, n, sp, 16);
	(void)rt_kill_parse(sql, n, &q, &id);
	(void)rt_digest(sql, n, dig, sizeof(dig));
	if (l != NULL && rt_load_parse(sql, n, l, &why) == RT_LOAD_OK) {
		size_t pos = 0;
		uint8_t kb[64];
		struct rt_load_row row;

		/* the statement's own bytes as a file in its format */
		for (int i = 0; i < 256 && rt_load_next(l, d, n, true, &pos, 1, kb, sizeof(kb), &row);
		     i++) {
		}
	}
	free(l);
	rt_admin_parse(sql, n, &adm);
	in.snap = snap;
	if (rt_plan_build(&in, &p) == MS_OK) {
		rt_plan_free(p);
	}
	rt_lex_memo_clear();
	return 0;
}
