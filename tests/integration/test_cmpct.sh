#!/usr/bin/env bash
# Compact block relay among real daemons (n1 - op - n2, no discovery): the
# operator's blocks reach the households as CMPCTBLOCK and are rebuilt from
# their mempools with no round trip; then a block holding transactions n1
# never saw (it was stopped with SIGSTOP while they reached the operator,
# and the block's announcement overtakes the transactions' in its socket)
# is rebuilt after one GETBLOCKTXN round trip.  Nobody misbehaves.
. "$(dirname "$0")/lib.sh"
sg_setup

DIFF=${SG_DIFFICULTY:-4}
households=(n1 n2)
mkdir -p "$SG_T/keys"
"$SGNODE" cluster-key --out "$SG_T/cluster.key" || sg_fail "cluster-key failed"
SG_OPERATOR_PK=$("$SGNODE" keygen --out "$SG_T/keys/operator.key") || sg_fail "keygen failed"
allocs=(--alloc "$SG_OPERATOR_PK=1000000000")
for n in "${households[@]}"; do
    pk=$("$SGNODE" keygen --out "$SG_T/keys/$n.key") || sg_fail "keygen $n failed"
    allocs+=(--alloc "$pk=1000000000")
done
# One-second market intervals: a steady stream of orders to gossip.
"$SGNODE" genesis --out "$SG_T/genesis.txt" --operator-key "$SG_OPERATOR_PK" \
    --difficulty "$DIFF" --block-interval 0 --tick-ms 1000 "${allocs[@]}" ||
    sg_fail "genesis failed"

sg_start op operator --mining-threads 1 --no-discover
sg_start n1 consumer --no-mine --no-discover --peer "$(sg_addr op)"
sg_start n2 consumer --no-mine --no-discover --peer "$(sg_addr op)"
sg_wait_for 120 "both households connected" sg_all_peers_ge 1 n1 n2
sg_wait_for 300 "ten blocks everywhere" sg_all_height_ge 10 op n1 n2
sg_stop_mining op
sg_wait_for 60 "one tip" sg_same_tip op n1 n2

for n in n1 n2; do
    in=$(sg_stat "$n" cmpct_in)
    rebuilt=$(sg_stat "$n" cmpct_rebuilt)
    sg_log "$n: cmpct_in=$in cmpct_rebuilt=$rebuilt cmpct_blocktxn=$(sg_stat "$n" cmpct_blocktxn)" \
           "blocks_in_flight=$(sg_stat "$n" blocks_in_flight)"
    [[ ${in:-0} -ge 1 ]] || sg_fail "$n received no compact block"
    [[ ${rebuilt:-0} -ge 1 ]] || sg_fail "$n rebuilt no block from its mempool alone"
done
[[ $(sg_stat op cmpct_sent) -ge 2 ]] || sg_fail "the operator sent fewer than 2 compact blocks"

# n1 frozen: what reaches the operator from now on (n2's orders, its own
# settlements) n1 cannot have; n1 signed at most one order of its own just
# before, so three more than now in the operator's pool (which only grows
# while nobody mines) include one n1 lacks.
sg_signal n1 STOP
before=$(sg_stat op mempool_txs)
sg_wait_for 120 "three more transactions at the operator" \
    sg_all_stat_ge mempool_txs $((before + 3)) op
h=$(sg_stat op height)
sg_start_mining op
sg_wait_for 120 "the operator mines a block" sg_all_height_ge $((h + 1)) op
sg_stop_mining op
sg_signal n1 CONT
sg_wait_for 120 "n1 catches up" sg_same_tip op n1 n2
blocktxn=$(sg_stat n1 cmpct_blocktxn)
sg_log "n1 after the freeze: cmpct_blocktxn=$blocktxn cmpct_fallback=$(sg_stat n1 cmpct_fallback)"
[[ ${blocktxn:-0} -ge 1 ]] || sg_fail "n1 rebuilt no block with a GETBLOCKTXN round trip"

for n in op n1 n2; do
    sg_assert_eq "$(sg_stat "$n" misbehaved)" 0 "misbehaviour seen by $n"
    sg_assert_eq "$(sg_stat "$n" bans)" 0 "bans at $n"
done
sg_assert_eq "$(sg_stat n1 state_hash)" "$(sg_stat op state_hash)" "n1's ledger state"
sg_stop n1
sg_stop n2
sg_stop op
sg_log "pass: compact blocks rebuilt from the mempool and after GETBLOCKTXN"
