#include "common/core/market.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

typedef unsigned __int128 u128;

/* One order on its side of the book while the walk runs. */
typedef struct {
    const ledger_order *o;
    uint64_t left;     /* Wh not matched yet */
    uint64_t traded;   /* Wh matched */
    u128 value;        /* sum of q * price over its pairs (non-uniform rules) */
} book_entry;

typedef struct {
    book_entry *e;     /* all orders, owned */
    book_entry **offers, **bids;  /* views into e, owned */
    size_t n, n_offers, n_bids;
} book;

static int offer_cmp(const void *a, const void *b)
{
    const ledger_order *x = (*(book_entry *const *)a)->o, *y = (*(book_entry *const *)b)->o;
    if (x->price != y->price)
        return x->price < y->price ? -1 : 1;
    return memcmp(x->id, y->id, 32);
}

static int bid_cmp(const void *a, const void *b)
{
    const ledger_order *x = (*(book_entry *const *)a)->o, *y = (*(book_entry *const *)b)->o;
    if (x->price != y->price)
        return x->price > y->price ? -1 : 1;
    return memcmp(x->id, y->id, 32);
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(((const book_entry *)a)->o->id, ((const book_entry *)b)->o->id, 32);
}

static int owner_cmp(const void *a, const void *b)
{
    return memcmp((*(book_entry *const *)a)->o->owner, (*(book_entry *const *)b)->o->owner, 32);
}

static void book_free(book *bk)
{
    free(bk->e);
    free(bk->offers);
    free(bk->bids);
    memset(bk, 0, sizeof *bk);
}

static int order_ok(const ledger_order *o, uint64_t retail, uint64_t feed_in)
{
    if (o->kind != PROTO_TX_OFFER && o->kind != PROTO_TX_BID)
        return SG_EINVAL;
    if (o->energy_wh == 0 || o->price < feed_in || o->price > retail)
        return SG_EORDER;
    return SG_OK;
}

/* Ids and owners must be distinct: a repeated id would give two fills for
 * one order, a repeated owner a possible self-trade.  Sorts bk->e by id. */
static int book_distinct(book *bk)
{
    size_t n = bk->n;
    int rc = SG_OK;

    qsort(bk->e, n, sizeof *bk->e, id_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp(bk->e[i - 1].o->id, bk->e[i].o->id, 32) == 0)
            return SG_EORDER;
    /* The side arrays are views; reuse offers as scratch before filling them. */
    for (size_t i = 0; i < n; i++)
        bk->offers[i] = &bk->e[i];
    qsort(bk->offers, n, sizeof *bk->offers, owner_cmp);
    for (size_t i = 1; i < n && rc == SG_OK; i++)
        if (memcmp(bk->offers[i - 1]->o->owner, bk->offers[i]->o->owner, 32) == 0)
            rc = SG_EORDER;
    return rc;
}

static int book_build(book *bk, const ledger_order *orders, size_t n, uint64_t retail,
                      uint64_t feed_in)
{
    int rc;

    memset(bk, 0, sizeof *bk);
    if (n > MARKET_MAX_ORDERS)
        return SG_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        if ((rc = order_ok(&orders[i], retail, feed_in)) < 0)
            return rc;
    if (n == 0)
        return SG_OK;
    bk->e = calloc(n, sizeof *bk->e);
    bk->offers = calloc(n, sizeof *bk->offers);
    bk->bids = calloc(n, sizeof *bk->bids);
    if (bk->e == NULL || bk->offers == NULL || bk->bids == NULL) {
        rc = SG_ENOMEM;
        goto fail;
    }
    bk->n = n;
    for (size_t i = 0; i < n; i++) {
        bk->e[i].o = &orders[i];
        bk->e[i].left = orders[i].energy_wh;
    }
    if ((rc = book_distinct(bk)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (bk->e[i].o->kind == PROTO_TX_OFFER)
            bk->offers[bk->n_offers++] = &bk->e[i];
        else
            bk->bids[bk->n_bids++] = &bk->e[i];
    }
    qsort(bk->offers, bk->n_offers, sizeof *bk->offers, offer_cmp);
    qsort(bk->bids, bk->n_bids, sizeof *bk->bids, bid_cmp);
    return SG_OK;
fail:
    book_free(bk);
    return rc;
}

static uint64_t floor_mid(uint64_t a, uint64_t b)
{
    return a / 2 + b / 2 + (a & b & 1);
}

static int add_value(u128 *acc, uint64_t q, uint64_t price)
{
    return __builtin_add_overflow(*acc, (u128)q * price, acc) ? SG_ETOOBIG : SG_OK;
}

/* The pair price for the non-uniform rules. */
static uint64_t pair_price(uint8_t rule, const ledger_order *offer, const ledger_order *bid)
{
    return rule == PARAMS_MARKET_PAY_AS_BID ? bid->price : floor_mid(offer->price, bid->price);
}

/* Walks the sorted books (see market.h).  Under uniform the price is known
 * only at the end, so pairs record quantities; *uniform gets P. */
static int book_walk(book *bk, uint8_t rule, market_stats *st, u128 *total_value,
                     uint64_t *uniform)
{
    size_t i = 0, j = 0;
    uint64_t last_offer = 0, last_bid = 0;
    int rc;

    while (i < bk->n_offers && j < bk->n_bids && bk->bids[j]->o->price >= bk->offers[i]->o->price) {
        book_entry *s = bk->offers[i], *b = bk->bids[j];
        uint64_t q = s->left < b->left ? s->left : b->left;
        s->left -= q;
        b->left -= q;
        s->traded += q;
        b->traded += q;
        if (__builtin_add_overflow(st->traded_wh, q, &st->traded_wh))
            return SG_ETOOBIG;
        st->trades++;
        last_offer = s->o->price;
        last_bid = b->o->price;
        if (rule != PARAMS_MARKET_UNIFORM) {
            uint64_t p = pair_price(rule, s->o, b->o);
            if ((rc = add_value(&s->value, q, p)) < 0 || (rc = add_value(&b->value, q, p)) < 0 ||
                (rc = add_value(total_value, q, p)) < 0)
                return rc;
        }
        if (s->left == 0)
            i++;
        if (b->left == 0)
            j++;
    }
    *uniform = st->trades > 0 ? floor_mid(last_offer, last_bid) : 0;
    if (rule == PARAMS_MARKET_UNIFORM)
        *total_value = (u128)st->traded_wh * *uniform;
    return SG_OK;
}

static uint64_t entry_price(const book_entry *e, uint8_t rule, uint64_t uniform)
{
    if (e->traded == 0)
        return 0;
    return rule == PARAMS_MARKET_UNIFORM ? uniform : (uint64_t)(e->value / e->traded);
}

/* Every traded price within the order's own limit and the grid's band: the
 * rules guarantee it; a failure here is a bug, never a settlement. */
static int price_within_limits(const ledger_order *o, uint64_t price, uint64_t retail,
                               uint64_t feed_in)
{
    if (price < feed_in || price > retail)
        return 0;
    return o->kind == PROTO_TX_OFFER ? price >= o->price : price <= o->price;
}

static int result_fill(const book *bk, uint8_t rule, uint64_t uniform, uint64_t retail,
                       uint64_t feed_in, market_result *out)
{
    market_stats *st = &out->stats;

    out->fills = calloc(bk->n, sizeof *out->fills);
    if (out->fills == NULL)
        return SG_ENOMEM;
    out->n_fills = (uint32_t)bk->n;
    for (size_t i = 0; i < bk->n; i++) {
        const book_entry *e = &bk->e[i];   /* sorted by id */
        proto_fill *f = &out->fills[i];
        uint64_t *grid = e->o->kind == PROTO_TX_BID ? &st->grid_import_wh : &st->grid_export_wh;
        memcpy(f->order, e->o->id, 32);
        f->traded_wh = e->traded;
        f->trade_price = entry_price(e, rule, uniform);
        f->grid_wh = e->left;
        if (e->traded > 0 && !price_within_limits(e->o, f->trade_price, retail, feed_in))
            return SG_EINVALID;
        if (__builtin_add_overflow(*grid, e->left, grid))
            return SG_ETOOBIG;
        st->matched_orders += e->traded > 0;
    }
    return SG_OK;
}

void market_result_free(market_result *r)
{
    if (r == NULL)
        return;
    free(r->fills);
    memset(r, 0, sizeof *r);
}

int market_clear(uint8_t rule, const ledger_order *orders, size_t n, uint64_t retail,
                 uint64_t feed_in, market_result *out)
{
    book bk;
    u128 total = 0;
    uint64_t uniform = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (rule > PARAMS_MARKET_MID || feed_in > retail)
        return SG_EINVAL;
    if ((rc = book_build(&bk, orders, n, retail, feed_in)) < 0)
        return rc;
    out->stats.offers = (uint32_t)bk.n_offers;
    out->stats.bids = (uint32_t)bk.n_bids;
    if ((rc = book_walk(&bk, rule, &out->stats, &total, &uniform)) < 0)
        goto out;
    if (out->stats.traded_wh > 0)
        out->clearing_price = (uint64_t)(total / out->stats.traded_wh);
    out->stats.clearing_price = out->clearing_price;
    if (bk.n > 0)
        rc = result_fill(&bk, rule, uniform, retail, feed_in, out);
out:
    book_free(&bk);
    if (rc < 0)
        market_result_free(out);
    return rc;
}

static int fill_eq(const proto_fill *a, const proto_fill *b)
{
    return memcmp(a->order, b->order, 32) == 0 && a->traded_wh == b->traded_wh &&
           a->trade_price == b->trade_price && a->grid_wh == b->grid_wh;
}

int market_verify(uint8_t rule, const ledger_order *orders, size_t n, uint64_t retail,
                  uint64_t feed_in, const proto_tx *settle)
{
    market_result r;
    int rc;

    if (settle->kind != PROTO_TX_SETTLEMENT)
        return SG_ESETTLE;
    rc = market_clear(rule, orders, n, retail, feed_in, &r);
    if (rc == SG_ENOMEM)
        return rc;
    if (rc < 0)
        return SG_ESETTLE;
    rc = SG_OK;
    if (r.clearing_price != settle->u.settle.clearing_price || r.n_fills != settle->u.settle.n_fills)
        rc = SG_ESETTLE;
    for (uint32_t i = 0; i < r.n_fills && rc == SG_OK; i++)
        if (!fill_eq(&r.fills[i], &settle->u.settle.fills[i]))
            rc = SG_ESETTLE;
    market_result_free(&r);
    return rc;
}

static int order_id_cmp(const void *a, const void *b)
{
    return memcmp(((const ledger_order *)a)->id, ((const ledger_order *)b)->id, 32);
}

int market_collect(const ledger *l, uint64_t interval, ledger_order **orders, size_t *n)
{
    const ledger_order *o;
    ledger_order *v = NULL;
    size_t it = 0, count = 0, cap = 0;

    while (ledger_order_next(l, &it, &o)) {
        if (o->interval != interval)
            continue;
        if (count == cap) {
            size_t nc = cap ? cap * 2 : 16;
            ledger_order *nv = realloc(v, nc * sizeof *nv);
            if (nv == NULL) {
                free(v);
                return SG_ENOMEM;
            }
            v = nv;
            cap = nc;
        }
        v[count++] = *o;
    }
    if (count > 1)
        qsort(v, count, sizeof *v, order_id_cmp);
    *orders = v;
    *n = count;
    return SG_OK;
}

int market_settlement_build(const chain_params *p, uint64_t interval, uint64_t nonce,
                            const ledger_order *orders, size_t n, proto_tx *tx,
                            market_stats *st)
{
    market_result r;
    int rc;

    memset(tx, 0, sizeof *tx);
    if (n > MARKET_MAX_ORDERS)
        n = MARKET_MAX_ORDERS;
    rc = market_clear(p->market_rule, orders, n, p->retail_price, p->feed_in_price, &r);
    if (rc < 0)
        return rc;
    tx->version = PROTO_TX_VERSION;
    tx->kind = PROTO_TX_SETTLEMENT;
    memcpy(tx->from, p->operator_key, 32);
    tx->nonce = nonce;
    tx->u.settle.interval = interval;
    tx->u.settle.clearing_price = r.clearing_price;
    tx->u.settle.n_fills = r.n_fills;
    tx->u.settle.fills = r.fills;   /* ownership moves to tx */
    if (st != NULL)
        *st = r.stats;
    return SG_OK;
}
