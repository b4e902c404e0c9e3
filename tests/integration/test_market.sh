#!/usr/bin/env bash
# The energy market across processes: the operator, two prosumers and two
# consumers mine one chain while the households sign an order each market
# interval and the operator settles finished intervals.  Passes when
# settlements were mined (the last settled interval advances on every node),
# energy really traded peer to peer (a prosumer sold and a consumer bought,
# as recorded by the ledger, i.e. in blocks), and every node reports the
# same tip and ledger state once mining stops.
. "$(dirname "$0")/lib.sh"
sg_setup

DIFF=${SG_DIFFICULTY:-6}
TICK_MS=${SG_TICK_MS:-1000}
# 2024-06-21 11:00 UTC: daylight for the whole run; seed 2 makes that day
# sunny, so the prosumers have a surplus to offer.
START=1718967600
SEED=2
households=(p1 p2 c1 c2)
all=(op "${households[@]}")

mkdir -p "$SG_T/keys"
"$SGNODE" cluster-key --out "$SG_T/cluster.key" || sg_fail "cluster-key failed"
SG_OPERATOR_PK=$("$SGNODE" keygen --out "$SG_T/keys/operator.key") || sg_fail "keygen failed"
# The grid (the operator's account) pays feed-in for unsold surplus, so it
# starts funded too.
allocs=(--alloc "$SG_OPERATOR_PK=1000000000")
for n in "${households[@]}"; do
    pk=$("$SGNODE" keygen --out "$SG_T/keys/$n.key") || sg_fail "keygen $n failed"
    # 1000 coins: far more than bids can reserve in this run.
    allocs+=(--alloc "$pk=1000000000")
done
"$SGNODE" genesis --out "$SG_T/genesis.txt" --operator-key "$SG_OPERATOR_PK" \
    --difficulty "$DIFF" --block-interval 0 --tick-ms "$TICK_MS" --interval-minutes 15 --start-time "$START" \
    --market uniform --retail-price 300000 --feed-in-price 80000 --seed "$SEED" \
    "${allocs[@]}" || sg_fail "genesis failed"
grep -q "^tick_ms $TICK_MS\$" "$SG_T/genesis.txt" || sg_fail "genesis lacks tick_ms $TICK_MS"

# p2 and c2 follow profiles (Wh per 15-minute slot, as exported with a
# header and timestamps); with 15-minute intervals each interval gets
# exactly one slot's value.
printf 'time,wh\n00:00,1500\n' >"$SG_T/pv.csv"
printf '# flat load\n400\n' >"$SG_T/load.csv"

sg_start op operator
sg_start p1 prosumer --peer "$(sg_addr op)" --battery-kwh 5
sg_start p2 prosumer --peer "$(sg_addr op)" --pv-profile "$SG_T/pv.csv"
sg_start c1 consumer --peer "$(sg_addr op)" --peer "$(sg_addr p1)"
sg_start c2 consumer --peer "$(sg_addr op)" --peer "$(sg_addr p2)" --load-profile "$SG_T/load.csv"
sg_log "started ${#all[@]} daemons at difficulty $DIFF, tick $TICK_MS ms"

sg_wait_for 120 "every daemon has a peer" sg_all_peers_ge 1 "${all[@]}"

# Settlements published by the operator and mined into the common chain.
mined_ge() { local v; v=$(sg_stat op settlements_mined); [[ -n "$v" && "$v" -ge "$1" ]]; }
sg_wait_for 240 "10 settlements mined" mined_ge 10
first=$(sg_stat op last_settled_interval)
sg_wait_for 240 "the settled interval passes $first" \
    eval '[[ "$(sg_stat op last_settled_interval)" -gt "$first" ]]'

# Energy traded peer to peer, seen in the ledger of the chain.
stat_sum_gt0() {
    local key=$1 n v sum=0; shift
    for n in "$@"; do v=$(sg_stat "$n" "$key"); sum=$((sum + ${v:-0})); done
    [[ $sum -gt 0 ]]
}
sg_wait_for 240 "a prosumer sold energy" stat_sum_gt0 sold_wh p1 p2
sg_wait_for 240 "a consumer bought energy" stat_sum_gt0 bought_wh c1 c2
sg_wait_for 240 "a mined settlement traded energy" stat_sum_gt0 total_traded_wh op
for n in "${households[@]}"; do
    [[ "$(sg_stat "$n" orders_submitted)" -gt 0 ]] || sg_fail "$n submitted no order"
    [[ "$(sg_stat "$n" consumed_wh)" -gt 0 ]] || sg_fail "$n reports no consumption"
done
[[ "$(sg_stat p1 produced_wh)" -gt 0 ]] || sg_fail "p1 reports no PV output"
[[ "$(sg_stat c1 produced_wh)" == 0 ]] || sg_fail "consumer c1 reports PV output"
pv=$(sg_stat p2 produced_wh); load=$(sg_stat c2 consumed_wh)
[[ $pv -gt 0 && $((pv % 1500)) -eq 0 ]] || sg_fail "p2 produced $pv Wh, not whole 1500 Wh slots"
[[ $load -gt 0 && $((load % 400)) -eq 0 ]] || sg_fail "c2 consumed $load Wh, not whole 400 Wh slots"
sg_log "op: $(sg_stats op | grep -E '^(last_settled_interval|settlements_|total_traded_wh|clearing_price)' | tr '\n' ' ')"

# Stop mining in two steps (see test_converge.sh): the households stop,
# the operator alone extends the chain past every height seen, then stops.
sg_stop_mining "${households[@]}"
sg_wait_for 30 "household miners idle" sg_all_idle "${households[@]}"
top=0
for n in "${all[@]}"; do h=$(sg_stat "$n" height); [[ ${h:-0} -gt $top ]] && top=$h; done
sg_wait_for 300 "the operator passes height $top" sg_all_height_ge $((top + 1)) op
sg_stop_mining op
sg_wait_for 30 "operator idle" sg_all_idle op
sg_wait_for 60 "one tip on all daemons" sg_same_tip "${all[@]}"

same_state() {
    local n h first=""
    for n in "${all[@]}"; do
        h=$(sg_stat "$n" state_hash)
        [[ -n "$h" ]] || return 1
        if [[ -z "$first" ]]; then first=$h; elif [[ "$h" != "$first" ]]; then return 1; fi
    done
}
sg_wait_for 30 "one ledger state on all daemons" same_state
settled=$(sg_stat op last_settled_interval)
for n in "${households[@]}"; do
    sg_assert_eq "$(sg_stat "$n" last_settled_interval)" "$settled" "$n last_settled_interval"
done
sg_log "converged on $SG_TIP at height $(sg_stat op height), interval $settled settled"
for n in "${all[@]}"; do sg_stop "$n"; done
sg_log "pass"
