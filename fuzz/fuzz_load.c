/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz/fuzz_load.c - libFuzzer target for the LOAD DATA row reader: the first byte picks the
 * format (terminators, enclosure, escape, STARTING BY) and the key field; the rest is the
 * file, read whole and also in two parts (a row cut between reads).
 */
#include "router/rt_load.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char *const formats[] = {
		"LOAD DATA LOCAL INFILE 'f' INTO TABLE t",
		"LOAD DATA LOCAL INFILE 'f' INTO TABLE t FIELDS TERMINATED BY ',' ENCLOSED BY '\"' "
		"LINES TERMINATED BY '\\r\\n'",
		"LOAD DATA LOCAL INFILE 'f' INTO TABLE t FIELDS TERMINATED BY '||' ESCAPED BY '' "
		"LINES STARTING BY '>' TERMINATED BY ';;'",
		"LOAD DATA LOCAL INFILE 'f' INTO TABLE t FIELDS OPTIONALLY ENCLOSED BY '''' "
		"ESCAPED BY '#'",
	};
	struct rt_load l;
	const char *why;
	struct rt_load_row row;
	uint8_t kb[32];
	size_t pos = 0, key, cut;

	if (n < 2) {
		return 0;
	}
	if (rt_load_parse(formats[d[0] % 4], strlen(formats[d[0] % 4]), &l, &why) != RT_LOAD_OK) {
		__builtin_trap(); /* the formats above are valid */
	}
	key = (d[0] >> 2) % 4;
	cut = d[1] % (n - 1);
	d += 2;
	n -= 2;
	while (rt_load_next(&l, d, cut, false, &pos, key, kb, sizeof(kb), &row)) {
		if (row.off + row.len > cut || row.len == 0) {
			__builtin_trap();
		}
	}
	while (rt_load_next(&l, d, n, true, &pos, key, kb, sizeof(kb), &row)) {
		if (row.off + row.len > n || row.len == 0 || (row.has_key && row.key_len > sizeof(kb))) {
			__builtin_trap(); /* rows lie inside the data, and progress is made */
		}
	}
	return 0;
}
