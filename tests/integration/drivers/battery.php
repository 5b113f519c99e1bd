<?php
// SPDX-License-Identifier: Apache-2.0
// The driver battery for PHP: mysqli (server-side prepared statements) and PDO with native
// prepares (ATTR_EMULATE_PREPARES off). Prints one normalized line per result; the test runs
// it against myshard and against a plain server and compares the outputs.
// Usage: php battery.php HOST PORT USER PASSWORD DB BASE_ID

[$_, $host, $port, $user, $pass, $db, $base] = $argv;
$base = (int)$base;
mysqli_report(MYSQLI_REPORT_OFF);

function show($label, $v) {
    echo $label, ": ", json_encode($v, JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION), "\n";
}

$rows = [];
for ($i = 0; $i < 6; $i++) {
    $rows[] = [$base + $i, "héllo ✓ 🙂 $i", sprintf("%d.%02d", 1000 * $i + 17, $i), 
               sprintf("2024-02-29 13:14:%02d.%06d", $i, 123456 + $i), "\x00\x01" . chr($i) . "\x00\xff",
               json_encode(["a" => [1, $i]]), $i % 2 ? null : $i];
}

// ---- mysqli, binary protocol
$m = new mysqli($host, $user, $pass, $db, (int)$port);
if ($m->connect_errno) { echo "connect error ", $m->connect_errno, "\n"; exit(1); }
$m->set_charset("utf8mb4");
$st = $m->prepare("INSERT INTO customers (id, name, balance, dt, bin, doc, n) VALUES (?, ?, ?, ?, ?, ?, ?)");
foreach ($rows as $r) {
    [$id, $name, $bal, $dt, $bin, $doc, $n] = $r;
    $st->bind_param("isssssi", $id, $name, $bal, $dt, $bin, $doc, $n);
    show("mysqli insert $id", [$st->execute(), $st->affected_rows, $st->errno]);
}
$st->close();
$st = $m->prepare("SELECT id, name, balance, dt, HEX(bin), doc, n FROM customers WHERE id = ?");
foreach ([$base, $base + 3, $base + 5, $base + 99] as $id) {
    $st->bind_param("i", $id);
    $st->execute();
    $res = $st->get_result();
    show("mysqli point $id", $res->fetch_all(MYSQLI_NUM));
    $meta = [];
    foreach ($res->fetch_fields() as $f) { $meta[] = [$f->name, $f->type, $f->decimals]; }
    show("mysqli meta", $meta);
}
$st->close();
$res = $m->query("SELECT id, name, balance, n FROM customers WHERE id BETWEEN $base AND " . ($base + 5) . " ORDER BY id");
show("mysqli scatter", $res->fetch_all(MYSQLI_NUM));
$res = $m->query("SELECT COUNT(*), SUM(balance), AVG(balance), MIN(dt), MAX(n) FROM customers WHERE id BETWEEN $base AND " . ($base + 5));
show("mysqli aggregates", $res->fetch_all(MYSQLI_NUM));
// transactions across shards
$m->begin_transaction();
$m->query("UPDATE customers SET balance = balance + 1 WHERE id = $base");
$m->query("UPDATE customers SET balance = balance - 1 WHERE id = " . ($base + 1));
$m->rollback();
$res = $m->query("SELECT id, balance FROM customers WHERE id IN ($base, " . ($base + 1) . ") ORDER BY id");
show("mysqli after rollback", $res->fetch_all(MYSQLI_NUM));
$m->autocommit(false);
$m->query("UPDATE customers SET balance = balance + 1 WHERE id = $base");
$m->query("UPDATE customers SET balance = balance - 1 WHERE id = " . ($base + 1));
$m->commit();
$m->autocommit(true);
$res = $m->query("SELECT id, balance FROM customers WHERE id IN ($base, " . ($base + 1) . ") ORDER BY id");
show("mysqli after commit", $res->fetch_all(MYSQLI_NUM));
// errors
$m->query("INSERT INTO customers (id, name) VALUES ($base, 'dup')");
show("mysqli duplicate", [$m->errno, $m->sqlstate]);
$m->query("SELEC 1");
show("mysqli syntax", [$m->errno, $m->sqlstate]);
$st = $m->prepare("SELECT nosuchcolumn FROM customers WHERE id = ?");
show("mysqli bad prepare", [$st === false, $m->errno]);
show("mysqli ping", $m->ping());
// global table
$m->query("INSERT INTO countries (code, name) VALUES ('" . chr(65 + $base % 26) . "Z', 'Zeta') ON DUPLICATE KEY UPDATE name = 'Zeta'");
$res = $m->query("SELECT code, name FROM countries WHERE code = '" . chr(65 + $base % 26) . "Z'");
show("mysqli global", $res->fetch_all(MYSQLI_NUM));
$m->close();

// ---- PDO with native prepares
$pdo = new PDO("mysql:host=$host;port=$port;dbname=$db;charset=utf8mb4", $user, $pass,
               [PDO::ATTR_EMULATE_PREPARES => false, PDO::ATTR_ERRMODE => PDO::ERRMODE_SILENT,
                PDO::ATTR_STRINGIFY_FETCHES => false]);
$st = $pdo->prepare("SELECT id, name, balance, dt, bin, doc, n FROM customers WHERE id IN (?, ?) ORDER BY id");
$st->execute([$base + 2, $base + 4]);
$out = [];
foreach ($st->fetchAll(PDO::FETCH_NUM) as $r) { $r[4] = bin2hex($r[4]); $out[] = $r; }
show("pdo in-list", $out);
$st = $pdo->prepare("UPDATE customers SET n = ? WHERE id BETWEEN ? AND ?");
show("pdo scatter update", [$st->execute([7, $base, $base + 5]), $st->rowCount()]);
$pdo->beginTransaction();
$pdo->prepare("DELETE FROM customers WHERE id = ?")->execute([$base + 5]);
$pdo->prepare("DELETE FROM customers WHERE id = ?")->execute([$base + 4]);
$pdo->rollBack();
$st = $pdo->query("SELECT COUNT(*), SUM(n) FROM customers WHERE id BETWEEN $base AND " . ($base + 5));
show("pdo after rollback", $st->fetchAll(PDO::FETCH_NUM));
$st = $pdo->prepare("INSERT INTO customers (id, name) VALUES (?, ?)");
show("pdo duplicate", [$st->execute([$base, "dup"]), $st->errorInfo()[0], $st->errorInfo()[1]]);
echo "done\n";
