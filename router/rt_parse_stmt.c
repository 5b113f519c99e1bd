/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_parse_stmt.c - the entry point (tokens into an array, dispatch on the leading
 * keywords) and the write statements: INSERT / REPLACE, UPDATE, DELETE and the DDL forms whose
 * table names routing needs.
 */
#include "router/rt_parse_int.h"

#include <string.h>
#include <strings.h>

/* ---- tokens ------------------------------------------------------------------------------ */

static bool
rt_p_tokenize(struct rt_p *p, const char *text, size_t len)
{
	struct rt_stmt *s = p->s;
	unsigned int cap = 64;
	struct rt_lex lx;

	s->toks = rt_arena_alloc(p->a, sizeof(*s->toks) * cap);
	if (s->toks == NULL) {
		return false;
	}
	rt_lex_init(&lx, text, len);
	for (;;) {
		struct rt_tok t = rt_lex_next(&lx);

		if (s->n_toks + 1 >= cap) {
			struct rt_tok *n = rt_arena_alloc(p->a, sizeof(*n) * cap * 2);

			if (n == NULL) {
				return false;
			}
			memcpy(n, s->toks, sizeof(*n) * s->n_toks);
			s->toks = n;
			cap *= 2;
		}
		if (t.kind == RT_TOK_ERROR) {
			rt_p_fail(p, "unterminated string, identifier or comment");
			t.kind = RT_TOK_END;
		}
		if (t.kind == RT_TOK_END) {
			t.ptr = text + len;
			t.len = 0;
			s->toks[s->n_toks] = t;
			break;
		}
		s->toks[s->n_toks++] = t;
	}
	/* a trailing ';' ends the statement; anything after it is another statement */
	for (unsigned int i = 0; i < s->n_toks; i++) {
		if (rt_tok_punct(&s->toks[i], ';')) {
			if (i + 1 < s->n_toks) {
				rt_p_fail(p, "more than one statement");
				break; /* all tokens stay visible to the caller's checks */
			}
			s->toks[i] = s->toks[s->n_toks];
			s->n_toks = i;
			break;
		}
	}
	return true;
}

/* ---- shared pieces ------------------------------------------------------------------------ */

/* [schema.]name as a table reference; returns its index. */
static unsigned int
rt_p_table_name(struct rt_p *p)
{
	struct rt_tok a, b;

	if (!rt_p_ident(p, &a)) {
		rt_p_unexpected(p, "a table name");
		return 0;
	}
	if (rt_p_accept_punct(p, '.')) {
		if (!rt_p_ident(p, &b)) {
			rt_p_unexpected(p, "a table name");
			return 0;
		}
		return rt_p_add_tref(p, &a, &b);
	}
	return rt_p_add_tref(p, NULL, &a);
}

/* col = expr, ... into a fresh array. */
static void
rt_p_assigns(struct rt_p *p, struct rt_assign **out, unsigned int *n)
{
	unsigned int cap = 0;

	do {
		if (*n == cap) {
			struct rt_assign *m = rt_p_alloc(p, sizeof(*m) * (cap == 0 ? 8 : cap * 2));

			if (m == NULL) {
				return;
			}
			if (*n > 0) {
				memcpy(m, *out, sizeof(*m) * *n);
			}
			*out = m;
			cap = cap == 0 ? 8 : cap * 2;
		}
		(*out)[*n].col = rt_p_expr(p);
		if ((*out)[*n].col != NULL && (*out)[*n].col->kind == RT_EX_CMP) {
			/* the expression parser read "col = value" as a comparison */
			struct rt_expr *c = (*out)[*n].col;

			(*out)[*n].col = c->kids;
			(*out)[*n].val = c->kids->next;
		} else if (!rt_p_failed(p)) {
			rt_p_unexpected(p, "col = value");
			return;
		}
		(*out)[*n].e = p->pos;
		(*n)++;
	} while (!rt_p_failed(p) && rt_p_accept_punct(p, ','));
}

static void
rt_p_skip_limit(struct rt_p *p, bool *has)
{
	if (!rt_p_accept(p, "LIMIT")) {
		return;
	}
	*has = true;
	while (!rt_p_end(p) && (rt_p_tok(p, 0)->kind == RT_TOK_NUMBER ||
				rt_p_tok(p, 0)->kind == RT_TOK_PARAM || rt_p_punct(p, ','))) {
		p->pos++;
	}
}

/* WHERE / ORDER BY / LIMIT of UPDATE and DELETE. */
static void
rt_p_write_tail(struct rt_p *p)
{
	struct rt_stmt *s = p->s;

	if (rt_p_accept(p, "WHERE")) {
		s->where = rt_p_expr(p);
	}
	if (rt_p_is(p, "ORDER") && rt_p_at(p, 1, "BY")) {
		struct rt_order *o = NULL;
		unsigned int n = 0;

		p->pos += 2;
		s->has_order = true;
		rt_p_order_list(p, &o, &n);
	}
	rt_p_skip_limit(p, &s->has_limit);
	if (rt_p_is(p, "RETURNING")) {
		rt_p_fail(p, "RETURNING is not supported");
	}
}

/* ---- INSERT / REPLACE --------------------------------------------------------------------- */

static void
rt_p_insert_cols(struct rt_p *p)
{
	struct rt_stmt *s = p->s;
	unsigned int cap = 0;

	s->has_cols = true;
	p->pos++;
	while (!rt_p_failed(p) && !rt_p_punct(p, ')')) {
		struct rt_tok c;

		if (s->n_cols == cap) {
			struct rt_tok *m = rt_p_alloc(p, sizeof(*m) * (cap == 0 ? 16 : cap * 2));

			if (m == NULL) {
				return;
			}
			if (s->n_cols > 0) {
				memcpy(m, s->cols, sizeof(*m) * s->n_cols);
			}
			s->cols = m;
			cap = cap == 0 ? 16 : cap * 2;
		}
		while (rt_p_ident(p, &c) && rt_p_accept_punct(p, '.')) {
			/* t.col: keep the last part */
		}
		s->cols[s->n_cols++] = c;
		if (!rt_p_accept_punct(p, ',') && !rt_p_punct(p, ')')) {
			rt_p_unexpected(p, "a column name");
		}
	}
	s->cols_close = p->pos;
	rt_p_expect_punct(p, ')');
}

static void
rt_p_tuple(struct rt_p *p, struct rt_tuple *t)
{
	unsigned int cap = 0;

	t->b = p->pos;
	rt_p_expect_punct(p, '(');
	while (!rt_p_failed(p) && !rt_p_punct(p, ')')) {
		if (t->n_vals == cap) {
			struct rt_expr **m = rt_p_alloc(p, sizeof(*m) * (cap == 0 ? 16 : cap * 2));

			if (m == NULL) {
				return;
			}
			if (t->n_vals > 0) {
				memcpy(m, t->vals, sizeof(*m) * t->n_vals);
			}
			t->vals = m;
			cap = cap == 0 ? 16 : cap * 2;
		}
		t->vals[t->n_vals++] = rt_p_expr(p);
		if (!rt_p_accept_punct(p, ',') && !rt_p_punct(p, ')')) {
			rt_p_unexpected(p, "',' or ')'");
		}
	}
	t->e = p->pos;
	rt_p_expect_punct(p, ')');
}

static void
rt_p_values(struct rt_p *p)
{
	struct rt_stmt *s = p->s;
	unsigned int cap = 0;

	do {
		if (s->n_tuples == cap) {
			struct rt_tuple *m = rt_p_alloc(p, sizeof(*m) * (cap == 0 ? 16 : cap * 2));

			if (m == NULL) {
				return;
			}
			if (s->n_tuples > 0) {
				memcpy(m, s->tuples, sizeof(*m) * s->n_tuples);
			}
			s->tuples = m;
			cap = cap == 0 ? 16 : cap * 2;
		}
		memset(&s->tuples[s->n_tuples], 0, sizeof(s->tuples[0]));
		rt_p_tuple(p, &s->tuples[s->n_tuples++]);
	} while (!rt_p_failed(p) && rt_p_accept_punct(p, ','));
}

static void
rt_p_insert(struct rt_p *p)
{
	struct rt_stmt *s = p->s;

	p->pos++;
	while (rt_p_accept(p, "LOW_PRIORITY") || rt_p_accept(p, "DELAYED") ||
	       rt_p_accept(p, "HIGH_PRIORITY")) {
	}
	s->ignore = rt_p_accept(p, "IGNORE");
	rt_p_skip_kw(p, "INTO");
	s->target = rt_p_table_name(p);
	s->cols_close = p->pos - 1;
	if (rt_p_is(p, "PARTITION")) {
		rt_p_fail(p, "INSERT ... PARTITION is not supported");
	}
	if (rt_p_punct(p, '(') && !rt_p_at_subquery(p)) {
		rt_p_insert_cols(p);
	}
	if (rt_p_accept(p, "VALUES") || rt_p_accept(p, "VALUE")) {
		rt_p_values(p);
	} else if (rt_p_accept(p, "SET")) {
		s->set_form = true;
		rt_p_assigns(p, &s->sets, &s->n_sets);
	} else if (rt_p_is(p, "SELECT") || rt_p_is(p, "WITH") || rt_p_punct(p, '(')) {
		s->select_form = true;
		rt_p_select_stmt(p);
	} else {
		rt_p_unexpected(p, "VALUES, SET or SELECT");
	}
	if (rt_p_is(p, "ON") && rt_p_at(p, 1, "DUPLICATE")) {
		p->pos += 2;
		rt_p_expect(p, "KEY");
		rt_p_expect(p, "UPDATE");
		rt_p_assigns(p, &s->odku, &s->n_odku);
	}
	if (rt_p_is(p, "RETURNING")) {
		rt_p_fail(p, "RETURNING is not supported");
	}
}

/* ---- UPDATE / DELETE ---------------------------------------------------------------------- */

static unsigned int
rt_p_count_top(const struct rt_stmt *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->n_trefs; i++) {
		n += s->trefs[i].depth == 0;
	}
	return n;
}

static void
rt_p_update(struct rt_p *p)
{
	struct rt_stmt *s = p->s;

	p->pos++;
	while (rt_p_accept(p, "LOW_PRIORITY") || rt_p_accept(p, "IGNORE")) {
	}
	rt_p_table_refs(p, &s->ons, &s->usings);
	s->multi = rt_p_count_top(s) > 1;
	rt_p_expect(p, "SET");
	s->set_form = true;
	rt_p_assigns(p, &s->sets, &s->n_sets);
	rt_p_write_tail(p);
}

/* name[.*], ... (DELETE targets): into s->del_targets. */
static void
rt_p_del_targets(struct rt_p *p)
{
	struct rt_stmt *s = p->s;

	s->del_targets = rt_p_alloc(p, sizeof(*s->del_targets) * 64);
	do {
		struct rt_tok t;

		if (s->del_targets == NULL || s->n_del_targets == 64 || !rt_p_ident(p, &t)) {
			rt_p_unexpected(p, "a table name");
			return;
		}
		if (rt_p_accept_punct(p, '.')) {
			if (!rt_p_accept_punct(p, '*') && !rt_p_ident(p, &t)) {
				rt_p_unexpected(p, "a table name");
			}
			rt_p_ignore(rt_p_accept_punct(p, '.') && rt_p_accept_punct(p, '*'));
		}
		s->del_targets[s->n_del_targets++] = t;
	} while (rt_p_accept_punct(p, ','));
}

static void
rt_p_delete(struct rt_p *p)
{
	struct rt_stmt *s = p->s;

	p->pos++;
	while (rt_p_accept(p, "LOW_PRIORITY") || rt_p_accept(p, "QUICK") ||
	       rt_p_accept(p, "IGNORE")) {
	}
	if (rt_p_accept(p, "FROM")) {
		unsigned int save = p->pos;

		rt_p_del_targets(p);
		if (!rt_p_accept(p, "USING")) {
			/* DELETE FROM t [alias] ...: a single table */
			p->pos = save;
			s->n_del_targets = 0;
			s->ok = true;
			rt_p_table_refs(p, &s->ons, &s->usings);
			s->multi = rt_p_count_top(s) > 1;
			rt_p_write_tail(p);
			return;
		}
	} else {
		rt_p_del_targets(p);
		rt_p_expect(p, "FROM");
	}
	rt_p_table_refs(p, &s->ons, &s->usings);
	s->multi = true;
	rt_p_write_tail(p);
}

/* ---- DDL ---------------------------------------------------------------------------------- */

/* The rest of a CREATE TABLE: LIKE other, or a SELECT whose tables count too. */
static void
rt_p_create_rest(struct rt_p *p)
{
	unsigned int level = 0;

	while (!rt_p_end(p)) {
		if (rt_p_is(p, "LIKE")) {
			p->pos++;
			(void)rt_p_table_name(p);
			continue;
		}
		if ((level == 0 && (rt_p_is(p, "SELECT") || rt_p_is(p, "WITH"))) ||
		    rt_p_at_subquery(p)) {
			p->s->select_form = true;
			rt_p_select_stmt(p);
			continue;
		}
		level += rt_p_punct(p, '(');
		level -= rt_p_punct(p, ')') && level > 0;
		p->pos++;
	}
}

static void
rt_p_if_exists(struct rt_p *p)
{
	if (rt_p_is(p, "IF")) {
		p->pos++;
		rt_p_skip_kw(p, "NOT");
		rt_p_expect(p, "EXISTS");
	}
}

/* CREATE ... with the cursor after CREATE. */
static enum rt_stmt_kind
rt_p_create(struct rt_p *p)
{
	if (rt_p_accept(p, "OR")) {
		rt_p_expect(p, "REPLACE");
	}
	rt_p_skip_kw(p, "TEMPORARY");
	if (rt_p_accept(p, "DATABASE") || rt_p_accept(p, "SCHEMA")) {
		p->pos = p->s->n_toks;
		return RT_STMT_CREATE_DB;
	}
	if (rt_p_accept(p, "TABLE")) {
		rt_p_if_exists(p);
		(void)rt_p_table_name(p);
		rt_p_create_rest(p);
		return RT_STMT_CREATE_TABLE;
	}
	rt_p_ignore(rt_p_accept(p, "UNIQUE") || rt_p_accept(p, "FULLTEXT") ||
		    rt_p_accept(p, "SPATIAL"));
	rt_p_ignore(rt_p_accept(p, "ONLINE") || rt_p_accept(p, "OFFLINE"));
	if (!rt_p_accept(p, "INDEX")) {
		return RT_STMT_OTHER;
	}
	while (!rt_p_end(p) && !rt_p_is(p, "ON")) {
		p->pos++;
	}
	rt_p_expect(p, "ON");
	(void)rt_p_table_name(p);
	p->pos = p->s->n_toks;
	return RT_STMT_CREATE_INDEX;
}

static enum rt_stmt_kind
rt_p_drop(struct rt_p *p)
{
	rt_p_skip_kw(p, "TEMPORARY");
	if (rt_p_accept(p, "DATABASE") || rt_p_accept(p, "SCHEMA")) {
		p->pos = p->s->n_toks;
		return RT_STMT_DROP_DB;
	}
	if (rt_p_accept(p, "INDEX")) {
		while (!rt_p_end(p) && !rt_p_is(p, "ON")) {
			p->pos++;
		}
		rt_p_expect(p, "ON");
		(void)rt_p_table_name(p);
		p->pos = p->s->n_toks;
		return RT_STMT_DROP_INDEX;
	}
	if (!rt_p_accept(p, "TABLE") && !rt_p_accept(p, "TABLES")) {
		return RT_STMT_OTHER;
	}
	rt_p_if_exists(p);
	do {
		(void)rt_p_table_name(p);
	} while (!rt_p_failed(p) && rt_p_accept_punct(p, ','));
	rt_p_ignore(rt_p_accept(p, "RESTRICT") || rt_p_accept(p, "CASCADE"));
	return RT_STMT_DROP_TABLE;
}

static enum rt_stmt_kind
rt_p_alter(struct rt_p *p)
{
	rt_p_skip_kw(p, "ONLINE");
	rt_p_skip_kw(p, "IGNORE");
	if (!rt_p_accept(p, "TABLE")) {
		return RT_STMT_OTHER;
	}
	rt_p_if_exists(p);
	(void)rt_p_table_name(p);
	while (!rt_p_end(p)) {
		if (rt_p_is(p, "RENAME") && !rt_p_at(p, 1, "COLUMN") && !rt_p_at(p, 1, "INDEX") &&
		    !rt_p_at(p, 1, "KEY")) {
			p->pos++;
			rt_p_ignore(rt_p_accept(p, "TO") || rt_p_accept(p, "AS"));
			(void)rt_p_table_name(p);
			continue;
		}
		p->pos++;
	}
	return RT_STMT_ALTER_TABLE;
}

static enum rt_stmt_kind
rt_p_rename(struct rt_p *p)
{
	if (!rt_p_accept(p, "TABLE") && !rt_p_accept(p, "TABLES")) {
		return RT_STMT_OTHER;
	}
	do {
		(void)rt_p_table_name(p);
		rt_p_expect(p, "TO");
		(void)rt_p_table_name(p);
	} while (!rt_p_failed(p) && rt_p_accept_punct(p, ','));
	return RT_STMT_RENAME_TABLE;
}

/* ---- entry -------------------------------------------------------------------------------- */

static enum rt_stmt_kind
rt_p_dispatch(struct rt_p *p)
{
	if (rt_p_is(p, "SELECT") || rt_p_is(p, "WITH") || rt_p_punct(p, '(')) {
		rt_p_select_stmt(p);
		return RT_STMT_SELECT;
	}
	if (rt_p_is(p, "INSERT") || rt_p_is(p, "REPLACE")) {
		enum rt_stmt_kind k = rt_p_is(p, "INSERT") ? RT_STMT_INSERT : RT_STMT_REPLACE;

		rt_p_insert(p);
		return k;
	}
	if (rt_p_is(p, "UPDATE")) {
		rt_p_update(p);
		return RT_STMT_UPDATE;
	}
	if (rt_p_is(p, "DELETE")) {
		rt_p_delete(p);
		return RT_STMT_DELETE;
	}
	p->pos++;
	if (rt_tok_is(&p->s->toks[0], "CREATE")) {
		return rt_p_create(p);
	}
	if (rt_tok_is(&p->s->toks[0], "DROP")) {
		return rt_p_drop(p);
	}
	if (rt_tok_is(&p->s->toks[0], "ALTER")) {
		return rt_p_alter(p);
	}
	if (rt_tok_is(&p->s->toks[0], "TRUNCATE")) {
		rt_p_skip_kw(p, "TABLE");
		(void)rt_p_table_name(p);
		return RT_STMT_TRUNCATE;
	}
	if (rt_tok_is(&p->s->toks[0], "RENAME")) {
		return rt_p_rename(p);
	}
	return RT_STMT_OTHER;
}

enum ms_rc
rt_parse(const char *text, size_t len, struct rt_arena *a, struct rt_stmt **out)
{
	struct rt_p p;
	struct rt_stmt *s = rt_arena_alloc(a, sizeof(*s));

	if (s == NULL) {
		return MS_ENOMEM;
	}
	memset(&p, 0, sizeof(p));
	p.s = s;
	p.a = a;
	p.block = -1;
	s->ok = true;
	s->text = text;
	s->len = len;
	if (!rt_p_tokenize(&p, text, len)) {
		return MS_ENOMEM;
	}
	if (s->ok) {
		p.pos = 0;
		s->kind = rt_p_dispatch(&p);
		if (s->kind != RT_STMT_OTHER && !rt_p_end(&p)) {
			rt_p_unexpected(&p, "the end of the statement");
		}
	}
	if (p.oom) {
		return MS_ENOMEM;
	}
	*out = s;
	return MS_OK;
}

bool
rt_expr_same(const struct rt_stmt *s, const struct rt_expr *x, const struct rt_expr *y)
{
	if (x->e - x->b != y->e - y->b) {
		return false;
	}
	for (unsigned int i = 0; i < x->e - x->b; i++) {
		const struct rt_tok *a = &s->toks[x->b + i];
		const struct rt_tok *b = &s->toks[y->b + i];

		if (a->kind != b->kind || a->len != b->len) {
			return false;
		}
		if (a->kind == RT_TOK_WORD ? strncasecmp(a->ptr, b->ptr, a->len) != 0
					   : memcmp(a->ptr, b->ptr, a->len) != 0) {
			return false;
		}
	}
	return true;
}

void
rt_stmt_span(const struct rt_stmt *s, unsigned int b, unsigned int e, const char **ptr, size_t *len)
{
	if (e <= b) {
		*ptr = s->toks[b].ptr;
		*len = 0;
		return;
	}
	*ptr = s->toks[b].ptr;
	*len = (size_t)(s->toks[e - 1].ptr + s->toks[e - 1].len - s->toks[b].ptr);
}
