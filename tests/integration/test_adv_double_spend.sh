#!/usr/bin/env bash
# The double spender (--adversary c1=double-spender): every 10 s it signs
# two transfers with one nonce, A to a node (the merchant), B to an
# account of its own, and sends A to one half of its peers and B to the
# other.  Passes when, from the run's store, no pair ever has both on the
# best chain (nor any nonce of c1 two transactions), and the pairs c1 saw
# decided have exactly one on it; the analysis says the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_adv.sh"
sg_setup
adv_setup

adv_tx_start "$SG_T/run" --seed 13 --start-time 2024-06-21T11:00 --adversary c1=double-spender
sg_log "run in $RUN"
sg_wait_for 240 "c1 saw two of its pairs decided" \
    adv_ge "SELECT adv_ds_won_a + adv_ds_won_b FROM nodes WHERE name='c1'" 2
adv_stop

pk=$(adv_pk c1)
[[ ${#pk} -eq 64 ]] || sg_fail "no key for c1 in the store"
sg_assert_eq "$(adv_int "SELECT COUNT(*) FROM (SELECT nonce FROM transactions WHERE from_pk='$pk'
                         AND block_hash<>'' GROUP BY nonce HAVING COUNT(*) > 1) x")" 0 \
    "nonces of c1 with two best-chain transactions"

# The pairs from c1's log: "nonce N: A to NAME and ..., B to ...".
pairs=$(sed -nE 's/.*double spender: nonce ([0-9]+): ([0-9a-f]{64}) to .*, ([0-9a-f]{64}) to .*/\1 \2 \3/p' \
        "$RUN/logs/c1.log")
[[ -n "$pairs" ]] || sg_fail "c1's log names no pair"
sent=0 one=0
while read -r nonce a b; do
    sent=$((sent + 1))
    on=$(adv_int "SELECT COUNT(*) FROM transactions WHERE txid IN ('$a', '$b') AND block_hash<>''")
    [[ $on -le 1 ]] || sg_fail "both transfers of nonce $nonce are on the best chain"
    if grep -qE "double spender: nonce $nonce decided .* for (A|B)" "$RUN/logs/c1.log"; then
        [[ $on -eq 1 ]] || sg_fail "pair of nonce $nonce was decided but neither is on the best chain"
        one=$((one + 1))
    fi
done <<<"$pairs"
sg_log "$sent pairs sent, $one decided with exactly one on the best chain"
[[ $one -ge 2 ]] || sg_fail "only $one decided pair(s)"
adv_analysis
grep -q "(never both of a pair)" "$RUN.analysis" || sg_fail "the analysis does not say never both"
grep -qE "broadcast to block +avg" "$RUN.analysis" || sg_fail "the analysis has no decision times"
sg_log "pass"
