/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/scatter_lat.c - latency of one cross-shard statement through myshard against the
 * shards' own latency for the SQL myshard sends them (taken from EXPLAIN ROUTE).
 *
 *   scatter_lat --proxy PORT --user U --password P --db DB
 *               --shard NAME=PORT [--shard ...] --shard-user U --shard-password P
 *               --iter N --sql "SELECT ..."
 *
 * Each iteration, interleaved so drift hits every figure alike, times:
 *   proxy     the statement through myshard (one client, text protocol, whole result read);
 *   alone_i   shard i's leg SQL sent to shard i directly, one shard at a time;
 *   slowest   the largest alone_i of the iteration (the "slowest shard's own latency");
 *   orig      the largest latency of the client's statement itself, unchanged, on each shard
 *             alone (differs from slowest when the legs carry hidden helper columns);
 *   parallel  every leg SQL sent to its shard at once, until the last result is read (what a
 *             perfect proxy with zero overhead would achieve on this machine).
 * Prints one line per figure: "name median_us p95_us p99_us".
 */
#include <mysql.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SHARDS 16

struct shard {
	char name[64];
	unsigned int port;
	char *sql;
	MYSQL *c;
	double *alone;
};

static void
die(const char *what, MYSQL *c)
{
	fprintf(stderr, "scatter_lat: %s: %s\n", what, c != NULL ? mysql_error(c) : "");
	exit(1);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static MYSQL *
open_conn(unsigned int port, const char *user, const char *pw, const char *db)
{
	MYSQL *c = mysql_init(NULL);

	if (c == NULL || mysql_real_connect(c, "127.0.0.1", user, pw, db, port, NULL, 0) == NULL) {
		die("connect", c);
	}
	return c;
}

/* Reads and frees the whole result of the statement just sent. */
static void
drain(MYSQL *c)
{
	MYSQL_RES *r = mysql_store_result(c);

	if (r == NULL && mysql_field_count(c) != 0) {
		die("store_result", c);
	}
	mysql_free_result(r);
}

static void
run(MYSQL *c, const char *sql)
{
	if (mysql_real_query(c, sql, (unsigned long)strlen(sql)) != 0) {
		die(sql, c);
	}
	drain(c);
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *prefix, const char *name, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	printf("%s%s %.1f %.1f %.1f\n", prefix, name, v[n / 2], v[(n * 95) / 100],
	       v[(n * 99) / 100]);
}

int
main(int argc, char **argv)
{
	const char *user = "app", *pw = "", *db = NULL, *suser = "root", *spw = "", *sql = NULL;
	unsigned int pport = 0;
	size_t n_sh = 0, iters = 1000, i, k;
	struct shard sh[MAX_SHARDS];
	MYSQL *px;
	MYSQL_RES *res;
	MYSQL_ROW row;
	double *proxy, *slowest, *orig, *par, t0, t;
	char *ex;

	memset(sh, 0, sizeof(sh));
	for (int a = 1; a + 1 < argc; a += 2) {
		const char *o = argv[a], *v = argv[a + 1];

		if (strcmp(o, "--proxy") == 0) {
			pport = (unsigned int)atoi(v);
		} else if (strcmp(o, "--user") == 0) {
			user = v;
		} else if (strcmp(o, "--password") == 0) {
			pw = v;
		} else if (strcmp(o, "--db") == 0) {
			db = v;
		} else if (strcmp(o, "--shard-user") == 0) {
			suser = v;
		} else if (strcmp(o, "--shard-password") == 0) {
			spw = v;
		} else if (strcmp(o, "--iter") == 0) {
			iters = (size_t)atol(v);
		} else if (strcmp(o, "--sql") == 0) {
			sql = v;
		} else if (strcmp(o, "--shard") == 0 && n_sh < MAX_SHARDS) {
			const char *eq = strchr(v, '=');

			if (eq == NULL || (size_t)(eq - v) >= sizeof(sh[n_sh].name)) {
				fprintf(stderr, "scatter_lat: --shard NAME=PORT\n");
				return 2;
			}
			memcpy(sh[n_sh].name, v, (size_t)(eq - v));
			sh[n_sh++].port = (unsigned int)atoi(eq + 1);
		} else {
			fprintf(stderr, "scatter_lat: unknown option %s\n", o);
			return 2;
		}
	}
	if (pport == 0 || sql == NULL || n_sh == 0 || iters < 20) {
		fprintf(stderr, "scatter_lat: --proxy, --sql, --shard and --iter >= 20 are needed\n");
		return 2;
	}
	px = open_conn(pport, user, pw, db);

	/* the legs: EXPLAIN ROUTE rows "leg N | shard | sql" */
	ex = malloc(strlen(sql) + 16);
	if (ex == NULL) {
		return 1;
	}
	sprintf(ex, "EXPLAIN ROUTE %s", sql);
	if (mysql_query(px, ex) != 0 || (res = mysql_store_result(px)) == NULL) {
		die("EXPLAIN ROUTE", px);
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || strncmp(row[0], "leg", 3) != 0) {
			continue;
		}
		for (k = 0; k < n_sh && strcmp(sh[k].name, row[1]) != 0; k++) {
		}
		if (k == n_sh) {
			fprintf(stderr, "scatter_lat: leg on unknown shard %s\n", row[1]);
			return 1;
		}
		sh[k].sql = strdup(row[2] != NULL ? row[2] : sql);
		printf("leg %s: %s\n", sh[k].name, sh[k].sql);
	}
	mysql_free_result(res);
	for (k = 0; k < n_sh; k++) {
		if (sh[k].sql == NULL) {
			fprintf(stderr, "scatter_lat: shard %s has no leg (not a scatter?)\n", sh[k].name);
			return 1;
		}
		sh[k].c = open_conn(sh[k].port, suser, spw, db);
		sh[k].alone = calloc(iters, sizeof(double));
	}
	proxy = calloc(iters, sizeof(double));
	slowest = calloc(iters, sizeof(double));
	par = calloc(iters, sizeof(double));
	orig = calloc(iters, sizeof(double));
	if (proxy == NULL || slowest == NULL || par == NULL || orig == NULL) {
		return 1;
	}
	for (i = 0; i < 50; i++) { /* warm-up: caches, pools */
		run(px, sql);
		for (k = 0; k < n_sh; k++) {
			run(sh[k].c, sh[k].sql);
		}
	}
	for (i = 0; i < iters; i++) {
		t0 = now_us();
		run(px, sql);
		proxy[i] = now_us() - t0;

		slowest[i] = 0;
		for (k = 0; k < n_sh; k++) {
			t0 = now_us();
			run(sh[k].c, sh[k].sql);
			t = now_us() - t0;
			sh[k].alone[i] = t;
			slowest[i] = t > slowest[i] ? t : slowest[i];
		}

		orig[i] = 0;
		for (k = 0; k < n_sh; k++) {
			t0 = now_us();
			run(sh[k].c, sql);
			t = now_us() - t0;
			orig[i] = t > orig[i] ? t : orig[i];
		}

		t0 = now_us();
		for (k = 0; k < n_sh; k++) {
			if (mysql_send_query(sh[k].c, sh[k].sql, (unsigned long)strlen(sh[k].sql)) != 0) {
				die("send_query", sh[k].c);
			}
		}
		for (k = 0; k < n_sh; k++) {
			if (mysql_read_query_result(sh[k].c) != 0) {
				die("read_query_result", sh[k].c);
			}
			drain(sh[k].c);
		}
		par[i] = now_us() - t0;
	}
	report("", "proxy", proxy, iters);
	report("", "slowest_alone", slowest, iters);
	report("", "slowest_orig", orig, iters);
	report("", "parallel", par, iters);
	for (k = 0; k < n_sh; k++) {
		report("alone_", sh[k].name, sh[k].alone, iters);
		mysql_close(sh[k].c);
		free(sh[k].alone);
		free(sh[k].sql);
	}
	mysql_close(px);
	free(proxy);
	free(slowest);
	free(par);
	free(orig);
	free(ex);
	return 0;
}
