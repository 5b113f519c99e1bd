/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/px_types.h - layouts of the proxy's runtime objects: worker, session, backend, pool.
 * They are intertwined (a session holds a backend, a pool queues sessions), so their layouts
 * live together here; behaviour lives in the matching px_*.c files.
 * Threading rule: every object below belongs to exactly one worker thread and is only touched
 * there; other threads talk to a worker through its mailbox (px_worker_send()).
 */
#ifndef MYSHARD_PROXY_PX_TYPES_H
#define MYSHARD_PROXY_PX_TYPES_H

#include "common/ms_base.h"
#include "protocol/mp_handshake.h"
#include "protocol/mp_resp.h"
#include "proxy/px_conn.h"
#include "topology/topo.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <pthread.h>
#include <sys/queue.h>

struct conf;
struct topo_snapshot;
struct topo_reader;
struct ck_ring;
struct ck_ring_buffer;

#define PX_NAME_MAX   256 /* schema names: 64 characters of up to 4 bytes each */
#define MYSHARD_VERSION "0.1.0"
#define PX_USER_MAX   80
#define PX_VARIANTS   4   /* pool variants: FOUND_ROWS x MULTI_STATEMENTS */
/* Pool slots per worker: a snapshot's shards (at most TOPO_MAX_SHARDS) plus as many shards
 * that left the topology while statements still used them. */
#define PX_SLOTS      (2 * TOPO_MAX_SHARDS)

/* Client-visible capabilities: what myshard implements today (PROTOCOL-NOTES §2). */
#define PX_SERVER_CAPS                                                                             \
	(MP_CLIENT_MYSQL | MP_CLIENT_FOUND_ROWS | MP_CLIENT_LONG_FLAG | MP_CLIENT_CONNECT_WITH_DB | \
	 MP_CLIENT_PROTOCOL_41 | MP_CLIENT_INTERACTIVE | MP_CLIENT_TRANSACTIONS |                  \
	 MP_CLIENT_SECURE_CONNECTION | MP_CLIENT_MULTI_STATEMENTS | MP_CLIENT_MULTI_RESULTS |      \
	 MP_CLIENT_PS_MULTI_RESULTS | MP_CLIENT_PLUGIN_AUTH | MP_CLIENT_CONNECT_ATTRS |            \
	 MP_CLIENT_PLUGIN_AUTH_LENENC_DATA | MP_CLIENT_IGNORE_SIGPIPE | MP_CLIENT_COMPRESS |       \
	 MP_CLIENT_LOCAL_FILES | MP_CLIENT_SESSION_TRACK)
/* The admin port: the same, without compression, LOCAL INFILE and session tracking (nor TLS,
 * never offered). */
#define PX_ADMIN_CAPS                                                                              \
	(PX_SERVER_CAPS &                                                                          \
	 ~(uint32_t)(MP_CLIENT_COMPRESS | MP_CLIENT_LOCAL_FILES | MP_CLIENT_SESSION_TRACK))

/* Draining (SIGTERM): a client that logged in this recently is not closed while idle yet (it
 * connected before the listener closed and its commands are on their way). */
#define PX_DRAIN_GRACE_MS 1000

/* Per-worker counters, summed on request. X-macro: adding a counter is one line. */
#define PX_STATS_FIELDS(X)                                                                         \
	X(clients_accepted)                                                                        \
	X(clients_closed)                                                                          \
	X(auth_failures)                                                                           \
	X(commands)                                                                                \
	X(backend_connects)                                                                        \
	X(backend_connect_failures)                                                                \
	X(backend_closed)                                                                          \
	X(pins)                                                                                    \
	X(replica_reads)                                                                           \
	X(replica_fallbacks)                                                                       \
	X(tx_commits)                                                                              \
	X(tx_two_phase_commits)                                                                    \
	X(tx_rollbacks)

/* Statement latency per plan kind (one shard, several named shards, every shard), for the
 * metrics endpoint: counts per bucket (upper bounds in px_metrics.c), sum and count. */
#define PX_LAT_KINDS   3
#define PX_LAT_BUCKETS 14
/* upper bounds of the first PX_LAT_BUCKETS - 1 buckets, µs (the last one: the rest) */
#define PX_LAT_LE { 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 500000, 2500000, \
		    10000000 }
struct px_lat {
	uint64_t bucket[PX_LAT_BUCKETS];
	uint64_t sum_us, count, errors;
};

/* Statement classes (by the statement's first word) for the per-class histogram. */
enum px_class { PX_CLASS_READ, PX_CLASS_WRITE, PX_CLASS_TX, PX_CLASS_SESSION, PX_CLASS_DDL,
		PX_CLASS_OTHER, PX_CLASSES };
#define PX_CLASS_NAMES { "read", "write", "transaction", "session", "ddl", "other" }

/* ERR packets sent to clients, by error code: an open-addressed table per worker (codes are
 * never 0); codes beyond its slots are counted in errors_other_code. */
#define PX_ERRC_SLOTS 64
struct px_errc {
	uint16_t code;
	uint64_t n;
};

struct px_stats {
#define PX_STATS_DECL(name) uint64_t name;
	PX_STATS_FIELDS(PX_STATS_DECL)
#undef PX_STATS_DECL
	struct px_lat lat[PX_LAT_KINDS];
	struct px_lat cls[PX_CLASSES];
	struct px_errc errc[PX_ERRC_SLOTS];
	uint64_t errors_other_code;
};

enum px_be_state {
	PX_BE_CONNECTING = 0, /* mysql_real_connect_cont() in progress */
	PX_BE_IDLE,           /* on the pool's idle list, clean, no command in flight */
	PX_BE_ACTIVE,         /* held by a session (owner) */
	PX_BE_NSTATES
};

struct px_pool;
struct px_session;
struct px_exec;
struct px_stmt;

/* A worker's unused block of one sequence's ids: [next, end). */
struct px_seq_cache {
	char name[PX_NAME_MAX + 1]; /* the sequence's name (indexes change between snapshots) */
	uint64_t next;
	uint64_t end;
};

/* Per worker and normalized statement (SHOW QUERY DIGESTS). */
#define PX_RETRY_MAX    65536 /* larger replica reads are not kept for a retry */
#define PX_DIGEST_LEN   128  /* as rt_plan.digest */
#define PX_DIGEST_SLOTS 1024 /* distinct digests kept per worker; more go to "(other)" */
struct px_digest {
	char text[PX_DIGEST_LEN]; /* "" = free slot */
	uint64_t hash;            /* of <text> (px_cmd_digest_hash) */
	uint64_t count, errors, total_us, max_us, rows, shards, scatter;
	uint64_t pins;            /* executions that pinned their session to a connection */
	char pin_reason[16];      /* why, the last time (rt_sticky_name) */
};

/* One connection to a backend server. */
struct px_backend {
	uint64_t id;
	enum px_be_state state;
	struct px_pool *pool;       /* borrowed: the pool it belongs to */
	struct px_conn conn;        /* owned: the socket, from connect to close */
	uint8_t hs_seq;             /* connection phase: next sequence id expected */
	bool hs_switched;           /* connection phase: an auth switch was answered */
	bool init_sent;             /* connection phase: logged in, init statement sent */
	uint32_t server_id;         /* the server's connection id (processlist id) */
	struct event done_ev;       /* reports an immediate connect failure from the loop */
	bool done_ev_added;
	char err[256];              /* why the connect failed */
	struct px_session *owner;   /* borrowed; set while ACTIVE */
	const struct topo_snapshot *snap; /* pinned while connecting (user, password), else NULL */
	size_t shard_idx;           /* in <snap> */
	uint32_t gen;               /* the pool's endpoint generation when it connected */
	bool deprecate_eof;         /* negotiated with the server */
	uint8_t collation;          /* connection collation currently set on the server */
	char schema[PX_NAME_MAX + 1]; /* current default schema on the server ("" = none) */
	char *vars;                 /* owned: session variables set on the server (px_vars.c), or NULL */
	bool killed;                /* a KILL QUERY was sent for it: never reused (it could land late) */
	struct px_bstmt *stmts;     /* owned array of PX_BSTMT_MAX, or NULL before the first */
	uint64_t stmt_clock;
	TAILQ_ENTRY(px_backend) link; /* on pool->idle or pool->busy */
};
TAILQ_HEAD(px_backend_list, px_backend);
TAILQ_HEAD(px_session_list, px_session);

/* Connections of one worker to one shard, for one capability variant. */
struct px_pool {
	struct px_worker *w;      /* borrowed */
	size_t shard;             /* slot: stable per shard name for the worker (px_worker_slot) */
	unsigned int variant;     /* PX_VAR_* bits */
	/* where new connections go: shard <ep_idx> of <ep_snap> (pinned); NULL while the slot is
	 * unused. A snapshot that moves the shard's endpoint bumps <gen>: idle connections are
	 * closed at once, busy ones when they come back. */
	const struct topo_snapshot *ep_snap;
	size_t ep_idx;
	uint32_t gen;
	struct px_backend_list idle;  /* ready, LIFO */
	struct px_backend_list busy;  /* connecting or held by a session */
	char shard_name[PX_NAME_MAX + 1];
	unsigned int n_idle, n_busy, n_connecting, n_waiting;
	struct px_session_list waiters; /* sessions waiting for a connection, FIFO */
	struct px_health *health;       /* borrowed: the shard's health record (px_health.h) */
	struct event down_ev;           /* fails the waiters of a shard that is down */
	bool down_ev_set;
};

#define PX_VAR_FOUND_ROWS  1u
#define PX_VAR_MULTI_STMTS 2u

enum px_sess_state {
	PX_SESS_HANDSHAKE = 0, /* greeting sent, waiting for HandshakeResponse */
	PX_SESS_AUTH_SWITCH,   /* AuthSwitchRequest sent, waiting for the token */
	PX_SESS_IDLE,          /* between commands */
	PX_SESS_WAIT_BACKEND,  /* queued on a pool */
	PX_SESS_SYNC,          /* backend replaying schema/charset before the command */
	PX_SESS_FORWARD,       /* command sent, streaming the response back */
	PX_SESS_MULTI,         /* running a multi-leg plan (px_exec): acquiring, syncing, merging */
	PX_SESS_TXEND,         /* committing or rolling back the branches of a transaction */
	PX_SESS_KILLWAIT,      /* KILL sent to every worker: waiting for their answers */
	PX_SESS_LOAD,          /* LOAD DATA LOCAL INFILE: reading the client's file (px_load) */
	PX_SESS_CLOSING,       /* flushing the last packet, then DONE */
	PX_SESS_DONE,          /* [terminal] freed at the outermost callback frame */
	PX_SESS_NSTATES
};

/* What the sync step is replaying on the backend before the client's command. */
enum px_sync_step {
	PX_SYNC_NONE = 0,
	PX_SYNC_SCHEMA,  /* COM_INIT_DB */
	PX_SYNC_NAMES,   /* SET NAMES */
	PX_SYNC_TXSTART, /* START TRANSACTION / XA START: the connection joins the transaction */
	PX_SYNC_VARS,    /* SET of the session's variables (px_vars.c) */
	PX_SYNC_PREPARE, /* COM_STMT_PREPARE of a statement executed on it directly (px_stmt.c) */
};

/* A statement prepared on a backend connection for direct executions (px_stmt.c). */
#define PX_BSTMT_MAX 32 /* per connection: max_prepared_stmt_count is never exhausted */
struct px_bstmt {
	char *key;      /* owned: default schema, NUL, statement text; NULL: free slot */
	size_t key_len;
	uint32_t id;    /* the server's statement id; 0 while its prepare is under way */
	uint64_t used;  /* last use, for eviction */
};

/* A transaction myshard runs itself (px_tx.c): one branch per shard it touched. The first
 * branch is a plain transaction (it also holds the commit decision of a two-phase commit); the
 * others are XA branches of one global transaction id. */
#define PX_TX_SQL 320 /* one statement of a branch's ending script */
struct px_branch {
	struct px_backend *be; /* held until the transaction ends */
	size_t slot;           /* pool slot */
	bool xa;               /* started with XA START */
	bool wrote;            /* ran something other than a read */
	/* ending (COMMIT / ROLLBACK): a script of one or two statements */
	uint8_t n_sql, at;
	bool busy, failed, lost, prepared;
	uint16_t code;
	char sql[2][PX_TX_SQL];
	char msg[256];
};

enum px_tx_then {
	PX_TX_REPLY = 0, /* answer the client's COMMIT / ROLLBACK */
	PX_TX_RERUN,     /* an implicit commit: run the client's statement afterwards */
	PX_TX_DEFERRED,  /* a write across shards in autocommit mode: send its held answer */
	PX_TX_DEADLOCK,  /* a deadlock victim's statement failed: answer 1213 */
};

struct px_tx {
	bool open;             /* BEGIN seen, or a statement ran with autocommit off */
	bool doomed;           /* a statement over several shards failed halfway: only ROLLBACK */
	bool autowrap;         /* one autocommit write across shards, committed right after */
	bool victim;           /* chosen to break a deadlock across shards (px_xa.c): its
				  interrupted statement rolls the transaction back with 1213 */
	uint8_t victim_seq;    /* sequence id the suppressed ERR had */
	unsigned int modes;    /* rt_tx_mode bits of START TRANSACTION */
	uint64_t no;           /* per session, for the global transaction id */
	struct px_branch *br;  /* owned array */
	unsigned int n, cap;
	bool plain_taken;      /* the plain (deciding) branch is started or starting */
	char coord[PX_NAME_MAX + 1]; /* its shard */
	char gtrid[64];        /* "" until the first XA branch */
	char xid[200];         /* 'gtrid','bqual',format as XA statements want it */
	/* ending */
	unsigned int phase;    /* px_tx.c's phases */
	enum px_tx_then then;
	bool commit;           /* COMMIT (else ROLLBACK) */
	bool asked_commit;     /* the client asked for a commit (refused if the transaction is doomed) */
	char why[520];         /* ABORT: what the client is told */
	uint64_t prepare_us;   /* when the first XA PREPARE was sent */
	uint8_t reply_seq;
	uint8_t *held;         /* PX_TX_DEFERRED: the statement's answer (one OK or ERR) */
	size_t held_len;
};

/* One client connection. */
struct rt_span;
struct px_health;
struct px_load;
struct px_stmt;
struct px_session {
	uint64_t id;               /* also the connection id shown to the client (low 32 bits) */
	struct px_worker *w;       /* borrowed */
	struct px_conn cl;         /* owned: client socket */
	enum px_sess_state state;
	char peer[64];             /* "ip:port" for logs */
	uint8_t scramble[MP_SCRAMBLE_LEN];
	uint32_t caps;             /* negotiated with the client */
	uint8_t collation;         /* what the client asked for (normalized) */
	char user[PX_USER_MAX + 1];
	char schema[PX_NAME_MAX + 1]; /* the session's default schema ("" = none) */
	uint8_t seq;               /* next sequence id towards the client (connection phase) */
	bool login_pending;        /* CONNECT_WITH_DB: OK to the client after the schema check */
	bool prep_pin_new;         /* this COM_STMT_PREPARE pins; undone if the server refuses it */
	bool tls_pending;          /* SSLRequest read: switch the socket to TLS once it is consumed */
	bool zlib_pending;         /* login OK queued: compression starts after this packet */
	bool sha2_switched;        /* caching_sha2_password: switched to it; the token follows */
	bool sha2_full;            /* caching_sha2_password: the next packet is the password */
	bool sha2_rsa;             /* caching_sha2_password: our public key was sent */
	/* what the client tracks (px_sess_track_filter): the server defaults until it SETs
	 * session_track_* itself (learned from the backend's report; that pins) */
	bool trk_set;              /* it did: the fields below apply */
	bool trk_schema, trk_state, trk_tx;
	char *trk_vars;            /* owned; session_track_system_variables, lower-case */
	char *trk_pending;         /* owned; the running SET's session_track_* (rt_set_track) */
	uint8_t login_ok_seq;
	/* command phase */
	uint8_t cmd;               /* command being executed */
	size_t cmd_len;            /* bytes (all packets, with headers) of the command in cl input */
	unsigned int cmd_pkts;     /* packets in the command: the reply starts at this seq */
	/* a multi-statement query run one statement at a time (px_cmd_script_*): its statements
	 * wait at the front of the client input as COM_QUERY packets of their own; their replies
	 * go out as one multi-result reply (sequence ids go on, MORE_RESULTS until the last) */
	unsigned int script_n;     /* statements; 0: no script */
	unsigned int script_i;     /* the one running or next */
	uint8_t script_base;       /* sequence id of the reply's first packet for this statement */
	uint8_t script_last;       /* sequence id of the last packet sent */
	bool script_running;       /* statement script_i was dispatched */
	bool script_more;          /* more statements follow this one (MORE_RESULTS) */
	bool script_err;           /* an ERR went out: the script stops there */
	struct px_load *load;      /* owned; LOAD DATA LOCAL INFILE under way (px_load.h) */
	struct px_stmt *direct;    /* borrowed; COM_STMT_EXECUTE run on its shard's own prepared
				      statement (px_stmt.c), NULL otherwise */
	uint32_t direct_id;        /* that statement's id on s->be */
	bool set_track;            /* a SET whose changes are learned from session tracking */
	bool user_counted;         /* counted against max_clients_per_user (px_session.c) */
	struct event q_timer;      /* timeouts.query_ms of the running statement */
	bool q_timer_set, q_timer_added, q_timed_out;
	bool q_retry;             /* the statement runs again after its replica was lost: it keeps
				      its start time and query timer */
	char *script_text;         /* owned; the whole query, for syntax error messages */
	size_t script_len;
	struct rt_span *script_sp; /* owned; script_n statements of script_text */
	uint8_t next_seq;          /* seq of the next response packet to the client */
	bool left_state;           /* this response leaves state the next statement may read */
	bool in_input;             /* px_sess_process_input() is on the stack */
	bool input_stalled;        /* commands wait: output above high water or budget used */
	struct event defer_ev;     /* resumes a stalled session on the next loop turn */
	struct event *wstall_ev;   /* owned, made at the first stall: timeouts.client_write_ms */
	bool wstall_added;
	unsigned int wstall_mark;  /* cl.write_evs when it was (re)armed */
	struct px_backend *be;     /* borrowed from the pool while held */
	struct px_pool *want;      /* pool waited on (WAIT_BACKEND) */
	enum px_sync_step sync;
	struct mp_resp resp;
	unsigned int sticky;       /* rt_sticky bits: connection pinned for the session's life */
	unsigned int pend_sticky;  /* pins the current command adds once it is forwarded */
	uint16_t status;           /* last server status seen */
	bool hold_prev;            /* keep the backend: the last statement left state to read */
	bool be_paused;            /* backend reads stopped for client backpressure */
	bool in_wait_list;
	struct px_exec *ex;        /* owned: the multi-leg statement running (MULTI), else NULL */
	uint64_t seq_insert_id;    /* first id a sequence gave the last INSERT that used one */
	/* the routed statement running now, for SHOW QUERY DIGESTS (q_on: one is) */
	bool q_on, q_err, q_scatter;
	bool q_legs_timed;         /* px_exec timed its legs per endpoint (slot_lat) */
	const char *q_pin;         /* static: why this statement pinned the session, or NULL */
	unsigned int q_shards;
	uint64_t q_start_us, q_rows;
	uint64_t last_write_us;    /* when the session last ran a write (replica_reads) */
	uint64_t login_us;         /* when the login completed (draining: PX_DRAIN_GRACE_MS) */
	bool replica_read;         /* the command waits for a read replica's connection */
	bool replica_avoid;        /* ...which failed: it goes to the primary instead */
	struct evbuffer *retry;    /* owned, lazily: a replica read's request as the client sent
				      it, kept until the reply starts; if the replica is lost
				      before that, the read runs again on the primary */
	char q_digest[PX_DIGEST_LEN];
	uint64_t q_digest_hash; /* of q_digest, computed while copying it */
	size_t shard;              /* pool slot of the single-leg command being acquired */
	struct px_stmt *stmts;     /* owned list: emulated prepared statements */
	uint32_t next_stmt;        /* numbering of emulated statement ids */
	bool autocommit_off;       /* SET autocommit=0: every statement opens a transaction */
	char *vars;                /* owned: session variables to replay (px_vars.c), or NULL */
	char *set_pending;         /* owned: assignments of the SET running now, or NULL */
	unsigned int kill_pending; /* KILLWAIT: workers still to answer */
	uint8_t kill_result;       /* KILLWAIT: bit 1 killed, bit 2 denied */
	uint64_t kill_id;          /* KILLWAIT: the session asked for */
	uint32_t kill_req;         /* number of this session's latest KILL (answers carry it) */
	bool tx_stmt;              /* the command runs inside the transaction <tx> */
	bool tx_write, tx_multi;   /* ... and changes data / runs on several shards */
	bool tx_start_xa;          /* PX_SYNC_TXSTART: the start sent was XA START */
	struct px_tx tx;           /* the transaction myshard runs for this session */
	struct event wait_ev;      /* pool wait timeout */
	bool wait_ev_added;
	TAILQ_ENTRY(px_session) link;      /* worker->sessions */
	TAILQ_ENTRY(px_session) wait_link; /* pool->waiters */
};

/* A worker thread: one event base, its sessions and its pools. */
struct px_worker {
	unsigned int idx;
	struct px_worker *all;       /* borrowed: every worker (KILL looks for a session on each) */
	unsigned int n_all;
	pthread_t thread;
	struct event_base *base;     /* owned */
	int efd;                     /* owned: eventfd, mailbox doorbell */
	struct event mbox_ev;
	struct ck_ring *ring;        /* owned: MPSC mailbox */
	struct ck_ring_buffer *ring_buf; /* owned */
	const struct conf *conf;     /* borrowed, lives for the process */
	struct topo_reader *topo;    /* owned: this thread's topology reader */
	size_t n_pools;              /* PX_SLOTS slots x PX_VARIANTS */
	struct px_pool *pools;       /* owned array; slot k's variants at k * PX_VARIANTS */
	uint64_t map_ver;            /* snapshot version slot_of[] was built for */
	uint16_t slot_of[TOPO_MAX_ENDPOINTS]; /* endpoint index in that snapshot -> slot */
	uint64_t replica_rr[PX_SLOTS]; /* per shard (its primary's slot): reads given to its
					  replicas, their weighted rotation */
	struct px_lat *slot_lat;     /* owned; PX_SLOTS: one-shard statements per pool slot (the
					metrics endpoint reports them by the slot's endpoint name) */
	struct px_session_list sessions;
	unsigned int n_sessions;
	struct px_stats stats;       /* written by this worker only; read racily for reports */
	struct px_seq_cache *seqs;   /* owned; one per sequence name seen, grown on first use */
	struct px_digest *digests;   /* owned; PX_DIGEST_SLOTS + 1 ("(other)" last), lazily */
	size_t n_seqs;
	bool stopping;
	bool draining;          /* SIGTERM: sessions close once idle (px_session_drain_all) */
	struct event drain_ev;  /* while draining: sweeps idle sessions every 100 ms */
	bool drain_ev_set;
};

#endif /* MYSHARD_PROXY_PX_TYPES_H */
