/* Mempool: nonce ordering, gaps, duplicates, bounds, pruning, selection. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/ledger.h"
#include "common/core/mempool.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/core/tx.h"
#include "testutil.h"

#define MP_KEYS 5          /* key 4 has no genesis allocation */
#define MP_OPERATOR 3
#define MP_BALANCE 1000000u

typedef struct {
    chain_params p;
    uint8_t pk[MP_KEYS][32];
    uint8_t sk[MP_KEYS][64];
    uint8_t id[32];
    ledger *l;
} mp_fix;

static void fix_init(mp_fix *f)
{
    ck_assert_int_ge(sodium_init(), 0);
    params_init_defaults(&f->p);
    f->p.genesis_time = 1700000000;
    ck_assert_int_eq(pow_difficulty_to_bits(1, &f->p.bits), 0);
    for (int i = 0; i < MP_KEYS; i++) {
        uint8_t seed[32];
        memset(seed, 0x40 + i, sizeof seed);
        crypto_sign_seed_keypair(f->pk[i], f->sk[i], seed);
    }
    memcpy(f->p.operator_key, f->pk[MP_OPERATOR], 32);
    f->p.n_allocs = MP_KEYS - 1;
    f->p.allocs = calloc(f->p.n_allocs, sizeof *f->p.allocs);
    ck_assert_ptr_nonnull(f->p.allocs);
    for (uint32_t i = 0; i < f->p.n_allocs; i++) {
        memcpy(f->p.allocs[i].pubkey, f->pk[i], 32);
        f->p.allocs[i].balance = MP_BALANCE;
    }
    params_chain_id(&f->p, f->id);
    ck_assert_int_eq(ledger_new(&f->l, &f->p), 0);
}

static void fix_free(mp_fix *f)
{
    ledger_free(f->l);
    params_free(&f->p);
}

static proto_tx transfer(const mp_fix *f, int from, int to, uint64_t nonce, uint64_t amount)
{
    proto_tx tx;
    ck_assert_int_eq(tu_transfer(&tx, f->pk[from], f->sk[from], f->pk[to], nonce, amount, f->id), 0);
    return tx;
}

static int add(mempool *mp, const mp_fix *f, const proto_tx *tx, uint8_t txid[32])
{
    ck_assert_int_eq(tx_id(tx, txid), 0);
    return mempool_add(mp, tx, txid, f->l, f->id);
}

static void free_sel(proto_tx *sel, size_t n)
{
    for (size_t i = 0; i < n; i++)
        proto_tx_free(&sel[i]);
    free(sel);
}

START_TEST(test_nonce_order_and_gaps)
{
    mp_fix f;
    fix_init(&f);
    mempool *mp;
    ck_assert_int_eq(mempool_new(&mp, 100, 1 << 20), 0);
    uint8_t id[8][32];
    /* Account 0 arrives out of order: 2, 0, 1.  Account 1 has a gap. */
    proto_tx a2 = transfer(&f, 0, 2, 2, 30), a0 = transfer(&f, 0, 2, 0, 10);
    proto_tx a1 = transfer(&f, 0, 2, 1, 20);
    proto_tx b0 = transfer(&f, 1, 2, 0, 5), b2 = transfer(&f, 1, 2, 2, 7);
    ck_assert_int_eq(add(mp, &f, &a2, id[0]), 0);
    ck_assert_int_eq(add(mp, &f, &a0, id[1]), 0);
    ck_assert_int_eq(add(mp, &f, &b2, id[2]), 0);
    ck_assert_int_eq(add(mp, &f, &a1, id[3]), 0);
    ck_assert_int_eq(add(mp, &f, &b0, id[4]), 0);
    ck_assert_uint_eq(mempool_count(mp), 5);

    uint8_t before[32], after[32];
    ck_assert_int_eq(ledger_state_hash(f.l, before), 0);
    proto_tx *sel;
    uint8_t (*ids)[32];
    size_t n;
    ck_assert_int_eq(mempool_select(mp, f.l, 1, 100, 1 << 20, &sel, &ids, &n), 0);
    ck_assert_int_eq(ledger_state_hash(f.l, after), 0);
    ck_assert_mem_eq(before, after, 32);   /* selection leaves the tip alone */
    ck_assert_uint_eq(n, 4);               /* b2 waits for the missing nonce 1 */
    for (size_t i = 0; i < n; i++) {       /* the txids, in the same order */
        uint8_t want[32];
        ck_assert_int_eq(tx_id(&sel[i], want), 0);
        ck_assert_mem_eq(ids[i], want, 32);
    }
    free(ids);
    ck_assert_mem_eq(sel[0].from, f.pk[0], 32);
    ck_assert_uint_eq(sel[0].nonce, 0);
    ck_assert_uint_eq(sel[1].nonce, 1);
    ck_assert_uint_eq(sel[2].nonce, 2);
    ck_assert_mem_eq(sel[2].from, f.pk[0], 32);
    ck_assert_mem_eq(sel[3].from, f.pk[1], 32);
    ck_assert_uint_eq(sel[3].nonce, 0);
    free_sel(sel, n);

    /* The same selection twice: deterministic. */
    proto_tx *sel2;
    size_t n2;
    ck_assert_int_eq(mempool_select(mp, f.l, 1, 2, 1 << 20, &sel2, NULL, &n2), 0);
    ck_assert_uint_eq(n2, 2);              /* max_txs respected */
    ck_assert_uint_eq(sel2[0].nonce, 0);
    ck_assert_uint_eq(sel2[1].nonce, 1);
    free_sel(sel2, n2);
    mempool_free(mp);
    fix_free(&f);
}
END_TEST

START_TEST(test_duplicates_and_refusals)
{
    mp_fix f;
    fix_init(&f);
    mempool *mp;
    ck_assert_int_eq(mempool_new(&mp, 1000, 1 << 20), 0);
    uint8_t id[32], id2[32];
    proto_tx t = transfer(&f, 0, 1, 0, 10);
    ck_assert_int_eq(add(mp, &f, &t, id), 0);
    ck_assert_int_eq(add(mp, &f, &t, id), SG_EDUP);
    proto_tx same_nonce = transfer(&f, 0, 1, 0, 11);
    ck_assert_int_eq(add(mp, &f, &same_nonce, id2), SG_EDUP);
    ck_assert_uint_eq(mempool_count(mp), 1);
    ck_assert_int_eq(mempool_has(mp, id), 1);
    ck_assert_int_eq(mempool_has(mp, id2), 0);
    ck_assert_uint_eq(mempool_get(mp, id)->u.pay.amount, 10);
    ck_assert_ptr_null(mempool_get(mp, id2));

    /* Nonce window: ledger nonce 0, so 255 fits and 256 does not. */
    proto_tx far = transfer(&f, 1, 0, MEMPOOL_NONCE_WINDOW, 1);
    ck_assert_int_eq(add(mp, &f, &far, id2), SG_ENONCE);
    proto_tx edge = transfer(&f, 1, 0, MEMPOOL_NONCE_WINDOW - 1, 1);
    ck_assert_int_eq(add(mp, &f, &edge, id2), 0);

    /* A nonce the ledger already used. */
    proto_tx used = transfer(&f, 2, 0, 0, 1);
    ck_assert_int_eq(tx_id(&used, id2), 0);
    ck_assert_int_eq(ledger_apply_tx(f.l, &used, id2, 1, 1, NULL), 0);
    ck_assert_int_eq(add(mp, &f, &used, id2), SG_ENONCE);

    /* Bad signature, coinbase. */
    proto_tx bad = transfer(&f, 2, 0, 1, 1);
    bad.sig[5] ^= 1;
    ck_assert_int_eq(add(mp, &f, &bad, id2), SG_EBADSIG);
    proto_tx cb;
    memset(&cb, 0, sizeof cb);
    cb.version = PROTO_TX_VERSION;
    cb.kind = PROTO_TX_COINBASE;
    cb.u.pay.amount = 1;
    ck_assert_int_eq(add(mp, &f, &cb, id2), SG_ECOINBASE);
    ck_assert_uint_eq(mempool_count(mp), 2);

    /* Iteration sees every txid once. */
    size_t it = 0, seen = 0;
    const uint8_t *k;
    while (mempool_next(mp, &it, &k)) {
        ck_assert(mempool_has(mp, k));
        seen++;
    }
    ck_assert_uint_eq(seen, 2);
    mempool_free(mp);
    fix_free(&f);
}
END_TEST

START_TEST(test_bounds)
{
    mp_fix f;
    fix_init(&f);
    mempool *mp;
    uint8_t id[5][32];
    proto_tx t[5];
    for (int i = 0; i < 5; i++)
        t[i] = transfer(&f, 0, 1, (uint64_t)i, 1);

    ck_assert_int_eq(mempool_new(&mp, 3, 1 << 20), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(add(mp, &f, &t[i], id[i]), 0);
    ck_assert_int_eq(add(mp, &f, &t[3], id[3]), SG_EFULL);
    mempool_remove(mp, id[1]);
    ck_assert_uint_eq(mempool_count(mp), 2);
    ck_assert_int_eq(add(mp, &f, &t[3], id[3]), 0);
    mempool_free(mp);

    /* By bytes: room for exactly two transfers (all have one size). */
    ck_assert_int_eq(mempool_new(&mp, 100, 1 << 20), 0);
    ck_assert_int_eq(add(mp, &f, &t[0], id[0]), 0);
    size_t one = mempool_bytes(mp);
    ck_assert_uint_gt(one, 0);
    mempool_free(mp);
    ck_assert_int_eq(mempool_new(&mp, 100, 2 * one), 0);
    ck_assert_int_eq(add(mp, &f, &t[0], id[0]), 0);
    ck_assert_int_eq(add(mp, &f, &t[1], id[1]), 0);
    ck_assert_int_eq(add(mp, &f, &t[2], id[2]), SG_EFULL);
    ck_assert_uint_eq(mempool_bytes(mp), 2 * one);
    mempool_remove(mp, id[0]);
    ck_assert_uint_eq(mempool_bytes(mp), one);
    mempool_remove(mp, id[0]);             /* absent: no effect */
    ck_assert_uint_eq(mempool_count(mp), 1);

    /* Selection by bytes: a budget of one transaction takes one. */
    ck_assert_int_eq(add(mp, &f, &t[0], id[0]), 0);
    proto_tx *sel;
    size_t n;
    ck_assert_int_eq(mempool_select(mp, f.l, 1, 100, one, &sel, NULL, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(sel[0].nonce, 0);
    free_sel(sel, n);
    mempool_free(mp);
    fix_free(&f);
}
END_TEST

/* One account's used nonces only: the other account's entries stay,
 * whatever their nonces, and the account emptied is gone (pruning it
 * again is harmless). */
START_TEST(test_prune_one_account)
{
    mp_fix f;
    fix_init(&f);
    mempool *mp;
    ck_assert_int_eq(mempool_new(&mp, 100, 1 << 20), 0);
    uint8_t id[5][32];
    proto_tx t[5];
    for (int i = 0; i < 3; i++) {
        t[i] = transfer(&f, 0, 1, (uint64_t)i, 100);
        ck_assert_int_eq(add(mp, &f, &t[i], id[i]), 0);
    }
    for (int i = 3; i < 5; i++) {
        t[i] = transfer(&f, 1, 0, (uint64_t)(i - 3), 100);
        ck_assert_int_eq(add(mp, &f, &t[i], id[i]), 0);
    }
    ck_assert_int_eq(ledger_apply_tx(f.l, &t[0], id[0], 1, 1, NULL), 0);
    ck_assert_int_eq(ledger_apply_tx(f.l, &t[1], id[1], 1, 1, NULL), 0);
    ck_assert_int_eq(ledger_apply_tx(f.l, &t[3], id[3], 1, 1, NULL), 0);
    mempool_prune_account(mp, f.l, f.pk[0]);
    ck_assert_uint_eq(mempool_count(mp), 3);
    ck_assert_int_eq(mempool_has(mp, id[2]), 1);
    ck_assert_int_eq(mempool_has(mp, id[3]), 1);      /* account 1: not asked */
    ck_assert_int_eq(ledger_apply_tx(f.l, &t[2], id[2], 1, 1, NULL), 0);
    mempool_prune_account(mp, f.l, f.pk[0]);
    mempool_prune_account(mp, f.l, f.pk[0]);
    mempool_prune_account(mp, f.l, f.pk[1]);
    ck_assert_uint_eq(mempool_count(mp), 1);
    ck_assert_int_eq(mempool_has(mp, id[4]), 1);
    mempool_free(mp);
    fix_free(&f);
}
END_TEST

START_TEST(test_prune_after_block)
{
    mp_fix f;
    fix_init(&f);
    mempool *mp;
    ck_assert_int_eq(mempool_new(&mp, 100, 1 << 20), 0);
    uint8_t id[4][32];
    proto_tx t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = transfer(&f, 0, 1, (uint64_t)i, 100);
        ck_assert_int_eq(add(mp, &f, &t[i], id[i]), 0);
    }
    size_t three = mempool_bytes(mp);
    /* A bid for interval 0 from account 1, then the operator settles
     * interval 0: the bid can never apply any more. */
    proto_tx bid;
    memset(&bid, 0, sizeof bid);
    bid.version = PROTO_TX_VERSION;
    bid.kind = PROTO_TX_BID;
    memcpy(bid.from, f.pk[1], 32);
    bid.u.order.interval = 0;
    bid.u.order.energy_wh = 500;
    bid.u.order.price = f.p.feed_in_price;
    ck_assert_int_eq(tx_sign(&bid, f.sk[1], f.id), 0);
    ck_assert_int_eq(add(mp, &f, &bid, id[3]), 0);
    ck_assert_uint_eq(mempool_count(mp), 4);

    /* The "block": nonces 0 and 1 of account 0 and the settlement. */
    ck_assert_int_eq(ledger_apply_tx(f.l, &t[0], id[0], 1, 1, NULL), 0);
    ck_assert_int_eq(ledger_apply_tx(f.l, &t[1], id[1], 1, 1, NULL), 0);
    proto_tx settle;
    memset(&settle, 0, sizeof settle);
    settle.version = PROTO_TX_VERSION;
    settle.kind = PROTO_TX_SETTLEMENT;
    memcpy(settle.from, f.pk[MP_OPERATOR], 32);
    settle.u.settle.interval = 0;
    settle.u.settle.clearing_price = 0;   /* nothing traded (market.h) */
    ck_assert_int_eq(tx_sign(&settle, f.sk[MP_OPERATOR], f.id), 0);
    ck_assert_int_eq(ledger_apply_tx(f.l, &settle, NULL, 1, 1, NULL), 0);

    mempool_prune(mp, f.l);
    ck_assert_uint_eq(mempool_count(mp), 1);
    ck_assert_int_eq(mempool_has(mp, id[2]), 1);
    ck_assert_int_eq(mempool_has(mp, id[0]), 0);
    ck_assert_int_eq(mempool_has(mp, id[1]), 0);
    ck_assert_int_eq(mempool_has(mp, id[3]), 0);
    ck_assert_uint_eq(mempool_bytes(mp), three / 3);

    proto_tx *sel;
    size_t n;
    ck_assert_int_eq(mempool_select(mp, f.l, 2, 100, 1 << 20, &sel, NULL, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(sel[0].nonce, 2);
    free_sel(sel, n);
    mempool_free(mp);
    fix_free(&f);
}
END_TEST

START_TEST(test_select_cross_account)
{
    mp_fix f;
    fix_init(&f);
    mempool *mp;
    ck_assert_int_eq(mempool_new(&mp, 100, 1 << 20), 0);
    uint8_t id[3][32];
    /* Account 4 starts empty: its spend arrives before the funding. */
    proto_tx spend = transfer(&f, 4, 2, 0, 300);
    proto_tx overdraft = transfer(&f, 2, 1, 0, 10 * MP_BALANCE);
    proto_tx fund = transfer(&f, 0, 4, 0, 500);
    ck_assert_int_eq(add(mp, &f, &spend, id[0]), 0);
    ck_assert_int_eq(add(mp, &f, &overdraft, id[1]), 0);
    ck_assert_int_eq(add(mp, &f, &fund, id[2]), 0);
    uint8_t before[32], after[32];
    ck_assert_int_eq(ledger_state_hash(f.l, before), 0);
    proto_tx *sel;
    size_t n;
    ck_assert_int_eq(mempool_select(mp, f.l, 1, 100, 1 << 20, &sel, NULL, &n), 0);
    ck_assert_int_eq(ledger_state_hash(f.l, after), 0);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(n, 2);               /* the overdraft never applies */
    ck_assert_mem_eq(sel[0].from, f.pk[0], 32);
    ck_assert_mem_eq(sel[1].from, f.pk[4], 32);
    free_sel(sel, n);
    mempool_free(mp);
    fix_free(&f);
}
END_TEST

/* For signatures checked elsewhere: precheck refuses what add would
 * refuse without looking at the signature, add_verified takes one without
 * checking it, and next_nonce walks one account's run of nonces. */
START_TEST(test_precheck_verified_next_nonce)
{
    mp_fix f;
    fix_init(&f);
    mempool *mp;
    uint8_t id[32];
    ck_assert_int_eq(mempool_new(&mp, 100, 1u << 20), 0);
    ck_assert_uint_eq(mempool_next_nonce(mp, f.pk[0], 0), 0);

    proto_tx t0 = transfer(&f, 0, 1, 0, 5);
    ck_assert_int_eq(tx_id(&t0, id), 0);
    ck_assert_int_eq(mempool_precheck(mp, &t0, id, f.l), 0);
    ck_assert_int_eq(mempool_add(mp, &t0, id, f.l, f.id), 0);
    ck_assert_int_eq(mempool_precheck(mp, &t0, id, f.l), SG_EDUP);

    /* A bad signature is not precheck's business, nor add_verified's. */
    proto_tx t1 = transfer(&f, 0, 1, 1, 5);
    t1.sig[7] ^= 1;
    ck_assert_int_eq(tx_id(&t1, id), 0);
    ck_assert_int_eq(mempool_precheck(mp, &t1, id, f.l), 0);
    ck_assert_int_eq(mempool_add(mp, &t1, id, f.l, f.id), SG_EBADSIG);
    ck_assert_int_eq(mempool_add_verified(mp, &t1, id, f.l), 0);
    ck_assert_int_eq(mempool_has(mp, id), 1);

    proto_tx far = transfer(&f, 0, 1, MEMPOOL_NONCE_WINDOW, 5);
    ck_assert_int_eq(tx_id(&far, id), 0);
    ck_assert_int_eq(mempool_precheck(mp, &far, id, f.l), SG_ENONCE);
    ck_assert_int_eq(mempool_add_verified(mp, &far, id, f.l), SG_ENONCE);

    /* Nonces 0, 1 and 3 held: the next is 2, and 4 from 3 on. */
    proto_tx t3 = transfer(&f, 0, 1, 3, 5);
    ck_assert_int_eq(tx_id(&t3, id), 0);
    ck_assert_int_eq(mempool_add(mp, &t3, id, f.l, f.id), 0);
    ck_assert_uint_eq(mempool_next_nonce(mp, f.pk[0], 0), 2);
    ck_assert_uint_eq(mempool_next_nonce(mp, f.pk[0], 3), 4);
    ck_assert_uint_eq(mempool_next_nonce(mp, f.pk[1], 7), 7);

    proto_tx_free(&t0);
    proto_tx_free(&t1);
    proto_tx_free(&far);
    proto_tx_free(&t3);
    mempool_free(mp);
    fix_free(&f);
}
END_TEST

/* Forgeries the pool must refuse as the sender's fault (the relay bans
 * for SG_EBADSIG and SG_ESETTLE): a settlement from anyone but the
 * operator, however well signed, and a tampered copy of a pooled
 * transaction, which must not pass for a harmless duplicate. */
static proto_tx settlement_from(const mp_fix *f, int from, uint64_t nonce)
{
    proto_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_SETTLEMENT;
    memcpy(tx.from, f->pk[from], 32);
    tx.nonce = nonce;
    tx.u.settle.interval = 0;
    tx.u.settle.clearing_price = 100000;
    ck_assert_int_eq(tx_sign(&tx, f->sk[from], f->id), 0);
    return tx;
}

START_TEST(test_forgeries)
{
    mp_fix f;
    fix_init(&f);
    mempool *mp;
    uint8_t id[32], id2[32];
    ck_assert_int_eq(mempool_new(&mp, 1000, 1 << 20), 0);

    proto_tx forged = settlement_from(&f, 0, 0);
    ck_assert_int_eq(add(mp, &f, &forged, id), SG_ESETTLE);
    proto_tx real = settlement_from(&f, MP_OPERATOR, 0);
    ck_assert_int_eq(add(mp, &f, &real, id), 0);
    /* The operator's, altered with its signature kept: a bad signature,
     * though a settlement of that nonce is pooled. */
    proto_tx tampered = real;
    tampered.u.settle.clearing_price++;
    ck_assert_int_eq(add(mp, &f, &tampered, id2), SG_EBADSIG);
    /* The same for a transfer; an honest conflicting one stays SG_EDUP. */
    proto_tx t = transfer(&f, 1, 2, 0, 10);
    ck_assert_int_eq(add(mp, &f, &t, id), 0);
    proto_tx t_bad = t;
    t_bad.u.pay.amount = 11;
    ck_assert_int_eq(add(mp, &f, &t_bad, id2), SG_EBADSIG);
    proto_tx t_conflict = transfer(&f, 1, 0, 0, 10);
    ck_assert_int_eq(add(mp, &f, &t_conflict, id2), SG_EDUP);
    ck_assert_uint_eq(mempool_count(mp), 2);

    /* The relay's path (precheck, signature on the thread pool, then
     * add_verified) keeps both rules: precheck refuses the forgery before
     * any signature check and lets a tampered copy through to have its
     * signature checked; a conflict whose signature held stays SG_EDUP. */
    ck_assert_int_eq(tx_id(&forged, id), 0);
    ck_assert_int_eq(mempool_precheck(mp, &forged, id, f.l), SG_ESETTLE);
    ck_assert_int_eq(mempool_add_verified(mp, &forged, id, f.l), SG_ESETTLE);
    ck_assert_int_eq(tx_id(&t_bad, id2), 0);
    ck_assert_int_eq(mempool_precheck(mp, &t_bad, id2, f.l), 0);
    ck_assert_int_eq(tx_id(&t_conflict, id2), 0);
    ck_assert_int_eq(mempool_precheck(mp, &t_conflict, id2, f.l), 0);
    ck_assert_int_eq(mempool_add_verified(mp, &t_conflict, id2, f.l), SG_EDUP);
    ck_assert_uint_eq(mempool_count(mp), 2);
    mempool_free(mp);
    fix_free(&f);
}
END_TEST

Suite *mempool_suite(void)
{
    Suite *s = suite_create("mempool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_nonce_order_and_gaps);
    tcase_add_test(tc, test_duplicates_and_refusals);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_prune_after_block);
    tcase_add_test(tc, test_prune_one_account);
    tcase_add_test(tc, test_select_cross_account);
    tcase_add_test(tc, test_precheck_verified_next_nonce);
    tcase_add_test(tc, test_forgeries);
    suite_add_tcase(s, tc);
    return s;
}
