// SPDX-License-Identifier: Apache-2.0
// The driver battery for Node.js mysql2: execute() (binary protocol, server-side prepared
// statements, cached and re-executed), query() (text protocol, client-side placeholders),
// dateStrings, supportBigNumbers/bigNumberStrings, field metadata, transactions, errors, ping and
// changeUser. Prints one normalized line per result; the test runs it against myshard and
// against a plain server and compares the outputs.
// Usage: node battery.js HOST PORT USER PASSWORD DB BASE_ID   (mysql2 found through NODE_PATH)
'use strict';

const mysql = require('mysql2/promise');

const [host, port, user, password, database, baseArg] = process.argv.slice(2);
const base = Number(baseArg);

// Buffers as hex, everything else as JSON: one deterministic line per result.
function norm(v) {
	if (Buffer.isBuffer(v)) {
		return 'x:' + v.toString('hex');
	}
	if (Array.isArray(v)) {
		return v.map(norm);
	}
	if (v !== null && typeof v === 'object') {
		const o = {};
		for (const k of Object.keys(v)) {
			o[k] = norm(v[k]);
		}
		return o;
	}
	return v;
}

function show(label, v) {
	process.stdout.write(label + ': ' + JSON.stringify(norm(v)) + '\n');
}

function meta(fields) {
	return fields.map((f) => [f.name, f.columnType, f.decimals, f.characterSet]);
}

function ok(r) {
	return [r.affectedRows, r.insertId, r.warningStatus, r.changedRows];
}

function err(e) {
	return [e.errno, e.sqlState, e.code, e.sqlMessage];
}

async function rows(conn, how, sql, params) {
	const [r, fields] = await conn[how]({ sql, rowsAsArray: true }, params);
	return [r, fields];
}

async function main() {
	const conn = await mysql.createConnection({
		host, port: Number(port), user, password, database,
		dateStrings: true, supportBigNumbers: true, bigNumberStrings: true,
		// mysql2 parses JSON columns only when the server offers MariaDB's extended column
		// metadata, which myshard does not (README, Limits): JSON is compared as text
		jsonStrings: true,
		timezone: 'Z', connectTimeout: 10000,
	});
	const ins = 'INSERT INTO customers (id, name, balance, dt, bin, doc, n) VALUES (?, ?, ?, ?, ?, ?, ?)';
	// ---- execute(): binary protocol; one prepared statement, executed six times
	for (let i = 0; i < 6; i++) {
		const dt = i % 2 ? `2021-03-0${i} 04:05:06.${String(700000 + i)}`
			: new Date(Date.UTC(2021, 2, i + 1, 4, 5, 6, 789));
		const [r] = await conn.execute(ins, [base + i, `nöde ✓ 🙂 ${i}`, `${1000 * i + 17}.0${i}`, dt,
			Buffer.from([0, 1, i, 0, 255]), JSON.stringify({ a: [1, i], s: 'é' }),
			i % 2 ? null : i]);
		show(`execute insert ${base + i}`, ok(r));
	}
	// point selects: the cached statement re-executed with other ids (a miss included)
	const point = 'SELECT id, name, balance, dt, bin, doc, n FROM customers WHERE id = ?';
	for (const id of [base, base + 3, base + 5, base + 99]) {
		const [r, f] = await rows(conn, 'execute', point, [id]);
		show(`execute point ${id}`, r);
		if (id === base) {
			show('execute point meta', meta(f));
		}
	}
	// explicit prepare / execute / close, with a Buffer parameter, over all shards
	const st = await conn.prepare('SELECT id, n FROM customers WHERE bin = ? AND id BETWEEN ? AND ? ORDER BY id');
	const [byBin] = await st.execute([Buffer.from([0, 1, 4, 0, 255]), base, base + 5]);
	show('prepare blob param', byBin);
	st.close();
	// ---- query(): text protocol
	let [r, f] = await rows(conn, 'query', 'SELECT id, name, balance, dt, HEX(bin), doc, n FROM customers '
		+ 'WHERE id BETWEEN ? AND ? ORDER BY id', [base, base + 5]);
	show('query scatter', r);
	show('query scatter meta', meta(f));
	[r] = await rows(conn, 'query', 'SELECT id, name FROM customers WHERE id IN (?) ORDER BY id DESC',
		[[base + 1, base + 2, base + 4]]);
	show('query in-list', r);
	[r, f] = await rows(conn, 'query', 'SELECT COUNT(*), SUM(balance), AVG(balance), MIN(dt), MAX(n) '
		+ `FROM customers WHERE id BETWEEN ${base} AND ${base + 5}`);
	show('query aggregates', r);
	show('query aggregates meta', meta(f));
	[r, f] = await rows(conn, 'execute', 'SELECT COUNT(*), SUM(n), MAX(balance) FROM customers '
		+ 'WHERE id BETWEEN ? AND ?', [base, base + 5]);
	show('execute aggregates', r);
	show('execute aggregates meta', meta(f));
	// big numbers (bigNumberStrings), JSON, DATETIME(6) with dateStrings
	[r] = await rows(conn, 'execute', 'SELECT id, id * 1000000000000 + 1, CAST(id AS UNSIGNED) << 50 '
		+ 'FROM customers WHERE id = ?', [base + 2]);
	show('execute bignum', r);
	[r] = await rows(conn, 'query', `SELECT id, id * 1000000000000 + 1 FROM customers WHERE id = ${base + 2}`);
	show('query bignum', r);
	[r] = await rows(conn, 'execute', "SELECT doc, JSON_EXTRACT(doc, '$.a[1]'), JSON_VALUE(doc, '$.s') "
		+ 'FROM customers WHERE id = ?', [base + 4]);
	show('execute json', r);
	[r] = await rows(conn, 'execute', 'SELECT dt, DATE(dt), TIME(dt) FROM customers WHERE id = ?', [base + 1]);
	show('execute datetime', r);
	[r] = await rows(conn, 'query', `SELECT dt FROM customers WHERE id = ${base}`);
	show('query datetime', r);
	// FOUND_ROWS (mysql2's default flag): affectedRows counts matched rows, changed or not
	[r] = await conn.execute('UPDATE customers SET n = ? WHERE id BETWEEN ? AND ?', [7, base, base + 5]);
	show('execute scatter update', ok(r));
	[r] = await conn.query(`UPDATE customers SET n = 7 WHERE id BETWEEN ${base} AND ${base + 5}`);
	show('query scatter update unchanged', ok(r));
	// ---- a transaction over two shards: rollback, then commit
	const pair = `SELECT id, balance FROM customers WHERE id IN (${base}, ${base + 1}) ORDER BY id`;
	await conn.beginTransaction();
	await conn.execute('UPDATE customers SET balance = balance + ? WHERE id = ?', ['1.50', base]);
	await conn.execute('UPDATE customers SET balance = balance - ? WHERE id = ?', ['1.50', base + 1]);
	await conn.rollback();
	[r] = await rows(conn, 'query', pair);
	show('after rollback', r);
	await conn.beginTransaction();
	await conn.execute('UPDATE customers SET balance = balance + ? WHERE id = ?', ['1.50', base]);
	await conn.execute('UPDATE customers SET balance = balance - ? WHERE id = ?', ['1.50', base + 1]);
	await conn.commit();
	[r] = await rows(conn, 'query', pair);
	show('after commit', r);
	// ---- errors
	try {
		await conn.execute(ins, [base, 'dup', '1.00', '2020-01-01', Buffer.alloc(0), '{}', 1]);
		show('execute duplicate', 'no error');
	} catch (e) {
		show('execute duplicate', err(e));
	}
	try {
		await conn.query(`INSERT INTO customers (id, name) VALUES (${base + 3}, 'dup')`);
		show('query duplicate', 'no error');
	} catch (e) {
		show('query duplicate', err(e));
	}
	try {
		await conn.query('SELEC 1');
		show('query syntax', 'no error');
	} catch (e) {
		show('query syntax', err(e));
	}
	try {
		await conn.execute('SELECT nosuchcolumn FROM customers WHERE id = ?', [base]);
		show('execute bad prepare', 'no error');
	} catch (e) {
		show('execute bad prepare', err(e));
	}
	await conn.ping();
	show('ping', 'ok');
	// ---- the global table
	const code = String.fromCharCode(65 + (base % 26)) + 'N';
	[r] = await conn.execute('INSERT INTO countries (code, name) VALUES (?, ?) '
		+ 'ON DUPLICATE KEY UPDATE name = VALUES(name)', [code, 'Nödeland']);
	show('execute global insert', ok(r));
	[r] = await rows(conn, 'execute', 'SELECT code, name FROM countries WHERE code = ?', [code]);
	show('execute global', r);
	// ---- changeUser: a fresh session (user variables gone), same schema, statements still work
	await conn.query('SET @battery = 42');
	await conn.changeUser({ user, password, database });
	[r] = await rows(conn, 'query', 'SELECT @battery, DATABASE()');
	show('changeUser session', r);
	[r] = await rows(conn, 'execute', point, [base + 2]);
	show('changeUser point', r);
	await conn.end();
	process.stdout.write('done\n');
}

main().catch((e) => {
	process.stdout.write(`fatal: ${e.code} ${e.errno} ${e.message}\n`);
	process.exit(1);
});
