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


def _status(sharded, name):
    out = []
    for i in range(len(sharded.shard_names)):
        c = sharded.shard_connect(i)
        try:
            with c.cursor() as cur:
                cur.execute(f"SHOW GLOBAL STATUS LIKE '{name}'")
                out.append(int(cur.fetchall()[0][1]))
        finally:
            c.close()
    return out


def test_point_executions_run_on_the_shards_own_prepared_statements(loaded, psclient):
    """An EXECUTE for one shard runs there as COM_STMT_EXECUTE of a statement prepared on that
    connection (binary rows streamed as they are), prepared once per connection and then reused;
    scatters keep the text path. Counted on the shards themselves (Com_stmt_execute)."""
    point = "SELECT id, balance, score, created FROM customers WHERE id = ?"
    ids = list(range(1, 41))
    script = "".join(f"{point}\ti:{k}\n" for k in ids)
    scatter = "SELECT COUNT(*), SUM(balance) FROM customers WHERE score >= ?\ti:3\n"

    def run(port, text):
        r = subprocess.run([psclient, "127.0.0.1", str(port), H.APP_USER, H.APP_PASSWORD, DB],
                           input=text, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    before = _status(loaded, "Com_stmt_execute")
    prepares = _status(loaded, "Com_stmt_prepare")
    via_proxy = run(loaded.proxy_port, script)
    after = _status(loaded, "Com_stmt_execute")
    assert via_proxy == run(loaded.reference_port, script)
    assert "error:" not in via_proxy, via_proxy
    assert sum(after) - sum(before) == len(ids), (before, after)
    # psclient prepares each line (answered with metadata from one shard: one prepare each);
    # beyond those, one prepare per shard connection the executions used, not one per
    # execution (one session: each shard's pool hands it back the same connection)
    direct = sum(_status(loaded, "Com_stmt_prepare")) - sum(prepares) - len(ids)
    assert 1 <= direct <= len(loaded.shard_names), direct
    before = after
    assert run(loaded.proxy_port, scatter) == run(loaded.reference_port, scatter)
    assert _status(loaded, "Com_stmt_execute") == before  # the scatter ran as text


def test_backend_statement_cache_is_bounded(loaded, psclient):
    """80 different statements executed on one shard (not the default one, which answers the
    client's PREPAREs): each is prepared there once, and as each connection keeps at most 32
    of them, at least 48 are closed again (the least used first); every result is still
    right, and the server's Prepared_stmt_count stays within 32 per connection of myshard."""
    import shardenv as S
    shard = 1
    k = next(i for i in range(1, 61) if S.customer_shard(i) == loaded.shard_names[shard])
    script = "".join(f"SELECT id AS c{n}, score FROM customers WHERE id = ?\ti:{k}\n"
                     for n in range(80))
    prep, close = _status(loaded, "Com_stmt_prepare"), _status(loaded, "Com_stmt_close")
    runs = []
    for port in (loaded.proxy_port, loaded.reference_port):
        r = subprocess.run([psclient, "127.0.0.1", str(port), H.APP_USER, H.APP_PASSWORD, DB],
                           input=script, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        runs.append(r.stdout)
    assert runs[0] == runs[1] and "error:" not in runs[0]
    assert _status(loaded, "Com_stmt_prepare")[shard] - prep[shard] == 80
    assert _status(loaded, "Com_stmt_close")[shard] - close[shard] >= 80 - 32
    c = loaded.shard_connect(shard)
    try:
        with c.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")
            count = int(cur.fetchall()[0][1])
            cur.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE user = %s",
                        (H.PROXY_USER,))
            conns = cur.fetchall()[0][0]
    finally:
        c.close()
    assert 1 <= count <= 32 * conns, (count, conns)
