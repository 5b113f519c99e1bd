/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_load.h - LOAD DATA LOCAL INFILE: the statement's parts myshard needs (table,
 * column list, field and line format), and a reader that cuts the file into rows and finds
 * each row's key field, with the server's rules for terminators, enclosures and escapes. Pure.
 */
#ifndef MYSHARD_ROUTER_RT_LOAD_H
#define MYSHARD_ROUTER_RT_LOAD_H

#include "common/ms_base.h"

#define RT_LOAD_COLS    256 /* columns (or @variables) in the column list */
#define RT_LOAD_SEP_MAX 16  /* bytes of a terminator or STARTING BY prefix */

struct rt_load {
	size_t file_off, file_len;     /* the file name literal, quotes included */
	size_t ignore_off, ignore_len; /* the IGNORE n LINES clause (0 length: none) */
	uint64_t ignore_lines;
	char schema[65];               /* "" if not given; as written (names are case-sensitive) */
	char table[65];
	/* format, unescaped: FIELDS TERMINATED BY (default "\t"), ENCLOSED BY (none), ESCAPED BY
	 * ("\\"; empty: none), LINES STARTING BY (""), LINES TERMINATED BY ("\n") */
	char fterm[RT_LOAD_SEP_MAX], lstart[RT_LOAD_SEP_MAX], lterm[RT_LOAD_SEP_MAX];
	size_t fterm_len, lstart_len, lterm_len;
	int encl; /* the enclosing byte, or -1 */
	int esc;  /* the escape byte, or -1 */
	size_t n_cols;                 /* 0: no column list */
	char cols[RT_LOAD_COLS][65];   /* lower-cased names; "@" + name for a user variable */
	size_t set_off, set_len;       /* the SET clause (0 length: none) */
};

enum rt_load_rc {
	RT_LOAD_NOT = 0,  /* not a LOAD DATA LOCAL INFILE statement */
	RT_LOAD_OK,       /* parsed into *out */
	RT_LOAD_REFUSED,  /* a LOAD DATA LOCAL that myshard does not take apart (*why says what) */
};

/* Recognizes `LOAD DATA [LOW_PRIORITY | CONCURRENT] LOCAL INFILE 'file' [REPLACE | IGNORE]
 * INTO TABLE [db.]t [CHARACTER SET cs] [{FIELDS | COLUMNS} ...] [LINES ...] [IGNORE n
 * {LINES | ROWS}] [(col, ...)] [SET ...]`. */
enum rt_load_rc rt_load_parse(const char *text, size_t len, struct rt_load *out,
			      const char **why) MS_MUSTCHECK;

/* One row of the file. */
struct rt_load_row {
	size_t off, len;     /* the row's bytes, line terminator included (as sent on) */
	bool has_key;        /* the key field is there */
	bool key_null;       /* it is \N (or an unenclosed NULL when fields are enclosed) */
	size_t key_len;      /* unescaped key bytes in the caller's buffer */
};

/*
 * Reads the row that starts at *<pos> of <data>/<len> (<final>: no more data comes, so an
 * unterminated last row is a row). Returns false when no complete row is there (*<pos>
 * unchanged). Field <key> (0-based) is unescaped into <kbuf> (at most <kcap> bytes; longer
 * keys are cut and has_key stays false).
 */
bool rt_load_next(const struct rt_load *l, const uint8_t *data, size_t len, bool final,
		  size_t *pos, size_t key, uint8_t *kbuf, size_t kcap,
		  struct rt_load_row *row) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_LOAD_H */
