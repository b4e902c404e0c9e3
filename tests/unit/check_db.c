/* The run store on its SQLite backend: schema, every table, upsert rules,
 * idempotence, outage (a second connection holding the write lock), the
 * spill file and its recovery.  The MySQL backend runs the same code above
 * the backend; tests/integration/test_db_mariadb.sh covers it. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "launcher/db/db.h"
#include "common/base/err.h"
#include "testutil.h"

#define RUN "20261125-013000-ab12"

typedef struct {
    char *dir;
    char path[512];
    char spill[512];
    db *d;
} fixture;

static void fx_open_cfg(fixture *f, int thread)
{
    char err[DB_ERR_MAX] = "";
    db_config cfg = { .sqlite_path = f->path, .spill_path = f->spill,
                      .flush_thread = thread, .flush_ms = 50 };
    int rc = db_open(&f->d, &cfg, err, sizeof err);
    ck_assert_msg(rc == 0, "db_open: %d %s", rc, err);
    ck_assert_str_eq(db_backend(f->d), "sqlite");
}

static void fx_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->dir = tu_mkdtemp();
    snprintf(f->path, sizeof f->path, "%s/run.sqlite", f->dir);
    snprintf(f->spill, sizeof f->spill, "%s/db.spill", f->dir);
    fx_open_cfg(f, 0);
}

static void fx_close(fixture *f)
{
    char err[DB_ERR_MAX] = "";
    int rc = db_close(f->d, err, sizeof err);
    ck_assert_msg(rc == 0, "db_close: %d %s", rc, err);
    f->d = NULL;
}

static void fx_done(fixture *f)
{
    if (f->d != NULL)
        fx_close(f);
    tu_rmtree(f->dir);
}

static void flush_ok(db *d)
{
    char err[DB_ERR_MAX] = "";
    int rc = db_flush(d, err, sizeof err);
    ck_assert_msg(rc == 0, "db_flush: %d %s", rc, err);
    ck_assert_uint_eq(db_backlog(d), 0);
    ck_assert_int_eq(db_is_up(d), 1);
}

/* First column of the first row of sql, read through a separate
 * connection as an analyst would. */
static int64_t q_int(const fixture *f, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open(f->path, &h), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK,
                  "%s: %s", sql, sqlite3_errmsg(h));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static char *q_text(const fixture *f, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open(f->path, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *s = sqlite3_column_text(st, 0);
    char *v = strdup(s ? (const char *)s : "(null)");
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void hex_of(char out[DB_HEX_MAX], unsigned tag, unsigned n)
{
    snprintf(out, DB_HEX_MAX, "%08x%08x%048x", tag, n, 0u);
}

static const char *params_json = "{\"prosumers\":3,\"note\":\"tab\there\\\\ \nnl\"}";

static db_run mk_run(void)
{
    db_run r = { .run_id = RUN, .started_at_s = 1795570200, .params = params_json,
                 .seed = 42, .prosumers = 3, .consumers = 5, .operators = 1,
                 .difficulty = 4, .duration_s = 300, .tick_ms = 5000,
                 .market_rule = "uniform", .hosts = 1 };
    return r;
}

static db_node mk_node(unsigned i, int64_t balance)
{
    db_node n = { .run_id = RUN, .role = "prosumer", .host = "127.0.0.1",
                  .port = 7000 + i, .balance = balance, .sold_wh = 10 * i,
                  .produced_wh = 100 * i, .height = 7, .updated_ms = 1000 };
    snprintf(n.name, sizeof n.name, "p%u", i);
    hex_of(n.pubkey, 0xaa, i);
    return n;
}

static db_block mk_block(unsigned i, int64_t seen_ms, const char *by, int stale)
{
    db_block b = { .run_id = RUN, .height = i, .time_s = 1795570200 + i,
                   .n_txs = 3, .bits = 0x1f0fffff, .nonce = 99 * i,
                   .first_seen_ms = seen_ms, .stale = stale };
    hex_of(b.hash, 0xb0, i);
    hex_of(b.prev_hash, 0xb0, i - 1);
    hex_of(b.miner, 0xaa, 1);
    snprintf(b.seen_by, sizeof b.seen_by, "%s", by);
    return b;
}

static db_tx mk_tx(unsigned i, const char *block, int64_t seen_ms)
{
    db_tx t = { .run_id = RUN, .kind = "offer", .nonce = i, .interval = 4,
                .energy_wh = 500, .price = 120000, .first_seen_ms = seen_ms };
    hex_of(t.txid, 0x70, i);
    hex_of(t.from_pk, 0xaa, 1);
    snprintf(t.block_hash, sizeof t.block_hash, "%s", block);
    return t;
}

static db_trade mk_trade(unsigned i)
{
    db_trade t = { .run_id = RUN, .interval = 4, .node_name = "p1", .side = "sell",
                   .traded_wh = 400, .trade_price = 110000, .grid_wh = 100,
                   .amount = 44000 };
    hex_of(t.settle_txid, 0x5e, 1);
    hex_of(t.order_txid, 0x70, i);
    hex_of(t.node_pk, 0xaa, 1);
    return t;
}

static db_interval mk_interval(unsigned i, const char *block)
{
    db_interval v = { .run_id = RUN, .interval = i, .clearing_price = 110000,
                      .traded_wh = 400, .grid_import_wh = 50,
                      .grid_export_wh = 100, .matched_orders = 2 };
    hex_of(v.settle_txid, 0x5e, i);
    snprintf(v.block_hash, sizeof v.block_hash, "%s", block);
    return v;
}

static db_node_stat mk_stat(const char *node, int64_t t_ms, int64_t height)
{
    db_node_stat s = { .run_id = RUN, .t_ms = t_ms, .height = height, .peers = 4,
                  .hashrate = 1500000, .mempool = 2, .balance = 77,
                  .loop_lag_ms = 1 };
    snprintf(s.node, sizeof s.node, "%s", node);
    return s;
}

/* One row in each table. */
static void put_one_each(db *d)
{
    db_run r = mk_run();
    db_node n = mk_node(1, 5000);
    db_block b = mk_block(1, 1000, "p1", 0);
    db_tx t = mk_tx(1, b.hash, 900);
    db_trade tr = mk_trade(1);
    db_interval iv = mk_interval(4, b.hash);
    db_node_stat s = mk_stat("p1", 1000, 1);
    ck_assert_int_eq(db_put_run(d, &r), 0);
    ck_assert_int_eq(db_put_node(d, &n), 0);
    ck_assert_int_eq(db_put_block(d, &b), 0);
    ck_assert_int_eq(db_put_tx(d, &t), 0);
    ck_assert_int_eq(db_put_trade(d, &tr), 0);
    ck_assert_int_eq(db_put_interval(d, &iv), 0);
    ck_assert_int_eq(db_put_node_stat(d, &s), 0);
}

static const char *const tables[] = {
    "runs", "nodes", "blocks", "transactions", "trades", "market_intervals",
    "node_stats"
};

/* ntables: how many of tables[] to check, in order. */
static void assert_one_in(const fixture *f, size_t ntables)
{
    char sql[128];
    for (size_t i = 0; i < ntables; i++) {
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE run_id = '" RUN "'",
                 tables[i]);
        ck_assert_msg(q_int(f, sql) == 1, "table %s", tables[i]);
    }
}

static void assert_one_each(const fixture *f)
{
    assert_one_in(f, sizeof tables / sizeof tables[0]);
}

START_TEST(test_schema)
{
    fixture f;
    fx_init(&f);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM sqlite_master WHERE "
                 "type = 'table' AND name = '%s'", tables[i]);
        ck_assert_msg(q_int(&f, sql) == 1, "missing table %s", tables[i]);
    }
    ck_assert_int_ge(q_int(&f, "SELECT COUNT(*) FROM sqlite_master WHERE "
                               "type = 'index' AND name = 'blocks_height'"), 1);
    char *mode = q_text(&f, "PRAGMA journal_mode");
    ck_assert_str_eq(mode, "wal");
    free(mode);
    /* Opening again finds the tables and keeps them. */
    fx_close(&f);
    fx_open_cfg(&f, 0);
    flush_ok(f.d);
    fx_done(&f);
}
END_TEST

START_TEST(test_every_table)
{
    fixture f;
    fx_init(&f);
    put_one_each(f.d);
    ck_assert_uint_eq(db_backlog(f.d), 7);
    flush_ok(f.d);
    ck_assert_uint_eq(db_written(f.d), 7);
    assert_one_each(&f);

    char *p = q_text(&f, "SELECT params FROM runs");
    ck_assert_str_eq(p, params_json);
    free(p);
    ck_assert_int_eq(q_int(&f, "SELECT difficulty FROM runs"), 4);
    ck_assert_int_eq(q_int(&f, "SELECT port FROM nodes WHERE name = 'p1'"), 7001);
    ck_assert_int_eq(q_int(&f, "SELECT nonce FROM blocks"), 99);
    ck_assert_int_eq(q_int(&f, "SELECT bits FROM blocks"), 0x1f0fffff);
    ck_assert_int_eq(q_int(&f, "SELECT energy_wh FROM transactions"), 500);
    ck_assert_int_eq(q_int(&f, "SELECT interval_no FROM trades"), 4);
    ck_assert_int_eq(q_int(&f, "SELECT clearing_price FROM market_intervals"),
                     110000);
    ck_assert_int_eq(q_int(&f, "SELECT hashrate FROM node_stats"), 1500000);
    /* The analysis join of docs/SCHEMA.md: a tx and its block. */
    ck_assert_int_eq(q_int(&f, "SELECT b.first_seen_ms - t.first_seen_ms FROM "
                               "transactions t JOIN blocks b ON b.run_id = "
                               "t.run_id AND b.hash = t.block_hash"), 100);
    fx_done(&f);
}
END_TEST

START_TEST(test_idempotent)
{
    fixture f;
    fx_init(&f);
    /* Twice in one batch, then again in a later batch, then after reopen. */
    put_one_each(f.d);
    put_one_each(f.d);
    flush_ok(f.d);
    assert_one_each(&f);
    put_one_each(f.d);
    flush_ok(f.d);
    assert_one_each(&f);
    fx_close(&f);
    fx_open_cfg(&f, 0);
    put_one_each(f.d);
    flush_ok(f.d);
    assert_one_each(&f);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM (SELECT run_id, hash FROM "
                               "blocks GROUP BY run_id, hash HAVING COUNT(*) > 1)"),
                     0);
    fx_done(&f);
}
END_TEST

START_TEST(test_upsert_rules)
{
    fixture f;
    fx_init(&f);
    db_block b = mk_block(2, 5000, "c3", 0);
    ck_assert_int_eq(db_put_block(f.d, &b), 0);
    flush_ok(f.d);
    /* Seen earlier by p2 and now stale: both win.  Later by p9: ignored. */
    b = mk_block(2, 4000, "p2", 1);
    ck_assert_int_eq(db_put_block(f.d, &b), 0);
    b = mk_block(2, 9000, "p9", 1);
    ck_assert_int_eq(db_put_block(f.d, &b), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT first_seen_ms FROM blocks"), 4000);
    char *by = q_text(&f, "SELECT seen_by FROM blocks");
    ck_assert_str_eq(by, "p2");
    free(by);
    ck_assert_int_eq(q_int(&f, "SELECT stale FROM blocks"), 1);
    /* A reorg back: un-stale. */
    b = mk_block(2, 9000, "p9", 0);
    ck_assert_int_eq(db_put_block(f.d, &b), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT stale FROM blocks"), 0);

    /* A tx leaves its block ("" = back in the mempool), keeps first seen. */
    db_tx t = mk_tx(1, b.hash, 700);
    ck_assert_int_eq(db_put_tx(f.d, &t), 0);
    t = mk_tx(1, "", 800);
    ck_assert_int_eq(db_put_tx(f.d, &t), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT length(block_hash) FROM transactions"), 0);
    ck_assert_int_eq(q_int(&f, "SELECT first_seen_ms FROM transactions"), 700);

    /* Nodes: the latest values win.  Stats: the first sample stays. */
    db_node n = mk_node(3, 100);
    ck_assert_int_eq(db_put_node(f.d, &n), 0);
    n = mk_node(3, 250);
    ck_assert_int_eq(db_put_node(f.d, &n), 0);
    db_node_stat s = mk_stat("p3", 2000, 5);
    ck_assert_int_eq(db_put_node_stat(f.d, &s), 0);
    s = mk_stat("p3", 2000, 6);
    ck_assert_int_eq(db_put_node_stat(f.d, &s), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT balance FROM nodes WHERE name = 'p3'"), 250);
    ck_assert_int_eq(q_int(&f, "SELECT height FROM node_stats"), 5);

    /* The run row is re-put at the end with ended_at_s. */
    db_run r = mk_run();
    ck_assert_int_eq(db_put_run(f.d, &r), 0);
    r.ended_at_s = r.started_at_s + 300;
    r.params = NULL;
    ck_assert_int_eq(db_put_run(f.d, &r), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT ended_at_s - started_at_s FROM runs"), 300);
    ck_assert_int_eq(q_int(&f, "SELECT params IS NULL FROM runs"), 1);
    fx_done(&f);
}
END_TEST

START_TEST(test_invalid)
{
    fixture f;
    char err[DB_ERR_MAX] = "";
    db *d = (db *)1;
    fx_init(&f);
    db_node n = mk_node(1, 1);
    n.run_id[0] = '\0';
    ck_assert_int_eq(db_put_node(f.d, &n), SG_EINVAL);
    n = mk_node(1, 1);
    n.name[0] = '\0';
    ck_assert_int_eq(db_put_node(f.d, &n), SG_EINVAL);
    ck_assert_int_eq(db_put_tx(f.d, NULL), SG_EINVAL);

    db_run r = mk_run();
    char *big = malloc(DB_PARAMS_MAX + 2);
    memset(big, 'x', DB_PARAMS_MAX + 1);
    big[DB_PARAMS_MAX + 1] = '\0';
    r.params = big;
    ck_assert_int_eq(db_put_run(f.d, &r), SG_ETOOBIG);
    free(big);
    r = mk_run();
    r.run_id[0] = '\0';
    ck_assert_int_eq(db_put_run(f.d, &r), SG_EINVAL);

    /* Unterminated fixed buffers are cut, not overread. */
    n = mk_node(1, 1);
    memset(n.role, 'r', sizeof n.role);
    ck_assert_int_eq(db_put_node(f.d, &n), 0);
    ck_assert_uint_eq(db_backlog(f.d), 1);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT length(role) FROM nodes"), DB_WORD_MAX - 1);

    /* A path in a directory that does not exist: a clear message. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/run.sqlite", f.dir);
    db_config cfg = { .sqlite_path = bad };
    ck_assert_int_eq(db_open(&d, &cfg, err, sizeof err), SG_EDB);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err, "SQLite: cannot open") != NULL, "%s", err);
    db_config none = { 0 };
    ck_assert_int_eq(db_open(&d, &none, err, sizeof err), SG_EINVAL);
    ck_assert_int_eq(db_close(NULL, NULL, 0), 0);
    fx_done(&f);
}
END_TEST

/* Holds SQLite's write lock from a second connection: every write of the
 * db under test waits out its busy timeout and fails, like a dead server. */
static sqlite3 *lock_db(const fixture *f)
{
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(f->path, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return h;
}

static void unlock_db(sqlite3 *h)
{
    ck_assert_int_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

static void put_stats(db *d, const char *node, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        db_node_stat s = mk_stat(node, i, i);
        ck_assert_int_eq(db_put_node_stat(d, &s), 0);
    }
}

START_TEST(test_outage)
{
    fixture f;
    char err[DB_ERR_MAX] = "";
    fx_init(&f);
    put_stats(f.d, "p1", 0, 50);
    flush_ok(f.d);

    sqlite3 *h = lock_db(&f);
    put_stats(f.d, "p1", 50, 100);
    ck_assert_int_eq(db_flush(f.d, err, sizeof err), SG_EDB);
    ck_assert_msg(strstr(err, "SQLite") != NULL, "%s", err);
    ck_assert_int_eq(db_is_up(f.d), 0);
    ck_assert_uint_eq(db_backlog(f.d), 100);
    /* Inside the retry delay: refused at once, rows kept. */
    ck_assert_int_eq(db_flush(f.d, err, sizeof err), SG_EDB);
    ck_assert_msg(strstr(err, "retrying") != NULL, "%s", err);
    put_stats(f.d, "p1", 150, 10);
    ck_assert_uint_eq(db_backlog(f.d), 110);
    unlock_db(h);

    usleep((DB_RETRY_MS + 100) * 1000);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats"), 160);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(DISTINCT t_ms) FROM node_stats"),
                     160);
    ck_assert_int_eq(q_int(&f, "SELECT SUM(t_ms) FROM node_stats"),
                     159 * 160 / 2);
    fx_done(&f);
}
END_TEST

START_TEST(test_spill_order)
{
    fixture f;
    fx_init(&f);
    db_node n = mk_node(1, 111);
    ck_assert_int_eq(db_put_node(f.d, &n), 0);
    put_stats(f.d, "p1", 0, DB_MEM_ROWS - 1);
    ck_assert_int_eq(access(f.spill, F_OK), -1);
    /* Memory is full: these go to the spill file, after the rows above. */
    put_stats(f.d, "p2", 0, 300);
    n = mk_node(1, 222);
    ck_assert_int_eq(db_put_node(f.d, &n), 0);
    ck_assert_uint_eq(db_backlog(f.d), DB_MEM_ROWS + 301);
    ck_assert_int_eq(access(f.spill, F_OK), 0);
    flush_ok(f.d);
    ck_assert_uint_eq(db_written(f.d), DB_MEM_ROWS + 301);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats"),
                     DB_MEM_ROWS - 1 + 300);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats "
                               "WHERE node = 'p2'"), 300);
    ck_assert_int_eq(q_int(&f, "SELECT balance FROM nodes"), 222);
    /* The drained spill file is emptied and memory takes rows again. */
    FILE *sp = fopen(f.spill, "r");
    ck_assert_ptr_nonnull(sp);
    ck_assert_int_eq(fgetc(sp), EOF);
    fclose(sp);
    put_stats(f.d, "p3", 0, 5);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats "
                               "WHERE node = 'p3'"), 5);
    /* A clean close removes the empty spill file. */
    fx_close(&f);
    ck_assert_int_eq(access(f.spill, F_OK), -1);
    fx_done(&f);
}
END_TEST

START_TEST(test_close_down_keeps_spill)
{
    fixture f;
    char err[DB_ERR_MAX] = "";
    fx_init(&f);
    sqlite3 *h = lock_db(&f);
    put_one_each(f.d);
    put_stats(f.d, "p1", 10, 20);
    ck_assert_int_eq(db_close(f.d, err, sizeof err), SG_EDB);
    f.d = NULL;
    ck_assert_msg(strstr(err, "27 rows kept in") != NULL, "%s", err);
    ck_assert_msg(strstr(err, f.spill) != NULL, "%s", err);
    unlock_db(h);

    /* The next process picks the rows up, params with tab and newline too. */
    fx_open_cfg(&f, 0);
    ck_assert_uint_eq(db_backlog(f.d), 27);
    flush_ok(f.d);
    assert_one_in(&f, 6);
    char *p = q_text(&f, "SELECT params FROM runs");
    ck_assert_str_eq(p, params_json);
    free(p);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats"), 21);
    fx_done(&f);
}
END_TEST

START_TEST(test_spill_corrupt_lines)
{
    fixture f;
    char err[DB_ERR_MAX] = "";
    fx_init(&f);
    fx_close(&f);
    FILE *sp = fopen(f.spill, "w");
    ck_assert_ptr_nonnull(sp);
    fputs("6\t" RUN "\tp1\t1000\t1\t2\t3\t4\t5\t6\t7\t8\n", sp);
    fputs("9\tgarbage\n", sp);
    fputs("6\t" RUN "\tp1\tnotanumber\t1\t2\t3\t4\t5\t6\t7\t8\n", sp);
    fputs("6\t" RUN "\tp1\t1001\t1\t2\n", sp);
    fputs("6\t" RUN "\tp1\t1002\t1\t2\t3\t4\t5\t6\t7\t8", sp);  /* torn tail */
    fclose(sp);
    fx_open_cfg(&f, 0);
    ck_assert_uint_eq(db_backlog(f.d), 5);
    /* Rows put now land after the torn line, not glued onto it. */
    db_node_stat s = mk_stat("p1", 2000, 9);
    ck_assert_int_eq(db_put_node_stat(f.d, &s), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats"), 3);
    ck_assert_int_eq(q_int(&f, "SELECT loop_lag_ms FROM node_stats "
                               "WHERE t_ms = 1000"), 8);
    ck_assert_int_eq(q_int(&f, "SELECT height FROM node_stats "
                               "WHERE t_ms = 2000"), 9);
    ck_assert_int_eq(db_close(f.d, err, sizeof err), 0);
    f.d = NULL;
    ck_assert_msg(strstr(err, "3 unreadable lines") != NULL, "%s", err);
    fx_done(&f);
}
END_TEST

START_TEST(test_flush_thread)
{
    fixture f;
    memset(&f, 0, sizeof f);
    f.dir = tu_mkdtemp();
    snprintf(f.path, sizeof f.path, "%s/run.sqlite", f.dir);
    snprintf(f.spill, sizeof f.spill, "%s/db.spill", f.dir);
    fx_open_cfg(&f, 1);
    put_one_each(f.d);
    put_stats(f.d, "p1", 0, 1000);
    for (int i = 0; i < 400 && db_backlog(f.d) > 0; i++)
        usleep(50 * 1000);
    ck_assert_uint_eq(db_backlog(f.d), 0);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats"), 1001);
    /* Rows put just before close are written by close. */
    put_stats(f.d, "p2", 0, 10);
    fx_close(&f);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats"), 1011);
    fx_done(&f);
}
END_TEST

typedef struct {
    db *d;
    char node[8];
} putter;

static void *put_main(void *arg)
{
    putter *p = arg;
    for (int i = 0; i < 5000; i++) {
        db_node_stat s = mk_stat(p->node, i, i);
        if (db_put_node_stat(p->d, &s) != 0)
            return (void *)1;
    }
    return NULL;
}

/* Two threads put while the flush thread writes and rows spill and come
 * back: every row arrives once. */
START_TEST(test_concurrent_puts)
{
    fixture f;
    char err[DB_ERR_MAX] = "";
    memset(&f, 0, sizeof f);
    f.dir = tu_mkdtemp();
    snprintf(f.path, sizeof f.path, "%s/run.sqlite", f.dir);
    snprintf(f.spill, sizeof f.spill, "%s/db.spill", f.dir);
    db_config cfg = { .sqlite_path = f.path, .spill_path = f.spill,
                      .flush_thread = 1, .flush_ms = 5, .mem_rows = 300 };
    ck_assert_int_eq(db_open(&f.d, &cfg, err, sizeof err), 0);
    pthread_t th[2];
    putter p[2] = { { f.d, "a" }, { f.d, "b" } };
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, put_main, &p[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        ck_assert_ptr_null(ret);
    }
    fx_close(&f);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats"), 10000);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM node_stats WHERE "
                               "height = t_ms"), 10000);
    ck_assert_int_eq(access(f.spill, F_OK), -1);
    fx_done(&f);
}
END_TEST

/* Latency records land in `transactions` whichever comes first, the row
 * from the block or the record; unknown stays NULL; the rest of the row is
 * the block's. */
START_TEST(test_txlat_columns)
{
    fixture f;
    fx_init(&f);
    db_block b = mk_block(1, 1000, "p1", 0);
    db_tx t1 = mk_tx(1, b.hash, 900), t2 = mk_tx(2, b.hash, 950), t3 = mk_tx(3, b.hash, 990);
    db_txlat l1 = { .run_id = RUN, .first_seen_ms = 1200, .broadcast_ms = 500,
                    .included_ms = 800 };
    db_txlat l2 = { .run_id = RUN, .first_seen_ms = 700, .broadcast_ms = 600,
                    .included_ms = 650 };
    snprintf(l1.txid, sizeof l1.txid, "%s", t1.txid);
    snprintf(l2.txid, sizeof l2.txid, "%s", t2.txid);
    ck_assert_int_eq(db_put_tx(f.d, &t1), 0);       /* row first, record after */
    ck_assert_int_eq(db_put_txlat(f.d, &l1), 0);
    ck_assert_int_eq(db_put_txlat(f.d, &l2), 0);    /* record first, row after */
    flush_ok(f.d);
    ck_assert_int_eq(db_put_tx(f.d, &t2), 0);
    ck_assert_int_eq(db_put_tx(f.d, &t3), 0);
    ck_assert_int_eq(db_put_tx(f.d, &t1), 0);       /* a re-put keeps the times */
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM transactions"), 3);
    ck_assert_int_eq(q_int(&f, "SELECT included_ms - broadcast_ms FROM transactions "
                               "WHERE nonce = 1"), 300);
    ck_assert_int_eq(q_int(&f, "SELECT first_seen_ms FROM transactions WHERE nonce = 1"),
                     900);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM transactions WHERE nonce = 2 AND "
                               "kind = 'offer' AND price = 120000 AND broadcast_ms = 600 "
                               "AND included_ms = 650 AND first_seen_ms = 700"), 1);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM transactions WHERE nonce = 3 AND "
                               "broadcast_ms IS NULL AND included_ms IS NULL"), 1);
    fx_done(&f);
}
END_TEST

/* A file from before the latency columns gets them on open; an old spill
 * line without them still reads. */
START_TEST(test_txlat_migration)
{
    fixture f;
    sqlite3 *h;
    memset(&f, 0, sizeof f);
    f.dir = tu_mkdtemp();
    snprintf(f.path, sizeof f.path, "%s/run.sqlite", f.dir);
    snprintf(f.spill, sizeof f.spill, "%s/db.spill", f.dir);
    ck_assert_int_eq(sqlite3_open(f.path, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE transactions (run_id TEXT NOT NULL "
        "DEFAULT '', txid TEXT NOT NULL DEFAULT '', block_hash TEXT NOT NULL DEFAULT '', "
        "kind TEXT NOT NULL DEFAULT '', from_pk TEXT NOT NULL DEFAULT '', to_pk TEXT NOT "
        "NULL DEFAULT '', nonce INTEGER NOT NULL DEFAULT 0, amount INTEGER NOT NULL "
        "DEFAULT 0, interval_no INTEGER NOT NULL DEFAULT 0, energy_wh INTEGER NOT NULL "
        "DEFAULT 0, price INTEGER NOT NULL DEFAULT 0, first_seen_ms INTEGER NOT NULL "
        "DEFAULT 0, PRIMARY KEY (run_id, txid))", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    FILE *sp = fopen(f.spill, "w");
    ck_assert_ptr_nonnull(sp);
    fprintf(sp, "3\t" RUN "\t%064x\t\toffer\t\t\t5\t0\t4\t500\t120000\t900\n", 77u);
    fclose(sp);
    fx_open_cfg(&f, 0);
    db_txlat l = { .run_id = RUN, .first_seen_ms = 1000, .broadcast_ms = 10,
                   .included_ms = 20 };
    snprintf(l.txid, sizeof l.txid, "%064x", 77u);
    ck_assert_int_eq(db_put_txlat(f.d, &l), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT included_ms FROM transactions WHERE nonce = 5 "
                               "AND kind = 'offer'"), 20);
    fx_done(&f);
}
END_TEST

/* A file from before the adversary columns gets them on open, strings
 * (adversary, banned_peers) as well as counters; an old row reads ''. */
START_TEST(test_adversary_migration)
{
    fixture f;
    sqlite3 *h;
    memset(&f, 0, sizeof f);
    f.dir = tu_mkdtemp();
    snprintf(f.path, sizeof f.path, "%s/run.sqlite", f.dir);
    snprintf(f.spill, sizeof f.spill, "%s/db.spill", f.dir);
    ck_assert_int_eq(sqlite3_open(f.path, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE nodes (run_id TEXT NOT NULL DEFAULT '', "
        "name TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '', pubkey TEXT NOT NULL "
        "DEFAULT '', host TEXT NOT NULL DEFAULT '', port INTEGER NOT NULL DEFAULT 0, "
        "balance INTEGER NOT NULL DEFAULT 0, reserved INTEGER NOT NULL DEFAULT 0, sold_wh "
        "INTEGER NOT NULL DEFAULT 0, bought_wh INTEGER NOT NULL DEFAULT 0, grid_import_wh "
        "INTEGER NOT NULL DEFAULT 0, grid_export_wh INTEGER NOT NULL DEFAULT 0, produced_wh "
        "INTEGER NOT NULL DEFAULT 0, consumed_wh INTEGER NOT NULL DEFAULT 0, height INTEGER "
        "NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, "
        "name)); INSERT INTO nodes (run_id, name) VALUES ('" RUN "', 'old');",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    fx_open_cfg(&f, 0);
    db_node n = { .run_id = RUN, .name = "p1", .adversary = "selfish,forger",
                  .banned_peers = "p2 p3", .rejected_blocks = 4, .adv_withheld = 9 };
    ck_assert_int_eq(db_put_node(f.d, &n), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM nodes WHERE name = 'old' AND "
                               "adversary = '' AND banned_peers = '' AND rejected_blocks = 0"), 1);
    ck_assert_int_eq(q_int(&f, "SELECT rejected_blocks + adv_withheld FROM nodes WHERE "
                               "adversary = 'selfish,forger' AND banned_peers = 'p2 p3'"), 13);
    fx_done(&f);
}
END_TEST

/* A file from before the settlement-time columns gets them on open (an
 * old interval row reads settled_ms NULL); settled_ms follows the best
 * chain both ways: set when the settlement is included, NULL again when a
 * reorg takes it out. */
START_TEST(test_settled_migration)
{
    fixture f;
    sqlite3 *h;
    memset(&f, 0, sizeof f);
    f.dir = tu_mkdtemp();
    snprintf(f.path, sizeof f.path, "%s/run.sqlite", f.dir);
    snprintf(f.spill, sizeof f.spill, "%s/db.spill", f.dir);
    ck_assert_int_eq(sqlite3_open(f.path, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE market_intervals (run_id TEXT NOT NULL "
        "DEFAULT '', interval_no INTEGER NOT NULL DEFAULT 0, clearing_price INTEGER NOT "
        "NULL DEFAULT 0, traded_wh INTEGER NOT NULL DEFAULT 0, grid_import_wh INTEGER NOT "
        "NULL DEFAULT 0, grid_export_wh INTEGER NOT NULL DEFAULT 0, matched_orders INTEGER "
        "NOT NULL DEFAULT 0, settle_txid TEXT NOT NULL DEFAULT '', block_hash TEXT NOT NULL "
        "DEFAULT '', PRIMARY KEY (run_id, interval_no));"
        "INSERT INTO market_intervals (run_id, interval_no) VALUES ('" RUN "', 1);",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    fx_open_cfg(&f, 0);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM market_intervals WHERE interval_no = 1 "
                               "AND settled_ms IS NULL AND closed_ms = 0"), 1);
    db_interval iv = { .run_id = RUN, .interval = 2, .closed_ms = 5000, .settled_ms = 7000 };
    ck_assert_int_eq(db_put_interval(f.d, &iv), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT settled_ms - closed_ms FROM market_intervals "
                               "WHERE interval_no = 2"), 2000);
    iv.settled_ms = 0;
    ck_assert_int_eq(db_put_interval(f.d, &iv), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM market_intervals WHERE interval_no = 2 "
                               "AND settled_ms IS NULL"), 1);
    db_node n = { .run_id = RUN, .name = "p1", .energy_paid = 3, .energy_received = 4,
                  .rewards = 5 };
    ck_assert_int_eq(db_put_node(f.d, &n), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT energy_paid * 100 + energy_received * 10 + rewards "
                               "FROM nodes"), 345);
    fx_done(&f);
}
END_TEST

/* The hash rate caps: NULL for uncapped, the number otherwise; a `nodes`
 * table from before the column gets it on open. */
START_TEST(test_hashrate_cap_columns)
{
    fixture f;
    sqlite3 *h;
    memset(&f, 0, sizeof f);
    f.dir = tu_mkdtemp();
    snprintf(f.path, sizeof f.path, "%s/run.sqlite", f.dir);
    snprintf(f.spill, sizeof f.spill, "%s/db.spill", f.dir);
    ck_assert_int_eq(sqlite3_open(f.path, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE nodes (run_id TEXT NOT NULL DEFAULT '', "
        "name TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '', pubkey TEXT NOT NULL "
        "DEFAULT '', host TEXT NOT NULL DEFAULT '', port INTEGER NOT NULL DEFAULT 0, "
        "balance INTEGER NOT NULL DEFAULT 0, reserved INTEGER NOT NULL DEFAULT 0, "
        "sold_wh INTEGER NOT NULL DEFAULT 0, bought_wh INTEGER NOT NULL DEFAULT 0, "
        "grid_import_wh INTEGER NOT NULL DEFAULT 0, grid_export_wh INTEGER NOT NULL "
        "DEFAULT 0, produced_wh INTEGER NOT NULL DEFAULT 0, consumed_wh INTEGER NOT NULL "
        "DEFAULT 0, height INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL "
        "DEFAULT 0, PRIMARY KEY (run_id, name))", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    fx_open_cfg(&f, 0);
    db_run r = mk_run();
    r.hashrate_cap = 1000000;
    db_node n1 = mk_node(1, 5000), n2 = mk_node(2, 5000);
    n1.hashrate_cap = 8000000;
    ck_assert_int_eq(db_put_run(f.d, &r), 0);
    ck_assert_int_eq(db_put_node(f.d, &n1), 0);
    ck_assert_int_eq(db_put_node(f.d, &n2), 0);
    flush_ok(f.d);
    ck_assert_int_eq(q_int(&f, "SELECT hashrate_cap FROM runs"), 1000000);
    ck_assert_int_eq(q_int(&f, "SELECT hashrate_cap FROM nodes WHERE name = 'p1'"), 8000000);
    ck_assert_int_eq(q_int(&f, "SELECT COUNT(*) FROM nodes WHERE name = 'p2' AND "
                               "hashrate_cap IS NULL"), 1);
    fx_done(&f);
}
END_TEST

Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("sqlite");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_schema);
    tcase_add_test(tc, test_every_table);
    tcase_add_test(tc, test_idempotent);
    tcase_add_test(tc, test_upsert_rules);
    tcase_add_test(tc, test_txlat_columns);
    tcase_add_test(tc, test_txlat_migration);
    tcase_add_test(tc, test_adversary_migration);
    tcase_add_test(tc, test_hashrate_cap_columns);
    tcase_add_test(tc, test_settled_migration);
    tcase_add_test(tc, test_invalid);
    tcase_add_test(tc, test_outage);
    tcase_add_test(tc, test_spill_order);
    tcase_add_test(tc, test_close_down_keeps_spill);
    tcase_add_test(tc, test_spill_corrupt_lines);
    tcase_add_test(tc, test_flush_thread);
    tcase_add_test(tc, test_concurrent_puts);
    suite_add_tcase(s, tc);
    return s;
}
