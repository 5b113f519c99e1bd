/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_xa.c - recovery of two-phase commits (see px_xa.h). Runs on a thread of its own with
 * Connector/C's blocking API: it never touches a worker's event loop.
 */
#include "proxy/px_xa.h"

#include "common/ms_log.h"
#include "topology/topo.h"

#include <mysql.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PX_XA_KEEP_ROWS_S 3600   /* decision rows kept at least this long */
#define PX_XA_MAX_DOUBTS  256
#define PX_XA_CONNECT_S   2
#define PX_XA_RW_S        10

uint32_t px_xa_boot;
static const char *px_xa_fault_point;

struct px_xa_seen {
	char key[200]; /* shard \1 gtrid */
	uint64_t first_ms;
	bool live;     /* seen in the current pass */
};

struct px_xa {
	struct topo_domain *d; /* borrowed */
	unsigned int interval_ms;
	unsigned int abandon_ms; /* a prepared branch this old that nobody finished is ours */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, first_done, started;
	/* under mu: the last pass */
	struct px_xa_doubt doubts[PX_XA_MAX_DOUBTS];
	size_t n_doubts;
	uint64_t committed, rolled_back, passes;
	/* recovery thread only */
	struct px_xa_seen *seen;
	size_t n_seen, cap_seen;
};

struct px_xa_branch {
	size_t shard;
	char gtrid[65];
	char bqual[65];
};

void
px_xa_init(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		r = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	}
	px_xa_boot = r;
	px_xa_fault_point = getenv("MYSHARD_FAULT");
}

void
px_xa_fault(const char *point)
{
	if (px_xa_fault_point != NULL && strcmp(px_xa_fault_point, point) == 0) {
		ms_log_error("fault injection (MYSHARD_FAULT=%s): exiting now", point);
		_exit(86);
	}
}

static uint64_t
px_xa_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static MYSQL *
px_xa_connect(const struct topo_shard *sh)
{
	MYSQL *m = mysql_init(NULL);
	unsigned int ct = PX_XA_CONNECT_S, rw = PX_XA_RW_S;

	if (m == NULL) {
		return NULL;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	if (mysql_real_connect(m, sh->host, sh->user, sh->password, NULL, sh->port, NULL, 0) ==
	    NULL) {
		ms_log_warn("xa recovery: shard %s (%s:%u): %s; retried on the next pass", sh->name,
			    sh->host, sh->port, mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

static bool
px_xa_exec(MYSQL *m, const char *shard, const char *sql)
{
	if (mysql_query(m, sql) != 0) {
		ms_log_warn("xa recovery: shard %s: %s: %s", shard, sql, mysql_error(m));
		return false;
	}
	return true;
}

/* Creates the decision table where it is missing. */
static bool
px_xa_prepare_shard(MYSQL *m, const char *shard)
{
	return px_xa_exec(m, shard, "CREATE DATABASE IF NOT EXISTS " PX_XA_SCHEMA) &&
	       px_xa_exec(m, shard,
			  "CREATE TABLE IF NOT EXISTS " PX_XA_TABLE " (gtrid VARBINARY(64) NOT NULL "
			  "PRIMARY KEY, decision CHAR(1) NOT NULL, created TIMESTAMP NOT NULL "
			  "DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB") &&
	       px_xa_exec(m, shard, "SET SESSION innodb_lock_wait_timeout = 5");
}

/* XA RECOVER on one shard: appends myshard's prepared branches to <out>. */
static bool
px_xa_scan(MYSQL *m, size_t shard, const char *name, struct px_xa_branch **out, size_t *n,
	   size_t *cap)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (!px_xa_exec(m, name, "XA RECOVER") || (res = mysql_store_result(m)) == NULL) {
		return false;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		unsigned long *lens = mysql_fetch_lengths(res);
		long fmt, gl, bl;
		struct px_xa_branch *b;

		if (row[0] == NULL || row[1] == NULL || row[2] == NULL || row[3] == NULL) {
			continue;
		}
		fmt = strtol(row[0], NULL, 10);
		gl = strtol(row[1], NULL, 10);
		bl = strtol(row[2], NULL, 10);
		if ((unsigned long)fmt != PX_XA_FORMAT || gl <= 0 || gl > 64 || bl < 0 || bl > 64 ||
		    (unsigned long)(gl + bl) > lens[3]) {
			continue; /* not one of ours */
		}
		if (*n == *cap) {
			size_t c = *cap == 0 ? 16 : *cap * 2;
			struct px_xa_branch *g = realloc(*out, c * sizeof(*g));

			if (g == NULL) {
				break;
			}
			*out = g;
			*cap = c;
		}
		b = &(*out)[(*n)++];
		b->shard = shard;
		memcpy(b->gtrid, row[3], (size_t)gl);
		b->gtrid[gl] = '\0';
		memcpy(b->bqual, row[3] + gl, (size_t)bl);
		b->bqual[bl] = '\0';
	}
	mysql_free_result(res);
	return true;
}

static struct px_xa_seen *
px_xa_seen_get(struct px_xa *x, const char *shard, const char *gtrid, uint64_t now)
{
	char key[200];
	struct px_xa_seen *e;

	snprintf(key, sizeof(key), "%s\1%s", shard, gtrid);
	for (size_t i = 0; i < x->n_seen; i++) {
		if (strcmp(x->seen[i].key, key) == 0) {
			x->seen[i].live = true;
			return &x->seen[i];
		}
	}
	if (x->n_seen == x->cap_seen) {
		size_t c = x->cap_seen == 0 ? 16 : x->cap_seen * 2;
		struct px_xa_seen *g = realloc(x->seen, c * sizeof(*g));

		if (g == NULL) {
			return NULL;
		}
		x->seen = g;
		x->cap_seen = c;
	}
	e = &x->seen[x->n_seen++];
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->first_ms = now;
	e->live = true;
	return e;
}

/* The decision for <gtrid>, from its coordinator's table: 'C' commit, 'A' abort (recorded now
 * if there was none, so the transaction can never commit later), 0 if it cannot be known. */
static char
px_xa_decide(MYSQL *coord, const char *cname, const char *gtrid)
{
	char q[256], esc[140];
	MYSQL_RES *res;
	MYSQL_ROW row;
	char d = 0;

	mysql_real_escape_string(coord, esc, gtrid, (unsigned long)strlen(gtrid));
	snprintf(q, sizeof(q), "INSERT INTO " PX_XA_TABLE " (gtrid, decision) VALUES ('%s', 'A')",
		 esc);
	if (mysql_query(coord, q) == 0) {
		return 'A';
	}
	if (mysql_errno(coord) != 1062) {
		ms_log_warn("xa recovery: shard %s: recording an abort for %s: %s", cname, gtrid,
			    mysql_error(coord));
		return 0;
	}
	snprintf(q, sizeof(q), "SELECT decision FROM " PX_XA_TABLE " WHERE gtrid = '%s'", esc);
	if (mysql_query(coord, q) != 0 || (res = mysql_store_result(coord)) == NULL) {
		return 0;
	}
	if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL) {
		d = row[0][0] == 'C' ? 'C' : 'A';
	}
	mysql_free_result(res);
	return d;
}

/* XA COMMIT / ROLLBACK of one branch; true when it is finished (also if someone else did). */
static bool
px_xa_finish(MYSQL *m, const char *shard, const struct px_xa_branch *b, bool commit)
{
	char q[400], g[140], bq[140];

	mysql_real_escape_string(m, g, b->gtrid, (unsigned long)strlen(b->gtrid));
	mysql_real_escape_string(m, bq, b->bqual, (unsigned long)strlen(b->bqual));
	snprintf(q, sizeof(q), "XA %s '%s','%s',%u", commit ? "COMMIT" : "ROLLBACK", g, bq,
		 PX_XA_FORMAT);
	if (mysql_query(m, q) == 0 || mysql_errno(m) == 1397 /* XAER_NOTA: already finished */) {
		ms_log_info("xa recovery: shard %s: %s %s", shard, commit ? "committed" : "rolled back",
			    b->gtrid);
		return true;
	}
	ms_log_warn("xa recovery: shard %s: %s: %s", shard, q, mysql_error(m));
	return false;
}

/* The process that started <gtrid> ("msx-<boot>-..."), or 0 if unreadable. */
static uint32_t
px_xa_gtrid_boot(const char *gtrid)
{
	if (strncmp(gtrid, "msx-", 4) != 0) {
		return 0;
	}
	return (uint32_t)strtoul(gtrid + 4, NULL, 16);
}

/* Deletes decision rows nobody needs: older than PX_XA_KEEP_ROWS_S and no branch in doubt. */
static void
px_xa_cleanup(MYSQL *m, const char *shard, const struct px_xa_branch *bs, size_t n)
{
	char *q;
	size_t cap = 256 + n * 150, at;

	if (n > 200 || (q = malloc(cap)) == NULL) {
		return;
	}
	at = (size_t)snprintf(q, cap,
			      "DELETE FROM " PX_XA_TABLE " WHERE created < NOW() - INTERVAL %d SECOND",
			      PX_XA_KEEP_ROWS_S);
	for (size_t i = 0; i < n; i++) {
		char esc[140];

		mysql_real_escape_string(m, esc, bs[i].gtrid, (unsigned long)strlen(bs[i].gtrid));
		at += (size_t)snprintf(q + at, cap - at, "%s'%s'", i == 0 ? " AND gtrid NOT IN (" : ", ",
				       esc);
	}
	if (n > 0) {
		snprintf(q + at, cap - at, ")");
	}
	(void)px_xa_exec(m, shard, q);
	free(q);
}

static void
px_xa_pass(struct px_xa *x, struct topo_reader *r, bool first)
{
	const struct topo_snapshot *snap = topo_read_begin(r);
	const struct topo_snapshot *s = snap != NULL ? topo_ref(snap) : NULL;
	struct px_xa_branch *bs = NULL;
	size_t n = 0, cap = 0, nd = 0;
	uint64_t now = px_xa_now_ms(), committed = 0, rolled = 0;
	struct px_xa_doubt *doubts = calloc(PX_XA_MAX_DOUBTS, sizeof(*doubts));
	MYSQL **conns;
	bool all_ok = true;

	topo_read_end(r);
	if (s == NULL || doubts == NULL || (conns = calloc(s->n_shards, sizeof(*conns))) == NULL) {
		free(doubts);
		if (s != NULL) {
			topo_unref(s);
		}
		return;
	}
	for (size_t i = 0; i < x->n_seen; i++) {
		x->seen[i].live = false;
	}
	for (size_t i = 0; i < s->n_shards; i++) {
		conns[i] = px_xa_connect(&s->shards[i]);
		if (conns[i] == NULL || !px_xa_prepare_shard(conns[i], s->shards[i].name) ||
		    !px_xa_scan(conns[i], i, s->shards[i].name, &bs, &n, &cap)) {
			all_ok = false;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct px_xa_branch *b = &bs[i];
		const char *shard = s->shards[b->shard].name;
		struct px_xa_seen *seen = px_xa_seen_get(x, shard, b->gtrid, now);
		uint64_t age = seen != NULL ? now - seen->first_ms : 0;
		bool foreign = px_xa_gtrid_boot(b->gtrid) != px_xa_boot;
		long c = topo_shard_find(s, b->bqual);
		const char *verdict = "pending";

		if ((first && foreign) || age >= x->abandon_ms) {
			char d = c >= 0 && conns[c] != NULL ? px_xa_decide(conns[c], b->bqual, b->gtrid) : 0;

			verdict = "unknown";
			if (d != 0 && conns[b->shard] != NULL &&
			    px_xa_finish(conns[b->shard], shard, b, d == 'C')) {
				verdict = d == 'C' ? "commit" : "rollback";
				committed += d == 'C';
				rolled += d != 'C';
			}
		}
		if (nd < PX_XA_MAX_DOUBTS && strcmp(verdict, "commit") != 0 &&
		    strcmp(verdict, "rollback") != 0) {
			struct px_xa_doubt *o = &doubts[nd++];

			snprintf(o->shard, sizeof(o->shard), "%s", shard);
			snprintf(o->gtrid, sizeof(o->gtrid), "%s", b->gtrid);
			snprintf(o->coordinator, sizeof(o->coordinator), "%s", b->bqual);
			snprintf(o->decision, sizeof(o->decision), "%s", verdict);
			o->age_ms = age;
		}
	}
	if (all_ok) {
		for (size_t i = 0; i < s->n_shards; i++) {
			px_xa_cleanup(conns[i], s->shards[i].name, bs, n);
		}
	}
	/* forget what is no longer in doubt */
	for (size_t i = 0; i < x->n_seen;) {
		if (!x->seen[i].live) {
			x->seen[i] = x->seen[--x->n_seen];
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < s->n_shards; i++) {
		if (conns[i] != NULL) {
			mysql_close(conns[i]);
		}
	}
	free(conns);
	free(bs);
	pthread_mutex_lock(&x->mu);
	memcpy(x->doubts, doubts, nd * sizeof(*doubts));
	x->n_doubts = nd;
	x->committed += committed;
	x->rolled_back += rolled;
	x->passes++;
	pthread_mutex_unlock(&x->mu);
	free(doubts);
	topo_unref(s);
}

static void *
px_xa_main(void *arg)
{
	struct px_xa *x = arg;
	struct topo_reader *r = NULL;
	bool first = true;

	mysql_thread_init();
	if (topo_reader_new(x->d, &r) != MS_OK) {
		ms_log_error("xa recovery: out of memory; recovery is off");
		pthread_mutex_lock(&x->mu);
		x->first_done = true;
		pthread_cond_broadcast(&x->cv);
		pthread_mutex_unlock(&x->mu);
		mysql_thread_end();
		return NULL;
	}
	pthread_mutex_lock(&x->mu);
	while (!x->stop) {
		struct timespec until;

		pthread_mutex_unlock(&x->mu);
		px_xa_pass(x, r, first);
		first = false;
		pthread_mutex_lock(&x->mu);
		if (!x->first_done) {
			x->first_done = true;
			pthread_cond_broadcast(&x->cv);
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += x->interval_ms / 1000;
		until.tv_nsec += (long)(x->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!x->stop && pthread_cond_timedwait(&x->cv, &x->mu, &until) != ETIMEDOUT) {
		}
	}
	pthread_mutex_unlock(&x->mu);
	topo_reader_free(r);
	mysql_thread_end();
	return NULL;
}

enum ms_rc
px_xa_start(struct topo_domain *d, unsigned int interval_ms, unsigned int abandon_ms,
	    struct px_xa **out)
{
	struct px_xa *x = calloc(1, sizeof(*x));

	if (x == NULL) {
		return MS_ENOMEM;
	}
	x->d = d;
	x->interval_ms = interval_ms;
	x->abandon_ms = abandon_ms;
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	if (mysql_library_init(0, NULL, NULL) != 0 ||
	    pthread_create(&x->th, NULL, px_xa_main, x) != 0) {
		pthread_mutex_destroy(&x->mu);
		pthread_cond_destroy(&x->cv);
		free(x);
		return MS_EIO;
	}
	x->started = true;
	pthread_mutex_lock(&x->mu);
	while (!x->first_done) {
		pthread_cond_wait(&x->cv, &x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	*out = x;
	return MS_OK;
}

void
px_xa_stop(struct px_xa *x)
{
	if (x == NULL) {
		return;
	}
	pthread_mutex_lock(&x->mu);
	x->stop = true;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	if (x->started) {
		pthread_join(x->th, NULL);
	}
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x->seen);
	free(x);
	mysql_library_end();
}

size_t
px_xa_doubts(struct px_xa *x, struct px_xa_doubt *out, size_t max)
{
	size_t n;

	if (x == NULL) {
		return 0;
	}
	pthread_mutex_lock(&x->mu);
	n = x->n_doubts < max ? x->n_doubts : max;
	memcpy(out, x->doubts, n * sizeof(*out));
	pthread_mutex_unlock(&x->mu);
	return n;
}

void
px_xa_totals(struct px_xa *x, uint64_t *committed, uint64_t *rolled_back, uint64_t *passes)
{
	*committed = *rolled_back = *passes = 0;
	if (x == NULL) {
		return;
	}
	pthread_mutex_lock(&x->mu);
	*committed = x->committed;
	*rolled_back = x->rolled_back;
	*passes = x->passes;
	pthread_mutex_unlock(&x->mu);
}
