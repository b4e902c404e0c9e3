/* The adversaries' analysis (launcher/analyze_adv.h): Eyal and Sirer's
 * revenue curve, and the text drawn from a small store. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "launcher/analyze_adv.h"
#include "launcher/db/db.h"
#include "testutil.h"

static double es(double a, double g)
{
    return analyze_adv_es_revenue(a, g);
}

START_TEST(test_revenue_curve)
{
    /* The paper's thresholds: at alpha = (1-g)/(3-2g) the pool earns its
     * share exactly. */
    ck_assert_double_eq_tol(es(1.0 / 3, 0), 1.0 / 3, 1e-9);
    ck_assert_double_eq_tol(es(0.25, 0.5), 0.25, 1e-9);
    ck_assert_double_eq_tol(es(0.4, 0), 0.48369, 1e-4);
    ck_assert_double_eq_tol(es(0.45, 0), 0.65182, 1e-4);
    ck_assert_double_eq_tol(es(0.45, 1), 0.70940, 1e-4);
    ck_assert(es(0.2, 0) < 0.2);
    ck_assert(es(0.2, 1) > 0.2);
    ck_assert_double_eq_tol(es(0, 0.5), 0, 1e-12);
}
END_TEST

static void put_node(db *d, const char *name, const char *pk, const char *adv, int64_t cap,
                     int64_t rejected, const char *banned)
{
    db_node n;
    memset(&n, 0, sizeof n);
    snprintf(n.run_id, sizeof n.run_id, "r1");
    snprintf(n.name, sizeof n.name, "%s", name);
    snprintf(n.role, sizeof n.role, "prosumer");
    snprintf(n.pubkey, sizeof n.pubkey, "%s", pk);
    snprintf(n.host, sizeof n.host, "127.0.0.1");
    snprintf(n.adversary, sizeof n.adversary, "%s", adv);
    snprintf(n.banned_peers, sizeof n.banned_peers, "%s", banned);
    n.hashrate_cap = cap;
    n.rejected_blocks = rejected;
    ck_assert_int_eq(db_put_node(d, &n), 0);
}

static void put_blocks(db *d, const char *miner, int from, int count, int stale)
{
    for (int i = 0; i < count; i++) {
        db_block b;
        memset(&b, 0, sizeof b);
        snprintf(b.run_id, sizeof b.run_id, "r1");
        snprintf(b.hash, sizeof b.hash, "%s%04d%d", miner, from + i, stale);
        snprintf(b.miner, sizeof b.miner, "%s", miner);
        snprintf(b.seen_by, sizeof b.seen_by, "x");
        b.height = from + i;
        b.stale = stale;
        ck_assert_int_eq(db_put_block(d, &b), 0);
    }
}

START_TEST(test_report)
{
    char *dir = tu_mkdtemp(), path[512], err[DB_ERR_MAX], *text = NULL;
    size_t len = 0;
    db *d;
    db_reader *r;

    snprintf(path, sizeof path, "%s/run.db", dir);
    db_config cfg = { .sqlite_path = path };
    ck_assert_int_eq(db_open(&d, &cfg, err, sizeof err), 0);
    put_node(d, "op", "aa", "", 100, 1, "p1");
    put_node(d, "p1", "bb", "selfish,forger", 300, 0, "");
    put_node(d, "p2", "cc", "", 100, 2, "p1 p3");
    put_node(d, "p3", "dd", "", 100, 0, "");
    put_blocks(d, "bb", 1, 60, 0);
    put_blocks(d, "aa", 61, 40, 0);
    put_blocks(d, "cc", 5, 7, 1);
    ck_assert_int_eq(db_close(d, err, sizeof err), 0);

    ck_assert_int_eq(db_reader_open(&r, &cfg, err, sizeof err), 0);
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(analyze_adv_run(r, "r1", f), 0);
    fclose(f);
    db_reader_close(r);
    ck_assert_msg(strstr(text, "p1: selfish,forger"), "%s", text);
    ck_assert_msg(strstr(text, "hash share (alpha)        0.5000 (from the --hashrate caps)"),
                  "%s", text);
    ck_assert_msg(strstr(text, "best-chain blocks         60 of 100 = 0.6000 (above"), "%s",
                  text);
    ck_assert_msg(strstr(text, "banned by                     2 honest node(s): op p2"),
                  "%s", text);
    ck_assert_msg(strstr(text, "  p2            2      0  p1 p3"), "%s", text);
    free(text);
    tu_rmtree(dir);
}
END_TEST

Suite *launcher_analyze_adv_suite(void)
{
    Suite *s = suite_create("launcher_analyze_adv");
    TCase *tc = tcase_create("analysis");
    tcase_add_test(tc, test_revenue_curve);
    tcase_add_test(tc, test_report);
    suite_add_tcase(s, tc);
    return s;
}
