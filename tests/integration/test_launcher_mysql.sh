#!/usr/bin/env bash
# The launcher with --db-host: a private MariaDB server on a loopback port.
# A wrong password is refused at start (one line, exit 2, nothing started,
# no run directory); the right one, given by file and by MYSQL_PWD (never
# on the command line), gives a run whose rows are all in MySQL with the
# same invariants as the SQLite run: contiguous best chain, transactions in
# stored blocks, balances matching the money supply.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BIN=${SG_BIN:-$root/bin}
. "$here/lib_mariadb.sh"

. "$here/lib_launcher_db.sh"
ldb_setup lmysql
mkdir -p "$T/bin" "$T/work"
cp "$BIN/launcher" "$BIN/sgnode" "$BIN/sgoperator" "$T/bin/" || fail "cannot copy binaries"
L=$T/bin/launcher


# Wrong password: one line naming the server and the fix, exit 2.
printf 'wrong-password\n' >"$T/badpw"
sg_pick_base 4 || fail "no free ports"
(cd "$T/work" && exec "$L" --db-host 127.0.0.1 --db-port "$MDB_PORT" --db-password-file "$T/badpw" \
    --db-name sglaunch --base-port "$BASE" --duration 5 >"$T/out" 2>"$T/err"); rc=$?
[[ $rc -eq 2 ]] || fail "wrong password: exit $rc, expected 2: $(cat "$T/err")"
[[ $(wc -l <"$T/err") -eq 1 ]] || fail "wrong password: not one line: $(cat "$T/err")"
grep -q -- "--db-password" "$T/err" || fail "wrong password message lacks the fix: $(cat "$T/err")"
[[ -z "$(ls -A "$T/work")" ]] || fail "wrong password: created $(ls -A "$T/work")"
[[ -z "$(sg_our_daemons "$T")" ]] || fail "wrong password: daemons started"

# A database from before the latency columns: the launcher adds them.
mdb_sql "CREATE DATABASE IF NOT EXISTS sglaunch; CREATE TABLE sglaunch.transactions (
    run_id VARCHAR(39) NOT NULL DEFAULT '', txid VARCHAR(64) NOT NULL DEFAULT '',
    block_hash VARCHAR(64) NOT NULL DEFAULT '', kind VARCHAR(15) NOT NULL DEFAULT '',
    from_pk VARCHAR(64) NOT NULL DEFAULT '', to_pk VARCHAR(64) NOT NULL DEFAULT '',
    nonce BIGINT NOT NULL DEFAULT 0, amount BIGINT NOT NULL DEFAULT 0,
    interval_no BIGINT NOT NULL DEFAULT 0, energy_wh BIGINT NOT NULL DEFAULT 0,
    price BIGINT NOT NULL DEFAULT 0, first_seen_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, txid)) ENGINE=InnoDB" || fail "cannot make an old transactions table"
# A database from before node_stats: its per-node samples were in
# simulation_stats; they move to node_stats, rows and all.
mdb_sql "CREATE TABLE sglaunch.simulation_stats (
    run_id VARCHAR(39) NOT NULL DEFAULT '', node VARCHAR(64) NOT NULL DEFAULT '',
    t_ms BIGINT NOT NULL DEFAULT 0, height BIGINT NOT NULL DEFAULT 0,
    peers BIGINT NOT NULL DEFAULT 0, hashrate BIGINT NOT NULL DEFAULT 0,
    mempool BIGINT NOT NULL DEFAULT 0, stale BIGINT NOT NULL DEFAULT 0,
    orphans BIGINT NOT NULL DEFAULT 0, balance BIGINT NOT NULL DEFAULT 0,
    loop_lag_ms BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (run_id, node, t_ms)) ENGINE=InnoDB;
    INSERT INTO sglaunch.simulation_stats (run_id, node, t_ms, height)
    VALUES ('old-run', 'p1', 1000, 7)" || fail "cannot make an old simulation_stats table"

# A one-line scenario: its events row and the per-node tips go to MySQL too.
printf 'at 2s hashrate p1 1M\n' >"$T/scen.txt"

# Right password through the environment; a short run.  A port taken
# between the probe and the launcher's check (tests side by side) gives
# exit 2 at once: another range is tried.
for _ in 1 2 3 4 5; do
    sg_pick_base 4 || fail "no free ports"
    rm -rf "$T/run"
    MYSQL_PWD=$MDB_PASS "$L" --db-host 127.0.0.1 --db-port "$MDB_PORT" --db-name sglaunch --block-interval 0 \
        --prosumers 2 --consumers 1 --difficulty 5 --duration 10 --quiet --base-port "$BASE" \
        --run-dir "$T/run" --scenario "$T/scen.txt" >"$T/l.out" 2>&1 &
    LPID=$!
    for _ in $(seq 1 1500); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$LPID" 2>/dev/null && fail "launcher still running after 300 s"
    wait "$LPID"; rc=$?
    [[ $rc -eq 2 ]] && grep -q "in use" "$T/l.out" && continue
    break
done
LPID=""
[[ $rc -eq 0 ]] || fail "launcher exited $rc"
[[ -z "$(sg_our_daemons "$T")" ]] || fail "daemons left after the run"
[[ ! -e "$T/run/run.db" ]] || fail "an SQLite file was made despite --db-host"

run=$(mdb_sql "SELECT run_id FROM sglaunch.runs WHERE ended_at_s > 0")
[[ -n "$run" ]] || fail "no finished runs row"
s() { mdb_sql "SELECT $1 FROM sglaunch.$2 WHERE run_id='$run' ${3:+AND $3}"; }
for t in nodes blocks transactions node_stats simulation_stats; do
    [[ "$(s 'COUNT(*)' "$t")" -gt 0 ]] || fail "table $t is empty"
done
[[ "$(s 'COUNT(*)' nodes)" -eq 4 ]] || fail "nodes rows: $(s 'COUNT(*)' nodes)"
[[ "$(mdb_sql "SELECT height FROM sglaunch.node_stats WHERE run_id='old-run' AND node='p1'")" == 7 ]] ||
    fail "the old per-node samples did not move to node_stats"
[[ "$(s 'MAX(block_count)' simulation_stats)" -gt 0 ]] || fail "no aggregates in simulation_stats"
best=$(s 'MAX(height)' blocks 'stale=0')
[[ "$best" -ge 5 ]] || fail "best height only $best"
[[ "$(s 'COUNT(*)' blocks 'stale=0')" -eq $((best + 1)) ]] || fail "best chain not contiguous"
[[ "$(s 'COUNT(DISTINCT height)' blocks 'stale=0')" -eq $((best + 1)) ]] || fail "best heights repeat"
[[ "$(s 'COUNT(*)' transactions "block_hash<>'' AND block_hash NOT IN
      (SELECT hash FROM sglaunch.blocks WHERE run_id='$run' AND stale=0)")" -eq 0 ]] ||
    fail "transactions name blocks off the best chain"
reward=$(sed -n 's/^block_reward //p' "$T/run/genesis.txt")
alloc=$(awk '/^alloc / { s += $3 } END { print s }' "$T/run/genesis.txt")
[[ "$(s 'SUM(balance + reserved)' nodes)" -eq $((alloc + reward * best)) ]] ||
    fail "money supply: $(s 'SUM(balance + reserved)' nodes) != $((alloc + reward * best))"
# Measured latency reached MySQL (in the migrated table): both times or
# neither, never negative, and the block's row filled every measured one.
[[ "$(s 'COUNT(*)' transactions 'included_ms IS NOT NULL')" -gt 0 ]] || fail "no measured latency"
[[ "$(s 'COUNT(*)' transactions '(included_ms IS NULL) <> (broadcast_ms IS NULL)')" -eq 0 ]] ||
    fail "a transaction has only one latency time"
[[ "$(s 'COUNT(*)' transactions "included_ms < broadcast_ms OR (included_ms IS NOT NULL AND kind='')")" -eq 0 ]] ||
    fail "a negative latency, or a measured transaction without its block's row"
# The report of a MySQL run: written at the end from MySQL, every chart
# with data points; `launcher report` rewrites it given the password in
# MYSQL_PWD and fails with one line without it.
R=$T/run/report.html
[[ -s "$R" ]] || fail "no report.html for the MySQL run: $(grep report "$T/l.out")"
for id in price traded grid community pvload blockint stale hashrate latency; do
    svg=$(awk -v id="chart-$id" 'index($0, "<svg id=\"" id "\"") {f=1} f {print} f && /<\/svg>/ {exit}' "$R")
    [[ $(grep -Eo '<circle |<rect class="bar"' <<<"$svg" | wc -l) -gt 0 ]] ||
        fail "MySQL report: chart $id has no data points"
done
grep -q "<td>$run</td>" "$R" || fail "MySQL report: not of run $run"
rm -f "$R"
MYSQL_PWD=$MDB_PASS "$L" report --run "$T/run" >/dev/null 2>"$T/rep.err" ||
    fail "launcher report of the MySQL run failed: $(cat "$T/rep.err")"
[[ -s "$R" ]] || fail "launcher report wrote no file for the MySQL run"
env -u MYSQL_PWD "$L" report --run "$T/run" >/dev/null 2>"$T/rep.err" &&
    fail "launcher report without the password succeeded"
[[ $(wc -l <"$T/rep.err") -eq 1 ]] || fail "report without password: not one line: $(cat "$T/rep.err")"
# The scenario's event and the tips it is analysed with, in MySQL.
[[ "$(s 'COUNT(*)' events "what='hashrate' AND target='p1' AND arg='1000000' AND outcome='ok'")" -eq 1 ]] ||
    fail "no events row in MySQL: $(s 'what, outcome' events)"
[[ "$(s 'COUNT(*)' node_stats "tip<>''")" -gt 0 ]] || fail "no tips in node_stats"
MYSQL_PWD=$MDB_PASS "$L" analyze --run "$T/run" >"$T/an.out" 2>&1 ||
    fail "launcher analyze of the MySQL run failed: $(cat "$T/an.out")"
grep -Eq '^ +1 +2\.0 hashrate +p1 +1000000 ' "$T/an.out" || fail "analyze: $(cat "$T/an.out")"
mdb_log "MySQL run $run: best height $best; pass"
