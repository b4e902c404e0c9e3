#!/usr/bin/env bash
# Runs the benchmarks (`make bench`; never part of the tests).  Each section
# prints its own table or figures; docs/BENCHMARKS.md explains them.
#   BENCH_ONLY             sections to run, space or comma separated (default
#                          all): pow peer verify prop tx scenario scale
#   SG_BENCH_SECONDS       seconds per PoW / verify measurement (default 2)
#   BENCH_PROP_NODES       daemon counts for prop (default "10 50")
#   BENCH_PROP_BLOCKS      blocks per prop run (default 100), BENCH_PROP_DIFF (6)
#   BENCH_PROP_TXS         transfers per block for prop, each size run for every
#                          node count (default "0 1000"; 0: coinbase and orders)
#   BENCH_TX_NODES         daemon counts for tx (default "2 10"); BENCH_TX_SENDERS
#                          (256) x BENCH_TX_PER (100) transfers per run
#   BENCH_SCENARIO_SECONDS length of the default scenario (default 300)
#   BENCH_SCALE_NODES      daemons for scale (default 200), BENCH_SCALE_SECONDS (600)
#   CPUMINER               a cpuminer-opt binary: the peer section runs its
#                          sha256d benchmark and ours side by side (without
#                          it the section says it was skipped)
#   BENCH_PEER_SECONDS     seconds per peer measurement (default 15),
#   BENCH_PEER_ROUNDS      alternating rounds per thread count (3),
#   BENCH_PEER_THREADS     thread counts (default "1 2"), BENCH_PEER_IMPL (avx512)
#   B                      build directory holding tests/bench_* (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=$root/${B:-build}
only=" $(echo "${BENCH_ONLY:-pow peer verify prop tx scenario scale}" | tr ',' ' ') "
want() { [[ "$only" == *" $1 "* ]]; }
net() { B=${B:-build} bash "$root/scripts/bench_net.sh" "$@" || echo "(section failed: status $?)"; }

echo "== machine =="
echo "date: $(date -u +%Y-%m-%d)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) online"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

if want pow; then
    echo "== proof of work (tests/bench/bench_pow.c) =="
    "$bdir/tests/bench_pow" "${SG_BENCH_SECONDS:-2}"
    echo
fi
# cpuminer-opt's own benchmark (--time-limit makes it print "Benchmark: X
# MH/s" and exit), in MH/s.
peer_rate() {
    nice -n 0 "$CPUMINER" --benchmark -a sha256d -t "$1" --time-limit "$2" --no-color 2>&1 |
        sed -n 's/.*Benchmark: \([0-9.]*\) \([kMGT]\)\{0,1\}H\/s.*/\1 \2/p' | tail -n 1 |
        awk '{ f = $2 == "k" ? 1e-3 : $2 == "G" ? 1e3 : $2 == "T" ? 1e6 : $2 == "" ? 1e-6 : 1
               printf "%.2f", $1 * f }'
}
ours_rate() {
    nice -n 0 "$bdir/tests/bench_pow" "$2" "${BENCH_PEER_IMPL:-avx512}" "$1" |
        sed -n 's/^rate=\([0-9.]*\) MH\/s.*/\1/p'
}
# Rounds alternate which program goes first, so a neighbour's burst of load
# does not always land on the same one; both get the same priority.
peer_section() {
    local secs=${BENCH_PEER_SECONDS:-15} rounds=${BENCH_PEER_ROUNDS:-3} t r a b
    echo "cpuminer-opt: $CPUMINER ($("$CPUMINER" --version 2>&1 | head -n 1))"
    echo "ours: bench_pow ${BENCH_PEER_IMPL:-avx512}; $rounds rounds of $secs s each per thread count"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "| threads | round | cpuminer-opt MH/s | ours MH/s | ours / cpuminer-opt |"
    echo "|---------|-------|-------------------|-----------|---------------------|"
    for t in ${BENCH_PEER_THREADS:-1 2}; do
        local sa=0 sb=0
        for ((r = 1; r <= rounds; r++)); do
            if ((r % 2)); then
                a=$(peer_rate "$t" "$secs"); b=$(ours_rate "$t" "$secs")
            else
                b=$(ours_rate "$t" "$secs"); a=$(peer_rate "$t" "$secs")
            fi
            if [[ -z "$a" || -z "$b" ]]; then
                echo "| $t | $r | ${a:-failed} | ${b:-failed} | - |"
                continue
            fi
            sa=$(awk -v x="$sa" -v y="$a" 'BEGIN { print x + y }')
            sb=$(awk -v x="$sb" -v y="$b" 'BEGIN { print x + y }')
            awk -v t="$t" -v r="$r" -v a="$a" -v b="$b" \
                'BEGIN { printf "| %d | %d | %.2f | %.2f | %.3f |\n", t, r, a, b, b / a }'
        done
        awk -v t="$t" -v a="$sa" -v b="$sb" 'BEGIN { if (a > 0)
            printf "| %d | all | %.2f (sum) | %.2f (sum) | **%.3f** |\n", t, a, b, b / a }'
    done
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

if want peer; then
    echo "== side by side with cpuminer-opt, sha256d (scripts/bench.sh peer) =="
    if [[ -z "${CPUMINER:-}" ]]; then
        echo "skipped: no CPUMINER (make bench CPUMINER=/path/to/cpuminer-opt/cpuminer)"
    elif [[ ! -x "$CPUMINER" ]]; then
        echo "skipped: CPUMINER=$CPUMINER is not an executable file"
    else
        peer_section
    fi
    echo
fi
if want verify; then
    echo "== Ed25519 verification ceiling (tests/bench/bench_verify.c) =="
    "$bdir/tests/bench_verify" "${SG_BENCH_SECONDS:-2}"
    echo
fi
if want prop; then
    for n in ${BENCH_PROP_NODES:-10 50}; do
        for txs in ${BENCH_PROP_TXS:-0 1000}; do
            if ((txs > 0)); then size="blocks of $txs transfers"; else size="blocks of coinbase and orders"; fi
            echo "== block propagation and memory: $n daemons, $size (scripts/bench_net.sh prop) =="
            net prop "$n" "${BENCH_PROP_BLOCKS:-100}" "${BENCH_PROP_DIFF:-6}" "$txs"
            echo
        done
    done
fi
if want tx; then
    for n in ${BENCH_TX_NODES:-2 10}; do
        echo "== transaction throughput: $n daemons (scripts/bench_net.sh tx) =="
        net tx "$n" "${BENCH_TX_SENDERS:-256}" "${BENCH_TX_PER:-100}" 6
        echo
    done
fi
if want scenario; then
    echo "== default scenario, ${BENCH_SCENARIO_SECONDS:-300} s (scripts/bench_net.sh scenario) =="
    net scenario "${BENCH_SCENARIO_SECONDS:-300}"
    echo
fi
if want scale; then
    echo "== scale: ${BENCH_SCALE_NODES:-200} daemons (scripts/bench_net.sh scale) =="
    net scale "${BENCH_SCALE_NODES:-200}" "${BENCH_SCALE_SECONDS:-600}"
fi
