#!/usr/bin/env bash
# The launcher inside a Slurm allocation, against a real Slurm: a private
# cluster (lib_slurm.sh: munged, slurmctld and two slurmd on this machine,
# 2 CPUs each).  Checked: the errors name their cause (not inside an
# allocation, srun missing, a step that cannot start on a node); a run
# submitted with scripts/slurm-example.sbatch spreads its daemons over both
# nodes, each daemon its own job step (squeue -s, and SLURM_STEP_ID in the
# daemon's environment), `launcher attach` follows a daemon, a SIGINT to the
# batch step (Ctrl-C) ends it cleanly and the run's rows reach run.db;
# scancel of a running batch job leaves no process of the run; a launcher
# run outside an allocation it was pointed at (salloc --no-shell) stops by
# itself when the job is cancelled.  Needs root and the
# slurm-wlm and munge packages (scripts/install-deps --tests); otherwise
# skipped (exit 77).  Every process and dir made here is removed, on failure
# too.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || sg_skip "sqlite3 CLI not installed (scripts/install-deps)"
[[ -x "$SG_BIN/launcher" ]] || sg_skip "bin/launcher not built (run make)"
sg_setup
. "$(dirname "$0")/lib_slurm.sh"
# sg_cleanup reads the exit status from $?: hand it on past slurm_cleanup.
trap 'rc=$?; slurm_cleanup; (exit $rc); sg_cleanup' EXIT
slurm_init 2 2
rc=$?
[[ $rc -eq 77 ]] && exit 77
[[ $rc -eq 0 ]] || sg_fail "the private Slurm cluster did not start"
LAUNCHER=$SG_BIN/launcher
SMALL=(--prosumers 1 --consumers 1 --difficulty 5 --quiet)

# A job's id from salloc's "Granted job allocation N".
alloc() {  # SALLOC-ARGS...
    salloc --no-shell "$@" 2>&1 | sed -n 's/.*Granted job allocation \([0-9]*\).*/\1/p'
}
job_done() { [[ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]]; }
# PIDs of the processes whose command line names run dir $1 (the
# launcher, the daemons), and of the daemons alone.
run_pids() { pgrep -f -- "$1" || true; }
daemon_pids() {
    local p
    for p in $(run_pids "$1/"); do
        case $(cat "/proc/$p/comm" 2>/dev/null) in sgnode|sgoperator) echo "$p" ;; esac
    done
}
no_run_pids() { [[ -z "$(run_pids "$1")" ]]; }
step_env() {  # PID VAR
    tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n "s/^$2=//p"
}

# ---- errors name their cause ---------------------------------------------
"$LAUNCHER" --placement slurm "${SMALL[@]}" --run-dir "$SG_T/e1" >"$SG_T/e1.out" 2>&1
sg_assert_eq "$?" 2 "exit status outside an allocation"
grep -q "not inside a Slurm allocation" "$SG_T/e1.out" || sg_fail "no cause in: $(cat "$SG_T/e1.out")"
"$LAUNCHER" --placement bogus >"$SG_T/e2.out" 2>&1
sg_assert_eq "$?" 2 "exit status with --placement bogus"
grep -q "placement expects local, hosts or slurm" "$SG_T/e2.out" || sg_fail "$(cat "$SG_T/e2.out")"
mkdir -p "$SG_T/nopath"
PATH=$SG_T/nopath SLURM_JOB_ID=1 SLURM_JOB_NODELIST=sgt1 "$LAUNCHER" "${SMALL[@]}" \
    --run-dir "$SG_T/e3" >"$SG_T/e3.out" 2>&1
sg_assert_eq "$?" 2 "exit status without srun"
grep -q "srun not found in PATH" "$SG_T/e3.out" || sg_fail "no cause in: $(cat "$SG_T/e3.out")"
# A job on sgt1 only, the environment claiming sgt2 as well: the step on
# sgt2 cannot start, and the error says where and what srun said.
J0=$(alloc -N1 -w sgt1 -J sg-err)
[[ -n "$J0" ]] || sg_fail "salloc gave no job"
SLURM_JOB_ID=$J0 SLURM_JOB_NODELIST='sgt[1-2]' SLURM_JOB_CPUS_PER_NODE='1(x2)' \
    "$LAUNCHER" "${SMALL[@]}" --run-dir "$SG_T/e4" >"$SG_T/e4.out" 2>&1
sg_assert_eq "$?" 2 "exit status when a step cannot start"
grep -q "slurm node sgt2: a job step failed to start (exit 1: srun: error: " "$SG_T/e4.out" ||
    sg_fail "no node and step error in: $(cat "$SG_T/e4.out")"
scancel "$J0"
sg_log "errors name their cause"

# ---- a run through the example batch script, stopped as by Ctrl-C ---------
RUN=$SG_T/run
DB=$RUN/run.db
sg_free_port || sg_fail "no free port"
BASE=$SG_FREE_PORT
J1=$(cd "$SG_ROOT" && sbatch --parsable -N2 --exclusive --time=10 -o "$SG_T/job1.out" \
        scripts/slurm-example.sbatch "${SMALL[@]}" --duration 0 --tick 1 --run-dir "$RUN" \
        --base-port "$BASE" --hashrate 0)
[[ "$J1" =~ ^[0-9]+$ ]] || sg_fail "sbatch gave no job id: $J1"
sg_log "batch job $J1"
three_daemons() { [[ $(daemon_pids "$RUN" | wc -l) -ge 3 ]]; }
sg_wait_for 60 "three daemons of job $J1" three_daemons
# Every daemon is a step of the job, and the steps cover both nodes.
n=0
for p in $(daemon_pids "$RUN"); do
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    [[ "$(step_env "$p" SLURM_JOB_ID)" == "$J1" ]] || sg_fail "$comm (pid $p) is not in job $J1"
    [[ -n "$(step_env "$p" SLURM_STEP_ID)" ]] || sg_fail "$comm (pid $p) is not a job step"
    n=$((n + 1))
done
sg_assert_eq "$n" 3 "daemons running as steps of job $J1"
steps=$(squeue -h -s -j "$J1" -o '%i %N' | grep -v '\.batch\|\.extern')
sg_log "steps: $(echo "$steps" | tr '\n' ';')"
[[ $(echo "$steps" | grep -c ' sgt1$') -ge 1 && $(echo "$steps" | grep -c ' sgt2$') -ge 1 ]] ||
    sg_fail "the daemons are not spread over sgt1 and sgt2: $steps"
# attach follows a daemon on either node.
sg_wait_for 30 "nodes.tsv" test -s "$RUN/nodes.tsv"
timeout 4 "$LAUNCHER" attach p1 --run "$RUN" >"$SG_T/attach.out" 2>&1
[[ -s "$SG_T/attach.out" ]] && ! grep -q "cannot follow" "$SG_T/attach.out" ||
    sg_fail "attach p1: $(head -n 3 "$SG_T/attach.out")"
# Ctrl-C for a batch job: SIGINT to the batch shell, which exec'd the
# launcher; it settles, writes its rows and report, and the job completes.
sleep 15
scancel --batch --signal=INT "$J1"
sg_wait_for 120 "job $J1 to end after SIGINT" job_done "$J1"
state=$(scontrol -o show job "$J1" | grep -o 'JobState=[A-Z]* .*ExitCode=[0-9:]*' | awk '{print $1, $NF}')
[[ "$state" == "JobState=COMPLETED ExitCode=0:0" ]] ||
    sg_fail "job $J1 ended as '$state': $(tail -n 5 "$SG_T/job1.out")"
grep -q "best height" "$SG_T/job1.out" || sg_fail "no summary in: $(tail -n 5 "$SG_T/job1.out")"
q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }
blocks=$(q "SELECT COUNT(*) FROM blocks")
nodes=$(q "SELECT COUNT(*) FROM nodes")
stats=$(q "SELECT COUNT(DISTINCT node) FROM node_stats")
hosts=$(q "SELECT hosts FROM runs")
sg_assert_eq "$nodes" 3 "nodes rows"
sg_assert_eq "$stats" 3 "nodes with node_stats rows"
sg_assert_eq "$hosts" 2 "runs.hosts"
[[ "$blocks" -ge 3 ]] || sg_fail "only $blocks blocks in run.db"
sg_wait_for 30 "no process of the run" no_run_pids "$RUN/"
sg_log "job $J1: $blocks blocks, 3 nodes on 2 Slurm nodes, every daemon a step"

# ---- scancel of a running batch job leaves nothing ----------------------------
RUN2=$SG_T/run2
sg_free_port || sg_fail "no free port"
J2=$(cd "$SG_ROOT" && sbatch --parsable -N2 --exclusive --time=10 -o "$SG_T/job2.out" \
        scripts/slurm-example.sbatch "${SMALL[@]}" --duration 0 --run-dir "$RUN2" \
        --base-port "$SG_FREE_PORT" --hashrate 0)
[[ "$J2" =~ ^[0-9]+$ ]] || sg_fail "sbatch gave no job id: $J2"
daemon_steps() { [[ $(squeue -h -s -j "$J2" -o %i | grep -vc '\.batch\|\.extern') -ge 3 ]]; }
sg_wait_for 60 "the daemons of job $J2" daemon_steps
sleep 2
scancel "$J2"
sg_wait_for 60 "job $J2 to end after scancel" job_done "$J2"
nothing_left() { [[ -z "$(run_pids "$RUN2/")" && -z "$(pgrep -f -- "srun --jobid=$J2 ")" ]]; }
sg_wait_for 30 "no process of job $J2" nothing_left
sg_log "scancel of job $J2 left nothing running"

# ---- a launcher outside its allocation stops when the job is cancelled -----
RUN3=$SG_T/run3
sg_free_port || sg_fail "no free port"
J3=$(alloc -N2 --exclusive -J sg-outside)
[[ -n "$J3" ]] || sg_fail "salloc gave no job"
SLURM_JOB_ID=$J3 SLURM_JOB_NODELIST='sgt[1-2]' SLURM_JOB_CPUS_PER_NODE='2(x2)' \
    "$LAUNCHER" "${SMALL[@]}" --duration 0 --run-dir "$RUN3" --base-port "$SG_FREE_PORT" \
    >"$SG_T/run3.out" 2>&1 &
L3=$!
three_steps() { [[ $(squeue -h -s -j "$J3" -o %i | grep -vc '\.extern') -ge 3 ]]; }
sg_wait_for 60 "the daemons of job $J3" three_steps
scancel "$J3"
l3_done() { ! kill -0 "$L3" 2>/dev/null; }
sg_wait_for 90 "the launcher to stop after scancel of job $J3" l3_done
wait "$L3"
grep -q "the Slurm job $J3 has ended; stopping" "$SG_T/run3.out" ||
    sg_fail "no word of the job's end in: $(tail -n 5 "$SG_T/run3.out")"
sg_wait_for 30 "no process of run3" no_run_pids "$RUN3/"
sg_log "a launcher outside job $J3 stopped when it was cancelled"
