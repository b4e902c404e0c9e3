/*
 * adv_tx.h - the transaction-side adversary roles (common/core/adv_role.h) as real behaviour
 * of a household daemon, each off unless asked for:
 *
 *  - double spender: every double_spend_every_s seconds signs two transfers
 *    with one nonce, ADV_DS_AMOUNT each: A to the first peer of the first
 *    half of its peers (the "merchant"), B to a colluding account of its
 *    own; A goes straight to the first half, B to the second
 *    (relay_send_tx_to), A into its own mempool unannounced (so its own
 *    orders take later nonces).  Honest nodes holding one refuse the other
 *    (same account and nonce); at most one can ever be on a chain.  The
 *    first connected block that spends the nonce decides the pair.
 *  - price manipulator: wash trades between two colluding accounts of its
 *    own each market interval: a seller offers ADV_MANIP_OFFER_WH at the
 *    feed-in price, a buyer bids ADV_MANIP_BID_WH at the feed-in price.
 *    The big cheap offer takes every honest bid first and the walk ends on
 *    the colluders' own pair, so under the uniform rule the clearing price
 *    falls to the feed-in price (never rises: every honest bid still clears
 *    at or below its limit).  The buyer is funded by one transfer.
 *  - spammer: spam_rate self-transfers of one micro-unit per second (valid,
 *    useless, within the mempool's nonce window); from spam_malformed_after_s
 *    seconds on (0: never) a transaction with a broken signature to every
 *    peer, once a second, which makes each honest peer ban it.
 *  - forger (the settlement part; the block part is adv.h's): once per
 *    market interval two forgeries with every trade price and the clearing
 *    price raised by a tenth of the feed-in..retail band: one built from
 *    its own tip ledger, from its own account and signed with its own key
 *    (only the operator may settle), and the operator's own from its
 *    mempool with the operator's signature kept (which then fails).  Peers
 *    in even position get the first, odd ones the second (the first when
 *    its mempool holds no settlement of the operator's).  Honest nodes refuse both by consensus
 *    rules and ban the sender.
 *
 * Colluding accounts are Ed25519 keys derived from the node's secret key
 * and a label, so a run can name them afterwards (adv_tx_derive_pk).
 *
 * Ownership: borrows everything in adv_tx_config (must outlive it); owns
 * its state.  Single-threaded: the daemon's loop.
 */
#ifndef SG_ADV_TX_H
#define SG_ADV_TX_H

#include <stddef.h>
#include <stdint.h>

#include "common/core/chain.h"
#include "common/core/params.h"
#include "common/core/adv_role.h"
#include "common/daemon/log.h"
#include "common/daemon/net.h"
#include "common/daemon/relay.h"
#include "common/daemon/txlat.h"

/* The roles this module plays (adv_role.h bits). */
#define ADV_TX_ROLES (ADV_DOUBLE_SPENDER | ADV_MANIPULATOR | ADV_SPAMMER | ADV_FORGER)

#define ADV_DS_AMOUNT 1000000u        /* double spend: one money unit each */
#define ADV_DS_PENDING 16             /* undecided pairs remembered */
#define ADV_MANIP_OFFER_WH 20000u     /* wash seller's offer: 20 kWh */
#define ADV_MANIP_BID_WH 1u           /* wash buyer's bid */
#define ADV_MANIP_FUND 1000000u       /* buyer's funding transfer */
#define ADV_SPAM_WINDOW 200u          /* spam nonces ahead of the ledger at most */

/* Labels of the derived accounts (adv_tx_derive_pk). */
#define ADV_KEY_DS_COLLUDER "double-spend-colluder"
#define ADV_KEY_MANIP_SELLER "manipulator-seller"
#define ADV_KEY_MANIP_BUYER "manipulator-buyer"

typedef struct {
    unsigned roles;                   /* adv_role.h bits; others are ignored here */
    const chain_params *params;
    chain *chain;
    relay *relay;
    net *net;
    txlat *txlat;                     /* may be NULL */
    const uint8_t *sk;                /* 64 bytes */
    const uint8_t *pk;                /* 32 bytes */
    logger *log;                      /* may be NULL */
    uint32_t spam_rate;               /* txs/s */
    uint32_t spam_malformed_after_s;  /* 0: never */
    uint32_t double_spend_every_s;    /* >= 1 */
    /* Called after a transaction entered our own mempool (mining work). */
    void (*on_tx)(void *ctx);
    void *ctx;
} adv_tx_config;

typedef struct {
    uint64_t ds_pairs;                /* conflicting pairs sent */
    uint64_t ds_won_a, ds_won_b;      /* pairs decided for A (merchant), B (colluder) */
    uint64_t ds_decide_ms_max;        /* slowest decision, send to connect */
    uint8_t ds_last_a[32], ds_last_b[32];   /* the last pair's txids */
    uint64_t manip_orders;            /* wash orders signed */
    uint64_t spam_valid, spam_malformed;
    uint64_t forged_settlements;      /* forged settlement messages sent */
} adv_tx_stats;

typedef struct adv_tx adv_tx;

/* SG_EINVAL (missing chain, relay, net or keys), SG_ENOMEM. */
int adv_tx_new(adv_tx **out, const adv_tx_config *cfg);
void adv_tx_free(adv_tx *a);
/* Switches roles on or off at run time (the control ADVERSARY request);
 * the spammer's malformed phase counts from the moment it is switched on. */
void adv_tx_set_roles(adv_tx *a, unsigned roles, uint64_t now_ms);
unsigned adv_tx_roles(const adv_tx *a);
/* Does what wall time now_ms (unix ms) calls for; call a few times a second. */
void adv_tx_tick(adv_tx *a, uint64_t now_ms);
/* Every block connected to the active chain, with the wall time. */
void adv_tx_block_connected(adv_tx *a, const proto_block *b, uint64_t now_ms);
void adv_tx_get_stats(const adv_tx *a, adv_tx_stats *out);

/* The public key of the account derived from sk and label. */
void adv_tx_derive_pk(const uint8_t sk[64], const char *label, uint8_t pk[32]);

#endif
