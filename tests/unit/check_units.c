#include <check.h>
#include <stdint.h>

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

Suite *units_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("parse_milli");
    tcase_add_test(tc, test_accepts);
    tcase_add_test(tc, test_refuses);
    suite_add_tcase(s, tc);
    return s;
}
