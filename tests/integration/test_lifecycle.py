# SPDX-License-Identifier: Apache-2.0
"""
Lifecycle (issue #6): SIGTERM drains. The listening socket closes at once (no new clients),
idle sessions are closed, a statement in flight finishes and its client gets its result, an
idle transaction rolls back, and the process exits 0 once every client is gone (or after
timeouts.shutdown_ms). With listen.reuse_port a second myshard can listen on the same port,
so a replacement takes the port over while the old one drains.
"""

import json
import os
import signal
import subprocess
import sys
import threading

import pymysql
import pytest

import harness as H

pytestmark = pytest.mark.proxy_only


def _closed_by_peer(conn, deadline_s):
    sock = conn._sock  # noqa: SLF001 - the raw socket shows the close
    sock.settimeout(deadline_s)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, OSError):
        return True


def test_sigterm_drains(request, session_root, myshard_bin, backends):
    import conftest
    p = H.Proxy(myshard_bin, session_root, "drain", conftest._shards_of(backends[:1]))
    p.start()
    try:
        srv = backends[0]
        srv.sql(f"CREATE TABLE IF NOT EXISTS {H.TEST_DB}.drain_t (id INT PRIMARY KEY, v INT)",
                f"REPLACE INTO {H.TEST_DB}.drain_t VALUES (1, 0)")
        idle = pymysql.connect(host="127.0.0.1", port=p.port, user=H.APP_USER,
                               password=H.APP_PASSWORD, database=H.TEST_DB, autocommit=True)
        in_tx = pymysql.connect(host="127.0.0.1", port=p.port, user=H.APP_USER,
                                password=H.APP_PASSWORD, database=H.TEST_DB, autocommit=False)
        H.query(in_tx, "UPDATE drain_t SET v = 99 WHERE id = 1")
        busy = pymysql.connect(host="127.0.0.1", port=p.port, user=H.APP_USER,
                               password=H.APP_PASSWORD, database=H.TEST_DB, autocommit=True,
                               read_timeout=30)
        result = []

        def slow():
            result.append(H.query(busy, "SELECT SLEEP(1.5), 42"))
        th = threading.Thread(target=slow, daemon=True)
        th.start()
        watch = srv.admin()

        def running():
            with watch.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM information_schema.processlist "
                            "WHERE info LIKE 'SELECT SLEEP(1.5)%'")
                return cur.fetchall()[0][0] == 1
        H.wait_until(running, 10, "the slow statement to run on the backend", interval=0.02)
        watch.close()
        os.kill(p.proc.pid, signal.SIGTERM)
        # no new clients: the listening socket is closed
        H.wait_until(lambda: not H.tcp_connectable("127.0.0.1", p.port), 5,
                     "the listening socket to close")
        assert _closed_by_peer(idle, 5)
        assert _closed_by_peer(in_tx, 5)
        th.join(timeout=15)
        assert result == [((0, 42),)], result  # the statement in flight finished
        assert _closed_by_peer(busy, 5)
        rc = p.proc.wait(timeout=10)
        assert rc == 0, H.file_tail(p.stderr_path)
        assert "draining" in p.stderr_text()
        assert p.sanitizer_report() is None, p.sanitizer_report()
        # the open transaction was rolled back
        c = srv.admin(H.TEST_DB)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT v FROM drain_t WHERE id = 1")
                assert cur.fetchall() == ((0,),)
        finally:
            c.close()
        for c in (idle, in_tx, busy):
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closed by the proxy already
                pass
    finally:
        if p.proc is not None and p.proc.poll() is not None:
            p.proc = None  # exited, as checked above
        p.stop()


def test_reuse_port_takeover(session_root, myshard_bin, backends):
    """Two myshards with listen.reuse_port on one port: both serve; SIGTERM to the first and
    the second goes on serving every new client on that port."""
    import conftest
    port = H.free_port()
    shards = conftest._shards_of(backends[:1])
    procs = []
    try:
        for name in ("take1", "take2"):
            path = os.path.join(session_root, name + ".yaml")
            with open(path, "w") as f:
                f.write(H.proxy_config_yaml(port, shards).replace(
                    f"listen: {{address: 127.0.0.1, port: {port}}}",
                    f"listen: {{address: 127.0.0.1, port: {port}, reuse_port: true}}"))
            procs.append(H.spawn([myshard_bin, "--config", path],
                                 os.path.join(session_root, name + ".stderr"),
                                 os.path.join(session_root, name + ".stderr")))
            H.wait_until(lambda: procs[-1].poll() is not None or
                         "ready" in open(os.path.join(session_root, name + ".stderr")).read(),
                         15, f"{name} to start")
            assert procs[-1].poll() is None, H.file_tail(os.path.join(session_root,
                                                                      name + ".stderr"))

        def one():
            c = pymysql.connect(host="127.0.0.1", port=port, user=H.APP_USER,
                                password=H.APP_PASSWORD, database=H.TEST_DB, connect_timeout=5)
            try:
                return H.query(c, "SELECT CONNECTION_ID() > 0")
            finally:
                c.close()
        for _ in range(20):
            assert one() == ((1,),)
        procs[0].send_signal(signal.SIGTERM)
        assert procs[0].wait(timeout=15) == 0
        for _ in range(50):
            assert one() == ((1,),)  # all on the second one now
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(timeout=15) == 0
        for name in ("take1", "take2"):
            text = open(os.path.join(session_root, name + ".stderr")).read()
            assert not any(m in text for m in H.SANITIZER_MARKERS), text[-3000:]
    finally:
        for pr in procs:
            if pr.poll() is None:
                H.stop_process(pr)


def test_takeover_drops_no_connection(session_root, myshard_bin):
    """An upgrade under a connection storm drops nothing: myshard B starts on A's ports
    (listen.reuse_port: client, admin, metrics), A gets SIGTERM and drains; then B to C and
    C to D. Clients connect, log in, run SELECT 1 and close, six at a time, all along. With
    net.ipv4.tcp_migrate_req=0 (the Linux default) a closing listener resets what is queued on
    it, so myshard must steer new connections to the newest process and empty its own queue
    before closing. The run happens in a network namespace of its own (`unshare -n`, loopback
    only) where the test pins the setting to 0; the host is not touched."""
    root = os.path.join(session_root, "takeover")
    os.makedirs(root, exist_ok=True)
    # as root a plain network namespace; otherwise one inside a user namespace of our own
    ns = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]
    r = subprocess.run([*ns, sys.executable,
                        os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "takeover_storm.py"), myshard_bin, root, "0"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    stats = json.loads(r.stdout.strip().splitlines()[-1])
    assert stats["failures"] == [], stats
    assert stats["attempts"] >= 600 and min(stats["during"]) > 0, stats
    for name in ("tkA", "tkB", "tkC", "tkD"):
        text = open(os.path.join(root, name + ".stderr")).read()
        assert not any(m in text for m in H.SANITIZER_MARKERS), text[-3000:]
