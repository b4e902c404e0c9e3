/*
 * kern.h - proof-of-work nonce search over an 80-byte block header.
 *
 * Implementations, chosen at run time by what the machine has:
 *   avx512   16 nonces per vector (AVX-512F)
 *   avx2     8 nonces per vector
 *   shani    the SHA extensions, several nonces interleaved
 *   generic  portable C, one nonce at a time
 *   openssl  two EVP digests per nonce: the naive baseline, for comparison
 *   cuda     the GPU kernel (kern_cuda.cu), first CUDA device: a name only
 *            here; it lives in a shared object that kern_gpu.h loads, and
 *            kern_search/kern_impl_available treat it as absent
 * All of them return the same answer for the same job: the lowest nonce in
 * the range whose hash meets the target (kern_search_mt too).
 *
 * Ownership: the library keeps nothing.  Jobs and results belong to the
 * caller; no global state, so any number of searches may run at once.
 */
#ifndef KERN_H
#define KERN_H

#include <stdatomic.h>
#include <stdint.h>

typedef enum kern_impl {
    KERN_IMPL_AVX512 = 0,
    KERN_IMPL_AVX2,
    KERN_IMPL_SHANI,
    KERN_IMPL_GENERIC,
    KERN_IMPL_OPENSSL,
    KERN_IMPL_CUDA,
    KERN_IMPL_COUNT
} kern_impl;

typedef struct kern_job {
    uint8_t header[80];   /* wire order; its nonce (bytes 76-79) is ignored */
    uint8_t target[32];   /* little-endian 256-bit number: hash <= target wins */
    uint32_t start;       /* first nonce tried */
    uint64_t count;       /* nonces to try; the range stops at 0xffffffff */
} kern_job;

typedef struct kern_result {
    uint32_t nonce;       /* valid when the search returned 0 */
    uint8_t hash[32];     /* sha256d of the header with that nonce, internal order */
    uint64_t tried;       /* nonces hashed; set on every return */
} kern_result;

/* "avx512", "avx2", ...; NULL for a value outside the enum. */
const char *kern_impl_name(kern_impl impl);
/* Name -> impl.  0, or SG_EINVAL for an unknown name. */
int kern_impl_from_name(const char *name, kern_impl *impl);
/* 1 if this build and this machine can run impl (CPU features checked with
 * CPUID, which includes the OS saving the vector state), else 0; always 0
 * for cuda (see kern_gpu_available). */
int kern_impl_available(kern_impl impl);
/* The fastest CPU implementation available here (never cuda, never
 * openssl): avx512, else shani, else avx2, else generic. */
kern_impl kern_impl_best(void);

/* Searches job->count nonces from job->start on the calling thread.
 * cancel may be NULL; when non-NULL and it becomes nonzero the search
 * returns SG_ECANCELED within one chunk (at most 2^16 nonces, about 2 ms
 * for every implementation).  Returns 0 (found: res->nonce is the lowest
 * winning nonce, res->hash its hash), SG_ENOTFOUND, SG_ECANCELED,
 * SG_EUNSUPPORTED (impl not available: cuda always, see kern_gpu_search) or
 * SG_EINVAL (impl out of range). */
int kern_search(kern_impl impl, const kern_job *job, const atomic_int *cancel,
                kern_result *res);

/* The same over `threads` threads (0 = one per online CPU).  Threads take chunks of the range in increasing order
 * and stop once a lower nonce has won, so the answer is the same lowest
 * nonce kern_search gives, and the threads stop a chunk after the first
 * find.  Also SG_ENOMEM if no thread could be started. */
int kern_search_mt(kern_impl impl, const kern_job *job, unsigned threads,
                   const atomic_int *cancel, kern_result *res);

#endif
