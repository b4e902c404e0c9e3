/* Transaction ids, Ed25519 signatures over the chain id, stateless rules. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/tx.h"
#include "proto/block.h"

static const uint8_t chain_a[32] = { 0xa1, 0x02, 0x03 };
static const uint8_t chain_b[32] = { 0xb1, 0x02, 0x03 };

static void keypair(uint8_t seed_byte, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    ck_assert_int_ge(sodium_init(), 0);
    memset(seed, seed_byte, sizeof seed);
    ck_assert_int_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
}

static void make_transfer(proto_tx *tx, const uint8_t from[32])
{
    memset(tx, 0, sizeof *tx);
    tx->version = PROTO_TX_VERSION;
    tx->kind = PROTO_TX_TRANSFER;
    memcpy(tx->from, from, 32);
    tx->nonce = 7;
    memset(tx->u.pay.to, 0x5a, 32);
    tx->u.pay.amount = 123456;
}

static void make_order(proto_tx *tx, const uint8_t from[32], int kind)
{
    memset(tx, 0, sizeof *tx);
    tx->version = PROTO_TX_VERSION;
    tx->kind = (uint8_t)kind;
    memcpy(tx->from, from, 32);
    tx->nonce = 1;
    tx->u.order.interval = 42;
    tx->u.order.energy_wh = 1500;
    tx->u.order.price = 150000;
}

/* Three fills with ascending ids; fills heap-owned, freed by proto_tx_free. */
static void make_settle(proto_tx *tx, const uint8_t from[32], uint32_t n)
{
    memset(tx, 0, sizeof *tx);
    tx->version = PROTO_TX_VERSION;
    tx->kind = PROTO_TX_SETTLEMENT;
    memcpy(tx->from, from, 32);
    tx->nonce = 3;
    tx->u.settle.interval = 42;
    tx->u.settle.clearing_price = 120000;
    tx->u.settle.n_fills = n;
    tx->u.settle.fills = calloc(n ? n : 1, sizeof(proto_fill));
    ck_assert_ptr_nonnull(tx->u.settle.fills);
    for (uint32_t i = 0; i < n; i++) {
        proto_fill *f = &tx->u.settle.fills[i];
        f->order[0] = (uint8_t)(i >> 8);
        f->order[1] = (uint8_t)i;
        f->order[31] = 0x77;
        f->traded_wh = 100 + i;
        f->trade_price = 120000;
        f->grid_wh = i;
    }
}

START_TEST(test_sign_verify_all_kinds)
{
    uint8_t pk[32], sk[64];
    proto_tx tx;
    keypair(1, pk, sk);

    make_transfer(&tx, pk);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), 0);
    ck_assert_int_eq(tx_check(&tx), 0);

    make_order(&tx, pk, PROTO_TX_OFFER);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), 0);

    make_order(&tx, pk, PROTO_TX_BID);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), 0);

    make_settle(&tx, pk, 3);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), 0);
    ck_assert_int_eq(tx_check(&tx), 0);
    /* Changing a field after signing breaks the signature. */
    tx.u.settle.fills[1].traded_wh++;
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), SG_EBADSIG);
    proto_tx_free(&tx);
}
END_TEST

START_TEST(test_sign_refuses_wrong_key_and_coinbase)
{
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    proto_tx tx;
    keypair(1, pk, sk);
    keypair(2, pk2, sk2);

    make_transfer(&tx, pk);
    ck_assert_int_eq(tx_sign(&tx, sk2, chain_a), SG_EINVAL);
    /* A signature by another key over the same bytes never verifies. */
    memcpy(tx.from, pk2, 32);
    ck_assert_int_eq(tx_sign(&tx, sk2, chain_a), 0);
    memcpy(tx.from, pk, 32);
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), SG_EBADSIG);

    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_COINBASE;
    tx.u.pay.amount = 5;
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), SG_EINVAL);
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), 0);
    tx.sig[10] = 1;
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), SG_EBADSIG);
    tx.sig[10] = 0;
    tx.from[0] = 1;
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), SG_EBADSIG);
}
END_TEST

/* Every byte of the full encoding, signature included, is covered: after
 * any single-byte change either the decoder refuses the bytes or the
 * decoded transaction fails verification. */
static void flip_every_byte(proto_tx *tx)
{
    static const uint8_t masks[] = { 0x01, 0x80, 0xff };
    uint8_t *enc, *mut;
    size_t len;

    ck_assert_int_eq(proto_tx_encode(tx, &enc, &len), 0);
    mut = malloc(len);
    ck_assert_ptr_nonnull(mut);
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            proto_tx d;
            memcpy(mut, enc, len);
            mut[i] ^= masks[m];
            if (proto_tx_decode(mut, len, &d) != 0)
                continue;
            ck_assert_msg(tx_verify_sig(&d, chain_a) != 0,
                          "byte %zu ^ 0x%02x still verifies", i, masks[m]);
            proto_tx_free(&d);
        }
    }
    free(mut);
    free(enc);
}

START_TEST(test_flip_any_byte_fails)
{
    uint8_t pk[32], sk[64];
    proto_tx tx;
    keypair(3, pk, sk);

    make_transfer(&tx, pk);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    flip_every_byte(&tx);

    make_order(&tx, pk, PROTO_TX_BID);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    flip_every_byte(&tx);

    make_settle(&tx, pk, 2);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    flip_every_byte(&tx);
    proto_tx_free(&tx);
}
END_TEST

START_TEST(test_other_chain_fails)
{
    uint8_t pk[32], sk[64];
    proto_tx tx;
    keypair(4, pk, sk);

    make_transfer(&tx, pk);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    ck_assert_int_eq(tx_verify_sig(&tx, chain_a), 0);
    ck_assert_int_eq(tx_verify_sig(&tx, chain_b), SG_EBADSIG);
}
END_TEST

START_TEST(test_txid_stable)
{
    uint8_t pk[32], sk[64], id1[32], id2[32], id3[32];
    uint8_t *enc;
    size_t len;
    proto_tx tx, back;
    keypair(5, pk, sk);

    make_settle(&tx, pk, 4);
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    ck_assert_int_eq(tx_id(&tx, id1), 0);
    ck_assert_int_eq(tx_id(&tx, id2), 0);
    ck_assert_mem_eq(id1, id2, 32);
    /* Ed25519 is deterministic: signing again gives the same id. */
    ck_assert_int_eq(tx_sign(&tx, sk, chain_a), 0);
    ck_assert_int_eq(tx_id(&tx, id2), 0);
    ck_assert_mem_eq(id1, id2, 32);
    /* The id survives the wire. */
    ck_assert_int_eq(proto_tx_encode(&tx, &enc, &len), 0);
    ck_assert_int_eq(proto_tx_decode(enc, len, &back), 0);
    ck_assert_int_eq(tx_id(&back, id3), 0);
    ck_assert_mem_eq(id1, id3, 32);
    /* It covers the signature too (a chain-B signature is another tx). */
    ck_assert_int_eq(tx_sign(&back, sk, chain_b), 0);
    ck_assert_int_eq(tx_id(&back, id3), 0);
    ck_assert_mem_ne(id1, id3, 32);
    free(enc);
    proto_tx_free(&back);
    proto_tx_free(&tx);
}
END_TEST

START_TEST(test_check_basic_rejections)
{
    uint8_t pk[32], sk[64];
    proto_tx tx;
    keypair(6, pk, sk);

    make_transfer(&tx, pk);
    tx.version = 2;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
    make_transfer(&tx, pk);
    tx.kind = 9;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
    make_transfer(&tx, pk);
    tx.u.pay.amount = 0;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);

    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_COINBASE;
    tx.u.pay.amount = 50;
    ck_assert_int_eq(tx_check(&tx), 0);
    tx.u.pay.amount = 0;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
    tx.u.pay.amount = 50;
    tx.from[31] = 1;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
    tx.from[31] = 0;
    tx.sig[63] = 1;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);

    for (int kind = PROTO_TX_OFFER; kind <= PROTO_TX_BID; kind++) {
        make_order(&tx, pk, kind);
        ck_assert_int_eq(tx_check(&tx), 0);
        tx.u.order.energy_wh = 0;
        ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
        make_order(&tx, pk, kind);
        tx.u.order.price = 0;
        ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
    }
}
END_TEST

START_TEST(test_check_settlement_rejections)
{
    uint8_t pk[32], sk[64];
    proto_tx tx;
    keypair(7, pk, sk);

    make_settle(&tx, pk, 0);
    ck_assert_int_eq(tx_check(&tx), 0);   /* nothing matched: still closes */
    proto_tx_free(&tx);

    make_settle(&tx, pk, 3);
    ck_assert_int_eq(tx_check(&tx), 0);
    /* Same order twice. */
    memcpy(tx.u.settle.fills[2].order, tx.u.settle.fills[1].order, 32);
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
    proto_tx_free(&tx);

    make_settle(&tx, pk, 3);
    /* Unsorted. */
    proto_fill t = tx.u.settle.fills[0];
    tx.u.settle.fills[0] = tx.u.settle.fills[2];
    tx.u.settle.fills[2] = t;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
    proto_tx_free(&tx);

    make_settle(&tx, pk, 3);
    tx.u.settle.fills[1].traded_wh = UINT64_MAX;
    tx.u.settle.fills[1].grid_wh = 1;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);   /* energy overflows */
    tx.u.settle.fills[1].traded_wh = 0;
    tx.u.settle.fills[1].grid_wh = 0;
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);   /* fill moves nothing */
    tx.u.settle.fills[1].grid_wh = 5;
    ck_assert_int_eq(tx_check(&tx), 0);             /* grid only is fine */
    proto_tx_free(&tx);

    make_settle(&tx, pk, PROTO_SETTLE_MAX_FILLS + 1);
    ck_assert_int_eq(tx_check(&tx), SG_EINVALID);
    tx.u.settle.n_fills = PROTO_SETTLE_MAX_FILLS;
    ck_assert_int_eq(tx_check(&tx), 0);
    proto_tx_free(&tx);
}
END_TEST

Suite *tx_suite(void)
{
    Suite *s = suite_create("tx");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sign_verify_all_kinds);
    tcase_add_test(tc, test_sign_refuses_wrong_key_and_coinbase);
    tcase_add_test(tc, test_flip_any_byte_fails);
    tcase_add_test(tc, test_other_chain_fails);
    tcase_add_test(tc, test_txid_stable);
    tcase_add_test(tc, test_check_basic_rejections);
    tcase_add_test(tc, test_check_settlement_rejections);
    suite_add_tcase(s, tc);
    return s;
}
