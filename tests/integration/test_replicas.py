# SPDX-License-Identifier: Apache-2.0
"""
Read replicas (issue #6 item 2) against real MariaDB replication: a primary with a binary log
and a replica replicating from it by GTID, both started here. A shard that lists replicas
sends reads outside transactions to a replica that passes its health check and lags at most
replica_reads.max_lag_s; writes, transactions, locking reads and a session's reads within
after_write_ms of its last write go to the primary. A replica that stops replicating or dies
stops getting reads by itself; an operator promotes a replica through the admin port and
traffic follows without a restart.

Which server answered is read from @@server_id (the primary is 1, the replica 2).
"""

import os
import signal
import subprocess
import threading

import pymysql
import pytest

import harness as H
from test_sharding_prepared import psclient  # noqa: F401  (the fixture)

pytestmark = pytest.mark.proxy_only

ADMIN = ("radmin", "radminpw")
DB = "rdb"


def _sid(c):
    return H.query(c, "SELECT @@server_id")[0][0]


@pytest.fixture(scope="module")
def rep(request, session_root, myshard_bin):
    import conftest
    primary = H.MariaDB(session_root, "rprimary",
                        ["--log-bin=rprimary-bin", "--server-id=1", "--binlog-format=ROW"])
    replica = H.MariaDB(session_root, "rreplica", ["--server-id=2", "--read-only=1"])
    # a second shard without replicas, for reads that span shards
    other = H.MariaDB(session_root, "rother", ["--server-id=3"])
    servers = [primary, replica, other]

    def fin():
        for s in servers:
            try:
                s.stop()
            except H.HarnessError:
                pass
    request.addfinalizer(fin)
    for s in servers:
        s.install()
        s.start()
    for s in servers:
        s.wait_ready()
    # everything from here on is in the primary's binary log: the replica replays it
    primary.sql("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'replpw'",
                "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'")
    H.provision_backend(primary, direct=False)
    H.provision_backend(other, direct=False)
    other.sql(f"CREATE DATABASE {DB}")
    primary.sql(f"CREATE DATABASE {DB}",
                f"CREATE TABLE {DB}.t (id BIGINT PRIMARY KEY, v VARCHAR(20))")
    replica.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
                "MASTER_USER='repl', MASTER_PASSWORD='replpw', MASTER_USE_GTID=slave_pos",
                "START SLAVE")
    H.wait_until(lambda: replica.sql(f"SELECT COUNT(*) FROM information_schema.tables "
                                     f"WHERE table_schema = '{DB}'")[0][0] == 1, 30,
                 "the replica to replay the primary's schema")
    admin_port = H.free_port()
    store = os.path.join(session_root, "replicas.store")
    p = conftest.start_proxy(
        request, myshard_bin, session_root, "replicas",
        [("s0", "127.0.0.1", primary.port), ("s1", "127.0.0.1", other.port)],
        replicas={"s0": [("127.0.0.1", replica.port)]}, health_ms=100,
        # (a read waiting for a paused shard outlasts APPLYs on a slow machine)
        pool_wait_ms=30000,
        extra_yaml="replica_reads: {max_lag_s: 5, after_write_ms: 60000}\n"
        # t is a sharded table (one shard): prepared statements on it run on the shard's own
        # prepared statements, which replicas can serve too
        "sharding:\n  functions:\n    - {name: by_id, kind: hash, key_type: int, "
        "ranges: [{keyspace: \"-\", shard: s0}]}\n"
        # u spans both shards: its scatters read s0's replica and s1
        "    - {name: by_k, kind: hash, key_type: int, "
        "ranges: [{keyspace: \"-80\", shard: s0}, {keyspace: \"80-\", shard: s1}]}\n"
        f"  tables:\n    - {{name: t, schema: {DB}, key: id, function: by_id}}\n"
        f"    - {{name: u, schema: {DB}, key: id, function: by_k}}\n"
        f"admin:\n  listen: {{address: 127.0.0.1, port: {admin_port}}}\n"
        f"  users:\n    - {{name: {ADMIN[0]}, password: {ADMIN[1]}}}\n  store: {store}\n")
    p.admin_port = admin_port
    p.primary, p.replica, p.other = primary, replica, other
    return p


def _admin(rep):
    return pymysql.connect(host="127.0.0.1", port=rep.admin_port, user=ADMIN[0],
                           password=ADMIN[1], autocommit=True)


def _admin_sql(rep, *stmts):
    """Runs admin statements (text, or (text, args)) on one admin connection; returns the rows
    of the last."""
    a = _admin(rep)
    try:
        rows = None
        for st in stmts:
            rows = H.query(a, *st) if isinstance(st, tuple) else H.query(a, st)
        return rows
    finally:
        a.close()


def _replicas(rep):
    return _admin_sql(rep, "SHOW REPLICAS")


def _stat(rep, name):
    return int(dict(_admin_sql(rep, "SHOW STATS"))[name])


def _connect(rep):
    return pymysql.connect(host="127.0.0.1", port=rep.port, user=H.APP_USER,
                           password=H.APP_PASSWORD, database=DB, autocommit=True)


def _reads_go_to(rep, sid, what):
    c = _connect(rep)
    try:
        H.wait_until(lambda: _sid(c) == sid, 15, what)
    finally:
        c.close()


def test_reads_split(rep):
    _reads_go_to(rep, 2, "reads to reach the replica")
    (row,) = _replicas(rep)
    shard, name, state, lag, serves = row[1], row[2], row[5], row[6], row[7]
    assert (shard, name, state, serves) == ("s0", f"s0@127.0.0.1:{rep.replica.port}", "up", "yes")
    assert lag is not None and 0 <= int(lag) <= 5
    reader, writer = _connect(rep), _connect(rep)
    try:
        assert [_sid(reader) for _ in range(20)] == [2] * 20
        # a write goes to the primary; the writing session reads from it for after_write_ms
        H.query(writer, "INSERT INTO t (id, v) VALUES (1, 'one')")
        assert _sid(writer) == 1
        assert H.query(writer, "SELECT v FROM t WHERE id = 1") == (("one",),)
        # writes on a binary-logging primary report @@last_gtid: that pins nothing
        (wid,) = H.query(writer, "SELECT CONNECTION_ID()")[0]
        clients = {int(r[0]): r for r in _admin_sql(rep, "SHOW CLIENTS")}
        assert clients[wid][7] == "no", clients[wid]
        # hints: a writer may still ask for a replica, anyone for the primary
        assert H.query(writer, "SELECT /* myshard:read=replica */ @@server_id") == ((2,),)
        assert H.query(reader, "SELECT /* myshard:read=primary */ @@server_id") == ((1,),)
        # other sessions read the replica, which has the row once it is replicated
        H.wait_until(lambda: H.query(reader, "SELECT v FROM t WHERE id = 1") == (("one",),), 15,
                     "the row on the replica")
        assert _sid(reader) == 2
        # transactions and locking reads: the primary
        H.query(reader, "BEGIN")
        assert _sid(reader) == 1
        H.query(reader, "COMMIT")
        assert H.query(reader, "SELECT @@server_id FROM t WHERE id = 1 FOR UPDATE") == ((1,),)
        assert H.query(reader, "SELECT @@server_id FROM t WHERE id = 1 LOCK IN SHARE MODE") == ((1,),)
        assert _sid(reader) == 2
        # the counter
        assert _stat(rep, "replica_reads") >= 22
    finally:
        reader.close()
        writer.close()


def _ps(psclient, rep, script):
    r = subprocess.run([psclient, "127.0.0.1", str(rep.port), H.APP_USER, H.APP_PASSWORD, DB],
                       input=script, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line.startswith(("row:", "ok:", "error:"))]


def test_prepared_reads_split(rep, psclient):
    """Executions of prepared statements on a configured table (Connector/C, binary protocol):
    reads on the replica, prepared there by myshard, locking reads on the primary; a prepared
    write, then that session's reads on the primary (after_write_ms counts prepared writes)."""
    _reads_go_to(rep, 2, "reads on the replica")
    assert _ps(psclient, rep, "SELECT @@server_id, v FROM t WHERE id = ?\ti:1\n"
               "SELECT @@server_id, v FROM t WHERE id = ?\ti:1\n"
               "SELECT @@server_id, v FROM t WHERE id = ? FOR UPDATE\ti:1\n") == \
        ["row: 2|one", "row: 2|one", "row: 1|one"]
    assert _ps(psclient, rep, "SELECT @@server_id, v FROM t WHERE id = ?\ti:1\n"
               "INSERT INTO t (id, v) VALUES (?, ?)\ti:5\ts:five\n"
               "SELECT @@server_id, v FROM t WHERE id = ?\ti:5\n") == \
        ["row: 2|one", "ok: affected 1 id 0", "row: 1|five"]


def test_replica_not_replicating(rep):
    _reads_go_to(rep, 2, "reads on the replica")
    rep.replica.sql("STOP SLAVE SQL_THREAD")
    try:
        # Seconds_Behind_Master is NULL: not a replica to read from
        _reads_go_to(rep, 1, "reads to go back to the primary")
        (row,) = _replicas(rep)
        assert (row[5], row[6], row[7]) == ("up", None, "no")
        c = _connect(rep)
        try:
            assert [_sid(c) for _ in range(10)] == [1] * 10
        finally:
            c.close()
    finally:
        rep.replica.sql("START SLAVE SQL_THREAD")
    _reads_go_to(rep, 2, "reads to come back to the replica")
    # a replica that is writable (read_only off) is not read from either
    rep.replica.sql("SET GLOBAL read_only = 0")
    try:
        _reads_go_to(rep, 1, "reads to leave the writable replica")
        (row,) = _replicas(rep)
        assert (row[5], row[7]) == ("up", "no")
    finally:
        rep.replica.sql("SET GLOBAL read_only = 1")
    _reads_go_to(rep, 2, "reads back on the read-only replica")


def _pool_conns(rep, name):
    return sum(int(r[2]) + int(r[3]) + int(r[4]) for r in _admin_sql(rep, "SHOW POOLS")
               if r[1] == name)


def test_scatter_reads_use_replicas(rep, psclient):
    """A read over several shards reads each shard from a replica where it has one (s0's
    replica, server 2) and from the primary where not (s1, server 3); inside a transaction
    every leg reads from a primary."""
    c = _connect(rep)
    try:
        H.query(c, "CREATE TABLE u (id BIGINT PRIMARY KEY, v INT)")
        H.query(c, "INSERT INTO u (id, v) VALUES " + ", ".join(f"({i}, {i})" for i in range(1, 41)))
        on0 = rep.primary.sql(f"SELECT COUNT(*) FROM {DB}.u")[0][0]
        on1 = rep.other.sql(f"SELECT COUNT(*) FROM {DB}.u")[0][0]
        assert on0 > 0 and on1 > 0 and on0 + on1 == 40, (on0, on1)
        H.wait_until(lambda: rep.replica.sql(f"SELECT COUNT(*) FROM {DB}.u")[0][0] == on0, 30,
                     "the replica to replay u's rows")
        reads = _stat(rep, "replica_reads")
        r = _connect(rep)  # a session that never wrote (after_write_ms)
        try:
            rows = H.query(r, "SELECT @@server_id AS sid, COUNT(*) FROM u GROUP BY sid ORDER BY sid")
            assert rows == ((2, on0), (3, on1)), rows
            assert _stat(rep, "replica_reads") == reads + 1
        finally:
            r.close()
        # a prepared execution over both shards (Connector/C, binary protocol) likewise
        assert _ps(psclient, rep, "SELECT @@server_id AS sid, COUNT(*) FROM u WHERE v > ? "
                   "GROUP BY sid ORDER BY sid\ti:0\n") == [f"row: 2|{on0}", f"row: 3|{on1}"]
        assert _stat(rep, "replica_reads") == reads + 2
        r = _connect(rep)
        try:
            H.query(r, "BEGIN")
            rows = H.query(r, "SELECT @@server_id AS sid, COUNT(*) FROM u GROUP BY sid ORDER BY sid")
            H.query(r, "COMMIT")
            assert rows == ((1, on0), (3, on1)), rows
        finally:
            r.close()
        # the writer reads its own writes: from the primaries
        rows = H.query(c, "SELECT @@server_id AS sid, COUNT(*) FROM u GROUP BY sid ORDER BY sid")
        assert rows == ((1, on0), (3, on1)), rows
    finally:
        c.close()


def test_replica_refuses_connections(rep):
    """A replica that passes its checks but refuses a new connection (here: myshard's login
    limited to one connection, which is taken: error 1226): the read waiting for it
    goes to the primary instead of failing."""
    _reads_go_to(rep, 2, "reads on the replica")
    name = f"s0@127.0.0.1:{rep.replica.port}"
    root = rep.replica.admin()
    try:
        # drop the pool's connections there (the checker's, without a schema, stays), then let
        # no new connection of myshard's login in: a limit of one, which <hog> takes (the
        # server counts only logins made while the account has a limit)
        H.query(root, f"ALTER USER '{H.PROXY_USER}'@'127.0.0.1' WITH MAX_USER_CONNECTIONS 1")
        hog = pymysql.connect(host="127.0.0.1", port=rep.replica.port, user=H.PROXY_USER,
                              password=H.PROXY_PASSWORD)
        for (cid,) in H.query(root, "SELECT id FROM information_schema.processlist "
                                    f"WHERE user = '{H.PROXY_USER}' AND db IS NOT NULL"):
            H.query(root, f"KILL CONNECTION {cid}")
        H.wait_until(lambda: _pool_conns(rep, name) == 0, 10, "the replica's pool to empty")
        with pytest.raises(pymysql.err.OperationalError) as e:
            pymysql.connect(host="127.0.0.1", port=rep.replica.port, user=H.PROXY_USER,
                            password=H.PROXY_PASSWORD)
        assert e.value.args[0] == 1226  # ER_USER_LIMIT_REACHED
        before = rep.stderr_text().count("read replica unavailable")
        fb0 = _stat(rep, "replica_fallbacks")
        c = _connect(rep)
        try:
            assert [_sid(c) for _ in range(10)] == [1] * 10
        finally:
            c.close()
        assert rep.stderr_text().count("read replica unavailable") - before == 10
        assert _stat(rep, "replica_fallbacks") - fb0 == 10
        # a read over both shards: s0's leg falls back to its primary too
        c = _connect(rep)
        try:
            rows = H.query(c, "SELECT @@server_id AS sid, COUNT(*) FROM u GROUP BY sid "
                              "ORDER BY sid")
        finally:
            c.close()
        assert [r[0] for r in rows] == [1, 3] and sum(r[1] for r in rows) == 40, rows
        assert rep.stderr_text().count("read replica of shard s0 unavailable, its leg reads "
                                       "from the primary") == 1
        assert _stat(rep, "replica_fallbacks") - fb0 == 11
        (row,) = _replicas(rep)
        assert (row[5], row[7]) == ("up", "yes")  # its checks still pass
    finally:
        H.query(root, f"ALTER USER '{H.PROXY_USER}'@'127.0.0.1' WITH MAX_USER_CONNECTIONS 0")
        hog.close()
        root.close()
    _reads_go_to(rep, 2, "reads back on the replica")


def _ensure_u(rep):
    """Table u (sharded over s0 and s1) with rows 1..40, replayed by s0's replica; returns a key
    on s0 and a key on s1."""
    c = _connect(rep)
    try:
        H.query(c, "CREATE TABLE IF NOT EXISTS u (id BIGINT PRIMARY KEY, v INT)")
        H.query(c, "INSERT IGNORE INTO u (id, v) VALUES "
                   + ", ".join(f"({i}, {i})" for i in range(1, 41)))
    finally:
        c.close()
    on0 = rep.primary.sql(f"SELECT COUNT(*), MIN(id) FROM {DB}.u")[0]
    H.wait_until(lambda: rep.replica.sql(f"SELECT COUNT(*) FROM {DB}.u")[0][0] == on0[0], 30,
                 "the replica to replay u's rows")
    return on0[1], rep.other.sql(f"SELECT MIN(id) FROM {DB}.u")[0][0]


def _set_state(rep, shard, state):
    """Sets the state of <shard>'s primary on the admin port and APPLYs it; returns the state
    SHOW SHARDS then reports."""
    rows = _admin_sql(rep, ("UPDATE endpoints SET state = %s WHERE shard = %s AND "
                            "role = 'primary'", (state, shard)), "APPLY", "SHOW SHARDS")
    return {r[1]: r[5] for r in rows}[shard]


def _err(conn, sql):
    with pytest.raises(pymysql.err.MySQLError) as e:
        H.query(conn, sql)
    return e.value.args


DOWN = "myshard: shard s1 is down (set by an operator: endpoints.state 'down')"
DRAINING = ("myshard: shard s1 is draining (endpoints.state 'draining'): it takes no new "
            "statements, only those of sessions that already hold a connection to it")


def test_primary_states(rep):
    """endpoints.state of a shard's primary, set on the admin port: 'down' refuses that shard's
    statements at once (other shards serve) and closes a session holding a transaction there
    at its next statement; 'draining' refuses new statements while a transaction already
    there goes on to its commit; 'paused' makes statements wait until it is 'up' again."""
    k0, k1 = _ensure_u(rep)
    c, held = _connect(rep), _connect(rep)
    try:
        assert _set_state(rep, "s1", "down") == "down"
        assert _err(c, f"SELECT v FROM u WHERE id = {k1}") == (1158, DOWN)
        assert _err(c, "SELECT COUNT(*) FROM u") == (1158, DOWN)  # a read over both shards
        assert H.query(c, f"SELECT v FROM u WHERE id = {k0}") == ((k0,),)
        assert _set_state(rep, "s1", "up") == "up"
        assert H.query(c, f"SELECT v FROM u WHERE id = {k1}") == ((k1,),)

        # draining: the transaction that holds s1 goes on; nothing new starts there. An idle
        # session that only keeps its last statement's connection (affected rows) loses it.
        idle = _connect(rep)
        H.query(idle, f"UPDATE u SET v = v + 1000 WHERE id = {k1}")
        H.query(held, "BEGIN")
        H.query(held, f"UPDATE u SET v = v + 100 WHERE id = {k1}")
        assert _set_state(rep, "s1", "draining") == "draining"
        assert _err(c, f"SELECT v FROM u WHERE id = {k1}") == (1158, DRAINING)
        assert H.query(held, f"SELECT v FROM u WHERE id = {k1}") == ((k1 + 1100,),)
        H.query(held, "COMMIT")
        assert rep.other.sql(f"SELECT v FROM {DB}.u WHERE id = {k1}") == ((k1 + 1100,),)
        # with the transaction over, no connection to s1 is left open
        H.wait_until(lambda: _pool_conns(rep, "s1") == 0, 10, "s1's connections to close")
        assert _err(held, f"SELECT v FROM u WHERE id = {k1}") == (1158, DRAINING)
        assert _err(idle, f"SELECT v FROM u WHERE id = {k1}") == (1158, DRAINING)
        idle.close()

        # paused: a statement waits; 'up' lets it run; RESUME SHARD does not lift the state
        assert _set_state(rep, "s1", "paused") == "paused"
        box = {}

        def read():
            try:
                box["rows"] = H.query(c, f"SELECT v FROM u WHERE id = {k1}")
            except Exception as e:  # noqa: BLE001 (reported by the assertion below)
                box["error"] = repr(e)
        t = threading.Thread(target=read)
        t.start()
        a = _admin(rep)
        try:
            H.wait_until(lambda: sum(int(r[5]) for r in H.query(a, "SHOW POOLS")
                                     if r[1] == "s1") == 1, 10, "the read to wait for s1")
            assert t.is_alive() and box == {}
            assert _err(a, "RESUME SHARD s1") == (
                1105, "shard s1 is not paused by PAUSE SHARD (its endpoints.state is 'paused': "
                "set it to 'up' and APPLY)")
        finally:
            a.close()
        assert _set_state(rep, "s1", "up") == "up"
        t.join(timeout=30)
        assert not t.is_alive() and box == {"rows": ((k1 + 1100,),)}

        # down under an open transaction there: the session is closed at its next
        # statement, and its transaction rolled back
        H.query(held, "BEGIN")
        H.query(held, f"UPDATE u SET v = 7 WHERE id = {k1}")
        assert _set_state(rep, "s1", "down") == "down"
        assert _err(held, f"SELECT v FROM u WHERE id = {k0}") == (
            1105, "myshard: shard s1 was set down by an operator while this session's "
            "transaction had work there; the transaction is rolled back; reconnect")
        H.wait_until(lambda: rep.other.sql("SELECT COUNT(*) FROM information_schema.innodb_trx")
                     [0][0] == 0, 10, "the transaction to roll back")
        assert rep.other.sql(f"SELECT v FROM {DB}.u WHERE id = {k1}") == ((k1 + 1100,),)

        # a primary set down need not accept connections: it can move to a server not up yet
        dsock, dead = H.reserve_dead_port()
        a = _admin(rep)
        try:
            H.query(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (dead,))
            H.query(a, "APPLY")
            H.query(a, "UPDATE endpoints SET state = 'up' WHERE shard = 's1'")
            code, msg = _err(a, "APPLY")
            assert code == 1105 and msg.startswith(
                f"APPLY refused, nothing changed: endpoints row (shard=s1, host=127.0.0.1, "
                f"port={dead}): cannot connect within 1000 ms"), msg
            assert _err(c, f"SELECT v FROM u WHERE id = {k1}") == (1158, DOWN)
            H.query(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (rep.other.port,))
        finally:
            a.close()
            dsock.close()
    finally:
        c.close()
        held.close()
        _admin_sql(rep, ("UPDATE endpoints SET port = %s, state = 'up' WHERE shard = 's1'",
                         (rep.other.port,)), "APPLY")
    c = _connect(rep)
    try:
        H.query(c, f"UPDATE u SET v = {k1} WHERE id = {k1}")
        assert H.query(c, "SELECT COUNT(*), SUM(v = id) FROM u") == ((40, 40),)
    finally:
        c.close()


@pytest.fixture
def replica2(request, session_root, rep):
    """A second replica of s0's primary (server 4), not yet known to myshard."""
    r = H.MariaDB(session_root, "rreplica2", ["--server-id=4", "--read-only=1"])
    request.addfinalizer(r.stop)
    r.install()
    r.start()
    r.wait_ready()
    r.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={rep.primary.port}, "
          "MASTER_USER='repl', MASTER_PASSWORD='replpw', MASTER_USE_GTID=slave_pos",
          "START SLAVE")
    H.wait_until(lambda: r.sql(f"SELECT COUNT(*) FROM information_schema.tables "
                               f"WHERE table_schema = '{DB}' AND table_name = 't'")[0][0] == 1,
                 30, "the second replica to replay the schema")
    return r


def test_replica_weights(rep, replica2):
    """Two replicas of s0 with weights 1 and 3: of any 400 reads in a row on one worker
    (one client), the first takes 100 and the second 300. A weight of 0 takes a replica out."""
    _reads_go_to(rep, 2, "reads on the replica")
    a = _admin(rep)
    try:
        H.query(a, "INSERT INTO endpoints (shard, host, port, role, weight) VALUES "
                   "('s0', '127.0.0.1', %s, 'replica', 3)", (replica2.port,))
        H.query(a, "APPLY")

        def serving():
            return sorted((r[2], r[7]) for r in H.query(a, "SHOW REPLICAS"))
        want = sorted([(f"s0@127.0.0.1:{rep.replica.port}", "yes"),
                       (f"s0@127.0.0.1:{replica2.port}", "yes")])
        H.wait_until(lambda: serving() == want, 30, "both replicas to serve reads")

        def failed_checks():
            return sum(int(r[9]) for r in H.query(a, "SHOW REPLICAS"))
        c = _connect(rep)
        try:
            for _ in range(3):  # a run during which a health check failed is run again
                before = failed_checks()
                sids = [_sid(c) for _ in range(400)]
                if failed_checks() == before:
                    break
            assert {sid: sids.count(sid) for sid in set(sids)} == {2: 100, 4: 300}
        finally:
            c.close()
        H.query(a, "UPDATE endpoints SET weight = 0 WHERE port = %s", (replica2.port,))
        H.query(a, "APPLY")
        assert [r[2] for r in H.query(a, "SHOW REPLICAS")] == \
            [f"s0@127.0.0.1:{rep.replica.port}"]
        c = _connect(rep)
        try:
            assert [_sid(c) for _ in range(20)] == [2] * 20
        finally:
            c.close()
    finally:
        H.query(a, "DELETE FROM endpoints WHERE port = %s", (replica2.port,))
        H.query(a, "APPLY")
        a.close()


def test_replica_dies_and_promotion(rep):
    """Last in the module: it kills the replica, restarts it and promotes it."""
    _ensure_u(rep)
    on0 = rep.primary.sql(f"SELECT COUNT(*) FROM {DB}.u")[0][0]
    _reads_go_to(rep, 2, "reads on the replica")
    # reads under way on the replica when it dies, before any of their reply came, run again
    # on the primary, and the client gets the primary's answer, not an error: a one-shard read
    # (sleeping there), and s0's leg of a read over both shards (waiting there for a table
    # lock, so nothing of its reply is sent; s1's leg answers meanwhile)
    fallbacks = _stat(rep, "replica_fallbacks")
    locker = rep.replica.admin(db=DB)
    H.query(locker, "LOCK TABLES u WRITE")
    scat, sbox = _connect(rep), {}

    def scatter_read():
        try:
            sbox["rows"] = H.query(scat, "SELECT @@server_id AS sid, COUNT(*) FROM u "
                                         "GROUP BY sid ORDER BY sid")
        except Exception as e:  # noqa: BLE001 (reported by the assertion below)
            sbox["error"] = repr(e)
    st = threading.Thread(target=scatter_read)
    st.start()
    H.wait_until(lambda: rep.replica.sql(
        "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE "
        "'SELECT @@server_id AS sid%' AND state = 'Waiting for table metadata lock'")[0][0] == 1,
        15, "the scatter's leg to wait on the replica")
    slow = _connect(rep)
    box = {}

    def slow_read():
        try:
            box["rows"] = H.query(slow, "SELECT SLEEP(4), @@server_id")
        except Exception as e:  # noqa: BLE001 (reported by the assertion below)
            box["error"] = repr(e)
    t = threading.Thread(target=slow_read)
    t.start()
    H.wait_until(lambda: rep.replica.sql(
        "SELECT COUNT(*) FROM information_schema.processlist "
        "WHERE info LIKE 'SELECT SLEEP(4)%'")[0][0] == 1, 15, "the read to run on the replica")
    os.kill(rep.replica.proc.pid, signal.SIGKILL)
    rep.replica.proc.wait(timeout=30)
    rep.replica.proc = None
    t.join(timeout=30)
    st.join(timeout=30)
    assert not t.is_alive() and not st.is_alive()
    slow.close()
    scat.close()
    locker.close()
    assert box == {"rows": ((0, 1),)}
    assert sbox == {"rows": ((1, on0), (3, 40 - on0))}
    assert _stat(rep, "replica_fallbacks") == fallbacks + 2
    assert rep.stderr_text().count(f"read replica s0@127.0.0.1:{rep.replica.port} lost before "
                                   "its leg's reply") == 1
    # once its checks fail it gets no reads; from then on no read fails
    _reads_go_to(rep, 1, "reads to go back to the primary")
    c = _connect(rep)
    try:
        assert [_sid(c) for _ in range(20)] == [1] * 20
        assert H.query(c, "SELECT v FROM t WHERE id = 1") == (("one",),)
    finally:
        c.close()
    # (reads left it at its first failed check; "down" follows the second)
    H.wait_until(lambda: _replicas(rep)[0][5] == "down", 15, "the replica reported down")
    # back up: it catches up by itself and serves reads again
    rep.replica.start(port=rep.replica.port)
    rep.replica.wait_ready()
    _reads_go_to(rep, 2, "reads on the restarted replica")

    # promotion: the replica stops replicating and becomes the primary; the old primary is
    # kept as a replica (not replicating, so it gets no reads)
    rep.replica.sql("STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0")
    _admin_sql(rep, ("UPDATE endpoints SET role = 'replica' WHERE shard = 's0' AND port = %s",
                     (rep.primary.port,)),
               ("UPDATE endpoints SET role = 'primary' WHERE shard = 's0' AND port = %s",
                (rep.replica.port,)), "APPLY")
    c = _connect(rep)
    try:
        H.query(c, "BEGIN")
        assert _sid(c) == 2
        H.query(c, "INSERT INTO t (id, v) VALUES (2, 'two')")
        H.query(c, "COMMIT")
        assert _sid(c) == 2  # the old primary does not replicate: no reads there
    finally:
        c.close()
    assert rep.replica.sql(f"SELECT v FROM {DB}.t WHERE id = 2") == (("two",),)
    assert rep.primary.sql(f"SELECT COUNT(*) FROM {DB}.t WHERE id = 2") == ((0,),)
    (row,) = _replicas(rep)
    assert (row[2], row[7]) == (f"s0@127.0.0.1:{rep.primary.port}", "no")
