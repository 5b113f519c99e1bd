/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol/mp_packet.c - little-endian field readers and writers over caller buffers.
 */
#include "protocol/mp_packet.h"

#include <string.h>

static uint64_t
mp_le_get(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

static enum mp_rc
mp_le_read(struct mp_cursor *c, size_t n, uint64_t *out)
{
	if (mp_cursor_left(c) < n) {
		return MP_NEED_MORE;
	}
	*out = mp_le_get(c->pos, n);
	c->pos += n;
	return MP_OK;
}

enum mp_rc
mp_hdr_read(struct mp_cursor *c, struct mp_hdr *out)
{
	if (mp_cursor_left(c) < MP_HDR_LEN) {
		return MP_NEED_MORE;
	}
	out->len = (uint32_t)mp_le_get(c->pos, 3);
	out->seq = c->pos[3];
	c->pos += MP_HDR_LEN;
	return MP_OK;
}

void
mp_hdr_put(uint8_t out[MP_HDR_LEN], uint32_t len, uint8_t seq)
{
	MS_ASSERT(len <= MP_MAX_PAYLOAD);
	out[0] = (uint8_t)len;
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)(len >> 16);
	out[3] = seq;
}

enum mp_rc
mp_u8_read(struct mp_cursor *c, uint8_t *out)
{
	uint64_t v;
	enum mp_rc rc = mp_le_read(c, 1, &v);

	if (rc == MP_OK) {
		*out = (uint8_t)v;
	}
	return rc;
}

enum mp_rc
mp_u16_read(struct mp_cursor *c, uint16_t *out)
{
	uint64_t v;
	enum mp_rc rc = mp_le_read(c, 2, &v);

	if (rc == MP_OK) {
		*out = (uint16_t)v;
	}
	return rc;
}

enum mp_rc
mp_u24_read(struct mp_cursor *c, uint32_t *out)
{
	uint64_t v;
	enum mp_rc rc = mp_le_read(c, 3, &v);

	if (rc == MP_OK) {
		*out = (uint32_t)v;
	}
	return rc;
}

enum mp_rc
mp_u32_read(struct mp_cursor *c, uint32_t *out)
{
	uint64_t v;
	enum mp_rc rc = mp_le_read(c, 4, &v);

	if (rc == MP_OK) {
		*out = (uint32_t)v;
	}
	return rc;
}

enum mp_rc
mp_u64_read(struct mp_cursor *c, uint64_t *out)
{
	return mp_le_read(c, 8, out);
}

size_t
mp_lenenc_size(uint8_t first)
{
	if (first < 0xfb) {
		return 1;
	}
	switch (first) {
	case 0xfc:
		return 3;
	case 0xfd:
		return 4;
	case 0xfe:
		return 9;
	default:
		return 0; /* 0xfb NULL, 0xff ERR marker */
	}
}

enum mp_rc
mp_lenenc_read(struct mp_cursor *c, uint64_t *out)
{
	size_t n;

	if (mp_cursor_left(c) < 1) {
		return MP_NEED_MORE;
	}
	n = mp_lenenc_size(c->pos[0]);
	if (n == 0) {
		return MP_MALFORMED;
	}
	if (mp_cursor_left(c) < n) {
		return MP_NEED_MORE;
	}
	*out = n == 1 ? c->pos[0] : mp_le_get(c->pos + 1, n - 1);
	c->pos += n;
	return MP_OK;
}

enum mp_rc
mp_lenenc_str_read(struct mp_cursor *c, struct ms_slice *out)
{
	struct mp_cursor save = *c;
	uint64_t len;
	enum mp_rc rc = mp_lenenc_read(c, &len);

	if (rc != MP_OK) {
		return rc;
	}
	if (mp_cursor_left(c) < len) {
		*c = save;
		return MP_NEED_MORE;
	}
	out->ptr = c->pos;
	out->len = (size_t)len;
	c->pos += len;
	return MP_OK;
}

enum mp_rc
mp_nul_str_read(struct mp_cursor *c, struct ms_slice *out)
{
	const uint8_t *nul;

	if (mp_cursor_left(c) == 0) {
		return MP_NEED_MORE; /* also keeps memchr() away from an empty NULL view */
	}
	nul = memchr(c->pos, 0, mp_cursor_left(c));
	if (nul == NULL) {
		return MP_NEED_MORE;
	}
	out->ptr = c->pos;
	out->len = (size_t)(nul - c->pos);
	c->pos = nul + 1;
	return MP_OK;
}

enum mp_rc
mp_bytes_read(struct mp_cursor *c, size_t n, struct ms_slice *out)
{
	if (mp_cursor_left(c) < n) {
		return MP_NEED_MORE;
	}
	out->ptr = c->pos;
	out->len = n;
	c->pos += n;
	return MP_OK;
}

void
mp_rest_read(struct mp_cursor *c, struct ms_slice *out)
{
	out->ptr = c->pos;
	out->len = mp_cursor_left(c);
	c->pos = c->end;
}

void
mp_writer_init(struct mp_writer *w, void *buf, size_t cap)
{
	w->start = buf;
	w->pos = buf;
	w->end = w->start + cap;
	w->overflow = false;
}

void
mp_bytes_put(struct mp_writer *w, const void *p, size_t n)
{
	if (w->overflow || (size_t)(w->end - w->pos) < n) {
		w->overflow = true;
		return;
	}
	if (n > 0) {
		memcpy(w->pos, p, n);
	}
	w->pos += n;
}

static void
mp_le_put(struct mp_writer *w, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++) {
		b[i] = (uint8_t)(v >> (8 * i));
	}
	mp_bytes_put(w, b, n);
}

void
mp_u8_put(struct mp_writer *w, uint8_t v)
{
	mp_le_put(w, v, 1);
}

void
mp_u16_put(struct mp_writer *w, uint16_t v)
{
	mp_le_put(w, v, 2);
}

void
mp_u24_put(struct mp_writer *w, uint32_t v)
{
	mp_le_put(w, v, 3);
}

void
mp_u32_put(struct mp_writer *w, uint32_t v)
{
	mp_le_put(w, v, 4);
}

void
mp_u64_put(struct mp_writer *w, uint64_t v)
{
	mp_le_put(w, v, 8);
}

void
mp_lenenc_put(struct mp_writer *w, uint64_t v)
{
	if (v < 0xfb) {
		mp_u8_put(w, (uint8_t)v);
	} else if (v <= 0xffff) {
		mp_u8_put(w, 0xfc);
		mp_le_put(w, v, 2);
	} else if (v <= 0xffffff) {
		mp_u8_put(w, 0xfd);
		mp_le_put(w, v, 3);
	} else {
		mp_u8_put(w, 0xfe);
		mp_le_put(w, v, 8);
	}
}

void
mp_lenenc_str_put(struct mp_writer *w, const void *p, size_t n)
{
	mp_lenenc_put(w, n);
	mp_bytes_put(w, p, n);
}

void
mp_nul_str_put(struct mp_writer *w, const char *s)
{
	mp_bytes_put(w, s, strlen(s) + 1);
}

void
mp_zeros_put(struct mp_writer *w, size_t n)
{
	static const uint8_t zeros[32];

	while (n > 0) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);

		mp_bytes_put(w, zeros, k);
		n -= k;
	}
}
