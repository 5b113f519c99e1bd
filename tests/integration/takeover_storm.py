# SPDX-License-Identifier: Apache-2.0
"""
Run by test_lifecycle.py::test_takeover_drops_no_connection inside a network namespace of its
own (`unshare -n`), where net.ipv4.tcp_migrate_req can be set without touching the host:

  takeover_storm.py MYSHARD_BIN ROOT_DIR MIGRATE_REQ

Sets net.ipv4.tcp_migrate_req to MIGRATE_REQ (0 or 1) in the namespace, starts a mariadbd and
myshard A (listen.reuse_port, with an admin port and a metrics endpoint) on loopback, runs a
storm of clients (each: connect, log in, SELECT 1, close) and meanwhile upgrades three times:
start B on the same ports, SIGTERM A, wait for A to exit; then B to C, C to D. Prints one
JSON line: the attempts, the failures with their errors, and the attempts that ran during
each handover.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

THREADS = 6


def main():
    binary, root, migrate = sys.argv[1], sys.argv[2], sys.argv[3]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open("/proc/sys/net/ipv4/tcp_migrate_req", "w") as f:
        f.write(migrate)
    H.install_signal_handlers()
    srv = H.start_mariadbs(root, ["tk0"])[0]
    procs = []
    try:
        H.provision_backend(srv, direct=False)
        port, admin, metrics = H.free_port(), H.free_port(), H.free_port()
        yaml = H.proxy_config_yaml(
            port, [("s0", "127.0.0.1", srv.port)],
            extra_yaml=f"admin:\n  listen: {{address: 127.0.0.1, port: {admin}}}\n"
            "  users:\n    - {name: tkadmin, password: tkpw}\n"
            f"metrics: {{address: 127.0.0.1, port: {metrics}}}\n").replace(
            f"listen: {{address: 127.0.0.1, port: {port}}}",
            f"listen: {{address: 127.0.0.1, port: {port}, reuse_port: true}}")

        def start(name):
            path = os.path.join(root, name + ".yaml")
            with open(path, "w") as f:
                f.write(yaml)
            log = os.path.join(root, name + ".stderr")
            p = H.spawn([binary, "--config", path], log, log)
            H.wait_until(lambda: p.poll() is not None or "ready" in open(log).read(), 15,
                         f"{name} to start")
            if p.poll() is not None:
                raise H.HarnessError(f"{name} exited: {H.file_tail(log)}")
            procs.append(p)
            return p

        lock = threading.Lock()
        stats = {"attempts": 0, "failures": [], "during": [0, 0, 0]}
        phase = [-1]  # index of the handover under way, -1 none
        stop = threading.Event()

        def client():
            while not stop.is_set():
                err = None
                try:
                    c = pymysql.connect(host="127.0.0.1", port=port, user=H.APP_USER,
                                        password=H.APP_PASSWORD, connect_timeout=5,
                                        read_timeout=10)
                    try:
                        if H.query(c, "SELECT 1") != ((1,),):
                            err = "wrong result"
                    finally:
                        c.close()
                except Exception as e:  # noqa: BLE001 - counted and reported
                    err = repr(e)
                with lock:
                    stats["attempts"] += 1
                    if phase[0] >= 0:
                        stats["during"][phase[0]] += 1
                    if err is not None:
                        stats["failures"].append(err)

        a = start("tkA")
        threads = [threading.Thread(target=client) for _ in range(THREADS)]
        for t in threads:
            t.start()
        H.wait_until(lambda: stats["attempts"] >= 200, 30, "the storm to run")
        old = a
        for i, name in enumerate(("tkB", "tkC", "tkD")):
            with lock:
                phase[0] = i
            new = start(name)
            old.send_signal(signal.SIGTERM)
            rc = old.wait(timeout=30)
            with lock:
                phase[0] = -1
            if rc != 0:
                raise H.HarnessError(f"the old myshard exited with {rc}")
            seen = stats["attempts"]
            H.wait_until(lambda: stats["attempts"] >= seen + 200, 30, "the new myshard to serve")
            # the admin port and the metrics endpoint moved along
            a = pymysql.connect(host="127.0.0.1", port=admin, user="tkadmin", password="tkpw")
            try:
                if not H.query(a, "SHOW VERSION"):
                    raise H.HarnessError("no SHOW VERSION from the new admin port")
            finally:
                a.close()
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as r:
                if b"myshard_info" not in r.read():
                    raise H.HarnessError("no metrics from the new process")
            old = new
        stop.set()
        for t in threads:
            t.join(timeout=30)
        print(json.dumps(stats))
    finally:
        for p in procs:
            if p.poll() is None:
                H.stop_process(p)
        srv.stop()


if __name__ == "__main__":
    main()
