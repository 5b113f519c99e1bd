# SPDX-License-Identifier: Apache-2.0
"""
LOAD DATA LOCAL INFILE through myshard (issue #5): myshard asks the client for the file, cuts
it into rows and gives each shard its own (sharded table: by key; global table: all of them),
each shard loads its part, and the client gets one OK whose counts (Records, Deleted, Skipped,
Warnings) are those of one server loading the whole file. The same loads run against the
plain reference server; results, messages and table contents must be equal, and the rows must
sit on the shards their keys hash to. A row myshard cannot route refuses the whole load before
any shard loads anything.
"""

import os
import subprocess

import pymysql
import pytest

import harness as H
import shardenv as S
from test_drivers import DB, q, sh  # noqa: F401  (sh is a fixture)

pytestmark = pytest.mark.proxy_only


def load(port, sql, **kw):
    """(affected rows, info, warnings) of <sql>, or ("error", code, message)."""
    c = pymysql.connect(host="127.0.0.1", port=port, user=H.APP_USER, password=H.APP_PASSWORD,
                        database=DB, autocommit=True, local_infile=True, connect_timeout=10,
                        read_timeout=120, **kw)
    try:
        with c.cursor() as cur:
            try:
                n = cur.execute(sql)
            except pymysql.err.MySQLError as e:
                return ("error", e.args[0], e.args[1])
            msg = c._result.message  # noqa: SLF001 - the OK packet's info string
            if msg and msg[0] == len(msg) - 1:
                msg = msg[1:]  # PyMySQL 1.0 keeps its length-encoded length byte
            return (n, msg.decode(), c._result.warning_count)  # noqa: SLF001
    finally:
        c.close()


def both(sh, sql):
    proxy = load(sh.proxy_port, sql)
    ref = load(sh.reference_port, sql)
    assert proxy == ref
    return proxy


def contents(sh, sql):
    out = []
    for connect in (sh.proxy_connect, sh.reference_connect):
        c = connect(DB)
        try:
            out.append(q(c, sql))
        finally:
            c.close()
    assert out[0] == out[1]
    return out[0]


def write(root, name, data):
    path = os.path.join(root, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def placed(sh, lo, hi):
    """{id: shard} of customers lo..hi, read on the shards themselves."""
    out = {}
    for i, name in enumerate(sh.shard_names):
        c = sh.shard_connect(i, DB)
        try:
            for (k,) in q(c, f"SELECT id FROM customers WHERE id BETWEEN {lo} AND {hi}"):
                out[k] = name
        finally:
            c.close()
    return out


def test_load_tsv_into_sharded_table(sh, session_root):
    lo = 20000
    lines = [b"id\tname\tbalance\tn"]  # a header, skipped by IGNORE 1 LINES
    for k in range(lo, lo + 200):
        name = f"l\u00f6ad {k}".encode()
        if k % 17 == 0:
            name = b"tab\\there\\\\ and \\N"  # escapes inside a field
        lines.append(b"\t".join([str(k).encode(), name, f"{k % 1000}.25".encode(),
                                 b"\\N" if k % 3 == 0 else str(k % 7).encode()]))
    path = write(session_root, "load.tsv", b"\n".join(lines) + b"\n")
    out = both(sh, f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE customers "
                   "CHARACTER SET utf8mb4 IGNORE 1 LINES (id, name, balance, n)")
    assert out == (200, "Records: 200  Deleted: 0  Skipped: 0  Warnings: 0", 0), out
    rows = contents(sh, f"SELECT id, name, balance, n FROM customers WHERE id BETWEEN {lo} AND "
                        f"{lo + 199} ORDER BY id")
    assert len(rows) == 200 and rows[0][0] == lo
    k17 = next(i for i, r in enumerate(rows) if r[0] % 17 == 0)
    assert rows[k17][1] == "tab\there\\ and N"  # \t, \\ and a \N inside a field
    got = placed(sh, lo, lo + 199)
    assert got == {k: S.customer_shard(k) for k in range(lo, lo + 200)}
    assert len(set(got.values())) == len(sh.shard_names)
    # loading it again: LOCAL turns duplicate keys into skipped rows, on every shard alike
    out = both(sh, f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE customers "
                   "CHARACTER SET utf8mb4 IGNORE 1 LINES (id, name, balance, n)")
    assert out[0] == 0 and out[1].startswith("Records: 200  Deleted: 0  Skipped: 200"), out
    # REPLACE of rows equal to the ones there (the server counts them so, here as there)
    out = both(sh, f"LOAD DATA LOCAL INFILE '{path}' REPLACE INTO TABLE customers "
                   "CHARACTER SET utf8mb4 IGNORE 1 LINES (id, name, balance, n)")
    assert out == (200, "Records: 200  Deleted: 0  Skipped: 0  Warnings: 0", 0), out


def test_load_csv_enclosed_and_crlf(sh, session_root):
    lo = 21000
    data = b"".join(f'"{k}","csv, {k} ""q""",{k}.5,\\N\r\n'.encode() for k in range(lo, lo + 30))
    path = write(session_root, "load.csv", data)
    out = both(sh, f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE customers FIELDS TERMINATED BY "
                   "',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\r\\n' "
                   "(id, name, balance, n)")
    assert out == (30, "Records: 30  Deleted: 0  Skipped: 0  Warnings: 0", 0), out
    rows = contents(sh, f"SELECT id, name, n FROM customers WHERE id BETWEEN {lo} AND {lo + 29} "
                        "ORDER BY id")
    assert rows[0] == (lo, f'csv, {lo} "q"', None)
    assert placed(sh, lo, lo + 29) == {k: S.customer_shard(k) for k in range(lo, lo + 30)}


def test_load_global_table_and_the_cli(sh, session_root):
    path = write(session_root, "countries.tsv", b"L1\tLoadland\nL2\tTwo\n")
    out = both(sh, f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE countries")
    assert out == (2, "Records: 2  Deleted: 0  Skipped: 0  Warnings: 0", 0), out
    for i in range(len(sh.shard_names)):
        c = sh.shard_connect(i, DB)
        try:
            assert q(c, "SELECT code, name FROM countries WHERE code LIKE 'L%' ORDER BY code") \
                == (("L1", "Loadland"), ("L2", "Two"))
        finally:
            c.close()
    path = write(session_root, "cli.tsv", b"22000\tcli one\n22001\tcli two\n")
    for port in (sh.proxy_port, sh.reference_port):
        r = subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(port), "-u", H.APP_USER,
                            f"-p{H.APP_PASSWORD}", "--local-infile=1", "-N", "-B", "-e",
                            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE customers (id, name); "
                            "SELECT COUNT(*) FROM customers WHERE id IN (22000, 22001)", DB],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "2\n"


def test_load_refusals_load_nothing(sh, session_root):
    lo = 23000
    before = contents(sh, "SELECT COUNT(*) FROM customers")
    path = write(session_root, "nullkey.tsv", f"{lo}\ta\n\\N\tb\n{lo + 1}\tc\n".encode())
    out = load(sh.proxy_port, f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE customers (id, name)")
    assert out == ("error", 1235, "myshard: LOAD DATA line 2: the shard key id is NULL; "
                                  "nothing was loaded"), out
    out = load(sh.proxy_port, f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE customers")
    assert out == ("error", 1235, "myshard: LOAD DATA into sharded table customers needs a "
                                  "column list naming its shard key id: LOAD DATA LOCAL "
                                  "INFILE ... (col, ...)"), out
    assert contents(sh, "SELECT COUNT(*) FROM customers") == before  # nothing was loaded
    # LOCAL makes a shard's data errors warnings (a name too long is cut): counted once each,
    # summed over the shards, as one server counts them
    rows = [f"{k}\tok\n".encode() for k in range(lo, lo + 20)]
    rows.append(f"{lo + 20}\t{'x' * 100}\n".encode())
    path = write(session_root, "toolong.tsv", b"".join(rows))
    out = both(sh, f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE customers (id, name)")
    assert out == (21, "Records: 21  Deleted: 0  Skipped: 0  Warnings: 1", 1), out
    contents(sh, f"SELECT id, name FROM customers WHERE id BETWEEN {lo} AND {lo + 20} ORDER BY id")
    # a client that refuses to send the file: an empty one is loaded
    out = load(sh.proxy_port, "LOAD DATA LOCAL INFILE '/nonexistent/file' INTO TABLE customers "
                              "(id, name)")
    ref = load(sh.reference_port, "LOAD DATA LOCAL INFILE '/nonexistent/file' INTO TABLE "
                                  "customers (id, name)")
    assert out == ref, (out, ref)
