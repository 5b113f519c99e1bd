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

#endif /* MYSHARD_PROXY_PX_LISTENER_H */
