/* Unit tests for proto/buf.c and proto/block.c: the byte reader and writer,
 * headers, transactions and blocks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "proto/block.h"
#include "proto/buf.h"
#include "testutil.h"

/* ---- reader ---- */

START_TEST(rd_little_endian)
{
    static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
                                0x0f};
    proto_rd rd;
    proto_rd_init(&rd, b, sizeof b);
    ck_assert_uint_eq(proto_get_u8(&rd), 0x01);
    ck_assert_uint_eq(proto_get_u16(&rd), 0x0302);
    ck_assert_uint_eq(proto_get_u32(&rd), 0x07060504u);
    ck_assert_uint_eq(proto_get_u64(&rd), 0x0f0e0d0c0b0a0908ull);
    ck_assert_int_eq(rd.err, 0);
    ck_assert_uint_eq(proto_rd_left(&rd), 0);
    ck_assert_int_eq(proto_rd_finish(&rd), 0);
}
END_TEST

START_TEST(rd_past_end_is_sticky)
{
    static const uint8_t b[] = {1, 2, 3};
    uint8_t out[4] = {9, 9, 9, 9};
    proto_rd rd;
    proto_rd_init(&rd, b, sizeof b);
    ck_assert_uint_eq(proto_get_u32(&rd), 0);
    ck_assert_int_eq(rd.err, SG_ETRUNC);
    ck_assert_uint_eq(rd.pos, 0);
    /* Three bytes are still there, yet nothing more may be read. */
    ck_assert_uint_eq(proto_get_u8(&rd), 0);
    ck_assert_ptr_null(proto_get_view(&rd, 1));
    proto_get_bytes(&rd, out, 2);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_uint_eq(out[1], 0);
    ck_assert_uint_eq(out[2], 9);
    ck_assert_int_eq(rd.err, SG_ETRUNC);
    ck_assert_int_eq(proto_rd_finish(&rd), SG_ETRUNC);

    proto_rd_init(&rd, NULL, 0);
    ck_assert_uint_eq(proto_get_u64(&rd), 0);
    ck_assert_int_eq(rd.err, SG_ETRUNC);
}
END_TEST

START_TEST(rd_view_and_trailing)
{
    static const uint8_t b[] = {1, 2, 3, 4, 5};
    proto_rd rd;
    proto_rd_init(&rd, b, sizeof b);
    ck_assert_ptr_eq(proto_get_view(&rd, 2), b);
    ck_assert_ptr_eq(proto_get_view(&rd, 0), b + 2);
    ck_assert_uint_eq(proto_rd_left(&rd), 3);
    ck_assert_int_eq(proto_rd_finish(&rd), SG_ETRAILING);
    ck_assert_ptr_eq(proto_get_view(&rd, 3), b + 2);
    ck_assert_int_eq(proto_rd_finish(&rd), 0);
    ck_assert_ptr_null(proto_get_view(&rd, 1));
    ck_assert_int_eq(proto_rd_finish(&rd), SG_ETRUNC);
}
END_TEST

START_TEST(rd_strings)
{
    static const uint8_t ok[] = {3, 0, 'a', 'b', 'c'};
    static const uint8_t empty[] = {0, 0};
    static const uint8_t nul[] = {3, 0, 'a', 0, 'c'};
    static const uint8_t trunc[] = {5, 0, 'a', 'b'};
    static const uint8_t huge[] = {0xff, 0xff};
    char s[4];
    proto_rd rd;

    proto_rd_init(&rd, ok, sizeof ok);
    proto_get_str(&rd, s, 3);
    ck_assert_int_eq(proto_rd_finish(&rd), 0);
    ck_assert_str_eq(s, "abc");

    proto_rd_init(&rd, ok, sizeof ok);
    proto_get_str(&rd, s, 2);
    ck_assert_int_eq(rd.err, SG_ETOOBIG);
    ck_assert_str_eq(s, "");

    proto_rd_init(&rd, empty, sizeof empty);
    proto_get_str(&rd, s, 3);
    ck_assert_int_eq(proto_rd_finish(&rd), 0);
    ck_assert_str_eq(s, "");

    proto_rd_init(&rd, nul, sizeof nul);
    proto_get_str(&rd, s, 3);
    ck_assert_int_eq(rd.err, SG_EINVAL);
    ck_assert_str_eq(s, "");

    proto_rd_init(&rd, trunc, sizeof trunc);
    proto_get_str(&rd, s, 3);
    ck_assert_int_eq(rd.err, SG_ETOOBIG);
    proto_rd_init(&rd, trunc, sizeof trunc);
    char big[6];
    proto_get_str(&rd, big, 5);
    ck_assert_int_eq(rd.err, SG_ETRUNC);

    /* Over the cap is refused from the length alone, bytes absent. */
    proto_rd_init(&rd, huge, sizeof huge);
    proto_get_str(&rd, s, 3);
    ck_assert_int_eq(rd.err, SG_ETOOBIG);
}
END_TEST

START_TEST(rd_count)
{
    uint8_t b[10] = {0};
    proto_rd rd;
    proto_rd_init(&rd, b, sizeof b);
    ck_assert_int_eq(proto_rd_count(&rd, 5, 5, 2), 0);
    ck_assert_int_eq(proto_rd_count(&rd, 6, 100, 2), SG_ETRUNC);
    proto_rd_init(&rd, b, sizeof b);
    ck_assert_int_eq(proto_rd_count(&rd, 6, 5, 1), SG_ETOOBIG);
    ck_assert_int_eq(rd.err, SG_ETOOBIG);
    /* Sticky: a fine count afterwards still reports the first error. */
    ck_assert_int_eq(proto_rd_count(&rd, 1, 5, 1), SG_ETOOBIG);
    proto_rd_init(&rd, b, sizeof b);
    ck_assert_int_eq(proto_rd_count(&rd, UINT32_MAX, UINT32_MAX, 3), SG_ETRUNC);
}
END_TEST

/* ---- writer ---- */

START_TEST(wr_round_trip)
{
    proto_wr wr;
    uint8_t *p;
    size_t len;
    proto_rd rd;

    proto_wr_init(&wr, 1024);
    proto_put_u8(&wr, 0xab);
    proto_put_u16(&wr, 0x1234);
    proto_put_u32(&wr, 0xdeadbeef);
    proto_put_u64(&wr, 0x0102030405060708ull);
    proto_put_str(&wr, "hello");
    proto_put_bytes(&wr, "xyz", 3);
    ck_assert_int_eq(wr.err, 0);
    p = proto_wr_take(&wr, &len);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, 1 + 2 + 4 + 8 + 2 + 5 + 3);
    ck_assert_uint_eq(p[1], 0x34);
    ck_assert_uint_eq(p[2], 0x12);

    char s[6];
    uint8_t xyz[3];
    proto_rd_init(&rd, p, len);
    ck_assert_uint_eq(proto_get_u8(&rd), 0xab);
    ck_assert_uint_eq(proto_get_u16(&rd), 0x1234);
    ck_assert_uint_eq(proto_get_u32(&rd), 0xdeadbeef);
    ck_assert_uint_eq(proto_get_u64(&rd), 0x0102030405060708ull);
    proto_get_str(&rd, s, 5);
    proto_get_bytes(&rd, xyz, 3);
    ck_assert_int_eq(proto_rd_finish(&rd), 0);
    ck_assert_str_eq(s, "hello");
    ck_assert_mem_eq(xyz, "xyz", 3);
    free(p);
    proto_wr_free(&wr);
}
END_TEST

START_TEST(wr_cap_is_sticky)
{
    proto_wr wr;
    size_t len = 99;

    proto_wr_init(&wr, 10);
    proto_put_u64(&wr, 1);
    ck_assert_int_eq(wr.err, 0);
    proto_put_u32(&wr, 2);
    ck_assert_int_eq(wr.err, SG_ETOOBIG);
    ck_assert_uint_eq(wr.len, 8);
    /* Would fit, but the encoding is already lost. */
    proto_put_u8(&wr, 3);
    ck_assert_int_eq(wr.err, SG_ETOOBIG);
    ck_assert_uint_eq(wr.len, 8);
    ck_assert_ptr_null(proto_wr_take(&wr, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_null(wr.p);

    uint8_t *out = (uint8_t *)1;
    proto_wr_init(&wr, 4);
    proto_put_u64(&wr, 1);
    ck_assert_int_eq(proto_wr_done(&wr, &out, &len), SG_ETOOBIG);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(wr_grows_to_exact_cap)
{
    proto_wr wr;
    size_t len;
    uint8_t *p;

    proto_wr_init(&wr, 1000);
    for (int i = 0; i < 1000; i++) {
        proto_put_u8(&wr, (uint8_t)i);
        ck_assert_int_eq(wr.err, 0);
        ck_assert_uint_le(wr.alloc, 1000);
        /* Geometric: never more than twice what is used (after the first
         * small block). */
        ck_assert_uint_le(wr.alloc, wr.len < 64 ? 64 : 2 * wr.len);
    }
    ck_assert_uint_eq(wr.alloc, 1000);
    proto_put_u8(&wr, 0);
    ck_assert_int_eq(wr.err, SG_ETOOBIG);
    wr.err = 0; /* only to inspect the content */
    p = proto_wr_take(&wr, &len);
    ck_assert_uint_eq(len, 1000);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(p[i], (uint8_t)i);
    free(p);
}
END_TEST

START_TEST(wr_strings)
{
    proto_wr wr;
    char field[6] = {'a', 'b', 'c', 'd', 'e', 'f'}; /* not terminated */

    proto_wr_init(&wr, 100);
    proto_put_str_max(&wr, "abcde", 5);
    ck_assert_int_eq(wr.err, 0);
    ck_assert_uint_eq(wr.len, 7);
    proto_put_str_max(&wr, field, 5);
    ck_assert_int_eq(wr.err, SG_ETOOBIG);
    ck_assert_uint_eq(wr.len, 7);
    proto_wr_free(&wr);

    proto_wr_init(&wr, 100);
    proto_put_str(&wr, "");
    ck_assert_int_eq(wr.err, 0);
    ck_assert_uint_eq(wr.len, 2);
    proto_wr_free(&wr);
}
END_TEST

START_TEST(wr_done_empty)
{
    proto_wr wr;
    uint8_t *out = NULL;
    size_t len = 7;

    proto_wr_init(&wr, 0);
    ck_assert_int_eq(proto_wr_done(&wr, &out, &len), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(len, 0);
    free(out);
    proto_put_u8(&wr, 1);
    ck_assert_int_eq(wr.err, SG_ETOOBIG);
}
END_TEST

/* ---- header ---- */

START_TEST(header_bitcoin_genesis)
{
    /* Bitcoin's genesis block header. */
    static const char *hex =
        "0100000000000000000000000000000000000000000000000000000000000000"
        "000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa"
        "4b1e5e4a29ab5f49ffff001d1dac2b7c";
    uint8_t raw[80], again[80];
    proto_header h;

    tu_unhex(hex, raw, sizeof raw);
    proto_header_decode(raw, &h);
    ck_assert_uint_eq(h.version, 1);
    ck_assert_uint_eq(h.time, 1231006505u);
    ck_assert_uint_eq(h.bits, 0x1d00ffffu);
    ck_assert_uint_eq(h.nonce, 2083236893u);
    ck_assert_uint_eq(h.merkle[0], 0x3b);
    ck_assert_uint_eq(h.merkle[31], 0x4a);
    for (int i = 0; i < 32; i++)
        ck_assert_uint_eq(h.prev[i], 0);
    proto_header_encode(&h, again);
    ck_assert_mem_eq(raw, again, 80);
}
END_TEST

/* ---- transactions ---- */

static void make_tx(proto_tx *tx, uint8_t kind, uint64_t *seed, uint32_t fills)
{
    memset(tx, 0, sizeof *tx);
    tx->version = PROTO_TX_VERSION;
    tx->kind = kind;
    tu_fill(tx->from, 32, seed);
    tx->nonce = tu_rand(seed);
    tu_fill(tx->sig, 64, seed);
    switch (kind) {
    case PROTO_TX_COINBASE:
    case PROTO_TX_TRANSFER:
        tu_fill(tx->u.pay.to, 32, seed);
        tx->u.pay.amount = tu_rand(seed);
        break;
    case PROTO_TX_OFFER:
    case PROTO_TX_BID:
        tx->u.order.interval = tu_rand(seed);
        tx->u.order.energy_wh = tu_rand(seed);
        tx->u.order.price = tu_rand(seed);
        break;
    case PROTO_TX_SETTLEMENT:
        tx->u.settle.interval = tu_rand(seed);
        tx->u.settle.clearing_price = tu_rand(seed);
        tx->u.settle.n_fills = fills;
        tx->u.settle.fills = fills ? calloc(fills, sizeof(proto_fill)) : NULL;
        for (uint32_t i = 0; i < fills; i++) {
            tu_fill(tx->u.settle.fills[i].order, 32, seed);
            tx->u.settle.fills[i].traded_wh = tu_rand(seed);
            tx->u.settle.fills[i].trade_price = tu_rand(seed);
            tx->u.settle.fills[i].grid_wh = tu_rand(seed);
        }
        break;
    }
}

static void assert_tx_eq(const proto_tx *a, const proto_tx *b)
{
    ck_assert_uint_eq(a->version, b->version);
    ck_assert_uint_eq(a->kind, b->kind);
    ck_assert_mem_eq(a->from, b->from, 32);
    ck_assert_uint_eq(a->nonce, b->nonce);
    ck_assert_mem_eq(a->sig, b->sig, 64);
    if (a->kind != PROTO_TX_SETTLEMENT) {
        ck_assert_mem_eq(&a->u, &b->u, sizeof a->u);
        return;
    }
    ck_assert_uint_eq(a->u.settle.interval, b->u.settle.interval);
    ck_assert_uint_eq(a->u.settle.clearing_price, b->u.settle.clearing_price);
    ck_assert_uint_eq(a->u.settle.n_fills, b->u.settle.n_fills);
    if (a->u.settle.n_fills > 0)
        ck_assert_mem_eq(a->u.settle.fills, b->u.settle.fills,
                         a->u.settle.n_fills * sizeof(proto_fill));
}

static size_t tx_body_size(uint8_t kind, uint32_t fills)
{
    switch (kind) {
    case PROTO_TX_COINBASE:
    case PROTO_TX_TRANSFER:
        return 40;
    case PROTO_TX_OFFER:
    case PROTO_TX_BID:
        return 24;
    default:
        return 20 + (size_t)fills * 56;
    }
}

/* Decodes copies of every proper prefix (each in a buffer of exactly that
 * size, so ASan sees any overread) and the encoding plus one byte. */
static void tx_assert_rejects_damaged(const uint8_t *enc, size_t len)
{
    for (size_t k = 0; k < len; k++) {
        uint8_t *buf = malloc(k ? k : 1);
        proto_tx tx;
        memcpy(buf, enc, k);
        ck_assert_int_eq(proto_tx_decode(buf, k, &tx), SG_ETRUNC);
        proto_tx_free(&tx);
        free(buf);
    }
    uint8_t *buf = malloc(len + 1);
    proto_tx tx;
    memcpy(buf, enc, len);
    buf[len] = 0;
    ck_assert_int_eq(proto_tx_decode(buf, len + 1, &tx), SG_ETRAILING);
    proto_tx_free(&tx);
    free(buf);
}

START_TEST(tx_round_trip_every_kind)
{
    static const uint8_t kinds[] = {PROTO_TX_COINBASE, PROTO_TX_TRANSFER,
                                    PROTO_TX_OFFER, PROTO_TX_BID,
                                    PROTO_TX_SETTLEMENT, PROTO_TX_SETTLEMENT};
    uint64_t seed = 42;

    for (size_t i = 0; i < sizeof kinds; i++) {
        uint32_t fills = i == 4 ? 0 : 3;
        proto_tx tx, back;
        uint8_t *enc, *again;
        size_t len, len2;

        make_tx(&tx, kinds[i], &seed, fills);
        ck_assert_int_eq(proto_tx_encode(&tx, &enc, &len), 0);
        ck_assert_uint_eq(len, 42 + tx_body_size(kinds[i], fills) + 64);
        ck_assert_uint_eq(enc[0], PROTO_TX_VERSION);
        ck_assert_uint_eq(enc[1], kinds[i]);
        ck_assert_int_eq(proto_tx_decode(enc, len, &back), 0);
        assert_tx_eq(&tx, &back);
        ck_assert_int_eq(proto_tx_encode(&back, &again, &len2), 0);
        ck_assert_uint_eq(len, len2);
        ck_assert_mem_eq(enc, again, len);
        tx_assert_rejects_damaged(enc, len);
        free(again);
        free(enc);
        proto_tx_free(&back);
        proto_tx_free(&tx);
    }
}
END_TEST

START_TEST(tx_unsigned_bytes)
{
    uint64_t seed = 7;
    proto_tx tx;
    proto_wr signed_wr, bare_wr;

    make_tx(&tx, PROTO_TX_OFFER, &seed, 0);
    proto_wr_init(&signed_wr, PROTO_TX_MAX_SIZE);
    proto_wr_init(&bare_wr, PROTO_TX_MAX_SIZE);
    proto_tx_write(&signed_wr, &tx, 1);
    proto_tx_write(&bare_wr, &tx, 0);
    ck_assert_int_eq(signed_wr.err, 0);
    ck_assert_int_eq(bare_wr.err, 0);
    ck_assert_uint_eq(bare_wr.len + 64, signed_wr.len);
    ck_assert_mem_eq(bare_wr.p, signed_wr.p, bare_wr.len);
    ck_assert_mem_eq(signed_wr.p + bare_wr.len, tx.sig, 64);
    proto_wr_free(&signed_wr);
    proto_wr_free(&bare_wr);
}
END_TEST

START_TEST(tx_rejects_bad_version_and_kind)
{
    uint64_t seed = 9;
    proto_tx tx, back;
    uint8_t *enc;
    size_t len;

    make_tx(&tx, PROTO_TX_TRANSFER, &seed, 0);
    ck_assert_int_eq(proto_tx_encode(&tx, &enc, &len), 0);
    enc[0] = 2;
    ck_assert_int_eq(proto_tx_decode(enc, len, &back), SG_EINVAL);
    enc[0] = 0;
    ck_assert_int_eq(proto_tx_decode(enc, len, &back), SG_EINVAL);
    enc[0] = PROTO_TX_VERSION;
    for (unsigned k = PROTO_TX_SETTLEMENT + 1; k < 256; k++) {
        enc[1] = (uint8_t)k;
        ck_assert_int_eq(proto_tx_decode(enc, len, &back), SG_EINVAL);
    }
    free(enc);

    uint8_t *out = (uint8_t *)1;
    tx.version = 2;
    ck_assert_int_eq(proto_tx_encode(&tx, &out, &len), SG_EINVAL);
    ck_assert_ptr_null(out);
    tx.version = PROTO_TX_VERSION;
    tx.kind = 5;
    ck_assert_int_eq(proto_tx_encode(&tx, &out, &len), SG_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(tx_settlement_fill_cap)
{
    uint64_t seed = 11;
    proto_tx tx, back;
    uint8_t *enc, *out;
    size_t len;

    make_tx(&tx, PROTO_TX_SETTLEMENT, &seed, PROTO_SETTLE_MAX_FILLS);
    ck_assert_int_eq(proto_tx_encode(&tx, &enc, &len), 0);
    ck_assert_uint_le(len, PROTO_TX_MAX_SIZE);
    ck_assert_int_eq(proto_tx_decode(enc, len, &back), 0);
    assert_tx_eq(&tx, &back);
    proto_tx_free(&back);

    /* One fill too many, with its bytes present: refused by the count. */
    uint8_t *big = malloc(len + 56);
    memcpy(big, enc, 42 + 16);
    proto_le32_put(big + 42 + 16, PROTO_SETTLE_MAX_FILLS + 1);
    memset(big + 42 + 20, 0x55, len + 56 - (42 + 20));
    ck_assert_int_eq(proto_tx_decode(big, len + 56, &back), SG_ETOOBIG);
    ck_assert_ptr_null(back.u.settle.fills);
    /* A huge count with almost no bytes: truncation, found before any
     * allocation for the fills. */
    proto_le32_put(big + 42 + 16, PROTO_SETTLE_MAX_FILLS);
    ck_assert_int_eq(proto_tx_decode(big, 42 + 20 + 64, &back), SG_ETRUNC);
    free(big);
    free(enc);

    tx.u.settle.n_fills = PROTO_SETTLE_MAX_FILLS + 1;
    ck_assert_int_eq(proto_tx_encode(&tx, &out, &len), SG_ETOOBIG);
    tx.u.settle.n_fills = PROTO_SETTLE_MAX_FILLS;
    proto_tx_free(&tx);
}
END_TEST

START_TEST(tx_copy_is_deep)
{
    uint64_t seed = 13;
    proto_tx tx, cp;

    make_tx(&tx, PROTO_TX_SETTLEMENT, &seed, 4);
    ck_assert_int_eq(proto_tx_copy(&cp, &tx), 0);
    ck_assert_ptr_ne(cp.u.settle.fills, tx.u.settle.fills);
    assert_tx_eq(&tx, &cp);
    proto_tx_free(&tx);
    /* The copy outlives the original (ASan would flag a shared pointer). */
    ck_assert_uint_eq(cp.u.settle.n_fills, 4);
    cp.u.settle.fills[3].grid_wh++;
    proto_tx_free(&cp);
    proto_tx_free(&cp); /* freeing twice is harmless: free zeroes */

    make_tx(&tx, PROTO_TX_BID, &seed, 0);
    ck_assert_int_eq(proto_tx_copy(&cp, &tx), 0);
    assert_tx_eq(&tx, &cp);
    proto_tx_free(&cp);
}
END_TEST

/* ---- blocks ---- */

static void make_block(proto_block *b, uint32_t n, uint64_t *seed)
{
    memset(b, 0, sizeof *b);
    b->header.version = 1;
    tu_fill(b->header.prev, 32, seed);
    tu_fill(b->header.merkle, 32, seed);
    b->header.time = (uint32_t)tu_rand(seed);
    b->header.bits = 0x1f00ffff;
    b->header.nonce = (uint32_t)tu_rand(seed);
    b->n_txs = n;
    b->txs = n ? calloc(n, sizeof *b->txs) : NULL;
    for (uint32_t i = 0; i < n; i++)
        make_tx(&b->txs[i], (uint8_t)(i % 5), seed, i % 3);
}

START_TEST(block_round_trip)
{
    uint64_t seed = 21;

    for (uint32_t n = 0; n <= 6; n += 6) {
        proto_block b, back;
        uint8_t *enc, *again;
        size_t len, len2;

        make_block(&b, n, &seed);
        ck_assert_int_eq(proto_block_encode(&b, &enc, &len), 0);
        ck_assert_int_eq(proto_block_decode(enc, len, &back), 0);
        ck_assert_mem_eq(&b.header, &back.header, sizeof b.header);
        ck_assert_uint_eq(back.n_txs, n);
        for (uint32_t i = 0; i < n; i++)
            assert_tx_eq(&b.txs[i], &back.txs[i]);
        ck_assert_int_eq(proto_block_encode(&back, &again, &len2), 0);
        ck_assert_uint_eq(len, len2);
        ck_assert_mem_eq(enc, again, len);
        proto_block_free(&back);

        for (size_t k = 0; k < len; k++) {
            uint8_t *buf = malloc(k ? k : 1);
            proto_block bad;
            memcpy(buf, enc, k);
            ck_assert_int_eq(proto_block_decode(buf, k, &bad), SG_ETRUNC);
            ck_assert_ptr_null(bad.txs);
            proto_block_free(&bad);
            free(buf);
        }
        uint8_t *buf = malloc(len + 1);
        memcpy(buf, enc, len);
        buf[len] = 0xee;
        ck_assert_int_eq(proto_block_decode(buf, len + 1, &back), SG_ETRAILING);
        ck_assert_ptr_null(back.txs);
        proto_block_free(&back); /* decode freed it already; still safe */
        free(buf);
        free(again);
        free(enc);
        proto_block_free(&b);
    }
}
END_TEST

START_TEST(block_rejects_counts)
{
    uint64_t seed = 23;
    proto_block b, back;
    uint8_t *enc;
    size_t len;

    make_block(&b, 0, &seed);
    ck_assert_int_eq(proto_block_encode(&b, &enc, &len), 0);
    ck_assert_uint_eq(len, 84);

    /* A claimed 20000 txs in 84 bytes: truncated, nothing allocated. */
    proto_le32_put(enc + 80, PROTO_BLOCK_MAX_TXS);
    ck_assert_int_eq(proto_block_decode(enc, len, &back), SG_ETRUNC);
    ck_assert_ptr_null(back.txs);
    proto_le32_put(enc + 80, PROTO_BLOCK_MAX_TXS + 1);
    ck_assert_int_eq(proto_block_decode(enc, len, &back), SG_ETOOBIG);
    proto_le32_put(enc + 80, UINT32_MAX);
    ck_assert_int_eq(proto_block_decode(enc, len, &back), SG_ETOOBIG);
    free(enc);

    b.n_txs = PROTO_BLOCK_MAX_TXS + 1;
    ck_assert_int_eq(proto_block_encode(&b, &enc, &len), SG_ETOOBIG);
    b.n_txs = 0;
    proto_block_free(&b);
}
END_TEST

START_TEST(block_bad_tx_frees_everything)
{
    uint64_t seed = 25;
    proto_block b, back;
    uint8_t *enc;
    size_t len, off = PROTO_HEADER_SIZE + 4;

    /* tx 4 is a settlement with a fill: memory is held when tx 6 fails. */
    make_block(&b, 8, &seed);
    ck_assert_uint_eq(b.txs[4].kind, PROTO_TX_SETTLEMENT);
    ck_assert_uint_eq(b.txs[4].u.settle.n_fills, 1);
    ck_assert_int_eq(proto_block_encode(&b, &enc, &len), 0);
    for (int i = 0; i < 6; i++) {
        uint8_t *one;
        size_t n1;
        ck_assert_int_eq(proto_tx_encode(&b.txs[i], &one, &n1), 0);
        off += n1;
        free(one);
    }
    ck_assert_uint_eq(enc[off + 1], b.txs[6].kind);
    enc[off + 1] = 9;
    ck_assert_int_eq(proto_block_decode(enc, len, &back), SG_EINVAL);
    ck_assert_ptr_null(back.txs);
    ck_assert_uint_eq(back.n_txs, 0);
    free(enc);
    proto_block_free(&b);
}
END_TEST

START_TEST(block_size_cap)
{
    proto_block back;
    uint8_t *big = calloc(1, PROTO_BLOCK_MAX_SIZE + 1);
    ck_assert_int_eq(proto_block_decode(big, PROTO_BLOCK_MAX_SIZE + 1, &back),
                     SG_ETOOBIG);
    free(big);
}
END_TEST

Suite *proto_suite(void)
{
    Suite *s = suite_create("proto");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, rd_little_endian);
    tcase_add_test(tc, rd_past_end_is_sticky);
    tcase_add_test(tc, rd_view_and_trailing);
    tcase_add_test(tc, rd_strings);
    tcase_add_test(tc, rd_count);
    tcase_add_test(tc, wr_round_trip);
    tcase_add_test(tc, wr_cap_is_sticky);
    tcase_add_test(tc, wr_grows_to_exact_cap);
    tcase_add_test(tc, wr_strings);
    tcase_add_test(tc, wr_done_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("block");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, header_bitcoin_genesis);
    tcase_add_test(tc, tx_round_trip_every_kind);
    tcase_add_test(tc, tx_unsigned_bytes);
    tcase_add_test(tc, tx_rejects_bad_version_and_kind);
    tcase_add_test(tc, tx_settlement_fill_cap);
    tcase_add_test(tc, tx_copy_is_deep);
    tcase_add_test(tc, block_round_trip);
    tcase_add_test(tc, block_rejects_counts);
    tcase_add_test(tc, block_bad_tx_frees_everything);
    tcase_add_test(tc, block_size_cap);
    suite_add_tcase(s, tc);
    return s;
}
