/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol/mp_handshake.c - connection-phase codecs and mysql_native_password.
 */
#include "protocol/mp_handshake.h"

#include "common/ms_sha1.h"

#include <string.h>

void
mp_greeting_write(struct mp_writer *w, const struct mp_greeting *g)
{
	mp_u8_put(w, 10);
	mp_nul_str_put(w, g->version);
	mp_u32_put(w, g->conn_id);
	mp_bytes_put(w, g->scramble, 8);
	mp_u8_put(w, 0);
	mp_u16_put(w, (uint16_t)g->caps);
	mp_u8_put(w, g->collation);
	mp_u16_put(w, g->status);
	mp_u16_put(w, (uint16_t)(g->caps >> 16));
	mp_u8_put(w, (g->caps & MP_CLIENT_PLUGIN_AUTH) ? MP_SCRAMBLE_LEN + 1 : 0);
	mp_zeros_put(w, 6);
	if (g->caps & MP_CLIENT_MYSQL) {
		mp_zeros_put(w, 4);
	} else {
		mp_u32_put(w, g->ext_caps);
	}
	mp_bytes_put(w, g->scramble + 8, MP_SCRAMBLE_LEN - 8);
	mp_u8_put(w, 0);
	if (g->caps & MP_CLIENT_PLUGIN_AUTH) {
		mp_nul_str_put(w, g->auth_plugin);
	}
}

static enum mp_rc
mp_greeting_tail(struct mp_cursor *c, uint8_t auth_len, struct mp_greeting_view *out)
{
	struct ms_slice part2;
	size_t n2 = auth_len > 8 ? (size_t)auth_len - 8 : 13;

	if (n2 < 13) {
		n2 = 13;
	}
	if (mp_bytes_read(c, n2, &part2) != MP_OK || n2 < MP_SCRAMBLE_LEN - 8 + 1) {
		return MP_MALFORMED;
	}
	memcpy(out->scramble + 8, part2.ptr, MP_SCRAMBLE_LEN - 8);
	out->auth_plugin.ptr = NULL;
	out->auth_plugin.len = 0;
	if (out->caps & MP_CLIENT_PLUGIN_AUTH) {
		if (mp_nul_str_read(c, &out->auth_plugin) != MP_OK) {
			mp_rest_read(c, &out->auth_plugin); /* some servers omit the final NUL */
		}
	}
	return MP_OK;
}

enum mp_rc
mp_greeting_read(const uint8_t *p, size_t len, struct mp_greeting_view *out)
{
	struct mp_cursor c;
	struct ms_slice part1;
	uint8_t proto, filler, auth_len;
	uint16_t caps_lo, caps_hi;
	struct ms_slice reserved;

	mp_cursor_init(&c, p, len);
	if (mp_u8_read(&c, &proto) != MP_OK || proto != 10 ||
	    mp_nul_str_read(&c, &out->version) != MP_OK || mp_u32_read(&c, &out->conn_id) != MP_OK ||
	    mp_bytes_read(&c, 8, &part1) != MP_OK || mp_u8_read(&c, &filler) != MP_OK ||
	    mp_u16_read(&c, &caps_lo) != MP_OK || mp_u8_read(&c, &out->collation) != MP_OK ||
	    mp_u16_read(&c, &out->status) != MP_OK || mp_u16_read(&c, &caps_hi) != MP_OK ||
	    mp_u8_read(&c, &auth_len) != MP_OK || mp_bytes_read(&c, 6, &reserved) != MP_OK ||
	    mp_u32_read(&c, &out->ext_caps) != MP_OK) {
		return MP_MALFORMED;
	}
	memcpy(out->scramble, part1.ptr, 8);
	out->caps = (uint32_t)caps_lo | (uint32_t)caps_hi << 16;
	if (out->caps & MP_CLIENT_MYSQL) {
		out->ext_caps = 0;
	}
	if (!(out->caps & MP_CLIENT_SECURE_CONNECTION)) {
		return MP_MALFORMED; /* pre-4.1 scramble: not supported */
	}
	return mp_greeting_tail(&c, auth_len, out);
}

static enum mp_rc
mp_hsresp_auth(struct mp_cursor *c, uint32_t caps, struct ms_slice *auth)
{
	uint64_t n;
	uint8_t n8;

	if (caps & MP_CLIENT_PLUGIN_AUTH_LENENC_DATA) {
		if (mp_lenenc_read(c, &n) != MP_OK) {
			return MP_MALFORMED;
		}
	} else if (caps & MP_CLIENT_SECURE_CONNECTION) {
		if (mp_u8_read(c, &n8) != MP_OK) {
			return MP_MALFORMED;
		}
		n = n8;
	} else {
		return mp_nul_str_read(c, auth) == MP_OK ? MP_OK : MP_MALFORMED;
	}
	if (n > mp_cursor_left(c)) {
		return MP_MALFORMED;
	}
	return mp_bytes_read(c, (size_t)n, auth) == MP_OK ? MP_OK : MP_MALFORMED;
}

static enum mp_rc
mp_hsresp_tail(struct mp_cursor *c, uint32_t caps, struct mp_hsresp *out)
{
	uint64_t n;

	if (caps & MP_CLIENT_CONNECT_WITH_DB) {
		/* libmariadb omits the schema NUL entirely when no schema was given and
		 * nothing follows; accept an absent field as "no schema". */
		if (mp_cursor_left(c) > 0) {
			if (mp_nul_str_read(c, &out->schema) != MP_OK) {
				return MP_MALFORMED;
			}
			out->has_schema = out->schema.len > 0;
		}
	}
	if ((caps & MP_CLIENT_PLUGIN_AUTH) && mp_cursor_left(c) > 0) {
		if (mp_nul_str_read(c, &out->plugin) != MP_OK) {
			return MP_MALFORMED;
		}
	}
	if ((caps & MP_CLIENT_CONNECT_ATTRS) && mp_cursor_left(c) > 0) {
		if (mp_lenenc_read(c, &n) != MP_OK || n > mp_cursor_left(c) ||
		    mp_bytes_read(c, (size_t)n, &out->attrs) != MP_OK) {
			return MP_MALFORMED;
		}
	}
	return MP_OK;
}

enum mp_rc
mp_hsresp_read(const uint8_t *p, size_t len, uint32_t server_caps, struct mp_hsresp *out)
{
	struct mp_cursor c;
	struct ms_slice filler;
	uint32_t caps;

	memset(out, 0, sizeof(*out));
	mp_cursor_init(&c, p, len);
	if (mp_u32_read(&c, &out->caps) != MP_OK || mp_u32_read(&c, &out->max_packet) != MP_OK ||
	    mp_u8_read(&c, &out->collation) != MP_OK || mp_bytes_read(&c, 19, &filler) != MP_OK ||
	    mp_u32_read(&c, &out->ext_caps) != MP_OK) {
		return MP_MALFORMED;
	}
	if (!(out->caps & MP_CLIENT_PROTOCOL_41)) {
		return MP_MALFORMED;
	}
	if (mp_cursor_left(&c) == 0 && (out->caps & MP_CLIENT_SSL)) {
		out->ssl_request = true;
		return MP_OK;
	}
	caps = out->caps & server_caps;
	if (mp_nul_str_read(&c, &out->user) != MP_OK) {
		return MP_MALFORMED;
	}
	if (mp_hsresp_auth(&c, caps, &out->auth) != MP_OK) {
		return MP_MALFORMED;
	}
	return mp_hsresp_tail(&c, caps, out);
}

enum mp_rc
mp_change_user_read(const uint8_t *p, size_t len, uint32_t caps, struct mp_hsresp *out)
{
	struct mp_cursor c;
	uint8_t cmd, n8;
	uint16_t cs;
	uint64_t n;

	memset(out, 0, sizeof(*out));
	mp_cursor_init(&c, p, len);
	if (mp_u8_read(&c, &cmd) != MP_OK || cmd != 0x11 || mp_nul_str_read(&c, &out->user) != MP_OK) {
		return MP_MALFORMED;
	}
	if (caps & MP_CLIENT_SECURE_CONNECTION) {
		if (mp_u8_read(&c, &n8) != MP_OK || n8 > mp_cursor_left(&c) ||
		    mp_bytes_read(&c, n8, &out->auth) != MP_OK) {
			return MP_MALFORMED;
		}
	} else if (mp_nul_str_read(&c, &out->auth) != MP_OK) {
		return MP_MALFORMED;
	}
	if (mp_nul_str_read(&c, &out->schema) != MP_OK) {
		return MP_MALFORMED;
	}
	out->has_schema = out->schema.len > 0;
	out->caps = caps;
	if (mp_cursor_left(&c) == 0) {
		return MP_OK;
	}
	if (mp_u16_read(&c, &cs) != MP_OK) {
		return MP_MALFORMED;
	}
	out->collation = (uint8_t)cs;
	if ((caps & MP_CLIENT_PLUGIN_AUTH) && mp_cursor_left(&c) > 0 &&
	    mp_nul_str_read(&c, &out->plugin) != MP_OK) {
		return MP_MALFORMED;
	}
	if ((caps & MP_CLIENT_CONNECT_ATTRS) && mp_cursor_left(&c) > 0 &&
	    (mp_lenenc_read(&c, &n) != MP_OK || n > mp_cursor_left(&c) ||
	     mp_bytes_read(&c, (size_t)n, &out->attrs) != MP_OK)) {
		return MP_MALFORMED;
	}
	return MP_OK;
}

void
mp_hsresp_write(struct mp_writer *w, const struct mp_hsresp_out *r)
{
	mp_u32_put(w, r->caps);
	mp_u32_put(w, r->max_packet);
	mp_u8_put(w, r->collation);
	mp_zeros_put(w, 23); /* filler; MariaDB extended caps stay 0 (CLIENT_MYSQL set) */
	mp_nul_str_put(w, r->user);
	if (r->caps & MP_CLIENT_PLUGIN_AUTH_LENENC_DATA) {
		mp_lenenc_str_put(w, r->auth, r->auth_len);
	} else {
		mp_u8_put(w, (uint8_t)r->auth_len);
		mp_bytes_put(w, r->auth, r->auth_len);
	}
	if (r->caps & MP_CLIENT_CONNECT_WITH_DB) {
		mp_nul_str_put(w, r->schema != NULL ? r->schema : "");
	}
	if (r->caps & MP_CLIENT_PLUGIN_AUTH) {
		mp_nul_str_put(w, r->plugin);
	}
	if (r->caps & MP_CLIENT_CONNECT_ATTRS) {
		mp_lenenc_str_put(w, r->attrs, r->attrs_len);
	}
}

void
mp_auth_switch_write(struct mp_writer *w, const char *plugin, const uint8_t *data, size_t len)
{
	mp_u8_put(w, 0xfe);
	mp_nul_str_put(w, plugin);
	mp_bytes_put(w, data, len);
	mp_u8_put(w, 0);
}

void
mp_native_token(const uint8_t scramble[MP_SCRAMBLE_LEN], const void *pw, size_t pwlen,
		uint8_t out[MP_SCRAMBLE_LEN])
{
	uint8_t h1[MS_SHA1_LEN], h2[MS_SHA1_LEN], h3[MS_SHA1_LEN];
	struct ms_sha1 ctx;

	ms_sha1(pw, pwlen, h1);
	ms_sha1(h1, sizeof(h1), h2);
	ms_sha1_init(&ctx);
	ms_sha1_update(&ctx, scramble, MP_SCRAMBLE_LEN);
	ms_sha1_update(&ctx, h2, sizeof(h2));
	ms_sha1_final(&ctx, h3);
	for (int i = 0; i < MP_SCRAMBLE_LEN; i++) {
		out[i] = h1[i] ^ h3[i];
	}
}

bool
mp_native_verify(const uint8_t scramble[MP_SCRAMBLE_LEN], const uint8_t stored[MP_SCRAMBLE_LEN],
		 bool empty_password, const uint8_t *token, size_t token_len)
{
	uint8_t mix[MS_SHA1_LEN], cand[MS_SHA1_LEN], check[MS_SHA1_LEN];
	struct ms_sha1 ctx;
	uint8_t diff = 0;

	if (empty_password || token_len == 0) {
		return empty_password && token_len == 0;
	}
	if (token_len != MP_SCRAMBLE_LEN) {
		return false;
	}
	ms_sha1_init(&ctx);
	ms_sha1_update(&ctx, scramble, MP_SCRAMBLE_LEN);
	ms_sha1_update(&ctx, stored, MP_SCRAMBLE_LEN);
	ms_sha1_final(&ctx, mix);
	for (int i = 0; i < MP_SCRAMBLE_LEN; i++) {
		cand[i] = token[i] ^ mix[i]; /* = SHA1(pw) if the token is right */
	}
	ms_sha1(cand, sizeof(cand), check);
	for (int i = 0; i < MP_SCRAMBLE_LEN; i++) {
		diff |= check[i] ^ stored[i]; /* constant time */
	}
	return diff == 0;
}
