/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_admin.c - admin statement recognition (see rt_admin.h). Tokens come from rt_lex,
 * so comments, case and spacing do not matter; a trailing ';' is allowed.
 */
#include "router/rt_admin.h"

#include "router/rt_lex.h"

#include <stdio.h>
#include <string.h>

#define RT_ADM_MAX_TOKS 8

/* Up to RT_ADM_MAX_TOKS tokens of <sql> before its end (a final ';' dropped); returns the
 * count, or RT_ADM_MAX_TOKS + 1 when there are more. *<lex_err>: an unterminated string,
 * identifier or comment ended the scan. */
static size_t
rt_adm_tokens(const char *sql, size_t len, struct rt_tok *t, bool *lex_err)
{
	struct rt_lex lx;
	size_t n = 0;

	*lex_err = false;
	rt_lex_init(&lx, sql, len);
	for (;;) {
		struct rt_tok k = rt_lex_next(&lx);

		if (k.kind == RT_TOK_END || k.kind == RT_TOK_ERROR) {
			*lex_err = k.kind == RT_TOK_ERROR;
			break;
		}
		if (n == RT_ADM_MAX_TOKS) {
			return RT_ADM_MAX_TOKS + 1;
		}
		t[n++] = k;
	}
	if (n > 0 && rt_tok_punct(&t[n - 1], ';')) {
		n--;
	}
	return n;
}

/* The <n> tokens are exactly the upper-case words of <words> ("APPLY DRY RUN"). */
static bool
rt_adm_words(const struct rt_tok *t, size_t n, const char *words)
{
	char w[32];
	size_t i = 0;

	while (*words != '\0') {
		size_t k = strcspn(words, " ");

		if (i == n || k >= sizeof(w)) {
			return false;
		}
		memcpy(w, words, k);
		w[k] = '\0';
		if (!rt_tok_is(&t[i++], w)) {
			return false;
		}
		words += k;
		words += *words == ' ';
	}
	return i == n;
}

static void
rt_adm_bad(struct rt_admin *out, const char *msg)
{
	out->kind = RT_ADM_BAD;
	snprintf(out->err, sizeof(out->err), "%s", msg);
}

/* A whole number token into *<v>; false if it is not one or does not fit. */
static bool
rt_adm_u64(const struct rt_tok *t, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < t->len; i++) {
		char c = t->ptr[i];

		if (c < '0' || c > '9' || *v > (UINT64_MAX - (uint64_t)(c - '0')) / 10) {
			return false;
		}
		*v = *v * 10 + (uint64_t)(c - '0');
	}
	return t->len > 0;
}

static void
rt_adm_rollback(const struct rt_tok *t, size_t n, struct rt_admin *out)
{
	if (n != 4 || !rt_tok_is(&t[1], "TOPOLOGY") || !rt_tok_is(&t[2], "TO") ||
	    t[3].kind != RT_TOK_NUMBER) {
		rt_adm_bad(out, "usage: ROLLBACK TOPOLOGY TO <version>");
		return;
	}
	if (!rt_adm_u64(&t[3], &out->num)) {
		out->num = 0;
		rt_adm_bad(out, "ROLLBACK TOPOLOGY TO: the version must be a whole number");
		return;
	}
	out->kind = RT_ADM_ROLLBACK_TO;
}

static void
rt_adm_kill(const struct rt_tok *t, size_t n, struct rt_admin *out)
{
	if (n != 3 || !rt_tok_is(&t[1], "CLIENT") || t[2].kind != RT_TOK_NUMBER ||
	    !rt_adm_u64(&t[2], &out->num) || out->num == 0) {
		out->num = 0;
		rt_adm_bad(out, "usage: KILL CLIENT <id> (an id from SHOW CLIENTS)");
		return;
	}
	out->kind = RT_ADM_KILL_CLIENT;
}

static void
rt_adm_show(const struct rt_tok *t, size_t n, struct rt_admin *out)
{
	static const struct {
		const char *what;
		enum rt_admin_kind kind;
	} shows[] = {
		{ "SHOW VERSION", RT_ADM_SHOW_VERSION }, { "SHOW TOPOLOGY", RT_ADM_SHOW_TOPOLOGY },
		{ "SHOW SHARDS", RT_ADM_SHOW_SHARDS },   { "SHOW POOLS", RT_ADM_SHOW_POOLS },
		{ "SHOW STATS", RT_ADM_SHOW_STATS },     { "SHOW CLIENTS", RT_ADM_SHOW_CLIENTS },
		{ "SHOW SERVERS", RT_ADM_SHOW_SERVERS }, { "SHOW QUERY DIGESTS", RT_ADM_SHOW_DIGESTS },
		{ "SHOW TRANSACTIONS IN DOUBT", RT_ADM_SHOW_XA }, { "SHOW REPLICAS", RT_ADM_SHOW_REPLICAS },
	};

	for (size_t i = 0; i < MS_ARRAY_LEN(shows); i++) {
		if (rt_adm_words(t, n, shows[i].what)) {
			out->kind = shows[i].kind;
			return;
		}
	}
	rt_adm_bad(out, "unknown SHOW: the admin port has SHOW VERSION, SHOW TOPOLOGY, SHOW SHARDS, "
			"SHOW POOLS, SHOW STATS, SHOW CLIENTS, SHOW SERVERS, SHOW REPLICAS, "
			"SHOW QUERY DIGESTS and SHOW TRANSACTIONS IN DOUBT");
}

/* PAUSE SHARD s / RESUME SHARD s: s a word, `name` or 'name' of at most 64 bytes. */
static void
rt_adm_shard_cmd(const struct rt_tok *t, size_t n, enum rt_admin_kind kind, struct rt_admin *out)
{
	const char *p;
	size_t len;

	if (n != 3 || !rt_tok_is(&t[1], "SHARD") ||
	    (t[2].kind != RT_TOK_WORD && t[2].kind != RT_TOK_QIDENT && t[2].kind != RT_TOK_STRING) ||
	    (t[2].kind == RT_TOK_STRING && t[2].intro != 0)) {
		rt_adm_bad(out, kind == RT_ADM_PAUSE_SHARD ? "usage: PAUSE SHARD <name>"
							   : "usage: RESUME SHARD <name>");
		return;
	}
	p = t[2].ptr;
	len = t[2].len;
	if (t[2].kind != RT_TOK_WORD) {
		p++;
		len -= 2;
	}
	if (len == 0 || len > RT_ADMIN_NAME_MAX) {
		rt_adm_bad(out, "a shard name is 1..64 characters");
		return;
	}
	memcpy(out->name, p, len);
	out->name[len] = '\0';
	out->kind = kind;
}

void
rt_admin_parse(const char *sql, size_t len, struct rt_admin *out)
{
	struct rt_tok t[RT_ADM_MAX_TOKS];
	bool lex_err;
	size_t n = rt_adm_tokens(sql, len, t, &lex_err);

	memset(out, 0, sizeof(*out));
	out->kind = RT_ADM_SQL;
	if (n == 0) {
		out->kind = RT_ADM_EMPTY;
	} else if (rt_tok_is(&t[0], "SET") || rt_tok_is(&t[0], "USE")) {
		out->kind = RT_ADM_NOOP;
	} else if (rt_adm_words(t, n, "APPLY")) {
		out->kind = RT_ADM_APPLY;
	} else if (rt_adm_words(t, n, "APPLY DRY RUN")) {
		out->kind = RT_ADM_APPLY_DRY;
	} else if (rt_tok_is(&t[0], "APPLY")) {
		rt_adm_bad(out, "usage: APPLY or APPLY DRY RUN");
	} else if (rt_tok_is(&t[0], "ROLLBACK") && n > 1 && rt_tok_is(&t[1], "TOPOLOGY")) {
		rt_adm_rollback(t, n, out);
	} else if (rt_adm_words(t, n, "SAVE") || rt_adm_words(t, n, "SAVE CONFIG")) {
		out->kind = RT_ADM_SAVE;
	} else if (rt_adm_words(t, n, "RELOAD")) {
		out->kind = RT_ADM_RELOAD;
	} else if (rt_tok_is(&t[0], "SHOW")) {
		rt_adm_show(t, n, out);
	} else if (rt_tok_is(&t[0], "KILL")) {
		rt_adm_kill(t, n, out);
	} else if (rt_tok_is(&t[0], "PAUSE")) {
		rt_adm_shard_cmd(t, n, RT_ADM_PAUSE_SHARD, out);
	} else if (rt_tok_is(&t[0], "RESUME")) {
		rt_adm_shard_cmd(t, n, RT_ADM_RESUME_SHARD, out);
	} else if (n >= 2 && n <= 4 && rt_tok_is(&t[0], "SELECT") && t[1].kind == RT_TOK_SYSVAR &&
		   t[1].len == strlen("@@version_comment") &&
		   strncasecmp(t[1].ptr, "@@version_comment", t[1].len) == 0) {
		out->kind = RT_ADM_VERSION_COMMENT;
	}
	/* SQL goes to the config database, whose own parser judges it; a command must be whole */
	if (lex_err && out->kind != RT_ADM_SQL && out->kind != RT_ADM_NOOP) {
		memset(out, 0, sizeof(*out));
		rt_adm_bad(out, "unterminated string, identifier or comment");
	}
}
