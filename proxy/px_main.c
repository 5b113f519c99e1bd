/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_main.c - the myshard process: command line, configuration, topology, workers, the
 * client listener on the main thread, and signal-driven shutdown.
 */
#include "common/ms_log.h"
#include "conf/conf.h"
#include "conf/conf_store.h"
#include "proxy/px_admin.h"
#include "proxy/px_xa.h"
#include "proxy/px_health.h"
#include "proxy/px_listener.h"
#include "proxy/px_metrics.h"
#include "proxy/px_pool.h"
#include "proxy/px_session.h"
#include "proxy/px_tls.h"
#include "proxy/px_worker.h"
#include "topology/topo.h"

#include <event2/event.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static void
usage(FILE *f)
{
	fprintf(f, "usage: myshard --config FILE [--reset-from-file]   run the proxy\n"
		   "       myshard --check-config FILE validate FILE and exit (0 valid, 1 invalid)\n"
		   "       myshard --version\n"
		   "--reset-from-file: start from FILE even if admin.store holds a saved topology\n");
}

/* Frees retired topology snapshots that no worker can see any more. */
static void
px_main_reclaim(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	topo_reclaim(arg);
}

static void
px_main_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	ms_log_info("SIGHUP: reloading the configuration file");
	px_admin_reload(arg, "SIGHUP");
}

/* What SIGTERM's drain needs (main thread only). */
struct px_main_drain {
	struct event_base *base;
	struct px_listener **l;   /* closed by the drain (px_listener_close_soon): NULL once gone */
	struct px_worker *ws;
	unsigned int n;
	unsigned int shutdown_ms;
	struct event *timer;      /* owned by px_main_run */
	uint64_t deadline_us;
	bool draining;
	bool listener_gone;       /* the client listener is closed (px_listener_close_soon) */
};

static void
px_main_listener_gone(void *arg)
{
	struct px_main_drain *d = arg;

	*d->l = NULL; /* freed by px_listener_close_soon */
	d->listener_gone = true;
}

static void
px_main_drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct px_main_drain *d = arg;
	unsigned int open = px_session_open_count();

	(void)fd;
	(void)what;
	if ((open == 0 && d->listener_gone) || ms_now_us() >= d->deadline_us) {
		if (open > 0) {
			ms_log_warn("shutdown: %u client connection(s) still busy after %u ms: closing "
				    "them", open, d->shutdown_ms);
		} else {
			ms_log_info("shutdown: every client connection is closed");
		}
		event_base_loopexit(d->base, NULL);
		return;
	}
	event_add(d->timer, &(struct timeval){ 0, 50 * 1000 });
}

/* SIGTERM: stop accepting, let statements in flight (and open transactions) finish up to
 * timeouts.shutdown_ms, then stop. SIGINT, or a second SIGTERM: stop now. */
static void
px_main_signal(evutil_socket_t sig, short what, void *arg)
{
	struct px_main_drain *d = arg;

	(void)what;
	if (sig != SIGTERM || d->draining || d->shutdown_ms == 0) {
		ms_log_info("signal %d: shutting down", (int)sig);
		event_base_loopexit(d->base, NULL);
		return;
	}
	ms_log_info("signal %d: draining: no new connections; busy ones get up to %u ms",
		    (int)sig, d->shutdown_ms);
	d->draining = true;
	/* with reuse_port it takes what is still queued on it first (a new process on the port
	 * gets every new connection meanwhile) */
	px_listener_close_soon(*d->l, px_main_listener_gone, d);
	px_workers_drain(d->ws, d->n);
	d->deadline_us = ms_now_us() + (uint64_t)d->shutdown_ms * 1000;
	event_add(d->timer, &(struct timeval){ 0, 20 * 1000 });
}

/*
 * The first topology: from the admin store file when admin.store names one that exists (the
 * last version applied before its SAVE), else from the config file (recorded as version 1).
 * Either way the store's staged and runtime tables describe what runs.
 */
/* The store the admin port edits: in memory, loaded from the saved file <saved> if not NULL
 * (SAVE writes that file back). */
static enum ms_rc
px_main_store(const char *saved, struct conf_store **out)
{
	char err[512];

	if (cs_open(":memory:", out, err, sizeof(err)) != MS_OK) {
		ms_log_error("admin store: %s", err);
		return MS_EIO;
	}
	if (saved != NULL && cs_load(*out, saved, err, sizeof(err)) != MS_OK) {
		ms_log_error("admin store %s: %s (start with --reset-from-file to ignore it)", saved,
			     err);
		cs_close(*out);
		*out = NULL;
		return MS_EIO;
	}
	return MS_OK;
}

static enum ms_rc
px_main_topology(const struct conf *c, bool reset, struct conf_store **storep,
		 struct topo_domain **out)
{
	const char *saved = c->admin != NULL ? c->admin->store : NULL;
	struct topo_snapshot *snap = NULL;
	struct conf_store *store = NULL;
	struct conf *from = NULL;
	struct topo_domain *d;
	uint64_t version = 1;
	char err[512];

	if (saved != NULL && (reset || access(saved, F_OK) != 0)) {
		saved = NULL; /* start from the file */
	}
	if (px_main_store(saved, &store) != MS_OK) {
		return MS_EIO;
	}
	*storep = store;
	if (saved != NULL) {
		if (cs_latest_version(store, &version) != MS_OK || version == 0 ||
		    cs_restore(store, version, err, sizeof(err)) != MS_OK ||
		    cs_build(store, c, &from, err, sizeof(err)) != MS_OK) {
			ms_log_error("admin store %s: %s (start with --reset-from-file to use %s)",
				     saved, version == 0 ? "no applied version" : err, c->path);
			return MS_EINVAL;
		}
		ms_log_info("starting from admin store %s, topology version %llu (%s is not read "
			    "for users, shards and sharding; --reset-from-file uses it)",
			    saved, (unsigned long long)version, c->path);
	} else if (cs_import(store, c, err, sizeof(err)) != MS_OK ||
		   cs_commit(store, 1, "startup", "startup from the configuration file", err,
			     sizeof(err)) != MS_OK) {
		ms_log_error("admin store: %s", err);
		return MS_EINVAL;
	}
	if (px_topo_build(from != NULL ? from : c, &snap, err, sizeof(err)) != MS_OK) {
		ms_log_error("%s", err);
		conf_free(from);
		return MS_EINVAL;
	}
	conf_free(from);
	if (topo_domain_new(&d) != MS_OK) {
		topo_snapshot_free(snap);
		return MS_ENOMEM;
	}
	topo_publish_at(d, snap, version);
	/* the stored endpoints.state of each primary (workers do not run yet) */
	if (!px_shard_states_set(snap, false, NULL, NULL)) {
		ms_log_error("the shards' endpoints.state did not fit in the state table");
	}
	*out = d;
	return MS_OK;
}

static int
px_main_run(const struct conf *c, bool reset)
{
	struct topo_domain *topo = NULL;
	struct px_worker *ws = NULL;
	struct px_listener *l = NULL;
	struct px_admin *adm = NULL;
	struct px_metrics *mx = NULL;
	struct px_xa *xa = NULL;
	struct conf_store *store = NULL;
	struct event_base *base = NULL;
	struct event *sigint = NULL, *sigterm = NULL, *sighup = NULL, *reclaim = NULL;
	struct px_main_drain drain = { .l = &l, .n = c->workers, .shutdown_ms = c->shutdown_ms };
	int rc = 1;

	if (px_main_topology(c, reset, &store, &topo) != MS_OK) {
		ms_log_error("cannot build the topology");
		cs_close(store);
		return 1;
	}
	px_xa_init();
	if (px_xa_start(topo, c->xa_recovery_ms, c->xa_abandon_ms, c->deadlock_check_ms, &xa) != MS_OK) {
		ms_log_error("cannot start the XA recovery thread");
		goto out;
	}
	base = event_base_new();
	if (base == NULL || px_workers_start(c, topo, c->workers, &ws) != MS_OK) {
		ms_log_error("cannot start the workers");
		goto out;
	}
	px_xa_set_workers(xa, ws, c->workers);
	if (px_health_start(topo, c->health_ms) != MS_OK) {
		ms_log_error("cannot start the health checks");
		goto out_workers;
	}
	/* the admin port and the metrics endpoint first: once the client port answers, so do
	 * they (a supervisor may wait for the client port alone) */
	adm = px_admin_new(base, c, c->path, store, topo, ws, c->workers);
	if (adm == NULL) {
		goto out_workers;
	}
	px_admin_set_xa(adm, xa);
	if (c->metrics_addr != NULL &&
	    (mx = px_metrics_new(base, c->metrics_addr, c->metrics_port, c->reuse_port, ws,
				 c->workers, xa, topo)) == NULL) {
		goto out_workers;
	}
	l = px_listener_new(base, c->listen_addr, c->listen_port, c->reuse_port, ws, c->workers);
	if (l == NULL) {
		goto out_workers;
	}
	drain.base = base;
	drain.ws = ws;
	drain.timer = evtimer_new(base, px_main_drain_check, &drain);
	sigint = evsignal_new(base, SIGINT, px_main_signal, &drain);
	sigterm = evsignal_new(base, SIGTERM, px_main_signal, &drain);
	sighup = evsignal_new(base, SIGHUP, px_main_hup, adm);
	reclaim = event_new(base, -1, EV_PERSIST, px_main_reclaim, topo);
	if (sigint == NULL || sigterm == NULL || sighup == NULL || reclaim == NULL ||
	    drain.timer == NULL ||
	    event_add(sigint, NULL) != 0 || event_add(sigterm, NULL) != 0 ||
	    event_add(sighup, NULL) != 0 || event_add(reclaim, &(struct timeval){ 1, 0 }) != 0) {
		ms_log_error("cannot install signal handlers");
		goto out_workers;
	}
	ms_log_info("myshard %s ready: %zu shard(s), first shard %s at %s:%u", MYSHARD_VERSION,
		    c->n_shards, c->shards[0].name, c->shards[0].host, c->shards[0].port);
	event_base_dispatch(base);
	rc = 0;
out_workers:
	px_metrics_free(mx);
	px_admin_free(adm);
	px_listener_free(l);
	px_health_stop();
	px_xa_stop(xa); /* its deadlock checks ask the workers: it stops first */
	px_workers_stop(ws, c->workers);
out:
	if (sigint != NULL) {
		event_free(sigint);
	}
	if (sigterm != NULL) {
		event_free(sigterm);
	}
	if (sighup != NULL) {
		event_free(sighup);
	}
	if (reclaim != NULL) {
		event_free(reclaim);
	}
	if (drain.timer != NULL) {
		event_free(drain.timer);
	}
	px_xa_free(xa);
	if (base != NULL) {
		event_base_free(base);
	}
	topo_domain_free(topo);
	cs_close(store);
	ms_log_info("myshard stopped");
	return rc;
}

int
main(int argc, char **argv)
{
	char err[CONF_ERR_LEN];
	struct conf *c = NULL;
	bool check = false, reset;
	const char *path = NULL;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("myshard %s\n", MYSHARD_VERSION);
		return 0;
	}
	reset = argc == 4 && strcmp(argv[1], "--config") == 0 &&
		strcmp(argv[3], "--reset-from-file") == 0;
	if ((argc != 3 && !reset) ||
	    (strcmp(argv[1], "--config") != 0 && strcmp(argv[1], "--check-config") != 0)) {
		usage(stderr);
		return 2;
	}
	check = strcmp(argv[1], "--check-config") == 0;
	path = argv[2];
	if (conf_load_file(path, &c, err, sizeof(err)) != MS_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (px_tls_init(c, err, sizeof(err)) != MS_OK) {
		fprintf(stderr, "%s\n", err);
		conf_free(c);
		return 1;
	}
	if (check) {
		px_tls_shutdown();
		printf("%s: OK\n", path);
		conf_free(c);
		return 0;
	}
	ms_log_set_level(c->log_level);
	signal(SIGPIPE, SIG_IGN);
	if (px_tls_rsa_init(err, sizeof(err)) != MS_OK) { /* not needed by --check-config */
		fprintf(stderr, "%s\n", err);
		px_tls_shutdown();
		conf_free(c);
		return 1;
	}
	rc = px_main_run(c, reset);
	px_tls_shutdown();
	conf_free(c);
	return rc;
}
