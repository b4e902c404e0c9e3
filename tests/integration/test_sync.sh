#!/usr/bin/env bash
# A node started after 200 blocks were mined syncs all of them (locator
# sync in batches, blocks in flight capped per peer) and ends with the same
# tip and ledger state.
. "$(dirname "$0")/lib.sh"
sg_setup

sg_cluster "${SG_DIFFICULTY:-4}" n1
sg_start op operator
sg_wait_for 300 "the operator mines 200 blocks" sg_all_height_ge 200 op
sg_stop_mining op
sg_wait_for 30 "operator idle" sg_all_idle op
height=$(sg_stat op height)
sg_log "operator stopped at height $height; starting a fresh node"

sg_start n1 consumer --no-mine --peer "$(sg_addr op)"
sg_wait_for 180 "the new node reaches the operator's tip" sg_same_tip op n1
sg_assert_eq "$(sg_stat n1 height)" "$height" "height of the synced node"
sg_assert_eq "$(sg_stat n1 state_hash)" "$(sg_stat op state_hash)" "ledger state digest"
sg_assert_eq "$(sg_stat n1 blocks_mined)" 0 "blocks mined by the --no-mine node"
sg_stop n1
sg_stop op
sg_log "pass: synced $height blocks"
