/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/protocol/test_result.c - mp_result: OK, ERR, EOF, column definitions and text
 * rows, decoded from MariaDB 10.11.19 captures, re-encoded byte for byte, and cut at every
 * length. Where a prefix of a packet is itself a valid (shorter) packet, the test names the
 * prefixes that decode and says why.
 */
#include "tp.h"

#include "protocol/mp_result.h"

#include <string.h>

/* Column types and flags used below (PROTOCOL-NOTES §7). */
#define TP_T_DOUBLE     5
#define TP_T_LONG       3
#define TP_T_NULL       6
#define TP_T_LONGLONG   8
#define TP_T_VAR_STRING 253
#define TP_F_NOT_NULL   0x0001
#define TP_F_BINARY     0x0080

/* One captured OK packet and what it must decode to. */
struct tp_ok_case {
	const struct tp_gold *g;
	size_t pkt;
	bool session_track; /* how to decode it: the capturing client negotiated SESSION_TRACK */
	uint8_t header;
	uint64_t affected, insert_id;
	uint16_t status, warnings;
	const char *info;
	const char *state; /* raw session-state block */
	size_t state_len;
	/* Prefixes (with session_track) that decode as OK, besides the whole packet; see below. */
	size_t ok_prefix[2];
};

/*
 * Why some prefixes of an OK decode (session_track = true): everything after the warnings is
 * optional, so the cut right after the warnings (7 bytes here) is a complete OK without info.
 * When STATE_CHANGED is set, the cut right after the (empty) info string is accepted too,
 * because mp_ok_info reads the state block only if bytes remain. Cuts inside the info or the
 * state block are MP_MALFORMED (lenenc string shorter than its length).
 */
/* clang-format off */
static const struct tp_ok_case tp_oks[] = {
	{ &gold_login_ok, 0, true, 0x00, 0, 0, 0x0002, 0, "", NULL, 0, { 7, 7 } },
	{ &gold_cli_login_ok, 0, true, 0x00, 0, 0, 0x0002, 0, "", NULL, 0, { 7, 7 } },
	{ &gold_ping, 0, true, 0x00, 0, 0, 0x0002, 0, "", NULL, 0, { 7, 7 } },
	/* INSERT ... ('three', 3): affected 1, last insert id 3. */
	{ &gold_q_insert, 0, true, 0x00, 1, 3, 0x0002, 0, "", NULL, 0, { 7, 7 } },
	/* Two-row INSERT: last_insert_id is the FIRST id of the batch (4), plus an info string. */
	{ &gold_q_insert2, 0, true, 0x00, 2, 4, 0x0002, 0, "Records: 2  Duplicates: 0  Warnings: 0",
	  NULL, 0, { 7, 7 } },
	/* COM_INIT_DB: SESSION_TRACK_SCHEMA entry: type 1, length 6, lstr "capdb". */
	{ &gold_init_db, 0, true, 0x00, 0, 0, 0x4002, 0, "", "\x01\x06\x05" "capdb", 8, { 7, 8 } },
	{ &gold_cli_init_db, 0, true, 0x00, 0, 0, 0x4002, 0, "", "\x01\x06\x05" "capdb", 8, { 7, 8 } },
	/* SET time_zone: SESSION_TRACK_SYSTEM_VARIABLES: type 0, length 17, name, value. */
	{ &gold_q_set_tz, 0, true, 0x00, 0, 0, 0x4002, 0, "",
	  "\x00\x11\x09" "time_zone" "\x06" "+01:00", 19, { 7, 8 } },
	{ &gold_cli_set_tz, 0, true, 0x00, 0, 0, 0x4002, 0, "",
	  "\x00\x11\x09" "time_zone" "\x06" "+01:00", 19, { 7, 8 } },
	/* The OK that ends "select 1; do 1". */
	{ &gold_q_multi_ok, 5, true, 0x00, 0, 0, 0x0002, 0, "", NULL, 0, { 7, 7 } },
	/* DEPRECATE_EOF terminators: OK packets headed fe. */
	{ &gold_de_q_abc, 5, true, 0xfe, 0, 0, 0x0002, 0, "", NULL, 0, { 7, 7 } },
	{ &gold_de_q_multi, 3, true, 0xfe, 0, 0, 0x000a, 0, "", NULL, 0, { 7, 7 } },
	{ &gold_de_set_option, 0, true, 0xfe, 0, 0, 0x0002, 0, "", NULL, 0, { 7, 7 } },
	{ &gold_de_execute_cur, 3, true, 0xfe, 0, 0, 0x0062, 0, "", NULL, 0, { 7, 7 } },
	{ &gold_de_fetch_rest, 5, true, 0xfe, 0, 0, 0x0082, 0, "", NULL, 0, { 7, 7 } },
};
/* clang-format on */

static void
tp_check_ok(const struct tp_ok_case *t, const struct mp_ok *ok)
{
	assert_int_equal(ok->header, t->header);
	assert_true(ok->affected_rows == t->affected);
	assert_true(ok->last_insert_id == t->insert_id);
	assert_int_equal(ok->status, t->status);
	assert_int_equal(ok->warnings, t->warnings);
	assert_true(tp_slice_eq(ok->info, t->info));
	assert_int_equal(ok->session_state.len, t->state_len);
	if (t->state_len > 0) {
		assert_memory_equal(ok->session_state.ptr, t->state, t->state_len);
	}
}

static void
test_ok_golden(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_oks); i++) {
		struct tp_pkt pk = tp_pkt(tp_oks[i].g, tp_oks[i].pkt);
		struct mp_ok ok;

		assert_int_equal(mp_ok_read(pk.p, pk.len, tp_oks[i].session_track, &ok), MP_OK);
		tp_check_ok(&tp_oks[i], &ok);
		/* MariaDB length-prefixes the info even without SESSION_TRACK: same result. */
		if (tp_oks[i].state_len == 0) {
			assert_int_equal(mp_ok_read(pk.p, pk.len, false, &ok), MP_OK);
			tp_check_ok(&tp_oks[i], &ok);
		}
	}
}

static void
test_ok_prefixes_tracked(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_oks); i++) {
		const struct tp_ok_case *t = &tp_oks[i];
		struct tp_pkt pk = tp_pkt(t->g, t->pkt);
		struct mp_ok ok;

		for (size_t k = 0; k < pk.len; k++) {
			enum mp_rc rc = mp_ok_read(pk.p, k, true, &ok);
			bool valid = k == t->ok_prefix[0] || k == t->ok_prefix[1];

			if (rc != (valid ? MP_OK : MP_MALFORMED)) {
				fail_msg("%s[%zu] prefix %zu: rc %d", t->g->name, t->pkt, k, rc);
			}
			if (rc == MP_OK) {
				assert_int_equal(ok.status, t->status);
				assert_int_equal(ok.info.len, 0);
				assert_int_equal(ok.session_state.len, 0);
			}
		}
	}
}

/*
 * Without SESSION_TRACK the info is taken leniently: a length-prefixed string when that parses
 * exactly, else the rest of the packet. So every prefix from 7 bytes on decodes, with the raw
 * tail as the info until the lenenc string is complete.
 */
static void
test_ok_prefixes_untracked(void **state)
{
	struct tp_pkt pk = tp_pkt(&gold_q_insert2, 0);
	struct mp_ok ok;

	for (size_t k = 0; k < pk.len; k++) {
		enum mp_rc rc = mp_ok_read(pk.p, k, false, &ok);

		if (k < 7) {
			assert_int_equal(rc, MP_MALFORMED);
			continue;
		}
		assert_int_equal(rc, MP_OK);
		assert_int_equal(ok.affected_rows, 2);
		assert_int_equal(ok.info.len, k - 7);
		if (k > 7) {
			assert_ptr_equal(ok.info.ptr, pk.p + 7);
		}
	}
	/* A MySQL-style string<EOF> info (no length prefix) is kept whole. */
	{
		static const uint8_t my[] = { 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,
					      'R',  'o',  'w',  's',  ':',  ' ',  '1' };
		assert_int_equal(mp_ok_read(my, sizeof(my), false, &ok), MP_OK);
		assert_true(tp_slice_eq(ok.info, "Rows: 1"));
		assert_int_equal(mp_ok_read(my, sizeof(my), true, &ok), MP_MALFORMED);
	}
}

/* Fed the decoded values, mp_ok_write reproduces every captured OK byte for byte. */
static void
test_ok_write_golden(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_oks); i++) {
		struct tp_pkt pk = tp_pkt(tp_oks[i].g, tp_oks[i].pkt);
		uint8_t buf[128];
		struct mp_writer w;
		struct mp_ok ok;

		assert_int_equal(mp_ok_read(pk.p, pk.len, true, &ok), MP_OK);
		mp_writer_init(&w, buf, sizeof(buf));
		mp_ok_write(&w, &ok, true);
		assert_false(w.overflow);
		assert_int_equal(mp_writer_len(&w), pk.len);
		assert_memory_equal(buf, pk.p, pk.len);
	}
}

/* For a client without SESSION_TRACK the state block and STATE_CHANGED are dropped. */
static void
test_ok_write_untracked(void **state)
{
	static const uint8_t want[] = { 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00 };
	struct tp_pkt pk = tp_pkt(&gold_q_set_tz, 0);
	uint8_t buf[64];
	struct mp_writer w;
	struct mp_ok ok;

	assert_int_equal(mp_ok_read(pk.p, pk.len, true, &ok), MP_OK);
	mp_writer_init(&w, buf, sizeof(buf));
	mp_ok_write(&w, &ok, false);
	assert_int_equal(mp_writer_len(&w), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	/* Large counters use the wider lenenc forms. */
	ok.affected_rows = 0x10000;
	ok.last_insert_id = UINT64_MAX;
	ok.session_state.len = 0;
	ok.info.len = 0;
	mp_writer_init(&w, buf, sizeof(buf));
	mp_ok_write(&w, &ok, true);
	assert_int_equal(mp_writer_len(&w), 1 + 4 + 9 + 4);
	assert_int_equal(mp_ok_read(buf, mp_writer_len(&w), true, &ok), MP_OK);
	assert_true(ok.affected_rows == 0x10000);
	assert_true(ok.last_insert_id == UINT64_MAX);
	assert_int_equal(ok.status, 0x0002); /* STATE_CHANGED cleared: no block was written */
}

/* State entries: the captured SET time_zone and COM_INIT_DB blocks are walked and written
 * back byte for byte; a cut entry is malformed. */
static void
test_track_entries(void **state)
{
	struct tp_pkt tz = tp_pkt(&gold_q_set_tz, 0), db = tp_pkt(&gold_init_db, 0);
	struct ms_slice data, entry;
	struct mp_cursor c;
	struct mp_writer w;
	struct mp_ok ok;
	uint8_t buf[64], type;

	(void)state;
	assert_int_equal(mp_ok_read(tz.p, tz.len, true, &ok), MP_OK);
	mp_cursor_init(&c, ok.session_state.ptr, ok.session_state.len);
	assert_int_equal(mp_track_next(&c, &type, &data, &entry), MP_OK);
	assert_int_equal(type, MP_TRACK_SYSVAR);
	assert_int_equal(data.len, 17);
	assert_int_equal(entry.len, 19);
	assert_ptr_equal(entry.ptr, ok.session_state.ptr);
	assert_int_equal(mp_track_next(&c, &type, &data, &entry), MP_NEED_MORE);
	mp_writer_init(&w, buf, sizeof(buf));
	mp_track_sysvar_put(&w, "time_zone", 9, "+01:00", 6);
	assert_int_equal(mp_writer_len(&w), ok.session_state.len);
	assert_memory_equal(buf, ok.session_state.ptr, ok.session_state.len);

	assert_int_equal(mp_ok_read(db.p, db.len, true, &ok), MP_OK);
	mp_writer_init(&w, buf, sizeof(buf));
	mp_track_schema_put(&w, "capdb", 5);
	assert_int_equal(mp_writer_len(&w), ok.session_state.len);
	assert_memory_equal(buf, ok.session_state.ptr, ok.session_state.len);

	/* two entries back to back, then one cut short */
	mp_writer_init(&w, buf, sizeof(buf));
	mp_track_schema_put(&w, "capdb", 5);
	mp_track_sysvar_put(&w, "autocommit", 10, "OFF", 3);
	mp_cursor_init(&c, buf, mp_writer_len(&w));
	assert_int_equal(mp_track_next(&c, &type, &data, &entry), MP_OK);
	assert_int_equal(type, MP_TRACK_SCHEMA);
	assert_int_equal(mp_track_next(&c, &type, &data, &entry), MP_OK);
	assert_int_equal(type, MP_TRACK_SYSVAR);
	assert_int_equal(entry.len, 2 + 11 + 4);
	assert_int_equal(mp_track_next(&c, &type, &data, &entry), MP_NEED_MORE);
	mp_cursor_init(&c, buf, mp_writer_len(&w) - 1);
	assert_int_equal(mp_track_next(&c, &type, &data, &entry), MP_OK);
	assert_int_equal(mp_track_next(&c, &type, &data, &entry), MP_MALFORMED);
}

static void
test_ok_rejects(void **state)
{
	static const uint8_t bad_hdr[] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00 };
	static const uint8_t err_hdr[] = { 0xff, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00 };
	static const uint8_t null_rows[] = { 0x00, 0xfb, 0x00, 0x02, 0x00, 0x00, 0x00 };
	static const uint8_t ff_id[] = { 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00 };
	/* Tracked OK with a state-shaped block after the info but no STATE_CHANGED. */
	static const uint8_t trailing[] = { 0x00, 0x00, 0x00, 0x02, 0x00,
					    0x00, 0x00, 0x00, 0x01, 0x78 };
	/* State block announces 9 bytes, has 2. */
	static const uint8_t short_state[] = { 0x00, 0x00, 0x00, 0x02, 0x40, 0x00,
					       0x00, 0x00, 0x09, 0x01, 0x06 };
	struct mp_ok ok;

	assert_int_equal(mp_ok_read(bad_hdr, sizeof(bad_hdr), true, &ok), MP_MALFORMED);
	assert_int_equal(mp_ok_read(err_hdr, sizeof(err_hdr), true, &ok), MP_MALFORMED);
	assert_int_equal(mp_ok_read(null_rows, sizeof(null_rows), true, &ok), MP_MALFORMED);
	assert_int_equal(mp_ok_read(ff_id, sizeof(ff_id), true, &ok), MP_MALFORMED);
	assert_int_equal(mp_ok_read(trailing, sizeof(trailing), true, &ok), MP_MALFORMED);
	assert_int_equal(mp_ok_read(short_state, sizeof(short_state), true, &ok), MP_MALFORMED);
	assert_int_equal(mp_ok_read(bad_hdr, 0, true, &ok), MP_MALFORMED);
}

/* One captured ERR packet. */
struct tp_err_case {
	const struct tp_gold *g;
	size_t pkt;
	uint16_t code;
	const char *sqlstate;
	const char *message;
};

/* clang-format off */
static const struct tp_err_case tp_errs[] = {
	{ &gold_q_err_1146, 0, 1146, "42S02", "Table 'capdb.nosuch' doesn't exist" },
	{ &gold_q_err_1064, 0, 1064, "42000",
	  "You have an error in your SQL syntax; check the manual that corresponds to your "
	  "MariaDB server version for the right syntax to use near 'selec 1' at line 1" },
	{ &gold_q_multi_err, 5, 1054, "42S22", "Unknown column 'nosuchcol' in 'SELECT'" },
};
/* clang-format on */

static void
test_err_golden(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_errs); i++) {
		struct tp_pkt pk = tp_pkt(tp_errs[i].g, tp_errs[i].pkt);
		uint8_t buf[256];
		struct mp_writer w;
		struct mp_err e;

		assert_int_equal(mp_err_read(pk.p, pk.len, &e), MP_OK);
		assert_int_equal(e.code, tp_errs[i].code);
		assert_string_equal(e.sqlstate, tp_errs[i].sqlstate);
		assert_true(tp_slice_eq(e.message, tp_errs[i].message));
		assert_ptr_equal(e.message.ptr, pk.p + 9);

		/* mp_err_write gives back the same bytes. */
		mp_writer_init(&w, buf, sizeof(buf));
		mp_err_write(&w, tp_errs[i].code, tp_errs[i].sqlstate, tp_errs[i].message);
		assert_false(w.overflow);
		assert_int_equal(mp_writer_len(&w), pk.len);
		assert_memory_equal(buf, pk.p, pk.len);
	}
}

/*
 * Every prefix of 3 bytes or more decodes: the '#'+SQLSTATE marker is optional (ERRs sent
 * before the capabilities are known have none) and the message is the rest of the packet. So
 * a cut inside the 6-byte marker reads as a marker-less ERR: SQLSTATE HY000 and a message that
 * starts at byte 3; a later cut just shortens the message. Prefixes of 0-2 bytes are malformed.
 */
static void
test_err_prefixes(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_errs); i++) {
		struct tp_pkt pk = tp_pkt(tp_errs[i].g, tp_errs[i].pkt);
		struct mp_err e;

		for (size_t k = 0; k < pk.len; k++) {
			enum mp_rc rc = mp_err_read(pk.p, k, &e);

			if (k < 3) {
				assert_int_equal(rc, MP_MALFORMED);
				continue;
			}
			assert_int_equal(rc, MP_OK);
			assert_int_equal(e.code, tp_errs[i].code);
			if (k < 9) {
				assert_string_equal(e.sqlstate, "HY000");
				assert_ptr_equal(e.message.ptr, pk.p + 3);
				assert_int_equal(e.message.len, k - 3);
			} else {
				assert_string_equal(e.sqlstate, tp_errs[i].sqlstate);
				assert_ptr_equal(e.message.ptr, pk.p + 9);
				assert_int_equal(e.message.len, k - 9);
			}
		}
	}
}

static void
test_err_variants(void **state)
{
	/* ERR 1130 as 10.11 sends it instead of a greeting: no SQLSTATE marker. */
	static const uint8_t host[] = { 0xff, 0x6a, 0x04, 'H', 'o', 's', 't', ' ', 'x' };
	static const uint8_t not_err[] = { 0xfe, 0x6a, 0x04, '#', '4', '2', '0', '0', '0' };
	struct mp_err e;

	assert_int_equal(mp_err_read(host, sizeof(host), &e), MP_OK);
	assert_int_equal(e.code, 1130);
	assert_string_equal(e.sqlstate, "HY000");
	assert_true(tp_slice_eq(e.message, "Host x"));
	assert_int_equal(mp_err_read(not_err, sizeof(not_err), &e), MP_MALFORMED);
	/* Marker and an empty message. */
	assert_int_equal(mp_err_read(tp_pkt(&gold_q_err_1146, 0).p, 9, &e), MP_OK);
	assert_string_equal(e.sqlstate, "42S02");
	assert_int_equal(e.message.len, 0);
}

/* clang-format off */
/* Captured legacy EOF packets and their status. */
static const struct {
	const struct tp_gold *g;
	size_t pkt;
	uint16_t status;
} tp_eofs[] = {
	{ &gold_q_select1, 2, 0x0002 },
	{ &gold_q_select1, 4, 0x0002 },
	{ &gold_q_table, 4, 0x0022 }, /* AUTOCOMMIT | QUERY_NO_INDEX_USED */
	{ &gold_q_table, 7, 0x0022 },
	{ &gold_q_multi, 2, 0x000a }, /* AUTOCOMMIT | MORE_RESULTS */
	{ &gold_q_multi, 4, 0x000a },
	{ &gold_set_option, 0, 0x0002 },
	{ &gold_execute_cur, 3, 0x0062 }, /* + CURSOR_EXISTS */
	{ &gold_fetch_1, 1, 0x0042 },
	{ &gold_fetch_rest, 4, 0x0082 }, /* LAST_ROW_SENT, cursor gone */
	{ &gold_field_list, 3, 0x0002 },
	{ &gold_prepare, 3, 0x0002 },
};
/* clang-format on */

static void
test_eof_golden(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_eofs); i++) {
		struct tp_pkt pk = tp_pkt(tp_eofs[i].g, tp_eofs[i].pkt);
		uint16_t warnings = 0xffff, status = 0;
		uint8_t buf[16];
		struct mp_writer w;

		assert_int_equal(pk.len, 5);
		assert_int_equal(mp_eof_read(pk.p, pk.len, &warnings, &status), MP_OK);
		assert_int_equal(warnings, 0);
		assert_int_equal(status, tp_eofs[i].status);
		for (size_t k = 0; k < pk.len; k++) { /* no valid shorter EOF */
			assert_int_equal(mp_eof_read(pk.p, k, &warnings, &status), MP_MALFORMED);
		}
		mp_writer_init(&w, buf, sizeof(buf));
		mp_eof_write(&w, 0, tp_eofs[i].status);
		assert_int_equal(mp_writer_len(&w), 5);
		assert_memory_equal(buf, pk.p, 5);
	}
}

static void
test_eof_rejects(void **state)
{
	static const uint8_t warn[] = { 0xfe, 0x03, 0x00, 0x0a, 0x00 };
	/* A 9-byte fe packet is a row or an OK, never an EOF. */
	static const uint8_t nine[] = { 0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t ok[] = { 0x00, 0x00, 0x00, 0x02, 0x00 };
	uint16_t warnings, status;

	assert_int_equal(mp_eof_read(warn, sizeof(warn), &warnings, &status), MP_OK);
	assert_int_equal(warnings, 3);
	assert_int_equal(status, 0x000a);
	assert_int_equal(mp_eof_read(nine, sizeof(nine), &warnings, &status), MP_MALFORMED);
	assert_int_equal(mp_eof_read(nine, 8, &warnings, &status), MP_OK);
	assert_int_equal(mp_eof_read(ok, sizeof(ok), &warnings, &status), MP_MALFORMED);
}

/* One captured column definition. */
struct tp_coldef_case {
	const struct tp_gold *g;
	size_t pkt;
	const char *schema, *table, *org_table, *name, *org_name;
	uint16_t charset;
	uint32_t length;
	uint8_t type;
	uint16_t flags;
	uint8_t decimals;
	size_t default_len; /* COM_FIELD_LIST: bytes of the trailing default-value lstr */
};

/* clang-format off */
static const struct tp_coldef_case tp_coldefs[] = {
	/* SELECT 1: BINARY|NOT_NULL LONG, collation 63 (binary). */
	{ &gold_q_select1, 1, "", "", "", "1", "", 63, 1, TP_T_LONG, 0x0081, 0, 0 },
	{ &gold_q_abc, 1, "", "", "", "a", "", 63, 1, TP_T_LONG, 0x0081, 0, 0 },
	{ &gold_q_abc, 2, "", "", "", "b", "", 63, 0, TP_T_NULL, TP_F_BINARY, 0, 0 },
	/* 'abc': utf8mb4 (45, the raw client's collation) x 3 chars = 12 bytes, decimals 39. */
	{ &gold_q_abc, 3, "", "", "", "c", "", 45, 12, TP_T_VAR_STRING, TP_F_NOT_NULL, 0x27, 0 },
	/* id INT PRIMARY KEY AUTO_INCREMENT: NOT_NULL|PRI_KEY|AUTO_INCREMENT|PART_KEY. */
	{ &gold_q_table, 1, "capdb", "t", "t", "id", "id", 63, 11, TP_T_LONG, 0x4203, 0, 0 },
	{ &gold_q_table, 2, "capdb", "t", "t", "name", "name", 45, 80, TP_T_VAR_STRING,
	  TP_F_NOT_NULL, 0, 0 },
	{ &gold_q_table, 3, "capdb", "t", "t", "v", "v", 63, 11, TP_T_LONG, 0, 0, 0 },
	/* PREPARE: MariaDB's parameter definitions are dummies named "?" of type NULL... */
	{ &gold_prepare, 1, "", "", "", "?", "", 63, 0, TP_T_NULL, TP_F_BINARY, 0, 0 },
	{ &gold_prepare, 2, "", "", "", "?", "", 63, 0, TP_T_NULL, TP_F_BINARY, 0, 0 },
	/* ... and "?+1" is DOUBLE at PREPARE but LONGLONG at EXECUTE. */
	{ &gold_prepare, 4, "", "", "", "?+1", "", 63, 17, TP_T_DOUBLE, TP_F_BINARY, 0, 0 },
	{ &gold_prepare, 5, "", "", "", "?", "", 63, 0, TP_T_NULL, TP_F_BINARY, 0, 0 },
	{ &gold_execute, 1, "", "", "", "?+1", "", 63, 22, TP_T_LONGLONG, TP_F_BINARY, 0, 0 },
	{ &gold_execute, 2, "", "", "", "?", "", 45, 4, TP_T_VAR_STRING, TP_F_NOT_NULL, 0x27, 0 },
	/* A cursor materialises the result: the key flags are gone at EXECUTE. */
	{ &gold_execute_cur, 1, "capdb", "t", "t", "id", "id", 63, 11, TP_T_LONG, TP_F_NOT_NULL, 0,
	  0 },
	/* COM_FIELD_LIST appends each default as an lstr: id "0" (01 30), name "x", v NULL (fb). */
	{ &gold_field_list, 0, "capdb", "t", "t", "id", "id", 63, 11, TP_T_LONG, 0x4203, 0, 2 },
	{ &gold_field_list, 1, "capdb", "t", "t", "name", "name", 45, 80, TP_T_VAR_STRING,
	  TP_F_NOT_NULL, 0, 2 },
	{ &gold_field_list, 2, "capdb", "t", "t", "v", "v", 63, 11, TP_T_LONG, 0, 0, 1 },
};
/* clang-format on */

static void
tp_check_coldef(const struct tp_coldef_case *t, const struct mp_coldef *d)
{
	assert_true(tp_slice_eq(d->catalog, "def"));
	assert_true(tp_slice_eq(d->schema, t->schema));
	assert_true(tp_slice_eq(d->table, t->table));
	assert_true(tp_slice_eq(d->org_table, t->org_table));
	assert_true(tp_slice_eq(d->name, t->name));
	assert_true(tp_slice_eq(d->org_name, t->org_name));
	assert_int_equal(d->charset, t->charset);
	assert_int_equal(d->length, t->length);
	assert_int_equal(d->type, t->type);
	assert_int_equal(d->flags, t->flags);
	assert_int_equal(d->decimals, t->decimals);
}

/* Decode, then re-encode: identical bytes (minus the FIELD_LIST default, which is not kept). */
static void
test_coldef_golden(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_coldefs); i++) {
		const struct tp_coldef_case *t = &tp_coldefs[i];
		struct tp_pkt pk = tp_pkt(t->g, t->pkt);
		uint8_t buf[128];
		struct mp_writer w;
		struct mp_coldef d;

		assert_int_equal(mp_coldef_read(pk.p, pk.len, &d), MP_OK);
		tp_check_coldef(t, &d);
		mp_writer_init(&w, buf, sizeof(buf));
		mp_coldef_write(&w, &d);
		assert_false(w.overflow);
		assert_int_equal(mp_writer_len(&w), pk.len - t->default_len);
		assert_memory_equal(buf, pk.p, pk.len - t->default_len);
	}
}

/*
 * Every strict prefix of a COM_QUERY-form definition is MP_MALFORMED, the two filler bytes
 * included. A COM_FIELD_LIST definition ends with a default-value lstr that mp_coldef_read
 * ignores (documented), so its prefixes that keep the fixed part whole decode too.
 */
static void
test_coldef_prefixes(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_coldefs); i++) {
		const struct tp_coldef_case *t = &tp_coldefs[i];
		struct tp_pkt pk = tp_pkt(t->g, t->pkt);
		struct mp_coldef d;

		for (size_t k = 0; k < pk.len; k++) {
			enum mp_rc rc = mp_coldef_read(pk.p, k, &d);
			enum mp_rc want = k >= pk.len - t->default_len ? MP_OK : MP_MALFORMED;

			if (rc != want) {
				fail_msg("%s[%zu] prefix %zu: rc %d, want %d", t->g->name, t->pkt,
					 k, rc, want);
			}
			if (rc == MP_OK) {
				tp_check_coldef(t, &d);
			}
		}
	}
}

static void
test_coldef_variants(void **state)
{
	/* Fixed-length field 0x0a: no filler. */
	static const uint8_t short_fixed[] = { 0x03, 'd',  'e',  'f',  0x00, 0x00, 0x00,
					       0x01, 'x',  0x00, 0x0a, 0x3f, 0x00, 0x01,
					       0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00 };
	uint8_t bad[sizeof(short_fixed)];
	struct mp_coldef d;

	assert_int_equal(mp_coldef_read(short_fixed, sizeof(short_fixed), &d), MP_OK);
	assert_true(tp_slice_eq(d.name, "x"));
	assert_int_equal(d.type, TP_T_LONG);
	memcpy(bad, short_fixed, sizeof(bad));
	bad[10] = 0x09; /* fixed part shorter than its fields */
	assert_int_equal(mp_coldef_read(bad, sizeof(bad), &d), MP_MALFORMED);
	bad[10] = 0xfb;
	assert_int_equal(mp_coldef_read(bad, sizeof(bad), &d), MP_MALFORMED);
	/*
	 * The CLI negotiated MariaDB EXTENDED_METADATA, so its definitions carry an extra lstr
	 * (here empty, 00) before the 0c: not the COM_QUERY form mp_coldef_read knows. A proxy
	 * never requests that cap (PROTOCOL-NOTES §2); the decoder must at least not accept it.
	 */
	{
		struct tp_pkt pk = tp_pkt(&gold_cli_select1, 1);

		assert_int_equal(pk.p[10], 0x00); /* empty extended-metadata lstr */
		assert_int_equal(pk.p[11], 0x0c);
		assert_int_equal(mp_coldef_read(pk.p, pk.len, &d), MP_MALFORMED);
	}
}

/* One text row and its values; NULL marks SQL NULL. */
struct tp_row_case {
	const struct tp_gold *g;
	size_t pkt;
	size_t n;
	const char *vals[3];
};

/* clang-format off */
static const struct tp_row_case tp_rows[] = {
	{ &gold_q_select1, 3, 1, { "1" } },
	{ &gold_q_abc, 5, 3, { "1", NULL, "abc" } },
	{ &gold_q_table, 5, 3, { "1", "one", "1" } },
	{ &gold_q_table, 6, 3, { "2", "two", NULL } },
	{ &gold_cli_select_database, 3, 1, { NULL } },
	{ &gold_de_q_abc, 4, 3, { "1", NULL, "abc" } },
};
/* clang-format on */

static void
test_textrow_golden(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_rows); i++) {
		struct tp_pkt pk = tp_pkt(tp_rows[i].g, tp_rows[i].pkt);
		struct mp_cursor c;
		struct ms_slice v;
		bool is_null;

		mp_cursor_init(&c, pk.p, pk.len);
		for (size_t j = 0; j < tp_rows[i].n; j++) {
			assert_int_equal(mp_textrow_next(&c, &v, &is_null), MP_OK);
			if (tp_rows[i].vals[j] == NULL) {
				assert_true(is_null);
				assert_int_equal(v.len, 0);
			} else {
				assert_false(is_null);
				assert_true(tp_slice_eq(v, tp_rows[i].vals[j]));
			}
		}
		assert_int_equal(mp_textrow_next(&c, &v, &is_null), MP_NEED_MORE); /* end of row */
		assert_int_equal(mp_cursor_left(&c), 0);
	}
}

/* A row cut anywhere: values before the cut decode, the cut value is MP_NEED_MORE in place. */
static void
test_textrow_prefixes(void **state)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(tp_rows); i++) {
		struct tp_pkt pk = tp_pkt(tp_rows[i].g, tp_rows[i].pkt);

		for (size_t k = 0; k < pk.len; k++) {
			struct mp_cursor c;
			struct ms_slice v;
			bool is_null;
			size_t got = 0;
			const uint8_t *before;
			enum mp_rc rc;

			mp_cursor_init(&c, pk.p, k);
			for (;;) {
				before = c.pos;
				rc = mp_textrow_next(&c, &v, &is_null);
				if (rc != MP_OK) {
					break;
				}
				got++;
			}
			assert_int_equal(rc, MP_NEED_MORE);
			assert_ptr_equal(c.pos, before);
			assert_true(got < tp_rows[i].n);
		}
	}
}

static void
test_textrow_variants(void **state)
{
	/* ff never starts a value; an empty string is 00; a 251-byte value uses fc. */
	static const uint8_t ff[] = { 0x01, 'a', 0xff, 0x00 };
	uint8_t big[3 + 251 + 1];
	struct mp_cursor c;
	struct ms_slice v;
	bool is_null;

	mp_cursor_init(&c, ff, sizeof(ff));
	assert_int_equal(mp_textrow_next(&c, &v, &is_null), MP_OK);
	assert_int_equal(mp_textrow_next(&c, &v, &is_null), MP_MALFORMED);
	assert_ptr_equal(c.pos, ff + 2);

	big[0] = 0xfc;
	big[1] = 0xfb;
	big[2] = 0x00;
	memset(big + 3, 'z', 251);
	big[3 + 251] = 0x00;
	mp_cursor_init(&c, big, sizeof(big));
	assert_int_equal(mp_textrow_next(&c, &v, &is_null), MP_OK);
	assert_false(is_null);
	assert_int_equal(v.len, 251);
	assert_int_equal(mp_textrow_next(&c, &v, &is_null), MP_OK);
	assert_false(is_null);
	assert_int_equal(v.len, 0);
	assert_int_equal(mp_textrow_next(&c, &v, &is_null), MP_NEED_MORE);
}

int
tp_run_result_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_golden),
		cmocka_unit_test(test_ok_prefixes_tracked),
		cmocka_unit_test(test_ok_prefixes_untracked),
		cmocka_unit_test(test_ok_write_golden),
		cmocka_unit_test(test_ok_write_untracked),
		cmocka_unit_test(test_ok_rejects),
		cmocka_unit_test(test_err_golden),
		cmocka_unit_test(test_err_prefixes),
		cmocka_unit_test(test_err_variants),
		cmocka_unit_test(test_eof_golden),
		cmocka_unit_test(test_eof_rejects),
		cmocka_unit_test(test_coldef_golden),
		cmocka_unit_test(test_coldef_prefixes),
		cmocka_unit_test(test_coldef_variants),
		cmocka_unit_test(test_track_entries),
		cmocka_unit_test(test_textrow_golden),
		cmocka_unit_test(test_textrow_prefixes),
		cmocka_unit_test(test_textrow_variants),
	};

	return cmocka_run_group_tests_name("protocol/mp_result", tests, NULL, NULL);
}
