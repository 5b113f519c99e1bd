/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/merge/test_mval.c - px_mval on its own: ordering per column type and collation
 * (integers, DECIMAL, doubles, signed TIME, _ci / _bin / binary / NO PAD text, NULL), hashes
 * that agree with equality, exact decimal sums and rounding, AVG division, double printing,
 * and HAVING plans that do not fit.
 */
#include "tm.h"

#include "protocol/mp_result.h"
#include "proxy/px_mval.h"
#include "router/rt_plan.h"

#include <string.h>

static struct px_mval
mv(const char *s)
{
	struct px_mval v = { (const uint8_t *)s, s != NULL ? strlen(s) : 0, s == NULL };

	return v;
}

static struct px_mval_cls
cls_of(uint8_t type, uint16_t charset)
{
	struct mp_coldef d;
	struct px_mval_cls c;

	memset(&d, 0, sizeof(d));
	d.type = type;
	d.charset = charset;
	px_mval_cls_init(&d, &c);
	return c;
}

/* Each value sorts strictly after the one before it; equal pairs hash the same. */
static void
assert_ascending(struct px_mval_cls c, const char *const *v, size_t n)
{
	struct px_mval a, b;
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		a = mv(v[i]);
		b = mv(v[i + 1]);
		if (px_mval_cmp(&c, &a, &b) >= 0 || px_mval_cmp(&c, &b, &a) <= 0) {
			fail_msg("'%s' should sort before '%s'", v[i] ? v[i] : "NULL",
				 v[i + 1] ? v[i + 1] : "NULL");
		}
	}
}

static void
assert_same(struct px_mval_cls c, const char *x, const char *y)
{
	struct px_mval a = mv(x), b = mv(y);

	if (px_mval_cmp(&c, &a, &b) != 0 || px_mval_hash(&c, &a) != px_mval_hash(&c, &b)) {
		fail_msg("'%s' and '%s' should be equal with equal hashes", x ? x : "NULL",
			 y ? y : "NULL");
	}
}

static void
test_mval_numbers(void **state)
{
	const char *ints[] = { NULL,
			       "-9223372036854775808",
			       "-10",
			       "-9",
			       "0",
			       "9",
			       "10",
			       "9223372036854775807",
			       "18446744073709551615" };
	const char *decs[] = { NULL,
			       "-1.5",
			       "-1.25",
			       "-0.001",
			       "0",
			       "0.001",
			       "0.1",
			       "1",
			       "1.0000000000000000000000000000001",
			       "99999999999999999999.99" };
	const char *dbls[] = { NULL, "-1e300", "-2.5", "0", "1e-5", "0.5", "2", "1e3", "1.5e3" };
	struct px_mval_cls i = cls_of(8, 63), d = cls_of(246, 63), f = cls_of(5, 63);

	(void)state;
	assert_ascending(i, ints, MS_ARRAY_LEN(ints));
	assert_ascending(d, decs, MS_ARRAY_LEN(decs));
	assert_ascending(f, dbls, MS_ARRAY_LEN(dbls));
	assert_same(d, "1", "1.000");
	assert_same(d, "-0.00", "0");
	assert_same(d, "007", "7.0");
	assert_same(i, "0005", "5");
	assert_same(f, "1000", "1e3");
	assert_same(f, "-0", "0");
	assert_same(d, NULL, NULL);
	assert_same(cls_of(13, 63), "2024", "2024");
}

static void
test_mval_time(void **state)
{
	const char *t[] = { NULL,       "-838:59:59",      "-01:00:00",  "-00:00:00.5",
			    "00:00:00", "00:00:00.000001", "00:59:59.5", "09:00:00",
			    "10:00:00", "838:59:59" };
	const char *dt[] = { "2023-12-31 23:59:59", "2024-01-01 00:00:00",
			     "2024-01-01 00:00:00.5" };
	struct px_mval_cls c = cls_of(11, 63);

	(void)state;
	assert_ascending(c, t, MS_ARRAY_LEN(t));
	assert_same(c, "01:00:00", "1:00:00.000");
	assert_same(c, "-00:00:00", "00:00:00");
	assert_ascending(cls_of(12, 63), dt, MS_ARRAY_LEN(dt));
}

static void
test_mval_text(void **state)
{
	const char *ci[] = { NULL, "", "a\t", "a", "ab", "B", "b c", "_", "\xc3\xa9" };
	const char *bin[] = { NULL, "", "B", "a\t", "a", "ab" };
	const char *raw[] = { NULL, "", "a", "a ", "a\xff" };
	struct px_mval_cls c = cls_of(253, 45), b = cls_of(253, 46), r = cls_of(253, 63);
	struct px_mval_cls nopad = cls_of(253, 1069), cs = cls_of(253, 49), u = cls_of(253, 224);

	(void)state;
	assert_ascending(c, ci, MS_ARRAY_LEN(ci));
	assert_ascending(b, bin, MS_ARRAY_LEN(bin));
	assert_ascending(r, raw, MS_ARRAY_LEN(raw));
	assert_same(c, "ABC", "abc  ");
	assert_same(u, "Straße", "STRAßE");
	assert_same(b, "abc", "abc ");
	assert_same(cls_of(254, 83), "x", "x   ");
	assert_same(cls_of(253, 8), "Hello", "hELLO");
	assert_ascending(nopad, (const char *[]){ "a", "a " }, 2);
	assert_ascending(cs, (const char *[]){ "A", "a" }, 2);
	assert_ascending(cls_of(10, 63), (const char *[]){ "2024-01-01", "2024-01-02" }, 2);
}

static const char *
dsum(const char *const *v, size_t n, unsigned int dec)
{
	static char out[PX_MVAL_TEXT];
	struct px_mval_dec acc;
	struct px_mval x;
	size_t i;

	memset(&acc, 0, sizeof(acc));
	for (i = 0; i < n; i++) {
		x = mv(v[i]);
		assert_true(px_mval_dec_add(&acc, &x));
	}
	i = px_mval_dec_fmt(&acc, dec, out);
	assert_int_equal(i, strlen(out));
	return out;
}

static void
test_mval_decimal(void **state)
{
	const char *big[] = { "18446744073709551615", "18446744073709551615",
			      "18446744073709551615" };
	const char *mix[] = { "-1.5", "0.25", "-0.125" };
	const char *wide[] = {
		"-99999999999999999999999999999999999.999999999999999999999999999999",
		"-0.000000000000000000000000000001"
	};
	const char *tiny[] = { "0.004", "-0.009" };
	struct px_mval_dec acc;
	struct px_mval x;

	(void)state;
	assert_string_equal(dsum(big, 3, 0), "55340232221128654845");
	assert_string_equal(dsum(mix, 3, 3), "-1.375");
	assert_string_equal(dsum(mix, 3, 2), "-1.38"); /* half away from zero */
	assert_string_equal(dsum(mix, 3, 5), "-1.37500");
	assert_string_equal(dsum(mix + 1, 1, 1), "0.3");
	assert_string_equal(dsum(wide, 2, 30),
			    "-100000000000000000000000000000000000.000000000000000000000000000000");
	assert_string_equal(dsum(tiny, 2, 2), "-0.01");
	assert_string_equal(dsum(tiny, 2, 1), "0.0");
	assert_string_equal(dsum(NULL, 0, 2), "0.00");
	memset(&acc, 0, sizeof(acc));
	x = mv("1e5");
	assert_false(px_mval_dec_add(&acc, &x));
	x = mv("abc");
	assert_false(px_mval_dec_add(&acc, &x));
	x = mv(NULL);
	assert_false(px_mval_dec_add(&acc, &x));
}

static const char *
avg(const char *s, const char *c, unsigned int dec)
{
	static char out[PX_MVAL_TEXT];
	struct px_mval a = mv(s), b = mv(c);

	if (!px_mval_avg(&a, &b, dec, out)) {
		return "(false)";
	}
	return out;
}

static void
test_mval_avg(void **state)
{
	(void)state;
	assert_string_equal(avg("7", "2", 4), "3.5000");
	assert_string_equal(avg("-7", "2", 0), "-4");
	assert_string_equal(avg("5", "2", 0), "3");
	assert_string_equal(avg("-5", "3", 4), "-1.6667");
	assert_string_equal(avg("2", "3", 4), "0.6667");
	assert_string_equal(avg("1", "8", 2), "0.13");
	assert_string_equal(avg("-1", "8", 2), "-0.13");
	assert_string_equal(avg("-0.001", "1", 2), "0.00");
	assert_string_equal(avg("99999999999999999999.999999", "9999999999999999999", 6),
			    "10.000000");
	assert_string_equal(avg("36893488147419103230", "2", 4), "18446744073709551615.0000");
	assert_string_equal(avg("1.23456", "1", 2), "1.23");
	assert_string_equal(avg("1", "3", 40), "0.33333333333333333333333333333333333333");
	assert_string_equal(avg("1", "0.5", 2), "(false)");
	assert_string_equal(avg("1e3", "1", 2), "(false)");
	assert_string_equal(avg("1", "-1", 2), "(false)");
}

static const char *
dbl(double x, unsigned int dec)
{
	static char out[PX_MVAL_TEXT];

	size_t n = px_mval_dbl_fmt(x, dec, out);

	assert_int_equal(n, strlen(out));
	return out;
}

static void
test_mval_double(void **state)
{
	(void)state;
	assert_string_equal(dbl(0.1 + 0.2, 31), "0.30000000000000004");
	assert_string_equal(dbl(1e20, 31), "1e20");
	assert_string_equal(dbl(-1.5e-7, 31), "-1.5e-7");
	assert_string_equal(dbl(100, 31), "100");
	assert_string_equal(dbl(123.456, 39), "123.456");
	assert_string_equal(dbl(1e14, 31), "100000000000000");
	assert_string_equal(dbl(1e15, 31), "1e15");
	assert_string_equal(dbl(0.0001, 31), "0.0001");
	assert_string_equal(dbl(-0.0, 31), "0");
	assert_string_equal(dbl(2.5, 2), "2.50");
	assert_string_equal(dbl(1.0 / 3, 31), "0.3333333333333333");
	assert_string_equal(dbl(1e308 * 10, 31), "inf");
	assert_string_equal(dbl(-1e308 * 10, 31), "-inf");
}

static void
test_mval_having_fits(void **state)
{
	struct rt_hv_node ok[] = { { RT_HV_GT, 0, NULL, 0, false, 1, 2 },
				   { RT_HV_COL, 1, NULL, 0, false, -1, -1 },
				   { RT_HV_LIT, 0, "1", 1, false, -1, -1 } };
	struct rt_hv_node bad_col[] = { { RT_HV_COL, 2, NULL, 0, false, -1, -1 } };
	struct rt_hv_node bad_kid[] = { { RT_HV_AND, 0, NULL, 0, false, 0, 1 } };
	struct rt_hv_node no_kid[] = { { RT_HV_NOT, 0, NULL, 0, false, -1, -1 } };
	struct rt_hv_node cycle[] = { { RT_HV_NOT, 0, NULL, 0, false, 0, -1 } };
	struct rt_merge spec = { .kind = RT_MERGE_GROUP, .having = ok, .n_having = 3 };
	struct px_mval_cls cls[2] = { cls_of(3, 63), cls_of(3, 63) };
	struct px_mval row[2] = { mv("1"), mv("2") };

	(void)state;
	assert_true(px_mval_having_fits(&spec, 2));
	assert_true(px_mval_having(&spec, cls, row)); /* 2 > 1 */
	row[1] = mv(NULL);
	assert_false(px_mval_having(&spec, cls, row));
	assert_false(px_mval_having_fits(&spec, 1));
	spec.having = bad_col;
	spec.n_having = 1;
	assert_false(px_mval_having_fits(&spec, 2));
	spec.having = bad_kid;
	assert_false(px_mval_having_fits(&spec, 2));
	spec.having = no_kid;
	assert_false(px_mval_having_fits(&spec, 2));
	spec.having = cycle; /* fits, and evaluates to NULL instead of recursing forever */
	assert_true(px_mval_having_fits(&spec, 2));
	assert_false(px_mval_having(&spec, cls, row));
	spec.n_having = 0;
	assert_true(px_mval_having(&spec, cls, row));
}

int
tm_run_mval_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mval_numbers),     cmocka_unit_test(test_mval_time),
		cmocka_unit_test(test_mval_text),        cmocka_unit_test(test_mval_decimal),
		cmocka_unit_test(test_mval_avg),         cmocka_unit_test(test_mval_double),
		cmocka_unit_test(test_mval_having_fits),
	};

	return cmocka_run_group_tests_name("mval", tests, NULL, NULL);
}
