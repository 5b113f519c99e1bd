/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/protocol/test_handshake.c - mp_handshake: the greeting and HandshakeResponse41
 * captured from MariaDB 10.11.19 and its mariadb CLI (libmariadb 3.3.20), every truncated
 * prefix of both, the greeting and response writers, and mysql_native_password tokens pinned
 * to values computed offline with Python's hashlib.
 */
#include "tp.h"

#include "common/ms_sha1.h"
#include "protocol/mp_handshake.h"

#include <string.h>

/* Caps of the 10.11.19 greeting: 0x81fffffe minus SSL (no TLS configured on the capture). */
#define TP_SERVER_CAPS 0x81fff7feu
#define TP_VERSION     "5.5.5-10.11.19-MariaDB-0+deb12u1"

/* Scramble of gold_greeting (connection 17), part 1 + part 2. */
static const uint8_t tp_greeting_scramble[MP_SCRAMBLE_LEN] = {
	0x73, 0x4d, 0x66, 0x3a, 0x2d, 0x72, 0x77, 0x23, 0x41, 0x5f,
	0x3b, 0x47, 0x33, 0x69, 0x39, 0x7c, 0x2c, 0x5e, 0x77, 0x5c,
};
/* Scramble of gold_cli_greeting (connection 19), answered by gold_cli_hsresp. */
static const uint8_t tp_cli_scramble[MP_SCRAMBLE_LEN] = {
	0x39, 0x46, 0x36, 0x79, 0x21, 0x35, 0x28, 0x68, 0x53, 0x49,
	0x54, 0x47, 0x49, 0x77, 0x3d, 0x67, 0x71, 0x21, 0x4f, 0x4a,
};
/*
 * SHA1(SHA1("cappw")): the server's mysql.global_priv held
 * "*4085937C0B1D9E9D44C8BE62C7A2ABC43BB4ADA0" for 'cap'@'%'.
 */
static const uint8_t tp_cappw_stored[MP_SCRAMBLE_LEN] = {
	0x40, 0x85, 0x93, 0x7c, 0x0b, 0x1d, 0x9e, 0x9d, 0x44, 0xc8,
	0xbe, 0x62, 0xc7, 0xa2, 0xab, 0xc4, 0x3b, 0xb4, 0xad, 0xa0,
};
/* The token libmariadb sent for "cappw" in gold_cli_hsresp (= hashlib's result). */
static const uint8_t tp_cli_token[MP_SCRAMBLE_LEN] = {
	0xd5, 0x97, 0xa9, 0xa6, 0x13, 0x29, 0xb7, 0x28, 0x9f, 0x1e,
	0x49, 0x58, 0x5e, 0x5e, 0x55, 0xb0, 0x6e, 0x2a, 0x19, 0xf8,
};

/* The caps libmariadb sent: LONG_FLAG LOCAL_FILES PROTOCOL_41 TRANSACTIONS SECURE_CONNECTION
 * MULTI_STATEMENTS MULTI_RESULTS PS_MULTI_RESULTS PLUGIN_AUTH CONNECT_ATTRS
 * PLUGIN_AUTH_LENENC_DATA SESSION_TRACK; bit 0 clear (MariaDB extended caps follow). */
#define TP_CLI_CAPS 0x00bfa284u

/* Offsets inside the 207-byte gold_cli_hsresp payload. */
#define TP_HS_AUTH_END   57  /* 32 fixed + "cap\0" + lenenc 0x14 + 20 token bytes */
#define TP_HS_PLUGIN_END 79  /* + "mysql_native_password\0" */
#define TP_HS_LEN        207 /* + lenenc 0x7f + 127 bytes of connect attributes */

static void
tp_check_golden_greeting(const struct mp_greeting_view *v, uint32_t conn_id,
			 const uint8_t scramble[MP_SCRAMBLE_LEN])
{
	assert_true(tp_slice_eq(v->version, TP_VERSION));
	assert_int_equal(v->conn_id, conn_id);
	assert_memory_equal(v->scramble, scramble, MP_SCRAMBLE_LEN);
	assert_int_equal(v->caps, TP_SERVER_CAPS);
	/* PROGRESS, STMT_BULK_OPERATIONS, EXTENDED_METADATA, CACHE_METADATA */
	assert_int_equal(v->ext_caps, 0x1d);
	assert_int_equal(v->collation, 8);   /* latin1_swedish_ci, the server default */
	assert_int_equal(v->status, 0x0002); /* AUTOCOMMIT */
	assert_true(tp_slice_eq(v->auth_plugin, MP_NATIVE_PLUGIN));
}

static void
test_greeting_golden(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_greeting, 0);
	struct mp_greeting_view v;

	assert_int_equal(pk.len, 100);
	assert_int_equal(mp_greeting_read(pk.p, pk.len, &v), MP_OK);
	tp_check_golden_greeting(&v, 17, tp_greeting_scramble);
	assert_false(v.caps & MP_CLIENT_MYSQL);
	assert_false(v.caps & MP_CLIENT_SSL);
	assert_true(v.caps & MP_CLIENT_DEPRECATE_EOF);
	assert_true(v.caps & MP_CLIENT_SESSION_TRACK);

	pk = tp_pkt(&gold_cli_greeting, 0);
	assert_int_equal(mp_greeting_read(pk.p, pk.len, &v), MP_OK);
	tp_check_golden_greeting(&v, 19, tp_cli_scramble);
}

/*
 * Every strict prefix of the greeting is MP_MALFORMED, except the cuts inside the final
 * "mysql_native_password" NUL: mp_greeting_read accepts a plugin name without its NUL ("some
 * servers omit the final NUL"), so a cut at or after the end of scramble part 2 is
 * indistinguishable from a greeting with a shorter, unterminated plugin name. Those prefixes
 * decode with the plugin name cut to what is there (empty for the cut right after part 2).
 */
static void
test_greeting_prefixes(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_greeting, 0);
	size_t plugin_at = pk.len - sizeof(MP_NATIVE_PLUGIN); /* 22 = name + NUL */
	struct mp_greeting_view v;

	assert_int_equal(pk.p[plugin_at - 1], 0x00); /* the NUL after scramble part 2 */
	for (size_t k = 0; k < pk.len; k++) {
		enum mp_rc rc = mp_greeting_read(pk.p, k, &v);

		if (k < plugin_at) {
			if (rc != MP_MALFORMED) {
				fail_msg("greeting prefix %zu: rc %d, want MP_MALFORMED", k, rc);
			}
			continue;
		}
		assert_int_equal(rc, MP_OK);
		assert_int_equal(v.auth_plugin.len, k - plugin_at);
		assert_ptr_equal(v.auth_plugin.ptr, pk.p + plugin_at);
		assert_memory_equal(v.scramble, tp_greeting_scramble, MP_SCRAMBLE_LEN);
	}
}

/* Fed the decoded values, mp_greeting_write reproduces the 10.11.19 greeting byte for byte. */
static void
test_greeting_write_golden(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_greeting, 0);
	struct mp_greeting_view v;
	struct mp_greeting g;
	uint8_t buf[256];
	struct mp_writer w;

	assert_int_equal(mp_greeting_read(pk.p, pk.len, &v), MP_OK);
	memset(&g, 0, sizeof(g));
	g.version = TP_VERSION;
	g.conn_id = v.conn_id;
	memcpy(g.scramble, v.scramble, MP_SCRAMBLE_LEN);
	g.caps = v.caps;
	g.ext_caps = v.ext_caps;
	g.collation = v.collation;
	g.status = v.status;
	g.auth_plugin = MP_NATIVE_PLUGIN;
	mp_writer_init(&w, buf, sizeof(buf));
	mp_greeting_write(&w, &g);
	assert_false(w.overflow);
	assert_int_equal(mp_writer_len(&w), pk.len);
	assert_memory_equal(buf, pk.p, pk.len);
}

/* Write -> read for greetings unlike the captured one. */
static void
test_greeting_roundtrip(void **state)
{
	static const struct {
		uint32_t caps;
		uint32_t ext_caps;  /* given to the writer */
		uint32_t ext_read;  /* what the reader must report */
		const char *plugin; /* expected plugin view */
	} cases[] = {
		/* What PROTOCOL-NOTES §2 tells a proxy to advertise; bit 0 clear, no ext caps. */
		{ MP_CLIENT_LONG_FLAG | MP_CLIENT_CONNECT_WITH_DB | MP_CLIENT_PROTOCOL_41 |
			  MP_CLIENT_TRANSACTIONS | MP_CLIENT_SECURE_CONNECTION |
			  MP_CLIENT_MULTI_RESULTS | MP_CLIENT_PS_MULTI_RESULTS |
			  MP_CLIENT_PLUGIN_AUTH | MP_CLIENT_CONNECT_ATTRS |
			  MP_CLIENT_PLUGIN_AUTH_LENENC_DATA | MP_CLIENT_DEPRECATE_EOF,
		  0, 0, MP_NATIVE_PLUGIN },
		/* MySQL-style: bit 0 set, so the ext-caps bytes are zeros and read back as 0. */
		{ 0xffffffffu, 0x1d, 0, MP_NATIVE_PLUGIN },
		/* Extended caps kept when bit 0 is clear. */
		{ TP_SERVER_CAPS, 0x04, 0x04, MP_NATIVE_PLUGIN },
		/* No PLUGIN_AUTH: auth-data length 0, no plugin name at all. */
		{ MP_CLIENT_PROTOCOL_41 | MP_CLIENT_SECURE_CONNECTION, 0, 0, "" },
	};
	const uint8_t scramble[MP_SCRAMBLE_LEN] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
						    11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };

	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		struct mp_greeting g = {
			.version = "5.5.5-10.11.19-MariaDB-myshard",
			.conn_id = 0xdeadbeefu,
			.caps = cases[i].caps,
			.ext_caps = cases[i].ext_caps,
			.collation = 45,
			.status = 0x0002, /* AUTOCOMMIT */
			.auth_plugin = MP_NATIVE_PLUGIN,
		};
		struct mp_greeting_view v;
		uint8_t buf[256];
		struct mp_writer w;

		memcpy(g.scramble, scramble, sizeof(scramble));
		mp_writer_init(&w, buf, sizeof(buf));
		mp_greeting_write(&w, &g);
		assert_false(w.overflow);
		/* 1 + version NUL + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 6 + 4 + 13 [+ plugin NUL] */
		assert_int_equal(mp_writer_len(&w),
				 1 + strlen(g.version) + 1 + 44 +
					 (cases[i].caps & MP_CLIENT_PLUGIN_AUTH ? 22 : 0));
		assert_int_equal(buf[1 + strlen(g.version) + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2],
				 cases[i].caps & MP_CLIENT_PLUGIN_AUTH ? 21 : 0);
		assert_int_equal(mp_greeting_read(buf, mp_writer_len(&w), &v), MP_OK);
		assert_true(tp_slice_eq(v.version, g.version));
		assert_int_equal(v.conn_id, g.conn_id);
		assert_memory_equal(v.scramble, scramble, MP_SCRAMBLE_LEN);
		assert_int_equal(v.caps, cases[i].caps);
		assert_int_equal(v.ext_caps, cases[i].ext_read);
		assert_int_equal(v.collation, 45);
		assert_int_equal(v.status, g.status);
		assert_true(tp_slice_eq(v.auth_plugin, cases[i].plugin));
	}
}

static void
test_greeting_variants(void **state)
{
	/* What 10.11 sends instead of a greeting to a host it refuses: ERR 1130, no SQLSTATE. */
	static const uint8_t err[] = { 0xff, 0x6a, 0x04, 'H', 'o', 's', 't', ' ', 'x' };
	struct tp_pkt pk = tp_pkt(&gold_greeting, 0);
	struct mp_greeting_view v;
	uint8_t copy[128];
	size_t caps_at = 1 + sizeof(TP_VERSION) + 4 + 8 + 1;

	assert_int_equal(mp_greeting_read(err, sizeof(err), &v), MP_MALFORMED);
	assert_int_equal(mp_greeting_read(copy, 0, &v), MP_MALFORMED);

	/* Bit 0 set (a MySQL server): bytes 28-31 of the filler are not extended caps. */
	memcpy(copy, pk.p, pk.len);
	copy[caps_at] |= MP_CLIENT_MYSQL;
	assert_int_equal(mp_greeting_read(copy, pk.len, &v), MP_OK);
	assert_int_equal(v.caps, TP_SERVER_CAPS | MP_CLIENT_MYSQL);
	assert_int_equal(v.ext_caps, 0);

	memcpy(copy, pk.p, pk.len);
	copy[0] = 9; /* protocol 9 */
	assert_int_equal(mp_greeting_read(copy, pk.len, &v), MP_MALFORMED);

	memcpy(copy, pk.p, pk.len);
	assert_int_equal(copy[caps_at + 1], 0xf7); /* caps bits 8-15 */
	copy[caps_at + 1] = 0x77;                  /* 0xf7 minus SECURE_CONNECTION (bit 15) */
	assert_int_equal(mp_greeting_read(copy, pk.len, &v), MP_MALFORMED); /* pre-4.1 scramble */

	memcpy(copy, pk.p, pk.len);
	copy[1 + sizeof(TP_VERSION) - 1] = 'x'; /* the version loses its NUL */
	memset(copy + 1 + sizeof(TP_VERSION) - 1, 'x', pk.len - sizeof(TP_VERSION));
	assert_int_equal(mp_greeting_read(copy, pk.len, &v), MP_MALFORMED);
}

static void
tp_check_cli_hsresp(const struct mp_hsresp *r, bool attrs)
{
	assert_false(r->ssl_request);
	assert_int_equal(r->caps, TP_CLI_CAPS);
	assert_int_equal(r->max_packet, 0x00100000u);
	assert_int_equal(r->collation, 33); /* utf8mb3_general_ci: the CLI's default charset */
	assert_int_equal(r->ext_caps, 0x1d);
	assert_true(tp_slice_eq(r->user, "cap"));
	assert_int_equal(r->auth.len, MP_SCRAMBLE_LEN);
	assert_memory_equal(r->auth.ptr, tp_cli_token, MP_SCRAMBLE_LEN);
	assert_false(r->has_schema);
	assert_int_equal(r->schema.len, 0);
	assert_true(tp_slice_eq(r->plugin, MP_NATIVE_PLUGIN));
	if (attrs) {
		assert_int_equal(r->attrs.len, 127);
		assert_memory_equal(r->attrs.ptr, "\x03_os\x05Linux\x0c_client_name\x0alibmariadb",
				    31);
	} else {
		assert_int_equal(r->attrs.len, 0);
	}
}

static void
test_hsresp_golden(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_cli_hsresp, 0);
	struct mp_hsresp r;

	assert_int_equal(pk.len, TP_HS_LEN);
	assert_int_equal(mp_hsresp_read(pk.p, pk.len, TP_SERVER_CAPS, &r), MP_OK);
	tp_check_cli_hsresp(&r, true);
	assert_false(r.caps & MP_CLIENT_MYSQL);
	assert_false(r.caps & MP_CLIENT_DEPRECATE_EOF);
	assert_false(r.caps & MP_CLIENT_CONNECT_WITH_DB);

	/* Fields the server did not offer are not read: without CONNECT_ATTRS the block is left. */
	assert_int_equal(
		mp_hsresp_read(pk.p, pk.len, TP_SERVER_CAPS & ~MP_CLIENT_CONNECT_ATTRS, &r), MP_OK);
	tp_check_cli_hsresp(&r, false);
	/* Without PLUGIN_AUTH_LENENC_DATA the length is a u8; 0x14 reads the same either way. */
	assert_int_equal(mp_hsresp_read(pk.p, pk.len,
					TP_SERVER_CAPS & ~MP_CLIENT_PLUGIN_AUTH_LENENC_DATA, &r),
			 MP_OK);
	tp_check_cli_hsresp(&r, true);
}

/* The captured libmariadb token is what mp_native_token computes and mp_native_verify accepts. */
static void
test_hsresp_token_verifies(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_cli_hsresp, 0);
	uint8_t token[MP_SCRAMBLE_LEN], h1[MS_SHA1_LEN], h2[MS_SHA1_LEN];
	struct mp_hsresp r;

	assert_int_equal(mp_hsresp_read(pk.p, pk.len, TP_SERVER_CAPS, &r), MP_OK);
	mp_native_token(tp_cli_scramble, "cappw", 5, token);
	assert_memory_equal(token, r.auth.ptr, MP_SCRAMBLE_LEN);
	ms_sha1("cappw", 5, h1);
	ms_sha1(h1, sizeof(h1), h2);
	assert_memory_equal(h2, tp_cappw_stored, MP_SCRAMBLE_LEN);
	assert_true(
		mp_native_verify(tp_cli_scramble, tp_cappw_stored, false, r.auth.ptr, r.auth.len));
	/* The same token against the other connection's scramble is wrong. */
	assert_false(mp_native_verify(tp_greeting_scramble, tp_cappw_stored, false, r.auth.ptr,
				      r.auth.len));
}

/*
 * Prefixes of the CLI's response. MP_OK for exactly three lengths, because the fields after
 * the auth data are optional when nothing follows them (mp_hsresp_tail: "accept an absent
 * field"): the cut right after the token (no plugin name, no attributes), the cut right after
 * the plugin name's NUL (no attributes), and the whole packet. Every other prefix is
 * MP_MALFORMED: inside the fixed 32 bytes, the user name, the token, the plugin name (no NUL)
 * or the attribute block (shorter than its lenenc length).
 */
static void
test_hsresp_prefixes(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_cli_hsresp, 0);
	struct mp_hsresp r;

	for (size_t k = 0; k < pk.len; k++) {
		enum mp_rc rc = mp_hsresp_read(pk.p, k, TP_SERVER_CAPS, &r);
		enum mp_rc want =
			k == TP_HS_AUTH_END || k == TP_HS_PLUGIN_END ? MP_OK : MP_MALFORMED;

		if (rc != want) {
			fail_msg("hsresp prefix %zu: rc %d, want %d", k, rc, want);
		}
		if (rc == MP_OK) {
			assert_true(tp_slice_eq(r.user, "cap"));
			assert_memory_equal(r.auth.ptr, tp_cli_token, MP_SCRAMBLE_LEN);
			assert_int_equal(r.attrs.len, 0);
			assert_int_equal(r.plugin.len, k == TP_HS_AUTH_END ? 0 : 21);
		}
	}
}

/* The 32-byte SSLRequest is the response's fixed part with SSL set, and nothing else. */
static void
test_hsresp_ssl_request(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_cli_hsresp, 0);
	uint8_t ssl[32];
	struct mp_hsresp r;

	memcpy(ssl, pk.p, sizeof(ssl));
	assert_int_equal(mp_hsresp_read(ssl, sizeof(ssl), TP_SERVER_CAPS, &r), MP_MALFORMED);
	ssl[1] |= MP_CLIENT_SSL >> 8;
	assert_int_equal(mp_hsresp_read(ssl, sizeof(ssl), TP_SERVER_CAPS | MP_CLIENT_SSL, &r),
			 MP_OK);
	assert_true(r.ssl_request);
	assert_int_equal(r.caps, TP_CLI_CAPS | MP_CLIENT_SSL);
	assert_int_equal(r.max_packet, 0x00100000u);
	assert_int_equal(r.collation, 33);
	assert_int_equal(r.ext_caps, 0x1d);
	assert_int_equal(r.user.len, 0);
	for (size_t k = 0; k < sizeof(ssl); k++) {
		assert_int_equal(mp_hsresp_read(ssl, k, TP_SERVER_CAPS | MP_CLIENT_SSL, &r),
				 MP_MALFORMED);
	}
}

/* Builds a response: fixed part, user, then <tail> as given. */
static size_t
tp_hsresp_build(uint8_t *buf, size_t cap, uint32_t caps, const void *tail, size_t tail_len)
{
	struct mp_writer w;

	mp_writer_init(&w, buf, cap);
	mp_u32_put(&w, caps);
	mp_u32_put(&w, 0xffffff);
	mp_u8_put(&w, 45);
	mp_zeros_put(&w, 23);
	mp_nul_str_put(&w, "bob");
	mp_bytes_put(&w, tail, tail_len);
	assert_false(w.overflow);
	return mp_writer_len(&w);
}

static void
test_hsresp_variants(void **state)
{
	const uint32_t base = MP_CLIENT_MYSQL | MP_CLIENT_PROTOCOL_41;
	uint8_t buf[128];
	struct mp_hsresp r;
	size_t n;

	/* SECURE_CONNECTION (u8 length) + CONNECT_WITH_DB, no plugin: e.g. an old driver. */
	n = tp_hsresp_build(buf, sizeof(buf),
			    base | MP_CLIENT_SECURE_CONNECTION | MP_CLIENT_CONNECT_WITH_DB,
			    "\x03xyzcapdb\0", 10);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_OK);
	assert_true(tp_slice_eq(r.user, "bob"));
	assert_true(tp_slice_eq(r.auth, "xyz"));
	assert_true(r.has_schema);
	assert_true(tp_slice_eq(r.schema, "capdb"));
	assert_int_equal(r.plugin.len, 0);
	assert_int_equal(r.ext_caps, 0); /* garbage-free zeros, and meaningless with bit 0 set */

	/* Empty password: zero-length auth data, then a plugin name. */
	n = tp_hsresp_build(buf, sizeof(buf),
			    base | MP_CLIENT_SECURE_CONNECTION | MP_CLIENT_PLUGIN_AUTH |
				    MP_CLIENT_PLUGIN_AUTH_LENENC_DATA,
			    "\0mysql_native_password\0", 23);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_OK);
	assert_int_equal(r.auth.len, 0);
	assert_true(tp_slice_eq(r.plugin, MP_NATIVE_PLUGIN));

	/* Neither SECURE_CONNECTION nor LENENC: the auth data is NUL-terminated. */
	n = tp_hsresp_build(buf, sizeof(buf), base, "tok\0", 4);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_OK);
	assert_true(tp_slice_eq(r.auth, "tok"));
	n = tp_hsresp_build(buf, sizeof(buf), base, "tok", 3);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_MALFORMED);

	/* A client flag the server did not offer is ignored: no CONNECT_WITH_DB on the server. */
	n = tp_hsresp_build(buf, sizeof(buf),
			    base | MP_CLIENT_SECURE_CONNECTION | MP_CLIENT_CONNECT_WITH_DB,
			    "\x03xyzcapdb\0", 10);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS & ~MP_CLIENT_CONNECT_WITH_DB, &r),
			 MP_OK);
	assert_false(r.has_schema);
}

static void
test_hsresp_rejects(void **state)
{
	const uint32_t caps = MP_CLIENT_MYSQL | MP_CLIENT_PROTOCOL_41 |
			      MP_CLIENT_SECURE_CONNECTION | MP_CLIENT_CONNECT_ATTRS |
			      MP_CLIENT_PLUGIN_AUTH;
	uint8_t buf[128];
	struct mp_hsresp r;
	size_t n;

	/* Pre-4.1 (no PROTOCOL_41). */
	n = tp_hsresp_build(buf, sizeof(buf), MP_CLIENT_SECURE_CONNECTION, "\0", 1);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_MALFORMED);
	/* Auth length beyond the packet. */
	n = tp_hsresp_build(buf, sizeof(buf), caps, "\x14short", 6);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_MALFORMED);
	/* Attribute block longer than what is left. */
	n = tp_hsresp_build(buf, sizeof(buf), caps, "\0p\0\x10\x01k\x01v", 9);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_MALFORMED);
	/* ... and exactly as long as what is left. */
	n = tp_hsresp_build(buf, sizeof(buf), caps, "\0p\0\x04\x01k\x01v", 9);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_OK);
	assert_true(tp_slice_eq(r.attrs, "\x01k\x01v"));
	/* Attribute length with a NULL (fb) first byte. */
	n = tp_hsresp_build(buf, sizeof(buf), caps, "\0p\0\xfb", 4);
	assert_int_equal(mp_hsresp_read(buf, n, TP_SERVER_CAPS, &r), MP_MALFORMED);
	/* User name without its NUL. */
	n = tp_hsresp_build(buf, sizeof(buf), caps, NULL, 0);
	assert_int_equal(mp_hsresp_read(buf, n - 1, TP_SERVER_CAPS, &r), MP_MALFORMED);
}

/*
 * mp_hsresp_write, fed what the CLI sent, reproduces the captured response except bytes 28-31:
 * the writer always leaves the MariaDB extended caps 0 (it is meant for CLIENT_MYSQL clients),
 * where libmariadb wrote 0x1d.
 */
static void
test_hsresp_write_golden(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_cli_hsresp, 0);
	struct mp_hsresp r;
	struct mp_hsresp_out o;
	uint8_t buf[256], want[256];
	struct mp_writer w;

	assert_int_equal(mp_hsresp_read(pk.p, pk.len, TP_SERVER_CAPS, &r), MP_OK);
	memset(&o, 0, sizeof(o));
	o.caps = r.caps;
	o.max_packet = r.max_packet;
	o.collation = r.collation;
	o.user = "cap";
	o.auth = r.auth.ptr;
	o.auth_len = r.auth.len;
	o.plugin = MP_NATIVE_PLUGIN;
	o.attrs = r.attrs.ptr;
	o.attrs_len = r.attrs.len;
	mp_writer_init(&w, buf, sizeof(buf));
	mp_hsresp_write(&w, &o);
	assert_false(w.overflow);
	memcpy(want, pk.p, pk.len);
	memset(want + 28, 0, 4);
	assert_int_equal(mp_writer_len(&w), pk.len);
	assert_memory_equal(buf, want, pk.len);
}

/* Write -> read for the shapes a proxy uses towards its backends. */
static void
test_hsresp_write_roundtrip(void **state)
{
	static const uint8_t attrs[] = { 0x04, '_', 'p', 'i', 'd', 0x02, '4', '2' };
	uint8_t big_attrs[300];
	const uint32_t base = MP_CLIENT_MYSQL | MP_CLIENT_PROTOCOL_41 |
			      MP_CLIENT_SECURE_CONNECTION | MP_CLIENT_LONG_FLAG |
			      MP_CLIENT_TRANSACTIONS | MP_CLIENT_MULTI_RESULTS |
			      MP_CLIENT_PS_MULTI_RESULTS | MP_CLIENT_SESSION_TRACK;
	const struct {
		uint32_t caps;
		const char *schema;
		size_t auth_len;
		const uint8_t *attrs;
		size_t attrs_len;
	} cases[] = {
		/* Everything: lenenc auth, schema, plugin, attributes. */
		{ base | MP_CLIENT_PLUGIN_AUTH_LENENC_DATA | MP_CLIENT_CONNECT_WITH_DB |
			  MP_CLIENT_PLUGIN_AUTH | MP_CLIENT_CONNECT_ATTRS,
		  "capdb", MP_SCRAMBLE_LEN, attrs, sizeof(attrs) },
		/* u8 auth length, no schema flag, no attributes. */
		{ base | MP_CLIENT_PLUGIN_AUTH, NULL, MP_SCRAMBLE_LEN, NULL, 0 },
		/* Empty password; CONNECT_WITH_DB with no schema writes an empty one. */
		{ base | MP_CLIENT_CONNECT_WITH_DB | MP_CLIENT_PLUGIN_AUTH, NULL, 0, NULL, 0 },
		/* Attributes longer than 250 bytes: a 3-byte lenenc length. */
		{ base | MP_CLIENT_PLUGIN_AUTH | MP_CLIENT_CONNECT_ATTRS, "s", MP_SCRAMBLE_LEN,
		  big_attrs, sizeof(big_attrs) },
	};

	memset(big_attrs, 'k', sizeof(big_attrs));
	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		struct mp_hsresp_out o = {
			.caps = cases[i].caps,
			.max_packet = 0xffffff,
			.collation = 45,
			.user = "myshard",
			.auth = tp_cli_token,
			.auth_len = cases[i].auth_len,
			.schema = cases[i].schema,
			.plugin = MP_NATIVE_PLUGIN,
			.attrs = cases[i].attrs,
			.attrs_len = cases[i].attrs_len,
		};
		uint8_t buf[512];
		struct mp_writer w;
		struct mp_hsresp r;

		mp_writer_init(&w, buf, sizeof(buf));
		mp_hsresp_write(&w, &o);
		assert_false(w.overflow);
		assert_int_equal(mp_hsresp_read(buf, mp_writer_len(&w), TP_SERVER_CAPS, &r), MP_OK);
		assert_false(r.ssl_request);
		assert_int_equal(r.caps, o.caps);
		assert_int_equal(r.max_packet, 0xffffff);
		assert_int_equal(r.collation, 45);
		assert_int_equal(r.ext_caps, 0);
		assert_true(tp_slice_eq(r.user, "myshard"));
		assert_int_equal(r.auth.len, cases[i].auth_len);
		if (cases[i].auth_len > 0) {
			assert_memory_equal(r.auth.ptr, tp_cli_token, cases[i].auth_len);
		}
		/* The schema is written only with CONNECT_WITH_DB (case 4 gives one without). */
		bool db = (cases[i].caps & MP_CLIENT_CONNECT_WITH_DB) && cases[i].schema != NULL;

		assert_int_equal(r.has_schema, db);
		assert_true(tp_slice_eq(r.schema, db ? cases[i].schema : ""));
		assert_true(tp_slice_eq(r.plugin, MP_NATIVE_PLUGIN));
		assert_int_equal(r.attrs.len, cases[i].attrs_len);
		if (cases[i].attrs_len > 0) {
			assert_memory_equal(r.attrs.ptr, cases[i].attrs, cases[i].attrs_len);
		}
	}
}

/* Tokens computed offline: python3 hashlib, token = SHA1(pw) ^ SHA1(scramble + SHA1(SHA1(pw))). */
static void
test_native_token_vectors(void **state)
{
	static const uint8_t scramble[MP_SCRAMBLE_LEN] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
							   11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	static const uint8_t want_secret[MP_SCRAMBLE_LEN] = {
		0xb3, 0x2b, 0xb3, 0xa5, 0x83, 0xe1, 0x34, 0x0c, 0x0a, 0x11,
		0x08, 0xd5, 0x8b, 0x1b, 0xe4, 0x97, 0x81, 0xad, 0x8c, 0x2f,
	};
	/* 33 bytes of UTF-8 ("päss word with 32 bytes length!!"): longer than the scramble. */
	static const char long_pw[] = "p\xc3\xa4ss word with 32 bytes length!!";
	static const uint8_t want_long[MP_SCRAMBLE_LEN] = {
		0x6a, 0xca, 0xd8, 0x33, 0x70, 0x31, 0xca, 0xb8, 0xe6, 0x26,
		0x18, 0x06, 0x4e, 0x2b, 0x89, 0xe7, 0xbc, 0xc2, 0x7a, 0x7e,
	};
	uint8_t token[MP_SCRAMBLE_LEN];

	mp_native_token(scramble, "secret", 6, token);
	assert_memory_equal(token, want_secret, MP_SCRAMBLE_LEN);
	mp_native_token(scramble, long_pw, sizeof(long_pw) - 1, token);
	assert_memory_equal(token, want_long, MP_SCRAMBLE_LEN);
	mp_native_token(tp_cli_scramble, "cappw", 5, token);
	assert_memory_equal(token, tp_cli_token, MP_SCRAMBLE_LEN);
}

static void
test_native_verify(void **state)
{
	static const uint8_t scramble[MP_SCRAMBLE_LEN] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
							   11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	uint8_t h1[MS_SHA1_LEN], stored[MS_SHA1_LEN], token[MP_SCRAMBLE_LEN],
		bad[MP_SCRAMBLE_LEN + 1];

	ms_sha1("secret", 6, h1);
	ms_sha1(h1, sizeof(h1), stored);
	mp_native_token(scramble, "secret", 6, token);

	assert_true(mp_native_verify(scramble, stored, false, token, sizeof(token)));
	for (size_t i = 0; i < MP_SCRAMBLE_LEN; i++) { /* any single flipped bit fails */
		memcpy(bad, token, sizeof(token));
		bad[i] ^= (uint8_t)(1u << (i % 8));
		assert_false(mp_native_verify(scramble, stored, false, bad, MP_SCRAMBLE_LEN));
	}
	memcpy(bad, token, sizeof(token));
	bad[MP_SCRAMBLE_LEN] = 0;
	assert_false(mp_native_verify(scramble, stored, false, token, MP_SCRAMBLE_LEN - 1));
	assert_false(mp_native_verify(scramble, stored, false, bad, MP_SCRAMBLE_LEN + 1));
	assert_false(mp_native_verify(scramble, stored, false, token, 1));
	/* Right token, other account (its stored hash differs in one byte). */
	memcpy(h1, stored, sizeof(stored));
	h1[MP_SCRAMBLE_LEN - 1] ^= 0x01;
	assert_false(mp_native_verify(scramble, h1, false, token, sizeof(token)));
	/* Wrong password, right shape. */
	mp_native_token(scramble, "Secret", 6, bad);
	assert_false(mp_native_verify(scramble, stored, false, bad, MP_SCRAMBLE_LEN));
	/* Empty token against an account that has a password. */
	assert_false(mp_native_verify(scramble, stored, false, token, 0));
	assert_false(mp_native_verify(scramble, stored, false, NULL, 0));
	/* Accounts without a password accept only the empty token. */
	assert_true(mp_native_verify(scramble, stored, true, NULL, 0));
	assert_true(mp_native_verify(scramble, stored, true, token, 0));
	assert_false(mp_native_verify(scramble, stored, true, token, sizeof(token)));
	/* The "token" of an empty password is still 20 bytes, and still not an empty token. */
	mp_native_token(scramble, "", 0, bad);
	assert_false(mp_native_verify(scramble, stored, true, bad, MP_SCRAMBLE_LEN));
}

static void
test_auth_switch_write(void **state)
{
	static const uint8_t data[MP_SCRAMBLE_LEN] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
						       0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
						       0x0f, 0x10, 0x11, 0x12, 0x13, 0x14 };
	uint8_t buf[64], want[64];
	struct mp_writer w;
	size_t n = 0;

	want[n++] = 0xfe;
	memcpy(want + n, MP_NATIVE_PLUGIN, sizeof(MP_NATIVE_PLUGIN));
	n += sizeof(MP_NATIVE_PLUGIN);
	memcpy(want + n, data, sizeof(data));
	n += sizeof(data);
	want[n++] = 0x00;
	mp_writer_init(&w, buf, sizeof(buf));
	mp_auth_switch_write(&w, MP_NATIVE_PLUGIN, data, sizeof(data));
	assert_false(w.overflow);
	assert_int_equal(mp_writer_len(&w), 44);
	assert_int_equal(mp_writer_len(&w), n);
	assert_memory_equal(buf, want, n);
}

/* COM_CHANGE_USER as libmariadb sends it (user, 20-byte token, schema, charset, plugin,
 * attributes), every truncated prefix, and the variants without the optional tail. */
static void
test_change_user(void **state)
{
	static const uint8_t pkt[] = {
		0x11, 'b', 'o', 'b', 0,                                  /* user */
		20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
		's', 'h', 'o', 'p', 0,                                   /* schema */
		45, 0,                                                   /* utf8mb4_general_ci */
		'm', 'y', 's', 'q', 'l', '_', 'n', 'a', 't', 'i', 'v', 'e', '_', 'p', 'a', 's', 's',
		'w', 'o', 'r', 'd', 0,
		3, 1, 'k', 'v',                                          /* attributes */
	};
	uint32_t caps = MP_CLIENT_SECURE_CONNECTION | MP_CLIENT_PLUGIN_AUTH | MP_CLIENT_CONNECT_ATTRS |
			MP_CLIENT_PROTOCOL_41;
	struct mp_hsresp r;

	(void)state;
	assert_int_equal(mp_change_user_read(pkt, sizeof(pkt), caps, &r), MP_OK);
	assert_int_equal(r.user.len, 3);
	assert_memory_equal(r.user.ptr, "bob", 3);
	assert_int_equal(r.auth.len, 20);
	assert_int_equal(r.auth.ptr[19], 20);
	assert_int_equal(r.schema.len, 4);
	assert_true(r.has_schema);
	assert_int_equal(r.collation, 45);
	assert_int_equal(r.plugin.len, strlen("mysql_native_password"));
	assert_int_equal(r.attrs.len, 3);
	/* the tail after the schema is optional as a whole; a cut inside a field is malformed */
	for (size_t n = 0; n < sizeof(pkt); n++) {
		enum mp_rc rc = mp_change_user_read(pkt, n, caps, &r);
		bool whole = n == 31 || n == 33 || n == 55; /* after schema, charset, plugin */

		if (whole) {
			assert_int_equal(rc, MP_OK);
		} else if (rc == MP_OK) {
			fail_msg("prefix of %zu bytes accepted", n);
		}
	}
	/* not a COM_CHANGE_USER */
	assert_int_equal(mp_change_user_read((const uint8_t *)"\x03SELECT", 7, caps, &r), MP_MALFORMED);
	/* without SECURE_CONNECTION the token is NUL-terminated */
	assert_int_equal(mp_change_user_read((const uint8_t *)"\x11u\0tok\0db\0", 10,
					     MP_CLIENT_PROTOCOL_41, &r), MP_OK);
	assert_int_equal(r.auth.len, 3);
	assert_int_equal(r.schema.len, 2);
}

int
tp_run_handshake_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_golden),
		cmocka_unit_test(test_greeting_prefixes),
		cmocka_unit_test(test_greeting_write_golden),
		cmocka_unit_test(test_greeting_roundtrip),
		cmocka_unit_test(test_greeting_variants),
		cmocka_unit_test(test_hsresp_golden),
		cmocka_unit_test(test_hsresp_token_verifies),
		cmocka_unit_test(test_hsresp_prefixes),
		cmocka_unit_test(test_hsresp_ssl_request),
		cmocka_unit_test(test_hsresp_variants),
		cmocka_unit_test(test_hsresp_rejects),
		cmocka_unit_test(test_hsresp_write_golden),
		cmocka_unit_test(test_hsresp_write_roundtrip),
		cmocka_unit_test(test_native_token_vectors),
		cmocka_unit_test(test_native_verify),
		cmocka_unit_test(test_auth_switch_write),
		cmocka_unit_test(test_change_user),
	};

	return cmocka_run_group_tests_name("protocol/mp_handshake", tests, NULL, NULL);
}
