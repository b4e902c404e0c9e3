#!/usr/bin/env bash
# The daemons as command-line programs: usage errors (exit 2, one line
# naming the option), the tool subcommands, stats over the control channel,
# live log streaming, SIGHUP log reopening, the data-directory lock, and
# shutdown by control request (exit 0).
. "$(dirname "$0")/lib.sh"
sg_setup

expect_usage() {   # expect_usage "MESSAGE" ARGS...
    local want=$1 out rc; shift
    out=$("$SGNODE" "$@" 2>&1); rc=$?
    [[ $rc -eq 2 ]] || sg_fail "sgnode $* exited $rc, expected 2 ($out)"
    [[ "$out" == "$want" ]] || sg_fail "sgnode $*: expected '$want', got '$out'"
}
expect_usage "sgnode: --listen expects HOST:PORT (or 'none'), got 'abc'" --listen abc
expect_usage "sgnode: --role expects prosumer or consumer, got 'boss'" --role boss
expect_usage "sgnode: unknown option '--frobnicate' (see --help)" --frobnicate
expect_usage "sgnode: --role is required (prosumer or consumer)" --data-dir x
"$SGNODE" --help | grep -q -- '--cluster-key' || sg_fail "--help does not list the options"

sg_cluster 6 n1
out=$("$SGNODE" --role prosumer --genesis "$SG_T/genesis.txt" --data-dir "$SG_T/x" \
      --cluster-key "$SG_T/missing.key" 2>&1); rc=$?
[[ $rc -eq 2 && "$out" == *"cluster-key --out FILE"* ]] ||
    sg_fail "a missing cluster key: exit $rc, '$out'"
out=$("$SGOPERATOR" --genesis "$SG_T/genesis.txt" --data-dir "$SG_T/x" \
      --cluster-key "$SG_T/cluster.key" --key "$SG_T/keys/n1.key" 2>&1); rc=$?
[[ $rc -eq 2 && "$out" == *"but the genesis operator key is"* ]] ||
    sg_fail "operator with a node's key: exit $rc, '$out'"
# A bad profile is a usage error naming the file and the line.
printf '# Wh per slot\n120\n\nabc\n' >"$SG_T/bad.csv"
out=$("$SGNODE" --role prosumer --genesis "$SG_T/genesis.txt" --data-dir "$SG_T/x" \
      --cluster-key "$SG_T/cluster.key" --key "$SG_T/keys/n1.key" --pv-profile "$SG_T/bad.csv" 2>&1); rc=$?
[[ $rc -eq 2 && "$out" == "sgnode: --pv-profile $SG_T/bad.csv: line 4: "* ]] ||
    sg_fail "a bad --pv-profile: exit $rc, '$out'"
out=$("$SGNODE" genesis --out "$SG_T/g2.txt" --market auction 2>&1); rc=$?
[[ $rc -eq 2 && "$out" == *"--market expects uniform, pay-as-bid or mid-market, got 'auction'" ]] ||
    sg_fail "genesis --market auction: exit $rc, '$out'"
"$SGNODE" genesis --out "$SG_T/g3.txt" --operator-key "$(printf '%064d' 1)" --tick-ms 250 \
    --interval-minutes 5 --start-time 1718967600 --market pay-as-bid --retail-price 400000 \
    --feed-in-price 50000 --seed 9 || sg_fail "genesis with market options failed"
for kv in "tick_ms 250" "interval_minutes 5" "sim_start 1718967600" "market pay-as-bid" \
          "retail_price 400000" "feed_in_price 50000" "seed 9"; do
    grep -qx "$kv" "$SG_T/g3.txt" || sg_fail "genesis file lacks '$kv'"
done
# Retargeting: 2 s blocks by default, the half-life 3 intervals unless given.
grep -qx "block_interval_ms 2000" "$SG_T/g3.txt" || sg_fail "genesis lacks the default interval"
grep -qx "retarget_halflife_ms 6000" "$SG_T/g3.txt" || sg_fail "genesis lacks the default half-life"
"$SGNODE" genesis --out "$SG_T/g4.txt" --operator-key "$(printf '%064d' 1)" \
    --block-interval 0.5 --retarget-halflife 2.25 || sg_fail "genesis --block-interval 0.5 failed"
grep -qx "block_interval_ms 500" "$SG_T/g4.txt" && grep -qx "retarget_halflife_ms 2250" "$SG_T/g4.txt" ||
    sg_fail "genesis lacks block_interval_ms 500 / retarget_halflife_ms 2250"
"$SGNODE" genesis --out "$SG_T/g5.txt" --operator-key "$(printf '%064d' 1)" --block-interval 0 ||
    sg_fail "genesis --block-interval 0 failed"
! grep -q "block_interval_ms\|retarget_halflife_ms" "$SG_T/g5.txt" ||
    sg_fail "a fixed-difficulty genesis names retarget keys"
out=$("$SGNODE" genesis --out "$SG_T/g6.txt" --operator-key "$(printf '%064d' 1)" \
      --block-interval 2s 2>&1); rc=$?
[[ $rc -eq 2 && "$out" == *"--block-interval expects seconds from 0 (fixed difficulty)"* ]] ||
    sg_fail "genesis --block-interval 2s: exit $rc, '$out'"
# A fresh identity is created with mode 0600 when --key names no file.
sg_start n1 prosumer --no-mine --key "$SG_T/new.key"
sg_wait_for 60 "n1 answers stats" eval '[[ -n "$(sg_stat n1 height)" ]]'
[[ "$(stat -c %a "$SG_T/new.key")" == 600 ]] || sg_fail "new identity key is not mode 0600"

stats=$(sg_stats n1)
for k in name role height tip chainwork peers mempool_txs mempool_bytes stale_blocks \
         hashrate loop_lag_ms_max loop_lag_ms_avg balance reserved nonce sold_wh bought_wh \
         grid_import_wh grid_export_wh blocks_mined uptime_ms bans pubkey state_hash \
         interval last_settled_interval clearing_price produced_wh consumed_wh battery_wh \
         orders_submitted orders_skipped; do
    grep -q "^$k=" <<<"$stats" || sg_fail "stats lack '$k'"
done
sg_assert_eq "$(sg_stat n1 role)" prosumer "role"
sg_assert_eq "$(sg_stat n1 mining)" 0 "mining flag under --no-mine"

# A second daemon on the same data directory is refused.
out=$("$SGNODE" --role consumer --genesis "$SG_T/genesis.txt" --data-dir "$SG_T/n1.data" \
      --cluster-key "$SG_T/cluster.key" --listen 127.0.0.1:0 --key "$SG_T/other.key" 2>&1); rc=$?
[[ $rc -eq 1 ]] || sg_fail "a second daemon on n1's data dir exited $rc, expected 1"
[[ "$out" == *"in use by another process"* ]] || sg_fail "no clear message for the locked data dir: $out"

# Live log: lines logged after subscribing arrive on the stream.  The
# subscription is not acknowledged, so a "mining started" logged before it
# took effect (a loaded machine) never comes: mining is toggled again on
# every poll until one arrives.
"$SGNODE" ctl --connect "$(sg_addr n1)" --cluster-key "$SG_T/cluster.key" \
    --genesis "$SG_T/genesis.txt" log --level info >"$SG_T/stream.txt" 2>&1 &
stream=$!
SG_PID[stream]=$stream
streamed_start() {
    grep -q 'mining started' "$SG_T/stream.txt" && return 0
    sg_signal n1 USR1                             # "mining stopped"
    sg_signal n1 USR2                             # "mining started"
    return 1
}
sg_wait_for 60 "the streamed log shows mining starting" streamed_start
sg_signal n1 USR1
kill "$stream" 2>/dev/null; wait "$stream" 2>/dev/null; unset "SG_PID[stream]"

# Mining off and on over the control channel, the way the launcher pauses
# daemons (a signal would reach only ssh for a daemon on another host): the
# height rises while on and stays put while off, the daemon running.
ctl_n1() {
    "$SGNODE" ctl --connect "$(sg_addr n1)" --cluster-key "$SG_T/cluster.key" \
        --genesis "$SG_T/genesis.txt" --timeout-ms 10000 "$@"
}
sg_wait_for 30 "n1 idle after SIGUSR1" sg_all_idle n1
out=$(ctl_n1 mining on) || sg_fail "ctl mining on failed: $out"
sg_assert_eq "$out" "mining=1" "ctl mining on"
sg_assert_eq "$(sg_stat n1 mining)" 1 "mining flag after ctl mining on"
h0=$(sg_stat n1 height)
sg_wait_for 300 "n1 mining a block after ctl mining on" \
    eval '[[ "$(sg_stat n1 height)" -gt '"$h0"' ]]'
out=$(ctl_n1 mining off) || sg_fail "ctl mining off failed: $out"
sg_assert_eq "$out" "mining=0" "ctl mining off"
sg_assert_eq "$(ctl_n1 mining off)" "mining=0" "ctl mining off again (idempotent)"
sg_assert_eq "$(sg_stat n1 mining)" 0 "mining flag after ctl mining off"
sleep 2                          # a block solved just before the pause still connects
h1=$(sg_stat n1 height)
sleep 10
sg_assert_eq "$(sg_stat n1 height)" "$h1" "n1's height 10 s after ctl mining off"
kill -0 "${SG_PID[n1]}" 2>/dev/null || sg_fail "n1 exited after ctl mining off"
sg_grep_log n1 'mining stopped' || sg_fail "no 'mining stopped' line in n1's log"
sg_log "ctl mining: on mined up to height $h1, off held it"
out=$(ctl_n1 mining sideways 2>&1); rc=$?
[[ $rc -eq 2 && "$out" == *"mining on|off"* ]] || sg_fail "ctl mining sideways: exit $rc, '$out'"

# SIGHUP reopens the log file (after logrotate renamed it).
mv "$SG_T/n1.log" "$SG_T/n1.log.1"
sg_signal n1 HUP
sg_wait_for 30 "a fresh n1.log after SIGHUP" grep -q 'log file reopened' "$SG_T/n1.log"

# --use-gpu mines with CUDA where a device exists, else says so once and
# uses the best CPU implementation.
sg_start n2 consumer --use-gpu
sg_wait_for 60 "n2 answers stats" eval '[[ -n "$(sg_stat n2 impl)" ]]'
impl=$(sg_stat n2 impl)
if [[ "$impl" != cuda ]]; then
    sg_grep_log n2 'WARN .*--use-gpu: no usable CUDA device.*mining on the CPU' ||
        sg_fail "--use-gpu fell back to $impl without a warning"
fi
sg_stop n2

# Shutdown by control request: exit status 0.
"$SGNODE" ctl --connect "$(sg_addr n1)" --cluster-key "$SG_T/cluster.key" \
    --genesis "$SG_T/genesis.txt" shutdown || sg_fail "ctl shutdown failed"
pid=${SG_PID[n1]}
wait "$pid"; rc=$?
unset "SG_PID[n1]"
sg_assert_eq "$rc" 0 "exit status after a control shutdown"
grep -q 'shutdown requested by control client' "$SG_T/n1.log" || sg_fail "no shutdown line in the log"
sg_log "pass"
