/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_conn.h - one non-blocking socket with an input and an output evbuffer, tuned for
 * request/response traffic: read interest stays registered (no epoll_ctl per query), output is
 * written at once when flushed and write interest is registered only when the kernel pushes
 * back, and reads go straight into reserved buffer space (no FIONREAD). About four syscalls per
 * proxied query instead of bufferevent's ten.
 * Worker thread only. Every event reaches the owner through one callback, which is the
 * outermost frame for the owner (it may free the connection).
 */
#ifndef MYSHARD_PROXY_PX_CONN_H
#define MYSHARD_PROXY_PX_CONN_H

#include "common/ms_base.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <sys/socket.h>

struct evbuffer;
struct px_tls;
struct px_zlib;

enum px_conn_what {
	PX_CONN_READ = 1u << 0,      /* new bytes in <in> */
	PX_CONN_EOF = 1u << 1,       /* the peer closed (after any READ data) */
	PX_CONN_ERROR = 1u << 2,     /* socket error; <err> holds errno */
	PX_CONN_TIMEOUT = 1u << 3,   /* the read (or connect) timeout expired */
	PX_CONN_DRAINED = 1u << 4,   /* queued output fell to the low-water mark */
	PX_CONN_CONNECTED = 1u << 5, /* px_conn_connect() completed */
};

struct px_conn;
typedef void px_conn_cb(struct px_conn *c, unsigned int what, void *arg);

struct px_conn {
	evutil_socket_t fd;     /* owned; -1 when none */
	struct evbuffer *in;    /* owned */
	struct evbuffer *out;   /* owned */
	struct event rev;       /* EV_READ | EV_PERSIST */
	struct event wev;       /* EV_WRITE | EV_PERSIST */
	bool reading;           /* rev is added */
	bool writing;           /* wev is added: output waits for the kernel */
	bool connecting;        /* a non-blocking connect is in progress */
	bool failed;            /* a write failed; reported from the loop */
	bool hw_stopped;        /* reading stopped at <read_hw>; px_conn_resume() restarts it */
	bool timeout_set;
	bool big_reads;         /* the last read filled a small first buffer: read big ones */
	struct timeval timeout; /* for rev (and wev while connecting) */
	size_t read_hw;         /* stop reading while <in> holds this much; 0 = no limit */
	size_t write_lw;        /* DRAINED fires when <out> falls to this */
	int err;                /* errno of the last ERROR */
	unsigned int write_evs; /* times the kernel took more output after pushing back */
	struct px_tls *tls;     /* owned; NULL: plain TCP (proxy/px_tls.h) */
	struct px_zlib *z;      /* owned; NULL: no protocol compression (proxy/px_zlib.h) */
	px_conn_cb *cb;         /* borrowed */
	void *arg;              /* borrowed */
};

/* Sets <c> up on <base> for socket <fd> (may be -1 before px_conn_connect()). */
enum ms_rc px_conn_init(struct px_conn *c, struct event_base *base, evutil_socket_t fd,
			px_conn_cb *cb, void *arg) MS_MUSTCHECK;
/* Unregisters, frees the buffers and closes the socket. */
void px_conn_deinit(struct px_conn *c);
/* Starts a non-blocking connect to <sa>; CONNECTED or ERROR/TIMEOUT follow from the loop. */
enum ms_rc px_conn_connect(struct px_conn *c, const struct sockaddr *sa, socklen_t len) MS_MUSTCHECK;
/* Turns reading on or off (one epoll_ctl only when it changes). */
void px_conn_set_read(struct px_conn *c, bool on);
/* Read timeout (idle, handshake); NULL clears it. */
void px_conn_set_timeout(struct px_conn *c, const struct timeval *tv);
/*
 * Writes as much queued output as the kernel takes now; registers write interest only for the
 * rest. A failure is reported as ERROR from the loop, never from inside this call.
 */
void px_conn_flush(struct px_conn *c);
/* Re-enables reading if it was stopped at the high-water mark and <in> has room again. */
void px_conn_resume(struct px_conn *c);

#endif /* MYSHARD_PROXY_PX_CONN_H */
