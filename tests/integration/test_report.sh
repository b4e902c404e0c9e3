#!/usr/bin/env bash
# The run report: a short launcher run writes report.html in its run
# directory; it is one self-contained file (no scripts, no external URLs,
# a Content-Security-Policy that forbids every fetch), well-formed
# (xmllint), and holds every chart as an inline <svg> with data points
# (circles or bars), axis titles and a legend; `launcher report --run DIR`
# rewrites it.  The run's database holds measured transaction latency
# (broadcast and first inclusion on the creating node's clock) and the
# latency chart is drawn from it.  If Chromium is installed, the page
# renders headless to a non-trivial screenshot with no console message and
# no load of anything but itself; broken copies (a script error, a missing
# image) prove that check fails when it should.  Without Chromium that part
# is skipped; the rest still runs.
. "$(dirname "$0")/lib.sh"
sg_setup

command -v xmllint >/dev/null || sg_skip "xmllint not installed (libxml2-utils; scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
RUN=$SG_T/run

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
    "$LAUNCHER" --prosumers 2 --consumers 2 --difficulty 5 --block-interval 0 --quiet --base-port "$base" \
        --run-dir "$RUN" --duration 15 --seed 99 >"$SG_T/launcher.out" 2>&1 &
    SG_PID[launcher]=$!
    wait "${SG_PID[launcher]}"; rc=$?
    unset "SG_PID[launcher]"
    if [[ $rc -eq 2 ]] && grep -q "in use" "$SG_T/launcher.out"; then continue; fi
    [[ $rc -eq 0 ]] || { tail -n 20 "$SG_T/launcher.out"; sg_fail "launcher exited $rc"; }
    ok=1; break
done
[[ $ok -eq 1 ]] || sg_fail "no usable port range after 5 tries"

R=$RUN/report.html
[[ -s "$R" ]] || sg_fail "no report.html after the run"
xmllint --noout "$R" 2>"$SG_T/xmllint.err" || { head "$SG_T/xmllint.err"; sg_fail "report is not well-formed"; }
head -n 1 "$R" | grep -qx '<!DOCTYPE html>' || sg_fail "no HTML doctype"
grep -qi '<script' "$R" && sg_fail "the report carries a script"
grep -Eo '(src|href)="[^"#]+' "$R" | grep -q . && sg_fail "the report refers to an external resource"

# Each chart's <svg>, cut out of the page, has points, axis titles, a legend.
for id in price traded grid community pvload blockint stale hashrate latency settlelag money totals; do
    svg=$(awk -v id="chart-$id" 'index($0, "<svg id=\"" id "\"") {f=1} f {print} f && /<\/svg>/ {exit}' "$R")
    [[ -n "$svg" ]] || sg_fail "chart $id has no <svg> (no data?)"
    pts=$(grep -Eo '<circle |<rect class="bar"' <<<"$svg" | wc -l)
    [[ $pts -gt 0 ]] || sg_fail "chart $id has no data points"
    [[ $(grep -c 'class="axis"' <<<"$svg") -ge 2 ]] || sg_fail "chart $id lacks axis titles"
    grep -q 'class="key"' <<<"$svg" || sg_fail "chart $id lacks a legend"
    sg_log "chart $id: $pts points"
done
grep -q '<td>99</td>' "$R" || sg_fail "the parameters table lacks the seed"
# Nothing on the page can reach the network: the only URL is the SVG
# namespace, and the page carries a policy that forbids every fetch.
urls=$(grep -Eo 'https?://[^"'"'"' <>)]*' "$R" | grep -vx 'http://www.w3.org/2000/svg' | sort -u)
[[ -z "$urls" ]] || sg_fail "the report names URLs: $urls"
grep -q '<meta http-equiv="Content-Security-Policy" content="default-src '"'none'"'; ' "$R" ||
    sg_fail "the report lacks its Content-Security-Policy"

# Measured latency: some transactions have both times, none has only one,
# and no latency is negative; the chart says what it measures.
DB=$RUN/run.db
if command -v sqlite3 >/dev/null; then
    q() { sqlite3 "$DB" "$1" || sg_fail "query failed: $1"; }
    nlat=$(q "SELECT COUNT(*) FROM transactions WHERE included_ms IS NOT NULL AND broadcast_ms IS NOT NULL")
    [[ $nlat -gt 0 ]] || sg_fail "no transaction has a measured latency"
    [[ $(q "SELECT COUNT(*) FROM transactions WHERE (included_ms IS NULL) <> (broadcast_ms IS NULL)") -eq 0 ]] ||
        sg_fail "a transaction has only one of broadcast_ms and included_ms"
    [[ $(q "SELECT COUNT(*) FROM transactions WHERE included_ms < broadcast_ms") -eq 0 ]] ||
        sg_fail "a negative latency was stored"
    [[ $(q "SELECT COUNT(*) FROM transactions WHERE broadcast_ms IS NOT NULL AND kind = ''") -eq 0 ]] ||
        sg_fail "a measured transaction lacks its block's row"
    [[ $(q "SELECT COUNT(*) FROM transactions WHERE kind = 'coinbase' AND broadcast_ms IS NOT NULL") -eq 0 ]] ||
        sg_fail "a coinbase has a broadcast time"
    sg_log "latency: $nlat transactions measured, $(q "SELECT MIN(included_ms - broadcast_ms) || '..' || MAX(included_ms - broadcast_ms) FROM transactions WHERE included_ms IS NOT NULL") ms"
else
    sg_log "sqlite3 not installed: stored latency not checked"
fi
grep -q 'Measured by the node that created each transaction' "$R" ||
    sg_fail "the latency chart does not describe measured latency"
lat_svg=$(awk 'index($0, "<svg id=\"chart-latency\"") {f=1} f {print} f && /<\/svg>/ {exit}' "$R")
grep -q '<rect class="bar"' <<<"$lat_svg" || sg_fail "the latency chart has no bars"

# The on-demand command rewrites the same file.
rm -f "$R"
"$LAUNCHER" report --run "$RUN" >/dev/null || sg_fail "launcher report failed"
[[ -s "$R" ]] || sg_fail "launcher report wrote no file"
"$LAUNCHER" report --run "$SG_T/nowhere" 2>/dev/null && sg_fail "report of a missing run succeeded"
# run.json is read as JSON (jansson): one line and a seed above 2^63 are
# fine; a broken file is named, not silently replaced by run.db.
cp "$RUN/run.json" "$SG_T/run.json.orig"
tr -d '\n' <"$SG_T/run.json.orig" | sed 's/"seed": 99,/"seed": 18446744073709551615,/' >"$RUN/run.json"
grep -q '"seed": 18446744073709551615' "$RUN/run.json" || sg_fail "cannot edit run.json's seed"
rm -f "$R"
"$LAUNCHER" report --run "$RUN" >/dev/null || sg_fail "launcher report failed on a one-line run.json"
[[ -s "$R" ]] || sg_fail "launcher report wrote no file from a one-line run.json"
head -c 100 "$SG_T/run.json.orig" >"$RUN/run.json"
out=$("$LAUNCHER" report --run "$RUN" 2>&1) && sg_fail "report of a truncated run.json succeeded"
[[ "$out" == *"run.json: line "* ]] || sg_fail "truncated run.json not named: $out"
cp "$SG_T/run.json.orig" "$RUN/run.json"

chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$chromium" ]]; then
    sg_log "pass (chromium not installed: render check skipped; scripts/install-deps installs it)"
    exit 0
fi

# render HTML PNG LOG: headless Chromium, time-boxed; true if it wrote the
# screenshot.  --v=1 makes it log every file it loads.
render() {
    rm -rf "$SG_T/prof"
    timeout -k 5 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$SG_T/prof" --enable-logging=stderr --v=1 \
        --window-size=1280,4000 --screenshot="$2" "file://$1" >"$3" 2>&1
    [[ -s "$2" ]]
}
# problems HTML LOG: prints every console message of the page (the report
# has no script, so any is a failure: a script error, a load the policy
# blocked) and every file loaded besides the page itself.
problems() {
    grep -E ':CONSOLE[(:]' "$2"
    grep -o 'FileURLLoader::Start: .*' "$2" | grep -vxF "FileURLLoader::Start: file://$1"
}
# png_size PNG: width and height from the IHDR chunk.
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}'; }

# A blank page first: Chromium works here, and a floor for "non-trivial".
printf '<!DOCTYPE html>\n<html><head><title>blank</title></head><body></body></html>\n' >"$SG_T/blank.html"
render "$SG_T/blank.html" "$SG_T/blank.png" "$SG_T/blank.log" ||
    { tail -n 5 "$SG_T/blank.log"; sg_fail "chromium made no screenshot of a blank page"; }
render "$R" "$SG_T/report.png" "$SG_T/chromium.log" ||
    { tail -n 5 "$SG_T/chromium.log"; sg_fail "chromium made no screenshot of the report"; }
head -c 8 "$SG_T/report.png" | od -An -tx1 | tr -d ' \n' | grep -qx 89504e470d0a1a0a ||
    sg_fail "the screenshot is not a PNG"
[[ $(png_size "$SG_T/report.png") == 1280x4000 ]] || sg_fail "screenshot is $(png_size "$SG_T/report.png"), not 1280x4000"
blank=$(stat -c %s "$SG_T/blank.png"); shot=$(stat -c %s "$SG_T/report.png")
[[ $shot -gt $((blank * 3)) ]] || sg_fail "the screenshot looks empty ($shot bytes; a blank page: $blank)"
out=$(problems "$R" "$SG_T/chromium.log")
[[ -z "$out" ]] || { echo "$out" | head; sg_fail "console messages or extra loads while rendering the report"; }
grep -q 'FileURLLoader::Start: file://' "$SG_T/chromium.log" ||
    sg_log "note: this Chromium does not log file loads; only console messages are checked"

# The check must catch what it is for: a copy with a script error (policy
# removed so the script runs) and a copy that asks for a missing image.
sed -e 's|<meta http-equiv="Content-Security-Policy"[^>]*>||' \
    -e 's|</body>|<script>undefinedFunction();</script></body>|' "$R" >"$SG_T/broken-js.html"
sed -e 's|</body>|<img src="missing.png" alt=""/></body>|' "$R" >"$SG_T/broken-img.html"
for b in broken-js broken-img; do
    render "$SG_T/$b.html" "$SG_T/$b.png" "$SG_T/$b.log" || sg_fail "chromium made no screenshot of $b"
    out=$(problems "$SG_T/$b.html" "$SG_T/$b.log")
    [[ -n "$out" ]] || sg_fail "the render check missed the fault in $b.html"
    sg_log "$b caught: $(head -n 1 <<<"$out" | cut -c1-160)"
done
sg_log "pass (rendered by chromium: $shot-byte screenshot, no console messages)"
