#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh in its own process group with a time
# limit.  A test exits 0 (pass), 77 (skipped: cannot run here, says why) or
# anything else (fail).  Prints one line per test and a closing
# "N passed, N failed, N skipped" line; exits non-zero if any failed.
# Usage: run.sh [NAME...]   (NAME matches test_NAME.sh)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
limit=${SG_TEST_TIMEOUT:-600}
# Inside a Slurm job the launcher would place daemons with srun; the tests
# run on this machine (test_slurm makes its own allocations).
unset SLURM_JOB_ID SLURM_JOBID SLURM_JOB_NODELIST SLURM_JOB_CPUS_PER_NODE
logdir=$(mktemp -d "${TMPDIR:-/tmp}/sg-integration.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

if [[ $# -gt 0 ]]; then
    tests=(); for n in "$@"; do tests+=("$here/test_$n.sh"); done
else
    tests=("$here"/test_*.sh)
fi

passed=0 failed=0 skipped=0
for t in "${tests[@]}"; do
    [[ -e "$t" ]] || continue
    name=$(basename "$t" .sh); name=${name#test_}
    start=$(date +%s)
    # setsid: the test and everything it starts form one group we can kill.
    (cd "$root" && exec setsid timeout --kill-after=10 "$limit" bash "$t") >"$logdir/$name.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    case $rc in
        0)  passed=$((passed + 1)); echo "PASS $name (${secs}s)" ;;
        77) skipped=$((skipped + 1)); echo "SKIP $name: $(tail -n 1 "$logdir/$name.log")" ;;
        *)  failed=$((failed + 1))
            [[ $rc -eq 124 ]] && echo "FAIL $name: timed out after ${limit}s" || echo "FAIL $name (exit $rc, ${secs}s)"
            # The test's own lines first (its FAIL line would otherwise
            # scroll away behind the node logs sg_fail prints after it).
            grep -E '^\[[0-9:]{8}\] |^FAIL: ' "$logdir/$name.log" | tail -n 20 | sed 's/^/    | /'
            echo "    | ----"
            sed 's/^/    | /' "$logdir/$name.log" | tail -n 40 ;;
    esac
done
echo "integration: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
