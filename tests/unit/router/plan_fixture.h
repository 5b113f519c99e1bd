/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/router/plan_fixture.h - the hand-built 4-shard snapshot the planner tests run
 * against, and keys that route to each shard under its functions.
 */
#ifndef MYSHARD_TESTS_UNIT_ROUTER_PLAN_FIXTURE_H
#define MYSHARD_TESTS_UNIT_ROUTER_PLAN_FIXTURE_H

#include "topology/topo.h"

/*
 * Shards s0..s3, default shard s0. Functions:
 *   0 "hash"   HASH  INT     -40, 40-80, 80-c0, c0-   -> s0..s3
 *   1 "range"  RANGE INT     keys < 100 -> s0, 100..199 -> s1, 200..299 -> s2, >= 300 -> s3
 *   2 "shash"  HASH  STRING (ci), same ranges as "hash"
 * Tables: users(id) and orders(user_id) on hash (co-located); items(id) on hash fed by sequence
 * 0 "items_seq"; events(id) on range; names(name) on shash; countries and currencies global;
 * shop.accounts(id) on hash only in schema "shop".
 */
struct topo_snapshot *fixture_snapshot(void);
/* Decimal text of an integer key that "hash" maps to shard <i>. */
const char *fixture_hkey(size_t i);
/* A string key (no quotes) that "shash" maps to shard <i>. */
const char *fixture_skey(size_t i);

#endif /* MYSHARD_TESTS_UNIT_ROUTER_PLAN_FIXTURE_H */
