/*
 * ledger.h - account state, the consensus rules on it, and exact undo.
 *
 * State: per account a spendable balance, money reserved for open bids and
 * a nonce; the open energy orders; the last settled market interval.  The
 * grid is the operator's account (params->operator_key).
 *
 * Rules (every node checks every one; integers only):
 *  - coinbase: first transaction of a block and only there, nonce == block
 *    height, amount == params->block_reward.
 *  - every other tx: valid signature, tx->nonce == account nonce (then +1).
 *  - transfer: amount <= balance.
 *  - offer / bid: interval > last settled interval, feed_in <= price <=
 *    retail, energy > 0, at most one order per account per interval (so no
 *    self-trade).  A bid reserves ledger_cost(energy, retail) from the
 *    balance (the most its settlement can charge), so settling never
 *    overdraws.
 *  - settlement: signed by the operator, interval > last settled; each fill
 *    names a distinct open order of that interval, traded + grid == the
 *    order's energy; an offer trades at >= its price, a bid at <= its price,
 *    and every trade price lies within [feed_in, retail];
 *    under the uniform rule every trade is at clearing_price; traded energy
 *    sold == traded energy bought; and the fills and clearing_price are
 *    exactly what market_clear (market.h) gives on the orders named, so
 *    the clearing rule itself is enforced.  Buyers pay traded at trade price plus
 *    grid energy at retail out of their reservation (the rest is released);
 *    sellers get traded at trade price plus grid energy at feed-in; the grid
 *    account takes the difference and must not go negative.  Open orders of
 *    the interval that the settlement does not name expire: reservations
 *    are released, nothing trades.  Afterwards the interval is closed; so
 *    are earlier intervals never settled, whose orders could no longer be
 *    settled and expire the same way (else their reservations stayed
 *    locked for ever).
 *
 * Every apply either succeeds or leaves the state exactly as it was.
 * Successful applies append to a ledger_undo journal; ledger_undo_apply
 * rolls the journal back newest first.  The ledger owns its state; the
 * caller owns journals.
 */
#ifndef SG_LEDGER_H
#define SG_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include "common/core/params.h"

typedef struct {
    uint64_t balance;        /* spendable, micro-units */
    uint64_t reserved;       /* held for open bids */
    uint64_t nonce;          /* next expected tx nonce */
    uint64_t sold_wh;        /* cumulative, peer to peer */
    uint64_t bought_wh;
    uint64_t grid_export_wh; /* sold to the grid at feed-in */
    uint64_t grid_import_wh; /* bought from the grid at retail */
} ledger_account;

typedef struct {
    uint8_t id[32];          /* txid of the order */
    uint8_t owner[32];
    uint8_t kind;            /* PROTO_TX_OFFER or PROTO_TX_BID */
    uint64_t interval;
    uint64_t energy_wh;
    uint64_t price;
    uint64_t reserved;       /* bids: money held */
} ledger_order;

typedef struct ledger ledger;
typedef struct ledger_undo ledger_undo;

/* Money for wh at price per kWh, rounded down; SG_ETOOBIG on overflow. */
int ledger_cost(uint64_t wh, uint64_t price_per_kwh, uint64_t *out);

/* Starts from the genesis allocations.  params must outlive the ledger. */
int ledger_new(ledger **out, const chain_params *params);
void ledger_free(ledger *l);

/* NULL if the account has never been touched. */
const ledger_account *ledger_account_get(const ledger *l, const uint8_t key[32]);
const ledger_order *ledger_order_get(const ledger *l, const uint8_t id[32]);
uint64_t ledger_last_settled(const ledger *l);   /* UINT64_MAX: none yet */
const chain_params *ledger_params(const ledger *l);
/* Sum of balances and reservations: changes only by coinbase. */
int ledger_total_money(const ledger *l, uint64_t *out);
/* Iterates accounts in unspecified order (see hmap_next). */
int ledger_account_next(const ledger *l, size_t *iter, const uint8_t **key,
                        const ledger_account **acct);
/* Iterates open orders in unspecified order. */
int ledger_order_next(const ledger *l, size_t *iter, const ledger_order **o);
/* Digest of the whole state in a canonical order: equal states, equal
 * digests.  Tests compare nodes with it. */
int ledger_state_hash(const ledger *l, uint8_t out[32]);

ledger_undo *ledger_undo_new(void);
void ledger_undo_free(ledger_undo *u);
size_t ledger_undo_size(const ledger_undo *u);

/* Applies one transaction at block height `height`.  check_sig = 0 skips the
 * Ed25519 check for a tx already verified (mempool).  On error returns the
 * rule broken and changes nothing.  txid is trusted (an order's id); NULL
 * computes it.  u may be NULL when no undo is wanted. */
int ledger_apply_tx(ledger *l, const proto_tx *tx, const uint8_t txid[32],
                    uint64_t height, int check_sig, ledger_undo *u);
/* Applies a whole block's transactions (coinbase placement included); on
 * error rolls back what it applied and returns the first rule broken.
 * txids[i] is the id of b->txs[i] (NULL: computed); sig_checked[i]
 * non-zero skips that signature check (NULL: check all). */
int ledger_apply_block(ledger *l, const proto_block *b, const uint8_t (*txids)[32],
                       const uint8_t *sig_checked, uint64_t height, ledger_undo *u);
/* Rolls back every change recorded in u, newest first, and empties u. */
void ledger_undo_apply(ledger *l, ledger_undo *u);

#endif
