# SPDX-License-Identifier: Apache-2.0
"""
The Prometheus endpoint (issue #6): with a `metrics:` section myshard serves GET /metrics on
its own port (text format 0.0.4): counters, statement latency histograms per plan kind
(single / multi / scatter), pool gauges and health per shard. Checked with exact figures after
known traffic, and scraped by Debian's own `prometheus`, started here on loopback with a
config of ours, until its query API answers with myshard's figures.
"""

import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pymysql
import pytest

import harness as H
import shardenv as S

pytestmark = pytest.mark.proxy_only


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


@pytest.fixture(scope="module")
def mx(request, sharded, session_root, myshard_bin):
    if sharded.is_fake:
        pytest.skip("needs myshard")
    conf = [(n, "127.0.0.1", s.port) for n, s in zip(sharded.shard_names, sharded.shards)]
    port = H.free_port()
    p = sharded.start_proxy("metrics", conf, extra_yaml=S.sharding_yaml() +
                            f"metrics: {{address: 127.0.0.1, port: {port}}}\n", health_ms=200,
                            slow_query_ms=300)
    p.metrics_port = port
    return p


def test_metrics_figures(mx, sharded):
    db = "mxdb"
    c = S._connect("127.0.0.1", mx.port, S.H.APP_USER, S.H.APP_PASSWORD, None)
    try:
        H.query(c, f"DROP DATABASE IF EXISTS {db}")
        H.query(c, f"CREATE DATABASE {db}")
        H.query(c, f"USE {db}")
        H.query(c, "CREATE TABLE customers (id BIGINT PRIMARY KEY, name VARCHAR(20))")
        before = scrape(mx.metrics_port)
        for k in range(1, 11):
            H.query(c, f"SELECT * FROM customers WHERE id = {k}")  # one shard each
        for _ in range(3):
            H.query(c, "SELECT COUNT(*) FROM customers")              # every shard
        H.query(c, "INSERT INTO customers (id, name) VALUES (1, 'a'), (2, 'b')")
        H.query(c, "INSERT INTO customers (id, name) VALUES (3, 'c')")
        for _ in range(2):
            with pytest.raises(pymysql.err.IntegrityError):           # 1062, from the shard
                H.query(c, "INSERT INTO customers (id, name) VALUES (3, 'c')")
        with pytest.raises(pymysql.err.OperationalError):             # 1094, from myshard
            H.query(c, "KILL 987654321")
        after = scrape(mx.metrics_port)
        # a statement slower than timeouts.slow_query_ms (300) is logged, naming the session,
        # the user, the backend connection and shard, and the statement's digest
        (cid,) = H.query(c, "SELECT CONNECTION_ID()")[0]
        H.query(c, "SELECT SLEEP(0.4), name FROM customers WHERE id = 3")
        H.query(c, "SELECT SLEEP(0.01), name FROM customers WHERE id = 3")
        shard = S.customer_shard(3)
        pat = re.compile(rf"slow query: session {cid} \(app@127\.0\.0\.1:\d+, schema '{db}'\) on "
                         rf"backend \d+ \(shard {shard}\): (\d+\.\d+) ms: "
                         r"SELECT SLEEP\(\.\.\.\), name FROM customers WHERE id = \?$", re.M)
        H.wait_until(lambda: pat.search(mx.stderr_text()), 10, "the slow-query log line")
        lines = [m for m in pat.finditer(mx.stderr_text())]
        assert len(lines) == 1 and 400 <= float(lines[0].group(1)) < 5000, lines
    finally:
        H.query(c, f"DROP DATABASE IF EXISTS {db}")
        c.close()
    single = 'myshard_statement_duration_seconds_count{plan="single"}'
    scatter = 'myshard_statement_duration_seconds_count{plan="scatter"}'
    # the two-row INSERT runs on one shard or on two; INSERT of 3 once, then twice refused
    same = S.customer_shard(1) == S.customer_shard(2)
    multi = 'myshard_statement_duration_seconds_count{plan="multi"}'
    assert after[single] - before[single] == 10 + (1 if same else 0) + 3
    assert after[multi] - before[multi] == (0 if same else 1)
    assert after[scatter] - before[scatter] == 3

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)
    cls = 'myshard_statement_class_duration_seconds_count{class="%s"}'
    assert delta(cls % "read") == 13
    assert delta(cls % "write") == 4
    assert delta('myshard_client_errors_total{code="1062"}') == 2
    assert delta('myshard_client_errors_total{code="1094"}') == 1
    assert delta('myshard_client_errors_total{code="other"}') == 0
    # per shard: one-shard statements (the point selects, the INSERTs, the refused ones among
    # them) and each leg of the others (3 scatters over every shard; the two-row INSERT's two
    # legs if it was split)
    want = {n: 3 for n in sharded.shard_names}
    for k in range(1, 11):
        want[S.customer_shard(k)] += 1
    want[S.customer_shard(1)] += 1
    if not same:
        want[S.customer_shard(2)] += 1
    want[S.customer_shard(3)] += 3
    per = 'myshard_shard_statement_duration_seconds_count{shard="%s"}'
    assert {n: delta(per % n) for n in sharded.shard_names} == want
    errs = 'myshard_shard_statement_errors_total{shard="%s"}'
    assert {n: delta(errs % n) for n in sharded.shard_names} == \
        {n: (2 if n == S.customer_shard(3) else 0) for n in sharded.shard_names}
    inf = 'myshard_statement_duration_seconds_bucket{plan="single",le="+Inf"}'
    assert after[inf] == after[single]
    assert after["myshard_commands_total"] >= before["myshard_commands_total"] + 10
    assert after["myshard_clients"] >= 1
    for n in sharded.shard_names:
        assert after[f'myshard_shard_up{{shard="{n}"}}'] == 1
        assert f'myshard_pool_connections{{shard="{n}",state="idle"}}' in after
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{mx.metrics_port}/other", timeout=10)
    assert e.value.code == 404


def test_scraped_by_prometheus(mx, session_root):
    d = os.path.join(session_root, "prometheus")
    os.makedirs(d, exist_ok=True)
    web = H.free_port()
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                "scrape_configs:\n"
                "  - job_name: myshard\n"
                f"    static_configs: [{{targets: ['127.0.0.1:{mx.metrics_port}']}}]\n")
    proc = H.spawn(["prometheus", f"--config.file={d}/prometheus.yml",
                    f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{web}"],
                   os.path.join(d, "prometheus.log"), os.path.join(d, "prometheus.log"))
    try:
        def value(q):
            url = f"http://127.0.0.1:{web}/api/v1/query?query={urllib.parse.quote(q)}"
            with urllib.request.urlopen(url, timeout=5) as r:
                res = json.loads(r.read())["data"]["result"]
            return [float(x["value"][1]) for x in res]
        H.wait_until(lambda: value('up{job="myshard"}') == [1.0], 60,
                     "prometheus to scrape myshard", interval=0.25)
        assert value("myshard_info") == [1.0]
        assert len(value("myshard_shard_up")) == 4
    finally:
        H.stop_process(proc)
