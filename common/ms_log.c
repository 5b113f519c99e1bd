/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/ms_log.c - formats a whole line first, then writes it with one write(2), so lines
 * from different threads never interleave.
 */
#include "common/ms_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int ms_log_level_cur = MS_LOG_INFO;
static const char *const ms_log_names[] = { "error", "warn", "info", "debug" };

void
ms_log_set_level(enum ms_log_level level)
{
	__atomic_store_n(&ms_log_level_cur, (int)level, __ATOMIC_RELAXED);
}

enum ms_log_level
ms_log_get_level(void)
{
	return (enum ms_log_level)__atomic_load_n(&ms_log_level_cur, __ATOMIC_RELAXED);
}

bool
ms_log_level_parse(const char *name, enum ms_log_level *out)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(ms_log_names); i++) {
		if (strcmp(name, ms_log_names[i]) == 0) {
			*out = (enum ms_log_level)i;
			return true;
		}
	}
	return false;
}

void
ms_log(enum ms_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;
	int k;

	if ((int)level > __atomic_load_n(&ms_log_level_cur, __ATOMIC_RELAXED)) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, ms_log_names[level]);
	n = k > 0 ? (size_t)k : 0;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n += k > 0 ? (size_t)k : 0;
	if (n > sizeof(line) - 2) {
		n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing better to do with a failed log write */
	}
}
