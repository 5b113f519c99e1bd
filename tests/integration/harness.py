# SPDX-License-Identifier: Apache-2.0
"""
Integration-test harness: real mariadbd servers and myshard processes on loopback, started
in mkdtemp directories on free ports, every wait bounded by a deadline, every process
stopped by pid (fixture finalizers, plus atexit, SIGTERM/SIGHUP and PR_SET_PDEATHSIG as
nets for an interrupted or killed run). Also a small hand-rolled MySQL protocol client
for the bad-input tests.

Run with Debian's /usr/bin/python3 (python3-pymysql, python3-pytest).
"""

import atexit
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import threading
import time

import pymysql

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Credentials every test uses. The proxy's config lists the client users; its own login on
# each backend is PROXY_USER.
APP_USER, APP_PASSWORD = "app", "apppw"
NOPW_USER = "nopw"
PROXY_USER, PROXY_PASSWORD = "myshard", "shardpw"
TEST_DB = "myshard_test"
TEST_DB2 = "myshard_test2"

# Sanitizer reports that fail a run when found in a proxy's stderr.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class HarnessError(Exception):
    """A process of the harness did not start or stop as required."""


# ---------------------------------------------------------------------------------------------
# waiting and ports


def wait_until(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns a true value, which is returned; raises HarnessError
    naming <what> after <timeout> seconds. cond may raise to mean "not yet", except that a
    HarnessError from it (e.g. "the process exited") ends the wait at once."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except HarnessError:
            raise
        except Exception as e:  # noqa: BLE001 - "not yet", remembered for the message
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise HarnessError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listened on a moment ago (bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reserve_dead_port():
    """A socket bound to a loopback port but never listening: connecting to that port is
    refused, and no other process can take it while the socket lives. Close it when done."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def tcp_connectable(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# process registry: whatever is still running when the interpreter goes is killed by pid

_procs = {}
_procs_lock = threading.Lock()
_libc = None


def _set_pdeathsig():
    # Runs in the child between fork and exec: if the test runner dies (even by SIGKILL),
    # the kernel sends this child SIGTERM. The child also gets its own process group so a
    # Ctrl-C in the terminal reaches only pytest, whose finalizers then stop it.
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(argv, stdout_path, stderr_path, env=None, mode="ab"):
    """Starts argv with stdout/stderr going to files (appended, or truncated with mode="wb");
    registers the process for cleanup."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)
    out = open(stdout_path, mode)
    err = open(stderr_path, mode) if stderr_path != stdout_path else out
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                             start_new_session=True, preexec_fn=_set_pdeathsig, close_fds=True)
    finally:
        out.close()
        if err is not out:
            err.close()
    with _procs_lock:
        _procs[p.pid] = p
    return p


def stop_process(p, timeout=10.0, sig=signal.SIGTERM):
    """Sends <sig> to p by pid and waits up to <timeout> s; then SIGKILL. Returns
    (exit status, True if it had to be killed)."""
    killed = False
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=timeout)
    with _procs_lock:
        _procs.pop(p.pid, None)
    return p.returncode, killed


def _kill_all_registered():
    with _procs_lock:
        procs = list(_procs.values())
        _procs.clear()
    for p in procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


atexit.register(_kill_all_registered)


def install_signal_handlers():
    """SIGTERM/SIGHUP become KeyboardInterrupt, so pytest runs the fixture finalizers."""
    def handler(signum, frame):
        signal.signal(signum, signal.SIG_DFL)
        raise KeyboardInterrupt(f"signal {signum}")
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def file_tail(path, limit=4000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"


# ---------------------------------------------------------------------------------------------
# mariadbd


class MariaDB:
    """One mariadbd with its own datadir under <root>/<name>, on a free loopback port."""

    def __init__(self, root, name, extra_args=()):
        self.root = root
        self.name = name
        self.datadir = os.path.join(root, name)
        self.socket = os.path.join(root, name + ".sock")
        self.pidfile = os.path.join(root, name + ".pid")
        self.errlog = os.path.join(root, name + ".err")
        self.extra_args = list(extra_args)
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None

    def install(self):
        argv = ["mariadb-install-db", "--no-defaults", "--auth-root-authentication-method=normal",
                f"--datadir={self.datadir}", "--skip-test-db", "--skip-name-resolve"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        log = os.path.join(self.root, self.name + ".install.log")
        with open(log, "wb") as f:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                               timeout=120)
        if r.returncode != 0:
            raise HarnessError(f"mariadb-install-db for {self.name} failed ({r.returncode}):\n"
                               + file_tail(log))

    def start(self, port=None):
        """Starts mariadbd (on <port>, else a free one); does not wait (see wait_ready)."""
        self.port = port or free_port()
        argv = ["mariadbd", "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
                "--bind-address=127.0.0.1", f"--socket={self.socket}", f"--pid-file={self.pidfile}",
                f"--log-error={self.errlog}", f"--tmpdir={self.root}", "--skip-log-bin",
                "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
                "--performance-schema=OFF", "--max-allowed-packet=256M", "--max-connections=500",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
                *self.extra_args]
        if os.geteuid() == 0:
            argv.append("--user=root")
        self.proc = spawn(argv, self.errlog + ".stdout", self.errlog + ".stdout")

    def wait_ready(self, timeout=60):
        def ready():
            if self.proc.poll() is not None:
                raise HarnessError(f"mariadbd {self.name} exited with {self.proc.returncode}:\n"
                                   + file_tail(self.errlog))
            c = self.admin(connect_timeout=2)
            c.close()
            return True
        try:
            wait_until(ready, timeout, f"mariadbd {self.name} on port {self.port}", 0.05)
        except HarnessError:
            if self.proc.poll() is None:
                stop_process(self.proc)
            raise

    def admin(self, db=None, **kw):
        """A root connection over the unix socket (autocommit on)."""
        return pymysql.connect(unix_socket=self.socket, user="root", password="", database=db,
                               autocommit=True, **kw)

    def sql(self, *stmts, db=None):
        """Runs statements as root; returns the rows of the last one."""
        c = self.admin(db=db)
        try:
            with c.cursor() as cur:
                rows = None
                for s in stmts:
                    cur.execute(s)
                    rows = cur.fetchall()
                return rows
        finally:
            c.close()

    def stop(self):
        if self.proc is None:
            return
        rc, killed = stop_process(self.proc, timeout=30)
        self.proc = None
        if killed:
            raise HarnessError(f"mariadbd {self.name} did not stop within 30 s of SIGTERM")


def start_mariadbs(root, names, extra_args=()):
    """Installs and starts several servers in parallel; returns them once all accept queries."""
    servers = [MariaDB(root, n, extra_args) for n in names]
    started = []
    try:
        for s in servers:
            s.install()
        for s in servers:
            s.start()
            started.append(s)
        for s in servers:
            s.wait_ready()
    except BaseException:
        for s in started:
            try:
                s.stop()
            except HarnessError:
                pass
        raise
    return servers


def provision_backend(server, direct):
    """The proxy's login, the test schemas; in direct mode also the client users, so the
    server itself can stand where the proxy would."""
    stmts = [
        f"CREATE USER '{PROXY_USER}'@'127.0.0.1' IDENTIFIED BY '{PROXY_PASSWORD}'",
        f"GRANT ALL ON *.* TO '{PROXY_USER}'@'127.0.0.1'",
        f"CREATE DATABASE {TEST_DB}",
        f"CREATE DATABASE {TEST_DB2}",
    ]
    if direct:
        stmts += [
            f"CREATE USER '{APP_USER}'@'127.0.0.1' IDENTIFIED BY '{APP_PASSWORD}'",
            f"GRANT ALL ON *.* TO '{APP_USER}'@'127.0.0.1'",
            f"CREATE USER '{NOPW_USER}'@'127.0.0.1'",
            f"GRANT ALL ON *.* TO '{NOPW_USER}'@'127.0.0.1'",
        ]
    server.sql(*stmts)


# ---------------------------------------------------------------------------------------------
# myshard


def default_myshard_bin():
    if os.environ.get("MYSHARD_BIN"):
        return os.path.abspath(os.environ["MYSHARD_BIN"])
    build = os.environ.get("MYSHARD_BUILD_DIR", os.path.join(REPO_ROOT, "build"))
    return os.path.abspath(os.path.join(build, "proxy", "myshard"))


def proxy_config_yaml(listen_port, shards, max_packet="64MiB", workers=2, pool_max=32,
                      pool_wait_ms=5000, connect_ms=3000, client_idle_ms=0, login_ms=10000,
                      xa_recovery_ms=None, xa_abandon_ms=None, extra_yaml="", extra_users=(),
                      health_ms=None, query_ms=None, slow_query_ms=None, replicas=None,
                      client_write_ms=None):
    """shards: list of (name, host, port). extra_yaml: more top-level keys (e.g. a `sharding:`
    section), appended as given. extra_users: more `users:` entries, as YAML flow mappings.
    replicas: {shard name: [(host, port), ...]}, the shards' read replicas."""
    lines = [
        f"listen: {{address: 127.0.0.1, port: {listen_port}}}",
        f"workers: {workers}",
        f"max_packet: {max_packet}",
        f"log_level: {os.environ.get('MYSHARD_TEST_LOG_LEVEL', 'info')}",
        f"pool: {{max_per_worker: {pool_max}, wait_timeout_ms: {pool_wait_ms}}}",
        f"timeouts: {{connect_ms: {connect_ms}, client_idle_ms: {client_idle_ms}, login_ms: {login_ms}"
        + (f", xa_recovery_ms: {xa_recovery_ms}" if xa_recovery_ms else "")
        + (f", xa_abandon_ms: {xa_abandon_ms}" if xa_abandon_ms else "")
        + (f", health_ms: {health_ms}" if health_ms is not None else "")
        + (f", query_ms: {query_ms}" if query_ms is not None else "")
        + (f", slow_query_ms: {slow_query_ms}" if slow_query_ms is not None else "")
        + (f", client_write_ms: {client_write_ms}" if client_write_ms is not None else "") + "}",
        "users:",
        f"  - {{name: {APP_USER}, password: {APP_PASSWORD}}}",
        f"  - {{name: {NOPW_USER}, password: \"\"}}",
        *[f"  - {u}" for u in extra_users],
        "shards:",
    ]
    for name, host, port in shards:
        reps = ", ".join(f"{{host: {h}, port: {p}}}" for h, p in (replicas or {}).get(name, ()))
        lines.append(f"  - {{name: {name}, host: {host}, port: {port}, "
                     f"user: {PROXY_USER}, password: {PROXY_PASSWORD}"
                     + (f", replicas: [{reps}]" if reps else "") + "}")
    text = "\n".join(lines) + "\n"
    if extra_yaml:
        text += extra_yaml if extra_yaml.endswith("\n") else extra_yaml + "\n"
    return text


class Proxy:
    """One myshard process with a generated config, on a free loopback port."""

    def __init__(self, binary, root, name, shards, **conf):
        self.binary = binary
        self.root = root
        self.name = name
        self.shards = shards
        self.conf = conf
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.config_path = os.path.join(root, name + ".yaml")
        self.stderr_path = os.path.join(root, name + ".stderr")
        self.env = None  # extra environment variables for the next start()

    def start(self, timeout=10.0, attempts=3):
        env = dict(os.environ, **self.env) if self.env else None
        for attempt in range(attempts):
            self.port = free_port()
            with open(self.config_path, "w") as f:
                f.write(proxy_config_yaml(self.port, self.shards, **self.conf))
            self.proc = spawn([self.binary, "--config", self.config_path],
                              self.stderr_path, self.stderr_path, env=env, mode="ab")
            try:
                wait_until(self._ready, timeout, f"myshard {self.name} to accept on port {self.port}",
                           0.02)
                return
            except HarnessError as e:
                exited = self.proc.poll() is not None
                if not exited:
                    stop_process(self.proc, timeout=5)
                stderr = file_tail(self.stderr_path)
                self.proc = None
                # Lost the race for the port: try again with another one.
                if exited and "address already in use" in stderr.lower() and attempt + 1 < attempts:
                    continue
                raise HarnessError(f"{e}\n--- myshard {self.name} stderr ---\n{stderr}") from None

    def _ready(self):
        if self.proc.poll() is not None:
            raise HarnessError(f"myshard {self.name} exited with status {self.proc.returncode}")
        return tcp_connectable(self.host, self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_report(self):
        text = self.stderr_text()
        for m in SANITIZER_MARKERS:
            i = text.find(m)
            if i >= 0:
                return text[max(0, i - 200): i + 6000]
        return None

    def stop(self):
        """SIGTERM, then require a clean exit (status 0 within 10 s) and no sanitizer report.
        Returns a list of problems (empty = fine)."""
        problems = []
        if self.proc is None:
            return problems
        was_running = self.proc.poll() is None
        rc, killed = stop_process(self.proc, timeout=10)
        self.proc = None
        if not was_running:
            problems.append(f"myshard {self.name} had already exited with status {rc}")
        elif killed:
            problems.append(f"myshard {self.name} did not exit within 10 s of SIGTERM")
        elif rc != 0:
            problems.append(f"myshard {self.name} exited with status {rc} after SIGTERM")
        rep = self.sanitizer_report()
        if rep:
            problems.append(f"sanitizer report in myshard {self.name} stderr:\n{rep}")
        if problems:
            problems.append(f"--- myshard {self.name} stderr (tail) ---\n"
                            + file_tail(self.stderr_path))
        return problems


def run_check_config(binary, path, timeout=30):
    return subprocess.run([binary, "--check-config", path], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# a target: where clients connect (a myshard, or in direct mode the backend itself)


class Target:
    def __init__(self, host, port, kind, backend=None, proxy=None, pool_limit=None):
        self.host = host
        self.port = port
        self.kind = kind          # "proxy" (started here), "direct" (a mariadbd), "external"
        self.backend = backend    # MariaDB the target forwards to (None for "external")
        self.proxy = proxy        # Proxy when kind == "proxy"
        self.pool_limit = pool_limit  # max backend connections the target may hold per shard

    @property
    def backend_user(self):
        """The user the backend sees for this target's client sessions."""
        return APP_USER if self.kind == "direct" else PROXY_USER

    def connect(self, user=APP_USER, password=APP_PASSWORD, database=TEST_DB, autocommit=True,
                **kw):
        kw.setdefault("connect_timeout", 10)
        kw.setdefault("read_timeout", 120)
        kw.setdefault("write_timeout", 120)
        return pymysql.connect(host=self.host, port=self.port, user=user, password=password,
                               database=database, autocommit=autocommit, **kw)

    def __repr__(self):
        return f"Target({self.kind} {self.host}:{self.port})"


def query(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


# ---------------------------------------------------------------------------------------------
# a raw protocol client (for malformed input)

CLIENT_LONG_PASSWORD = 1 << 0
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PLUGIN_AUTH = 1 << 19

COM_SLEEP, COM_QUIT, COM_INIT_DB, COM_QUERY, COM_PING = 0x00, 0x01, 0x02, 0x03, 0x0E


def native_token(password, scramble):
    """mysql_native_password: SHA1(pw) XOR SHA1(scramble20 + SHA1(SHA1(pw))); empty for ""."""
    if not password:
        return b""
    p1 = hashlib.sha1(password.encode()).digest()
    p2 = hashlib.sha1(p1).digest()
    p3 = hashlib.sha1(scramble + p2).digest()
    return bytes(a ^ b for a, b in zip(p1, p3))


class ServerError(Exception):
    def __init__(self, code, sqlstate, message, seq):
        super().__init__(f"ERR {code} ({sqlstate}) seq {seq}: {message}")
        self.code, self.sqlstate, self.message, self.seq = code, sqlstate, message, seq


def parse_err(payload, seq):
    assert payload[0] == 0xFF, payload[:16]
    code = struct.unpack_from("<H", payload, 1)[0]
    if len(payload) >= 9 and payload[3:4] == b"#":
        return ServerError(code, payload[4:9].decode(), payload[9:].decode("utf-8", "replace"), seq)
    return ServerError(code, None, payload[3:].decode("utf-8", "replace"), seq)


class ConnectionClosed(Exception):
    pass


def lenenc(buf, pos):
    """Decodes a length-encoded integer; returns (value or None for 0xfb, new pos)."""
    b = buf[pos]
    if b < 0xFB:
        return b, pos + 1
    if b == 0xFB:
        return None, pos + 1
    if b == 0xFC:
        return struct.unpack_from("<H", buf, pos + 1)[0], pos + 3
    if b == 0xFD:
        return int.from_bytes(buf[pos + 1: pos + 4], "little"), pos + 4
    if b == 0xFE:
        return struct.unpack_from("<Q", buf, pos + 1)[0], pos + 9
    raise ValueError(f"bad lenenc byte 0xff at {pos}")


class RawClient:
    """A MySQL-protocol client written by hand: every byte it sends is chosen by the test."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.rbuf = b""
        self.greeting = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with a TCP RST (SO_LINGER 0), as a crashed client would."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    # -- framing --
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_packet(self, payload, seq):
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload)

    def _fill(self, n, deadline):
        while len(self.rbuf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no data within {self.timeout:g} s (have {len(self.rbuf)} of {n} bytes)")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionClosed(f"peer closed the connection ({len(self.rbuf)} of {n} bytes read)")
            self.rbuf += chunk

    def read_packet(self):
        """One packet; returns (seq, payload). 16 MiB continuations are joined."""
        deadline = time.monotonic() + self.timeout
        payload = b""
        while True:
            self._fill(4, deadline)
            n = int.from_bytes(self.rbuf[:3], "little")
            seq = self.rbuf[3]
            self._fill(4 + n, deadline)
            payload += self.rbuf[4:4 + n]
            self.rbuf = self.rbuf[4 + n:]
            if n < 0xFFFFFF:
                return seq, payload

    def expect_closed(self, timeout=None):
        """Passes once the peer has closed the connection (EOF or RST) with nothing more sent;
        fails if data arrives or the connection is still open after the timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if self.rbuf:
            raise AssertionError(f"unexpected bytes before close: {self.rbuf[:64]!r}")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise AssertionError("connection still open") from None
            except ConnectionResetError:
                return
            if not chunk:
                return
            raise AssertionError(f"unexpected bytes instead of close: {chunk[:64]!r}")

    # -- connection phase --
    def read_greeting(self):
        seq, p = self.read_packet()
        if p[0] == 0xFF:
            raise parse_err(p, seq)
        assert seq == 0, f"greeting seq {seq}"
        assert p[0] == 10, f"protocol version {p[0]}"
        end = p.index(b"\0", 1)
        version = p[1:end].decode()
        pos = end + 1
        conn_id = struct.unpack_from("<I", p, pos)[0]
        pos += 4
        s1 = p[pos:pos + 8]
        pos += 9  # + filler
        caps = struct.unpack_from("<H", p, pos)[0]
        pos += 2
        charset = p[pos]
        pos += 1
        status = struct.unpack_from("<H", p, pos)[0]
        pos += 2
        caps |= struct.unpack_from("<H", p, pos)[0] << 16
        pos += 2
        auth_len = p[pos]
        pos += 1 + 10
        s2len = max(13, auth_len - 8)
        s2 = p[pos:pos + s2len]
        pos += s2len
        plugin = b""
        if caps & CLIENT_PLUGIN_AUTH:
            plugin = p[pos:p.index(b"\0", pos)] if b"\0" in p[pos:] else p[pos:]
        self.greeting = dict(version=version, conn_id=conn_id, caps=caps, charset=charset,
                             status=status, scramble=s1 + s2[:12], plugin=plugin.decode())
        return self.greeting

    def handshake_response(self, user, password, database=None):
        g = self.greeting
        want = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
                | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)
        if database:
            want |= CLIENT_CONNECT_WITH_DB
        caps = want & (g["caps"] | CLIENT_LONG_PASSWORD)
        token = native_token(password, g["scramble"])
        p = struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23
        p += user.encode() + b"\0" + bytes([len(token)]) + token
        if database:
            p += database.encode() + b"\0"
        p += b"mysql_native_password\0"
        return p

    def login(self, user=APP_USER, password=APP_PASSWORD, database=None):
        """Greeting, response, then OK (returned as payload) or ServerError raised. Answers an
        AuthSwitchRequest to mysql_native_password."""
        self.read_greeting()
        self.send_packet(self.handshake_response(user, password, database), 1)
        seq, p = self.read_packet()
        if p[0] == 0xFE and len(p) > 1:
            end = p.index(b"\0", 1)
            plugin = p[1:end]
            assert plugin == b"mysql_native_password", plugin
            scramble = p[end + 1:end + 21]
            self.send_packet(native_token(password, scramble), seq + 1)
            seq, p = self.read_packet()
        if p[0] == 0xFF:
            raise parse_err(p, seq)
        assert p[0] == 0x00, f"expected OK after auth, got {p[:16]!r}"
        return p

    # -- commands --
    def command(self, cmd, arg=b"", seq=0):
        self.send_packet(bytes([cmd]) + arg, seq)

    def read_result(self):
        """Reads one command's reply: returns ("ok", payload) or ("rows", columns, rows) with
        rows as lists of bytes/None; raises ServerError for ERR. Assumes no DEPRECATE_EOF
        (the client never asks for it) and a single result set."""
        seq, p = self.read_packet()
        if p[0] == 0xFF:
            raise parse_err(p, seq)
        if p[0] == 0x00:
            return ("ok", p)
        ncols, _ = lenenc(p, 0)
        cols = []
        for _ in range(ncols):
            seq, p = self.read_packet()
            pos = 0
            fields = []
            for _ in range(6):
                n, pos = lenenc(p, pos)
                fields.append(p[pos:pos + n])
                pos += n
            cols.append(fields[4].decode())
        seq, p = self.read_packet()
        assert p[0] == 0xFE and len(p) < 9, f"expected EOF after column definitions: {p[:16]!r}"
        rows = []
        while True:
            seq, p = self.read_packet()
            if p[0] == 0xFF:
                raise parse_err(p, seq)
            if p[0] == 0xFE and len(p) < 9:
                return ("rows", cols, rows)
            pos = 0
            row = []
            while pos < len(p):
                n, pos = lenenc(p, pos)
                if n is None:
                    row.append(None)
                else:
                    row.append(p[pos:pos + n])
                    pos += n
            rows.append(row)

    def query(self, sql):
        self.command(COM_QUERY, sql.encode())
        return self.read_result()


def make_tempdir(prefix):
    base = os.environ.get("MYSHARD_TEST_TMPDIR") or None
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)


def run_concurrently(conns, body, timeout):
    """Runs body(i, conns[i]) for every connection in its own thread, all released together by
    a barrier. Closes the connections, then fails if a thread is still running after <timeout>
    seconds or if any body raised (the first few errors are shown)."""
    n = len(conns)
    start = threading.Barrier(n, timeout=60)
    errors = []

    def run(i):
        try:
            start.wait()
            body(i, conns[i])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append((i, repr(e)))
            start.abort()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + timeout
    for th in threads:
        th.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = [i for i, th in enumerate(threads) if th.is_alive()]
    for c in conns:
        c.close()
    assert not stuck, f"clients still running after {timeout} s: {stuck[:10]}"
    assert not errors, errors[:5]
