# tests/integration/lib.sh - sourced by every test_*.sh.
#
# Gives each test a temp dir, a cluster (keys, cluster key, genesis) made
# with the sgnode subcommands, daemons started in the background on free
# loopback ports, polling helpers over `sgnode ctl ... stats`, and a trap
# that stops every process the test started (TERM, then KILL after a few
# seconds) and removes the temp dir, whether the test passed or not.
#
# Exit statuses: 0 pass, 77 skip (last line says why), anything else fail.
# SG_KEEP=1 keeps the temp dir for a look afterwards.

set -u

SG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SG_BIN=${SG_BIN:-$SG_ROOT/bin}
SGNODE=$SG_BIN/sgnode
SGOPERATOR=$SG_BIN/sgoperator
SG_TOOLS=${SG_TOOLS:-$SG_ROOT/build/tests/tools}
. "$(dirname "${BASH_SOURCE[0]}")/lib_procs.sh"

declare -A SG_PID=() SG_PORT=() SG_IP=() SG_ARGS=() SG_EXE=()
SG_NAMES=()
SG_USED_PORTS=" "
SG_FAILED=0

sg_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

sg_skip() { echo "skip: $*"; exit 77; }

# Prints a reason and the tail of every node's log, then exits 1.
sg_fail() {
    SG_FAILED=1
    echo "FAIL: $*"
    local n
    for n in "${SG_NAMES[@]}"; do
        [[ -n "${SG_PID[$n]:-}" ]] || continue
        echo "$n: $(sg_stats "$n" | grep -E '^(height|tip|peers|mining|stale_blocks)=' | tr '\n' ' ')"
    done
    for n in "${SG_NAMES[@]}"; do
        [[ -f "$SG_T/$n.log" ]] || continue
        echo "---- $n: warnings and errors (first 10), then the last lines"
        grep -E ' (WARN|ERROR) ' "$SG_T/$n.log" | head -n 10
        [[ -s "$SG_T/$n.out" ]] && { echo "-- $n stdout/stderr:"; tail -n 5 "$SG_T/$n.out"; }
        tail -n 8 "$SG_T/$n.log"
    done
    exit 1
}

sg_cleanup() {
    local rc=$? pid n live
    trap - EXIT INT TERM
    for n in "${!SG_PID[@]}"; do
        pid=${SG_PID[$n]}
        kill -TERM "$pid" 2>/dev/null
    done
    for _ in $(seq 1 50); do
        live=0
        for n in "${!SG_PID[@]}"; do
            kill -0 "${SG_PID[$n]}" 2>/dev/null && live=1
        done
        [[ $live -eq 0 ]] && break
        sleep 0.1
    done
    for n in "${!SG_PID[@]}"; do
        kill -KILL "${SG_PID[$n]}" 2>/dev/null
        wait "${SG_PID[$n]}" 2>/dev/null
    done
    if [[ -n "${SG_T:-}" && -d "$SG_T" ]]; then
        if [[ "${SG_KEEP:-0}" == 1 ]]; then
            echo "kept $SG_T"
        else
            rm -rf "$SG_T"
        fi
    fi
    exit "$rc"
}

# Makes the temp dir and installs the trap; checks the binaries exist.
sg_setup() {
    [[ -x "$SGNODE" && -x "$SGOPERATOR" ]] || sg_skip "bin/sgnode or bin/sgoperator not built (run make)"
    SG_T=$(mktemp -d "${TMPDIR:-/tmp}/sg-it.XXXXXX") || exit 1
    trap sg_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # Private copies: a rebuild of bin/ while the test runs (make in another
    # terminal) must not swap binaries under a restart.
    mkdir -p "$SG_T/bin"
    cp "$SGNODE" "$SGOPERATOR" "$SG_T/bin/" || sg_fail "cannot copy the binaries"
    # The GPU kernel library goes along: daemons look for it next to
    # themselves (a build without nvcc has none).
    if [[ -e "$SG_BIN/sgcuda.so" ]]; then
        cp "$SG_BIN/sgcuda.so" "$SG_T/bin/" || sg_fail "cannot copy sgcuda.so"
    fi
    SGNODE=$SG_T/bin/sgnode
    SGOPERATOR=$SG_T/bin/sgoperator
}

# Sets SG_FREE_PORT to a TCP port nothing listens on, not handed out
# before in this test (call it directly, not in $(...), so the record of
# ports handed out survives): a random high port that refuses a connection (bash /dev/tcp probe; fast even
# on a loaded machine, unlike starting an interpreter per port).
sg_free_port() {
    local p
    for _ in $(seq 1 200); do
        # Below the kernel's ephemeral range (32768+): an outgoing connection
        # there could take the port between this probe and the daemon's bind.
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
        [[ "$SG_USED_PORTS" == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            SG_USED_PORTS="$SG_USED_PORTS$p "
            SG_FREE_PORT=$p
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# sg_cluster DIFFICULTY NODE_NAME...: cluster key, operator key, one key per
# node (keys/NAME.key), and a genesis giving each node 1000 coins, plus any
# "--alloc PK=AMOUNT" pairs the caller put in SG_EXTRA_ALLOCS.  The
# difficulty stays fixed (fast blocks) unless the caller sets
# SG_BLOCK_INTERVAL (seconds; SG_HALFLIFE optional) for a retargeting chain.
SG_EXTRA_ALLOCS=()
SG_BLOCK_INTERVAL=${SG_BLOCK_INTERVAL:-0}
SG_HALFLIFE=${SG_HALFLIFE:-}
sg_cluster() {
    local diff=$1; shift
    local n pk allocs=("${SG_EXTRA_ALLOCS[@]}")
    mkdir -p "$SG_T/keys"
    "$SGNODE" cluster-key --out "$SG_T/cluster.key" || sg_fail "cluster-key failed"
    SG_OPERATOR_PK=$("$SGNODE" keygen --out "$SG_T/keys/operator.key") || sg_fail "keygen failed"
    for n in "$@"; do
        pk=$("$SGNODE" keygen --out "$SG_T/keys/$n.key") || sg_fail "keygen $n failed"
        allocs+=(--alloc "$pk=1000000000")
    done
    "$SGNODE" genesis --out "$SG_T/genesis.txt" --operator-key "$SG_OPERATOR_PK" \
        --difficulty "$diff" --block-interval "$SG_BLOCK_INTERVAL" \
        ${SG_HALFLIFE:+--retarget-halflife "$SG_HALFLIFE"} "${allocs[@]}" ||
        sg_fail "genesis failed"
}

# sg_start NAME ROLE [extra daemon options...]: ROLE is prosumer, consumer or
# operator.  Starts in the background on a free port with its own data dir
# and log; SG_PORT[NAME] holds the port.  A port already assigned to NAME is
# reused (restarts).  SG_LISTEN_IP picks another loopback address than
# 127.0.0.1 to listen on.
sg_start() {
    local name=$1 role=$2; shift 2
    local port=${SG_PORT[$name]:-}
    if [[ -z "$port" ]]; then
        sg_free_port || sg_fail "no free port found"
        port=$SG_FREE_PORT
    fi
    SG_PORT[$name]=$port
    [[ -n "${SG_IP[$name]:-}" ]] || SG_IP[$name]=${SG_LISTEN_IP:-127.0.0.1}
    local exe=$SGNODE key=$SG_T/keys/$name.key
    local args=(--genesis "$SG_T/genesis.txt" --cluster-key "${SG_CLUSTER_KEY:-$SG_T/cluster.key}"
                --data-dir "$SG_T/$name.data" --listen "${SG_IP[$name]}:$port"
                --log "$SG_T/$name.log" --log-level "${SG_LOG_LEVEL:-info}" --name "$name"
                --reconnect-max-ms 2000)
    if [[ "$role" == operator ]]; then
        exe=$SGOPERATOR
        key=$SG_T/keys/operator.key
    else
        args+=(--role "$role")
    fi
    args+=(--key "$key" "$@")
    SG_EXE[$name]=$exe
    SG_ARGS[$name]="$role"
    [[ " ${SG_NAMES[*]} " == *" $name "* ]] || SG_NAMES+=("$name")
    "$exe" "${args[@]}" >>"$SG_T/$name.out" 2>&1 &
    SG_PID[$name]=$!
}

# Address of a started node, for --peer.
sg_addr() { echo "${SG_IP[$1]}:${SG_PORT[$1]}"; }

# sg_stop NAME: SIGTERM and wait (fails the test if it does not exit 0
# within 30 s: a loaded machine may take a while to flush and join).
sg_stop() {
    local name=$1 pid=${SG_PID[$1]} rc
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && sg_fail "$name did not exit within 30 s of SIGTERM"
    wait "$pid"; rc=$?
    unset "SG_PID[$name]"
    [[ $rc -eq 0 ]] || sg_fail "$name exited with status $rc after SIGTERM"
}

# sg_kill9 NAME
sg_kill9() {
    local pid=${SG_PID[$1]}
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "SG_PID[$1]"
}

# sg_signal NAME SIG...: e.g. USR1 (stop mining), USR2 (start mining).
sg_signal() {
    local name=$1 sig=$2
    kill -"$sig" "${SG_PID[$name]}" 2>/dev/null || sg_fail "$name is not running"
}

# sg_stats NAME: key=value lines (empty on failure).
sg_stats() {
    "$SGNODE" ctl --connect "$(sg_addr "$1")" --cluster-key "${SG_CTL_KEY:-$SG_T/cluster.key}" \
        --genesis "$SG_T/genesis.txt" --timeout-ms 5000 stats 2>/dev/null
}

# sg_stat NAME KEY: one value (empty on failure).
sg_stat() {
    sg_stats "$1" | sed -n "s/^$2=//p"
}

# sg_wait_for SECONDS DESCRIPTION COMMAND [ARGS...]: runs COMMAND every
# 0.5 s until it succeeds.  The condition must be computed by COMMAND on
# each run: a function, `grep FILE`, `test -e FILE`, or `eval '...'` in
# single quotes.  `test -z "$(something)"` would test one string, expanded
# once when the line was reached, for ever; such a call fails at once.
sg_wait_for() {
    local secs=$1 what=$2; shift 2
    case "$1 ${2:-}" in
        "test -z"|"test -n"|"[ -z"|"[ -n")
            sg_fail "sg_wait_for \"$what\": '$1 $2' tests a string expanded once; pass a function" ;;
    esac
    local deadline=$(( $(date +%s) + secs ))
    while :; do
        "$@" && return 0
        [[ $(date +%s) -ge $deadline ]] && sg_fail "timed out after ${secs}s waiting for: $what"
        sleep 0.5
    done
}

# sg_all_stat_ge STAT N NODE...: true if every named node reports STAT >= N.
sg_all_stat_ge() {
    local stat=$1 want=$2 n v; shift 2
    for n in "$@"; do
        v=$(sg_stat "$n" "$stat")
        [[ -n "$v" && "$v" -ge "$want" ]] || return 1
    done
}

# True if every named node reports a height >= H.
sg_all_height_ge() { sg_all_stat_ge height "$@"; }

# True if every named node reports the same tip (printed on success).
sg_same_tip() {
    local n t first=""
    for n in "$@"; do
        t=$(sg_stat "$n" tip)
        [[ -n "$t" ]] || return 1
        if [[ -z "$first" ]]; then first=$t; elif [[ "$t" != "$first" ]]; then return 1; fi
    done
    SG_TIP=$first
}

# True if every named node reports at least N peers.
sg_all_peers_ge() { sg_all_stat_ge peers "$@"; }

sg_assert_eq() {
    [[ "$1" == "$2" ]] || sg_fail "$3: expected '$2', got '$1'"
}

# sg_grep_log NAME REGEX: true if the node's log has a matching line.
sg_grep_log() {
    grep -Eq -- "$2" "$SG_T/$1.log" 2>/dev/null
}

sg_stop_mining() { local n; for n in "$@"; do sg_signal "$n" USR1; done; }
sg_start_mining() { local n; for n in "$@"; do sg_signal "$n" USR2; done; }

# True once the mining flag of every named node is 0 (signals are async).
sg_all_idle() {
    local n; for n in "$@"; do [[ "$(sg_stat "$n" mining)" == 0 ]] || return 1; done
}

# sg_check_fds PID NAME RUNDIR STDIN: a daemon the launcher started holds
# fd 0 = STDIN ("/dev/null", or "pipe" for a remote daemon's script),
# 1 and 2 = RUNDIR/logs/NAME.out, and from 3 up only what it opened itself:
# not its .out file again, not the run's database, not another node's
# files, and no /dev/null without close-on-exec (libuv keeps one with it; a
# descriptor inherited from the launcher never has it: it survived exec).
sg_check_fds() {
    local pid=$1 name=$2 run=$3 want0=$4 fd t flags out=$3/logs/$2.out
    t=$(readlink "/proc/$pid/fd/0")
    [[ $t == "$want0" || ( $want0 == pipe && $t == pipe:* ) ]] || sg_fail "$name: fd 0 is $t, not $want0"
    for fd in 1 2; do
        t=$(readlink "/proc/$pid/fd/$fd")
        [[ $t == "$out" ]] || sg_fail "$name: fd $fd is $t, not $out"
    done
    for t in "/proc/$pid/fd/"*; do
        fd=${t##*/}
        [[ $fd -ge 3 ]] || continue
        t=$(readlink "$t") || continue
        case $t in
            "$out"|"$run/run.db"*) sg_fail "$name: fd $fd is $t, left open by the launcher" ;;
            /dev/null)
                flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$pid/fdinfo/$fd")
                (( 8#${flags:-0} & 8#2000000 )) ||
                    sg_fail "$name: fd $fd is /dev/null inherited from the launcher" ;;
            "$run/"*)
                [[ $t == "$run/data/$name/"* || $t == "$run/logs/$name.log" ]] ||
                    sg_fail "$name: fd $fd is $t, not its own" ;;
        esac
    done
}

# SQL selecting the market intervals whose settlement is due in run RUN_DIR:
# intervals with orders on the best chain for which a best-chain block came
# 3 s after the interval ended and 3 s after the orders' block (the
# operator had a block to put the settlement in).  Used as "IN ($(...))".
sg_due_intervals_sql() {
    local g0 tick
    g0=$(sed -n 's/^genesis_time //p' "$1/genesis.txt")
    tick=$(sed -n 's/^tick_ms //p' "$1/genesis.txt")
    echo "SELECT DISTINCT t.interval_no FROM transactions t
          JOIN blocks ob ON ob.hash=t.block_hash AND ob.stale=0
          WHERE t.kind IN ('offer','bid') AND EXISTS (SELECT 1 FROM blocks b WHERE b.stale=0
            AND b.first_seen_ms >= ob.first_seen_ms + 3000
            AND b.first_seen_ms >= $g0 * 1000 + (t.interval_no + 1) * $tick + 3000)"
}
