# SPDX-License-Identifier: Apache-2.0
"""Session state changed where the router cannot see it (inside a stored procedure) must not
leak to other clients through the pool: myshard pins a connection whenever the server's
session tracker reports a change it cannot replay. Regression test for review finding 1 of
issue #2."""

import harness as H


def test_state_set_inside_procedure_does_not_leak(tiny_pool_target):
    t = tiny_pool_target
    setup = t.connect()
    try:
        H.query(setup, "DROP PROCEDURE IF EXISTS settz")
        H.query(setup, "CREATE PROCEDURE settz() BEGIN SET time_zone = '+05:00'; SET @leak = 1; END")
    finally:
        setup.close()
    a = t.connect()
    try:
        H.query(a, "CALL settz()")
        # Every other client, on whatever pooled connection it gets, sees a clean session.
        for _ in range(6):
            b = t.connect()
            try:
                assert H.query(b, "SELECT @@time_zone, @leak") == (("SYSTEM", None),)
            finally:
                b.close()
        # ... while the caller keeps its own state.
        assert H.query(a, "SELECT @@time_zone, @leak") == (("+05:00", 1),)
    finally:
        a.close()
