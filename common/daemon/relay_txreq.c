/*
 * relay_txreq.c - one request per announced transaction; see
 * relay_txreq.h.
 */
#include "common/daemon/relay_txreq.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/base/hmap.h"

typedef struct {
    uint8_t txid[32];
    uint64_t asked;                   /* the peer a request went to */
    uint64_t since_ms;                /* 0: failed, due for an alternative */
    uint64_t alts[RELAY_TXREQ_ALTS];  /* announced it meanwhile, oldest first */
    uint32_t n_alts;
} txreq_entry;

struct relay_txreq {
    hmap by_txid;                     /* txid -> txreq_entry */
    size_t max;
    uint64_t timeout_ms;
};

int relay_txreq_new(relay_txreq **out, size_t max, uint64_t timeout_ms)
{
    *out = NULL;
    if (max == 0 || timeout_ms == 0)
        return SG_EINVAL;
    relay_txreq *t = calloc(1, sizeof *t);
    if (t == NULL)
        return SG_ENOMEM;
    hmap_init(&t->by_txid);
    t->max = max;
    t->timeout_ms = timeout_ms;
    *out = t;
    return SG_OK;
}

void relay_txreq_free(relay_txreq *t)
{
    const uint8_t *k;
    void *v;
    if (t == NULL)
        return;
    for (size_t it = 0; hmap_next(&t->by_txid, &it, &k, &v);)
        free(v);
    hmap_free(&t->by_txid);
    free(t);
}

static int pending(const relay_txreq *t, const txreq_entry *e, uint64_t now_ms)
{
    return e->since_ms != 0 && now_ms - e->since_ms < t->timeout_ms;
}

static void add_alt(txreq_entry *e, uint64_t peer)
{
    for (uint32_t i = 0; i < e->n_alts; i++)
        if (e->alts[i] == peer)
            return;
    if (e->n_alts < RELAY_TXREQ_ALTS)
        e->alts[e->n_alts++] = peer;
}

int relay_txreq_announced(relay_txreq *t, uint64_t peer, const uint8_t txid[32],
                          uint64_t now_ms)
{
    txreq_entry *e = hmap_get(&t->by_txid, txid);
    if (e != NULL && pending(t, e, now_ms)) {
        if (e->asked != peer)
            add_alt(e, peer);
        return 0;
    }
    if (e == NULL) {
        if (t->by_txid.count >= t->max || (e = calloc(1, sizeof *e)) == NULL)
            return 1;                 /* untracked: asked as before */
        memcpy(e->txid, txid, 32);
        if (hmap_put(&t->by_txid, txid, e) != 0) {
            free(e);
            return 1;
        }
    }
    e->asked = peer;
    e->since_ms = now_ms ? now_ms : 1;
    return 1;
}

void relay_txreq_done(relay_txreq *t, const uint8_t txid[32])
{
    free(hmap_del(&t->by_txid, txid));
}

void relay_txreq_notfound(relay_txreq *t, uint64_t peer, const uint8_t txid[32])
{
    txreq_entry *e = hmap_get(&t->by_txid, txid);
    if (e != NULL && e->asked == peer)
        e->since_ms = 0;
}

void relay_txreq_peer_gone(relay_txreq *t, uint64_t peer)
{
    const uint8_t *k;
    void *v;
    for (size_t it = 0; hmap_next(&t->by_txid, &it, &k, &v);) {
        txreq_entry *e = v;
        if (e->asked == peer)
            e->since_ms = 0;
    }
}

/* 1 once an alternative took the request; 0 when none is left or the
 * transaction is wanted no more (the entry is then to be forgotten). */
static int reassign(txreq_entry *e, uint64_t now_ms, relay_txreq_ask_cb ask, void *ctx)
{
    while (e->n_alts > 0) {
        uint64_t peer = e->alts[0];
        memmove(e->alts, e->alts + 1, (e->n_alts - 1) * sizeof *e->alts);
        e->n_alts--;
        int rc = ask(ctx, peer, e->txid);
        if (rc < 0)
            return 0;
        if (rc == 0) {
            e->asked = peer;
            e->since_ms = now_ms ? now_ms : 1;
            return 1;
        }
    }
    return 0;
}

size_t relay_txreq_expire(relay_txreq *t, uint64_t now_ms, relay_txreq_ask_cb ask,
                          void *ctx)
{
    const uint8_t *k;
    void *v;
    txreq_entry **due = NULL;
    size_t n = 0, cap = 0, asked = 0;

    /* Collected first: the map must not change while it is walked. */
    for (size_t it = 0; hmap_next(&t->by_txid, &it, &k, &v);) {
        if (pending(t, v, now_ms))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            txreq_entry **g = realloc(due, nc * sizeof *g);
            if (g == NULL)
                break;                /* the rest wait for the next tick */
            due = g;
            cap = nc;
        }
        due[n++] = v;
    }
    for (size_t i = 0; i < n; i++) {
        if (reassign(due[i], now_ms, ask, ctx))
            asked++;
        else
            relay_txreq_done(t, due[i]->txid);
    }
    free(due);
    return asked;
}

size_t relay_txreq_count(const relay_txreq *t)
{
    return t->by_txid.count;
}
