#!/usr/bin/env bash
# launcher option errors: every bad input prints exactly one line on stderr
# naming the option, exits 2, starts no daemon and creates no run directory.
# Also --help / --version, and a busy port or an existing --run-dir refused
# the same way.
. "$(dirname "$0")/lib.sh"
sg_setup

LAUNCHER=$SG_BIN/launcher
[[ -x "$LAUNCHER" ]] || sg_skip "bin/launcher not built (run make)"
cp "$LAUNCHER" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
W=$SG_T/work
mkdir -p "$W"
printf 'secret\n' >"$SG_T/pw"


# expect_bad "PATTERN" ARGS...: exit 2, one stderr line matching PATTERN,
# nothing on stdout, no runs/ directory, no daemon.
expect_bad() {
    local pat=$1; shift
    local rc lines
    (cd "$W" && exec "$LAUNCHER" "$@" >"$SG_T/out" 2>"$SG_T/err"); rc=$?
    [[ $rc -eq 2 ]] || sg_fail "launcher $*: exit $rc, expected 2 ($(head -c 300 "$SG_T/err"))"
    lines=$(wc -l <"$SG_T/err")
    [[ $lines -eq 1 ]] || sg_fail "launcher $*: $lines lines on stderr, expected 1: $(cat "$SG_T/err")"
    grep -Eq -- "$pat" "$SG_T/err" || sg_fail "launcher $*: stderr '$(cat "$SG_T/err")' lacks /$pat/"
    [[ ! -s "$SG_T/out" ]] || sg_fail "launcher $*: printed on stdout: $(head -c 200 "$SG_T/out")"
    [[ -z "$(ls -A "$W")" ]] || sg_fail "launcher $*: created $(ls -A "$W")"
}

expect_bad '--prosumers'        --prosumers abc
expect_bad '--prosumers'        --prosumers -1
expect_bad '--prosumers'        --prosumers 5000
expect_bad '--consumers'        --consumers 1.5
expect_bad '--consumers'        --consumers ''
expect_bad '--operators.*only one operator' --operators 2
expect_bad '--operators.*only one operator' --operators 0
expect_bad '--difficulty'       --difficulty 0
expect_bad '--difficulty'       --difficulty 64
expect_bad '--difficulty'       --difficulty four
expect_bad '--duration'         --duration -5
expect_bad '--duration'         --duration 10s
expect_bad '--db-port'          --db-port 0
expect_bad '--db-port'          --db-port 70000
expect_bad '--db-port'          --db-port x
expect_bad '--seed'             --seed -3
expect_bad '--base-port'        --base-port 80
expect_bad '--market'           --market dutch
expect_bad '--tick-ms'          --tick-ms 5
expect_bad '--feed-in-price.*--retail-price' --feed-in-price 500000 --retail-price 100000
expect_bad "unknown option '--bogus'" --bogus
expect_bad "unexpected argument 'extra'" extra
expect_bad '--difficulty expects'  --difficulty
expect_bad '--use-gpu takes no value' --use-gpu=1
expect_bad "--db-password-file.*cannot read" --db-password-file "$SG_T/does-not-exist"
expect_bad '--db-user'          --db-user ''
expect_bad '--run-dir'          --run-dir ''
expect_bad '--tick expects seconds from 0.1 to 3600' --tick 0.05
expect_bad '--tick expects seconds' --tick 1.2345
expect_bad '--tick expects seconds' --tick fast
expect_bad '--tick and --tick-ms both given' --tick 1 --tick-ms 1000
expect_bad '--start-time expects a date YYYY-MM-DD' --start-time 2024-13-01
expect_bad '--start-time expects' --start-time 2023-02-29
expect_bad '--start-time expects' --start-time 2024-06-21T25:00
expect_bad '--start-time expects' --start-time tomorrow
expect_bad '--battery-kwh expects kWh' --battery-kwh -3
expect_bad '--battery-kwh expects kWh' --battery-kwh 1.2345
expect_bad '--battery-kwh expects kWh' --battery-kwh big
# Profiles are read at start: a bad line is named with its number, the
# same words the daemons use.
printf '100\n200\nthree hundred\n' >"$SG_T/bad.csv"
printf '# only a comment\n' >"$SG_T/empty.csv"
expect_bad "--pv-profile $SG_T/bad.csv: line 3: expected Wh per 15-minute slot" \
    --pv-profile "$SG_T/bad.csv"
expect_bad "--load-profile $SG_T/empty.csv: line 2: expected Wh" --load-profile "$SG_T/empty.csv"
expect_bad "--load-profile $SG_T/none.csv: No such file" --load-profile "$SG_T/none.csv"
expect_bad '--pv-profile expects' --pv-profile ''
expect_bad '--hashrate expects RATE or NODE=RATE.*got .fast.' --hashrate fast
expect_bad '--hashrate expects' --hashrate p1=2x
expect_bad '--hashrate p7=\.\.\.: this run has no node p7 \(its nodes are op, p1\.\.p3, c1\.\.c5\)' \
    --hashrate 1M --hashrate p7=1M
# A directory that exists already is refused (the run would mix with it).
mkdir -p "$SG_T/existing"
expect_bad '--run-dir .* exists' --run-dir "$SG_T/existing"
# A port in use: the launcher names it.
sg_free_port || sg_fail "no free port"
port=$SG_FREE_PORT
# Listen with a plain daemon, with --no-mine, on that port.
sgnode_busy() {
    "$SGNODE" cluster-key --out "$SG_T/ck" >/dev/null
    pk=$("$SGNODE" keygen --out "$SG_T/opkey")
    "$SGNODE" genesis --out "$SG_T/g.txt" --operator-key "$pk" >/dev/null
    "$SGOPERATOR" --genesis "$SG_T/g.txt" --cluster-key "$SG_T/ck" --data-dir "$SG_T/busy" \
        --key "$SG_T/opkey" --listen "127.0.0.1:$port" --no-mine --log "$SG_T/busy.log" &
    SG_PID[busy]=$!
}
sgnode_busy
listens() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
sg_wait_for 60 "the port-holding daemon listening on $port" listens
(cd "$W" && exec "$LAUNCHER" --base-port "$port" --prosumers 0 --consumers 0 --bin-dir "$SG_T/bin" \
     >"$SG_T/out" 2>"$SG_T/err"); rc=$?
[[ $rc -eq 2 ]] || sg_fail "busy port: exit $rc, expected 2"
grep -q "port $port .*in use.*--base-port" "$SG_T/err" || sg_fail "busy port message: $(cat "$SG_T/err")"
[[ -z "$(ls -A "$W")" ]] || sg_fail "busy port: created $(ls -A "$W")"
sg_stop busy

# A MySQL server that refuses: nothing listens on the port, so the connect
# fails at start with one line and exit 2.
sg_free_port || sg_fail "no free port"
dbport=$SG_FREE_PORT
sg_free_port || sg_fail "no free port"
expect_bad 'MySQL|mysql|refused|connect' --db-host 127.0.0.1 --db-port "$dbport" \
    --db-password-file "$SG_T/pw" --prosumers 0 --consumers 0 --base-port "$SG_FREE_PORT"

[[ -z "$(sg_our_daemons "$SG_T")" ]] || sg_fail "a bad command line started a daemon"

# --help and --version succeed and start nothing.
(cd "$W" && "$LAUNCHER" --help >"$SG_T/out" 2>&1) || sg_fail "--help failed"
for o in --prosumers --consumers --operators --difficulty --duration --use-gpu --db-host \
         --db-port --db-user --db-password --db-password-file --db-name --seed --run-dir \
         --base-port --quiet --tick --tick-ms --start-time --battery-kwh --pv-profile \
         --load-profile; do
    grep -q -- "$o" "$SG_T/out" || sg_fail "--help does not mention $o"
done
grep -q "MYSQL_PWD" "$SG_T/out" || sg_fail "--help does not mention MYSQL_PWD"
(cd "$W" && "$LAUNCHER" --version >"$SG_T/out" 2>&1) || sg_fail "--version failed"
grep -Eq '^launcher [0-9]' "$SG_T/out" || sg_fail "--version printed $(cat "$SG_T/out")"
[[ -z "$(ls -A "$W")" ]] || sg_fail "--help/--version created $(ls -A "$W")"
# The pow subcommand is still dispatched.
"$LAUNCHER" pow --help >/dev/null 2>&1 || sg_fail "launcher pow --help failed"
sg_log "pass"
