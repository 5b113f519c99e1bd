/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol/mp_result.c - OK / ERR / EOF / column definition / text row codecs.
 */
#include "protocol/mp_result.h"

#include <string.h>

static enum mp_rc
mp_ok_info(struct mp_cursor *c, bool session_track, struct mp_ok *out)
{
	struct mp_cursor save = *c;

	if (mp_cursor_left(c) == 0) {
		return MP_OK;
	}
	if (session_track) {
		if (mp_lenenc_str_read(c, &out->info) != MP_OK) {
			return MP_MALFORMED;
		}
		if ((out->status & MP_STATUS_STATE_CHANGED) && mp_cursor_left(c) > 0) {
			if (mp_lenenc_str_read(c, &out->session_state) != MP_OK) {
				return MP_MALFORMED;
			}
		}
		return mp_cursor_left(c) == 0 ? MP_OK : MP_MALFORMED;
	}
	/* Without SESSION_TRACK MariaDB still length-prefixes a non-empty info string. */
	if (mp_lenenc_str_read(c, &out->info) == MP_OK && mp_cursor_left(c) == 0) {
		return MP_OK;
	}
	*c = save;
	mp_rest_read(c, &out->info);
	return MP_OK;
}

enum mp_rc
mp_ok_read(const uint8_t *p, size_t len, bool session_track, struct mp_ok *out)
{
	struct mp_cursor c;

	memset(out, 0, sizeof(*out));
	mp_cursor_init(&c, p, len);
	if (mp_u8_read(&c, &out->header) != MP_OK ||
	    (out->header != MP_OK_HDR && out->header != MP_EOF_HDR) ||
	    mp_lenenc_read(&c, &out->affected_rows) != MP_OK ||
	    mp_lenenc_read(&c, &out->last_insert_id) != MP_OK ||
	    mp_u16_read(&c, &out->status) != MP_OK || mp_u16_read(&c, &out->warnings) != MP_OK) {
		return MP_MALFORMED;
	}
	return mp_ok_info(&c, session_track, out);
}

void
mp_ok_write(struct mp_writer *w, const struct mp_ok *ok, bool session_track)
{
	bool state = session_track && ok->session_state.len > 0;
	uint16_t status = ok->status;

	if (!state) {
		status &= (uint16_t)~MP_STATUS_STATE_CHANGED;
	}
	mp_u8_put(w, ok->header);
	mp_lenenc_put(w, ok->affected_rows);
	mp_lenenc_put(w, ok->last_insert_id);
	mp_u16_put(w, status);
	mp_u16_put(w, ok->warnings);
	if (ok->info.len > 0 || state) {
		mp_lenenc_str_put(w, ok->info.ptr, ok->info.len);
	}
	if (state) {
		mp_lenenc_str_put(w, ok->session_state.ptr, ok->session_state.len);
	}
}

static size_t
mp_lenenc_len(uint64_t n)
{
	return n < 251 ? 1 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 9;
}

void
mp_track_sysvar_put(struct mp_writer *w, const char *name, size_t name_len, const char *value,
		    size_t value_len)
{
	mp_u8_put(w, MP_TRACK_SYSVAR);
	mp_lenenc_put(w, mp_lenenc_len(name_len) + name_len + mp_lenenc_len(value_len) + value_len);
	mp_lenenc_str_put(w, name, name_len);
	mp_lenenc_str_put(w, value, value_len);
}

void
mp_track_schema_put(struct mp_writer *w, const char *schema, size_t len)
{
	mp_u8_put(w, MP_TRACK_SCHEMA);
	mp_lenenc_put(w, mp_lenenc_len(len) + len);
	mp_lenenc_str_put(w, schema, len);
}

enum mp_rc
mp_track_next(struct mp_cursor *c, uint8_t *type, struct ms_slice *data, struct ms_slice *entry)
{
	const uint8_t *start = c->pos;

	if (mp_cursor_left(c) == 0) {
		return MP_NEED_MORE;
	}
	if (mp_u8_read(c, type) != MP_OK || mp_lenenc_str_read(c, data) != MP_OK) {
		return MP_MALFORMED;
	}
	entry->ptr = start;
	entry->len = (size_t)(c->pos - start);
	return MP_OK;
}

enum mp_rc
mp_err_read(const uint8_t *p, size_t len, struct mp_err *out)
{
	struct mp_cursor c;
	uint8_t hdr;

	mp_cursor_init(&c, p, len);
	if (mp_u8_read(&c, &hdr) != MP_OK || hdr != MP_ERR_HDR || mp_u16_read(&c, &out->code) != MP_OK) {
		return MP_MALFORMED;
	}
	if (mp_cursor_left(&c) >= 6 && c.pos[0] == '#') {
		memcpy(out->sqlstate, c.pos + 1, 5);
		c.pos += 6;
	} else {
		memcpy(out->sqlstate, "HY000", 5);
	}
	out->sqlstate[5] = '\0';
	mp_rest_read(&c, &out->message);
	return MP_OK;
}

void
mp_err_write(struct mp_writer *w, uint16_t code, const char *sqlstate, const char *msg)
{
	mp_u8_put(w, MP_ERR_HDR);
	mp_u16_put(w, code);
	mp_u8_put(w, '#');
	mp_bytes_put(w, sqlstate, 5);
	mp_bytes_put(w, msg, strlen(msg));
}

enum mp_rc
mp_eof_read(const uint8_t *p, size_t len, uint16_t *warnings, uint16_t *status)
{
	struct mp_cursor c;
	uint8_t hdr;

	mp_cursor_init(&c, p, len);
	if (len >= 9 || mp_u8_read(&c, &hdr) != MP_OK || hdr != MP_EOF_HDR ||
	    mp_u16_read(&c, warnings) != MP_OK || mp_u16_read(&c, status) != MP_OK) {
		return MP_MALFORMED;
	}
	return MP_OK;
}

void
mp_eof_write(struct mp_writer *w, uint16_t warnings, uint16_t status)
{
	mp_u8_put(w, MP_EOF_HDR);
	mp_u16_put(w, warnings);
	mp_u16_put(w, status);
}

enum mp_rc
mp_coldef_read(const uint8_t *p, size_t len, struct mp_coldef *out)
{
	struct mp_cursor c;
	uint64_t fixed_len;
	struct ms_slice filler;

	mp_cursor_init(&c, p, len);
	if (mp_lenenc_str_read(&c, &out->catalog) != MP_OK ||
	    mp_lenenc_str_read(&c, &out->schema) != MP_OK ||
	    mp_lenenc_str_read(&c, &out->table) != MP_OK ||
	    mp_lenenc_str_read(&c, &out->org_table) != MP_OK ||
	    mp_lenenc_str_read(&c, &out->name) != MP_OK ||
	    mp_lenenc_str_read(&c, &out->org_name) != MP_OK ||
	    mp_lenenc_read(&c, &fixed_len) != MP_OK || fixed_len < 0x0a ||
	    mp_u16_read(&c, &out->charset) != MP_OK || mp_u32_read(&c, &out->length) != MP_OK ||
	    mp_u8_read(&c, &out->type) != MP_OK || mp_u16_read(&c, &out->flags) != MP_OK ||
	    mp_u8_read(&c, &out->decimals) != MP_OK ||
	    mp_bytes_read(&c, (size_t)fixed_len - 0x0a, &filler) != MP_OK) {
		return MP_MALFORMED;
	}
	return MP_OK;
}

void
mp_coldef_write(struct mp_writer *w, const struct mp_coldef *def)
{
	mp_lenenc_str_put(w, def->catalog.ptr, def->catalog.len);
	mp_lenenc_str_put(w, def->schema.ptr, def->schema.len);
	mp_lenenc_str_put(w, def->table.ptr, def->table.len);
	mp_lenenc_str_put(w, def->org_table.ptr, def->org_table.len);
	mp_lenenc_str_put(w, def->name.ptr, def->name.len);
	mp_lenenc_str_put(w, def->org_name.ptr, def->org_name.len);
	mp_u8_put(w, 0x0c);
	mp_u16_put(w, def->charset);
	mp_u32_put(w, def->length);
	mp_u8_put(w, def->type);
	mp_u16_put(w, def->flags);
	mp_u8_put(w, def->decimals);
	mp_zeros_put(w, 2);
}

enum mp_rc
mp_textrow_next(struct mp_cursor *c, struct ms_slice *val, bool *is_null)
{
	if (mp_cursor_left(c) == 0) {
		return MP_NEED_MORE;
	}
	if (c->pos[0] == 0xfb) {
		c->pos++;
		val->ptr = NULL;
		val->len = 0;
		*is_null = true;
		return MP_OK;
	}
	*is_null = false;
	if (c->pos[0] == 0xff) {
		return MP_MALFORMED;
	}
	return mp_lenenc_str_read(c, val);
}
