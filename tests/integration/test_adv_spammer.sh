#!/usr/bin/env bash
# The spammer (--adversary p1=spammer): valid but useless transactions (ten
# self-transfers of one micro-unit a second), then from 20 s on a
# transaction with a broken signature to every peer.  Passes when, from the
# run's store, its valid spam occupies best-chain blocks, every honest node
# banned it for the malformed one, and the market still settles
# afterwards; the analysis says the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_adv.sh"
sg_setup
adv_setup

adv_tx_start "$SG_T/run" --seed 12 --start-time 2024-06-21T11:00 --adversary p1=spammer
sg_log "run in $RUN"
pk=$(adv_pk p1)
[[ ${#pk} -eq 64 ]] || sg_fail "no key for p1 in the store"
spam_sql="SELECT COUNT(*) FROM transactions WHERE kind='transfer' AND from_pk='$pk' AND
          to_pk='$pk' AND amount=1 AND block_hash<>''"

sg_wait_for 180 "20 of p1's spam transactions in best-chain blocks" adv_ge "$spam_sql" 20
sg_wait_for 180 "every honest node banned p1" adv_ge "$(adv_banned_by_sql p1)" 4
grep -qE "misbehaving .*\(p1\): invalid transaction: bad signature" "$RUN"/logs/{op,p2,c1,c2}.log ||
    sg_fail "no honest node logged p1's bad signature"
[[ "$(adv_int "SELECT adv_spam_malformed FROM nodes WHERE name='p1'")" -ge 1 ]] ||
    sg_fail "p1 counts no malformed transaction sent"

n0=$(adv_int "$adv_settled_sql")
sg_wait_for 240 "three more intervals settled after the bans (from $n0)" \
    adv_ge "$adv_settled_sql" $((n0 + 3))
adv_stop

spam=$(adv_int "$spam_sql")
blocks=$(adv_int "SELECT COUNT(DISTINCT block_hash) FROM transactions WHERE kind='transfer' AND
                  from_pk='$pk' AND to_pk='$pk' AND amount=1 AND block_hash<>''")
sg_log "p1's spam on the best chain: $spam transactions in $blocks blocks"
[[ $blocks -ge 2 ]] || sg_fail "the spam sits in only $blocks block(s)"
adv_analysis
grep -qE "valid spam sent +[0-9]+; on the best chain $spam in $blocks block" "$RUN.analysis" ||
    sg_fail "the analysis does not report the spam on the best chain"
grep -qE "banned by +4 honest node" "$RUN.analysis" || sg_fail "the analysis does not list 4 banners"
sg_log "pass"
