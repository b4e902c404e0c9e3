/* Role numbers and names (common/core/role.h). */
#include <check.h>

#include "common/base/err.h"
#include "common/core/role.h"

START_TEST(test_round_trip)
{
    for (int r = ROLE_PROSUMER; r <= ROLE_OPERATOR; r++) {
        int got = 0;
        ck_assert_int_eq(role_parse(role_name(r), &got), 0);
        ck_assert_int_eq(got, r);
    }
    ck_assert_str_eq(role_name(ROLE_CONSUMER), "consumer");
    ck_assert_str_eq(role_name(0), "?");
    ck_assert_str_eq(role_name(4), "?");
}
END_TEST

START_TEST(test_refuses)
{
    int r = 42;
    ck_assert_int_eq(role_parse("Prosumer", &r), SG_EINVAL);
    ck_assert_int_eq(role_parse("", &r), SG_EINVAL);
    ck_assert_int_eq(role_parse("?", &r), SG_EINVAL);
    ck_assert_int_eq(role_parse(NULL, &r), SG_EINVAL);
    ck_assert_int_eq(r, 42);
}
END_TEST

Suite *role_suite(void)
{
    Suite *s = suite_create("role");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_refuses);
    suite_add_tcase(s, tc);
    return s;
}
