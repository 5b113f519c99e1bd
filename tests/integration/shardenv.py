# SPDX-License-Identifier: Apache-2.0
"""
A sharded test cluster: four mariadbd shards (s0..s3) behind one myshard with a sharding
config, plus one separate plain "reference" mariadbd that holds the same data unsharded (the
differential test compares the two). Started by the `sharded` fixture in conftest.py.

MYSHARD_SHARDED_FAKE=1 (development of the tests themselves): no myshard; "the proxy" is one
more plain mariadbd, so the comparison machinery can be checked on two identical servers.
"""

import hashlib
import struct
import subprocess

import pymysql

import harness as H

SHARD_NAMES = ["s0", "s1", "s2", "s3"]

# Keyspace-id ranges of the hash functions (Vitess style): four equal quarters.
HASH_RANGES = [("-40", "s0"), ("40-80", "s1"), ("80-c0", "s2"), ("c0-", "s3")]
# Boundaries of the range function by_item: [from, to) -> shard.
ITEM_RANGES = [(None, 1000, "s0"), (1000, 2000, "s1"), (2000, 3000, "s2"), (3000, None, "s3")]
# Values of the list function by_region (utf8mb4_bin: exact bytes).
REGION_LIST = [("eu", "s0"), ("us", "s1"), ("apac", "s2"), ("latam", "s3")]


def sharding_yaml():
    """The `sharding:` section every sharded test uses. Table names match in any schema."""
    hr = "\n".join(f"        - {{keyspace: \"{k}\", shard: {s}}}" for k, s in HASH_RANGES)
    ir = []
    for lo, hi, s in ITEM_RANGES:
        parts = []
        if lo is not None:
            parts.append(f"from: {lo}")
        if hi is not None:
            parts.append(f"to: {hi}")
        parts.append(f"shard: {s}")
        ir.append("        - {" + ", ".join(parts) + "}")
    lv = ", ".join(f"{{value: {v}, shard: {s}}}" for v, s in REGION_LIST)
    return f"""sharding:
  default_shard: s0
  functions:
    - name: by_customer
      kind: hash
      key_type: int
      ranges:
{hr}
    - name: by_code
      kind: hash
      key_type: string
      collation: ci
      ranges:
{hr}
    - name: by_item
      kind: range
      key_type: int
      ranges:
{chr(10).join(ir)}
    - name: by_region
      kind: list
      key_type: string
      values: [{lv}]
  tables:
    - {{name: customers, key: id, function: by_customer, sequence: customers_id}}
    - {{name: orders, key: customer_id, function: by_customer}}
    - {{name: items, key: id, function: by_item}}
    - {{name: accounts, key: code, function: by_code}}
    - {{name: offices, key: region, function: by_region}}
    - {{name: things, key: id, function: by_customer, sequence: things_id}}
    - {{name: ddl_victim, key: id, function: by_customer}}
  global_tables:
    - {{name: countries}}
    - {{name: currencies}}
  sequences:
    - {{name: customers_id, shard: s0, block: 100}}
    - {{name: things_id, shard: s1, block: 10}}
"""


def _ksid(b):
    return struct.unpack(">Q", hashlib.sha1(b).digest()[:8])[0]


def ksid_int(v):
    """Keyspace id of an int key under a hash function (docs/sharding.md: the first 8 bytes,
    big-endian, of SHA-1 of the key as 8 bytes big-endian two's complement)."""
    return _ksid(struct.pack(">q", v))


def ksid_str(s, ci=False):
    """Keyspace id of a string key under a hash function: trailing spaces dropped, ASCII
    letters upper-cased under ci."""
    b = s.encode("utf-8").rstrip(b" ")
    if ci:
        b = b.upper()  # bytes.upper() changes ASCII letters only
    return _ksid(b)


def krange(spec):
    """Vitess-style "40-80" -> inclusive (lo, hi)."""
    lo, hi = spec.split("-")
    return (int(lo.ljust(16, "0"), 16) if lo else 0,
            int(hi.ljust(16, "0"), 16) - 1 if hi else 2 ** 64 - 1)


def hash_shard(ksid):
    for spec, shard in HASH_RANGES:
        lo, hi = krange(spec)
        if lo <= ksid <= hi:
            return shard
    raise AssertionError(hex(ksid))


def customer_shard(key):
    """The shard of customers.id / orders.customer_id = key (by_customer)."""
    return hash_shard(ksid_int(key))


def code_shard(code):
    """The shard of accounts.code = code (by_code: hash, string, ci)."""
    return hash_shard(ksid_str(code, ci=True))


def item_shard(item_id):
    """The shard of items.id under by_item (exact, from ITEM_RANGES)."""
    for lo, hi, s in ITEM_RANGES:
        if (lo is None or item_id >= lo) and (hi is None or item_id < hi):
            return s
    raise AssertionError(item_id)


def region_shard(region):
    for v, s in REGION_LIST:
        if v == region:
            return s
    return None


def _connect(host, port, user, password, database, **kw):
    kw.setdefault("connect_timeout", 10)
    kw.setdefault("read_timeout", 120)
    kw.setdefault("write_timeout", 120)
    kw.setdefault("autocommit", True)
    return pymysql.connect(host=host, port=port, user=user, password=password, database=database,
                           **kw)


class ShardedCluster:
    """What the `sharded` fixture yields."""

    def __init__(self, shards, reference, proxy=None, fake=None):
        self.shards = shards          # [MariaDB] in shard order s0..s3
        self.reference = reference    # MariaDB, plain, unsharded
        self.proxy = proxy            # harness.Proxy, or None in fake mode
        self.fake = fake              # MariaDB standing in for the proxy (fake mode), else None
        self.shard_names = list(SHARD_NAMES)
        self.host = "127.0.0.1"
        self.start_proxy = None       # start_proxy(name, shards, **conf): another myshard

    @property
    def is_fake(self):
        return self.fake is not None

    @property
    def proxy_port(self):
        return self.fake.port if self.fake else self.proxy.port

    @property
    def reference_port(self):
        return self.reference.port

    @property
    def shard_ports(self):
        return [s.port for s in self.shards]

    def proxy_connect(self, database=None, **kw):
        """A client connection through myshard (user app)."""
        return _connect(self.host, self.proxy_port, H.APP_USER, H.APP_PASSWORD, database, **kw)

    def reference_connect(self, database=None, **kw):
        """A client connection to the reference server (user app, same options)."""
        return _connect(self.host, self.reference_port, H.APP_USER, H.APP_PASSWORD, database, **kw)

    def shard_connect(self, i, database=None, **kw):
        """Root on shard i itself (for checking where rows are)."""
        if isinstance(i, str):
            i = self.shard_names.index(i)
        return self.shards[i].admin(db=database, **kw)

    def storage_connects(self, database=None, **kw):
        """Root connections to every server that stores the proxy side's data, with their
        shard names: the four shards, or in fake mode the one fake server."""
        if self.fake:
            return [("fake", self.fake.admin(db=database, **kw))]
        return [(n, self.shard_connect(i, database, **kw)) for i, n in enumerate(self.shard_names)]

    def cli(self, which, sql, database=None, timeout=60):
        """Runs `mariadb -B -N -e SQL` against "proxy" or "reference"; returns the
        CompletedProcess (text)."""
        port = self.proxy_port if which == "proxy" else self.reference_port
        argv = ["mariadb", "--no-defaults", "--protocol=tcp", "-h", self.host, "-P", str(port),
                f"-u{H.APP_USER}", f"-p{H.APP_PASSWORD}", "-B", "-N", "-e", sql]
        if database:
            argv.append(database)
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def create_schema(self, db, statements, reference=False):
        """CREATE DATABASE <db> and runs <statements> in it through myshard (DDL goes to every
        shard, rows to theirs) and, with <reference>, the same on the reference server."""
        for connect in (self.proxy_connect,) + ((self.reference_connect,) if reference else ()):
            c = connect()
            try:
                with c.cursor() as cur:
                    cur.execute(f"CREATE DATABASE {db}")
                    cur.execute(f"USE {db}")
                    for sql in statements:
                        cur.execute(sql)
            finally:
                c.close()

    def explain_route(self, conn, sql):
        """Rows of EXPLAIN ROUTE <sql> through myshard: (step, shard, text) tuples."""
        with conn.cursor() as cur:
            cur.execute("EXPLAIN ROUTE " + sql)
            return cur.fetchall()

    def route_shards(self, conn, sql):
        """The set of shard names EXPLAIN ROUTE says <sql> runs on."""
        return {r[1] for r in self.explain_route(conn, sql) if r[1]}


def start_servers(root, fake=False):
    """Installs and starts the shards sh0..sh3 and the reference shref (and shfake in fake
    mode); returns them in that order."""
    names = ["sh0", "sh1", "sh2", "sh3", "shref"] + (["shfake"] if fake else [])
    return H.start_mariadbs(root, names)


def make_cluster(servers, start_proxy):
    """Provisions the servers from start_servers() and starts myshard (unless fake mode, i.e.
    six servers). start_proxy(name, shards, **conf) is conftest.start_proxy bound to the
    request (it registers the proxy's finalizer)."""
    shards, ref = servers[:4], servers[4]
    for s in shards:
        H.provision_backend(s, direct=False)
    ref.sql(f"CREATE USER '{H.APP_USER}'@'127.0.0.1' IDENTIFIED BY '{H.APP_PASSWORD}'",
            f"GRANT ALL ON *.* TO '{H.APP_USER}'@'127.0.0.1'")
    if len(servers) > 5:
        fake_srv = servers[5]
        H.provision_backend(fake_srv, direct=True)
        return ShardedCluster(shards, ref, fake=fake_srv)
    conf = [(n, "127.0.0.1", s.port) for n, s in zip(SHARD_NAMES, shards)]
    proxy = start_proxy("sharded", conf, extra_yaml=sharding_yaml(), workers=2)
    cluster = ShardedCluster(shards, ref, proxy=proxy)
    cluster.start_proxy = start_proxy
    return cluster
