/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_parse_select.c - table references (FROM lists and joins) and SELECT statements:
 * WITH, UNION branches, the select list and every clause the planner looks at.
 */
#include "router/rt_parse_int.h"

#include <string.h>

static bool
rt_p_grow(struct rt_p *p, void **arr, unsigned int n, unsigned int *cap, size_t elem)
{
	void *m;

	if (n < *cap) {
		return true;
	}
	m = rt_p_alloc(p, elem * (*cap == 0 ? 8 : *cap * 2));
	if (m == NULL) {
		return false;
	}
	if (n > 0) {
		memcpy(m, *arr, elem * n);
	}
	*arr = m;
	*cap = *cap == 0 ? 8 : *cap * 2;
	return true;
}

unsigned int
rt_p_add_tref(struct rt_p *p, const struct rt_tok *schema, const struct rt_tok *name)
{
	struct rt_stmt *s = p->s;
	struct rt_tref *r;

	if (!rt_p_grow(p, (void **)&s->trefs, s->n_trefs, &p->cap_trefs, sizeof(*r))) {
		return 0;
	}
	r = &s->trefs[s->n_trefs];
	memset(r, 0, sizeof(*r));
	if (schema != NULL) {
		r->schema = *schema;
	}
	r->name = *name;
	r->depth = p->depth;
	r->block = p->depth == 0 ? p->block : -1;
	for (unsigned int i = 0; schema == NULL && i < p->n_ctes; i++) {
		if (p->ctes[i].len == name->len &&
		    memcmp(p->ctes[i].ptr, name->ptr, name->len) == 0) {
			r->cte = true;
		}
	}
	return s->n_trefs++;
}

/* USE|IGNORE|FORCE INDEX|KEY [FOR ...] (...), repeated. */
static void
rt_p_index_hints(struct rt_p *p)
{
	while ((rt_p_is(p, "USE") || rt_p_is(p, "IGNORE") || rt_p_is(p, "FORCE")) &&
	       (rt_p_at(p, 1, "INDEX") || rt_p_at(p, 1, "KEY"))) {
		p->pos += 2;
		while (!rt_p_end(p) && !rt_p_punct(p, '(')) {
			p->pos++; /* FOR JOIN | ORDER BY | GROUP BY */
		}
		rt_p_expect_punct(p, '(');
		rt_p_skip(p, false, &(struct rt_expr){ .kind = RT_EX_OTHER });
		rt_p_expect_punct(p, ')');
	}
}

/* [schema.]name [PARTITION (...)] [[AS] alias] [index hints] */
static void
rt_p_named_table(struct rt_p *p)
{
	struct rt_tok a, b;
	unsigned int i;

	if (!rt_p_ident(p, &a)) {
		rt_p_unexpected(p, "a table name");
		return;
	}
	if (rt_p_accept_punct(p, '.')) {
		if (!rt_p_ident(p, &b)) {
			rt_p_unexpected(p, "a table name");
			return;
		}
		i = rt_p_add_tref(p, &a, &b);
	} else {
		i = rt_p_add_tref(p, NULL, &a);
	}
	if (rt_p_is(p, "PARTITION") && rt_tok_punct(rt_p_tok(p, 1), '(')) {
		p->pos += 2;
		rt_p_skip(p, false, &(struct rt_expr){ .kind = RT_EX_OTHER });
		rt_p_expect_punct(p, ')');
	}
	if (rt_p_is(p, "FOR") && rt_p_at(p, 1, "SYSTEM_TIME")) {
		rt_p_fail(p, "FOR SYSTEM_TIME is not supported");
		return;
	}
	if (!rt_p_failed(p)) {
		rt_p_alias(p, &p->s->trefs[i].alias, false);
	}
	rt_p_index_hints(p);
}

static void
rt_p_table_factor(struct rt_p *p)
{
	if (rt_p_at_subquery(p)) {
		struct rt_tok alias;

		rt_p_subquery(p); /* derived table: its tables are one level down */
		rt_p_alias(p, &alias, false);
		if (rt_p_punct(p, '(')) {
			p->pos++;
			rt_p_skip(p, false, &(struct rt_expr){ .kind = RT_EX_OTHER });
			rt_p_expect_punct(p, ')');
		}
		return;
	}
	if (rt_p_accept_punct(p, '(')) {
		if (!rt_p_nest_in(p)) {
			return;
		}
		rt_p_table_refs(p, NULL, NULL);
		p->nest--;
		rt_p_expect_punct(p, ')');
		return;
	}
	if (rt_p_is(p, "JSON_TABLE") || rt_p_is(p, "LATERAL")) {
		rt_p_fail(p, "%s is not supported",
			  rt_p_is(p, "LATERAL") ? "LATERAL" : "JSON_TABLE");
		return;
	}
	if (rt_p_accept(p, "DUAL")) {
		return;
	}
	rt_p_named_table(p);
}

/* ON expr | USING (cols) after the join's right side (tref index <right>). */
static void
rt_p_join_spec(struct rt_p *p, unsigned int first, unsigned int right, struct rt_expr **ons,
	       struct rt_using **usings)
{
	if (rt_p_accept(p, "ON")) {
		struct rt_expr *on = rt_p_expr(p);

		if (on != NULL && ons != NULL) {
			on->next = *ons;
			*ons = on;
		}
		return;
	}
	if (!rt_p_accept(p, "USING")) {
		return;
	}
	struct rt_using *u = rt_p_alloc(p, sizeof(*u));
	unsigned int cap = 0;

	rt_p_expect_punct(p, '(');
	while (u != NULL && !rt_p_failed(p)) {
		if (!rt_p_grow(p, (void **)&u->cols, u->n_cols, &cap, sizeof(*u->cols)) ||
		    !rt_p_ident(p, &u->cols[u->n_cols])) {
			rt_p_unexpected(p, "a table name");
			return;
		}
		u->n_cols++;
		if (!rt_p_accept_punct(p, ',')) {
			break;
		}
	}
	rt_p_expect_punct(p, ')');
	if (u != NULL && usings != NULL) {
		u->right = right;
		u->first = first;
		u->next = *usings;
		*usings = u;
	}
}

/* A join keyword sequence at the cursor: consumes it and returns true. */
static bool
rt_p_join_kw(struct rt_p *p, bool *natural)
{
	*natural = rt_p_accept(p, "NATURAL");
	if (rt_p_accept(p, "STRAIGHT_JOIN")) {
		return true;
	}
	if (rt_p_accept(p, "LEFT") || rt_p_accept(p, "RIGHT") || rt_p_accept(p, "FULL")) {
		rt_p_skip_kw(p, "OUTER");
	} else {
		rt_p_ignore(rt_p_accept(p, "INNER") || rt_p_accept(p, "CROSS"));
	}
	if (rt_p_accept(p, "JOIN")) {
		return true;
	}
	if (*natural) {
		rt_p_unexpected(p, "JOIN");
	}
	return false;
}

void
rt_p_table_refs(struct rt_p *p, struct rt_expr **ons, struct rt_using **usings)
{
	unsigned int first = p->s->n_trefs;

	do {
		rt_p_table_factor(p);
		for (;;) {
			unsigned int save = p->pos, right = p->s->n_trefs;
			bool natural;

			if (!rt_p_join_kw(p, &natural)) {
				p->pos = save;
				break;
			}
			rt_p_table_factor(p);
			if (natural) {
				continue; /* columns unknown: the planner sees no key equality */
			}
			rt_p_join_spec(p, first, right, ons, usings);
		}
	} while (!rt_p_failed(p) && rt_p_accept_punct(p, ','));
}

/* ---- SELECT ------------------------------------------------------------------------------ */

void
rt_p_order_list(struct rt_p *p, struct rt_order **out, unsigned int *n)
{
	unsigned int cap = 0;

	do {
		if (!rt_p_grow(p, (void **)out, *n, &cap, sizeof(**out))) {
			return;
		}
		(*out)[*n].ex = rt_p_expr(p);
		(*out)[*n].desc = false;
		if (rt_p_accept(p, "DESC")) {
			(*out)[*n].desc = true;
		} else {
			rt_p_skip_kw(p, "ASC");
		}
		(*n)++;
	} while (!rt_p_failed(p) && rt_p_accept_punct(p, ','));
}

static void
rt_p_select_items(struct rt_p *p, struct rt_query *q)
{
	unsigned int cap = 0;

	do {
		struct rt_item *it;

		if (!rt_p_grow(p, (void **)&q->items, q->n_items, &cap, sizeof(*it))) {
			return;
		}
		it = &q->items[q->n_items];
		it->ex = rt_p_expr(p);
		it->alias.len = 0;
		if (it->ex != NULL && it->ex->kind != RT_EX_STAR) {
			rt_p_alias(p, &it->alias, true);
		}
		q->n_items++;
		q->items_end = p->pos;
	} while (!rt_p_failed(p) && rt_p_accept_punct(p, ','));
}

/* INTO @a, @b | INTO OUTFILE 'f' ... | INTO DUMPFILE 'f': skipped up to the next clause. */
static void
rt_p_into(struct rt_p *p, struct rt_query *q)
{
	q->into = true;
	p->pos++;
	while (!rt_p_end(p) && !rt_p_is(p, "FROM") && !rt_p_is(p, "FOR") && !rt_p_is(p, "LOCK") &&
	       !rt_p_is(p, "UNION") && !rt_p_punct(p, ')')) {
		p->pos++;
	}
}

static void
rt_p_limit(struct rt_p *p, struct rt_query *q)
{
	const struct rt_tok *a, *b = NULL;

	q->has_limit = true;
	q->limit_b = p->pos++;
	a = rt_p_tok(p, 0);
	if (a->kind != RT_TOK_NUMBER && a->kind != RT_TOK_PARAM) {
		rt_p_unexpected(p, "a LIMIT count");
		return;
	}
	p->pos++;
	if (rt_p_accept_punct(p, ',') || rt_p_accept(p, "OFFSET")) {
		b = rt_p_tok(p, 0);
		if (b->kind != RT_TOK_NUMBER && b->kind != RT_TOK_PARAM) {
			rt_p_unexpected(p, "a LIMIT count");
			return;
		}
		p->pos++;
	}
	if (b == NULL) {
		q->limit_n = *a;
	} else if (rt_tok_punct(a + 1, ',')) {
		q->limit_off = *a; /* LIMIT m, n */
		q->limit_n = *b;
	} else {
		q->limit_n = *a; /* LIMIT n OFFSET m */
		q->limit_off = *b;
	}
	q->limit_e = p->pos;
}

/* FOR UPDATE [NOWAIT | WAIT n | SKIP LOCKED] | LOCK IN SHARE MODE */
static void
rt_p_lock(struct rt_p *p, struct rt_query *q)
{
	q->lock = true;
	if (rt_p_accept(p, "FOR")) {
		rt_p_expect(p, "UPDATE");
	} else {
		p->pos++;
		rt_p_expect(p, "IN");
		rt_p_expect(p, "SHARE");
		rt_p_expect(p, "MODE");
	}
	if (rt_p_accept(p, "WAIT")) {
		p->pos++;
	} else if (!rt_p_accept(p, "NOWAIT") && rt_p_accept(p, "SKIP")) {
		rt_p_expect(p, "LOCKED");
	}
}

/* GROUP BY ... [WITH ROLLUP] [HAVING ...] */
static void
rt_p_group_having(struct rt_p *p, struct rt_query *q)
{
	if (rt_p_is(p, "GROUP") && rt_p_at(p, 1, "BY")) {
		p->pos += 2;
		rt_p_order_list(p, &q->group, &q->n_group);
		q->group_end = p->pos;
		if (rt_p_is(p, "WITH") && rt_p_at(p, 1, "ROLLUP")) {
			q->rollup = true;
			p->pos += 2;
		}
	}
	if (rt_p_is(p, "HAVING")) {
		q->having_b = p->pos++;
		q->having = rt_p_expr(p);
		q->having_e = p->pos;
	}
}

/* The clauses after the select list. */
static void
rt_p_select_tail(struct rt_p *p, struct rt_query *q)
{
	if (rt_p_is(p, "INTO")) {
		rt_p_into(p, q);
	}
	if (rt_p_accept(p, "FROM")) {
		q->has_from = true;
		rt_p_table_refs(p, &q->ons, &q->usings);
	}
	if (rt_p_accept(p, "WHERE")) {
		q->where = rt_p_expr(p);
	}
	q->clause_pos = p->pos;
	rt_p_group_having(p, q);
	if (rt_p_is(p, "WINDOW")) {
		rt_p_fail(p, "WINDOW clauses are not supported");
	}
	if (rt_p_is(p, "ORDER") && rt_p_at(p, 1, "BY")) {
		p->pos += 2;
		q->order_null = rt_p_is(p, "NULL") && !rt_tok_punct(rt_p_tok(p, 1), ',');
		rt_p_order_list(p, &q->order, &q->n_order);
	}
	if (rt_p_is(p, "LIMIT")) {
		rt_p_limit(p, q);
	}
	if (rt_p_is(p, "INTO")) {
		rt_p_into(p, q);
	}
	if ((rt_p_is(p, "FOR") && rt_p_at(p, 1, "UPDATE")) || rt_p_is(p, "LOCK")) {
		rt_p_lock(p, q);
	}
	if (rt_p_is(p, "INTO")) {
		rt_p_into(p, q);
	}
}

static struct rt_query *
rt_p_select_block(struct rt_p *p)
{
	static const char *const mods[] = { "ALL",
					    "HIGH_PRIORITY",
					    "STRAIGHT_JOIN",
					    "SQL_SMALL_RESULT",
					    "SQL_BIG_RESULT",
					    "SQL_BUFFER_RESULT",
					    "SQL_CACHE",
					    "SQL_NO_CACHE",
					    "SQL_CALC_FOUND_ROWS" };
	struct rt_query *q = rt_p_alloc(p, sizeof(*q));
	bool more = true;

	if (q == NULL) {
		return NULL;
	}
	q->b = p->pos;
	rt_p_expect(p, "SELECT");
	while (more) {
		more = false;
		if (rt_p_accept(p, "DISTINCT") || rt_p_accept(p, "DISTINCTROW")) {
			q->distinct = more = true;
		}
		for (size_t i = 0; i < MS_ARRAY_LEN(mods); i++) {
			more |= rt_p_accept(p, mods[i]);
		}
	}
	rt_p_select_items(p, q);
	rt_p_select_tail(p, q);
	q->e = p->pos;
	return q;
}

static void
rt_p_add_block(struct rt_p *p, struct rt_query *q)
{
	struct rt_stmt *s = p->s;

	if (q == NULL || p->depth > 0) {
		return;
	}
	if (!rt_p_grow(p, (void **)&s->blocks, s->n_blocks, &p->cap_blocks, sizeof(*s->blocks))) {
		return;
	}
	s->blocks[s->n_blocks++] = q;
}

/* One UNION branch: SELECT ... or ( SELECT ... ). Returns whether it was parenthesized. */
static bool
rt_p_branch(struct rt_p *p, bool all)
{
	struct rt_query *q;

	if (p->depth == 0) {
		p->block = (int)p->s->n_blocks;
	}
	if (rt_p_punct(p, '(')) {
		unsigned int save_blocks = p->s->n_blocks;

		p->pos++;
		if (rt_p_punct(p, '(') || rt_p_is(p, "WITH")) {
			rt_p_fail(p, "nested parenthesized SELECTs are not supported");
			return true;
		}
		q = rt_p_select_block(p);
		rt_p_expect_punct(p, ')');
		if (q != NULL) {
			q->parens = true;
		}
		(void)save_blocks;
	} else {
		q = rt_p_select_block(p);
	}
	if (q != NULL) {
		q->union_all = all;
	}
	rt_p_add_block(p, q);
	return q != NULL && q->parens;
}

/* WITH name [(cols)] AS ( SELECT ... ), ... */
static void
rt_p_with(struct rt_p *p)
{
	rt_p_skip_kw(p, "RECURSIVE");
	do {
		struct rt_tok name;

		if (!rt_p_ident(p, &name)) {
			rt_p_unexpected(p, "a WITH name");
			return;
		}
		if (p->n_ctes < RT_P_MAX_CTES) {
			p->ctes[p->n_ctes++] = name;
		}
		if (rt_p_accept_punct(p, '(')) {
			rt_p_skip(p, false, &(struct rt_expr){ .kind = RT_EX_OTHER });
			rt_p_expect_punct(p, ')');
		}
		rt_p_expect(p, "AS");
		if (!rt_p_at_subquery(p)) {
			rt_p_unexpected(p, "( SELECT");
			return;
		}
		rt_p_subquery(p);
	} while (!rt_p_failed(p) && rt_p_accept_punct(p, ','));
}

void
rt_p_select_stmt(struct rt_p *p)
{
	bool parens, all;

	if (rt_p_accept(p, "WITH")) {
		rt_p_with(p);
	}
	parens = rt_p_branch(p, false);
	while (!rt_p_failed(p) && rt_p_accept(p, "UNION")) {
		all = rt_p_accept(p, "ALL");
		if (!all) {
			rt_p_skip_kw(p, "DISTINCT");
		}
		parens = rt_p_branch(p, all);
	}
	if (rt_p_is(p, "INTERSECT") || rt_p_is(p, "EXCEPT") || rt_p_is(p, "MINUS")) {
		rt_p_fail(p, "%s is not supported", rt_p_is(p, "EXCEPT") ? "EXCEPT" : "INTERSECT");
	}
	if (parens && (rt_p_is(p, "ORDER") || rt_p_is(p, "LIMIT"))) {
		struct rt_query tail;

		memset(&tail, 0, sizeof(tail));
		if (p->depth == 0) {
			p->s->union_tail = true;
		}
		p->block = -1;
		rt_p_select_tail(p, &tail);
	}
}
