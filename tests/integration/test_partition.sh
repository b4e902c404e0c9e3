#!/usr/bin/env bash
# Two halves, A1-A3 and B1-B3, joined only through a bridge node X.  X is
# stopped, the halves mine apart, X starts again: every node ends on the
# most-work tip with an identical ledger state.
#
# Topology: A2 and A3 know only A1, B2 and B3 only B1, and A1 and B1 only X;
# --no-discover keeps it exactly that (addresses learned by gossip are not
# dialed), so the halves cannot find each other around the bridge.
. "$(dirname "$0")/lib.sh"
sg_setup

A=(A1 A2 A3); B=(B1 B2 B3); all=(X "${A[@]}" "${B[@]}")
sg_cluster "${SG_DIFFICULTY:-6}" "${A[@]}" "${B[@]}"
sg_start X operator --no-discover
sg_start A1 prosumer --peer "$(sg_addr X)" --no-discover
sg_start B1 prosumer --peer "$(sg_addr X)" --no-discover
sg_start A2 consumer --peer "$(sg_addr A1)" --no-discover
sg_start A3 consumer --peer "$(sg_addr A1)" --no-discover
sg_start B2 consumer --peer "$(sg_addr B1)" --no-discover
sg_start B3 consumer --peer "$(sg_addr B1)" --no-discover

sg_wait_for 60 "both hubs have their links" sg_all_peers_ge 3 A1 B1
sg_wait_for 300 "a common chain of height >= 3" sg_all_height_ge 3 "${all[@]}"
sg_assert_eq "$(sg_stat X peers)" 2 "the bridge's peers (only A1 and B1)"

sg_stop X
split=$(sg_stat A1 height)
sg_log "bridge stopped at height ~$split; the halves mine apart"
sg_wait_for 60 "A1 loses the bridge" eval '[[ "$(sg_stat A1 peers)" == 2 ]]'
sg_wait_for 300 "both halves mine 3 blocks on their own" \
    sg_all_height_ge $((split + 3)) "${A[@]}" "${B[@]}"

# Half A stops first; half B mines on until it clearly has more work.
sg_stop_mining "${A[@]}"
sg_wait_for 30 "half A idle" sg_all_idle "${A[@]}"
sg_wait_for 30 "half A agrees" sg_same_tip "${A[@]}"
tip_a=$SG_TIP; height_a=$(sg_stat A1 height)
sg_wait_for 300 "half B passes height $((height_a + 1))" \
    sg_all_height_ge $((height_a + 2)) "${B[@]}"
sg_stop_mining "${B[@]}"
sg_wait_for 30 "half B idle" sg_all_idle "${B[@]}"
sg_wait_for 30 "half B agrees" sg_same_tip "${B[@]}"
tip_b=$SG_TIP
[[ "$tip_a" != "$tip_b" ]] || sg_fail "the halves did not diverge"
sg_log "half A at $height_a ($tip_a), half B at $(sg_stat B1 height) ($tip_b)"

sg_start X operator --no-mine --no-discover
sg_wait_for 180 "all seven nodes on half B's tip" \
    eval 'sg_same_tip "${all[@]}" && [[ "$SG_TIP" == "$tip_b" ]]'
state=$(sg_stat X state_hash)
[[ -n "$state" ]] || sg_fail "no state_hash from X"
for n in "${all[@]}"; do
    sg_assert_eq "$(sg_stat "$n" state_hash)" "$state" "ledger state digest of $n"
done
for n in "${A[@]}"; do
    [[ "$(sg_stat "$n" reorg_blocks)" -gt 0 ]] || sg_fail "$n did not reorganise"
done
for n in "${all[@]}"; do sg_stop "$n"; done
sg_log "pass"
