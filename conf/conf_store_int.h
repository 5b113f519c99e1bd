/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_store_int.h - what the conf_store*.c files share: the store's layout, the table
 * catalogue, SQLite helpers and the context cs_build() fills. Internal to conf/.
 */
#ifndef MYSHARD_CONF_CONF_STORE_INT_H
#define MYSHARD_CONF_CONF_STORE_INT_H

#include "conf/conf_store.h"

#include "conf/conf.h"

#include <sqlite3.h>

#define CS_DENY_LEN  160 /* "changing runtime_function_values" and the like */
#define CS_WHERE_LEN 320 /* "function_ranges row (function=..., range_from=..., range_to=...)" */
#define CS_VAL_MAX   40  /* bytes of a value shown in a row's key before "..." */
#define CS_COLS_MAX  6   /* most columns a staged table has */

/* An authorizer mode: what the statement being prepared may do. */
enum cs_auth_mode {
	CS_AUTH_OPERATOR = 0, /* cs_exec(): the admin port's rules */
	CS_AUTH_RESTORE,      /* cs_restore(): INSERT into a recorded staged table, nothing else */
};

/* How much a reason to refuse a statement says; the strongest one is reported. */
enum cs_deny_level {
	CS_DENY_NONE = 0,
	CS_DENY_SCHEMA, /* touches sqlite_*: noted, and the statement refused once compiled */
	CS_DENY_TABLE,  /* a table or function operators may not use */
	CS_DENY_KIND,   /* a kind of statement the admin port refuses (PRAGMA, CREATE...) */
};

/* The store: one SQLite connection, and what the authorizer learns while cs_exec() or
 * cs_restore() compiles a statement (reset before each one). */
struct conf_store {
	sqlite3 *db;            /* owned */
	enum cs_auth_mode mode; /* while the authorizer is installed */
	bool saw_stmt;          /* the authorizer saw a SELECT/INSERT/UPDATE/DELETE at the top */
	enum cs_deny_level deny_level;
	char deny[CS_DENY_LEN]; /* why the statement is refused, "" if it is not */
	unsigned long ticks;    /* progress-handler calls in the running operator statement */
};

/* One staged table; runtime_<name> has the same columns. */
struct cs_table {
	const char *name;
	const char *ddl;               /* column definitions, in column order */
	const char *keys[CS_COLS_MAX]; /* columns identifying a row in diffs; NULL-terminated */
	const char *vals[CS_COLS_MAX]; /* the other columns; NULL-terminated */
	const char *label;             /* SQL expression naming a row in diffs */
	bool history;                  /* recorded in history and restored from it */
};

/* The staged tables in schema order; *<n> of them. */
const struct cs_table *cs_tables(size_t *n) MS_MUSTCHECK;
/* True if <name> is a staged table, and *<history> (may be NULL) says whether it is recorded. */
bool cs_is_staged(const char *name, bool *history) MS_MUSTCHECK;

/* "<fmt...>" into <err> (if <errlen> > 0); returns <rc>. Also used just to write <err>, so
 * its result may be ignored. */
enum ms_rc cs_errf(enum ms_rc rc, char *err, size_t errlen, const char *fmt, ...) MS_PRINTF(4, 5);
/* "<what>: <SQLite's message>"; MS_ENOMEM for SQLITE_NOMEM, else MS_EIO. */
enum ms_rc cs_sql_fail(struct conf_store *cs, const char *what, char *err,
		       size_t errlen) MS_MUSTCHECK;
/* Runs <sql> (no results wanted); errors as cs_sql_fail(). */
enum ms_rc cs_run(struct conf_store *cs, const char *sql, char *err, size_t errlen) MS_MUSTCHECK;
/* Prepares <sql> into *<st>; errors as cs_sql_fail(). */
enum ms_rc cs_prep(struct conf_store *cs, const char *sql, sqlite3_stmt **st, char *err,
		   size_t errlen) MS_MUSTCHECK;
/* Text of column <i> of the current row (NULL for SQL NULL) and its length in *<len>. */
const char *cs_col(sqlite3_stmt *st, int i, size_t *len) MS_MUSTCHECK;
/* BEGIN IMMEDIATE. */
enum ms_rc cs_begin(struct conf_store *cs, char *err, size_t errlen) MS_MUSTCHECK;
/* COMMIT when <rc> is MS_OK, else ROLLBACK; returns <rc>, or the COMMIT's failure. */
enum ms_rc cs_end(struct conf_store *cs, enum ms_rc rc, char *err, size_t errlen) MS_MUSTCHECK;

/* Runs <script> (cs_commit()'s SQL) under an authorizer that allows only INSERT into the
 * tables history records: a damaged or edited history row can do nothing else. */
enum ms_rc cs_replay(struct conf_store *cs, const char *script, char *err,
		     size_t errlen) MS_MUSTCHECK;

/* What cs_build() is filling, and where its message goes. */
struct cs_build {
	struct conf_store *cs; /* borrowed */
	struct conf *c;        /* borrowed; the config being built */
	char *err;             /* borrowed; caller's buffer of errlen bytes */
	size_t errlen;
};

/* "<where>: <column>: <why>" (no column part when <column> is NULL); returns MS_EINVAL. */
enum ms_rc cs_fail(struct cs_build *b, const char *where, const char *column, const char *fmt, ...)
	MS_PRINTF(4, 5) MS_MUSTCHECK;
/* SQLite failed while reading the staged tables: "staged tables: <message>". */
enum ms_rc cs_build_sql(struct cs_build *b) MS_MUSTCHECK;
/* "<table> row (<names[0]>=<vals[0]>, ...)" in <buf>; NULL values print as NULL, long ones
 * are cut, control bytes escaped. Returns <buf>. */
const char *cs_where(char *buf, size_t len, const char *table, size_t n, const char *const *names,
		     const char *const *vals);
/* Text column <i> that must be present: rejects NULL, NUL bytes and (<nonempty>) "". */
enum ms_rc cs_str(struct cs_build *b, sqlite3_stmt *st, int i, const char *where,
		  const char *column, bool nonempty, const char **s, size_t *len) MS_MUSTCHECK;
/* *<out> = the index of the shard called <name> in b->c->shards; else "unknown shard". */
enum ms_rc cs_shard_ref(struct cs_build *b, const char *where, const char *column, const char *name,
			size_t len, size_t *out) MS_MUSTCHECK;
/* Integer column <i> in <lo>..<hi>. */
enum ms_rc cs_int(struct cs_build *b, sqlite3_stmt *st, int i, const char *where,
		  const char *column, int64_t lo, int64_t hi, int64_t *out) MS_MUSTCHECK;
/* A table, schema or column name: 1..64 bytes ("" too when <empty_ok>); copied to *<dst>
 * unless it is "" (then *<dst> stays NULL). */
enum ms_rc cs_ident(struct cs_build *b, sqlite3_stmt *st, int i, const char *where,
		    const char *column, bool empty_ok, char **dst) MS_MUSTCHECK;
/* Text column <i> as one of the <n> <names>; *<out> is its index. */
enum ms_rc cs_choice(struct cs_build *b, sqlite3_stmt *st, int i, const char *where,
		     const char *column, const char *const *names, size_t n,
		     size_t *out) MS_MUSTCHECK;
/* Column <i> as the name of a shard, function or sequence ([A-Za-z0-9_-]{1,64}), copied into
 * *<dst>. */
enum ms_rc cs_name(struct cs_build *b, sqlite3_stmt *st, int i, const char *where,
		   char **dst) MS_MUSTCHECK;
/* *<n> = the count <sql> returns, with <bind> (unless NULL) as ?1. */
enum ms_rc cs_count(struct cs_build *b, const char *sql, const char *bind, size_t *n) MS_MUSTCHECK;
/* Checks and stores the current row of <st>, the <i>th of its query. */
typedef enum ms_rc cs_row_fn(struct cs_build *b, sqlite3_stmt *st, size_t i, const void *arg);
/* Calls <fn> for each row of <sql> (with <bind> as ?1 unless NULL), at most <max> of them (the
 * count taken before, in the same read transaction). */
enum ms_rc cs_rows(struct cs_build *b, const char *sql, const char *bind, size_t max, cs_row_fn *fn,
		   const void *arg) MS_MUSTCHECK;
/* Reads functions, function_ranges and function_values into b->c->map.funcs. */
enum ms_rc cs_build_funcs(struct cs_build *b) MS_MUSTCHECK;

#endif /* MYSHARD_CONF_CONF_STORE_INT_H */
