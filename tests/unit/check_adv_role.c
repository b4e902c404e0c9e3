/* Adversary role names and bits (common/core/adv_role.h). */
#include <check.h>

#include "common/base/err.h"
#include "common/core/adv_role.h"

START_TEST(test_names)
{
    char buf[128];
    unsigned m = 0;
    ck_assert_str_eq(adv_role_name(ADV_SELFISH), "selfish");
    ck_assert_str_eq(adv_role_name(ADV_DOUBLE_SPENDER), "double-spender");
    ck_assert_str_eq(adv_role_name(ADV_MANIPULATOR), "manipulator");
    ck_assert_str_eq(adv_role_name(ADV_SPAMMER), "spammer");
    ck_assert_str_eq(adv_role_name(ADV_FORGER), "forger");
    ck_assert_ptr_null(adv_role_name(0));
    ck_assert_ptr_null(adv_role_name(3));
    ck_assert_ptr_null(adv_role_name(32));
    for (unsigned bit = 1; bit <= ADV_FORGER; bit <<= 1) {
        ck_assert_int_eq(adv_parse_roles(adv_role_name(bit), &m), 0);
        ck_assert_uint_eq(m, bit);
    }
    ck_assert_int_eq(adv_parse_roles("forger,selfish,forger", &m), 0);
    ck_assert_uint_eq(m, ADV_SELFISH | ADV_FORGER);
    ck_assert_str_eq(adv_roles_format(m, buf, sizeof buf), "selfish,forger");
    ck_assert_str_eq(adv_roles_format(0, buf, sizeof buf), "");
    ck_assert_str_eq(adv_roles_format(ADV_ROLE_ALL, buf, sizeof buf),
                     "selfish,double-spender,manipulator,spammer,forger");
    /* Cut at a whole name when the buffer is short. */
    ck_assert_str_eq(adv_roles_format(ADV_ROLE_ALL, buf, 20), "selfish");
}
END_TEST

START_TEST(test_refuses)
{
    unsigned m = 7;
    const char *bad[] = { "", "Selfish", "selfish,", ",forger", "selfish,,forger", "miner",
                          "selfish forger" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(adv_parse_roles(bad[i], &m), SG_EINVAL);
    ck_assert_int_eq(adv_parse_roles(NULL, &m), SG_EINVAL);
    ck_assert_uint_eq(m, 7);
}
END_TEST

Suite *adv_role_suite(void)
{
    Suite *s = suite_create("adv_role");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_refuses);
    suite_add_tcase(s, tc);
    return s;
}
