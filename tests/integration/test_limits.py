# SPDX-License-Identifier: Apache-2.0
"""
Client limits (issue #6): `max_clients` caps client connections at once (a connection past it
gets ERR 1040 "Too many connections" instead of the greeting, as from a server) and
`max_clients_per_user` caps one user's logged-in sessions (1040 after the password is
checked); a closed connection frees its place; COM_CHANGE_USER moves a session's place to the
new user. Everyone else keeps being served.
"""

import MySQLdb
import pymysql
import pytest

import harness as H

pytestmark = pytest.mark.proxy_only


@pytest.fixture(scope="module")
def limited(request, session_root, myshard_bin, backends):
    import conftest
    p = conftest.start_proxy(request, myshard_bin, session_root, "limits",
                             conftest._shards_of(backends[:1]),
                             extra_yaml="max_clients: 4\nmax_clients_per_user: 2\n")
    return p


def connect(p, user=H.APP_USER, password=H.APP_PASSWORD):
    return pymysql.connect(host="127.0.0.1", port=p.port, user=user, password=password,
                           database=H.TEST_DB, autocommit=True, connect_timeout=10)


def refused(p, user=H.APP_USER, password=H.APP_PASSWORD):
    with pytest.raises(pymysql.err.MySQLError) as e:
        connect(p, user, password).close()
    return e.value.args


def test_per_user_and_global_limits(limited):
    a, b = connect(limited), connect(limited)
    held = [a, b]
    try:
        assert refused(limited) == (1040, "Too many connections for user 'app' "
                                          "(max_clients_per_user 2)")
        held.append(connect(limited, H.NOPW_USER, ""))
        held.append(connect(limited, H.NOPW_USER, ""))
        # four connections: the fifth is refused before any login
        assert refused(limited, H.NOPW_USER, "") == (1040, "Too many connections")
        assert H.query(a, "SELECT 1") == ((1,),)
        # a place frees when a connection closes (the close reaches myshard asynchronously)
        b.close()
        held.remove(b)

        def again():
            try:
                held.append(connect(limited))
                return True
            except pymysql.err.MySQLError as e:
                assert e.args[0] == 1040, e.args
                return False
        H.wait_until(again, 10, "a freed place for user app")
        assert H.query(held[-1], "SELECT 2") == ((2,),)
    finally:
        for c in held:
            c.close()


def test_change_user_moves_the_place(limited):
    a = MySQLdb.connect(host="127.0.0.1", port=limited.port, user=H.APP_USER,
                        password=H.APP_PASSWORD, database=H.TEST_DB, connect_timeout=10)
    b = connect(limited)
    try:
        # app has two sessions: a third refused; a moves to nopw, so app has room again
        assert refused(limited) == (1040, "Too many connections for user 'app' "
                                          "(max_clients_per_user 2)")
        a.change_user(H.NOPW_USER, "", H.TEST_DB)
        cur = a.cursor()
        cur.execute("SELECT CURRENT_USER() IS NOT NULL")
        assert cur.fetchall() == ((1,),)

        def room():
            try:
                connect(limited).close()
                return True
            except pymysql.err.MySQLError as e:
                assert e.args[0] == 1040, e.args
                return False
        H.wait_until(room, 10, "room for user app after change_user")
    finally:
        a.close()
        b.close()
