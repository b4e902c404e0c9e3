#!/usr/bin/env bash
# Ten daemons (the operator and nine nodes), each given one bootstrap peer,
# mine together; once mining stops every node reports the same tip within
# a bound.
. "$(dirname "$0")/lib.sh"
sg_setup

DIFF=${SG_DIFFICULTY:-6}
nodes=(n1 n2 n3 n4 n5 n6 n7 n8 n9)
all=(op "${nodes[@]}")
sg_cluster "$DIFF" "${nodes[@]}"

sg_start op operator
prev=op
i=0
for n in "${nodes[@]}"; do
    # A tree: node i knows only node (i-1)/2, so most links come from
    # address gossip.
    role=prosumer; (( i % 2 )) && role=consumer
    boot=${all[$(( i / 2 ))]}
    sg_start "$n" "$role" --peer "$(sg_addr "$boot")"
    i=$((i + 1))
done
sg_log "started ${#all[@]} daemons at difficulty $DIFF"

sg_wait_for 120 "every daemon has a peer" sg_all_peers_ge 1 "${all[@]}"
sg_wait_for 300 "every daemon at height >= 8" sg_all_height_ge 8 "${all[@]}"
# Mining stops in two steps: a tie between two blocks found at once would
# otherwise stand for ever (ties keep the first seen), so one miner, the
# operator, goes on alone until it has extended the chain past every height
# seen when the others stopped.
sg_log "height 8 reached everywhere; stopping all miners but the operator"
sg_stop_mining "${nodes[@]}"
sg_wait_for 30 "nine miners idle" sg_all_idle "${nodes[@]}"
top=0
for n in "${all[@]}"; do h=$(sg_stat "$n" height); [[ ${h:-0} -gt $top ]] && top=$h; done
sg_wait_for 300 "the operator passes height $top" sg_all_height_ge $((top + 1)) op
sg_stop_mining op
sg_wait_for 30 "operator idle" sg_all_idle op
sg_wait_for 60 "one tip on all ten daemons" sg_same_tip "${all[@]}"
sg_log "converged on $SG_TIP at height $(sg_stat op height)"

# Blocks mined by several nodes made it into the common chain.
miners=0
for n in "${all[@]}"; do
    [[ "$(sg_stat "$n" blocks_mined)" -gt 0 ]] && miners=$((miners + 1))
done
[[ $miners -ge 2 ]] || sg_fail "only $miners daemon(s) mined a block"
for n in "${all[@]}"; do sg_stop "$n"; done
sg_log "pass"
