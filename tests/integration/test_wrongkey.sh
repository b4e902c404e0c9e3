#!/usr/bin/env bash
# A daemon started with another cluster key never gets peers; its log says
# why, and the honest node's log names the refusal.
. "$(dirname "$0")/lib.sh"
sg_setup

sg_cluster "${SG_DIFFICULTY:-6}" n1 intruder
"$SGNODE" cluster-key --out "$SG_T/other.key" || sg_fail "cluster-key failed"
sg_start op operator
sg_start n1 prosumer --peer "$(sg_addr op)"
sg_wait_for 60 "op and n1 linked" sg_all_peers_ge 1 op n1

SG_CLUSTER_KEY=$SG_T/other.key sg_start intruder consumer --peer "$(sg_addr op)"
refused() { sg_grep_log op 'refused .*' && sg_grep_log intruder 'refused .*'; }
sg_wait_for 30 "both sides log the refusal" refused
sleep 3
sg_assert_eq "$(SG_CTL_KEY=$SG_T/other.key sg_stat intruder peers)" 0 "the intruder's peers"
sg_assert_eq "$(sg_stat op peers)" 1 "op's peers"
[[ -z "$(sg_stat intruder peers)" ]] || sg_fail "the intruder answered a control client with the real cluster key"
sg_log "op: $(grep -m1 'refused' "$SG_T/op.log")"
sg_log "intruder: $(grep -m1 'refused' "$SG_T/intruder.log")"
sg_stop intruder
sg_stop n1
sg_stop op
sg_log "pass"
