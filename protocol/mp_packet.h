/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol/mp_packet.h - MySQL packet framing, fixed and length-encoded fields.
 * Pure code over byte ranges the caller owns: no sockets, no libevent, no allocation.
 * Readers advance the cursor only on success; on MP_NEED_MORE retry when more bytes arrive.
 * Writers fill a caller-provided buffer and keep a sticky overflow bit (check once at the end).
 */
#ifndef MYSHARD_PROTOCOL_MP_PACKET_H
#define MYSHARD_PROTOCOL_MP_PACKET_H

#include "common/ms_base.h"

#define MP_HDR_LEN     4
#define MP_MAX_PAYLOAD 0xffffffu /* a payload this long continues in the next packet */

enum mp_rc {
	MP_OK = 0,
	MP_NEED_MORE, /* input ends inside the field; cursor untouched */
	MP_MALFORMED, /* no amount of extra input makes this valid */
};

/* A read-only window into a buffer owned by the caller. */
struct mp_cursor {
	const uint8_t *pos; /* borrowed */
	const uint8_t *end; /* borrowed */
};

struct mp_hdr {
	uint32_t len; /* payload bytes, 0..MP_MAX_PAYLOAD */
	uint8_t seq;  /* sequence id, wraps at 256 */
};

/* Writes into [pos, end); once something does not fit, <overflow> stays set and nothing more is written. */
struct mp_writer {
	uint8_t *start; /* borrowed */
	uint8_t *pos;   /* borrowed */
	uint8_t *end;   /* borrowed */
	bool overflow;
};

static inline void
mp_cursor_init(struct mp_cursor *c, const void *buf, size_t len)
{
	c->pos = buf;
	c->end = len > 0 ? c->pos + len : c->pos; /* no NULL + 0 for empty views */
}

static inline size_t
mp_cursor_left(const struct mp_cursor *c)
{
	return (size_t)(c->end - c->pos);
}

/* Reads the 4-byte header at <c>; the payload need not be present yet. */
enum mp_rc mp_hdr_read(struct mp_cursor *c, struct mp_hdr *out) MS_MUSTCHECK;
/* Writes a header for <len> (must be <= MP_MAX_PAYLOAD) and <seq> into <out>. */
void mp_hdr_put(uint8_t out[MP_HDR_LEN], uint32_t len, uint8_t seq);

enum mp_rc mp_u8_read(struct mp_cursor *c, uint8_t *out) MS_MUSTCHECK;
enum mp_rc mp_u16_read(struct mp_cursor *c, uint16_t *out) MS_MUSTCHECK;
enum mp_rc mp_u24_read(struct mp_cursor *c, uint32_t *out) MS_MUSTCHECK;
enum mp_rc mp_u32_read(struct mp_cursor *c, uint32_t *out) MS_MUSTCHECK;
enum mp_rc mp_u64_read(struct mp_cursor *c, uint64_t *out) MS_MUSTCHECK;
/* Length-encoded integer. A leading 0xfb (NULL) or 0xff is MP_MALFORMED here. */
enum mp_rc mp_lenenc_read(struct mp_cursor *c, uint64_t *out) MS_MUSTCHECK;
/* Length-encoded string as a view into <c>'s buffer; valid until that buffer drains. */
enum mp_rc mp_lenenc_str_read(struct mp_cursor *c, struct ms_slice *out) MS_MUSTCHECK;
/* NUL-terminated string; the view excludes the NUL, which is consumed. */
enum mp_rc mp_nul_str_read(struct mp_cursor *c, struct ms_slice *out) MS_MUSTCHECK;
/* Exactly <n> bytes as a view. */
enum mp_rc mp_bytes_read(struct mp_cursor *c, size_t n, struct ms_slice *out) MS_MUSTCHECK;
/* Everything left, possibly empty; always MP_OK. */
void mp_rest_read(struct mp_cursor *c, struct ms_slice *out);
/* Number of bytes a length-encoded integer starting with <first> occupies (1, 3, 4 or 9); 0 if invalid. */
size_t mp_lenenc_size(uint8_t first) MS_MUSTCHECK;

void mp_writer_init(struct mp_writer *w, void *buf, size_t cap);
static inline size_t
mp_writer_len(const struct mp_writer *w)
{
	return (size_t)(w->pos - w->start);
}
void mp_u8_put(struct mp_writer *w, uint8_t v);
void mp_u16_put(struct mp_writer *w, uint16_t v);
void mp_u24_put(struct mp_writer *w, uint32_t v);
void mp_u32_put(struct mp_writer *w, uint32_t v);
void mp_u64_put(struct mp_writer *w, uint64_t v);
void mp_lenenc_put(struct mp_writer *w, uint64_t v);
void mp_bytes_put(struct mp_writer *w, const void *p, size_t n);
void mp_lenenc_str_put(struct mp_writer *w, const void *p, size_t n);
/* Writes <s> and a terminating NUL. */
void mp_nul_str_put(struct mp_writer *w, const char *s);
void mp_zeros_put(struct mp_writer *w, size_t n);

#endif /* MYSHARD_PROTOCOL_MP_PACKET_H */
