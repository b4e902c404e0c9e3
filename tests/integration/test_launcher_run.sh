#!/usr/bin/env bash
# A short launcher run with SQLite, then the database checked against the
# chain: every table that must hold data does, best-chain heights are
# contiguous and linked, every transaction sits in a stored block, and the
# balances in `nodes` equal the ledger (per node when only coinbases moved
# money, else money is conserved across all nodes).  Then a run stopped by
# SIGINT mid-way (exit 0, no daemon left, data flushed; each daemon holds
# only its own descriptors) and a launcher killed outright (its daemons
# notice and exit).  Every launcher here starts with stdin closed (<&-).
. "$(dirname "$0")/lib.sh"
sg_setup

command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
NODES=5   # operator, 2 prosumers, 2 consumers


# sg_cleanup reads the exit status from $?: hand it on past sg_kill_ours.
trap 'rc=$?; sg_kill_ours "$SG_T"; (exit $rc); sg_cleanup' EXIT

q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }


# start_launcher DIR ARGS...: in the background, LPID set.  A port taken
# between the probe and the launcher's own check (tests run side by side)
# makes it exit 2 before it creates DIR: then another range is tried.  So
# the start counts once DIR exists, however long the check took.
# Stdin closed: the launcher must not hand fd 0 to what it opens next.
start_launcher() {
    local dir=$1 rc; shift
    for _ in 1 2 3 4 5; do
        sg_pick_base "$NODES" || sg_fail "no free port range"
        "$LAUNCHER" --prosumers 2 --consumers 2 --difficulty 5 --quiet --base-port "$BASE" \
            --run-dir "$dir" "$@" <&- >"$dir.out" 2>&1 &
        LPID=$!
        SG_PID[launcher]=$LPID
        launcher_settled() { [[ -e "$dir" ]] || ! kill -0 "$LPID" 2>/dev/null; }
        sg_wait_for 60 "the launcher past its port check" launcher_settled
        [[ -e "$dir" ]] && return 0
        wait "$LPID"; rc=$?
        unset "SG_PID[launcher]"
        if [[ $rc -eq 2 ]] && grep -q "in use" "$dir.out"; then
            continue
        fi
        cat "$dir.out"
        sg_fail "launcher exited $rc at start"
    done
    sg_fail "no usable port range after 5 tries"
}

# wait_exit SECS: waits for the launcher; sets LRC.
wait_exit() {
    local secs=$1
    for _ in $(seq 1 $((secs * 5))); do
        kill -0 "$LPID" 2>/dev/null || break
        sleep 0.2
    done
    kill -0 "$LPID" 2>/dev/null && { cat "$RUN.out"; sg_fail "launcher still running after ${secs}s"; }
    wait "$LPID"; LRC=$?
    unset "SG_PID[launcher]"
}

wait_no_daemons() {
    local secs=$1 left
    for _ in $(seq 1 $((secs * 5))); do
        left=$(sg_our_daemons "$SG_T")
        [[ -z "$left" ]] && return 0
        sleep 0.2
    done
    sg_fail "daemons still running: $left"
}

# ---- 1: a run to its --duration ---------------------------------------------
RUN=$SG_T/run1
DB=$RUN/run.db
start_launcher "$RUN" --duration 15 --seed 4242 --db-password not-in-run-json
wait_exit 300
[[ $LRC -eq 0 ]] || { tail -n 20 "$RUN.out"; sg_fail "launcher exited $LRC"; }
wait_no_daemons 30
grep -q "best height" "$RUN.out" || sg_fail "no summary: $(tail -n 5 "$RUN.out")"
for f in cluster.key genesis.txt run.json nodes.tsv keys/op.key keys/p1.key keys/c2.key \
         logs/op.log logs/p2.log data/c1/blocks.dat; do
    [[ -s "$RUN/$f" ]] || sg_fail "run directory lacks $f"
done
for kv in '"difficulty": 5' '"prosumers": 2' '"consumers": 2' '"operators": 1' '"duration": 15' \
          '"seed": 4242' '"db_host": ""' '"db_port": 3306' '"db_user": "root"' \
          '"db_name": "smartgrid"' '"use_gpu": false' '"market": "uniform"' '"tick_ms": 1000'; do
    grep -qF "$kv" "$RUN/run.json" || sg_fail "run.json lacks $kv"
done
grep -q "not-in-run-json" "$RUN/run.json" "$RUN/nodes.tsv" "$RUN/genesis.txt" &&
    sg_fail "the database password was written into the run directory"
grep -qx "seed 4242" "$RUN/genesis.txt" || sg_fail "genesis does not carry --seed"

for t in runs nodes blocks transactions node_stats simulation_stats; do
    n=$(q "SELECT COUNT(*) FROM $t")
    [[ "$n" -gt 0 ]] || sg_fail "table $t is empty"
done
sg_assert_eq "$(q 'SELECT COUNT(*) FROM nodes')" "$NODES" "nodes rows"
sg_assert_eq "$(q 'SELECT COUNT(*) FROM runs WHERE ended_at_s >= started_at_s AND started_at_s > 0
                   AND seed=4242 AND difficulty=5 AND prosumers=2 AND consumers=2')" 1 "finished runs row"
# Statistics every second for every node.
for n in op p1 p2 c1 c2; do
    c=$(q "SELECT COUNT(*) FROM node_stats WHERE node='$n'")
    [[ "$c" -ge 5 ]] || sg_fail "only $c stats rows for $n"
done
# The run's aggregates about once a second, never going backwards in
# blocks, and the last one agreeing with the stored best chain.
c=$(q "SELECT COUNT(*) FROM simulation_stats")
[[ "$c" -ge 10 ]] || sg_fail "only $c simulation_stats rows in a 15 s run"
sg_assert_eq "$(q "SELECT COUNT(*) FROM simulation_stats a JOIN simulation_stats b
                   ON b.t_ms > a.t_ms AND b.block_count < a.block_count")" 0 "block_count going back"
sg_assert_eq "$(q "SELECT COUNT(*) FROM simulation_stats a JOIN simulation_stats b
                   ON b.t_ms = (SELECT MIN(t_ms) FROM simulation_stats WHERE t_ms > a.t_ms)
                   WHERE b.t_ms - a.t_ms < 500")" 0 "simulation_stats rows closer than 0.5 s"

best=$(q "SELECT MAX(height) FROM blocks WHERE stale=0")
[[ "$best" -ge 5 ]] || sg_fail "best height only $best"
sg_log "best height $best, $(q 'SELECT COUNT(*) FROM blocks WHERE stale=1') stale blocks"
# Contiguous heights 0..best, one block each, each linked to the one below.
sg_assert_eq "$(q 'SELECT COUNT(*) FROM blocks WHERE stale=0')" "$((best + 1))" "best-chain blocks"
sg_assert_eq "$(q 'SELECT COUNT(DISTINCT height) FROM blocks WHERE stale=0')" "$((best + 1))" "distinct best heights"
sg_assert_eq "$(q 'SELECT COUNT(*) FROM blocks b WHERE stale=0 AND height>0 AND NOT EXISTS
                   (SELECT 1 FROM blocks p WHERE p.hash=b.prev_hash AND p.stale=0 AND p.height=b.height-1)')" 0 "unlinked best blocks"
# Stale blocks hang off stored blocks too.
sg_assert_eq "$(q 'SELECT COUNT(*) FROM blocks b WHERE height>0 AND NOT EXISTS
                   (SELECT 1 FROM blocks p WHERE p.hash=b.prev_hash)')" 0 "blocks without a stored parent"
# Every transaction named by a block is in a best-chain block, every stored
# transaction is accounted for, and each best block's count matches.
sg_assert_eq "$(q "SELECT COUNT(*) FROM transactions t WHERE block_hash<>'' AND NOT EXISTS
                   (SELECT 1 FROM blocks b WHERE b.hash=t.block_hash AND b.stale=0)")" 0 "transactions in no best block"
sg_assert_eq "$(q "SELECT COUNT(*) FROM transactions WHERE block_hash<>''")" \
             "$(q 'SELECT SUM(n_txs) FROM blocks WHERE stale=0')" "best-chain transactions"
# A transaction outside the best chain is in a stale block: there are at
# most as many as stale blocks hold.
orph=$(q "SELECT COUNT(*) FROM transactions WHERE block_hash=''")
stale_txs=$(q 'SELECT COALESCE(SUM(n_txs),0) FROM blocks WHERE stale=1')
[[ "$orph" -le "$stale_txs" ]] || sg_fail "$orph transactions outside blocks, stale blocks hold $stale_txs"
sg_assert_eq "$(q "SELECT COUNT(*) FROM transactions WHERE kind='coinbase' AND block_hash<>''")" "$best" "coinbases on the best chain"

# Market tables: settlements on the best chain each make an interval row.
settle=$(q "SELECT COUNT(*) FROM transactions WHERE kind='settlement' AND block_hash<>''")
if [[ "$settle" -gt 0 ]]; then
    sg_assert_eq "$(q "SELECT COUNT(*) FROM market_intervals WHERE block_hash<>''")" "$settle" "market intervals"
    [[ "$(q 'SELECT COUNT(*) FROM trades')" -gt 0 ]] || sg_fail "settlements but no trades rows"
    # The last aggregate sample: its average price is a volume-weighted mean
    # of clearing prices (uniform rule), so it lies between them.
    read -r traded price < <(q "SELECT total_energy_traded_wh, avg_energy_price FROM simulation_stats
                                ORDER BY t_ms DESC LIMIT 1" | tr '|' ' ')
    if [[ "$traded" -gt 0 ]]; then
        lo=$(q "SELECT MIN(clearing_price) FROM market_intervals WHERE traded_wh>0")
        hi=$(q "SELECT MAX(clearing_price) FROM market_intervals WHERE traded_wh>0")
        [[ "$price" -ge "$lo" && "$price" -le "$hi" ]] ||
            sg_fail "average price $price outside the clearing prices [$lo, $hi]"
    fi
    # Settlements keep up with the blocks: nearly every interval with
    # orders on the best chain is settled there once a block came 3 s
    # after its end and after its orders' block (test_settle_pace.sh does
    # this with blocks slower than intervals; generous for a loaded machine).
    due=$(sg_due_intervals_sql "$RUN")
    n_due=$(q "SELECT COUNT(*) FROM ($due)")
    n_set=$(q "SELECT COUNT(*) FROM market_intervals WHERE settled_ms IS NOT NULL
               AND interval_no IN ($due)")
    [[ $((n_set * 10)) -ge $((n_due * 9)) ]] || sg_fail "only $n_set of $n_due due intervals settled"
    bad=$(q "SELECT interval_no || ':' || COALESCE(settled_ms, 'NULL') || ':' || closed_ms || ':' || block_hash
             FROM market_intervals WHERE (settled_ms IS NULL) <> (block_hash='')
             OR (settled_ms IS NOT NULL AND settled_ms + 1000 < closed_ms)")
    [[ -z "$bad" ]] || sg_fail "settled_ms against block_hash and closed_ms: $bad"
    sg_log "$n_set of $n_due intervals due settled; lag $(q "SELECT MIN(settled_ms - closed_ms) || '..' ||
            MAX(settled_ms - closed_ms) FROM market_intervals WHERE settled_ms IS NOT NULL") ms"
else
    sg_log "no settlements in this run (daemons sign no orders yet): market tables not checked"
fi

# Balances: every node ended on the best tip, so its ledger is the best
# chain's.
sg_assert_eq "$(q "SELECT COUNT(*) FROM nodes WHERE height=$best")" "$NODES" "nodes at the best height"
reward=$(sed -n 's/^block_reward //p' "$RUN/genesis.txt")
declare -A alloc=()
while read -r _ pk amount; do alloc[$pk]=$amount; done < <(grep '^alloc ' "$RUN/genesis.txt")
total_alloc=0
for pk in "${!alloc[@]}"; do total_alloc=$((total_alloc + alloc[$pk])); done
sg_assert_eq "$(q 'SELECT SUM(balance + reserved) FROM nodes')" "$((total_alloc + reward * best))" "money supply"
# Per node: the genesis allocation, plus the rewards of the best-chain
# blocks it mined, plus what its best-chain trades moved (sellers receive a
# fill's amount, buyers pay it, the grid account - the operator's - takes
# the difference), plus transfers.
opk=$(q "SELECT pubkey FROM nodes WHERE role='operator'")
BEST_TRADES="SELECT tr.* FROM trades tr JOIN transactions t ON t.txid=tr.settle_txid AND t.block_hash<>''"
grid=$(q "SELECT COALESCE(SUM(CASE side WHEN 'buy' THEN amount ELSE -amount END),0) FROM ($BEST_TRADES)")
while IFS='|' read -r name pk bal; do
    mined=$(q "SELECT COUNT(*) FROM blocks WHERE stale=0 AND height>0 AND miner='$pk'")
    traded=$(q "SELECT COALESCE(SUM(CASE side WHEN 'sell' THEN amount ELSE -amount END),0)
                FROM ($BEST_TRADES) WHERE node_pk='$pk'")
    moved=$(q "SELECT COALESCE(SUM(CASE WHEN to_pk='$pk' THEN amount ELSE 0 END)
                                - SUM(CASE WHEN from_pk='$pk' THEN amount ELSE 0 END),0)
               FROM transactions WHERE kind='transfer' AND block_hash<>''")
    want=$(( ${alloc[$pk]} + reward * mined + traded + moved ))
    [[ "$pk" == "$opk" ]] && want=$((want + grid))
    sg_assert_eq "$bal" "$want" "balance + reserved of $name"
    # The money columns (ingest, best chain) tell the same apart from rewards.
    sg_assert_eq "$(q "SELECT rewards FROM nodes WHERE name='$name'")" "$((reward * mined))" "rewards of $name"
    net=$traded
    [[ "$pk" == "$opk" ]] && net=$((net + grid))
    sg_assert_eq "$(q "SELECT energy_received - energy_paid FROM nodes WHERE name='$name'")" "$net" \
        "energy money of $name"
done < <(q 'SELECT name, pubkey, balance + reserved FROM nodes')
sg_assert_eq "$(q 'SELECT SUM(energy_received - energy_paid) FROM nodes')" 0 "energy money across nodes"
sg_log "balances match the ledger; $(q "SELECT COUNT(*) FROM ($BEST_TRADES)") best-chain fills"
sg_log "run to --duration: pass"

# ---- 2: SIGINT mid-run ------------------------------------------------------
RUN=$SG_T/run2
DB=$RUN/run.db
start_launcher "$RUN" --duration 0
seen=0
five_stored() {
    kill -0 "$LPID" 2>/dev/null || { cat "$RUN.out"; sg_fail "launcher died"; }
    [[ -s "$DB" ]] && seen=$(q "SELECT COUNT(*) FROM blocks WHERE height>0" 2>/dev/null || echo 0)
    [[ "${seen:-0}" -ge 5 ]]
}
sg_wait_for 120 "5 blocks stored" five_stored
# `status` prints the table once: a row per daemon, all answering (asked
# again while one is too busy to answer within its 5 s: a loaded machine).
status_all() {
    "$LAUNCHER" status --run "$RUN" >"$SG_T/status" 2>&1 &&
        grep -q "$NODES of $NODES daemons answering" "$SG_T/status"
}
sg_wait_for 60 "status: $NODES of $NODES daemons answering" status_all
for n in op p1 p2 c1 c2; do grep -Eq "^$n +(operator|prosumer|consumer) +[0-9]+" "$SG_T/status" ||
    sg_fail "status lacks a row for $n: $(cat "$SG_T/status")"; done
# `attach` follows a node's log live through the control channel: a line
# comes when p1 next logs, which a loaded machine may delay.
timeout 120 "$LAUNCHER" attach p1 --run "$RUN" --level info >"$SG_T/attach" 2>&1 &
apid=$!
SG_PID[attach]=$apid
sg_wait_for 110 "attach printing a p1 log line" grep -q ' INFO p1: ' "$SG_T/attach"
kill "$apid" 2>/dev/null; wait "$apid" 2>/dev/null; unset "SG_PID[attach]"
timeout 3 "$LAUNCHER" attach p1 --run "$RUN" --level error >"$SG_T/attach" 2>&1
grep -q ' INFO ' "$SG_T/attach" && sg_fail "attach --level error printed INFO lines"
"$LAUNCHER" attach nosuch --run "$RUN" >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || sg_fail "attach to an unknown node exited $rc, expected 2"
# A daemon that dies is reported and restarted (counted).
p1pid=""
for p in $(sg_our_daemons "$SG_T"); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--name p1 " && p1pid=$p
done
[[ -n "$p1pid" ]] || sg_fail "cannot find p1's process"
kill -KILL "$p1pid"
for _ in $(seq 1 300); do
    [[ $(sg_our_daemons "$SG_T" | wc -l) -ge $NODES ]] && ! kill -0 "$p1pid" 2>/dev/null && break
    sleep 0.2
done
[[ $(sg_our_daemons "$SG_T" | wc -l) -ge $NODES ]] || sg_fail "p1 was not restarted: $(cat "$RUN.out")"
grep -q "p1 died (signal 9); restart 1" "$RUN.out" || sg_fail "no restart report: $(cat "$RUN.out")"
# Descriptors: every daemon, the restarted one too, holds only its own.
nfd=0
for p in $(sg_our_daemons "$SG_T"); do
    n=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n '/^--name$/{n;p;q}')
    [[ -n "$n" ]] || continue
    sg_check_fds "$p" "$n" "$RUN" /dev/null
    nfd=$((nfd + 1))
done
[[ $nfd -ge $NODES ]] || sg_fail "descriptors checked in only $nfd daemons"
sg_log "descriptors: $nfd daemons hold 0-2 and their own files only"
kill -INT "$LPID"
wait_exit 180
[[ $LRC -eq 0 ]] || { tail -n 20 "$RUN.out"; sg_fail "launcher exited $LRC after SIGINT"; }
wait_no_daemons 30
sg_assert_eq "$(q 'SELECT COUNT(*) FROM runs WHERE ended_at_s > 0')" 1 "runs row closed after SIGINT"
# The summary counts every restart the run reported: the one above, and any
# other a loaded machine caused (each is reported as "... died ...; restart N").
n_restarts=$(sed -n 's/.*settled, \([0-9]*\) restarts.*/\1/p' "$RUN.out" | tail -n 1)
n_reported=$(grep -ac "died .*; restart [0-9]" "$RUN.out")
[[ -n "$n_restarts" && $n_restarts -ge 1 && $n_restarts -eq $n_reported ]] ||
    sg_fail "summary counts ${n_restarts:-no} restarts, the run reported $n_reported: $(grep -a -e "restarts" -e "died" "$RUN.out" | tail -n 5)"
after=$(q "SELECT COUNT(*) FROM blocks WHERE height>0")
[[ "$after" -ge "$seen" ]] || sg_fail "blocks went from $seen to $after"
best=$(q "SELECT MAX(height) FROM blocks WHERE stale=0")
sg_assert_eq "$(q 'SELECT COUNT(*) FROM blocks WHERE stale=0')" "$((best + 1))" "best-chain blocks after SIGINT"
sg_assert_eq "$(q 'SELECT COUNT(*) FROM nodes')" "$NODES" "nodes rows after SIGINT"
# The final view of every node reached the database before the exit.
sg_assert_eq "$(q "SELECT COUNT(*) FROM nodes n WHERE NOT EXISTS
                   (SELECT 1 FROM blocks b WHERE b.height=n.height)")" 0 "node heights without a stored block"
sg_log "SIGINT: pass"

# ---- 3: the launcher killed outright ----------------------------------------
RUN=$SG_T/run3
DB=$RUN/run.db
start_launcher "$RUN" --duration 0
for _ in $(seq 1 600); do
    [[ $(sg_our_daemons "$SG_T" | wc -l) -ge $NODES ]] && break
    sleep 0.2
done
[[ $(sg_our_daemons "$SG_T" | wc -l) -ge $NODES ]] || sg_fail "daemons did not start"
sleep 1
kill -KILL "$LPID"
wait "$LPID" 2>/dev/null
unset "SG_PID[launcher]"
wait_no_daemons 60
sg_log "launcher killed: daemons gone; pass"
