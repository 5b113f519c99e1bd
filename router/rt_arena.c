/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_arena.c - chunked bump allocation: the first chunk is big enough for a point
 * select, so planning one costs a single malloc.
 */
#include "router/rt_arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RT_CHUNK_MIN 8192u
#define RT_ALIGN     16u

struct rt_chunk {
	struct rt_chunk *next; /* owned */
	size_t cap;
	size_t used;
	_Alignas(16) unsigned char data[];
};

struct rt_arena {
	struct rt_chunk *head; /* owned: the chunk being filled, then older ones */
};

static struct rt_chunk *
rt_chunk_new(size_t cap)
{
	struct rt_chunk *c = malloc(sizeof(*c) + cap);

	if (c == NULL) {
		return NULL;
	}
	c->next = NULL;
	c->cap = cap;
	c->used = 0;
	return c;
}

static __thread struct rt_chunk *rt_spare; /* owned: a first chunk kept for reuse */
static __thread bool rt_spare_on;

void
rt_arena_thread_cache(bool on)
{
	rt_spare_on = on;
	if (!on) {
		free(rt_spare);
		rt_spare = NULL;
	}
}

enum ms_rc
rt_arena_new(struct rt_arena **out)
{
	struct rt_chunk *c = rt_spare != NULL ? rt_spare : rt_chunk_new(RT_CHUNK_MIN);
	struct rt_arena *a;

	rt_spare = NULL;

	if (c == NULL) {
		return MS_ENOMEM;
	}
	/* the arena header lives at the start of its own first chunk */
	a = (struct rt_arena *)(void *)c->data;
	c->used = (sizeof(*a) + RT_ALIGN - 1) & ~(size_t)(RT_ALIGN - 1);
	a->head = c;
	*out = a;
	return MS_OK;
}

void
rt_arena_free(struct rt_arena *a)
{
	struct rt_chunk *c;

	if (a == NULL) {
		return;
	}
	c = a->head;
	while (c != NULL) {
		struct rt_chunk *next = c->next;

		if (next == NULL && rt_spare_on && rt_spare == NULL && c->cap == RT_CHUNK_MIN) {
			c->next = NULL;
			c->used = 0;
			rt_spare = c; /* the first chunk (the arena's own), kept */
		} else {
			free(c);
		}
		c = next;
	}
}

void *
rt_arena_alloc(struct rt_arena *a, size_t n)
{
	struct rt_chunk *c = a->head;
	size_t need = (n + RT_ALIGN - 1) & ~(size_t)(RT_ALIGN - 1);
	void *p;

	if (need < n) {
		return NULL;
	}
	if (c->cap - c->used < need) {
		size_t cap = need > RT_CHUNK_MIN * 4 ? need : RT_CHUNK_MIN * 4;
		struct rt_chunk *nc = rt_chunk_new(cap);

		if (nc == NULL) {
			return NULL;
		}
		/* the first chunk holds the arena header: keep it last in the list */
		nc->next = c;
		a->head = nc;
		c = nc;
	}
	p = c->data + c->used;
	c->used += need;
	memset(p, 0, n);
	return p;
}

char *
rt_arena_strndup(struct rt_arena *a, const char *s, size_t n)
{
	char *p = rt_arena_alloc(a, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void
rt_buf_init(struct rt_buf *b, struct rt_arena *a)
{
	b->a = a;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->oom = false;
}

static bool
rt_buf_reserve(struct rt_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom) {
		return false;
	}
	if (b->len + n + 1 <= b->cap) {
		return true;
	}
	cap = b->cap == 0 ? 128 : b->cap * 2;
	while (cap < b->len + n + 1) {
		cap *= 2;
	}
	p = rt_arena_alloc(b->a, cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	if (b->len > 0) {
		memcpy(p, b->p, b->len);
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
rt_buf_add(struct rt_buf *b, const char *s, size_t n)
{
	if (!rt_buf_reserve(b, n)) {
		return;
	}
	if (n > 0) {
		memcpy(b->p + b->len, s, n);
	}
	b->len += n;
	b->p[b->len] = '\0';
}

void
rt_buf_adds(struct rt_buf *b, const char *s)
{
	rt_buf_add(b, s, strlen(s));
}

void
rt_buf_addf(struct rt_buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	rt_buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}
