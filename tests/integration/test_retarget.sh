#!/usr/bin/env bash
# Difficulty adjustment as a consensus rule: three daemons on a retargeting
# chain (1 s blocks, 2 s half-life) start far too easy (difficulty 3), ramp
# up, and after the ramp the best chain's block interval is the target; blocks with
# wrong bits or a time not above the median are rejected and their sender
# disconnected, while a block from the future is only early (link kept).
. "$(dirname "$0")/lib.sh"
sg_setup
EVIL=$SG_TOOLS/evilpeer
CHAINSTAT=$SG_TOOLS/chainstat
[[ -x "$EVIL" && -x "$CHAINSTAT" ]] || sg_skip "evilpeer or chainstat not built (make)"

SG_BLOCK_INTERVAL=1 SG_HALFLIFE=2 sg_cluster 3 n1 n2
grep -q '^block_interval_ms 1000$' "$SG_T/genesis.txt" || sg_fail "genesis lacks block_interval_ms"
grep -q '^retarget_halflife_ms 2000$' "$SG_T/genesis.txt" || sg_fail "genesis lacks the half-life"
sg_start op operator
sg_start n1 prosumer --peer "$(sg_addr op)"
sg_start n2 consumer --peer "$(sg_addr op)" --peer "$(sg_addr n1)"
sg_wait_for 60 "all linked" sg_all_peers_ge 1 op n1 n2

# The ramp (2^0.5 harder per block while blocks come too fast) lasts as
# many blocks as the machine is fast: it ends at the first block the rule
# made easier (one slower than the target).  The 30 blocks after it are
# measured, wherever that is, so neither a fast nor a slow machine puts
# ramp blocks in the window.
SPAN=30
# chain.txt from the operator's store: "height time bits" per block.
read_chain() {
    "$CHAINSTAT" --genesis "$SG_T/genesis.txt" --data-dir "$SG_T/op.data" >"$SG_T/chain.txt" ||
        sg_fail "chainstat failed"
}
# The height where the ramp ended (bits compared as log2 of the target).
ramp_end() {
    awk 'function lg(b,  e, m) { e = int(b / 16777216); m = b % 16777216
                                 return log(m) / log(2) + 8 * (e - 3) }
         { v = lg(strtonum($3)) }
         NR > 1 && v > prev { print $1; found = 1; exit }
         { prev = v }
         END { if (!found) print "" }' "$SG_T/chain.txt"
}
# True once the ramp has ended and SPAN more blocks are on every node.
window_mined() {
    read_chain
    RAMP=$(ramp_end)
    [[ -n "$RAMP" ]] && sg_all_height_ge $((RAMP + SPAN)) op n1 n2
}
sg_wait_for 300 "the ramp's end and $SPAN blocks after it" window_mined
FROM=$RAMP TO=$((RAMP + SPAN))
read_chain

# Per-block intervals over 4-block spans (times are whole seconds), their
# median, and the mean over the window.
read -r med mean first_bits last_bits < <(awk -v from="$FROM" -v to="$TO" '
    { t[$1] = $2; b[$1] = $3 }
    END {
        n = 0
        for (h = from; h + 4 <= to; h++) d[n++] = (t[h + 4] - t[h]) / 4
        asort(d)
        med = n % 2 ? d[(n + 1) / 2] : (d[n / 2] + d[n / 2 + 1]) / 2
        printf "%.2f %.2f %s %s\n", med, (t[to] - t[from]) / (to - from), b[1], b[to]
    }' "$SG_T/chain.txt")
means=$(awk '{ t[$1] = $2 } END { for (h = 0; h + 10 <= NR; h += 10)
    printf "%s%d-%d: %.1f s", h ? ", " : "", h, h + 10, (t[h + 10] - (h ? t[h] : t[1] - 1)) / 10 }' \
    "$SG_T/chain.txt")
sg_log "mean interval per 10 blocks: $means"
sg_log "ramp ended at height $FROM; heights $FROM..$TO: median interval $med s, mean $mean s (target 1 s); bits $first_bits -> $last_bits"
awk -v m="$med" -v a="$mean" 'BEGIN { exit !(m >= 0.4 && m <= 2.5 && a >= 0.4 && a <= 2.5) }' ||
    sg_fail "the block interval did not settle near 1 s (median $med s, mean $mean s)"
[[ "$first_bits" != "$last_bits" ]] || sg_fail "the difficulty never moved from $first_bits"

evil() {
    "$EVIL" --connect "$(sg_addr op)" --cluster-key "$SG_T/cluster.key" \
        --genesis "$SG_T/genesis.txt" "$@" || sg_fail "evilpeer $*: the daemon did not react as it should"
}
evil badbits
evil badtime
evil --wait-ms 2000 future
sg_grep_log op 'misbehaving .*evilpeer.*invalid block: .*wrong bits' ||
    sg_fail "op's log does not name the wrong bits"
sg_grep_log op 'misbehaving .*evilpeer.*invalid block: block time out of range' ||
    sg_fail "op's log does not name the bad time"
sg_grep_log op 'ahead of our clock' || sg_fail "op's log does not mention the early block"

# The honest nodes still agree.
sg_stop_mining n1 n2
sg_wait_for 30 "n1, n2 idle" sg_all_idle n1 n2
top=$(sg_stat n1 height); h=$(sg_stat n2 height); [[ $h -gt $top ]] && top=$h
h=$(sg_stat op height); [[ $h -gt $top ]] && top=$h
sg_wait_for 120 "the operator passes height $top" sg_all_height_ge $((top + 1)) op
sg_stop_mining op
sg_wait_for 30 "one tip" sg_same_tip op n1 n2
sg_stop n2
sg_stop n1
sg_stop op
sg_log "pass"
