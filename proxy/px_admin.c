/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_admin.c - the admin SQL port (see px_admin.h). Low traffic, main thread only: one
 * bufferevent per admin connection, the connection phase (mysql_native_password against the
 * admin users, an auth switch for clients that start with another plugin, failed logins
 * rate-limited and logged), then COM_QUERY / COM_PING / COM_INIT_DB / COM_QUIT. Results are
 * text result sets whose columns are all strings.
 */
#include "proxy/px_admin.h"

#include "proxy/px_health.h"
#include "proxy/px_listener.h"

#include "common/ms_log.h"
#include "conf/conf_store.h"
#include "protocol/mp_handshake.h"
#include "protocol/mp_packet.h"
#include "protocol/mp_result.h"
#include "proxy/px_pool.h"
#include "proxy/px_types.h"
#include "proxy/px_worker.h"
#include "proxy/px_xa.h"
#include "router/rt_admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define PX_ADM_MAX_PACKET (1u << 20) /* admin statements are small */
#define PX_ADM_FAIL_WINDOW 60        /* seconds */
#define PX_ADM_FAIL_MAX 10           /* failed logins per address and window, then refused */
#define PX_ADM_FAIL_PEERS 64         /* addresses remembered */
#define PX_ADM_MAX_CONNS 64          /* admin connections at once */
#define PX_ADM_LOGIN_S 10            /* seconds to log in */
#define PX_ADM_VERSION "5.5.5-10.11.6-MariaDB-myshard-admin"

enum px_adm_state { PX_ADM_HANDSHAKE, PX_ADM_AUTH_SWITCH, PX_ADM_COMMAND };

struct px_adm_conn {
	struct px_admin *a; /* borrowed */
	struct bufferevent *bev; /* owned */
	enum px_adm_state state;
	uint8_t scramble[MP_SCRAMBLE_LEN];
	uint8_t seq; /* next sequence id to send */
	uint64_t id;
	char user[PX_USER_MAX + 1];
	char peer[64];
	bool dead;              /* closing: reads nothing more, freed once its output is out */
	struct event *free_ev;  /* owned: frees the connection from a fresh callback frame */
	struct px_adm_conn *next;
};

struct px_admin {
	struct event_base *base;   /* borrowed */
	const struct conf *conf;   /* borrowed: the startup config (listen, timeouts, admin) */
	char *path;                /* owned: the config file RELOAD re-reads */
	struct conf_store *store;  /* borrowed */
	struct topo_domain *topo;  /* borrowed */
	struct px_worker *ws;      /* borrowed: n_workers workers (SHOW STATS, SHOW POOLS) */
	struct px_xa *xa;          /* borrowed: two-phase commit recovery, or NULL */
	unsigned int n_workers;
	struct evconnlistener *ev; /* owned */
	struct px_adm_conn *conns; /* owned list */
	unsigned int n_conns;
	uint64_t next_id;
	struct {
		char peer[64];                 /* "" = unused */
		time_t fails[PX_ADM_FAIL_MAX]; /* times of its last failed logins, a ring */
		size_t pos;
		time_t last;
	} fails[PX_ADM_FAIL_PEERS];
};

/* ---- topology snapshots from a config ---- */

static bool
px_topo_resolve(struct topo_shard *t, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", t->port);
	rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen, "shard %s: cannot resolve host '%s': %s", t->name, t->host,
			 gai_strerror(rc));
		return false;
	}
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

_Static_assert((int)CONF_EP_UP == (int)TOPO_EP_UP && (int)CONF_EP_PAUSED == (int)TOPO_EP_PAUSED &&
		       (int)CONF_EP_DRAINING == (int)TOPO_EP_DRAINING &&
		       (int)CONF_EP_DOWN == (int)TOPO_EP_DOWN,
	       "endpoint states are copied from conf to topology as numbers");

enum ms_rc
px_topo_build(const struct conf *c, struct topo_snapshot **out, char *err, size_t errlen)
{
	struct topo_snapshot *snap;
	size_t n_rep = 0, r;

	*out = NULL;
	for (size_t i = 0; i < c->n_shards; i++) {
		n_rep += c->shards[i].n_replicas;
	}
	if (topo_snapshot_new_ep(c->n_shards, n_rep, &snap) != MS_OK) {
		snprintf(err, errlen, "out of memory");
		return MS_ENOMEM;
	}
	snap->users = calloc(c->n_users, sizeof(*snap->users));
	if (snap->users == NULL) {
		goto oom;
	}
	snap->n_users = c->n_users;
	for (size_t i = 0; i < c->n_users; i++) {
		snap->users[i].name = strdup(c->users[i].name);
		if (snap->users[i].name == NULL) {
			goto oom;
		}
		memcpy(snap->users[i].native_stored, c->users[i].native_stored, MS_SHA1_LEN);
		snap->users[i].empty_password = c->users[i].empty_password;
		snap->users[i].require_ssl = c->users[i].require_ssl;
	}
	for (size_t i = 0; i < c->n_shards; i++) {
		struct topo_shard *t = &snap->shards[i];

		t->name = strdup(c->shards[i].name);
		t->host = strdup(c->shards[i].host);
		t->user = strdup(c->shards[i].user);
		t->password = strdup(c->shards[i].password);
		t->port = c->shards[i].port;
		t->state = c->shards[i].state; /* enum conf_ep_state and topo_ep_state agree */
		if (t->name == NULL || t->host == NULL || t->user == NULL || t->password == NULL) {
			goto oom;
		}
		if (!px_topo_resolve(t, err, errlen)) {
			topo_snapshot_free(snap);
			return MS_EINVAL;
		}
	}
	r = c->n_shards;
	for (size_t i = 0; i < c->n_shards; i++) {
		const struct conf_shard *cs = &c->shards[i];

		snap->shards[i].first_replica = r;
		snap->shards[i].n_replicas = cs->n_replicas;
		for (size_t k = 0; k < cs->n_replicas; k++, r++) {
			struct topo_shard *t = &snap->shards[r];
			char name[PX_NAME_MAX + 300];

			snprintf(name, sizeof(name), "%s@%s:%u", cs->name, cs->replicas[k].host,
				 cs->replicas[k].port);
			t->name = strdup(name);
			t->host = strdup(cs->replicas[k].host);
			t->user = strdup(cs->user);
			t->password = strdup(cs->password);
			t->port = cs->replicas[k].port;
			t->weight = cs->replicas[k].weight;
			t->replica_of = (long)i;
			if (t->name == NULL || t->host == NULL || t->user == NULL ||
			    t->password == NULL) {
				goto oom;
			}
			if (!px_topo_resolve(t, err, errlen)) {
				topo_snapshot_free(snap);
				return MS_EINVAL;
			}
		}
	}
	if (topo_map_clone(&c->map, &snap->map) != MS_OK) {
		goto oom;
	}
	*out = snap;
	return MS_OK;
oom:
	topo_snapshot_free(snap);
	snprintf(err, errlen, "out of memory");
	return MS_ENOMEM;
}

/* ---- reachability of new endpoints ---- */

#define PX_ADM_CONNECT_MS 1000 /* how long APPLY waits for a new endpoint to accept */

/* A TCP connect to <sh> within PX_ADM_CONNECT_MS; false with the reason in <err>. */
static bool
px_adm_connect_ok(const struct topo_shard *sh, char *err, size_t errlen)
{
	int fd = socket(sh->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return false;
	}
	if (connect(fd, (const struct sockaddr *)&sh->addr, sh->addr_len) != 0 &&
	    errno != EINPROGRESS) {
		soerr = errno;
	} else if (poll(&pfd, 1, PX_ADM_CONNECT_MS) != 1) {
		soerr = ETIMEDOUT;
	} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
		soerr = errno;
	}
	close(fd);
	if (soerr != 0) {
		snprintf(err, errlen, "%s", strerror(soerr));
		return false;
	}
	return true;
}

/* Every endpoint of <next> that the live snapshot does not already use must accept a TCP
 * connection: a typo in a host or port is refused before it reaches any client. */
static bool
px_adm_reachable(struct px_admin *a, const struct topo_snapshot *next, char *err, size_t errlen)
{
	struct topo_reader *r = NULL;
	const struct topo_snapshot *live;
	bool ok = true;

	if (topo_reader_new(a->topo, &r) != MS_OK) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	live = topo_read_begin(r);
	for (size_t i = 0; ok && i < next->n_shards; i++) {
		const struct topo_shard *n = &next->shards[i];
		long j = topo_shard_find(live, n->name);
		char why[128];

		if ((j >= 0 && live->shards[j].port == n->port &&
		     strcmp(live->shards[j].host, n->host) == 0 &&
		     live->shards[j].state != TOPO_EP_DOWN) ||
		    n->state == TOPO_EP_DOWN) {
			continue; /* not new nor coming back from down, or set down: not tried */
		}
		if (!px_adm_connect_ok(n, why, sizeof(why))) {
			snprintf(err, errlen,
				 "endpoints row (shard=%s, host=%s, port=%u): cannot connect within %d ms: %s",
				 n->name, n->host, n->port, PX_ADM_CONNECT_MS, why);
			ok = false;
		}
	}
	topo_read_end(r);
	topo_reader_free(r);
	return ok;
}

/* ---- output ---- */

static void
px_adm_send(struct px_adm_conn *c, const void *payload, size_t len)
{
	uint8_t hdr[MP_HDR_LEN];

	mp_hdr_put(hdr, (uint32_t)len, c->seq++);
	bufferevent_write(c->bev, hdr, sizeof(hdr));
	bufferevent_write(c->bev, payload, len);
}

static void
px_adm_ok(struct px_adm_conn *c, uint64_t affected, const char *info)
{
	struct mp_ok ok = { .header = MP_OK_HDR, .affected_rows = affected,
			    .status = MP_STATUS_AUTOCOMMIT };
	uint8_t buf[600];
	struct mp_writer w;

	if (info != NULL) {
		ok.info.ptr = (const uint8_t *)info;
		ok.info.len = strnlen(info, 500);
	}
	mp_writer_init(&w, buf, sizeof(buf));
	mp_ok_write(&w, &ok, false);
	MS_ASSERT(!w.overflow);
	px_adm_send(c, buf, mp_writer_len(&w));
}

static void MS_PRINTF(4, 5)
px_adm_err(struct px_adm_conn *c, uint16_t code, const char *state, const char *fmt, ...)
{
	char msg[512];
	uint8_t buf[600];
	struct mp_writer w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mp_writer_init(&w, buf, sizeof(buf));
	mp_err_write(&w, code, state, msg);
	MS_ASSERT(!w.overflow);
	px_adm_send(c, buf, mp_writer_len(&w));
}

/* A result set being written: column definitions, then rows, then px_rs_end(). */
struct px_rs {
	struct px_adm_conn *c;
	size_t n_cols;
	bool failed;
};

static void
px_rs_begin(struct px_rs *rs, struct px_adm_conn *c, size_t n, const char *const *names)
{
	uint8_t buf[512];
	struct mp_writer w;

	rs->c = c;
	rs->n_cols = n;
	rs->failed = false;
	mp_writer_init(&w, buf, sizeof(buf));
	mp_lenenc_put(&w, n);
	px_adm_send(c, buf, mp_writer_len(&w));
	for (size_t i = 0; i < n; i++) {
		struct mp_coldef d = { 0 };
		size_t nl = strnlen(names[i], 200);

		d.catalog = (struct ms_slice){ (const uint8_t *)"def", 3 };
		d.name = (struct ms_slice){ (const uint8_t *)names[i], nl };
		d.org_name = d.name;
		d.charset = 45;
		d.length = 1024;
		d.type = 253; /* VAR_STRING */
		mp_writer_init(&w, buf, sizeof(buf));
		mp_coldef_write(&w, &d);
		MS_ASSERT(!w.overflow);
		px_adm_send(c, buf, mp_writer_len(&w));
	}
	mp_writer_init(&w, buf, sizeof(buf));
	mp_eof_write(&w, 0, MP_STATUS_AUTOCOMMIT);
	px_adm_send(c, buf, mp_writer_len(&w));
}

/* One row of <n> text values (NULL = SQL NULL); <lens> may be NULL for NUL-terminated ones. */
static void
px_rs_row(struct px_rs *rs, const char *const *v, const size_t *lens)
{
	struct evbuffer *row = evbuffer_new();
	uint8_t small[16];
	struct mp_writer w;
	size_t len;
	uint8_t *p;

	if (row == NULL) {
		rs->failed = true;
		return;
	}
	for (size_t i = 0; i < rs->n_cols; i++) {
		if (v[i] == NULL) {
			small[0] = 0xfb;
			evbuffer_add(row, small, 1);
			continue;
		}
		len = lens != NULL ? lens[i] : strlen(v[i]);
		mp_writer_init(&w, small, sizeof(small));
		mp_lenenc_put(&w, len);
		evbuffer_add(row, small, mp_writer_len(&w));
		evbuffer_add(row, v[i], len);
	}
	len = evbuffer_get_length(row);
	p = evbuffer_pullup(row, (ssize_t)len);
	if (len >= MP_MAX_PAYLOAD || (p == NULL && len > 0)) {
		rs->failed = true;
	} else {
		px_adm_send(rs->c, p, len);
	}
	evbuffer_free(row);
}

static void
px_rs_end(struct px_rs *rs)
{
	uint8_t buf[16];
	struct mp_writer w;

	mp_writer_init(&w, buf, sizeof(buf));
	mp_eof_write(&w, 0, MP_STATUS_AUTOCOMMIT);
	px_adm_send(rs->c, buf, mp_writer_len(&w));
}

/* ---- commands ---- */

/* conf_store callbacks: the statement's rows become a result set */
struct px_adm_exec {
	struct px_rs rs;
	struct px_adm_conn *c;
	bool started;
	uint64_t affected;
};

static enum ms_rc
px_adm_cols(void *arg, size_t n, const char *const *names)
{
	struct px_adm_exec *x = arg;

	px_rs_begin(&x->rs, x->c, n, names);
	x->started = true;
	return MS_OK;
}

static enum ms_rc
px_adm_row(void *arg, size_t n, const char *const *values, const size_t *lens)
{
	struct px_adm_exec *x = arg;

	MS_ASSERT(n == x->rs.n_cols);
	px_rs_row(&x->rs, values, lens);
	return x->rs.failed ? MS_ENOMEM : MS_OK;
}

static enum ms_rc
px_adm_done(void *arg, uint64_t affected)
{
	struct px_adm_exec *x = arg;

	x->affected = affected;
	return MS_OK;
}

/* SQL for the config tables: rows become a result set, changes an OK with the row count. An
 * error after rows went out replaces the result set's final EOF (as a server does). */
static void
px_adm_sql(struct px_adm_conn *c, const char *sql, size_t len)
{
	struct px_adm_exec x = { .c = c };
	struct cs_exec_cb cb = { .columns = px_adm_cols, .row = px_adm_row, .done = px_adm_done };
	char err[512];

	if (cs_exec(c->a->store, sql, len, &cb, &x, err, sizeof(err)) != MS_OK) {
		px_adm_err(c, strncmp(err, "not allowed", 11) == 0 ? 1227 : 1105,
			   strncmp(err, "not allowed", 11) == 0 ? "42000" : "HY000", "%s", err);
		return;
	}
	if (x.started) {
		px_rs_end(&x.rs);
	} else {
		px_adm_ok(c, x.affected, NULL);
	}
}

/* The version APPLY would publish next. */
static uint64_t
px_adm_live_version(struct px_admin *a)
{
	uint64_t v = 0;

	if (cs_latest_version(a->store, &v) != MS_OK) {
		v = 0;
	}
	return v;
}

/* Tells every worker that shard <name>'s state changed: its pools serve their waiters, or fail
 * them and close idle connections (px_pool_resume). */
static void
px_adm_wake(struct px_admin *a, const char *name, const char *what)
{
	for (unsigned int i = 0; i < a->n_workers; i++) {
		if (!px_worker_send_resume(&a->ws[i], name)) {
			ms_log_error("admin: worker %u did not hear of %s for shard %s; its waiters "
				     "time out", i, what, name);
		}
	}
}

/* px_shard_states_set's callback after a publish. */
static void
px_adm_state_changed(const char *name, void *arg)
{
	ms_log_info("admin: shard %s is now %s", name, px_shard_state_name(px_shard_state(name)));
	px_adm_wake(arg, name, "its new state");
}

/*
 * Validates the staged tables, builds and publishes a snapshot, records it. <what> labels the
 * change in the history summary ("apply", "rollback to 3", "reload"). On success writes the new
 * version and the summary's text to <version>/<summary> (malloc'd); on failure <err>.
 */
static enum ms_rc
px_adm_do_apply(struct px_admin *a, const char *who, const char *what, uint64_t *version,
		char **summary, char *err, size_t errlen)
{
	struct conf *next = NULL;
	struct topo_snapshot *snap = NULL;
	char *diff = NULL, *text;
	enum ms_rc rc;
	size_t n;

	*summary = NULL;
	rc = cs_build(a->store, a->conf, &next, err, errlen);
	if (rc != MS_OK) {
		return rc;
	}
	rc = px_topo_build(next, &snap, err, errlen);
	conf_free(next);
	if (rc != MS_OK) {
		return rc;
	}
	if (!px_adm_reachable(a, snap, err, errlen)) {
		topo_snapshot_free(snap);
		return MS_EINVAL;
	}
	if (!px_shard_states_fit(snap)) {
		topo_snapshot_free(snap);
		snprintf(err, errlen, "too many shard names with a state other than 'up' or paused "
			 "since startup (at most %d)", TOPO_MAX_SHARDS);
		return MS_EINVAL;
	}
	if (cs_diff(a->store, &diff) != MS_OK) {
		topo_snapshot_free(snap);
		snprintf(err, errlen, "out of memory");
		return MS_ENOMEM;
	}
	n = strlen(what) + strlen(diff) + 3;
	text = malloc(n);
	if (text == NULL) {
		free(diff);
		topo_snapshot_free(snap);
		snprintf(err, errlen, "out of memory");
		return MS_ENOMEM;
	}
	snprintf(text, n, "%s: %s", what, diff);
	free(diff);
	/* record first: if the history cannot be written, nothing changes */
	*version = px_adm_live_version(a) + 1;
	rc = cs_commit(a->store, *version, who, text, err, errlen);
	if (rc != MS_OK) {
		free(text);
		topo_snapshot_free(snap);
		return rc;
	}
	/* states that hold statements back take effect first, those that free them after */
	if (!px_shard_states_set(snap, true, px_adm_state_changed, a)) {
		ms_log_error("admin: a shard's endpoints.state did not fit in the state table");
	}
	if (topo_publish_at(a->topo, snap, *version) != *version) {
		ms_log_error("admin: topology version and history disagree (history %llu)",
			     (unsigned long long)*version);
	}
	/* <snap> is live and pinned by the domain until the next publish, on this thread */
	if (!px_shard_states_set(snap, false, px_adm_state_changed, a)) {
		ms_log_error("admin: a shard's endpoints.state did not fit in the state table");
	}
	topo_reclaim(a->topo);
	ms_log_info("admin: %s published topology version %llu (%s)", who,
		    (unsigned long long)*version, text);
	*summary = text;
	return MS_OK;
}

static void
px_adm_apply_reply(struct px_adm_conn *c, enum ms_rc rc, uint64_t version, char *summary,
		   const char *err, const char *verb)
{
	static const char *const names[] = { "version", "summary" };
	char v[24];
	const char *row[2];
	struct px_rs rs;

	if (rc != MS_OK) {
		px_adm_err(c, 1105, "HY000", "%s refused, nothing changed: %s", verb, err);
		return;
	}
	snprintf(v, sizeof(v), "%llu", (unsigned long long)version);
	row[0] = v;
	row[1] = summary;
	px_rs_begin(&rs, c, 2, names);
	px_rs_row(&rs, row, NULL);
	px_rs_end(&rs);
	free(summary);
}

static void
px_adm_apply(struct px_adm_conn *c)
{
	char err[512];
	uint64_t version = 0;
	char *summary = NULL;
	enum ms_rc rc = px_adm_do_apply(c->a, c->user, "apply", &version, &summary, err, sizeof(err));

	px_adm_apply_reply(c, rc, version, summary, err, "APPLY");
}

static void
px_adm_apply_dry(struct px_adm_conn *c)
{
	static const char *const names[] = { "check", "detail" };
	struct conf *next = NULL;
	char err[512], *diff = NULL;
	const char *row[2];
	struct px_rs rs;

	px_rs_begin(&rs, c, 2, names);
	if (cs_diff(c->a->store, &diff) == MS_OK) {
		row[0] = "diff";
		row[1] = diff;
		px_rs_row(&rs, row, NULL);
		free(diff);
	}
	if (cs_build(c->a->store, c->a->conf, &next, err, sizeof(err)) != MS_OK) {
		row[0] = "validation";
		row[1] = err;
	} else {
		struct topo_snapshot *snap = NULL;

		if (px_topo_build(next, &snap, err, sizeof(err)) != MS_OK) {
			row[0] = "validation";
			row[1] = err;
		} else if (!px_adm_reachable(c->a, snap, err, sizeof(err))) {
			row[0] = "validation";
			row[1] = err;
			topo_snapshot_free(snap);
		} else {
			row[0] = "validation";
			row[1] = "ok";
			topo_snapshot_free(snap);
		}
		conf_free(next);
	}
	px_rs_row(&rs, row, NULL);
	px_rs_end(&rs);
}

static void
px_adm_rollback(struct px_adm_conn *c, uint64_t to)
{
	char err[512], what[64], err2[256];
	uint64_t version = 0;
	char *summary = NULL;
	enum ms_rc rc = cs_stage_keep(c->a->store, err, sizeof(err));

	if (rc == MS_OK) {
		rc = cs_restore(c->a->store, to, err, sizeof(err));
		if (rc == MS_OK) {
			snprintf(what, sizeof(what), "rollback to %llu", (unsigned long long)to);
			rc = px_adm_do_apply(c->a, c->user, what, &version, &summary, err,
					     sizeof(err));
		}
		if (rc != MS_OK && cs_stage_back(c->a->store, err2, sizeof(err2)) != MS_OK) {
			ms_log_error("admin: staged tables not restored after a refused rollback: %s",
				     err2);
		}
	}
	px_adm_apply_reply(c, rc, version, summary, err, "ROLLBACK TOPOLOGY");
}

static enum ms_rc
px_adm_do_reload(struct px_admin *a, const char *who, uint64_t *version, char **summary,
		 char *err, size_t errlen)
{
	struct conf *fresh = NULL;
	enum ms_rc rc;

	char err2[256];

	if (conf_load_file(a->path, &fresh, err, errlen) != MS_OK) {
		return MS_EINVAL;
	}
	rc = cs_stage_keep(a->store, err, errlen);
	if (rc == MS_OK) {
		rc = cs_import(a->store, fresh, err, errlen);
	}
	conf_free(fresh);
	if (rc == MS_OK) {
		rc = px_adm_do_apply(a, who, "reload", version, summary, err, errlen);
	}
	if (rc != MS_OK && cs_stage_back(a->store, err2, sizeof(err2)) != MS_OK) {
		ms_log_error("admin: staged tables not restored after a refused reload: %s", err2);
	}
	return rc;
}

void
px_admin_reload(struct px_admin *a, const char *who)
{
	char err[512];
	uint64_t version = 0;
	char *summary = NULL;

	if (px_adm_do_reload(a, who, &version, &summary, err, sizeof(err)) != MS_OK) {
		ms_log_error("%s: reload of %s refused, nothing changed: %s", who, a->path, err);
		return;
	}
	free(summary);
}

static void
px_adm_save(struct px_adm_conn *c)
{
	char err[512];

	if (c->a->conf->admin->store == NULL) {
		px_adm_err(c, 1105, "HY000",
			   "SAVE needs a file: set admin.store in %s", c->a->path);
		return;
	}
	if (cs_save(c->a->store, c->a->conf->admin->store, err, sizeof(err)) != MS_OK) {
		px_adm_err(c, 1105, "HY000", "SAVE failed: %s", err);
		return;
	}
	px_adm_ok(c, 0, NULL);
}

static void
px_adm_show_version(struct px_adm_conn *c)
{
	static const char *const names[] = { "name", "value" };
	char v[24];
	const char *rows[][2] = { { "myshard", MYSHARD_VERSION }, { "topology_version", v } };
	struct px_rs rs;

	snprintf(v, sizeof(v), "%llu", (unsigned long long)px_adm_live_version(c->a));
	px_rs_begin(&rs, c, 2, names);
	for (size_t i = 0; i < MS_ARRAY_LEN(rows); i++) {
		px_rs_row(&rs, rows[i], NULL);
	}
	px_rs_end(&rs);
}

/* The live snapshot for an admin statement, in a read section of a reader of its own (the
 * main thread has none); NULL after answering ERR when out of memory. */
static const struct topo_snapshot *
px_adm_live_begin(struct px_adm_conn *c, struct topo_reader **r)
{
	if (topo_reader_new(c->a->topo, r) != MS_OK) {
		px_adm_err(c, 1105, "HY000", "out of memory");
		return NULL;
	}
	return topo_read_begin(*r);
}

static void
px_adm_live_end(struct topo_reader *r)
{
	topo_read_end(r);
	topo_reader_free(r);
}

/* SHOW TOPOLOGY / SHOW SHARDS: the live snapshot's shards. */
static void
px_adm_show_topology(struct px_adm_conn *c, bool tables)
{
	static const char *const snames[] = { "version", "shard", "host", "port", "default",
					      "state", "read_only", "check_rtt_us", "state_for_ms",
					      "checks", "failed_checks", "last_error" };
	static const char *const tnames[] = { "version", "kind", "schema", "name", "key_column",
					      "function" };
	struct topo_reader *r = NULL;
	const struct topo_snapshot *s;
	char ver[24], port[8];
	struct px_rs rs;

	if ((s = px_adm_live_begin(c, &r)) == NULL) {
		return;
	}
	snprintf(ver, sizeof(ver), "%llu", (unsigned long long)s->version);
	if (!tables) {
		px_rs_begin(&rs, c, 12, snames);
		for (size_t i = 0; i < s->n_shards; i++) {
			struct px_health_view h;
			char rtt[24], since[24], checks[24], fails[24];
			const char *state;
			unsigned int st;

			px_health_view(s->shards[i].name, &h);
			st = px_shard_state(s->shards[i].name); /* an operator's state first */
			state = st != TOPO_EP_UP ? px_shard_state_name(st) :
						   px_health_state_name(h.state);
			snprintf(port, sizeof(port), "%u", s->shards[i].port);
			snprintf(rtt, sizeof(rtt), "%llu", (unsigned long long)h.rtt_us);
			snprintf(since, sizeof(since), "%llu", (unsigned long long)h.since_ms);
			snprintf(checks, sizeof(checks), "%llu", (unsigned long long)h.checks);
			snprintf(fails, sizeof(fails), "%llu", (unsigned long long)h.failures);
			{
				const char *row[12] = { ver, s->shards[i].name, s->shards[i].host, port,
							i == s->map.default_shard ? "yes" : "no", state,
							h.checks > 0 ? (h.read_only ? "1" : "0") : NULL,
							h.checks > 0 ? rtt : NULL, since, checks, fails,
							h.err[0] != '\0' ? h.err : NULL };

				px_rs_row(&rs, row, NULL);
			}
		}
	} else {
		px_rs_begin(&rs, c, 6, tnames);
		for (size_t i = 0; i < s->map.n_tables; i++) {
			const struct topo_table *t = &s->map.tables[i];
			bool sh = t->kind == TOPO_TABLE_SHARDED;
			const char *row[6] = { ver, sh ? "sharded" : "global",
					       t->schema != NULL ? t->schema : "",
					       t->name, sh ? t->key : NULL,
					       sh ? s->map.funcs[t->func].name : NULL };

			px_rs_row(&rs, row, NULL);
		}
	}
	px_adm_live_end(r);
	px_rs_end(&rs);
}

/* SHOW REPLICAS: the live snapshot's read replicas and their health. */
static void
px_adm_show_replicas(struct px_adm_conn *c)
{
	static const char *const names[] = { "version", "shard", "replica", "host", "port", "state",
					      "lag_s", "serves_reads", "checks", "failed_checks",
					      "last_error" };
	struct topo_reader *r = NULL;
	const struct topo_snapshot *s;
	char ver[24], port[8], lag[24], checks[24], fails[24];
	struct px_rs rs;

	if ((s = px_adm_live_begin(c, &r)) == NULL) {
		return;
	}
	snprintf(ver, sizeof(ver), "%llu", (unsigned long long)s->version);
	px_rs_begin(&rs, c, MS_ARRAY_LEN(names), names);
	for (size_t i = s->n_shards; i < s->n_endpoints; i++) {
		const struct topo_shard *t = &s->shards[i];
		struct px_health_view h;
		bool serves;

		px_health_view(t->name, &h);
		serves = px_health_replica_ok(px_health_of(t->name), c->a->conf->replica_max_lag_s);
		snprintf(port, sizeof(port), "%u", t->port);
		snprintf(lag, sizeof(lag), "%d", h.lag_s);
		snprintf(checks, sizeof(checks), "%llu", (unsigned long long)h.checks);
		snprintf(fails, sizeof(fails), "%llu", (unsigned long long)h.failures);
		{
			const char *row[11] = { ver, s->shards[t->replica_of].name, t->name, t->host,
						port, px_health_state_name(h.state),
						h.lag_s >= 0 ? lag : NULL, serves ? "yes" : "no",
						checks, fails, h.err[0] != '\0' ? h.err : NULL };

			px_rs_row(&rs, row, NULL);
		}
	}
	px_adm_live_end(r);
	px_rs_end(&rs);
}

/* A counter another thread writes: read whole, without ordering (the figures are a report). */
static uint64_t
px_adm_peek64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static unsigned int
px_adm_peek(const unsigned int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* SHOW STATS: the workers' counters, summed. */
static void
px_adm_show_stats(struct px_adm_conn *c)
{
	static const char *const names[] = { "name", "value" };
	struct px_rs rs;
	char v[24];
	const char *row[2];
	uint64_t sum;

	px_rs_begin(&rs, c, 2, names);
#define PX_ADM_STAT(field)                                                                         \
	sum = 0;                                                                                   \
	for (unsigned int i = 0; i < c->a->n_workers; i++) {                                      \
		sum += px_adm_peek64(&c->a->ws[i].stats.field);                                    \
	}                                                                                          \
	snprintf(v, sizeof(v), "%llu", (unsigned long long)sum);                                   \
	row[0] = #field;                                                                           \
	row[1] = v;                                                                                \
	px_rs_row(&rs, row, NULL);
	PX_STATS_FIELDS(PX_ADM_STAT)
#undef PX_ADM_STAT
	snprintf(v, sizeof(v), "%u", c->a->n_workers);
	row[0] = "workers";
	row[1] = v;
	px_rs_row(&rs, row, NULL);
	{
		uint64_t xs[4];
		static const char *const xn[] = { "xa_recovered_commits", "xa_recovered_rollbacks",
						  "xa_recovery_passes", "deadlocks_across_shards" };

		px_xa_totals(c->a->xa, &xs[0], &xs[1], &xs[2], &xs[3]);
		for (size_t i = 0; i < 4; i++) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)xs[i]);
			row[0] = xn[i];
			row[1] = v;
			px_rs_row(&rs, row, NULL);
		}
	}
	px_rs_end(&rs);
}

/* SHOW TRANSACTIONS IN DOUBT: myshard's prepared XA branches the last recovery pass found. */
static void
px_adm_show_xa(struct px_adm_conn *c)
{
	static const char *const names[] = { "shard", "gtrid", "decided_on", "recovery", "seen_for_ms" };
	struct px_xa_doubt *d = calloc(256, sizeof(*d));
	size_t n = d != NULL ? px_xa_doubts(c->a->xa, d, 256) : 0;
	struct px_rs rs;

	px_rs_begin(&rs, c, 5, names);
	for (size_t i = 0; i < n; i++) {
		char age[24];
		const char *row[5] = { d[i].shard, d[i].gtrid, d[i].coordinator, d[i].decision, age };

		snprintf(age, sizeof(age), "%llu", (unsigned long long)d[i].age_ms);
		px_rs_row(&rs, row, NULL);
	}
	px_rs_end(&rs);
	free(d);
}

/* SHOW POOLS: per worker and shard, the connections of all capability variants together. */
static void
px_adm_show_pools(struct px_adm_conn *c)
{
	static const char *const names[] = { "worker", "shard", "active", "idle", "connecting",
					     "waiting", "max" };
	char cells[7][24];
	const char *row[7];
	struct px_rs rs;

	px_rs_begin(&rs, c, 7, names);
	for (unsigned int i = 0; i < c->a->n_workers; i++) {
		struct px_worker *w = &c->a->ws[i];

		for (size_t k = 0; k < PX_SLOTS; k++) {
			unsigned int busy = 0, idle = 0, conn = 0, wait = 0;
			const struct px_pool *p0 = &w->pools[k * PX_VARIANTS];

			if (__atomic_load_n(&p0->ep_snap, __ATOMIC_RELAXED) == NULL) {
				continue;
			}
			for (unsigned int v = 0; v < PX_VARIANTS; v++) {
				const struct px_pool *p = &w->pools[k * PX_VARIANTS + v];

				busy += px_adm_peek(&p->n_busy);
				idle += px_adm_peek(&p->n_idle);
				conn += px_adm_peek(&p->n_connecting);
				wait += px_adm_peek(&p->n_waiting);
			}
			snprintf(cells[0], sizeof(cells[0]), "%u", i);
			snprintf(cells[1], sizeof(cells[1]), "%.*s", (int)sizeof(cells[1]) - 1,
				 p0->shard_name);
			snprintf(cells[2], sizeof(cells[2]), "%u", busy > conn ? busy - conn : 0);
			snprintf(cells[3], sizeof(cells[3]), "%u", idle);
			snprintf(cells[4], sizeof(cells[4]), "%u", conn);
			snprintf(cells[5], sizeof(cells[5]), "%u", wait);
			snprintf(cells[6], sizeof(cells[6]), "%u", c->a->conf->pool_max);
			for (size_t j = 0; j < 7; j++) {
				row[j] = cells[j];
			}
			px_rs_row(&rs, row, NULL);
		}
	}
	px_rs_end(&rs);
}

#define PX_ADM_ASK_MS 2000 /* how long SHOW CLIENTS / KILL CLIENT wait for the workers */

/* SHOW CLIENTS: every client session of every worker. */
static void
px_adm_show_clients(struct px_adm_conn *c)
{
	static const char *const names[] = { "id",    "worker", "user",   "address", "schema",
					     "state", "shard",  "pinned", "in_transaction" };
	struct px_client_row *rows = NULL;
	size_t n = 0;
	struct px_rs rs;

	if (!px_workers_ask(c->a->ws, c->a->n_workers, 0, PX_ADM_ASK_MS, &rows, &n)) {
		ms_log_warn("admin: SHOW CLIENTS: not every worker answered within %d ms",
			    PX_ADM_ASK_MS);
	}
	px_rs_begin(&rs, c, MS_ARRAY_LEN(names), names);
	for (size_t i = 0; i < n; i++) {
		char id[24], worker[12];
		const char *row[MS_ARRAY_LEN(names)] = {
			id,	     worker,	       rows[i].user,
			rows[i].peer, rows[i].schema, rows[i].state,
			rows[i].shard, rows[i].pinned ? "yes" : "no",
			rows[i].in_trans ? "yes" : "no",
		};

		snprintf(id, sizeof(id), "%llu", (unsigned long long)rows[i].id);
		snprintf(worker, sizeof(worker), "%u", rows[i].worker);
		px_rs_row(&rs, row, NULL);
	}
	px_rs_end(&rs);
	free(rows);
}

static void
px_adm_kill(struct px_adm_conn *c, uint64_t id)
{
	struct px_client_row *rows = NULL;
	size_t killed = 0;

	if (!px_workers_ask(c->a->ws, c->a->n_workers, id, PX_ADM_ASK_MS, &rows, &killed)) {
		ms_log_warn("admin: KILL CLIENT: not every worker answered within %d ms",
			    PX_ADM_ASK_MS);
	}
	free(rows);
	if (killed == 0) {
		px_adm_err(c, 1094, "HY000", "Unknown client id: %llu", (unsigned long long)id);
		return;
	}
	ms_log_info("admin: %s killed client %llu", c->user, (unsigned long long)id);
	px_adm_ok(c, killed, NULL);
}

static int
px_adm_digest_cmp(const void *x, const void *y)
{
	const struct px_digest *a = x, *b = y;
	int c = strcmp(a->text, b->text);

	return c;
}

static int
px_adm_digest_by_time(const void *x, const void *y)
{
	const struct px_digest *a = x, *b = y;

	if (a->total_us != b->total_us) {
		return a->total_us > b->total_us ? -1 : 1;
	}
	return strcmp(a->text, b->text);
}

/* SHOW QUERY DIGESTS: per normalized statement, summed over the workers, most time first. */
static void
px_adm_show_digests(struct px_adm_conn *c)
{
	static const char *const names[] = { "digest",	  "count",	    "errors",
					     "total_us",  "max_us",	    "rows_sent",
					     "shards_touched", "scatter", "pins", "pin_reason" };
	struct px_digest *d = NULL;
	size_t n = 0, k = 0;
	struct px_rs rs;

	if (!px_workers_digests(c->a->ws, c->a->n_workers, PX_ADM_ASK_MS, &d, &n)) {
		ms_log_warn("admin: SHOW QUERY DIGESTS: not every worker answered within %d ms",
			    PX_ADM_ASK_MS);
	}
	if (n > 0) {
		qsort(d, n, sizeof(*d), px_adm_digest_cmp);
		for (size_t i = 1; i < n; i++) { /* sum entries of the same text */
			if (strcmp(d[i].text, d[k].text) == 0) {
				d[k].count += d[i].count;
				d[k].errors += d[i].errors;
				d[k].total_us += d[i].total_us;
				d[k].max_us = d[i].max_us > d[k].max_us ? d[i].max_us : d[k].max_us;
				d[k].rows += d[i].rows;
				d[k].shards += d[i].shards;
				d[k].scatter += d[i].scatter;
				d[k].pins += d[i].pins;
				if (d[i].pin_reason[0] != '\0') {
					memcpy(d[k].pin_reason, d[i].pin_reason, sizeof(d[k].pin_reason));
				}
			} else {
				d[++k] = d[i];
			}
		}
		n = k + 1;
		qsort(d, n, sizeof(*d), px_adm_digest_by_time);
	}
	px_rs_begin(&rs, c, MS_ARRAY_LEN(names), names);
	for (size_t i = 0; i < n; i++) {
		char v[8][24];
		const uint64_t nums[8] = { d[i].count, d[i].errors, d[i].total_us, d[i].max_us,
					   d[i].rows,  d[i].shards, d[i].scatter,  d[i].pins };
		const char *row[10] = { d[i].text };

		for (size_t j = 0; j < 8; j++) {
			snprintf(v[j], sizeof(v[j]), "%llu", (unsigned long long)nums[j]);
			row[j + 1] = v[j];
		}
		row[9] = d[i].pin_reason;
		px_rs_row(&rs, row, NULL);
	}
	px_rs_end(&rs);
	free(d);
}

/* PAUSE SHARD / RESUME SHARD <name>: a shard of the live snapshot. */
static void
px_adm_pause(struct px_adm_conn *c, const char *name, bool pause)
{
	struct topo_reader *r = NULL;
	const struct topo_snapshot *s;
	bool known;

	if ((s = px_adm_live_begin(c, &r)) == NULL) {
		return;
	}
	known = topo_shard_find(s, name) >= 0;
	px_adm_live_end(r);
	if (!known && pause) {
		px_adm_err(c, 1105, "HY000", "no shard %s in the live topology", name);
		return;
	}
	if (pause && px_pause_cmd_is(name)) {
		px_adm_err(c, 1105, "HY000", "shard %s is already paused", name);
		return;
	}
	if (!pause && !px_pause_cmd_is(name)) {
		px_adm_err(c, 1105, "HY000", "shard %s is not paused%s", name,
			   px_pause_is(name) ? " by PAUSE SHARD (its endpoints.state is 'paused': "
					       "set it to 'up' and APPLY)" : "");
		return;
	}
	if (!px_pause_set(name, pause)) {
		px_adm_err(c, 1105, "HY000", "too many shard names paused since startup");
		return;
	}
	if (!pause) {
		px_adm_wake(c->a, name, "RESUME SHARD");
	}
	ms_log_info("admin: %s %s shard %s", c->user, pause ? "paused" : "resumed", name);
	px_adm_ok(c, 0, NULL);
}

static void
px_adm_query(struct px_adm_conn *c, const uint8_t *p, size_t len)
{
	static const char *const vc[] = { "@@version_comment" };
	const char *sql = (const char *)p;
	struct rt_admin cmd;
	const char *row[1];
	struct px_rs rs;

	rt_admin_parse(sql, len, &cmd);
	switch (cmd.kind) {
	case RT_ADM_SQL:
		px_adm_sql(c, sql, len);
		return;
	case RT_ADM_EMPTY:
		px_adm_err(c, 1065, "42000", "Query was empty");
		return;
	case RT_ADM_BAD:
		px_adm_err(c, 1064, "42000", "%s", cmd.err);
		return;
	case RT_ADM_NOOP:
		px_adm_ok(c, 0, NULL);
		return;
	case RT_ADM_VERSION_COMMENT:
		row[0] = "myshard admin port";
		px_rs_begin(&rs, c, 1, vc);
		px_rs_row(&rs, row, NULL);
		px_rs_end(&rs);
		return;
	case RT_ADM_APPLY:
		px_adm_apply(c);
		return;
	case RT_ADM_APPLY_DRY:
		px_adm_apply_dry(c);
		return;
	case RT_ADM_ROLLBACK_TO:
		px_adm_rollback(c, cmd.num);
		return;
	case RT_ADM_SAVE:
		px_adm_save(c);
		return;
	case RT_ADM_RELOAD: {
		char err[512];
		uint64_t version = 0;
		char *summary = NULL;
		enum ms_rc rc = px_adm_do_reload(c->a, c->user, &version, &summary, err,
						 sizeof(err));

		px_adm_apply_reply(c, rc, version, summary, err, "RELOAD");
		return;
	}
	case RT_ADM_SHOW_VERSION:
		px_adm_show_version(c);
		return;
	case RT_ADM_SHOW_TOPOLOGY:
		px_adm_show_topology(c, true);
		return;
	case RT_ADM_SHOW_SHARDS:
		px_adm_show_topology(c, false);
		return;
	case RT_ADM_SHOW_POOLS:
		px_adm_show_pools(c);
		return;
	case RT_ADM_SHOW_STATS:
		px_adm_show_stats(c);
		return;
	case RT_ADM_SHOW_CLIENTS:
		px_adm_show_clients(c);
		return;
	case RT_ADM_SHOW_DIGESTS:
		px_adm_show_digests(c);
		return;
	case RT_ADM_SHOW_XA:
		px_adm_show_xa(c);
		return;
	case RT_ADM_SHOW_REPLICAS:
		px_adm_show_replicas(c);
		return;
	case RT_ADM_SHOW_SERVERS: {
		static const char servers[] =
			"SELECT shard, host, port, role, weight, state, CASE WHEN role = 'primary' "
			"THEN 'yes' WHEN state = 'up' AND weight > 0 THEN 'reads' ELSE 'no' END AS "
			"serving FROM runtime_endpoints ORDER BY shard, role, host, port";

		px_adm_sql(c, servers, sizeof(servers) - 1);
		return;
	}
	case RT_ADM_KILL_CLIENT:
		px_adm_kill(c, cmd.num);
		return;
	case RT_ADM_PAUSE_SHARD:
	case RT_ADM_RESUME_SHARD:
		px_adm_pause(c, cmd.name, cmd.kind == RT_ADM_PAUSE_SHARD);
		return;
	}
	MS_BUG("px_adm_query: kind");
}

/* ---- connection phase ---- */

static void px_adm_close(struct px_adm_conn *c);

/* The failed-login record of address <peer>; with <add>, one is made (replacing the one used
 * longest ago) when there is none. */
static size_t
px_adm_fail_slot(struct px_admin *a, const char *peer, bool add)
{
	size_t oldest = 0;

	for (size_t i = 0; i < PX_ADM_FAIL_PEERS; i++) {
		if (strcmp(a->fails[i].peer, peer) == 0) {
			return i;
		}
		if (a->fails[i].last < a->fails[oldest].last) {
			oldest = i;
		}
	}
	if (!add) {
		return SIZE_MAX;
	}
	memset(&a->fails[oldest], 0, sizeof(a->fails[oldest]));
	snprintf(a->fails[oldest].peer, sizeof(a->fails[oldest].peer), "%s", peer);
	return oldest;
}

static bool
px_adm_throttled(struct px_admin *a, const char *peer)
{
	size_t k = px_adm_fail_slot(a, peer, false), recent = 0;
	time_t now = time(NULL);

	for (size_t i = 0; k != SIZE_MAX && i < PX_ADM_FAIL_MAX; i++) {
		recent += a->fails[k].fails[i] != 0 && now - a->fails[k].fails[i] < PX_ADM_FAIL_WINDOW;
	}
	return recent >= PX_ADM_FAIL_MAX;
}

static void
px_adm_failed(struct px_admin *a, const char *peer)
{
	size_t k = px_adm_fail_slot(a, peer, true);
	time_t now = time(NULL);

	a->fails[k].fails[a->fails[k].pos++ % PX_ADM_FAIL_MAX] = now;
	a->fails[k].last = now;
}

static int
px_adm_hex(char ch)
{
	return ch >= '0' && ch <= '9'	? ch - '0'
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
					: -1;
}

/* Admin user <name>: the config file's admin.users first, then the applied admin_users table.
 * Fills <out> (name left NULL); false if there is no such user. */
static bool
px_adm_user(struct px_admin *a, const char *name, struct conf_user *out)
{
	char hash[CS_NATIVE_HASH_SIZE];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < a->conf->admin->n_users; i++) {
		if (strcmp(a->conf->admin->users[i].name, name) == 0) {
			memcpy(out->native_stored, a->conf->admin->users[i].native_stored, MS_SHA1_LEN);
			out->empty_password = a->conf->admin->users[i].empty_password;
			return true;
		}
	}
	if (cs_admin_user(a->store, name, hash) != MS_OK) {
		return false;
	}
	if (hash[0] == '\0') {
		out->empty_password = true;
		return true;
	}
	if (strlen(hash) != 1 + 2 * MS_SHA1_LEN || hash[0] != '*') {
		return false;
	}
	for (size_t i = 0; i < MS_SHA1_LEN; i++) {
		int hi = px_adm_hex(hash[1 + 2 * i]), lo = px_adm_hex(hash[2 + 2 * i]);

		if (hi < 0 || lo < 0) {
			return false;
		}
		out->native_stored[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void
px_adm_check(struct px_adm_conn *c, const uint8_t *token, size_t len)
{
	struct px_admin *a = c->a;
	struct conf_user u;

	if (px_adm_throttled(a, c->peer)) {
		ms_log_warn("admin: login of '%s' from %s refused: too many failed logins", c->user,
			    c->peer);
		px_adm_err(c, 1045, "28000",
			   "Too many failed admin logins from %s in the last %d s; try again later",
			   c->peer, PX_ADM_FAIL_WINDOW);
		px_adm_close(c);
		return;
	}
	if (!px_adm_user(a, c->user, &u) ||
	    !mp_native_verify(c->scramble, u.native_stored, u.empty_password, token, len)) {
		px_adm_failed(a, c->peer);
		ms_log_warn("admin: failed login of '%s' from %s", c->user, c->peer);
		px_adm_err(c, 1045, "28000", "Access denied for user '%s' to the admin port (using password: %s)",
			   c->user, len > 0 ? "YES" : "NO");
		px_adm_close(c);
		return;
	}
	ms_log_info("admin: '%s' logged in from %s", c->user, c->peer);
	bufferevent_set_timeouts(c->bev, NULL, NULL); /* the login timeout is over */
	c->state = PX_ADM_COMMAND;
	px_adm_ok(c, 0, NULL);
}

static void
px_adm_handshake(struct px_adm_conn *c, const uint8_t *p, size_t len)
{
	struct mp_hsresp r;

	if (mp_hsresp_read(p, len, PX_ADMIN_CAPS, &r) != MP_OK || r.ssl_request ||
	    r.user.len > PX_USER_MAX) {
		px_adm_err(c, 1043, "08S01", "Bad handshake");
		px_adm_close(c);
		return;
	}
	memcpy(c->user, r.user.ptr, r.user.len);
	c->user[r.user.len] = '\0';
	if ((r.caps & MP_CLIENT_PLUGIN_AUTH) && r.plugin.len > 0 &&
	    !(r.plugin.len == strlen(MP_NATIVE_PLUGIN) &&
	      memcmp(r.plugin.ptr, MP_NATIVE_PLUGIN, r.plugin.len) == 0)) {
		uint8_t buf[64];
		struct mp_writer w;

		mp_writer_init(&w, buf, sizeof(buf));
		mp_auth_switch_write(&w, MP_NATIVE_PLUGIN, c->scramble, MP_SCRAMBLE_LEN);
		px_adm_send(c, buf, mp_writer_len(&w));
		c->state = PX_ADM_AUTH_SWITCH;
		return;
	}
	px_adm_check(c, r.auth.ptr, r.auth.len);
}

/* ---- the connection ---- */

static void
px_adm_free_conn(struct px_adm_conn *c)
{
	struct px_adm_conn **pp = &c->a->conns;

	while (*pp != c) {
		pp = &(*pp)->next;
	}
	*pp = c->next;
	c->a->n_conns--;
	if (c->free_ev != NULL) {
		event_free(c->free_ev);
	}
	bufferevent_free(c->bev);
	free(c);
}

static void
px_adm_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	px_adm_free_conn(arg);
}

static void
px_adm_schedule_free(struct px_adm_conn *c)
{
	static const struct timeval now = { 0, 0 };

	evtimer_add(c->free_ev, &now);
}

static void
px_adm_drained(struct bufferevent *bev, void *arg)
{
	(void)bev;
	px_adm_schedule_free(arg);
}

static void
px_adm_dead_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	px_adm_schedule_free(arg);
}

/* Ends <c>: nothing more is read; it is freed (from a later callback, so callers up the stack
 * may still look at c->dead) once what is queued (the last ERR) is written. */
static void
px_adm_close(struct px_adm_conn *c)
{
	if (c->dead) {
		return;
	}
	c->dead = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, px_adm_drained, px_adm_dead_event, c);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		px_adm_schedule_free(c);
	}
}

static void
px_adm_read(struct bufferevent *bev, void *arg)
{
	struct px_adm_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		uint8_t raw[MP_HDR_LEN];
		struct mp_cursor cur;
		struct mp_hdr h;
		uint8_t *p;

		if (evbuffer_copyout(in, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
			return;
		}
		mp_cursor_init(&cur, raw, sizeof(raw));
		if (mp_hdr_read(&cur, &h) != MP_OK || h.len >= PX_ADM_MAX_PACKET) {
			c->seq = (uint8_t)(h.seq + 1);
			px_adm_err(c, 1153, "08S01", "Got a packet bigger than %u bytes on the admin port",
				   PX_ADM_MAX_PACKET);
			px_adm_close(c);
			return;
		}
		if (evbuffer_get_length(in) < MP_HDR_LEN + (size_t)h.len) {
			return;
		}
		p = evbuffer_pullup(in, (ssize_t)(MP_HDR_LEN + h.len));
		if (p == NULL) {
			px_adm_close(c);
			return;
		}
		p += MP_HDR_LEN;
		c->seq = (uint8_t)(h.seq + 1);
		switch (c->state) {
		case PX_ADM_HANDSHAKE:
			px_adm_handshake(c, p, h.len);
			break;
		case PX_ADM_AUTH_SWITCH:
			px_adm_check(c, p, h.len);
			break;
		case PX_ADM_COMMAND:
			if (h.len == 0) {
				px_adm_err(c, 1047, "08S01", "Unknown command");
			} else if (p[0] == MP_COM_QUIT) {
				px_adm_close(c);
			} else if (p[0] == MP_COM_QUERY) {
				px_adm_query(c, p + 1, h.len - 1);
			} else if (p[0] == MP_COM_PING || p[0] == MP_COM_INIT_DB ||
				   p[0] == MP_COM_RESET_CONNECTION) {
				px_adm_ok(c, 0, NULL);
			} else {
				px_adm_err(c, 1047, "08S01",
					   "Unknown command 0x%02x on the admin port", p[0]);
			}
			break;
		}
		if (c->dead) {
			return;
		}
		evbuffer_drain(in, MP_HDR_LEN + (size_t)h.len);
	}
}

static void
px_adm_event(struct bufferevent *bev, short what, void *arg)
{
	struct px_adm_conn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (what & BEV_EVENT_TIMEOUT) {
			ms_log_warn("admin: %s did not log in within %d s", c->peer, PX_ADM_LOGIN_S);
		}
		c->dead = true;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		px_adm_schedule_free(c);
	}
}

static void
px_adm_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
	      void *arg)
{
	struct px_admin *a = arg;
	struct px_adm_conn *c = calloc(1, sizeof(*c));
	struct mp_greeting g = { .version = PX_ADM_VERSION,
				 .caps = PX_ADMIN_CAPS,
				 .collation = 45,
				 .status = MP_STATUS_AUTOCOMMIT,
				 .auth_plugin = MP_NATIVE_PLUGIN };
	uint8_t buf[256];
	struct mp_writer w;

	(void)ev;
	(void)salen;
	if (c == NULL || a->n_conns >= PX_ADM_MAX_CONNS) {
		if (c != NULL) {
			ms_log_warn("admin: more than %d admin connections; one refused",
				    PX_ADM_MAX_CONNS);
		}
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->bev = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->a = a;
	c->id = ++a->next_id;
	c->free_ev = evtimer_new(a->base, px_adm_free_cb, c);
	if (c->free_ev == NULL) {
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, c->peer,
			  sizeof(c->peer));
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, c->peer,
			  sizeof(c->peer));
	} else {
		snprintf(c->peer, sizeof(c->peer), "?");
	}
	if (getrandom(c->scramble, MP_SCRAMBLE_LEN, 0) != MP_SCRAMBLE_LEN) {
		event_free(c->free_ev);
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	for (int i = 0; i < MP_SCRAMBLE_LEN; i++) {
		c->scramble[i] = (uint8_t)(33 + c->scramble[i] % 94);
	}
	c->next = a->conns;
	a->conns = c;
	a->n_conns++;
	g.conn_id = (uint32_t)c->id;
	memcpy(g.scramble, c->scramble, MP_SCRAMBLE_LEN);
	mp_writer_init(&w, buf, sizeof(buf));
	mp_greeting_write(&w, &g);
	c->seq = 0;
	px_adm_send(c, buf, mp_writer_len(&w));
	bufferevent_setcb(c->bev, px_adm_read, NULL, px_adm_event, c);
	bufferevent_set_timeouts(c->bev, &(struct timeval){ PX_ADM_LOGIN_S, 0 }, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct px_admin *
px_admin_new(struct event_base *base, const struct conf *c, const char *path,
	     struct conf_store *store, struct topo_domain *topo, struct px_worker *ws,
	     unsigned int n_workers)
{
	struct px_admin *a = calloc(1, sizeof(*a));
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char spec[128];

	if (a == NULL) {
		return NULL;
	}
	a->base = base;
	a->conf = c;
	a->store = store;
	a->topo = topo;
	a->ws = ws;
	a->n_workers = n_workers;
	a->path = strdup(path);
	if (a->path == NULL) {
		px_admin_free(a);
		return NULL;
	}
	if (c->admin == NULL) {
		return a; /* no port: RELOAD by SIGHUP only */
	}
	snprintf(spec, sizeof(spec), strchr(c->admin->listen_addr, ':') != NULL ? "[%s]:%u" : "%s:%u",
		 c->admin->listen_addr, c->admin->listen_port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) != 0) {
		ms_log_error("admin: cannot parse address %s", spec);
		px_admin_free(a);
		return NULL;
	}
	/* with listen.reuse_port a new myshard can take over this port too (an upgrade) */
	a->ev = evconnlistener_new_bind(base, px_adm_accept, a,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
						(c->reuse_port ? LEV_OPT_REUSEABLE_PORT : 0),
					16, (struct sockaddr *)&ss, sslen);
	if (a->ev == NULL) {
		ms_log_error("admin: cannot listen on %s: %s", spec, strerror(errno));
		px_admin_free(a);
		return NULL;
	}
	if (c->reuse_port) {
		px_listener_steer_newest(evconnlistener_get_fd(a->ev), "admin port");
	}
	ms_log_info("admin port listening on %s", spec);
	return a;
}

void
px_admin_set_xa(struct px_admin *a, struct px_xa *xa)
{
	if (a != NULL) {
		a->xa = xa;
	}
}

void
px_admin_free(struct px_admin *a)
{
	if (a == NULL) {
		return;
	}
	while (a->conns != NULL) {
		px_adm_free_conn(a->conns);
	}
	if (a->ev != NULL) {
		evconnlistener_free(a->ev);
	}
	free(a->path);
	free(a);
}
