# tests/integration/lib_slurm.sh - a private Slurm cluster on this machine.
#
# Source it, then:  slurm_init NODES CPUS || exit $?   (77 = Slurm or munge
# not installed, or not root: skip)
# It makes a temp dir with a munge key and a generated slurm.conf (its own
# ClusterName, free ports, NodeAddr=localhost for every node, no cgroups:
# proctrack/linuxproc with task/affinity), starts munged, slurmctld and NODES
# slurmd (`slurmd -N sgtK`, each on its own port, CPUS CPUs each) in the
# foreground of background jobs, waits until every node is idle and exports
# SLURM_CONF.  slurm_cleanup (call it from the EXIT trap) cancels every job,
# waits for them to end, stops the daemons (TERM, then KILL) and removes the
# dir.  Sets SLURM_DIR and SLURM_NODES (sgt1 sgt2 ...).  SLURM_KEEP=1 keeps
# the dir.

SLURM_DIR="" SLURM_NODES=() SLURM_PIDS=()

slurm_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# SLURM_FREE_PORT: a port nothing answers on, below the ephemeral range,
# not handed out yet (not in a subshell: it remembers what it gave).
slurm_free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
        [[ " ${SLURM_USED:-} " == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            SLURM_USED="${SLURM_USED:-} $p"
            SLURM_FREE_PORT=$p
            return 0
        fi
    done
    return 1
}

slurm_cleanup() {
    local pid
    if [[ -n "$SLURM_DIR" && -f "$SLURM_DIR/slurm.conf" ]] && [[ ${#SLURM_PIDS[@]} -gt 0 ]]; then
        scancel --full --quiet --user=root 2>/dev/null
        for _ in $(seq 1 60); do
            [[ -z "$(squeue -h -o %i 2>/dev/null)" ]] && break
            sleep 0.5
        done
    fi
    # slurmd first (their steps are gone), munged last (the others use it).
    for (( i=${#SLURM_PIDS[@]} - 1; i >= 0; i-- )); do
        pid=${SLURM_PIDS[$i]}
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    SLURM_PIDS=()
    if [[ -n "$SLURM_DIR" && -z "${SLURM_KEEP:-}" ]]; then
        rm -rf "$SLURM_DIR"
    elif [[ -n "$SLURM_DIR" ]]; then
        echo "kept $SLURM_DIR"
    fi
}

slurm_write_conf() {  # NODES CPUS CTLD_PORT
    local k port
    cat >"$SLURM_DIR/slurm.conf" <<CONF
ClusterName=sgt$$
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=$3
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SLURM_DIR/munge/sock
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool-%n
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd-%n.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MailProg=/bin/true
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
KillWait=10
MinJobAge=600
CONF
    for (( k=1; k <= $1; k++ )); do
        slurm_free_port || return 1
        port=$SLURM_FREE_PORT
        echo "NodeName=sgt$k NodeHostname=localhost NodeAddr=localhost Port=$port CPUs=$2" \
             "State=UNKNOWN" >>"$SLURM_DIR/slurm.conf"
        SLURM_NODES+=("sgt$k")
    done
    local list; list=$(IFS=,; echo "${SLURM_NODES[*]}")
    echo "PartitionName=sg Nodes=$list Default=YES MaxTime=INFINITE State=UP" \
        >>"$SLURM_DIR/slurm.conf"
}

slurm_all_idle() {
    local idle
    idle=$(sinfo -h -N -o '%N %T' 2>/dev/null | grep -c ' idle$')
    [[ "$idle" -eq ${#SLURM_NODES[@]} ]]
}

slurm_init() {  # NODES CPUS
    local nodes=${1:-2} cpus=${2:-2} c n
    for c in munged slurmctld slurmd srun sbatch salloc scancel scontrol squeue sinfo; do
        command -v "$c" >/dev/null || {
            echo "skip: $c not installed (scripts/install-deps --tests: slurm-wlm, munge)"
            return 77
        }
    done
    [[ $(id -u) -eq 0 ]] || { echo "skip: a private Slurm cluster needs root here"; return 77; }
    SLURM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sg-slurm.XXXXXX") || return 1
    # munged refuses a socket directory others cannot search.
    chmod 755 "$SLURM_DIR"
    mkdir -p "$SLURM_DIR/munge" "$SLURM_DIR/state" "$SLURM_DIR/log" || return 1
    chmod 755 "$SLURM_DIR/munge"
    head -c 1024 /dev/urandom >"$SLURM_DIR/munge/key" && chmod 600 "$SLURM_DIR/munge/key"
    munged -F -f --key-file="$SLURM_DIR/munge/key" --socket="$SLURM_DIR/munge/sock" \
        --pid-file="$SLURM_DIR/munge/pid" --log-file="$SLURM_DIR/munge/log" \
        --seed-file="$SLURM_DIR/munge/seed" >>"$SLURM_DIR/log/munged.out" 2>&1 &
    SLURM_PIDS+=($!)
    for _ in $(seq 1 40); do [[ -S "$SLURM_DIR/munge/sock" ]] && break; sleep 0.25; done
    [[ -S "$SLURM_DIR/munge/sock" ]] || {
        echo "munged did not start:"; tail -n 5 "$SLURM_DIR/munge/log" "$SLURM_DIR/log/munged.out"
        return 1
    }
    slurm_free_port && slurm_write_conf "$nodes" "$cpus" "$SLURM_FREE_PORT" ||
        { echo "no free port"; return 1; }
    export SLURM_CONF=$SLURM_DIR/slurm.conf
    # Whatever allocation this shell runs in is not the test's.
    unset SLURM_JOB_ID SLURM_JOBID SLURM_JOB_NODELIST SLURM_JOB_CPUS_PER_NODE
    slurmctld -D -i >>"$SLURM_DIR/log/slurmctld.out" 2>&1 &
    SLURM_PIDS+=($!)
    for n in "${SLURM_NODES[@]}"; do
        slurmd -D -N "$n" >>"$SLURM_DIR/log/slurmd-$n.out" 2>&1 &
        SLURM_PIDS+=($!)
    done
    for _ in $(seq 1 120); do
        slurm_all_idle && break
        sleep 0.5
    done
    slurm_all_idle || {
        echo "the Slurm nodes did not come up:"; sinfo -N 2>&1
        tail -n 5 "$SLURM_DIR"/log/*.log
        return 1
    }
    slurm_log "Slurm cluster sgt$$ up: ${SLURM_NODES[*]} ($cpus CPUs each) in $SLURM_DIR"
}
