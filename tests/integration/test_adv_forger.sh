#!/usr/bin/env bash
# The block forger (--adversary p1=forger, common/daemon/adv.h): every
# block p1's miner finds carries a coinbase over the reward (real proof of
# work), and peers in odd position get it with a nonce that misses the
# target.  Honest nodes refuse each one and ban p1.  From the store: no
# block of p1 ever reaches the best chain (nor any node's store), the
# honest nodes p1 is linked to from the start (op, its bootstrap peer, and
# p2, which dials it) count a refused block and name p1 among those they
# banned (nodes.rejected_blocks, nodes.banned_peers, node_stats), the chain
# goes on growing without it, and the analysis says so.
#
# Then the settlement forger (a second run, --adversary p2=forger mining at
# 1 hash/s, with two consumers, so that a market settles): it sends
# settlements with raised prices, one signed with its own key (only the
# operator may settle) and the operator's own with its signature kept.
# From that run's store: honest nodes refused them and banned p2, the
# market went on settling afterwards, no settlement but the operator's is
# in any stored block, and the analysis says the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_adv.sh"
sg_setup
adv_setup
RUN=$SG_T/run

# Fixed difficulty 16^4 at 4 x 30k hashes/s: a block every ~0.5 s, p1
# finds one every ~2 s.  An hour-long market interval: none closes during
# the test, so p1 has no settlement to forge and is banned for its blocks.
adv_start 4 --prosumers 3 --consumers 0 --difficulty 4 --block-interval 0 \
    --hashrate 30k --adversary p1=forger --seed 17 --tick 3600

banned_p1() {
    local n
    n=$(adv_q "SELECT COUNT(*) FROM nodes WHERE name IN ('op', 'p2') AND rejected_blocks >= 1
               AND (' ' || banned_peers || ' ') LIKE '% p1 %'") || return 1
    [[ $n -eq 2 ]]
}
# The control message ADVERSARY (sgnode ctl ... adversary ROLE): a role
# already on is acknowledged, an unknown one refused (exit 1, the store's
# rows untouched).
port=$(awk '$1 == "p1" { print $3 }' "$RUN/nodes.tsv")
actl() { "$SGNODE" ctl --connect "127.0.0.1:$port" --cluster-key "$RUN/cluster.key" \
             --genesis "$RUN/genesis.txt" adversary "$1"; }
acked() { actl forger >/dev/null 2>&1; }
sg_wait_for 60 "p1 to acknowledge ADVERSARY forger" acked
actl bribe >/dev/null 2>&1 && sg_fail "ctl adversary bribe accepted"
sg_wait_for 240 "op and p2 to refuse a block of p1's and ban it" banned_p1
h0=$(adv_q "SELECT COALESCE(MAX(height), 0) FROM blocks WHERE stale = 0")
grown() {
    local h
    h=$(adv_q "SELECT COALESCE(MAX(height), 0) FROM blocks WHERE stale = 0") || return 1
    [[ $h -ge $((h0 + 10)) ]]
}
sg_wait_for 240 "the honest chain to grow by 10 blocks after the bans" grown
adv_stop

pk=$(adv_q "SELECT pubkey FROM nodes WHERE name = 'p1'")
[[ -n "$pk" ]] || sg_fail "no nodes row for p1"
sg_assert_eq "$(adv_q "SELECT adversary FROM nodes WHERE name = 'p1'")" forger "nodes.adversary"
sg_assert_eq "$(adv_q "SELECT COUNT(*) FROM nodes WHERE adversary <> ''")" 1 "adversaries"
sg_assert_eq "$(adv_q "SELECT COUNT(*) FROM blocks WHERE miner = '$pk'")" 0 \
    "blocks of p1 in any store"
sg_assert_eq "$(adv_q "SELECT COUNT(*) FROM blocks WHERE miner = '$pk' AND stale = 0")" 0 \
    "blocks of p1 on the best chain"
for n in op p2; do
    r=$(adv_q "SELECT rejected_blocks FROM nodes WHERE name = '$n'")
    [[ $r -ge 1 ]] || sg_fail "$n refused $r blocks"
    m=$(adv_q "SELECT MAX(rejected_blocks) FROM node_stats WHERE node = '$n'")
    [[ $m -ge 1 ]] || sg_fail "node_stats of $n never show a refused block"
done
# Whoever banned someone banned p1 alone; p1 itself banned no one.
sg_assert_eq "$(adv_q "SELECT COUNT(*) FROM nodes WHERE banned_peers NOT IN ('', 'p1')")" 0 \
    "nodes that banned someone else"
grep -hE "misbehaving .*\(p1\): invalid block: (bad coinbase|proof of work)" \
    "$RUN"/logs/op.log "$RUN"/logs/p2.log >/dev/null ||
    sg_fail "no honest log names the broken rule"
sent=$(grep -c "forger: sent forged block" "$RUN/logs/p1.log")
[[ $sent -ge 1 ]] || sg_fail "p1 logged no forged block"

out=$("$LAUNCHER" analyze --run "$RUN") || sg_fail "launcher analyze failed: $out"
grep -q "its blocks on the best chain  0" <<<"$out" || sg_fail "analysis: $out"
grep -qE "banned by +[23] honest node\(s\): .*op" <<<"$out" || sg_fail "analysis: $out"
sg_log "forger: $sent forged finds; banned by $(adv_q "SELECT COUNT(*) FROM nodes
                                                     WHERE banned_peers = 'p1'") honest nodes"

# The settlement part.
# p2 mines at 1 hash/s: no forged block of its gets it banned before its
# settlements are seen.
adv_tx_start "$SG_T/settle" --seed 11 --start-time 2024-06-21T11:00 --adversary p2=forger \
    --hashrate p2=1
sg_log "settlement run in $RUN"
sg_wait_for 180 "p2 sent forged settlements" \
    adv_ge "SELECT adv_forged_settlements FROM nodes WHERE name='p2'" 1
sg_wait_for 120 "every honest node banned p2" adv_ge "$(adv_banned_by_sql p2)" 4
# Its own-key settlement broke the rule that only the operator settles.
own_refused() { grep -lE "misbehaving .*\(p2\): invalid transaction: settlement breaks a market rule" \
                    "$RUN"/logs/{op,p1,c1,c2}.log >/dev/null 2>&1; }
sg_wait_for 30 "an honest node refused p2's own settlement" own_refused
grep -qE "misbehaving .*\(p2\): invalid transaction: bad signature" "$RUN"/logs/{op,p1,c1,c2}.log &&
    sg_log "and the operator's tampered one (bad signature)"
[[ "$(adv_int "SELECT SUM(rejected_txs) FROM nodes WHERE adversary=''")" -ge 1 ]] ||
    sg_fail "no honest node counts a refused transaction"

# Honest nodes keep working: three more intervals settle after the bans.
n0=$(adv_int "$adv_settled_sql")
sg_wait_for 240 "three more intervals settled after the bans (from $n0)" \
    adv_ge "$adv_settled_sql" $((n0 + 3))
adv_stop

op=$(adv_pk op)
[[ ${#op} -eq 64 ]] || sg_fail "no operator key in the store"
sg_assert_eq "$(adv_int "SELECT COUNT(*) FROM transactions WHERE kind='settlement' AND from_pk<>'$op'")" \
    0 "settlements not from the operator in stored blocks"
[[ "$(adv_int "SELECT COUNT(*) FROM transactions WHERE kind='settlement' AND block_hash<>''")" -ge 3 ]] ||
    sg_fail "fewer than 3 settlements on the best chain"
adv_analysis
grep -q "settlements not from the operator in any block  0" "$RUN.analysis" ||
    sg_fail "the analysis does not report zero forged settlements in blocks"
grep -qE "banned by +4 honest node" "$RUN.analysis" || sg_fail "the analysis does not list 4 banners"
sg_log "pass"
