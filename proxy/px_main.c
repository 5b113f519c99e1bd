/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_main.c - the myshard process: command line, configuration, topology, workers, the
 * client listener on the main thread, and signal-driven shutdown.
 */
#include "common/ms_log.h"
#include "conf/conf.h"
#include "proxy/px_listener.h"
#include "proxy/px_worker.h"
#include "topology/topo.h"

#include <event2/event.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MYSHARD_VERSION "0.1.0"

static void
usage(FILE *f)
{
	fprintf(f, "usage: myshard --config FILE       run the proxy\n"
		   "       myshard --check-config FILE validate FILE and exit (0 valid, 1 invalid)\n"
		   "       myshard --version\n");
}

static void
px_main_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	ms_log_info("signal %d: shutting down", (int)sig);
	event_base_loopexit(arg, NULL);
}

/* Resolves <t>'s host once, at startup, so no worker ever blocks on DNS. */
static bool
px_main_resolve(struct topo_shard *t)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", t->port);
	rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		ms_log_error("shard %s: cannot resolve host '%s': %s", t->name, t->host, gai_strerror(rc));
		return false;
	}
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/* Builds the topology snapshot (shards, their primary endpoint, the sharding map) from <c>. */
static enum ms_rc
px_main_topology(const struct conf *c, struct topo_domain **out)
{
	struct topo_snapshot *snap;
	struct topo_domain *d;

	if (topo_snapshot_new(c->n_shards, &snap) != MS_OK) {
		return MS_ENOMEM;
	}
	for (size_t i = 0; i < c->n_shards; i++) {
		struct topo_shard *t = &snap->shards[i];

		t->name = strdup(c->shards[i].name);
		t->host = strdup(c->shards[i].host);
		t->user = strdup(c->shards[i].user);
		t->password = strdup(c->shards[i].password);
		t->port = c->shards[i].port;
		if (t->name == NULL || t->host == NULL || t->user == NULL || t->password == NULL) {
			topo_snapshot_free(snap);
			return MS_ENOMEM;
		}
		if (!px_main_resolve(t)) {
			topo_snapshot_free(snap);
			return MS_EINVAL;
		}
	}
	if (topo_map_clone(&c->map, &snap->map) != MS_OK) {
		topo_snapshot_free(snap);
		return MS_ENOMEM;
	}
	if (topo_domain_new(&d) != MS_OK) {
		topo_snapshot_free(snap);
		return MS_ENOMEM;
	}
	topo_publish(d, snap);
	*out = d;
	return MS_OK;
}

static int
px_main_run(const struct conf *c)
{
	struct topo_domain *topo = NULL;
	struct px_worker *ws = NULL;
	struct px_listener *l = NULL;
	struct event_base *base = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	int rc = 1;

	if (px_main_topology(c, &topo) != MS_OK) {
		ms_log_error("cannot build the topology");
		return 1;
	}
	base = event_base_new();
	if (base == NULL || px_workers_start(c, topo, c->workers, &ws) != MS_OK) {
		ms_log_error("cannot start the workers");
		goto out;
	}
	l = px_listener_new(base, c->listen_addr, c->listen_port, ws, c->workers);
	if (l == NULL) {
		goto out_workers;
	}
	sigint = evsignal_new(base, SIGINT, px_main_signal, base);
	sigterm = evsignal_new(base, SIGTERM, px_main_signal, base);
	if (sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
	    event_add(sigterm, NULL) != 0) {
		ms_log_error("cannot install signal handlers");
		goto out_workers;
	}
	ms_log_info("myshard %s ready: %zu shard(s), first shard %s at %s:%u", MYSHARD_VERSION,
		    c->n_shards, c->shards[0].name, c->shards[0].host, c->shards[0].port);
	event_base_dispatch(base);
	rc = 0;
out_workers:
	px_listener_free(l);
	px_workers_stop(ws, c->workers);
out:
	if (sigint != NULL) {
		event_free(sigint);
	}
	if (sigterm != NULL) {
		event_free(sigterm);
	}
	if (base != NULL) {
		event_base_free(base);
	}
	topo_domain_free(topo);
	ms_log_info("myshard stopped");
	return rc;
}

int
main(int argc, char **argv)
{
	char err[CONF_ERR_LEN];
	struct conf *c = NULL;
	bool check = false;
	const char *path = NULL;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("myshard %s\n", MYSHARD_VERSION);
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "--config") != 0 && strcmp(argv[1], "--check-config") != 0)) {
		usage(stderr);
		return 2;
	}
	check = strcmp(argv[1], "--check-config") == 0;
	path = argv[2];
	if (conf_load_file(path, &c, err, sizeof(err)) != MS_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: OK\n", path);
		conf_free(c);
		return 0;
	}
	ms_log_set_level(c->log_level);
	signal(SIGPIPE, SIG_IGN);
	rc = px_main_run(c);
	conf_free(c);
	return rc;
}
