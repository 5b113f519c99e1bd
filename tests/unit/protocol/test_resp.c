/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/protocol/test_resp.c - mp_resp, the response tracker. Feeds the captured
 * MariaDB 10.11.19 responses packet by packet (whole, and cut at every length) and checks the
 * kind of each packet, that `done` is set on the last one only, and the final status; then
 * hand-built DEPRECATE_EOF sequences, 16 MiB rows with continuation packets, errors mid-way
 * and protocol violations.
 */
#include "tp.h"

#include "protocol/mp_resp.h"
#include "protocol/mp_result.h"

#include <string.h>

/* A captured response and what the tracker must report for it. */
struct tp_seq {
	const struct tp_gold *g;
	uint8_t cmd;
	bool deprecate_eof; /* the capturing client negotiated CLIENT_DEPRECATE_EOF */
	const char *kinds;  /* per packet: D data, O OK, E EOF, X ERR; done on the last */
};

/* clang-format off */
static const struct tp_seq tp_seqs[] = {
	{ &gold_q_select1, MP_COM_QUERY, false, "DDEDE" },
	{ &gold_q_abc, MP_COM_QUERY, false, "DDDDEDE" },
	{ &gold_q_table, MP_COM_QUERY, false, "DDDDEDDE" },
	{ &gold_q_err_1146, MP_COM_QUERY, false, "X" },
	{ &gold_q_err_1064, MP_COM_QUERY, false, "X" },
	{ &gold_q_insert, MP_COM_QUERY, false, "O" },
	{ &gold_q_insert2, MP_COM_QUERY, false, "O" },
	{ &gold_init_db, MP_COM_INIT_DB, false, "O" },
	{ &gold_q_set_tz, MP_COM_QUERY, false, "O" },
	{ &gold_q_multi, MP_COM_QUERY, false, "DDEDEDDEDE" },   /* first EOFs carry MORE_RESULTS */
	{ &gold_q_multi_ok, MP_COM_QUERY, false, "DDEDEO" },    /* result set, then an OK */
	{ &gold_q_multi_err, MP_COM_QUERY, false, "DDEDEX" },   /* error mid-batch ends it */
	{ &gold_field_list, MP_COM_FIELD_LIST, false, "DDDE" }, /* no column count */
	{ &gold_statistics, MP_COM_STATISTICS, false, "D" },    /* a bare string */
	{ &gold_ping, MP_COM_PING, false, "O" },
	{ &gold_set_option, MP_COM_SET_OPTION, false, "E" },    /* EOF, not OK */
	{ &gold_prepare, MP_COM_STMT_PREPARE, false, "DDDEDDE" },
	{ &gold_execute, MP_COM_STMT_EXECUTE, false, "DDDEDE" }, /* binary result set */
	{ &gold_prepare_cur, MP_COM_STMT_PREPARE, false, "DDDE" }, /* no params: no param EOF */
	{ &gold_execute_cur, MP_COM_STMT_EXECUTE, false, "DDDE" }, /* CURSOR_EXISTS: no rows */
	{ &gold_fetch_1, MP_COM_STMT_FETCH, false, "DE" },
	{ &gold_fetch_rest, MP_COM_STMT_FETCH, false, "DDDDE" },
	{ &gold_de_q_abc, MP_COM_QUERY, true, "DDDDDO" },
	{ &gold_de_q_multi, MP_COM_QUERY, true, "DDDODDDO" },
	{ &gold_de_set_option, MP_COM_SET_OPTION, true, "O" },
	{ &gold_de_init_db, MP_COM_INIT_DB, true, "O" },
	{ &gold_de_field_list, MP_COM_FIELD_LIST, true, "DDDO" },
	{ &gold_de_prepare, MP_COM_STMT_PREPARE, true, "DDDDD" },
	{ &gold_de_execute_cur, MP_COM_STMT_EXECUTE, true, "DDDO" },
	{ &gold_de_fetch_rest, MP_COM_STMT_FETCH, true, "DDDDDO" },
	{ &gold_cli_select_database, MP_COM_QUERY, false, "DDEDE" }, /* NULL row */
	{ &gold_cli_init_db, MP_COM_INIT_DB, false, "O" },
	{ &gold_cli_set_tz, MP_COM_QUERY, false, "O" },
	{ &gold_cli_select1, MP_COM_QUERY, false, "DDEDE" },
};
/* clang-format on */

static enum mp_pkt_kind
tp_kind(char k)
{
	switch (k) {
	case 'O':
		return MP_PKT_OK;
	case 'E':
		return MP_PKT_EOF;
	case 'X':
		return MP_PKT_ERR;
	default:
		return MP_PKT_DATA;
	}
}

/* Status of an OK or EOF whose lenenc counters are one byte each (true of every packet here). */
static uint16_t
tp_term_status(const struct tp_pkt *pk)
{
	return (uint16_t)(pk->p[3] | pk->p[4] << 8);
}

static void
tp_assert_same_state(const struct mp_resp *a, const struct mp_resp *b)
{
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->cmd, b->cmd);
	assert_int_equal(a->deprecate_eof, b->deprecate_eof);
	assert_int_equal(a->in_cont, b->in_cont);
	assert_true(a->left == b->left);
	assert_int_equal(a->prep_cols, b->prep_cols);
	assert_int_equal(a->status, b->status);
}

/*
 * Feeds <n> packets to a tracker begun for <cmd>. Each packet is first offered cut at every
 * length: below min(len, MP_RESP_PEEK) that is always MP_NEED_MORE; at or above it, a data or
 * ERR packet is classified, while an OK/EOF terminator still needs its whole payload
 * (MP_NEED_MORE). MP_NEED_MORE must leave the tracker as it was. Then the whole packet.
 */
static void
tp_run_seq(const char *name, uint8_t cmd, bool deprecate_eof, const struct tp_pkt *pk, size_t n,
	   const char *kinds)
{
	struct mp_resp r, before;
	struct mp_resp_event ev;
	uint16_t last_status = 0;

	assert_int_equal(strlen(kinds), n);
	assert_true(mp_cmd_has_reply(cmd));
	mp_resp_begin(&r, cmd, deprecate_eof);
	for (size_t i = 0; i < n; i++) {
		enum mp_pkt_kind want = tp_kind(kinds[i]);
		bool term = want == MP_PKT_OK || want == MP_PKT_EOF;
		size_t peek = pk[i].len < MP_RESP_PEEK ? pk[i].len : MP_RESP_PEEK;

		for (size_t avail = 0; avail < pk[i].len; avail++) {
			enum mp_rc rc;

			before = r;
			rc = mp_resp_feed(&r, pk[i].p, avail, pk[i].len, &ev);
			if (avail < peek || term) {
				if (rc != MP_NEED_MORE) {
					fail_msg("%s[%zu] avail %zu/%u: rc %d, want MP_NEED_MORE",
						 name, i, avail, pk[i].len, rc);
				}
				tp_assert_same_state(&r, &before);
			} else {
				if (rc != MP_OK || ev.kind != want || ev.done != (i == n - 1)) {
					fail_msg("%s[%zu] avail %zu/%u: rc %d kind %d done %d",
						 name, i, avail, pk[i].len, rc, ev.kind, ev.done);
				}
				r = before; /* classify again below, from the whole packet */
			}
		}
		if (mp_resp_feed(&r, pk[i].p, pk[i].len, pk[i].len, &ev) != MP_OK) {
			fail_msg("%s[%zu]: whole packet rejected", name, i);
		}
		if (ev.kind != want) {
			fail_msg("%s[%zu]: kind %d, want %d", name, i, ev.kind, want);
		}
		if (ev.done != (i == n - 1)) {
			fail_msg("%s[%zu]: done %d on packet %zu of %zu", name, i, ev.done, i, n);
		}
		if (term) {
			last_status = tp_term_status(&pk[i]);
			assert_int_equal(ev.status, last_status);
			assert_int_equal(r.status, last_status);
		}
	}
	assert_int_equal(r.state, MP_RESP_DONE);
	assert_int_equal(r.status, last_status);
	/* Anything after the end is a protocol violation, and changes nothing. */
	before = r;
	assert_int_equal(mp_resp_feed(&r, pk[0].p, pk[0].len, pk[0].len, &ev), MP_MALFORMED);
	tp_assert_same_state(&r, &before);
}

static void
test_resp_golden(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_seqs); i++) {
		struct tp_pkt pk[TP_MAX_PKTS];
		size_t n = tp_split(tp_seqs[i].g, pk, TP_MAX_PKTS);

		tp_run_seq(tp_seqs[i].g->name, tp_seqs[i].cmd, tp_seqs[i].deprecate_eof, pk, n,
			   tp_seqs[i].kinds);
	}
}

/* The final status the golden responses leave behind. */
static void
test_resp_golden_status(void **state)
{
	static const struct {
		const struct tp_gold *g;
		uint8_t cmd;
		bool de;
		uint16_t status;
	} cases[] = {
		{ &gold_q_table, MP_COM_QUERY, false, 0x0022 },
		{ &gold_q_multi, MP_COM_QUERY, false, 0x0002 }, /* MORE_RESULTS only on the first */
		{ &gold_q_multi_err, MP_COM_QUERY, false, 0x000a }, /* ERR carries no status */
		{ &gold_q_set_tz, MP_COM_QUERY, false, 0x4002 },
		{ &gold_execute_cur, MP_COM_STMT_EXECUTE, false, 0x0062 },
		{ &gold_fetch_1, MP_COM_STMT_FETCH, false, 0x0042 },
		{ &gold_fetch_rest, MP_COM_STMT_FETCH, false, 0x0082 },
		{ &gold_de_execute_cur, MP_COM_STMT_EXECUTE, true, 0x0062 },
		{ &gold_q_err_1146, MP_COM_QUERY, false, 0x0000 },
	};

	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		struct tp_pkt pk[TP_MAX_PKTS];
		size_t n = tp_split(cases[i].g, pk, TP_MAX_PKTS);
		struct mp_resp r;
		struct mp_resp_event ev;

		mp_resp_begin(&r, cases[i].cmd, cases[i].de);
		for (size_t j = 0; j < n; j++) {
			assert_int_equal(mp_resp_feed(&r, pk[j].p, pk[j].len, pk[j].len, &ev),
					 MP_OK);
		}
		assert_true(ev.done);
		assert_int_equal(r.status, cases[i].status);
	}
}

/* Hand-built packets. */
#define TP_P(...)                                                                                  \
	{                                                                                          \
		(const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }), 0      \
	}

static void
tp_run_built(const char *name, uint8_t cmd, bool de, const struct tp_pkt *pk, size_t n,
	     const char *kinds)
{
	tp_run_seq(name, cmd, de, pk, n, kinds);
}

/* A minimal column definition (COM_QUERY form) and a column-count of 1. */
#define TP_DEF                                                                                     \
	TP_P(0x03, 'd', 'e', 'f', 0x00, 0x00, 0x00, 0x01, 'a', 0x00, 0x0c, 0x3f, 0x00, 0x01, 0x00, \
	     0x00, 0x00, 0x03, 0x81, 0x00, 0x00, 0x00, 0x00)
#define TP_PDEF                                                                                    \
	TP_P(0x03, 'd', 'e', 'f', 0x00, 0x00, 0x00, 0x01, '?', 0x00, 0x0c, 0x3f, 0x00, 0x00, 0x00, \
	     0x00, 0x00, 0x06, 0x80, 0x00, 0x00, 0x00, 0x00)
#define TP_OKFE(st)   TP_P(0xfe, 0x00, 0x00, (st), 0x00, 0x00, 0x00)
#define TP_OK00(st)   TP_P(0x00, 0x00, 0x00, (st), 0x00, 0x00, 0x00)
#define TP_EOF(st)    TP_P(0xfe, 0x00, 0x00, (st), 0x00)
/* COM_STMT_PREPARE OK: id 1, <c> columns, <p> params. */
#define TP_PREP(c, p) TP_P(0x00, 0x01, 0x00, 0x00, 0x00, (c), 0x00, (p), 0x00, 0x00, 0x00, 0x00)

/* DEPRECATE_EOF: no EOF after definitions; terminators are OK packets headed fe. */
static void
test_resp_deprecate_eof(void **state)
{
	const struct tp_pkt query[] = { TP_P(0x01), TP_DEF,        TP_P(0x01, '1'), TP_P(0x00),
					TP_P(0xfb), TP_OKFE(0x0a), TP_OK00(0x02) };
	const struct tp_pkt empty_rs[] = { TP_P(0x01), TP_DEF, TP_OKFE(0x02) };
	const struct tp_pkt prep_cols[] = { TP_PREP(2, 0), TP_DEF, TP_DEF };
	const struct tp_pkt prep_params[] = { TP_PREP(0, 2), TP_PDEF, TP_PDEF };
	const struct tp_pkt prep_both[] = { TP_PREP(1, 2), TP_PDEF, TP_PDEF, TP_DEF };
	const struct tp_pkt prep_none[] = { TP_PREP(0, 0) };
	const struct tp_pkt cursor[] = { TP_P(0x01), TP_DEF, TP_OKFE(0x42) };
	const struct tp_pkt fetch[] = { TP_P(0x00, 0x00, 0x01), TP_OKFE(0x82) };
	const struct tp_pkt fields[] = { TP_DEF, TP_DEF, TP_OKFE(0x02) };
	const struct tp_pkt setopt[] = { TP_OKFE(0x02) };
	/* A 20-byte fe-OK (info + session state) is still the terminator. */
	const struct tp_pkt long_ok[] = { TP_P(0x01), TP_DEF,
					  TP_P(0xfe, 0x00, 0x00, 0x02, 0x40, 0x00, 0x00, 0x00, 0x0b,
					       0x01, 0x09, 0x08, 's', 'h', 'a', 'r', 'd', '_', 'd',
					       'b') };

	/* A row "" (00) and a row NULL (fb) are data; MORE_RESULTS leads to the next result. */
	tp_run_built("de query", MP_COM_QUERY, true, query, MS_ARRAY_LEN(query), "DDDDDOO");
	tp_run_built("de empty", MP_COM_QUERY, true, empty_rs, MS_ARRAY_LEN(empty_rs), "DDO");
	tp_run_built("de long ok", MP_COM_QUERY, true, long_ok, MS_ARRAY_LEN(long_ok), "DDO");
	tp_run_built("de prep cols", MP_COM_STMT_PREPARE, true, prep_cols, MS_ARRAY_LEN(prep_cols),
		     "DDD");
	tp_run_built("de prep params", MP_COM_STMT_PREPARE, true, prep_params,
		     MS_ARRAY_LEN(prep_params), "DDD");
	tp_run_built("de prep both", MP_COM_STMT_PREPARE, true, prep_both, MS_ARRAY_LEN(prep_both),
		     "DDDD");
	tp_run_built("de prep none", MP_COM_STMT_PREPARE, true, prep_none, MS_ARRAY_LEN(prep_none),
		     "D");
	tp_run_built("de cursor", MP_COM_STMT_EXECUTE, true, cursor, MS_ARRAY_LEN(cursor), "DDO");
	tp_run_built("de fetch", MP_COM_STMT_FETCH, true, fetch, MS_ARRAY_LEN(fetch), "DO");
	tp_run_built("de fields", MP_COM_FIELD_LIST, true, fields, MS_ARRAY_LEN(fields), "DDO");
	tp_run_built("de set option", MP_COM_SET_OPTION, true, setopt, MS_ARRAY_LEN(setopt), "O");
}

/* The same shapes without DEPRECATE_EOF, where the captures do not cover them. */
static void
test_resp_legacy_eof_built(void **state)
{
	const struct tp_pkt prep_params[] = { TP_PREP(0, 2), TP_PDEF, TP_PDEF, TP_EOF(0x02) };
	const struct tp_pkt prep_none[] = { TP_PREP(0, 0) };
	const struct tp_pkt empty_rs[] = { TP_P(0x01), TP_DEF, TP_EOF(0x02), TP_EOF(0x02) };
	const struct tp_pkt rows00[] = { TP_P(0x01), TP_DEF,     TP_EOF(0x02),
					 TP_P(0x00), TP_P(0xfb), TP_EOF(0x02) };
	const struct tp_pkt stmt_ok[] = { TP_OK00(0x02) };
	const struct tp_pkt reset[] = { TP_OK00(0x02) };

	tp_run_built("prep params", MP_COM_STMT_PREPARE, false, prep_params,
		     MS_ARRAY_LEN(prep_params), "DDDE");
	tp_run_built("prep none", MP_COM_STMT_PREPARE, false, prep_none, MS_ARRAY_LEN(prep_none),
		     "D");
	tp_run_built("empty rs", MP_COM_QUERY, false, empty_rs, MS_ARRAY_LEN(empty_rs), "DDEE");
	tp_run_built("rows 00 fb", MP_COM_QUERY, false, rows00, MS_ARRAY_LEN(rows00), "DDEDDE");
	tp_run_built("execute ok", MP_COM_STMT_EXECUTE, false, stmt_ok, MS_ARRAY_LEN(stmt_ok), "O");
	tp_run_built("stmt reset", MP_COM_STMT_RESET, false, reset, MS_ARRAY_LEN(reset), "O");
}

/*
 * A row of exactly 0xffffff bytes continues in the next packet, whatever that packet's first
 * byte is: a continuation starting fe (here shaped exactly like an EOF or a fe-OK) is DATA,
 * not a terminator. A payload that is an exact multiple of 0xffffff ends with an empty packet.
 * Only the first MP_RESP_PEEK bytes of a big packet are ever offered.
 */
static void
test_resp_max_payload_rows(void **state)
{
	static const uint8_t big[MP_RESP_PEEK] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						   0xff, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61 };
	static const uint8_t eof[] = { 0xfe, 0x00, 0x00, 0x02, 0x00 };
	static const uint8_t okfe[] = { 0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00 };
	static const uint8_t def[] = { 0x03, 'd',  'e',  'f',  0x00, 0x00, 0x00, 0x01,
				       'a',  0x00, 0x0c, 0x21, 0x00, 0xff, 0xff, 0xff,
				       0xff, 0xfc, 0x10, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t one[] = { 0x01 };

	for (int de = 0; de <= 1; de++) {
		const uint8_t *term = de ? okfe : eof;
		uint32_t term_len = de ? sizeof(okfe) : sizeof(eof);
		struct mp_resp r;
		struct mp_resp_event ev;

		mp_resp_begin(&r, MP_COM_QUERY, de);
		assert_int_equal(mp_resp_feed(&r, one, 1, 1, &ev), MP_OK);
		assert_int_equal(mp_resp_feed(&r, def, sizeof(def), sizeof(def), &ev), MP_OK);
		if (!de) {
			assert_int_equal(mp_resp_feed(&r, eof, sizeof(eof), sizeof(eof), &ev),
					 MP_OK);
			assert_int_equal(ev.kind, MP_PKT_EOF);
		}
		/* Row 1: 0xffffff + 5 bytes; the 5-byte continuation looks like a terminator. */
		assert_int_equal(mp_resp_feed(&r, big, sizeof(big), MP_MAX_PAYLOAD, &ev), MP_OK);
		assert_int_equal(ev.kind, MP_PKT_DATA);
		assert_false(ev.done);
		assert_int_equal(mp_resp_feed(&r, term, term_len, term_len, &ev), MP_OK);
		assert_int_equal(ev.kind, MP_PKT_DATA);
		assert_false(ev.done);
		/* Row 2: exactly 0xffffff, so an empty packet follows. */
		assert_int_equal(mp_resp_feed(&r, big, sizeof(big), MP_MAX_PAYLOAD, &ev), MP_OK);
		assert_int_equal(ev.kind, MP_PKT_DATA);
		assert_int_equal(mp_resp_feed(&r, big, 0, 0, &ev), MP_OK);
		assert_int_equal(ev.kind, MP_PKT_DATA);
		assert_false(ev.done);
		/* Row 3: 2 x 0xffffff + 3: two max packets, then a short continuation. */
		assert_int_equal(mp_resp_feed(&r, big, sizeof(big), MP_MAX_PAYLOAD, &ev), MP_OK);
		assert_int_equal(mp_resp_feed(&r, big, sizeof(big), MP_MAX_PAYLOAD, &ev), MP_OK);
		assert_int_equal(ev.kind, MP_PKT_DATA);
		assert_int_equal(mp_resp_feed(&r, term, 3, 3, &ev), MP_OK);
		assert_int_equal(ev.kind, MP_PKT_DATA);
		assert_false(ev.done);
		/* Now the same bytes are the real terminator. */
		assert_int_equal(mp_resp_feed(&r, term, term_len, term_len, &ev), MP_OK);
		assert_int_equal(ev.kind, de ? MP_PKT_OK : MP_PKT_EOF);
		assert_true(ev.done);
		assert_int_equal(ev.status, 0x0002);
	}
}

/* COM_FIELD_LIST definitions are data until the terminator, even a 16 MiB one. */
static void
test_resp_field_list_cont(void **state)
{
	static const uint8_t big[MP_RESP_PEEK] = { 0x03, 'd', 'e', 'f' };
	static const uint8_t eof[] = { 0xfe, 0x00, 0x00, 0x02, 0x00 };
	struct mp_resp r;
	struct mp_resp_event ev;

	mp_resp_begin(&r, MP_COM_FIELD_LIST, false);
	assert_int_equal(mp_resp_feed(&r, big, sizeof(big), MP_MAX_PAYLOAD, &ev), MP_OK);
	assert_int_equal(mp_resp_feed(&r, eof, sizeof(eof), sizeof(eof), &ev), MP_OK);
	assert_int_equal(ev.kind, MP_PKT_DATA);
	assert_false(ev.done);
	assert_int_equal(mp_resp_feed(&r, eof, sizeof(eof), sizeof(eof), &ev), MP_OK);
	assert_int_equal(ev.kind, MP_PKT_EOF);
	assert_true(ev.done);
}

/* ff is an ERR anywhere, and ends the response; only its first bytes are needed. */
static void
test_resp_err_anywhere(void **state)
{
	static const uint8_t err[] = { 0xff, 0x25, 0x05, '#', '7', '0', '1', '0', '0', 'Q',
				       'u',  'e',  'r',  'y', ' ', 'e', 'x', 'e', 'c', 'u',
				       't',  'i',  'o',  'n', ' ', 'w', 'a', 's', ' ', 'i',
				       'n',  't',  'e',  'r', 'r', 'u', 'p', 't', 'e', 'd' };
	const struct tp_pkt after_defs[] = { TP_P(0x01), TP_DEF, { err, sizeof(err), 0 } };
	const struct tp_pkt after_eof[] = {
		TP_P(0x01), TP_DEF, TP_EOF(0x02), TP_P(0x01, '1'), { err, sizeof(err), 0 }
	};
	const struct tp_pkt prep_err[] = { { err, sizeof(err), 0 } };
	const struct tp_pkt prep_mid[] = { TP_PREP(1, 1), TP_PDEF, { err, sizeof(err), 0 } };
	const struct tp_pkt fetch_err[] = { { err, sizeof(err), 0 } };
	const struct tp_pkt fields_err[] = { TP_DEF, { err, sizeof(err), 0 } };
	struct mp_resp r;
	struct mp_resp_event ev;

	/* 1317 right after the definitions (CAP, PROTOCOL-NOTES §5), for both EOF modes. */
	tp_run_built("err after defs", MP_COM_QUERY, false, after_defs, 3, "DDX");
	tp_run_built("de err after defs", MP_COM_QUERY, true, after_defs, 3, "DDX");
	tp_run_built("err in rows", MP_COM_QUERY, false, after_eof, 5, "DDEDX");
	tp_run_built("prepare err", MP_COM_STMT_PREPARE, false, prep_err, 1, "X");
	tp_run_built("prepare mid err", MP_COM_STMT_PREPARE, false, prep_mid, 3, "DDX");
	tp_run_built("fetch err", MP_COM_STMT_FETCH, false, fetch_err, 1, "X");
	tp_run_built("fields err", MP_COM_FIELD_LIST, false, fields_err, 2, "DX");

	/* The peek is enough to classify an ERR. */
	mp_resp_begin(&r, MP_COM_QUERY, false);
	assert_int_equal(mp_resp_feed(&r, err, MP_RESP_PEEK, sizeof(err), &ev), MP_OK);
	assert_int_equal(ev.kind, MP_PKT_ERR);
	assert_true(ev.done);
}

/* The server asks for a LOCAL INFILE (fb + file name): never negotiated, so MP_MALFORMED. */
static void
test_resp_local_infile(void **state)
{
	static const uint8_t infile[] = { 0xfb, '/', 'e', 't', 'c', '/',
					  'p',  'a', 's', 's', 'w', 'd' };
	struct mp_resp r, before;
	struct mp_resp_event ev;

	mp_resp_begin(&r, MP_COM_QUERY, false);
	before = r;
	assert_int_equal(mp_resp_feed(&r, infile, sizeof(infile), sizeof(infile), &ev),
			 MP_MALFORMED);
	tp_assert_same_state(&r, &before);
	mp_resp_begin(&r, MP_COM_QUERY, true);
	assert_int_equal(mp_resp_feed(&r, infile, 1, 1, &ev), MP_MALFORMED);
}

/* Packets that cannot appear where they do. Each leaves the tracker untouched. */
static void
test_resp_violations(void **state)
{
	static const uint8_t row[] = { 0x01, '1' };
	static const uint8_t eof[] = { 0xfe, 0x00, 0x00, 0x02, 0x00 };
	static const uint8_t bad_eof[] = { 0xfe, 0x00, 0x00 };
	static const uint8_t short_prep[] = { 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00 };
	static const uint8_t prep_not_ok[] = { 0x01, 0x01, 0x00, 0x00, 0x00, 0x01,
					       0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t bad_ok[] = { 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05 };
	const uint8_t *def = tp_pkt(&gold_q_select1, 1).p;
	uint32_t def_len = tp_pkt(&gold_q_select1, 1).len;
	struct mp_resp r, before;
	struct mp_resp_event ev;

	/* SIMPLE: a row-shaped reply to COM_PING. */
	mp_resp_begin(&r, MP_COM_PING, false);
	before = r;
	assert_int_equal(mp_resp_feed(&r, row, sizeof(row), sizeof(row), &ev), MP_MALFORMED);
	tp_assert_same_state(&r, &before);
	/* SIMPLE: empty packet. */
	assert_int_equal(mp_resp_feed(&r, row, 0, 0, &ev), MP_MALFORMED);
	/* SIMPLE: a 7-byte OK with a bad info length. */
	assert_int_equal(mp_resp_feed(&r, bad_ok, sizeof(bad_ok), sizeof(bad_ok), &ev),
			 MP_MALFORMED);
	tp_assert_same_state(&r, &before);
	/* FIRST: empty packet. */
	mp_resp_begin(&r, MP_COM_QUERY, false);
	assert_int_equal(mp_resp_feed(&r, row, 0, 0, &ev), MP_MALFORMED);
	/* COLDEF_EOF: a row where the EOF must be. */
	mp_resp_begin(&r, MP_COM_QUERY, false);
	assert_int_equal(mp_resp_feed(&r, row, 1, 1, &ev), MP_OK);
	assert_int_equal(mp_resp_feed(&r, def, def_len, def_len, &ev), MP_OK);
	assert_int_equal(r.state, MP_RESP_COLDEF_EOF);
	before = r;
	assert_int_equal(mp_resp_feed(&r, row, sizeof(row), sizeof(row), &ev), MP_MALFORMED);
	tp_assert_same_state(&r, &before);
	assert_int_equal(mp_resp_feed(&r, bad_eof, sizeof(bad_eof), sizeof(bad_eof), &ev),
			 MP_MALFORMED);
	tp_assert_same_state(&r, &before);
	assert_int_equal(mp_resp_feed(&r, eof, sizeof(eof), sizeof(eof), &ev), MP_OK);
	/* PREPARE: too short, or not headed 00. */
	mp_resp_begin(&r, MP_COM_STMT_PREPARE, false);
	before = r;
	assert_int_equal(mp_resp_feed(&r, short_prep, sizeof(short_prep), sizeof(short_prep), &ev),
			 MP_MALFORMED);
	tp_assert_same_state(&r, &before);
	assert_int_equal(
		mp_resp_feed(&r, prep_not_ok, sizeof(prep_not_ok), sizeof(prep_not_ok), &ev),
		MP_MALFORMED);
	tp_assert_same_state(&r, &before);
	/* After done, even an ERR is a violation. */
	mp_resp_begin(&r, MP_COM_PING, false);
	assert_int_equal(mp_resp_feed(&r, tp_pkt(&gold_ping, 0).p, 7, 7, &ev), MP_OK);
	assert_true(ev.done);
	assert_int_equal(mp_resp_feed(&r, tp_pkt(&gold_q_err_1146, 0).p, 43, 43, &ev),
			 MP_MALFORMED);
	assert_int_equal(r.state, MP_RESP_DONE);
}

static void
test_cmd_has_reply(void **state)
{
	for (unsigned cmd = 0; cmd < 256; cmd++) {
		bool silent = cmd == MP_COM_QUIT || cmd == MP_COM_STMT_CLOSE ||
			      cmd == MP_COM_STMT_SEND_LONG_DATA;

		assert_int_equal(mp_cmd_has_reply((uint8_t)cmd), !silent);
	}
}

static void
test_resp_begin_states(void **state)
{
	static const struct {
		uint8_t cmd;
		enum mp_resp_state st;
	} cases[] = {
		{ MP_COM_QUERY, MP_RESP_FIRST },
		{ MP_COM_STMT_EXECUTE, MP_RESP_FIRST },
		{ MP_COM_STMT_FETCH, MP_RESP_ROWS },
		{ MP_COM_STMT_PREPARE, MP_RESP_PREPARE },
		{ MP_COM_FIELD_LIST, MP_RESP_FIELDS },
		{ MP_COM_STATISTICS, MP_RESP_SINGLE },
		{ MP_COM_PING, MP_RESP_SIMPLE },
		{ MP_COM_INIT_DB, MP_RESP_SIMPLE },
		{ MP_COM_SET_OPTION, MP_RESP_SIMPLE },
		{ MP_COM_STMT_RESET, MP_RESP_SIMPLE },
		{ MP_COM_RESET_CONNECTION, MP_RESP_SIMPLE },
		{ MP_COM_PROCESS_KILL, MP_RESP_SIMPLE },
	};
	struct mp_resp r;

	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		memset(&r, 0xa5, sizeof(r));
		mp_resp_begin(&r, cases[i].cmd, true);
		assert_int_equal(r.state, cases[i].st);
		assert_int_equal(r.cmd, cases[i].cmd);
		assert_true(r.deprecate_eof);
		assert_false(r.in_cont);
		assert_true(r.left == 0);
		assert_int_equal(r.prep_cols, 0);
		assert_int_equal(r.status, 0);
	}
}

int
tp_run_resp_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resp_golden),
		cmocka_unit_test(test_resp_golden_status),
		cmocka_unit_test(test_resp_deprecate_eof),
		cmocka_unit_test(test_resp_legacy_eof_built),
		cmocka_unit_test(test_resp_max_payload_rows),
		cmocka_unit_test(test_resp_field_list_cont),
		cmocka_unit_test(test_resp_err_anywhere),
		cmocka_unit_test(test_resp_local_infile),
		cmocka_unit_test(test_resp_violations),
		cmocka_unit_test(test_cmd_has_reply),
		cmocka_unit_test(test_resp_begin_states),
	};

	return cmocka_run_group_tests_name("protocol/mp_resp", tests, NULL, NULL);
}
