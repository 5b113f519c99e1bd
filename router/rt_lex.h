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

struct rt_lex {
	const char *pos; /* borrowed */
	const char *end; /* borrowed */
	bool in_exec_comment; /* inside / *! ... * /: its closing marker is skipped */
	bool failed;          /* an RT_TOK_ERROR was returned: every later call returns it too */
};

void rt_lex_init(struct rt_lex *lx, const char *text, size_t len);
/* Returns the next token, skipping whitespace and comments. After RT_TOK_END or RT_TOK_ERROR it keeps returning the same kind. */
struct rt_tok rt_lex_next(struct rt_lex *lx);
/* True if <t> is a WORD equal to <kw> ignoring ASCII case; <kw> is upper-case. */
bool rt_tok_is(const struct rt_tok *t, const char *kw) MS_MUSTCHECK;
/* True if <t> is PUNCT <c> (a single character). */
bool rt_tok_punct(const struct rt_tok *t, char c) MS_MUSTCHECK;
/* True if <word>/<len> (no quotes) names a character set usable as an introducer (_utf8mb4). */
bool rt_lex_is_charset(const char *word, size_t len) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_LEX_H */
