/* ASERT: the published aserti3-2d test vectors (a selection of every run
 * the reference generator writes, halflife 172800 s, spacing 600 s, the
 * limit 2^224 - 1) and this chain's use of it: the genesis anchor, ms
 * intervals, fixed difficulty, clamping and overflow. */
#include <check.h>
#include <string.h>

#include "common/core/asert.h"
#include "common/core/params.h"
#include "common/core/pow.h"

#define V_HALFLIFE 172800
#define V_SPACING 600

/* One evaluation: the anchor (its height, its parent's time, its bits) and
 * the block at `height` with `time` whose child needs `bits`. */
typedef struct {
    const char *run;
    uint64_t anchor_height;
    int64_t anchor_parent_time;
    uint32_t anchor_bits;
    uint64_t height;
    int64_t time;
    uint32_t bits;
} asert_vector;

static const asert_vector vectors[] = {
    /* run1: steady 600 s blocks at the limit */
    { "run01", 1, 0, 0x1d00ffff, 2, 1200, 0x1d00ffff },
    { "run01", 1, 0, 0x1d00ffff, 11, 6600, 0x1d00ffff },
    /* run2: steady at an arbitrary target */
    { "run02", 1, 0, 0x1a2b3c4d, 2, 1200, 0x1a2b3c4d },
    { "run02", 1, 0, 0x1a2b3c4d, 11, 6600, 0x1a2b3c4d },
    /* run3: steady at the hardest target, 1 */
    { "run03", 1, 0, 0x01010000, 2, 1200, 0x01010000 },
    { "run03", 1, 0, 0x01010000, 11, 6600, 0x01010000 },
    /* run4: a half-life late every block, doubling up to the limit */
    { "run04", 1, 0, 0x01010000, 2, 174000, 0x01020000 },
    { "run04", 1, 0, 0x01010000, 3, 347400, 0x01040000 },
    { "run04", 1, 0, 0x01010000, 8, 1214400, 0x02008000 },
    { "run04", 1, 0, 0x01010000, 100, 17167200, 0x0d080000 },
    { "run04", 1, 0, 0x01010000, 224, 38668800, 0x1d008000 },
    { "run04", 1, 0, 0x01010000, 225, 38842200, 0x1d00ffff },
    { "run04", 1, 0, 0x01010000, 226, 39015600, 0x1d00ffff },
    /* run5: a half-life of blocks at time 0, halving down to 1 */
    { "run05", 1, 0, 0x1d00ffff, 2, 0, 0x1d00fec5 },
    { "run05", 1, 0, 0x1d00ffff, 290, 0, 0x1c7f62c0 },
    { "run05", 1, 0, 0x1d00ffff, 2018, 0, 0x1c01fd8b },
    { "run05", 1, 0, 0x1d00ffff, 60194, 0, 0x027f6200 },
    { "run05", 1, 0, 0x1d00ffff, 62498, 0, 0x017f0000 },
    { "run05", 1, 0, 0x1d00ffff, 64226, 0, 0x01010000 },
    { "run05", 1, 0, 0x1d00ffff, 64514, 0, 0x01010000 },
    /* run6: random solve times, stable hash rate (equal times included) */
    { "run06", 1, 0, 0x1802aee8, 3, 1310, 0x1802ad91 },
    { "run06", 1, 0, 0x1802aee8, 9, 7099, 0x1802b39c },
    { "run06", 1, 0, 0x1802aee8, 10, 7099, 0x1802b1f2 },
    { "run06", 1, 0, 0x1802aee8, 68, 43493, 0x1802b663 },
    { "run06", 1, 0, 0x1802aee8, 620, 378438, 0x1802c0ec },
    /* run7: hash rate ramping up */
    { "run07", 1, 0, 0x1802aee8, 12, 8141, 0x1802b181 },
    { "run07", 1, 0, 0x1802aee8, 459, 29064, 0x1800ffb4 },
    { "run07", 1, 0, 0x1802aee8, 633, 30995, 0x1800a98a },
    /* run8: hash rate ramping down, into the limit */
    { "run08", 1, 0, 0x1802aee8, 12, 9595, 0x1802b58d },
    { "run08", 1, 0, 0x1802aee8, 187, 1078358, 0x19008158 },
    { "run08", 1, 0, 0x1802aee8, 484, 6930238, 0x1d00e688 },
    { "run08", 1, 0, 0x1802aee8, 485, 6993399, 0x1d00ffff },
    { "run08", 1, 0, 0x1802aee8, 501, 7462933, 0x1d00ffff },
    /* run9: heights across 2^31 */
    { "run09", 2147483642, 1234567290, 0x1802aee8, 2147483643, 1234568190, 0x1802ae16 },
    { "run09", 2147483642, 1234567290, 0x1802aee8, 2147483648, 1234569690, 0x1802a9fa },
    { "run09", 2147483642, 1234567290, 0x1802aee8, 2147483652, 1234570890, 0x1802a6b7 },
    /* run10: heights across 2^63, times across 2^31 */
    { "run10", 9223372036854775802u, 2147483047, 0x1802aee8, 9223372036854775803u,
      2147484547, 0x1802afbb },
    { "run10", 9223372036854775802u, 2147483047, 0x1802aee8, 9223372036854775808u,
      2147489047, 0x1802b3e5 },
    { "run10", 9223372036854775802u, 2147483047, 0x1802aee8, 9223372036854775812u,
      2147492647, 0x1802b73d },
};
#define N_VECTORS ((int)(sizeof vectors / sizeof vectors[0]))

static void vector_limit(u256 *l)
{
    memset(l, 0xff, sizeof *l);
    u256_shr(l, 32);                      /* 2^224 - 1 */
}

static void set_u32(u256 *a, uint32_t v)
{
    memset(a, 0, sizeof *a);
    a->w[0] = v;
}

START_TEST(test_vectors)
{
    const asert_vector *v = &vectors[_i];
    u256 anchor, limit, out;
    vector_limit(&limit);
    ck_assert_int_eq(pow_bits_to_target(v->anchor_bits, &anchor), 0);
    /* The reference's height_diff + 1: the anchor's parent is the zero. */
    int64_t hdiff = (int64_t)(v->height - v->anchor_height) + 1;
    asert_target(&anchor, &limit, v->time - v->anchor_parent_time, hdiff, V_SPACING,
                 V_HALFLIFE, &out);
    ck_assert_msg(pow_target_to_bits(&out) == v->bits, "%s height %llu: got 0x%08x, want 0x%08x",
                  v->run, (unsigned long long)v->height, pow_target_to_bits(&out), v->bits);
    /* The same in ms: the scale cancels in the one division. */
    asert_target(&anchor, &limit, (v->time - v->anchor_parent_time) * 1000, hdiff,
                 V_SPACING * 1000, V_HALFLIFE * 1000, &out);
    ck_assert_uint_eq(pow_target_to_bits(&out), v->bits);
}
END_TEST

/* Whole half-lives are exact powers of two; the cubic meets 2^x at both
 * ends of [0, 1). */
START_TEST(test_exact_doublings)
{
    u256 anchor, limit, out, want;
    asert_pow_limit(&limit);
    set_u32(&anchor, 0x12345);
    u256_shl(&anchor, 100);
    asert_target(&anchor, &limit, 1000, 0, 600, 1000, &out);      /* +1 */
    want = anchor;
    u256_shl(&want, 1);
    ck_assert_int_eq(u256_cmp(&out, &want), 0);
    asert_target(&anchor, &limit, 0, 3, 1000, 1000, &out);        /* -3 */
    want = anchor;
    u256_shr(&want, 3);
    ck_assert_int_eq(u256_cmp(&out, &want), 0);
    asert_target(&anchor, &limit, 600, 1, 600, 1000, &out);       /* on schedule */
    ck_assert_int_eq(u256_cmp(&out, &anchor), 0);
    asert_target(&anchor, &limit, 5, 0, 600, 0, &out);            /* no half-life */
    ck_assert_int_eq(u256_cmp(&out, &anchor), 0);
}
END_TEST

/* Past the top of 256 bits, or of the limit: the limit.  Extreme inputs
 * must neither overflow (UBSan) nor wrap into a hard target. */
START_TEST(test_clamp_easiest)
{
    u256 anchor, limit, all, out;
    asert_pow_limit(&limit);
    anchor = limit;
    asert_target(&anchor, &limit, 1, 0, 600, 1000, &out);        /* a hair easier */
    ck_assert_int_eq(u256_cmp(&out, &limit), 0);
    asert_target(&anchor, &limit, INT64_MAX, INT64_MIN, UINT32_MAX, 1, &out);
    ck_assert_int_eq(u256_cmp(&out, &limit), 0);
    /* A limit of 2^256 - 1: the product needs 273 bits before the shift. */
    memset(&all, 0xff, sizeof all);
    asert_target(&all, &all, 0, 0, 600, 1000, &out);
    ck_assert_int_eq(u256_cmp(&out, &all), 0);
    asert_target(&all, &all, 999, 0, 1, 1000, &out);             /* 2^0.999 */
    ck_assert_int_eq(u256_cmp(&out, &all), 0);
    asert_target(&all, &all, -500, 0, 1, 1000, &out);            /* 2^-0.5 */
    ck_assert_int_lt(u256_cmp(&out, &all), 0);
    ck_assert_int_eq(u256_bits(&out), 256);
    /* Small anchor, many doublings up: exactly at the limit's size. */
    set_u32(&anchor, 1);
    asert_target(&anchor, &limit, 251, 0, 1, 1, &out);            /* 2^251 */
    ck_assert_int_eq(u256_bits(&out), 252);
    ck_assert_int_lt(u256_cmp(&out, &limit), 0);
    asert_target(&anchor, &limit, 252, 0, 1, 1, &out);            /* 2^252 > limit */
    ck_assert_int_eq(u256_cmp(&out, &limit), 0);
}
END_TEST

START_TEST(test_clamp_hardest)
{
    u256 anchor, limit, out, one;
    asert_pow_limit(&limit);
    set_u32(&one, 1);
    set_u32(&anchor, 1);
    asert_target(&anchor, &limit, 0, 1, 600, 172800, &out);       /* 1 * 2^-0.003 */
    ck_assert_int_eq(u256_cmp(&out, &one), 0);
    anchor = limit;
    asert_target(&anchor, &limit, INT64_MIN, INT64_MAX, UINT32_MAX, 1, &out);
    ck_assert_int_eq(u256_cmp(&out, &one), 0);
    asert_target(&anchor, &limit, 0, 300, 1, 1, &out);            /* 2^-300 */
    ck_assert_int_eq(u256_cmp(&out, &one), 0);
}
END_TEST

/* Out-of-order timestamps only move the exponent: an earlier parent time
 * gives a harder (never a wrapped) target, and times before the anchor's
 * are fine. */
START_TEST(test_out_of_order_times)
{
    u256 anchor, limit, a, b, c;
    vector_limit(&limit);
    ck_assert_int_eq(pow_bits_to_target(0x1802aee8, &anchor), 0);
    asert_target(&anchor, &limit, 6000, 10, 600, 172800, &a);
    asert_target(&anchor, &limit, 5000, 10, 600, 172800, &b);    /* went back */
    asert_target(&anchor, &limit, -5000, 10, 600, 172800, &c);   /* before anchor */
    ck_assert_int_lt(u256_cmp(&b, &a), 0);
    ck_assert_int_lt(u256_cmp(&c, &b), 0);
    ck_assert_int_gt(u256_bits(&c), 0);
}
END_TEST

static void chain_params_for(chain_params *p, int difficulty, uint32_t interval_ms,
                             uint32_t halflife_ms)
{
    params_init_defaults(p);
    p->genesis_time = 1700000000;
    ck_assert_int_eq(pow_difficulty_to_bits(difficulty, &p->bits), 0);
    p->block_interval_ms = interval_ms;
    p->retarget_halflife_ms = halflife_ms;
}

/* The genesis anchor: block 1 carries the genesis bits; blocks on
 * schedule keep them; each block found at once raises the difficulty by
 * 2^(interval / halflife); interval 0 never moves. */
START_TEST(test_chain_anchor)
{
    chain_params p;
    u256 g, t, want;
    chain_params_for(&p, 4, 2000, 10000);
    ck_assert_int_eq(pow_bits_to_target(p.bits, &g), 0);
    ck_assert_uint_eq(asert_next_bits(&p, 0, 1700000000), p.bits);
    ck_assert_uint_eq(asert_next_bits(&p, 10, 1700000020), p.bits);
    /* Five blocks at the genesis second: 5 * 2 s / 10 s = one halving. */
    ck_assert_int_eq(pow_bits_to_target(asert_next_bits(&p, 5, 1700000000), &t), 0);
    want = g;
    u256_shr(&want, 1);
    ck_assert_uint_eq(pow_target_to_bits(&t), pow_target_to_bits(&want));
    /* Twelve doublings harder after 60 instant blocks. */
    ck_assert_int_eq(pow_bits_to_target(asert_next_bits(&p, 60, 1700000000), &t), 0);
    want = g;
    u256_shr(&want, 12);
    ck_assert_uint_eq(pow_target_to_bits(&t), pow_target_to_bits(&want));
    /* Late by one half-life: twice as easy. */
    ck_assert_int_eq(pow_bits_to_target(asert_next_bits(&p, 10, 1700000030), &t), 0);
    want = g;
    u256_shl(&want, 1);
    ck_assert_uint_eq(pow_target_to_bits(&t), pow_target_to_bits(&want));
    /* Fixed difficulty: whatever the times. */
    p.block_interval_ms = 0;
    ck_assert_uint_eq(asert_next_bits(&p, 500, 1700000000), p.bits);
    ck_assert_uint_eq(asert_next_bits(&p, 1, 1800000000), p.bits);
    params_free(&p);
}
END_TEST

/* Sub-second intervals: the exponent is taken in ms, so two 0.5 s blocks
 * a second after genesis are on schedule. */
START_TEST(test_chain_subsecond)
{
    chain_params p;
    chain_params_for(&p, 4, 500, 1000);
    ck_assert_uint_eq(asert_next_bits(&p, 2, 1700000001), p.bits);
    ck_assert_uint_ne(asert_next_bits(&p, 3, 1700000001), p.bits);
    /* At the easiest start, late blocks stay at the limit. */
    chain_params_for(&p, 1, 500, 1000);
    u256 lim, t;
    asert_pow_limit(&lim);
    ck_assert_int_eq(pow_bits_to_target(asert_next_bits(&p, 2, 1700009999), &t), 0);
    ck_assert_int_le(u256_cmp(&t, &lim), 0);
    ck_assert_uint_eq(asert_next_bits(&p, 2, 1700009999), p.bits);
    params_free(&p);
}
END_TEST

START_TEST(test_default_halflife)
{
    ck_assert_uint_eq(asert_default_halflife_ms(2000),
                      2000 * ASERT_DEFAULT_HALFLIFE_INTERVALS);
    ck_assert_uint_eq(asert_default_halflife_ms(UINT32_MAX), UINT32_MAX);
}
END_TEST

Suite *asert_suite(void)
{
    Suite *s = suite_create("asert");
    TCase *tc = tcase_create("vectors");
    tcase_add_loop_test(tc, test_vectors, 0, N_VECTORS);
    suite_add_tcase(s, tc);
    tc = tcase_create("edges");
    tcase_add_test(tc, test_exact_doublings);
    tcase_add_test(tc, test_clamp_easiest);
    tcase_add_test(tc, test_clamp_hardest);
    tcase_add_test(tc, test_out_of_order_times);
    suite_add_tcase(s, tc);
    tc = tcase_create("chain");
    tcase_add_test(tc, test_chain_anchor);
    tcase_add_test(tc, test_chain_subsecond);
    tcase_add_test(tc, test_default_halflife);
    suite_add_tcase(s, tc);
    return s;
}
