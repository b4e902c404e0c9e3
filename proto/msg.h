/*
 * msg.h - the messages daemons, the launcher and tools exchange.
 *
 * Each message is one frame (frame.h): the type byte is enum proto_msg_type,
 * the payload is the encoding below.  Before the handshake completes only
 * HELLO and AUTH travel in clear; afterwards every message is wrapped in a
 * SEALED frame whose payload is the AEAD ciphertext of (type byte, payload).
 * The sealing is net/'s business; proto only knows the bytes.
 *
 * Decoders fill caller-owned structs.  Variable-length lists are bounded by
 * the PROTO_*_MAX caps and point into memory owned by the struct, released
 * with the matching *_free (safe on a zeroed or failed struct).  Decoders
 * reject truncated input, counts over the caps and trailing bytes.
 */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "proto/block.h"

#define PROTO_VERSION 1
#define PROTO_NAME_MAX 64
#define PROTO_INV_MAX 1000
#define PROTO_LOCATOR_MAX 64
#define PROTO_HEADERS_MAX 2000
#define PROTO_ADDR_MAX 1000
#define PROTO_STATS_MAX 256
#define PROTO_STAT_KEY_MAX 32
#define PROTO_STAT_STR_MAX 255
#define PROTO_LOG_LINE_MAX 4000
#define PROTO_REASON_MAX 255
/* Most bytes of a block store one STORE_DATA carries (a larger ask is cut). */
#define PROTO_STORE_READ_MAX (1u << 20)
/* Transactions one TXS carries at most. */
#define PROTO_TXS_MAX 1000
/* Latency records one TXLAT reply carries at most (48 bytes each). */
#define PROTO_TXLAT_MAX 1000
/* Peer names one PARTITION carries at most. */
#define PROTO_PARTITION_MAX 1024
/* Longest adversary role name. */
#define PROTO_ROLE_NAME_MAX 32

enum proto_msg_type {
    PROTO_MSG_HELLO = 1,
    PROTO_MSG_AUTH = 2,
    PROTO_MSG_SEALED = 3,
    PROTO_MSG_PING = 10,
    PROTO_MSG_PONG = 11,
    PROTO_MSG_INV = 12,
    PROTO_MSG_GETDATA = 13,
    PROTO_MSG_NOTFOUND = 14,
    PROTO_MSG_TX = 15,        /* payload: proto_tx encoding */
    PROTO_MSG_BLOCK = 16,     /* payload: proto_block encoding */
    PROTO_MSG_GETHEADERS = 17,
    PROTO_MSG_HEADERS = 18,
    PROTO_MSG_GETBLOCKS = 19, /* answered by INV of the blocks after the fork */
    PROTO_MSG_ADDR = 20,
    PROTO_MSG_GETADDR = 21,   /* empty payload */
    PROTO_MSG_TXS = 26,       /* several transactions: a GETDATA answer */
    PROTO_MSG_STATS_REQ = 30, /* empty payload */
    PROTO_MSG_STATS = 31,
    PROTO_MSG_LOG_SUB = 32,
    PROTO_MSG_LOG_LINE = 33,
    PROTO_MSG_SHUTDOWN = 34,  /* empty payload */
    PROTO_MSG_REJECT = 35,
    PROTO_MSG_STORE_READ = 36, /* control: the daemon's blocks.dat from an offset */
    PROTO_MSG_STORE_DATA = 37, /* control: the answer to STORE_READ */
    PROTO_MSG_TXLAT_REQ = 38,  /* control, empty payload: drain latency records */
    PROTO_MSG_TXLAT = 39,      /* control: the answer to TXLAT_REQ */
    PROTO_MSG_MINING = 40,     /* control: stop (0) or start (1) mining */
    PROTO_MSG_MINING_ACK = 41, /* control: the answer to MINING, the state now */
    PROTO_MSG_PARTITION = 42,  /* control: the peer names not to be linked to */
    PROTO_MSG_PARTITION_ACK = 43, /* control: the answer, names now refused */
    PROTO_MSG_HASHRATE = 44,   /* control: the mining cap, hashes/s (0: none) */
    PROTO_MSG_HASHRATE_ACK = 45, /* control: the answer, the cap now */
    PROTO_MSG_ADVERSARY = 46,  /* control: switch an adversary role on */
    PROTO_MSG_ADVERSARY_ACK = 47, /* control: the answer, 1 if it is on */
};

/* Returns 1 if the type byte names a known message. */
int proto_msg_type_known(uint8_t type);
const char *proto_msg_type_name(uint8_t type);

enum proto_link { PROTO_LINK_PEER = 0, PROTO_LINK_CONTROL = 1 };

typedef struct {
    uint32_t version;
    uint8_t link;                  /* enum proto_link */
    uint8_t role;                  /* node role; meaning set by common/ */
    uint8_t chain_id[32];          /* genesis hash: peers of other chains refused */
    uint8_t identity[32];          /* Ed25519 public key */
    uint8_t kx_pub[32];            /* ephemeral X25519 key for this session */
    uint8_t challenge[32];         /* random, binds the transcript */
    uint16_t listen_port;          /* 0 if not listening */
    char name[PROTO_NAME_MAX + 1];
} proto_hello;

typedef struct {
    uint8_t mac[32];               /* proves the cluster key over the transcript */
    uint8_t sig[64];               /* identity key's signature of the transcript */
} proto_auth;

typedef struct { uint64_t nonce; } proto_ping; /* PING and PONG */

enum proto_inv_kind { PROTO_INV_TX = 1, PROTO_INV_BLOCK = 2 };

typedef struct {
    uint8_t kind;                  /* enum proto_inv_kind */
    uint8_t hash[32];
} proto_inv_item;

typedef struct {                   /* INV, GETDATA, NOTFOUND */
    uint32_t n;
    proto_inv_item *items;         /* owned */
} proto_inv;

typedef struct {                   /* GETHEADERS, GETBLOCKS */
    uint32_t n;
    uint8_t (*hashes)[32];         /* owned; newest first */
    uint8_t stop[32];              /* zero = as many as allowed */
} proto_locator;

typedef struct {
    uint32_t n;
    proto_header *headers;         /* owned */
} proto_headers;

typedef struct {
    uint8_t family;                /* 4 or 6 */
    uint8_t addr[16];              /* IPv4 in the first 4 bytes */
    uint16_t port;
} proto_addr_item;

typedef struct {
    uint32_t n;
    proto_addr_item *items;        /* owned */
} proto_addr;

enum proto_stat_kind { PROTO_STAT_INT = 0, PROTO_STAT_STR = 1 };

typedef struct {
    char key[PROTO_STAT_KEY_MAX + 1];
    uint8_t kind;                  /* enum proto_stat_kind */
    int64_t i;
    char s[PROTO_STAT_STR_MAX + 1];
} proto_stat;

typedef struct {
    uint32_t n;
    proto_stat *items;             /* owned */
} proto_stats;

typedef struct { uint8_t min_level; } proto_log_sub;

typedef struct {
    uint8_t level;
    uint64_t time_ms;
    char text[PROTO_LOG_LINE_MAX + 1];
} proto_log_line;

typedef struct {
    uint8_t code;                  /* why, as a small number */
    char reason[PROTO_REASON_MAX + 1];
} proto_reject;

/* STORE_READ: up to max bytes of the daemon's block store (store.h)
 * from offset; the daemon answers with at most PROTO_STORE_READ_MAX. */
typedef struct {
    uint64_t offset;
    uint32_t max;
} proto_store_read;

/* STORE_DATA: the bytes at offset (len of them, possibly 0 at or past the
 * end; bytes never reach past file_size) and the file's size when they
 * were read.  data is a view: decode
 * points it into the input buffer, so it lives as long as that buffer. */
typedef struct {
    uint64_t offset;
    uint64_t file_size;
    uint32_t len;                  /* <= PROTO_STORE_READ_MAX */
    const uint8_t *data;
} proto_store_data;

/* One transaction the daemon created: when it broadcast it and when a
 * block holding it first connected to its chain (its own wall clock, unix
 * ms; included_ms >= broadcast_ms, decoders refuse the reverse). */
typedef struct {
    uint8_t txid[32];
    uint64_t broadcast_ms;
    uint64_t included_ms;
} proto_txlat_rec;

/* TXLAT: the records measured since the previous TXLAT_REQ (oldest
 * first, at most PROTO_TXLAT_MAX; `left` more are waiting: ask again), and
 * the daemon's lifetime count of records it could not keep. */
typedef struct {
    uint64_t dropped;
    uint32_t left;
    uint32_t n;
    proto_txlat_rec *items;        /* owned */
} proto_txlat;

/* MINING and MINING_ACK: one byte, 0 (off) or 1 (on); anything else is
 * refused both ways.  The request asks for a state, the ack tells the
 * state the daemon is in after it (the same, as requests are idempotent). */
typedef struct { uint8_t on; } proto_mining;

/* TXS: u32 n (1..PROTO_TXS_MAX), then n proto_tx encodings (signatures
 * included) back to back, as in a block.  Carries the transactions one
 * GETDATA asked for in one frame instead of one TX frame each. */
typedef struct {
    uint32_t n;
    proto_tx *txs;                 /* owned, with their heap parts */
} proto_txs;
/* PARTITION: the node names (as their daemons send them in HELLO) this
 * daemon must not be linked to, replacing the earlier set; an empty list
 * heals.  u32 count, then each name as a string of at most PROTO_NAME_MAX
 * bytes, none empty.  PARTITION_ACK is a u32: how many names are refused
 * now. */
typedef struct {
    uint32_t n;
    char (*names)[PROTO_NAME_MAX + 1];   /* owned */
} proto_partition;

/* HASHRATE and HASHRATE_ACK: one u64, the mining cap in hashes/s, 0 for
 * none; the ack tells the cap the daemon applies after the request. */
typedef struct { uint64_t rate; } proto_hashrate;

/* ADVERSARY: one string, the role's name (1..PROTO_ROLE_NAME_MAX bytes);
 * ADVERSARY_ACK: one byte, 1 when the role is on, 0 when refused. */
typedef struct { char role[PROTO_ROLE_NAME_MAX + 1]; } proto_adversary;

/* Encoders return 0 or SG_ETOOBIG/SG_ENOMEM; *out is freed with free(). */
int proto_hello_encode(const proto_hello *m, uint8_t **out, size_t *len);
int proto_hello_decode(const uint8_t *in, size_t len, proto_hello *m);
int proto_auth_encode(const proto_auth *m, uint8_t **out, size_t *len);
int proto_auth_decode(const uint8_t *in, size_t len, proto_auth *m);
int proto_ping_encode(const proto_ping *m, uint8_t **out, size_t *len);
int proto_ping_decode(const uint8_t *in, size_t len, proto_ping *m);
int proto_inv_encode(const proto_inv *m, uint8_t **out, size_t *len);
int proto_inv_decode(const uint8_t *in, size_t len, proto_inv *m);
void proto_inv_free(proto_inv *m);
int proto_locator_encode(const proto_locator *m, uint8_t **out, size_t *len);
int proto_locator_decode(const uint8_t *in, size_t len, proto_locator *m);
void proto_locator_free(proto_locator *m);
int proto_headers_encode(const proto_headers *m, uint8_t **out, size_t *len);
int proto_headers_decode(const uint8_t *in, size_t len, proto_headers *m);
void proto_headers_free(proto_headers *m);
int proto_addr_encode(const proto_addr *m, uint8_t **out, size_t *len);
int proto_addr_decode(const uint8_t *in, size_t len, proto_addr *m);
void proto_addr_free(proto_addr *m);
int proto_stats_encode(const proto_stats *m, uint8_t **out, size_t *len);
int proto_stats_decode(const uint8_t *in, size_t len, proto_stats *m);
void proto_stats_free(proto_stats *m);
int proto_log_sub_encode(const proto_log_sub *m, uint8_t **out, size_t *len);
int proto_log_sub_decode(const uint8_t *in, size_t len, proto_log_sub *m);
int proto_log_line_encode(const proto_log_line *m, uint8_t **out, size_t *len);
int proto_log_line_decode(const uint8_t *in, size_t len, proto_log_line *m);
int proto_reject_encode(const proto_reject *m, uint8_t **out, size_t *len);
int proto_reject_decode(const uint8_t *in, size_t len, proto_reject *m);
int proto_store_read_encode(const proto_store_read *m, uint8_t **out, size_t *len);
int proto_store_read_decode(const uint8_t *in, size_t len, proto_store_read *m);
/* Refuses len over the cap and bytes reaching past file_size. */
int proto_store_data_encode(const proto_store_data *m, uint8_t **out, size_t *len);
int proto_store_data_decode(const uint8_t *in, size_t len, proto_store_data *m);
int proto_txlat_encode(const proto_txlat *m, uint8_t **out, size_t *len);
int proto_txlat_decode(const uint8_t *in, size_t len, proto_txlat *m);
void proto_txlat_free(proto_txlat *m);
/* From n pointers (1..PROTO_TXS_MAX), so a caller can send what another
 * structure owns (a mempool's entries) without copying it. */
int proto_txs_encode(const proto_tx *const *txs, uint32_t n, uint8_t **out, size_t *len);
int proto_txs_decode(const uint8_t *in, size_t len, proto_txs *m);
void proto_txs_free(proto_txs *m);
int proto_mining_encode(const proto_mining *m, uint8_t **out, size_t *len);
int proto_mining_decode(const uint8_t *in, size_t len, proto_mining *m);
int proto_partition_encode(const proto_partition *m, uint8_t **out, size_t *len);
int proto_partition_decode(const uint8_t *in, size_t len, proto_partition *m);
void proto_partition_free(proto_partition *m);
/* PARTITION_ACK: the count of names refused. */
int proto_u32_encode(uint32_t v, uint8_t **out, size_t *len);
int proto_u32_decode(const uint8_t *in, size_t len, uint32_t *v);
int proto_hashrate_encode(const proto_hashrate *m, uint8_t **out, size_t *len);
int proto_hashrate_decode(const uint8_t *in, size_t len, proto_hashrate *m);
int proto_adversary_encode(const proto_adversary *m, uint8_t **out, size_t *len);
int proto_adversary_decode(const uint8_t *in, size_t len, proto_adversary *m);
/* For the empty-payload messages (GETADDR, STATS_REQ, SHUTDOWN, TXLAT_REQ). */
int proto_empty_decode(const uint8_t *in, size_t len);

#endif
