# SPDX-License-Identifier: Apache-2.0
"""
The admin SQL port (issue #4) against real mariadbd servers: admin logins kept apart from
application logins, the staged config tables, APPLY DRY RUN / APPLY / ROLLBACK TOPOLOGY TO with
a shard endpoint moved to a server holding the same data, invalid changes refused with the
table, row and column named, denied statements, history, SAVE and a restart from the saved
store, a user added live, RELOAD, and continuous client traffic that sees no failure while the
map is re-applied and changed over and over.
"""

import os
import subprocess
import threading
import time

import pymysql
import pytest

import harness as H

pytestmark = pytest.mark.proxy_only

ADMIN_USER, ADMIN_PASSWORD = "ops", "opspw"
DB = "adm"
# customers.id values whose shard is known (docs/sharding.md, hash over "-80" / "80-")
SHARDING = """
sharding:
  default_shard: s0
  functions:
    - name: by_id
      kind: hash
      key_type: int
      ranges:
        - {keyspace: "-80", shard: s0}
        - {keyspace: "80-", shard: s1}
  tables:
    - {name: customers, key: id, function: by_id}
  global_tables:
    - {name: countries}
"""


def admin_yaml(port, store):
    return SHARDING + (f"admin:\n  listen: {{address: 127.0.0.1, port: {port}}}\n"
                       f"  users:\n    - {{name: {ADMIN_USER}, password: {ADMIN_PASSWORD}}}\n"
                       f"  store: {store}\n")


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


class Env:
    pass


@pytest.fixture(scope="module")
def env(request, session_root, myshard_bin):
    import conftest
    e = Env()
    e.servers = H.start_mariadbs(session_root, ["ad0", "ad1", "ad1b"])

    def fin():
        for s in e.servers:
            s.stop()
    request.addfinalizer(fin)
    for s in e.servers:
        s.sql(f"CREATE USER '{H.PROXY_USER}'@'127.0.0.1' IDENTIFIED BY '{H.PROXY_PASSWORD}'",
              f"GRANT ALL ON *.* TO '{H.PROXY_USER}'@'127.0.0.1'",
              f"CREATE DATABASE {DB}",
              f"CREATE TABLE {DB}.customers (id BIGINT PRIMARY KEY, name VARCHAR(20))",
              f"CREATE TABLE {DB}.countries (code CHAR(2) PRIMARY KEY, name VARCHAR(20))",
              f"INSERT INTO {DB}.countries VALUES ('FR', 'France'), ('JP', 'Japan')")
    e.admin_port = H.free_port()
    e.store = os.path.join(session_root, "admin-store.db")
    e.shards = [("s0", "127.0.0.1", e.servers[0].port), ("s1", "127.0.0.1", e.servers[1].port)]
    e.root = session_root
    e.binary = myshard_bin
    e.request = request
    e.start = lambda name: conftest.start_proxy(request, myshard_bin, session_root, name,
                                                e.shards,
                                                extra_yaml=admin_yaml(e.admin_port, e.store))
    e.proxy = e.start("admin")
    # rows through myshard: ids 1..40 spread over s0 and s1; ad1b gets a copy of s1's rows
    c = e.client()
    q(c, "INSERT INTO customers (id, name) VALUES " +
      ", ".join(f"({i}, 'c{i}')" for i in range(1, 41)))
    c.close()
    rows = e.servers[1].sql(f"SELECT id, name FROM {DB}.customers ORDER BY id")
    e.s1_ids = [r[0] for r in rows]
    assert 5 < len(e.s1_ids) < 35
    e.servers[2].sql(f"INSERT INTO {DB}.customers VALUES " +
                     ", ".join(f"({i}, '{n}')" for i, n in rows))
    return e


def _client(self, user=H.APP_USER, password=H.APP_PASSWORD):
    return pymysql.connect(host="127.0.0.1", port=self.proxy.port, user=user, password=password,
                           database=DB, autocommit=True, connect_timeout=10, read_timeout=60)


def _admin(self, user=ADMIN_USER, password=ADMIN_PASSWORD):
    return pymysql.connect(host="127.0.0.1", port=self.admin_port, user=user, password=password,
                           autocommit=True, connect_timeout=10, read_timeout=60)


Env.client = _client
Env.admin = _admin


def shard_port(c, shard):
    return q(c, f"/* myshard:shard={shard} */ SELECT @@port")[0][0]


def admin_err(a, sql):
    with pytest.raises(pymysql.err.MySQLError) as ei:
        q(a, sql)
    assert q(a, "SELECT 1") == (("1",),), "admin connection unusable after an error"
    return ei.value.args[0], ei.value.args[1]


def version(a):
    return dict(q(a, "SHOW VERSION"))["topology_version"]


def test_logins_are_kept_apart(env):
    a = env.admin()
    assert q(a, "SELECT name FROM shards ORDER BY name") == (("s0",), ("s1",))
    a.close()
    with pytest.raises(pymysql.err.OperationalError) as ei:  # application user on the admin port
        env.admin(H.APP_USER, H.APP_PASSWORD)
    assert ei.value.args[0] == 1045
    with pytest.raises(pymysql.err.OperationalError) as ei:  # admin user on the client port
        env.client(ADMIN_USER, ADMIN_PASSWORD)
    assert ei.value.args[0] == 1045
    with pytest.raises(pymysql.err.OperationalError) as ei:
        env.admin(ADMIN_USER, "wrong")
    assert ei.value.args[0] == 1045
    # the mariadb CLI works as is
    r = subprocess.run(["mariadb", "--no-defaults", "--protocol=tcp", "-h127.0.0.1",
                        f"-P{env.admin_port}", f"-u{ADMIN_USER}", f"-p{ADMIN_PASSWORD}", "-B",
                        "-e", "SELECT shard, port FROM endpoints ORDER BY shard"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"shard\tport\ns0\t{env.servers[0].port}\n"
                        f"s1\t{env.servers[1].port}\n")


def test_show_stats_and_pools(env):
    a, c = env.admin(), env.client()
    before = dict(q(a, "SHOW STATS"))
    assert before["workers"] == "2"
    for _ in range(10):
        assert q(c, "SELECT COUNT(*) FROM customers") == ((40,),)
    after = dict(q(a, "SHOW STATS"))
    assert int(after["commands"]) >= int(before["commands"]) + 10, (before, after)
    assert set(before) == {"clients_accepted", "clients_closed", "auth_failures", "commands",
                           "backend_connects", "backend_connect_failures", "backend_closed",
                           "pins", "replica_reads", "replica_fallbacks", "tx_commits", "tx_two_phase_commits", "tx_rollbacks",
                           "workers", "xa_recovered_commits", "xa_recovered_rollbacks",
                           "xa_recovery_passes", "deadlocks_across_shards"}
    assert q(a, "SHOW SERVERS") == (
        ("s0", "127.0.0.1", str(env.servers[0].port), "primary", "1", "up", "yes"),
        ("s1", "127.0.0.1", str(env.servers[1].port), "primary", "1", "up", "yes"))
    pools = q(a, "SHOW POOLS")
    assert {r[1] for r in pools} >= {"s0", "s1"}, pools
    for worker, shard, active, idle, connecting, waiting, mx in pools:
        assert worker in ("0", "1") and mx == "32"
        assert all(x.isdigit() for x in (active, idle, connecting, waiting)), pools
    # the client's worker keeps idle connections to both shards after its scatters
    assert any(int(r[3]) > 0 for r in pools if r[1] == "s1"), pools
    c.close()
    a.close()


def test_pause_and_resume_shard(env):
    a, c0, c1 = env.admin(), env.client(), env.client()
    sid = env.s1_ids[0]
    assert q(a, "PAUSE SHARD s1") == ()
    result = {}

    def blocked():
        try:
            t0 = time.monotonic()
            result["rows"] = q(c1, f"SELECT name FROM customers WHERE id = {sid}")
            result["secs"] = time.monotonic() - t0
        except Exception as ex:  # noqa: BLE001 - checked below
            result["error"] = repr(ex)

    t = threading.Thread(target=blocked)
    t.start()
    H.wait_until(lambda: any(r[1] == "s1" and int(r[5]) > 0 for r in q(a, "SHOW POOLS")), 10,
                 "a statement waiting on the paused shard s1")
    assert "rows" not in result and "error" not in result
    # other shards keep serving
    s0_id = next(i for i in range(1, 41) if i not in env.s1_ids)
    assert q(c0, f"SELECT name FROM customers WHERE id = {s0_id}") == ((f"c{s0_id}",),)
    code, msg = admin_err(a, "PAUSE SHARD s1")
    assert msg == "shard s1 is already paused"
    assert q(a, "RESUME SHARD s1") == ()
    t.join(timeout=30)
    assert result.get("rows") == ((f"c{sid}",),), result
    code, msg = admin_err(a, "RESUME SHARD s1")
    assert msg == "shard s1 is not paused"
    code, msg = admin_err(a, "PAUSE SHARD s9")
    assert msg == "no shard s9 in the live topology"
    # a pause that outlasts pool.wait_timeout_ms (5 s here) fails the statement, clearly
    q(a, "PAUSE SHARD s1")
    try:
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(c1, f"SELECT name FROM customers WHERE id = {sid}")
        assert ei.value.args[0] == 1205
        assert ei.value.args[1] == ("myshard: shard s1 is paused (PAUSE SHARD) and was not "
                                    "resumed within 5000 ms")
    finally:
        q(a, "RESUME SHARD s1")
    assert q(c1, f"SELECT name FROM customers WHERE id = {sid}") == ((f"c{sid}",),)
    for x in (a, c0, c1):
        x.close()


def test_admin_user_added_live(env):
    a = env.admin()
    with pytest.raises(pymysql.err.OperationalError):
        env.admin("ops2", "ops2pw")
    import hashlib
    h = "*" + hashlib.sha1(hashlib.sha1(b"ops2pw").digest()).hexdigest().upper()
    q(a, "INSERT INTO admin_users (name, password_hash) VALUES ('ops2', %s)", (h,))
    with pytest.raises(pymysql.err.OperationalError):  # staged only: not yet
        env.admin("ops2", "ops2pw")
    q(a, "APPLY")
    b = env.admin("ops2", "ops2pw")
    assert q(b, "SELECT name FROM runtime_admin_users") == (("ops2",),)
    with pytest.raises(pymysql.err.OperationalError):
        env.client("ops2", "ops2pw")  # an admin user is not an application user
    with pytest.raises(pymysql.err.OperationalError):
        env.admin("ops2", "wrong")
    q(a, "DELETE FROM admin_users WHERE name = 'ops2'")
    q(a, "APPLY")
    with pytest.raises(pymysql.err.OperationalError):
        env.admin("ops2", "ops2pw")
    b.close()
    a.close()


def test_show_and_kill_clients(env):
    a, c, d = env.admin(), env.client(), env.client()
    s0_id = next(i for i in range(1, 41) if i not in env.s1_ids)
    q(c, "BEGIN")  # the transaction takes a connection to s0 with its first statement
    q(c, f"SELECT COUNT(*) FROM customers WHERE id = {s0_id}")
    rows = {int(r[0]): r for r in q(a, "SHOW CLIENTS")}
    mine = rows[c.thread_id()]
    assert mine[2] == H.APP_USER and mine[3].startswith("127.0.0.1:") and mine[4] == DB, mine
    assert mine[5] == "idle" and mine[6] == "s0" and mine[8] == "yes", mine  # holds a transaction
    assert rows[d.thread_id()][8] == "no" and rows[d.thread_id()][6] == ""
    assert q(a, f"KILL CLIENT {c.thread_id()}") == ()
    with pytest.raises(pymysql.err.OperationalError):
        q(c, "SELECT 1")
    H.wait_until(lambda: c.thread_id() not in {int(r[0]) for r in q(a, "SHOW CLIENTS")}, 10,
                 "the killed client to leave SHOW CLIENTS")
    assert q(d, "SELECT COUNT(*) FROM customers WHERE id <= 40") == ((40,),)  # others go on
    code, msg = admin_err(a, "KILL CLIENT 999999999")
    assert (code, msg) == (1094, "Unknown client id: 999999999")
    d.close()
    a.close()


def test_show_query_digests(env):
    a, c = env.admin(), env.client()
    for i in (1, 2, 3):
        assert q(c, f"SELECT name AS dg FROM customers WHERE id = {i}") == ((f"c{i}",),)
    for _ in range(2):
        assert q(c, "SELECT COUNT(*) AS dg FROM customers WHERE name LIKE 'c%'") == ((40,),)
    with pytest.raises(pymysql.err.MySQLError):
        q(c, "SELECT a.id AS dg FROM customers a JOIN customers b ON a.name = b.name")
    rows = {r[0]: r[1:] for r in q(a, "SHOW QUERY DIGESTS")}
    # count, errors, total_us, max_us, rows_sent, shards_touched, scatter
    point = rows["SELECT name AS dg FROM customers WHERE id = ?"]
    assert (point[0], point[1], point[4], point[5], point[6]) == ("3", "0", "3", "3", "0"), point
    assert int(point[2]) >= int(point[3]) > 0
    scat = rows["SELECT COUNT(*) AS dg FROM customers WHERE name LIKE ?"]
    assert (scat[0], scat[1], scat[4], scat[5], scat[6]) == ("2", "0", "2", "4", "2"), scat
    bad = rows["SELECT a.id AS dg FROM customers a JOIN customers b ON a.name = b.name"]
    assert (bad[0], bad[1]) == ("1", "1"), bad
    assert (point[7], point[8]) == ("0", "")  # pins, pin_reason
    # a statement that pins its session is counted, with the reason
    d = env.client()
    q(d, "SELECT @dgv := 1 AS dg FROM customers WHERE id = 1")
    rows = {r[0]: r[1:] for r in q(a, "SHOW QUERY DIGESTS")}
    pinned = rows["SELECT @dgv := ? AS dg FROM customers WHERE id = ?"]
    assert (pinned[0], pinned[7], pinned[8]) == ("1", "1", "user_var"), pinned
    d.close()
    # server-side prepared executions count under their statement's digest (Perl DBD::MariaDB)
    perl = ("use DBI; my $d = DBI->connect('DBI:MariaDB:database=%s;host=127.0.0.1;port=%d;"
            "mariadb_server_prepare=1', '%s', '%s', {RaiseError => 1}); my $s = $d->prepare("
            "'SELECT name AS pdg FROM customers WHERE id = ?'); for my $i (1 .. 3) "
            "{ $s->execute($i); $s->fetchall_arrayref(); } print qq(ok\\n);"
            % (DB, env.proxy.port, H.APP_USER, H.APP_PASSWORD))
    r = subprocess.run(["perl", "-e", perl], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "ok\n", (r.stdout, r.stderr)
    rows = {r[0]: r[1:] for r in q(a, "SHOW QUERY DIGESTS")}
    prep = rows["SELECT name AS pdg FROM customers WHERE id = ?"]
    assert (prep[0], prep[1], prep[4], prep[5]) == ("3", "0", "3", "3"), prep
    c.close()
    a.close()


def test_denied_statements(env):
    a = env.admin()
    for sql in ("PRAGMA writable_schema = 1", "ATTACH DATABASE '/tmp/x.db' AS x",
                "DELETE FROM history", "UPDATE runtime_shards SET user = 'x'",
                "DROP TABLE shards", "CREATE TABLE t (a)", "BEGIN",
                "SELECT load_extension('x')"):
        code, msg = admin_err(a, sql)
        assert code == 1227 and msg.startswith("not allowed on the admin port"), (sql, code, msg)
    code, msg = admin_err(a, "SELECT * FROM nowhere")
    assert code == 1105 and msg.startswith("staged tables: "), msg
    code, msg = admin_err(a, "SHOW TABLES")
    assert code == 1064
    a.close()


def test_invalid_change_is_refused_and_nothing_changes(env):
    a = env.admin()
    v = version(a)
    assert q(a, "UPDATE function_ranges SET shard = 's9' WHERE keyspace = '80-'") == ()
    code, msg = admin_err(a, "APPLY")
    assert code == 1105
    assert msg.startswith("APPLY refused, nothing changed: function_ranges row (function=by_id, "
                          "keyspace=80-): shard: unknown shard \"s9\""), msg
    dry = dict(q(a, "APPLY DRY RUN"))
    assert dry["validation"].startswith("function_ranges row (function=by_id, keyspace=80-)")
    assert version(a) == v
    c = env.client()
    assert q(c, "SELECT COUNT(*) FROM customers") == ((40,),)
    q(a, "UPDATE function_ranges SET shard = 's1' WHERE keyspace = '80-'")
    assert dict(q(a, "APPLY DRY RUN")) == {"diff": "no changes", "validation": "ok"}
    # an endpoint nobody listens on is refused before any client sees it
    sock, dead = H.reserve_dead_port()
    q(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (dead,))
    try:
        code, msg = admin_err(a, "APPLY")
    finally:
        sock.close()
    assert msg == ("APPLY refused, nothing changed: endpoints row (shard=s1, host=127.0.0.1, "
                   f"port={dead}): cannot connect within 1000 ms: Connection refused"), msg
    assert version(a) == v
    q(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (env.servers[1].port,))
    assert dict(q(a, "APPLY DRY RUN")) == {"diff": "no changes", "validation": "ok"}
    c.close()
    a.close()


def test_move_endpoint_apply_and_rollback(env):
    a, c = env.admin(), env.client()
    v0 = version(a)
    assert shard_port(c, "s1") == env.servers[1].port
    q(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (env.servers[2].port,))
    dry = dict(q(a, "APPLY DRY RUN"))
    assert dry["validation"] == "ok"
    assert "endpoints" in dry["diff"] and str(env.servers[2].port) in dry["diff"], dry
    assert version(a) == v0  # a dry run changes nothing
    assert shard_port(c, "s1") == env.servers[1].port
    rows = q(a, "APPLY")
    assert len(rows) == 1 and int(rows[0][0]) == int(v0) + 1, rows
    assert version(a) == str(int(v0) + 1)
    assert shard_port(c, "s1") == env.servers[2].port  # the same session follows the change
    assert q(c, "SELECT COUNT(*) FROM customers") == ((40,),)
    assert [r[0] for r in q(c, "SELECT id FROM customers WHERE id IN (%s) ORDER BY id" %
                            ", ".join(map(str, env.s1_ids)))] == env.s1_ids
    hist = q(a, "SELECT version, admin_user FROM history ORDER BY version")
    assert hist[-1] == (str(int(v0) + 1), ADMIN_USER), hist  # admin columns are text
    assert q(a, "SELECT port FROM runtime_endpoints WHERE shard = 's1'") == \
        ((str(env.servers[2].port),),)
    # back to the first version
    rows = q(a, f"ROLLBACK TOPOLOGY TO {v0}")
    assert int(rows[0][0]) == int(v0) + 2 and rows[0][1].startswith(f"rollback to {v0}: ")
    assert shard_port(c, "s1") == env.servers[1].port
    assert q(a, "SELECT port FROM endpoints WHERE shard = 's1'") == ((str(env.servers[1].port),),)
    code, msg = admin_err(a, "ROLLBACK TOPOLOGY TO 999")
    assert msg == "ROLLBACK TOPOLOGY refused, nothing changed: no version 999 in history", msg
    c.close()
    a.close()


def test_held_connections_follow_moves_and_pauses(env):
    """A session keeps its backend connection after a write (to answer LAST_INSERT_ID() and the
    like); after an APPLY moves its shard, or a PAUSE, it must not keep writing to the old
    server or through the pause. A session in a transaction cannot follow a move: it gets a
    clear error and is closed."""
    a, c = env.admin(), env.client()
    sid = env.s1_ids[1]
    s0_id = next(i for i in range(1, 41) if i not in env.s1_ids)

    def names(sql_id):
        return [srv.sql(f"SELECT name FROM {DB}.customers WHERE id = {sql_id}")[0][0]
                for srv in env.servers[1:]]  # s1's two servers

    try:
        assert q(c, f"UPDATE customers SET name = 'h1' WHERE id = {sid}") == ()
        q(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (env.servers[2].port,))
        q(a, "APPLY")
        q(c, f"UPDATE customers SET name = 'h2' WHERE id = {sid}")
        assert names(sid) == ["h1", "h2"]  # the second write went to the new server
        q(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (env.servers[1].port,))
        q(a, "APPLY")
        # a pause holds a session that still holds a connection to the paused shard
        q(c, f"UPDATE customers SET name = 'h3' WHERE id = {sid}")
        q(a, "PAUSE SHARD s1")
        done = {}
        t = threading.Thread(target=lambda: done.setdefault(
            "r", q(c, f"UPDATE customers SET name = 'h4' WHERE id = {sid}")))
        t.start()
        H.wait_until(lambda: any(r[1] == "s1" and int(r[5]) > 0 for r in q(a, "SHOW POOLS")),
                     10, "the held session to wait on the paused shard")
        assert names(sid)[0] == "h3"
        q(a, "RESUME SHARD s1")
        t.join(timeout=30)
        assert "r" in done and names(sid)[0] == "h4"
        # a transaction on s0 cannot follow s0 to another server
        d = env.client()
        q(d, "BEGIN")
        q(d, f"SELECT name FROM customers WHERE id = {s0_id}")
        q(a, "UPDATE endpoints SET port = %s WHERE shard = 's0'", (env.servers[2].port,))
        q(a, "APPLY")
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(d, f"SELECT name FROM customers WHERE id = {s0_id}")
        assert ei.value.args[0] == 1105 and "moved to another server" in ei.value.args[1], \
            ei.value.args
        with pytest.raises(pymysql.err.MySQLError):
            q(d, "SELECT 1")  # closed
        q(a, "UPDATE endpoints SET port = %s WHERE shard = 's0'", (env.servers[0].port,))
        q(a, "APPLY")
    finally:
        for srv in env.servers[1:]:
            srv.sql(f"UPDATE {DB}.customers SET name = 'c{sid}' WHERE id = {sid}")
        c.close()
        a.close()
    c = env.client()
    assert q(c, f"SELECT name FROM customers WHERE id IN ({sid}, {s0_id}) ORDER BY id") == \
        tuple(sorted(((f"c{i}",) for i in (sid, s0_id))))
    c.close()


def test_user_added_live(env):
    a = env.admin()
    hashed = q(a, "SELECT password_hash FROM users WHERE name = %s", (H.APP_USER,))[0][0]
    assert hashed.startswith("*") and len(hashed) == 41
    with pytest.raises(pymysql.err.OperationalError):
        env.client("carol", H.APP_PASSWORD)
    q(a, "INSERT INTO users (name, password_hash) VALUES ('carol', %s)", (hashed,))
    q(a, "APPLY")
    c = env.client("carol", H.APP_PASSWORD)
    assert q(c, "SELECT COUNT(*) FROM customers") == ((40,),)
    c.close()
    q(a, "DELETE FROM users WHERE name = 'carol'")
    q(a, "APPLY")
    with pytest.raises(pymysql.err.OperationalError):
        env.client("carol", H.APP_PASSWORD)
    a.close()


def test_zero_failures_while_reapplying(env):
    """Clients read and write sharded and global tables without pause while the admin applies
    120 changes: s1's endpoint moves between two servers with the same s1 rows, the range 80-
    is re-pointed between s1 and s1b (a shard on the server holding the same rows), a global
    and a sharded table declaration come and go, a user comes and goes. Writes go to keys on
    s0 only (the two s1 servers must keep identical data); every statement must succeed with
    the right answer."""
    a = env.admin()
    # keys on s0: ask the router
    s0_ids = []
    c = env.client()
    for i in range(5000, 5400):
        if q(c, f"EXPLAIN ROUTE SELECT * FROM customers WHERE id = {i}")[0][1] == "s0":
            s0_ids.append(i)
    c.close()
    assert len(s0_ids) > 100
    stop = threading.Event()
    errors, counts = [], [0]
    lock = threading.Lock()

    def reader():
        cc = env.client()
        try:
            while not stop.is_set():
                assert [r[0] for r in q(cc, "SELECT id FROM customers WHERE id IN (%s) ORDER BY id"
                                        % ", ".join(map(str, env.s1_ids)))] == env.s1_ids
                assert q(cc, "SELECT name FROM countries WHERE code = 'JP'") == (("Japan",),)
                assert q(cc, "SELECT COUNT(*) FROM customers WHERE id <= 40") == ((40,),)
                with lock:
                    counts[0] += 3
        except Exception as ex:  # noqa: BLE001 - reported below
            errors.append(f"reader: {ex!r}")
        finally:
            cc.close()

    def writer(k):
        cc = env.client()
        try:
            mine = s0_ids[k::4]
            n = 0
            while not stop.is_set():
                i = mine[n % len(mine)]
                n += 1
                q(cc, f"REPLACE INTO customers (id, name) VALUES ({i}, 'w{n}')")
                assert q(cc, f"SELECT name FROM customers WHERE id = {i}") == ((f"w{n}",),)
                with lock:
                    counts[0] += 2
        except Exception as ex:  # noqa: BLE001
            errors.append(f"writer {k}: {ex!r}")
        finally:
            cc.close()

    threads = [threading.Thread(target=reader) for _ in range(3)] + \
              [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    # a second shard on the spare server, which holds the same rows as s1
    q(a, "INSERT INTO shards (name, user, password) SELECT 's1b', user, password FROM shards "
         "WHERE name = 's1'")
    q(a, "INSERT INTO endpoints (shard, host, port) VALUES ('s1b', '127.0.0.1', %s)",
      (env.servers[2].port,))
    q(a, "APPLY")
    v0 = int(version(a))
    try:
        for n in range(120):
            step = n % 8
            if step == 0:  # move s1's endpoint
                q(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (env.servers[2].port,))
            elif step == 1:  # declare a table, add a user
                q(a, "INSERT INTO global_tables (schema_name, name) VALUES ('', 'unused_t')")
                q(a, "INSERT INTO users (name, password_hash) SELECT 'dave', password_hash "
                     "FROM users WHERE name = %s", (H.APP_USER,))
            elif step == 2:
                q(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (env.servers[1].port,))
            elif step == 3:
                q(a, "DELETE FROM global_tables WHERE name = 'unused_t'")
                q(a, "DELETE FROM users WHERE name = 'dave'")
            elif step == 4:  # re-point a range to a shard holding the same data
                q(a, "UPDATE function_ranges SET shard = 's1b' WHERE keyspace = '80-'")
            elif step == 5:  # a sharded table added
                q(a, "INSERT INTO sharded_tables (schema_name, name, key_column, function) "
                     "VALUES ('', 'unused_s', 'id', 'by_id')")
            elif step == 6:
                q(a, "UPDATE function_ranges SET shard = 's1' WHERE keyspace = '80-'")
            else:
                q(a, "DELETE FROM sharded_tables WHERE name = 'unused_s'")
            q(a, "APPLY")
            if errors:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[:5]
    assert int(version(a)) == v0 + 120
    q(a, "DELETE FROM shards WHERE name = 's1b'")
    q(a, "DELETE FROM endpoints WHERE shard = 's1b'")
    q(a, "APPLY")
    assert counts[0] > 500, counts
    print(f"zero-failure load: {counts[0]} statements during 120 APPLYs")
    a.close()


def test_save_and_restart(env):
    a = env.admin()
    q(a, "UPDATE endpoints SET port = %s WHERE shard = 's1'", (env.servers[2].port,))
    q(a, "APPLY")
    v = version(a)
    assert q(a, "SAVE") == ()
    assert os.path.exists(env.store)
    a.close()
    # a second myshard from the same file comes back with the saved topology
    import conftest
    conf_port = env.admin_port
    conftest._started_proxies.remove(env.proxy)  # stopped on purpose
    assert env.proxy.stop() == []
    env.proxy = env.start("admin-restarted")
    assert env.admin_port == conf_port
    a = env.admin()
    assert version(a) == v
    c = env.client()
    assert shard_port(c, "s1") == env.servers[2].port
    c.close()
    a.close()


def test_reload_from_file(env):
    a = env.admin()
    v = int(version(a))
    rows = q(a, "RELOAD")
    assert int(rows[0][0]) == v + 1 and rows[0][1].startswith("reload: "), rows
    c = env.client()
    assert shard_port(c, "s1") == env.servers[1].port  # the file's endpoint again
    c.close()
    a.close()


def test_sighup_reloads(env):
    import signal
    a = env.admin()
    v = int(version(a))
    env.proxy.proc.send_signal(signal.SIGHUP)
    H.wait_until(lambda: int(version(a)) == v + 1, 10, "SIGHUP to apply the file as a version")
    assert q(a, "SELECT admin_user, summary FROM history ORDER BY version DESC LIMIT 1") == \
        (("SIGHUP", "reload: no changes"),)
    a.close()


def test_failed_logins_are_rate_limited(env):
    """Last in this module: it leaves 127.0.0.1 locked out of the admin port for a minute."""
    refused = None
    for n in range(12):
        with pytest.raises(pymysql.err.OperationalError) as ei:
            env.admin(ADMIN_USER, f"wrong{n}")
        if "Too many failed admin logins" in ei.value.args[1]:
            refused = n
            break
    assert refused is not None and refused <= 10, refused
    with pytest.raises(pymysql.err.OperationalError) as ei:  # even the right password now
        env.admin()
    assert ei.value.args == (1045, "Too many failed admin logins from 127.0.0.1 in the last "
                                   "60 s; try again later")
    c = env.client()  # the client port is not affected
    assert q(c, "SELECT COUNT(*) FROM customers WHERE id <= 40") == ((40,),)
    c.close()
    log = open(env.proxy.stderr_path).read()
    assert f"admin: failed login of '{ADMIN_USER}' from 127.0.0.1" in log
