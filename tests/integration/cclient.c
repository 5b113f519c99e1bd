/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/integration/cclient.c - a Connector-C (libmariadb) client for the integration tests:
 * text queries and prepared statements (int, string, double and NULL parameters, bound
 * result buffers), printed in a fixed format that test_cclient.py compares exactly.
 *
 * usage: cclient HOST PORT USER PASSWORD DATABASE
 * Exit status 0 when every step worked; on the first failure prints "FAIL <step>: <code>
 * (<sqlstate>) <message>" and exits 1.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static MYSQL *db;

static void
die_conn(const char *step)
{
	printf("FAIL %s: %u (%s) %s\n", step, mysql_errno(db), mysql_sqlstate(db), mysql_error(db));
	exit(1);
}

static void
die_stmt(MYSQL_STMT *st, const char *step)
{
	printf("FAIL %s: %u (%s) %s\n", step, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
	       mysql_stmt_error(st));
	exit(1);
}

/* Runs a text query; prints "affected N" or the column names and rows, '|'-separated. */
static void
text_query(const char *sql)
{
	printf("query: %s\n", sql);
	if (mysql_query(db, sql) != 0) {
		die_conn("mysql_query");
	}
	MYSQL_RES *res = mysql_store_result(db);
	if (res == NULL) {
		if (mysql_field_count(db) != 0) {
			die_conn("mysql_store_result");
		}
		printf("affected %llu insert_id %llu\n",
		       (unsigned long long)mysql_affected_rows(db),
		       (unsigned long long)mysql_insert_id(db));
		return;
	}
	unsigned int n = mysql_num_fields(res);
	MYSQL_FIELD *f = mysql_fetch_fields(res);
	printf("columns:");
	for (unsigned int i = 0; i < n; i++) {
		printf("%s%s", i ? "|" : " ", f[i].name);
	}
	printf("\n");
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)) != NULL) {
		unsigned long *len = mysql_fetch_lengths(res);
		printf("row:");
		for (unsigned int i = 0; i < n; i++) {
			printf("%s", i ? "|" : " ");
			if (row[i] == NULL) {
				printf("NULL");
			} else {
				fwrite(row[i], 1, len[i], stdout);
			}
		}
		printf("\n");
	}
	printf("rows %llu\n", (unsigned long long)mysql_num_rows(res));
	mysql_free_result(res);
}

/* Tries a text query that must fail; prints its error. */
static void
text_query_error(const char *sql)
{
	printf("query: %s\n", sql);
	if (mysql_query(db, sql) == 0) {
		printf("FAIL expected an error\n");
		exit(1);
	}
	printf("error %u (%s) %s\n", mysql_errno(db), mysql_sqlstate(db), mysql_error(db));
}

static MYSQL_STMT *
prepare(const char *sql)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	if (st == NULL) {
		die_conn("mysql_stmt_init");
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		die_stmt(st, "mysql_stmt_prepare");
	}
	printf("prepared: %s params %lu columns %u\n", sql, mysql_stmt_param_count(st),
	       mysql_stmt_field_count(st));
	return st;
}

struct item {
	int id;
	const char *name; /* NULL: bind NULL */
	double price;
	int price_null;
};

static void
stmt_insert(void)
{
	MYSQL_STMT *st = prepare("INSERT INTO cc_items (id, name, price) VALUES (?, ?, ?)");
	static const struct item items[] = {
		{ 1, "apple", 0.5, 0 },
		{ 2, "pear", 1.25, 0 },
		{ 3, NULL, 2.0, 0 },
		{ 4, "no price", 0.0, 1 },
		{ -5, "caf\xc3\xa9 \"quoted\" 'x'", -1e10, 0 },
	};
	int id;
	char name[64];
	unsigned long name_len;
	double price;
	my_bool name_null, price_null;
	MYSQL_BIND b[3];
	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_LONG;
	b[0].buffer = &id;
	b[1].buffer_type = MYSQL_TYPE_STRING;
	b[1].buffer = name;
	b[1].buffer_length = sizeof(name);
	b[1].length = &name_len;
	b[1].is_null = &name_null;
	b[2].buffer_type = MYSQL_TYPE_DOUBLE;
	b[2].buffer = &price;
	b[2].is_null = &price_null;
	if (mysql_stmt_bind_param(st, b) != 0) {
		die_stmt(st, "mysql_stmt_bind_param");
	}
	/* Binds once and executes five times: after the first, libmariadb no longer sends the
	 * parameter types (new_params_bound = 0). */
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		id = items[i].id;
		name_null = items[i].name == NULL;
		name_len = name_null ? 0 : strlen(items[i].name);
		if (!name_null) {
			memcpy(name, items[i].name, name_len);
		}
		price = items[i].price;
		price_null = (my_bool)items[i].price_null;
		if (mysql_stmt_execute(st) != 0) {
			die_stmt(st, "mysql_stmt_execute insert");
		}
		printf("insert id %d affected %llu\n", id,
		       (unsigned long long)mysql_stmt_affected_rows(st));
	}
	mysql_stmt_close(st);
}

static void
stmt_select(int min_id, int max_id)
{
	MYSQL_STMT *st = prepare(
		"SELECT id, name, price FROM cc_items WHERE id BETWEEN ? AND ? ORDER BY id");
	int lo = min_id, hi = max_id;
	MYSQL_BIND p[2];
	memset(p, 0, sizeof(p));
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &lo;
	p[1].buffer_type = MYSQL_TYPE_LONG;
	p[1].buffer = &hi;
	if (mysql_stmt_bind_param(st, p) != 0) {
		die_stmt(st, "mysql_stmt_bind_param select");
	}
	if (mysql_stmt_execute(st) != 0) {
		die_stmt(st, "mysql_stmt_execute select");
	}
	int id;
	char name[64];
	unsigned long name_len;
	double price;
	my_bool id_null, name_null, price_null;
	MYSQL_BIND r[3];
	memset(r, 0, sizeof(r));
	r[0].buffer_type = MYSQL_TYPE_LONG;
	r[0].buffer = &id;
	r[0].is_null = &id_null;
	r[1].buffer_type = MYSQL_TYPE_STRING;
	r[1].buffer = name;
	r[1].buffer_length = sizeof(name);
	r[1].length = &name_len;
	r[1].is_null = &name_null;
	r[2].buffer_type = MYSQL_TYPE_DOUBLE;
	r[2].buffer = &price;
	r[2].is_null = &price_null;
	if (mysql_stmt_bind_result(st, r) != 0) {
		die_stmt(st, "mysql_stmt_bind_result");
	}
	if (mysql_stmt_store_result(st) != 0) {
		die_stmt(st, "mysql_stmt_store_result");
	}
	printf("select %d..%d rows %llu\n", lo, hi, (unsigned long long)mysql_stmt_num_rows(st));
	int rc;
	while ((rc = mysql_stmt_fetch(st)) == 0) {
		printf("row: %d|", id);
		if (name_null) {
			printf("NULL");
		} else {
			fwrite(name, 1, name_len, stdout);
		}
		if (price_null) {
			printf("|NULL\n");
		} else {
			printf("|%.17g\n", price);
		}
	}
	if (rc != MYSQL_NO_DATA) {
		die_stmt(st, "mysql_stmt_fetch");
	}
	/* re-execute the same statement with other values */
	lo = 2;
	hi = 3;
	if (mysql_stmt_execute(st) != 0) {
		die_stmt(st, "mysql_stmt_execute select again");
	}
	if (mysql_stmt_store_result(st) != 0) {
		die_stmt(st, "mysql_stmt_store_result again");
	}
	while ((rc = mysql_stmt_fetch(st)) == 0) {
		printf("again: %d|%.*s\n", id, name_null ? 4 : (int)name_len,
		       name_null ? "NULL" : name);
	}
	if (rc != MYSQL_NO_DATA) {
		die_stmt(st, "mysql_stmt_fetch again");
	}
	mysql_stmt_close(st);
}

static void
stmt_error(void)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	const char *sql = "SELECT * FROM cc_no_such_table WHERE id = ?";
	if (st == NULL) {
		die_conn("mysql_stmt_init");
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) == 0) {
		printf("FAIL prepare of a missing table succeeded\n");
		exit(1);
	}
	printf("prepare error %u (%s) %s\n", mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
	       mysql_stmt_error(st));
	mysql_stmt_close(st);
}

int
main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DATABASE\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	db = mysql_init(NULL);
	if (db == NULL) {
		printf("FAIL mysql_init\n");
		return 1;
	}
	unsigned int timeout = 10;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	timeout = 60;
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(db, MYSQL_READ_DEFAULT_FILE, "/dev/null");
	if (mysql_real_connect(db, argv[1], argv[3], argv[4], argv[5], (unsigned int)atoi(argv[2]),
			       NULL, 0) == NULL) {
		die_conn("mysql_real_connect");
	}
	printf("connected\n");

	text_query("SELECT 1 AS one, 'two' AS two, NULL AS three, 4.5 AS four");
	text_query("SELECT DATABASE() AS db");
	text_query("DROP TABLE IF EXISTS cc_items");
	text_query(
		"CREATE TABLE cc_items (id INT PRIMARY KEY, name VARCHAR(64) NULL, price DOUBLE NULL)");
	stmt_insert();
	text_query("SELECT id, name, price FROM cc_items ORDER BY id");
	stmt_select(-10, 10);
	stmt_error();
	text_query_error("SELECT * FROM cc_no_such_table");
	text_query("SELECT COUNT(*) AS n, SUM(id) AS s FROM cc_items");
	if (mysql_ping(db) != 0) {
		die_conn("mysql_ping");
	}
	printf("ping ok\n");
	if (mysql_select_db(db, "information_schema") != 0) {
		die_conn("mysql_select_db");
	}
	text_query("SELECT DATABASE() AS db");
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP TABLE %s.cc_items", argv[5]);
	text_query(sql);
	mysql_close(db);
	printf("done\n");
	return 0;
}
