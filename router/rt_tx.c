/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_tx.c - transaction-control statements (see rt_tx.h).
 */
#include "router/rt_tx.h"

#include "router/rt_lex.h"

#include <string.h>
#include <strings.h>

/* Reads a savepoint name (word or `identifier`) into out->name. */
static bool
rt_tx_name(const struct rt_tok *t, struct rt_tx *out)
{
	const char *p = t->ptr;
	size_t n = t->len;

	if (t->kind == RT_TOK_QIDENT) {
		if (n < 3) {
			return false;
		}
		p++;
		n -= 2;
		if (memchr(p, '`', n) != NULL) {
			return false; /* doubled backticks: keep it simple, not ours */
		}
	} else if (t->kind != RT_TOK_WORD) {
		return false;
	}
	if (n >= sizeof(out->name)) {
		return false;
	}
	memcpy(out->name, p, n);
	out->name[n] = '\0';
	return true;
}

/* [AND [NO] CHAIN] [[NO] RELEASE] after COMMIT/ROLLBACK; false if CHAIN or RELEASE is asked. */
static bool
rt_tx_completion(struct rt_lex *lx, struct rt_tok *t, struct rt_tx *out)
{
	if (rt_tok_is(t, "AND")) {
		*t = rt_lex_next(lx);
		if (rt_tok_is(t, "NO")) {
			*t = rt_lex_next(lx);
			if (!rt_tok_is(t, "CHAIN")) {
				return false;
			}
		} else if (rt_tok_is(t, "CHAIN")) {
			out->kind = RT_TX_UNSUPPORTED;
			out->why = "AND CHAIN is not supported by myshard";
		} else {
			return false;
		}
		*t = rt_lex_next(lx);
	}
	if (rt_tok_is(t, "NO")) {
		*t = rt_lex_next(lx);
		if (!rt_tok_is(t, "RELEASE")) {
			return false;
		}
		*t = rt_lex_next(lx);
	} else if (rt_tok_is(t, "RELEASE")) {
		out->kind = RT_TX_UNSUPPORTED;
		out->why = "COMMIT/ROLLBACK RELEASE is not supported by myshard; disconnect instead";
		*t = rt_lex_next(lx);
	}
	return true;
}

static bool
rt_tx_start_modes(struct rt_lex *lx, struct rt_tok *t, struct rt_tx *out)
{
	for (;;) {
		if (rt_tok_is(t, "WITH")) {
			*t = rt_lex_next(lx);
			if (!rt_tok_is(t, "CONSISTENT")) {
				return false;
			}
			*t = rt_lex_next(lx);
			if (!rt_tok_is(t, "SNAPSHOT")) {
				return false;
			}
			out->modes |= RT_TXM_SNAPSHOT;
		} else if (rt_tok_is(t, "READ")) {
			*t = rt_lex_next(lx);
			if (rt_tok_is(t, "ONLY")) {
				out->modes |= RT_TXM_READ_ONLY;
			} else if (rt_tok_is(t, "WRITE")) {
				out->modes |= RT_TXM_READ_WRITE;
			} else {
				return false;
			}
		} else {
			return true;
		}
		*t = rt_lex_next(lx);
		if (!rt_tok_punct(t, ',')) {
			return true;
		}
		*t = rt_lex_next(lx);
	}
}

/* The value of SET autocommit: 0/1, ON/OFF, TRUE/FALSE, or those as strings. */
static bool
rt_tx_bool(const struct rt_tok *t, bool *v)
{
	static const char *const on[] = { "1", "ON", "TRUE" }, *const off[] = { "0", "OFF", "FALSE" };
	const char *p = t->ptr;
	size_t n = t->len;

	if (t->kind == RT_TOK_STRING) {
		if (t->intro != 0 || n < 2) {
			return false;
		}
		p++;
		n -= 2;
	} else if (t->kind != RT_TOK_WORD && t->kind != RT_TOK_NUMBER) {
		return false;
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(on); i++) {
		if (n == strlen(on[i]) && strncasecmp(p, on[i], n) == 0) {
			*v = true;
			return true;
		}
		if (n == strlen(off[i]) && strncasecmp(p, off[i], n) == 0) {
			*v = false;
			return true;
		}
	}
	return false;
}

static bool
rt_tx_set(struct rt_lex *lx, struct rt_tok *t, struct rt_tx *out)
{
	static const char *const names[] = { "@@autocommit", "@@session.autocommit",
					     "@@local.autocommit" };
	bool known = false;

	if (rt_tok_is(t, "SESSION") || rt_tok_is(t, "LOCAL")) {
		*t = rt_lex_next(lx);
	}
	if (rt_tok_is(t, "AUTOCOMMIT")) {
		known = true;
	} else if (t->kind == RT_TOK_SYSVAR) {
		for (size_t i = 0; i < MS_ARRAY_LEN(names); i++) {
			known |= t->len == strlen(names[i]) && strncasecmp(t->ptr, names[i], t->len) == 0;
		}
	}
	if (!known) {
		return false;
	}
	*t = rt_lex_next(lx);
	if (!rt_tok_punct(t, '=') && !(t->kind == RT_TOK_PUNCT && t->len == 2 &&
				       memcmp(t->ptr, ":=", 2) == 0)) {
		return false;
	}
	*t = rt_lex_next(lx);
	if (!rt_tx_bool(t, &out->autocommit)) {
		return false;
	}
	out->kind = RT_TX_AUTOCOMMIT;
	*t = rt_lex_next(lx);
	return true;
}

static bool
rt_tx_statement(struct rt_lex *lx, struct rt_tok *t, struct rt_tx *out)
{
	if (rt_tok_is(t, "BEGIN")) {
		out->kind = RT_TX_BEGIN;
		*t = rt_lex_next(lx);
		if (rt_tok_is(t, "WORK")) {
			*t = rt_lex_next(lx);
		}
		return true;
	}
	if (rt_tok_is(t, "START")) {
		*t = rt_lex_next(lx);
		if (!rt_tok_is(t, "TRANSACTION")) {
			return false;
		}
		out->kind = RT_TX_BEGIN;
		*t = rt_lex_next(lx);
		return rt_tx_start_modes(lx, t, out);
	}
	if (rt_tok_is(t, "COMMIT") || rt_tok_is(t, "ROLLBACK")) {
		out->kind = rt_tok_is(t, "COMMIT") ? RT_TX_COMMIT : RT_TX_ROLLBACK;
		*t = rt_lex_next(lx);
		if (rt_tok_is(t, "WORK")) {
			*t = rt_lex_next(lx);
		}
		if (out->kind == RT_TX_ROLLBACK && rt_tok_is(t, "TO")) {
			*t = rt_lex_next(lx);
			if (rt_tok_is(t, "SAVEPOINT")) {
				*t = rt_lex_next(lx);
			}
			out->kind = RT_TX_ROLLBACK_TO;
			if (!rt_tx_name(t, out)) {
				return false;
			}
			*t = rt_lex_next(lx);
			return true;
		}
		return rt_tx_completion(lx, t, out);
	}
	if (rt_tok_is(t, "SAVEPOINT") || rt_tok_is(t, "RELEASE")) {
		out->kind = rt_tok_is(t, "SAVEPOINT") ? RT_TX_SAVEPOINT : RT_TX_RELEASE;
		*t = rt_lex_next(lx);
		if (out->kind == RT_TX_RELEASE) {
			if (!rt_tok_is(t, "SAVEPOINT")) {
				return false;
			}
			*t = rt_lex_next(lx);
		}
		if (!rt_tx_name(t, out)) {
			return false;
		}
		*t = rt_lex_next(lx);
		return true;
	}
	if (rt_tok_is(t, "SET")) {
		*t = rt_lex_next(lx);
		return rt_tx_set(lx, t, out);
	}
	if (rt_tok_is(t, "SELECT")) {
		static const char *const names[] = { "@@autocommit", "@@session.autocommit",
						     "@@local.autocommit" };

		*t = rt_lex_next(lx);
		for (size_t i = 0; t->kind == RT_TOK_SYSVAR && i < MS_ARRAY_LEN(names); i++) {
			if (t->len == strlen(names[i]) && strncasecmp(t->ptr, names[i], t->len) == 0) {
				out->kind = RT_TX_READ_AUTOCOMMIT;
				memcpy(out->name, t->ptr, t->len);
				out->name[t->len] = '\0';
				*t = rt_lex_next(lx);
				return true;
			}
		}
	}
	return false;
}

void
rt_tx_parse(const char *text, size_t len, struct rt_tx *out)
{
	struct rt_lex lx;
	struct rt_tok t;

	memset(out, 0, sizeof(*out));
	rt_lex_init(&lx, text, len);
	t = rt_lex_next(&lx);
	if (!rt_tx_statement(&lx, &t, out)) {
		memset(out, 0, sizeof(*out));
		return;
	}
	if (rt_tok_punct(&t, ';')) {
		t = rt_lex_next(&lx);
	}
	if (t.kind != RT_TOK_END) {
		memset(out, 0, sizeof(*out));
	}
}

bool
rt_tx_implicit_commit(const char *text, size_t len)
{
	static const char *const verbs[] = { "ALTER",    "CREATE",  "DROP",   "RENAME", "TRUNCATE",
					     "LOCK",     "UNLOCK",  "GRANT",  "REVOKE", "ANALYZE",
					     "OPTIMIZE", "REPAIR",  "FLUSH",  "INSTALL", "UNINSTALL",
					     "RESET",    "CACHE",   "LOAD" };
	struct rt_lex lx;
	struct rt_tok t;
	bool hit = false;

	rt_lex_init(&lx, text, len);
	t = rt_lex_next(&lx);
	for (size_t i = 0; i < MS_ARRAY_LEN(verbs) && !hit; i++) {
		hit = rt_tok_is(&t, verbs[i]);
	}
	if (!hit) {
		return false;
	}
	if (rt_tok_is(&t, "LOAD")) {
		t = rt_lex_next(&lx);
		return rt_tok_is(&t, "INDEX"); /* LOAD DATA does not commit */
	}
	if (rt_tok_is(&t, "CREATE") || rt_tok_is(&t, "DROP")) {
		t = rt_lex_next(&lx);
		if (rt_tok_is(&t, "OR")) {
			t = rt_lex_next(&lx); /* OR REPLACE */
			t = rt_lex_next(&lx);
		}
		return !rt_tok_is(&t, "TEMPORARY");
	}
	return true;
}

size_t
rt_split(const char *text, size_t len, struct rt_span *out, size_t cap)
{
	struct rt_lex lx;
	struct rt_tok t, first = { 0 };
	size_t n = 0, start = 0;
	bool empty = true;

	rt_lex_init(&lx, text, len);
	for (;;) {
		t = rt_lex_next(&lx);
		if (t.kind == RT_TOK_ERROR) {
			return 0;
		}
		if (t.kind == RT_TOK_END || rt_tok_punct(&t, ';')) {
			size_t end = t.kind == RT_TOK_END ? len : (size_t)(t.ptr - text);

			if (!empty) {
				if (n == cap) {
					return 0;
				}
				out[n].off = start;
				out[n].len = end - start;
				n++;
			}
			if (t.kind == RT_TOK_END) {
				return n;
			}
			start = end + 1;
			empty = true;
			continue;
		}
		if (empty) {
			first = t;
			empty = false;
			if (rt_tok_is(&t, "IF") || rt_tok_is(&t, "CASE") || rt_tok_is(&t, "LOOP") ||
			    rt_tok_is(&t, "WHILE") || rt_tok_is(&t, "REPEAT") ||
			    rt_tok_is(&t, "DECLARE")) {
				return 0;
			}
			continue;
		}
		if ((rt_tok_is(&first, "BEGIN") && rt_tok_is(&t, "NOT")) ||
		    (rt_tok_is(&first, "CREATE") &&
		     (rt_tok_is(&t, "PROCEDURE") || rt_tok_is(&t, "FUNCTION") ||
		      rt_tok_is(&t, "TRIGGER") || rt_tok_is(&t, "EVENT")))) {
			return 0; /* a body of statements: the server must see it whole */
		}
	}
}

bool
rt_tx_tableless(const char *text, size_t len)
{
	static const char *const funcs[] = { "NOW", "CURRENT_TIMESTAMP", "CURDATE", "CURTIME",
					     "UTC_TIMESTAMP", "UNIX_TIMESTAMP", "VERSION",
					     "DATABASE", "SCHEMA", "USER", "CURRENT_USER",
					     "CONNECTION_ID", "CONCAT", "ABS", "LENGTH", "UPPER",
					     "LOWER", "IF", "IFNULL", "COALESCE", "MD5", "HEX" };
	struct rt_lex lx;
	struct rt_tok t, next;
	bool set;

	rt_lex_init(&lx, text, len);
	t = rt_lex_next(&lx);
	set = rt_tok_is(&t, "SET");
	if (!rt_tok_is(&t, "SELECT") && !rt_tok_is(&t, "DO") && !set) {
		return false;
	}
	for (t = rt_lex_next(&lx); t.kind != RT_TOK_END; t = next) {
		next = rt_lex_next(&lx);
		if (t.kind == RT_TOK_ERROR || (t.kind == RT_TOK_USERVAR && !set) ||
		    rt_tok_punct(&t, ';') ||
		    rt_tok_is(&t, "FROM") || rt_tok_is(&t, "INTO") || rt_tok_is(&t, "SELECT")) {
			return false;
		}
		if (t.kind == RT_TOK_WORD && rt_tok_punct(&next, '(')) {
			bool ok = false;

			for (size_t i = 0; i < MS_ARRAY_LEN(funcs) && !ok; i++) {
				ok = rt_tok_is(&t, funcs[i]);
			}
			if (!ok) {
				return false;
			}
		}
	}
	return true;
}

/* Functions an expression value of a replayed SET may call: deterministic string work. */
static bool
rt_set_func_ok(const struct rt_tok *t)
{
	static const char *const ok[] = { "CONCAT", "CONCAT_WS", "REPLACE", "TRIM", "LTRIM",
					  "RTRIM", "LOWER", "UPPER", "IF", "IFNULL", "COALESCE",
					  "SUBSTRING", "LEAST", "GREATEST" };

	for (size_t i = 0; i < MS_ARRAY_LEN(ok); i++) {
		if (rt_tok_is(t, ok[i])) {
			return true;
		}
	}
	return false;
}

static bool
rt_set_put(char *out, size_t cap, size_t *at, const char *p, size_t n)
{
	if (*at + n + 2 >= cap) {
		return false;
	}
	memcpy(out + *at, p, n);
	*at += n;
	return true;
}

/*
 * The expression value starting at <v> (already read) of variable <name>: written to <out> as
 * "(expr)" with every @@name / @@session.name of the variable itself as @@global.name, so
 * that it means the same on any connection (the caller replays it only if the session had not
 * set the variable before: its value was the global one). Ends with *<t> at the token after
 * the value. Only literals, parentheses, commas and rt_set_func_ok() calls are accepted.
 */
static bool
rt_set_expr(struct rt_lex *lx, struct rt_tok v, struct rt_tok *t, const char *name, size_t n,
	    char *out, size_t cap, size_t *at)
{
	int depth = 0;

	if (!rt_set_put(out, cap, at, "(", 1)) {
		return false;
	}
	for (*t = v;; *t = rt_lex_next(lx)) {
		struct rt_tok cur = *t;

		if (depth == 0 && (cur.kind == RT_TOK_END || rt_tok_punct(&cur, ',') ||
				   rt_tok_punct(&cur, ';'))) {
			break;
		}
		switch (cur.kind) {
		case RT_TOK_WORD:
			*t = rt_lex_next(lx);
			if (!rt_set_func_ok(&cur) || !rt_tok_punct(t, '(') ||
			    !rt_set_put(out, cap, at, cur.ptr, cur.len) ||
			    !rt_set_put(out, cap, at, "(", 1)) {
				return false;
			}
			depth++;
			continue;
		case RT_TOK_SYSVAR: {
			const char *p = cur.ptr + 2;
			size_t k = cur.len - 2;

			if (k > 8 && strncasecmp(p, "session.", 8) == 0) {
				p += 8;
				k -= 8;
			} else if (k > 6 && strncasecmp(p, "local.", 6) == 0) {
				p += 6;
				k -= 6;
			}
			if (k != n || strncasecmp(p, name, n) != 0 ||
			    !rt_set_put(out, cap, at, "@@global.", 9) ||
			    !rt_set_put(out, cap, at, name, n)) {
				return false; /* another variable, or @@global.x already */
			}
			continue;
		}
		case RT_TOK_STRING:
			if (cur.intro != 0 || cur.ptr[0] != '\'' ||
			    memchr(cur.ptr, '\\', cur.len) != NULL ||
			    memchr(cur.ptr, '\n', cur.len) != NULL ||
			    memchr(cur.ptr, '\0', cur.len) != NULL ||
			    !rt_set_put(out, cap, at, cur.ptr, cur.len)) {
				return false;
			}
			continue;
		case RT_TOK_NUMBER:
			if (cur.intro != 0 || !rt_set_put(out, cap, at, cur.ptr, cur.len)) {
				return false;
			}
			continue;
		case RT_TOK_PUNCT:
			if (rt_tok_punct(&cur, ')') && depth > 0) {
				depth--;
			} else if (!(rt_tok_punct(&cur, ',') && depth > 0)) {
				return false;
			}
			if (!rt_set_put(out, cap, at, cur.ptr, 1)) {
				return false;
			}
			continue;
		default:
			return false; /* user variables, placeholders, quoted identifiers */
		}
	}
	return depth == 0 && rt_set_put(out, cap, at, ")", 1);
}

/* autocommit's value in a SET: 1 or 0, -1 if not a plain boolean. */
static int
rt_set_bool(const struct rt_tok *v)
{
	if ((v->kind == RT_TOK_NUMBER && v->len == 1 && v->ptr[0] == '1') || rt_tok_is(v, "ON") ||
	    rt_tok_is(v, "TRUE")) {
		return 1;
	}
	if ((v->kind == RT_TOK_NUMBER && v->len == 1 && v->ptr[0] == '0') || rt_tok_is(v, "OFF") ||
	    rt_tok_is(v, "FALSE")) {
		return 0;
	}
	return -1;
}

/* Session variables whose SET is not replayed (the statement pins as before): syntax of their
 * own, state myshard keeps itself (session tracking, autocommit), values used up by the next
 * statement, and variables about replication, profiling or the connection's identity. */
bool
rt_set_name_replayable(const char *name, size_t n)
{
	static const char *const refused[] = { "names", "character", "charset",
					       "transaction", "password", "role", "statement",
					       "insert_id", "last_insert_id", "identity",
					       "completion_type", "sql_log_bin", "pseudo_thread_id",
					       "pseudo_slave_mode", "profiling", "profiling_history_size",
					       "rand_seed1", "rand_seed2", "skip_replication", "server_id",
					       "default_master_connection", "last_gtid", "autocommit" };
	static const char *const refused_prefix[] = { "session_track_", "gtid_", "wsrep_", "debug" };

	if (n == 0 || n > 64) {
		return false;
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(refused); i++) {
		if (n == strlen(refused[i]) && strncasecmp(name, refused[i], n) == 0) {
			return false;
		}
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(refused_prefix); i++) {
		if (n >= strlen(refused_prefix[i]) &&
		    strncasecmp(name, refused_prefix[i], strlen(refused_prefix[i])) == 0) {
			return false;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_')) {
			return false;
		}
	}
	return true;
}

bool
rt_set_trackable(const char *text, size_t len)
{
	struct rt_lex lx;
	struct rt_tok t;
	bool first = true;

	rt_lex_init(&lx, text, len);
	t = rt_lex_next(&lx);
	if (!rt_tok_is(&t, "SET")) {
		return false;
	}
	while ((t = rt_lex_next(&lx)).kind != RT_TOK_END) {
		if (t.kind == RT_TOK_ERROR || t.kind == RT_TOK_USERVAR || rt_tok_punct(&t, ';') ||
		    rt_tok_is(&t, "SELECT") || rt_tok_is(&t, "GLOBAL") || rt_tok_is(&t, "PERSIST") ||
		    rt_tok_is(&t, "AUTOCOMMIT")) {
			return false; /* subqueries could read tables or user variables */
		}
		if (first && (rt_tok_is(&t, "SESSION") || rt_tok_is(&t, "LOCAL"))) {
			continue;
		}
		if (first && (rt_tok_is(&t, "NAMES") || rt_tok_is(&t, "CHARACTER") ||
			      rt_tok_is(&t, "CHARSET") || rt_tok_is(&t, "TRANSACTION") ||
			      rt_tok_is(&t, "PASSWORD") || rt_tok_is(&t, "ROLE") ||
			      rt_tok_is(&t, "DEFAULT") || rt_tok_is(&t, "STATEMENT"))) {
			return false;
		}
		first = false;
		if (t.kind == RT_TOK_SYSVAR) {
			const char *p = t.ptr + 2, *dot = memchr(p, '.', t.len - 2);
			size_t n = t.len - 2;

			if (dot != NULL) {
				if ((size_t)(dot - p) == 6 && strncasecmp(p, "global", 6) == 0) {
					return false;
				}
				n -= (size_t)(dot + 1 - p);
				p = dot + 1;
			}
			if (n == 10 && strncasecmp(p, "autocommit", 10) == 0) {
				return false;
			}
		}
	}
	return !first;
}

/* "name=" into <out> at *<at>, the name lower-cased (rt_set_name_replayable() checked it). */
static bool
rt_set_put_name(char *out, size_t cap, size_t *at, const char *name, size_t n)
{
	if (n == 0 || *at + n + 2 >= cap) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		out[(*at)++] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	}
	out[(*at)++] = '=';
	return true;
}

/*
 * The session variable a SET assigns, starting at <t>: `[SESSION | LOCAL] name`, `@@name`,
 * `@@session.name` or `@@local.name`; <t> is left on the name. False for GLOBAL, PERSIST,
 * `@@global.name` and anything that is no name.
 */
static bool
rt_set_target(struct rt_lex *lx, struct rt_tok *t, const char **name, size_t *n)
{
	if (rt_tok_is(t, "SESSION") || rt_tok_is(t, "LOCAL")) {
		*t = rt_lex_next(lx);
	}
	*name = t->ptr;
	*n = t->len;
	if (t->kind == RT_TOK_SYSVAR) {
		*name += 2;
		*n -= 2;
		if (*n > 8 && strncasecmp(*name, "session.", 8) == 0) {
			*name += 8;
			*n -= 8;
		} else if (*n > 6 && strncasecmp(*name, "local.", 6) == 0) {
			*name += 6;
			*n -= 6;
		}
		return memchr(*name, '.', *n) == NULL; /* not @@global.x */
	}
	return t->kind == RT_TOK_WORD && !rt_tok_is(t, "GLOBAL") && !rt_tok_is(t, "PERSIST");
}

/* One `name = value` of rt_set_vars(); appends "name=value\n" to out at *at. */
static bool
rt_set_var_one(struct rt_lex *lx, struct rt_tok *t, char *out, size_t cap, size_t *at,
	       int *autocommit)
{
	const char *name;
	size_t n;
	struct rt_tok v, after;
	bool is_ac;

	if (!rt_set_target(lx, t, &name, &n)) {
		return false;
	}
	is_ac = n == 10 && strncasecmp(name, "autocommit", 10) == 0;
	if (!is_ac && !rt_set_name_replayable(name, n)) {
		return false;
	}
	*t = rt_lex_next(lx);
	if (!rt_tok_punct(t, '=') && !(t->kind == RT_TOK_PUNCT && t->len == 2 &&
				       memcmp(t->ptr, ":=", 2) == 0)) {
		return false;
	}
	v = rt_lex_next(lx);
	if (v.kind == RT_TOK_PUNCT && v.len == 1 && v.ptr[0] == '-') {
		struct rt_tok num = rt_lex_next(lx);

		if (num.kind != RT_TOK_NUMBER) {
			return false;
		}
		v.len = (size_t)(num.ptr + num.len - v.ptr);
		v.kind = RT_TOK_NUMBER;
	}
	if (is_ac) { /* myshard's own state: returned, not replayed */
		*autocommit = rt_set_bool(&v);
		*t = rt_lex_next(lx);
		return *autocommit >= 0 && !rt_tok_punct(t, '(');
	}
	after = rt_lex_next(lx);
	if (!(after.kind == RT_TOK_END || rt_tok_punct(&after, ',') || rt_tok_punct(&after, ';'))) {
		size_t start = *at;

		if (!rt_set_put_name(out, cap, at, name, n)) {
			return false;
		}
		/* rt_set_expr() lexes from <v> again: restart the lexer at <v> */
		rt_lex_seek(lx, v.ptr + v.len);
		if (!rt_set_expr(lx, v, t, out + start, n, out, cap, at)) {
			return false;
		}
		out[(*at)++] = '\n';
		out[*at] = '\0';
		return true;
	}
	/* values are replayed as written: nothing whose reading depends on sql_mode (backslash
	 * escapes, "double quotes" under ANSI_QUOTES) or that a line list cannot hold */
	if ((v.kind != RT_TOK_NUMBER && v.kind != RT_TOK_STRING && v.kind != RT_TOK_WORD) ||
	    v.intro != 0 || memchr(v.ptr, '\n', v.len) != NULL || memchr(v.ptr, '\0', v.len) != NULL ||
	    memchr(v.ptr, '\\', v.len) != NULL || memchr(v.ptr, '"', v.len) != NULL || n == 0 ||
	    n > 64) {
		return false;
	}
	if (*at + n + v.len + 2 >= cap) {
		return false;
	}
	if (!rt_set_put_name(out, cap, at, name, n)) {
		return false;
	}
	memcpy(out + *at, v.ptr, v.len);
	*at += v.len;
	out[(*at)++] = '\n';
	out[*at] = '\0';
	*t = after;
	return true;
}

/* Starts reading a SET whose assignments go to <out> as lines: false unless <text> begins
 * with SET and <out> has room for at least the terminator. */
static bool
rt_set_begin(struct rt_lex *lx, const char *text, size_t len, char *out, size_t cap)
{
	struct rt_tok t;

	if (cap == 0) {
		return false;
	}
	out[0] = '\0';
	rt_lex_init(lx, text, len);
	t = rt_lex_next(lx);
	return rt_tok_is(&t, "SET");
}

bool
rt_set_vars(const char *text, size_t len, char *out, size_t cap, int *autocommit)
{
	struct rt_lex lx;
	struct rt_tok t;
	size_t at = 0;

	*autocommit = -1;
	if (!rt_set_begin(&lx, text, len, out, cap)) {
		return false;
	}
	t = rt_lex_next(&lx);
	for (;;) {
		if (!rt_set_var_one(&lx, &t, out, cap, &at, autocommit)) {
			out[0] = '\0';
			return false;
		}
		if (!rt_tok_punct(&t, ',')) {
			break;
		}
		t = rt_lex_next(&lx);
	}
	if (rt_tok_punct(&t, ';')) {
		t = rt_lex_next(&lx);
	}
	if (t.kind != RT_TOK_END) {
		out[0] = '\0';
		return false;
	}
	return true;
}

int
rt_kill_parse(const char *text, size_t len, bool *query, uint64_t *id)
{
	struct rt_lex lx;
	struct rt_tok t;
	uint64_t v = 0;

	*query = false;
	*id = 0;
	rt_lex_init(&lx, text, len);
	t = rt_lex_next(&lx);
	if (!rt_tok_is(&t, "KILL")) {
		return 0;
	}
	t = rt_lex_next(&lx);
	if (rt_tok_is(&t, "HARD") || rt_tok_is(&t, "SOFT")) {
		t = rt_lex_next(&lx);
	}
	if (rt_tok_is(&t, "QUERY")) {
		*query = true;
		t = rt_lex_next(&lx);
	} else if (rt_tok_is(&t, "CONNECTION")) {
		t = rt_lex_next(&lx);
	}
	if (t.kind != RT_TOK_NUMBER || t.len == 0 || t.len > 19) {
		return -1; /* QUERY ID n, USER u, an expression */
	}
	for (size_t i = 0; i < t.len; i++) {
		if (t.ptr[i] < '0' || t.ptr[i] > '9') {
			return -1;
		}
		v = v * 10 + (uint64_t)(t.ptr[i] - '0');
	}
	t = rt_lex_next(&lx);
	if (rt_tok_punct(&t, ';')) {
		t = rt_lex_next(&lx);
	}
	if (t.kind != RT_TOK_END) {
		return -1;
	}
	*id = v;
	return 1;
}

bool
rt_set_track(const char *text, size_t len, char *out, size_t cap)
{
	struct rt_lex lx;
	struct rt_tok t, v;
	size_t at = 0;

	if (!rt_set_begin(&lx, text, len, out, cap)) {
		return false;
	}
	do {
		const char *name;
		size_t n;

		t = rt_lex_next(&lx);
		if (!rt_set_target(&lx, &t, &name, &n)) {
			return false;
		}
		t = rt_lex_next(&lx);
		if (!rt_tok_punct(&t, '=')) {
			return false;
		}
		v = rt_lex_next(&lx);
		if ((v.kind != RT_TOK_NUMBER && v.kind != RT_TOK_STRING && v.kind != RT_TOK_WORD) ||
		    v.intro != 0) {
			return false;
		}
		t = rt_lex_next(&lx);
		if (n <= 14 || strncasecmp(name, "session_track_", 14) != 0) {
			continue;
		}
		name += 14;
		n -= 14;
		if (v.kind == RT_TOK_STRING) {
			v.ptr++;
			v.len -= 2;
			if (memchr(v.ptr, '\\', v.len) != NULL || memchr(v.ptr, v.ptr[-1], v.len) != NULL) {
				return false; /* escapes: not worth decoding here */
			}
		}
		if (memchr(v.ptr, '\n', v.len) != NULL || at + n + v.len + 3 > cap) {
			return false;
		}
		for (size_t i = 0; i < n; i++) {
			out[at++] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
		}
		out[at++] = '=';
		memcpy(out + at, v.ptr, v.len);
		at += v.len;
		out[at++] = '\n';
		out[at] = '\0';
	} while (rt_tok_punct(&t, ','));
	return (t.kind == RT_TOK_END || rt_tok_punct(&t, ';')) && at > 0;
}

bool
rt_read_only_select(const char *text, size_t len)
{
	struct rt_lex lx;
	struct rt_tok t, prev = { 0 };

	rt_lex_init(&lx, text, len);
	t = rt_lex_next(&lx);
	while (rt_tok_punct(&t, '(')) {
		t = rt_lex_next(&lx);
	}
	if (!rt_tok_is(&t, "SELECT") && !rt_tok_is(&t, "SHOW")) {
		return false;
	}
	for (; t.kind != RT_TOK_END; prev = t, t = rt_lex_next(&lx)) {
		if (t.kind == RT_TOK_ERROR || rt_tok_punct(&t, ';') || rt_tok_is(&t, "INTO") ||
		    (rt_tok_is(&prev, "FOR") && rt_tok_is(&t, "UPDATE")) ||
		    (rt_tok_is(&prev, "LOCK") && rt_tok_is(&t, "IN"))) {
			return false;
		}
	}
	return true;
}
