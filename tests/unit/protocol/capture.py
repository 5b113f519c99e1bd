#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""
tests/unit/protocol/capture.py - the tool that produced tests/unit/protocol/tp_golden.[ch].

It talks to a real, throwaway MariaDB server over loopback TCP and records the raw bytes of
every packet (4-byte header included) it receives, then writes them as C arrays to
PREFIX.c / PREFIX.h (--out PREFIX) and prints a one-line summary per capture. Standard
library only. It is NOT run by the test suite: the unit tests are pinned to the bytes of one
capture, so re-running it changes scrambles, connection ids and timestamps, and the
expectations in test_*.c that name those values must be updated by hand.

Two kinds of capture:

  * Raw client (sessions "a" and "b"): this script logs in itself (mysql_native_password) and
    sends one command at a time; a response is everything the server sends until the socket
    has been idle for --idle seconds (independent of myshard's own response tracker).
    Session "a" does not negotiate CLIENT_DEPRECATE_EOF, session "b" does.
  * Relay (session "cli"): a small TCP relay between the real `mariadb` command-line client
    (libmariadb) and the server logs both directions. This yields a genuine libmariadb
    HandshakeResponse41 and the OK packets with session-state blocks (libmariadb negotiates
    CLIENT_SESSION_TRACK).

How the committed capture was made (MariaDB 10.11.19-MariaDB-0+deb12u1, Debian 12,
libmariadb 3.3.20 CLI), as root, hence --user=root:

  mariadb-install-db --no-defaults --auth-root-authentication-method=normal \
      --datadir=/tmp/protocap/data
  mariadbd --no-defaults --datadir=/tmp/protocap/data --port=34567 --bind-address=127.0.0.1 \
      --socket=/tmp/protocap/s.sock --skip-log-bin --pid-file=/tmp/protocap/pid --user=root &
  # drop the anonymous users: ''@localhost would shadow 'cap'@'%' for 127.0.0.1 logins
  mariadb --no-defaults -S /tmp/protocap/s.sock -uroot -e "
      DROP USER ''@'localhost'; DROP USER ''@'<hostname>';
      CREATE USER 'cap'@'%' IDENTIFIED BY 'cappw'; GRANT ALL ON *.* TO 'cap'@'%';"
  # the script itself (re)creates capdb.t with rows 'one' and 'two', see SETUP_SQL
  python3 tests/unit/protocol/capture.py --port 34567 --out tests/unit/protocol/tp_golden
  kill $(cat /tmp/protocap/pid)
"""

import argparse
import hashlib
import os
import select
import socket
import struct
import subprocess
import sys
import time

# Capability bits (see protocol/mp_handshake.h).
CLIENT_MYSQL = 1 << 0
CLIENT_FOUND_ROWS = 1 << 1
CLIENT_LONG_FLAG = 1 << 2
CLIENT_CONNECT_WITH_DB = 1 << 3
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PS_MULTI_RESULTS = 1 << 18
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_PLUGIN_AUTH_LENENC = 1 << 21
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24

RAW_CAPS = (CLIENT_MYSQL | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 |
            CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |
            CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH |
            CLIENT_PLUGIN_AUTH_LENENC | CLIENT_SESSION_TRACK)

COM_QUIT = 0x01
COM_INIT_DB = 0x02
COM_QUERY = 0x03
COM_FIELD_LIST = 0x04
COM_STATISTICS = 0x09
COM_PING = 0x0e
COM_STMT_PREPARE = 0x16
COM_STMT_EXECUTE = 0x17
COM_STMT_CLOSE = 0x19
COM_SET_OPTION = 0x1b
COM_STMT_FETCH = 0x1c


def lenenc(n):
    if n < 0xfb:
        return bytes([n])
    if n <= 0xffff:
        return b"\xfc" + struct.pack("<H", n)
    if n <= 0xffffff:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def native_token(scramble, password):
    if not password:
        return b""
    h1 = hashlib.sha1(password).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(scramble + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


def split_packets(stream):
    """Splits a byte stream into whole packets (header included); a partial tail is an error."""
    out, i = [], 0
    while i < len(stream):
        if len(stream) - i < 4:
            raise ValueError("stream ends inside a header")
        n = stream[i] | stream[i + 1] << 8 | stream[i + 2] << 16
        if len(stream) - i - 4 < n:
            raise ValueError("stream ends inside a payload")
        out.append(stream[i:i + 4 + n])
        i += 4 + n
    return out


class Capture:
    """One named byte capture: whole packets, in order, as they crossed the wire."""

    def __init__(self, name, what, cmd, data):
        self.name, self.what, self.cmd, self.data = name, what, cmd, data
        self.packets = split_packets(data)


class RawClient:
    """A minimal client: logs in, sends one command packet, records the reply bytes."""

    def __init__(self, host, port, idle):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.idle = idle

    def read_idle(self):
        """Everything the server sends until it has been quiet for <idle> seconds."""
        buf = b""
        while True:
            r, _, _ = select.select([self.sock], [], [], self.idle)
            if not r:
                return buf
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return buf
            buf += chunk

    def read_packet(self):
        hdr = b""
        while len(hdr) < 4:
            chunk = self.sock.recv(4 - len(hdr))
            if not chunk:
                raise EOFError("server closed")
            hdr += chunk
        n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
        body = b""
        while len(body) < n:
            chunk = self.sock.recv(n - len(body))
            if not chunk:
                raise EOFError("server closed")
            body += chunk
        return hdr + body

    def send(self, payload, seq=0):
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)

    def command(self, payload):
        self.send(payload, 0)
        return self.read_idle()

    def login(self, user, password, caps):
        greeting = self.read_packet()
        p = greeting[4:]
        ver_end = p.index(b"\0", 1)
        pos = ver_end + 1 + 4
        scramble = p[pos:pos + 8]
        pos += 8 + 1 + 2 + 1 + 2 + 2
        auth_len = p[pos]
        pos += 1 + 10
        scramble += p[pos:pos + max(13, auth_len - 8) - 1]
        token = native_token(scramble, password)
        resp = struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 19 + b"\0" * 4
        resp += user + b"\0" + lenenc(len(token)) + token + b"mysql_native_password\0"
        self.send(resp, 1)
        ok = self.read_idle()
        return greeting, resp, ok


# Run (unrecorded) before the captures so that ids and rows are the same on every run.
SETUP_SQL = [
    "DROP DATABASE IF EXISTS capdb",
    "CREATE DATABASE capdb",
    "CREATE TABLE capdb.t (id INT PRIMARY KEY AUTO_INCREMENT, "
    "name VARCHAR(20) NOT NULL DEFAULT 'x', v INT NULL)",
    "INSERT INTO capdb.t (name, v) VALUES ('one', 1), ('two', NULL)",
]


def setup_schema(args):
    c = RawClient(args.host, args.port, args.idle)
    c.login(args.user.encode(), args.password.encode(), RAW_CAPS)
    for sql in SETUP_SQL:
        reply = c.command(bytes([COM_QUERY]) + sql.encode())
        if not reply or reply[4] != 0x00:
            raise RuntimeError("setup failed: %s -> %r" % (sql, reply))
    c.send(bytes([COM_QUIT]))


def raw_session_a(args):
    """Session a: no DEPRECATE_EOF; legacy EOF packets everywhere."""
    caps = []
    c = RawClient(args.host, args.port, args.idle)
    greeting, resp, ok = c.login(args.user.encode(), args.password.encode(), RAW_CAPS)
    caps.append(Capture("greeting", "server greeting (HandshakeV10), seq 0", 0, greeting))
    caps.append(Capture("login_ok", "OK after a raw-client mysql_native_password login "
                        "(client caps 0x%08x)" % RAW_CAPS, 0, ok))

    def q(name, sql, what=None):
        caps.append(Capture(name, what or 'COM_QUERY "%s"' % sql, COM_QUERY,
                            c.command(bytes([COM_QUERY]) + sql.encode())))

    def cmd(name, what, payload):
        caps.append(Capture(name, what, payload[0], c.command(payload)))

    q("q_select1", "SELECT 1")
    q("q_abc", "select 1 as a, NULL as b, 'abc' as c")
    q("q_table", "SELECT id, name, v FROM capdb.t ORDER BY id")
    q("q_err_1146", "SELECT * FROM capdb.nosuch")
    q("q_err_1064", "selec 1")
    q("q_insert", "INSERT INTO capdb.t (name, v) VALUES ('three', 3)")
    q("q_insert2", "INSERT INTO capdb.t (name, v) VALUES ('four', 4), ('five', 5)")
    cmd("init_db", "COM_INIT_DB \"capdb\" (session-tracked SCHEMA)", bytes([COM_INIT_DB]) + b"capdb")
    q("q_set_tz", "SET time_zone='+01:00'")
    q("q_multi", "select 1; select 2")
    q("q_multi_ok", "select 1; do 1")
    q("q_multi_err", "select 1; select nosuchcol; select 3")
    cmd("field_list", "COM_FIELD_LIST \"t\" (schema capdb)", bytes([COM_FIELD_LIST]) + b"t\0")
    cmd("statistics", "COM_STATISTICS", bytes([COM_STATISTICS]))
    cmd("ping", "COM_PING", bytes([COM_PING]))
    cmd("set_option", "COM_SET_OPTION 0 (MULTI_STATEMENTS_ON)", bytes([COM_SET_OPTION, 0, 0]))

    prep = c.command(bytes([COM_STMT_PREPARE]) + b"SELECT ?+1, ?")
    caps.append(Capture("prepare", 'COM_STMT_PREPARE "SELECT ?+1, ?"', COM_STMT_PREPARE, prep))
    sid = struct.unpack("<I", prep[5:9])[0]
    # Two params: null bitmap 00, new_params_bound 1, LONGLONG and VAR_STRING, 7 and 'x'.
    exe = (bytes([COM_STMT_EXECUTE]) + struct.pack("<IBI", sid, 0, 1) + b"\x00\x01" +
           b"\x08\x00\xfd\x00" + struct.pack("<q", 7) + b"\x01x")
    cmd("execute", "COM_STMT_EXECUTE of \"SELECT ?+1, ?\" with 7, 'x' (binary result set)", exe)
    c.send(bytes([COM_STMT_CLOSE]) + struct.pack("<I", sid))

    prep = c.command(bytes([COM_STMT_PREPARE]) + b"SELECT id, name FROM capdb.t ORDER BY id")
    caps.append(Capture("prepare_cur", 'COM_STMT_PREPARE "SELECT id, name FROM capdb.t ORDER BY id"',
                        COM_STMT_PREPARE, prep))
    sid = struct.unpack("<I", prep[5:9])[0]
    cmd("execute_cur", "COM_STMT_EXECUTE flags=1 (READ_ONLY cursor) of the statement above",
        bytes([COM_STMT_EXECUTE]) + struct.pack("<IBI", sid, 1, 1))
    cmd("fetch_1", "COM_STMT_FETCH 1 row from that cursor",
        bytes([COM_STMT_FETCH]) + struct.pack("<II", sid, 1))
    cmd("fetch_rest", "COM_STMT_FETCH 100 rows from that cursor (exhausts it)",
        bytes([COM_STMT_FETCH]) + struct.pack("<II", sid, 100))
    closed = c.command(bytes([COM_STMT_CLOSE]) + struct.pack("<I", sid))
    if closed:
        raise RuntimeError("COM_STMT_CLOSE got a reply")
    c.send(bytes([COM_QUIT]))
    return caps


def raw_session_b(args):
    """Session b: CLIENT_DEPRECATE_EOF; terminators are fe-headed OK packets."""
    caps = []
    c = RawClient(args.host, args.port, args.idle)
    c.login(args.user.encode(), args.password.encode(), RAW_CAPS | CLIENT_DEPRECATE_EOF)

    def cmd(name, what, payload):
        caps.append(Capture("de_" + name, what + " [DEPRECATE_EOF]", payload[0], c.command(payload)))

    cmd("q_abc", "COM_QUERY \"select 1 as a, NULL as b, 'abc' as c\"",
        bytes([COM_QUERY]) + b"select 1 as a, NULL as b, 'abc' as c")
    cmd("q_multi", 'COM_QUERY "select 1; select 2"', bytes([COM_QUERY]) + b"select 1; select 2")
    cmd("set_option", "COM_SET_OPTION 0", bytes([COM_SET_OPTION, 0, 0]))
    cmd("init_db", 'COM_INIT_DB "capdb"', bytes([COM_INIT_DB]) + b"capdb")
    cmd("field_list", 'COM_FIELD_LIST "t"', bytes([COM_FIELD_LIST]) + b"t\0")
    prep = c.command(bytes([COM_STMT_PREPARE]) + b"SELECT ?+1, ?")
    caps.append(Capture("de_prepare", 'COM_STMT_PREPARE "SELECT ?+1, ?" [DEPRECATE_EOF]',
                        COM_STMT_PREPARE, prep))
    sid = struct.unpack("<I", prep[5:9])[0]
    c.send(bytes([COM_STMT_CLOSE]) + struct.pack("<I", sid))
    prep = c.command(bytes([COM_STMT_PREPARE]) + b"SELECT id, name FROM capdb.t ORDER BY id")
    sid = struct.unpack("<I", prep[5:9])[0]
    cmd("execute_cur", "COM_STMT_EXECUTE flags=1 (cursor) of \"SELECT id, name FROM capdb.t ORDER BY id\"",
        bytes([COM_STMT_EXECUTE]) + struct.pack("<IBI", sid, 1, 1))
    cmd("fetch_rest", "COM_STMT_FETCH 100 rows (exhausts the cursor)",
        bytes([COM_STMT_FETCH]) + struct.pack("<II", sid, 100))
    c.send(bytes([COM_QUIT]))
    return caps


def relay_session(args):
    """Runs the mariadb CLI through a logging relay; returns per-direction streams."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    rport = lst.getsockname()[1]
    sql = "USE capdb; SET time_zone='+01:00'; SELECT 1"
    cli = subprocess.Popen([args.cli, "--no-defaults", "--protocol=TCP", "-h127.0.0.1",
                            "-P%d" % rport, "-u" + args.user, "-p" + args.password, "-e", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lst.settimeout(10)
    a, _ = lst.accept()
    b = socket.create_connection((args.host, args.port), timeout=10)
    to_server, to_client = b"", b""
    open_ = {a: True, b: True}
    deadline = time.time() + 20
    while any(open_.values()) and time.time() < deadline:
        r, _, _ = select.select([s for s in open_ if open_[s]], [], [], 1.0)
        for s in r:
            chunk = s.recv(1 << 20)
            if not chunk:
                open_[s] = False
                continue
            if s is a:
                to_server += chunk
                b.sendall(chunk)
            else:
                to_client += chunk
                a.sendall(chunk)
        if cli.poll() is not None and not open_[a]:
            break
    out, err = cli.communicate(timeout=10)
    if cli.returncode != 0:
        raise RuntimeError("mariadb CLI failed: %s" % err.decode(errors="replace"))
    a.close()
    b.close()
    lst.close()
    return split_packets(to_server), split_packets(to_client)


# Names for the commands the CLI sends for "USE capdb; SET time_zone='+01:00'; SELECT 1".
CLI_NAMES = {"SELECT DATABASE()": "select_database", "capdb": "init_db",
             "SET time_zone='+01:00'": "set_tz", "SELECT 1": "select1"}


def relay_captures(args):
    cs, sc = relay_session(args)
    caps = [Capture("cli_greeting", "server greeting seen by the mariadb CLI (pairs with cli_hsresp)",
                    0, sc[0]),
            Capture("cli_hsresp", "HandshakeResponse41 sent by the mariadb CLI (libmariadb) as user "
                    "'%s' with password '%s', seq 1" % (args.user, args.password), 0, cs[0])]
    # After the login OK (sc[1]) the CLI sends commands; pair each command with its reply
    # packets by sequence ids: a reply's first packet has seq 1.
    replies, cur = [], None
    for p in sc[1:]:
        if p[3] == 1 or cur is None:
            cur = []
            replies.append(cur)
        cur.append(p)
    caps.append(Capture("cli_login_ok", "OK after the CLI login", 0, sc[1]))
    # replies[0] is the login OK; replies[i + 1] answers the i-th command (COM_QUIT: none).
    for i, (c, rep) in enumerate(zip(cs[1:], replies[1:])):
        text = c[5:].decode(errors="replace")
        name = CLI_NAMES.get(text, "cmd%d" % i)
        caps.append(Capture("cli_" + name, "reply to mariadb CLI command %02x \"%s\"" % (c[4], text),
                            c[4], b"".join(rep)))
        caps.append(Capture("cli_req_" + name, "the CLI's request packet itself (client -> server)",
                            c[4], c))
    return caps


def c_array(cap, out):
    out.append("/* %s */" % cap.what)
    out.append("static const uint8_t %s_bytes[] = {" % cap.name)
    for p in cap.packets:
        n = len(p) - 4
        out.append("\t/* seq %d, payload %d */" % (p[3], n))
        for i in range(0, len(p), 12):
            out.append("\t" + " ".join("0x%02x," % x for x in p[i:i + 12]))
    out.append("};")
    out.append("const struct tp_gold gold_%s = { \"%s\", 0x%02x, %s_bytes, sizeof(%s_bytes) };"
               % (cap.name, cap.name, cap.cmd, cap.name, cap.name))
    out.append("")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="cap")
    ap.add_argument("--password", default="cappw")
    ap.add_argument("--cli", default="mariadb")
    ap.add_argument("--idle", type=float, default=0.5, help="seconds of silence that end a reply")
    ap.add_argument("--out", required=True, help="output path prefix: writes PREFIX.c and PREFIX.h")
    args = ap.parse_args()

    setup_schema(args)
    caps = raw_session_a(args) + raw_session_b(args) + relay_captures(args)
    version = caps[0].packets[0][5:caps[0].packets[0].index(b"\0", 5)].decode()
    head = ["/* SPDX-License-Identifier: Apache-2.0 */",
            "/*",
            " * tests/unit/protocol/%s.{c,h} - GENERATED by tests/unit/protocol/capture.py; do not edit."
            % os.path.basename(args.out),
            " * Raw packets (4-byte header + payload) captured on loopback from a real server, "
            "version",
            " * \"%s\", on %s. See capture.py for the server setup." % (version,
                                                                          time.strftime("%Y-%m-%d")),
            " */"]
    c = head + ['#include "tp_golden.h"', "", "/* clang-format off */", ""]
    h = head + ["#ifndef MYSHARD_TESTS_TP_GOLDEN_H", "#define MYSHARD_TESTS_TP_GOLDEN_H", "",
                "#include <stddef.h>", "#include <stdint.h>", "",
                "/* One capture: whole packets in wire order. */",
                "struct tp_gold {",
                "\tconst char *name;",
                "\tuint8_t cmd; /* command byte the bytes answer (or carry), 0 for the handshake */",
                "\tconst uint8_t *bytes;",
                "\tsize_t len;",
                "};", ""]
    for cap in caps:
        c_array(cap, c)
        h.append("/* %s */" % cap.what)
        h.append("extern const struct tp_gold gold_%s;" % cap.name)
    c.append("const struct tp_gold *const gold_all[] = {")
    for cap in caps:
        c.append("\t&gold_%s," % cap.name)
    c.append("};")
    c.append("const size_t gold_all_count = sizeof(gold_all) / sizeof(gold_all[0]);")
    c.append("/* clang-format on */")
    h += ["", "/* Every capture above, for loops over all golden packets. */",
          "extern const struct tp_gold *const gold_all[];", "extern const size_t gold_all_count;",
          "", "#endif /* MYSHARD_TESTS_TP_GOLDEN_H */"]
    with open(args.out + ".c", "w") as f:
        f.write("\n".join(c) + "\n")
    with open(args.out + ".h", "w") as f:
        f.write("\n".join(h) + "\n")
    for cap in caps:
        print("%-16s %3d packets %5d bytes  %s" % (cap.name, len(cap.packets), len(cap.data), cap.what))


if __name__ == "__main__":
    sys.exit(main())
