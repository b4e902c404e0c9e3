#!/usr/bin/env bash
# `launcher pow` from the outside: exit codes 0/1/2, the two output lines,
# one clear stderr line for bad input, --use-gpu falling back to the CPU.
# Prints "PASS pow_cli" and exits 0, or "FAIL pow_cli: reason" and exits 1.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
launcher=${SG_TEST_BIN:-$root/bin}/launcher
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-powcli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL pow_cli: $*"; exit 1; }
[[ -x $launcher ]] || fail "$launcher not built (make)"

# Bitcoin mainnet genesis and block 100000, nonce field zeroed.
genesis=0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d00000000
b100000=0100000050120119172a610421a6c3011dd330d9df07b63616c2cc1f1cd00200000000006657a9252aacd5c0b2940996ecff952228c3067cc38d4885efb5a4ac4247e9f337221b4d4c86041b00000000
genesis_hash=000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f
rate_re='^rate=[0-9]+\.[0-9]{2} MH/s impl=(avx512|avx2|shani|generic|openssl|cuda) threads=[0-9]+$'

# run WANT_RC ARGS...: runs launcher, checks the exit status, keeps
# stdout in $tmp/out and stderr in $tmp/err.
run() {
    local want=$1; shift
    "$launcher" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    [[ $rc -eq $want ]] || fail "launcher $* exited $rc, want $want; stderr: $(head -c 300 "$tmp/err")"
}
line() { sed -n "${1}p" "$tmp/out"; }
nlines() { wc -l <"$1" | tr -d ' '; }

# Found: the true nonce and hash, then the rate line.
run 0 pow --header "$genesis" --start 2083236000 --count 2000
[[ $(line 1) == "found nonce=2083236893 hash=$genesis_hash" ]] || fail "genesis: got '$(line 1)'"
[[ $(line 2) =~ $rate_re ]] || fail "rate line: got '$(line 2)'"
[[ $(nlines "$tmp/out") -eq 2 ]] || fail "found: want 2 stdout lines"

run 0 pow --header "$b100000" --start=274147000 --count=2000 --impl generic --threads 1
[[ $(line 1) == "found nonce=274148111 hash=000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506" ]] ||
    fail "block 100000: got '$(line 1)'"
[[ $(line 2) == *" impl=generic threads=1" ]] || fail "impl/threads not reported: '$(line 2)'"

# Every kernel the machine has gives the same answer; the rest are refused.
for impl in avx512 avx2 shani generic openssl; do
    "$launcher" pow --header "$genesis" --start 2083236800 --count 200 --impl $impl \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [[ $rc -eq 0 ]]; then
        [[ $(line 1) == "found nonce=2083236893 hash=$genesis_hash" ]] || fail "$impl: '$(line 1)'"
        [[ $(line 2) == *" impl=$impl "* ]] || fail "$impl: '$(line 2)'"
    else
        [[ $rc -eq 2 ]] && grep -q "not available" "$tmp/err" || fail "$impl: exit $rc"
    fi
done

# Not found.
run 1 pow --header "$genesis" --start 2083236894 --count 3000 --threads 2
[[ $(line 1) == "not found" ]] || fail "not found: got '$(line 1)'"
[[ $(line 2) =~ $rate_re ]] || fail "not found: rate line '$(line 2)'"

# Easy targets: --difficulty 1 (a leading zero hex digit) and --bits.
run 0 pow --header "$genesis" --difficulty 1 --count 100000
[[ $(line 1) =~ ^found\ nonce=[0-9]+\ hash=0[0-9a-f]{63}$ ]] || fail "difficulty 1: '$(line 1)'"
run 0 pow --header "$genesis" --bits 0x207fffff --count 1000 --threads 1
[[ $(line 1) =~ ^found\ nonce=[0-9]+\ hash=[0-7][0-9a-f]{63}$ ]] || fail "bits 207fffff: '$(line 1)'"

# --use-gpu: the GPU where there is one, else one warning line and the CPU.
run 0 pow --header "$genesis" --start 2083236800 --count 200 --use-gpu
[[ $(line 1) == "found nonce=2083236893 hash=$genesis_hash" ]] || fail "--use-gpu: '$(line 1)'"
if [[ $(line 2) != *" impl=cuda "* ]]; then
    [[ $(nlines "$tmp/err") -eq 1 ]] && grep -q "warning: --use-gpu" "$tmp/err" ||
        fail "--use-gpu without a GPU: want one warning line, got '$(cat "$tmp/err")'"
fi

# Bad input: exit 2, nothing on stdout, one line on stderr naming the problem.
bad() {
    local want=$1; shift
    run 2 "$@"
    [[ -s $tmp/out ]] && fail "launcher $*: printed to stdout on bad input"
    [[ $(nlines "$tmp/err") -eq 1 ]] || fail "launcher $*: want one stderr line, got '$(cat "$tmp/err")'"
    grep -qF -- "$want" "$tmp/err" || fail "launcher $*: stderr '$(cat "$tmp/err")' lacks '$want'"
}
bad "launcher pow: --header must be 160 hex digits (an 80-byte block header); got 12" \
    pow --header 0123456789ab
bad "--header must be 160 hex digits" pow --header "${genesis:0:159}x"
bad "--header is required" pow --start 5
bad "--start must be a nonce from 0 to 4294967295; got '4294967296'" \
    pow --header "$genesis" --start 4294967296
bad "--start must be" pow --header "$genesis" --start -1
bad "--count must be a number of nonces from 1 to 4294967296; got '0'" \
    pow --header "$genesis" --count 0
bad "--bits must be a compact target" pow --header "$genesis" --bits xyz
bad "--bits 0x00800000 is not a usable compact target" pow --header "$genesis" --bits 00800000
bad "--difficulty must be" pow --header "$genesis" --difficulty 64
bad "give --bits or --difficulty, not both" pow --header "$genesis" --bits 1d00ffff --difficulty 2
bad "--threads must be from 1 to" pow --header "$genesis" --threads 0
bad "--impl must be one of" pow --header "$genesis" --impl fastest
bad "unknown option '--nonce'" pow --header "$genesis" --nonce 5
bad "--count needs a value" pow --header "$genesis" --count

# The dispatcher around it.
run 0 --version
[[ $(line 1) == launcher\ * ]] || fail "--version: '$(line 1)'"
run 0 pow --help
grep -q "^usage: launcher pow" "$tmp/out" || fail "pow --help: '$(line 1)'"

echo "PASS pow_cli"
