/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_lex.c - hand-written scanner. The switch in rt_lex_next() is one case per leading
 * character class and is kept in one place on purpose (a dispatch table in disguise).
 */
#include "router/rt_lex.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rt_lex_memo_ent {
	struct rt_tok tok;
	bool in_exec_comment; /* the lexer's state after the token */
};

/* One per thread: the statement the thread is working on (rt_lex_memo_set). */
static __thread struct {
	const char *text; /* NULL: no memo */
	size_t len;
	unsigned int n;
	char copy[RT_LEX_MEMO_TEXT];
	struct rt_lex_memo_ent ent[RT_LEX_MEMO_TOKS];
} rt_memo;

void
rt_lex_init(struct rt_lex *lx, const char *text, size_t len)
{
	lx->pos = text;
	lx->end = text + len;
	lx->in_exec_comment = false;
	lx->failed = false;
	lx->memo = NULL;
	lx->memo_i = 0;
	lx->memo_n = 0;
	if (rt_memo.text != NULL && text == rt_memo.text && len == rt_memo.len &&
	    memcmp(text, rt_memo.copy, len) == 0) {
		lx->memo = rt_memo.ent;
		lx->memo_n = rt_memo.n;
	}
}

void
rt_lex_seek(struct rt_lex *lx, const char *pos)
{
	lx->memo = NULL;
	lx->pos = pos;
}

void
rt_lex_memo_clear(void)
{
	rt_memo.text = NULL;
	rt_memo.n = 0;
}

void
rt_lex_memo_set(const char *text, size_t len)
{
	struct rt_lex lx;

	rt_lex_memo_clear();
	if (text == NULL || len > RT_LEX_MEMO_TEXT) {
		return;
	}
	rt_lex_init(&lx, text, len);
	while (rt_memo.n < RT_LEX_MEMO_TOKS) {
		struct rt_lex_memo_ent *e = &rt_memo.ent[rt_memo.n++];

		e->tok = rt_lex_next(&lx);
		e->in_exec_comment = lx.in_exec_comment;
		if (e->tok.kind == RT_TOK_END || e->tok.kind == RT_TOK_ERROR) {
			break;
		}
	}
	memcpy(rt_memo.copy, text, len);
	rt_memo.text = text;
	rt_memo.len = len;
}

/* Character classes, one table lookup per byte on the hot loops. */
enum {
	RT_CC_SPACE = 1,   /* space \t \n \r \f \v */
	RT_CC_IDENT = 2,   /* letters, digits, _ $ and every byte >= 0x80 */
	RT_CC_DIGIT = 4,   /* 0-9 */
	RT_CC_COMMENT = 8, /* # - / *: may start (or, '*', end) a comment */
};

#define RT_CC_RANGE(lo, hi, v) [lo ... hi] = (v)
static const unsigned char rt_cc[256] = {
	[' '] = RT_CC_SPACE, ['\t'] = RT_CC_SPACE, ['\n'] = RT_CC_SPACE, ['\r'] = RT_CC_SPACE,
	['\f'] = RT_CC_SPACE, ['\v'] = RT_CC_SPACE,
	RT_CC_RANGE('a', 'z', RT_CC_IDENT), RT_CC_RANGE('A', 'Z', RT_CC_IDENT),
	RT_CC_RANGE('0', '9', RT_CC_IDENT | RT_CC_DIGIT), RT_CC_RANGE(0x80, 0xff, RT_CC_IDENT),
	['_'] = RT_CC_IDENT, ['$'] = RT_CC_IDENT,
	['#'] = RT_CC_COMMENT, ['-'] = RT_CC_COMMENT, ['/'] = RT_CC_COMMENT, ['*'] = RT_CC_COMMENT,
};
#undef RT_CC_RANGE

static inline bool
rt_is_ident(unsigned char c)
{
	return (rt_cc[c] & RT_CC_IDENT) != 0;
}

static inline bool
rt_is_digit(unsigned char c)
{
	return (rt_cc[c] & RT_CC_DIGIT) != 0;
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
		if (rt_cc[(unsigned char)*p] & RT_CC_SPACE) {
			lx->pos++;
		} else if (!(rt_cc[(unsigned char)*p] & RT_CC_COMMENT)) {
			return true; /* the usual case: a token starts here */
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

/* Tokens are written in place: returning them by value through two calls cost a
 * store-forwarding stall per token. */
static inline void
rt_tok_set(struct rt_tok *t, const struct rt_lex *lx, enum rt_tok_kind kind, const char *start)
{
	*t = (struct rt_tok){ .kind = kind, .ptr = start, .len = (size_t)(lx->pos - start) };
}

static void
rt_lex_var(struct rt_lex *lx, const char *start, struct rt_tok *t)
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
			rt_tok_set(t, lx, RT_TOK_ERROR, start);
			return;
		}
		rt_tok_set(t, lx, kind, start);
		return;
	}
	while (lx->pos < lx->end && (rt_is_ident((unsigned char)*lx->pos) || *lx->pos == '.')) {
		lx->pos++;
	}
	rt_tok_set(t, lx, kind, start);
}

static void
rt_lex_number(struct rt_lex *lx, const char *start, struct rt_tok *t)
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
	rt_tok_set(t, lx, RT_TOK_NUMBER, start);
}

static void rt_lex_scan_lit(struct rt_lex *lx, struct rt_tok *t);

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

/* True if the token after <lx> is a word (not X'..' or B'..'): then an introducer before it
 * introduces nothing, and is not looked at further. Without this check, a chain of
 * introducers (_utf8 _utf8 _utf8 ... 'x') recursed once per link and a long one overflowed
 * the stack. */
static bool
rt_lex_word_next(const struct rt_lex *lx)
{
	struct rt_lex peek = *lx;
	unsigned char c;

	if (!rt_skip_space(&peek) || peek.pos >= peek.end) {
		return false;
	}
	c = (unsigned char)*peek.pos;
	if ((c == 'x' || c == 'X' || c == 'b' || c == 'B') && peek.pos + 1 < peek.end &&
	    peek.pos[1] == '\'') {
		return false;
	}
	return rt_is_ident(c) && !rt_is_digit(c);
}

/* A word just scanned at <start>: N'x' and _charset 'x' / _charset X'..' become one literal
 * token (the introducer only names the literal's character set). */
static void
rt_lex_word(struct rt_lex *lx, const char *start, struct rt_tok *t)
{
	size_t n = (size_t)(lx->pos - start);
	struct rt_lex save;
	struct rt_tok lit;

	if (*start != 'N' && *start != 'n' && *start != '_') {
		rt_tok_set(t, lx, RT_TOK_WORD, start);
		return; /* no introducer: most words */
	}
	save = *lx;
	if (n == 1 && (*start == 'N' || *start == 'n') && lx->pos < lx->end && *lx->pos == '\'') {
		rt_lex_scan_lit(lx, &lit);
	} else if (n > 1 && *start == '_' && rt_lex_is_charset(start + 1, n - 1) &&
		   !rt_lex_word_next(lx)) {
		rt_lex_scan_lit(lx, &lit);
		if (lit.kind == RT_TOK_NUMBER &&
		    !(lit.len >= 2 && (lit.ptr[0] == '0' || lit.ptr[1] == '\''))) {
			lit.kind = RT_TOK_WORD; /* _utf8 42 is not an introduced literal */
		}
	} else {
		rt_tok_set(t, lx, RT_TOK_WORD, start);
		return;
	}
	if (lit.kind == RT_TOK_ERROR) {
		*t = lit;
		return;
	}
	if (lit.kind != RT_TOK_STRING && lit.kind != RT_TOK_NUMBER) {
		*lx = save;
		rt_tok_set(t, lx, RT_TOK_WORD, start);
		return;
	}
	lit.intro = (unsigned int)(lit.ptr - start);
	lit.len += lit.intro;
	lit.ptr = start;
	*t = lit;
}

/* Inlined into rt_lex_next() so that the token is built right in its return slot. */
static inline __attribute__((always_inline)) void
rt_lex_scan(struct rt_lex *lx, struct rt_tok *t)
{
	const char *start;
	unsigned char c;

	if (!rt_skip_space(lx)) {
		lx->pos = lx->end;
		rt_tok_set(t, lx, RT_TOK_ERROR, lx->end);
		return;
	}
	start = lx->pos;
	if (lx->pos >= lx->end) {
		rt_tok_set(t, lx, RT_TOK_END, start);
		return;
	}
	c = (unsigned char)*lx->pos;
	if (c == '\'' || c == '"' || c == '`') {
		if (!rt_skip_quoted(lx, (char)c, c != '`')) {
			lx->pos = lx->end;
			rt_tok_set(t, lx, RT_TOK_ERROR, start);
			return;
		}
		rt_tok_set(t, lx, c == '`' ? RT_TOK_QIDENT : RT_TOK_STRING, start);
		return;
	}
	if ((c == 'x' || c == 'X' || c == 'b' || c == 'B') && lx->pos + 1 < lx->end && lx->pos[1] == '\'') {
		lx->pos++;
		if (!rt_skip_quoted(lx, '\'', false)) {
			lx->pos = lx->end;
			rt_tok_set(t, lx, RT_TOK_ERROR, start);
			return;
		}
		rt_tok_set(t, lx, RT_TOK_NUMBER, start);
		return;
	}
	if (rt_is_digit(c) || (c == '.' && lx->pos + 1 < lx->end && rt_is_digit((unsigned char)lx->pos[1]))) {
		rt_lex_number(lx, start, t);
		return;
	}
	if (rt_is_ident(c)) {
		const char *p = lx->pos + 1, *end = lx->end;

		while (p < end && rt_is_ident((unsigned char)*p)) {
			p++;
		}
		lx->pos = p;
		rt_lex_word(lx, start, t);
		return;
	}
	if (c == '@') {
		rt_lex_var(lx, start, t);
		return;
	}
	lx->pos++;
	if (c == '?') {
		rt_tok_set(t, lx, RT_TOK_PARAM, start);
		return;
	}
	if ((c == ':' || c == '<' || c == '>' || c == '!') && lx->pos < lx->end && *lx->pos == '=') {
		lx->pos++; /* := <= >= != */
	}
	rt_tok_set(t, lx, RT_TOK_PUNCT, start);
}

/* The literal after an introducer (N'x', _utf8mb4 'x'). */
static __attribute__((noinline)) void
rt_lex_scan_lit(struct rt_lex *lx, struct rt_tok *t)
{
	rt_lex_scan(lx, t);
}

struct rt_tok
rt_lex_next(struct rt_lex *lx)
{
	struct rt_tok t;

	if (lx->memo != NULL) {
		if (lx->memo_i < lx->memo_n) {
			const struct rt_lex_memo_ent *e = &lx->memo[lx->memo_i++];

			/* where a live scan would stand after this token */
			lx->pos = e->tok.ptr + e->tok.len;
			lx->in_exec_comment = e->in_exec_comment;
			lx->failed = e->tok.kind == RT_TOK_ERROR;
			return e->tok;
		}
		lx->memo = NULL; /* past the memo: live from here */
	}
	if (lx->failed) {
		t.kind = RT_TOK_ERROR;
		t.ptr = lx->end;
		t.len = 0;
		t.intro = 0;
		return t;
	}
	rt_lex_scan(lx, &t);
	lx->failed = t.kind == RT_TOK_ERROR;
	return t;
}

static inline size_t
rt_kwset_hash(const char *p, size_t n)
{
	size_t h = n;

	for (size_t i = 0; i < n; i++) {
		h = h * 31 + rt_upper((unsigned char)p[i]);
	}
	return (h ^ (h >> 7)) & (RT_KWSET_SLOTS - 1);
}

void
rt_kwset_build(struct rt_kwset *set, const char *const *words, size_t n)
{
	if (n * 2 > RT_KWSET_SLOTS) {
		abort();
	}
	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(words[i]);
		size_t h = rt_kwset_hash(words[i], len);

		if (len == 0 || len > RT_KWSET_MAXLEN) {
			abort();
		}
		while (set->word[h] != NULL) {
			h = (h + 1) & (RT_KWSET_SLOTS - 1);
		}
		set->word[h] = words[i];
		set->len[h] = (unsigned char)len;
	}
}

bool
rt_kwset_has(const struct rt_kwset *set, const char *p, size_t n)
{
	size_t h;

	if (n == 0 || n > RT_KWSET_MAXLEN) {
		return false;
	}
	for (h = rt_kwset_hash(p, n); set->word[h] != NULL; h = (h + 1) & (RT_KWSET_SLOTS - 1)) {
		if (set->len[h] == n) {
			const char *w = set->word[h];
			size_t i = 0;

			while (i < n && rt_upper((unsigned char)p[i]) == (unsigned char)w[i]) {
				i++;
			}
			if (i == n) {
				return true;
			}
		}
	}
	return false;
}
