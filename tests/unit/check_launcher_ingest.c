/* Unit tests for the launcher's block-store follower (launcher/ingest.c):
 * hand-made blocks written with store.h into two nodes' data directories,
 * read into an SQLite database, through a fork, a tie and a reorg. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/db/db.h"
#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/ledger.h"
#include "common/core/params.h"
#include "common/core/store.h"
#include "common/core/tx.h"
#include "launcher/ingest.h"
#include "testutil.h"

typedef struct {
    char *dir;
    char a_dir[512], b_dir[512], db_path[512];
    chain_params params;
    uint8_t genesis[32];
    db *d;
    ingest *g;
    sqlite3 *q;
} fx;

static void hhash(const proto_header *h, uint8_t out[32])
{
    uint8_t raw[PROTO_HEADER_SIZE];
    proto_header_encode(h, raw);
    hash_sha256d(raw, sizeof raw, out);
}

static void fx_open(fx *f)
{
    static const uint8_t pk_a[32] = { 0xaa }, pk_b[32] = { 0xbb };
    char err[DB_ERR_MAX];
    proto_header gh;
    memset(f, 0, sizeof *f);
    f->dir = tu_mkdtemp();
    snprintf(f->a_dir, sizeof f->a_dir, "%s/a", f->dir);
    snprintf(f->b_dir, sizeof f->b_dir, "%s/b", f->dir);
    snprintf(f->db_path, sizeof f->db_path, "%s/run.db", f->dir);
    params_init_defaults(&f->params);
    f->params.genesis_time = 1700000000;
    params_genesis_header(&f->params, &gh);
    hhash(&gh, f->genesis);
    db_config cfg = { .sqlite_path = f->db_path };
    ck_assert_int_eq(db_open(&f->d, &cfg, err, sizeof err), 0);
    ck_assert_int_eq(ingest_new(&f->g, &f->params, f->d, "run1"), 0);
    ck_assert_int_eq(ingest_add_node(f->g, "a", pk_a, f->a_dir), 0);
    ck_assert_int_eq(ingest_add_node(f->g, "b", pk_b, f->b_dir), 0);
    ck_assert_int_eq(sqlite3_open(f->db_path, &f->q), SQLITE_OK);
}

static void fx_close(fx *f)
{
    sqlite3_close(f->q);
    ingest_free(f->g);
    ck_assert_int_eq(db_close(f->d, NULL, 0), 0);
    params_free(&f->params);
    tu_rmtree(f->dir);
}

/* A block on prev with a coinbase to `miner`, optionally a shared transfer
 * and a settlement of `interval` at `price`; its hash goes to out. */
static void put_block(const char *dir, const uint8_t prev[32], uint32_t height, uint8_t miner,
                      int with_transfer, uint64_t interval, uint64_t price, uint8_t out[32])
{
    proto_tx txs[3];
    proto_fill fill;
    proto_block b;
    uint32_t n = 0;
    memset(txs, 0, sizeof txs);
    memset(&fill, 0, sizeof fill);
    txs[n].version = PROTO_TX_VERSION;
    txs[n].kind = PROTO_TX_COINBASE;
    txs[n].nonce = height;
    txs[n].u.pay.to[0] = miner;
    txs[n++].u.pay.amount = 50000000;
    if (with_transfer) {
        txs[n].version = PROTO_TX_VERSION;
        txs[n].kind = PROTO_TX_TRANSFER;
        txs[n].from[0] = 0x11;
        txs[n].u.pay.to[0] = 0x22;
        txs[n++].u.pay.amount = 7;
    }
    if (price) {
        txs[n].version = PROTO_TX_VERSION;
        txs[n].kind = PROTO_TX_SETTLEMENT;
        txs[n].u.settle.interval = interval;
        txs[n].u.settle.clearing_price = price;
        fill.order[0] = 0x33;
        fill.traded_wh = 10;
        fill.trade_price = price;
        txs[n].u.settle.n_fills = 1;
        txs[n++].u.settle.fills = &fill;
    }
    memset(&b, 0, sizeof b);
    b.header.version = 1;
    memcpy(b.header.prev, prev, 32);
    b.header.time = 1700000000 + height;
    b.header.nonce = miner;
    b.n_txs = n;
    b.txs = txs;
    uint8_t *bytes;
    size_t len;
    ck_assert_int_eq(proto_block_encode(&b, &bytes, &len), 0);
    hhash(&b.header, out);
    store *s;
    store_report rep;
    uint64_t off;
    ck_assert_int_eq(store_open(&s, dir, NULL, NULL, &rep), 0);
    ck_assert_int_eq(store_append(s, bytes, len, &off), 0);
    store_close(s);
    free(bytes);
}

static int64_t q_int(fx *f, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(f->q, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(f->q));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void q_str(fx *f, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(f->q, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(f->q));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static int poll_flush(fx *f)
{
    char err[DB_ERR_MAX];
    int rc = ingest_poll(f->g, 1000, 100);
    ck_assert_int_ge(rc, 0);
    ck_assert_int_eq(db_flush(f->d, err, sizeof err), 0);
    return rc;
}

static int64_t stale_of(fx *f, const uint8_t h[32])
{
    char hex[65], sql[256];
    hash_to_hex_display(h, hex);
    snprintf(sql, sizeof sql, "SELECT stale FROM blocks WHERE hash='%s'", hex);
    return q_int(f, sql);
}

/* block_hash of the shared transfer, as a display hex or "". */
static void transfer_block(fx *f, char *out)
{
    q_str(f, "SELECT block_hash FROM transactions WHERE kind='transfer'", out, 65);
}

START_TEST(test_fork_tie_reorg)
{
    fx f;
    uint8_t a1[32], a2[32], a3[32], a4[32], b2[32], b3[32];
    char hex[65], got[65];
    ingest_stats st;
    fx_open(&f);

    /* No store yet: nothing, and not an error. */
    ck_assert_int_eq(poll_flush(&f), 0);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM blocks"), 1);   /* genesis */

    put_block(f.a_dir, f.genesis, 1, 0xa1, 0, 0, 0, a1);
    put_block(f.a_dir, a1, 2, 0xa2, 1, 0, 0, a2);
    ck_assert_int_eq(poll_flush(&f), 2);
    ingest_get_stats(f.g, &st);
    ck_assert_uint_eq(st.best_height, 2);
    ck_assert_uint_eq(st.stale, 0);
    ck_assert_uint_eq(st.txs, 3);
    hash_to_hex_display(a2, hex);
    transfer_block(&f, got);
    ck_assert_str_eq(got, hex);

    /* Node b has A1 too (stored once) and a longer branch B2-B3 holding the
     * same transfer and the settlement of interval 7. */
    put_block(f.b_dir, f.genesis, 1, 0xa1, 0, 0, 0, a1);
    put_block(f.b_dir, a1, 2, 0xb2, 1, 0, 0, b2);
    put_block(f.b_dir, b2, 3, 0xb3, 0, 7, 111, b3);
    ck_assert_int_eq(poll_flush(&f), 2);
    ingest_get_stats(f.g, &st);
    ck_assert_uint_eq(st.best_height, 3);
    ck_assert_uint_eq(st.blocks, 5);
    ck_assert_uint_eq(st.stale, 1);
    ck_assert_uint_eq(st.intervals, 1);
    ck_assert_uint_eq(st.last_price, 111);
    ck_assert_int_eq(stale_of(&f, a2), 1);
    ck_assert_int_eq(stale_of(&f, b2), 0);
    hash_to_hex_display(b2, hex);
    transfer_block(&f, got);
    ck_assert_str_eq(got, hex);
    hash_to_hex_display(a2, hex);
    {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM transactions WHERE kind='coinbase' "
                 "AND block_hash='' AND to_pk LIKE 'a2%%'");
        ck_assert_int_eq(q_int(&f, sql), 1);   /* A2's coinbase left the best chain */
    }

    /* A3 ties B3: the first seen (B3) stays best, and A3's own settlement
     * of interval 7 must not take the interval row over. */
    put_block(f.a_dir, a2, 3, 0xa3, 0, 7, 222, a3);
    ck_assert_int_eq(poll_flush(&f), 1);
    ingest_get_stats(f.g, &st);
    ck_assert_uint_eq(st.best_height, 3);
    ck_assert_uint_eq(st.stale, 2);
    ck_assert_int_eq(stale_of(&f, a3), 1);
    ck_assert_int_eq(q_int(&f, "SELECT clearing_price FROM market_intervals WHERE interval_no=7"),
                     111);
    hash_to_hex_display(b3, hex);
    q_str(&f, "SELECT block_hash FROM market_intervals WHERE interval_no=7", got, sizeof got);
    ck_assert_str_eq(got, hex);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM trades"), 2);

    /* A4 makes branch A the longest: a reorg back. */
    put_block(f.a_dir, a3, 4, 0xa4, 0, 0, 0, a4);
    ck_assert_int_eq(poll_flush(&f), 1);
    ingest_get_stats(f.g, &st);
    ck_assert_uint_eq(st.best_height, 4);
    ck_assert_uint_eq(st.stale, 2);
    ck_assert_uint_eq(st.intervals, 1);
    ck_assert_uint_eq(st.last_price, 222);
    ck_assert_int_eq(stale_of(&f, b2), 1);
    ck_assert_int_eq(stale_of(&f, b3), 1);
    ck_assert_int_eq(stale_of(&f, a2), 0);
    ck_assert_int_eq(stale_of(&f, a4), 0);
    hash_to_hex_display(a2, hex);
    transfer_block(&f, got);
    ck_assert_str_eq(got, hex);
    ck_assert_int_eq(q_int(&f, "SELECT clearing_price FROM market_intervals WHERE interval_no=7"),
                     222);
    /* Contiguous best chain 0..4, one block per height. */
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(DISTINCT height) FROM blocks WHERE stale=0"), 5);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM blocks WHERE stale=0"), 5);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM transactions WHERE block_hash<>''"),
                     (int64_t)st.txs);
    ingest_best_tip(f.g, got);
    hash_to_hex_display(a4, hex);
    ck_assert_str_eq(got, hex);
    fx_close(&f);
}
END_TEST

/* A record still being written is left for the next poll, not skipped. */
START_TEST(test_partial_record)
{
    fx f;
    uint8_t a1[32], a2[32];
    char path[600];
    fx_open(&f);
    put_block(f.a_dir, f.genesis, 1, 0xa1, 0, 0, 0, a1);
    put_block(f.a_dir, a1, 2, 0xa2, 0, 0, 0, a2);
    snprintf(path, sizeof path, "%s/blocks.dat", f.a_dir);
    FILE *in = fopen(path, "rb");
    ck_assert_ptr_nonnull(in);
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    ck_assert_uint_gt(n, 40);
    /* Cut the file inside the second record, poll, then restore it. */
    ck_assert_int_eq(truncate(path, (off_t)(n - 5)), 0);
    ck_assert_int_eq(poll_flush(&f), 1);
    FILE *out = fopen(path, "r+b");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(out);
    ck_assert_int_eq(poll_flush(&f), 1);
    ingest_stats st;
    ingest_get_stats(f.g, &st);
    ck_assert_uint_eq(st.best_height, 2);
    ck_assert_uint_eq(st.bad_records, 0);
    fx_close(&f);
}
END_TEST

/* The remote source's reader: a store file read the way STORE_READ
 * answers (at most cap bytes from offset, fewer only at the end), failing
 * the first `fail` calls as a lost control link would. */
typedef struct {
    char path[600];
    int fail;
    int calls;
    size_t max_cap;
} remote_file;

static int read_remote(void *ctx, size_t id, uint64_t off, uint8_t *buf, size_t cap)
{
    remote_file *r = ctx;
    ck_assert_uint_eq(id, 42);
    r->calls++;
    if (cap > r->max_cap)
        r->max_cap = cap;
    if (r->fail > 0) {
        r->fail--;
        return SG_ECLOSED;
    }
    FILE *in = fopen(r->path, "rb");
    if (!in)
        return SG_ENOTFOUND;
    ck_assert_int_eq(fseeko(in, (off_t)off, SEEK_SET), 0);
    size_t n = fread(buf, 1, cap, in);
    fclose(in);
    return (int)n;
}

/* A record with a valid checksum whose payload is no block, longer than
 * one read window: skipped as a bad record, and what follows is read. */
static size_t append_long_record(const char *path, size_t plen)
{
    uint8_t *rec = calloc(1, 12 + plen), sum[32];
    ck_assert_ptr_nonnull(rec);
    memset(rec + 12, 0x5a, plen);
    memcpy(rec, "SGB1", 4);
    for (int i = 0; i < 4; i++)
        rec[4 + i] = (uint8_t)(plen >> (8 * i));
    hash_sha256d(rec + 12, plen, sum);
    memcpy(rec + 8, sum, 4);
    FILE *out = fopen(path, "ab");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(rec, 1, 12 + plen, out), 12 + plen);
    fclose(out);
    free(rec);
    return 12 + plen;
}

/* A node on another host: its store comes through the read callback, with
 * the same records, checks and rows as a file. */
START_TEST(test_remote_source)
{
    static const uint8_t pk_c[32] = { 0xcc };
    fx f;
    uint8_t a1[32], a2[32];
    char c_dir[512], hex[65], sql[256], got[65];
    remote_file r = { .fail = 1 };
    ingest_stats st;
    fx_open(&f);
    snprintf(c_dir, sizeof c_dir, "%s/c", f.dir);
    snprintf(r.path, sizeof r.path, "%s/blocks.dat", c_dir);
    ck_assert_int_eq(ingest_add_remote_node(f.g, "c", pk_c, read_remote, &r, 42), 0);

    put_block(c_dir, f.genesis, 1, 0xa1, 0, 0, 0, a1);
    /* A lost link is retried on the next poll, not an error. */
    ck_assert_int_eq(poll_flush(&f), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(poll_flush(&f), 1);

    size_t long_len = append_long_record(r.path, (3u << 20) / 2);
    put_block(c_dir, a1, 2, 0xa2, 1, 0, 0, a2);
    /* Cut inside the long record: nothing new, and nothing kept. */
    FILE *in = fopen(r.path, "rb");
    ck_assert_ptr_nonnull(in);
    ck_assert_int_eq(fseeko(in, 0, SEEK_END), 0);
    off_t full = ftello(in);
    uint8_t *all = malloc((size_t)full);
    rewind(in);
    ck_assert_uint_eq(fread(all, 1, (size_t)full, in), (size_t)full);
    fclose(in);
    ck_assert_int_eq(truncate(r.path, full - 100 - (off_t)long_len / 2), 0);
    ck_assert_int_eq(poll_flush(&f), 0);
    FILE *out = fopen(r.path, "wb");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(all, 1, (size_t)full, out), (size_t)full);
    fclose(out);
    free(all);
    ck_assert_int_eq(poll_flush(&f), 1);

    ingest_get_stats(f.g, &st);
    ck_assert_uint_eq(st.best_height, 2);
    ck_assert_uint_eq(st.bad_records, 1);
    ck_assert_uint_eq(st.txs, 3);
    ck_assert_uint_le(r.max_cap, 1u << 20);   /* what one STORE_DATA carries */
    hash_to_hex_display(a2, hex);
    snprintf(sql, sizeof sql, "SELECT seen_by FROM blocks WHERE hash='%s'", hex);
    q_str(&f, sql, got, sizeof got);
    ck_assert_str_eq(got, "c");
    transfer_block(&f, got);
    ck_assert_str_eq(got, hex);
    fx_close(&f);
}
END_TEST

/* A block on prev holding a coinbase to `miner` and txs; hash to out. */
static void put_txs(const char *dir, const uint8_t prev[32], uint32_t height,
                    const uint8_t miner[32], const proto_tx *txs, uint32_t n, uint8_t out[32])
{
    proto_tx all[4];
    proto_block b;
    uint8_t *bytes;
    size_t len;
    store *st;
    store_report rep;
    uint64_t off;
    ck_assert_uint_le(n, 3);
    memset(all, 0, sizeof all);
    all[0].version = PROTO_TX_VERSION;
    all[0].kind = PROTO_TX_COINBASE;
    all[0].nonce = height;
    memcpy(all[0].u.pay.to, miner, 32);
    all[0].u.pay.amount = 50000000;
    if (n)
        memcpy(all + 1, txs, n * sizeof *txs);
    memset(&b, 0, sizeof b);
    b.header.version = 1;
    memcpy(b.header.prev, prev, 32);
    b.header.time = 1700000000 + height;
    b.header.nonce = miner[0] + height;
    b.n_txs = n + 1;
    b.txs = all;
    ck_assert_int_eq(proto_block_encode(&b, &bytes, &len), 0);
    hhash(&b.header, out);
    ck_assert_int_eq(store_open(&st, dir, NULL, NULL, &rep), 0);
    ck_assert_int_eq(store_append(st, bytes, len, &off), 0);
    store_close(st);
    free(bytes);
}

static proto_tx order_tx(uint8_t kind, const uint8_t from[32], uint64_t interval)
{
    proto_tx t;
    memset(&t, 0, sizeof t);
    t.version = PROTO_TX_VERSION;
    t.kind = kind;
    memcpy(t.from, from, 32);
    t.u.order.interval = interval;
    t.u.order.energy_wh = 100;
    t.u.order.price = 150000;
    return t;
}

/* Settlements carry the interval's settled_ms (the first sighting of the
 * best-chain block holding it) and closed_ms; each node's money for
 * energy is kept apart from its rewards, the grid (operator) mirroring
 * every fill, and both follow a reorg that takes the settlement away. */
START_TEST(test_settled_and_money)
{
    static const uint8_t pk_a[32] = { 0xaa }, pk_b[32] = { 0xbb };
    fx f;
    proto_tx txs[2], settle;
    proto_fill fills[2];
    uint8_t h1[32], h2[32], x2[32], x3[32], offer_id[32], bid_id[32];
    uint64_t p2p, feed, retail;
    ingest_money m;
    char sql[160];
    fx_open(&f);
    ck_assert_int_eq(ingest_add_node(f.g, "op", f.params.operator_key, f.dir), 0);

    txs[0] = order_tx(PROTO_TX_OFFER, pk_a, 3);
    txs[1] = order_tx(PROTO_TX_BID, pk_b, 3);
    ck_assert_int_eq(tx_id(&txs[0], offer_id), 0);
    ck_assert_int_eq(tx_id(&txs[1], bid_id), 0);
    put_txs(f.a_dir, f.genesis, 1, pk_a, txs, 2, h1);
    memset(&settle, 0, sizeof settle);
    memset(fills, 0, sizeof fills);
    settle.version = PROTO_TX_VERSION;
    settle.kind = PROTO_TX_SETTLEMENT;
    memcpy(settle.from, f.params.operator_key, 32);
    settle.u.settle.interval = 3;
    settle.u.settle.clearing_price = 150000;
    for (int i = 0; i < 2; i++) {
        memcpy(fills[i].order, i ? bid_id : offer_id, 32);
        fills[i].traded_wh = 60;
        fills[i].trade_price = 150000;
        fills[i].grid_wh = 40;
    }
    settle.u.settle.n_fills = 2;
    settle.u.settle.fills = fills;
    put_txs(f.a_dir, h1, 2, pk_b, &settle, 1, h2);
    ck_assert_int_eq(poll_flush(&f), 2);

    ck_assert_int_eq(ledger_cost(60, 150000, &p2p), 0);
    ck_assert_int_eq(ledger_cost(40, f.params.feed_in_price, &feed), 0);
    ck_assert_int_eq(ledger_cost(40, f.params.retail_price, &retail), 0);
    ingest_node_money(f.g, pk_a, &m);
    ck_assert_uint_eq(m.energy_received, p2p + feed);
    ck_assert_uint_eq(m.energy_paid, 0);
    ck_assert_uint_eq(m.rewards, 50000000);
    ingest_node_money(f.g, pk_b, &m);
    ck_assert_uint_eq(m.energy_paid, p2p + retail);
    ck_assert_uint_eq(m.energy_received, 0);
    ck_assert_uint_eq(m.rewards, 50000000);
    ingest_node_money(f.g, f.params.operator_key, &m);
    ck_assert_uint_eq(m.energy_received, p2p + retail);
    ck_assert_uint_eq(m.energy_paid, p2p + feed);
    ck_assert_uint_eq(m.rewards, 0);
    ck_assert_int_eq(q_int(&f, "SELECT settled_ms FROM market_intervals WHERE interval_no=3"),
                     1000);       /* poll_flush's clock */
    snprintf(sql, sizeof sql, "SELECT closed_ms FROM market_intervals WHERE interval_no=3");
    ck_assert_int_eq(q_int(&f, sql), (int64_t)f.params.genesis_time * 1000 +
                                         4 * (int64_t)f.params.tick_ms);

    /* A longer branch from h1 without the settlement. */
    put_txs(f.b_dir, f.genesis, 1, pk_a, txs, 2, h1);
    put_txs(f.b_dir, h1, 2, pk_a, NULL, 0, x2);
    put_txs(f.b_dir, x2, 3, pk_a, NULL, 0, x3);
    ck_assert_int_eq(poll_flush(&f), 2);
    ck_assert_int_eq(stale_of(&f, h2), 1);
    ck_assert_int_eq(q_int(&f, "SELECT settled_ms IS NULL FROM market_intervals "
                               "WHERE interval_no=3"), 1);
    ingest_node_money(f.g, pk_a, &m);
    ck_assert_uint_eq(m.energy_received, 0);
    ck_assert_uint_eq(m.rewards, 3 * 50000000u);
    ingest_node_money(f.g, pk_b, &m);
    ck_assert_uint_eq(m.energy_paid, 0);
    ck_assert_uint_eq(m.rewards, 0);
    ingest_node_money(f.g, f.params.operator_key, &m);
    ck_assert_uint_eq(m.energy_received, 0);
    ck_assert_uint_eq(m.energy_paid, 0);
    (void)x3;
    fx_close(&f);
}
END_TEST

Suite *launcher_ingest_suite(void)
{
    Suite *s = suite_create("launcher_ingest");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fork_tie_reorg);
    tcase_add_test(tc, test_partial_record);
    tcase_add_test(tc, test_remote_source);
    tcase_add_test(tc, test_settled_and_money);
    suite_add_tcase(s, tc);
    return s;
}
