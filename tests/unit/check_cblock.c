/* Compact blocks (common/core/cblock.h): short ids, the compact form, and
 * rebuilding a block from the mempool with and without missing
 * transactions. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/cblock.h"
#include "common/core/ledger.h"
#include "common/core/merkle.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/core/tx.h"
#include "testutil.h"

#define N_TX 40                   /* transfers in the test block */

typedef struct {
    chain_params p;
    uint8_t pk[32], sk[64], id[32];
    ledger *l;
    mempool *mp;
    proto_block b;                /* coinbase + N_TX transfers */
    uint8_t ids[N_TX + 1][32];
    uint8_t *bytes;               /* b's wire form */
    size_t len;
} fix;

static void fix_init(fix *f)
{
    uint8_t seed[32], to[32];
    ck_assert_int_ge(sodium_init(), 0);
    memset(f, 0, sizeof *f);
    params_init_defaults(&f->p);
    f->p.genesis_time = 1700000000;
    ck_assert_int_eq(pow_difficulty_to_bits(1, &f->p.bits), 0);
    memset(seed, 0x51, sizeof seed);
    crypto_sign_seed_keypair(f->pk, f->sk, seed);
    f->p.n_allocs = 1;
    f->p.allocs = calloc(1, sizeof *f->p.allocs);
    ck_assert_ptr_nonnull(f->p.allocs);
    memcpy(f->p.allocs[0].pubkey, f->pk, 32);
    f->p.allocs[0].balance = 1000000;
    params_chain_id(&f->p, f->id);
    ck_assert_int_eq(ledger_new(&f->l, &f->p), 0);
    ck_assert_int_eq(mempool_new(&f->mp, 1000, 1 << 20), 0);

    memset(to, 0x22, sizeof to);
    f->b.n_txs = N_TX + 1;
    f->b.txs = calloc(f->b.n_txs, sizeof *f->b.txs);
    ck_assert_ptr_nonnull(f->b.txs);
    f->b.txs[0].version = PROTO_TX_VERSION;
    f->b.txs[0].kind = PROTO_TX_COINBASE;
    f->b.txs[0].nonce = 1;
    memcpy(f->b.txs[0].u.pay.to, to, 32);
    f->b.txs[0].u.pay.amount = f->p.block_reward;
    for (int i = 1; i <= N_TX; i++)
        ck_assert_int_eq(tu_transfer(&f->b.txs[i], f->pk, f->sk, to, (uint64_t)i - 1, 10,
                                     f->id), 0);
    for (int i = 0; i <= N_TX; i++)
        ck_assert_int_eq(tx_id(&f->b.txs[i], f->ids[i]), 0);
    ck_assert_int_eq(merkle_root((const uint8_t (*)[32])f->ids, N_TX + 1, f->b.header.merkle), 0);
    f->b.header.version = 1;
    f->b.header.time = 1700000100;
    f->b.header.bits = f->p.bits;
    ck_assert_int_eq(proto_block_encode(&f->b, &f->bytes, &f->len), 0);
}

/* Every transfer into the mempool but those in `skip` (a bit set). */
static void fill_pool(fix *f, uint64_t skip)
{
    for (int i = 1; i <= N_TX; i++) {
        if (skip & (1ULL << i))
            continue;
        ck_assert_int_eq(mempool_add(f->mp, &f->b.txs[i], f->ids[i], f->l, f->id), 0);
    }
}

static void fix_free(fix *f)
{
    free(f->bytes);
    proto_block_free(&f->b);
    mempool_free(f->mp);
    ledger_free(f->l);
    params_free(&f->p);
}

START_TEST(test_shortid)
{
    proto_header h;
    uint8_t k1[16], k2[16], txid[32];
    memset(&h, 0, sizeof h);
    memset(txid, 0xab, 32);
    cblock_key(&h, 1, k1);
    cblock_key(&h, 2, k2);
    ck_assert_mem_ne(k1, k2, 16);
    uint64_t a = cblock_shortid(k1, txid);
    ck_assert_uint_eq(a, cblock_shortid(k1, txid));
    ck_assert_uint_le(a, PROTO_SHORTID_MASK);
    ck_assert_uint_ne(a, cblock_shortid(k2, txid));
    /* SipHash-2-4 itself: libsodium's, keyed by the first 16 bytes of
     * SHA-256(header || nonce). */
    uint8_t out[8];
    crypto_shorthash(out, txid, 32, k1);
    uint64_t v = 0;
    for (int i = 0; i < 6; i++)
        v |= (uint64_t)out[i] << (8 * i);
    ck_assert_uint_eq(a, v);
}
END_TEST

/* Everything in the mempool: rebuilt without a round trip, byte for byte;
 * also through the compact form's encoding. */
START_TEST(test_rebuild_from_pool)
{
    fix f;
    proto_cmpctblock cb, wire;
    cblock_partial pb;
    uint8_t *out, *enc;
    size_t len, enc_len;
    fix_init(&f);
    fill_pool(&f, 0);
    ck_assert_int_eq(cblock_build(&f.b, (const uint8_t (*)[32])f.ids, 77, &cb), 0);
    ck_assert_uint_eq(cb.n_short, N_TX);
    ck_assert_uint_eq(cb.n_prefilled, 1);
    ck_assert_uint_eq(cb.prefilled[0].index, 0);
    ck_assert_int_eq(proto_cmpctblock_encode(&cb, &enc, &enc_len), 0);
    ck_assert_uint_lt(enc_len, f.len / 10);
    ck_assert_int_eq(proto_cmpctblock_decode(enc, enc_len, &wire), 0);
    ck_assert_int_eq(cblock_partial_init(&pb, &wire, f.mp), 0);
    ck_assert_uint_eq(pb.n_missing, 0);
    ck_assert_uint_eq(pb.n_from_pool, N_TX);
    ck_assert_int_eq(cblock_partial_finish(&pb, &out, &len), 0);
    ck_assert_uint_eq(len, f.len);
    ck_assert_mem_eq(out, f.bytes, len);
    free(out);
    cblock_partial_free(&pb);
    proto_cmpctblock_free(&wire);
    free(enc);
    /* The same from the block's bytes. */
    proto_cmpctblock cb2;
    ck_assert_int_eq(cblock_build_bytes(f.bytes, f.len, 77, &cb2), 0);
    ck_assert_mem_eq(cb2.short_ids, cb.short_ids, sizeof *cb.short_ids * N_TX);
    proto_cmpctblock_free(&cb2);
    proto_cmpctblock_free(&cb);
    fix_free(&f);
}
END_TEST

/* Two transactions missing from the mempool: asked for by index, filled
 * from the answer; a wrong count or a wrong transaction is refused. */
START_TEST(test_rebuild_with_missing)
{
    fix f;
    proto_cmpctblock cb;
    cblock_partial pb;
    uint32_t miss[N_TX + 1];
    uint8_t *out;
    size_t len;
    fix_init(&f);
    fill_pool(&f, (1ULL << 3) | (1ULL << 17));
    ck_assert_int_eq(cblock_build(&f.b, (const uint8_t (*)[32])f.ids, 5, &cb), 0);
    ck_assert_int_eq(cblock_partial_init(&pb, &cb, f.mp), 0);
    ck_assert_uint_eq(pb.n_missing, 2);
    ck_assert_uint_eq(cblock_partial_missing(&pb, miss), 2);
    ck_assert_uint_eq(miss[0], 3);
    ck_assert_uint_eq(miss[1], 17);
    ck_assert_int_eq(cblock_partial_finish(&pb, &out, &len), SG_EINVAL);

    proto_tx ans[2] = { f.b.txs[3], f.b.txs[17] };
    ck_assert_int_eq(cblock_partial_fill(&pb, ans, 1), SG_EINVAL);
    ck_assert_int_eq(cblock_partial_fill(&pb, ans, 2), 0);
    ck_assert_uint_eq(pb.n_missing, 0);
    ck_assert_int_eq(cblock_partial_finish(&pb, &out, &len), 0);
    ck_assert_uint_eq(len, f.len);
    ck_assert_mem_eq(out, f.bytes, len);
    free(out);
    cblock_partial_free(&pb);

    /* An answer with the wrong transactions does not match the root. */
    ck_assert_int_eq(cblock_partial_init(&pb, &cb, f.mp), 0);
    proto_tx wrong[2] = { f.b.txs[17], f.b.txs[3] };
    ck_assert_int_eq(cblock_partial_fill(&pb, wrong, 2), 0);
    ck_assert_int_eq(cblock_partial_finish(&pb, &out, &len), SG_EMERKLE);
    cblock_partial_free(&pb);
    proto_cmpctblock_free(&cb);
    fix_free(&f);
}
END_TEST

/* Two equal short ids inside one block refuse the compact form. */
START_TEST(test_collisions)
{
    fix f;
    proto_cmpctblock cb;
    cblock_partial pb;
    fix_init(&f);
    fill_pool(&f, 0);
    ck_assert_int_eq(cblock_build(&f.b, (const uint8_t (*)[32])f.ids, 9, &cb), 0);
    uint64_t keep = cb.short_ids[4];
    cb.short_ids[4] = cb.short_ids[5];
    ck_assert_int_eq(cblock_partial_init(&pb, &cb, f.mp), SG_EDUP);
    cb.short_ids[4] = keep;

    /* A short id nothing in the pool matches is missing, the rest are
     * found.  (Two pool transactions sharing a short id, which leaves it
     * missing too, would take a 48-bit collision to set up.) */
    cb.short_ids[1] ^= 1;
    ck_assert_int_eq(cblock_partial_init(&pb, &cb, f.mp), 0);
    ck_assert_uint_eq(pb.n_missing, 1);
    ck_assert_uint_eq(pb.n_from_pool, N_TX - 1);
    cblock_partial_free(&pb);
    proto_cmpctblock_free(&cb);
    fix_free(&f);
}
END_TEST

Suite *cblock_suite(void)
{
    Suite *s = suite_create("cblock");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_shortid);
    tcase_add_test(tc, test_rebuild_from_pool);
    tcase_add_test(tc, test_rebuild_with_missing);
    tcase_add_test(tc, test_collisions);
    suite_add_tcase(s, tc);
    return s;
}
