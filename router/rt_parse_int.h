/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_parse_int.h - parser state shared by rt_parse.c (tokens, expressions, table
 * references) and rt_parse_stmt.c (statements). Private to router/.
 */
#ifndef MYSHARD_ROUTER_RT_PARSE_INT_H
#define MYSHARD_ROUTER_RT_PARSE_INT_H

#include "router/rt_arena.h"
#include "router/rt_parse.h"

#define RT_P_MAX_CTES  16
#define RT_P_MAX_DEPTH 64
#define RT_P_MAX_NEST  400 /* nested expressions ((((x)))), NOT NOT x, - - x: beyond it the
			      statement is refused (the parser recurses; a stack is finite) */

struct rt_p {
	struct rt_stmt *s;  /* borrowed */
	struct rt_arena *a; /* borrowed */
	unsigned int pos;
	unsigned int depth; /* subquery nesting */
	unsigned int nest;  /* expression recursion (RT_P_MAX_NEST) */
	int block;          /* current depth-0 query block, -1 elsewhere */
	bool oom;
	unsigned int cap_trefs;
	unsigned int cap_blocks;
	struct rt_tok ctes[RT_P_MAX_CTES];
	unsigned int n_ctes;
};

void rt_p_fail(struct rt_p *p, const char *fmt, ...) MS_PRINTF(2, 3);
bool rt_p_failed(const struct rt_p *p) MS_MUSTCHECK;
/* Cursor helpers, inline: the parser calls them for nearly every token, mostly with literal
 * keywords whose length then folds to a constant. */
static inline const struct rt_tok * MS_MUSTCHECK
rt_p_tok(const struct rt_p *p, unsigned int ahead)
{
	unsigned int i = p->pos + ahead;

	return &p->s->toks[i < p->s->n_toks ? i : p->s->n_toks];
}

static inline bool MS_MUSTCHECK
rt_p_is(const struct rt_p *p, const char *kw)
{
	return rt_tok_is(rt_p_tok(p, 0), kw);
}

static inline bool MS_MUSTCHECK
rt_p_at(const struct rt_p *p, unsigned int ahead, const char *kw)
{
	return rt_tok_is(rt_p_tok(p, ahead), kw);
}

static inline bool MS_MUSTCHECK
rt_p_punct(const struct rt_p *p, char c)
{
	return rt_tok_punct(rt_p_tok(p, 0), c);
}

static inline bool MS_MUSTCHECK
rt_p_accept(struct rt_p *p, const char *kw)
{
	if (rt_p_is(p, kw)) {
		p->pos++;
		return true;
	}
	return false;
}

static inline bool MS_MUSTCHECK
rt_p_accept_punct(struct rt_p *p, char c)
{
	if (rt_p_punct(p, c)) {
		p->pos++;
		return true;
	}
	return false;
}

/* Every recursion of the parser (nested expressions, parenthesized table references) goes
 * through here: false, and the parse failed, beyond RT_P_MAX_NEST levels; else the caller
 * decrements p->nest when it returns. */
bool rt_p_nest_in(struct rt_p *p) MS_MUSTCHECK;

/* Consumes <kw> if it is at the cursor. */
static inline void
rt_p_skip_kw(struct rt_p *p, const char *kw)
{
	p->pos += rt_p_is(p, kw);
}

/* Swallows the result of optional rt_p_accept*() chains. */
static inline void
rt_p_ignore(bool consumed)
{
	(void)consumed;
}
void rt_p_unexpected(struct rt_p *p, const char *wanted);
void rt_p_expect(struct rt_p *p, const char *kw);
void rt_p_expect_punct(struct rt_p *p, char c);
bool rt_p_end(const struct rt_p *p) MS_MUSTCHECK;
void *rt_p_alloc(struct rt_p *p, size_t n) MS_MUSTCHECK;
bool rt_p_reserved(const struct rt_tok *t) MS_MUSTCHECK;
/* An identifier at the cursor (WORD not reserved, or `quoted`): consumes it into *<out>. */
bool rt_p_ident(struct rt_p *p, struct rt_tok *out) MS_MUSTCHECK;
/* [AS] alias: consumes it if present. <strings>: 'alias' is allowed (select items). */
void rt_p_alias(struct rt_p *p, struct rt_tok *out, bool strings);

struct rt_expr *rt_p_expr(struct rt_p *p) MS_MUSTCHECK;
/* Skips a balanced token range up to ')' (or ',' at level 0 if <comma>), not consuming it;
 * parses any subquery inside; flags aggregates/windows on <n>. */
void rt_p_skip(struct rt_p *p, bool comma, struct rt_expr *n);
void rt_p_table_refs(struct rt_p *p, struct rt_expr **ons, struct rt_using **usings);
unsigned int rt_p_add_tref(struct rt_p *p, const struct rt_tok *schema, const struct rt_tok *name);
/* ( SELECT ... ) with the cursor on '(': parses the subquery one level deeper. */
void rt_p_subquery(struct rt_p *p);
bool rt_p_at_subquery(const struct rt_p *p) MS_MUSTCHECK;
/* A full SELECT statement (WITH, UNION, parentheses) at the cursor. */
void rt_p_select_stmt(struct rt_p *p);
void rt_p_order_list(struct rt_p *p, struct rt_order **out, unsigned int *n);

#endif /* MYSHARD_ROUTER_RT_PARSE_INT_H */
