/* The transaction-side adversaries' sections (launcher/analyze_adv_tx.h)
 * over a store made here: two runs of one seed, one with a manipulator,
 * a double spender and a spammer. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/analyze_adv_tx.h"
#include "launcher/db/db.h"
#include "testutil.h"

#define PK_OP "0000000000000000000000000000000000000000000000000000000000000001"
#define PK_M "000000000000000000000000000000000000000000000000000000000000000a"
#define PK_D "000000000000000000000000000000000000000000000000000000000000000d"
#define PK_S "000000000000000000000000000000000000000000000000000000000000000e"
#define PK_H "000000000000000000000000000000000000000000000000000000000000000f"
#define PK_X "00000000000000000000000000000000000000000000000000000000000000ff"

static void put_run(db *d, const char *id)
{
    db_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.run_id, sizeof r.run_id, "%s", id);
    r.seed = 2;
    ck_assert_int_eq(db_put_run(d, &r), 0);
}

static void put_node(db *d, const char *run, const char *name, const char *role,
                     const char *pk, const char *adv, const char *banned, int64_t x)
{
    db_node n;
    memset(&n, 0, sizeof n);
    snprintf(n.run_id, sizeof n.run_id, "%s", run);
    snprintf(n.name, sizeof n.name, "%s", name);
    snprintf(n.role, sizeof n.role, "%s", role);
    snprintf(n.pubkey, sizeof n.pubkey, "%s", pk);
    snprintf(n.adversary, sizeof n.adversary, "%s", adv);
    snprintf(n.banned_peers, sizeof n.banned_peers, "%s", banned);
    n.adv_ds_pairs = n.adv_manip_orders = n.adv_spam_valid = x;
    n.adv_ds_won_a = n.adv_ds_won_b = 1;
    n.adv_spam_malformed = 2;
    n.rejected_txs = banned[0] ? 1 : 0;
    ck_assert_int_eq(db_put_node(d, &n), 0);
}

static void put_tx(db *d, const char *txid, const char *block, const char *kind,
                   const char *from, const char *to, int64_t nonce, int64_t amount,
                   int64_t bcast, int64_t incl)
{
    db_tx t;
    memset(&t, 0, sizeof t);
    snprintf(t.run_id, sizeof t.run_id, "r1");
    snprintf(t.txid, sizeof t.txid, "%s", txid);
    snprintf(t.block_hash, sizeof t.block_hash, "%s", block);
    snprintf(t.kind, sizeof t.kind, "%s", kind);
    snprintf(t.from_pk, sizeof t.from_pk, "%s", from);
    snprintf(t.to_pk, sizeof t.to_pk, "%s", to);
    t.nonce = nonce;
    t.amount = amount;
    t.broadcast_ms = bcast;
    t.included_ms = incl;
    ck_assert_int_eq(db_put_tx(d, &t), 0);
}

static void put_interval(db *d, const char *run, int64_t k, int64_t price)
{
    db_interval iv;
    memset(&iv, 0, sizeof iv);
    snprintf(iv.run_id, sizeof iv.run_id, "%s", run);
    iv.interval = k;
    iv.clearing_price = price;
    iv.traded_wh = 100;
    iv.settled_ms = 1000 + k;
    ck_assert_int_eq(db_put_interval(d, &iv), 0);
}

static void make_store(const char *path)
{
    char err[DB_ERR_MAX];
    db_config cfg = { .sqlite_path = path };
    db *d;
    static const int64_t base[] = { 150000, 160000, 140000, 150000, 200000 };

    ck_assert_int_eq(db_open(&d, &cfg, err, sizeof err), 0);
    put_run(d, "r0");
    put_run(d, "r1");
    put_node(d, "r0", "op", "operator", PK_OP, "", "", 0);
    put_node(d, "r1", "op", "operator", PK_OP, "", "s", 0);
    put_node(d, "r1", "m", "prosumer", PK_M, "manipulator", "", 7);
    put_node(d, "r1", "d", "consumer", PK_D, "double-spender", "", 3);
    put_node(d, "r1", "s", "prosumer", PK_S, "spammer", "", 5);
    put_node(d, "r1", "h", "consumer", PK_H, "", "s", 0);
    for (int k = 1; k <= 5; k++) {
        put_interval(d, "r0", k, base[k - 1]);
        if (k <= 4)
            put_interval(d, "r1", k, 80000);
    }
    /* Two pairs decided: A to a node, B elsewhere; a third sent, lost. */
    put_tx(d, "t1", "b1", "transfer", PK_D, PK_H, 5, 1000000, 1000, 1500);
    put_tx(d, "t2", "b2", "transfer", PK_D, PK_X, 7, 1000000, 2000, 4000);
    put_tx(d, "t3", "", "transfer", PK_D, PK_H, 9, 1000000, 0, 0);
    /* Spam in two blocks, an operator's settlement, a coinbase. */
    put_tx(d, "s1", "b1", "transfer", PK_S, PK_S, 0, 1, 0, 0);
    put_tx(d, "s2", "b1", "transfer", PK_S, PK_S, 1, 1, 0, 0);
    put_tx(d, "s3", "b2", "transfer", PK_S, PK_S, 2, 1, 0, 0);
    put_tx(d, "st", "b2", "settlement", PK_OP, "", 0, 0, 0, 0);
    put_tx(d, "cb", "b2", "coinbase", "", PK_OP, 2, 50, 0, 0);
    ck_assert_int_eq(db_close(d, err, sizeof err), 0);
}

typedef int (*section_fn)(db_reader *, const char *, const char *, const char *, FILE *);

static char *section(const char *path, section_fn fn, const char *name, const char *pk)
{
    char err[DB_ERR_MAX], *text = NULL;
    size_t len = 0;
    db_config cfg = { .sqlite_path = path };
    db_reader *r;

    ck_assert_int_eq(db_reader_open(&r, &cfg, err, sizeof err), 0);
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(fn(r, "r1", name, pk, f), 0);
    fclose(f);
    db_reader_close(r);
    return text;
}

#define HAS(t, s) ck_assert_msg(strstr((t), (s)) != NULL, "missing '%s' in:\n%s", (s), (t))

START_TEST(test_sections)
{
    char *dir = tu_mkdtemp(), path[512], *t;
    snprintf(path, sizeof path, "%s/run.db", dir);
    make_store(path);

    t = section(path, analyze_adv_tx_double_spender, "d", PK_D);
    HAS(t, "conflicting pairs sent    3; decided for the merchant (A) 1, for its colluder (B) 1");
    HAS(t, "2 transfer(s) over 2 nonce(s) (never both of a pair); 1 to a node (A), 1 elsewhere");
    HAS(t, "avg 1250 ms, max 2000 ms (2 measured)");
    free(t);

    t = section(path, analyze_adv_tx_manipulator, "m", PK_M);
    HAS(t, "wash orders signed        7");
    HAS(t, "avg 80000, min 80000 over 4 interval(s)");
    HAS(t, "avg 160000 over 5 interval(s) of 1 run(s): shift -80000");
    HAS(t, "4 pair(s): avg 80000 against 150000 (-70000); lower in 4, higher in 0");
    free(t);

    t = section(path, analyze_adv_tx_spammer, "s", PK_S);
    HAS(t, "valid spam sent           5; on the best chain 3 in 2 block(s), 50.0%");
    HAS(t, "malformed sent            2");
    HAS(t, "banned by                 2 honest node(s): h op");
    HAS(t, "market intervals settled  4 (the last: 4)");
    free(t);

    t = section(path, analyze_adv_tx_forger, "s", PK_S);
    HAS(t, "settlements not from the operator in any block  0");
    free(t);
    tu_rmtree(dir);
}
END_TEST

/* A name or key that is not what the launcher writes never reaches SQL. */
START_TEST(test_odd_names_skipped)
{
    char *dir = tu_mkdtemp(), path[512], *t;
    snprintf(path, sizeof path, "%s/run.db", dir);
    make_store(path);
    t = section(path, analyze_adv_tx_spammer, "s' OR 1=1 --", PK_S);
    ck_assert_str_eq(t, "");
    free(t);
    t = section(path, analyze_adv_tx_spammer, "s", "zz");
    ck_assert_str_eq(t, "");
    free(t);
    tu_rmtree(dir);
}
END_TEST

Suite *launcher_analyze_adv_tx_suite(void)
{
    Suite *s = suite_create("launcher_analyze_adv_tx");
    TCase *tc = tcase_create("sections");
    tcase_add_test(tc, test_sections);
    tcase_add_test(tc, test_odd_names_skipped);
    suite_add_tcase(s, tc);
    return s;
}
