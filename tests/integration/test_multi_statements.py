# SPDX-License-Identifier: Apache-2.0
"""
Multi-statement queries over sharded and global tables (issue #5): myshard runs their
statements one by one, each routed on its own, and answers with one multi-result reply, as a
single server would: every result in order, MORE_RESULTS until the last, and a stop at the
first error (the statements after it do not run). Checked against the plain reference server
through PyMySQL with CLIENT_MULTI_STATEMENTS, results and table contents both.
"""

import pymysql
import pytest
from pymysql.constants import CLIENT

import shardenv as S
from test_drivers import DB, q, sh  # noqa: F401  (sh is a fixture)

pytestmark = pytest.mark.proxy_only

BASE = 13000


def run(port, sql):
    """Every result of <sql> as (rows or OK summary), then the error that stopped it, if any."""
    c = pymysql.connect(host="127.0.0.1", port=port, user=S.H.APP_USER,
                        password=S.H.APP_PASSWORD, database=DB, autocommit=True,
                        client_flag=CLIENT.MULTI_STATEMENTS, connect_timeout=10,
                        read_timeout=60)
    out = []
    try:
        cur = c.cursor()
        try:
            cur.execute(sql)
            while True:
                out.append(("rows", cur.fetchall()) if cur.description is not None
                           else ("ok", cur.rowcount))
                if not cur.nextset():
                    break
        except pymysql.err.MySQLError as e:
            out.append(("error", e.args[0], e.args[1]))
        # the connection goes on normally afterwards
        cur.execute("SELECT 'after'")
        out.append(("next", cur.fetchall()))
    finally:
        c.close()
    return out


def both(sh, sql):
    proxy = run(sh.proxy_port, sql)
    ref = run(sh.reference_port, sql)
    assert proxy == ref
    return proxy


def test_multi_statement_results_and_stop_at_first_error(sh):
    ids = list(range(BASE, BASE + 6))
    assert len({S.customer_shard(k) for k in ids}) > 1
    values = ", ".join(f"({k}, 'm{k}', {k % 7}.50)" for k in ids)
    out = both(sh,
               f"INSERT INTO customers (id, name, balance) VALUES {values}; "
               f"SELECT id, name FROM customers WHERE id BETWEEN {BASE} AND {BASE + 5} "
               "ORDER BY id; "
               f"UPDATE customers SET balance = balance + 1 WHERE id IN ({BASE}, {BASE + 1}); "
               "INSERT INTO countries VALUES ('M1', 'Multi'); "
               f"SELECT COUNT(*), SUM(balance) FROM customers WHERE id >= {BASE}")
    assert [o[0] for o in out] == ["ok", "rows", "ok", "ok", "rows", "next"], out
    assert out[0] == ("ok", 6) and out[2] == ("ok", 2)
    # an error stops the query there: the UPDATE after it does not run
    out = both(sh,
               f"UPDATE customers SET name = 'x1' WHERE id = {BASE}; "
               f"INSERT INTO customers (id) VALUES ({BASE + 1}); "
               f"UPDATE customers SET name = 'x2' WHERE id = {BASE + 2}")
    assert out[0] == ("ok", 1) and out[1][:2] == ("error", 1062), out
    assert len(out) == 3
    # a syntax error is worded as by one server parsing the whole text
    out = both(sh, "SELECT 1; SELEC 2; SELECT 3")
    assert out[1][:2] == ("error", 1064) and "near 'SELEC 2; SELECT 3'" in out[1][2], out
    # contents are the same on both sides
    want = ((BASE, "x1"), (BASE + 1, f"m{BASE + 1}"), (BASE + 2, f"m{BASE + 2}"))
    for port in (sh.proxy_port, sh.reference_port):
        c = pymysql.connect(host="127.0.0.1", port=port, user=S.H.APP_USER,
                            password=S.H.APP_PASSWORD, database=DB)
        try:
            assert q(c, f"SELECT id, name FROM customers WHERE id BETWEEN {BASE} AND "
                        f"{BASE + 2} ORDER BY id") == want
            assert q(c, "SELECT name FROM countries WHERE code = 'M1'") == (("Multi",),)
        finally:
            c.close()


def test_multi_statement_with_a_transaction(sh):
    """BEGIN ... COMMIT inside one query, over two shards: each statement runs as if sent
    alone, so the transaction is myshard's own (two-phase commit)."""
    a, b = BASE + 10, BASE + 11
    while S.customer_shard(a) == S.customer_shard(b):
        b += 1
    out = both(sh, f"BEGIN; INSERT INTO customers (id, name) VALUES ({a}, 'ta'); "
                   f"INSERT INTO customers (id, name) VALUES ({b}, 'tb'); COMMIT; "
                   f"SELECT id, name FROM customers WHERE id IN ({a}, {b}) ORDER BY id")
    assert out[-2] == ("rows", ((a, "ta"), (b, "tb"))), out
