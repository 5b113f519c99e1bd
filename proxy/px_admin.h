/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_admin.h - the admin SQL port (issue #4): a MySQL-protocol listener on the main
 * thread for the admin users of the config's admin: section (application users cannot log in
 * there). Operators read and edit the staged config tables (conf/conf_store) with plain SQL and
 * run APPLY [DRY RUN], ROLLBACK TOPOLOGY TO n, SAVE, RELOAD and SHOW commands. APPLY validates
 * the staged tables, builds a topology snapshot and publishes it (topo_publish): workers pick
 * it up for their next statement; statements in flight finish on the snapshot they started with.
 */
#ifndef MYSHARD_PROXY_PX_ADMIN_H
#define MYSHARD_PROXY_PX_ADMIN_H

#include "common/ms_base.h"
#include "conf/conf.h"
#include "topology/topo.h"

struct event_base;
struct px_admin;
struct conf_store;

/* Builds the snapshot for <c> (shards with resolved addresses, users, sharding map); <err> says
 * why not. Blocks on DNS for host names that are not numeric. */
enum ms_rc px_topo_build(const struct conf *c, struct topo_snapshot **out, char *err,
			 size_t errlen) MS_MUSTCHECK;

/*
 * Starts the admin port of <c> on <base> (without c->admin: no port, only RELOAD by SIGHUP). <store> holds the staged and
 * applied config (owned by the caller, outlives the admin); <topo> is where APPLY publishes.
 * <path> is the config file RELOAD re-reads. NULL on failure (logged).
 */
struct px_worker;
/* <ws>: the <n_workers> workers, read (without locks, approximately) by SHOW STATS / POOLS. */
struct px_admin *px_admin_new(struct event_base *base, const struct conf *c, const char *path,
			      struct conf_store *store, struct topo_domain *topo,
			      struct px_worker *ws, unsigned int n_workers);
/* RELOAD on behalf of <who> (SIGHUP): re-reads the file, imports and applies it; logs. */
void px_admin_reload(struct px_admin *a, const char *who);
void px_admin_free(struct px_admin *a);
struct px_xa;
/* Where SHOW TRANSACTIONS IN DOUBT and SHOW STATS read two-phase commit recovery (may be NULL). */
void px_admin_set_xa(struct px_admin *a, struct px_xa *xa);

#endif /* MYSHARD_PROXY_PX_ADMIN_H */
