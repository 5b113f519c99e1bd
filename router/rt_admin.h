/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_admin.h - the statements of the admin port. myshard's own commands (APPLY, SHOW
 * TOPOLOGY, PAUSE SHARD ...) are recognized here; anything else is SQL for the staged config
 * tables (the admin port's embedded database decides whether it is allowed). Pure.
 */
#ifndef MYSHARD_ROUTER_RT_ADMIN_H
#define MYSHARD_ROUTER_RT_ADMIN_H

#include "common/ms_base.h"

enum rt_admin_kind {
	RT_ADM_SQL = 0,        /* not a command: SQL for the config tables */
	RT_ADM_EMPTY,          /* only comments / spaces */
	RT_ADM_BAD,            /* starts like a command but is malformed: <err> says why */
	RT_ADM_NOOP,           /* SET ... and USE ...: accepted and ignored (drivers send them) */
	RT_ADM_VERSION_COMMENT,/* SELECT @@version_comment [LIMIT 1] (the mariadb CLI asks) */
	RT_ADM_APPLY,          /* APPLY */
	RT_ADM_APPLY_DRY,      /* APPLY DRY RUN */
	RT_ADM_ROLLBACK_TO,    /* ROLLBACK TOPOLOGY TO <num> */
	RT_ADM_SAVE,           /* SAVE [CONFIG] */
	RT_ADM_RELOAD,         /* RELOAD */
	RT_ADM_SHOW_VERSION,   /* SHOW VERSION */
	RT_ADM_SHOW_TOPOLOGY,  /* SHOW TOPOLOGY */
	RT_ADM_SHOW_SHARDS,    /* SHOW SHARDS */
	RT_ADM_SHOW_POOLS,     /* SHOW POOLS */
	RT_ADM_SHOW_STATS,     /* SHOW STATS */
	RT_ADM_SHOW_CLIENTS,   /* SHOW CLIENTS */
	RT_ADM_SHOW_SERVERS,   /* SHOW SERVERS */
	RT_ADM_SHOW_REPLICAS,  /* SHOW REPLICAS */
	RT_ADM_SHOW_DIGESTS,   /* SHOW QUERY DIGESTS */
	RT_ADM_SHOW_XA,        /* SHOW TRANSACTIONS IN DOUBT */
	RT_ADM_KILL_CLIENT,    /* KILL CLIENT <num> */
	RT_ADM_PAUSE_SHARD,    /* PAUSE SHARD <name> */
	RT_ADM_RESUME_SHARD,   /* RESUME SHARD <name> */
};

#define RT_ADMIN_NAME_MAX 64

struct rt_admin {
	enum rt_admin_kind kind;
	uint64_t num;                     /* ROLLBACK TOPOLOGY TO <num>, KILL CLIENT <num> */
	char name[RT_ADMIN_NAME_MAX + 1]; /* PAUSE / RESUME SHARD <name> (quotes removed) */
	char err[240];                    /* RT_ADM_BAD: what is wrong */
};

/* Classifies <len> bytes of <sql>. Never fails. */
void rt_admin_parse(const char *sql, size_t len, struct rt_admin *out);

#endif /* MYSHARD_ROUTER_RT_ADMIN_H */
