/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_session.c - the client session: connection phase (greeting, HandshakeResponse41,
 * optional auth switch, mysql_native_password check) and the plumbing every phase shares
 * (packets to the client, state changes, closing). The command phase is in px_command.c.
 */
#include "proxy/px_session.h"

#include "common/ms_log.h"
#include "conf/conf.h"
#include "protocol/mp_result.h"
#include "proxy/px_command.h"
#include "proxy/px_exec.h"
#include "proxy/px_load.h"
#include "proxy/px_tls.h"
#include "proxy/px_zlib.h"

#include <openssl/evp.h>
#include "proxy/px_stmt.h"
#include "proxy/px_pool.h"
#include "proxy/px_tx.h"
#include "proxy/px_xa.h"
#include "proxy/px_sess_io.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <pthread.h>
#include <unistd.h>

#define PX_SERVER_VERSION "5.5.5-10.11.6-MariaDB-myshard-0.1.0"
#define PX_HANDSHAKE_MAX  65536 /* a HandshakeResponse bigger than this is not a real one */

static uint64_t px_session_next_id = 1; /* atomic */
static unsigned int px_clients_open;    /* atomic: client connections (max_clients) */

/* Logged-in sessions per user (max_clients_per_user): taken at login, given back at the end.
 * Login and close only, never per statement, so one lock for every worker is fine. */
struct px_user_count {
	char name[PX_USER_MAX + 1];
	unsigned int n;
};
static pthread_mutex_t px_users_mu = PTHREAD_MUTEX_INITIALIZER;
static struct px_user_count *px_users; /* n > 0 entries only */
static size_t px_users_len, px_users_cap;

static bool
px_user_take(const char *name, unsigned int max)
{
	bool ok = true;
	size_t i;

	pthread_mutex_lock(&px_users_mu);
	for (i = 0; i < px_users_len && strcmp(px_users[i].name, name) != 0; i++) {
	}
	if (i < px_users_len) {
		ok = px_users[i].n < max;
		px_users[i].n += ok;
	} else if (px_users_len == px_users_cap) {
		size_t cap = px_users_cap > 0 ? 2 * px_users_cap : 16;
		struct px_user_count *u = realloc(px_users, cap * sizeof(*u));

		ok = u != NULL; /* out of memory: refused like a full quota, never uncounted */
		if (ok) {
			px_users = u;
			px_users_cap = cap;
		}
	}
	if (ok && i == px_users_len) {
		snprintf(px_users[i].name, sizeof(px_users[i].name), "%s", name);
		px_users[i].n = 1;
		px_users_len++;
	}
	pthread_mutex_unlock(&px_users_mu);
	return ok;
}

static void
px_user_give(const char *name)
{
	pthread_mutex_lock(&px_users_mu);
	for (size_t i = 0; i < px_users_len; i++) {
		if (strcmp(px_users[i].name, name) == 0) {
			if (--px_users[i].n == 0) {
				px_users[i] = px_users[--px_users_len];
			}
			break;
		}
	}
	pthread_mutex_unlock(&px_users_mu);
}

/* Allowed moves: bit <to> set in px_sess_moves[<from>]. */
#define PX_M(st) (1u << (st))
static const unsigned int px_sess_moves[PX_SESS_NSTATES] = {
	[PX_SESS_HANDSHAKE] = PX_M(PX_SESS_AUTH_SWITCH) | PX_M(PX_SESS_IDLE) |
			      PX_M(PX_SESS_WAIT_BACKEND) | PX_M(PX_SESS_SYNC) |
			      PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_AUTH_SWITCH] = PX_M(PX_SESS_IDLE) | PX_M(PX_SESS_WAIT_BACKEND) |
				PX_M(PX_SESS_SYNC) | PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_IDLE] = PX_M(PX_SESS_IDLE) | PX_M(PX_SESS_WAIT_BACKEND) | PX_M(PX_SESS_SYNC) |
			 PX_M(PX_SESS_AUTH_SWITCH) | PX_M(PX_SESS_KILLWAIT) | PX_M(PX_SESS_LOAD) |
			 PX_M(PX_SESS_FORWARD) | PX_M(PX_SESS_MULTI) | PX_M(PX_SESS_TXEND) |
			 PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_WAIT_BACKEND] = PX_M(PX_SESS_SYNC) | PX_M(PX_SESS_FORWARD) | PX_M(PX_SESS_IDLE) |
				 PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_SYNC] = PX_M(PX_SESS_SYNC) | PX_M(PX_SESS_FORWARD) | PX_M(PX_SESS_IDLE) |
			 PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_FORWARD] = PX_M(PX_SESS_IDLE) | PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_MULTI] = PX_M(PX_SESS_IDLE) | PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_TXEND] = PX_M(PX_SESS_IDLE) | PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_KILLWAIT] = PX_M(PX_SESS_IDLE) | PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_LOAD] = PX_M(PX_SESS_IDLE) | PX_M(PX_SESS_CLOSING) | PX_M(PX_SESS_DONE),
	[PX_SESS_CLOSING] = PX_M(PX_SESS_DONE),
	[PX_SESS_DONE] = 0,
};

static const char *const px_sess_names[PX_SESS_NSTATES] = {
	"handshake", "auth_switch", "idle", "wait_backend", "sync", "forward", "multi", "txend", "killwait", "load", "closing",
	"done",
};

const char *
px_sess_state_name(enum px_sess_state st)
{
	return (size_t)st < PX_SESS_NSTATES ? px_sess_names[st] : "?";
}

void
px_sess_set_state(struct px_session *s, enum px_sess_state to)
{
	if (!(px_sess_moves[s->state] & PX_M(to))) {
		ms_log_error("session %llu: illegal move %s -> %s", (unsigned long long)s->id,
			     px_sess_names[s->state], px_sess_names[to]);
		MS_BUG("illegal session state change");
	}
	ms_log_debug("session %llu: %s -> %s", (unsigned long long)s->id, px_sess_names[s->state],
		     px_sess_names[to]);
	if ((s->state == PX_SESS_HANDSHAKE || s->state == PX_SESS_AUTH_SWITCH) &&
	    to != PX_SESS_HANDSHAKE && to != PX_SESS_AUTH_SWITCH) {
		px_conn_set_timeout(&s->cl, NULL); /* the login timeout is over */
	}
	if (s->w->conf->client_idle_timeout_ms > 0 && (s->state == PX_SESS_IDLE) != (to == PX_SESS_IDLE)) {
		struct timeval tv = { s->w->conf->client_idle_timeout_ms / 1000,
				      (s->w->conf->client_idle_timeout_ms % 1000) * 1000 };

		px_conn_set_timeout(&s->cl, to == PX_SESS_IDLE ? &tv : NULL);
	}
	s->state = to;
}

/* Collations a client may ask for, and the SET NAMES that gives a backend the same. */
static const struct {
	uint8_t id;
	const char *names;
} px_collations[] = {
	{ 8, "latin1 COLLATE latin1_swedish_ci" },
	{ 11, "ascii COLLATE ascii_general_ci" },
	{ 33, "utf8mb3 COLLATE utf8mb3_general_ci" },
	{ 45, "utf8mb4 COLLATE utf8mb4_general_ci" },
	{ 46, "utf8mb4 COLLATE utf8mb4_bin" },
	{ 47, "latin1 COLLATE latin1_bin" },
	{ 48, "latin1 COLLATE latin1_general_ci" },
	{ 63, "binary" },
	{ 83, "utf8mb3 COLLATE utf8mb3_bin" },
	{ 192, "utf8mb3 COLLATE utf8mb3_unicode_ci" },
	{ 224, "utf8mb4 COLLATE utf8mb4_unicode_ci" },
};

const char *
px_collation_names(uint8_t id)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(px_collations); i++) {
		if (px_collations[i].id == id) {
			return px_collations[i].names;
		}
	}
	return NULL;
}

uint8_t
px_collation_by_name(const char *cs, const char *coll)
{
	/* each character set's default collation on MariaDB 10.11 ("utf8" is utf8mb3 there) */
	static const struct {
		const char *cs;
		uint8_t id;
	} defaults[] = { { "latin1", 8 }, { "ascii", 11 }, { "utf8", 33 }, { "utf8mb3", 33 },
			 { "utf8mb4", 45 }, { "binary", 63 } };
	uint8_t id = 0;
	size_t cl;

	for (size_t i = 0; i < MS_ARRAY_LEN(defaults); i++) {
		if (strcmp(defaults[i].cs, cs) == 0) {
			id = defaults[i].id;
		}
	}
	if (id == 0 || coll[0] == '\0') {
		return id;
	}
	/* the collation must belong to the character set: "utf8mb4 COLLATE <coll>" */
	cs = strcmp(cs, "utf8") == 0 ? "utf8mb3" : cs;
	cl = strlen(cs);
	for (size_t i = 0; i < MS_ARRAY_LEN(px_collations); i++) {
		const char *n = px_collations[i].names;

		if (strncmp(n, cs, cl) == 0 && strncmp(n + cl, " COLLATE ", 9) == 0 &&
		    strcmp(n + cl + 9, coll) == 0) {
			return px_collations[i].id;
		}
	}
	return 0;
}

/* MySQL 8's 255 (utf8mb4_0900_ai_ci) and unknown ids would silently become latin1 on MariaDB
 * (PROTOCOL-NOTES §11): map them to utf8mb4_general_ci. */
static uint8_t
px_collation_normalize(uint8_t id)
{
	return px_collation_names(id) != NULL ? id : 45;
}

void
px_sess_count_err(struct px_session *s, const uint8_t *pl, size_t len)
{
	struct px_stats *st = &s->w->stats;
	uint16_t code = len >= 3 ? (uint16_t)(pl[1] | pl[2] << 8) : 0;

	if (code == 0) {
		st->errors_other_code++;
		return;
	}
	for (size_t i = 0; i < PX_ERRC_SLOTS; i++) {
		struct px_errc *e = &st->errc[(code * 31u + i) % PX_ERRC_SLOTS];

		if (e->code == 0) {
			__atomic_store_n(&e->code, code, __ATOMIC_RELEASE); /* read by /metrics */
		}
		if (e->code == code) {
			e->n++;
			return;
		}
	}
	st->errors_other_code++;
}

void
px_sess_send(struct px_session *s, uint8_t seq, const void *payload, size_t len)
{
	uint8_t hdr[MP_HDR_LEN];
	struct evbuffer *out = s->cl.out;

	if (len > 0 && ((const uint8_t *)payload)[0] == MP_ERR_HDR && s->state != PX_SESS_HANDSHAKE) {
		px_sess_count_err(s, payload, len);
	}
	if (s->script_n > 0) {
		const uint8_t *p = payload;
		struct mp_err e;

		seq = (uint8_t)(seq - 1 + s->script_base); /* replies are numbered from 1 */
		s->script_last = seq;
		s->script_err |= len > 0 && p[0] == MP_ERR_HDR;
		if (len > 0 && p[0] == MP_ERR_HDR && mp_err_read(p, len, &e) == MP_OK &&
		    e.code == 1064 && s->script_text != NULL) {
			char msg[600];
			uint8_t buf[700];
			struct mp_writer w;
			size_t n = px_cmd_script_syntax(s, (const char *)e.message.ptr,
							e.message.len, msg, sizeof(msg) - 1);

			if (n > 0) {
				msg[n] = '\0';
				mp_writer_init(&w, buf, sizeof(buf));
				mp_err_write(&w, e.code, e.sqlstate, msg);
				if (!w.overflow) {
					mp_hdr_put(hdr, (uint32_t)mp_writer_len(&w), seq);
					evbuffer_add(out, hdr, sizeof(hdr));
					evbuffer_add(out, buf, mp_writer_len(&w));
					return;
				}
			}
		}
	}
	mp_hdr_put(hdr, (uint32_t)len, seq);
	evbuffer_add(out, hdr, sizeof(hdr));
	evbuffer_add(out, payload, len);
}

void
px_sess_send_err(struct px_session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		 const char *fmt, ...)
{
	char msg[512];
	uint8_t buf[600];
	struct mp_writer w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mp_writer_init(&w, buf, sizeof(buf));
	mp_err_write(&w, code, sqlstate, msg);
	MS_ASSERT(!w.overflow);
	px_sess_send(s, seq, buf, mp_writer_len(&w));
	ms_log_debug("session %llu: ERR %u (%s) %s", (unsigned long long)s->id, code, sqlstate, msg);
}

void
px_sess_send_ok_state(struct px_session *s, uint8_t seq, const uint8_t *st, size_t len)
{
	struct mp_ok ok = { .header = MP_OK_HDR, .status = px_tx_status(s, s->status) };
	bool track = (s->caps & MP_CLIENT_SESSION_TRACK) && len > 0;
	uint8_t buf[600], kept[400];
	struct mp_writer w;

	if (track) { /* what the client's own session_track_* settings ask for */
		MS_ASSERT(len <= sizeof(kept));
		ok.session_state.ptr = kept;
		ok.session_state.len = px_sess_track_filter(s, (struct ms_slice){ st, len }, kept,
							    sizeof(kept));
		track = ok.session_state.len > 0;
		ok.status |= track ? MP_STATUS_STATE_CHANGED : 0;
	}
	mp_writer_init(&w, buf, sizeof(buf));
	mp_ok_write(&w, &ok, track);
	MS_ASSERT(!w.overflow);
	px_sess_send(s, seq, buf, mp_writer_len(&w));
}

void
px_sess_send_ok(struct px_session *s, uint8_t seq)
{
	px_sess_send_ok_state(s, seq, NULL, 0);
}

void
px_sess_track_names(struct mp_writer *w, uint8_t id)
{
	static const char *const vars[] = { "character_set_connection", "character_set_client",
					    "character_set_results" };
	const char *names = px_collation_names(id);
	size_t cs = names != NULL ? strcspn(names, " ") : 0;

	for (size_t i = 0; i < MS_ARRAY_LEN(vars) && cs > 0; i++) {
		mp_track_sysvar_put(w, vars[i], strlen(vars[i]), names, cs);
	}
}

void
px_sess_track_reset(struct px_session *s)
{
	s->trk_set = false;
	free(s->trk_vars);
	s->trk_vars = NULL;
	free(s->trk_pending);
	s->trk_pending = NULL;
}

void
px_sess_track_apply(struct px_session *s)
{
	char *p = s->trk_pending;

	s->trk_pending = NULL;
	for (char *line = p; line != NULL && *line != '\0';) {
		char *eq = strchr(line, '='), *nl = strchr(line, '\n');

		if (eq == NULL || nl == NULL || eq > nl) {
			break;
		}
		px_sess_track_learn(s, (struct ms_slice){ (const uint8_t *)line, (size_t)(eq - line) },
				    (struct ms_slice){ (const uint8_t *)eq + 1, (size_t)(nl - eq - 1) });
		line = nl + 1;
	}
	free(p);
}

/* "on" / "true" / "1" (session_track_schema and _state_change print ON or OFF) */
static bool
px_sess_track_bool(struct ms_slice v)
{
	return (v.len == 2 && strncasecmp((const char *)v.ptr, "on", 2) == 0) ||
	       (v.len == 4 && strncasecmp((const char *)v.ptr, "true", 4) == 0) ||
	       (v.len == 1 && v.ptr[0] == '1');
}

void
px_sess_track_learn(struct px_session *s, struct ms_slice name, struct ms_slice value)
{
	const char *n = (const char *)name.ptr;
	size_t nl = name.len;
	bool dflt = value.len == 7 && strncasecmp((const char *)value.ptr, "default", 7) == 0;

	if (!s->trk_set) {
		s->trk_set = true;
		s->trk_schema = true;
		s->trk_state = s->trk_tx = false;
		s->trk_vars = NULL;
	}
	if (nl == 6 && strncasecmp(n, "schema", 6) == 0) {
		s->trk_schema = dflt || px_sess_track_bool(value);
	} else if (nl == 12 && strncasecmp(n, "state_change", 12) == 0) {
		s->trk_state = !dflt && px_sess_track_bool(value);
	} else if (nl == 16 && strncasecmp(n, "transaction_info", 16) == 0) {
		s->trk_tx = !dflt && !(value.len == 3 &&
				       strncasecmp((const char *)value.ptr, "off", 3) == 0) &&
			    !(value.len == 1 && value.ptr[0] == '0');
	} else if (nl == 16 && strncasecmp(n, "system_variables", 16) == 0) {
		char *v = dflt ? NULL : malloc(value.len + 1);

		if (v != NULL) {
			for (size_t i = 0; i < value.len; i++) {
				uint8_t ch = value.ptr[i];

				v[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
			}
			v[value.len] = '\0';
		}
		free(s->trk_vars);
		s->trk_vars = v; /* DEFAULT, or out of memory: NULL, the default list */
	}
}

/* <name> is in the comma-separated <list> (lower-case; "*" is every variable). */
static bool
px_sess_track_listed(const char *list, struct ms_slice name)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		const char *e = p + n;

		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		while (n > 0 && p[n - 1] == ' ') {
			n--;
		}
		if ((n == 1 && *p == '*') ||
		    (n == name.len && strncasecmp(p, (const char *)name.ptr, n) == 0)) {
			return true;
		}
		p = *e == ',' ? e + 1 : e;
	}
	return false;
}

size_t
px_sess_track_filter(const struct px_session *s, struct ms_slice st, uint8_t *out, size_t cap)
{
	/* MariaDB 10.11's default session_track_system_variables */
	static const char defaults[] = "autocommit,character_set_client,character_set_connection,"
				       "character_set_results,time_zone";
	const char *vars = s->trk_set && s->trk_vars != NULL ? s->trk_vars : defaults;
	struct mp_cursor c, e;
	struct ms_slice data, entry, name;
	uint8_t type;
	size_t at = 0;

	mp_cursor_init(&c, st.ptr, st.len);
	while (mp_track_next(&c, &type, &data, &entry) == MP_OK) {
		bool keep;

		mp_cursor_init(&e, data.ptr, data.len);
		switch (type) {
		case MP_TRACK_SYSVAR:
			keep = mp_lenenc_str_read(&e, &name) == MP_OK && px_sess_track_listed(vars, name);
			break;
		case MP_TRACK_SCHEMA:
			keep = !s->trk_set || s->trk_schema;
			break;
		case MP_TRACK_STATE:
			keep = s->trk_set && s->trk_state;
			break;
		default: /* transaction characteristics and state */
			keep = s->trk_set && s->trk_tx;
			break;
		}
		if (keep && at + entry.len <= cap) {
			memcpy(out + at, entry.ptr, entry.len);
			at += entry.len;
		}
	}
	return at;
}

void
px_sess_stop_waiting(struct px_session *s)
{
	if (s->want != NULL) {
		px_pool_cancel(s->want, s);
		s->want = NULL;
	}
	if (s->wait_ev_added) {
		event_del(&s->wait_ev);
		s->wait_ev_added = false;
	}
}

/* Gives back or destroys the backend <s> holds, depending on whether it is clean. */
static void
px_sess_release_all(struct px_session *s, bool clean)
{
	struct px_backend *b = s->be;

	px_sess_stop_waiting(s);
	px_exec_abort(s);
	if (b != NULL && px_tx_owns(s, b)) {
		s->be = NULL;
		s->be_paused = false;
		b = NULL; /* dropped with the transaction */
	}
	px_tx_drop_all(s);
	if (b == NULL) {
		return;
	}
	s->be = NULL;
	if (s->be_paused) {
		px_conn_set_read(&b->conn, true);
		s->be_paused = false;
	}
	if (clean) {
		px_pool_put(b);
	} else {
		if (s->state == PX_SESS_FORWARD || s->state == PX_SESS_SYNC ||
		    s->state == PX_SESS_MULTI) {
			px_xa_abandon(b);
		}
		b->owner = NULL;
		px_pool_drop(b);
	}
}

void
px_sess_close(struct px_session *s, const char *why)
{
	if (s->state == PX_SESS_CLOSING || s->state == PX_SESS_DONE) {
		return;
	}
	ms_log_debug("session %llu: closing: %s", (unsigned long long)s->id, why);
	/* a session that ends while holding a connection leaves state on it: never reuse it */
	px_sess_release_all(s, false);
	px_conn_set_read(&s->cl, false);
	px_conn_flush(&s->cl);
	if (evbuffer_get_length(s->cl.out) > 0 && !s->cl.failed) {
		s->cl.write_lw = 0; /* DRAINED then means everything was sent */
		px_sess_set_state(s, PX_SESS_CLOSING);
		return;
	}
	px_sess_set_state(s, PX_SESS_DONE);
}

static void
px_sess_free(struct px_session *s)
{
	event_del(&s->defer_ev);
	if (s->wstall_ev != NULL) {
		event_free(s->wstall_ev); /* (deletes it) */
	}
	if (s->q_timer_added) {
		event_del(&s->q_timer);
		s->q_timer_added = false;
	}
	px_sess_release_all(s, false);
	px_stmt_free_all(s);
	free(s->trk_vars);
	free(s->trk_pending);
	free(s->vars);
	free(s->set_pending);
	if (s->retry != NULL) {
		evbuffer_free(s->retry);
	}
	px_cmd_script_end(s);
	px_load_free(s);
	if (s->user_counted) {
		px_user_give(s->user);
	}
	__atomic_fetch_sub(&px_clients_open, 1, __ATOMIC_RELAXED);
	TAILQ_REMOVE(&s->w->sessions, s, link);
	s->w->n_sessions--;
	s->w->stats.clients_closed++;
	px_conn_deinit(&s->cl);
	ms_log_debug("session %llu: freed", (unsigned long long)s->id);
	free(s);
}

/*
 * timeouts.client_write_ms: the client's output has waited for the kernel (its send buffer
 * full) the whole period, with no write taken since the timer was armed. A client that reads,
 * however slowly, re-arms it; one that reads nothing is closed, without waiting for its
 * output, and its backend connection, held mid-result, is given up.
 */
static void
px_sess_wstall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_session *s = arg;
	unsigned int ms = s->w->conf->client_write_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)fd;
	(void)what;
	s->wstall_added = false;
	if (!s->cl.writing || s->cl.failed || s->state == PX_SESS_DONE) {
		return; /* the output went out: armed again at the next stall */
	}
	if (s->cl.write_evs != s->wstall_mark) {
		s->wstall_mark = s->cl.write_evs; /* it reads, slowly: another period */
		s->wstall_added = event_add(s->wstall_ev, &tv) == 0;
		return;
	}
	ms_log_warn("session %llu (%s@%s): the client took none of its pending output (%zu bytes) "
		    "for %u ms (timeouts.client_write_ms); closing it",
		    (unsigned long long)s->id, s->user[0] != '\0' ? s->user : "-", s->peer,
		    evbuffer_get_length(s->cl.out), ms);
	s->cl.failed = true; /* nothing more is written: the session closes without waiting */
	if (s->state == PX_SESS_CLOSING) {
		px_sess_set_state(s, PX_SESS_DONE);
	} else {
		px_sess_close(s, "client write timeout");
	}
	px_sess_settle(s);
}

/* Arms the write-stall timer when the client's output waits for the kernel (rare: only a
 * client that reads more slowly than its results arrive). */
static void
px_sess_wstall_arm(struct px_session *s)
{
	unsigned int ms = s->w->conf->client_write_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms == 0 || s->wstall_added || s->cl.failed) {
		return;
	}
	if (s->wstall_ev == NULL &&
	    (s->wstall_ev = event_new(s->w->base, -1, 0, px_sess_wstall_cb, s)) == NULL) {
		return; /* out of memory: no timer, as with client_write_ms 0 */
	}
	s->wstall_mark = s->cl.write_evs;
	s->wstall_added = event_add(s->wstall_ev, &tv) == 0;
}

void
px_sess_settle(struct px_session *s)
{
	/* One flush per event for everything this session queued. A speculative write that
	 * empties the client's output raises no DRAINED event, so resume a backend paused for
	 * backpressure here; a few rounds at most, then the loop takes over (fairness). */
	for (int round = 0; round < 8 && s->state != PX_SESS_DONE; round++) {
		if (s->be != NULL) {
			px_conn_flush(&s->be->conn);
		}
		px_exec_flush(s);
		px_conn_flush(&s->cl);
		if (s->state == PX_SESS_CLOSING && evbuffer_get_length(s->cl.out) == 0) {
			px_sess_set_state(s, PX_SESS_DONE);
			break;
		}
		if (evbuffer_get_length(s->cl.out) > PX_LOW_WATER) {
			break; /* the write event's DRAINED resumes whatever waits */
		}
		if (s->ex != NULL) {
			px_exec_pump(s); /* resumes legs paused for backpressure */
			if (s->ex != NULL) {
				break;
			}
		} else if (s->be_paused && s->be != NULL) {
			s->be_paused = false;
			px_conn_set_read(&s->be->conn, true);
			px_cmd_pump(s);
		} else if (s->input_stalled) {
			px_sess_process_input(s);
		} else {
			break;
		}
	}
	if (s->state != PX_SESS_DONE && s->input_stalled && evbuffer_get_length(s->cl.out) <= PX_LOW_WATER) {
		event_active(&s->defer_ev, EV_TIMEOUT, 0); /* budget used up: next loop turn */
	}
	if (MS_UNLIKELY(s->cl.writing) && s->state != PX_SESS_DONE && !s->wstall_added) {
		px_sess_wstall_arm(s);
	}
	if (s->state == PX_SESS_DONE) {
		px_sess_free(s);
	}
}

/* ---- connection phase ---- */

static void
px_sess_scramble(uint8_t out[MP_SCRAMBLE_LEN])
{
	if (getrandom(out, MP_SCRAMBLE_LEN, 0) != MP_SCRAMBLE_LEN) {
		/* getrandom() on Linux >= 3.17 does not fail for 20 bytes; be safe anyway */
		for (int i = 0; i < MP_SCRAMBLE_LEN; i++) {
			out[i] = (uint8_t)random();
		}
	}
	for (int i = 0; i < MP_SCRAMBLE_LEN; i++) {
		out[i] = (uint8_t)(33 + out[i] % 94); /* printable, never NUL: it is NUL-terminated */
	}
}

static void
px_sess_greet(struct px_session *s)
{
	struct mp_greeting g = {
		.version = PX_SERVER_VERSION,
		.conn_id = (uint32_t)s->id,
		.caps = PX_SERVER_CAPS | (px_tls_enabled() ? MP_CLIENT_SSL : 0),
		.collation = 45,
		.status = MP_STATUS_AUTOCOMMIT,
		.auth_plugin = MP_NATIVE_PLUGIN,
	};
	uint8_t buf[256];
	struct mp_writer w;

	memcpy(g.scramble, s->scramble, MP_SCRAMBLE_LEN);
	mp_writer_init(&w, buf, sizeof(buf));
	mp_greeting_write(&w, &g);
	MS_ASSERT(!w.overflow);
	px_sess_send(s, 0, buf, mp_writer_len(&w));
	s->seq = 1;
}

/*
 * Copies one whole packet from the client input when it is there. Returns the payload view
 * (valid until the input is drained) and its header, or false if more bytes are needed.
 */
static bool
px_sess_peek_packet(struct px_session *s, struct mp_hdr *hdr, const uint8_t **payload)
{
	struct evbuffer *in = s->cl.in;
	uint8_t raw[MP_HDR_LEN];
	struct mp_cursor c;
	const uint8_t *all;

	if (evbuffer_copyout(in, raw, sizeof(raw)) < (ev_ssize_t)sizeof(raw)) {
		return false;
	}
	mp_cursor_init(&c, raw, sizeof(raw));
	if (mp_hdr_read(&c, hdr) != MP_OK) {
		return false;
	}
	if (hdr->len > PX_HANDSHAKE_MAX) {
		*payload = NULL; /* caller rejects it; do not wait for megabytes */
		return true;
	}
	if (evbuffer_get_length(in) < MP_HDR_LEN + (size_t)hdr->len) {
		return false;
	}
	all = evbuffer_pullup(in, MP_HDR_LEN + (ev_ssize_t)hdr->len);
	*payload = all + MP_HDR_LEN;
	return true;
}

static void
px_sess_bad_handshake(struct px_session *s, const char *why)
{
	ms_log_info("session %llu (%s): bad handshake: %s", (unsigned long long)s->id, s->peer, why);
	px_sess_send_err(s, s->seq, 1043, "08S01", "Bad handshake");
	px_sess_close(s, why);
}

static void
px_sess_deny(struct px_session *s, bool used_password)
{
	s->w->stats.auth_failures++;
	ms_log_warn("session %llu (%s): access denied for user '%s'", (unsigned long long)s->id,
		    s->peer, s->user);
	px_sess_send_err(s, s->seq, 1045, "28000",
			 "Access denied for user '%s'@'%.*s' (using password: %s)", s->user,
			 (int)strcspn(s->peer, ":"), s->peer, used_password ? "YES" : "NO");
	px_sess_close(s, "access denied");
}

void
px_sess_login_ok(struct px_session *s, uint8_t seq, bool now)
{
	uint8_t st[PX_NAME_MAX + 8];
	struct mp_writer w;

	s->login_us = ms_now_us(); /* a drain spares it for PX_DRAIN_GRACE_MS: commands follow */
	/* a server tracks the default schema a login (or COM_CHANGE_USER) names */
	mp_writer_init(&w, st, sizeof(st));
	if (s->schema[0] != '\0') {
		mp_track_schema_put(&w, s->schema, strlen(s->schema));
	}
	px_sess_send_ok_state(s, seq, st, mp_writer_len(&w));
	if (!(s->caps & MP_CLIENT_COMPRESS) || s->cl.z != NULL) {
		return;
	}
	if (!now) {
		s->zlib_pending = true; /* once the login packet is consumed: px_sess_login_step() */
		return;
	}
	if (px_zlib_start(&s->cl) != MS_OK) {
		px_sess_close(s, "out of memory");
	}
}

/* Authentication passed: reply OK now, or first check the schema the client asked for. */
static void
px_sess_logged_in(struct px_session *s)
{
	ms_log_debug("session %llu (%s): user '%s' logged in", (unsigned long long)s->id, s->peer,
		     s->user);
	s->sha2_switched = s->sha2_full = s->sha2_rsa = false; /* for a later COM_CHANGE_USER */
	if (s->schema[0] == '\0') {
		px_sess_login_ok(s, s->seq, false);
		if (s->state == PX_SESS_CLOSING) {
			return;
		}
		px_sess_set_state(s, PX_SESS_IDLE);
		return;
	}
	s->login_pending = true;
	s->login_ok_seq = s->seq;
	px_cmd_use_default_shard(s);
	px_cmd_acquire(s);
}

/* The password was right: refuses a require_ssl user over plain TCP, else logs in. */
static void
px_sess_login_checked(struct px_session *s)
{
	const struct topo_snapshot *snap = topo_read_begin(s->w->topo);
	const struct topo_user *u = topo_user_find(snap, s->user, strlen(s->user));
	bool need_tls = u == NULL || (u->require_ssl && s->cl.tls == NULL);

	topo_read_end(s->w->topo);
	if (need_tls) {
		ms_log_warn("session %llu (%s): user '%s' must log in over TLS (require_ssl)",
			    (unsigned long long)s->id, s->peer, s->user);
		px_sess_deny(s, true);
		return;
	}
	if (s->w->conf->max_clients_per_user > 0) {
		if (!px_user_take(s->user, s->w->conf->max_clients_per_user)) {
			ms_log_warn("session %llu (%s): user '%s' has max_clients_per_user (%u) "
				    "sessions already", (unsigned long long)s->id, s->peer, s->user,
				    s->w->conf->max_clients_per_user);
			px_sess_send_err(s, s->seq, 1040, "08004",
					 "Too many connections for user '%s' (max_clients_per_user "
					 "%u)", s->user, s->w->conf->max_clients_per_user);
			px_sess_close(s, "max_clients_per_user");
			return;
		}
		s->user_counted = true;
	}
	px_sess_logged_in(s);
}

static void
px_sess_check_token(struct px_session *s, const uint8_t *token, size_t len)
{
	const struct topo_snapshot *snap = topo_read_begin(s->w->topo);
	const struct topo_user *u = topo_user_find(snap, s->user, strlen(s->user));
	bool ok = u != NULL &&
		  mp_native_verify(s->scramble, u->native_stored, u->empty_password, token, len);

	topo_read_end(s->w->topo);
	if (!ok) {
		px_sess_deny(s, len > 0);
		return;
	}
	px_sess_login_checked(s);
}

/* ---- caching_sha2_password (the fast path, and the full path over TLS) ---- */

#define PX_SHA2_PLUGIN    "caching_sha2_password"
#define PX_SHA2_CACHE_LEN 64

/* A worker's cache of SHA256(SHA256(password)) per user, filled by full authentications (as a
 * server's cache is): it lets the fast path check a scramble. Keyed by name and the user's
 * native verifier, so a changed password misses. Worker thread only (thread-local). */
struct px_sha2_entry {
	char name[PX_USER_MAX + 1];
	uint8_t native[20];
	uint8_t stage2[32];
	bool used;
};
static __thread struct px_sha2_entry px_sha2_cache[PX_SHA2_CACHE_LEN];
static __thread unsigned int px_sha2_next;

static void
px_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 32;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 || (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1) {
		memset(out, 0xff, 32); /* matches no real digest pair: the check fails */
	}
	EVP_MD_CTX_free(ctx);
}

static struct px_sha2_entry *
px_sha2_find(const char *name, const uint8_t native[20])
{
	for (unsigned int i = 0; i < PX_SHA2_CACHE_LEN; i++) {
		struct px_sha2_entry *e = &px_sha2_cache[i];

		if (e->used && strcmp(e->name, name) == 0 && memcmp(e->native, native, 20) == 0) {
			return e;
		}
	}
	return NULL;
}

static bool
px_sess_sha2_fast(struct px_session *s, const struct topo_user *u, const uint8_t *token, size_t len)
{
	const struct px_sha2_entry *e = px_sha2_find(s->user, u->native_stored);
	uint8_t mix[32], cand[32], check[32], diff = 0;

	if (e == NULL || len != 32) {
		return false;
	}
	px_sha256(e->stage2, 32, s->scramble, MP_SCRAMBLE_LEN, mix);
	for (int i = 0; i < 32; i++) {
		cand[i] = token[i] ^ mix[i]; /* SHA256(password) if the token is right */
	}
	px_sha256(cand, 32, NULL, 0, check);
	for (int i = 0; i < 32; i++) {
		diff |= check[i] ^ e->stage2[i];
	}
	return diff == 0;
}

/* The first caching_sha2_password answer: fast path, or ask for the password (full path). */
static void
px_sess_sha2_token(struct px_session *s, const uint8_t *token, size_t len)
{
	const struct topo_snapshot *snap = topo_read_begin(s->w->topo);
	const struct topo_user *u = topo_user_find(snap, s->user, strlen(s->user));
	bool empty = u != NULL && u->empty_password, fast = false;
	static const uint8_t fast_ok[2] = { 0x01, 0x03 }, full[2] = { 0x01, 0x04 };

	if (u != NULL && !empty) {
		fast = px_sess_sha2_fast(s, u, token, len);
	}
	topo_read_end(s->w->topo);
	if (u != NULL && !empty && len == 0 && !s->sha2_switched) {
		/* libmariadb answers an empty token when the greeting named another plugin: ask
		 * again, naming caching_sha2_password, with the same scramble */
		uint8_t buf[64];
		struct mp_writer w;

		mp_writer_init(&w, buf, sizeof(buf));
		mp_auth_switch_write(&w, PX_SHA2_PLUGIN, s->scramble, MP_SCRAMBLE_LEN);
		px_sess_send(s, s->seq++, buf, mp_writer_len(&w));
		s->sha2_switched = true;
		px_sess_set_state(s, PX_SESS_AUTH_SWITCH);
		return;
	}
	if (u == NULL || (empty && len > 0) || (!empty && len == 0)) {
		px_sess_deny(s, len > 0);
		return;
	}
	if (empty) {
		px_sess_check_token(s, token, 0);
		return;
	}
	if (fast) {
		px_sess_send(s, s->seq++, fast_ok, sizeof(fast_ok));
		px_sess_login_checked(s);
		return;
	}
	px_sess_send(s, s->seq++, full, sizeof(full));
	s->sha2_full = true;
	if (s->state != PX_SESS_AUTH_SWITCH) {
		px_sess_set_state(s, PX_SESS_AUTH_SWITCH);
	}
}

/* The full path's password <p> (cleartext, maybe NUL-terminated): checked, then cached. */
static void
px_sess_sha2_password(struct px_session *s, const uint8_t *p, size_t len)
{
	const struct topo_snapshot *snap;
	const struct topo_user *u;
	uint8_t stage1[MS_SHA1_LEN], native[MS_SHA1_LEN], stage2[32], diff = 0;
	bool ok = false;

	if (len > 0 && p[len - 1] == '\0') {
		len--;
	}
	ms_sha1(p, len, stage1);
	ms_sha1(stage1, sizeof(stage1), native);
	snap = topo_read_begin(s->w->topo);
	u = topo_user_find(snap, s->user, strlen(s->user));
	if (u != NULL && !u->empty_password && len > 0) {
		for (int i = 0; i < MS_SHA1_LEN; i++) {
			diff |= native[i] ^ u->native_stored[i];
		}
		ok = diff == 0;
	}
	if (ok) {
		struct px_sha2_entry *e = px_sha2_find(s->user, u->native_stored);

		if (e == NULL) {
			e = &px_sha2_cache[px_sha2_next++ % PX_SHA2_CACHE_LEN];
		}
		px_sha256(p, len, NULL, 0, stage2); /* SHA256(password) */
		px_sha256(stage2, 32, NULL, 0, e->stage2);
		snprintf(e->name, sizeof(e->name), "%s", s->user);
		memcpy(e->native, u->native_stored, 20);
		e->used = true;
	}
	topo_read_end(s->w->topo);
	explicit_bzero(stage1, sizeof(stage1));
	explicit_bzero(stage2, sizeof(stage2));
	if (!ok) {
		px_sess_deny(s, true);
		return;
	}
	px_sess_login_checked(s);
}

/*
 * The full path's answer. Over TLS: the password itself. Over plain TCP: 0x02 (send me your
 * public key), answered with our RSA key's PEM, then the password XOR the scramble, encrypted
 * with it (RSA-OAEP).
 */
static void
px_sess_sha2_full(struct px_session *s, const uint8_t *p, size_t len)
{
	uint8_t plain[512];
	size_t plen = sizeof(plain);

	if (s->cl.tls != NULL) {
		s->sha2_full = false;
		px_sess_sha2_password(s, p, len);
		return;
	}
	if (!s->sha2_rsa && len == 1 && p[0] == 0x02) {
		size_t n;
		const char *pem = px_tls_rsa_public_pem(&n);
		uint8_t *buf = malloc(n + 1);

		if (buf == NULL) {
			px_sess_close(s, "out of memory");
			return;
		}
		buf[0] = 0x01; /* AuthMoreData */
		memcpy(buf + 1, pem, n);
		px_sess_send(s, s->seq++, buf, n + 1);
		free(buf);
		s->sha2_rsa = true;
		return; /* the encrypted password comes next */
	}
	s->sha2_full = false;
	if (!s->sha2_rsa || !px_tls_rsa_decrypt(p, len, plain, &plen)) {
		ms_log_info("session %llu (%s): caching_sha2_password: no password over TLS or RSA "
			    "from '%s'", (unsigned long long)s->id, s->peer, s->user);
		px_sess_deny(s, true);
		return;
	}
	for (size_t i = 0; i < plen; i++) {
		plain[i] ^= s->scramble[i % MP_SCRAMBLE_LEN];
	}
	px_sess_sha2_password(s, plain, plen);
	explicit_bzero(plain, sizeof(plain));
}

static void
px_sess_on_response(struct px_session *s, const uint8_t *p, uint32_t len)
{
	struct mp_hsresp r;

	if (mp_hsresp_read(p, len, PX_SERVER_CAPS, &r) != MP_OK) {
		px_sess_bad_handshake(s, "malformed HandshakeResponse");
		return;
	}
	if (r.ssl_request) {
		if (!px_tls_enabled() || s->cl.tls != NULL) {
			px_sess_bad_handshake(s, s->cl.tls != NULL
							 ? "a second SSLRequest inside TLS"
							 : "client asked for TLS, which is not configured");
			return;
		}
		s->tls_pending = true; /* after this packet is consumed: px_sess_login_step() */
		return;
	}
	if (r.user.len == 0 || r.user.len > PX_USER_MAX || r.schema.len > PX_NAME_MAX ||
	    memchr(r.user.ptr, 0, r.user.len) != NULL) {
		px_sess_bad_handshake(s, "bad user or schema name");
		return;
	}
	s->caps = r.caps & PX_SERVER_CAPS;
	s->collation = px_collation_normalize(r.collation);
	memcpy(s->user, r.user.ptr, r.user.len);
	s->user[r.user.len] = '\0';
	if (r.schema.len > 0) { /* an absent schema is a NULL view */
		memcpy(s->schema, r.schema.ptr, r.schema.len);
	}
	s->schema[r.schema.len] = '\0';
	if ((s->caps & MP_CLIENT_PLUGIN_AUTH) && r.plugin.len == strlen(PX_SHA2_PLUGIN) &&
	    memcmp(r.plugin.ptr, PX_SHA2_PLUGIN, r.plugin.len) == 0) {
		px_sess_sha2_token(s, r.auth.ptr, r.auth.len);
		return;
	}
	if ((s->caps & MP_CLIENT_PLUGIN_AUTH) && r.plugin.len > 0 &&
	    !(r.plugin.len == strlen(MP_NATIVE_PLUGIN) &&
	      memcmp(r.plugin.ptr, MP_NATIVE_PLUGIN, r.plugin.len) == 0)) {
		uint8_t buf[64];
		struct mp_writer w;

		mp_writer_init(&w, buf, sizeof(buf));
		mp_auth_switch_write(&w, MP_NATIVE_PLUGIN, s->scramble, MP_SCRAMBLE_LEN);
		px_sess_send(s, s->seq++, buf, mp_writer_len(&w));
		px_sess_set_state(s, PX_SESS_AUTH_SWITCH);
		return;
	}
	px_sess_check_token(s, r.auth.ptr, r.auth.len);
}

void
px_sess_change_user(struct px_session *s, uint32_t first_len)
{
	const uint8_t *pl;
	struct mp_hsresp r;
	uint8_t token[256];
	size_t token_len;
	struct px_backend *b = s->be;

	pl = evbuffer_pullup(s->cl.in, MP_HDR_LEN + (ev_ssize_t)first_len) + MP_HDR_LEN;
	if (s->cmd_pkts > 1 || mp_change_user_read(pl, first_len, s->caps, &r) != MP_OK ||
	    r.user.len == 0 || r.user.len > PX_USER_MAX || r.schema.len > PX_NAME_MAX ||
	    memchr(r.user.ptr, 0, r.user.len) != NULL || r.auth.len > sizeof(token)) {
		evbuffer_drain(s->cl.in, s->cmd_len);
		s->cmd_len = 0;
		px_sess_send_err(s, (uint8_t)s->cmd_pkts, 1835, "08S01",
				 "Malformed communication packet");
		return;
	}
	/* everything the old login had goes, as on a server: transaction (rolled back),
	 * variables, prepared statements, pinned connections */
	if (b != NULL && px_tx_owns(s, b)) {
		s->be = NULL;
		b = NULL;
	}
	if (b != NULL) {
		s->be = NULL;
		b->owner = NULL;
		px_pool_drop(b);
	}
	px_tx_drop_all(s);
	px_stmt_free_all(s);
	free(s->vars);
	s->vars = NULL;
	s->autocommit_off = false;
	s->sticky = 0;
	px_sess_track_reset(s);
	s->hold_prev = false;
	s->status = MP_STATUS_AUTOCOMMIT;
	s->seq_insert_id = 0;
	if (s->user_counted) {
		px_user_give(s->user); /* the new login is counted (or refused) on its own */
		s->user_counted = false;
	}
	memcpy(s->user, r.user.ptr, r.user.len);
	s->user[r.user.len] = '\0';
	if (r.schema.len > 0) {
		memcpy(s->schema, r.schema.ptr, r.schema.len);
	}
	s->schema[r.schema.len] = '\0';
	if (r.collation != 0) {
		s->collation = px_collation_normalize(r.collation);
	}
	token_len = r.auth.len;
	memcpy(token, r.auth.ptr, token_len);
	s->seq = 1; /* the reply follows the command (sequence 0) */
	if ((s->caps & MP_CLIENT_PLUGIN_AUTH) && r.plugin.len > 0 &&
	    !(r.plugin.len == strlen(MP_NATIVE_PLUGIN) &&
	      memcmp(r.plugin.ptr, MP_NATIVE_PLUGIN, r.plugin.len) == 0)) {
		uint8_t buf[64];
		struct mp_writer w;

		evbuffer_drain(s->cl.in, s->cmd_len);
		s->cmd_len = 0;
		mp_writer_init(&w, buf, sizeof(buf));
		mp_auth_switch_write(&w, MP_NATIVE_PLUGIN, s->scramble, MP_SCRAMBLE_LEN);
		px_sess_send(s, s->seq++, buf, mp_writer_len(&w));
		px_sess_set_state(s, PX_SESS_AUTH_SWITCH);
		{
			struct timeval tv = { s->w->conf->login_timeout_ms / 1000,
					      (s->w->conf->login_timeout_ms % 1000) * 1000 };

			px_conn_set_timeout(&s->cl, &tv); /* as at login: no answer, no session */
		}
		return;
	}
	evbuffer_drain(s->cl.in, s->cmd_len);
	s->cmd_len = 0;
	ms_log_debug("session %llu: COM_CHANGE_USER to '%s'", (unsigned long long)s->id, s->user);
	px_sess_check_token(s, token, token_len); /* the token answers the login's scramble */
}

void
px_sess_kill_query(struct px_session *s)
{
	if ((s->state == PX_SESS_FORWARD || s->state == PX_SESS_SYNC) && s->be != NULL) {
		px_xa_kill_query(s->be);
	} else if (s->state == PX_SESS_MULTI) {
		px_exec_kill_query(s);
	}
	/* idle, waiting for a connection, or committing: nothing runs that may be interrupted */
}

/* One step of the connection phase; false when it must wait for more input. */
static bool
px_sess_login_step(struct px_session *s)
{
	struct mp_hdr hdr;
	const uint8_t *payload;

	if (!px_sess_peek_packet(s, &hdr, &payload)) {
		return false;
	}
	s->seq++; /* our reply follows the client's packet */
	if (payload == NULL) {
		px_sess_bad_handshake(s, "oversized packet in the connection phase");
		return false;
	}
	if (hdr.seq != (uint8_t)(s->seq - 1)) {
		px_sess_bad_handshake(s, "wrong sequence id");
		return false;
	}
	if (s->state == PX_SESS_HANDSHAKE) {
		px_sess_on_response(s, payload, hdr.len);
	} else if (s->sha2_full) {
		px_sess_sha2_full(s, payload, hdr.len);
	} else if (s->sha2_switched) {
		px_sess_sha2_token(s, payload, hdr.len);
	} else {
		px_sess_check_token(s, payload, hdr.len);
	}
	evbuffer_drain(s->cl.in, MP_HDR_LEN + (size_t)hdr.len);
	if (s->zlib_pending) {
		s->zlib_pending = false;
		if (px_zlib_start(&s->cl) != MS_OK) {
			px_sess_close(s, "out of memory");
			return false;
		}
	}
	if (s->tls_pending) {
		s->tls_pending = false;
		if (px_tls_start(&s->cl) != MS_OK) {
			px_sess_close(s, "cannot start TLS");
			return false;
		}
		/* the HandshakeResponse comes next, inside TLS, with the next sequence id */
	}
	return true;
}

/*
 * Draining (SIGTERM): closes the session if it is idle with nothing more coming, and logged
 * in at least PX_DRAIN_GRACE_MS ago. A client that has just logged in (it connected before
 * the listener closed) is about to send its commands, drivers' set-up statements first: it
 * is served for that long (px_session_drain_all sweeps again until every session is gone).
 * True if it closed it.
 */
static bool
px_sess_drain_idle(struct px_session *s)
{
	if (!s->w->draining || s->state != PX_SESS_IDLE || evbuffer_get_length(s->cl.in) > 0 ||
	    ms_now_us() - s->login_us < (uint64_t)PX_DRAIN_GRACE_MS * 1000) {
		return false;
	}
	px_sess_close(s, "shutdown (draining)"); /* its statement is done: SIGTERM */
	return true;
}

void
px_sess_process_input(struct px_session *s)
{
	unsigned int budget = PX_CMDS_PER_EVENT;

	if (s->in_input) {
		return; /* the loop below on the stack picks up where this call would */
	}
	if (px_sess_drain_idle(s)) {
		return;
	}
	s->in_input = true;
	s->input_stalled = false;
	for (;;) {
		bool progress;

		if (s->state == PX_SESS_IDLE &&
		    (budget-- == 0 || evbuffer_get_length(s->cl.out) >= PX_HIGH_WATER)) {
			/* a client pipelining commands answered here (errors, resets) must not make
			 * us queue output without bound or hog the worker: go on once it reads */
			s->input_stalled = true;
			break;
		}

		switch (s->state) {
		case PX_SESS_HANDSHAKE:
		case PX_SESS_AUTH_SWITCH:
			progress = px_sess_login_step(s);
			break;
		case PX_SESS_IDLE:
			progress = px_cmd_step(s);
			break;
		case PX_SESS_LOAD:
			progress = px_load_step(s);
			break;
		default:
			progress = false; /* busy: pipelined input waits in the buffer */
			break;
		}
		if (!progress) {
			break;
		}
	}
	s->in_input = false;
	if (px_sess_drain_idle(s)) {
		return; /* commands answered here (BEGIN, SET NAMES, ...) end in this loop */
	}
	if (s->state != PX_SESS_CLOSING && s->state != PX_SESS_DONE) {
		px_conn_resume(&s->cl);
	}
}

/* ---- the client socket's events: the outermost frame for the session ---- */

static void
px_sess_conn_cb(struct px_conn *c, unsigned int what, void *arg)
{
	struct px_session *s = arg;

	(void)c;
	if (what & PX_CONN_READ) {
		px_sess_process_input(s);
	}
	/* DRAINED needs nothing here: px_sess_settle() below resumes a paused backend or stalled
	 * input whenever the client's output is under the low-water mark */
	if (what & (PX_CONN_EOF | PX_CONN_ERROR | PX_CONN_TIMEOUT)) {
		if (what & PX_CONN_TIMEOUT) {
			ms_log_info("session %llu (%s): %s timeout", (unsigned long long)s->id, s->peer,
				    s->state == PX_SESS_IDLE ? "idle" : "login");
		} else {
			ms_log_debug("session %llu (%s): client %s", (unsigned long long)s->id, s->peer,
				     (what & PX_CONN_EOF) ? "closed the connection" : "socket error");
		}
		/* nothing more can be written to a client that is gone */
		evbuffer_drain(s->cl.out, evbuffer_get_length(s->cl.out));
		px_sess_close(s, "client gone");
		if (s->state == PX_SESS_CLOSING) {
			px_sess_set_state(s, PX_SESS_DONE);
		}
	}
	px_sess_settle(s);
}

static void
px_sess_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_session *s = arg;

	(void)fd;
	(void)what;
	if (s->input_stalled) {
		px_sess_process_input(s);
	}
	px_sess_settle(s);
}

void
px_session_accept(struct px_worker *w, int fd, const char *peer)
{
	struct px_session *s = calloc(1, sizeof(*s));
	size_t hw = (size_t)w->conf->max_packet + 2 * MP_HDR_LEN + 65536;
	struct timeval login_tv = { w->conf->login_timeout_ms / 1000,
				    (w->conf->login_timeout_ms % 1000) * 1000 };

	if (s == NULL) {
		close(fd);
		return;
	}
	if (px_conn_init(&s->cl, w->base, fd, px_sess_conn_cb, s) != MS_OK) {
		close(fd);
		free(s);
		return;
	}
	s->id = __atomic_fetch_add(&px_session_next_id, 1, __ATOMIC_RELAXED);
	s->w = w;
	event_assign(&s->defer_ev, w->base, -1, 0, px_sess_defer_cb, s);
	s->state = PX_SESS_HANDSHAKE;
	s->status = MP_STATUS_AUTOCOMMIT;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	TAILQ_INSERT_TAIL(&w->sessions, s, link);
	w->n_sessions++;
	w->stats.clients_accepted++;
	px_sess_scramble(s->scramble);
	/* a client cannot make us buffer more than one maximal command ahead */
	s->cl.read_hw = hw;
	s->cl.write_lw = PX_LOW_WATER;
	px_conn_set_timeout(&s->cl, &login_tv); /* silent or slow logins do not hold a socket */
	px_conn_set_read(&s->cl, true);
	ms_log_debug("session %llu: accepted from %s on worker %u", (unsigned long long)s->id, peer,
		     w->idx);
	if (w->conf->max_clients > 0 &&
	    __atomic_add_fetch(&px_clients_open, 1, __ATOMIC_RELAXED) > w->conf->max_clients) {
		/* as a server does: the error instead of the greeting */
		ms_log_warn("session %llu (%s): max_clients (%u) reached", (unsigned long long)s->id,
			    peer, w->conf->max_clients);
		px_sess_send_err(s, 0, 1040, "08004", "Too many connections");
		px_sess_close(s, "max_clients");
		px_sess_settle(s); /* the outermost frame for this session: frees it when done */
		return;
	}
	if (w->conf->max_clients == 0) {
		__atomic_fetch_add(&px_clients_open, 1, __ATOMIC_RELAXED);
	}
	px_sess_greet(s);
	px_conn_flush(&s->cl);
}

unsigned int
px_session_open_count(void)
{
	return __atomic_load_n(&px_clients_open, __ATOMIC_RELAXED);
}

void
px_session_drain_all(struct px_worker *w)
{
	struct px_session *s = TAILQ_FIRST(&w->sessions), *next;

	for (; s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		/* idle with nothing coming and not a fresh login: closed; logins under way
		 * finish (px_sess_drain_idle) */
		if (px_sess_drain_idle(s)) {
			px_sess_settle(s); /* frees it once the last bytes are out */
		}
	}
}

void
px_session_close_all(struct px_worker *w)
{
	struct px_session *s;

	while ((s = TAILQ_FIRST(&w->sessions)) != NULL) {
		px_sess_close(s, "shutdown");
		s->state = PX_SESS_DONE;
		px_sess_free(s);
	}
}
