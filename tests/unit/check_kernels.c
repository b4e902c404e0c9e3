/* Tests for kernels/: the shared round code against OpenSSL, every
 * available implementation on real Bitcoin headers and on thousands of
 * random jobs (answer = the first nonce OpenSSL says meets the target),
 * multi-threaded search, cancellation. */
#include <check.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/pow.h"
#include "kernels/kern.h"
#include "kernels/kern_gpu.h"
#include "kernels/sha256_core.h"
#include "testutil.h"

#define NONCE_LIMIT (UINT64_C(1) << 32)

/* ---- references -------------------------------------------------------- */

static void ref_hash(const uint8_t header[80], uint32_t nonce, uint8_t out[32])
{
    uint8_t h[80], d[32];

    memcpy(h, header, 80);
    h[76] = (uint8_t)nonce;
    h[77] = (uint8_t)(nonce >> 8);
    h[78] = (uint8_t)(nonce >> 16);
    h[79] = (uint8_t)(nonce >> 24);
    SHA256(h, 80, d);
    SHA256(d, 32, out);
}

/* hash <= target as little-endian 256-bit numbers, written independently
 * of the kernels' comparison. */
static int ref_meets(const uint8_t hash[32], const uint8_t target[32])
{
    u256 a, b;

    u256_from_hash(&a, hash);
    u256_from_hash(&b, target);
    return u256_cmp(&a, &b) <= 0;
}

/* The first nonce in [start, start + count) (clipped at 0xffffffff) that
 * meets the target: 1 and *nonce, or 0. */
static int ref_first(const kern_job *job, uint32_t *nonce)
{
    uint64_t end = (uint64_t)job->start + job->count;

    if (end > NONCE_LIMIT)
        end = NONCE_LIMIT;
    for (uint64_t n = job->start; n < end; n++) {
        uint8_t h[32];

        ref_hash(job->header, (uint32_t)n, h);
        if (ref_meets(h, job->target)) {
            *nonce = (uint32_t)n;
            return 1;
        }
    }
    return 0;
}

static void lower_by_one(uint8_t t[32])
{
    for (int i = 0; i < 32 && t[i]-- == 0; i++)
        ;
}

/* What OpenSSL says a job's answer is. */
typedef struct {
    int found;
    uint32_t nonce;
} ref_answer;

static ref_answer ref_answer_of(const kern_job *job)
{
    ref_answer a = {0, 0};

    a.found = ref_first(job, &a.nonce);
    return a;
}

/* Runs job on impl (one thread or several) and checks it against the
 * reference answer: same verdict, same nonce, that nonce's true hash. */
static void check_job(kern_impl impl, const kern_job *job, unsigned threads, const char *what,
                      const ref_answer *want)
{
    kern_result res;
    uint8_t h[32];
    int rc = threads == 1 ? kern_search(impl, job, NULL, &res)
                          : kern_search_mt(impl, job, threads, NULL, &res);

    if (!want->found) {
        ck_assert_msg(rc == SG_ENOTFOUND, "%s x%u: %s start=%u count=%llu: rc %d, want none",
                      kern_impl_name(impl), threads, what, job->start,
                      (unsigned long long)job->count, rc);
        return;
    }
    ck_assert_msg(rc == 0, "%s x%u: %s start=%u count=%llu: rc %d, want nonce %u",
                  kern_impl_name(impl), threads, what, job->start,
                  (unsigned long long)job->count, rc, want->nonce);
    ck_assert_msg(res.nonce == want->nonce, "%s x%u: %s: nonce %u, want %u",
                  kern_impl_name(impl), threads, what, res.nonce, want->nonce);
    ref_hash(job->header, want->nonce, h);
    ck_assert_mem_eq(res.hash, h, 32);
    if (threads == 1)
        ck_assert_uint_eq(res.tried, (uint64_t)(want->nonce - job->start) + 1);
}

/* Every implementation this machine and build can run, openssl included. */
static int available_impls(kern_impl out[KERN_IMPL_COUNT])
{
    int n = 0;

    for (int i = 0; i < KERN_IMPL_COUNT; i++) {
        if (kern_impl_available((kern_impl)i))
            out[n++] = (kern_impl)i;
    }
    return n;
}

/* ---- the round code the CUDA kernel shares ----------------------------- */

START_TEST(test_core_vs_openssl)
{
    uint64_t seed = 1;
    uint8_t header[80], target[32] = {0}, want[32], got[32];

    for (int i = 0; i < 5000; i++) {
        kern_prep p;
        uint32_t nonce = (uint32_t)tu_rand(&seed);

        tu_fill(header, sizeof header, &seed);
        kern_prep_init(&p, header, target);
        ref_hash(header, nonce, want);
        kern_sha256d_full(&p, nonce, got);
        ck_assert_mem_eq(got, want, 32);
        /* Word 7 of the state, stored big-endian, is the hash's bytes 28-31. */
        ck_assert_uint_eq(kern_sha256d_h7(&p, kern_bswap32(nonce)), kern_load_be32(want + 28));
    }
}
END_TEST

START_TEST(test_core_compress_abc)
{
    /* FIPS 180-2 "abc" through the bare compression function. */
    uint32_t st[8] = {KERN_IV_0, KERN_IV_1, KERN_IV_2, KERN_IV_3,
                      KERN_IV_4, KERN_IV_5, KERN_IV_6, KERN_IV_7};
    uint32_t w[16] = {0x61626380u, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24};
    uint8_t out[32], want[32];

    kern_sha256_compress(st, w);
    for (int i = 0; i < 8; i++)
        kern_store_be32(out + 4 * i, st[i]);
    SHA256((const unsigned char *)"abc", 3, want);
    ck_assert_mem_eq(out, want, 32);
}
END_TEST

/* ---- names and availability --------------------------------------------- */

START_TEST(test_names)
{
    static const char *const names[] = {"avx512", "avx2", "shani", "generic", "openssl", "cuda"};
    kern_impl impl;
    kern_job job;
    kern_result res;

    for (int i = 0; i < KERN_IMPL_COUNT; i++) {
        ck_assert_str_eq(kern_impl_name((kern_impl)i), names[i]);
        ck_assert_int_eq(kern_impl_from_name(names[i], &impl), 0);
        ck_assert_int_eq(impl, i);
    }
    ck_assert_ptr_null(kern_impl_name(KERN_IMPL_COUNT));
    ck_assert_int_eq(kern_impl_from_name("auto", &impl), SG_EINVAL);
    ck_assert_int_eq(kern_impl_from_name("AVX2", &impl), SG_EINVAL);
    ck_assert_int_eq(kern_impl_available(KERN_IMPL_GENERIC), 1);
    ck_assert_int_eq(kern_impl_available(KERN_IMPL_OPENSSL), 1);
    ck_assert_int_eq(kern_impl_available(KERN_IMPL_COUNT), 0);

    impl = kern_impl_best();
    ck_assert(impl != KERN_IMPL_CUDA && impl != KERN_IMPL_OPENSSL);
    ck_assert_int_eq(kern_impl_available(impl), 1);
    if (kern_impl_available(KERN_IMPL_AVX512))
        ck_assert_int_eq(impl, KERN_IMPL_AVX512);

    memset(&job, 0, sizeof job);
    job.count = 10;
    ck_assert_int_eq(kern_search(KERN_IMPL_COUNT, &job, NULL, &res), SG_EINVAL);
    ck_assert_int_eq(kern_search_mt(KERN_IMPL_COUNT, &job, 2, NULL, &res), SG_EINVAL);
    for (int i = 0; i < KERN_IMPL_COUNT; i++) {
        if (!kern_impl_available((kern_impl)i)) {
            ck_assert_int_eq(kern_search((kern_impl)i, &job, NULL, &res), SG_EUNSUPPORTED);
            ck_assert_int_eq(kern_search_mt((kern_impl)i, &job, 2, NULL, &res),
                             SG_EUNSUPPORTED);
        }
    }
}
END_TEST

/* ---- real Bitcoin mainnet headers --------------------------------------- */

typedef struct {
    uint32_t version;
    const char *prev, *merkle;   /* display order */
    uint32_t time, bits, nonce;
    const char *hash;            /* display order */
} mainnet_block;

static const mainnet_block mainnet[] = {
    {1, "0000000000000000000000000000000000000000000000000000000000000000",
     "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", 1231006505,
     0x1d00ffff, 2083236893, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"},
    {1, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
     "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098", 1231469665,
     0x1d00ffff, 2573394689u, "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"},
    {1, "000000000002d01c1fccc21636b607dfd930d31d01c3a62104612a1719011250",
     "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766", 1293623863,
     0x1b04864c, 274148111, "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506"},
};

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The job for block b with a wrong nonce in the header (the search must
 * not rely on it) and its own bits as the target. */
static void mainnet_job(const mainnet_block *b, kern_job *job)
{
    u256 t;

    memset(job, 0, sizeof *job);
    put_le32(job->header, b->version);
    ck_assert_int_eq(hash_from_hex_display(b->prev, job->header + 4), 0);
    ck_assert_int_eq(hash_from_hex_display(b->merkle, job->header + 36), 0);
    put_le32(job->header + 68, b->time);
    put_le32(job->header + 72, b->bits);
    put_le32(job->header + 76, 12345);
    ck_assert_int_eq(pow_bits_to_target(b->bits, &t), 0);
    u256_to_hash(&t, job->target);
}

START_TEST(test_mainnet_blocks)
{
    kern_impl impls[KERN_IMPL_COUNT];
    int n = available_impls(impls);

    for (int k = 0; k < n; k++) {
        for (size_t i = 0; i < sizeof mainnet / sizeof mainnet[0]; i++) {
            const mainnet_block *b = &mainnet[i];
            kern_job job;
            kern_result res;
            char hex[65];

            mainnet_job(b, &job);
            /* A window of 3001 nonces, starting off any lane boundary. */
            job.start = b->nonce - 1237;
            job.count = 3001;
            ck_assert_msg(kern_search(impls[k], &job, NULL, &res) == 0, "%s, block %zu",
                          kern_impl_name(impls[k]), i);
            ck_assert_uint_eq(res.nonce, b->nonce);
            ck_assert_uint_eq(res.tried, 1238);
            hash_to_hex_display(res.hash, hex);
            ck_assert_str_eq(hex, b->hash);

            ck_assert_int_eq(kern_search_mt(impls[k], &job, 3, NULL, &res), 0);
            ck_assert_uint_eq(res.nonce, b->nonce);
            hash_to_hex_display(res.hash, hex);
            ck_assert_str_eq(hex, b->hash);

            /* The window just after it holds no winner. */
            job.start = b->nonce + 1;
            job.count = 2003;
            ck_assert_int_eq(kern_search(impls[k], &job, NULL, &res), SG_ENOTFOUND);
            ck_assert_uint_eq(res.tried, 2003);
        }
    }
}
END_TEST

/* ---- the GPU kernel library -------------------------------------------- */

/* A missing or wrong library is an error that names it; a closed handle
 * searches nothing.  The built sgcuda.so (in SG_TEST_BIN, when the build
 * had nvcc) must load; with a device, it must find the mainnet nonces. */
START_TEST(test_gpu_loader)
{
    const char *bin = getenv("SG_TEST_BIN");
    char err[512], path[1024];
    kern_gpu g;
    kern_job job;
    kern_result res;

    ck_assert_int_eq(kern_gpu_open(&g, "/nonexistent/sgcuda.so", err, sizeof err),
                     SG_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/sgcuda.so"));
    ck_assert_int_eq(kern_gpu_available(&g), 0);
    memset(&job, 0, sizeof job);
    job.count = 10;
    res.tried = 99;
    ck_assert_int_eq(kern_gpu_search(&g, &job, NULL, &res), SG_EUNSUPPORTED);
    ck_assert_uint_eq(res.tried, 0);
    kern_gpu_close(&g);

    ck_assert_int_eq(kern_gpu_open(&g, "libm.so.6", err, sizeof err), SG_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "kern__cuda_search"));
    ck_assert_ptr_null(g.dl);

    if (bin == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s", bin, KERN_GPU_LIB);
    if (access(path, R_OK) != 0)
        return; /* a build without nvcc */
    ck_assert_msg(kern_gpu_open(&g, path, err, sizeof err) == 0, "%s", err);
    for (size_t i = 0; kern_gpu_available(&g) && i < sizeof mainnet / sizeof mainnet[0]; i++) {
        char hex[65];

        mainnet_job(&mainnet[i], &job);
        job.start = mainnet[i].nonce - 1237;
        job.count = 3001;
        ck_assert_int_eq(kern_gpu_search(&g, &job, NULL, &res), 0);
        ck_assert_uint_eq(res.nonce, mainnet[i].nonce);
        hash_to_hex_display(res.hash, hex);
        ck_assert_str_eq(hex, mainnet[i].hash);
    }
    kern_gpu_close(&g);
}
END_TEST

/* ---- agreement with OpenSSL on random jobs ------------------------------- */

/* A target met with probability about 2^-zero_bits per nonce. */
static void random_target(uint8_t t[32], int zero_bits, uint64_t *seed)
{
    tu_fill(t, 32, seed);
    for (int bit = 255; bit > 255 - zero_bits; bit--)
        t[bit / 8] &= (uint8_t)~(1u << (bit % 8));
    t[(255 - zero_bits) / 8] |= (uint8_t)(1u << ((255 - zero_bits) % 8));
}

START_TEST(test_agree_random)
{
    kern_impl impls[KERN_IMPL_COUNT];
    int n = available_impls(impls);
    uint64_t seed = 42;

    for (int i = 0; i < 3000; i++) {
        kern_job job;

        tu_fill(job.header, sizeof job.header, &seed);
        random_target(job.target, (int)(tu_rand(&seed) % 12), &seed);
        job.start = (uint32_t)tu_rand(&seed);
        job.count = 1 + tu_rand(&seed) % 700;
        if (i % 7 == 0)  /* ranges ending at the last nonce, some asking for more */
            job.start = (uint32_t)(NONCE_LIMIT - 1 - tu_rand(&seed) % 500);
        ref_answer want = ref_answer_of(&job);
        for (int k = 0; k < n; k++)
            check_job(impls[k], &job, 1, "random", &want);
    }
}
END_TEST

/* Ranges longer than one chunk, with sparse winners, on one and several
 * threads: kern_search_mt must give the same lowest nonce. */
START_TEST(test_agree_long_ranges)
{
    kern_impl impls[KERN_IMPL_COUNT];
    int n = available_impls(impls);
    uint64_t seed = 7;

    for (int i = 0; i < 4; i++) {
        kern_job job;

        tu_fill(job.header, sizeof job.header, &seed);
        random_target(job.target, 17, &seed);
        job.start = (uint32_t)tu_rand(&seed);
        job.count = 200000 + tu_rand(&seed) % 1000;
        ref_answer want = ref_answer_of(&job);
        for (int k = 0; k < n; k++) {
            if (impls[k] == KERN_IMPL_OPENSSL || impls[k] == KERN_IMPL_GENERIC)
                continue;  /* slow, and the same chunking is covered below */
            check_job(impls[k], &job, 1, "long", &want);
            check_job(impls[k], &job, 2, "long", &want);
            check_job(impls[k], &job, 3, "long", &want);
        }
    }
}
END_TEST

/*
 * Targets built from one nonce's own hash: in a window, the nonce x with
 * the smallest hash is the only one meeting target = hash(x), and nothing
 * meets hash(x) - 1 (same top 32 bits, so it passes every kernel's cheap
 * word-7 filter and must be turned down by the full comparison).  The range
 * is placed so that x is the last lane of a batch for every vector width
 * (index 16b + 15 from the start), and sometimes the last nonce of the range.
 */
START_TEST(test_last_lane_only)
{
    kern_impl impls[KERN_IMPL_COUNT];
    int n = available_impls(impls);
    uint64_t seed = 99;
    enum { WIN = 1024 };

    for (int i = 0; i < 200; i++) {
        uint8_t best[32], h[32];
        uint32_t w0 = (uint32_t)tu_rand(&seed) % (uint32_t)(NONCE_LIMIT - WIN), x = w0;
        kern_job job;

        if (i % 10 == 0)
            w0 = (uint32_t)(NONCE_LIMIT - WIN);  /* the window ends at 0xffffffff */
        tu_fill(job.header, sizeof job.header, &seed);
        memset(best, 0xff, sizeof best);
        for (uint32_t k = 0; k < WIN; k++) {
            ref_hash(job.header, w0 + k, h);
            if (!ref_meets(best, h)) {  /* h < best */
                memcpy(best, h, 32);
                x = w0 + k;
            }
        }
        if (x - w0 < 15)
            continue;
        uint32_t batches = (x - w0 - 15) / 16;
        job.start = x - 15 - 16 * (uint32_t)(tu_rand(&seed) % (batches + 1));
        job.count = (uint64_t)(x - job.start) + 1;
        if (i % 2 == 1)
            job.count += tu_rand(&seed) % ((uint64_t)w0 + WIN - x);
        memcpy(job.target, best, 32);
        ref_answer want = ref_answer_of(&job), none = {0, 0};
        ck_assert(want.found && want.nonce == x);
        for (int k = 0; k < n; k++) {
            check_job(impls[k], &job, 1, "last lane", &want);
            check_job(impls[k], &job, 2, "last lane", &want);
        }
        lower_by_one(job.target);
        for (int k = 0; k < n; k++)
            check_job(impls[k], &job, 1, "just below the only hash", &none);
    }
}
END_TEST

START_TEST(test_range_edges)
{
    kern_impl impls[KERN_IMPL_COUNT];
    int n = available_impls(impls);
    uint8_t h[32];

    for (int k = 0; k < n; k++) {
        kern_job job;
        kern_result res;

        memset(&job, 0, sizeof job);
        memset(job.header, 0x5a, sizeof job.header);
        /* Only nonce 0xffffffff, searched alone and at the end of a range
         * that asks for more nonces than are left. */
        ref_hash(job.header, UINT32_MAX, h);
        memcpy(job.target, h, 32);
        job.start = UINT32_MAX;
        job.count = 1;
        ck_assert_int_eq(kern_search(impls[k], &job, NULL, &res), 0);
        ck_assert_uint_eq(res.nonce, UINT32_MAX);
        job.start = UINT32_MAX - 40;
        job.count = 1000;
        ref_answer want = ref_answer_of(&job);
        ck_assert(want.found);
        check_job(impls[k], &job, 1, "end of nonce space", &want);
        check_job(impls[k], &job, 2, "end of nonce space", &want);
        lower_by_one(job.target);
        job.start = UINT32_MAX;
        job.count = 1;
        ck_assert_int_eq(kern_search(impls[k], &job, NULL, &res), SG_ENOTFOUND);
        ck_assert_uint_eq(res.tried, 1);
        /* An empty range. */
        job.count = 0;
        ck_assert_int_eq(kern_search(impls[k], &job, NULL, &res), SG_ENOTFOUND);
        ck_assert_uint_eq(res.tried, 0);
        ck_assert_int_eq(kern_search_mt(impls[k], &job, 2, NULL, &res), SG_ENOTFOUND);
        /* Nonce 0 alone. */
        ref_hash(job.header, 0, job.target);
        job.start = 0;
        job.count = 1;
        ck_assert_int_eq(kern_search(impls[k], &job, NULL, &res), 0);
        ck_assert_uint_eq(res.nonce, 0);
    }
}
END_TEST

/* ---- cancellation --------------------------------------------------------- */

typedef struct {
    kern_impl impl;
    unsigned threads;
    kern_job job;
    atomic_int cancel;
    int rc;
    kern_result res;
    struct timespec done;
} cancel_run;

static void *cancel_thread(void *arg)
{
    cancel_run *r = arg;

    r->rc = r->threads == 1 ? kern_search(r->impl, &r->job, &r->cancel, &r->res)
                            : kern_search_mt(r->impl, &r->job, r->threads, &r->cancel, &r->res);
    clock_gettime(CLOCK_MONOTONIC, &r->done);
    return NULL;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* The whole nonce space with a zero target (unreachable), cancelled after
 * 50 ms.  The design bound is 10 ms (the kernels poll every chunk of at
 * most 2^16 nonces, a few ms of work); this shared test box gets 200 ms. */
static void check_cancel(kern_impl impl, unsigned threads)
{
    static const struct timespec wait = {0, 50 * 1000 * 1000};
    cancel_run r;
    pthread_t t;
    struct timespec set;

    memset(&r, 0, sizeof r);
    r.impl = impl;
    r.threads = threads;
    memset(r.job.header, 0x11, sizeof r.job.header);
    r.job.count = NONCE_LIMIT;
    atomic_init(&r.cancel, 0);
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_thread, &r), 0);
    nanosleep(&wait, NULL);
    clock_gettime(CLOCK_MONOTONIC, &set);
    atomic_store(&r.cancel, 1);
    pthread_join(t, NULL);
    ck_assert_msg(r.rc == SG_ECANCELED, "%s x%u: rc %d", kern_impl_name(impl), threads, r.rc);
    ck_assert_msg(ms_between(&set, &r.done) < 200.0, "%s x%u: stopped %.1f ms after the request",
                  kern_impl_name(impl), threads, ms_between(&set, &r.done));
    ck_assert_uint_lt(r.res.tried, NONCE_LIMIT);
}

START_TEST(test_cancel)
{
    kern_impl impls[KERN_IMPL_COUNT];
    int n = available_impls(impls);

    for (int k = 0; k < n; k++) {
        check_cancel(impls[k], 1);
        check_cancel(impls[k], 2);
    }
}
END_TEST

START_TEST(test_cancel_before_start)
{
    kern_job job;
    kern_result res;
    atomic_int cancel;

    memset(&job, 0, sizeof job);
    job.count = NONCE_LIMIT;
    atomic_init(&cancel, 1);
    ck_assert_int_eq(kern_search(KERN_IMPL_GENERIC, &job, &cancel, &res), SG_ECANCELED);
    ck_assert_uint_eq(res.tried, 0);
    ck_assert_int_eq(kern_search_mt(kern_impl_best(), &job, 2, &cancel, &res), SG_ECANCELED);
    ck_assert_uint_eq(res.tried, 0);
}
END_TEST

Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_core_vs_openssl);
    tcase_add_test(tc, test_core_compress_abc);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("search");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_mainnet_blocks);
    tcase_add_test(tc, test_gpu_loader);
    tcase_add_test(tc, test_agree_random);
    tcase_add_test(tc, test_agree_long_ranges);
    tcase_add_test(tc, test_last_lane_only);
    tcase_add_test(tc, test_range_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_cancel_before_start);
    suite_add_tcase(s, tc);
    return s;
}
