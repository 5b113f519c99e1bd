# SPDX-License-Identifier: Apache-2.0
"""
MariaDB Connector/J 2.7 (Debian libmariadb-java) through myshard, with useServerPrepStmts=true
so PreparedStatement runs COM_STMT_PREPARE/EXECUTE: the battery of test_drivers.py (inserts
with typed parameters and a batch, point reads re-executed, scatters over text and binary
protocol, aggregates, metadata, a long-data parameter, a transaction over two shards, errors,
isValid, reset, the global table) runs against myshard and against the plain reference
MariaDB; the outputs must be identical, line for line.
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
JAR = "/usr/share/java/mariadb-java-client.jar"
BASE = 9000  # customers 9000..9005: on s2, s0, s2, s1, s2, s2 (BASE and BASE+1: two shards)


@pytest.fixture(scope="session")
def java_battery(session_root):
    """The directory holding the compiled Battery.class (javac runs once per session)."""
    if not (shutil.which("javac") and shutil.which("java") and os.path.exists(JAR)):
        pytest.skip(f"needs a JDK and Connector/J ({JAR}): apt-get install default-jdk-headless "
                    "libmariadb-java")
    out = os.path.join(session_root, "java-battery")
    r = subprocess.run(["javac", "-encoding", "UTF-8", "-cp", JAR, "-d", out,
                        os.path.join(HERE, "drivers", "Battery.java")],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_connector_j_server_prepare(sh, java_battery):
    proxy, ref = run_both(sh, lambda port: [
        "java", "-Duser.timezone=UTC", "-Dfile.encoding=UTF-8", "-Dstdout.encoding=UTF-8",
        "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", f"{java_battery}:{JAR}", "Battery",
        "127.0.0.1", str(port), H.APP_USER, H.APP_PASSWORD, DB, str(BASE)])
    diff = "\n".join(difflib.unified_diff(ref.splitlines(), proxy.splitlines(), "reference",
                                           "myshard", lineterm="", n=0))
    assert proxy.splitlines() == ref.splitlines(), diff
    lines = proxy.splitlines()
    assert proxy.endswith("closed: Boolean:true\ndone\n") and len(lines) == 42, proxy
    assert "batch: [Integer:1, Integer:1]" in lines
    assert ("prepared duplicate: ['SQLIntegrityConstraintViolationException', Integer:1062, '23000', "
            f"'Duplicate entry '{BASE + 1}' for key 'PRIMARY'']") in lines
    assert ("text duplicate: ['SQLIntegrityConstraintViolationException', Integer:1062, '23000', "
            f"'Duplicate entry '{BASE}' for key 'PRIMARY'']") in lines
    assert f"scatter after reset: [[Long:{BASE}, Integer:0], [Long:{BASE + 1}, NULL], " \
        f"[Long:{BASE + 2}, Integer:-2], [Long:{BASE + 3}, Integer:-3], [Long:{BASE + 4}, NULL], " \
        f"[Long:{BASE + 5}, Integer:-5]]" in lines
    assert "global list: [['JV', 'Javaland'], ['JW', 'Jwaneng']]" in lines
    # The transaction's two rows (BASE, BASE + 1) live on two shards.
    assert S.customer_shard(BASE) != S.customer_shard(BASE + 1)
    assert spread(sh, BASE) == {S.customer_shard(k) for k in range(BASE, BASE + 6)}
