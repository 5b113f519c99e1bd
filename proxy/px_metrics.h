/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_metrics.h - the Prometheus endpoint: GET /metrics over libevent's HTTP server on the
 * main thread, off unless the config has a metrics: section. Counters and gauges are the
 * workers' own figures, read without locks (a report, not a snapshot).
 */
#ifndef MYSHARD_PROXY_PX_METRICS_H
#define MYSHARD_PROXY_PX_METRICS_H

#include "common/ms_base.h"

struct event_base;
struct px_worker;
struct px_xa;
struct topo_domain;
struct px_metrics;

/* Listens on <addr>:<port> (with SO_REUSEPORT when <reuse_port>: listen.reuse_port); NULL
 * (logged) if it cannot. */
struct px_metrics *px_metrics_new(struct event_base *base, const char *addr, uint16_t port,
				  bool reuse_port, struct px_worker *ws, unsigned int n,
				  struct px_xa *xa, struct topo_domain *topo) MS_MUSTCHECK;
void px_metrics_free(struct px_metrics *m);

#endif /* MYSHARD_PROXY_PX_METRICS_H */
