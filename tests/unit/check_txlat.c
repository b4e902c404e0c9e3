#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/tx.h"
#include "common/daemon/txlat.h"
#include "proto/msg.h"

static void id_of(uint8_t id[32], unsigned k)
{
    memset(id, 0, 32);
    memcpy(id, &k, sizeof k);
    id[31] = 0xA5;
}

START_TEST(test_measures_broadcast_to_inclusion)
{
    txlat *t;
    txlat_record r[4];
    txlat_stats st;
    uint8_t a[32], b[32], c[32];

    id_of(a, 1);
    id_of(b, 2);
    id_of(c, 3);
    ck_assert_int_eq(txlat_new(&t, 8, 8), 0);
    ck_assert_int_eq(txlat_broadcast(t, a, 1000), 0);
    ck_assert_int_eq(txlat_broadcast(t, b, 1100), 0);
    ck_assert_int_eq(txlat_broadcast(t, a, 1900), 0);   /* re-broadcast keeps 1000 */
    ck_assert_int_eq(txlat_included(t, c, 2000), 0);    /* not ours */
    ck_assert_int_eq(txlat_included(t, b, 1350), 1);
    ck_assert_int_eq(txlat_included(t, a, 4000), 1);
    ck_assert_int_eq(txlat_included(t, a, 5000), 0);    /* first inclusion only */

    ck_assert_uint_eq(txlat_drain(t, r, 4), 2);
    ck_assert_mem_eq(r[0].txid, b, 32);
    ck_assert_uint_eq(r[0].broadcast_ms, 1100);
    ck_assert_uint_eq(r[0].included_ms, 1350);
    ck_assert_mem_eq(r[1].txid, a, 32);
    ck_assert_uint_eq(r[1].included_ms - r[1].broadcast_ms, 3000);
    ck_assert_uint_eq(txlat_drain(t, r, 4), 0);         /* drained means gone */

    txlat_get_stats(t, &st);
    ck_assert_uint_eq(st.tracked, 2);
    ck_assert_uint_eq(st.measured, 2);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_eq(st.sum_ms, 250 + 3000);
    /* 250 ms falls in le=0.25 and above, 3000 ms from le=5 on. */
    ck_assert_uint_eq(st.counts[0], 0);                 /* le 100 ms */
    ck_assert_uint_eq(st.counts[1], 1);                 /* le 250 ms */
    ck_assert_uint_eq(st.counts[4], 1);                 /* le 2500 ms */
    ck_assert_uint_eq(st.counts[5], 2);                 /* le 5000 ms */
    ck_assert_uint_eq(st.counts[TXLAT_BUCKETS], 2);     /* +Inf */
    txlat_free(t);
}
END_TEST

START_TEST(test_clock_step_back_is_zero)
{
    txlat *t;
    txlat_record r;
    txlat_stats st;
    uint8_t a[32];

    id_of(a, 7);
    ck_assert_int_eq(txlat_new(&t, 2, 2), 0);
    txlat_broadcast(t, a, 5000);
    ck_assert_int_eq(txlat_included(t, a, 4000), 1);
    ck_assert_uint_eq(txlat_drain(t, &r, 1), 1);
    ck_assert_uint_eq(r.included_ms, r.broadcast_ms);
    txlat_get_stats(t, &st);
    ck_assert_uint_eq(st.counts[0], 1);
    txlat_free(t);
}
END_TEST

START_TEST(test_bounds_evict_oldest_and_drop_records)
{
    txlat *t;
    txlat_record r[8];
    txlat_stats st;
    uint8_t id[32];

    ck_assert_int_eq(txlat_new(&t, 3, 2), 0);
    for (unsigned k = 0; k < 5; k++) {                  /* 0 and 1 are evicted */
        id_of(id, k);
        ck_assert_int_eq(txlat_broadcast(t, id, 100 * k), 0);
    }
    txlat_get_stats(t, &st);
    ck_assert_uint_eq(st.pending, 3);
    ck_assert_uint_eq(st.dropped_pending, 2);
    id_of(id, 0);
    ck_assert_int_eq(txlat_included(t, id, 1000), 0);
    /* Removing one from the middle frees exactly one slot. */
    id_of(id, 3);
    ck_assert_int_eq(txlat_included(t, id, 1000), 1);
    id_of(id, 9);
    txlat_broadcast(t, id, 1000);
    txlat_get_stats(t, &st);
    ck_assert_uint_eq(st.dropped_pending, 2);
    ck_assert_uint_eq(st.pending, 3);
    for (unsigned k = 2; k < 10; k++) {
        id_of(id, k);
        txlat_included(t, id, 2000);
    }
    txlat_get_stats(t, &st);
    ck_assert_uint_eq(st.measured, 4);                  /* 3, then 2, 4, 9 */
    ck_assert_uint_eq(st.waiting, 2);                   /* the ring holds 2 */
    ck_assert_uint_eq(st.dropped_records, 2);
    ck_assert_uint_eq(st.counts[TXLAT_BUCKETS], 4);     /* histogram has all */
    ck_assert_uint_eq(txlat_drain(t, r, 1), 1);         /* bounded per call */
    ck_assert_uint_eq(txlat_drain(t, r, 8), 1);
    ck_assert_int_eq(txlat_new(&(txlat *){ NULL }, 0, 1), SG_EINVAL);
    txlat_free(t);
    txlat_free(NULL);
}
END_TEST

START_TEST(test_block_measures_its_transactions)
{
    txlat *t;
    txlat_record r[4];
    proto_tx txs[3];
    uint8_t ids[3][32], id[32];

    memset(txs, 0, sizeof txs);
    for (int i = 0; i < 3; i++) {
        txs[i].version = PROTO_TX_VERSION;
        txs[i].kind = PROTO_TX_TRANSFER;
        txs[i].nonce = (uint64_t)i;
        txs[i].u.pay.amount = 10;
    }
    ck_assert_int_eq(txlat_new(&t, 8, 8), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(tx_id(&txs[i], ids[i]), 0);
    ck_assert_uint_eq(txlat_block(t, (const uint8_t (*)[32])ids, 3, 50), 0); /* none pending */
    memcpy(id, ids[2], 32);
    txlat_broadcast(t, id, 10);
    ck_assert_uint_eq(txlat_block(t, (const uint8_t (*)[32])ids, 3, 60), 1);
    ck_assert_uint_eq(txlat_drain(t, r, 4), 1);
    ck_assert_mem_eq(r[0].txid, id, 32);
    ck_assert_uint_eq(r[0].included_ms, 60);
    txlat_free(t);
}
END_TEST

/* The TXLAT message: a round trip, and the decoder's refusals. */
START_TEST(test_msg_roundtrip_and_bounds)
{
    proto_txlat_rec recs[3];
    proto_txlat m = { .dropped = 7, .left = 2, .n = 3, .items = recs }, d;
    uint8_t *buf = NULL;
    size_t len = 0;

    for (int i = 0; i < 3; i++) {
        id_of(recs[i].txid, (unsigned)i + 40);
        recs[i].broadcast_ms = 1000u * (unsigned)i;
        recs[i].included_ms = 1000u * (unsigned)i + 17;
    }
    ck_assert_int_eq(proto_txlat_encode(&m, &buf, &len), 0);
    ck_assert_uint_eq(len, 8 + 4 + 4 + 3 * 48);
    ck_assert_int_eq(proto_txlat_decode(buf, len, &d), 0);
    ck_assert_uint_eq(d.dropped, 7);
    ck_assert_uint_eq(d.left, 2);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_mem_eq(d.items[2].txid, recs[2].txid, 32);
    ck_assert_uint_eq(d.items[2].included_ms, 2017);
    proto_txlat_free(&d);
    /* Every truncation fails cleanly; a trailing byte too. */
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_ne(proto_txlat_decode(buf, cut, &d), 0);
        ck_assert_ptr_null(d.items);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    ck_assert_int_eq(proto_txlat_decode(longer, len + 1, &d), SG_ETRAILING);
    /* Inclusion before broadcast is refused both ways. */
    memcpy(longer, buf, len);
    memset(longer + len - 8, 0, 8);           /* last included_ms = 0 < 2000 */
    ck_assert_int_eq(proto_txlat_decode(longer, len, &d), SG_EINVAL);
    free(longer);
    free(buf);
    recs[0].included_ms = 0;
    recs[0].broadcast_ms = 5;
    ck_assert_int_eq(proto_txlat_encode(&m, &buf, &len), SG_EINVAL);
    free(buf);
    /* A count over the cap, declared in the header, is refused before any
     * allocation. */
    uint8_t big[16] = { 0 };
    uint32_t n = PROTO_TXLAT_MAX + 1;
    memcpy(big + 12, &n, 4);
    ck_assert_int_eq(proto_txlat_decode(big, sizeof big, &d), SG_ETOOBIG);
    m.n = PROTO_TXLAT_MAX + 1;
    ck_assert_int_eq(proto_txlat_encode(&m, &buf, &len), SG_ETOOBIG);
    free(buf);
    ck_assert(proto_msg_type_known(PROTO_MSG_TXLAT_REQ));
    ck_assert(proto_msg_type_known(PROTO_MSG_TXLAT));
}
END_TEST

Suite *txlat_suite(void)
{
    Suite *s = suite_create("txlat");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_measures_broadcast_to_inclusion);
    tcase_add_test(tc, test_clock_step_back_is_zero);
    tcase_add_test(tc, test_bounds_evict_oldest_and_drop_records);
    tcase_add_test(tc, test_block_measures_its_transactions);
    tcase_add_test(tc, test_msg_roundtrip_and_bounds);
    suite_add_tcase(s, tc);
    return s;
}
