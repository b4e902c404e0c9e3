# Sourced (after lib_mariadb.sh) by the tests that run the launcher against
# a private MariaDB server: failure reporting, the set-up they share, and a
# cleanup that removes the server, the launcher, every daemon it started
# and the temporary directory, on failure too.
. "$(dirname "${BASH_SOURCE[0]}")/lib_procs.sh"
T=""
LPID=""
LDB_TAIL=${LDB_TAIL:-10}   # launcher output lines shown on failure

fail() { echo "FAIL: $*"; [[ -n "$T" && -f "$T/l.out" ]] && tail -n "$LDB_TAIL" "$T/l.out"; exit 1; }


cleanup() {
    local rc=$?
    trap - EXIT
    [[ -n "$LPID" ]] && kill -KILL "$LPID" 2>/dev/null
    sg_kill_ours "$T"
    [[ -n "$T" ]] && rm -rf "$T"
    mdb_stop
    [[ -n "$MDB_DIR" ]] && rm -rf "$MDB_DIR"
    exit "$rc"
}

# ldb_setup NAME: skips (77) without the binaries or mariadbd, starts the
# server, makes $T (sg-NAME.XXXXXX) and arms the traps.
ldb_setup() {
    local rc
    [[ -x "$BIN/launcher" && -x "$BIN/sgnode" && -x "$BIN/sgoperator" ]] || {
        echo "skip: bin/launcher, sgnode or sgoperator not built"; exit 77; }
    mdb_init
    rc=$?
    [[ $rc -eq 77 ]] && exit 77
    [[ $rc -eq 0 ]] || fail "could not start mariadbd"
    T=$(mktemp -d "${TMPDIR:-/tmp}/sg-$1.XXXXXX") || exit 1
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
