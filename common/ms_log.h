/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/ms_log.h - leveled logging to stderr, one line per call, safe from any thread.
 * Callers name the object a line is about (session or backend id) in the message.
 */
#ifndef MYSHARD_COMMON_MS_LOG_H
#define MYSHARD_COMMON_MS_LOG_H

#include "common/ms_base.h"

enum ms_log_level {
	MS_LOG_ERROR = 0,
	MS_LOG_WARN,
	MS_LOG_INFO,
	MS_LOG_DEBUG,
};

/* Sets the most verbose level that is printed; any thread, takes effect at once. */
void ms_log_set_level(enum ms_log_level level);
enum ms_log_level ms_log_get_level(void) MS_MUSTCHECK;
/* Parses "error", "warn", "info" or "debug". Returns false for anything else. */
bool ms_log_level_parse(const char *name, enum ms_log_level *out) MS_MUSTCHECK;
void ms_log(enum ms_log_level level, const char *fmt, ...) MS_PRINTF(2, 3);

#define ms_log_error(...) ms_log(MS_LOG_ERROR, __VA_ARGS__)
#define ms_log_warn(...) ms_log(MS_LOG_WARN, __VA_ARGS__)
#define ms_log_info(...) ms_log(MS_LOG_INFO, __VA_ARGS__)
#define ms_log_debug(...)                                                                          \
	do {                                                                                       \
		if (ms_log_get_level() >= MS_LOG_DEBUG) {                                          \
			ms_log(MS_LOG_DEBUG, __VA_ARGS__);                                         \
		}                                                                                  \
	} while (0)

#endif /* MYSHARD_COMMON_MS_LOG_H */
