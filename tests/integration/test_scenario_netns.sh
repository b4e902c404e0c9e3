#!/usr/bin/env bash
# A scenario on `launcher --hosts` over three network namespaces (the remote
# shell `ip netns exec {host}`): the partition and heal work through the
# daemons' own control command, as on loopback, and signals to a daemon on
# another host are refused before anything starts.
#
# Derived from the run's database (node_stats rounds: all samples of one
# launcher tick share its t_ms; an event applied in a tick shows in that
# tick's round, the last stamped before the event's t_ms):
# - the cut: p2 (third namespace, with c2) has at most one peer (c2) in the
#   rounds from 3 s after the partition to the heal's round, and some round
#   in that span shows two or more distinct tips;
# - after heal every node agrees within 10 s: the first round after the
#   heal's t_ms in which all 6 nodes answered with one tip.
# Needs root and `ip netns`; otherwise skipped (exit 77).
. "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || sg_skip "needs root to create network namespaces"
command -v ip >/dev/null || sg_skip "ip (iproute2) not installed"
command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
sg_setup
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher

. "$(dirname "$0")/lib_netns.sh"
trap 'rc=$?; netns_cleanup; (exit $rc); sg_cleanup' EXIT
netns_setup sgs 10.232 3
NODES=6     # op, p1..p3, c1..c2: two per namespace
RUN=$SG_T/run
DB=$RUN/run.db
q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }
base=$(( 30400 + RANDOM % 1000 ))
run_args=(--hosts "$HOSTS" --remote-shell 'ip netns exec {host}' --prosumers 3 --consumers 2
          --quiet --base-port "$base")

# ---- a signal to a remote daemon is refused at validation ---------------------
printf 'at 5s kill p1\n' >"$SG_T/kill.txt"
"$LAUNCHER" "${run_args[@]}" --duration 30 --run-dir "$SG_T/bad" --scenario "$SG_T/kill.txt" \
    >"$SG_T/bad.out" 2>&1
sg_assert_eq "$?" 2 "exit status for kill on a remote host"
grep -q "line 1: kill p1 is not possible: p1 runs on another host" "$SG_T/bad.out" ||
    sg_fail "no clear refusal: $(cat "$SG_T/bad.out")"
[[ -e "$SG_T/bad" ]] && sg_fail "a run directory was made for a refused scenario"

# ---- partition the third namespace's daemons by control command ---------------
printf 'at 15s partition p2,c2 | *\nat 35s heal\n' >"$SG_T/scen.txt"
"$LAUNCHER" "${run_args[@]}" --duration 55 --seed 5 --run-dir "$RUN" --scenario "$SG_T/scen.txt" \
    >"$RUN.out" 2>&1 &
LPID=$!
wait "$LPID"; LRC=$?
LPID=
[[ $LRC -eq 0 ]] || { tail -n 30 "$RUN.out"; sg_fail "launcher exited $LRC"; }
# hosts_assign puts p2 and c2 on the third namespace: the partition above
# cuts that host off.
for n in p2 c2; do
    grep -q "^$n	.*	$NET.4\$" "$RUN/nodes.tsv" || sg_fail "$n is not on ${NSS[2]}: $(cat "$RUN/nodes.tsv")"
done

sg_assert_eq "$(q "SELECT group_concat(what || ':' || outcome, ' ') FROM
                   (SELECT what, outcome FROM events WHERE line > 0 ORDER BY seq)")" \
    "partition:ok heal:ok" "events"
T_PART=$(q "SELECT t_ms FROM events WHERE what='partition' AND line > 0")
T_HEAL=$(q "SELECT t_ms FROM events WHERE what='heal' AND line > 0")
R_HEAL=$(q "SELECT MAX(t_ms) FROM node_stats WHERE t_ms <= $T_HEAL")
sg_assert_eq "$(q "SELECT MAX(peers) <= 1 AND COUNT(*) > 0 FROM node_stats WHERE node='p2'
                   AND t_ms > $T_PART + 3000 AND t_ms < $R_HEAL")" 1 \
    "p2's peers during the partition ($(q "SELECT group_concat(peers, ' ') FROM node_stats
       WHERE node='p2' AND t_ms > $T_PART AND t_ms < $T_HEAL"))"
split=$(q "SELECT MAX(n) FROM (SELECT COUNT(DISTINCT tip) AS n FROM node_stats
           WHERE t_ms > $T_PART AND t_ms < $R_HEAL AND tip <> '' GROUP BY t_ms)")
[[ "$split" -ge 2 ]] || sg_fail "the tips never parted during the partition ($split)"
t=$(q "SELECT MIN(t_ms) FROM (SELECT t_ms FROM node_stats WHERE t_ms > $T_HEAL AND tip <> ''
       GROUP BY t_ms HAVING COUNT(*) = $NODES AND COUNT(DISTINCT tip) = 1)")
[[ -n "$t" ]] || sg_fail "the nodes never agreed on one tip after the heal"
sg_log "one tip $((t - T_HEAL)) ms after the heal (loaded host)"
[[ $((t - T_HEAL)) -le 10000 ]] || sg_fail "one tip only $((t - T_HEAL)) ms after the heal"
sg_log "partition and heal across namespaces verified from the database"
