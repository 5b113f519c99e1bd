/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_arena.h - a bump allocator for one statement's tokens, AST and plan: many small
 * zeroed allocations, one free. Also a growable string builder carved from it. Not thread-safe;
 * one arena belongs to one plan.
 */
#ifndef MYSHARD_ROUTER_RT_ARENA_H
#define MYSHARD_ROUTER_RT_ARENA_H

#include "common/ms_base.h"

struct rt_arena;

enum ms_rc rt_arena_new(struct rt_arena **out) MS_MUSTCHECK;
void rt_arena_free(struct rt_arena *a);
/* With <on>, the calling thread keeps the first chunk of a freed arena for its next
 * rt_arena_new() (one plan per statement: no 8 KiB malloc/free each time); without, it frees
 * the kept chunk. A thread that turns it on turns it off before it ends. */
void rt_arena_thread_cache(bool on);
/* <n> zeroed bytes aligned for any type, or NULL when out of memory (the arena stays usable). */
void *rt_arena_alloc(struct rt_arena *a, size_t n) MS_MUSTCHECK;
/* NUL-terminated copy of <n> bytes of <s>, or NULL. */
char *rt_arena_strndup(struct rt_arena *a, const char *s, size_t n) MS_MUSTCHECK;

/* A string being built in an arena; <oom> is sticky, so callers check once at the end. */
struct rt_buf {
	struct rt_arena *a; /* borrowed */
	char *p;            /* arena memory; always NUL-terminated once anything was added */
	size_t len;
	size_t cap;
	bool oom;
};

void rt_buf_init(struct rt_buf *b, struct rt_arena *a);
void rt_buf_add(struct rt_buf *b, const char *s, size_t n);
void rt_buf_adds(struct rt_buf *b, const char *s);
void rt_buf_addf(struct rt_buf *b, const char *fmt, ...) MS_PRINTF(2, 3);

#endif /* MYSHARD_ROUTER_RT_ARENA_H */
