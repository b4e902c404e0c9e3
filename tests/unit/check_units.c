#include <check.h>
#include <stdint.h>
#include <string.h>

#include "common/base/err.h"
#include "common/base/units.h"

START_TEST(test_accepts)
{
    uint64_t v = 0;
    ck_assert_int_eq(units_parse_milli("13.5", 0, 100000, &v), 0);
    ck_assert_uint_eq(v, 13500);
    ck_assert_int_eq(units_parse_milli("0.001", 0, 100000, &v), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(units_parse_milli("7", 0, 100000, &v), 0);
    ck_assert_uint_eq(v, 7000);
    ck_assert_int_eq(units_parse_milli("100", 0, 100000, &v), 0);
    ck_assert_uint_eq(v, 100000);
}
END_TEST

START_TEST(test_refuses)
{
    static const char *bad[] = { "", ".", "1.", ".5", "-1", "+1", "1.2345", "1e3",
                                 "1,5", " 1", "1 ", "0x10", "100.001",
                                 "99999999999999999999999" };
    uint64_t v = 42;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(units_parse_milli(bad[i], 0, 100000, &v) == SG_EINVAL,
                      "accepted '%s'", bad[i]);
        ck_assert_uint_eq(v, 42);  /* untouched on error */
    }
    ck_assert_int_eq(units_parse_milli("0.0005", 1, 100000, &v), SG_EINVAL);
    ck_assert_int_eq(units_parse_milli("0", 1, 100000, &v), SG_EINVAL);
}
END_TEST

START_TEST(test_u64)
{
    uint64_t v = 0;
    ck_assert_int_eq(units_parse_u64("0", 1, 0, 10, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(units_parse_u64("007", 3, 0, 10, &v), 0);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(units_parse_u64("18446744073709551615", 20, 0, UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    /* Length-bounded: a token inside a longer text. */
    ck_assert_int_eq(units_parse_u64("12 34", 2, 0, 100, &v), 0);
    ck_assert_uint_eq(v, 12);
    ck_assert_int_eq(units_parse_u64("10", 2, 10, 10, &v), 0);
}
END_TEST

START_TEST(test_u64_refuses)
{
    static const char *bad[] = { "", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.0",
                                 "18446744073709551616", "99999999999999999999999" };
    uint64_t v = 42;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(units_parse_u64(bad[i], strlen(bad[i]), 0, UINT64_MAX, &v) == SG_EINVAL,
                      "accepted '%s'", bad[i]);
        ck_assert_uint_eq(v, 42);
    }
    ck_assert_int_eq(units_parse_u64("9", 1, 10, 20, &v), SG_EINVAL);
    ck_assert_int_eq(units_parse_u64("21", 2, 10, 20, &v), SG_EINVAL);
    ck_assert_int_eq(units_parse_u64(NULL, 0, 0, 20, &v), SG_EINVAL);
    ck_assert_uint_eq(v, 42);
}
END_TEST

START_TEST(test_u32)
{
    uint32_t v = 42;
    ck_assert_int_eq(units_parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
    ck_assert_uint_eq(v, UINT32_MAX);
    ck_assert_int_eq(units_parse_u32("4294967296", 0, UINT32_MAX, &v), SG_EINVAL);
    ck_assert_int_eq(units_parse_u32("0", 1, 5, &v), SG_EINVAL);
    ck_assert_int_eq(units_parse_u32(NULL, 0, 5, &v), SG_EINVAL);
    ck_assert_uint_eq(v, UINT32_MAX);
}
END_TEST

START_TEST(test_hostport)
{
    char host[16];
    uint16_t port = 0;
    ck_assert_int_eq(units_parse_hostport("127.0.0.1:7700", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_uint_eq(port, 7700);
    ck_assert_int_eq(units_parse_hostport("[::1]:65535", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_uint_eq(port, 65535);
    ck_assert_int_eq(units_parse_hostport(":0", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "");
    ck_assert_uint_eq(port, 0);
    ck_assert_int_eq(units_parse_hostport("node-7.lan:1", NULL, 0, &port), 0);
    ck_assert_uint_eq(port, 1);

    static const char *bad[] = { "host", "host:", "host:65536", "host:-1", "host:+1",
                                 "host: 1", "[::1:80", "[:80", "[::1]80", NULL };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(units_parse_hostport(bad[i], host, sizeof host, &port) == SG_EINVAL,
                      "accepted '%s'", bad[i] ? bad[i] : "(null)");
    /* The host must fit the caller's buffer. */
    ck_assert_int_eq(units_parse_hostport("a-very-long-host-name:1", host, sizeof host, &port),
                     SG_EINVAL);
    ck_assert_uint_eq(port, 1);
}
END_TEST

START_TEST(test_rate_accepts)
{
    static const struct { const char *s; uint64_t v; } good[] = {
        { "0", 0 }, { "500", 500 }, { "2M", 2000000 }, { "1.5M", 1500000 },
        { "250k", 250000 }, { "250K", 250000 }, { "0.5k", 500 }, { "1.234k", 1234 },
        { "3G", 3000000000ull }, { "0.000001M", 1 }, { "1.000000M", 1000000 },
        { "007k", 7000 }, { "1000G", 1000000000000ull },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 42;
        ck_assert_msg(units_parse_rate(good[i].s, 0, 1000000000000ull, &v) == 0,
                      "refused '%s'", good[i].s);
        ck_assert_msg(v == good[i].v, "'%s' gave %llu", good[i].s, (unsigned long long)v);
    }
}
END_TEST

START_TEST(test_rate_refuses)
{
    static const char *bad[] = { "", ".", "k", "M", "1.", ".5M", "-1", "+1", "1.5",
                                 "1.2345k", "0.0000001M", "1e6", "1m", "1g", "2MH",
                                 "2 M", " 2M", "2M ", "1.5.1M", "1,5M", "0x10",
                                 "1001G", "99999999999999999999999", "18446744073709551616",
                                 "99999999999999999999G" };
    uint64_t v = 42;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(units_parse_rate(bad[i], 0, 1000000000000ull, &v) == SG_EINVAL,
                      "accepted '%s'", bad[i]);
        ck_assert_uint_eq(v, 42);  /* untouched on error */
    }
    ck_assert_int_eq(units_parse_rate("999", 1000, 2000, &v), SG_EINVAL);
    ck_assert_int_eq(units_parse_rate("2.001k", 1000, 2000, &v), SG_EINVAL);
    ck_assert_int_eq(units_parse_rate("2k", 1000, 2000, &v), 0);
    ck_assert_uint_eq(v, 2000);
    /* The largest bound a caller may give does not overflow on scaling. */
    ck_assert_int_eq(units_parse_rate("1000000000G", 0, 1000000000000000000ull, &v), 0);
    ck_assert_uint_eq(v, 1000000000000000000ull);
    ck_assert_int_eq(units_parse_rate("1000000000.1G", 0, 1000000000000000000ull, &v),
                     SG_EINVAL);
}
END_TEST

Suite *units_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("parse_milli");
    tcase_add_test(tc, test_accepts);
    tcase_add_test(tc, test_refuses);
    suite_add_tcase(s, tc);
    tc = tcase_create("parse_u64");
    tcase_add_test(tc, test_u64);
    tcase_add_test(tc, test_u64_refuses);
    tcase_add_test(tc, test_u32);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostport");
    tcase_add_test(tc, test_hostport);
    suite_add_tcase(s, tc);
    tc = tcase_create("parse_rate");
    tcase_add_test(tc, test_rate_accepts);
    tcase_add_test(tc, test_rate_refuses);
    suite_add_tcase(s, tc);
    return s;
}
