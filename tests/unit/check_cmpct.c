/* Compact block messages (proto/cmpct.h): round trips and refusals. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "proto/cmpct.h"

static proto_tx coinbase(uint64_t height)
{
    proto_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_COINBASE;
    tx.nonce = height;
    memset(tx.u.pay.to, 7, 32);
    tx.u.pay.amount = 50;
    return tx;
}

START_TEST(test_sendcmpct)
{
    proto_sendcmpct m = { .high_bandwidth = 1, .version = PROTO_CMPCT_VERSION }, d;
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(proto_sendcmpct_encode(&m, &buf, &len), 0);
    ck_assert_uint_eq(len, 9);
    ck_assert_int_eq(proto_sendcmpct_decode(buf, len, &d), 0);
    ck_assert_uint_eq(d.high_bandwidth, 1);
    ck_assert_uint_eq(d.version, PROTO_CMPCT_VERSION);
    ck_assert_int_eq(proto_sendcmpct_decode(buf, len - 1, &d), SG_ETRUNC);
    buf[0] = 2;
    ck_assert_int_eq(proto_sendcmpct_decode(buf, len, &d), SG_EINVAL);
    free(buf);
}
END_TEST

START_TEST(test_cmpctblock_round_trip)
{
    proto_cmpctblock m, d;
    uint64_t ids[3] = { 1, 0xffffffffffffULL, 0x123456789aULL };
    proto_prefilled pre[2];
    uint8_t *buf, *again;
    size_t len, len2;

    memset(&m, 0, sizeof m);
    m.header.version = 1;
    m.header.time = 12345;
    m.header.bits = 0x1f00ffff;
    memset(m.header.prev, 3, 32);
    m.nonce = 0x0102030405060708ULL;
    m.n_short = 3;
    m.short_ids = ids;
    pre[0].index = 0;
    pre[0].tx = coinbase(5);
    pre[1].index = 4;
    pre[1].tx = coinbase(6);
    m.n_prefilled = 2;
    m.prefilled = pre;
    ck_assert_int_eq(proto_cmpctblock_encode(&m, &buf, &len), 0);
    ck_assert_int_eq(proto_cmpctblock_decode(buf, len, &d), 0);
    ck_assert_uint_eq(proto_cmpctblock_count(&d), 5);
    ck_assert_uint_eq(d.nonce, m.nonce);
    ck_assert_uint_eq(d.short_ids[1], ids[1]);
    ck_assert_uint_eq(d.short_ids[2], ids[2]);
    ck_assert_uint_eq(d.prefilled[1].index, 4);
    ck_assert_uint_eq(d.prefilled[1].tx.nonce, 6);
    ck_assert_int_eq(proto_cmpctblock_encode(&d, &again, &len2), 0);
    ck_assert_uint_eq(len2, len);
    ck_assert_mem_eq(again, buf, len);
    proto_cmpctblock_free(&d);
    free(again);
    /* Every truncation is refused and leaves nothing owned. */
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_lt(proto_cmpctblock_decode(buf, cut, &d), 0);
        ck_assert_ptr_null(d.short_ids);
        ck_assert_ptr_null(d.prefilled);
    }
    free(buf);

    /* A prefilled index past the block or out of order is refused on both
     * sides. */
    pre[1].index = 5;
    ck_assert_int_eq(proto_cmpctblock_encode(&m, &buf, &len), SG_EINVAL);
    pre[1].index = 0;
    ck_assert_int_eq(proto_cmpctblock_encode(&m, &buf, &len), SG_EINVAL);
    ids[0] = 1ULL << 48;
    pre[1].index = 4;
    ck_assert_int_eq(proto_cmpctblock_encode(&m, &buf, &len), SG_EINVAL);
}
END_TEST

START_TEST(test_cmpctblock_refusals)
{
    proto_cmpctblock d;
    uint8_t b[80 + 8 + 4 + 4 + 16];
    memset(b, 0, sizeof b);
    /* No transactions at all. */
    ck_assert_int_eq(proto_cmpctblock_decode(b, 80 + 8 + 4 + 4, &d), SG_EINVAL);
    /* A short-id count over the cap. */
    uint32_t big = PROTO_BLOCK_MAX_TXS + 1;
    memcpy(b + 88, &big, 4);
    ck_assert_int_eq(proto_cmpctblock_decode(b, sizeof b, &d), SG_ETOOBIG);
    /* A count the bytes cannot hold. */
    big = 1000;
    memcpy(b + 88, &big, 4);
    ck_assert_int_eq(proto_cmpctblock_decode(b, sizeof b, &d), SG_ETRUNC);
    /* Trailing bytes. */
    big = 1;
    memcpy(b + 88, &big, 4);
    ck_assert_int_eq(proto_cmpctblock_decode(b, 80 + 8 + 4 + 6 + 4 + 1, &d), SG_ETRAILING);
    ck_assert_int_eq(proto_cmpctblock_decode(b, 80 + 8 + 4 + 6 + 4, &d), 0);
    proto_cmpctblock_free(&d);
}
END_TEST

START_TEST(test_getblocktxn)
{
    uint32_t ix[3] = { 1, 7, 900 };
    proto_getblocktxn m = { .n = 3, .indexes = ix }, d;
    uint8_t *buf;
    size_t len;
    memset(m.hash, 9, 32);
    ck_assert_int_eq(proto_getblocktxn_encode(&m, &buf, &len), 0);
    ck_assert_uint_eq(len, 32 + 4 + 12);
    ck_assert_int_eq(proto_getblocktxn_decode(buf, len, &d), 0);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(d.indexes[2], 900);
    ck_assert_mem_eq(d.hash, m.hash, 32);
    proto_getblocktxn_free(&d);
    ck_assert_int_eq(proto_getblocktxn_decode(buf, len - 1, &d), SG_ETRUNC);
    /* Repeated or decreasing indexes are refused. */
    memcpy(buf + 36 + 4, &ix[0], 4);
    ck_assert_int_eq(proto_getblocktxn_decode(buf, len, &d), SG_EINVAL);
    ck_assert_ptr_null(d.indexes);
    free(buf);
    ix[1] = 1;
    ck_assert_int_eq(proto_getblocktxn_encode(&m, &buf, &len), SG_EINVAL);
    m.n = 0;
    ck_assert_int_eq(proto_getblocktxn_encode(&m, &buf, &len), SG_EINVAL);
}
END_TEST

START_TEST(test_blocktxn)
{
    proto_tx txs[2] = { coinbase(1), coinbase(2) };
    proto_blocktxn m = { .n = 2, .txs = txs }, d;
    uint8_t *buf, *again;
    size_t len, len2;
    memset(m.hash, 4, 32);
    ck_assert_int_eq(proto_blocktxn_encode(&m, &buf, &len), 0);
    ck_assert_int_eq(proto_blocktxn_decode(buf, len, &d), 0);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.txs[1].nonce, 2);
    ck_assert_int_eq(proto_blocktxn_encode(&d, &again, &len2), 0);
    ck_assert_uint_eq(len2, len);
    ck_assert_mem_eq(again, buf, len);
    free(again);
    proto_blocktxn_free(&d);
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_lt(proto_blocktxn_decode(buf, cut, &d), 0);
    free(buf);
}
END_TEST

Suite *cmpct_suite(void)
{
    Suite *s = suite_create("cmpct");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sendcmpct);
    tcase_add_test(tc, test_cmpctblock_round_trip);
    tcase_add_test(tc, test_cmpctblock_refusals);
    tcase_add_test(tc, test_getblocktxn);
    tcase_add_test(tc, test_blocktxn);
    suite_add_tcase(s, tc);
    return s;
}
