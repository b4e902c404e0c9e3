#include "common/core/ledger.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/base/hmap.h"
#include "common/core/market.h"
#include "common/core/tx.h"

#define LEDGER_NONE UINT64_MAX   /* last_settled before any settlement */

/* ---- the journal ----------------------------------------------------------
 *
 * Every mutation first records the prior value, so rolling the journal back
 * newest first restores the state exactly.  Orders are never edited, only
 * created and removed; a removed order's memory moves into the journal
 * (which then owns it), so undoing never allocates and cannot fail. */

enum undo_kind {
    UNDO_ACCT_NEW,       /* account did not exist */
    UNDO_ACCT_OLD,       /* account had v.acct */
    UNDO_ORDER_ADDED,    /* order key was created */
    UNDO_ORDER_REMOVED,  /* v.order was removed; owned by the journal */
    UNDO_LAST_SETTLED,   /* last_settled was v.last_settled */
};

typedef struct {
    uint8_t kind;
    uint8_t key[32];
    union {
        ledger_account acct;
        ledger_order *order;
        uint64_t last_settled;
    } v;
} undo_entry;

struct ledger_undo {
    undo_entry *e;
    size_t n, cap;
};

struct ledger {
    const chain_params *params;
    uint8_t chain_id[32];
    hmap accounts;        /* pubkey -> ledger_account*, owned */
    hmap orders;          /* txid -> ledger_order*, owned */
    hmap order_slots;     /* slot_key(owner, interval) -> the same order */
    uint64_t last_settled;
    ledger_undo scratch;  /* journal for applies whose caller wants none */
};

ledger_undo *ledger_undo_new(void)
{
    return calloc(1, sizeof(ledger_undo));
}

static void undo_clear(ledger_undo *u)
{
    for (size_t i = 0; i < u->n; i++)
        if (u->e[i].kind == UNDO_ORDER_REMOVED)
            free(u->e[i].v.order);
    u->n = 0;
}

void ledger_undo_free(ledger_undo *u)
{
    if (u == NULL)
        return;
    undo_clear(u);
    free(u->e);
    free(u);
}

size_t ledger_undo_size(const ledger_undo *u)
{
    return u->n;
}

static int undo_reserve(ledger_undo *u, size_t want)
{
    if (want <= u->cap)
        return SG_OK;
    undo_entry *ne = realloc(u->e, want * sizeof *ne);
    if (ne == NULL)
        return SG_ENOMEM;
    u->e = ne;
    u->cap = want;
    return SG_OK;
}

static undo_entry *undo_push(ledger_undo *u, int kind, const uint8_t key[32])
{
    if (u->n == u->cap && undo_reserve(u, u->cap ? u->cap * 2 : 32) < 0)
        return NULL;
    undo_entry *e = &u->e[u->n++];
    e->kind = (uint8_t)kind;
    if (key != NULL)
        memcpy(e->key, key, 32);
    return e;
}

/* ---- primitive, journaled mutations -------------------------------------- */

static void slot_key(const uint8_t owner[32], uint64_t interval, uint8_t out[32])
{
    uint8_t b[4 + 32 + 8];
    memcpy(b, "SGOS", 4);
    memcpy(b + 4, owner, 32);
    for (int i = 0; i < 8; i++)
        b[36 + i] = (uint8_t)(interval >> (8 * i));
    hash_sha256(b, sizeof b, out);
}

static ledger_account *acct_find(const ledger *l, const uint8_t key[32])
{
    return hmap_get(&l->accounts, key);
}

/* Journals the account's current value and returns it for change, creating
 * it (zeroed) if it never existed. */
static int acct_touch(ledger *l, ledger_undo *j, const uint8_t key[32], ledger_account **out)
{
    ledger_account *a = acct_find(l, key);
    undo_entry *e = undo_push(j, a ? UNDO_ACCT_OLD : UNDO_ACCT_NEW, key);
    if (e == NULL)
        return SG_ENOMEM;
    if (a != NULL) {
        e->v.acct = *a;
    } else {
        a = calloc(1, sizeof *a);
        if (a == NULL)
            return SG_ENOMEM;
        if (hmap_put(&l->accounts, key, a) < 0) {
            free(a);
            return SG_ENOMEM;
        }
    }
    *out = a;
    return SG_OK;
}

static int order_add(ledger *l, ledger_undo *j, const ledger_order *tmpl)
{
    uint8_t sk[32];
    ledger_order *o;

    if (undo_push(j, UNDO_ORDER_ADDED, tmpl->id) == NULL)
        return SG_ENOMEM;
    o = malloc(sizeof *o);
    if (o == NULL)
        return SG_ENOMEM;
    *o = *tmpl;
    if (hmap_put(&l->orders, o->id, o) < 0) {
        free(o);
        return SG_ENOMEM;
    }
    slot_key(o->owner, o->interval, sk);
    /* On failure the journal entry removes the order again. */
    return hmap_put(&l->order_slots, sk, o) < 0 ? SG_ENOMEM : SG_OK;
}

static int order_remove(ledger *l, ledger_undo *j, ledger_order *o)
{
    uint8_t sk[32];
    undo_entry *e = undo_push(j, UNDO_ORDER_REMOVED, o->id);
    if (e == NULL)
        return SG_ENOMEM;
    e->v.order = o;
    slot_key(o->owner, o->interval, sk);
    hmap_del(&l->orders, o->id);
    hmap_del(&l->order_slots, sk);
    return SG_OK;
}

static int set_last_settled(ledger *l, ledger_undo *j, uint64_t v)
{
    undo_entry *e = undo_push(j, UNDO_LAST_SETTLED, NULL);
    if (e == NULL)
        return SG_ENOMEM;
    e->v.last_settled = l->last_settled;
    l->last_settled = v;
    return SG_OK;
}

static void undo_one(ledger *l, undo_entry *e)
{
    uint8_t sk[32];
    ledger_account *a;
    ledger_order *o;

    switch (e->kind) {
    case UNDO_ACCT_NEW:
        free(hmap_del(&l->accounts, e->key));
        break;
    case UNDO_ACCT_OLD:
        a = acct_find(l, e->key);
        if (a != NULL)
            *a = e->v.acct;
        break;
    case UNDO_ORDER_ADDED:
        o = hmap_del(&l->orders, e->key);
        if (o != NULL) {
            slot_key(o->owner, o->interval, sk);
            if (hmap_get(&l->order_slots, sk) == o)
                hmap_del(&l->order_slots, sk);
            free(o);
        }
        break;
    case UNDO_ORDER_REMOVED:
        /* The maps held these keys before and never shrink, so the puts
         * find room without allocating.  The entry is already popped, so
         * the order belongs to the ledger again. */
        o = e->v.order;
        slot_key(o->owner, o->interval, sk);
        (void)hmap_put(&l->orders, o->id, o);
        (void)hmap_put(&l->order_slots, sk, o);
        break;
    case UNDO_LAST_SETTLED:
        l->last_settled = e->v.last_settled;
        break;
    }
}

static void undo_to(ledger *l, ledger_undo *j, size_t mark)
{
    while (j->n > mark)
        undo_one(l, &j->e[--j->n]);
}

void ledger_undo_apply(ledger *l, ledger_undo *u)
{
    undo_to(l, u, 0);
}

/* ---- construction and queries -------------------------------------------- */

int ledger_cost(uint64_t wh, uint64_t price_per_kwh, uint64_t *out)
{
    unsigned __int128 v = (unsigned __int128)wh * price_per_kwh / 1000;
    if (v > UINT64_MAX)
        return SG_ETOOBIG;
    *out = (uint64_t)v;
    return SG_OK;
}

int ledger_new(ledger **out, const chain_params *params)
{
    ledger *l = calloc(1, sizeof *l);
    uint64_t total = 0;
    int rc = SG_OK;

    if (l == NULL)
        return SG_ENOMEM;
    l->params = params;
    l->last_settled = LEDGER_NONE;
    hmap_init(&l->accounts);
    hmap_init(&l->orders);
    hmap_init(&l->order_slots);
    params_chain_id(params, l->chain_id);
    for (uint32_t i = 0; i < params->n_allocs; i++) {
        const params_alloc *pa = &params->allocs[i];
        ledger_account *a;
        if (acct_find(l, pa->pubkey) != NULL ||
            __builtin_add_overflow(total, pa->balance, &total)) {
            rc = SG_EINVAL;
            goto fail;
        }
        rc = acct_touch(l, &l->scratch, pa->pubkey, &a);
        if (rc < 0)
            goto fail;
        a->balance = pa->balance;
    }
    undo_clear(&l->scratch);
    *out = l;
    return SG_OK;
fail:
    ledger_free(l);
    return rc;
}

void ledger_free(ledger *l)
{
    size_t it = 0;
    const uint8_t *k;
    void *v;

    if (l == NULL)
        return;
    undo_clear(&l->scratch);
    free(l->scratch.e);
    while (hmap_next(&l->accounts, &it, &k, &v))
        free(v);
    it = 0;
    while (hmap_next(&l->orders, &it, &k, &v))
        free(v);
    hmap_free(&l->accounts);
    hmap_free(&l->orders);
    hmap_free(&l->order_slots);
    free(l);
}

const ledger_account *ledger_account_get(const ledger *l, const uint8_t key[32])
{
    return acct_find(l, key);
}

const ledger_order *ledger_order_get(const ledger *l, const uint8_t id[32])
{
    return hmap_get(&l->orders, id);
}

uint64_t ledger_last_settled(const ledger *l)
{
    return l->last_settled;
}

const chain_params *ledger_params(const ledger *l)
{
    return l->params;
}

int ledger_total_money(const ledger *l, uint64_t *out)
{
    size_t it = 0;
    const uint8_t *k;
    void *v;
    uint64_t sum = 0;

    while (hmap_next(&l->accounts, &it, &k, &v)) {
        const ledger_account *a = v;
        if (__builtin_add_overflow(sum, a->balance, &sum) ||
            __builtin_add_overflow(sum, a->reserved, &sum))
            return SG_ETOOBIG;
    }
    *out = sum;
    return SG_OK;
}

int ledger_account_next(const ledger *l, size_t *iter, const uint8_t **key,
                        const ledger_account **acct)
{
    void *v;
    if (!hmap_next(&l->accounts, iter, key, &v))
        return 0;
    *acct = v;
    return 1;
}

int ledger_order_next(const ledger *l, size_t *iter, const ledger_order **o)
{
    const uint8_t *k;
    void *v;
    if (!hmap_next(&l->orders, iter, &k, &v))
        return 0;
    *o = v;
    return 1;
}

/* ---- state digest -------------------------------------------------------- */

typedef struct {
    const uint8_t *key;
    const void *val;
} kv_ref;

static int kv_cmp(const void *a, const void *b)
{
    return memcmp(((const kv_ref *)a)->key, ((const kv_ref *)b)->key, 32);
}

/* The map's entries sorted by key; *out is NULL for an empty map. */
static int sorted_entries(const hmap *m, kv_ref **out)
{
    size_t it = 0, n = 0;
    const uint8_t *k;
    void *v;
    kv_ref *r = NULL;

    if (m->count > 0) {
        r = malloc(m->count * sizeof *r);
        if (r == NULL)
            return SG_ENOMEM;
    }
    while (hmap_next(m, &it, &k, &v)) {
        r[n].key = k;
        r[n].val = v;
        n++;
    }
    if (n > 1)
        qsort(r, n, sizeof *r, kv_cmp);
    *out = r;
    return SG_OK;
}

static void digest_u64(crypto_hash_sha256_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    crypto_hash_sha256_update(st, b, sizeof b);
}

static void digest_account(crypto_hash_sha256_state *st, const kv_ref *r)
{
    const ledger_account *a = r->val;
    crypto_hash_sha256_update(st, r->key, 32);
    digest_u64(st, a->balance);
    digest_u64(st, a->reserved);
    digest_u64(st, a->nonce);
    digest_u64(st, a->sold_wh);
    digest_u64(st, a->bought_wh);
    digest_u64(st, a->grid_export_wh);
    digest_u64(st, a->grid_import_wh);
}

static void digest_order(crypto_hash_sha256_state *st, const ledger_order *o)
{
    crypto_hash_sha256_update(st, o->id, 32);
    crypto_hash_sha256_update(st, o->owner, 32);
    crypto_hash_sha256_update(st, &o->kind, 1);
    digest_u64(st, o->interval);
    digest_u64(st, o->energy_wh);
    digest_u64(st, o->price);
    digest_u64(st, o->reserved);
}

int ledger_state_hash(const ledger *l, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    kv_ref *accts = NULL, *orders = NULL;
    uint8_t first[32];
    int rc;

    if ((rc = sorted_entries(&l->accounts, &accts)) < 0 ||
        (rc = sorted_entries(&l->orders, &orders)) < 0)
        goto out;
    if (sodium_init() < 0) {
        /* Only feature detection failed; the portable code still runs. */
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)"SGLS", 4);
    digest_u64(&st, l->last_settled);
    digest_u64(&st, l->accounts.count);
    for (size_t i = 0; i < l->accounts.count; i++)
        digest_account(&st, &accts[i]);
    digest_u64(&st, l->orders.count);
    for (size_t i = 0; i < l->orders.count; i++)
        digest_order(&st, orders[i].val);
    crypto_hash_sha256_final(&st, first);
    hash_sha256(first, sizeof first, out);
out:
    free(accts);
    free(orders);
    return rc;
}

/* ---- transaction rules --------------------------------------------------- */

static int interval_open(const ledger *l, uint64_t interval)
{
    return l->last_settled == LEDGER_NONE || interval > l->last_settled;
}

static int credit(ledger_account *a, uint64_t amount)
{
    return __builtin_add_overflow(a->balance, amount, &a->balance) ? SG_EINVALID : SG_OK;
}

static int apply_coinbase(ledger *l, ledger_undo *j, const proto_tx *tx, uint64_t height)
{
    ledger_account *a;
    int rc;

    if (tx->nonce != height || tx->u.pay.amount != l->params->block_reward)
        return SG_ECOINBASE;
    if ((rc = acct_touch(l, j, tx->u.pay.to, &a)) < 0)
        return rc;
    return credit(a, tx->u.pay.amount);
}

static int apply_transfer(ledger *l, ledger_undo *j, const proto_tx *tx)
{
    const ledger_account *from = acct_find(l, tx->from);
    ledger_account *a;
    int rc;

    if (from == NULL || from->balance < tx->u.pay.amount)
        return SG_EBALANCE;
    if ((rc = acct_touch(l, j, tx->from, &a)) < 0)
        return rc;
    a->balance -= tx->u.pay.amount;
    if ((rc = acct_touch(l, j, tx->u.pay.to, &a)) < 0)
        return rc;
    return credit(a, tx->u.pay.amount);
}

static int apply_order(ledger *l, ledger_undo *j, const proto_tx *tx, const uint8_t txid[32])
{
    const chain_params *p = l->params;
    const ledger_account *cur = acct_find(l, tx->from);
    ledger_order o;
    ledger_account *a;
    uint8_t sk[32];
    int rc;

    memset(&o, 0, sizeof o);
    memcpy(o.id, txid, 32);
    memcpy(o.owner, tx->from, 32);
    o.kind = tx->kind;
    o.interval = tx->u.order.interval;
    o.energy_wh = tx->u.order.energy_wh;
    o.price = tx->u.order.price;
    if (!interval_open(l, o.interval) || o.price < p->feed_in_price || o.price > p->retail_price)
        return SG_EORDER;
    slot_key(o.owner, o.interval, sk);
    if (hmap_get(&l->order_slots, sk) != NULL)
        return SG_EORDER;               /* one order per account per interval */
    if (hmap_get(&l->orders, o.id) != NULL)
        return SG_EDUP;
    /* A bid holds the most its settlement can charge: all of it at retail. */
    if (o.kind == PROTO_TX_BID && ledger_cost(o.energy_wh, p->retail_price, &o.reserved) < 0)
        return SG_EORDER;
    if (o.reserved > (cur ? cur->balance : 0))
        return SG_EBALANCE;
    if ((rc = acct_touch(l, j, tx->from, &a)) < 0)
        return rc;
    a->balance -= o.reserved;
    if (__builtin_add_overflow(a->reserved, o.reserved, &a->reserved))
        return SG_EINVALID;
    return order_add(l, j, &o);
}

/* ---- settlement ---------------------------------------------------------- */

typedef struct {
    uint64_t sold, bought;   /* Wh traded peer to peer, by side */
    uint64_t pay, receive;   /* money in from buyers, out to sellers */
} settle_sums;

/* What one fill moves: a bid's payment, or an offer's receipt. */
static int fill_money(const chain_params *p, const ledger_order *o, const proto_fill *f,
                      uint64_t *out)
{
    uint64_t peer, grid;
    uint64_t grid_price = o->kind == PROTO_TX_BID ? p->retail_price : p->feed_in_price;

    if (ledger_cost(f->traded_wh, f->trade_price, &peer) < 0 ||
        ledger_cost(f->grid_wh, grid_price, &grid) < 0 ||
        __builtin_add_overflow(peer, grid, out))
        return SG_ESETTLE;
    return SG_OK;
}

static int trade_price_ok(const chain_params *p, const proto_tx *tx, const ledger_order *o,
                          uint64_t price)
{
    if (price < p->feed_in_price || price > p->retail_price)
        return 0;
    if (o->kind == PROTO_TX_OFFER ? price < o->price : price > o->price)
        return 0;
    return p->market_rule != PARAMS_MARKET_UNIFORM || price == tx->u.settle.clearing_price;
}

/* Validates one fill against the book without changing anything. */
static int check_fill(const ledger *l, const proto_tx *tx, const proto_fill *f, settle_sums *s)
{
    const ledger_order *o = hmap_get(&l->orders, f->order);
    uint64_t money, energy;

    if (o == NULL || o->interval != tx->u.settle.interval)
        return SG_ESETTLE;
    if (__builtin_add_overflow(f->traded_wh, f->grid_wh, &energy) || energy != o->energy_wh)
        return SG_ESETTLE;
    if (f->traded_wh > 0 && !trade_price_ok(l->params, tx, o, f->trade_price))
        return SG_ESETTLE;
    if (fill_money(l->params, o, f, &money) < 0)
        return SG_ESETTLE;
    if (o->kind == PROTO_TX_BID) {
        if (money > o->reserved || __builtin_add_overflow(s->bought, f->traded_wh, &s->bought) ||
            __builtin_add_overflow(s->pay, money, &s->pay))
            return SG_ESETTLE;
    } else if (__builtin_add_overflow(s->sold, f->traded_wh, &s->sold) ||
               __builtin_add_overflow(s->receive, money, &s->receive)) {
        return SG_ESETTLE;
    }
    return SG_OK;
}

static int add_stat(uint64_t *stat, uint64_t v)
{
    return __builtin_add_overflow(*stat, v, stat) ? SG_EINVALID : SG_OK;
}

/* Takes a bid's whole reservation off hold: `spent` to the grid (already
 * credited there), the rest back to the owner's balance. */
static int release_bid(ledger_account *a, const ledger_order *o, uint64_t spent)
{
    if (a->reserved < o->reserved || spent > o->reserved)
        return SG_EINVALID;   /* the books disagree: never on a sound ledger */
    a->reserved -= o->reserved;
    return credit(a, o->reserved - spent);
}

static int settle_fill(ledger *l, ledger_undo *j, const proto_fill *f)
{
    ledger_order *o = hmap_get(&l->orders, f->order);
    ledger_account *a;
    uint64_t money;
    int rc;

    if ((rc = fill_money(l->params, o, f, &money)) < 0 ||
        (rc = acct_touch(l, j, o->owner, &a)) < 0)
        return rc;
    if (o->kind == PROTO_TX_BID)
        rc = release_bid(a, o, money) < 0 || add_stat(&a->bought_wh, f->traded_wh) < 0 ||
             add_stat(&a->grid_import_wh, f->grid_wh) < 0 ? SG_EINVALID : SG_OK;
    else
        rc = credit(a, money) < 0 || add_stat(&a->sold_wh, f->traded_wh) < 0 ||
             add_stat(&a->grid_export_wh, f->grid_wh) < 0 ? SG_EINVALID : SG_OK;
    if (rc < 0)
        return rc;
    return order_remove(l, j, o);
}

/* Orders at or before a settled interval can never be filled any more
 * (settlements need a later interval), so they all lapse, the unnamed ones
 * of this interval and any stragglers of intervals never settled. */
static int expire_orders(ledger *l, ledger_undo *j, uint64_t interval)
{
    ledger_order **doomed = NULL;
    const ledger_order *co;
    size_t it = 0, n = 0;
    int rc = SG_OK;

    if (l->orders.count > 0 && (doomed = malloc(l->orders.count * sizeof *doomed)) == NULL)
        return SG_ENOMEM;
    while (ledger_order_next(l, &it, &co))
        if (co->interval <= interval)
            doomed[n++] = (ledger_order *)co;
    for (size_t i = 0; i < n && rc == SG_OK; i++) {
        ledger_order *o = doomed[i];
        ledger_account *a;
        if (o->kind == PROTO_TX_BID) {
            if ((rc = acct_touch(l, j, o->owner, &a)) < 0 || (rc = release_bid(a, o, 0)) < 0)
                break;
        }
        rc = order_remove(l, j, o);
    }
    free(doomed);
    return rc;
}

/* "Clearing rule respected": the fills must be exactly what the market rule
 * gives on the orders they name (check_fill has made sure each exists). */
static int settle_follows_rule(const ledger *l, const proto_tx *tx)
{
    const chain_params *p = l->params;
    uint32_t n = tx->u.settle.n_fills;
    ledger_order *named = NULL;
    int rc;

    if (n > 0 && (named = malloc(n * sizeof *named)) == NULL)
        return SG_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        named[i] = *(const ledger_order *)hmap_get(&l->orders, tx->u.settle.fills[i].order);
    rc = market_verify(p->market_rule, named, n, p->retail_price, p->feed_in_price, tx);
    free(named);
    return rc;
}

static int apply_settlement(ledger *l, ledger_undo *j, const proto_tx *tx)
{
    const chain_params *p = l->params;
    const proto_fill *fills = tx->u.settle.fills;
    const ledger_account *grid = acct_find(l, p->operator_key);
    settle_sums s = { 0, 0, 0, 0 };
    uint64_t grid_balance = grid ? grid->balance : 0;
    ledger_account *a;
    int rc;

    if (memcmp(tx->from, p->operator_key, 32) != 0 || !interval_open(l, tx->u.settle.interval))
        return SG_ESETTLE;
    for (uint32_t i = 0; i < tx->u.settle.n_fills; i++)
        if ((rc = check_fill(l, tx, &fills[i], &s)) < 0)
            return rc;
    if (s.sold != s.bought)
        return SG_ESETTLE;
    if ((rc = settle_follows_rule(l, tx)) < 0)
        return rc;
    /* The grid takes what buyers pay and funds what sellers get. */
    if (__builtin_add_overflow(grid_balance, s.pay, &grid_balance))
        return SG_EINVALID;
    if (grid_balance < s.receive)
        return SG_EBALANCE;
    if ((rc = acct_touch(l, j, p->operator_key, &a)) < 0)
        return rc;
    a->balance = grid_balance - s.receive;
    for (uint32_t i = 0; i < tx->u.settle.n_fills; i++)
        if ((rc = settle_fill(l, j, &fills[i])) < 0)
            return rc;
    if ((rc = expire_orders(l, j, tx->u.settle.interval)) < 0)
        return rc;
    return set_last_settled(l, j, tx->u.settle.interval);
}

/* ---- applying ------------------------------------------------------------ */

static int apply_signed(ledger *l, ledger_undo *j, const proto_tx *tx, const uint8_t txid[32])
{
    const ledger_account *cur = acct_find(l, tx->from);
    ledger_account *a;
    int rc;

    /* The last nonce is never usable: the account could not advance past it. */
    if (tx->nonce != (cur ? cur->nonce : 0) || tx->nonce == UINT64_MAX)
        return SG_ENONCE;
    switch (tx->kind) {
    case PROTO_TX_TRANSFER:
        rc = apply_transfer(l, j, tx);
        break;
    case PROTO_TX_OFFER:
    case PROTO_TX_BID:
        rc = apply_order(l, j, tx, txid);
        break;
    case PROTO_TX_SETTLEMENT:
        rc = apply_settlement(l, j, tx);
        break;
    default:
        rc = SG_EINVALID;
    }
    if (rc < 0 || (rc = acct_touch(l, j, tx->from, &a)) < 0)
        return rc;
    a->nonce++;
    return SG_OK;
}

/* May leave partial changes behind on error: callers roll j back. */
static int apply_one(ledger *l, ledger_undo *j, const proto_tx *tx, const uint8_t *txid,
                     uint64_t height, int check_sig)
{
    uint8_t id[32];
    int rc;

    if ((rc = tx_check(tx)) < 0)
        return rc;
    if (tx->kind == PROTO_TX_COINBASE)
        return apply_coinbase(l, j, tx, height);
    if (check_sig && tx_verify_sig(tx, l->chain_id) < 0)
        return SG_EBADSIG;
    if (txid == NULL) {
        if ((rc = tx_id(tx, id)) < 0)
            return rc;
        txid = id;
    }
    return apply_signed(l, j, tx, txid);
}

int ledger_apply_tx(ledger *l, const proto_tx *tx, const uint8_t txid[32],
                    uint64_t height, int check_sig, ledger_undo *u)
{
    ledger_undo *j = u ? u : &l->scratch;
    size_t mark = j->n;
    int rc = apply_one(l, j, tx, txid, height, check_sig);

    if (rc < 0)
        undo_to(l, j, mark);
    else if (u == NULL)
        undo_clear(j);
    return rc;
}

static int coinbase_placement_ok(const proto_block *b)
{
    if (b->n_txs == 0 || b->txs == NULL || b->txs[0].kind != PROTO_TX_COINBASE)
        return 0;
    for (uint32_t i = 1; i < b->n_txs; i++)
        if (b->txs[i].kind == PROTO_TX_COINBASE)
            return 0;
    return 1;
}

int ledger_apply_block(ledger *l, const proto_block *b, const uint8_t (*txids)[32],
                       const uint8_t *sig_checked, uint64_t height, ledger_undo *u)
{
    ledger_undo *j = u ? u : &l->scratch;
    size_t mark = j->n;
    int rc = SG_OK;

    if (!coinbase_placement_ok(b))
        return SG_ECOINBASE;
    /* A transfer journals three account values.  Grown by doubling, the
     * journal of a 1000-transfer block was copied into fresh pages again
     * and again: about a sixth of a daemon's work on such a block (perf,
     * bench_net.sh prop 50 10 6 1000).  Settlements may still grow it. */
    if (undo_reserve(j, j->n + (size_t)b->n_txs * 3 + 1) < 0)
        return SG_ENOMEM;
    for (uint32_t i = 0; i < b->n_txs && rc == SG_OK; i++)
        rc = apply_one(l, j, &b->txs[i], txids ? txids[i] : NULL, height,
                       sig_checked ? !sig_checked[i] : 1);
    if (rc < 0)
        undo_to(l, j, mark);
    else if (u == NULL)
        undo_clear(j);
    return rc;
}
