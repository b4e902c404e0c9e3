#!/usr/bin/env bash
# The launcher with --db-host: a private MariaDB server on a loopback port.
# A wrong password is refused at start (one line, exit 2, nothing started,
# no run directory); the right one, given by file and by MYSQL_PWD (never
# on the command line), gives a run whose rows are all in MySQL with the
# same invariants as the SQLite run: contiguous best chain, transactions in
# stored blocks, balances matching the money supply.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BIN=${SG_BIN:-$root/bin}
. "$here/lib_mariadb.sh"

. "$here/lib_launcher_db.sh"
ldb_setup lmysql
mkdir -p "$T/bin" "$T/work"
cp "$BIN/launcher" "$BIN/sgnode" "$BIN/sgoperator" "$T/bin/" || fail "cannot copy binaries"
L=$T/bin/launcher

pick_base() {
    local b p ok
    for _ in $(seq 1 50); do
        # Below the kernel's ephemeral range (32768+), where outgoing
        # connections of other tests could take a port after the probe.
        b=$(( 20000 + RANDOM % 12000 ))
        ok=1
        for p in $(seq "$b" $((b + 3))); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then ok=0; break; fi
        done
        [[ $ok -eq 1 ]] && { BASE=$b; return 0; }
    done
    return 1
}

# Wrong password: one line naming the server and the fix, exit 2.
printf 'wrong-password\n' >"$T/badpw"
pick_base || fail "no free ports"
(cd "$T/work" && exec "$L" --db-host 127.0.0.1 --db-port "$MDB_PORT" --db-password-file "$T/badpw" \
    --db-name sglaunch --base-port "$BASE" --duration 5 >"$T/out" 2>"$T/err"); rc=$?
[[ $rc -eq 2 ]] || fail "wrong password: exit $rc, expected 2: $(cat "$T/err")"
[[ $(wc -l <"$T/err") -eq 1 ]] || fail "wrong password: not one line: $(cat "$T/err")"
grep -q -- "--db-password" "$T/err" || fail "wrong password message lacks the fix: $(cat "$T/err")"
[[ -z "$(ls -A "$T/work")" ]] || fail "wrong password: created $(ls -A "$T/work")"
[[ -z "$(our_daemons)" ]] || fail "wrong password: daemons started"

# Right password through the environment; a short run.  A port taken
# between the probe and the launcher's check (tests side by side) gives
# exit 2 at once: another range is tried.
for _ in 1 2 3 4 5; do
    pick_base || fail "no free ports"
    rm -rf "$T/run"
    MYSQL_PWD=$MDB_PASS "$L" --db-host 127.0.0.1 --db-port "$MDB_PORT" --db-name sglaunch \
        --prosumers 2 --consumers 1 --difficulty 5 --duration 10 --quiet --base-port "$BASE" \
        --run-dir "$T/run" >"$T/l.out" 2>&1 &
    LPID=$!
    for _ in $(seq 1 600); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$LPID" 2>/dev/null && fail "launcher still running after 120 s"
    wait "$LPID"; rc=$?
    [[ $rc -eq 2 ]] && grep -q "in use" "$T/l.out" && continue
    break
done
LPID=""
[[ $rc -eq 0 ]] || fail "launcher exited $rc"
[[ -z "$(our_daemons)" ]] || fail "daemons left after the run"
[[ ! -e "$T/run/run.db" ]] || fail "an SQLite file was made despite --db-host"

run=$(mdb_sql "SELECT run_id FROM sglaunch.runs WHERE ended_at_s > 0")
[[ -n "$run" ]] || fail "no finished runs row"
s() { mdb_sql "SELECT $1 FROM sglaunch.$2 WHERE run_id='$run' ${3:+AND $3}"; }
for t in nodes blocks transactions simulation_stats; do
    [[ "$(s 'COUNT(*)' "$t")" -gt 0 ]] || fail "table $t is empty"
done
[[ "$(s 'COUNT(*)' nodes)" -eq 4 ]] || fail "nodes rows: $(s 'COUNT(*)' nodes)"
best=$(s 'MAX(height)' blocks 'stale=0')
[[ "$best" -ge 5 ]] || fail "best height only $best"
[[ "$(s 'COUNT(*)' blocks 'stale=0')" -eq $((best + 1)) ]] || fail "best chain not contiguous"
[[ "$(s 'COUNT(DISTINCT height)' blocks 'stale=0')" -eq $((best + 1)) ]] || fail "best heights repeat"
[[ "$(s 'COUNT(*)' transactions "block_hash<>'' AND block_hash NOT IN
      (SELECT hash FROM sglaunch.blocks WHERE run_id='$run' AND stale=0)")" -eq 0 ]] ||
    fail "transactions name blocks off the best chain"
reward=$(sed -n 's/^block_reward //p' "$T/run/genesis.txt")
alloc=$(awk '/^alloc / { s += $3 } END { print s }' "$T/run/genesis.txt")
[[ "$(s 'SUM(balance + reserved)' nodes)" -eq $((alloc + reward * best)) ]] ||
    fail "money supply: $(s 'SUM(balance + reserved)' nodes) != $((alloc + reward * best))"
mdb_log "MySQL run $run: best height $best; pass"
