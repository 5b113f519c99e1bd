/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_merge.h - turns the responses of several shards to one statement into the single
 * response a lone server would have sent, following a plan's rt_merge: concatenation (streamed),
 * k-way ORDER BY merge, GROUP BY with aggregates and HAVING, DISTINCT, offset/limit, summed OK
 * packets. Values are compared by column type and collation; sums are exact decimals. Pure
 * code over packet payloads (no sockets, no libevent): the caller feeds packets and frames what
 * comes out. Text protocol, legacy EOF packets (no CLIENT_DEPRECATE_EOF) on both sides.
 */
#ifndef MYSHARD_PROXY_PX_MERGE_H
#define MYSHARD_PROXY_PX_MERGE_H

#include "common/ms_base.h"
#include "protocol/mp_resp.h"

struct rt_merge;
struct px_merge;

/* Receives one response packet payload for the client, in order (the caller adds headers and
 * sequence ids). The bytes are only valid during the call. */
typedef void (*px_merge_emit_fn)(void *arg, const uint8_t *payload, size_t len);

enum px_merge_rc {
	PX_MERGE_OK = 0,
	PX_MERGE_ENOMEM,   /* allocation failed: the caller closes the session */
	PX_MERGE_BAD,      /* a shard sent something that cannot be merged (logged by caller) */
};

/*
 * Creates a merge of <n_legs> responses per <spec> (borrowed; must outlive the merge).
 * <leg_names> (borrowed) name each leg's shard for error messages. <mem_cap>: bytes of rows the
 * merge may hold; past it the client gets ERR 1038 (HY001) "myshard: merge memory limit ...".
 * <emit>/<arg>: where client packets go.
 */
enum ms_rc px_merge_new(const struct rt_merge *spec, size_t n_legs, const char *const *leg_names,
			size_t mem_cap, px_merge_emit_fn emit, void *arg,
			struct px_merge **out) MS_MUSTCHECK;
/*
 * Feeds one complete packet (payload <pl>/<len>, ev = what mp_resp_feed said about it) of leg
 * <leg>'s response. Packets of one leg arrive in order; legs may interleave. May emit
 * (concatenation streams rows as they come once the first leg's column definitions are out).
 */
enum px_merge_rc px_merge_feed(struct px_merge *m, size_t leg, const struct mp_resp_event *ev,
			       const uint8_t *pl, size_t len) MS_MUSTCHECK;
/* Every leg's response is complete: emits everything still owed, ending with EOF, OK or ERR.
 * <insert_id>: if non-zero, the last_insert_id reported in a merged OK. */
enum px_merge_rc px_merge_finish(struct px_merge *m, uint64_t insert_id) MS_MUSTCHECK;
/* Final server status to report (from the legs' terminators). MORE_RESULTS cleared; 0 when no
 * leg ended with an OK or EOF (every leg answered ERR): see px_merge_status_seen(). */
uint16_t px_merge_status(const struct px_merge *m) MS_MUSTCHECK;
/* True once some leg ended with an OK or EOF, i.e. px_merge_status() is a real status; when
 * false the session should keep the status it had. */
bool px_merge_status_seen(const struct px_merge *m) MS_MUSTCHECK;
/* Rows sent to the client so far. */
uint64_t px_merge_rows(const struct px_merge *m) MS_MUSTCHECK;
/* Why the last call returned PX_MERGE_BAD (static text, for the caller's log); NULL if none. */
const char *px_merge_why(const struct px_merge *m) MS_MUSTCHECK;
void px_merge_free(struct px_merge *m);

/* Status flags of the merged answer's EOF/OK packets: (leg status & <keep>) | <set>
 * (the proxy's own transaction and autocommit state replace the shards'). Default: as is. */
void px_merge_fix_status(struct px_merge *m, uint16_t keep, uint16_t set);

#endif /* MYSHARD_PROXY_PX_MERGE_H */
