/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_digest.h - query digests: a normalized fingerprint of a statement that is the same
 * for every execution with different literal values. Literals and placeholders become ?, IN
 * lists and VALUES tuples of literals collapse to (...), comments and whitespace vanish,
 * keywords and known function names are upper-cased. Pure; any thread.
 */
#ifndef MYSHARD_ROUTER_RT_DIGEST_H
#define MYSHARD_ROUTER_RT_DIGEST_H

#include "common/ms_base.h"

/* Writes the digest of <len> bytes of <text> into <out> (<cap> >= 1 bytes, NUL-terminated,
 * cut to fit). Returns the length written. A lexical error ends the digest there. */
size_t rt_digest(const char *text, size_t len, char *out, size_t cap) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_DIGEST_H */
