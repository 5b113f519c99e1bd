/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router/rt_classify.h - what a statement does to the connection it runs on. The proxy uses it
 * to decide whether a session may give its backend connection back to the pool: statements that
 * leave state behind that cannot be recreated elsewhere (user variables, temporary tables, locks,
 * SET, SQL PREPARE) pin the connection; statements that read the previous statement's state
 * (LAST_INSERT_ID(), ROW_COUNT(), SHOW WARNINGS, ...) need the connection that ran it. Pure.
 */
#ifndef MYSHARD_ROUTER_RT_CLASSIFY_H
#define MYSHARD_ROUTER_RT_CLASSIFY_H

#include "common/ms_base.h"

/* Why a statement pins its connection for the rest of the session (bits of rt_class.sticky). */
enum rt_sticky {
	RT_STICKY_SET = 1u << 0,       /* SET ... (session variables, names, autocommit, ...) */
	RT_STICKY_USER_VAR = 1u << 1,  /* writes @user variables (SET @x, @x :=, INTO @x) */
	RT_STICKY_TEMP_TABLE = 1u << 2,/* CREATE TEMPORARY TABLE */
	RT_STICKY_LOCK = 1u << 3,      /* LOCK TABLES / FLUSH TABLES ... WITH READ LOCK */
	RT_STICKY_GET_LOCK = 1u << 4,  /* GET_LOCK() and friends */
	RT_STICKY_PREPARE = 1u << 5,   /* SQL PREPARE / EXECUTE / DEALLOCATE */
	RT_STICKY_FOUND_ROWS = 1u << 6,/* SQL_CALC_FOUND_ROWS */
	RT_STICKY_HANDLER = 1u << 7,   /* HANDLER ... OPEN/READ */
	RT_STICKY_XA = 1u << 8,        /* XA transaction statements */
	RT_STICKY_SERVER = 1u << 9,    /* the server reported a state change (e.g. from a routine) */
};

enum rt_class_flag {
	RT_CLASS_PREV_STATE = 1u << 0, /* reads state the previous statement left on the connection */
	RT_CLASS_KILL = 1u << 1,       /* KILL [QUERY|CONNECTION] n: ids are per backend */
	RT_CLASS_MULTI = 1u << 2,      /* more than one statement in the text */
	RT_CLASS_LEX_ERROR = 1u << 3,  /* unterminated string/comment; the server will reject it */
	RT_CLASS_EMPTY = 1u << 4,      /* no statement at all (only comments/space) */
	/* reads @user variables without setting any: where the session never set one (no
	 * USER_VAR pin) they are NULL on every connection, so nothing pins */
	RT_CLASS_USER_VAR_READ = 1u << 5,
};

struct rt_class {
	unsigned int sticky; /* enum rt_sticky bits */
	unsigned int flags;  /* enum rt_class_flag bits */
};

/* Classifies <len> bytes of SQL <text> (need not be NUL-terminated). Never fails. */
void rt_classify(const char *text, size_t len, struct rt_class *out);
/* If <text> is exactly one `SET NAMES cs [COLLATE coll]` (names as words, 'strings' or
 * `identifiers`; an optional trailing ';'), copies cs and coll (lower-cased; coll "" if absent)
 * and returns true. Anything else (DEFAULT, more assignments, other statements): false. */
bool rt_set_names(const char *text, size_t len, char cs[64], char coll[64]) MS_MUSTCHECK;
/* Name of the lowest set bit of <sticky> ("set", "user_var", ...); "none" for 0. */
const char *rt_sticky_name(unsigned int sticky) MS_MUSTCHECK;

#endif /* MYSHARD_ROUTER_RT_CLASSIFY_H */
