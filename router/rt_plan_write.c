/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_plan_write.c - INSERT / REPLACE (rows routed one by one by their key literal, one
 * INSERT per shard, sequence ids spliced in), UPDATE / DELETE (routed by the WHERE like a
 * SELECT) and DDL (every shard when it names a configured table). Writes are never guessed.
 */
#include "router/rt_plan_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- INSERT ------------------------------------------------------------------------------- */

struct rt_ins {
	struct rt_pctx *c;
	const struct rt_tref *t; /* the target */
	int key;                 /* index of the key in the column list, -1 if absent */
	size_t *shard;           /* arena; per tuple */
	bool *needs_id;          /* arena; per tuple */
	size_t n_need;
};

/* Does the value <v> ask for an auto-increment id (NULL, DEFAULT, 0)? */
static bool
rt_ins_auto(const struct rt_expr *v)
{
	uint64_t u;

	return v->kind == RT_EX_NULL || v->kind == RT_EX_DEFAULT ||
	       (v->kind == RT_EX_LIT && rt_plan_u64(&v->name, &u) && u == 0);
}

static bool
rt_ins_route(struct rt_ins *in, const struct rt_expr *v, uint64_t id, bool use_id, size_t *shard)
{
	const struct topo_func *f = &in->c->map->funcs[in->t->tab->func];
	struct topo_value val;
	const char *p;
	size_t n;

	if (use_id) {
		memset(&val, 0, sizeof(val));
		val.kind = TOPO_VAL_INT;
		val.u = id;
	} else if (!rt_expr_value(in->c, v, &val)) {
		rt_stmt_span(in->c->s, v->b, v->e, &p, &n);
		rt_plan_refuse(
			in->c,
			"INSERT into sharded table %s: value '%.*s' of shard key column %s is not a literal",
			in->t->tab->name, (int)n, p, in->t->tab->key);
		return false;
	}
	switch (topo_route_value(f, &val, shard)) {
	case TOPO_ROUTE_OK:
		return true;
	case TOPO_ROUTE_NULL:
		rt_plan_refuse(in->c, "INSERT into sharded table %s: NULL shard key column %s",
			       in->t->tab->name, in->t->tab->key);
		return false;
	default:
		rt_stmt_span(in->c->s, v->b, v->e, &p, &n);
		rt_plan_refuse(
			in->c,
			"INSERT into sharded table %s: cannot map shard key value '%.*s' of column %s",
			in->t->tab->name, (int)n, p, in->t->tab->key);
		return false;
	}
}

/* The key value of tuple <i> (or of the SET list), NULL when the key is not given. */
static const struct rt_expr *
rt_ins_keyval(const struct rt_ins *in, unsigned int i)
{
	const struct rt_stmt *s = in->c->s;

	if (s->set_form) {
		for (unsigned int k = 0; k < s->n_sets; k++) {
			if (rt_tref_is_key(in->t, &s->sets[k].col->name)) {
				return s->sets[k].val;
			}
		}
		return NULL;
	}
	if (in->key < 0) {
		return NULL;
	}
	if ((unsigned int)in->key >= s->tuples[i].n_vals) {
		return NULL;
	}
	return s->tuples[i].vals[in->key];
}

/* Decides which rows need ids; returns false (error plan) when a row cannot be routed. */
static bool
rt_ins_scan(struct rt_ins *in, unsigned int n_rows)
{
	long seq = in->t->tab->sequence;

	for (unsigned int i = 0; i < n_rows; i++) {
		const struct rt_expr *v = rt_ins_keyval(in, i);

		if (v != NULL && !(seq >= 0 && rt_ins_auto(v))) {
			continue;
		}
		if (seq < 0) {
			rt_plan_refuse(
				in->c,
				"INSERT into sharded table %s must give its shard key column %s",
				in->t->tab->name, in->t->tab->key);
			return false;
		}
		in->needs_id[i] = true;
		in->n_need++;
	}
	return true;
}

/* The text of row <i> for shard legs, with its id spliced in if it needed one. */
static void
rt_ins_row(struct rt_ins *in, struct rt_buf *b, unsigned int i, uint64_t id)
{
	const struct rt_stmt *s = in->c->s;
	const struct rt_tuple *t = &s->tuples[i];
	const struct rt_expr *v = rt_ins_keyval(in, i);
	size_t from = rt_plan_tok_off(s, t->b), to = rt_plan_tok_end(s, t->e);

	if (!in->needs_id[i]) {
		rt_buf_add(b, s->text + from, to - from);
	} else if (v != NULL) {
		size_t vb = rt_plan_tok_off(s, v->b), ve = rt_plan_tok_end(s, v->e - 1);

		rt_buf_add(b, s->text + from, vb - from);
		rt_buf_addf(b, "%llu", (unsigned long long)id);
		rt_buf_add(b, s->text + ve, to - ve);
	} else {
		size_t close = rt_plan_tok_off(s, t->e);

		rt_buf_add(b, s->text + from, close - from);
		rt_buf_addf(b, "%s%llu)", t->n_vals > 0 ? ", " : "", (unsigned long long)id);
	}
}

/* INSERT ... (cols) VALUES: the part before the first row, with the key column added if the
 * rows get ids and the list lacks it. */
static void
rt_ins_prefix(struct rt_ins *in, struct rt_buf *b)
{
	const struct rt_stmt *s = in->c->s;
	size_t first = rt_plan_tok_off(s, s->tuples[0].b);

	if (in->key >= 0 || in->n_need == 0) {
		rt_buf_add(b, s->text, first);
		return;
	}
	size_t close = rt_plan_tok_off(s, s->cols_close);

	rt_buf_add(b, s->text, close);
	rt_buf_addf(b, "%s%s", s->n_cols > 0 ? ", " : "", in->t->tab->key);
	rt_buf_add(b, s->text + close, first - close);
}

/* One INSERT per shard holding rows. */
static void
rt_ins_legs(struct rt_ins *in, const struct topo_shardset *set)
{
	struct rt_pctx *c = in->c;
	const struct rt_stmt *s = c->s;
	size_t last_end = rt_plan_tok_end(s, s->tuples[s->n_tuples - 1].e);
	size_t stmt_end = rt_plan_tok_end(s, s->n_toks - 1);

	rt_plan_legs_set(c, set, NULL, 0);
	for (size_t l = 0; l < c->plan->n_legs && !c->oom; l++) {
		struct rt_buf b;
		size_t next_id = 0;
		bool first = true;

		rt_buf_init(&b, c->a);
		rt_ins_prefix(in, &b);
		for (unsigned int i = 0; i < s->n_tuples; i++) {
			uint64_t id = in->needs_id[i] ? c->in->ids[next_id++] : 0;

			if (in->shard[i] != c->plan->legs[l].shard) {
				continue;
			}
			rt_buf_adds(&b, first ? "" : ", ");
			rt_ins_row(in, &b, i, id);
			first = false;
		}
		rt_buf_add(&b, s->text + last_end, stmt_end - last_end);
		c->oom |= b.oom;
		c->plan->legs[l].sql = b.p;
		c->plan->legs[l].sql_len = b.len;
	}
}

/* INSERT ... SET with an id: appended as one more assignment. */
static void
rt_ins_set_leg(struct rt_ins *in, uint64_t id)
{
	struct rt_pctx *c = in->c;
	const struct rt_stmt *s = c->s;
	const struct rt_expr *v = rt_ins_keyval(in, 0);
	struct rt_edits ed;
	char *num = rt_arena_alloc(c->a, 64);
	size_t at, del = 0, len;

	ed.n = 0;
	if (num == NULL) {
		c->oom = true;
		return;
	}
	if (v != NULL) {
		at = rt_plan_tok_off(s, v->b);
		del = rt_plan_tok_end(s, v->e - 1) - at;
		snprintf(num, 64, "%llu", (unsigned long long)id);
	} else {
		at = rt_plan_tok_end(s, s->sets[s->n_sets - 1].e - 1);
		snprintf(num, 64, ", %s = %llu", in->t->tab->key, (unsigned long long)id);
	}
	rt_edit_add(c, &ed, at, del, num, strlen(num));
	c->plan->legs[0].sql = rt_edit_apply(c, &ed, &len);
	c->plan->legs[0].sql_len = len;
}

static bool
rt_ins_check(struct rt_ins *in)
{
	const struct rt_stmt *s = in->c->s;

	for (unsigned int k = 0; k < s->n_odku; k++) {
		if (rt_tref_is_key(in->t, &s->odku[k].col->name)) {
			rt_plan_refuse(
				in->c,
				"ON DUPLICATE KEY UPDATE changes shard key column %s of table %s",
				in->t->tab->key, in->t->tab->name);
			return false;
		}
	}
	if (s->select_form) {
		rt_plan_refuse(in->c, "INSERT ... SELECT into sharded table %s", in->t->tab->name);
		return false;
	}
	if (!s->set_form && !s->has_cols) {
		rt_plan_refuse(
			in->c,
			"INSERT into sharded table %s without a column list: name the columns",
			in->t->tab->name);
		return false;
	}
	for (unsigned int k = 0; k < s->n_cols; k++) {
		in->key = in->key < 0 && rt_tref_is_key(in->t, &s->cols[k]) ? (int)k : in->key;
	}
	return true;
}

static void
rt_ins_sharded(struct rt_pctx *c, const struct rt_tref *t)
{
	const struct rt_stmt *s = c->s;
	unsigned int rows = s->set_form ? 1 : s->n_tuples;
	struct rt_ins in = { .c = c, .t = t, .key = -1 };
	struct topo_shardset set;
	size_t next_id = 0;

	in.shard = rt_arena_alloc(c->a, sizeof(*in.shard) * (rows + 1));
	in.needs_id = rt_arena_alloc(c->a, sizeof(*in.needs_id) * (rows + 1));
	if (in.shard == NULL || in.needs_id == NULL) {
		c->oom = true;
		return;
	}
	if (!rt_ins_check(&in) || !rt_ins_scan(&in, rows)) {
		return;
	}
	if (in.n_need > 0 && (c->in->ids == NULL || c->in->n_ids < in.n_need)) {
		c->plan->kind = RT_PLAN_NEED_IDS;
		c->plan->need_ids = in.n_need;
		c->plan->seq = (size_t)t->tab->sequence;
		return;
	}
	memset(&set, 0, sizeof(set));
	for (unsigned int i = 0; i < rows; i++) {
		bool use = in.needs_id[i];
		uint64_t id = use ? c->in->ids[next_id++] : 0;

		if (!rt_ins_route(&in, rt_ins_keyval(&in, i), id, use, &in.shard[i])) {
			return;
		}
		topo_shardset_add(&set, in.shard[i]);
	}
	c->plan->insert_id = in.n_need > 0 ? c->in->ids[0] : 0;
	if (s->set_form) {
		rt_plan_legs_set(c, &set, NULL, 0);
		if (in.n_need > 0) {
			rt_ins_set_leg(&in, c->in->ids[0]);
		}
	} else if (topo_shardset_count(&set) == 1 && in.n_need == 0) {
		rt_plan_legs_set(c, &set, NULL, 0);
	} else {
		rt_ins_legs(&in, &set);
	}
}

/* Sharded or global tables read by INSERT ... SELECT (depth 0 blocks and subqueries). */
static const struct rt_tref *
rt_reads_configured(const struct rt_pctx *c, unsigned int skip, bool global_ok)
{
	for (unsigned int i = 0; i < c->s->n_trefs; i++) {
		const struct rt_tref *r = &c->s->trefs[i];

		if (i != skip && r->tab != NULL &&
		    (!global_ok || r->tab->kind == TOPO_TABLE_SHARDED)) {
			return r;
		}
	}
	return NULL;
}

static const struct rt_tref *
rt_reads_plain(const struct rt_pctx *c, unsigned int skip)
{
	for (unsigned int i = 0; i < c->s->n_trefs; i++) {
		const struct rt_tref *r = &c->s->trefs[i];

		if (i != skip && r->tab == NULL && !r->cte) {
			return r;
		}
	}
	return NULL;
}

void
rt_plan_insert(struct rt_pctx *c)
{
	const struct rt_stmt *s = c->s;
	const struct rt_tref *t = &s->trefs[s->target], *r;
	char x[160], y[160];

	if (t->tab == NULL) {
		if ((r = rt_reads_configured(c, s->target, true)) != NULL) {
			rt_plan_refuse(c, "INSERT into unsharded table %s reads sharded table %s",
				       rt_tref_label(t, x, sizeof(x)),
				       rt_tref_label(r, y, sizeof(y)));
			return;
		}
		rt_plan_default(c);
		return;
	}
	if (t->tab->kind == TOPO_TABLE_GLOBAL) {
		r = rt_reads_configured(c, s->target, true);
		r = r != NULL ? r : rt_reads_plain(c, s->target);
		if (r != NULL) {
			rt_plan_refuse(
				c, "write to global table %s reads table %s, which is not global",
				rt_tref_label(t, x, sizeof(x)), rt_tref_label(r, y, sizeof(y)));
			return;
		}
		rt_plan_broadcast(c);
		return;
	}
	if (!rt_subq_check(c)) {
		return;
	}
	if ((r = rt_reads_plain(c, s->target)) != NULL) {
		rt_plan_refuse(
			c,
			"INSERT into sharded table %s reads table %s, which is neither sharded nor global",
			rt_tref_label(t, x, sizeof(x)), rt_tref_label(r, y, sizeof(y)));
		return;
	}
	rt_ins_sharded(c, t);
}

/* ---- UPDATE / DELETE ---------------------------------------------------------------------- */

/* Is tref <i> written by this UPDATE / DELETE? */
static bool
rt_ud_target(const struct rt_pctx *c, unsigned int i)
{
	const struct rt_stmt *s = c->s;
	const struct rt_tref *r = &s->trefs[i];
	const struct rt_tok *nm = r->alias.len > 0 ? &r->alias : &r->name;

	if (r->depth != 0 || !s->multi) {
		return r->depth == 0;
	}
	if (s->kind == RT_STMT_DELETE) {
		for (unsigned int k = 0; k < s->n_del_targets; k++) {
			if (s->del_targets[k].len == nm->len &&
			    memcmp(s->del_targets[k].ptr, nm->ptr, nm->len) == 0) {
				return true;
			}
		}
		return false;
	}
	for (unsigned int k = 0; k < s->n_sets; k++) {
		const struct rt_tok *q = &s->sets[k].col->q;

		if (q->len == 0 || (q->len == nm->len && memcmp(q->ptr, nm->ptr, q->len) == 0)) {
			return true; /* unqualified: it may be this table's column */
		}
	}
	return false;
}

/* The sharded table whose shard key column <col> (of UPDATE ... SET) is, or NULL. */
static const struct rt_tref *
rt_ud_key_tref(const struct rt_pctx *c, const struct rt_expr *col)
{
	for (unsigned int i = 0; i < c->s->n_trefs; i++) {
		const struct rt_tref *r = &c->s->trefs[i];
		const struct rt_tok *nm = r->alias.len > 0 ? &r->alias : &r->name;

		if (r->depth == 0 && rt_tref_is_key(r, &col->name) &&
		    (col->q.len == 0 ||
		     (col->q.len == nm->len && memcmp(col->q.ptr, nm->ptr, nm->len) == 0))) {
			return r;
		}
	}
	return NULL;
}

/* SET assigning a shard key column of a sharded table. */
static bool
rt_ud_key_change(struct rt_pctx *c)
{
	const struct rt_stmt *s = c->s;

	for (unsigned int k = 0; s->kind == RT_STMT_UPDATE && k < s->n_sets; k++) {
		const struct rt_tref *r = rt_ud_key_tref(c, s->sets[k].col);

		if (r != NULL) {
			rt_plan_refuse(c, "UPDATE changes shard key column %s of table %s",
				       r->tab->key, r->tab->name);
			return true;
		}
	}
	return false;
}

/* Writes to a global table: every shard, nothing sharded or unsharded may be involved. */
static void
rt_ud_global(struct rt_pctx *c, const struct rt_tref *g, const struct rt_blk *b)
{
	char x[160], y[160];
	const struct rt_tref *r = b->a_sharded != NULL ? b->a_sharded : b->a_plain;

	if (r == NULL) {
		r = rt_reads_configured(c, (unsigned int)(g - c->s->trefs), true);
		r = r != NULL && r->tab->kind == TOPO_TABLE_SHARDED
			    ? r
			    : rt_reads_plain(c, (unsigned int)(g - c->s->trefs));
	}
	if (r != NULL) {
		rt_plan_refuse(c, "write to global table %s with table %s, which is not global",
			       rt_tref_label(g, x, sizeof(x)), rt_tref_label(r, y, sizeof(y)));
		return;
	}
	rt_plan_broadcast(c);
}

void
rt_plan_update_delete(struct rt_pctx *c)
{
	const struct rt_stmt *s = c->s;
	const struct rt_tref *g = NULL;
	struct rt_blk b;
	char x[160], y[160];

	if (!rt_subq_check(c) || rt_ud_key_change(c) ||
	    !rt_blk_plan(c, &b, -1, s->where, s->ons, s->usings)) {
		return;
	}
	for (unsigned int i = 0; i < s->n_trefs; i++) {
		if (s->trefs[i].tab != NULL && s->trefs[i].tab->kind == TOPO_TABLE_GLOBAL &&
		    rt_ud_target(c, i)) {
			g = &s->trefs[i];
		}
	}
	if (g != NULL) {
		rt_ud_global(c, g, &b);
		return;
	}
	if (b.n_sharded == 0) {
		rt_plan_default(c);
		return;
	}
	if (b.n_plain > 0) {
		rt_plan_refuse(
			c,
			"table %s is neither sharded nor global and cannot be used with sharded table %s",
			rt_tref_label(b.a_plain, x, sizeof(x)),
			rt_tref_label(b.a_sharded, y, sizeof(y)));
		return;
	}
	if (topo_shardset_count(&b.set) > 1 && (s->has_order || s->has_limit)) {
		rt_plan_refuse(c, "%s with ORDER BY or LIMIT on sharded table %s across shards",
			       s->kind == RT_STMT_UPDATE ? "UPDATE" : "DELETE",
			       b.a_sharded->tab->name);
		return;
	}
	rt_plan_legs_set(c, &b.set, NULL, 0);
	c->plan->scatter = !b.narrowed && c->plan->n_legs > 1;
}

/* ---- DDL ---------------------------------------------------------------------------------- */

void
rt_plan_ddl(struct rt_pctx *c)
{
	const struct rt_stmt *s = c->s;
	const struct rt_tref *conf = NULL;

	for (unsigned int i = 0; i < s->n_trefs; i++) {
		if (s->trefs[i].tab != NULL) {
			conf = &s->trefs[i];
			break;
		}
	}
	if (conf == NULL) {
		rt_plan_default(c);
		return;
	}
	if (s->select_form) {
		rt_plan_refuse(c, "CREATE TABLE ... SELECT with configured table %s",
			       conf->tab->name);
		return;
	}
	rt_plan_broadcast(c);
}
