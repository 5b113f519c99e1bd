/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/protocol/tp.h - shared helpers for the protocol/ unit tests: splitting a golden
 * capture into packets, and the per-file cmocka groups that test_protocol.c runs.
 */
#ifndef MYSHARD_TESTS_TP_H
#define MYSHARD_TESTS_TP_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "protocol/mp_packet.h"
#include "tp_golden.h"

#define TP_MAX_PKTS 32

/* One packet of a capture: its header fields and a view of its payload. */
struct tp_pkt {
	const uint8_t *p; /* payload, inside the golden array */
	uint32_t len;
	uint8_t seq;
};

/* Splits <g> into packets (fails the test unless it is whole packets); returns the count. */
size_t tp_split(const struct tp_gold *g, struct tp_pkt *out, size_t max);
/* Packet <i> of <g> (fails the test if there is no such packet). */
struct tp_pkt tp_pkt(const struct tp_gold *g, size_t i);
/* True if the slice holds exactly the string <s>. */
bool tp_slice_eq(struct ms_slice s, const char *str);

/* cmocka groups, one per test file; each returns the number of failed tests. */
int tp_run_packet_tests(void);
int tp_run_handshake_tests(void);
int tp_run_result_tests(void);
int tp_run_resp_tests(void);
int tp_run_empty_tests(void);

#endif /* MYSHARD_TESTS_TP_H */
