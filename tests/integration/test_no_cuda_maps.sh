#!/usr/bin/env bash
# A daemon that is not asked for a GPU maps neither the CUDA runtime nor
# libstdc++ (the GPU kernel is a dlopen'ed sgcuda.so); one started with
# --use-gpu loads the library when the build has it, and without a device
# says so in one warning line and mines on the CPU.
. "$(dirname "$0")/lib.sh"
sg_setup
sg_cluster 6 n1 n2

gpu_maps() {   # the CUDA / C++ runtime lines of NAME's /proc/PID/maps
    grep -E 'libcudart|libcuda\.so|sgcuda\.so|libstdc\+\+' "/proc/${SG_PID[$1]}/maps" || true
}

sg_start n1 prosumer
sg_wait_for 30 "n1 answers stats" eval '[[ -n "$(sg_stat n1 impl)" ]]'
maps=$(gpu_maps n1)
[[ -z "$maps" ]] || sg_fail "n1 (no --use-gpu) maps GPU or C++ libraries: $maps"
sg_log "no --use-gpu: no CUDA library, no libstdc++ in /proc/PID/maps"

sg_start n2 consumer --use-gpu
sg_wait_for 30 "n2 answers stats" eval '[[ -n "$(sg_stat n2 impl)" ]]'
if [[ -e "$SG_T/bin/sgcuda.so" ]]; then
    gpu_maps n2 | grep -q sgcuda.so || sg_fail "n2 (--use-gpu) did not load sgcuda.so"
fi
if [[ "$(sg_stat n2 impl)" != cuda ]]; then
    [[ $(grep -c 'WARN .*--use-gpu' "$SG_T/n2.log") -eq 1 ]] ||
        sg_fail "--use-gpu without a device: want one warning line, got: $(grep WARN "$SG_T/n2.log")"
    sg_log "--use-gpu here: $(grep -m1 'WARN .*--use-gpu' "$SG_T/n2.log" | sed 's/.*WARN *//')"
fi
sg_stop n1
sg_stop n2
sg_log "pass"
