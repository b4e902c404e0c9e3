#!/usr/bin/env bash
# Settlements keep up when blocks are slower than market intervals: a
# launcher run at difficulty 6 with half-second intervals (on this kind of
# machine a block every second or more, so several intervals close per
# block).  The operator keeps several settlements in flight, so nearly
# every interval whose orders were mined is settled on the best chain
# (market_intervals.settled_ms) as soon as blocks allow, and blocks carry
# more than one settlement.  "Due" does not depend on the block pace: an
# interval counts once a best-chain block was seen 3 s after both its end
# and the block holding its orders (the operator had time to publish, and
# miners take new transactions into their next template).  Generous (90 %)
# for a loaded machine.
. "$(dirname "$0")/lib.sh"
sg_setup

command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
RUN=$SG_T/run
DB=$RUN/run.db
q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1" || sg_fail "query failed: $1"; }

# A base port with 5 free ports above it, below the ephemeral range; a
# port taken between the probe and the launcher's check makes it exit 2
# with "in use": then another range is tried.
ok=0
for _ in 1 2 3 4 5; do
    base=$(( 20000 + RANDOM % 12000 ))
    for p in $(seq "$base" $((base + 4))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue 2
    done
    rm -rf "$RUN"
    "$LAUNCHER" --prosumers 2 --consumers 2 --difficulty 6 --tick 0.5 --quiet \
        --base-port "$base" --run-dir "$RUN" --duration 30 --seed 7 >"$SG_T/launcher.out" 2>&1 &
    SG_PID[launcher]=$!
    wait "${SG_PID[launcher]}"; rc=$?
    unset "SG_PID[launcher]"
    if [[ $rc -eq 2 ]] && grep -q "in use" "$SG_T/launcher.out"; then continue; fi
    [[ $rc -eq 0 ]] || { tail -n 20 "$SG_T/launcher.out"; sg_fail "launcher exited $rc"; }
    ok=1; break
done
[[ $ok -eq 1 ]] || sg_fail "no usable port range after 5 tries"

tick=$(sed -n 's/^tick_ms //p' "$RUN/genesis.txt")
[[ "$tick" == 500 ]] || sg_fail "genesis has tick_ms $tick, not 500"
blocks=$(q "SELECT COUNT(*) FROM blocks WHERE stale=0 AND height>0")
ivs=$(q "SELECT COUNT(DISTINCT interval_no) FROM transactions WHERE kind IN ('offer','bid')")
sg_log "$blocks best-chain blocks for $ivs intervals with orders"

due=$(sg_due_intervals_sql "$RUN")
n_due=$(q "SELECT COUNT(*) FROM ($due)")
n_set=$(q "SELECT COUNT(*) FROM market_intervals WHERE settled_ms IS NOT NULL AND interval_no IN ($due)")
[[ $n_due -ge 5 ]] || sg_fail "only $n_due intervals due: the run made too few blocks ($blocks)"
[[ $((n_set * 10)) -ge $((n_due * 9)) ]] ||
    sg_fail "only $n_set of $n_due due intervals settled: $(q "SELECT group_concat(interval_no) FROM ($due)
             WHERE interval_no NOT IN (SELECT interval_no FROM market_intervals WHERE settled_ms IS NOT NULL)")"
sg_assert_eq "$(q "SELECT COUNT(*) FROM market_intervals WHERE (settled_ms IS NULL) <> (block_hash='')
                   OR (settled_ms IS NOT NULL AND settled_ms + 1000 < closed_ms)")" 0 \
    "settled_ms against block_hash and closed_ms (a launcher poll may stamp a block a little early)"
# With fewer blocks than intervals, blocks must have carried several.
most=$(q "SELECT COALESCE(MAX(c), 0) FROM (SELECT COUNT(*) AS c FROM transactions
          WHERE kind='settlement' AND block_hash<>'' GROUP BY block_hash)")
if [[ $((blocks * 10)) -lt $((ivs * 8)) ]]; then
    [[ $most -ge 2 ]] || sg_fail "$blocks blocks for $ivs intervals, yet no block holds two settlements"
fi
sg_log "$n_set of $n_due due intervals settled; up to $most settlements in one block; lag \
$(q "SELECT MIN(settled_ms - closed_ms) || '..' || MAX(settled_ms - closed_ms) || ' ms, mean ' ||
     CAST(AVG(settled_ms - closed_ms) AS INTEGER) FROM market_intervals WHERE settled_ms IS NOT NULL")"
sg_log "pass"
