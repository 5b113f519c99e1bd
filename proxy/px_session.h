/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_session.h - a client connection: handshake and authentication against the
 * configured users, then the command phase, forwarding each command to a pooled backend
 * connection and streaming the response back packet by packet.
 * Every function here runs on the session's worker thread. The entry points below are the
 * outermost frame for the session they name: they may free it before returning, so callers
 * must not touch <s> afterwards.
 */
#ifndef MYSHARD_PROXY_PX_SESSION_H
#define MYSHARD_PROXY_PX_SESSION_H

#include "proxy/px_types.h"

/* Takes ownership of accepted socket <fd> and greets the client. */
void px_session_accept(struct px_worker *w, int fd, const char *peer);
/* A pool hands <b> (already ACTIVE, owner <s>) to waiting <s>. */
void px_session_backend_ready(struct px_session *s, struct px_backend *b);
/* A pool could not get a connection for waiting <s>; <why> names the shard and the reason. */
void px_session_backend_failed(struct px_session *s, const char *why);
/* The backend held by <s> has bytes to read. */
void px_session_backend_read(struct px_session *s);
/* The backend held by <s> closed or failed. */
void px_session_backend_lost(struct px_session *s, struct px_backend *b, const char *why);
/* Worker shutdown: closes and frees every session of <w>. */
void px_session_close_all(struct px_worker *w);
/* SIGTERM: closes the worker's idle sessions (and those still logging in) now; a session busy
 * with a statement (or a commit) closes as soon as it is done. An open transaction of a closed
 * session rolls back, as on a server that shuts down. */
void px_session_drain_all(struct px_worker *w);
/* Client connections open in every worker (any thread). */
unsigned int px_session_open_count(void) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_SESSION_H */
