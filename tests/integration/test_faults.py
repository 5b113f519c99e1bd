# SPDX-License-Identifier: Apache-2.0
"""
Faults (issue #6): a shard killed with SIGKILL under write load and started again. Writes for
the other shard never stop; writes for the dead one fail fast once its health checks fail
(an ERR naming the shard, no connect timeout), SHOW SHARDS says "down", and once the server
is back traffic resumes by itself. Every insert that was acknowledged is on its shard
afterwards (the servers run with innodb_flush_log_at_trx_commit=1).
"""

import os
import signal
import threading
import time

import pymysql
import pytest

import harness as H
import shardenv as S

pytestmark = pytest.mark.proxy_only

SHARDING = """sharding:
  functions:
    - name: by_id
      kind: hash
      key_type: int
      ranges:
        - {keyspace: "-80", shard: s0}
        - {keyspace: "80-", shard: s1}
  tables:
    - {name: kv, key: id, function: by_id}
"""


def _keys_for(shard, start, n):
    """<n> ids from <start> that by_id maps to <shard> (keyspace ids below 0x80.. go to s0)."""
    out, k = [], start
    while len(out) < n:
        if ("s0" if S.ksid_int(k) < 0x8000000000000000 else "s1") == shard:
            out.append(k)
        k += 1
    return out


def _two_shards(request, session_root, names, extra_args=()):
    """Two servers of our own with the kv table, stopped at the end (resumed first if a test
    left one stopped with SIGSTOP); returns them and the shards list for a myshard config."""
    servers = H.start_mariadbs(session_root, names, extra_args=list(extra_args))

    def fin():
        for s in servers:
            if s.proc is not None and s.proc.poll() is None:
                s.proc.send_signal(signal.SIGCONT)
            try:
                s.stop()
            except H.HarnessError:
                pass
    request.addfinalizer(fin)
    for s in servers:
        H.provision_backend(s, direct=False)
        s.sql(f"CREATE TABLE {H.TEST_DB}.kv (id BIGINT PRIMARY KEY, v BIGINT)")
    return servers, [("s0", "127.0.0.1", servers[0].port), ("s1", "127.0.0.1", servers[1].port)]


class Writer(threading.Thread):
    """Inserts its keys one by one (autocommit), reconnecting after errors; records what was
    acknowledged and every error with its duration."""

    def __init__(self, port, keys):
        super().__init__(daemon=True)
        self.port, self.keys = port, keys
        self.acked, self.errors = [], []
        self.stop = threading.Event()
        self.conn = None

    def _connect(self):
        self.conn = pymysql.connect(host="127.0.0.1", port=self.port, user=H.APP_USER,
                                    password=H.APP_PASSWORD, database=H.TEST_DB,
                                    autocommit=True, connect_timeout=5, read_timeout=10)

    def run(self):
        for k in self.keys:
            if self.stop.is_set():
                return
            t0 = time.monotonic()
            try:
                if self.conn is None:
                    self._connect()
                with self.conn.cursor() as cur:
                    cur.execute("INSERT INTO kv (id, v) VALUES (%s, %s)", (k, k))
                self.acked.append(k)
            except pymysql.err.MySQLError as e:
                self.errors.append((e.args[0], str(e.args[1]) if len(e.args) > 1 else "",
                                    time.monotonic() - t0, time.monotonic()))
                time.sleep(0.01)  # pacing between failed attempts (not a synchronisation)


def test_shard_killed_under_write_load(request, session_root, myshard_bin):
    import conftest
    servers, shards = _two_shards(request, session_root, ["fault0", "fault1"],
                                  ["--innodb-flush-log-at-trx-commit=1"])
    admin_port = H.free_port()
    p = conftest.start_proxy(request, myshard_bin, session_root, "faults", shards,
                             extra_yaml=SHARDING + "admin:\n  listen: {address: 127.0.0.1, "
                             f"port: {admin_port}}}\n  users:\n    - {{name: admin, "
                             "password: adminpw}\n", health_ms=200)
    k0 = _keys_for("s0", 1, 20000)
    k1 = _keys_for("s1", 1, 20000)
    w0, w1 = Writer(p.port, k0), Writer(p.port, k1)
    w0.start()
    w1.start()
    H.wait_until(lambda: len(w0.acked) > 50 and len(w1.acked) > 50, 30, "writes on both shards")

    def shards_state():
        c = pymysql.connect(host="127.0.0.1", port=admin_port, user="admin", password="adminpw")
        try:
            return {r[1]: r[5] for r in H.query(c, "SHOW SHARDS")}
        finally:
            c.close()
    H.wait_until(lambda: shards_state() == {"s0": "up", "s1": "up"}, 10, "both shards up")

    # SIGKILL s1: its port closes, its rows stay on disk
    port1 = servers[1].port
    os.kill(servers[1].proc.pid, signal.SIGKILL)
    servers[1].proc.wait(timeout=10)
    servers[1].proc = None
    killed_at = time.monotonic()
    H.wait_until(lambda: shards_state()["s1"] == "down", 10, "s1 to be reported down")
    n0 = len(w0.acked)
    # fast failures naming the shard, while s0 keeps taking writes
    H.wait_until(lambda: len([e for e in w1.errors if e[3] > killed_at and
                              "shard s1 is down" in e[1]]) >= 5, 10, "fast failures on s1")
    fast = [e for e in w1.errors if "shard s1 is down" in e[1]]
    assert all(e[2] < 0.5 for e in fast), fast[:5]
    assert all(e[0] == 1158 for e in fast), fast[:5]
    H.wait_until(lambda: len(w0.acked) > n0 + 50, 20, "writes on s0 while s1 is down")
    assert shards_state()["s0"] == "up"

    # s1 comes back on its port: traffic resumes by itself
    servers[1].start(port=port1)
    servers[1].wait_ready()
    n1 = len(w1.acked)
    H.wait_until(lambda: len(w1.acked) > n1 + 20, 30, "writes on s1 after its restart")
    H.wait_until(lambda: shards_state()["s1"] == "up", 10, "s1 to be reported up again")
    w0.stop.set()
    w1.stop.set()
    w0.join(timeout=30)
    w1.join(timeout=30)

    # every acknowledged insert is on its shard
    for srv, w in ((servers[0], w0), (servers[1], w1)):
        rows = {r[0] for r in srv.sql(f"SELECT id FROM {H.TEST_DB}.kv")}
        missing = [k for k in w.acked if k not in rows]
        assert not missing, missing[:10]
    assert not [e for e in w0.errors], w0.errors[:5]  # s0 never failed


def test_statement_timeout(request, session_root, myshard_bin, backends):
    """timeouts.query_ms: a statement running longer is cut off. The client gets ERR 1969
    (70100) and its connection goes on; the query is killed on the server; a session whose
    connection held a transaction is closed (its transaction is gone)."""
    import conftest
    p = conftest.start_proxy(request, myshard_bin, session_root, "qtimeout",
                             conftest._shards_of(backends[:1]), health_ms=0, query_ms=500)
    srv = backends[0]
    c = pymysql.connect(host="127.0.0.1", port=p.port, user=H.APP_USER, password=H.APP_PASSWORD,
                        database=H.TEST_DB, autocommit=True, read_timeout=30)
    try:
        t0 = time.monotonic()
        with pytest.raises(pymysql.err.OperationalError) as e:
            H.query(c, "SELECT SLEEP(5), 'qtimeout-tag'")
        took = time.monotonic() - t0
        assert e.value.args[0] == 1969, e.value.args
        assert "timeouts.query_ms (500 ms)" in e.value.args[1], e.value.args
        assert 0.4 < took < 3, took
        assert H.query(c, "SELECT 7") == ((7,),)  # the client goes on
        assert H.query(c, "SELECT SLEEP(0.1), 8") == ((0, 8),)  # shorter ones are fine

        def killed():
            rows = srv.sql("SELECT COUNT(*) FROM information_schema.processlist "
                           "WHERE info LIKE '%qtimeout-tag%' AND info NOT LIKE '%processlist%'")
            return rows[0][0] == 0
        H.wait_until(killed, 10, "the cut-off query to be killed on the server", interval=0.05)
    finally:
        c.close()
    # inside a transaction: the transaction is lost, so is the session
    t = pymysql.connect(host="127.0.0.1", port=p.port, user=H.APP_USER, password=H.APP_PASSWORD,
                        database=H.TEST_DB, autocommit=False, read_timeout=30)
    try:
        H.query(t, "SELECT 1")
        with pytest.raises(pymysql.err.MySQLError) as e:
            H.query(t, "SELECT SLEEP(5)")
        assert e.value.args[0] in (1180, 2013), e.value.args
        with pytest.raises(pymysql.err.MySQLError):
            H.query(t, "SELECT 1")
    finally:
        try:
            t.close()
        except Exception:  # noqa: BLE001 - closed by the proxy
            pass


def test_client_stops_reading(request, session_root, myshard_bin, backends):
    """timeouts.client_write_ms: a client that reads none of a big result for that long is
    closed, its backend connection given up mid-result (the query stops on the server) and
    its open transaction rolled back; a client that reads slowly but steadily gets its whole
    result."""
    import conftest
    p = conftest.start_proxy(request, myshard_bin, session_root, "wstall",
                             conftest._shards_of(backends[:1]), health_ms=0,
                             client_write_ms=2000)
    srv = backends[0]
    srv.sql(f"CREATE TABLE {H.TEST_DB}.wstall (id INT PRIMARY KEY, v INT)",
            f"INSERT INTO {H.TEST_DB}.wstall VALUES (1, 1)")
    big = "SELECT REPEAT('x', 1048576), 'wstall-tag' FROM seq_1_to_60"
    try:
        # slow and steady: 512 KiB every 100 ms for 3 s, then the rest at once
        slow = H.RawClient("127.0.0.1", p.port, timeout=60)
        try:
            slow.login(database=H.TEST_DB)
            slow.command(H.COM_QUERY, big.encode())
            for _ in range(30):
                chunk = slow.sock.recv(524288)
                assert chunk, "closed while reading"
                slow.rbuf += chunk
                time.sleep(0.1)  # the reader's pace (what is under test), not a wait
            kind, cols, rows = slow.read_result()
            assert (kind, len(rows)) == ("rows", 60)
            assert all(r == [b"x" * 1048576, b"wstall-tag"] for r in rows)
            assert slow.query("SELECT 5") == ("rows", ["5"], [[b"5"]])
        finally:
            slow.close()
        assert "took none of its pending output" not in p.stderr_text()

        # stopped: inside a transaction that changed a row
        c = H.RawClient("127.0.0.1", p.port, timeout=60)
        try:
            c.login(database=H.TEST_DB)
            assert c.query("BEGIN")[0] == "ok"
            assert c.query("UPDATE wstall SET v = 2 WHERE id = 1")[0] == "ok"
            c.command(H.COM_QUERY, big.encode())
            H.wait_until(lambda: "took none of its pending output" in p.stderr_text(), 30,
                         "myshard to close the client that stopped reading")
            H.wait_until(lambda: srv.sql(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE "
                "'%wstall-tag%' AND info NOT LIKE '%processlist%'")[0][0] == 0, 30,
                "the statement to stop on the server")
            # its transaction ended (this update would wait for its row lock until then) by a
            # rollback (its change is gone). Up to 90 s: a loaded server was seen to keep a
            # closed connection's transaction for more than 30 s (issue #6's notes)
            srv.sql("SET SESSION innodb_lock_wait_timeout = 90",
                    f"UPDATE {H.TEST_DB}.wstall SET v = v WHERE id = 1")
            assert srv.sql(f"SELECT v FROM {H.TEST_DB}.wstall WHERE id = 1") == ((1,),)
            # the client's socket is closed: what it gets is a part of the result, then EOF
            got, deadline = 0, time.monotonic() + 30
            while time.monotonic() < deadline:
                c.sock.settimeout(deadline - time.monotonic())
                try:
                    chunk = c.sock.recv(1 << 20)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += len(chunk)
            else:
                raise AssertionError("the connection stayed open")
            assert got < 60 << 20, got
        finally:
            c.close()
        # everyone else is served
        d = pymysql.connect(host="127.0.0.1", port=p.port, user=H.APP_USER,
                            password=H.APP_PASSWORD, database=H.TEST_DB, autocommit=True)
        try:
            assert H.query(d, "SELECT v FROM wstall WHERE id = 1") == ((1,),)
        finally:
            d.close()
    finally:
        srv.sql(f"DROP TABLE {H.TEST_DB}.wstall")


def test_stalled_shard(request, session_root, myshard_bin):
    """A shard whose server stops answering (SIGSTOP): a statement already on it is cut off by
    timeouts.query_ms (ERR 1969); the health checks time out, the shard is reported down and
    its statements fail fast; the other shard serves all along; after SIGCONT it comes back."""
    import conftest
    servers, shards = _two_shards(request, session_root, ["stall0", "stall1"])
    p = conftest.start_proxy(request, myshard_bin, session_root, "stall", shards,
                             extra_yaml=SHARDING, health_ms=200, query_ms=1500)
    k0, k1 = _keys_for("s0", 1, 1)[0], _keys_for("s1", 1, 1)[0]

    def q1(sql):
        c = pymysql.connect(host="127.0.0.1", port=p.port, user=H.APP_USER,
                            password=H.APP_PASSWORD, database=H.TEST_DB, autocommit=True,
                            connect_timeout=5, read_timeout=30)
        try:
            return H.query(c, sql)
        finally:
            c.close()
    assert q1(f"SELECT COUNT(*) FROM kv WHERE id = {k1}") == ((0,),)
    servers[1].proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(pymysql.err.MySQLError) as e:
            q1(f"SELECT COUNT(*) FROM kv WHERE id = {k1}")
        took = time.monotonic() - t0
        assert e.value.args[0] in (1969, 1158), e.value.args  # cut off, or already down
        assert took < 5, took
        assert q1(f"SELECT COUNT(*) FROM kv WHERE id = {k0}") == ((0,),)  # s0 serves

        def fails_fast():
            t = time.monotonic()
            try:
                q1(f"SELECT COUNT(*) FROM kv WHERE id = {k1}")
            except pymysql.err.MySQLError as err:
                return err.args[0] == 1158 and "shard s1 is down" in err.args[1] and \
                    time.monotonic() - t < 0.5
            return False
        H.wait_until(fails_fast, 30, "s1 to be down and fail fast", interval=0.1)
        assert q1(f"SELECT COUNT(*) FROM kv WHERE id = {k0}") == ((0,),)
    finally:
        servers[1].proc.send_signal(signal.SIGCONT)

    def served():
        try:
            return q1(f"SELECT COUNT(*) FROM kv WHERE id = {k1}") == ((0,),)
        except pymysql.err.MySQLError:
            return False
    H.wait_until(served, 30, "s1 to serve again after SIGCONT", interval=0.1)
