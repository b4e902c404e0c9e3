/*
 * dbdrive - drives the db module for tests/integration/test_db_mariadb.sh.
 *
 *   dbdrive [conn options] open
 *       db_open then db_close; on failure prints db's message and exits 2.
 *   dbdrive [conn options] fill RUN_ID
 *       one row in every table, each put twice, flushed twice; prints the
 *       distinct rows submitted per table.
 *   dbdrive [conn options] stream RUN_ID SECONDS
 *       puts rows for SECONDS (about 700 rows a second, blocks re-put as
 *       stale, nodes upserted), calling db_flush once a second as the
 *       launcher does; then flushes until the backlog is empty (at most 120
 *       s) and prints "submitted TABLE N" per table.  Each change of the
 *       server's state prints "t=Ns up|down backlog=N ...", while draining
 *       too (a loaded machine may bring the server back after SECONDS).
 *
 * Connection options: --host H --port P --user U --name DB --spill PATH
 * --sqlite PATH --mem-rows N; the password comes from $DBDRIVE_PASSWORD so
 * it never shows in ps.  Exit: 0 ok, 1 failure, 2 db_open refused.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "launcher/db/db.h"
#include "common/base/clock.h"
#include "common/base/err.h"

#define NODES 5

static void hex_of(char out[DB_HEX_MAX], unsigned tag, unsigned n)
{
    snprintf(out, DB_HEX_MAX, "%08x%08x%048x", tag, n, 0u);
}

typedef struct {
    uint64_t runs, nodes, blocks, txs, trades, intervals, stats;
} counts;

static int check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "dbdrive: %s: %s\n", what, sg_strerror(rc));
        exit(1);
    }
    return rc;
}

/* Iteration i's rows; the same i gives the same rows. */
static void put_iteration(db *d, const char *run, unsigned i, counts *c)
{
    db_block b = { .height = i, .time_s = 1795570200 + i, .n_txs = 2,
                   .bits = 0x1f0fffff, .nonce = i * 7, .first_seen_ms = 1000 + i };
    snprintf(b.run_id, sizeof b.run_id, "%s", run);
    hex_of(b.hash, 0xb0, i);
    hex_of(b.prev_hash, 0xb0, i - 1);
    hex_of(b.miner, 0xaa, i % NODES);
    snprintf(b.seen_by, sizeof b.seen_by, "p%u", i % NODES);
    check(db_put_block(d, &b), "put block");
    b.stale = i % 2;  /* the same block re-put: flagged, not duplicated */
    b.first_seen_ms += 5;
    check(db_put_block(d, &b), "put block again");

    db_tx t = { .nonce = i, .interval = i, .energy_wh = 100 + i, .price = 90000,
                .first_seen_ms = 900 + i, .kind = "offer" };
    snprintf(t.run_id, sizeof t.run_id, "%s", run);
    hex_of(t.txid, 0x70, i);
    hex_of(t.from_pk, 0xaa, i % NODES);
    memcpy(t.block_hash, b.hash, sizeof b.hash);
    check(db_put_tx(d, &t), "put tx");

    db_trade tr = { .interval = i, .traded_wh = 100, .trade_price = 90000,
                    .grid_wh = 5, .amount = 9000, .side = "sell" };
    snprintf(tr.run_id, sizeof tr.run_id, "%s", run);
    hex_of(tr.settle_txid, 0x5e, i);
    memcpy(tr.order_txid, t.txid, sizeof t.txid);
    snprintf(tr.node_name, sizeof tr.node_name, "p%u", i % NODES);
    check(db_put_trade(d, &tr), "put trade");

    db_interval iv = { .interval = i, .clearing_price = 90000, .traded_wh = 100,
                       .matched_orders = 1 };
    snprintf(iv.run_id, sizeof iv.run_id, "%s", run);
    memcpy(iv.settle_txid, tr.settle_txid, sizeof tr.settle_txid);
    memcpy(iv.block_hash, b.hash, sizeof b.hash);
    check(db_put_interval(d, &iv), "put interval");

    for (unsigned n = 0; n < NODES; n++) {
        db_node_stat s = { .t_ms = 1000 + i, .height = i, .peers = 4, .hashrate = 1000 };
        snprintf(s.run_id, sizeof s.run_id, "%s", run);
        snprintf(s.node, sizeof s.node, "p%u", n);
        check(db_put_node_stat(d, &s), "put stat");
        db_node nd = { .balance = i, .port = 7000 + n, .height = i,
                       .updated_ms = 1000 + i, .role = "prosumer" };
        snprintf(nd.run_id, sizeof nd.run_id, "%s", run);
        snprintf(nd.name, sizeof nd.name, "p%u", n);
        hex_of(nd.pubkey, 0xaa, n);
        check(db_put_node(d, &nd), "put node");
    }
    c->blocks++;
    c->txs++;
    c->trades++;
    c->intervals++;
    c->stats += NODES;
    c->nodes = NODES;
}

static void put_run(db *d, const char *run, counts *c)
{
    db_run r = { .started_at_s = 1795570200, .seed = 1, .prosumers = 3,
                 .consumers = 2, .operators = 1, .difficulty = 2,
                 .params = "{\"driver\":\"dbdrive\",\"quote\":\"it's\\\\\"}",
                 .market_rule = "uniform" };
    snprintf(r.run_id, sizeof r.run_id, "%s", run);
    check(db_put_run(d, &r), "put run");
    c->runs = 1;
}

static void print_counts(const counts *c)
{
    printf("submitted runs %llu\nsubmitted nodes %llu\nsubmitted blocks %llu\n"
           "submitted transactions %llu\nsubmitted trades %llu\n"
           "submitted market_intervals %llu\nsubmitted node_stats %llu\n",
           (unsigned long long)c->runs, (unsigned long long)c->nodes,
           (unsigned long long)c->blocks, (unsigned long long)c->txs,
           (unsigned long long)c->trades, (unsigned long long)c->intervals,
           (unsigned long long)c->stats);
}

/* The server's state as the stream sees it: a line on each change. */
typedef struct {
    int64_t start;
    int was_up;
} updown;

static void note_state(db *d, updown *u, const char *err)
{
    if (!u || db_is_up(d) == u->was_up)
        return;
    u->was_up = db_is_up(d);
    printf("t=%llds %s backlog=%zu %s\n", (long long)((clock_mono_ms() - u->start) / 1000),
           u->was_up ? "up" : "down", db_backlog(d), err);
    fflush(stdout);
}

/* Flushes until nothing waits; 0 or the last error.  u (may be NULL)
 * reports the server coming back meanwhile. */
static int drain(db *d, int seconds, updown *u)
{
    char err[DB_ERR_MAX] = "";
    int rc = 0;
    for (int64_t end = clock_mono_ms() + seconds * 1000; clock_mono_ms() < end;) {
        err[0] = '\0';
        rc = db_flush(d, err, sizeof err);
        note_state(d, u, err);
        if (rc == 0 && db_backlog(d) == 0)
            return 0;
        usleep(200 * 1000);
    }
    fprintf(stderr, "dbdrive: backlog %zu not drained: %s\n", db_backlog(d), err);
    return rc ? rc : SG_ETIMEOUT;
}

static int stream(db *d, const char *run, int seconds, counts *c)
{
    char err[DB_ERR_MAX];
    int64_t start = clock_mono_ms(), next_flush = start + 1000, worst = 0;
    unsigned i = 1;
    updown u = { start, 1 };

    put_run(d, run, c);
    while (clock_mono_ms() - start < seconds * 1000LL) {
        put_iteration(d, run, i++, c);
        if (clock_mono_ms() >= next_flush) {
            int64_t t0 = clock_mono_ms();
            err[0] = '\0';
            db_flush(d, err, sizeof err);
            int64_t took = clock_mono_ms() - t0;
            worst = took > worst ? took : worst;
            next_flush = clock_mono_ms() + 1000;
            note_state(d, &u, err);
        }
        usleep(10 * 1000);
    }
    printf("longest flush %lld ms\n", (long long)worst);
    return drain(d, 120, &u);
}

static int usage(void)
{
    fprintf(stderr, "usage: dbdrive [--host H --port P --user U --name DB --spill F "
                    "--sqlite F --mem-rows N] open | fill RUN | stream RUN SECONDS\n");
    return 1;
}

int main(int argc, char **argv)
{
    db_config cfg = { .password = getenv("DBDRIVE_PASSWORD") };
    char err[DB_ERR_MAX] = "";
    counts c = { 0 };
    db *d;
    int i = 1, rc;

    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--host")) cfg.host = v;
        else if (!strcmp(o, "--port")) cfg.port = (unsigned)atoi(v);
        else if (!strcmp(o, "--user")) cfg.user = v;
        else if (!strcmp(o, "--name")) cfg.name = v;
        else if (!strcmp(o, "--spill")) cfg.spill_path = v;
        else if (!strcmp(o, "--sqlite")) cfg.sqlite_path = v;
        else if (!strcmp(o, "--mem-rows")) cfg.mem_rows = (size_t)atol(v);
        else return usage();
    }
    if (i >= argc)
        return usage();
    const char *mode = argv[i];
    if ((rc = db_open(&d, &cfg, err, sizeof err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    printf("backend %s\n", db_backend(d));
    if (!strcmp(mode, "fill") && i + 1 < argc) {
        put_run(d, argv[i + 1], &c);
        for (int pass = 0; pass < 2; pass++) {
            put_iteration(d, argv[i + 1], 1, &c);
            put_iteration(d, argv[i + 1], 1, &c);
            c.blocks = c.txs = c.trades = c.intervals = 1;
            c.stats = NODES;
            check(drain(d, 30, NULL), "flush");
        }
        print_counts(&c);
    } else if (!strcmp(mode, "stream") && i + 2 < argc) {
        rc = stream(d, argv[i + 1], atoi(argv[i + 2]), &c);
        print_counts(&c);
        if (rc != 0) {
            db_close(d, err, sizeof err);
            fprintf(stderr, "dbdrive: %s\n", err);
            return 1;
        }
    } else if (strcmp(mode, "open") != 0) {
        db_close(d, NULL, 0);
        return usage();
    }
    printf("written %llu\n", (unsigned long long)db_written(d));
    if ((rc = db_close(d, err, sizeof err)) != 0 || err[0] != '\0') {
        fprintf(stderr, "dbdrive: close: %s\n", err);
        return 1;
    }
    return 0;
}
