# tests/integration/lib_adv.sh - sourced (after lib.sh and sg_setup) by the
# transaction-side adversary tests: one launcher run at a time on a free
# port range, with --duration 0, so a test polls the run's SQLite store
# while it runs and stops it with SIGINT once what it waits for is there.
# Every daemon the launchers started is killed on exit, pass or fail.

command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
LAUNCHER=$SG_T/bin/launcher
ADV_NODES=5   # operator, 2 prosumers, 2 consumers

adv_our_daemons() {
    local p a0
    for p in /proc/[0-9]*; do
        a0=
        { read -r -d '' a0 <"$p/cmdline"; } 2>/dev/null
        [[ "$a0" == "$SG_T/bin/sg"* ]] && echo "${p#/proc/}"
    done
}

adv_kill_ours() {
    local p
    for p in $(adv_our_daemons); do kill -KILL "$p" 2>/dev/null; done
}
trap 'rc=$?; adv_kill_ours; (exit $rc); sg_cleanup' EXIT

# q SQL: one query on the current run's store ($DB), waiting out a writer.
q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }

adv_pick_base() {
    local b p ok
    for _ in $(seq 1 50); do
        b=$(( 20000 + RANDOM % 12000 ))
        ok=1
        for p in $(seq "$b" $((b + ADV_NODES - 1))); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then ok=0; break; fi
        done
        [[ $ok -eq 1 ]] && { ADV_BASE=$b; return 0; }
    done
    return 1
}

# adv_start DIR ARGS...: a launcher in the background (LPID), 2 prosumers
# and 2 consumers, until SIGINT; RUN and DB point at its directory and
# store.  Retries another port range when one was taken meanwhile.
adv_start() {
    local dir=$1 rc; shift
    RUN=$dir
    DB=$dir/run.db
    for _ in 1 2 3 4 5; do
        adv_pick_base || sg_fail "no free port range"
        "$LAUNCHER" --prosumers 2 --consumers 2 --difficulty 5 --quiet --duration 0 \
            --base-port "$ADV_BASE" --run-dir "$dir" "$@" <&- >"$dir.out" 2>&1 &
        LPID=$!
        SG_PID[launcher]=$LPID
        adv_settled() { [[ -e "$RUN" ]] || ! kill -0 "$LPID" 2>/dev/null; }
        sg_wait_for 60 "the launcher past its port check" adv_settled
        [[ -e "$dir" ]] && { adv_wait_db; return 0; }
        wait "$LPID"; rc=$?
        unset "SG_PID[launcher]"
        if [[ $rc -eq 2 ]] && grep -q "in use" "$dir.out"; then
            continue
        fi
        cat "$dir.out"
        sg_fail "launcher exited $rc at start"
    done
    sg_fail "no usable port range after 5 tries"
}

adv_db_ready() { [[ -s "$DB" ]] && [[ "$(q 'SELECT COUNT(*) FROM nodes' 2>/dev/null)" -ge $ADV_NODES ]]; }
adv_wait_db() { sg_wait_for 120 "the run's store with every node" adv_db_ready; }

# adv_stop: SIGINT, then the launcher must exit 0 and leave no daemon.
adv_stop() {
    kill -INT "$LPID"
    for _ in $(seq 1 900); do
        kill -0 "$LPID" 2>/dev/null || break
        sleep 0.2
    done
    kill -0 "$LPID" 2>/dev/null && sg_fail "launcher still running 180 s after SIGINT"
    wait "$LPID"; local rc=$?
    unset "SG_PID[launcher]"
    [[ $rc -eq 0 ]] || { tail -n 20 "$RUN.out"; sg_fail "launcher exited $rc after SIGINT"; }
    for _ in $(seq 1 150); do
        [[ -z "$(adv_our_daemons)" ]] && return 0
        sleep 0.2
    done
    sg_fail "daemons still running after the launcher: $(adv_our_daemons)"
}

# adv_int SQL: the query's one integer (0 when empty or NULL).
adv_int() { local v; v=$(q "$1"); echo "${v:-0}"; }

# adv_ge SQL N: true when the query's integer is at least N (for sg_wait_for).
adv_ge() { [[ "$(adv_int "$1")" -ge "$2" ]]; }

# adv_pk NAME: a node's public key from the store.
adv_pk() { q "SELECT pubkey FROM nodes WHERE name='$1'"; }

# adv_banned_by NAME: how many other nodes list NAME among their bans.
adv_banned_by_sql() {
    echo "SELECT COUNT(*) FROM nodes WHERE name<>'$1' AND
          (' ' || banned_peers || ' ') LIKE '% $1 %'"
}

# Settled market intervals so far (their settlement on the best chain).
adv_settled_sql="SELECT COUNT(*) FROM market_intervals WHERE settled_ms IS NOT NULL"

# adv_analysis: the launcher's analysis of the run, into $RUN.analysis.
adv_analysis() {
    "$LAUNCHER" analyze-adv --run-dir "$RUN" >"$RUN.analysis" 2>&1 ||
        { cat "$RUN.analysis"; sg_fail "launcher analyze-adv failed"; }
    sg_log "analysis: $(tr '\n' '|' <"$RUN.analysis")"
}
