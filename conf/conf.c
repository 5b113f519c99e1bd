/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf.c - loads myshard.yaml. libyaml builds the node tree (document API); then one
 * function per mapping checks its keys against a fixed list, converts each value and keeps the
 * defaults for what is absent. Every rejection goes through conf_err(), which writes
 * "<file>:<line>: <key path>: <why>"; the caller then frees the half-built struct conf with
 * conf_free(), so no error path has anything of its own to free.
 */
#include "conf/conf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONF_GOT_MAX       40          /* value bytes shown before "..." */
#define CONF_FILE_MAX      (16u << 20) /* a config file is small; refuse anything bigger */
#define CONF_WORKERS_MAX   256u
#define CONF_USER_NAME_MAX 80u          /* MariaDB's limit on user names */
#define CONF_SIZE_MIN      (1ull << 10) /* max_packet bounds: 1 KiB .. 1 GiB */
#define CONF_SIZE_MAX      (1ull << 30)
#define CONF_HASH_LEN      (1 + 2 * MS_SHA1_LEN) /* '*' and 40 hex digits */

enum ms_rc
conf_err(struct conf_ctx *x, size_t line, const char *path, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (x->errlen == 0) {
		return MS_EINVAL;
	}
	k = snprintf(x->err, x->errlen, "%s:%zu: %s: ", x->name, line,
		     path[0] != '\0' ? path : "top level");
	if (k >= 0 && (size_t)k < x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err + k, x->errlen - (size_t)k, fmt, ap);
		va_end(ap);
	}
	return MS_EINVAL;
}

enum ms_rc
conf_oom(struct conf_ctx *x)
{
	if (x->errlen > 0) {
		snprintf(x->err, x->errlen, "%s: out of memory", x->name);
	}
	return MS_ENOMEM;
}

/* Lines in libyaml marks count from 0; messages count from 1. */
size_t
conf_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

yaml_node_t *
conf_node(const struct conf_ctx *x, int id)
{
	return yaml_document_get_node(x->doc, id);
}

/* "<parent>.<key>", or just "<key>" at the top level; cut to fit <len>, as it only names things. */
const char *
conf_join(char *buf, size_t len, const char *parent, const char *key)
{
	if (snprintf(buf, len, "%s%s%s", parent, parent[0] != '\0' ? "." : "", key) < 0) {
		buf[0] = '\0';
	}
	return buf;
}

/*
 * Quotes <len> bytes of <s> for a message: '"' and '\' escaped, control bytes as \xNN, cut
 * after CONF_GOT_MAX bytes (on a UTF-8 boundary) with "..." appended.
 */
const char *
conf_quote(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t n = len, o = 0;

	if (n > CONF_GOT_MAX) {
		n = CONF_GOT_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
			n--;
		}
	}
	buf[o++] = '"';
	for (size_t i = 0; i < n && o + 8 < buflen; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			o += (size_t)snprintf(buf + o, buflen - o, "\\%c", ch);
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	snprintf(buf + o, buflen - o, "%s\"", n < len ? "..." : "");
	return buf;
}

/* A plain (unquoted) empty, "~" or "null" scalar: YAML's null, i.e. a key with no value. */
static bool
conf_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return false;
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(nulls); i++) {
		if (strcmp((const char *)n->data.scalar.value, nulls[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* What <n> is, for "got ..." in messages. */
static const char *
conf_got(const yaml_node_t *n, char *buf, size_t len)
{
	if (n->type == YAML_MAPPING_NODE) {
		return "a mapping";
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		return "a list";
	}
	if (conf_is_null(n)) {
		return "no value";
	}
	return conf_quote((const char *)n->data.scalar.value, n->data.scalar.length, buf, len);
}

/* The common rejection of a value: "<path>: must be <what>, got <n>". */
enum ms_rc
conf_bad(struct conf_ctx *x, const yaml_node_t *n, const char *path, const char *what)
{
	char got[CONF_GOT_LEN];

	return conf_err(x, conf_line(n), path, "must be %s, got %s", what,
			conf_got(n, got, sizeof(got)));
}

enum ms_rc
conf_missing(struct conf_ctx *x, const yaml_node_t *map, const char *path, const char *key)
{
	char sub[CONF_PATH_LEN];

	return conf_err(x, conf_line(map), conf_join(sub, sizeof(sub), path, key),
			"missing required key");
}

/* Accepts a mapping or a list (<type>); anything else is rejected. */
enum ms_rc
conf_want(struct conf_ctx *x, const yaml_node_t *n, const char *path, yaml_node_type_t type)
{
	if (n->type == type) {
		return MS_OK;
	}
	return conf_bad(x, n, path, type == YAML_MAPPING_NODE ? "a mapping" : "a list");
}

/*
 * Points *<s> at the text of scalar <n> (NUL-terminated, <*len> bytes, owned by the document).
 * Rejects mappings, lists, null and text with a NUL byte in it; <what> describes the
 * expected value for the message.
 */
enum ms_rc
conf_scalar(struct conf_ctx *x, const yaml_node_t *n, const char *path, const char *what,
	    const char **s, size_t *len)
{
	if (n->type != YAML_SCALAR_NODE || conf_is_null(n)) {
		return conf_bad(x, n, path, what);
	}
	*s = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	if (strlen(*s) != *len) {
		return conf_err(x, conf_line(n), path, "must not contain NUL bytes");
	}
	return MS_OK;
}

/* Replaces *<dst> with a copy of string <n>; "" is rejected when <nonempty>. */
enum ms_rc
conf_str(struct conf_ctx *x, const yaml_node_t *n, const char *path, bool nonempty, char **dst)
{
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;
	char *p;

	rc = conf_scalar(x, n, path, "a string", &s, &len);
	if (rc != MS_OK) {
		return rc;
	}
	if (nonempty && len == 0) {
		return conf_err(x, conf_line(n), path, "must not be empty");
	}
	p = strdup(s);
	if (p == NULL) {
		return conf_oom(x);
	}
	free(*dst);
	*dst = p;
	return MS_OK;
}

/*
 * Reads the decimal digits at the start of <s> (<len> bytes) into *<v>, which stops growing
 * past <cap> (so it is > <cap> on overflow). Returns the number of digits read.
 */
size_t
conf_digits(const char *s, size_t len, uint64_t cap, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (*v <= cap) {
			*v = *v * 10 + (uint64_t)(s[i] - '0');
		}
	}
	return i;
}

/* An integer <lo>..<hi>: decimal digits only, quoted or not. */
enum ms_rc
conf_uint(struct conf_ctx *x, const yaml_node_t *n, const char *path, unsigned int lo,
	  unsigned int hi, unsigned int *out)
{
	char what[48];
	const char *s = NULL;
	size_t len = 0, used;
	enum ms_rc rc;
	uint64_t v;

	snprintf(what, sizeof(what), "an integer %u..%u", lo, hi);
	rc = conf_scalar(x, n, path, what, &s, &len);
	if (rc != MS_OK) {
		return rc;
	}
	used = conf_digits(s, len, hi, &v);
	if (used == 0 || used != len || v < lo || v > hi) {
		return conf_bad(x, n, path, what);
	}
	*out = (unsigned int)v;
	return MS_OK;
}

/* A byte count CONF_SIZE_MIN..CONF_SIZE_MAX: digits, then nothing or KiB, MiB or GiB. */
static enum ms_rc
conf_size(struct conf_ctx *x, const yaml_node_t *n, const char *path, uint32_t *out)
{
	static const char *const what = "a size 1KiB..1GiB (bytes, or a number with suffix KiB, "
					"MiB or GiB)";
	static const char *const units[] = { "", "KiB", "MiB", "GiB" };
	const char *s = NULL;
	size_t len = 0, used;
	enum ms_rc rc;
	uint64_t v;

	rc = conf_scalar(x, n, path, what, &s, &len);
	if (rc != MS_OK) {
		return rc;
	}
	used = conf_digits(s, len, CONF_SIZE_MAX, &v);
	for (size_t i = 0; used > 0 && i < MS_ARRAY_LEN(units); i++) {
		if (strcmp(s + used, units[i]) == 0) {
			v <<= 10 * i; /* v <= 1 GiB + 9 before the shift: no overflow */
			if (v < CONF_SIZE_MIN || v > CONF_SIZE_MAX) {
				break;
			}
			*out = (uint32_t)v;
			return MS_OK;
		}
	}
	return conf_bad(x, n, path, what);
}

static enum ms_rc
conf_log_level(struct conf_ctx *x, const yaml_node_t *n, const char *path, enum ms_log_level *out)
{
	static const char *const what = "one of error, warn, info, debug";
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;

	rc = conf_scalar(x, n, path, what, &s, &len);
	if (rc != MS_OK) {
		return rc;
	}
	if (!ms_log_level_parse(s, out)) {
		return conf_bad(x, n, path, what);
	}
	return MS_OK;
}

/* True for a key worth printing bare in a path: [A-Za-z0-9_-]{1,64}. */
bool
conf_is_name(const char *s, size_t len)
{
	if (len == 0 || len > CONF_SHARD_NAME_MAX || strlen(s) != len) {
		return false;
	}
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* "<path>.<key>: unknown key (known: a, b, c)"; odd-looking keys are shown quoted. */
static enum ms_rc
conf_unknown(struct conf_ctx *x, const yaml_node_t *k, const char *path, const char *const *keys,
	     size_t n_keys)
{
	char sub[CONF_PATH_LEN], known[320], got[CONF_GOT_LEN];
	const char *name = NULL;
	size_t o = 0;

	if (k->type != YAML_SCALAR_NODE) {
		return conf_err(x, conf_line(k), path, "keys must be names, got %s",
				conf_got(k, got, sizeof(got)));
	}
	name = (const char *)k->data.scalar.value;
	if (!conf_is_name(name, k->data.scalar.length)) {
		name = conf_quote(name, k->data.scalar.length, got, sizeof(got));
	}
	known[0] = '\0';
	for (size_t i = 0; i < n_keys && o < sizeof(known); i++) {
		o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s", i > 0 ? ", " : "",
				      keys[i]);
	}
	return conf_err(x, conf_line(k), conf_join(sub, sizeof(sub), path, name),
			"unknown key (known: %s)", known);
}

/*
 * Checks mapping <map> at <path>: every key must be one of the <n_keys> <keys>, and appear
 * once. Sets vals[i] to the value node of keys[i], or NULL when that key is absent.
 */
enum ms_rc
conf_keys(struct conf_ctx *x, const yaml_node_t *map, const char *path, const char *const *keys,
	  size_t n_keys, const yaml_node_t **vals)
{
	char sub[CONF_PATH_LEN];
	const yaml_node_t *k;
	enum ms_rc rc;
	size_t i;

	rc = conf_want(x, map, path, YAML_MAPPING_NODE);
	if (rc != MS_OK) {
		return rc;
	}
	for (i = 0; i < n_keys; i++) {
		vals[i] = NULL;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		k = conf_node(x, p->key);
		for (i = 0; k->type == YAML_SCALAR_NODE && i < n_keys; i++) {
			if (strcmp((const char *)k->data.scalar.value, keys[i]) == 0) {
				break;
			}
		}
		if (k->type != YAML_SCALAR_NODE || i == n_keys) {
			return conf_unknown(x, k, path, keys, n_keys);
		}
		if (vals[i] != NULL) {
			return conf_err(x, conf_line(k), conf_join(sub, sizeof(sub), path, keys[i]),
					"duplicate key");
		}
		vals[i] = conf_node(x, p->value);
	}
	return MS_OK;
}

static enum ms_rc conf_bool(struct conf_ctx *x, const yaml_node_t *n, const char *path, bool *out);

static enum ms_rc
conf_listen(struct conf_ctx *x, const yaml_node_t *map)
{
	static const char *const keys[] = { "address", "port", "reuse_port" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	unsigned int port = 0;
	enum ms_rc rc;

	rc = conf_keys(x, map, "listen", keys, MS_ARRAY_LEN(keys), v);
	if (rc == MS_OK && v[0] != NULL) {
		rc = conf_str(x, v[0], "listen.address", true, &x->c->listen_addr);
	}
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_uint(x, v[1], "listen.port", 1, 65535, &port);
	}
	if (rc == MS_OK && v[1] != NULL) {
		x->c->listen_port = (uint16_t)port;
	}
	if (rc == MS_OK && v[2] != NULL) {
		rc = conf_bool(x, v[2], "listen.reuse_port", &x->c->reuse_port);
	}
	return rc;
}

static enum ms_rc
conf_pool(struct conf_ctx *x, const yaml_node_t *map)
{
	static const char *const keys[] = { "max_per_worker", "wait_timeout_ms" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	enum ms_rc rc;

	rc = conf_keys(x, map, "pool", keys, MS_ARRAY_LEN(keys), v);
	if (rc == MS_OK && v[0] != NULL) {
		rc = conf_uint(x, v[0], "pool.max_per_worker", 1, 10000, &x->c->pool_max);
	}
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_uint(x, v[1], "pool.wait_timeout_ms", 1, 3600000,
			       &x->c->pool_wait_timeout_ms);
	}
	return rc;
}

static enum ms_rc
conf_timeouts(struct conf_ctx *x, const yaml_node_t *map)
{
	static const char *const keys[] = { "connect_ms", "client_idle_ms", "login_ms",
					    "xa_recovery_ms", "xa_abandon_ms", "deadlock_check_ms",
					    "shutdown_ms", "health_ms", "query_ms", "slow_query_ms",
					    "client_write_ms" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	enum ms_rc rc;

	rc = conf_keys(x, map, "timeouts", keys, MS_ARRAY_LEN(keys), v);
	if (rc == MS_OK && v[0] != NULL) {
		rc = conf_uint(x, v[0], "timeouts.connect_ms", 1, 3600000,
			       &x->c->connect_timeout_ms);
	}
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_uint(x, v[1], "timeouts.client_idle_ms", 0, 86400000,
			       &x->c->client_idle_timeout_ms);
	}
	if (rc == MS_OK && v[2] != NULL) {
		rc = conf_uint(x, v[2], "timeouts.login_ms", 1, 3600000, &x->c->login_timeout_ms);
	}
	if (rc == MS_OK && v[3] != NULL) {
		rc = conf_uint(x, v[3], "timeouts.xa_recovery_ms", 100, 3600000,
			       &x->c->xa_recovery_ms);
	}
	if (rc == MS_OK && v[4] != NULL) {
		rc = conf_uint(x, v[4], "timeouts.xa_abandon_ms", 3000, 86400000,
			       &x->c->xa_abandon_ms);
	}
	if (rc == MS_OK && v[5] != NULL) {
		rc = conf_uint(x, v[5], "timeouts.deadlock_check_ms", 0, 60000,
			       &x->c->deadlock_check_ms);
	}
	if (rc == MS_OK && v[6] != NULL) {
		rc = conf_uint(x, v[6], "timeouts.shutdown_ms", 0, 3600000, &x->c->shutdown_ms);
	}
	if (rc == MS_OK && v[7] != NULL) {
		rc = conf_uint(x, v[7], "timeouts.health_ms", 0, 3600000, &x->c->health_ms);
	}
	if (rc == MS_OK && v[8] != NULL) {
		rc = conf_uint(x, v[8], "timeouts.query_ms", 0, 86400000, &x->c->query_ms);
	}
	if (rc == MS_OK && v[9] != NULL) {
		rc = conf_uint(x, v[9], "timeouts.slow_query_ms", 0, 86400000,
			       &x->c->slow_query_ms);
	}
	if (rc == MS_OK && v[10] != NULL) {
		rc = conf_uint(x, v[10], "timeouts.client_write_ms", 0, 86400000,
			       &x->c->client_write_timeout_ms);
	}
	return rc;
}

static int
conf_hex(char ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f') {
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F') {
		return ch - 'A' + 10;
	}
	return -1;
}

/*
 * Decodes password_hash <n>: '*' and 40 hex digits, as mysql.user and PASSWORD() show
 * SHA1(SHA1(password)). The message never repeats the value: it may be a password put in the
 * wrong key.
 */
static enum ms_rc
conf_hash(struct conf_ctx *x, const yaml_node_t *n, const char *path, uint8_t out[MS_SHA1_LEN])
{
	static const char *const want = "must be '*' followed by 40 hex digits";
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;
	int hi, lo;

	rc = conf_scalar(x, n, path, "a string", &s, &len);
	if (rc != MS_OK) {
		return rc;
	}
	if (len != CONF_HASH_LEN) {
		return conf_err(x, conf_line(n), path, "%s, got %zu characters", want, len);
	}
	if (s[0] != '*') {
		return conf_err(x, conf_line(n), path, "%s, got a bad character at offset 0", want);
	}
	for (size_t i = 0; i < MS_SHA1_LEN; i++) {
		hi = conf_hex(s[1 + 2 * i]);
		lo = conf_hex(s[2 + 2 * i]);
		if (hi < 0 || lo < 0) {
			return conf_err(x, conf_line(n), path,
					"%s, got a bad character at offset %zu", want,
					hi < 0 ? 1 + 2 * i : 2 + 2 * i);
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return MS_OK;
}

/* A YAML true/false. */
static enum ms_rc
conf_bool(struct conf_ctx *x, const yaml_node_t *n, const char *path, bool *out)
{
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc = conf_scalar(x, n, path, "true or false", &s, &len);

	if (rc != MS_OK) {
		return rc;
	}
	if (len == 4 && memcmp(s, "true", 4) == 0) {
		*out = true;
	} else if (len == 5 && memcmp(s, "false", 5) == 0) {
		*out = false;
	} else {
		return conf_bad(x, n, path, "true or false");
	}
	return MS_OK;
}

/* Fills <u>'s verifier from exactly one of <pw> (plaintext) and <hash>. */
static enum ms_rc
conf_user_secret(struct conf_ctx *x, const yaml_node_t *map, const char *path,
		 const yaml_node_t *pw, const yaml_node_t *hash, struct conf_user *u)
{
	char sub[CONF_PATH_LEN];
	uint8_t stage1[MS_SHA1_LEN];
	const char *s = NULL;
	size_t len = 0;
	enum ms_rc rc;

	if (pw != NULL && hash != NULL) {
		return conf_err(x, conf_line(map), path,
				"has both password and password_hash; give only one");
	}
	if (pw == NULL && hash == NULL) {
		return conf_err(x, conf_line(map), path, "needs password or password_hash");
	}
	if (hash != NULL) {
		return conf_hash(x, hash, conf_join(sub, sizeof(sub), path, "password_hash"),
				 u->native_stored);
	}
	rc = conf_scalar(x, pw, conf_join(sub, sizeof(sub), path, "password"), "a string", &s,
			 &len);
	if (rc != MS_OK) {
		return rc;
	}
	if (len == 0) {
		u->empty_password = true; /* native_stored stays all zero */
		return MS_OK;
	}
	ms_sha1(s, len, stage1);
	ms_sha1(stage1, sizeof(stage1), u->native_stored);
	explicit_bzero(stage1, sizeof(stage1)); /* SHA1(password) alone is enough to log in */
	return MS_OK;
}

/* <list>[<i>] of <users>: name (unique, 1..80 bytes) and its secret. */
static enum ms_rc
conf_user_in(struct conf_ctx *x, const yaml_node_t *map, const char *list,
	     struct conf_user *users, size_t i)
{
	static const char *const keys[] = { "name", "password", "password_hash", "require_ssl" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	char path[CONF_PATH_LEN], sub[CONF_PATH_LEN], got[CONF_GOT_LEN];
	struct conf_user *u = &users[i];
	enum ms_rc rc;
	size_t len;

	snprintf(path, sizeof(path), "%s[%zu]", list, i);
	rc = conf_keys(x, map, path, keys, MS_ARRAY_LEN(keys), v);
	if (rc != MS_OK) {
		return rc;
	}
	if (v[0] == NULL) {
		return conf_missing(x, map, path, "name");
	}
	rc = conf_str(x, v[0], conf_join(sub, sizeof(sub), path, "name"), false, &u->name);
	if (rc != MS_OK) {
		return rc;
	}
	len = strlen(u->name);
	if (len == 0 || len > CONF_USER_NAME_MAX) {
		return conf_err(x, conf_line(v[0]), sub, "must be 1..%u bytes long, got %zu",
				CONF_USER_NAME_MAX, len);
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(users[j].name, u->name) == 0) {
			return conf_err(x, conf_line(v[0]), sub, "duplicate user %s (also %s[%zu])",
					conf_quote(u->name, len, got, sizeof(got)), list, j);
		}
	}
	if (v[3] != NULL) {
		rc = conf_bool(x, v[3], conf_join(sub, sizeof(sub), path, "require_ssl"),
			       &u->require_ssl);
		if (rc != MS_OK) {
			return rc;
		}
	}
	return conf_user_secret(x, map, path, v[1], v[2], u);
}

/* A users list at <list>: *<out> and *<n> are set before any entry is checked (conf_free()
 * copes with entries left unfilled by an error). */
static enum ms_rc
conf_user_list(struct conf_ctx *x, const yaml_node_t *seq, const char *list,
	       struct conf_user **out, size_t *n_out)
{
	size_t n;
	enum ms_rc rc;

	rc = conf_want(x, seq, list, YAML_SEQUENCE_NODE);
	if (rc != MS_OK) {
		return rc;
	}
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (n == 0) {
		return conf_err(x, conf_line(seq), list, "must list at least one user");
	}
	*out = calloc(n, sizeof(**out));
	if (*out == NULL) {
		return conf_oom(x);
	}
	*n_out = n;
	for (size_t i = 0; i < n; i++) {
		rc = conf_user_in(x, conf_node(x, seq->data.sequence.items.start[i]), list, *out, i);
		if (rc != MS_OK) {
			return rc;
		}
	}
	return MS_OK;
}

static enum ms_rc
conf_users(struct conf_ctx *x, const yaml_node_t *seq)
{
	return conf_user_list(x, seq, "users", &x->c->users, &x->c->n_users);
}

/* tls: cert and key (both required; files are loaded when myshard starts). */
static enum ms_rc
conf_tls(struct conf_ctx *x, const yaml_node_t *map)
{
	static const char *const keys[] = { "cert", "key" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	struct conf_tls *t;
	enum ms_rc rc;

	rc = conf_keys(x, map, "tls", keys, MS_ARRAY_LEN(keys), v);
	if (rc != MS_OK) {
		return rc;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return conf_oom(x);
	}
	x->c->tls = t;
	t->cert_line = v[0] != NULL ? (unsigned int)conf_line(v[0]) : 0;
	t->key_line = v[1] != NULL ? (unsigned int)conf_line(v[1]) : 0;
	rc = v[0] != NULL ? conf_str(x, v[0], "tls.cert", false, &t->cert)
			  : conf_missing(x, map, "tls", "cert");
	if (rc == MS_OK) {
		rc = v[1] != NULL ? conf_str(x, v[1], "tls.key", false, &t->key)
				  : conf_missing(x, map, "tls", "key");
	}
	return rc;
}

/* admin: listen {address, port}, users (required), store. */
static enum ms_rc
conf_admin(struct conf_ctx *x, const yaml_node_t *map)
{
	static const char *const keys[] = { "listen", "users", "store" };
	static const char *const lkeys[] = { "address", "port" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)], *lv[MS_ARRAY_LEN(lkeys)];
	struct conf_admin *a;
	unsigned int port = 3308;
	enum ms_rc rc;

	rc = conf_keys(x, map, "admin", keys, MS_ARRAY_LEN(keys), v);
	if (rc != MS_OK) {
		return rc;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return conf_oom(x);
	}
	x->c->admin = a;
	if (v[0] != NULL) {
		rc = conf_keys(x, v[0], "admin.listen", lkeys, MS_ARRAY_LEN(lkeys), lv);
		if (rc == MS_OK && lv[0] != NULL) {
			rc = conf_str(x, lv[0], "admin.listen.address", true, &a->listen_addr);
		}
		if (rc == MS_OK && lv[1] != NULL) {
			rc = conf_uint(x, lv[1], "admin.listen.port", 1, 65535, &port);
		}
	}
	a->listen_port = (uint16_t)port;
	if (rc == MS_OK && a->listen_addr == NULL) {
		a->listen_addr = strdup("127.0.0.1");
		rc = a->listen_addr != NULL ? MS_OK : conf_oom(x);
	}
	if (rc == MS_OK) {
		rc = v[1] != NULL ? conf_user_list(x, v[1], "admin.users", &a->users, &a->n_users)
				  : conf_missing(x, map, "admin", "users");
	}
	if (rc == MS_OK && v[2] != NULL) {
		rc = conf_str(x, v[2], "admin.store", true, &a->store);
	}
	return rc;
}

/* shards[<i>].name: unique, [A-Za-z0-9_-]{1,64}. */
static enum ms_rc
conf_shard_name(struct conf_ctx *x, const yaml_node_t *n, const char *path, size_t i)
{
	char got[CONF_GOT_LEN];
	struct conf_shard *s = &x->c->shards[i];
	enum ms_rc rc;

	rc = conf_str(x, n, path, false, &s->name);
	if (rc != MS_OK) {
		return rc;
	}
	if (!conf_is_name(s->name, strlen(s->name))) {
		return conf_bad(x, n, path, "1..64 characters from A-Z a-z 0-9 _ -");
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(x->c->shards[j].name, s->name) == 0) {
			return conf_err(x, conf_line(n), path,
					"duplicate shard %s (also shards[%zu])",
					conf_quote(s->name, strlen(s->name), got, sizeof(got)), j);
		}
	}
	return MS_OK;
}

/* shards[<i>].replicas: a list of {host, port, weight}. */
static enum ms_rc
conf_replicas(struct conf_ctx *x, const yaml_node_t *seq, const char *path, struct conf_shard *s)
{
	static const char *const keys[] = { "host", "port", "weight" };
	size_t n, total = 0;
	enum ms_rc rc;

	rc = conf_want(x, seq, path, YAML_SEQUENCE_NODE);
	if (rc != MS_OK) {
		return rc;
	}
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	for (size_t j = 0; j < x->c->n_shards; j++) {
		total += x->c->shards[j].n_replicas;
	}
	if (x->c->n_shards + total + n > TOPO_MAX_ENDPOINTS) {
		return conf_err(x, conf_line(seq), path,
				"shards and replicas together must be at most %d", TOPO_MAX_ENDPOINTS);
	}
	if (n == 0) {
		return MS_OK;
	}
	s->replicas = calloc(n, sizeof(*s->replicas));
	if (s->replicas == NULL) {
		return conf_oom(x);
	}
	s->n_replicas = n;
	for (size_t k = 0; k < n && rc == MS_OK; k++) {
		const yaml_node_t *v[MS_ARRAY_LEN(keys)];
		char rp[CONF_PATH_LEN], sub[CONF_PATH_LEN];
		const yaml_node_t *map = conf_node(x, seq->data.sequence.items.start[k]);
		unsigned int port = 3306, weight = 1;

		snprintf(rp, sizeof(rp), "%s[%zu]", path, k);
		rc = conf_keys(x, map, rp, keys, MS_ARRAY_LEN(keys), v);
		if (rc == MS_OK && v[0] == NULL) {
			rc = conf_missing(x, map, rp, "host");
		}
		if (rc == MS_OK) {
			rc = conf_str(x, v[0], conf_join(sub, sizeof(sub), rp, "host"), true,
				      &s->replicas[k].host);
		}
		if (rc == MS_OK && strlen(s->replicas[k].host) > CONF_REPLICA_HOST_MAX) {
			rc = conf_bad(x, v[0], conf_join(sub, sizeof(sub), rp, "host"),
				      "a host name of at most 180 characters");
		}
		if (rc == MS_OK && v[1] != NULL) {
			rc = conf_uint(x, v[1], conf_join(sub, sizeof(sub), rp, "port"), 1, 65535,
				       &port);
		}
		s->replicas[k].port = (uint16_t)port;
		if (rc == MS_OK && v[2] != NULL) {
			rc = conf_uint(x, v[2], conf_join(sub, sizeof(sub), rp, "weight"), 1,
				       CONF_WEIGHT_MAX, &weight);
		}
		s->replicas[k].weight = weight;
	}
	return rc;
}

/* shards[<i>]: name, host, port, user, password, replicas; host and user may not be empty. */
static enum ms_rc
conf_shard(struct conf_ctx *x, const yaml_node_t *map, size_t i)
{
	static const char *const keys[] = { "name", "host", "port", "user", "password",
					    "replicas" };
	enum { K_NAME = 0, K_HOST, K_PORT, K_USER, K_PASSWORD, K_REPLICAS };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	char path[CONF_PATH_LEN], sub[CONF_PATH_LEN];
	struct conf_shard *s = &x->c->shards[i];
	unsigned int port = 3306;
	enum ms_rc rc;

	snprintf(path, sizeof(path), "shards[%zu]", i);
	rc = conf_keys(x, map, path, keys, MS_ARRAY_LEN(keys), v);
	if (rc != MS_OK) {
		return rc;
	}
	for (size_t k = K_NAME; k <= K_USER; k++) {
		if (v[k] == NULL && k != K_PORT) { /* the required ones */
			return conf_missing(x, map, path, keys[k]);
		}
	}
	rc = conf_shard_name(x, v[K_NAME], conf_join(sub, sizeof(sub), path, "name"), i);
	if (rc == MS_OK) {
		rc = conf_str(x, v[K_HOST], conf_join(sub, sizeof(sub), path, "host"), true,
			      &s->host);
	}
	if (rc == MS_OK && v[K_PORT] != NULL) {
		rc = conf_uint(x, v[K_PORT], conf_join(sub, sizeof(sub), path, "port"), 1, 65535,
			       &port);
	}
	s->port = (uint16_t)port;
	if (rc == MS_OK) {
		rc = conf_str(x, v[K_USER], conf_join(sub, sizeof(sub), path, "user"), true,
			      &s->user);
	}
	if (rc == MS_OK && v[K_PASSWORD] != NULL) {
		rc = conf_str(x, v[K_PASSWORD], conf_join(sub, sizeof(sub), path, "password"),
			      false, &s->password);
	}
	if (rc == MS_OK && s->password == NULL) {
		s->password = strdup("");
		rc = s->password != NULL ? MS_OK : conf_oom(x);
	}
	if (rc == MS_OK && v[K_REPLICAS] != NULL) {
		rc = conf_replicas(x, v[K_REPLICAS], conf_join(sub, sizeof(sub), path, "replicas"), s);
	}
	return rc;
}

/* replica_reads: {max_lag_s, after_write_ms}. */
static enum ms_rc
conf_replica_reads(struct conf_ctx *x, const yaml_node_t *map)
{
	static const char *const keys[] = { "max_lag_s", "after_write_ms" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	enum ms_rc rc;

	rc = conf_keys(x, map, "replica_reads", keys, MS_ARRAY_LEN(keys), v);
	if (rc == MS_OK && v[0] != NULL) {
		rc = conf_uint(x, v[0], "replica_reads.max_lag_s", 0, 86400,
			       &x->c->replica_max_lag_s);
	}
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_uint(x, v[1], "replica_reads.after_write_ms", 0, 86400000,
			       &x->c->replica_after_write_ms);
	}
	return rc;
}

static enum ms_rc
conf_shards(struct conf_ctx *x, const yaml_node_t *seq)
{
	size_t n;
	enum ms_rc rc;

	rc = conf_want(x, seq, "shards", YAML_SEQUENCE_NODE);
	if (rc != MS_OK) {
		return rc;
	}
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (n == 0) {
		return conf_err(x, conf_line(seq), "shards", "must list at least one shard");
	}
	if (n > TOPO_MAX_SHARDS) {
		return conf_err(x, conf_line(seq), "shards", "must list at most %d shards, got %zu",
				TOPO_MAX_SHARDS, n);
	}
	x->c->shards = calloc(n, sizeof(*x->c->shards));
	if (x->c->shards == NULL) {
		return conf_oom(x);
	}
	x->c->n_shards = n; /* conf_free() copes with entries left unfilled by an error */
	for (size_t i = 0; i < n; i++) {
		rc = conf_shard(x, conf_node(x, seq->data.sequence.items.start[i]), i);
		if (rc != MS_OK) {
			return rc;
		}
	}
	return MS_OK;
}

/* The top-level mapping. Values are checked in the order of <keys>, not of the file. */
static enum ms_rc
conf_top(struct conf_ctx *x, const yaml_node_t *root)
{
	static const char *const keys[] = { "listen",    "workers", "max_packet",
					    "log_level", "pool",    "timeouts",
					    "users",     "shards",  "sharding",
					    "merge_max", "admin",   "tls",
					    "max_clients", "max_clients_per_user", "metrics",
					    "replica_reads" };
	const yaml_node_t *v[MS_ARRAY_LEN(keys)];
	enum ms_rc rc;

	rc = conf_keys(x, root, "", keys, MS_ARRAY_LEN(keys), v);
	if (rc == MS_OK && v[0] != NULL) {
		rc = conf_listen(x, v[0]);
	}
	if (rc == MS_OK && v[1] != NULL) {
		rc = conf_uint(x, v[1], "workers", 0, CONF_WORKERS_MAX, &x->c->workers);
	}
	if (rc == MS_OK && v[2] != NULL) {
		rc = conf_size(x, v[2], "max_packet", &x->c->max_packet);
	}
	if (rc == MS_OK && v[3] != NULL) {
		rc = conf_log_level(x, v[3], "log_level", &x->c->log_level);
	}
	if (rc == MS_OK && v[4] != NULL) {
		rc = conf_pool(x, v[4]);
	}
	if (rc == MS_OK && v[5] != NULL) {
		rc = conf_timeouts(x, v[5]);
	}
	if (rc == MS_OK) {
		rc = v[6] != NULL ? conf_users(x, v[6]) : conf_missing(x, root, "", "users");
	}
	if (rc == MS_OK) {
		rc = v[7] != NULL ? conf_shards(x, v[7]) : conf_missing(x, root, "", "shards");
	}
	if (rc == MS_OK && v[8] != NULL) {
		rc = conf_sharding(x, v[8]);
	}
	if (rc == MS_OK && v[9] != NULL) {
		rc = conf_size(x, v[9], "merge_max", &x->c->merge_max);
	}
	if (rc == MS_OK && v[10] != NULL) {
		rc = conf_admin(x, v[10]);
	}
	if (rc == MS_OK && v[11] != NULL) {
		rc = conf_tls(x, v[11]);
	}
	if (rc == MS_OK && v[12] != NULL) {
		rc = conf_uint(x, v[12], "max_clients", 0, 1000000, &x->c->max_clients);
	}
	if (rc == MS_OK && v[13] != NULL) {
		rc = conf_uint(x, v[13], "max_clients_per_user", 0, 1000000,
			       &x->c->max_clients_per_user);
	}
	if (rc == MS_OK && v[14] != NULL) {
		static const char *const mkeys[] = { "address", "port" };
		const yaml_node_t *mv[MS_ARRAY_LEN(mkeys)];
		unsigned int mport = 9104;

		rc = conf_keys(x, v[14], "metrics", mkeys, MS_ARRAY_LEN(mkeys), mv);
		if (rc == MS_OK) {
			rc = mv[0] != NULL ? conf_str(x, mv[0], "metrics.address", true,
						      &x->c->metrics_addr)
					   : ((x->c->metrics_addr = strdup("127.0.0.1")) != NULL
						      ? MS_OK
						      : conf_oom(x));
		}
		if (rc == MS_OK && mv[1] != NULL) {
			rc = conf_uint(x, mv[1], "metrics.port", 1, 65535, &mport);
		}
		x->c->metrics_port = (uint16_t)mport;
		if (rc == MS_OK && x->c->metrics_port == x->c->listen_port) {
			rc = conf_err(x, conf_line(v[14]), "metrics.port",
				      "must differ from the client port (%u)", x->c->listen_port);
		}
	}
	if (rc == MS_OK && v[15] != NULL) {
		rc = conf_replica_reads(x, v[15]);
	}
	for (size_t i = 0; rc == MS_OK && x->c->tls == NULL && i < x->c->n_users; i++) {
		if (x->c->users[i].require_ssl) {
			rc = conf_err(x, conf_line(v[6]), "users",
				      "users[%zu] (%s) has require_ssl: true, which needs a tls: "
				      "section", i, x->c->users[i].name);
		}
	}
	if (rc == MS_OK && x->c->admin != NULL && x->c->admin->listen_port == x->c->listen_port &&
	    strcmp(x->c->admin->listen_addr, x->c->listen_addr) == 0) {
		rc = conf_err(x, conf_line(v[10]), "admin.listen",
			      "the admin port must differ from the client port (%u)",
			      x->c->listen_port);
	}
	return rc;
}

/* Line (from 1) of byte <off> of <text>: reader errors carry an offset but no line. */
static size_t
conf_line_at(const char *text, size_t len, size_t off)
{
	size_t line = 1;

	for (size_t i = 0; i < off && i < len; i++) {
		line += text[i] == '\n';
	}
	return line;
}

static enum ms_rc
conf_syntax(struct conf_ctx *x, const yaml_parser_t *p, const char *text, size_t len)
{
	size_t line = p->problem_mark.line + 1;

	/* libyaml's loader fails some allocations without setting an error */
	if (p->error == YAML_MEMORY_ERROR || p->error == YAML_NO_ERROR) {
		return conf_oom(x);
	}
	if (p->error == YAML_READER_ERROR) {
		line = conf_line_at(text, len, p->problem_offset);
	}
	if (x->errlen > 0) {
		snprintf(x->err, x->errlen, "%s:%zu: YAML syntax error: %s", x->name, line,
			 p->problem != NULL ? p->problem : "unknown problem");
	}
	return MS_EINVAL;
}

/*
 * Loads the first YAML document of <text> and makes sure no second one follows, so that a
 * syntax error anywhere in the file is reported before any content error.
 */
static enum ms_rc
conf_parse(struct conf_ctx *x, yaml_parser_t *p, yaml_document_t *doc, const char *text, size_t len)
{
	yaml_document_t extra;
	const yaml_node_t *root;
	enum ms_rc rc = MS_OK;

	if (!yaml_parser_load(p, doc)) {
		return conf_syntax(x, p, text, len);
	}
	x->doc = doc;
	if (!yaml_parser_load(p, &extra)) {
		return conf_syntax(x, p, text, len);
	}
	root = yaml_document_get_root_node(&extra);
	if (root != NULL) {
		rc = conf_err(x, conf_line(root), "", "only one YAML document is allowed");
	}
	yaml_document_delete(&extra);
	if (rc != MS_OK) {
		return rc;
	}
	root = yaml_document_get_root_node(doc);
	if (root == NULL || conf_is_null(root)) { /* no text, only comments, or a bare "---" */
		return conf_err(x, 1, "", "the document is empty; expected a mapping");
	}
	return conf_top(x, root);
}

static void
conf_resolve_workers(struct conf *c)
{
	long n;

	if (c->workers != 0) {
		return;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1) {
		n = 1;
	}
	c->workers = n > (long)CONF_WORKERS_MAX ? CONF_WORKERS_MAX : (unsigned int)n;
}

/* A config holding every default, or NULL when out of memory. */
static struct conf *
conf_new(const char *name)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		return NULL;
	}
	c->path = strdup(name);
	c->listen_addr = strdup("127.0.0.1");
	if (c->path == NULL || c->listen_addr == NULL) {
		conf_free(c);
		return NULL;
	}
	c->listen_port = 3307;
	c->workers = 0;
	c->max_packet = 64u << 20;
	c->merge_max = 256u << 20;
	c->log_level = MS_LOG_INFO;
	c->pool_max = 32;
	c->pool_wait_timeout_ms = 5000;
	c->connect_timeout_ms = 3000;
	c->client_idle_timeout_ms = 0;
	c->client_write_timeout_ms = 60000;
	c->login_timeout_ms = 10000;
	c->xa_recovery_ms = 5000;
	c->xa_abandon_ms = 30000;
	c->deadlock_check_ms = 1000;
	c->shutdown_ms = 10000;
	c->health_ms = 1000;
	c->replica_max_lag_s = 5;
	return c;
}

enum ms_rc
conf_load_string(const char *text, size_t len, const char *name, struct conf **out, char *err,
		 size_t errlen)
{
	struct conf_ctx x = { .name = name, .err = err, .errlen = errlen };
	yaml_document_t doc;
	yaml_parser_t parser;
	enum ms_rc rc;

	*out = NULL;
	if (errlen > 0) {
		err[0] = '\0';
	}
	x.c = conf_new(name);
	if (x.c == NULL) {
		return conf_oom(&x);
	}
	if (!yaml_parser_initialize(&parser)) {
		rc = conf_oom(&x);
		goto fail;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)(text != NULL ? text : ""),
				     text != NULL ? len : 0);
	rc = conf_parse(&x, &parser, &doc, text, len);
	if (x.doc != NULL) {
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	if (rc != MS_OK) {
		goto fail;
	}
	conf_resolve_workers(x.c);
	*out = x.c;
	return MS_OK;
fail:
	conf_free(x.c);
	return rc;
}

/* "<file>: cannot read: <strerror>"; MS_ENOMEM when <errnum> is ENOMEM, else MS_EIO. */
static enum ms_rc
conf_read_error(const char *path, int errnum, char *err, size_t errlen)
{
	char ebuf[128];

	if (errlen > 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 strerror_r(errnum, ebuf, sizeof(ebuf)));
	}
	return errnum == ENOMEM ? MS_ENOMEM : MS_EIO;
}

/* Reads all of <path> into *<text> (malloc'd, owned by the caller) and *<len>; at most 16 MiB. */
static enum ms_rc
conf_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *grown;
	enum ms_rc rc;
	ssize_t k;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return conf_read_error(path, errno, err, errlen);
	}
	for (;;) {
		if (n == cap || buf == NULL) {
			cap = buf == NULL ? cap : cap * 2;
			grown = cap > CONF_FILE_MAX ? NULL : realloc(buf, cap);
			if (grown == NULL) {
				errno = cap > CONF_FILE_MAX ? EFBIG : ENOMEM;
				goto fail;
			}
			buf = grown;
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0) {
			goto fail;
		}
		if (k == 0) {
			break;
		}
		n += (size_t)k;
	}
	close(fd);
	*text = buf;
	*len = n;
	return MS_OK;
fail:
	rc = conf_read_error(path, errno, err, errlen);
	close(fd);
	free(buf);
	return rc;
}

enum ms_rc
conf_load_file(const char *path, struct conf **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	enum ms_rc rc;

	*out = NULL;
	rc = conf_read_file(path, &text, &len, err, errlen);
	if (rc != MS_OK) {
		return rc;
	}
	rc = conf_load_string(text, len, path, out, err, errlen);
	free(text);
	return rc;
}

const struct conf_user *
conf_user_find(const struct conf *c, const char *name, size_t name_len)
{
	for (size_t i = 0; i < c->n_users; i++) {
		const struct conf_user *u = &c->users[i];

		if (strlen(u->name) == name_len && memcmp(u->name, name, name_len) == 0) {
			return u;
		}
	}
	return NULL;
}

void
conf_free(struct conf *c)
{
	if (c == NULL) {
		return;
	}
	for (size_t i = 0; i < c->n_users; i++) {
		free(c->users[i].name);
	}
	for (size_t i = 0; i < c->n_shards; i++) {
		free(c->shards[i].name);
		free(c->shards[i].host);
		free(c->shards[i].user);
		free(c->shards[i].password);
		for (size_t k = 0; k < c->shards[i].n_replicas; k++) {
			free(c->shards[i].replicas[k].host);
		}
		free(c->shards[i].replicas);
	}
	free(c->users);
	free(c->shards);
	topo_map_deinit(&c->map);
	if (c->admin != NULL) {
		for (size_t i = 0; i < c->admin->n_users; i++) {
			free(c->admin->users[i].name);
		}
		free(c->admin->users);
		free(c->admin->listen_addr);
		free(c->admin->store);
		free(c->admin);
	}
	free(c->metrics_addr);
	if (c->tls != NULL) {
		free(c->tls->cert);
		free(c->tls->key);
		free(c->tls);
	}
	free(c->listen_addr);
	free(c->path);
	free(c);
}
