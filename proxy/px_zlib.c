/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_zlib.c - compressed protocol frames over evbuffers. Each frame is a zlib stream of
 * its own: deflated by one stream per connection, reset between frames (no allocation per
 * frame; a 4 KiB window keeps its state near 32 KiB), inflated with uncompress().
 */
#include "proxy/px_zlib.h"

#include "common/ms_log.h"
#include "proxy/px_conn.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PX_Z_HDR       7
#define PX_Z_CHUNK     65536u        /* output deflated per frame */
#define PX_Z_MIN       50u           /* shorter payloads go uncompressed, as servers do */
#define PX_Z_OUT_CAP   (256u * 1024) /* framed bytes queued before deflating more waits */

struct px_zlib {
	struct evbuffer *in;  /* owned; frames from the wire */
	struct evbuffer *out; /* owned; frames for the wire */
	uint8_t seq;          /* next frame's sequence id: one past the peer's last */
	uint8_t *buf;         /* owned; scratch of <cap> bytes */
	size_t cap;
	z_stream def;         /* deflate state, made on the first frame worth deflating */
	bool def_on;
};

void
px_zlib_free(struct px_zlib *z)
{
	if (z == NULL) {
		return;
	}
	if (z->in != NULL) {
		evbuffer_free(z->in);
	}
	if (z->out != NULL) {
		evbuffer_free(z->out);
	}
	if (z->def_on) {
		deflateEnd(&z->def);
	}
	free(z->buf);
	free(z);
}

/* Deflates <n> bytes of <src> into <z>->buf as one zlib stream; false if it did not shrink. */
static bool
px_zlib_pack(struct px_zlib *z, const uint8_t *src, size_t n, uLongf *clen)
{
	if (!z->def_on) {
		memset(&z->def, 0, sizeof(z->def));
		if (deflateInit2(&z->def, 1, Z_DEFLATED, 12, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
			return false;
		}
		z->def_on = true;
	} else if (deflateReset(&z->def) != Z_OK) {
		return false;
	}
	z->def.next_in = (Bytef *)(uintptr_t)src;
	z->def.avail_in = (uInt)n;
	z->def.next_out = z->buf;
	z->def.avail_out = (uInt)(n - 1); /* no gain unless it ends shorter than the input */
	if (deflate(&z->def, Z_FINISH) != Z_STREAM_END) {
		return false;
	}
	*clen = (uLongf)(n - 1 - z->def.avail_out);
	return true;
}

struct evbuffer *
px_zlib_wire_in(struct px_zlib *z)
{
	return z->in;
}

struct evbuffer *
px_zlib_wire_out(struct px_zlib *z)
{
	return z->out;
}

enum ms_rc
px_zlib_start(struct px_conn *c)
{
	struct px_zlib *z = calloc(1, sizeof(*z));

	if (z == NULL) {
		return MS_ENOMEM;
	}
	z->in = evbuffer_new();
	z->out = evbuffer_new();
	if (z->in == NULL || z->out == NULL) {
		px_zlib_free(z);
		return MS_ENOMEM;
	}
	/* what is queued (the OK that ends the login) goes out as it is; what was read after the
	 * handshake response is already framed */
	ms_log_debug("compressed protocol on fd %d (%zu bytes queued, %zu read ahead)", (int)c->fd,
		     evbuffer_get_length(c->out), evbuffer_get_length(c->in));
	evbuffer_add_buffer(z->out, c->out);
	evbuffer_add_buffer(z->in, c->in);
	c->z = z;
	return MS_OK;
}

static uint32_t
px_z_u24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

bool
px_zlib_inflate(struct px_conn *c)
{
	struct px_zlib *z = c->z;
	uint8_t h[PX_Z_HDR];

	while (evbuffer_copyout(z->in, h, sizeof(h)) == (ev_ssize_t)sizeof(h)) {
		uint32_t clen = px_z_u24(h), ulen = px_z_u24(h + 4);
		const uint8_t *src;
		uLongf got = ulen;

		if (evbuffer_get_length(z->in) < PX_Z_HDR + (size_t)clen) {
			return true; /* the rest of the frame is still on its way */
		}
		src = evbuffer_pullup(z->in, PX_Z_HDR + (ev_ssize_t)clen) + PX_Z_HDR;
		if (ulen == 0) {
			evbuffer_add(c->in, src, clen);
		} else {
			if (!ms_bytes_reserve(&z->buf, &z->cap, ulen) || uncompress(z->buf, &got, src, clen) != Z_OK ||
			    got != ulen) {
				ms_log_debug("compressed protocol: frame %u of %u bytes does not inflate to %u",
					     (unsigned int)h[3], (unsigned int)clen, (unsigned int)ulen);
				return false;
			}
			evbuffer_add(c->in, z->buf, ulen);
		}
		z->seq = (uint8_t)(h[3] + 1);
		evbuffer_drain(z->in, PX_Z_HDR + (size_t)clen);
	}
	return true;
}

bool
px_zlib_deflate(struct px_conn *c)
{
	struct px_zlib *z = c->z;
	size_t left;

	while ((left = evbuffer_get_length(c->out)) > 0 &&
	       evbuffer_get_length(z->out) < PX_Z_OUT_CAP) {
		size_t n = left < PX_Z_CHUNK ? left : PX_Z_CHUNK;
		const uint8_t *src = evbuffer_pullup(c->out, (ev_ssize_t)n);
		uLongf clen = 0;
		uint8_t h[PX_Z_HDR];
		bool packed;

		if (src == NULL || !ms_bytes_reserve(&z->buf, &z->cap, n)) {
			return false;
		}
		packed = n >= PX_Z_MIN && px_zlib_pack(z, src, n, &clen);
		if (!packed) {
			clen = n;
		}
		h[0] = (uint8_t)clen;
		h[1] = (uint8_t)(clen >> 8);
		h[2] = (uint8_t)(clen >> 16);
		h[3] = z->seq++;
		h[4] = packed ? (uint8_t)n : 0;
		h[5] = packed ? (uint8_t)(n >> 8) : 0;
		h[6] = packed ? (uint8_t)(n >> 16) : 0;
		if (evbuffer_add(z->out, h, sizeof(h)) != 0 ||
		    evbuffer_add(z->out, packed ? z->buf : src, clen) != 0) {
			return false;
		}
		evbuffer_drain(c->out, n);
	}
	return true;
}
