/* The relay's per-peer known-inventory set: flags kept and merged, the
 * bound held with the oldest entry evicted first, nothing allocated until
 * the first entry, memory at the bound as small as its header says, and
 * every entry found again after the table grew and after deletions
 * shifted others. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/daemon/relay_known.h"

static void hash_of(uint32_t i, uint8_t h[32])
{
    uint8_t seed[4] = { (uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24) };
    crypto_generichash(h, 32, seed, sizeof seed, NULL, 0);
}

START_TEST(test_flags_merge)
{
    relay_known k;
    uint8_t a[32], b[32];
    ck_assert_int_ge(sodium_init(), 0);
    relay_known_init(&k, 16);
    ck_assert_ptr_null(k.slots);
    ck_assert_ptr_null(k.ring);
    hash_of(1, a);
    hash_of(2, b);
    ck_assert_uint_eq(relay_known_flags(&k, a), 0);
    relay_known_mark(&k, a, 1);
    ck_assert_uint_eq(relay_known_flags(&k, a), 1);
    ck_assert_uint_eq(relay_known_flags(&k, b), 0);
    relay_known_mark(&k, a, 2);
    ck_assert_uint_eq(relay_known_flags(&k, a), 3);
    ck_assert_uint_eq(k.count, 1);
    relay_known_free(&k);
    relay_known_free(&k);
}
END_TEST

START_TEST(test_bound_oldest_first)
{
    relay_known k;
    uint8_t h[32];
    const uint32_t max = 100, total = 1000;
    ck_assert_int_ge(sodium_init(), 0);
    relay_known_init(&k, max);
    for (uint32_t i = 0; i < total; i++) {
        hash_of(i, h);
        relay_known_mark(&k, h, 1 + (i & 1));
        ck_assert_uint_le(k.count, max);
    }
    for (uint32_t i = 0; i < total; i++) {
        hash_of(i, h);
        unsigned want = i >= total - max ? 1 + (i & 1) : 0;
        ck_assert_uint_eq(relay_known_flags(&k, h), want);
    }
    ck_assert_uint_le(k.ring_cap, max);
    ck_assert_uint_le(k.cap, 256);
    relay_known_free(&k);
}
END_TEST

START_TEST(test_memory_at_bound)
{
    relay_known k;
    uint8_t h[32];
    ck_assert_int_ge(sodium_init(), 0);
    relay_known_init(&k, 4096);
    for (uint32_t i = 0; i < 20000; i++) {
        hash_of(i, h);
        relay_known_mark(&k, h, 1);
    }
    ck_assert_uint_eq(k.count, 4096);
    ck_assert_uint_le((size_t)k.cap * 8 + (size_t)k.ring_cap * 8, 96 * 1024);
    /* Re-marking a known hash changes nothing but its flags. */
    hash_of(19999, h);
    relay_known_mark(&k, h, 2);
    ck_assert_uint_eq(relay_known_flags(&k, h), 3);
    ck_assert_uint_eq(k.count, 4096);
    relay_known_free(&k);
}
END_TEST

/* Two sets do not share a key: the salt is per set. */
START_TEST(test_salt_per_set)
{
    relay_known a, b;
    ck_assert_int_ge(sodium_init(), 0);
    relay_known_init(&a, 8);
    relay_known_init(&b, 8);
    ck_assert_int_ne(memcmp(a.salt, b.salt, sizeof a.salt), 0);
}
END_TEST

Suite *relay_known_suite(void)
{
    Suite *s = suite_create("relay_known");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_flags_merge);
    tcase_add_test(tc, test_bound_oldest_first);
    tcase_add_test(tc, test_memory_at_bound);
    tcase_add_test(tc, test_salt_per_set);
    suite_add_tcase(s, tc);
    return s;
}
