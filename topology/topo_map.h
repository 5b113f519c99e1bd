/* SPDX-License-Identifier: Apache-2.0 */
/*
 * topology/topo_map.h - the sharding map inside a snapshot: sharding functions (hash, range,
 * list) that turn a key value into a 64-bit keyspace id, the keyspace-id ranges each shard
 * owns, sharded / global tables and sequences. Pure and immutable once built; any thread.
 * The exact definitions of the functions are in docs/sharding.md and pinned by known-answer
 * tests (tests/unit/topology): changing an output is a data-loss bug, never a refactor.
 */
#ifndef MYSHARD_TOPOLOGY_TOPO_MAP_H
#define MYSHARD_TOPOLOGY_TOPO_MAP_H

#include "common/ms_base.h"

#define TOPO_MAX_SHARDS 256 /* shard sets are fixed bitmaps of this many bits */
#define TOPO_MAX_ENDPOINTS TOPO_MAX_SHARDS /* shards and read replicas together */

/* A set of shard indexes (bit i = shard i of the snapshot). */
struct topo_shardset {
	uint64_t bits[TOPO_MAX_SHARDS / 64];
};

enum topo_key_type {
	TOPO_KEY_INT = 0, /* signed 64-bit integer column (TINYINT..BIGINT) */
	TOPO_KEY_UINT,    /* BIGINT UNSIGNED (and smaller unsigned) */
	TOPO_KEY_STRING,  /* CHAR/VARCHAR/... */
};

enum topo_func_kind {
	TOPO_FUNC_HASH = 0, /* keyspace id = hash of the normalized key */
	TOPO_FUNC_RANGE,    /* keyspace id = the key value, order-preserving */
	TOPO_FUNC_LIST,     /* explicit value -> shard */
};

/* [lo, hi] inclusive keyspace-id interval owned by <shard>. Ranges of a function are sorted,
 * do not overlap and cover 0..UINT64_MAX without gaps (hash, range). */
struct topo_krange {
	uint64_t lo;
	uint64_t hi;
	size_t shard; /* index in the snapshot */
};

/* One explicit value of a list function. */
struct topo_list_entry {
	char *value; /* owned; normalized key bytes (see topo_key_normalize) */
	size_t len;
	size_t shard;
};

struct topo_func {
	char *name; /* owned */
	enum topo_func_kind kind;
	enum topo_key_type key_type;
	bool ci; /* string keys compare case-insensitively (a _ci collation) */
	struct topo_krange *ranges; /* owned; hash and range functions */
	size_t n_ranges;
	struct topo_list_entry *list; /* owned; list functions, sorted by (len, bytes) */
	size_t n_list;
};

enum topo_table_kind {
	TOPO_TABLE_SHARDED = 0, /* rows spread by the key column's function */
	TOPO_TABLE_GLOBAL,      /* a full copy on every shard: read one, write all */
};

struct topo_table {
	char *schema; /* owned; NULL = the table name matches in any schema */
	char *name;   /* owned; compared case-sensitively, as MariaDB on Linux does */
	enum topo_table_kind kind;
	char *key;    /* owned; sharded: key column name (compared case-insensitively) */
	size_t func;  /* sharded: index in snapshot->funcs; same func = co-located */
	long sequence; /* sharded: index in snapshot->sequences feeding the key when the INSERT
			  gives none (AUTO_INCREMENT key), or -1 */
};

/* A cross-shard id sequence (rows in myshard.sequences on <shard>). */
struct topo_sequence {
	char *name; /* owned */
	size_t shard;
	uint32_t block; /* ids reserved per round trip by one worker */
};

/* A literal key value as the parser saw it. */
enum topo_value_kind {
	TOPO_VAL_NULL = 0,
	TOPO_VAL_INT,    /* an integer literal: <neg> and <u> (magnitude) */
	TOPO_VAL_STRING, /* a string literal, unescaped bytes in <str>/<len> */
	TOPO_VAL_OTHER,  /* decimal/float/hex/bit or anything else: never provably routed */
};

struct topo_value {
	enum topo_value_kind kind;
	bool neg;
	uint64_t u;
	const char *str; /* borrowed */
	size_t len;
};

enum topo_route_rc {
	TOPO_ROUTE_OK = 0,   /* *<shard> / keyspace id computed */
	TOPO_ROUTE_UNPROVABLE, /* the value cannot be mapped with certainty ('42abc' for an int
				  key, a non-ASCII string under a _ci key, 4.5, out of range,
				  a value missing from a list function) */
	TOPO_ROUTE_NULL,     /* NULL key */
};

/* The parts a snapshot adds for sharding (embedded in struct topo_snapshot as <map>). */
struct topo_map {
	struct topo_func *funcs; /* owned */
	size_t n_funcs;
	struct topo_table *tables; /* owned, sorted by name then schema */
	size_t n_tables;
	struct topo_sequence *sequences; /* owned */
	size_t n_sequences;
	size_t default_shard; /* unsharded tables and statements without tables */
};

/* Frees everything <m> owns and leaves it all zero; copes with a half-built map (NULL names,
 * unfilled entries). */
void topo_map_deinit(struct topo_map *m);
/* Deep copy of <src> into <dst> (overwritten, not freed first). On MS_ENOMEM <dst> is left all
 * zero and owns nothing. Any thread; <src> is not changed. */
enum ms_rc topo_map_clone(const struct topo_map *src, struct topo_map *dst) MS_MUSTCHECK;
/* Puts <m>'s tables (by name, then schema, schema-less last), list entries (by len, bytes)
 * and ranges (by lo) into the order the lookups rely on. Builders (conf/) call it once after
 * filling <m>; the lookups below are wrong on an unsorted map. */
void topo_map_sort(struct topo_map *m);

/* Longest decimal text topo_key_normalize() makes from an integer literal for a string key
 * ("-18446744073709551615"). */
#define TOPO_KEY_TEXT_MAX 21
/* Largest magnitude a string literal may have for an integer key (2^53): beyond it MySQL and
 * MariaDB < 10.3.36 compare string and integer as doubles, so '9007199254740993' also matches
 * the row 9007199254740992. Larger ones are UNPROVABLE. */
#define TOPO_KEY_STRING_INT_MAX (1ull << 53)

/*
 * Normalizes <v> for <f>'s key type into <buf> (at least 8 bytes; strings need <v>->len):
 * INT/UINT -> 8 bytes big-endian (INT: two's complement); STRING -> the bytes, trailing spaces
 * removed, ASCII letters upper-cased when <f>->ci. A string literal is accepted for an integer key
 * only if it is an optional sign and decimal digits; an integer literal for a string key becomes
 * its decimal text. Returns TOPO_ROUTE_OK with *<len>, or UNPROVABLE / NULL.
 * <cap> must be at least max(8, <v>->len, TOPO_KEY_TEXT_MAX); a smaller one gives UNPROVABLE.
 * Stricter than the summary above, never looser (docs/sharding.md has the exact rules): a string
 * literal for an integer key is also UNPROVABLE beyond +-TOPO_KEY_STRING_INT_MAX; a string key
 * is UNPROVABLE when <f>->ci and it holds a byte < 0x20 or >= 0x7f, or when <f> is a RANGE
 * function and it holds a byte < 0x20 (the server orders those unlike their bytes).
 */
enum topo_route_rc topo_key_normalize(const struct topo_func *f, const struct topo_value *v,
				      uint8_t *buf, size_t cap, size_t *len) MS_MUSTCHECK;
/* Keyspace id of <v> under <f> (hash or range functions). */
enum topo_route_rc topo_keyspace_id(const struct topo_func *f, const struct topo_value *v,
				    uint64_t *ksid) MS_MUSTCHECK;
/* The shard holding key <v> under <f> (any kind). */
enum topo_route_rc topo_route_value(const struct topo_func *f, const struct topo_value *v,
				    size_t *shard) MS_MUSTCHECK;
/*
 * Adds to <set> every shard that may hold a key in [<lo>, <hi>] (inclusive; a NULL bound is
 * open) under a RANGE function. Returns UNPROVABLE for other kinds or unmappable bounds (the
 * caller then scatters).
 */
enum topo_route_rc topo_route_between(const struct topo_func *f, const struct topo_value *lo,
				      const struct topo_value *hi, struct topo_shardset *set) MS_MUSTCHECK;
/* Adds every shard some range or list entry of <f> maps to. */
void topo_func_shards(const struct topo_func *f, struct topo_shardset *set);

/* The table called <name> in <schema> (NULL/"" = no schema known): an entry with that schema,
 * else one without a schema; NULL if neither. */
const struct topo_table *topo_table_find(const struct topo_map *m, const char *schema,
					 size_t schema_len, const char *name, size_t name_len) MS_MUSTCHECK;
/* True if any table of <m> is called <name> (any schema): cheap pre-check for pass-through. */
bool topo_table_name_known(const struct topo_map *m, const char *name, size_t name_len) MS_MUSTCHECK;

/* Parses a keyspace-id range spec "-80", "40-80", "80-", "-" into [lo, hi]. The hex digits
 * are the leading bytes of the id: "80" = 0x8000000000000000; the upper bound is exclusive in
 * the text ("-80" = 0..0x7fff...ff). Returns MS_EINVAL on bad text. */
enum ms_rc topo_krange_parse(const char *spec, uint64_t *lo, uint64_t *hi) MS_MUSTCHECK;

static inline void
topo_shardset_add(struct topo_shardset *s, size_t i)
{
	s->bits[i / 64] |= 1ull << (i % 64);
}

static inline bool
topo_shardset_has(const struct topo_shardset *s, size_t i)
{
	return (s->bits[i / 64] >> (i % 64)) & 1u;
}

size_t topo_shardset_count(const struct topo_shardset *s) MS_MUSTCHECK;

#endif /* MYSHARD_TOPOLOGY_TOPO_MAP_H */
