/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_health.c - the health-check thread and the shard health table (see px_health.h).
 */
#include "proxy/px_health.h"

#include "common/ms_log.h"
#include "proxy/px_types.h"
#include "topology/topo.h"

#include <errno.h>
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PX_HEALTH_MAX  (4 * TOPO_MAX_SHARDS) /* records; shard names seen since the start */
#define PX_HEALTH_FALL 2                     /* failed checks in a row that make a shard down */
#define PX_HEALTH_BACKOFF_SHIFT 3            /* a failing shard's interval: at most 2^3 x */

struct px_health {
	char name[260];        /* set once, before the record is published */
	int state;             /* atomic: enum px_health_state */
	int lag_s;             /* atomic: a replica's Seconds_Behind_Master; -1 unknown / not
				  replicating (read replicas only) */
	int ro;                /* atomic: the last check saw @@read_only on */
	/* the rest: under px_health_mu */
	unsigned int fails;    /* failed checks in a row */
	bool read_only;
	uint64_t rtt_us, since_us, checks, failures, next_us;
	char err[160];
	MYSQL *m;              /* the checker's connection (checker thread only) */
	char endpoint[300];    /* host:port that <m> talks to */
};

static struct px_health px_health_tab[PX_HEALTH_MAX];
static size_t px_health_n; /* atomic: records published */
static pthread_mutex_t px_health_mu = PTHREAD_MUTEX_INITIALIZER;

static struct {
	struct topo_domain *d;
	unsigned int interval_ms;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, started;
} px_hc = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

struct px_health *
px_health_of(const char *name)
{
	size_t n = __atomic_load_n(&px_health_n, __ATOMIC_ACQUIRE);
	struct px_health *h = NULL;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(px_health_tab[i].name, name) == 0) {
			return &px_health_tab[i];
		}
	}
	pthread_mutex_lock(&px_health_mu);
	n = px_health_n;
	for (size_t i = 0; i < n && h == NULL; i++) {
		if (strcmp(px_health_tab[i].name, name) == 0) {
			h = &px_health_tab[i];
		}
	}
	if (h == NULL && n < PX_HEALTH_MAX) {
		h = &px_health_tab[n];
		snprintf(h->name, sizeof(h->name), "%s", name);
		h->lag_s = -1;
		h->since_us = ms_now_us();
		__atomic_store_n(&px_health_n, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&px_health_mu);
	return h;
}

const char *
px_health_name(const struct px_health *h)
{
	return h->name;
}

bool
px_health_is_down(const struct px_health *h)
{
	return h != NULL && __atomic_load_n(&h->state, __ATOMIC_ACQUIRE) == PX_HEALTH_DOWN;
}

bool
px_health_down(const struct px_health *h, char *why, size_t len)
{
	if (h == NULL || __atomic_load_n(&h->state, __ATOMIC_ACQUIRE) != PX_HEALTH_DOWN) {
		return false;
	}
	pthread_mutex_lock(&px_health_mu);
	snprintf(why, len, "shard %s is down (health checks failing for %llu ms: %s)", h->name,
		 (unsigned long long)((ms_now_us() - h->since_us) / 1000u), h->err);
	pthread_mutex_unlock(&px_health_mu);
	return true;
}

bool
px_health_replica_ok(const struct px_health *h, unsigned int max_lag_s)
{
	int lag;

	if (h == NULL || __atomic_load_n(&h->state, __ATOMIC_ACQUIRE) != PX_HEALTH_UP) {
		return false;
	}
	lag = __atomic_load_n(&h->lag_s, __ATOMIC_ACQUIRE);
	return lag >= 0 && (unsigned int)lag <= max_lag_s &&
	       __atomic_load_n(&h->ro, __ATOMIC_ACQUIRE) != 0; /* a writable server is no replica */
}

const char *
px_health_state_name(enum px_health_state s)
{
	switch (s) {
	case PX_HEALTH_UP: return "up";
	case PX_HEALTH_DOWN: return "down";
	default: return "unknown";
	}
}

void
px_health_view(const char *name, struct px_health_view *out)
{
	struct px_health *h = px_health_of(name);

	memset(out, 0, sizeof(*out));
	if (h == NULL) {
		return;
	}
	pthread_mutex_lock(&px_health_mu);
	out->state = (enum px_health_state)__atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
	out->read_only = h->read_only;
	out->lag_s = __atomic_load_n(&h->lag_s, __ATOMIC_ACQUIRE);
	out->rtt_us = h->rtt_us;
	out->since_ms = (ms_now_us() - h->since_us) / 1000u;
	out->checks = h->checks;
	out->failures = h->failures;
	snprintf(out->err, sizeof(out->err), "%s", h->err);
	pthread_mutex_unlock(&px_health_mu);
}

/* A read replica's Seconds_Behind_Master (SHOW SLAVE STATUS); -1 when it is not replicating
 * (no row, or NULL: a replication thread stopped), -2 when the statement failed. */
static int
px_health_lag(MYSQL *m)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	MYSQL_FIELD *f;
	unsigned int n;
	int lag = -1;

	if (mysql_query(m, "SHOW SLAVE STATUS") != 0 || (res = mysql_store_result(m)) == NULL) {
		return -2;
	}
	row = mysql_fetch_row(res);
	f = mysql_fetch_fields(res);
	n = mysql_num_fields(res);
	for (unsigned int i = 0; row != NULL && i < n; i++) {
		if (strcmp(f[i].name, "Seconds_Behind_Master") == 0 && row[i] != NULL) {
			long v = strtol(row[i], NULL, 10);

			lag = v < 0 ? -1 : v > 1000000 ? 1000000 : (int)v;
		}
	}
	mysql_free_result(res);
	return lag;
}

/* One check of <sh> (checker thread): a connection kept between checks, SELECT @@read_only;
 * for a read replica also its lag. */
static void
px_health_check(struct px_health *h, const struct topo_shard *sh, unsigned int interval_ms)
{
	char ep[300], err[160] = "";
	uint64_t t0 = ms_now_us(), rtt;
	bool ok = false, ro = false;
	int was, now, lag = -1;

	snprintf(ep, sizeof(ep), "%s:%u", sh->host, sh->port);
	if (h->m != NULL && strcmp(h->endpoint, ep) != 0) {
		mysql_close(h->m); /* the shard moved (APPLY): talk to its new server */
		h->m = NULL;
	}
	if (h->m == NULL) {
		MYSQL *m = mysql_init(NULL);
		unsigned int ct = 1, rw = 2;

		if (m != NULL) {
			mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
			mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
			mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
			if (mysql_real_connect(m, sh->host, sh->user, sh->password, NULL, sh->port, NULL,
					       0) == NULL) {
				snprintf(err, sizeof(err), "%s", mysql_error(m));
				mysql_close(m);
				m = NULL;
			}
		} else {
			snprintf(err, sizeof(err), "out of memory");
		}
		h->m = m;
		snprintf(h->endpoint, sizeof(h->endpoint), "%s", ep);
	}
	if (h->m != NULL) {
		if (mysql_query(h->m, "SELECT @@read_only") == 0) {
			MYSQL_RES *res = mysql_store_result(h->m);
			MYSQL_ROW row = res != NULL ? mysql_fetch_row(res) : NULL;

			ok = row != NULL;
			ro = ok && row[0] != NULL && strcmp(row[0], "0") != 0;
			mysql_free_result(res);
		}
		if (ok && sh->replica_of >= 0 && (lag = px_health_lag(h->m)) == -2) {
			ok = false;
		}
		if (!ok) {
			snprintf(err, sizeof(err), "%s", mysql_error(h->m));
			mysql_close(h->m);
			h->m = NULL;
		}
	}
	rtt = ms_now_us() - t0;
	pthread_mutex_lock(&px_health_mu);
	was = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
	h->checks++;
	h->rtt_us = rtt;
	h->read_only = ro;
	__atomic_store_n(&h->ro, ro ? 1 : 0, __ATOMIC_RELEASE);
	if (sh->replica_of >= 0) {
		__atomic_store_n(&h->lag_s, ok ? lag : -1, __ATOMIC_RELEASE);
	}
	if (ok) {
		h->fails = 0;
		h->err[0] = '\0';
		now = PX_HEALTH_UP;
		h->next_us = ms_now_us() + (uint64_t)interval_ms * 1000;
	} else {
		/* backoff: the next check after 1, 2, 4, then 8 intervals */
		unsigned int k = h->fails < PX_HEALTH_BACKOFF_SHIFT ? h->fails : PX_HEALTH_BACKOFF_SHIFT;

		h->failures++;
		h->fails++;
		snprintf(h->err, sizeof(h->err), "%s", err);
		now = h->fails >= PX_HEALTH_FALL ? PX_HEALTH_DOWN : was;
		h->next_us = ms_now_us() + ((uint64_t)interval_ms << k) * 1000;
	}
	if (now != was) {
		h->since_us = ms_now_us();
		__atomic_store_n(&h->state, now, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&px_health_mu);
	if (now != was && now == PX_HEALTH_DOWN) {
		ms_log_warn("health: shard %s (%s) is down: %s", sh->name, ep, err);
	} else if (now != was && now == PX_HEALTH_UP && was == PX_HEALTH_DOWN) {
		ms_log_info("health: shard %s (%s) is up again", sh->name, ep);
	}
}

static void *
px_health_main(void *arg)
{
	struct topo_reader *r = NULL;

	(void)arg;
	mysql_thread_init();
	if (topo_reader_new(px_hc.d, &r) != MS_OK) {
		ms_log_error("health: out of memory; health checks are off");
		mysql_thread_end();
		return NULL;
	}
	pthread_mutex_lock(&px_hc.mu);
	while (!px_hc.stop) {
		struct timespec until;
		uint64_t now;

		pthread_mutex_unlock(&px_hc.mu);
		const struct topo_snapshot *snap = topo_read_begin(r);

		now = ms_now_us();
		for (size_t i = 0; i < snap->n_endpoints; i++) { /* shards and read replicas */
			struct px_health *h = px_health_of(snap->shards[i].name);

			if (h != NULL && now >= h->next_us) {
				/* (the snapshot stays pinned meanwhile: its strings stay valid) */
				px_health_check(h, &snap->shards[i], px_hc.interval_ms);
			}
		}
		topo_read_end(r);
		pthread_mutex_lock(&px_hc.mu);
		until = ms_deadline(px_hc.interval_ms < 200 ? px_hc.interval_ms : 200);
		while (!px_hc.stop && pthread_cond_timedwait(&px_hc.cv, &px_hc.mu, &until) != ETIMEDOUT) {
		}
	}
	pthread_mutex_unlock(&px_hc.mu);
	for (size_t i = 0; i < __atomic_load_n(&px_health_n, __ATOMIC_ACQUIRE); i++) {
		if (px_health_tab[i].m != NULL) {
			mysql_close(px_health_tab[i].m);
			px_health_tab[i].m = NULL;
		}
	}
	topo_reader_free(r);
	mysql_thread_end();
	return NULL;
}

enum ms_rc
px_health_start(struct topo_domain *d, unsigned int interval_ms)
{
	if (interval_ms == 0) {
		return MS_OK;
	}
	px_hc.d = d;
	px_hc.interval_ms = interval_ms;
	px_hc.stop = false;
	if (mysql_library_init(0, NULL, NULL) != 0 ||
	    pthread_create(&px_hc.th, NULL, px_health_main, NULL) != 0) {
		return MS_EIO;
	}
	px_hc.started = true;
	return MS_OK;
}

void
px_health_stop(void)
{
	if (!px_hc.started) {
		return;
	}
	pthread_mutex_lock(&px_hc.mu);
	px_hc.stop = true;
	pthread_cond_broadcast(&px_hc.cv);
	pthread_mutex_unlock(&px_hc.mu);
	pthread_join(px_hc.th, NULL);
	px_hc.started = false;
}
