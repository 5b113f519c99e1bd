/* SPDX-License-Identifier: Apache-2.0 */
/*
 * topology/topo.h - immutable, versioned shard maps. A snapshot never changes once built.
 * Workers read the current one inside a read section (ck_epoch): no locks, no waiting. Anything
 * that must outlive the current libevent callback pins it with topo_ref(). One writer thread
 * publishes new snapshots; old ones are freed once no section and no reference can see them.
 * (Issue #2 builds one snapshot at startup; issue #4 adds live changes through the admin port.)
 */
#ifndef MYSHARD_TOPOLOGY_TOPO_H
#define MYSHARD_TOPOLOGY_TOPO_H

#include "common/ms_base.h"
#include "topology/topo_map.h"

#include <sys/socket.h>

/*
 * One endpoint: a shard's primary (index < n_shards: what routing sees), or one of its read
 * replicas (index n_shards.. n_endpoints - 1, named "<shard>@<host>:<port>", with the shard's
 * login). Pools and health checks treat both alike.
 */
struct topo_shard {
	char *name;     /* owned */
	char *host;     /* owned */
	uint16_t port;
	char *user;     /* owned; the proxy's login on the backend */
	char *password; /* owned */
	struct sockaddr_storage addr; /* <host>:<port> resolved when the snapshot was built */
	socklen_t addr_len;
	long replica_of;       /* a replica: the index of its shard; -1 for a primary */
	size_t first_replica;  /* a primary: its replicas are endpoints first_replica.. */
	size_t n_replicas;     /* ..first_replica + n_replicas - 1 */
	uint32_t weight;       /* a replica: its share of the shard's replica reads (>= 1) */
	uint8_t state;         /* a primary: the operator's state, enum topo_ep_state */
};

/* What an operator set for a shard's primary (endpoints.state on the admin port). */
enum topo_ep_state {
	TOPO_EP_UP = 0,       /* serves */
	TOPO_EP_PAUSED = 1,   /* new statements wait (as after PAUSE SHARD) */
	TOPO_EP_DRAINING = 2, /* sessions that hold a connection to it go on; others are refused */
	TOPO_EP_DOWN = 3,     /* every statement that needs a connection to it is refused */
};


/* An application user allowed through the client port (users change with the topology). */
struct topo_user {
	char *name;                /* owned */
	uint8_t native_stored[20]; /* SHA1(SHA1(password)); all zero with an empty password */
	bool empty_password;
	bool require_ssl;          /* logins only over TLS */
};

struct topo_snapshot {
	uint64_t version;          /* set by topo_publish(); 0 until published */
	struct topo_shard *shards; /* owned array of n_endpoints: the n_shards primaries first */
	size_t n_shards;
	size_t n_endpoints;        /* n_shards + every replica */
	struct topo_user *users;   /* owned array */
	size_t n_users;
	struct topo_map map;       /* owned: sharding functions, tables, sequences */
	unsigned int refs;         /* atomic; the published pointer holds one */
};

struct topo_domain; /* the published pointer plus its epoch */
struct topo_reader; /* per-thread handle wrapping a ck_epoch record */

/* Creates a snapshot with room for <n_shards> zeroed shards; the caller fills them (strdup'd). */
enum ms_rc topo_snapshot_new(size_t n_shards, struct topo_snapshot **out) MS_MUSTCHECK;
/* The same with room for <n_replicas> replica endpoints after the shards. */
enum ms_rc topo_snapshot_new_ep(size_t n_shards, size_t n_replicas,
				struct topo_snapshot **out) MS_MUSTCHECK;
/* Frees an unpublished snapshot (or is called when the last reference goes). */
void topo_snapshot_free(struct topo_snapshot *s);
/* The user called <name> (exact, case-sensitive), or NULL. */
const struct topo_user *topo_user_find(const struct topo_snapshot *s, const char *name,
				       size_t len) MS_MUSTCHECK;
/* Index of the shard called <name>, or -1. */
long topo_shard_find(const struct topo_snapshot *s, const char *name) MS_MUSTCHECK;
/* Index of the endpoint (shard or replica) called <name>, or -1. */
long topo_endpoint_find(const struct topo_snapshot *s, const char *name) MS_MUSTCHECK;

enum ms_rc topo_domain_new(struct topo_domain **out) MS_MUSTCHECK;
/* Frees the domain and the published snapshot; no reader may be registered any more. */
void topo_domain_free(struct topo_domain *d);
/* Publishes <next> (takes ownership) and returns its version (previous + 1). Writer thread only. */
uint64_t topo_publish(struct topo_domain *d, struct topo_snapshot *next);
/* Same, with version <version> when it is above the current one (versions recorded elsewhere,
 * e.g. the admin port's history, continue after a restart); otherwise previous + 1. */
uint64_t topo_publish_at(struct topo_domain *d, struct topo_snapshot *next, uint64_t version);
/* Reclaims retired snapshots nobody can see any more; writer thread, e.g. on a timer. */
void topo_reclaim(struct topo_domain *d);

/* Registers the calling thread as a reader. */
enum ms_rc topo_reader_new(struct topo_domain *d, struct topo_reader **out) MS_MUSTCHECK;
void topo_reader_free(struct topo_reader *r);
/* Opens a read section and returns the current snapshot (NULL if none published). Never blocks. */
const struct topo_snapshot *topo_read_begin(struct topo_reader *r) MS_MUSTCHECK;
void topo_read_end(struct topo_reader *r);
/* Pins <s> past the read section; only legal while a section is open. */
const struct topo_snapshot *topo_ref(const struct topo_snapshot *s) MS_MUSTCHECK;
void topo_unref(const struct topo_snapshot *s);

#endif /* MYSHARD_TOPOLOGY_TOPO_H */
