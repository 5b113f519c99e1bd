/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_parse.h - a recursive-descent parser for the part of MySQL/MariaDB SQL that routing
 * needs: the statement class, every table reference (with schema, alias and query depth), WHERE
 * predicates, the SELECT list with aggregates, GROUP BY / HAVING / ORDER BY / LIMIT, UNION,
 * INSERT / REPLACE rows, UPDATE assignments and DDL table names. Expressions it does not need
 * are kept as opaque token ranges, but subqueries inside them are still parsed so that no table
 * is missed. A statement it cannot follow completely is "not understood" (ok == false, with a
 * reason): callers must not route on a partial parse. Everything lives in the caller's arena;
 * tokens are views into the caller's text. Pure; any thread.
 */
#ifndef MYSHARD_ROUTER_RT_PARSE_H
#define MYSHARD_ROUTER_RT_PARSE_H

#include "common/ms_base.h"
#include "router/rt_lex.h"

struct rt_arena;
struct topo_table;

enum rt_stmt_kind {
	RT_STMT_OTHER = 0, /* anything else (SET, SHOW, BEGIN, CALL, ...): not parsed further */
	RT_STMT_SELECT,    /* SELECT, WITH ... SELECT, (SELECT ...) UNION ... */
	RT_STMT_INSERT,
	RT_STMT_REPLACE,
	RT_STMT_UPDATE,
	RT_STMT_DELETE,
	RT_STMT_CREATE_TABLE,
	RT_STMT_ALTER_TABLE,
	RT_STMT_DROP_TABLE,
	RT_STMT_TRUNCATE,
	RT_STMT_RENAME_TABLE,
	RT_STMT_CREATE_INDEX,
	RT_STMT_DROP_INDEX,
	RT_STMT_CREATE_DB, /* CREATE DATABASE | SCHEMA */
	RT_STMT_DROP_DB,
};

enum rt_ex_kind {
	RT_EX_COL = 0, /* [[schema.]table.]column */
	RT_EX_STAR,    /* * or table.* */
	RT_EX_LIT,     /* number, string, hex/bit literal (with a folded unary minus) */
	RT_EX_NULL,
	RT_EX_BOOL,    /* TRUE / FALSE */
	RT_EX_PARAM,   /* ? */
	RT_EX_DEFAULT, /* DEFAULT (in VALUES) */
	RT_EX_FUNC,    /* name(args): <agg>, <distinct>, <window>; args are the kids */
	RT_EX_AND,
	RT_EX_OR,
	RT_EX_NOT,
	RT_EX_CMP,     /* kids[0] <op> kids[1] */
	RT_EX_IN,      /* kids[0] [NOT] IN (kids[1..]) */
	RT_EX_BETWEEN, /* kids[0] [NOT] BETWEEN kids[1] AND kids[2] */
	RT_EX_ISNULL,  /* kids[0] IS [NOT] NULL */
	RT_EX_SUBQ,    /* (SELECT ...), EXISTS (...), IN (SELECT ...): tables at depth + 1 */
	RT_EX_OTHER,   /* anything else; known sub-expressions are its kids */
};

enum rt_cmp_op {
	RT_CMP_EQ = 0,
	RT_CMP_NE,
	RT_CMP_LT,
	RT_CMP_LE,
	RT_CMP_GT,
	RT_CMP_GE,
	RT_CMP_NSEQ
};

/* Aggregate functions the merge understands, and the ones it must refuse. */
enum rt_aggf {
	RT_AGGF_NONE = 0,
	RT_AGGF_COUNT,
	RT_AGGF_SUM,
	RT_AGGF_MIN,
	RT_AGGF_MAX,
	RT_AGGF_AVG,
	RT_AGGF_OTHER, /* GROUP_CONCAT, STD, VARIANCE, BIT_AND, JSON_ARRAYAGG, ... */
};

struct rt_expr {
	enum rt_ex_kind kind;
	unsigned int b, e;    /* token range [b, e) in rt_stmt.toks */
	struct rt_expr *kids; /* arena; first child */
	struct rt_expr *last; /* arena; last child (appends in constant time) */
	struct rt_expr *next; /* arena; next sibling */
	unsigned int n_kids;
	struct rt_tok q;    /* COL / STAR: table qualifier (len 0 if none) */
	struct rt_tok name; /* COL: column; FUNC: function name; LIT: the literal token */
	enum rt_cmp_op op;  /* CMP */
	bool neg;           /* NOT IN, NOT BETWEEN, IS NOT NULL; LIT: a folded unary minus */
	enum rt_aggf agg;   /* FUNC */
	bool distinct;      /* FUNC: COUNT(DISTINCT ...) */
	bool star_arg;      /* FUNC: COUNT(*) */
	bool window;        /* FUNC: ... OVER (...) */
	bool inner_agg;     /* an aggregate call somewhere strictly inside (opaque args too) */
};

/* One table reference. */
struct rt_tref {
	struct rt_tok schema; /* len 0 if none */
	struct rt_tok name;   /* unquoted view (backticks stripped) */
	struct rt_tok alias;  /* len 0 if none */
	unsigned int depth;   /* 0: the statement's own query blocks; > 0 inside a subquery */
	int block;            /* index of the depth-0 query block (union branch), -1 otherwise */
	bool cte;             /* a reference to a WITH name, not a table */
	const struct topo_table *tab; /* borrowed; filled by the planner */
};

/* JOIN ... USING (cols): <right> is joined to the tables before it on equal <cols>. */
struct rt_using {
	unsigned int right;  /* index in rt_stmt.trefs */
	unsigned int first;  /* the block's first tref index */
	struct rt_tok *cols; /* arena */
	unsigned int n_cols;
	struct rt_using *next;
};

struct rt_item {
	struct rt_expr *ex;
	struct rt_tok alias; /* unquoted; len 0 if none */
};

struct rt_order {
	struct rt_expr *ex;
	bool desc;
};

/* One SELECT block (a branch of a UNION). Token indexes point into rt_stmt.toks. */
struct rt_query {
	bool distinct;
	struct rt_item *items; /* arena */
	unsigned int n_items;
	unsigned int items_end;  /* token index just after the last select item */
	unsigned int clause_pos; /* token index where GROUP BY would go (after FROM/WHERE) */
	struct rt_expr *where;
	struct rt_expr *ons; /* ON conditions, chained by <next> */
	struct rt_using *usings;
	struct rt_order *group; /* arena */
	unsigned int n_group;
	unsigned int group_end; /* token index after the last GROUP BY item */
	bool rollup;
	struct rt_expr *having;
	unsigned int having_b, having_e; /* HAVING keyword .. end of its condition */
	struct rt_order *order;
	unsigned int n_order;
	bool order_null; /* ORDER BY NULL */
	bool has_limit;
	struct rt_tok limit_n, limit_off; /* NUMBER or PARAM tokens; limit_off.len 0 if none */
	unsigned int limit_b, limit_e;
	bool into;      /* SELECT ... INTO */
	bool lock;      /* FOR UPDATE / LOCK IN SHARE MODE */
	bool union_all; /* how this block joins the previous one */
	bool parens;    /* written as (SELECT ...) */
	bool has_from;
	unsigned int b, e;
};

/* column = value (UPDATE SET, INSERT SET, ON DUPLICATE KEY UPDATE). */
struct rt_assign {
	struct rt_expr *col;
	struct rt_expr *val;
	unsigned int e; /* token index after the value */
};

struct rt_tuple {
	unsigned int b, e;     /* token index of '(' and of ')' */
	struct rt_expr **vals; /* arena */
	unsigned int n_vals;
};

struct rt_stmt {
	enum rt_stmt_kind kind;
	bool ok; /* false: not understood, see <err> */
	char err[160];
	const char *text; /* borrowed */
	size_t len;
	struct rt_tok *toks; /* arena; n_toks real tokens, then one END token */
	unsigned int n_toks;
	struct rt_tref *trefs; /* arena */
	unsigned int n_trefs;
	bool has_subq; /* a subquery, derived table or CTE body somewhere */
	bool has_window;
	/* SELECT: the blocks of the UNION (1 when there is none); INSERT ... SELECT too */
	struct rt_query **blocks;
	unsigned int n_blocks;
	bool union_tail; /* ORDER BY / LIMIT after a parenthesized last branch */
	/* INSERT / REPLACE */
	unsigned int
		target; /* index in trefs of the written table (INSERT, single UPDATE/DELETE) */
	bool ignore;
	struct rt_tok *cols; /* arena; the column list */
	unsigned int n_cols;
	bool has_cols;
	unsigned int
		cols_close; /* token index of the column list's ')' or of the last table token */
	struct rt_tuple *tuples;
	unsigned int n_tuples;
	bool select_form;       /* INSERT ... SELECT */
	bool set_form;          /* INSERT ... SET / UPDATE SET */
	struct rt_assign *sets; /* INSERT SET / UPDATE SET */
	unsigned int n_sets;
	struct rt_assign *odku; /* ON DUPLICATE KEY UPDATE */
	unsigned int n_odku;
	/* UPDATE / DELETE */
	struct rt_expr *where;
	bool has_order, has_limit;
	bool multi;                 /* multi-table UPDATE / DELETE */
	struct rt_tok *del_targets; /* DELETE t1, t2 FROM ...: the names/aliases deleted from */
	unsigned int n_del_targets;
	struct rt_expr *ons; /* UPDATE/DELETE join conditions */
	struct rt_using *usings;
};

/*
 * Parses <len> bytes of <text> (one statement; a trailing ';' is allowed) into *<out>, carved
 * from <a>. Returns MS_ENOMEM only when the arena is exhausted; a statement it does not
 * understand is returned with ok == false and a reason in err.
 */
enum ms_rc rt_parse(const char *text, size_t len, struct rt_arena *a,
		    struct rt_stmt **out) MS_MUSTCHECK;
/* True if the token ranges of <x> and <y> are the same text (words compared without case). */
bool rt_expr_same(const struct rt_stmt *s, const struct rt_expr *x,
		  const struct rt_expr *y) MS_MUSTCHECK;
/* Byte range of tokens [<b>, <e>) in the text. */
void rt_stmt_span(const struct rt_stmt *s, unsigned int b, unsigned int e, const char **ptr,
		  size_t *len);
/* True if <t> names an aggregate function; sets *<agg>. */
bool rt_aggf_of(const struct rt_tok *t, enum rt_aggf *agg) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_PARSE_H */
