/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_tx.h - transactions myshard runs itself. BEGIN and friends are answered by the
 * proxy; each shard a transaction touches gets one pinned connection (a branch): the first a
 * plain transaction, the others XA branches. COMMIT over one writing shard is one phase; over
 * several it is a two-phase commit whose decision is a row committed in the first branch (see
 * px_xa.h for recovery). Worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_TX_H
#define MYSHARD_PROXY_PX_TX_H

#include "proxy/px_types.h"

struct rt_tx;

/* True if myshard runs the session's transactions (not a backend's own: client XA, a
 * transaction a routine opened, a multi-statement SET autocommit). */
bool px_tx_runs(const struct px_session *s) MS_MUSTCHECK;
/* True if <b> is one of the session's transaction branches. */
bool px_tx_owns(const struct px_session *s, const struct px_backend *b) MS_MUSTCHECK;
/* The branch on pool slot <slot>, or NULL. */
struct px_branch *px_tx_branch(struct px_session *s, size_t slot) MS_MUSTCHECK;

/*
 * Handles transaction-control statement <tx> (the current COM_QUERY, or with <binary> the
 * COM_STMT_EXECUTE of a prepared one). Returns false if it is
 * not handled here (the caller routes it as any statement); otherwise the command is answered
 * or under way and *<progress> says whether the session may read the next command now.
 */
bool px_tx_control(struct px_session *s, const struct rt_tx *tx, bool binary, bool *progress);
/*
 * A routed statement (<write>: it changes data; <multi>: it runs on several shards; <implicit>:
 * it commits an open transaction first, like DDL; <tableless>: rt_tx_tableless(), it starts
 * no transaction with autocommit off) is about to run. Returns 0 to run it (inside
 * the transaction if s->tx_stmt is set), 1 if it was answered here (refused), 2 if an implicit
 * commit is under way (the statement runs afterwards by itself).
 */
int px_tx_enter(struct px_session *s, bool write, bool multi, bool implicit, bool tableless);
/* SQL that makes connection <b> join the transaction: START TRANSACTION for the first (deciding)
 * branch, XA START for the others (*<xa>). NULL if the shard name cannot be an XA qualifier. */
const char *px_tx_start_sql(struct px_session *s, const struct px_backend *b, char *buf,
			    size_t cap, bool *xa) MS_MUSTCHECK;
/* Backend <b> answered the start statement: it is a branch now. False when out of memory. */
bool px_tx_add(struct px_session *s, struct px_backend *b, bool xa) MS_MUSTCHECK;
/* The start statement failed (the connection did not join). */
void px_tx_start_failed(struct px_session *s, bool xa);
/* The statement that just ran on branch backend <b> changed data. */
void px_tx_wrote(struct px_session *s, const struct px_backend *b);
/* The command ends (from px_cmd_finish). Returns true if a commit was started in its place
 * (an autocommit write across shards): the caller must not read the next command. */
bool px_tx_command_done(struct px_session *s);
/* The statement px_tx_enter() let in was refused before it ran. */
void px_tx_cancel_stmt(struct px_session *s);
/* Keeps the answer of an autocommit write across shards until its commit is decided. */
void px_tx_hold(struct px_session *s, uint8_t seq, const uint8_t *pl, size_t len);
/* A statement's ERR <pl>/<len> (sequence <seq>) is about to go to the client: true if it must
 * not, because the transaction is a deadlock victim (chosen by px_xa.c, or a shard reported a
 * deadlock) and is rolled back whole, answered with 1213 as a server would. */
bool px_tx_swallow_err(struct px_session *s, uint8_t seq, const uint8_t *pl, size_t len) MS_MUSTCHECK;
/* Branch backend <b> is given up while a statement may run on it: killed, dropped, and the
 * transaction can only roll back. */
void px_tx_branch_broken(struct px_session *s, struct px_backend *b);
/* A statement on branch <b> ended with server status <status>: if the server says it is no
 * longer in a transaction there, the transaction can only roll back. */
void px_tx_branch_status(struct px_session *s, const struct px_backend *b, uint16_t status);
/* If a shard the transaction has work on moved to another server: answers 1105, closes the
 * session and returns true. */
bool px_tx_moved(struct px_session *s) MS_MUSTCHECK;
/* A statement turned out to run on several shards only after sequence ids were reserved:
 * inside a transaction it counts as such; in autocommit mode a write becomes all or nothing. */
void px_tx_late_multi(struct px_session *s, bool write);
/* TXEND: some branch backend has data. */
void px_tx_pump(struct px_session *s);
/* TXEND: branch backend <b> broke. Returns false if <b> is no branch or the session is not
 * ending its transaction. */
bool px_tx_lost(struct px_session *s, struct px_backend *b, const char *why);
/* Drops every branch (the session closes or resets): the servers roll back what is not
 * prepared; prepared branches are left to recovery. */
void px_tx_drop_all(struct px_session *s);
/* The status flags the client should see for server status <st>. */
uint16_t px_tx_status(const struct px_session *s, uint16_t st) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_TX_H */
