# SPDX-License-Identifier: Apache-2.0
"""
The differential test's machinery: a fixed schema, deterministic seeded data, a generator of
SQL statements of every class myshard supports (and some it must refuse), and an exact
comparator of two servers' answers.

Comparison is exact: every value as the text on the wire (the connections use no PyMySQL
converters, so DECIMAL scale, DATETIME fractions, integer vs decimal are all visible), plus
cursor.description (column name, type, length, scale, nullability), warning count and, for
writes, the affected-row count. Rows are compared in order when the statement has a total
ORDER BY, else as multisets.

One relaxation, which is SQL's own: where the server may return ANY member of a set of values
that are equal under the column's collation (a GROUP BY / DISTINCT key, MIN/MAX of a string),
that column is compared under the collation (case, accents and trailing spaces folded for a
_general_ci column; trailing spaces for _bin). The per-row values of plain SELECTs are always
compared byte for byte. And the "decimals" byte of string columns is not compared (see
desc_key: it follows the execution plan, not the data).
"""

import collections
import datetime
import unicodedata
from decimal import Decimal

import pymysql
import pymysql.converters

DEFAULT_SEED = 20260301

# ---------------------------------------------------------------------------------------------
# schema

SCHEMA_DDL = [
    """CREATE TABLE countries (
  code CHAR(2) NOT NULL PRIMARY KEY,
  name VARCHAR(40) NOT NULL,
  continent VARCHAR(16) NULL,
  vat DECIMAL(5,2) NULL
) ENGINE=InnoDB""",
    """CREATE TABLE customers (
  id BIGINT NOT NULL PRIMARY KEY,
  name VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL,
  region VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL,
  balance DECIMAL(12,2) NULL,
  score INT NULL,
  points BIGINT UNSIGNED NULL,
  created DATETIME(6) NULL,
  country CHAR(2) NULL,
  flag TINYINT NULL
) ENGINE=InnoDB""",
    """CREATE TABLE orders (
  id BIGINT NOT NULL PRIMARY KEY,
  customer_id BIGINT NOT NULL,
  amount DECIMAL(10,2) NULL,
  qty INT NULL,
  status VARCHAR(12) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL,
  note VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  placed DATE NULL,
  KEY (customer_id)
) ENGINE=InnoDB""",
    """CREATE TABLE items (
  id INT NOT NULL PRIMARY KEY,
  sku VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  price DECIMAL(9,3) NULL,
  stock INT NULL,
  category VARCHAR(10) NULL,
  origin CHAR(2) NULL
) ENGINE=InnoDB""",
]

TABLES = ["countries", "customers", "orders", "items"]
SHARDED = {"customers": "id", "orders": "customer_id", "items": "id"}
GLOBAL = {"countries"}
PK = {"customers": "id", "orders": "id", "items": "id", "countries": "code"}

# (column, collation kind of a string column: "ci" / "bin" / None for non-strings)
COLS = {
    "customers": [("id", None), ("name", "ci"), ("region", "ci"), ("balance", None),
                  ("score", None), ("points", None), ("created", None), ("country", "ci"),
                  ("flag", None)],
    "orders": [("id", None), ("customer_id", None), ("amount", None), ("qty", None),
               ("status", "ci"), ("note", "bin"), ("placed", None)],
    "items": [("id", None), ("sku", "bin"), ("price", None), ("stock", None),
              ("category", "ci"), ("origin", "ci")],
    "countries": [("code", "ci"), ("name", "ci"), ("continent", "ci"), ("vat", None)],
}
COLL = {t: dict(cs) for t, cs in COLS.items()}
# exact numeric columns (SUM / AVG are exact on these; no FLOAT/DOUBLE anywhere)
SUMMABLE = {"customers": ["balance", "score", "points", "flag", "id"],
            "orders": ["amount", "qty", "customer_id"],
            "items": ["price", "stock", "id"],
            "countries": ["vat"]}
# columns whose values stay far from their type's limits under "* 2" / "+ 1"
ARITH = {"customers": ["balance", "score", "flag"], "orders": ["amount", "qty"],
         "items": ["price", "stock"], "countries": ["vat"]}
# NOT NULL columns without a default, besides the key
REQUIRED = {"customers": [], "orders": ["customer_id"], "items": ["sku"], "countries": ["name"]}
GROUPABLE = {"customers": ["region", "country", "flag", "score", "name"],
             "orders": ["status", "qty", "note", "customer_id", "placed"],
             "items": ["category", "origin", "stock"],
             "countries": ["continent"]}
ALIAS = {"customers": "c", "orders": "o", "items": "i", "countries": "k"}

NAMES = ["alice", "Alice", "ALICE", "bob", "Bob ", "BOB", "carol", "Carol", "dave", "Dave",
         "eve", "Chloé", "CHLOE", "chloe", "Zoë", "ZOË", "Łukasz", "łukasz", "Søren", "東京",
         "O'Brien", "back\\slash", 'quote"d', "Ingrid", "ingrid ", "Mia", "mia", "Noah",
         "noah", "Émile", "emile", "Zed", "zed"]
REGIONS = ["eu", "EU", "Eu", "us", "US", "apac", "APAC", "latam", None]
STATUSES = ["new", "NEW", "New", "paid", "Paid", "shipped", "SHIPPED", "cancelled", None]
NOTES = ["a", "A", "b", "x y", "x y ", "ü", "Ü", "", None, "gift"]
CATEGORIES = ["tools", "Tools", "TOOLS", "toys", "Toys", "food", "garden", None]
COUNTRIES = [("DE", "Germany", "Europe", "19.00"), ("FR", "France", "Europe", "20.00"),
             ("US", "United States", "North America", None), ("JP", "Japan", "Asia", "10.00"),
             ("BR", "Brazil", "South America", "17.50"), ("SE", "Sweden", "EUROPE", "25.00"),
             ("PL", "Poland", "europe", "23.00"), ("CN", "China", "Asia", "13.00"),
             ("IN", "India", "asia", "18.00"), ("GB", "United Kingdom", "Europe", "20.00"),
             ("ES", "Spain", "Europe", "21.00"), ("IT", "Italy", "Europe", "22.00"),
             ("CA", "Canada", "North America", "5.00"), ("MX", "Mexico", "North America", "16.00"),
             ("AU", "Australia", "Oceania", "10.00"), ("ZA", "South Africa", "Africa", "15.00")]
CODES = [c[0] for c in COUNTRIES]
POINTS = [0, 1, 42, 1000, 2 ** 63, 2 ** 63 + 5, 2 ** 64 - 1, 4294967295, 4294967296]


def lit(v):
    """SQL literal for a Python value (deterministic text)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, Decimal)):
        return str(v)
    if isinstance(v, datetime.datetime):
        return "'" + v.strftime("%Y-%m-%d %H:%M:%S.%f") + "'"
    if isinstance(v, datetime.date):
        return "'" + v.isoformat() + "'"
    return "'" + pymysql.converters.escape_string(v) + "'"


def dec(n, scale):
    """Decimal n * 10^-scale with exactly <scale> digits after the point."""
    return Decimal(n).scaleb(-scale)


# ---------------------------------------------------------------------------------------------
# data

def gen_customer(rng, cid):
    r = rng
    bal = None if r.random() < 0.08 else (
        r.choice([Decimal("100.00"), Decimal("0.00"), Decimal("-0.50")]) if r.random() < 0.1
        else dec(r.randint(-50000, 5000000), 2))
    score = None if r.random() < 0.08 else (
        r.randint(-1000, 100000) if r.random() < 0.1 else r.randint(0, 60))
    created = None if r.random() < 0.1 else datetime.datetime(2020, 1, 1) + datetime.timedelta(
        seconds=r.randint(0, 5 * 365 * 86400),
        microseconds=0 if r.random() < 0.3 else r.randint(0, 999999))
    return {"id": cid,
            "name": None if r.random() < 0.06 else r.choice(NAMES),
            "region": r.choice(REGIONS),
            "balance": bal,
            "score": score,
            "points": None if r.random() < 0.15 else r.choice(POINTS + [r.randint(0, 10 ** 12)]),
            "created": created,
            "country": None if r.random() < 0.08 else r.choice(CODES + ["XX", "de", "fr"]),
            "flag": r.choice([0, 1, 1, None])}


def gen_order(rng, oid, cid):
    r = rng
    return {"id": oid, "customer_id": cid,
            "amount": None if r.random() < 0.06 else dec(r.randint(-5000, 500000), 2),
            "qty": None if r.random() < 0.08 else r.randint(1, 20),
            "status": r.choice(STATUSES),
            "note": r.choice(NOTES),
            "placed": None if r.random() < 0.1 else
            datetime.date(2021, 1, 1) + datetime.timedelta(days=r.randint(0, 1000))}


def gen_item(rng, iid):
    r = rng
    return {"id": iid,
            "sku": r.choice(["SKU-", "sku-", "Sku-"]) + f"{r.randint(0, 99999):05d}",
            "price": None if r.random() < 0.05 else dec(r.randint(0, 99999999), 3),
            "stock": None if r.random() < 0.15 else r.randint(-5, 500),
            "category": r.choice(CATEGORIES),
            "origin": r.choice(CODES + [None, "de"])}


def gen_country(code, name, continent, vat):
    return {"code": code, "name": name, "continent": continent,
            "vat": None if vat is None else Decimal(vat)}


class Dataset:
    """The initial rows, and the pools of ids the generator draws from."""

    def __init__(self, rng, n_orders=1500):
        r = rng
        ids = set(r.sample(range(1, 700), 330)) | set(r.sample(range(-3000, 0), 25))
        ids |= {2 ** 40 + k * 7919 for k in range(8)}
        # (no 0: customers has a sequence, and myshard, like AUTO_INCREMENT, takes an id of 0
        # as "assign one")
        ids |= {2 ** 63 - 1, -2 ** 63, 4294967296, 2147483648}
        self.cust_ids = sorted(ids)
        self.countries = [gen_country(*c) for c in COUNTRIES]
        custs = [gen_customer(r, i) for i in self.cust_ids]
        r.shuffle(custs)
        self.customers = custs
        popular = r.sample(self.cust_ids, 30)
        orders = []
        for oid in r.sample(range(1, 6000), n_orders):
            x = r.random()
            cid = (r.randint(700, 759) if x < 0.06 else r.choice(popular) if x < 0.35
                   else r.choice(self.cust_ids))
            orders.append(gen_order(r, oid, cid))
        self.orders = orders
        item_ids = set(r.sample(range(-300, 4300), 560))
        item_ids |= {999, 1000, 1001, 1999, 2000, 2999, 3000, -2147483648, 2147483647, 0, -1}
        self.items = [gen_item(r, i) for i in sorted(item_ids)]
        r.shuffle(self.items)
        # customer ids 700..759 never exist (orders may point there); fresh ones for INSERTs
        self.absent_cust = list(range(700, 760)) + [2 ** 62, -2 ** 62, 123456789012]
        fresh = list(range(760, 1500)) + [-(3001 + k) for k in range(300)]
        r.shuffle(fresh)
        self.fresh_cust = fresh
        self.fresh_order = list(range(6000, 12000))
        r.shuffle(self.fresh_order)
        self.fresh_item = [i for i in range(-300, 4300) if i not in item_ids]
        r.shuffle(self.fresh_item)
        self.fresh_code = ["Q" + ch for ch in "ABCDEFGHIJKLMNOPRSTUVWXYZ"]

    def rows(self, table):
        return getattr(self, table)


def insert_sql(table, rows, cols=None):
    cols = cols or [c for c, _ in COLS[table]]
    vals = ", ".join("(" + ", ".join(lit(row[c]) for c in cols) + ")" for row in rows)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES {vals}"


def load_batches(ds, rng):
    """(table, rows) batches of random size loading the dataset (one multi-row INSERT each)."""
    out = []
    for t in TABLES:
        rows = ds.rows(t)
        i = 0
        while i < len(rows):
            n = rng.randint(15, 60)
            out.append((t, rows[i:i + n]))
            i += n
    return out


def load_statements(ds, rng):
    return [(t, insert_sql(t, rows)) for t, rows in load_batches(ds, rng)]


# ---------------------------------------------------------------------------------------------
# queries

class Query:
    """kind: read (must succeed and match), either (myshard may refuse with an error, else it
    must match), refused (myshard must answer with an error), write (must succeed, match in
    affected rows, and leave equal table contents)."""

    __slots__ = ("cls", "sql", "kind", "ordered", "norm", "table")

    def __init__(self, cls, sql, kind="read", ordered=False, norm=None, table=None):
        self.cls, self.sql, self.kind, self.ordered = cls, sql, kind, ordered
        self.norm = norm or {}
        self.table = table

    def __repr__(self):
        return f"[{self.cls}] {self.sql}"


READ_WEIGHTS = {
    "point": 10, "in": 7, "range": 7, "scatter": 7, "order_limit": 11, "count": 5,
    "aggregate": 12, "group_by": 14, "distinct": 6, "count_distinct": 6, "join_colocated": 9,
    "join_global": 6, "global_read": 3,
}
WRITE_WEIGHTS = {"insert": 5, "update_key": 4, "update_scatter": 3, "delete_key": 3,
                 "delete_scatter": 2}


class Generator:
    def __init__(self, rng, ds):
        self.r = rng
        self.ds = ds
        self.cust_ids = list(ds.cust_ids)
        self.order_ids = [o["id"] for o in ds.orders]
        self.order_cids = sorted({o["customer_id"] for o in ds.orders})
        self.item_ids = sorted(i["id"] for i in ds.items)
        self.codes = list(CODES)

    def refresh(self, ref_conn):
        """Re-reads the live ids from the reference server after writes."""
        with ref_conn.cursor() as cur:
            cur.execute("SELECT id FROM customers")
            self.cust_ids = sorted(int(r[0]) for r in cur.fetchall()) or [1]
            cur.execute("SELECT id, customer_id FROM orders")
            rows = cur.fetchall()
            self.order_ids = [int(r[0]) for r in rows] or [1]
            self.order_cids = sorted({int(r[1]) for r in rows}) or [1]
            cur.execute("SELECT id FROM items")
            self.item_ids = sorted(int(r[0]) for r in cur.fetchall()) or [1]
            cur.execute("SELECT code FROM countries")
            self.codes = sorted(r[0] for r in cur.fetchall()) or ["DE"]

    # -- small helpers --
    def chance(self, p):
        return self.r.random() < p

    def fn(self, name):
        """An SQL function name in varied spelling (the result column is named as typed)."""
        x = self.r.random()
        return name if x < 0.75 else name.lower() if x < 0.9 else name.capitalize()

    def call(self, name, arg):
        sp = " " if self.chance(0.1) else ""
        return f"{self.fn(name)}({sp}{arg}{sp})"

    def cust_key(self):
        return self.r.choice(self.cust_ids) if self.chance(0.85) else self.r.choice(self.ds.absent_cust)

    def key_lit(self, v):
        x = self.r.random()
        if x < 0.7 or v < 0:
            return str(v)
        if x < 0.88:
            return f"'{v}'"
        if x < 0.94:
            return f"'{v:03d}'"
        return f"'+{v}'"

    def rand_dec(self, lo, hi, scale=2):
        return dec(self.r.randint(lo * 10 ** scale, hi * 10 ** scale), scale)

    def rand_dt(self):
        return datetime.datetime(2020, 1, 1) + datetime.timedelta(days=self.r.randint(0, 1900))

    def pred(self, t, a=""):
        """A random non-key predicate on table t (column prefix a)."""
        r = self.r
        p = a + "." if a else ""
        if t == "customers":
            opts = [
                lambda: f"{p}score > {r.randint(-5, 65)}",
                lambda: (lambda x: f"{p}score BETWEEN {x} AND {x + r.randint(0, 20)}")(r.randint(-5, 60)),
                lambda: f"{p}balance < {self.rand_dec(-500, 50000)}",
                lambda: f"{p}balance >= {self.rand_dec(-500, 50000)}",
                lambda: f"{p}region = {lit(r.choice(['eu', 'us', 'apac', 'EU', 'latam', 'nowhere']))}",
                lambda: f"{p}region IN ('eu', 'us')",
                lambda: f"{p}name LIKE {lit(r.choice('abcdeimnoz') + '%')}",
                lambda: f"{p}created >= {lit(self.rand_dt())}",
                lambda: f"{p}country IS NULL",
                lambda: f"{p}country IS NOT NULL",
                lambda: f"{p}flag = {r.choice([0, 1])}",
                lambda: f"{p}balance IS NULL",
                lambda: f"{p}points > {r.choice([0, 1000, 2 ** 63])}",
                lambda: f"({p}score IS NULL OR {p}score < {r.randint(0, 10)})",
                lambda: f"{p}id > {r.randint(-100, 700)}",
                lambda: f"{p}name = {lit(r.choice(NAMES))}",
            ]
        elif t == "orders":
            opts = [
                lambda: f"{p}qty >= {r.randint(1, 21)}",
                lambda: (lambda x: f"{p}amount BETWEEN {x} AND {x + self.rand_dec(0, 2000)}")(self.rand_dec(-50, 4000)),
                lambda: f"{p}status = {lit(r.choice(['paid', 'new', 'SHIPPED', 'lost']))}",
                lambda: f"{p}status IN ('new', 'shipped')",
                lambda: f"{p}note IS NULL",
                lambda: f"{p}note = {lit(r.choice(['a', 'A', 'x y', 'gift']))}",
                lambda: f"{p}placed < {lit(datetime.date(2021, 1, 1) + datetime.timedelta(days=r.randint(0, 1000)))}",
                lambda: f"{p}amount > {self.rand_dec(-50, 5000)}",
                lambda: f"{p}customer_id > {r.randint(-100, 700)}",
                lambda: f"{p}id < {r.randint(1, 6000)}",
                lambda: f"{p}amount IS NULL",
            ]
        elif t == "items":
            opts = [
                lambda: f"{p}price > {self.rand_dec(0, 99999, 3)}",
                lambda: f"{p}category = {lit(r.choice(['tools', 'TOYS', 'food', 'none']))}",
                lambda: f"{p}stock IS NULL",
                lambda: f"{p}stock < {r.randint(-5, 500)}",
                lambda: f"{p}origin = {lit(r.choice(['DE', 'de', 'US', 'JP']))}",
                lambda: f"{p}sku LIKE {lit(r.choice(['SKU-0%', 'sku-%', 'SKU-9%']))}",
            ]
        else:
            opts = [
                lambda: f"{p}continent = {lit(r.choice(['Europe', 'asia', 'Oceania', 'Mars']))}",
                lambda: f"{p}vat > {self.rand_dec(0, 25)}",
                lambda: f"{p}vat IS NULL",
                lambda: f"{p}code IN ('DE', 'US', 'JP', 'QA')",
            ]
        s = r.choice(opts)()
        if self.chance(0.2):
            s = f"({s} {r.choice(['AND', 'OR'])} {r.choice(opts)()})"
        return s

    def where(self, t, a="", p=0.7):
        return f" WHERE {self.pred(t, a)}" if self.chance(p) else ""

    def row_exprs(self, t, a="", k=None):
        """Row-value select items (no aggregation): columns and per-row expressions."""
        r = self.r
        p = a + "." if a else ""
        cols = [c for c, _ in COLS[t]]
        k = k or r.randint(1, len(cols))
        out = []
        for c in r.sample(cols, k):
            x = r.random()
            if x < 0.08 and c in ARITH[t]:
                out.append(f"{p}{c} * 2")
            elif x < 0.12 and c in ARITH[t]:
                out.append(f"{p}{c} + 1 AS {c}_plus")
            elif x < 0.15 and COLL[t][c]:
                out.append(f"CONCAT({p}{c}, '!')")
            else:
                out.append(p + c)
        return out

    def sel(self, t, a=""):
        if self.chance(0.12) and not a:
            return "*"
        return ", ".join(self.row_exprs(t, a))

    def limit(self):
        x = self.r.random()
        n, m = self.r.randint(0, 30), self.r.randint(0, 60)
        if x < 0.45:
            return f" LIMIT {n}"
        if x < 0.75:
            return f" LIMIT {n} OFFSET {m}"
        if x < 0.9:
            return f" LIMIT {m}, {n}"
        return ""

    def agg_items(self, t, a="", k=None):
        """Aggregate select items: (text, norm kind) pairs."""
        r = self.r
        p = a + "." if a else ""
        out = []
        for _ in range(k or r.randint(1, 4)):
            x = r.random()
            if x < 0.15:
                out.append((self.call("COUNT", "*"), None))
            elif x < 0.25:
                c = r.choice(COLS[t])[0]
                out.append((self.call("COUNT", p + c), None))
            elif x < 0.45:
                out.append((self.call("SUM", p + r.choice(SUMMABLE[t])), None))
            elif x < 0.62:
                out.append((self.call("AVG", p + r.choice(SUMMABLE[t])), None))
            else:
                c, coll = r.choice(COLS[t])
                out.append((self.call(r.choice(["MIN", "MAX"]), p + c), coll))
            if self.chance(0.15):
                out[-1] = (out[-1][0] + f" AS agg{len(out)}", out[-1][1])
        return out

    @staticmethod
    def norms(items):
        return {i: n for i, (_, n) in enumerate(items) if n}

    # -- read classes --
    def g_point(self):
        r = self.r
        t = r.choice(["customers", "customers", "orders", "items", "items"])
        if t == "customers":
            v = self.cust_key()
            cond = f"id = {self.key_lit(v)}" if self.chance(0.9) else f"{self.key_lit(v)} = id"
            extra = f" AND {self.pred(t)}" if self.chance(0.15) else ""
            lim = " LIMIT 1" if self.chance(0.1) else ""
            return Query("point", f"SELECT {self.sel(t)} FROM customers WHERE {cond}{extra}{lim}")
        if t == "orders":
            v = r.choice(self.order_cids) if self.chance(0.85) else self.cust_key()
            sql = f"SELECT {self.sel(t)} FROM orders WHERE customer_id = {self.key_lit(v)}"
            if self.chance(0.2):
                sql += f" AND {self.pred(t)}"
            if self.chance(0.4):
                return Query("point", sql + f" ORDER BY id{r.choice(['', ' DESC'])}{self.limit()}",
                             ordered=True)
            return Query("point", sql)
        v = r.choice(self.item_ids) if self.chance(0.85) else r.choice(self.ds.fresh_item[-50:])
        return Query("point", f"SELECT {self.sel(t)} FROM items WHERE id = {self.key_lit(v)}")

    def g_in(self):
        r = self.r
        t = r.choice(["customers", "orders", "items"])
        key = {"customers": "id", "orders": "customer_id", "items": "id"}[t]
        pool = {"customers": self.cust_ids, "orders": self.order_cids, "items": self.item_ids}[t]
        vals = [r.choice(pool) if self.chance(0.85) else r.choice(self.ds.absent_cust[:60])
                for _ in range(r.randint(1, 8))]
        if self.chance(0.7):
            cond = f"{key} IN ({', '.join(self.key_lit(v) for v in vals)})"
        else:
            cond = "(" + " OR ".join(f"{key} = {self.key_lit(v)}" for v in vals[:4]) + ")"
        extra = f" AND {self.pred(t)}" if self.chance(0.15) else ""
        sql = f"SELECT {self.sel(t)} FROM {t} WHERE {cond}{extra}"
        if self.chance(0.4):
            return Query("in", sql + f" ORDER BY {PK[t]}{r.choice(['', ' DESC'])}{self.limit()}",
                         ordered=True)
        return Query("in", sql)

    def g_range(self):
        r = self.r
        t = r.choice(["items", "items", "items", "customers", "orders"])
        key = {"customers": "id", "orders": "customer_id", "items": "id"}[t]
        lo = r.choice([-300, 0, 500, 999, 1000, 1500, 1999, 2000, 2500, 2999, 3000, 3500,
                       r.randint(-400, 4400)])
        hi = lo + r.choice([0, 1, 10, 100, 500, 1000, 2500, r.randint(0, 4000)])
        x = r.random()
        if x < 0.6:
            cond = f"{key} BETWEEN {lo} AND {hi}"
        elif x < 0.75:
            cond = f"{key} >= {lo} AND {key} < {hi}"
        elif x < 0.85:
            cond = f"{key} {r.choice(['<', '<=', '>', '>='])} {lo}"
        elif x < 0.92:
            cond = f"{key} NOT BETWEEN {lo} AND {hi}"
        else:
            cond = f"({key} BETWEEN {lo} AND {hi} OR {key} = {r.choice(self.item_ids)})"
        if self.chance(0.2):
            items = self.agg_items(t)
            return Query("range", f"SELECT {', '.join(s for s, _ in items)} FROM {t} WHERE {cond}",
                         norm=self.norms(items))
        sql = f"SELECT {self.sel(t)} FROM {t} WHERE {cond}"
        if self.chance(0.5):
            return Query("range", sql + f" ORDER BY {PK[t]}{r.choice(['', ' DESC'])}{self.limit()}",
                         ordered=True)
        return Query("range", sql)

    def g_scatter(self):
        t = self.r.choice(["customers", "orders", "items"])
        return Query("scatter", f"SELECT {self.sel(t)} FROM {t}{self.where(t, p=0.8)}")

    def g_order_limit(self):
        r = self.r
        t = r.choice(["customers", "customers", "orders", "orders", "items"])
        pk = PK[t]
        cols = [c for c, _ in COLS[t] if c != pk]
        key = r.choice(cols)
        d1, d2 = r.choice(["", " ASC", " DESC"]), r.choice(["", " DESC"])
        items = self.row_exprs(t)
        x = r.random()
        if x < 0.15:
            # sort by position / alias
            items = [f"{key} AS sk", pk] + [s for s in items if s not in (key, pk)]
            order = r.choice([f"1{d1}, 2{d2}", f"sk{d1}, {pk}{d2}"])
        elif x < 0.25:
            order = f"{pk}{d2}"
        else:
            order = f"{key}{d1}, {pk}{d2}"
            if self.chance(0.3) and len(cols) > 1:
                key2 = r.choice([c for c in cols if c != key])
                order = f"{key}{d1}, {key2}{r.choice(['', ' DESC'])}, {pk}{d2}"
        sql = f"SELECT {', '.join(items)} FROM {t}{self.where(t, p=0.5)} ORDER BY {order}{self.limit()}"
        return Query("order_limit", sql, ordered=True)

    def g_count(self):
        r = self.r
        t = r.choice(["customers", "orders", "items", "countries"])
        x = r.random()
        if x < 0.4:
            s = self.call("COUNT", "*")
        elif x < 0.55:
            s = self.call("COUNT", "1")
        elif x < 0.85:
            s = self.call("COUNT", r.choice(COLS[t])[0])
        else:
            s = f"{self.call('COUNT', '*')}, {self.call('COUNT', r.choice(COLS[t])[0])}"
        if t == "customers" and self.chance(0.15):
            return Query("count", f"SELECT {s} FROM customers WHERE id = {self.key_lit(self.cust_key())}")
        return Query("count", f"SELECT {s} FROM {t}{self.where(t, p=0.6)}")

    def g_aggregate(self):
        r = self.r
        t = r.choice(["customers", "customers", "orders", "orders", "items", "countries"])
        items = self.agg_items(t)
        x = r.random()
        if x < 0.1:
            w = {"customers": " WHERE score > 100000000", "orders": " WHERE qty > 1000",
                 "items": " WHERE price < -1", "countries": " WHERE vat > 1000"}[t]
        elif x < 0.2 and t == "customers":
            w = f" WHERE id = {self.key_lit(self.cust_key())}"
        elif x < 0.2 and t == "orders":
            w = f" WHERE customer_id = {self.key_lit(r.choice(self.order_cids))}"
        else:
            w = self.where(t, p=0.6)
        return Query("aggregate", f"SELECT {', '.join(s for s, _ in items)} FROM {t}{w}",
                     norm=self.norms(items))

    def g_group_by(self):
        r = self.r
        t = r.choice(["customers", "customers", "orders", "orders", "items"])
        keys = r.sample(GROUPABLE[t], 2 if self.chance(0.25) else 1)
        key_items = [(k, COLL[t][k]) for k in keys]
        aggs = self.agg_items(t, k=r.randint(1, 3))
        # name the aggregates so HAVING / ORDER BY can use either the alias or the expression
        named = []
        for i, (s, n) in enumerate(aggs):
            if " AS " not in s and self.chance(0.5):
                s = f"{s} AS a{i}"
            named.append((s, n))
        items = key_items + named if self.chance(0.85) else named + key_items
        sql = f"SELECT {', '.join(s for s, _ in items)} FROM {t}{self.where(t, p=0.4)} GROUP BY {', '.join(keys)}"

        def agg_ref(s):
            return s.split(" AS ")[1] if " AS " in s and self.chance(0.6) else s.split(" AS ")[0]
        if self.chance(0.4):
            s, _ = r.choice(named)
            x = r.random()
            if x < 0.4:
                h = f"{self.call('COUNT', '*')} > {r.randint(0, 40)}"
            elif x < 0.8:
                ref = agg_ref(s)
                if "MIN" in s.upper() or "MAX" in s.upper():
                    h = f"{ref} IS NOT NULL"
                else:
                    h = f"{ref} {r.choice(['>', '>=', '<', '<>', '='])} {r.randint(0, 300)}"
            else:
                h = f"{self.call('COUNT', '*')} >= {r.randint(1, 5)} AND {agg_ref(s)} IS NOT NULL"
            sql += f" HAVING {h}"
        ordered = False
        x = r.random()
        if x < 0.35:
            sql += " ORDER BY " + ", ".join(f"{k}{r.choice(['', ' DESC'])}" for k in keys)
            ordered = True
        elif x < 0.8:
            s, _ = r.choice(named)
            sql += (f" ORDER BY {agg_ref(s)}{r.choice(['', ' DESC'])}, "
                    + ", ".join(f"{k}{r.choice(['', ' DESC'])}" for k in keys))
            ordered = True
        if ordered and self.chance(0.6):
            sql += self.limit()
        norm = {i: n for i, (_, n) in enumerate(items) if n}
        return Query("group_by", sql, ordered=ordered, norm=norm)

    def g_distinct(self):
        r = self.r
        t = r.choice(["customers", "orders", "items", "countries"])
        pool = GROUPABLE[t] if self.chance(0.7) else [c for c, _ in COLS[t]]
        cols = r.sample(pool, min(len(pool), 1 if self.chance(0.6) else 2))
        sql = f"SELECT DISTINCT {', '.join(cols)} FROM {t}{self.where(t, p=0.4)}"
        norm = {i: COLL[t][c] for i, c in enumerate(cols) if COLL[t][c]}
        if self.chance(0.5):
            sql += " ORDER BY " + ", ".join(f"{c}{r.choice(['', ' DESC'])}" for c in cols)
            if self.chance(0.5):
                sql += self.limit()
            return Query("distinct", sql, ordered=True, norm=norm)
        return Query("distinct", sql, norm=norm)

    def g_count_distinct(self):
        r = self.r
        t = r.choice(["customers", "orders", "orders", "items"])
        col = r.choice([c for c, _ in COLS[t]])
        cd = self.call("COUNT", f"DISTINCT {col}")
        if self.chance(0.35):
            key = r.choice([k for k in GROUPABLE[t] if k != col] or GROUPABLE[t])
            sql = f"SELECT {key}, {cd} FROM {t}{self.where(t, p=0.3)} GROUP BY {key}"
            norm = {0: COLL[t][key]} if COLL[t][key] else {}
            if self.chance(0.5):
                sql += f" ORDER BY {key}"
                return Query("count_distinct", sql, ordered=True, norm=norm)
            return Query("count_distinct", sql, norm=norm)
        extra = self.agg_items(t, k=r.randint(1, 2)) if self.chance(0.3) else []
        items = [(cd, None)] + extra
        return Query("count_distinct",
                     f"SELECT {', '.join(s for s, _ in items)} FROM {t}{self.where(t, p=0.5)}",
                     norm=self.norms(items))

    def colo_from(self, left=False):
        r = self.r
        on = r.choice(["o.customer_id = c.id", "c.id = o.customer_id"])
        if left:
            return f"customers c LEFT JOIN orders o ON {on}"
        return r.choice([f"orders o JOIN customers c ON {on}", f"customers c JOIN orders o ON {on}",
                         f"orders o INNER JOIN customers c ON {on}"])

    def g_join_colocated(self):
        r = self.r
        x = r.random()
        if x < 0.45:
            items = self.row_exprs("orders", "o", r.randint(1, 3)) + self.row_exprs("customers", "c", r.randint(1, 3))
            sql = f"SELECT {', '.join(items)} FROM {self.colo_from()}"
            y = r.random()
            if y < 0.25:
                sql += f" WHERE c.id = {self.key_lit(r.choice(self.order_cids))}"
            elif y < 0.4:
                sql += f" WHERE o.customer_id IN ({', '.join(str(r.choice(self.order_cids)) for _ in range(3))})"
            elif y < 0.8:
                if self.chance(0.3):
                    sql += f" WHERE {self.pred('orders', 'o')} AND {self.pred('customers', 'c')}"
                else:
                    t = r.choice(["orders", "customers"])
                    sql += f" WHERE {self.pred(t, ALIAS[t])}"
            if self.chance(0.5):
                return Query("join_colocated", sql + f" ORDER BY o.id{r.choice(['', ' DESC'])}{self.limit()}",
                             ordered=True)
            return Query("join_colocated", sql)
        if x < 0.65:
            items = ["c.id"] + self.row_exprs("customers", "c", r.randint(0, 2) or None)[:2] + \
                ["o.id AS oid", "o.amount"]
            sql = f"SELECT {', '.join(items)} FROM {self.colo_from(left=True)}{self.where('customers', 'c', 0.5)}"
            return Query("join_colocated", sql + f" ORDER BY c.id, o.id{self.limit()}", ordered=True)
        # aggregates over the co-located join
        key = r.choice(["c.region", "c.flag", "o.status", "c.country", None])
        aggs = self.agg_items("orders", "o", r.randint(1, 2)) + (
            self.agg_items("customers", "c", 1) if self.chance(0.4) else [])
        items = ([(key, "ci" if key in ("c.region", "o.status", "c.country") else None)] if key else []) + aggs
        sql = f"SELECT {', '.join(s for s, _ in items)} FROM {self.colo_from()}"
        if self.chance(0.4):
            sql += f" WHERE {self.pred('orders', 'o')}"
        ordered = False
        if key:
            sql += f" GROUP BY {key}"
            if self.chance(0.5):
                sql += f" ORDER BY {key}"
                ordered = True
        return Query("join_colocated", sql, ordered=ordered, norm=self.norms(items))

    def g_join_global(self):
        r = self.r
        x = r.random()
        if x < 0.4:
            items = self.row_exprs("customers", "c", r.randint(1, 3)) + ["k.name", "k.vat"][:r.randint(1, 2)]
            j = r.choice(["JOIN", "LEFT JOIN"])
            on = r.choice(["k.code = c.country", "c.country = k.code"])
            sql = f"SELECT {', '.join(items)} FROM customers c {j} countries k ON {on}"
            if self.chance(0.3):
                sql += f" WHERE c.id = {self.key_lit(self.cust_key())}"
            elif self.chance(0.5):
                sql += f" WHERE {self.pred('customers', 'c')}"
            if self.chance(0.5):
                return Query("join_global", sql + f" ORDER BY c.id{self.limit()}", ordered=True)
            return Query("join_global", sql)
        if x < 0.6:
            items = ["i.id", "i.price", "k.code", "k.continent"]
            lo = r.randint(-300, 4000)
            sql = (f"SELECT {', '.join(items)} FROM items i LEFT JOIN countries k ON k.code = i.origin "
                   f"WHERE i.id BETWEEN {lo} AND {lo + r.randint(0, 1500)}")
            if self.chance(0.5):
                return Query("join_global", sql + f" ORDER BY i.id DESC{self.limit()}", ordered=True)
            return Query("join_global", sql)
        if x < 0.75:
            sql = ("SELECT o.id, o.amount, c.name, k.name FROM orders o JOIN customers c ON o.customer_id = c.id "
                   "JOIN countries k ON k.code = c.country")
            if self.chance(0.5):
                sql += f" WHERE {self.pred('orders', 'o')}"
            return Query("join_global", sql + f" ORDER BY o.id{self.limit()}", ordered=True)
        aggs = self.agg_items("customers", "c", r.randint(1, 3))
        items = [("k.continent", "ci")] + aggs
        sql = (f"SELECT {', '.join(s for s, _ in items)} FROM customers c JOIN countries k "
               f"ON k.code = c.country{self.where('customers', 'c', 0.3)} GROUP BY k.continent")
        if self.chance(0.5):
            return Query("join_global", sql + " ORDER BY k.continent", ordered=True,
                         norm=self.norms(items))
        return Query("join_global", sql, norm=self.norms(items))

    def g_global_read(self):
        r = self.r
        x = r.random()
        if x < 0.4:
            sql = f"SELECT {self.sel('countries')} FROM countries{self.where('countries', p=0.5)}"
            if self.chance(0.5):
                return Query("global_read", sql + f" ORDER BY code{self.limit()}", ordered=True)
            return Query("global_read", sql)
        if x < 0.7:
            items = self.agg_items("countries")
            return Query("global_read", f"SELECT {', '.join(s for s, _ in items)} FROM countries"
                         f"{self.where('countries', p=0.3)}", norm=self.norms(items))
        sql = (f"SELECT continent, {self.call('COUNT', '*')}, {self.call('AVG', 'vat')} FROM countries "
               f"GROUP BY continent ORDER BY continent")
        return Query("global_read", sql, ordered=True, norm={0: "ci"})

    # -- writes --
    def g_insert(self):
        r = self.r
        t = r.choice(["customers", "customers", "orders", "orders", "items", "countries"])
        n = r.randint(1, 12)
        if t == "customers":
            rows = [gen_customer(r, self.ds.fresh_cust.pop()) for _ in range(n)]
        elif t == "orders":
            rows = [gen_order(r, self.ds.fresh_order.pop(), r.choice(self.cust_ids)) for _ in range(n)]
        elif t == "items":
            rows = [gen_item(r, self.ds.fresh_item.pop()) for _ in range(n)]
        else:
            if not self.ds.fresh_code:
                return self.g_update_key()
            rows = [gen_country(self.ds.fresh_code.pop(), r.choice(NAMES).strip() or "x",
                                r.choice(["Europe", "Asia", "Atlantis"]), r.choice(["1.50", None]))
                    for _ in range(min(2, n, len(self.ds.fresh_code)))]
        cols = [c for c, _ in COLS[t]]
        if self.chance(0.4):
            key = SHARDED.get(t, PK[t])
            fixed = list(dict.fromkeys([key, PK[t]] + REQUIRED[t]))
            rest = [c for c in cols if c not in fixed]
            cols = fixed + r.sample(rest, r.randint(0, len(rest)))
            r.shuffle(cols)
        return Query("insert", insert_sql(t, rows, cols), kind="write", table=t)

    def g_update_key(self):
        r = self.r
        t = r.choice(["customers", "orders", "items", "countries"])
        if t == "customers":
            sets = r.choice(["balance = balance + 10.5", "score = score + 1, flag = 1 - flag",
                             f"name = {lit(r.choice(NAMES))}", "balance = balance * 1.015",
                             "created = NULL", "points = points DIV 2"])
            if self.chance(0.6):
                w = f"id = {self.key_lit(self.cust_key())}"
            else:
                w = f"id IN ({', '.join(str(self.cust_key()) for _ in range(r.randint(2, 6)))})"
        elif t == "orders":
            sets = r.choice(["status = 'paid'", "qty = qty + 1", "amount = amount - 0.01",
                             "note = NULL", "note = 'upd'"])
            w = f"customer_id = {self.key_lit(r.choice(self.order_cids))}" if self.chance(0.6) else \
                f"customer_id IN ({', '.join(str(r.choice(self.order_cids)) for _ in range(3))})"
            if self.chance(0.3):
                w += f" AND {self.pred('orders')}"
        elif t == "items":
            sets = r.choice(["stock = stock - 1", "price = price * 1.1", "category = 'Tools'"])
            guard = " AND price < 100000" if "price" in sets else ""
            lo = r.randint(-300, 4300)
            w = r.choice([f"id = {r.choice(self.item_ids)}", f"id BETWEEN {lo} AND {lo + r.randint(0, 300)}"]) + guard
        else:
            sets = r.choice(["vat = vat + 1", "name = CONCAT(name, '*')"])
            w = f"code = {lit(r.choice(self.codes))}"
        return Query("update_key", f"UPDATE {t} SET {sets} WHERE {w}", kind="write", table=t)

    def g_update_scatter(self):
        r = self.r
        t = r.choice(["customers", "orders", "items", "countries"])
        sets = {"customers": ["balance = balance - 1", "score = score + 2", "region = 'us'"],
                "orders": ["qty = qty * 2", "status = 'shipped'", "amount = amount + 0.5"],
                "items": ["stock = 0", "price = price + 0.001"],
                "countries": ["vat = vat - 0.25", "continent = 'Europe'"]}[t]
        return Query("update_scatter", f"UPDATE {t} SET {r.choice(sets)} WHERE {self.pred(t)}",
                     kind="write", table=t)

    def g_delete_key(self):
        r = self.r
        t = r.choice(["customers", "orders", "orders", "items"])
        if t == "customers":
            w = f"id = {self.key_lit(self.cust_key())}"
        elif t == "orders":
            v = r.choice(self.order_cids)
            w = r.choice([f"customer_id = {self.key_lit(v)}",
                          f"customer_id = {v} AND {self.pred('orders')}"])
        else:
            lo = r.randint(-300, 4300)
            w = r.choice([f"id = {r.choice(self.item_ids)}", f"id BETWEEN {lo} AND {lo + r.randint(0, 60)}"])
        return Query("delete_key", f"DELETE FROM {t} WHERE {w}", kind="write", table=t)

    def g_delete_scatter(self):
        r = self.r
        t = r.choice(["orders", "orders", "items", "customers", "countries"])
        w = {"orders": [f"amount < {self.rand_dec(-50, 100)}", f"qty = {r.randint(1, 20)} AND status = 'new'"],
             "items": [f"stock < {r.randint(-5, 20)}", "category = 'garden' AND price > 50000"],
             "customers": [f"score = {r.randint(0, 60)} AND region = 'latam'", "balance < -400"],
             "countries": ["continent = 'Atlantis'", "code LIKE 'Q%' AND vat IS NULL"]}[t]
        return Query("delete_scatter", f"DELETE FROM {t} WHERE {r.choice(w)}", kind="write", table=t)

    # -- must be refused --
    def g_refused(self):
        r = self.r
        absent = r.choice(self.ds.absent_cust[:60])
        opts = [
            ("refused_join", f"SELECT o.id, c.id FROM orders o JOIN customers c ON o.qty = c.score WHERE o.amount > {self.rand_dec(0, 4000)}"),
            ("refused_join", "SELECT o.id, i.id FROM orders o JOIN items i ON i.id = o.customer_id"),
            ("refused_join", "SELECT a.id, b.id FROM customers a JOIN customers b ON a.score = b.score AND a.id < b.id"),
            ("refused_join", "SELECT c.id, i.sku FROM customers c JOIN items i ON i.id = c.id"),
            ("refused_update_key", f"UPDATE customers SET id = id + 100000000 WHERE id = {absent}"),
            ("refused_update_key", f"UPDATE orders SET customer_id = {r.choice(self.cust_ids)} WHERE id = {-absent}"),
            ("refused_update_key", f"UPDATE items SET id = {r.randint(5000, 6000)} WHERE id = {r.randint(5000, 6000)}"),
            ("refused_update_key", "UPDATE customers SET id = 5 WHERE score > 100000000"),
            ("refused_group_concat", f"SELECT {self.fn('GROUP_CONCAT')}(name ORDER BY id) FROM customers"),
            ("refused_group_concat", "SELECT region, GROUP_CONCAT(id ORDER BY id) FROM customers GROUP BY region"),
            ("refused_group_concat", f"SELECT GROUP_CONCAT(DISTINCT status) FROM orders WHERE qty > {r.randint(0, 20)}"),
            ("refused_write_limit", "UPDATE orders SET qty = qty WHERE id < 0 ORDER BY id LIMIT 3"),
            ("refused_write_limit", "DELETE FROM orders WHERE id < 0 ORDER BY id LIMIT 2"),
        ]
        cls, sql = r.choice(opts)
        return Query(cls, sql, kind="refused")

    def g_either(self):
        """Statements myshard may refuse; if it answers, the answer must be exact. Several are
        traps where a naive per-shard execution gives a wrong answer."""
        r = self.r
        k = r.randint(0, 20)
        opts = [
            ("SELECT SUM(amount) / COUNT(*) FROM orders", False),
            ("SELECT MAX(score) - MIN(score) FROM customers", False),
            ("SELECT COUNT(DISTINCT status, qty) FROM orders", False),
            (f"SELECT status, COUNT(*) FROM orders GROUP BY status HAVING SUM(qty) > {k * 20}", False, {0: "ci"}),
            (f"SELECT id FROM customers WHERE score > {k} UNION ALL SELECT id FROM customers WHERE score < {k}", False),
            ("SELECT id FROM customers UNION SELECT customer_id FROM orders", False),
            (f"SELECT id, name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE qty > {k})", False),
            ("SELECT COUNT(*) FROM (SELECT DISTINCT status FROM orders) t", False),
            ("SELECT id, score FROM customers WHERE score = (SELECT MAX(score) FROM customers)", False),
            (f"SELECT AVG(DISTINCT qty), SUM(DISTINCT qty) FROM orders WHERE amount > {self.rand_dec(0, 3000)}", False),
            (f"SELECT GROUP_CONCAT(note ORDER BY id) FROM orders WHERE customer_id = {r.choice(self.order_cids)}", False),
            ("SELECT YEAR(created) AS y, COUNT(*) FROM customers GROUP BY YEAR(created) ORDER BY y", True),
            ("SELECT COUNT(*) FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)", False),
            ("SELECT COUNT(*) FROM orders o JOIN customers c ON o.customer_id = c.id AND c.region = 'eu'", False),
            ("SELECT flag, COUNT(*) FROM customers GROUP BY flag WITH ROLLUP", False),
            (f"SELECT qty, COUNT(*) AS n FROM orders GROUP BY qty ORDER BY n DESC, qty LIMIT {k % 5 + 1}", True),
            ("SELECT DISTINCT customer_id % 7 AS m FROM orders ORDER BY m", True),
        ]
        sql, ordered, *norm = r.choice(opts)
        return Query("refuse_or_exact", sql, kind="either", ordered=ordered,
                     norm=norm[0] if norm else None)

    def reads(self, n):
        classes = list(READ_WEIGHTS)
        weights = [READ_WEIGHTS[c] for c in classes]
        for _ in range(n):
            x = self.r.random()
            if x < 0.03:
                yield self.g_refused()
            elif x < 0.06:
                yield self.g_either()
            else:
                yield getattr(self, "g_" + self.r.choices(classes, weights)[0])()

    def write(self):
        classes = list(WRITE_WEIGHTS)
        return getattr(self, "g_" + self.r.choices(classes, [WRITE_WEIGHTS[c] for c in classes])[0])()


# ---------------------------------------------------------------------------------------------
# running and comparing

LOST = {2006, 2013, 2014, 2055, 0}


class Result:
    __slots__ = ("ok", "rows", "desc", "affected", "warnings", "insert_id", "err")

    def __init__(self, ok, rows=None, desc=None, affected=None, warnings=0, insert_id=None,
                 err=None):
        self.ok, self.rows, self.desc, self.affected = ok, rows, desc, affected
        self.warnings, self.insert_id, self.err = warnings, insert_id, err

    @property
    def lost(self):
        return not self.ok and self.err[0] in LOST


def raw_connect(fn, database):
    """A connection without value converters: every value arrives as its wire text."""
    return fn(database=database, conv={}, read_timeout=60, write_timeout=60)


def execute(conn, sql):
    try:
        with conn.cursor() as cur:
            n = cur.execute(sql)
            rows = cur.fetchall()
            res = conn._result
            return Result(True, rows=tuple(rows), desc=cur.description, affected=n,
                          warnings=res.warning_count if res else 0, insert_id=cur.lastrowid)
    except pymysql.err.MySQLError as e:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else 0
        msg = str(e.args[1]) if len(e.args) > 1 else str(e)
        return Result(False, err=(code, msg))


def fold(s, kind):
    """A string's sort key under the collation (approximation good for the test data):
    _general_ci folds case and accents, both PAD SPACE collations ignore trailing spaces."""
    if s is None or not isinstance(s, str):
        return s
    s = s.rstrip(" ")
    if kind == "ci":
        s = "".join(ch for ch in unicodedata.normalize("NFD", s)
                    if unicodedata.category(ch) != "Mn").upper()
    return s


def canon_rows(rows, norm):
    out = []
    for row in rows:
        if norm:
            row = tuple(fold(v, norm.get(i)) if i in norm else v for i, v in enumerate(row))
        out.append(tuple(row))
    return out


def _short(x, n=300):
    s = repr(x)
    return s if len(s) <= n else s[:n] + "..."


STRING_TYPES = {15, 249, 250, 251, 252, 253, 254}


def desc_key(desc):
    """cursor.description with one field made plan-independent: the "decimals" of a string
    column (0, or 39 = NOT_FIXED_DEC) depends on the execution plan (a temporary table or not),
    which one server already changes with data statistics; it has no meaning for strings."""
    if desc is None:
        return None
    return tuple(d[:5] + (0 if d[1] in STRING_TYPES and d[5] in (0, 39) else d[5],) + d[6:]
                 for d in desc)


def compare(q, ref, px):
    """None if equal, else a description of the difference."""
    if not ref.ok:
        return f"reference server failed (generator bug?): {ref.err}"
    if not px.ok:
        return f"myshard failed: ERR {px.err[0]}: {px.err[1]}"
    if desc_key(ref.desc) != desc_key(px.desc):
        if ref.desc is None or px.desc is None:
            return f"result kind differs: reference {'rows' if ref.desc else 'OK'}, myshard {'rows' if px.desc else 'OK'}"
        diffs = []
        if len(ref.desc) != len(px.desc):
            diffs.append(f"column count {len(ref.desc)} vs {len(px.desc)}")
        for i, (a, b) in enumerate(zip(ref.desc, px.desc)):
            if desc_key((a,)) != desc_key((b,)):
                diffs.append(f"col {i}: reference {a} myshard {b}")
        return "metadata differs: " + "; ".join(diffs[:4])
    if ref.desc is None and ref.affected != px.affected:
        return f"affected rows: reference {ref.affected}, myshard {px.affected}"
    if ref.warnings != px.warnings:
        return f"warning count: reference {ref.warnings}, myshard {px.warnings}"
    a, b = canon_rows(ref.rows, q.norm), canon_rows(px.rows, q.norm)
    if q.ordered:
        if a != b:
            if len(a) != len(b):
                return f"{len(a)} rows vs {len(b)} (ordered); reference {_short(a[:4])} myshard {_short(b[:4])}"
            i = next(i for i in range(len(a)) if a[i] != b[i])
            return f"row {i} differs (ordered): reference {_short(a[i])} myshard {_short(b[i])}"
        return None
    ca, cb = collections.Counter(a), collections.Counter(b)
    if ca != cb:
        only_a = list((ca - cb).elements())
        only_b = list((cb - ca).elements())
        return (f"{len(a)} rows vs {len(b)}; only in reference ({len(only_a)}): {_short(only_a[:3])}; "
                f"only through myshard ({len(only_b)}): {_short(only_b[:3])}")
    return None


def table_snapshot(conn, table):
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")
        return collections.Counter(tuple(r) for r in cur.fetchall())


def diff_counters(a, b, label_a, label_b):
    only_a = list((a - b).elements())
    only_b = list((b - a).elements())
    if not only_a and not only_b:
        return None
    return (f"{sum(a.values())} vs {sum(b.values())} rows; only in {label_a} ({len(only_a)}): "
            f"{_short(sorted(only_a, key=repr)[:3])}; only in {label_b} ({len(only_b)}): "
            f"{_short(sorted(only_b, key=repr)[:3])}")
