#!/usr/bin/env bash
# Two daemons capped at very different hash rates (--hashrate 50k and 200k)
# mine one chain at a fixed, low difficulty: each reports a measured rate
# within 10 % above its cap, and the best chain's blocks are shared roughly
# as their measured rates are.  No operator runs, so nothing settles and
# each node's balance plus reservations grows by the block reward for each
# of its blocks on its best chain and nothing else.
. "$(dirname "$0")/lib.sh"
sg_setup

DIFF=4                      # 16^4 = 65536 hashes a block: ~4 blocks/s in all
SLOW=50000 FAST=200000
BLOCKS=${SG_HASHRATE_BLOCKS:-100}
sg_cluster "$DIFF" slow fast
reward=$(sed -n 's/^block_reward //p' "$SG_T/genesis.txt")
[[ -n "$reward" ]] || sg_fail "no block_reward in the genesis file"

sg_start slow consumer --hashrate 50k
sg_start fast consumer --hashrate 0.2M --peer "$(sg_addr slow)"
sg_wait_for 60 "the two daemons connected" sg_all_peers_ge 1 slow fast
sg_assert_eq "$(sg_stat slow hashrate_cap)" "$SLOW" "slow's hashrate_cap"
sg_assert_eq "$(sg_stat fast hashrate_cap)" "$FAST" "fast's hashrate_cap"

# Rates sampled while the chain grows (each a daemon's own 7-second
# average, so only samples after its first 8 s count).
declare -A sum=([slow]=0 [fast]=0) max=([slow]=0 [fast]=0)
samples=0
t0=$(date +%s)
sample_rates() {
    local n r
    [[ $(( $(date +%s) - t0 )) -ge 9 ]] || return 0
    for n in slow fast; do
        r=$(sg_stat "$n" hashrate)
        [[ -n "$r" ]] || return 0
        sum[$n]=$(( ${sum[$n]} + r ))
        [[ $r -gt ${max[$n]} ]] && max[$n]=$r
    done
    samples=$((samples + 1))
}
grown() { sample_rates; sg_all_height_ge "$BLOCKS" slow fast && [[ $samples -ge 3 ]]; }
sg_wait_for 600 "both daemons at height >= $BLOCKS" grown
sg_stop_mining slow fast
sg_wait_for 30 "both miners idle" sg_all_idle slow fast
sleep 1                     # the last blocks reach the other node

for n in slow fast; do
    cap=$SLOW; [[ $n == fast ]] && cap=$FAST
    avg=$(( ${sum[$n]} / samples ))
    sg_log "$n: cap $cap hashes/s, measured $avg on average, ${max[$n]} at most ($samples samples)"
    [[ ${max[$n]} -le $(( cap * 11 / 10 )) ]] ||
        sg_fail "$n reported ${max[$n]} hashes/s, over its cap $cap by more than 10 %"
    declare "rate_$n=$avg"
    bal=$(sg_stat "$n" balance) res=$(sg_stat "$n" reserved)
    declare "blocks_$n=$(( (bal + res - 1000000000) / reward ))"
done
height=$(sg_stat fast height)
total=$(( blocks_slow + blocks_fast ))
share=$(( 100 * blocks_fast / total ))
expect=$(( 100 * rate_fast / (rate_fast + rate_slow) ))
sg_log "height $height: slow mined $blocks_slow, fast $blocks_fast of the best chain" \
       "(fast: $share %, its share of the measured hash rate $expect %)"
# Each node's view may lack the other's last block or two.
[[ $total -ge $(( height - 3 )) && $total -le $(( height + 3 )) ]] ||
    sg_fail "$total blocks credited on a chain of height $height"
# About 100 blocks at a share near 80 %: one standard deviation is 4 points.
[[ $share -ge $(( expect - 15 )) && $share -le $(( expect + 15 )) ]] ||
    sg_fail "fast holds $share % of the best chain, its hash rate share is $expect %"
for n in slow fast; do sg_stop "$n"; done

# ---- the launcher: a default cap, per-node caps, all in the database -------
command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (the daemon part passed)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (the daemon part passed)"
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
RUN=$SG_T/run
rc=1
for try in 1 2 3 4 5; do
    # Three free ports below the ephemeral range; a port taken meanwhile
    # makes the launcher exit 2 at once, and another range is tried.
    base=$(( 20000 + RANDOM % 12000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$base") 2>/dev/null && continue
    rm -rf "$RUN"
    "$SG_T/bin/launcher" --prosumers 1 --consumers 1 --difficulty 5 --duration 12 --quiet \
        --base-port "$base" --run-dir "$RUN" --hashrate 100k --hashrate p1=0.3M \
        --hashrate c1=0 >"$SG_T/launcher.out" 2>&1 &
    SG_PID[launcher]=$!
    wait "${SG_PID[launcher]}"; rc=$?
    unset "SG_PID[launcher]"
    [[ $rc -eq 2 ]] && grep -q "in use" "$SG_T/launcher.out" && continue
    break
done
[[ $rc -eq 0 ]] || sg_fail "launcher exited $rc: $(tail -n 5 "$SG_T/launcher.out")"
q() { sqlite3 -cmd ".timeout 5000" "$RUN/run.db" "$1"; }
sg_assert_eq "$(q 'SELECT hashrate_cap FROM runs')" 100000 "runs.hashrate_cap"
sg_assert_eq "$(q "SELECT name || '=' || IFNULL(hashrate_cap, 'none') FROM nodes ORDER BY name" |
                tr '\n' ' ')" "c1=none op=100000 p1=300000 " "nodes.hashrate_cap"
grep -q "capped at 300000 hashes/s" "$RUN/logs/p1.log" || sg_fail "p1 was not given its cap"
grep -q "capped at" "$RUN/logs/c1.log" && sg_fail "c1 was capped"
grep -qF '"hashrate": 100000' "$RUN/run.json" || sg_fail "run.json lacks the default cap"
for nc in op:100000 p1:300000; do
    n=${nc%:*} cap=${nc#*:}
    top=$(q "SELECT MAX(hashrate) FROM node_stats WHERE node = '$n'")
    sg_log "launcher run: $n capped at $cap hashes/s, reported at most $top"
    [[ -n "$top" && $top -le $(( cap * 11 / 10 )) ]] || sg_fail "$n reported $top hashes/s, cap $cap"
done
sg_log "pass"
