/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_backend.c - backend connection lifecycle: non-blocking connect, then bufferevent I/O
 * whose events go to the owning session (or, while idle, mean the server closed on us).
 */
#include "proxy/px_backend.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "proxy/px_pool.h"
#include "proxy/px_session.h"
#include "topology/topo.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <mysql.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static uint64_t px_backend_next_id = 1; /* atomic */

static void px_backend_connect_io(evutil_socket_t fd, short what, void *arg);

static bool
px_backend_wait(struct px_backend *b, int status)
{
	short what = 0;
	struct timeval tv, *tvp = NULL;

	if (status & MYSQL_WAIT_READ) {
		what |= EV_READ;
	}
	if (status & MYSQL_WAIT_WRITE) {
		what |= EV_WRITE;
	}
	if (status & MYSQL_WAIT_TIMEOUT) {
		unsigned int ms = mysql_get_timeout_value_ms(b->mysql);

		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		tvp = &tv;
	}
	event_assign(&b->conn_ev, b->pool->w->base, mysql_get_socket(b->mysql), what,
		     px_backend_connect_io, b);
	b->conn_ev_added = event_add(&b->conn_ev, tvp) == 0;
	return b->conn_ev_added;
}

static void
px_backend_read_cb(struct bufferevent *bev, void *arg)
{
	struct px_backend *b = arg;

	(void)bev;
	if (b->owner != NULL) {
		px_session_backend_read(b->owner);
		return;
	}
	ms_log_warn("backend %llu: unexpected data while idle; closing it",
		    (unsigned long long)b->id);
	px_pool_drop(b);
}

static void
px_backend_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct px_backend *b = arg;
	const char *why = (what & BEV_EVENT_EOF) ? "server closed the connection" : "socket error";

	(void)bev;
	ms_log_info("backend %llu: %s", (unsigned long long)b->id, why);
	if (b->owner != NULL) {
		px_session_backend_lost(b->owner, why);
		return;
	}
	px_pool_drop(b);
}

/* Connector/C no longer reads the shard's strings: let the snapshot go. */
static void
px_backend_release_snap(struct px_backend *b)
{
	topo_unref(b->snap);
	b->snap = NULL;
}

static void
px_backend_connected(struct px_backend *b)
{
	unsigned long caps = 0;

	mariadb_get_infov(b->mysql, MARIADB_CONNECTION_CLIENT_CAPABILITIES, &caps);
	b->deprecate_eof = (caps & MP_CLIENT_DEPRECATE_EOF) != 0;
	b->bev = bufferevent_socket_new(b->pool->w->base, mysql_get_socket(b->mysql), 0);
	if (b->bev == NULL) {
		px_pool_connected(b, "out of memory");
		return;
	}
	bufferevent_setcb(b->bev, px_backend_read_cb, NULL, px_backend_event_cb, b);
	if (bufferevent_enable(b->bev, EV_READ) != 0) {
		px_pool_connected(b, "cannot watch the socket");
		return;
	}
	ms_log_debug("backend %llu: connected to shard %s, server thread %lu", (unsigned long long)b->id,
		     px_pool_shard_name(b->pool), mysql_thread_id(b->mysql));
	px_pool_connected(b, NULL);
}

static void
px_backend_connect_io(evutil_socket_t fd, short what, void *arg)
{
	struct px_backend *b = arg;
	MYSQL *ret = NULL;
	int status = 0;

	(void)fd;
	b->conn_ev_added = false;
	status |= (what & EV_READ) ? MYSQL_WAIT_READ : 0;
	status |= (what & EV_WRITE) ? MYSQL_WAIT_WRITE : 0;
	status |= (what & EV_TIMEOUT) ? MYSQL_WAIT_TIMEOUT : 0;
	status = mysql_real_connect_cont(&ret, b->mysql, status);
	if (status != 0) {
		if (!px_backend_wait(b, status)) {
			px_pool_connected(b, "cannot wait for the socket");
		}
		return;
	}
	px_backend_release_snap(b);
	if (ret == NULL) {
		px_pool_connected(b, mysql_error(b->mysql));
		return;
	}
	px_backend_connected(b);
}

static bool
px_backend_options(struct px_backend *b)
{
	const struct conf *c = b->pool->w->conf;
	unsigned int secs = (c->connect_timeout_ms + 999) / 1000;
	unsigned int off = 0;

	return mysql_options(b->mysql, MYSQL_OPT_NONBLOCK, 0) == 0 &&
	       mysql_options(b->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &secs) == 0 &&
	       mysql_options(b->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4") == 0 &&
	       mysql_options(b->mysql, MYSQL_OPT_LOCAL_INFILE, &off) == 0 &&
	       mysql_optionsv(b->mysql, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "myshard") == 0;
}

/* The connect finished inside mysql_real_connect_start(): report it from the loop, never
 * from inside px_pool_get(), so the pool is not re-entered. */
static void
px_backend_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_backend *b = arg;

	(void)fd;
	(void)what;
	b->conn_ev_added = false;
	px_backend_release_snap(b);
	if (mysql_errno(b->mysql) != 0) {
		px_pool_connected(b, mysql_error(b->mysql));
		return;
	}
	px_backend_connected(b);
}

struct px_backend *
px_backend_start(struct px_pool *pool, const struct topo_snapshot *snap, size_t shard_idx,
		 const char **err)
{
	const struct topo_shard *shard = &snap->shards[shard_idx];
	struct px_backend *b = calloc(1, sizeof(*b));
	unsigned long flags = CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS;
	MYSQL *ret = NULL;
	int status;

	*err = "out of memory";
	if (b == NULL) {
		return NULL;
	}
	b->id = __atomic_fetch_add(&px_backend_next_id, 1, __ATOMIC_RELAXED);
	b->pool = pool;
	b->snap = topo_ref(snap); /* Connector/C keeps pointers to the shard's strings */
	b->state = PX_BE_CONNECTING;
	b->collation = 45; /* utf8mb4_general_ci, set by MYSQL_SET_CHARSET_NAME */
	b->mysql = mysql_init(NULL);
	if (b->mysql == NULL || !px_backend_options(b)) {
		px_backend_free(b, false);
		return NULL;
	}
	if (pool->variant & PX_VAR_FOUND_ROWS) {
		flags |= CLIENT_FOUND_ROWS;
	}
	if (pool->variant & PX_VAR_MULTI_STMTS) {
		flags |= CLIENT_MULTI_STATEMENTS;
	}
	status = mysql_real_connect_start(&ret, b->mysql, shard->host, shard->user, shard->password,
					  NULL, shard->port, NULL, flags);
	if (status != 0) {
		if (!px_backend_wait(b, status)) {
			*err = "cannot wait for the socket";
			px_backend_free(b, false);
			return NULL;
		}
		*err = NULL;
		return b;
	}
	event_assign(&b->conn_ev, pool->w->base, -1, 0, px_backend_done_cb, b);
	event_active(&b->conn_ev, EV_TIMEOUT, 0);
	b->conn_ev_added = true;
	*err = NULL;
	return b;
}

void
px_backend_free(struct px_backend *b, bool clean)
{
	px_backend_release_snap(b);
	if (b->conn_ev_added) {
		event_del(&b->conn_ev);
	}
	if (b->bev != NULL) {
		bufferevent_free(b->bev);
	}
	if (b->mysql != NULL) {
		if (!clean && mysql_get_socket(b->mysql) != MARIADB_INVALID_SOCKET) {
			/* mid-command or broken: no polite COM_QUIT that could block */
			shutdown(mysql_get_socket(b->mysql), SHUT_RDWR);
		}
		mysql_close(b->mysql);
	}
	free(b);
}
