// SPDX-License-Identifier: Apache-2.0
// The driver battery for MariaDB Connector/J 2.7 with server-side prepared statements
// (useServerPrepStmts=true: PreparedStatement runs COM_STMT_PREPARE/EXECUTE). Prints one
// normalized line per result; the test runs it against myshard and against a plain server and
// compares the outputs. Every value is printed through show(), so nothing depends on the JVM's
// locale; run it with -Duser.timezone=UTC so timestamps do not depend on the machine's zone.
// Usage: java -cp DIR:mariadb-java-client.jar Battery HOST PORT USER PASSWORD DB BASE_ID [URL_OPTIONS]
// (URL_OPTIONS, e.g. jdbcCompliantTruncation=false, are appended to the JDBC URL's options.)

import java.io.ByteArrayInputStream;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;

public class Battery {
    static final String INSERT = "INSERT INTO customers (id, name, balance, dt, bin, doc, n) "
            + "VALUES (?, ?, ?, ?, ?, ?, ?)";
    static final String ROW = "SELECT id, name, balance, dt, bin, doc, n FROM customers";

    static String fmt(Object v) {
        if (v == null) {
            return "NULL";
        }
        if (v instanceof byte[]) {
            StringBuilder sb = new StringBuilder("x'");
            for (byte b : (byte[]) v) {
                sb.append(String.format("%02x", b & 0xff));
            }
            return sb.append("'").toString();
        }
        if (v instanceof BigDecimal) {
            return "dec:" + ((BigDecimal) v).toPlainString();
        }
        if (v instanceof List) {
            List<String> parts = new ArrayList<>();
            for (Object o : (List<?>) v) {
                parts.add(fmt(o));
            }
            return "[" + String.join(", ", parts) + "]";
        }
        if (v instanceof int[]) {
            List<Object> l = new ArrayList<>();
            for (int i : (int[]) v) {
                l.add(i);
            }
            return fmt(l);
        }
        if (v instanceof String) {
            return "'" + v + "'";
        }
        return v.getClass().getSimpleName() + ":" + v;
    }

    static void show(String label, Object v) {
        System.out.println(label + ": " + fmt(v));
    }

    /** A step of the battery; an SQLException it throws is shown as its result. */
    interface Step {
        Object run() throws SQLException;
    }

    static void show(String label, Step step) {
        Object v;
        try {
            v = step.run();
        } catch (SQLException e) {
            v = error(e);
        }
        show(label, v);
    }

    static List<Object> list(Object... xs) {
        List<Object> l = new ArrayList<>();
        for (Object x : xs) {
            l.add(x);
        }
        return l;
    }

    /** Every row of <rs> as typed getters return it; a getInt that read NULL shows wasNull. */
    static List<Object> customerRows(ResultSet rs) throws SQLException {
        List<Object> rows = new ArrayList<>();
        while (rs.next()) {
            int n = rs.getInt(7);
            boolean nNull = rs.wasNull();
            rows.add(list(rs.getLong(1), rs.getString(2), rs.getBigDecimal(3), rs.getTimestamp(4),
                          rs.getString(4), rs.getBytes(5), rs.getString(6), n,
                          nNull ? "wasNull" : "notNull"));
        }
        rs.close();
        return rows;
    }

    /** Every row of <rs> through getObject (the driver's own mapping of each column type). */
    static List<Object> objectRows(ResultSet rs) throws SQLException {
        List<Object> rows = new ArrayList<>();
        int cols = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            List<Object> row = new ArrayList<>();
            for (int i = 1; i <= cols; i++) {
                row.add(rs.getObject(i));
            }
            rows.add(row);
        }
        rs.close();
        return rows;
    }

    static List<Object> meta(ResultSetMetaData md) throws SQLException {
        List<Object> cols = new ArrayList<>();
        for (int i = 1; i <= md.getColumnCount(); i++) {
            cols.add(list(md.getColumnLabel(i), md.getColumnTypeName(i), md.getColumnType(i),
                          md.getPrecision(i), md.getScale(i), md.isNullable(i), md.isSigned(i),
                          md.getColumnClassName(i)));
        }
        return cols;
    }

    static List<Object> error(SQLException e) {
        String msg = e.getMessage().replaceFirst("^\\(conn=\\d+\\) ", "");
        int nl = msg.indexOf('\n');
        return list(e.getClass().getSimpleName(), e.getErrorCode(), e.getSQLState(),
                    nl < 0 ? msg : msg.substring(0, nl));
    }

    static List<Object> query(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            return objectRows(st.executeQuery(sql));
        }
    }

    public static void main(String[] a) throws Exception {
        String host = a[0], port = a[1], user = a[2], pass = a[3], db = a[4];
        long base = Long.parseLong(a[5]);
        String url = "jdbc:mariadb://" + host + ":" + port + "/" + db
                + "?useServerPrepStmts=true&useResetConnection=true"
                + "&connectTimeout=10000&socketTimeout=60000" + (a.length > 6 ? "&" + a[6] : "");
        Connection c = DriverManager.getConnection(url, user, pass);

        // ---- inserts: one by one, then a batch
        PreparedStatement ins = c.prepareStatement(INSERT);
        for (int i = 0; i < 6; i++) {
            long id = base + i;
            ins.setLong(1, id);
            ins.setString(2, "jdbc ñ ✓ 🙂 " + i);
            ins.setBigDecimal(3, new BigDecimal(String.format("%d.%02d", 4000 * i - 7, i)));
            Timestamp ts = Timestamp.valueOf(String.format("2021-03-%02d 04:05:%02d", 10 + i, i));
            ts.setNanos(1000 * (654321 + i));
            ins.setTimestamp(4, ts);
            ins.setBytes(5, new byte[] {0, (byte) 0xff, (byte) i, 0, 'j'});
            ins.setString(6, "{\"j\": [" + i + ", null, \"✓\"]}");
            if (i % 3 == 1) {
                ins.setNull(7, Types.INTEGER);
            } else {
                ins.setInt(7, -i);
            }
            if (i < 4) {
                show("insert " + id, () -> ins.executeUpdate());
            } else {
                ins.addBatch();
            }
        }
        show("batch", () -> ins.executeBatch());
        ins.close();

        // ---- point reads, one PreparedStatement re-executed
        String pointSql = ROW + " WHERE id = ?";
        PreparedStatement pt = c.prepareStatement(pointSql);
        for (long id : new long[] {base, base + 1, base + 5, base + 99}) {
            show("point " + id, () -> {
                pt.setLong(1, id);
                return customerRows(pt.executeQuery());
            });
        }
        show("point meta", () -> meta(pt.getMetaData()));

        // ---- scatters: text and binary protocol
        String range = " WHERE id BETWEEN " + base + " AND " + (base + 5);
        show("text scatter", () -> {
            try (Statement st = c.createStatement()) {
                ResultSet rs = st.executeQuery(ROW + range + " ORDER BY id");
                return list(meta(rs.getMetaData()), customerRows(rs));
            }
        });
        PreparedStatement sc = c.prepareStatement(ROW + " WHERE id BETWEEN ? AND ? ORDER BY id DESC");
        show("prepared scatter", () -> {
            sc.setLong(1, base);
            sc.setLong(2, base + 5);
            return customerRows(sc.executeQuery());
        });
        show("prepared scatter again", () -> {
            sc.setLong(1, base + 2);
            sc.setLong(2, base + 4);
            return objectRows(sc.executeQuery());
        });
        sc.close();

        // ---- aggregates
        String agg = "SELECT COUNT(*), COUNT(n), SUM(balance), AVG(balance), MIN(dt), MAX(n), "
                + "MAX(name) FROM customers WHERE id BETWEEN ";
        show("text aggregates", () -> {
            try (Statement st = c.createStatement()) {
                ResultSet rs = st.executeQuery(agg + base + " AND " + (base + 5));
                return list(meta(rs.getMetaData()), objectRows(rs));
            }
        });
        show("prepared aggregates", () -> {
            try (PreparedStatement ag = c.prepareStatement(agg + "? AND ?")) {
                ag.setLong(1, base);
                ag.setLong(2, base + 5);
                ResultSet rs = ag.executeQuery();
                return list(meta(rs.getMetaData()), objectRows(rs));
            }
        });

        // ---- a long-data parameter (setBinaryStream: COM_STMT_SEND_LONG_DATA)
        byte[] blob = new byte[300];
        for (int i = 0; i < blob.length; i++) {
            blob[i] = (byte) (i * 7);
        }
        show("long data update", () -> {
            try (PreparedStatement up = c.prepareStatement("UPDATE customers SET bin = ? WHERE id = ?")) {
                up.setBinaryStream(1, new ByteArrayInputStream(blob), blob.length);
                up.setLong(2, base + 3);
                return up.executeUpdate();
            }
        });
        show("long data read", () -> {
            pt.setLong(1, base + 3);
            ResultSet rs = pt.executeQuery();
            rs.next();
            byte[] got = rs.getBytes(5);
            rs.close();
            return list(java.util.Arrays.equals(got, blob), got.length);
        });

        // ---- a transaction over two shards: rollback, then commit
        PreparedStatement tx = c.prepareStatement("UPDATE customers SET balance = balance + ? WHERE id = ?");
        PreparedStatement two = c.prepareStatement("SELECT id, balance FROM customers WHERE id IN (?, ?) ORDER BY id");
        two.setLong(1, base);
        two.setLong(2, base + 1);
        for (String end : new String[] {"rollback", "commit"}) {
            show("in transaction", () -> {
                c.setAutoCommit(false);
                tx.setBigDecimal(1, new BigDecimal("10.01"));
                tx.setLong(2, base);
                int u1 = tx.executeUpdate();
                tx.setBigDecimal(1, new BigDecimal("-10.01"));
                tx.setLong(2, base + 1);
                int u2 = tx.executeUpdate();
                return list(u1, u2, c.getAutoCommit(), objectRows(two.executeQuery()));
            });
            show(end, () -> {
                if (end.equals("rollback")) {
                    c.rollback();
                } else {
                    c.commit();
                }
                c.setAutoCommit(true);
                return c.getAutoCommit();
            });
            show("after " + end, () -> objectRows(two.executeQuery()));
        }
        tx.close();
        two.close();

        // ---- errors
        show("prepared duplicate", () -> {
            try (PreparedStatement dup = c.prepareStatement(INSERT)) {
                dup.setLong(1, base + 1);
                dup.setString(2, "dup");
                for (int i = 3; i <= 7; i++) {
                    dup.setNull(i, Types.NULL);
                }
                return dup.executeUpdate();
            }
        });
        show("text duplicate", () -> {
            try (Statement st = c.createStatement()) {
                return st.executeUpdate("INSERT INTO customers (id, name) VALUES (" + base + ", 'dup')");
            }
        });
        show("bad column", () -> {
            // (Connector/J falls back to a client-side statement when the prepare fails)
            try (PreparedStatement bad = c.prepareStatement("SELECT nosuchcolumn FROM customers WHERE id = ?")) {
                bad.setLong(1, base);
                return objectRows(bad.executeQuery());
            }
        });
        show("still there", () -> query(c, "SELECT COUNT(*) FROM customers" + range));

        // ---- liveness, reset
        show("isValid", () -> c.isValid(5));
        show("before reset", () -> {
            try (Statement st = c.createStatement()) {
                st.execute("SET SESSION group_concat_max_len = 77");
                st.execute("SET @battery = 'kept?'");
            }
            c.setAutoCommit(false);
            return list(query(c, "SELECT @@group_concat_max_len, @battery"), c.getAutoCommit());
        });
        show("reset", () -> {
            c.rollback();
            c.unwrap(org.mariadb.jdbc.MariaDbConnection.class).reset();
            return list(query(c, "SELECT @@group_concat_max_len, @@autocommit"), c.getAutoCommit());
        });
        pt.close();
        show("point after reset", () -> {
            try (PreparedStatement p2 = c.prepareStatement(pointSql)) {
                p2.setLong(1, base + 5);
                return customerRows(p2.executeQuery());
            }
        });
        show("scatter after reset", () -> query(c, "SELECT id, n FROM customers" + range + " ORDER BY id"));
        show("isValid after reset", () -> c.isValid(5));

        // ---- the global table (its rows go to every shard)
        show("global clean", () -> {
            try (Statement st = c.createStatement()) {
                st.executeUpdate("DELETE FROM countries WHERE code IN ('JV', 'JW')");
                return "ok";
            }
        });
        PreparedStatement gi = c.prepareStatement(
                "INSERT INTO countries (code, name) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = VALUES(name)");
        String[][] countries = {{"JV", "Javaland ☕"}, {"JW", "Jwaneng"}, {"JV", "Javaland"}};
        for (String[] ct : countries) {
            show("global upsert " + ct[0], () -> {
                gi.setString(1, ct[0]);
                gi.setString(2, ct[1]);
                return gi.executeUpdate();
            });
        }
        gi.close();
        show("global point", () -> {
            try (PreparedStatement gs = c.prepareStatement("SELECT code, name FROM countries WHERE code = ?")) {
                gs.setString(1, "JW");
                return objectRows(gs.executeQuery());
            }
        });
        show("global list", () -> query(c, "SELECT code, name FROM countries WHERE code IN ('JV', 'JW') ORDER BY code"));
        // (last: reading a user variable keeps myshard's session on one shard)
        show("user variable after reset", () -> query(c, "SELECT @battery"));
        c.close();
        show("closed", c.isClosed());
        System.out.println("done");
    }
}
