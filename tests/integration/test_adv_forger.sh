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
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_adv.sh"
sg_setup
adv_setup
RUN=$SG_T/run

# Fixed difficulty 16^4 at 4 x 30k hashes/s: a block every ~0.5 s, p1
# finds one every ~2 s.
adv_start 4 --prosumers 3 --consumers 0 --difficulty 4 --block-interval 0 \
    --hashrate 30k --adversary p1=forger --seed 17

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
sg_log "pass"
