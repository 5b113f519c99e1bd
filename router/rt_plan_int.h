/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_plan_int.h - what the planner's files share: the planning context, plan-building
 * helpers (legs, errors, text splices) and the per-statement-kind planners. Private to router/.
 */
#ifndef MYSHARD_ROUTER_RT_PLAN_INT_H
#define MYSHARD_ROUTER_RT_PLAN_INT_H

#include "router/rt_arena.h"
#include "router/rt_parse.h"
#include "router/rt_plan.h"
#include "topology/topo.h"

#define RT_ER_NOT_SUPPORTED 1235 /* ER_NOT_SUPPORTED_YET, SQLSTATE 42000 */
#define RT_ER_UNKNOWN       1105 /* ER_UNKNOWN_ERROR, SQLSTATE HY000 */
#define RT_MAX_EDITS        64
#define RT_MAX_SHARDED      64 /* sharded table references one statement may join */

struct rt_pctx {
	const struct rt_plan_in *in;      /* borrowed */
	const struct topo_snapshot *snap; /* borrowed */
	const struct topo_map *map;       /* borrowed: &snap->map */
	struct rt_arena *a;               /* borrowed: the plan's arena */
	struct rt_plan *plan;             /* borrowed: being built */
	struct rt_stmt *s;                /* arena */
	bool oom;
};

/* One change to the statement text: delete <del> bytes at <at>, then insert <ins>. */
struct rt_edit {
	size_t at;
	size_t del;
	const char *ins; /* arena or static */
	size_t ins_len;
};

struct rt_edits {
	struct rt_edit e[RT_MAX_EDITS];
	unsigned int n;
};

/* The sharded tables of one query block (or of an UPDATE/DELETE) and where they route. */
struct rt_blk {
	int block;                 /* rt_tref.block value of its tables */
	const struct topo_func *f; /* NULL: no sharded table */
	size_t func;
	struct topo_shardset set; /* shards the block's rows can come from */
	bool narrowed;            /* a key predicate narrowed <set> */
	unsigned int n_sharded;
	unsigned int n_global;
	unsigned int n_plain; /* neither sharded nor global (default shard) */
	const struct rt_tref *a_sharded, *a_global, *a_plain; /* examples for messages */
};

/* rt_plan.c */
void rt_plan_err(struct rt_pctx *c, uint16_t code, const char *state, const char *fmt, ...)
	MS_PRINTF(4, 5);
void rt_plan_refuse(struct rt_pctx *c, const char *fmt, ...) MS_PRINTF(2, 3);
bool rt_plan_failed(const struct rt_pctx *c) MS_MUSTCHECK;
void rt_plan_legs_set(struct rt_pctx *c, const struct topo_shardset *set, char *sql, size_t len);
void rt_plan_leg_one(struct rt_pctx *c, size_t shard);
void rt_plan_broadcast(struct rt_pctx *c);
void rt_plan_default(struct rt_pctx *c);
size_t rt_plan_tok_off(const struct rt_stmt *s, unsigned int i) MS_MUSTCHECK;
size_t rt_plan_tok_end(const struct rt_stmt *s, unsigned int i) MS_MUSTCHECK;
void rt_edit_add(struct rt_pctx *c, struct rt_edits *ed, size_t at, size_t del, const char *ins,
		 size_t ins_len);
/* The statement text with <ed> applied, in the arena; NULL on OOM (c->oom set). */
char *rt_edit_apply(struct rt_pctx *c, struct rt_edits *ed, size_t *len) MS_MUSTCHECK;
bool rt_plan_u64(const struct rt_tok *t, uint64_t *v) MS_MUSTCHECK;
const char *rt_tref_label(const struct rt_tref *r, char *buf, size_t cap) MS_MUSTCHECK;

/* rt_plan_route.c */
void rt_trefs_resolve(struct rt_pctx *c);
/* Fills <b> for the depth-0 tables with rt_tref.block == <block>; checks co-location and
 * joins (an error plan on failure) and routes by <where> and the block's ON conditions. */
bool rt_blk_plan(struct rt_pctx *c, struct rt_blk *b, int block, const struct rt_expr *where,
		 const struct rt_expr *ons, const struct rt_using *usings) MS_MUSTCHECK;
/* Error plan if a subquery, derived table or CTE reads a sharded table. */
bool rt_subq_check(struct rt_pctx *c) MS_MUSTCHECK;
bool rt_tref_is_key(const struct rt_tref *r, const struct rt_tok *col) MS_MUSTCHECK;
/* Maps literal <e> to a topo_value; false if it is no literal (?, expressions). */
bool rt_expr_value(struct rt_pctx *c, const struct rt_expr *e, struct topo_value *v) MS_MUSTCHECK;
/* Unquotes and unescapes string token <t> into the arena. */
bool rt_unquote(struct rt_pctx *c, const struct rt_tok *t, const char **out,
		size_t *len) MS_MUSTCHECK;
size_t rt_shardset_first(const struct topo_shardset *s) MS_MUSTCHECK;

/* rt_plan_select.c / rt_plan_write.c */
void rt_plan_select(struct rt_pctx *c);
void rt_plan_select_multi(struct rt_pctx *c, struct rt_query *q, const struct topo_shardset *set);
void rt_plan_insert(struct rt_pctx *c);
void rt_plan_update_delete(struct rt_pctx *c);
void rt_plan_ddl(struct rt_pctx *c);

#endif /* MYSHARD_ROUTER_RT_PLAN_INT_H */
