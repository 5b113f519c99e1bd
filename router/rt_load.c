/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_load.c - LOAD DATA LOCAL INFILE statements and rows (see rt_load.h). The row
 * reader follows the server's reading of the file: a field is either enclosed (the enclosing
 * byte doubled, or escaped, stands for itself) or not (an escaped byte never ends it); an
 * escaped terminator is data; \N is NULL.
 */
#include "router/rt_load.h"

#include "router/rt_lex.h"

#include <string.h>

/* A 'string' option value, unescaped (backslash escapes, doubled quotes) into <out>. */
static bool
rt_load_str(const struct rt_tok *t, char *out, size_t cap, size_t *len)
{
	size_t n = 0;

	if (t->kind != RT_TOK_STRING || t->intro != 0 || t->len < 2) {
		return false;
	}
	for (size_t i = 1; i + 1 < t->len; i++) {
		char c = t->ptr[i];

		if (c == '\\' && i + 2 < t->len) {
			switch (t->ptr[++i]) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '0': c = '\0'; break;
			case 'b': c = '\b'; break;
			case 'Z': c = 0x1a; break;
			default: c = t->ptr[i]; break;
			}
		} else if (c == t->ptr[0] && i + 2 < t->len && t->ptr[i + 1] == c) {
			i++; /* a doubled quote */
		}
		if (n == cap) {
			return false;
		}
		out[n++] = c;
	}
	*len = n;
	return true;
}

/* A name (word or `quoted`) into <out> (64 bytes + NUL), lower-cased if <lower>. */
static bool
rt_load_name(const struct rt_tok *t, char *out, bool lower)
{
	const char *p = t->ptr;
	size_t n = t->len;

	if (t->kind == RT_TOK_QIDENT && n >= 2) {
		p++;
		n -= 2;
	} else if (t->kind != RT_TOK_WORD) {
		return false;
	}
	if (n == 0 || n > 64) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = (char)(lower && p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
	}
	out[n] = '\0';
	return true;
}

static enum rt_load_rc
rt_load_no(const char **why, const char *msg)
{
	*why = msg;
	return RT_LOAD_REFUSED;
}

/* FIELDS / LINES options after the keyword. */
static bool
rt_load_format(struct rt_lex *lx, struct rt_tok *t, struct rt_load *l, bool fields)
{
	for (;;) {
		char buf[RT_LOAD_SEP_MAX];
		size_t n;
		bool optionally = false;
		enum { TERM, ENCL, ESC, START } what;

		if (rt_tok_is(t, "TERMINATED")) {
			what = TERM;
		} else if (fields && rt_tok_is(t, "OPTIONALLY")) {
			optionally = true;
			*t = rt_lex_next(lx);
			if (!rt_tok_is(t, "ENCLOSED")) {
				return false;
			}
			what = ENCL;
		} else if (fields && rt_tok_is(t, "ENCLOSED")) {
			what = ENCL;
		} else if (fields && rt_tok_is(t, "ESCAPED")) {
			what = ESC;
		} else if (!fields && rt_tok_is(t, "STARTING")) {
			what = START;
		} else {
			return true;
		}
		(void)optionally; /* read the same way either way */
		*t = rt_lex_next(lx);
		if (!rt_tok_is(t, "BY")) {
			return false;
		}
		*t = rt_lex_next(lx);
		if (!rt_load_str(t, buf, sizeof(buf), &n)) {
			return false;
		}
		switch (what) {
		case TERM:
			if (n == 0) {
				return false; /* an empty terminator: fixed-width rows */
			}
			memcpy(fields ? l->fterm : l->lterm, buf, n);
			*(fields ? &l->fterm_len : &l->lterm_len) = n;
			break;
		case ENCL:
			if (n > 1) {
				return false;
			}
			l->encl = n == 1 ? (unsigned char)buf[0] : -1;
			break;
		case ESC:
			if (n > 1) {
				return false;
			}
			l->esc = n == 1 ? (unsigned char)buf[0] : -1;
			break;
		case START:
			memcpy(l->lstart, buf, n);
			l->lstart_len = n;
			break;
		}
		*t = rt_lex_next(lx);
	}
}

enum rt_load_rc
rt_load_parse(const char *text, size_t len, struct rt_load *l, const char **why)
{
	struct rt_lex lx;
	struct rt_tok t;

	*why = "";
	rt_lex_init(&lx, text, len);
	t = rt_lex_next(&lx);
	if (!rt_tok_is(&t, "LOAD")) {
		return RT_LOAD_NOT;
	}
	t = rt_lex_next(&lx);
	if (!rt_tok_is(&t, "DATA")) {
		return RT_LOAD_NOT;
	}
	t = rt_lex_next(&lx);
	if (rt_tok_is(&t, "LOW_PRIORITY") || rt_tok_is(&t, "CONCURRENT")) {
		t = rt_lex_next(&lx);
	}
	if (!rt_tok_is(&t, "LOCAL")) {
		return RT_LOAD_NOT; /* a file on the server itself: not myshard's business */
	}
	/* only now (every COM_QUERY passes here; the struct is 17 KiB) */
	memset(l, 0, sizeof(*l));
	l->fterm[0] = '\t';
	l->fterm_len = 1;
	l->lterm[0] = '\n';
	l->lterm_len = 1;
	l->encl = -1;
	l->esc = '\\';
	t = rt_lex_next(&lx);
	if (!rt_tok_is(&t, "INFILE")) {
		return rt_load_no(why, "expected INFILE");
	}
	t = rt_lex_next(&lx);
	if (t.kind != RT_TOK_STRING) {
		return rt_load_no(why, "expected the file name as a string");
	}
	l->file_off = (size_t)(t.ptr - text);
	l->file_len = t.len;
	t = rt_lex_next(&lx);
	if (rt_tok_is(&t, "REPLACE") || rt_tok_is(&t, "IGNORE")) {
		t = rt_lex_next(&lx);
	}
	if (!rt_tok_is(&t, "INTO")) {
		return rt_load_no(why, "expected INTO TABLE");
	}
	t = rt_lex_next(&lx);
	if (!rt_tok_is(&t, "TABLE")) {
		return rt_load_no(why, "expected INTO TABLE");
	}
	t = rt_lex_next(&lx);
	if (!rt_load_name(&t, l->table, false)) {
		return rt_load_no(why, "expected a table name");
	}
	t = rt_lex_next(&lx);
	if (rt_tok_punct(&t, '.')) {
		memcpy(l->schema, l->table, sizeof(l->schema));
		t = rt_lex_next(&lx);
		if (!rt_load_name(&t, l->table, false)) {
			return rt_load_no(why, "expected a table name");
		}
		t = rt_lex_next(&lx);
	}
	if (rt_tok_is(&t, "PARTITION")) {
		return rt_load_no(why, "PARTITION is not supported");
	}
	if (rt_tok_is(&t, "CHARACTER") || rt_tok_is(&t, "CHARSET")) {
		if (rt_tok_is(&t, "CHARACTER")) {
			t = rt_lex_next(&lx);
			if (!rt_tok_is(&t, "SET")) {
				return rt_load_no(why, "expected CHARACTER SET");
			}
		}
		t = rt_lex_next(&lx); /* the character set's name */
		t = rt_lex_next(&lx);
	}
	if (rt_tok_is(&t, "FIELDS") || rt_tok_is(&t, "COLUMNS")) {
		t = rt_lex_next(&lx);
		if (!rt_load_format(&lx, &t, l, true)) {
			return rt_load_no(why, "a FIELDS option myshard cannot read (terminators "
					       "of 1..16 bytes, one-byte ENCLOSED BY and ESCAPED BY)");
		}
	}
	if (rt_tok_is(&t, "LINES")) {
		t = rt_lex_next(&lx);
		if (!rt_load_format(&lx, &t, l, false)) {
			return rt_load_no(why, "a LINES option myshard cannot read (1..16 bytes)");
		}
	}
	if (rt_tok_is(&t, "IGNORE")) {
		const char *from = t.ptr;

		t = rt_lex_next(&lx);
		if (t.kind != RT_TOK_NUMBER || t.len > 18) {
			return rt_load_no(why, "expected IGNORE <number> LINES");
		}
		for (size_t i = 0; i < t.len; i++) {
			if (t.ptr[i] < '0' || t.ptr[i] > '9') {
				return rt_load_no(why, "expected IGNORE <number> LINES");
			}
			l->ignore_lines = l->ignore_lines * 10 + (uint64_t)(t.ptr[i] - '0');
		}
		t = rt_lex_next(&lx);
		if (!rt_tok_is(&t, "LINES") && !rt_tok_is(&t, "ROWS")) {
			return rt_load_no(why, "expected IGNORE <number> LINES");
		}
		l->ignore_off = (size_t)(from - text);
		l->ignore_len = (size_t)(t.ptr + t.len - from);
		t = rt_lex_next(&lx);
	}
	if (rt_tok_punct(&t, '(')) {
		for (;;) {
			t = rt_lex_next(&lx);
			if (l->n_cols == RT_LOAD_COLS) {
				return rt_load_no(why, "too many columns");
			}
			if (t.kind == RT_TOK_USERVAR && t.len >= 2 && t.len <= 64) {
				l->cols[l->n_cols][0] = '@';
				memcpy(l->cols[l->n_cols] + 1, t.ptr + 1, t.len - 1);
				l->cols[l->n_cols][t.len] = '\0';
			} else if (!rt_load_name(&t, l->cols[l->n_cols], true)) {
				return rt_load_no(why, "expected a column name or @variable");
			}
			l->n_cols++;
			t = rt_lex_next(&lx);
			if (rt_tok_punct(&t, ')')) {
				break;
			}
			if (!rt_tok_punct(&t, ',')) {
				return rt_load_no(why, "expected , or ) in the column list");
			}
		}
		t = rt_lex_next(&lx);
	}
	if (rt_tok_is(&t, "SET")) {
		const char *from = t.ptr, *end = t.ptr + t.len;

		while ((t = rt_lex_next(&lx)).kind != RT_TOK_END && t.kind != RT_TOK_ERROR &&
		       !rt_tok_punct(&t, ';')) {
			end = t.ptr + t.len;
		}
		l->set_off = (size_t)(from - text);
		l->set_len = (size_t)(end - from);
	}
	if (rt_tok_punct(&t, ';')) {
		t = rt_lex_next(&lx);
	}
	if (t.kind != RT_TOK_END) {
		return rt_load_no(why, "unexpected text after the statement");
	}
	return RT_LOAD_OK;
}

static bool
rt_load_at(const uint8_t *d, size_t len, size_t p, const char *s, size_t n)
{
	return n > 0 && p + n <= len && memcmp(d + p, s, n) == 0;
}

static uint8_t
rt_load_unesc(uint8_t c)
{
	switch (c) {
	case '0': return 0;
	case 'b': return '\b';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'Z': return 0x1a;
	default: return c;
	}
}

bool
rt_load_next(const struct rt_load *l, const uint8_t *d, size_t len, bool final, size_t *pos,
	     size_t key, uint8_t *kbuf, size_t kcap, struct rt_load_row *row)
{
	size_t p = *pos, start;

	memset(row, 0, sizeof(*row));
	if (p >= len) {
		return false;
	}
	if (l->lstart_len > 0) {
		/* rows start at the prefix; what comes before it is skipped by the server too */
		while (p < len && !rt_load_at(d, len, p, l->lstart, l->lstart_len)) {
			p++;
		}
		if (p >= len) {
			if (final) {
				*pos = len;
			}
			return false;
		}
		start = p;
		p += l->lstart_len;
	} else {
		start = p;
	}
	for (size_t f = 0;; f++) {
		bool want = f == key, encl = l->encl >= 0 && p < len && d[p] == (uint8_t)l->encl;
		size_t k = 0, raw = p;
		bool cut = false, null_esc = false;

		if (encl) {
			p++;
		}
		for (;;) {
			uint8_t c;

			if (p >= len) {
				if (!final) {
					return false;
				}
				break; /* the data ends the field (and the row) */
			}
			c = d[p];
			if (l->esc >= 0 && c == (uint8_t)l->esc) {
				if (p + 1 >= len) {
					if (!final) {
						return false;
					}
					p++;
					break;
				}
				if (d[p + 1] == 'N' && p == raw && !encl) {
					null_esc = true;
				}
				c = rt_load_unesc(d[p + 1]);
				p += 2;
			} else if (encl && c == (uint8_t)l->encl) {
				if (p + 1 < len && d[p + 1] == (uint8_t)l->encl) {
					p += 2; /* a doubled enclosing byte */
				} else if (p + 1 >= len ||
					   rt_load_at(d, len, p + 1, l->fterm, l->fterm_len) ||
					   rt_load_at(d, len, p + 1, l->lterm, l->lterm_len)) {
					if (p + 1 >= len && !final) {
						return false;
					}
					p++;
					break; /* the closing byte */
				} else {
					p++; /* a lone enclosing byte inside: data */
				}
			} else if (!encl && (rt_load_at(d, len, p, l->fterm, l->fterm_len) ||
					     rt_load_at(d, len, p, l->lterm, l->lterm_len))) {
				break;
			} else {
				p++;
			}
			if (want) {
				if (k < kcap) {
					kbuf[k++] = c;
				} else {
					cut = true;
				}
			}
		}
		if (want && !cut) {
			row->has_key = true;
			row->key_len = k;
			row->key_null = (null_esc && p - raw == 2) ||
					(l->encl >= 0 && !encl && p - raw == 4 &&
					 memcmp(d + raw, "NULL", 4) == 0);
		}
		if (rt_load_at(d, len, p, l->fterm, l->fterm_len) &&
		    !(l->fterm_len == l->lterm_len && rt_load_at(d, len, p, l->lterm, l->lterm_len))) {
			p += l->fterm_len;
			continue;
		}
		if (rt_load_at(d, len, p, l->lterm, l->lterm_len)) {
			p += l->lterm_len;
		} else if (p < len) {
			/* junk after an enclosed field: the server reads on to the line's end */
			while (p < len && !rt_load_at(d, len, p, l->lterm, l->lterm_len)) {
				p++;
			}
			if (p >= len && !final) {
				return false;
			}
			p = p < len ? p + l->lterm_len : len;
		}
		break;
	}
	row->off = start;
	row->len = p - start;
	*pos = p;
	return true;
}
