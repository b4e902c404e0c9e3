# Sourced (after lib_mariadb.sh) by the tests that run the launcher against
# a private MariaDB server: failure reporting, the set-up they share, and a
# cleanup that removes the server, the launcher, every daemon it started
# and the temporary directory, on failure too.
T=""
LPID=""
LDB_TAIL=${LDB_TAIL:-10}   # launcher output lines shown on failure

fail() { echo "FAIL: $*"; [[ -n "$T" && -f "$T/l.out" ]] && tail -n "$LDB_TAIL" "$T/l.out"; exit 1; }

# Daemons of this test: the ones started from the binaries copied into $T.
our_daemons() {
    local p a0
    [[ -n "$T" ]] || return 0
    for p in /proc/[0-9]*; do
        a0=
        { read -r -d '' a0 <"$p/cmdline"; } 2>/dev/null
        [[ "$a0" == "$T/bin/sg"* ]] && echo "${p#/proc/}"
    done
}

cleanup() {
    local rc=$? p
    trap - EXIT
    [[ -n "$LPID" ]] && kill -KILL "$LPID" 2>/dev/null
    for p in $(our_daemons); do kill -KILL "$p" 2>/dev/null; done
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
