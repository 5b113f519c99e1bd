/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/router/test_load.c - LOAD DATA LOCAL INFILE statements and the row reader. */
#include "router/rt_load.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static enum rt_load_rc
parse(const char *sql, struct rt_load *l, const char **why)
{
	return rt_load_parse(sql, strlen(sql), l, why);
}

static void
test_parse(void **state)
{
	struct rt_load l;
	const char *why;
	const char *sql = "LOAD DATA LOCAL INFILE '/tmp/x.csv' IGNORE INTO TABLE shop.`Orders` "
			  "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
			  "ESCAPED BY '' LINES STARTING BY '>' TERMINATED BY '\\r\\n' IGNORE 2 LINES "
			  "(id, @skip, Name) SET n = 1;";

	(void)state;
	assert_int_equal(parse(sql, &l, &why), RT_LOAD_OK);
	assert_string_equal(l.schema, "shop");
	assert_string_equal(l.table, "Orders");
	assert_int_equal(l.file_len, 12);
	assert_memory_equal(sql + l.file_off, "'/tmp/x.csv'", 12);
	assert_int_equal(l.fterm_len, 1);
	assert_int_equal(l.fterm[0], ',');
	assert_int_equal(l.encl, '"');
	assert_int_equal(l.esc, -1);
	assert_int_equal(l.lstart_len, 1);
	assert_int_equal(l.lterm_len, 2);
	assert_memory_equal(l.lterm, "\r\n", 2);
	assert_int_equal(l.ignore_lines, 2);
	assert_memory_equal(sql + l.ignore_off, "IGNORE 2 LINES", l.ignore_len);
	assert_int_equal(l.n_cols, 3);
	assert_string_equal(l.cols[0], "id");
	assert_string_equal(l.cols[1], "@skip");
	assert_string_equal(l.cols[2], "name");
	assert_memory_equal(sql + l.set_off, "SET n = 1", l.set_len);

	assert_int_equal(parse("LOAD DATA LOCAL INFILE 'f' INTO TABLE t", &l, &why), RT_LOAD_OK);
	assert_int_equal(l.fterm[0], '\t');
	assert_int_equal(l.lterm[0], '\n');
	assert_int_equal(l.esc, '\\');
	assert_int_equal(l.encl, -1);
	assert_int_equal(l.n_cols, 0);
	assert_int_equal(l.schema[0], '\0');

	assert_int_equal(parse("LOAD DATA INFILE '/srv/f' INTO TABLE t", &l, &why), RT_LOAD_NOT);
	assert_int_equal(parse("SELECT 1", &l, &why), RT_LOAD_NOT);
	assert_int_equal(parse("LOAD DATA LOCAL INFILE 'f' INTO TABLE t PARTITION (p0)", &l, &why),
			 RT_LOAD_REFUSED);
	assert_string_equal(why, "PARTITION is not supported");
	assert_int_equal(parse("LOAD DATA LOCAL INFILE 'f' INTO TABLE t FIELDS TERMINATED BY ''",
			       &l, &why),
			 RT_LOAD_REFUSED);
	assert_int_equal(parse("LOAD DATA LOCAL INFILE 'f' INTO TABLE t (a, b", &l, &why),
			 RT_LOAD_REFUSED);
}

/* The rows of <data> as "key|bytes" lines (key "-" if absent, "NULL" if NULL). */
static void
rows(const struct rt_load *l, const char *data, size_t key, char *out, size_t cap)
{
	size_t pos = 0, at = 0, len = strlen(data);
	uint8_t kb[64];
	struct rt_load_row r;

	out[0] = '\0';
	while (rt_load_next(l, (const uint8_t *)data, len, true, &pos, key, kb, sizeof(kb), &r)) {
		at += (size_t)snprintf(out + at, cap - at, "%.*s|%.*s;",
				       r.has_key ? (r.key_null ? 4 : (int)r.key_len) : 1,
				       r.has_key ? (r.key_null ? "NULL" : (const char *)kb) : "-",
				       (int)r.len, data + r.off);
	}
}

static void
test_rows(void **state)
{
	struct rt_load l;
	const char *why;
	char out[1024];

	(void)state;
	assert_int_equal(parse("LOAD DATA LOCAL INFILE 'f' INTO TABLE t", &l, &why), RT_LOAD_OK);
	rows(&l, "1\ta\n2\tb\\\tc\n\\N\tx\n3\tlast", 0, out, sizeof(out));
	assert_string_equal(out, "1|1\ta\n;2|2\tb\\\tc\n;NULL|\\N\tx\n;3|3\tlast;");
	rows(&l, "a\t1\\\n2\nb\t3\n", 1, out, sizeof(out)); /* an escaped newline is data */
	assert_string_equal(out, "1\n2|a\t1\\\n2\n;3|b\t3\n;");
	rows(&l, "onlyone\n", 1, out, sizeof(out));
	assert_string_equal(out, "-|onlyone\n;");

	assert_int_equal(parse("LOAD DATA LOCAL INFILE 'f' INTO TABLE t FIELDS TERMINATED BY ',' "
			       "ENCLOSED BY '\"' LINES TERMINATED BY '\\r\\n'",
			       &l, &why),
			 RT_LOAD_OK);
	rows(&l, "\"k,1\",x\r\n\"a\"\"b\",y\r\nNULL,z\r\n\"NULL\",w\r\n", 0, out, sizeof(out));
	assert_string_equal(out, "k,1|\"k,1\",x\r\n;a\"b|\"a\"\"b\",y\r\n;NULL|NULL,z\r\n;"
				 "NULL|\"NULL\",w\r\n;");

	assert_int_equal(parse("LOAD DATA LOCAL INFILE 'f' INTO TABLE t LINES STARTING BY '>>'",
			       &l, &why),
			 RT_LOAD_OK);
	rows(&l, "junk>>7\tx\nno prefix\n>>8\ty\n", 0, out, sizeof(out));
	assert_string_equal(out, "7|>>7\tx\n;8|>>8\ty\n;");

	/* not final: an unterminated last row waits for more data */
	{
		size_t pos = 0;
		uint8_t kb[8];
		struct rt_load_row r;

		assert_int_equal(parse("LOAD DATA LOCAL INFILE 'f' INTO TABLE t", &l, &why),
				 RT_LOAD_OK);
		assert_true(rt_load_next(&l, (const uint8_t *)"1\tx\n2\ty", 7, false, &pos, 0, kb,
					 sizeof(kb), &r));
		assert_int_equal(pos, 4);
		assert_false(rt_load_next(&l, (const uint8_t *)"1\tx\n2\ty", 7, false, &pos, 0, kb,
					  sizeof(kb), &r));
		assert_int_equal(pos, 4);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
