# SPDX-License-Identifier: Apache-2.0
"""
Node.js mysql2 through myshard (issue #5): drivers/battery.js runs against myshard and against the
plain reference MariaDB, and the outputs must be identical line for line (see test_drivers.py).
mysql2 speaks the binary protocol for execute() (server-side prepared statements, cached and
re-executed with other parameters), the text protocol for query(), and sets CLIENT_FOUND_ROWS.

mysql2 comes from npm, pinned by drivers/package-lock.json; scripts/test installs it with
`npm ci` into ${MYSHARD_NODE_DIR:-build-node} (scripts/lib.sh: ms_install_node_deps). Without it
the test fails: it never skips.
"""

import difflib
import os
import shutil

import pytest

import harness as H
import shardenv as S
from test_drivers import DB, HERE, run_both, sh, spread  # noqa: F401  (sh is a fixture)

pytestmark = pytest.mark.proxy_only

NODE_DIR = os.path.join(H.REPO_ROOT, os.environ.get("MYSHARD_NODE_DIR", "build-node"))
BASE = 10000  # customers 10000..10005: on s1, s2, s0, s1, s3, s2


def node_path():
    modules = os.path.join(NODE_DIR, "node_modules")
    if shutil.which("node") is None:
        pytest.fail("node is not installed (Debian: apt-get install nodejs; scripts/test does it)")
    if not os.path.isfile(os.path.join(modules, "mysql2", "package.json")):
        pytest.fail(f"mysql2 is not installed in {modules}: run scripts/test, or "
                    f"cp tests/integration/drivers/package*.json {NODE_DIR}/ && "
                    f"(cd {NODE_DIR} && npm ci --omit=peer)")
    return modules


def test_node_mysql2(sh):
    modules = node_path()
    assert S.customer_shard(BASE) != S.customer_shard(BASE + 1)  # the transaction spans two shards
    proxy, ref = run_both(sh, lambda port: [
        "env", f"NODE_PATH={modules}", "node", os.path.join(HERE, "drivers", "battery.js"),
        "127.0.0.1", str(port), H.APP_USER, H.APP_PASSWORD, DB, str(BASE)])
    assert proxy.splitlines() == ref.splitlines(), "\n".join(
        difflib.unified_diff(ref.splitlines(), proxy.splitlines(), "reference", "myshard", lineterm=""))
    assert proxy.endswith("done\n") and len(proxy.splitlines()) == 38, proxy
    assert ('execute duplicate: [1062,"23000","ER_DUP_ENTRY",'
            f'"Duplicate entry \'{BASE}\' for key \'PRIMARY\'"]') in proxy.splitlines()
    assert ('query duplicate: [1062,"23000","ER_DUP_ENTRY",'
            f'"Duplicate entry \'{BASE + 3}\' for key \'PRIMARY\'"]') in proxy.splitlines()
    assert spread(sh, BASE) == {S.customer_shard(k) for k in range(BASE, BASE + 6)}
