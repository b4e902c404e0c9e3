/*
 * cblock.h - compact blocks (in the manner of BIP152): the short ids that
 * stand for a block's transactions, the compact form of a block, and the
 * rebuilding of a block from its compact form, the mempool and the
 * transactions a peer sends for what the mempool lacked.
 *
 * Short ids.  The key is the first 16 bytes of SHA-256(header ‖ nonce, the
 * nonce as u64 little-endian); a transaction's short id is SipHash-2-4
 * (libsodium's crypto_shorthash) of its txid under that key, low 48 bits.
 * Keying per block (header) and per sender (nonce) means a collision found
 * for one block is worthless for the next; a collision that does happen
 * costs only a round trip, never a wrong block: a rebuilt block whose
 * merkle root does not match is refused here (SG_EMERKLE) and the caller
 * asks for the whole block.  At 48 bits and a 50,000-transaction mempool, a
 * false match in a 1000-transaction block has odds near 1 in 5.6 million.
 *
 * Rebuilding.  cblock_partial_init places the prefilled transactions and
 * every mempool transaction whose short id the block lists; a short id
 * two mempool transactions share is left missing (asked for, as BIP152
 * does), and two equal short ids inside one block refuse the compact form
 * (SG_EDUP: ask for the whole block).  cblock_partial_fill takes the
 * missing ones in index order (a BLOCKTXN answer); cblock_partial_finish
 * writes the block's wire bytes once nothing is missing and the merkle
 * root matches.  Nothing here judges the block: that is the chain's job
 * once the bytes are whole.
 *
 * Ownership.  A cblock_partial owns copies of every transaction's bytes
 * (the mempool may change during the round trip); free it with
 * cblock_partial_free (safe on a zeroed struct).  Not thread-safe; pure
 * computation, no I/O.
 */
#ifndef SG_CBLOCK_H
#define SG_CBLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "common/core/mempool.h"
#include "proto/cmpct.h"

#define CBLOCK_KEY_SIZE 16

void cblock_key(const proto_header *h, uint64_t nonce, uint8_t key[CBLOCK_KEY_SIZE]);
uint64_t cblock_shortid(const uint8_t key[CBLOCK_KEY_SIZE], const uint8_t txid[32]);

/* The compact form of b (txids: its transactions' ids, in order): the
 * coinbase (index 0) prefilled as a deep copy, every other transaction by
 * short id.  out is freed with proto_cmpctblock_free. */
int cblock_build(const proto_block *b, const uint8_t (*txids)[32], uint64_t nonce,
                 proto_cmpctblock *out);
/* The same from a block's wire bytes (decodes it and hashes its
 * transactions). */
int cblock_build_bytes(const uint8_t *bytes, size_t len, uint64_t nonce,
                       proto_cmpctblock *out);

typedef struct {
    proto_header header;
    uint32_t n;                   /* transactions in the block */
    uint8_t (*txids)[32];         /* owned, n; zero where missing */
    uint8_t **bytes;              /* owned, n; NULL where missing */
    size_t *lens;
    uint8_t *state;               /* owned, n; private */
    uint32_t n_missing;
    uint32_t n_from_pool;         /* matched in the mempool */
} cblock_partial;

/* 0 (check n_missing), SG_EDUP (short ids collide within the block),
 * SG_ENOMEM or an encoding failure. */
int cblock_partial_init(cblock_partial *pb, const proto_cmpctblock *cb, const mempool *mp);
/* The missing indexes, increasing, into out (room for n_missing). */
uint32_t cblock_partial_missing(const cblock_partial *pb, uint32_t *out);
/* The missing transactions in index order; SG_EINVAL unless exactly
 * n_missing are given. */
int cblock_partial_fill(cblock_partial *pb, const proto_tx *txs, uint32_t n);
/* The block's wire bytes (*out freed with free()): SG_EINVAL while some
 * are missing, SG_EMERKLE if the root does not match, SG_ETOOBIG over the
 * block size cap. */
int cblock_partial_finish(const cblock_partial *pb, uint8_t **out, size_t *len);
void cblock_partial_free(cblock_partial *pb);

#endif
