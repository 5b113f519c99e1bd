# SPDX-License-Identifier: Apache-2.0
"""50 clients at once, 10,000 statements in total, each result checked exactly."""

import harness as H

CLIENTS = 50
STATEMENTS = 10_000
PER_CLIENT = STATEMENTS // CLIENTS      # 200: 100 INSERTs, 100 SELECTs
ROWS = PER_CLIENT // 2


def value(client, seq):
    return client * 100_003 + seq * seq + 7


def test_fifty_concurrent_clients(target):
    setup = target.connect()
    H.query(setup, "DROP TABLE IF EXISTS conc")
    H.query(setup, "CREATE TABLE conc (client INT NOT NULL, seq INT NOT NULL, val BIGINT NOT NULL, "
                   "PRIMARY KEY (client, seq)) ENGINE=InnoDB")

    conns = [target.connect() for _ in range(CLIENTS)]
    done = [0] * CLIENTS

    def body(cid, c):
        with c.cursor() as cur:
            total = 0
            for seq in range(ROWS):
                v = value(cid, seq)
                assert cur.execute("INSERT INTO conc (client, seq, val) VALUES (%s, %s, %s)",
                                   (cid, seq, v)) == 1
                total += v
                if seq % 2 == 0:
                    cur.execute("SELECT val FROM conc WHERE client = %s AND seq = %s", (cid, seq))
                    assert cur.fetchall() == ((v,),), (cid, seq)
                else:
                    cur.execute("SELECT COUNT(*), SUM(val) FROM conc WHERE client = %s", (cid,))
                    assert cur.fetchall() == ((seq + 1, total),), (cid, seq)
                done[cid] += 2

    H.run_concurrently(conns, body, timeout=240)
    assert sum(done) == STATEMENTS

    expected = tuple((cid, ROWS, sum(value(cid, s) for s in range(ROWS))) for cid in range(CLIENTS))
    rows = H.query(setup, "SELECT client, COUNT(*), SUM(val) FROM conc GROUP BY client ORDER BY client")
    assert tuple((int(a), int(b), int(s)) for a, b, s in rows) == expected
    assert H.query(setup, "SELECT COUNT(*) FROM conc") == ((CLIENTS * ROWS,),)
    H.query(setup, "DROP TABLE conc")
    setup.close()
