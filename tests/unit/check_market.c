/* Market clearing on hand-computed order books for each rule (crossing, no
 * crossing, equal prices, partial fills, one side empty, many small
 * orders), refused books, re-verification of settlements, and invariants
 * on seeded random books. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/market.h"
#include "testutil.h"

#define FEED_IN 80000
#define RETAIL 300000

enum { U = PARAMS_MARKET_UNIFORM, PAB = PARAMS_MARKET_PAY_AS_BID, MID = PARAMS_MARKET_MID };

/* Order ids and owners from small numbers; id order == number order. */
static ledger_order mk(int kind, unsigned num, uint64_t wh, uint64_t price)
{
    ledger_order o;
    memset(&o, 0, sizeof o);
    o.id[0] = (uint8_t)(num >> 8);
    o.id[1] = (uint8_t)num;
    o.owner[0] = 0xee;
    o.owner[1] = (uint8_t)(num >> 8);
    o.owner[2] = (uint8_t)num;
    o.kind = (uint8_t)kind;
    o.energy_wh = wh;
    o.price = price;
    return o;
}

#define OFFER(num, wh, price) mk(PROTO_TX_OFFER, num, wh, price)
#define BID(num, wh, price) mk(PROTO_TX_BID, num, wh, price)

static void clear_ok(int rule, const ledger_order *o, size_t n, market_result *r)
{
    ck_assert_int_eq(market_clear((uint8_t)rule, o, n, RETAIL, FEED_IN, r), 0);
    ck_assert_uint_eq(r->n_fills, n);
}

/* The fill of order `num` (fills are sorted by id, ids by num). */
static const proto_fill *fill_of(const market_result *r, unsigned num)
{
    for (uint32_t i = 0; i < r->n_fills; i++)
        if (r->fills[i].order[0] == (uint8_t)(num >> 8) && r->fills[i].order[1] == (uint8_t)num)
            return &r->fills[i];
    ck_abort_msg("no fill for order %u", num);
    return NULL;
}

static void expect_fill(const market_result *r, unsigned num, uint64_t traded, uint64_t price,
                        uint64_t grid)
{
    const proto_fill *f = fill_of(r, num);
    ck_assert_msg(f->traded_wh == traded && f->trade_price == price && f->grid_wh == grid,
                  "order %u: got (%llu @ %llu, grid %llu), want (%llu @ %llu, grid %llu)", num,
                  (unsigned long long)f->traded_wh, (unsigned long long)f->trade_price,
                  (unsigned long long)f->grid_wh, (unsigned long long)traded,
                  (unsigned long long)price, (unsigned long long)grid);
}

static void expect_stats(const market_result *r, uint64_t price, uint64_t traded,
                         uint64_t import, uint64_t export, uint32_t matched, uint32_t trades)
{
    ck_assert_uint_eq(r->clearing_price, price);
    ck_assert_uint_eq(r->stats.clearing_price, price);
    ck_assert_uint_eq(r->stats.traded_wh, traded);
    ck_assert_uint_eq(r->stats.grid_import_wh, import);
    ck_assert_uint_eq(r->stats.grid_export_wh, export);
    ck_assert_uint_eq(r->stats.matched_orders, matched);
    ck_assert_uint_eq(r->stats.trades, trades);
}

/* ---- hand-computed books ------------------------------------------------- *
 *
 * Crossing book: offers 1: 1000 Wh >= 100000, 2: 1000 Wh >= 150000;
 * bids 3: 1500 Wh <= 200000, 4: 500 Wh <= 120000.
 * Walk: 1-3 trade 1000 (1 done), 2-3 trade 500 (3 done), 2-4 do not cross
 * (120000 < 150000).  Marginal pair 2/3. */
static void crossing_book(ledger_order o[4])
{
    o[0] = BID(3, 1500, 200000);
    o[1] = OFFER(1, 1000, 100000);
    o[2] = BID(4, 500, 120000);
    o[3] = OFFER(2, 1000, 150000);
}

START_TEST(test_crossing_uniform)
{
    ledger_order o[4];
    market_result r;
    crossing_book(o);
    clear_ok(U, o, 4, &r);
    /* P = (150000 + 200000) / 2 = 175000 for every trade. */
    expect_fill(&r, 1, 1000, 175000, 0);
    expect_fill(&r, 2, 500, 175000, 500);
    expect_fill(&r, 3, 1500, 175000, 0);
    expect_fill(&r, 4, 0, 0, 500);
    expect_stats(&r, 175000, 1500, 500, 500, 3, 2);
    ck_assert_uint_eq(r.stats.offers, 2);
    ck_assert_uint_eq(r.stats.bids, 2);
    /* Fills come sorted by order id. */
    for (uint32_t i = 1; i < r.n_fills; i++)
        ck_assert_int_lt(memcmp(r.fills[i - 1].order, r.fills[i].order, 32), 0);
    market_result_free(&r);
}
END_TEST

START_TEST(test_crossing_pay_as_bid)
{
    ledger_order o[4];
    market_result r;
    crossing_book(o);
    clear_ok(PAB, o, 4, &r);
    /* Both pairs at bid 3's 200000. */
    expect_fill(&r, 1, 1000, 200000, 0);
    expect_fill(&r, 2, 500, 200000, 500);
    expect_fill(&r, 3, 1500, 200000, 0);
    expect_fill(&r, 4, 0, 0, 500);
    expect_stats(&r, 200000, 1500, 500, 500, 3, 2);
    market_result_free(&r);
}
END_TEST

START_TEST(test_crossing_mid)
{
    ledger_order o[4];
    market_result r;
    crossing_book(o);
    clear_ok(MID, o, 4, &r);
    /* 1-3 at 150000, 2-3 at 175000; bid 3 averages (1000 * 150000 + 500 *
     * 175000) / 1500 = 158333.3 -> 158333; so does the clearing price. */
    expect_fill(&r, 1, 1000, 150000, 0);
    expect_fill(&r, 2, 500, 175000, 500);
    expect_fill(&r, 3, 1500, 158333, 0);
    expect_fill(&r, 4, 0, 0, 500);
    expect_stats(&r, 158333, 1500, 500, 500, 3, 2);
    market_result_free(&r);
}
END_TEST

START_TEST(test_no_crossing)
{
    ledger_order o[3] = { OFFER(1, 1000, 200000), BID(2, 700, 150000), OFFER(3, 10, 250000) };
    market_result r;
    for (int rule = U; rule <= MID; rule++) {
        clear_ok(rule, o, 3, &r);
        expect_fill(&r, 1, 0, 0, 1000);
        expect_fill(&r, 2, 0, 0, 700);
        expect_fill(&r, 3, 0, 0, 10);
        expect_stats(&r, 0, 0, 700, 1010, 0, 0);
        market_result_free(&r);
    }
}
END_TEST

START_TEST(test_equal_prices)
{
    /* Bid and offer at the same price trade at it, under every rule. */
    ledger_order o[2] = { OFFER(1, 1000, 150000), BID(2, 1000, 150000) };
    market_result r;
    for (int rule = U; rule <= MID; rule++) {
        clear_ok(rule, o, 2, &r);
        expect_fill(&r, 1, 1000, 150000, 0);
        expect_fill(&r, 2, 1000, 150000, 0);
        expect_stats(&r, 150000, 1000, 0, 0, 2, 1);
        market_result_free(&r);
    }
    /* Two offers at one price: the lower id goes first, whatever the input
     * sequence.  P = (120000 + 150000) / 2 = 135000. */
    ledger_order t[3] = { OFFER(6, 400, 120000), BID(9, 500, 150000), OFFER(5, 400, 120000) };
    clear_ok(U, t, 3, &r);
    expect_fill(&r, 5, 400, 135000, 0);
    expect_fill(&r, 6, 100, 135000, 300);
    expect_fill(&r, 9, 500, 135000, 0);
    expect_stats(&r, 135000, 500, 0, 300, 3, 2);
    market_result_free(&r);
    /* Two bids at one price: the lower id first. */
    ledger_order b[3] = { BID(8, 400, 200000), OFFER(1, 500, 100000), BID(7, 400, 200000) };
    clear_ok(U, b, 3, &r);
    expect_fill(&r, 7, 400, 150000, 0);
    expect_fill(&r, 8, 100, 150000, 300);
    expect_stats(&r, 150000, 500, 300, 0, 3, 2);
    market_result_free(&r);
}
END_TEST

START_TEST(test_partial_fills)
{
    /* Offer larger than the bid: the offer's rest goes to the grid. */
    ledger_order o[2] = { OFFER(1, 1000, 100000), BID(2, 300, 200000) };
    market_result r;
    clear_ok(U, o, 2, &r);
    expect_fill(&r, 1, 300, 150000, 700);
    expect_fill(&r, 2, 300, 150000, 0);
    expect_stats(&r, 150000, 300, 0, 700, 2, 1);
    market_result_free(&r);
    /* Bid larger, split over two offers at different prices (mid rule:
     * 1-3 at 140000, 2-3 at 160000; bid 3 averages (200 * 140000 + 300 *
     * 160000) / 500 = 152000), the rest from the grid. */
    ledger_order p[3] = { OFFER(1, 200, 80000), OFFER(2, 300, 120000), BID(3, 900, 200000) };
    clear_ok(MID, p, 3, &r);
    expect_fill(&r, 1, 200, 140000, 0);
    expect_fill(&r, 2, 300, 160000, 0);
    expect_fill(&r, 3, 500, 152000, 400);
    expect_stats(&r, 152000, 500, 400, 0, 3, 2);
    market_result_free(&r);
    /* Uniform on the same book: marginal pair 2/3, P = 160000. */
    clear_ok(U, p, 3, &r);
    expect_fill(&r, 1, 200, 160000, 0);
    expect_fill(&r, 2, 300, 160000, 0);
    expect_fill(&r, 3, 500, 160000, 400);
    market_result_free(&r);
}
END_TEST

START_TEST(test_one_side_empty)
{
    ledger_order offers[2] = { OFFER(1, 100, 90000), OFFER(2, 200, 80000) };
    ledger_order bids[2] = { BID(3, 300, 300000), BID(4, 50, 80000) };
    market_result r;
    for (int rule = U; rule <= MID; rule++) {
        clear_ok(rule, offers, 2, &r);
        expect_fill(&r, 1, 0, 0, 100);
        expect_fill(&r, 2, 0, 0, 200);
        expect_stats(&r, 0, 0, 0, 300, 0, 0);
        market_result_free(&r);
        clear_ok(rule, bids, 2, &r);
        expect_fill(&r, 3, 0, 0, 300);
        expect_fill(&r, 4, 0, 0, 50);
        expect_stats(&r, 0, 0, 350, 0, 0, 0);
        market_result_free(&r);
        /* No orders at all: an empty settlement. */
        clear_ok(rule, NULL, 0, &r);
        ck_assert_ptr_null(r.fills);
        expect_stats(&r, 0, 0, 0, 0, 0, 0);
        market_result_free(&r);
    }
}
END_TEST

/* 120 offers of 10 Wh at 100000 + 1000 i (i = 0..119) and 50 bids of 20 Wh
 * at 300000 - 1000 j (j = 0..49): every bid is above every offer up to
 * i = 99, bid j takes offers 2j and 2j + 1, offers 100..119 are left over.
 * The marginal pair is offer 99 (199000) and bid 49 (251000). */
START_TEST(test_many_small_orders)
{
    enum { NO = 120, NB = 50 };
    ledger_order o[NO + NB];
    market_result r;
    uint64_t t = 7;
    for (unsigned i = 0; i < NO; i++)
        o[i] = OFFER(i, 10, 100000 + 1000 * (uint64_t)i);
    for (unsigned j = 0; j < NB; j++)
        o[NO + j] = BID(1000 + j, 20, 300000 - 1000 * (uint64_t)j);
    /* Shuffle: the input sequence must not matter. */
    for (size_t k = NO + NB - 1; k > 0; k--) {
        size_t m = tu_rand(&t) % (k + 1);
        ledger_order x = o[k];
        o[k] = o[m];
        o[m] = x;
    }
    for (int rule = U; rule <= MID; rule++) {
        clear_ok(rule, o, NO + NB, &r);
        uint64_t value = 0;
        for (unsigned i = 0; i < NO; i++) {
            uint64_t bid = 300000 - 1000 * (uint64_t)(i / 2), ask = 100000 + 1000 * (uint64_t)i;
            uint64_t price = rule == U ? 225000 : rule == PAB ? bid : (ask + bid) / 2;
            if (i < 100) {
                expect_fill(&r, i, 10, price, 0);
                value += 10 * price;
            } else {
                expect_fill(&r, i, 0, 0, 10);
            }
        }
        for (unsigned j = 0; j < NB; j++) {
            uint64_t bid = 300000 - 1000 * (uint64_t)j;
            uint64_t a0 = 100000 + 2000 * (uint64_t)j, a1 = a0 + 1000;
            /* Mid: (10 * m0 + 10 * m1) / 20 with m0, m1 the two midpoints. */
            uint64_t price = rule == U ? 225000 : rule == PAB ? bid
                             : ((a0 + bid) / 2 + (a1 + bid) / 2) / 2;
            expect_fill(&r, 1000 + j, 20, price, 0);
        }
        expect_stats(&r, value / 1000, 1000, 0, 200, 150, 100);
        market_result_free(&r);
    }
}
END_TEST

/* ---- refused books ------------------------------------------------------- */

START_TEST(test_bad_books)
{
    market_result r;
    ledger_order o[2] = { OFFER(1, 100, 100000), BID(2, 100, 200000) };

    ck_assert_int_eq(market_clear(3, o, 2, RETAIL, FEED_IN, &r), SG_EINVAL);
    ck_assert_int_eq(market_clear(U, o, 2, FEED_IN, RETAIL, &r), SG_EINVAL);
    o[1].kind = PROTO_TX_TRANSFER;
    ck_assert_int_eq(market_clear(U, o, 2, RETAIL, FEED_IN, &r), SG_EINVAL);
    o[1] = BID(2, 0, 200000);
    ck_assert_int_eq(market_clear(U, o, 2, RETAIL, FEED_IN, &r), SG_EORDER);
    o[1] = BID(2, 100, RETAIL + 1);
    ck_assert_int_eq(market_clear(U, o, 2, RETAIL, FEED_IN, &r), SG_EORDER);
    o[1] = OFFER(2, 100, FEED_IN - 1);
    ck_assert_int_eq(market_clear(U, o, 2, RETAIL, FEED_IN, &r), SG_EORDER);
    /* No self-trade: one owner on both sides is refused. */
    o[1] = BID(2, 100, 200000);
    memcpy(o[1].owner, o[0].owner, 32);
    ck_assert_int_eq(market_clear(U, o, 2, RETAIL, FEED_IN, &r), SG_EORDER);
    /* The same order twice. */
    o[1] = o[0];
    o[1].owner[5] = 1;
    ck_assert_int_eq(market_clear(U, o, 2, RETAIL, FEED_IN, &r), SG_EORDER);
    ck_assert_ptr_null(r.fills);
    /* Over the settlement's fill cap. */
    ledger_order *many = calloc(MARKET_MAX_ORDERS + 1, sizeof *many);
    ck_assert_ptr_nonnull(many);
    for (unsigned i = 0; i <= MARKET_MAX_ORDERS; i++)
        many[i] = OFFER(i, 1, 100000);
    ck_assert_int_eq(market_clear(U, many, MARKET_MAX_ORDERS + 1, RETAIL, FEED_IN, &r),
                     SG_ETOOBIG);
    ck_assert_int_eq(market_clear(U, many, MARKET_MAX_ORDERS, RETAIL, FEED_IN, &r), 0);
    ck_assert_uint_eq(r.n_fills, MARKET_MAX_ORDERS);
    market_result_free(&r);
    free(many);
}
END_TEST

/* ---- settlements --------------------------------------------------------- */

static chain_params test_params(int rule)
{
    chain_params p;
    params_init_defaults(&p);
    p.market_rule = (uint8_t)rule;
    p.retail_price = RETAIL;
    p.feed_in_price = FEED_IN;
    memset(p.operator_key, 0x0f, 32);
    return p;
}

START_TEST(test_build_and_verify)
{
    ledger_order o[4], rev[4];
    proto_tx tx;
    market_stats st;
    crossing_book(o);
    for (int i = 0; i < 4; i++)
        rev[i] = o[3 - i];
    for (int rule = U; rule <= MID; rule++) {
        chain_params p = test_params(rule);
        ck_assert_int_eq(market_settlement_build(&p, 42, 7, o, 4, &tx, &st), 0);
        ck_assert_uint_eq(tx.kind, PROTO_TX_SETTLEMENT);
        ck_assert_uint_eq(tx.version, PROTO_TX_VERSION);
        ck_assert_mem_eq(tx.from, p.operator_key, 32);
        ck_assert_uint_eq(tx.nonce, 7);
        ck_assert_uint_eq(tx.u.settle.interval, 42);
        ck_assert_uint_eq(tx.u.settle.n_fills, 4);
        ck_assert_uint_eq(tx.u.settle.clearing_price, st.clearing_price);
        ck_assert_uint_eq(st.traded_wh, 1500);
        /* Accepted whatever sequence the named orders come in. */
        ck_assert_int_eq(market_verify((uint8_t)rule, o, 4, RETAIL, FEED_IN, &tx), 0);
        ck_assert_int_eq(market_verify((uint8_t)rule, rev, 4, RETAIL, FEED_IN, &tx), 0);
        /* Any other rule gives other prices. */
        ck_assert_int_eq(market_verify((uint8_t)((rule + 1) % 3), o, 4, RETAIL, FEED_IN, &tx),
                         SG_ESETTLE);
        /* Any single field changed is refused. */
        for (uint32_t i = 0; i < 4; i++) {
            proto_fill keep = tx.u.settle.fills[i];
            tx.u.settle.fills[i].traded_wh++;
            ck_assert_int_eq(market_verify((uint8_t)rule, o, 4, RETAIL, FEED_IN, &tx), SG_ESETTLE);
            tx.u.settle.fills[i] = keep;
            tx.u.settle.fills[i].trade_price++;
            ck_assert_int_eq(market_verify((uint8_t)rule, o, 4, RETAIL, FEED_IN, &tx), SG_ESETTLE);
            tx.u.settle.fills[i] = keep;
            tx.u.settle.fills[i].grid_wh--;
            ck_assert_int_eq(market_verify((uint8_t)rule, o, 4, RETAIL, FEED_IN, &tx), SG_ESETTLE);
            tx.u.settle.fills[i] = keep;
        }
        tx.u.settle.clearing_price++;
        ck_assert_int_eq(market_verify((uint8_t)rule, o, 4, RETAIL, FEED_IN, &tx), SG_ESETTLE);
        tx.u.settle.clearing_price--;
        /* Naming one order fewer (or more) than the fills is refused. */
        ck_assert_int_eq(market_verify((uint8_t)rule, o, 3, RETAIL, FEED_IN, &tx), SG_ESETTLE);
        ck_assert_int_eq(market_verify((uint8_t)rule, o, 4, RETAIL, FEED_IN, &tx), 0);
        proto_tx_free(&tx);
    }
}
END_TEST

START_TEST(test_build_caps_orders)
{
    chain_params p = test_params(U);
    ledger_order *many = calloc(MARKET_MAX_ORDERS + 10, sizeof *many);
    proto_tx tx;
    ck_assert_ptr_nonnull(many);
    for (unsigned i = 0; i < MARKET_MAX_ORDERS + 10; i++)
        many[i] = i % 2 ? BID(i, 10, 200000) : OFFER(i, 10, 100000);
    ck_assert_int_eq(market_settlement_build(&p, 1, 0, many, MARKET_MAX_ORDERS + 10, &tx, NULL),
                     0);
    ck_assert_uint_eq(tx.u.settle.n_fills, MARKET_MAX_ORDERS);
    ck_assert_uint_eq(tx.u.settle.clearing_price, 150000);
    proto_tx_free(&tx);
    free(many);
}
END_TEST

/* ---- invariants on random books ------------------------------------------ */

static void check_invariants(int rule, const ledger_order *o, size_t n, const market_result *r)
{
    uint64_t sold = 0, bought = 0, import = 0, export = 0;
    uint64_t first_price = 0;
    int64_t grid_net = 0;   /* what the grid keeps from peer trades */
    for (uint32_t i = 0; i < r->n_fills; i++) {
        const proto_fill *f = &r->fills[i];
        const ledger_order *ord = NULL;
        for (size_t k = 0; k < n; k++)
            if (memcmp(o[k].id, f->order, 32) == 0)
                ord = &o[k];
        ck_assert_ptr_nonnull(ord);
        ck_assert_uint_eq(f->traded_wh + f->grid_wh, ord->energy_wh);
        uint64_t cost;
        ck_assert_int_eq(ledger_cost(f->traded_wh, f->trade_price, &cost), 0);
        if (f->traded_wh == 0) {
            ck_assert_uint_eq(f->trade_price, 0);
        } else if (ord->kind == PROTO_TX_OFFER) {
            ck_assert_uint_ge(f->trade_price, ord->price);
        } else {
            ck_assert_uint_le(f->trade_price, ord->price);
        }
        if (f->traded_wh > 0 && rule == U) {
            if (first_price == 0)
                first_price = f->trade_price;
            ck_assert_uint_eq(f->trade_price, first_price);
        }
        if (ord->kind == PROTO_TX_OFFER) {
            sold += f->traded_wh;
            export += f->grid_wh;
            grid_net -= (int64_t)cost;
        } else {
            bought += f->traded_wh;
            import += f->grid_wh;
            grid_net += (int64_t)cost;
        }
    }
    ck_assert_uint_eq(sold, bought);
    ck_assert_uint_eq(sold, r->stats.traded_wh);
    ck_assert_uint_eq(import, r->stats.grid_import_wh);
    ck_assert_uint_eq(export, r->stats.grid_export_wh);
    /* Flooring per-order averages moves at most ~1 micro-unit per order. */
    ck_assert_int_ge(grid_net, -(int64_t)n - 1);
    if (rule == U && sold > 0)
        ck_assert_uint_eq(first_price, r->clearing_price);
}

START_TEST(test_random_books)
{
    uint64_t seed = 99;
    ledger_order o[60];
    for (int round = 0; round < 300; round++) {
        size_t n = tu_rand(&seed) % 60;
        for (size_t i = 0; i < n; i++) {
            int kind = tu_rand(&seed) % 2 ? PROTO_TX_OFFER : PROTO_TX_BID;
            /* Few distinct prices, so ties are common. */
            uint64_t price = FEED_IN + (tu_rand(&seed) % 12) * 20000;
            o[i] = mk(kind, (unsigned)(round * 100 + (int)i), 1 + tu_rand(&seed) % 5000, price);
        }
        for (int rule = U; rule <= MID; rule++) {
            market_result r, r2;
            clear_ok(rule, o, n, &r);
            check_invariants(rule, o, n, &r);
            /* Deterministic: the same book clears the same way. */
            clear_ok(rule, o, n, &r2);
            ck_assert_uint_eq(r.clearing_price, r2.clearing_price);
            if (n > 0)
                ck_assert_mem_eq(r.fills, r2.fills, n * sizeof *r.fills);
            market_result_free(&r);
            market_result_free(&r2);
        }
    }
}
END_TEST

Suite *market_suite(void)
{
    Suite *s = suite_create("market");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_crossing_uniform);
    tcase_add_test(tc, test_crossing_pay_as_bid);
    tcase_add_test(tc, test_crossing_mid);
    tcase_add_test(tc, test_no_crossing);
    tcase_add_test(tc, test_equal_prices);
    tcase_add_test(tc, test_partial_fills);
    tcase_add_test(tc, test_one_side_empty);
    tcase_add_test(tc, test_many_small_orders);
    tcase_add_test(tc, test_bad_books);
    tcase_add_test(tc, test_build_and_verify);
    tcase_add_test(tc, test_build_caps_orders);
    tcase_add_test(tc, test_random_books);
    suite_add_tcase(s, tc);
    return s;
}
