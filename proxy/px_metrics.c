/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_metrics.c - GET /metrics in the Prometheus text format (version 0.0.4).
 */
#include "proxy/px_metrics.h"

#include "common/ms_log.h"
#include "proxy/px_health.h"
#include "proxy/px_listener.h"
#include "proxy/px_session.h"
#include "proxy/px_types.h"
#include "proxy/px_xa.h"
#include "topology/topo.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct px_metrics {
	struct evhttp *http; /* owned */
	struct px_worker *ws;
	unsigned int n;
	struct px_xa *xa;
	struct topo_domain *topo;
	struct topo_reader *r; /* owned; main thread */
};

static uint64_t
px_mx_peek(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static unsigned int
px_mx_peek_u(const unsigned int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
px_mx_counters(struct px_metrics *m, struct evbuffer *b)
{
#define PX_MX_COUNTER(field)                                                                       \
	do {                                                                                       \
		uint64_t sum = 0;                                                                  \
		for (unsigned int i = 0; i < m->n; i++) {                                          \
			sum += px_mx_peek(&m->ws[i].stats.field);                                  \
		}                                                                                  \
		evbuffer_add_printf(b, "# TYPE myshard_" #field "_total counter\n"                \
				       "myshard_" #field "_total %llu\n",                         \
				    (unsigned long long)sum);                                      \
	} while (0);
	PX_STATS_FIELDS(PX_MX_COUNTER)
#undef PX_MX_COUNTER
}

/* One histogram per label value of <lat> (offset of a px_lat array in struct px_stats). */
static void
px_mx_hist(struct px_metrics *m, struct evbuffer *b, const char *metric, const char *label,
	   const char *const *values, int nvalues, size_t lat)
{
	static const uint64_t le[PX_LAT_BUCKETS - 1] = PX_LAT_LE;

	for (int k = 0; k < nvalues; k++) {
		uint64_t cum = 0, sum = 0, count = 0;

		for (unsigned int i = 0; i < m->n; i++) {
			const struct px_lat *l = (const struct px_lat *)((const char *)&m->ws[i].stats + lat) + k;

			sum += px_mx_peek(&l->sum_us);
			count += px_mx_peek(&l->count);
		}
		for (int j = 0; j < PX_LAT_BUCKETS - 1; j++) {
			for (unsigned int i = 0; i < m->n; i++) {
				const struct px_lat *l =
					(const struct px_lat *)((const char *)&m->ws[i].stats + lat) + k;

				cum += px_mx_peek(&l->bucket[j]);
			}
			evbuffer_add_printf(b, "%s_bucket{%s=\"%s\",le=\"%.6f\"} %llu\n", metric, label,
					    values[k], (double)le[j] / 1e6, (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", metric, label,
				    values[k], (unsigned long long)count);
		evbuffer_add_printf(b, "%s_sum{%s=\"%s\"} %.6f\n%s_count{%s=\"%s\"} %llu\n", metric,
				    label, values[k], (double)sum / 1e6, metric, label, values[k],
				    (unsigned long long)count);
	}
}

static void
px_mx_latency(struct px_metrics *m, struct evbuffer *b)
{
	static const char *const kinds[PX_LAT_KINDS] = { "single", "multi", "scatter" };
	static const char *const classes[PX_CLASSES] = PX_CLASS_NAMES;

	evbuffer_add_printf(b, "# HELP myshard_statement_duration_seconds Statements by plan kind "
			       "(one shard, several, every shard), from command to last byte.\n"
			       "# TYPE myshard_statement_duration_seconds histogram\n");
	px_mx_hist(m, b, "myshard_statement_duration_seconds", "plan", kinds, PX_LAT_KINDS,
		   offsetof(struct px_stats, lat));
	evbuffer_add_printf(b, "# HELP myshard_statement_class_duration_seconds Statements by class "
			       "(their first word), from command to last byte.\n"
			       "# TYPE myshard_statement_class_duration_seconds histogram\n");
	px_mx_hist(m, b, "myshard_statement_class_duration_seconds", "class", classes, PX_CLASSES,
		   offsetof(struct px_stats, cls));
	evbuffer_add_printf(b, "# TYPE myshard_statement_errors_total counter\n");
	for (int k = 0; k < PX_LAT_KINDS; k++) {
		uint64_t errs = 0;

		for (unsigned int i = 0; i < m->n; i++) {
			errs += px_mx_peek(&m->ws[i].stats.lat[k].errors);
		}
		evbuffer_add_printf(b, "myshard_statement_errors_total{plan=\"%s\"} %llu\n", kinds[k],
				    (unsigned long long)errs);
	}
}

/*
 * One-shard statements per endpoint (shard or read replica), by the name of the pool slot
 * that ran them, summed over the workers: a histogram each. A slot keeps its name while
 * myshard runs unless its shard leaves the topology (then its figures go with it).
 */
static void
px_mx_endpoints(struct px_metrics *m, struct evbuffer *b)
{
	static const uint64_t le[PX_LAT_BUCKETS - 1] = PX_LAT_LE;
	const char *names[PX_SLOTS];
	struct px_lat sum[PX_SLOTS];
	size_t n = 0;

	memset(sum, 0, sizeof(sum));
	for (unsigned int i = 0; i < m->n; i++) {
		for (size_t k = 0; k < PX_SLOTS; k++) {
			const struct px_pool *p = &m->ws[i].pools[k * PX_VARIANTS];
			const struct px_lat *l = &m->ws[i].slot_lat[k];
			size_t j = 0;

			if (__atomic_load_n(&p->ep_snap, __ATOMIC_ACQUIRE) == NULL ||
			    px_mx_peek(&l->count) == 0) {
				continue;
			}
			while (j < n && strcmp(names[j], p->shard_name) != 0) {
				j++;
			}
			if (j == n) {
				names[n++] = p->shard_name;
			}
			for (int q = 0; q < PX_LAT_BUCKETS; q++) {
				sum[j].bucket[q] += px_mx_peek(&l->bucket[q]);
			}
			sum[j].sum_us += px_mx_peek(&l->sum_us);
			sum[j].count += px_mx_peek(&l->count);
			sum[j].errors += px_mx_peek(&l->errors);
		}
	}
	evbuffer_add_printf(b, "# HELP myshard_shard_statement_duration_seconds One-shard "
			       "statements by the shard (or read replica) that ran them.\n"
			       "# TYPE myshard_shard_statement_duration_seconds histogram\n");
	for (size_t j = 0; j < n; j++) {
		uint64_t cum = 0;

		for (int q = 0; q < PX_LAT_BUCKETS - 1; q++) {
			cum += sum[j].bucket[q];
			evbuffer_add_printf(b, "myshard_shard_statement_duration_seconds_bucket{shard=\"%s\","
					       "le=\"%.6f\"} %llu\n",
					    names[j], (double)le[q] / 1e6, (unsigned long long)cum);
		}
		evbuffer_add_printf(b,
				    "myshard_shard_statement_duration_seconds_bucket{shard=\"%s\",le=\"+Inf\"} "
				    "%llu\nmyshard_shard_statement_duration_seconds_sum{shard=\"%s\"} %.6f\n"
				    "myshard_shard_statement_duration_seconds_count{shard=\"%s\"} %llu\n",
				    names[j], (unsigned long long)sum[j].count, names[j],
				    (double)sum[j].sum_us / 1e6, names[j], (unsigned long long)sum[j].count);
	}
	evbuffer_add_printf(b, "# TYPE myshard_shard_statement_errors_total counter\n");
	for (size_t j = 0; j < n; j++) {
		evbuffer_add_printf(b, "myshard_shard_statement_errors_total{shard=\"%s\"} %llu\n",
				    names[j], (unsigned long long)sum[j].errors);
	}
}

/* ERR packets sent to clients by error code, summed over the workers (sorted by code). */
static void
px_mx_errcodes(struct px_metrics *m, struct evbuffer *b)
{
	struct px_errc all[PX_ERRC_SLOTS];
	size_t n = 0;
	uint64_t other = 0;

	for (unsigned int i = 0; i < m->n; i++) {
		other += px_mx_peek(&m->ws[i].stats.errors_other_code);
		for (size_t j = 0; j < PX_ERRC_SLOTS; j++) {
			const struct px_errc *e = &m->ws[i].stats.errc[j];
			uint16_t code = __atomic_load_n(&e->code, __ATOMIC_ACQUIRE);
			size_t k = 0;

			if (code == 0) {
				continue;
			}
			while (k < n && all[k].code != code) {
				k++;
			}
			if (k == n) {
				if (n == PX_ERRC_SLOTS) {
					other += px_mx_peek(&e->n);
					continue;
				}
				all[n].code = code;
				all[n++].n = 0;
			}
			all[k].n += px_mx_peek(&e->n);
		}
	}
	for (size_t i = 1; i < n; i++) { /* insertion sort: at most 64 */
		struct px_errc t = all[i];
		size_t j = i;

		for (; j > 0 && all[j - 1].code > t.code; j--) {
			all[j] = all[j - 1];
		}
		all[j] = t;
	}
	evbuffer_add_printf(b, "# HELP myshard_client_errors_total ERR packets sent to clients, by "
			       "MySQL error code.\n# TYPE myshard_client_errors_total counter\n");
	for (size_t i = 0; i < n; i++) {
		evbuffer_add_printf(b, "myshard_client_errors_total{code=\"%u\"} %llu\n", all[i].code,
				    (unsigned long long)all[i].n);
	}
	evbuffer_add_printf(b, "myshard_client_errors_total{code=\"other\"} %llu\n",
			    (unsigned long long)other);
}

/* Per shard of the live topology: pool gauges summed over workers and variants, health. */
static void
px_mx_shards(struct px_metrics *m, struct evbuffer *b)
{
	const struct topo_snapshot *s = topo_read_begin(m->r);

	evbuffer_add_printf(b, "# TYPE myshard_pool_connections gauge\n"
			       "# TYPE myshard_pool_waiting gauge\n"
			       "# HELP myshard_shard_up 1 if the shard's health checks pass (or it was "
			       "not checked yet), 0 if it is down.\n# TYPE myshard_shard_up gauge\n"
			       "# TYPE myshard_shard_check_rtt_seconds gauge\n"
			       "# TYPE myshard_shard_failed_checks_total counter\n");
	for (size_t k = 0; k < s->n_shards; k++) {
		const char *name = s->shards[k].name;
		unsigned int idle = 0, busy = 0, connecting = 0, waiting = 0;
		struct px_health_view h;

		for (unsigned int i = 0; i < m->n; i++) {
			for (size_t p = 0; p < m->ws[i].n_pools; p++) {
				struct px_pool *pl = &m->ws[i].pools[p];

				if (strcmp(pl->shard_name, name) != 0) {
					continue;
				}
				idle += px_mx_peek_u(&pl->n_idle);
				busy += px_mx_peek_u(&pl->n_busy);
				connecting += px_mx_peek_u(&pl->n_connecting);
				waiting += px_mx_peek_u(&pl->n_waiting);
			}
		}
		px_health_view(name, &h);
		evbuffer_add_printf(b,
				    "myshard_pool_connections{shard=\"%s\",state=\"idle\"} %u\n"
				    "myshard_pool_connections{shard=\"%s\",state=\"busy\"} %u\n"
				    "myshard_pool_connections{shard=\"%s\",state=\"connecting\"} %u\n"
				    "myshard_pool_waiting{shard=\"%s\"} %u\n"
				    "myshard_shard_up{shard=\"%s\"} %d\n"
				    "myshard_shard_check_rtt_seconds{shard=\"%s\"} %.6f\n"
				    "myshard_shard_failed_checks_total{shard=\"%s\"} %llu\n",
				    name, idle, name, busy >= connecting ? busy - connecting : 0, name,
				    connecting, name, waiting, name, h.state != PX_HEALTH_DOWN, name,
				    (double)h.rtt_us / 1e6, name, (unsigned long long)h.failures);
	}
	evbuffer_add_printf(b, "# HELP myshard_replica_up 1 if the read replica's last check "
			       "passed.\n# TYPE myshard_replica_up gauge\n"
			       "# HELP myshard_replica_lag_seconds Seconds_Behind_Master of the read "
			       "replica; -1 unknown or not replicating.\n"
			       "# TYPE myshard_replica_lag_seconds gauge\n");
	for (size_t k = s->n_shards; k < s->n_endpoints; k++) {
		const struct topo_shard *t = &s->shards[k];
		struct px_health_view h;

		px_health_view(t->name, &h);
		evbuffer_add_printf(b,
				    "myshard_replica_up{shard=\"%s\",replica=\"%s\"} %d\n"
				    "myshard_replica_lag_seconds{shard=\"%s\",replica=\"%s\"} %d\n",
				    s->shards[t->replica_of].name, t->name, h.state == PX_HEALTH_UP,
				    s->shards[t->replica_of].name, t->name, h.lag_s);
	}
	topo_read_end(m->r);
}

static void
px_mx_cb(struct evhttp_request *req, void *arg)
{
	struct px_metrics *m = arg;
	struct evbuffer *b;
	uint64_t xa[4] = { 0 };

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_send_error(req, 405, "only GET");
		return;
	}
	b = evbuffer_new();
	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add_printf(b, "# TYPE myshard_info gauge\nmyshard_info{version=\"%s\"} 1\n"
			       "# TYPE myshard_clients gauge\nmyshard_clients %u\n",
			    MYSHARD_VERSION, px_session_open_count());
	px_mx_counters(m, b);
	px_mx_latency(m, b);
	px_mx_errcodes(m, b);
	px_mx_endpoints(m, b);
	px_mx_shards(m, b);
	if (m->xa != NULL) {
		px_xa_totals(m->xa, &xa[0], &xa[1], &xa[2], &xa[3]);
		evbuffer_add_printf(b, "# TYPE myshard_xa_recovered_total counter\n"
				       "myshard_xa_recovered_total{outcome=\"committed\"} %llu\n"
				       "myshard_xa_recovered_total{outcome=\"rolled_back\"} %llu\n"
				       "# TYPE myshard_xa_recovery_passes_total counter\n"
				       "myshard_xa_recovery_passes_total %llu\n",
				    (unsigned long long)xa[0], (unsigned long long)xa[1],
				    (unsigned long long)xa[2]);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
px_mx_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "see /metrics");
}

/* listen.reuse_port: the endpoint's socket with SO_REUSEPORT too, so that a new myshard can
 * start beside this one (an upgrade). */
static bool
px_mx_bind_reuse(struct px_metrics *m, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), one = 1, fd;
	char spec[128];

	snprintf(spec, sizeof(spec), strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u", addr, port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) != 0) {
		ms_log_error("metrics: cannot parse address %s", spec);
		return false;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) != 0 || listen(fd, 128) != 0) {
		ms_log_error("metrics: cannot listen on %s: %s", spec, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		return false;
	}
	px_listener_steer_newest(fd, "metrics port");
	if (evhttp_accept_socket(m->http, fd) != 0) {
		ms_log_error("metrics: cannot serve on %s", spec);
		close(fd);
		return false;
	}
	return true;
}

struct px_metrics *
px_metrics_new(struct event_base *base, const char *addr, uint16_t port, bool reuse_port,
	       struct px_worker *ws, unsigned int n, struct px_xa *xa, struct topo_domain *topo)
{
	struct px_metrics *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->http = evhttp_new(base)) == NULL ||
	    topo_reader_new(topo, &m->r) != MS_OK) {
		ms_log_error("metrics: out of memory");
		px_metrics_free(m);
		return NULL;
	}
	m->ws = ws;
	m->n = n;
	m->xa = xa;
	m->topo = topo;
	if (!reuse_port && evhttp_bind_socket(m->http, addr, port) != 0) {
		ms_log_error("metrics: cannot listen on %s:%u", addr, port);
		px_metrics_free(m);
		return NULL;
	}
	if (reuse_port && !px_mx_bind_reuse(m, addr, port)) {
		px_metrics_free(m);
		return NULL;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_cb(m->http, "/metrics", px_mx_cb, m);
	evhttp_set_gencb(m->http, px_mx_other, m);
	ms_log_info("metrics on http://%s:%u/metrics", addr, port);
	return m;
}

void
px_metrics_free(struct px_metrics *m)
{
	if (m == NULL) {
		return;
	}
	if (m->http != NULL) {
		evhttp_free(m->http);
	}
	if (m->r != NULL) {
		topo_reader_free(m->r);
	}
	free(m);
}
