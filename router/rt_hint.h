/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_hint.h - routing hints carried in SQL comments, which the tokenizer skips:
 * / * myshard:shard=NAME * / anywhere in the text (not inside a string) targets shard NAME;
 * / * myshard:read=primary * / and / * myshard:read=replica * / choose where a read goes.
 * Pure; any thread.
 */
#ifndef MYSHARD_ROUTER_RT_HINT_H
#define MYSHARD_ROUTER_RT_HINT_H

#include "common/ms_base.h"

/*
 * Finds the first "myshard:shard=NAME" comment in <len> bytes of <text>. On success points
 * <name>/<name_len> into <text> (NAME: letters, digits, _ - . $) and returns true. Comments
 * inside strings or quoted identifiers are not hints; a malformed hint is ignored.
 */
bool rt_hint_find(const char *text, size_t len, const char **name, size_t *name_len) MS_MUSTCHECK;
/* The same for "myshard:<key>=VALUE" (<key> with its '=', e.g. "read="). */
bool rt_hint_find_key(const char *text, size_t len, const char *key, const char **value,
		      size_t *value_len) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_HINT_H */
