/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_store_hist.c - what happens around an APPLY: the diff of staged against live
 * tables, the commit (live copy plus a history row holding the staged tables as INSERT
 * statements), going back to a recorded version, and saving the whole database atomically.
 */
#include "conf/conf_store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CS_OOM "conf store: out of memory"

/* "<sep><prefix>.k1 IS <other>.k1 AND ..." for the key columns of <t>. */
static void
cs_key_match(sqlite3_str *q, const struct cs_table *t, const char *a, const char *b)
{
	for (size_t i = 0; t->keys[i] != NULL; i++) {
		sqlite3_str_appendf(q, "%s%s.%s IS %s.%s", i > 0 ? " AND " : "", a, t->keys[i], b,
				    t->keys[i]);
	}
}

static void
cs_key_order(sqlite3_str *q, const struct cs_table *t, const char *a)
{
	sqlite3_str_appendall(q, " ORDER BY ");
	for (size_t i = 0; t->keys[i] != NULL; i++) {
		sqlite3_str_appendf(q, "%s%s.%s", i > 0 ? ", " : "", a, t->keys[i]);
	}
}

/* Runs <q> (consumed) and appends "<sign><column 0>" per row to <items>, ", " between. */
static enum ms_rc
cs_diff_rows(struct conf_store *cs, sqlite3_str *q, const char *sign, sqlite3_str *items)
{
	char *sql = sqlite3_str_finish(q);
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;
	size_t len;
	int code = SQLITE_DONE;

	if (sql == NULL) {
		return MS_ENOMEM;
	}
	rc = cs_prep(cs, sql, &st, NULL, 0);
	sqlite3_free(sql);
	while (rc == MS_OK && (code = sqlite3_step(st)) == SQLITE_ROW) {
		const char *label = cs_col(st, 0, &len);

		sqlite3_str_appendf(items, "%s%s%s", sqlite3_str_length(items) > 0 ? ", " : "",
				    sign, label != NULL ? label : "NULL");
	}
	if (rc == MS_OK && code != SQLITE_DONE) {
		rc = cs_sql_fail(cs, "conf store", NULL, 0);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Rows of <from> whose key is not in <other>, as "<sign><label>". */
static enum ms_rc
cs_diff_missing(struct conf_store *cs, const struct cs_table *t, const char *from,
		const char *other, const char *sign, sqlite3_str *items)
{
	sqlite3_str *q = sqlite3_str_new(cs->db);

	sqlite3_str_appendf(q,
			    "SELECT %s FROM %s AS x WHERE NOT EXISTS (SELECT 1 FROM %s AS y "
			    "WHERE ",
			    t->label, from, other);
	cs_key_match(q, t, "y", "x");
	sqlite3_str_appendall(q, ")");
	cs_key_order(q, t, "x");
	return cs_diff_rows(cs, q, sign, items);
}

/* "~<label>: <col> <old> -> <new>, ..." for the current row of <st> (label, then old and new
 * quoted values of each non-key column). */
static void
cs_diff_change(const struct cs_table *t, sqlite3_stmt *st, sqlite3_str *items)
{
	const char *lbl, *old, *cur;
	size_t len, olen, clen, n = 0;

	lbl = cs_col(st, 0, &len);
	sqlite3_str_appendf(items, "%s~%s: ", sqlite3_str_length(items) > 0 ? ", " : "",
			    lbl != NULL ? lbl : "NULL");
	for (size_t i = 0; t->vals[i] != NULL; i++) {
		old = cs_col(st, (int)(1 + 2 * i), &olen);
		cur = cs_col(st, (int)(2 + 2 * i), &clen);
		if (olen == clen && old != NULL && cur != NULL && memcmp(old, cur, olen) == 0) {
			continue;
		}
		if (strstr(t->vals[i], "password") != NULL) { /* never shown, not even here */
			sqlite3_str_appendf(items, "%s%s changed", n++ > 0 ? ", " : "", t->vals[i]);
			continue;
		}
		sqlite3_str_appendf(items, "%s%s %s -> %s", n++ > 0 ? ", " : "", t->vals[i],
				    old != NULL ? old : "NULL", cur != NULL ? cur : "NULL");
	}
}

/* Rows present on both sides whose other columns differ. */
static enum ms_rc
cs_diff_changed(struct conf_store *cs, const struct cs_table *t, sqlite3_str *items)
{
	sqlite3_str *q = sqlite3_str_new(cs->db);
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;
	char *sql;
	int code = SQLITE_DONE;

	sqlite3_str_appendall(q, "SELECT s.lbl");
	for (size_t i = 0; t->vals[i] != NULL; i++) {
		sqlite3_str_appendf(q, ", quote(r.%s), quote(s.%s)", t->vals[i], t->vals[i]);
	}
	sqlite3_str_appendf(q, " FROM (SELECT %s AS lbl, * FROM %s) AS s JOIN runtime_%s AS r ON ",
			    t->label, t->name, t->name);
	cs_key_match(q, t, "s", "r");
	for (size_t i = 0; t->vals[i] != NULL; i++) {
		sqlite3_str_appendf(q, "%ss.%s IS NOT r.%s", i > 0 ? " OR " : " WHERE (",
				    t->vals[i], t->vals[i]);
	}
	sqlite3_str_appendall(q, ")");
	cs_key_order(q, t, "s");
	sql = sqlite3_str_finish(q);
	if (sql == NULL) {
		return MS_ENOMEM;
	}
	rc = cs_prep(cs, sql, &st, NULL, 0);
	sqlite3_free(sql);
	while (rc == MS_OK && (code = sqlite3_step(st)) == SQLITE_ROW) {
		cs_diff_change(t, st, items);
	}
	if (rc == MS_OK && code != SQLITE_DONE) {
		rc = cs_sql_fail(cs, "conf store", NULL, 0);
	}
	sqlite3_finalize(st);
	return rc;
}

/* "<table>: <items>" appended to <out> ("; " first unless it is empty) if <t> changed. */
static enum ms_rc
cs_diff_table(struct conf_store *cs, const struct cs_table *t, sqlite3_str *out)
{
	sqlite3_str *items = sqlite3_str_new(cs->db);
	char runtime[64];
	enum ms_rc rc;
	char *text;

	snprintf(runtime, sizeof(runtime), "runtime_%s", t->name);
	rc = cs_diff_missing(cs, t, runtime, t->name, "-", items);
	if (rc == MS_OK) {
		rc = cs_diff_missing(cs, t, t->name, runtime, "+", items);
	}
	if (rc == MS_OK && t->vals[0] != NULL) {
		rc = cs_diff_changed(cs, t, items);
	}
	if (rc == MS_OK && sqlite3_str_errcode(items) != SQLITE_OK) {
		rc = MS_ENOMEM;
	}
	if (rc == MS_OK && sqlite3_str_length(items) > 0) {
		sqlite3_str_appendf(out, "%s%s: %s", sqlite3_str_length(out) > 0 ? "; " : "",
				    t->name, sqlite3_str_value(items));
	}
	text = sqlite3_str_finish(items);
	sqlite3_free(text);
	return rc;
}

enum ms_rc
cs_diff(struct conf_store *cs, char **out)
{
	sqlite3_str *s = sqlite3_str_new(cs->db);
	size_t n = 0;
	const struct cs_table *t = cs_tables(&n);
	enum ms_rc rc = MS_OK;
	char *text;

	*out = NULL;
	for (size_t i = 0; rc == MS_OK && i < n; i++) {
		rc = cs_diff_table(cs, &t[i], s);
	}
	if (rc == MS_OK && sqlite3_str_length(s) == 0) {
		sqlite3_str_appendall(s, "no changes");
	}
	text = sqlite3_str_finish(s);
	if (rc == MS_OK && text == NULL) {
		rc = MS_ENOMEM;
	}
	if (rc == MS_OK) {
		*out = strdup(text);
		rc = *out != NULL ? MS_OK : MS_ENOMEM;
	}
	sqlite3_free(text);
	return rc;
}

/* "quote(k1) || ', ' || quote(k2) ..." into <q> and "k1, k2, ..." into <cols>: every column
 * of <t>, keys first. */
static void
cs_dump_cols(const struct cs_table *t, sqlite3_str *q, sqlite3_str *cols)
{
	size_t n = 0;

	for (size_t i = 0; i < 2 * CS_COLS_MAX; i++) {
		const char *c = i < CS_COLS_MAX ? t->keys[i] : t->vals[i - CS_COLS_MAX];

		if (c != NULL) {
			sqlite3_str_appendf(cols, "%s%s", n > 0 ? ", " : "", c);
			sqlite3_str_appendf(q, "%squote(%s)", n > 0 ? " || ', ' || " : "", c);
			n++;
		}
	}
}

/* One "INSERT INTO <t> (...) VALUES (...);" line per row of staged table <t>, rowid order. */
static enum ms_rc
cs_dump_table(struct conf_store *cs, const struct cs_table *t, sqlite3_str *out, char *err,
	      size_t errlen)
{
	sqlite3_str *q = sqlite3_str_new(cs->db), *cols = sqlite3_str_new(cs->db);
	sqlite3_stmt *st = NULL;
	char *sql, *names;
	enum ms_rc rc;
	size_t len;
	int code = SQLITE_DONE;

	sqlite3_str_appendall(q, "SELECT ");
	cs_dump_cols(t, q, cols);
	names = sqlite3_str_finish(cols);
	sqlite3_str_appendf(q, " FROM %s ORDER BY rowid", t->name);
	sql = sqlite3_str_finish(q);
	rc = sql != NULL && names != NULL ? cs_prep(cs, sql, &st, err, errlen)
					  : cs_errf(MS_ENOMEM, err, errlen, CS_OOM);
	while (rc == MS_OK && (code = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row = cs_col(st, 0, &len);

		sqlite3_str_appendf(out, "INSERT INTO %s (%s) VALUES (%s);\n", t->name, names,
				    row != NULL ? row : "");
	}
	if (rc == MS_OK && code != SQLITE_DONE) {
		rc = cs_sql_fail(cs, "conf store", err, errlen);
	}
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_free(names);
	return rc;
}

/* The staged tables history records, as SQL, in *<out> (sqlite3_free() it). */
static enum ms_rc
cs_dump(struct conf_store *cs, char **out, char *err, size_t errlen)
{
	sqlite3_str *s = sqlite3_str_new(cs->db);
	size_t n = 0;
	const struct cs_table *t = cs_tables(&n);
	enum ms_rc rc = MS_OK;

	for (size_t i = 0; rc == MS_OK && i < n; i++) {
		if (t[i].history) {
			rc = cs_dump_table(cs, &t[i], s, err, errlen);
		}
	}
	if (rc == MS_OK && sqlite3_str_errcode(s) != SQLITE_OK) {
		rc = cs_errf(sqlite3_str_errcode(s) == SQLITE_NOMEM ? MS_ENOMEM : MS_EIO, err,
			     errlen, "history: the config is too large to record");
	}
	*out = sqlite3_str_finish(s);
	if (rc == MS_OK && *out == NULL) {
		*out = sqlite3_mprintf("%s", ""); /* no rows at all */
		rc = *out != NULL ? MS_OK : cs_errf(MS_ENOMEM, err, errlen, CS_OOM);
	}
	return rc;
}

/* What cs_each_table() does to each staged table. */
enum cs_each {
	CS_EACH_GO_LIVE = 0, /* runtime_<t> becomes a copy of <t> (rowid order kept) */
	CS_EACH_CLEAR,       /* <t> is emptied, if history records it */
};

static enum ms_rc
cs_each_table(struct conf_store *cs, enum cs_each what, char *err, size_t errlen)
{
	size_t n = 0;
	const struct cs_table *t = cs_tables(&n);
	enum ms_rc rc = MS_OK;
	char *sql;

	for (size_t i = 0; rc == MS_OK && i < n; i++) {
		if (what == CS_EACH_CLEAR && !t[i].history) {
			continue;
		}
		if (what == CS_EACH_CLEAR) {
			sql = sqlite3_mprintf("DELETE FROM %s", t[i].name);
		} else {
			sql = sqlite3_mprintf("DELETE FROM runtime_%s; INSERT INTO runtime_%s "
					      "SELECT * FROM %s ORDER BY rowid",
					      t[i].name, t[i].name, t[i].name);
		}
		rc = sql != NULL ? cs_run(cs, sql, err, errlen)
				 : cs_errf(MS_ENOMEM, err, errlen, CS_OOM);
		sqlite3_free(sql);
	}
	return rc;
}

/* Prepares <sql> and binds <version> to ?1. */
static enum ms_rc
cs_prep_version(struct conf_store *cs, const char *sql, uint64_t version, sqlite3_stmt **st,
		char *err, size_t errlen)
{
	enum ms_rc rc = cs_prep(cs, sql, st, err, errlen);

	if (rc == MS_OK && sqlite3_bind_int64(*st, 1, (sqlite3_int64)version) != SQLITE_OK) {
		rc = cs_sql_fail(cs, "conf store", err, errlen);
	}
	return rc;
}

static enum ms_rc
cs_history_add(struct conf_store *cs, uint64_t version, const char *admin_user, const char *summary,
	       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *config = NULL;
	enum ms_rc rc;

	rc = cs_dump(cs, &config, err, errlen);
	if (rc == MS_OK) {
		rc = cs_prep_version(
			cs,
			"INSERT INTO history VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', "
			"'now'), ?2, ?3, ?4)",
			version, &st, err, errlen);
	}
	if (rc == MS_OK && (sqlite3_bind_text(st, 2, admin_user, -1, SQLITE_STATIC) != SQLITE_OK ||
			    sqlite3_bind_text(st, 3, summary, -1, SQLITE_STATIC) != SQLITE_OK ||
			    sqlite3_bind_text(st, 4, config, -1, SQLITE_STATIC) != SQLITE_OK ||
			    sqlite3_step(st) != SQLITE_DONE)) {
		rc = cs_sql_fail(cs, "history", err, errlen);
	}
	sqlite3_finalize(st);
	sqlite3_free(config);
	return rc;
}

/* MS_OK if history has no row <version>; else "history: version N exists already". */
static enum ms_rc
cs_version_free(struct conf_store *cs, uint64_t version, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;
	int code = SQLITE_DONE;

	if (version == 0 || version > INT64_MAX) {
		return cs_errf(MS_EINVAL, err, errlen, "history: version must be 1..%lld",
			       (long long)INT64_MAX);
	}
	rc = cs_prep_version(cs, "SELECT 1 FROM history WHERE version = ?1", version, &st, err,
			     errlen);
	code = rc == MS_OK ? sqlite3_step(st) : SQLITE_DONE;
	sqlite3_finalize(st);
	if (rc == MS_OK && code == SQLITE_ROW) {
		return cs_errf(MS_EINVAL, err, errlen, "history: version %llu exists already",
			       (unsigned long long)version);
	}
	return rc == MS_OK && code != SQLITE_DONE ? cs_sql_fail(cs, "history", err, errlen) : rc;
}

enum ms_rc
cs_commit(struct conf_store *cs, uint64_t version, const char *admin_user, const char *summary,
	  char *err, size_t errlen)
{
	enum ms_rc rc;

	admin_user = admin_user != NULL ? admin_user : ""; /* the columns are NOT NULL */
	summary = summary != NULL ? summary : "";
	rc = cs_begin(cs, err, errlen);
	if (rc != MS_OK) {
		return rc;
	}
	rc = cs_version_free(cs, version, err, errlen);
	if (rc == MS_OK) {
		rc = cs_each_table(cs, CS_EACH_GO_LIVE, err, errlen);
	}
	if (rc == MS_OK) {
		rc = cs_history_add(cs, version, admin_user, summary, err, errlen);
	}
	return cs_end(cs, rc, err, errlen);
}

/* *<config> = a copy (free()) of history row <version>'s config. */
static enum ms_rc
cs_history_get(struct conf_store *cs, uint64_t version, char **config, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;
	size_t len;
	int code = SQLITE_DONE;

	*config = NULL;
	if (version == 0 || version > INT64_MAX) {
		return cs_errf(MS_EINVAL, err, errlen, "no version %llu in history",
			       (unsigned long long)version);
	}
	rc = cs_prep_version(cs, "SELECT config FROM history WHERE version = ?1", version, &st, err,
			     errlen);
	code = rc == MS_OK ? sqlite3_step(st) : SQLITE_DONE;
	if (rc == MS_OK && code == SQLITE_ROW) {
		const char *text = cs_col(st, 0, &len);

		*config = strndup(text != NULL ? text : "", len);
		rc = *config != NULL ? MS_OK : cs_errf(MS_ENOMEM, err, errlen, CS_OOM);
	} else if (rc == MS_OK && code == SQLITE_DONE) {
		rc = cs_errf(MS_EINVAL, err, errlen, "no version %llu in history",
			     (unsigned long long)version);
	} else if (rc == MS_OK) {
		rc = cs_sql_fail(cs, "history", err, errlen);
	}
	sqlite3_finalize(st);
	return rc;
}

enum ms_rc
cs_restore(struct conf_store *cs, uint64_t version, char *err, size_t errlen)
{
	char *config = NULL;
	enum ms_rc rc;

	rc = cs_begin(cs, err, errlen);
	if (rc != MS_OK) {
		return rc;
	}
	rc = cs_history_get(cs, version, &config, err, errlen);
	if (rc == MS_OK) {
		rc = cs_each_table(cs, CS_EACH_CLEAR, err, errlen);
	}
	if (rc == MS_OK) {
		rc = cs_replay(cs, config, err, errlen);
	}
	free(config);
	return cs_end(cs, rc, err, errlen);
}

/* True if <path> is the file the store runs on (saving over it would unlink it from under the
 * open connection). */
static bool
cs_is_own_file(struct conf_store *cs, const char *path)
{
	const char *own = sqlite3_db_filename(cs->db, "main");
	struct stat a, b;

	if (own == NULL || own[0] == '\0' || stat(own, &a) != 0 || stat(path, &b) != 0) {
		return false;
	}
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* fsync()s <path> (a file, or with <dir> the directory that holds it). */
static int
cs_sync(const char *path, bool dir)
{
	char *copy = NULL, *slash;
	int fd, ret;

	if (dir) {
		copy = strdup(path);
		if (copy == NULL) {
			return -1;
		}
		slash = strrchr(copy, '/');
		if (slash != NULL) {
			slash[slash == copy ? 1 : 0] = '\0';
		}
		path = slash != NULL ? copy : ".";
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	ret = fd < 0 ? -1 : fsync(fd);
	if (fd >= 0) {
		close(fd);
	}
	free(copy);
	return ret;
}

/* VACUUM INTO <tmp>; the copy attaches <tmp> for the time it runs, which the operator
 * limit of no attached databases would refuse. */
static enum ms_rc
cs_vacuum_into(struct conf_store *cs, const char *tmp, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;
	int old;

	rc = cs_prep(cs, "VACUUM INTO ?1", &st, err, errlen);
	if (rc == MS_OK && sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC) != SQLITE_OK) {
		rc = cs_sql_fail(cs, tmp, err, errlen);
	}
	old = sqlite3_limit(cs->db, SQLITE_LIMIT_ATTACHED, 1);
	if (rc == MS_OK && sqlite3_step(st) != SQLITE_DONE) {
		rc = cs_sql_fail(cs, tmp, err, errlen);
	}
	(void)sqlite3_limit(cs->db, SQLITE_LIMIT_ATTACHED, old);
	sqlite3_finalize(st);
	return rc;
}

enum ms_rc
cs_save(struct conf_store *cs, const char *path, char *err, size_t errlen)
{
	char *tmp;
	enum ms_rc rc;

	if (cs_is_own_file(cs, path)) {
		return cs_errf(MS_EINVAL, err, errlen,
			       "%s: is the store's own database; it is saved as it changes", path);
	}
	tmp = sqlite3_mprintf("%s.tmp", path);
	if (tmp == NULL) {
		return cs_errf(MS_ENOMEM, err, errlen, CS_OOM);
	}
	if (unlink(tmp) != 0 && errno != ENOENT) { /* VACUUM INTO wants no file there */
		rc = cs_errf(MS_EIO, err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = cs_vacuum_into(cs, tmp, err, errlen);
	if (rc == MS_OK && cs_sync(tmp, false) != 0) {
		rc = cs_errf(MS_EIO, err, errlen, "%s: fsync: %s", tmp, strerror(errno));
	}
	if (rc == MS_OK && rename(tmp, path) != 0) {
		rc = cs_errf(MS_EIO, err, errlen, "%s: rename to %s: %s", tmp, path,
			     strerror(errno));
	}
	if (rc == MS_OK && cs_sync(path, true) != 0) {
		rc = cs_errf(MS_EIO, err, errlen, "%s: fsync of its directory: %s", path,
			     strerror(errno));
	}
	if (rc != MS_OK) {
		(void)unlink(tmp);
	}
out:
	sqlite3_free(tmp);
	return rc;
}
