/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/common/test_common.c - common/: SHA-1 known-answer vectors, pinned forever
 * (FIPS 180 examples, plus padding-boundary lengths computed once with Python's hashlib),
 * fed whole and in odd-sized pieces; the log-level names; the growable byte buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/ms_base.h"
#include "common/ms_log.h"
#include "common/ms_sha1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hex of a digest, for readable failure messages. */
static void
tc_hex(const uint8_t d[MS_SHA1_LEN], char out[2 * MS_SHA1_LEN + 1])
{
	for (int i = 0; i < MS_SHA1_LEN; i++) {
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	}
}

static void
tc_assert_digest(const uint8_t d[MS_SHA1_LEN], const char *want_hex)
{
	char got[2 * MS_SHA1_LEN + 1];

	tc_hex(d, got);
	assert_string_equal(got, want_hex);
}

/* Digest of <msg> fed in pieces of the given sizes, cycling through <sizes>. */
static void
tc_sha1_pieces(const uint8_t *msg, size_t len, const size_t *sizes, size_t nsizes,
	       uint8_t out[MS_SHA1_LEN])
{
	struct ms_sha1 ctx;
	size_t off = 0;

	ms_sha1_init(&ctx);
	for (size_t i = 0; off < len; i++) {
		size_t n = sizes[i % nsizes];

		if (n > len - off) {
			n = len - off;
		}
		ms_sha1_update(&ctx, msg + off, n);
		off += n;
	}
	ms_sha1_final(&ctx, out);
}

static const struct {
	const char *msg;
	const char *hex;
} tc_fips[] = {
	{ "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	{ "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
	  "lmnopqrsmnopqrstnopqrstu",
	  "a49b2446a02c645bf419f995b67091253a04a259" },
};

static void
test_sha1_fips_vectors(void **state)
{
	uint8_t d[MS_SHA1_LEN];

	for (size_t i = 0; i < MS_ARRAY_LEN(tc_fips); i++) {
		ms_sha1(tc_fips[i].msg, strlen(tc_fips[i].msg), d);
		tc_assert_digest(d, tc_fips[i].hex);
	}
	ms_sha1(NULL, 0, d); /* empty input needs no buffer */
	tc_assert_digest(d, tc_fips[0].hex);
}

/* Every split of each FIPS message into two updates gives the same digest. */
static void
test_sha1_every_split(void **state)
{
	uint8_t d[MS_SHA1_LEN];
	struct ms_sha1 ctx;

	for (size_t i = 0; i < MS_ARRAY_LEN(tc_fips); i++) {
		size_t len = strlen(tc_fips[i].msg);

		for (size_t cut = 0; cut <= len; cut++) {
			ms_sha1_init(&ctx);
			ms_sha1_update(&ctx, tc_fips[i].msg, cut);
			ms_sha1_update(&ctx, tc_fips[i].msg + cut, len - cut);
			ms_sha1_final(&ctx, d);
			tc_assert_digest(d, tc_fips[i].hex);
		}
	}
}

/* One million 'a' (FIPS 180 long message), one-shot and in odd-sized chunks. */
static void
test_sha1_million_a(void **state)
{
	static const size_t odd[] = { 1, 3, 7, 13, 63, 65, 127, 129, 1009, 4093, 64, 0, 55, 56 };
	static const size_t one[] = { 1 };
	static const char *const want = "34aa973cd4c4daa4f61eeb2bdbad27316534016f";
	const size_t len = 1000000;
	uint8_t *msg = malloc(len);
	uint8_t d[MS_SHA1_LEN];

	assert_non_null(msg);
	memset(msg, 'a', len);
	ms_sha1(msg, len, d);
	tc_assert_digest(d, want);
	tc_sha1_pieces(msg, len, odd, MS_ARRAY_LEN(odd), d);
	tc_assert_digest(d, want);
	tc_sha1_pieces(msg, len, one, 1, d);
	tc_assert_digest(d, want);
	free(msg);
}

/*
 * Lengths around the padding boundaries (55/56: the length field just fits or spills into a
 * new block; 64, 128: whole blocks). Message bytes are (i * 31 + 7) & 0xff; the digests were
 * computed once with Python's hashlib.sha1.
 */
static void
test_sha1_padding_boundaries(void **state)
{
	static const struct {
		size_t len;
		const char *hex;
	} cases[] = {
		{ 55, "749bbefb28edc4638b28b2b9a9e03ab9a4032b90" },
		{ 56, "a5b6e9c29d201c774753ff8e7fb64931656f5e63" },
		{ 63, "d1a454409359fc372b4d22b3cea6488d6ba1be00" },
		{ 64, "39a0d8b645ad85f1f976731ed112ac9455e28b78" },
		{ 65, "d0c96e18890114a14716e9686528d2e3fdba8d9e" },
		{ 119, "562ecf8a430f8e1056e3619bae33628e9a1d0a4e" },
		{ 120, "353f6d2bf0e91aa91b74a2e0b3f297510f7d825f" },
		{ 127, "bebc42d2d3d1e5fb8ad8895c2dcef2d68a6c279a" },
		{ 128, "0060f2a7e34b6e4d459f560197ef93243732a400" },
		{ 129, "3a16082d1bf09b604907ec6908b9893ca3e937c0" },
	};
	static const size_t pieces[] = { 5, 11, 1 };
	uint8_t msg[129], d[MS_SHA1_LEN];

	for (size_t i = 0; i < sizeof(msg); i++) {
		msg[i] = (uint8_t)(i * 31 + 7);
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		ms_sha1(msg, cases[i].len, d);
		tc_assert_digest(d, cases[i].hex);
		tc_sha1_pieces(msg, cases[i].len, pieces, MS_ARRAY_LEN(pieces), d);
		tc_assert_digest(d, cases[i].hex);
	}
}

/* A context is reusable after ms_sha1_init, and two contexts do not share state. */
static void
test_sha1_contexts(void **state)
{
	struct ms_sha1 a, b;
	uint8_t d[MS_SHA1_LEN];

	ms_sha1_init(&a);
	ms_sha1_update(&a, "junk that is thrown away", 24);
	ms_sha1_init(&a);
	ms_sha1_init(&b);
	ms_sha1_update(&a, "a", 1);
	ms_sha1_update(&b, "abc", 3);
	ms_sha1_update(&a, "bc", 2);
	ms_sha1_final(&b, d);
	tc_assert_digest(d, "a9993e364706816aba3e25717850c26c9cd0d89d");
	ms_sha1_final(&a, d);
	tc_assert_digest(d, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void
test_log_level_parse(void **state)
{
	static const struct {
		const char *name;
		enum ms_log_level level;
	} good[] = {
		{ "error", MS_LOG_ERROR },
		{ "warn", MS_LOG_WARN },
		{ "info", MS_LOG_INFO },
		{ "debug", MS_LOG_DEBUG },
	};
	static const char *const bad[] = {
		"", "warning", "err", "inf", "debug2", "info ", " info", "trace", "verbose", "0",
	};
	enum ms_log_level lv;

	for (size_t i = 0; i < MS_ARRAY_LEN(good); i++) {
		lv = (enum ms_log_level)99;
		assert_true(ms_log_level_parse(good[i].name, &lv));
		assert_int_equal(lv, good[i].level);
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(bad); i++) {
		if (ms_log_level_parse(bad[i], &lv)) {
			fail_msg("ms_log_level_parse accepted \"%s\"", bad[i]);
		}
	}
	/* The levels are ordered: a higher level prints more. */
	assert_true(MS_LOG_ERROR < MS_LOG_WARN && MS_LOG_WARN < MS_LOG_INFO &&
		    MS_LOG_INFO < MS_LOG_DEBUG);
}

static void
test_log_level_set_get(void **state)
{
	enum ms_log_level saved = ms_log_get_level();

	for (int lv = MS_LOG_ERROR; lv <= MS_LOG_DEBUG; lv++) {
		ms_log_set_level((enum ms_log_level)lv);
		assert_int_equal(ms_log_get_level(), lv);
	}
	ms_log_set_level(saved);
}

/* ms_bytes_reserve grows to exactly what is asked, keeps the bytes, and never shrinks. */
static void
test_bytes_reserve(void **state)
{
	uint8_t *buf = NULL;
	size_t cap = 0;

	(void)state;
	assert_true(ms_bytes_reserve(&buf, &cap, 0));
	assert_null(buf);
	assert_int_equal(cap, 0);
	assert_true(ms_bytes_reserve(&buf, &cap, 3));
	assert_non_null(buf);
	assert_int_equal(cap, 3);
	memcpy(buf, "abc", 3);
	assert_true(ms_bytes_reserve(&buf, &cap, 2));
	assert_int_equal(cap, 3);
	assert_true(ms_bytes_reserve(&buf, &cap, 4096));
	assert_int_equal(cap, 4096);
	assert_memory_equal(buf, "abc", 3);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1_fips_vectors),
		cmocka_unit_test(test_sha1_every_split),
		cmocka_unit_test(test_sha1_million_a),
		cmocka_unit_test(test_sha1_padding_boundaries),
		cmocka_unit_test(test_sha1_contexts),
		cmocka_unit_test(test_log_level_parse),
		cmocka_unit_test(test_log_level_set_get),
		cmocka_unit_test(test_bytes_reserve),
	};

	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
