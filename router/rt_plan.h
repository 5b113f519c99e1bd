/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_plan.h - turns one SQL statement plus a topology snapshot into a plan: which shards
 * run what SQL, and how their results become the one result a single server would have sent.
 * Never guesses: when the shards a statement touches cannot be proven, reads scatter (only if
 * the merge needs no understanding of the statement) and everything else is refused with an
 * error naming the reason. Pure; any thread; the plan owns all its memory.
 */
#ifndef MYSHARD_ROUTER_RT_PLAN_H
#define MYSHARD_ROUTER_RT_PLAN_H

#include "common/ms_base.h"

#include <limits.h>
#include "topology/topo_map.h"

struct topo_snapshot;

enum rt_plan_kind {
	RT_PLAN_SHARDS = 0, /* run legs[] (1..n) and deliver their results per <merge> */
	RT_PLAN_ERROR,      /* answer ERR err_code / err_state / err_msg; nothing runs */
	RT_PLAN_EXPLAIN,    /* EXPLAIN ROUTE <stmt>: <inner> is the plan of <stmt>; the proxy
			       answers with rt_plan_explain_rows() as a result set */
	RT_PLAN_NEED_IDS,   /* INSERT into a table fed by sequence <seq>: call rt_plan_build()
			       again with <need_ids> ids from it in rt_plan_in.ids */
};

/* What one shard runs. */
struct rt_leg {
	size_t shard; /* index in the snapshot */
	char *sql;    /* owned, NUL-terminated; NULL = the client's statement text unchanged */
	size_t sql_len;
};

enum rt_merge_kind {
	RT_MERGE_NONE = 0, /* exactly one leg: its response goes to the client unchanged */
	RT_MERGE_CONCAT,   /* results: rows of every leg in leg order, then offset/limit;
			      OK packets: affected rows and warnings summed, info recomputed */
	RT_MERGE_SORT,     /* results: k-way merge by sort[], then offset/limit */
	RT_MERGE_GROUP,    /* results: rows grouped by group[] (all rows form one group when
			      n_group == 0), aggregates per cols[], having, sort[], offset/limit */
	RT_MERGE_ALL_SAME, /* writes to global tables and DDL: every leg must succeed; the client
			      gets the first leg's OK; an ERR is reported with its shard's name */
};

/* How a merged column's value is computed from the legs' rows of one group. */
enum rt_agg {
	RT_AGG_NONE = 0,       /* a group key or plain value: the value of the group's first row */
	RT_AGG_COUNT,          /* COUNT(...): sum of the legs' counts */
	RT_AGG_SUM,            /* SUM(...): exact sum (decimal for DECIMAL/integer results) */
	RT_AGG_MIN,
	RT_AGG_MAX,
	RT_AGG_AVG,            /* AVG(x): sum of column <src> / sum of column <src2> (hidden SUM(x)
				  and COUNT(x) columns), formatted with this column's decimals */
	RT_AGG_COUNT_DISTINCT, /* COUNT(DISTINCT x): number of distinct non-NULL values of column
				  <src> (hidden x, which the legs also GROUP BY) */
};

/* One column of the legs' result rows (visible ones first, then hidden helpers). */
struct rt_merge_col {
	enum rt_agg agg;
	unsigned int src;  /* RT_AGG_AVG: SUM column; RT_AGG_COUNT_DISTINCT: value column */
	unsigned int src2; /* RT_AGG_AVG: COUNT column */
	/* Result metadata carries the connection's collation, not the column's, so string values
	 * are compared through a hidden WEIGHT_STRING(RTRIM(x)) column (its sort key under the
	 * column's own collation, compared bytewise). Zero-initialized: no weight column. */
	bool has_weight;
	unsigned int weight; /* has_weight: index of this column's WEIGHT_STRING column */
};

struct rt_sort_key {
	unsigned int col; /* column index in the (merged) row */
	bool desc;
};

/* HAVING, evaluated on merged rows; nodes reference each other by index into rt_merge.having. */
enum rt_hv_op {
	RT_HV_COL = 0, /* value of column <col> */
	RT_HV_LIT,     /* literal <lit>/<lit_len>: a number or (unquoted, unescaped) string */
	RT_HV_NULL,
	RT_HV_AND, RT_HV_OR, RT_HV_NOT, /* <a> [, <b>] */
	RT_HV_EQ, RT_HV_NE, RT_HV_LT, RT_HV_LE, RT_HV_GT, RT_HV_GE, /* <a> op <b> */
	RT_HV_IS_NULL, RT_HV_IS_NOT_NULL, /* <a> */
};

struct rt_hv_node {
	enum rt_hv_op op;
	unsigned int col;
	const char *lit; /* owned by the plan */
	size_t lit_len;
	bool lit_is_string;
	int a, b; /* child node indexes, -1 if none */
};

/* rt_merge.n_visible when the select list has a * (SELECT *, t.*) and no hidden columns: the
 * planner cannot count the columns, so every column of the legs' rows is visible. */
#define RT_ALL_COLUMNS UINT_MAX
/* SELECT * plans (n_visible RT_ALL_COLUMNS, n_tail > 0): the legs' rows end with n_tail hidden
 * helper columns after the star's columns, whose number the plan cannot know. Sort-key and
 * weight indexes RT_TAIL_BASE + j name tail column j; smaller indexes are absolute. */
#define RT_TAIL_BASE 0x40000000u

struct rt_merge {
	enum rt_merge_kind kind;
	unsigned int n_visible;      /* columns the client sees; the rest are hidden helpers
					(RT_ALL_COLUMNS: all of them) */
	struct rt_merge_col *cols;   /* owned; n_cols entries (GROUP); with n_tail > 0, the tail
					columns' entries instead (n_cols == n_tail) */
	unsigned int n_cols;
	unsigned int n_tail;         /* SELECT * only: trailing hidden columns (RT_TAIL_BASE) */
	unsigned int *group;         /* owned; column indexes forming the group key (GROUP) */
	unsigned int n_group;
	struct rt_sort_key *sort;    /* owned; applied after grouping (SORT, GROUP, CONCAT=none) */
	unsigned int n_sort;
	struct rt_hv_node *having;   /* owned; root is having[0]; NULL if no HAVING */
	unsigned int n_having;
	bool has_limit;
	uint64_t limit;              /* rows to send after skipping <offset> */
	uint64_t offset;
};

struct rt_plan {
	enum rt_plan_kind kind;
	struct rt_leg *legs; /* owned */
	size_t n_legs;
	struct rt_merge merge;
	bool write;          /* changes data or schema (transactions, EXPLAIN) */
	bool scatter;        /* the legs are every shard because no key narrowed them */
	uint64_t insert_id;  /* INSERT with sequence ids: the first id assigned (for the OK
				packet and LAST_INSERT_ID()); 0 otherwise */
	/* RT_PLAN_NEED_IDS */
	size_t seq;          /* index in snapshot map sequences */
	size_t need_ids;
	/* RT_PLAN_ERROR */
	uint16_t err_code;
	char err_state[6];
	char *err_msg;       /* owned */
	/* RT_PLAN_EXPLAIN */
	struct rt_plan *inner; /* owned */
	char *text;          /* owned: the statement text a leg with sql == NULL runs (a copy;
				set on EXPLAIN ROUTE inner plans, NULL otherwise) */
	size_t text_len;
	char digest[128];    /* normalized fingerprint, cut to fit (rt_digest) */
	void *arena;         /* owned: everything above is carved from it */
};

struct rt_plan_in {
	const char *sql; /* borrowed; the statement text (COM_QUERY payload after the command byte) */
	size_t len;
	const struct topo_snapshot *snap; /* borrowed */
	const char *schema; /* borrowed; session default schema, "" if none */
	const uint64_t *ids; /* borrowed; sequence ids after RT_PLAN_NEED_IDS, else NULL */
	size_t n_ids;
};

/*
 * A write plan made by the caller: every shard of <set> runs <sql> (copied); several legs
 * merge per <multi> (RT_MERGE_CONCAT sums OK packets, RT_MERGE_ALL_SAME answers the first
 * leg's). For statements myshard takes apart itself (LOAD DATA LOCAL INFILE).
 */
enum ms_rc rt_plan_fixed(const struct topo_snapshot *snap, const struct topo_shardset *set,
			 const char *sql, size_t len, enum rt_merge_kind multi,
			 struct rt_plan **out) MS_MUSTCHECK;
/* Builds the plan for <in>. Only MS_ENOMEM fails; a refusal is a plan of kind RT_PLAN_ERROR. */
enum ms_rc rt_plan_build(const struct rt_plan_in *in, struct rt_plan **out) MS_MUSTCHECK;
void rt_plan_free(struct rt_plan *p);

/* One row of EXPLAIN ROUTE: step number, shard name ("" for the proxy), SQL or merge step. */
struct rt_explain_row {
	char *step;  /* owned by the plan */
	char *shard;
	char *text;
};
/* Rows describing <p> (legs, then merge steps, then a "route" row with the route kind and
 * the digest); for an RT_PLAN_EXPLAIN plan, rows describing its inner plan. Allocated in <p>'s
 * arena (freed with it). */
enum ms_rc rt_plan_explain_rows(struct rt_plan *p, const struct topo_snapshot *snap,
				struct rt_explain_row **rows, size_t *n) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_PLAN_H */
