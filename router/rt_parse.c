/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_parse.c - token array, cursor helpers, expressions and table references. Failure is
 * sticky: rt_p_fail() records the first reason and moves the cursor to the END token, so every
 * loop ends and no caller needs to unwind by hand.
 */
#include "router/rt_parse_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Words that end an expression or a table reference: never a bare column, table or alias. */
static const char *const rt_reserved[] = {
	"AND",       "AS",      "ASC",           "BETWEEN",  "BY",        "CASE",
	"CROSS",     "DELETE",  "DESC",          "DISTINCT", "DIV",       "ELSE",
	"END",       "ESCAPE",  "EXCEPT",        "EXISTS",   "FOR",       "FORCE",
	"FROM",      "FULL",    "GROUP",         "HAVING",   "IGNORE",    "IN",
	"INNER",     "INSERT",  "INTERSECT",     "INTERVAL", "INTO",      "IS",
	"JOIN",      "KEY",     "LEFT",          "LIKE",     "LIMIT",     "LOCK",
	"MOD",       "NATURAL", "NOT",           "NULL",     "OFFSET",    "ON",
	"OR",        "ORDER",   "OUTER",         "OVER",     "PARTITION", "REGEXP",
	"RETURNING", "RIGHT",   "RLIKE",         "ROWS",     "SELECT",    "SEPARATOR",
	"SET",       "SOUNDS",  "STRAIGHT_JOIN", "THEN",     "UNION",     "UPDATE",
	"USE",       "USING",   "VALUES",        "WHEN",     "WHERE",     "WINDOW",
	"WITH",      "XOR",
};

static struct rt_kwset rt_reserved_set;

__attribute__((constructor)) static void
rt_reserved_set_init(void)
{
	rt_kwset_build(&rt_reserved_set, rt_reserved, MS_ARRAY_LEN(rt_reserved));
}

bool
rt_p_reserved(const struct rt_tok *t)
{
	return t->kind == RT_TOK_WORD && rt_kwset_has(&rt_reserved_set, t->ptr, t->len);
}

void
rt_p_fail(struct rt_p *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->s->ok) {
		return;
	}
	p->s->ok = false;
	va_start(ap, fmt);
	vsnprintf(p->s->err, sizeof(p->s->err), fmt, ap);
	va_end(ap);
	p->pos = p->s->n_toks;
}

bool
rt_p_failed(const struct rt_p *p)
{
	return !p->s->ok;
}

void *
rt_p_alloc(struct rt_p *p, size_t n)
{
	void *m = rt_arena_alloc(p->a, n);

	if (m == NULL) {
		p->oom = true;
		rt_p_fail(p, "out of memory");
	}
	return m;
}

bool
rt_p_end(const struct rt_p *p)
{
	return p->pos >= p->s->n_toks;
}

void
rt_p_unexpected(struct rt_p *p, const char *wanted)
{
	const struct rt_tok *t = rt_p_tok(p, 0);

	if (t->kind == RT_TOK_END) {
		rt_p_fail(p, "expected %s at the end", wanted);
	} else {
		rt_p_fail(p, "expected %s near '%.*s'", wanted, (int)(t->len > 40 ? 40 : t->len),
			  t->ptr);
	}
}

void
rt_p_expect(struct rt_p *p, const char *kw)
{
	if (!rt_p_accept(p, kw)) {
		rt_p_unexpected(p, kw);
	}
}

void
rt_p_expect_punct(struct rt_p *p, char c)
{
	char what[4] = { '\'', c, '\'', '\0' };

	if (!rt_p_accept_punct(p, c)) {
		rt_p_unexpected(p, what);
	}
}

bool
rt_p_ident(struct rt_p *p, struct rt_tok *out)
{
	const struct rt_tok *t = rt_p_tok(p, 0);

	if (t->kind == RT_TOK_QIDENT && t->len >= 2) {
		*out = *t;
		out->ptr++;
		out->len -= 2;
		p->pos++;
		return true;
	}
	if (t->kind == RT_TOK_WORD && !rt_p_reserved(t)) {
		*out = *t;
		p->pos++;
		return true;
	}
	return false;
}

void
rt_p_alias(struct rt_p *p, struct rt_tok *out, bool strings)
{
	bool as = rt_p_accept(p, "AS");
	const struct rt_tok *t = rt_p_tok(p, 0);

	out->len = 0;
	if (strings && t->kind == RT_TOK_STRING && t->intro == 0 && t->len >= 2) {
		*out = *t;
		out->ptr++;
		out->len -= 2;
		p->pos++;
	} else if (!rt_p_ident(p, out) && as) {
		rt_p_unexpected(p, "an alias");
	}
}

bool
rt_aggf_of(const struct rt_tok *t, enum rt_aggf *agg)
{
	static const char *const others[] = {
		"GROUP_CONCAT",    "STD",
		"STDDEV",          "STDDEV_POP",
		"STDDEV_SAMP",     "VARIANCE",
		"VAR_POP",         "VAR_SAMP",
		"BIT_AND",         "BIT_OR",
		"BIT_XOR",         "JSON_ARRAYAGG",
		"JSON_OBJECTAGG",  "PERCENTILE_CONT",
		"PERCENTILE_DISC", "MEDIAN",
	};
	static const char *const known[] = { "COUNT", "SUM", "MIN", "MAX", "AVG" };

	for (size_t i = 0; i < MS_ARRAY_LEN(known); i++) {
		if (rt_tok_is(t, known[i])) {
			*agg = (enum rt_aggf)(RT_AGGF_COUNT + i);
			return true;
		}
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(others); i++) {
		if (rt_tok_is(t, others[i])) {
			*agg = RT_AGGF_OTHER;
			return true;
		}
	}
	return false;
}

/* ---- expressions ------------------------------------------------------------------------ */

static struct rt_expr *
rt_p_node(struct rt_p *p, enum rt_ex_kind kind, unsigned int b)
{
	struct rt_expr *n = rt_p_alloc(p, sizeof(*n));

	if (n != NULL) {
		n->kind = kind;
		n->b = b;
		n->e = b;
	}
	return n;
}

static void
rt_p_kid(struct rt_expr *n, struct rt_expr *k)
{
	if (n == NULL || k == NULL) {
		return;
	}
	if (n->kids == NULL) {
		n->kids = k;
	} else {
		n->last->next = k;
	}
	n->last = k;
	while (n->last->next != NULL) {
		n->last = n->last->next; /* (a kid is always one node today) */
	}
	n->n_kids++;
	if (k->kind == RT_EX_FUNC && k->agg != RT_AGGF_NONE) {
		n->inner_agg = true;
	}
	n->inner_agg |= k->inner_agg;
}

/* A binary node <kind> over <l> and <r>. */
static struct rt_expr *
rt_p_bin(struct rt_p *p, enum rt_ex_kind kind, struct rt_expr *l, struct rt_expr *r)
{
	struct rt_expr *n;

	if (l == NULL || r == NULL) {
		return NULL;
	}
	if ((kind == RT_EX_AND || kind == RT_EX_OR) && l->kind == kind) {
		/* a AND b AND c is one node with three kids, not a chain as deep as it is long:
		 * the planner walks these trees recursively */
		rt_p_kid(l, r);
		l->e = r->e;
		return l;
	}
	n = rt_p_node(p, kind, l->b);
	if (n != NULL) {
		rt_p_kid(n, l);
		rt_p_kid(n, r);
		n->e = r->e;
	}
	return n;
}

bool
rt_p_at_subquery(const struct rt_p *p)
{
	return rt_p_punct(p, '(') &&
	       (rt_p_at(p, 1, "SELECT") || rt_p_at(p, 1, "WITH") ||
		(rt_tok_punct(rt_p_tok(p, 1), '(') && rt_p_at(p, 2, "SELECT")));
}

void
rt_p_subquery(struct rt_p *p)
{
	if (p->depth >= RT_P_MAX_DEPTH) {
		rt_p_fail(p, "subqueries nested too deep");
		return;
	}
	p->s->has_subq = true;
	p->pos++; /* '(' */
	p->depth++;
	rt_p_select_stmt(p);
	p->depth--;
	rt_p_expect_punct(p, ')');
}

void
rt_p_skip(struct rt_p *p, bool comma, struct rt_expr *n)
{
	unsigned int level = 0;
	enum rt_aggf agg;

	while (!rt_p_end(p)) {
		const struct rt_tok *t = rt_p_tok(p, 0);

		if (rt_p_at_subquery(p)) {
			rt_p_subquery(p);
			continue;
		}
		if (rt_tok_punct(t, ')') || (comma && level == 0 && rt_tok_punct(t, ','))) {
			if (level == 0) {
				return;
			}
			level -= rt_tok_punct(t, ')');
		} else if (rt_tok_punct(t, '(')) {
			level++;
		} else if (rt_aggf_of(t, &agg) && rt_tok_punct(rt_p_tok(p, 1), '(')) {
			n->inner_agg = true;
		} else if (rt_tok_is(t, "OVER")) {
			p->s->has_window = true;
			n->window = true;
		}
		p->pos++;
	}
	rt_p_unexpected(p, "')'");
}

/* Aggregate arguments: [DISTINCT|ALL] (* | expr [, expr...]); extras like ORDER BY and
 * SEPARATOR (GROUP_CONCAT) are skipped. The cursor is after '('. */
static void
rt_p_agg_args(struct rt_p *p, struct rt_expr *f)
{
	if (rt_p_accept(p, "DISTINCT") || rt_p_accept(p, "DISTINCTROW")) {
		f->distinct = true;
	} else {
		rt_p_skip_kw(p, "ALL");
	}
	if (rt_p_punct(p, '*') && rt_tok_punct(rt_p_tok(p, 1), ')')) {
		f->star_arg = true;
		p->pos++;
		return;
	}
	while (!rt_p_failed(p) && !rt_p_punct(p, ')')) {
		struct rt_expr *a = rt_p_expr(p);

		if (a != NULL && (a->kind == RT_EX_FUNC && a->agg != RT_AGGF_NONE)) {
			f->inner_agg = true;
		}
		rt_p_kid(f, a);
		if (!rt_p_accept_punct(p, ',') && !rt_p_punct(p, ')')) {
			rt_p_skip(p, false, f);
		}
	}
}

/* name ( ... ) [OVER ...] with the cursor on the name. */
static struct rt_expr *
rt_p_func(struct rt_p *p)
{
	struct rt_expr *f = rt_p_node(p, RT_EX_FUNC, p->pos);

	if (f == NULL) {
		return NULL;
	}
	f->name = *rt_p_tok(p, 0);
	p->pos += 2;
	if (rt_aggf_of(&f->name, &f->agg)) {
		rt_p_agg_args(p, f);
	} else {
		rt_p_skip(p, false, f);
	}
	rt_p_expect_punct(p, ')');
	if (rt_p_accept(p, "OVER")) {
		f->window = true;
		p->s->has_window = true;
		if (rt_p_accept_punct(p, '(')) {
			rt_p_skip(p, false, f);
			rt_p_expect_punct(p, ')');
		} else {
			p->pos++;
		}
	}
	f->e = p->pos;
	return f;
}

/* [schema.]table.column, table.*, column: the cursor is on an identifier. */
static struct rt_expr *
rt_p_colref(struct rt_p *p)
{
	struct rt_expr *n = rt_p_node(p, RT_EX_COL, p->pos);
	struct rt_tok parts[3];
	unsigned int k = 0;

	if (n == NULL) {
		return NULL;
	}
	do {
		if (k > 0 && rt_p_punct(p, '*')) {
			n->kind = RT_EX_STAR;
			p->pos++;
			break;
		}
		if (k == 3 || !rt_p_ident(p, &parts[k])) {
			rt_p_unexpected(p, "a column name");
			return NULL;
		}
		k++;
	} while (rt_p_accept_punct(p, '.'));
	if (n->kind == RT_EX_STAR) {
		n->q = parts[k - 1];
	} else {
		n->name = parts[k - 1];
		if (k >= 2) {
			n->q = parts[k - 2];
		}
	}
	n->e = p->pos;
	return n;
}

/* CASE [x] WHEN a THEN b ... [ELSE c] END */
static struct rt_expr *
rt_p_case(struct rt_p *p)
{
	struct rt_expr *n = rt_p_node(p, RT_EX_OTHER, p->pos);

	p->pos++;
	if (!rt_p_is(p, "WHEN")) {
		rt_p_kid(n, rt_p_expr(p));
	}
	while (!rt_p_failed(p) && rt_p_accept(p, "WHEN")) {
		rt_p_kid(n, rt_p_expr(p));
		rt_p_expect(p, "THEN");
		rt_p_kid(n, rt_p_expr(p));
	}
	if (rt_p_accept(p, "ELSE")) {
		rt_p_kid(n, rt_p_expr(p));
	}
	rt_p_expect(p, "END");
	if (n != NULL) {
		n->e = p->pos;
	}
	return n;
}

/* '(' at the cursor: a subquery, a parenthesized expression or a row constructor. */
static struct rt_expr *
rt_p_paren(struct rt_p *p)
{
	unsigned int b = p->pos;
	struct rt_expr *n;

	if (rt_p_at_subquery(p)) {
		n = rt_p_node(p, RT_EX_SUBQ, b);
		rt_p_subquery(p);
	} else {
		p->pos++;
		n = rt_p_expr(p);
		if (rt_p_punct(p, ',')) {
			struct rt_expr *row = rt_p_node(p, RT_EX_OTHER, b);

			rt_p_kid(row, n);
			while (rt_p_accept_punct(p, ',')) {
				rt_p_kid(row, rt_p_expr(p));
			}
			n = row;
		}
		rt_p_expect_punct(p, ')');
		if (n != NULL && n->kind != RT_EX_OTHER) {
			return n; /* (x) is x: its range stays the inner one */
		}
	}
	if (n != NULL) {
		n->b = b;
		n->e = p->pos;
	}
	return n;
}

/* A literal token (and adjacent strings, which MySQL concatenates). */
static struct rt_expr *
rt_p_literal(struct rt_p *p)
{
	struct rt_expr *n = rt_p_node(p, RT_EX_LIT, p->pos);

	if (n == NULL) {
		return NULL;
	}
	n->name = *rt_p_tok(p, 0);
	p->pos++;
	if (n->name.kind == RT_TOK_STRING && rt_p_tok(p, 0)->kind == RT_TOK_STRING) {
		n->kind = RT_EX_OTHER;
		while (rt_p_tok(p, 0)->kind == RT_TOK_STRING) {
			p->pos++;
		}
	}
	n->e = p->pos;
	return n;
}

/* Keyword-led primaries; returns NULL with *<done> false if the word is none of them. */
static struct rt_expr *
rt_p_keyword_primary(struct rt_p *p, bool *done)
{
	unsigned int b = p->pos;
	struct rt_expr *n = NULL;

	*done = true;
	if (rt_p_is(p, "NULL") || rt_p_is(p, "TRUE") || rt_p_is(p, "FALSE") ||
	    rt_p_is(p, "DEFAULT")) {
		n = rt_p_node(p,
			      rt_p_is(p, "NULL")      ? RT_EX_NULL
			      : rt_p_is(p, "DEFAULT") ? RT_EX_DEFAULT
						      : RT_EX_BOOL,
			      b);
		p->pos++;
	} else if (rt_p_is(p, "CASE")) {
		return rt_p_case(p);
	} else if (rt_p_is(p, "EXISTS") && rt_tok_punct(rt_p_tok(p, 1), '(') &&
		   (rt_p_at(p, 2, "SELECT") || rt_p_at(p, 2, "WITH"))) {
		n = rt_p_node(p, RT_EX_SUBQ, b);
		p->pos++;
		rt_p_subquery(p);
	} else if (rt_p_is(p, "MATCH") && rt_tok_punct(rt_p_tok(p, 1), '(')) {
		/* MATCH (cols) AGAINST (expr [IN ... MODE]) */
		n = rt_p_node(p, RT_EX_OTHER, b);
		p->pos += 2;
		rt_p_skip(p, false, n);
		rt_p_expect_punct(p, ')');
		rt_p_expect(p, "AGAINST");
		rt_p_expect_punct(p, '(');
		rt_p_skip(p, false, n);
		rt_p_expect_punct(p, ')');
	} else if (rt_p_is(p, "INTERVAL")) {
		n = rt_p_node(p, RT_EX_OTHER, b);
		p->pos++;
		rt_p_kid(n, rt_p_expr(p));
		p->pos++; /* the unit */
	} else if ((rt_p_is(p, "DATE") || rt_p_is(p, "TIME") || rt_p_is(p, "TIMESTAMP")) &&
		   rt_p_tok(p, 1)->kind == RT_TOK_STRING) {
		n = rt_p_node(p, RT_EX_OTHER, b);
		p->pos += 2;
	} else {
		*done = false;
		return NULL;
	}
	if (n != NULL) {
		n->e = p->pos;
	}
	return n;
}

static struct rt_expr *
rt_p_primary(struct rt_p *p)
{
	const struct rt_tok *t = rt_p_tok(p, 0);
	struct rt_expr *n;
	bool done;

	switch (t->kind) {
	case RT_TOK_NUMBER:
	case RT_TOK_STRING:
		return rt_p_literal(p);
	case RT_TOK_PARAM:
		n = rt_p_node(p, RT_EX_PARAM, p->pos++);
		break;
	case RT_TOK_USERVAR:
	case RT_TOK_SYSVAR:
		n = rt_p_node(p, RT_EX_OTHER, p->pos++);
		break;
	case RT_TOK_PUNCT:
		if (rt_tok_punct(t, '(')) {
			return rt_p_paren(p);
		}
		if (rt_tok_punct(t, '*')) {
			n = rt_p_node(p, RT_EX_STAR, p->pos++);
			break;
		}
		rt_p_unexpected(p, "an expression");
		return NULL;
	case RT_TOK_WORD:
		n = rt_p_keyword_primary(p, &done);
		if (done) {
			return n;
		}
		if (rt_tok_punct(rt_p_tok(p, 1), '(') &&
		    (!rt_p_reserved(t) || rt_tok_is(t, "VALUES") || rt_tok_is(t, "LEFT") ||
		     rt_tok_is(t, "RIGHT") || rt_tok_is(t, "INSERT") || rt_tok_is(t, "MOD"))) {
			return rt_p_func(p);
		}
		return rt_p_colref(p);
	case RT_TOK_QIDENT:
		return rt_p_colref(p);
	default:
		rt_p_unexpected(p, "an expression");
		return NULL;
	}
	if (n != NULL) {
		n->e = p->pos;
	}
	return n;
}

bool
rt_p_nest_in(struct rt_p *p)
{
	if (p->nest >= RT_P_MAX_NEST) {
		rt_p_fail(p, "expression nested more than %u levels deep", RT_P_MAX_NEST);
		return false;
	}
	p->nest++;
	return true;
}

static struct rt_expr *
rt_p_unary(struct rt_p *p)
{
	unsigned int b = p->pos;
	struct rt_expr *n, *k;

	if (rt_p_punct(p, '-') || rt_p_punct(p, '+') || rt_p_punct(p, '~') || rt_p_punct(p, '!') ||
	    rt_p_is(p, "BINARY")) {
		bool minus = rt_p_punct(p, '-');
		bool bang = rt_p_punct(p, '!');

		p->pos++;
		if (!rt_p_nest_in(p)) {
			return NULL;
		}
		k = rt_p_unary(p);
		p->nest--;
		if (k != NULL && minus && k->kind == RT_EX_LIT && k->name.kind == RT_TOK_NUMBER &&
		    !k->neg) {
			k->neg = true;
			k->b = b;
			return k;
		}
		n = rt_p_node(p, bang ? RT_EX_NOT : RT_EX_OTHER, b);
		rt_p_kid(n, k);
	} else {
		n = rt_p_primary(p);
	}
	while (n != NULL && rt_p_accept(p, "COLLATE")) {
		struct rt_expr *c = rt_p_node(p, RT_EX_OTHER, n->b);

		rt_p_kid(c, n);
		p->pos++;
		n = c;
	}
	if (n != NULL && n->e < p->pos) {
		n->e = p->pos;
	}
	return n;
}

/* Number of tokens of the arithmetic / bit operator at the cursor, 0 if none. */
static unsigned int
rt_p_binop(const struct rt_p *p)
{
	static const char ops[] = "+-*/%^&|<>";
	const struct rt_tok *t = rt_p_tok(p, 0);
	const struct rt_tok *u = rt_p_tok(p, 1);
	bool glued = u->ptr == t->ptr + t->len;

	if (rt_tok_is(t, "DIV") || rt_tok_is(t, "MOD")) {
		return 1;
	}
	if (t->kind != RT_TOK_PUNCT) {
		return 0;
	}
	if (t->len == 2 && t->ptr[0] == ':') {
		return 1; /* := */
	}
	if (t->len != 1 || strchr(ops, t->ptr[0]) == NULL) {
		return 0;
	}
	if (glued && ((t->ptr[0] == '<' && rt_tok_punct(u, '<')) ||
		      (t->ptr[0] == '>' && rt_tok_punct(u, '>')))) {
		return 2; /* << >> */
	}
	if (glued && t->ptr[0] == '-' && rt_tok_punct(u, '>')) {
		return rt_tok_punct(rt_p_tok(p, 2), '>') ? 3 : 2; /* -> ->> */
	}
	if (t->ptr[0] == '<' || t->ptr[0] == '>' ||
	    (glued && t->ptr[0] == '|' && rt_tok_punct(u, '|'))) {
		return 0; /* comparisons, || (OR) */
	}
	if (glued && t->ptr[0] == '&' && rt_tok_punct(u, '&')) {
		return 0; /* && (AND) */
	}
	return 1;
}

static struct rt_expr *
rt_p_bit(struct rt_p *p)
{
	struct rt_expr *n = rt_p_unary(p);
	unsigned int k;

	while (n != NULL && (k = rt_p_binop(p)) > 0) {
		p->pos += k;
		n = rt_p_bin(p, RT_EX_OTHER, n, rt_p_unary(p));
	}
	return n;
}

/* Comparison operator at the cursor: sets *<op> and returns its token count, or 0. */
static unsigned int
rt_p_cmpop(const struct rt_p *p, enum rt_cmp_op *op)
{
	const struct rt_tok *t = rt_p_tok(p, 0);
	const struct rt_tok *u = rt_p_tok(p, 1);
	bool glued = u->ptr == t->ptr + t->len;

	if (t->kind != RT_TOK_PUNCT) {
		return 0;
	}
	if (t->len == 2) {
		if (t->ptr[0] == '!' || t->ptr[0] == ':') {
			*op = RT_CMP_NE;
			return t->ptr[0] == '!' ? 1 : 0;
		}
		if (t->ptr[0] == '<' && glued && rt_tok_punct(u, '>')) {
			*op = RT_CMP_NSEQ;
			return 2;
		}
		*op = t->ptr[0] == '<' ? RT_CMP_LE : RT_CMP_GE;
		return 1;
	}
	if (rt_tok_punct(t, '=')) {
		*op = RT_CMP_EQ;
		return 1;
	}
	if (rt_tok_punct(t, '<') && glued && rt_tok_punct(u, '>')) {
		*op = RT_CMP_NE;
		return 2;
	}
	if ((rt_tok_punct(t, '<') || rt_tok_punct(t, '>')) &&
	    !(glued && rt_tok_punct(u, t->ptr[0]))) {
		*op = rt_tok_punct(t, '<') ? RT_CMP_LT : RT_CMP_GT;
		return 1;
	}
	return 0;
}

/* [NOT] IN ( list | subquery ) after <l>; the cursor is on '('. */
static struct rt_expr *
rt_p_in(struct rt_p *p, struct rt_expr *l, bool neg)
{
	struct rt_expr *n = rt_p_node(p, rt_p_at_subquery(p) ? RT_EX_OTHER : RT_EX_IN, l->b);

	if (n == NULL) {
		return NULL;
	}
	n->neg = neg;
	rt_p_kid(n, l);
	if (n->kind == RT_EX_OTHER) {
		struct rt_expr *sq = rt_p_node(p, RT_EX_SUBQ, p->pos);

		rt_p_subquery(p);
		rt_p_kid(n, sq);
	} else {
		rt_p_expect_punct(p, '(');
		do {
			rt_p_kid(n, rt_p_expr(p));
		} while (rt_p_accept_punct(p, ','));
		rt_p_expect_punct(p, ')');
	}
	n->e = p->pos;
	return n;
}

/* What follows a predicate's left side <l>; returns NULL when nothing does. */
static struct rt_expr *
rt_p_pred_tail(struct rt_p *p, struct rt_expr *l)
{
	bool neg = rt_p_is(p, "NOT") &&
		   (rt_p_at(p, 1, "IN") || rt_p_at(p, 1, "BETWEEN") || rt_p_at(p, 1, "LIKE") ||
		    rt_p_at(p, 1, "REGEXP") || rt_p_at(p, 1, "RLIKE"));
	enum rt_cmp_op op;
	unsigned int k;
	struct rt_expr *n;

	p->pos += neg;
	if (rt_p_accept(p, "IN")) {
		return rt_p_in(p, l, neg);
	}
	if (rt_p_accept(p, "BETWEEN")) {
		n = rt_p_bin(p, RT_EX_BETWEEN, l, rt_p_bit(p));
		rt_p_expect(p, "AND");
		rt_p_kid(n, rt_p_bit(p));
		if (n != NULL) {
			n->neg = neg;
			n->e = p->pos;
		}
		return n;
	}
	if (rt_p_is(p, "IS")) {
		p->pos++;
		neg = rt_p_accept(p, "NOT");
		n = rt_p_node(p, rt_p_is(p, "NULL") ? RT_EX_ISNULL : RT_EX_OTHER, l->b);
		rt_p_kid(n, l);
		p->pos++; /* NULL / TRUE / FALSE / UNKNOWN */
		if (n != NULL) {
			n->neg = neg;
			n->e = p->pos;
		}
		return n;
	}
	if (rt_p_accept(p, "LIKE") || rt_p_accept(p, "REGEXP") || rt_p_accept(p, "RLIKE") ||
	    (rt_p_is(p, "SOUNDS") && rt_p_at(p, 1, "LIKE") && (p->pos += 2))) {
		n = rt_p_bin(p, RT_EX_OTHER, l, rt_p_bit(p));
		if (rt_p_accept(p, "ESCAPE")) {
			rt_p_kid(n, rt_p_bit(p));
		}
		return n;
	}
	if ((k = rt_p_cmpop(p, &op)) > 0) {
		p->pos += k;
		if (rt_p_is(p, "ANY") || rt_p_is(p, "SOME") || rt_p_is(p, "ALL")) {
			p->pos++;
			return rt_p_bin(p, RT_EX_OTHER, l, rt_p_paren(p));
		}
		n = rt_p_bin(p, RT_EX_CMP, l, rt_p_bit(p));
		if (n != NULL) {
			n->op = op;
		}
		return n;
	}
	return NULL;
}

static struct rt_expr *
rt_p_pred(struct rt_p *p)
{
	struct rt_expr *n = rt_p_bit(p);

	while (n != NULL && !rt_p_failed(p)) {
		struct rt_expr *m = rt_p_pred_tail(p, n);

		if (m == NULL) {
			break;
		}
		n = m;
	}
	return n;
}

static struct rt_expr *
rt_p_not(struct rt_p *p)
{
	unsigned int b = p->pos;
	struct rt_expr *n;

	if (!rt_p_accept(p, "NOT")) {
		return rt_p_pred(p);
	}
	if (!rt_p_nest_in(p)) {
		return NULL;
	}
	n = rt_p_node(p, RT_EX_NOT, b);
	rt_p_kid(n, rt_p_not(p));
	p->nest--;
	if (n != NULL) {
		n->e = p->pos;
	}
	return n;
}

/* && and || are two PUNCT tokens written together. */
static bool
rt_p_accept_double(struct rt_p *p, char c)
{
	const struct rt_tok *t = rt_p_tok(p, 0);
	const struct rt_tok *u = rt_p_tok(p, 1);

	if (rt_tok_punct(t, c) && rt_tok_punct(u, c) && u->ptr == t->ptr + 1) {
		p->pos += 2;
		return true;
	}
	return false;
}

static struct rt_expr *
rt_p_and(struct rt_p *p)
{
	struct rt_expr *n = rt_p_not(p);

	while (n != NULL && (rt_p_accept(p, "AND") || rt_p_accept_double(p, '&'))) {
		n = rt_p_bin(p, RT_EX_AND, n, rt_p_not(p));
	}
	return n;
}

struct rt_expr *
rt_p_expr(struct rt_p *p)
{
	struct rt_expr *n;

	if (!rt_p_nest_in(p)) {
		return NULL;
	}
	n = rt_p_and(p);
	for (;;) {
		if (n != NULL && (rt_p_accept(p, "OR") || rt_p_accept_double(p, '|'))) {
			n = rt_p_bin(p, RT_EX_OR, n, rt_p_and(p));
		} else if (n != NULL && rt_p_accept(p, "XOR")) {
			n = rt_p_bin(p, RT_EX_OTHER, n, rt_p_and(p));
		} else {
			break;
		}
	}
	p->nest--;
	if (n == NULL && !rt_p_failed(p)) {
		rt_p_unexpected(p, "an expression");
	}
	return n;
}
