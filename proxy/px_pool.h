/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_pool.h - a worker's backend connections to one shard (one capability variant).
 * Idle connections are reused LIFO; sessions that find none wait FIFO while new ones connect,
 * up to conf.pool_max. Worker thread only; no locks.
 */
#ifndef MYSHARD_PROXY_PX_POOL_H
#define MYSHARD_PROXY_PX_POOL_H

#include "proxy/px_types.h"

void px_pool_init(struct px_pool *p, struct px_worker *w, size_t slot, unsigned int variant);
/* Points <p> at shard <idx> of <snap> (pinned here): an unused pool takes its name; a pool whose
 * endpoint or credentials differ starts a new generation (idle connections closed now, busy ones
 * when they are given back). */
void px_pool_target(struct px_pool *p, const struct topo_snapshot *snap, size_t idx);
/* Closes <p>'s idle connections (its shard left the topology). */
void px_pool_close_idle(struct px_pool *p);
/* True if <p> holds, connects or queues nothing (its slot may be reused). */
bool px_pool_empty(const struct px_pool *p) MS_MUSTCHECK;
/* Closes every connection; waiting sessions must already be gone. */
void px_pool_deinit(struct px_pool *p);
/*
 * Gives <s> a connection: returns it at once (ACTIVE, owner <s>) when one is idle; otherwise
 * queues <s>, starts a connect if the pool may grow, and returns NULL. A queued session later
 * gets px_session_backend_ready(), px_session_backend_failed() or its wait timeout.
 */
struct px_backend *px_pool_get(struct px_pool *p, struct px_session *s) MS_MUSTCHECK;
/* Takes <s> off the wait queue (it is closing). */
void px_pool_cancel(struct px_pool *p, struct px_session *s);
/* Returns clean, idle-on-the-wire <b> for reuse: handed to the next waiter or kept idle. */
void px_pool_put(struct px_backend *b);
/* Closes and frees <b> (dirty, broken or pinned state); the pool may connect a replacement. */
void px_pool_drop(struct px_backend *b);
/* Called by px_backend when the connect of <b> finished: <err> NULL on success. */
void px_pool_connected(struct px_backend *b, const char *err);
/*
 * PAUSE SHARD: while shard <name> is paused, its pools hand out no connection (sessions queue
 * as waiters, bounded by pool.wait_timeout_ms) and start no new one; statements that already
 * hold one finish. The table is process-wide: the admin thread writes, workers read without
 * locks. px_pause_set() is admin-thread only; false if 256 names were ever paused.
 */
bool px_pause_set(const char *name, bool paused) MS_MUSTCHECK;
bool px_pause_is(const char *name) MS_MUSTCHECK;
/* After RESUME SHARD: serves <p>'s waiters from its idle connections and new ones. */
void px_pool_resume(struct px_pool *p);
/* Shard name of <p> for messages. */
const char *px_pool_shard_name(const struct px_pool *p) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_POOL_H */
