/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf_int.h - what the loader's files share: the load context and the helpers that turn
 * YAML nodes into values or into "<file>:<line>: <key path>: <why>" messages. Internal to conf/
 * (conf.c defines the helpers, conf_sharding.c reads the sharding: section); nothing outside
 * conf/ includes it.
 */
#ifndef MYSHARD_CONF_CONF_INT_H
#define MYSHARD_CONF_CONF_INT_H

#include "conf/conf.h"

#include <yaml.h>

#define CONF_PATH_LEN       160 /* "sharding.functions[12].ranges[3].keyspace" and the like */
#define CONF_GOT_LEN        192 /* a quoted, escaped, shortened value for messages */
#define CONF_SHARD_NAME_MAX 64u

/* State of one load: where messages go and what is being filled in. */
struct conf_ctx {
	yaml_document_t *doc; /* borrowed; the tree being read */
	const char *name;     /* borrowed; the file name messages start with */
	char *err;            /* borrowed; caller's buffer, errlen bytes */
	size_t errlen;
	struct conf *c; /* borrowed; the config being filled in */
};

/* Writes "<file>:<line>: <path>: <why>" to <x>'s buffer; the empty path is the top level.
 * Always returns MS_EINVAL. */
enum ms_rc conf_err(struct conf_ctx *x, size_t line, const char *path, const char *fmt, ...)
	MS_PRINTF(4, 5) MS_MUSTCHECK;
/* "<file>: out of memory"; returns MS_ENOMEM. */
enum ms_rc conf_oom(struct conf_ctx *x) MS_MUSTCHECK;
/* The 1-based line where <n> starts. */
size_t conf_line(const yaml_node_t *n) MS_MUSTCHECK;
yaml_node_t *conf_node(const struct conf_ctx *x, int id) MS_MUSTCHECK;
/* "<parent>.<key>" (just <key> at the top level) in <buf>; returns <buf>. */
const char *conf_join(char *buf, size_t len, const char *parent, const char *key) MS_MUSTCHECK;
/* <s>/<len> quoted and escaped for a message, cut after 40 bytes; returns <buf>. */
const char *conf_quote(const char *s, size_t len, char *buf, size_t buflen) MS_MUSTCHECK;
/* "<path>: must be <what>, got <n>". */
enum ms_rc conf_bad(struct conf_ctx *x, const yaml_node_t *n, const char *path,
		    const char *what) MS_MUSTCHECK;
/* "<path>.<key>: missing required key" at the line of <map>. */
enum ms_rc conf_missing(struct conf_ctx *x, const yaml_node_t *map, const char *path,
			const char *key) MS_MUSTCHECK;
/* Accepts a node of <type> (mapping or list) and rejects anything else. */
enum ms_rc conf_want(struct conf_ctx *x, const yaml_node_t *n, const char *path,
		     yaml_node_type_t type) MS_MUSTCHECK;
/* Points *<s> and *<len> at the text of scalar <n> (owned by the document); rejects mappings, lists,
 * null and NUL bytes, describing the wanted value as <what>. */
enum ms_rc conf_scalar(struct conf_ctx *x, const yaml_node_t *n, const char *path, const char *what,
		       const char **s, size_t *len) MS_MUSTCHECK;
/* Replaces *<dst> with a copy of string <n>; "" is rejected when <nonempty>. */
enum ms_rc conf_str(struct conf_ctx *x, const yaml_node_t *n, const char *path, bool nonempty,
		    char **dst) MS_MUSTCHECK;
/* Reads the leading decimal digits of <s> into *<v> (which stops growing past <cap>); returns
 * how many digits there were. */
size_t conf_digits(const char *s, size_t len, uint64_t cap, uint64_t *v) MS_MUSTCHECK;
/* An integer <lo>..<hi>: decimal digits only, quoted or not. */
enum ms_rc conf_uint(struct conf_ctx *x, const yaml_node_t *n, const char *path, unsigned int lo,
		     unsigned int hi, unsigned int *out) MS_MUSTCHECK;
/* True for [A-Za-z0-9_-]{1,64}. */
bool conf_is_name(const char *s, size_t len) MS_MUSTCHECK;
/* Checks mapping <map>: every key one of <keys>, none twice; vals[i] = value of keys[i] or NULL. */
enum ms_rc conf_keys(struct conf_ctx *x, const yaml_node_t *map, const char *path,
		     const char *const *keys, size_t n_keys, const yaml_node_t **vals) MS_MUSTCHECK;

/* The sharding: section (conf_sharding.c, conf_func.c). */
#define CONF_NAME_WANT "1..64 characters from A-Z a-z 0-9 _ -"

/*
 * One entry that must be unique (a list value, a table), for finding duplicates by sorting:
 * equal when <a> and <b> are.
 */
struct conf_dup {
	const char *a; /* borrowed: the key bytes (normalized value, table name) */
	size_t alen;
	const char *b;           /* borrowed: second part (table schema), may be NULL */
	size_t ord;              /* file order over every list checked together */
	const char *list;        /* borrowed: key path of the list, e.g. "sharding.tables" */
	size_t idx;              /* index in <list> */
	const yaml_node_t *node; /* borrowed: where a message about it points */
};

/* "<list>[<i>]" in <buf>; cut to fit, as it only names things. */
void conf_index(char *buf, size_t len, const char *list, size_t i);
/* Number of items of list <seq>. */
size_t conf_len(const yaml_node_t *seq) MS_MUSTCHECK;
/* Item <i> of list <seq>. */
const yaml_node_t *conf_item(const struct conf_ctx *x, const yaml_node_t *seq,
			     size_t i) MS_MUSTCHECK;
/* Scalar <n>, quoted for a message as conf_quote() does; returns <buf>. */
const char *conf_text(const yaml_node_t *n, char *buf, size_t len) MS_MUSTCHECK;
/* *<out> = the index in shards[] of the shard named by <n>; else "unknown shard". */
enum ms_rc conf_shard_ref(struct conf_ctx *x, const yaml_node_t *n, const char *path,
			  size_t *out) MS_MUSTCHECK;
/* Checks that <seq> is a list and allocates one zeroed <size>-byte element per item in *<arr>
 * (*<n> of them; NULL for an empty list, which is rejected as "must list at least one <what>"
 * unless <what> is NULL). */
enum ms_rc conf_array(struct conf_ctx *x, const yaml_node_t *seq, const char *path,
		      const char *what, size_t size, void **arr, size_t *n) MS_MUSTCHECK;
/* Sorts the <n> entries of <d> and returns the duplicate that comes first in file order (its
 * earlier twin in *<first>), or NULL when all are unique. */
const struct conf_dup *conf_dup_find(struct conf_dup *d, size_t n,
				     const struct conf_dup **first) MS_MUSTCHECK;
/* "also <last part of d's list>[<idx>]", e.g. "also values[0]"; returns <buf>. */
const char *conf_dup_also(const struct conf_dup *d, char *buf, size_t len) MS_MUSTCHECK;
/* Reads sharding.functions (list <seq>) into x->c->map.funcs. */
enum ms_rc conf_funcs(struct conf_ctx *x, const yaml_node_t *seq) MS_MUSTCHECK;

/* Reads the optional top-level sharding: mapping <map> into x->c->map; x->c->shards must be
 * filled already. Without the section the map stays all zero: no functions, no tables, default
 * shard 0. */
enum ms_rc conf_sharding(struct conf_ctx *x, const yaml_node_t *map) MS_MUSTCHECK;

/* What a key value of <f> must look like, for messages ("an integer ...", "a string ..."). */
const char *conf_key_what(const struct topo_func *f) MS_MUSTCHECK;
/* True if <s>/<len> is an optional '-' and 1+ decimal digits whose magnitude fits 64 bits
 * (*<neg>, *<u>). */
bool conf_int_text(const char *s, size_t len, bool *neg, uint64_t *u) MS_MUSTCHECK;

#endif /* MYSHARD_CONF_CONF_INT_H */
