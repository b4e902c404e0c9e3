#!/usr/bin/env bash
# The launcher with --db-host while the MariaDB server goes away: a private
# server on a loopback port is shut down about 10 s into a run, kept down
# for 20 s (its data dir kept) and started again on the same port; once
# rows flow again the run is ended by SIGINT (a fixed --duration could end
# it while the server is still down on a loaded machine, and the final
# write has one try).  The run must finish normally (exit 0), say that the
# database was unreachable and came back, and leave MySQL holding exactly
# what the chain holds: no duplicate keys, a contiguous linked best chain
# whose length is the best height the launcher reported, every transaction in a stored block, stats
# rows for the seconds the server was down, balances matching the supply.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BIN=${SG_BIN:-$root/bin}
. "$here/lib_mariadb.sh"

NODES=5       # operator, 2 prosumers, 2 consumers
DOWN_S=20
log() { mdb_log "$*"; }
LDB_TAIL=15
. "$here/lib_launcher_db.sh"
ldb_setup lmyout
mkdir -p "$T/bin"
cp "$BIN/launcher" "$BIN/sgnode" "$BIN/sgoperator" "$T/bin/" || fail "cannot copy binaries"
L=$T/bin/launcher


# A port taken between the probe and the launcher's own check (tests side
# by side) makes it exit 2 at once: then another range is tried.
started=0
for _ in 1 2 3 4 5; do
    sg_pick_base "$NODES" || fail "no free ports"
    rm -rf "$T/run"
    MYSQL_PWD=$MDB_PASS "$L" --db-host 127.0.0.1 --db-port "$MDB_PORT" --db-name sgout --block-interval 0 \
        --prosumers 2 --consumers 2 --difficulty 6 --duration 0 --quiet --base-port "$BASE" \
        --run-dir "$T/run" >"$T/l.out" 2>&1 &
    LPID=$!
    # The run directory is made after the port check, however long it took.
    for _ in $(seq 1 600); do
        [[ -e "$T/run" ]] && break
        kill -0 "$LPID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -e "$T/run" ]]; then started=1; break; fi
    wait "$LPID"; rc=$?
    LPID=""
    [[ $rc -eq 2 ]] && grep -q "in use" "$T/l.out" && continue
    fail "launcher exited $rc at start"
done
[[ $started -eq 1 ]] || fail "no usable port range after 5 tries"
t_launch=$(date +%s)

# The outage starts once the run is ~10 s in and blocks are already stored,
# so rows are written on both sides of it.
run="" seen=0
for _ in $(seq 1 600); do
    kill -0 "$LPID" 2>/dev/null || fail "launcher died before the outage"
    [[ -n "$run" ]] || run=$(mdb_sql "SELECT run_id FROM sgout.runs LIMIT 1" 2>/dev/null)
    [[ -n "$run" ]] &&
        seen=$(mdb_sql "SELECT COUNT(*) FROM sgout.blocks WHERE run_id='$run' AND height>0" 2>/dev/null)
    [[ "${seen:-0}" -ge 1 && $(( $(date +%s) - t_launch )) -ge 10 ]] && break
    sleep 0.2
done
[[ -n "$run" && "${seen:-0}" -ge 1 ]] || fail "no blocks in MySQL within 120 s of the start"
log "run $run: $seen blocks stored; stopping mariadbd for ${DOWN_S}s"
down_ms=$(date +%s%3N)
mdb_stop
mariadb-admin --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MDB_PORT" -u root \
    --connect-timeout=2 ping >/dev/null 2>&1 && fail "the server still answers after mdb_stop"
# In the background: a TERM to the test is handled at once, not after it.
sleep "$DOWN_S" &
wait $!
kill -0 "$LPID" 2>/dev/null || fail "launcher exited during the outage"
up_ms=$(date +%s%3N)
mdb_start || fail "mariadbd did not restart"
log "mariadbd back on port $MDB_PORT"

# Rows taken after the return reach the server: then the run ends.
after=0
for _ in $(seq 1 600); do
    kill -0 "$LPID" 2>/dev/null || fail "launcher exited before rows flowed again"
    after=$(mdb_sql "SELECT COUNT(DISTINCT node) FROM sgout.node_stats
                     WHERE run_id='$run' AND t_ms > $up_ms + 5000" 2>/dev/null)
    [[ "${after:-0}" -ge $NODES ]] && break
    sleep 0.2
done
[[ "${after:-0}" -ge $NODES ]] || fail "no stats rows from every node within 120 s of the return"
log "rows flow again; ending the run with SIGINT"
kill -INT "$LPID"
for _ in $(seq 1 900); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$LPID" 2>/dev/null && fail "launcher still running 180 s after SIGINT"
wait "$LPID"; rc=$?
LPID=""
[[ $rc -eq 0 ]] || fail "launcher exited $rc"
[[ -z "$(sg_our_daemons "$T")" ]] || fail "daemons left after the run"

# The launcher noticed: one event when writes failed, one when they resumed.
grep -q "launcher: database unreachable; [0-9]* rows wait" "$T/l.out" ||
    fail "no 'database unreachable' event"
grep -q "launcher: database back" "$T/l.out" || fail "no 'database back' event"
grep -q "storing blocks failed" "$T/l.out" && fail "blocks were dropped: $(grep 'storing blocks failed' "$T/l.out")"
sumh=$(sed -n 's/^run .*best height \([0-9]*\),.*/\1/p' "$T/l.out")
[[ -n "$sumh" ]] || fail "no summary line"

s() { mdb_sql "SELECT $1 FROM sgout.$2 WHERE run_id='$run' ${3:+AND $3}"; }
# nodup TABLE KEY-COLUMNS: fails if a key repeats.
nodup() {
    local all dist
    all=$(s 'COUNT(*)' "$1")
    dist=$(s "COUNT(DISTINCT $2)" "$1")
    [[ "$all" == "$dist" ]] || fail "$1: $all rows but $dist distinct ($2)"
}
eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }

eq "$(mdb_sql "SELECT COUNT(*) FROM sgout.runs")" 1 "runs rows"
eq "$(s 'COUNT(*)' runs 'ended_at_s >= started_at_s AND started_at_s > 0')" 1 "finished runs row"
for t in nodes blocks transactions node_stats simulation_stats; do
    [[ "$(s 'COUNT(*)' "$t")" -gt 0 ]] || fail "table $t is empty"
done
eq "$(s 'COUNT(*)' nodes)" "$NODES" "nodes rows"
nodup nodes name
nodup blocks hash
nodup transactions txid
nodup node_stats "node, t_ms"
nodup market_intervals interval_no
nodup trades "settle_txid, order_txid"

best=$(s 'MAX(height)' blocks 'stale=0')
log "best height $best (summary says $sumh), $(s 'COUNT(*)' blocks 'stale=1') stale," \
    "$(s 'COUNT(*)' transactions) transactions"
eq "$best" "$sumh" "best height in MySQL vs the launcher's summary"
[[ "$best" -ge 5 ]] || fail "best height only $best"
eq "$(s 'COUNT(*)' blocks 'stale=0')" "$((best + 1))" "best-chain blocks (heights 0..$best)"
eq "$(s 'COUNT(DISTINCT height)' blocks 'stale=0')" "$((best + 1))" "distinct best heights"
eq "$(s 'MIN(height)' blocks 'stale=0')" 0 "lowest best height"
eq "$(s 'COUNT(*)' "blocks b" "stale=0 AND height>0 AND NOT EXISTS
      (SELECT 1 FROM sgout.blocks p WHERE p.run_id=b.run_id AND p.hash=b.prev_hash
       AND p.stale=0 AND p.height=b.height-1)")" 0 "unlinked best blocks"
eq "$(s 'COUNT(*)' "blocks b" "height>0 AND NOT EXISTS
      (SELECT 1 FROM sgout.blocks p WHERE p.run_id=b.run_id AND p.hash=b.prev_hash)")" 0 \
    "blocks without a stored parent"
# Every node ended on the best tip: its final height is the chain's.
eq "$(s 'COUNT(*)' nodes "height=$best")" "$NODES" "nodes at the best height"
eq "$(s 'COUNT(*)' "transactions t" "block_hash<>'' AND NOT EXISTS
      (SELECT 1 FROM sgout.blocks b WHERE b.run_id=t.run_id AND b.hash=t.block_hash)")" 0 \
    "transactions naming an unstored block"
eq "$(s 'COUNT(*)' "transactions t" "block_hash<>'' AND NOT EXISTS
      (SELECT 1 FROM sgout.blocks b WHERE b.run_id=t.run_id AND b.hash=t.block_hash AND b.stale=0)")" 0 \
    "transactions in no best block"
eq "$(s 'COUNT(*)' transactions "block_hash<>''")" "$(s 'SUM(n_txs)' blocks 'stale=0')" \
    "best-chain transactions vs the blocks' counts"
eq "$(s 'COUNT(*)' transactions "kind='coinbase' AND block_hash<>''")" "$best" "coinbases on the best chain"
reward=$(sed -n 's/^block_reward //p' "$T/run/genesis.txt")
alloc=$(awk '/^alloc / { s += $3 } END { print s }' "$T/run/genesis.txt")
eq "$(s 'SUM(balance + reserved)' nodes)" "$((alloc + reward * best))" "money supply"

# Stats taken while the server was down were kept and written afterwards.
for n in op p1 p2 c1 c2; do
    c=$(s 'COUNT(*)' node_stats "node='$n' AND t_ms > $down_ms AND t_ms < $up_ms")
    [[ "$c" -ge $((DOWN_S / 4)) ]] || fail "only $c stats rows for $n from the outage"
done
log "outage of ${DOWN_S}s survived; pass"
