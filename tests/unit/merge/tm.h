/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/merge/tm.h - helpers for the merge engine tests: scripted leg responses built
 * with the protocol writers, feeding them in a chosen interleaving, capturing what the merge
 * emits and rendering it as one line of text to compare against.
 */
#ifndef MYSHARD_TESTS_TM_H
#define MYSHARD_TESTS_TM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "protocol/mp_resp.h"
#include "proxy/px_merge.h"

#define TM_MAX_PKTS 64
#define TM_PKT_MAX  600

/* MYSQL_TYPE_* and collations used by the tests. */
#define TM_T_LONG       3
#define TM_T_DOUBLE     5
#define TM_T_LONGLONG   8
#define TM_T_TIME       11
#define TM_T_NEWDECIMAL 246
#define TM_T_VARSTRING  253
#define TM_CI           45 /* utf8mb4_general_ci */
#define TM_BIN          46 /* utf8mb4_bin */
#define TM_BINARY       63

/* One column of a scripted result. */
struct tm_col {
	const char *name;
	uint8_t type;
	uint16_t charset;
	uint8_t decimals;
};

struct tm_pkt {
	uint8_t b[TM_PKT_MAX];
	size_t len;
	enum mp_pkt_kind kind;
};

/* One leg's scripted response, fed packet by packet. */
struct tm_leg {
	struct tm_pkt p[TM_MAX_PKTS];
	size_t n;
	size_t next; /* next packet to feed */
};

/* Everything the merge emitted. */
struct tm_out {
	size_t n;
	uint8_t *p[1024]; /* owned copies */
	size_t len[1024];
};

/* <n> empty legs (calloc'd: free() them). */
struct tm_leg *tm_legs(size_t n);
/* Response builders; rows take <n> values, NULL meaning SQL NULL. */
void tm_rs(struct tm_leg *l, const struct tm_col *cols, unsigned int n);
void tm_row(struct tm_leg *l, unsigned int n, ...);
void tm_rowa(struct tm_leg *l, unsigned int n, const char *const *vals);
void tm_end(struct tm_leg *l, uint16_t warnings, uint16_t status);
void tm_ok(struct tm_leg *l, uint64_t affected, uint64_t id, uint16_t status, uint16_t warnings,
	   const char *info);
void tm_err(struct tm_leg *l, uint16_t code, const char *state, const char *msg);
/* The payload of a text row of <n> values (NULL = SQL NULL); returns its length. */
size_t tm_row_bytes(uint8_t *out, size_t cap, unsigned int n, const char *const *vals);

/* The emit callback; <arg> is a struct tm_out. */
void tm_emit(void *arg, const uint8_t *p, size_t len);
void tm_out_free(struct tm_out *o);
/* Renders <o> as "cols=a,b|1,x|2,NULL|EOF w=0 s=2", "ERR 1146 42S02 msg" or "OK a=1 ...". */
const char *tm_render(const struct tm_out *o);

/* Feeds one packet of leg <i> and returns the merge's answer. */
enum px_merge_rc tm_feed1(struct px_merge *m, struct tm_leg *legs, size_t i);
/* Feeds packets by <order> ("0012": leg 0, leg 0, leg 1, leg 2), then every leg's rest in
 * leg order; fails the test on any rc other than PX_MERGE_OK. */
void tm_feed(struct px_merge *m, struct tm_leg *legs, size_t n, const char *order);
/* Builds a merge over <n> legs named s0, s1, ..., feeds, finishes and renders. */
const char *tm_run(const struct rt_merge *spec, struct tm_leg *legs, size_t n, const char *order,
		   size_t mem_cap, struct tm_out *out);

int tm_run_merge_tests(void);
int tm_run_group_tests(void);
int tm_run_mval_tests(void);

#endif /* MYSHARD_TESTS_TM_H */
