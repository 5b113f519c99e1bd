/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_zlib.h - the compressed client protocol (CLIENT_COMPRESS, zlib). Once on, every
 * byte on the wire is framed: 3-byte compressed length, a sequence id of its own, 3-byte
 * uncompressed length (0: the payload is sent as it is), then the payload. px_conn inflates
 * incoming frames into its input and deflates its output into frames, between the socket (or
 * TLS) and the owner, so the owner's code does not change. Worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_ZLIB_H
#define MYSHARD_PROXY_PX_ZLIB_H

#include "common/ms_base.h"

struct evbuffer;
struct px_conn;
struct px_zlib;

/*
 * Turns compression on for <c> from now on: output already queued goes out as it is (the
 * login's OK), input already read is taken as frames. Call right after queueing the OK.
 */
enum ms_rc px_zlib_start(struct px_conn *c) MS_MUSTCHECK;
void px_zlib_free(struct px_zlib *z);
/* Frames read from the wire, and frames for the wire. */
struct evbuffer *px_zlib_wire_in(struct px_zlib *z);
struct evbuffer *px_zlib_wire_out(struct px_zlib *z);
/* Inflates the complete frames of the wire input into <c>->in. False on a malformed frame. */
bool px_zlib_inflate(struct px_conn *c) MS_MUSTCHECK;
/* Deflates <c>->out into frames while the wire output holds less than a cap. False when out of
 * memory. */
bool px_zlib_deflate(struct px_conn *c) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_ZLIB_H */
