/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_listener.h - the client listener. The main thread accepts and hands each socket to
 * the next worker in turn; a worker whose mailbox is full makes the client get ERR 1040.
 */
#ifndef MYSHARD_PROXY_PX_LISTENER_H
#define MYSHARD_PROXY_PX_LISTENER_H

#include "proxy/px_types.h"

struct px_listener;

/* Binds <addr>:<port> on <base> and dispatches to the <n> workers <ws>. NULL on failure (logged). */
/* <reuse_port>: SO_REUSEPORT, so that a new process can listen on the port beside this one. */
struct px_listener *px_listener_new(struct event_base *base, const char *addr, uint16_t port,
				    bool reuse_port, struct px_worker *ws,
				    unsigned int n) MS_MUSTCHECK;
void px_listener_free(struct px_listener *l);
/*
 * SIGTERM: stops taking connections and frees <l> once nothing is left to take. Without
 * reuse_port that is at once. With it, the listener keeps accepting what is already queued
 * on it (a new process on the port takes every new connection: px_listener_steer_newest)
 * until none has come for PX_LINGER_QUIET_MS, at most PX_LINGER_MAX_MS; <done> runs then.
 */
void px_listener_close_soon(struct px_listener *l, void (*done)(void *), void *arg);
/*
 * Makes the SO_REUSEPORT group of listening socket <fd> hand new connections to the socket
 * that joined it second (a cBPF program returning 1; with one socket the kernel falls back
 * to its hash). So while an old myshard drains, new clients go to the new one, and the old
 * one's queue only holds what came before: it can close without resetting anything.
 */
void px_listener_steer_newest(int fd, const char *what);

#endif /* MYSHARD_PROXY_PX_LISTENER_H */
