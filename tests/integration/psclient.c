/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/integration/psclient.c - runs statements through Connector/C's prepared-statement API
 * (COM_STMT_PREPARE / EXECUTE, binary protocol) and prints every result in a fixed text form,
 * so that a test can compare a sharded myshard against a plain server exactly.
 *
 * usage: psclient HOST PORT USER PASSWORD DATABASE < script
 * Script lines: SQL, then TAB-separated parameters: i:<int>, s:<string>, d:<double>, n (NULL).
 * Output per line: "cols: a|b" and "row: v|v" lines (NULL as \N), or "ok: affected N id M",
 * or "error: CODE". Exit status 1 only if the connection fails.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PS_MAX 16
#define PS_VAL 4096

static void
ps_bind_params(MYSQL_BIND *b, char *params, long long *ints, double *dbls, unsigned int *n)
{
	char *save = NULL;

	*n = 0;
	for (char *t = strtok_r(params, "\t", &save); t != NULL && *n < PS_MAX;
	     t = strtok_r(NULL, "\t", &save)) {
		MYSQL_BIND *p = &b[(*n)++];

		memset(p, 0, sizeof(*p));
		if (t[0] == 'i') {
			ints[*n - 1] = atoll(t + 2);
			p->buffer_type = MYSQL_TYPE_LONGLONG;
			p->buffer = &ints[*n - 1];
		} else if (t[0] == 'd') {
			dbls[*n - 1] = atof(t + 2);
			p->buffer_type = MYSQL_TYPE_DOUBLE;
			p->buffer = &dbls[*n - 1];
		} else if (t[0] == 's') {
			p->buffer_type = MYSQL_TYPE_STRING;
			p->buffer = t + 2;
			p->buffer_length = strlen(t + 2);
		} else {
			p->buffer_type = MYSQL_TYPE_NULL;
		}
	}
}

static void
ps_print_rows(MYSQL_STMT *st, MYSQL_RES *meta)
{
	unsigned int n = mysql_num_fields(meta);
	MYSQL_FIELD *f = mysql_fetch_fields(meta);
	static char vals[PS_MAX][PS_VAL];
	unsigned long lens[PS_MAX];
	my_bool nulls[PS_MAX];
	MYSQL_BIND b[PS_MAX];

	memset(b, 0, sizeof(b));
	printf("cols:");
	for (unsigned int i = 0; i < n && i < PS_MAX; i++) {
		printf("%s%s", i ? "|" : " ", f[i].name);
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer = vals[i];
		b[i].buffer_length = PS_VAL;
		b[i].length = &lens[i];
		b[i].is_null = &nulls[i];
	}
	printf("\n");
	if (mysql_stmt_bind_result(st, b) != 0 || mysql_stmt_store_result(st) != 0) {
		printf("error: %u\n", mysql_stmt_errno(st));
		return;
	}
	while (mysql_stmt_fetch(st) == 0) {
		printf("row:");
		for (unsigned int i = 0; i < n && i < PS_MAX; i++) {
			printf("%s", i ? "|" : " ");
			if (nulls[i]) {
				printf("\\N");
			} else {
				fwrite(vals[i], 1, lens[i] < PS_VAL ? lens[i] : PS_VAL, stdout);
			}
		}
		printf("\n");
	}
}

static void
ps_run(MYSQL *db, char *line)
{
	char *tab = strchr(line, '\t');
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND b[PS_MAX];
	long long ints[PS_MAX];
	double dbls[PS_MAX];
	unsigned int n = 0;
	MYSQL_RES *meta;

	if (tab != NULL) {
		*tab = '\0';
		ps_bind_params(b, tab + 1, ints, dbls, &n);
	}
	printf("stmt: %s\n", line);
	if (mysql_stmt_prepare(st, line, strlen(line)) != 0 ||
	    (n > 0 && mysql_stmt_bind_param(st, b) != 0) || mysql_stmt_execute(st) != 0) {
		printf("error: %u\n", mysql_stmt_errno(st));
		mysql_stmt_close(st);
		return;
	}
	meta = mysql_stmt_result_metadata(st);
	if (meta == NULL) {
		printf("ok: affected %llu id %llu\n", (unsigned long long)mysql_stmt_affected_rows(st),
		       (unsigned long long)mysql_stmt_insert_id(st));
	} else {
		ps_print_rows(st, meta);
		mysql_free_result(meta);
	}
	mysql_stmt_close(st);
}

int
main(int argc, char **argv)
{
	MYSQL *db = mysql_init(NULL);
	char line[8192];

	if (argc != 6 || db == NULL ||
	    mysql_real_connect(db, argv[1], argv[3], argv[4], argv[5], (unsigned int)atoi(argv[2]),
			       NULL, 0) == NULL) {
		fprintf(stderr, "psclient: cannot connect: %s\n", db != NULL ? mysql_error(db) : "");
		return 1;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0') {
			ps_run(db, line);
		}
	}
	mysql_close(db);
	return 0;
}
