#!/usr/bin/env bash
# A small version of the scale benchmark (scripts/bench_net.sh scale): 30
# daemons started by the launcher as a user would (15 prosumers, 14
# consumers, every option at its default but the run directory and a free
# base port) for 60 s, then asserted from the run's database and process
# table: every node connected (a stats sample with a peer), no daemon
# restarted, every node on the best height at the end (and the launcher saw
# one tip), every market interval with orders on the best chain that was
# due settled, and no daemon left running.  No timing is asserted: figures
# belong to `make bench`.
. "$(dirname "$0")/lib.sh"
sg_setup

command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
PROSUMERS=15 CONSUMERS=14
NODES=$((1 + PROSUMERS + CONSUMERS))

trap 'rc=$?; sg_kill_ours "$SG_T"; (exit $rc); sg_cleanup' EXIT

RUN=$SG_T/run
DB=$RUN/run.db
q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }


started=0
for _ in 1 2 3 4 5; do
    sg_pick_base "$NODES" || sg_fail "no free port range"
    "$LAUNCHER" --prosumers "$PROSUMERS" --consumers "$CONSUMERS" --duration 60 --quiet \
        --base-port "$BASE" --run-dir "$RUN" <&- >"$RUN.out" 2>&1 &
    LPID=$!
    SG_PID[launcher]=$LPID
    launcher_settled() { [[ -e "$RUN" ]] || ! kill -0 "$LPID" 2>/dev/null; }
    sg_wait_for 60 "the launcher past its port check" launcher_settled
    [[ -e "$RUN" ]] && { started=1; break; }
    wait "$LPID"; rc=$?
    unset "SG_PID[launcher]"
    [[ $rc -eq 2 ]] && grep -q "in use" "$RUN.out" && continue
    cat "$RUN.out"
    sg_fail "launcher exited $rc at start"
done
[[ $started -eq 1 ]] || sg_fail "no usable port range after 5 tries"

launcher_gone() { ! kill -0 "$LPID" 2>/dev/null; }
sg_wait_for 540 "the launcher to finish its 60 s run" launcher_gone
wait "$LPID"; LRC=$?
unset "SG_PID[launcher]"
[[ $LRC -eq 0 ]] || { tail -n 20 "$RUN.out"; sg_fail "launcher exited $LRC"; }

# Nothing left running: the launcher reaps every daemon before it exits.
left=$(sg_our_daemons "$SG_T")
[[ -z "$left" ]] || sg_fail "daemons still running after the launcher exited: $left"

summary=$(grep '^run .* restarts' "$RUN.out") || sg_fail "no summary: $(tail -n 5 "$RUN.out")"
sg_log "$summary"
[[ "$summary" == *", 0 restarts"* ]] || sg_fail "daemons were restarted: $summary"
! grep -q " died " "$RUN.out" || sg_fail "a daemon died: $(grep -m1 ' died ' "$RUN.out")"

sg_assert_eq "$(q 'SELECT COUNT(*) FROM nodes')" "$NODES" "nodes rows"
# Every node connected: each has a stats sample with a peer.
unconnected=$(q "SELECT name FROM nodes WHERE name NOT IN
                 (SELECT node FROM node_stats WHERE peers >= 1)")
[[ -z "$unconnected" ]] || sg_fail "never connected: $(echo $unconnected)"

# One tip: the launcher compares every daemon's tip hash when it stops
# (it says so when they disagree), and every node's last height is the
# best chain's.
! grep -q "did not agree on one tip" "$RUN.out" || sg_fail "the daemons ended on different tips"
best=$(q "SELECT MAX(height) FROM blocks WHERE stale=0")
[[ "$best" -ge 5 ]] || sg_fail "best height only $best"
off=$(q "SELECT name || ':' || height FROM nodes WHERE height <> $best")
[[ -z "$off" ]] || sg_fail "nodes off the best height $best: $(echo $off)"

# Every interval due settled: each interval with orders on the best chain
# that a later block (3 s after its end and after its orders' block) could
# have settled.
due=$(sg_due_intervals_sql "$RUN")
n_due=$(q "SELECT COUNT(*) FROM ($due)")
[[ "$n_due" -gt 0 ]] || sg_fail "no market interval was due"
unsettled=$(q "SELECT interval_no FROM ($due) WHERE interval_no NOT IN
               (SELECT interval_no FROM market_intervals WHERE settled_ms IS NOT NULL)")
[[ -z "$unsettled" ]] || sg_fail "due intervals not settled: $(echo $unsettled) (of $n_due)"
sg_log "$NODES daemons: best height $best, $n_due intervals due, all settled"
sg_log "pass"
