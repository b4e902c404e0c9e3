#!/usr/bin/env bash
# A scenario run (launcher --scenario): kill, stop/cont (pause), partition
# and heal on loopback, every effect asserted from the run's database.
#
# How each assertion is derived (SQLite run.db):
# - events: one row per scenario line, applied in time order, outcome 'ok'.
# - node_stats holds one sample per node per launcher tick, all samples of
#   a tick stamped with the tick's start (t_ms), with the node's peer count
#   and best-block hash (tip).  A "round" is the samples of one t_ms.
# - The cut took effect: in a round between the partition (plus 3 s for the
#   links to close) and the heal's round, op (side {op,p1}) has at most one peer,
#   and some such round shows two or more distinct tips (either side mined
#   alone).
# - After heal every node agrees within 10 s (the issue's figure): the first
#   round stamped after the heal event in which all 5 nodes answered with
#   one tip is at most 10 000 ms after the heal's t_ms.  Every node is
#   polled within that round, so the figure is exact to one round.
# - kill: the killed node answers again later (samples after the kill from
#   a restarted daemon) and is back on the common tip.
# - stop/cont: the stopped node gives no sample between stop and cont, and
#   some round after cont has all 5 nodes on one tip.
# - launcher analyze prints the same recovery for the heal.
# A bad scenario is refused before anything starts: exit 2, one line naming
# the line and the fix, no run directory.
. "$(dirname "$0")/lib.sh"
sg_setup

command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
NODES=5

trap 'rc=$?; sg_kill_ours "$SG_T"; (exit $rc); sg_cleanup' EXIT

q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }


# ---- a bad line is refused before anything starts -------------------------------
printf 'at 5s kill c1\nat 10s partition op,p1\n' >"$SG_T/bad.txt"
sg_pick_base "$NODES" || sg_fail "no free port range"
"$LAUNCHER" --prosumers 2 --consumers 2 --quiet --base-port "$BASE" --duration 60 \
    --run-dir "$SG_T/badrun" --scenario "$SG_T/bad.txt" <&- >"$SG_T/bad.out" 2>&1
rc=$?
sg_assert_eq "$rc" 2 "exit status for a bad scenario"
grep -q "scenario $SG_T/bad.txt line 2: a partition needs at least two groups" "$SG_T/bad.out" ||
    sg_fail "no line-numbered error: $(cat "$SG_T/bad.out")"
sg_assert_eq "$(wc -l <"$SG_T/bad.out")" 1 "error lines"
[[ -e "$SG_T/badrun" ]] && sg_fail "a run directory was made for a bad scenario"

# ---- the run --------------------------------------------------------------------
cat >"$SG_T/scen.txt" <<'SCEN'
# kill, pause, partition and heal
at 5s   kill c1                  # SIGKILL; restarted by the launcher
at 10s  stop c2                  # SIGSTOP ...
at 16s  cont c2                  # ... SIGCONT
at 20s  partition op,p1 | *      # {op,p1} and {p2,c1,c2}
at 40s  heal
SCEN
RUN=$SG_T/run
DB=$RUN/run.db
for _ in 1 2 3 4 5; do
    sg_pick_base "$NODES" || sg_fail "no free port range"
    "$LAUNCHER" --prosumers 2 --consumers 2 --quiet --base-port "$BASE" --duration 60 \
        --seed 7 --run-dir "$RUN" --scenario "$SG_T/scen.txt" <&- >"$RUN.out" 2>&1 &
    LPID=$!
    SG_PID[launcher]=$LPID
    wait "$LPID"; LRC=$?
    unset "SG_PID[launcher]"
    [[ $LRC -eq 2 ]] && grep -q "in use" "$RUN.out" && continue
    break
done
[[ $LRC -eq 0 ]] || { tail -n 30 "$RUN.out"; sg_fail "launcher exited $LRC"; }
[[ -z "$(sg_our_daemons "$SG_T")" ]] || sg_fail "daemons left running"
cmp -s "$SG_T/scen.txt" "$RUN/scenario.txt" || sg_fail "the run directory lacks scenario.txt"
grep -qF "\"scenario\": \"$SG_T/scen.txt\"" "$RUN/run.json" || sg_fail "run.json lacks the scenario"

# Events, in order, each applied.
sg_assert_eq "$(q "SELECT group_concat(what || ' ' || target, '; ') FROM
                   (SELECT what, target FROM events WHERE line > 0 ORDER BY seq)")" \
    "kill c1; stop c2; cont c2; partition op,p1 | p2,c1,c2; heal *" "events"
sg_assert_eq "$(q "SELECT COUNT(*) FROM events WHERE line > 0 AND outcome <> 'ok'")" 0 \
    "events not applied: $(q "SELECT what, outcome FROM events WHERE outcome <> 'ok'")"
ev() { q "SELECT t_ms FROM events WHERE line > 0 AND what='$1' ORDER BY seq LIMIT 1"; }
T_KILL=$(ev kill); T_STOP=$(ev stop); T_CONT=$(ev cont); T_PART=$(ev partition); T_HEAL=$(ev heal)

# An event is applied inside a tick, before that tick polls the nodes, so
# the round stamped last before an event's t_ms already shows its effect:
# "before the event" means before that round.
round_of() { q "SELECT MAX(t_ms) FROM node_stats WHERE t_ms <= $1"; }
R_HEAL=$(round_of "$T_HEAL"); R_CONT=$(round_of "$T_CONT")

# Rounds after time T in which all 5 nodes answered with one tip.
agreed_after() {
    q "SELECT MIN(t_ms) FROM (SELECT t_ms FROM node_stats WHERE t_ms > $1 AND tip <> ''
       GROUP BY t_ms HAVING COUNT(*) = $NODES AND COUNT(DISTINCT tip) = 1)"
}

# The cut: op kept at most its one peer (p1), and the sides' tips parted.
sg_assert_eq "$(q "SELECT MAX(peers) <= 1 AND COUNT(*) > 0 FROM node_stats WHERE node='op'
                   AND t_ms > $T_PART + 3000 AND t_ms < $R_HEAL")" 1 \
    "op's peers during the partition ($(q "SELECT group_concat(peers, ' ') FROM node_stats
       WHERE node='op' AND t_ms > $T_PART AND t_ms < $T_HEAL"))"
split=$(q "SELECT MAX(n) FROM (SELECT COUNT(DISTINCT tip) AS n FROM node_stats
           WHERE t_ms > $T_PART AND t_ms < $T_HEAL AND tip <> '' GROUP BY t_ms)")
[[ "$split" -ge 2 ]] || sg_fail "the tips never parted during the partition ($split)"

# After heal every node agrees within 10 s.
t=$(agreed_after "$T_HEAL")
[[ -n "$t" ]] || sg_fail "the nodes never agreed on one tip after the heal"
heal_ms=$((t - T_HEAL))
sg_log "one tip ${heal_ms} ms after the heal (loaded host)"
[[ $heal_ms -le 10000 ]] || sg_fail "one tip only ${heal_ms} ms after the heal"
# Links back: op linked to more than p1 again.
sg_assert_eq "$(q "SELECT MAX(peers) > 1 FROM node_stats WHERE node='op' AND t_ms > $T_HEAL")" 1 \
    "op's peers after the heal"

# kill: c1 came back (a new daemon: restarts counted in the log) and agreed.
grep -q "c1 died (signal 9)" "$RUN.out" || sg_fail "no restart of c1: $(tail -n 5 "$RUN.out")"
[[ "$(q "SELECT COUNT(*) FROM node_stats WHERE node='c1' AND t_ms > $T_KILL")" -gt 0 ]] ||
    sg_fail "c1 never answered after the kill"
[[ -n "$(agreed_after "$T_KILL")" ]] || sg_fail "never one tip after the kill"

# stop/cont: no sample of c2 while stopped; one tip again after cont.
sg_assert_eq "$(q "SELECT COUNT(*) FROM node_stats WHERE node='c2' AND t_ms > $T_STOP
                   AND t_ms < $R_CONT")" 0 "c2 samples while stopped"
[[ -n "$(agreed_after "$T_CONT")" ]] || sg_fail "never one tip after cont"

# The report marks the events; analyze prints the heal's recovery.
grep -q 'id="chart-tips"' "$RUN/report.html" || sg_fail "no tips chart in the report"
[[ "$(grep -o 'class="event"' "$RUN/report.html" | wc -l)" -ge 5 ]] ||
    sg_fail "no event markers in the report"
"$LAUNCHER" analyze --run "$RUN" >"$SG_T/analyze.out" 2>&1 || sg_fail "analyze failed: $(cat "$SG_T/analyze.out")"
want=$(awk -v ms="$heal_ms" 'BEGIN { printf "%.1f", ms / 1000 }')
grep -Eq "^ +5 +40\.0 heal +\* +$want +(yes|no) +ok$" "$SG_T/analyze.out" ||
    sg_fail "analyze disagrees (heal after $want s): $(cat "$SG_T/analyze.out")"
sg_log "scenario effects verified from the database"
