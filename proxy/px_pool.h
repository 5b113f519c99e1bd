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
 * Operators' shard states, in one process-wide table (writers serialize on a mutex, workers
 * read without locks):
 * - PAUSE SHARD, and endpoints.state 'paused': the shard's pools hand out no connection
 *   (sessions queue as waiters, bounded by pool.wait_timeout_ms) and start no new one;
 *   statements that already hold one finish;
 * - endpoints.state 'draining': statements that need a new connection are refused at once;
 *   sessions that hold one (a transaction, a pin) go on; idle connections are closed;
 * - endpoints.state 'down': the same, and a session holding a transaction or a pin there is
 *   closed at its next statement (px_command, px_tx).
 * A state set in the topology wins over PAUSE SHARD. 256 names fit (ever, since startup).
 */
/* PAUSE SHARD / RESUME SHARD; false if there is no room for another name. */
bool px_pause_set(const char *name, bool paused) MS_MUSTCHECK;
/* True if PAUSE SHARD holds <name> (whatever its topology state). */
bool px_pause_cmd_is(const char *name) MS_MUSTCHECK;
/* The state in effect for shard <name>: enum topo_ep_state. */
unsigned int px_shard_state(const char *name) MS_MUSTCHECK;
/* "up", "paused", "draining" or "down" for a px_shard_state() value. */
const char *px_shard_state_name(unsigned int state) MS_MUSTCHECK;
/* px_shard_state(name) == TOPO_EP_PAUSED. */
bool px_pause_is(const char *name) MS_MUSTCHECK;
/* What paused <name>, for messages: "PAUSE SHARD" or "endpoints.state 'paused'". */
const char *px_pause_why(const char *name) MS_MUSTCHECK;
/* True if the states of <snap>'s shards fit in the table (check before publishing it). */
bool px_shard_states_fit(const struct topo_snapshot *snap) MS_MUSTCHECK;
/* Takes the states of the published <snap>'s primaries (shards it lacks go back to up); calls
 * <changed> for every shard whose state changed. False if one did not fit (it stays up). With
 * <restrict_only>, only the states other than up (before <snap> is published, so that no
 * worker uses a shard set down, paused or draining in it meanwhile). */
bool px_shard_states_set(const struct topo_snapshot *snap, bool restrict_only,
			 void (*changed)(const char *, void *), void *arg) MS_MUSTCHECK;
/* After RESUME SHARD or a change of state: serves <p>'s waiters from its idle connections and
 * new ones; if the shard is now down or draining, closes the idle ones and fails the waiters. */
void px_pool_resume(struct px_pool *p);
/* Shard name of <p> for messages. */
const char *px_pool_shard_name(const struct px_pool *p) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_POOL_H */
