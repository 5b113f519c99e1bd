/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/ms_base.c - invariant failure reporting, byte buffers, clocks.
 */
#include "common/ms_base.h"

#include <stdio.h>
#include <stdlib.h>

void
ms_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "myshard: BUG at %s:%d: %s\n", file, line, what);
	fflush(stderr);
	abort();
}

bool
ms_bytes_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *b;

	if (need <= *cap) {
		return true;
	}
	b = realloc(*buf, need);
	if (b == NULL) {
		return false;
	}
	*buf = b;
	*cap = need;
	return true;
}

uint64_t
ms_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct timespec
ms_deadline(unsigned int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}
