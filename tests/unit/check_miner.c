/* Mining threads fed from a libuv loop (common/miner.h). */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/base/err.h"
#include "common/daemon/miner.h"
#include "common/core/pow.h"
#include "proto/block.h"

typedef struct {
    uv_loop_t loop;
    uv_timer_t deadline;
    miner *m;
    int found;
    uint8_t block[256];
    size_t len;
    int timed_out;
    int closed;
} fixture;

static void on_found(void *ctx, const uint8_t *block, size_t len)
{
    fixture *f = ctx;
    f->found++;
    ck_assert_uint_le(len, sizeof f->block);
    memcpy(f->block, block, len);
    f->len = len;
    uv_stop(&f->loop);
}

static void on_deadline(uv_timer_t *t)
{
    fixture *f = t->data;
    f->timed_out = 1;
    uv_stop(&f->loop);
}

static void on_closed(void *arg)
{
    ((fixture *)arg)->closed = 1;
}

static void setup(fixture *f, unsigned threads)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->deadline);
    f->deadline.data = f;
    miner_config cfg = { .loop = &f->loop, .threads = threads, .impl = kern_impl_best(),
                         .on_found = on_found, .ctx = f };
    ck_assert_int_eq(miner_new(&f->m, &cfg), 0);
}

/* Runs the loop until a find, a stop, or ms milliseconds. */
static void run_for(fixture *f, uint64_t ms)
{
    f->timed_out = 0;
    uv_timer_start(&f->deadline, on_deadline, ms, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&f->deadline);
}

static void teardown(fixture *f)
{
    miner_close(f->m, on_closed, f);
    uv_close((uv_handle_t *)&f->deadline, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(f->closed, 1);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* A header at difficulty n plus some stand-in transaction bytes. */
static size_t make_work(uint8_t *out, int difficulty, uint8_t fill)
{
    proto_header h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    memset(h.prev, fill, 32);
    memset(h.merkle, fill ^ 0x5a, 32);
    h.time = 1700000000;
    ck_assert_int_eq(pow_difficulty_to_bits(difficulty, &h.bits), 0);
    proto_header_encode(&h, out);
    memset(out + 80, fill, 20);
    return 100;
}

START_TEST(test_finds_block)
{
    fixture f;
    uint8_t work[100];
    proto_header h;

    setup(&f, 2);
    size_t len = make_work(work, 2, 7);
    ck_assert_int_eq(miner_set_work(f.m, work, len), 0);
    run_for(&f, 30000);
    ck_assert_int_eq(f.timed_out, 0);
    ck_assert_int_eq(f.found, 1);
    ck_assert_uint_eq(f.len, len);
    proto_header_decode(f.block, &h);
    ck_assert_int_eq(pow_check(&h), 0);
    /* Only the nonce (and, on exhaustion, the time) may differ. */
    ck_assert_mem_eq(f.block, work, 68);
    ck_assert_mem_eq(f.block + 72, work + 72, 4);
    ck_assert_mem_eq(f.block + 80, work + 80, 20);
    ck_assert_uint_eq(miner_blocks_found(f.m), 1);
    /* The template is spent: nothing more until new work. */
    ck_assert_int_eq(miner_is_working(f.m), 0);
    run_for(&f, 300);
    ck_assert_int_eq(f.found, 1);

    len = make_work(work, 2, 9);
    ck_assert_int_eq(miner_set_work(f.m, work, len), 0);
    run_for(&f, 30000);
    ck_assert_int_eq(f.found, 2);
    ck_assert_mem_eq(f.block + 4, work + 4, 32);
    teardown(&f);
}
END_TEST

START_TEST(test_pause_and_rate)
{
    fixture f;
    uint8_t work[100];

    setup(&f, 1);
    /* Difficulty 12: 2^48 hashes on average, never found in this test. */
    size_t len = make_work(work, 12, 3);
    ck_assert_int_eq(miner_set_work(f.m, work, len), 0);
    ck_assert_int_eq(miner_is_working(f.m), 1);
    ck_assert_uint_eq(miner_hashrate(f.m), 0);
    for (int i = 0; i < 4; i++) {
        run_for(&f, 250);
        miner_tick(f.m, uv_hrtime() / 1000000u);
    }
    ck_assert_int_eq(f.found, 0);
    ck_assert_uint_gt(miner_hashes(f.m), 0);
    ck_assert_uint_gt(miner_hashrate(f.m), 0);

    miner_pause(f.m);
    ck_assert_int_eq(miner_is_working(f.m), 0);
    run_for(&f, 100);            /* workers notice the cancel */
    uint64_t h1 = miner_hashes(f.m);
    run_for(&f, 400);
    ck_assert_uint_eq(miner_hashes(f.m), h1);
    teardown(&f);
}
END_TEST

START_TEST(test_bad_work)
{
    fixture f;
    uint8_t work[100];

    setup(&f, 1);
    ck_assert_int_eq(miner_set_work(f.m, work, 40), SG_EINVAL);
    size_t len = make_work(work, 2, 1);
    work[72] = 0xff;             /* bits with a huge exponent */
    work[75] = 0xff;
    ck_assert_int_eq(miner_set_work(f.m, work, len), SG_EINVAL);
    ck_assert_int_eq(miner_is_working(f.m), 0);
    teardown(&f);
}
END_TEST

START_TEST(test_config_checked)
{
    uv_loop_t loop;
    miner *m = (miner *)1;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    miner_config cfg = { .loop = &loop, .threads = 0, .impl = kern_impl_best() };
    ck_assert_int_eq(miner_new(&m, &cfg), SG_EINVAL);
    ck_assert_ptr_null(m);
    cfg.threads = MINER_MAX_THREADS + 1;
    ck_assert_int_eq(miner_new(&m, &cfg), SG_EINVAL);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *miner_suite(void)
{
    Suite *s = suite_create("miner");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_finds_block);
    tcase_add_test(tc, test_pause_and_rate);
    tcase_add_test(tc, test_bad_work);
    tcase_add_test(tc, test_config_checked);
    suite_add_tcase(s, tc);
    return s;
}
