#!/usr/bin/env bash
# scripts/bench_net.sh SECTION [ARGS] - network benchmarks with real daemons
# on loopback, run by scripts/bench.sh (`make bench`); never part of the tests.
#
#   prop N BLOCKS DIFF [TXS]
#                        N daemons (node n0 the only miner, the others
#                        --no-mine), each dialling n0 and its predecessor,
#                        discovery on.  Once every node has a peer, n0 mines
#                        BLOCKS blocks; for each, the delay from its
#                        acceptance at n0 (logged inside the submit of the
#                        found block) to its acceptance at the last node is
#                        read from the daemons' millisecond log timestamps
#                        (one host, one clock).  Also prints every daemon's
#                        resident size idle (connected, before mining) and
#                        its peak (VmHWM) after the run.  TXS > 0: blocks
#                        of TXS transfers plus the coinbase (n0 runs with
#                        --max-block-txs TXS+1); about BLOCKS*TXS signed
#                        transfers are injected (bench_txinject, into n1)
#                        and gossiped to every node before mining, in
#                        batches the mempool holds (PROP_BATCH_TXS), mining
#                        paused between batches.  TXS 0 (the default):
#                        blocks carry the coinbase and the households'
#                        market orders.
#   scale N SECONDS      N daemons started by the launcher as a user would
#                        (`bin/launcher --prosumers N/2 --consumers N-1-N/2
#                        --duration SECONDS`, every other option at its
#                        default but the run directory and a free base
#                        port), then each figure beside its target: time
#                        from the start to every node connected (the
#                        launcher's clock starts then; target 60 s),
#                        restarts (0), one tip at the end, stale rate
#                        (<= 5 %), market intervals settled of those due,
#                        daemons left running after the launcher exits (0),
#                        and resident size per daemon sampled near the end
#                        of the running phase (target 8 MiB, set for 50).
#                        `make bench` runs `scale 200 600`
#                        (BENCH_SCALE_NODES, BENCH_SCALE_SECONDS=120 for
#                        the short run).
#
# Every daemon, and the temp dir, go away on exit (tests/integration/lib.sh's
# trap), whatever happens.
set -u
source "$(cd "$(dirname "$0")/.." && pwd)/tests/integration/lib.sh"

# Milliseconds since an arbitrary epoch from "YYYY-MM-DDTHH:MM:SS.mmmZ"
# (plain awk arithmetic: mawk has no mktime).
AWK_MS='function ms(t,  y, m, d, days) {
    y = substr(t, 1, 4) + 0; m = substr(t, 6, 2) + 0; d = substr(t, 9, 2) + 0
    if (m <= 2) { y--; m += 12 }
    days = 365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (m - 3) + 2) / 5) + d
    return ((days * 24 + substr(t, 12, 2)) * 60 + substr(t, 15, 2)) * 60000 + \
           substr(t, 18, 2) * 1000 + substr(t, 21, 3)
}'

# percentiles FILE: p50 p90 p99 max of one number a line (nearest rank).
percentiles() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n=0"; exit }
        split("50 90 99", q, " ")
        for (i = 1; i <= 3; i++) { r = int((q[i] * NR + 99) / 100); printf "p%s=%d ", q[i], v[r] }
        printf "max=%d n=%d\n", v[NR], NR }'
}

# rss_kib PID FIELD: VmRSS or VmHWM in KiB.
rss_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

# rss_summary FIELD NAME...: min/median/max over the named daemons, MiB.
rss_summary() {
    local field=$1 n; shift
    for n in "$@"; do rss_kib "${SG_PID[$n]}" "$field"; done | sort -n |
        awk '{ v[NR] = $1 } END { printf "min=%.1f median=%.1f max=%.1f MiB (n=%d)\n",
             v[1] / 1024, v[int((NR + 1) / 2)] / 1024, v[NR] / 1024, NR }'
}

cpu_load() { cut -d' ' -f1-3 /proc/loadavg; }

# These read /proc with shell builtins only: on a busy host a snapshot of
# ten daemons made of subprocesses took seconds, long enough to skew it.
# ticks_of FILE VAR: user + system CPU time in clock ticks from a stat file
# (fields 14 and 15; the command name in parentheses may hold spaces).
ticks_of() {
    local line f
    if ! read -r line <"$1" 2>/dev/null; then printf -v "$2" 0; return; fi
    line=${line##*) }
    read -ra f <<<"$line"
    printf -v "$2" '%d' $(( f[11] + f[12] ))
}
# loop_ticks PID VAR: the daemon's loop thread (the one whose id is the PID).
loop_ticks() { ticks_of "/proc/$1/task/$1/stat" "$2"; }
# cpu_ticks PID VAR: the whole daemon but its mining threads (named
# sg-miner): the loop and the thread pool that checks signatures.  The
# process total counts threads that have ended too; mining threads never
# end early.
cpu_ticks() {
    local t comm total miner=0 one
    ticks_of "/proc/$1/stat" total
    for t in /proc/"$1"/task/*; do
        read -r comm <"$t/comm" 2>/dev/null || continue
        [[ $comm == sg-miner ]] || continue
        ticks_of "$t/stat" one
        miner=$((miner + one))
    done
    printf -v "$2" '%d' $((total - miner))
}

# BENCH_PERF_DIR=DIR: record every daemon with `perf record` (DWARF stacks) while the
# transfers flow (DIR/NAME.perf), for `perf report -i`.
perf_start() {
    local n
    [[ -n "${BENCH_PERF_DIR:-}" ]] || return 0
    mkdir -p "$BENCH_PERF_DIR"
    for n in "$@"; do
        perf record -q --call-graph dwarf,8192 -F 199 -p "${SG_PID[$n]}" -o "$BENCH_PERF_DIR/$n.perf" \
            >/dev/null 2>&1 &
        SG_PID[perf_$n]=$!
    done
}
perf_stop() {
    local n
    [[ -n "${BENCH_PERF_DIR:-}" ]] || return 0
    for n in "$@"; do kill -INT "${SG_PID[perf_$n]}" 2>/dev/null; done
    for n in "$@"; do wait "${SG_PID[perf_$n]}" 2>/dev/null; unset "SG_PID[perf_$n]"; done
}

# Listening ports from a random start below the ephemeral range (32768 up):
# with thousands of links, lib.sh's random high ports can meet an outbound
# connection's local port and the daemon cannot listen.
BENCH_PORT=$(( 20000 + RANDOM % 8000 ))
next_port() {
    while :; do
        BENCH_PORT=$((BENCH_PORT + 1))
        (exec 3<>"/dev/tcp/127.0.0.1/$BENCH_PORT") 2>/dev/null || return 0
    done
}

# start_nodes N all|none [ARG...]: the ARGs go to n0 only.
start_nodes() {
    local nodes=$1 mine=$2 i args
    shift 2
    for ((i = 0; i < nodes; i++)); do
        next_port
        SG_PORT[n$i]=$BENCH_PORT
        args=(--mining-threads 1)
        [[ $mine == all ]] || args+=(--no-mine)
        ((i == 0)) && args+=("$@")
        ((i > 0)) && args+=(--peer "$(sg_addr n0)")
        ((i > 1)) && args+=(--peer "$(sg_addr "n$((i - 1))")")
        sg_start "n$i" consumer "${args[@]}"
    done
}

# Transfers a prop batch may hold: the mempool keeps CHAIN_MEMPOOL_TXS
# (50,000), and the households' orders need room too.  BENCH_PROP_BATCH_TXS
# lowers it (to try the batching quickly).
PROP_BATCH_TXS=${BENCH_PROP_BATCH_TXS:-40000}
PROP_PER=250                      # nonces per sender, within the mempool's window of 256

# prop_genesis NAMES...: like sg_cluster, plus PROP_SENDERS injector senders
# funded (their keys from bench_txinject keys).
prop_genesis() {
    fund_injector "$PROP_INJECT" "$PROP_SENDERS"
    sg_cluster "$PROP_DIFF" "$@"
}

# fund_injector INJECT SENDERS: the next sg_cluster's genesis also funds the
# injector's first SENDERS accounts.
fund_injector() {
    local pk
    SG_EXTRA_ALLOCS=()
    while read -r pk; do SG_EXTRA_ALLOCS+=(--alloc "$pk=1000000000"); done \
        < <("$1" keys --count "$2")
}

# True if every named node's mempool holds at least N transactions.
all_mempool_ge() { sg_all_stat_ge mempool_txs "$@"; }

# prop_inject FIRST SENDERS PER NAMES...: SENDERS x PER transfers into n1
# (n0 when alone); returns once n0's mempool holds them and, waiting at most
# 300 s more, every node's.  Prints one line of timings.
prop_inject() {
    local first=$1 senders=$2 per=$3 want t0 t1 t2 every; shift 3
    local to=n0
    [[ $# -gt 1 ]] && to=n1
    want=$((senders * per))
    t0=$(date +%s.%N)
    "$PROP_INJECT" send --connect "$(sg_addr "$to")" --cluster-key "$SG_T/cluster.key" \
        --genesis "$SG_T/genesis.txt" --first "$first" --count "$senders" --per "$per" \
        --linger-ms 1200000 >"$SG_T/inject.out" 2>&1 &
    SG_PID[inject]=$!
    sg_wait_for 900 "n0's mempool holding $want transfers" all_mempool_ge "$want" n0
    t1=$(date +%s.%N)
    if sg_wait_for_quiet 300 all_mempool_ge "$want" "$@"; then every=yes; else every=no; fi
    t2=$(date +%s.%N)
    kill "${SG_PID[inject]}" 2>/dev/null
    wait "${SG_PID[inject]}" 2>/dev/null
    unset "SG_PID[inject]"
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v w="$want" -v e="$every" -v n="$#" 'BEGIN {
        printf "  %d transfers: in n0'"'"'s mempool %.1f s after the injection began, ", w, b - a
        if (e == "yes") printf "in all %d mempools after %.1f s\n", n, c - a
        else printf "NOT in all %d mempools after %.1f s (mining anyway)\n", n, c - a }'
}

bench_prop() {
    local nodes=$1 blocks=$2 diff=$3 txs=$4 names=() i h0 t0 t1 n0args=()
    local batch_blocks=$blocks senders=0 b left nb cnt s p first
    local -a bsend=() bper=() bblocks=()
    for ((i = 0; i < nodes; i++)); do names+=("n$i"); done
    sg_setup
    if ((txs > 0)); then
        PROP_INJECT=$SG_ROOT/${B:-build}/tests/bench_txinject
        [[ -x $PROP_INJECT ]] || sg_skip "$PROP_INJECT not built (make bench builds it)"
        ((txs < PROP_BATCH_TXS)) && batch_blocks=$((PROP_BATCH_TXS / txs)) || batch_blocks=1
        # Batches of batch_blocks blocks, each with its own senders (nonces
        # from 0): S senders x P nonces, about the batch's blocks x TXS.
        for ((left = blocks; left > 0; left -= nb)); do
            nb=$((left < batch_blocks ? left : batch_blocks))
            cnt=$((nb * txs))
            s=$(((cnt + PROP_PER - 1) / PROP_PER))
            p=$(((cnt + s - 1) / s))
            bblocks+=("$nb"); bsend+=("$s"); bper+=("$p")
            senders=$((senders + s))
        done
        PROP_SENDERS=$senders PROP_DIFF=$diff prop_genesis "${names[@]}"
        n0args=(--max-block-txs $((txs + 1)))
    else
        sg_cluster "$diff" "${names[@]}"
        bblocks=("$blocks")
    fi
    start_nodes "$nodes" none "${n0args[@]}"
    sg_wait_for 300 "every node has a peer" sg_all_peers_ge 1 "${names[@]}"
    sleep 5                       # discovery settles; then idle sizes
    echo "load average before: $(cpu_load)"
    echo "peers per node: $(for n in "${names[@]}"; do sg_stat "$n" peers; done | sort -n |
        awk '{ v[NR] = $1 } END { printf "min=%d max=%d", v[1], v[NR] }')"
    echo "rss idle (connected, not mining): $(rss_summary VmRSS "${names[@]}")"
    h0=$(sg_stat n0 height)
    ((txs > 0)) && echo "blocks of $txs transfers + coinbase, ${#bblocks[@]} batch(es) of injected transfers:"
    t0=$(date +%s)
    first=0
    for ((b = 0; b < ${#bblocks[@]}; b++)); do
        if ((txs > 0)); then
            prop_inject "$first" "${bsend[b]}" "${bper[b]}" "${names[@]}"
            first=$((first + bsend[b]))
        fi
        local h=$(sg_stat n0 height)
        sg_start_mining n0
        sg_wait_for 1800 "n0 at height $((h + bblocks[b]))" sg_all_height_ge $((h + bblocks[b])) n0
        sg_stop_mining n0
        sg_wait_for 300 "one tip everywhere" sg_same_tip "${names[@]}"
    done
    t1=$(date +%s)
    local note=""
    ((txs > 0)) && note=" (injection and mempool waits included)"
    echo "mined $(( $(sg_stat n0 height) - h0 )) blocks in $((t1 - t0)) s at difficulty $diff$note"
    echo "rss peak (VmHWM) after the run: $(rss_summary VmHWM "${names[@]}")"
    echo "rss now: $(rss_summary VmRSS "${names[@]}")"
    echo "load average after: $(cpu_load)"
    # One line per (node, block): "file hash ms txs"; n0's acceptance is
    # the find.  With TXS, only blocks that carry TXS transfers count: the
    # ones found after a batch ran out (mining stops a moment late) are
    # left out and counted apart.
    for n in "${names[@]}"; do
        awk "$AWK_MS"' / accepted at height / { t = $(NF - 1); sub(/\(/, "", t); print FILENAME, $5, ms($1), t }' \
            "$SG_T/$n.log"
    done | awk -v n0="$SG_T/n0.log" -v want="$nodes" -v min=$((txs > 0 ? txs + 1 : 0)) \
               -v short="$SG_T/short" '
        $1 == n0 { found[$2] = $3; txs[$2] = $4; next }
        { if (!($2 in last) || $3 > last[$2]) last[$2] = $3; cnt[$2]++ }
        END { for (h in found) if (cnt[h] == want - 1) {
                  if (txs[h] >= min) print last[h] - found[h]; else ns++ }
              print ns + 0 >short }' >"$SG_T/delays"
    echo "propagation to every node, ms$( ((txs > 0)) && echo " (blocks of $txs+ transfers)"):" \
         "$(percentiles "$SG_T/delays")"
    ((txs > 0)) && echo "blocks with fewer transfers (after a batch ran out), not counted: $(cat "$SG_T/short")"
    # Compact block relay (relay_int.h), summed over the receiving nodes.
    echo "compact blocks at n1..: $(for n in "${names[@]:1}"; do sg_stats "$n"; done |
        awk -F= '/^cmpct_(in|rebuilt|blocktxn|fallback)=/ { s[$1] += $2 } END {
            printf "%d received, %d rebuilt from the mempool alone, %d after GETBLOCKTXN, %d fell back to the whole block",
                s["cmpct_in"], s["cmpct_rebuilt"], s["cmpct_blocktxn"], s["cmpct_fallback"] }')"
    # Copies: each announced transaction is asked of one peer at a time
    # (relay_txreq.h), so a daemon should receive each about once.
    echo "transactions received at n1..: $(for n in "${names[@]:1}"; do sg_stats "$n"; done |
        awk -F= '/^txs_(in|dup)=/ { s[$1] += $2 } END {
            printf "%d, of which %d copies of one already here (%.1f %%)", s["txs_in"], s["txs_dup"],
                s["txs_in"] ? 100 * s["txs_dup"] / s["txs_in"] : 0 }')"
    echo "transactions per block at n0 (coinbase included): $(accepted_lines n0 | cut -d' ' -f2 |
        sort -n | awk '{ v[NR] = $1 } END { printf "min=%d median=%d max=%d", v[1], v[int((NR + 1) / 2)], v[NR] }')"
}

# verdict OK: "pass" or "FAIL".
verdict() { if [[ $1 -eq 1 ]]; then echo pass; else echo FAIL; fi; }

# scale_sample T0 DIR LPID PREV_VAR: one timeline row for bench_scale (what
# grows over a long run): seconds since T0, the load average, the CPU split
# since the previous row (/proc/stat: user+nice, system, idle, I/O wait,
# steal), the launcher's table clock, RSS and CPU seconds, the daemons'
# summed RSS, and
# the run directory's size.  PREV_VAR holds the previous /proc/stat line.
scale_sample() {
    local t0=$1 dir=$2 lpid=$3 prevname=$4 cur split lt lrss drss du lcpu
    read -r cur </proc/stat
    split=$(awk -v a="${!prevname}" -v b="$cur" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); tot = 0
        for (i = 2; i <= n; i++) { d[i] = y[i] - x[i]; tot += d[i] }
        if (tot <= 0) tot = 1
        printf "%3.0f %3.0f %3.0f %3.0f %3.0f", 100 * (d[2] + d[3]) / tot, 100 * (d[4] + d[7] + d[8]) / tot,
               100 * d[5] / tot, 100 * d[6] / tot, 100 * d[9] / tot }')
    printf -v "$prevname" '%s' "$cur"
    lt=$(grep -a '^t=' "$dir/../launcher.out" 2>/dev/null | tail -1); lt=${lt#t=}; lt=${lt%%s/*}
    lrss=$(rss_kib "$lpid" VmRSS)
    drss=$(for p in $(pgrep -f -- "--data-dir $dir/"); do rss_kib "$p" VmRSS; done |
        awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
    du=$(du -sm "$dir" 2>/dev/null | cut -f1)
    ticks_of "/proc/$lpid/stat" lcpu
    printf '%6.0f %-16s %s %8s %8.1f %8.0f %8s %6s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" \
        "$(cpu_load | tr ' ' '/')" "$split" "${lt:--}" "$(awk -v k="${lrss:-0}" 'BEGIN { print k / 1024 }')" \
        "$((lcpu / $(getconf CLK_TCK)))" "${drss:-0}" "${du:-0}"
}

bench_scale() {
    local nodes=$1 secs=$2 pros cons base dir out lpid t0 t_conn="" rss="" line
    local launcher=$SG_ROOT/bin/launcher
    [[ -x $launcher ]] || sg_skip "$launcher not built (run make)"
    pros=$((nodes / 2)); cons=$((nodes - 1 - pros))
    sg_setup
    dir=$SG_T/run; out=$SG_T/launcher.out
    echo "load average before: $(cpu_load)"
    # A base port below the kernel's ephemeral range (32768+): a daemon's
    # outgoing connection could otherwise take a later daemon's listening
    # port.  Another program's port in the range makes the launcher exit 2
    # before it creates the run directory: then another range is tried.
    for _ in 1 2 3 4 5; do
        base=$(( 20000 + RANDOM % (12000 - nodes) ))
        t0=$EPOCHREALTIME
        "$launcher" --prosumers "$pros" --consumers "$cons" --duration "$secs" \
            --run-dir "$dir" --base-port "$base" <&- >"$out" 2>&1 &
        lpid=$!
        SG_PID[launcher]=$lpid
        while [[ ! -e $dir ]] && kill -0 "$lpid" 2>/dev/null; do sleep 0.2; done
        [[ -e $dir ]] && break
        wait "$lpid"
        grep -q "in use" "$out" || break
    done
    # The table's lines (stdout is not a terminal): the phase leaves
    # "connecting" when every daemon has a peer (or after 60 s, with a
    # line saying so); the resident sizes are read in the last 10 s of the
    # run (ramping or running), while every daemon still runs.
    local timeline=$SG_T/timeline prev_stat next_sample=0 now
    read -r prev_stat </proc/stat
    printf '%6s %-16s %3s %3s %3s %3s %3s %8s %8s %8s %8s %6s\n' secs load usr sys idl iow stl \
        "table_t" "lnch_MiB" "lnch_cpu" "dmns_MiB" "dir_MB" >"$timeline"
    while kill -0 "$lpid" 2>/dev/null; do
        now=$(date +%s)
        if (( now >= next_sample )); then
            scale_sample "$t0" "$dir" "$lpid" prev_stat >>"$timeline"
            next_sample=$((now + ${BENCH_SCALE_SAMPLE_S:-30}))
        fi
        line=$(grep -a '^t=' "$out" | tail -1)
        if [[ -z $t_conn && -n $line && $line != *phase=connecting* ]]; then
            t_conn=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
        fi
        if [[ -z $rss && ($line == *phase=running* || $line == *phase=ramping*) ]]; then
            local el=${line#t=}; el=${el%%s/*}
            if (( el >= secs - 10 )); then
                rss=$(for p in $(pgrep -f -- "--data-dir $dir/"); do rss_kib "$p" VmRSS; done | sort -n |
                    awk '{ v[NR] = $1 } END { if (NR) printf "min=%.1f median=%.1f max=%.1f MiB (n=%d)",
                         v[1] / 1024, v[int((NR + 1) / 2)] / 1024, v[NR] / 1024, NR }')
            fi
        fi
        sleep 1
    done
    wait "$lpid"
    local rc=$? left restarts stale_pm one_tip due n_due n_set med_kib
    left=$(pgrep -fc -- "$dir/" || true)
    local summ; summ=$(grep -a '^run .* restarts' "$out" | tail -1)
    restarts=$(sed -n 's/.* \([0-9]*\) restarts.*/\1/p' <<<"$summ")
    q() { sqlite3 -cmd ".timeout 5000" "$dir/run.db" "$1"; }
    # The launcher's own figure (its summary line), from the same blocks.
    stale_pm=$(sed -n 's/.*stale rate \([0-9]*\)\.\([0-9]\) %.*/\1\2/p' <<<"$summ")
    one_tip=$(q "SELECT COUNT(DISTINCT height) = 1 AND MIN(height) =
                  (SELECT MAX(height) FROM blocks WHERE stale = 0) FROM nodes")
    grep -aq 'did not agree on one tip' "$out" && one_tip=0
    due=$(sg_due_intervals_sql "$dir")
    n_due=$(q "SELECT COUNT(*) FROM ($due)")
    n_set=$(q "SELECT COUNT(*) FROM market_intervals WHERE settled_ms IS NOT NULL
                AND interval_no IN ($due)")
    med_kib=$(sed -n 's/.*median=\([0-9.]*\).*/\1/p' <<<"$rss")
    echo "launcher exit status $rc; $summ"
    grep -a '^launcher: ' "$out" | grep -v '^launcher: run ' | head -20
    printf '%-34s %-22s %-12s %s\n' figure value target verdict
    printf '%-34s %-22s %-12s %s\n' "start to all connected" "${t_conn:-never} s" "<= 60 s" \
        "$(verdict "$([[ -n $t_conn ]] && ! grep -aq 'not every daemon connected' "$out" &&
                       awk -v t="$t_conn" 'BEGIN { exit !(t <= 60) }' && echo 1)")"
    printf '%-34s %-22s %-12s %s\n' "restarts" "${restarts:-?}" "0" "$(verdict "$([[ ${restarts:-1} -eq 0 ]] && echo 1)")"
    printf '%-34s %-22s %-12s %s\n' "one tip at the end" "$([[ $one_tip -eq 1 ]] && echo yes || echo no)" \
        "yes" "$(verdict "$one_tip")"
    printf '%-34s %-22s %-12s %s\n' "stale rate" "$(awk -v p="${stale_pm:-0}" 'BEGIN { printf "%.1f %%", p / 10 }')" \
        "<= 5 %" "$(verdict "$([[ -n $stale_pm && $stale_pm -le 50 ]] && echo 1)")"
    printf '%-34s %-22s %-12s %s\n' "intervals settled / due" "$n_set / $n_due" "all" \
        "$(verdict "$([[ $n_due -gt 0 && $n_set -eq $n_due ]] && echo 1)")"
    printf '%-34s %-22s %-12s %s\n' "daemons left running" "$left" "0" "$(verdict "$([[ $left -eq 0 ]] && echo 1)")"
    # The 8 MiB target is for idle daemons (the prop section measures it);
    # this is under load, near the end, for the record.
    printf '%-34s %-22s %-12s %s\n' "RSS per daemon near the end" "${med_kib:-?} MiB" "-" "(info)"
    echo "rss near the end: ${rss:-not sampled}"
    # Where the time went, to find what grows in a long run: the CPU split
    # (percent of both cores), the launcher's table clock against the wall
    # (a lagging launcher), memory and disk.
    echo "timeline (every ${BENCH_SCALE_SAMPLE_S:-30} s):"
    cat "$timeline"
    # Stale blocks by the minute they were first seen (launcher clock).
    echo "blocks and stale blocks per minute of the run:"
    q "SELECT (first_seen_ms - (SELECT MIN(first_seen_ms) FROM blocks WHERE height > 0)) / 60000 AS minute,
              COUNT(*), SUM(stale), printf('%.1f %%', 100.0 * SUM(stale) / COUNT(*))
       FROM blocks WHERE height > 0 GROUP BY minute ORDER BY minute" | tr '|' ' ' |
        awk 'BEGIN { printf "%6s %6s %6s %8s\n", "minute", "blocks", "stale", "rate" }
             { printf "%6s %6s %6s %6s %%\n", $1, $2, $3, $4 }'
    echo "load average after: $(cpu_load)"
}

# Like sg_wait_for but returns 1 instead of failing the run.
sg_wait_for_quiet() {
    local secs=$1; shift
    local deadline=$(( $(date +%s) + secs ))
    until "$@"; do
        [[ $(date +%s) -ge $deadline ]] && return 1
        sleep 1
    done
}

# accepted_lines NODE: "ms txs" for each block NODE accepted.
accepted_lines() {
    awk "$AWK_MS"' / accepted at height / { sub(/\(/, "", $(NF - 1)); print ms($1), $(NF - 1) }' \
        "$SG_T/$1.log"
}

bench_tx() {
    local nodes=$1 senders=$2 per=$3 diff=$4 names=() i pk t_inj h0 total vrate bound
    local inject=$SG_ROOT/${B:-build}/tests/bench_txinject
    local verify=$SG_ROOT/${B:-build}/tests/bench_verify
    [[ -x $inject ]] || sg_skip "$inject not built (make bench builds it)"
    [[ -x $verify ]] || sg_skip "$verify not built (make bench builds it)"
    for ((i = 0; i < nodes; i++)); do names+=("n$i"); done
    sg_setup
    fund_injector "$inject" "$senders"
    sg_cluster "$diff" "${names[@]}"
    start_nodes "$nodes" none
    sg_wait_for 300 "every node has a peer" sg_all_peers_ge 1 "${names[@]}"
    sleep 3
    echo "load average before: $(cpu_load)"
    # The bound of this run, measured in it: every daemon checks every
    # transfer's signature once, so all cores together manage at most
    # cores x (one core's checks per second) / daemons transfers a second.
    # One core's rate is per second of CPU time, which a busy host does not
    # depress.
    vrate=$("$verify" "${SG_BENCH_SECONDS:-2}" single | sed -n 's/^verify_cpu_rate=\([0-9]*\).*/\1/p')
    [[ -n $vrate ]] || sg_fail "bench_verify single gave no rate"
    bound=$(awk -v r="$vrate" -v c="$(nproc)" -v n="$nodes" 'BEGIN { printf "%.0f", c * r / n }')
    echo "signature bound: $(nproc) cores x $vrate checks/s (one core, per CPU-s, tx_verify_sig) / $nodes daemons = $bound tx/s"
    h0=$(sg_stat n0 height)
    sg_start_mining n0
    sg_wait_for 120 "a first block" sg_all_height_ge $((h0 + 1)) n0
    total=$((senders * per))
    # Into n1, a node that does not mine: every transfer crosses the network.
    # The injector signs everything first and prints start=TIME as the
    # first transfer goes out: the clock starts there.
    "$inject" send --connect "$(sg_addr n1)" --cluster-key "$SG_T/cluster.key" \
        --genesis "$SG_T/genesis.txt" --count "$senders" --per "$per" --linger-ms 600000 \
        >"$SG_T/inject.out" 2>&1 &
    SG_PID[inject]=$!
    local deadline=$(( $(date +%s) + 300 ))
    until grep -q '^start=' "$SG_T/inject.out" 2>/dev/null; do
        (( $(date +%s) < deadline )) || sg_fail "the injector never started sending: $(cat "$SG_T/inject.out")"
        kill -0 "${SG_PID[inject]}" 2>/dev/null || sg_fail "the injector ended: $(cat "$SG_T/inject.out")"
        sleep 0.02
    done
    local -A cpu0=() loop0=()
    local v
    for n in "${names[@]}"; do
        cpu_ticks "${SG_PID[$n]}" v; cpu0[$n]=$v
        loop_ticks "${SG_PID[$n]}" v; loop0[$n]=$v
    done
    perf_start "${names[@]}"
    t_inj=$(sed -n 's/^start=//p' "$SG_T/inject.out")
    # Done once n0's blocks since the injection hold them all (market orders
    # from the households ride along and are counted too).
    # Also noted: when n0 first held them all (in its mempool or in its
    # blocks), which times the relay alone, not the luck of the miner.
    local got=0 pool t_pool=""
    deadline=$(( $(date +%s) + 600 ))
    while (( $(date +%s) < deadline )); do
        got=$(accepted_lines n0 | awk -v t0="$(echo "$t_inj" | awk "$AWK_MS"' { print ms($1) }')" \
            '$1 >= t0 { s += $2 - 1 } END { print s + 0 }')
        (( got >= total )) && break
        if [[ -z $t_pool ]]; then
            pool=$(sg_stat n0 mempool_txs)
            (( got + ${pool:-0} >= total )) && t_pool=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
        fi
        sleep 0.2
    done
    [[ -n $t_pool ]] || t_pool=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
    local relay_rate
    relay_rate=$(printf '%s\n%s\n' "$t_inj" "$t_pool" | awk "$AWK_MS"' { t[NR] = ms($1) } END {
            d = t[2] - t[1] > 0 ? t[2] - t[1] : 1; printf "%.2f %.0f", d / 1000, n * 1000 / d }' n="$total")
    echo "all transfers at the miner (mempool or blocks, polled every 0.2 s): ${relay_rate% *} s after the first injection, ${relay_rate#* } tx/s"
    sg_stop_mining n0
    # The others may still be catching up (n0 had it all first): the CPU
    # figures below are the whole network's work, so they wait for every
    # node to hold n0's blocks.
    sg_wait_for_quiet 300 sg_same_tip "${names[@]}" || echo "(not every node reached n0's tip within 300 s)"
    perf_stop "${names[@]}"
    # CPU time is steadier than wall time on a shared machine: what the
    # daemons spent from the injection until every node had n0's blocks,
    # per 1000 transfers, with and without the thread pool (mining threads
    # left out of both).
    local hz ticks=0 lticks=0 per_node=""
    hz=$(getconf CLK_TCK)
    local -A cpu1=() loop1=()
    for n in "${names[@]}"; do
        cpu_ticks "${SG_PID[$n]}" v; cpu1[$n]=$v
        loop_ticks "${SG_PID[$n]}" v; loop1[$n]=$v
    done
    for n in "${names[@]}"; do
        local d=$(( ${cpu1[$n]} - ${cpu0[$n]} ))
        ticks=$((ticks + d))
        lticks=$((lticks + ${loop1[$n]} - ${loop0[$n]}))
        per_node+=" $n=$(awk -v t="$d" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')"
    done
    echo "daemon cpu but mining, from injection to the end, s:$per_node; total $(awk -v t="$ticks" -v hz="$hz" \
        -v n="$total" 'BEGIN { printf "%.2f s, %.1f ms per 1000 transfers", t / hz, 1e6 * t / hz / n }')"
    echo "signature checks per node (pool and loop): $(for n in "${names[@]}"; do
        printf '%s=%s ' "$n" "$(sg_stat "$n" sig_checks)"; done)"
    echo "of which loop threads: $(awk -v t="$lticks" -v hz="$hz" -v n="$total" \
        'BEGIN { printf "%.2f s, %.1f ms per 1000 transfers", t / hz, 1e6 * t / hz / n }')"
    echo "injector: $(grep -v '^start=' "$SG_T/inject.out" | head -n 1)"
    local blocks_line
    blocks_line=$(accepted_lines n0 | awk -v t0="$(echo "$t_inj" | awk "$AWK_MS"' { print ms($1) }')" -v total="$total" '
        $1 >= t0 { s += $2 - 1; nb++; last = $1; if ($2 - 1 > big) big = $2 - 1 }
        END { d = last - t0 > 0 ? last - t0 : 1
              printf "%d %d %d %.2f %.0f", s, nb, big, d / 1000, s * 1000 / d }')
    set -- $blocks_line
    echo "transfers in blocks: $1 of $total injected, $2 blocks, largest $3 txs; first injection to last block: $4 s, $5 tx/s"
    awk -v b="$bound" -v r="${relay_rate#* }" -v k="$5" 'BEGIN {
        printf "against the bound of %d tx/s: into blocks %.0f (%.1f %%), at the miner %.0f (%.1f %%)\n",
               b, k, 100 * k / b, r, 100 * r / b }'
    echo "rss peak (VmHWM) under tx load: $(rss_summary VmHWM "${names[@]}")"
    echo "load average after: $(cpu_load)"
    for n in "${names[@]}"; do
        awk "$AWK_MS"' / accepted at height / { t = $(NF - 1); sub(/\(/, "", t); print FILENAME, $5, ms($1), t }' "$SG_T/$n.log"
    done | awk -v n0="$SG_T/n0.log" -v want="$nodes" '
        $1 == n0 { found[$2] = $3; txs[$2] = $4; next }
        { if (!($2 in last) || $3 > last[$2]) last[$2] = $3; cnt[$2]++ }
        END { for (h in found) if (cnt[h] == want - 1 && txs[h] >= 1000) print last[h] - found[h] }' \
        >"$SG_T/delays"
    echo "propagation of blocks with >= 1000 txs to every node, ms: $(percentiles "$SG_T/delays")"
}

# The launcher's default scenario (3 prosumers, 5 consumers, difficulty 4,
# a block every 2 s), SECONDS long, with any further launcher options (e.g.
# --block-interval 0 for the original's fixed difficulty); CPU time is the
# launcher's and its reaped daemons'.  Ends with scripts/pace-figures.
bench_scenario() {
    local secs=$1 db rc; shift
    sg_setup
    next_port
    echo "load average before: $(cpu_load)"
    local t0=$(date +%s.%N)
    TIMEFORMAT='cpu: user %U s, sys %S s, wall %R s'
    { time "$SG_BIN/launcher" --duration "$secs" --quiet --run-dir "$SG_T/run" \
        --base-port "$((BENCH_PORT + 100))" "$@" >"$SG_T/launcher.out" 2>&1; rc=$?; } 2>"$SG_T/time"
    cat "$SG_T/time"
    sed -E 's/.*user ([0-9.]+) s, sys ([0-9.]+) s, wall ([0-9.]+) s.*/\1 \2 \3/' "$SG_T/time" |
        awk -v n="$(nproc)" '$3 > 0 { printf "cpu use: %.0f%% of one core, %.0f%% of the %d cores\n",
            100 * ($1 + $2) / $3, 100 * ($1 + $2) / $3 / n, n }'
    echo "launcher exit status: $rc"
    echo "load average after: $(cpu_load)"
    db=$SG_T/run/run.db
    [[ -f $db ]] || sg_fail "no run.db"
    sqlite3 "$db" "SELECT 'blocks seen: ' || COUNT(*) || ', stale: ' || SUM(stale) ||
                   ', stale rate: ' || printf('%.3f', 1.0 * SUM(stale) / COUNT(*)) FROM blocks;
                   SELECT 'best chain height: ' || MAX(height) FROM blocks WHERE stale = 0;
                   SELECT 'transactions in best-chain blocks: ' || COUNT(*) FROM transactions
                          WHERE block_hash != '' AND kind != 'coinbase';
                   SELECT 'trades (fills): ' || COUNT(*) || ', energy traded p2p: ' ||
                          printf('%.1f', COALESCE(SUM(traded_wh), 0) / 1000.0) || ' kWh' FROM trades;
                   SELECT 'market intervals cleared: ' || COUNT(*) FROM market_intervals;"
    "$SG_ROOT/scripts/pace-figures" "$SG_T/run"
}

# One brace group ending in exit: bash has parsed it whole before running it,
# so editing this file during a run cannot change what the run does.
{
case "${1:-}" in
    prop) shift; bench_prop "${1:-10}" "${2:-100}" "${3:-6}" "${4:-0}" ;;
    scenario) shift; secs=${1:-300}; shift || true; bench_scenario "$secs" "$@" ;;
    tx) shift; bench_tx "${1:-10}" "${2:-256}" "${3:-100}" "${4:-6}" ;;
    scale) shift; bench_scale "${1:-200}" "${2:-120}" ;;
    *) echo "usage: bench_net.sh prop [NODES BLOCKS DIFF [TXS]] | tx [NODES SENDERS PER DIFF] |" \
            "scenario [SECONDS [LAUNCHER OPTIONS...]] |" \
            "scale [NODES SECONDS]" >&2; exit 2 ;;
esac
exit $?
}
