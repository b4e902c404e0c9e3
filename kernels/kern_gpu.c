/* kern_gpu.c - finding, loading and calling the CUDA kernel library. */
#include "kern_gpu.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/err.h"
#include "kern_internal.h"

/* Next to the executable, so an installed tree finds its own copy whatever
 * the working directory or LD_LIBRARY_PATH. */
static int kern_gpu_default_path(char *out, size_t cap)
{
    const char *env = getenv(KERN_GPU_ENV);
    char exe[4096];
    ssize_t n;
    char *slash;

    if (env != NULL && env[0] != '\0')
        return snprintf(out, cap, "%s", env) < (int)cap ? 0 : SG_EINVAL;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return SG_ENOTFOUND;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return SG_ENOTFOUND;
    *slash = '\0';
    return snprintf(out, cap, "%s/%s", exe, KERN_GPU_LIB) < (int)cap ? 0 : SG_EINVAL;
}

int kern_gpu_open(kern_gpu *g, const char *path, char *err, size_t cap)
{
    int (*device)(char *name, size_t cap);
    const char *why;
    int n;

    memset(g, 0, sizeof *g);
    if (path != NULL) {
        if (snprintf(g->path, sizeof g->path, "%s", path) >= (int)sizeof g->path) {
            snprintf(err, cap, "CUDA kernel library path too long");
            return SG_ENOTFOUND;
        }
    } else if (kern_gpu_default_path(g->path, sizeof g->path) != 0) {
        snprintf(err, cap, "cannot locate %s (set %s to its path)", KERN_GPU_LIB, KERN_GPU_ENV);
        return SG_ENOTFOUND;
    }
    /* NODELETE: the CUDA runtime inside registers exit-time handlers, which
     * must still be mapped when the process exits after kern_gpu_close. */
    g->dl = dlopen(g->path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (g->dl == NULL) {
        /* dlerror's words start with the file's name. */
        why = dlerror();
        snprintf(err, cap, "cannot load the CUDA kernel: %s", why != NULL ? why : g->path);
        return SG_ENOTFOUND;
    }
    *(void **)&device = dlsym(g->dl, "kern__cuda_device");
    *(void **)&g->search = dlsym(g->dl, "kern__cuda_search");
    if (device == NULL || g->search == NULL) {
        snprintf(err, cap, "cannot load the CUDA kernel: %.400s lacks kern__cuda_device or "
                 "kern__cuda_search (not a %s?)", g->path, KERN_GPU_LIB);
        kern_gpu_close(g);
        return SG_ENOTFOUND;
    }
    n = device(g->device, sizeof g->device);
    g->devices = n > 0 ? n : 0;
    if (g->devices == 0)
        g->device[0] = '\0';
    return 0;
}

int kern_gpu_available(const kern_gpu *g)
{
    return g != NULL && g->dl != NULL && g->devices > 0;
}

static int kern_gpu_stop(void *arg)
{
    const atomic_int *cancel = arg;

    return cancel != NULL && atomic_load_explicit(cancel, memory_order_relaxed) != 0;
}

int kern_gpu_search(const kern_gpu *g, const kern_job *job, const atomic_int *cancel,
                    kern_result *res)
{
    uint64_t room = (uint64_t)UINT32_MAX - job->start + 1;
    uint64_t span = job->count < room ? job->count : room;
    kern_prep p;
    uint32_t nonce;
    int rc;

    res->tried = 0;
    if (!kern_gpu_available(g))
        return SG_EUNSUPPORTED;
    kern_prep_init(&p, job->header, job->target);
    rc = g->search(&p, job->start, span, kern_gpu_stop, (void *)cancel, &nonce, &res->tried);
    if (rc != 0)
        return rc;
    /* The device's word is checked here rather than trusted: a wrong nonce
     * must never reach a block. */
    res->nonce = nonce;
    kern_sha256d_full(&p, nonce, res->hash);
    return kern_hash_meets(res->hash, p.target) ? 0 : SG_EIO;
}

void kern_gpu_close(kern_gpu *g)
{
    if (g->dl != NULL)
        dlclose(g->dl);
    g->dl = NULL;
    g->search = NULL;
    g->devices = 0;
}
