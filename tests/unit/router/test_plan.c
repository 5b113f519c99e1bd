/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/router/test_plan.c - table-driven tests of the planner (SQL -> plan: kind, shards,
 * leg SQL, merge, error), the digest, hints, EXPLAIN ROUTE rows, against the
 * 4-shard snapshot of plan_fixture.c. In SQL texts "$i" stands for an integer key of shard i
 * under the hash function and "%i" for a string key of shard i under the string hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan_fixture.h"
#include "router/rt_arena.h"
#include "router/rt_digest.h"
#include "router/rt_hint.h"
#include "router/rt_parse.h"
#include "router/rt_plan.h"

#define F_WRITE   1u
#define F_SCATTER 2u
#define F_NEED    4u /* RT_PLAN_NEED_IDS expected: legs/merge unchecked */

struct plan_case {
	const char *sql;
	enum rt_plan_kind kind;
	const char *shards;     /* "0,2": shard of each leg in order; NULL: unchecked */
	const char *sql_all;    /* the SQL of every leg; NULL: sent unchanged */
	enum rt_merge_kind merge;
	const char *merge_text; /* the EXPLAIN "merge" row; NULL: unchecked, "": no merge row */
	const char *err;        /* substring of the error message */
	unsigned int flags;
	const char *legs[4];    /* per-leg SQL when the legs differ */
	const char *schema;
};

/* clang-format off */
#define ONE(q, s) { .sql = (q), .shards = (s), .merge = RT_MERGE_NONE, .merge_text = "" }
#define ONEW(q, s) { .sql = (q), .shards = (s), .merge = RT_MERGE_NONE, .merge_text = "", .flags = F_WRITE }
#define ERROR(q, e) { .sql = (q), .kind = RT_PLAN_ERROR, .err = (e) }
#define BCAST(q) { .sql = (q), .shards = "0,1,2,3", .merge = RT_MERGE_ALL_SAME, .flags = F_WRITE }
#define ALL "0,1,2,3"

static const struct plan_case cases[] = {
	/* pass-through: no configured table, or not a table at all */
	ONE("SELECT 1", "0"),
	ONE("SELECT * FROM unconfigured WHERE id = 5", "0"),
	ONE("SET autocommit = 1", "0"),
	ONE("BEGIN", "0"),
	ONE("SHOW TABLES", "0"),
	ONE("CALL proc(1, 2)", "0"),
	ONE("USE shop", "0"),
	ONE("SELECT users FROM unconfigured", "0"), /* a column named like a table */
	ONE("SHOW CREATE TABLE users", "0"),
	ONE("DESCRIBE orders", "0"),
	ONE("SELECT * FROM accounts WHERE id = $2", "0"), /* accounts is only in schema shop */
	ONEW("INSERT INTO unconfigured (a) VALUES (1)", "0"),
	ONEW("CREATE TABLE other (id INT)", "0"),
	{ .sql = "CREATE DATABASE db1", .shards = ALL, .merge = RT_MERGE_ALL_SAME, .flags = F_WRITE },
	{ .sql = "DROP SCHEMA IF EXISTS db1", .shards = ALL, .merge = RT_MERGE_ALL_SAME, .flags = F_WRITE },
	ERROR("SET @x = (SELECT MAX(id) FROM users)", "myshard: cannot route this statement: SET on configured table users"),
	ERROR("LOAD DATA INFILE 'f' INTO TABLE users", "cannot route this statement: LOAD on configured table users"),

	/* point selects, IN, OR, BETWEEN, literals of every kind */
	ONE("SELECT * FROM users WHERE id = $0", "0"),
	ONE("SELECT * FROM users WHERE id = $3", "3"),
	ONE("SELECT name FROM users u WHERE u.id = $1", "1"),
	ONE("SELECT * FROM users WHERE $2 = id", "2"),
	ONE("SELECT * FROM users WHERE `id` = '$2'", "2"),
	ONE("SELECT * FROM users WHERE users.id = $1 AND name = 'x'", "1"),
	ONE("SELECT * FROM users WHERE (id = $1) AND (x > 3 OR y < 2)", "1"),
	ONE("SELECT * FROM users WHERE id = $1 FOR UPDATE", "1"),
	ONE("SELECT * FROM users WHERE id = $1 LOCK IN SHARE MODE", "1"),
	ONE("select * from USERS_x where id = 1", "0"),
	ONE("SELECT * FROM users WHERE id IN ($2, $2)", "2"),
	{ .sql = "SELECT * FROM users WHERE id IN ($0, $2, $0)", .shards = "0,2", .merge = RT_MERGE_CONCAT, .merge_text = "concat" },
	{ .sql = "SELECT * FROM users WHERE id = $0 OR id = $3", .shards = "0,3", .merge = RT_MERGE_CONCAT },
	{ .sql = "SELECT * FROM users WHERE id = $0 OR name = 'a'", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	ONE("SELECT * FROM users WHERE id IN ($0, $3) AND id = $3", "3"),
	ONE("SELECT * FROM users WHERE (id = $1 OR id = $1) AND a = 1", "1"),
	{ .sql = "SELECT * FROM users WHERE id = ?", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users WHERE id = 4.5", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users WHERE id = '12abc'", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users WHERE id = 0x10", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users WHERE id <> $1", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users WHERE id NOT IN ($1)", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users WHERE id + 0 = $1", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	ONE("SELECT * FROM users WHERE id = NULL", "0"),  /* no row: one shard answers empty */
	ONE("SELECT * FROM users WHERE id = $1 AND id = $2", "0"),
	ONE("SELECT * FROM names WHERE name = '%2'", "2"),
	ONE("SELECT * FROM names WHERE name = _utf8mb4'%3'", "3"),
	ONE("SELECT * FROM names WHERE name = N'%1'", "1"),
	/* a COLLATE may change what matches: no narrowing */
	{ .sql = "SELECT * FROM names WHERE name = _latin1 '%0' COLLATE latin1_bin", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	ONE("SELECT * FROM names WHERE name = '%2   '", "2"),
	{ .sql = "SELECT * FROM names WHERE name = 5", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	ONEW("INSERT INTO names (name) VALUES (5)", NULL),
	ONE("SELECT * FROM events WHERE id = 150", "1"),
	ONE("SELECT * FROM events WHERE id = -5", "0"),
	ONE("SELECT * FROM events WHERE id BETWEEN 120 AND 180", "1"),
	{ .sql = "SELECT * FROM events WHERE id BETWEEN 150 AND 250", .shards = "1,2", .merge = RT_MERGE_CONCAT },
	{ .sql = "SELECT id, v FROM events WHERE id BETWEEN 50 AND 1000 ORDER BY id", .shards = ALL, .merge = RT_MERGE_SORT,
	  .sql_all = "SELECT id, v, WEIGHT_STRING(RTRIM(id)) FROM events WHERE id BETWEEN 50 AND 1000 ORDER BY id" },
	{ .sql = "SELECT * FROM events WHERE id BETWEEN 50 AND 1000 ORDER BY id", .shards = ALL, .merge = RT_MERGE_SORT,
	  .sql_all = "SELECT *, id, WEIGHT_STRING(RTRIM(id)) FROM events WHERE id BETWEEN 50 AND 1000 ORDER BY id",
	  .merge_text = "merge order by tail col 0; hidden: the last 2 cols; weights tail col 0=1" },
	{ .sql = "SELECT * FROM users WHERE id BETWEEN 1 AND 2", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	ONE("SELECT * FROM shop.accounts WHERE id = $3", "3"),
	{ .sql = "SELECT * FROM accounts WHERE id = $3", .shards = "3", .schema = "shop", .merge = RT_MERGE_NONE },
	ONE("/* comment */ SELECT * FROM users WHERE id = $2;", "2"),
	ONE("SELECT * FROM users WHERE id = $2 -- trailing", "2"),
	ONE("(SELECT * FROM users WHERE id = $2)", "2"),

	/* hints */
	ONE("SELECT /* myshard:shard=s2 */ COUNT(*) FROM users", "2"),
	ONEW("/* myshard:shard=s3 */ UPDATE users SET id = 5", "3"),
	ONE("SELECT * FROM users WHERE name = '/* myshard:shard=s3 */' AND id = $1", "1"),
	{ .sql = "SELECT /* myshard:shard=nope */ 1", .kind = RT_PLAN_ERROR, .err = "myshard: hint names unknown shard 'nope'" },

	/* global tables */
	ONE("SELECT * FROM countries", "0"),
	ONE("SELECT * FROM countries c JOIN currencies k ON c.cur = k.code", "0"),
	BCAST("INSERT INTO countries (code) VALUES ('fr')"),
	BCAST("UPDATE countries SET name = 'x' WHERE code = 'fr'"),
	BCAST("DELETE FROM countries WHERE code = 'fr'"),
	BCAST("INSERT INTO countries SELECT * FROM currencies"),
	ERROR("INSERT INTO countries SELECT * FROM users", "write to global table countries reads table users, which is not global"),
	ERROR("UPDATE countries c JOIN users u ON u.cc = c.code SET c.n = u.id", "write to global table countries with table users"),
	ONE("SELECT * FROM users u JOIN countries c ON u.cc = c.code WHERE u.id = $3", "3"),
	{ .sql = "SELECT * FROM users u JOIN countries c ON u.cc = c.code", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	ONEW("UPDATE users u JOIN countries c ON u.cc = c.code SET u.n = c.n WHERE u.id = $2", "2"),

	/* joins */
	ONE("SELECT * FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = $1", "1"),
	ONE("SELECT * FROM users u JOIN orders o ON o.user_id = u.id WHERE o.user_id = $2", "2"),
	ONE("SELECT * FROM users u, orders o WHERE u.id = o.user_id AND u.id = $3", "3"),
	ONE("SELECT * FROM users u LEFT JOIN orders o ON u.id = o.user_id AND o.x = 1 WHERE u.id = $0", "0"),
	ONE("SELECT * FROM users JOIN items USING (id) WHERE id = $2", "2"),
	ONE("SELECT * FROM users u STRAIGHT_JOIN orders o ON o.user_id = u.id WHERE u.id = $1", "1"),
	{ .sql = "SELECT * FROM users u INNER JOIN orders o ON o.user_id = u.id", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	ERROR("SELECT * FROM users u JOIN orders o ON o.id = u.id", "myshard: cross-shard join: tables users and orders are not joined on their shard keys"),
	ERROR("SELECT * FROM users u CROSS JOIN orders o WHERE u.id = $1", "cross-shard join: tables users and orders"),
	ERROR("SELECT * FROM users u JOIN events e ON e.id = u.id", "tables users and events are not joined on their shard keys (different sharding functions)"),
	ERROR("SELECT * FROM users u NATURAL JOIN orders o", "cross-shard join"),
	ERROR("SELECT * FROM users u JOIN unconfigured x ON x.id = u.id", "table unconfigured is neither sharded nor global and cannot be used with sharded table users"),

	/* subqueries */
	ONE("SELECT * FROM users WHERE id = $1 AND cc IN (SELECT code FROM countries)", "1"),
	ONE("SELECT (SELECT COUNT(*) FROM countries) AS n, id FROM users WHERE id = $2", "2"),
	ERROR("SELECT * FROM users WHERE id IN (SELECT user_id FROM orders)", "subquery on sharded table orders is not supported"),
	ERROR("SELECT * FROM (SELECT * FROM users) d", "subquery on sharded table users"),
	ERROR("WITH x AS (SELECT * FROM users) SELECT * FROM x", "subquery on sharded table users"),
	ERROR("SELECT * FROM countries WHERE EXISTS (SELECT 1 FROM users WHERE users.cc = countries.code)", "subquery on sharded table users"),
	ERROR("SELECT * FROM users WHERE id = $1 AND x = (SELECT MAX(y) FROM orders WHERE user_id = $1)", "subquery on sharded table orders"),
	ONE("SELECT * FROM countries WHERE code IN (SELECT code FROM currencies)", "0"),

	/* scatter reads: concatenation, LIMIT push-down */
	{ .sql = "SELECT id, name FROM users", .shards = ALL, .merge = RT_MERGE_CONCAT, .merge_text = "concat", .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users LIMIT 10", .shards = ALL, .sql_all = "SELECT * FROM users LIMIT 10", .merge = RT_MERGE_CONCAT,
	  .merge_text = "concat; offset 0 limit 10", .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users LIMIT 5, 10", .shards = ALL, .sql_all = "SELECT * FROM users LIMIT 15", .merge = RT_MERGE_CONCAT,
	  .merge_text = "concat; offset 5 limit 10", .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users LIMIT 10 OFFSET 20;", .shards = ALL, .sql_all = "SELECT * FROM users LIMIT 30", .merge = RT_MERGE_CONCAT,
	  .merge_text = "concat; offset 20 limit 10", .flags = F_SCATTER },
	ERROR("SELECT * FROM users LIMIT ?", "LIMIT with placeholders"),
	ERROR("SELECT id INTO @x FROM users", "SELECT ... INTO across shards"),

	/* ORDER BY */
	{ .sql = "SELECT id, name FROM users ORDER BY name DESC, 1 LIMIT 3 OFFSET 2", .shards = ALL,
	  .sql_all = "SELECT id, name, WEIGHT_STRING(RTRIM(name)), WEIGHT_STRING(RTRIM(id)) FROM users ORDER BY name DESC, 1 LIMIT 5", .merge = RT_MERGE_SORT,
	  .merge_text = "merge order by col 1 desc, col 0; offset 2 limit 3; hidden cols 2..3; weights col 0=3, col 1=2", .flags = F_SCATTER },
	{ .sql = "SELECT id, name AS n FROM users ORDER BY n, users.id", .shards = ALL,
	  .sql_all = "SELECT id, name AS n, WEIGHT_STRING(RTRIM(name)), WEIGHT_STRING(RTRIM(id)) FROM users ORDER BY n, users.id",
	  .merge = RT_MERGE_SORT, .merge_text = "merge order by col 1, col 0; hidden cols 2..3; weights col 0=3, col 1=2", .flags = F_SCATTER },
	{ .sql = "SELECT id FROM users ORDER BY created_at DESC, LOWER(name) LIMIT 10", .shards = ALL,
	  .sql_all = "SELECT id, created_at, WEIGHT_STRING(RTRIM(created_at)), LOWER(name), WEIGHT_STRING(RTRIM(LOWER(name))) FROM users ORDER BY created_at DESC, LOWER(name) LIMIT 10",
	  .merge = RT_MERGE_SORT, .merge_text = "merge order by col 1 desc, col 3; offset 0 limit 10; hidden cols 1..4; weights col 1=2, col 3=4", .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users ORDER BY 2", .shards = ALL, .merge = RT_MERGE_SORT, .merge_text = "merge order by col 1", .flags = F_SCATTER },
	{ .sql = "SELECT * FROM users ORDER BY name DESC, 1 LIMIT 5", .shards = ALL, .merge = RT_MERGE_SORT,
	  .sql_all = "SELECT *, name, WEIGHT_STRING(RTRIM(name)) FROM users ORDER BY name DESC, 1 LIMIT 5",
	  .merge_text = "merge order by tail col 0 desc, col 0; offset 0 limit 5; hidden: the last 2 cols; weights tail col 0=1", .flags = F_SCATTER },
	{ .sql = "SELECT u.*, name AS n FROM users u ORDER BY LOWER(name)", .shards = ALL, .merge = RT_MERGE_SORT,
	  .sql_all = "SELECT u.*, name AS n, LOWER(name), WEIGHT_STRING(RTRIM(LOWER(name))) FROM users u ORDER BY LOWER(name)",
	  .merge_text = "merge order by tail col 0; hidden: the last 2 cols; weights tail col 0=1", .flags = F_SCATTER },
	ERROR("SELECT *, name AS n FROM users ORDER BY n", "ORDER BY an alias with SELECT * across shards: name the columns"),
	ERROR("SELECT * FROM users ORDER BY 'x'", "ORDER BY a constant with SELECT * across shards"),
	{ .sql = "SELECT id FROM users WHERE id IN ($0, $1) ORDER BY id", .shards = "0,1", .merge = RT_MERGE_SORT,
	  .sql_all = "SELECT id, WEIGHT_STRING(RTRIM(id)) FROM users WHERE id IN ($0, $1) ORDER BY id",
	  .merge_text = "merge order by col 0; hidden cols 1..1; weights col 0=1" },

	/* aggregates */
	{ .sql = "SELECT COUNT(*) FROM users", .shards = ALL, .merge = RT_MERGE_GROUP,
	  .merge_text = "group all rows; aggregates: count(col 0)", .flags = F_SCATTER },
	{ .sql = "SELECT COUNT(*) AS n, SUM(x), MIN(x), MAX(x) FROM users", .shards = ALL, .merge = RT_MERGE_GROUP,
	  .sql_all = "SELECT COUNT(*) AS n, SUM(x), MIN(x), MAX(x), WEIGHT_STRING(RTRIM(MIN(x))), WEIGHT_STRING(RTRIM(MAX(x))) FROM users",
	  .merge_text = "group all rows; aggregates: count(col 0), sum(col 1), min(col 2), max(col 3); hidden cols 4..5; weights col 2=4, col 3=5", .flags = F_SCATTER },
	{ .sql = "SELECT AVG(price) FROM users", .shards = ALL, .sql_all = "SELECT AVG(price), SUM(price), COUNT(price) FROM users",
	  .merge = RT_MERGE_GROUP, .merge_text = "group all rows; aggregates: avg(col 1/col 2), sum(col 1), count(col 2); hidden cols 1..2",
	  .flags = F_SCATTER },
	{ .sql = "SELECT cc, AVG(price) AS a, COUNT(*) FROM users GROUP BY cc", .shards = ALL,
	  .sql_all = "SELECT cc, AVG(price) AS a, COUNT(*), WEIGHT_STRING(RTRIM(cc)), SUM(price), COUNT(price) FROM users GROUP BY cc",
	  .merge = RT_MERGE_GROUP,
	  .merge_text = "group by col 0; aggregates: avg(col 4/col 5), count(col 2), sum(col 4), count(col 5); order by col 0; hidden cols 3..5; weights col 0=3",
	  .flags = F_SCATTER },
	{ .sql = "SELECT cc, COUNT(*) FROM users GROUP BY cc HAVING COUNT(*) > 1 AND cc <> 'fr' ORDER BY 2 DESC LIMIT 10", .shards = ALL,
	  .sql_all = "SELECT cc, COUNT(*), WEIGHT_STRING(RTRIM(cc)) FROM users GROUP BY cc  ORDER BY 2 DESC ",
	  .merge = RT_MERGE_GROUP,
	  .merge_text = "group by col 0; aggregates: count(col 1); having; order by col 1 desc; offset 0 limit 10; hidden cols 2..2; weights col 0=2", .flags = F_SCATTER },
	{ .sql = "SELECT cc FROM users GROUP BY cc HAVING SUM(x) >= 10.5 ORDER BY MAX(y)", .shards = ALL,
	  .sql_all = "SELECT cc, WEIGHT_STRING(RTRIM(cc)), SUM(x), MAX(y), WEIGHT_STRING(RTRIM(MAX(y))) FROM users GROUP BY cc  ORDER BY MAX(y)", .merge = RT_MERGE_GROUP,
	  .merge_text = "group by col 0; aggregates: sum(col 2), max(col 3); having; order by col 3; hidden cols 1..4; weights col 0=1, col 3=4", .flags = F_SCATTER },
	{ .sql = "SELECT COUNT(DISTINCT cc) FROM users", .shards = ALL,
	  .sql_all = "SELECT COUNT(DISTINCT cc), cc, WEIGHT_STRING(RTRIM(cc)) FROM users GROUP BY cc", .merge = RT_MERGE_GROUP,
	  .merge_text = "group all rows; aggregates: count distinct(col 1); hidden cols 1..2; weights col 1=2", .flags = F_SCATTER },
	{ .sql = "SELECT g, COUNT(DISTINCT cc), COUNT(*) FROM users WHERE a = 1 GROUP BY g ORDER BY g DESC", .shards = ALL,
	  .sql_all = "SELECT g, COUNT(DISTINCT cc), COUNT(*), WEIGHT_STRING(RTRIM(g)), cc, WEIGHT_STRING(RTRIM(cc)) FROM users WHERE a = 1 GROUP BY g, cc ORDER BY g DESC",
	  .merge = RT_MERGE_GROUP,
	  .merge_text = "group by col 0; aggregates: count distinct(col 4), count(col 2); order by col 0 desc; hidden cols 3..5; weights col 0=3, col 4=5",
	  .flags = F_SCATTER },
	{ .sql = "SELECT COUNT(*) FROM users GROUP BY cc ORDER BY NULL", .shards = ALL,
	  .sql_all = "SELECT COUNT(*), cc, WEIGHT_STRING(RTRIM(cc)) FROM users GROUP BY cc ORDER BY NULL", .merge = RT_MERGE_GROUP,
	  .merge_text = "group by col 1; aggregates: count(col 0); hidden cols 1..2; weights col 1=2", .flags = F_SCATTER },
	{ .sql = "SELECT DISTINCT cc, g FROM users", .shards = ALL, .merge = RT_MERGE_GROUP,
	  .sql_all = "SELECT DISTINCT cc, g, WEIGHT_STRING(RTRIM(cc)), WEIGHT_STRING(RTRIM(g)) FROM users",
	  .merge_text = "group by col 0, col 1; hidden cols 2..3; weights col 0=2, col 1=3", .flags = F_SCATTER },
	{ .sql = "SELECT DISTINCT cc FROM users ORDER BY cc LIMIT 5 OFFSET 1", .shards = ALL,
	  .sql_all = "SELECT DISTINCT cc, WEIGHT_STRING(RTRIM(cc)) FROM users ORDER BY cc LIMIT 6", .merge = RT_MERGE_GROUP,
	  .merge_text = "group by col 0; order by col 0; offset 1 limit 5; hidden cols 1..1; weights col 0=1", .flags = F_SCATTER },
	{ .sql = "SELECT cc, COUNT(*) FROM users WHERE id IN ($1, $2) GROUP BY cc LIMIT 3", .shards = "1,2",
	  .sql_all = "SELECT cc, COUNT(*), WEIGHT_STRING(RTRIM(cc)) FROM users WHERE id IN ($1, $2) GROUP BY cc ", .merge = RT_MERGE_GROUP,
	  .merge_text = "group by col 0; aggregates: count(col 1); order by col 0; offset 0 limit 3; hidden cols 2..2; weights col 0=2" },
	{ .sql = "SELECT 'x' AS k, COUNT(*) FROM users", .shards = ALL, .merge = RT_MERGE_GROUP, .flags = F_SCATTER },
	ONE("SELECT AVG(x), GROUP_CONCAT(y) FROM users WHERE id = $1", "1"),
	ERROR("SELECT SUM(x) + 1 FROM users", "aggregate inside an expression in 'SUM(x) + 1' across shards"),
	ERROR("SELECT SUM(x) / COUNT(*) FROM users", "aggregate inside an expression"),
	ERROR("SELECT ROUND(AVG(x), 2) FROM users", "aggregate inside an expression"),
	ERROR("SELECT GROUP_CONCAT(name ORDER BY name SEPARATOR ',') FROM users", "aggregate GROUP_CONCAT() across shards"),
	ERROR("SELECT STD(x) FROM users", "aggregate STD() across shards"),
	ERROR("SELECT ROW_NUMBER() OVER (ORDER BY id) FROM users", "window function"),
	ERROR("SELECT SUM(x) OVER (PARTITION BY cc) FROM users", "window function SUM() across shards"),
	ERROR("SELECT cc, COUNT(*) FROM users GROUP BY cc WITH ROLLUP", "WITH ROLLUP across shards"),
	ERROR("SELECT COUNT(DISTINCT a), COUNT(DISTINCT b) FROM users", "more than one COUNT(DISTINCT"),
	ERROR("SELECT SUM(DISTINCT a) FROM users", "SUM(DISTINCT ...) across shards"),
	ERROR("SELECT AVG(DISTINCT a) FROM users", "AVG(DISTINCT ...) across shards"),
	ERROR("SELECT name, COUNT(*) FROM users GROUP BY cc", "column 'name' must be in GROUP BY"),
	ERROR("SELECT cc, COUNT(*) FROM users GROUP BY cc HAVING name LIKE 'a%'", "HAVING condition 'name LIKE 'a%'' across shards"),
	ERROR("SELECT cc, COUNT(*) FROM users GROUP BY cc HAVING name > 1", "HAVING operand 'name' is neither selected, grouped nor an aggregate"),
	ERROR("SELECT * FROM users GROUP BY cc", "SELECT * with GROUP BY"),
	ERROR("SELECT DISTINCT cc, COUNT(*) FROM users GROUP BY cc", "SELECT DISTINCT with GROUP BY or aggregates"),
	ERROR("SELECT DISTINCT cc FROM users ORDER BY g", "ORDER BY 'g' is neither selected"),

	/* UNION */
	{ .sql = "SELECT id FROM users WHERE id = $1 UNION ALL SELECT id FROM users WHERE id = $2", .shards = "1,2",
	  .merge = RT_MERGE_CONCAT, .merge_text = "concat" },
	ONE("SELECT id FROM users WHERE id = $1 UNION SELECT user_id FROM orders WHERE user_id = $1", "1"),
	{ .sql = "SELECT id, name FROM users UNION SELECT user_id, note FROM orders", .shards = ALL,
	  .sql_all = "SELECT id, name, WEIGHT_STRING(RTRIM(id)), WEIGHT_STRING(RTRIM(name)) FROM users UNION SELECT user_id, note, WEIGHT_STRING(RTRIM(user_id)), WEIGHT_STRING(RTRIM(note)) FROM orders",
	  .merge = RT_MERGE_GROUP, .merge_text = "group by col 0, col 1; hidden cols 2..3; weights col 0=2, col 1=3", .flags = F_SCATTER },
	ERROR("SELECT id FROM users UNION ALL SELECT code FROM countries", "a UNION branch without sharded tables reads global table countries across shards"),
	ERROR("SELECT id FROM users UNION ALL SELECT id FROM users ORDER BY 1", "UNION across shards with GROUP BY"),
	ERROR("(SELECT id FROM users) UNION ALL (SELECT id FROM users) LIMIT 3", "UNION across shards"),
	ONE("SELECT code FROM countries UNION SELECT code FROM currencies", "0"),

	{ .sql = "SELECT id FROM users WHERE MATCH (a) AGAINST ('x' IN BOOLEAN MODE)", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	/* statements the parser does not understand (ODBC escapes) */
	{ .sql = "SELECT id FROM users WHERE d = {d '2020-01-01'}", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_SCATTER },
	ERROR("SELECT COUNT(*) FROM users WHERE d = {d '2020-01-01'}", "myshard: cannot route this SELECT on sharded table users:"),
	ERROR("SELECT id FROM users WHERE d = {d '2020-01-01'} ORDER BY id", "cannot route this SELECT"),
	ERROR("UPDATE users SET a = 1 WHERE d = {d '2020-01-01'}", "myshard: cannot route this write:"),
	ERROR("SELECT 1; SELECT * FROM users", "cannot route this SELECT"),

	/* INSERT / REPLACE */
	ONEW("INSERT INTO users (id, name) VALUES ($2, 'a')", "2"),
	ONEW("INSERT INTO users (name, id) VALUE ('a', '$3')", "3"),
	ONEW("INSERT INTO users SET id = $1, name = 'x'", "1"),
	ONEW("REPLACE INTO users (id) VALUES ($0)", "0"),
	ONEW("INSERT IGNORE INTO users (id, n) VALUES ($2, 1), ($2, 2) ON DUPLICATE KEY UPDATE n = VALUES(n)", "2"),
	{ .sql = "INSERT INTO users (id, n) VALUES ($1, 'a'), ($3, 'b'), ($1, _utf8mb4'c\\'')", .shards = "1,3",
	  .merge = RT_MERGE_CONCAT, .merge_text = "sum affected rows", .flags = F_WRITE,
	  .legs = { "INSERT INTO users (id, n) VALUES ($1, 'a'), ($1, _utf8mb4'c\\'')",
		    "INSERT INTO users (id, n) VALUES ($3, 'b')" } },
	{ .sql = "INSERT IGNORE INTO users(id,n)VALUES($0,1),($3,2) ON DUPLICATE KEY UPDATE n = n + 1;", .shards = "0,3",
	  .merge = RT_MERGE_CONCAT, .flags = F_WRITE,
	  .legs = { "INSERT IGNORE INTO users(id,n)VALUES($0,1) ON DUPLICATE KEY UPDATE n = n + 1",
		    "INSERT IGNORE INTO users(id,n)VALUES($3,2) ON DUPLICATE KEY UPDATE n = n + 1" } },
	ERROR("INSERT INTO users VALUES ($1, 'a')", "INSERT into sharded table users without a column list: name the columns"),
	ERROR("INSERT INTO users (name) VALUES ('a')", "myshard: INSERT into sharded table users must give its shard key column id"),
	ERROR("INSERT INTO users (id) VALUES (?)", "value '?' of shard key column id is not a literal"),
	ERROR("INSERT INTO users (id) VALUES ($1 + 1)", "is not a literal"),
	ERROR("INSERT INTO users (id) VALUES (4.5)", "cannot map shard key value '4.5' of column id"),
	ERROR("INSERT INTO users (id) VALUES (NULL)", "NULL shard key column id"),
	ERROR("INSERT INTO users (id, n) VALUES ($1, 1) ON DUPLICATE KEY UPDATE id = id + 1", "ON DUPLICATE KEY UPDATE changes shard key column id of table users"),
	ERROR("INSERT INTO users (id) SELECT id FROM orders", "INSERT ... SELECT into sharded table users"),
	ERROR("INSERT INTO users (id) SELECT code FROM countries", "INSERT ... SELECT into sharded table users"),
	ERROR("INSERT INTO unconfigured (id) SELECT id FROM users", "INSERT into unsharded table unconfigured reads sharded table users"),
	{ .sql = "INSERT INTO items (name) VALUES ('a'), ('b')", .kind = RT_PLAN_NEED_IDS, .flags = F_NEED | F_WRITE },
	ONEW("INSERT INTO items (id, name) VALUES ($3, 'a')", "3"),
	ONEW("INSERT INTO users (id, cc) VALUES ($1, (SELECT MIN(code) FROM countries))", "1"),
	ERROR("INSERT INTO users (id, n) VALUES ($1, (SELECT MAX(n) FROM orders))", "subquery on sharded table orders"),
	ERROR("INSERT INTO users (id, n) VALUES ($1, (SELECT MAX(n) FROM plain))", "INSERT into sharded table users reads table plain, which is neither sharded nor global"),

	/* UPDATE / DELETE */
	ONEW("UPDATE users SET name = 'x' WHERE id = $3", "3"),
	ONEW("UPDATE LOW_PRIORITY users SET name = 'x' WHERE id = $3 LIMIT 1", "3"),
	ONEW("DELETE FROM users WHERE id = $0", "0"),
	ONEW("DELETE FROM users WHERE id = $0 ORDER BY x LIMIT 1", "0"),
	{ .sql = "UPDATE users SET name = 'x' WHERE id IN ($0, $2)", .shards = "0,2", .merge = RT_MERGE_CONCAT, .flags = F_WRITE },
	{ .sql = "UPDATE users SET n = n + 1", .shards = ALL, .merge = RT_MERGE_CONCAT, .merge_text = "sum affected rows", .flags = F_WRITE | F_SCATTER },
	{ .sql = "DELETE FROM users WHERE name = 'x'", .shards = ALL, .merge = RT_MERGE_CONCAT, .flags = F_WRITE | F_SCATTER },
	ERROR("UPDATE users SET id = 5 WHERE id = $1", "myshard: UPDATE changes shard key column id of table users"),
	ERROR("UPDATE users u SET u.ID = 5", "UPDATE changes shard key column id of table users"),
	ERROR("UPDATE users SET n = 1 ORDER BY id LIMIT 10", "UPDATE with ORDER BY or LIMIT on sharded table users across shards"),
	ERROR("DELETE FROM users LIMIT 10", "DELETE with ORDER BY or LIMIT"),
	ONEW("UPDATE users u JOIN orders o ON o.user_id = u.id SET o.n = u.n WHERE u.id = $2", "2"),
	ONEW("DELETE u, o FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = $1", "1"),
	ONEW("DELETE FROM u USING users u JOIN orders o ON o.user_id = u.id WHERE o.user_id = $3", "3"),
	ERROR("DELETE u FROM users u JOIN orders o ON o.n = u.n", "cross-shard join"),
	ERROR("UPDATE users SET n = 1 WHERE id IN (SELECT user_id FROM orders)", "subquery on sharded table orders"),
	ONEW("UPDATE unconfigured SET a = 1", "0"),

	/* DDL */
	BCAST("CREATE TABLE users (id INT PRIMARY KEY)"),
	BCAST("CREATE TABLE IF NOT EXISTS `orders` (user_id BIGINT)"),
	BCAST("ALTER TABLE users ADD COLUMN x INT"),
	BCAST("DROP TABLE IF EXISTS other, users"),
	BCAST("TRUNCATE TABLE countries"),
	BCAST("TRUNCATE users"),
	BCAST("RENAME TABLE users TO users_old"),
	BCAST("CREATE UNIQUE INDEX ix ON users (name)"),
	BCAST("DROP INDEX ix ON orders"),
	BCAST("CREATE TABLE users_copy LIKE users"),
	ONEW("DROP TABLE other", "0"),
	ERROR("CREATE TABLE t2 AS SELECT * FROM users", "CREATE TABLE ... SELECT with configured table users"),
};
/* clang-format on */

static struct topo_snapshot *snap;

/* <tmpl> with $i / %i replaced by the fixture's keys, into <out>. */
static void
expand(const char *tmpl, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = tmpl; *p != '\0' && n + 24 < cap; p++) {
		if ((*p == '$' || *p == '%') && p[1] >= '0' && p[1] <= '3') {
			const char *k = *p == '$' ? fixture_hkey((size_t)(p[1] - '0'))
						  : fixture_skey((size_t)(p[1] - '0'));

			memcpy(out + n, k, strlen(k));
			n += strlen(k);
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static struct rt_plan *
plan_of(const char *sql, const char *schema)
{
	struct rt_plan_in in = { .sql = sql, .len = strlen(sql), .snap = snap,
				 .schema = schema != NULL ? schema : "" };
	struct rt_plan *p = NULL;

	assert_int_equal(rt_plan_build(&in, &p), MS_OK);
	assert_non_null(p);
	return p;
}

static const char *
merge_row(struct rt_plan *p)
{
	struct rt_explain_row *rows;
	size_t n;

	assert_int_equal(rt_plan_explain_rows(p, snap, &rows, &n), MS_OK);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].step, "merge") == 0) {
			return rows[i].text;
		}
	}
	return "";
}

static bool
check_legs(const struct plan_case *c, const struct rt_plan *p, char *why, size_t cap)
{
	char buf[4096], shards[64] = "";
	size_t n = 0;

	for (size_t i = 0; i < p->n_legs; i++) {
		n += (size_t)snprintf(shards + n, sizeof(shards) - n, "%s%zu", i ? "," : "", p->legs[i].shard);
	}
	if (c->shards != NULL && strcmp(shards, c->shards) != 0) {
		snprintf(why, cap, "shards %s, expected %s", shards, c->shards);
		return false;
	}
	for (size_t i = 0; i < p->n_legs; i++) {
		const char *want = c->legs[0] != NULL ? (i < 4 ? c->legs[i] : NULL) : c->sql_all;
		const char *got = p->legs[i].sql;

		if (want == NULL && got == NULL) {
			continue;
		}
		if (want != NULL) {
			expand(want, buf, sizeof(buf));
		}
		if (want == NULL || got == NULL || strcmp(buf, got) != 0 || strlen(got) != p->legs[i].sql_len) {
			snprintf(why, cap, "leg %zu sql [%s], expected [%s]", i, got ? got : "(unchanged)",
				 want ? buf : "(unchanged)");
			return false;
		}
	}
	return true;
}

static bool
check_case(const struct plan_case *c, char *why, size_t cap)
{
	char sql[4096];
	struct rt_plan *p;
	bool ok = false;

	expand(c->sql, sql, sizeof(sql));
	p = plan_of(sql, c->schema);
	if (p->kind != c->kind) {
		snprintf(why, cap, "kind %d, expected %d (%s)", p->kind, c->kind, p->err_msg ? p->err_msg : "");
	} else if (c->kind == RT_PLAN_ERROR) {
		ok = strstr(p->err_msg, c->err) != NULL && strncmp(p->err_msg, "myshard: ", 9) == 0 &&
		     p->err_code != 0;
		snprintf(why, cap, "error [%s], expected [%s]", p->err_msg, c->err);
	} else if (p->write != ((c->flags & F_WRITE) != 0)) {
		snprintf(why, cap, "write %d", p->write);
	} else if (c->flags & F_NEED) {
		ok = true;
	} else if (p->scatter != ((c->flags & F_SCATTER) != 0)) {
		snprintf(why, cap, "scatter %d", p->scatter);
	} else if (p->merge.kind != c->merge) {
		snprintf(why, cap, "merge kind %d, expected %d", p->merge.kind, c->merge);
	} else if (check_legs(c, p, why, cap)) {
		const char *m = merge_row(p);

		ok = c->merge_text == NULL || strcmp(m, c->merge_text) == 0;
		snprintf(why, cap, "merge [%s], expected [%s]", m, c->merge_text ? c->merge_text : "");
	}
	rt_plan_free(p);
	if (!ok) {
		char *tmp = strdup(why);

		assert_non_null(tmp);
		snprintf(why, cap, "\"%.2000s\": %.2000s", sql, tmp);
		free(tmp);
	}
	return ok;
}

static void
test_plan_table(void **state)
{
	char why[8192];
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		if (!check_case(&cases[i], why, sizeof(why))) {
			print_message("FAIL %s\n", why);
			failed++;
		}
	}
	print_message("%zu plan cases, %zu failed\n", MS_ARRAY_LEN(cases), failed);
	assert_int_equal(failed, 0);
}

struct parse_case {
	const char *sql;
	int kind;          /* enum rt_stmt_kind */
	const char *trefs; /* "schema.name@depth[c]" (c: a WITH name) separated by spaces */
	const char *err;   /* NULL: understood */
};

/* clang-format off */
static const struct parse_case parse_cases[] = {
	{ "SELECT a, b AS c, COUNT(*) FROM t1 AS x LEFT OUTER JOIN db.t2 y ON x.id = y.id WHERE x.a > 5 AND y.b LIKE 'a%' GROUP BY a, b HAVING COUNT(*) > 1 ORDER BY 3 DESC LIMIT 10", RT_STMT_SELECT, "t1@0 db.t2@0", NULL },
	{ "SELECT CAST(a AS DECIMAL(10,2)), IFNULL(b, 0), CASE WHEN a = 1 THEN 'x' ELSE 'y' END AS k FROM t", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT DATE_ADD(d, INTERVAL 1 DAY), NOW() - INTERVAL 2 HOUR FROM t WHERE d >= '2020-01-01' - INTERVAL 1 DAY", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT TRIM(LEADING 'x' FROM name), EXTRACT(YEAR FROM d), SUBSTRING(s FROM 2 FOR 3), POSITION('a' IN s) FROM t", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT * FROM t WHERE a IS NOT NULL AND b IS TRUE AND c NOT BETWEEN 1 AND 2 AND d NOT IN (1,2) AND e NOT LIKE 'x' ESCAPE '!'", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4)) AND a <=> NULL AND b != 3 AND c <> 4 AND !d AND e XOR f", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT * FROM t USE INDEX (i1) FORCE INDEX FOR JOIN (i2) PARTITION (p0) WHERE a = 1", RT_STMT_SELECT, NULL, "expected the end" },
	{ "SELECT * FROM t PARTITION (p0) AS x USE INDEX (i1)", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT * FROM (t1 JOIN t2 ON t1.a = t2.a) LEFT JOIN t3 USING (b)", RT_STMT_SELECT, "t1@0 t2@0 t3@0", NULL },
	{ "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a) AND b = ANY (SELECT b FROM v)", RT_STMT_SELECT, "t@0 u@1 v@1", NULL },
	{ "SELECT (SELECT MAX(x) FROM u) + 1, a FROM t", RT_STMT_SELECT, "u@1 t@0", NULL },
	{ "WITH c AS (SELECT * FROM u), d AS (SELECT * FROM c) SELECT * FROM c JOIN d ON c.a = d.a JOIN t ON t.a = c.a", RT_STMT_SELECT, "u@1 c@1c c@0c d@0c t@0", NULL },
	{ "SELECT a FROM t UNION SELECT b FROM u UNION ALL (SELECT c FROM v)", RT_STMT_SELECT, "t@0 u@0 v@0", NULL },
	{ "SELECT a FROM t WHERE b = (SELECT c FROM (SELECT c FROM u) AS d LIMIT 1)", RT_STMT_SELECT, "t@0 u@2", NULL },
	{ "SELECT IF(a, b, c), LEFT(s, 2), INSERT(s, 1, 2, 'x'), REPLACE(s, 'a', 'b'), MOD(a, 2), DATE(d) FROM t", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT a->'$.x', a->>'$.y' FROM t WHERE a & 4 = 4 AND b << 2 > 1 AND c DIV 2 = 1 AND e % 2 = 1", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT 'a' 'b', _utf8mb4'x' COLLATE utf8mb4_bin, N'y', X'41', b'01', 0x1F, -5, +3, ~1 FROM t", RT_STMT_SELECT, "t@0", NULL },
	{ "SELECT `weird``name`, `t`.`a` FROM `db`.`t` AS `x`", RT_STMT_SELECT, "db.t@0", NULL },
	{ "SELECT `from` FROM `where`", RT_STMT_SELECT, "where@0", NULL },
	{ "SELECT 1 FROM DUAL", RT_STMT_SELECT, "", NULL },
	{ "SELECT a FROM t WINDOW w AS (ORDER BY a)", RT_STMT_SELECT, NULL, "WINDOW clauses are not supported" },
	{ "SELECT a FROM t; SELECT 2", RT_STMT_OTHER, NULL, "more than one statement" },
	{ "SELECT a FROM t WHERE 'abc", RT_STMT_OTHER, NULL, "unterminated" },
	{ "SELECT a FROM t WHERE a = (1", RT_STMT_SELECT, NULL, "expected ')' at the end" },
	{ "SELECT * FROM t1 INTERSECT SELECT * FROM t2", RT_STMT_SELECT, NULL, "INTERSECT is not supported" },
	{ "INSERT INTO t (a, b) VALUES (1, 2), (3, DEFAULT) ON DUPLICATE KEY UPDATE b = VALUES(b) + 1", RT_STMT_INSERT, "t@0", NULL },
	{ "INSERT INTO t SELECT * FROM u WHERE a = 1", RT_STMT_INSERT, "t@0 u@0", NULL },
	{ "REPLACE t (a) VALUE (1)", RT_STMT_REPLACE, "t@0", NULL },
	{ "INSERT INTO t () VALUES ()", RT_STMT_INSERT, "t@0", NULL },
	{ "UPDATE t1 JOIN t2 ON t1.a = t2.a SET t1.b = t2.b WHERE t1.c = (SELECT 1 FROM u)", RT_STMT_UPDATE, "t1@0 t2@0 u@1", NULL },
	{ "DELETE FROM t1.* USING t1 JOIN t2 ON t1.a = t2.a", RT_STMT_DELETE, "t1@0 t2@0", NULL },
	{ "DELETE FROM t RETURNING a", RT_STMT_DELETE, NULL, "RETURNING is not supported" },
	{ "CREATE TABLE IF NOT EXISTS t (id INT, FOREIGN KEY (a) REFERENCES u (b)) ENGINE=InnoDB", RT_STMT_CREATE_TABLE, "t@0", NULL },
	{ "CREATE OR REPLACE TEMPORARY TABLE t LIKE u", RT_STMT_CREATE_TABLE, "t@0 u@0", NULL },
	{ "ALTER TABLE t ADD COLUMN b INT, RENAME TO t2", RT_STMT_ALTER_TABLE, "t@0 t2@0", NULL },
	{ "DROP TEMPORARY TABLE IF EXISTS a, db.b CASCADE", RT_STMT_DROP_TABLE, "a@0 db.b@0", NULL },
	{ "RENAME TABLE a TO b, c TO d", RT_STMT_RENAME_TABLE, "a@0 b@0 c@0 d@0", NULL },
	{ "CREATE VIEW v AS SELECT * FROM t", RT_STMT_OTHER, "", NULL },
	{ "CREATE SCHEMA s", RT_STMT_CREATE_DB, "", NULL },
};
/* clang-format on */

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < MS_ARRAY_LEN(parse_cases); i++) {
		const struct parse_case *pc = &parse_cases[i];
		struct rt_arena *a = NULL;
		struct rt_stmt *s = NULL;
		char got[512] = "";
		size_t n = 0;

		assert_int_equal(rt_arena_new(&a), MS_OK);
		assert_int_equal(rt_parse(pc->sql, strlen(pc->sql), a, &s), MS_OK);
		for (unsigned int k = 0; k < s->n_trefs; k++) {
			const struct rt_tref *r = &s->trefs[k];

			n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%.*s%s%.*s@%u%s", k ? " " : "",
					      (int)r->schema.len, r->schema.ptr, r->schema.len ? "." : "",
					      (int)r->name.len, r->name.ptr, r->depth, r->cte ? "c" : "");
		}
		if (pc->err == NULL && (!s->ok || strcmp(got, pc->trefs) != 0 || (int)s->kind != pc->kind)) {
			fail_msg("\"%s\": ok %d (%s) kind %d trefs [%s]", pc->sql, s->ok, s->err, s->kind, got);
		}
		if (pc->err != NULL && (s->ok || strstr(s->err, pc->err) == NULL)) {
			fail_msg("\"%s\": ok %d err [%s], expected [%s]", pc->sql, s->ok, s->err, pc->err);
		}
		rt_arena_free(a);
	}
}

/* Builds <sql> with sequence ids <ids>. */
static struct rt_plan *
plan_ids(const char *sql, const uint64_t *ids, size_t n)
{
	struct rt_plan_in in = { .sql = sql, .len = strlen(sql), .snap = snap, .schema = "",
				 .ids = ids, .n_ids = n };
	struct rt_plan *p = NULL;

	assert_int_equal(rt_plan_build(&in, &p), MS_OK);
	return p;
}

/* Ids for items: one key per shard, in shard order 2, 0 (what the sequence would hand out). */
static void
test_plan_sequence_ids(void **state)
{
	const char *sql = "INSERT INTO items (name) VALUES ('a'), ('b')";
	uint64_t ids[2];
	struct rt_plan *p;
	char want[256];

	(void)state;
	p = plan_ids(sql, NULL, 0);
	assert_int_equal(p->kind, RT_PLAN_NEED_IDS);
	assert_int_equal(p->need_ids, 2);
	assert_int_equal(p->seq, 0);
	rt_plan_free(p);

	ids[0] = strtoull(fixture_hkey(2), NULL, 10);
	ids[1] = strtoull(fixture_hkey(0), NULL, 10);
	p = plan_ids(sql, ids, 2);
	assert_int_equal(p->kind, RT_PLAN_SHARDS);
	assert_true(p->write);
	assert_int_equal(p->insert_id, ids[0]);
	assert_int_equal(p->n_legs, 2);
	assert_int_equal(p->merge.kind, RT_MERGE_CONCAT);
	assert_int_equal(p->legs[0].shard, 0);
	snprintf(want, sizeof(want), "INSERT INTO items (name, id) VALUES ('b', %s)", fixture_hkey(0));
	assert_string_equal(p->legs[0].sql, want);
	snprintf(want, sizeof(want), "INSERT INTO items (name, id) VALUES ('a', %s)", fixture_hkey(2));
	assert_string_equal(p->legs[1].sql, want);
	rt_plan_free(p);

	/* key given as NULL / 0 / DEFAULT: the id replaces it; a real key routes as usual */
	sql = "INSERT INTO items (id, name) VALUES (NULL, 'a'), (0, 'b')";
	p = plan_ids(sql, NULL, 0);
	assert_int_equal(p->kind, RT_PLAN_NEED_IDS);
	assert_int_equal(p->need_ids, 2);
	rt_plan_free(p);
	ids[0] = ids[1] = strtoull(fixture_hkey(3), NULL, 10);
	ids[1] += 0; /* same shard twice is fine */
	p = plan_ids("INSERT INTO items (id, name) VALUES (DEFAULT, 'a')", ids, 1);
	assert_int_equal(p->n_legs, 1);
	assert_int_equal(p->legs[0].shard, 3);
	snprintf(want, sizeof(want), "INSERT INTO items (id, name) VALUES (%s, 'a')", fixture_hkey(3));
	assert_string_equal(p->legs[0].sql, want);
	assert_int_equal(p->insert_id, ids[0]);
	rt_plan_free(p);

	p = plan_ids("INSERT INTO items SET name = 'z'", ids, 1);
	assert_int_equal(p->kind, RT_PLAN_SHARDS);
	snprintf(want, sizeof(want), "INSERT INTO items SET name = 'z', id = %s", fixture_hkey(3));
	assert_string_equal(p->legs[0].sql, want);
	rt_plan_free(p);
}

static void
test_plan_explain(void **state)
{
	const char *sql = "EXPLAIN ROUTE SELECT cc, AVG(x) FROM users GROUP BY cc LIMIT 10";
	struct rt_explain_row *rows;
	struct rt_plan *p;
	size_t n;

	(void)state;
	p = plan_of(sql, NULL);
	assert_int_equal(p->kind, RT_PLAN_EXPLAIN);
	assert_non_null(p->inner);
	assert_false(p->write);
	assert_int_equal(rt_plan_explain_rows(p, snap, &rows, &n), MS_OK);
	assert_int_equal(n, 6);
	assert_string_equal(rows[0].step, "leg 1");
	assert_string_equal(rows[0].shard, "s0");
	assert_string_equal(rows[0].text, "SELECT cc, AVG(x), WEIGHT_STRING(RTRIM(cc)), SUM(x), COUNT(x) FROM users GROUP BY cc ");
	assert_string_equal(rows[3].shard, "s3");
	assert_string_equal(rows[4].step, "merge");
	assert_string_equal(rows[4].text, "group by col 0; aggregates: avg(col 3/col 4), sum(col 3), count(col 4); order by col 0; offset 0 limit 10; hidden cols 2..4; weights col 0=2");
	assert_string_equal(rows[5].step, "route");
	assert_string_equal(rows[5].text, "scatter; digest: SELECT cc, AVG(x) FROM users GROUP BY cc LIMIT ?");
	rt_plan_free(p);

	p = plan_of("explain route delete from users where id = 7", NULL);
	assert_int_equal(rt_plan_explain_rows(p, snap, &rows, &n), MS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].text, "delete from users where id = 7");
	assert_string_equal(rows[1].text, "single; digest: DELETE FROM users WHERE id = ?");
	assert_true(p->inner->write);
	rt_plan_free(p);

	p = plan_of("EXPLAIN ROUTE UPDATE users SET id = 1", NULL);
	assert_int_equal(p->inner->kind, RT_PLAN_ERROR);
	assert_int_equal(rt_plan_explain_rows(p, snap, &rows, &n), MS_OK);
	assert_int_equal(n, 1);
	assert_non_null(strstr(rows[0].text, "error 1235 (42000): myshard: UPDATE changes shard key"));
	rt_plan_free(p);

	p = plan_of("EXPLAIN ROUTE INSERT INTO items (name) VALUES ('a'), ('b')", NULL);
	assert_int_equal(p->inner->kind, RT_PLAN_NEED_IDS);
	assert_int_equal(rt_plan_explain_rows(p, snap, &rows, &n), MS_OK);
	assert_int_equal(n, 1);
	assert_non_null(strstr(rows[0].text, "; 2 ids from sequence items_seq (counter on shard s1), "));
	assert_non_null(strstr(rows[0].text, "then each row goes to its id's shard"));
	rt_plan_free(p);
}

struct digest_case {
	const char *sql;
	const char *want;
};

static void
test_digest(void **state)
{
	static const struct digest_case dc[] = {
		{ "select * from t where id = 42", "SELECT * FROM t WHERE id = ?" },
		{ "SELECT  *\n FROM t /* c */ WHERE id='x' -- z", "SELECT * FROM t WHERE id = ?" },
		{ "select a from t where id in (1, 2, 3) and b in (?,?)", "SELECT a FROM t WHERE id IN (...) AND b IN (...)" },
		{ "insert into t (a,b) values (1,'x'),(2,'y'), (3, 'z')", "INSERT INTO t(a, b) VALUES (...)" },
		{ "select -5, a-1, x'1f', _utf8mb4'a', N'b', 1e3 from t", "SELECT ?, a - ?, ?, ?, ?, ? FROM t" },
		{ "select count(*), Sum(x) from `t` limit 10, 5", "SELECT COUNT(*), SUM(x) FROM `t` LIMIT ?, ?" },
		{ "update t set a = null where b is not null", "UPDATE t SET a = NULL WHERE b IS NOT NULL" },
		{ "select f(a, 1) from t", "SELECT f(a, ?) FROM t" },
		{ "select a from t where a <> 1 and b <=> 2 or c || d and e>=3;", "SELECT a FROM t WHERE a <> ? AND b <=> ? OR c || d AND e >= ?" },
		{ "", "" },
	};
	char out[128];

	(void)state;
	for (size_t i = 0; i < MS_ARRAY_LEN(dc); i++) {
		size_t n = rt_digest(dc[i].sql, strlen(dc[i].sql), out, sizeof(out));

		assert_string_equal(out, dc[i].want);
		assert_int_equal(n, strlen(dc[i].want));
	}
	/* cut to fit, still NUL-terminated */
	assert_int_equal(rt_digest("select aaaaaaaaaaaaaaaa from t", 30, out, 10), 9);
	assert_string_equal(out, "SELECT aa");
}

static void
test_hint(void **state)
{
	static const struct {
		const char *sql;
		const char *name; /* NULL: no hint */
	} hc[] = {
		{ "/* myshard:shard=s1 */ select 1", "s1" },
		{ "select /*  MYSHARD:SHARD=shard-2.a */ 1", "shard-2.a" },
		{ "select 1 /* myshard:shard=x_9 */", "x_9" },
		{ "select '/* myshard:shard=s1 */'", NULL },
		{ "select \"/* myshard:shard=s1 */\"", NULL },
		{ "select `/* myshard:shard=s1 */`", NULL },
		{ "select 1 -- /* myshard:shard=s1 */", NULL },
		{ "select 1 # /* myshard:shard=s1 */", NULL },
		{ "select /*!50000 myshard:shard=s1 */ 1", NULL },
		{ "select /* myshard:shard= */ 1", NULL },
		{ "select /* other */ /* myshard:shard=s3 */ 1", "s3" },
		{ "select 'it\\'s' /* myshard:shard=s2 */", "s2" },
		{ "select /* myshard:shard=s1", NULL },
	};

	(void)state;
	for (size_t i = 0; i < MS_ARRAY_LEN(hc); i++) {
		const char *name = NULL;
		size_t n = 0;
		bool found = rt_hint_find(hc[i].sql, strlen(hc[i].sql), &name, &n);

		if (hc[i].name == NULL) {
			assert_false(found);
		} else {
			assert_true(found);
			assert_int_equal(n, strlen(hc[i].name));
			assert_memory_equal(name, hc[i].name, n);
		}
	}
	/* other keys: read=primary / read=replica; a shard hint is no read hint and back */
	{
		static const char both[] = "select /* myshard:shard=s1 */ /* MyShard:Read=Replica */ 1";
		const char *v = NULL;
		size_t n = 0;

		assert_true(rt_hint_find_key(both, strlen(both), "read=", &v, &n));
		assert_int_equal(n, 7);
		assert_memory_equal(v, "Replica", 7);
		assert_true(rt_hint_find(both, strlen(both), &v, &n));
		assert_int_equal(n, 2);
		assert_false(rt_hint_find_key("select /* myshard:shard=s1 */ 1", 31, "read=", &v, &n));
		assert_false(rt_hint_find_key("select '/* myshard:read=primary */'", 35, "read=", &v,
					      &n));
	}
}

/* Every prefix of every case's SQL plans without crashing (ASan checks the reads). */
static void
test_plan_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < MS_ARRAY_LEN(cases); i++) {
		char sql[4096];
		size_t len;

		expand(cases[i].sql, sql, sizeof(sql));
		len = strlen(sql);
		for (size_t k = 0; k <= len; k++) {
			char *buf = malloc(k > 0 ? k : 1);
			struct rt_plan_in in = { .sql = buf, .len = k, .snap = snap, .schema = "" };
			struct rt_plan *p = NULL;

			assert_non_null(buf);
			memcpy(buf, sql, k);
			assert_int_equal(rt_plan_build(&in, &p), MS_OK);
			rt_plan_free(p);
			free(buf);
		}
	}
}

/* <pre>, then <n> copies of <open>, <mid>, <n> copies of <close>: a heap string. */
static char *
nested(const char *pre, const char *open, const char *mid, const char *close, size_t n)
{
	size_t pl = strlen(pre), ol = strlen(open), ml = strlen(mid), cl = strlen(close);
	char *s = malloc(pl + n * (ol + cl) + ml + 1), *at = s;

	assert_non_null(s);
	memcpy(at, pre, pl);
	at += pl;
	for (size_t i = 0; i < n; i++, at += ol) {
		memcpy(at, open, ol);
	}
	memcpy(at, mid, ml);
	at += ml;
	for (size_t i = 0; i < n; i++, at += cl) {
		memcpy(at, close, cl);
	}
	*at = '\0';
	return s;
}

/*
 * Statements built to exhaust the stack: the parser recursed once per nesting level and the
 * planner once per AND/OR term, so 200,000 of either crashed the process. Nesting is now
 * bounded (a read that cannot be parsed scatters, a write is refused) and AND/OR chains are
 * one node each.
 */
static void
test_plan_deep(void **state)
{
	static const char *const shapes[][4] = {
		{ "SELECT name FROM users WHERE id = ", "(", "1", ")" },
		{ "SELECT name FROM ", "(", "users", ")" },
		{ "SELECT name FROM users WHERE ", "NOT ", "id = 1", "" },
		{ "SELECT name FROM users WHERE id = ", "- ", "1", "" },
	};
	struct rt_plan *p;
	char *sql;

	(void)state;
	for (size_t i = 0; i < MS_ARRAY_LEN(shapes); i++) {
		sql = nested(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], 200000);
		p = plan_of(sql, NULL);
		assert_int_equal(p->kind, RT_PLAN_SHARDS);
		assert_int_equal(p->n_legs, 4); /* not provably one shard: every shard */
		rt_plan_free(p);
		free(sql);
	}
	/* within the bound, the key still routes */
	sql = nested("SELECT name FROM users WHERE id = ", "(", fixture_hkey(2), ")", 300);
	p = plan_of(sql, NULL);
	assert_int_equal(p->kind, RT_PLAN_SHARDS);
	assert_int_equal(p->n_legs, 1);
	assert_int_equal(p->legs[0].shard, 2);
	rt_plan_free(p);
	free(sql);
	/* a write it cannot parse is refused, naming why */
	sql = nested("UPDATE users SET name = 'x' WHERE id = ", "(", "1", ")", 200000);
	p = plan_of(sql, NULL);
	assert_int_equal(p->kind, RT_PLAN_ERROR);
	assert_non_null(strstr(p->err_msg, "nested more than 400 levels deep"));
	rt_plan_free(p);
	free(sql);
}

/* 100,000 OR terms on the key: the shards of exactly the keys named (and quickly: appending
 * a kid was linear in the kids before). */
static void
test_plan_long_or(void **state)
{
	const size_t terms = 100000;
	char *sql = malloc(64 + terms * 40), *at = sql;
	struct rt_plan *p;

	(void)state;
	assert_non_null(sql);
	at += sprintf(at, "DELETE FROM users WHERE id = %s", fixture_hkey(1));
	for (size_t i = 1; i < terms; i++) {
		at += sprintf(at, " OR id = %s", fixture_hkey(i % 2 == 0 ? 1 : 3));
	}
	p = plan_of(sql, NULL);
	assert_int_equal(p->kind, RT_PLAN_SHARDS);
	assert_int_equal(p->n_legs, 2);
	assert_int_equal(p->legs[0].shard, 1);
	assert_int_equal(p->legs[1].shard, 3);
	rt_plan_free(p);
	/* an AND of 100,000 terms, one of them on the key: that key's shard */
	at = sql + sprintf(sql, "SELECT name FROM users WHERE id = %s", fixture_hkey(0));
	for (size_t i = 1; i < terms; i++) {
		at += sprintf(at, " AND name <> 'x%zu'", i);
	}
	p = plan_of(sql, NULL);
	assert_int_equal(p->kind, RT_PLAN_SHARDS);
	assert_int_equal(p->n_legs, 1);
	assert_int_equal(p->legs[0].shard, 0);
	rt_plan_free(p);
	free(sql);
}

static int
setup(void **state)
{
	(void)state;
	snap = fixture_snapshot();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	topo_snapshot_free(snap);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_plan_table),
		cmocka_unit_test(test_plan_sequence_ids),
		cmocka_unit_test(test_plan_explain),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_plan_prefixes),
		cmocka_unit_test(test_plan_deep),
		cmocka_unit_test(test_plan_long_or),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
