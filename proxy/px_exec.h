/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_exec.h - runs a statement whose plan is more than "forward this packet to one shard
 * and stream the answer back": several legs (scatter, broadcast, split INSERTs), rewritten SQL,
 * sequence ids, or a merge. Legs take pooled connections in shard order (so two sessions never
 * wait on each other), each gets the session's schema and charset, runs its SQL, and every
 * response packet goes through px_merge to the client. Also the proxy's local answers (EXPLAIN
 * ROUTE, LAST_INSERT_ID() of sequence inserts). Worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_EXEC_H
#define MYSHARD_PROXY_PX_EXEC_H

#include "proxy/px_types.h"

struct rt_plan;
struct topo_snapshot;

/*
 * Starts <plan> (owned from now on) for the session's current command, whose text is
 * <sql>/<len> (borrowed; copied if the legs need it). <snap> is pinned with topo_ref() here;
 * call inside a topology read section. The command stays in the client input until the legs
 * are sent. Returns false if the session must wait (it always carries on by itself).
 * With <replicas> (a read that leaves no state), each leg may read from a healthy replica of
 * its shard, as a one-shard read would (px_cmd_read_endpoint); a leg whose replica has no
 * connection to give goes to its primary.
 */
void px_exec_start(struct px_session *s, struct rt_plan *plan, const struct topo_snapshot *snap,
		   const char *sql, size_t len, bool replicas);
/* COM_STMT_PREPARE of an emulated statement: prepares <sql> on <shard> for its metadata, answers
 * the client with statement id <id>, closes the shard's statement and registers ours. */
void px_exec_start_prepare(struct px_session *s, const struct topo_snapshot *snap, size_t shard,
			   const char *sql, size_t len, uint32_t id);
struct px_stmt;
/* As px_exec_start() for COM_STMT_EXECUTE: rows are re-encoded in the binary protocol; with
 * <cursor>, the result is kept in that statement's cursor instead of sent (px_stmt.h). */
void px_exec_start_binary(struct px_session *s, struct rt_plan *plan,
			  const struct topo_snapshot *snap, const char *sql, size_t len,
			  struct px_stmt *cursor, bool replicas);
/* A backend of a leg still running (timeouts.query_ms), or NULL. */
struct px_backend *px_exec_running_backend(struct px_session *s) MS_MUSTCHECK;
/* Pool callbacks while s->ex is set. */
void px_exec_backend_ready(struct px_session *s, struct px_backend *b);
void px_exec_backend_failed(struct px_session *s, const char *why);
/* timeouts.query_ms while a leg waits for a connection (a leg run again after its replica was
 * lost): the statement ends with 1969 (70100). False if no leg waits. */
bool px_exec_time_out_waiting(struct px_session *s, const char *why) MS_MUSTCHECK;
void px_exec_wait_timeout(struct px_session *s);
/* Some leg's backend has data, or the client's output drained below the low-water mark. */
void px_exec_pump(struct px_session *s);
/* Leg backend <b> broke. */
void px_exec_lost(struct px_session *s, struct px_backend *b, const char *why);
/* The session is closing: drops every leg backend and frees the statement. */
void px_exec_abort(struct px_session *s);
/* KILL QUERY: asks the servers of the legs still running to interrupt them. */
void px_exec_kill_query(struct px_session *s);
/* Flushes the legs' output (from px_sess_settle). */
void px_exec_flush(struct px_session *s);

/* Sends a result set of <ncols> columns named <names> and <nrows> rows (row-major <cells>,
 * NULL = SQL NULL) to the client, starting at sequence id <seq>. <types>: NULL for text
 * columns, else per column 253 (VAR_STRING) or 8 (BIGINT UNSIGNED NOT NULL). */
void px_exec_send_rows(struct px_session *s, uint8_t seq, unsigned int ncols,
		       const char *const *names, const uint8_t *types, const char *const *cells,
		       size_t nrows);

#endif /* MYSHARD_PROXY_PX_EXEC_H */
