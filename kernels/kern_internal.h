/*
 * kern_internal.h - what the implementations share inside kernels/.
 *
 * A scanner hashes n nonces from start (1 <= n, start + n - 1 <= 0xffffffff)
 * for a prepared job and reports the lowest one whose hash meets the
 * target.  Scanners know nothing of threads or cancellation: kern.c calls
 * them one chunk at a time and checks the cancel flag in between.
 */
#ifndef KERN_INTERNAL_H
#define KERN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "sha256_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__x86_64__) || defined(__i386__)
#define KERN_X86 1
#endif

/* 1 and *found set, 0, or a negative SG_E* code (only openssl can fail). */
typedef int (*kern__scan_fn)(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found);

int kern__scan_generic(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found);
int kern__scan_openssl(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found);
#ifdef KERN_X86
int kern__scan_avx2(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found);
int kern__scan_avx512(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found);
int kern__scan_shani(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found);
#endif

/* kern_cuda.cu, built as its own shared object and reached through
 * kern_gpu.c's dlsym, never linked into a program.  kern__cuda_device: the
 * number of CUDA devices (0 on any failure) and device 0's name.
 * kern__cuda_search: the whole range on device 0, asking stop(arg) between
 * kernel launches; 0 found, SG_ENOTFOUND, SG_ECANCELED, or SG_EIO when a
 * CUDA call fails.  *tried is set on every return. */
int kern__cuda_device(char *name, size_t cap);
int kern__cuda_search(const kern_prep *p, uint32_t start, uint64_t count,
                      int (*stop)(void *arg), void *arg, uint32_t *found, uint64_t *tried);

/* Vector scanners call this with the lanes whose word 7 passed the cheap
 * filter (bit i = nonce base + i); lanes at or past n are outside the range.
 * Confirms each with the full hash, lowest lane first. */
static inline int kern__confirm(const kern_prep *p, uint32_t base, uint32_t mask, uint32_t n,
                                uint32_t *found)
{
    while (mask != 0) {
        uint32_t lane = (uint32_t)__builtin_ctz(mask);
        uint8_t hash[32];

        if (lane >= n)
            return 0;
        kern_sha256d_full(p, base + lane, hash);
        if (kern_hash_meets(hash, p->target)) {
            *found = base + lane;
            return 1;
        }
        mask &= mask - 1;
    }
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif
