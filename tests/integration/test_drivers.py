# SPDX-License-Identifier: Apache-2.0
"""
Real drivers through myshard (issue #5): the same battery (DECIMAL, DATETIME(6), utf8mb4 text,
BLOBs with zero bytes, JSON, NULL; server-side prepared statements with parameters where the
driver has them; point reads, scatters, aggregates; transactions over two shards; errors and
their codes; ping) runs against myshard, over a sharded and a global table, and against one
plain MariaDB holding the same tables. The outputs must be identical, line for line.

Drivers: mysqlclient (MySQLdb, text protocol), PHP mysqli (binary protocol) and PDO with native
prepares, Perl DBI with DBD::MariaDB (mariadb_server_prepare=1) and with DBD::mysql
(mysql_server_prepare=1). Go, Java, Node, Connector/C and PyMySQL have files of their own.
"""

import os
import subprocess

import pytest

import harness as H
import shardenv as S

pytestmark = pytest.mark.proxy_only

DB = "drv"
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = [
    "CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, "
    "name VARCHAR(60) CHARACTER SET utf8mb4 NULL, balance DECIMAL(12,2) NULL, "
    "dt DATETIME(6) NULL, bin BLOB NULL, doc JSON NULL, n INT NULL)",
    "CREATE TABLE countries (code CHAR(2) NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL)",
]


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def _drop_schema(sharded):
    for connect in (sharded.proxy_connect, sharded.reference_connect):
        c = connect()
        try:
            with c.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {DB}")
        finally:
            c.close()


@pytest.fixture(scope="module")
def sh(sharded):
    """The drv schema, fresh for each module that uses this fixture (other driver modules
    import it) and dropped afterwards, so the modules pass together in any order."""
    if sharded.is_fake:
        pytest.skip("needs myshard (MYSHARD_SHARDED_FAKE is set)")
    _drop_schema(sharded)
    sharded.create_schema(DB, SCHEMA, reference=True)
    yield sharded
    _drop_schema(sharded)


def spread(sh, base, n=6):  # (customers is hash-sharded on id: shardenv.customer_shard)
    """Shards holding rows base..base+n-1 of drv.customers (checked on the shards)."""
    out = set()
    for i, name in enumerate(sh.shard_names):
        c = sh.shard_connect(i, DB)
        try:
            if q(c, f"SELECT COUNT(*) FROM customers WHERE id BETWEEN {base} AND {base + n - 1}")[0][0]:
                out.add(name)
        finally:
            c.close()
    return out


def run_both(sh, argv_for):
    """Runs argv_for(port) against myshard and the reference; returns the two outputs."""
    outs = []
    for port in (sh.proxy_port, sh.reference_port):
        r = subprocess.run(argv_for(port), capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, (port, r.stdout[-3000:], r.stderr[-3000:])
        outs.append(r.stdout)
    return outs


def test_php_mysqli_and_pdo(sh):
    base = 5000
    proxy, ref = run_both(sh, lambda port: [
        "php", os.path.join(HERE, "drivers", "battery.php"), "127.0.0.1", str(port),
        H.APP_USER, H.APP_PASSWORD, DB, str(base)])
    assert proxy.splitlines() == ref.splitlines()
    assert proxy.endswith("done\n") and len(proxy.splitlines()) == 28, proxy
    assert '"mysqli duplicate": ' not in proxy and "mysqli duplicate: [1062," in proxy
    assert spread(sh, base) == {S.customer_shard(k) for k in range(base, base + 6)}


def test_perl_dbd_mariadb_server_prepare(sh):
    base = 6000
    proxy, ref = run_both(sh, lambda port: [
        "perl", os.path.join(HERE, "drivers", "battery.pl"), "127.0.0.1", str(port),
        H.APP_USER, H.APP_PASSWORD, DB, str(base)])
    assert proxy.splitlines() == ref.splitlines()
    assert proxy.endswith("done\n") and len(proxy.splitlines()) == 18, proxy
    assert "duplicate: ['1062', '23000']" in proxy
    assert spread(sh, base) == {S.customer_shard(k) for k in range(base, base + 6)}


def test_perl_dbd_mysql_server_prepare(sh):
    """The same battery through DBD::mysql (Debian libdbd-mysql-perl) with
    mysql_server_prepare=1."""
    base = 6100
    proxy, ref = run_both(sh, lambda port: [
        "perl", os.path.join(HERE, "drivers", "battery.pl"), "127.0.0.1", str(port),
        H.APP_USER, H.APP_PASSWORD, DB, str(base), "mysql"])
    assert proxy.splitlines() == ref.splitlines()
    assert proxy.endswith("done\n") and len(proxy.splitlines()) == 18, proxy
    assert "duplicate: ['1062', '23000']" in proxy
    assert spread(sh, base) == {S.customer_shard(k) for k in range(base, base + 6)}


def _mysqlclient_battery(port, base):
    import MySQLdb

    out = []
    c = MySQLdb.connect(host="127.0.0.1", port=port, user=H.APP_USER, password=H.APP_PASSWORD,
                        database=DB, charset="utf8mb4")  # autocommit off: the default
    cur = c.cursor()
    for i in range(6):
        cur.execute("INSERT INTO customers (id, name, balance, dt, bin, doc, n) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (base + i, f"mysqlclient ✓ {i}", f"{300 * i}.5{i}",
                     f"2022-06-0{i + 1} 01:02:03.00000{i}", b"\x00\xfe" + bytes([i]),
                     '{"x": %d}' % i, None if i == 2 else i))
        out.append(("insert", cur.rowcount))
    c.commit()
    cur.execute("SELECT id, name, balance, dt, bin, doc, n FROM customers WHERE id BETWEEN %s AND %s "
                "ORDER BY id", (base, base + 5))
    out.append(("scatter", cur.fetchall(), [d[:2] for d in cur.description]))
    cur.execute("SELECT SUM(balance), AVG(balance), MAX(dt) FROM customers WHERE id BETWEEN %s AND %s",
                (base, base + 5))
    out.append(("aggregates", cur.fetchall()))
    cur.execute("UPDATE customers SET n = 100 WHERE id IN (%s, %s)", (base, base + 1))
    c.rollback()
    cur.execute("SELECT n FROM customers WHERE id IN (%s, %s) ORDER BY id", (base, base + 1))
    out.append(("after rollback", cur.fetchall()))
    cur.execute("UPDATE customers SET n = 100 WHERE id IN (%s, %s)", (base, base + 1))
    c.commit()
    cur.execute("SELECT n FROM customers WHERE id IN (%s, %s) ORDER BY id", (base, base + 1))
    out.append(("after commit", cur.fetchall()))
    try:
        cur.execute("INSERT INTO customers (id) VALUES (%s)", (base,))
    except MySQLdb.IntegrityError as e:
        out.append(("duplicate", e.args[0]))
    c.rollback()
    c.ping()
    out.append(("ping", "ok"))
    c.close()
    return out


def test_mysqlclient(sh):
    base = 7000
    proxy = _mysqlclient_battery(sh.proxy_port, base)
    ref = _mysqlclient_battery(sh.reference_port, base)
    assert proxy == ref
    assert ("duplicate", 1062) in proxy and len(proxy) == 12
    assert spread(sh, base) == {S.customer_shard(k) for k in range(base, base + 6)}
