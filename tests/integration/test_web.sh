#!/usr/bin/env bash
# The live web page (launcher --web PORT): a small run serves it on
# 127.0.0.1; headless Chromium, driven over the DevTools protocol
# (web_cdp.py), sees the best height rise, every node drawn with its links,
# a daemon killed with SIGKILL marked down within 2 s and back with its
# restart counted, and no console message or request outside the page.
# Over curl: unknown paths 404, POST 405, a 100 kB header refused, 200 idle
# connections do not stop the page answering, and a second launcher asking
# for the same port is refused before it starts anything.  Without
# Chromium (or python3) the browser part is skipped; the rest still runs.
# SG_WEB_SHOT=FILE keeps the screenshot (docs/web.png is made that way).
. "$(dirname "$0")/lib.sh"
sg_setup

[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
command -v curl >/dev/null || sg_skip "curl not installed"
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
RUN=$SG_T/run

# code ARGS...: the HTTP status curl gets (000: no answer).
code() { curl -s -o /dev/null -m 10 -w '%{http_code}' "$@"; }

# A base port with 3 free ports above it and a free web port; a port
# taken between the probe and the launcher's check makes it exit 2 with
# "in use" or "cannot listen": then another range is tried.
ok=0
for _ in 1 2 3 4 5; do
    sg_free_port || sg_fail "no free port"; WEB=$SG_FREE_PORT
    base=$(( 20000 + RANDOM % 12000 ))
    for p in $(seq "$base" $((base + 2))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue 2
        [[ $p -eq $WEB ]] && continue 2
    done
    rm -rf "$RUN"
    "$LAUNCHER" --prosumers 1 --consumers 1 --difficulty 5 --quiet --base-port "$base" \
        --run-dir "$RUN" --duration 0 --seed 7 --web "$WEB" >"$SG_T/launcher.out" 2>&1 &
    SG_PID[launcher]=$!
    URL=http://127.0.0.1:$WEB/
    for _ in $(seq 1 100); do
        grep -q "^launcher: run " "$SG_T/launcher.out" && break
        kill -0 "${SG_PID[launcher]}" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "${SG_PID[launcher]}" 2>/dev/null; then
        wait "${SG_PID[launcher]}"; rc=$?
        unset "SG_PID[launcher]"
        [[ $rc -eq 2 ]] && grep -qE "in use|cannot listen" "$SG_T/launcher.out" && continue
        cat "$SG_T/launcher.out"; sg_fail "launcher exited $rc at start"
    fi
    ok=1; break
done
[[ $ok -eq 1 ]] || sg_fail "no usable ports after 5 tries"
grep -qxF "launcher: live page at $URL" "$SG_T/launcher.out" ||
    { cat "$SG_T/launcher.out"; sg_fail "the launcher did not print the page's URL"; }
sg_log "launcher pid ${SG_PID[launcher]}, page $URL"

# Its daemons, by name, from their command lines.
daemon_pid() {
    local pid
    for pid in $(pgrep -P "${SG_PID[launcher]}"); do
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--name $1 " && { echo "$pid"; return 0; }
    done
    return 1
}
for _ in $(seq 1 100); do daemon_pid c1 >/dev/null && break; sleep 0.1; done
daemon_pid c1 >/dev/null || sg_fail "no daemon c1 under the launcher"

# ---- HTTP: what the page serves, and what it refuses ----------------------
hdr=$(curl -s -D - -o "$SG_T/index.html" -m 10 "$URL") || sg_fail "GET / failed"
grep -q '^HTTP/1.1 200' <<<"$hdr" || sg_fail "GET / did not answer 200: $hdr"
grep -qi "^Content-Security-Policy: default-src 'self'" <<<"$hdr" || sg_fail "no Content-Security-Policy on /"
grep -q '<script src="/app.js"' "$SG_T/index.html" || sg_fail "the page does not load /app.js"
grep -qi '<script>' "$SG_T/index.html" && sg_fail "the page has an inline script"
urls=$(grep -Eo 'https?://[^"'"'"' <>)]*' "$SG_T/index.html" | sort -u)
[[ -z "$urls" ]] || sg_fail "the page names URLs: $urls"
[[ $(code "${URL}app.js") == 200 && $(code "${URL}app.css") == 200 ]] || sg_fail "app.js or app.css not served"
[[ $(code "${URL}no-such-page") == 404 ]] || sg_fail "an unknown path did not get 404"
[[ $(code -X POST -d x=1 "$URL") == 405 ]] || sg_fail "POST did not get 405"
[[ $(code -X DELETE "${URL}events") == 405 ]] || sg_fail "DELETE did not get 405"
curl -s -m 10 -X POST -D - -o /dev/null "$URL" | grep -qi '^Allow: GET, HEAD' || sg_fail "405 without Allow"
big=$(head -c 100000 /dev/zero | tr '\0' a)
c=$(code -H "X-Big: $big" "$URL")
[[ $c == 4* || $c == 000 ]] || sg_fail "a 100 kB header got $c, not refused"
sg_log "404, 405, 100 kB header -> $c"
curl -s -m 3 -N "${URL}events" >"$SG_T/events.txt" 2>/dev/null
n=$(grep -c '^data: {' "$SG_T/events.txt")
[[ $n -ge 2 ]] || sg_fail "/events sent $n snapshots in 3 s (want at least 2)"
sg_log "/events: $n snapshots in 3 s"

# 200 idle connections (they send nothing), then the page still answers.
fds=()
for _ in $(seq 1 200); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$WEB" || sg_fail "cannot open idle connection"
    fds+=("$fd")
done
t0=$(date +%s%N)
[[ $(code -m 5 "$URL") == 200 ]] || sg_fail "the page did not answer with 200 idle connections open"
[[ $(code -m 5 "${URL}snapshot.json") == 200 ]] || sg_fail "snapshot.json did not answer with 200 idle connections open"
sg_log "with 200 idle connections the page answered in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
for fd in "${fds[@]}"; do exec {fd}>&-; done

# The same web port again: refused before anything starts.
out=$("$LAUNCHER" --prosumers 1 --consumers 0 --quiet --base-port $((base + 10)) \
      --run-dir "$SG_T/run2" --duration 5 --web "$WEB" 2>&1); rc=$?
[[ $rc -eq 2 && "$out" == *"cannot listen"* ]] || sg_fail "a taken --web port gave exit $rc: $out"
[[ -e "$SG_T/run2" ]] && sg_fail "the refused launcher made its run directory"
out=$("$LAUNCHER" --web-listen 1.2.3:80 2>&1); rc=$?
[[ $rc -ne 0 && "$out" == *"--web-listen expects"* ]] || sg_fail "a bad --web-listen gave exit $rc: $out"

# ---- the browser -----------------------------------------------------------
chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$chromium" ]] || ! command -v python3 >/dev/null; then
    sg_log "pass (chromium or python3 not installed: browser check skipped; scripts/install-deps --tests)"
    exit 0
fi
mkdir -p "$SG_T/prof"
shot=${SG_WEB_SHOT:-$SG_T/web.png}
python3 "$SG_ROOT/tests/integration/web_cdp.py" "$chromium" "$SG_T/prof" "$URL" "op p1 c1" c1 \
    "$(daemon_pid c1)" "$shot" || { tail -n 5 "$SG_T/prof/chromium.log"; sg_fail "the browser check failed"; }
head -c 8 "$shot" | od -An -tx1 | tr -d ' \n' | grep -qx 89504e470d0a1a0a || sg_fail "the screenshot is not a PNG"
kill -0 "${SG_PID[launcher]}" 2>/dev/null || sg_fail "the launcher died during the test"

kill -INT "${SG_PID[launcher]}"
for _ in $(seq 1 600); do kill -0 "${SG_PID[launcher]}" 2>/dev/null || break; sleep 0.1; done
wait "${SG_PID[launcher]}"; rc=$?
unset "SG_PID[launcher]"
[[ $rc -eq 0 ]] || { tail -n 20 "$SG_T/launcher.out"; sg_fail "launcher exited $rc after Ctrl-C"; }
sg_log "pass"
