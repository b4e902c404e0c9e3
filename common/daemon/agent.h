/*
 * agent.h - a node's market participant: the household side (prosumer,
 * consumer) that signs one order per market interval, and the operator
 * side that clears finished intervals and publishes settlements.
 *
 * Timing comes from the chain parameters only (energy.h): interval k runs
 * from genesis_time * 1000 + k * tick_ms for tick_ms real milliseconds.
 *
 * Household.  At the start of interval k the agent runs the energy model
 * (energy_node_step) and, when it yields an order, signs an offer or bid
 * for interval k with the next free nonce of its account (the ledger nonce,
 * skipping nonces its own transactions already hold in the mempool) and
 * hands it to the submit callback.  Intervals the loop missed (a stalled
 * machine) are stepped without orders: an order for an interval already
 * over could only expire.  Settlements in connected blocks feed the price
 * adaptation back (energy_node_observe_settlement).
 *
 * Operator.  Interval k is cleared once real time has passed the end of k
 * by AGENT_SETTLE_GRACE_DIV-th of a tick (late orders still get mined).
 * The agent settles every interval with open orders in the tip ledger, in
 * order, as soon as its grace is over, without waiting for the one before
 * to be mined: up to AGENT_MAX_PENDING settlements are in flight at once,
 * with consecutive nonces of the operator account, each built on the tip
 * with the earlier ones applied (so a block can carry several, and blocks
 * slower than intervals do not build a backlog).  On every new tip the
 * chain is re-applied in nonce order: those a block spent are forgotten;
 * the first that vanished from the mempool or stopped applying (a reorg
 * dropped an order it names) is removed together with every later one,
 * whose nonces no longer follow, and all are rebuilt from the tip state.
 * Peers that still hold a stale settlement refuse its replacement (same
 * account and nonce); the operator mines, so the replacement gets in all
 * the same, and the stale copy is pruned once the nonce is used.
 *
 * Ownership.  The agent borrows everything in agent_config (params, chain,
 * keys, profiles, logger: they must outlive it) and owns its state.
 * Single-threaded: call from the thread that owns the chain.
 */
#ifndef SG_AGENT_H
#define SG_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/core/chain.h"
#include "common/model/energy.h"
#include "common/daemon/log.h"
#include "common/core/market.h"

#define AGENT_SETTLE_GRACE_DIV 4   /* settle k at end of k + tick_ms / 4 */
#define AGENT_MAX_CATCHUP 10000    /* missed intervals stepped at most */
#define AGENT_RECENT_ORDERS 64     /* own orders remembered for feedback */
#define AGENT_MAX_PENDING 32       /* operator: settlements in flight at once */

enum agent_role { AGENT_HOUSEHOLD = 1, AGENT_OPERATOR = 2 };

/* Puts a transaction made here into the chain's mempool and announces it;
 * returns 0 and its id, or the refusal. */
typedef int (*agent_submit_cb)(void *ctx, const proto_tx *tx, uint8_t txid[32]);

typedef struct {
    int role;                          /* enum agent_role */
    const chain_params *params;
    chain *chain;
    const uint8_t *sk;                 /* 64 bytes, Ed25519 secret key */
    const uint8_t *pk;                 /* 32 bytes */
    const char *name;                  /* seeds the household's models */
    energy_config energy;              /* households only */
    agent_submit_cb submit;
    void *submit_ctx;
    logger *log;                       /* may be NULL */
} agent_config;

/* Figures for the control channel's statistics (see daemon.h). */
typedef struct {
    uint64_t interval;                 /* market interval now */
    int64_t last_settled_interval;     /* tip ledger; -1 before any */
    uint64_t clearing_price;           /* last settlement connected */
    /* household */
    uint64_t produced_wh, consumed_wh, battery_wh;
    uint64_t orders_submitted, orders_skipped;
    /* operator: the last settlement of its own that was mined */
    uint64_t traded_wh, grid_import_wh, grid_export_wh;
    uint32_t matched_orders;
    uint64_t total_traded_wh;          /* all its mined settlements */
    uint64_t settlements_published, settlements_mined, settlements_rebuilt;
} agent_stats;

typedef struct agent agent;

/* SG_EINVAL (bad role, missing callback or key, an energy config
 * energy_node_init refuses, an operator whose key is not the genesis
 * operator key), SG_ENOMEM. */
int agent_new(agent **out, const agent_config *cfg);
void agent_free(agent *a);

/* Does what real time now_ms (unix milliseconds) calls for: a household's
 * order at a new interval, the operator's settlement work.  Cheap when
 * there is nothing to do; call a few times a second.  0, or the first
 * error (a submission refused, SG_ENOMEM); the agent stays usable and
 * tries again on a later call. */
int agent_tick(agent *a, uint64_t now_ms);

/* Call for every block connected to the active chain (the chain's
 * on_connect event). */
void agent_block_connected(agent *a, const proto_block *b);

void agent_get_stats(const agent *a, agent_stats *out);

#endif
