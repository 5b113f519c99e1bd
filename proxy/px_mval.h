/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_mval.h - values of merged rows, for px_merge: comparison by column type and
 * collation, hashing consistent with it, exact decimal sums, exact AVG division, number
 * formatting and HAVING. Pure functions over text-protocol values (views, no allocation);
 * any thread. Where the rules are approximate, px_mval.c says so next to the code.
 */
#ifndef MYSHARD_PROXY_PX_MVAL_H
#define MYSHARD_PROXY_PX_MVAL_H

#include "common/ms_base.h"

struct mp_coldef;
struct rt_merge;

#define PX_MVAL_TEXT      400 /* bytes of an output buffer for a formatted number */
#define PX_MVAL_DEC_LIMBS 16  /* exact sums: 144 digits in base 1e9 limbs, 45 after the point */

/* One value of a text row. */
struct px_mval {
	const uint8_t *p; /* borrowed; NULL when <null> */
	size_t len;
	bool null;
};

enum px_mval_kind {
	PX_MVAL_NUM = 0, /* integers and DECIMAL: exact decimal text */
	PX_MVAL_DBL,     /* FLOAT, DOUBLE: as C doubles */
	PX_MVAL_TIME,    /* TIME: signed duration */
	PX_MVAL_STR,     /* everything else: bytes, per <pad> and <fold> */
};

/* How the values of one column compare. */
struct px_mval_cls {
	enum px_mval_kind kind;
	bool pad;  /* PAD SPACE: trailing spaces do not count */
	bool fold; /* ASCII case-insensitive */
};

/* An exact decimal accumulator; all zeros is 0. */
struct px_mval_dec {
	uint32_t l[PX_MVAL_DEC_LIMBS]; /* value * 10^45 mod 10^144, least significant first */
};

/* The comparison class of a column, from its type and charset (collation id). */
void px_mval_cls_init(const struct mp_coldef *def, struct px_mval_cls *out);
/* True for character and binary string columns (not numbers, temporal types or BIT): the ones
 * whose order depends on a collation, hence on a WEIGHT_STRING column when the plan has one. */
bool px_mval_is_text(const struct mp_coldef *def) MS_MUSTCHECK;
/* <0, 0, >0 as <a> sorts before, with, after <b>; NULL sorts before any value. */
int px_mval_cmp(const struct px_mval_cls *cls, const struct px_mval *a,
		const struct px_mval *b) MS_MUSTCHECK;
/* A hash equal for values that px_mval_cmp() finds equal. */
uint64_t px_mval_hash(const struct px_mval_cls *cls, const struct px_mval *v) MS_MUSTCHECK;
/* FNV-1a step, for combining hashes. */
uint64_t px_mval_fnv(uint64_t h, const void *p, size_t n) MS_MUSTCHECK;
/* The value read as a double (0 when it is not a number; NULL reads as 0). */
double px_mval_double(const struct px_mval *v) MS_MUSTCHECK;

/* Adds decimal text <v> to <acc>; false if it is not [-+]digits[.digits] or too long. */
bool px_mval_dec_add(struct px_mval_dec *acc, const struct px_mval *v) MS_MUSTCHECK;
/* Writes <d> with <dec> decimals (at most 38), rounding half away from zero; returns length. */
size_t px_mval_dec_fmt(const struct px_mval_dec *d, unsigned int dec,
		       char out[PX_MVAL_TEXT]) MS_MUSTCHECK;
/* Writes <sum>/<count> computed exactly, rounded half away from zero to <dec> decimals (at
 * most 38). False when either is not plain decimal or <count> is not an integer in 1..10^19-1. */
bool px_mval_avg(const struct px_mval *sum, const struct px_mval *count, unsigned int dec,
		 char out[PX_MVAL_TEXT]) MS_MUSTCHECK;
/* Writes double <x>: "%.*f" for <dec> < 31, else the shortest text that reads back as <x>. */
size_t px_mval_dbl_fmt(double x, unsigned int dec, char out[PX_MVAL_TEXT]) MS_MUSTCHECK;

/* True if <spec>'s HAVING nodes are well formed and refer to columns below <n_cols>. */
bool px_mval_having_fits(const struct rt_merge *spec, unsigned int n_cols) MS_MUSTCHECK;
/* Evaluates <spec>'s HAVING (which must fit) on merged <row>; true only for TRUE (a NULL
 * result drops the row, as in SQL). No HAVING: true. */
bool px_mval_having(const struct rt_merge *spec, const struct px_mval_cls *cls,
		    const struct px_mval *row) MS_MUSTCHECK;

#endif /* MYSHARD_PROXY_PX_MVAL_H */
