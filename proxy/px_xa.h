/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_xa.h - what two-phase commits leave behind, and their recovery.
 *
 * A commit over several shards prepares XA branches on all but the first shard, then commits
 * the first shard's plain transaction together with a row in PX_XA_TABLE naming the global
 * transaction id (decision 'C'). That row is the durable decision: a prepared branch whose id
 * has a 'C' row must be committed, one without must be rolled back. Recovery (a thread of its
 * own with Connector/C, at startup and then periodically) runs XA RECOVER on every shard and
 * finishes myshard's branches that nobody is finishing: before rolling one back it inserts an
 * 'A' (abort) row for its id, so a slow commit racing with recovery fails on the duplicate key
 * instead of committing half a transaction.
 *
 * The same thread looks for deadlocks that span shards, which no server can see: the lock waits
 * of every shard, joined through myshard's transactions into one graph. A cycle found on two
 * checks in a row is broken by rolling one transaction back (its client gets error 1213).
 */
#ifndef MYSHARD_PROXY_PX_XA_H
#define MYSHARD_PROXY_PX_XA_H

#include "common/ms_base.h"

#include <stddef.h>
#include <stdint.h>

struct conf;
struct topo_domain;
struct px_xa;

#define PX_XA_FORMAT 1297303620u /* XA formatID of myshard's global transactions ("MSHD") */
#define PX_XA_SCHEMA "myshard"
#define PX_XA_TABLE  "myshard.xa_decisions"

/* Random per process; part of every global transaction id. */
extern uint32_t px_xa_boot;

/* Test hook: if the environment variable MYSHARD_FAULT names <point>, the process exits at once
 * (status 86), as a crash would stop it there. */
void px_xa_fault(const char *point);

/* Chooses px_xa_boot and reads MYSHARD_FAULT. Call once before the workers start. */
void px_xa_init(void);
/* Runs a first recovery pass over every shard of <d>'s snapshot (blocking; shards that are
 * down are retried later), then starts the recovery thread (a pass every <interval_ms>). A pass
 * finishes branches of earlier processes at once on the first pass, and any branch once it has
 * been in doubt for <abandon_ms>. */
enum ms_rc px_xa_start(struct topo_domain *d, unsigned int interval_ms, unsigned int abandon_ms,
		       unsigned int deadlock_ms, struct px_xa **out) MS_MUSTCHECK;
struct px_worker;
/* The workers whose transactions the deadlock checks (every <deadlock_ms>, 0 = none) map lock
 * waits to; checks start once they are set. */
void px_xa_set_workers(struct px_xa *x, struct px_worker *ws, unsigned int n);
/* Stops the thread (no more checks or passes); px_xa_abandon() turns into a no-op. */
void px_xa_stop(struct px_xa *x);
/* Stops if needed and frees; only once no worker can call px_xa_abandon() any more. */
void px_xa_free(struct px_xa *x);

/* Backend connection <b> (worker thread) is being closed while
 * a statement may still run on it (its client left mid-statement): the recovery thread kills it
 * on the server, which would otherwise let it wait for locks, holding its own, for up to
 * innodb_lock_wait_timeout. Any thread; a no-op before px_xa_start(). */
struct px_backend;
void px_xa_abandon(const struct px_backend *b);
/* The statement running on backend connection <b> is to be interrupted (KILL QUERY from a
 * client): the recovery thread sends KILL QUERY to its server. Worker thread. */
void px_xa_kill_query(struct px_backend *b);

/* One in-doubt branch seen by the last pass (SHOW TRANSACTIONS on the admin port). */
struct px_xa_doubt {
	char shard[65];
	char gtrid[65];
	char coordinator[65];
	char decision[16]; /* "commit", "rollback", "pending" (too young to judge), "unknown" */
	uint64_t age_ms;
};
/* Copies up to <max> rows of the last pass; returns how many. Any thread. */
size_t px_xa_doubts(struct px_xa *x, struct px_xa_doubt *out, size_t max);
/* Totals since start: branches committed and rolled back by recovery, passes, deadlocks across
 * shards broken. */
void px_xa_totals(struct px_xa *x, uint64_t *committed, uint64_t *rolled_back, uint64_t *passes,
		  uint64_t *deadlocks);

#endif /* MYSHARD_PROXY_PX_XA_H */
