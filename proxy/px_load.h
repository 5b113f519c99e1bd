/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_load.h - LOAD DATA LOCAL INFILE through myshard. myshard asks the client for the
 * file itself, keeps it (up to merge_max bytes), cuts it into rows (router/rt_load.h) and gives
 * every shard its rows: a sharded table's rows go by their key, a global table's to every
 * shard, another table's to the default shard. Each shard runs the same statement and asks
 * myshard for its part of the file; the answers merge into one OK (Records: ... summed). A
 * load over several shards is one transaction (two-phase commit), as any write is.
 * Worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_LOAD_H
#define MYSHARD_PROXY_PX_LOAD_H

#include "proxy/px_types.h"

struct evbuffer;

/* COM_QUERY <sql>: true if it is a LOAD DATA LOCAL INFILE, now answered or under way. */
bool px_load_start(struct px_session *s, const char *sql, size_t len) MS_MUSTCHECK;
/* State PX_SESS_LOAD: takes the file's packets; false when it must wait for more. */
bool px_load_step(struct px_session *s) MS_MUSTCHECK;
/* Drops a load in progress (session end). */
void px_load_free(struct px_session *s);
/* The part of the file for <shard> of a load under way (owned by the load; NULL: none). */
struct evbuffer *px_load_shard_data(struct px_session *s, size_t shard);

#endif /* MYSHARD_PROXY_PX_LOAD_H */
