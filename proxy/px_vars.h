/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_vars.h - session variables myshard replays instead of pinning. A session's list
 * ("name=value\n" lines, in the order first set, from rt_set_vars()) is what its client set with
 * plain `SET var = literal`; a backend connection's list is what was set on it. Before a
 * statement runs on a connection whose list differs, one SET brings it in line (names the
 * session does not have go back to DEFAULT). Pure string work; worker thread only.
 */
#ifndef MYSHARD_PROXY_PX_VARS_H
#define MYSHARD_PROXY_PX_VARS_H

#include "common/ms_base.h"

/* True if the two lists (NULL = empty) are the same. */
bool px_vars_same(const char *a, const char *b) MS_MUSTCHECK;
/* True if <list> (NULL = empty) sets the variable that line <line> ("name=...") sets. */
bool px_vars_has(const char *list, const char *line) MS_MUSTCHECK;
/* *<list> with the assignments of <set> applied (a name already there takes the new value);
 * false when out of memory (*<list> unchanged). */
bool px_vars_merge(char **list, const char *set) MS_MUSTCHECK;
/* The SET statement that turns a connection at <have> into <want>, malloc'd; NULL when out of
 * memory. Call only when !px_vars_same(have, want). */
char *px_vars_sync_sql(const char *have, const char *want) MS_MUSTCHECK;
/* True if line <line> sets one of the four variables SET NAMES sets (character_set_client,
 * _connection, _results, collation_connection). */
bool px_vars_is_names(const char *line) MS_MUSTCHECK;
/* True if going from <have> to <want> puts one of those four back to DEFAULT (the server's
 * global value, not the session's SET NAMES: the connection then needs SET NAMES again). */
bool px_vars_resets_names(const char *have, const char *want) MS_MUSTCHECK;
/* Forgets, in *<list>, the four variables SET NAMES sets (it replaced them on the server). */
void px_vars_drop_charset(char **list);

#endif /* MYSHARD_PROXY_PX_VARS_H */
