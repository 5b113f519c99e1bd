# SPDX-License-Identifier: Apache-2.0
"""myshard --check-config: exit 0 on a valid file; exit 1 and "file:line: key: why" on a bad one."""

import os
import re

import harness as H

GOOD = """\
listen: {address: 127.0.0.1, port: 3307}
workers: 2
max_packet: 64MiB
log_level: info
pool: {max_per_worker: 32, wait_timeout_ms: 5000}
timeouts: {connect_ms: 3000, client_idle_ms: 0}
users:
  - {name: app, password: apppw}
  - {name: nopw, password: ""}
shards:
  - name: s0
    host: 127.0.0.1
    port: PORT
    user: myshard
    password: shardpw
"""
PORT_LINE = 13  # 1-based line of "port: PORT" in shards[0]


def check(binary, path):
    r = H.run_check_config(binary, path)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    for m in H.SANITIZER_MARKERS:
        assert m not in out, out
    return r.returncode, out


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_good_config(myshard_bin, session_root):
    assert GOOD.splitlines()[PORT_LINE - 1] == "    port: PORT"
    path = write(session_root, "check-good.yaml", GOOD.replace("PORT", "3306"))
    rc, out = check(myshard_bin, path)
    assert rc == 0, out


def test_generated_config_is_valid(myshard_bin, session_root):
    path = write(session_root, "check-generated.yaml",
                 H.proxy_config_yaml(3307, [("s0", "127.0.0.1", 3306), ("s1", "127.0.0.1", 3308)]))
    rc, out = check(myshard_bin, path)
    assert rc == 0, out


def check_bad(myshard_bin, session_root, name, port_value):
    path = write(session_root, name, GOOD.replace("PORT", port_value))
    rc, out = check(myshard_bin, path)
    assert rc == 1, out
    pat = re.compile("^" + re.escape(path) + f":{PORT_LINE}: " + r"shards\[0\]\.port: \S", re.M)
    assert pat.search(out), out


def test_bad_port_not_a_number(myshard_bin, session_root):
    check_bad(myshard_bin, session_root, "check-bad-abc.yaml", "abc")


def test_bad_port_out_of_range(myshard_bin, session_root):
    check_bad(myshard_bin, session_root, "check-bad-range.yaml", "70000")
