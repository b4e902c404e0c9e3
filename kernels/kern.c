/* kern.c - choosing an implementation, chunking, cancellation, threads. */
#include "kern.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __x86_64__
#include <cpuid.h>
#endif

#include "common/base/err.h"
#include "kern_internal.h"

#define KERN_MAX_THREADS 1024

static const char *const kern_names[KERN_IMPL_COUNT] = {
    [KERN_IMPL_AVX512] = "avx512",   [KERN_IMPL_AVX2] = "avx2",
    [KERN_IMPL_SHANI] = "shani",     [KERN_IMPL_GENERIC] = "generic",
    [KERN_IMPL_OPENSSL] = "openssl", [KERN_IMPL_CUDA] = "cuda",
};

const char *kern_impl_name(kern_impl impl)
{
    if ((unsigned)impl >= KERN_IMPL_COUNT)
        return NULL;
    return kern_names[impl];
}

int kern_impl_from_name(const char *name, kern_impl *impl)
{
    for (int i = 0; i < KERN_IMPL_COUNT; i++) {
        if (strcmp(name, kern_names[i]) == 0) {
            *impl = (kern_impl)i;
            return 0;
        }
    }
    return SG_EINVAL;
}

#ifdef KERN_X86
/* CPUID leaf 7 EBX bit 29.  The SHA instructions work on XMM registers,
 * whose state every x86-64 OS saves, so no XGETBV check is needed;
 * __builtin_cpu_supports does that check for AVX2 and AVX-512. */
static int kern_cpu_has_sha(void)
{
    unsigned a, b, c, d;

    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b >> 29) & 1;
}
#endif

int kern_impl_available(kern_impl impl)
{
#ifdef KERN_X86
    __builtin_cpu_init();
#endif
    switch (impl) {
#ifdef KERN_X86
    case KERN_IMPL_AVX512:
        return __builtin_cpu_supports("avx512f") != 0;
    case KERN_IMPL_AVX2:
        return __builtin_cpu_supports("avx2") != 0;
    case KERN_IMPL_SHANI:
        return kern_cpu_has_sha() && __builtin_cpu_supports("sse4.1") != 0;
#endif
    case KERN_IMPL_GENERIC:
    case KERN_IMPL_OPENSSL:
        return 1;
    case KERN_IMPL_CUDA: /* only through kern_gpu.h, which loads it */
    default:
        return 0;
    }
}

kern_impl kern_impl_best(void)
{
    static const kern_impl order[] = {KERN_IMPL_AVX512, KERN_IMPL_SHANI, KERN_IMPL_AVX2};

    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (kern_impl_available(order[i]))
            return order[i];
    }
    return KERN_IMPL_GENERIC;
}

/* Nonces per scanner call, and so the cancel-polling interval: about 2 ms
 * of one core's work for each implementation (avx512 ~35 M/s, shani ~20,
 * avx2 ~10, generic ~2, openssl ~1.5 on the Zen 5 of docs/BENCHMARKS.md),
 * well inside the 10 ms stop bound even on slower machines. */
static uint32_t kern_chunk(kern_impl impl)
{
    switch (impl) {
    case KERN_IMPL_AVX512:
        return 1u << 16;
    case KERN_IMPL_SHANI:
        return 1u << 15;
    case KERN_IMPL_AVX2:
        return 1u << 14;
    case KERN_IMPL_GENERIC:
        return 1u << 12;
    default:
        return 1u << 11;
    }
}

static kern__scan_fn kern_scanner(kern_impl impl)
{
    switch (impl) {
#ifdef KERN_X86
    case KERN_IMPL_AVX512:
        return kern__scan_avx512;
    case KERN_IMPL_AVX2:
        return kern__scan_avx2;
    case KERN_IMPL_SHANI:
        return kern__scan_shani;
#endif
    case KERN_IMPL_GENERIC:
        return kern__scan_generic;
    case KERN_IMPL_OPENSSL:
        return kern__scan_openssl;
    default:
        return NULL;
    }
}

/* Nonces in the job's range: count, clipped where the nonce would pass
 * 0xffffffff. */
static uint64_t kern_span(const kern_job *job)
{
    uint64_t room = (uint64_t)UINT32_MAX - job->start + 1;

    return job->count < room ? job->count : room;
}

static int kern_canceled(const atomic_int *cancel)
{
    return cancel != NULL && atomic_load_explicit(cancel, memory_order_relaxed) != 0;
}

static void kern_found(const kern_prep *p, uint32_t nonce, kern_result *res)
{
    res->nonce = nonce;
    kern_sha256d_full(p, nonce, res->hash);
}

int kern_search(kern_impl impl, const kern_job *job, const atomic_int *cancel, kern_result *res)
{
    kern__scan_fn scan;
    kern_prep p;
    uint64_t span, done;
    uint32_t chunk;

    res->tried = 0;
    if ((unsigned)impl >= KERN_IMPL_COUNT)
        return SG_EINVAL;
    if (!kern_impl_available(impl))
        return SG_EUNSUPPORTED;
    kern_prep_init(&p, job->header, job->target);
    scan = kern_scanner(impl);
    chunk = kern_chunk(impl);
    span = kern_span(job);
    for (done = 0; done < span; done += chunk) {
        uint32_t n = span - done < chunk ? (uint32_t)(span - done) : chunk;
        uint32_t start = job->start + (uint32_t)done, nonce;
        int rc;

        if (kern_canceled(cancel))
            return SG_ECANCELED;
        rc = scan(&p, start, n, &nonce);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            res->tried += (uint64_t)(nonce - start) + 1;
            kern_found(&p, nonce, res);
            return 0;
        }
        res->tried += n;
    }
    return SG_ENOTFOUND;
}

/* Shared by the threads of one kern_search_mt call. */
typedef struct {
    const kern_prep *prep;
    kern__scan_fn scan;
    const atomic_int *cancel;
    uint64_t start, end;        /* nonces [start, end) */
    uint32_t chunk;
    atomic_uint_fast64_t next;  /* index of the next chunk to take */
    atomic_uint_fast64_t best;  /* lowest winning nonce so far; UINT64_MAX: none */
    atomic_uint_fast64_t tried;
    atomic_int canceled;
    atomic_int error;           /* first scanner error, or 0 */
} kern_mt;

static void kern_mt_lower_best(kern_mt *mt, uint64_t nonce)
{
    uint_fast64_t cur = atomic_load(&mt->best);

    while (nonce < cur && !atomic_compare_exchange_weak(&mt->best, &cur, nonce))
        ;
}

/* Chunks are taken in increasing order, so once a chunk starts above the
 * best nonce so far, every later one does too: the thread can stop, and
 * every chunk below the winner is still searched to the end. */
static void *kern_mt_worker(void *arg)
{
    kern_mt *mt = arg;

    for (;;) {
        uint64_t c = atomic_fetch_add(&mt->next, 1);
        uint64_t first = mt->start + c * mt->chunk;
        uint32_t n, nonce;
        int rc;

        if (first >= mt->end || first > atomic_load(&mt->best) || atomic_load(&mt->error))
            break;
        if (kern_canceled(mt->cancel)) {
            atomic_store(&mt->canceled, 1);
            break;
        }
        n = mt->end - first < mt->chunk ? (uint32_t)(mt->end - first) : mt->chunk;
        rc = mt->scan(mt->prep, (uint32_t)first, n, &nonce);
        if (rc < 0) {
            atomic_store(&mt->error, rc);
            break;
        }
        atomic_fetch_add(&mt->tried, rc == 1 ? (uint64_t)(nonce - first) + 1 : n);
        if (rc == 1)
            kern_mt_lower_best(mt, nonce);
    }
    return NULL;
}

static unsigned kern_mt_threads(unsigned threads, uint64_t span, uint32_t chunk)
{
    uint64_t chunks = (span + chunk - 1) / chunk;

    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (threads > KERN_MAX_THREADS)
        threads = KERN_MAX_THREADS;
    if (threads > chunks)
        threads = chunks > 0 ? (unsigned)chunks : 1;
    return threads;
}

static int kern_mt_finish(kern_mt *mt, kern_result *res)
{
    uint64_t best = atomic_load(&mt->best);

    res->tried = atomic_load(&mt->tried);
    if (best != UINT64_MAX) {
        kern_found(mt->prep, (uint32_t)best, res);
        return 0;
    }
    if (atomic_load(&mt->error))
        return atomic_load(&mt->error);
    return atomic_load(&mt->canceled) ? SG_ECANCELED : SG_ENOTFOUND;
}

int kern_search_mt(kern_impl impl, const kern_job *job, unsigned threads,
                   const atomic_int *cancel, kern_result *res)
{
    pthread_t tid[KERN_MAX_THREADS];
    kern_prep p;
    kern_mt mt;
    unsigned n, started = 0;

    if ((unsigned)impl >= KERN_IMPL_COUNT)
        return SG_EINVAL;
    if (threads == 1)
        return kern_search(impl, job, cancel, res);
    res->tried = 0;
    if (!kern_impl_available(impl))
        return SG_EUNSUPPORTED;

    kern_prep_init(&p, job->header, job->target);
    mt.prep = &p;
    mt.scan = kern_scanner(impl);
    mt.cancel = cancel;
    mt.start = job->start;
    mt.end = job->start + kern_span(job);
    mt.chunk = kern_chunk(impl);
    atomic_init(&mt.next, 0);
    atomic_init(&mt.best, UINT64_MAX);
    atomic_init(&mt.tried, 0);
    atomic_init(&mt.canceled, 0);
    atomic_init(&mt.error, 0);

    n = kern_mt_threads(threads, mt.end - mt.start, mt.chunk);
    while (started < n && pthread_create(&tid[started], NULL, kern_mt_worker, &mt) == 0)
        started++;
    if (started == 0)
        return SG_ENOMEM;
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    return kern_mt_finish(&mt, res);
}
