/*
 * chain.c - block index, most-work fork choice, reorganisation, orphans.
 *
 * Every indexed block is a heap entry that never moves (parents point at
 * it); the active chain is an array of entry pointers by height.  The
 * connected blocks near the tip keep the ledger journal that undoes them,
 * so a reorg rolls state back exactly; one reaching deeper (CHAIN_UNDO_KEEP)
 * rebuilds the state at the fork from genesis.  A reorganisation is all or
 * nothing as seen from outside: if a block of the new branch fails, the old
 * branch is restored before anyone is told anything, so callbacks and the
 * mempool only ever see committed changes.
 */
#include "common/core/chain.h"

#include <stdlib.h>
#include <string.h>
#include "common/base/err.h"
#include "common/core/asert.h"
#include "common/core/hash.h"
#include "common/base/hmap.h"
#include "common/core/merkle.h"
#include "common/core/store.h"
#include "common/core/tx.h"

typedef struct centry {
    chain_entry e;               /* first, so a chain_entry * converts back */
    ledger_undo *undo;           /* journal of the block while connected */
    uint8_t *bytes;              /* wire bytes when there is no store */
    size_t len;
    struct centry *child;        /* first child; siblings chain the rest */
    struct centry *sibling;
} centry;

typedef struct {
    uint8_t hash[32];
    uint8_t prev[32];
    uint8_t *bytes;              /* owned */
    size_t len;
    uint64_t seq;                /* lowest is evicted first */
    uint64_t offset;             /* in the store already, or UINT64_MAX */
} chain_orphan;

struct chain {
    const chain_params *params;
    chain_block_cb on_connect, on_disconnect;
    void *cb_ctx;
    uint8_t id[32];
    u256 limit;                  /* easiest target a block may claim */
    hmap index;                  /* hash -> centry, every branch */
    centry *genesis;
    centry **active;             /* by height */
    size_t n_active, cap_active;
    uint64_t next_seq;
    uint64_t n_valid;            /* valid entries, active or not */
    ledger *ledger;
    mempool *mp;
    sigcache *sc;                /* signatures checked on mempool entry */
    store *store;
    size_t undo_keep;            /* see CHAIN_UNDO_KEEP */
    size_t undo_floor;           /* lowest active height that may keep one */
    chain_orphan orphans[CHAIN_ORPHAN_MAX];
    size_t n_orphans;
    uint64_t orphan_seq;
};

/* How a block reached us: from a peer, or replayed from our own store. */
typedef struct {
    uint64_t now;
    int check_future;
} accept_ctx;

/* A block decoded for connecting or disconnecting, with its txids.
 * borrowed: both belong to the caller (accept_one's block, so a new tip
 * is not read back from the store and decoded a second time). */
typedef struct {
    proto_block b;
    uint8_t (*txids)[32];
    int borrowed;
} loaded_block;

/* The block accept_one just indexed, decoded: plan_build takes it as is. */
typedef struct {
    const centry *ce;
    loaded_block lb;
} fresh_block;

static centry *to_centry(const chain_entry *e)
{
    return (centry *)e;
}

static centry *tip_of(const chain *c)
{
    return c->active[c->n_active - 1];
}

/* ---- loading blocks ---------------------------------------------------- */

static int block_txids(const proto_block *b, uint8_t (**out)[32])
{
    *out = NULL;
    if (b->n_txs == 0)
        return SG_OK;
    uint8_t (*ids)[32] = malloc((size_t)b->n_txs * 32);
    if (ids == NULL)
        return SG_ENOMEM;
    for (uint32_t i = 0; i < b->n_txs; i++) {
        int rc = tx_id(&b->txs[i], ids[i]);
        if (rc < 0) {
            free(ids);
            return rc;
        }
    }
    *out = ids;
    return SG_OK;
}

static void loaded_free(loaded_block *lb)
{
    if (!lb->borrowed) {
        proto_block_free(&lb->b);
        free(lb->txids);
    }
    memset(lb, 0, sizeof *lb);
}

static int entry_bytes(chain *c, const centry *ce, uint8_t **out, size_t *len)
{
    if (ce->bytes != NULL) {
        *out = malloc(ce->len);
        if (*out == NULL)
            return SG_ENOMEM;
        memcpy(*out, ce->bytes, ce->len);
        *len = ce->len;
        return SG_OK;
    }
    if (ce == c->genesis) {
        proto_block g = { .header = ce->e.header, .n_txs = 0, .txs = NULL };
        return proto_block_encode(&g, out, len);
    }
    if (c->store == NULL || ce->e.store_offset == UINT64_MAX)
        return SG_ENOTFOUND;
    return store_read(c->store, ce->e.store_offset, out, len);
}

static int load_block(chain *c, const centry *ce, loaded_block *lb)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(lb, 0, sizeof *lb);
    int rc = entry_bytes(c, ce, &bytes, &len);
    if (rc < 0)
        return rc;
    rc = proto_block_decode(bytes, len, &lb->b);
    free(bytes);
    if (rc < 0)
        return rc;
    rc = block_txids(&lb->b, &lb->txids);
    if (rc < 0)
        loaded_free(lb);
    return rc;
}

/* ---- checks ------------------------------------------------------------ */

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Two copies of one transaction would give a second block with the same
 * merkle root (Bitcoin's CVE-2012-2459); refusing them keeps "this hash is
 * invalid" a statement about the header alone. */
static int has_duplicate_ids(const uint8_t (*ids)[32], size_t n, int *dup)
{
    uint8_t (*sorted)[32] = malloc(n * 32);
    if (sorted == NULL)
        return SG_ENOMEM;
    memcpy(sorted, ids, n * 32);
    qsort(sorted, n, 32, cmp_id);
    *dup = 0;
    for (size_t i = 1; i < n && !*dup; i++)
        *dup = memcmp(sorted[i - 1], sorted[i], 32) == 0;
    free(sorted);
    return SG_OK;
}

/* Before the parent is known: the fixed bits, or (retargeting) a target
 * within the limit, so an orphan cannot claim an easier one.  The exact
 * bits are checked against the parent in check_context. */
static int bits_plausible(const chain *c, uint32_t bits)
{
    u256 target;
    if (c->params->block_interval_ms == 0)
        return bits == c->params->bits;
    return pow_bits_to_target(bits, &target) == SG_OK && u256_cmp(&target, &c->limit) <= 0;
}

/* Rules that need no chain state.  Signatures go through the cache: a
 * transaction the mempool took is not verified twice; anything else is. */
static int check_block(chain *c, const proto_block *b, const uint8_t (*ids)[32])
{
    if (b->n_txs < 1)
        return SG_ECOINBASE;
    if (pow_check(&b->header) < 0 || !bits_plausible(c, b->header.bits))
        return SG_EBADPOW;
    uint8_t root[32];
    int rc = merkle_root(ids, b->n_txs, root);
    if (rc < 0)
        return rc;
    if (memcmp(root, b->header.merkle, 32) != 0)
        return SG_EMERKLE;
    int dup;
    rc = has_duplicate_ids(ids, b->n_txs, &dup);
    if (rc < 0)
        return rc;
    if (dup)
        return SG_EINVALID;
    if (b->txs[0].kind != PROTO_TX_COINBASE)
        return SG_ECOINBASE;
    for (uint32_t i = 0; i < b->n_txs; i++) {
        if (i > 0 && b->txs[i].kind == PROTO_TX_COINBASE)
            return SG_ECOINBASE;
        rc = tx_check(&b->txs[i]);
        if (rc < 0)
            return rc;
        rc = sigcache_verify(c->sc, &b->txs[i], c->id);
        if (rc < 0)
            return rc;
    }
    return SG_OK;
}

static uint64_t median_time(const centry *parent)
{
    uint64_t t[CHAIN_MEDIAN_SPAN];
    size_t n = 0;
    for (const chain_entry *e = &parent->e; e != NULL && n < CHAIN_MEDIAN_SPAN;
         e = e->parent) {
        size_t i = n++;
        while (i > 0 && t[i - 1] > e->header.time) {
            t[i] = t[i - 1];
            i--;
        }
        t[i] = e->header.time;
    }
    return t[n / 2];
}

/* How far ahead of our clock a block's time may be: two hours for a fixed
 * difficulty (Bitcoin's rule), else CHAIN_FUTURE_INTERVALS block intervals
 * but at least CHAIN_FUTURE_MIN_SECS, since each second a miner claims
 * eases the next block by 2^(1 s / halflife). */
uint64_t chain_max_future_secs(const chain_params *p)
{
    if (p->block_interval_ms == 0)
        return CHAIN_MAX_FUTURE_SECS;
    uint64_t s = (uint64_t)p->block_interval_ms * CHAIN_FUTURE_INTERVALS / 1000;
    return s < CHAIN_FUTURE_MIN_SECS ? CHAIN_FUTURE_MIN_SECS : s;
}

/* The header's rules that need the parent: bits by the retarget rule,
 * time window. */
static int check_header_context(const chain *c, const centry *parent,
                                const proto_header *h, const accept_ctx *ac)
{
    if (h->bits != asert_next_bits(c->params, parent->e.height, parent->e.header.time))
        return SG_EBADPOW;
    if (h->time <= median_time(parent))
        return SG_ETIME;
    uint64_t ahead = chain_max_future_secs(c->params);
    if (ac->check_future && ac->now <= UINT64_MAX - ahead && h->time > ac->now + ahead)
        return SG_EFUTURE;
    return SG_OK;
}

/* Rules that need the parent: height, coinbase amount, then the header's. */
static int check_context(const chain *c, const centry *parent, const proto_block *b,
                         const accept_ctx *ac)
{
    if (parent->e.status != CHAIN_ENTRY_VALID)
        return SG_EINVALID;
    if (parent->e.height == UINT32_MAX)
        return SG_EINVALID;
    const proto_tx *cb = &b->txs[0];
    if (cb->nonce != (uint64_t)parent->e.height + 1 ||
        cb->u.pay.amount != c->params->block_reward)
        return SG_ECOINBASE;
    return check_header_context(c, parent, &b->header, ac);
}

int chain_check_header(const chain *c, const proto_header *h, uint64_t now)
{
    accept_ctx ac = { .now = now, .check_future = 1 };
    if (pow_check(h) < 0 || !bits_plausible(c, h->bits))
        return SG_EBADPOW;
    const centry *parent = hmap_get(&c->index, h->prev);
    if (parent == NULL)
        return SG_ENOTFOUND;
    if (parent->e.status != CHAIN_ENTRY_VALID || parent->e.height == UINT32_MAX)
        return SG_EINVALID;
    return check_header_context(c, parent, h, &ac);
}

/* ---- orphans ----------------------------------------------------------- */

static chain_orphan *orphan_find(chain *c, const uint8_t hash[32])
{
    for (size_t i = 0; i < c->n_orphans; i++)
        if (memcmp(c->orphans[i].hash, hash, 32) == 0)
            return &c->orphans[i];
    return NULL;
}

/* The block to ask peers for: the parent, or if that is itself waiting
 * here, the first ancestor we have not got at all. */
static void orphan_missing(chain *c, const uint8_t prev[32], uint8_t missing[32])
{
    memcpy(missing, prev, 32);
    for (size_t hops = 0; hops < CHAIN_ORPHAN_MAX; hops++) {
        const chain_orphan *o = orphan_find(c, missing);
        if (o == NULL)
            return;
        memcpy(missing, o->prev, 32);
    }
}

static void orphan_drop(chain *c, size_t i)
{
    free(c->orphans[i].bytes);
    c->orphans[i] = c->orphans[--c->n_orphans];
}

static int orphan_add(chain *c, const uint8_t hash[32], const proto_header *h,
                      const uint8_t *bytes, size_t len, uint64_t offset)
{
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return SG_ENOMEM;
    memcpy(copy, bytes, len);
    if (c->n_orphans == CHAIN_ORPHAN_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < c->n_orphans; i++)
            if (c->orphans[i].seq < c->orphans[oldest].seq)
                oldest = i;
        orphan_drop(c, oldest);
    }
    chain_orphan *o = &c->orphans[c->n_orphans++];
    memcpy(o->hash, hash, 32);
    memcpy(o->prev, h->prev, 32);
    o->bytes = copy;
    o->len = len;
    o->seq = c->orphan_seq++;
    o->offset = offset;
    return SG_OK;
}

/* ---- index ------------------------------------------------------------- */

static int index_block(chain *c, centry *parent, const proto_block *b,
                       const uint8_t hash[32], const uint8_t *bytes, size_t len,
                       uint64_t offset, centry **out)
{
    centry *ce = calloc(1, sizeof *ce);
    if (ce == NULL)
        return SG_ENOMEM;
    if (c->store == NULL) {
        ce->bytes = malloc(len);
        if (ce->bytes == NULL)
            goto fail;
        memcpy(ce->bytes, bytes, len);
        ce->len = len;
    }
    memcpy(ce->e.hash, hash, 32);
    ce->e.header = b->header;
    ce->e.height = parent->e.height + 1;
    u256 target, work;
    /* Each block weighs what its own bits ask (check_block proved them
     * usable), so fork choice stays most cumulative work. */
    (void)pow_bits_to_target(b->header.bits, &target);
    pow_work(&target, &work);
    u256_add(&ce->e.chainwork, &parent->e.chainwork, &work);
    ce->e.parent = &parent->e;
    ce->e.seq = c->next_seq++;
    ce->e.store_offset = offset;
    ce->e.n_txs = b->n_txs;
    ce->e.status = CHAIN_ENTRY_VALID;
    if (hmap_put(&c->index, hash, ce) < 0)
        goto fail;
    ce->sibling = parent->child;
    parent->child = ce;
    c->n_valid++;
    *out = ce;
    return SG_OK;
fail:
    free(ce->bytes);
    free(ce);
    return SG_ENOMEM;
}

/* Marks bad and every descendant invalid, walking the child links. */
static void mark_invalid(chain *c, centry *bad)
{
    centry *n = bad;
    for (;;) {
        if (n->e.status == CHAIN_ENTRY_VALID) {
            n->e.status = CHAIN_ENTRY_INVALID;
            c->n_valid--;
        }
        if (n->child != NULL) {
            n = n->child;
            continue;
        }
        while (n != bad && n->sibling == NULL)
            n = to_centry(n->e.parent);
        if (n == bad)
            return;
        n = n->sibling;
    }
}

/* Most work among valid entries; ties go to the first seen. */
static centry *best_valid(const chain *c)
{
    centry *best = c->genesis;
    size_t it = 0;
    const uint8_t *k;
    void *v;
    while (hmap_next(&c->index, &it, &k, &v)) {
        centry *ce = v;
        if (ce->e.status != CHAIN_ENTRY_VALID)
            continue;
        int cmp = u256_cmp(&ce->e.chainwork, &best->e.chainwork);
        if (cmp > 0 || (cmp == 0 && ce->e.seq < best->e.seq))
            best = ce;
    }
    return best;
}

/* ---- reorganisation ---------------------------------------------------- */

typedef struct {
    size_t fork_height;
    centry **old;                /* active blocks above the fork, tip first */
    loaded_block *ob;
    size_t n_old;
    centry **new_;               /* the branch above the fork, lowest first */
    loaded_block *nb;
    size_t n_new;
    uint8_t *sig_ok;             /* all ones: signatures checked on arrival */
    uint64_t settled_before;     /* ledger_last_settled before the move */
} reorg_plan;

static void plan_free(reorg_plan *p)
{
    for (size_t i = 0; i < p->n_old; i++)
        loaded_free(&p->ob[i]);
    for (size_t i = 0; i < p->n_new; i++)
        loaded_free(&p->nb[i]);
    free(p->old);
    free(p->ob);
    free(p->new_);
    free(p->nb);
    free(p->sig_ok);
}

static int ensure_active_cap(chain *c, size_t n)
{
    if (n <= c->cap_active)
        return SG_OK;
    size_t cap = c->cap_active ? c->cap_active : 64;
    while (cap < n)
        cap *= 2;
    centry **a = realloc(c->active, cap * sizeof *a);
    if (a == NULL)
        return SG_ENOMEM;
    c->active = a;
    c->cap_active = cap;
    return SG_OK;
}

/* Loads every block the reorg touches before any state changes, so a read
 * failure leaves the chain as it was. */
static int plan_build(chain *c, centry *target, const fresh_block *fresh, reorg_plan *p)
{
    memset(p, 0, sizeof *p);
    centry *fork = target;
    size_t n_new = 0;
    while (!fork->e.active) {
        fork = to_centry(fork->e.parent);
        n_new++;
    }
    size_t n_old = c->n_active - 1 - fork->e.height;
    p->fork_height = fork->e.height;
    p->settled_before = ledger_last_settled(c->ledger);
    int rc = ensure_active_cap(c, p->fork_height + 1 + n_new);
    if (rc < 0)
        return rc;
    p->old = calloc(n_old + 1, sizeof *p->old);
    p->ob = calloc(n_old + 1, sizeof *p->ob);
    p->new_ = calloc(n_new + 1, sizeof *p->new_);
    p->nb = calloc(n_new + 1, sizeof *p->nb);
    if (!p->old || !p->ob || !p->new_ || !p->nb)
        return SG_ENOMEM;
    uint32_t max_txs = 1;
    for (; p->n_old < n_old; p->n_old++) {
        p->old[p->n_old] = c->active[c->n_active - 1 - p->n_old];
        rc = load_block(c, p->old[p->n_old], &p->ob[p->n_old]);
        if (rc < 0)
            return rc;
    }
    centry *ce = target;
    for (size_t i = n_new; i-- > 0; ce = to_centry(ce->e.parent))
        p->new_[i] = ce;
    for (; p->n_new < n_new; p->n_new++) {
        if (fresh != NULL && fresh->ce == p->new_[p->n_new]) {
            p->nb[p->n_new] = fresh->lb;
            p->nb[p->n_new].borrowed = 1;
        } else if ((rc = load_block(c, p->new_[p->n_new], &p->nb[p->n_new])) < 0) {
            return rc;
        }
        if (p->nb[p->n_new].b.n_txs > max_txs)
            max_txs = p->nb[p->n_new].b.n_txs;
    }
    p->sig_ok = malloc(max_txs);
    if (p->sig_ok == NULL)
        return SG_ENOMEM;
    memset(p->sig_ok, 1, max_txs);
    return SG_OK;
}

static int connect_one(chain *c, const reorg_plan *p, centry *ce, const loaded_block *lb)
{
    if (ce->undo == NULL) {
        ce->undo = ledger_undo_new();
        if (ce->undo == NULL)
            return SG_ENOMEM;
    }
    int rc = ledger_apply_block(c->ledger, &lb->b, (const uint8_t (*)[32])lb->txids,
                                p->sig_ok, ce->e.height, ce->undo);
    if (rc < 0) {
        ledger_undo_free(ce->undo);
        ce->undo = NULL;
    }
    return rc;
}

static void disconnect_one(chain *c, centry *ce)
{
    ledger_undo_apply(c->ledger, ce->undo);
}

/* Drops the journals of active blocks more than undo_keep below the tip;
 * `changed` is the lowest height the last move connected (its journals
 * are new). */
static void prune_undo(chain *c, size_t changed)
{
    if (changed < c->undo_floor)
        c->undo_floor = changed;
    while (c->undo_floor + c->undo_keep < c->n_active - 1) {
        centry *ce = c->active[c->undo_floor++];
        if (ce->undo != NULL)
            ledger_undo_free(ce->undo);
        ce->undo = NULL;
    }
}

/* The ledger already holds the new state; make it official: active flags
 * and array, mempool, then callbacks (so they see a consistent chain). */
static void commit(chain *c, const reorg_plan *p, chain_result *res)
{
    for (size_t i = 0; i < p->n_old; i++) {
        p->old[i]->e.active = 0;
        if (p->old[i]->undo != NULL)
            ledger_undo_free(p->old[i]->undo);
        p->old[i]->undo = NULL;
    }
    c->n_active = p->fork_height + 1;
    for (size_t i = 0; i < p->n_new; i++) {
        p->new_[i]->e.active = 1;
        c->active[c->n_active++] = p->new_[i];
    }
    prune_undo(c, p->fork_height + 1);
    /* Abandoned transactions come back if the new state still allows them;
     * failures (nonce used by the new branch, pool full) are expected. */
    for (size_t i = 0; i < p->n_old; i++)
        for (uint32_t t = 1; t < p->ob[i].b.n_txs; t++)
            (void)mempool_add(c->mp, &p->ob[i].b.txs[t], p->ob[i].txids[t],
                              c->ledger, c->id);
    for (size_t i = 0; i < p->n_new; i++)
        for (uint32_t t = 0; t < p->nb[i].b.n_txs; t++)
            mempool_remove(c->mp, p->nb[i].txids[t]);
    /* Blocks only added that settled nothing can have used up nonces of
     * their senders alone; anything else walks the whole pool (walked each
     * time, it was 8 % of a daemon's work on a 1000-transfer block with
     * 10,000 transactions waiting). */
    if (p->n_old == 0 && ledger_last_settled(c->ledger) == p->settled_before) {
        for (size_t i = 0; i < p->n_new; i++)
            for (uint32_t t = 1; t < p->nb[i].b.n_txs; t++)
                mempool_prune_account(c->mp, c->ledger, p->nb[i].b.txs[t].from);
    } else {
        mempool_prune(c->mp, c->ledger);
    }
    if (res) {
        res->disconnected += (uint32_t)p->n_old;
        res->connected += (uint32_t)p->n_new;
    }
    for (size_t i = 0; c->on_disconnect && i < p->n_old; i++)
        c->on_disconnect(c->cb_ctx, &p->old[i]->e, &p->ob[i].b,
                         (const uint8_t (*)[32])p->ob[i].txids);
    for (size_t i = 0; c->on_connect && i < p->n_new; i++)
        c->on_connect(c->cb_ctx, &p->new_[i]->e, &p->nb[i].b,
                      (const uint8_t (*)[32])p->nb[i].txids);
}

/* Puts the old branch back after a failed attempt.  Reconnecting blocks
 * that connected before cannot break a rule; should memory run out, the
 * chain settles on what did reconnect and says so through the callbacks. */
static void restore_old(chain *c, reorg_plan *p, chain_result *res)
{
    for (size_t k = p->n_old; k-- > 0;) {
        if (connect_one(c, p, p->old[k], &p->ob[k]) < 0) {
            reorg_plan cut = *p;
            cut.n_old = k + 1;
            cut.n_new = 0;
            cut.fork_height = p->old[k]->e.height - 1;
            commit(c, &cut, res);
            return;
        }
    }
}

/* The state after active[height], rebuilt from genesis by applying the
 * active blocks again (their signatures were checked when they came). */
static int rebuild_state(chain *c, size_t height, ledger **out)
{
    ledger *l = NULL;
    uint8_t *sig_ok = NULL;
    size_t cap = 0;
    int rc = ledger_new(&l, c->params);

    for (size_t h = 1; rc == SG_OK && h <= height; h++) {
        loaded_block lb;
        if ((rc = load_block(c, c->active[h], &lb)) < 0)
            break;
        if (lb.b.n_txs > cap) {
            uint8_t *grown = realloc(sig_ok, lb.b.n_txs);
            if (grown == NULL) {
                loaded_free(&lb);
                rc = SG_ENOMEM;
                break;
            }
            sig_ok = grown;
            cap = lb.b.n_txs;
            memset(sig_ok, 1, cap);
        }
        rc = ledger_apply_block(l, &lb.b, (const uint8_t (*)[32])lb.txids, sig_ok, h, NULL);
        loaded_free(&lb);
    }
    free(sig_ok);
    if (rc < 0 && l != NULL) {
        ledger_free(l);
        l = NULL;
    }
    *out = l;
    return rc;
}

static int below_undo(const reorg_plan *p)
{
    for (size_t i = 0; i < p->n_old; i++)
        if (p->old[i]->undo == NULL)
            return 1;
    return 0;
}

/* Connects the new branch; on a failure unwinds what did connect and
 * sets *failed to the block that broke a rule. */
static int connect_branch(chain *c, reorg_plan *p, size_t *failed)
{
    int rc = 0;
    size_t i = 0;
    for (; i < p->n_new; i++)
        if ((rc = connect_one(c, p, p->new_[i], &p->nb[i])) < 0)
            break;
    if (rc == 0)
        return 0;
    for (size_t j = i; j-- > 0;) {
        disconnect_one(c, p->new_[j]);
        ledger_undo_free(p->new_[j]->undo);
        p->new_[j]->undo = NULL;
    }
    *failed = i;
    return rc;
}

/* Moves the active chain to target.  On a rule violation the failing
 * block and its descendants become invalid, the old chain is back, and
 * *marked is set.  Other errors (memory, I/O) change nothing.  Below the
 * kept journals the new branch goes onto a state rebuilt at the fork, and
 * the old state, untouched meanwhile, is kept until the branch connects. */
static int reorg_to(chain *c, centry *target, const fresh_block *fresh,
                    chain_result *res, int *marked)
{
    reorg_plan p;
    ledger *old_state = NULL, *rebuilt;
    size_t failed = 0;
    *marked = 0;
    int rc = plan_build(c, target, fresh, &p);
    if (rc < 0)
        goto out;
    if (below_undo(&p)) {
        if ((rc = rebuild_state(c, p.fork_height, &rebuilt)) < 0)
            goto out;
        old_state = c->ledger;
        c->ledger = rebuilt;
    } else {
        for (size_t i = 0; i < p.n_old; i++)
            disconnect_one(c, p.old[i]);
    }
    rc = connect_branch(c, &p, &failed);
    if (rc == 0) {
        if (old_state)
            ledger_free(old_state);
        commit(c, &p, res);
        goto out;
    }
    if (old_state) {
        ledger_free(c->ledger);
        c->ledger = old_state;
    } else {
        restore_old(c, &p, res);
    }
    if (rc != SG_ENOMEM) {
        mark_invalid(c, p.new_[failed]);
        *marked = 1;
    }
out:
    plan_free(&p);
    return rc;
}

/* Called after a block is indexed.  Returns the rule a block of the
 * candidate's branch broke, after settling on the best valid chain. */
static int activate(chain *c, centry *cand, const fresh_block *fresh, chain_result *res)
{
    if (u256_cmp(&cand->e.chainwork, &tip_of(c)->e.chainwork) <= 0)
        return SG_OK;
    int marked;
    int rc = reorg_to(c, cand, fresh, res, &marked);
    int first = rc;
    /* Each failed round marks at least one entry invalid, so this ends. */
    while (rc < 0 && marked) {
        centry *best = best_valid(c);
        if (u256_cmp(&best->e.chainwork, &tip_of(c)->e.chainwork) <= 0)
            break;
        rc = reorg_to(c, best, fresh, res, &marked);
    }
    return first;
}

/* ---- acceptance -------------------------------------------------------- */

/* One block through every rule; `offset` is its place in the store when it
 * came from there (UINT64_MAX otherwise).  Fills res->outcome, hash and
 * missing; adds to res->connected / disconnected. */
static int accept_one(chain *c, const uint8_t *bytes, size_t len, uint64_t offset,
                      const accept_ctx *ac, chain_result *res)
{
    proto_block b;
    uint8_t (*ids)[32] = NULL;
    if (len > PROTO_BLOCK_MAX_SIZE)
        return SG_ETOOBIG;
    int rc = proto_block_decode(bytes, len, &b);
    if (rc < 0)
        return rc;
    pow_header_hash(&b.header, res->hash);
    centry *known = hmap_get(&c->index, res->hash);
    if (known != NULL) {
        rc = known->e.status == CHAIN_ENTRY_VALID ? SG_OK : SG_EINVALID;
        res->outcome = CHAIN_KNOWN;
        goto out;
    }
    if (orphan_find(c, res->hash) != NULL) {
        res->outcome = CHAIN_ORPHANED;
        orphan_missing(c, b.header.prev, res->missing);
        goto out;
    }
    rc = block_txids(&b, &ids);
    if (rc < 0)
        goto out;
    rc = check_block(c, &b, (const uint8_t (*)[32])ids);
    if (rc < 0)
        goto out;
    centry *parent = hmap_get(&c->index, b.header.prev);
    if (parent == NULL) {
        rc = orphan_add(c, res->hash, &b.header, bytes, len, offset);
        if (rc == 0) {
            res->outcome = CHAIN_ORPHANED;
            orphan_missing(c, b.header.prev, res->missing);
        }
        goto out;
    }
    rc = check_context(c, parent, &b, ac);
    if (rc < 0)
        goto out;
    if (c->store != NULL && offset == UINT64_MAX) {
        rc = store_append(c->store, bytes, len, &offset);
        if (rc < 0)
            goto out;
    }
    centry *ce;
    rc = index_block(c, parent, &b, res->hash, bytes, len, offset, &ce);
    if (rc < 0)
        goto out;
    const centry *before = tip_of(c);
    fresh_block fresh = { .ce = ce, .lb = { .b = b, .txids = ids } };
    rc = activate(c, ce, &fresh, res);
    res->outcome = tip_of(c) != before ? CHAIN_NEW_TIP : CHAIN_SIDE;
out:
    free(ids);
    proto_block_free(&b);
    return rc;
}

/* Brings in every orphan that descends from `root`, breadth first; each
 * orphan leaves the pool once, so the queue never outgrows it. */
static void adopt_orphans(chain *c, const uint8_t root[32], const accept_ctx *ac,
                          chain_result *res)
{
    uint8_t queue[CHAIN_ORPHAN_MAX + 1][32];
    size_t head = 0, tail = 0;
    memcpy(queue[tail++], root, 32);
    while (head < tail) {
        const uint8_t *parent = queue[head++];
        for (size_t i = 0; i < c->n_orphans;) {
            if (memcmp(c->orphans[i].prev, parent, 32) != 0) {
                i++;
                continue;
            }
            chain_orphan o = c->orphans[i];
            c->orphans[i] = c->orphans[--c->n_orphans];
            chain_result sub = { 0 };
            int rc = accept_one(c, o.bytes, o.len, o.offset, ac, &sub);
            free(o.bytes);
            res->connected += sub.connected;
            res->disconnected += sub.disconnected;
            if (rc == 0 && (sub.outcome == CHAIN_NEW_TIP || sub.outcome == CHAIN_SIDE) &&
                tail < CHAIN_ORPHAN_MAX + 1)
                memcpy(queue[tail++], sub.hash, 32);
        }
    }
}

static int submit(chain *c, const uint8_t *bytes, size_t len, uint64_t offset,
                  const accept_ctx *ac, chain_result *res)
{
    memset(res, 0, sizeof *res);
    const centry *before = tip_of(c);
    int rc = accept_one(c, bytes, len, offset, ac, res);
    if (rc < 0 || (res->outcome != CHAIN_NEW_TIP && res->outcome != CHAIN_SIDE))
        return rc;
    adopt_orphans(c, res->hash, ac, res);
    res->outcome = tip_of(c) != before ? CHAIN_NEW_TIP : CHAIN_SIDE;
    return SG_OK;
}

int chain_submit_block(chain *c, const uint8_t *bytes, size_t len, uint64_t now,
                       chain_result *res)
{
    accept_ctx ac = { .now = now, .check_future = 1 };
    return submit(c, bytes, len, UINT64_MAX, &ac, res);
}

int chain_submit_tx(chain *c, const proto_tx *tx, uint8_t txid[32])
{
    int rc = tx_id(tx, txid);
    if (rc < 0)
        return rc;
    return mempool_add(c->mp, tx, txid, c->ledger, c->id);
}

int chain_admit_tx(chain *c, const proto_tx *tx, const uint8_t txid[32])
{
    return mempool_add(c->mp, tx, txid, c->ledger, c->id);
}

int chain_admit_verified_tx(chain *c, const proto_tx *tx, const uint8_t txid[32],
                            const uint8_t key[32])
{
    int rc = mempool_add_verified(c->mp, tx, txid, c->ledger);
    if (rc == 0)
        sigcache_add(c->sc, key);
    return rc;
}

int chain_precheck_tx(chain *c, const proto_tx *tx, const uint8_t txid[32])
{
    return mempool_precheck(c->mp, tx, txid, c->ledger);
}

/* ---- open / close ------------------------------------------------------ */

typedef struct {
    uint64_t *offs;
    size_t n, cap;
} offset_list;

/* The replay only notes where records are: blocks are read back once the
 * store is open, because connecting a side branch may need to read
 * blocks replayed earlier. */
static int note_offset(void *ctx, uint64_t offset, const uint8_t *bytes, size_t len)
{
    offset_list *l = ctx;
    (void)bytes;
    (void)len;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        uint64_t *o = realloc(l->offs, cap * sizeof *o);
        if (o == NULL)
            return SG_ENOMEM;
        l->offs = o;
        l->cap = cap;
    }
    l->offs[l->n++] = offset;
    return SG_OK;
}

static int load_store(chain *c, const char *data_dir, chain_load_report *rep)
{
    offset_list l = { 0 };
    store_report srep = { 0 };
    int rc = store_open(&c->store, data_dir, note_offset, &l, &srep);
    if (rc < 0)
        goto out;
    rep->dropped_bytes = srep.dropped_bytes;
    /* Our own blocks: no future-time rule (the clock has moved on). */
    accept_ctx ac = { .now = 0, .check_future = 0 };
    for (size_t i = 0; i < l.n; i++) {
        uint8_t *bytes;
        size_t len;
        rc = store_read(c->store, l.offs[i], &bytes, &len);
        if (rc < 0)
            goto out;
        chain_result res;
        int brc = submit(c, bytes, len, l.offs[i], &ac, &res);
        free(bytes);
        if (brc == SG_ENOMEM || brc == SG_EIO) {
            rc = brc;
            goto out;
        }
        rep->blocks_loaded++;
        if (brc < 0)
            rep->rejected++;
    }
out:
    free(l.offs);
    return rc;
}

static int make_genesis(chain *c)
{
    u256 target, work;
    int rc = pow_bits_to_target(c->params->bits, &target);
    if (rc < 0)
        return rc;
    pow_work(&target, &work);
    asert_pow_limit(&c->limit);
    params_chain_id(c->params, c->id);
    centry *g = calloc(1, sizeof *g);
    if (g == NULL)
        return SG_ENOMEM;
    params_genesis_header(c->params, &g->e.header);
    memcpy(g->e.hash, c->id, 32);
    g->e.chainwork = work;
    g->e.seq = c->next_seq++;
    g->e.store_offset = UINT64_MAX;
    g->e.status = CHAIN_ENTRY_VALID;
    g->e.active = 1;
    rc = ensure_active_cap(c, 1);
    if (rc == 0)
        rc = hmap_put(&c->index, g->e.hash, g);
    if (rc < 0) {
        free(g);
        return rc;
    }
    c->genesis = g;
    c->active[0] = g;
    c->n_active = 1;
    c->n_valid = 1;
    return SG_OK;
}

int chain_open(chain **out, const chain_config *cfg, chain_load_report *rep)
{
    chain_load_report dummy;
    if (rep == NULL)
        rep = &dummy;
    memset(rep, 0, sizeof *rep);
    chain *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SG_ENOMEM;
    c->params = cfg->params;
    c->undo_keep = cfg->undo_keep ? cfg->undo_keep : CHAIN_UNDO_KEEP;
    c->undo_floor = 1;
    c->on_connect = cfg->on_connect;
    c->on_disconnect = cfg->on_disconnect;
    c->cb_ctx = cfg->cb_ctx;
    hmap_init(&c->index);
    int rc = make_genesis(c);
    if (rc < 0)
        goto fail;
    rc = ledger_new(&c->ledger, c->params);
    if (rc < 0)
        goto fail;
    rc = mempool_new(&c->mp, CHAIN_MEMPOOL_TXS, CHAIN_MEMPOOL_BYTES);
    if (rc < 0)
        goto fail;
    rc = sigcache_new(&c->sc, SIGCACHE_DEFAULT_MAX);
    if (rc < 0)
        goto fail;
    mempool_set_sigcache(c->mp, c->sc);
    if (cfg->data_dir != NULL) {
        rc = load_store(c, cfg->data_dir, rep);
        if (rc < 0)
            goto fail;
        if (cfg->sync_later)
            store_sync_later(c->store);
    }
    *out = c;
    return SG_OK;
fail:
    chain_free(c);
    return rc;
}

void chain_free(chain *c)
{
    if (c == NULL)
        return;
    size_t it = 0;
    const uint8_t *k;
    void *v;
    while (hmap_next(&c->index, &it, &k, &v)) {
        centry *ce = v;
        if (ce->undo)
            ledger_undo_free(ce->undo);
        free(ce->bytes);
        free(ce);
    }
    hmap_free(&c->index);
    for (size_t i = 0; i < c->n_orphans; i++)
        free(c->orphans[i].bytes);
    free(c->active);
    if (c->ledger)
        ledger_free(c->ledger);
    mempool_free(c->mp);
    sigcache_free(c->sc);
    if (c->store)
        store_close(c->store);
    free(c);
}

/* ---- queries ----------------------------------------------------------- */

const chain_entry *chain_tip(const chain *c)
{
    return &tip_of(c)->e;
}

const chain_entry *chain_genesis(const chain *c)
{
    return &c->genesis->e;
}

const chain_entry *chain_lookup(const chain *c, const uint8_t hash[32])
{
    const centry *ce = hmap_get(&c->index, hash);
    return ce ? &ce->e : NULL;
}

const chain_entry *chain_at_height(const chain *c, uint32_t height)
{
    return height < c->n_active ? &c->active[height]->e : NULL;
}

uint64_t chain_stale_count(const chain *c)
{
    return c->n_valid - c->n_active;
}

size_t chain_orphan_count(const chain *c)
{
    return c->n_orphans;
}

const uint8_t *chain_id(const chain *c)
{
    return c->id;
}

ledger *chain_ledger(chain *c)
{
    return c->ledger;
}

mempool *chain_mempool(chain *c)
{
    return c->mp;
}

int chain_sync_due(chain *c)
{
    return c->store != NULL && store_sync_due(c->store);
}

int chain_sync(chain *c)
{
    return c->store != NULL ? store_sync(c->store) : SG_OK;
}

void chain_sigcache_stats(const chain *c, sigcache_stats *out)
{
    sigcache_get_stats(c->sc, out);
}

void chain_sig_keyer(const chain *c, sigcache_keyer *out)
{
    sigcache_get_keyer(c->sc, out);
}

int chain_block_bytes(chain *c, const uint8_t hash[32], uint8_t **out, size_t *len)
{
    const centry *ce = hmap_get(&c->index, hash);
    if (ce == NULL || ce->e.status != CHAIN_ENTRY_VALID)
        return SG_ENOTFOUND;
    return entry_bytes(c, ce, out, len);
}

int chain_block_bytes_any(chain *c, const uint8_t hash[32], uint8_t **out, size_t *len)
{
    const centry *ce = hmap_get(&c->index, hash);
    if (ce == NULL)
        return SG_ENOTFOUND;
    return entry_bytes(c, ce, out, len);
}

size_t chain_locator(const chain *c, uint8_t (*out)[32], size_t max)
{
    size_t n = 0;
    size_t h = c->n_active - 1;
    size_t step = 1;
    if (max == 0)
        return 0;
    while (h > 0 && n < max - 1) {
        memcpy(out[n++], c->active[h]->e.hash, 32);
        if (n >= 10)
            step *= 2;
        h = h > step ? h - step : 0;
    }
    memcpy(out[n++], c->genesis->e.hash, 32);
    return n;
}

size_t chain_after_locator(const chain *c, const uint8_t (*loc)[32], size_t n,
                           const uint8_t stop[32], uint8_t (*out)[32], size_t max)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const centry *ce = hmap_get(&c->index, loc[i]);
        if (ce != NULL && ce->e.active) {
            start = ce->e.height;
            break;
        }
    }
    int use_stop = stop != NULL && !hash_is_zero(stop);
    size_t cnt = 0;
    for (size_t h = start + 1; h < c->n_active && cnt < max; h++) {
        memcpy(out[cnt++], c->active[h]->e.hash, 32);
        if (use_stop && memcmp(c->active[h]->e.hash, stop, 32) == 0)
            break;
    }
    return cnt;
}

/* ---- templates --------------------------------------------------------- */

int chain_template(chain *c, const uint8_t miner[32], uint64_t now,
                   size_t max_txs, proto_block *b)
{
    const centry *tip = tip_of(c);
    uint64_t height = (uint64_t)tip->e.height + 1;
    proto_tx *sel = NULL;
    size_t n_sel = 0;
    uint8_t (*ids)[32] = NULL;
    memset(b, 0, sizeof *b);
    if (max_txs < 1 || max_txs > PROTO_BLOCK_MAX_TXS)
        max_txs = PROTO_BLOCK_MAX_TXS;

    proto_tx cb = { .version = PROTO_TX_VERSION, .kind = PROTO_TX_COINBASE,
                    .nonce = height };
    memcpy(cb.u.pay.to, miner, 32);
    cb.u.pay.amount = c->params->block_reward;
    uint8_t *enc;
    size_t cb_len;
    int rc = proto_tx_encode(&cb, &enc, &cb_len);
    if (rc < 0)
        return rc;
    free(enc);
    /* Header, tx count and coinbase come off the size budget. */
    size_t budget = PROTO_BLOCK_MAX_SIZE - PROTO_HEADER_SIZE - 4 - cb_len;
    uint8_t (*sel_ids)[32] = NULL;
    rc = mempool_select(c->mp, c->ledger, height, max_txs - 1, budget, &sel, &sel_ids,
                        &n_sel);
    if (rc < 0)
        return rc;
    /* The pool knows the txids: only the coinbase needs hashing. */
    ids = malloc((n_sel + 1) * sizeof *ids);
    if (ids == NULL) {
        rc = SG_ENOMEM;
        free(sel_ids);
        goto fail;
    }
    if (n_sel > 0)
        memcpy(ids[1], sel_ids, n_sel * sizeof *ids);
    free(sel_ids);
    rc = tx_id(&cb, ids[0]);
    if (rc < 0)
        goto fail;

    b->txs = calloc(n_sel + 1, sizeof *b->txs);
    if (b->txs == NULL) {
        rc = SG_ENOMEM;
        goto fail;
    }
    b->txs[0] = cb;
    for (size_t i = 0; i < n_sel; i++)
        b->txs[i + 1] = sel[i];   /* ownership moves into the block */
    b->n_txs = (uint32_t)n_sel + 1;
    free(sel);
    sel = NULL;
    n_sel = 0;

    rc = merkle_root((const uint8_t (*)[32])ids, b->n_txs, b->header.merkle);
    free(ids);
    ids = NULL;
    if (rc < 0)
        goto fail;
    uint64_t t = median_time(tip) + 1;
    if (now > t)
        t = now;
    b->header.version = c->genesis->e.header.version;
    memcpy(b->header.prev, tip->e.hash, 32);
    b->header.time = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
    b->header.bits = asert_next_bits(c->params, tip->e.height, tip->e.header.time);
    b->header.nonce = 0;
    return SG_OK;
fail:
    for (size_t i = 0; i < n_sel; i++)
        proto_tx_free(&sel[i]);
    free(sel);
    free(ids);
    proto_block_free(b);
    memset(b, 0, sizeof *b);
    return rc;
}
