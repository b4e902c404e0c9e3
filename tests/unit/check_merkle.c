#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/merkle.h"
#include "testutil.h"

/* sha256d(a || b), written out here so the expected roots below do not
 * lean on merkle.c. */
static void pair_hash(const uint8_t a[32], const uint8_t b[32], uint8_t out[32])
{
    uint8_t cat[64];
    memcpy(cat, a, 32);
    memcpy(cat + 32, b, 32);
    hash_sha256d(cat, sizeof cat, out);
}

static void make_leaves(uint8_t (*l)[32], size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        tu_fill(l[i], 32, &seed);
}

START_TEST(test_empty_is_zero)
{
    uint8_t root[32];
    memset(root, 0xaa, sizeof root);
    ck_assert_int_eq(merkle_root(NULL, 0, root), SG_OK);
    ck_assert(hash_is_zero(root));
}
END_TEST

START_TEST(test_one_leaf_is_root)
{
    uint8_t l[1][32], root[32];
    make_leaves(l, 1, 1);
    ck_assert_int_eq(merkle_root(l, 1, root), SG_OK);
    ck_assert_mem_eq(root, l[0], 32);
}
END_TEST

START_TEST(test_two_leaves)
{
    uint8_t l[2][32], root[32], want[32];
    make_leaves(l, 2, 2);
    pair_hash(l[0], l[1], want);
    ck_assert_int_eq(merkle_root(l, 2, root), SG_OK);
    ck_assert_mem_eq(root, want, 32);
}
END_TEST

START_TEST(test_three_leaves_duplicates_last)
{
    uint8_t l[3][32], ab[32], cc[32], want[32], root[32];
    make_leaves(l, 3, 3);
    pair_hash(l[0], l[1], ab);
    pair_hash(l[2], l[2], cc);
    pair_hash(ab, cc, want);
    ck_assert_int_eq(merkle_root(l, 3, root), SG_OK);
    ck_assert_mem_eq(root, want, 32);
}
END_TEST

START_TEST(test_four_leaves)
{
    uint8_t l[4][32], ab[32], cd[32], want[32], root[32];
    make_leaves(l, 4, 4);
    pair_hash(l[0], l[1], ab);
    pair_hash(l[2], l[3], cd);
    pair_hash(ab, cd, want);
    ck_assert_int_eq(merkle_root(l, 4, root), SG_OK);
    ck_assert_mem_eq(root, want, 32);
}
END_TEST

START_TEST(test_five_leaves)
{
    uint8_t l[5][32], ab[32], cd[32], ee[32], abcd[32], eeee[32], want[32],
        root[32];
    make_leaves(l, 5, 5);
    pair_hash(l[0], l[1], ab);
    pair_hash(l[2], l[3], cd);
    pair_hash(l[4], l[4], ee);
    pair_hash(ab, cd, abcd);
    pair_hash(ee, ee, eeee);
    pair_hash(abcd, eeee, want);
    ck_assert_int_eq(merkle_root(l, 5, root), SG_OK);
    ck_assert_mem_eq(root, want, 32);
}
END_TEST

/* Bitcoin mainnet block 100000: four transactions and the header's root. */
START_TEST(test_bitcoin_block_100000)
{
    static const char *txids[4] = {
        "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
        "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
        "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
        "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
    };
    uint8_t l[4][32], root[32];
    char hex[65];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(hash_from_hex_display(txids[i], l[i]), SG_OK);
    ck_assert_int_eq(merkle_root(l, 4, root), SG_OK);
    hash_to_hex_display(root, hex);
    ck_assert_str_eq(hex, "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766");
}
END_TEST

/* Bitcoin Core's CPartialMerkleTree::CalcHash walks the tree top down by
 * (height, position); a different shape of algorithm than the level-by-level
 * reduction in merkle.c, so agreement for every n is real evidence. */
static size_t tree_width(size_t n, int height)
{
    return (n + ((size_t)1 << height) - 1) >> height;
}

static void calc_hash(const uint8_t (*l)[32], size_t n, int height, size_t pos,
                      uint8_t out[32])
{
    uint8_t left[32], right[32];
    if (height == 0) {
        memcpy(out, l[pos], 32);
        return;
    }
    calc_hash(l, n, height - 1, 2 * pos, left);
    if (2 * pos + 1 < tree_width(n, height - 1))
        calc_hash(l, n, height - 1, 2 * pos + 1, right);
    else
        memcpy(right, left, 32);
    pair_hash(left, right, out);
}

START_TEST(test_matches_top_down_reference)
{
    enum { MAXN = 70 };
    uint8_t (*l)[32] = malloc(MAXN * 32);
    ck_assert_ptr_nonnull(l);
    make_leaves(l, MAXN, 99);
    for (size_t n = 1; n <= MAXN; n++) {
        uint8_t root[32], want[32];
        int height = 0;
        while (tree_width(n, height) > 1)
            height++;
        calc_hash((const uint8_t (*)[32])l, n, height, 0, want);
        ck_assert_int_eq(merkle_root((const uint8_t (*)[32])l, n, root), SG_OK);
        ck_assert_msg(memcmp(root, want, 32) == 0, "n=%zu", n);
    }
    free(l);
}
END_TEST

/* The known ambiguity (CVE-2012-2459) pinned down, so nobody relies on the
 * root alone to fix a transaction list: [a,b,c] and [a,b,c,c] collide. */
START_TEST(test_odd_duplicate_ambiguity)
{
    uint8_t l[4][32], r3[32], r4[32];
    make_leaves(l, 3, 7);
    memcpy(l[3], l[2], 32);
    ck_assert_int_eq(merkle_root(l, 3, r3), SG_OK);
    ck_assert_int_eq(merkle_root(l, 4, r4), SG_OK);
    ck_assert_mem_eq(r3, r4, 32);
}
END_TEST

START_TEST(test_leaves_not_modified)
{
    uint8_t l[5][32], copy[5][32], root[32];
    make_leaves(l, 5, 11);
    memcpy(copy, l, sizeof l);
    ck_assert_int_eq(merkle_root(l, 5, root), SG_OK);
    ck_assert_mem_eq(l, copy, sizeof l);
}
END_TEST

Suite *merkle_suite(void)
{
    Suite *s = suite_create("merkle");
    TCase *tc = tcase_create("root");
    tcase_add_test(tc, test_empty_is_zero);
    tcase_add_test(tc, test_one_leaf_is_root);
    tcase_add_test(tc, test_two_leaves);
    tcase_add_test(tc, test_three_leaves_duplicates_last);
    tcase_add_test(tc, test_four_leaves);
    tcase_add_test(tc, test_five_leaves);
    tcase_add_test(tc, test_bitcoin_block_100000);
    tcase_add_test(tc, test_matches_top_down_reference);
    tcase_add_test(tc, test_odd_duplicate_ambiguity);
    tcase_add_test(tc, test_leaves_not_modified);
    suite_add_tcase(s, tc);
    return s;
}
