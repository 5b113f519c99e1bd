/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_sess_io.h - session internals shared by px_session.c (connection phase) and
 * px_command.c (command phase): state changes, packets to the client, closing. Not for use
 * outside those two files. None of these frees the session; px_sess_settle() does, and only the
 * outermost frame may call it.
 */
#ifndef MYSHARD_PROXY_PX_SESS_IO_H
#define MYSHARD_PROXY_PX_SESS_IO_H

#include "proxy/px_types.h"

#define PX_HIGH_WATER (1024 * 1024) /* stop reading the backend above this much client output */
#define PX_LOW_WATER  (256 * 1024)  /* ... and resume below this */
#define PX_CMDS_PER_EVENT 64        /* commands a session may run per event (fairness) */

void px_sess_set_state(struct px_session *s, enum px_sess_state to);
/* Queues one packet (<len> <= MP_MAX_PAYLOAD) with sequence id <seq> to the client. */
void px_sess_send(struct px_session *s, uint8_t seq, const void *payload, size_t len);
void px_sess_send_err(struct px_session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		      const char *fmt, ...) MS_PRINTF(5, 6);
/* Counts an ERR payload sent to the client by its code (the metrics endpoint). */
void px_sess_count_err(struct px_session *s, const uint8_t *pl, size_t len);
/* An OK with no rows affected and the session's current status. */
void px_sess_send_ok(struct px_session *s, uint8_t seq);
/* The same with session-state entries <st> (mp_track_*_put), sent only to a client that
 * negotiated CLIENT_SESSION_TRACK. */
void px_sess_send_ok_state(struct px_session *s, uint8_t seq, const uint8_t *st, size_t len);
/* Appends to <w> the state entries a server would report for a SET NAMES of collation <id>. */
void px_sess_track_names(struct mp_writer *w, uint8_t id);
/*
 * Copies into <out> (<cap> >= <st>.len) the entries of a backend's state block <st> that the
 * client tracks. Backends track everything (px_backend.c); a client is told what a server with
 * default settings tells it: the schema and MariaDB's default list of system variables. After
 * the client set session_track_* itself (learned by px_sess_track_learn; its connection is
 * pinned), what those settings ask for.
 */
size_t px_sess_track_filter(const struct px_session *s, struct ms_slice st, uint8_t *out,
			    size_t cap) MS_MUSTCHECK;
/* The client set session_track_<name> to <value> (unquoted; DEFAULT goes back to the
 * server's default). */
void px_sess_track_learn(struct px_session *s, struct ms_slice name, struct ms_slice value);
/* Its SET's OK came: learns the assignments in s->trk_pending (rt_set_track lines). */
void px_sess_track_apply(struct px_session *s);
/* Back to the server defaults (COM_RESET_CONNECTION, COM_CHANGE_USER). */
void px_sess_track_reset(struct px_session *s);
/* The OK that ends a login (sequence <seq>); protocol compression starts right after it if the
 * client asked for it: <now>, or once the login packet being read is consumed (it may close
 * the session when out of memory). */
void px_sess_login_ok(struct px_session *s, uint8_t seq, bool now);
/* Starts closing: drops any backend, flushes queued output, then DONE. */
void px_sess_close(struct px_session *s, const char *why);
/* Takes <s> off the pool queue it waits in, if any, and stops its wait timer. */
void px_sess_stop_waiting(struct px_session *s);
/* "idle", "forward", ...: for SHOW CLIENTS. */
const char *px_sess_state_name(enum px_sess_state st) MS_MUSTCHECK;
/* Frees <s> if it is DONE. Outermost frames only. */
void px_sess_settle(struct px_session *s);
/* COM_CHANGE_USER (the current command, <first_len> payload bytes): resets the session and
 * authenticates the new user against the login's scramble (OK, ERR 1045 and close, or an
 * auth switch to mysql_native_password). */
void px_sess_change_user(struct px_session *s, uint32_t first_len);
/* KILL QUERY for <s>: the statement it runs on shards is interrupted there (each gets 1317). */
void px_sess_kill_query(struct px_session *s);
/* Handles whatever complete packets the client has sent, as far as the state allows. */
void px_sess_process_input(struct px_session *s);
/* "charset COLLATE collation" for SET NAMES, or NULL for an id myshard does not know. */
const char *px_collation_names(uint8_t id) MS_MUSTCHECK;
/* The id of character set <cs> with collation <coll> ("" for the set's default), both
 * lower-case, among those px_collation_names() knows; 0 if none. */
uint8_t px_collation_by_name(const char *cs, const char *coll) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_SESS_IO_H */
