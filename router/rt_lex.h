/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_lex.h - a tokenizer for MySQL/MariaDB SQL text, following the server's lexical
 * rules: '...' "..." strings with backslash escapes, `quoted` identifiers, -- # and / * * /
 * comments, executable comments (/ *! ... * /, / *M! ... * /) whose body is tokenized as code,
 * numbers, @user and @@system variables, and punctuation. Pure; tokens are views into the text.
 */
#ifndef MYSHARD_ROUTER_RT_LEX_H
#define MYSHARD_ROUTER_RT_LEX_H

#include "common/ms_base.h"

enum rt_tok_kind {
	RT_TOK_END = 0,  /* end of input */
	RT_TOK_WORD,     /* identifier or keyword (unquoted) */
	RT_TOK_QIDENT,   /* `quoted identifier` (view includes the backticks) */
	RT_TOK_STRING,   /* 'string' or "string" (view includes the quotes); N'x' and
			    _charset'x' are one token whose view starts at the introducer */
	RT_TOK_NUMBER,   /* 42, 4.2e1, 0x1f, x'1f', b'01' (and _binary x'1f': see <intro>) */
	RT_TOK_USERVAR,  /* @name, @'name', @`name` */
	RT_TOK_SYSVAR,   /* @@name, @@session.name */
	RT_TOK_PARAM,    /* ? placeholder */
	RT_TOK_PUNCT,    /* any other single character, or a multi-char operator */
	RT_TOK_ERROR,    /* unterminated string, identifier or comment */
};

struct rt_tok {
	enum rt_tok_kind kind;
	const char *ptr; /* borrowed view into the text */
	size_t len;
	unsigned int intro; /* STRING/NUMBER: bytes of a charset introducer before the literal
			       proper (N'x' -> 1, _utf8mb4 'x' -> 9, spaces included); 0 if none */
};

struct rt_lex_memo_ent;

struct rt_lex {
	const char *pos; /* borrowed */
	const char *end; /* borrowed */
	bool in_exec_comment; /* inside / *! ... * /: its closing marker is skipped */
	bool failed;          /* an RT_TOK_ERROR was returned: every later call returns it too */
	const struct rt_lex_memo_ent *memo; /* replaying the thread's memo (see below); NULL: live */
	unsigned int memo_i, memo_n;
};

void rt_lex_init(struct rt_lex *lx, const char *text, size_t len);
/* Returns the next token, skipping whitespace and comments. After RT_TOK_END or RT_TOK_ERROR it keeps returning the same kind. */
struct rt_tok rt_lex_next(struct rt_lex *lx);
/* Moves the lexer to <pos> (inside its text) and scans live from there. */
void rt_lex_seek(struct rt_lex *lx, const char *pos);

/*
 * The statement memo. The proxy runs several independent passes over each statement (the
 * classifier, the transaction parser, the planner, the digest): rt_lex_memo_set() scans
 * <text> once on the calling thread and keeps its first tokens; until rt_lex_memo_clear(),
 * every rt_lex_init() on the same bytes at the same address replays them instead of scanning
 * again, then continues live past them. The result is exactly that of a live scan: the memo
 * is used only when the text still holds the bytes it was made from (compared on every
 * init). Texts longer than RT_LEX_MEMO_TEXT are not memoized.
 */
#define RT_LEX_MEMO_TEXT 2048
#define RT_LEX_MEMO_TOKS 96
void rt_lex_memo_set(const char *text, size_t len);
void rt_lex_memo_clear(void);
/* <c> with ASCII a-z upper-cased (no locale). */
static inline unsigned char
rt_upper(unsigned char c)
{
	return (unsigned char)(c - 'a') < 26 ? (unsigned char)(c - ('a' - 'A')) : c;
}

/* True if <t> is a WORD equal to <kw> ignoring ASCII case; <kw> is upper-case. Inline: every
 * statement makes dozens of these checks, and with a literal <kw> its length is a constant. */
static inline bool MS_MUSTCHECK
rt_tok_is(const struct rt_tok *t, const char *kw)
{
	size_t n;

	if (t->kind != RT_TOK_WORD) {
		return false;
	}
	if (__builtin_constant_p(__builtin_strlen(kw))) {
		n = __builtin_strlen(kw); /* a literal: its length rejects most words at once */
		if (t->len != n) {
			return false;
		}
	} else {
		n = t->len; /* from a table: no strlen(), the NUL ends the comparison */
	}
	for (size_t i = 0; i < n; i++) {
		if (rt_upper((unsigned char)t->ptr[i]) != (unsigned char)kw[i]) {
			return false; /* also at kw's NUL: no word byte is NUL */
		}
	}
	return kw[n] == '\0';
}

/* True if <t> is PUNCT <c> (a single character). */
static inline bool MS_MUSTCHECK
rt_tok_punct(const struct rt_tok *t, char c)
{
	return t->kind == RT_TOK_PUNCT && t->len == 1 && t->ptr[0] == c;
}

/* True if <word>/<len> (no quotes) names a character set usable as an introducer (_utf8mb4). */
bool rt_lex_is_charset(const char *word, size_t len) MS_MUSTCHECK;

/*
 * A fixed set of upper-case keywords with case-insensitive lookup by hash: one pass over the
 * word and, mostly, one comparison (a bsearch over the same list took about seven). Built once
 * (at program start, from a constructor) and read-only afterwards, so threads share it.
 */
#define RT_KWSET_SLOTS 512 /* power of two, more than twice the largest list */
#define RT_KWSET_MAXLEN 32
struct rt_kwset {
	const char *word[RT_KWSET_SLOTS];
	unsigned char len[RT_KWSET_SLOTS];
};
/* Adds <n> upper-case <words>; aborts if the set is too small (a programming error). */
void rt_kwset_build(struct rt_kwset *set, const char *const *words, size_t n);
/* True if <p>/<n> is one of the words, ignoring ASCII case. */
bool rt_kwset_has(const struct rt_kwset *set, const char *p, size_t n) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_LEX_H */
