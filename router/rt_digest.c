/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_digest.c - one pass over the tokens with one token of look-back (for unary minus)
 * and a look-ahead over parenthesized lists of literals.
 */
#include "router/rt_digest.h"

#include "router/rt_lex.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Words upper-cased in digests: keywords and common functions. */
static const char *const rt_dg_words[] = {
	"ALL",          "ALTER",         "AND",      "AS",        "ASC",     "AVG",
	"BEGIN",        "BETWEEN",       "BY",       "CALL",      "CASE",    "COMMIT",
	"COUNT",        "CREATE",        "CROSS",    "DATABASE",  "DEFAULT", "DELETE",
	"DESC",         "DISTINCT",      "DROP",     "DUPLICATE", "ELSE",    "END",
	"EXISTS",       "EXPLAIN",       "FALSE",    "FOR",       "FROM",    "GROUP",
	"GROUP_CONCAT", "HAVING",        "IF",       "IGNORE",    "IN",      "INDEX",
	"INNER",        "INSERT",        "INTO",     "IS",        "JOIN",    "KEY",
	"LEFT",         "LIKE",          "LIMIT",    "LOCK",      "MAX",     "MIN",
	"MODE",         "NOT",           "NULL",     "OFFSET",    "ON",      "OR",
	"ORDER",        "OUTER",         "RENAME",   "REPLACE",   "RIGHT",   "ROLLBACK",
	"ROUTE",        "SCHEMA",        "SELECT",   "SET",       "SHARE",   "SHOW",
	"START",        "STRAIGHT_JOIN", "SUM",      "TABLE",     "THEN",    "TO",
	"TRANSACTION",  "TRUE",          "TRUNCATE", "UNION",     "UPDATE",  "USE",
	"USING",        "VALUE",         "VALUES",   "WHEN",      "WHERE",   "WITH",
	"XOR",
};

struct rt_dg {
	char *out;
	size_t cap;
	size_t len;
	struct rt_tok prev; /* last token emitted (kind END at the start) */
};

static struct rt_kwset rt_dg_set;

__attribute__((constructor)) static void
rt_dg_set_init(void)
{
	rt_kwset_build(&rt_dg_set, rt_dg_words, MS_ARRAY_LEN(rt_dg_words));
}

static bool
rt_dg_known(const struct rt_tok *t)
{
	return t->kind == RT_TOK_WORD && rt_kwset_has(&rt_dg_set, t->ptr, t->len);
}

static void
rt_dg_put(struct rt_dg *d, const char *s, size_t n, bool upper)
{
	for (size_t i = 0; i < n && d->len + 1 < d->cap; i++) {
		char c = s[i];

		if (upper && c >= 'a' && c <= 'z') {
			c = (char)(c - 'a' + 'A');
		}
		d->out[d->len++] = c;
	}
	d->out[d->len] = '\0';
}

static bool
rt_dg_is_lit(const struct rt_tok *t)
{
	return t->kind == RT_TOK_STRING || t->kind == RT_TOK_NUMBER || t->kind == RT_TOK_PARAM;
}

/* No space between <prev> and <t>: around dots, inside parentheses, before commas, and
 * between a function name and its '('. */
static bool
rt_dg_glued(const struct rt_tok *prev, const struct rt_tok *t)
{
	if (prev->kind == RT_TOK_END || rt_tok_punct(prev, '(') || rt_tok_punct(prev, '.')) {
		return true;
	}
	if (rt_tok_punct(t, ',') || rt_tok_punct(t, ')') || rt_tok_punct(t, '.')) {
		return true;
	}
	if (prev->kind == RT_TOK_PUNCT && t->kind == RT_TOK_PUNCT &&
	    t->ptr == prev->ptr + prev->len && strchr("<>=!|&", prev->ptr[prev->len - 1]) != NULL &&
	    strchr("<>=|&", t->ptr[0]) != NULL) {
		return true; /* <> <=> || && written as one operator */
	}
	return rt_tok_punct(t, '(') && (prev->kind == RT_TOK_WORD || prev->kind == RT_TOK_QIDENT) &&
	       (!rt_dg_known(prev) || rt_tok_is(prev, "COUNT") || rt_tok_is(prev, "SUM") ||
		rt_tok_is(prev, "MIN") || rt_tok_is(prev, "MAX") || rt_tok_is(prev, "AVG") ||
		rt_tok_is(prev, "GROUP_CONCAT"));
}

static void
rt_dg_emit(struct rt_dg *d, const struct rt_tok *t, const char *text, size_t n)
{
	if (!rt_dg_glued(&d->prev, t)) {
		rt_dg_put(d, " ", 1, false);
	}
	rt_dg_put(d, text, n, rt_dg_known(t));
	d->prev = *t;
}

/* After '(' at <lx>: if only literals and commas follow up to ')', consumes them and returns
 * true; otherwise leaves <lx> untouched. */
static bool
rt_dg_lit_list(struct rt_lex *lx)
{
	struct rt_lex save = *lx;
	bool want_lit = true;

	for (;;) {
		struct rt_tok t = rt_lex_next(lx);

		if (want_lit && rt_tok_punct(&t, '-')) {
			t = rt_lex_next(lx);
		}
		if (want_lit && (rt_dg_is_lit(&t) || rt_tok_is(&t, "NULL"))) {
			want_lit = false;
		} else if (!want_lit && rt_tok_punct(&t, ',')) {
			want_lit = true;
		} else if (!want_lit && rt_tok_punct(&t, ')')) {
			return true;
		} else {
			*lx = save;
			return false;
		}
	}
}

/* A '-' right after an operator or at the start is a sign, folded into the literal. */
static bool
rt_dg_is_sign(const struct rt_dg *d)
{
	return d->prev.kind == RT_TOK_END ||
	       (d->prev.kind == RT_TOK_PUNCT && !rt_tok_punct(&d->prev, ')')) ||
	       (rt_dg_known(&d->prev) && !rt_tok_is(&d->prev, "NULL") &&
		!rt_tok_is(&d->prev, "END"));
}

size_t
rt_digest(const char *text, size_t len, char *out, size_t cap)
{
	struct rt_dg d = { .out = out, .cap = cap, .len = 0 };
	struct rt_lex lx;
	bool in_values = false; /* after VALUES: repeated (...) tuples collapse into one */

	out[0] = '\0';
	d.prev.kind = RT_TOK_END;
	rt_lex_init(&lx, text, len);
	for (;;) {
		struct rt_tok t = rt_lex_next(&lx);

		if (t.kind == RT_TOK_END || t.kind == RT_TOK_ERROR) {
			break;
		}
		if (rt_tok_punct(&t, ';')) {
			continue; /* statement terminators are not part of the statement */
		}
		if (rt_tok_punct(&t, '-') && rt_dg_is_sign(&d)) {
			struct rt_lex save = lx;
			struct rt_tok n = rt_lex_next(&lx);

			if (n.kind == RT_TOK_NUMBER) {
				rt_dg_emit(&d, &n, "?", 1);
				continue;
			}
			lx = save;
		}
		if (rt_dg_is_lit(&t)) {
			rt_dg_emit(&d, &t, "?", 1);
		} else if (rt_tok_punct(&t, '(') && rt_dg_lit_list(&lx)) {
			if (in_values && rt_tok_punct(&d.prev, ')')) {
				continue; /* a further tuple: VALUES (...) stands for all of them */
			}
			rt_dg_emit(&d, &t, "(...)", 5);
			d.prev.ptr = ")";
			d.prev.kind = RT_TOK_PUNCT;
			d.prev.len = 1;
		} else if (in_values && rt_tok_punct(&t, ',') && rt_tok_punct(&d.prev, ')')) {
			continue; /* the comma between collapsed tuples */
		} else {
			in_values = rt_tok_is(&t, "VALUES") || rt_tok_is(&t, "VALUE") ||
				    (in_values && rt_tok_punct(&t, ','));
			rt_dg_emit(&d, &t, t.ptr, t.len);
		}
	}
	return d.len;
}
