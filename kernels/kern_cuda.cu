/*
 * kern_cuda.cu - the GPU nonce search (first CUDA device).
 *
 * The host prepares the midstate and the other nonce-independent values
 * (kern_prep, passed by value as a kernel argument).  Each thread hashes one
 * nonce per step of a grid-stride loop with the same round code the CPU
 * kernels use (sha256_tmpl.h through sha256_core.h, which the unit tests
 * check against OpenSSL on the host).  A winner is recorded with atomicMin
 * on its offset, which doubles as the found flag: every thread stops as soon
 * as its next nonce lies above the best so far, so the search exits early
 * and still reports the lowest winning nonce, as the CPU kernels do.  The
 * host launches the range in slices so that it can notice a cancel request
 * between them.
 *
 * Built as its own shared object (sgcuda.so, see kern_gpu.h) so that only
 * a program asked for a GPU maps the CUDA runtime.
 */
#include <cuda_runtime.h>
#include <stdio.h>

#include "common/base/err.h"
#include "kern_internal.h"

/* Nonces per launch: a few ms on a current GPU, which bounds how long a
 * cancel request waits. */
#define KERN_CUDA_SLICE (1u << 24)
#define KERN_CUDA_BLOCK 256
#define KERN_CUDA_NONE 0xffffffffu

__global__ void kern_cuda_scan(kern_prep p, uint32_t start, uint32_t n, uint32_t *best)
{
    uint32_t stride = gridDim.x * blockDim.x;

    for (uint32_t off = blockIdx.x * blockDim.x + threadIdx.x; off < n; off += stride) {
        uint32_t nonce = start + off;
        uint32_t h7;

        if (off > *(volatile uint32_t *)best)
            return;
        h7 = kern_sha256d_h7(&p, kern_bswap32(nonce));
        if (kern_bswap32(h7) <= p.t7) {
            uint8_t hash[32];

            kern_sha256d_full(&p, nonce, hash);
            if (kern_hash_meets(hash, p.target))
                atomicMin(best, off);
        }
    }
}

extern "C" int kern__cuda_device(char *name, size_t cap)
{
    cudaDeviceProp prop;
    int n = 0;

    if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
        cudaGetLastError(); /* clear the sticky "no device" error */
        return 0;
    }
    if (cap > 0) {
        name[0] = '\0';
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
            snprintf(name, cap, "%s", prop.name);
    }
    return n;
}

/* Blocks enough to fill every SM a few times over; the grid-stride loop
 * covers the rest of a slice. */
static int kern_cuda_grid(int *blocks)
{
    int sms = 0;

    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess)
        return SG_EIO;
    *blocks = (sms > 0 ? sms : 1) * 32;
    return 0;
}

extern "C" int kern__cuda_search(const kern_prep *p, uint32_t start, uint64_t count,
                                 int (*stop)(void *arg), void *arg, uint32_t *found,
                                 uint64_t *tried)
{
    uint32_t *best = NULL, host_best;
    uint64_t done = 0;
    int blocks, rc = SG_ENOTFOUND;

    *tried = 0;
    if (cudaSetDevice(0) != cudaSuccess || kern_cuda_grid(&blocks) != 0 ||
        cudaMalloc(&best, sizeof *best) != cudaSuccess) {
        rc = SG_EIO;
        goto out;
    }
    while (done < count) {
        uint32_t n = count - done < KERN_CUDA_SLICE ? (uint32_t)(count - done) : KERN_CUDA_SLICE;
        uint32_t first = start + (uint32_t)done;

        if (stop(arg)) {
            rc = SG_ECANCELED;
            goto out;
        }
        host_best = KERN_CUDA_NONE;
        if (cudaMemcpy(best, &host_best, sizeof host_best, cudaMemcpyHostToDevice) != cudaSuccess) {
            rc = SG_EIO;
            goto out;
        }
        kern_cuda_scan<<<blocks, KERN_CUDA_BLOCK>>>(*p, first, n, best);
        if (cudaGetLastError() != cudaSuccess ||
            cudaMemcpy(&host_best, best, sizeof host_best, cudaMemcpyDeviceToHost) != cudaSuccess) {
            rc = SG_EIO;
            goto out;
        }
        if (host_best != KERN_CUDA_NONE) {
            *found = first + host_best;
            *tried += (uint64_t)host_best + 1;
            rc = 0;
            goto out;
        }
        done += n;
        *tried += n;
    }
out:
    if (best != NULL)
        cudaFree(best);
    return rc;
}
