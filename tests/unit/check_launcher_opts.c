/* Unit tests for the launcher's option table (launcher/opts.c). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/err.h"
#include "common/core/adv_role.h"
#include "common/core/params.h"
#include "launcher/opts.h"
#include "testutil.h"

/* Parses a NULL-terminated list of arguments (argv[0] added). */
static int parse(launcher_opts *o, const char *env_pwd, char *err, size_t cap, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    argv[argc++] = "launcher";
    va_start(ap, cap);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    err[0] = '\0';
    return launcher_opts_parse(o, argc, argv, env_pwd, err, cap);
}

START_TEST(test_defaults)
{
    launcher_opts o;
    char err[256];
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, NULL), 0);
    ck_assert_uint_eq(o.prosumers, 3);
    ck_assert_uint_eq(o.consumers, 5);
    ck_assert_uint_eq(o.operators, 1);
    ck_assert_uint_eq(o.difficulty, 4);
    ck_assert_uint_eq(o.duration, 300);
    ck_assert_int_eq(o.use_gpu, 0);
    ck_assert_str_eq(o.db_host, "");
    ck_assert_uint_eq(o.db_port, 3306);
    ck_assert_str_eq(o.db_user, "root");
    ck_assert_str_eq(o.db_password, "");
    ck_assert_str_eq(o.db_name, "smartgrid");
    ck_assert_int_eq(o.seed_given, 0);
    ck_assert_ptr_null(o.run_dir);
    ck_assert_uint_eq(o.base_port, 30300);
    ck_assert_uint_eq(o.tick_ms, 1000);
    ck_assert_uint_eq(o.interval_minutes, 15);
    ck_assert_uint_eq(o.market_rule, PARAMS_MARKET_UNIFORM);
    ck_assert_uint_eq(o.retail_price, 300000);
    ck_assert_uint_eq(o.feed_in_price, 80000);
    ck_assert_int_eq(o.quiet, 0);
    ck_assert_int_eq(o.help, 0);
    ck_assert_int_eq(o.version, 0);
    ck_assert_int_eq(o.battery_given, 0);
    ck_assert_uint_eq(o.battery_wh, 0);
    ck_assert_ptr_null(o.pv_profile);
    ck_assert_ptr_null(o.load_profile);
    /* Today 00:00 UTC (the test may straddle midnight: a day either way). */
    uint64_t today = (uint64_t)time(NULL) / 86400 * 86400;
    ck_assert_uint_eq(o.sim_start % 86400, 0);
    ck_assert(o.sim_start + 86400 >= today && o.sim_start <= today + 86400);
}
END_TEST

START_TEST(test_tick_and_start_time)
{
    launcher_opts o;
    char err[256];
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--tick", "0.5", NULL), 0);
    ck_assert_uint_eq(o.tick_ms, 500);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--tick=2", NULL), 0);
    ck_assert_uint_eq(o.tick_ms, 2000);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--tick", "0.125", NULL), 0);
    ck_assert_uint_eq(o.tick_ms, 125);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--tick", "3600", NULL), 0);
    ck_assert_uint_eq(o.tick_ms, 3600000);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--tick-ms", "750", NULL), 0);
    ck_assert_uint_eq(o.tick_ms, 750);
    /* The same option twice: the last wins, as for every option. */
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--tick", "1", "--tick", "0.2", NULL), 0);
    ck_assert_uint_eq(o.tick_ms, 200);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--start-time", "2024-06-21", NULL), 0);
    ck_assert_uint_eq(o.sim_start, 1718928000);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--start-time", "2024-06-21T12:30",
                           NULL), 0);
    ck_assert_uint_eq(o.sim_start, 1718973000);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--start-time=2024-02-29", NULL), 0);
    ck_assert_uint_eq(o.sim_start, 1709164800);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--start-time", "1700000000", NULL), 0);
    ck_assert_uint_eq(o.sim_start, 1700000000);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--start-time", "0", NULL), 0);
    ck_assert_uint_eq(o.sim_start, 0);
}
END_TEST

START_TEST(test_block_interval)
{
    launcher_opts o;
    char err[512];
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, NULL), 0);
    ck_assert_uint_eq(o.block_interval_ms, 2000);
    ck_assert_uint_eq(o.retarget_halflife_ms, 0);          /* the default for the interval */
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--block-interval", "0.5",
                           "--retarget-halflife", "1.25", NULL), 0);
    ck_assert_uint_eq(o.block_interval_ms, 500);
    ck_assert_uint_eq(o.retarget_halflife_ms, 1250);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--block-interval", "0", NULL), 0);
    ck_assert_uint_eq(o.block_interval_ms, 0);
    ck_assert_int_ne(parse(&o, NULL, err, sizeof err, "--block-interval", "-1", NULL), 0);
    ck_assert_ptr_nonnull(strstr(err, "--block-interval expects seconds"));
    ck_assert_int_ne(parse(&o, NULL, err, sizeof err, "--retarget-halflife", "0", NULL), 0);
    ck_assert_ptr_nonnull(strstr(err, "--retarget-halflife expects seconds"));
}
END_TEST

START_TEST(test_battery)
{
    launcher_opts o;
    char err[256];
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--battery-kwh", "13.5", NULL), 0);
    ck_assert_int_eq(o.battery_given, 1);
    ck_assert_uint_eq(o.battery_wh, 13500);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--battery-kwh", "10", NULL), 0);
    ck_assert_uint_eq(o.battery_wh, 10000);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--battery-kwh", "0.001", NULL), 0);
    ck_assert_uint_eq(o.battery_wh, 1);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--battery-kwh", "1000000", NULL), 0);
    ck_assert_uint_eq(o.battery_wh, 1000000000);
}
END_TEST

/* --hashrate RATE sets every node's cap, NODE=RATE one node's (the last
 * given wins); each may be 0 (uncapped). */
START_TEST(test_hashrate)
{
    launcher_opts o;
    char err[256];
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, NULL), 0);
    ck_assert_uint_eq(o.hashrate, 0);
    ck_assert_uint_eq(o.n_node_rates, 0);
    ck_assert_uint_eq(launcher_opts_hashrate(&o, "p1"), 0);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--hashrate", "1M", "--hashrate",
                           "p1=8M", "--hashrate=op=1.5M", "--hashrate", "c5=0",
                           "--hashrate", "p1=250k", NULL), 0);
    ck_assert_uint_eq(o.hashrate, 1000000);
    ck_assert_uint_eq(o.n_node_rates, 3);
    ck_assert_uint_eq(launcher_opts_hashrate(&o, "p1"), 250000);
    ck_assert_uint_eq(launcher_opts_hashrate(&o, "op"), 1500000);
    ck_assert_uint_eq(launcher_opts_hashrate(&o, "c5"), 0);
    ck_assert_uint_eq(launcher_opts_hashrate(&o, "p2"), 1000000);
    ck_assert_uint_eq(launcher_opts_hashrate(&o, "c1"), 1000000);
    /* Node names are checked against the topology, whatever the order. */
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--hashrate", "p12=2G", "--prosumers",
                           "12", NULL), 0);
    ck_assert_uint_eq(launcher_opts_hashrate(&o, "p12"), 2000000000);
    ck_assert_uint_eq(launcher_opts_hashrate(&o, "p11"), 0);
}
END_TEST

/* --adversary NODE=ROLE: roles add up per node; unknown roles and nodes
 * outside the topology are refused. */
START_TEST(test_adversary)
{
    launcher_opts o;
    char err[256];
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, NULL), 0);
    ck_assert_uint_eq(launcher_opts_adversary(&o, "p1"), 0);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--adversary", "p1=selfish",
                           "--adversary=p1=forger", "--adversary", "c2=spammer,manipulator",
                           NULL), 0);
    ck_assert_uint_eq(launcher_opts_adversary(&o, "p1"), ADV_SELFISH | ADV_FORGER);
    ck_assert_uint_eq(launcher_opts_adversary(&o, "c2"), ADV_SPAMMER | ADV_MANIPULATOR);
    ck_assert_uint_eq(launcher_opts_adversary(&o, "op"), 0);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--adversary", "p1=bribe", NULL),
                     SG_EINVAL);
    ck_assert_msg(strstr(err, "--adversary expects"), "%s", err);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--adversary", "selfish", NULL),
                     SG_EINVAL);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--adversary", "p9=selfish", NULL),
                     SG_EINVAL);
    ck_assert_msg(strstr(err, "--adversary p9=...: this run has no node p9"), "%s", err);
}
END_TEST

/* --web PORT serves on 127.0.0.1, --web-listen HOST:PORT elsewhere;
 * both are off by default and bad values are refused with the fix. */
START_TEST(test_web)
{
    launcher_opts o;
    char err[512];
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, NULL), 0);
    ck_assert_uint_eq(o.web_port, 0);
    ck_assert_ptr_null(o.web_listen);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--web", "8080", NULL), 0);
    ck_assert_uint_eq(o.web_port, 8080);
    ck_assert_ptr_null(o.web_listen);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--web-listen", "0.0.0.0:9000", NULL), 0);
    ck_assert_uint_eq(o.web_port, 9000);
    ck_assert_str_eq(o.web_addr, "0.0.0.0");
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--web-listen=[::1]:81", NULL), 0);
    ck_assert_uint_eq(o.web_port, 81);
    ck_assert_str_eq(o.web_addr, "::1");
    static const char *const bad[] = { "8080", "host:80", "1.2.3.4:0", "1.2.3.4:70000",
                                       "::1:80", "[1.2.3.4]:80", "[::1:80", ":80" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--web-listen", bad[i], NULL),
                         SG_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "--web-listen expects HOST:PORT"));
    }
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--web", "0", NULL), SG_EINVAL);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--web", "65536", NULL), SG_EINVAL);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_profiles)
{
    launcher_opts o;
    char err[512], good[512], bad[512], empty[512], missing[512], real[PATH_MAX];
    char *dir = tu_mkdtemp();
    snprintf(good, sizeof good, "%s/pv.csv", dir);
    snprintf(bad, sizeof bad, "%s/bad.csv", dir);
    snprintf(empty, sizeof empty, "%s/empty.csv", dir);
    snprintf(missing, sizeof missing, "%s/missing.csv", dir);
    write_text(good, "time,wh\n00:00,0\n00:15,12\n");
    write_text(bad, "10\n20\nlots\n40\n");
    write_text(empty, "# nothing here\n");
    ck_assert_ptr_nonnull(realpath(good, real));

    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--pv-profile", good,
                           "--load-profile", good, NULL), 0);
    ck_assert_str_eq(o.pv_profile, real);
    ck_assert_str_eq(o.load_profile, real);
    ck_assert_int_eq(o.pv_profile[0], '/');

    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--pv-profile", bad, NULL), SG_EINVAL);
    ck_assert_msg(strstr(err, "--pv-profile") && strstr(err, "line 3: expected Wh"),
                  "bad line: %s", err);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--load-profile", empty, NULL),
                     SG_EINVAL);
    ck_assert_msg(strstr(err, "--load-profile") && strstr(err, "line 2"), "empty: %s", err);
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--load-profile", missing, NULL),
                     SG_EINVAL);
    ck_assert_msg(strstr(err, "--load-profile") && strstr(err, "No such file"), "missing: %s",
                  err);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--pv-profile", dir, NULL), SG_EINVAL);
    ck_assert_msg(strstr(err, "--pv-profile") != NULL, "directory: %s", err);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_every_seed_option)
{
    launcher_opts o;
    char err[256];
    ck_assert_int_eq(parse(&o, NULL, err, sizeof err, "--prosumers", "7", "--consumers=0",
                           "--operators", "1", "--difficulty", "6", "--duration", "0",
                           "--use-gpu", "--db-host", "db.lan", "--db-port", "3307",
                           "--db-user", "sim", "--db-password", "pw", "--db-name", "grid",
                           "--seed", "42", "--run-dir", "/tmp/x", "--base-port", "40000",
                           "--market", "pay-as-bid", "--tick-ms", "250",
                           "--retail-price", "400000", "--feed-in-price", "50000",
                           "--quiet", NULL), 0);
    ck_assert_uint_eq(o.prosumers, 7);
    ck_assert_uint_eq(o.consumers, 0);
    ck_assert_uint_eq(o.difficulty, 6);
    ck_assert_uint_eq(o.duration, 0);
    ck_assert_int_eq(o.use_gpu, 1);
    ck_assert_str_eq(o.db_host, "db.lan");
    ck_assert_uint_eq(o.db_port, 3307);
    ck_assert_str_eq(o.db_user, "sim");
    ck_assert_str_eq(o.db_password, "pw");
    ck_assert_str_eq(o.db_name, "grid");
    ck_assert_uint_eq(o.seed, 42);
    ck_assert_int_eq(o.seed_given, 1);
    ck_assert_str_eq(o.run_dir, "/tmp/x");
    ck_assert_uint_eq(o.base_port, 40000);
    ck_assert_uint_eq(o.market_rule, PARAMS_MARKET_PAY_AS_BID);
    ck_assert_uint_eq(o.tick_ms, 250);
    ck_assert_uint_eq(o.retail_price, 400000);
    ck_assert_uint_eq(o.feed_in_price, 50000);
    ck_assert_int_eq(o.quiet, 1);
}
END_TEST

START_TEST(test_password_sources)
{
    launcher_opts o;
    char err[256];
    char *dir = tu_mkdtemp(), path[512];
    snprintf(path, sizeof path, "%s/pw", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("from-file\nsecond line\n", f);
    fclose(f);
    ck_assert_int_eq(parse(&o, "from-env", err, sizeof err, NULL), 0);
    ck_assert_str_eq(o.db_password, "from-env");
    ck_assert_int_eq(parse(&o, "from-env", err, sizeof err, "--db-password-file", path, NULL), 0);
    ck_assert_str_eq(o.db_password, "from-file");
    ck_assert_int_eq(parse(&o, "from-env", err, sizeof err, "--db-password", "cli", NULL), 0);
    ck_assert_str_eq(o.db_password, "cli");
    tu_rmtree(dir);
}
END_TEST

/* Each bad input: SG_EINVAL and one line naming the option. */
static const struct {
    const char *args[4];
    const char *needle;
} bad_cases[] = {
    { { "--prosumers", "abc" }, "--prosumers" },
    { { "--prosumers", "-1" }, "--prosumers" },
    { { "--consumers", "501" }, "--consumers" },
    { { "--operators", "2" }, "only one operator" },
    { { "--operators", "0" }, "only one operator" },
    { { "--difficulty", "0" }, "--difficulty" },
    { { "--difficulty", "64" }, "--difficulty" },
    { { "--duration", "-1" }, "--duration" },
    { { "--duration", "5m" }, "--duration" },
    { { "--db-port", "0" }, "--db-port" },
    { { "--db-port", "65536" }, "--db-port" },
    { { "--db-user", "" }, "--db-user" },
    { { "--db-name", "" }, "--db-name" },
    { { "--db-password-file", "/nonexistent/pw" }, "--db-password-file" },
    { { "--seed", "x" }, "--seed" },
    { { "--base-port", "80" }, "--base-port" },
    { { "--market", "dutch" }, "--market" },
    { { "--tick-ms", "1" }, "--tick-ms" },
    { { "--log-level", "loud" }, "--log-level" },
    { { "--feed-in-price", "9", "--retail-price", "8" }, "--feed-in-price" },
    { { "--nope" }, "unknown option '--nope'" },
    { { "stray" }, "unexpected argument 'stray'" },
    { { "--difficulty" }, "--difficulty expects" },
    { { "--quiet=1" }, "--quiet takes no value" },
    { { "--tick", "0.05" }, "--tick expects seconds from 0.1 to 3600" },
    { { "--tick", "3600.001" }, "--tick expects seconds" },
    { { "--tick", "0" }, "--tick expects seconds" },
    { { "--tick", "1.2345" }, "--tick expects seconds" },
    { { "--tick", ".5" }, "--tick expects seconds" },
    { { "--tick", "1." }, "--tick expects seconds" },
    { { "--tick", "-1" }, "--tick expects seconds" },
    { { "--tick", "1s" }, "--tick expects seconds" },
    { { "--tick", "99999999999999999999" }, "--tick expects seconds" },
    { { "--tick" }, "--tick expects seconds" },
    { { "--tick", "1", "--tick-ms", "1000" }, "--tick and --tick-ms both given" },
    { { "--tick-ms", "500", "--tick", "0.5" }, "--tick and --tick-ms both given" },
    { { "--start-time", "2024-13-01" }, "--start-time expects a date YYYY-MM-DD" },
    { { "--start-time", "2023-02-29" }, "--start-time expects" },
    { { "--start-time", "2024-06-31" }, "--start-time expects" },
    { { "--start-time", "2024-06-21T24:00" }, "--start-time expects" },
    { { "--start-time", "2024-06-21T12:60" }, "--start-time expects" },
    { { "--start-time", "2024-06-21 12:00" }, "--start-time expects" },
    { { "--start-time", "2024-06-21T12" }, "--start-time expects" },
    { { "--start-time", "2024-6-1" }, "--start-time expects" },
    { { "--start-time", "1969-12-31" }, "--start-time expects" },
    { { "--start-time", "-5" }, "--start-time expects" },
    { { "--start-time", "yesterday" }, "--start-time expects" },
    { { "--start-time", "" }, "--start-time expects" },
    { { "--start-time", "99999999999999" }, "--start-time expects" },
    { { "--battery-kwh", "-1" }, "--battery-kwh expects kWh from 0 to 1000000" },
    { { "--battery-kwh", "1.2345" }, "--battery-kwh expects" },
    { { "--battery-kwh", "1000000.001" }, "--battery-kwh expects" },
    { { "--battery-kwh", "ten" }, "--battery-kwh expects" },
    { { "--battery-kwh", "" }, "--battery-kwh expects" },
    { { "--pv-profile", "/nonexistent/pv.csv" }, "--pv-profile /nonexistent/pv.csv: No such" },
    { { "--load-profile", "" }, "--load-profile expects a readable profile file" },
    { { "--load-profile" }, "--load-profile expects" },
    { { "--hashrate", "fast" }, "--hashrate expects RATE or NODE=RATE, RATE in hashes per "
                                "second with an optional k, M or G (e.g. 2M, p1=1.5M; "
                                "0 = uncapped; at most 1000G), got 'fast'" },
    { { "--hashrate", "1.5" }, "--hashrate expects RATE or NODE=RATE" },
    { { "--hashrate", "1001G" }, "--hashrate expects" },
    { { "--hashrate", "p1=2x" }, "--hashrate expects" },
    { { "--hashrate", "p1=" }, "--hashrate expects" },
    { { "--hashrate", "x1=1M" }, "--hashrate expects" },
    { { "--hashrate", "p01=1M" }, "--hashrate expects" },
    { { "--hashrate", "=1M" }, "--hashrate expects" },
    { { "--hashrate" }, "--hashrate expects" },
    { { "--hashrate", "p4=1M" }, "--hashrate p4=...: this run has no node p4 (its nodes are "
                                 "op, p1..p3, c1..c5); name one of those or change "
                                 "--prosumers/--consumers" },
    { { "--prosumers", "0", "--hashrate", "p1=1M" }, "(its nodes are op, c1..c5)" },
    { { "--consumers", "0", "--hashrate", "c1=1M" }, "no node c1 (its nodes are op, p1..p3)" },
};

/* The default tick: 1 s while a host's cores can check every order at a
 * tenth of their speed, stretched in tenths beyond. */
START_TEST(test_auto_tick)
{
    ck_assert_uint_eq(launcher_auto_tick_ms(8, 9, 2), 1000);
    ck_assert_uint_eq(launcher_auto_tick_ms(62, 63, 2), 1000);     /* 3906 checks a tick */
    ck_assert_uint_eq(launcher_auto_tick_ms(99, 100, 2), 2500);    /* 2.475 s up */
    ck_assert_uint_eq(launcher_auto_tick_ms(199, 200, 2), 10000);  /* 9.95 s up */
    ck_assert_uint_eq(launcher_auto_tick_ms(199, 200, 16), 1300);
    ck_assert_uint_eq(launcher_auto_tick_ms(999, 100, 2), 25000);  /* 100 of 1000 on a host */
    ck_assert_uint_eq(launcher_auto_tick_ms(199, 200, 0), 19900);  /* no core count: one */
    ck_assert_uint_eq(launcher_auto_tick_ms(1000000, 1000000, 1), 3600000);
}
END_TEST

START_TEST(test_bad_input)
{
    launcher_opts o;
    char err[256];
    char *argv[6] = { "launcher" };
    int argc = 1;
    for (int k = 0; k < 4 && bad_cases[_i].args[k]; k++)
        argv[argc++] = (char *)bad_cases[_i].args[k];
    ck_assert_int_eq(launcher_opts_parse(&o, argc, argv, NULL, err, sizeof err), SG_EINVAL);
    ck_assert_msg(strstr(err, bad_cases[_i].needle) != NULL, "case %d: '%s' lacks '%s'", _i,
                  err, bad_cases[_i].needle);
    ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

Suite *launcher_opts_suite(void)
{
    Suite *s = suite_create("launcher_opts");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_adversary);
    tcase_add_test(tc, test_every_seed_option);
    tcase_add_test(tc, test_password_sources);
    tcase_add_test(tc, test_tick_and_start_time);
    tcase_add_test(tc, test_block_interval);
    tcase_add_test(tc, test_battery);
    tcase_add_test(tc, test_profiles);
    tcase_add_test(tc, test_hashrate);
    tcase_add_test(tc, test_web);
    tcase_add_test(tc, test_auto_tick);
    tcase_add_loop_test(tc, test_bad_input, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}
