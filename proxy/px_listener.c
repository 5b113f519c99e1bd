/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_listener.c - accept on the main thread, round-robin hand-off to workers.
 */
#include "proxy/px_listener.h"

#include "common/ms_log.h"
#include "protocol/mp_result.h"
#include "proxy/px_worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#define PX_LINGER_QUIET_MS 300  /* draining with reuse_port: close after this long without */
#define PX_LINGER_MAX_MS   2000 /* a new connection, or after this long in any case */

struct px_listener {
	struct evconnlistener *ev; /* owned */
	struct event *resume_ev;   /* owned: re-enables accepting after running out of fds */
	struct px_worker *ws;      /* borrowed */
	unsigned int n;
	unsigned int next;         /* round-robin cursor */
	bool reuse_port;
	uint64_t last_accept_us;   /* draining: when the last connection came */
	uint64_t linger_until_us;  /* draining: close at the latest then */
	struct event *linger_ev;   /* owned; draining with reuse_port */
	void (*done)(void *);      /* draining: called once the listener is gone */
	void *done_arg;
};

/* Every worker is saturated: tell the client plainly instead of hanging up on it. */
static void
px_listener_refuse(int fd)
{
	uint8_t buf[128];
	struct mp_writer w;
	ssize_t rc;

	mp_writer_init(&w, buf + MP_HDR_LEN, sizeof(buf) - MP_HDR_LEN);
	mp_err_write(&w, 1040, "08004", "Too many connections");
	mp_hdr_put(buf, (uint32_t)mp_writer_len(&w), 0);
	rc = send(fd, buf, MP_HDR_LEN + mp_writer_len(&w), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)rc;
	close(fd);
}

static void
px_listener_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
		   void *arg)
{
	struct px_listener *l = arg;
	char ip[INET6_ADDRSTRLEN] = "?";
	char peer[80];
	int one = 1;
	unsigned int port = 0;

	(void)ev;
	(void)salen;
	l->last_accept_us = ms_now_us();
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(peer, sizeof(peer), "%s:%u", ip, port);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (unsigned int tries = 0; tries < l->n; tries++) {
		struct px_worker *w = &l->ws[l->next];

		l->next = (l->next + 1) % l->n;
		if (px_worker_send_fd(w, fd, peer)) {
			return;
		}
	}
	ms_log_warn("listener: every worker mailbox is full; refusing %s", peer);
	px_listener_refuse(fd);
}

static void
px_listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct px_listener *l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->ev);
}

static void
px_listener_error(struct evconnlistener *ev, void *arg)
{
	struct px_listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval pause = { 0, 100 * 1000 };

	(void)ev;
	/* Out of descriptors or memory: the pending connection stays queued and the socket stays
	 * readable, so stop accepting for a moment instead of spinning (and flooding the log). */
	ms_log_error("listener: accept failed: %s; pausing accepts for 100 ms",
		     evutil_socket_error_to_string(err));
	evconnlistener_disable(l->ev);
	event_add(l->resume_ev, &pause);
}

struct px_listener *
px_listener_new(struct event_base *base, const char *addr, uint16_t port, bool reuse_port,
		struct px_worker *ws, unsigned int n)
{
	struct px_listener *l = calloc(1, sizeof(*l));
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char spec[128];

	if (l == NULL) {
		return NULL;
	}
	snprintf(spec, sizeof(spec), strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u", addr, port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) != 0) {
		ms_log_error("listener: cannot parse address %s", spec);
		free(l);
		return NULL;
	}
	l->ws = ws;
	l->n = n;
	l->ev = evconnlistener_new_bind(base, px_listener_accept, l,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
						(reuse_port ? LEV_OPT_REUSEABLE_PORT : 0),
					1024, (struct sockaddr *)&ss, sslen);
	if (l->ev == NULL) {
		ms_log_error("listener: cannot listen on %s: %s", spec, strerror(errno));
		free(l);
		return NULL;
	}
	l->resume_ev = evtimer_new(base, px_listener_resume, l);
	if (l->resume_ev == NULL) {
		evconnlistener_free(l->ev);
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->ev, px_listener_error);
	l->reuse_port = reuse_port;
	if (reuse_port) {
		px_listener_steer_newest(evconnlistener_get_fd(l->ev), "client port");
	}
	ms_log_info("listening on %s with %u workers", spec, n);
	return l;
}

void
px_listener_steer_newest(int fd, const char *what)
{
	struct sock_filter code[] = { { BPF_RET | BPF_K, 0, 0, 1 } };
	struct sock_fprog prog = { .len = 1, .filter = code };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) != 0) {
		ms_log_warn("%s: cannot steer new connections to the newest process on the port "
			    "(SO_ATTACH_REUSEPORT_CBPF: %s); an upgrade may reset connections queued "
			    "on the old one",
			    what, strerror(errno));
	}
}

static void
px_listener_linger(evutil_socket_t fd, short what, void *arg)
{
	struct px_listener *l = arg;
	uint64_t now = ms_now_us();
	void (*done)(void *) = l->done;
	void *done_arg = l->done_arg;

	(void)fd;
	(void)what;
	if (now - l->last_accept_us < (uint64_t)PX_LINGER_QUIET_MS * 1000 &&
	    now < l->linger_until_us) {
		event_add(l->linger_ev, &(struct timeval){ 0, 50 * 1000 });
		return;
	}
	ms_log_info("listener closed (draining)");
	px_listener_free(l);
	done(done_arg);
}

void
px_listener_close_soon(struct px_listener *l, void (*done)(void *), void *arg)
{
	l->done = done;
	l->done_arg = arg;
	if (!l->reuse_port ||
	    (l->linger_ev = evtimer_new(evconnlistener_get_base(l->ev), px_listener_linger, l)) ==
		    NULL) {
		px_listener_free(l);
		done(arg);
		return;
	}
	l->last_accept_us = ms_now_us();
	l->linger_until_us = l->last_accept_us + (uint64_t)PX_LINGER_MAX_MS * 1000;
	event_add(l->linger_ev, &(struct timeval){ 0, 50 * 1000 });
}

void
px_listener_free(struct px_listener *l)
{
	if (l == NULL) {
		return;
	}
	event_free(l->resume_ev);
	if (l->linger_ev != NULL) {
		event_free(l->linger_ev);
	}
	evconnlistener_free(l->ev);
	free(l);
}
