#!/usr/bin/env bash
# Runs the benchmarks (`make bench`; never part of the tests).  Each section
# prints its own table or figures; docs/BENCHMARKS.md explains them.
#   BENCH_ONLY             sections to run, space or comma separated (default
#                          all): pow verify prop tx scenario scale
#   SG_BENCH_SECONDS       seconds per PoW / verify measurement (default 2)
#   BENCH_PROP_NODES       daemon counts for prop (default "10 50")
#   BENCH_PROP_BLOCKS      blocks per prop run (default 100), BENCH_PROP_DIFF (6)
#   BENCH_PROP_TXS         transfers per block for prop, each size run for every
#                          node count (default "0 1000"; 0: coinbase and orders)
#   BENCH_TX_NODES         daemon counts for tx (default "2 10"); BENCH_TX_SENDERS
#                          (256) x BENCH_TX_PER (100) transfers per run
#   BENCH_SCENARIO_SECONDS length of the default scenario (default 300)
#   BENCH_SCALE_NODES      daemons for scale (default 200), BENCH_SCALE_SECONDS (600)
#   B                      build directory holding tests/bench_* (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=$root/${B:-build}
only=" $(echo "${BENCH_ONLY:-pow verify prop tx scenario scale}" | tr ',' ' ') "
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
    secs=${BENCH_SCENARIO_SECONDS:-300}
    echo "== default scenario, $secs s (scripts/bench_net.sh scenario) =="
    net scenario "$secs"
    echo
    echo "== the original's fixed difficulty, $secs s (scenario $secs --block-interval 0) =="
    net scenario "$secs" --block-interval 0 --difficulty 4
    echo
    echo "== 50 daemons, a block every 3 s, $secs s (scenario $secs --prosumers 25 --consumers 24 --block-interval 3) =="
    net scenario "$secs" --prosumers 25 --consumers 24 --block-interval 3
    echo
fi
if want scale; then
    echo "== scale: ${BENCH_SCALE_NODES:-200} daemons (scripts/bench_net.sh scale) =="
    net scale "${BENCH_SCALE_NODES:-200}" "${BENCH_SCALE_SECONDS:-600}"
fi
