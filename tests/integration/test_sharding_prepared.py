# SPDX-License-Identifier: Apache-2.0
"""
Issue #3: the peer-failure cases of the issue's first paragraph through the prepared-statement
protocol (Connector/C mysql_stmt_*: COM_STMT_PREPARE / EXECUTE, binary rows). Each script runs
through myshard (4 shards) and against the plain reference server holding the same rows; the
printed results must be identical, byte for byte.
"""

import difflib
import os
import subprocess

import pytest

import harness as H

HERE = os.path.dirname(os.path.abspath(__file__))
DB = "psdiff"

SCHEMA = [
    "CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(40), region VARCHAR(8),"
    " balance DECIMAL(12,2), score INT, created DATETIME(6))",
    "CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer_id BIGINT NOT NULL,"
    " amount DECIMAL(10,2), qty INT, status VARCHAR(12))",
]


def _rows():
    cust, orders = [], []
    for i in range(1, 61):
        region = ["EU", "US", "APAC", None][i % 4]
        bal = "NULL" if i % 7 == 0 else f"{(i * 37) % 1000}.{i % 100:02d}"
        score = "NULL" if i % 11 == 0 else str((i * 13) % 50)
        reg = "NULL" if region is None else f"'{region}'"
        cust.append(f"({i}, 'name{i % 9}', {reg}, {bal}, {score}, '2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00.{i:06d}')")
        for k in range(i % 4):
            oid = i * 10 + k
            st = ["NEW", "PAID", "SHIPPED"][(i + k) % 3]
            orders.append(f"({oid}, {i}, {(oid * 7) % 500}.{k}5, {1 + (oid % 5)}, '{st}')")
    return [
        "INSERT INTO customers (id, name, region, balance, score, created) VALUES " + ", ".join(cust),
        "INSERT INTO orders (id, customer_id, amount, qty, status) VALUES " + ", ".join(orders),
    ]


SCRIPT = "\n".join([
    "SELECT AVG(score), AVG(balance), COUNT(*) FROM customers",
    "SELECT region, AVG(balance) FROM customers GROUP BY region",
    "SELECT COUNT(DISTINCT name), COUNT(*) FROM customers",
    "SELECT region, COUNT(DISTINCT name) FROM customers GROUP BY region ORDER BY region",
    "SELECT customer_id, SUM(amount) AS total FROM orders GROUP BY customer_id ORDER BY total DESC, customer_id LIMIT 5",
    "SELECT status, SUM(amount), MIN(amount), MAX(amount) FROM orders GROUP BY status HAVING SUM(amount) > ? ORDER BY status\td:100",
    "SELECT id, balance, score, created FROM customers WHERE id = ?\ti:7",
    "SELECT id, balance FROM customers WHERE id IN (?, ?, ?) ORDER BY id\ti:3\ti:14\ti:55",
    "SELECT id, name, balance FROM customers WHERE region = ? ORDER BY balance DESC, id LIMIT 4 OFFSET 2\ts:EU",
    "SELECT SUM(balance), MIN(created), MAX(created) FROM customers WHERE score >= ?\ti:10",
    "SELECT c.id, c.name, SUM(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = ? GROUP BY c.id, c.name\ti:6",
    "SELECT id, region FROM customers WHERE region IS NULL ORDER BY id LIMIT 3",
    "SELECT DISTINCT region FROM customers ORDER BY region",
    "SELECT * FROM customers WHERE score >= ? ORDER BY name DESC, id LIMIT 6\ti:5",
    "SELECT * FROM orders ORDER BY amount, id LIMIT 7 OFFSET 3",
    "UPDATE customers SET score = score + 1 WHERE id = ?\ti:5",
    "UPDATE customers SET score = ? WHERE region = ?\ti:3\ts:APAC",
    "SELECT id, score FROM customers WHERE region = 'APAC' ORDER BY id",
    "DELETE FROM orders WHERE customer_id = ?\ti:9",
    "SELECT COUNT(*), SUM(qty) FROM orders",
    "INSERT INTO orders (id, customer_id, amount, qty, status) VALUES (?, ?, ?, ?, ?)\ti:99001\ti:17\ts:12.50\ti:2\tn",
    "SELECT id, amount, status FROM orders WHERE customer_id = ? ORDER BY id\ti:17",
]) + "\n"


@pytest.fixture(scope="module")
def psclient(session_root):
    out = os.path.join(session_root, "psclient")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmariadb"], capture_output=True,
                           text=True, timeout=30)
    assert flags.returncode == 0, flags.stderr
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                        os.path.join(HERE, "psclient.c"), "-o", out, *flags.stdout.split()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def loaded(sharded):
    if sharded.is_fake:
        pytest.skip("needs myshard")
    for conn in (sharded.proxy_connect(), sharded.reference_connect()):
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DB}")
            cur.execute(f"CREATE DATABASE {DB}")
            cur.execute(f"USE {DB}")
            for sql in SCHEMA + _rows():
                cur.execute(sql)
        conn.close()
    return sharded


def _run(psclient, port):
    r = subprocess.run([psclient, "127.0.0.1", str(port), H.APP_USER, H.APP_PASSWORD, DB],
                       input=SCRIPT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_prepared_statements_match_a_single_server(loaded, psclient):
    via_proxy = _run(psclient, loaded.proxy_port)
    reference = _run(psclient, loaded.reference_port)
    assert "error:" not in reference, reference
    diff = "\n".join(difflib.unified_diff(reference.splitlines(), via_proxy.splitlines(),
                                            "reference", "myshard", lineterm=""))
    assert via_proxy == reference, diff
