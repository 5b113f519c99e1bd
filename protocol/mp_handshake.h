/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol/mp_handshake.h - connection phase: HandshakeV10 greeting, HandshakeResponse41,
 * AuthSwitchRequest, and the mysql_native_password scramble. Pure; views point into the
 * caller's payload and are valid as long as it is.
 */
#ifndef MYSHARD_PROTOCOL_MP_HANDSHAKE_H
#define MYSHARD_PROTOCOL_MP_HANDSHAKE_H

#include "protocol/mp_packet.h"

/* Capability bits (lower 32). */
#define MP_CLIENT_MYSQL                   (1u << 0) /* LONG_PASSWORD; MariaDB: clear = extended caps */
#define MP_CLIENT_FOUND_ROWS              (1u << 1)
#define MP_CLIENT_LONG_FLAG               (1u << 2)
#define MP_CLIENT_CONNECT_WITH_DB         (1u << 3)
#define MP_CLIENT_NO_SCHEMA               (1u << 4)
#define MP_CLIENT_COMPRESS                (1u << 5)
#define MP_CLIENT_ODBC                    (1u << 6)
#define MP_CLIENT_LOCAL_FILES             (1u << 7)
#define MP_CLIENT_IGNORE_SPACE            (1u << 8)
#define MP_CLIENT_PROTOCOL_41             (1u << 9)
#define MP_CLIENT_INTERACTIVE             (1u << 10)
#define MP_CLIENT_SSL                     (1u << 11)
#define MP_CLIENT_IGNORE_SIGPIPE          (1u << 12)
#define MP_CLIENT_TRANSACTIONS            (1u << 13)
#define MP_CLIENT_RESERVED                (1u << 14)
#define MP_CLIENT_SECURE_CONNECTION       (1u << 15)
#define MP_CLIENT_MULTI_STATEMENTS        (1u << 16)
#define MP_CLIENT_MULTI_RESULTS           (1u << 17)
#define MP_CLIENT_PS_MULTI_RESULTS        (1u << 18)
#define MP_CLIENT_PLUGIN_AUTH             (1u << 19)
#define MP_CLIENT_CONNECT_ATTRS           (1u << 20)
#define MP_CLIENT_PLUGIN_AUTH_LENENC_DATA (1u << 21)
#define MP_CLIENT_CAN_HANDLE_EXPIRED      (1u << 22)
#define MP_CLIENT_SESSION_TRACK           (1u << 23)
#define MP_CLIENT_DEPRECATE_EOF           (1u << 24)

#define MP_SCRAMBLE_LEN 20
#define MP_NATIVE_PLUGIN "mysql_native_password"

/* What the server says in its greeting. */
struct mp_greeting {
	const char *version; /* borrowed, NUL-terminated */
	uint32_t conn_id;
	uint8_t scramble[MP_SCRAMBLE_LEN];
	uint32_t caps;     /* lower 32 capability bits */
	uint32_t ext_caps; /* MariaDB bits 32-63; written only when MP_CLIENT_MYSQL is clear */
	uint8_t collation;
	uint16_t status;
	const char *auth_plugin; /* borrowed, NUL-terminated */
};

/* A parsed greeting (for tests and tools); strings are views. */
struct mp_greeting_view {
	struct ms_slice version;
	uint32_t conn_id;
	uint8_t scramble[MP_SCRAMBLE_LEN];
	uint32_t caps;
	uint32_t ext_caps;
	uint8_t collation;
	uint16_t status;
	struct ms_slice auth_plugin;
};

/* A parsed HandshakeResponse41 (or the 32-byte SSLRequest prefix). */
struct mp_hsresp {
	uint32_t caps;
	uint32_t max_packet;
	uint8_t collation;
	uint32_t ext_caps;  /* meaningful only when MP_CLIENT_MYSQL is clear in <caps> */
	bool ssl_request;   /* the payload was exactly the 32-byte SSLRequest */
	struct ms_slice user;
	struct ms_slice auth;   /* auth response bytes; may be empty */
	struct ms_slice schema; /* empty unless CONNECT_WITH_DB */
	bool has_schema;
	struct ms_slice plugin; /* empty unless PLUGIN_AUTH */
	struct ms_slice attrs;  /* raw key/value block; empty unless CONNECT_ATTRS */
};

/* What a client (myshard towards a backend) puts in its HandshakeResponse41. */
struct mp_hsresp_out {
	uint32_t caps;        /* PROTOCOL_41 and SECURE_CONNECTION must be set */
	uint32_t max_packet;
	uint8_t collation;
	const char *user;     /* borrowed */
	const uint8_t *auth;  /* borrowed; <auth_len> bytes */
	size_t auth_len;
	const char *schema;   /* borrowed; written only with CONNECT_WITH_DB */
	const char *plugin;   /* borrowed; written only with PLUGIN_AUTH */
	const uint8_t *attrs; /* borrowed key/value block; written only with CONNECT_ATTRS */
	size_t attrs_len;
};

/* Writes a HandshakeResponse41 payload for <r>. */
void mp_hsresp_write(struct mp_writer *w, const struct mp_hsresp_out *r);
/* Writes the greeting payload (no packet header) for <g>. */
void mp_greeting_write(struct mp_writer *w, const struct mp_greeting *g);
/* Parses a complete greeting payload of <len> bytes. Truncated or wrong protocol: MP_MALFORMED. */
enum mp_rc mp_greeting_read(const uint8_t *p, size_t len, struct mp_greeting_view *out) MS_MUSTCHECK;
/*
 * Parses a complete HandshakeResponse41 payload of <len> bytes. <server_caps> are the caps the
 * greeting offered: fields are read only if both sides set their flag. Anything truncated,
 * pre-4.1 (no PROTOCOL_41) or inconsistent is MP_MALFORMED.
 */
enum mp_rc mp_hsresp_read(const uint8_t *p, size_t len, uint32_t server_caps,
			  struct mp_hsresp *out) MS_MUSTCHECK;
/* COM_CHANGE_USER (first byte 0x11) sent by a client with capabilities <caps>: user, auth
 * response (1-byte length with SECURE_CONNECTION, else NUL-terminated), schema, then optional
 * character set (2 bytes: its low byte goes to <collation>), plugin and attributes. */
enum mp_rc mp_change_user_read(const uint8_t *p, size_t len, uint32_t caps,
			       struct mp_hsresp *out) MS_MUSTCHECK;
/* Writes an AuthSwitchRequest payload: fe, <plugin> NUL, <data>, NUL. */
void mp_auth_switch_write(struct mp_writer *w, const char *plugin, const uint8_t *data, size_t len);

/* token = SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw))); empty password gives no token (len 0). */
void mp_native_token(const uint8_t scramble[MP_SCRAMBLE_LEN], const void *pw, size_t pwlen,
		     uint8_t out[MP_SCRAMBLE_LEN]);
/*
 * Checks a client's mysql_native_password <token> against <stored> = SHA1(SHA1(pw)).
 * <empty_password>: the account has no password; then only an empty token passes.
 */
bool mp_native_verify(const uint8_t scramble[MP_SCRAMBLE_LEN], const uint8_t stored[MP_SCRAMBLE_LEN],
		      bool empty_password, const uint8_t *token, size_t token_len) MS_MUSTCHECK;

#endif /* MYSHARD_PROTOCOL_MP_HANDSHAKE_H */
