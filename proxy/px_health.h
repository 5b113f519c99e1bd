/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_health.h - health checks of the shards' servers. A thread of its own (Connector/C)
 * connects to every shard of the current topology and asks it `SELECT @@read_only`, every
 * timeouts.health_ms. A shard that fails two checks in a row is down: statements for it fail
 * at once with an ERR naming it (no connect, no wait) while every other shard serves; while it
 * is down it is checked with backoff (the interval doubled per failure, at most 8 times it),
 * and the first check that passes brings it back. Workers read the state with one atomic load
 * per statement; the admin port shows it (SHOW SHARDS).
 */
#ifndef MYSHARD_PROXY_PX_HEALTH_H
#define MYSHARD_PROXY_PX_HEALTH_H

#include "common/ms_base.h"

#include <stdint.h>

struct topo_domain;

enum px_health_state {
	PX_HEALTH_UNKNOWN = 0, /* not checked yet: served as if up */
	PX_HEALTH_UP,
	PX_HEALTH_DOWN,
};

/* One shard's record; never freed or moved while myshard runs, so workers may keep pointers. */
struct px_health;

/* The record of shard <name> (made on first use); NULL only when the table is full. */
struct px_health *px_health_of(const char *name) MS_MUSTCHECK;
/* The record's shard name. */
const char *px_health_name(const struct px_health *h) MS_MUSTCHECK;
/* True if <h> is down (one atomic load: for every statement). */
bool px_health_is_down(const struct px_health *h) MS_MUSTCHECK;
/* True if <h> is down; then <why> (at least 160 bytes) says since when and why. */
bool px_health_down(const struct px_health *h, char *why, size_t len) MS_MUSTCHECK;

/* What SHOW SHARDS prints for shard <name>: "up", "down", "unknown", with the last error, the
 * last check's round trip in µs and the time since the last change in ms. */
struct px_health_view {
	enum px_health_state state;
	bool read_only;
	int lag_s; /* a read replica's lag in seconds; -1 unknown or not replicating */
	uint64_t rtt_us;
	uint64_t since_ms;
	uint64_t checks, failures;
	char err[160];
};
void px_health_view(const char *name, struct px_health_view *out);
/* True if read replica <h> may serve reads: its last check passed, it runs read_only, and it
 * replicates at most <max_lag_s> seconds behind (atomic loads: for every statement). */
bool px_health_replica_ok(const struct px_health *h, unsigned int max_lag_s) MS_MUSTCHECK;
const char *px_health_state_name(enum px_health_state s) MS_MUSTCHECK;

/* Starts the checking thread over the topology of <d>, every <interval_ms> (0: no checks,
 * every shard counts as up). */
enum ms_rc px_health_start(struct topo_domain *d, unsigned int interval_ms) MS_MUSTCHECK;
void px_health_stop(void);

#endif /* MYSHARD_PROXY_PX_HEALTH_H */
