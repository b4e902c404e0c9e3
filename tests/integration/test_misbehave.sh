#!/usr/bin/env bash
# A raw TCP client that sends garbage, an oversized length, a tampered
# sealed frame, or (after a valid handshake) a block with bad proof of work
# is disconnected; the honest nodes keep mining and stay in agreement.
. "$(dirname "$0")/lib.sh"
sg_setup
EVIL=$SG_TOOLS/evilpeer
[[ -x "$EVIL" ]] || sg_skip "$EVIL not built (make build/tests/tools/evilpeer)"

sg_cluster "${SG_DIFFICULTY:-6}" n1
sg_start op operator
sg_start n1 prosumer --peer "$(sg_addr op)"
sg_wait_for 60 "op and n1 linked" sg_all_peers_ge 1 op n1
sg_wait_for 300 "some blocks" sg_all_height_ge 2 op n1

evil() {
    "$EVIL" --connect "$(sg_addr op)" --cluster-key "$SG_T/cluster.key" \
        --genesis "$SG_T/genesis.txt" "$@" || sg_fail "evilpeer $*: the daemon did not react as it should"
}
# Unauthenticated misbehaviour bans the source IP, so those two come from
# other loopback addresses than the honest nodes' 127.0.0.1.
evil --from 127.0.0.2 garbage
evil --from 127.0.0.3 oversize
evil tamper
evil badpow
evil --wait-ms 2000 honest

for why in 'misbehaving 127\.0\.0\.2' 'misbehaving 127\.0\.0\.3' \
           'misbehaving .*evilpeer.*(open|crypt|decrypt|tamper|authent)' \
           'misbehaving .*evilpeer.*invalid block'; do
    sg_wait_for 30 "a line in op's log matching '$why'" sg_grep_log op "$why"
done
bans=$(sg_stat op bans)
[[ ${bans:-0} -ge 2 ]] || sg_fail "op reports $bans bans, expected at least 2"

# The honest link survived and the chain goes on.  The last evil peer has
# just hung up: op may not have read that yet, so its peers are polled.
sg_wait_for 30 "op back to one peer after the attacks" eval '[[ "$(sg_stat op peers)" == 1 ]]'
h=$(sg_stat op height)
sg_wait_for 300 "mining goes on past height $h" sg_all_height_ge $((h + 2)) op n1
sg_stop_mining n1
sg_wait_for 30 "n1 idle" sg_all_idle n1
top=$(sg_stat n1 height); h=$(sg_stat op height); [[ $h -gt $top ]] && top=$h
sg_wait_for 300 "the operator passes height $top" sg_all_height_ge $((top + 1)) op
sg_stop_mining op
sg_wait_for 30 "one tip" sg_same_tip op n1
sg_stop n1
sg_stop op
sg_log "pass"
