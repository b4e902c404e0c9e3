#!/usr/bin/env bash
# Runs the benchmarks (`make bench`; never part of the tests).  Each one
# prints its own table; add new ones as further sections below.
#   SG_BENCH_SECONDS   seconds per PoW measurement (default 2)
#   B                  build directory holding tests/bench_* (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=$root/${B:-build}

echo "== machine =="
echo "date: $(date -u +%Y-%m-%d)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) online"
echo

echo "== proof of work (tests/bench/bench_pow.c) =="
"$bdir/tests/bench_pow" "${SG_BENCH_SECONDS:-2}"
