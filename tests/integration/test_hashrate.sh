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
sg_log "pass"
