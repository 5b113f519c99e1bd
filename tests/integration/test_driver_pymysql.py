# SPDX-License-Identifier: Apache-2.0
"""
PyMySQL (Debian python3-pymysql, text protocol, client-side parameters) through myshard
(issue #5): one battery (DECIMAL, DATETIME(6), utf8mb4, BLOBs with zero bytes as _binary
literals, JSON, NULL; executemany as one multi-row INSERT split over four shards and as a
loop of UPDATEs; point reads, IN lists, scatters, aggregates; transactions over two shards
with BEGIN, autocommit(True/False) and the server status flags PyMySQL reads; errors and
their codes; ping(reconnect=False); select_db; the global table) runs against myshard and
against the plain reference server. The results must be identical, line for line.
"""

import difflib
import json
from datetime import datetime
from decimal import Decimal

import pytest

import harness as H
import shardenv as S
from test_drivers import DB, q, sh, spread  # noqa: F401  (sh is a fixture)

pytestmark = pytest.mark.proxy_only

BASE = 12000  # this battery's customers ids: BASE..BASE+5
IN_TRANS, AUTOCOMMIT = 1, 2  # SERVER_STATUS_IN_TRANS, SERVER_STATUS_AUTOCOMMIT


def _pymysql_battery(port, base):
    import pymysql

    out = []

    def show(*item):
        out.append(repr(item))

    def status(label):  # the flags of the last OK/EOF PyMySQL read
        show(label, c.get_autocommit(), bool(c.server_status & IN_TRANS),
             bool(c.server_status & AUTOCOMMIT))

    def run(label, sql, args=None):
        try:
            show(label, cur.execute(sql, args), cur.fetchall())
        except pymysql.MySQLError as e:
            show(label, type(e).__name__, e.args)

    c = pymysql.connect(host="127.0.0.1", port=port, user=H.APP_USER, password=H.APP_PASSWORD,
                        database=DB, charset="utf8mb4", binary_prefix=True, connect_timeout=10,
                        read_timeout=60, write_timeout=60)  # autocommit off: the default
    status("connected")
    cur = c.cursor()
    rows = [(base + i, f"pymysql é ✓ 🙂 {i}", Decimal(f"{700 * i - 3}.{i:02d}"),
             datetime(2019, 12, 31, 23, 59, 58, 999990 + i), b"\x00\xff" + bytes([i]) + b"\x00'",
             json.dumps({"p": [i, None, "ü"]}), None if i == 4 else i) for i in range(6)]
    show("executemany insert", cur.executemany(
        "INSERT INTO customers (id, name, balance, dt, bin, doc, n) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)", rows), cur.rowcount)
    status("after insert")
    c.commit()
    status("after commit")
    cols = "id, name, balance, dt, bin, doc, n"
    run("point", f"SELECT {cols} FROM customers WHERE id = %s", (base + 2,))
    show("point description", cur.description)
    run("in list", f"SELECT {cols} FROM customers WHERE id IN %s ORDER BY id",
        ((base + 5, base + 1, base + 3),))
    run("scatter", f"SELECT {cols} FROM customers WHERE id BETWEEN %s AND %s ORDER BY id",
        (base, base + 5))
    show("scatter description", cur.description)
    run("order limit", "SELECT id, balance FROM customers WHERE id BETWEEN %s AND %s "
        "ORDER BY balance DESC LIMIT 2 OFFSET 1", (base, base + 5))
    run("aggregates", "SELECT COUNT(*), SUM(balance), AVG(balance), MIN(dt), MAX(n), "
        "COUNT(DISTINCT n) FROM customers WHERE id BETWEEN %s AND %s", (base, base + 5))
    show("aggregates description", cur.description)
    show("executemany update", cur.executemany(
        "UPDATE customers SET n = %s WHERE id = %s", [(100, base), (101, base + 1), (4, base + 4)]),
        cur.rowcount)
    c.commit()
    _transactions(c, cur, base, show, status, run)
    _errors(c, cur, base, show, run, pymysql)
    _databases_and_global(c, cur, show, run, pymysql)
    c.close()
    return out


def _transactions(c, cur, base, show, status, run):
    """BASE (s3) and BASE+1 (s0): rolled back, then committed, with BEGIN under autocommit;
    then the implicit transaction of autocommit off."""
    pair = "SELECT id, balance FROM customers WHERE id IN (%s, %s) ORDER BY id"
    c.autocommit(True)
    status("autocommit on")
    for end in ("rollback", "commit"):
        c.begin()
        status(f"{end}: after BEGIN")
        show(f"{end}: update 1",
             cur.execute("UPDATE customers SET balance = balance + 1 WHERE id = %s", (base,)))
        show(f"{end}: update 2",
             cur.execute("UPDATE customers SET balance = balance - 1 WHERE id = %s", (base + 1,)))
        status(f"{end}: after updates")
        run(f"{end}: own writes", pair, (base, base + 1))
        if end == "rollback":
            c.rollback()
        else:
            c.commit()
        status(f"{end}: after {end.upper()}")
        cur.execute("DO 1")
        status(f"{end}: after DO 1")
        run(f"{end}: after", pair, (base, base + 1))
    c.autocommit(False)
    status("autocommit off")
    show("implicit: update 1",
         cur.execute("UPDATE customers SET n = n + 1 WHERE id = %s", (base,)))
    status("implicit: after update")
    show("implicit: update 2",
         cur.execute("UPDATE customers SET n = n + 1 WHERE id = %s", (base + 1,)))
    c.rollback()
    status("implicit: after rollback")
    cur.execute("DO 1")
    status("implicit: after DO 1")
    run("implicit: after", "SELECT id, n FROM customers WHERE id IN (%s, %s) ORDER BY id",
        (base, base + 1))


def _errors(c, cur, base, show, run, pymysql):
    run("duplicate", "INSERT INTO customers (id, name) VALUES (%s, %s)", (base, "dup"))
    run("syntax", "SELEC 1")
    run("unknown column", "SELECT nosuch FROM customers WHERE id = %s", (base,))
    run("unknown table", "SELECT * FROM nosuch_table")
    run("too long", "UPDATE customers SET name = %s WHERE id = %s", ("x" * 61, base))
    run("bad json", "UPDATE customers SET doc = %s WHERE id = %s", ("{nope", base))
    c.rollback()
    show("ping", c.ping(reconnect=False))
    run("after ping", "SELECT COUNT(*) FROM customers WHERE id BETWEEN %s AND %s",
        (base, base + 5))


def _databases_and_global(c, cur, show, run, pymysql):
    c.autocommit(True)
    c.select_db("information_schema")
    run("select_db", "SELECT DATABASE()")
    try:
        c.select_db("no_such_db_pymysql")
    except pymysql.MySQLError as e:
        show("select_db unknown", type(e).__name__, e.args)
    run("select_db unknown after", "SELECT DATABASE()")
    c.select_db(DB)
    run("select_db back", "SELECT DATABASE()")
    run("global insert", "INSERT INTO countries (code, name) VALUES (%s, %s)", ("P1", "Pé one"))
    show("global executemany", cur.executemany(
        "INSERT INTO countries (code, name) VALUES (%s, %s)", [("P2", "Pe two"), ("P3", "P3")]))
    run("global duplicate", "INSERT INTO countries (code, name) VALUES (%s, %s)", ("P1", "x"))
    run("global update", "UPDATE countries SET name = CONCAT(name, '!') WHERE code IN (%s, %s)",
        ("P2", "P3"))
    run("global delete", "DELETE FROM countries WHERE code = %s", ("P3",))
    run("global select", "SELECT code, name FROM countries WHERE code LIKE %s ORDER BY code",
        ("P%",))
    show("global description", cur.description)


def test_pymysql(sh):
    proxy = _pymysql_battery(sh.proxy_port, BASE)
    ref = _pymysql_battery(sh.reference_port, BASE)
    diff = list(difflib.unified_diff(ref, proxy, "reference", "myshard", lineterm="", n=0))
    assert not diff, "\n".join(diff)
    assert len(proxy) == 56, "\n".join(proxy)
    assert repr(("duplicate", "IntegrityError",
                 (1062, f"Duplicate entry '{BASE}' for key 'PRIMARY'"))) in proxy
    assert spread(sh, BASE) == {S.customer_shard(k) for k in range(BASE, BASE + 6)} == set(
        sh.shard_names)
    assert S.customer_shard(BASE) != S.customer_shard(BASE + 1)
