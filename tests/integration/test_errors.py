# SPDX-License-Identifier: Apache-2.0
"""Server errors reach the client with the server's code, SQLSTATE and message, and the
session goes on working after each."""

import pymysql
import pytest

import harness as H

# (statement, error class, code, SQLSTATE, message)
CASES = [
    ("SELECT * FROM no_such_table_e", pymysql.err.ProgrammingError, 1146, "42S02",
     f"Table '{H.TEST_DB}.no_such_table_e' doesn't exist"),
    ("SELEC 1", pymysql.err.ProgrammingError, 1064, "42000",
     "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB "
     "server version for the right syntax to use near 'SELEC 1' at line 1"),
    ("INSERT INTO errors_dup VALUES (1)", pymysql.err.IntegrityError, 1062, "23000",
     "Duplicate entry '1' for key 'PRIMARY'"),
    ("SELECT no_such_col FROM errors_dup", pymysql.err.OperationalError, 1054, "42S22",
     "Unknown column 'no_such_col' in 'SELECT'"),
]


@pytest.fixture(scope="module")
def dup_table(target):
    c = target.connect()
    H.query(c, "DROP TABLE IF EXISTS errors_dup")
    H.query(c, "CREATE TABLE errors_dup (id INT PRIMARY KEY)")
    H.query(c, "INSERT INTO errors_dup VALUES (1)")
    yield
    H.query(c, "DROP TABLE errors_dup")
    c.close()


@pytest.mark.parametrize("sql,cls,code,state,msg", CASES, ids=[str(c[2]) for c in CASES])
def test_error_pymysql(target, dup_table, sql, cls, code, state, msg):
    c = target.connect()
    try:
        for i in range(3):
            with pytest.raises(cls) as ei:
                H.query(c, sql)
            assert ei.value.args == (code, msg)
            # the session keeps working, with its state
            assert H.query(c, f"SELECT {i}, DATABASE()") == ((i, H.TEST_DB),)
        assert H.query(c, "SELECT id FROM errors_dup") == ((1,),)
    finally:
        c.close()


@pytest.mark.parametrize("sql,cls,code,state,msg", CASES, ids=[str(c[2]) for c in CASES])
def test_error_wire(target, dup_table, sql, cls, code, state, msg):
    """The raw ERR packet: code, '#'+SQLSTATE, message, and seq 1 (the reply to seq 0)."""
    rc = H.RawClient(target.host, target.port)
    try:
        rc.login(database=H.TEST_DB)
        with pytest.raises(H.ServerError) as ei:
            rc.query(sql)
        e = ei.value
        assert (e.code, e.sqlstate, e.message, e.seq) == (code, state, msg, 1)
        assert rc.query("SELECT 7") == ("rows", ["7"], [[b"7"]])
    finally:
        rc.close()


def test_error_inside_transaction_keeps_transaction(target, dup_table):
    c = target.connect(autocommit=False)
    try:
        H.query(c, "DROP TABLE IF EXISTS errors_tx")
        H.query(c, "CREATE TABLE errors_tx (id INT PRIMARY KEY) ENGINE=InnoDB")
        H.query(c, "BEGIN")
        H.query(c, "INSERT INTO errors_tx VALUES (1)")
        with pytest.raises(pymysql.err.IntegrityError) as ei:
            H.query(c, "INSERT INTO errors_tx VALUES (1)")
        assert ei.value.args[0] == 1062
        H.query(c, "INSERT INTO errors_tx VALUES (2)")
        assert H.query(c, "SELECT id FROM errors_tx ORDER BY id") == ((1,), (2,))
        c.rollback()
        assert H.query(c, "SELECT COUNT(*) FROM errors_tx") == ((0,),)
        H.query(c, "DROP TABLE errors_tx")
    finally:
        c.close()


def test_warnings_pass_through(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT CAST('12abc' AS INTEGER)")
        assert cur.fetchall() == ((12,),)
        cur.execute("SHOW WARNINGS")
        assert cur.fetchall() == (("Warning", 1292, "Truncated incorrect INTEGER value: '12abc'"),)
