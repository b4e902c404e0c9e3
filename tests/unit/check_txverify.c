/* Batched signature checks on libuv's thread pool (common/daemon/txverify.h):
 * verdicts in submission order however the batches finish, a bad
 * signature found in a batch of good ones, submitters that go away,
 * duplicates, and a free with batches still on the pool.  Real keys, real
 * Ed25519, a real libuv loop and pool. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/sigcache.h"
#include "common/core/tx.h"
#include "common/daemon/txverify.h"
#include "testutil.h"

#define SENDERS 4
#define MAX_SEEN 1024

typedef struct {
    uv_loop_t loop;
    sigcache *sc;
    uint8_t chain[32];
    uint8_t pk[SENDERS][32], sk[SENDERS][64];
    size_t n_seen;
    uint8_t seen_txid[MAX_SEEN][32];
    int seen_rc[MAX_SEEN];
    void *seen_from[MAX_SEEN];
    int forget_on_bad;
    txv *v;
    uint8_t seen_from_id[MAX_SEEN][32];
} fix;

static void on_done(void *ctx, txv_item *it)
{
    fix *f = ctx;
    ck_assert_uint_lt(f->n_seen, MAX_SEEN);
    memcpy(f->seen_txid[f->n_seen], it->txid, 32);
    f->seen_rc[f->n_seen] = it->rc;
    f->seen_from[f->n_seen] = it->from;
    memcpy(f->seen_from_id[f->n_seen], it->from_id, 32);
    if (it->rc == 0)
        sigcache_add(f->sc, it->key);
    f->n_seen++;
    /* As the relay does: a bad signature closes its sender's link. */
    if (f->forget_on_bad && it->rc != 0 && it->from != NULL)
        txv_forget(f->v, it->from);
}

static txv *fix_init(fix *f, uint32_t batch)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_ge(sodium_init(), 0);
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    ck_assert_int_eq(sigcache_new(&f->sc, 4096), 0);
    memset(f->chain, 0x5a, 32);
    for (int i = 0; i < SENDERS; i++) {
        uint8_t seed[32];
        memset(seed, 0x30 + i, sizeof seed);
        crypto_sign_seed_keypair(f->pk[i], f->sk[i], seed);
    }
    txv_config c = { .loop = &f->loop, .chain_id = { 0 }, .batch = batch,
                     .on_done = on_done, .ctx = f };
    memcpy(c.chain_id, f->chain, 32);
    sigcache_get_keyer(f->sc, &c.keyer);
    txv *v;
    ck_assert_int_eq(txv_new(&v, &c), 0);
    f->v = v;
    return v;
}

static void fix_free(fix *f)
{
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
    sigcache_free(f->sc);
}

/* Transfer number i: sender i % SENDERS, nonce i / SENDERS, so each
 * sender's nonces come in order, interleaved with the others'. */
static void make(fix *f, unsigned i, proto_tx *tx, uint8_t txid[32])
{
    unsigned s = i % SENDERS;
    ck_assert_int_eq(tu_transfer(tx, f->pk[s], f->sk[s], f->pk[(s + 1) % SENDERS],
                                 i / SENDERS, 1 + i, f->chain), 0);
    ck_assert_int_eq(tx_id(tx, txid), 0);
}

/* Many small batches run on the pool's threads at once and may finish in
 * any order; the verdicts still come back in submission order, each
 * transaction's key is the signature cache's (a later sigcache_verify is
 * a hit), and the pending set empties. */
START_TEST(test_order_kept)
{
    enum { N = 300 };
    fix f;
    txv *v = fix_init(&f, 3);
    uint8_t ids[N][32];
    proto_tx tx;
    int tag;
    for (unsigned i = 0; i < N; i++) {
        make(&f, i, &tx, ids[i]);
        ck_assert_int_eq(txv_submit(v, &tx, ids[i], &tag, NULL), 0);
        ck_assert_int_eq(tx.version, 0);        /* taken */
        ck_assert_int_eq(txv_has(v, ids[i]), 1);
    }
    txv_flush(v);
    ck_assert_uint_eq(txv_pending(v), N);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(f.n_seen, N);
    ck_assert_uint_eq(txv_pending(v), 0);
    for (unsigned i = 0; i < N; i++) {
        ck_assert_mem_eq(f.seen_txid[i], ids[i], 32);
        ck_assert_int_eq(f.seen_rc[i], 0);
        ck_assert_ptr_eq(f.seen_from[i], &tag);
        ck_assert_int_eq(txv_has(v, ids[i]), 0);
    }
    make(&f, 7, &tx, ids[0]);
    sigcache_stats st;
    ck_assert_int_eq(sigcache_verify(f.sc, &tx, f.chain), 0);
    sigcache_get_stats(f.sc, &st);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 0);
    proto_tx_free(&tx);
    txv_free(v);
    fix_free(&f);
}
END_TEST

/* One tampered signature in the middle of a batch: only it fails, its
 * neighbours pass, the order holds, and its key is not a cache hit. */
START_TEST(test_bad_sig_in_batch)
{
    enum { N = 20, BAD = 9 };
    fix f;
    txv *v = fix_init(&f, 8);
    uint8_t ids[N][32];
    proto_tx tx, bad_copy;
    for (unsigned i = 0; i < N; i++) {
        make(&f, i, &tx, ids[i]);
        if (i == BAD) {
            tx.sig[5] ^= 0x20;
            ck_assert_int_eq(proto_tx_copy(&bad_copy, &tx), 0);
        }
        ck_assert_int_eq(txv_submit(v, &tx, ids[i], NULL, NULL), 0);
    }
    txv_flush(v);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(f.n_seen, N);
    for (unsigned i = 0; i < N; i++) {
        ck_assert_mem_eq(f.seen_txid[i], ids[i], 32);
        ck_assert_int_eq(f.seen_rc[i], i == BAD ? SG_EBADSIG : 0);
    }
    sigcache_stats st;
    ck_assert_int_eq(sigcache_verify(f.sc, &bad_copy, f.chain), SG_EBADSIG);
    sigcache_get_stats(f.sc, &st);
    ck_assert_uint_eq(st.hits, 0);
    proto_tx_free(&bad_copy);
    txv_free(v);
    fix_free(&f);
}
END_TEST

/* A submitter forgotten while its transactions wait (its link closed):
 * they are still checked and delivered, with `from` NULL and its identity
 * kept, so a bad signature can still be charged to it; the other
 * submitter's items keep their tag. */
START_TEST(test_submitter_gone)
{
    enum { N = 10 };
    fix f;
    txv *v = fix_init(&f, 4);
    int a, b;
    uint8_t id_a[32], id_b[32], ids[N][32];
    memset(id_a, 0xaa, 32);
    memset(id_b, 0xbb, 32);
    proto_tx tx;
    for (unsigned i = 0; i < N; i++) {
        make(&f, i, &tx, ids[i]);
        if (i == 3)
            tx.sig[0] ^= 1;                 /* a's bad one */
        ck_assert_int_eq(txv_submit(v, &tx, ids[i], i % 2 ? (void *)&b : (void *)&a,
                                    i % 2 ? id_b : id_a), 0);
    }
    txv_flush(v);                           /* some batches are on the pool */
    txv_forget(v, &a);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(f.n_seen, N);
    for (unsigned i = 0; i < N; i++) {
        ck_assert_ptr_eq(f.seen_from[i], i % 2 ? (void *)&b : NULL);
        ck_assert_mem_eq(f.seen_from_id[i], i % 2 ? id_b : id_a, 32);
        ck_assert_int_eq(f.seen_rc[i], i == 3 ? SG_EBADSIG : 0);
    }
    txv_free(v);
    fix_free(&f);
}
END_TEST

/* A verdict that forgets its own submitter (the relay closing a peer for
 * a bad signature) reaches that submitter's later items in the same batch
 * and in later ones. */
START_TEST(test_forget_from_verdict)
{
    enum { N = 12, BAD = 2 };
    fix f;
    txv *v = fix_init(&f, 8);
    int a, b;
    uint8_t ids[N][32];
    proto_tx tx;
    f.forget_on_bad = 1;
    for (unsigned i = 0; i < N; i++) {
        make(&f, i, &tx, ids[i]);
        if (i == BAD)
            tx.sig[9] ^= 2;
        ck_assert_int_eq(txv_submit(v, &tx, ids[i], i % 2 ? (void *)&b : (void *)&a, NULL), 0);
    }
    txv_flush(v);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(f.n_seen, N);
    for (unsigned i = 0; i < N; i++) {
        void *want = i % 2 ? (void *)&b : (i <= BAD ? (void *)&a : NULL);
        ck_assert_ptr_eq(f.seen_from[i], want);
    }
    txv_free(v);
    fix_free(&f);
}
END_TEST

/* A txid already waiting is refused (and the copy freed); the batch being
 * gathered goes out only when full or flushed. */
START_TEST(test_dup_and_flush)
{
    fix f;
    txv *v = fix_init(&f, 64);
    proto_tx tx, again;
    uint8_t id[32], id2[32];
    make(&f, 0, &tx, id);
    ck_assert_int_eq(proto_tx_copy(&again, &tx), 0);
    ck_assert_int_eq(txv_submit(v, &tx, id, NULL, NULL), 0);
    ck_assert_int_eq(txv_submit(v, &again, id, NULL, NULL), SG_EDUP);
    ck_assert_uint_eq(txv_pending(v), 1);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    ck_assert_uint_eq(f.n_seen, 0);          /* not flushed: nothing ran */
    make(&f, 1, &tx, id2);
    ck_assert_int_eq(txv_submit(v, &tx, id2, NULL, NULL), 0);
    txv_flush(v);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(f.n_seen, 2);
    ck_assert_mem_eq(f.seen_txid[0], id, 32);
    ck_assert_mem_eq(f.seen_txid[1], id2, 32);
    txv_free(v);
    fix_free(&f);
}
END_TEST

/* Freed with batches on the pool and one still gathering: no verdict is
 * delivered afterwards, the loop finishes the pool's work and closes
 * cleanly (the sanitizer build checks nothing leaks). */
START_TEST(test_free_in_flight)
{
    enum { N = 50 };
    fix f;
    txv *v = fix_init(&f, 8);
    proto_tx tx;
    uint8_t id[32];
    for (unsigned i = 0; i < N; i++) {
        make(&f, i, &tx, id);
        ck_assert_int_eq(txv_submit(v, &tx, id, NULL, NULL), 0);
    }
    txv_free(v);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(f.n_seen, 0);
    fix_free(&f);
}
END_TEST

Suite *txverify_suite(void)
{
    Suite *s = suite_create("txverify");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_order_kept);
    tcase_add_test(tc, test_bad_sig_in_batch);
    tcase_add_test(tc, test_submitter_gone);
    tcase_add_test(tc, test_forget_from_verdict);
    tcase_add_test(tc, test_dup_and_flush);
    tcase_add_test(tc, test_free_in_flight);
    suite_add_tcase(s, tc);
    return s;
}
