/* Fuzzes market clearing and settlement re-verification.  The input is a
 * rule byte, then 6-byte orders (flags, energy, price), and ends with 3
 * bytes naming a fill, a field and a delta.  Checks: a book is refused
 * only with SG_EORDER (repeated owner or id) or SG_ETOOBIG; a cleared book
 * conserves energy per order and across sides, respects every limit and
 * the rule's prices, and reports matching statistics; its settlement
 * verifies whatever the order sequence; and any changed field makes it
 * fail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/market.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FEED_IN 80000u
#define RETAIL 300000u
#define ORDER_BYTES 6

static void make_order(ledger_order *o, const uint8_t *b, size_t i)
{
    memset(o, 0, sizeof *o);
    o->kind = b[0] & 1 ? PROTO_TX_BID : PROTO_TX_OFFER;
    o->energy_wh = ((uint64_t)b[1] << 8 | b[2]) + 1;
    if (b[0] & 2)
        o->energy_wh <<= 40;   /* huge orders: the sums must not wrap */
    o->price = FEED_IN + (uint64_t)(b[3] << 8 | b[4]) * (RETAIL - FEED_IN) / 65535;
    /* Ids in an order unrelated to the input's; owners distinct unless the
     * flags repeat one (self-trade). */
    o->id[0] = (uint8_t)(b[0] >> 4);
    o->id[1] = b[5];
    o->id[2] = (uint8_t)(i >> 8);
    o->id[3] = (uint8_t)i;
    o->owner[0] = 1;
    o->owner[1] = (uint8_t)((b[0] & 4) && i > 0 ? i - 1 : i);
    o->owner[2] = (uint8_t)(((b[0] & 4) && i > 0 ? i - 1 : i) >> 8);
}

static const ledger_order *find(const ledger_order *o, size_t n, const uint8_t id[32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(o[i].id, id, 32) == 0)
            return &o[i];
    abort();
}

static void check_result(uint8_t rule, const ledger_order *o, size_t n, const market_result *r)
{
    unsigned __int128 value = 0;
    uint64_t sold = 0, bought = 0, imp = 0, exp = 0, uniform = 0;
    uint32_t matched = 0;

    if (r->n_fills != n || r->stats.offers + r->stats.bids != n)
        abort();
    for (uint32_t i = 0; i < r->n_fills; i++) {
        const proto_fill *f = &r->fills[i];
        const ledger_order *ord = find(o, n, f->order);
        if (i > 0 && memcmp(r->fills[i - 1].order, f->order, 32) >= 0)
            abort();
        if (f->traded_wh + f->grid_wh != ord->energy_wh || f->traded_wh > ord->energy_wh)
            abort();
        if (f->traded_wh == 0) {
            if (f->trade_price != 0)
                abort();
        } else {
            matched++;
            if (f->trade_price < FEED_IN || f->trade_price > RETAIL ||
                (ord->kind == PROTO_TX_OFFER ? f->trade_price < ord->price
                                             : f->trade_price > ord->price))
                abort();
            if (rule == PARAMS_MARKET_UNIFORM) {
                if (uniform != 0 && f->trade_price != uniform)
                    abort();
                uniform = f->trade_price;
            }
            if (ord->kind == PROTO_TX_OFFER)
                value += (unsigned __int128)f->traded_wh * f->trade_price;
        }
        if (ord->kind == PROTO_TX_OFFER) {
            sold += f->traded_wh;
            exp += f->grid_wh;
        } else {
            bought += f->traded_wh;
            imp += f->grid_wh;
        }
    }
    if (sold != bought || sold != r->stats.traded_wh || imp != r->stats.grid_import_wh ||
        exp != r->stats.grid_export_wh || matched != r->stats.matched_orders ||
        r->clearing_price != r->stats.clearing_price)
        abort();
    if (sold == 0 ? r->clearing_price != 0 : r->clearing_price < FEED_IN)
        abort();
    if (rule == PARAMS_MARKET_UNIFORM && r->clearing_price != uniform)
        abort();
    /* Sellers' per-order averages floor, so they sum to at most the VWAP. */
    if (sold > 0 && value / sold > r->clearing_price)
        abort();
}

static void check_settlement(uint8_t rule, ledger_order *o, size_t n, const uint8_t *tail)
{
    chain_params p;
    proto_tx tx;
    params_init_defaults(&p);
    p.market_rule = rule;
    p.retail_price = RETAIL;
    p.feed_in_price = FEED_IN;
    if (market_settlement_build(&p, 9, 0, o, n, &tx, NULL) != 0)
        abort();
    /* Order sequence does not matter. */
    for (size_t i = 0; i < n / 2; i++) {
        ledger_order t = o[i];
        o[i] = o[n - 1 - i];
        o[n - 1 - i] = t;
    }
    if (market_verify(rule, o, n, RETAIL, FEED_IN, &tx) != 0)
        abort();
    if (tail != NULL && tx.u.settle.n_fills > 0) {
        proto_fill *f = &tx.u.settle.fills[tail[0] % tx.u.settle.n_fills];
        uint64_t delta = tail[2] ? tail[2] : 1;
        switch (tail[1] % 4) {
        case 0: f->traded_wh += delta; break;
        case 1: f->trade_price += delta; break;
        case 2: f->grid_wh -= delta; break;
        default: tx.u.settle.clearing_price ^= delta; break;
        }
        if (market_verify(rule, o, n, RETAIL, FEED_IN, &tx) != SG_ESETTLE)
            abort();
    }
    proto_tx_free(&tx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ledger_order *o;
    market_result r;
    size_t n;
    const uint8_t *tail = NULL;
    uint8_t rule;
    int rc;

    if (size < 1)
        return 0;
    rule = data[0] % 3;
    n = (size - 1) / ORDER_BYTES;
    if ((size - 1) % ORDER_BYTES >= 3)
        tail = data + 1 + n * ORDER_BYTES;
    if ((o = calloc(n ? n : 1, sizeof *o)) == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        make_order(&o[i], data + 1 + i * ORDER_BYTES, i);
    rc = market_clear(rule, o, n, RETAIL, FEED_IN, &r);
    if (rc == 0) {
        check_result(rule, o, n, &r);
        market_result_free(&r);
        check_settlement(rule, o, n, tail);
    } else if (rc != SG_EORDER && rc != SG_ETOOBIG) {
        abort();
    } else if (r.fills != NULL || r.n_fills != 0) {
        abort();
    }
    free(o);
    return 0;
}
