# SPDX-License-Identifier: Apache-2.0
"""
Connector/C (libmariadb) through myshard (issue #5): drivers/battery.c runs text queries and
prepared statements of every parameter type (LONGLONG, DECIMAL as a string, DATETIME(6) via
MYSQL_TIME, BLOBs with zero bytes and long data in chunks, NULL; re-executed with new values
and re-bound with other types; reset; stored and row-by-row results; metadata; max_length;
read-only cursors), a transaction over two shards, errors and their codes, ping,
COM_RESET_CONNECTION, COM_CHANGE_USER and multi-statements switched by COM_SET_OPTION, against
myshard and against the plain reference server. The outputs must be identical, line for line.
"""

import difflib
import os
import subprocess

import pytest

import harness as H
import shardenv as S
from test_drivers import DB, q, run_both, sh, spread  # noqa: F401  (sh is a fixture)

pytestmark = pytest.mark.proxy_only

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = 11000  # this battery's customers ids: BASE..BASE+49


@pytest.fixture(scope="module")
def battery(session_root):
    out = os.path.join(session_root, "battery-cclient")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmariadb"], capture_output=True,
                           text=True, timeout=30)
    assert flags.returncode == 0, flags.stderr
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                        os.path.join(HERE, "drivers", "battery.c"), "-o", out,
                        *flags.stdout.split()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def placement(sh, lo, hi):
    """{id: shard} of the customers rows lo..hi, read on the shards themselves."""
    out = {}
    for i, name in enumerate(sh.shard_names):
        c = sh.shard_connect(i, DB)
        try:
            for (k,) in q(c, f"SELECT id FROM customers WHERE id BETWEEN {lo} AND {hi}"):
                assert k not in out, (k, out[k], name)
                out[k] = name
        finally:
            c.close()
    return out


def compare(proxy, ref):
    """The battery's output through myshard must equal the reference line for line; also the
    exact checks both runs share. Returns the lines."""
    diff = list(difflib.unified_diff(ref.splitlines(), proxy.splitlines(), "reference", "myshard",
                                     lineterm="", n=0))
    assert not diff, "\n".join(diff)
    lines = proxy.splitlines()
    assert lines[0] == "connected" and lines[-1] == "done" and len(lines) == 222, proxy
    # session tracking (CLIENT_SESSION_TRACK): what a server with default settings reports
    assert lines[1] == f"connect: in_trans=0 autocommit=1 changed=1 [1:{DB}]"
    assert "autocommit off: in_trans=0 autocommit=0 changed=1 [autocommit=OFF]" in lines
    assert ("SET time_zone = '+02:00': in_trans=0 autocommit=0 changed=1 [time_zone=+02:00]"
            in lines)
    assert "SET NAMES latin1: in_trans=0 autocommit=1 changed=1 [2:1]" in lines
    assert f"USE {DB}: in_trans=0 autocommit=1 changed=1 [2:1]" in lines
    return lines


def test_connector_c(sh, battery):
    # The two-shard transaction updates BASE and BASE+1.
    assert S.customer_shard(BASE) != S.customer_shard(BASE + 1)
    proxy, ref = run_both(sh, lambda port: [
        battery, "127.0.0.1", str(port), H.APP_USER, H.APP_PASSWORD, DB, str(BASE)])
    lines = compare(proxy, ref)
    assert "duplicate: error 1062 23000 Duplicate entry '11000' for key 'PRIMARY'" in lines
    assert "ps duplicate: error 1062 23000 Duplicate entry '11000' for key 'PRIMARY'" in lines
    assert spread(sh, BASE) == {S.customer_shard(k) for k in range(BASE, BASE + 6)}
    c = sh.reference_connect(DB)
    try:
        ids = [k for (k,) in q(c, "SELECT id FROM customers WHERE id BETWEEN %s AND %s ORDER BY id",
                               (BASE, BASE + 49))]
    finally:
        c.close()
    assert ids == [BASE + k for k in (*range(0, 7), *range(10, 18), 30)]
    assert placement(sh, BASE, BASE + 49) == {k: S.customer_shard(k) for k in ids}


def test_connector_c_compressed(sh, battery):
    """The same battery over the compressed protocol (MYSQL_OPT_COMPRESS, zlib) on a fresh
    schema: every result, error and multi-result crosses myshard's frames intact."""
    from test_drivers import SCHEMA, _drop_schema
    _drop_schema(sh)
    sh.create_schema(DB, SCHEMA, reference=True)
    base = 14010  # BASE and BASE+1 on two shards (the transaction)
    assert S.customer_shard(base) != S.customer_shard(base + 1)
    proxy, ref = run_both(sh, lambda port: [
        battery, "127.0.0.1", str(port), H.APP_USER, H.APP_PASSWORD, DB, str(base), "compress"])
    lines = compare(proxy, ref)
    assert f"duplicate: error 1062 23000 Duplicate entry '{base}' for key 'PRIMARY'" in lines
    assert spread(sh, base) == {S.customer_shard(k) for k in range(base, base + 6)}
