#!/usr/bin/env bash
# Prometheus metrics: two daemons serve GET /metrics (--metrics-port and
# --metrics-listen); each scrape parses as the text format (HELP and TYPE
# for every family, counters end in _total, samples `name{labels} value`
# with node and role labels; histograms as _bucket/_sum/_count); counters
# rise between two scrapes; the transaction inclusion latency histogram
# gets measurements (cumulative buckets, +Inf equal to _count, a sum of
# seconds >= 0) once orders and settlements are mined; other
# paths get 404, other methods 405, an oversized request 431; a daemon
# with an idle metrics connection open still stops cleanly.
# Scrapes use bash /dev/tcp: no curl or python needed.
. "$(dirname "$0")/lib.sh"
sg_setup

# scrape PORT [REQUEST_LINE]: prints the whole HTTP response, CRs removed.
scrape() {
    local port=$1 req=${2:-"GET /metrics HTTP/1.0"}
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf '%s\r\nHost: 127.0.0.1\r\n\r\n' "$req" >&3
        timeout 10 cat <&3
    ) | tr -d '\r'
}

# check_format FILE NODE ROLE: the body of a saved response is valid text
# format 0.0.4 as far as this project uses it.  Prints the reason on failure.
check_format() {
    awk -v node="$2" -v role="$3" '
        function fail(msg) { print "line " NR ": " msg ": " $0; bad = 1; exit 1 }
        NR == 1 { if ($0 != "HTTP/1.0 200 OK") fail("status"); next }
        !body { if ($0 == "") body = 1
                else if (tolower($0) ~ /^content-type: text\/plain; version=0\.0\.4/) ctype = 1
                next }
        /^# HELP / { if (split($0, f, " ") < 4) fail("HELP without text")
                     help[f[3]] = 1; next }
        /^# TYPE / { if (split($0, f, " ") != 4) fail("TYPE line")
                     if (f[4] != "counter" && f[4] != "gauge" && f[4] != "histogram")
                         fail("type " f[4])
                     if (f[3] in type) fail("second TYPE for " f[3])
                     if (f[4] == "counter" && f[3] !~ /_total$/) fail("counter not _total")
                     if (!(f[3] in help)) fail("TYPE before HELP")
                     type[f[3]] = f[4]; next }
        /^#/ { fail("unknown comment") }
        {
            lab = "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
            re = "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{" lab "(," lab ")*\\})? -?[0-9]+(\\.[0-9]+)?$"
            if ($0 !~ re) fail("sample syntax")
            name = $0; sub(/[{ ].*/, "", name)
            fam = name
            if (!(fam in type) && sub(/_(bucket|sum|count)$/, "", fam) &&
                !((fam in type) && type[fam] == "histogram"))
                fam = name
            if (!(fam in type)) fail("sample without TYPE")
            if (type[fam] == "histogram" && name ~ /_bucket$/ && $0 !~ /,le="[^"]+"\}/)
                fail("bucket without le")
            if (index($0, "node=\"" node "\"") == 0 || index($0, "role=\"" role "\"") == 0)
                fail("labels")
            samples++
        }
        END { if (bad) exit 1
              if (!ctype) { print "no text/plain version=0.0.4 content type"; exit 1 }
              if (samples < 20) { print "only " samples " samples"; exit 1 } }
    ' "$1"
}

# value FILE METRIC: the sample value of a metric (one sample per family).
value() { sed -n "s/^$2{[^}]*} //p" "$1"; }

LAT=sg_tx_inclusion_latency_seconds
# check_latency FILE: the latency histogram is consistent: le bounds rise
# and end in +Inf, bucket counts never fall, +Inf equals _count, and the
# sum (seconds) is >= 0 and no more than count * the largest finite bound
# (every finite measurement is below it).  Prints the reason on failure.
check_latency() {
    awk -v h="$LAT" '
        function fail(msg) { print msg; bad = 1; exit 1 }
        index($0, h "_bucket{") == 1 {
            le = $0; sub(/.*,le="/, "", le); sub(/".*/, "", le)
            v = $NF + 0
            if (n > 0 && v < last) fail("bucket " le " below the one before")
            if (le != "+Inf") { if (n > 0 && le + 0 <= lastle) fail("le not rising at " le)
                                lastle = le + 0 }
            else inf = v
            last = v; n++; lastname = le; next }
        index($0, h "_count{") == 1 { count = $NF + 0; have_count = 1; next }
        index($0, h "_sum{") == 1 { sum = $NF + 0; have_sum = 1; next }
        END { if (bad) exit 1
              if (n < 2 || lastname != "+Inf") { print "no buckets ending in +Inf"; exit 1 }
              if (!have_count || !have_sum) { print "no _count or _sum"; exit 1 }
              if (inf != count) { print "+Inf " inf " != count " count; exit 1 }
              if (sum < 0) { print "negative sum " sum; exit 1 } }
    ' "$1"
}

sg_cluster "${SG_DIFFICULTY:-4}" p1
# Port 0: the kernel picks a free port, read back from the log (a probed
# free port could be taken by a parallel test before the daemon binds).
metrics_port() { sed -n 's/.*metrics on .*(port \([0-9]*\)).*/\1/p' "$SG_T/$1.log" | tail -n 1; }
sg_start op operator --metrics-port 0
sg_start p1 prosumer --metrics-listen 127.0.0.1:0 --peer "$(sg_addr op)"
sg_wait_for 60 "both daemons serve metrics" \
    bash -c "grep -q 'metrics on' '$SG_T/op.log' && grep -q 'metrics on' '$SG_T/p1.log'"
mop=$(metrics_port op); mp1=$(metrics_port p1)
[[ -n "$mop" && -n "$mp1" && "$mop" != 0 ]] || sg_fail "no metrics port in the logs"
sg_wait_for 60 "the nodes peer" sg_all_peers_ge 1 op p1

scrape "$mop" >"$SG_T/op-1.txt" || sg_fail "scrape op failed"
scrape "$mp1" >"$SG_T/p1-1.txt" || sg_fail "scrape p1 failed"
check_format "$SG_T/op-1.txt" op operator || sg_fail "op scrape is not valid text format"
check_format "$SG_T/p1-1.txt" p1 prosumer || sg_fail "p1 scrape is not valid text format"
for m in sg_block_height sg_blocks_mined_total sg_hashrate_hashes_per_second sg_peers \
         sg_mempool_transactions sg_stale_blocks_total sg_loop_lag_seconds \
         sg_balance_microunits sg_grid_import_wh_total sg_uptime_seconds; do
    [[ -n "$(value "$SG_T/p1-1.txt" $m)" ]] || sg_fail "p1 lacks $m"
done
grep -q '^# TYPE sg_blocks_mined_total counter$' "$SG_T/op-1.txt" || sg_fail "blocks mined type"
grep -q '^sg_produced_energy_wh_total{' "$SG_T/p1-1.txt" || sg_fail "p1 lacks produced energy"

h1=$(value "$SG_T/op-1.txt" sg_block_height)
sg_wait_for 300 "the chain grows by 3 blocks" sg_all_height_ge $((h1 + 3)) op p1
scrape "$mop" >"$SG_T/op-2.txt" || sg_fail "second scrape op failed"
scrape "$mp1" >"$SG_T/p1-2.txt" || sg_fail "second scrape p1 failed"
check_format "$SG_T/op-2.txt" op operator || sg_fail "second op scrape invalid"
check_format "$SG_T/p1-2.txt" p1 prosumer || sg_fail "second p1 scrape invalid"

mined1=$(( $(value "$SG_T/op-1.txt" sg_blocks_mined_total) + $(value "$SG_T/p1-1.txt" sg_blocks_mined_total) ))
mined2=$(( $(value "$SG_T/op-2.txt" sg_blocks_mined_total) + $(value "$SG_T/p1-2.txt" sg_blocks_mined_total) ))
[[ $mined2 -gt $mined1 ]] || sg_fail "sg_blocks_mined_total did not rise ($mined1 -> $mined2)"
for f in op p1; do
    a=$(value "$SG_T/$f-1.txt" sg_block_height)
    b=$(value "$SG_T/$f-2.txt" sg_block_height)
    [[ $b -gt $a ]] || sg_fail "$f sg_block_height did not rise ($a -> $b)"
done
check_latency "$SG_T/op-2.txt" || sg_fail "op latency histogram inconsistent"
check_latency "$SG_T/p1-2.txt" || sg_fail "p1 latency histogram inconsistent"
# The prosumer's orders and the operator's settlements get mined: both
# measure latency (a transaction's creator is the one that measures it).
lat_count() { scrape "$1" | sed -n "s/^${LAT}_count{[^}]*} //p"; }
measured() { [[ $(lat_count "$mop") -gt 0 && $(lat_count "$mp1") -gt 0 ]]; }
sg_wait_for 180 "latency measurements on both nodes" measured
scrape "$mp1" >"$SG_T/p1-3.txt" || sg_fail "third scrape p1 failed"
check_format "$SG_T/p1-3.txt" p1 prosumer || sg_fail "third p1 scrape invalid"
check_latency "$SG_T/p1-3.txt" || sg_fail "p1 latency histogram inconsistent after measuring"
[[ $(value "$SG_T/p1-3.txt" ${LAT}_count) -ge $(value "$SG_T/p1-2.txt" ${LAT}_count) ]] ||
    sg_fail "latency count went down"
grep -q '^sg_tx_latency_tracked_total{' "$SG_T/p1-3.txt" || sg_fail "p1 lacks tracked latency counter"
sg_log "latency: p1 $(value "$SG_T/p1-3.txt" ${LAT}_count) measured, sum $(value "$SG_T/p1-3.txt" ${LAT}_sum) s"
# Every counter is monotonic between the scrapes.
for f in op p1; do
    first=$SG_T/$f-1.txt; second=$SG_T/$f-2.txt
    for m in $(sed -n 's/^# TYPE \([a-z_]*\) counter$/\1/p' "$first"); do
        [[ $(value "$second" "$m") -ge $(value "$first" "$m") ]] || sg_fail "$f $m went down"
    done
done

scrape "$mop" "GET /other HTTP/1.0" | head -n 1 | grep -q '^HTTP/1.0 404 ' || sg_fail "no 404"
scrape "$mop" "POST /metrics HTTP/1.0" | head -n 1 | grep -q '^HTTP/1.0 405 ' || sg_fail "no 405"
big=$(printf 'X-Pad: %03000d' 0)
scrape "$mop" "GET /metrics HTTP/1.0
$big" | head -n 1 | grep -q '^HTTP/1.0 431 ' || sg_fail "no 431 for an oversized request"

# An idle connection left open must not hold up shutdown.
exec 4<>"/dev/tcp/127.0.0.1/$mp1" || sg_fail "cannot open an idle connection"
sg_stop p1
exec 4<&-
sg_stop op
sg_log "pass: metrics parse, counters rose ($mined1 -> $mined2 blocks mined)"
