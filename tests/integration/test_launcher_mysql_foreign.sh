#!/usr/bin/env bash
# A database that the original simulator made: same --db-name, the same
# four table names with its own columns, rows in them.  The launcher must
# refuse it at start (one line naming the table and the fix, exit 2,
# nothing started, no run directory) and leave every table, column and row
# as it was.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BIN=${SG_BIN:-$root/bin}
. "$here/lib_mariadb.sh"

. "$here/lib_launcher_db.sh"
ldb_setup lforeign
mkdir -p "$T/bin" "$T/work"
cp "$BIN/launcher" "$BIN/sgnode" "$BIN/sgoperator" "$T/bin/" || fail "cannot copy binaries"

# The original's layout (its MySQL schema), with a few rows.
mdb_sql "CREATE DATABASE smartgrid; USE smartgrid;
CREATE TABLE blocks (id INT AUTO_INCREMENT PRIMARY KEY, block_index INT, block_hash VARCHAR(64),
    previous_hash VARCHAR(64), timestamp DOUBLE, nonce INT, transactions JSON,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE transactions (id INT AUTO_INCREMENT PRIMARY KEY, block_index INT, sender VARCHAR(64),
    recipient VARCHAR(64), amount DOUBLE, energy DOUBLE, transaction_type VARCHAR(20),
    timestamp DOUBLE, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE nodes (id INT AUTO_INCREMENT PRIMARY KEY, node_id VARCHAR(64), node_type VARCHAR(20),
    wallet_balance DOUBLE, energy_balance DOUBLE, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE simulation_stats (id INT AUTO_INCREMENT PRIMARY KEY, timestamp DOUBLE,
    total_energy_traded DOUBLE, avg_energy_price DOUBLE, block_count INT, transaction_count INT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
INSERT INTO blocks (block_index, block_hash, previous_hash, timestamp, nonce, transactions)
    VALUES (0, 'aa', '00', 1.5, 7, '[]'), (1, 'bb', 'aa', 2.5, 9, '[]');
INSERT INTO transactions (block_index, sender, recipient, amount, energy, transaction_type, timestamp)
    VALUES (1, 'p1', 'c1', 3.5, 2.0, 'energy', 2.5);
INSERT INTO nodes (node_id, node_type, wallet_balance, energy_balance) VALUES ('p1', 'prosumer', 10, 5);
INSERT INTO simulation_stats (timestamp, total_energy_traded, avg_energy_price, block_count,
    transaction_count) VALUES (3.0, 2.0, 0.15, 2, 1);" || fail "cannot make the original's tables"

# Everything a later check compares: columns in order and every row.
snapshot() {
    local t
    for t in blocks transactions nodes simulation_stats; do
        echo "== $t"
        mdb_sql "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA='smartgrid' AND TABLE_NAME='$t' ORDER BY ORDINAL_POSITION"
        mdb_sql "SELECT * FROM smartgrid.$t ORDER BY id"
    done
    mdb_sql "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='smartgrid'
             ORDER BY TABLE_NAME"
}
snapshot >"$T/before" || fail "cannot read the original's tables"

(cd "$T/work" && MYSQL_PWD=$MDB_PASS exec "$T/bin/launcher" --db-host 127.0.0.1 --db-port "$MDB_PORT" \
    --db-name smartgrid --duration 5 >"$T/out" 2>"$T/err" </dev/null); rc=$?
[[ $rc -eq 2 ]] || fail "foreign tables: exit $rc, expected 2: $(cat "$T/err")"
[[ $(wc -l <"$T/err") -eq 1 ]] || fail "foreign tables: not one line: $(cat "$T/err")"
grep -q "table \`[a-z_]*\`" "$T/err" || fail "message does not name the table: $(cat "$T/err")"
grep -q -- "--db-name" "$T/err" || fail "message does not name the fix: $(cat "$T/err")"
[[ -z "$(ls -A "$T/work")" ]] || fail "foreign tables: created $(ls -A "$T/work")"
[[ -z "$(sg_our_daemons "$T")" ]] || fail "foreign tables: daemons started"

snapshot >"$T/after" || fail "cannot read the original's tables again"
diff -u "$T/before" "$T/after" >"$T/diff" || fail "the original's tables changed: $(head -n 20 "$T/diff")"
echo "PASS: the original's tables refused with: $(cat "$T/err")"
