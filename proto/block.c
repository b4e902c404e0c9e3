/*
 * block.c - wire form of headers, transactions and blocks.
 *
 * Encoders refuse what decoders would refuse (bad version or kind, counts
 * over the caps), so any bytes we send are bytes we accept: the encoding is
 * canonical in both directions.
 */
#include "proto/block.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

#define FILL_SIZE (32 + 8 + 8 + 8)
/* version, kind, from, nonce */
#define TX_HEAD_SIZE (1 + 1 + 32 + 8)
/* The smallest body is an empty settlement (interval, price, n_fills);
 * used to refuse a tx count that the remaining bytes cannot hold. */
#define TX_MIN_SIZE (TX_HEAD_SIZE + 8 + 8 + 4 + PROTO_SIG_SIZE)

void proto_header_encode(const proto_header *h, uint8_t out[PROTO_HEADER_SIZE])
{
    proto_le32_put(out, h->version);
    memcpy(out + 4, h->prev, 32);
    memcpy(out + 36, h->merkle, 32);
    proto_le32_put(out + 68, h->time);
    proto_le32_put(out + 72, h->bits);
    proto_le32_put(out + 76, h->nonce);
}

void proto_header_decode(const uint8_t in[PROTO_HEADER_SIZE], proto_header *h)
{
    h->version = proto_le32_get(in);
    memcpy(h->prev, in + 4, 32);
    memcpy(h->merkle, in + 36, 32);
    h->time = proto_le32_get(in + 68);
    h->bits = proto_le32_get(in + 72);
    h->nonce = proto_le32_get(in + 76);
}

static int tx_kind_known(uint8_t kind)
{
    return kind <= PROTO_TX_SETTLEMENT;
}

static void write_settle(proto_wr *wr, const proto_tx *tx)
{
    uint32_t n = tx->u.settle.n_fills;

    proto_put_u64(wr, tx->u.settle.interval);
    proto_put_u64(wr, tx->u.settle.clearing_price);
    if (n > PROTO_SETTLE_MAX_FILLS) {
        if (wr->err == 0)
            wr->err = SG_ETOOBIG;
        return;
    }
    if (n > 0 && tx->u.settle.fills == NULL) {
        if (wr->err == 0)
            wr->err = SG_EINVAL;
        return;
    }
    proto_put_u32(wr, n);
    for (uint32_t i = 0; i < n; i++) {
        const proto_fill *f = &tx->u.settle.fills[i];
        proto_put_bytes(wr, f->order, 32);
        proto_put_u64(wr, f->traded_wh);
        proto_put_u64(wr, f->trade_price);
        proto_put_u64(wr, f->grid_wh);
    }
}

static void write_body(proto_wr *wr, const proto_tx *tx)
{
    switch (tx->kind) {
    case PROTO_TX_COINBASE:
    case PROTO_TX_TRANSFER:
        proto_put_bytes(wr, tx->u.pay.to, 32);
        proto_put_u64(wr, tx->u.pay.amount);
        break;
    case PROTO_TX_OFFER:
    case PROTO_TX_BID:
        proto_put_u64(wr, tx->u.order.interval);
        proto_put_u64(wr, tx->u.order.energy_wh);
        proto_put_u64(wr, tx->u.order.price);
        break;
    case PROTO_TX_SETTLEMENT:
        write_settle(wr, tx);
        break;
    }
}

void proto_tx_write(proto_wr *wr, const proto_tx *tx, int with_sig)
{
    size_t start = wr->len;

    if (tx->version != PROTO_TX_VERSION || !tx_kind_known(tx->kind)) {
        if (wr->err == 0)
            wr->err = SG_EINVAL;
        return;
    }
    proto_put_u8(wr, tx->version);
    proto_put_u8(wr, tx->kind);
    proto_put_bytes(wr, tx->from, 32);
    proto_put_u64(wr, tx->nonce);
    write_body(wr, tx);
    if (with_sig)
        proto_put_bytes(wr, tx->sig, PROTO_SIG_SIZE);
    if (wr->err == 0 && wr->len - start > PROTO_TX_MAX_SIZE)
        wr->err = SG_ETOOBIG;
}

static int read_settle(proto_rd *rd, proto_tx *tx)
{
    uint32_t n;

    tx->u.settle.interval = proto_get_u64(rd);
    tx->u.settle.clearing_price = proto_get_u64(rd);
    n = proto_get_u32(rd);
    if (proto_rd_count(rd, n, PROTO_SETTLE_MAX_FILLS, FILL_SIZE) != 0)
        return rd->err;
    if (n == 0)
        return 0;
    tx->u.settle.fills = calloc(n, sizeof *tx->u.settle.fills);
    if (tx->u.settle.fills == NULL) {
        rd->err = SG_ENOMEM;
        return rd->err;
    }
    tx->u.settle.n_fills = n;
    for (uint32_t i = 0; i < n; i++) {
        proto_fill *f = &tx->u.settle.fills[i];
        proto_get_bytes(rd, f->order, 32);
        f->traded_wh = proto_get_u64(rd);
        f->trade_price = proto_get_u64(rd);
        f->grid_wh = proto_get_u64(rd);
    }
    return rd->err;
}

static int read_body(proto_rd *rd, proto_tx *tx)
{
    switch (tx->kind) {
    case PROTO_TX_COINBASE:
    case PROTO_TX_TRANSFER:
        proto_get_bytes(rd, tx->u.pay.to, 32);
        tx->u.pay.amount = proto_get_u64(rd);
        break;
    case PROTO_TX_OFFER:
    case PROTO_TX_BID:
        tx->u.order.interval = proto_get_u64(rd);
        tx->u.order.energy_wh = proto_get_u64(rd);
        tx->u.order.price = proto_get_u64(rd);
        break;
    case PROTO_TX_SETTLEMENT:
        return read_settle(rd, tx);
    }
    return rd->err;
}

int proto_tx_read(proto_rd *rd, proto_tx *tx)
{
    size_t start = rd->pos;

    memset(tx, 0, sizeof *tx);
    if (rd->err != 0)
        return rd->err;
    tx->version = proto_get_u8(rd);
    tx->kind = proto_get_u8(rd);
    if (rd->err == 0 &&
        (tx->version != PROTO_TX_VERSION || !tx_kind_known(tx->kind)))
        rd->err = SG_EINVAL;
    proto_get_bytes(rd, tx->from, 32);
    tx->nonce = proto_get_u64(rd);
    if (rd->err == 0)
        read_body(rd, tx);
    proto_get_bytes(rd, tx->sig, PROTO_SIG_SIZE);
    if (rd->err == 0 && rd->pos - start > PROTO_TX_MAX_SIZE)
        rd->err = SG_ETOOBIG;
    if (rd->err != 0) {
        /* kind may be garbage here; only a settlement owns memory. */
        if (tx->kind != PROTO_TX_SETTLEMENT)
            memset(tx, 0, sizeof *tx);
        proto_tx_free(tx);
    }
    return rd->err;
}

int proto_tx_encode(const proto_tx *tx, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, PROTO_TX_MAX_SIZE);
    proto_tx_write(&wr, tx, 1);
    return proto_wr_done(&wr, out, len);
}

int proto_tx_decode(const uint8_t *in, size_t len, proto_tx *tx)
{
    proto_rd rd;
    int rc;

    proto_rd_init(&rd, in, len);
    if ((rc = proto_tx_read(&rd, tx)) != 0)
        return rc;
    if ((rc = proto_rd_finish(&rd)) != 0)
        proto_tx_free(tx);
    return rc;
}

int proto_tx_copy(proto_tx *dst, const proto_tx *src)
{
    uint32_t n;
    proto_fill *fills;

    *dst = *src;
    if (src->kind != PROTO_TX_SETTLEMENT)
        return 0;
    n = src->u.settle.n_fills;
    dst->u.settle.fills = NULL;
    if (n == 0)
        return 0;
    if (src->u.settle.fills == NULL) {
        memset(dst, 0, sizeof *dst);
        return SG_EINVAL;
    }
    fills = malloc((size_t)n * sizeof *fills);
    if (fills == NULL) {
        memset(dst, 0, sizeof *dst);
        return SG_ENOMEM;
    }
    memcpy(fills, src->u.settle.fills, (size_t)n * sizeof *fills);
    dst->u.settle.fills = fills;
    return 0;
}

void proto_tx_free(proto_tx *tx)
{
    /* The union shares the fills pointer with other kinds' bytes, so only a
     * settlement may have it freed. */
    if (tx->kind == PROTO_TX_SETTLEMENT)
        free(tx->u.settle.fills);
    memset(tx, 0, sizeof *tx);
}

int proto_block_encode(const proto_block *b, uint8_t **out, size_t *len)
{
    proto_wr wr;
    uint8_t hdr[PROTO_HEADER_SIZE];

    *out = NULL;
    *len = 0;
    if (b->n_txs > PROTO_BLOCK_MAX_TXS)
        return SG_ETOOBIG;
    if (b->n_txs > 0 && b->txs == NULL)
        return SG_EINVAL;
    proto_wr_init(&wr, PROTO_BLOCK_MAX_SIZE);
    proto_header_encode(&b->header, hdr);
    proto_put_bytes(&wr, hdr, sizeof hdr);
    proto_put_u32(&wr, b->n_txs);
    for (uint32_t i = 0; i < b->n_txs && wr.err == 0; i++)
        proto_tx_write(&wr, &b->txs[i], 1);
    return proto_wr_done(&wr, out, len);
}

static int read_txs(proto_rd *rd, proto_block *b, uint32_t n)
{
    /* Vet the count against the bytes present before allocating, so a tiny
     * input cannot make us reserve room for PROTO_BLOCK_MAX_TXS txs. */
    if (proto_rd_count(rd, n, PROTO_BLOCK_MAX_TXS, TX_MIN_SIZE) != 0)
        return rd->err;
    if (n == 0)
        return 0;
    b->txs = calloc(n, sizeof *b->txs);
    if (b->txs == NULL) {
        rd->err = SG_ENOMEM;
        return rd->err;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (proto_tx_read(rd, &b->txs[i]) != 0)
            return rd->err;
        b->n_txs = i + 1;
    }
    return 0;
}

int proto_block_decode(const uint8_t *in, size_t len, proto_block *b)
{
    proto_rd rd;
    const uint8_t *hdr;
    int rc;

    memset(b, 0, sizeof *b);
    if (len > PROTO_BLOCK_MAX_SIZE)
        return SG_ETOOBIG;
    proto_rd_init(&rd, in, len);
    hdr = proto_get_view(&rd, PROTO_HEADER_SIZE);
    if (hdr != NULL)
        proto_header_decode(hdr, &b->header);
    uint32_t n = proto_get_u32(&rd);
    if ((rc = read_txs(&rd, b, n)) == 0)
        rc = proto_rd_finish(&rd);
    if (rc != 0)
        proto_block_free(b);
    return rc;
}

void proto_block_free(proto_block *b)
{
    if (b->txs != NULL)
        for (uint32_t i = 0; i < b->n_txs; i++)
            proto_tx_free(&b->txs[i]);
    free(b->txs);
    memset(b, 0, sizeof *b);
}
