/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_store_row.c - what cs_build() needs to read a staged row: typed column readers
 * that reject a bad value with "<table> row (<key>=<value>, ...): <column>: <why>", the row
 * key text itself, and the loops over a table's rows.
 */
#include "conf/conf_store_int.h"

#include "conf/conf_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CS_IDENT_MAX 64u /* MariaDB's limit on table, schema and column names */

enum ms_rc
cs_fail(struct cs_build *b, const char *where, const char *column, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->errlen == 0) {
		return MS_EINVAL;
	}
	k = snprintf(b->err, b->errlen, "%s: %s%s", where, column != NULL ? column : "",
		     column != NULL ? ": " : "");
	if (k >= 0 && (size_t)k < b->errlen) {
		va_start(ap, fmt);
		vsnprintf(b->err + k, b->errlen - (size_t)k, fmt, ap);
		va_end(ap);
	}
	return MS_EINVAL;
}

enum ms_rc
cs_build_sql(struct cs_build *b)
{
	return cs_sql_fail(b->cs, "staged tables", b->err, b->errlen);
}

/* Appends <s> at offset <o> of <buf> (cut to fit); returns the new offset. */
static size_t
cs_cat(char *buf, size_t len, size_t o, const char *s)
{
	int k = snprintf(buf + o, len - o, "%s", s);

	if (k < 0) {
		return o;
	}
	return o + (size_t)k < len ? o + (size_t)k : len - 1;
}

/* Appends value <s> as a row key shows it: NULL, control bytes as \xNN, cut after CS_VAL_MAX
 * bytes (on a UTF-8 boundary) with "...". */
static size_t
cs_cat_val(char *buf, size_t len, size_t o, const char *s)
{
	char tmp[4 * CS_VAL_MAX + 8];
	size_t n, cut, t = 0;

	if (s == NULL) {
		return cs_cat(buf, len, o, "NULL");
	}
	n = strlen(s);
	cut = n > CS_VAL_MAX ? CS_VAL_MAX : n;
	while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) {
		cut--;
	}
	for (size_t i = 0; i < cut; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f) {
			t += (size_t)snprintf(tmp + t, sizeof(tmp) - t, "\\x%02x", ch);
		} else {
			tmp[t++] = (char)ch;
		}
	}
	snprintf(tmp + t, sizeof(tmp) - t, "%s", cut < n ? "..." : "");
	return cs_cat(buf, len, o, tmp);
}

const char *
cs_where(char *buf, size_t len, const char *table, size_t n, const char *const *names,
	 const char *const *vals)
{
	size_t o = cs_cat(buf, len, 0, table);

	o = cs_cat(buf, len, o, " row (");
	for (size_t i = 0; i < n; i++) {
		o = cs_cat(buf, len, o, i > 0 ? ", " : "");
		o = cs_cat(buf, len, o, names[i]);
		o = cs_cat(buf, len, o, "=");
		o = cs_cat_val(buf, len, o, vals[i]);
	}
	cs_cat(buf, len, o, ")");
	return buf;
}

enum ms_rc
cs_str(struct cs_build *b, sqlite3_stmt *st, int i, const char *where, const char *column,
       bool nonempty, const char **s, size_t *len)
{
	*s = cs_col(st, i, len);
	if (*s == NULL && sqlite3_column_type(st, i) != SQLITE_NULL) {
		return cs_build_sql(b);
	}
	if (*s == NULL) {
		return cs_fail(b, where, column, "must not be NULL");
	}
	if (strlen(*s) != *len) {
		return cs_fail(b, where, column, "must not contain NUL bytes");
	}
	if (nonempty && *len == 0) {
		return cs_fail(b, where, column, "must not be empty");
	}
	return MS_OK;
}

enum ms_rc
cs_shard_ref(struct cs_build *b, const char *where, const char *column, const char *name,
	     size_t len, size_t *out)
{
	char got[CONF_GOT_LEN];

	for (size_t i = 0; i < b->c->n_shards; i++) {
		if (strcmp(b->c->shards[i].name, name) == 0) {
			*out = i;
			return MS_OK;
		}
	}
	return cs_fail(b, where, column, "unknown shard %s",
		       conf_quote(name, len, got, sizeof(got)));
}

enum ms_rc
cs_int(struct cs_build *b, sqlite3_stmt *st, int i, const char *where, const char *column,
       int64_t lo, int64_t hi, int64_t *out)
{
	char got[CONF_GOT_LEN];
	const char *s;
	size_t len;

	*out = sqlite3_column_int64(st, i);
	if (sqlite3_column_type(st, i) == SQLITE_INTEGER && *out >= lo && *out <= hi) {
		return MS_OK;
	}
	s = cs_col(st, i, &len);
	return cs_fail(b, where, column, "must be an integer %lld..%lld, got %s", (long long)lo,
		       (long long)hi, s != NULL ? conf_quote(s, len, got, sizeof(got)) : "NULL");
}

enum ms_rc
cs_choice(struct cs_build *b, sqlite3_stmt *st, int i, const char *where, const char *column,
	  const char *const *names, size_t n, size_t *out)
{
	char what[CONF_GOT_LEN], got[CONF_GOT_LEN];
	const char *s;
	size_t len, o = 0;
	enum ms_rc rc;

	rc = cs_str(b, st, i, where, column, false, &s, &len);
	for (size_t k = 0; rc == MS_OK && k < n; k++) {
		if (strcmp(s, names[k]) == 0) {
			*out = k;
			return MS_OK;
		}
		o = cs_cat(what, sizeof(what), o, k > 0 ? ", " : "");
		o = cs_cat(what, sizeof(what), o, names[k]);
	}
	return rc != MS_OK ? rc
			   : cs_fail(b, where, column, "must be one of %s, got %s", what,
				     conf_quote(s, len, got, sizeof(got)));
}

enum ms_rc
cs_name(struct cs_build *b, sqlite3_stmt *st, int i, const char *where, char **dst)
{
	char got[CONF_GOT_LEN];
	const char *s;
	size_t len;
	enum ms_rc rc;

	rc = cs_str(b, st, i, where, "name", false, &s, &len);
	if (rc == MS_OK && !conf_is_name(s, len)) {
		rc = cs_fail(b, where, "name", "must be %s, got %s", CONF_NAME_WANT,
			     conf_quote(s, len, got, sizeof(got)));
	}
	if (rc == MS_OK) {
		*dst = strdup(s);
		rc = *dst != NULL ? MS_OK : cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	return rc;
}

enum ms_rc
cs_ident(struct cs_build *b, sqlite3_stmt *st, int i, const char *where, const char *column,
	 bool empty_ok, char **dst)
{
	const char *s;
	size_t len;
	enum ms_rc rc;

	rc = cs_str(b, st, i, where, column, false, &s, &len);
	if (rc == MS_OK && (len > CS_IDENT_MAX || (len == 0 && !empty_ok))) {
		return cs_fail(b, where, column, "must be %s1..%u bytes long, got %zu",
			       empty_ok ? "'' (any schema) or " : "", CS_IDENT_MAX, len);
	}
	if (rc == MS_OK && len > 0) {
		*dst = strdup(s);
		rc = *dst != NULL ? MS_OK : cs_errf(MS_ENOMEM, b->err, b->errlen, "out of memory");
	}
	return rc;
}

/* Prepares <sql> with <bind> (unless NULL) as ?1. */
static enum ms_rc
cs_prep_bind(struct cs_build *b, const char *sql, const char *bind, sqlite3_stmt **st)
{
	enum ms_rc rc = cs_prep(b->cs, sql, st, b->err, b->errlen);

	if (rc == MS_OK && bind != NULL &&
	    sqlite3_bind_text(*st, 1, bind, -1, SQLITE_STATIC) != SQLITE_OK) {
		rc = cs_build_sql(b);
	}
	return rc;
}

enum ms_rc
cs_count(struct cs_build *b, const char *sql, const char *bind, size_t *n)
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;

	*n = 0;
	rc = cs_prep_bind(b, sql, bind, &st);
	if (rc == MS_OK && sqlite3_step(st) == SQLITE_ROW) {
		*n = (size_t)sqlite3_column_int64(st, 0);
	} else if (rc == MS_OK) {
		rc = cs_build_sql(b);
	}
	sqlite3_finalize(st);
	return rc;
}

enum ms_rc
cs_rows(struct cs_build *b, const char *sql, const char *bind, size_t max, cs_row_fn *fn,
	const void *arg)
{
	sqlite3_stmt *st = NULL;
	enum ms_rc rc;
	size_t i = 0;
	int code = SQLITE_DONE;

	rc = cs_prep_bind(b, sql, bind, &st);
	while (rc == MS_OK && i < max && (code = sqlite3_step(st)) == SQLITE_ROW) {
		rc = fn(b, st, i++, arg);
	}
	if (rc == MS_OK && code != SQLITE_DONE && code != SQLITE_ROW) {
		rc = cs_build_sql(b);
	}
	sqlite3_finalize(st);
	return rc;
}
