/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/topology/test_topology.c - snapshots, publication and epoch-based reclamation.
 * Lifetimes are checked through the reference count (readable while we hold a reference) and,
 * in the ASan build, by the sanitizer: no leak, no use after free. The threaded test runs two
 * readers against a publishing writer for a fixed number of iterations; no sleeps. The two sides
 * pace each other (spin + sched_yield on progress counters) so the publishes are spread over the
 * whole read run instead of finishing before the readers get going.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ck_pr.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/topo.h"

#define N_READERS        2
#define READER_ITERS     200000
#define WRITER_PUBLISHES 2000
#define MAX_SHARDS       5

/* The shard count a snapshot of version <v> is built with. */
static size_t
shards_for(uint64_t v)
{
	return (size_t)(v % MAX_SHARDS) + 1;
}

static void
shard_name(char *buf, size_t len, uint64_t v, size_t i)
{
	snprintf(buf, len, "v%llu-s%zu", (unsigned long long)v, i);
}

/* A snapshot meant to be published as version <v>: its contents derive from <v>. */
static struct topo_snapshot *
make_snapshot(uint64_t v)
{
	struct topo_snapshot *s = NULL;
	char name[32];

	assert_int_equal(topo_snapshot_new(shards_for(v), &s), MS_OK);
	assert_non_null(s);
	for (size_t i = 0; i < s->n_shards; i++) {
		shard_name(name, sizeof(name), v, i);
		s->shards[i].name = strdup(name);
		s->shards[i].host = strdup("127.0.0.1");
		s->shards[i].user = strdup("proxy");
		s->shards[i].password = strdup("secret");
		s->shards[i].port = (uint16_t)(3306 + i);
		assert_non_null(s->shards[i].name);
		assert_non_null(s->shards[i].host);
		assert_non_null(s->shards[i].user);
		assert_non_null(s->shards[i].password);
	}
	return s;
}

/*
 * True if <s> looks exactly as make_snapshot(s->version) built it. Used from reader threads,
 * so it returns a verdict instead of calling cmocka (whose asserts are not thread-safe).
 */
static bool
snapshot_consistent(const struct topo_snapshot *s)
{
	char name[32];

	if (s->version == 0 || s->n_shards != shards_for(s->version)) {
		return false;
	}
	for (size_t i = 0; i < s->n_shards; i++) {
		shard_name(name, sizeof(name), s->version, i);
		if (strcmp(s->shards[i].name, name) != 0 ||
		    strcmp(s->shards[i].host, "127.0.0.1") != 0 || s->shards[i].port != 3306 + i ||
		    topo_shard_find(s, name) != (long)i) {
			return false;
		}
	}
	return true;
}

static void
test_snapshot_new_free(void **state)
{
	struct topo_snapshot *s = make_snapshot(7); /* 3 shards */

	assert_int_equal(s->n_shards, 3);
	assert_int_equal(s->version, 0); /* set only by topo_publish() */
	assert_int_equal(s->refs, 1);
	assert_string_equal(s->shards[2].name, "v7-s2");
	assert_int_equal(topo_shard_find(s, "v7-s0"), 0);
	assert_int_equal(topo_shard_find(s, "v7-s2"), 2);
	assert_int_equal(topo_shard_find(s, "v7-s3"), -1);
	assert_int_equal(topo_shard_find(s, "V7-S0"), -1); /* names are case-sensitive */
	assert_int_equal(topo_shard_find(s, ""), -1);
	topo_snapshot_free(s);
	topo_snapshot_free(NULL);
}

static void
test_snapshot_empty(void **state)
{
	struct topo_snapshot *s = NULL;

	assert_int_equal(topo_snapshot_new(0, &s), MS_OK);
	assert_non_null(s);
	assert_int_equal(s->n_shards, 0);
	assert_int_equal(topo_shard_find(s, "x"), -1);
	topo_snapshot_free(s);
}

/* Shards first, then replica endpoints: routing sees n_shards, pools every endpoint. */
static void
test_snapshot_endpoints(void **state)
{
	struct topo_snapshot *s = NULL;

	(void)state;
	assert_int_equal(topo_snapshot_new_ep(2, 1, &s), MS_OK);
	assert_int_equal(s->n_shards, 2);
	assert_int_equal(s->n_endpoints, 3);
	s->shards[0].name = strdup("s0");
	s->shards[1].name = strdup("s1");
	s->shards[2].name = strdup("s1@10.0.0.2:3306");
	assert_non_null(s->shards[2].name);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(s->shards[i].replica_of, -1); /* until the caller says otherwise */
	}
	assert_int_equal(topo_shard_find(s, "s1"), 1);
	assert_int_equal(topo_shard_find(s, "s1@10.0.0.2:3306"), -1); /* not a shard */
	assert_int_equal(topo_endpoint_find(s, "s1@10.0.0.2:3306"), 2);
	assert_int_equal(topo_endpoint_find(s, "s0"), 0);
	assert_int_equal(topo_endpoint_find(s, "s2"), -1);
	topo_snapshot_free(s); /* frees the replica's strings too (LeakSanitizer checks) */
}

/* A snapshot the caller only partly filled (later fields NULL) still frees cleanly. */
static void
test_snapshot_free_partial(void **state)
{
	struct topo_snapshot *s = NULL;

	assert_int_equal(topo_snapshot_new(2, &s), MS_OK);
	s->shards[0].name = strdup("a");
	assert_non_null(s->shards[0].name);
	topo_snapshot_free(s);
}

static void
test_domain_empty(void **state)
{
	struct topo_domain *d = NULL;
	struct topo_reader *r = NULL;

	assert_int_equal(topo_domain_new(&d), MS_OK);
	assert_non_null(d);
	assert_int_equal(topo_reader_new(d, &r), MS_OK);
	assert_non_null(r);
	assert_null(topo_read_begin(r)); /* nothing published yet */
	topo_read_end(r);
	topo_reclaim(d);
	topo_reader_free(r);
	topo_domain_free(d);
	topo_domain_free(NULL);
}

static void
test_publish_versions(void **state)
{
	struct topo_domain *d = NULL;
	struct topo_reader *r = NULL;
	const struct topo_snapshot *cur;

	assert_int_equal(topo_domain_new(&d), MS_OK);
	assert_int_equal(topo_reader_new(d, &r), MS_OK);
	for (uint64_t v = 1; v <= 3; v++) {
		struct topo_snapshot *s = make_snapshot(v);

		assert_int_equal(topo_publish(d, s), v);
		cur = topo_read_begin(r);
		assert_ptr_equal(cur, s); /* the latest one */
		assert_int_equal(cur->version, v);
		assert_true(snapshot_consistent(cur));
		topo_read_end(r);
		topo_reclaim(d);
	}
	topo_reader_free(r);
	topo_domain_free(d); /* frees version 3; 1 and 2 went through reclamation (ASan: no leak) */
}

/*
 * A snapshot pinned with topo_ref() inside a read section outlives a newer publish and
 * reclamation; the retirement drops only the published reference, and topo_unref() frees it.
 */
static void
test_ref_outlives_reclaim(void **state)
{
	struct topo_domain *d = NULL;
	struct topo_reader *r = NULL;
	const struct topo_snapshot *pinned;
	struct topo_snapshot *s1 = make_snapshot(1);

	assert_int_equal(topo_domain_new(&d), MS_OK);
	assert_int_equal(topo_reader_new(d, &r), MS_OK);
	assert_int_equal(topo_publish(d, s1), 1);

	pinned = topo_ref(topo_read_begin(r));
	topo_read_end(r);
	assert_ptr_equal(pinned, s1);
	assert_int_equal(pinned->refs, 2); /* published + ours */

	assert_int_equal(topo_publish(d, make_snapshot(2)), 2);
	for (int i = 0; i < 4; i++) {
		topo_reclaim(d);
	}
	/* retired and reclaimed: only our reference is left, and the memory is still valid */
	assert_int_equal(pinned->refs, 1);
	assert_int_equal(pinned->version, 1);
	assert_true(snapshot_consistent(pinned));
	assert_int_equal(topo_shard_find(pinned, "v1-s1"), 1);

	/* the new one is what readers see now */
	assert_int_equal(topo_read_begin(r)->version, 2);
	topo_read_end(r);

	topo_unref(pinned); /* last reference: freed here (ASan: no leak, no double free) */
	topo_reader_free(r);
	topo_domain_free(d);
}

/*
 * An open read section (without a reference) holds back reclamation of the snapshot it loaded:
 * its published reference is dropped only after the section ends.
 */
static void
test_section_delays_reclaim(void **state)
{
	struct topo_domain *d = NULL;
	struct topo_reader *holder = NULL;
	struct topo_reader *pinner = NULL;
	const struct topo_snapshot *seen;
	const struct topo_snapshot *pinned;

	assert_int_equal(topo_domain_new(&d), MS_OK);
	assert_int_equal(topo_reader_new(d, &holder), MS_OK);
	assert_int_equal(topo_reader_new(d, &pinner), MS_OK);
	assert_int_equal(topo_publish(d, make_snapshot(1)), 1);

	pinned = topo_ref(topo_read_begin(pinner)); /* lets us watch refs without a section */
	topo_read_end(pinner);
	seen = topo_read_begin(holder); /* section stays open across publish + reclaim */
	assert_ptr_equal(seen, pinned);

	assert_int_equal(topo_publish(d, make_snapshot(2)), 2);
	for (int i = 0; i < 8; i++) {
		topo_reclaim(d);
	}
	assert_int_equal(pinned->refs, 2); /* not retired yet: <holder> may still use it */
	assert_true(snapshot_consistent(seen));

	topo_read_end(holder);
	for (int i = 0; i < 4; i++) {
		topo_reclaim(d);
	}
	assert_int_equal(pinned->refs, 1); /* grace period over: published reference dropped */

	topo_unref(pinned);
	topo_reader_free(holder);
	topo_reader_free(pinner);
	topo_domain_free(d);
}

/* Readers can come and go (records are recycled); everything is freed with the domain. */
static void
test_reader_churn(void **state)
{
	struct topo_domain *d = NULL;
	struct topo_reader *r[3];

	assert_int_equal(topo_domain_new(&d), MS_OK);
	assert_int_equal(topo_publish(d, make_snapshot(1)), 1);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 3; i++) {
			assert_int_equal(topo_reader_new(d, &r[i]), MS_OK);
			assert_non_null(r[i]);
		}
		for (int i = 0; i < 3; i++) {
			const struct topo_snapshot *s = topo_read_begin(r[i]);

			assert_non_null(s);
			assert_int_equal(s->version, (uint64_t)round + 1);
			topo_read_end(r[i]);
		}
		assert_int_equal(topo_publish(d, make_snapshot((uint64_t)round + 2)), round + 2);
		for (int i = 0; i < 3; i++) {
			topo_reader_free(r[i]);
		}
		topo_reclaim(d);
	}
	topo_domain_free(d);
}

/* Publishing without ever calling topo_reclaim() leaks nothing once the domain is freed. */
static void
test_domain_free_reclaims_pending(void **state)
{
	struct topo_domain *d = NULL;
	struct topo_reader *r = NULL;
	const struct topo_snapshot *s;

	assert_int_equal(topo_domain_new(&d), MS_OK);
	assert_int_equal(topo_reader_new(d, &r), MS_OK);
	assert_int_equal(topo_publish(d, make_snapshot(1)), 1);
	s = topo_read_begin(r); /* keeps the epoch from advancing while we publish */
	for (uint64_t v = 2; v <= 10; v++) {
		assert_int_equal(topo_publish(d, make_snapshot(v)), v);
	}
	assert_true(snapshot_consistent(s));
	topo_read_end(r);
	topo_reader_free(r);
	topo_domain_free(d);
}

/*
 * Lockstep pacing, deadlock-free by construction: before iteration <i> a reader waits until
 * version 1 + i*W/R is published; before publishing version <v> the writer waits until every
 * reader has done (v-2)*R/W iterations. Both waits are on counters the other side advances
 * without waiting, so both always make progress.
 */
struct pace {
	unsigned int published;           /* highest version published (atomic) */
	unsigned int progress[N_READERS]; /* iterations done by each reader (atomic) */
};

/* One reader thread's inputs and findings. */
struct reader_ctx {
	struct topo_domain *d;       /* borrowed */
	pthread_barrier_t *start;    /* borrowed */
	struct pace *pace;           /* borrowed */
	int idx;                     /* index into pace->progress */
	unsigned long bad;           /* snapshots that failed snapshot_consistent() */
	unsigned long regressions;   /* a version lower than one seen before */
	unsigned long versions_seen; /* number of version changes observed */
	unsigned long pins;          /* snapshots pinned with topo_ref() and checked later */
	enum ms_rc rc;               /* topo_reader_new() */
};

static void
reader_wait_version(struct pace *p, unsigned int i)
{
	unsigned int want = 1 + (unsigned int)((uint64_t)i * WRITER_PUBLISHES / READER_ITERS);

	while (ck_pr_load_uint(&p->published) < want) {
		sched_yield();
	}
}

static void
writer_wait_readers(struct pace *p, uint64_t v)
{
	unsigned int want = (unsigned int)((v - 2) * READER_ITERS / WRITER_PUBLISHES);

	for (int i = 0; i < N_READERS; i++) {
		while (ck_pr_load_uint(&p->progress[i]) < want) {
			sched_yield();
		}
	}
}

/* Checks one snapshot every iteration; every 64th is pinned and re-checked outside the section. */
static void *
reader_main(void *arg)
{
	struct reader_ctx *c = arg;
	struct topo_reader *r = NULL;
	uint64_t last = 0;

	c->rc = topo_reader_new(c->d, &r);
	pthread_barrier_wait(c->start);
	for (unsigned int i = 0; c->rc == MS_OK && i < READER_ITERS; i++) {
		const struct topo_snapshot *s;
		const struct topo_snapshot *pin = NULL;

		reader_wait_version(c->pace, i);
		s = topo_read_begin(r);
		c->bad += s == NULL || !snapshot_consistent(s);
		if (s != NULL) {
			c->regressions += s->version < last;
			c->versions_seen += s->version != last;
			last = s->version;
			pin = i % 64 == 0 ? topo_ref(s) : NULL;
		}
		topo_read_end(r);
		if (pin != NULL) {
			c->bad += !snapshot_consistent(pin);
			c->pins++;
			topo_unref(pin);
		}
		ck_pr_store_uint(&c->pace->progress[c->idx], i + 1);
	}
	/* a failed registration still releases the writer's waits */
	ck_pr_store_uint(&c->pace->progress[c->idx], READER_ITERS);
	topo_reader_free(r);
	return NULL;
}

static void
check_reader(const struct reader_ctx *c)
{
	assert_int_equal(c->rc, MS_OK);
	assert_int_equal(c->bad, 0);
	assert_int_equal(c->regressions, 0);
	assert_int_equal(c->pins, (READER_ITERS + 63) / 64);
	/* the pacing makes each reader watch the versions go by, not just the first and last */
	assert_true(c->versions_seen >= WRITER_PUBLISHES / 8);
}

static void
test_concurrent_readers(void **state)
{
	struct topo_domain *d = NULL;
	struct topo_reader *r = NULL;
	const struct topo_snapshot *last;
	pthread_barrier_t start;
	pthread_t tid[N_READERS];
	struct reader_ctx ctx[N_READERS];
	struct pace pace = { .published = 1 };

	assert_int_equal(topo_domain_new(&d), MS_OK);
	assert_int_equal(topo_publish(d, make_snapshot(1)), 1);
	assert_int_equal(pthread_barrier_init(&start, NULL, N_READERS + 1), 0);
	for (int i = 0; i < N_READERS; i++) {
		ctx[i] = (struct reader_ctx){ .d = d, .start = &start, .pace = &pace, .idx = i };
		assert_int_equal(pthread_create(&tid[i], NULL, reader_main, &ctx[i]), 0);
	}
	pthread_barrier_wait(&start);
	for (uint64_t v = 2; v <= WRITER_PUBLISHES + 1; v++) {
		writer_wait_readers(&pace, v);
		if (topo_publish(d, make_snapshot(v)) != v) {
			fail_msg("publish returned the wrong version at %llu",
				 (unsigned long long)v);
		}
		ck_pr_store_uint(&pace.published, (unsigned int)v);
		topo_reclaim(d);
	}
	for (int i = 0; i < N_READERS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		check_reader(&ctx[i]);
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(topo_reader_new(d, &r), MS_OK); /* recycles a reader's record */
	last = topo_read_begin(r);
	assert_int_equal(last->version, WRITER_PUBLISHES + 1);
	assert_true(snapshot_consistent(last));
	topo_read_end(r);
	topo_reader_free(r);
	topo_domain_free(d); /* frees the last snapshot and anything still retired */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_new_free),
		cmocka_unit_test(test_snapshot_empty),
		cmocka_unit_test(test_snapshot_free_partial),
		cmocka_unit_test(test_snapshot_endpoints),
		cmocka_unit_test(test_domain_empty),
		cmocka_unit_test(test_publish_versions),
		cmocka_unit_test(test_ref_outlives_reclaim),
		cmocka_unit_test(test_section_delays_reclaim),
		cmocka_unit_test(test_reader_churn),
		cmocka_unit_test(test_domain_free_reclaims_pending),
		cmocka_unit_test(test_concurrent_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
