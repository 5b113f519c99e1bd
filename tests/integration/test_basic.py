# SPDX-License-Identifier: Apache-2.0
"""Basic client traffic through the proxy with PyMySQL: login, queries, schema changes."""

from decimal import Decimal

import pymysql
import pytest

import harness as H


def test_select_1(conn):
    assert H.query(conn, "SELECT 1") == ((1,),)


def test_select_expressions(conn):
    rows = H.query(conn, "SELECT 42, -7, 'abc', NULL, 2.5, CAST(1.25 AS DOUBLE), _utf8mb4'h\u00e9llo'")
    assert rows == ((42, -7, "abc", None, Decimal("2.5"), 1.25, "h\u00e9llo"),)


def test_table_round_trip(conn):
    H.query(conn, "DROP TABLE IF EXISTS basic_rt")
    H.query(conn, "CREATE TABLE basic_rt (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL, "
                  "score DOUBLE NULL, note TEXT NULL)")
    with conn.cursor() as cur:
        n = cur.executemany("INSERT INTO basic_rt VALUES (%s, %s, %s, %s)",
                            [(1, "one", 1.5, None), (2, "two", None, "x'y\"z\\"),
                             (3, "three", -3.25, "")])
        assert n == 3
        assert cur.execute("UPDATE basic_rt SET score = score * 2 WHERE id IN (1, 3)") == 2
        assert cur.execute("DELETE FROM basic_rt WHERE id = 99") == 0
    assert H.query(conn, "SELECT id, name, score, note FROM basic_rt ORDER BY id") == (
        (1, "one", 3.0, None),
        (2, "two", None, "x'y\"z\\"),
        (3, "three", -6.5, ""),
    )
    assert H.query(conn, "SELECT COUNT(*), SUM(id) FROM basic_rt") == ((3, 6),)
    H.query(conn, "DROP TABLE basic_rt")


def test_use_and_select_db(target):
    c = target.connect(database=None)
    try:
        assert H.query(c, "SELECT DATABASE()") == ((None,),)
        H.query(c, f"USE {H.TEST_DB2}")
        assert H.query(c, "SELECT DATABASE()") == ((H.TEST_DB2,),)
        c.select_db(H.TEST_DB)  # COM_INIT_DB
        assert H.query(c, "SELECT DATABASE()") == ((H.TEST_DB,),)
        with pytest.raises(pymysql.err.OperationalError) as ei:
            c.select_db("no_such_schema_xyz")
        assert ei.value.args[0] == 1049
        assert ei.value.args[1] == "Unknown database 'no_such_schema_xyz'"
        # a failed COM_INIT_DB leaves the schema as it was
        assert H.query(c, "SELECT DATABASE()") == ((H.TEST_DB,),)
    finally:
        c.close()


def test_connect_with_database(target):
    c = target.connect(database=H.TEST_DB2)
    try:
        assert H.query(c, "SELECT DATABASE()") == ((H.TEST_DB2,),)
    finally:
        c.close()


def test_connect_with_unknown_database(target):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        target.connect(database="no_such_schema_xyz")
    assert ei.value.args[0] == 1049


def test_ping(conn):
    conn.ping(reconnect=False)
    conn.ping(reconnect=False)
    assert H.query(conn, "SELECT 2") == ((2,),)


def test_wrong_password(target):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        target.connect(password="wrong")
    assert ei.value.args[0] == 1045


def test_unknown_user(target):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        target.connect(user="nosuchuser", password="apppw")
    assert ei.value.args[0] == 1045


def test_empty_password_user(target):
    c = target.connect(user=H.NOPW_USER, password="")
    try:
        assert H.query(c, "SELECT 1") == ((1,),)
    finally:
        c.close()


def test_empty_password_user_rejects_a_password(target):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        target.connect(user=H.NOPW_USER, password="something")
    assert ei.value.args[0] == 1045


def test_app_user_rejects_empty_password(target):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        target.connect(password="")
    assert ei.value.args[0] == 1045


def test_transaction_commit_and_rollback(target):
    # PyMySQL's default is autocommit off (it sends SET AUTOCOMMIT = 0 after login).
    c = target.connect(autocommit=False)
    other = target.connect()
    try:
        H.query(c, "DROP TABLE IF EXISTS basic_tx")
        H.query(c, "CREATE TABLE basic_tx (id INT PRIMARY KEY) ENGINE=InnoDB")
        assert H.query(c, "SELECT @@autocommit") == ((0,),)
        H.query(c, "INSERT INTO basic_tx VALUES (1), (2)")
        # not visible to another session before COMMIT
        assert H.query(other, "SELECT COUNT(*) FROM basic_tx") == ((0,),)
        c.commit()
        assert H.query(other, "SELECT id FROM basic_tx ORDER BY id") == ((1,), (2,))
        H.query(c, "INSERT INTO basic_tx VALUES (3)")
        H.query(c, "DELETE FROM basic_tx WHERE id = 1")
        assert H.query(c, "SELECT id FROM basic_tx ORDER BY id") == ((2,), (3,))
        c.rollback()
        assert H.query(c, "SELECT id FROM basic_tx ORDER BY id") == ((1,), (2,))
        assert H.query(other, "SELECT id FROM basic_tx ORDER BY id") == ((1,), (2,))
        c.commit()
        H.query(c, "DROP TABLE basic_tx")
    finally:
        c.close()
        other.close()


def test_session_variables_stick(conn):
    H.query(conn, "SET @v = 41")
    H.query(conn, "SET SESSION sql_mode = 'ANSI_QUOTES'")
    H.query(conn, "SET time_zone = '+03:00'")
    for _ in range(20):
        assert H.query(conn, "SELECT @v + 1, @@sql_mode, @@time_zone") == ((42, "ANSI_QUOTES", "+03:00"),)


def test_last_insert_id_and_affected_rows(conn):
    H.query(conn, "DROP TABLE IF EXISTS basic_ai")
    H.query(conn, "CREATE TABLE basic_ai (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    with conn.cursor() as cur:
        assert cur.execute("INSERT INTO basic_ai (v) VALUES (10), (20), (30)") == 3
        assert cur.lastrowid == 1
        assert cur.execute("INSERT INTO basic_ai (v) VALUES (40)") == 1
        assert cur.lastrowid == 4
        assert cur.execute("UPDATE basic_ai SET v = v + 1 WHERE v >= 20") == 3
    assert H.query(conn, "SELECT LAST_INSERT_ID()") == ((4,),)
    H.query(conn, "DROP TABLE basic_ai")


def test_multi_statement(target):
    c = target.connect(client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1 AS a; SELECT 'x' AS b, 2 AS c; DO 0")
            assert cur.fetchall() == ((1,),)
            assert cur.nextset()
            assert cur.fetchall() == (("x", 2),)
            assert cur.nextset()
            assert cur.fetchall() == ()
            assert not cur.nextset()
        assert H.query(c, "SELECT 3") == ((3,),)
    finally:
        c.close()
