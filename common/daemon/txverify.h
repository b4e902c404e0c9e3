/*
 * txverify.h - transaction signatures checked in batches on libuv's thread
 * pool, the verdicts handed back on the loop in the order the transactions
 * were submitted.
 *
 * The loop submits each transaction as it arrives (txv_submit); they are
 * gathered into batches of up to cfg.batch, and a batch goes to the pool
 * when it is full or when the owner calls txv_flush (at the end of a loop
 * turn).  A pool thread runs the full Ed25519 check of every transaction of
 * a batch (sigcache_check_detached, with a copy of the signature cache's
 * salt) and touches nothing else: no chain, no mempool, no peer.  Batches
 * may finish in any order; the verdicts are delivered (cfg.on_done, on the
 * loop) only from the oldest batch on, so one sender's transactions that
 * arrived in nonce order are admitted in that order, and the mempool sees
 * the arrival order it would have seen without the pool.
 *
 * Each transaction carries its submitter's tag (the relay's peer) and
 * identity.  A submitter that goes away is forgotten (txv_forget): its
 * items are still checked and delivered, with `from` NULL, so a bad
 * signature can still be charged to its identity.
 *
 * Memory: everything submitted and not yet delivered (txv_pending) is held
 * here; the owner bounds it (the relay pauses reading from a peer above a
 * mark).  Not thread-safe apart from what the pool does internally: call
 * everything on the loop's thread.
 *
 * Ownership.  txv_submit takes the transaction (its heap parts included);
 * the item passed to on_done is valid during the call only.  on_done may
 * call txv_submit, txv_forget (a verdict that closes its submitter's link)
 * and the queries, never txv_free.  txv_free with
 * batches still on the pool leaves them to finish: the loop must keep
 * running until they are back (uv_run does, they are active requests),
 * and then the last one frees what is left; no on_done is called after
 * txv_free.
 */
#ifndef SG_TXVERIFY_H
#define SG_TXVERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/core/sigcache.h"
#include "proto/block.h"

#define TXV_BATCH 64                  /* transactions per pool job */

typedef struct txv txv;

typedef struct {
    proto_tx tx;                      /* owned by txv */
    uint8_t txid[32];
    uint8_t key[32];                  /* signature cache key of the check */
    int rc;                           /* the check: 0, SG_EBADSIG, ... */
    void *from;                       /* submitter's tag; NULL once forgotten */
    uint8_t from_id[32];              /* submitter's identity */
} txv_item;

typedef void (*txv_done_cb)(void *ctx, txv_item *it);

typedef struct {
    uv_loop_t *loop;
    sigcache_keyer keyer;
    uint8_t chain_id[32];
    uint32_t batch;                   /* 0 = TXV_BATCH */
    txv_done_cb on_done;
    void *ctx;
} txv_config;

/* 0, SG_EINVAL (no loop or callback) or SG_ENOMEM. */
int txv_new(txv **out, const txv_config *cfg);
void txv_free(txv *v);

/* Takes *tx (left zeroed, whatever the outcome): 0, SG_EDUP (that txid is
 * pending already) or SG_ENOMEM.  from_id may be NULL (all zero). */
int txv_submit(txv *v, proto_tx *tx, const uint8_t txid[32], void *from,
               const uint8_t from_id[32]);
/* Sends the batch being gathered to the pool, if any. */
void txv_flush(txv *v);
/* Whether a transaction is submitted and its verdict not yet delivered. */
int txv_has(const txv *v, const uint8_t txid[32]);
/* Transactions submitted and not yet delivered. */
size_t txv_pending(const txv *v);
/* The submitter is gone: its pending items get `from` NULL. */
void txv_forget(txv *v, const void *from);

#endif
