# SPDX-License-Identifier: Apache-2.0
"""
Many clients (issue #6): thousands of connect / login / quit cycles leave nothing behind
(the proxy's client gauge comes back to where it was), and 10,000 logged-in idle clients are
held at once. Idle sessions hold no backend connection, so the cost is myshard's own memory
per connection: measured from the process's RSS and reported (goal: under 64 KiB; checked on
builds without sanitizers, whose redzones inflate every allocation).
"""

import os
import random
import resource
import urllib.request

import pytest

import harness as H

pytestmark = pytest.mark.proxy_only

IDLE = 10000


def _asan(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _clients(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("myshard_clients "):
                return int(float(line.split()[1]))
    raise AssertionError("no myshard_clients")


@pytest.fixture(scope="module")
def big(request, session_root, myshard_bin, backends):
    import conftest
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # myshard inherits it too
    request.addfinalizer(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
    mport = H.free_port()
    p = conftest.start_proxy(request, myshard_bin, session_root, "scale",
                             conftest._shards_of(backends[:1]), health_ms=0,
                             extra_yaml=f"metrics: {{address: 127.0.0.1, port: {mport}}}\n")
    p.metrics_port = mport
    p.fd_limit = hard
    return p


def _login(p):
    rc = H.RawClient("127.0.0.1", p.port, timeout=30)
    rc.login(database=H.TEST_DB)
    return rc


def _no_clients(p):
    """A fresh myshard has no client; the start-up probe's connection may still be closing."""
    H.wait_until(lambda: _clients(p.metrics_port) == 0, 20, "myshard to have no client")
    return 0


def test_connect_disconnect_cycles(big):
    base = _no_clients(big)
    for i in range(3000):
        rc = _login(big)
        if i % 100 == 0:
            rc.command(H.COM_QUERY, b"SELECT 1")
            kind, *rest = rc.read_result()
            assert kind == "rows" and rest[1] == [[b"1"]], (kind, rest)
        if i % 2:
            rc.command(H.COM_QUIT)
        rc.close()  # half with COM_QUIT, half just gone
    H.wait_until(lambda: _clients(big.metrics_port) == base, 20,
                 f"every closed client to be gone from myshard (from {base})")


def test_ten_thousand_idle_clients(big, myshard_bin, session_root):
    n = min(IDLE, big.fd_limit - 1000)  # (reported: the host's descriptor limit may be lower)
    base_clients = _no_clients(big)
    before = _rss_kib(big.proc.pid)
    held = []
    try:
        for _ in range(n):
            held.append(_login(big))
        assert _clients(big.metrics_port) == base_clients + n
        after = _rss_kib(big.proc.pid)
        per_conn = (after - before) * 1024 / n
        report = (f"{n} idle logged-in clients: myshard RSS {before} KiB -> {after} KiB, "
                  f"{per_conn / 1024:.1f} KiB per connection"
                  f"{' (ASan build)' if _asan(myshard_bin) else ''}")
        print(report)
        with open(os.path.join(session_root, "scale-report.txt"), "a") as f:
            f.write(report + "\n")
        # every one of them is still served
        for rc in random.Random(7).sample(held, 25):
            rc.command(H.COM_QUERY, b"SELECT 2")
            kind, *rest = rc.read_result()
            assert kind == "rows" and rest[1] == [[b"2"]], (kind, rest)
        if not _asan(myshard_bin):
            assert n == IDLE, f"the host allows {big.fd_limit} descriptors"
            assert per_conn < 64 * 1024, report
    finally:
        for rc in held:
            rc.close()
    H.wait_until(lambda: _clients(big.metrics_port) == base_clients, 30,
                 "the idle clients to be gone from myshard")
