/* Chain: index, fork choice, reorgs, orphans, rule violations, the store.
 * Real keys, real signatures, real proof of work at difficulty 1 (about 16
 * hashes a block). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/core/asert.h"
#include "common/core/chain.h"
#include "common/base/err.h"
#include "common/core/merkle.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/core/tx.h"
#include "testutil.h"

#define NKEYS 4
#define BALANCE 1000000u
#define T0 1700000000u
#define NOW (T0 + 1000000u)

typedef struct {
    chain_params p;
    uint8_t pk[NKEYS][32];
    uint8_t sk[NKEYS][64];
    uint8_t id[32];
} fix;

static void fix_init(fix *f)
{
    ck_assert_int_ge(sodium_init(), 0);
    params_init_defaults(&f->p);
    f->p.genesis_time = T0;
    ck_assert_int_eq(pow_difficulty_to_bits(1, &f->p.bits), 0);
    for (int i = 0; i < NKEYS; i++) {
        uint8_t seed[32];
        memset(seed, 0x10 + i, sizeof seed);
        crypto_sign_seed_keypair(f->pk[i], f->sk[i], seed);
    }
    memcpy(f->p.operator_key, f->pk[NKEYS - 1], 32);
    f->p.n_allocs = NKEYS;
    f->p.allocs = calloc(NKEYS, sizeof *f->p.allocs);
    ck_assert_ptr_nonnull(f->p.allocs);
    for (int i = 0; i < NKEYS; i++) {
        memcpy(f->p.allocs[i].pubkey, f->pk[i], 32);
        f->p.allocs[i].balance = BALANCE;
    }
    params_chain_id(&f->p, f->id);
}

/* undo_keep 0: the default journal depth (CHAIN_UNDO_KEEP). */
static chain *open_chain_keep(const fix *f, const char *dir, chain_block_cb con,
                              chain_block_cb dis, void *ctx, chain_load_report *rep,
                              uint32_t undo_keep)
{
    chain_config cfg = { .params = &f->p, .data_dir = dir, .on_connect = con,
                         .on_disconnect = dis, .cb_ctx = ctx, .undo_keep = undo_keep };
    chain *c = NULL;
    ck_assert_int_eq(chain_open(&c, &cfg, rep), 0);
    return c;
}

static chain *open_chain(const fix *f, const char *dir, chain_block_cb con,
                         chain_block_cb dis, void *ctx, chain_load_report *rep)
{
    return open_chain_keep(f, dir, con, dis, ctx, rep, 0);
}

static proto_tx transfer(const fix *f, int from, int to, uint64_t nonce, uint64_t amount)
{
    proto_tx tx;
    ck_assert_int_eq(tu_transfer(&tx, f->pk[from], f->sk[from], f->pk[to], nonce, amount, f->id), 0);
    return tx;
}

/* A mined block, encoded. */
typedef struct {
    uint8_t hash[32];
    uint8_t *bytes;
    size_t len;
    uint32_t height;
} blk;

/* Block on prev at height: coinbase to `miner` then txs; merkle set, not
 * mined.  time = T0 + 60 * height. */
static void build(const fix *f, const uint8_t prev[32], uint32_t height, int miner,
                  const proto_tx *txs, size_t n, proto_block *b)
{
    memset(b, 0, sizeof *b);
    b->n_txs = (uint32_t)n + 1;
    b->txs = calloc(n + 1, sizeof *b->txs);
    ck_assert_ptr_nonnull(b->txs);
    proto_tx *cb = &b->txs[0];
    cb->version = PROTO_TX_VERSION;
    cb->kind = PROTO_TX_COINBASE;
    cb->nonce = height;
    memcpy(cb->u.pay.to, f->pk[miner], 32);
    cb->u.pay.amount = f->p.block_reward;
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(proto_tx_copy(&b->txs[i + 1], &txs[i]), 0);
    b->header.version = 1;
    memcpy(b->header.prev, prev, 32);
    b->header.time = T0 + 60 * height;
    b->header.bits = f->p.bits;
}

static void set_merkle(proto_block *b)
{
    uint8_t (*ids)[32] = calloc(b->n_txs + 1, 32);
    ck_assert_ptr_nonnull(ids);
    for (uint32_t i = 0; i < b->n_txs; i++)
        ck_assert_int_eq(tx_id(&b->txs[i], ids[i]), 0);
    ck_assert_int_eq(merkle_root((const uint8_t (*)[32])ids, b->n_txs, b->header.merkle), 0);
    free(ids);
}

static void mine(proto_block *b)
{
    b->header.nonce = 0;
    ck_assert_int_eq(pow_search_simple(&b->header, 1u << 24), 0);
}

/* Encodes and frees b. */
static blk seal(proto_block *b, uint32_t height)
{
    blk out;
    out.height = height;
    pow_header_hash(&b->header, out.hash);
    ck_assert_int_eq(proto_block_encode(b, &out.bytes, &out.len), 0);
    proto_block_free(b);
    return out;
}

static blk make(const fix *f, const uint8_t prev[32], uint32_t height, int miner,
                const proto_tx *txs, size_t n)
{
    proto_block b;
    build(f, prev, height, miner, txs, n, &b);
    set_merkle(&b);
    mine(&b);
    return seal(&b, height);
}

static int submit(chain *c, const blk *b, chain_result *res)
{
    return chain_submit_block(c, b->bytes, b->len, NOW, res);
}

static void expect(chain *c, const blk *b, int outcome)
{
    chain_result res;
    ck_assert_int_eq(submit(c, b, &res), 0);
    ck_assert_int_eq(res.outcome, outcome);
    ck_assert_mem_eq(res.hash, b->hash, 32);
}

static void state_hash(chain *c, uint8_t out[32])
{
    ck_assert_int_eq(ledger_state_hash(chain_ledger(c), out), 0);
}

/* ---- events ------------------------------------------------------------ */

#define EV_MAX 64
typedef struct {
    int n;
    char kind[EV_MAX];
    uint8_t hash[EV_MAX][32];
} evlog;

static void ev_add(evlog *l, char k, const chain_entry *e, const proto_block *b)
{
    uint8_t h[32];
    pow_header_hash(&b->header, h);
    ck_assert_mem_eq(h, e->hash, 32);     /* the block matches its entry */
    ck_assert_int_lt(l->n, EV_MAX);
    l->kind[l->n] = k;
    memcpy(l->hash[l->n], e->hash, 32);
    l->n++;
}

static void on_con(void *ctx, const chain_entry *e, const proto_block *b,
                   const uint8_t (*txids)[32])
{
    for (uint32_t i = 0; i < b->n_txs; i++) {   /* the txids match the block */
        uint8_t id[32];
        ck_assert_int_eq(tx_id(&b->txs[i], id), 0);
        ck_assert_mem_eq(id, txids[i], 32);
    }
    ck_assert_int_eq(e->active, 1);
    ev_add(ctx, 'c', e, b);
}

static void on_dis(void *ctx, const chain_entry *e, const proto_block *b,
                   const uint8_t (*txids)[32])
{
    (void)txids;
    ck_assert_int_eq(e->active, 0);
    ev_add(ctx, 'd', e, b);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_linear)
{
    fix f;
    fix_init(&f);
    chain *c = open_chain(&f, NULL, NULL, NULL, NULL, NULL);
    ck_assert_mem_eq(chain_genesis(c)->hash, f.id, 32);
    ck_assert_mem_eq(chain_id(c), f.id, 32);
    ck_assert_ptr_eq(chain_tip(c), chain_genesis(c));

    blk b[21];
    memcpy(b[0].hash, f.id, 32);
    b[0].bytes = NULL;
    for (uint32_t h = 1; h <= 20; h++) {
        b[h] = make(&f, b[h - 1].hash, h, h % NKEYS, NULL, 0);
        expect(c, &b[h], CHAIN_NEW_TIP);
    }
    ck_assert_uint_eq(chain_tip(c)->height, 20);
    ck_assert_mem_eq(chain_tip(c)->hash, b[20].hash, 32);
    for (uint32_t h = 0; h <= 20; h++) {
        const chain_entry *e = chain_at_height(c, h);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(e->height, h);
        ck_assert_mem_eq(e->hash, b[h].hash, 32);
        ck_assert_ptr_eq(chain_lookup(c, b[h].hash), e);
        ck_assert_int_eq(e->active, 1);
    }
    ck_assert_ptr_null(chain_at_height(c, 21));
    ck_assert_uint_eq(chain_stale_count(c), 0);
    /* Each miner got its rewards. */
    const ledger_account *a = ledger_account_get(chain_ledger(c), f.pk[1]);
    ck_assert_uint_eq(a->balance, BALANCE + 5 * f.p.block_reward);

    /* Locator: ten dense, then steps 2, 4, ..., genesis last. */
    uint8_t loc[32][32];
    size_t n = chain_locator(c, loc, 32);
    static const uint32_t want[] = { 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 9, 5, 0 };
    ck_assert_uint_eq(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++)
        ck_assert_mem_eq(loc[i], b[want[i]].hash, 32);
    n = chain_locator(c, loc, 3);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(loc[0], b[20].hash, 32);
    ck_assert_mem_eq(loc[1], b[19].hash, 32);
    ck_assert_mem_eq(loc[2], f.id, 32);

    /* A peer at height 10 (unknown hashes first are skipped). */
    uint8_t peer[3][32];
    memset(peer[0], 0xAB, 32);
    memcpy(peer[1], b[10].hash, 32);
    memcpy(peer[2], f.id, 32);
    uint8_t out[32][32];
    n = chain_after_locator(c, (const uint8_t (*)[32])peer, 3, NULL, out, 32);
    ck_assert_uint_eq(n, 10);
    for (size_t i = 0; i < n; i++)
        ck_assert_mem_eq(out[i], b[11 + i].hash, 32);
    n = chain_after_locator(c, (const uint8_t (*)[32])peer, 3, b[15].hash, out, 32);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(out[4], b[15].hash, 32);
    n = chain_after_locator(c, (const uint8_t (*)[32])peer, 3, NULL, out, 3);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(out[2], b[13].hash, 32);
    n = chain_after_locator(c, (const uint8_t (*)[32])peer, 1, NULL, out, 32);
    ck_assert_uint_eq(n, 20);              /* nothing known: from genesis */
    ck_assert_mem_eq(out[0], b[1].hash, 32);

    /* Serving bytes, and a block seen twice. */
    uint8_t *bytes;
    size_t len;
    ck_assert_int_eq(chain_block_bytes(c, b[7].hash, &bytes, &len), 0);
    ck_assert_uint_eq(len, b[7].len);
    ck_assert_mem_eq(bytes, b[7].bytes, len);
    free(bytes);
    ck_assert_int_eq(chain_block_bytes(c, peer[0], &bytes, &len), SG_ENOTFOUND);
    expect(c, &b[7], CHAIN_KNOWN);

    for (int h = 1; h <= 20; h++)
        free(b[h].bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

/* Node A sees branch X (depth d) then branch Y (depth d + 1) from the same
 * fork; node B only ever sees Y.  A keeps undo journals for undo_keep
 * blocks below its tip (0: the default): below d, the reorg rebuilds the
 * state at the fork instead, with the same outcome. */
static void reorg_case(uint32_t d, uint32_t undo_keep)
{
    fix f;
    fix_init(&f);
    evlog ev = { 0 };
    chain *A = open_chain_keep(&f, NULL, on_con, on_dis, &ev, NULL, undo_keep);
    chain *B = open_chain(&f, NULL, NULL, NULL, NULL, NULL);

    /* Common prefix of 3 blocks with a transfer 0 -> 1. */
    blk pre[4];
    memcpy(pre[0].hash, f.id, 32);
    for (uint32_t h = 1; h <= 3; h++) {
        proto_tx t = transfer(&f, 0, 1, 0, 100);
        pre[h] = make(&f, pre[h - 1].hash, h, 0, &t, h == 1);
        expect(A, &pre[h], CHAIN_NEW_TIP);
        expect(B, &pre[h], CHAIN_NEW_TIP);
    }

    /* X: account 0 spends nonces 1..d (only in X); X1 also has the shared
     * transfer 1 -> 2 (nonce 0).  Y: the shared transfer, then account 2
     * pays account 0 (only in Y). */
    proto_tx shared = transfer(&f, 1, 2, 0, 40);
    blk *x = calloc(d + 1, sizeof *x), *y = calloc(d + 2, sizeof *y);
    proto_tx *xonly = calloc(d + 1, sizeof *xonly);
    memcpy(x[0].hash, pre[3].hash, 32);
    memcpy(y[0].hash, pre[3].hash, 32);
    for (uint32_t i = 1; i <= d; i++) {
        proto_tx txs[2];
        xonly[i] = transfer(&f, 0, 3, i, 1000 + i);
        txs[0] = xonly[i];
        txs[1] = shared;
        x[i] = make(&f, x[i - 1].hash, 3 + i, 2, txs, i == 1 ? 2 : 1);
        expect(A, &x[i], CHAIN_NEW_TIP);
    }
    for (uint32_t i = 1; i <= d + 1; i++) {
        proto_tx txs[2];
        size_t n = 0;
        if (i == 1)
            txs[n++] = shared;
        txs[n++] = transfer(&f, 2, 0, i - 1, 7 * i);
        y[i] = make(&f, y[i - 1].hash, 3 + i, 3, txs, n);
        expect(B, &y[i], CHAIN_NEW_TIP);
    }
    ck_assert_uint_eq(mempool_count(chain_mempool(A)), 0);

    /* Y up to d ties with X: the first seen stays. */
    ev.n = 0;
    for (uint32_t i = 1; i <= d; i++)
        expect(A, &y[i], CHAIN_SIDE);
    ck_assert_mem_eq(chain_tip(A)->hash, x[d].hash, 32);
    ck_assert_int_eq(ev.n, 0);
    chain_result res;
    ck_assert_int_eq(submit(A, &y[d + 1], &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    ck_assert_uint_eq(res.disconnected, d);
    ck_assert_uint_eq(res.connected, d + 1);
    ck_assert_mem_eq(chain_tip(A)->hash, y[d + 1].hash, 32);

    /* Disconnects newest first, then connects oldest first. */
    ck_assert_int_eq(ev.n, (int)(2 * d + 1));
    for (uint32_t i = 0; i < d; i++) {
        ck_assert_int_eq(ev.kind[i], 'd');
        ck_assert_mem_eq(ev.hash[i], x[d - i].hash, 32);
    }
    for (uint32_t i = 0; i <= d; i++) {
        ck_assert_int_eq(ev.kind[d + i], 'c');
        ck_assert_mem_eq(ev.hash[d + i], y[i + 1].hash, 32);
    }

    uint8_t ha[32], hb[32];
    state_hash(A, ha);
    state_hash(B, hb);
    ck_assert_mem_eq(ha, hb, 32);
    ck_assert_uint_eq(chain_stale_count(A), d);
    ck_assert_uint_eq(chain_stale_count(B), 0);
    for (uint32_t i = 1; i <= d; i++)
        ck_assert_int_eq(chain_lookup(A, x[i].hash)->active, 0);

    /* A's pool: exactly the X-only transactions (the shared one is in Y). */
    ck_assert_uint_eq(mempool_count(chain_mempool(A)), d);
    uint8_t sid[32];
    ck_assert_int_eq(tx_id(&shared, sid), 0);
    ck_assert_int_eq(mempool_has(chain_mempool(A), sid), 0);
    ck_assert_uint_eq(mempool_count(chain_mempool(B)), 0);
    for (uint32_t i = 1; i <= d; i++) {
        uint8_t id[32];
        ck_assert_int_eq(tx_id(&xonly[i], id), 0);
        ck_assert_int_eq(mempool_has(chain_mempool(A), id), 1);
        ck_assert_int_eq(chain_submit_tx(B, &xonly[i], id), 0);
    }
    /* Given the same transactions, both build the same block. */
    proto_block ta, tb;
    ck_assert_int_eq(chain_template(A, f.pk[0], NOW, 100, &ta), 0);
    ck_assert_int_eq(chain_template(B, f.pk[0], NOW, 100, &tb), 0);
    ck_assert_uint_eq(ta.n_txs, d + 1);
    ck_assert_uint_eq(tb.n_txs, d + 1);
    ck_assert_mem_eq(&ta.header, &tb.header, sizeof ta.header);
    for (uint32_t i = 1; i <= d; i++)
        ck_assert_uint_eq(ta.txs[i].nonce, i);
    proto_block_free(&ta);
    proto_block_free(&tb);

    for (uint32_t h = 1; h <= 3; h++)
        free(pre[h].bytes);
    for (uint32_t i = 1; i <= d; i++)
        free(x[i].bytes);
    for (uint32_t i = 1; i <= d + 1; i++)
        free(y[i].bytes);
    free(x);
    free(y);
    free(xonly);
    chain_free(A);
    chain_free(B);
    params_free(&f.p);
}

START_TEST(test_reorg_depth1)
{
    reorg_case(1, 0);
}
END_TEST

START_TEST(test_reorg_depth10)
{
    reorg_case(10, 0);
}
END_TEST

START_TEST(test_reorg_below_undo)
{
    reorg_case(10, 2);
    reorg_case(3, 1);
}
END_TEST

/* A branch with more work but a bad block, forking below the kept undo
 * journals: the rebuilt state is thrown away, the old one was never
 * touched, and nobody hears of the attempt. */
START_TEST(test_invalid_branch_below_undo)
{
    fix f;
    fix_init(&f);
    evlog ev = { 0 };
    chain *c = open_chain_keep(&f, NULL, on_con, on_dis, &ev, NULL, 1);
    proto_tx t = transfer(&f, 0, 1, 0, 500);
    blk a[4];
    memcpy(a[0].hash, f.id, 32);
    for (uint32_t h = 1; h <= 3; h++) {
        a[h] = make(&f, a[h - 1].hash, h, 0, &t, h == 1);
        expect(c, &a[h], CHAIN_NEW_TIP);
    }
    uint8_t before[32], after[32];
    state_hash(c, before);

    proto_tx over = transfer(&f, 2, 1, 0, BALANCE + 1);
    blk b[5];
    memcpy(b[0].hash, f.id, 32);
    for (uint32_t h = 1; h <= 3; h++) {
        b[h] = make(&f, b[h - 1].hash, h, 1, &over, h == 2);
        expect(c, &b[h], CHAIN_SIDE);
    }
    b[4] = make(&f, b[3].hash, 4, 1, NULL, 0);
    ev.n = 0;
    chain_result res;
    ck_assert_int_eq(submit(c, &b[4], &res), SG_EBALANCE);
    ck_assert_int_eq(ev.n, 0);
    ck_assert_mem_eq(chain_tip(c)->hash, a[3].hash, 32);
    state_hash(c, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_int_eq(chain_lookup(c, b[1].hash)->status, CHAIN_ENTRY_VALID);
    ck_assert_int_eq(chain_lookup(c, b[2].hash)->status, CHAIN_ENTRY_INVALID);
    ck_assert_int_eq(chain_lookup(c, b[4].hash)->status, CHAIN_ENTRY_INVALID);

    /* The honest chain still grows, and a later ordinary reorg still works. */
    blk a4 = make(&f, a[3].hash, 4, 0, NULL, 0);
    expect(c, &a4, CHAIN_NEW_TIP);
    ck_assert_int_eq(ev.n, 1);
    free(a4.bytes);
    for (uint32_t h = 1; h <= 3; h++)
        free(a[h].bytes);
    for (uint32_t h = 1; h <= 4; h++)
        free(b[h].bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

START_TEST(test_tie_break)
{
    fix f;
    fix_init(&f);
    evlog ev = { 0 };
    chain *c = open_chain(&f, NULL, on_con, on_dis, &ev, NULL);
    blk a1 = make(&f, f.id, 1, 0, NULL, 0);
    blk b1 = make(&f, f.id, 1, 1, NULL, 0);
    expect(c, &a1, CHAIN_NEW_TIP);
    expect(c, &b1, CHAIN_SIDE);
    ck_assert_mem_eq(chain_tip(c)->hash, a1.hash, 32);
    ck_assert_uint_eq(chain_stale_count(c), 1);

    blk b2 = make(&f, b1.hash, 2, 1, NULL, 0);
    chain_result res;
    ck_assert_int_eq(submit(c, &b2, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    ck_assert_uint_eq(res.disconnected, 1);
    ck_assert_uint_eq(res.connected, 2);
    ck_assert_mem_eq(chain_tip(c)->hash, b2.hash, 32);
    ck_assert_mem_eq(chain_at_height(c, 1)->hash, b1.hash, 32);

    /* A late tie on the old branch changes nothing. */
    blk a2 = make(&f, a1.hash, 2, 0, NULL, 0);
    expect(c, &a2, CHAIN_SIDE);
    ck_assert_mem_eq(chain_tip(c)->hash, b2.hash, 32);
    ck_assert_uint_eq(chain_stale_count(c), 2);
    /* Miner 1 earned two rewards, miner 0 none, after the reorg. */
    ck_assert_uint_eq(ledger_account_get(chain_ledger(c), f.pk[1])->balance,
                      BALANCE + 2 * f.p.block_reward);
    ck_assert_uint_eq(ledger_account_get(chain_ledger(c), f.pk[0])->balance, BALANCE);
    /* Events: c a1, d a1, c b1, c b2. */
    ck_assert_int_eq(ev.n, 4);
    ck_assert_int_eq(ev.kind[1], 'd');
    ck_assert_mem_eq(ev.hash[1], a1.hash, 32);
    ck_assert_mem_eq(ev.hash[3], b2.hash, 32);
    free(a1.bytes);
    free(b1.bytes);
    free(b2.bytes);
    free(a2.bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

START_TEST(test_orphans)
{
    fix f;
    fix_init(&f);
    chain *c = open_chain(&f, NULL, NULL, NULL, NULL, NULL);
    blk b1 = make(&f, f.id, 1, 0, NULL, 0);
    blk b2 = make(&f, b1.hash, 2, 0, NULL, 0);
    blk b3 = make(&f, b2.hash, 3, 0, NULL, 0);

    chain_result res;
    ck_assert_int_eq(submit(c, &b3, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_ORPHANED);
    ck_assert_mem_eq(res.missing, b2.hash, 32);
    ck_assert_int_eq(submit(c, &b2, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_ORPHANED);
    ck_assert_mem_eq(res.missing, b1.hash, 32);
    /* Again: deduplicated, and the missing block is the deepest one. */
    ck_assert_int_eq(submit(c, &b3, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_ORPHANED);
    ck_assert_mem_eq(res.missing, b1.hash, 32);
    ck_assert_uint_eq(chain_orphan_count(c), 2);
    ck_assert_ptr_null(chain_lookup(c, b3.hash));

    ck_assert_int_eq(submit(c, &b1, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    ck_assert_uint_eq(res.connected, 3);
    ck_assert_mem_eq(chain_tip(c)->hash, b3.hash, 32);
    ck_assert_uint_eq(chain_orphan_count(c), 0);
    free(b1.bytes);
    free(b2.bytes);
    free(b3.bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

/* `junk` orphans with random unknown parents after a real one. */
static uint32_t orphan_flood(size_t junk)
{
    fix f;
    fix_init(&f);
    chain *c = open_chain(&f, NULL, NULL, NULL, NULL, NULL);
    blk b1 = make(&f, f.id, 1, 0, NULL, 0);
    blk b2 = make(&f, b1.hash, 2, 0, NULL, 0);
    expect(c, &b2, CHAIN_ORPHANED);
    uint64_t seed = 7;
    for (size_t i = 0; i < junk; i++) {
        uint8_t prev[32];
        tu_fill(prev, 32, &seed);
        blk j = make(&f, prev, 5, 1, NULL, 0);
        expect(c, &j, CHAIN_ORPHANED);
        free(j.bytes);
        ck_assert_uint_le(chain_orphan_count(c), CHAIN_ORPHAN_MAX);
    }
    ck_assert_uint_eq(chain_orphan_count(c), junk + 1 > CHAIN_ORPHAN_MAX ?
                      CHAIN_ORPHAN_MAX : junk + 1);
    chain_result res;
    ck_assert_int_eq(submit(c, &b1, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    uint32_t height = chain_tip(c)->height;
    ck_assert_uint_eq(res.connected, height);
    free(b1.bytes);
    free(b2.bytes);
    chain_free(c);
    params_free(&f.p);
    return height;
}

START_TEST(test_orphan_pool_bound)
{
    /* Full but not over: the first orphan survives and is adopted. */
    ck_assert_uint_eq(orphan_flood(CHAIN_ORPHAN_MAX - 1), 2);
    /* One over: the oldest (the real one) is evicted. */
    ck_assert_uint_eq(orphan_flood(CHAIN_ORPHAN_MAX), 1);
}
END_TEST

/* Submits a bad child of the tip and checks the code and that nothing
 * changed. */
static void reject(chain *c, proto_block *b, int code)
{
    uint8_t before[32], after[32];
    state_hash(c, before);
    const chain_entry *tip = chain_tip(c);
    blk bad = seal(b, 0);
    chain_result res;
    ck_assert_int_eq(submit(c, &bad, &res), code);
    ck_assert_ptr_eq(chain_tip(c), tip);
    state_hash(c, after);
    ck_assert_mem_eq(before, after, 32);
    free(bad.bytes);
}

START_TEST(test_invalid_blocks)
{
    fix f;
    fix_init(&f);
    chain *c = open_chain(&f, NULL, NULL, NULL, NULL, NULL);
    blk b1 = make(&f, f.id, 1, 0, NULL, 0);
    expect(c, &b1, CHAIN_NEW_TIP);
    proto_block b;

    /* Wrong bits, even with a hash meeting them. */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    ck_assert_int_eq(pow_difficulty_to_bits(2, &b.header.bits), 0);
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_EBADPOW);
    /* Right bits, nonce not meeting the target. */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    set_merkle(&b);
    mine(&b);
    while (pow_check(&b.header) == 0)
        b.header.nonce++;
    reject(c, &b, SG_EBADPOW);
    /* Merkle root not matching. */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    set_merkle(&b);
    b.header.merkle[0] ^= 1;
    mine(&b);
    reject(c, &b, SG_EMERKLE);
    /* No coinbase: a transfer first; and no transactions at all. */
    proto_tx t = transfer(&f, 0, 1, 0, 5);
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    proto_tx_free(&b.txs[0]);
    b.txs[0] = t;
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_ECOINBASE);
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    b.n_txs = 0;
    mine(&b);
    reject(c, &b, SG_ECOINBASE);
    /* Two coinbases. */
    build(&f, b1.hash, 2, 0, &t, 1, &b);
    proto_tx_free(&b.txs[1]);
    b.txs[1] = b.txs[0];
    b.txs[1].u.pay.amount = 1;
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_ECOINBASE);
    /* Wrong reward. */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    b.txs[0].u.pay.amount = f.p.block_reward + 1;
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_ECOINBASE);
    /* Bad signature. */
    build(&f, b1.hash, 2, 0, &t, 1, &b);
    b.txs[1].sig[9] ^= 0x20;
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_EBADSIG);
    /* Too far in the future; the limit itself is fine (tested last). */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    b.header.time = NOW + CHAIN_MAX_FUTURE_SECS + 1;
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_EFUTURE);
    /* Not above the median of the previous blocks (genesis and b1). */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    b.header.time = T0 + 60;
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_ETIME);

    /* Overdraft: passes every check but the ledger's. */
    proto_tx over = transfer(&f, 2, 1, 0, BALANCE + 1);
    build(&f, b1.hash, 2, 0, &over, 1, &b);
    set_merkle(&b);
    mine(&b);
    blk od = seal(&b, 2);
    uint8_t before[32], after[32];
    state_hash(c, before);
    chain_result res;
    ck_assert_int_eq(submit(c, &od, &res), SG_EBALANCE);
    ck_assert_mem_eq(chain_tip(c)->hash, b1.hash, 32);
    state_hash(c, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_int_eq(chain_lookup(c, od.hash)->status, CHAIN_ENTRY_INVALID);
    ck_assert_int_eq(submit(c, &od, &res), SG_EINVALID);
    blk child = make(&f, od.hash, 3, 0, NULL, 0);
    ck_assert_int_eq(submit(c, &child, &res), SG_EINVALID);
    ck_assert_uint_eq(chain_stale_count(c), 0);

    /* The valid neighbours of all those: accepted. */
    build(&f, b1.hash, 2, 0, &t, 1, &b);
    b.header.time = NOW + CHAIN_MAX_FUTURE_SECS;
    set_merkle(&b);
    mine(&b);
    blk ok = seal(&b, 2);
    expect(c, &ok, CHAIN_NEW_TIP);

    /* The median moves with the branch: after genesis, b1 and `ok` (at
     * the future limit) a block at that same time is above the median
     * (b1's time); one more such block makes it the median itself. */
    blk prev = ok;
    blk chainb[13];
    for (uint32_t h = 3; h <= 12; h++) {
        build(&f, prev.hash, h, 0, NULL, 0, &b);
        b.header.time = NOW + CHAIN_MAX_FUTURE_SECS;   /* all equal */
        set_merkle(&b);
        mine(&b);
        chainb[h] = seal(&b, h);
        prev = chainb[h];
        if (h == 3)
            expect(c, &chainb[h], CHAIN_NEW_TIP);
        else {
            /* Equal to the median (all equal): refused. */
            ck_assert_int_eq(submit(c, &chainb[h], &res), SG_ETIME);
            break;
        }
    }
    free(chainb[3].bytes);
    free(chainb[4].bytes);

    free(b1.bytes);
    free(od.bytes);
    free(child.bytes);
    free(ok.bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

/* A retargeting chain (60 s blocks, 60 s half-life): every block's bits
 * must be exactly the rule's for its parent, easier or harder alike; the
 * time rules hold; a block from too far ahead is early, not invalid. */
START_TEST(test_retarget_rules)
{
    fix f;
    fix_init(&f);
    f.p.block_interval_ms = 60000;
    f.p.retarget_halflife_ms = 60000;
    params_chain_id(&f.p, f.id);
    chain *c = open_chain(&f, NULL, NULL, NULL, NULL, NULL);
    chain_result res;
    proto_block b;

    /* Block 1 carries the genesis bits; found a second after genesis, it
     * makes block 2 nearly twice as hard. */
    build(&f, f.id, 1, 0, NULL, 0, &b);
    b.header.time = T0 + 1;
    set_merkle(&b);
    mine(&b);
    blk b1 = seal(&b, 1);
    expect(c, &b1, CHAIN_NEW_TIP);
    uint32_t want = asert_next_bits(&f.p, 1, T0 + 1);
    u256 tw, tg;
    ck_assert_int_eq(pow_bits_to_target(want, &tw), 0);
    ck_assert_int_eq(pow_bits_to_target(f.p.bits, &tg), 0);
    ck_assert_int_lt(u256_cmp(&tw, &tg), 0);

    /* The genesis bits again (easier than the rule): refused. */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    b.header.time = T0 + 2;
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_EBADPOW);
    /* Harder than the rule, the work done: refused all the same. */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    b.header.time = T0 + 2;
    ck_assert_int_eq(pow_difficulty_to_bits(2, &b.header.bits), 0);
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_EBADPOW);
    /* Right bits, time not above the median of genesis and b1. */
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    b.header.time = T0 + 1;
    b.header.bits = want;
    set_merkle(&b);
    mine(&b);
    reject(c, &b, SG_ETIME);

    /* The template follows the rule and the median. */
    ck_assert_int_eq(chain_template(c, f.pk[0], T0, 10, &b), 0);
    ck_assert_uint_eq(b.header.bits, want);
    ck_assert_uint_eq(b.header.time, T0 + 2);
    proto_block_free(&b);

    /* Six intervals ahead of our clock and one second more: early. */
    uint64_t ahead = chain_max_future_secs(&f.p);
    ck_assert_uint_eq(ahead, 360);
    build(&f, b1.hash, 2, 0, NULL, 0, &b);
    b.header.time = (uint32_t)(T0 + 100 + ahead + 1);
    b.header.bits = want;
    set_merkle(&b);
    mine(&b);
    blk early = seal(&b, 2);
    ck_assert_int_eq(chain_submit_block(c, early.bytes, early.len, T0 + 100, &res), SG_EFUTURE);
    ck_assert_ptr_null(chain_lookup(c, early.hash));
    ck_assert_int_eq(chain_submit_block(c, early.bytes, early.len, T0 + 100, &res), SG_EFUTURE);
    /* Once the clock has caught up the same block is taken. */
    ck_assert_int_eq(chain_submit_block(c, early.bytes, early.len, T0 + 101, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    /* Its work is that of its own (harder) bits. */
    u256 w1, w2, sum;
    pow_work(&tg, &w1);
    pow_work(&tw, &w2);
    u256_add(&sum, &chain_genesis(c)->chainwork, &w1);
    u256_add(&sum, &sum, &w2);
    ck_assert_int_eq(u256_cmp(&chain_tip(c)->chainwork, &sum), 0);

    free(b1.bytes);
    free(early.bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

START_TEST(test_invalid_branch_more_work)
{
    fix f;
    fix_init(&f);
    evlog ev = { 0 };
    chain *c = open_chain(&f, NULL, on_con, on_dis, &ev, NULL);
    proto_tx t = transfer(&f, 0, 1, 0, 500);
    blk a1 = make(&f, f.id, 1, 0, &t, 1);
    blk a2 = make(&f, a1.hash, 2, 0, NULL, 0);
    expect(c, &a1, CHAIN_NEW_TIP);
    expect(c, &a2, CHAIN_NEW_TIP);
    uint8_t before[32], after[32];
    state_hash(c, before);

    /* B: valid B1, overdraft in B2, B3 on top: more work than A. */
    proto_tx over = transfer(&f, 2, 1, 0, BALANCE + 1);
    blk b1 = make(&f, f.id, 1, 1, NULL, 0);
    blk b2 = make(&f, b1.hash, 2, 1, &over, 1);
    blk b3 = make(&f, b2.hash, 3, 1, NULL, 0);
    expect(c, &b1, CHAIN_SIDE);
    expect(c, &b2, CHAIN_SIDE);
    ev.n = 0;
    chain_result res;
    ck_assert_int_eq(submit(c, &b3, &res), SG_EBALANCE);
    ck_assert_int_eq(ev.n, 0);            /* nobody saw the failed attempt */
    ck_assert_mem_eq(chain_tip(c)->hash, a2.hash, 32);
    ck_assert_mem_eq(chain_at_height(c, 1)->hash, a1.hash, 32);
    state_hash(c, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_int_eq(chain_lookup(c, b1.hash)->status, CHAIN_ENTRY_VALID);
    ck_assert_int_eq(chain_lookup(c, b2.hash)->status, CHAIN_ENTRY_INVALID);
    ck_assert_int_eq(chain_lookup(c, b3.hash)->status, CHAIN_ENTRY_INVALID);
    ck_assert_uint_eq(chain_stale_count(c), 1);
    ck_assert_uint_eq(mempool_count(chain_mempool(c)), 0);
    blk b4 = make(&f, b3.hash, 4, 1, NULL, 0);
    ck_assert_int_eq(submit(c, &b4, &res), SG_EINVALID);

    /* The honest chain still grows. */
    blk a3 = make(&f, a2.hash, 3, 0, NULL, 0);
    expect(c, &a3, CHAIN_NEW_TIP);
    ck_assert_int_eq(ev.n, 1);
    free(a1.bytes);
    free(a2.bytes);
    free(a3.bytes);
    free(b1.bytes);
    free(b2.bytes);
    free(b3.bytes);
    free(b4.bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

START_TEST(test_template)
{
    fix f;
    fix_init(&f);
    chain *c = open_chain(&f, NULL, NULL, NULL, NULL, NULL);
    uint8_t id[32];
    for (uint64_t n = 0; n < 3; n++) {
        proto_tx t = transfer(&f, 1, 2, n, 10 + n);
        ck_assert_int_eq(chain_submit_tx(c, &t, id), 0);
    }
    proto_tx gap = transfer(&f, 0, 2, 5, 1);
    ck_assert_int_eq(chain_submit_tx(c, &gap, id), 0);
    ck_assert_int_eq(chain_submit_tx(c, &gap, id), SG_EDUP);
    ck_assert_uint_eq(mempool_count(chain_mempool(c)), 4);

    proto_block b;
    ck_assert_int_eq(chain_template(c, f.pk[3], T0, 100, &b), 0);
    ck_assert_uint_eq(b.n_txs, 4);
    ck_assert_int_eq(b.txs[0].kind, PROTO_TX_COINBASE);
    ck_assert_mem_eq(b.txs[0].u.pay.to, f.pk[3], 32);
    ck_assert_uint_eq(b.txs[0].nonce, 1);
    ck_assert_uint_eq(b.header.time, T0 + 1);  /* median + 1 beats `now` */
    ck_assert_uint_eq(b.header.bits, f.p.bits);
    ck_assert_mem_eq(b.header.prev, f.id, 32);
    mine(&b);
    blk m = seal(&b, 1);
    expect(c, &m, CHAIN_NEW_TIP);
    ck_assert_uint_eq(mempool_count(chain_mempool(c)), 1);   /* the gap */
    ck_assert_uint_eq(ledger_account_get(chain_ledger(c), f.pk[1])->nonce, 3);

    /* max_txs counts the coinbase; `now` wins when later. */
    for (uint64_t n = 3; n < 6; n++) {
        proto_tx t = transfer(&f, 1, 2, n, 1);
        ck_assert_int_eq(chain_submit_tx(c, &t, id), 0);
    }
    ck_assert_int_eq(chain_template(c, f.pk[3], NOW, 2, &b), 0);
    ck_assert_uint_eq(b.n_txs, 2);
    ck_assert_uint_eq(b.txs[1].nonce, 3);
    ck_assert_uint_eq(b.header.time, NOW);
    proto_block_free(&b);
    free(m.bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

static void truncate_file(const char *dir, off_t cut)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/blocks.dat", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size - cut), 0);
}

START_TEST(test_store_reload)
{
    fix f;
    fix_init(&f);
    char *dir = tu_mkdtemp();
    chain_load_report rep;
    chain *c = open_chain(&f, dir, NULL, NULL, NULL, &rep);
    ck_assert_uint_eq(rep.blocks_loaded, 0);

    /* A1..A10; B9..B12 forking at A8 (a reorg when B11 arrives);
     * C13..C27 on B12; an overdraft block on C27 (invalid); C28. */
    blk all[40];
    size_t n = 0;
    uint8_t prev[32];
    memcpy(prev, f.id, 32);
    uint8_t a8[32];
    for (uint32_t h = 1; h <= 10; h++) {
        proto_tx t = transfer(&f, 0, 1, h - 1, 100 + h);
        all[n] = make(&f, prev, h, 0, &t, 1);
        expect(c, &all[n], CHAIN_NEW_TIP);
        memcpy(prev, all[n].hash, 32);
        if (h == 8)
            memcpy(a8, prev, 32);
        n++;
    }
    memcpy(prev, a8, 32);
    for (uint32_t h = 9; h <= 12; h++) {
        proto_tx t = transfer(&f, 2, 3, h - 9, 50 + h);
        all[n] = make(&f, prev, h, 1, &t, 1);
        expect(c, &all[n], h <= 10 ? CHAIN_SIDE : CHAIN_NEW_TIP);
        memcpy(prev, all[n].hash, 32);
        n++;
    }
    ck_assert_uint_eq(chain_stale_count(c), 2);
    for (uint32_t h = 13; h <= 27; h++) {
        all[n] = make(&f, prev, h, 2, NULL, 0);
        expect(c, &all[n], CHAIN_NEW_TIP);
        memcpy(prev, all[n].hash, 32);
        n++;
    }
    proto_tx over = transfer(&f, 3, 0, 0, 10 * BALANCE);
    blk bad = make(&f, prev, 28, 2, &over, 1);
    chain_result res;
    ck_assert_int_eq(submit(c, &bad, &res), SG_EBALANCE);
    blk last = make(&f, prev, 28, 3, NULL, 0);
    expect(c, &last, CHAIN_NEW_TIP);

    uint8_t tip[32], sh[32], sh2[32];
    memcpy(tip, chain_tip(c)->hash, 32);
    state_hash(c, sh);
    uint64_t stale = chain_stale_count(c);
    ck_assert_uint_eq(stale, 2);
    chain_free(c);

    c = open_chain(&f, dir, NULL, NULL, NULL, &rep);
    ck_assert_uint_eq(rep.blocks_loaded, n + 2);
    ck_assert_uint_eq(rep.rejected, 1);
    ck_assert_uint_eq(rep.dropped_bytes, 0);
    ck_assert_mem_eq(chain_tip(c)->hash, tip, 32);
    ck_assert_uint_eq(chain_tip(c)->height, 28);
    state_hash(c, sh2);
    ck_assert_mem_eq(sh, sh2, 32);
    ck_assert_uint_eq(chain_stale_count(c), stale);
    ck_assert_int_eq(chain_lookup(c, bad.hash)->status, CHAIN_ENTRY_INVALID);
    /* A stale block is still served from the store. */
    uint8_t *bytes;
    size_t len;
    ck_assert_int_eq(chain_block_bytes(c, all[9].hash, &bytes, &len), 0);
    ck_assert_uint_eq(len, all[9].len);
    ck_assert_mem_eq(bytes, all[9].bytes, len);
    free(bytes);
    chain_free(c);

    /* A torn write of the last record. */
    truncate_file(dir, 10);
    c = open_chain(&f, dir, NULL, NULL, NULL, &rep);
    ck_assert_uint_gt(rep.dropped_bytes, 0);
    ck_assert_uint_eq(rep.blocks_loaded, n + 1);
    ck_assert_mem_eq(chain_tip(c)->hash, prev, 32);
    expect(c, &last, CHAIN_NEW_TIP);
    state_hash(c, sh2);
    ck_assert_mem_eq(sh, sh2, 32);
    chain_free(c);

    /* And what was re-submitted is stored again. */
    c = open_chain(&f, dir, NULL, NULL, NULL, &rep);
    ck_assert_uint_eq(rep.dropped_bytes, 0);
    ck_assert_mem_eq(chain_tip(c)->hash, tip, 32);
    chain_free(c);

    for (size_t i = 0; i < n; i++)
        free(all[i].bytes);
    free(bad.bytes);
    free(last.bytes);
    tu_rmtree(dir);
    params_free(&f.p);
}
END_TEST

/* A transaction the mempool verified is not verified again in a block, but
 * a block carrying the same payload with a tampered signature is still
 * refused: the signature cache is keyed by the signature too. */
START_TEST(test_sigcache_block)
{
    fix f;
    fix_init(&f);
    chain *c = open_chain(&f, NULL, NULL, NULL, NULL, NULL);
    blk b1 = make(&f, f.id, 1, 0, NULL, 0);
    expect(c, &b1, CHAIN_NEW_TIP);
    proto_tx t = transfer(&f, 0, 1, 0, 5);
    uint8_t txid[32];
    sigcache_stats st0, st;
    ck_assert_int_eq(chain_submit_tx(c, &t, txid), 0);
    chain_sigcache_stats(c, &st0);
    ck_assert_uint_eq(st0.entries, 1);

    for (int i = 0; i < 64; i += 9) {
        proto_tx bad = t;
        bad.sig[i] ^= 0x20;
        proto_block b;
        build(&f, b1.hash, 2, 0, &bad, 1, &b);
        set_merkle(&b);
        mine(&b);
        reject(c, &b, SG_EBADSIG);
    }
    chain_sigcache_stats(c, &st);
    ck_assert_uint_eq(st.hits, st0.hits);
    ck_assert_uint_eq(st.entries, 1);

    blk b2 = make(&f, b1.hash, 2, 0, &t, 1);
    expect(c, &b2, CHAIN_NEW_TIP);
    chain_sigcache_stats(c, &st);
    ck_assert_uint_eq(st.hits, st0.hits + 1);
    ck_assert_int_eq(mempool_count(chain_mempool(c)), 0);
    free(b1.bytes);
    free(b2.bytes);
    chain_free(c);
    params_free(&f.p);
}
END_TEST

Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_reorg_depth1);
    tcase_add_test(tc, test_reorg_depth10);
    tcase_add_test(tc, test_reorg_below_undo);
    tcase_add_test(tc, test_invalid_branch_below_undo);
    tcase_add_test(tc, test_tie_break);
    tcase_add_test(tc, test_orphans);
    tcase_add_test(tc, test_orphan_pool_bound);
    tcase_add_test(tc, test_invalid_blocks);
    tcase_add_test(tc, test_invalid_branch_more_work);
    tcase_add_test(tc, test_retarget_rules);
    tcase_add_test(tc, test_template);
    tcase_add_test(tc, test_store_reload);
    tcase_add_test(tc, test_sigcache_block);
    suite_add_tcase(s, tc);
    return s;
}
