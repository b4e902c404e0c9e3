#!/usr/bin/env bash
# kill -9 a mining node mid-run and restart it on its data directory: it
# keeps every block it had stored and catches up with the others.
. "$(dirname "$0")/lib.sh"
sg_setup

sg_cluster "${SG_DIFFICULTY:-6}" n1 n2
sg_start op operator
sg_start n1 prosumer --peer "$(sg_addr op)"
sg_start n2 consumer --peer "$(sg_addr op)"
sg_wait_for 300 "all at height >= 6" sg_all_height_ge 6 op n1 n2

before=$(sg_stat n1 height)
[[ -n "$before" ]] || sg_fail "no stats from n1"
sg_kill9 n1
sg_log "killed n1 (SIGKILL) at height $before"
sleep 2
sg_start n1 prosumer --peer "$(sg_addr op)"
sg_wait_for 30 "n1 back" sg_all_peers_ge 1 n1

# The restart's load line: "chain loaded: N stored blocks, height H, ...".
line=$(grep 'chain loaded:' "$SG_T/n1.log" | tail -n 1)
stored=$(sed -E 's/.*chain loaded: ([0-9]+) stored blocks.*/\1/' <<<"$line")
loaded=$(sed -E 's/.*stored blocks, height ([0-9]+),.*/\1/' <<<"$line")
sg_log "after restart: $line"
[[ "$stored" =~ ^[0-9]+$ && "$stored" -ge "$before" ]] ||
    sg_fail "n1 reloaded $stored stored blocks, fewer than its height $before before the kill"
[[ "$loaded" =~ ^[0-9]+$ && "$loaded" -ge "$before" ]] ||
    sg_fail "n1 came back at height $loaded, below $before before the kill"

target=$(sg_stat op height)
sg_wait_for 120 "n1 catches up to height $target" sg_all_height_ge "$target" n1

sg_stop_mining n1 n2
sg_wait_for 30 "miners idle" sg_all_idle n1 n2
top=0
for n in op n1 n2; do h=$(sg_stat "$n" height); [[ ${h:-0} -gt $top ]] && top=$h; done
sg_wait_for 300 "the operator passes height $top" sg_all_height_ge $((top + 1)) op
sg_stop_mining op
sg_wait_for 30 "one tip" sg_same_tip op n1 n2
sg_assert_eq "$(sg_stat n1 state_hash)" "$(sg_stat op state_hash)" "ledger state digest"
for n in op n1 n2; do sg_stop "$n"; done
sg_log "pass"
