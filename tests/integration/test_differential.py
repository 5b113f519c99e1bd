# SPDX-License-Identifier: Apache-2.0
"""
Differential test (issue #3): the same schema and seeded data in one plain MariaDB (the
reference) and, through myshard, in four shards; thousands of generated statements of every
class myshard supports, each sent to both and compared exactly (see shardgen.py for what
"exactly" means). Statements myshard must refuse are sent through myshard only for their error;
statements in class refuse_or_exact may be refused, but when answered must match.

  MYSHARD_DIFF_SEED=N      generator seed (default shardgen.DEFAULT_SEED; printed)
  MYSHARD_DIFF_QUERIES=N   number of generated statements after the load (default 3000)
  MYSHARD_DIFF_REPORT=FILE write every mismatch (not only the first 20) and the summary there

Run: /usr/bin/python3 -m pytest tests/integration/test_differential.py -x -q -s
"""

import collections
import os
import random
import time

import pymysql
import pytest

import shardenv
import shardgen as G

pytestmark = pytest.mark.proxy_only

SEED = int(os.environ.get("MYSHARD_DIFF_SEED", G.DEFAULT_SEED))
N_QUERIES = int(os.environ.get("MYSHARD_DIFF_QUERIES", "3000"))
DB = "diff"
MAX_REPORTED = 20


class Runner:
    """Sends each statement to the reference and to myshard and tallies the outcome."""

    def __init__(self, cluster, db):
        self.cluster = cluster
        self.db = db
        self.ref = G.raw_connect(cluster.reference_connect, db)
        self.px = G.raw_connect(cluster.proxy_connect, db)
        self.stats = collections.defaultdict(collections.Counter)
        self.refusals = collections.defaultdict(collections.Counter)  # cls -> Counter(code: n)
        self.refusal_sample = {}
        self.mismatches = []
        self.lost = 0
        self.route_cache = {}
        self.prev_sql = None  # the statement before, on the same myshard connection

    def close(self):
        for c in (self.ref, self.px):
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass

    def mismatch(self, q, why):
        self.stats[q.cls]["mismatch"] += 1
        self.mismatches.append(f"[{q.cls}] {q.sql}\n    -> {why}")

    def px_exec(self, sql):
        res = G.execute(self.px, sql)
        prev, self.prev_sql = self.prev_sql, sql
        if res.lost:
            self.lost += 1
            res.err = (res.err[0], f"{res.err[1]} [the statement before on this connection: {prev}]")
            self.prev_sql = None
            try:
                self.px.close()
            except Exception:  # noqa: BLE001
                pass
            self.px = G.raw_connect(self.cluster.proxy_connect, self.db)
        return res

    def usable_after_error(self, q, px):
        """A refusal must leave the connection usable."""
        r = self.px_exec("SELECT 1")
        if r.ok:
            return True
        self.mismatch(q, f"myshard answered ERR {px.err[0]} ({px.err[1]}), then the connection "
                         f"failed: {r.err[0]} {r.err[1].split(' [')[0]}")
        return False

    def run(self, q):
        ref = G.execute(self.ref, q.sql)
        px = self.px_exec(q.sql)
        st = self.stats[q.cls]
        st["total"] += 1
        if q.kind == "refused":
            if self.cluster.is_fake:
                st["skipped (fake proxy)"] += 1
            elif px.ok:
                self.mismatch(q, "myshard executed a statement it must refuse "
                                 f"({len(px.rows)} rows / {px.affected} affected)")
            elif px.lost:
                self.mismatch(q, f"connection lost instead of an error: {px.err}")
            elif self.usable_after_error(q, px):
                st["refused"] += 1
                self.refusals[q.cls][px.err[0]] += 1
                self.refusal_sample.setdefault(q.cls, f"{px.err[0]}: {px.err[1]}")
            return
        if q.kind == "either" and not px.ok and not px.lost:
            if self.usable_after_error(q, px):
                st["refused"] += 1
                self.refusals[q.cls][px.err[0]] += 1
                self.refusal_sample.setdefault(q.cls + ": " + q.sql[:60], f"{px.err[0]}: {px.err[1]}")
            return
        why = G.compare(q, ref, px)
        if why:
            self.mismatch(q, why)
        else:
            st["ok"] += 1
        if q.kind == "write" and q.table:
            self.check_table(q, q.table)

    # -- data placement and contents --
    def storage_conns(self):
        return self.cluster.storage_connects(self.db, conv={})

    def check_table(self, q, table):
        """The proxy side's rows of <table> equal the reference's: the union of the shards for
        sharded and unsharded tables, every shard's copy for global tables."""
        ref = G.table_snapshot(self.ref, table)
        conns = self.storage_conns()
        try:
            if table in G.GLOBAL and not self.cluster.is_fake:
                for n, c in conns:
                    d = G.diff_counters(ref, G.table_snapshot(c, table), "reference", f"shard {n}")
                    if d:
                        self.mismatch(q, f"global table {table} copy on {n} differs: {d}")
                        return False
                return True
            total = collections.Counter()
            for _, c in conns:
                total += G.table_snapshot(c, table)
            d = G.diff_counters(ref, total, "reference", "the shards")
            if d:
                self.mismatch(q, f"table {table} contents differ: {d}")
                return False
            return True
        finally:
            for _, c in conns:
                c.close()

    def route(self, sql):
        if sql not in self.route_cache:
            try:
                self.route_cache[sql] = frozenset(self.cluster.route_shards(self.px, sql))
            except pymysql.err.MySQLError as e:
                self.route_cache[sql] = frozenset({f"EXPLAIN ROUTE failed: {e}"})
        return self.route_cache[sql]

    def check_placement(self, label):
        """Every row of a sharded table is on the shard its function (docs/sharding.md,
        recomputed here) names for its key, and EXPLAIN ROUTE names that shard too."""
        if self.cluster.is_fake:
            return
        q = G.Query("placement", f"({label})")
        bad = []
        for name, conn in self.storage_conns():
            try:
                with conn.cursor() as cur:
                    for table, key in G.SHARDED.items():
                        cur.execute(f"SELECT DISTINCT {key} FROM {table}")
                        for (k,) in cur.fetchall():
                            k = int(k)
                            exact = (shardenv.item_shard(k) if table == "items"
                                     else shardenv.customer_shard(k))
                            if exact != name:
                                bad.append(f"{table}.{key}={k} stored on {name}, the function (docs/sharding.md) says {exact}")
                            want = self.route(f"SELECT * FROM {table} WHERE {key} = {k}")
                            if want != {exact}:
                                bad.append(f"EXPLAIN ROUTE for {table}.{key}={k} says {sorted(want)}, the function says {exact}")
            finally:
                conn.close()
        self.stats["placement"]["total"] += 1
        if bad:
            self.mismatch(q, f"{len(bad)} misplaced keys, e.g. " + "; ".join(bad[:5]))
        else:
            self.stats["placement"]["ok"] += 1

    def summary(self):
        lines = [f"seed {SEED}, {N_QUERIES} generated statements"]
        width = max(len(c) for c in self.stats) if self.stats else 10
        for cls in sorted(self.stats):
            st = self.stats[cls]
            extra = "".join(f", {k} {v}" for k, v in sorted(st.items())
                            if k not in ("total", "ok", "mismatch", "refused"))
            lines.append(f"  {cls:<{width}}  total {st['total']:5d}  ok {st['ok']:5d}  "
                         f"refused {st['refused']:4d}  mismatch {st['mismatch']:4d}{extra}")
        for cls, codes in sorted(self.refusals.items()):
            lines.append(f"  refusal codes {cls}: {dict(codes)}")
        for k, v in sorted(self.refusal_sample.items())[:25]:
            lines.append(f"  e.g. {k}: {v}")
        if self.lost:
            lines.append(f"  connections to myshard lost: {self.lost}")
        return "\n".join(lines)


def create_schema(conn_fn, db, engine="InnoDB"):
    c = conn_fn(None)
    try:
        with c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db}")
            cur.execute(f"CREATE DATABASE {db}")
            cur.execute(f"USE {db}")
            for ddl in G.SCHEMA_DDL:
                cur.execute(ddl.replace("ENGINE=InnoDB", f"ENGINE={engine}"))
    finally:
        c.close()


@pytest.fixture(scope="module")
def diff_env(sharded):
    print(f"\ndifferential test: seed {SEED} (MYSHARD_DIFF_SEED), {N_QUERIES} statements "
          f"(MYSHARD_DIFF_QUERIES){' [FAKE proxy: plain mariadbd]' if sharded.is_fake else ''}")
    create_schema(lambda d: sharded.reference_connect(d), DB)
    # Fake mode: the stand-in keeps rows in heap order (MyISAM) and gets them in reverse, so
    # a statement whose answer depends on the order rows are met (which on shards differs
    # from the reference) shows up as a mismatch there too.
    create_schema(lambda d: sharded.proxy_connect(d), DB,
                  engine="MyISAM" if sharded.is_fake else "InnoDB")
    rng = random.Random(SEED)
    ds = G.Dataset(rng)
    runner = Runner(sharded, DB)
    t0 = time.monotonic()
    batches = G.load_batches(ds, rng)
    if sharded.is_fake:
        for t, rows in reversed(batches):
            r = G.execute(runner.px, G.insert_sql(t, rows[::-1]))
            assert r.ok, r.err
        for t, rows in batches:
            r = G.execute(runner.ref, G.insert_sql(t, rows))
            assert r.ok, r.err
    for table, rows in ([] if sharded.is_fake else batches):
        runner.run(G.Query("load", G.insert_sql(table, rows), kind="write", table=None))
    for t in G.TABLES:
        runner.check_table(G.Query("load", f"(contents of {t} after the load)"), t)
    runner.check_placement("after the load")
    print(f"load: {time.monotonic() - t0:.1f} s")
    yield sharded, rng, ds, runner
    runner.close()


def test_differential(diff_env):
    cluster, rng, ds, runner = diff_env
    gen = G.Generator(rng, ds)
    t0 = time.monotonic()
    n_reads1 = int(N_QUERIES * 0.65)
    n_writes = int(N_QUERIES * 0.12)
    n_reads2 = N_QUERIES - n_reads1 - n_writes
    phases = [("reads", n_reads1), ("writes", n_writes), ("reads after writes", n_reads2)]
    for phase, n in phases:
        if phase == "writes":
            for _ in range(n):
                runner.run(gen.write())
                gen.refresh(runner.ref)
                if runner.lost > 20:
                    break
        else:
            for q in gen.reads(n):
                runner.run(q)
                if runner.lost > 20:
                    break
        if runner.lost > 20:
            break
    for t in G.TABLES:
        runner.check_table(G.Query("final", f"(contents of {t} at the end)"), t)
    runner.check_placement("at the end")
    elapsed = time.monotonic() - t0
    summary = runner.summary() + f"\n  statements: {elapsed:.1f} s"
    print("\n" + summary)
    report = os.environ.get("MYSHARD_DIFF_REPORT")
    if report:
        with open(report, "w") as f:
            f.write(summary + "\n\n" + "\n".join(runner.mismatches) + "\n")
    assert runner.lost <= 20, "myshard connections kept failing (crashed?)\n" + summary
    if runner.mismatches:
        shown = "\n".join(runner.mismatches[:MAX_REPORTED])
        pytest.fail(f"{len(runner.mismatches)} mismatches (seed {SEED}); first {min(MAX_REPORTED, len(runner.mismatches))}:\n"
                    f"{shown}\n{summary}", pytrace=False)


# ---------------------------------------------------------------------------------------------
# the comparison machinery itself, on two plain servers (no myshard involved)

SELFTEST_DB = "diff_selftest"


def test_comparator_selftest(sharded):
    """The reference server and shard s0 used directly as two identical plain servers: the
    generated reads find zero differences; planted differences (a value, a column type, row
    order, a case change outside a collation-relaxed column, affected rows) are all found."""
    a_srv, b_srv = sharded.reference, sharded.shards[0]
    for srv in (a_srv, b_srv):
        c = srv.admin()
        try:
            with c.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {SELFTEST_DB}")
                cur.execute(f"CREATE DATABASE {SELFTEST_DB}")
                cur.execute(f"USE {SELFTEST_DB}")
                for ddl in G.SCHEMA_DDL:
                    cur.execute(ddl)
        finally:
            c.close()
    rng = random.Random(SEED + 1)
    ds = G.Dataset(rng, n_orders=600)
    a = a_srv.admin(db=SELFTEST_DB, conv={})
    b = b_srv.admin(db=SELFTEST_DB, conv={})
    try:
        for _, sql in G.load_statements(ds, rng):
            ra, rb = G.execute(a, sql), G.execute(b, sql)
            assert ra.ok and rb.ok and ra.affected == rb.affected, (sql[:200], ra.err, rb.err)
        gen = G.Generator(rng, ds)
        bad = []
        n = 0
        for q in gen.reads(400):
            if q.kind == "refused":
                continue
            ra, rb = G.execute(a, q.sql), G.execute(b, q.sql)
            n += 1
            why = G.compare(q, ra, rb)
            if why:
                bad.append(f"{q}\n  -> {why}")
        for _ in range(40):
            q = gen.write()
            ra, rb = G.execute(a, q.sql), G.execute(b, q.sql)
            why = G.compare(q, ra, rb)
            if why:
                bad.append(f"{q}\n  -> {why}")
            d = G.diff_counters(G.table_snapshot(a, q.table), G.table_snapshot(b, q.table), "a", "b")
            if d:
                bad.append(f"{q}\n  -> contents: {d}")
            gen.refresh(a)
        assert not bad, f"{len(bad)} differences between two identical servers:\n" + "\n".join(bad[:10])
        assert n > 300

        # planted differences
        cid = gen.cust_ids[len(gen.cust_ids) // 2]
        G.execute(b, f"UPDATE customers SET balance = COALESCE(balance, 0) + 0.01 WHERE id = {cid}")
        for sql in (f"SELECT id, balance FROM customers WHERE id = {cid}",
                    "SELECT SUM(balance) FROM customers",
                    "SELECT AVG(balance) FROM customers"):
            q = G.Query("planted", sql)
            assert G.compare(q, G.execute(a, sql), G.execute(b, sql)), sql
        G.execute(b, "ALTER TABLE orders MODIFY amount DECIMAL(11,3) NULL")
        sql = "SELECT id, amount FROM orders WHERE amount IS NOT NULL ORDER BY id LIMIT 3"
        why = G.compare(G.Query("planted", sql, ordered=True), G.execute(a, sql), G.execute(b, sql))
        assert why and "metadata" in why, why
        # order matters only when the statement orders totally
        ra = G.execute(a, "SELECT id FROM items ORDER BY id")
        rb = G.execute(a, "SELECT id FROM items ORDER BY id DESC")
        assert G.compare(G.Query("planted", "", ordered=True), ra, rb)
        assert G.compare(G.Query("planted", "", ordered=False), ra, rb) is None
        # multisets count duplicates
        ra = G.execute(a, "SELECT 1 UNION ALL SELECT 1")
        rb = G.execute(a, "SELECT 1")
        assert G.compare(G.Query("planted", ""), ra, rb)
        # case: exact for row values, folded only where the collation allows any member
        ra = G.execute(a, "SELECT _utf8mb4'Bob ' COLLATE utf8mb4_general_ci AS n")
        rb = G.execute(a, "SELECT _utf8mb4'BOB ' COLLATE utf8mb4_general_ci AS n")
        assert G.compare(G.Query("planted", ""), ra, rb)
        assert G.compare(G.Query("planted", "", norm={0: "ci"}), ra, rb) is None
        assert G.compare(G.Query("planted", "", norm={0: "bin"}), ra, rb)
        # DECIMAL scale and integer-vs-decimal text are visible
        ra = G.execute(a, "SELECT CAST(1.5 AS DECIMAL(5,2)) AS v")
        rb = G.execute(a, "SELECT CAST(1.5 AS DECIMAL(5,1)) AS v")
        assert G.compare(G.Query("planted", ""), ra, rb)
        # affected rows and warnings
        ra = G.Result(True, rows=(), desc=None, affected=3)
        rb = G.Result(True, rows=(), desc=None, affected=12)
        assert "affected" in G.compare(G.Query("planted", "", kind="write"), ra, rb)
        ra = G.execute(a, "SELECT CAST('1x' AS SIGNED)")
        rb = G.execute(a, "SELECT CAST('1' AS SIGNED)")
        assert ra.warnings == 1
        assert G.compare(G.Query("planted", ""), ra, rb)
        # an error on one side
        rb = G.execute(b, "SELECT no_such_column FROM customers")
        assert not rb.ok and "myshard failed" in G.compare(G.Query("planted", ""), ra, rb)
    finally:
        a.close()
        b.close()
        for srv in (a_srv, b_srv):
            srv.sql(f"DROP DATABASE IF EXISTS {SELFTEST_DB}")
