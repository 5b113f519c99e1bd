/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf/conf.h - the YAML configuration file: parse (libyaml), validate, apply defaults.
 * Every rejection names the place: "<file>:<line>: <key path>: <why>". Pure apart from reading
 * the file; any thread; the result is immutable once returned and owned by the caller.
 */
#ifndef MYSHARD_CONF_CONF_H
#define MYSHARD_CONF_CONF_H

#include "common/ms_base.h"
#include "common/ms_log.h"
#include "common/ms_sha1.h"
#include "topology/topo_map.h"

#define CONF_ERR_LEN 512

/* An application user that may log in through the client listener. */
struct conf_user {
	char *name; /* owned */
	/* SHA1(SHA1(password)), the mysql_native_password verifier; all zero if no password */
	uint8_t native_stored[MS_SHA1_LEN];
	bool empty_password; /* true: the user logs in with an empty password */
	bool require_ssl;    /* true: only over TLS (needs a tls: section) */
};

/* TLS for the client port; absent from the file: no TLS is offered. */
struct conf_tls {
	char *cert;        /* owned; PEM certificate chain, leaf first */
	char *key;         /* owned; PEM private key of the leaf */
	unsigned int cert_line, key_line; /* for messages about the files */
};

/* A backend MariaDB/MySQL server holding one shard (issue #2: the first one is used). */
/* A read replica of a shard (same login as its shard). Its name in myshard is
 * "<shard>@<host>:<port>", hence the bound on <host>. */
#define CONF_REPLICA_HOST_MAX 180
#define CONF_WEIGHT_MAX 2147483647u /* a read replica's weight */
struct conf_replica {
	char *host;      /* owned */
	uint16_t port;   /* default 3306 */
	uint32_t weight; /* its share of the shard's replica reads; default 1 */
};

/* The operator's state of a shard's primary endpoint (the admin port's endpoints.state). */
enum conf_ep_state {
	CONF_EP_UP = 0,       /* serves */
	CONF_EP_PAUSED = 1,   /* new statements wait, as after PAUSE SHARD */
	CONF_EP_DRAINING = 2, /* sessions holding a connection go on; new statements are refused */
	CONF_EP_DOWN = 3,     /* statements are refused at once */
};

struct conf_shard {
	char *name;     /* owned; unique, [A-Za-z0-9_-]{1,64} */
	char *host;     /* owned; IP address or host name */
	uint16_t port;  /* 1..65535; default 3306 */
	char *user;     /* owned; the proxy's own login on this backend */
	char *password; /* owned; "" if none */
	struct conf_replica *replicas; /* owned array of n_replicas; reads may go there */
	size_t n_replicas;
	uint8_t state; /* enum conf_ep_state of the primary; the file always says up */
};

/* The admin SQL port (issue #4); absent from the file: no admin port. */
struct conf_admin {
	char *listen_addr;       /* owned; default "127.0.0.1" */
	uint16_t listen_port;    /* default 3308 */
	struct conf_user *users; /* owned array of n_users; at least one; only the admin port */
	size_t n_users;
	char *store;             /* owned; file SAVE writes and startup reads; NULL: none */
};

struct conf {
	char *path;          /* owned; file it came from, or the name given to conf_load_string() */
	char *listen_addr;   /* owned; default "127.0.0.1" */
	uint16_t listen_port;/* default 3307 */
	bool reuse_port;     /* listen.reuse_port: SO_REUSEPORT, for a takeover by a new process */
	unsigned int workers;/* worker threads; 0 in the file = number of online CPUs (resolved here) */
	uint32_t max_packet; /* largest client payload accepted, bytes; default 64 MiB; 1 KiB..1 GiB */
	uint32_t merge_max;  /* rows a cross-shard merge may hold, bytes; default 256 MiB; 1 KiB..1 GiB */
	enum ms_log_level log_level; /* default info */
	unsigned int pool_max;       /* backend connections per worker per shard; default 32; 1..10000 */
	unsigned int connect_timeout_ms; /* backend connect; default 3000 */
	unsigned int pool_wait_timeout_ms; /* how long a statement waits for a pooled connection; default 5000 */
	unsigned int client_idle_timeout_ms; /* close idle clients after this; 0 = never (default) */
	unsigned int client_write_timeout_ms; /* close a client that reads none of its pending
						 output for this long; 60000; 0 = never */
	unsigned int login_timeout_ms; /* a client must finish logging in within this; default 10000 */
	unsigned int xa_recovery_ms;   /* between two-phase commit recovery passes; default 5000 */
	unsigned int xa_abandon_ms;    /* a prepared branch this old is finished by recovery; 30000 */
	unsigned int deadlock_check_ms; /* between checks for deadlocks across shards; 1000; 0 = off */
	unsigned int shutdown_ms;   /* SIGTERM: how long in-flight statements may finish; 10000 */
	unsigned int health_ms;     /* between health checks of each shard; 1000; 0 = off */
	unsigned int query_ms;      /* a statement running longer is cut off; 0 (default) = never */
	unsigned int slow_query_ms; /* a statement taking this long is logged; 0 (default) = off */
	unsigned int replica_max_lag_s;   /* replica_reads.max_lag_s: reads skip replicas further
					     behind (Seconds_Behind_Master); default 5 */
	unsigned int replica_after_write_ms; /* replica_reads.after_write_ms: a session that wrote
						reads from primaries this long after; default 0 */
	unsigned int max_clients;          /* client connections at once; 0 (default) = no limit */
	unsigned int max_clients_per_user; /* logged-in sessions per user; 0 (default) = no limit */
	struct conf_user *users;   /* owned array of n_users; at least one */
	size_t n_users;
	struct conf_shard *shards; /* owned array of n_shards; 1..TOPO_MAX_SHARDS */
	size_t n_shards;
	/* owned contents: the sharding: section (functions, tables, sequences, default shard), sorted
	 * for lookup (topo_map_sort); shard indexes are positions in <shards>. All zero without the
	 * section: everything goes to shards[0]. */
	struct topo_map map;
	struct conf_admin *admin; /* owned; NULL without an admin: section */
	struct conf_tls *tls;     /* owned; NULL without a tls: section */
	char *metrics_addr;       /* owned; metrics.address (NULL: no metrics endpoint) */
	uint16_t metrics_port;    /* metrics.port; default 9104 */
};

/*
 * Reads and validates <path>. On success *<out> is a new config owned by the caller (free with
 * conf_free()). On failure returns MS_EINVAL (bad content) or MS_EIO (unreadable file), leaves
 * *<out> NULL and writes one line to <err> (NUL-terminated, at most <errlen> bytes) such as
 * "myshard.yaml:12: shards[1].port: must be an integer 1..65535, got \"abc\"".
 */
enum ms_rc conf_load_file(const char *path, struct conf **out, char *err, size_t errlen) MS_MUSTCHECK;
/* Same as conf_load_file() over <len> bytes of <text>; <name> stands in for the file name. */
enum ms_rc conf_load_string(const char *text, size_t len, const char *name, struct conf **out,
			    char *err, size_t errlen) MS_MUSTCHECK;
/* Looks up <name> (exact, case-sensitive); NULL if absent. */
const struct conf_user *conf_user_find(const struct conf *c, const char *name, size_t name_len) MS_MUSTCHECK;
void conf_free(struct conf *c);

#endif /* MYSHARD_CONF_CONF_H */
