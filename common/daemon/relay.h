/*
 * relay.h - the peer protocol: gossip by inventory and block sync, binding
 * a chain (chain.h) to a net (net.h).
 *
 * Compact blocks.  New blocks go to the peers that asked for
 * high-bandwidth mode (three per node) as CMPCTBLOCK (header, short
 * transaction ids, the coinbase), rebuilt from the receiver's mempool,
 * forwarded before validation; see relay_int.h (relay_cmpct.c).
 *
 * Inventory.  New blocks and transactions are announced by hash (INV); a
 * peer asks with GETDATA for what it lacks and gets BLOCK / TX, or NOTFOUND.
 * The transactions one GETDATA asks for come back together, up to
 * RELAY_TXS_BATCH in one TXS frame (a lone one as TX).
 * Per peer the relay keeps a bounded set of hashes the peer is known to
 * have (it announced them, sent them, or we sent them), and never announces
 * those to it, so an item never goes back to the peer it came from.
 * Transactions accepted during one loop turn are announced to each peer in
 * one INV at the end of the turn (the net's turn hook, which relay_new
 * installs), not one INV each.  A new tip goes at once to the
 * high-bandwidth peers (a compact block) and to the others by INV: at once
 * for a block mined here, at the next relay_tick for one from a peer (most
 * of them have had it from their own high-bandwidth peers by then, and said
 * so; the rest are only a tick late).
 *
 * Sync.  When a peer link becomes READY both sides send GETBLOCKS with their
 * locator; the answer is an INV of up to RELAY_SYNC_BATCH block hashes after
 * the fork point.  Announced blocks we lack go into that peer's fetch queue
 * and are requested at most RELAY_BLOCKS_IN_FLIGHT at a time per peer, and
 * never from two peers at once.  When an answer listed several blocks,
 * reaching its last one asks for more with a fresh locator (an empty
 * answer ends the sync).  A request
 * unanswered for stall_ms is taken back from that peer and re-issued to
 * another one.  A block whose parent is unknown (the chain holds it as an
 * orphan) makes us send GETBLOCKS to its sender, at most once per
 * RELAY_GETBLOCKS_MIN_MS per peer (a later one is sent from relay_tick).
 *
 * Transactions in.  With a loop in the config, a transaction a peer sends
 * is decoded and hashed on the loop, dropped if the mempool has it or it
 * is already being checked, and its signature is checked on the libuv
 * thread pool in batches (txverify.h); the verdicts come back on the loop
 * in arrival order and the good ones enter the mempool then.  While more
 * than RELAY_VERIFY_HIGH transactions wait, every peer that sends one is
 * paused (net_peer_pause_input) until fewer than RELAY_VERIFY_LOW do, so
 * memory stays bounded.  Without a loop the check runs at once on the
 * loop.  Transactions made here (relay_submit_tx) are always checked at
 * once.
 *
 * Misbehaviour.  Undecodable messages, blocks breaking a consensus rule and
 * transactions with a bad signature or failing the stateless checks (a
 * settlement from anyone but the operator included) make the relay call
 * net_misbehave with the rule in words.  Transactions refused for
 * a state reason (nonce gap, balance, duplicate, full pool) are not the
 * sender's fault and are only logged at debug level.  A bad signature found
 * on the pool after its sender's link closed still bans the sender's
 * identity (net_misbehave_identity).
 *
 * The relay knows nothing of processes, threads, signals or mining: the
 * owner tells it about peer events and messages (from net's callbacks), and
 * it tells the owner when the tip moved or a transaction entered the pool.
 * Single-threaded: call everything on the loop's thread.
 *
 * Ownership.  The relay borrows the chain, net and logger (they must outlive
 * it) and owns its per-peer state, which it attaches with net_peer_set_data
 * on READY and frees on CLOSED.
 */
#ifndef SG_RELAY_H
#define SG_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/core/chain.h"
#include "common/daemon/log.h"
#include "common/daemon/net.h"

#define RELAY_BLOCKS_IN_FLIGHT 16     /* block requests outstanding per peer */
#define RELAY_STALL_MS 5000           /* a block request older is re-issued */
/* A transaction asked of one peer is asked of another that announced it
 * once this long passed without it (relay_txreq.h). */
#define RELAY_TX_ASK_MS 2000
#define RELAY_SYNC_BATCH 500          /* block hashes per GETBLOCKS answer */
#define RELAY_KNOWN_MAX 2048          /* inventory remembered per peer (~10 s at 200 tx/s) */
#define RELAY_FETCH_MAX 4096          /* block hashes queued per peer */
#define RELAY_GETBLOCKS_MIN_MS 500    /* orphan-triggered GETBLOCKS spacing */
#define RELAY_MEMPOOL_INV_MAX 1000    /* txids announced to a new peer */
#define RELAY_BANNED_NAMES_MAX 250    /* fits one stats string */
#define RELAY_TXS_BATCH 500           /* transactions per TXS answer */
#define RELAY_TXS_BYTES (512u * 1024) /* ... and about this many bytes */
#define RELAY_VERIFY_HIGH 2048        /* transactions waiting for a check */
#define RELAY_VERIFY_LOW 1024         /* ... before paused peers resume */
/* GETDATA answers stop (NOTFOUND for the rest) once this much is queued. */
#define RELAY_SEND_BACKLOG_MAX (8u * 1024 * 1024)

typedef struct relay relay;

typedef struct {
    chain *chain;
    net *net;
    logger *log;                      /* may be NULL */
    /* Non-NULL: the loop whose thread pool checks incoming transactions'
     * signatures (the chain's and net's loop); NULL: checked at once. */
    uv_loop_t *loop;
    uint32_t stall_ms;                /* 0 = RELAY_STALL_MS */
    /* The active tip moved (new block, reorg): rebuild mining work. */
    void (*on_tip)(void *ctx);
    /* A transaction entered the mempool. */
    void (*on_tx)(void *ctx);
    /* Optional, for adversaries (adv.h): a block a peer sent was taken
     * (res->outcome NEW_TIP or SIDE); and blocks kept to ourselves, which
     * are never announced, served, or listed in GETBLOCKS answers (a
     * GETBLOCKS answer stops at the first one). */
    void (*on_peer_block)(void *ctx, const chain_result *res);
    int (*hidden)(void *ctx, const uint8_t hash[32]);
    void *ctx;
} relay_config;

typedef struct {
    uint64_t blocks_in;               /* BLOCK messages received */
    uint64_t blocks_requested;        /* GETDATA block items sent */
    uint64_t blocks_served;           /* BLOCK messages sent */
    uint64_t txs_in;
    uint64_t txs_dup;                 /* already in the pool or being checked */
    uint64_t txs_checked;             /* signatures checked on the pool */
    uint64_t verify_pauses;           /* peers paused for a full check queue */
    size_t txs_verifying;             /* waiting for or in the check */
    uint64_t stalls;                  /* requests re-issued after a stall */
    uint64_t orphans;                 /* blocks that arrived before parents */
    uint64_t misbehaved;              /* peers we called net_misbehave on */
    uint64_t rejected_blocks;         /* blocks refused for breaking a rule */
    uint64_t rejected_txs;            /* transactions refused as the sender's fault */
    size_t in_flight;                 /* block requests outstanding, all peers */
    /* Compact block relay (relay_int.h). */
    uint64_t cmpct_in;                /* CMPCTBLOCKs of blocks new to us */
    uint64_t cmpct_redundant;         /* ... of blocks we had or were rebuilding */
    uint64_t cmpct_rebuilt;           /* blocks rebuilt from the mempool alone */
    uint64_t cmpct_blocktxn;          /* ... after one GETBLOCKTXN round trip */
    uint64_t cmpct_fallback;          /* given up: the whole block asked for */
    uint64_t cmpct_early;             /* forwarded before validation */
    uint64_t cmpct_sent;              /* CMPCTBLOCK messages sent */
} relay_stats;

/* 0, SG_EINVAL or SG_ENOMEM. */
int relay_new(relay **out, const relay_config *cfg);
/* Call once the net has closed (every CLOSED event has freed its peer's
 * state). */
void relay_free(relay *r);

/* Forward net's on_peer and on_msg here. */
void relay_peer_event(relay *r, net_peer *p, enum net_event ev);
void relay_peer_msg(relay *r, net_peer *p, uint8_t type,
                    const uint8_t *payload, size_t len);
/* Stall detection, deferred GETBLOCKS and the tip's INVs; call every few
 * hundred ms (the daemon: every 200) with
 * uv_hrtime() / 1000000 (the clock request times are taken from). */
void relay_tick(relay *r, uint64_t now_ms);

/* A block made here (mined): submitted to the chain and announced if it
 * became the tip.  Returns chain_submit_block's rc, res filled. */
int relay_submit_block(relay *r, const uint8_t *bytes, size_t len,
                       chain_result *res);
/* The same, but never announced (a selfish miner's private block); the
 * owner still hears on_tip. */
int relay_submit_block_withheld(relay *r, const uint8_t *bytes, size_t len,
                                chain_result *res);
/* Announces blocks we have (oldest first) in one INV per peer not known
 * to have them: how withheld blocks are published. */
void relay_announce_blocks(relay *r, const uint8_t (*hashes)[32], size_t n);
/* Calls fn for every peer link that is READY, i counting from 0. */
void relay_each_peer(relay *r, void (*fn)(void *ctx, net_peer *p, size_t i), void *ctx);
/* Names of the peers we banned (misbehaviour), space-separated, each once,
 * at most RELAY_BANNED_NAMES_MAX characters (later ones are left out). */
const char *relay_banned_names(const relay *r);

/* A transaction made here: into the mempool and announced.  0 or the
 * chain's refusal. */
int relay_submit_tx(relay *r, const proto_tx *tx, uint8_t txid[32]);

/* Sends tx straight to one READY peer as a TX message, bypassing the
 * mempool and the inventory (the peer is noted as knowing it, so it is
 * never announced there later).  The adversary roles (adv_tx.h) use it to
 * show different peers different transactions.  0, or the encoder's or
 * net_send's error. */
int relay_send_tx_to(relay *r, net_peer *p, const proto_tx *tx);

void relay_get_stats(const relay *r, relay_stats *out);

#endif
