/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_store.c - the store's lifetime (open, schema, close), the SQLite helpers the other
 * conf_store_*.c files share, and cs_exec(): one operator statement, prepared under an
 * authorizer that lets through reads of our tables, writes to the staged ones and
 * side-effect-free functions, and nothing else.
 */
#include "conf/conf_store_int.h"

#include "common/ms_sha1.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CS_SCHEMA_VERSION 2
#define CS_MAX_LENGTH     (16 << 20) /* largest string or blob a statement may build */
#define CS_TICK_OPS       1000       /* VM operations between progress-handler calls */
#define CS_TICKS_MAX      20000ul    /* => 20 million VM operations per operator statement */

/* clang-format off */
static const struct cs_table cs_table_list[] = {
	{ "shards",
	  "name TEXT PRIMARY KEY NOT NULL, user TEXT NOT NULL, password TEXT NOT NULL DEFAULT ''",
	  { "name" }, { "user", "password" }, "name", true },
	{ "endpoints",
	  "shard TEXT NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL DEFAULT 3306, "
	  "role TEXT NOT NULL DEFAULT 'primary', weight INTEGER NOT NULL DEFAULT 1, "
	  "state TEXT NOT NULL DEFAULT 'up', PRIMARY KEY (shard, host, port)",
	  { "shard", "host", "port" }, { "role", "weight", "state" },
	  "shard || ' ' || host || ':' || port", true },
	{ "functions",
	  "name TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, key_type TEXT NOT NULL, "
	  "collation TEXT",
	  { "name" }, { "kind", "key_type", "collation" }, "name", true },
	{ "function_ranges",
	  "function TEXT NOT NULL, keyspace TEXT, range_from TEXT, range_to TEXT, "
	  "shard TEXT NOT NULL",
	  { "function", "keyspace", "range_from", "range_to" }, { "shard" },
	  "function || ' ' || coalesce(keyspace, "
	  "coalesce(range_from, '') || '..' || coalesce(range_to, ''))", true },
	{ "function_values",
	  "function TEXT NOT NULL, value TEXT NOT NULL, shard TEXT NOT NULL, "
	  "PRIMARY KEY (function, value)",
	  { "function", "value" }, { "shard" }, "function || ' ' || value", true },
	{ "sharded_tables",
	  "schema_name TEXT NOT NULL DEFAULT '', name TEXT NOT NULL, key_column TEXT NOT NULL, "
	  "function TEXT NOT NULL, sequence TEXT, PRIMARY KEY (schema_name, name)",
	  { "schema_name", "name" }, { "key_column", "function", "sequence" },
	  "CASE schema_name WHEN '' THEN name ELSE schema_name || '.' || name END", true },
	{ "global_tables",
	  "schema_name TEXT NOT NULL DEFAULT '', name TEXT NOT NULL, "
	  "PRIMARY KEY (schema_name, name)",
	  { "schema_name", "name" }, { NULL },
	  "CASE schema_name WHEN '' THEN name ELSE schema_name || '.' || name END", true },
	{ "sequences",
	  "name TEXT PRIMARY KEY NOT NULL, shard TEXT, block INTEGER NOT NULL DEFAULT 1000",
	  { "name" }, { "shard", "block" }, "name", true },
	{ "users",
	  "name TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL, "
	  "require_ssl INTEGER NOT NULL DEFAULT 0",
	  { "name" }, { "password_hash", "require_ssl" }, "name", true },
	{ "admin_users",
	  "name TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL",
	  { "name" }, { "password_hash" }, "name", false },
	{ "settings",
	  "name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL",
	  { "name" }, { "value" }, "name", true },
};
/* clang-format on */

#define CS_HISTORY_DDL                                                                             \
	"CREATE TABLE IF NOT EXISTS history (version INTEGER PRIMARY KEY, applied_at TEXT NOT "    \
	"NULL, admin_user TEXT NOT NULL, summary TEXT NOT NULL, config TEXT NOT NULL) STRICT"

/*
 * Built-in functions an operator statement may call: they only compute a value. Left out on
 * purpose: load_extension (code), randomblob/zeroblob (memory), sqlite_* internals, and
 * anything not listed (an extension's function, unknown to this list, stays refused).
 */
/* clang-format off */
static const char *const cs_safe_funcs[] = {
	"abs", "avg", "ceil", "ceiling", "changes", "char", "coalesce", "concat", "concat_ws",
	"count", "cume_dist", "date", "datetime", "dense_rank", "exp", "first_value", "floor",
	"format", "glob", "group_concat", "hex", "ifnull", "iif", "instr", "json", "json_array",
	"json_array_length", "json_extract", "json_group_array", "json_group_object", "json_object",
	"json_quote", "json_type", "json_valid", "julianday", "lag", "last_insert_rowid",
	"last_value", "lead", "length", "like", "likelihood", "likely", "ln", "log", "log10", "log2",
	"lower", "ltrim", "max", "min", "mod", "nth_value", "ntile", "nullif", "octet_length",
	"percent_rank", "pi", "pow", "power", "printf", "quote", "random", "rank", "replace",
	"round", "row_number", "rtrim", "sign", "sqrt", "strftime", "string_agg", "substr",
	"substring", "sum", "time", "total", "total_changes", "trim", "trunc", "typeof", "unhex",
	"unicode", "unixepoch", "unlikely", "upper",
};
/* clang-format on */

const struct cs_table *
cs_tables(size_t *n)
{
	*n = MS_ARRAY_LEN(cs_table_list);
	return cs_table_list;
}

bool
cs_is_staged(const char *name, bool *history)
{
	for (size_t i = 0; name != NULL && i < MS_ARRAY_LEN(cs_table_list); i++) {
		if (strcmp(cs_table_list[i].name, name) == 0) {
			if (history != NULL) {
				*history = cs_table_list[i].history;
			}
			return true;
		}
	}
	return false;
}

/* A table operators may read: a staged one, its runtime_ twin, or history. */
static bool
cs_is_readable(const char *name)
{
	if (name == NULL) {
		return false;
	}
	if (strcmp(name, "history") == 0) {
		return true;
	}
	if (strncmp(name, "runtime_", 8) == 0) {
		name += 8;
	}
	return cs_is_staged(name, NULL);
}

enum ms_rc
cs_errf(enum ms_rc rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* The ms_rc for SQLite result <code>: NOMEM, file trouble, or anything else (bad input). */
static enum ms_rc
cs_rc_of(int code)
{
	switch (code & 0xff) {
	case SQLITE_NOMEM:
		return MS_ENOMEM;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return MS_EIO;
	default:
		return MS_EINVAL;
	}
}

enum ms_rc
cs_sql_fail(struct conf_store *cs, const char *what, char *err, size_t errlen)
{
	enum ms_rc rc = cs_rc_of(sqlite3_errcode(cs->db));

	cs_errf(MS_OK, err, errlen, "%s: %s", what, sqlite3_errmsg(cs->db));
	return rc == MS_ENOMEM ? MS_ENOMEM : MS_EIO;
}

enum ms_rc
cs_run(struct conf_store *cs, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(cs->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		return cs_sql_fail(cs, "conf store", err, errlen);
	}
	return MS_OK;
}

enum ms_rc
cs_prep(struct conf_store *cs, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	*st = NULL;
	if (sqlite3_prepare_v2(cs->db, sql, -1, st, NULL) != SQLITE_OK) {
		return cs_sql_fail(cs, "conf store", err, errlen);
	}
	return MS_OK;
}

const char *
cs_col(sqlite3_stmt *st, int i, size_t *len)
{
	const char *s;

	*len = 0;
	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		return NULL;
	}
	s = (const char *)sqlite3_column_text(st, i);
	*len = (size_t)sqlite3_column_bytes(st, i);
	return s;
}

enum ms_rc
cs_begin(struct conf_store *cs, char *err, size_t errlen)
{
	return cs_run(cs, "BEGIN IMMEDIATE", err, errlen);
}

enum ms_rc
cs_end(struct conf_store *cs, enum ms_rc rc, char *err, size_t errlen)
{
	if (rc != MS_OK) {
		(void)sqlite3_exec(cs->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	rc = cs_run(cs, "COMMIT", err, errlen);
	if (rc != MS_OK && !sqlite3_get_autocommit(cs->db)) {
		(void)sqlite3_exec(cs->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

/* Refuses a database written by a newer schema; stamps a new one. */
static enum ms_rc
cs_schema_version(struct conf_store *cs, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 v = 0;
	enum ms_rc rc;

	rc = cs_prep(cs, "PRAGMA user_version", &st, err, errlen);
	if (rc == MS_OK && sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int64(st, 0);
	} else if (rc == MS_OK) {
		rc = cs_sql_fail(cs, path, err, errlen);
	}
	sqlite3_finalize(st);
	if (rc == MS_OK && v > CS_SCHEMA_VERSION) {
		return cs_errf(MS_EIO, err, errlen, "%s: schema version %lld is newer than %d",
			       path, (long long)v, CS_SCHEMA_VERSION);
	}
	if (rc == MS_OK && v < CS_SCHEMA_VERSION) {
		rc = cs_run(cs, "PRAGMA user_version = 2", err, errlen);
	}
	return rc;
}

/* CREATE TABLE IF NOT EXISTS <prefix><t->name>. */
static enum ms_rc
cs_create(struct conf_store *cs, const char *prefix, const struct cs_table *t, char *err,
	  size_t errlen)
{
	char *sql;
	enum ms_rc rc;

	sql = sqlite3_mprintf("CREATE TABLE IF NOT EXISTS %s%s (%s) STRICT", prefix, t->name,
			      t->ddl);
	if (sql == NULL) {
		return cs_errf(MS_ENOMEM, err, errlen, "conf store: out of memory");
	}
	rc = cs_run(cs, sql, err, errlen);
	sqlite3_free(sql);
	return rc;
}

static enum ms_rc
cs_schema(struct conf_store *cs, const char *path, char *err, size_t errlen)
{
	enum ms_rc rc;

	if (sqlite3_exec(cs->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		return cs_sql_fail(cs, path, err, errlen); /* "file is not a database" lands here */
	}
	rc = cs_schema_version(cs, path, err, errlen);
	for (size_t i = 0; rc == MS_OK && i < MS_ARRAY_LEN(cs_table_list); i++) {
		rc = cs_create(cs, "", &cs_table_list[i], err, errlen);
		if (rc == MS_OK) {
			rc = cs_create(cs, "runtime_", &cs_table_list[i], err, errlen);
		}
	}
	if (rc == MS_OK) {
		rc = cs_run(cs, CS_HISTORY_DDL, err, errlen);
	}
	/* schema 1 -> 2: users gained require_ssl (an older store's tables lack it) */
	for (int i = 0; rc == MS_OK && i < 2; i++) {
		static const char *const t[] = { "users", "runtime_users" };
		char sql[128];
		sqlite3_stmt *st = NULL;

		snprintf(sql, sizeof(sql), "SELECT require_ssl FROM %s LIMIT 0", t[i]);
		if (sqlite3_prepare_v2(cs->db, sql, -1, &st, NULL) == SQLITE_OK) {
			sqlite3_finalize(st);
			continue;
		}
		sqlite3_finalize(st);
		snprintf(sql, sizeof(sql),
			 "ALTER TABLE %s ADD COLUMN require_ssl INTEGER NOT NULL DEFAULT 0", t[i]);
		rc = cs_run(cs, sql, err, errlen);
	}
	return cs_end(cs, rc, err, errlen);
}

/* Takes away what an operator statement could use to reach outside the tables. */
static void
cs_harden(sqlite3 *db)
{
	(void)sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	(void)sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	(void)sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	(void)sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	(void)sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	(void)sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	(void)sqlite3_limit(db, SQLITE_LIMIT_LENGTH, CS_MAX_LENGTH);
}

enum ms_rc
cs_open(const char *path, struct conf_store **out, char *err, size_t errlen)
{
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	struct conf_store *cs;
	enum ms_rc rc;

	*out = NULL;
	cs = calloc(1, sizeof(*cs));
	if (cs == NULL) {
		return cs_errf(MS_ENOMEM, err, errlen, "%s: out of memory", path);
	}
	if (sqlite3_open_v2(path, &cs->db, flags, NULL) != SQLITE_OK) {
		rc = cs->db == NULL ? cs_errf(MS_ENOMEM, err, errlen, "%s: out of memory", path)
				    : cs_sql_fail(cs, path, err, errlen);
		cs_close(cs);
		return rc;
	}
	cs_harden(cs->db);
	rc = cs_schema(cs, path, err, errlen);
	if (rc != MS_OK) {
		cs_close(cs);
		return rc;
	}
	*out = cs;
	return MS_OK;
}

/* <src> (the file at <path>) must be a database with a schema this code knows. */
static enum ms_rc
cs_load_check(sqlite3 *src, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 v = -1;

	if (sqlite3_prepare_v2(src, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (v < 0) {
		return cs_errf(cs_rc_of(sqlite3_errcode(src)) == MS_ENOMEM ? MS_ENOMEM : MS_EIO,
			       err, errlen, "%s: %s", path, sqlite3_errmsg(src));
	}
	if (v > CS_SCHEMA_VERSION) {
		return cs_errf(MS_EIO, err, errlen, "%s: schema version %lld is newer than %d",
			       path, (long long)v, CS_SCHEMA_VERSION);
	}
	return MS_OK;
}

enum ms_rc
cs_load(struct conf_store *cs, const char *path, char *err, size_t errlen)
{
	sqlite3 *src = NULL;
	sqlite3_backup *bk;
	enum ms_rc rc;
	int code;

	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = cs_errf(src == NULL ? MS_ENOMEM : MS_EIO, err, errlen, "%s: %s", path,
			     src == NULL ? "out of memory" : sqlite3_errmsg(src));
		sqlite3_close(src);
		return rc;
	}
	rc = cs_load_check(src, path, err, errlen);
	bk = rc == MS_OK ? sqlite3_backup_init(cs->db, "main", src, "main") : NULL;
	if (rc == MS_OK && bk == NULL) {
		rc = cs_sql_fail(cs, path, err, errlen);
	}
	if (bk != NULL) { /* one step copies everything, or rolls the copy back */
		code = sqlite3_backup_step(bk, -1);
		code = sqlite3_backup_finish(bk) == SQLITE_OK ? code : sqlite3_errcode(cs->db);
		rc = code == SQLITE_DONE || code == SQLITE_OK
			     ? MS_OK
			     : cs_errf(cs_rc_of(code) == MS_ENOMEM ? MS_ENOMEM : MS_EIO, err,
				       errlen, "%s: %s", path, sqlite3_errstr(code));
	}
	sqlite3_close(src);
	return rc == MS_OK ? cs_schema(cs, path, err, errlen) : rc; /* tables it lacks */
}

void
cs_close(struct conf_store *cs)
{
	if (cs == NULL) {
		return;
	}
	sqlite3_close(cs->db); /* every statement is finalized by the function that made it */
	free(cs);
}

enum ms_rc
cs_latest_version(struct conf_store *cs, uint64_t *out)
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;

	*out = 0;
	rc = cs_prep(cs, "SELECT coalesce(max(version), 0) FROM history", &st, NULL, 0);
	if (rc == MS_OK && sqlite3_step(st) == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	} else if (rc == MS_OK) {
		rc = cs_rc_of(sqlite3_errcode(cs->db)) == MS_ENOMEM ? MS_ENOMEM : MS_EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

void
cs_native_hash(const char *password, char out[CS_NATIVE_HASH_SIZE])
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t stage1[MS_SHA1_LEN], stage2[MS_SHA1_LEN];

	out[0] = '\0';
	if (password[0] == '\0') {
		return; /* the empty password has no hash form, as in the YAML */
	}
	ms_sha1(password, strlen(password), stage1);
	ms_sha1(stage1, sizeof(stage1), stage2);
	explicit_bzero(stage1, sizeof(stage1)); /* SHA1(password) alone is enough to log in */
	out[0] = '*';
	for (size_t i = 0; i < MS_SHA1_LEN; i++) {
		out[1 + 2 * i] = hex[stage2[i] >> 4];
		out[2 + 2 * i] = hex[stage2[i] & 0xf];
	}
	out[1 + 2 * MS_SHA1_LEN] = '\0';
}

/*
 * Records why the statement is refused; a stronger reason replaces a weaker one. SQLite's own
 * tables are only noted (CS_DENY_SCHEMA, and the statement is allowed to compile on): CREATE
 * and table-valued functions touch sqlite_master before the callback that says what they are,
 * and that later one makes the better message. cs_exec() refuses any statement with a reason.
 */
static int
cs_deny(struct conf_store *cs, enum cs_deny_level level, const char *what, const char *name)
{
	if (level > cs->deny_level) {
		snprintf(cs->deny, sizeof(cs->deny), "%s%s", what, name != NULL ? name : "");
		cs->deny_level = level;
	}
	return level == CS_DENY_SCHEMA ? SQLITE_OK : SQLITE_DENY;
}

/* The level for touching table <name>: SQLite's own, or one of ours. */
static enum cs_deny_level
cs_table_level(const char *name)
{
	return name != NULL && strncmp(name, "sqlite_", 7) == 0 ? CS_DENY_SCHEMA : CS_DENY_TABLE;
}

/* Statement kinds the admin port refuses, by authorizer action code. */
static const char *
cs_auth_what(int code)
{
	switch (code) {
	case SQLITE_PRAGMA:
		return "PRAGMA";
	case SQLITE_ATTACH:
		return "ATTACH";
	case SQLITE_DETACH:
		return "DETACH";
	case SQLITE_TRANSACTION:
		return "BEGIN, COMMIT and ROLLBACK (each statement is its own transaction)";
	case SQLITE_SAVEPOINT:
		return "SAVEPOINT and RELEASE (each statement is its own transaction)";
	case SQLITE_ALTER_TABLE:
		return "ALTER TABLE";
	case SQLITE_REINDEX:
		return "REINDEX";
	case SQLITE_ANALYZE:
		return "ANALYZE";
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TEMP_INDEX:
	case SQLITE_DROP_TEMP_TABLE:
	case SQLITE_DROP_TEMP_TRIGGER:
	case SQLITE_DROP_TEMP_VIEW:
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_VIEW:
	case SQLITE_DROP_VTABLE:
		return "DROP";
	default: /* the CREATE_* codes */
		return code <= SQLITE_CREATE_VIEW || code == SQLITE_CREATE_VTABLE
			       ? "CREATE"
			       : "this statement";
	}
}

static int
cs_auth_func(struct conf_store *cs, const char *name)
{
	for (size_t i = 0; name != NULL && i < MS_ARRAY_LEN(cs_safe_funcs); i++) {
		if (strcasecmp(name, cs_safe_funcs[i]) == 0) {
			return SQLITE_OK;
		}
	}
	return cs_deny(cs, CS_DENY_TABLE, "function ", name);
}

static int
cs_auth_write(struct conf_store *cs, const char *table)
{
	if (!cs_is_staged(table, NULL)) {
		return cs_deny(cs, cs_table_level(table), "changing ",
			       table); /* runtime_*, history */
	}
	cs->saw_stmt = true;
	return SQLITE_OK;
}

/* cs_restore() replays INSERT statements it wrote itself, but a damaged (or edited) history
 * row must not get to do anything else. */
static int
cs_auth_restore(struct conf_store *cs, int code, const char *table)
{
	bool history = false;

	if (code == SQLITE_INSERT && cs_is_staged(table, &history) && history) {
		cs->saw_stmt = true;
		return SQLITE_OK;
	}
	return cs_deny(cs, CS_DENY_KIND, "not an INSERT into a recorded table", NULL);
}

static int
cs_auth(void *arg, int code, const char *a1, const char *a2, const char *db, const char *trigger)
{
	struct conf_store *cs = arg;

	(void)db;
	(void)trigger;
	if (cs->mode == CS_AUTH_RESTORE) {
		return cs_auth_restore(cs, code, a1);
	}
	switch (code) {
	case SQLITE_SELECT:
		cs->saw_stmt = true;
		return SQLITE_OK;
	case SQLITE_RECURSIVE: /* WITH RECURSIVE: bounded by the progress handler */
		return SQLITE_OK;
	case SQLITE_READ:
		if (a1 != NULL && strncmp(a1, "pragma_", 7) == 0) {
			return cs_deny(cs, CS_DENY_KIND, "PRAGMA", NULL); /* pragma_table_info() */
		}
		if (a2 != NULL && a2[0] == '\0') { /* count(*): no value read; <a1> may be a CTE */
			return SQLITE_OK;
		}
		return cs_is_readable(a1) ? SQLITE_OK
					  : cs_deny(cs, cs_table_level(a1), "reading ", a1);
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
		return cs_auth_write(cs, a1);
	case SQLITE_FUNCTION:
		return cs_auth_func(cs, a2);
	case SQLITE_CREATE_TABLE: /* ANALYZE first creates its sqlite_stat1 table */
		return cs_deny(cs, CS_DENY_KIND,
			       a1 != NULL && strncmp(a1, "sqlite_stat", 11) == 0 ? "ANALYZE"
										 : "CREATE",
			       NULL);
	default:
		return cs_deny(cs, CS_DENY_KIND, cs_auth_what(code), NULL);
	}
}

static int
cs_tick(void *arg)
{
	struct conf_store *cs = arg;

	return ++cs->ticks > CS_TICKS_MAX;
}

/* Installs (<on>) or removes the authorizer in <mode> and, for operators, the step budget. */
static void
cs_guard(struct conf_store *cs, bool on, enum cs_auth_mode mode)
{
	cs->mode = mode;
	cs->saw_stmt = false;
	cs->deny[0] = '\0';
	cs->deny_level = CS_DENY_NONE;
	cs->ticks = 0;
	sqlite3_set_authorizer(cs->db, on ? cs_auth : NULL, on ? cs : NULL);
	if (mode == CS_AUTH_OPERATOR) {
		sqlite3_progress_handler(cs->db, on ? CS_TICK_OPS : 0, on ? cs_tick : NULL,
					 on ? cs : NULL);
	}
}

/* The message for SQLite result <code> of an operator statement. */
static enum ms_rc
cs_exec_fail(struct conf_store *cs, int code, char *err, size_t errlen)
{
	if (cs->deny[0] != '\0') {
		return cs_errf(MS_EINVAL, err, errlen, "not allowed on the admin port: %s",
			       cs->deny);
	}
	if (code == SQLITE_INTERRUPT && cs->ticks > CS_TICKS_MAX) {
		return cs_errf(MS_EINVAL, err, errlen,
			       "staged tables: statement stopped: it ran too long");
	}
	return cs_errf(cs_rc_of(code), err, errlen, "staged tables: %s", sqlite3_errmsg(cs->db));
}

/* Anything but whitespace, comments and ';' after the first statement is refused. */
static enum ms_rc
cs_exec_tail(struct conf_store *cs, const char *tail, const char *end, char *err, size_t errlen)
{
	sqlite3_stmt *next = NULL;
	int code;

	if (tail == NULL || tail >= end) {
		return MS_OK;
	}
	code = sqlite3_prepare_v2(cs->db, tail, (int)(end - tail), &next, NULL);
	sqlite3_finalize(next);
	if (code == SQLITE_OK && next == NULL) {
		return MS_OK;
	}
	return cs_errf(MS_EINVAL, err, errlen,
		       "staged tables: one statement at a time (there is more after the first)");
}

static enum ms_rc
cs_exec_prepare(struct conf_store *cs, const char *sql, size_t len, sqlite3_stmt **st, char *err,
		size_t errlen)
{
	const char *tail = NULL;
	int code;

	*st = NULL;
	if (len > INT_MAX || memchr(sql, '\0', len) != NULL) {
		return cs_errf(MS_EINVAL, err, errlen, "staged tables: %s",
			       len > INT_MAX ? "statement too long" : "NUL byte in the statement");
	}
	code = sqlite3_prepare_v2(cs->db, sql, (int)len, st, &tail);
	if (code != SQLITE_OK) {
		return cs_exec_fail(cs, code, err, errlen);
	}
	if (*st == NULL) {
		return cs_errf(MS_EINVAL, err, errlen, "staged tables: empty statement");
	}
	if (cs->deny[0] != '\0') { /* noted, not refused, while it compiled */
		return cs_exec_fail(cs, SQLITE_AUTH, err, errlen);
	}
	if (!cs->saw_stmt) { /* VACUUM and the like get past the authorizer's action codes */
		return cs_errf(MS_EINVAL, err, errlen,
			       "not allowed on the admin port: only SELECT, INSERT, UPDATE and "
			       "DELETE statements");
	}
	return cs_exec_tail(cs, tail, sql + len, err, errlen);
}

/* Hands each row of <st> to <cb>; <vals>/<lens> have room for every column. */
static enum ms_rc
cs_exec_rows(struct conf_store *cs, sqlite3_stmt *st, const struct cs_exec_cb *cb, void *arg,
	     const char **vals, size_t *lens, char *err, size_t errlen)
{
	int n = sqlite3_column_count(st), code = SQLITE_DONE;
	enum ms_rc rc = MS_OK;

	for (int i = 0; i < n; i++) {
		vals[i] = sqlite3_column_name(st, i);
		if (vals[i] == NULL) {
			return cs_errf(MS_ENOMEM, err, errlen, "staged tables: out of memory");
		}
	}
	if (cb->columns != NULL) {
		rc = cb->columns(arg, (size_t)n, vals);
	}
	while (rc == MS_OK && (code = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++) {
			vals[i] = cs_col(st, i, &lens[i]);
			if (vals[i] == NULL && sqlite3_column_type(st, i) != SQLITE_NULL) {
				return cs_errf(MS_ENOMEM, err, errlen,
					       "staged tables: out of memory");
			}
		}
		rc = cb->row != NULL ? cb->row(arg, (size_t)n, vals, lens) : MS_OK;
	}
	if (rc != MS_OK) {
		return cs_errf(rc, err, errlen, "staged tables: statement stopped by the caller");
	}
	return code == SQLITE_DONE ? MS_OK : cs_exec_fail(cs, code, err, errlen);
}

static enum ms_rc
cs_exec_write(struct conf_store *cs, sqlite3_stmt *st, const struct cs_exec_cb *cb, void *arg,
	      char *err, size_t errlen)
{
	int code;

	while ((code = sqlite3_step(st)) == SQLITE_ROW) {
	}
	if (code != SQLITE_DONE) {
		return cs_exec_fail(cs, code, err, errlen);
	}
	return cb->done != NULL ? cb->done(arg, (uint64_t)sqlite3_changes64(cs->db)) : MS_OK;
}

static enum ms_rc
cs_exec_run(struct conf_store *cs, sqlite3_stmt *st, const struct cs_exec_cb *cb, void *arg,
	    char *err, size_t errlen)
{
	size_t n = (size_t)sqlite3_column_count(st);
	const char **vals;
	size_t *lens;
	enum ms_rc rc;

	if (n == 0) {
		return cs_exec_write(cs, st, cb, arg, err, errlen);
	}
	vals = calloc(n, sizeof(*vals));
	lens = calloc(n, sizeof(*lens));
	if (vals == NULL || lens == NULL) {
		rc = cs_errf(MS_ENOMEM, err, errlen, "staged tables: out of memory");
	} else {
		rc = cs_exec_rows(cs, st, cb, arg, vals, lens, err, errlen);
	}
	free(vals);
	free(lens);
	return rc;
}

enum ms_rc
cs_exec(struct conf_store *cs, const char *sql, size_t len, const struct cs_exec_cb *cb, void *arg,
	char *err, size_t errlen)
{
	static const struct cs_exec_cb none = { 0 };
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;

	cs_errf(MS_OK, err, errlen, "%s", "");
	cs_guard(cs, true, CS_AUTH_OPERATOR);
	rc = cs_exec_prepare(cs, sql, len, &st, err, errlen);
	if (rc == MS_OK) {
		rc = cs_exec_run(cs, st, cb != NULL ? cb : &none, arg, err, errlen);
	}
	sqlite3_finalize(st);
	cs_guard(cs, false, CS_AUTH_OPERATOR);
	return rc;
}

enum ms_rc
cs_replay(struct conf_store *cs, const char *script, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc = MS_OK;
	int code = SQLITE_OK;

	cs_guard(cs, true, CS_AUTH_RESTORE);
	while (rc == MS_OK && script != NULL && *script != '\0') {
		cs->saw_stmt = false;
		code = sqlite3_prepare_v2(cs->db, script, -1, &st, &script);
		if (code == SQLITE_OK && st != NULL && !cs->saw_stmt) {
			code = SQLITE_AUTH;
		}
		if (code == SQLITE_OK && st != NULL) {
			code = sqlite3_step(st);
			code = code == SQLITE_DONE ? SQLITE_OK : code;
		}
		sqlite3_finalize(st);
		st = NULL;
		if (code != SQLITE_OK) {
			rc = cs_errf(cs_rc_of(code) == MS_ENOMEM ? MS_ENOMEM : MS_EINVAL, err,
				     errlen, "history: recorded config is damaged: %s",
				     cs->deny[0] != '\0' ? cs->deny : sqlite3_errmsg(cs->db));
		}
	}
	cs_guard(cs, false, CS_AUTH_RESTORE);
	return rc;
}

enum ms_rc
cs_admin_user(struct conf_store *cs, const char *name, char hash[CS_NATIVE_HASH_SIZE])
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc = MS_EINVAL;
	const char *v;
	size_t len;

	hash[0] = '\0';
	if (cs_prep(cs, "SELECT password_hash FROM runtime_admin_users WHERE name = ?1", &st, NULL,
		    0) != MS_OK) {
		return MS_EIO;
	}
	if (sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		v = cs_col(st, 0, &len);
		if (v != NULL && len < CS_NATIVE_HASH_SIZE) {
			memcpy(hash, v, len);
			hash[len] = '\0';
			rc = MS_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

enum ms_rc
cs_stage_keep(struct conf_store *cs, char *err, size_t errlen)
{
	size_t n;
	const struct cs_table *t = cs_tables(&n);
	char sql[256];
	enum ms_rc rc = MS_OK;

	for (size_t i = 0; rc == MS_OK && i < n; i++) {
		snprintf(sql, sizeof(sql),
			 "DROP TABLE IF EXISTS temp.keep_%s; "
			 "CREATE TEMP TABLE keep_%s AS SELECT * FROM main.%s ORDER BY rowid",
			 t[i].name, t[i].name, t[i].name);
		rc = cs_run(cs, sql, err, errlen);
	}
	return rc;
}

enum ms_rc
cs_stage_back(struct conf_store *cs, char *err, size_t errlen)
{
	size_t n;
	const struct cs_table *t = cs_tables(&n);
	char sql[256];
	enum ms_rc rc = cs_begin(cs, err, errlen);

	for (size_t i = 0; rc == MS_OK && i < n; i++) {
		snprintf(sql, sizeof(sql),
			 "DELETE FROM main.%s; INSERT INTO main.%s SELECT * FROM temp.keep_%s "
			 "ORDER BY rowid",
			 t[i].name, t[i].name, t[i].name);
		rc = cs_run(cs, sql, err, errlen);
	}
	return cs_end(cs, rc, err, errlen);
}
