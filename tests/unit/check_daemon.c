/* Daemon options, key files and the genesis tool (common/daemon.h). */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/core/adv_role.h"
#include "common/daemon/daemon.h"
#include "common/base/err.h"
#include "common/core/adv_role.h"
#include "common/core/hash.h"
#include "common/link/keys.h"
#include "common/daemon/log.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "testutil.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int parse(daemon_opts *o, int role, int argc, char **argv, char *err)
{
    return daemon_parse_opts(o, "sgnode", role, argc, argv, err, 256);
}

START_TEST(test_opts_full)
{
    char *argv[] = { "sgnode", "--role", "consumer", "--listen", "127.0.0.1:9000",
                     "--peer", "10.0.0.1:1", "--peer=[::1]:2", "--data-dir", "d",
                     "--key", "k", "--cluster-key", "ck", "--genesis=g", "--log", "l",
                     "--log-level", "debug", "--name", "alice", "--mining-threads", "3",
                     "--impl", "generic", "--no-mine", "--use-gpu", "--no-discover",
                     "--reconnect-max-ms", "1500", "--ban-secs", "30", "--stall-ms", "900",
                     "--stop-on-stdin-eof", "--max-block-txs=1001" };
    daemon_opts o;
    char err[256] = "";

    ck_assert_int_eq(parse(&o, 0, ARGC(argv), argv, err), 0);
    ck_assert_int_eq(o.role, ROLE_CONSUMER);
    ck_assert_str_eq(o.listen, "127.0.0.1:9000");
    ck_assert_uint_eq(o.n_peers, 2);
    ck_assert_str_eq(o.peers[0], "10.0.0.1:1");
    ck_assert_str_eq(o.peers[1], "[::1]:2");
    ck_assert_str_eq(o.data_dir, "d");
    ck_assert_str_eq(o.key_path, "k");
    ck_assert_str_eq(o.cluster_key_path, "ck");
    ck_assert_str_eq(o.genesis_path, "g");
    ck_assert_str_eq(o.log_path, "l");
    ck_assert_int_eq(o.log_level, LOG_LEVEL_DEBUG);
    ck_assert_str_eq(o.name, "alice");
    ck_assert_uint_eq(o.mining_threads, 3);
    ck_assert_str_eq(o.impl, "generic");
    ck_assert_int_eq(o.no_mine, 1);
    ck_assert_int_eq(o.use_gpu, 1);
    ck_assert_int_eq(o.no_discover, 1);
    ck_assert_uint_eq(o.reconnect_max_ms, 1500);
    ck_assert_uint_eq(o.ban_secs, 30);
    ck_assert_uint_eq(o.stall_ms, 900);
    ck_assert_int_eq(o.stop_on_stdin_eof, 1);
    ck_assert_uint_eq(o.max_block_txs, 1001);
}
END_TEST

START_TEST(test_opts_defaults)
{
    char *argv[] = { "sgoperator", "--data-dir", "d", "--cluster-key", "ck",
                     "--genesis", "g" };
    daemon_opts o;
    char err[256] = "";

    ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(argv), argv, err), 0);
    ck_assert_int_eq(o.role, ROLE_OPERATOR);
    ck_assert_str_eq(o.listen, DAEMON_DEFAULT_LISTEN);
    ck_assert_uint_eq(o.n_peers, 0);
    ck_assert_ptr_null(o.key_path);
    ck_assert_ptr_null(o.log_path);
    ck_assert_int_eq(o.log_level, LOG_LEVEL_INFO);
    ck_assert_uint_eq(o.mining_threads, 1);
    ck_assert_str_eq(o.impl, "auto");
    ck_assert_int_eq(o.no_mine, 0);
    ck_assert_uint_eq(o.max_block_txs, DAEMON_TEMPLATE_TXS);
}
END_TEST

/* The template cap's range is the rules' own: 1 (the coinbase alone) up to
 * PROTO_BLOCK_MAX_TXS; the value counts the coinbase. */
START_TEST(test_opts_max_block_txs)
{
    static const char *const ok[] = { "1", "1001", "20000" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *argv[] = { "sgoperator", "--data-dir", "d", "--cluster-key", "ck",
                         "--genesis", "g", "--max-block-txs", (char *)ok[i] };
        daemon_opts o;
        char err[256] = "";
        ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(argv), argv, err), 0);
        ck_assert_uint_eq(o.max_block_txs, strtoul(ok[i], NULL, 10));
    }
    ck_assert_int_eq(PROTO_BLOCK_MAX_TXS, 20000);
}
END_TEST

/* --hashrate: a cap in hashes/s with k/M/G, 0 (the default) for none. */
START_TEST(test_opts_hashrate)
{
    static const struct { const char *v; uint64_t want; } ok[] = {
        { "1.5M", 1500000 }, { "250k", 250000 }, { "0", 0 }, { "1000G", 1000000000000ull },
    };
    daemon_opts o;
    char err[256] = "";
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *argv[] = { "sgoperator", "--data-dir", "d", "--cluster-key", "ck",
                         "--genesis", "g", "--hashrate", (char *)ok[i].v };
        ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(argv), argv, err), 0);
        ck_assert_uint_eq(o.hashrate, ok[i].want);
    }
    char *dflt[] = { "sgoperator", "--data-dir", "d", "--cluster-key", "ck", "--genesis", "g" };
    ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(dflt), dflt, err), 0);
    ck_assert_uint_eq(o.hashrate, 0);
    static const char *const bad[] = { "fast", "1.5", "2m", "-1", "1001G", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = { "sgoperator", "--data-dir", "d", "--cluster-key", "ck",
                         "--genesis", "g", "--hashrate", (char *)bad[i] };
        ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(argv), argv, err), SG_EINVAL);
        ck_assert_msg(strncmp(err, "--hashrate expects hashes per second", 36) == 0, "%s", err);
    }
}
END_TEST

/* The transaction-side adversaries' options: defaults, values, and the
 * operator refused the roles that are households' behaviour. */
START_TEST(test_opts_adv_tx)
{
    daemon_opts o;
    char err[256] = "";
    char *dflt[] = { "sgnode", "--role", "prosumer", "--data-dir", "d", "--cluster-key", "ck",
                     "--genesis", "g" };
    ck_assert_int_eq(parse(&o, 0, ARGC(dflt), dflt, err), 0);
    ck_assert_uint_eq(o.adversary, 0);
    ck_assert_uint_eq(o.spam_rate, DAEMON_SPAM_RATE);
    ck_assert_uint_eq(o.spam_malformed_after_s, DAEMON_SPAM_MALFORMED_AFTER_S);
    ck_assert_uint_eq(o.double_spend_every_s, DAEMON_DOUBLE_SPEND_EVERY_S);
    char *set[] = { "sgnode", "--role", "consumer", "--data-dir", "d", "--cluster-key", "ck",
                    "--genesis", "g", "--adversary", "spammer,double-spender", "--spam-rate", "50",
                    "--spam-malformed-after", "0", "--double-spend-every=3" };
    ck_assert_int_eq(parse(&o, 0, ARGC(set), set, err), 0);
    ck_assert_uint_eq(o.adversary, ADV_SPAMMER | ADV_DOUBLE_SPENDER);
    ck_assert_uint_eq(o.spam_rate, 50);
    ck_assert_uint_eq(o.spam_malformed_after_s, 0);
    ck_assert_uint_eq(o.double_spend_every_s, 3);
    char *zero[] = { "sgnode", "--role", "consumer", "--data-dir", "d", "--cluster-key", "ck",
                     "--genesis", "g", "--double-spend-every", "0" };
    ck_assert_int_eq(parse(&o, 0, ARGC(zero), zero, err), SG_EINVAL);
    ck_assert_msg(strstr(err, "--double-spend-every expects seconds") != NULL, "%s", err);
    char *op[] = { "sgoperator", "--data-dir", "d", "--cluster-key", "ck", "--genesis", "g",
                   "--adversary", "manipulator" };
    ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(op), op, err), SG_EINVAL);
    ck_assert_msg(strstr(err, "not the operator") != NULL, "%s", err);
}
END_TEST

/* Each bad command line fails with a message naming the option. */
START_TEST(test_opts_errors)
{
    static const struct { const char *args[4]; const char *msg; } cases[] = {
        { { "--listen", "abc" }, "--listen expects HOST:PORT (or 'none'), got 'abc'" },
        { { "--listen", "h:99999" }, "--listen expects HOST:PORT (or 'none'), got 'h:99999'" },
        { { "--peer", "nohost" }, "--peer expects HOST:PORT, got 'nohost'" },
        { { "--role", "miner" }, "--role expects prosumer or consumer, got 'miner'" },
        { { "--log-level", "loud" }, "--log-level expects debug, info, warn or error, got 'loud'" },
        { { "--mining-threads", "0" }, "--mining-threads expects a thread count from 1 to 256, got '0'" },
        { { "--mining-threads", "2x" }, "--mining-threads expects a thread count from 1 to 256, got '2x'" },
        { { "--max-block-txs", "0" }, "--max-block-txs expects a transaction count from 1 to 20000 (coinbase included), got '0'" },
        { { "--max-block-txs", "20001" }, "--max-block-txs expects a transaction count from 1 to 20000 (coinbase included), got '20001'" },
        { { "--max-block-txs", "1k" }, "--max-block-txs expects a transaction count from 1 to 20000 (coinbase included), got '1k'" },
        { { "--impl", "quantum" }, "--impl expects auto, avx512, avx2, shani, generic, openssl or cuda, got 'quantum'" },
        { { "--bogus", "1" }, "unknown option '--bogus' (see --help)" },
        { { "--no-mine=1" }, "--no-mine takes no value" },
        { { "stray" }, "unexpected argument 'stray' (see --help)" },
        { { "--log" }, "--log expects a value" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[16] = { "sgnode", "--role", "prosumer", "--data-dir", "d",
                           "--cluster-key", "c", "--genesis", "g" };
        int argc = 9;
        daemon_opts o;
        char err[256] = "";
        for (int k = 0; k < 4 && cases[i].args[k]; k++)
            argv[argc++] = (char *)cases[i].args[k];
        ck_assert_int_eq(parse(&o, 0, argc, argv, err), SG_EINVAL);
        ck_assert_str_eq(err, cases[i].msg);
    }
}
END_TEST

START_TEST(test_opts_required)
{
    char *no_role[] = { "sgnode", "--data-dir", "d", "--cluster-key", "c", "--genesis", "g" };
    char *no_ck[] = { "sgnode", "--role", "prosumer", "--data-dir", "d", "--genesis", "g" };
    char *op_role[] = { "sgoperator", "--role", "prosumer" };
    daemon_opts o;
    char err[256] = "";

    ck_assert_int_eq(parse(&o, 0, ARGC(no_role), no_role, err), SG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--role is required"));
    ck_assert_int_eq(parse(&o, 0, ARGC(no_ck), no_ck, err), SG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "cluster-key --out FILE"));
    ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(op_role), op_role, err), SG_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--role is not an option of sgnode"));
}
END_TEST

static char *path_in(const char *dir, const char *name)
{
    char *p;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

START_TEST(test_identity_file)
{
    char *dir = tu_mkdtemp();
    char *path = path_in(dir, "id.key");
    uint8_t sk[64], pk[32], sk2[64], pk2[32];
    int created = 0;
    struct stat st;

    ck_assert_int_eq(keys_identity_load(path, sk, pk, &created), 0);
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, 129);   /* 128 hex digits and a newline */
    ck_assert_mem_eq(pk, sk + 32, 32);

    ck_assert_int_eq(keys_identity_load(path, sk2, pk2, &created), 0);
    ck_assert_int_eq(created, 0);
    ck_assert_mem_eq(sk, sk2, 64);
    ck_assert_mem_eq(pk, pk2, 64 / 2);
    /* Creating over an existing key is refused, never overwritten. */
    ck_assert_int_eq(keys_identity_create(path, sk2, pk2), SG_EIO);
    ck_assert_int_eq(keys_identity_load(path, sk2, pk2, &created), 0);
    ck_assert_mem_eq(sk, sk2, 64);
    free(path);
    tu_rmtree(dir);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_identity_malformed)
{
    char *dir = tu_mkdtemp();
    char *path = path_in(dir, "bad.key");
    uint8_t sk[64], pk[32];
    char hex[129];
    int created;

    write_file(path, "abcd\n");
    ck_assert_int_eq(keys_identity_load(path, sk, pk, &created), SG_EINVAL);
    /* Right length, but the public half is not the seed's. */
    memset(hex, 'a', 128);
    hex[128] = '\0';
    write_file(path, hex);
    ck_assert_int_eq(keys_identity_load(path, sk, pk, &created), SG_EINVAL);
    ck_assert_int_eq(created, 0);
    free(path);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_cluster_key_file)
{
    char *dir = tu_mkdtemp();
    char *path = path_in(dir, "cluster.key");
    char *missing = path_in(dir, "nope.key");
    uint8_t k[32], k2[32];
    struct stat st;

    ck_assert_int_eq(keys_cluster_load(missing, k), SG_EIO);
    ck_assert_int_eq(keys_cluster_create(path, k), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, 65);
    ck_assert_int_eq(keys_cluster_load(path, k2), 0);
    ck_assert_mem_eq(k, k2, 32);
    ck_assert_int_eq(keys_cluster_create(path, k2), SG_EIO);
    write_file(path, "00112233\n");
    ck_assert_int_eq(keys_cluster_load(path, k2), SG_EINVAL);
    free(path);
    free(missing);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_genesis_tool)
{
    char *dir = tu_mkdtemp();
    char *out = path_in(dir, "genesis.txt");
    char op[65], a1[65];
    char alloc[80];
    chain_params p;
    uint32_t bits;
    int bad_line = 0;

    memset(op, '1', 64);
    op[64] = '\0';
    memset(a1, 'a', 64);
    a1[64] = '\0';
    snprintf(alloc, sizeof alloc, "%s=777", a1);
    char *argv[] = { "genesis", "--out", out, "--operator-key", op, "--difficulty", "3",
                     "--alloc", alloc, "--time", "1700000000" };
    ck_assert_int_eq(daemon_tool_genesis("sgnode", ARGC(argv), argv), 0);
    ck_assert_int_eq(params_load(out, &p, &bad_line), 0);
    ck_assert_int_eq(pow_difficulty_to_bits(3, &bits), 0);
    ck_assert_uint_eq(p.bits, bits);
    ck_assert_uint_eq(p.genesis_time, 1700000000);
    ck_assert_uint_eq(p.n_allocs, 1);
    ck_assert_uint_eq(p.allocs[0].balance, 777);
    ck_assert_uint_eq(p.allocs[0].pubkey[0], 0xaa);
    ck_assert_uint_eq(p.operator_key[31], 0x11);
    params_free(&p);

    char *bad[] = { "genesis", "--out", out, "--operator-key", "xyz" };
    ck_assert_int_eq(daemon_tool_genesis("sgnode", ARGC(bad), bad), 2);
    char *no_op[] = { "genesis", "--out", out };
    ck_assert_int_eq(daemon_tool_genesis("sgnode", ARGC(no_op), no_op), 2);
    free(out);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_opts_market)
{
    char *argv[] = { "sgnode", "--role", "prosumer", "--data-dir", "d", "--cluster-key", "ck",
                     "--genesis", "g", "--battery-kwh", "13.5", "--pv-profile", "pv.csv",
                     "--load-profile=load.csv" };
    daemon_opts o;
    char err[256] = "";

    ck_assert_int_eq(parse(&o, 0, ARGC(argv), argv, err), 0);
    ck_assert_uint_eq(o.battery_wh, 13500);
    ck_assert_str_eq(o.pv_profile_path, "pv.csv");
    ck_assert_str_eq(o.load_profile_path, "load.csv");
    argv[10] = "0.001";
    ck_assert_int_eq(parse(&o, 0, ARGC(argv), argv, err), 0);
    ck_assert_uint_eq(o.battery_wh, 1);
    argv[10] = "7";
    ck_assert_int_eq(parse(&o, 0, ARGC(argv), argv, err), 0);
    ck_assert_uint_eq(o.battery_wh, 7000);

    static const char *const bad_kwh[] = { "", "x", "1.", ".5", "1.2345", "-1", "1000001",
                                           "3kWh" };
    for (size_t i = 0; i < sizeof bad_kwh / sizeof bad_kwh[0]; i++) {
        argv[10] = (char *)bad_kwh[i];
        ck_assert_int_eq(parse(&o, 0, ARGC(argv), argv, err), SG_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "--battery-kwh expects"));
    }
    /* A consumer has no PV or battery; the operator no household at all. */
    char *cons[] = { "sgnode", "--role", "consumer", "--data-dir", "d", "--cluster-key", "ck",
                     "--genesis", "g", "--pv-profile", "pv.csv" };
    ck_assert_int_eq(parse(&o, 0, ARGC(cons), cons, err), SG_EINVAL);
    ck_assert_str_eq(err, "--pv-profile applies to prosumers only");
    cons[9] = "--load-profile";
    ck_assert_int_eq(parse(&o, 0, ARGC(cons), cons, err), 0);
    char *op[] = { "sgoperator", "--data-dir", "d", "--cluster-key", "ck", "--genesis", "g",
                   "--load-profile", "x.csv" };
    ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(op), op, err), SG_EINVAL);
    op[7] = "--battery-kwh";
    op[8] = "2";
    ck_assert_int_eq(parse(&o, ROLE_OPERATOR, ARGC(op), op, err), SG_EINVAL);
    ck_assert_str_eq(err, "--battery-kwh applies to prosumers only");
}
END_TEST

START_TEST(test_genesis_tool_market)
{
    char *dir = tu_mkdtemp();
    char *out = path_in(dir, "genesis.txt");
    char op[65];
    chain_params p;
    int bad_line = 0;

    memset(op, '1', 64);
    op[64] = '\0';
    char *argv[] = { "genesis", "--out", out, "--operator-key", op, "--tick-ms", "250",
                     "--interval-minutes", "5", "--start-time", "1718967600", "--market",
                     "mid-market", "--retail-price", "400000", "--feed-in-price", "50000",
                     "--seed", "42" };
    ck_assert_int_eq(daemon_tool_genesis("sgnode", ARGC(argv), argv), 0);
    ck_assert_int_eq(params_load(out, &p, &bad_line), 0);
    ck_assert_uint_eq(p.tick_ms, 250);
    ck_assert_uint_eq(p.interval_minutes, 5);
    ck_assert_uint_eq(p.sim_start, 1718967600);
    ck_assert_uint_eq(p.market_rule, PARAMS_MARKET_MID);
    ck_assert_uint_eq(p.retail_price, 400000);
    ck_assert_uint_eq(p.feed_in_price, 50000);
    ck_assert_uint_eq(p.seed, 42);
    params_free(&p);
    unlink(out);

    /* Each bad value is refused, and feed-in above retail too. */
    static const char *const bad[][2] = {
        { "--tick-ms", "0" }, { "--interval-minutes", "1441" }, { "--market", "auction" },
        { "--retail-price", "0" }, { "--feed-in-price", "500000" }, { "--seed", "-1" },
        { "--start-time", "soon" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *b[] = { "genesis", "--out", out, "--operator-key", op, (char *)bad[i][0],
                      (char *)bad[i][1] };
        ck_assert_int_eq(daemon_tool_genesis("sgnode", ARGC(b), b), 2);
        ck_assert_int_ne(access(out, F_OK), 0);
    }
    free(out);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_opts_adversary)
{
    char *ok[] = { "sgnode", "--role", "prosumer", "--data-dir", "d", "--cluster-key", "c",
                   "--genesis", "g", "--adversary", "selfish", "--adversary=forger,selfish" };
    char *bad[] = { "sgnode", "--role", "prosumer", "--data-dir", "d", "--cluster-key", "c",
                    "--genesis", "g", "--adversary", "selfish,bribe" };
    daemon_opts o;
    char err[256] = "";

    ck_assert_int_eq(parse(&o, 0, ARGC(ok) - 3, ok, err), 0);
    ck_assert_uint_eq(o.adversary, 0);
    ck_assert_int_eq(parse(&o, 0, ARGC(ok), ok, err), 0);
    ck_assert_uint_eq(o.adversary, ADV_SELFISH | ADV_FORGER);
    ck_assert_int_eq(parse(&o, 0, ARGC(bad), bad, err), SG_EINVAL);
    ck_assert_msg(strstr(err, "--adversary expects") && strstr(err, "'selfish,bribe'"), "%s", err);
}
END_TEST

Suite *daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_opts_full);
    tcase_add_test(tc, test_opts_defaults);
    tcase_add_test(tc, test_opts_max_block_txs);
    tcase_add_test(tc, test_opts_adversary);
    tcase_add_test(tc, test_opts_hashrate);
    tcase_add_test(tc, test_opts_errors);
    tcase_add_test(tc, test_opts_required);
    tcase_add_test(tc, test_identity_file);
    tcase_add_test(tc, test_identity_malformed);
    tcase_add_test(tc, test_cluster_key_file);
    tcase_add_test(tc, test_genesis_tool);
    tcase_add_test(tc, test_opts_market);
    tcase_add_test(tc, test_genesis_tool_market);
    tcase_add_test(tc, test_opts_adv_tx);
    suite_add_tcase(s, tc);
    return s;
}
