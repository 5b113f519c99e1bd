# SPDX-License-Identifier: Apache-2.0
"""
TLS on the client port (issue #5): a `tls:` section makes myshard offer CLIENT_SSL; clients
that send an SSLRequest continue inside TLS (PyMySQL, mysqlclient, the mariadb CLI, all with
certificate verification against a CA made here); users with `require_ssl: true` (config file
or the admin store's users.require_ssl) are refused over plain TCP; results of many megabytes
cross TLS intact; a client that breaks the TLS handshake loses only its own connection; a bad
certificate path is reported by --check-config with file:line.
"""

import os
import ssl
import struct
import subprocess

import pymysql
import pytest

import harness as H

pytestmark = pytest.mark.proxy_only

TLS_USER = "tlsonly"
TLS_PASSWORD = "tls-secret"


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (args, r.stderr)


@pytest.fixture(scope="module")
def certs(session_root):
    """A CA and a server certificate for 127.0.0.1 (subjectAltName IP), signed by it."""
    d = os.path.join(session_root, "tls")
    os.makedirs(d, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=myshard test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
    return {k: os.path.join(d, f) for k, f in
            (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}


def tls_yaml(certs, admin_port=None, store=None):
    text = f"tls:\n  cert: {certs['cert']}\n  key: {certs['key']}\n"
    if admin_port is not None:
        text += (f"admin:\n  listen: {{address: 127.0.0.1, port: {admin_port}}}\n"
                 f"  users:\n    - {{name: admin, password: adminpw}}\n  store: {store}\n")
    return text


@pytest.fixture(scope="module")
def tls_proxy(request, session_root, myshard_bin, backends, certs):
    import conftest
    port = H.free_port()
    p = conftest.start_proxy(
        request, myshard_bin, session_root, "tls", conftest._shards_of(backends[:1]),
        extra_yaml=tls_yaml(certs, port, os.path.join(session_root, "tls-store.db")),
        extra_users=[f"{{name: {TLS_USER}, password: {TLS_PASSWORD}, require_ssl: true}}"])
    p.admin_port = port
    return p


def connect(p, user=H.APP_USER, password=H.APP_PASSWORD, tls=None, **kw):
    args = dict(host="127.0.0.1", port=p.port, user=user, password=password,
                database=H.TEST_DB, autocommit=True, connect_timeout=10, read_timeout=60)
    if tls is not None:
        args["ssl"] = tls
    args.update(kw)
    return pymysql.connect(**args)


def verified(certs):
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.check_hostname = True
    return ctx


def test_pymysql_over_verified_tls(tls_proxy, certs):
    c = connect(tls_proxy, tls=verified(certs))
    try:
        assert c._sock.version() in ("TLSv1.2", "TLSv1.3")  # noqa: SLF001 - the TLS socket
        assert H.query(c, "SELECT 1, 'é', NULL") == ((1, "é", None),)
        # a result far larger than a TLS record and than the socket buffers
        big = H.query(c, "SELECT REPEAT('ab', 3000000), 42")
        assert big == (("ab" * 3000000, 42),)
        # and a large statement the other way
        payload = "xy" * 2000000
        assert H.query(c, "SELECT LENGTH(%s), MD5(%s) = MD5(REPEAT('xy', 2000000))",
                       (payload, payload)) == ((4000000, 1),)
        c.ping(reconnect=False)
        assert H.query(c, "SELECT CONNECTION_ID() > 0") == ((1,),)
    finally:
        c.close()


def test_plain_tcp_still_works_next_to_tls(tls_proxy, certs):
    a = connect(tls_proxy)
    b = connect(tls_proxy, tls=verified(certs))
    try:
        assert not hasattr(a._sock, "version")  # noqa: SLF001 - a plain socket
        assert H.query(a, "SELECT 7") == ((7,),)
        assert H.query(b, "SELECT 8") == ((8,),)
    finally:
        a.close()
        b.close()


def test_require_ssl_user(tls_proxy, certs):
    with pytest.raises(pymysql.err.OperationalError) as e:
        connect(tls_proxy, user=TLS_USER, password=TLS_PASSWORD)
    assert e.value.args[0] == 1045
    c = connect(tls_proxy, user=TLS_USER, password=TLS_PASSWORD, tls=verified(certs))
    try:
        assert H.query(c, "SELECT 5") == ((5,),)
    finally:
        c.close()
    # a wrong password over TLS is still a wrong password
    with pytest.raises(pymysql.err.OperationalError) as e:
        connect(tls_proxy, user=TLS_USER, password="nope", tls=verified(certs))
    assert e.value.args[0] == 1045


def test_require_ssl_from_admin_store(tls_proxy, certs):
    adm = pymysql.connect(host="127.0.0.1", port=tls_proxy.admin_port, user="admin",
                          password="adminpw", autocommit=True, connect_timeout=10)
    try:
        assert H.query(adm, f"SELECT require_ssl FROM users WHERE name = '{TLS_USER}'") == (("1",),)
        H.query(adm, f"UPDATE users SET require_ssl = 1 WHERE name = '{H.APP_USER}'")
        H.query(adm, "APPLY")
        try:
            with pytest.raises(pymysql.err.OperationalError) as e:
                connect(tls_proxy)
            assert e.value.args[0] == 1045
            c = connect(tls_proxy, tls=verified(certs))
            assert H.query(c, "SELECT 6") == ((6,),)
            c.close()
        finally:
            H.query(adm, f"UPDATE users SET require_ssl = 0 WHERE name = '{H.APP_USER}'")
            H.query(adm, "APPLY")
        c = connect(tls_proxy)
        assert H.query(c, "SELECT 9") == ((9,),)
        c.close()
        H.query(adm, "UPDATE users SET require_ssl = 2 WHERE name = 'tlsonly'")
        with pytest.raises(pymysql.err.MySQLError) as e:
            H.query(adm, "APPLY")
        assert e.value.args == (1105, "APPLY refused, nothing changed: users row (name=tlsonly): "
                                      'require_ssl: must be an integer 0..1, got "2"'), e.value
        H.query(adm, "UPDATE users SET require_ssl = 1 WHERE name = 'tlsonly'")
    finally:
        adm.close()


def test_mysqlclient_and_cli_over_tls(tls_proxy, certs):
    import MySQLdb
    c = MySQLdb.connect(host="127.0.0.1", port=tls_proxy.port, user=TLS_USER,
                        password=TLS_PASSWORD, database=H.TEST_DB,
                        ssl={"ca": certs["ca"]}, connect_timeout=10)
    try:
        cur = c.cursor()
        cur.execute("SELECT 'mysqlclient', 2 * 21")
        assert cur.fetchall() == (("mysqlclient", 42),)
    finally:
        c.close()
    r = subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(tls_proxy.port), "-u", TLS_USER,
                        f"-p{TLS_PASSWORD}", "--ssl", f"--ssl-ca={certs['ca']}",
                        "--ssl-verify-server-cert", "-N", "-B", "-e", "SELECT 'cli', 3 + 4",
                        H.TEST_DB],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "cli\t7\n"


def test_broken_tls_handshake_costs_only_that_client(tls_proxy, certs):
    other = connect(tls_proxy, tls=verified(certs))
    try:
        rc = H.RawClient("127.0.0.1", tls_proxy.port)
        try:
            g = rc.read_greeting()
            assert g["caps"] & 0x800, "CLIENT_SSL not offered"
            # SSLRequest: caps (PROTOCOL_41 | SSL | SECURE_CONNECTION), max packet, charset, 23 zeros
            caps = 0x200 | 0x800 | 0x8000 | 0x80000
            rc.send_packet(caps.to_bytes(4, "little") + (1 << 24).to_bytes(4, "little")
                           + bytes([45]) + bytes(23), 1)
            rc.send_raw(b"\x16\x03\x01\x00\x05garbage, not a ClientHello" * 4)
            # myshard answers with one fatal TLS alert record (unexpected_message), then closes
            got = b""
            rc.sock.settimeout(10)
            while True:
                chunk = rc.sock.recv(65536)
                if not chunk:
                    break
                got += chunk
            assert got == b"\x15\x03\x03\x00\x02\x02\x0a", got
        finally:
            rc.close()
        assert H.query(other, "SELECT 11") == ((11,),)
    finally:
        other.close()
    assert tls_proxy.alive()


def test_check_config_names_bad_certificate(session_root, myshard_bin, certs):
    path = os.path.join(session_root, "bad-tls.yaml")
    yaml = H.proxy_config_yaml(H.free_port(), [("s0", "127.0.0.1", 1)])
    with open(path, "w") as f:
        f.write(yaml + "tls:\n  cert: /nonexistent/cert.pem\n  key: " + certs["key"] + "\n")
    line = yaml.count("\n") + 2  # the line of the value at fault
    r = H.run_check_config(myshard_bin, path)
    err = r.stderr.decode()
    assert r.returncode == 1
    assert err.startswith(f"{path}:{line}: tls.cert: cannot load '/nonexistent/cert.pem'"), err
    with open(path, "w") as f:
        f.write(yaml + "tls:\n  cert: " + certs["cert"] + "\n  key: " + certs["ca"] + "\n")
    r = H.run_check_config(myshard_bin, path)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith(f"{path}:{line + 1}: tls.key: cannot load"), err
    with open(path, "w") as f:
        f.write(yaml.replace("users:\n", "users:\n  - {name: x, password: y, require_ssl: true}\n"))
    r = H.run_check_config(myshard_bin, path)
    err = r.stderr.decode()
    assert r.returncode == 1 and "require_ssl: true, which needs a tls: section" in err, err


# ---- caching_sha2_password ----------------------------------------------------------------

def sha2_token(password, scramble):
    """The caching_sha2_password scramble: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce);
    empty for an empty password, as clients send it."""
    import hashlib
    if password == "":
        return b""
    s1 = hashlib.sha256(password.encode()).digest()
    s2 = hashlib.sha256(s1).digest()
    mix = hashlib.sha256(s2 + scramble).digest()
    return bytes(a ^ b for a, b in zip(s1, mix))


@pytest.fixture(scope="module")
def sha2_proxy(request, session_root, myshard_bin, backends, certs):
    """One worker, so the fast-path cache that full authentications fill is the one every
    connection meets."""
    import conftest
    return conftest.start_proxy(
        request, myshard_bin, session_root, "sha2", conftest._shards_of(backends[:1]),
        workers=1, extra_yaml=tls_yaml(certs),
        extra_users=[f"{{name: {TLS_USER}, password: {TLS_PASSWORD}, require_ssl: true}}",
                     "{name: rsauser, password: rsa-secret}"])


def rsa_encrypt(pem, password, scramble):
    """What clients send over plain TCP: (password NUL) XOR scramble, RSA-OAEP (SHA-1)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    key = serialization.load_pem_public_key(pem)
    raw = password.encode() + b"\0"
    mixed = bytes(b ^ scramble[i % len(scramble)] for i, b in enumerate(raw))
    return key.encrypt(mixed, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                                           algorithm=hashes.SHA1(), label=None))


def sha2_login(p, certs, user, password, tls, rsa_blob=None):
    """Logs in with caching_sha2_password; returns ("fast" | "full", final packet payload).
    Over TLS the full path sends the password; over plain TCP it asks for the RSA key (0x02)
    and sends the password encrypted with it (or <rsa_blob> instead, if given)."""
    rc = H.RawClient("127.0.0.1", p.port)
    g = rc.read_greeting()
    caps = 0x1 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000  # + PLUGIN_AUTH
    seq = 1
    if tls:
        rc.send_packet(struct.pack("<IIB", caps | 0x800, 1 << 24, 45) + b"\0" * 23, seq)
        seq += 1
        rc.sock = verified(certs).wrap_socket(rc.sock, server_hostname="127.0.0.1")
        caps |= 0x800
    token = sha2_token(password, g["scramble"])
    rc.send_packet(struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23 + user.encode() + b"\0"
                   + bytes([len(token)]) + token + b"caching_sha2_password\0", seq)
    try:
        seq, pl = rc.read_packet()
        if pl == b"\x01\x03":
            seq, pl = rc.read_packet()
            return "fast", pl
        if pl != b"\x01\x04":
            return "other", pl
        if tls:
            rc.send_packet(password.encode() + b"\0", seq + 1)
        else:
            rc.send_packet(b"\x02", seq + 1)
            seq, pl = rc.read_packet()
            assert pl.startswith(b"\x01-----BEGIN PUBLIC KEY-----\n"), pl[:40]
            blob = rsa_blob if rsa_blob is not None else rsa_encrypt(pl[1:], password,
                                                                     g["scramble"])
            rc.send_packet(blob, seq + 1)
        seq, pl = rc.read_packet()
        return "full", pl
    finally:
        rc.close()


def test_caching_sha2_full_then_fast(sha2_proxy, certs):
    # nothing cached: the password is asked for, and sent inside TLS
    how, pl = sha2_login(sha2_proxy, certs, TLS_USER, TLS_PASSWORD, tls=True)
    assert (how, pl[:1]) == ("full", b"\x00"), (how, pl)
    # now the scramble is checked against the cache: no password crosses the wire
    how, pl = sha2_login(sha2_proxy, certs, TLS_USER, TLS_PASSWORD, tls=True)
    assert (how, pl[:1]) == ("fast", b"\x00"), (how, pl)
    # a require_ssl user is refused over plain TCP even with a right scramble
    how, pl = sha2_login(sha2_proxy, certs, TLS_USER, TLS_PASSWORD, tls=False)
    assert how == "fast" and pl[0] == 0xFF and struct.unpack_from("<H", pl, 1)[0] == 1045, pl
    # a user not cached, over plain TCP: the full path through the RSA key exchange, first
    # with a block that does not decrypt, then with the password encrypted
    how, pl = sha2_login(sha2_proxy, certs, H.APP_USER, H.APP_PASSWORD, tls=False,
                         rsa_blob=b"\x00" * 256)
    assert how == "full" and pl[0] == 0xFF and struct.unpack_from("<H", pl, 1)[0] == 1045, pl
    how, pl = sha2_login(sha2_proxy, certs, H.APP_USER, "wrong", tls=False)
    assert how == "full" and pl[0] == 0xFF and struct.unpack_from("<H", pl, 1)[0] == 1045, pl
    how, pl = sha2_login(sha2_proxy, certs, H.APP_USER, H.APP_PASSWORD, tls=False)
    assert (how, pl[:1]) == ("full", b"\x00"), (how, pl)
    # now cached: the fast path, over plain TCP as over TLS
    how, pl = sha2_login(sha2_proxy, certs, H.APP_USER, H.APP_PASSWORD, tls=False)
    assert (how, pl[:1]) == ("fast", b"\x00"), (how, pl)
    how, pl = sha2_login(sha2_proxy, certs, H.APP_USER, H.APP_PASSWORD, tls=True)
    assert (how, pl[:1]) == ("fast", b"\x00"), (how, pl)
    # a wrong password misses the fast path, then fails the full one
    how, pl = sha2_login(sha2_proxy, certs, H.APP_USER, "wrong", tls=True)
    assert how == "full" and pl[0] == 0xFF and struct.unpack_from("<H", pl, 1)[0] == 1045, pl
    # and the empty-password user logs in with an empty answer
    how, pl = sha2_login(sha2_proxy, certs, H.NOPW_USER, "", tls=False)
    assert pl[:1] == b"\x00", (how, pl)


def test_caching_sha2_with_the_cli(sha2_proxy, certs):
    for _ in range(2):  # full authentication, then the fast path
        r = subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(sha2_proxy.port), "-u",
                            TLS_USER, f"-p{TLS_PASSWORD}", "--default-auth=caching_sha2_password",
                            "--ssl", f"--ssl-ca={certs['ca']}", "--ssl-verify-server-cert",
                            "-N", "-B", "-e", "SELECT 'sha2', 6 * 7", H.TEST_DB],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "sha2\t42\n"


def test_caching_sha2_cli_over_plain_tcp_uses_rsa(sha2_proxy):
    """libmariadb's caching_sha2_password without TLS: it asks for myshard's public key and
    sends the password encrypted with it; the second login takes the fast path."""
    for _ in range(2):
        r = subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(sha2_proxy.port), "-u",
                            "rsauser", "-prsa-secret", "--default-auth=caching_sha2_password",
                            "--skip-ssl", "-N", "-B", "-e", "SELECT 'rsa', 1 + 1", H.TEST_DB],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "rsa\t2\n"


def test_packets_over_16mib_over_tls(tls_proxy, certs):
    """A 20 MiB result and a 17 MiB statement, each more than one protocol packet, over TLS."""
    c = connect(tls_proxy, tls=verified(certs))
    try:
        (row,) = H.query(c, "SELECT REPEAT('t', 20 * 1024 * 1024), 4")
        assert len(row[0]) == 20 * 1024 * 1024 and row[0] == "t" * (20 * 1024 * 1024)
        assert row[1] == 4
        big = "u" * (17 * 1024 * 1024)
        assert H.query(c, "SELECT LENGTH(%s), %s = REPEAT('u', 17 * 1024 * 1024)",
                       (big, big)) == ((17 * 1024 * 1024, 1),)
    finally:
        c.close()
