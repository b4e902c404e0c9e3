/*
 * block.h - wire form of block headers, transactions and blocks.
 *
 * Plain data, no meaning: hashing, signatures and rules live in common/.
 * Every decoder is bounds-checked and rejects truncated input (SG_ETRUNC),
 * counts over their caps (SG_ETOOBIG), unknown kinds (SG_EINVAL) and
 * trailing bytes (SG_ETRAILING).  Encodings are canonical: decode(encode(x))
 * == x and encode(decode(b)) == b for every accepted b.
 *
 * Units: energy in Wh, money in micro-units, prices in micro-units per kWh.
 */
#ifndef PROTO_BLOCK_H
#define PROTO_BLOCK_H

#include <stddef.h>
#include <stdint.h>
#include "proto/buf.h"

#define PROTO_HEADER_SIZE 80
#define PROTO_PUBKEY_SIZE 32
#define PROTO_SIG_SIZE 64
#define PROTO_HASH_SIZE 32
#define PROTO_TX_MAX_SIZE (64u * 1024)
#define PROTO_SETTLE_MAX_FILLS 1024
#define PROTO_BLOCK_MAX_TXS 20000
#define PROTO_BLOCK_MAX_SIZE (3u * 1024 * 1024)  /* fits one frame */
#define PROTO_TX_VERSION 1

/* Bitcoin's 80-byte header, fields in wire order. */
typedef struct {
    uint32_t version;
    uint8_t prev[32];
    uint8_t merkle[32];
    uint32_t time;
    uint32_t bits;
    uint32_t nonce;
} proto_header;

enum proto_tx_kind {
    PROTO_TX_COINBASE = 0,
    PROTO_TX_TRANSFER = 1,
    PROTO_TX_OFFER = 2,      /* sell surplus: energy_wh at >= price */
    PROTO_TX_BID = 3,        /* buy deficit: energy_wh at <= price */
    PROTO_TX_SETTLEMENT = 4, /* operator clears one market interval */
};

/* One order's outcome inside a settlement.  traded_wh moved peer to peer at
 * trade_price; grid_wh went to or came from the grid (feed-in price for an
 * offer, retail price for a bid). */
typedef struct {
    uint8_t order[32];       /* txid of the offer or bid */
    uint64_t traded_wh;
    uint64_t trade_price;
    uint64_t grid_wh;
} proto_fill;

typedef struct {
    uint8_t version;         /* PROTO_TX_VERSION */
    uint8_t kind;            /* enum proto_tx_kind */
    uint8_t from[32];        /* signer; zero for coinbase */
    uint64_t nonce;          /* account nonce; block height for coinbase */
    union {
        struct { uint8_t to[32]; uint64_t amount; } pay; /* coinbase, transfer */
        struct { uint64_t interval; uint64_t energy_wh; uint64_t price; } order;
        struct {
            uint64_t interval;
            uint64_t clearing_price;
            uint32_t n_fills;
            proto_fill *fills; /* owned; freed by proto_tx_free */
        } settle;
    } u;
    uint8_t sig[64];         /* zero for coinbase */
} proto_tx;

typedef struct {
    proto_header header;
    uint32_t n_txs;
    proto_tx *txs;           /* owned; freed by proto_block_free */
} proto_block;

void proto_header_encode(const proto_header *h, uint8_t out[PROTO_HEADER_SIZE]);
void proto_header_decode(const uint8_t in[PROTO_HEADER_SIZE], proto_header *h);

/* Appends the encoding; with_sig = 0 gives the bytes a signature covers. */
void proto_tx_write(proto_wr *wr, const proto_tx *tx, int with_sig);
/* Reads one tx from a stream (used inside blocks); on error tx is freed. */
int proto_tx_read(proto_rd *rd, proto_tx *tx);
int proto_tx_encode(const proto_tx *tx, uint8_t **out, size_t *len);
int proto_tx_decode(const uint8_t *in, size_t len, proto_tx *tx);
/* Deep copy; dst must be freed with proto_tx_free. */
int proto_tx_copy(proto_tx *dst, const proto_tx *src);
void proto_tx_free(proto_tx *tx);

int proto_block_encode(const proto_block *b, uint8_t **out, size_t *len);
int proto_block_decode(const uint8_t *in, size_t len, proto_block *b);
void proto_block_free(proto_block *b);

#endif
