/*
 * sigcache.h - transaction signatures already verified, so a transaction
 * checked when it entered the mempool is not checked again when the block
 * holding it arrives (Bitcoin Core's signature cache).
 *
 * An entry is a keyed BLAKE2b hash, under a random per-cache salt, of the
 * exact inputs of the Ed25519 check: the signed message (tx_sig_message:
 * domain tag, chain id and the encoding without signature, which holds
 * `from`, the public key) followed by the 64-byte signature.  A hit
 * therefore means this very (key, message, signature) triple verified
 * here before; any other transaction, a tampered signature, or the same
 * payload on another chain has another key and is verified in full.  The
 * key is computed from the transaction itself, never from a txid the
 * caller hands in.  The salt keeps peers from choosing transactions whose
 * keys crowd one corner of the hash table.
 *
 * Bounded: at most max_entries keys (about 110 bytes each), the oldest
 * forgotten first; memory grows with use, so an idle daemon pays nothing.
 * Only successful checks are remembered.  Not thread-safe: one owner (the
 * chain, on the daemon's loop).
 */
#ifndef SG_SIGCACHE_H
#define SG_SIGCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "proto/block.h"

/* Above the chain's mempool bound (CHAIN_MEMPOOL_TXS), so an entry made on
 * admission is normally still there when a block takes the transaction;
 * at most about 7 MiB when full. */
#define SIGCACHE_DEFAULT_MAX 65536

typedef struct sigcache sigcache;

typedef struct {
    uint64_t hits;                /* checks answered from the cache */
    uint64_t misses;              /* checks that ran Ed25519 */
    uint64_t evicted;             /* entries dropped for room */
    size_t entries;
} sigcache_stats;

/* 0, SG_EINVAL (max_entries 0), SG_ENOMEM or SG_ECRYPTO. */
int sigcache_new(sigcache **out, size_t max_entries);
void sigcache_free(sigcache *sc);

/* tx_verify_sig with memory: 0, SG_EBADSIG, or tx_verify_sig's other
 * errors.  A coinbase is checked directly and never cached.  sc may be
 * NULL (a plain tx_verify_sig).  Failing to remember (no memory) only
 * costs a later re-check. */
int sigcache_verify(sigcache *sc, const proto_tx *tx, const uint8_t chain_id[32]);

void sigcache_get_stats(const sigcache *sc, sigcache_stats *out);

/* Checks on other threads (the daemon verifies batches on libuv's thread
 * pool): a keyer is a copy of the cache's salt, so it stays valid, and is
 * safe to share read-only, whatever becomes of the cache. */
typedef struct {
    uint8_t salt[32];
} sigcache_keyer;

void sigcache_get_keyer(const sigcache *sc, sigcache_keyer *out);
/* Thread-safe: the full Ed25519 check (0, SG_EBADSIG, or tx_verify_sig's
 * other errors) and, whatever the outcome, the entry's key for
 * sigcache_add.  A coinbase is refused (SG_EINVAL): it is never cached. */
int sigcache_check_detached(const sigcache_keyer *k, const proto_tx *tx,
                            const uint8_t chain_id[32], uint8_t key[32]);
/* Remembers a key sigcache_check_detached computed for a check that
 * succeeded, under the keyer of this very cache; the owner's thread only.
 * A key from another cache's keyer never matches anything. */
void sigcache_add(sigcache *sc, const uint8_t key[32]);

#endif
