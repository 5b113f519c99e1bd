#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# The driver battery for Perl DBI with DBD::MariaDB (mariadb_server_prepare=1) or DBD::mysql
# (mysql_server_prepare=1): server-side prepared statements. Prints one normalized line per
# result; the test runs it against myshard and against a plain server and compares the outputs.
# Usage: perl battery.pl HOST PORT USER PASSWORD DB BASE_ID [MariaDB|mysql]
use strict;
use warnings;
use utf8;
use DBI;

binmode(STDOUT, ':encoding(UTF-8)');
my ($host, $port, $user, $pass, $db, $base, $drv) = @ARGV;
$drv //= 'MariaDB';
my $prefix = $drv eq 'mysql' ? 'mysql' : 'mariadb';

sub show {
    my ($label, $v) = @_;
    my $fmt;
    $fmt = sub {
        my ($x) = @_;
        return 'NULL' unless defined $x;
        return '[' . join(', ', map { $fmt->($_) } @$x) . ']' if ref $x eq 'ARRAY';
        return "'$x'";
    };
    print "$label: ", $fmt->($v), "\n";
}

my $dbh = DBI->connect("DBI:$drv:database=$db;host=$host;port=$port;${prefix}_server_prepare=1",
                       $user, $pass, { RaiseError => 0, PrintError => 0, AutoCommit => 1 })
    or die "connect: $DBI::errstr\n";
my $ins = $dbh->prepare("INSERT INTO customers (id, name, balance, dt, bin, doc, n) VALUES (?, ?, ?, ?, ?, ?, ?)");
for my $i (0 .. 5) {
    my $id = $base + $i;
    my $rv = $ins->execute($id, "ünïcødé ✓ $i", sprintf("%d.%02d", 2000 * $i + 3, $i),
                           sprintf("2023-12-31 23:59:%02d.%06d", $i, 999990 + $i),
                           "\x00bin\x00" . chr($i), qq({"k": $i}), $i % 3 ? $i : undef);
    show("insert $id", [$rv, $dbh->err]);
}
my $sel = $dbh->prepare("SELECT id, name, balance, dt, HEX(bin), doc, n FROM customers WHERE id = ?");
for my $id ($base, $base + 2, $base + 4, $base + 77) {
    $sel->execute($id);
    show("point $id", $sel->fetchall_arrayref());
}
my $rows = $dbh->selectall_arrayref("SELECT id, balance, n FROM customers WHERE id BETWEEN ? AND ? ORDER BY balance DESC LIMIT 4",
                                    undef, $base, $base + 5);
show("scatter order limit", $rows);
show("aggregates", $dbh->selectall_arrayref(
    "SELECT COUNT(*), SUM(balance), AVG(balance), COUNT(DISTINCT n) FROM customers WHERE id BETWEEN ? AND ?",
    undef, $base, $base + 5));
$dbh->begin_work;
$dbh->do("UPDATE customers SET name = 'tx' WHERE id = ?", undef, $base + 1);
$dbh->do("UPDATE customers SET name = 'tx' WHERE id = ?", undef, $base + 3);
$dbh->rollback;
show("after rollback", $dbh->selectall_arrayref("SELECT id, name FROM customers WHERE id IN (?, ?) ORDER BY id", undef, $base + 1, $base + 3));
$dbh->begin_work;
$dbh->do("UPDATE customers SET name = 'tx' WHERE id = ?", undef, $base + 1);
$dbh->do("UPDATE customers SET name = 'tx' WHERE id = ?", undef, $base + 3);
$dbh->commit;
show("after commit", $dbh->selectall_arrayref("SELECT id, name FROM customers WHERE id IN (?, ?) ORDER BY id", undef, $base + 1, $base + 3));
$ins->execute($base, 'dup', 1, '2020-01-01', '', '{}', 1);
show("duplicate", [$dbh->err, $dbh->state]);
$dbh->do("SELEC 1");
show("syntax", [$dbh->err, $dbh->state]);
show("ping", [$dbh->ping ? 1 : 0]);
print "done\n";
