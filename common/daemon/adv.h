/*
 * adv.h - a daemon's adversarial behaviours, off unless asked for
 * (`--adversary ROLE[,ROLE...]` at start, or the control message
 * ADVERSARY at run time; the role names and bits are
 * common/core/adv_role.h).  What honest nodes do about them is ordinary
 * code (relay.c: rules, misbehaviour, bans); this module is only the
 * attacker's side.
 *
 * Mining side (this file's functions; adv_selfish.c, adv_forge.c):
 *
 * selfish  Eyal and Sirer's selfish mining ("Majority is not enough",
 *          2014, Algorithm 1).  Our own blocks go onto our chain but are
 *          withheld (relay_submit_block_withheld; relay's hidden hook keeps
 *          them out of INV, GETDATA and GETBLOCKS answers).  Let lead be
 *          our private tip's height minus the highest public block we know.
 *          When others find a block: if our chain gave way to theirs, adopt
 *          it (private branch dropped); lead 0 (it was 1): publish, a race;
 *          lead 1 (it was 2): publish everything, we win; lead >= 2: publish
 *          our blocks up to the public height.  When we find a block during
 *          a race (our published block ties theirs), publish at once.  The
 *          chain's own fork choice (most work, first seen wins ties) picks
 *          what we mine on, so honest rules are never bent.  More than
 *          ADV_PRIVATE_MAX withheld blocks release the oldest.
 * forger   every block our miner finds is forged: the template's coinbase
 *          pays more than the reward (by 1 to 1000 units, new each time) (real proof of work, bad
 *          coinbase); peers in even position get it, peers in odd position
 *          the same block with a nonce that fails the proof of work.  Never
 *          submitted to our own chain.  Honest nodes refuse both and ban us.
 *
 * Transaction side (double-spender, manipulator, spammer): see the
 * sections their authors add below.
 *
 * Ownership: an adv borrows chain, relay and logger (they must outlive
 * it).  Single-threaded: the loop's thread only.
 */
#ifndef SG_ADV_H
#define SG_ADV_H

#include <stddef.h>
#include <stdint.h>

#include "common/core/adv_role.h"
#include "common/core/chain.h"
#include "common/daemon/log.h"
#include "common/daemon/relay.h"
#include "proto/block.h"

#define ADV_PRIVATE_MAX 64            /* withheld blocks; more release the oldest */

typedef struct adv adv;

typedef struct {
    chain *chain;
    relay *relay;                     /* may be set later: adv_set_relay */
    logger *log;                      /* may be NULL */
    unsigned roles;                   /* enum adv_role bits */
} adv_config;

typedef struct {
    uint64_t withheld;                /* our blocks kept back when found */
    uint64_t published;               /* withheld blocks released */
    uint64_t abandoned;               /* withheld blocks lost to a public branch */
    uint64_t races;                   /* publications that tied a public block */
    uint64_t overrides;               /* publications that beat the public chain */
    uint32_t lead;                    /* private blocks now */
    uint32_t lead_max;
    uint64_t forged_blocks;           /* forged blocks sent (each peer counts) */
} adv_stats;

/* 0 or SG_ENOMEM. */
int adv_new(adv **out, const adv_config *cfg);
void adv_free(adv *a);
/* The relay is made after the adv (its hooks point here). */
void adv_set_relay(adv *a, relay *r);
unsigned adv_roles(const adv *a);
/* Switches roles on (ADVERSARY at run time); they stay on. */
void adv_enable(adv *a, unsigned mask);
void adv_get_stats(const adv *a, adv_stats *out);

/* ---- selfish (adv_selfish.c) ------------------------------------------ */

/* relay_config.hidden: 1 for a block we withhold. */
int adv_selfish_hidden(const adv *a, const uint8_t hash[32]);
/* relay_config.on_peer_block: the public chain moved; publish per the
 * strategy. */
void adv_selfish_peer_block(adv *a, const chain_result *res);
/* Our miner found a block: submits it, withheld or published per the
 * strategy.  Returns chain_submit_block's rc, res filled. */
int adv_selfish_submit(adv *a, const uint8_t *bytes, size_t len, chain_result *res);

/* ---- forger (adv_forge.c) --------------------------------------------- */

/* A template about to be mined: with the forger on, its coinbase is
 * inflated (merkle root redone).  0 or SG_ENOMEM. */
int adv_forge_template(adv *a, proto_block *b);
/* A block our miner found on forged work: sent to the peers as described
 * above.  Returns 1 when it was forged (the caller submits nothing), 0
 * when the forger is off. */
int adv_forge_found(adv *a, const uint8_t *bytes, size_t len);

#endif
