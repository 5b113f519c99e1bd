# SPDX-License-Identifier: Apache-2.0
"""
Transactions myshard runs across shards (issue #5): BEGIN / COMMIT / ROLLBACK, autocommit=0 as
PyMySQL sets it, savepoints, implicit commits, READ ONLY, autocommit writes over several shards
made atomic, and the two-phase commit's crash recovery: a myshard killed between XA PREPARE and
the commit decision, or between the decision and XA COMMIT, leaves every transaction all or
nothing once it restarts. Every result is checked on the shards themselves.

Runs against the `sharded` fixture (four shards s0..s3, customers hash-sharded on id).
"""

import re
import socket
import threading
from decimal import Decimal

import pymysql

import pytest

import harness as H
import shardenv as S

pytestmark = pytest.mark.proxy_only

DB = "txtest"
XA_FORMAT = 1297303620


def q(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture(scope="module")
def sh(sharded):
    if sharded.is_fake:
        pytest.skip("needs myshard (MYSHARD_SHARDED_FAKE is set)")
    sharded.create_schema(DB, ["CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, "
                               "name VARCHAR(40) NULL, balance DECIMAL(12,2) NULL)"])
    return sharded


@pytest.fixture
def px(sh):
    c = sh.proxy_connect(DB)
    yield c
    c.close()


# keys per shard, disjoint per test (each test takes its own block)
_KEYS = {}
for _k in range(100000, 130000):
    _KEYS.setdefault(S.customer_shard(_k), []).append(_k)
_next = {n: 0 for n in S.SHARD_NAMES}


def keys(shard, n=1):
    i = _next[shard]
    _next[shard] += n
    return _KEYS[shard][i:i + n]


def on_shard(sh, shard, sql, db=DB):
    c = sh.shard_connect(shard, db)
    try:
        return q(c, sql)
    finally:
        c.close()


def row(sh, shard, key):
    """(name, balance) of customer <key> on <shard> itself, or None."""
    r = on_shard(sh, shard, f"SELECT name, balance FROM customers WHERE id = {key}")
    return r[0] if r else None


def where(sh, key):
    return [n for n in S.SHARD_NAMES if row(sh, n, key) is not None]


def xa_leftovers(sh):
    """myshard's prepared XA branches on every shard: [(shard, gtrid)]."""
    out = []
    for n in S.SHARD_NAMES:
        for r in on_shard(sh, n, "XA RECOVER", db=None):
            if int(r[0]) == XA_FORMAT:
                out.append((n, r[3][:int(r[1])].decode() if isinstance(r[3], bytes)
                            else r[3][:int(r[1])]))
    return out


def decision(sh, shard, gtrid):
    r = on_shard(sh, shard, f"SELECT decision FROM myshard.xa_decisions WHERE gtrid = '{gtrid}'",
                 db=None)
    return r[0][0] if r else None


def ins(conn, key, name="tx", balance="0.00"):
    q(conn, f"INSERT INTO customers (id, name, balance) VALUES ({key}, '{name}', {balance})")


# ---------------------------------------------------------------------------------------------


def test_commit_across_three_shards(sh, px):
    a, b, c = keys("s1")[0], keys("s2")[0], keys("s3")[0]
    other = sh.proxy_connect(DB)
    try:
        q(px, "BEGIN")
        for k in (a, b, c):
            ins(px, k)
        # the transaction sees its own rows, on every shard, also through a scatter
        assert q(px, f"SELECT COUNT(*) FROM customers WHERE id IN ({a}, {b}, {c})") == ((3,),)
        assert px.get_autocommit() is True and px.server_status & 1 == 1  # IN_TRANS
        # nobody else does yet
        assert q(other, f"SELECT COUNT(*) FROM customers WHERE id IN ({a}, {b}, {c})") == ((0,),)
        q(px, "COMMIT")
        assert px.server_status & 1 == 0
        assert q(other, f"SELECT COUNT(*) FROM customers WHERE id IN ({a}, {b}, {c})") == ((3,),)
    finally:
        other.close()
    assert [where(sh, k) for k in (a, b, c)] == [["s1"], ["s2"], ["s3"]]
    assert xa_leftovers(sh) == []
    # the first shard the transaction touched (s1) holds its commit decision
    ids = on_shard(sh, "s1", "SELECT gtrid, decision FROM myshard.xa_decisions", db=None)
    assert any(d == "C" for _, d in ids), ids


def test_rollback_across_shards_leaves_nothing(sh, px):
    a, b = keys("s0")[0], keys("s3")[0]
    u = keys("s2")[0]
    ins(px, u, "before")
    q(px, "START TRANSACTION")
    ins(px, a)
    ins(px, b)
    q(px, f"UPDATE customers SET name = 'changed' WHERE id = {u}")
    assert q(px, f"SELECT name FROM customers WHERE id = {u}") == (("changed",),)
    q(px, "ROLLBACK")
    assert where(sh, a) == [] and where(sh, b) == []
    assert row(sh, "s2", u)[0] == "before"
    assert q(px, f"SELECT name FROM customers WHERE id = {u}") == (("before",),)
    assert xa_leftovers(sh) == []


def test_client_vanishes_mid_transaction(sh):
    """A client that drops its socket inside a transaction over two shards: both branches
    roll back, their row locks go, and no backend connection stays held (the same rows are
    then updated by another client without waiting)."""
    a, b = keys("s0")[0], keys("s1")[0]
    setup = sh.proxy_connect(DB)
    try:
        ins(setup, a, "before")
        ins(setup, b, "before")
    finally:
        setup.close()
    gone = sh.proxy_connect(DB)
    q(gone, "BEGIN")
    q(gone, f"UPDATE customers SET name = 'lost' WHERE id IN ({a}, {b})")
    assert q(gone, f"SELECT COUNT(*) FROM customers WHERE name = 'lost' AND id IN ({a}, {b})") \
        == ((2,),)
    gone._sock.shutdown(socket.SHUT_RDWR)  # no COM_QUIT: the TCP connection just ends
    gone._sock.close()
    other = sh.proxy_connect(DB)
    try:
        # the locks go with the rollback: these updates would wait for them otherwise
        q(other, "SET SESSION innodb_lock_wait_timeout = 5")
        q(other, f"UPDATE customers SET name = 'after' WHERE id IN ({a}, {b})")
        assert q(other, f"SELECT name FROM customers WHERE id IN ({a}, {b})") \
            == (("after",), ("after",))
    finally:
        other.close()
    assert row(sh, "s0", a)[0] == "after" and row(sh, "s1", b)[0] == "after"
    # no transaction is left open there on a connection still alive: a leaked branch would
    # sit idle (no statement running) on a pooled connection. myshard's own work may still be
    # finishing for a moment (the second phase of the other client's two-shard UPDATE, XA
    # decision clean-up): wait for none with a deadline; a leaked transaction never goes.
    # Not counted: statements still running, and transactions of connections already gone
    # from the processlist. The server can take tens of seconds to drop those after their
    # socket closed (seen in CI: issue #6's notes); the vanished client's are checked above
    # through their locks and changes.
    idle_trx = ("SELECT COUNT(*) FROM information_schema.innodb_trx t JOIN "
                "information_schema.processlist p ON p.id = t.trx_mysql_thread_id WHERE "
                "t.trx_mysql_thread_id <> CONNECTION_ID() AND t.trx_query IS NULL")
    for n in ("s0", "s1"):
        try:
            H.wait_until(lambda: on_shard(sh, n, idle_trx, db=None) == ((0,),), 15,
                         f"no transaction left on {n}")
        except H.HarnessError as e:
            # whose it is: the connection's user, host and command, and InnoDB's own view
            who = on_shard(sh, n, "SELECT t.trx_id, t.trx_state, t.trx_started, "
                                  "t.trx_mysql_thread_id, t.trx_query, p.user, p.host, p.db, "
                                  "p.command, p.time, p.state, p.info FROM "
                                  "information_schema.innodb_trx t LEFT JOIN "
                                  "information_schema.processlist p ON "
                                  "p.id = t.trx_mysql_thread_id WHERE "
                                  "t.trx_mysql_thread_id <> CONNECTION_ID()", db=None)
            status = on_shard(sh, n, "SHOW ENGINE INNODB STATUS", db=None)[0][2]
            trx = status[status.find("TRANSACTIONS"):status.find("FILE I/O")]
            raise AssertionError(f"{e}: {who!r}\n{trx}") from None
    assert xa_leftovers(sh) == []


def test_pymysql_autocommit_off(sh):
    """PyMySQL's default (autocommit=False): every statement is inside a transaction that
    commit() / rollback() ends, across shards."""
    a, b = keys("s0")[0], keys("s2")[0]
    c = S._connect("127.0.0.1", sh.proxy_port, H.APP_USER, H.APP_PASSWORD, DB, autocommit=False)
    other = sh.proxy_connect(DB)
    try:
        assert c.get_autocommit() is False
        ins(c, a)
        ins(c, b)
        assert c.server_status & 1 == 1
        assert q(other, f"SELECT COUNT(*) FROM customers WHERE id IN ({a}, {b})") == ((0,),)
        c.commit()
        assert q(other, f"SELECT COUNT(*) FROM customers WHERE id IN ({a}, {b})") == ((2,),)
        q(c, f"DELETE FROM customers WHERE id IN ({a}, {b})")  # scatter-free: pruned to 2 shards
        c.rollback()
        assert where(sh, a) == ["s0"] and where(sh, b) == ["s2"]
        q(c, f"DELETE FROM customers WHERE id IN ({a}, {b})")
        c.commit()
        assert where(sh, a) == [] and where(sh, b) == []
        # back to autocommit: an open transaction commits, as on a server
        ins(c, a)
        c.autocommit(True)
        assert c.get_autocommit() is True
        assert where(sh, a) == ["s0"]
    finally:
        c.close()
        other.close()
    assert xa_leftovers(sh) == []


def test_autocommit_write_over_shards_is_all_or_nothing(sh, px):
    """An UPDATE that runs on two shards in autocommit mode: when one shard refuses it, the other
    shard's change is rolled back too, and the client gets the refusing shard's error."""
    a, b = keys("s0")[0], keys("s2")[0]
    ins(px, a, "one")
    ins(px, b, "two")
    s2 = sh.shard_connect("s2", DB)
    try:
        q(s2, "ALTER TABLE customers ADD CONSTRAINT no_boom CHECK (name <> 'boom')")
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(px, f"UPDATE customers SET name = 'boom' WHERE id IN ({a}, {b})")
        assert ei.value.args[0] == 4025, ei.value.args  # ER_CONSTRAINT_FAILED, from s2
        assert row(sh, "s0", a)[0] == "one" and row(sh, "s2", b)[0] == "two"
        # and when every shard accepts it, it is applied everywhere with the summed count
        with px.cursor() as cur:
            assert cur.execute(f"UPDATE customers SET name = 'ok' WHERE id IN ({a}, {b})") == 2
        assert row(sh, "s0", a)[0] == "ok" and row(sh, "s2", b)[0] == "ok"
    finally:
        q(s2, "ALTER TABLE customers DROP CONSTRAINT no_boom")
        s2.close()
    assert xa_leftovers(sh) == []


def test_savepoints_on_one_shard_and_refused_across(sh, px):
    a1, a2 = keys("s1", 2)
    b = keys("s3")[0]
    q(px, "BEGIN")
    ins(px, a1)
    q(px, "SAVEPOINT sp1")
    ins(px, a2)
    q(px, "ROLLBACK TO SAVEPOINT sp1")
    q(px, "RELEASE SAVEPOINT sp1")
    ins(px, b)  # the transaction now spans two shards: savepoints are refused, it goes on
    with pytest.raises(pymysql.err.MySQLError) as ei:
        q(px, "SAVEPOINT sp2")
    assert ei.value.args[0] == 1235, ei.value.args
    q(px, "COMMIT")
    assert where(sh, a1) == ["s1"] and where(sh, a2) == [] and where(sh, b) == ["s3"]


def test_ddl_and_begin_commit_implicitly(sh, px):
    a, b = keys("s0")[0], keys("s1")[0]
    c, d = keys("s2")[0], keys("s3")[0]
    q(px, "BEGIN")
    ins(px, a)
    ins(px, b)
    q(px, "CREATE TABLE tx_ddl_probe (id INT PRIMARY KEY)")  # commits first, as on a server
    assert px.server_status & 1 == 0
    assert where(sh, a) == ["s0"] and where(sh, b) == ["s1"]
    q(px, "DROP TABLE tx_ddl_probe")
    q(px, "BEGIN")
    ins(px, c)
    ins(px, d)
    q(px, "BEGIN")  # commits the open transaction
    assert where(sh, c) == ["s2"] and where(sh, d) == ["s3"]
    q(px, "ROLLBACK")
    assert xa_leftovers(sh) == []


def test_read_only_transaction(sh, px):
    a = keys("s2")[0]
    q(px, "START TRANSACTION READ ONLY")
    assert px.server_status & 0x2000  # IN_TRANS_READONLY
    q(px, "SELECT COUNT(*) FROM customers")  # every shard joins, read only
    with pytest.raises(pymysql.err.MySQLError) as ei:
        ins(px, a)
    assert ei.value.args[0] == 1792, ei.value.args  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    q(px, "COMMIT")
    assert where(sh, a) == []


def test_cli_transaction_across_shards(sh):
    a, b = keys("s0")[0], keys("s3")[0]
    r = sh.cli("proxy", f"BEGIN; INSERT INTO customers (id, name) VALUES ({a}, 'cli'); "
                        f"INSERT INTO customers (id, name) VALUES ({b}, 'cli'); COMMIT; "
                        f"SELECT COUNT(*) FROM customers WHERE id IN ({a}, {b});", DB)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2"]
    assert where(sh, a) == ["s0"] and where(sh, b) == ["s3"]
    # a client that disconnects inside a transaction leaves nothing behind
    c, d = keys("s1")[0], keys("s2")[0]
    r = sh.cli("proxy", f"BEGIN; INSERT INTO customers (id, name) VALUES ({c}, 'cli'); "
                        f"INSERT INTO customers (id, name) VALUES ({d}, 'cli');", DB)
    assert r.returncode == 0, r.stderr
    conn = sh.proxy_connect(DB)
    try:
        H.wait_until(lambda: q(conn, f"SELECT COUNT(*) FROM customers WHERE id IN ({c}, {d})")
                     == ((0,),), 10, "the abandoned transaction to roll back")
    finally:
        conn.close()
    assert where(sh, c) == [] and where(sh, d) == []


def test_concurrent_transfers_keep_the_total(sh):
    """8 clients move money between customers on different shards in transactions (some rolled
    back on purpose); the total over all shards is exact afterwards, every committed transfer is
    there, and nothing is left prepared."""
    accts = [keys(n, 3) for n in S.SHARD_NAMES]
    flat = [k for ks in accts for k in ks]
    c = sh.proxy_connect(DB)
    try:
        q(c, "INSERT INTO customers (id, name, balance) VALUES "
             + ", ".join(f"({k}, 'acct', 1000.00)" for k in flat))
    finally:
        c.close()
    errors = []
    committed = []  # (src, dst) of every transfer whose COMMIT was acknowledged

    def worker(wid):
        conn = S._connect("127.0.0.1", sh.proxy_port, H.APP_USER, H.APP_PASSWORD, DB,
                          autocommit=False)
        try:
            for i in range(40):
                src = flat[(wid * 7 + i * 3) % len(flat)]
                dst = flat[(wid * 5 + i * 11 + 1) % len(flat)]
                if src == dst:
                    continue
                # rows are locked in key order: shards cannot see a deadlock that spans
                # them (each would wait innodb_lock_wait_timeout), so the clients avoid one
                moves = sorted([(src, "-"), (dst, "+")])
                try:
                    for k, sign in moves:
                        q(conn, f"UPDATE customers SET balance = balance {sign} 1.25 WHERE id = {k}")
                    if i % 5 == 4:
                        conn.rollback()
                    else:
                        conn.commit()
                        committed.append((src, dst))
                except pymysql.err.OperationalError as e:
                    if e.args[0] not in (1213, 1205):  # deadlock / lock wait: retried by apps
                        raise
                    conn.rollback()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"worker {wid}: {e!r}")
        finally:
            conn.close()

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "workers stuck"
    assert errors == []
    want = {k: Decimal("1000.00") for k in flat}
    for src, dst in committed:
        want[src] -= Decimal("1.25")
        want[dst] += Decimal("1.25")
    got = {}
    for n, ks in zip(S.SHARD_NAMES, accts):
        got.update(dict(on_shard(sh, n, "SELECT id, balance FROM customers WHERE id IN ("
                                 + ", ".join(str(k) for k in ks) + ")")))
    assert len(committed) >= 200
    assert got == want
    assert sum(got.values()) == 1000 * len(flat)
    assert xa_leftovers(sh) == []


# ---------------------------------------------------------------------------------------------
# crash recovery


@pytest.fixture
def crashy(sh):
    """A second myshard over the same shards, restartable, with MYSHARD_FAULT set per test."""
    conf = [(n, "127.0.0.1", s.port) for n, s in zip(S.SHARD_NAMES, sh.shards)]
    p = sh.start_proxy("sharded-crashy", conf, extra_yaml=S.sharding_yaml(), workers=1)
    return p


@pytest.fixture(scope="module")
def observer(sh):
    """A third myshard with an admin port and quick recovery passes, running through the crashes:
    what it sees in doubt is the operator's view. Yields (proxy, admin port)."""
    conf = [(n, "127.0.0.1", s.port) for n, s in zip(S.SHARD_NAMES, sh.shards)]
    port = H.free_port()
    admin = (f"admin:\n  listen: {{address: 127.0.0.1, port: {port}}}\n"
             "  users:\n    - {name: ops, password: opspw}\n")
    p = sh.start_proxy("sharded-observer", conf, extra_yaml=S.sharding_yaml() + admin, workers=1,
                       xa_recovery_ms=200)
    return p, port


def in_doubt(observer):
    c = pymysql.connect(host="127.0.0.1", port=observer[1], user="ops", password="opspw",
                        connect_timeout=10, read_timeout=30)
    try:
        return q(c, "SHOW TRANSACTIONS IN DOUBT")
    finally:
        c.close()


def _crash_commit(sh, p, fault):
    """Restarts <p> with MYSHARD_FAULT=<fault>, runs a transaction over s1, s2, s3 (s1 first:
    it decides) and COMMITs; myshard dies at the fault point. Returns the keys."""
    p.stop()
    p.env = {"MYSHARD_FAULT": fault}
    p.start()
    a, b, c = keys("s1")[0], keys("s2")[0], keys("s3")[0]
    conn = S._connect("127.0.0.1", p.port, H.APP_USER, H.APP_PASSWORD, DB)
    try:
        q(conn, "BEGIN")
        for k in (a, b, c):
            ins(conn, k, "crash")
        with pytest.raises(pymysql.err.OperationalError):
            q(conn, "COMMIT")
    finally:
        conn.close()
    H.wait_until(lambda: p.proc.poll() is not None, 10, "myshard to die at the fault point")
    assert p.proc.returncode == 86, p.stderr_text()[-2000:]
    p.proc = None
    p.env = None
    return a, b, c


def test_crash_after_prepare_rolls_back(sh, crashy, observer):
    a, b, c = _crash_commit(sh, crashy, "xa_after_prepare")
    left = xa_leftovers(sh)
    assert sorted(n for n, _ in left) == ["s2", "s3"], left  # prepared, no decision yet
    gtrid = left[0][1]
    assert where(sh, a) == [] and where(sh, b) == [] and where(sh, c) == []
    # operators see them on the admin port (another myshard leaves them to their owner for
    # timeouts.xa_abandon_ms)
    H.wait_until(lambda: sorted((r[0], r[1], r[2], r[3]) for r in in_doubt(observer))
                 == [("s2", gtrid, "s1", "pending"), ("s3", gtrid, "s1", "pending")], 10,
                 "the observer to list the branches in doubt")
    crashy.start()  # recovery runs before the port opens
    assert xa_leftovers(sh) == []
    assert where(sh, a) == [] and where(sh, b) == [] and where(sh, c) == []
    assert decision(sh, "s1", gtrid) == "A"
    H.wait_until(lambda: in_doubt(observer) == (), 10, "the observer's list to empty")


def test_crash_after_decision_commits(sh, crashy):
    a, b, c = _crash_commit(sh, crashy, "xa_after_decision")
    left = xa_leftovers(sh)
    assert sorted(n for n, _ in left) == ["s2", "s3"], left
    gtrid = left[0][1]
    assert decision(sh, "s1", gtrid) == "C"
    assert where(sh, a) == ["s1"]  # committed with the decision
    crashy.start()
    assert xa_leftovers(sh) == []
    assert where(sh, a) == ["s1"] and where(sh, b) == ["s2"] and where(sh, c) == ["s3"]
    assert decision(sh, "s1", gtrid) == "C"


# ---------------------------------------------------------------------------------------------
# sysbench


def test_sysbench_oltp_read_write_prepared(sh):
    """sysbench oltp_read_write with server-side prepared statements (--db-ps-mode=auto: BEGIN
    and COMMIT are prepared too) through myshard, sbtest1 hash-sharded over 3 shards with ids
    from a myshard sequence, sysbench's hot-spot keys: no error other than deadlocks (1213, which
    sysbench retries as it does against one server; deadlocks across shards included: a lock
    wait timeout, 1205, would fail the run), the table keeps its rows, nothing is left in
    doubt."""
    conf = [(n, "127.0.0.1", s.port) for n, s in list(zip(S.SHARD_NAMES, sh.shards))[:3]]
    ranges = ["-55", "55-aa", "aa-"]
    yaml = "\n".join([
        "sharding:",
        "  default_shard: s0",
        "  functions:",
        "    - name: by_id",
        "      kind: hash",
        "      key_type: int",
        "      ranges:",
        *[f"        - {{keyspace: \"{r}\", shard: s{i}}}" for i, r in enumerate(ranges)],
        "  tables:",
        "    - {name: sbtest1, schema: sbt, key: id, function: by_id, sequence: sb_ids}",
        "  sequences:",
        "    - {name: sb_ids, shard: s0, block: 500}",
    ]) + "\n"
    p = sh.start_proxy("sharded-sysbench", conf, extra_yaml=yaml, workers=2)
    c = S._connect("127.0.0.1", p.port, H.APP_USER, H.APP_PASSWORD, None)
    try:
        q(c, "CREATE DATABASE sbt")
    finally:
        c.close()
    size = 3000

    def sysbench(cmd, *extra):
        argv = ["sysbench", "oltp_read_write", "--db-driver=mysql", "--mysql-host=127.0.0.1",
                f"--mysql-port={p.port}", f"--mysql-user={H.APP_USER}",
                f"--mysql-password={H.APP_PASSWORD}", "--mysql-db=sbt", "--tables=1",
                f"--table-size={size}", "--mysql-ignore-errors=1213", *extra, cmd]
        r = H.subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
        return r.stdout

    sysbench("prepare", "--threads=1")
    out = sysbench("run", "--db-ps-mode=auto", "--threads=6", "--time=8", "--events=0",
                   "--report-interval=0")
    tx = int(re.search(r"transactions:\s+(\d+)", out).group(1))
    retried = int(re.search(r"ignored errors:\s+(\d+)", out).group(1))
    assert tx > 50 and retried < tx / 10, out
    assert re.search(r"reconnects:\s+0\s", out), out
    per = [on_shard(sh, n, "SELECT COUNT(*) FROM sbtest1", db="sbt")[0][0] for n in S.SHARD_NAMES[:3]]
    assert sum(per) == size and all(n > 0 for n in per), per
    c = S._connect("127.0.0.1", p.port, H.APP_USER, H.APP_PASSWORD, "sbt")
    try:
        assert q(c, "SELECT COUNT(*) FROM sbtest1") == ((size,),)
    finally:
        c.close()
    assert xa_leftovers(sh) == []


# ---------------------------------------------------------------------------------------------
# deadlocks


def waiting(sh, shard, key):
    """True once a statement on <shard> that names <key> waits for a row lock. (InnoDB refreshes
    these tables only when nobody has read them for 100 ms: poll slower than that.)"""
    return on_shard(sh, shard, "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE "
                               f"trx_state = 'LOCK WAIT' AND trx_query LIKE '%= {key}'",
                    db=None)[0][0] == 1


def _blocked(conn, sql, out, key):
    try:
        q(conn, sql)
        out[key] = "ok"
    except pymysql.err.MySQLError as e:
        out[key] = e.args[0]


def test_deadlock_across_shards_is_broken(sh):
    """A waits for B on s1 while B waits for A on s0: no shard sees a cycle. myshard finds it in
    the shards' lock waits and rolls one transaction back with 1213 (as a server does); the
    other goes on and commits."""
    x, y = keys("s0")[0], keys("s1")[0]
    c = sh.proxy_connect(DB)
    try:
        ins(c, x, "x0")
        ins(c, y, "y0")
    finally:
        c.close()
    a, b = sh.proxy_connect(DB), sh.proxy_connect(DB)
    try:
        q(a, "BEGIN")
        q(b, "BEGIN")
        q(a, f"UPDATE customers SET name = 'xa' WHERE id = {x}")
        q(b, f"UPDATE customers SET name = 'yb' WHERE id = {y}")
        out = {}
        ta = threading.Thread(target=_blocked, args=(
            a, f"UPDATE customers SET name = 'ya' WHERE id = {y}", out, "a"))
        ta.start()
        H.wait_until(lambda: waiting(sh, "s1", y), 10, "A to wait for B on s1", 0.25)
        tb = threading.Thread(target=_blocked, args=(
            b, f"UPDATE customers SET name = 'xb' WHERE id = {x}", out, "b"))
        tb.start()
        ta.join(20)
        tb.join(20)
        assert not ta.is_alive() and not tb.is_alive(), "the deadlock was not broken"
        assert sorted(out.values(), key=str) == [1213, "ok"], out
        winner, loser = (a, b) if out["a"] == "ok" else (b, a)
        assert q(loser, "DO 1") == ()  # an OK packet: PyMySQL takes server_status from those
        assert loser.server_status & 1 == 0  # rolled back: no transaction open any more
        q(winner, "COMMIT")
        want = {x: "xa", y: "ya"} if winner is a else {x: "xb", y: "yb"}
        assert row(sh, "s0", x)[0] == want[x] and row(sh, "s1", y)[0] == want[y]
    finally:
        a.close()
        b.close()
    assert xa_leftovers(sh) == []


def test_deadlock_on_one_shard_rolls_back_every_shard(sh):
    """A shard that picks a transaction as a deadlock victim rolls back only its own part: myshard
    rolls back the transaction's other shards too, so nothing of it commits later."""
    x, y = keys("s0", 2)
    z = keys("s3")[0]
    heavy = keys("s0", 6)
    c = sh.proxy_connect(DB)
    try:
        for k in (x, y, z, *heavy):
            ins(c, k, "init")
    finally:
        c.close()
    a, b = sh.proxy_connect(DB), sh.proxy_connect(DB)
    try:
        q(a, "BEGIN")
        q(a, f"UPDATE customers SET name = 'a' WHERE id = {z}")   # A's part on s3
        q(a, f"UPDATE customers SET name = 'a' WHERE id = {x}")
        q(b, "BEGIN")
        for k in (y, *heavy):  # B weighs more: InnoDB spares it (one row at a time: no scan)
            q(b, f"UPDATE customers SET name = 'b' WHERE id = {k}")
        out = {}
        ta = threading.Thread(target=_blocked, args=(
            a, f"UPDATE customers SET name = 'a' WHERE id = {y}", out, "a"))
        ta.start()
        H.wait_until(lambda: waiting(sh, "s0", y), 10, "A to wait for B on s0", 0.25)
        q(b, f"UPDATE customers SET name = 'b' WHERE id = {x}")  # the cycle: s0 picks A
        ta.join(20)
        assert out == {"a": 1213}, out
        assert q(a, "DO 1") == ()
        assert a.server_status & 1 == 0
        q(b, "COMMIT")
        assert row(sh, "s3", z)[0] == "init"  # A's work on s3 went with it
        assert row(sh, "s0", x)[0] == "b" and row(sh, "s0", y)[0] == "b"
        # A's next statement runs on its own, not in what is left of the old transaction
        q(a, f"UPDATE customers SET name = 'after' WHERE id = {z}")
        assert row(sh, "s3", z)[0] == "after"
    finally:
        a.close()
        b.close()
    assert xa_leftovers(sh) == []



# ---------------------------------------------------------------------------------------------
# COM_CHANGE_USER


def test_change_user_resets_the_session(sh):
    """COM_CHANGE_USER (mysqlclient's change_user(); PHP's persistent connections send it):
    a new login on the same connection. The open transaction is rolled back on every shard,
    replayed variables and the schema go, the new schema applies; a wrong password ends the
    connection with 1045."""
    import MySQLdb

    a, b = keys("s0")[0], keys("s2")[0]
    c = MySQLdb.connect(host="127.0.0.1", port=sh.proxy_port, user=H.APP_USER,
                        password=H.APP_PASSWORD, database=DB, autocommit=True)
    try:
        cur = c.cursor()
        cur.execute("SET wait_timeout = 777")
        cur.execute("BEGIN")
        cur.execute(f"INSERT INTO customers (id, name) VALUES ({a}, 'cu'), ({b}, 'cu')")
        c.change_user(H.APP_USER, H.APP_PASSWORD, "information_schema")
        assert where(sh, a) == [] and where(sh, b) == []  # rolled back everywhere
        cur = c.cursor()
        cur.execute("SELECT DATABASE(), @@wait_timeout <> 777, @@in_transaction")
        assert cur.fetchall() == (("information_schema", 1, 0),)
        cur.execute(f"SELECT COUNT(*) FROM {DB}.customers WHERE id IN ({a}, {b})")
        assert cur.fetchall() == ((0,),)
        c.change_user("nopw", "", DB)  # a user without a password
        cur = c.cursor()
        cur.execute("SELECT DATABASE()")
        assert cur.fetchall() == ((DB,),)
        with pytest.raises(MySQLdb.OperationalError) as ei:
            c.change_user(H.APP_USER, "wrong", DB)
        assert ei.value.args[0] == 1045, ei.value.args
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# KILL


def running(sh, where):
    """How many statements run on the shards (all of them) with INFO matching <where>."""
    return sum(on_shard(sh, n, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                               f"{where} AND INFO NOT LIKE '%PROCESSLIST%'", db=None)[0][0]
               for n in S.SHARD_NAMES)


def _sleeper(conn, sql, out):
    try:
        q(conn, sql)
        out["r"] = "finished"
    except pymysql.err.MySQLError as e:
        out["r"] = e.args[0]


def test_kill_query_and_connection(sh):
    """KILL [QUERY | CONNECTION] <id> with the connection id a client got from myshard reaches
    the statement on every shard it runs on: the query gets 1317 and its session goes on; the
    connection is closed. Another user's session: 1095; no such session: 1094."""
    k1, k2 = keys("s1")[0], keys("s2")[0]
    c = sh.proxy_connect(DB)
    try:
        ins(c, k1, "sleepy")
        ins(c, k2, "sleepy")
    finally:
        c.close()
    a, b = sh.proxy_connect(DB), sh.proxy_connect(DB)
    try:
        # the id KILL takes is the one the client got at login, also from CONNECTION_ID()
        assert q(a, "SELECT CONNECTION_ID()") == ((a.thread_id(),),)
        for sql in ("SELECT SLEEP(30)",  # one shard
                    f"SELECT SUM(SLEEP(30)) FROM customers WHERE id IN ({k1}, {k2})"):  # two
            out = {}
            t = threading.Thread(target=_sleeper, args=(a, sql, out))
            t.start()
            H.wait_until(lambda: running(sh, "INFO LIKE '%SLEEP(30)%'")
                         == (1 if "SUM" not in sql else 2),
                         10, "the statement to run on the shards", 0.1)
            assert q(b, f"KILL QUERY {a.thread_id()}") == ()
            t.join(15)
            assert not t.is_alive() and out == {"r": 1317}, (sql, out)
            assert q(a, "SELECT 1") == ((1,),)  # the session goes on
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(b, "KILL 987654321")
        assert ei.value.args[0] == 1094, ei.value.args
        other = S._connect("127.0.0.1", sh.proxy_port, "nopw", "", DB)
        try:
            with pytest.raises(pymysql.err.MySQLError) as ei:
                q(other, f"KILL QUERY {a.thread_id()}")
            assert ei.value.args[0] == 1095, ei.value.args
        finally:
            other.close()
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(b, "KILL USER app")
        assert ei.value.args[0] == 1235, ei.value.args
        out = {}
        t = threading.Thread(target=_sleeper, args=(a, "SELECT SLEEP(30)", out))
        t.start()
        H.wait_until(lambda: running(sh, "INFO = 'SELECT SLEEP(30)'") == 1, 10,
                     "the sleep to run", 0.1)
        assert q(b, f"KILL CONNECTION {a.thread_id()}") == ()
        t.join(15)
        assert not t.is_alive() and out["r"] in (2013, 2006), out  # the connection is gone
        # ... and so is its statement on the shard (killed, not left to run 30 s)
        H.wait_until(lambda: running(sh, "INFO = 'SELECT SLEEP(30)'") == 0, 10,
                     "the sleep to be killed", 0.1)
    finally:
        a.close()
        b.close()


def test_com_process_kill(sh):
    """COM_PROCESS_KILL (the binary KILL drivers send, PyMySQL's kill()) takes the same ids as
    KILL: the target connection is closed and its statement on the shard killed; an unknown id
    gets 1094 and the killer's session goes on."""
    a, b = sh.proxy_connect(DB), sh.proxy_connect(DB)
    try:
        with pytest.raises(pymysql.err.MySQLError) as ei:
            b.kill(987654321)
        assert ei.value.args[0] == 1094, ei.value.args
        assert q(b, "SELECT 2") == ((2,),)
        out = {}
        t = threading.Thread(target=_sleeper, args=(a, "SELECT SLEEP(31)", out))
        t.start()
        H.wait_until(lambda: running(sh, "INFO = 'SELECT SLEEP(31)'") == 1, 10,
                     "the sleep to run", 0.1)
        assert b.kill(a.thread_id()).affected_rows == 0
        t.join(15)
        assert not t.is_alive() and out["r"] in (2013, 2006), out
        H.wait_until(lambda: running(sh, "INFO = 'SELECT SLEEP(31)'") == 0, 10,
                     "the sleep to be killed", 0.1)
        assert q(b, "SELECT 3") == ((3,),)
    finally:
        a.close()
        b.close()
