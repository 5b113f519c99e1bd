/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/merge/tm.c - cmocka runner for the merge engine tests and the helpers of tm.h.
 * test_merge.c covers streaming, sorting, errors, OK packets and the memory cap;
 * test_group.c GROUP BY, aggregates and HAVING; test_mval.c the value rules on their own.
 * No sockets, no sleeps.
 */
#include "tm.h"

#include "protocol/mp_result.h"
#include "router/rt_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tm_leg *
tm_legs(size_t n)
{
	struct tm_leg *l = calloc(n, sizeof(*l));

	assert_non_null(l);
	return l;
}

static struct tm_pkt *
tm_next(struct tm_leg *l, enum mp_pkt_kind kind)
{
	if (l->n == TM_MAX_PKTS) {
		fail_msg("more than %d packets in a leg", TM_MAX_PKTS);
	}
	l->p[l->n].kind = kind;
	return &l->p[l->n++];
}

static struct ms_slice
tm_sl(const char *s)
{
	struct ms_slice v = { (const uint8_t *)s, strlen(s) };

	return v;
}

void
tm_rs(struct tm_leg *l, const struct tm_col *cols, unsigned int n)
{
	struct mp_writer w;
	struct mp_coldef d;
	struct tm_pkt *p = tm_next(l, MP_PKT_DATA);
	unsigned int i;

	mp_writer_init(&w, p->b, sizeof(p->b));
	mp_lenenc_put(&w, n);
	p->len = mp_writer_len(&w);
	for (i = 0; i < n; i++) {
		memset(&d, 0, sizeof(d));
		d.catalog = tm_sl("def");
		d.schema = tm_sl("db");
		d.table = d.org_table = tm_sl("t");
		d.name = d.org_name = tm_sl(cols[i].name);
		d.charset = cols[i].charset;
		d.length = 20;
		d.type = cols[i].type;
		d.decimals = cols[i].decimals;
		p = tm_next(l, MP_PKT_DATA);
		mp_writer_init(&w, p->b, sizeof(p->b));
		mp_coldef_write(&w, &d);
		assert_false(w.overflow);
		p->len = mp_writer_len(&w);
	}
	p = tm_next(l, MP_PKT_EOF);
	mp_writer_init(&w, p->b, sizeof(p->b));
	mp_eof_write(&w, 0, MP_STATUS_AUTOCOMMIT);
	p->len = mp_writer_len(&w);
}

size_t
tm_row_bytes(uint8_t *out, size_t cap, unsigned int n, const char *const *vals)
{
	struct mp_writer w;
	unsigned int i;

	mp_writer_init(&w, out, cap);
	for (i = 0; i < n; i++) {
		if (vals[i] == NULL) {
			mp_u8_put(&w, 0xfb);
		} else {
			mp_lenenc_str_put(&w, vals[i], strlen(vals[i]));
		}
	}
	assert_false(w.overflow);
	return mp_writer_len(&w);
}

void
tm_rowa(struct tm_leg *l, unsigned int n, const char *const *vals)
{
	struct tm_pkt *p = tm_next(l, MP_PKT_DATA);

	p->len = tm_row_bytes(p->b, sizeof(p->b), n, vals);
}

void
tm_row(struct tm_leg *l, unsigned int n, ...)
{
	const char *vals[32];
	unsigned int i;
	va_list ap;

	assert_true(n <= 32);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		vals[i] = va_arg(ap, const char *);
	}
	va_end(ap);
	tm_rowa(l, n, vals);
}

void
tm_end(struct tm_leg *l, uint16_t warnings, uint16_t status)
{
	struct tm_pkt *p = tm_next(l, MP_PKT_EOF);
	struct mp_writer w;

	mp_writer_init(&w, p->b, sizeof(p->b));
	mp_eof_write(&w, warnings, status);
	p->len = mp_writer_len(&w);
}

void
tm_ok(struct tm_leg *l, uint64_t affected, uint64_t id, uint16_t status, uint16_t warnings,
      const char *info)
{
	struct tm_pkt *p = tm_next(l, MP_PKT_OK);
	struct mp_writer w;
	struct mp_ok ok;

	memset(&ok, 0, sizeof(ok));
	ok.affected_rows = affected;
	ok.last_insert_id = id;
	ok.status = status;
	ok.warnings = warnings;
	ok.info = tm_sl(info);
	mp_writer_init(&w, p->b, sizeof(p->b));
	mp_ok_write(&w, &ok, true);
	p->len = mp_writer_len(&w);
}

void
tm_err(struct tm_leg *l, uint16_t code, const char *state, const char *msg)
{
	struct tm_pkt *p = tm_next(l, MP_PKT_ERR);
	struct mp_writer w;

	mp_writer_init(&w, p->b, sizeof(p->b));
	mp_err_write(&w, code, state, msg);
	p->len = mp_writer_len(&w);
}

void
tm_emit(void *arg, const uint8_t *p, size_t len)
{
	struct tm_out *o = arg;

	assert_true(o->n < MS_ARRAY_LEN(o->p));
	o->p[o->n] = malloc(len > 0 ? len : 1);
	assert_non_null(o->p[o->n]);
	memcpy(o->p[o->n], p, len);
	o->len[o->n++] = len;
}

void
tm_out_free(struct tm_out *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->p[i]);
	}
	o->n = 0;
}

static char tm_text[16384];

static void
tm_cat(const char *fmt, ...)
{
	size_t k = strlen(tm_text);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tm_text + k, sizeof(tm_text) - k, fmt, ap);
	va_end(ap);
}

/* Renders a terminator (EOF, ERR) or returns false for a row. */
static bool
tm_render_end(const uint8_t *p, size_t len)
{
	struct mp_err e;
	uint16_t w, s;

	if (len > 0 && p[0] == 0xff) {
		assert_int_equal(mp_err_read(p, len, &e), MP_OK);
		tm_cat("ERR %u %s %.*s", e.code, e.sqlstate, (int)e.message.len,
		       (const char *)e.message.ptr);
		return true;
	}
	if (len > 0 && len < 9 && p[0] == 0xfe) {
		assert_int_equal(mp_eof_read(p, len, &w, &s), MP_OK);
		tm_cat("EOF w=%u s=%u", w, s);
		return true;
	}
	return false;
}

static void
tm_render_row(const uint8_t *p, size_t len, uint64_t n)
{
	struct mp_cursor c;
	struct ms_slice v;
	bool null;
	uint64_t i;

	mp_cursor_init(&c, p, len);
	for (i = 0; i < n; i++) {
		assert_int_equal(mp_textrow_next(&c, &v, &null), MP_OK);
		if (null) {
			tm_cat("%sNULL", i > 0 ? "," : "");
		} else {
			tm_cat("%s%.*s", i > 0 ? "," : "", (int)v.len, (const char *)v.ptr);
		}
	}
	assert_int_equal(mp_cursor_left(&c), 0);
	tm_cat("|");
}

static void
tm_render_rs(const struct tm_out *o, uint64_t n)
{
	struct mp_coldef d;
	size_t i;

	tm_cat("cols=");
	for (i = 1; i <= n; i++) {
		assert_true(i < o->n);
		assert_int_equal(mp_coldef_read(o->p[i], o->len[i], &d), MP_OK);
		tm_cat("%s%.*s", i > 1 ? "," : "", (int)d.name.len, (const char *)d.name.ptr);
	}
	tm_cat("|");
	assert_true(n + 1 < o->n && o->p[n + 1][0] == 0xfe);
	for (i = n + 2; i < o->n; i++) {
		if (tm_render_end(o->p[i], o->len[i])) {
			assert_int_equal(i + 1, o->n);
			return;
		}
		tm_render_row(o->p[i], o->len[i], n);
	}
	tm_cat("(no terminator)");
}

const char *
tm_render(const struct tm_out *o)
{
	struct mp_cursor c;
	struct mp_ok ok;
	uint64_t n;

	tm_text[0] = '\0';
	if (o->n == 0) {
		return "(nothing)";
	}
	if (o->p[0][0] == 0x00) {
		assert_int_equal(o->n, 1);
		assert_int_equal(mp_ok_read(o->p[0], o->len[0], false, &ok), MP_OK);
		tm_cat("OK a=%llu id=%llu s=%u w=%u info=%.*s",
		       (unsigned long long)ok.affected_rows, (unsigned long long)ok.last_insert_id,
		       ok.status, ok.warnings, (int)ok.info.len, (const char *)ok.info.ptr);
		return tm_text;
	}
	if (tm_render_end(o->p[0], o->len[0])) {
		assert_int_equal(o->n, 1);
		return tm_text;
	}
	mp_cursor_init(&c, o->p[0], o->len[0]);
	assert_int_equal(mp_lenenc_read(&c, &n), MP_OK);
	tm_render_rs(o, n);
	return tm_text;
}

enum px_merge_rc
tm_feed1(struct px_merge *m, struct tm_leg *legs, size_t i)
{
	struct tm_leg *l = &legs[i];
	struct mp_resp_event ev;
	struct tm_pkt *p;

	assert_true(l->next < l->n);
	p = &l->p[l->next++];
	memset(&ev, 0, sizeof(ev));
	ev.kind = p->kind;
	ev.done = l->next == l->n;
	return px_merge_feed(m, i, &ev, p->b, p->len);
}

void
tm_feed(struct px_merge *m, struct tm_leg *legs, size_t n, const char *order)
{
	size_t i;

	for (; order != NULL && *order != '\0'; order++) {
		assert_int_equal(tm_feed1(m, legs, (size_t)(*order - '0')), PX_MERGE_OK);
	}
	for (i = 0; i < n; i++) {
		while (legs[i].next < legs[i].n) {
			assert_int_equal(tm_feed1(m, legs, i), PX_MERGE_OK);
		}
	}
}

static const char *const tm_names[] = { "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7" };

const char *
tm_run(const struct rt_merge *spec, struct tm_leg *legs, size_t n, const char *order,
       size_t mem_cap, struct tm_out *out)
{
	struct px_merge *m;

	assert_int_equal(px_merge_new(spec, n, tm_names, mem_cap, tm_emit, out, &m), MS_OK);
	tm_feed(m, legs, n, order);
	assert_int_equal(px_merge_finish(m, 0), PX_MERGE_OK);
	px_merge_free(m);
	return tm_render(out);
}

int
main(void)
{
	int failed = 0;

	failed += tm_run_merge_tests();
	failed += tm_run_group_tests();
	failed += tm_run_mval_tests();
	return failed == 0 ? 0 : 1;
}
