/*
 * txlat.h - transaction inclusion latency as the creating node sees it:
 * from the moment it broadcast a transaction of its own to the moment a
 * block holding it first connected to its chain.
 *
 * Both times come from the node's own wall clock (unix milliseconds), so
 * no clock skew between hosts enters the figure.  "First inclusion": the
 * first connect counts, even if a reorganisation later takes that block
 * off the best chain; a transaction measured once is forgotten.  A wall
 * clock stepped backwards between the two events counts as zero latency
 * (included_ms is raised to broadcast_ms) rather than a negative one.
 *
 * Memory is bounded twice: at most pending_max transactions wait for
 * inclusion (a new one evicts the oldest, counted in dropped_pending:
 * orders that expire unmined would otherwise pile up), and at most
 * done_max measured records wait for txlat_drain (further ones are still
 * counted in the histogram but their records are dropped, counted in
 * dropped_records).
 *
 * The histogram is cumulative over the tracker's life, in Prometheus
 * style: counts[i] is the number of measurements <= txlat_bounds_ms[i],
 * the last (i == TXLAT_BUCKETS) is +Inf and equals count.
 *
 * Ownership: the tracker owns its memory; txlat_free releases it.
 * Single-threaded: call from the daemon's loop.
 */
#ifndef SG_TXLAT_H
#define SG_TXLAT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

#define TXLAT_PENDING_MAX 4096       /* daemon's default bounds */
#define TXLAT_DONE_MAX 8192
#define TXLAT_BUCKETS 12             /* finite bounds; +Inf is one more */

/* Upper bounds of the finite buckets, milliseconds, ascending. */
extern const uint64_t txlat_bounds_ms[TXLAT_BUCKETS];

typedef struct {
    uint8_t txid[32];
    uint64_t broadcast_ms;
    uint64_t included_ms;            /* >= broadcast_ms */
} txlat_record;

typedef struct {
    uint64_t tracked;                /* broadcasts recorded */
    uint64_t measured;               /* inclusions measured */
    uint64_t dropped_pending;        /* evicted before inclusion */
    uint64_t dropped_records;        /* measured, record lost (not drained) */
    size_t pending;                  /* waiting for inclusion now */
    size_t waiting;                  /* records waiting for txlat_drain */
    uint64_t counts[TXLAT_BUCKETS + 1];  /* cumulative, see above */
    uint64_t sum_ms;
} txlat_stats;

typedef struct txlat txlat;

/* 0, SG_EINVAL (a bound of 0), SG_ENOMEM. */
int txlat_new(txlat **out, size_t pending_max, size_t done_max);
void txlat_free(txlat *t);           /* NULL is a no-op */

/* A transaction this node created was broadcast at now_ms.  A txid
 * already pending keeps its first time.  0 or SG_ENOMEM. */
int txlat_broadcast(txlat *t, const uint8_t txid[32], uint64_t now_ms);
/* A block of n transactions (their txids) connected at now_ms: measures
 * each of them that is pending.  Returns how many were measured. */
size_t txlat_block(txlat *t, const uint8_t (*txids)[32], uint32_t n, uint64_t now_ms);
/* One transaction seen included at now_ms; 1 if it was pending. */
int txlat_included(txlat *t, const uint8_t txid[32], uint64_t now_ms);

/* Moves up to max measured records, oldest first, into out; returns how
 * many.  They are gone from the tracker afterwards. */
size_t txlat_drain(txlat *t, txlat_record *out, size_t max);

void txlat_get_stats(const txlat *t, txlat_stats *st);

#endif
