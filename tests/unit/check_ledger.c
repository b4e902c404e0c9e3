/* Ledger rules with real keys and signatures: transfers, nonces, orders and
 * reservations, settlements (valid and forged), coinbase placement, money
 * conservation, exact undo and atomic failure. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/ledger.h"
#include "common/core/market.h"
#include "common/core/params.h"
#include "common/core/tx.h"
#include "testutil.h"

#define START_BALANCE 10000000u   /* 10 units per participant */
#define OP_BALANCE 5000000u
#define BOOK_INTERVAL 5

typedef struct {
    uint8_t pk[32];
    uint8_t sk[64];
} key;

typedef struct {
    chain_params p;
    uint8_t chain_id[32];
    key op, s1, s2, b1, b2, c, poor;
    ledger *l;
} ctx;

enum { S1_OFFER, S2_OFFER, B1_BID, B2_BID, C_BID, C_OLD_OFFER, S1_NEXT_OFFER, BOOK_N };

static void key_init(key *k, uint8_t seed_byte)
{
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    ck_assert_int_eq(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
}

static void ctx_init(ctx *c, int market, uint64_t op_balance)
{
    const key *funded[5];
    uint32_t n = 0;

    ck_assert_int_ge(sodium_init(), 0);
    memset(c, 0, sizeof *c);
    params_init_defaults(&c->p);
    c->p.market_rule = (uint8_t)market;
    key_init(&c->op, 0x0f);
    key_init(&c->s1, 0x51);
    key_init(&c->s2, 0x52);
    key_init(&c->b1, 0xb1);
    key_init(&c->b2, 0xb2);
    key_init(&c->c, 0xcc);
    key_init(&c->poor, 0x99);  /* never funded */
    memcpy(c->p.operator_key, c->op.pk, 32);
    funded[0] = &c->s1; funded[1] = &c->s2; funded[2] = &c->b1;
    funded[3] = &c->b2; funded[4] = &c->c;
    c->p.allocs = calloc(6, sizeof *c->p.allocs);
    ck_assert_ptr_nonnull(c->p.allocs);
    for (int i = 0; i < 5; i++) {
        memcpy(c->p.allocs[n].pubkey, funded[i]->pk, 32);
        c->p.allocs[n++].balance = START_BALANCE;
    }
    if (op_balance > 0) {
        memcpy(c->p.allocs[n].pubkey, c->op.pk, 32);
        c->p.allocs[n++].balance = op_balance;
    }
    c->p.n_allocs = n;
    params_chain_id(&c->p, c->chain_id);
    ck_assert_int_eq(ledger_new(&c->l, &c->p), 0);
}

static void ctx_free(ctx *c)
{
    ledger_free(c->l);
    params_free(&c->p);
}

static void sign(const ctx *c, proto_tx *tx, const key *k)
{
    ck_assert_int_eq(tx_sign(tx, k->sk, c->chain_id), 0);
}

static proto_tx mk_coinbase(const ctx *c, uint64_t height, const uint8_t to[32])
{
    proto_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_COINBASE;
    tx.nonce = height;
    memcpy(tx.u.pay.to, to, 32);
    tx.u.pay.amount = c->p.block_reward;
    return tx;
}

static proto_tx mk_transfer(const ctx *c, const key *from, uint64_t nonce,
                            const uint8_t to[32], uint64_t amount)
{
    proto_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_TRANSFER;
    memcpy(tx.from, from->pk, 32);
    tx.nonce = nonce;
    memcpy(tx.u.pay.to, to, 32);
    tx.u.pay.amount = amount;
    sign(c, &tx, from);
    return tx;
}

static proto_tx mk_order(const ctx *c, const key *from, int kind, uint64_t nonce,
                         uint64_t interval, uint64_t wh, uint64_t price)
{
    proto_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = (uint8_t)kind;
    memcpy(tx.from, from->pk, 32);
    tx.nonce = nonce;
    tx.u.order.interval = interval;
    tx.u.order.energy_wh = wh;
    tx.u.order.price = price;
    sign(c, &tx, from);
    return tx;
}

static int fill_cmp(const void *a, const void *b)
{
    return memcmp(((const proto_fill *)a)->order, ((const proto_fill *)b)->order, 32);
}

/* Fills are copied (sorted unless told otherwise); free with proto_tx_free.
 * `from` is the claimed sender, `signer` the key that signs. */
static proto_tx mk_settle_as(const ctx *c, const uint8_t from[32], const key *signer,
                             uint64_t nonce, uint64_t interval, uint64_t clearing,
                             const proto_fill *fills, uint32_t n, int sorted)
{
    proto_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_SETTLEMENT;
    memcpy(tx.from, from, 32);
    tx.nonce = nonce;
    tx.u.settle.interval = interval;
    tx.u.settle.clearing_price = clearing;
    tx.u.settle.n_fills = n;
    tx.u.settle.fills = calloc(n ? n : 1, sizeof(proto_fill));
    ck_assert_ptr_nonnull(tx.u.settle.fills);
    if (n > 0)
        memcpy(tx.u.settle.fills, fills, n * sizeof *fills);
    if (sorted && n > 1)
        qsort(tx.u.settle.fills, n, sizeof *fills, fill_cmp);
    /* tx_sign refuses a key that is not `from`'s; sign the bytes directly
     * for the forged case where they differ. */
    if (memcmp(from, signer->pk, 32) == 0) {
        sign(c, &tx, signer);
    } else {
        proto_tx t = tx;
        memcpy(t.from, signer->pk, 32);
        sign(c, &t, signer);
        memcpy(tx.sig, t.sig, 64);
    }
    return tx;
}

static proto_tx mk_settle(const ctx *c, uint64_t nonce, uint64_t interval, uint64_t clearing,
                          const proto_fill *fills, uint32_t n)
{
    return mk_settle_as(c, c->op.pk, &c->op, nonce, interval, clearing, fills, n, 1);
}

static void txid(const proto_tx *tx, uint8_t id[32])
{
    ck_assert_int_eq(tx_id(tx, id), 0);
}

/* The ledger's view of an order tx, for clearing it before it is applied. */
static ledger_order order_of(const proto_tx *tx)
{
    ledger_order o;
    memset(&o, 0, sizeof o);
    txid(tx, o.id);
    memcpy(o.owner, tx->from, 32);
    o.kind = tx->kind;
    o.interval = tx->u.order.interval;
    o.energy_wh = tx->u.order.energy_wh;
    o.price = tx->u.order.price;
    return o;
}

static int apply(ctx *c, const proto_tx *tx)
{
    uint8_t id[32];
    txid(tx, id);
    return ledger_apply_tx(c->l, tx, id, 1, 1, NULL);
}

static void state(const ctx *c, uint8_t h[32])
{
    ck_assert_int_eq(ledger_state_hash(c->l, h), 0);
}

static const ledger_account *acct(const ctx *c, const key *k)
{
    const ledger_account *a = ledger_account_get(c->l, k->pk);
    ck_assert_ptr_nonnull(a);
    return a;
}

static uint64_t money(const ctx *c)
{
    uint64_t m;
    ck_assert_int_eq(ledger_total_money(c->l, &m), 0);
    return m;
}

/* ---- transfers and nonces ------------------------------------------------ */

START_TEST(test_cost)
{
    uint64_t v;
    ck_assert_int_eq(ledger_cost(1500, 300000, &v), 0);
    ck_assert_uint_eq(v, 450000);
    ck_assert_int_eq(ledger_cost(1, 999, &v), 0);
    ck_assert_uint_eq(v, 0);                     /* rounded down */
    ck_assert_int_eq(ledger_cost(UINT64_MAX, 1000, &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);            /* 128-bit intermediate */
    ck_assert_int_eq(ledger_cost(UINT64_MAX, 1001, &v), SG_ETOOBIG);
}
END_TEST

START_TEST(test_genesis_state)
{
    ctx c;
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE);
    ck_assert_uint_eq(acct(&c, &c.op)->balance, OP_BALANCE);
    ck_assert_ptr_null(ledger_account_get(c.l, c.poor.pk));
    ck_assert_uint_eq(ledger_last_settled(c.l), UINT64_MAX);
    ck_assert_uint_eq(money(&c), 5ull * START_BALANCE + OP_BALANCE);
    ctx_free(&c);
}
END_TEST

START_TEST(test_transfer_ok)
{
    ctx c;
    proto_tx tx;
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    uint64_t before = money(&c);

    tx = mk_transfer(&c, &c.s1, 0, c.poor.pk, 2500000);
    ck_assert_int_eq(apply(&c, &tx), 0);
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE - 2500000);
    ck_assert_uint_eq(acct(&c, &c.s1)->nonce, 1);
    ck_assert_uint_eq(acct(&c, &c.poor)->balance, 2500000);
    ck_assert_uint_eq(acct(&c, &c.poor)->nonce, 0);
    /* The new account can spend, with its own nonce from 0. */
    tx = mk_transfer(&c, &c.poor, 0, c.s1.pk, 500000);
    ck_assert_int_eq(apply(&c, &tx), 0);
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE - 2000000);
    /* Paying oneself moves nothing but the nonce. */
    tx = mk_transfer(&c, &c.s1, 1, c.s1.pk, 100);
    ck_assert_int_eq(apply(&c, &tx), 0);
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE - 2000000);
    ck_assert_uint_eq(acct(&c, &c.s1)->nonce, 2);
    ck_assert_uint_eq(money(&c), before);
    ctx_free(&c);
}
END_TEST

START_TEST(test_transfer_overdraft)
{
    ctx c;
    proto_tx tx;
    uint8_t h0[32], h1[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);

    state(&c, h0);
    tx = mk_transfer(&c, &c.s1, 0, c.s2.pk, START_BALANCE + 1);
    ck_assert_int_eq(apply(&c, &tx), SG_EBALANCE);
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);
    ck_assert_uint_eq(acct(&c, &c.s1)->nonce, 0);
    /* An account never funded cannot pay, and is not created by trying. */
    tx = mk_transfer(&c, &c.poor, 0, c.s2.pk, 1);
    ck_assert_int_eq(apply(&c, &tx), SG_EBALANCE);
    ck_assert_ptr_null(ledger_account_get(c.l, c.poor.pk));
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);
    /* The whole balance is fine. */
    tx = mk_transfer(&c, &c.s1, 0, c.s2.pk, START_BALANCE);
    ck_assert_int_eq(apply(&c, &tx), 0);
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, 0);
    ctx_free(&c);
}
END_TEST

START_TEST(test_nonce_replay_and_gap)
{
    ctx c;
    proto_tx t0, t2;
    uint8_t h0[32], h1[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);

    t0 = mk_transfer(&c, &c.s1, 0, c.s2.pk, 1000);
    ck_assert_int_eq(apply(&c, &t0), 0);
    state(&c, h0);
    ck_assert_int_eq(apply(&c, &t0), SG_ENONCE);       /* replay */
    t2 = mk_transfer(&c, &c.s1, 2, c.s2.pk, 1000);
    ck_assert_int_eq(apply(&c, &t2), SG_ENONCE);       /* gap */
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);
    ctx_free(&c);
}
END_TEST

START_TEST(test_bad_signature)
{
    ctx c;
    proto_tx tx;
    uint8_t h0[32], h1[32], id[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);

    state(&c, h0);
    tx = mk_transfer(&c, &c.s1, 0, c.s2.pk, 1000);
    tx.sig[5] ^= 0x20;
    ck_assert_int_eq(apply(&c, &tx), SG_EBADSIG);
    /* Tampered after signing. */
    tx = mk_transfer(&c, &c.s1, 0, c.s2.pk, 1000);
    tx.u.pay.amount = 1001;
    ck_assert_int_eq(apply(&c, &tx), SG_EBADSIG);
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);
    /* check_sig = 0 trusts the caller's earlier check. */
    txid(&tx, id);
    ck_assert_int_eq(ledger_apply_tx(c.l, &tx, id, 1, 0, NULL), 0);
    ctx_free(&c);
}
END_TEST

START_TEST(test_other_chain_signature)
{
    ctx c;
    proto_tx tx;
    uint8_t other[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);

    memcpy(other, c.chain_id, 32);
    other[0] ^= 1;
    tx = mk_transfer(&c, &c.s1, 0, c.s2.pk, 1000);
    ck_assert_int_eq(tx_sign(&tx, c.s1.sk, other), 0);
    ck_assert_int_eq(apply(&c, &tx), SG_EBADSIG);
    ctx_free(&c);
}
END_TEST

/* ---- orders -------------------------------------------------------------- */

START_TEST(test_orders_and_reservation)
{
    ctx c;
    proto_tx tx;
    uint8_t id[32], h0[32], h1[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    uint64_t before = money(&c);

    tx = mk_order(&c, &c.s1, PROTO_TX_OFFER, 0, 5, 2500, 100000);
    ck_assert_int_eq(apply(&c, &tx), 0);
    txid(&tx, id);
    const ledger_order *o = ledger_order_get(c.l, id);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(o->kind, PROTO_TX_OFFER);
    ck_assert_uint_eq(o->energy_wh, 2500);
    ck_assert_uint_eq(o->reserved, 0);
    ck_assert_mem_eq(o->owner, c.s1.pk, 32);
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE);

    /* A bid holds energy at retail: 1500 Wh * 0.30/kWh = 450000. */
    tx = mk_order(&c, &c.b1, PROTO_TX_BID, 0, 5, 1500, 200000);
    ck_assert_int_eq(apply(&c, &tx), 0);
    txid(&tx, id);
    ck_assert_uint_eq(ledger_order_get(c.l, id)->reserved, 450000);
    ck_assert_uint_eq(acct(&c, &c.b1)->balance, START_BALANCE - 450000);
    ck_assert_uint_eq(acct(&c, &c.b1)->reserved, 450000);
    ck_assert_uint_eq(money(&c), before);

    state(&c, h0);
    /* Second order from one account in one interval (either kind). */
    tx = mk_order(&c, &c.b1, PROTO_TX_BID, 1, 5, 100, 200000);
    ck_assert_int_eq(apply(&c, &tx), SG_EORDER);
    tx = mk_order(&c, &c.b1, PROTO_TX_OFFER, 1, 5, 100, 200000);
    ck_assert_int_eq(apply(&c, &tx), SG_EORDER);
    /* Prices outside [feed-in, retail]. */
    tx = mk_order(&c, &c.s2, PROTO_TX_OFFER, 0, 5, 100, c.p.feed_in_price - 1);
    ck_assert_int_eq(apply(&c, &tx), SG_EORDER);
    tx = mk_order(&c, &c.b2, PROTO_TX_BID, 0, 5, 100, c.p.retail_price + 1);
    ck_assert_int_eq(apply(&c, &tx), SG_EORDER);
    /* Zero energy is a stateless error. */
    tx = mk_order(&c, &c.s2, PROTO_TX_OFFER, 0, 5, 0, 100000);
    ck_assert_int_eq(apply(&c, &tx), SG_EINVALID);
    /* A bid whose reservation exceeds the balance: 34 kWh at retail. */
    tx = mk_order(&c, &c.b2, PROTO_TX_BID, 0, 5, 34000, 200000);
    ck_assert_int_eq(apply(&c, &tx), SG_EBALANCE);
    tx = mk_order(&c, &c.poor, PROTO_TX_BID, 0, 5, 1, 200000);
    ck_assert_int_eq(apply(&c, &tx), SG_EBALANCE);
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);

    /* The same account may order again in another interval. */
    tx = mk_order(&c, &c.b1, PROTO_TX_BID, 1, 6, 100, 200000);
    ck_assert_int_eq(apply(&c, &tx), 0);
    /* Offers need no money at all. */
    tx = mk_order(&c, &c.poor, PROTO_TX_OFFER, 0, 5, 100, 100000);
    ck_assert_int_eq(apply(&c, &tx), 0);
    ctx_free(&c);
}
END_TEST

/* ---- settlement ---------------------------------------------------------- *
 *
 * The book for interval 5 (prices in micro-units per kWh):
 *   S1 offers 2500 Wh at >= 100000     B1 bids 1500 Wh at <= 200000
 *   S2 offers 1000 Wh at >= 170000     B2 bids 2500 Wh at <= 160000
 *   C bids 500 Wh at <= 300000 (left out of the settlement: expires)
 * plus C's offer for interval 4 (never settled: lapses when 5 settles) and
 * S1's offer for interval 6 (stays open).
 * Uniform clearing (market.h) of the four named orders: B1 takes 1500 of
 * S1's, B2 the other 1000; B2 (160000) does not reach S2 (170000).  The
 * marginal pair is S1/B2, so P = (100000 + 160000) / 2 = 130000.  S2's 1000
 * go to the grid at feed-in, B2 takes its other 1500 from the grid at
 * retail. */

static void build_book(ctx *c, proto_tx book[BOOK_N])
{
    book[S1_OFFER] = mk_order(c, &c->s1, PROTO_TX_OFFER, 0, BOOK_INTERVAL, 2500, 100000);
    book[S2_OFFER] = mk_order(c, &c->s2, PROTO_TX_OFFER, 0, BOOK_INTERVAL, 1000, 170000);
    book[B1_BID] = mk_order(c, &c->b1, PROTO_TX_BID, 0, BOOK_INTERVAL, 1500, 200000);
    book[B2_BID] = mk_order(c, &c->b2, PROTO_TX_BID, 0, BOOK_INTERVAL, 2500, 160000);
    book[C_BID] = mk_order(c, &c->c, PROTO_TX_BID, 0, BOOK_INTERVAL, 500, 300000);
    book[C_OLD_OFFER] = mk_order(c, &c->c, PROTO_TX_OFFER, 1, BOOK_INTERVAL - 1, 700, 90000);
    book[S1_NEXT_OFFER] = mk_order(c, &c->s1, PROTO_TX_OFFER, 1, BOOK_INTERVAL + 1, 300, 90000);
    for (int i = 0; i < BOOK_N; i++)
        ck_assert_int_eq(apply(c, &book[i]), 0);
}

static proto_fill mk_fill(const proto_tx *order, uint64_t traded, uint64_t price, uint64_t grid)
{
    proto_fill f;
    memset(&f, 0, sizeof f);
    txid(order, f.order);
    f.traded_wh = traded;
    f.trade_price = traded ? price : 0;
    f.grid_wh = grid;
    return f;
}

enum { F_S1, F_S2, F_B1, F_B2, N_FILLS };

static void valid_fills(const proto_tx book[BOOK_N], proto_fill f[N_FILLS])
{
    f[F_S1] = mk_fill(&book[S1_OFFER], 2500, 130000, 0);
    f[F_S2] = mk_fill(&book[S2_OFFER], 0, 0, 1000);
    f[F_B1] = mk_fill(&book[B1_BID], 1500, 130000, 0);
    f[F_B2] = mk_fill(&book[B2_BID], 1000, 130000, 1500);
}

/* Applies a settlement that must fail with `want` and change nothing. */
static void expect_rejected(ctx *c, proto_tx *tx, int want, const char *what)
{
    uint8_t h0[32], h1[32];
    state(c, h0);
    int rc = apply(c, tx);
    ck_assert_msg(rc == want, "%s: got %d, want %d", what, rc, want);
    state(c, h1);
    ck_assert_msg(memcmp(h0, h1, 32) == 0, "%s: state changed", what);
    proto_tx_free(tx);
}

static void forge(ctx *c, const proto_tx book[BOOK_N], int which, uint64_t clearing,
                  int want, const char *what, void (*edit)(proto_fill *f, int which))
{
    proto_fill f[N_FILLS];
    proto_tx tx;
    valid_fills(book, f);
    edit(f, which);
    tx = mk_settle(c, 0, BOOK_INTERVAL, clearing, f, N_FILLS);
    expect_rejected(c, &tx, want, what);
}

static void edit_none(proto_fill *f, int which) { (void)f; (void)which; }
static void edit_overfill(proto_fill *f, int which) { f[which].traded_wh += 100; }
static void edit_overfill_grid(proto_fill *f, int which) { f[which].grid_wh += 1; }
static void edit_missing_grid(proto_fill *f, int which) { f[which].grid_wh -= 100; }
static void edit_price_plus(proto_fill *f, int which) { f[which].trade_price += 1000; }
static void edit_all_prices(proto_fill *f, int which)
{
    for (int i = 0; i < N_FILLS; i++)
        if (f[i].traded_wh > 0)
            f[i].trade_price = (uint64_t)which;
}
static void edit_unbalanced(proto_fill *f, int which)
{
    (void)which;
    f[F_B2].traded_wh -= 100;      /* bought 2400, sold 2500 */
    f[F_B2].grid_wh += 100;        /* order energy still matches */
}
static void edit_unknown(proto_fill *f, int which) { f[which].order[7] ^= 0x40; }
static void edit_realloc(proto_fill *f, int which)
{
    (void)which;
    f[F_S1].traded_wh = 1500;
    f[F_S1].grid_wh = 1000;
    f[F_B2].traded_wh = 0;
    f[F_B2].trade_price = 0;
    f[F_B2].grid_wh = 2500;
}

START_TEST(test_settlement_valid)
{
    ctx c;
    proto_tx book[BOOK_N], tx;
    proto_fill f[N_FILLS];
    uint8_t id[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    build_book(&c, book);
    uint64_t before = money(&c);

    ck_assert_uint_eq(acct(&c, &c.b1)->reserved, 450000);
    ck_assert_uint_eq(acct(&c, &c.b2)->reserved, 750000);
    ck_assert_uint_eq(acct(&c, &c.c)->reserved, 150000);
    valid_fills(book, f);
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 130000, f, N_FILLS);
    ck_assert_int_eq(apply(&c, &tx), 0);
    proto_tx_free(&tx);

    /* Hand-computed: S1 2500 Wh * 0.13 = 325000; S2 1000 Wh * 0.08 feed-in
     * = 80000; B1 pays 1500 * 0.13 = 195000; B2 pays 1000 * 0.13 + 1500 *
     * 0.30 = 580000; the grid nets 775000 - 405000 = 370000. */
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE + 325000);
    ck_assert_uint_eq(acct(&c, &c.s1)->sold_wh, 2500);
    ck_assert_uint_eq(acct(&c, &c.s1)->grid_export_wh, 0);
    ck_assert_uint_eq(acct(&c, &c.s2)->balance, START_BALANCE + 80000);
    ck_assert_uint_eq(acct(&c, &c.s2)->sold_wh, 0);
    ck_assert_uint_eq(acct(&c, &c.s2)->grid_export_wh, 1000);
    ck_assert_uint_eq(acct(&c, &c.b1)->balance, START_BALANCE - 195000);
    ck_assert_uint_eq(acct(&c, &c.b1)->reserved, 0);
    ck_assert_uint_eq(acct(&c, &c.b1)->bought_wh, 1500);
    ck_assert_uint_eq(acct(&c, &c.b2)->balance, START_BALANCE - 580000);
    ck_assert_uint_eq(acct(&c, &c.b2)->reserved, 0);
    ck_assert_uint_eq(acct(&c, &c.b2)->bought_wh, 1000);
    ck_assert_uint_eq(acct(&c, &c.b2)->grid_import_wh, 1500);
    ck_assert_uint_eq(acct(&c, &c.op)->balance, OP_BALANCE + 370000);
    ck_assert_uint_eq(acct(&c, &c.op)->nonce, 1);
    /* C's unnamed bid expired: reservation back, nothing traded. */
    ck_assert_uint_eq(acct(&c, &c.c)->balance, START_BALANCE);
    ck_assert_uint_eq(acct(&c, &c.c)->reserved, 0);
    ck_assert_uint_eq(acct(&c, &c.c)->bought_wh, 0);
    for (int i = 0; i < BOOK_N; i++) {
        txid(&book[i], id);
        if (i == S1_NEXT_OFFER)
            ck_assert_ptr_nonnull(ledger_order_get(c.l, id));
        else
            ck_assert_ptr_null(ledger_order_get(c.l, id));
    }
    ck_assert_uint_eq(ledger_last_settled(c.l), BOOK_INTERVAL);
    ck_assert_uint_eq(money(&c), before);
    ctx_free(&c);
}
END_TEST

START_TEST(test_settlement_forgeries)
{
    ctx c;
    proto_tx book[BOOK_N], tx;
    proto_fill f[N_FILLS], extra[N_FILLS + 1];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    build_book(&c, book);

    /* Over-filled orders, on each side. */
    forge(&c, book, F_B1, 130000, SG_ESETTLE, "bid over-filled", edit_overfill);
    forge(&c, book, F_S1, 130000, SG_ESETTLE, "offer over-filled", edit_overfill);
    forge(&c, book, F_B2, 130000, SG_ESETTLE, "bid grid over-filled", edit_overfill_grid);
    forge(&c, book, F_S2, 130000, SG_ESETTLE, "offer grid over-filled", edit_overfill_grid);
    /* Traded + grid short of the order's energy: missing grid balance. */
    forge(&c, book, F_B2, 130000, SG_ESETTLE, "missing grid supply", edit_missing_grid);
    forge(&c, book, F_S2, 130000, SG_ESETTLE, "missing feed-in", edit_missing_grid);
    /* Uniform rule with one fill at another price. */
    forge(&c, book, F_B1, 130000, SG_ESETTLE, "uniform price differs", edit_price_plus);
    forge(&c, book, F_S1, 130000, SG_ESETTLE, "uniform price differs", edit_price_plus);
    /* Uniform price below S1's ask of 100000, then above B2's 160000. */
    forge(&c, book, 99000, 99000, SG_ESETTLE, "below an offer's limit", edit_all_prices);
    forge(&c, book, 161000, 161000, SG_ESETTLE, "above a bid's limit", edit_all_prices);
    /* Sold != bought. */
    forge(&c, book, 0, 130000, SG_ESETTLE, "sold != bought", edit_unbalanced);
    /* Naming an order that does not exist. */
    forge(&c, book, F_B1, 130000, SG_ESETTLE, "unknown order", edit_unknown);
    /* The clearing price field itself is checked against the fills. */
    forge(&c, book, 0, 131000, SG_ESETTLE, "clearing price mismatch", edit_none);
    /* Uniform prices inside every limit, conserving, but not the rule's. */
    forge(&c, book, 120000, 120000, SG_ESETTLE, "another uniform price", edit_all_prices);
    forge(&c, book, 150000, 150000, SG_ESETTLE, "another uniform price", edit_all_prices);
    /* Another allocation that conserves energy and money and respects every
     * limit: S1 sells only to B1, B2 buys all from the grid. */
    forge(&c, book, 0, 130000, SG_ESETTLE, "another allocation", edit_realloc);
    /* Naming C's bid (500 Wh at <= 300000) but starving it. */
    valid_fills(book, f);
    memcpy(extra, f, sizeof f);
    extra[N_FILLS] = mk_fill(&book[C_BID], 0, 0, 500);
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 130000, extra, N_FILLS + 1);
    expect_rejected(&c, &tx, SG_ESETTLE, "named bid starved");

    /* Naming an order of another interval (S1's interval-6 offer). */
    valid_fills(book, f);
    memcpy(extra, f, sizeof f);
    extra[N_FILLS] = mk_fill(&book[S1_NEXT_OFFER], 0, 0, 300);
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 130000, extra, N_FILLS + 1);
    expect_rejected(&c, &tx, SG_ESETTLE, "order of another interval");

    /* The same order twice, and fills out of order. */
    valid_fills(book, f);
    memcpy(extra, f, sizeof f);
    extra[N_FILLS] = f[F_S2];
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 130000, extra, N_FILLS + 1);
    expect_rejected(&c, &tx, SG_EINVALID, "same order twice");
    valid_fills(book, f);
    qsort(f, N_FILLS, sizeof *f, fill_cmp);
    proto_fill t = f[0];
    f[0] = f[1];
    f[1] = t;
    tx = mk_settle_as(&c, c.op.pk, &c.op, 0, BOOK_INTERVAL, 130000, f, N_FILLS, 0);
    expect_rejected(&c, &tx, SG_EINVALID, "unsorted fills");

    /* Not the operator: from someone else, or the operator's name signed by
     * someone else. */
    valid_fills(book, f);
    tx = mk_settle_as(&c, c.s1.pk, &c.s1, 2, BOOK_INTERVAL, 130000, f, N_FILLS, 1);
    expect_rejected(&c, &tx, SG_ESETTLE, "settlement from a prosumer");
    tx = mk_settle_as(&c, c.op.pk, &c.s1, 0, BOOK_INTERVAL, 130000, f, N_FILLS, 1);
    expect_rejected(&c, &tx, SG_EBADSIG, "operator's name, prosumer's key");

    /* Wrong operator nonce. */
    tx = mk_settle(&c, 1, BOOK_INTERVAL, 130000, f, N_FILLS);
    expect_rejected(&c, &tx, SG_ENONCE, "operator nonce gap");

    /* After all that the honest settlement still applies. */
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 130000, f, N_FILLS);
    ck_assert_int_eq(apply(&c, &tx), 0);
    proto_tx_free(&tx);

    /* Interval already settled, and an earlier one. */
    tx = mk_settle(&c, 1, BOOK_INTERVAL, 130000, NULL, 0);
    expect_rejected(&c, &tx, SG_ESETTLE, "interval settled twice");
    tx = mk_settle(&c, 1, BOOK_INTERVAL - 1, 130000, NULL, 0);
    expect_rejected(&c, &tx, SG_ESETTLE, "earlier interval");
    /* Closed orders cannot be named again. */
    valid_fills(book, f);
    tx = mk_settle(&c, 1, BOOK_INTERVAL + 1, 130000, f, N_FILLS);
    expect_rejected(&c, &tx, SG_ESETTLE, "closed orders");
    /* Orders for a settled interval are refused. */
    tx = mk_order(&c, &c.s2, PROTO_TX_OFFER, 1, BOOK_INTERVAL, 100, 100000);
    ck_assert_int_eq(apply(&c, &tx), SG_EORDER);
    tx = mk_order(&c, &c.s2, PROTO_TX_OFFER, 1, 0, 100, 100000);
    ck_assert_int_eq(apply(&c, &tx), SG_EORDER);
    tx = mk_order(&c, &c.s2, PROTO_TX_OFFER, 1, BOOK_INTERVAL + 1, 100, 100000);
    ck_assert_int_eq(apply(&c, &tx), 0);
    ctx_free(&c);
}
END_TEST

START_TEST(test_settlement_pay_as_bid)
{
    ctx c;
    proto_tx book[BOOK_N], tx;
    proto_fill f[N_FILLS];
    ctx_init(&c, PARAMS_MARKET_PAY_AS_BID, OP_BALANCE);
    build_book(&c, book);
    uint64_t before = money(&c);

    /* Each pair trades at the bid's price: S1 sells 1500 to B1 at 200000
     * and 1000 to B2 at 160000, so its one fill carries the weighted
     * average 184000, which is also the clearing price (market.h).  Limits
     * still bind: B2 above its 160000 is refused. */
    valid_fills(book, f);
    f[F_S1].trade_price = 184000;
    f[F_B1].trade_price = 200000;
    f[F_B2].trade_price = 161000;
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 184000, f, N_FILLS);
    expect_rejected(&c, &tx, SG_ESETTLE, "pay-as-bid above the bid");
    f[F_B2].trade_price = 160000;
    /* The seller at its own ask conserves money too, but is not the rule. */
    f[F_S1].trade_price = 100000;
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 184000, f, N_FILLS);
    expect_rejected(&c, &tx, SG_ESETTLE, "seller paid its ask");
    f[F_S1].trade_price = 184000;
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 0, f, N_FILLS);
    expect_rejected(&c, &tx, SG_ESETTLE, "clearing price not the average");
    tx = mk_settle(&c, 0, BOOK_INTERVAL, 184000, f, N_FILLS);
    ck_assert_int_eq(apply(&c, &tx), 0);
    proto_tx_free(&tx);
    /* S1 460000; S2 80000; B1 300000; B2 160000 + 450000 = 610000. */
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE + 460000);
    ck_assert_uint_eq(acct(&c, &c.b1)->balance, START_BALANCE - 300000);
    ck_assert_uint_eq(acct(&c, &c.b2)->balance, START_BALANCE - 610000);
    ck_assert_uint_eq(acct(&c, &c.op)->balance, OP_BALANCE + 910000 - 540000);
    ck_assert_uint_eq(money(&c), before);
    ctx_free(&c);
}
END_TEST

START_TEST(test_settlement_grid_cannot_go_negative)
{
    ctx c;
    proto_tx offer, tx;
    proto_fill f;
    ctx_init(&c, PARAMS_MARKET_UNIFORM, 0);   /* the grid starts with nothing */

    offer = mk_order(&c, &c.s1, PROTO_TX_OFFER, 0, 1, 1000, 100000);
    ck_assert_int_eq(apply(&c, &offer), 0);
    /* Feed-in of 1000 Wh costs the grid 80000 it does not have. */
    f = mk_fill(&offer, 0, 0, 1000);
    tx = mk_settle(&c, 0, 1, 0, &f, 1);
    expect_rejected(&c, &tx, SG_EBALANCE, "grid overdrawn");
    /* Once funded it can pay. */
    tx = mk_transfer(&c, &c.s2, 0, c.op.pk, 80000);
    ck_assert_int_eq(apply(&c, &tx), 0);
    tx = mk_settle(&c, 0, 1, 0, &f, 1);
    ck_assert_int_eq(apply(&c, &tx), 0);
    proto_tx_free(&tx);
    ck_assert_uint_eq(acct(&c, &c.op)->balance, 0);
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE + 80000);
    ctx_free(&c);
}
END_TEST

/* ---- blocks, conservation, undo ------------------------------------------ */

typedef struct {
    proto_tx txs[64];
    uint8_t ids[64][32];
    uint32_t n;
} txlist;

static void push(txlist *t, proto_tx tx)
{
    ck_assert_uint_lt(t->n, 64);
    t->txs[t->n] = tx;
    txid(&tx, t->ids[t->n]);
    t->n++;
}

static proto_block as_block(txlist *t)
{
    proto_block b;
    memset(&b, 0, sizeof b);
    b.n_txs = t->n;
    b.txs = t->txs;
    return b;
}

static void txlist_free(txlist *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        proto_tx_free(&t->txs[i]);
    t->n = 0;
}

/* A block with every kind: coinbase, transfers, the whole book and its
 * settlement. */
static void mixed_block(ctx *c, txlist *t, uint64_t height)
{
    proto_tx book[BOOK_N];
    proto_fill f[N_FILLS];

    t->n = 0;
    push(t, mk_coinbase(c, height, c->s1.pk));
    push(t, mk_transfer(c, &c->s2, 0, c->poor.pk, 1234567));
    push(t, mk_transfer(c, &c->poor, 0, c->b1.pk, 234567));
    book[S1_OFFER] = mk_order(c, &c->s1, PROTO_TX_OFFER, 0, BOOK_INTERVAL, 2500, 100000);
    book[S2_OFFER] = mk_order(c, &c->s2, PROTO_TX_OFFER, 1, BOOK_INTERVAL, 1000, 170000);
    book[B1_BID] = mk_order(c, &c->b1, PROTO_TX_BID, 0, BOOK_INTERVAL, 1500, 200000);
    book[B2_BID] = mk_order(c, &c->b2, PROTO_TX_BID, 0, BOOK_INTERVAL, 2500, 160000);
    book[C_BID] = mk_order(c, &c->c, PROTO_TX_BID, 0, BOOK_INTERVAL, 500, 300000);
    book[C_OLD_OFFER] = mk_order(c, &c->c, PROTO_TX_OFFER, 1, BOOK_INTERVAL - 1, 700, 90000);
    book[S1_NEXT_OFFER] = mk_order(c, &c->s1, PROTO_TX_OFFER, 1, BOOK_INTERVAL + 1, 300, 90000);
    for (int i = 0; i < BOOK_N; i++)
        push(t, book[i]);
    valid_fills(book, f);
    push(t, mk_settle(c, 0, BOOK_INTERVAL, 130000, f, N_FILLS));
    push(t, mk_transfer(c, &c->b2, 1, c->s1.pk, 1000));
    push(t, mk_transfer(c, &c->op, 1, c->c.pk, 370000));
}

START_TEST(test_block_undo_exact)
{
    ctx c;
    txlist t;
    proto_block b;
    ledger_undo *u = ledger_undo_new();
    uint8_t h0[32], h1[32], h2[32];
    ck_assert_ptr_nonnull(u);
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    uint64_t m0 = money(&c);

    state(&c, h0);
    mixed_block(&c, &t, 1);
    b = as_block(&t);
    ck_assert_int_eq(ledger_apply_block(c.l, &b, (const uint8_t (*)[32])t.ids, NULL, 1, u), 0);
    ck_assert_uint_gt(ledger_undo_size(u), 0);
    state(&c, h1);
    ck_assert_mem_ne(h0, h1, 32);
    ck_assert_uint_eq(money(&c), m0 + c.p.block_reward);
    ck_assert_uint_eq(ledger_last_settled(c.l), BOOK_INTERVAL);

    ledger_undo_apply(c.l, u);
    ck_assert_uint_eq(ledger_undo_size(u), 0);
    state(&c, h2);
    ck_assert_mem_eq(h0, h2, 32);
    ck_assert_uint_eq(ledger_last_settled(c.l), UINT64_MAX);
    ck_assert_ptr_null(ledger_account_get(c.l, c.poor.pk));

    /* And forward again to the very same state (sig_checked skips all). */
    uint8_t checked[64];
    memset(checked, 1, sizeof checked);
    ck_assert_int_eq(ledger_apply_block(c.l, &b, (const uint8_t (*)[32])t.ids, checked, 1, u), 0);
    state(&c, h2);
    ck_assert_mem_eq(h1, h2, 32);
    txlist_free(&t);
    ledger_undo_free(u);
    ctx_free(&c);
}
END_TEST

START_TEST(test_blocks_undo_in_sequence)
{
    ctx c;
    txlist t1, t2;
    proto_block b1, b2;
    ledger_undo *u1 = ledger_undo_new(), *u2 = ledger_undo_new();
    uint8_t h0[32], h1[32], h2[32], h[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);

    state(&c, h0);
    mixed_block(&c, &t1, 1);
    b1 = as_block(&t1);
    ck_assert_int_eq(ledger_apply_block(c.l, &b1, NULL, NULL, 1, u1), 0);
    state(&c, h1);
    /* Block 2 settles interval 6, expiring S1's open offer, and moves money. */
    t2.n = 0;
    push(&t2, mk_coinbase(&c, 2, c.b2.pk));
    push(&t2, mk_settle(&c, 2, BOOK_INTERVAL + 1, 0, NULL, 0));
    push(&t2, mk_transfer(&c, &c.s1, 2, c.s2.pk, 42));
    b2 = as_block(&t2);
    ck_assert_int_eq(ledger_apply_block(c.l, &b2, NULL, NULL, 2, u2), 0);
    state(&c, h2);
    ck_assert_uint_eq(ledger_last_settled(c.l), BOOK_INTERVAL + 1);
    size_t it = 0;
    const ledger_order *o;
    ck_assert_int_eq(ledger_order_next(c.l, &it, &o), 0);   /* book empty */

    ledger_undo_apply(c.l, u2);
    state(&c, h);
    ck_assert_mem_eq(h, h1, 32);
    ledger_undo_apply(c.l, u1);
    state(&c, h);
    ck_assert_mem_eq(h, h0, 32);
    txlist_free(&t1);
    txlist_free(&t2);
    ledger_undo_free(u1);
    ledger_undo_free(u2);
    ctx_free(&c);
}
END_TEST

START_TEST(test_block_invalid_tx_in_middle)
{
    ctx c;
    txlist t;
    proto_block b;
    ledger_undo *u = ledger_undo_new();
    uint8_t h0[32], h1[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);

    state(&c, h0);
    /* A journal with history keeps it: only the failed block is undone. */
    proto_tx pre = mk_coinbase(&c, 0, c.c.pk);
    uint8_t pre_id[32];
    txid(&pre, pre_id);
    ck_assert_int_eq(ledger_apply_tx(c.l, &pre, pre_id, 0, 1, u), 0);
    size_t mark = ledger_undo_size(u);
    state(&c, h0);

    mixed_block(&c, &t, 1);
    /* Break the settlement (index 10) with a forged fill; everything before
     * it (coinbase, transfers, seven orders) has applied by then. */
    proto_tx_free(&t.txs[10]);
    proto_fill f = { { 0 }, 1, 130000, 0 };
    memset(f.order, 0xee, 32);
    t.txs[10] = mk_settle(&c, 0, BOOK_INTERVAL, 130000, &f, 1);
    txid(&t.txs[10], t.ids[10]);
    b = as_block(&t);
    ck_assert_int_eq(ledger_apply_block(c.l, &b, (const uint8_t (*)[32])t.ids, NULL, 1, u),
                     SG_ESETTLE);
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);
    ck_assert_uint_eq(ledger_undo_size(u), mark);
    /* Same with no journal at all. */
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 1, NULL), SG_ESETTLE);
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);
    /* A bad signature late in the block. */
    proto_tx_free(&t.txs[10]);
    t.txs[10] = mk_transfer(&c, &c.b1, 1, c.s1.pk, 1);
    t.txs[t.n - 1].sig[0] ^= 1;
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 1, u), SG_EBADSIG);
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);
    txlist_free(&t);
    ledger_undo_free(u);
    ctx_free(&c);
}
END_TEST

START_TEST(test_block_coinbase_rules)
{
    ctx c;
    txlist t;
    proto_block b;
    uint8_t h0[32], h1[32];
    ctx_init(&c, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    state(&c, h0);

    t.n = 0;
    b = as_block(&t);
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 1, NULL), SG_ECOINBASE);
    /* No coinbase first. */
    push(&t, mk_transfer(&c, &c.s1, 0, c.s2.pk, 5));
    push(&t, mk_coinbase(&c, 1, c.s1.pk));
    b = as_block(&t);
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 1, NULL), SG_ECOINBASE);
    /* Two coinbases. */
    t.txs[0] = mk_coinbase(&c, 1, c.s1.pk);
    b = as_block(&t);
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 1, NULL), SG_ECOINBASE);
    /* Wrong height, wrong amount. */
    t.n = 1;
    b = as_block(&t);
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 2, NULL), SG_ECOINBASE);
    t.txs[0].u.pay.amount++;
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 1, NULL), SG_ECOINBASE);
    /* A signed-looking coinbase is malformed. */
    t.txs[0].u.pay.amount--;
    t.txs[0].sig[0] = 1;
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 1, NULL), SG_EINVALID);
    state(&c, h1);
    ck_assert_mem_eq(h0, h1, 32);
    t.txs[0].sig[0] = 0;
    ck_assert_int_eq(ledger_apply_block(c.l, &b, NULL, NULL, 1, NULL), 0);
    ck_assert_uint_eq(acct(&c, &c.s1)->balance, START_BALANCE + c.p.block_reward);
    ctx_free(&c);
}
END_TEST

START_TEST(test_money_conservation)
{
    ctx c;
    uint64_t seed = 7;
    ctx_init(&c, PARAMS_MARKET_MID, OP_BALANCE);
    const key *people[5] = { &c.s1, &c.s2, &c.b1, &c.b2, &c.c };
    uint64_t nonces[5] = { 0 }, op_nonce = 0;
    uint64_t m0 = money(&c);

    /* Twenty blocks of random transfers and orders, one interval each,
     * settled by the real mid-market clearing (market.h). */
    for (uint64_t h = 1; h <= 20; h++) {
        txlist t;
        proto_tx orders[5];
        t.n = 0;
        push(&t, mk_coinbase(&c, h, people[h % 5]->pk));
        for (int i = 0; i < 5; i++) {
            int kind = i < 2 ? PROTO_TX_OFFER : PROTO_TX_BID;
            uint64_t price = 80000 + tu_rand(&seed) % 220001;
            orders[i] = mk_order(&c, people[i], kind, nonces[i]++, h, 100 + tu_rand(&seed) % 3000,
                                 price);
            push(&t, orders[i]);
        }
        for (int i = 0; i < 5; i++)
            push(&t, mk_transfer(&c, people[i], nonces[i]++, people[(i + 1) % 5]->pk,
                                 1 + tu_rand(&seed) % 100000));
        /* The first four orders are cleared by the real market; the fifth
         * (a buyer) is left out and expires. */
        ledger_order named[4];
        for (int i = 0; i < 4; i++)
            named[i] = order_of(&orders[i]);
        proto_tx st;
        ck_assert_int_eq(market_settlement_build(&c.p, h, op_nonce++, named, 4, &st, NULL), 0);
        sign(&c, &st, &c.op);
        push(&t, st);
        proto_block b = as_block(&t);
        ck_assert_int_eq(ledger_apply_block(c.l, &b, (const uint8_t (*)[32])t.ids, NULL, h, NULL), 0);
        ck_assert_uint_eq(money(&c), m0 + h * c.p.block_reward);
        txlist_free(&t);
    }
    /* Nothing is left reserved: every order was settled or expired. */
    size_t it = 0;
    const uint8_t *k;
    const ledger_account *a;
    while (ledger_account_next(c.l, &it, &k, &a))
        ck_assert_uint_eq(a->reserved, 0);
    ctx_free(&c);
}
END_TEST

START_TEST(test_state_hash_is_canonical)
{
    /* Two ledgers reaching the same state by different routes (different
     * insertion orders in their maps) hash the same. */
    ctx a, b;
    proto_tx t1, t2;
    uint8_t ha[32], hb[32];
    ctx_init(&a, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    ctx_init(&b, PARAMS_MARKET_UNIFORM, OP_BALANCE);
    t1 = mk_transfer(&a, &a.s1, 0, a.poor.pk, 10);
    t2 = mk_order(&a, &a.s2, PROTO_TX_OFFER, 0, 3, 10, 100000);
    ck_assert_int_eq(apply(&a, &t1), 0);
    ck_assert_int_eq(apply(&a, &t2), 0);
    ck_assert_int_eq(apply(&b, &t2), 0);
    ck_assert_int_eq(apply(&b, &t1), 0);
    state(&a, ha);
    state(&b, hb);
    ck_assert_mem_eq(ha, hb, 32);
    t1 = mk_transfer(&a, &a.s1, 1, a.poor.pk, 1);
    ck_assert_int_eq(apply(&a, &t1), 0);
    state(&a, ha);
    ck_assert_mem_ne(ha, hb, 32);
    ctx_free(&a);
    ctx_free(&b);
}
END_TEST

Suite *ledger_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cost);
    tcase_add_test(tc, test_genesis_state);
    tcase_add_test(tc, test_transfer_ok);
    tcase_add_test(tc, test_transfer_overdraft);
    tcase_add_test(tc, test_nonce_replay_and_gap);
    tcase_add_test(tc, test_bad_signature);
    tcase_add_test(tc, test_other_chain_signature);
    tcase_add_test(tc, test_orders_and_reservation);
    tcase_add_test(tc, test_settlement_valid);
    tcase_add_test(tc, test_settlement_forgeries);
    tcase_add_test(tc, test_settlement_pay_as_bid);
    tcase_add_test(tc, test_settlement_grid_cannot_go_negative);
    tcase_add_test(tc, test_block_undo_exact);
    tcase_add_test(tc, test_blocks_undo_in_sequence);
    tcase_add_test(tc, test_block_invalid_tx_in_middle);
    tcase_add_test(tc, test_block_coinbase_rules);
    tcase_add_test(tc, test_money_conservation);
    tcase_add_test(tc, test_state_hash_is_canonical);
    suite_add_tcase(s, tc);
    return s;
}
