/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_stmt.h - prepared statements on sharded and global tables. The client gets a
 * statement id of myshard's own (high bit set, so it never collides with a backend's id for a
 * pass-through statement); PREPARE is answered with the metadata of a prepare on one shard
 * (closed again at once). Each EXECUTE turns its bound values into SQL literals, is planned
 * like a text statement (so it is routed by its key values and merged across shards), and its
 * text rows are re-encoded as binary-protocol rows. Worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_STMT_H
#define MYSHARD_PROXY_PX_STMT_H

#include "proxy/px_types.h"

#define PX_STMT_ID_BASE 0x80000000u

/* COM_STMT_PREPARE of <sql>: true if myshard emulates it (it then answers by itself), false
 * if it is a pass-through statement (no configured table) for the default shard. */
bool px_stmt_prepare(struct px_session *s, const char *sql, size_t len) MS_MUSTCHECK;
/* The prepare on a shard answered OK with <n_params>: the statement is registered. */
void px_stmt_prepared(struct px_session *s, uint32_t id, const char *sql, size_t len,
		      uint16_t n_params);
/* COM_STMT_EXECUTE / CLOSE / RESET / SEND_LONG_DATA / FETCH for an emulated id: handled (true)
 * or not one of ours (false). <first_len>: payload of the command's first packet. */
bool px_stmt_command(struct px_session *s, uint32_t first_len) MS_MUSTCHECK;
/*
 * Read-only cursors (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH) of an
 * emulated statement. The execution's result is collected whole (its rows count against
 * merge_max); once complete, the client gets the column definitions with CURSOR_EXISTS, and
 * each FETCH sends the next rows. px_exec calls these for an execution with a cursor.
 */
struct px_stmt;
/* A packet before the rows (column count, definitions, their EOF); false when out of memory. */
bool px_stmt_cursor_head(struct px_stmt *t, const uint8_t *pl, size_t len) MS_MUSTCHECK;
/* One binary row; false past <cap> bytes of rows or out of memory (the cursor is dropped). */
bool px_stmt_cursor_row(struct px_stmt *t, const uint8_t *pl, size_t len, size_t cap) MS_MUSTCHECK;
/* The result is complete (final EOF status <status>): sends the head from sequence *<seq>. */
void px_stmt_cursor_open(struct px_session *s, struct px_stmt *t, uint8_t *seq, uint16_t status);
/* The execution failed: what was collected goes. */
void px_stmt_cursor_drop(struct px_stmt *t);
/*
 * Direct executions: an EXECUTE that runs on one shard, unchanged, goes to that shard as a
 * COM_STMT_EXECUTE of a statement prepared on the backend connection itself (prepared there
 * on first use, kept per connection, at most PX_BSTMT_MAX, the least used closed first), and
 * its binary result streams back as it is: no text round trip, no re-encoding.
 * px_stmt_direct_id(): the statement's id on <b> (0: not prepared there; *<stale> is set to
 * an id to close first when a slot must be freed). px_stmt_direct_prepare() queues (CLOSE of
 * the stale one and) the PREPARE on <b>; px_stmt_direct_prepared() records the server's answer
 * (id 0: it failed). px_stmt_direct_write() moves the client's EXECUTE to <b> rewritten for
 * id <id> (types always sent).
 */
uint32_t px_stmt_direct_id(struct px_backend *b, const struct px_stmt *t) MS_MUSTCHECK;
void px_stmt_direct_prepare(struct px_session *s, struct px_backend *b);
void px_stmt_direct_prepared(struct px_session *s, struct px_backend *b, uint32_t id);
void px_stmt_direct_write(struct px_session *s, struct px_backend *b);
/* True if <sql> names a table of <m> (sharded or global), as a word or `quoted`. */
struct topo_map;
bool px_stmt_names_table(const struct topo_map *m, const char *sql, size_t len) MS_MUSTCHECK;
/* Forgets every emulated statement (COM_RESET_CONNECTION, session end). */
void px_stmt_free_all(struct px_session *s);

/*
 * Re-encodes text row <row>/<len> as a binary-protocol row into <out> (cap <cap>), using the
 * <ncols> column types <types> and flags <flags>. Returns the length, or 0 if it does not fit
 * or a value cannot be converted.
 */
size_t px_stmt_binary_row(const uint8_t *row, size_t len, unsigned int ncols, const uint8_t *types,
			  const uint16_t *flags, uint8_t *out, size_t cap) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_STMT_H */
