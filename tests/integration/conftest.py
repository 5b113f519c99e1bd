# SPDX-License-Identifier: Apache-2.0
"""
Shared fixtures. Three modes, chosen by the environment:

  (default)              start 2 mariadbd + myshard (MYSHARD_BIN, else $MYSHARD_BUILD_DIR or
                         build/ + proxy/myshard); clients talk to myshard.
  MYSHARD_TEST_DIRECT=1  clients talk to the first mariadbd itself (users app/nopw exist
                         there too): checks that the tests' expectations are those of a real
                         server. Tests marked proxy_only are skipped.
  MYSHARD_TEST_TARGET=host:port
                         clients talk to an already-running proxy (its users app/apppw and
                         nopw/"" must exist, its backend must let it create schemas). Tests
                         that need the backend's root account are skipped; tests that start
                         their own myshard still do so if the binary is there.
"""

import os

import pytest

import harness as H
import shardenv

MODE = ("external" if os.environ.get("MYSHARD_TEST_TARGET")
        else "direct" if os.environ.get("MYSHARD_TEST_DIRECT", "") not in ("", "0")
        else "proxy")

_started_proxies = []
_trouble = []  # set when a process misbehaved outside a test's own report: keep the logs


def pytest_configure(config):
    config.addinivalue_line("markers", "proxy_only: needs a myshard process (skipped in direct mode)")


def pytest_sessionstart(session):
    H.install_signal_handlers()
    if MODE == "proxy":
        b = H.default_myshard_bin()
        if not os.access(b, os.X_OK):
            raise pytest.UsageError(
                f"myshard binary not found at {b}: build it (meson setup build && ninja -C build), "
                "or set MYSHARD_BIN, MYSHARD_TEST_DIRECT=1 or MYSHARD_TEST_TARGET=host:port")


def pytest_report_header(config):
    extra = ""
    if MODE == "proxy":
        extra = f" binary={H.default_myshard_bin()}"
    elif MODE == "external":
        extra = f" target={os.environ['MYSHARD_TEST_TARGET']}"
    return f"myshard integration mode: {MODE}{extra}"


def pytest_collection_modifyitems(config, items):
    if MODE != "direct":
        return
    skip = pytest.mark.skip(reason="proxy-only behaviour; MYSHARD_TEST_DIRECT=1 talks to mariadbd")
    for item in items:
        if "proxy_only" in item.keywords:
            item.add_marker(skip)


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def session_root(request):
    root = H.make_tempdir("myshard-it-")

    def fin():
        if (request.session.testsfailed or _trouble) and not os.environ.get("MYSHARD_TEST_KEEP"):
            # Keep the logs and configs for a look, drop the (large) datadirs.
            for e in os.scandir(root):
                if e.is_dir():
                    H.remove_tree(e.path)
            print(f"\nmyshard integration: logs kept in {root}")
        elif os.environ.get("MYSHARD_TEST_KEEP"):
            print(f"\nmyshard integration: everything kept in {root}")
        else:
            H.remove_tree(root)
    request.addfinalizer(fin)
    return root


@pytest.fixture(scope="session")
def myshard_bin():
    b = H.default_myshard_bin()
    if not os.access(b, os.X_OK):
        if MODE == "proxy":
            pytest.fail(f"myshard binary not found at {b}")
        pytest.skip(f"needs the myshard binary ({b} not found)")
    return b


@pytest.fixture(scope="session")
def backends(request, session_root):
    """Two provisioned mariadbd servers (s0, s1)."""
    servers = H.start_mariadbs(session_root, ["d0", "d1"])

    def fin():
        errors = []
        for s in servers:
            try:
                s.stop()
            except H.HarnessError as e:
                errors.append(str(e))
        if errors:
            _trouble.append("mariadbd")
            pytest.fail("\n".join(errors))
    request.addfinalizer(fin)
    for s in servers:
        H.provision_backend(s, direct=(MODE == "direct"))
    return servers


def start_proxy(request, binary, root, name, shards, **conf):
    """Starts a myshard; its finalizer stops it and fails the session on an unclean exit or a
    sanitizer report."""
    p = H.Proxy(binary, root, name, shards, **conf)

    def fin():
        if p in _started_proxies:
            _started_proxies.remove(p)
        problems = p.stop()
        if problems:
            _trouble.append(p.name)
            problems.append(f"(logs in {root})")
            pytest.fail("\n".join(problems), pytrace=False)
    request.addfinalizer(fin)
    p.start()
    _started_proxies.append(p)
    return p


def _shards_of(servers):
    return [(f"s{i}", "127.0.0.1", s.port) for i, s in enumerate(servers)]


@pytest.fixture(scope="session")
def target(request, session_root):
    """Where the tests' clients connect (see the module docstring)."""
    if MODE == "external":
        host, _, port = os.environ["MYSHARD_TEST_TARGET"].rpartition(":")
        t = H.Target(host or "127.0.0.1", int(port), "external")
        c = t.connect(database=None)
        try:
            H.query(c, f"CREATE DATABASE IF NOT EXISTS {H.TEST_DB}")
            H.query(c, f"CREATE DATABASE IF NOT EXISTS {H.TEST_DB2}")
        finally:
            c.close()
        return t
    servers = request.getfixturevalue("backends")
    if MODE == "direct":
        return H.Target("127.0.0.1", servers[0].port, "direct", backend=servers[0], pool_limit=64)
    binary = request.getfixturevalue("myshard_bin")
    # Issue #2: only the first shard is used; the second is listed so the config is realistic.
    # No health checks: the tiny pool's tests count every proxy connection on the second
    # server (health checks are tested with proxies of their own, test_faults.py).
    p = start_proxy(request, binary, session_root, "main", _shards_of(servers), health_ms=0)
    return H.Target("127.0.0.1", p.port, "proxy", backend=servers[0], proxy=p, pool_limit=2 * 32)


@pytest.fixture(scope="session")
def small_packet_target(request, session_root):
    """A target that accepts client payloads of at most 1 MiB: a myshard with max_packet 1MiB,
    or in direct mode a mariadbd with max_allowed_packet=1M."""
    if MODE == "direct":
        (s,) = H.start_mariadbs(session_root, ["d2"], ["--max-allowed-packet=1M"])
        request.addfinalizer(s.stop)
        H.provision_backend(s, direct=True)
        return H.Target("127.0.0.1", s.port, "direct", backend=s)
    binary = request.getfixturevalue("myshard_bin")
    servers = request.getfixturevalue("backends")
    p = start_proxy(request, binary, session_root, "smallpkt", _shards_of(servers[:1]),
                    max_packet="1MiB")
    return H.Target("127.0.0.1", p.port, "proxy", backend=servers[0], proxy=p)


@pytest.fixture(scope="session")
def tiny_pool_target(request, session_root):
    """A myshard with 1 worker and at most 2 backend connections (on the second server), so
    concurrent clients must share backend connections. In direct mode: the usual target."""
    if MODE == "direct":
        return request.getfixturevalue("target")
    binary = request.getfixturevalue("myshard_bin")
    servers = request.getfixturevalue("backends")
    # Its shard is the second server, which nothing else uses: every connection of the proxy
    # user there belongs to this pool (no health checks: their connection would count too).
    p = start_proxy(request, binary, session_root, "tinypool", [("s0", "127.0.0.1", servers[1].port)],
                    workers=1, pool_max=2, pool_wait_ms=20000, health_ms=0)
    return H.Target("127.0.0.1", p.port, "proxy", backend=servers[1], proxy=p, pool_limit=2)


@pytest.fixture(scope="session")
def dead_backend_target(request, session_root):
    """A myshard whose only shard s0 points at a loopback port where nothing listens."""
    if MODE == "direct":
        pytest.skip("proxy-only")
    binary = request.getfixturevalue("myshard_bin")
    sock, port = H.reserve_dead_port()
    request.addfinalizer(sock.close)
    p = start_proxy(request, binary, session_root, "deadbackend", [("s0", "127.0.0.1", port)],
                    connect_ms=2000)
    return H.Target("127.0.0.1", p.port, "proxy", proxy=p)


@pytest.fixture(scope="session")
def idle_timeout_target(request, session_root):
    """A myshard that closes clients idle for more than 700 ms, or not logged in within 700 ms."""
    if MODE == "direct":
        pytest.skip("proxy-only: timeouts.client_idle_ms")
    binary = request.getfixturevalue("myshard_bin")
    servers = request.getfixturevalue("backends")
    p = start_proxy(request, binary, session_root, "idle", _shards_of(servers[:1]),
                    client_idle_ms=700, login_ms=700)
    return H.Target("127.0.0.1", p.port, "proxy", backend=servers[0], proxy=p)


@pytest.fixture(scope="session")
def sharded(request, session_root):
    """Four mariadbd shards s0..s3 behind a myshard with shardenv.sharding_yaml(), plus a
    separate plain reference mariadbd (shardenv.ShardedCluster). Proxy mode only: skipped with
    MYSHARD_TEST_DIRECT / MYSHARD_TEST_TARGET. MYSHARD_SHARDED_FAKE=1 replaces myshard by a
    plain mariadbd (to check the tests' own comparison machinery)."""
    if MODE != "proxy":
        pytest.skip("sharding tests start their own shards and myshard (proxy mode only)")
    fake = os.environ.get("MYSHARD_SHARDED_FAKE", "") not in ("", "0")
    binary = None if fake else request.getfixturevalue("myshard_bin")
    servers = []

    def fin():
        errors = []
        for s in servers:
            try:
                s.stop()
            except H.HarnessError as e:
                errors.append(str(e))
        if errors:
            _trouble.append("mariadbd (sharded)")
            pytest.fail("\n".join(errors))
    request.addfinalizer(fin)

    def proxy_starter(name, shards, **conf):
        return start_proxy(request, binary, session_root, name, shards, **conf)

    servers.extend(shardenv.start_servers(session_root, fake=fake))
    return shardenv.make_cluster(servers, proxy_starter)


@pytest.fixture
def backend_admin(target):
    """The backend server behind <target> (root access for processlist checks)."""
    if target.backend is None:
        pytest.skip("external target: its backend is not reachable as root")
    return target.backend


@pytest.fixture
def conn(target):
    c = target.connect()
    yield c
    c.close()


@pytest.fixture(autouse=True)
def _proxies_stay_up():
    """After every test: each myshard started by the harness must still be running."""
    yield
    dead = [p for p in _started_proxies if not p.alive()]
    for p in dead:
        _started_proxies.remove(p)
    if dead:
        _trouble.extend(p.name for p in dead)
        msgs = [f"myshard {p.name} died during this test (status {p.proc.returncode}):\n"
                + H.file_tail(p.stderr_path) for p in dead]
        pytest.fail("\n".join(msgs), pytrace=False)
