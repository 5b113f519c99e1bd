/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_command.h - the command phase of a session: read one command, answer it locally or
 * get a backend, bring the backend's schema and charset in line, forward the command and stream
 * the response back. Worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_COMMAND_H
#define MYSHARD_PROXY_PX_COMMAND_H

#include "proxy/px_types.h"

/* IDLE: handles the next complete command in the client input. False when it must wait. */
bool px_cmd_step(struct px_session *s) MS_MUSTCHECK;
/* Gets a backend for the pending command (or the login schema check) and carries on. */
void px_cmd_acquire(struct px_session *s);
/* FORWARD: moves complete response packets from the backend to the client. */
void px_cmd_pump(struct px_session *s);

#endif /* MYSHARD_PROXY_PX_COMMAND_H */
