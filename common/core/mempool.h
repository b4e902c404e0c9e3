/*
 * mempool.h - transactions waiting for a block.
 *
 * Per account, transactions are held in nonce order; a block template takes
 * each account's run of consecutive nonces starting at its ledger nonce.
 * Bounded by count and bytes (adds beyond them fail with SG_EFULL).  The
 * pool owns copies of what it holds.  Signatures are checked on add, so the
 * template builder need not check them again; with a signature cache
 * (mempool_set_sigcache) a valid one is remembered there, so the block
 * that later carries the transaction is not checked twice.
 */
#ifndef SG_MEMPOOL_H
#define SG_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>
#include "common/core/ledger.h"
#include "common/core/sigcache.h"

#define MEMPOOL_NONCE_WINDOW 256  /* nonces accepted ahead of the ledger */

typedef struct mempool mempool;

int mempool_new(mempool **out, size_t max_txs, size_t max_bytes);
void mempool_free(mempool *mp);
/* Borrowed: sc (may be NULL) must outlive the pool or be unset first. */
void mempool_set_sigcache(mempool *mp, sigcache *sc);
/* Checks signature (chain_id), nonce not below the account's and within the
 * window, no duplicate txid or (account, nonce).  Coinbase is refused
 * (SG_ECOINBASE), and so is a settlement not from the genesis operator key
 * (SG_ESETTLE): neither could ever apply, whatever the state. */
int mempool_add(mempool *mp, const proto_tx *tx, const uint8_t txid[32],
                const ledger *tip, const uint8_t chain_id[32]);
/* mempool_add for a transaction whose signature the caller has checked
 * against this chain (sigcache_check_detached on another thread): every
 * other check, without checking it again. */
int mempool_add_verified(mempool *mp, const proto_tx *tx, const uint8_t txid[32],
                         const ledger *tip);
/* The first nonce from `base` on that the pool holds no transaction of
 * `from` for: past the run of consecutive nonces it holds. */
uint64_t mempool_next_nonce(const mempool *mp, const uint8_t from[32], uint64_t base);
/* mempool_add's checks that come before the signature, none of which
 * changes anything: 0 or what add would refuse the transaction with
 * whatever its signature.  Lets a caller skip checking the signature of
 * one add would refuse.  The (account, nonce) duplicate is not among them:
 * add checks it after the signature, so a tampered copy of a pooled
 * transaction is refused as SG_EBADSIG (the sender's fault). */
int mempool_precheck(const mempool *mp, const proto_tx *tx, const uint8_t txid[32],
                     const ledger *tip);
int mempool_has(const mempool *mp, const uint8_t txid[32]);
const proto_tx *mempool_get(const mempool *mp, const uint8_t txid[32]);
void mempool_remove(mempool *mp, const uint8_t txid[32]);
/* Drops what the new tip state makes impossible: nonce already used, or an
 * offer, bid or settlement for a market interval already settled. */
void mempool_prune(mempool *mp, const ledger *tip);
/* The same for one account's nonces only: what a block that settled no
 * interval can have made impossible (the whole pool is not walked). */
void mempool_prune_account(mempool *mp, const ledger *tip, const uint8_t from[32]);
size_t mempool_count(const mempool *mp);
size_t mempool_bytes(const mempool *mp);
/* Picks up to max_txs transactions (max_bytes of encodings) that apply in
 * sequence on `tip` at `height` (tried with ledger_apply_tx and rolled
 * back, so tip is unchanged on return).  Deterministic: transactions are
 * tried in arrival order, each account's run of consecutive nonces taken
 * as soon as its first applies, with a few passes so one that another
 * account's transaction enables still gets in.  *out is an array of deep
 * copies the caller frees with proto_tx_free each and free(); NULL when
 * *n is 0.  ids (may be NULL): *ids gets their txids, in the same order,
 * freed with free() (so a template need not hash them again). */
int mempool_select(mempool *mp, ledger *tip, uint64_t height, size_t max_txs,
                   size_t max_bytes, proto_tx **out, uint8_t (**ids)[32], size_t *n);
/* Iterates txids in unspecified order (for inventory to a new peer). */
int mempool_next(const mempool *mp, size_t *iter, const uint8_t **txid);

#endif
