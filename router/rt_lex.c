/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_lex.c - hand-written scanner. The switch in rt_lex_next() is one case per leading
 * character class and is kept in one place on purpose (a dispatch table in disguise).
 */
#include "router/rt_lex.h"

#include <string.h>
#include <strings.h>

void
rt_lex_init(struct rt_lex *lx, const char *text, size_t len)
{
	lx->pos = text;
	lx->end = text + len;
	lx->in_exec_comment = false;
	lx->failed = false;
}

static bool
rt_is_ident(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

static bool
rt_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Skips a quoted run starting at the opening <q>; false if it never closes. */
static bool
rt_skip_quoted(struct rt_lex *lx, char q, bool backslash)
{
	const char *p = lx->pos + 1;

	while (p < lx->end) {
		if (backslash && *p == '\\') {
			p += 2;
			continue;
		}
		if (*p == q) {
			if (p + 1 < lx->end && p[1] == q) { /* doubled quote */
				p += 2;
				continue;
			}
			lx->pos = p + 1;
			return true;
		}
		p++;
	}
	return false;
}

/* Skips whitespace and comments. Returns false on an unterminated comment. */
static bool
rt_skip_space(struct rt_lex *lx)
{
	for (;;) {
		const char *p = lx->pos;
		size_t left = (size_t)(lx->end - p);

		if (left == 0) {
			return !lx->in_exec_comment; /* an executable comment never closed */
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') {
			lx->pos++;
		} else if (*p == '#' || (left >= 2 && p[0] == '-' && p[1] == '-' &&
					 (left == 2 || p[2] == ' ' || p[2] == '\t' || p[2] == '\n' || p[2] == '\r'))) {
			const char *nl = memchr(p, '\n', left);

			lx->pos = nl != NULL ? nl + 1 : lx->end;
		} else if (left >= 2 && p[0] == '/' && p[1] == '*') {
			if (left >= 3 && (p[2] == '!' || (left >= 4 && p[2] == 'M' && p[3] == '!'))) {
				/* executable comment: its body is code; skip the marker and version */
				lx->pos = p + (p[2] == '!' ? 3 : 4);
				while (lx->pos < lx->end && rt_is_digit((unsigned char)*lx->pos)) {
					lx->pos++;
				}
				lx->in_exec_comment = true;
				continue;
			}
			const char *q = p + 2;

			while (q + 1 < lx->end && !(q[0] == '*' && q[1] == '/')) {
				q++;
			}
			if (q + 1 >= lx->end) {
				return false;
			}
			lx->pos = q + 2;
		} else if (lx->in_exec_comment && left >= 2 && p[0] == '*' && p[1] == '/') {
			lx->pos += 2;
			lx->in_exec_comment = false;
		} else {
			return true;
		}
	}
}

static struct rt_tok
rt_tok_make(struct rt_lex *lx, enum rt_tok_kind kind, const char *start)
{
	struct rt_tok t = { .kind = kind, .ptr = start, .len = (size_t)(lx->pos - start) };

	return t;
}

static struct rt_tok
rt_lex_var(struct rt_lex *lx, const char *start)
{
	enum rt_tok_kind kind = RT_TOK_USERVAR;

	lx->pos++;
	if (lx->pos < lx->end && *lx->pos == '@') {
		kind = RT_TOK_SYSVAR;
		lx->pos++;
	}
	if (lx->pos < lx->end && (*lx->pos == '\'' || *lx->pos == '"' || *lx->pos == '`')) {
		if (!rt_skip_quoted(lx, *lx->pos, *lx->pos != '`')) {
			lx->pos = lx->end;
			return rt_tok_make(lx, RT_TOK_ERROR, start);
		}
		return rt_tok_make(lx, kind, start);
	}
	while (lx->pos < lx->end && (rt_is_ident((unsigned char)*lx->pos) || *lx->pos == '.')) {
		lx->pos++;
	}
	return rt_tok_make(lx, kind, start);
}

static struct rt_tok
rt_lex_number(struct rt_lex *lx, const char *start)
{
	/* 0x1e-1 is 0x1e minus 1: only decimal numbers have an exponent */
	bool radix = lx->end - start >= 2 && start[0] == '0' &&
		     (start[1] == 'x' || start[1] == 'X' || start[1] == 'b' || start[1] == 'B');

	while (lx->pos < lx->end && (rt_is_ident((unsigned char)*lx->pos) || *lx->pos == '.')) {
		if (!radix && (*lx->pos == 'e' || *lx->pos == 'E') && lx->pos + 1 < lx->end &&
		    (lx->pos[1] == '-' || lx->pos[1] == '+')) {
			lx->pos++; /* exponent sign: 1e-5 */
		}
		lx->pos++;
	}
	return rt_tok_make(lx, RT_TOK_NUMBER, start);
}

static struct rt_tok rt_lex_scan(struct rt_lex *lx);

/* Character sets MariaDB accepts as _introducers (lower case). */
static const char *const rt_charsets[] = {
	"armscii8", "ascii", "big5", "binary", "cp1250", "cp1251", "cp1256", "cp1257", "cp850",
	"cp852", "cp866", "cp932", "dec8", "eucjpms", "euckr", "gb2312", "gbk", "geostd8",
	"greek", "hebrew", "hp8", "keybcs2", "koi8r", "koi8u", "latin1", "latin2", "latin5",
	"latin7", "macce", "macroman", "sjis", "swe7", "tis620", "ucs2", "ujis", "utf16",
	"utf16le", "utf32", "utf8", "utf8mb3", "utf8mb4",
};

bool
rt_lex_is_charset(const char *word, size_t len)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(rt_charsets); i++) {
		if (strlen(rt_charsets[i]) == len && strncasecmp(rt_charsets[i], word, len) == 0) {
			return true;
		}
	}
	return false;
}

/* A word just scanned at <start>: N'x' and _charset 'x' / _charset X'..' become one literal
 * token (the introducer only names the literal's character set). */
static struct rt_tok
rt_lex_word(struct rt_lex *lx, const char *start)
{
	size_t n = (size_t)(lx->pos - start);
	struct rt_lex save = *lx;
	struct rt_tok lit;

	if (n == 1 && (*start == 'N' || *start == 'n') && lx->pos < lx->end && *lx->pos == '\'') {
		lit = rt_lex_scan(lx);
	} else if (n > 1 && *start == '_' && rt_lex_is_charset(start + 1, n - 1)) {
		lit = rt_lex_scan(lx);
		if (lit.kind == RT_TOK_NUMBER &&
		    !(lit.len >= 2 && (lit.ptr[0] == '0' || lit.ptr[1] == '\''))) {
			lit.kind = RT_TOK_WORD; /* _utf8 42 is not an introduced literal */
		}
	} else {
		return rt_tok_make(lx, RT_TOK_WORD, start);
	}
	if (lit.kind == RT_TOK_ERROR) {
		return lit;
	}
	if (lit.kind != RT_TOK_STRING && lit.kind != RT_TOK_NUMBER) {
		*lx = save;
		return rt_tok_make(lx, RT_TOK_WORD, start);
	}
	lit.intro = (unsigned int)(lit.ptr - start);
	lit.len += lit.intro;
	lit.ptr = start;
	return lit;
}

struct rt_tok
rt_lex_next(struct rt_lex *lx)
{
	struct rt_tok t;

	if (lx->failed) {
		t.kind = RT_TOK_ERROR;
		t.ptr = lx->end;
		t.len = 0;
		return t;
	}
	t = rt_lex_scan(lx);
	lx->failed = t.kind == RT_TOK_ERROR;
	return t;
}

static struct rt_tok
rt_lex_scan(struct rt_lex *lx)
{
	const char *start;
	unsigned char c;

	if (!rt_skip_space(lx)) {
		lx->pos = lx->end;
		return rt_tok_make(lx, RT_TOK_ERROR, lx->end);
	}
	start = lx->pos;
	if (lx->pos >= lx->end) {
		return rt_tok_make(lx, RT_TOK_END, start);
	}
	c = (unsigned char)*lx->pos;
	if (c == '\'' || c == '"' || c == '`') {
		if (!rt_skip_quoted(lx, (char)c, c != '`')) {
			lx->pos = lx->end;
			return rt_tok_make(lx, RT_TOK_ERROR, start);
		}
		return rt_tok_make(lx, c == '`' ? RT_TOK_QIDENT : RT_TOK_STRING, start);
	}
	if ((c == 'x' || c == 'X' || c == 'b' || c == 'B') && lx->pos + 1 < lx->end && lx->pos[1] == '\'') {
		lx->pos++;
		if (!rt_skip_quoted(lx, '\'', false)) {
			lx->pos = lx->end;
			return rt_tok_make(lx, RT_TOK_ERROR, start);
		}
		return rt_tok_make(lx, RT_TOK_NUMBER, start);
	}
	if (rt_is_digit(c) || (c == '.' && lx->pos + 1 < lx->end && rt_is_digit((unsigned char)lx->pos[1]))) {
		return rt_lex_number(lx, start);
	}
	if (rt_is_ident(c)) {
		while (lx->pos < lx->end && rt_is_ident((unsigned char)*lx->pos)) {
			lx->pos++;
		}
		return rt_lex_word(lx, start);
	}
	if (c == '@') {
		return rt_lex_var(lx, start);
	}
	lx->pos++;
	if (c == '?') {
		return rt_tok_make(lx, RT_TOK_PARAM, start);
	}
	if ((c == ':' || c == '<' || c == '>' || c == '!') && lx->pos < lx->end && *lx->pos == '=') {
		lx->pos++; /* := <= >= != */
	}
	return rt_tok_make(lx, RT_TOK_PUNCT, start);
}

bool
rt_tok_punct(const struct rt_tok *t, char c)
{
	return t->kind == RT_TOK_PUNCT && t->len == 1 && t->ptr[0] == c;
}

bool
rt_tok_is(const struct rt_tok *t, const char *kw)
{
	size_t n = strlen(kw);

	if (t->kind != RT_TOK_WORD || t->len != n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = t->ptr[i];

		if (c >= 'a' && c <= 'z') {
			c = (char)(c - 'a' + 'A');
		}
		if (c != kw[i]) {
			return false;
		}
	}
	return true;
}
