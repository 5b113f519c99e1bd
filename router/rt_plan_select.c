/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_plan_select.c - SELECT plans. One shard: the statement unchanged. Several shards:
 * the legs' SQL keeps every select item (so column metadata is the server's own) and appends
 * hidden helper columns (ORDER BY / GROUP BY expressions not selected, SUM and COUNT behind an
 * AVG, the value behind a COUNT(DISTINCT)); HAVING moves to the merge, LIMIT n OFFSET m becomes
 * LIMIT n+m where pushing it down is exact. Anything the merge could get wrong is refused.
 */
#include "router/rt_plan_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct rt_sel {
	struct rt_pctx *c;  /* borrowed */
	struct rt_query *q; /* borrowed */
	struct rt_edits ed;
	struct rt_buf hidden;      /* ", x, SUM(y)": appended to the select list */
	struct rt_merge_col *cols; /* arena; visible items, then hidden helpers */
	const struct rt_expr **ex; /* arena; cap: the expression of a hidden column, or NULL */
	unsigned int n_cols, cap;
	bool *is_key;        /* arena; column i is a group key */
	unsigned int *group; /* arena */
	unsigned int n_group;
	bool star;
	const struct rt_expr *dist_ex; /* the one COUNT(DISTINCT x) argument */
	int dist_col;
};

static void
rt_sel_span(const struct rt_sel *sel, const struct rt_expr *e, const char **p, size_t *n)
{
	rt_stmt_span(sel->c->s, e->b, e->e, p, n);
}

/* Appends hidden column <text> (the text of <ex>, or NULL) to the legs' select list; its merge
 * column gets <agg>. */
static int
rt_sel_hidden(struct rt_sel *sel, const char *text, size_t n, enum rt_agg agg,
	      const struct rt_expr *ex)
{
	if (sel->n_cols == sel->cap) {
		rt_plan_refuse(sel->c, "too many hidden columns");
		return -1;
	}
	rt_buf_adds(&sel->hidden, ", ");
	rt_buf_add(&sel->hidden, text, n);
	sel->cols[sel->n_cols].agg = agg;
	sel->ex[sel->n_cols] = ex;
	return (int)sel->n_cols++;
}

/*
 * Gives column <col> a hidden WEIGHT_STRING(RTRIM(x)) column, x being its expression, so the
 * merge compares strings under their own collation (result metadata only names the
 * connection's). RTRIM: the weights keep trailing spaces, PAD SPACE collations ignore them.
 * Returns <col>, or -1 (error plan). No-op for columns without a known expression (under
 * SELECT *, a select item's index is not its column's: only hidden columns are weighed).
 */
static int
rt_sel_weigh(struct rt_sel *sel, int col)
{
	const struct rt_expr *e;
	struct rt_buf b;
	const char *p;
	size_t n;
	int w;

	if (col < 0 || (unsigned int)col >= sel->n_cols || sel->cols[col].has_weight ||
	    (sel->star && (unsigned int)col < sel->q->n_items)) {
		return col;
	}
	e = (unsigned int)col < sel->q->n_items ? sel->q->items[col].ex : sel->ex[col];
	if (e == NULL || e->kind == RT_EX_STAR) {
		return col;
	}
	rt_sel_span(sel, e, &p, &n);
	rt_buf_init(&b, sel->c->a);
	rt_buf_adds(&b, "WEIGHT_STRING(RTRIM(");
	rt_buf_add(&b, p, n);
	rt_buf_adds(&b, "))");
	if (b.oom) {
		sel->c->oom = true;
		return -1;
	}
	w = rt_sel_hidden(sel, b.p, b.len, RT_AGG_NONE, NULL);
	if (w < 0) {
		return -1;
	}
	sel->cols[col].has_weight = true;
	sel->cols[col].weight = (unsigned int)w;
	return col;
}

/* Hidden FN(arg of <f>). */
static int
rt_sel_hidden_fn(struct rt_sel *sel, const char *fn, const struct rt_expr *f, enum rt_agg agg)
{
	struct rt_buf b;
	const char *p;
	size_t n;

	rt_stmt_span(sel->c->s, f->kids->b, f->kids->e, &p, &n);
	rt_buf_init(&b, sel->c->a);
	rt_buf_addf(&b, "%s(", fn);
	rt_buf_add(&b, p, n);
	rt_buf_adds(&b, ")");
	if (b.oom) {
		sel->c->oom = true;
		return -1;
	}
	return rt_sel_hidden(sel, b.p, b.len, agg, NULL);
}

static bool
rt_tok_ieq(const struct rt_tok *a, const struct rt_tok *b)
{
	return a->len == b->len && strncasecmp(a->ptr, b->ptr, a->len) == 0;
}

/* The select item <e> refers to: ORDER BY 2, an alias, the same text or the same column. */
static int
rt_sel_match(const struct rt_sel *sel, const struct rt_expr *e)
{
	const struct rt_query *q = sel->q;
	uint64_t pos;

	if (e->kind == RT_EX_LIT && !e->neg && rt_plan_u64(&e->name, &pos) && pos >= 1 &&
	    pos <= UINT32_MAX) {
		return (int)(pos - 1);
	}
	for (unsigned int i = 0; e->kind == RT_EX_COL && e->q.len == 0 && i < q->n_items; i++) {
		if (q->items[i].alias.len > 0 && rt_tok_ieq(&q->items[i].alias, &e->name)) {
			return (int)i;
		}
	}
	for (unsigned int i = 0; i < q->n_items; i++) {
		const struct rt_expr *x = q->items[i].ex;

		if (x == NULL || x->kind == RT_EX_STAR) {
			continue;
		}
		if (rt_expr_same(sel->c->s, x, e)) {
			return (int)i;
		}
		if (x->kind == RT_EX_COL && e->kind == RT_EX_COL &&
		    rt_tok_ieq(&x->name, &e->name) &&
		    (x->q.len == 0 || e->q.len == 0 || rt_tok_ieq(&x->q, &e->q))) {
			return (int)i;
		}
	}
	return -1;
}

/* Under SELECT *: ORDER BY <number> names an absolute column (the merge compares it without a
 * weight; see px_merge); -1 for anything else, which becomes a hidden tail column (a select
 * item's index is not its column's, so aliases are not matched); -2 (error plan) if the number
 * cannot be a column. */
static int
rt_sel_position(struct rt_sel *sel, const struct rt_expr *e)
{
	uint64_t pos;

	if (e->kind != RT_EX_LIT || e->neg || !rt_plan_u64(&e->name, &pos) || pos == 0) {
		if (e->kind == RT_EX_LIT) {
			rt_plan_refuse(sel->c, "ORDER BY a constant with SELECT * across shards");
			return -2;
		}
		if (e->kind == RT_EX_COL && e->q.len == 0) {
			for (unsigned int i = 0; i < sel->q->n_items; i++) {
				if (rt_tok_ieq(&sel->q->items[i].alias, &e->name)) {
					rt_plan_refuse(
						sel->c,
						"ORDER BY an alias with SELECT * across shards: name the columns");
					return -2;
				}
			}
		}
		return -1;
	}
	if (pos >= RT_TAIL_BASE) {
		rt_plan_refuse(sel->c, "ORDER BY position %llu is out of range",
			       (unsigned long long)pos);
		return -2;
	}
	return (int)(pos - 1);
}

static int
rt_sel_count_distinct(struct rt_sel *sel, const struct rt_expr *f)
{
	if (f->n_kids != 1) {
		rt_plan_refuse(sel->c, "COUNT(DISTINCT) of several expressions across shards");
		return -1;
	}
	if (sel->dist_ex != NULL && !rt_expr_same(sel->c->s, sel->dist_ex, f->kids)) {
		rt_plan_refuse(sel->c,
			       "more than one COUNT(DISTINCT ...) expression across shards");
		return -1;
	}
	if (sel->dist_ex == NULL) {
		const char *p;
		size_t n;

		sel->dist_ex = f->kids;
		rt_sel_span(sel, f->kids, &p, &n);
		sel->dist_col = rt_sel_weigh(sel, rt_sel_hidden(sel, p, n, RT_AGG_NONE, f->kids));
	}
	return sel->dist_col;
}

/* Merge column for aggregate call <f>: select item <vis>, or a new hidden column if -1. */
static int
rt_sel_agg(struct rt_sel *sel, const struct rt_expr *f, int vis)
{
	static const enum rt_agg map[] = { RT_AGG_NONE, RT_AGG_COUNT, RT_AGG_SUM,
					   RT_AGG_MIN,  RT_AGG_MAX,   RT_AGG_AVG };
	int col = vis, src = 0, src2 = 0;
	const char *p;
	size_t n;

	if (f->window || f->agg == RT_AGGF_OTHER || f->inner_agg) {
		rt_plan_refuse(sel->c, "%s %.*s() across shards",
			       f->window      ? "window function"
			       : f->inner_agg ? "nested aggregate in"
					      : "aggregate",
			       (int)f->name.len, f->name.ptr);
		return -1;
	}
	if (f->distinct && (f->agg == RT_AGGF_SUM || f->agg == RT_AGGF_AVG)) {
		rt_plan_refuse(sel->c, "%.*s(DISTINCT ...) across shards", (int)f->name.len,
			       f->name.ptr);
		return -1;
	}
	if (col < 0) {
		rt_sel_span(sel, f, &p, &n);
		col = rt_sel_hidden(sel, p, n, RT_AGG_NONE, f);
	}
	if (f->agg == RT_AGGF_MIN || f->agg == RT_AGGF_MAX) {
		col = rt_sel_weigh(sel, col); /* the best leg value keeps its weight */
	}
	if (col < 0) {
		return -1;
	}
	if (f->agg == RT_AGGF_COUNT && f->distinct) {
		src = rt_sel_count_distinct(sel, f);
	} else if (f->agg == RT_AGGF_AVG && f->n_kids == 1) {
		src = rt_sel_hidden_fn(sel, "SUM", f, RT_AGG_SUM);
		src2 = src < 0 ? -1 : rt_sel_hidden_fn(sel, "COUNT", f, RT_AGG_COUNT);
	}
	if (src < 0 || src2 < 0) {
		return -1;
	}
	sel->cols[col].agg = f->distinct ? RT_AGG_COUNT_DISTINCT : map[f->agg];
	sel->cols[col].src = (unsigned int)src;
	sel->cols[col].src2 = (unsigned int)src2;
	return col;
}

/* Merge columns of the select items; returns whether any item aggregates. */
static bool
rt_sel_items(struct rt_sel *sel, bool *agg)
{
	*agg = false;
	for (unsigned int i = 0; i < sel->q->n_items; i++) {
		const struct rt_expr *e = sel->q->items[i].ex;
		const char *p;
		size_t n;

		if (e->kind == RT_EX_FUNC && e->agg != RT_AGGF_NONE) {
			*agg = true;
			continue; /* after the group keys are known: see rt_sel_grouped() */
		}
		if (e->inner_agg || e->window) {
			rt_sel_span(sel, e, &p, &n);
			rt_plan_refuse(sel->c, "%s in '%.*s' across shards",
				       e->window ? "window function"
						 : "aggregate inside an expression",
				       (int)n, p);
			return false;
		}
	}
	return true;
}

static void
rt_sel_limit(struct rt_sel *sel, bool push)
{
	struct rt_query *q = sel->q;
	struct rt_merge *m = &sel->c->plan->merge;
	uint64_t n, off = 0;
	struct rt_buf b;

	if (!q->has_limit) {
		return;
	}
	if (!rt_plan_u64(&q->limit_n, &n) ||
	    (q->limit_off.len > 0 && !rt_plan_u64(&q->limit_off, &off))) {
		rt_plan_refuse(sel->c,
			       "LIMIT with placeholders or non-integer values across shards");
		return;
	}
	m->has_limit = true;
	m->limit = n;
	m->offset = off;
	rt_buf_init(&b, sel->c->a);
	if (push) {
		rt_buf_addf(&b, "LIMIT %llu",
			    (unsigned long long)(n + off < n ? UINT64_MAX : n + off));
	} else {
		rt_buf_adds(&b, "");
	}
	sel->c->oom |= b.oom;
	rt_edit_add(sel->c, &sel->ed, rt_plan_tok_off(sel->c->s, q->limit_b),
		    rt_plan_tok_end(sel->c->s, q->limit_e - 1) -
			    rt_plan_tok_off(sel->c->s, q->limit_b),
		    b.p, b.len);
}

static bool
rt_sel_sort_alloc(struct rt_sel *sel, unsigned int n)
{
	struct rt_merge *m = &sel->c->plan->merge;

	m->sort = rt_arena_alloc(sel->c->a, sizeof(*m->sort) * (n > 0 ? n : 1));
	sel->c->oom |= m->sort == NULL;
	return m->sort != NULL;
}

/* No grouping: concatenation, or a k-way merge for ORDER BY. */
static void
rt_sel_plain(struct rt_sel *sel)
{
	struct rt_query *q = sel->q;
	struct rt_merge *m = &sel->c->plan->merge;

	if (q->n_order > 0 && !q->order_null) {
		if (!rt_sel_sort_alloc(sel, q->n_order)) {
			return;
		}
		for (unsigned int i = 0; i < q->n_order; i++) {
			const struct rt_expr *e = q->order[i].ex;
			int col = sel->star ? rt_sel_position(sel, e) : rt_sel_match(sel, e);
			unsigned int at;
			const char *p;
			size_t n;

			if (col == -2) {
				return;
			}
			if (col < 0) {
				rt_sel_span(sel, e, &p, &n);
				col = rt_sel_hidden(sel, p, n, RT_AGG_NONE, e);
			}
			if (rt_sel_weigh(sel, col) < 0) {
				return;
			}
			at = (unsigned int)col;
			if (sel->star && e->kind != RT_EX_LIT) {
				at = RT_TAIL_BASE + (at - q->n_items); /* after the star's columns */
			}
			m->sort[m->n_sort].col = at;
			m->sort[m->n_sort++].desc = q->order[i].desc;
		}
	}
	rt_sel_limit(sel, true);
}

/* ---- grouping ----------------------------------------------------------------------------- */

/* A merged column for <e> after grouping: a select item, an aggregate (hidden if not selected)
 * or a group key; -1 (error plan) otherwise. */
static int
rt_sel_resolve(struct rt_sel *sel, const struct rt_expr *e, const char *what)
{
	const struct rt_query *q = sel->q;
	int col = rt_sel_match(sel, e);
	const char *p;
	size_t n;

	if (col >= 0) {
		return col;
	}
	if (e->kind == RT_EX_FUNC && e->agg != RT_AGGF_NONE) {
		return rt_sel_agg(sel, e, -1);
	}
	for (unsigned int k = 0; k < q->n_group && k < sel->n_group; k++) {
		const struct rt_expr *g = q->group[k].ex;

		if (rt_expr_same(sel->c->s, g, e) ||
		    (g->kind == RT_EX_COL && e->kind == RT_EX_COL &&
		     rt_tok_ieq(&g->name, &e->name))) {
			return (int)sel->group[k];
		}
	}
	rt_sel_span(sel, e, &p, &n);
	rt_plan_refuse(sel->c,
		       "%s '%.*s' is neither selected, grouped nor an aggregate across shards",
		       what, (int)n, p);
	return -1;
}

static bool
rt_sel_const(const struct rt_expr *e)
{
	return e->kind == RT_EX_LIT || e->kind == RT_EX_NULL || e->kind == RT_EX_BOOL ||
	       e->kind == RT_EX_PARAM;
}

/* group[]: the GROUP BY expressions' columns (all visible columns for DISTINCT). */
static bool
rt_sel_group_keys(struct rt_sel *sel)
{
	const struct rt_query *q = sel->q;
	unsigned int n = q->distinct ? q->n_items : q->n_group;

	sel->group = rt_arena_alloc(sel->c->a, sizeof(*sel->group) * (n > 0 ? n : 1));
	if (sel->group == NULL) {
		sel->c->oom = true;
		return false;
	}
	for (unsigned int k = 0; k < n; k++) {
		int col = (int)k;
		const char *p;
		size_t len;

		if (!q->distinct && (col = rt_sel_match(sel, q->group[k].ex)) < 0) {
			rt_sel_span(sel, q->group[k].ex, &p, &len);
			col = rt_sel_hidden(sel, p, len, RT_AGG_NONE, q->group[k].ex);
		}
		if (rt_sel_weigh(sel, col) < 0) {
			return false;
		}
		sel->group[sel->n_group++] = (unsigned int)col;
		if ((unsigned int)col < sel->cap) {
			sel->is_key[col] = true;
		}
	}
	return true;
}

/* Aggregate items, then a check that every other item is a group key or a constant. */
static bool
rt_sel_group_items(struct rt_sel *sel)
{
	const struct rt_query *q = sel->q;

	for (unsigned int i = 0; i < q->n_items; i++) {
		const struct rt_expr *e = q->items[i].ex;
		const char *p;
		size_t n;

		if (e->kind == RT_EX_FUNC && e->agg != RT_AGGF_NONE) {
			if (rt_sel_agg(sel, e, (int)i) < 0) {
				return false;
			}
		} else if (!sel->is_key[i] && !rt_sel_const(e)) {
			rt_sel_span(sel, e, &p, &n);
			rt_plan_refuse(
				sel->c,
				"column '%.*s' must be in GROUP BY to be merged across shards",
				(int)n, p);
			return false;
		}
	}
	return true;
}

static int rt_hv_bool(struct rt_sel *sel, const struct rt_expr *e);

/* A HAVING operand: a literal or a merged column. */
static int
rt_hv_val(struct rt_sel *sel, const struct rt_expr *e)
{
	struct rt_merge *m = &sel->c->plan->merge;
	unsigned int i = m->n_having++;
	struct rt_hv_node *h = &m->having[i];

	h->a = h->b = -1;
	if (e->kind == RT_EX_NULL) {
		h->op = RT_HV_NULL;
	} else if (e->kind == RT_EX_LIT && e->name.kind == RT_TOK_STRING) {
		h->op = RT_HV_LIT;
		h->lit_is_string = true;
		if (!rt_unquote(sel->c, &e->name, &h->lit, &h->lit_len)) {
			return -1;
		}
	} else if (e->kind == RT_EX_LIT && e->name.intro == 0 &&
		   (e->name.ptr[0] == '.' || (e->name.ptr[0] >= '0' && e->name.ptr[0] <= '9')) &&
		   !(e->name.len > 1 &&
		     (e->name.ptr[1] == 'x' || e->name.ptr[1] == 'b' || e->name.ptr[1] == '\''))) {
		const char *p;
		size_t n;

		h->op = RT_HV_LIT;
		rt_sel_span(sel, e, &p, &n);
		h->lit = rt_arena_strndup(sel->c->a, p, n);
		h->lit_len = n;
		sel->c->oom |= h->lit == NULL;
	} else {
		int col = rt_sel_resolve(sel, e, "HAVING operand");

		if (col < 0) {
			return -1;
		}
		h->op = RT_HV_COL;
		h->col = (unsigned int)col;
	}
	return (int)i;
}

static int rt_hv_bool(struct rt_sel *sel, const struct rt_expr *e);

/* The <count> conditions from <first> on (an AND or OR node's kids: the parser keeps
 * a AND b AND c as one node) joined by <op> as a balanced tree of binary nodes, so that
 * evaluating it recurses log2(count) deep. */
static int
rt_hv_join(struct rt_sel *sel, enum rt_hv_op op, const struct rt_expr *first, unsigned int count)
{
	struct rt_merge *m = &sel->c->plan->merge;
	const struct rt_expr *second = first;
	unsigned int i, half = count / 2;
	int a, b;

	if (count == 1) {
		return rt_hv_bool(sel, first);
	}
	i = m->n_having++;
	for (unsigned int k = 0; k < half; k++) {
		second = second->next;
	}
	a = rt_hv_join(sel, op, first, half);
	b = a < 0 ? -1 : rt_hv_join(sel, op, second, count - half);
	if (b < 0) {
		return -1;
	}
	m->having[i].op = op;
	m->having[i].a = a;
	m->having[i].b = b;
	return (int)i;
}

static int
rt_hv_bool(struct rt_sel *sel, const struct rt_expr *e)
{
	static const enum rt_hv_op cmp[] = { RT_HV_EQ, RT_HV_NE, RT_HV_LT,
					     RT_HV_LE, RT_HV_GT, RT_HV_GE };
	struct rt_merge *m = &sel->c->plan->merge;
	unsigned int i;
	int a = -1, b = -1;
	const char *p;
	size_t n;

	if (e->kind == RT_EX_AND || e->kind == RT_EX_OR) {
		return rt_hv_join(sel, e->kind == RT_EX_AND ? RT_HV_AND : RT_HV_OR, e->kids,
				  e->n_kids);
	}
	i = m->n_having++;
	if (e->kind == RT_EX_NOT) {
		a = rt_hv_bool(sel, e->kids);
		m->having[i].op = RT_HV_NOT;
	} else if (e->kind == RT_EX_CMP && e->op != RT_CMP_NSEQ) {
		a = rt_hv_val(sel, e->kids);
		b = a < 0 ? -1 : rt_hv_val(sel, e->kids->next);
		m->having[i].op = cmp[e->op];
	} else if (e->kind == RT_EX_ISNULL) {
		a = rt_hv_val(sel, e->kids);
		m->having[i].op = e->neg ? RT_HV_IS_NOT_NULL : RT_HV_IS_NULL;
	} else {
		rt_sel_span(sel, e, &p, &n);
		rt_plan_refuse(sel->c, "HAVING condition '%.*s' across shards", (int)n, p);
		return -1;
	}
	if (a < 0 || (b < 0 && e->kind == RT_EX_CMP)) {
		return -1;
	}
	m->having[i].a = a;
	m->having[i].b = b;
	return (int)i;
}

/* HAVING leaves the legs' SQL and becomes rt_hv nodes over merged columns. */
static bool
rt_sel_having(struct rt_sel *sel)
{
	const struct rt_query *q = sel->q;
	struct rt_merge *m = &sel->c->plan->merge;
	struct rt_pctx *c = sel->c;

	if (q->having == NULL) {
		return true;
	}
	m->having = rt_arena_alloc(c->a, sizeof(*m->having) * (q->having_e - q->having_b + 2));
	if (m->having == NULL) {
		c->oom = true;
		return false;
	}
	rt_edit_add(c, &sel->ed, rt_plan_tok_off(c->s, q->having_b),
		    rt_plan_tok_end(c->s, q->having_e - 1) - rt_plan_tok_off(c->s, q->having_b), "",
		    0);
	return rt_hv_bool(sel, q->having) == 0;
}

static bool
rt_sel_group_order(struct rt_sel *sel)
{
	const struct rt_query *q = sel->q;
	struct rt_merge *m = &sel->c->plan->merge;
	bool implicit = q->n_order == 0 && q->n_group > 0;
	unsigned int n = implicit ? sel->n_group : q->order_null ? 0 : q->n_order;

	if (!rt_sel_sort_alloc(sel, n)) {
		return false;
	}
	for (unsigned int k = 0; k < n; k++) {
		int col = implicit ? (int)sel->group[k]
				   : rt_sel_resolve(sel, q->order[k].ex, "ORDER BY");

		if (col >= 0 && sel->cols[col].agg == RT_AGG_NONE) {
			col = rt_sel_weigh(sel, col);
		}
		if (col < 0) {
			return false;
		}
		if (q->distinct && (unsigned int)col >= q->n_items) {
			rt_plan_refuse(
				sel->c,
				"ORDER BY a column that SELECT DISTINCT does not select, across shards");
			return false;
		}
		m->sort[k].col = (unsigned int)col;
		m->sort[k].desc = implicit ? false : q->order[k].desc;
		m->n_sort++;
	}
	return true;
}

/* COUNT(DISTINCT x): the legs also group by x, so each distinct value reaches the merge. */
static void
rt_sel_distinct_group(struct rt_sel *sel)
{
	const struct rt_query *q = sel->q;
	struct rt_pctx *c = sel->c;
	struct rt_buf b;
	const char *p;
	size_t n;

	if (sel->dist_ex == NULL) {
		return;
	}
	rt_sel_span(sel, sel->dist_ex, &p, &n);
	rt_buf_init(&b, c->a);
	rt_buf_adds(&b, q->n_group > 0 ? ", " : " GROUP BY ");
	rt_buf_add(&b, p, n);
	c->oom |= b.oom;
	rt_edit_add(c, &sel->ed,
		    rt_plan_tok_end(c->s, (q->n_group > 0 ? q->group_end : q->clause_pos) - 1), 0,
		    b.p, b.len);
}

static void
rt_sel_grouped(struct rt_sel *sel, bool agg)
{
	const struct rt_query *q = sel->q;

	if (q->distinct && (agg || q->n_group > 0)) {
		rt_plan_refuse(sel->c, "SELECT DISTINCT with GROUP BY or aggregates across shards");
		return;
	}
	if (sel->star) {
		rt_plan_refuse(
			sel->c,
			"SELECT * with GROUP BY, DISTINCT or aggregates across shards: name the columns");
		return;
	}
	if (q->rollup) {
		rt_plan_refuse(sel->c, "GROUP BY ... WITH ROLLUP across shards");
		return;
	}
	if (!rt_sel_group_keys(sel) || !rt_sel_group_items(sel) || !rt_sel_having(sel) ||
	    !rt_sel_group_order(sel)) {
		return;
	}
	rt_sel_distinct_group(sel);
	rt_sel_limit(sel, q->distinct && q->n_order > 0);
}

/* Legs and merge description once the SQL is built. */
static void
rt_sel_finish(struct rt_sel *sel, const struct topo_shardset *set, char *sql, size_t len, bool agg)
{
	struct rt_pctx *c = sel->c;
	const struct rt_query *q = sel->q;
	struct rt_merge *m = &c->plan->merge;
	enum rt_merge_kind kind;

	if (agg || q->n_group > 0 || q->having != NULL || q->distinct) {
		kind = RT_MERGE_GROUP;
		m->group = sel->group;
		m->n_group = sel->n_group;
	} else {
		kind = m->n_sort > 0 ? RT_MERGE_SORT : RT_MERGE_CONCAT;
	}
	if (!sel->star) {
		/* every column, hidden ones included (all RT_AGG_NONE without grouping) */
		m->cols = sel->cols;
		m->n_cols = sel->n_cols;
	} else if (sel->n_cols > q->n_items) {
		/* only hidden columns have entries; their weights are tail indexes */
		m->n_tail = sel->n_cols - q->n_items;
		m->cols = sel->cols + q->n_items;
		m->n_cols = m->n_tail;
		for (unsigned int j = 0; j < m->n_tail; j++) {
			if (m->cols[j].has_weight) {
				m->cols[j].weight = RT_TAIL_BASE + (m->cols[j].weight - q->n_items);
			}
		}
	}
	m->n_visible = sel->star ? RT_ALL_COLUMNS : q->n_items;
	rt_plan_legs_set(c, set, sql, len);
	m->kind = kind;
}

/* Builds the legs' SQL and the merge for SELECT <q> over the shards in <set>. */
void
rt_plan_select_multi(struct rt_pctx *c, struct rt_query *q, const struct topo_shardset *set)
{
	struct rt_sel sel;
	bool agg = false;
	char *sql;
	size_t len;

	memset(&sel, 0, sizeof(sel));
	sel.c = c;
	sel.q = q;
	sel.dist_col = -1;
	rt_buf_init(&sel.hidden, c->a);
	if (q->into) {
		rt_plan_refuse(c, "SELECT ... INTO across shards");
		return;
	}
	sel.cap = 6 * (q->n_items + q->n_order + q->n_group + (q->having_e - q->having_b)) + 8;
	sel.cols = rt_arena_alloc(c->a, sizeof(*sel.cols) * sel.cap);
	sel.is_key = rt_arena_alloc(c->a, sizeof(*sel.is_key) * sel.cap);
	sel.ex = rt_arena_alloc(c->a, sizeof(*sel.ex) * sel.cap);
	if (sel.cols == NULL || sel.is_key == NULL || sel.ex == NULL) {
		c->oom = true;
		return;
	}
	memset(sel.cols, 0, sizeof(*sel.cols) * sel.cap);
	memset(sel.is_key, 0, sizeof(*sel.is_key) * sel.cap);
	memset(sel.ex, 0, sizeof(*sel.ex) * sel.cap);
	for (unsigned int i = 0; i < q->n_items; i++) {
		sel.star |= q->items[i].ex->kind == RT_EX_STAR;
	}
	sel.n_cols = q->n_items;
	if (!rt_sel_items(&sel, &agg)) {
		return;
	}
	if (agg || q->n_group > 0 || q->having != NULL || q->distinct) {
		rt_sel_grouped(&sel, agg);
	} else {
		rt_sel_plain(&sel);
	}
	if (rt_plan_failed(c)) {
		return;
	}
	if (sel.hidden.len > 0) {
		rt_edit_add(c, &sel.ed, rt_plan_tok_end(c->s, q->items_end - 1), 0, sel.hidden.p,
			    sel.hidden.len);
	}
	sql = NULL; /* nothing to rewrite: the legs run the client's text */
	len = 0;
	if (sel.ed.n > 0 &&
	    ((sql = rt_edit_apply(c, &sel.ed, &len)) == NULL || rt_plan_failed(c))) {
		return;
	}
	rt_sel_finish(&sel, set, sql, len, agg);
}

/* ---- statement level ---------------------------------------------------------------------- */

/* UNION DISTINCT: every branch also selects WEIGHT_STRING(RTRIM(x)) of each of its <n> items x
 * (see rt_sel_weigh) so the merge tells values apart under their own collations; column k's
 * weight is column n + k. The legs (already set) run the rewritten text. */
static void
rt_union_weigh(struct rt_pctx *c, unsigned int n)
{
	const struct rt_stmt *s = c->s;
	struct rt_edits ed;
	char *sql;
	size_t len;

	memset(&ed, 0, sizeof(ed));
	for (unsigned int i = 0; i < s->n_blocks; i++) {
		const struct rt_query *q = s->blocks[i];
		struct rt_buf b;

		rt_buf_init(&b, c->a);
		for (unsigned int k = 0; k < q->n_items; k++) {
			const char *p;
			size_t pn;

			rt_stmt_span(s, q->items[k].ex->b, q->items[k].ex->e, &p, &pn);
			rt_buf_adds(&b, ", WEIGHT_STRING(RTRIM(");
			rt_buf_add(&b, p, pn);
			rt_buf_adds(&b, "))");
		}
		c->oom |= b.oom;
		rt_edit_add(c, &ed, rt_plan_tok_end(s, q->items_end - 1), 0, b.p, b.len);
	}
	if (rt_plan_failed(c) || (sql = rt_edit_apply(c, &ed, &len)) == NULL ||
	    rt_plan_failed(c)) {
		return;
	}
	for (size_t i = 0; i < c->plan->n_legs; i++) {
		c->plan->legs[i].sql = sql;
		c->plan->legs[i].sql_len = len;
	}
	for (unsigned int k = 0; k < n; k++) {
		c->plan->merge.cols[k].has_weight = true;
		c->plan->merge.cols[k].weight = n + k;
	}
}

/* UNION of several branches over several shards: plain branches only. */
static void
rt_plan_union(struct rt_pctx *c, const struct topo_shardset *set)
{
	const struct rt_stmt *s = c->s;
	struct rt_merge *m = &c->plan->merge;
	unsigned int n = s->blocks[0]->n_items;
	bool any_distinct = false;

	for (unsigned int i = 0; i < s->n_blocks; i++) {
		const struct rt_query *q = s->blocks[i];

		for (unsigned int k = 0; k < q->n_items; k++) {
			const struct rt_expr *e = q->items[k].ex;

			if (e->kind == RT_EX_STAR ||
			    (e->kind == RT_EX_FUNC && e->agg != RT_AGGF_NONE) || e->inner_agg ||
			    e->window) {
				rt_plan_refuse(
					c, "UNION across shards with aggregates or * in a branch");
				return;
			}
		}
		if (q->n_group > 0 || q->having != NULL || q->distinct || q->n_order > 0 ||
		    q->has_limit || q->into || s->union_tail) {
			rt_plan_refuse(
				c,
				"UNION across shards with GROUP BY, HAVING, DISTINCT, ORDER BY, LIMIT or INTO");
			return;
		}
		if (q->n_items != n) {
			rt_plan_refuse(c, "UNION branches select different numbers of columns");
			return;
		}
		any_distinct |= i > 0 && !q->union_all;
	}
	rt_plan_legs_set(c, set, NULL, 0);
	if (!any_distinct) {
		m->kind = RT_MERGE_CONCAT; /* UNION ALL: concatenation of whole rows */
		m->n_visible = RT_ALL_COLUMNS;
		m->n_cols = 0;
		return;
	}
	if (s->blocks[s->n_blocks - 1]->union_all) {
		rt_plan_refuse(c, "UNION DISTINCT followed by UNION ALL across shards");
		return;
	}
	m->kind = RT_MERGE_GROUP;
	m->n_visible = n;
	m->n_cols = 2 * n;
	m->n_group = n;
	m->cols = rt_arena_alloc(c->a, sizeof(*m->cols) * 2 * n);
	m->group = rt_arena_alloc(c->a, sizeof(*m->group) * n);
	if (m->cols == NULL || m->group == NULL) {
		c->oom = true;
		return;
	}
	memset(m->cols, 0, sizeof(*m->cols) * 2 * n);
	for (unsigned int i = 0; i < n; i++) {
		m->group[i] = i;
	}
	rt_union_weigh(c, n);
}

void
rt_plan_select(struct rt_pctx *c)
{
	const struct rt_stmt *s = c->s;
	struct topo_shardset set;
	bool sharded = false, narrowed = true;
	const struct rt_tref *plain = NULL, *one = NULL, *glob = NULL;
	bool bare = false; /* a branch without sharded tables */
	char x[160], y[160];

	if (!rt_subq_check(c)) {
		return;
	}
	memset(&set, 0, sizeof(set));
	for (unsigned int i = 0; i < s->n_blocks; i++) {
		const struct rt_query *q = s->blocks[i];
		struct rt_blk b;

		if (!rt_blk_plan(c, &b, (int)i, q->where, q->ons, q->usings)) {
			return;
		}
		plain = b.a_plain != NULL ? b.a_plain : plain;
		if (b.n_sharded == 0) {
			bare = true;
			glob = b.a_global != NULL ? b.a_global : glob;
			continue;
		}
		one = b.a_sharded;
		sharded = true;
		narrowed &= b.narrowed;
		for (size_t k = 0; k < MS_ARRAY_LEN(set.bits); k++) {
			set.bits[k] |= b.set.bits[k];
		}
	}
	if (!sharded) {
		rt_plan_default(c);
		return;
	}
	if (plain != NULL) {
		rt_plan_refuse(
			c,
			"table %s is neither sharded nor global and cannot be used with sharded table %s",
			rt_tref_label(plain, x, sizeof(x)), rt_tref_label(one, y, sizeof(y)));
		return;
	}
	if (topo_shardset_count(&set) == 1) {
		rt_plan_legs_set(c, &set, NULL, 0);
		return;
	}
	c->plan->scatter = !narrowed;
	if (bare) {
		rt_plan_refuse(c, "a UNION branch without sharded tables%s%s across shards",
			       glob != NULL ? " reads global table " : "",
			       glob != NULL ? rt_tref_label(glob, x, sizeof(x)) : "");
		return;
	}
	if (s->n_blocks > 1) {
		rt_plan_union(c, &set);
		return;
	}
	rt_plan_select_multi(c, s->blocks[0], &set);
}
