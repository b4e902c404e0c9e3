#!/usr/bin/env bash
# `launcher --hosts` over two network namespaces, reached the way ssh
# reaches a host: the remote shell is `setsid -w ip netns exec {host}`, so
# the launcher's child is a transport process, not the daemon, and the
# parent-death signal never reaches the daemon.  Checked:
# - the launcher started with stdin closed (<&-) still hands each daemon
#   its script pipe as fd 0, its .out file as 1 and 2, and nothing else of
#   its own;
# - blocks reach the database although the launcher reads no remote store
#   file (every host is remote: STORE_READ over the control link), and
#   `sgnode ctl store-read` returns exactly the bytes of the daemon's
#   blocks.dat;
# - a daemon that cannot start (its port taken on its host) is reported
#   naming the node, the host, its log and its last words;
# - after `kill -9` of the launcher every daemon it started exits within
#   30 s (--stop-on-stdin-eof: the launcher held their stdin pipes);
# - a run that ends normally (--duration) pauses mining over the control
#   link, so no transport is signalled: no node "died", none restarted,
#   every daemon logged "mining stopped" and the launcher exits 0.
# Needs root and `ip netns`; otherwise skipped (exit 77).  Every namespace,
# link and process made here is removed, on failure too.
. "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || sg_skip "needs root to create network namespaces"
command -v ip >/dev/null || sg_skip "ip (iproute2) not installed"
command -v setsid >/dev/null || sg_skip "setsid (util-linux) not installed"
command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
sg_setup
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
SHELL_T='setsid -w ip netns exec {host}'

TAG=$$
HOLDER=
. "$(dirname "$0")/lib_netns.sh"
# Every daemon runs inside one of our namespaces, even those in their own
# sessions (setsid): netns_cleanup finds them there.
trap 'rc=$?; [[ -n "$HOLDER" ]] && kill -KILL "$HOLDER" 2>/dev/null; netns_cleanup; (exit $rc); sg_cleanup' EXIT
netns_setup sgo 10.232 2

daemons_of() {  # RUNDIR: pids of daemons started for that run
    pgrep -f -- "--data-dir $1/" || true
}
# For sg_wait_for: looks again on every poll.
none_of() { [[ -z "$(daemons_of "$1")" ]]; }

# ---- a daemon that cannot start names its host --------------------------
# op on the first host (port B), p1 on the second (B+1), c1 on the first.
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=$(command -v python3 || true)
if [[ -n "$PY" ]]; then
    BAD=$SG_T/portrun
    B=30500
    # Bound, not listening: the launcher's check (does it answer?) passes,
    # the daemon's bind fails.
    ip netns exec "${NSS[1]}" "$PY" -c "import socket,time
s=socket.socket(); s.bind(('$NET.3', $((B + 1)))); open('$SG_T/bound', 'w').close()
time.sleep(120)" &
    HOLDER=$!
    sg_wait_for 30 "the port taken in ${NSS[1]}" test -e "$SG_T/bound"
    # Difficulty 5, not lower: at 3 the daemons flood the launcher with
    # thousands of blocks, which a loaded machine takes minutes to store
    # and its control requests time out.
    "$LAUNCHER" --hosts "$HOSTS" --remote-shell "$SHELL_T" --prosumers 1 --consumers 1 --block-interval 0 \
        --difficulty 5 --duration 0 --quiet --run-dir "$BAD" --base-port $B >"$BAD.out" 2>&1 &
    LPID=$!
    sg_wait_for 60 "the exit report" grep -q "p1 on host ${NSS[1]} died (exit status" "$BAD.out"
    line=$(grep -m1 "p1 on host ${NSS[1]} died" "$BAD.out")
    sg_log "reported: $line"
    [[ "$line" == *"see $BAD/logs/p1.log on ${NSS[1]}"* ]] || sg_fail "no log path and host in: $line"
    [[ "$line" == *"cannot listen on $NET.3:$((B + 1))"* ]] || sg_fail "no reason in: $line"
    # p1 never connects, so the launcher would wait a minute before its
    # clock starts: two interrupts stop it at once.  The second must come
    # after the first was read (two pending at once count as one), which a
    # loaded machine may delay: interrupt every second until it is gone.
    for _ in $(seq 1 180); do
        kill -INT "$LPID" 2>/dev/null || break
        sleep 1
    done
    kill -0 "$LPID" 2>/dev/null && sg_fail "launcher did not stop within 180 s of repeated interrupts"
    wait "$LPID"; LPID=
    kill -KILL "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; HOLDER=
    sg_wait_for 30 "the port run's daemons gone" none_of "$BAD"
else
    sg_log "python3 missing: the port-in-use report is not checked"
fi

# ---- the run: rows through STORE_READ, then kill -9 ------------------------
RUN=$SG_T/run
DB=$RUN/run.db
q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }
"$LAUNCHER" --hosts "$HOSTS" --remote-shell "$SHELL_T" --prosumers 2 --consumers 1 --block-interval 0 \
    --difficulty 5 --duration 0 --seed 5 --quiet --run-dir "$RUN" --base-port 30600 \
    <&- >"$RUN.out" 2>&1 &
LPID=$!
sg_wait_for 30 "nodes.tsv" test -s "$RUN/nodes.tsv"
declare -A ADDR=()
while read -r name _ port _ addr; do ADDR[$name]="$addr:$port"; done <"$RUN/nodes.tsv"
sg_assert_eq "${#ADDR[@]}" 4 "nodes in nodes.tsv"
ctl() {  # NAME ARGS...
    local n=$1; shift
    "$SGNODE" ctl --connect "${ADDR[$n]}" --cluster-key "$RUN/cluster.key" \
        --genesis "$RUN/genesis.txt" --timeout-ms 5000 "$@"
}
rows_from_all() {
    local n c
    for n in "${!ADDR[@]}"; do
        c=$(q "SELECT COUNT(*) FROM blocks WHERE seen_by='$n'" 2>/dev/null)
        [[ -n "$c" && "$c" -ge 1 ]] || return 1
    done
    [[ $(q "SELECT MAX(height) FROM blocks WHERE stale=0" 2>/dev/null) -ge 3 ]]
}
sg_wait_for 150 "blocks from every node in the database, best height 3" rows_from_all
sg_log "rows from all nodes: best height $(q 'SELECT MAX(height) FROM blocks WHERE stale=0')"
kill -0 "$LPID" 2>/dev/null || sg_fail "launcher died: $(tail -n 5 "$RUN.out")"

# store-read returns the file's bytes: the store only grows, so the dump is
# a prefix of the file read right after it.
for n in op p1; do
    ctl "$n" store-read >"$SG_T/$n.dump" || sg_fail "ctl store-read $n failed"
    sz=$(stat -c %s "$SG_T/$n.dump")
    [[ "$sz" -gt 0 ]] || sg_fail "ctl store-read $n returned nothing"
    cmp -n "$sz" "$SG_T/$n.dump" "$RUN/data/$n/blocks.dat" ||
        sg_fail "ctl store-read $n differs from its blocks.dat"
    ctl "$n" store-read --offset $((sz - 7)) >"$SG_T/$n.tail" || sg_fail "store-read --offset"
    cmp -n 7 "$SG_T/$n.tail" <(tail -c +$((sz - 6)) "$RUN/data/$n/blocks.dat") ||
        sg_fail "ctl store-read --offset $n differs from its blocks.dat"
    sg_log "store-read $n: $sz bytes, equal to blocks.dat"
done
[[ -d "$RUN/data/op" ]] || sg_fail "no data/op: the layout changed"

pids=$(daemons_of "$RUN")
sg_assert_eq "$(echo "$pids" | wc -w)" 4 "daemons running"
for p in $pids; do
    n=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n '/^--name$/{n;p;q}')
    [[ -n "$n" ]] || sg_fail "no --name in the command line of daemon $p"
    sg_check_fds "$p" "$n" "$RUN" pipe
done
sg_log "descriptors: each daemon holds its script pipe, its .out file and its own files"
kill -KILL "$LPID"; wait "$LPID" 2>/dev/null; LPID=
sg_log "launcher killed with -9"
sg_wait_for 30 "every daemon gone after the launcher's kill -9" none_of "$RUN"
grep -q "standard input closed" "$RUN/logs/p1.log" || sg_fail "p1 did not stop on stdin EOF"

# ---- a normal end: settling pauses mining over ctl, nobody dies -----------
END=$SG_T/end
"$LAUNCHER" --hosts "$HOSTS" --remote-shell "$SHELL_T" --prosumers 1 --consumers 1 --block-interval 0 \
    --difficulty 5 --duration 15 --seed 6 --quiet --run-dir "$END" --base-port 30700 \
    >"$END.out" 2>&1 &
LPID=$!
for _ in $(seq 1 480); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.5; done
kill -0 "$LPID" 2>/dev/null && sg_fail "launcher did not end a 15 s run within 240 s"
wait "$LPID"; rc=$?; LPID=
[[ $rc -eq 0 ]] || sg_fail "launcher exited $rc: $(tail -n 5 "$END.out")"
if grep -E "died|cannot stop mining" "$END.out"; then
    sg_fail "the run's end signalled a transport or could not pause a node (above)"
fi
grep -q ", 0 restarts" "$END.out" || sg_fail "restarts in: $(grep restarts "$END.out")"
for n in op p1 c1; do
    grep -q "mining stopped" "$END/logs/$n.log" || sg_fail "$n never logged 'mining stopped'"
done
sg_wait_for 30 "the ended run's daemons gone" none_of "$END"
sg_log "normal end: $(grep -m1 '^run ' "$END.out")"
sg_log "hosts orphan: pass"
