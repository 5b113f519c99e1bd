/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_vars.c - session variable lists (see px_vars.h).
 */
#include "proxy/px_vars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
px_vars_same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* The line of <list> for the name of line <line> ("name=..."), or NULL. */
static const char *
px_vars_find(const char *list, const char *line)
{
	size_t n = (size_t)(strchr(line, '=') - line);

	for (const char *p = list; p != NULL && *p != '\0'; p = strchr(p, '\n') + 1) {
		if (strncmp(p, line, n + 1) == 0) {
			return p;
		}
	}
	return NULL;
}

bool
px_vars_has(const char *list, const char *line)
{
	return px_vars_find(list, line) != NULL;
}

static size_t
px_vars_line_len(const char *line)
{
	const char *nl = strchr(line, '\n');

	return nl != NULL ? (size_t)(nl - line) + 1 : strlen(line); /* (lists always end lines) */
}

bool
px_vars_merge(char **list, const char *set)
{
	size_t cap = (*list != NULL ? strlen(*list) : 0) + strlen(set) + 1, at = 0;
	char *out = malloc(cap);

	if (out == NULL) {
		return false;
	}
	/* the old lines, each with its newest value */
	for (const char *p = *list; p != NULL && *p != '\0'; p += px_vars_line_len(p)) {
		const char *src = p, *q;

		for (const char *s = set; *s != '\0'; s += px_vars_line_len(s)) {
			q = px_vars_find(s, p);
			if (q == s) {
				src = s; /* the last assignment of the name wins */
			}
		}
		memcpy(out + at, src, px_vars_line_len(src));
		at += px_vars_line_len(src);
	}
	/* then the names new to the list, in order, once each (the last value) */
	for (const char *s = set; *s != '\0'; s += px_vars_line_len(s)) {
		const char *last = s;

		if (px_vars_find(*list, s) != NULL) {
			continue;
		}
		for (const char *t = s + px_vars_line_len(s); *t != '\0'; t += px_vars_line_len(t)) {
			if (px_vars_find(t, s) == t) {
				last = NULL; /* a later line sets it again: that one is taken */
				break;
			}
		}
		if (last != NULL) {
			memcpy(out + at, last, px_vars_line_len(last));
			at += px_vars_line_len(last);
		}
	}
	out[at] = '\0';
	free(*list);
	*list = out;
	return true;
}

char *
px_vars_sync_sql(const char *have, const char *want)
{
	size_t cap = 8 + (have != NULL ? 2 * strlen(have) : 0) + (want != NULL ? 2 * strlen(want) : 0);
	char *out = malloc(cap + 1);
	size_t at;
	bool first = true;

	if (out == NULL) {
		return NULL;
	}
	at = (size_t)snprintf(out, cap, "SET ");
	for (const char *p = have; p != NULL && *p != '\0'; p += px_vars_line_len(p)) {
		if (px_vars_find(want, p) == NULL) {
			size_t n = (size_t)(strchr(p, '=') - p);

			at += (size_t)snprintf(out + at, cap - at, "%s%.*s=DEFAULT", first ? "" : ", ",
					       (int)n, p);
			first = false;
		}
	}
	for (const char *p = want; p != NULL && *p != '\0'; p += px_vars_line_len(p)) {
		const char *h = px_vars_find(have, p);
		size_t len = px_vars_line_len(p);

		if (h != NULL && px_vars_line_len(h) == len && memcmp(h, p, len) == 0) {
			continue;
		}
		at += (size_t)snprintf(out + at, cap - at, "%s%.*s", first ? "" : ", ", (int)len - 1, p);
		first = false;
	}
	return out;
}

bool
px_vars_is_names(const char *line)
{
	static const char *const names[] = { "character_set_client=", "character_set_connection=",
					     "character_set_results=", "collation_connection=" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncmp(line, names[i], strlen(names[i])) == 0) {
			return true;
		}
	}
	return false;
}

bool
px_vars_resets_names(const char *have, const char *want)
{
	for (const char *p = have; p != NULL && *p != '\0'; p += px_vars_line_len(p)) {
		if (px_vars_is_names(p) && px_vars_find(want, p) == NULL) {
			return true;
		}
	}
	return false;
}

void
px_vars_drop_charset(char **list)
{
	char *out = *list;
	size_t at = 0;

	if (out == NULL) {
		return;
	}
	for (const char *p = *list; *p != '\0';) {
		size_t len = px_vars_line_len(p);

		if (!px_vars_is_names(p)) {
			memmove(out + at, p, len);
			at += len;
		}
		p += len;
	}
	out[at] = '\0';
	if (at == 0) {
		free(*list);
		*list = NULL;
	}
}
