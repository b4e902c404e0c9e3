/* Agent: households sign one order per interval with the right nonces, the
 * operator settles finished intervals once their grace period is over,
 * with several settlements in flight at once, rebuilds one that vanished
 * or stopped applying after a reorg (and those after it), and statistics
 * follow what was mined.  One
 * in-memory chain per view, real signatures, proof of work at difficulty 1;
 * time is passed in, so nothing depends on the clock. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/daemon/agent.h"
#include "common/core/chain.h"
#include "common/base/err.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/core/tx.h"

#define T0 1700000000u           /* genesis time, unix seconds */
#define TICK 1000u
#define NHOUSE 4                 /* p0, p1 prosumers; c0, c1 consumers */
#define OP NHOUSE
#define RICH 1000000000u

typedef struct {
    chain_params p;
    uint8_t pk[NHOUSE + 1][32];
    uint8_t sk[NHOUSE + 1][64];
    chain *c;
    agent *a[NHOUSE + 1];
} fix;

/* Real time inside interval k, `ms` after its start. */
static uint64_t at(uint64_t k, uint64_t ms)
{
    return (uint64_t)T0 * 1000 + k * TICK + ms;
}

static void on_connect(void *ctx, const chain_entry *e, const proto_block *b,
                       const uint8_t (*txids)[32])
{
    fix *f = ctx;
    (void)e;
    (void)txids;
    for (int i = 0; i <= NHOUSE; i++)
        if (f->a[i])
            agent_block_connected(f->a[i], b);
}

static int submit(void *ctx, const proto_tx *tx, uint8_t txid[32])
{
    return chain_submit_tx(ctx, tx, txid);
}

static void params_setup(fix *f, uint64_t consumer_balance)
{
    ck_assert_int_ge(sodium_init(), 0);
    memset(f, 0, sizeof *f);
    params_init_defaults(&f->p);
    f->p.genesis_time = T0;
    f->p.tick_ms = TICK;
    f->p.sim_start = 1718967600;   /* 2024-06-21 11:00 UTC */
    f->p.seed = 2;                 /* a sunny day */
    ck_assert_int_eq(pow_difficulty_to_bits(1, &f->p.bits), 0);
    for (int i = 0; i <= NHOUSE; i++) {
        uint8_t seed[32];
        memset(seed, 0x30 + i, sizeof seed);
        crypto_sign_seed_keypair(f->pk[i], f->sk[i], seed);
    }
    memcpy(f->p.operator_key, f->pk[OP], 32);
    f->p.n_allocs = NHOUSE + 1;
    f->p.allocs = calloc(NHOUSE + 1, sizeof *f->p.allocs);
    ck_assert_ptr_nonnull(f->p.allocs);
    for (int i = 0; i <= NHOUSE; i++) {
        memcpy(f->p.allocs[i].pubkey, f->pk[i], 32);
        f->p.allocs[i].balance = i >= 2 && i < NHOUSE ? consumer_balance : RICH;
    }
}

static chain *open_view(fix *f, int with_events)
{
    chain_config cc = { .params = &f->p, .on_connect = with_events ? on_connect : NULL,
                        .cb_ctx = f };
    chain *c = NULL;
    ck_assert_int_eq(chain_open(&c, &cc, NULL), 0);
    return c;
}

static agent *make_agent(fix *f, int who)
{
    static const char *const names[] = { "p0", "p1", "c0", "c1", "op" };
    agent_config ac = {
        .role = who == OP ? AGENT_OPERATOR : AGENT_HOUSEHOLD,
        .params = &f->p, .chain = f->c, .sk = f->sk[who], .pk = f->pk[who],
        .name = names[who], .submit = submit, .submit_ctx = f->c,
        .energy = { .prosumer = who < 2 },
    };
    agent *a = NULL;
    ck_assert_int_eq(agent_new(&a, &ac), 0);
    return a;
}

static void fix_init(fix *f, uint64_t consumer_balance)
{
    params_setup(f, consumer_balance);
    f->c = open_view(f, 1);
    for (int i = 0; i <= NHOUSE; i++)
        f->a[i] = make_agent(f, i);
}

static void fix_free(fix *f)
{
    for (int i = 0; i <= NHOUSE; i++)
        agent_free(f->a[i]);
    chain_free(f->c);
    params_free(&f->p);
}

/* Mines the template of c's tip (mempool included) and submits it to c;
 * returns the encoded block (caller frees). */
static uint8_t *mine_on(chain *c, const uint8_t miner[32], uint64_t now_s, size_t *len)
{
    proto_block b;
    uint8_t *bytes;
    chain_result res;
    ck_assert_int_eq(chain_template(c, miner, now_s, 4000, &b), 0);
    ck_assert_int_eq(pow_search_simple(&b.header, 1u << 24), 0);
    ck_assert_int_eq(proto_block_encode(&b, &bytes, len), 0);
    proto_block_free(&b);
    ck_assert_int_eq(chain_submit_block(c, bytes, *len, now_s, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    return bytes;
}

static void mine(fix *f, uint64_t now_ms)
{
    size_t len;
    free(mine_on(f->c, f->pk[OP], now_ms / 1000, &len));
}

static void tick_households(fix *f, uint64_t now_ms)
{
    for (int i = 0; i < NHOUSE; i++)
        ck_assert_int_eq(agent_tick(f->a[i], now_ms), 0);
}

static const proto_tx *own_tx(fix *f, int who, uint64_t nonce)
{
    mempool *mp = chain_mempool(f->c);
    size_t it = 0;
    const uint8_t *id;
    while (mempool_next(mp, &it, &id)) {
        const proto_tx *tx = mempool_get(mp, id);
        if (memcmp(tx->from, f->pk[who], 32) == 0 && tx->nonce == nonce)
            return tx;
    }
    return NULL;
}

START_TEST(test_new_checks)
{
    fix f;
    agent *a = (agent *)1;
    params_setup(&f, RICH);
    f.c = open_view(&f, 0);
    agent_config ac = { .role = AGENT_OPERATOR, .params = &f.p, .chain = f.c,
                        .sk = f.sk[0], .pk = f.pk[0], .submit = submit, .submit_ctx = f.c };
    /* Only the genesis operator key may settle. */
    ck_assert_int_eq(agent_new(&a, &ac), SG_EINVAL);
    ck_assert_ptr_null(a);
    ac.role = 7;
    ck_assert_int_eq(agent_new(&a, &ac), SG_EINVAL);
    ac.role = AGENT_HOUSEHOLD;
    ac.submit = NULL;
    ck_assert_int_eq(agent_new(&a, &ac), SG_EINVAL);
    ac.submit = submit;
    ac.energy.prosumer = 1;
    ac.energy.pv_min_w = 9000;
    ac.energy.pv_max_w = 1000;
    ck_assert_int_eq(agent_new(&a, &ac), SG_EINVAL);
    chain_free(f.c);
    params_free(&f.p);
}
END_TEST

START_TEST(test_orders_once_per_interval)
{
    fix f;
    agent_stats st;
    fix_init(&f, RICH);
    /* Before genesis: no market yet, nothing happens. */
    tick_households(&f, (uint64_t)T0 * 1000 - 5);
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 0);

    tick_households(&f, at(0, 10));
    tick_households(&f, at(0, 600));         /* same interval: no second order */
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), NHOUSE);
    for (int i = 0; i < NHOUSE; i++) {
        const proto_tx *tx = own_tx(&f, i, 0);
        ck_assert_ptr_nonnull(tx);
        /* Sunny late morning: PV households offer, the others bid. */
        ck_assert_int_eq(tx->kind, i < 2 ? PROTO_TX_OFFER : PROTO_TX_BID);
        ck_assert_uint_eq(tx->u.order.interval, 0);
        ck_assert_uint_gt(tx->u.order.energy_wh, 0);
        ck_assert_uint_ge(tx->u.order.price, f.p.feed_in_price);
        ck_assert_uint_le(tx->u.order.price, f.p.retail_price);
        ck_assert_int_eq(tx_verify_sig(tx, chain_id(f.c)), 0);
    }
    /* The next interval's order takes the next nonce past the pending one. */
    tick_households(&f, at(1, 10));
    for (int i = 0; i < NHOUSE; i++) {
        const proto_tx *tx = own_tx(&f, i, 1);
        ck_assert_ptr_nonnull(tx);
        ck_assert_uint_eq(tx->u.order.interval, 1);
    }
    /* Intervals the loop missed get no late orders: only interval 5's. */
    tick_households(&f, at(5, 10));
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 3 * NHOUSE);
    ck_assert_ptr_nonnull(own_tx(&f, 0, 2));
    ck_assert_uint_eq(own_tx(&f, 0, 2)->u.order.interval, 5);
    agent_get_stats(f.a[0], &st);
    ck_assert_uint_eq(st.interval, 5);
    ck_assert_uint_eq(st.orders_submitted, 3);
    ck_assert_uint_gt(st.produced_wh, 0);
    ck_assert_uint_gt(st.consumed_wh, 0);
    ck_assert_int_eq(st.last_settled_interval, -1);
    agent_get_stats(f.a[2], &st);
    ck_assert_uint_eq(st.produced_wh, 0);
    fix_free(&f);
}
END_TEST

START_TEST(test_unaffordable_bid_skipped)
{
    fix f;
    agent_stats st;
    fix_init(&f, 0);                          /* consumers hold nothing */
    tick_households(&f, at(0, 10));
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 2);
    ck_assert_ptr_null(own_tx(&f, 2, 0));
    agent_get_stats(f.a[2], &st);
    ck_assert_uint_eq(st.orders_submitted, 0);
    ck_assert_uint_eq(st.orders_skipped, 1);
    fix_free(&f);
}
END_TEST

START_TEST(test_settle_round)
{
    fix f;
    agent_stats st;
    const ledger_account *acct;
    fix_init(&f, RICH);
    tick_households(&f, at(0, 10));
    mine(&f, at(0, 300));                     /* the orders are in the ledger */
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 0);

    /* Not before interval 0 has ended and a quarter tick has passed. */
    ck_assert_int_eq(agent_tick(f.a[OP], at(0, 900)), 0);
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, TICK / AGENT_SETTLE_GRACE_DIV - 1)), 0);
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 0);
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, TICK / AGENT_SETTLE_GRACE_DIV)), 0);
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 1);
    const proto_tx *s = own_tx(&f, OP, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->kind, PROTO_TX_SETTLEMENT);
    ck_assert_uint_eq(s->u.settle.interval, 0);
    ck_assert_uint_eq(s->u.settle.n_fills, NHOUSE);
    /* While it is pending and applies, nothing more is published. */
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 600)), 0);
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 1);

    mine(&f, at(1, 700));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 0);
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 800)), 0);
    agent_get_stats(f.a[OP], &st);
    ck_assert_int_eq(st.last_settled_interval, 0);
    ck_assert_uint_eq(st.settlements_published, 1);
    ck_assert_uint_eq(st.settlements_mined, 1);
    ck_assert_uint_eq(st.settlements_rebuilt, 0);
    ck_assert_uint_gt(st.traded_wh, 0);
    ck_assert_uint_eq(st.total_traded_wh, st.traded_wh);
    ck_assert_uint_gt(st.matched_orders, 1);
    ck_assert_uint_gt(st.clearing_price, 0);
    /* The trade is in the ledger: sold == bought over all households. */
    uint64_t sold = 0, bought = 0;
    for (int i = 0; i < NHOUSE; i++) {
        acct = ledger_account_get(chain_ledger(f.c), f.pk[i]);
        sold += acct->sold_wh;
        bought += acct->bought_wh;
        ck_assert_uint_eq(acct->reserved, 0);
    }
    ck_assert_uint_eq(sold, st.traded_wh);
    ck_assert_uint_eq(bought, st.traded_wh);
    /* Households saw the clearing price too. */
    uint64_t price = st.clearing_price;
    agent_get_stats(f.a[2], &st);
    ck_assert_uint_eq(st.clearing_price, price);
    ck_assert_int_eq(st.last_settled_interval, 0);
    fix_free(&f);
}
END_TEST

START_TEST(test_rebuild_vanished)
{
    fix f;
    agent_stats st;
    uint8_t id[32];
    fix_init(&f, RICH);
    tick_households(&f, at(0, 10));
    mine(&f, at(0, 300));
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 300)), 0);
    const proto_tx *s = own_tx(&f, OP, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(tx_id(s, id), 0);
    mempool_remove(chain_mempool(f.c), id);   /* e.g. evicted */
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 400)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 0));
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_rebuilt, 1);
    ck_assert_uint_eq(st.settlements_published, 2);
    mine(&f, at(1, 500));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 0);
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_mined, 1);
    fix_free(&f);
}
END_TEST

/* A reorg takes the orders' block away: the pending settlement names
 * orders no longer in the ledger, so it is dropped; once the orders are
 * mined again a new one is built and mined. */
START_TEST(test_rebuild_after_reorg)
{
    fix f;
    agent_stats st;
    size_t len;
    uint8_t *b1, *b2;
    chain_result res;
    fix_init(&f, RICH);
    chain *other = open_view(&f, 0);

    tick_households(&f, at(0, 10));
    mine(&f, at(0, 300));
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 300)), 0);
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 1);

    /* A longer branch without the orders, mined elsewhere. */
    b1 = mine_on(other, f.pk[0], T0 + 1, &len);
    ck_assert_int_eq(chain_submit_block(f.c, b1, len, T0 + 2, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_SIDE);
    free(b1);
    b2 = mine_on(other, f.pk[0], T0 + 2, &len);
    ck_assert_int_eq(chain_submit_block(f.c, b2, len, T0 + 2, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    ck_assert_uint_eq(res.disconnected, 1);
    free(b2);

    /* The orders are back in the mempool, not in the ledger. */
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 400)), 0);
    ck_assert_ptr_null(own_tx(&f, OP, 0));
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), NHOUSE);
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_rebuilt, 1);

    mine(&f, at(1, 500));                     /* orders mined again */
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 600)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 0));
    mine(&f, at(1, 700));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 0);
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_published, 2);
    ck_assert_uint_eq(st.settlements_mined, 1);
    chain_free(other);
    fix_free(&f);
}
END_TEST

/* Blocks slower than intervals: the operator does not wait for one
 * settlement to be mined before publishing the next, so one block carries
 * several, with consecutive nonces, each on the one before. */
START_TEST(test_several_in_flight)
{
    fix f;
    agent_stats st;
    fix_init(&f, RICH);
    tick_households(&f, at(0, 10));
    tick_households(&f, at(1, 10));
    mine(&f, at(1, 100));                     /* orders of 0 and 1 */
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 500)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 0));
    ck_assert_uint_eq(own_tx(&f, OP, 0)->u.settle.interval, 0);
    ck_assert_ptr_null(own_tx(&f, OP, 1));    /* interval 1 still open */
    tick_households(&f, at(2, 10));           /* orders of 2: mempool only */
    ck_assert_int_eq(agent_tick(f.a[OP], at(2, 300)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 0));
    ck_assert_ptr_nonnull(own_tx(&f, OP, 1));
    ck_assert_uint_eq(own_tx(&f, OP, 1)->u.settle.interval, 1);
    ck_assert_ptr_null(own_tx(&f, OP, 2));
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_published, 2);

    mine(&f, at(2, 400));                     /* both, and the orders of 2 */
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 1);
    ck_assert_uint_eq(ledger_account_get(chain_ledger(f.c), f.pk[OP])->nonce, 2);
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_mined, 2);
    ck_assert_int_eq(agent_tick(f.a[OP], at(3, 300)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 2));
    ck_assert_uint_eq(own_tx(&f, OP, 2)->u.settle.interval, 2);
    mine(&f, at(3, 400));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 2);
    for (int i = 0; i < NHOUSE; i++) {
        const ledger_account *acct = ledger_account_get(chain_ledger(f.c), f.pk[i]);
        ck_assert_uint_eq(acct->nonce, 3);
        ck_assert_uint_eq(acct->reserved, 0);
    }
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_published, 3);
    ck_assert_uint_eq(st.settlements_mined, 3);
    ck_assert_uint_eq(st.settlements_rebuilt, 0);
    fix_free(&f);
}
END_TEST

/* A backlog (the operator's loop stalled) is published in one go, oldest
 * first, and one block settles all of it. */
START_TEST(test_catch_up)
{
    fix f;
    agent_stats st;
    fix_init(&f, RICH);
    for (uint64_t k = 0; k < 4; k++)
        tick_households(&f, at(k, 10));
    mine(&f, at(3, 100));
    ck_assert_int_eq(agent_tick(f.a[OP], at(4, 300)), 0);
    for (uint64_t k = 0; k < 4; k++) {
        ck_assert_ptr_nonnull(own_tx(&f, OP, k));
        ck_assert_uint_eq(own_tx(&f, OP, k)->u.settle.interval, k);
    }
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 4);
    mine(&f, at(4, 400));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 3);
    ck_assert_uint_eq(mempool_count(chain_mempool(f.c)), 0);
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_mined, 4);
    fix_free(&f);
}
END_TEST

/* The first of two settlements in flight leaves the mempool: the second's
 * nonce no longer follows, so both are rebuilt, in order. */
START_TEST(test_rebuild_chain_vanished)
{
    fix f;
    agent_stats st;
    uint8_t id[32];
    fix_init(&f, RICH);
    tick_households(&f, at(0, 10));
    tick_households(&f, at(1, 10));
    mine(&f, at(1, 100));
    ck_assert_int_eq(agent_tick(f.a[OP], at(2, 300)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 1));
    ck_assert_int_eq(tx_id(own_tx(&f, OP, 0), id), 0);
    mempool_remove(chain_mempool(f.c), id);
    ck_assert_int_eq(agent_tick(f.a[OP], at(2, 400)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 0));
    ck_assert_ptr_nonnull(own_tx(&f, OP, 1));
    ck_assert_uint_eq(own_tx(&f, OP, 0)->u.settle.interval, 0);
    ck_assert_uint_eq(own_tx(&f, OP, 1)->u.settle.interval, 1);
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_rebuilt, 2);
    ck_assert_uint_eq(st.settlements_published, 4);
    mine(&f, at(2, 500));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 1);
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_mined, 2);
    fix_free(&f);
}
END_TEST

/* Two settlements in flight; a reorg takes away the block with the second
 * interval's orders only.  The first still applies and stays; the second
 * is dropped, and rebuilt with the next nonce once its orders are mined
 * again. */
START_TEST(test_reorg_rebuilds_later)
{
    fix f;
    agent_stats st;
    size_t len;
    uint8_t *b1, *b;
    chain_result res;
    fix_init(&f, RICH);
    chain *other = open_view(&f, 0);

    tick_households(&f, at(0, 10));
    b1 = mine_on(f.c, f.pk[OP], T0, &len);    /* orders of 0, on both views */
    ck_assert_int_eq(chain_submit_block(other, b1, len, T0, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    free(b1);
    tick_households(&f, at(1, 10));
    mine(&f, at(1, 300));                     /* orders of 1, here only */
    ck_assert_int_eq(agent_tick(f.a[OP], at(2, 300)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 0));
    ck_assert_ptr_nonnull(own_tx(&f, OP, 1));

    for (int i = 0; i < 2; i++) {             /* a longer branch past b1 */
        b = mine_on(other, f.pk[0], T0 + 1 + i, &len);
        ck_assert_int_eq(chain_submit_block(f.c, b, len, T0 + 2, &res), 0);
        free(b);
    }
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    ck_assert_uint_eq(res.disconnected, 1);

    ck_assert_int_eq(agent_tick(f.a[OP], at(2, 400)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 0));
    ck_assert_uint_eq(own_tx(&f, OP, 0)->u.settle.interval, 0);
    ck_assert_ptr_null(own_tx(&f, OP, 1));
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_rebuilt, 1);

    mine(&f, at(2, 500));                     /* the first, and orders of 1 again */
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 0);
    ck_assert_int_eq(agent_tick(f.a[OP], at(2, 600)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 1));
    ck_assert_uint_eq(own_tx(&f, OP, 1)->u.settle.interval, 1);
    mine(&f, at(2, 700));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 1);
    agent_get_stats(f.a[OP], &st);
    ck_assert_uint_eq(st.settlements_published, 3);
    ck_assert_uint_eq(st.settlements_mined, 2);
    chain_free(other);
    fix_free(&f);
}
END_TEST

/* A reorg takes a mined settlement out (the account nonce goes back): it
 * returns to the mempool, is replaced by a rebuilt one at that nonce, and
 * the interval gets settled on the new branch. */
START_TEST(test_reorg_unmines_settlement)
{
    fix f;
    size_t len;
    uint8_t *b;
    chain_result res;
    fix_init(&f, RICH);
    chain *other = open_view(&f, 0);

    tick_households(&f, at(0, 10));
    b = mine_on(f.c, f.pk[OP], T0, &len);     /* orders of 0, on both views */
    ck_assert_int_eq(chain_submit_block(other, b, len, T0, &res), 0);
    free(b);
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 300)), 0);
    mine(&f, at(1, 400));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 0);
    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 500)), 0);

    for (int i = 0; i < 2; i++) {
        b = mine_on(other, f.pk[0], T0 + 1 + i, &len);
        ck_assert_int_eq(chain_submit_block(f.c, b, len, T0 + 2, &res), 0);
        free(b);
    }
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), UINT64_MAX);
    ck_assert_uint_eq(ledger_account_get(chain_ledger(f.c), f.pk[OP])->nonce, 0);

    ck_assert_int_eq(agent_tick(f.a[OP], at(1, 600)), 0);
    ck_assert_ptr_nonnull(own_tx(&f, OP, 0));
    ck_assert_uint_eq(own_tx(&f, OP, 0)->u.settle.interval, 0);
    mine(&f, at(1, 700));
    ck_assert_uint_eq(ledger_last_settled(chain_ledger(f.c)), 0);
    ck_assert_uint_eq(ledger_account_get(chain_ledger(f.c), f.pk[OP])->nonce, 1);
    chain_free(other);
    fix_free(&f);
}
END_TEST

Suite *agent_suite(void)
{
    Suite *s = suite_create("agent");
    TCase *tc = tcase_create("agent");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_new_checks);
    tcase_add_test(tc, test_orders_once_per_interval);
    tcase_add_test(tc, test_unaffordable_bid_skipped);
    tcase_add_test(tc, test_settle_round);
    tcase_add_test(tc, test_rebuild_vanished);
    tcase_add_test(tc, test_rebuild_after_reorg);
    tcase_add_test(tc, test_several_in_flight);
    tcase_add_test(tc, test_catch_up);
    tcase_add_test(tc, test_rebuild_chain_vanished);
    tcase_add_test(tc, test_reorg_rebuilds_later);
    tcase_add_test(tc, test_reorg_unmines_settlement);
    suite_add_tcase(s, tc);
    return s;
}
