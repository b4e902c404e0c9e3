/* Signature cache: hits only for the exact (key, message, signature) that
 * verified, on the same chain; failures never remembered; bounded with the
 * oldest entry evicted first.  Real keys and real Ed25519 signatures. */
#include <check.h>
#include <sodium.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/sigcache.h"
#include "common/core/tx.h"
#include "testutil.h"

typedef struct {
    uint8_t pk[2][32];
    uint8_t sk[2][64];
    uint8_t chain_a[32], chain_b[32];
} sc_fix;

static void fix_init(sc_fix *f)
{
    ck_assert_int_ge(sodium_init(), 0);
    for (int i = 0; i < 2; i++) {
        uint8_t seed[32];
        memset(seed, 0x60 + i, sizeof seed);
        crypto_sign_seed_keypair(f->pk[i], f->sk[i], seed);
    }
    memset(f->chain_a, 0xa1, 32);
    memset(f->chain_b, 0xb2, 32);
}

static proto_tx transfer(const sc_fix *f, int from, uint64_t nonce, uint64_t amount)
{
    proto_tx tx;
    ck_assert_int_eq(tu_transfer(&tx, f->pk[from], f->sk[from], f->pk[1 - from], nonce, amount, f->chain_a), 0);
    return tx;
}

static sigcache_stats stats(const sigcache *sc)
{
    sigcache_stats st;
    sigcache_get_stats(sc, &st);
    return st;
}

START_TEST(test_hit_after_verify)
{
    sc_fix f;
    fix_init(&f);
    sigcache *sc;
    ck_assert_int_eq(sigcache_new(&sc, 16), 0);
    proto_tx t = transfer(&f, 0, 0, 10);
    ck_assert_int_eq(sigcache_verify(sc, &t, f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).misses, 1);
    ck_assert_uint_eq(stats(sc).hits, 0);
    ck_assert_int_eq(sigcache_verify(sc, &t, f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).misses, 1);
    ck_assert_uint_eq(stats(sc).hits, 1);
    ck_assert_uint_eq(stats(sc).entries, 1);
    sigcache_free(sc);
}
END_TEST

/* The cache must never turn a bad signature good: every variation of a
 * cached transaction is verified in full and refused. */
START_TEST(test_tampering_still_rejected)
{
    sc_fix f;
    fix_init(&f);
    sigcache *sc;
    ck_assert_int_eq(sigcache_new(&sc, 16), 0);
    proto_tx t = transfer(&f, 0, 0, 10);
    ck_assert_int_eq(sigcache_verify(sc, &t, f.chain_a), 0);

    /* Same payload, one signature bit flipped (each of the 64 bytes). */
    for (int i = 0; i < 64; i++) {
        proto_tx bad = t;
        bad.sig[i] ^= 0x01;
        ck_assert_int_eq(sigcache_verify(sc, &bad, f.chain_a), SG_EBADSIG);
    }
    /* Same signature, payload changed. */
    proto_tx more = t;
    more.u.pay.amount = 11;
    ck_assert_int_eq(sigcache_verify(sc, &more, f.chain_a), SG_EBADSIG);
    /* Same signature and payload, claimed by another key. */
    proto_tx other = t;
    memcpy(other.from, f.pk[1], 32);
    ck_assert_int_eq(sigcache_verify(sc, &other, f.chain_a), SG_EBADSIG);
    /* The very transaction, on another chain. */
    ck_assert_int_eq(sigcache_verify(sc, &t, f.chain_b), SG_EBADSIG);
    /* A signature another transaction of the same key made. */
    proto_tx t2 = transfer(&f, 0, 1, 10);
    ck_assert_int_eq(sigcache_verify(sc, &t2, f.chain_a), 0);
    proto_tx swapped = t;
    memcpy(swapped.sig, t2.sig, 64);
    ck_assert_int_eq(sigcache_verify(sc, &swapped, f.chain_a), SG_EBADSIG);

    sigcache_stats st = stats(sc);
    ck_assert_uint_eq(st.hits, 0);
    ck_assert_uint_eq(st.entries, 2);          /* t and t2 only */
    /* Failures are not remembered: checked again in full. */
    proto_tx bad = t;
    bad.sig[0] ^= 0x80;
    ck_assert_int_eq(sigcache_verify(sc, &bad, f.chain_a), SG_EBADSIG);
    ck_assert_int_eq(sigcache_verify(sc, &bad, f.chain_a), SG_EBADSIG);
    ck_assert_uint_eq(stats(sc).misses, st.misses + 2);
    ck_assert_uint_eq(stats(sc).entries, 2);
    /* The genuine one still hits. */
    ck_assert_int_eq(sigcache_verify(sc, &t, f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).hits, 1);
    sigcache_free(sc);
}
END_TEST

START_TEST(test_eviction_oldest_first)
{
    sc_fix f;
    fix_init(&f);
    sigcache *sc;
    enum { MAX = 4, N = 7 };
    proto_tx t[N];
    ck_assert_int_eq(sigcache_new(&sc, MAX), 0);
    for (int i = 0; i < N; i++) {
        t[i] = transfer(&f, 0, (uint64_t)i, 5);
        ck_assert_int_eq(sigcache_verify(sc, &t[i], f.chain_a), 0);
        ck_assert_uint_le(stats(sc).entries, MAX);
    }
    sigcache_stats st = stats(sc);
    ck_assert_uint_eq(st.entries, MAX);
    ck_assert_uint_eq(st.evicted, N - MAX);
    ck_assert_uint_eq(st.misses, N);
    /* The newest MAX are there... */
    for (int i = N - MAX; i < N; i++)
        ck_assert_int_eq(sigcache_verify(sc, &t[i], f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).hits, MAX);
    ck_assert_uint_eq(stats(sc).misses, N);
    /* ...the oldest were dropped and are verified again (and re-cached,
     * pushing out the then-oldest). */
    ck_assert_int_eq(sigcache_verify(sc, &t[0], f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).misses, N + 1);
    ck_assert_uint_eq(stats(sc).evicted, N - MAX + 1);
    ck_assert_int_eq(sigcache_verify(sc, &t[0], f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).hits, MAX + 1);
    ck_assert_int_eq(sigcache_verify(sc, &t[N - MAX], f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).misses, N + 2);
    ck_assert_uint_eq(stats(sc).entries, MAX);
    sigcache_free(sc);
}
END_TEST

/* More entries than the ring's first allocation, through many wraps. */
START_TEST(test_bound_holds_under_churn)
{
    sc_fix f;
    fix_init(&f);
    sigcache *sc;
    enum { MAX = 300, N = 1000 };
    ck_assert_int_eq(sigcache_new(&sc, MAX), 0);
    proto_tx last[MAX];
    for (int i = 0; i < N; i++) {
        proto_tx t = transfer(&f, i & 1, (uint64_t)i, 1);
        ck_assert_int_eq(sigcache_verify(sc, &t, f.chain_a), 0);
        if (i >= N - MAX)
            last[i - (N - MAX)] = t;
    }
    ck_assert_uint_eq(stats(sc).entries, MAX);
    ck_assert_uint_eq(stats(sc).evicted, N - MAX);
    for (int i = 0; i < MAX; i++)
        ck_assert_int_eq(sigcache_verify(sc, &last[i], f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).hits, MAX);
    sigcache_free(sc);
}
END_TEST

START_TEST(test_coinbase_null_and_args)
{
    sc_fix f;
    fix_init(&f);
    sigcache *sc;
    ck_assert_int_eq(sigcache_new(&sc, 0), SG_EINVAL);
    ck_assert_ptr_null(sc);
    ck_assert_int_eq(sigcache_new(&sc, 8), 0);
    proto_tx cb;
    memset(&cb, 0, sizeof cb);
    cb.version = PROTO_TX_VERSION;
    cb.kind = PROTO_TX_COINBASE;
    cb.u.pay.amount = 1;
    ck_assert_int_eq(sigcache_verify(sc, &cb, f.chain_a), 0);
    cb.sig[3] = 1;
    ck_assert_int_eq(sigcache_verify(sc, &cb, f.chain_a), SG_EBADSIG);
    sigcache_stats st = stats(sc);
    ck_assert_uint_eq(st.hits + st.misses + st.entries, 0);
    /* No cache: a plain check. */
    proto_tx t = transfer(&f, 1, 0, 3);
    ck_assert_int_eq(sigcache_verify(NULL, &t, f.chain_a), 0);
    t.sig[9] ^= 4;
    ck_assert_int_eq(sigcache_verify(NULL, &t, f.chain_a), SG_EBADSIG);
    sigcache_get_stats(NULL, &st);
    ck_assert_uint_eq(st.hits + st.misses, 0);
    sigcache_free(sc);
    sigcache_free(NULL);
}
END_TEST

/* Checks made elsewhere with a keyer: the verdict is the full check's, the
 * key once added is a hit for the same cache only, and a key from another
 * cache's keyer (another salt) never matches. */
START_TEST(test_keyer_detached)
{
    sc_fix f;
    fix_init(&f);
    sigcache *sc, *other;
    sigcache_keyer k, ko;
    uint8_t key[32], okey[32];
    ck_assert_int_eq(sigcache_new(&sc, 16), 0);
    ck_assert_int_eq(sigcache_new(&other, 16), 0);
    sigcache_get_keyer(sc, &k);
    sigcache_get_keyer(other, &ko);
    proto_tx t = transfer(&f, 0, 0, 10);
    proto_tx u = transfer(&f, 0, 1, 10);
    ck_assert_int_eq(sigcache_check_detached(&k, &t, f.chain_a, key), 0);
    ck_assert_int_eq(sigcache_check_detached(&ko, &u, f.chain_a, okey), 0);
    ck_assert_mem_ne(key, okey, 32);
    sigcache_add(sc, key);
    sigcache_add(sc, okey);               /* other salt: a key of nothing here */
    sigcache_add(sc, key);                /* twice: one entry */
    ck_assert_uint_eq(stats(sc).entries, 2);
    ck_assert_int_eq(sigcache_verify(sc, &t, f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).hits, 1);
    ck_assert_int_eq(sigcache_verify(sc, &u, f.chain_a), 0);
    ck_assert_uint_eq(stats(sc).misses, 1);
    ck_assert_int_eq(sigcache_verify(sc, &t, f.chain_b), SG_EBADSIG);
    t.sig[1] ^= 1;
    ck_assert_int_eq(sigcache_check_detached(&k, &t, f.chain_a, key), SG_EBADSIG);
    proto_tx coinbase = { .kind = PROTO_TX_COINBASE };
    ck_assert_int_eq(sigcache_check_detached(&k, &coinbase, f.chain_a, key), SG_EINVAL);
    sigcache_free(sc);
    sigcache_free(other);
}
END_TEST

Suite *sigcache_suite(void)
{
    Suite *s = suite_create("sigcache");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hit_after_verify);
    tcase_add_test(tc, test_tampering_still_rejected);
    tcase_add_test(tc, test_eviction_oldest_first);
    tcase_add_test(tc, test_bound_holds_under_churn);
    tcase_add_test(tc, test_coinbase_null_and_args);
    tcase_add_test(tc, test_keyer_detached);
    suite_add_tcase(s, tc);
    return s;
}
