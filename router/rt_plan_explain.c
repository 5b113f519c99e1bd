/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_plan_explain.c - EXPLAIN ROUTE rows: one per leg (shard and SQL), one per merge
 * step, and a "route" row with the route kind and the digest.
 */
#include "router/rt_plan_int.h"

#include <stdio.h>
#include <string.h>

static const char *
rt_agg_name(enum rt_agg a)
{
	static const char *const names[] = { "value", "count", "sum",           "min",
					     "max",   "avg",   "count distinct" };

	return (size_t)a < MS_ARRAY_LEN(names) ? names[a] : "?";
}

/* "col 3", or "tail col 0" for hidden column 0 after SELECT *'s columns. */
static void
rt_explain_col(struct rt_buf *b, unsigned int col)
{
	if (col >= RT_TAIL_BASE) {
		rt_buf_addf(b, "tail col %u", col - RT_TAIL_BASE);
	} else {
		rt_buf_addf(b, "col %u", col);
	}
}

static void
rt_explain_sort(struct rt_buf *b, const struct rt_merge *m)
{
	for (unsigned int i = 0; i < m->n_sort; i++) {
		rt_buf_adds(b, i == 0 ? "order by " : ", ");
		rt_explain_col(b, m->sort[i].col);
		rt_buf_adds(b, m->sort[i].desc ? " desc" : "");
	}
}

static void
rt_explain_group(struct rt_buf *b, const struct rt_merge *m)
{
	bool first = true;

	if (m->n_group == 0) {
		rt_buf_adds(b, "group all rows");
	}
	for (unsigned int i = 0; i < m->n_group; i++) {
		rt_buf_addf(b, "%scol %u", i == 0 ? "group by " : ", ", m->group[i]);
	}
	for (unsigned int i = 0; i < m->n_cols; i++) {
		const struct rt_merge_col *c = &m->cols[i];

		if (c->agg == RT_AGG_NONE) {
			continue;
		}
		rt_buf_adds(b, first ? "; aggregates: " : ", ");
		first = false;
		if (c->agg == RT_AGG_AVG) {
			rt_buf_addf(b, "avg(col %u/col %u)", c->src, c->src2);
		} else if (c->agg == RT_AGG_COUNT_DISTINCT) {
			rt_buf_addf(b, "count distinct(col %u)", c->src);
		} else {
			rt_buf_addf(b, "%s(col %u)", rt_agg_name(c->agg), i);
		}
	}
	if (m->n_having > 0) {
		rt_buf_adds(b, "; having");
	}
	if (m->n_sort > 0) {
		rt_buf_adds(b, "; ");
	}
	rt_explain_sort(b, m);
}

/* "; weights col 0=2, col 1=3": strings compare by the WEIGHT_STRING in the second column. */
static void
rt_explain_weights(struct rt_buf *b, const struct rt_merge *m)
{
	bool first = true;

	for (unsigned int i = 0; m->cols != NULL && i < m->n_cols; i++) {
		if (m->cols[i].has_weight) {
			if (m->n_tail > 0) {
				rt_buf_addf(b, "%stail col %u=%u", first ? "; weights " : ", ", i,
					    m->cols[i].weight - RT_TAIL_BASE);
			} else {
				rt_buf_addf(b, "%scol %u=%u", first ? "; weights " : ", ", i,
					    m->cols[i].weight);
			}
			first = false;
		}
	}
}

/* Text of the merge step, or NULL if there is none. */
static char *
rt_explain_merge(struct rt_arena *a, const struct rt_plan *p)
{
	const struct rt_merge *m = &p->merge;
	struct rt_buf b;

	rt_buf_init(&b, a);
	switch (m->kind) {
	case RT_MERGE_NONE:
		return rt_arena_strndup(a, "", 0);
	case RT_MERGE_CONCAT:
		rt_buf_adds(&b, p->write ? "sum affected rows" : "concat");
		break;
	case RT_MERGE_SORT:
		rt_buf_adds(&b, "merge ");
		rt_explain_sort(&b, m);
		break;
	case RT_MERGE_GROUP:
		rt_explain_group(&b, m);
		break;
	case RT_MERGE_ALL_SAME:
		rt_buf_adds(&b, "all legs must succeed; first leg's OK");
		break;
	}
	if (m->has_limit) {
		rt_buf_addf(&b, "; offset %llu limit %llu", (unsigned long long)m->offset,
			    (unsigned long long)m->limit);
	}
	if (m->n_visible != RT_ALL_COLUMNS && m->n_cols > m->n_visible) {
		rt_buf_addf(&b, "; hidden cols %u..%u", m->n_visible, m->n_cols - 1);
	}
	if (m->n_tail > 0) {
		rt_buf_addf(&b, "; hidden: the last %u cols", m->n_tail);
	}
	rt_explain_weights(&b, m);
	return b.oom ? NULL : b.p;
}

static const char *
rt_route_kind(const struct rt_plan *p)
{
	if (p->kind == RT_PLAN_ERROR) {
		return "error";
	}
	if (p->kind == RT_PLAN_NEED_IDS) {
		return "needs sequence ids";
	}
	if (p->merge.kind == RT_MERGE_ALL_SAME) {
		return "broadcast";
	}
	if (p->n_legs == 1) {
		return "single";
	}
	return p->scatter ? "scatter" : "multi";
}

static bool
rt_explain_row(struct rt_arena *a, struct rt_explain_row *r, const char *step, const char *shard,
	       const char *text, size_t text_len)
{
	r->step = rt_arena_strndup(a, step, strlen(step));
	r->shard = rt_arena_strndup(a, shard, strlen(shard));
	r->text = rt_arena_strndup(a, text, text_len);
	return r->step != NULL && r->shard != NULL && r->text != NULL;
}

enum ms_rc
rt_plan_explain_rows(struct rt_plan *p, const struct topo_snapshot *snap,
		     struct rt_explain_row **rows, size_t *n)
{
	struct rt_arena *a = p->arena;
	const struct rt_plan *d = p->kind == RT_PLAN_EXPLAIN && p->inner != NULL ? p->inner : p;
	struct rt_explain_row *r = rt_arena_alloc(a, sizeof(*r) * (d->n_legs + 3));
	size_t k = 0;
	char step[32], *merge;
	struct rt_buf b;
	bool ok = r != NULL;

	for (size_t i = 0; ok && i < d->n_legs; i++) {
		const struct rt_leg *l = &d->legs[i];
		const char *sql = l->sql != NULL ? l->sql : d->text != NULL ? d->text : "";
		size_t len = l->sql != NULL ? l->sql_len : d->text != NULL ? d->text_len : 0;

		snprintf(step, sizeof(step), "leg %zu", i + 1);
		ok = rt_explain_row(a, &r[k++], step,
				    l->shard < snap->n_shards ? snap->shards[l->shard].name : "?",
				    sql, len);
	}
	merge = ok ? rt_explain_merge(a, d) : NULL;
	ok = ok && merge != NULL;
	if (ok && merge[0] != '\0') {
		ok = rt_explain_row(a, &r[k++], "merge", "", merge, strlen(merge));
	}
	rt_buf_init(&b, a);
	rt_buf_addf(&b, "%s; digest: %s", rt_route_kind(d), d->digest);
	if (d->kind == RT_PLAN_ERROR) {
		rt_buf_addf(&b, "; error %u (%s): %s", d->err_code, d->err_state, d->err_msg);
	} else if (d->kind == RT_PLAN_NEED_IDS) {
		const struct topo_sequence *q =
			d->seq < snap->map.n_sequences ? &snap->map.sequences[d->seq] : NULL;

		rt_buf_addf(&b,
			    "; %zu id%s from sequence %s (counter on shard %s), then each row goes to "
			    "its id's shard",
			    d->need_ids, d->need_ids == 1 ? "" : "s", q != NULL ? q->name : "?",
			    q != NULL && q->shard < snap->n_shards ? snap->shards[q->shard].name : "?");
	}
	ok = ok && !b.oom && rt_explain_row(a, &r[k++], "route", "", b.p, b.len);
	if (!ok) {
		return MS_ENOMEM;
	}
	*rows = r;
	*n = k;
	return MS_OK;
}
