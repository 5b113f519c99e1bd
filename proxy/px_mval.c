/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_mval.c - values of merged rows: comparison by column type and collation, hashing,
 * exact decimal sums and AVG, number formatting, HAVING. Split from px_merge.c so the merge
 * engine stays within the file-size limit and these rules can be tested on their own.
 */
#include "proxy/px_mval.h"

#include "protocol/mp_result.h"
#include "router/rt_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PX_DEC_FLIMBS    5 /* limbs after the point: 45 digits */
#define PX_DEC_BASE      1000000000u
#define PX_DEC_IN_INT    90 /* integer digits accepted in one summand: leaves 9 for carries */
#define PX_DEC_MAX_SCALE 38 /* DECIMAL's largest scale */
#define PX_DBL_NOT_FIXED 31 /* FLOAT/DOUBLE decimals >= this: no fixed number of decimals */
#define PX_HASH_SEED     0xcbf29ce484222325ull

/* Column types (MYSQL_TYPE_*) that do not compare as text. */
enum {
	PX_T_DECIMAL = 0,
	PX_T_TINY = 1,
	PX_T_SHORT = 2,
	PX_T_LONG = 3,
	PX_T_FLOAT = 4,
	PX_T_DOUBLE = 5,
	PX_T_TIMESTAMP = 7,
	PX_T_LONGLONG = 8,
	PX_T_INT24 = 9,
	PX_T_DATE = 10,
	PX_T_TIME = 11,
	PX_T_DATETIME = 12,
	PX_T_YEAR = 13,
	PX_T_BIT = 16,
	PX_T_NEWDECIMAL = 246,
};

static bool
px_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static uint8_t
px_upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

uint64_t
px_mval_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h = (h ^ b[i]) * 0x100000001b3ull;
	}
	return h;
}

static double
px_strtod(const uint8_t *p, size_t len)
{
	char buf[PX_MVAL_TEXT];

	if (len >= sizeof(buf)) {
		len = sizeof(buf) - 1;
	}
	if (len > 0) {
		memcpy(buf, p, len);
	}
	buf[len] = '\0';
	return strtod(buf, NULL);
}

double
px_mval_double(const struct px_mval *v)
{
	return v->null ? 0 : px_strtod(v->p, v->len);
}

/* ---- value classes and comparison ---- */

/* Collation ids whose name ends in _bin (MariaDB's built-in table; 309: utf8mb4_0900_bin). */
static bool
px_coll_is_bin(unsigned int id)
{
	static const uint16_t bins[] = { 43, 46, 47, 50, 53, 55, 58, 61, 62, 93, 96, 98, 309 };
	size_t i;

	if ((id >= 64 && id <= 75) || (id >= 77 && id <= 91)) {
		return true;
	}
	for (i = 0; i < MS_ARRAY_LEN(bins); i++) {
		if (bins[i] == id) {
			return true;
		}
	}
	return false;
}

/* Case-sensitive _cs collations: compared like _bin here. */
static bool
px_coll_is_cs(unsigned int id)
{
	return id == 2 || id == 20 || id == 34 || id == 42 || id == 49 || id == 52;
}

/*
 * Text columns. 63 (binary): exact bytes. MariaDB's NO PAD variants are id + 1024 of their
 * PAD SPACE twin; ids from 2048 (the UCA 14.0 family) are taken as case-insensitive PAD SPACE.
 */
void
px_mval_cls_init(const struct mp_coldef *d, struct px_mval_cls *cc)
{
	unsigned int id = d->charset, base = id >= 1024 && id < 2048 ? id - 1024 : id;

	cc->pad = false;
	cc->fold = false;
	switch (d->type) {
	case PX_T_DECIMAL:
	case PX_T_NEWDECIMAL:
	case PX_T_TINY:
	case PX_T_SHORT:
	case PX_T_LONG:
	case PX_T_LONGLONG:
	case PX_T_INT24:
	case PX_T_YEAR:
		cc->kind = PX_MVAL_NUM;
		return;
	case PX_T_FLOAT:
	case PX_T_DOUBLE:
		cc->kind = PX_MVAL_DBL;
		return;
	case PX_T_TIME:
		cc->kind = PX_MVAL_TIME;
		return;
	case PX_T_DATE:
	case PX_T_DATETIME:
	case PX_T_TIMESTAMP:
		cc->kind = PX_MVAL_STR;
		return;
	default:
		break;
	}
	cc->kind = PX_MVAL_STR;
	cc->pad = id != 63 && base == id;
	cc->fold = id != 63 && !px_coll_is_bin(base) && !px_coll_is_cs(base);
}

bool
px_mval_is_text(const struct mp_coldef *d)
{
	struct px_mval_cls cc;

	px_mval_cls_init(d, &cc);
	return cc.kind == PX_MVAL_STR && d->type != PX_T_DATE && d->type != PX_T_DATETIME &&
	       d->type != PX_T_TIMESTAMP && d->type != PX_T_BIT;
}

/* Decimal text split into its parts: leading zeros of <ip> and trailing zeros of <fp> cut. */
struct px_num {
	bool neg;
	const uint8_t *ip; /* borrowed */
	size_t il;
	const uint8_t *fp; /* borrowed */
	size_t fl;
};

/* False unless <p>/<len> is [-+]digits[.digits] with at least one digit. */
static bool
px_num_parse(const uint8_t *p, size_t len, struct px_num *n)
{
	size_t i = 0, s;

	n->neg = len > 0 && p[0] == '-';
	i = len > 0 && (p[0] == '-' || p[0] == '+') ? 1 : 0;
	for (s = i; i < len && px_digit(p[i]); i++) {
	}
	n->ip = p + s;
	n->il = i - s;
	n->fp = p + i;
	n->fl = 0;
	if (i < len && p[i] == '.') {
		for (s = ++i; i < len && px_digit(p[i]); i++) {
		}
		n->fp = p + s;
		n->fl = i - s;
	}
	if (i != len || n->il + n->fl == 0) {
		return false;
	}
	for (; n->il > 0 && n->ip[0] == '0'; n->il--) {
		n->ip++;
	}
	for (; n->fl > 0 && n->fp[n->fl - 1] == '0'; n->fl--) {
	}
	if (n->il == 0 && n->fl == 0) {
		n->neg = false; /* -0.00 is 0 */
	}
	return true;
}

static int
px_num_cmp(const struct px_num *a, const struct px_num *b)
{
	size_t n = a->fl < b->fl ? a->fl : b->fl;
	int c = 0;

	if (a->neg != b->neg) {
		return a->neg ? -1 : 1;
	}
	if (a->il != b->il) {
		c = a->il < b->il ? -1 : 1;
	} else if (a->il > 0) {
		c = memcmp(a->ip, b->ip, a->il);
	}
	if (c == 0 && n > 0) {
		c = memcmp(a->fp, b->fp, n);
	}
	if (c == 0) {
		c = a->fl == b->fl ? 0 : (a->fl < b->fl ? -1 : 1);
	}
	c = c < 0 ? -1 : (c > 0);
	return a->neg ? -c : c;
}

/* Reads up to <max> digits at *<i>; returns how many. */
static size_t
px_digits(const uint8_t *p, size_t len, size_t *i, size_t max, uint64_t *v)
{
	size_t k = 0;

	for (*v = 0; *i < len && k < max && px_digit(p[*i]); (*i)++, k++) {
		*v = *v * 10 + (uint64_t)(p[*i] - '0');
	}
	return k;
}

/* TIME text [-]H+:MM:SS[.ffffff] as signed microseconds; false for any other shape. */
static bool
px_time_parse(const uint8_t *p, size_t len, int64_t *out)
{
	size_t i = len > 0 && p[0] == '-' ? 1 : 0, k;
	uint64_t h, mi, s, us = 0;

	if (px_digits(p, len, &i, 9, &h) == 0 || i >= len || p[i++] != ':' ||
	    px_digits(p, len, &i, 2, &mi) != 2 || i >= len || p[i++] != ':' ||
	    px_digits(p, len, &i, 2, &s) != 2) {
		return false;
	}
	if (i < len && p[i] == '.') {
		i++;
		for (k = px_digits(p, len, &i, 6, &us); k < 6; k++) {
			us *= 10;
		}
	}
	if (i != len) {
		return false;
	}
	*out = (int64_t)(((h * 60 + mi) * 60 + s) * 1000000 + us);
	*out = p[0] == '-' ? -*out : *out;
	return true;
}

/* Text comparison per collation; PAD SPACE compares the shorter string as if space-padded. */
static int
px_str_cmp(const struct px_mval_cls *cc, const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl, i;
	uint8_t x, y;

	for (i = 0; i < n; i++) {
		x = cc->fold ? px_upper(a[i]) : a[i];
		y = cc->fold ? px_upper(b[i]) : b[i];
		if (x != y) {
			return x < y ? -1 : 1;
		}
	}
	if (!cc->pad) {
		return al == bl ? 0 : (al < bl ? -1 : 1);
	}
	for (; i < al; i++) {
		if (a[i] != ' ') {
			return a[i] < ' ' ? -1 : 1;
		}
	}
	for (; i < bl; i++) {
		if (b[i] != ' ') {
			return b[i] < ' ' ? 1 : -1;
		}
	}
	return 0;
}

/*
 * Compares two non-NULL values of one class. Exact for integers, DECIMAL, TIME, binary and
 * _bin text. Approximate: _ci collations fold ASCII letters only (non-ASCII bytes compare
 * bytewise, so 'é' and 'É' differ, and accents count); _cs collations compare bytewise; ENUM
 * and SET compare as text, not by index. Number text that is not plain decimal falls back
 * to doubles.
 */
static int
px_raw_cmp(const struct px_mval_cls *cc, const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	struct px_num x, y;
	int64_t s, t;
	double d, e;

	switch (cc->kind) {
	case PX_MVAL_NUM:
		if (px_num_parse(a, al, &x) && px_num_parse(b, bl, &y)) {
			return px_num_cmp(&x, &y);
		}
		__attribute__((fallthrough));
	case PX_MVAL_DBL:
		d = px_strtod(a, al);
		e = px_strtod(b, bl);
		return (d > e) - (d < e);
	case PX_MVAL_TIME:
		if (px_time_parse(a, al, &s) && px_time_parse(b, bl, &t)) {
			return (s > t) - (s < t);
		}
		break;
	case PX_MVAL_STR:
		break;
	}
	return px_str_cmp(cc, a, al, b, bl);
}

int
px_mval_cmp(const struct px_mval_cls *cls, const struct px_mval *a, const struct px_mval *b)
{
	if (a->null || b->null) {
		return (int)b->null - (int)a->null;
	}
	return px_raw_cmp(cls, a->p, a->len, b->p, b->len);
}

uint64_t
px_mval_hash(const struct px_mval_cls *cc, const struct px_mval *v)
{
	uint64_t h = PX_HASH_SEED;
	struct px_num n;
	size_t len = v->len, i;
	int64_t t;
	double d;
	uint8_t c;

	if (v->null) {
		return 0x9e3779b97f4a7c15ull;
	}
	if (cc->kind == PX_MVAL_NUM && px_num_parse(v->p, v->len, &n)) {
		h = px_mval_fnv(h, n.neg ? "-" : "+", 1);
		return px_mval_fnv(px_mval_fnv(px_mval_fnv(h, n.ip, n.il), ".", 1), n.fp, n.fl);
	}
	if (cc->kind == PX_MVAL_NUM || cc->kind == PX_MVAL_DBL) {
		d = px_strtod(v->p, v->len);
		d = d == 0 ? 0 : d; /* -0 == 0 */
		return px_mval_fnv(h, &d, sizeof(d));
	}
	if (cc->kind == PX_MVAL_TIME && px_time_parse(v->p, v->len, &t)) {
		return px_mval_fnv(h, &t, sizeof(t));
	}
	for (; cc->pad && len > 0 && v->p[len - 1] == ' '; len--) {
	}
	for (i = 0; i < len; i++) {
		c = cc->fold ? px_upper(v->p[i]) : v->p[i];
		h = (h ^ c) * 0x100000001b3ull;
	}
	return h;
}

/* ---- exact decimals ---- */

static void
px_dec_neg(struct px_mval_dec *d)
{
	uint32_t carry = 1, v;
	size_t i;

	for (i = 0; i < PX_MVAL_DEC_LIMBS; i++) {
		v = PX_DEC_BASE - 1 - d->l[i] + carry;
		carry = v >= PX_DEC_BASE;
		d->l[i] = carry ? v - PX_DEC_BASE : v;
	}
}

bool
px_mval_dec_add(struct px_mval_dec *acc, const struct px_mval *v)
{
	static const uint32_t pow10[9] = { 1,      10,      100,      1000,     10000,
					   100000, 1000000, 10000000, 100000000 };
	const size_t fdig = 9 * PX_DEC_FLIMBS;
	struct px_mval_dec x;
	struct px_num n;
	uint32_t carry = 0, sum;
	size_t i, pos;

	if (v->null || !px_num_parse(v->p, v->len, &n) || n.fl > fdig || n.il > PX_DEC_IN_INT) {
		return false;
	}
	memset(&x, 0, sizeof(x));
	for (i = 0; i < n.fl; i++) {
		pos = fdig - 1 - i;
		x.l[pos / 9] += (uint32_t)(n.fp[i] - '0') * pow10[pos % 9];
	}
	for (i = 0; i < n.il; i++) {
		pos = fdig + n.il - 1 - i;
		x.l[pos / 9] += (uint32_t)(n.ip[i] - '0') * pow10[pos % 9];
	}
	if (n.neg) {
		px_dec_neg(&x);
	}
	for (i = 0; i < PX_MVAL_DEC_LIMBS; i++) {
		sum = acc->l[i] + x.l[i] + carry;
		carry = sum >= PX_DEC_BASE;
		acc->l[i] = carry ? sum - PX_DEC_BASE : sum;
	}
	return true;
}

/*
 * Formats <dig> (<ni> integer then <nf> fraction digits, '0'..'9', dig[0] == '0' so a carry
 * never runs off the top) with <dec> decimals, rounding half away from zero. Returns the length.
 */
static size_t
px_round_fmt(bool neg, char *dig, size_t ni, size_t nf, unsigned int dec, char *out)
{
	size_t keep = ni + (dec < nf ? dec : nf), i, k = 0, start;
	bool carry = dec < nf && dig[ni + dec] >= '5', nz = false;

	for (i = keep; carry && i > 0; i--) {
		carry = dig[i - 1] == '9';
		dig[i - 1] = carry ? '0' : (char)(dig[i - 1] + 1);
	}
	for (start = 0; start + 1 < ni && dig[start] == '0'; start++) {
	}
	for (i = start; i < keep; i++) {
		nz = nz || dig[i] != '0';
	}
	if (neg && nz) {
		out[k++] = '-';
	}
	memcpy(out + k, dig + start, ni - start);
	k += ni - start;
	if (dec > 0) {
		out[k++] = '.';
		memcpy(out + k, dig + ni, keep - ni);
		k += keep - ni;
		memset(out + k, '0', dec - (keep - ni));
		k += dec - (keep - ni);
	}
	out[k] = '\0';
	return k;
}

size_t
px_mval_dec_fmt(const struct px_mval_dec *d, unsigned int dec, char out[PX_MVAL_TEXT])
{
	char dig[PX_MVAL_DEC_LIMBS * 9];
	struct px_mval_dec m = *d;
	bool neg = m.l[PX_MVAL_DEC_LIMBS - 1] >= PX_DEC_BASE / 2;
	uint32_t v;
	size_t i, k;

	if (neg) {
		px_dec_neg(&m);
	}
	for (i = 0; i < PX_MVAL_DEC_LIMBS; i++) {
		v = m.l[PX_MVAL_DEC_LIMBS - 1 - i];
		for (k = 9; k > 0; k--, v /= 10) {
			dig[i * 9 + k - 1] = (char)('0' + v % 10);
		}
	}
	dec = dec > PX_DEC_MAX_SCALE ? PX_DEC_MAX_SCALE : dec;
	return px_round_fmt(neg, dig, 9 * (PX_MVAL_DEC_LIMBS - PX_DEC_FLIMBS), 9 * PX_DEC_FLIMBS,
			    dec, out);
}

/* Long division of the sum's digits by the count (below 10^19, so 128-bit remainders do). */
bool
px_mval_avg(const struct px_mval *s, const struct px_mval *c, unsigned int dec,
	    char out[PX_MVAL_TEXT])
{
	char dig[PX_MVAL_TEXT];
	struct px_num sn, cn;
	unsigned __int128 rem = 0;
	uint64_t cnt = 0;
	size_t i, k = 0, ni;
	unsigned int d;

	dec = dec > PX_DEC_MAX_SCALE ? PX_DEC_MAX_SCALE : dec;
	if (s->null || c->null || !px_num_parse(s->p, s->len, &sn) ||
	    !px_num_parse(c->p, c->len, &cn) || cn.neg || cn.fl > 0 || cn.il == 0 || cn.il > 19 ||
	    sn.il > PX_DEC_IN_INT) {
		return false;
	}
	for (i = 0; i < cn.il; i++) {
		cnt = cnt * 10 + (uint64_t)(cn.ip[i] - '0');
	}
	ni = 1 + sn.il; /* a leading 0 digit absorbs the rounding carry */
	for (i = 0; i < ni + dec + 1; i++) {
		d = i == 0 ? 0
			   : (i < ni ? sn.ip[i - 1] : (i - ni < sn.fl ? sn.fp[i - ni] : '0')) - '0';
		rem = rem * 10 + d;
		dig[k++] = (char)('0' + (unsigned int)(rem / cnt));
		rem %= cnt;
	}
	px_round_fmt(sn.neg, dig, ni, dec + 1, dec, out);
	return true;
}

/*
 * Doubles as text. With fixed decimals (< 31): "%.*f". Otherwise the shortest digits that
 * read back to the same double (like "%.17g" but minimal), in fixed notation for exponents
 * -4..14 and else as MariaDB writes them ("1e20", "1.5e-7"). Approximate: MariaDB's own
 * cut-over to the exponent form depends on the column width, and sums of doubles depend on
 * the order of addition, which differs from a single server's.
 */
size_t
px_mval_dbl_fmt(double x, unsigned int dec, char out[PX_MVAL_TEXT])
{
	char e[48], *ep;
	int p, ex, n;

	if (dec < PX_DBL_NOT_FIXED || !isfinite(x)) { /* a sum can overflow to inf */
		n = snprintf(out, PX_MVAL_TEXT, "%.*f", (int)dec, x);
	} else if (x == 0) {
		n = snprintf(out, PX_MVAL_TEXT, "0");
	} else {
		for (p = 1; p < 17; p++) {
			snprintf(e, sizeof(e), "%.*e", p - 1, x);
			if (strtod(e, NULL) == x) {
				break;
			}
		}
		snprintf(e, sizeof(e), "%.*e", p - 1, x);
		ep = strchr(e, 'e');
		ex = atoi(ep + 1);
		if (ex >= -4 && ex < 15) {
			n = snprintf(out, PX_MVAL_TEXT, "%.*f", p - 1 - ex > 0 ? p - 1 - ex : 0, x);
		} else {
			n = snprintf(out, PX_MVAL_TEXT, "%.*se%d", (int)(ep - e), e, ex);
		}
	}
	return n < 0 ? 0 : (n >= PX_MVAL_TEXT ? PX_MVAL_TEXT - 1 : (size_t)n);
}

/* ---- HAVING ---- */

enum px_tv {
	PX_TV_FALSE = 0,
	PX_TV_TRUE,
	PX_TV_NULL,
};

/* What HAVING is evaluated on. */
struct px_hv {
	const struct rt_merge *spec;   /* borrowed */
	const struct px_mval_cls *cls; /* borrowed: one per column */
	const struct px_mval *row;     /* borrowed: the merged row */
};

/* A comparison operand: a column value, a literal or a boolean subexpression as 1/0. */
struct px_opnd {
	struct px_mval v;
	int col;     /* column index, -1 for a literal */
	bool is_str; /* a string literal */
};

static enum px_tv px_hv_eval(const struct px_hv *h, int idx, unsigned int depth);

static void
px_hv_opnd(const struct px_hv *h, int idx, unsigned int depth, struct px_opnd *o)
{
	const struct rt_hv_node *n = &h->spec->having[idx];
	enum px_tv tv;

	memset(o, 0, sizeof(*o));
	o->col = -1;
	if (n->op == RT_HV_COL) {
		o->v = h->row[n->col];
		o->col = (int)n->col;
	} else if (n->op == RT_HV_LIT) {
		o->v.p = (const uint8_t *)n->lit;
		o->v.len = n->lit_len;
		o->is_str = n->lit_is_string;
	} else if (n->op == RT_HV_NULL) {
		o->v.null = true;
	} else {
		tv = px_hv_eval(h, idx, depth + 1);
		o->v.null = tv == PX_TV_NULL;
		o->v.p = (const uint8_t *)(tv == PX_TV_TRUE ? "1" : "0");
		o->v.len = 1;
	}
}

/* Like MariaDB: a number against text compares as doubles; otherwise the column's rules. */
static int
px_opnd_cmp(const struct px_hv *h, const struct px_opnd *x, const struct px_opnd *y)
{
	static const struct px_mval_cls num = { PX_MVAL_NUM, false, false };
	static const struct px_mval_cls dbl = { PX_MVAL_DBL, false, false };
	static const struct px_mval_cls bytes = { PX_MVAL_STR, false, false };
	const struct px_mval_cls *cx = x->col >= 0 ? &h->cls[x->col] : (x->is_str ? &bytes : &num);
	const struct px_mval_cls *cy = y->col >= 0 ? &h->cls[y->col] : (y->is_str ? &bytes : &num);
	bool nx = cx->kind == PX_MVAL_NUM || cx->kind == PX_MVAL_DBL;
	bool ny = cy->kind == PX_MVAL_NUM || cy->kind == PX_MVAL_DBL;
	const struct px_mval_cls *cc = x->col >= 0 || y->col < 0 ? cx : cy;

	if (nx != ny || (nx && (cx->kind == PX_MVAL_DBL || cy->kind == PX_MVAL_DBL))) {
		cc = &dbl;
	}
	return px_raw_cmp(cc, x->v.p, x->v.len, y->v.p, y->v.len);
}

static enum px_tv
px_hv_cmp(const struct px_hv *h, const struct rt_hv_node *n, unsigned int depth)
{
	struct px_opnd x, y;
	bool r = false;
	int c;

	px_hv_opnd(h, n->a, depth, &x);
	px_hv_opnd(h, n->b, depth, &y);
	if (x.v.null || y.v.null) {
		return PX_TV_NULL;
	}
	c = px_opnd_cmp(h, &x, &y);
	switch (n->op) {
	case RT_HV_EQ:
		r = c == 0;
		break;
	case RT_HV_NE:
		r = c != 0;
		break;
	case RT_HV_LT:
		r = c < 0;
		break;
	case RT_HV_LE:
		r = c <= 0;
		break;
	case RT_HV_GT:
		r = c > 0;
		break;
	case RT_HV_GE:
		r = c >= 0;
		break;
	default:
		break;
	}
	return r ? PX_TV_TRUE : PX_TV_FALSE;
}

static enum px_tv
px_tv_not(enum px_tv a)
{
	return a == PX_TV_NULL ? a : (a == PX_TV_TRUE ? PX_TV_FALSE : PX_TV_TRUE);
}

static enum px_tv
px_tv_and(enum px_tv a, enum px_tv b)
{
	if (a == PX_TV_FALSE || b == PX_TV_FALSE) {
		return PX_TV_FALSE;
	}
	return a == PX_TV_TRUE && b == PX_TV_TRUE ? PX_TV_TRUE : PX_TV_NULL;
}

/* Three-valued HAVING; <depth> stops a plan whose nodes form a cycle. */
static enum px_tv
px_hv_eval(const struct px_hv *h, int idx, unsigned int depth)
{
	const struct rt_hv_node *n = &h->spec->having[idx];
	struct px_opnd o;

	if (depth > h->spec->n_having) {
		return PX_TV_NULL;
	}
	switch (n->op) {
	case RT_HV_AND:
		return px_tv_and(px_hv_eval(h, n->a, depth + 1), px_hv_eval(h, n->b, depth + 1));
	case RT_HV_OR: /* a OR b == NOT (NOT a AND NOT b), in three-valued logic too */
		return px_tv_not(px_tv_and(px_tv_not(px_hv_eval(h, n->a, depth + 1)),
					   px_tv_not(px_hv_eval(h, n->b, depth + 1))));
	case RT_HV_NOT:
		return px_tv_not(px_hv_eval(h, n->a, depth + 1));
	case RT_HV_IS_NULL:
	case RT_HV_IS_NOT_NULL:
		px_hv_opnd(h, n->a, depth, &o);
		return o.v.null == (n->op == RT_HV_IS_NULL) ? PX_TV_TRUE : PX_TV_FALSE;
	case RT_HV_EQ:
	case RT_HV_NE:
	case RT_HV_LT:
	case RT_HV_LE:
	case RT_HV_GT:
	case RT_HV_GE:
		return px_hv_cmp(h, n, depth);
	case RT_HV_COL:
	case RT_HV_LIT:
	case RT_HV_NULL:
		break;
	}
	/* a value as a condition: true when it is a non-zero number */
	px_hv_opnd(h, idx, depth, &o);
	if (o.v.null) {
		return PX_TV_NULL;
	}
	return px_strtod(o.v.p, o.v.len) != 0 ? PX_TV_TRUE : PX_TV_FALSE;
}

/* A HAVING node's children exist and its column is in the rows. */
static bool
px_hv_fits(const struct rt_hv_node *h, unsigned int n_having, unsigned int nc)
{
	bool unary = h->op == RT_HV_NOT || h->op == RT_HV_IS_NULL || h->op == RT_HV_IS_NOT_NULL;
	bool binary =
		h->op == RT_HV_AND || h->op == RT_HV_OR || (h->op >= RT_HV_EQ && h->op <= RT_HV_GE);

	if (h->op == RT_HV_COL) {
		return h->col < nc;
	}
	if ((unary || binary) && (h->a < 0 || h->a >= (int)n_having)) {
		return false;
	}
	if (binary && (h->b < 0 || h->b >= (int)n_having)) {
		return false;
	}
	return h->op <= RT_HV_IS_NOT_NULL;
}

bool
px_mval_having_fits(const struct rt_merge *spec, unsigned int n_cols)
{
	unsigned int i;

	for (i = 0; i < spec->n_having; i++) {
		if (!px_hv_fits(&spec->having[i], spec->n_having, n_cols)) {
			return false;
		}
	}
	return true;
}

bool
px_mval_having(const struct rt_merge *spec, const struct px_mval_cls *cls,
	       const struct px_mval *row)
{
	struct px_hv h = { spec, cls, row };

	return spec->n_having == 0 || px_hv_eval(&h, 0, 0) == PX_TV_TRUE;
}
