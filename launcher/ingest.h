/*
 * ingest.h - follows every node's block store and turns what it finds into
 * database rows: blocks (stale or on the best chain), transactions, trades
 * and market intervals.
 *
 * Each node's data_dir/blocks.dat (store.h) is append-only and written
 * before a block is announced, so reading it from a remembered offset once
 * a second gives every block of every node's view, soon after it exists,
 * without any control message.  Records are read only when complete and
 * their checksum matches; a record still being written is retried on the
 * next poll.  The files are opened read-only and never locked.  A node on
 * another host has no file here: its bytes come through a read callback
 * instead (the launcher's control link, STORE_READ), window by window, with
 * the same checks; ingest itself knows no sockets.
 *
 * The launcher's own index over all views picks the best chain by most
 * work (fixed bits: the greatest height; ties go to the block seen first)
 * and re-puts the rows whose best-chain membership changes, so the
 * database follows reorganisations: blocks.stale, transactions.block_hash
 * and market_intervals.block_hash ("" off the best chain) always describe
 * the current best chain.  Trades are written once per settlement seen,
 * stale ones included; join them with transactions on settle_txid (and
 * block_hash <> '') for the best chain's trades.  Single-threaded.
 */
#ifndef LAUNCHER_INGEST_H
#define LAUNCHER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "launcher/db/db.h"
#include "common/core/params.h"

#define LAUNCHER_INGEST_MAX_NODES 1024

typedef struct ingest ingest;

typedef struct {
    uint64_t blocks;             /* distinct blocks seen */
    uint64_t stale;              /* of those, not on the best chain */
    uint64_t best_height;
    uint64_t txs;                /* transactions in best-chain blocks */
    uint64_t intervals;          /* settlements on the best chain */
    uint64_t last_price;         /* clearing price of the newest one */
    uint64_t last_traded_wh;     /* peer-to-peer Wh of the newest one */
    uint32_t best_bits;          /* target of the best tip (compact) */
    uint64_t traded_wh, grid_import_wh, grid_export_wh;
    uint64_t traded_value;       /* money paid for traded_wh (micro-units) */
    uint64_t wh_price_sum;       /* sum of traded Wh x price: average price */
    uint64_t trades;             /* fills with energy traded peer to peer */
    uint64_t bad_records;        /* records that did not decode */
} ingest_stats;

/* Volume-weighted average price of the energy traded peer to peer so far,
 * micro-units per kWh; 0 while nothing traded. */
uint64_t ingest_avg_price(const ingest_stats *st);
/* Stale blocks per thousand blocks seen. */
uint64_t ingest_stale_permille(const ingest_stats *st);
/* A node's money on the best chain, micro-units: for energy apart from
 * block rewards.  Households pay for bought energy (peer to peer at the
 * trade price, grid import at retail) and receive for sold energy (peer
 * to peer, feed-in); the operator's account is the grid, which takes
 * every payment and makes every receipt (ledger.h).  Follows reorgs. */
typedef struct {
    uint64_t energy_paid;
    uint64_t energy_received;
    uint64_t rewards;            /* coinbases */
} ingest_money;

/* params must outlive the ingest; d may be NULL (index only). */
int ingest_new(ingest **out, const chain_params *params, db *d, const char *run_id);
void ingest_free(ingest *g);

/* A node whose blocks.dat lives in data_dir; name goes to seen_by and
 * trades, pubkey (32 bytes) names the node in trades. */
int ingest_add_node(ingest *g, const char *name, const uint8_t pubkey[32],
                    const char *data_dir);

/* Reads up to cap bytes of node id's block store from offset into buf.
 * Returns how many (fewer than cap only at the end of the store; 0:
 * nothing there yet) or a negative SG_E* code (retried on the next poll). */
typedef int (*ingest_read_fn)(void *ctx, size_t id, uint64_t offset, uint8_t *buf,
                              size_t cap);

/* A node whose store the launcher cannot open (it lives on another host):
 * read(ctx, id, ...) gives its bytes; ctx must outlive the ingest. */
int ingest_add_remote_node(ingest *g, const char *name, const uint8_t pubkey[32],
                           ingest_read_fn read, void *ctx, size_t id);

/* Reads what is new in every store (at most max_records per node per
 * call) and queues the rows.  Returns the number of new blocks, or
 * SG_ENOMEM / SG_EIO (a db_put failed: rows are lost). */
int ingest_poll(ingest *g, int64_t now_ms, size_t max_records);

void ingest_get_stats(const ingest *g, ingest_stats *st);
/* pk's money (zeros for a key no node added has). */
void ingest_node_money(const ingest *g, const uint8_t pk[32], ingest_money *out);
/* Best tip hash in display order (65 chars). */
void ingest_best_tip(const ingest *g, char hex[65]);
/* Up to max best-chain blocks, the tip first, genesis left out: pointers
 * to their rows, valid until the next ingest_poll. */
size_t ingest_recent_best(const ingest *g, const db_block **out, size_t max);

#endif
