/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_backend.h - one backend connection: connected by Connector/C's non-blocking API
 * driven by libevent (so every auth plugin and option works), then used as a plain socket with
 * a px_conn socket for the query phase. Worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_BACKEND_H
#define MYSHARD_PROXY_PX_BACKEND_H

#include "proxy/px_types.h"

struct topo_snapshot;

/*
 * Starts connecting a new backend of <pool> to shard <shard_idx> of <snap> (pinned until the
 * connect ends). Returns NULL if it could not even start: *<err> then says why. Completion,
 * success or failure, is always reported later from the event loop with px_pool_connected().
 */
struct px_backend *px_backend_start(struct px_pool *pool, const struct topo_snapshot *snap,
				    size_t shard_idx, const char **err) MS_MUSTCHECK;
/* Closes and frees <b>. <clean>: the connection is between commands, so say goodbye politely. */
void px_backend_free(struct px_backend *b, bool clean);

#endif /* MYSHARD_PROXY_PX_BACKEND_H */
