#!/usr/bin/env bash
# The run report: a short launcher run writes report.html in its run
# directory; it is one self-contained file (no scripts, no external URLs),
# well-formed (xmllint), and holds every chart as an inline <svg> with data
# points (circles or bars), axis titles and a legend; `launcher report
# --run DIR` rewrites it.  If Chromium is installed, the page also renders
# headless to a screenshot without console errors (else that part is
# skipped; the rest still runs).
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
    "$LAUNCHER" --prosumers 2 --consumers 2 --difficulty 5 --quiet --base-port "$base" \
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
for id in price traded grid community pvload blockint stale hashrate latency; do
    svg=$(awk -v id="chart-$id" 'index($0, "<svg id=\"" id "\"") {f=1} f {print} f && /<\/svg>/ {exit}' "$R")
    [[ -n "$svg" ]] || sg_fail "chart $id has no <svg> (no data?)"
    pts=$(grep -Eo '<circle |<rect class="bar"' <<<"$svg" | wc -l)
    [[ $pts -gt 0 ]] || sg_fail "chart $id has no data points"
    [[ $(grep -c 'class="axis"' <<<"$svg") -ge 2 ]] || sg_fail "chart $id lacks axis titles"
    grep -q 'class="key"' <<<"$svg" || sg_fail "chart $id lacks a legend"
    sg_log "chart $id: $pts points"
done
grep -q '<td>99</td>' "$R" || sg_fail "the parameters table lacks the seed"

# The on-demand command rewrites the same file.
rm -f "$R"
"$LAUNCHER" report --run "$RUN" >/dev/null || sg_fail "launcher report failed"
[[ -s "$R" ]] || sg_fail "launcher report wrote no file"
"$LAUNCHER" report --run "$SG_T/nowhere" 2>/dev/null && sg_fail "report of a missing run succeeded"

chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$chromium" ]]; then
    sg_log "pass (chromium not installed: screenshot check skipped)"
    exit 0
fi
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$SG_T/chromium" --enable-logging=stderr --v=0 \
    --window-size=1000,3400 --screenshot="$SG_T/report.png" "file://$R" >"$SG_T/chromium.log" 2>&1
[[ -s "$SG_T/report.png" ]] || { tail "$SG_T/chromium.log"; sg_fail "chromium made no screenshot"; }
grep -E 'Uncaught|ERROR:CONSOLE' "$SG_T/chromium.log" && sg_fail "console errors while rendering"
sg_log "pass (rendered by chromium)"
