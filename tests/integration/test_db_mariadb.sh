#!/usr/bin/env bash
# The db module against a real MariaDB server started here on a loopback
# port: every table written, re-sending stores nothing twice, a wrong
# password and a closed port give one clear line (exit 2), and a server
# stopped for 20 s while rows stream in loses nothing and duplicates nothing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
DBDRIVE=${SG_TOOLS:-$root/build/tests/tools}/dbdrive
. "$here/lib_mariadb.sh"

fail() { echo "FAIL: $*"; [[ -n "$MDB_DIR" ]] && tail -n 5 "$MDB_DIR/error.log"; exit 1; }

[[ -x "$DBDRIVE" ]] || fail "$DBDRIVE not built (make build/tests/tools/dbdrive)"
mdb_init
rc=$?
[[ $rc -eq 77 ]] && exit 77
[[ $rc -eq 0 ]] || fail "could not start mariadbd"

conn=(--host 127.0.0.1 --port "$MDB_PORT" --user root --name sgtest)
export DBDRIVE_PASSWORD=$MDB_PASS
TABLES="runs nodes blocks transactions trades market_intervals node_stats"

# Compares "submitted TABLE N" lines in $1 with the rows of run $2.
check_counts() {
    local out=$1 run=$2 t want got
    for t in $TABLES; do
        want=$(awk -v t="$t" '$1 == "submitted" && $2 == t { print $3 }' "$out")
        [[ -n "$want" ]] || fail "driver printed no count for $t"
        got=$(mdb_sql "SELECT COUNT(*) FROM sgtest.$t WHERE run_id = '$run'")
        [[ "$got" == "$want" ]] || fail "$run: $t has $got rows, $want submitted"
    done
}

# Every primary key once: COUNT(*) against COUNT(DISTINCT key).
check_distinct() {
    local run=$1 spec t key all distinct
    for spec in "blocks:hash" "transactions:txid" "nodes:name" \
                "trades:settle_txid,order_txid" "market_intervals:interval_no" \
                "node_stats:node,t_ms"; do
        t=${spec%%:*} key=${spec#*:}
        read -r all distinct < <(mdb_sql "SELECT COUNT(*), COUNT(DISTINCT $key)
                                          FROM sgtest.$t WHERE run_id = '$run'")
        [[ "$all" == "$distinct" ]] || fail "$run: $t has $all rows, $distinct distinct"
    done
}

mdb_log "fill: one row in every table, twice, in two processes"
"$DBDRIVE" "${conn[@]}" --spill "$MDB_DIR/fill.spill" fill fill1 >"$MDB_DIR/fill.out" 2>&1 ||
    { cat "$MDB_DIR/fill.out"; fail "fill"; }
grep -q '^backend mysql$' "$MDB_DIR/fill.out" || fail "driver did not use MySQL"
check_counts "$MDB_DIR/fill.out" fill1
"$DBDRIVE" "${conn[@]}" --spill "$MDB_DIR/fill.spill" fill fill1 >"$MDB_DIR/fill2.out" 2>&1 ||
    { cat "$MDB_DIR/fill2.out"; fail "fill again"; }
check_counts "$MDB_DIR/fill2.out" fill1
check_distinct fill1
[[ $(mdb_sql "SELECT params FROM sgtest.runs WHERE run_id = 'fill1'") == \
   '{"driver":"dbdrive","quote":"it'"'"'s\\"}' ]] || fail "params not stored verbatim"

mdb_log "late columns: a nodes table from before the adversary columns gets them"
cols=""
for c in port balance reserved sold_wh bought_wh grid_import_wh grid_export_wh produced_wh \
         consumed_wh height updated_ms; do
    cols+="$c BIGINT NOT NULL DEFAULT 0, "
done
mdb_sql "CREATE DATABASE sgold; CREATE TABLE sgold.nodes (run_id VARCHAR(39) NOT NULL
         DEFAULT '', name VARCHAR(63) NOT NULL DEFAULT '', role VARCHAR(15) NOT NULL
         DEFAULT '', pubkey VARCHAR(64) NOT NULL DEFAULT '', host VARCHAR(63) NOT NULL
         DEFAULT '', $cols PRIMARY KEY (run_id, name)) ENGINE=InnoDB;
         INSERT INTO sgold.nodes (run_id, name) VALUES ('old', 'p1')" ||
    fail "cannot make the old table"
"$DBDRIVE" --host 127.0.0.1 --port "$MDB_PORT" --user root --name sgold \
    --spill "$MDB_DIR/old.spill" open >"$MDB_DIR/old.out" 2>&1 ||
    { cat "$MDB_DIR/old.out"; fail "open over an old nodes table"; }
[[ $(mdb_sql "SELECT CONCAT(adversary, '/', banned_peers, '/', rejected_blocks)
              FROM sgold.nodes WHERE name = 'p1'") == "//0" ]] ||
    fail "the adversary columns were not added: $(mdb_sql "SHOW COLUMNS FROM sgold.nodes")"

mdb_log "wrong password: one line naming the problem and the fix, exit 2"
DBDRIVE_PASSWORD=wrong "$DBDRIVE" "${conn[@]}" open >"$MDB_DIR/pw.out" 2>&1
rc=$?
cat "$MDB_DIR/pw.out"
[[ $rc -eq 2 ]] || fail "wrong password: exit $rc, want 2"
grep -q "refused user 'root'" "$MDB_DIR/pw.out" || fail "message does not name the user"
grep -q -- "--db-password" "$MDB_DIR/pw.out" || fail "message does not name the fix"
[[ $(wc -l <"$MDB_DIR/pw.out") -eq 1 ]] || fail "more than one line"

mdb_log "closed port: not reachable, exit 2"
closed=$(mdb_free_port)
"$DBDRIVE" --host 127.0.0.1 --port "$closed" open >"$MDB_DIR/port.out" 2>&1
rc=$?
cat "$MDB_DIR/port.out"
[[ $rc -eq 2 ]] || fail "closed port: exit $rc, want 2"
grep -q "not reachable" "$MDB_DIR/port.out" || fail "closed port: unclear message"

mdb_log "outage: stream rows for 45 s, server down for 20 s in the middle"
# A small memory bound so the outage also goes through the spill file.
"$DBDRIVE" "${conn[@]}" --spill "$MDB_DIR/stream.spill" --mem-rows 2000 \
    stream out1 45 >"$MDB_DIR/stream.out" 2>&1 &
drv=$!
sleep 8
kill -0 "$drv" 2>/dev/null || { cat "$MDB_DIR/stream.out"; fail "driver died early"; }
mdb_log "stopping mariadbd"
mdb_stop
sleep 20
mdb_log "starting mariadbd again"
mdb_start || fail "restart"
wait "$drv"
rc=$?
cat "$MDB_DIR/stream.out"
[[ $rc -eq 0 ]] || fail "driver exit $rc"
grep -q ' down backlog=' "$MDB_DIR/stream.out" || fail "driver never saw the outage"
grep -q ' up backlog=' "$MDB_DIR/stream.out" || fail "driver never saw the server return"
[[ ! -e "$MDB_DIR/stream.spill" ]] || fail "spill file left after a clean close"
check_counts "$MDB_DIR/stream.out" out1
check_distinct out1
# Each block was re-put with stale = height % 2: the last put won.
bad=$(mdb_sql "SELECT COUNT(*) FROM sgtest.blocks WHERE run_id = 'out1'
               AND stale <> height % 2")
[[ "$bad" == 0 ]] || fail "$bad blocks with the wrong stale flag"
mdb_log "the example queries of docs/SCHEMA.md run on MariaDB"
n=0
while IFS= read -r q; do
    MYSQL_PWD=$MDB_PASS mariadb --no-defaults --protocol=TCP -h 127.0.0.1 \
        -P "$MDB_PORT" -u root -N -B sgtest -e "${q//\'RUN\'/\'out1\'}" >/dev/null ||
        fail "docs/SCHEMA.md query failed: $q"
    n=$((n + 1))
done < <(awk '/^```sql/ { f = 1; q = ""; next }
              /^```/ { if (f) print q; f = 0; next }
              f { q = q " " $0 }' "$root/docs/SCHEMA.md")
[[ $n -ge 5 ]] || fail "found only $n queries in docs/SCHEMA.md"
mdb_log "pass ($n example queries)"
exit 0
