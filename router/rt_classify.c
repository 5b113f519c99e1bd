/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_classify.c - one pass over the tokens: the statement's leading keywords decide the
 * statement kind; a scan of every token finds variables and state functions.
 */
#include "router/rt_classify.h"

#include "router/rt_lex.h"

#include <string.h>

/* Functions whose use pins the connection (they keep state on it). */
static const char *const rt_lock_funcs[] = { "GET_LOCK", "RELEASE_LOCK", "RELEASE_ALL_LOCKS",
					     "IS_USED_LOCK", "IS_FREE_LOCK" };
/* Functions that read what the previous statement left behind. */
static const char *const rt_prev_funcs[] = { "LAST_INSERT_ID", "ROW_COUNT", "FOUND_ROWS" };
/* System variables that do the same. */
static const char *const rt_prev_sysvars[] = { "warning_count", "error_count", "identity",
					       "last_insert_id" };

static bool
rt_word_in(const struct rt_tok *t, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (rt_tok_is(t, list[i])) {
			return true;
		}
	}
	return false;
}

/* @@[session.|global.|local.]name: true if name is one of rt_prev_sysvars. */
static bool
rt_sysvar_is_prev(const struct rt_tok *t)
{
	const char *name = t->ptr + 2;
	size_t len = t->len - 2;
	const char *dot = memchr(name, '.', len);

	if (dot != NULL) {
		len -= (size_t)(dot + 1 - name);
		name = dot + 1;
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(rt_prev_sysvars); i++) {
		if (strlen(rt_prev_sysvars[i]) == len && strncasecmp(name, rt_prev_sysvars[i], len) == 0) {
			return true;
		}
	}
	return false;
}

/* Leading keywords: <first> and <second> are the statement's first two tokens. */
static void
rt_classify_verb(const struct rt_tok *first, const struct rt_tok *second, struct rt_class *out)
{
	if (rt_tok_is(first, "SET")) {
		out->sticky |= RT_STICKY_SET;
	} else if (rt_tok_is(first, "LOCK")) {
		out->sticky |= RT_STICKY_LOCK;
	} else if (rt_tok_is(first, "PREPARE") || rt_tok_is(first, "EXECUTE") ||
		   rt_tok_is(first, "DEALLOCATE")) {
		out->sticky |= RT_STICKY_PREPARE;
	} else if (rt_tok_is(first, "HANDLER")) {
		out->sticky |= RT_STICKY_HANDLER;
	} else if (rt_tok_is(first, "XA")) {
		out->sticky |= RT_STICKY_XA;
	} else if (rt_tok_is(first, "KILL")) {
		out->flags |= RT_CLASS_KILL;
	} else if (rt_tok_is(first, "SHOW") &&
		   (rt_tok_is(second, "WARNINGS") || rt_tok_is(second, "ERRORS") ||
		    rt_tok_is(second, "COUNT"))) {
		out->flags |= RT_CLASS_PREV_STATE;
	} else if (rt_tok_is(first, "FLUSH")) {
		out->sticky |= RT_STICKY_LOCK; /* FLUSH TABLES ... WITH READ LOCK; rare, be safe */
	}
}

/* Looks at one token anywhere in the statement; <next> is the token after it, <args> true if
 * a call's parentheses hold something (LAST_INSERT_ID(expr) sets the value, it reads none). */
static void
rt_classify_tok(const struct rt_tok *t, const struct rt_tok *next, bool args, bool assigning,
		struct rt_class *out)
{
	bool call = next->kind == RT_TOK_PUNCT && next->len == 1 && next->ptr[0] == '(';

	if (call && args && rt_tok_is(t, "LAST_INSERT_ID")) {
		return;
	}
	if (t->kind == RT_TOK_USERVAR) {
		if (assigning || (next->kind == RT_TOK_PUNCT && next->len == 2 &&
				  memcmp(next->ptr, ":=", 2) == 0)) {
			out->sticky |= RT_STICKY_USER_VAR;
		} else {
			out->flags |= RT_CLASS_USER_VAR_READ;
		}
	} else if (t->kind == RT_TOK_SYSVAR) {
		if (rt_sysvar_is_prev(t)) {
			out->flags |= RT_CLASS_PREV_STATE;
		}
	} else if (t->kind == RT_TOK_WORD) {
		if (call && rt_word_in(t, rt_lock_funcs, MS_ARRAY_LEN(rt_lock_funcs))) {
			out->sticky |= RT_STICKY_GET_LOCK;
		} else if (call && rt_word_in(t, rt_prev_funcs, MS_ARRAY_LEN(rt_prev_funcs))) {
			out->flags |= RT_CLASS_PREV_STATE;
		} else if (rt_tok_is(t, "SQL_CALC_FOUND_ROWS")) {
			out->sticky |= RT_STICKY_FOUND_ROWS;
		}
	}
}

/* CREATE [OR REPLACE] TEMPORARY ...: follows the head of a CREATE statement. Returns whether
 * the head goes on after <t>. */
static bool
rt_classify_create_head(const struct rt_tok *t, struct rt_class *out)
{
	if (rt_tok_is(t, "TEMPORARY")) {
		out->sticky |= RT_STICKY_TEMP_TABLE;
		return false;
	}
	return rt_tok_is(t, "OR") || rt_tok_is(t, "REPLACE");
}

void
rt_classify(const char *text, size_t len, struct rt_class *out)
{
	struct rt_lex lx;
	struct rt_tok cur, next;
	bool at_start = true;
	bool seen_stmt = false;
	bool create_head = false;
	bool assigning = false; /* SET, or INTO seen: user variables there are written */

	memset(out, 0, sizeof(*out));
	rt_lex_init(&lx, text, len);
	cur = rt_lex_next(&lx);
	while (cur.kind != RT_TOK_END && cur.kind != RT_TOK_ERROR) {
		next = rt_lex_next(&lx);
		if (cur.kind == RT_TOK_PUNCT && cur.len == 1 && cur.ptr[0] == ';') {
			at_start = true;
		} else {
			if (at_start) {
				if (seen_stmt) {
					out->flags |= RT_CLASS_MULTI;
				}
				rt_classify_verb(&cur, &next, out);
				assigning = rt_tok_is(&cur, "SET");
				seen_stmt = true;
				at_start = false;
				create_head = rt_tok_is(&cur, "CREATE");
			} else if (create_head) {
				create_head = rt_classify_create_head(&cur, out);
			}
			bool args = false;

			if (rt_tok_is(&cur, "INTO")) {
				assigning = true; /* SELECT ... INTO @x, also INTO after a table */
			}
			if (rt_tok_is(&cur, "LAST_INSERT_ID") && rt_tok_punct(&next, '(')) {
				struct rt_lex peek = lx; /* one token further, for this name only */
				struct rt_tok after = rt_lex_next(&peek);

				args = !rt_tok_punct(&after, ')');
			}
			rt_classify_tok(&cur, &next, args, assigning, out);
		}
		cur = next;
	}
	if (cur.kind == RT_TOK_ERROR) {
		out->flags |= RT_CLASS_LEX_ERROR;
	}
	if (!seen_stmt && cur.kind == RT_TOK_END) {
		out->flags |= RT_CLASS_EMPTY;
	}
}

const char *
rt_sticky_name(unsigned int sticky)
{
	static const char *const names[] = { "set",	  "user_var",	"temp_table",
					     "lock",	  "get_lock",	"prepare",
					     "found_rows", "handler",	"xa",
					     "server_state" };

	for (size_t i = 0; i < MS_ARRAY_LEN(names); i++) {
		if (sticky & (1u << i)) {
			return names[i];
		}
	}
	return "none";
}

/* A name token (word, 'string', `identifier`) copied lower-cased without quotes into <out>. */
static bool
rt_name_copy(const struct rt_tok *t, char out[64])
{
	const char *p = t->ptr;
	size_t n = t->len;

	if (t->kind == RT_TOK_STRING || t->kind == RT_TOK_QIDENT) {
		if (t->intro != 0 || n < 2) {
			return false;
		}
		p++;
		n -= 2;
	} else if (t->kind != RT_TOK_WORD) {
		return false;
	}
	if (n == 0 || n >= 64) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_')) {
			return false;
		}
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[n] = '\0';
	return true;
}

bool
rt_set_names(const char *text, size_t len, char cs[64], char coll[64])
{
	struct rt_lex lx;
	struct rt_tok t;

	rt_lex_init(&lx, text, len);
	t = rt_lex_next(&lx);
	if (!rt_tok_is(&t, "SET")) {
		return false;
	}
	t = rt_lex_next(&lx);
	if (!rt_tok_is(&t, "NAMES")) {
		return false;
	}
	t = rt_lex_next(&lx);
	if (rt_tok_is(&t, "DEFAULT") || !rt_name_copy(&t, cs)) {
		return false;
	}
	coll[0] = '\0';
	t = rt_lex_next(&lx);
	if (rt_tok_is(&t, "COLLATE")) {
		t = rt_lex_next(&lx);
		if (!rt_name_copy(&t, coll)) {
			return false;
		}
		t = rt_lex_next(&lx);
	}
	if (rt_tok_punct(&t, ';')) {
		t = rt_lex_next(&lx);
	}
	return t.kind == RT_TOK_END;
}
