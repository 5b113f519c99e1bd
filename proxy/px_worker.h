/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_worker.h - worker threads. Each owns an event base (no locks inside), its client
 * sessions and its backend pools; a client lives on one worker for life. Other threads reach a
 * worker only through its mailbox: an MPSC ck_ring of messages plus an eventfd doorbell.
 */
#ifndef MYSHARD_PROXY_PX_WORKER_H
#define MYSHARD_PROXY_PX_WORKER_H

#include "proxy/px_types.h"

struct topo_domain;

/*
 * Creates and starts <n> workers sharing <conf> (borrowed; must outlive them) and reading
 * topology from <topo>. On success *<out> is an array of <n> running workers.
 */
enum ms_rc px_workers_start(const struct conf *conf, struct topo_domain *topo, unsigned int n,
			    struct px_worker **out) MS_MUSTCHECK;
/* Stops (closing every session and backend), joins and frees the <n> workers of <ws>. */
void px_workers_stop(struct px_worker *ws, unsigned int n);
/* SIGTERM: every worker closes its idle sessions at once and every other one as soon as its
 * statement (or its transaction's commit) ends; new connections handed over are closed. */
void px_workers_drain(struct px_worker *ws, unsigned int n);
/*
 * Hands accepted socket <fd> (peer text <peer>) to <w>; any thread. Returns false if the mailbox
 * is full or memory ran out: the caller still owns <fd>.
 */
bool px_worker_send_fd(struct px_worker *w, int fd, const char *peer) MS_MUSTCHECK;
/*
 * The worker's pool slot for shard <idx> of <snap> (a snapshot the caller has pinned or holds in a
 * read section). Slots follow shard names, so they survive topology changes that add, remove or
 * reorder shards. A snapshot newer than any seen before re-targets the pools of shards whose
 * endpoint or credentials changed. Worker thread only.
 */
size_t px_worker_slot(struct px_worker *w, const struct topo_snapshot *snap, size_t idx) MS_MUSTCHECK;
/* One client session, as SHOW CLIENTS shows it. */
struct px_client_row {
	uint64_t id;
	unsigned int worker;
	char user[PX_USER_MAX + 1];
	char peer[64];
	char schema[PX_NAME_MAX + 1];
	const char *state;            /* static text */
	char shard[PX_NAME_MAX + 1];  /* the shard of the backend connection held, "" if none */
	bool pinned;                  /* held for the session's life (sticky state) */
	bool in_trans;
};

/*
 * A question the admin thread puts to every worker and waits for: the list of clients, or
 * (kill_id != 0) closing session <kill_id>. Reference-counted: a worker that answers after
 * the asker stopped waiting does no harm.
 */
struct px_ask;
/* Asks the <n> workers of <ws>; waits up to <timeout_ms>. Returns the rows (malloc'd, free())
 * and their count, or for a kill the number of sessions closed in *<n_rows>. False if not
 * every worker answered in time (the rows received so far are still returned). */
bool px_workers_ask(struct px_worker *ws, unsigned int n, uint64_t kill_id,
		    unsigned int timeout_ms, struct px_client_row **rows, size_t *n_rows) MS_MUSTCHECK;
/* SHOW QUERY DIGESTS: every worker's digest entries (the same digest may come from several
 * workers; the caller sums them). *<out> is malloc'd (free()). */
bool px_workers_digests(struct px_worker *ws, unsigned int n, unsigned int timeout_ms,
			struct px_digest **out, size_t *n_out) MS_MUSTCHECK;
/* A backend connection holding part of a client's open transaction (deadlock detection). */
struct px_branch_row {
	uint64_t session;
	uint32_t server_id;            /* the connection's id on its server */
	char shard[PX_NAME_MAX + 1];
};
/* Every open transaction's backend connections on every worker. *<out> is malloc'd (free()). */
bool px_workers_branches(struct px_worker *ws, unsigned int n, unsigned int timeout_ms,
			 struct px_branch_row **out, size_t *n_out) MS_MUSTCHECK;
/* Marks the open transaction of session <id> a deadlock victim (px_tx.h). True if found. */
bool px_workers_victim(struct px_worker *ws, unsigned int n, uint64_t id,
		       unsigned int timeout_ms) MS_MUSTCHECK;
/* A client's KILL [QUERY] <id>, number <req> of session <from_session> of <w>: asks every
 * worker (worker thread); each answers with px_cmd_kill_answer() on the asker. Returns how
 * many were asked (a full mailbox is skipped). */
unsigned int px_worker_send_kill(struct px_worker *w, uint64_t from_session, uint32_t req,
				 uint64_t id, bool query, const char *user) MS_MUSTCHECK;
/* Tells <w> that shard <shard> was resumed (RESUME SHARD); any thread. False if the mailbox is
 * full or memory ran out. */
bool px_worker_send_resume(struct px_worker *w, const char *shard) MS_MUSTCHECK;
/* Catches the pools up with the current snapshot (endpoint moves bump pool generations). */
void px_worker_sync(struct px_worker *w);
/* The pool of <w> for pool slot <slot> and capability <variant>; worker thread only. */
struct px_pool *px_worker_pool(struct px_worker *w, size_t slot, unsigned int variant) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_WORKER_H */
