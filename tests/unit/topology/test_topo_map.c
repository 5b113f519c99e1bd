/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/topology/test_topo_map.c - the sharding functions against known answers computed
 * outside myshard (Python's hashlib and struct, see each table), key normalization and what
 * is unprovable, keyspace-id range specs, BETWEEN, table lookup and the map's deep copy.
 * These vectors are pinned forever: a changed output means rows on the wrong shard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/topo.h"
#include "topology/topo_map.h"

#define SIGN 0x8000000000000000ull

static struct topo_value
v_int(int64_t i)
{
	struct topo_value v = { .kind = TOPO_VAL_INT, .neg = i < 0 };

	v.u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
	return v;
}

static struct topo_value
v_mag(bool neg, uint64_t u)
{
	struct topo_value v = { .kind = TOPO_VAL_INT, .neg = neg, .u = u };

	return v;
}

static struct topo_value
v_str(const char *s)
{
	struct topo_value v = { .kind = TOPO_VAL_STRING, .str = s, .len = strlen(s) };

	return v;
}

static struct topo_value
v_kind(enum topo_value_kind k)
{
	struct topo_value v = { .kind = k };

	return v;
}

static struct topo_func
func(enum topo_func_kind kind, enum topo_key_type type, bool ci)
{
	struct topo_func f = { .kind = kind, .key_type = type, .ci = ci };

	return f;
}

static uint64_t
ksid_of(const struct topo_func *f, struct topo_value v)
{
	uint64_t k = 1;

	assert_int_equal(topo_keyspace_id(f, &v, &k), TOPO_ROUTE_OK);
	return k;
}

static enum topo_route_rc
ksid_rc(const struct topo_func *f, struct topo_value v)
{
	uint64_t k;

	return topo_keyspace_id(f, &v, &k);
}

/*
 * hash = first 8 bytes, big-endian, of SHA-1 of the normalized key. Computed with
 * python3: struct.unpack('>Q', hashlib.sha1(b).digest()[:8])[0], b = struct.pack('>q', v)
 * for INT, struct.pack('>Q', v) for UINT, the normalized bytes for STRING.
 */
static void
test_hash_vectors(void **state)
{
	struct topo_func fi = func(TOPO_FUNC_HASH, TOPO_KEY_INT, false);
	struct topo_func fu = func(TOPO_FUNC_HASH, TOPO_KEY_UINT, false);
	struct topo_func fb = func(TOPO_FUNC_HASH, TOPO_KEY_STRING, false);
	struct topo_func fc = func(TOPO_FUNC_HASH, TOPO_KEY_STRING, true);
	/* 95 bytes: crosses the 64-byte chunk the hash is fed in */
	static const char fox[] = "The quick brown fox jumps over the lazy dog, twice: the quick "
				  "brown fox jumps over the lazy dog";

	assert_int_equal(ksid_of(&fi, v_int(42)), 0xacc8ab6be9a9c010ull);
	assert_int_equal(ksid_of(&fi, v_int(-42)), 0x4bafb6d66ba454b0ull);
	assert_int_equal(ksid_of(&fi, v_int(0)), 0x05fe405753166f12ull);
	assert_int_equal(ksid_of(&fi, v_int(1)), 0xcb473678976f425dull);
	assert_int_equal(ksid_of(&fi, v_int(-1)), 0xbe673e8a56eaa9d8ull);
	assert_int_equal(ksid_of(&fi, v_int(INT64_MAX)), 0xbf7f9f8d6e0a3426ull);
	assert_int_equal(ksid_of(&fi, v_int(INT64_MIN)), 0xe19f8c6041fd6c42ull);
	assert_int_equal(ksid_of(&fu, v_int(42)), 0xacc8ab6be9a9c010ull);
	assert_int_equal(ksid_of(&fu, v_mag(false, UINT64_MAX)), 0xbe673e8a56eaa9d8ull);
	assert_int_equal(ksid_of(&fb, v_str("abc")), 0xa9993e364706816aull);
	assert_int_equal(ksid_of(&fc, v_str("abc")), 0x3c01bdbb26f358baull); /* SHA-1("ABC") */
	assert_int_equal(ksid_of(&fb, v_str("")), 0xda39a3ee5e6b4b0dull);
	assert_int_equal(ksid_of(&fb, v_str("   ")), 0xda39a3ee5e6b4b0dull);
	assert_int_equal(ksid_of(&fb, v_str("eu")), 0x608e01334f5575f1ull);
	assert_int_equal(ksid_of(&fc, v_str("eu")), 0xc82d1b09cf322917ull); /* SHA-1("EU") */
	assert_int_equal(ksid_of(&fb, v_str("caf\xc3\xa9")), 0xf424452a9673918cull);
	assert_int_equal(ksid_of(&fb, v_str(fox)), 0xa4073dbff92be1deull);
	assert_int_equal(ksid_of(&fc, v_str(fox)), 0x1d263532a57beb21ull);
	assert_int_equal(
		ksid_of(&fc, v_str("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa     ")),
		0x7a4a9ae537ebbbb8ull); /* SHA-1("A" * 100) */
	/* integer literals for a string key hash their decimal text */
	assert_int_equal(ksid_of(&fb, v_int(-42)), 0x2f4399f4078ed0f2ull);
	assert_int_equal(ksid_of(&fb, v_int(42)), 0x92cfceb39d57d914ull);
	assert_int_equal(ksid_of(&fb, v_mag(false, UINT64_MAX)), 0x234524f466075045ull);
}

/* range = order-preserving: INT flips the sign bit, UINT is itself, STRING its first 8 bytes. */
static void
test_range_vectors(void **state)
{
	struct topo_func fi = func(TOPO_FUNC_RANGE, TOPO_KEY_INT, false);
	struct topo_func fu = func(TOPO_FUNC_RANGE, TOPO_KEY_UINT, false);
	struct topo_func fb = func(TOPO_FUNC_RANGE, TOPO_KEY_STRING, false);
	struct topo_func fc = func(TOPO_FUNC_RANGE, TOPO_KEY_STRING, true);
	struct topo_func fl = func(TOPO_FUNC_LIST, TOPO_KEY_INT, false);

	assert_int_equal(ksid_of(&fi, v_int(42)), 0x800000000000002aull);
	assert_int_equal(ksid_of(&fi, v_int(-1)), 0x7fffffffffffffffull);
	assert_int_equal(ksid_of(&fi, v_int(0)), 0x8000000000000000ull);
	assert_int_equal(ksid_of(&fi, v_int(INT64_MIN)), 0);
	assert_int_equal(ksid_of(&fi, v_int(INT64_MAX)), UINT64_MAX);
	assert_int_equal(ksid_of(&fi, v_int(1000)), 0x80000000000003e8ull);
	assert_int_equal(ksid_of(&fu, v_int(42)), 42);
	assert_int_equal(ksid_of(&fu, v_mag(false, UINT64_MAX)), UINT64_MAX);
	assert_int_equal(ksid_of(&fb, v_str("abc")), 0x6162630000000000ull);
	assert_int_equal(ksid_of(&fb, v_str("abc  ")), 0x6162630000000000ull);
	assert_int_equal(ksid_of(&fb, v_str("abcdefghij")), 0x6162636465666768ull);
	assert_int_equal(ksid_of(&fb, v_str("")), 0);
	assert_int_equal(ksid_of(&fc, v_str("abc")), 0x4142430000000000ull);
	assert_int_equal(ksid_of(&fb, v_int(-42)), 0x2d34320000000000ull); /* "-42" */
	assert_true(ksid_of(&fi, v_int(-5)) < ksid_of(&fi, v_int(3)));
	/* list functions have no keyspace ids */
	assert_int_equal(ksid_rc(&fl, v_int(1)), TOPO_ROUTE_UNPROVABLE);
}

/* An integer key reads '42' as 42: same bytes, same keyspace id, same shard. */
static void
test_int_string_literals(void **state)
{
	static const enum topo_func_kind kinds[] = { TOPO_FUNC_HASH, TOPO_FUNC_RANGE };
	static const enum topo_key_type types[] = { TOPO_KEY_INT, TOPO_KEY_UINT };
	struct topo_func fi = func(TOPO_FUNC_HASH, TOPO_KEY_INT, false);

	for (size_t i = 0; i < MS_ARRAY_LEN(kinds); i++) {
		for (size_t j = 0; j < MS_ARRAY_LEN(types); j++) {
			struct topo_func f = func(kinds[i], types[j], false);

			assert_int_equal(ksid_of(&f, v_str("42")), ksid_of(&f, v_int(42)));
			assert_int_equal(ksid_of(&f, v_str("+42")), ksid_of(&f, v_int(42)));
			assert_int_equal(ksid_of(&f, v_str("0042")), ksid_of(&f, v_int(42)));
			assert_int_equal(ksid_of(&f, v_str("-0")), ksid_of(&f, v_int(0)));
			assert_int_equal(ksid_of(&f, v_str("9007199254740992")),
					 ksid_of(&f, v_int(9007199254740992ll)));
		}
	}
	assert_int_equal(ksid_of(&fi, v_str("-42")), 0x4bafb6d66ba454b0ull);
	assert_int_equal(ksid_of(&fi, v_str("-9007199254740992")),
			 ksid_of(&fi, v_int(-9007199254740992ll)));
}

static void
test_string_collations(void **state)
{
	struct topo_func fc = func(TOPO_FUNC_HASH, TOPO_KEY_STRING, true);
	struct topo_func fb = func(TOPO_FUNC_HASH, TOPO_KEY_STRING, false);

	assert_int_equal(ksid_of(&fc, v_str("ABC")), ksid_of(&fc, v_str("abc")));
	assert_int_equal(ksid_of(&fc, v_str("abc  ")), ksid_of(&fc, v_str("abc")));
	assert_int_equal(ksid_of(&fc, v_str("aBc ")), ksid_of(&fc, v_str("ABC")));
	assert_int_not_equal(ksid_of(&fb, v_str("ABC")), ksid_of(&fb, v_str("abc")));
	assert_int_equal(ksid_of(&fb, v_str("abc  ")), ksid_of(&fb, v_str("abc")));
	assert_int_not_equal(ksid_of(&fb, v_str("  abc")), ksid_of(&fb, v_str("abc")));
	assert_int_equal(ksid_rc(&fc, v_str("abc\t")), TOPO_ROUTE_UNPROVABLE); /* < 0x20 under ci */
	assert_int_not_equal(ksid_of(&fb, v_str("abc\t")), ksid_of(&fb, v_str("abc")));
	/* 42 for a string key is the text "42" */
	assert_int_equal(ksid_of(&fb, v_int(42)), ksid_of(&fb, v_str("42")));
	assert_int_equal(ksid_of(&fc, v_int(-7)), ksid_of(&fc, v_str("-7")));
	assert_int_equal(ksid_of(&fb, v_mag(true, 0)), ksid_of(&fb, v_str("0")));
}

static void
test_unprovable(void **state)
{
	struct topo_func fi = func(TOPO_FUNC_HASH, TOPO_KEY_INT, false);
	struct topo_func fu = func(TOPO_FUNC_RANGE, TOPO_KEY_UINT, false);
	struct topo_func fc = func(TOPO_FUNC_HASH, TOPO_KEY_STRING, true);
	struct topo_func fr = func(TOPO_FUNC_RANGE, TOPO_KEY_STRING, false);
	struct topo_func fb = func(TOPO_FUNC_HASH, TOPO_KEY_STRING, false);
	/* clang-format off */
	static const char *const bad_int_text[] = {
		"42abc", " 42", "42 ", "", "-", "+", "4.5", "1e3", "0x2a", "--1", "4 2",
		"9007199254740993", "-9007199254740993", "99999999999999999999999",
	};
	/* clang-format on */

	for (size_t i = 0; i < MS_ARRAY_LEN(bad_int_text); i++) {
		assert_int_equal(ksid_rc(&fi, v_str(bad_int_text[i])), TOPO_ROUTE_UNPROVABLE);
	}
	assert_int_equal(ksid_rc(&fi, v_kind(TOPO_VAL_OTHER)), TOPO_ROUTE_UNPROVABLE); /* 4.5 */
	assert_int_equal(ksid_rc(&fi, v_kind(TOPO_VAL_NULL)), TOPO_ROUTE_NULL);
	assert_int_equal(ksid_rc(&fb, v_kind(TOPO_VAL_NULL)), TOPO_ROUTE_NULL);
	assert_int_equal(ksid_rc(&fi, v_mag(false, SIGN)), TOPO_ROUTE_UNPROVABLE); /* 2^63 */
	assert_int_equal(ksid_rc(&fi, v_mag(true, SIGN + 1)), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(ksid_rc(&fi, v_mag(false, UINT64_MAX)), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(ksid_rc(&fi, v_mag(true, SIGN)), TOPO_ROUTE_OK); /* INT64_MIN */
	assert_int_equal(ksid_rc(&fu, v_int(-1)), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(ksid_rc(&fu, v_str("-1")), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(ksid_rc(&fu, v_mag(true, 0)), TOPO_ROUTE_OK); /* -0 is 0 */
	assert_int_equal(ksid_rc(&fc, v_str("caf\xc3\xa9")), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(ksid_rc(&fc, v_str("a\x7f")), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(ksid_rc(&fc, v_str("a\x01")), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(ksid_rc(&fb, v_str("caf\xc3\xa9")), TOPO_ROUTE_OK); /* bin: bytes */
	assert_int_equal(ksid_rc(&fb, v_str("a\x01")), TOPO_ROUTE_OK);
	assert_int_equal(ksid_rc(&fr, v_str("a\x01")), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(ksid_rc(&fr, v_str("caf\xc3\xa9")), TOPO_ROUTE_OK);
	assert_int_equal(ksid_rc(&fb, v_kind(TOPO_VAL_OTHER)), TOPO_ROUTE_UNPROVABLE);
}

static void
test_normalize(void **state)
{
	struct topo_func fi = func(TOPO_FUNC_HASH, TOPO_KEY_INT, false);
	struct topo_func fc = func(TOPO_FUNC_LIST, TOPO_KEY_STRING, true);
	struct topo_func fb = func(TOPO_FUNC_LIST, TOPO_KEY_STRING, false);
	struct topo_value v;
	uint8_t buf[32];
	size_t len = 99;

	v = v_int(-2);
	assert_int_equal(topo_key_normalize(&fi, &v, buf, sizeof(buf), &len), TOPO_ROUTE_OK);
	assert_int_equal(len, 8);
	assert_memory_equal(buf, "\xff\xff\xff\xff\xff\xff\xff\xfe", 8);
	v = v_str("258");
	assert_int_equal(topo_key_normalize(&fi, &v, buf, 8, &len), TOPO_ROUTE_OK);
	assert_memory_equal(buf, "\0\0\0\0\0\0\x01\x02", 8);
	assert_int_equal(topo_key_normalize(&fi, &v, buf, 7, &len), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(len, 0);
	v = v_str("Eu-West_1  ");
	assert_int_equal(topo_key_normalize(&fc, &v, buf, sizeof(buf), &len), TOPO_ROUTE_OK);
	assert_int_equal(len, 9);
	assert_memory_equal(buf, "EU-WEST_1", 9);
	assert_int_equal(topo_key_normalize(&fb, &v, buf, sizeof(buf), &len), TOPO_ROUTE_OK);
	assert_memory_equal(buf, "Eu-West_1", 9);
	v = v_mag(true, UINT64_MAX);
	assert_int_equal(topo_key_normalize(&fb, &v, buf, sizeof(buf), &len), TOPO_ROUTE_OK);
	assert_int_equal(len, TOPO_KEY_TEXT_MAX);
	assert_memory_equal(buf, "-18446744073709551615", TOPO_KEY_TEXT_MAX);
	v = v_mag(true, 0);
	assert_int_equal(topo_key_normalize(&fb, &v, buf, sizeof(buf), &len), TOPO_ROUTE_OK);
	assert_int_equal(len, 1);
	assert_memory_equal(buf, "0", 1);
	v = v_kind(TOPO_VAL_NULL);
	assert_int_equal(topo_key_normalize(&fb, &v, buf, sizeof(buf), &len), TOPO_ROUTE_NULL);
}

static void
test_krange_parse(void **state)
{
	static const struct {
		const char *spec;
		uint64_t lo, hi;
	} good[] = {
		{ "-", 0, UINT64_MAX },
		{ "-80", 0, 0x7fffffffffffffffull },
		{ "80-", 0x8000000000000000ull, UINT64_MAX },
		{ "40-80", 0x4000000000000000ull, 0x7fffffffffffffffull },
		{ "4000-8001", 0x4000000000000000ull, 0x8000ffffffffffffull },
		{ "C0-", 0xc000000000000000ull, UINT64_MAX },
		{ "00-01", 0, 0x00ffffffffffffffull },
		{ "-ffffffffffffffff", 0, 0xfffffffffffffffeull },
		{ "0123456789abcdef-", 0x0123456789abcdefull, UINT64_MAX },
	};
	/* clang-format off */
	static const char *const bad[] = {
		"", "80", "8-", "-8", "080-", "80--", "--", "80-80", "80-40", "-00", "x0-",
		"-0g", "40 -80", "0123456789abcdef01-", "+80-", "80-c",
	};
	/* clang-format on */
	uint64_t lo, hi;

	for (size_t i = 0; i < MS_ARRAY_LEN(good); i++) {
		lo = hi = 7;
		assert_int_equal(topo_krange_parse(good[i].spec, &lo, &hi), MS_OK);
		assert_int_equal(lo, good[i].lo);
		assert_int_equal(hi, good[i].hi);
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(bad); i++) {
		if (topo_krange_parse(bad[i], &lo, &hi) != MS_EINVAL) {
			print_error("accepted \"%s\"\n", bad[i]);
			fail();
		}
	}
}

/* A hash function over 3 shards: -40 s0, 40-c0 s1, c0- s2 (given out of order). */
static void
make_hash3(struct topo_func *f)
{
	static const struct topo_krange r[] = {
		{ 0xc000000000000000ull, UINT64_MAX, 2 },
		{ 0, 0x3fffffffffffffffull, 0 },
		{ 0x4000000000000000ull, 0xbfffffffffffffffull, 1 },
	};
	struct topo_map m = { 0 };

	*f = func(TOPO_FUNC_HASH, TOPO_KEY_INT, false);
	f->ranges = malloc(sizeof(r));
	assert_non_null(f->ranges);
	memcpy(f->ranges, r, sizeof(r));
	f->n_ranges = MS_ARRAY_LEN(r);
	m.funcs = f;
	m.n_funcs = 1;
	topo_map_sort(&m);
}

static size_t
route(const struct topo_func *f, struct topo_value v)
{
	size_t shard = 99;

	assert_int_equal(topo_route_value(f, &v, &shard), TOPO_ROUTE_OK);
	return shard;
}

static void
test_route_hash(void **state)
{
	struct topo_func f;
	struct topo_shardset set = { { 0 } };
	struct topo_value v = v_kind(TOPO_VAL_OTHER);
	size_t shard = 5;

	make_hash3(&f);
	assert_int_equal(f.ranges[0].lo, 0);
	assert_int_equal(route(&f, v_int(42)), 1); /* 0xacc8... */
	assert_int_equal(route(&f, v_str("42")), 1);
	assert_int_equal(route(&f, v_int(-42)), 1); /* 0x4baf... */
	assert_int_equal(route(&f, v_int(0)), 0);   /* 0x05fe... */
	assert_int_equal(route(&f, v_int(-1)), 1);  /* 0xbe67... */
	assert_int_equal(route(&f, v_int(1)), 2);   /* 0xcb47... */
	assert_int_equal(topo_route_value(&f, &v, &shard), TOPO_ROUTE_UNPROVABLE);
	v = v_kind(TOPO_VAL_NULL);
	assert_int_equal(topo_route_value(&f, &v, &shard), TOPO_ROUTE_NULL);
	assert_int_equal(topo_route_between(&f, NULL, NULL, &set), TOPO_ROUTE_UNPROVABLE);
	topo_func_shards(&f, &set);
	assert_int_equal(topo_shardset_count(&set), 3);
	free(f.ranges);
}

/* A range function over int keys: [.., 1000) s0, [1000, 5000) s1, [5000, ..) s2. */
static void
make_range3(struct topo_func *f)
{
	*f = func(TOPO_FUNC_RANGE, TOPO_KEY_INT, false);
	f->ranges = calloc(3, sizeof(*f->ranges));
	assert_non_null(f->ranges);
	f->n_ranges = 3;
	f->ranges[0] = (struct topo_krange){ 0, (SIGN ^ 1000) - 1, 0 };
	f->ranges[1] = (struct topo_krange){ SIGN ^ 1000, (SIGN ^ 5000) - 1, 1 };
	f->ranges[2] = (struct topo_krange){ SIGN ^ 5000, UINT64_MAX, 2 };
}

/* The shards topo_route_between() picks for [<lo>, <hi>], as a bit mask of shards 0..63. */
static uint64_t
between(const struct topo_func *f, const struct topo_value *lo, const struct topo_value *hi)
{
	struct topo_shardset set = { { 0 } };

	assert_int_equal(topo_route_between(f, lo, hi, &set), TOPO_ROUTE_OK);
	return set.bits[0];
}

static void
test_route_range(void **state)
{
	struct topo_shardset set = { { 0 } };
	struct topo_value a, b, n = v_kind(TOPO_VAL_NULL), x = v_str("x");
	struct topo_func f;

	make_range3(&f);
	assert_int_equal(route(&f, v_int(-5)), 0);
	assert_int_equal(route(&f, v_int(999)), 0);
	assert_int_equal(route(&f, v_int(1000)), 1);
	assert_int_equal(route(&f, v_str("4999")), 1);
	assert_int_equal(route(&f, v_int(5000)), 2);
	assert_int_equal(route(&f, v_int(INT64_MIN)), 0);
	assert_int_equal(route(&f, v_int(INT64_MAX)), 2);
	a = v_int(1), b = v_int(999);
	assert_int_equal(between(&f, &a, &b), 0x1);
	a = v_int(999), b = v_int(1000);
	assert_int_equal(between(&f, &a, &b), 0x3);
	a = v_int(-100), b = v_int(7000);
	assert_int_equal(between(&f, &a, &b), 0x7);
	assert_int_equal(between(&f, NULL, NULL), 0x7);
	a = v_int(6000);
	assert_int_equal(between(&f, &a, NULL), 0x4);
	b = v_str("1000");
	assert_int_equal(between(&f, NULL, &b), 0x3);
	a = v_int(5000), b = v_int(1000); /* lo > hi: nothing, and that is proven */
	assert_int_equal(between(&f, &a, &b), 0);
	a = v_int(3000);
	assert_int_equal(between(&f, &a, &a), 0x2);
	assert_int_equal(topo_route_between(&f, &x, NULL, &set), TOPO_ROUTE_UNPROVABLE);
	assert_int_equal(topo_route_between(&f, NULL, &n, &set), TOPO_ROUTE_NULL);
	assert_int_equal(topo_shardset_count(&set), 0);
	free(f.ranges);
}

static void
test_route_string_range(void **state)
{
	struct topo_func f = func(TOPO_FUNC_RANGE, TOPO_KEY_STRING, true);
	struct topo_value a = v_str("apple"), b = v_str("Melon");

	f.ranges = calloc(2, sizeof(*f.ranges));
	assert_non_null(f.ranges);
	f.n_ranges = 2;
	f.ranges[0] = (struct topo_krange){ 0, 0x4d00000000000000ull - 1, 0 }; /* .. 'M' */
	f.ranges[1] = (struct topo_krange){ 0x4d00000000000000ull, UINT64_MAX, 1 };
	assert_int_equal(route(&f, v_str("lemon")), 0);
	assert_int_equal(route(&f, v_str("m")), 1);
	assert_int_equal(route(&f, v_str("Mango")), 1);
	assert_int_equal(between(&f, &a, &b), 0x3);
	b = v_str("banana");
	assert_int_equal(between(&f, &a, &b), 0x1);
	free(f.ranges);
}

/* A list function over string keys, under <ci>, entries normalized as topo_key_normalize. */
static void
make_list(struct topo_func *f, bool ci)
{
	static const char *const vals[] = { "US", "EU", "APAC", "" };
	struct topo_map m = { 0 };

	*f = func(TOPO_FUNC_LIST, TOPO_KEY_STRING, ci);
	f->list = calloc(MS_ARRAY_LEN(vals), sizeof(*f->list));
	assert_non_null(f->list);
	f->n_list = MS_ARRAY_LEN(vals);
	for (size_t i = 0; i < MS_ARRAY_LEN(vals); i++) {
		f->list[i].value = strdup(vals[i]);
		assert_non_null(f->list[i].value);
		f->list[i].len = strlen(vals[i]);
		f->list[i].shard = i;
	}
	m.funcs = f;
	m.n_funcs = 1;
	topo_map_sort(&m);
	m.funcs = NULL; /* the caller frees it */
}

static void
free_func(struct topo_func *f)
{
	struct topo_map m = { .funcs = malloc(sizeof(*f)), .n_funcs = 1 };

	assert_non_null(m.funcs);
	m.funcs[0] = *f;
	topo_map_deinit(&m);
	assert_null(m.funcs);
}

static void
test_route_list(void **state)
{
	struct topo_func f, g = func(TOPO_FUNC_LIST, TOPO_KEY_INT, false);
	struct topo_value v = v_str("asia");
	struct topo_shardset set = { { 0 } };
	struct topo_list_entry e = { .shard = 4 };
	size_t shard = 7, len;
	uint8_t key[8];

	make_list(&f, true);
	assert_string_equal(f.list[0].value, ""); /* sorted by (len, bytes) */
	assert_string_equal(f.list[1].value, "EU");
	assert_int_equal(route(&f, v_str("us")), 0);
	assert_int_equal(route(&f, v_str("Eu  ")), 1);
	assert_int_equal(route(&f, v_str("apac")), 2);
	assert_int_equal(route(&f, v_str("  ")), 3);
	assert_int_equal(topo_route_value(&f, &v, &shard), TOPO_ROUTE_UNPROVABLE);
	v = v_str("eu\xc3\xa9");
	assert_int_equal(topo_route_value(&f, &v, &shard), TOPO_ROUTE_UNPROVABLE);
	topo_func_shards(&f, &set);
	assert_int_equal(set.bits[0], 0xf);
	free_func(&f);
	make_list(&f, false);
	v = v_str("us");
	assert_int_equal(topo_route_value(&f, &v, &shard), TOPO_ROUTE_UNPROVABLE); /* bin */
	assert_int_equal(route(&f, v_str("US")), 0);
	free_func(&f);
	/* int keys: 8-byte entries, '7' == 7 */
	v = v_int(7);
	assert_int_equal(topo_key_normalize(&g, &v, key, sizeof(key), &len), TOPO_ROUTE_OK);
	e.value = (char *)key;
	e.len = len;
	g.list = &e;
	g.n_list = 1;
	assert_int_equal(route(&g, v_str("7")), 4);
	assert_int_equal(route(&g, v_int(7)), 4);
	v = v_int(8);
	assert_int_equal(topo_route_value(&g, &v, &shard), TOPO_ROUTE_UNPROVABLE);
}

static void
add_table(struct topo_map *m, const char *schema, const char *name, enum topo_table_kind kind)
{
	struct topo_table *t = &m->tables[m->n_tables++];

	t->schema = schema != NULL ? strdup(schema) : NULL;
	t->name = strdup(name);
	t->kind = kind;
	t->key = kind == TOPO_TABLE_SHARDED ? strdup("id") : NULL;
	t->sequence = -1;
	assert_non_null(t->name);
}

static const struct topo_table *
find(const struct topo_map *m, const char *schema, const char *name)
{
	return topo_table_find(m, schema, schema != NULL ? strlen(schema) : 0, name, strlen(name));
}

/* orders (any schema), shop.orders, customers, shop.items, order: a map to look things up in. */
static void
make_tables(struct topo_map *m)
{
	memset(m, 0, sizeof(*m));
	m->tables = calloc(5, sizeof(*m->tables));
	assert_non_null(m->tables);
	add_table(m, NULL, "orders", TOPO_TABLE_SHARDED);
	add_table(m, "shop", "orders", TOPO_TABLE_GLOBAL);
	add_table(m, NULL, "customers", TOPO_TABLE_SHARDED);
	add_table(m, "shop", "items", TOPO_TABLE_GLOBAL);
	add_table(m, "zoo", "order", TOPO_TABLE_SHARDED);
	topo_map_sort(m);
}

static void
test_table_find(void **state)
{
	struct topo_map m;
	const struct topo_table *t;

	make_tables(&m);
	assert_string_equal(m.tables[0].name, "customers");
	assert_string_equal(m.tables[3].name, "orders");
	assert_string_equal(m.tables[3].schema, "shop"); /* schema-less sorts last */
	assert_null(m.tables[4].schema);
	t = find(&m, "shop", "orders");
	assert_non_null(t);
	assert_int_equal(t->kind, TOPO_TABLE_GLOBAL);
	t = find(&m, "other", "orders");
	assert_ptr_equal(t, &m.tables[4]);
	assert_ptr_equal(find(&m, NULL, "orders"), &m.tables[4]);
	assert_ptr_equal(topo_table_find(&m, "", 0, "orders", 6), &m.tables[4]);
	assert_ptr_equal(topo_table_find(&m, "shopx", 4, "ordersx", 6), &m.tables[3]);
	assert_ptr_equal(find(&m, "shop", "items"), &m.tables[1]);
	assert_null(find(&m, NULL, "items")); /* only shop.items is declared */
	assert_null(find(&m, "other", "items"));
	assert_null(find(&m, "zoo", "orde"));
	assert_null(find(&m, "shop", "Orders")); /* case-sensitive */
	assert_ptr_equal(find(&m, "zoo", "order"), &m.tables[2]);
	assert_true(topo_table_name_known(&m, "items", 5));
	assert_true(topo_table_name_known(&m, "order", 5));
	assert_true(topo_table_name_known(&m, "customers", 9));
	assert_false(topo_table_name_known(&m, "custom", 6));
	assert_false(topo_table_name_known(&m, "zzz", 3));
	assert_false(topo_table_name_known(&m, "", 0));
	topo_map_deinit(&m);
	assert_int_equal(m.n_tables, 0);
	assert_false(topo_table_name_known(&m, "orders", 6));
	assert_null(find(&m, NULL, "orders"));
}

static void
test_shardset(void **state)
{
	struct topo_shardset s = { { 0 } };

	assert_int_equal(topo_shardset_count(&s), 0);
	topo_shardset_add(&s, 0);
	topo_shardset_add(&s, 63);
	topo_shardset_add(&s, 64);
	topo_shardset_add(&s, TOPO_MAX_SHARDS - 1);
	topo_shardset_add(&s, 64);
	assert_int_equal(topo_shardset_count(&s), 4);
	assert_true(topo_shardset_has(&s, 255));
	assert_false(topo_shardset_has(&s, 254));
}

/* A full map: clone it, free the original, the copy still routes and looks up. */
static void
test_clone(void **state)
{
	struct topo_map m, c;
	struct topo_snapshot *snap = NULL;

	make_tables(&m);
	m.funcs = calloc(3, sizeof(*m.funcs));
	assert_non_null(m.funcs);
	m.n_funcs = 3;
	make_hash3(&m.funcs[0]);
	make_range3(&m.funcs[1]);
	make_list(&m.funcs[2], true);
	m.funcs[0].name = strdup("h");
	m.sequences = calloc(1, sizeof(*m.sequences));
	assert_non_null(m.sequences);
	m.n_sequences = 1;
	m.sequences[0] = (struct topo_sequence){ strdup("seq"), 1, 1000 };
	m.default_shard = 2;
	assert_int_equal(topo_map_clone(&m, &c), MS_OK);
	topo_map_deinit(&m);
	assert_int_equal(c.default_shard, 2);
	assert_int_equal(c.n_funcs, 3);
	assert_string_equal(c.funcs[0].name, "h");
	assert_null(c.funcs[1].name);
	assert_int_equal(route(&c.funcs[0], v_int(1)), 2);
	assert_int_equal(route(&c.funcs[1], v_int(1000)), 1);
	assert_int_equal(route(&c.funcs[2], v_str("eu")), 1);
	assert_string_equal(c.sequences[0].name, "seq");
	assert_int_equal(c.sequences[0].block, 1000);
	assert_ptr_equal(find(&c, "shop", "orders"), &c.tables[3]);
	assert_string_equal(c.tables[4].key, "id");
	assert_int_equal(c.tables[4].sequence, -1);
	/* a snapshot owns its map */
	assert_int_equal(topo_snapshot_new(1, &snap), MS_OK);
	snap->map = c;
	topo_snapshot_free(snap);
	/* an empty map clones to an empty map */
	memset(&m, 0, sizeof(m));
	assert_int_equal(topo_map_clone(&m, &c), MS_OK);
	assert_null(c.funcs);
	assert_null(c.tables);
	assert_int_equal(c.default_shard, 0);
	topo_map_deinit(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_range_vectors),
		cmocka_unit_test(test_int_string_literals),
		cmocka_unit_test(test_string_collations),
		cmocka_unit_test(test_unprovable),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_krange_parse),
		cmocka_unit_test(test_route_hash),
		cmocka_unit_test(test_route_range),
		cmocka_unit_test(test_route_string_range),
		cmocka_unit_test(test_route_list),
		cmocka_unit_test(test_table_find),
		cmocka_unit_test(test_shardset),
		cmocka_unit_test(test_clone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
