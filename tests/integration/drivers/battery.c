/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/integration/drivers/battery.c - the driver battery for Connector/C (libmariadb): text
 * queries and prepared statements (every parameter type, long data, re-binding, reset, stored
 * and row-by-row results, cursors), a transaction over two shards, errors, COM_PING,
 * COM_RESET_CONNECTION, COM_CHANGE_USER, COM_SET_OPTION with multi-statements and session
 * tracking (CLIENT_SESSION_TRACK), over the sharded table customers and the global table
 * countries. Prints one normalized line per result; test_driver_cclient.py runs it against myshard and against a plain server and
 * compares the outputs line for line.
 *
 * usage: battery HOST PORT USER PASSWORD DB BASE_ID   (uses customers ids BASE..BASE+49)
 * Exit status 0 after "done", 1 when the connection cannot be made, 2 on bad usage.
 */
#include <mysql.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#define BT_NCOLS 7 /* columns of customers, in table order */
#define BT_SQL   2048

/* The run's connection and arguments. */
struct bt {
	MYSQL *m;         /* owned */
	const char *host; /* borrowed from argv, as are the others */
	unsigned int port;
	const char *user;
	const char *pass;
	const char *db;
	long long base; /* first customers id of this run */
	bool compress;  /* the compressed protocol (MYSQL_OPT_COMPRESS) */
};

/*
 * One customers row, bound as parameters or as result buffers: id, name, balance (DECIMAL
 * as a string), dt, bin, doc, n. len[] and null[] are indexed by column.
 */
struct bt_row {
	long long id;
	char name[128];
	char bal[32];
	MYSQL_TIME dt;
	unsigned char bin[64];
	char doc[128];
	int n;
	unsigned long len[BT_NCOLS];
	my_bool null[BT_NCOLS];
};

static const char ROW_COLS[] = "id, name, balance, dt, bin, doc, n";

/* ---- printing */

/* Prints <len> bytes of <v>: as they are when printable (UTF-8 passes), else as 0x<hex>. */
static void
bt_put(const void *v, unsigned long len)
{
	const unsigned char *p = v;
	unsigned long i;

	if (v == NULL) {
		fputs("NULL", stdout);
		return;
	}
	for (i = 0; i < len && p[i] >= 0x20 && p[i] != 0x7f; i++)
		;
	if (i == len) {
		fwrite(p, 1, len, stdout);
		return;
	}
	fputs("0x", stdout);
	for (i = 0; i < len; i++)
		printf("%02x", p[i]);
}

static void
bt_err(const char *label, MYSQL *m)
{
	printf("%s: error %u %s %s\n", label, mysql_errno(m), mysql_sqlstate(m), mysql_error(m));
}

static void
bt_stmt_err(const char *label, MYSQL_STMT *st)
{
	printf("%s: error %u %s %s\n", label, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
	       mysql_stmt_error(st));
}

/* The status flags of the last OK/EOF: in transaction, autocommit. */
static void
bt_status(MYSQL *m, const char *label)
{
	unsigned int st = 0;

	if (mariadb_get_infov(m, MARIADB_CONNECTION_SERVER_STATUS, &st) != 0) {
		printf("%s: status unavailable\n", label);
		return;
	}
	printf("%s: in_trans=%d autocommit=%d\n", label, (st & SERVER_STATUS_IN_TRANS) != 0,
	       (st & SERVER_STATUS_AUTOCOMMIT) != 0);
}

static void
bt_show_fields(const char *label, const MYSQL_FIELD *f, unsigned int n, int max_length)
{
	printf("%s:", label);
	for (unsigned int i = 0; i < n; i++) {
		printf(" [%s %s %s %s %s type=%d len=%lu dec=%u flags=%u cs=%u", f[i].name,
		       f[i].org_name, f[i].table, f[i].org_table, f[i].db, (int)f[i].type,
		       f[i].length, f[i].decimals, f[i].flags, f[i].charsetnr);
		if (max_length)
			printf(" max=%lu", f[i].max_length);
		putchar(']');
	}
	putchar('\n');
}

static MYSQL *
bt_connect(const struct bt *b)
{
	unsigned int connect_s = 10, io_s = 60;
	MYSQL *m = mysql_init(NULL);

	if (m == NULL)
		return NULL;
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_s);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
	if (b->compress)
		mysql_options(m, MYSQL_OPT_COMPRESS, NULL);
	if (mysql_real_connect(m, b->host, b->user, b->pass, b->db, b->port, NULL, 0) == NULL) {
		fprintf(stderr, "connect: %u %s\n", mysql_errno(m), mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* ---- text protocol */

static void
bt_show_ok(MYSQL *m, const char *label)
{
	const char *info = mysql_info(m);

	printf("%s: ok affected=%lld insert_id=%llu warnings=%u info=%s\n", label,
	       (long long)mysql_affected_rows(m), (unsigned long long)mysql_insert_id(m),
	       mysql_warning_count(m), info != NULL ? info : "-");
}

static void
bt_show_rows(const char *label, MYSQL_RES *res)
{
	unsigned int n = mysql_num_fields(res);
	MYSQL_ROW row;

	printf("%s:", label);
	while ((row = mysql_fetch_row(res)) != NULL) {
		unsigned long *len = mysql_fetch_lengths(res);

		fputs(" [", stdout);
		for (unsigned int i = 0; i < n; i++) {
			if (i > 0)
				putchar('|');
			bt_put(row[i], len[i]);
		}
		putchar(']');
	}
	printf(" rows=%llu\n", (unsigned long long)mysql_num_rows(res));
}

/*
 * Prints the connection's current result: its rows (read whole with <use> 0, row by row with
 * <use> 1) and, with <meta>, its column definitions; or the OK; or the error.
 */
static void
bt_result(MYSQL *m, const char *label, int use, int meta)
{
	char mlabel[128];
	MYSQL_RES *res = use ? mysql_use_result(m) : mysql_store_result(m);

	if (res == NULL) {
		if (mysql_field_count(m) != 0 || mysql_errno(m) != 0)
			bt_err(label, m);
		else
			bt_show_ok(m, label);
		return;
	}
	bt_show_rows(label, res);
	if (mysql_errno(m) != 0)
		bt_err(label, m);
	if (meta) {
		snprintf(mlabel, sizeof(mlabel), "%s meta", label);
		bt_show_fields(mlabel, mysql_fetch_fields(res), mysql_num_fields(res), !use);
	}
	mysql_free_result(res);
}

static void
bt_query(struct bt *b, const char *label, const char *sql)
{
	if (mysql_real_query(b->m, sql, strlen(sql)) != 0) {
		bt_err(label, b->m);
		return;
	}
	bt_result(b->m, label, 0, 0);
}

/* bt_query() with a formatted statement; <use>/<meta> as bt_result(). */
static void bt_queryf(struct bt *b, const char *label, int use, int meta, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
bt_queryf(struct bt *b, const char *label, int use, int meta, const char *fmt, ...)
{
	char sql[BT_SQL];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (mysql_real_query(b->m, sql, strlen(sql)) != 0) {
		bt_err(label, b->m);
		return;
	}
	bt_result(b->m, label, use, meta);
}

/* Runs a multi-statement <sql> and prints every result, numbered, and each next_result. */
static void
bt_multi(struct bt *b, const char *label, const char *sql)
{
	char rlabel[128];
	int rc = 0;

	if (mysql_real_query(b->m, sql, strlen(sql)) != 0) {
		bt_err(label, b->m);
		return;
	}
	for (int k = 1; rc == 0; k++) {
		snprintf(rlabel, sizeof(rlabel), "%s #%d", label, k);
		bt_result(b->m, rlabel, 0, 0);
		printf("%s: more=%d\n", rlabel, mysql_more_results(b->m));
		rc = mysql_next_result(b->m);
		if (rc > 0)
			bt_err(rlabel, b->m);
	}
	printf("%s: end %d\n", label, rc);
}

/* ---- text sections */

static void
bt_text_writes(struct bt *b)
{
	char hex[32], label[64];

	for (int i = 0; i < 3; i++) {
		unsigned char bin[5] = { 0, 0xff, (unsigned char)i, 0, '\'' };

		mysql_hex_string(hex, (const char *)bin, sizeof(bin));
		snprintf(label, sizeof(label), "text insert %lld", b->base + i);
		bt_queryf(b, label, 0, 0,
			  "INSERT INTO customers (%s) VALUES (%lld, 'text \xc3\xa9 \xe2\x9c\x93 "
			  "\xf0\x9f\x99\x82 \\'q\\' %d', %d.%02d, '2021-03-0%d 04:05:06.%06d', "
			  "X'%s', '{\"t\": [%d, null]}', %s)",
			  ROW_COLS, b->base + i, i, 100 * i - 50, i, i + 1, 10 * i + 7, hex, i,
			  i == 1 ? "NULL" : (i == 0 ? "0" : "2"));
	}
	bt_queryf(b, "text multi-row insert", 0, 0,
		  "INSERT INTO customers (%s) VALUES (%lld, 'm3', 3.03, '2021-04-01', '', '[]', "
		  "3), (%lld, 'm4', 4.04, '2021-04-02 00:00:00.5', X'00', '{}', 4), (%lld, "
		  "'m5', -5.05, NULL, NULL, NULL, 5)",
		  ROW_COLS, b->base + 3, b->base + 4, b->base + 5);
}

static void
bt_text_reads(struct bt *b)
{
	long long lo = b->base, hi = b->base + 5;

	bt_queryf(b, "text point", 0, 1, "SELECT %s FROM customers WHERE id = %lld", ROW_COLS,
		  b->base + 1);
	bt_queryf(b, "text scatter", 1, 1,
		  "SELECT id, name, balance, dt, HEX(bin), doc, n FROM customers "
		  "WHERE id BETWEEN %lld AND %lld ORDER BY id",
		  lo, hi);
	bt_queryf(b, "text order limit", 0, 0,
		  "SELECT id, balance FROM customers WHERE id BETWEEN %lld AND %lld "
		  "ORDER BY balance DESC LIMIT 2 OFFSET 1",
		  lo, hi);
	bt_queryf(b, "text aggregates", 0, 1,
		  "SELECT COUNT(*), SUM(balance), AVG(balance), MIN(dt), MAX(n), COUNT(DISTINCT n) "
		  "FROM customers WHERE id BETWEEN %lld AND %lld",
		  lo, hi);
}

static void
bt_text_counts(struct bt *b)
{
	long long k = b->base + 9;

	bt_queryf(b, "warning insert", 0, 0,
		  "INSERT INTO customers (id, name, balance) VALUES (%lld, 'warn', 1.239)",
		  b->base + 6);
	bt_query(b, "show warnings", "SHOW WARNINGS");
	bt_queryf(b, "insert id", 0, 0,
		  "INSERT INTO customers (id, name, n) VALUES (%lld, 'lii', LAST_INSERT_ID(77))",
		  b->base + 30);
	bt_query(b, "last_insert_id", "SELECT LAST_INSERT_ID()");
	for (int i = 0; i < 3; i++) {
		static const char *const labels[] = { "upsert new", "upsert update",
						      "upsert same" };

		bt_queryf(b, labels[i], 0, 0,
			  "INSERT INTO customers (id, name) VALUES (%lld, 'x') "
			  "ON DUPLICATE KEY UPDATE name = 'upserted'",
			  k);
	}
	bt_queryf(b, "replace", 0, 0, "REPLACE INTO customers (id, name) VALUES (%lld, 'rep')", k);
	bt_queryf(b, "scatter update", 0, 0,
		  "UPDATE customers SET n = n + 1 WHERE id BETWEEN %lld AND %lld", b->base,
		  b->base + 5);
	bt_queryf(b, "delete", 0, 0, "DELETE FROM customers WHERE id = %lld", k);
	bt_queryf(b, "scatter delete none", 0, 0,
		  "DELETE FROM customers WHERE id BETWEEN %lld AND %lld", b->base + 40,
		  b->base + 49);
}

static void
bt_text_errors(struct bt *b)
{
	bt_queryf(b, "duplicate", 0, 0, "INSERT INTO customers (id, name) VALUES (%lld, 'dup')",
		  b->base);
	bt_query(b, "syntax", "SELEC 1");
	bt_queryf(b, "unknown column", 0, 0, "SELECT nosuch FROM customers WHERE id = %lld",
		  b->base);
	bt_queryf(b, "too long", 0, 0, "INSERT INTO customers (id, name) VALUES (%lld, '%061d')",
		  b->base + 8, 0);
	bt_queryf(b, "bad integer", 0, 0, "UPDATE customers SET n = 'abc' WHERE id = %lld",
		  b->base);
	printf("ping: %d\n", mysql_ping(b->m));
}

/* Two rows on two shards (base on s0, base+1 on s3): rolled back, then committed. */
static void
bt_transaction(struct bt *b)
{
	long long x = b->base, y = b->base + 1;

	printf("autocommit off: %d\n", (int)mysql_autocommit(b->m, 0));
	bt_status(b->m, "autocommit off status");
	for (int commit = 0; commit < 2; commit++) {
		const char *end = commit ? "commit" : "rollback";
		char label[64];

		bt_queryf(b, "tx update 1", 0, 0,
			  "UPDATE customers SET balance = balance + 10 WHERE id = %lld", x);
		bt_status(b->m, "tx status");
		bt_queryf(b, "tx update 2", 0, 0,
			  "UPDATE customers SET balance = balance - 10 WHERE id = %lld", y);
		bt_queryf(b, "tx own writes", 0, 0,
			  "SELECT SUM(balance) FROM customers WHERE id BETWEEN %lld AND %lld", x,
			  b->base + 5);
		printf("%s: %d\n", end, (int)(commit ? mysql_commit(b->m) : mysql_rollback(b->m)));
		snprintf(label, sizeof(label), "after %s", end);
		bt_status(b->m, label);
		bt_queryf(b, label, 0, 0,
			  "SELECT id, balance FROM customers WHERE id IN (%lld, %lld) ORDER BY id",
			  x, y);
	}
	printf("autocommit on: %d\n", (int)mysql_autocommit(b->m, 1));
	bt_status(b->m, "autocommit on status");
}

/* ---- prepared statements */

static MYSQL_STMT *
bt_prepare(struct bt *b, const char *label, const char *sql)
{
	MYSQL_STMT *st = mysql_stmt_init(b->m);

	if (st == NULL) {
		bt_err(label, b->m);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		bt_stmt_err(label, st);
		mysql_stmt_close(st);
		return NULL;
	}
	printf("%s: params=%lu fields=%u\n", label, mysql_stmt_param_count(st),
	       mysql_stmt_field_count(st));
	return st;
}

static void
bt_stmt_exec(MYSQL_STMT *st, const char *label)
{
	if (mysql_stmt_execute(st) != 0) {
		bt_stmt_err(label, st);
		return;
	}
	printf("%s: ok affected=%lld insert_id=%llu warnings=%d\n", label,
	       (long long)mysql_stmt_affected_rows(st),
	       (unsigned long long)mysql_stmt_insert_id(st), mysql_stmt_warning_count(st));
}

static void
bt_bind_buf(MYSQL_BIND *p, enum enum_field_types type, void *buf, unsigned long cap,
	    unsigned long *len)
{
	p->buffer_type = type;
	p->buffer = buf;
	p->buffer_length = cap;
	p->length = len;
}

/* Binds the columns of <r> (parameters or results alike). */
static void
bt_bind_row(MYSQL_BIND *p, struct bt_row *r)
{
	memset(p, 0, sizeof(*p) * BT_NCOLS);
	bt_bind_buf(&p[0], MYSQL_TYPE_LONGLONG, &r->id, sizeof(r->id), NULL);
	bt_bind_buf(&p[1], MYSQL_TYPE_STRING, r->name, sizeof(r->name), &r->len[1]);
	bt_bind_buf(&p[2], MYSQL_TYPE_NEWDECIMAL, r->bal, sizeof(r->bal), &r->len[2]);
	bt_bind_buf(&p[3], MYSQL_TYPE_DATETIME, &r->dt, sizeof(r->dt), NULL);
	bt_bind_buf(&p[4], MYSQL_TYPE_BLOB, r->bin, sizeof(r->bin), &r->len[4]);
	bt_bind_buf(&p[5], MYSQL_TYPE_STRING, r->doc, sizeof(r->doc), &r->len[5]);
	bt_bind_buf(&p[6], MYSQL_TYPE_LONG, &r->n, sizeof(r->n), NULL);
	for (int i = 0; i < BT_NCOLS; i++)
		p[i].is_null = &r->null[i];
}

static void
bt_row_fill(struct bt_row *r, long long id, int i)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->len[1] = (unsigned long)snprintf(r->name, sizeof(r->name),
					    "prepared \xe2\x9c\x93 \xf0\x9f\x99\x82 %d", i);
	r->len[2] = (unsigned long)snprintf(r->bal, sizeof(r->bal), "%d.%02d", 4000 * i - 7, i);
	r->dt = (MYSQL_TIME){ .year = 2025,
			      .month = 1,
			      .day = 31,
			      .hour = 23,
			      .minute = 59,
			      .second = 58,
			      .second_part = 999990 + (unsigned long)i,
			      .time_type = MYSQL_TIMESTAMP_DATETIME };
	memcpy(r->bin, "\0\x01\0\xfe", 4);
	r->bin[4] = (unsigned char)i;
	r->len[4] = 5;
	r->len[5] = (unsigned long)snprintf(r->doc, sizeof(r->doc), "{\"ps\": [%d, \"x\"]}", i);
	r->n = 11 * i;
	r->null[6] = (i == 2);
}

static unsigned long
bt_clamp(unsigned long len, unsigned long cap)
{
	return len < cap ? len : cap;
}

/* Prints a fetched row; <rc> is mysql_stmt_fetch()'s (MYSQL_DATA_TRUNCATED is shown). */
static void
bt_show_row(const char *label, const struct bt_row *r, int rc)
{
	const MYSQL_TIME *t = &r->dt;

	printf("%s: ", label);
	if (r->null[0])
		fputs("NULL", stdout);
	else
		printf("%lld", r->id);
	putchar('|');
	bt_put(r->null[1] ? NULL : r->name, bt_clamp(r->len[1], sizeof(r->name)));
	putchar('|');
	bt_put(r->null[2] ? NULL : r->bal, bt_clamp(r->len[2], sizeof(r->bal)));
	if (r->null[3])
		fputs("|NULL", stdout);
	else
		printf("|%04u-%02u-%02u %02u:%02u:%02u.%06lu/%d", t->year, t->month, t->day,
		       t->hour, t->minute, t->second, t->second_part, (int)t->time_type);
	putchar('|');
	bt_put(r->null[4] ? NULL : r->bin, bt_clamp(r->len[4], sizeof(r->bin)));
	putchar('|');
	bt_put(r->null[5] ? NULL : r->doc, bt_clamp(r->len[5], sizeof(r->doc)));
	if (r->null[6])
		fputs("|NULL", stdout);
	else
		printf("|%d", r->n);
	printf(rc == MYSQL_DATA_TRUNCATED ? " (truncated)\n" : "\n");
}

/* Fetches every row of <st> (bound to <r>) and prints them, then the final return code. */
static void
bt_fetch_all(MYSQL_STMT *st, const char *label, struct bt_row *r)
{
	int rc;

	while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED)
		bt_show_row(label, r, rc);
	if (rc == 1)
		bt_stmt_err(label, st);
	else
		printf("%s: end %d\n", label, rc);
}

static void
bt_show_stmt_meta(MYSQL_STMT *st, const char *label, int max_length)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);

	if (meta == NULL) {
		printf("%s: no metadata (%u)\n", label, mysql_stmt_errno(st));
		return;
	}
	bt_show_fields(label, mysql_fetch_fields(meta), mysql_num_fields(meta), max_length);
	mysql_free_result(meta);
}

/* Long data in chunks: the BLOB with zero bytes, and the name split inside a character. */
static void
bt_ps_long_data(MYSQL_STMT *st, struct bt_row *r, long long id)
{
	static const char *const chunks[] = { "\0\x01", "chunk\0", "\xff" };
	static const unsigned long lens[] = { 2, 6, 1 };
	int rc = 0;

	bt_row_fill(r, id, 3);
	for (int i = 0; i < 3; i++)
		rc |= mysql_stmt_send_long_data(st, 4, chunks[i], lens[i]);
	rc |= mysql_stmt_send_long_data(st, 1, "long \xe2\x9c", 7);
	rc |= mysql_stmt_send_long_data(st, 1, "\x93 data", 6);
	printf("send_long_data: %d\n", rc);
	bt_stmt_exec(st, "ps insert long data");
	/* Long data goes with one execution only: the next one sends the bound buffers. */
	bt_row_fill(r, id + 1, 4);
	rc = mysql_stmt_send_long_data(st, 4, "discarded", 9);
	printf("send_long_data then reset: %d %d\n", rc, (int)mysql_stmt_reset(st));
	bt_stmt_exec(st, "ps insert after reset");
	bt_row_fill(r, id + 2, 5);
	snprintf(r->bal, sizeof(r->bal), "1.005");
	r->len[2] = 5;
	bt_stmt_exec(st, "ps insert rounded");
}

/* Binds other types to the same statement: id, dt and doc as strings, balance as DOUBLE, bin
 * as NULL, n as TINY; then new values without binding again; then a duplicate id. */
static void
bt_ps_rebind(struct bt *b, MYSQL_STMT *st)
{
	char id[24], name[] = "rebound", dt[] = "2020-02-29 12:34:56.5", doc[] = "[1, 2.5, \"z\"]";
	unsigned long idlen = 0, namelen = strlen(name), dtlen = strlen(dt), doclen = strlen(doc);
	double bal = 12.5;
	signed char tiny = -7;
	MYSQL_BIND p[BT_NCOLS];

	memset(p, 0, sizeof(p));
	bt_bind_buf(&p[0], MYSQL_TYPE_STRING, id, sizeof(id), &idlen);
	bt_bind_buf(&p[1], MYSQL_TYPE_STRING, name, sizeof(name), &namelen);
	bt_bind_buf(&p[2], MYSQL_TYPE_DOUBLE, &bal, sizeof(bal), NULL);
	bt_bind_buf(&p[3], MYSQL_TYPE_STRING, dt, sizeof(dt), &dtlen);
	p[4].buffer_type = MYSQL_TYPE_NULL;
	bt_bind_buf(&p[5], MYSQL_TYPE_STRING, doc, sizeof(doc), &doclen);
	bt_bind_buf(&p[6], MYSQL_TYPE_TINY, &tiny, 1, NULL);
	printf("rebind: %d\n", (int)mysql_stmt_bind_param(st, p));
	idlen = (unsigned long)snprintf(id, sizeof(id), "%lld", b->base + 16);
	bt_stmt_exec(st, "ps insert rebound");
	idlen = (unsigned long)snprintf(id, sizeof(id), "%lld", b->base + 17);
	bal = 1234.5678;
	tiny = 127;
	bt_stmt_exec(st, "ps insert rebound again");
	idlen = (unsigned long)snprintf(id, sizeof(id), "%lld", b->base);
	bt_stmt_exec(st, "ps duplicate");
}

static void
bt_ps_insert(struct bt *b)
{
	char sql[256], label[64];
	struct bt_row r;
	MYSQL_BIND p[BT_NCOLS];
	MYSQL_STMT *st;

	snprintf(sql, sizeof(sql), "INSERT INTO customers (%s) VALUES (?, ?, ?, ?, ?, ?, ?)",
		 ROW_COLS);
	if ((st = bt_prepare(b, "ps insert prepare", sql)) == NULL)
		return;
	bt_bind_row(p, &r);
	printf("bind: %d\n", (int)mysql_stmt_bind_param(st, p));
	for (int i = 0; i < 3; i++) {
		bt_row_fill(&r, b->base + 10 + i, i);
		snprintf(label, sizeof(label), "ps insert %lld", r.id);
		bt_stmt_exec(st, label);
	}
	bt_ps_long_data(st, &r, b->base + 13);
	bt_ps_rebind(b, st);
	mysql_stmt_close(st);
}

/* Binds every column of the result as a string, fetches row by row and prints one line. */
static void
bt_fetch_strings(MYSQL_STMT *st, const char *label)
{
	char v[BT_NCOLS][128];
	unsigned long len[BT_NCOLS];
	my_bool null[BT_NCOLS];
	MYSQL_BIND res[BT_NCOLS];
	unsigned int n = mysql_stmt_field_count(st);
	int rc;

	memset(res, 0, sizeof(res));
	for (unsigned int i = 0; i < n && i < BT_NCOLS; i++) {
		bt_bind_buf(&res[i], MYSQL_TYPE_STRING, v[i], sizeof(v[i]), &len[i]);
		res[i].is_null = &null[i];
	}
	if (n > BT_NCOLS || mysql_stmt_bind_result(st, res) != 0) {
		bt_stmt_err(label, st);
		return;
	}
	printf("%s:", label);
	while ((rc = mysql_stmt_fetch(st)) == 0) {
		fputs(" [", stdout);
		for (unsigned int i = 0; i < n; i++) {
			if (i > 0)
				putchar('|');
			bt_put(null[i] ? NULL : v[i], bt_clamp(len[i], sizeof(v[i])));
		}
		putchar(']');
	}
	printf(" end=%d\n", rc);
	if (rc == 1)
		bt_stmt_err(label, st);
}

static void
bt_exec_keys(MYSQL_STMT *st, const char *label, long long *keys)
{
	MYSQL_BIND p[2];

	memset(p, 0, sizeof(p));
	bt_bind_buf(&p[0], MYSQL_TYPE_LONGLONG, &keys[0], sizeof(keys[0]), NULL);
	bt_bind_buf(&p[1], MYSQL_TYPE_LONGLONG, &keys[1], sizeof(keys[1]), NULL);
	if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0)
		bt_stmt_err(label, st);
}

static void
bt_ps_point(struct bt *b)
{
	static const int offs[] = { 0, 1, 12, 13, 14, 15, 16, 17, 99 };
	char sql[256], label[64];
	long long keys[2] = { 0, 0 };
	struct bt_row r;
	MYSQL_BIND res[BT_NCOLS];
	MYSQL_STMT *st;
	my_bool one = 1;

	snprintf(sql, sizeof(sql), "SELECT %s FROM customers WHERE id = ?", ROW_COLS);
	if ((st = bt_prepare(b, "ps point prepare", sql)) == NULL)
		return;
	bt_show_stmt_meta(st, "ps point meta", 0);
	bt_bind_row(res, &r);
	printf("bind result: %d\n", (int)mysql_stmt_bind_result(st, res));
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		keys[0] = b->base + offs[i];
		snprintf(label, sizeof(label), "ps point %lld", keys[0]);
		bt_exec_keys(st, label, keys);
		bt_fetch_all(st, label, &r);
	}
	printf("update_max_length: %d\n",
	       (int)mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &one));
	keys[0] = b->base + 13;
	bt_exec_keys(st, "ps point stored", keys);
	if (mysql_stmt_store_result(st) != 0) {
		bt_stmt_err("ps point stored", st);
	} else {
		printf("ps point stored: rows=%llu\n", (unsigned long long)mysql_stmt_num_rows(st));
		bt_show_stmt_meta(st, "ps point stored meta", 1);
		bt_fetch_all(st, "ps point stored", &r);
	}
	mysql_stmt_close(st);
}

static void
bt_ps_scatter(struct bt *b)
{
	char sql[256];
	long long keys[2] = { b->base, b->base + 29 };
	struct bt_row r;
	MYSQL_BIND res[BT_NCOLS];
	MYSQL_STMT *st;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT %s FROM customers WHERE id BETWEEN ? AND ? ORDER BY id",
		 ROW_COLS);
	if ((st = bt_prepare(b, "ps scatter prepare", sql)) == NULL)
		return;
	bt_bind_row(res, &r);
	printf("bind result: %d\n", (int)mysql_stmt_bind_result(st, res));
	bt_exec_keys(st, "ps scatter", keys);
	bt_fetch_all(st, "ps scatter", &r);
	/* A reset while rows are still coming: the rest is discarded. */
	bt_exec_keys(st, "ps scatter partly", keys);
	for (int i = 0; i < 2; i++)
		bt_show_row("ps scatter partly", &r, mysql_stmt_fetch(st));
	printf("stmt_reset: %d\n", (int)mysql_stmt_reset(st));
	rc = mysql_stmt_fetch(st);
	printf("fetch after reset: %d %u\n", rc, mysql_stmt_errno(st));
	keys[0] = b->base + 10;
	keys[1] = b->base + 17;
	bt_exec_keys(st, "ps scatter stored", keys);
	rc = mysql_stmt_store_result(st);
	printf("store_result: %d rows=%llu\n", rc, (unsigned long long)mysql_stmt_num_rows(st));
	mysql_stmt_data_seek(st, 5);
	bt_fetch_all(st, "ps scatter from row 5", &r);
	printf("free_result: %d\n", (int)mysql_stmt_free_result(st));
	mysql_stmt_close(st);
}

static void
bt_ps_aggregates(struct bt *b)
{
	long long keys[2] = { b->base, b->base + 17 };
	MYSQL_STMT *st;

	st = bt_prepare(b, "ps aggregates prepare",
			"SELECT COUNT(*), SUM(balance), AVG(balance), MIN(dt), MAX(n), "
			"COUNT(DISTINCT n) FROM customers WHERE id BETWEEN ? AND ?");
	if (st == NULL)
		return;
	bt_exec_keys(st, "ps aggregates", keys);
	bt_show_stmt_meta(st, "ps aggregates meta", 0);
	bt_fetch_strings(st, "ps aggregates");
	mysql_stmt_close(st);
}

/* A scatter UPDATE, executed twice: the second changes nothing. */
static void
bt_ps_update(struct bt *b)
{
	long long v[3] = { 42, b->base + 10, b->base + 17 };
	MYSQL_BIND p[3];
	MYSQL_STMT *st;

	st = bt_prepare(b, "ps scatter update prepare",
			"UPDATE customers SET n = ? WHERE id BETWEEN ? AND ?");
	if (st == NULL)
		return;
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 3; i++)
		bt_bind_buf(&p[i], MYSQL_TYPE_LONGLONG, &v[i], sizeof(v[i]), NULL);
	printf("bind: %d\n", (int)mysql_stmt_bind_param(st, p));
	bt_stmt_exec(st, "ps scatter update");
	bt_stmt_exec(st, "ps scatter update again");
	mysql_stmt_close(st);
}

static void
bt_ps_global(struct bt *b)
{
	char code[] = "Q1", name[] = "Qu\xc3\xa1tro \xe2\x9c\x93";
	unsigned long codelen = 2, namelen = strlen(name);
	MYSQL_BIND p[2];
	MYSQL_STMT *st;

	memset(p, 0, sizeof(p));
	bt_bind_buf(&p[0], MYSQL_TYPE_STRING, code, sizeof(code), &codelen);
	bt_bind_buf(&p[1], MYSQL_TYPE_STRING, name, sizeof(name), &namelen);
	st = bt_prepare(b, "ps global insert prepare",
			"INSERT INTO countries (code, name) VALUES (?, ?)");
	if (st == NULL)
		return;
	printf("bind: %d\n", (int)mysql_stmt_bind_param(st, p));
	bt_stmt_exec(st, "ps global insert");
	bt_stmt_exec(st, "ps global duplicate");
	mysql_stmt_close(st);
	st = bt_prepare(b, "ps global select prepare",
			"SELECT code, name FROM countries WHERE code = ?");
	if (st == NULL)
		return;
	if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0)
		bt_stmt_err("ps global select", st);
	bt_fetch_strings(st, "ps global select");
	mysql_stmt_close(st);
}

/*
 * A read-only cursor fetching 2 rows at a time, on a connection of its own. With a cursor open
 * on the server, the connection is free between fetches: a text query runs after the first
 * row. The connection is closed before the statement: when a server answers with the whole
 * result instead of a cursor, Connector/C 3.3 fails with 2014 and loses track of the rows, and
 * mysql_stmt_close() on that connection then never returns.
 */
static void
bt_cursor(struct bt *b, const char *label, const char *where, long long lo, long long hi)
{
	char sql[256];
	unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = 2;
	long long keys[2] = { lo, hi };
	unsigned int status = 0;
	MYSQL_BIND res[BT_NCOLS];
	struct bt_row r;
	struct bt c = *b;
	MYSQL_STMT *st;
	int rc, rows = 0;

	if ((c.m = bt_connect(&c)) == NULL || (st = mysql_stmt_init(c.m)) == NULL) {
		printf("%s: no connection\n", label);
		return;
	}
	printf("%s attrs: %d %d\n", label,
	       (int)mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &type),
	       (int)mysql_stmt_attr_set(st, STMT_ATTR_PREFETCH_ROWS, &prefetch));
	snprintf(sql, sizeof(sql), "SELECT %s FROM customers WHERE %s ORDER BY id", ROW_COLS,
		 where);
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0)
		bt_stmt_err(label, st);
	bt_bind_row(res, &r);
	mysql_stmt_bind_result(st, res);
	bt_exec_keys(st, label, keys);
	mariadb_get_infov(c.m, MARIADB_CONNECTION_SERVER_STATUS, &status);
	printf("%s: cursor_exists=%d status_cursor=%d\n", label, (int)st->cursor_exists,
	       (status & SERVER_STATUS_CURSOR_EXISTS) != 0);
	while ((rc = mysql_stmt_fetch(st)) == 0) {
		bt_show_row(label, &r, rc);
		if (rows++ == 0)
			bt_query(&c, "query while cursor open", "SELECT 'interleaved'");
	}
	if (rc == 1)
		bt_stmt_err(label, st);
	else
		printf("%s: end %d\n", label, rc);
	mysql_close(c.m);
	mysql_stmt_close(st);
}

/*
 * Gives a fresh handle the id of a statement the server should have forgotten, so that
 * COM_STMT_EXECUTE carries it: Connector/C has no call for that, but MYSQL_STMT is public.
 * The message names the id, which is the server's own: only code and SQLSTATE are printed.
 */
static void
bt_stale_execute(struct bt *b, const char *label, unsigned long stmt_id)
{
	MYSQL_STMT *st = mysql_stmt_init(b->m);

	st->stmt_id = stmt_id;
	st->state = MYSQL_STMT_PREPARED;
	if (mysql_stmt_execute(st) == 0)
		printf("%s: executed\n", label);
	else
		printf("%s: error %u %s\n", label, mysql_stmt_errno(st), mysql_stmt_sqlstate(st));
	st->state = MYSQL_STMT_INITTED; /* no COM_STMT_CLOSE for an id that was not ours */
	mysql_stmt_close(st);
}

static MYSQL_STMT *
bt_name_stmt(struct bt *b, const char *label, long long *key)
{
	MYSQL_BIND p[1];
	MYSQL_STMT *st = bt_prepare(b, label, "SELECT name, n FROM customers WHERE id = ?");

	if (st == NULL)
		return NULL;
	memset(p, 0, sizeof(p));
	bt_bind_buf(&p[0], MYSQL_TYPE_LONGLONG, key, sizeof(*key), NULL);
	if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0)
		bt_stmt_err(label, st);
	bt_fetch_strings(st, label);
	return st;
}

/* COM_RESET_CONNECTION: session variables, the transaction and prepared statements go. */
static void
bt_reset_connection(struct bt *b)
{
	long long key = b->base;
	MYSQL_STMT *st = bt_name_stmt(b, "reset stmt", &key);
	unsigned long id = st != NULL ? st->stmt_id : 0;
	int rc;

	bt_query(b, "reset set", "SET SESSION div_precision_increment = 7");
	bt_query(b, "reset set user var", "SET @bt_v = 42");
	bt_query(b, "reset begin", "START TRANSACTION");
	bt_queryf(b, "reset tx update", 0, 0, "UPDATE customers SET n = 999 WHERE id = %lld", key);
	bt_query(b, "reset before", "SELECT @@div_precision_increment, 1/3, @bt_v");
	bt_status(b->m, "reset before status");
	printf("reset_connection: %d\n", mysql_reset_connection(b->m));
	bt_query(b, "reset after", "SELECT @@div_precision_increment, 1/3, @bt_v");
	bt_status(b->m, "reset after status");
	bt_queryf(b, "reset rolled back", 0, 0, "SELECT n FROM customers WHERE id = %lld", key);
	if (st != NULL) {
		rc = mysql_stmt_execute(st);
		printf("reset old handle: %d %u\n", rc, mysql_stmt_errno(st));
		mysql_stmt_close(st);
	}
	bt_stale_execute(b, "reset stale id", id);
	bt_queryf(b, "reset then scatter", 0, 0,
		  "SELECT COUNT(*), SUM(n) FROM customers WHERE id BETWEEN %lld AND %lld", b->base,
		  b->base + 29);
}

/* COM_CHANGE_USER: the same, plus the new default schema; then COM_INIT_DB. */
static void
bt_change_user(struct bt *b)
{
	long long key = b->base;
	MYSQL_STMT *st = bt_name_stmt(b, "change_user stmt", &key);
	unsigned long id = st != NULL ? st->stmt_id : 0;

	bt_query(b, "change_user set", "SET SESSION div_precision_increment = 9");
	bt_query(b, "change_user begin", "START TRANSACTION");
	bt_queryf(b, "change_user tx update", 0, 0, "UPDATE customers SET n = 555 WHERE id = %lld",
		  key);
	printf("change_user: %d\n",
	       (int)mysql_change_user(b->m, b->user, b->pass, "information_schema"));
	bt_status(b->m, "change_user status");
	bt_query(b, "change_user after", "SELECT DATABASE(), @@div_precision_increment, 1/3");
	if (st != NULL)
		mysql_stmt_close(st);
	bt_stale_execute(b, "change_user stale id", id);
	printf("select_db: %d\n", mysql_select_db(b->m, b->db));
	bt_query(b, "select_db after", "SELECT DATABASE()");
	bt_queryf(b, "change_user rolled back", 0, 0, "SELECT n FROM customers WHERE id = %lld",
		  key);
	bt_queryf(b, "change_user then scatter", 0, 0,
		  "SELECT COUNT(*) FROM customers WHERE id BETWEEN %lld AND %lld", b->base,
		  b->base + 29);
	if (mysql_select_db(b->m, "bt_no_such_db") != 0)
		bt_err("select_db unknown", b->m);
	bt_query(b, "select_db unknown after", "SELECT DATABASE()");
}

/* COM_SET_OPTION: multi-statements on the global table, on and off. */
static void
bt_multi_statements(struct bt *b)
{
	printf("multi on: %d\n", mysql_set_server_option(b->m, MYSQL_OPTION_MULTI_STATEMENTS_ON));
	bt_multi(b, "multi read",
		 "SELECT code, name FROM countries WHERE code = 'Q1'; "
		 "SELECT COUNT(*) FROM countries WHERE code LIKE 'Q%'");
	bt_multi(b, "multi",
		 "INSERT INTO countries (code, name) VALUES ('Q2', 'Qu two'), ('Q3', 'Qu three'); "
		 "SELECT code, name FROM countries WHERE code IN ('Q2', 'Q3') ORDER BY code; "
		 "UPDATE countries SET name = 'Qu 3' WHERE code = 'Q3'; "
		 "SELECT code, name FROM countries WHERE code LIKE 'Q%' ORDER BY code");
	bt_multi(b, "multi error",
		 "SELECT name FROM countries WHERE code = 'Q1'; SELEC 2; SELECT 3");
	bt_query(b, "after multi error", "SELECT code, name FROM countries WHERE code = 'Q1'");
	printf("multi off: %d\n", mysql_set_server_option(b->m, MYSQL_OPTION_MULTI_STATEMENTS_OFF));
	bt_query(b, "multi while off", "SELECT 1; SELECT 2");
	bt_queryf(b, "after multi scatter", 0, 0,
		  "SELECT COUNT(*) FROM customers WHERE id BETWEEN %lld AND %lld", b->base,
		  b->base + 29);
}

static int
bt_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The session-state changes the last OK reported (CLIENT_SESSION_TRACK), by type. A server
 * lists changed variables in no fixed order (its own hash order): they print sorted by name.
 */
static void
bt_track(MYSQL *m, const char *label)
{
	unsigned int st = 0;
	const char *d, *v;
	size_t l, vl;

	if (mariadb_get_infov(m, MARIADB_CONNECTION_SERVER_STATUS, &st) != 0)
		st = 0xffff;
	printf("%s: in_trans=%d autocommit=%d changed=%d", label, (st & SERVER_STATUS_IN_TRANS) != 0,
	       (st & SERVER_STATUS_AUTOCOMMIT) != 0, (st & SERVER_SESSION_STATE_CHANGED) != 0);
	for (int t = SESSION_TRACK_BEGIN; t <= SESSION_TRACK_END; t++) {
		enum enum_session_state_type type = (enum enum_session_state_type)t;
		char *vars[32];
		size_t n = 0;

		if (mysql_session_track_get_first(m, type, &d, &l) != 0)
			continue;
		do {
			if (t != SESSION_TRACK_SYSTEM_VARIABLES) {
				printf(" [%d:%.*s]", t, (int)l, d);
				continue;
			}
			/* name, then its value */
			if (mysql_session_track_get_next(m, type, &v, &vl) != 0)
				vl = 0, v = "";
			if (n < 32 && (vars[n] = malloc(l + vl + 2)) != NULL)
				snprintf(vars[n++], l + vl + 2, "%.*s=%.*s", (int)l, d, (int)vl, v);
		} while (mysql_session_track_get_next(m, type, &d, &l) == 0);
		qsort(vars, n, sizeof(vars[0]), bt_strcmp);
		for (size_t i = 0; i < n; i++) {
			printf(" [%s]", vars[i]);
			free(vars[i]);
		}
	}
	putchar('\n');
}

static void
bt_track_query(struct bt *b, const char *sql)
{
	if (mysql_query(b->m, sql) != 0) {
		bt_err(sql, b->m);
		return;
	}
	bt_track(b->m, sql);
}

/*
 * Session tracking: what the client is told of schema, variable and state changes, with the
 * server's default settings and after it sets session_track_* itself (then reset again).
 */
static void
bt_session_track(struct bt *b)
{
	char use[BT_SQL], sql[BT_SQL];

	bt_track_query(b, "SET NAMES latin1");
	bt_track_query(b, "SET NAMES utf8mb4");
	bt_track_query(b, "SET time_zone = '+01:00'");
	bt_track_query(b, "SET sql_mode = 'STRICT_TRANS_TABLES'");
	printf("autocommit off: %d\n", mysql_autocommit(b->m, 0));
	bt_track(b->m, "autocommit off");
	bt_track_query(b, "SET time_zone = '+02:00'");
	bt_track_query(b, "SET @bt_var = 1");
	printf("autocommit on: %d\n", mysql_autocommit(b->m, 1));
	bt_track(b->m, "autocommit on");
	snprintf(use, sizeof(use), "USE %s", b->db);
	bt_track_query(b, use);
	printf("select_db: %d\n", mysql_select_db(b->m, b->db));
	bt_track(b->m, "select_db");
	snprintf(sql, sizeof(sql), "UPDATE customers SET n = n + 1 WHERE id = %lld", b->base);
	bt_track_query(b, sql);
	bt_track_query(b, "SET session_track_state_change = ON");
	bt_track_query(b, "SET time_zone = DEFAULT");
	bt_track_query(b, "SET session_track_system_variables = 'sql_mode,time_zone'");
	bt_track_query(b, "SET sql_mode = DEFAULT, time_zone = '+03:00'");
	bt_track_query(b, "SET NAMES latin1");
	bt_track_query(b, "SET session_track_schema = OFF");
	bt_track_query(b, use);
	printf("reset: %d\n", mysql_reset_connection(b->m));
	bt_track_query(b, "SET time_zone = '+04:00', sql_mode = DEFAULT");
	bt_track_query(b, "SET NAMES utf8mb4");
}

int
main(int argc, char **argv)
{
	struct bt b;

	if (argc != 7 && !(argc == 8 && strcmp(argv[7], "compress") == 0)) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB BASE_ID [compress]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	b = (struct bt){ .host = argv[1],
			 .port = (unsigned int)atoi(argv[2]),
			 .user = argv[3],
			 .pass = argv[4],
			 .db = argv[5],
			 .base = atoll(argv[6]),
			 .compress = argc == 8 };
	if ((b.m = bt_connect(&b)) == NULL)
		return 1;
	printf("connected\n");
	bt_track(b.m, "connect");
	bt_text_writes(&b);
	bt_text_reads(&b);
	bt_text_counts(&b);
	bt_text_errors(&b);
	bt_transaction(&b);
	bt_ps_insert(&b);
	bt_ps_point(&b);
	bt_ps_scatter(&b);
	bt_ps_aggregates(&b);
	bt_ps_update(&b);
	bt_ps_global(&b);
	bt_cursor(&b, "cursor point", "id = ?", b.base + 1, 0);
	bt_cursor(&b, "cursor scatter", "id BETWEEN ? AND ?", b.base, b.base + 5);
	bt_reset_connection(&b);
	bt_change_user(&b);
	bt_multi_statements(&b);
	bt_session_track(&b);
	printf("ping: %d\n", mysql_ping(b.m));
	mysql_close(b.m);
	printf("done\n");
	return 0;
}
