/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_plan_route.c - which shards a statement's rows live on: table references resolved
 * against the map, co-location and join-on-key checks, and shard sets from the key predicates of
 * a WHERE (=, IN, OR of those, BETWEEN on range functions). A predicate that cannot be mapped
 * with certainty never narrows.
 */
#include "router/rt_plan_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void
rt_trefs_resolve(struct rt_pctx *c)
{
	const char *dschema = c->in->schema != NULL ? c->in->schema : "";

	for (unsigned int i = 0; i < c->s->n_trefs; i++) {
		struct rt_tref *r = &c->s->trefs[i];

		if (r->cte) {
			continue;
		}
		if (r->schema.len > 0) {
			r->tab = topo_table_find(c->map, r->schema.ptr, r->schema.len, r->name.ptr,
						 r->name.len);
		} else {
			r->tab = topo_table_find(c->map, dschema, strlen(dschema), r->name.ptr,
						 r->name.len);
		}
	}
}

size_t
rt_shardset_first(const struct topo_shardset *s)
{
	for (size_t i = 0; i < TOPO_MAX_SHARDS; i++) {
		if (topo_shardset_has(s, i)) {
			return i;
		}
	}
	return 0;
}

bool
rt_subq_check(struct rt_pctx *c)
{
	char buf[200];

	for (unsigned int i = 0; i < c->s->n_trefs; i++) {
		const struct rt_tref *r = &c->s->trefs[i];

		if (r->depth > 0 && r->tab != NULL && r->tab->kind == TOPO_TABLE_SHARDED) {
			rt_plan_refuse(
				c,
				"subquery on sharded table %s is not supported (use a /* myshard:shard=NAME */ hint)",
				rt_tref_label(r, buf, sizeof(buf)));
			return false;
		}
	}
	return true;
}

static bool
rt_tok_eq(const struct rt_tok *a, const struct rt_tok *b)
{
	return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

bool
rt_tref_is_key(const struct rt_tref *r, const struct rt_tok *col)
{
	return r->tab != NULL && r->tab->kind == TOPO_TABLE_SHARDED &&
	       strlen(r->tab->key) == col->len && strncasecmp(r->tab->key, col->ptr, col->len) == 0;
}

/* The tref (of block <b>) a qualified or unqualified key column <e> belongs to, or -1. */
static int
rt_key_tref(const struct rt_pctx *c, const struct rt_blk *b, const struct rt_expr *e)
{
	if (e == NULL || e->kind != RT_EX_COL) {
		return -1;
	}
	for (unsigned int i = 0; i < c->s->n_trefs; i++) {
		const struct rt_tref *r = &c->s->trefs[i];
		const struct rt_tok *nm = r->alias.len > 0 ? &r->alias : &r->name;

		if (r->depth != 0 || r->block != b->block || !rt_tref_is_key(r, &e->name)) {
			continue;
		}
		if (e->q.len == 0 || rt_tok_eq(nm, &e->q)) {
			return (int)i;
		}
	}
	return -1;
}

bool
rt_unquote(struct rt_pctx *c, const struct rt_tok *t, const char **out, size_t *len)
{
	const char *p = t->ptr + t->intro + 1;
	const char *end = t->ptr + t->len - 1;
	char q = p[-1];
	char *buf = rt_arena_alloc(c->a, t->len + 1);
	size_t n = 0;

	if (buf == NULL) {
		c->oom = true;
		return false;
	}
	while (p < end) {
		if (*p == '\\' && p + 1 < end) {
			static const char from[] = "0'\"bnrtZ\\%_", to[] = "\0'\"\b\n\r\t\032\\%_";
			const char *k = memchr(from, p[1], sizeof(from) - 1);

			if (k != NULL && (*k == '%' || *k == '_')) {
				buf[n++] = '\\'; /* kept as written, as MySQL does */
			}
			buf[n++] = k != NULL ? to[k - from] : p[1];
			p += 2;
		} else if (*p == q && p + 1 < end && p[1] == q) {
			buf[n++] = q;
			p += 2;
		} else {
			buf[n++] = *p++;
		}
	}
	*out = buf;
	*len = n;
	return true;
}

bool
rt_expr_value(struct rt_pctx *c, const struct rt_expr *e, struct topo_value *v)
{
	memset(v, 0, sizeof(*v));
	if (e->kind == RT_EX_NULL) {
		v->kind = TOPO_VAL_NULL;
		return true;
	}
	if (e->kind != RT_EX_LIT) {
		return false;
	}
	if (e->name.kind == RT_TOK_STRING) {
		v->kind = TOPO_VAL_STRING;
		return rt_unquote(c, &e->name, &v->str, &v->len);
	}
	v->neg = e->neg;
	v->kind =
		e->name.intro == 0 && rt_plan_u64(&e->name, &v->u) ? TOPO_VAL_INT : TOPO_VAL_OTHER;
	return true;
}

/* Adds the shard of value expression <e> under <b>'s function; false if unprovable. */
static bool
rt_route_expr(struct rt_pctx *c, const struct rt_blk *b, const struct rt_expr *e,
	      struct topo_shardset *set)
{
	struct topo_value v;
	size_t shard;

	if (!rt_expr_value(c, e, &v)) {
		return false;
	}
	if (b->f->key_type == TOPO_KEY_STRING && v.kind == TOPO_VAL_INT) {
		return false; /* str_col = 5 compares as numbers: '05' and '5.0' match too */
	}
	switch (topo_route_value(b->f, &v, &shard)) {
	case TOPO_ROUTE_OK:
		topo_shardset_add(set, shard);
		return true;
	case TOPO_ROUTE_NULL:
		return true; /* key = NULL matches no row */
	default:
		return false;
	}
}

static bool rt_pred_set(struct rt_pctx *c, const struct rt_blk *b, const struct rt_expr *e,
			struct topo_shardset *out);

static void
rt_set_and(struct topo_shardset *x, const struct topo_shardset *y)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(x->bits); i++) {
		x->bits[i] &= y->bits[i];
	}
}

static void
rt_set_or(struct topo_shardset *x, const struct topo_shardset *y)
{
	for (size_t i = 0; i < MS_ARRAY_LEN(x->bits); i++) {
		x->bits[i] |= y->bits[i];
	}
}

static bool
rt_pred_andor(struct rt_pctx *c, const struct rt_blk *b, const struct rt_expr *e,
	      struct topo_shardset *out)
{
	bool any = false;

	memset(out, e->kind == RT_EX_AND ? 0xff : 0, sizeof(*out));
	for (const struct rt_expr *k = e->kids; k != NULL; k = k->next) {
		struct topo_shardset ks;

		if (!rt_pred_set(c, b, k, &ks)) {
			if (e->kind == RT_EX_OR) {
				return false; /* one branch unrestricted: the OR is too */
			}
			continue;
		}
		any = true;
		if (e->kind == RT_EX_AND) {
			rt_set_and(out, &ks);
		} else {
			rt_set_or(out, &ks);
		}
	}
	return any;
}

static bool
rt_pred_between(struct rt_pctx *c, const struct rt_blk *b, const struct rt_expr *e,
		struct topo_shardset *out)
{
	struct topo_value lo, hi;

	if (b->f->kind != TOPO_FUNC_RANGE || !rt_expr_value(c, e->kids->next, &lo) ||
	    !rt_expr_value(c, e->kids->next->next, &hi)) {
		return false;
	}
	if (lo.kind == TOPO_VAL_NULL || hi.kind == TOPO_VAL_NULL) {
		return true; /* BETWEEN NULL ...: no row */
	}
	return topo_route_between(b->f, &lo, &hi, out) == TOPO_ROUTE_OK;
}

/* Shards the rows satisfying <e> can live on; false if <e> does not restrict the key. */
static bool
rt_pred_set(struct rt_pctx *c, const struct rt_blk *b, const struct rt_expr *e,
	    struct topo_shardset *out)
{
	memset(out, 0, sizeof(*out));
	switch (e->kind) {
	case RT_EX_AND:
	case RT_EX_OR:
		return rt_pred_andor(c, b, e, out);
	case RT_EX_CMP:
		if (e->op != RT_CMP_EQ) {
			return false;
		}
		if (rt_key_tref(c, b, e->kids) >= 0) {
			return rt_route_expr(c, b, e->kids->next, out);
		}
		return rt_key_tref(c, b, e->kids->next) >= 0 && rt_route_expr(c, b, e->kids, out);
	case RT_EX_IN:
		if (e->neg || rt_key_tref(c, b, e->kids) < 0) {
			return false;
		}
		for (const struct rt_expr *k = e->kids->next; k != NULL; k = k->next) {
			if (!rt_route_expr(c, b, k, out)) {
				return false;
			}
		}
		return true;
	case RT_EX_BETWEEN:
		return !e->neg && rt_key_tref(c, b, e->kids) >= 0 && rt_pred_between(c, b, e, out);
	default:
		return false;
	}
}

/* ---- co-location ------------------------------------------------------------------------ */

struct rt_uf {
	unsigned int idx[RT_MAX_SHARDED]; /* tref index of each sharded table */
	unsigned int up[RT_MAX_SHARDED];
	unsigned int n;
};

static unsigned int
rt_uf_find(struct rt_uf *u, unsigned int i)
{
	while (u->up[i] != i) {
		i = u->up[i] = u->up[u->up[i]];
	}
	return i;
}

static void
rt_uf_join_trefs(struct rt_uf *u, int x, int y)
{
	int a = -1, b = -1;

	for (unsigned int i = 0; i < u->n; i++) {
		a = (int)u->idx[i] == x ? (int)i : a;
		b = (int)u->idx[i] == y ? (int)i : b;
	}
	if (a >= 0 && b >= 0) {
		u->up[rt_uf_find(u, (unsigned int)a)] = rt_uf_find(u, (unsigned int)b);
	}
}

/* Top-level conjuncts of <e> that equate two key columns join their tables. */
static void
rt_uf_edges(struct rt_pctx *c, const struct rt_blk *b, struct rt_uf *u, const struct rt_expr *e)
{
	if (e == NULL) {
		return;
	}
	if (e->kind == RT_EX_AND) {
		for (const struct rt_expr *k = e->kids; k != NULL; k = k->next) {
			rt_uf_edges(c, b, u, k);
		}
		return;
	}
	if (e->kind == RT_EX_CMP && (e->op == RT_CMP_EQ || e->op == RT_CMP_NSEQ)) {
		int x = rt_key_tref(c, b, e->kids), y = rt_key_tref(c, b, e->kids->next);

		if (x >= 0 && y >= 0 && x != y) {
			rt_uf_join_trefs(u, x, y);
		}
	}
}

/* JOIN r USING (col): r meets every table before it whose key is col. */
static void
rt_uf_using_col(const struct rt_pctx *c, struct rt_uf *u, const struct rt_using *us,
		const struct rt_tok *col)
{
	if (!rt_tref_is_key(&c->s->trefs[us->right], col)) {
		return;
	}
	for (unsigned int i = us->first; i < us->right; i++) {
		if (rt_tref_is_key(&c->s->trefs[i], col)) {
			rt_uf_join_trefs(u, (int)i, (int)us->right);
		}
	}
}

static void
rt_uf_usings(const struct rt_pctx *c, struct rt_uf *u, const struct rt_using *us)
{
	for (; us != NULL; us = us->next) {
		for (unsigned int k = 0; k < us->n_cols; k++) {
			rt_uf_using_col(c, u, us, &us->cols[k]);
		}
	}
}

/* Counts the block's tables by kind and collects the sharded ones into <u>. */
static bool
rt_blk_scan(struct rt_pctx *c, struct rt_blk *b, struct rt_uf *u)
{
	for (unsigned int i = 0; i < c->s->n_trefs; i++) {
		const struct rt_tref *r = &c->s->trefs[i];

		if (r->depth != 0 || r->block != b->block || r->cte) {
			continue;
		}
		if (r->tab == NULL) {
			b->n_plain++;
			b->a_plain = r;
		} else if (r->tab->kind == TOPO_TABLE_GLOBAL) {
			b->n_global++;
			b->a_global = r;
		} else if (u->n == RT_MAX_SHARDED) {
			rt_plan_refuse(c, "too many sharded tables in one statement");
			return false;
		} else {
			b->a_sharded = b->a_sharded != NULL ? b->a_sharded : r;
			u->idx[u->n] = i;
			u->up[u->n] = u->n;
			u->n++;
			b->n_sharded++;
		}
	}
	return true;
}

/* Every sharded table uses one function and all are joined on their keys. */
static bool
rt_blk_colocated(struct rt_pctx *c, struct rt_blk *b, struct rt_uf *u)
{
	const struct rt_tref *first = &c->s->trefs[u->idx[0]];
	char x[160], y[160];

	for (unsigned int i = 1; i < u->n; i++) {
		const struct rt_tref *r = &c->s->trefs[u->idx[i]];

		if (r->tab->func != first->tab->func || rt_uf_find(u, i) != rt_uf_find(u, 0)) {
			rt_plan_refuse(
				c,
				"cross-shard join: tables %s and %s are not joined on their shard keys%s",
				rt_tref_label(first, x, sizeof(x)), rt_tref_label(r, y, sizeof(y)),
				r->tab->func != first->tab->func ? " (different sharding functions)"
								 : "");
			return false;
		}
	}
	b->func = first->tab->func;
	b->f = &c->map->funcs[b->func];
	return true;
}

bool
rt_blk_plan(struct rt_pctx *c, struct rt_blk *b, int block, const struct rt_expr *where,
	    const struct rt_expr *ons, const struct rt_using *usings)
{
	struct rt_uf u;
	struct topo_shardset ks;

	memset(b, 0, sizeof(*b));
	b->block = block;
	u.n = 0;
	if (!rt_blk_scan(c, b, &u)) {
		return false;
	}
	if (u.n == 0) {
		return true;
	}
	rt_uf_edges(c, b, &u, where);
	for (const struct rt_expr *on = ons; on != NULL; on = on->next) {
		rt_uf_edges(c, b, &u, on);
	}
	rt_uf_usings(c, &u, usings);
	if (!rt_blk_colocated(c, b, &u)) {
		return false;
	}
	topo_func_shards(b->f, &b->set);
	if (where != NULL && rt_pred_set(c, b, where, &ks)) {
		rt_set_and(&b->set, &ks);
		b->narrowed = true;
		if (topo_shardset_count(&b->set) == 0) {
			/* no row can match: one shard still answers with the right (empty) result */
			struct topo_shardset all;

			memset(&all, 0, sizeof(all));
			topo_func_shards(b->f, &all);
			topo_shardset_add(&b->set, rt_shardset_first(&all));
		}
	}
	return true;
}
