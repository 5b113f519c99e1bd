# SPDX-License-Identifier: Apache-2.0
"""The mariadb command-line client (libmariadb) through the proxy; exact stdout."""

import subprocess

import harness as H


def cli(target, *args, user=H.APP_USER, password=H.APP_PASSWORD, database=H.TEST_DB, stdin=None):
    argv = ["mariadb", "--no-defaults", "--protocol=tcp", f"-h{target.host}", f"-P{target.port}",
            f"-u{user}", "--connect-timeout=10"]
    if password:
        argv.append(f"-p{password}")
    argv += list(args)
    if database:
        argv.append(database)
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_batch_select(target):
    r = cli(target, "--batch", "-e",
            "select 1 as a, 'x y' as b, NULL as c, 2.50 as d, DATABASE() as db")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == f"a\tb\tc\td\tdb\n1\tx y\tNULL\t2.50\t{H.TEST_DB}\n"


def test_cli_semicolon_separated(target):
    # The CLI splits -e text on ';' itself and sends each statement as its own COM_QUERY.
    r = cli(target, "--batch", "-e", "select 1; select 2")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == "1\n1\n2\n2\n"


def test_cli_multi_statement_one_packet(target):
    # With another delimiter, "select 1; select 2" goes out as one COM_QUERY: a real
    # multi-statement, which the CLI allows (CLIENT_MULTI_STATEMENTS); two result sets.
    r = cli(target, "--batch", "-e", "delimiter //\nselect 1 as a; select 'two' as b//")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == "a\n1\nb\ntwo\n"


def test_cli_table_output_and_rows(target):
    r = cli(target, "--batch", "-e",
            "drop table if exists cli_t; create table cli_t (id int primary key, s varchar(8)); "
            "insert into cli_t values (2,'b'),(1,'a'),(3,NULL); "
            "select * from cli_t order by id; drop table cli_t")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == "id\ts\n1\ta\n2\tb\n3\tNULL\n"

    r = cli(target, "--table", "-e", "select 1 as one, 'abc' as txt")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == ("+-----+-----+\n"
                        "| one | txt |\n"
                        "+-----+-----+\n"
                        "|   1 | abc |\n"
                        "+-----+-----+\n")


def test_cli_script_on_stdin(target):
    r = cli(target, "--batch", "--skip-column-names",
            stdin="select 10;\nuse " + H.TEST_DB2 + ";\nselect database();\nselect 'end';\n")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == f"10\n{H.TEST_DB2}\nend\n"


def test_cli_error(target):
    r = cli(target, "--batch", "-e", "select 1; select * from no_such_table_cli; select 3")
    assert r.returncode == 1
    assert r.stdout == "1\n1\n"
    # in batch mode the CLI echoes the failing statement between dashes before the error
    assert r.stderr == ("--------------\nselect * from no_such_table_cli\n--------------\n\n"
                        f"ERROR 1146 (42S02) at line 1: Table '{H.TEST_DB}.no_such_table_cli' "
                        "doesn't exist\n")


def test_cli_access_denied(target):
    r = cli(target, "--batch", "-e", "select 1", password="bad")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("ERROR 1045 (28000): Access denied for user 'app'@")


def test_cli_no_password_user(target):
    r = cli(target, "--batch", "--skip-column-names", "-e", "select 5", user=H.NOPW_USER,
            password=None)
    assert (r.returncode, r.stderr, r.stdout) == (0, "", "5\n")
