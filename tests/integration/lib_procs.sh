# lib_procs.sh - for tests that start the launcher: the daemons it started,
# found by their executable's path (the test copies bin/ into its own
# directory, so another test's daemons never match), and a free port range
# for --base-port.  Sourced by lib.sh and lib_launcher_db.sh.

# sg_our_daemons DIR: the pids whose argv[0] starts with DIR/bin/sg.
sg_our_daemons() {
    local p a0
    [[ -n "$1" ]] || return 0
    for p in /proc/[0-9]*; do
        a0=
        { read -r -d '' a0 <"$p/cmdline"; } 2>/dev/null
        [[ "$a0" == "$1/bin/sg"* ]] && echo "${p#/proc/}"
    done
}

# sg_kill_ours DIR: SIGKILL to each of them (SIGCONT first, so one a test
# stopped is reaped at once).
sg_kill_ours() {
    local p
    for p in $(sg_our_daemons "$1"); do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
}

# sg_pick_base N: sets BASE to the first of N ports nobody listens on, below
# the kernel's ephemeral range (32768+), where outgoing connections of other
# tests could take a port after the probe.  1 if 50 tries found none.
sg_pick_base() {
    local n=$1 b p ok
    for _ in $(seq 1 50); do
        b=$(( 20000 + RANDOM % (12000 - n) ))
        ok=1
        for p in $(seq "$b" $((b + n - 1))); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then ok=0; break; fi
        done
        [[ $ok -eq 1 ]] && { BASE=$b; return 0; }
    done
    return 1
}
