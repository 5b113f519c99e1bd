/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_plan.c - rt_plan_build(): hints, EXPLAIN ROUTE, the pass-through fast path (no
 * token names a configured table), statements the parser did not understand, and dispatch to
 * the per-kind planners; plus the helpers they share (legs, errors, text splices).
 */
#include "router/rt_plan.h"

#include "router/rt_digest.h"
#include "router/rt_hint.h"
#include "router/rt_lex.h"
#include "router/rt_plan_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers shared by the planner files -------------------------------------------------- */

void
rt_plan_err(struct rt_pctx *c, uint16_t code, const char *state, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->plan->kind == RT_PLAN_ERROR) {
		return; /* the first reason wins */
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->plan->kind = RT_PLAN_ERROR;
	c->plan->err_code = code;
	snprintf(c->plan->err_state, sizeof(c->plan->err_state), "%s", state);
	c->plan->err_msg = rt_arena_strndup(c->a, msg, strlen(msg));
	c->oom |= c->plan->err_msg == NULL;
	c->plan->n_legs = 0;
}

void
rt_plan_refuse(struct rt_pctx *c, const char *fmt, ...)
{
	char msg[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rt_plan_err(c, RT_ER_NOT_SUPPORTED, "42000", "myshard: %s", msg);
}

bool
rt_plan_failed(const struct rt_pctx *c)
{
	return c->oom || c->plan->kind == RT_PLAN_ERROR;
}

/* Legs for every shard of <set> in index order, all running <sql> (NULL: unchanged). */
void
rt_plan_legs_set(struct rt_pctx *c, const struct topo_shardset *set, char *sql, size_t len)
{
	size_t n = topo_shardset_count(set), k = 0;
	struct rt_plan *p = c->plan;

	p->legs = rt_arena_alloc(c->a, sizeof(*p->legs) * (n > 0 ? n : 1));
	if (p->legs == NULL) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < c->snap->n_shards && i < TOPO_MAX_SHARDS; i++) {
		if (topo_shardset_has(set, i)) {
			p->legs[k].shard = i;
			p->legs[k].sql = sql;
			p->legs[k].sql_len = len;
			k++;
		}
	}
	p->n_legs = k;
	p->merge.kind = k == 1 ? RT_MERGE_NONE : RT_MERGE_CONCAT;
}

void
rt_plan_leg_one(struct rt_pctx *c, size_t shard)
{
	struct topo_shardset set;

	memset(&set, 0, sizeof(set));
	topo_shardset_add(&set, shard);
	rt_plan_legs_set(c, &set, NULL, 0);
}

/* Every shard runs the statement unchanged; all must succeed. */
void
rt_plan_broadcast(struct rt_pctx *c)
{
	struct topo_shardset set;

	memset(&set, 0, sizeof(set));
	for (size_t i = 0; i < c->snap->n_shards && i < TOPO_MAX_SHARDS; i++) {
		topo_shardset_add(&set, i);
	}
	rt_plan_legs_set(c, &set, NULL, 0);
	c->plan->merge.kind = RT_MERGE_ALL_SAME;
}

void
rt_plan_default(struct rt_pctx *c)
{
	rt_plan_leg_one(c, c->map->default_shard);
}

size_t
rt_plan_tok_off(const struct rt_stmt *s, unsigned int i)
{
	return (size_t)(s->toks[i].ptr - s->text);
}

size_t
rt_plan_tok_end(const struct rt_stmt *s, unsigned int i)
{
	return (size_t)(s->toks[i].ptr + s->toks[i].len - s->text);
}

void
rt_edit_add(struct rt_pctx *c, struct rt_edits *ed, size_t at, size_t del, const char *ins,
	    size_t ins_len)
{
	if (ed->n == RT_MAX_EDITS) {
		rt_plan_refuse(c, "statement needs too many rewrites");
		return;
	}
	ed->e[ed->n].at = at;
	ed->e[ed->n].del = del;
	ed->e[ed->n].ins = ins;
	ed->e[ed->n].ins_len = ins_len;
	ed->n++;
}

static int
rt_edit_cmp(const void *x, const void *y)
{
	const struct rt_edit *a = x, *b = y;

	if (a->at != b->at) {
		return a->at < b->at ? -1 : 1;
	}
	return a < b ? -1 : a > b; /* keep insertion order at one offset */
}

char *
rt_edit_apply(struct rt_pctx *c, struct rt_edits *ed, size_t *len)
{
	const char *text = c->s->text;
	struct rt_buf b;
	size_t pos = 0;

	qsort(ed->e, ed->n, sizeof(ed->e[0]), rt_edit_cmp);
	rt_buf_init(&b, c->a);
	for (unsigned int i = 0; i < ed->n; i++) {
		const struct rt_edit *e = &ed->e[i];

		if (e->at > pos) {
			rt_buf_add(&b, text + pos, e->at - pos);
			pos = e->at;
		}
		rt_buf_add(&b, e->ins, e->ins_len);
		pos += e->del;
	}
	/* the statement ends at its last token: a trailing ';' or comment is not sent */
	size_t end = c->s->n_toks > 0 ? rt_plan_tok_end(c->s, c->s->n_toks - 1) : 0;

	if (end > pos) {
		rt_buf_add(&b, text + pos, end - pos);
	}
	if (b.oom || b.p == NULL) {
		c->oom = true;
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* A decimal integer literal without sign, exponent or point. */
bool
rt_plan_u64(const struct rt_tok *t, uint64_t *v)
{
	uint64_t x = 0;

	if (t->kind != RT_TOK_NUMBER || t->len == 0 || t->len > 20) {
		return false;
	}
	for (size_t i = 0; i < t->len; i++) {
		unsigned int d = (unsigned int)(t->ptr[i] - '0');

		if (d > 9 || x > (UINT64_MAX - d) / 10) {
			return false;
		}
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

const char *
rt_tref_label(const struct rt_tref *r, char *buf, size_t cap)
{
	if (r->schema.len > 0) {
		snprintf(buf, cap, "%.*s.%.*s", (int)r->schema.len, r->schema.ptr, (int)r->name.len,
			 r->name.ptr);
	} else {
		snprintf(buf, cap, "%.*s", (int)r->name.len, r->name.ptr);
	}
	return buf;
}

/* ---- the front door ----------------------------------------------------------------------- */

static bool
rt_word_in(const struct rt_tok *t, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (rt_tok_is(t, list[i])) {
			return true;
		}
	}
	return false;
}

static bool
rt_is_write_verb(const struct rt_tok *t)
{
	static const char *const w[] = { "INSERT", "REPLACE", "UPDATE",   "DELETE", "CREATE",
					 "ALTER",  "DROP",    "TRUNCATE", "RENAME", "LOAD" };

	return rt_word_in(t, w, MS_ARRAY_LEN(w));
}

/* Name of token <t> as a table name: backticks stripped. */
static void
rt_tok_name(const struct rt_tok *t, const char **p, size_t *n)
{
	*p = t->ptr;
	*n = t->len;
	if (t->kind == RT_TOK_QIDENT && t->len >= 2) {
		(*p)++;
		*n -= 2;
	}
}

/* The configured table token <i> names (qualified by a preceding "schema." if any), or NULL. */
static const struct topo_table *
rt_tok_table(const struct rt_pctx *c, const struct rt_stmt *s, unsigned int i)
{
	const char *name, *schema = c->in->schema;
	size_t nlen, slen = schema != NULL ? strlen(schema) : 0;
	const struct rt_tok *t = &s->toks[i];

	if (t->kind != RT_TOK_WORD && t->kind != RT_TOK_QIDENT) {
		return NULL;
	}
	rt_tok_name(t, &name, &nlen);
	if (!topo_table_name_known(c->map, name, nlen)) {
		return NULL;
	}
	if (i >= 2 && rt_tok_punct(&s->toks[i - 1], '.') &&
	    (s->toks[i - 2].kind == RT_TOK_WORD || s->toks[i - 2].kind == RT_TOK_QIDENT)) {
		rt_tok_name(&s->toks[i - 2], &schema, &slen);
	}
	return topo_table_find(c->map, schema, slen, name, nlen);
}

/* The statement was not understood: reads may scatter if the merge needs no understanding. */
static void
rt_plan_unparsed(struct rt_pctx *c)
{
	static const char *const risky[] = { "GROUP",  "ORDER", "LIMIT",  "DISTINCT", "UNION",
					     "HAVING", "INTO",  "SELECT", "OFFSET" };
	const struct rt_stmt *s = c->s;
	const struct topo_table *sharded = NULL, *t;
	enum rt_aggf agg;
	bool configured = false;

	for (unsigned int i = 0; i < s->n_toks; i++) {
		if ((t = rt_tok_table(c, s, i)) == NULL) {
			continue;
		}
		configured = true;
		if (t->kind == TOPO_TABLE_SHARDED && sharded != NULL && sharded != t) {
			rt_plan_refuse(
				c,
				"cannot route this statement: %s (and it names sharded tables %s and %s)",
				s->err, sharded->name, t->name);
			return;
		}
		sharded = t->kind == TOPO_TABLE_SHARDED ? t : sharded;
	}
	if (!configured) {
		rt_plan_default(c);
		return;
	}
	if (s->kind != RT_STMT_SELECT && !(s->n_toks > 0 && (rt_tok_is(&s->toks[0], "SELECT") ||
							     rt_tok_is(&s->toks[0], "WITH") ||
							     rt_tok_punct(&s->toks[0], '(')))) {
		rt_plan_refuse(c, "cannot route this write: %s", s->err);
		return;
	}
	if (sharded == NULL) {
		rt_plan_default(c); /* global tables only: any copy answers */
		return;
	}
	for (unsigned int i = 1; i < s->n_toks; i++) {
		const struct rt_tok *x = &s->toks[i];

		if (rt_word_in(x, risky, MS_ARRAY_LEN(risky)) ||
		    (rt_aggf_of(x, &agg) && i + 1 < s->n_toks &&
		     rt_tok_punct(&s->toks[i + 1], '('))) {
			rt_plan_refuse(c, "cannot route this SELECT on sharded table %s: %s",
				       sharded->name, s->err);
			return;
		}
	}
	struct topo_shardset set;

	memset(&set, 0, sizeof(set));
	topo_func_shards(&c->map->funcs[sharded->func], &set);
	rt_plan_legs_set(c, &set, NULL, 0);
	c->plan->scatter = c->plan->n_legs > 1;
}

/* Statements the parser does not look into (SET, SHOW, CALL, ...). */
static void
rt_plan_other(struct rt_pctx *c)
{
	static const char *const harmless[] = { "SHOW",   "DESCRIBE", "DESC",      "EXPLAIN",
						"HELP",   "USE",      "BEGIN",     "START",
						"COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE" };
	const struct rt_stmt *s = c->s;
	const struct topo_table *t = NULL;

	if (s->n_toks > 0 && !rt_word_in(&s->toks[0], harmless, MS_ARRAY_LEN(harmless))) {
		for (unsigned int i = 0; i < s->n_toks && t == NULL; i++) {
			t = rt_tok_table(c, s, i);
		}
	}
	if (t != NULL) {
		rt_plan_refuse(c, "cannot route this statement: %.*s on configured table %s",
			       (int)s->toks[0].len, s->toks[0].ptr, t->name);
		return;
	}
	rt_plan_default(c);
}

static void
rt_plan_dispatch(struct rt_pctx *c)
{
	struct rt_stmt *s = c->s;

	if (!s->ok) {
		rt_plan_unparsed(c);
		return;
	}
	rt_trefs_resolve(c);
	switch (s->kind) {
	case RT_STMT_SELECT:
		rt_plan_select(c);
		break;
	case RT_STMT_INSERT:
	case RT_STMT_REPLACE:
		rt_plan_insert(c);
		break;
	case RT_STMT_UPDATE:
	case RT_STMT_DELETE:
		rt_plan_update_delete(c);
		break;
	case RT_STMT_CREATE_DB:
	case RT_STMT_DROP_DB:
		rt_plan_broadcast(c);
		break;
	case RT_STMT_OTHER:
		rt_plan_other(c);
		break;
	default:
		rt_plan_ddl(c);
		break;
	}
}

/* True if no token of <len> bytes of <sql> names a table of the map. */
static bool
rt_plan_fast(const struct rt_pctx *c, const char *sql, size_t len, struct rt_tok *first,
	     struct rt_tok *second)
{
	struct rt_lex lx;
	bool known = false;
	unsigned int i = 0;

	rt_lex_init(&lx, sql, len);
	for (;; i++) {
		struct rt_tok t = rt_lex_next(&lx);
		const char *name;
		size_t n;

		if (t.kind == RT_TOK_END || t.kind == RT_TOK_ERROR) {
			break;
		}
		if (i < 2) {
			*(i == 0 ? first : second) = t;
		}
		if (t.kind == RT_TOK_WORD || t.kind == RT_TOK_QIDENT) {
			rt_tok_name(&t, &name, &n);
			known |= topo_table_name_known(c->map, name, n);
		}
	}
	return !known;
}

static enum ms_rc rt_plan_build_in(const struct rt_plan_in *in, struct rt_arena *a,
				   struct rt_plan **out);

/* EXPLAIN ROUTE <stmt>: the inner plan describes <stmt>. */
static enum ms_rc
rt_plan_explain_route(struct rt_pctx *c, const struct rt_tok *route)
{
	struct rt_plan_in in2 = *c->in;
	const char *rest = route->ptr + route->len;
	struct rt_plan *inner;
	enum ms_rc rc;

	while (rest < c->in->sql + c->in->len &&
	       (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')) {
		rest++;
	}
	in2.sql = rest;
	in2.len = (size_t)(c->in->sql + c->in->len - rest);
	rc = rt_plan_build_in(&in2, c->a, &inner);
	if (rc != MS_OK) {
		return rc;
	}
	inner->text = rt_arena_strndup(c->a, in2.sql, in2.len);
	inner->text_len = in2.len;
	if (inner->text == NULL) {
		return MS_ENOMEM;
	}
	c->plan->kind = RT_PLAN_EXPLAIN;
	c->plan->inner = inner;
	return MS_OK;
}

/* Hint / EXPLAIN ROUTE / fast path; returns true when the plan is complete. */
static bool
rt_plan_shortcuts(struct rt_pctx *c, enum ms_rc *rc)
{
	const struct rt_plan_in *in = c->in;
	struct rt_tok first = { .kind = RT_TOK_END }, second = { .kind = RT_TOK_END };
	const char *name;
	size_t n;
	bool fast = rt_plan_fast(c, in->sql, in->len, &first, &second);

	*rc = MS_OK;
	c->plan->write = rt_is_write_verb(&first);
	if (rt_tok_is(&first, "EXPLAIN") && rt_tok_is(&second, "ROUTE")) {
		*rc = rt_plan_explain_route(c, &second);
		return true;
	}
	if (rt_hint_find(in->sql, in->len, &name, &n)) {
		for (size_t i = 0; i < c->snap->n_shards; i++) {
			if (strlen(c->snap->shards[i].name) == n &&
			    memcmp(c->snap->shards[i].name, name, n) == 0) {
				rt_plan_leg_one(c, i);
				return true;
			}
		}
		rt_plan_err(c, RT_ER_UNKNOWN, "HY000", "myshard: hint names unknown shard '%.*s'",
			    (int)n, name);
		return true;
	}
	if (!fast) {
		return false;
	}
	if ((rt_tok_is(&first, "CREATE") || rt_tok_is(&first, "DROP")) &&
	    (rt_tok_is(&second, "DATABASE") || rt_tok_is(&second, "SCHEMA"))) {
		rt_plan_broadcast(c);
	} else {
		rt_plan_default(c);
	}
	return true;
}

static enum ms_rc
rt_plan_build_in(const struct rt_plan_in *in, struct rt_arena *a, struct rt_plan **out)
{
	struct rt_pctx c = { .in = in, .snap = in->snap, .map = &in->snap->map, .a = a };
	enum ms_rc rc;

	c.plan = rt_arena_alloc(a, sizeof(*c.plan));
	if (c.plan == NULL) {
		return MS_ENOMEM;
	}
	c.plan->arena = NULL;
	if (rt_digest(in->sql, in->len, c.plan->digest, sizeof(c.plan->digest)) == 0) {
		c.plan->digest[0] = '\0'; /* empty statement */
	}
	if (!rt_plan_shortcuts(&c, &rc)) {
		rc = rt_parse(in->sql, in->len, a, &c.s);
		if (rc == MS_OK) {
			rt_plan_dispatch(&c);
		}
	}
	if (rc == MS_OK && c.oom) {
		rc = MS_ENOMEM;
	}
	*out = c.plan;
	return rc;
}

enum ms_rc
rt_plan_build(const struct rt_plan_in *in, struct rt_plan **out)
{
	struct rt_arena *a;
	struct rt_plan *p;
	enum ms_rc rc;

	if (rt_arena_new(&a) != MS_OK) {
		return MS_ENOMEM;
	}
	rc = rt_plan_build_in(in, a, &p);
	if (rc != MS_OK) {
		rt_arena_free(a);
		return rc;
	}
	p->arena = a;
	*out = p;
	return MS_OK;
}

enum ms_rc
rt_plan_fixed(const struct topo_snapshot *snap, const struct topo_shardset *set, const char *sql,
	      size_t len, enum rt_merge_kind multi, struct rt_plan **out)
{
	struct rt_plan_in in = { .sql = sql, .len = len, .snap = snap };
	struct rt_pctx c = { .in = &in, .snap = snap, .map = &snap->map };
	char *copy;

	*out = NULL;
	if (rt_arena_new(&c.a) != MS_OK) {
		return MS_ENOMEM;
	}
	c.plan = rt_arena_alloc(c.a, sizeof(*c.plan));
	copy = rt_arena_alloc(c.a, len + 1);
	if (c.plan == NULL || copy == NULL) {
		rt_arena_free(c.a);
		return MS_ENOMEM;
	}
	memcpy(copy, sql, len);
	copy[len] = '\0';
	c.plan->kind = RT_PLAN_SHARDS;
	c.plan->write = true;
	if (rt_digest(sql, len, c.plan->digest, sizeof(c.plan->digest)) == 0) {
		c.plan->digest[0] = '\0';
	}
	rt_plan_legs_set(&c, set, copy, len);
	if (c.oom) {
		rt_arena_free(c.a);
		return MS_ENOMEM;
	}
	if (c.plan->n_legs > 1) {
		c.plan->merge.kind = multi;
	}
	c.plan->arena = c.a;
	*out = c.plan;
	return MS_OK;
}

void
rt_plan_free(struct rt_plan *p)
{
	if (p != NULL) {
		rt_arena_free(p->arena); /* the plan itself lives in its arena */
	}
}
