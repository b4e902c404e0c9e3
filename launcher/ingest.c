/*
 * ingest.c - block stores to database rows; see ingest.h.
 */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/base/hmap.h"
#include "common/core/ledger.h"
#include "common/core/store.h"
#include "common/core/tx.h"
#include "common/model/energy.h"
#include "proto/msg.h"

#define REC_HDR 12                  /* magic, length, checksum */
/* Bytes read from a store at once: what one STORE_READ answer carries. */
#define INGEST_WINDOW PROTO_STORE_READ_MAX

/* Money a block moves for one account while it is on the best chain. */
typedef struct {
    uint8_t pk[32];
    uint64_t paid, received, rewards;
} imoney;

typedef struct iblock {
    uint8_t hash[32];
    struct iblock *parent;
    uint32_t height;
    uint64_t seq;                   /* launcher's arrival order: ties */
    int on_best;
    db_block row;
    uint32_t n_txs;
    db_tx *txs;                     /* rows, block_hash filled when on best */
    uint8_t (*txids)[32];
    uint32_t n_ivs;
    db_interval *ivs;               /* settlements of this block */
    uint32_t n_money;
    imoney *money;
} iblock;

/* A transaction, or a market interval's settlement: which best-chain
 * block holds it, so that a stale copy never overwrites the best one. */
typedef struct {
    const iblock *in_best;          /* NULL: none on the best chain */
} itx;

typedef struct {
    uint8_t owner[32];
    uint8_t kind;
} iorder;

typedef struct {
    char name[DB_NAME_MAX];
    uint8_t pk[32];
    char path[PATH_MAX];            /* "" for a remote source */
    int fd;
    ingest_read_fn read;            /* remote: where the bytes come from */
    void *read_ctx;
    size_t read_id;
    uint64_t off;
    int broken;                     /* a corrupt record: stop reading it */
    ingest_money money;             /* on the best chain */
} isource;

struct ingest {
    const chain_params *params;
    db *db;
    char run_id[DB_RUNID_MAX];
    hmap blocks, txs, orders, names;
    hmap ivals;                     /* interval number (key_of_interval) -> itx */
    iblock *genesis, *best;
    uint64_t seq;
    isource *src;
    size_t n_src;
    uint8_t *win;                   /* the bytes of one store being parsed */
    size_t win_cap;
    ingest_stats st;
    int put_err;
    int genesis_put;
};

static const char *const kind_names[] = { "coinbase", "transfer", "offer", "bid", "settlement" };

static void put(ingest *g, int rc)
{
    if (rc != 0 && g->put_err == 0)
        g->put_err = rc;
}

/* Without a database the index still runs (tests, `status`). */
#define PUT(g, fn, row) put((g), (g)->db ? fn((g)->db, (row)) : 0)

static void iblock_free(iblock *b)
{
    if (!b)
        return;
    free(b->txs);
    free(b->txids);
    free(b->ivs);
    free(b->money);
    free(b);
}

static void header_hash(const proto_header *h, uint8_t out[32])
{
    uint8_t raw[PROTO_HEADER_SIZE];
    proto_header_encode(h, raw);
    hash_sha256d(raw, sizeof raw, out);
}

int ingest_new(ingest **out, const chain_params *params, db *d, const char *run_id)
{
    ingest *g = calloc(1, sizeof *g);
    iblock *gen = calloc(1, sizeof *gen);
    if (!g || !gen)
        goto fail;
    g->params = params;
    g->db = d;
    snprintf(g->run_id, sizeof g->run_id, "%s", run_id);
    hmap_init(&g->blocks);
    hmap_init(&g->txs);
    hmap_init(&g->orders);
    hmap_init(&g->names);
    hmap_init(&g->ivals);
    proto_header h;
    params_genesis_header(params, &h);
    header_hash(&h, gen->hash);
    gen->on_best = 1;
    gen->seq = g->seq++;
    snprintf(gen->row.run_id, sizeof gen->row.run_id, "%s", run_id);
    hash_to_hex_display(gen->hash, gen->row.hash);
    hash_to_hex_display(h.prev, gen->row.prev_hash);
    gen->row.time_s = h.time;
    gen->row.bits = h.bits;
    gen->row.nonce = h.nonce;
    snprintf(gen->row.seen_by, sizeof gen->row.seen_by, "genesis");
    if (hmap_put(&g->blocks, gen->hash, gen) != 0)
        goto fail;
    g->genesis = g->best = gen;
    g->st.blocks = 1;
    *out = g;
    return 0;
fail:
    if (g)
        hmap_free(&g->blocks);
    free(gen);
    free(g);
    return SG_ENOMEM;
}

void ingest_free(ingest *g)
{
    if (!g)
        return;
    size_t it = 0;
    const uint8_t *k;
    void *v;
    while (hmap_next(&g->blocks, &it, &k, &v))
        iblock_free(v);
    for (it = 0; hmap_next(&g->txs, &it, &k, &v);)
        free(v);
    for (it = 0; hmap_next(&g->orders, &it, &k, &v);)
        free(v);
    for (it = 0; hmap_next(&g->ivals, &it, &k, &v);)
        free(v);
    hmap_free(&g->blocks);
    hmap_free(&g->txs);
    hmap_free(&g->orders);
    hmap_free(&g->names);
    hmap_free(&g->ivals);
    for (size_t i = 0; i < g->n_src; i++)
        if (g->src[i].fd >= 0)
            close(g->src[i].fd);
    free(g->src);
    free(g->win);
    free(g);
}

static isource *add_source(ingest *g, const char *name, const uint8_t pubkey[32], int *rc)
{
    /* Sources are never removed, and names points into this array, so it
     * is sized once, generously, instead of moving under the map. */
    *rc = SG_ENOMEM;
    if (!g->src) {
        g->src = calloc(LAUNCHER_INGEST_MAX_NODES, sizeof *g->src);
        if (!g->src)
            return NULL;
    }
    *rc = SG_EFULL;
    if (g->n_src == LAUNCHER_INGEST_MAX_NODES)
        return NULL;
    isource *s = &g->src[g->n_src];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    memcpy(s->pk, pubkey, 32);
    s->fd = -1;
    *rc = 0;
    return s;
}

/* The source joins only once complete. */
static int commit_source(ingest *g, isource *s)
{
    if (hmap_put(&g->names, s->pk, s) != 0)
        return SG_ENOMEM;
    g->n_src++;
    return 0;
}

int ingest_add_node(ingest *g, const char *name, const uint8_t pubkey[32],
                    const char *data_dir)
{
    int rc;
    isource *s = add_source(g, name, pubkey, &rc);
    if (!s)
        return rc;
    if ((size_t)snprintf(s->path, sizeof s->path, "%s/blocks.dat", data_dir) >= sizeof s->path)
        return SG_EINVAL;
    return commit_source(g, s);
}

int ingest_add_remote_node(ingest *g, const char *name, const uint8_t pubkey[32],
                           ingest_read_fn read, void *ctx, size_t id)
{
    int rc;
    isource *s = add_source(g, name, pubkey, &rc);
    if (!s)
        return rc;
    s->read = read;
    s->read_ctx = ctx;
    s->read_id = id;
    return commit_source(g, s);
}

/* ---- best chain ---------------------------------------------------------- */

static void key_of_interval(int64_t interval, uint8_t key[32])
{
    uint64_t v = (uint64_t)interval;
    memset(key, 0, 32);
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(v >> (8 * i));
}

/* Decides whether a row held by block b is (re-)put and with which block
 * hash: a best-chain block always claims it; a block off the best chain
 * clears it only if it held the best copy or nobody did. */
static int claim(itx *t, const iblock *b, char block_hash[DB_HEX_MAX])
{
    if (b->on_best) {
        t->in_best = b;
        memcpy(block_hash, b->row.hash, DB_HEX_MAX);
        return 1;
    }
    if (t->in_best == b || t->in_best == NULL) {
        t->in_best = NULL;
        block_hash[0] = '\0';
        return 1;
    }
    return 0;
}

static void put_block_rows(ingest *g, iblock *b)
{
    b->row.stale = !b->on_best;
    PUT(g, db_put_block, &b->row);
    for (uint32_t i = 0; i < b->n_txs; i++) {
        itx *t = hmap_get(&g->txs, b->txids[i]);
        if (claim(t, b, b->txs[i].block_hash))
            PUT(g, db_put_tx, &b->txs[i]);
    }
    for (uint32_t i = 0; i < b->n_ivs; i++) {
        uint8_t key[32];
        key_of_interval(b->ivs[i].interval, key);
        itx *t = hmap_get(&g->ivals, key);
        if (claim(t, b, b->ivs[i].block_hash)) {
            b->ivs[i].settled_ms = b->on_best ? b->row.first_seen_ms : 0;
            PUT(g, db_put_interval, &b->ivs[i]);
        }
    }
}

static void count_best(ingest *g, const iblock *b, int sign)
{
    g->st.stale -= (uint64_t)sign;
    g->st.txs += (uint64_t)(sign * (int64_t)b->n_txs);
    for (uint32_t i = 0; i < b->n_ivs; i++) {
        const db_interval *iv = &b->ivs[i];
        g->st.intervals += (uint64_t)sign;
        g->st.traded_wh += (uint64_t)(sign * iv->traded_wh);
        g->st.traded_value += (uint64_t)(sign * iv->traded_value);
        g->st.wh_price_sum += (uint64_t)sign * iv->wh_price_sum;
        g->st.trades += (uint64_t)(sign * iv->matched_orders);
        g->st.grid_import_wh += (uint64_t)(sign * iv->grid_import_wh);
        g->st.grid_export_wh += (uint64_t)(sign * iv->grid_export_wh);
        if (sign > 0) {
            g->st.last_price = (uint64_t)iv->clearing_price;
            g->st.last_traded_wh = (uint64_t)iv->traded_wh;
        }
    }
    for (uint32_t i = 0; i < b->n_money; i++) {
        const imoney *m = &b->money[i];
        isource *s = hmap_get(&g->names, m->pk);
        if (!s)
            continue;
        s->money.energy_paid += (uint64_t)sign * m->paid;
        s->money.energy_received += (uint64_t)sign * m->received;
        s->money.rewards += (uint64_t)sign * m->rewards;
    }
}

/* Moves the best tip to nb: blocks leaving the best chain are re-put as
 * stale first, then the new branch from the fork up, so a transaction in
 * both ends up naming its new block. */
static int switch_best(ingest *g, iblock *nb)
{
    iblock *a = g->best, *b = nb;
    size_t n = 0, cap = 0;
    iblock **join = NULL;
    /* Both descend from the genesis, so the walk meets at the fork. */
    while (a != b) {
        if (a->height >= b->height) {
            a->on_best = 0;
            count_best(g, a, -1);
            put_block_rows(g, a);
            a = a->parent;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            iblock **nj = realloc(join, cap * sizeof *nj);
            if (!nj) {
                free(join);
                return SG_ENOMEM;
            }
            join = nj;
        }
        join[n++] = b;
        b = b->parent;
    }
    while (n > 0) {
        iblock *j = join[--n];
        j->on_best = 1;
        count_best(g, j, +1);
        put_block_rows(g, j);
    }
    free(join);
    g->best = nb;
    g->st.best_height = nb->height;
    g->st.best_bits = (uint32_t)nb->row.bits;
    return 1;
}

/* ---- rows from a block --------------------------------------------------- */

static void fill_tx_row(ingest *g, db_tx *r, const proto_tx *tx, const uint8_t id[32],
                        int64_t now_ms)
{
    memset(r, 0, sizeof *r);
    memcpy(r->run_id, g->run_id, sizeof r->run_id);
    hash_to_hex_display(id, r->txid);
    snprintf(r->kind, sizeof r->kind, "%s", tx->kind < 5 ? kind_names[tx->kind] : "?");
    if (tx->kind != PROTO_TX_COINBASE)
        hash_hex(tx->from, 32, r->from_pk);
    r->nonce = (int64_t)tx->nonce;
    r->first_seen_ms = now_ms;
    switch (tx->kind) {
    case PROTO_TX_COINBASE:
    case PROTO_TX_TRANSFER:
        hash_hex(tx->u.pay.to, 32, r->to_pk);
        r->amount = (int64_t)tx->u.pay.amount;
        break;
    case PROTO_TX_OFFER:
    case PROTO_TX_BID:
        r->interval = (int64_t)tx->u.order.interval;
        r->energy_wh = (int64_t)tx->u.order.energy_wh;
        r->price = (int64_t)tx->u.order.price;
        break;
    case PROTO_TX_SETTLEMENT:
        r->interval = (int64_t)tx->u.settle.interval;
        r->price = (int64_t)tx->u.settle.clearing_price;
        break;
    }
}

static imoney *money_add(iblock *b, const uint8_t pk[32])
{
    imoney *m = &b->money[b->n_money++];
    memcpy(m->pk, pk, 32);
    return m;
}

/* One trade row per fill, the interval's totals into iv, and the money of
 * each fill into b: the buyer pays the grid account, which pays the
 * seller (ledger.h), so the operator's entry mirrors every fill. */
static void settlement_rows(ingest *g, iblock *b, const proto_tx *tx, const char *txid_hex,
                            db_interval *iv)
{
    imoney *grid = money_add(b, g->params->operator_key);
    memset(iv, 0, sizeof *iv);
    memcpy(iv->run_id, g->run_id, sizeof iv->run_id);
    iv->interval = (int64_t)tx->u.settle.interval;
    iv->clearing_price = (int64_t)tx->u.settle.clearing_price;
    iv->closed_ms = (int64_t)energy_interval_real_ms(g->params, tx->u.settle.interval + 1);
    memcpy(iv->settle_txid, txid_hex, DB_HEX_MAX);
    for (uint32_t i = 0; i < tx->u.settle.n_fills; i++) {
        const proto_fill *f = &tx->u.settle.fills[i];
        const iorder *o = hmap_get(&g->orders, f->order);
        db_trade t;
        uint64_t c1 = 0, c2 = 0;
        memset(&t, 0, sizeof t);
        memcpy(t.run_id, g->run_id, sizeof t.run_id);
        t.interval = iv->interval;
        memcpy(t.settle_txid, txid_hex, DB_HEX_MAX);
        hash_to_hex_display(f->order, t.order_txid);
        int buy = o && o->kind == PROTO_TX_BID;
        if (o) {
            const isource *s = hmap_get(&g->names, o->owner);
            hash_hex(o->owner, 32, t.node_pk);
            snprintf(t.node_name, sizeof t.node_name, "%s", s ? s->name : "");
        }
        snprintf(t.side, sizeof t.side, "%s", buy ? "buy" : "sell");
        t.traded_wh = (int64_t)f->traded_wh;
        t.trade_price = (int64_t)f->trade_price;
        t.grid_wh = (int64_t)f->grid_wh;
        if (ledger_cost(f->traded_wh, f->trade_price, &c1) != 0 ||
            ledger_cost(f->grid_wh, buy ? g->params->retail_price
                                        : g->params->feed_in_price, &c2) != 0)
            c1 = c2 = 0;
        t.amount = (int64_t)(c1 + c2);
        PUT(g, db_put_trade, &t);
        if (o) {
            imoney *m = money_add(b, o->owner);
            if (buy) {
                m->paid = c1 + c2;
                grid->received += c1 + c2;
            } else {
                m->received = c1 + c2;
                grid->paid += c1 + c2;
            }
        }
        if (buy)
            iv->grid_import_wh += (int64_t)f->grid_wh;
        else {
            iv->grid_export_wh += (int64_t)f->grid_wh;
            iv->traded_wh += (int64_t)f->traded_wh;
            iv->traded_value += (int64_t)c1;
            iv->wh_price_sum += f->traded_wh * f->trade_price;
        }
        if (f->traded_wh > 0)
            iv->matched_orders++;
    }
}

static int index_txs(ingest *g, iblock *b, const proto_block *pb, int64_t now_ms)
{
    b->txs = calloc(pb->n_txs ? pb->n_txs : 1, sizeof *b->txs);
    b->txids = calloc(pb->n_txs ? pb->n_txs : 1, sizeof *b->txids);
    if (!b->txs || !b->txids)
        return SG_ENOMEM;
    size_t n_money = 1;             /* the coinbase */
    for (uint32_t i = 0; i < pb->n_txs; i++) {
        const proto_tx *tx = &pb->txs[i];
        if (tx->kind == PROTO_TX_SETTLEMENT) {
            b->n_ivs++;
            n_money += 1 + (size_t)tx->u.settle.n_fills;
        }
    }
    if (b->n_ivs && !(b->ivs = calloc(b->n_ivs, sizeof *b->ivs)))
        return SG_ENOMEM;
    if (!(b->money = calloc(n_money, sizeof *b->money)))
        return SG_ENOMEM;
    uint32_t iv = 0;
    for (uint32_t i = 0; i < pb->n_txs; i++) {
        const proto_tx *tx = &pb->txs[i];
        if (tx_id(tx, b->txids[i]) != 0)
            return SG_EINVAL;
        fill_tx_row(g, &b->txs[i], tx, b->txids[i], now_ms);
        b->n_txs++;
        if (tx->kind == PROTO_TX_COINBASE && i == 0)
            money_add(b, tx->u.pay.to)->rewards = tx->u.pay.amount;
        if (!hmap_get(&g->txs, b->txids[i])) {
            itx *t = calloc(1, sizeof *t);
            if (!t || hmap_put(&g->txs, b->txids[i], t) != 0) {
                free(t);
                return SG_ENOMEM;
            }
        }
        if ((tx->kind == PROTO_TX_OFFER || tx->kind == PROTO_TX_BID) &&
            !hmap_get(&g->orders, b->txids[i])) {
            iorder *o = malloc(sizeof *o);
            if (!o || hmap_put(&g->orders, b->txids[i], o) != 0) {
                free(o);
                return SG_ENOMEM;
            }
            memcpy(o->owner, tx->from, 32);
            o->kind = tx->kind;
        }
        if (tx->kind == PROTO_TX_SETTLEMENT) {
            uint8_t key[32];
            settlement_rows(g, b, tx, b->txs[i].txid, &b->ivs[iv]);
            key_of_interval(b->ivs[iv++].interval, key);
            if (!hmap_get(&g->ivals, key)) {
                itx *t = calloc(1, sizeof *t);
                if (!t || hmap_put(&g->ivals, key, t) != 0) {
                    free(t);
                    return SG_ENOMEM;
                }
            }
        }
    }
    return 0;
}

/* A decoded block from source s.  Known blocks are skipped; a block whose
 * parent the launcher has not seen (cannot happen with stores, which hold
 * parents first) counts as a bad record. */
static int add_block(ingest *g, const isource *s, const proto_block *pb, int64_t now_ms)
{
    uint8_t h[32];
    header_hash(&pb->header, h);
    if (hmap_get(&g->blocks, h))
        return 0;
    iblock *parent = hmap_get(&g->blocks, pb->header.prev);
    if (!parent) {
        g->st.bad_records++;
        return 0;
    }
    iblock *b = calloc(1, sizeof *b);
    if (!b)
        return SG_ENOMEM;
    memcpy(b->hash, h, 32);
    b->parent = parent;
    b->height = parent->height + 1;
    b->seq = g->seq++;
    db_block *r = &b->row;
    memcpy(r->run_id, g->run_id, sizeof r->run_id);
    hash_to_hex_display(h, r->hash);
    r->height = b->height;
    memcpy(r->prev_hash, parent->row.hash, DB_HEX_MAX);
    if (pb->n_txs > 0 && pb->txs[0].kind == PROTO_TX_COINBASE)
        hash_hex(pb->txs[0].u.pay.to, 32, r->miner);
    r->time_s = pb->header.time;
    r->n_txs = pb->n_txs;
    r->bits = pb->header.bits;
    r->nonce = pb->header.nonce;
    r->first_seen_ms = now_ms;
    snprintf(r->seen_by, sizeof r->seen_by, "%s", s->name);
    int rc = index_txs(g, b, pb, now_ms);
    if (rc == 0)
        rc = hmap_put(&g->blocks, h, b);
    if (rc != 0) {
        iblock_free(b);
        return rc;
    }
    g->st.blocks++;
    g->st.stale++;                 /* until it joins the best chain */
    if (b->height > g->best->height)
        return switch_best(g, b);
    put_block_rows(g, b);
    return 1;
}

/* ---- reading the stores -------------------------------------------------- */

/* Up to cap bytes of s's store at off: a count, 0 at the end, negative when
 * the store cannot be read now (not created yet, no control link). */
static int source_read(isource *s, uint64_t off, uint8_t *buf, size_t cap)
{
    if (s->read)
        return s->read(s->read_ctx, s->read_id, off, buf, cap);
    if (s->fd < 0) {
        s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0)
            return SG_ENOTFOUND;   /* the daemon has not created it yet */
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t n = pread(s->fd, buf + got, cap - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SG_EIO;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (int)got;
}

static int window_reserve(ingest *g, size_t need)
{
    if (g->win_cap >= need)
        return 0;
    uint8_t *w = realloc(g->win, need);
    if (!w)
        return SG_ENOMEM;
    g->win = w;
    g->win_cap = need;
    return 0;
}

/* A record longer than the window: the window grows to hold it and the
 * rest is read.  1 when it is all there, 0 not yet, negative on error. */
static int read_long_record(ingest *g, isource *s, size_t have, size_t need)
{
    int rc = window_reserve(g, need);
    if (rc != 0)
        return rc;
    while (have < need) {
        size_t want = need - have > INGEST_WINDOW ? INGEST_WINDOW : need - have;
        int n = source_read(s, s->off + have, g->win + have, want);
        if (n <= 0)
            return n == SG_ENOMEM ? n : 0;
        have += (size_t)n;
    }
    return 1;
}

/* The record at the start of p (n bytes there): its full length, 0 when
 * its header is not all there, SG_ECORRUPT when it is no record. */
static int64_t record_len(const uint8_t *p, size_t n)
{
    if (n < REC_HDR)
        return 0;
    if (memcmp(p, "SGB1", 4) != 0)
        return SG_ECORRUPT;
    uint32_t plen = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                    (uint32_t)p[7] << 24;
    if (plen == 0 || plen > STORE_RECORD_MAX)
        return SG_ECORRUPT;
    return REC_HDR + (int64_t)plen;
}

/* One complete record's payload: a block for the index. */
static int take_record(ingest *g, const isource *s, const uint8_t *rec, size_t len,
                       int64_t now_ms, int *added)
{
    proto_block pb;
    int rc = proto_block_decode(rec + REC_HDR, len - REC_HDR, &pb);
    if (rc != 0) {
        g->st.bad_records++;
        return 0;
    }
    rc = add_block(g, s, &pb, now_ms);
    proto_block_free(&pb);
    if (rc < 0)
        return rc;
    *added += rc;
    return 0;
}

/* Reads s window by window from its offset and takes every complete record
 * whose checksum matches, at most max.  A record still being written, or a
 * torn tail the daemon will cut and rewrite, stops the poll: it is read
 * again from its start next time, so no stale bytes are ever kept. */
static int poll_source(ingest *g, isource *s, int64_t now_ms, size_t max, int *added)
{
    size_t done = 0;
    int rc;
    if (s->broken)
        return 0;
    if ((rc = window_reserve(g, INGEST_WINDOW)) != 0)
        return rc;
    while (done < max) {
        int n = source_read(s, s->off, g->win, INGEST_WINDOW);
        size_t have = n > 0 ? (size_t)n : 0, pos = 0;
        while (done < max) {
            int64_t len = record_len(g->win + pos, have - pos);
            uint8_t sum[32];
            if (len == SG_ECORRUPT) {
                s->broken = 1;
                g->st.bad_records++;
                return 0;
            }
            if (len == 0)
                break;
            if ((size_t)len > have - pos) {
                if (pos > 0 || have < INGEST_WINDOW)
                    break;         /* a fresh window from its start, or not yet */
                if ((rc = read_long_record(g, s, have, (size_t)len)) <= 0)
                    return rc;
                have = (size_t)len;
            }
            const uint8_t *r = g->win + pos;
            hash_sha256d(r + REC_HDR, (size_t)len - REC_HDR, sum);
            if (memcmp(sum, r + 8, 4) != 0)
                return 0;          /* torn tail: the daemon cuts and rewrites it */
            if ((rc = take_record(g, s, r, (size_t)len, now_ms, added)) != 0)
                return rc;
            pos += (size_t)len;
            s->off += (uint64_t)len;
            done++;
        }
        /* The window ended inside the store only when it was full. */
        if (have < INGEST_WINDOW || pos == 0)
            return 0;
    }
    return 0;
}

int ingest_poll(ingest *g, int64_t now_ms, size_t max_records)
{
    int added = 0;
    if (!g->genesis_put) {
        g->genesis->row.first_seen_ms = now_ms;
        put_block_rows(g, g->genesis);
        g->genesis_put = 1;
    }
    for (size_t i = 0; i < g->n_src; i++) {
        int rc = poll_source(g, &g->src[i], now_ms, max_records, &added);
        if (rc < 0)
            return rc;
    }
    if (g->put_err) {
        int rc = g->put_err;
        g->put_err = 0;
        return rc;
    }
    return added;
}

uint64_t ingest_avg_price(const ingest_stats *st)
{
    return st->traded_wh ? st->wh_price_sum / st->traded_wh : 0;
}

uint64_t ingest_stale_permille(const ingest_stats *st)
{
    return st->blocks ? st->stale * 1000 / st->blocks : 0;
}

void ingest_get_stats(const ingest *g, ingest_stats *st)
{
    *st = g->st;
}

void ingest_node_money(const ingest *g, const uint8_t pk[32], ingest_money *out)
{
    const isource *s = hmap_get(&g->names, pk);
    if (s)
        *out = s->money;
    else
        memset(out, 0, sizeof *out);
}

void ingest_best_tip(const ingest *g, char hex[65])
{
    memcpy(hex, g->best->row.hash, 65);
}

size_t ingest_recent_best(const ingest *g, const db_block **out, size_t max)
{
    size_t n = 0;
    for (const iblock *b = g->best; b && b != g->genesis && n < max; b = b->parent)
        out[n++] = &b->row;
    return n;
}
