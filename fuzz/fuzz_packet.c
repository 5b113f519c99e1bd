/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz/fuzz_packet.c - libFuzzer target for the wire decoders clients and servers feed
 * myshard: HandshakeResponse and COM_CHANGE_USER, greetings, OK / ERR / EOF / column
 * definitions / text rows, and the response tracker over a stream of packets.
 */
#include "protocol/mp_handshake.h"
#include "protocol/mp_packet.h"
#include "protocol/mp_resp.h"
#include "protocol/mp_result.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct mp_hsresp r;
	struct mp_greeting_view g;
	struct mp_ok ok;
	struct mp_err e;
	struct mp_coldef cd;
	struct mp_resp resp;
	struct mp_cursor c;
	uint16_t w, st;
	static const uint8_t cmds[] = { 0x03, 0x16, 0x17, 0x04, 0x09, 0x0e };

	(void)mp_hsresp_read(d, n, 0xffffffffu, &r);
	(void)mp_hsresp_read(d, n, 0x000fa68du, &r);
	(void)mp_change_user_read(d, n, 0xffffffffu, &r);
	(void)mp_greeting_read(d, n, &g);
	if (mp_ok_read(d, n, true, &ok) == MP_OK) {
		struct mp_cursor sc;
		struct ms_slice data, entry;
		uint8_t type;

		/* the session-state block, entry by entry */
		mp_cursor_init(&sc, ok.session_state.ptr, ok.session_state.len);
		for (int i = 0; i < 64 && mp_track_next(&sc, &type, &data, &entry) == MP_OK; i++) {
		}
	}
	(void)mp_ok_read(d, n, false, &ok);
	(void)mp_err_read(d, n, &e);
	(void)mp_eof_read(d, n, &w, &st);
	(void)mp_coldef_read(d, n, &cd);
	mp_cursor_init(&c, d, n);
	for (int i = 0; i < 64; i++) {
		struct ms_slice v;
		bool null;

		if (mp_textrow_next(&c, &v, &null) != MP_OK) {
			break;
		}
	}
	/* the input as a stream of packets answering one command (its first byte picks it) */
	if (n > 0) {
		size_t off = 1;

		mp_resp_begin(&resp, cmds[d[0] % sizeof(cmds)], (d[0] & 0x80) != 0);
		while (off + MP_HDR_LEN <= n) {
			uint32_t len = (uint32_t)d[off] | (uint32_t)d[off + 1] << 8 |
				       (uint32_t)d[off + 2] << 16;
			size_t avail = n - off - MP_HDR_LEN;
			struct mp_resp_event ev;

			if (avail > len) {
				avail = len;
			}
			if (avail < len && avail < MP_RESP_PEEK) {
				break;
			}
			if (mp_resp_feed(&resp, d + off + MP_HDR_LEN, avail, len, &ev) != MP_OK) {
				break;
			}
			off += MP_HDR_LEN + avail;
		}
	}
	return 0;
}
