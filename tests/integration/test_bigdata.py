# SPDX-License-Identifier: Apache-2.0
"""Large values: a 20 MiB row, and rows and statements whose payloads sit on the 16 MiB
(0xffffff) packet boundary, both directions, compared byte for byte."""

import hashlib
import random

import pytest

import harness as H

MAXPKT = 0xFFFFFF


def assert_same(got, want, what="value"):
    """Exact equality, reported as the first differing offset instead of megabytes of repr."""
    if got == want:
        return
    if type(got) is not type(want):
        pytest.fail(f"{what}: got {type(got).__name__}, want {type(want).__name__}")
    n = min(len(got), len(want))
    first = next((i for i in range(n) if got[i] != want[i]), n)
    pytest.fail(f"{what}: length {len(got)} vs {len(want)}, first difference at offset {first}: "
                f"{got[first:first + 16]!r} vs {want[first:first + 16]!r}")


def blob(n, seed):
    return random.Random(seed).randbytes(n)


def ascii_text(n, seed):
    # letters and digits only: no escaping, so the statement's length is exactly known
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    r = random.Random(seed)
    unit = bytes(r.choice(alphabet) for _ in range(4096))
    return (unit * (n // len(unit) + 1))[:n]


@pytest.fixture(scope="module")
def big_conn(target):
    c = target.connect(read_timeout=300, write_timeout=300, max_allowed_packet=256 * 1024 * 1024)
    H.query(c, "DROP TABLE IF EXISTS big")
    H.query(c, "CREATE TABLE big (id INT PRIMARY KEY, v LONGBLOB NOT NULL) ENGINE=InnoDB")
    yield c
    H.query(c, "DROP TABLE IF EXISTS big")
    c.close()


def round_trip(c, row_id, data):
    with c.cursor() as cur:
        assert cur.execute("INSERT INTO big (id, v) VALUES (%s, %s)", (row_id, data)) == 1
        cur.execute("SELECT LENGTH(v), SHA1(v) FROM big WHERE id = %s", (row_id,))
        assert cur.fetchall() == ((len(data), hashlib.sha1(data).hexdigest()),)
        cur.execute("SELECT v FROM big WHERE id = %s", (row_id,))
        rows = cur.fetchall()
    assert len(rows) == 1
    got = rows[0][0]
    assert_same(got, data)
    assert hashlib.sha1(got).digest() == hashlib.sha1(data).digest()
    H.query(c, "DELETE FROM big WHERE id = %s", (row_id,))


def test_20mib_row(big_conn):
    round_trip(big_conn, 1, blob(20 * 1024 * 1024, 20))
    assert H.query(big_conn, "SELECT 1") == ((1,),)


# A one-column text row is lenenc(len) + bytes: the prefix is 4 bytes below 2^24, 9 from it on.
# So a value of 2^24-5 bytes makes a row payload of exactly 0xffffff (then an empty packet).
@pytest.mark.parametrize("n", [
    MAXPKT - 5,             # row payload 0xfffffe
    MAXPKT - 4,             # row payload exactly 0xffffff + empty packet
    MAXPKT - 3,             # 0xffffff + 1 byte
    MAXPKT,                 # 2^24-1
    MAXPKT + 1,             # 2^24: 9-byte length prefix
    MAXPKT + 2,
    2 * MAXPKT - 9,         # row payload exactly 2 * 0xffffff + empty packet
])
def test_rows_around_16mib(big_conn, n):
    round_trip(big_conn, 2, blob(n, n))


def raw_insert_of_payload_len(c, row_id, payload_len, seed):
    """Sends a COM_QUERY whose payload (command byte + text) is exactly <payload_len> bytes."""
    head = b"INSERT INTO big (id, v) VALUES (%d, '" % row_id
    tail = b"')"
    n = payload_len - 1 - len(head) - len(tail)
    text = ascii_text(n, seed)
    sql = head + text + tail
    assert 1 + len(sql) == payload_len
    with c.cursor() as cur:
        assert cur.execute(sql) == 1
    return text


@pytest.mark.parametrize("payload_len", [MAXPKT - 1, MAXPKT, MAXPKT + 1, 2 * MAXPKT])
def test_statements_around_16mib(big_conn, payload_len):
    text = raw_insert_of_payload_len(big_conn, 3, payload_len, payload_len)
    assert H.query(big_conn, "SELECT LENGTH(v), SHA1(v) FROM big WHERE id = 3") == (
        (len(text), hashlib.sha1(text).hexdigest()),)
    rows = H.query(big_conn, "SELECT v FROM big WHERE id = 3")
    assert len(rows) == 1
    assert_same(rows[0][0], text)
    H.query(big_conn, "DELETE FROM big WHERE id = 3")


def test_many_medium_rows(big_conn):
    """A result of many rows of 1 MiB each streams through intact."""
    rows = H.query(big_conn, "SELECT seq, REPEAT(CHAR(65 + seq % 26 USING ascii), 1048576) FROM seq_1_to_40")
    assert len(rows) == 40
    for i, (seq, v) in enumerate(rows, 1):
        assert seq == i
        assert_same(v, chr(65 + i % 26) * 1048576, f"row {i}")
