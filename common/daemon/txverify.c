/*
 * txverify.c - signature checks on the thread pool, verdicts in order; see
 * txverify.h.
 *
 * Batches live on one list in submission order: the open one (gathering,
 * at the tail) and those sent to the pool.  A pool thread writes only the
 * rc and key of its batch's items; the loop reads them after libuv's
 * after-work callback, which is ordered after the work by the pool's
 * queue lock.  `from` is only ever touched on the loop.
 */
#include "common/daemon/txverify.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/base/hmap.h"

typedef struct txv_batch {
    uv_work_t req;
    txv *v;
    txv_item *items;
    size_t n, cap;
    int sent;                         /* on the pool (or back from it) */
    int done;                         /* back from the pool */
    struct txv_batch *next;
} txv_batch;

struct txv {
    txv_config cfg;
    hmap pending;                     /* txid -> its batch */
    txv_batch *head, *tail;           /* oldest first; tail may be open */
    txv_batch *delivering;            /* unlinked, its verdicts going out */
    size_t n_pending;
    size_t n_on_pool;                 /* batches sent and not back */
    int freeing;                      /* txv_free called: no more verdicts */
};

int txv_new(txv **out, const txv_config *cfg)
{
    *out = NULL;
    if (cfg->loop == NULL || cfg->on_done == NULL)
        return SG_EINVAL;
    txv *v = calloc(1, sizeof *v);
    if (v == NULL)
        return SG_ENOMEM;
    v->cfg = *cfg;
    if (v->cfg.batch == 0)
        v->cfg.batch = TXV_BATCH;
    hmap_init(&v->pending);
    *out = v;
    return SG_OK;
}

static void batch_free(txv_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        proto_tx_free(&b->items[i].tx);
    free(b->items);
    free(b);
}

static void release(txv *v)
{
    hmap_free(&v->pending);
    free(v);
}

void txv_free(txv *v)
{
    if (v == NULL)
        return;
    v->freeing = 1;
    txv_batch *b = v->head, *next;
    v->head = v->tail = NULL;
    for (; b != NULL; b = next) {
        next = b->next;
        if (!b->sent || b->done)
            batch_free(b);        /* on the pool: freed when it is back */
    }
    if (v->n_on_pool == 0)
        release(v);
}

/* ---- the pool's side ----------------------------------------------------- */

/* Checks yield to the loop: with many daemons on few cores a loop that
 * waits behind other daemons' signature checks relays blocks late (stale
 * blocks), while the checks lose nothing by waiting a little.  Linux nices
 * one thread at a time; the call is idempotent, so each batch repeats it
 * rather than remembering pool threads. */
#define TXV_POOL_NICE 10

static void work(uv_work_t *req)
{
    txv_batch *b = req->data;
    const txv *v = b->v;
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), TXV_POOL_NICE);
    for (size_t i = 0; i < b->n; i++) {
        txv_item *it = &b->items[i];
        it->rc = sigcache_check_detached(&v->cfg.keyer, &it->tx, v->cfg.chain_id, it->key);
    }
}

/* ---- back on the loop ---------------------------------------------------- */

/* Delivers every finished batch at the head, oldest first.  A callback may
 * call txv_submit (which only appends) or txv_forget (a verdict closed a
 * peer): the batch being delivered is unlinked from the list but kept in
 * `delivering`, where txv_forget finds its later items too. */
static void deliver(txv *v)
{
    if (v->delivering != NULL)
        return;                       /* called back from a verdict */
    while (!v->freeing && v->head != NULL && v->head->done) {
        txv_batch *b = v->head;
        v->head = b->next;
        if (v->head == NULL)
            v->tail = NULL;
        v->delivering = b;
        for (size_t i = 0; i < b->n; i++) {
            txv_item *it = &b->items[i];
            hmap_del(&v->pending, it->txid);
            v->n_pending--;
            if (!v->freeing)
                v->cfg.on_done(v->cfg.ctx, it);
        }
        v->delivering = NULL;
        batch_free(b);
    }
}

static void after_work(uv_work_t *req, int status)
{
    txv_batch *b = req->data;
    txv *v = b->v;
    (void)status;                     /* never cancelled */
    v->n_on_pool--;
    if (v->freeing) {
        batch_free(b);
        if (v->n_on_pool == 0)
            release(v);
        return;
    }
    b->done = 1;
    deliver(v);
}

/* ---- submitting ---------------------------------------------------------- */

void txv_flush(txv *v)
{
    txv_batch *b = v->tail;
    if (b == NULL || b->sent || b->n == 0)
        return;
    b->sent = 1;
    b->req.data = b;
    if (uv_queue_work(v->cfg.loop, &b->req, work, after_work) != 0) {
        /* Cannot happen with a live loop; check here rather than lose the
         * batch. */
        work(&b->req);
        b->done = 1;
        deliver(v);
        return;
    }
    v->n_on_pool++;
}

static txv_batch *open_batch(txv *v)
{
    if (v->tail != NULL && !v->tail->sent && v->tail->n < v->tail->cap)
        return v->tail;
    txv_batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->items = malloc(sizeof *b->items * v->cfg.batch);
    if (b->items == NULL) {
        free(b);
        return NULL;
    }
    b->cap = v->cfg.batch;
    b->v = v;
    if (v->tail != NULL)
        v->tail->next = b;
    else
        v->head = b;
    v->tail = b;
    return b;
}

int txv_submit(txv *v, proto_tx *tx, const uint8_t txid[32], void *from,
               const uint8_t from_id[32])
{
    int rc = SG_EDUP;
    txv_batch *b = NULL;
    if (hmap_get(&v->pending, txid) != NULL)
        goto fail;
    rc = SG_ENOMEM;
    if ((b = open_batch(v)) == NULL || hmap_put(&v->pending, txid, b) != 0)
        goto fail;
    txv_item *it = &b->items[b->n++];
    memset(it, 0, sizeof *it);
    it->tx = *tx;
    memset(tx, 0, sizeof *tx);
    memcpy(it->txid, txid, 32);
    it->from = from;
    if (from_id != NULL)
        memcpy(it->from_id, from_id, 32);
    v->n_pending++;
    if (b->n == b->cap)
        txv_flush(v);
    return SG_OK;
fail:
    proto_tx_free(tx);
    memset(tx, 0, sizeof *tx);
    return rc;
}

int txv_has(const txv *v, const uint8_t txid[32])
{
    return hmap_get(&v->pending, txid) != NULL;
}

size_t txv_pending(const txv *v)
{
    return v->n_pending;
}

static void forget_in(txv_batch *b, const void *from)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].from == from)
            b->items[i].from = NULL;
}

void txv_forget(txv *v, const void *from)
{
    if (v->delivering != NULL)
        forget_in(v->delivering, from);
    for (txv_batch *b = v->head; b != NULL; b = b->next)
        forget_in(b, from);
}
