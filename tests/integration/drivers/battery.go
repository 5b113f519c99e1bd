// SPDX-License-Identifier: Apache-2.0
// The driver battery for Go database/sql with go-sql-driver/mysql. With arguments and
// interpolateParams=false the driver uses server-side prepared statements (COM_STMT_PREPARE,
// COM_STMT_EXECUTE with typed parameters, binary result rows); without arguments, or with
// interpolateParams=true, the text protocol (COM_QUERY). Prints one normalized line per
// result; the test runs it against myshard and against a plain server and compares the outputs.
// Usage: battery HOST PORT USER PASSWORD DB BASE_ID
package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
)

var ctx context.Context

func die(what string, err error) {
	fmt.Printf("FATAL %s: %v\n", what, err)
	os.Exit(1)
}

func show(label string, v string) {
	fmt.Printf("%s: %s\n", label, v)
}

// fv renders one driver value with its Go type: the binary protocol yields int64, float64
// and time.Time where the text protocol yields []byte, and that difference must match too.
func fv(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		printable := utf8.Valid(x)
		for _, r := range string(x) {
			if !unicode.IsPrint(r) {
				printable = false
			}
		}
		if printable {
			return strconv.Quote(string(x))
		}
		return "x'" + hex.EncodeToString(x) + "'"
	case time.Time:
		return "time(" + x.Format("2006-01-02 15:04:05.000000 MST") + ")"
	default:
		return fmt.Sprintf("%T(%v)", v, v)
	}
}

// dump reads every row of <rows> as driver values: "[a, b]; [c, d]".
func dump(rows *sql.Rows, err error) string {
	if err != nil {
		return errText(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return errText(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]interface{}, len(cols))
		ptrs := make([]interface{}, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return errText(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fv(v)
		}
		out = append(out, "["+strings.Join(parts, ", ")+"]")
	}
	if err := rows.Err(); err != nil {
		return errText(err)
	}
	return "{" + strings.Join(out, "; ") + "}"
}

// meta describes the result columns of <rows>: name, type, nullability, precision/scale and
// the Go type the driver scans into (which depends on the column flags).
func meta(rows *sql.Rows, err error) string {
	if err != nil {
		return errText(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return errText(err)
	}
	var out []string
	for _, ct := range cts {
		null, nok := ct.Nullable()
		p, s, dok := ct.DecimalSize()
		out = append(out, fmt.Sprintf("%s %s null=%v/%v dec=%d,%d/%v scan=%v", ct.Name(),
			ct.DatabaseTypeName(), null, nok, p, s, dok, ct.ScanType()))
	}
	for rows.Next() {
	}
	return "[" + strings.Join(out, "; ") + "]"
}

func errText(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		// go-sql-driver/mysql 1.5 keeps no SQLSTATE: the number and message it is.
		return fmt.Sprintf("error %d %q", me.Number, me.Message)
	}
	return "error " + strconv.Quote(err.Error())
}

func execText(res sql.Result, err error) string {
	if err != nil {
		return errText(err)
	}
	n, err1 := res.RowsAffected()
	id, err2 := res.LastInsertId()
	return fmt.Sprintf("rows=%d lastid=%d errs=%v,%v", n, id, err1, err2)
}

func open(dsn string) *sql.DB {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		die("open", err)
	}
	return db
}

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: battery HOST PORT USER PASSWORD DB BASE_ID")
		os.Exit(2)
	}
	host, port, user, pass, dbname := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	base, err := strconv.ParseInt(os.Args[6], 10, 64)
	if err != nil {
		die("base", err)
	}
	var cancel context.CancelFunc
	ctx, cancel = context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dsn := func(params string) string {
		return fmt.Sprintf("%s:%s@tcp(%s:%s)/%s?timeout=10s&readTimeout=30s&writeTimeout=30s&%s",
			user, pass, host, port, dbname, params)
	}
	db := open(dsn("parseTime=true&loc=UTC&interpolateParams=false"))             // binary protocol
	dbText := open(dsn("parseTime=true&loc=UTC&interpolateParams=true"))          // args inlined: COM_QUERY
	dbRaw := open(dsn("parseTime=false&interpolateParams=false&charset=utf8mb4")) // SET NAMES
	dbLong := open(dsn("parseTime=true&loc=UTC&maxAllowedPacket=1024"))           // COM_STMT_SEND_LONG_DATA
	defer db.Close()
	defer dbText.Close()
	defer dbRaw.Close()
	defer dbLong.Close()

	if err := db.PingContext(ctx); err != nil {
		die("ping", err)
	}
	show("ping", "ok")

	// ---- inserts through an explicit prepared statement, with every parameter type
	ins, err := db.PrepareContext(ctx,
		"INSERT INTO customers (id, name, balance, dt, bin, doc, n) VALUES (?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		die("prepare insert", err)
	}
	for i := int64(0); i < 6; i++ {
		var id, name, balance, dt, bin interface{}
		id = base + i
		if i == 3 {
			id = uint64(base + i) // LONGLONG with the unsigned flag
		}
		name = fmt.Sprintf("gö ✓ 🙂 %d", i)
		balance = fmt.Sprintf("%d.%02d", 1000*i+17, i) // STRING
		switch i {
		case 2:
			balance = int64(2017) // LONGLONG
		case 5:
			balance = float64(5017.25) // DOUBLE
		}
		dt = time.Date(2024, 2, 29, 13, 14, int(i), int(123456+i)*1000, time.UTC)
		bin = []byte{0x00, 0x01, byte(i), 0x00, 0xff}
		if i == 4 {
			name, dt, bin = nil, nil, []byte(nil) // NULL parameters
		}
		doc := fmt.Sprintf(`{"a": [1, %d], "s": "ü"}`, i)
		n := sql.NullInt64{Int64: i * 10, Valid: i%3 != 1}
		show(fmt.Sprintf("insert %d", base+i),
			execText(ins.ExecContext(ctx, id, name, balance, dt, bin, doc, n)))
	}

	// ---- point selects by id (prepared, binary rows), and the column metadata
	sel, err := db.PrepareContext(ctx,
		"SELECT id, name, balance, dt, bin, doc, n FROM customers WHERE id = ?")
	if err != nil {
		die("prepare select", err)
	}
	for _, id := range []interface{}{base, uint64(base + 3), base + 4, base + 99} {
		show(fmt.Sprintf("point %v", id), dump(sel.QueryContext(ctx, id)))
	}
	show("point meta", meta(sel.QueryContext(ctx, base)))
	var gone int64
	show("point missing", errText(sel.QueryRowContext(ctx, base+98).Scan(&gone)))

	// ---- scatter reads and aggregates, binary then text
	show("scatter binary", dump(db.QueryContext(ctx,
		"SELECT id, name, balance, n FROM customers WHERE id BETWEEN ? AND ? ORDER BY id",
		base, base+5)))
	show("scatter text", dump(db.QueryContext(ctx, fmt.Sprintf(
		"SELECT id, balance, dt FROM customers WHERE id BETWEEN %d AND %d "+
			"ORDER BY balance DESC LIMIT 4", base, base+5))))
	show("scatter interpolated", dump(dbText.QueryContext(ctx,
		"SELECT id, HEX(bin), n FROM customers WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 2 OFFSET 1",
		base, base+5)))
	agg := "SELECT COUNT(*), SUM(balance), AVG(balance), MIN(balance), MAX(balance), MIN(dt), " +
		"MAX(dt), COUNT(n), SUM(n), MIN(name) FROM customers WHERE id BETWEEN ? AND ?"
	show("aggregates binary", dump(db.QueryContext(ctx, agg, base, base+5)))
	show("aggregates text", dump(dbText.QueryContext(ctx, agg, base, base+5)))
	show("aggregates meta", meta(db.QueryContext(ctx, agg, base, base+5)))

	// ---- DATETIME(6) with parseTime=false: strings formatted from the column's decimals
	dtq := "SELECT dt, MIN(dt), MAX(dt) FROM customers WHERE id BETWEEN ? AND ? GROUP BY dt ORDER BY dt LIMIT 2"
	show("datetime parseTime=false binary", dump(dbRaw.QueryContext(ctx, dtq, base+1, base+2)))
	show("datetime parseTime=false text", dump(dbRaw.QueryContext(ctx,
		fmt.Sprintf("SELECT dt FROM customers WHERE id = %d", base+1))))
	show("datetime parseTime=true binary", dump(db.QueryContext(ctx, dtq, base+1, base+2)))
	show("utf8mb4 set names", dump(dbRaw.QueryContext(ctx,
		"SELECT name, CHAR_LENGTH(name), LENGTH(name) FROM customers WHERE id = ?", base+5)))

	// ---- JSON, and NULL through sql.Null*
	show("json", dump(db.QueryContext(ctx,
		"SELECT doc, JSON_EXTRACT(doc, '$.a[1]'), JSON_VALUE(doc, '$.s') FROM customers WHERE id = ?",
		base+2)))
	for _, id := range []int64{base + 1, base + 4} {
		var name sql.NullString
		var bal sql.NullFloat64
		var dt sql.NullTime
		var bin []byte
		var n sql.NullInt64
		err := db.QueryRowContext(ctx, "SELECT name, balance, dt, bin, n FROM customers WHERE id = ?",
			id).Scan(&name, &bal, &dt, &bin, &n)
		if err != nil {
			show(fmt.Sprintf("nulls %d", id), errText(err))
			continue
		}
		show(fmt.Sprintf("nulls %d", id), fmt.Sprintf("name=%v,%q balance=%v,%v dt=%v,%s bin=%v,%x n=%v,%d",
			name.Valid, name.String, bal.Valid, bal.Float64, dt.Valid,
			dt.Time.Format(time.RFC3339Nano), bin == nil, bin, n.Valid, n.Int64))
	}

	// ---- a BLOB and a JSON text sent in COM_STMT_SEND_LONG_DATA chunks
	// (maxAllowedPacket=1024 over 3 parameters: values of 256 bytes or more go as long data)
	long := make([]byte, 300)
	for i := range long {
		long[i] = byte(i * 7)
	}
	doc := `{"pad": "` + strings.Repeat("é", 150) + `"}`
	show("long data update", execText(dbLong.ExecContext(ctx,
		"UPDATE customers SET bin = ?, doc = ? WHERE id = ?", long, doc, base+2)))
	show("long data read", dump(dbLong.QueryContext(ctx,
		"SELECT LENGTH(bin), HEX(SUBSTRING(bin, 1, 8)), MD5(bin), CHAR_LENGTH(doc), JSON_VALID(doc) "+
			"FROM customers WHERE id = ?", base+2)))

	// ---- transactions over two shards (ids base and base+1): rolled back, then committed
	for _, commit := range []bool{false, true} {
		label := "tx rollback"
		if commit {
			label = "tx commit"
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			die("begin", err)
		}
		r1 := execText(tx.ExecContext(ctx,
			"UPDATE customers SET balance = balance + ?, name = ? WHERE id = ?", "1.50", "tx", base))
		r2 := execText(tx.ExecContext(ctx,
			"UPDATE customers SET balance = balance - ?, name = ? WHERE id = ?", "1.50", "tx", base+1))
		inside := dump(tx.QueryContext(ctx,
			"SELECT SUM(balance), COUNT(*) FROM customers WHERE id BETWEEN ? AND ? AND name = 'tx'",
			base, base+5))
		var end error
		if commit {
			end = tx.Commit()
		} else {
			end = tx.Rollback()
		}
		show(label, fmt.Sprintf("%s | %s | inside %s | end %v", r1, r2, inside, end))
		show(label+" after", dump(db.QueryContext(ctx,
			"SELECT id, name, balance FROM customers WHERE id IN (?, ?) ORDER BY id", base, base+1)))
	}

	// ---- errors and their codes
	show("duplicate binary", execText(ins.ExecContext(ctx, base, "dup", "1.00", nil, nil, "{}", nil)))
	show("duplicate text", execText(dbText.ExecContext(ctx,
		"INSERT INTO customers (id, name) VALUES (?, ?)", base+1, "dup")))
	_, err = db.PrepareContext(ctx, "SELECT nosuchcolumn FROM customers WHERE id = ?")
	show("bad prepare", errText(err))

	// ---- the global table
	show("global insert", execText(db.ExecContext(ctx,
		"INSERT INTO countries (code, name) VALUES (?, ?)", "GO", "Gopherland ✓")))
	show("global point", dump(db.QueryContext(ctx,
		"SELECT code, name FROM countries WHERE code = ?", "GO")))
	show("global text", dump(db.QueryContext(ctx,
		"SELECT code, name, CHAR_LENGTH(name) FROM countries WHERE code = 'GO'")))

	if err := ins.Close(); err != nil {
		die("close insert", err)
	}
	if err := sel.Close(); err != nil {
		die("close select", err)
	}

	// ---- on one connection of the pool: a prepare the server refuses, then the session goes on
	conn, err := db.Conn(ctx)
	if err != nil {
		die("conn", err)
	}
	show("syntax", execText(conn.ExecContext(ctx, "SELEC ?", 1)))
	show("after syntax scatter", dump(conn.QueryContext(ctx,
		"SELECT COUNT(*), SUM(n) FROM customers WHERE id BETWEEN ? AND ?", base, base+5)))
	show("after syntax global write", execText(conn.ExecContext(ctx,
		"UPDATE countries SET name = CONCAT(name, '!') WHERE code = 'GO'")))
	show("conn ping", fmt.Sprintf("%v", conn.PingContext(ctx)))
	conn.Close()
	fmt.Println("done")
}
