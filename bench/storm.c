/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/storm.c - connection workloads for bench/proof.
 *
 *   storm --port P --user U --password W --db D --threads T --seconds S
 *       A connection storm: each thread loops connect (full login), SELECT 1, close, for S
 *       seconds. Prints "storm conns N errors E per_sec X p50_us A p99_us B" (latency of one
 *       whole cycle).
 *   storm --port P --user U --password W --db D --hold N
 *       Opens N logged-in connections one after another and keeps them idle; prints
 *       "held N errors E" once they are all open, then waits for a line (or EOF) on stdin and
 *       closes them. The caller measures memory meanwhile.
 */
#include <mysql.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct opts {
	unsigned int port;
	const char *user, *pass, *db;
	int threads, seconds, hold;
};

struct worker {
	const struct opts *o;
	double deadline;
	double *lat; /* owned; microseconds per cycle */
	size_t n, cap;
	long errors;
	pthread_t tid;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static MYSQL *
open_one(const struct opts *o)
{
	MYSQL *m = mysql_init(NULL);
	unsigned int to = 10;

	if (m == NULL) {
		return NULL;
	}
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &to);
	if (mysql_real_connect(m, "127.0.0.1", o->user, o->pass, o->db, o->port, NULL, 0) == NULL) {
		mysql_close(m);
		return NULL;
	}
	return m;
}

static void *
storm_thread(void *arg)
{
	struct worker *w = arg;

	mysql_thread_init();
	while (now_s() < w->deadline) {
		double t0 = now_s();
		MYSQL *m = open_one(w->o);
		bool ok = m != NULL && mysql_query(m, "SELECT 1") == 0;

		if (ok) {
			MYSQL_RES *r = mysql_store_result(m);

			ok = r != NULL && mysql_num_rows(r) == 1;
			mysql_free_result(r);
		}
		if (m != NULL) {
			mysql_close(m);
		}
		if (!ok) {
			w->errors++;
			continue;
		}
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 4096;
			double *p = realloc(w->lat, cap * sizeof(*p));

			if (p == NULL) {
				w->errors++;
				break;
			}
			w->lat = p;
			w->cap = cap;
		}
		w->lat[w->n++] = (now_s() - t0) * 1e6;
	}
	mysql_thread_end();
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
run_storm(const struct opts *o)
{
	struct worker *ws = calloc((size_t)o->threads, sizeof(*ws));
	double t0 = now_s(), *all;
	size_t total = 0, at = 0;
	long errors = 0;

	if (ws == NULL) {
		return 1;
	}
	for (int i = 0; i < o->threads; i++) {
		ws[i].o = o;
		ws[i].deadline = t0 + o->seconds;
		if (pthread_create(&ws[i].tid, NULL, storm_thread, &ws[i]) != 0) {
			fprintf(stderr, "storm: pthread_create failed\n");
			return 1;
		}
	}
	for (int i = 0; i < o->threads; i++) {
		pthread_join(ws[i].tid, NULL);
		total += ws[i].n;
		errors += ws[i].errors;
	}
	double secs = now_s() - t0;

	all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL) {
		return 1;
	}
	for (int i = 0; i < o->threads; i++) {
		memcpy(all + at, ws[i].lat, ws[i].n * sizeof(*all));
		at += ws[i].n;
		free(ws[i].lat);
	}
	qsort(all, total, sizeof(*all), cmp_double);
	printf("storm conns %zu errors %ld per_sec %.1f p50_us %.0f p99_us %.0f\n", total, errors,
	       (double)total / secs, total ? all[total / 2] : 0.0,
	       total ? all[(size_t)((double)total * 0.99)] : 0.0);
	free(all);
	free(ws);
	return 0;
}

static int
run_hold(const struct opts *o)
{
	MYSQL **ms = calloc((size_t)o->hold, sizeof(*ms));
	struct rlimit rl;
	long errors = 0;
	char line[16];

	if (ms == NULL) {
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < o->hold; i++) {
		if ((ms[i] = open_one(o)) == NULL) {
			errors++;
		}
	}
	printf("held %d errors %ld\n", o->hold - (int)errors, errors);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL && ferror(stdin)) {
		fprintf(stderr, "storm: stdin: %s\n", strerror(errno));
	}
	for (int i = 0; i < o->hold; i++) {
		if (ms[i] != NULL) {
			mysql_close(ms[i]);
		}
	}
	free(ms);
	return errors > 0;
}

int
main(int argc, char **argv)
{
	struct opts o = { .user = "root", .pass = "", .db = NULL, .threads = 8, .seconds = 10 };

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--port") == 0) {
			o.port = (unsigned int)atoi(v);
		} else if (strcmp(k, "--user") == 0) {
			o.user = v;
		} else if (strcmp(k, "--password") == 0) {
			o.pass = v;
		} else if (strcmp(k, "--db") == 0) {
			o.db = v;
		} else if (strcmp(k, "--threads") == 0) {
			o.threads = atoi(v);
		} else if (strcmp(k, "--seconds") == 0) {
			o.seconds = atoi(v);
		} else if (strcmp(k, "--hold") == 0) {
			o.hold = atoi(v);
		} else {
			fprintf(stderr, "storm: unknown option %s\n", k);
			return 2;
		}
	}
	if (o.port == 0 || o.threads < 1 || o.seconds < 1) {
		fprintf(stderr, "usage: storm --port P --user U --password W [--db D] "
				"(--threads T --seconds S | --hold N)\n");
		return 2;
	}
	if (mysql_library_init(0, NULL, NULL) != 0) {
		return 1;
	}
	int rc = o.hold > 0 ? run_hold(&o) : run_storm(&o);

	mysql_library_end();
	return rc;
}
