/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_conn.c - socket I/O for sessions and backends: readv into reserved evbuffer space,
 * speculative writev, persistent read interest.
 */
#include "proxy/px_conn.h"

#include "proxy/px_tls.h"
#include "proxy/px_zlib.h"

#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define PX_CONN_READ_CHUNK  16384
/* The first read into an empty buffer asks for this much while replies are small: the buffer
 * chunk it allocates (libevent adds its header, then rounds to 1 KiB) stays within the
 * allocator's per-thread cache, where a 16 KiB one costs a trip to the main heap per read
 * and per free. */
#define PX_CONN_READ_SMALL 960
#define PX_CONN_READ_ROUNDS 4 /* fairness: at most this many chunks per wakeup */

static bool
px_conn_again(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* Reads what is there, up to the budget. Returns PX_CONN_* bits (READ, EOF, ERROR). */
static unsigned int
px_conn_fill(struct px_conn *c, struct evbuffer *dst)
{
	unsigned int what = 0;

	for (int round = 0; round < PX_CONN_READ_ROUNDS; round++) {
		struct evbuffer_iovec v[2];
		struct iovec iov[2];
		size_t want = PX_CONN_READ_CHUNK;
		int n;
		ssize_t got;

		if (round == 0 && !c->big_reads && evbuffer_get_length(dst) == 0) {
			want = PX_CONN_READ_SMALL;
		}
		if (c->read_hw > 0) {
			size_t have = evbuffer_get_length(dst);

			if (have >= c->read_hw) {
				px_conn_set_read(c, false); /* resumed by px_conn_resume() */
				c->hw_stopped = true;
				break;
			}
			want = c->read_hw - have < want ? c->read_hw - have : want;
		}
		n = evbuffer_reserve_space(dst, (ev_ssize_t)want, v, 2);
		if (n <= 0) {
			c->err = ENOMEM;
			return what | PX_CONN_ERROR;
		}
		if (n == 1) {
			/* the usual case: recv() skips readv's iovec import and file position lock */
			got = recv(c->fd, v[0].iov_base, v[0].iov_len, 0);
		} else {
			for (int i = 0; i < n; i++) {
				iov[i].iov_base = v[i].iov_base;
				iov[i].iov_len = v[i].iov_len;
			}
			got = readv(c->fd, iov, n);
		}
		if (got > 0) {
			size_t left = (size_t)got;

			for (int i = 0; i < n; i++) {
				v[i].iov_len = left < v[i].iov_len ? left : v[i].iov_len;
				left -= v[i].iov_len;
			}
			evbuffer_commit_space(dst, v, n);
			what |= PX_CONN_READ;
			if (want == PX_CONN_READ_SMALL || round == 0) {
				c->big_reads = (size_t)got >= PX_CONN_READ_SMALL;
			}
			if ((size_t)got < want) {
				break; /* the socket is most likely empty now */
			}
			continue;
		}
		evbuffer_commit_space(dst, v, 0);
		if (what & PX_CONN_READ) {
			/* deliver the data alone; the EOF or error is seen again on the next wakeup
			 * (the socket stays readable), so no callback ever gets both */
			break;
		}
		if (got == 0) {
			return PX_CONN_EOF;
		}
		if (!px_conn_again(errno)) {
			c->err = errno;
			return PX_CONN_ERROR;
		}
		break;
	}
	return what;
}

static void px_conn_set_write(struct px_conn *c, bool on);

#define PX_CONN_WRITE_IOV 16

/* Writes the front of <wire> to <fd> and drains what the kernel took: send() when the bytes
 * sit in one chunk (a reply to a point query), writev() over up to PX_CONN_WRITE_IOV chunks
 * otherwise. Returns the bytes written, or -1 with errno. */
static ssize_t
px_conn_write(struct evbuffer *wire, int fd)
{
	struct evbuffer_iovec v[PX_CONN_WRITE_IOV];
	struct iovec iov[PX_CONN_WRITE_IOV];
	int n = evbuffer_peek(wire, -1, NULL, v, PX_CONN_WRITE_IOV);
	ssize_t put;

	if (n <= 0) {
		return 0;
	}
	if (n > PX_CONN_WRITE_IOV) {
		n = PX_CONN_WRITE_IOV;
	}
	while (n > 1 && v[n - 1].iov_len == 0) {
		n--; /* empty chunks at the end (a read's unused second vector, moved along) */
	}
	if (n == 1) {
		put = send(fd, v[0].iov_base, v[0].iov_len, MSG_NOSIGNAL);
	} else {
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
		}
		put = writev(fd, iov, n);
	}
	if (put > 0) {
		evbuffer_drain(wire, (size_t)put);
	}
	return put;
}

/* Where the socket's (or TLS's) bytes go, and what is written to it: the owner's buffers, or
 * the compression layer's frames. */
static struct evbuffer *
px_conn_wire_in(struct px_conn *c)
{
	return c->z != NULL ? px_zlib_wire_in(c->z) : c->in;
}

static struct evbuffer *
px_conn_wire_out(struct px_conn *c)
{
	return c->z != NULL ? px_zlib_wire_out(c->z) : c->out;
}

static void
px_conn_read_ev(evutil_socket_t fd, short ev, void *arg)
{
	struct px_conn *c = arg;
	unsigned int what;

	(void)fd;
	if (ev & EV_TIMEOUT) {
		c->cb(c, PX_CONN_TIMEOUT, c->arg);
		return;
	}
	what = c->tls != NULL ? px_tls_fill(c, px_conn_wire_in(c)) : px_conn_fill(c, px_conn_wire_in(c));
	if (c->z != NULL && (what & PX_CONN_READ) && !px_zlib_inflate(c)) {
		c->err = EPROTO; /* a frame that does not inflate */
		what |= PX_CONN_ERROR;
	}
	if (c->tls != NULL && !(what & PX_CONN_ERROR)) {
		px_conn_flush(c); /* records of the handshake, output that waited for it */
	}
	if (what & (PX_CONN_EOF | PX_CONN_ERROR)) {
		px_conn_set_read(c, false);
	}
	if (what != 0) {
		c->cb(c, what, c->arg);
	}
}

static void
px_conn_set_write(struct px_conn *c, bool on)
{
	if (on && !c->writing) {
		c->writing = event_add(&c->wev, c->connecting && c->timeout_set ? &c->timeout : NULL) == 0;
	} else if (!on && c->writing) {
		event_del(&c->wev);
		c->writing = false;
	}
}

static void
px_conn_connected(struct px_conn *c, short ev)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	c->connecting = false;
	px_conn_set_write(c, false);
	if (ev & EV_TIMEOUT) {
		c->cb(c, PX_CONN_TIMEOUT, c->arg);
		return;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
		soerr = errno;
	}
	if (soerr != 0) {
		c->err = soerr;
		c->cb(c, PX_CONN_ERROR, c->arg);
		return;
	}
	px_conn_set_read(c, true);
	px_conn_flush(c); /* anything queued before the connect completed */
	c->cb(c, PX_CONN_CONNECTED, c->arg);
}

static void
px_conn_write_ev(evutil_socket_t fd, short ev, void *arg)
{
	struct px_conn *c = arg;

	(void)fd;
	if (c->connecting) {
		px_conn_connected(c, ev);
		return;
	}
	if (!c->failed) {
		c->write_evs++;
		px_conn_flush(c);
	}
	if (c->failed) {
		px_conn_set_write(c, false);
		c->cb(c, PX_CONN_ERROR, c->arg);
		return;
	}
	if (evbuffer_get_length(c->out) <= c->write_lw) {
		c->cb(c, PX_CONN_DRAINED, c->arg);
	}
}

enum ms_rc
px_conn_init(struct px_conn *c, struct event_base *base, evutil_socket_t fd, px_conn_cb *cb,
	     void *arg)
{
	c->fd = fd;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->reading = c->writing = c->connecting = c->failed = c->timeout_set = false;
	c->hw_stopped = false;
	c->big_reads = false;
	c->read_hw = 0;
	c->write_lw = 0;
	c->err = 0;
	c->write_evs = 0;
	c->tls = NULL;
	c->z = NULL;
	c->cb = cb;
	c->arg = arg;
	if (c->in == NULL || c->out == NULL) {
		if (c->in != NULL) {
			evbuffer_free(c->in);
		}
		if (c->out != NULL) {
			evbuffer_free(c->out);
		}
		c->in = c->out = NULL;
		return MS_ENOMEM;
	}
	event_assign(&c->rev, base, fd, EV_READ | EV_PERSIST, px_conn_read_ev, c);
	event_assign(&c->wev, base, fd, EV_WRITE | EV_PERSIST, px_conn_write_ev, c);
	return MS_OK;
}

void
px_conn_deinit(struct px_conn *c)
{
	/* also takes them off the active queue (a write failure activates wev by hand) */
	event_del(&c->rev);
	event_del(&c->wev);
	c->reading = c->writing = false;
	if (c->in != NULL) {
		evbuffer_free(c->in);
		evbuffer_free(c->out);
		c->in = c->out = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	px_tls_free(c->tls);
	c->tls = NULL;
	px_zlib_free(c->z);
	c->z = NULL;
}

enum ms_rc
px_conn_connect(struct px_conn *c, const struct sockaddr *sa, socklen_t len)
{
	struct event_base *base = event_get_base(&c->rev);
	int one = 1;

	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->err = errno;
		return MS_EIO;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	event_assign(&c->rev, base, c->fd, EV_READ | EV_PERSIST, px_conn_read_ev, c);
	event_assign(&c->wev, base, c->fd, EV_WRITE | EV_PERSIST, px_conn_write_ev, c);
	if (connect(c->fd, sa, len) != 0 && errno != EINPROGRESS) {
		c->err = errno;
		return MS_EIO;
	}
	c->connecting = true;
	px_conn_set_write(c, true);
	return c->writing ? MS_OK : MS_EIO;
}

void
px_conn_set_read(struct px_conn *c, bool on)
{
	if (on && !c->reading) {
		c->reading = event_add(&c->rev, c->timeout_set ? &c->timeout : NULL) == 0;
	} else if (!on && c->reading) {
		event_del(&c->rev);
		c->reading = false;
	}
}

void
px_conn_set_timeout(struct px_conn *c, const struct timeval *tv)
{
	if (tv == NULL && !c->timeout_set) {
		return;
	}
	c->timeout_set = tv != NULL;
	if (tv != NULL) {
		c->timeout = *tv;
	}
	if (c->reading) {
		/* only the timer changes: no epoll_ctl (event_add(NULL) would keep the old timer) */
		if (tv != NULL) {
			event_add(&c->rev, tv);
		} else {
			event_remove_timer(&c->rev);
		}
	}
}

void
px_conn_flush(struct px_conn *c)
{
	struct evbuffer *wire;
	bool pending = false;

	if (c->connecting || c->failed || c->fd < 0) {
		return;
	}
	wire = px_conn_wire_out(c);
	for (;;) {
		if (c->z != NULL && !px_zlib_deflate(c)) {
			c->err = ENOMEM;
			goto fail;
		}
		if (c->tls != NULL) {
			if (!px_tls_flush(c, wire)) {
				goto fail;
			}
			/* write interest only for records the kernel did not take; plaintext left
			 * waits for the handshake, which reads drive */
			pending = px_tls_pending_out(c) > 0;
			if (pending || evbuffer_get_length(wire) > 0) {
				break;
			}
		} else {
			while (evbuffer_get_length(wire) > 0) {
				ssize_t n = px_conn_write(wire, c->fd);

				if (n > 0) {
					continue;
				}
				if (n < 0 && px_conn_again(errno)) {
					break;
				}
				/* EPIPE, ECONNRESET, ...: report from the loop, not from here */
				c->err = n < 0 ? errno : EPIPE;
				goto fail;
			}
			pending = evbuffer_get_length(wire) > 0;
			if (pending) {
				break;
			}
		}
		/* compressed: the frames are written; deflate the rest of the output */
		if (c->z == NULL || evbuffer_get_length(c->out) == 0) {
			break;
		}
	}
	px_conn_set_write(c, pending);
	return;
fail:
	c->failed = true;
	px_conn_set_write(c, false);
	event_active(&c->wev, EV_WRITE, 0);
}

void
px_conn_resume(struct px_conn *c)
{
	if (c->hw_stopped && evbuffer_get_length(c->in) < c->read_hw) {
		c->hw_stopped = false;
		px_conn_set_read(c, true);
		if (c->tls != NULL) {
			/* ciphertext already read may be waiting in the TLS buffers */
			event_active(&c->rev, EV_READ, 0);
		}
	}
}
