/*
 * cmpct.h - wire form of compact block relay (in the manner of BIP152):
 * SENDCMPCT, CMPCTBLOCK, GETBLOCKTXN and BLOCKTXN payloads.
 *
 *   SENDCMPCT    u8 high_bandwidth (0 or 1), u64 version
 *   CMPCTBLOCK   header (80), u64 nonce, u32 n_short, n_short x 6-byte
 *                short ids (little-endian), u32 n_prefilled, n_prefilled x
 *                (u32 index, transaction)
 *   GETBLOCKTXN  block hash (32), u32 n, n x u32 index
 *   BLOCKTXN     block hash (32), u32 n, n x transaction
 *
 * Indexes are absolute positions in the block, strictly increasing (so
 * every list has one encoding and a decoder can refuse duplicates without
 * sorting); a compact block's short ids fill, in order, the positions its
 * prefilled transactions leave free.  What the short ids mean (SipHash-2-4
 * keyed per block) is common/core/cblock.h's business: proto only knows the
 * bytes.
 *
 * Decoders fill caller-owned structs whose lists they own, released with
 * the matching *_free (safe on a zeroed or refused struct); they refuse
 * truncation (SG_ETRUNC), counts over PROTO_BLOCK_MAX_TXS (SG_ETOOBIG),
 * indexes out of order or past the block (SG_EINVAL) and trailing bytes
 * (SG_ETRAILING).  Encoders refuse what decoders would refuse.
 */
#ifndef PROTO_CMPCT_H
#define PROTO_CMPCT_H

#include <stddef.h>
#include <stdint.h>
#include "proto/block.h"

#define PROTO_CMPCT_VERSION 1
#define PROTO_SHORTID_SIZE 6
#define PROTO_SHORTID_MASK 0xffffffffffffULL

typedef struct {
    uint8_t high_bandwidth;        /* 1: send me CMPCTBLOCK unasked */
    uint64_t version;              /* PROTO_CMPCT_VERSION */
} proto_sendcmpct;

typedef struct {
    uint32_t index;                /* position in the block */
    proto_tx tx;                   /* owned */
} proto_prefilled;

typedef struct {
    proto_header header;
    uint64_t nonce;                /* keys the short ids with the header */
    uint32_t n_short;
    uint64_t *short_ids;           /* owned; low 48 bits each */
    uint32_t n_prefilled;
    proto_prefilled *prefilled;    /* owned; indexes increasing */
} proto_cmpctblock;

typedef struct {
    uint8_t hash[32];              /* the block */
    uint32_t n;
    uint32_t *indexes;             /* owned; increasing */
} proto_getblocktxn;

typedef struct {
    uint8_t hash[32];              /* the block */
    uint32_t n;
    proto_tx *txs;                 /* owned; in the order asked */
} proto_blocktxn;

int proto_sendcmpct_encode(const proto_sendcmpct *m, uint8_t **out, size_t *len);
int proto_sendcmpct_decode(const uint8_t *in, size_t len, proto_sendcmpct *m);

int proto_cmpctblock_encode(const proto_cmpctblock *m, uint8_t **out, size_t *len);
int proto_cmpctblock_decode(const uint8_t *in, size_t len, proto_cmpctblock *m);
void proto_cmpctblock_free(proto_cmpctblock *m);
/* Transactions in the block the compact form stands for. */
static inline uint32_t proto_cmpctblock_count(const proto_cmpctblock *m)
{
    return m->n_short + m->n_prefilled;
}

int proto_getblocktxn_encode(const proto_getblocktxn *m, uint8_t **out, size_t *len);
int proto_getblocktxn_decode(const uint8_t *in, size_t len, proto_getblocktxn *m);
void proto_getblocktxn_free(proto_getblocktxn *m);

int proto_blocktxn_encode(const proto_blocktxn *m, uint8_t **out, size_t *len);
int proto_blocktxn_decode(const uint8_t *in, size_t len, proto_blocktxn *m);
void proto_blocktxn_free(proto_blocktxn *m);

#endif
