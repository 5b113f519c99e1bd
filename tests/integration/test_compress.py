# SPDX-License-Identifier: Apache-2.0
"""
The compressed protocol (CLIENT_COMPRESS, zlib) towards clients (issue #5): a raw client checks
the frames themselves (myshard's answers are deflated, its own deflated frames are read, the
frame sequence ids follow the client's), and real clients use it: mysqlclient with
compress=True and the mariadb CLI with --compress, with results of megabytes. The Connector/C
battery also runs compressed (test_driver_cclient.py). The admin port does not offer it.
"""

import struct
import subprocess
import zlib

import MySQLdb
import pytest

import harness as H

pytestmark = pytest.mark.proxy_only

CLIENT_COMPRESS = 1 << 5


class Framed:
    """A RawClient whose bytes go through compressed frames after the login."""

    def __init__(self, rc):
        self.rc = rc
        self.buf = b""
        self.frames = []  # (seq, compressed length, uncompressed length) of what came in

    def send(self, payload, pkt_seq, frame_seq, deflate):
        pkt = struct.pack("<I", len(payload))[:3] + bytes([pkt_seq]) + payload
        body = zlib.compress(pkt) if deflate else pkt
        ulen = len(pkt) if deflate else 0
        self.rc.send_raw(struct.pack("<I", len(body))[:3] + bytes([frame_seq])
                         + struct.pack("<I", ulen)[:3] + body)

    def _frame(self):
        h = self.rc._read_exact(7)
        clen = int.from_bytes(h[:3], "little")
        ulen = int.from_bytes(h[4:7], "little")
        body = self.rc._read_exact(clen)
        self.frames.append((h[3], clen, ulen))
        self.buf += zlib.decompress(body) if ulen else body
        if ulen:
            assert len(zlib.decompress(body)) == ulen

    def packet(self):
        while len(self.buf) < 4 or len(self.buf) < 4 + int.from_bytes(self.buf[:3], "little"):
            self._frame()
        n = int.from_bytes(self.buf[:3], "little")
        seq, p = self.buf[3], self.buf[4:4 + n]
        self.buf = self.buf[4 + n:]
        return seq, p


def _read_exact(rc, n):
    import time
    rc._fill(n, time.monotonic() + rc.timeout)
    out, rc.rbuf = rc.rbuf[:n], rc.rbuf[n:]
    return out


H.RawClient._read_exact = _read_exact


def login_compressed(target):
    rc = H.RawClient(target.host, target.port)
    g = rc.read_greeting()
    assert g["caps"] & CLIENT_COMPRESS, "CLIENT_COMPRESS not offered"
    p = bytearray(rc.handshake_response(H.APP_USER, H.APP_PASSWORD, H.TEST_DB))
    caps = struct.unpack_from("<I", p, 0)[0] | CLIENT_COMPRESS | H.CLIENT_CONNECT_WITH_DB
    struct.pack_into("<I", p, 0, caps)
    rc.send_packet(bytes(p), 1)
    seq, ok = rc.read_packet()  # the OK itself is not framed
    assert ok[0] == 0x00, ok
    assert rc.rbuf == b""
    return rc


def test_frames_are_deflated_both_ways(target):
    rc = login_compressed(target)
    f = Framed(rc)
    try:
        # a small command in a stored frame; a large answer comes deflated
        f.send(b"\x03SELECT REPEAT('ab', 50000), 7", 0, 0, deflate=False)
        seq, p = f.packet()
        assert (seq, p) == (1, b"\x02")  # two columns
        for _ in range(3):
            f.packet()  # two definitions, EOF
        seq, row = f.packet()
        assert row == b"\xfd" + (100000).to_bytes(3, "little") + b"ab" * 50000 + b"\x017"
        f.packet()  # EOF
        assert f.frames[0][0] == 1, f.frames  # the client's frame was 0
        assert any(ulen > clen for _, clen, ulen in f.frames), f.frames  # really deflated
        # a deflated command; the frame sequence starts again from the client's
        f.frames.clear()
        big = "x" * 200000
        f.send(b"\x03SELECT LENGTH('" + big.encode() + b"'), MD5('" + big.encode() + b"')",
               0, 0, deflate=True)
        f.packet()
        for _ in range(3):
            f.packet()
        seq, row = f.packet()
        import hashlib
        md5 = hashlib.md5(big.encode()).hexdigest().encode()
        assert row == b"\x06200000" + bytes([len(md5)]) + md5, row[:60]
        f.packet()
        assert f.frames[0][0] == 1, f.frames
    finally:
        rc.close()


def test_mysqlclient_and_cli_compressed(target):
    c = MySQLdb.connect(host=target.host, port=target.port, user=H.APP_USER,
                        password=H.APP_PASSWORD, database=H.TEST_DB, compress=True,
                        connect_timeout=10)
    try:
        cur = c.cursor()
        cur.execute("SELECT REPEAT('é', 3000000), 'z'")
        assert cur.fetchall() == (("é" * 3000000, "z"),)
        cur.execute("SELECT %s = REPEAT('q', 1000000)", ("q" * 1000000,))
        assert cur.fetchall() == ((1,),)
    finally:
        c.close()
    r = subprocess.run(["mariadb", "-h", target.host, "-P", str(target.port), "-u", H.APP_USER,
                        f"-p{H.APP_PASSWORD}", "--compress", "-N", "-B", "-e",
                        "SELECT LENGTH(REPEAT('w', 2000000)), 'cli'", H.TEST_DB],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2000000\tcli\n"


def test_garbage_frame_closes_only_that_client(target):
    rc = login_compressed(target)
    other = target.connect()
    try:
        # a frame that claims 1000 bytes inflated but holds no zlib stream
        rc.send_raw(struct.pack("<I", 10)[:3] + b"\x00" + struct.pack("<I", 1000)[:3]
                    + b"not zlib!!")
        rc.expect_closed(timeout=10)
        assert H.query(other, "SELECT 12") == ((12,),)
    finally:
        rc.close()
        other.close()


def test_packets_over_16mib_compressed(target):
    """A 20 MiB result and a 17 MiB statement, each more than one protocol packet, inside
    compressed frames."""
    c = MySQLdb.connect(host=target.host, port=target.port, user=H.APP_USER,
                        password=H.APP_PASSWORD, database=H.TEST_DB, compress=True,
                        connect_timeout=10)
    try:
        cur = c.cursor()
        cur.execute("SELECT REPEAT('k', 20 * 1024 * 1024), 3")
        (row,) = cur.fetchall()
        assert len(row[0]) == 20 * 1024 * 1024 and row[0] == "k" * (20 * 1024 * 1024)
        assert row[1] == 3
        big = "v" * (17 * 1024 * 1024)
        cur.execute("SELECT LENGTH(%s), %s = REPEAT('v', 17 * 1024 * 1024)", (big, big))
        assert cur.fetchall() == ((17 * 1024 * 1024, 1),)
    finally:
        c.close()
