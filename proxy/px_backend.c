/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_backend.c - backend connection lifecycle: a non-blocking TCP connect and the
 * connection phase, spoken by myshard itself, then the query phase, where the owning session
 * reads and writes the socket (while idle, any event means the server closed on us).
 *
 * Why not Connector/C for the connect: against a MariaDB server, libmariadb 3.3 always asks for
 * the MariaDB extended capabilities (extended metadata, metadata caching), and no option turns
 * them off. They change the bytes of every column count and column definition, so responses
 * could no longer be streamed unchanged to clients that did not ask for them. Doing the
 * handshake here lets myshard ask the backend for exactly the format its clients speak.
 */
#include "proxy/px_backend.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "protocol/mp_result.h"
#include "proxy/px_pool.h"
#include "proxy/px_session.h"
#include "topology/topo.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PX_BE_HS_MAX 4096 /* greeting and auth replies are small */

/*
 * Sent once after login, before the connection joins its pool. The server then reports in
 * every OK packet what a statement changed about the session (schema, any system variable,
 * user variables, temporary tables, ...), even from inside stored routines, which is how a
 * session learns that its connection now carries state. It also makes the connection's
 * charset certain instead of assumed.
 */
static const char px_backend_init_sql[] =
	"SET NAMES utf8mb4 COLLATE utf8mb4_general_ci, session_track_schema = ON, "
	"session_track_state_change = ON, session_track_system_variables = '*'";

/* What myshard asks of every backend; FOUND_ROWS / MULTI_STATEMENTS come from the pool. */
#define PX_BACKEND_CAPS                                                                            \
	(MP_CLIENT_MYSQL | MP_CLIENT_LONG_FLAG | MP_CLIENT_PROTOCOL_41 | MP_CLIENT_TRANSACTIONS |  \
	 MP_CLIENT_SECURE_CONNECTION | MP_CLIENT_MULTI_RESULTS | MP_CLIENT_PS_MULTI_RESULTS |      \
	 MP_CLIENT_PLUGIN_AUTH | MP_CLIENT_PLUGIN_AUTH_LENENC_DATA | MP_CLIENT_CONNECT_ATTRS |     \
	 MP_CLIENT_SESSION_TRACK | MP_CLIENT_LOCAL_FILES)

static uint64_t px_backend_next_id = 1; /* atomic */

/* Connect attributes shown in the server's processlist/performance_schema. */
static const uint8_t px_backend_attrs[] = "\x0c_client_name\x07myshard"
					  "\x0cprogram_name\x07myshard";

static void
px_backend_release_snap(struct px_backend *b)
{
	topo_unref(b->snap);
	b->snap = NULL;
}

/* The connection phase ended: <err> NULL on success. Hands <b> to its pool. */
static void
px_backend_done(struct px_backend *b, const char *err)
{
	px_backend_release_snap(b);
	px_conn_set_timeout(&b->conn, NULL);
	if (err == NULL) {
		ms_log_debug("backend %llu: connected to shard %s, server connection %u",
			     (unsigned long long)b->id, px_pool_shard_name(b->pool), b->server_id);
	}
	px_pool_connected(b, err);
}

static void
px_backend_send(struct px_backend *b, uint8_t seq, const uint8_t *p, size_t len)
{
	uint8_t hdr[MP_HDR_LEN];

	mp_hdr_put(hdr, (uint32_t)len, seq);
	evbuffer_add(b->conn.out, hdr, sizeof(hdr));
	evbuffer_add(b->conn.out, p, len);
	px_conn_flush(&b->conn);
}

/* Answers the greeting in <p> with the shard's credentials. NULL, or why it cannot. */
static const char *
px_backend_on_greeting(struct px_backend *b, const uint8_t *p, uint32_t len)
{
	const struct topo_shard *sh = &b->snap->shards[b->shard_idx];
	struct mp_greeting_view g;
	uint8_t token[MP_SCRAMBLE_LEN];
	uint8_t buf[1024];
	struct mp_writer w;
	struct mp_hsresp_out r = { 0 };
	size_t pwlen = strlen(sh->password);

	struct mp_err e;

	if (len > 0 && p[0] == MP_ERR_HDR) {
		if (mp_err_read(p, len, &e) != MP_OK) {
			return "the server refused the connection";
		}
		snprintf(b->err, sizeof(b->err), "%u (%s): %.*s", e.code, e.sqlstate,
			 (int)e.message.len, (const char *)e.message.ptr);
		return b->err;
	}
	if (mp_greeting_read(p, len, &g) != MP_OK || !(g.caps & MP_CLIENT_PROTOCOL_41)) {
		return "unsupported or malformed server greeting";
	}
	b->server_id = g.conn_id;
	if (!(g.caps & MP_CLIENT_SESSION_TRACK)) {
		/* without it a schema or variable change would go unnoticed: never route blind */
		return "the server does not support session tracking (MariaDB >= 10.2 or MySQL >= 5.7 needed)";
	}
	mp_native_token(g.scramble, sh->password, pwlen, token);
	r.caps = (PX_BACKEND_CAPS | (b->pool->variant & PX_VAR_FOUND_ROWS ? MP_CLIENT_FOUND_ROWS : 0) |
		  (b->pool->variant & PX_VAR_MULTI_STMTS ? MP_CLIENT_MULTI_STATEMENTS : 0)) &
		 (g.caps | MP_CLIENT_MYSQL);
	r.max_packet = 1u << 30;
	r.collation = 45; /* utf8mb4_general_ci */
	r.user = sh->user;
	r.auth = token;
	r.auth_len = pwlen > 0 ? MP_SCRAMBLE_LEN : 0;
	r.plugin = MP_NATIVE_PLUGIN;
	r.attrs = px_backend_attrs;
	r.attrs_len = sizeof(px_backend_attrs) - 1;
	mp_writer_init(&w, buf, sizeof(buf));
	mp_hsresp_write(&w, &r);
	if (w.overflow) {
		return "user name too long";
	}
	px_backend_send(b, b->hs_seq++, buf, mp_writer_len(&w));
	return NULL;
}

/* The server wants another auth plugin: only mysql_native_password can be answered. */
static const char *
px_backend_on_switch(struct px_backend *b, const uint8_t *p, uint32_t len)
{
	const struct topo_shard *sh = &b->snap->shards[b->shard_idx];
	struct mp_cursor c;
	struct ms_slice plugin, data;
	uint8_t token[MP_SCRAMBLE_LEN];
	size_t pwlen = strlen(sh->password);

	mp_cursor_init(&c, p + 1, len - 1);
	if (b->hs_switched || mp_nul_str_read(&c, &plugin) != MP_OK) {
		return "malformed authentication switch request";
	}
	mp_rest_read(&c, &data);
	if (plugin.len != strlen(MP_NATIVE_PLUGIN) ||
	    memcmp(plugin.ptr, MP_NATIVE_PLUGIN, plugin.len) != 0 || data.len < MP_SCRAMBLE_LEN) {
		snprintf(b->err, sizeof(b->err),
			 "the backend account '%s' uses auth plugin '%.*s'; myshard logs in to backends "
			 "with mysql_native_password only",
			 sh->user, (int)plugin.len, (const char *)plugin.ptr);
		return b->err;
	}
	b->hs_switched = true;
	mp_native_token(data.ptr, sh->password, pwlen, token);
	px_backend_send(b, b->hs_seq++, token, pwlen > 0 ? MP_SCRAMBLE_LEN : 0);
	return NULL;
}

enum px_hs_step {
	PX_HS_MORE = 0, /* the exchange goes on */
	PX_HS_OK,       /* logged in */
	PX_HS_FAILED,   /* b->err or *err says why */
};

/* One packet of the connection phase; reads <p> but leaves draining to the caller. */
static enum px_hs_step
px_backend_hs_packet(struct px_backend *b, const uint8_t *p, uint32_t len, const char **errp)
{
	const char *err = NULL;
	struct mp_err e;

	if (b->hs_seq == 1) {
		err = px_backend_on_greeting(b, p, len);
	} else if (len > 0 && p[0] == MP_OK_HDR && b->init_sent) {
		return PX_HS_OK; /* the init statement succeeded */
	} else if (len > 0 && p[0] == MP_OK_HDR) {
		uint8_t cmd[sizeof(px_backend_init_sql)];

		cmd[0] = MP_COM_QUERY;
		memcpy(cmd + 1, px_backend_init_sql, sizeof(px_backend_init_sql) - 1);
		b->init_sent = true;
		b->hs_seq = 0; /* a new command: its reply starts at 1 */
		px_backend_send(b, b->hs_seq++, cmd, sizeof(cmd));
	} else if (len > 0 && p[0] == MP_ERR_HDR) {
		if (mp_err_read(p, len, &e) == MP_OK) {
			snprintf(b->err, sizeof(b->err), "%u (%s): %.*s", e.code, e.sqlstate,
				 (int)e.message.len, (const char *)e.message.ptr);
			err = b->err;
		} else {
			err = "malformed error from the server";
		}
	} else if (len > 0 && p[0] == MP_EOF_HDR) {
		err = px_backend_on_switch(b, p, len);
	} else {
		err = "unsupported authentication exchange (the account's plugin needs more steps)";
	}
	*errp = err;
	return err != NULL ? PX_HS_FAILED : PX_HS_MORE;
}

static void
px_backend_hs_read(struct px_backend *b)
{
	struct evbuffer *in = b->conn.in;

	for (;;) {
		uint8_t h[MP_HDR_LEN];
		uint32_t len;
		const uint8_t *p;
		const char *err = NULL;
		enum px_hs_step step;

		if (evbuffer_copyout(in, h, sizeof(h)) < (ev_ssize_t)sizeof(h)) {
			return;
		}
		len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
		if (len > PX_BE_HS_MAX || h[3] != b->hs_seq) {
			px_backend_done(b, "protocol error in the connection phase");
			return;
		}
		if (evbuffer_get_length(in) < MP_HDR_LEN + (size_t)len) {
			return;
		}
		p = evbuffer_pullup(in, MP_HDR_LEN + (ev_ssize_t)len) + MP_HDR_LEN;
		b->hs_seq++;
		step = px_backend_hs_packet(b, p, len, &err);
		evbuffer_drain(in, MP_HDR_LEN + (size_t)len);
		if (step != PX_HS_MORE) {
			/* b is handed on (or freed on failure): touch nothing after this */
			px_backend_done(b, step == PX_HS_OK ? NULL : err);
			return;
		}
	}
}

static void
px_backend_conn_cb(struct px_conn *c, unsigned int what, void *arg)
{
	struct px_backend *b = arg;
	const char *why = (what & PX_CONN_EOF)	   ? "server closed the connection" :
			  (what & PX_CONN_TIMEOUT) ? "timed out" :
						     "socket error";

	if (b->state == PX_BE_CONNECTING) {
		if (what & PX_CONN_READ) {
			px_backend_hs_read(b); /* may hand b on or free it */
		} else if (what & (PX_CONN_EOF | PX_CONN_ERROR | PX_CONN_TIMEOUT)) {
			snprintf(b->err, sizeof(b->err), "cannot connect: %s%s%s", why,
				 (what & PX_CONN_ERROR) ? ": " : "",
				 (what & PX_CONN_ERROR) ? evutil_socket_error_to_string(c->err) : "");
			px_backend_done(b, b->err);
		}
		return; /* CONNECTED: the greeting comes next */
	}
	if (what & PX_CONN_READ) {
		if (b->owner != NULL) {
			px_session_backend_read(b->owner);
			return;
		}
		ms_log_warn("backend %llu: unexpected data while idle; closing it",
			    (unsigned long long)b->id);
		px_pool_drop(b);
		return;
	}
	if (what & (PX_CONN_EOF | PX_CONN_ERROR | PX_CONN_TIMEOUT)) {
		ms_log_info("backend %llu: %s", (unsigned long long)b->id, why);
		if (b->owner != NULL) {
			px_session_backend_lost(b->owner, b, why);
			return;
		}
		px_pool_drop(b);
	}
}

/* The connect failed inside px_backend_start(): report it from the loop, never from inside
 * px_pool_get(), so the pool is not re-entered. */
static void
px_backend_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_backend *b = arg;

	(void)fd;
	(void)what;
	b->done_ev_added = false;
	px_backend_done(b, b->err);
}

struct px_backend *
px_backend_start(struct px_pool *pool, const struct topo_snapshot *snap, size_t shard_idx,
		 const char **err)
{
	const struct topo_shard *sh = &snap->shards[shard_idx];
	struct px_backend *b = calloc(1, sizeof(*b));
	unsigned int ms = pool->w->conf->connect_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	*err = "out of memory";
	if (b == NULL) {
		return NULL;
	}
	b->id = __atomic_fetch_add(&px_backend_next_id, 1, __ATOMIC_RELAXED);
	b->pool = pool;
	b->state = PX_BE_CONNECTING;
	b->collation = 45;
	b->shard_idx = shard_idx;
	if (px_conn_init(&b->conn, pool->w->base, -1, px_backend_conn_cb, b) != MS_OK) {
		free(b);
		return NULL;
	}
	b->snap = topo_ref(snap);
	px_conn_set_timeout(&b->conn, &tv); /* connect and login; cleared once logged in */
	if (px_conn_connect(&b->conn, (const struct sockaddr *)&sh->addr, sh->addr_len) != MS_OK) {
		snprintf(b->err, sizeof(b->err), "cannot connect to %s:%u: %s", sh->host, sh->port,
			 evutil_socket_error_to_string(b->conn.err));
		event_assign(&b->done_ev, pool->w->base, -1, 0, px_backend_fail_cb, b);
		event_active(&b->done_ev, EV_TIMEOUT, 0);
		b->done_ev_added = true;
	}
	*err = NULL;
	return b;
}

void
px_backend_free(struct px_backend *b, bool clean)
{
	static const uint8_t quit[] = { 1, 0, 0, 0, MP_COM_QUIT };

	px_backend_release_snap(b);
	if (b->done_ev_added) {
		event_del(&b->done_ev);
	}
	if (clean && b->conn.fd >= 0 &&
	    send(b->conn.fd, quit, sizeof(quit), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* best effort, never blocks: with it the server closes without a warning */
		ms_log_debug("backend %llu: COM_QUIT not sent", (unsigned long long)b->id);
	}
	px_conn_deinit(&b->conn);
	free(b->vars);
	for (size_t i = 0; b->stmts != NULL && i < PX_BSTMT_MAX; i++) {
		free(b->stmts[i].key);
	}
	free(b->stmts);
	free(b);
}
