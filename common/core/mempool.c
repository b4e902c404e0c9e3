/*
 * mempool.c - transactions waiting for a block.
 *
 * Two indexes over the same entries: by txid (hmap) and by account (hmap of
 * small arrays sorted by nonce).  A doubly linked list keeps arrival order,
 * which is what makes template selection deterministic: given the same
 * sequence of adds, every node picks the same transactions in the same
 * order, and that order follows causality as the node saw it (an operator's
 * settlement arrives after the orders it names).
 */
#include "common/core/mempool.h"

#include <stdlib.h>
#include <string.h>
#include "common/base/err.h"
#include "common/base/hmap.h"
#include "common/core/tx.h"

/* Selection retries the pool this many times so that a transaction funded
 * or enabled by another account's later-arriving one still gets in; the
 * bound keeps a hostile arrival order from costing quadratic time.  What
 * misses out waits for the next block. */
#define MEMPOOL_SELECT_PASSES 8

typedef struct mp_entry {
    uint8_t txid[32];
    proto_tx tx;                  /* owned deep copy */
    size_t bytes;                 /* encoded size with signature */
    struct mp_entry *prev, *next; /* arrival order */
} mp_entry;

typedef struct {
    mp_entry **v;                 /* sorted by tx.nonce, distinct nonces */
    size_t n, cap;
    uint64_t sel_expect;          /* scratch for mempool_select */
} mp_account;

struct mempool {
    hmap by_id;                   /* txid -> mp_entry */
    hmap by_acct;                 /* from -> mp_account */
    mp_entry *head, *tail;
    size_t count, bytes;
    size_t max_txs, max_bytes;
    sigcache *sc;                 /* borrowed; NULL: no cache */
};

int mempool_new(mempool **out, size_t max_txs, size_t max_bytes)
{
    mempool *mp = calloc(1, sizeof *mp);
    if (mp == NULL)
        return SG_ENOMEM;
    hmap_init(&mp->by_id);
    hmap_init(&mp->by_acct);
    mp->max_txs = max_txs;
    mp->max_bytes = max_bytes;
    *out = mp;
    return SG_OK;
}

void mempool_set_sigcache(mempool *mp, sigcache *sc)
{
    mp->sc = sc;
}

static void entry_free(mp_entry *e)
{
    proto_tx_free(&e->tx);
    free(e);
}

void mempool_free(mempool *mp)
{
    if (mp == NULL)
        return;
    mp_entry *e = mp->head;
    while (e != NULL) {
        mp_entry *next = e->next;
        entry_free(e);
        e = next;
    }
    size_t it = 0;
    const uint8_t *k;
    void *v;
    while (hmap_next(&mp->by_acct, &it, &k, &v)) {
        mp_account *a = v;
        free(a->v);
        free(a);
    }
    hmap_free(&mp->by_id);
    hmap_free(&mp->by_acct);
    free(mp);
}

/* Index of the first element with nonce >= `nonce`. */
static size_t acct_lower(const mp_account *a, uint64_t nonce)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->v[mid]->tx.nonce < nonce)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t ledger_nonce(const ledger *l, const uint8_t key[32])
{
    const ledger_account *acct = ledger_account_get(l, key);
    return acct ? acct->nonce : 0;
}

/* Everything add checks before the signature, in order of cost; the pool
 * bounds and the (account, nonce) duplicate come after it (add_checks). */
int mempool_precheck(const mempool *mp, const proto_tx *tx, const uint8_t txid[32],
                     const ledger *tip)
{
    if (hmap_get(&mp->by_id, txid) != NULL)
        return SG_EDUP;
    if (tx->kind == PROTO_TX_COINBASE)
        return SG_ECOINBASE;
    /* Only the operator settles (ledger.h): anyone else's settlement could
     * never apply, and relaying it would spread a forgery. */
    if (tx->kind == PROTO_TX_SETTLEMENT &&
        memcmp(tx->from, ledger_params(tip)->operator_key, 32) != 0)
        return SG_ESETTLE;
    int rc = tx_check(tx);
    if (rc < 0)
        return rc;
    uint64_t base = ledger_nonce(tip, tx->from);
    if (tx->nonce < base || tx->nonce - base >= MEMPOOL_NONCE_WINDOW)
        return SG_ENONCE;
    return SG_OK;
}

/* chain_id NULL: the caller checked the signature already.  The signature
 * before the (account, nonce) duplicate: a tampered copy of a pooled
 * transaction is then the sender's fault (SG_EBADSIG), not a harmless
 * duplicate.  Honest copies have the same txid and stop at the precheck's
 * first test, so this costs a verification only for conflicts. */
static int add_checks(mempool *mp, const proto_tx *tx, const uint8_t txid[32],
                      const ledger *tip, const uint8_t chain_id[32])
{
    int rc = mempool_precheck(mp, tx, txid, tip);
    if (rc < 0)
        return rc;
    if (chain_id != NULL && (rc = sigcache_verify(mp->sc, tx, chain_id)) < 0)
        return rc;
    const mp_account *a = hmap_get(&mp->by_acct, tx->from);
    if (a != NULL) {
        size_t i = acct_lower(a, tx->nonce);
        if (i < a->n && a->v[i]->tx.nonce == tx->nonce)
            return SG_EDUP;
    }
    return SG_OK;
}

static int acct_insert(mempool *mp, mp_entry *e)
{
    mp_account *a = hmap_get(&mp->by_acct, e->tx.from);
    int fresh = a == NULL;
    if (fresh) {
        a = calloc(1, sizeof *a);
        if (a == NULL)
            return SG_ENOMEM;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        mp_entry **v = realloc(a->v, cap * sizeof *v);
        if (v == NULL)
            goto fail;
        a->v = v;
        a->cap = cap;
    }
    if (fresh && hmap_put(&mp->by_acct, e->tx.from, a) < 0)
        goto fail;
    size_t i = acct_lower(a, e->tx.nonce);
    memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof *a->v);
    a->v[i] = e;
    a->n++;
    return SG_OK;
fail:
    if (fresh) {
        free(a->v);
        free(a);
    }
    return SG_ENOMEM;
}

static void acct_remove(mempool *mp, const mp_entry *e)
{
    mp_account *a = hmap_get(&mp->by_acct, e->tx.from);
    if (a == NULL)
        return;
    size_t i = acct_lower(a, e->tx.nonce);
    if (i >= a->n || a->v[i] != e)
        return;
    memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof *a->v);
    a->n--;
    if (a->n == 0) {
        hmap_del(&mp->by_acct, e->tx.from);
        free(a->v);
        free(a);
    }
}

static int add(mempool *mp, const proto_tx *tx, const uint8_t txid[32],
               const ledger *tip, const uint8_t chain_id[32])
{
    int rc = add_checks(mp, tx, txid, tip, chain_id);
    if (rc < 0)
        return rc;
    uint8_t *enc = NULL;
    size_t len = 0;
    rc = proto_tx_encode(tx, &enc, &len);
    free(enc);
    if (rc < 0)
        return rc;
    if (len > PROTO_TX_MAX_SIZE)
        return SG_ETOOBIG;
    if (mp->count + 1 > mp->max_txs || len > mp->max_bytes - mp->bytes)
        return SG_EFULL;

    mp_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return SG_ENOMEM;
    memcpy(e->txid, txid, 32);
    e->bytes = len;
    rc = proto_tx_copy(&e->tx, tx);
    if (rc < 0) {
        free(e);
        return rc;
    }
    rc = acct_insert(mp, e);
    if (rc < 0)
        goto fail;
    rc = hmap_put(&mp->by_id, txid, e);
    if (rc < 0) {
        acct_remove(mp, e);
        goto fail;
    }
    e->prev = mp->tail;
    if (mp->tail)
        mp->tail->next = e;
    else
        mp->head = e;
    mp->tail = e;
    mp->count++;
    mp->bytes += len;
    return SG_OK;
fail:
    entry_free(e);
    return rc;
}

int mempool_add(mempool *mp, const proto_tx *tx, const uint8_t txid[32],
                const ledger *tip, const uint8_t chain_id[32])
{
    return add(mp, tx, txid, tip, chain_id);
}

int mempool_add_verified(mempool *mp, const proto_tx *tx, const uint8_t txid[32],
                         const ledger *tip)
{
    return add(mp, tx, txid, tip, NULL);
}

uint64_t mempool_next_nonce(const mempool *mp, const uint8_t from[32], uint64_t base)
{
    const mp_account *a = hmap_get(&mp->by_acct, from);
    if (a == NULL)
        return base;
    for (size_t i = acct_lower(a, base); i < a->n && a->v[i]->tx.nonce == base; i++)
        base++;
    return base;
}

int mempool_has(const mempool *mp, const uint8_t txid[32])
{
    return hmap_get(&mp->by_id, txid) != NULL;
}

const proto_tx *mempool_get(const mempool *mp, const uint8_t txid[32])
{
    const mp_entry *e = hmap_get(&mp->by_id, txid);
    return e ? &e->tx : NULL;
}

void mempool_remove(mempool *mp, const uint8_t txid[32])
{
    mp_entry *e = hmap_del(&mp->by_id, txid);
    if (e == NULL)
        return;
    acct_remove(mp, e);
    if (e->prev)
        e->prev->next = e->next;
    else
        mp->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        mp->tail = e->prev;
    mp->count--;
    mp->bytes -= e->bytes;
    entry_free(e);
}

/* A transaction the state can never accept again: its nonce is used, or
 * it belongs to a market interval that is already settled. */
static int impossible(const proto_tx *tx, const ledger *tip)
{
    if (tx->nonce < ledger_nonce(tip, tx->from))
        return 1;
    uint64_t settled = ledger_last_settled(tip);
    if (settled == UINT64_MAX)
        return 0;
    switch (tx->kind) {
    case PROTO_TX_OFFER:
    case PROTO_TX_BID:
        return tx->u.order.interval <= settled;
    case PROTO_TX_SETTLEMENT:
        return tx->u.settle.interval <= settled;
    default:
        return 0;
    }
}

void mempool_prune(mempool *mp, const ledger *tip)
{
    mp_entry *e = mp->head;
    while (e != NULL) {
        mp_entry *next = e->next;
        if (impossible(&e->tx, tip))
            mempool_remove(mp, e->txid);
        e = next;
    }
}

void mempool_prune_account(mempool *mp, const ledger *tip, const uint8_t from[32])
{
    uint64_t used = ledger_nonce(tip, from);
    const mp_account *a;
    /* Sorted by nonce: the used ones come first.  Removing the last entry
     * frees the account, so it is looked up again each time. */
    while ((a = hmap_get(&mp->by_acct, from)) != NULL && a->v[0]->tx.nonce < used) {
        uint8_t txid[32];
        memcpy(txid, a->v[0]->txid, 32);
        mempool_remove(mp, txid);
    }
}

size_t mempool_count(const mempool *mp)
{
    return mp->count;
}

size_t mempool_bytes(const mempool *mp)
{
    return mp->bytes;
}

typedef struct {
    ledger *tip;
    uint64_t height;
    size_t max_txs, max_bytes;
    ledger_undo *undo;
    proto_tx *out;
    uint8_t (*ids)[32];           /* NULL: not wanted */
    size_t n, bytes;
} mp_select;

/* Takes the account's run of consecutive nonces starting at e, as far as
 * each applies and fits.  Returns the number taken or a negative error. */
static int take_run(mp_select *s, mp_account *a, size_t i)
{
    int taken = 0;
    for (; i < a->n && s->n < s->max_txs; i++) {
        const mp_entry *e = a->v[i];
        if (e->tx.nonce != a->sel_expect)
            break;
        if (e->bytes > s->max_bytes - s->bytes)
            break;
        if (ledger_apply_tx(s->tip, &e->tx, e->txid, s->height, 0, s->undo) < 0)
            break;
        int rc = proto_tx_copy(&s->out[s->n], &e->tx);
        if (rc < 0)
            return rc;
        if (s->ids)
            memcpy(s->ids[s->n], e->txid, 32);
        s->n++;
        s->bytes += e->bytes;
        a->sel_expect++;
        taken++;
    }
    return taken;
}

static int select_passes(mempool *mp, mp_select *s)
{
    size_t it = 0;
    const uint8_t *key;
    void *v;
    while (hmap_next(&mp->by_acct, &it, &key, &v))
        ((mp_account *)v)->sel_expect = ledger_nonce(s->tip, key);

    for (int pass = 0; pass < MEMPOOL_SELECT_PASSES; pass++) {
        int progress = 0;
        for (mp_entry *e = mp->head; e != NULL && s->n < s->max_txs; e = e->next) {
            mp_account *a = hmap_get(&mp->by_acct, e->tx.from);
            if (e->tx.nonce != a->sel_expect)
                continue;
            int rc = take_run(s, a, acct_lower(a, e->tx.nonce));
            if (rc < 0)
                return rc;
            progress |= rc > 0;
        }
        if (!progress || s->n >= s->max_txs)
            break;
    }
    return SG_OK;
}

int mempool_select(mempool *mp, ledger *tip, uint64_t height, size_t max_txs,
                   size_t max_bytes, proto_tx **out, uint8_t (**ids)[32], size_t *n)
{
    mp_select s = { .tip = tip, .height = height, .max_bytes = max_bytes };
    s.max_txs = max_txs < mp->count ? max_txs : mp->count;
    *out = NULL;
    if (ids)
        *ids = NULL;
    *n = 0;
    if (s.max_txs == 0)
        return SG_OK;
    int rc = SG_ENOMEM;
    s.undo = ledger_undo_new();
    s.out = calloc(s.max_txs, sizeof *s.out);
    if (ids)
        s.ids = malloc(s.max_txs * sizeof *s.ids);
    if (s.undo == NULL || s.out == NULL || (ids && s.ids == NULL))
        goto fail;
    rc = select_passes(mp, &s);
    ledger_undo_apply(tip, s.undo);
    if (rc < 0)
        goto fail;
    ledger_undo_free(s.undo);
    if (s.n == 0) {
        free(s.out);
        free(s.ids);
        s.out = NULL;
        s.ids = NULL;
    }
    *out = s.out;
    if (ids)
        *ids = s.ids;
    *n = s.n;
    return SG_OK;
fail:
    for (size_t i = 0; i < s.n; i++)
        proto_tx_free(&s.out[i]);
    free(s.out);
    free(s.ids);
    if (s.undo)
        ledger_undo_free(s.undo);
    return rc;
}

int mempool_next(const mempool *mp, size_t *iter, const uint8_t **txid)
{
    void *v;
    return hmap_next(&mp->by_id, iter, txid, &v);
}
