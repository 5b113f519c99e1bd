/* SPDX-License-Identifier: Apache-2.0 */
/*
 * topology/topo.c - publication by pointer swap; retirement through ck_epoch so a reader that
 * loaded the old pointer inside its section can still use it until the section ends.
 */
#include "topology/topo.h"

#include <ck_epoch.h>
#include <ck_pr.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct topo_retired {
	ck_epoch_entry_t entry; /* must stay first: the callback casts back */
	struct topo_snapshot *snap; /* owned until the callback runs */
};

struct topo_domain {
	ck_epoch_t epoch;
	ck_epoch_record_t writer; /* used only by the publishing thread */
	struct topo_snapshot *current; /* owned ("published" reference) */
	uint64_t version;
	pthread_mutex_t writer_lock; /* serialises writers and reader registration */
	struct topo_reader *readers; /* owned list; ck keeps unregistered records for reuse */
};

struct topo_reader {
	ck_epoch_record_t rec;      /* must stay first: recycled records cast back */
	struct topo_domain *d;      /* borrowed */
	struct topo_reader *next_all; /* domain's list of every reader ever made */
};

enum ms_rc
topo_snapshot_new(size_t n_shards, struct topo_snapshot **out)
{
	return topo_snapshot_new_ep(n_shards, 0, out);
}

enum ms_rc
topo_snapshot_new_ep(size_t n_shards, size_t n_replicas, struct topo_snapshot **out)
{
	struct topo_snapshot *s = calloc(1, sizeof(*s));
	size_t n = n_shards + n_replicas;

	*out = NULL;
	if (s == NULL) {
		return MS_ENOMEM;
	}
	s->shards = calloc(n > 0 ? n : 1, sizeof(*s->shards));
	if (s->shards == NULL) {
		free(s);
		return MS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		s->shards[i].replica_of = -1;
	}
	s->n_shards = n_shards;
	s->n_endpoints = n;
	s->refs = 1;
	*out = s;
	return MS_OK;
}

void
topo_snapshot_free(struct topo_snapshot *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; i < s->n_endpoints; i++) {
		free(s->shards[i].name);
		free(s->shards[i].host);
		free(s->shards[i].user);
		free(s->shards[i].password);
	}
	free(s->shards);
	for (size_t i = 0; i < s->n_users; i++) {
		free(s->users[i].name);
	}
	free(s->users);
	topo_map_deinit(&s->map);
	free(s);
}

const struct topo_user *
topo_user_find(const struct topo_snapshot *s, const char *name, size_t len)
{
	for (size_t i = 0; s != NULL && i < s->n_users; i++) {
		if (strlen(s->users[i].name) == len && memcmp(s->users[i].name, name, len) == 0) {
			return &s->users[i];
		}
	}
	return NULL;
}

long
topo_shard_find(const struct topo_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_shards; i++) {
		if (strcmp(s->shards[i].name, name) == 0) {
			return (long)i;
		}
	}
	return -1;
}

long
topo_endpoint_find(const struct topo_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_endpoints; i++) {
		if (strcmp(s->shards[i].name, name) == 0) {
			return (long)i;
		}
	}
	return -1;
}

enum ms_rc
topo_domain_new(struct topo_domain **out)
{
	struct topo_domain *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL) {
		return MS_ENOMEM;
	}
	ck_epoch_init(&d->epoch);
	ck_epoch_register(&d->epoch, &d->writer, NULL);
	pthread_mutex_init(&d->writer_lock, NULL);
	*out = d;
	return MS_OK;
}

static void
topo_retired_cb(ck_epoch_entry_t *e)
{
	struct topo_retired *r = (struct topo_retired *)e;

	topo_unref(r->snap);
	free(r);
}

void
topo_domain_free(struct topo_domain *d)
{
	if (d == NULL) {
		return;
	}
	ck_epoch_barrier(&d->writer);
	topo_unref(d->current);
	while (d->readers != NULL) {
		struct topo_reader *r = d->readers;

		d->readers = r->next_all;
		free(r);
	}
	pthread_mutex_destroy(&d->writer_lock);
	free(d);
}

uint64_t
topo_publish(struct topo_domain *d, struct topo_snapshot *next)
{
	struct topo_snapshot *old;
	struct topo_retired *r;
	uint64_t v;

	pthread_mutex_lock(&d->writer_lock);
	v = ++d->version;
	next->version = v;
	old = d->current;
	ck_pr_fence_store();
	ck_pr_store_ptr(&d->current, next);
	if (old != NULL) {
		r = malloc(sizeof(*r));
		if (r != NULL) {
			r->snap = old;
			ck_epoch_call(&d->writer, &r->entry, topo_retired_cb);
		} else {
			ck_epoch_synchronize(&d->writer); /* no memory to defer: wait it out */
			topo_unref(old);
		}
	}
	ck_epoch_poll(&d->writer);
	pthread_mutex_unlock(&d->writer_lock);
	return v;
}

uint64_t
topo_publish_at(struct topo_domain *d, struct topo_snapshot *next, uint64_t version)
{
	pthread_mutex_lock(&d->writer_lock);
	if (version > d->version) {
		d->version = version - 1;
	}
	pthread_mutex_unlock(&d->writer_lock);
	return topo_publish(d, next);
}

void
topo_reclaim(struct topo_domain *d)
{
	pthread_mutex_lock(&d->writer_lock);
	ck_epoch_poll(&d->writer);
	pthread_mutex_unlock(&d->writer_lock);
}

enum ms_rc
topo_reader_new(struct topo_domain *d, struct topo_reader **out)
{
	struct topo_reader *r;
	ck_epoch_record_t *rec;

	*out = NULL;
	pthread_mutex_lock(&d->writer_lock);
	rec = ck_epoch_recycle(&d->epoch, NULL);
	if (rec != NULL) {
		r = (struct topo_reader *)rec;
	} else {
		r = calloc(1, sizeof(*r));
		if (r == NULL) {
			pthread_mutex_unlock(&d->writer_lock);
			return MS_ENOMEM;
		}
		r->d = d;
		r->next_all = d->readers;
		d->readers = r;
		ck_epoch_register(&d->epoch, &r->rec, NULL);
	}
	pthread_mutex_unlock(&d->writer_lock);
	*out = r;
	return MS_OK;
}

void
topo_reader_free(struct topo_reader *r)
{
	if (r == NULL) {
		return;
	}
	/* ck keeps the record on the epoch's list for reuse; the domain frees the memory. */
	ck_epoch_unregister(&r->rec);
}

const struct topo_snapshot *
topo_read_begin(struct topo_reader *r)
{
	ck_epoch_begin(&r->rec, NULL);
	return ck_pr_load_ptr(&r->d->current);
}

void
topo_read_end(struct topo_reader *r)
{
	ck_epoch_end(&r->rec, NULL);
}

const struct topo_snapshot *
topo_ref(const struct topo_snapshot *s)
{
	struct topo_snapshot *m = (struct topo_snapshot *)(uintptr_t)s;

	ck_pr_inc_uint(&m->refs);
	return s;
}

void
topo_unref(const struct topo_snapshot *s)
{
	struct topo_snapshot *m = (struct topo_snapshot *)(uintptr_t)s;
	bool zero;

	if (m == NULL) {
		return;
	}
	ck_pr_dec_uint_zero(&m->refs, &zero);
	if (zero) {
		topo_snapshot_free(m);
	}
}
