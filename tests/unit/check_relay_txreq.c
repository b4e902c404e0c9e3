/* The relay's transaction request tracker: one peer asked at a time, the
 * others kept as alternatives and asked in their order once the request
 * times out, fails (NOTFOUND) or its peer closes; forgotten once the
 * transaction came, when no alternative is left or none is wanted, and
 * untracked (asked at once, as before) beyond the bound. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/daemon/relay_txreq.h"

typedef struct {
    uint64_t asked[16];
    uint8_t txid0[16];
    int n;
    uint64_t gone;                    /* this peer answers "gone" */
    int unwanted;                     /* answer "wanted no more" */
} asks;

static int ask(void *ctx, uint64_t peer, const uint8_t txid[32])
{
    asks *a = ctx;
    if (a->unwanted)
        return -1;
    if (peer == a->gone)
        return 1;
    ck_assert_int_lt(a->n, 16);
    a->asked[a->n] = peer;
    a->txid0[a->n] = txid[0];
    a->n++;
    return 0;
}

static void txid_of(uint8_t n, uint8_t id[32])
{
    memset(id, 0, 32);
    id[0] = n;
    id[8] = (uint8_t)(n * 37 + 1);    /* hmap hashes on the first 8 bytes */
}

START_TEST(test_one_request_then_alternatives)
{
    relay_txreq *t;
    uint8_t id[32];
    asks a = { .n = 0 };
    txid_of(1, id);
    ck_assert_int_eq(relay_txreq_new(&t, 100, 2000), SG_OK);
    ck_assert_int_eq(relay_txreq_announced(t, 7, id, 1000), 1);   /* ask 7 */
    ck_assert_int_eq(relay_txreq_announced(t, 8, id, 1001), 0);   /* 8 waits */
    ck_assert_int_eq(relay_txreq_announced(t, 9, id, 1002), 0);
    ck_assert_int_eq(relay_txreq_announced(t, 8, id, 1003), 0);   /* kept once */
    ck_assert_int_eq(relay_txreq_announced(t, 7, id, 1004), 0);   /* its own */
    ck_assert_uint_eq(relay_txreq_expire(t, 2999, ask, &a), 0);   /* still young */
    ck_assert_int_eq(a.n, 0);
    ck_assert_uint_eq(relay_txreq_expire(t, 3000, ask, &a), 1);   /* timed out */
    ck_assert_int_eq(a.n, 1);
    ck_assert_uint_eq(a.asked[0], 8);
    ck_assert_uint_eq(a.txid0[0], 1);
    relay_txreq_notfound(t, 7, id);                               /* not the asked one */
    ck_assert_uint_eq(relay_txreq_expire(t, 3001, ask, &a), 0);
    relay_txreq_notfound(t, 8, id);
    ck_assert_uint_eq(relay_txreq_expire(t, 3002, ask, &a), 1);
    ck_assert_uint_eq(a.asked[1], 9);
    relay_txreq_peer_gone(t, 9);                                  /* no one left */
    ck_assert_uint_eq(relay_txreq_expire(t, 3003, ask, &a), 0);
    ck_assert_uint_eq(relay_txreq_count(t), 0);
    /* Forgotten: the next announcement is asked at once. */
    ck_assert_int_eq(relay_txreq_announced(t, 8, id, 3004), 1);
    relay_txreq_free(t);
}
END_TEST

START_TEST(test_done_forgets)
{
    relay_txreq *t;
    uint8_t id[32];
    asks a = { .n = 0 };
    txid_of(2, id);
    ck_assert_int_eq(relay_txreq_new(&t, 100, 2000), SG_OK);
    ck_assert_int_eq(relay_txreq_announced(t, 1, id, 10), 1);
    ck_assert_int_eq(relay_txreq_announced(t, 2, id, 11), 0);
    relay_txreq_done(t, id);
    ck_assert_uint_eq(relay_txreq_count(t), 0);
    ck_assert_uint_eq(relay_txreq_expire(t, 100000, ask, &a), 0);
    ck_assert_int_eq(a.n, 0);
    relay_txreq_done(t, id);                                      /* twice: harmless */
    relay_txreq_free(t);
}
END_TEST

START_TEST(test_gone_and_unwanted_alternatives)
{
    relay_txreq *t;
    uint8_t id[32], id2[32];
    asks a = { .n = 0, .gone = 5 };
    txid_of(3, id);
    txid_of(4, id2);
    ck_assert_int_eq(relay_txreq_new(&t, 100, 50), SG_OK);
    ck_assert_int_eq(relay_txreq_announced(t, 4, id, 0), 1);
    ck_assert_int_eq(relay_txreq_announced(t, 5, id, 1), 0);
    ck_assert_int_eq(relay_txreq_announced(t, 6, id, 2), 0);
    relay_txreq_peer_gone(t, 4);
    ck_assert_uint_eq(relay_txreq_expire(t, 3, ask, &a), 1);      /* 5 gone: 6 */
    ck_assert_int_eq(a.n, 1);
    ck_assert_uint_eq(a.asked[0], 6);
    ck_assert_int_eq(relay_txreq_announced(t, 1, id2, 3), 1);
    ck_assert_int_eq(relay_txreq_announced(t, 2, id2, 3), 0);
    a.unwanted = 1;
    ck_assert_uint_eq(relay_txreq_expire(t, 1000, ask, &a), 0);
    ck_assert_uint_eq(relay_txreq_count(t), 0);
    relay_txreq_free(t);
}
END_TEST

START_TEST(test_bound_and_alternatives_cap)
{
    relay_txreq *t;
    uint8_t id[32];
    asks a = { .n = 0 };
    ck_assert_int_eq(relay_txreq_new(&t, 3, 2000), SG_OK);
    for (uint8_t i = 0; i < 3; i++) {
        txid_of((uint8_t)(10 + i), id);
        ck_assert_int_eq(relay_txreq_announced(t, 1, id, 5), 1);
    }
    txid_of(20, id);                                              /* past the bound */
    ck_assert_int_eq(relay_txreq_announced(t, 1, id, 5), 1);
    ck_assert_int_eq(relay_txreq_announced(t, 2, id, 5), 1);      /* untracked: asked */
    ck_assert_uint_eq(relay_txreq_count(t), 3);
    txid_of(10, id);
    for (uint64_t p = 2; p < 2 + RELAY_TXREQ_ALTS + 3; p++)
        ck_assert_int_eq(relay_txreq_announced(t, p, id, 6), 0);
    ck_assert_uint_eq(relay_txreq_expire(t, 2005, ask, &a), 1);   /* only 10 had alternatives */
    ck_assert_uint_eq(a.asked[0], 2);                             /* the oldest first */
    ck_assert_uint_eq(relay_txreq_count(t), 1);
    for (int k = 1; k < RELAY_TXREQ_ALTS; k++) {
        relay_txreq_notfound(t, a.asked[k - 1], id);
        ck_assert_uint_eq(relay_txreq_expire(t, 2006, ask, &a), 1);
    }
    relay_txreq_notfound(t, a.asked[a.n - 1], id);
    ck_assert_uint_eq(relay_txreq_expire(t, 2007, ask, &a), 0);   /* the cap: no fifth */
    ck_assert_int_eq(a.n, RELAY_TXREQ_ALTS);
    ck_assert_uint_eq(relay_txreq_count(t), 0);
    relay_txreq_free(t);
    ck_assert_int_eq(relay_txreq_new(&t, 0, 1), SG_EINVAL);
    ck_assert_int_eq(relay_txreq_new(&t, 1, 0), SG_EINVAL);
    relay_txreq_free(NULL);
}
END_TEST

Suite *relay_txreq_suite(void)
{
    Suite *s = suite_create("relay_txreq");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_one_request_then_alternatives);
    tcase_add_test(tc, test_done_forgets);
    tcase_add_test(tc, test_gone_and_unwanted_alternatives);
    tcase_add_test(tc, test_bound_and_alternatives_cap);
    suite_add_tcase(s, tc);
    return s;
}
