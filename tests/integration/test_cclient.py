# SPDX-License-Identifier: Apache-2.0
"""Connector-C (libmariadb): text queries and prepared statements, exact output."""

import os
import subprocess

import pytest

import harness as H

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def cclient(session_root):
    out = os.path.join(session_root, "cclient")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmariadb"], capture_output=True,
                           text=True, timeout=30)
    assert flags.returncode == 0, flags.stderr
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                        os.path.join(HERE, "cclient.c"), "-o", out, *flags.stdout.split()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


EXPECTED = f"""connected
query: SELECT 1 AS one, 'two' AS two, NULL AS three, 4.5 AS four
columns: one|two|three|four
row: 1|two|NULL|4.5
rows 1
query: SELECT DATABASE() AS db
columns: db
row: {H.TEST_DB}
rows 1
query: DROP TABLE IF EXISTS cc_items
affected 0 insert_id 0
query: CREATE TABLE cc_items (id INT PRIMARY KEY, name VARCHAR(64) NULL, price DOUBLE NULL)
affected 0 insert_id 0
prepared: INSERT INTO cc_items (id, name, price) VALUES (?, ?, ?) params 3 columns 0
insert id 1 affected 1
insert id 2 affected 1
insert id 3 affected 1
insert id 4 affected 1
insert id -5 affected 1
query: SELECT id, name, price FROM cc_items ORDER BY id
columns: id|name|price
row: -5|caf\u00e9 "quoted" 'x'|-10000000000
row: 1|apple|0.5
row: 2|pear|1.25
row: 3|NULL|2
row: 4|no price|NULL
rows 5
prepared: SELECT id, name, price FROM cc_items WHERE id BETWEEN ? AND ? ORDER BY id params 2 columns 3
select -10..10 rows 5
row: -5|caf\u00e9 "quoted" 'x'|-10000000000
row: 1|apple|0.5
row: 2|pear|1.25
row: 3|NULL|2
row: 4|no price|NULL
again: 2|pear
again: 3|NULL
prepare error 1146 (42S02) Table '{H.TEST_DB}.cc_no_such_table' doesn't exist
query: SELECT * FROM cc_no_such_table
error 1146 (42S02) Table '{H.TEST_DB}.cc_no_such_table' doesn't exist
query: SELECT COUNT(*) AS n, SUM(id) AS s FROM cc_items
columns: n|s
row: 5|5
rows 1
ping ok
query: SELECT DATABASE() AS db
columns: db
row: information_schema
rows 1
query: DROP TABLE {H.TEST_DB}.cc_items
affected 0 insert_id 0
done
"""


def test_cclient(target, cclient):
    r = subprocess.run([cclient, target.host, str(target.port), H.APP_USER, H.APP_PASSWORD, H.TEST_DB],
                       capture_output=True, timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    assert (r.returncode, r.stderr.decode("utf-8", "replace")) == (0, ""), out
    assert out == EXPECTED


def test_cclient_tiny_pool(tiny_pool_target, cclient):
    """The same run through a proxy with at most 2 backend connections, while other clients
    keep those connections busy: prepared statements must survive multiplexing."""
    t = tiny_pool_target
    others = [t.connect() for _ in range(4)]
    try:
        for c in others:
            assert H.query(c, "SELECT 1") == ((1,),)
        r = subprocess.run([cclient, t.host, str(t.port), H.APP_USER, H.APP_PASSWORD, H.TEST_DB],
                           capture_output=True, timeout=120)
        out = r.stdout.decode("utf-8", "replace")
        assert (r.returncode, r.stderr.decode("utf-8", "replace")) == (0, ""), out
        assert out == EXPECTED
        for c in others:
            assert H.query(c, "SELECT 2") == ((2,),)
    finally:
        for c in others:
            c.close()
