# SPDX-License-Identifier: Apache-2.0
"""
Real drivers through myshard (issue #5), continued: Go database/sql with go-sql-driver/mysql
(Debian's golang-github-go-sql-driver-mysql-dev, built in GOPATH mode). drivers/battery.go runs
the same kind of battery as test_drivers.py: with arguments the driver prepares on the server
and executes with typed parameters (LONGLONG signed and unsigned, DOUBLE, STRING, NULL; time
values as strings), reads binary rows, and sends big values with COM_STMT_SEND_LONG_DATA when
maxAllowedPacket is small; with interpolateParams=true or without arguments it uses COM_QUERY.
Its output through myshard must equal its output against the plain reference MariaDB, line
for line.
"""

import difflib
import os
import shutil
import subprocess

import pytest

import harness as H
import shardenv as S
from test_drivers import DB, run_both, sh, spread  # noqa: F401  (sh is a fixture)

pytestmark = pytest.mark.proxy_only

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = 8000  # customers ids BASE..BASE+5 (no other test uses them); BASE and BASE+1: two shards


@pytest.fixture(scope="session")
def go_battery(session_root):
    """drivers/battery.go compiled once per session into the session's temp dir (GOPATH mode;
    GOCACHE and HOME there too, since HOME may not be writable)."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("needs `go` (Debian packages golang-go golang-github-go-sql-driver-mysql-dev)")
    work = os.path.join(session_root, "go-battery")
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    exe = os.path.join(work, "battery")
    env = dict(os.environ, HOME=work, GOCACHE=os.path.join(work, "cache"),
               GOTMPDIR=os.path.join(work, "tmp"), GOPATH="/usr/share/gocode",
               GO111MODULE="off", GOENV="off", GOFLAGS="", CGO_ENABLED="0")
    r = subprocess.run([go, "build", "-o", exe, os.path.join(HERE, "drivers", "battery.go")],
                       cwd=work, env=env, capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    return exe


# Lines whose exact text is known whatever the server: the rows written, the aggregates over
# them, what a transaction over two shards leaves behind, the error codes (go-sql-driver/mysql
# 1.5 keeps no SQLSTATE, so code and message), and that the session goes on after each error.
EXACT = [
    "ping: ok",
    *(f"insert {BASE + i}: rows=1 lastid=0 errs=<nil>,<nil>" for i in range(6)),
    f"point {BASE + 99}: {{}}",
    'point missing: error "sql: no rows in result set"',
    'aggregates binary: {[int64(6), "15102.33", "2517.055000", "17.00", "5017.25", '
    "time(2024-02-29 13:14:00.123456 UTC), time(2024-02-29 13:14:05.123461 UTC), int64(4), "
    '"100", "gö ✓ 🙂 0"]}',
    'long data read: {[int64(300), "00070E151C232A31", "04efd1e6a4e06e3794694154279db582", '
    "int64(161), int64(1)]}",
    'tx rollback after: {[int64(8000), "gö ✓ 🙂 0", "17.00"]; '
    '[int64(8001), "gö ✓ 🙂 1", "1017.01"]}',
    'tx commit after: {[int64(8000), "tx", "18.50"]; [int64(8001), "tx", "1015.51"]}',
    "duplicate binary: error 1062 \"Duplicate entry '8000' for key 'PRIMARY'\"",
    "duplicate text: error 1062 \"Duplicate entry '8001' for key 'PRIMARY'\"",
    "bad prepare: error 1054 \"Unknown column 'nosuchcolumn' in 'SELECT'\"",
    "global insert: rows=1 lastid=0 errs=<nil>,<nil>",
    'global point: {["GO", "Gopherland ✓"]}',
    'after syntax scatter: {[int64(6), "100"]}',
    "after syntax global write: rows=1 lastid=0 errs=<nil>,<nil>",
    "conn ping: <nil>",
    "done",
]


def test_go_database_sql(sh, go_battery):
    proxy, ref = run_both(sh, lambda port: [
        go_battery, "127.0.0.1", str(port), H.APP_USER, H.APP_PASSWORD, DB, str(BASE)])
    diff = "\n".join(difflib.unified_diff(ref.splitlines(), proxy.splitlines(), "reference",
                                           "myshard", lineterm=""))
    assert proxy.splitlines() == ref.splitlines(), diff
    lines = proxy.splitlines()
    assert proxy.endswith("done\n") and len(lines) == 43, proxy
    for want in EXACT:
        assert want in lines, (want, proxy)
    errors = [ln.split(":")[0] for ln in lines if ": error " in ln]
    assert errors == ["point missing", "duplicate binary", "duplicate text", "bad prepare",
                      "syntax"], proxy
    assert spread(sh, BASE) == {S.customer_shard(k) for k in range(BASE, BASE + 6)}
    assert S.customer_shard(BASE) != S.customer_shard(BASE + 1)
