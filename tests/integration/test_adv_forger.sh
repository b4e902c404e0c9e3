#!/usr/bin/env bash
# The settlement forger (--adversary p2=forger): it sends settlements with
# raised prices, one signed with its own key (only the operator may
# settle) and the operator's own with its signature kept.  Passes when,
# from the run's store, honest nodes refused them and banned p2, the
# market went on settling afterwards, and no settlement but the
# operator's is in any stored block; the analysis says the same.
. "$(dirname "$0")/lib.sh"
sg_setup
. "$(dirname "$0")/lib_adv.sh"

adv_start "$SG_T/run" --seed 11 --start-time 2024-06-21T11:00 --adversary p2=forger
sg_log "run in $RUN"

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
