/*
 * kern_gpu.h - the CUDA nonce search, loaded on demand.
 *
 * The GPU kernel (kern_cuda.cu) is built as its own shared object,
 * KERN_GPU_LIB, installed next to the binaries.  Only a program that is
 * asked for a GPU opens it with dlopen, so every other daemon maps neither
 * the CUDA runtime nor the C++ library that comes with it.  A build
 * without nvcc has no such file: opening fails with dlerror's words and the
 * caller goes on with a CPU kernel.
 *
 * Ownership: a kern_gpu is the caller's (on the stack or in a struct); it
 * holds the dlopen handle from kern_gpu_open until kern_gpu_close.  Any
 * number of threads may search with one opened kern_gpu at once.
 */
#ifndef KERN_GPU_H
#define KERN_GPU_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kern.h"

#define KERN_GPU_LIB "sgcuda.so"
/* Overrides where kern_gpu_open looks when given no path. */
#define KERN_GPU_ENV "SG_CUDA_LIB"

struct kern_prep;

typedef struct kern_gpu {
    void *dl;               /* NULL: not open */
    int (*search)(const struct kern_prep *p, uint32_t start, uint64_t count,
                  int (*stop)(void *arg), void *arg, uint32_t *found, uint64_t *tried);
    int devices;            /* CUDA devices seen at open; 0: none usable */
    char device[128];       /* name of device 0, "" when none */
    char path[4096];        /* the file opened */
} kern_gpu;

/* Opens the kernel library at path; NULL means $SG_CUDA_LIB if set, else
 * KERN_GPU_LIB in the directory of the running executable.  Asks the CUDA
 * runtime for its devices (this can take a moment).  0 (even with no
 * device: see kern_gpu_available), or SG_ENOTFOUND when the library cannot
 * be loaded or lacks the kernel's symbols; then err holds one line naming
 * the file and dlerror's reason, and g is left closed. */
int kern_gpu_open(kern_gpu *g, const char *path, char *err, size_t cap);
/* 1 if g is open and saw a usable device. */
int kern_gpu_available(const kern_gpu *g);
/* kern_search on device 0: the lowest winning nonce of the job's range,
 * checked on the CPU before it is returned.  0, SG_ENOTFOUND, SG_ECANCELED
 * (cancel polled between launches of 2^24 nonces), SG_EUNSUPPORTED (g has
 * no device) or SG_EIO (a CUDA call failed, or the device named a nonce
 * that does not verify).  res->tried is set on every return. */
int kern_gpu_search(const kern_gpu *g, const kern_job *job, const atomic_int *cancel,
                    kern_result *res);
/* Unloads the library; a closed or zeroed g is fine. */
void kern_gpu_close(kern_gpu *g);

#endif
