# SPDX-License-Identifier: Apache-2.0
"""timeouts.client_idle_ms: a client idle between statements is disconnected; a client whose
statement runs longer than the idle timeout is not (the timer is armed only while idle)."""

import time

import pymysql
import pytest

import harness as H


def _wait_closed(conn, deadline_s):
    """Polls the client's socket until the proxy has closed it (EOF), within <deadline_s>."""
    sock = conn._sock  # noqa: SLF001 - the test needs the raw socket to observe the close
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            if sock.recv(1) == b"":
                return True
        except TimeoutError:
            continue
        except (ConnectionResetError, OSError):
            return True
    return False


def test_idle_client_is_closed(idle_timeout_target):
    c = idle_timeout_target.connect()
    try:
        assert H.query(c, "SELECT 1") == ((1,),)
        assert _wait_closed(c, 10.0), "idle client still connected 10 s after a 700 ms idle timeout"
        with pytest.raises(pymysql.err.OperationalError):
            H.query(c, "SELECT 1")
    finally:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - already closed by the proxy
            pass


def test_silent_client_is_closed_at_login_timeout(idle_timeout_target):
    """A client that connects and never answers the greeting is dropped (timeouts.login_ms),
    so silent sockets cannot pile up."""
    rc = H.RawClient(idle_timeout_target.host, idle_timeout_target.port)
    try:
        rc.read_greeting()
        rc.sock.settimeout(10.0)
        assert rc.sock.recv(1) == b"", "the proxy sent data instead of closing"
    finally:
        rc.close()


def test_long_statement_is_not_idle(idle_timeout_target):
    c = idle_timeout_target.connect()
    try:
        # 1.5 s of work is more than twice the idle timeout: the session is busy, not idle.
        assert H.query(c, "SELECT SLEEP(1.5), 7") == ((0, 7),)
        assert H.query(c, "SELECT 8") == ((8,),)
    finally:
        c.close()
