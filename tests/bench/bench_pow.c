/*
 * bench_pow - nonce search speed of every available kernel.
 *
 * Each measurement searches the whole nonce space for an unreachable target
 * (zero) and is cancelled after a fixed time; the rate is the nonces the
 * search reports having hashed over the time until it returned, and the time
 * from the cancel request to the return is the stop latency (design bound:
 * 10 ms).  Rates are given at 1 thread and at one thread per online CPU, and
 * as a ratio to the naive OpenSSL loop measured in the same run, and per
 * second of CPU time actually received (on a shared machine the wall rate
 * also measures the neighbours).  The cuda
 * line appears only where a device is usable.
 *
 * usage: bench_pow [SECONDS]   (per measurement; default 2)
 *        bench_pow SECONDS IMPL THREADS
 * The second form makes one measurement and prints `rate=X MH/s` (wall), for
 * scripts that alternate it with another miner (scripts/bench.sh).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/err.h"
#include "kernels/kern.h"
#include "kernels/kern_gpu.h"

typedef struct {
    double mrate;       /* million nonces per second of wall time */
    double cpu_mrate;   /* million nonces per second of CPU time used */
    double stop_ms;     /* cancel request -> search returned */
    int rc;
} bench_run;

typedef struct {
    kern_impl impl;
    const kern_gpu *gpu;    /* impl cuda only */
    unsigned threads;
    kern_job job;
    atomic_int cancel;
    kern_result res;
    int rc;
    struct timespec done;
} bench_search;

static double bench_secs(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void *bench_thread(void *arg)
{
    bench_search *s = arg;

    s->rc = s->impl == KERN_IMPL_CUDA ? kern_gpu_search(s->gpu, &s->job, &s->cancel, &s->res)
                                      : kern_search_mt(s->impl, &s->job, s->threads, &s->cancel,
                                                       &s->res);
    clock_gettime(CLOCK_MONOTONIC, &s->done);
    return NULL;
}

static bench_run bench_one(kern_impl impl, const kern_gpu *gpu, unsigned threads,
                           double seconds)
{
    bench_search s;
    bench_run r = {0, 0, 0, 0};
    struct timespec t0, stop, nap, cpu0, cpu1;
    pthread_t t;

    memset(&s, 0, sizeof s);
    s.impl = impl;
    s.gpu = gpu;
    s.threads = threads;
    for (size_t i = 0; i < sizeof s.job.header; i++)
        s.job.header[i] = (uint8_t)(i * 37 + 11);
    s.job.count = UINT64_C(1) << 32;  /* target stays zero: never met */
    atomic_init(&s.cancel, 0);
    nap.tv_sec = (time_t)seconds;
    nap.tv_nsec = (long)((seconds - (double)nap.tv_sec) * 1e9);

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (pthread_create(&t, NULL, bench_thread, &s) != 0) {
        r.rc = SG_ENOMEM;
        return r;
    }
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &stop);
    atomic_store(&s.cancel, 1);
    pthread_join(t, NULL);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
    r.rc = s.rc == SG_ECANCELED ? 0 : s.rc;
    r.mrate = (double)s.res.tried / bench_secs(&t0, &s.done) / 1e6;
    r.cpu_mrate = (double)s.res.tried / bench_secs(&cpu0, &cpu1) / 1e6;
    r.stop_ms = bench_secs(&stop, &s.done) * 1e3;
    return r;
}

static void bench_print(const char *name, unsigned threads, const bench_run *r,
                        const bench_run *base)
{
    printf("| %-7s | %7u | %10.2f | %10.2f | %9.1f | %10.2f | %9.1f | %7.2f |\n", name,
           threads, r->mrate, r->mrate / threads, r->mrate / base->mrate, r->cpu_mrate,
           r->cpu_mrate / base->cpu_mrate, r->stop_ms);
    fflush(stdout);
}

static void bench_row(kern_impl impl, const kern_gpu *gpu, unsigned threads, double seconds,
                      const bench_run *base)
{
    bench_run r = bench_one(impl, gpu, threads, seconds);

    if (r.rc != 0)
        printf("| %-7s | %7u | failed: %s |\n", kern_impl_name(impl), threads, sg_strerror(r.rc));
    else
        bench_print(kern_impl_name(impl), threads, &r, base);
}

static int bench_single(const char *name, const char *threads_arg, double seconds)
{
    int threads = atoi(threads_arg);
    kern_impl impl;
    bench_run r;

    if (kern_impl_from_name(name, &impl) != 0 || impl == KERN_IMPL_CUDA ||
        !kern_impl_available(impl) || threads < 1 || threads > 1024) {
        fprintf(stderr, "bench_pow: want an available CPU kernel and 1..1024 threads; got "
                "'%s' '%s'\n", name, threads_arg);
        return 2;
    }
    r = bench_one(impl, NULL, (unsigned)threads, seconds);
    if (r.rc != 0) {
        fprintf(stderr, "bench_pow: the search failed: %s\n", sg_strerror(r.rc));
        return 1;
    }
    printf("rate=%.2f MH/s impl=%s threads=%d cpu_rate=%.2f\n", r.mrate, name, threads,
           r.cpu_mrate);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned all = ncpu > 0 ? (unsigned)ncpu : 1;
    static const kern_impl cpu[] = {KERN_IMPL_AVX512, KERN_IMPL_SHANI, KERN_IMPL_AVX2,
                                    KERN_IMPL_GENERIC};
    bench_run base1, baseall;
    kern_gpu gpu;
    char why[512];

    if (seconds <= 0 || seconds > 600 || (argc != 1 && argc != 2 && argc != 4)) {
        fprintf(stderr, "usage: bench_pow [SECONDS [IMPL THREADS]]  (per measurement, "
                "0 < SECONDS <= 600)\n");
        return 2;
    }
    if (argc == 4)
        return bench_single(argv[2], argv[3], seconds);
    printf("PoW nonce search: sha256d over an 80-byte header, %.1f s per measurement, "
           "%u online CPUs; best CPU kernel here: %s\n\n", seconds, all,
           kern_impl_name(kern_impl_best()));
    printf("| impl    | threads | M nonces/s | per thread | x openssl | per CPU-s  | x openssl | stop ms |\n");
    printf("|---------|---------|------------|------------|-----------|------------|-----------|---------|\n");

    /* The baseline first, at both thread counts, so every ratio compares
     * like with like. */
    base1 = bench_one(KERN_IMPL_OPENSSL, NULL, 1, seconds);
    baseall = all > 1 ? bench_one(KERN_IMPL_OPENSSL, NULL, all, seconds) : base1;
    if (base1.rc != 0 || baseall.rc != 0) {
        fprintf(stderr, "bench_pow: the openssl baseline failed: %s\n",
                sg_strerror(base1.rc != 0 ? base1.rc : baseall.rc));
        return 1;
    }
    bench_print("openssl", 1, &base1, &base1);
    if (all > 1)
        bench_print("openssl", all, &baseall, &baseall);

    for (size_t i = 0; i < sizeof cpu / sizeof cpu[0]; i++) {
        if (!kern_impl_available(cpu[i])) {
            printf("| %-7s | - | not available on this CPU |\n", kern_impl_name(cpu[i]));
            continue;
        }
        bench_row(cpu[i], NULL, 1, seconds, &base1);
        if (all > 1)
            bench_row(cpu[i], NULL, all, seconds, &baseall);
    }
    if (kern_gpu_open(&gpu, NULL, why, sizeof why) == 0 && kern_gpu_available(&gpu))
        bench_row(KERN_IMPL_CUDA, &gpu, 1, seconds, &baseall);
    else
        printf("\n(no cuda line: %s)\n",
               gpu.dl != NULL ? "the CUDA runtime sees no device" : why);
    kern_gpu_close(&gpu);
    printf("\nx openssl: against the openssl row with the same thread count (cuda: against "
           "all CPUs),\nfirst for the wall rate, then for the CPU-time rate.  per CPU-s: M "
           "nonces per second\nof CPU time the process got (= wall rate / threads when "
           "nothing else competes for\nthe cores).  stop ms: cancel request to return.\n");
    return 0;
}
