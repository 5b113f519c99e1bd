/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_store.h - the operator's configuration, kept in an embedded SQLite database. Edits
 * made through the admin SQL port land in the staged tables and change nothing live; cs_build()
 * checks all of them together and turns them into a struct conf, and cs_commit() records that
 * the result went live (runtime_* tables, history). Pure storage and validation: no sockets,
 * no threads. A store is used by one thread at a time (the admin thread).
 *
 * Staged tables (operators may SELECT, INSERT, UPDATE, DELETE): shards, endpoints, functions,
 * function_ranges, function_values, sharded_tables, global_tables, sequences, users,
 * admin_users, settings. Read-only for operators: runtime_<each of those> and history.
 */
#ifndef MYSHARD_CONF_CONF_STORE_H
#define MYSHARD_CONF_CONF_STORE_H

#include "common/ms_base.h"

struct conf;
struct conf_store; /* opaque: one SQLite connection and what cs_exec() needs */

/* '*' and 40 upper-case hex digits: what MySQL's PASSWORD() returns; plus the NUL. */
#define CS_NATIVE_HASH_SIZE 42

/*
 * What cs_exec() reports while one statement runs; any member may be NULL. A statement that
 * returns rows (SELECT, or INSERT/UPDATE/DELETE ... RETURNING) gets <columns> once, then <row>
 * once per row; any other statement gets <done> once, with the number of rows it inserted,
 * updated or deleted. A callback returning anything but MS_OK stops the statement and cs_exec()
 * returns that code (for ... RETURNING the changes are made all the same: SQLite applies them
 * before the first row comes back).
 */
struct cs_exec_cb {
	/* <names>: <n> column names, borrowed for the call */
	enum ms_rc (*columns)(void *arg, size_t n, const char *const *names);
	/* <values>: <n> values as text (integers in decimal), NULL for SQL NULL; <lens> their
	 * byte lengths; all borrowed for the call */
	enum ms_rc (*row)(void *arg, size_t n, const char *const *values, const size_t *lens);
	enum ms_rc (*done)(void *arg, uint64_t affected);
};

/*
 * Opens (creating if absent) the database at <path>, or a private one for ":memory:", and
 * creates the tables it lacks. On success *<out> is owned by the caller (cs_close()). Errors:
 * MS_EIO (cannot open, not a database, a schema newer than this code), MS_ENOMEM; <err> says
 * which.
 */
enum ms_rc cs_open(const char *path, struct conf_store **out, char *err,
		   size_t errlen) MS_MUSTCHECK;
void cs_close(struct conf_store *cs);

/*
 * Replaces every staged table but admin_users with the content of <c> (a config loaded and
 * checked by conf_load_*()): each shard becomes a shards row and one primary endpoint, each
 * user a users row with its verifier, and the sharding map the functions, function_ranges,
 * function_values, sharded_tables, global_tables, sequences and settings rows that
 * cs_build() turns back into the same map. All or nothing (one transaction).
 */
enum ms_rc cs_import(struct conf_store *cs, const struct conf *c, char *err,
		     size_t errlen) MS_MUSTCHECK;

/*
 * Checks every staged table together and builds the config they describe: a deep copy of
 * <base> (listen address, ports, timeouts, workers, admin section...) whose users, shards and
 * map come from the staged tables. Shards, users, functions and sequences keep the order of
 * their rows (rowid); shard indexes are positions in the new shards array; the map is sorted
 * as conf/ sorts the YAML's. admin_users is checked too, though it is not part of the result.
 * *<out> is owned by the caller (conf_free()). Bad data: MS_EINVAL and one line naming the
 * table, the row by its key and the column, e.g. "function_ranges row (function=f,
 * keyspace=80-): shard: unknown shard \"s9\"", or the table (and function) for a problem of
 * several rows: "function_ranges (function=f): keyspace ids 80..ff are not covered". The
 * tables are only read.
 */
enum ms_rc cs_build(struct conf_store *cs, const struct conf *base, struct conf **out, char *err,
		    size_t errlen) MS_MUSTCHECK;

/*
 * A summary of the staged tables against runtime_* in *<out> (NUL-terminated, free() it):
 * "no changes", or "<table>: <item>, <item>; <table>: ..." with the tables in schema order
 * and, in each, removed rows ("-<row>"), added rows ("+<row>") and changed ones
 * ("~<row>: <column> <old> -> <new>", or "<column> changed" for passwords), each group in key
 * order. E.g. "shards: +s4; function_ranges: ~by_customer 80-: shard 's1' -> 's2'".
 */
enum ms_rc cs_diff(struct conf_store *cs, char **out) MS_MUSTCHECK;

/*
 * In one transaction: copies every staged table to its runtime_ twin and records history row
 * <version> (1..INT64_MAX, not used before) with the time (UTC, "2026-01-31T12:00:00Z"),
 * <admin_user>, <summary> and the staged tables as INSERT statements. Does not validate: call
 * it once cs_build() succeeded and the result went live.
 */
enum ms_rc cs_commit(struct conf_store *cs, uint64_t version, const char *admin_user,
		     const char *summary, char *err, size_t errlen) MS_MUSTCHECK;

/*
 * Replaces the staged tables with what history row <version> recorded; MS_EINVAL "no version
 * <version> in history" if there is none. admin_users is neither recorded nor restored: going
 * back to an old topology must not bring back an admin password that was changed since.
 * runtime_* is left alone.
 */
enum ms_rc cs_restore(struct conf_store *cs, uint64_t version, char *err,
		      size_t errlen) MS_MUSTCHECK;

/* The highest version in history, 0 when it is empty. */
enum ms_rc cs_latest_version(struct conf_store *cs, uint64_t *out) MS_MUSTCHECK;

/*
 * Replaces the whole database (staged, runtime_*, history, admin_users) with the one cs_save()
 * wrote to <path>, which is only read. MS_EIO if it cannot be read, is not a database or has a
 * newer schema; the store is unchanged then.
 */
enum ms_rc cs_load(struct conf_store *cs, const char *path, char *err, size_t errlen) MS_MUSTCHECK;

/*
 * Writes the whole database to <path> atomically: a copy into "<path>.tmp" (same directory),
 * fsync, then rename() over <path>. Refuses the file the store itself was opened from.
 */
enum ms_rc cs_save(struct conf_store *cs, const char *path, char *err, size_t errlen) MS_MUSTCHECK;

/*
 * Runs one operator statement, <len> bytes of <sql> (a trailing ';' and comments are fine, a
 * second statement is not). Allowed: SELECT from the tables above, INSERT, UPDATE and DELETE
 * on the staged tables, and the side-effect-free built-in functions. Everything else (PRAGMA,
 * ATTACH, DETACH, CREATE, DROP, ALTER, VACUUM, BEGIN/COMMIT/SAVEPOINT, writes to runtime_*,
 * history or sqlite_*, load_extension, ...) is refused with MS_EINVAL and "not allowed on the
 * admin port: <what>". SQLite's own errors read "staged tables: <message>". Results go to <cb>
 * (see struct cs_exec_cb) with <arg>. Each statement is its own transaction.
 */
enum ms_rc cs_exec(struct conf_store *cs, const char *sql, size_t len, const struct cs_exec_cb *cb,
		   void *arg, char *err, size_t errlen) MS_MUSTCHECK;

/*
 * cs_stage_keep() copies every staged table aside (replacing an earlier copy);
 * cs_stage_back() puts that copy back (one transaction). For operations that overwrite the
 * staged tables and may then be refused (ROLLBACK TOPOLOGY TO, RELOAD).
 */
enum ms_rc cs_stage_keep(struct conf_store *cs, char *err, size_t errlen) MS_MUSTCHECK;
enum ms_rc cs_stage_back(struct conf_store *cs, char *err, size_t errlen) MS_MUSTCHECK;

/*
 * The password_hash of admin user <name> in runtime_admin_users (the admin users applied with
 * APPLY) into <hash> ("" for an empty password). MS_EINVAL when there is no such user.
 */
enum ms_rc cs_admin_user(struct conf_store *cs, const char *name,
			 char hash[CS_NATIVE_HASH_SIZE]) MS_MUSTCHECK;

/*
 * The users.password_hash / admin_users.password_hash form of <password>: "*" and the 40
 * upper-case hex digits of SHA1(SHA1(password)), or "" for the empty password.
 */
void cs_native_hash(const char *password, char out[CS_NATIVE_HASH_SIZE]);

#endif /* MYSHARD_CONF_CONF_STORE_H */
