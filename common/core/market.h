/*
 * market.h - clearing one market interval and re-verifying a settlement.
 *
 * Pure, deterministic, integers only: the operator clears with it, and every
 * node re-runs it (ledger.c calls market_verify) so a settlement that is not
 * exactly what the rule gives makes its block invalid everywhere.
 *
 * Units: energy in Wh, money in micro-units, prices in micro-units per kWh.
 *
 * The double auction.  Offers are sorted by price ascending, then order id
 * (bytewise); bids by price descending, then order id.  The walk takes the
 * best offer and the best bid while bid price >= offer price, trades
 * min(remaining offer, remaining bid) Wh between them, and moves on from
 * whichever is exhausted (both when both are).  Every rule matches the same
 * pairs and quantities; the rules differ only in prices:
 *
 *  - uniform (PARAMS_MARKET_UNIFORM): one price P = floor((a + b) / 2)
 *    where a and b are the prices of the last matched offer and bid.  Every
 *    matched offer asks <= a <= P and every matched bid offers >= b >= P, so
 *    P lies within every matched order's limit (checked all the same).
 *  - pay-as-bid (PARAMS_MARKET_PAY_AS_BID): each pair trades at the bid's
 *    price.
 *  - mid-market (PARAMS_MARKET_MID): each pair trades at floor((offer +
 *    bid) / 2).
 *
 * The settlement carries one fill per order named, sorted by order id
 * (tx_check wants them strictly ascending): traded_wh = energy matched,
 * grid_wh = the rest (imported at retail for a bid, exported at feed-in for
 * an offer), trade_price = floor(sum(q_i * p_i) / traded_wh) over that
 * order's pairs (exactly P under uniform; 0 when nothing traded).  Money
 * follows the fills (ledger.c): buyers pay ledger_cost(traded, trade_price)
 * plus grid energy at retail, sellers receive ledger_cost(traded,
 * trade_price) plus grid energy at feed-in, the grid account takes the
 * difference; the flooring of per-order averages can move at most a
 * micro-unit or two per order to or from the grid, which keeps money
 * exactly conserved.
 *
 * clearing_price, for every rule, is the volume-weighted average price of
 * all peer trades, floor(sum(q * p) / sum(q)): P itself under uniform; 0 when
 * nothing traded.  No self-trade: the ledger allows one order per account
 * per interval, and market_clear refuses a book where an owner appears
 * twice.
 */
#ifndef SG_MARKET_H
#define SG_MARKET_H

#include <stddef.h>
#include <stdint.h>
#include "proto/block.h"
#include "common/core/ledger.h"
#include "common/core/params.h"

/* A settlement holds at most this many fills, so a book at most this many
 * orders. */
#define MARKET_MAX_ORDERS PROTO_SETTLE_MAX_FILLS

/* Per-interval statistics of one clearing. */
typedef struct {
    uint64_t clearing_price;  /* as in the settlement */
    uint64_t traded_wh;       /* peer to peer (sold == bought) */
    uint64_t grid_import_wh;  /* bids' grid_wh: unmet demand served by the grid */
    uint64_t grid_export_wh;  /* offers' grid_wh: unsold surplus fed in */
    uint32_t matched_orders;  /* orders with traded_wh > 0 */
    uint32_t trades;          /* offer-bid pairs matched */
    uint32_t offers, bids;    /* orders in the book */
} market_stats;

typedef struct {
    uint64_t clearing_price;
    uint32_t n_fills;         /* == orders cleared */
    proto_fill *fills;        /* owned, sorted by order id; NULL when empty */
    market_stats stats;
} market_result;

/* Clears the book orders[0..n) (ledger orders of one interval; their
 * `interval` and `reserved` fields are ignored) under rule (enum
 * params_market).  On success *out owns its fills: free with
 * market_result_free.  Errors: SG_EINVAL (unknown rule or kind), SG_EORDER
 * (zero energy, price outside [feed_in, retail], an owner or id twice),
 * SG_ETOOBIG (more than MARKET_MAX_ORDERS, or sums overflowing), SG_ENOMEM;
 * *out is then empty. */
int market_clear(uint8_t rule, const ledger_order *orders, size_t n, uint64_t retail,
                 uint64_t feed_in, market_result *out);
void market_result_free(market_result *r);

/* Re-runs the clearing on exactly the orders a settlement names (orders in
 * any sequence) and requires the identical fills and clearing price.
 * 0, SG_ESETTLE, or SG_ENOMEM. */
int market_verify(uint8_t rule, const ledger_order *orders, size_t n, uint64_t retail,
                  uint64_t feed_in, const proto_tx *settle);

/* The open orders of `interval` in the ledger, sorted by id, copied into a
 * new array the caller frees (NULL when there are none).  0 or SG_ENOMEM. */
int market_collect(const ledger *l, uint64_t interval, ledger_order **orders, size_t *n);

/* The operator's step: clears orders[0..n) with p's rule and prices and
 * fills *tx as an unsigned settlement from p->operator_key with `nonce`
 * (sign it with tx_sign).  Past MARKET_MAX_ORDERS only the first
 * MARKET_MAX_ORDERS orders are cleared (the rest are not named and expire).
 * tx owns its fills: free with proto_tx_free.  st may be NULL.  Errors as
 * market_clear; *tx is then empty. */
int market_settlement_build(const chain_params *p, uint64_t interval, uint64_t nonce,
                            const ledger_order *orders, size_t n, proto_tx *tx,
                            market_stats *st);

#endif
