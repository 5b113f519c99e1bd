# SPDX-License-Identifier: Apache-2.0
"""Malformed and hostile client input, spoken by hand over raw sockets, and clients that go
away at bad moments. The proxy answers with the MariaDB codes a real server would use, closes
what must be closed, and keeps serving everyone else."""

import secrets
import socket
import struct

import pytest

import harness as H


def raw_login(t, **kw):
    rc = H.RawClient(t.host, t.port)
    rc.login(**kw)
    return rc


def assert_serves(t):
    """A new PyMySQL client gets exact answers."""
    c = t.connect()
    try:
        assert H.query(c, "SELECT 1, DATABASE()") == ((1, H.TEST_DB),)
    finally:
        c.close()


# --- a. garbage instead of a HandshakeResponse --------------------------------------------------

def test_garbage_handshake_response(target):
    rc = H.RawClient(target.host, target.port)
    try:
        rc.read_greeting()
        rc.send_raw(b"\x05\x00\x00\x01" + b"\x01\x02\x03\x04\x05")
        seq, p = rc.read_packet()
        e = H.parse_err(p, seq)
        assert (e.code, e.sqlstate, e.message, e.seq) == (1043, "08S01", "Bad handshake", 2)
        rc.expect_closed()
    finally:
        rc.close()
    assert_serves(target)


def test_truncated_handshake_response(target):
    """A response cut after the capability flags."""
    rc = H.RawClient(target.host, target.port)
    try:
        rc.read_greeting()
        rc.send_packet(struct.pack("<I", H.CLIENT_PROTOCOL_41 | H.CLIENT_SECURE_CONNECTION), 1)
        seq, p = rc.read_packet()
        e = H.parse_err(p, seq)
        assert (e.code, e.sqlstate, e.seq) == (1043, "08S01", 2)
        rc.expect_closed()
    finally:
        rc.close()
    assert_serves(target)


# --- b. a packet longer than max_packet ----------------------------------------------------------

LIMIT = 1024 * 1024  # small_packet_target's max_packet (direct mode: max_allowed_packet)


def largest_accepted(t):
    # myshard's max_packet is the largest payload it accepts; mariadbd accepts payloads
    # strictly below max_allowed_packet.
    return LIMIT - 1 if t.kind == "direct" else LIMIT


def test_packet_at_max_packet_is_accepted(small_packet_target):
    t = small_packet_target
    rc = raw_login(t)
    try:
        head, tail = b"SELECT LENGTH('", b"') AS n"
        n = largest_accepted(t) - 1 - len(head) - len(tail)
        sql = head + b"x" * n + tail
        assert 1 + len(sql) == largest_accepted(t)
        rc.command(H.COM_QUERY, sql)
        assert rc.read_result() == ("rows", ["n"], [[str(n).encode()]])
        assert rc.query("SELECT 1") == ("rows", ["1"], [[b"1"]])
    finally:
        rc.close()


@pytest.mark.parametrize("claim", ["limit+1", "0xffffff"])
def test_packet_over_max_packet(small_packet_target, claim):
    t = small_packet_target
    length = largest_accepted(t) + 1 if claim == "limit+1" else 0xFFFFFF
    rc = raw_login(t)
    try:
        # Only the header and the first bytes: the length alone must be enough to refuse.
        rc.send_raw(struct.pack("<I", length)[:3] + b"\x00" + b"\x03SELECT '")
        seq, p = rc.read_packet()
        e = H.parse_err(p, seq)
        assert (e.code, e.sqlstate, e.message, e.seq) == (
            1153, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes", 1)
        rc.expect_closed()
    finally:
        rc.close()
    assert_serves(t)


# --- c. unknown command bytes ------------------------------------------------------------------

@pytest.mark.parametrize("cmd", [0x20, 0x00, 0xFF], ids=["0x20", "COM_SLEEP", "0xff"])
def test_unknown_command(target, cmd):
    rc = raw_login(target)
    try:
        for _ in range(2):
            rc.command(cmd, b"junk")
            seq, p = rc.read_packet()
            e = H.parse_err(p, seq)
            assert (e.code, e.sqlstate, e.message, e.seq) == (1047, "08S01", "Unknown command", 1)
            assert rc.query("select 1") == ("rows", ["1"], [[b"1"]])
    finally:
        rc.close()


# --- d. wrong sequence id ----------------------------------------------------------------------

def test_wrong_sequence_id(target):
    rc = raw_login(target)
    try:
        assert rc.query("select 1") == ("rows", ["1"], [[b"1"]])
        rc.command(H.COM_QUERY, b"select 2", seq=5)
        seq, p = rc.read_packet()
        e = H.parse_err(p, seq)
        # (mariadbd 10.11.19 answers this with seq 0; the seq is not checked)
        assert (e.code, e.sqlstate, e.message) == (1156, "08S01", "Got packets out of order")
        rc.expect_closed()
    finally:
        rc.close()
    assert_serves(target)


# --- e. failed login ---------------------------------------------------------------------------

@pytest.mark.parametrize("user,password", [("app", "wrong"), ("app", ""), ("ghost", "x"),
                                           ("nopw", "x")])
def test_failed_login_raw(target, user, password):
    rc = H.RawClient(target.host, target.port)
    try:
        with pytest.raises(H.ServerError) as ei:
            rc.login(user=user, password=password)
        e = ei.value
        assert (e.code, e.sqlstate, e.seq) == (1045, "28000", 2)
        assert e.message.startswith(f"Access denied for user '{user}'@"), e.message
        assert e.message.endswith("(using password: %s)" % ("YES" if password else "NO")), e.message
        rc.expect_closed()
    finally:
        rc.close()
    assert_serves(target)


def test_login_raw_ok(target):
    rc = raw_login(target, database=H.TEST_DB2)
    try:
        assert rc.query("SELECT DATABASE()") == ("rows", ["DATABASE()"], [[H.TEST_DB2.encode()]])
    finally:
        rc.close()


# --- f. a dead backend -------------------------------------------------------------------------

@pytest.mark.proxy_only
def test_dead_backend(dead_backend_target):
    t = dead_backend_target
    rc = raw_login(t)
    try:
        for sql in ("select 1", "select 2"):
            rc.command(H.COM_QUERY, sql.encode())
            seq, p = rc.read_packet()
            e = H.parse_err(p, seq)
            assert (e.code, e.sqlstate, e.seq) == (1158, "08S01", 1), str(e)
            assert "s0" in e.message, e.message
        # still open: a clean COM_QUIT is answered by a close
        rc.command(H.COM_QUIT)
        rc.expect_closed()
    finally:
        rc.close()


# --- g. a client that vanishes in the middle of a large result ---------------------------------

def backend_sessions(server, user, tag):
    """(pooled connections of <user>, ids of sessions still running the query tagged <tag>).
    Pooled connections serve clients of the test schema, so they have it as their default
    schema; myshard's helper threads (XA recovery and deadlock checks, health checks) keep
    connections of their own without one, which are not the pool's."""
    rows = server.sql(
        "SELECT USER, ID, COALESCE(INFO, ''), COALESCE(DB, '') FROM "
        "information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()")
    n = sum(1 for u, _, _, db in rows if u == user and db == H.TEST_DB)
    running = [i for u, i, info, _ in rows if tag in info]
    return n, running


@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_vanishes_mid_result(tiny_pool_target, how):
    t = tiny_pool_target
    if t.backend is None:
        pytest.skip("external target: its backend is not reachable as root")
    tag = "vanish-" + secrets.token_hex(8)
    rc = raw_login(t, database=H.TEST_DB)
    # about 50 MiB: 200 rows of 256 KiB
    rc.command(H.COM_QUERY, f"SELECT '{tag}' AS tag, seq, REPEAT('x', 262144) AS pad "
                            f"FROM seq_1_to_200".encode())
    seq, p = rc.read_packet()
    assert p == b"\x03"  # column count
    for _ in range(4):   # 3 definitions + EOF
        rc.read_packet()
    seq, p = rc.read_packet()  # first row
    assert p.startswith(bytes([len(tag)]) + tag.encode() + b"\x011")
    if how == "reset":
        rc.abort()
    else:
        rc.close()

    # Others are served at once, with exact answers, on the (few) backend connections.
    for _ in range(3):
        assert_serves(t)
        c = t.connect()
        try:
            rows = H.query(c, "SELECT seq, LENGTH(REPEAT('y', 100000)) FROM seq_1_to_30")
            assert rows == tuple((i, 100000) for i in range(1, 31))
        finally:
            c.close()

    def settled():
        n, running = backend_sessions(t.backend, t.backend_user, tag)
        return n <= t.pool_limit and not running
    H.wait_until(settled, 20, f"the backend to drop the abandoned query {tag} "
                 f"and {t.backend_user} connections to be <= {t.pool_limit}")


# --- h. COM_QUIT and clients that just go ------------------------------------------------------

def test_com_quit(target):
    rc = raw_login(target)
    try:
        assert rc.query("select 1") == ("rows", ["1"], [[b"1"]])
        rc.command(H.COM_QUIT)
        rc.expect_closed()
    finally:
        rc.close()


def test_clients_leaving_without_quit(tiny_pool_target):
    t = tiny_pool_target
    keeper = t.connect()
    try:
        assert H.query(keeper, "SELECT DATABASE()") == ((H.TEST_DB,),)
        for i in range(30):
            rc = raw_login(t, database=H.TEST_DB)
            assert rc.query(f"SELECT {i}") == ("rows", [str(i)], [[str(i).encode()]])
            if i % 2:
                rc.abort()
            else:
                rc.close()
        # half-open sessions: greeting read, nothing sent; TCP connect only
        s1 = H.RawClient(t.host, t.port)
        s1.read_greeting()
        s1.close()
        s2 = socket.create_connection((t.host, t.port), timeout=5)
        s2.close()
        assert H.query(keeper, "SELECT 'still here', DATABASE()") == (("still here", H.TEST_DB),)
        assert_serves(t)
    finally:
        keeper.close()
    if t.backend is not None:
        def settled():
            n, _ = backend_sessions(t.backend, t.backend_user, "\0never")
            return n <= t.pool_limit
        H.wait_until(settled, 20, f"{t.backend_user} connections to be <= {t.pool_limit}")
