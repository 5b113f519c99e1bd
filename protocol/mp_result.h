/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol/mp_result.h - generic response packets: OK, ERR, EOF, column definitions and text
 * rows. Decoders take one complete payload and return views into it; encoders write payloads
 * (no packet header) through an mp_writer.
 */
#ifndef MYSHARD_PROTOCOL_MP_RESULT_H
#define MYSHARD_PROTOCOL_MP_RESULT_H

#include "protocol/mp_packet.h"

/* Server status flags. */
#define MP_STATUS_IN_TRANS          0x0001u
#define MP_STATUS_AUTOCOMMIT        0x0002u
#define MP_STATUS_MORE_RESULTS      0x0008u
#define MP_STATUS_CURSOR_EXISTS     0x0040u
#define MP_STATUS_LAST_ROW_SENT     0x0080u
#define MP_STATUS_PS_OUT_PARAMS     0x1000u
#define MP_STATUS_IN_TRANS_READONLY 0x2000u
#define MP_STATUS_STATE_CHANGED     0x4000u

#define MP_OK_HDR  0x00
#define MP_EOF_HDR 0xfe
#define MP_ERR_HDR 0xff

struct mp_ok {
	uint8_t header;           /* 0x00, or 0xfe for a DEPRECATE_EOF terminator */
	uint64_t affected_rows;
	uint64_t last_insert_id;
	uint16_t status;
	uint16_t warnings;
	struct ms_slice info;          /* may be empty */
	struct ms_slice session_state; /* raw block; empty unless tracked and STATE_CHANGED */
};

struct mp_err {
	uint16_t code;
	char sqlstate[6]; /* NUL-terminated; "HY000" when the packet carries none */
	struct ms_slice message;
};

struct mp_coldef {
	struct ms_slice catalog, schema, table, org_table, name, org_name;
	uint16_t charset;
	uint32_t length;
	uint8_t type;
	uint16_t flags;
	uint8_t decimals;
};

/*
 * Decodes an OK payload (first byte 00 or fe). <session_track>: the connection negotiated
 * CLIENT_SESSION_TRACK, so info and the state block are length-encoded; otherwise the info is
 * taken leniently (length-encoded when it parses exactly, else the rest of the packet).
 */
enum mp_rc mp_ok_read(const uint8_t *p, size_t len, bool session_track, struct mp_ok *out) MS_MUSTCHECK;
/* Encodes <ok>; the session-state block is written only when <session_track> and non-empty. */
void mp_ok_write(struct mp_writer *w, const struct mp_ok *ok, bool session_track);
/*
 * Session-state change entries: the OK's state block when CLIENT_SESSION_TRACK is on and the
 * status has STATE_CHANGED. Each entry is a type byte and length-encoded data.
 */
#define MP_TRACK_SYSVAR 0 /* data: lenenc name, lenenc value */
#define MP_TRACK_SCHEMA 1 /* data: lenenc schema */
#define MP_TRACK_STATE  2 /* data: lenenc "1" */
void mp_track_sysvar_put(struct mp_writer *w, const char *name, size_t name_len, const char *value,
			 size_t value_len);
void mp_track_schema_put(struct mp_writer *w, const char *schema, size_t len);
/*
 * The entry of a state block at <c>: its type, its data, and the whole entry's bytes (for
 * copying it as is). MP_NEED_MORE at the end of the block, MP_MALFORMED on a cut entry.
 */
enum mp_rc mp_track_next(struct mp_cursor *c, uint8_t *type, struct ms_slice *data,
			 struct ms_slice *entry) MS_MUSTCHECK;
enum mp_rc mp_err_read(const uint8_t *p, size_t len, struct mp_err *out) MS_MUSTCHECK;
/* Encodes ERR <code>, '#'<sqlstate> (5 chars) and <msg> (PROTOCOL_41 form). */
void mp_err_write(struct mp_writer *w, uint16_t code, const char *sqlstate, const char *msg);
/* Decodes a legacy EOF: fe + warnings + status, payload < 9 bytes. */
enum mp_rc mp_eof_read(const uint8_t *p, size_t len, uint16_t *warnings, uint16_t *status) MS_MUSTCHECK;
void mp_eof_write(struct mp_writer *w, uint16_t warnings, uint16_t status);
/* Decodes a column definition (COM_QUERY form; a COM_FIELD_LIST default value is ignored). */
enum mp_rc mp_coldef_read(const uint8_t *p, size_t len, struct mp_coldef *out) MS_MUSTCHECK;
void mp_coldef_write(struct mp_writer *w, const struct mp_coldef *def);
/*
 * Reads the next value of a text row at <c>: a view and *<is_null>. MP_NEED_MORE at the end of
 * the row (no value left) or when a value is cut short; MP_MALFORMED on a bad length.
 */
enum mp_rc mp_textrow_next(struct mp_cursor *c, struct ms_slice *val, bool *is_null) MS_MUSTCHECK;

#endif /* MYSHARD_PROTOCOL_MP_RESULT_H */
