/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/protocol/test_packet.c - mp_packet: headers, fixed and length-encoded fields,
 * and the writer. The core check runs every stream reader at every offset of every golden
 * packet and then on every truncated prefix of that input: a prefix shorter than what the
 * reader consumed must give MP_NEED_MORE with the cursor untouched.
 */
#include "tp.h"

#include <stdlib.h>
#include <string.h>

/* The stream readers under test, behind one signature. */
enum tp_reader {
	TP_R_HDR = 0,
	TP_R_U8,
	TP_R_U16,
	TP_R_U24,
	TP_R_U32,
	TP_R_U64,
	TP_R_LENENC,
	TP_R_LSTR,
	TP_R_NULSTR,
	TP_R_COUNT
};

static const char *const tp_reader_names[TP_R_COUNT] = {
	"mp_hdr_read", "mp_u8_read",     "mp_u16_read",        "mp_u24_read",     "mp_u32_read",
	"mp_u64_read", "mp_lenenc_read", "mp_lenenc_str_read", "mp_nul_str_read",
};

/* What a reader produced: an integer or a view. */
struct tp_val {
	uint64_t u;
	struct ms_slice s;
};

static enum mp_rc
tp_read(enum tp_reader r, struct mp_cursor *c, struct tp_val *v)
{
	struct mp_hdr h;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	enum mp_rc rc;

	memset(v, 0, sizeof(*v));
	switch (r) {
	case TP_R_HDR:
		rc = mp_hdr_read(c, &h);
		v->u = (uint64_t)h.len << 8 | h.seq;
		return rc;
	case TP_R_U8:
		rc = mp_u8_read(c, &u8);
		v->u = u8;
		return rc;
	case TP_R_U16:
		rc = mp_u16_read(c, &u16);
		v->u = u16;
		return rc;
	case TP_R_U24:
		rc = mp_u24_read(c, &u32);
		v->u = u32;
		return rc;
	case TP_R_U32:
		rc = mp_u32_read(c, &u32);
		v->u = u32;
		return rc;
	case TP_R_U64:
		return mp_u64_read(c, &v->u);
	case TP_R_LENENC:
		return mp_lenenc_read(c, &v->u);
	case TP_R_LSTR:
		return mp_lenenc_str_read(c, &v->s);
	default:
		return mp_nul_str_read(c, &v->s);
	}
}

/*
 * Runs reader <r> on all <n> bytes at <p>, then on every strict prefix. Expected on a prefix
 * of k bytes: the same result if k covers what the full run consumed; MP_MALFORMED if the full
 * run was malformed and k >= 1 (the verdict comes from the first byte: lenenc fb/ff);
 * otherwise MP_NEED_MORE. Any non-OK result must leave the cursor exactly as it was.
 */
static void
tp_check_prefixes(const char *what, size_t off, enum tp_reader r, const uint8_t *p, size_t n)
{
	struct mp_cursor c;
	struct tp_val full, v;
	enum mp_rc rc_full, rc, want;
	size_t used;

	mp_cursor_init(&c, p, n);
	rc_full = tp_read(r, &c, &full);
	used = (size_t)(c.pos - p);
	if (rc_full != MP_OK && used != 0) {
		fail_msg("%s+%zu %s: rc %d moved the cursor by %zu", what, off, tp_reader_names[r],
			 rc_full, used);
	}
	for (size_t k = 0; k < n; k++) {
		mp_cursor_init(&c, p, k);
		rc = tp_read(r, &c, &v);
		if (rc_full == MP_OK && k >= used) {
			want = MP_OK;
		} else if (rc_full == MP_MALFORMED && k >= 1) {
			want = MP_MALFORMED;
		} else {
			want = MP_NEED_MORE;
		}
		if (rc != want) {
			fail_msg("%s+%zu %s: prefix %zu of %zu gave rc %d, want %d", what, off,
				 tp_reader_names[r], k, n, rc, want);
		}
		if (rc != MP_OK && (c.pos != p || c.end != p + k)) {
			fail_msg("%s+%zu %s: prefix %zu: rc %d moved the cursor", what, off,
				 tp_reader_names[r], k, rc);
		}
		if (rc == MP_OK && ((size_t)(c.pos - p) != used || v.u != full.u ||
				    v.s.ptr != full.s.ptr || v.s.len != full.s.len)) {
			fail_msg("%s+%zu %s: prefix %zu decoded differently", what, off,
				 tp_reader_names[r], k);
		}
	}
}

/* Every reader, at every offset of every packet (header included) of every capture. */
static void
test_stream_readers_every_prefix(void **state)
{
	struct tp_pkt pk[TP_MAX_PKTS];
	size_t runs = 0;

	for (size_t g = 0; g < gold_all_count; g++) {
		size_t n = tp_split(gold_all[g], pk, TP_MAX_PKTS);

		for (size_t i = 0; i < n; i++) {
			const uint8_t *raw = pk[i].p - MP_HDR_LEN;
			size_t rawlen = MP_HDR_LEN + pk[i].len;

			for (size_t off = 0; off <= rawlen; off++) {
				for (int r = 0; r < TP_R_COUNT; r++) {
					tp_check_prefixes(gold_all[g]->name, off, (enum tp_reader)r,
							  raw + off, rawlen - off);
					runs++;
				}
			}
		}
	}
	assert_true(runs > 20000); /* the captures really were walked */
}

/* Headers of the captures: lengths add up, sequence ids count up from the first one. */
static void
test_hdr_golden(void **state)
{
	struct tp_pkt pk[TP_MAX_PKTS];
	uint8_t hdr[MP_HDR_LEN];

	for (size_t g = 0; g < gold_all_count; g++) {
		size_t n = tp_split(gold_all[g], pk, TP_MAX_PKTS);

		assert_true(n >= 1);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(pk[i].seq, (uint8_t)(pk[0].seq + i));
			mp_hdr_put(hdr, pk[i].len, pk[i].seq);
			assert_memory_equal(hdr, pk[i].p - MP_HDR_LEN, MP_HDR_LEN);
		}
	}
	/* A server reply starts at seq 1, the greeting at 0, the login OK at 2. */
	assert_int_equal(tp_pkt(&gold_greeting, 0).seq, 0);
	assert_int_equal(tp_pkt(&gold_cli_hsresp, 0).seq, 1);
	assert_int_equal(tp_pkt(&gold_login_ok, 0).seq, 2);
	assert_int_equal(tp_pkt(&gold_q_table, 0).seq, 1);
	assert_int_equal(tp_pkt(&gold_cli_req_select1, 0).seq, 0);
}

static void
test_hdr_put_read(void **state)
{
	static const struct {
		uint32_t len;
		uint8_t seq;
		uint8_t bytes[MP_HDR_LEN];
	} cases[] = {
		{ 0, 0, { 0x00, 0x00, 0x00, 0x00 } },
		{ 1, 1, { 0x01, 0x00, 0x00, 0x01 } },
		{ 0x123456, 0x7f, { 0x56, 0x34, 0x12, 0x7f } },
		{ MP_MAX_PAYLOAD, 255, { 0xff, 0xff, 0xff, 0xff } },
	};
	uint8_t b[MP_HDR_LEN];
	struct mp_cursor c;
	struct mp_hdr h;

	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		mp_hdr_put(b, cases[i].len, cases[i].seq);
		assert_memory_equal(b, cases[i].bytes, MP_HDR_LEN);
		mp_cursor_init(&c, b, sizeof(b));
		assert_int_equal(mp_hdr_read(&c, &h), MP_OK);
		assert_int_equal(h.len, cases[i].len);
		assert_int_equal(h.seq, cases[i].seq);
		assert_ptr_equal(c.pos, b + MP_HDR_LEN);
	}
}

static void
test_fixed_ints(void **state)
{
	static const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xff };
	struct mp_cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	mp_cursor_init(&c, b, sizeof(b));
	assert_int_equal(mp_u8_read(&c, &u8), MP_OK);
	assert_int_equal(u8, 0x01);
	mp_cursor_init(&c, b, sizeof(b));
	assert_int_equal(mp_u16_read(&c, &u16), MP_OK);
	assert_int_equal(u16, 0x0201);
	mp_cursor_init(&c, b, sizeof(b));
	assert_int_equal(mp_u24_read(&c, &u32), MP_OK);
	assert_int_equal(u32, 0x030201);
	assert_int_equal(mp_cursor_left(&c), sizeof(b) - 3);
	mp_cursor_init(&c, b, sizeof(b));
	assert_int_equal(mp_u32_read(&c, &u32), MP_OK);
	assert_int_equal(u32, 0x04030201u);
	mp_cursor_init(&c, b, sizeof(b));
	assert_int_equal(mp_u64_read(&c, &u64), MP_OK);
	assert_true(u64 == 0x0807060504030201ull);
	assert_int_equal(mp_u8_read(&c, &u8), MP_OK);
	assert_int_equal(u8, 0xff);
	assert_int_equal(mp_u8_read(&c, &u8), MP_NEED_MORE);
	assert_int_equal(mp_cursor_left(&c), 0);
}

/* lenenc encodings at every width boundary, written and read back, every prefix too. */
static void
test_lenenc_boundaries(void **state)
{
	/* clang-format off */
	static const struct {
		uint64_t v;
		size_t n;
		uint8_t bytes[9];
	} cases[] = {
		{ 0, 1, { 0x00 } },
		{ 1, 1, { 0x01 } },
		{ 250, 1, { 0xfa } },
		{ 251, 3, { 0xfc, 0xfb, 0x00 } },
		{ 0xffff, 3, { 0xfc, 0xff, 0xff } },
		{ 0x10000, 4, { 0xfd, 0x00, 0x00, 0x01 } },
		{ 0xffffff, 4, { 0xfd, 0xff, 0xff, 0xff } },
		{ 0x1000000, 9, { 0xfe, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00 } },
		{ 0x0123456789abcdefull,
		  9,
		  { 0xfe, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01 } },
		{ UINT64_MAX, 9, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	}; /* clang-format on */

	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		uint8_t buf[16];
		struct mp_writer w;
		struct mp_cursor c;
		uint64_t v = 0;

		mp_writer_init(&w, buf, sizeof(buf));
		mp_lenenc_put(&w, cases[i].v);
		assert_false(w.overflow);
		assert_int_equal(mp_writer_len(&w), cases[i].n);
		assert_memory_equal(buf, cases[i].bytes, cases[i].n);
		assert_int_equal(mp_lenenc_size(buf[0]), cases[i].n);

		buf[cases[i].n] = 0x77; /* a trailing byte must not be consumed */
		mp_cursor_init(&c, buf, cases[i].n + 1);
		assert_int_equal(mp_lenenc_read(&c, &v), MP_OK);
		assert_true(v == cases[i].v);
		assert_ptr_equal(c.pos, buf + cases[i].n);
		for (size_t k = 0; k < cases[i].n; k++) {
			mp_cursor_init(&c, buf, k);
			assert_int_equal(mp_lenenc_read(&c, &v), MP_NEED_MORE);
			assert_ptr_equal(c.pos, buf);
		}
	}
}

/* fb (NULL) and ff (ERR marker) never start a length: MP_MALFORMED, however much follows. */
static void
test_lenenc_bad_first_byte(void **state)
{
	static const uint8_t bad[] = { 0xfb, 0xff };
	uint8_t buf[9];
	struct mp_cursor c;
	struct ms_slice s;
	uint64_t v;

	for (size_t i = 0; i < MS_ARRAY_LEN(bad); i++) {
		memset(buf, 0x01, sizeof(buf));
		buf[0] = bad[i];
		assert_int_equal(mp_lenenc_size(bad[i]), 0);
		for (size_t k = 1; k <= sizeof(buf); k++) {
			mp_cursor_init(&c, buf, k);
			assert_int_equal(mp_lenenc_read(&c, &v), MP_MALFORMED);
			assert_ptr_equal(c.pos, buf);
			assert_int_equal(mp_lenenc_str_read(&c, &s), MP_MALFORMED);
			assert_ptr_equal(c.pos, buf);
		}
		mp_cursor_init(&c, buf, 0);
		assert_int_equal(mp_lenenc_read(&c, &v), MP_NEED_MORE);
	}
}

static void
test_lenenc_size_all_bytes(void **state)
{
	for (unsigned b = 0; b < 256; b++) {
		size_t want = b < 0xfb ? 1 : b == 0xfc ? 3 : b == 0xfd ? 4 : b == 0xfe ? 9 : 0;

		assert_int_equal(mp_lenenc_size((uint8_t)b), want);
	}
}

/* Length-encoded strings whose lengths sit on the lenenc width boundaries. */
static void
test_lenenc_str_boundaries(void **state)
{
	static const size_t lens[] = { 0, 1, 250, 251, 0xffff, 0x10000 };
	size_t cap = 0x10000 + 16;
	uint8_t *buf = malloc(cap);
	uint8_t *src = malloc(0x10000);

	assert_non_null(buf);
	assert_non_null(src);
	for (size_t i = 0; i < 0x10000; i++) {
		src[i] = (uint8_t)(i * 7 + 3);
	}
	for (size_t i = 0; i < MS_ARRAY_LEN(lens); i++) {
		struct mp_writer w;
		struct mp_cursor c;
		struct ms_slice s;
		size_t hdr = lens[i] < 251 ? 1 : lens[i] <= 0xffff ? 3 : 4;

		mp_writer_init(&w, buf, cap);
		mp_lenenc_str_put(&w, src, lens[i]);
		assert_false(w.overflow);
		assert_int_equal(mp_writer_len(&w), hdr + lens[i]);
		mp_cursor_init(&c, buf, mp_writer_len(&w));
		assert_int_equal(mp_lenenc_str_read(&c, &s), MP_OK);
		assert_int_equal(s.len, lens[i]);
		assert_ptr_equal(s.ptr, buf + hdr);
		if (lens[i] > 0) {
			assert_memory_equal(s.ptr, src, lens[i]);
		}
		assert_int_equal(mp_cursor_left(&c), 0);
		/* Cuts in the header and at the last byte of the data. */
		for (size_t k = 0; k < hdr + lens[i] && k < hdr + 2; k++) {
			mp_cursor_init(&c, buf, k);
			assert_int_equal(mp_lenenc_str_read(&c, &s), MP_NEED_MORE);
			assert_ptr_equal(c.pos, buf);
		}
		if (lens[i] > 0) {
			mp_cursor_init(&c, buf, hdr + lens[i] - 1);
			assert_int_equal(mp_lenenc_str_read(&c, &s), MP_NEED_MORE);
			assert_ptr_equal(c.pos, buf);
		}
	}
	free(src);
	free(buf);
}

static void
test_nul_bytes_rest(void **state)
{
	static const uint8_t b[] = { 'a', 'b', 'c', 0, 0, 'd', 'e', 'f' };
	struct mp_cursor c;
	struct ms_slice s;

	mp_cursor_init(&c, b, sizeof(b));
	assert_int_equal(mp_nul_str_read(&c, &s), MP_OK);
	assert_true(tp_slice_eq(s, "abc"));
	assert_int_equal(mp_nul_str_read(&c, &s), MP_OK); /* empty string: just the NUL */
	assert_int_equal(s.len, 0);
	assert_ptr_equal(s.ptr, b + 4);
	assert_int_equal(mp_nul_str_read(&c, &s), MP_NEED_MORE); /* "def" has no NUL yet */
	assert_ptr_equal(c.pos, b + 5);

	assert_int_equal(mp_bytes_read(&c, 4, &s), MP_NEED_MORE);
	assert_ptr_equal(c.pos, b + 5);
	assert_int_equal(mp_bytes_read(&c, 0, &s), MP_OK);
	assert_int_equal(s.len, 0);
	assert_int_equal(mp_bytes_read(&c, 2, &s), MP_OK);
	assert_true(tp_slice_eq(s, "de"));
	mp_rest_read(&c, &s);
	assert_true(tp_slice_eq(s, "f"));
	assert_int_equal(mp_cursor_left(&c), 0);
	mp_rest_read(&c, &s);
	assert_int_equal(s.len, 0);
}

static void
test_writer_fields(void **state)
{
	static const uint8_t want[] = {
		0xab,                                           /* u8 */
		0x34, 0x12,                                     /* u16 */
		0x56, 0x34, 0x12,                               /* u24 */
		0x78, 0x56, 0x34, 0x12,                         /* u32 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* u64 */
		'h',  'i',  0x00,                               /* nul str */
		0x02, 'o',  'k',                                /* lenenc str */
		0x00, 0x00, 0x00,                               /* zeros */
		'x',  'y',                                      /* bytes */
	};
	uint8_t buf[64];
	struct mp_writer w;

	mp_writer_init(&w, buf, sizeof(buf));
	mp_u8_put(&w, 0xab);
	mp_u16_put(&w, 0x1234);
	mp_u24_put(&w, 0x123456);
	mp_u32_put(&w, 0x12345678u);
	mp_u64_put(&w, 0x0102030405060708ull);
	mp_nul_str_put(&w, "hi");
	mp_lenenc_str_put(&w, "ok", 2);
	mp_zeros_put(&w, 3);
	mp_bytes_put(&w, "xy", 2);
	mp_bytes_put(&w, NULL, 0);
	assert_false(w.overflow);
	assert_int_equal(mp_writer_len(&w), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

/* More zeros than the internal 32-byte block, and exactly filling the buffer. */
static void
test_writer_zeros_long(void **state)
{
	uint8_t buf[70];
	struct mp_writer w;

	memset(buf, 0xee, sizeof(buf));
	mp_writer_init(&w, buf, sizeof(buf));
	mp_zeros_put(&w, sizeof(buf));
	assert_false(w.overflow);
	assert_int_equal(mp_writer_len(&w), sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++) {
		assert_int_equal(buf[i], 0);
	}
	mp_u8_put(&w, 1);
	assert_true(w.overflow);
	assert_int_equal(mp_writer_len(&w), sizeof(buf));
}

/* Overflow is sticky: after the first field that does not fit, nothing more is written. */
static void
test_writer_overflow_sticky(void **state)
{
	uint8_t buf[8];
	struct mp_writer w;

	memset(buf, 0xee, sizeof(buf));
	mp_writer_init(&w, buf, 5);
	mp_u32_put(&w, 0x01020304u);
	assert_false(w.overflow);
	mp_u16_put(&w, 0xffff); /* 2 bytes, 1 left: does not fit */
	assert_true(w.overflow);
	assert_int_equal(mp_writer_len(&w), 4);
	mp_u8_put(&w, 0x55); /* would fit, but the writer has failed */
	assert_true(w.overflow);
	assert_int_equal(mp_writer_len(&w), 4);
	assert_int_equal(buf[4], 0xee);
	assert_int_equal(buf[5], 0xee);

	/* A composite field may be cut after its first part (here the fd marker fits): the
	 * contract is only that the overflow bit is set and nothing passes the end. */
	mp_writer_init(&w, buf, 2);
	mp_lenenc_put(&w, 0x10000); /* 4 bytes */
	assert_true(w.overflow);
	assert_true(mp_writer_len(&w) <= 2);
	mp_u8_put(&w, 0x55);
	assert_true(mp_writer_len(&w) <= 2);

	mp_writer_init(&w, buf, 0);
	mp_nul_str_put(&w, "");
	assert_true(w.overflow);
	assert_int_equal(mp_writer_len(&w), 0);
}

int
tp_run_packet_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_readers_every_prefix),
		cmocka_unit_test(test_hdr_golden),
		cmocka_unit_test(test_hdr_put_read),
		cmocka_unit_test(test_fixed_ints),
		cmocka_unit_test(test_lenenc_boundaries),
		cmocka_unit_test(test_lenenc_bad_first_byte),
		cmocka_unit_test(test_lenenc_size_all_bytes),
		cmocka_unit_test(test_lenenc_str_boundaries),
		cmocka_unit_test(test_nul_bytes_rest),
		cmocka_unit_test(test_writer_fields),
		cmocka_unit_test(test_writer_zeros_long),
		cmocka_unit_test(test_writer_overflow_sticky),
	};

	return cmocka_run_group_tests_name("protocol/mp_packet", tests, NULL, NULL);
}
