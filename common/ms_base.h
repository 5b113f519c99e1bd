/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/ms_base.h - the few definitions every module shares: the generic return code,
 * byte slices, a growable byte buffer, attribute macros and invariant checks. libc only.
 */
#ifndef MYSHARD_COMMON_MS_BASE_H
#define MYSHARD_COMMON_MS_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MS_MUSTCHECK __attribute__((warn_unused_result))
#define MS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x) __builtin_expect(!!(x), 0)

enum ms_rc {
	MS_OK = 0,
	MS_ENOMEM, /* allocation failed */
	MS_EINVAL, /* input rejected; a message says why */
	MS_ENOENT, /* named thing does not exist */
	MS_EIO,    /* system call or file failed */
};

/* A read-only view of bytes owned by someone else. */
struct ms_slice {
	const uint8_t *ptr; /* borrowed */
	size_t len;
};

/* Makes <*buf> (of <*cap> bytes, owned) hold at least <need> bytes, keeping its contents;
 * false, with the buffer untouched, when memory runs out. */
bool ms_bytes_reserve(uint8_t **buf, size_t *cap, size_t need) MS_MUSTCHECK;

/* Microseconds of the monotonic clock (durations, timeouts). */
uint64_t ms_now_us(void) MS_MUSTCHECK;
/* The wall-clock time <ms> milliseconds from now, as pthread_cond_timedwait() wants it. */
struct timespec ms_deadline(unsigned int ms) MS_MUSTCHECK;

/* Aborts with file:line and a message: marks a broken invariant, never bad input. */
void ms_bug(const char *file, int line, const char *what) __attribute__((noreturn));
#define MS_BUG(what) ms_bug(__FILE__, __LINE__, (what))
#define MS_ASSERT(cond)                                                                            \
	do {                                                                                       \
		if (MS_UNLIKELY(!(cond))) {                                                        \
			ms_bug(__FILE__, __LINE__, #cond);                                         \
		}                                                                                  \
	} while (0)

#endif /* MYSHARD_COMMON_MS_BASE_H */
