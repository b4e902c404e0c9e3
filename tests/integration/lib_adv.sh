# Sourced after lib.sh by the adversary tests (test_adv_*.sh): a launcher
# run in the background on free ports, queries of its SQLite store, a stop
# by SIGINT, and a cleanup that kills every daemon the run started (found
# by the private binaries' path), on failure too.

# adv_setup: skips without sqlite3 or the launcher; copies the launcher
# next to the private daemon binaries sg_setup made.
adv_setup() {
    command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
    [[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
    cp "$SG_BIN/launcher" "$SG_T/bin/" || sg_fail "cannot copy the launcher"
    LAUNCHER=$SG_T/bin/launcher
    trap 'rc=$?; sg_kill_ours "$SG_T"; (exit $rc); sg_cleanup' EXIT
}

# adv_q SQL: one query on the run's store ($RUN/run.db).
adv_q() { sqlite3 -cmd ".timeout 5000" "$RUN/run.db" "$1"; }

# adv_start NODES ARGS...: the launcher in the background on NODES free
# ports (--run-dir $RUN, --duration 0: it runs until adv_stop); LPID set.
# A port taken between the probe and the launcher's own check makes it
# exit 2 before it creates $RUN: then another range is tried.
adv_start() {
    local nodes=$1 rc; shift
    for _ in 1 2 3 4 5; do
        sg_pick_base "$nodes" || sg_fail "no free port range"
        "$LAUNCHER" --quiet --duration 0 --base-port "$BASE" --run-dir "$RUN" "$@" \
            <&- >"$RUN.out" 2>&1 &
        LPID=$!
        SG_PID[launcher]=$LPID
        adv_settled() { [[ -e "$RUN/run.db" ]] || ! kill -0 "$LPID" 2>/dev/null; }
        sg_wait_for 60 "the launcher past its port check" adv_settled
        [[ -e "$RUN/run.db" ]] && return 0
        wait "$LPID"; rc=$?
        unset "SG_PID[launcher]"
        [[ $rc -eq 2 ]] && grep -q "in use" "$RUN.out" && continue
        cat "$RUN.out"
        sg_fail "launcher exited $rc at start"
    done
    sg_fail "no usable port range after 5 tries"
}

# adv_stop: SIGINT, as Ctrl-C; the launcher settles the chain, writes the
# store and exits 0 within a generous time.
adv_stop() {
    local rc
    kill -INT "$LPID"
    adv_exited() { ! kill -0 "$LPID" 2>/dev/null; }
    sg_wait_for 300 "the launcher to finish after SIGINT" adv_exited
    wait "$LPID"; rc=$?
    unset "SG_PID[launcher]"
    [[ $rc -eq 0 ]] || { tail -n 20 "$RUN.out"; sg_fail "launcher exited $rc after SIGINT"; }
}

# The transaction-side tests (test_adv_{forger,spammer,double_spend,
# manipulator}.sh) run 2 prosumers and 2 consumers at difficulty 5.
ADV_TX_NODES=5

# adv_tx_start DIR ARGS...: adv_start for them into DIR (RUN), returning
# once the store lists every node.
adv_tx_start() {
    RUN=$1; shift
    adv_start "$ADV_TX_NODES" --prosumers 2 --consumers 2 --difficulty 5 "$@"
    adv_nodes_in() { [[ "$(adv_q 'SELECT COUNT(*) FROM nodes' 2>/dev/null)" -ge $ADV_TX_NODES ]]; }
    sg_wait_for 120 "the run's store with every node" adv_nodes_in
}

# adv_int SQL: the query's one integer (0 when empty or NULL).
adv_int() { local v; v=$(adv_q "$1"); echo "${v:-0}"; }

# adv_ge SQL N: true when the query's integer is at least N (for sg_wait_for).
adv_ge() { [[ "$(adv_int "$1")" -ge "$2" ]]; }

# adv_pk NAME: a node's public key from the store.
adv_pk() { adv_q "SELECT pubkey FROM nodes WHERE name='$1'"; }

# adv_banned_by_sql NAME: how many other nodes list NAME among their bans.
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
