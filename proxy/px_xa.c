/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_xa.c - recovery of two-phase commits (see px_xa.h). Runs on a thread of its own with
 * Connector/C's blocking API: it never touches a worker's event loop.
 */
#include "proxy/px_xa.h"

#include "common/ms_log.h"
#include "proxy/px_types.h"
#include "proxy/px_worker.h"
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
	/* deadlock detection */
	unsigned int deadlock_ms;           /* 0 = off */
	struct px_worker *ws;               /* borrowed, set once the workers run (under mu) */
	unsigned int n_workers;
	struct px_xa_link *links;           /* one connection per shard, kept between checks */
	size_t n_links;
	uint64_t suspect_session;           /* victim chosen by the last check (confirmed next) */
	uint32_t suspect_conn;
	uint64_t deadlocks;                 /* under mu: broken so far */
	struct px_xa_kill *kills;           /* under mu: connections to kill (px_xa_abandon) */
	size_t n_kills, cap_kills;
};

struct px_xa_kill {
	char shard[PX_NAME_MAX + 1];
	char host[256]; /* where the connection is: the kill is skipped if the shard moved */
	uint16_t port;
	uint32_t id;
	bool query;     /* KILL QUERY (a client asked), else KILL CONNECTION */
};

static struct px_xa *px_xa_global; /* for px_xa_abandon(); set while the thread runs */

struct px_xa_link {
	char name[PX_NAME_MAX + 1];
	char host[256];
	uint16_t port;
	MYSQL *m;
};

/* One lock wait on a shard, mapped to myshard sessions. */
struct px_xa_wait {
	uint64_t from, to; /* waiting and blocking sessions */
	size_t link;       /* shard */
	uint32_t conn;     /* the waiting connection's id there */
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
	uint64_t now = (ms_now_us() / 1000u), committed = 0, rolled = 0;
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

/* The detector's connection to shard <sh>, (re)made when missing or pointed elsewhere. */
static MYSQL *
px_xa_link(struct px_xa *x, const struct topo_shard *sh, size_t *idx)
{
	struct px_xa_link *l = NULL;

	for (size_t i = 0; i < x->n_links && l == NULL; i++) {
		if (strcmp(x->links[i].name, sh->name) == 0) {
			l = &x->links[i];
			*idx = i;
		}
	}
	if (l == NULL) {
		struct px_xa_link *g = realloc(x->links, (x->n_links + 1) * sizeof(*g));

		if (g == NULL) {
			return NULL;
		}
		x->links = g;
		*idx = x->n_links;
		l = &x->links[x->n_links++];
		memset(l, 0, sizeof(*l));
		snprintf(l->name, sizeof(l->name), "%s", sh->name);
	}
	if (l->m != NULL && (l->port != sh->port || strcmp(l->host, sh->host) != 0)) {
		mysql_close(l->m);
		l->m = NULL;
	}
	if (l->m == NULL) {
		l->m = px_xa_connect(sh);
		snprintf(l->host, sizeof(l->host), "%s", sh->host);
		l->port = sh->port;
	}
	return l->m;
}

static void
px_xa_link_drop(struct px_xa *x, size_t i)
{
	if (x->links[i].m != NULL) {
		mysql_close(x->links[i].m);
		x->links[i].m = NULL;
	}
}

/* Lock waits on one shard: pairs (waiting connection, blocking connection). */
static bool
px_xa_waits(MYSQL *m, uint32_t **pairs, size_t *n)
{
	static const char q[] =
		"SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id "
		"FROM information_schema.INNODB_LOCK_WAITS w "
		"JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id "
		"JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id";
	MYSQL_RES *res;
	MYSQL_ROW row;

	*pairs = NULL;
	*n = 0;
	if (mysql_query(m, q) != 0 || (res = mysql_store_result(m)) == NULL) {
		return false;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		uint32_t *g;

		if (row[0] == NULL || row[1] == NULL ||
		    (g = realloc(*pairs, (*n + 1) * 2 * sizeof(*g))) == NULL) {
			continue;
		}
		*pairs = g;
		g[*n * 2] = (uint32_t)strtoul(row[0], NULL, 10);
		g[*n * 2 + 1] = (uint32_t)strtoul(row[1], NULL, 10);
		(*n)++;
	}
	mysql_free_result(res);
	return true;
}

static uint64_t
px_xa_session_of(const struct px_branch_row *rows, size_t n, const char *shard, uint32_t conn)
{
	for (size_t i = 0; i < n; i++) {
		if (rows[i].server_id == conn && strcmp(rows[i].shard, shard) == 0) {
			return rows[i].session;
		}
	}
	return 0;
}

/* Looks for a cycle through <start> in the wait graph; on one, returns true with the victim
 * (the highest session id on the cycle) and the wait it is stuck in. */
static bool
px_xa_cycle(const struct px_xa_wait *w, size_t n, uint64_t start, struct px_xa_wait *victim)
{
	uint64_t path[64];
	size_t at[64], depth = 0;

	path[0] = start;
	at[0] = 0;
	while (true) {
		bool pushed = false;

		for (size_t i = at[depth]; i < n; i++) {
			if (w[i].from != path[depth]) {
				continue;
			}
			at[depth] = i + 1;
			if (w[i].to == start) {
				/* the cycle path[0..depth] -> start: pick its victim */
				const struct px_xa_wait *best = NULL;

				for (size_t d = 0; d <= depth; d++) {
					for (size_t j = 0; j < n; j++) {
						if (w[j].from == path[d] &&
						    (d == depth ? w[j].to == start : w[j].to == path[d + 1]) &&
						    (best == NULL || w[j].from > best->from)) {
							best = &w[j];
						}
					}
				}
				*victim = *best;
				return true;
			}
			bool seen = false;

			for (size_t d = 0; d <= depth; d++) {
				seen |= path[d] == w[i].to;
			}
			if (!seen && depth + 1 < MS_ARRAY_LEN(path)) {
				depth++;
				path[depth] = w[i].to;
				at[depth] = 0;
				pushed = true;
				break;
			}
		}
		if (pushed) {
			continue;
		}
		if (depth == 0) {
			return false;
		}
		depth--;
	}
}

/*
 * One deadlock check: the lock waits of every shard, mapped through the workers' transaction
 * branches to myshard sessions. A cycle that spans shards (a cycle on one shard is the server's
 * own business) and is seen on two checks in a row is broken: its victim is marked on its
 * worker, then its waiting statement is interrupted (KILL QUERY on that shard).
 */
static void
px_xa_deadlock_check(struct px_xa *x, struct topo_reader *r)
{
	const struct topo_snapshot *snap = topo_read_begin(r);
	const struct topo_snapshot *s = snap != NULL ? topo_ref(snap) : NULL;
	struct px_xa_wait *waits = NULL, victim;
	struct px_branch_row *rows = NULL;
	size_t n_waits = 0, n_rows = 0, shards_waiting = 0;
	uint32_t **pairs = NULL;
	size_t *n_pairs = NULL, *links = NULL;
	struct px_worker *ws;
	unsigned int n_workers;
	bool found = false;

	topo_read_end(r);
	pthread_mutex_lock(&x->mu);
	ws = x->ws;
	n_workers = x->n_workers;
	pthread_mutex_unlock(&x->mu);
	if (s == NULL || ws == NULL || (pairs = calloc(s->n_shards, sizeof(*pairs))) == NULL ||
	    (n_pairs = calloc(s->n_shards, sizeof(*n_pairs))) == NULL ||
	    (links = calloc(s->n_shards, sizeof(*links))) == NULL) {
		goto out;
	}
	for (size_t i = 0; i < s->n_shards; i++) {
		MYSQL *m = px_xa_link(x, &s->shards[i], &links[i]);

		if (m != NULL && !px_xa_waits(m, &pairs[i], &n_pairs[i])) {
			px_xa_link_drop(x, links[i]);
		}
		shards_waiting += n_pairs[i] > 0;
	}
	if (shards_waiting < 2) {
		x->suspect_session = 0; /* a cycle across shards needs waits on two of them */
		goto out;
	}
	if (!px_workers_branches(ws, n_workers, 1000, &rows, &n_rows)) {
		goto out;
	}
	for (size_t i = 0; i < s->n_shards; i++) {
		for (size_t k = 0; k < n_pairs[i]; k++) {
			uint64_t from = px_xa_session_of(rows, n_rows, s->shards[i].name, pairs[i][k * 2]);
			uint64_t to = px_xa_session_of(rows, n_rows, s->shards[i].name, pairs[i][k * 2 + 1]);
			struct px_xa_wait *g;

			if (from == 0 || to == 0 || from == to ||
			    (g = realloc(waits, (n_waits + 1) * sizeof(*g))) == NULL) {
				continue; /* another client's connection, or an ordinary wait */
			}
			waits = g;
			waits[n_waits++] = (struct px_xa_wait){ from, to, links[i], pairs[i][k * 2] };
		}
	}
	for (size_t i = 0; i < n_waits && !found; i++) {
		found = px_xa_cycle(waits, n_waits, waits[i].from, &victim);
	}
	if (!found) {
		x->suspect_session = 0;
		goto out;
	}
	if (x->suspect_session != victim.from || x->suspect_conn != victim.conn) {
		x->suspect_session = victim.from; /* seen once: confirmed (or not) by the next check */
		x->suspect_conn = victim.conn;
		goto out;
	}
	x->suspect_session = 0;
	ms_log_warn("deadlock across shards: session %llu waits on shard %s (connection %u) in a "
		    "cycle of waits; rolling its transaction back",
		    (unsigned long long)victim.from, x->links[victim.link].name, victim.conn);
	if (px_workers_victim(ws, n_workers, victim.from, 1000) &&
	    x->links[victim.link].m != NULL) {
		char kill[64];

		snprintf(kill, sizeof(kill), "KILL QUERY %u", victim.conn);
		if (px_xa_exec(x->links[victim.link].m, x->links[victim.link].name, kill)) {
			pthread_mutex_lock(&x->mu);
			x->deadlocks++;
			pthread_mutex_unlock(&x->mu);
		}
	}
out:
	for (size_t i = 0; pairs != NULL && s != NULL && i < s->n_shards; i++) {
		free(pairs[i]);
	}
	free(pairs);
	free(n_pairs);
	free(links);
	free(rows);
	free(waits);
	if (s != NULL) {
		topo_unref(s);
	}
}

static void px_xa_post_kill(const struct px_backend *b, bool query);

void
px_xa_abandon(const struct px_backend *b)
{
	px_xa_post_kill(b, false);
}

void
px_xa_kill_query(struct px_backend *b)
{
	b->killed = true; /* the KILL may land after the statement: the connection is not reused */
	px_xa_post_kill(b, true);
}

static void
px_xa_post_kill(const struct px_backend *b, bool query)
{
	struct px_xa *x = __atomic_load_n(&px_xa_global, __ATOMIC_ACQUIRE);
	const struct px_pool *p = b->pool;
	const struct topo_shard *ep;

	if (x == NULL || b->server_id == 0 || p->ep_snap == NULL || b->gen != p->gen) {
		return; /* (a connection to a server the shard has left: nobody to ask safely) */
	}
	ep = &p->ep_snap->shards[p->ep_idx];
	pthread_mutex_lock(&x->mu);
	if (x->n_kills == x->cap_kills) {
		size_t cap = x->cap_kills == 0 ? 16 : 2 * x->cap_kills;
		struct px_xa_kill *g = cap <= 4096 ? realloc(x->kills, cap * sizeof(*g)) : NULL;

		if (g != NULL) {
			x->kills = g;
			x->cap_kills = cap;
		}
	}
	if (x->n_kills < x->cap_kills) {
		struct px_xa_kill *k = &x->kills[x->n_kills++];

		snprintf(k->shard, sizeof(k->shard), "%s", p->shard_name);
		snprintf(k->host, sizeof(k->host), "%s", ep->host);
		k->port = ep->port;
		k->id = b->server_id;
		k->query = query;
		pthread_cond_broadcast(&x->cv);
	}
	pthread_mutex_unlock(&x->mu);
}

/* Kills the connections px_xa_abandon() queued (recovery thread). */
static void
px_xa_run_kills(struct px_xa *x, struct topo_reader *r)
{
	const struct topo_snapshot *snap;
	const struct topo_snapshot *s;
	struct px_xa_kill *k;
	size_t n;

	pthread_mutex_lock(&x->mu);
	k = x->kills;
	n = x->n_kills;
	x->kills = NULL;
	x->n_kills = x->cap_kills = 0;
	pthread_mutex_unlock(&x->mu);
	if (n == 0) {
		free(k);
		return;
	}
	snap = topo_read_begin(r);
	s = snap != NULL ? topo_ref(snap) : NULL;
	topo_read_end(r);
	for (size_t i = 0; s != NULL && i < n; i++) {
		long idx = topo_shard_find(s, k[i].shard);
		size_t li;
		MYSQL *m;
		char q[64];

		if (idx < 0 || s->shards[idx].port != k[i].port ||
		    strcmp(s->shards[idx].host, k[i].host) != 0) {
			continue; /* the shard moved since: that id means nothing on its new server */
		}
		m = px_xa_link(x, &s->shards[idx], &li);
		if (m == NULL) {
			continue;
		}
		snprintf(q, sizeof(q), "KILL %s %u", k[i].query ? "QUERY" : "CONNECTION", k[i].id);
		if (mysql_query(m, q) == 0) {
			ms_log_info("shard %s: %s", k[i].shard, q);
		} else if (mysql_errno(m) != 1094 /* unknown thread: it ended by itself */) {
			ms_log_warn("shard %s: %s: %s", k[i].shard, q, mysql_error(m));
			px_xa_link_drop(x, li);
		}
	}
	if (s != NULL) {
		topo_unref(s);
	}
	free(k);
}

void
px_xa_set_workers(struct px_xa *x, struct px_worker *ws, unsigned int n)
{
	if (x == NULL) {
		return;
	}
	pthread_mutex_lock(&x->mu);
	x->ws = ws;
	x->n_workers = n;
	pthread_mutex_unlock(&x->mu);
}

static void *
px_xa_main(void *arg)
{
	struct px_xa *x = arg;
	struct topo_reader *r = NULL;
	bool first = true;
	uint64_t next_pass = 0;

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
		uint64_t now = (ms_now_us() / 1000u);
		unsigned int step;

		pthread_mutex_unlock(&x->mu);
		px_xa_run_kills(x, r);
		if (first || now >= next_pass) {
			px_xa_pass(x, r, first);
			first = false;
			next_pass = (ms_now_us() / 1000u) + x->interval_ms;
		} else if (x->deadlock_ms != 0) {
			px_xa_deadlock_check(x, r);
		}
		pthread_mutex_lock(&x->mu);
		if (!x->first_done) {
			x->first_done = true;
			pthread_cond_broadcast(&x->cv);
		}
		now = (ms_now_us() / 1000u);
		step = next_pass > now ? (unsigned int)(next_pass - now) : 0;
		if (x->deadlock_ms != 0 && x->deadlock_ms < step) {
			step = x->deadlock_ms;
		}
		until = ms_deadline(step);
		while (!x->stop && x->n_kills == 0 &&
		       pthread_cond_timedwait(&x->cv, &x->mu, &until) != ETIMEDOUT) {
		}
		if (x->n_kills > 0 && !x->stop) {
			pthread_mutex_unlock(&x->mu);
			px_xa_run_kills(x, r);
			pthread_mutex_lock(&x->mu);
			while (!x->stop && x->n_kills == 0 &&
			       pthread_cond_timedwait(&x->cv, &x->mu, &until) != ETIMEDOUT) {
			}
		}
	}
	pthread_mutex_unlock(&x->mu);
	for (size_t i = 0; i < x->n_links; i++) {
		px_xa_link_drop(x, i);
	}
	topo_reader_free(r);
	mysql_thread_end();
	return NULL;
}

enum ms_rc
px_xa_start(struct topo_domain *d, unsigned int interval_ms, unsigned int abandon_ms,
	    unsigned int deadlock_ms, struct px_xa **out)
{
	struct px_xa *x = calloc(1, sizeof(*x));

	if (x == NULL) {
		return MS_ENOMEM;
	}
	x->d = d;
	x->interval_ms = interval_ms;
	x->abandon_ms = abandon_ms;
	x->deadlock_ms = deadlock_ms;
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
	__atomic_store_n(&px_xa_global, x, __ATOMIC_RELEASE);
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
	__atomic_store_n(&px_xa_global, NULL, __ATOMIC_RELEASE);
	pthread_mutex_lock(&x->mu);
	x->stop = true;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	if (x->started) {
		pthread_join(x->th, NULL);
		x->started = false;
	}
}

void
px_xa_free(struct px_xa *x)
{
	if (x == NULL) {
		return;
	}
	px_xa_stop(x);
	free(x->kills);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x->seen);
	free(x->links);
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
px_xa_totals(struct px_xa *x, uint64_t *committed, uint64_t *rolled_back, uint64_t *passes,
	     uint64_t *deadlocks)
{
	*committed = *rolled_back = *passes = *deadlocks = 0;
	if (x == NULL) {
		return;
	}
	pthread_mutex_lock(&x->mu);
	*committed = x->committed;
	*rolled_back = x->rolled_back;
	*passes = x->passes;
	*deadlocks = x->deadlocks;
	pthread_mutex_unlock(&x->mu);
}
