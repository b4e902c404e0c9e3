/*
 * txlat.c - transaction inclusion latency tracker; see txlat.h.
 *
 * Pending transactions live in a fixed pool of entries, found by txid
 * through an hmap and kept in broadcast order on a doubly linked list of
 * pool indices, so evicting the oldest and removing any one are O(1).
 * Measured records wait in a ring for txlat_drain.
 */
#include "common/daemon/txlat.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/base/hmap.h"
#include "common/core/tx.h"

const uint64_t txlat_bounds_ms[TXLAT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000,
};

#define NIL SIZE_MAX

typedef struct {
    uint8_t txid[32];
    uint64_t broadcast_ms;
    size_t prev, next;               /* broadcast order; free list uses next */
} pend_entry;

struct txlat {
    hmap by_id;                      /* txid -> pend_entry * */
    pend_entry *pool;
    size_t pool_cap, oldest, newest, free_head;
    size_t pool_used;                /* entries below this were handed out */
    txlat_record *ring;
    size_t ring_cap, ring_head, ring_n;
    txlat_stats st;
};

int txlat_new(txlat **out, size_t pending_max, size_t done_max)
{
    *out = NULL;
    if (pending_max == 0 || done_max == 0)
        return SG_EINVAL;
    txlat *t = calloc(1, sizeof *t);
    if (!t)
        return SG_ENOMEM;
    hmap_init(&t->by_id);
    t->pool = calloc(pending_max, sizeof *t->pool);
    t->ring = calloc(done_max, sizeof *t->ring);
    if (!t->pool || !t->ring) {
        txlat_free(t);
        return SG_ENOMEM;
    }
    t->pool_cap = pending_max;
    t->ring_cap = done_max;
    /* Entries are handed out from the untouched tail before the free list
     * exists, so an idle daemon's pool stays unbacked zero pages. */
    t->free_head = NIL;
    t->oldest = t->newest = NIL;
    *out = t;
    return 0;
}

void txlat_free(txlat *t)
{
    if (!t)
        return;
    hmap_free(&t->by_id);
    free(t->pool);
    free(t->ring);
    free(t);
}

static void unlink_entry(txlat *t, size_t i)
{
    pend_entry *e = &t->pool[i];
    if (e->prev != NIL)
        t->pool[e->prev].next = e->next;
    else
        t->oldest = e->next;
    if (e->next != NIL)
        t->pool[e->next].prev = e->prev;
    else
        t->newest = e->prev;
    hmap_del(&t->by_id, e->txid);
    e->next = t->free_head;
    t->free_head = i;
    t->st.pending--;
}

int txlat_broadcast(txlat *t, const uint8_t txid[32], uint64_t now_ms)
{
    if (hmap_get(&t->by_id, txid))
        return 0;
    if (t->free_head == NIL && t->pool_used < t->pool_cap) {
        t->pool[t->pool_used].next = NIL;
        t->free_head = t->pool_used++;
    }
    if (t->free_head == NIL) {
        unlink_entry(t, t->oldest);
        t->st.dropped_pending++;
    }
    size_t i = t->free_head;
    pend_entry *e = &t->pool[i];
    if (hmap_put(&t->by_id, txid, e) != 0)
        return SG_ENOMEM;
    t->free_head = e->next;
    memcpy(e->txid, txid, 32);
    e->broadcast_ms = now_ms;
    e->prev = t->newest;
    e->next = NIL;
    if (t->newest != NIL)
        t->pool[t->newest].next = i;
    else
        t->oldest = i;
    t->newest = i;
    t->st.pending++;
    t->st.tracked++;
    return 0;
}

static void measure(txlat *t, const pend_entry *e, uint64_t now_ms)
{
    uint64_t inc = now_ms < e->broadcast_ms ? e->broadcast_ms : now_ms;
    uint64_t lat = inc - e->broadcast_ms;

    t->st.measured++;
    t->st.sum_ms += lat;
    for (size_t b = 0; b < TXLAT_BUCKETS; b++)
        if (lat <= txlat_bounds_ms[b])
            t->st.counts[b]++;
    t->st.counts[TXLAT_BUCKETS]++;
    if (t->ring_n == t->ring_cap) {
        t->st.dropped_records++;
        return;
    }
    txlat_record *r = &t->ring[(t->ring_head + t->ring_n++) % t->ring_cap];
    memcpy(r->txid, e->txid, 32);
    r->broadcast_ms = e->broadcast_ms;
    r->included_ms = inc;
}

int txlat_included(txlat *t, const uint8_t txid[32], uint64_t now_ms)
{
    pend_entry *e = hmap_get(&t->by_id, txid);
    if (!e)
        return 0;
    measure(t, e, now_ms);
    unlink_entry(t, (size_t)(e - t->pool));
    return 1;
}

size_t txlat_block(txlat *t, const uint8_t (*txids)[32], uint32_t n, uint64_t now_ms)
{
    size_t measured = 0;
    for (uint32_t i = 0; i < n && t->st.pending > 0; i++)
        measured += (size_t)txlat_included(t, txids[i], now_ms);
    return measured;
}

size_t txlat_drain(txlat *t, txlat_record *out, size_t max)
{
    size_t n = 0;
    while (n < max && t->ring_n > 0) {
        out[n++] = t->ring[t->ring_head];
        t->ring_head = (t->ring_head + 1) % t->ring_cap;
        t->ring_n--;
    }
    return n;
}

void txlat_get_stats(const txlat *t, txlat_stats *st)
{
    *st = t->st;
    st->waiting = t->ring_n;
}
