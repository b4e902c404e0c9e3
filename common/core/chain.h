/*
 * chain.h - block index, most-work fork choice, reorganisation, orphans.
 *
 * A chain owns: the index of every valid block it has seen (any branch), the
 * ledger at the active tip with undo journals for connected blocks, the
 * mempool, a signature cache shared with the mempool (sigcache.h), a
 * bounded orphan pool and (with a data_dir) the block store.
 *
 * Acceptance of a block: decode, context-free checks (size, PoW against its
 * own bits, which must be the chain's fixed bits or, when retargeting, a
 * target within asert_pow_limit; merkle root, coinbase placement,
 * tx_check), parent known (else it waits in the orphan pool and the caller
 * is told which parent to fetch), bits exactly asert_next_bits of the
 * parent (SG_EBADPOW otherwise), time above the median of the previous 11
 * (SG_ETIME) and not more than chain_max_future_secs ahead of `now`
 * (SG_EFUTURE: not invalid, only early; nothing about it is remembered, so
 * the same block is taken once the clock has caught up, as Bitcoin does);
 * then it is written to the store (fsync, or later: sync_later) and indexed.  Each block's work
 * comes from its own bits.  If its branch has more cumulative work than the
 * active tip (ties: the first seen stays), the chain reorganises: blocks
 * back to the fork are disconnected with their undo journals and their
 * transactions return to the mempool; the new branch is connected block by
 * block with full ledger validation.  A block failing there is marked
 * invalid with its descendants and the best valid branch is restored.
 *
 * Events: optional callbacks see every connect and disconnect in order,
 * so daemons can announce, record and count stale blocks.
 * Single-threaded: call from one thread (the daemon's loop).
 */
#ifndef SG_CHAIN_H
#define SG_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include "common/core/ledger.h"
#include "common/core/mempool.h"
#include "common/core/pow.h"

#define CHAIN_MAX_FUTURE_SECS 7200     /* fixed difficulty */
#define CHAIN_FUTURE_INTERVALS 6       /* retargeting: this many intervals */
#define CHAIN_FUTURE_MIN_SECS 12       /* ... but at least this */
#define CHAIN_MEDIAN_SPAN 11
#define CHAIN_ORPHAN_MAX 256
/* Connected blocks this far below the tip keep the journal that undoes
 * them (each holds what its block changed: ~100 KB for 200 orders and their
 * settlement, so memory grew with the chain); a reorg reaching below them
 * rebuilds the state at the fork from genesis instead, reading the blocks
 * back from the store: rare, slower, and the same result. */
#define CHAIN_UNDO_KEEP 100
#define CHAIN_MEMPOOL_TXS 50000
#define CHAIN_MEMPOOL_BYTES (64u * 1024 * 1024)

enum chain_entry_status {
    CHAIN_ENTRY_VALID = 0,    /* passed checks; may or may not be active */
    CHAIN_ENTRY_INVALID = 1,  /* failed full validation (or a parent did) */
};

typedef struct chain_entry {
    uint8_t hash[32];
    proto_header header;
    uint32_t height;
    u256 chainwork;           /* sum of work from genesis through this block */
    struct chain_entry *parent;
    uint64_t seq;             /* arrival order; lower wins ties */
    uint64_t store_offset;    /* record in blocks.dat; UINT64_MAX for genesis */
    uint32_t n_txs;
    uint8_t status;           /* enum chain_entry_status */
    uint8_t active;           /* on the active chain */
} chain_entry;

typedef struct chain chain;

/* b and its txids (b->n_txs of them) are lent for the call only. */
typedef void (*chain_block_cb)(void *ctx, const chain_entry *e,
                               const proto_block *b, const uint8_t (*txids)[32]);

typedef struct {
    const chain_params *params;   /* must outlive the chain */
    const char *data_dir;         /* NULL: memory only (tests) */
    chain_block_cb on_connect;    /* optional */
    chain_block_cb on_disconnect; /* optional */
    void *cb_ctx;
    uint32_t undo_keep;           /* 0: CHAIN_UNDO_KEEP (tests go lower) */
    /* Blocks are stored without fsync; the owner calls chain_sync when
     * chain_sync_due says so (store.h: store_sync_later). */
    int sync_later;
} chain_config;

typedef struct {
    uint64_t blocks_loaded;       /* replayed from the store */
    uint64_t dropped_bytes;       /* torn tail cut from the store */
    uint64_t rejected;            /* stored blocks that no longer validate */
} chain_load_report;

enum chain_outcome {
    CHAIN_NEW_TIP = 1,            /* the tip moved (maybe by a reorg) */
    CHAIN_SIDE = 2,               /* stored on a branch with less work */
    CHAIN_ORPHANED = 3,           /* held until `missing` arrives */
    CHAIN_KNOWN = 4,              /* already had it */
};

typedef struct {
    int outcome;                  /* enum chain_outcome when rc == 0 */
    uint8_t hash[32];             /* the submitted block's hash */
    uint8_t missing[32];          /* ORPHANED: the parent to ask for */
    uint32_t disconnected;        /* blocks taken off the active chain */
    uint32_t connected;           /* blocks put on it (incl. adopted orphans) */
} chain_result;

/* Loads the store (if data_dir), replays it through the same rules (the
 * future-time rule aside), and reports what it found.  The callbacks fire
 * during the replay too. */
int chain_open(chain **out, const chain_config *cfg, chain_load_report *rep);
void chain_free(chain *c);

/* rc 0 with res->outcome, or a negative rule violation (the sender
 * misbehaved).  `now` is unix seconds for the future-time rule.  A block
 * already known to be invalid gives SG_EINVALID again.  A block
 * found invalid only while connecting its branch is kept in the index as
 * CHAIN_ENTRY_INVALID (with its descendants) and its rule is returned; res
 * still counts any tip movement.  SG_ENOMEM / SG_EIO are local failures,
 * not the sender's.  Callbacks fire from inside this call and must not
 * call back into the chain's mutating functions. */
int chain_submit_block(chain *c, const uint8_t *bytes, size_t len,
                       uint64_t now, chain_result *res);
/* The rules a header alone can be held to (for relaying a block before its
 * transactions are checked): PoW against its own bits (and bits plausible),
 * parent indexed and valid, bits exactly asert_next_bits of the parent,
 * time above the median of the previous 11 and not past `now` plus
 * chain_max_future_secs.  0, SG_ENOTFOUND (parent unknown: not a fault),
 * SG_EINVALID (parent invalid), SG_EBADPOW, SG_ETIME or SG_EFUTURE, the
 * codes chain_submit_block gives for the same rules. */
int chain_check_header(const chain *c, const proto_header *h, uint64_t now);
/* Into the mempool against the tip state. */
int chain_submit_tx(chain *c, const proto_tx *tx, uint8_t txid[32]);
/* The same with the txid already computed (it must be tx_id(tx)): for a
 * caller that needed it before, to skip what it already has. */
int chain_admit_tx(chain *c, const proto_tx *tx, const uint8_t txid[32]);
/* chain_admit_tx for a transaction whose signature was checked elsewhere
 * with chain_sig_keyer's keyer and found good (key: its cache key): not
 * checked again, and remembered for the block that will carry it. */
int chain_admit_verified_tx(chain *c, const proto_tx *tx, const uint8_t txid[32],
                            const uint8_t key[32]);
/* chain_admit_tx's checks but the signature and the pool's bounds
 * (mempool_precheck): 0 or the refusal admitting it now would give. */
int chain_precheck_tx(chain *c, const proto_tx *tx, const uint8_t txid[32]);

const chain_entry *chain_tip(const chain *c);
const chain_entry *chain_genesis(const chain *c);
/* Any indexed block, invalid ones included (check status); NULL if none. */
const chain_entry *chain_lookup(const chain *c, const uint8_t hash[32]);
/* Block at height on the active chain, or NULL. */
const chain_entry *chain_at_height(const chain *c, uint32_t height);
/* Count of indexed valid blocks not on the active chain. */
uint64_t chain_stale_count(const chain *c);
/* Blocks waiting in the orphan pool for their parent (<= CHAIN_ORPHAN_MAX). */
size_t chain_orphan_count(const chain *c);
const uint8_t *chain_id(const chain *c);

/* Wire bytes of a stored block; *out freed with free(). */
int chain_block_bytes(chain *c, const uint8_t hash[32], uint8_t **out, size_t *len);
/* The same for any indexed block, invalid ones included: a block relayed
 * before it was found invalid can still be rebuilt (and found invalid) by
 * the peers it went to. */
int chain_block_bytes_any(chain *c, const uint8_t hash[32], uint8_t **out, size_t *len);
/* Bitcoin-style locator of the active chain: up to max hashes, dense near
 * the tip then exponentially sparse, genesis last. */
size_t chain_locator(const chain *c, uint8_t (*out)[32], size_t max);
/* Hashes of active-chain blocks after the first locator hash we know (or
 * genesis), up to max, stopping after `stop` if non-zero. */
size_t chain_after_locator(const chain *c, const uint8_t (*loc)[32], size_t n,
                           const uint8_t stop[32], uint8_t (*out)[32], size_t max);

/* With sync_later: 1 once blocks were stored since the last call (a
 * chain_sync is due).  The chain's thread. */
int chain_sync_due(chain *c);
/* fsync of the block store (SG_OK without one, or SG_EIO).  Safe on
 * another thread while the chain is used (it touches only the store's
 * descriptor); the chain must outlive the call. */
int chain_sync(chain *c);

ledger *chain_ledger(chain *c);
mempool *chain_mempool(chain *c);
/* Hits and misses of the signature cache the chain and its mempool share. */
void chain_sigcache_stats(const chain *c, sigcache_stats *out);
/* For checking signatures on another thread (sigcache_check_detached),
 * whose good verdicts chain_admit_verified_tx then remembers. */
void chain_sig_keyer(const chain *c, sigcache_keyer *out);

/* Seconds a block's time may be ahead of the receiving node's clock. */
uint64_t chain_max_future_secs(const chain_params *p);

/* A block template on the tip: coinbase to `miner`, mempool transactions
 * that apply, merkle root, time max(now, median + 1), the bits the retarget
 * rule gives the tip's child, nonce 0.
 * b is freed with proto_block_free. */
int chain_template(chain *c, const uint8_t miner[32], uint64_t now,
                   size_t max_txs, proto_block *b);

#endif
