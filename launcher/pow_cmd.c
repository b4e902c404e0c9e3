/* pow_cmd.c - `launcher pow`: parse, pick a kernel, search, report. */
#include "pow_cmd.h"
#include "common/base/clock.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/base/units.h"
#include "common/core/hash.h"
#include "common/core/pow.h"
#include "kernels/kern.h"
#include "kernels/kern_gpu.h"

#define POW_EXIT_FOUND 0
#define POW_EXIT_NOTFOUND 1
#define POW_EXIT_USAGE 2
#define POW_EXIT_FAILED 3
#define POW_MAX_THREADS 1024
#define POW_NONCES (UINT64_C(1) << 32)

typedef struct {
    uint8_t header[80];
    int have_header;
    uint32_t start;
    uint64_t count;          /* 0: to the end of the nonce space */
    uint32_t bits;
    int have_bits;
    int difficulty;          /* 0: not given */
    unsigned threads;        /* 0: one per online CPU */
    const char *impl;        /* NULL: auto */
    int use_gpu;
} pow_opts;

static const char pow_help[] =
    "usage: launcher pow --header HEX [--start N] [--count N]\n"
    "                    [--bits HEX | --difficulty N] [--threads N]\n"
    "                    [--impl auto|avx512|avx2|shani|generic|openssl|cuda] [--use-gpu]\n"
    "\n"
    "Searches nonces start .. start+count-1 (stopping at 4294967295) of an 80-byte\n"
    "block header for the lowest one whose sha256d meets the target.\n"
    "  --header HEX     the header as 160 hex digits in wire byte order; its own\n"
    "                   nonce is replaced by the search\n"
    "  --start N        first nonce (default 0)\n"
    "  --count N        nonces to try, 1..4294967296 (default: to the end)\n"
    "  --bits HEX       compact target (default: the header's own bits field)\n"
    "  --difficulty N   target 2^(256-4N)-1 as compact bits, N = 1..63\n"
    "  --threads N      CPU threads, 1..1024 (default: one per online CPU)\n"
    "  --impl NAME      kernel (default auto: the fastest this CPU has)\n"
    "  --use-gpu        the first CUDA device; without one, a warning and the CPU\n"
    "                   (the GPU kernel is sgcuda.so next to this program, or\n"
    "                   the file $SG_CUDA_LIB names)\n"
    "Prints `found nonce=N hash=HASH` (hash as block explorers show it) or\n"
    "`not found`, then `rate=X MH/s impl=NAME threads=N`.\n"
    "Exit status: 0 found, 1 not found, 2 bad input, 3 the search failed.\n";

static int pow_bad(const char *fmt, ...)
{
    va_list ap;

    fputs("launcher pow: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return POW_EXIT_USAGE;
}

static int pow_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Decimal only, no sign, no spaces: what a script would pass. */
static int pow_set_header(pow_opts *o, const char *v)
{
    size_t len = strlen(v);

    if (len != 160)
        return pow_bad("--header must be 160 hex digits (an 80-byte block header); got %zu",
                       len);
    for (size_t i = 0; i < len; i++) {
        if (!pow_is_hex(v[i]))
            return pow_bad("--header must be 160 hex digits (an 80-byte block header); "
                           "character %zu is '%c'", i + 1, v[i]);
    }
    if (hash_unhex(v, o->header, sizeof o->header) != 0)
        return pow_bad("--header could not be parsed as hex");
    o->have_header = 1;
    return 0;
}

static int pow_set_bits(pow_opts *o, const char *v)
{
    const char *d = (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) ? v + 2 : v;
    size_t len = strlen(d);
    unsigned long bits;

    for (size_t i = 0; i < len; i++) {
        if (!pow_is_hex(d[i]))
            len = 0;
    }
    if (len == 0 || len > 8)
        return pow_bad("--bits must be a compact target of 1 to 8 hex digits "
                       "(e.g. 1d00ffff); got '%s'", v);
    bits = strtoul(d, NULL, 16);
    o->bits = (uint32_t)bits;
    o->have_bits = 1;
    return 0;
}

/* One option with its value (from "--name=value" or the next argument). */
static int pow_option(pow_opts *o, const char *name, const char *v)
{
    uint64_t n;

    if (strcmp(name, "--header") == 0)
        return pow_set_header(o, v);
    if (strcmp(name, "--bits") == 0)
        return pow_set_bits(o, v);
    if (strcmp(name, "--impl") == 0) {
        o->impl = v;
        return 0;
    }
    if (strcmp(name, "--start") == 0) {
        if (units_parse_u64(v, strlen(v), 0, UINT32_MAX, &n) != 0)
            return pow_bad("--start must be a nonce from 0 to 4294967295; got '%s'", v);
        o->start = (uint32_t)n;
    } else if (strcmp(name, "--count") == 0) {
        if (units_parse_u64(v, strlen(v), 1, POW_NONCES, &n) != 0)
            return pow_bad("--count must be a number of nonces from 1 to 4294967296; got '%s'",
                           v);
        o->count = n;
    } else if (strcmp(name, "--difficulty") == 0) {
        if (units_parse_u64(v, strlen(v), 1, 63, &n) != 0)
            return pow_bad("--difficulty must be a number of leading zero hex digits "
                           "from 1 to 63; got '%s'", v);
        o->difficulty = (int)n;
    } else if (strcmp(name, "--threads") == 0) {
        if (units_parse_u64(v, strlen(v), 1, POW_MAX_THREADS, &n) != 0)
            return pow_bad("--threads must be from 1 to %d; got '%s'", POW_MAX_THREADS, v);
        o->threads = (unsigned)n;
    }
    return 0;
}

static int pow_takes_value(const char *name)
{
    static const char *const names[] = {"--header", "--start", "--count", "--bits",
                                        "--difficulty", "--threads", "--impl"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0)
            return 1;
    }
    return 0;
}

/* 0 to go on, or an exit status (help printed, or a bad argument). */
static int pow_parse(int argc, char **argv, pow_opts *o)
{
    for (int i = 1; i < argc; i++) {
        char name[32];
        const char *arg = argv[i], *eq = strchr(arg, '='), *v;
        size_t nlen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        int rc;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(pow_help, stdout);
            return -1;
        }
        if (strcmp(arg, "--use-gpu") == 0) {
            o->use_gpu = 1;
            continue;
        }
        if (nlen >= sizeof name || strncmp(arg, "--", 2) != 0)
            return pow_bad("unexpected argument '%s' (see launcher pow --help)", arg);
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        if (!pow_takes_value(name))
            return pow_bad("unknown option '%s' (see launcher pow --help)", name);
        if (eq != NULL) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            return pow_bad("%s needs a value (see launcher pow --help)", name);
        }
        if ((rc = pow_option(o, name, v)) != 0)
            return rc;
    }
    if (!o->have_header)
        return pow_bad("--header is required: the 80-byte block header as 160 hex digits");
    if (o->have_bits && o->difficulty != 0)
        return pow_bad("give --bits or --difficulty, not both");
    return 0;
}

/* The target as the kernels take it: 32 bytes, a little-endian number. */
static int pow_target(const pow_opts *o, uint8_t target[32])
{
    uint32_t bits = o->bits;
    const char *from = "--bits";
    u256 t;
    int rc;

    if (o->difficulty != 0) {
        if (pow_difficulty_to_bits(o->difficulty, &bits) != 0)
            return pow_bad("--difficulty %d has no compact target", o->difficulty);
    } else if (!o->have_bits) {
        bits = (uint32_t)o->header[72] | (uint32_t)o->header[73] << 8 |
               (uint32_t)o->header[74] << 16 | (uint32_t)o->header[75] << 24;
        from = "the header's bits field";
    }
    rc = pow_bits_to_target(bits, &t); /* t is zero when bits are bad */
    u256_to_hash(&t, target);
    if (rc != 0 || hash_is_zero(target))
        return pow_bad("%s 0x%08x is not a usable compact target (negative, zero or over "
                       "2^256)", from, (unsigned)bits);
    return 0;
}

/* The GPU kernel library is loaded only here, when cuda is asked for.
 * 0, or SG_ENOTFOUND with the reason in why. */
static int pow_open_gpu(kern_gpu *gpu, char *why, size_t cap)
{
    if (kern_gpu_open(gpu, NULL, why, cap) != 0)
        return SG_ENOTFOUND;
    if (kern_gpu_available(gpu)) {
        fprintf(stderr, "launcher pow: CUDA device 0: %s\n", gpu->device);
        return 0;
    }
    snprintf(why, cap, "%.400s loaded, but the CUDA runtime sees no device", gpu->path);
    kern_gpu_close(gpu);
    return SG_ENOTFOUND;
}

static int pow_pick_impl(const pow_opts *o, kern_gpu *gpu, kern_impl *impl)
{
    int want_auto = o->impl == NULL || strcmp(o->impl, "auto") == 0;
    char why[512];

    if (!want_auto && kern_impl_from_name(o->impl, impl) != 0)
        return pow_bad("--impl must be one of auto, avx512, avx2, shani, generic, openssl, "
                       "cuda; got '%s'", o->impl);
    if (o->use_gpu) {
        if (pow_open_gpu(gpu, why, sizeof why) == 0) {
            *impl = KERN_IMPL_CUDA;
            return 0;
        }
        if (want_auto || *impl == KERN_IMPL_CUDA)
            *impl = kern_impl_best();
        fprintf(stderr, "launcher pow: warning: --use-gpu: no usable CUDA device (%s); "
                "searching on the CPU with %s\n", why, kern_impl_name(*impl));
    } else if (want_auto) {
        *impl = kern_impl_best();
    } else if (*impl == KERN_IMPL_CUDA) {
        if (pow_open_gpu(gpu, why, sizeof why) == 0)
            return 0;
        return pow_bad("--impl cuda: no usable CUDA device (%s)", why);
    }
    if (!kern_impl_available(*impl))
        return pow_bad("--impl %s is not available on this machine or in this build",
                       kern_impl_name(*impl));
    return 0;
}

int pow_cmd_main(int argc, char **argv)
{
    pow_opts o;
    kern_job job;
    kern_result res;
    kern_impl impl = KERN_IMPL_GENERIC;
    kern_gpu gpu = {0};
    double t0, secs;
    int rc;

    memset(&o, 0, sizeof o);
    if ((rc = pow_parse(argc, argv, &o)) != 0)
        return rc < 0 ? 0 : rc;
    memcpy(job.header, o.header, sizeof job.header);
    if ((rc = pow_target(&o, job.target)) != 0 || (rc = pow_pick_impl(&o, &gpu, &impl)) != 0)
        return rc;
    job.start = o.start;
    job.count = o.count != 0 ? o.count : POW_NONCES - o.start;
    if (o.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n < 1 ? 1 : n > POW_MAX_THREADS ? POW_MAX_THREADS : (unsigned)n;
    }
    if (impl == KERN_IMPL_CUDA)
        o.threads = 1;

    t0 = clock_mono_s();
    rc = impl == KERN_IMPL_CUDA ? kern_gpu_search(&gpu, &job, NULL, &res)
                                : kern_search_mt(impl, &job, o.threads, NULL, &res);
    secs = clock_mono_s() - t0;
    kern_gpu_close(&gpu);
    if (rc != 0 && rc != SG_ENOTFOUND) {
        fprintf(stderr, "launcher pow: the search failed: %s\n", sg_strerror(rc));
        return POW_EXIT_FAILED;
    }
    if (rc == 0) {
        char hex[65];

        hash_to_hex_display(res.hash, hex);
        printf("found nonce=%u hash=%s\n", (unsigned)res.nonce, hex);
    } else {
        printf("not found\n");
    }
    printf("rate=%.2f MH/s impl=%s threads=%u\n",
           secs > 0 ? (double)res.tried / secs / 1e6 : 0.0, kern_impl_name(impl), o.threads);
    return rc == 0 ? POW_EXIT_FOUND : POW_EXIT_NOTFOUND;
}
