#!/usr/bin/env bash
# `launcher --hosts` over three network namespaces joined by a bridge, the
# remote shell being `ip netns exec {host}`: the daemons listen on their
# namespace's address only, peer across namespaces, and the launcher (in the
# root namespace, with an address on the bridge) reaches every one over the
# control channel.  Checked: every node converges on one tip, rows reach the
# database, the ledger invariants hold; a partition (one namespace's link
# down for at least 30 s, until both sides mined apart) heals onto the
# most-work tip with the stale blocks flagged; a daemon killed with -9 is
# restarted and rejoins.  The run has no --duration: it ends on SIGINT once
# every step is done (a fixed duration could end it mid-step on a loaded
# machine), settling the same way.  Needs root and `ip netns`; otherwise
# skipped (exit 77).
# Every namespace, link and process made here is removed, on failure too.
. "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || sg_skip "needs root to create network namespaces"
command -v ip >/dev/null || sg_skip "ip (iproute2) not installed"
command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
sg_setup
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher

TAG=$$
. "$(dirname "$0")/lib_netns.sh"
# sg_cleanup reads the exit status from $?: hand it on past netns_cleanup.
trap 'rc=$?; netns_cleanup; (exit $rc); sg_cleanup' EXIT
netns_setup sgh 10.231 3

# ---- errors name the host ---------------------------------------------------
echo "nosuchns$TAG $NET.99" >"$SG_T/badhosts"
"$LAUNCHER" --hosts "$SG_T/badhosts" --remote-shell 'ip netns exec {host}' --quiet \
    --run-dir "$SG_T/bad" --duration 5 >"$SG_T/bad.out" 2>&1
rc=$?
sg_assert_eq "$rc" 2 "exit status with an unreachable host"
grep -q "host nosuchns$TAG is unreachable" "$SG_T/bad.out" || sg_fail "no host in: $(cat "$SG_T/bad.out")"
"$LAUNCHER" --hosts "$HOSTS" --remote-shell 'ip netns exec {host}' --quiet --bin-dir /nonexist \
    --run-dir "$SG_T/bad2" >"$SG_T/bad2.out" 2>&1
[[ $? -eq 2 ]] || sg_fail "a missing --bin-dir was accepted"

# ---- the run -----------------------------------------------------------------
RUN=$SG_T/run
DB=$RUN/run.db
q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }
NODES=6   # op, p1..p3, c1..c2: two per namespace
"$LAUNCHER" --hosts "$HOSTS" --remote-shell 'ip netns exec {host}' --prosumers 3 --consumers 2 --block-interval 0 \
    --difficulty 6 --duration 0 --seed 77 --quiet --run-dir "$RUN" --base-port 30300 \
    >"$RUN.out" 2>&1 &
LPID=$!
T0=$(date +%s)

# name -> address:port from nodes.tsv (fifth column: the host address).
declare -A ADDR=() NS_OF=()
sg_wait_for 30 "nodes.tsv" test -s "$RUN/nodes.tsv"
while read -r name _ port _ addr; do
    ADDR[$name]="$addr:$port"
    NS_OF[$name]=${NSS[$(( ${addr##*.} - 2 ))]}
done <"$RUN/nodes.tsv"
sg_assert_eq "${#ADDR[@]}" "$NODES" "nodes in nodes.tsv"
for i in 0 1 2; do
    c=$(grep -c "$NET.$((i + 2))\$" "$RUN/nodes.tsv")
    sg_assert_eq "$c" 2 "daemons on ${NSS[$i]}"
done
[[ "${ADDR[op]}" == "$NET.2:"* ]] || sg_fail "the operator is not on the first host: ${ADDR[op]}"

stat_of() {  # NAME KEY
    "$SGNODE" ctl --connect "${ADDR[$1]}" --cluster-key "$RUN/cluster.key" \
        --genesis "$RUN/genesis.txt" --timeout-ms 3000 stats 2>/dev/null | sed -n "s/^$2=//p"
}
all_at_least() {  # HEIGHT
    local n h
    for n in "${!ADDR[@]}"; do
        h=$(stat_of "$n" height); [[ -n "$h" && "$h" -ge $1 ]] || return 1
    done
}
# The daemon listens on its namespace address only: not on the root's loopback.
op_port=${ADDR[op]##*:}
(exec 3<>"/dev/tcp/127.0.0.1/$op_port") 2>/dev/null && sg_fail "a daemon is reachable on 127.0.0.1"
sg_wait_for 300 "every node at height 3" all_at_least 3
sg_log "all $NODES nodes past height 3 after $(( $(date +%s) - T0 )) s"
kill -0 "$LPID" 2>/dev/null || sg_fail "launcher died: $(tail -n 5 "$RUN.out")"

# ---- partition: the third namespace's link down for 30 s or more -----------
CUT=${NSS[2]}
cut_nodes=() main_nodes=()
for n in "${!ADDR[@]}"; do
    if [[ ${NS_OF[$n]} == "$CUT" ]]; then cut_nodes+=("$n"); else main_nodes+=("$n"); fi
done
cut_stat() {  # KEY, from a cut node, read inside the cut namespace
    ip netns exec "$CUT" "$SGNODE" ctl --connect "${ADDR[${cut_nodes[0]}]}" \
        --cluster-key "$RUN/cluster.key" --genesis "$RUN/genesis.txt" --timeout-ms 3000 stats \
        2>/dev/null | sed -n "s/^$1=//p"
}
CUT_H0=$(stat_of "${cut_nodes[0]}" height)
MAIN_H0=$(stat_of "${main_nodes[0]}" height)
[[ -n "$CUT_H0" && -n "$MAIN_H0" ]] || sg_fail "no heights before the partition"
ip -n "$CUT" link set "${NETNS_VETH[2]}" down || sg_fail "cannot take $CUT's link down"
sg_log "partition: ${cut_nodes[*]} cut off at heights $CUT_H0 / $MAIN_H0"
sleep 30
# Both sides mined apart: each side's height passed where it stood at the
# cut, and their tips differ.  Waited for, not assumed after the 30 s: a
# loaded machine mines slower.
apart() {
    local ch mh
    ch=$(cut_stat height); mh=$(stat_of "${main_nodes[0]}" height)
    [[ -n "$ch" && -n "$mh" && "$ch" -gt "$CUT_H0" && "$mh" -gt "$MAIN_H0" ]] || return 1
    cut_tip=$(cut_stat tip); main_tip=$(stat_of "${main_nodes[0]}" tip)
    [[ -n "$cut_tip" && -n "$main_tip" && "$cut_tip" != "$main_tip" ]]
}
sg_wait_for 240 "both sides mining apart during the partition" apart
ip -n "$CUT" link set "${NETNS_VETH[2]}" up || sg_fail "cannot bring $CUT's link back"
sg_log "partition healed"
# One tip everywhere (sampled while mining goes on, so retried), past the
# cut side's tip: the heavier branch won on both sides.
one_tip() {
    local n t first= h
    for n in "${!ADDR[@]}"; do
        t=$(stat_of "$n" tip); [[ -n "$t" ]] || return 1
        [[ -z "$first" ]] && first=$t
        [[ "$t" == "$first" ]] || return 1
    done
    h=$(stat_of op height)
    [[ "$h" -gt "$HEAL_H" ]]
}
HEAL_H=0
for n in "${!ADDR[@]}"; do
    h=$(stat_of "$n" height); [[ -n "$h" && "$h" -gt $HEAL_H ]] && HEAL_H=$h
done
sg_wait_for 180 "one tip on every node after the partition" one_tip
sg_log "one tip after the partition (height > $HEAL_H)"

# ---- kill -9 of a daemon in the second namespace; the launcher restarts it -
VICTIM=
for n in "${!ADDR[@]}"; do [[ ${NS_OF[$n]} == "${NSS[1]}" ]] && { VICTIM=$n; break; }; done
vpid=
for p in $(ip netns pids "${NSS[1]}"); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--name $VICTIM " && vpid=$p
done
[[ -n "$vpid" ]] || sg_fail "no process for $VICTIM in ${NSS[1]}"
kill -KILL "$vpid"
sg_log "killed $VICTIM (pid $vpid) with -9"
sg_wait_for 60 "$VICTIM restarted" grep -q "$VICTIM on host ${NSS[1]} died (signal 9); restart" "$RUN.out"
KILL_H=$(stat_of op height)
back() { local h; h=$(stat_of "$VICTIM" height); [[ -n "$h" && "$h" -gt "$KILL_H" ]]; }
sg_wait_for 180 "$VICTIM back past height $KILL_H" back
HEAL_H=$KILL_H
sg_wait_for 180 "one tip after the restart" one_tip
sg_log "$VICTIM rejoined"

# ---- the end of the run: one interrupt, settling as at a --duration end ---
kill -INT "$LPID"
for _ in $(seq 1 480); do
    kill -0 "$LPID" 2>/dev/null || break
    sleep 0.5
done
kill -0 "$LPID" 2>/dev/null && sg_fail "launcher still running 240 s after SIGINT: $(tail -n 5 "$RUN.out")"
wait "$LPID"; LRC=$?; LPID=
[[ $LRC -eq 0 ]] || { tail -n 20 "$RUN.out"; sg_fail "launcher exited $LRC"; }
nothing_left() {
    local ns
    for ns in "${NSS[@]}"; do [[ -z "$(ip netns pids "$ns")" ]] || return 1; done
}
sg_wait_for 30 "no process left in ${NSS[*]} after the launcher stopped" nothing_left

best=$(q "SELECT MAX(height) FROM blocks WHERE stale=0")
stale=$(q "SELECT COUNT(*) FROM blocks WHERE stale=1")
sg_log "best height $best, $stale stale blocks"
[[ "$best" -ge 5 ]] || sg_fail "best height only $best"
[[ "$stale" -ge 1 ]] || sg_fail "the partition left no stale block flagged"
sg_assert_eq "$(q 'SELECT COUNT(*) FROM nodes')" "$NODES" "nodes rows"
sg_assert_eq "$(q "SELECT COUNT(*) FROM nodes WHERE host LIKE '$NET.%'")" "$NODES" "nodes rows with their host address"
sg_assert_eq "$(q 'SELECT hosts FROM runs')" 3 "runs.hosts"
# Every node, the restarted one too, ended on the best tip.
sg_assert_eq "$(q "SELECT COUNT(*) FROM nodes WHERE height=$best")" "$NODES" "nodes at the best height"
sg_assert_eq "$(q 'SELECT COUNT(*) FROM blocks WHERE stale=0')" "$((best + 1))" "best-chain blocks"
sg_assert_eq "$(q 'SELECT COUNT(*) FROM blocks b WHERE stale=0 AND height>0 AND NOT EXISTS
                   (SELECT 1 FROM blocks p WHERE p.hash=b.prev_hash AND p.stale=0 AND p.height=b.height-1)')" 0 "unlinked best blocks"
sg_assert_eq "$(q "SELECT COUNT(*) FROM transactions WHERE kind='coinbase' AND block_hash<>''")" "$best" "coinbases on the best chain"
# Transactions of the losing branch go back to mempools (check_chain tests
# that); whether one is mined again depends on timing: an order lapses once
# its interval is settled, and on a loaded machine the cut-off side can take
# longer to reorganise than an interval lasts.  What must hold every time:
# nothing the best chain could still take was lost.  Every transaction left
# outside it is an order of an interval settled there, or its sender's nonce
# was used there by another transaction.
stale_txs=$(q "SELECT COALESCE(SUM(n_txs - 1), 0) FROM blocks WHERE stale=1")
outside=$(q "SELECT COUNT(*) FROM transactions WHERE block_hash='' AND kind<>'coinbase'")
lost=$(q "SELECT kind || ' interval ' || interval_no || ' nonce ' || nonce FROM transactions t
          WHERE block_hash='' AND kind<>'coinbase'
            AND NOT (kind IN ('offer', 'bid') AND interval_no <=
                     (SELECT MAX(interval_no) FROM market_intervals WHERE block_hash<>''))
            AND NOT EXISTS (SELECT 1 FROM transactions u WHERE u.from_pk=t.from_pk
                            AND u.nonce=t.nonce AND u.block_hash<>'')")
sg_log "stale blocks held $stale_txs transactions; $outside transactions never made the best chain"
[[ "$stale_txs" -gt 0 ]] || sg_fail "the stale blocks held no transaction"
[[ -z "$lost" ]] || sg_fail "transactions the best chain could still take were lost: $(tr '\n' ';' <<<"$lost")"
[[ "$(q "SELECT COUNT(*) FROM transactions WHERE kind='settlement' AND block_hash<>''")" -gt 0 ]] ||
    sg_fail "no settlement on the best chain"
# Money supply: allocations plus best-chain rewards.
reward=$(sed -n 's/^block_reward //p' "$RUN/genesis.txt")
total_alloc=$(awk '/^alloc /{s+=$3} END{print s}' "$RUN/genesis.txt")
sg_assert_eq "$(q 'SELECT SUM(balance + reserved) FROM nodes')" "$((total_alloc + reward * best))" "money supply"
sg_log "hosts over netns: pass"
