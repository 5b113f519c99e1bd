/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_hint.c - a character scan that knows just enough of the lexical rules (quotes and
 * comments) to find hint comments outside literals.
 */
#include "router/rt_hint.h"

#include <string.h>
#include <strings.h>


static bool
rt_hint_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == '$';
}

/* Body of a / * ... * / comment: [<p>, <end>), "myshard:" + <key> + value. */
static bool
rt_hint_body(const char *p, const char *end, const char *key, const char **name,
	     size_t *name_len)
{
	size_t klen = strlen(key);
	const char *n;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
		p++;
	}
	if ((size_t)(end - p) < 8 + klen || strncasecmp(p, "myshard:", 8) != 0 ||
	    strncasecmp(p + 8, key, klen) != 0) {
		return false;
	}
	p += 8 + klen;
	n = p;
	while (p < end && rt_hint_name_char(*p)) {
		p++;
	}
	if (p == n) {
		return false;
	}
	*name = n;
	*name_len = (size_t)(p - n);
	return true;
}

/* Skips the quoted run opening at <p>; returns the position after it (or <end>). */
static const char *
rt_hint_skip_quoted(const char *p, const char *end)
{
	char q = *p++;

	while (p < end) {
		if (*p == '\\' && q != '`') {
			p += 2;
		} else if (*p == q) {
			if (p + 1 < end && p[1] == q) {
				p += 2;
			} else {
				return p + 1;
			}
		} else {
			p++;
		}
	}
	return end;
}

bool
rt_hint_find(const char *text, size_t len, const char **name, size_t *name_len)
{
	return rt_hint_find_key(text, len, "shard=", name, name_len);
}

bool
rt_hint_find_key(const char *text, size_t len, const char *key, const char **name,
		 size_t *name_len)
{
	const char *p = text;
	const char *end = text + len;

	if (len < 4 || memchr(text, '/', len) == NULL) {
		return false; /* no comment can hold a hint: most statements, found at memchr speed */
	}
	while (p < end) {
		if (*p == '\'' || *p == '"' || *p == '`') {
			p = rt_hint_skip_quoted(p, end);
		} else if (*p == '#' ||
			   (end - p >= 3 && p[0] == '-' && p[1] == '-' && p[2] == ' ')) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			p = nl != NULL ? nl + 1 : end;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*' &&
			   (end - p < 3 || p[2] != '!')) {
			const char *c = memmem(p + 2, (size_t)(end - p - 2), "*/", 2);

			if (c == NULL) {
				return false;
			}
			if (rt_hint_body(p + 2, c, key, name, name_len)) {
				return true;
			}
			p = c + 2;
		} else {
			p++;
		}
	}
	return false;
}
