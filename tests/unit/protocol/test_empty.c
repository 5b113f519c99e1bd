/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/protocol/test_empty.c - every reader and decoder on an empty range given as
 * (NULL, 0), the form the codec itself uses for empty views (mp_ok_read leaves an absent info
 * as { NULL, 0 }). Must give MP_NEED_MORE / MP_MALFORMED without undefined behaviour. Run
 * last: under -fsanitize=undefined with -fno-sanitize-recover a failure here aborts the run.
 */
#include "tp.h"

#include "protocol/mp_handshake.h"
#include "protocol/mp_resp.h"
#include "protocol/mp_result.h"

static void
test_null_empty_stream_readers(void **state)
{
	struct mp_cursor c;
	struct ms_slice s;
	struct mp_hdr h;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;
	bool is_null;

	mp_cursor_init(&c, NULL, 0);
	assert_int_equal(mp_cursor_left(&c), 0);
	assert_int_equal(mp_hdr_read(&c, &h), MP_NEED_MORE);
	assert_int_equal(mp_u8_read(&c, &u8), MP_NEED_MORE);
	assert_int_equal(mp_u16_read(&c, &u16), MP_NEED_MORE);
	assert_int_equal(mp_u24_read(&c, &u32), MP_NEED_MORE);
	assert_int_equal(mp_u32_read(&c, &u32), MP_NEED_MORE);
	assert_int_equal(mp_u64_read(&c, &u64), MP_NEED_MORE);
	assert_int_equal(mp_lenenc_read(&c, &u64), MP_NEED_MORE);
	assert_int_equal(mp_lenenc_str_read(&c, &s), MP_NEED_MORE);
	assert_int_equal(mp_bytes_read(&c, 1, &s), MP_NEED_MORE);
	assert_int_equal(mp_textrow_next(&c, &s, &is_null), MP_NEED_MORE);
	/* memchr(NULL, 0, 0) is undefined behaviour (C11 7.24.1p2): UBSan flags it here. */
	assert_int_equal(mp_nul_str_read(&c, &s), MP_NEED_MORE);
	assert_null(c.pos);
}

static void
test_null_empty_decoders(void **state)
{
	struct mp_greeting_view g;
	struct mp_hsresp hs;
	struct mp_ok ok;
	struct mp_err e;
	struct mp_coldef d;
	uint16_t w, st;
	struct mp_resp r;
	struct mp_resp_event ev;

	assert_int_equal(mp_greeting_read(NULL, 0, &g), MP_MALFORMED);
	assert_int_equal(mp_hsresp_read(NULL, 0, ~0u, &hs), MP_MALFORMED);
	assert_int_equal(mp_ok_read(NULL, 0, true, &ok), MP_MALFORMED);
	assert_int_equal(mp_err_read(NULL, 0, &e), MP_MALFORMED);
	assert_int_equal(mp_eof_read(NULL, 0, &w, &st), MP_MALFORMED);
	assert_int_equal(mp_coldef_read(NULL, 0, &d), MP_MALFORMED);
	mp_resp_begin(&r, MP_COM_QUERY, false);
	assert_int_equal(mp_resp_feed(&r, NULL, 0, 0, &ev), MP_MALFORMED);
}

int
tp_run_empty_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_empty_decoders),
		cmocka_unit_test(test_null_empty_stream_readers),
	};

	return cmocka_run_group_tests_name("protocol/empty-input", tests, NULL, NULL);
}
