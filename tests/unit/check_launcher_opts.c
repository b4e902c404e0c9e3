/* Unit tests for the launcher's option table (launcher/opts.c). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/params.h"
#include "../../launcher/opts.h"
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
};

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
    tcase_add_test(tc, test_every_seed_option);
    tcase_add_test(tc, test_password_sources);
    tcase_add_loop_test(tc, test_bad_input, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}
