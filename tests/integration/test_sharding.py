# SPDX-License-Identifier: Apache-2.0
"""
Sharding through myshard (issue #3), with exact expected values: where rows land (checked on
the shards themselves against docs/sharding.md's definitions and EXPLAIN ROUTE), global
tables, DDL broadcast and its errors, sequences, multi-row INSERT splitting, refusals, hints,
unsharded tables; and the cross-shard answers other proxies get wrong (AVG, COUNT(DISTINCT),
LIMIT after merging groups, DECIMAL types, NULLs), through PyMySQL and the `mariadb` CLI.

Runs against the `sharded` fixture (four shards, myshard, a plain reference server).
"""

import collections
import threading
from decimal import Decimal

import pymysql
import pytest

import shardenv as S
import shardgen as G

pytestmark = pytest.mark.proxy_only

DB = "shtest"
PEER_DB = "peer"

SCHEMA = [
    "CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(40) NULL, "
    "balance DECIMAL(12,2) NULL)",
    "CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer_id BIGINT NOT NULL, "
    "amount DECIMAL(10,2) NULL, KEY (customer_id))",
    "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(20) NULL)",
    "CREATE TABLE accounts (code VARCHAR(20) NOT NULL PRIMARY KEY, owner VARCHAR(40) NULL)",
    "CREATE TABLE offices (region VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, "
    "city VARCHAR(40) NOT NULL, PRIMARY KEY (region, city))",
    "CREATE TABLE things (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NULL)",
    "CREATE TABLE countries (code CHAR(2) NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL)",
]


def q(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def refused(conn, sql):
    """sql must fail through myshard with a server-style error (not a lost connection), and
    the connection must stay usable. Returns (code, message)."""
    with pytest.raises(pymysql.err.MySQLError) as ei:
        q(conn, sql)
    code = ei.value.args[0]
    msg = ei.value.args[1] if len(ei.value.args) > 1 else ""
    assert isinstance(code, int) and 1000 <= code < 2000, f"{sql}: {ei.value!r}"
    assert q(conn, "SELECT 1") == ((1,),), f"connection unusable after refusing {sql}"
    return code, msg


@pytest.fixture(scope="module")
def sh(sharded):
    if sharded.is_fake:
        pytest.skip("needs myshard (MYSHARD_SHARDED_FAKE is set)")
    sharded.create_schema(DB, SCHEMA)
    return sharded


@pytest.fixture
def px(sh):
    c = sh.proxy_connect(DB)
    yield c
    c.close()


def shard_rows(sh, i, sql, db=DB):
    c = sh.shard_connect(i, db)
    try:
        return q(c, sql)
    finally:
        c.close()


def locate(sh, table, col, key):
    """Names of the shards that hold a row with <col> = <key>."""
    return [n for i, n in enumerate(sh.shard_names)
            if shard_rows(sh, i, f"SELECT 1 FROM {table} WHERE {col} = {G.lit(key)}")]


def table_on(sh, i, table, db=DB):
    return bool(shard_rows(sh, i, "SELECT 1 FROM information_schema.TABLES WHERE "
                                  f"TABLE_SCHEMA = '{db}' AND TABLE_NAME = '{table}'", db=None))


# ---------------------------------------------------------------------------------------------
# placement


def test_rows_land_on_the_shard_of_their_key(sh, px):
    # (no 0: customers has a sequence, and like AUTO_INCREMENT an id of 0 means "assign one")
    ids = list(range(1, 121)) + [-1, -42, -77777, 2 ** 63 - 1, -2 ** 63, 2 ** 40, 4294967296]
    with px.cursor() as cur:
        for i in range(0, len(ids), 32):
            batch = ids[i:i + 32]
            n = cur.execute("INSERT INTO customers (id, name, balance) VALUES "
                            + ", ".join(f"({k}, 'c{k}', {k % 1000}.25)" for k in batch))
            assert n == len(batch)
    held = {n: {int(r[0]) for r in shard_rows(sh, i, "SELECT id FROM customers")}
            for i, n in enumerate(sh.shard_names)}
    seen = collections.Counter(k for s in held.values() for k in s)
    assert set(seen) == set(ids)
    assert all(v == 1 for v in seen.values()), [k for k, v in seen.items() if v != 1]
    for name, keys in held.items():
        assert keys, f"shard {name} got none of {len(ids)} keys"
        for k in keys:
            assert S.customer_shard(k) == name, f"customers.id={k} on {name}, docs/sharding.md says {S.customer_shard(k)}"
    for k in ids:
        assert sh.route_shards(px, f"SELECT * FROM customers WHERE id = {k}") == {S.customer_shard(k)}, k
    # reads through myshard find every row
    got = q(px, "SELECT id FROM customers WHERE id IN (" + ", ".join(map(str, ids)) + ") ORDER BY id")
    assert [r[0] for r in got] == sorted(ids)
    # orders are co-located with their customer
    with px.cursor() as cur:
        vals = ", ".join(f"({1000 + k}, {k}, {k}.50)" for k in ids[:60])
        assert cur.execute(f"INSERT INTO orders (id, customer_id, amount) VALUES {vals}") == 60
    for k in ids[:60]:
        assert locate(sh, "orders", "id", 1000 + k) == [S.customer_shard(k)]
        assert (sh.route_shards(px, f"SELECT * FROM orders WHERE customer_id = {k}")
                == sh.route_shards(px, f"SELECT * FROM customers WHERE id = {k}"))


def test_int_and_string_literals_route_the_same(sh, px):
    keys = [4200, 4201, -4202, 4203, 4242]
    with px.cursor() as cur:
        cur.execute("INSERT INTO customers (id, name) VALUES "
                    + ", ".join(f"({k}, 'lit{k}')" for k in keys))
    for k in keys:
        want = {S.customer_shard(k)}
        forms = [str(k), f"'{k}'"] + ([f"'+{k}'", f"'00{k}'"] if k >= 0 else [])
        for f in forms:
            sql = f"SELECT id, name FROM customers WHERE id = {f}"
            assert sh.route_shards(px, sql) == want, sql
            assert q(px, sql) == ((k, f"lit{k}"),), sql
        # not provably an integer: every shard is asked, the answer is still right
        sql = f"SELECT id FROM customers WHERE id = ' {k}'"
        assert sh.route_shards(px, sql) == set(sh.shard_names), sql
        assert q(px, sql) == ((k,),)
    # docs/sharding.md's worked example: ksid(42) = ksid('42') = 0xacc8ab6be9a9c010, in "80-c0"
    for f in ("42", "'42'", "'+42'", "'0042'"):
        assert sh.route_shards(px, f"SELECT * FROM customers WHERE id = {f}") == {"s2"}, f
    # string keys under a _ci collation: 'ABC-1', 'abc-1' and 'abc-1  ' are one key
    with px.cursor() as cur:
        assert cur.execute("INSERT INTO accounts (code, owner) VALUES ('ABC-1', 'ann'), ('xyz-2', 'bo')") == 2
    assert locate(sh, "accounts", "code", "ABC-1") == [S.code_shard("ABC-1")]
    assert locate(sh, "accounts", "code", "xyz-2") == [S.code_shard("xyz-2")]
    for f in ("'ABC-1'", "'abc-1'", "'Abc-1  '"):
        sql = f"SELECT code, owner FROM accounts WHERE code = {f}"
        assert sh.route_shards(px, sql) == {S.code_shard("abc-1")}, sql
        assert q(px, sql) == (("ABC-1", "ann"),), sql


def test_range_function_places_and_prunes(sh, px):
    ids = [-5, 0, 999, 1000, 1500, 1999, 2000, 2999, 3000, 10 ** 6]
    with px.cursor() as cur:
        assert cur.execute("INSERT INTO items (id, name) VALUES "
                           + ", ".join(f"({k}, 'i{k}')" for k in ids)) == len(ids)
    for k in ids:
        assert locate(sh, "items", "id", k) == [S.item_shard(k)], k
        assert sh.route_shards(px, f"SELECT * FROM items WHERE id = {k}") == {S.item_shard(k)}
    for lo, hi, want in [(1500, 2500, {"s1", "s2"}), (10, 20, {"s0"}), (999, 1000, {"s0", "s1"}),
                         (3000, 5000, {"s3"}), (-100, 10 ** 7, {"s0", "s1", "s2", "s3"})]:
        sql = f"SELECT id FROM items WHERE id BETWEEN {lo} AND {hi} ORDER BY id"
        assert sh.route_shards(px, sql) == want, sql
        assert [r[0] for r in q(px, sql)] == [k for k in ids if lo <= k <= hi], sql


def test_list_function(sh, px):
    rows = [("eu", "Paris"), ("us", "NYC"), ("apac", "Tokyo"), ("latam", "Lima")]
    with px.cursor() as cur:
        assert cur.execute("INSERT INTO offices (region, city) VALUES "
                           + ", ".join(f"('{r}', '{c}')" for r, c in rows)) == 4
    for r, _ in rows:
        assert locate(sh, "offices", "region", r) == [S.region_shard(r)]
        assert sh.route_shards(px, f"SELECT * FROM offices WHERE region = '{r}'") == {S.region_shard(r)}
    # values not in the list cannot be placed: refused, nothing written
    refused(px, "INSERT INTO offices (region, city) VALUES ('mars', 'Olympus')")
    refused(px, "INSERT INTO offices (region, city) VALUES ('EU', 'Berlin')")  # bin: 'EU' is not 'eu'
    assert q(px, "SELECT region, city FROM offices ORDER BY city") == (
        ("latam", "Lima"), ("us", "NYC"), ("eu", "Paris"), ("apac", "Tokyo"))


def test_unsharded_table_lives_on_default_shard(sh, px):
    q(px, "CREATE TABLE plain_notes (id INT PRIMARY KEY, txt VARCHAR(20))")
    with px.cursor() as cur:
        assert cur.execute("INSERT INTO plain_notes VALUES (1, 'one'), (2, 'two')") == 2
    assert q(px, "SELECT id, txt FROM plain_notes ORDER BY id") == ((1, "one"), (2, "two"))
    assert [table_on(sh, i, "plain_notes") for i in range(4)] == [True, False, False, False]
    assert shard_rows(sh, 0, "SELECT COUNT(*) FROM plain_notes") == ((2,),)


# ---------------------------------------------------------------------------------------------
# global tables, DDL


def test_global_table_copies_on_every_shard(sh, px):
    with px.cursor() as cur:
        assert cur.execute("INSERT INTO countries (code, name) VALUES ('DE', 'Germany'), "
                           "('FR', 'France'), ('JP', 'Japan')") == 3
    want = (("DE", "Germany"), ("FR", "France"), ("JP", "Japan"))
    for i in range(4):
        assert shard_rows(sh, i, "SELECT code, name FROM countries ORDER BY code") == want, i
    with px.cursor() as cur:
        assert cur.execute("UPDATE countries SET name = 'Deutschland' WHERE code = 'DE'") == 1
        assert cur.execute("DELETE FROM countries WHERE code = 'FR'") == 1
    want = (("DE", "Deutschland"), ("JP", "Japan"))
    for i in range(4):
        assert shard_rows(sh, i, "SELECT code, name FROM countries ORDER BY code") == want, i
    assert q(px, "SELECT COUNT(*) FROM countries") == ((2,),)
    assert q(px, "SELECT code, name FROM countries ORDER BY code") == want
    assert len(sh.route_shards(px, "SELECT * FROM countries")) == 1
    assert sh.route_shards(px, "UPDATE countries SET name = 'x' WHERE code = 'JP'") == set(sh.shard_names)
    # joined with a sharded table, on the sharded table's shard
    q(px, "INSERT INTO customers (id, name) VALUES (5100, 'JP')")
    assert q(px, "SELECT c.id, k.name FROM customers c JOIN countries k ON k.code = c.name "
                 "WHERE c.id = 5100") == ((5100, "Japan"),)


def test_ddl_is_broadcast(sh, px):
    q(px, "CREATE TABLE currencies (code CHAR(3) NOT NULL PRIMARY KEY, name VARCHAR(20) NULL)")
    assert [table_on(sh, i, "currencies") for i in range(4)] == [True] * 4
    q(px, "ALTER TABLE currencies ADD COLUMN rate DECIMAL(10,4) NULL")
    for i in range(4):
        cols = shard_rows(sh, i, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                                 f"TABLE_SCHEMA = '{DB}' AND TABLE_NAME = 'currencies' "
                                 "ORDER BY ORDINAL_POSITION", db=None)
        assert [c[0] for c in cols] == ["code", "name", "rate"], i
    with px.cursor() as cur:
        assert cur.execute("INSERT INTO currencies VALUES ('EUR', 'euro', 1.0000)") == 1
    q(px, "TRUNCATE TABLE currencies")
    for i in range(4):
        assert shard_rows(sh, i, "SELECT COUNT(*) FROM currencies") == ((0,),)
    q(px, "DROP TABLE currencies")
    assert [table_on(sh, i, "currencies") for i in range(4)] == [False] * 4


def test_ddl_failure_names_the_shard(sh, px):
    shard_rows(sh, 2, "CREATE TABLE ddl_victim (x INT)")
    try:
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(px, "CREATE TABLE ddl_victim (id BIGINT NOT NULL PRIMARY KEY)")
        code, msg = ei.value.args[0], ei.value.args[1]
        assert code == 1050, ei.value  # ER_TABLE_EXISTS_ERROR, as s2 said
        assert "s2" in msg, f"the error does not name the failing shard: {msg!r}"
        assert q(px, "SELECT 1") == ((1,),)
    finally:
        for i in range(4):
            shard_rows(sh, i, "DROP TABLE IF EXISTS ddl_victim")


# ---------------------------------------------------------------------------------------------
# sequences, multi-row inserts, refusals, hints


def test_sequence_ids(sh, px):
    with px.cursor() as cur:
        assert cur.execute("INSERT INTO things (name) VALUES ('a'), ('b'), ('c')") == 3
        first = cur.lastrowid
    assert first > 0
    assert q(px, "SELECT LAST_INSERT_ID()") == ((first,),)
    got = dict((r[1], r[0]) for r in q(px, "SELECT id, name FROM things WHERE name IN ('a', 'b', 'c')"))
    assert sorted(got) == ["a", "b", "c"]
    assert got["a"] == first, (got, first)
    assert len(set(got.values())) == 3
    # many inserts from several clients: every id unique, each on its key's shard, each
    # client's lastrowid is the id of its own row
    errors = []

    def client(t):
        c = sh.proxy_connect(DB)
        try:
            for j in range(10):
                name = f"t{t}-{j}"
                with c.cursor() as cur:
                    cur.execute(f"INSERT INTO things (name) VALUES ('{name}')")
                    lid = cur.lastrowid
                (row,) = q(c, f"SELECT id FROM things WHERE name = '{name}'")
                if row[0] != lid or q(c, "SELECT LAST_INSERT_ID()") != ((lid,),):
                    errors.append((name, row[0], lid))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            c.close()
    threads = [threading.Thread(target=client, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors[:5]
    ids = [int(r[0]) for i in range(4) for r in shard_rows(sh, i, "SELECT id FROM things")]
    assert len(ids) == 33 and len(set(ids)) == 33, sorted(ids)
    for i, n in enumerate(sh.shard_names):
        for (k,) in shard_rows(sh, i, "SELECT id FROM things"):
            assert S.customer_shard(int(k)) == n, (k, n)
    # the counter lives on the sequence's shard (s1), in myshard's own schema
    assert shard_rows(sh, 1, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                             "WHERE SCHEMA_NAME = 'myshard'", db=None) == (("myshard",),)


def test_multirow_insert_split_and_counted(sh, px):
    ids = list(range(7000, 7040))
    with px.cursor() as cur:
        assert cur.execute("INSERT INTO customers (id, name) VALUES "
                           + ", ".join(f"({k}, 'm{k}')" for k in ids)) == 40
    per_shard = collections.Counter(S.customer_shard(k) for k in ids)
    assert len(per_shard) == 4
    for i, n in enumerate(sh.shard_names):
        assert shard_rows(sh, i, "SELECT COUNT(*) FROM customers WHERE id BETWEEN 7000 AND 7039") \
            == ((per_shard[n],),), n
    # ON DUPLICATE KEY UPDATE across shards: 2 per updated row, 1 per new row, as one server says
    sql = ("INSERT INTO customers (id, name) VALUES (7000, 'u'), (7001, 'u'), (7100, 'n'), "
           "(7101, 'n') ON DUPLICATE KEY UPDATE name = VALUES(name)")
    ref = sh.reference_connect()
    try:
        q(ref, f"CREATE DATABASE IF NOT EXISTS {DB}_ref")
        q(ref, f"USE {DB}_ref")
        q(ref, "DROP TABLE IF EXISTS customers")
        q(ref, SCHEMA[0])
        q(ref, "INSERT INTO customers (id, name) VALUES " + ", ".join(f"({k}, 'm{k}')" for k in ids))
        with ref.cursor() as cur:
            want = cur.execute(sql)
    finally:
        ref.close()
    assert want == 6
    with px.cursor() as cur:
        assert cur.execute(sql) == want
    assert q(px, "SELECT id, name FROM customers WHERE id IN (7000, 7001, 7100, 7101) ORDER BY id") == (
        (7000, "u"), (7001, "u"), (7100, "n"), (7101, "n"))


def test_update_of_shard_key_refused(sh, px):
    q(px, "INSERT INTO customers (id, name) VALUES (7500, 'keep')")
    q(px, "INSERT INTO orders (id, customer_id, amount) VALUES (7500, 7500, 1.00)")
    codes = [refused(px, "UPDATE customers SET id = 7501 WHERE id = 7500"),
             refused(px, "UPDATE customers SET id = id + 1 WHERE name = 'keep'"),
             refused(px, "UPDATE orders SET customer_id = 7501 WHERE id = 7500")]
    print("refusals (update of the shard key):", codes)
    assert locate(sh, "customers", "id", 7500) == [S.customer_shard(7500)]
    assert locate(sh, "customers", "id", 7501) == []
    assert q(px, "SELECT customer_id FROM orders WHERE id = 7500") == ((7500,),)


def test_write_with_unprovable_key_refused(sh, px):
    codes = [refused(px, "INSERT INTO customers (id, name) VALUES (7600 + 1, 'expr')"),
             refused(px, "INSERT INTO customers (id, name) VALUES (7602.5, 'decimal')"),
             refused(px, "INSERT INTO orders (id, amount) VALUES (7603, 1.00)"),  # no key, no sequence
             refused(px, "INSERT INTO accounts (code, owner) VALUES ('caf\u00e9', 'x')")]  # non-ASCII under ci
    print("refusals (unprovable key):", codes)
    for k in (7601, 7602, 7603):
        assert locate(sh, "customers", "id", k) == []
    assert locate(sh, "orders", "id", 7603) == []
    assert locate(sh, "accounts", "code", "caf\u00e9") == []


def test_crafted_deep_statements_do_not_crash(sh, px):
    """Statements that used to overflow a worker's stack in the parser or planner (200,000
    nesting levels, chained introducers, a 200,000-term AND): a write is refused by myshard
    naming why, reads scatter and the server answers; myshard keeps serving."""
    n = 200000
    code, msg = refused(px, "UPDATE customers SET name = 'x' WHERE id = "
                        + "(" * n + "1" + ")" * n)
    assert code == 1235 and "nested more than 400 levels deep" in msg, msg
    # reads it cannot parse scatter: every shard's server rejects the text itself
    code, msg = refused(px, "SELECT name FROM customers WHERE id = " + "(" * n + "1" + ")" * n)
    assert code == 1064 and msg.startswith("memory exhausted near '((("), (code, msg)
    code, _ = refused(px, "SELECT name FROM customers WHERE name = " + "_utf8mb4 " * 50000 + "'x'")
    assert code == 1064, code  # the server's syntax error, relayed
    q(px, "INSERT INTO customers (id, name) VALUES (7690, 'deep')")
    sql = "SELECT name FROM customers WHERE id = 7690" + " AND name <> 'y'" * n
    assert q(px, sql) == (("deep",),)
    assert q(px, "SELECT 1") == ((1,),)


def test_hint_targets_one_shard(sh, px):
    q(px, "INSERT INTO customers (id, name) VALUES " + ", ".join(f"({k}, 'h')" for k in range(7700, 7720)))
    for i, n in enumerate(sh.shard_names):
        direct = shard_rows(sh, i, "SELECT COUNT(*) FROM customers")
        assert q(px, f"/* myshard:shard={n} */ SELECT COUNT(*) FROM customers") == direct, n
        assert q(px, f"/* myshard:shard={n} */ SELECT @@port") == ((sh.shards[i].port,),)
    refused(px, "/* myshard:shard=s9 */ SELECT 1")


def test_transaction_across_shards_is_all_or_nothing(sh, px):
    """A transaction may touch any shards (issue #5): inside it every statement sees its own
    writes, a ROLLBACK leaves nothing anywhere and a COMMIT keeps everything (two-phase over the
    shards it wrote to). test_transactions.py covers the failure and crash cases."""
    keys = {}
    for k in range(7800, 9000):
        keys.setdefault(S.customer_shard(k), []).append(k)
    a, a2, a3 = keys["s0"][:3]
    b, b2, b3 = keys["s2"][:3]
    q(px, "BEGIN")
    q(px, f"INSERT INTO customers (id, name) VALUES ({a}, 'tx')")
    q(px, f"INSERT INTO customers (id, name) VALUES ({b}, 'tx')")
    q(px, f"UPDATE customers SET name = 'tx2' WHERE id = {b}")
    assert q(px, f"SELECT id, name FROM customers WHERE id IN ({a}, {b}) ORDER BY id") == \
        tuple(sorted(((a, "tx"), (b, "tx2"))))
    q(px, "ROLLBACK")
    assert locate(sh, "customers", "id", a) == [] and locate(sh, "customers", "id", b) == []
    q(px, "BEGIN")
    q(px, f"INSERT INTO customers (id, name) VALUES ({a2}, 'tx')")
    q(px, f"INSERT INTO customers (id, name) VALUES ({b2}, 'tx')")
    q(px, "COMMIT")
    assert locate(sh, "customers", "id", a2) == ["s0"] and locate(sh, "customers", "id", b2) == ["s2"]
    # the mariadb CLI, the same
    r = sh.cli("proxy", f"BEGIN; INSERT INTO customers (id, name) VALUES ({a3}, 'cli'); "
                        f"INSERT INTO customers (id, name) VALUES ({b3}, 'cli'); COMMIT;", DB)
    assert r.returncode == 0, r.stderr
    assert locate(sh, "customers", "id", a3) == ["s0"] and locate(sh, "customers", "id", b3) == ["s2"]
    q(px, f"DELETE FROM customers WHERE id IN ({a2}, {b2}, {a3}, {b3})")


def test_set_names_is_replayed_not_pinned(sh):
    """SET NAMES (what mysqlclient and Connector/C's mysql_set_character_set send) is session
    state that myshard replays on every backend connection the session uses: cross-shard
    statements keep working after it. A character set myshard cannot replay still pins."""
    c = S._connect("127.0.0.1", sh.proxy_port, S.H.APP_USER, S.H.APP_PASSWORD, DB)
    try:
        q(c, "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci")
        want = sum(shard_rows(sh, i, "SELECT COUNT(*) FROM customers")[0][0] for i in range(4))
        assert q(c, "SELECT COUNT(*) FROM customers") == ((want,),)
        assert q(c, "SELECT @@collation_connection, @@character_set_client, "
                    "@@character_set_results") == (("utf8mb4_unicode_ci", "utf8mb4", "utf8mb4"),)
        for i, n in enumerate(sh.shard_names):  # every shard's connection got it
            assert q(c, f"/* myshard:shard={n} */ SELECT @@collation_connection") == \
                (("utf8mb4_unicode_ci",),), n
        q(c, "set names 'utf8mb4';")
        assert q(c, "SELECT @@collation_connection") == (("utf8mb4_general_ci",),)
        assert q(c, "SELECT COUNT(*) FROM customers") == ((want,),)
        q(c, "SET NAMES koi8r")  # not replayable: the session pins its connection
        code, msg = refused(c, "SELECT COUNT(*) FROM customers")
        assert code == 1235 and "keeps state on shard s0" in msg, msg
    finally:
        c.close()


def test_set_variables_are_replayed_not_pinned(sh):
    """Plain `SET var = literal` of session variables (what DBD::MariaDB and Connector/J send at
    connect) is replayed on every connection the session uses, so it does not pin: cross-shard
    statements keep working, every shard's connection has the values, a connection given back
    to the pool loses them (the next session sees the server's defaults), and a value the
    server refuses is refused at once and not replayed."""
    conf = [(n, "127.0.0.1", s.port) for n, s in zip(sh.shard_names, sh.shards)]
    one = sh.start_proxy("setvars", conf, extra_yaml=S.sharding_yaml(), workers=1, pool_max=1)
    # one worker with one connection per shard: both sessions use the very same connections
    c = S._connect("127.0.0.1", one.port, S.H.APP_USER, S.H.APP_PASSWORD, DB)
    d = S._connect("127.0.0.1", one.port, S.H.APP_USER, S.H.APP_PASSWORD, DB)
    try:
        default_wait = q(d, "SELECT @@session.wait_timeout")[0][0]
        q(c, "SET SESSION wait_timeout = 1234, @@session.div_precision_increment = 7")
        q(c, "SET sql_mode = 'STRICT_ALL_TABLES'")
        q(c, "SET wait_timeout = 1235")  # a later value wins
        want = sum(shard_rows(sh, i, "SELECT COUNT(*) FROM customers")[0][0] for i in range(4))
        assert q(c, "SELECT COUNT(*) FROM customers") == ((want,),)
        for n in sh.shard_names:
            assert q(c, f"/* myshard:shard={n} */ SELECT @@wait_timeout, "
                        "@@div_precision_increment, @@sql_mode") == \
                ((1235, 7, "STRICT_ALL_TABLES"),), n
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(c, "SET sql_mode = 'NO_SUCH_MODE'")
        assert ei.value.args[0] == 1231, ei.value.args
        assert q(c, "SELECT @@sql_mode") == (("STRICT_ALL_TABLES",),)
        # back to the server's value for this session only
        q(c, "SET wait_timeout = DEFAULT")
        assert q(c, "SELECT @@wait_timeout") == ((default_wait,),)
        # what Connector/J sends: results in the column's own character set
        q(c, "SET character_set_results = NULL, character_set_server = 'latin1'")
        assert q(c, "SELECT @@character_set_results IS NULL, @@character_set_server") == \
            ((1, "latin1"),)
        server_cs = q(d, "SELECT @@global.character_set_server")[0][0]
        # the other session, on the same connections, never sees c's values; the charset
        # variables come back to its own SET NAMES, not to the server's defaults
        for _ in range(2):
            for n in sh.shard_names:
                assert q(d, f"/* myshard:shard={n} */ SELECT @@div_precision_increment, "
                            "@@sql_mode <> 'STRICT_ALL_TABLES', @@character_set_results, "
                            "@@character_set_server") == ((4, 1, "utf8mb4", server_cs),), n
            for n in sh.shard_names:
                assert q(c, f"/* myshard:shard={n} */ SELECT @@character_set_results IS NULL")\
                    == ((1,),), n
    finally:
        c.close()
        d.close()


def test_set_expression_and_autocommit_are_replayed(sh):
    """What Connector/J 2.7 sends at connect, `SET autocommit=1, sql_mode =
    concat(@@sql_mode, ',STRICT_TRANS_TABLES')`, does not pin: the expression is replayed as
    concat(@@global.sql_mode, ...) on every shard's connection, so scatters keep working and
    every shard has the same mode. A second expression over the session's own value runs on
    one connection and its result is learned from the backend's session tracking (the value
    itself is replayed); a SET with a subquery still pins (a scatter is then refused with
    1235)."""
    conf = [(n, "127.0.0.1", s.port) for n, s in zip(sh.shard_names, sh.shards)]
    one = sh.start_proxy("setexpr", conf, extra_yaml=S.sharding_yaml(), workers=1, pool_max=1)
    c = S._connect("127.0.0.1", one.port, S.H.APP_USER, S.H.APP_PASSWORD, DB)
    try:
        base = q(c, "SELECT @@global.sql_mode")[0][0]
        want_mode = ",".join(m for m in (base, "STRICT_TRANS_TABLES") if m) \
            if "STRICT_TRANS_TABLES" not in base.split(",") else base
        q(c, "set autocommit=1, sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES')")
        modes = {q(c, f"/* myshard:shard={n} */ SELECT @@sql_mode")[0][0] for n in sh.shard_names}
        assert modes == {want_mode}, (modes, want_mode)
        want = sum(shard_rows(sh, i, "SELECT COUNT(*) FROM customers")[0][0] for i in range(4))
        assert q(c, "SELECT COUNT(*) FROM customers") == ((want,),)
        assert "NO_UNSIGNED_SUBTRACTION" not in want_mode
        q(c, "SET sql_mode = concat(@@sql_mode, ',NO_UNSIGNED_SUBTRACTION')")
        assert q(c, "SELECT COUNT(*) FROM customers") == ((want,),)
        modes = {q(c, f"/* myshard:shard={n} */ SELECT @@sql_mode")[0][0] for n in sh.shard_names}
        assert len(modes) == 1 and set(modes.pop().split(",")) == \
            set(want_mode.split(",")) | {"NO_UNSIGNED_SUBTRACTION"}
        q(c, "SET wait_timeout = (SELECT 77)")
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(c, "SELECT COUNT(*) FROM customers")
        assert ei.value.args[0] == 1235, ei.value.args
    finally:
        c.close()


def test_previous_statement_state_comes_from_its_shard(sh, px):
    """ROW_COUNT() and SHOW WARNINGS ask about the previous statement: they are answered by the
    connection that ran it, on its shard (not the default shard), in autocommit mode and in a
    transaction."""
    keys = {}
    for k in range(9100, 9300):
        keys.setdefault(S.customer_shard(k), []).append(k)
    k2 = keys["s2"][0]
    q(px, f"INSERT INTO customers (id, name) VALUES ({k2}, 'prev')")
    for tx in (False, True):
        if tx:
            q(px, "BEGIN")
        q(px, f"UPDATE customers SET name = CONCAT(name, 'x') WHERE id = {k2}")
        assert q(px, "SELECT ROW_COUNT()") == ((1,),), tx
        code, _ = refused(px, f"UPDATE customers SET name = REPEAT('z', 60) WHERE id = {k2}")
        assert code == 1406, code  # data too long (strict mode)
        # (refused() ran SELECT 1 after it; run the failing statement again, then ask)
        with pytest.raises(pymysql.err.MySQLError):
            q(px, f"UPDATE customers SET name = REPEAT('z', 60) WHERE id = {k2}")
        warnings = q(px, "SHOW WARNINGS")
        assert [(w[0], w[1]) for w in warnings] == [("Error", 1406)], (tx, warnings)
        if tx:
            q(px, "COMMIT")
    assert q(px, f"SELECT name FROM customers WHERE id = {k2}") == (("prevxx",),)
    q(px, f"DELETE FROM customers WHERE id = {k2}")


def test_merge_memory_cap(sh, px):
    """merge_max bounds what a merge holds (groups, DISTINCT values, sorted rows without a
    pushed-down LIMIT): past it the client gets ERR 1038 (HY001) and its session goes on;
    streamed concatenation holds nothing and is not limited; other clients are unaffected."""
    names = ", ".join(f"({900000 + k}, 'cap-{k:05d}-{'x' * 24}', {k}.25)" for k in range(3000))
    q(px, "INSERT INTO customers (id, name, balance) VALUES " + names)
    conf = [(n, "127.0.0.1", s.port) for n, s in zip(sh.shard_names, sh.shards)]
    capped = sh.start_proxy("mergecap", conf, extra_yaml=S.sharding_yaml() + "merge_max: 64KiB\n",
                            workers=1)
    c = S._connect("127.0.0.1", capped.port, S.H.APP_USER, S.H.APP_PASSWORD, DB)
    try:
        for sql in ("SELECT name, COUNT(*) FROM customers WHERE id BETWEEN 900000 AND 902999 GROUP BY name",
                    "SELECT DISTINCT name FROM customers WHERE id BETWEEN 900000 AND 902999",
                    "SELECT COUNT(DISTINCT name) FROM customers WHERE id BETWEEN 900000 AND 902999",
                    "SELECT id, name FROM customers WHERE id BETWEEN 900000 AND 902999 ORDER BY name"):
            code, msg = refused(c, sql)
            assert code == 1038, (sql, code, msg)
            assert "merge memory limit of 65536 bytes exceeded" in msg, (sql, msg)
        # streamed: 3000 rows of ~40 bytes pass through a 64 KiB cap
        rows = q(c, "SELECT id, name FROM customers WHERE id BETWEEN 900000 AND 902999")
        assert sorted(r[0] for r in rows) == list(range(900000, 903000))
        # LIMIT pushed down: each shard sends at most 5 rows, well under the cap
        want = tuple((900000 + k, f"cap-{k:05d}-{'x' * 24}") for k in range(5))
        assert q(c, "SELECT id, name FROM customers WHERE id BETWEEN 900000 AND 902999 ORDER BY name LIMIT 5") == want
        assert q(c, "SELECT COUNT(*), SUM(balance) FROM customers WHERE id BETWEEN 900000 AND 902999") == \
            ((3000, Decimal(sum(k for k in range(3000))) + Decimal("750.00")),)
    finally:
        c.close()
    # the main proxy (256 MiB default) answers the same statements
    assert len(q(px, "SELECT name, COUNT(*) FROM customers WHERE id BETWEEN 900000 AND 902999 GROUP BY name")) == 3000
    q(px, "DELETE FROM customers WHERE id BETWEEN 900000 AND 902999")


# ---------------------------------------------------------------------------------------------
# the answers other proxies get wrong (issue #3, first paragraph)

PEER_SCHEMA = [
    "CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL)",
    "CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer_id BIGINT NOT NULL, "
    "amount DECIMAL(10,2) NULL, qty INT NULL, status VARCHAR(8) NULL, note VARCHAR(8) NULL)",
]


def first_key_on(shard):
    return next(k for k in range(1, 10 ** 6) if S.customer_shard(k) == shard)


# one customer per shard; orders chosen so per-shard answers combine wrongly:
#   AVG of per-shard AVGs != AVG; per-shard COUNT(DISTINCT qty) sums to 8, not 4; per-shard
#   "ORDER BY SUM(amount) DESC LIMIT 1" keeps a (100.00) but b (60 + 60) is the answer.
PEER_ORDERS = [  # (id, shard index, amount, qty, status, note)
    (1, 0, "10.00", 1, "a", "x"), (2, 0, "90.00", 2, "a", None),
    (3, 1, "60.00", 2, "b", None), (4, 1, "70.00", 3, "c", "y"),
    (5, 2, "60.00", 1, "b", "z"), (6, 2, "65.00", 3, "d", None),
    (7, 3, None, 4, "n", None), (8, 3, "0.01", None, "e", "w"), (9, 3, "33.33", 4, "e", None),
    (10, 3, "1.00", 3, "e", "v"),
]
D = Decimal
NEWDECIMAL = 246
PEER_CASES = [
    # (name, sql, expected rows, {column index: (type code, scale)})
    ("avg", "SELECT AVG(amount) FROM orders", ((D("43.260000"),),), {0: (NEWDECIMAL, 6)}),
    ("avg_int", "SELECT AVG(qty) FROM orders", ((D("2.5556"),),), {0: (NEWDECIMAL, 4)}),
    ("avg_grouped", "SELECT status, AVG(amount) FROM orders GROUP BY status ORDER BY status",
     (("a", D("50.000000")), ("b", D("60.000000")), ("c", D("70.000000")),
      ("d", D("65.000000")), ("e", D("11.446667")), ("n", None)), {1: (NEWDECIMAL, 6)}),
    ("count_distinct", "SELECT COUNT(DISTINCT qty) FROM orders", ((4,),), {}),
    ("count_distinct_where", "SELECT COUNT(DISTINCT qty) FROM orders WHERE amount > 1", ((4,),), {}),
    ("count_distinct_strings", "SELECT COUNT(DISTINCT status), COUNT(*) FROM orders", ((6, 10),), {}),
    ("limit_after_merge",
     "SELECT status, SUM(amount) AS total FROM orders GROUP BY status ORDER BY total DESC LIMIT 1",
     (("b", D("120.00")),), {1: (NEWDECIMAL, 2)}),
    ("limit_offset_after_merge",
     "SELECT status, SUM(amount) AS total FROM orders GROUP BY status ORDER BY total DESC, status LIMIT 2 OFFSET 1",
     (("a", D("100.00")), ("c", D("70.00"))), {}),
    ("order_by_hidden_aggregate",
     "SELECT status FROM orders GROUP BY status ORDER BY SUM(amount) DESC LIMIT 1", (("b",),), {}),
    ("decimal", "SELECT SUM(amount), MIN(amount), MAX(amount) FROM orders",
     ((D("389.34"), D("0.01"), D("90.00")),), {0: (NEWDECIMAL, 2), 1: (NEWDECIMAL, 2), 2: (NEWDECIMAL, 2)}),
    ("nulls", "SELECT id, amount, qty, note FROM orders ORDER BY id",
     tuple((i, None if a is None else D(a), qn, n) for i, _, a, qn, _, n in PEER_ORDERS), {1: (NEWDECIMAL, 2)}),
    ("null_groups", "SELECT status, SUM(amount), MAX(note) FROM orders GROUP BY status ORDER BY status",
     (("a", D("100.00"), "x"), ("b", D("120.00"), "z"), ("c", D("70.00"), "y"),
      ("d", D("65.00"), None), ("e", D("34.34"), "w"), ("n", None, None)), {}),
    # three-term AND / OR: every term counts (a AND b AND c is one node in the parser)
    ("having_and3", "SELECT status, SUM(amount) FROM orders GROUP BY status "
     "HAVING COUNT(*) >= 1 AND SUM(amount) > 50 AND SUM(amount) < 110 ORDER BY status",
     (("a", D("100.00")), ("c", D("70.00")), ("d", D("65.00"))), {}),
    ("having_or3", "SELECT status, SUM(amount) FROM orders GROUP BY status "
     "HAVING SUM(amount) < 40 OR SUM(amount) > 110 OR SUM(amount) = 70 ORDER BY status",
     (("b", D("120.00")), ("c", D("70.00")), ("e", D("34.34"))), {}),
    ("null_counts", "SELECT COUNT(*), COUNT(amount), COUNT(qty), COUNT(note) FROM orders",
     ((10, 9, 9, 5),), {}),
    ("empty_aggregates", "SELECT COUNT(*), SUM(amount), AVG(amount), MAX(note) FROM orders WHERE qty > 100",
     ((0, None, None, None),), {1: (NEWDECIMAL, 2), 2: (NEWDECIMAL, 6)}),
    ("join_grouped",
     "SELECT c.name, COUNT(*), SUM(o.amount), AVG(o.qty) FROM orders o JOIN customers c "
     "ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name",
     (("c0", 2, D("100.00"), D("1.5000")), ("c1", 2, D("130.00"), D("2.5000")),
      ("c2", 2, D("125.00"), D("2.0000")), ("c3", 4, D("34.34"), D("3.6667"))), {}),
]


@pytest.fixture(scope="module")
def peer(sharded):
    """The peer data through myshard and in the reference. (In fake mode the cases run on two
    plain servers, which checks the expectations themselves.)"""
    keys = [first_key_on(n) for n in S.SHARD_NAMES]
    stmts = ["INSERT INTO customers (id, name) VALUES "
             + ", ".join(f"({k}, 'c{i}')" for i, k in enumerate(keys)),
             "INSERT INTO orders (id, customer_id, amount, qty, status, note) VALUES "
             + ", ".join(f"({i}, {keys[s]}, {G.lit(a)}, {G.lit(qn)}, {G.lit(st)}, {G.lit(n)})"
                         for i, s, a, qn, st, n in PEER_ORDERS)]
    sharded.create_schema(PEER_DB, PEER_SCHEMA + stmts, reference=True)
    # each customer and its orders on its own shard
    for i in range(4 if not sharded.is_fake else 0):
        assert shard_rows(sharded, i, "SELECT id FROM customers", db=PEER_DB) == ((keys[i],),)
    return sharded


@pytest.mark.parametrize("name,sql,want,types", PEER_CASES, ids=[c[0] for c in PEER_CASES])
def test_cross_shard_answers(peer, name, sql, want, types):
    ref = peer.reference_connect(PEER_DB)
    px = peer.proxy_connect(PEER_DB)
    try:
        with ref.cursor() as cur:
            cur.execute(sql)
            ref_rows, ref_desc = cur.fetchall(), cur.description
        # the expectation is what one server says (checks the test itself)
        assert repr(ref_rows) == repr(want), f"reference server: {ref_rows!r}"
        with px.cursor() as cur:
            cur.execute(sql)
            rows, desc = cur.fetchall(), cur.description
        # repr: Decimal('50.000000') and Decimal('50.0') are == but not the same answer
        assert repr(rows) == repr(want), f"{sql}\n  myshard:   {rows!r}\n  expected:  {want!r}"
        for col, (tc, scale) in types.items():
            assert (desc[col][1], desc[col][5]) == (tc, scale), f"column {col}: {desc[col]}"
        assert G.desc_key(desc) == G.desc_key(ref_desc), f"\n  myshard:   {desc}\n  reference: {ref_desc}"
    finally:
        ref.close()
        px.close()
    # the mariadb command-line client prints exactly what it prints for the reference
    a = peer.cli("reference", sql, PEER_DB)
    b = peer.cli("proxy", sql, PEER_DB)
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    assert b.stdout == a.stdout, f"mariadb -B -N: myshard\n{b.stdout}\nreference\n{a.stdout}"
