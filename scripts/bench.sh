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
# bench_pow lives in the build directory; the GPU kernel library in bin/.
export SG_CUDA_LIB=${SG_CUDA_LIB:-$root/bin/sgcuda.so}
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
# MH/s" and exit) -> "HEADLINE AVERAGE CPU" in MH/s: the Benchmark figure
# (the rate of each thread's last scan, summed: a peak, higher than the
# average on a shared machine), its last "Total:" line (hashes over the whole
# seconds since start: the average, as bench_pow measures), and that average
# per second of CPU time the process got (scaled by wall/CPU time), which is
# what compares on a machine shared with other work.
peer_rate() {
    local out=$tmpd/peer.out tm=$tmpd/peer.time
    { TIMEFORMAT='%R %U %S'; time nice -n 0 "$CPUMINER" --benchmark -a sha256d -t "$1" \
        --time-limit "$2" --no-color >"$out" 2>&1; } 2>"$tm"
    awk -v tm="$(cat "$tm")" '
        function mh(v, u) { return v * (u == "kH/s" ? 1e-3 : u == "GH/s" ? 1e3 : u == "H/s" ? 1e-6 : 1) }
        / Benchmark: / { for (i = 1; i < NF; i++) if ($i == "Benchmark:") w = mh($(i + 1), $(i + 2)) }
        / Total: /     { for (i = 1; i < NF; i++) if ($i == "Total:") { u = $(i + 2); sub(",", "", u); tot = mh($(i + 1), u) } }
        END { split(tm, x, " "); if (w > 0 && tot > 0 && x[2] + x[3] > 0)
                  printf "%.2f %.2f %.2f\n", w, tot, tot * x[1] / (x[2] + x[3]) }' "$out"
}
ours_rate() {
    nice -n 0 "$bdir/tests/bench_pow" "$2" "${BENCH_PEER_IMPL:-avx512}" "$1" |
        sed -n 's/^rate=\([0-9.]*\) MH\/s.*cpu_rate=\([0-9.]*\).*/\1 \2/p'
}
# Rounds alternate which program goes first, so a neighbour's burst of load
# does not always land on the same one; both get the same priority.
peer_section() {
    local secs=${BENCH_PEER_SECONDS:-15} rounds=${BENCH_PEER_ROUNDS:-3} t r a b
    tmpd=$(mktemp -d); trap 'rm -rf "$tmpd"' EXIT
    echo "cpuminer-opt: $CPUMINER ($("$CPUMINER" --version 2>&1 | grep -m1 -o 'cpuminer-opt [0-9.]*'))"
    echo "ours: bench_pow ${BENCH_PEER_IMPL:-avx512}; $rounds rounds of $secs s each per thread count"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "| threads | round | cpuminer-opt Benchmark: | cpuminer-opt average | ours | ours / average | cpuminer-opt per CPU-s | ours per CPU-s | ours / cpuminer-opt per CPU-s |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for t in ${BENCH_PEER_THREADS:-1 2}; do
        local sums="0 0 0 0 0"
        for ((r = 1; r <= rounds; r++)); do
            if ((r % 2)); then
                a=$(peer_rate "$t" "$secs"); b=$(ours_rate "$t" "$secs")
            else
                b=$(ours_rate "$t" "$secs"); a=$(peer_rate "$t" "$secs")
            fi
            if [[ -z "$a" || -z "$b" ]]; then
                echo "| $t | $r | ${a:-failed} | | ${b:-failed} | - | | | - |"
                continue
            fi
            sums=$(awk -v s="$sums" -v a="$a" -v b="$b" 'BEGIN { split(s, x, " ");
                split(a, p, " "); split(b, q, " ");
                print x[1] + p[1], x[2] + p[2], x[3] + q[1], x[4] + p[3], x[5] + q[2] }')
            awk -v t="$t" -v r="$r" -v a="$a" -v b="$b" 'BEGIN { split(a, p, " "); split(b, q, " ");
                printf "| %d | %d | %.2f | %.2f | %.2f | %.3f | %.2f | %.2f | %.3f |\n",
                       t, r, p[1], p[2], q[1], q[1] / p[2], p[3], q[2], q[2] / p[3] }'
        done
        awk -v t="$t" -v s="$sums" 'BEGIN { split(s, x, " "); if (x[2] > 0 && x[4] > 0)
            printf "| %d | sum | %.2f | %.2f | %.2f | **%.3f** | %.2f | %.2f | **%.3f** |\n",
                   t, x[1], x[2], x[3], x[3] / x[2], x[4], x[5], x[5] / x[4] }'
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
