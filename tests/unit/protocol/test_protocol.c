/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/protocol/test_protocol.c - cmocka runner for the protocol/ unit tests, plus the
 * helpers of tp.h. The tests live in test_packet.c (framing and fields), test_handshake.c
 * (greeting, HandshakeResponse41, mysql_native_password), test_result.c (OK/ERR/EOF/column
 * definitions/text rows), test_resp.c (the response tracker) and test_empty.c (empty input
 * given as NULL, 0). The golden bytes come from tp_golden.c, captured from MariaDB 10.11.19
 * by capture.py. No sockets, no sleeps.
 */
#include "tp.h"

#include <string.h>

size_t
tp_split(const struct tp_gold *g, struct tp_pkt *out, size_t max)
{
	struct mp_cursor c;
	struct mp_hdr h;
	size_t n = 0;

	mp_cursor_init(&c, g->bytes, g->len);
	while (mp_cursor_left(&c) > 0) {
		if (n == max) {
			fail_msg("%s: more than %zu packets", g->name, max);
		}
		if (mp_hdr_read(&c, &h) != MP_OK || mp_cursor_left(&c) < h.len) {
			fail_msg("%s: capture is not whole packets", g->name);
		}
		out[n].p = c.pos;
		out[n].len = h.len;
		out[n].seq = h.seq;
		c.pos += h.len;
		n++;
	}
	return n;
}

struct tp_pkt
tp_pkt(const struct tp_gold *g, size_t i)
{
	struct tp_pkt pk[TP_MAX_PKTS];
	size_t n = tp_split(g, pk, TP_MAX_PKTS);

	if (i >= n) {
		fail_msg("%s has no packet %zu", g->name, i);
	}
	return pk[i];
}

bool
tp_slice_eq(struct ms_slice s, const char *str)
{
	size_t n = strlen(str);

	return s.len == n && (n == 0 || memcmp(s.ptr, str, n) == 0);
}

int
main(void)
{
	int failed = 0;

	failed += tp_run_packet_tests();
	failed += tp_run_handshake_tests();
	failed += tp_run_result_tests();
	failed += tp_run_resp_tests();
	failed += tp_run_empty_tests(); /* last: see test_empty.c */
	return failed == 0 ? 0 : 1;
}
