/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_command.h - the command phase of a session: read one command, answer it locally or
 * get a backend, bring the backend's schema and charset in line, forward the command and stream
 * the response back. Worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_COMMAND_H
#define MYSHARD_PROXY_PX_COMMAND_H

#include "proxy/px_types.h"

struct evbuffer;

/* IDLE: handles the next complete command in the client input. False when it must wait. */
bool px_cmd_step(struct px_session *s) MS_MUSTCHECK;
/* A multi-statement query run statement by statement (px_command.c): ends it; and the
 * syntax error message of its current statement as a server would word it (0: unchanged). */
void px_cmd_script_end(struct px_session *s);
/* Runs the current command on <shard> of <snap> (acquire, sync, forward); false if the
 * session is closing. */
bool px_cmd_single_shard(struct px_session *s, size_t shard, const struct topo_snapshot *snap);
size_t px_cmd_script_syntax(const struct px_session *s, const char *msg, size_t len, char *out,
			    size_t cap);
/* Gets a backend for the pending command (or the login schema check) and carries on. */
void px_cmd_acquire(struct px_session *s);
/* FORWARD: moves complete response packets from the backend to the client. */
void px_cmd_pump(struct px_session *s);

/* ---- shared with px_exec.c (command-phase internals) ---- */

/* Pool variant the session's capabilities call for (PX_VAR_* bits). */
unsigned int px_cmd_variant(const struct px_session *s) MS_MUSTCHECK;
/* The command is over: keep the backend only if the session's state lives on it. */
void px_cmd_finish(struct px_session *s);
struct rt_plan;
/* A routed statement (plan <p>) starts: what SHOW QUERY DIGESTS will count for it. */
void px_cmd_digest_begin(struct px_session *s, const struct rt_plan *p);
/* Counts the routed statement that just ended (if any) in the worker's digest table. */
void px_cmd_digest_end(struct px_session *s);
/*
 * A read that one of <shard>'s read replicas may answer: a SELECT (text, or an execution of a
 * prepared one) outside any transaction, in a session that holds no connection and keeps no
 * state, and did not write within replica_reads.after_write_ms (hints may say otherwise).
 * Returns the endpoint index in <snap> of a replica whose health check passed, that runs
 * read_only and whose lag is within replica_reads.max_lag_s (round robin), else <shard>.
 */
size_t px_cmd_read_endpoint(struct px_session *s, const struct topo_snapshot *snap, size_t shard,
			    const char *sql, size_t len) MS_MUSTCHECK;
/* Adds one statement of <us> microseconds (an error if <err>) to histogram <l>. */
void px_cmd_lat_add(struct px_lat *l, uint64_t us, bool err);
/* Drops the current command from the client input; its pins (pend_sticky) stay pending. */
void px_cmd_drain_keep_pins(struct px_session *s);
/* Applies the pending pins of the command that just ran to the backend the session holds. */
void px_cmd_apply_pins(struct px_session *s);
/* Points the session's next single-shard acquire at the default shard. */
void px_cmd_use_default_shard(struct px_session *s);
/* True while the session's state lives on its backend (it cannot move to another shard). */
bool px_cmd_pinned(const struct px_session *s) MS_MUSTCHECK;
/* A worker's answer to this session's KILL number <req> (0 no such session there, 1 killed,
 * 2 not ours). Outermost frame for <s>. */
void px_cmd_kill_answer(struct px_session *s, uint32_t req, uint8_t result);
/* Reads one complete packet of at most <max> payload bytes from <in>: a view of its payload
 * (header in *<hdr>; the caller drains MP_HDR_LEN + hdr->len), or NULL while incomplete or
 * when it is bigger (*<too_big>). */
const uint8_t *px_cmd_packet(struct evbuffer *in, struct mp_hdr *hdr, uint32_t max,
			     bool *too_big) MS_MUSTCHECK;
/* Pool wait timer callback (libevent). */
void px_cmd_wait_cb(evutil_socket_t fd, short what, void *arg);

/* A session that kept state on shard <shard> (<tx>: its transaction had work there) which moved
 * to another server (<moved>) or was set down by an operator: ERR 1105 (its command already
 * drained from the input), then the session closes. */
void px_cmd_shard_gone(struct px_session *s, const char *shard, bool moved, bool tx);

#endif /* MYSHARD_PROXY_PX_COMMAND_H */
