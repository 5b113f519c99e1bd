/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_tx.h - recognizes the statements that control a transaction (BEGIN, START
 * TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, ROLLBACK TO, RELEASE SAVEPOINT, SET autocommit) so
 * the proxy can run transactions itself across shards. Pure.
 */
#ifndef MYSHARD_ROUTER_RT_TX_H
#define MYSHARD_ROUTER_RT_TX_H

#include "common/ms_base.h"

enum rt_tx_kind {
	RT_TX_NONE = 0,     /* not a transaction-control statement (or not exactly one) */
	RT_TX_BEGIN,        /* BEGIN [WORK] / START TRANSACTION [modes] */
	RT_TX_COMMIT,       /* COMMIT [WORK] [AND NO CHAIN] [NO RELEASE] */
	RT_TX_ROLLBACK,     /* ROLLBACK [WORK] [AND NO CHAIN] [NO RELEASE] */
	RT_TX_SAVEPOINT,    /* SAVEPOINT name */
	RT_TX_ROLLBACK_TO,  /* ROLLBACK [WORK] TO [SAVEPOINT] name */
	RT_TX_RELEASE,      /* RELEASE SAVEPOINT name */
	RT_TX_AUTOCOMMIT,   /* SET [SESSION|LOCAL|@@[session.]]autocommit = 0|1|ON|OFF|TRUE|FALSE */
	RT_TX_UNSUPPORTED,  /* AND CHAIN, RELEASE: understood but not offered (msg says why) */
	RT_TX_READ_AUTOCOMMIT, /* SELECT @@[session.|local.]autocommit (name: the column name) */
};

enum rt_tx_mode {
	RT_TXM_READ_ONLY = 1u << 0,
	RT_TXM_READ_WRITE = 1u << 1,
	RT_TXM_SNAPSHOT = 1u << 2, /* WITH CONSISTENT SNAPSHOT */
};

struct rt_tx {
	enum rt_tx_kind kind;
	unsigned int modes;   /* RT_TX_BEGIN: enum rt_tx_mode bits */
	bool autocommit;      /* RT_TX_AUTOCOMMIT: the new value */
	char name[65];        /* savepoint name as written, without backticks; READ_AUTOCOMMIT: the
				 variable as written (the server's column name) */
	const char *why;      /* RT_TX_UNSUPPORTED: static text */
};

/* Recognizes <len> bytes of SQL <text> (one statement, an optional trailing ';'). Never fails:
 * anything it does not recognize exactly is RT_TX_NONE. */
void rt_tx_parse(const char *text, size_t len, struct rt_tx *out);

/* One statement of a multi-statement text: bytes [off, off + len). */
struct rt_span {
	size_t off;
	size_t len;
};

/*
 * Splits <text> at its top-level semicolons into at most <cap> statements (empty ones, such as
 * after a final ';', are left out). Returns how many, or 0 if it must not be split: a compound
 * statement whose body holds semicolons (CREATE PROCEDURE / FUNCTION / TRIGGER / EVENT,
 * BEGIN NOT ATOMIC, IF / CASE / LOOP / WHILE / REPEAT blocks), an unterminated token, or
 * more than <cap> statements.
 */
size_t rt_split(const char *text, size_t len, struct rt_span *out, size_t cap) MS_MUSTCHECK;

/* True if the statement is a SELECT, DO or SET that reads no table: no FROM, no INTO (nor
 * user variables, but for SET), no subquery and no function other than a few built-ins (a
 * stored function could read tables). With autocommit off such a statement starts no
 * transaction on a server, and none in myshard. */
bool rt_tx_tableless(const char *text, size_t len) MS_MUSTCHECK;

/* True if <text> is one SELECT (or SHOW) that a read replica may answer: no INTO, no
 * FOR UPDATE, no LOCK IN SHARE MODE, no second statement. */
bool rt_read_only_select(const char *text, size_t len) MS_MUSTCHECK;

/* True if the statement commits an open transaction first on a server (DDL, LOCK TABLES,
 * GRANT, FLUSH, ...; CREATE/DROP TEMPORARY TABLE do not). */
bool rt_tx_implicit_commit(const char *text, size_t len) MS_MUSTCHECK;

/*
 * If <text> is exactly one `SET [SESSION | LOCAL] var = value [, ...]` (also `@@var`,
 * `@@session.var`) of system variables, writes the assignments to <out> as "name=value\n"
 * lines, names lower-cased without @@/session., and returns true. A value is a literal as
 * written (numbers, 'strings', words such as ON or DEFAULT), or an expression of literals and
 * a few string functions (CONCAT, REPLACE, IF, ...) that may read the variable itself, written
 * as "(expr)" with @@var turned into @@global.var (replayable only where the session had not
 * set the variable before: the caller checks). An autocommit assignment is not a line: its
 * value goes to *<autocommit> (-1: none). Anything else (user variables, GLOBAL, NAMES,
 * CHARACTER SET, TRANSACTION, other expressions, more than <cap> bytes): false. The proxy
 * replays such SETs on every connection the session uses instead of pinning.
 */
bool rt_set_vars(const char *text, size_t len, char *out, size_t cap, int *autocommit) MS_MUSTCHECK;
/* True if session variable <name> may be replayed on other connections (not a variable with
 * syntax of its own, one myshard keeps itself, one used up by the next statement, or one
 * about replication or the connection's identity). */
bool rt_set_name_replayable(const char *name, size_t n) MS_MUSTCHECK;
/*
 * True if <text> is one SET of session system variables (values of any kind: expressions too,
 * but no user variables and no subqueries) that the backends' session tracking reports in
 * full: it may run on any connection, and what it changed is learned from the OK packet.
 * Not: NAMES, CHARACTER SET, TRANSACTION, PASSWORD, ROLE, DEFAULT ROLE, STATEMENT ... FOR,
 * GLOBAL, autocommit.
 */
bool rt_set_trackable(const char *text, size_t len) MS_MUSTCHECK;

/*
 * If <text> is one `SET [SESSION | LOCAL] var = literal [, ...]` (also `@@var`,
 * `@@session.var`) that assigns session_track_* variables, writes those assignments to <out>
 * as "name=value\n" lines (name lower-case without "session_track_", value unquoted) and
 * returns true. False for any other statement or any value that is not one plain literal.
 */
bool rt_set_track(const char *text, size_t len, char *out, size_t cap) MS_MUSTCHECK;

/* KILL [HARD | SOFT] [CONNECTION | QUERY] <id>: returns 1 with *<query> (QUERY) and *<id> set;
 * -1 for the KILL forms myshard does not offer (QUERY ID, USER, an id that is no number);
 * 0 when the text is not one KILL statement. */
int rt_kill_parse(const char *text, size_t len, bool *query, uint64_t *id) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_TX_H */
