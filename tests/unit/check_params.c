/* Genesis parameter files: parse, save/load round trip, error lines, and a
 * chain id that commits to every field. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "testutil.h"

#define OP_HEX "11223344556677889900aabbccddeeff11223344556677889900aabbccddeeff"
#define K1_HEX "0101010101010101010101010101010101010101010101010101010101010101"
#define K2_HEX "0202020202020202020202020202020202020202020202020202020202020202"

static void sample_params(chain_params *p)
{
    params_init_defaults(p);
    strcpy(p->name, "lab run 7");
    p->genesis_time = 1700000000;
    ck_assert_int_eq(pow_difficulty_to_bits(3, &p->bits), 0);
    p->block_reward = 1234567;
    p->tick_ms = 250;
    p->interval_minutes = 5;
    p->sim_start = 1718928000;
    p->market_rule = PARAMS_MARKET_MID;
    p->retail_price = 310000;
    p->feed_in_price = 70000;
    p->seed = 987654321;
    p->block_interval_ms = 1500;
    p->retarget_halflife_ms = 9000;
    tu_unhex(OP_HEX, p->operator_key, 32);
    p->n_allocs = 3;
    p->allocs = calloc(3, sizeof *p->allocs);
    ck_assert_ptr_nonnull(p->allocs);
    for (uint32_t i = 0; i < 3; i++) {
        memset(p->allocs[i].pubkey, (int)(i + 1), 32);
        p->allocs[i].balance = 1000000 * (i + 1);
    }
}

static void assert_params_eq(const chain_params *a, const chain_params *b)
{
    ck_assert_str_eq(a->name, b->name);
    ck_assert_uint_eq(a->genesis_time, b->genesis_time);
    ck_assert_uint_eq(a->bits, b->bits);
    ck_assert_uint_eq(a->block_reward, b->block_reward);
    ck_assert_uint_eq(a->tick_ms, b->tick_ms);
    ck_assert_uint_eq(a->interval_minutes, b->interval_minutes);
    ck_assert_uint_eq(a->sim_start, b->sim_start);
    ck_assert_uint_eq(a->market_rule, b->market_rule);
    ck_assert_uint_eq(a->retail_price, b->retail_price);
    ck_assert_uint_eq(a->feed_in_price, b->feed_in_price);
    ck_assert_uint_eq(a->seed, b->seed);
    ck_assert_uint_eq(a->block_interval_ms, b->block_interval_ms);
    ck_assert_uint_eq(a->retarget_halflife_ms, b->retarget_halflife_ms);
    ck_assert_mem_eq(a->operator_key, b->operator_key, 32);
    ck_assert_uint_eq(a->n_allocs, b->n_allocs);
    for (uint32_t i = 0; i < a->n_allocs; i++) {
        ck_assert_mem_eq(a->allocs[i].pubkey, b->allocs[i].pubkey, 32);
        ck_assert_uint_eq(a->allocs[i].balance, b->allocs[i].balance);
    }
}

START_TEST(test_defaults)
{
    chain_params p;
    uint32_t bits4;
    params_init_defaults(&p);
    ck_assert_int_eq(pow_difficulty_to_bits(4, &bits4), 0);
    ck_assert_uint_eq(p.bits, bits4);
    ck_assert_uint_eq(p.block_reward, 50000000);
    ck_assert_uint_eq(p.tick_ms, 1000);
    ck_assert_uint_eq(p.interval_minutes, 15);
    ck_assert_uint_eq(p.retail_price, 300000);
    ck_assert_uint_eq(p.feed_in_price, 80000);
    ck_assert_uint_eq(p.market_rule, PARAMS_MARKET_UNIFORM);
    ck_assert_uint_eq(p.n_allocs, 0);
    params_free(&p);
}
END_TEST

START_TEST(test_save_load_round_trip)
{
    char *dir = tu_mkdtemp();
    char path[512];
    chain_params a, b;
    uint8_t ida[32], idb[32];
    int bad = -1;

    snprintf(path, sizeof path, "%s/genesis.txt", dir);
    sample_params(&a);
    ck_assert_int_eq(params_save(path, &a), 0);
    ck_assert_int_eq(params_load(path, &b, &bad), 0);
    ck_assert_int_eq(bad, 0);
    assert_params_eq(&a, &b);
    params_chain_id(&a, ida);
    params_chain_id(&b, idb);
    ck_assert_mem_eq(ida, idb, 32);
    params_free(&b);

    /* Every market rule survives too. */
    for (uint8_t m = 0; m < 3; m++) {
        a.market_rule = m;
        ck_assert_int_eq(params_save(path, &a), 0);
        ck_assert_int_eq(params_load(path, &b, &bad), 0);
        assert_params_eq(&a, &b);
        params_free(&b);
    }
    params_free(&a);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_parse_comments_and_layout)
{
    static const char text[] =
        "# genesis written by hand\r\n"
        "\n"
        "   bits   0x1f0fffff   # trailing comment\n"
        "\t operator " OP_HEX "\r\n"
        "name  my test grid  \n"
        "market pay-as-bid\n"
        "alloc " K1_HEX " 500\n"
        "alloc " K2_HEX " 0\n"
        "feed_in_price 0";                      /* no final newline */
    chain_params p;
    int bad = -1;

    ck_assert_int_eq(params_parse(text, strlen(text), &p, &bad), 0);
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(p.bits, 0x1f0fffff);
    ck_assert_str_eq(p.name, "my test grid");
    ck_assert_uint_eq(p.market_rule, PARAMS_MARKET_PAY_AS_BID);
    ck_assert_uint_eq(p.feed_in_price, 0);
    ck_assert_uint_eq(p.n_allocs, 2);
    ck_assert_uint_eq(p.allocs[0].pubkey[0], 1);
    ck_assert_uint_eq(p.allocs[0].balance, 500);
    ck_assert_uint_eq(p.allocs[1].balance, 0);
    ck_assert_uint_eq(p.block_reward, 50000000);   /* default kept */
    params_free(&p);
}
END_TEST

/* Three good lines then the case's line: the error is on line 4 unless the
 * case says otherwise. */
static const char good_head[] =
    "bits 0x1f0fffff\n"
    "# a comment\n"
    "operator " OP_HEX "\n";

/* sizeof, not strlen: one case carries a NUL byte. */
#define BAD(tail, line) { tail, sizeof(tail) - 1, line }

static const struct {
    const char *tail;
    size_t len;
    int line;
} bad_cases[] = {
    BAD("colour blue\n", 4),                          /* unknown key */
    BAD("alloc\n", 4),
    BAD("bits 0x1f0fffff\n", 4),                      /* duplicate */
    BAD("operator " OP_HEX "\n", 4),                  /* duplicate */
    BAD("seed 1\nseed 2\n", 5),                       /* duplicate */
    BAD("seed\n", 4),                                 /* no value */
    BAD("seed 12x\n", 4),
    BAD("seed -1\n", 4),
    BAD("seed 18446744073709551616\n", 4),            /* 2^64 */
    BAD("seed 1 2\n", 4),
    BAD("block_reward 0\n", 4),
    BAD("tick_ms 0\n", 4),
    BAD("tick_ms 4294967296\n", 4),
    BAD("interval_minutes 0\n", 4),
    BAD("genesis_time 4294967296\n", 4),              /* header time is 32 bits */
    BAD("retail_price 0\n", 4),
    BAD("market auction\n", 4),
    BAD("name " "x12345678901234567890123456789012345678901234567890123456789012345\n", 4),
    BAD("name a\tb\n", 4),
    BAD("alloc " K1_HEX "\n", 4),                     /* no amount */
    BAD("alloc " K1_HEX " 5 6\n", 4),
    BAD("alloc " K1_HEX " x\n", 4),
    BAD("alloc 0101 5\n", 4),
    BAD("alloc " K1_HEX " 5\nalloc " K1_HEX " 6\n", 5), /* same key twice */
    BAD("alloc " K1_HEX " 18446744073709551615\nalloc " K2_HEX " 1\n", 5), /* supply overflows */
    BAD("seed 1\nname a" "\0" "b\n", 5),                 /* NUL byte in a line */
    BAD("feed_in_price 400000\n", 4),                 /* above retail 300000 */
    BAD("feed_in_price 1000\nretail_price 999\n", 5),  /* the later of the two */
    BAD("block_interval_ms 2000\n", 4),              /* no half-life */
    BAD("block_interval_ms 2000\nretarget_halflife_ms 0\n", 5),
    BAD("block_interval_ms -1\n", 4),
    BAD("block_interval_ms 4294967296\n", 4),
};

START_TEST(test_bad_lines)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        char text[1024];
        size_t hl = strlen(good_head), tl;
        chain_params p;
        int bad = -1;

        memcpy(text, good_head, hl);
        tl = bad_cases[i].len;
        memcpy(text + hl, bad_cases[i].tail, tl);
        ck_assert_msg(params_parse(text, hl + tl, &p, &bad) == SG_EINVAL,
                      "case %zu accepted", i);
        ck_assert_msg(bad == bad_cases[i].line, "case %zu: line %d, want %d", i, bad,
                      bad_cases[i].line);
        /* Failure leaves p safe to free and free of allocations. */
        ck_assert_uint_eq(p.n_allocs, 0);
        params_free(&p);
    }
}
END_TEST

/* A retargeting chain starts within the limit; a fixed one may start
 * anywhere compact bits reach, as before. */
START_TEST(test_retarget_keys)
{
    static const char easy[] = "bits 0x2100ffff\noperator " OP_HEX "\n";
    static const char keys[] = "block_interval_ms 500\nretarget_halflife_ms 2500\n";
    char text[512];
    chain_params p;
    int bad = -1;
    ck_assert_int_eq(params_parse(easy, strlen(easy), &p, &bad), 0);
    ck_assert_uint_eq(p.block_interval_ms, 0);
    params_free(&p);
    snprintf(text, sizeof text, "%s%s", easy, keys);
    ck_assert_int_eq(params_parse(text, strlen(text), &p, &bad), SG_EINVAL);
    ck_assert_int_eq(bad, 4);
    params_free(&p);
    snprintf(text, sizeof text, "%s%s", good_head, keys);
    ck_assert_int_eq(params_parse(text, strlen(text), &p, &bad), 0);
    ck_assert_uint_eq(p.block_interval_ms, 500);
    ck_assert_uint_eq(p.retarget_halflife_ms, 2500);
    params_free(&p);
}
END_TEST

START_TEST(test_bad_bits_and_operator)
{
    static const char *bad_values[] = {
        "bits 1f0fffff\n", "bits 0x\n", "bits 0x1g000000\n", "bits 0x123456789\n",
        "bits 0x00000000\n", "bits 0x1f800000\n" /* zero */, "bits 0x1f8fffff\n" /* negative */, "bits 0xff7fffff\n" /* overflow */,
        "operator 1122\n", "operator " OP_HEX "00\n",
        "operator zz223344556677889900aabbccddeeff11223344556677889900aabbccddeeff\n",
        "operator 0000000000000000000000000000000000000000000000000000000000000000\n",
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        char text[512];
        chain_params p;
        int bad = -1;
        int is_bits = strncmp(bad_values[i], "bits", 4) == 0;
        /* The other required key comes first, the bad one on line 3. */
        snprintf(text, sizeof text, "%s# x\n%s",
                 is_bits ? "operator " OP_HEX "\n" : "bits 0x1f0fffff\n", bad_values[i]);
        ck_assert_msg(params_parse(text, strlen(text), &p, &bad) == SG_EINVAL, "%s", bad_values[i]);
        ck_assert_msg(bad == 3, "%s: line %d", bad_values[i], bad);
        params_free(&p);
    }
}
END_TEST

START_TEST(test_missing_required)
{
    chain_params p;
    int bad = -1;
    static const char no_op[] = "bits 0x1f0fffff\n# two\nseed 3\n";
    static const char no_bits[] = "# one\noperator " OP_HEX "\n";
    static const char no_bits_unterminated[] = "# one\noperator " OP_HEX;

    ck_assert_int_eq(params_parse(no_op, strlen(no_op), &p, &bad), SG_EINVAL);
    ck_assert_int_eq(bad, 4);
    params_free(&p);
    ck_assert_int_eq(params_parse(no_bits, strlen(no_bits), &p, &bad), SG_EINVAL);
    ck_assert_int_eq(bad, 3);
    params_free(&p);
    ck_assert_int_eq(params_parse(no_bits_unterminated, strlen(no_bits_unterminated), &p, &bad),
                     SG_EINVAL);
    ck_assert_int_eq(bad, 3);
    params_free(&p);
    ck_assert_int_eq(params_parse("", 0, &p, &bad), SG_EINVAL);
    ck_assert_int_eq(bad, 1);
    params_free(&p);
}
END_TEST

START_TEST(test_load_errors)
{
    char *dir = tu_mkdtemp();
    char path[512];
    chain_params p;
    FILE *f;
    int bad = -1;

    snprintf(path, sizeof path, "%s/missing.txt", dir);
    ck_assert_int_eq(params_load(path, &p, &bad), SG_EIO);
    ck_assert_int_eq(bad, 0);
    params_free(&p);

    /* A file with a bad line reports it through params_load as well. */
    snprintf(path, sizeof path, "%s/bad.txt", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%sname ok\nmarket best\n", good_head);
    fclose(f);
    ck_assert_int_eq(params_load(path, &p, &bad), SG_EINVAL);
    ck_assert_int_eq(bad, 5);
    params_free(&p);

    /* Saving refuses what loading would refuse. */
    sample_params(&p);
    strcpy(p.name, "has # hash");
    ck_assert_int_eq(params_save(path, &p), SG_EINVAL);
    strcpy(p.name, "ok");
    memset(p.operator_key, 0, 32);
    ck_assert_int_eq(params_save(path, &p), SG_EINVAL);
    params_free(&p);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_genesis_header)
{
    chain_params p;
    proto_header h;
    uint8_t id[32], hh[32];

    sample_params(&p);
    params_genesis_header(&p, &h);
    ck_assert_uint_eq(h.version, 1);
    ck_assert(hash_is_zero(h.prev));
    ck_assert(!hash_is_zero(h.merkle));
    ck_assert_uint_eq(h.time, p.genesis_time);
    ck_assert_uint_eq(h.bits, p.bits);
    ck_assert_uint_eq(h.nonce, 0);
    params_chain_id(&p, id);
    pow_header_hash(&h, hh);
    ck_assert_mem_eq(id, hh, 32);
    params_free(&p);
}
END_TEST

/* Each mutation changes one thing; every resulting id must differ from the
 * base and from every other. */
#define N_MUTATIONS 21

static void mutate(chain_params *p, int which)
{
    switch (which) {
    case 0: strcpy(p->name, "lab run 8"); break;
    case 1: p->genesis_time++; break;
    case 2: p->bits = 0x1e0fffff; break;
    case 3: p->block_reward++; break;
    case 4: p->tick_ms++; break;
    case 5: p->interval_minutes++; break;
    case 6: p->sim_start++; break;
    case 7: p->market_rule = PARAMS_MARKET_UNIFORM; break;
    case 8: p->retail_price++; break;
    case 9: p->feed_in_price++; break;
    case 10: p->seed++; break;
    case 11: p->operator_key[31] ^= 1; break;
    case 12: p->allocs[1].pubkey[5] ^= 1; break;
    case 13: p->allocs[2].balance++; break;
    case 14: { params_alloc t = p->allocs[0]; p->allocs[0] = p->allocs[1]; p->allocs[1] = t; break; }
    case 15: p->n_allocs--; break;
    case 16: strcpy(p->name, "Lab run 7"); break;
    case 17: p->allocs[0].balance = 0; break;
    case 18: p->block_interval_ms++; break;
    case 19: p->retarget_halflife_ms++; break;
    case 20: p->block_interval_ms = 0; break;
    }
}

START_TEST(test_chain_id_commits_to_every_field)
{
    uint8_t ids[N_MUTATIONS + 1][32];
    chain_params p;

    sample_params(&p);
    params_chain_id(&p, ids[0]);
    params_free(&p);
    for (int m = 0; m < N_MUTATIONS; m++) {
        sample_params(&p);
        mutate(&p, m);
        params_chain_id(&p, ids[m + 1]);
        params_free(&p);
    }
    for (int i = 0; i <= N_MUTATIONS; i++)
        for (int j = i + 1; j <= N_MUTATIONS; j++)
            ck_assert_msg(memcmp(ids[i], ids[j], 32) != 0, "ids %d and %d collide", i, j);
    /* And it is deterministic. */
    sample_params(&p);
    params_chain_id(&p, ids[1]);
    ck_assert_mem_eq(ids[0], ids[1], 32);
    params_free(&p);
}
END_TEST

Suite *params_suite(void)
{
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_save_load_round_trip);
    tcase_add_test(tc, test_parse_comments_and_layout);
    tcase_add_test(tc, test_bad_lines);
    tcase_add_test(tc, test_retarget_keys);
    tcase_add_test(tc, test_bad_bits_and_operator);
    tcase_add_test(tc, test_missing_required);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_genesis_header);
    tcase_add_test(tc, test_chain_id_commits_to_every_field);
    suite_add_tcase(s, tc);
    return s;
}
