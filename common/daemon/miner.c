/*
 * miner.c - worker threads searching nonces; see miner.h.
 *
 * Shared state is guarded by one mutex: the current work (bytes, target,
 * generation number) and the found-block queue.  Each worker copies the
 * work when its generation changes and then searches without the lock; a
 * per-worker cancel flag (atomic) interrupts kern_search.  A worker clears
 * its own flag only while holding the lock and copying new work, so a
 * cancel can never be lost between the two.  Every cancel also wakes the
 * condition variable, which is where a capped worker waits for its turn.
 */
#define _GNU_SOURCE
#include "common/daemon/miner.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/core/pow.h"

#define HDR_TIME_OFF 68
#define HDR_BITS_OFF 72
#define HDR_NONCE_OFF 76
#define NS_PER_S 1000000000ull

typedef struct {
    miner *m;
    unsigned index;
    pthread_t thread;
    int started;
    atomic_int cancel;
} worker;

typedef struct found_block {
    struct found_block *next;
    size_t len;
    uint8_t bytes[];
} found_block;

struct miner {
    miner_config cfg;
    uv_async_t async;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Guarded by mu. */
    uint8_t *work;
    size_t work_len;
    uint8_t target[32];
    uint64_t gen;                /* bumped by every set_work / pause */
    int working;                 /* gen carries work to do */
    int quit;
    found_block *found_head, *found_tail;
    uint64_t pace_next_ns;       /* the bucket: where the next grant starts */
    /* Read without the lock. */
    atomic_uint_fast64_t hashes;
    atomic_uint_fast64_t blocks;
    atomic_uint_fast64_t cap;    /* hashes/s; 0: uncapped */
    /* Loop thread only. */
    uint64_t rate_ms[MINER_RATE_WINDOW];
    uint64_t rate_hashes[MINER_RATE_WINDOW];
    unsigned rate_n, rate_next;
    void (*close_cb)(void *arg);
    void *close_arg;
    worker *workers;
};

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Cancels every worker's search, waking any waiting for its turn under
 * the cap; called with mu held. */
static void cancel_all(miner *m)
{
    for (unsigned i = 0; i < m->cfg.threads; i++)
        atomic_store(&m->workers[i].cancel, 1);
    pthread_cond_broadcast(&m->cv);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---- worker side --------------------------------------------------------- */

/* Waits for work newer than *gen and copies it.  Returns 0, or 1 to quit. */
static int take_work(worker *w, uint64_t *gen, uint8_t **work, size_t *len,
                     uint8_t target[32])
{
    miner *m = w->m;
    int quit = 0;

    pthread_mutex_lock(&m->mu);
    while (!m->quit && (!m->working || m->gen == *gen))
        pthread_cond_wait(&m->cv, &m->mu);
    if (m->quit) {
        quit = 1;
    } else {
        uint8_t *copy = malloc(m->work_len);
        if (copy) {
            memcpy(copy, m->work, m->work_len);
            free(*work);
            *work = copy;
            *len = m->work_len;
            memcpy(target, m->target, 32);
        }
        /* Without memory, skip this generation rather than spin. */
        *gen = m->gen;
        atomic_store(&w->cancel, copy ? 0 : 1);
    }
    pthread_mutex_unlock(&m->mu);
    return quit;
}

/* Under a cap: the nonces this worker may hash next (at most want), once
 * its grant's turn has come.  Grants follow each other on the clock, each
 * lasting its nonces at the cap, so all workers together stay within the
 * cap; one starts no earlier than MINER_PACE_BURST_MS before now.  0 if
 * cancelled while waiting (the grant goes back).  *cost_ns: its span. */
static uint64_t pace_take(worker *w, uint64_t cap, uint64_t want, uint64_t *cost_ns)
{
    miner *m = w->m;
    uint64_t n = cap * MINER_PACE_SLICE_MS / 1000;
    if (n < MINER_PACE_MIN_SLICE)
        n = MINER_PACE_MIN_SLICE;
    if (n > want)
        n = want;
    /* n <= 2^30 (a chunk), so n * 10^9 fits. */
    uint64_t cost = n * NS_PER_S / cap, burst = MINER_PACE_BURST_MS * 1000000ull;

    pthread_mutex_lock(&m->mu);
    uint64_t now = mono_ns();
    if (m->pace_next_ns + burst < now)
        m->pace_next_ns = now > burst ? now - burst : 0;
    uint64_t start = m->pace_next_ns;
    m->pace_next_ns += cost;
    struct timespec until = { .tv_sec = (time_t)(start / NS_PER_S),
                              .tv_nsec = (long)(start % NS_PER_S) };
    while (!atomic_load(&w->cancel) && mono_ns() < start)
        pthread_cond_timedwait(&m->cv, &m->mu, &until);
    if (atomic_load(&w->cancel)) {
        m->pace_next_ns = m->pace_next_ns > cost ? m->pace_next_ns - cost : 0;
        n = 0;
    }
    pthread_mutex_unlock(&m->mu);
    *cost_ns = cost;
    return n;
}

/* Hands back the unused part of a grant (a search cut short by a find or
 * a cancel), so the cap counts only nonces really hashed. */
static void pace_refund(miner *m, uint64_t granted, uint64_t used, uint64_t cost_ns)
{
    if (used >= granted)
        return;
    uint64_t back = (granted - used) * cost_ns / granted;
    pthread_mutex_lock(&m->mu);
    /* miner_set_hashrate may have reset the bucket meanwhile. */
    m->pace_next_ns = m->pace_next_ns > back ? m->pace_next_ns - back : 0;
    pthread_mutex_unlock(&m->mu);
}

static void hand_in(worker *w, uint64_t gen, const uint8_t *work, size_t len)
{
    miner *m = w->m;
    found_block *fb = malloc(sizeof *fb + len);

    if (!fb)
        return;
    fb->next = NULL;
    fb->len = len;
    memcpy(fb->bytes, work, len);
    pthread_mutex_lock(&m->mu);
    if (gen != m->gen || !m->working) {
        pthread_mutex_unlock(&m->mu);
        free(fb);
        return;
    }
    if (m->found_tail)
        m->found_tail->next = fb;
    else
        m->found_head = fb;
    m->found_tail = fb;
    /* The template is spent: everyone idles until the loop sends new work. */
    m->working = 0;
    cancel_all(m);
    pthread_mutex_unlock(&m->mu);
    atomic_fetch_add(&m->blocks, 1);
    uv_async_send(&m->async);
}

/* Searches this worker's slice of one header; returns when cancelled or
 * found.  On exhaustion the header time moves on by a second. */
static void search(worker *w, uint64_t gen, uint8_t *work, size_t len,
                   const uint8_t target[32])
{
    miner *m = w->m;
    uint64_t slice = (1ull << 32) / m->cfg.threads;
    uint64_t first = slice * w->index;
    uint64_t end = w->index + 1 == m->cfg.threads ? (1ull << 32) : first + slice;
    uint64_t chunk = m->cfg.impl == KERN_IMPL_CUDA ? MINER_CHUNK_GPU : MINER_CHUNK;
    kern_job job;

    memcpy(job.header, work, 80);
    memcpy(job.target, target, 32);
    for (;;) {
        for (uint64_t at = first; at < end;) {
            kern_result res;
            uint64_t cap = atomic_load(&m->cap), cost = 0;
            job.start = (uint32_t)at;
            job.count = end - at < chunk ? end - at : chunk;
            if (cap && (job.count = pace_take(w, cap, job.count, &cost)) == 0)
                return;
            int rc = m->cfg.impl == KERN_IMPL_CUDA
                         ? kern_gpu_search(m->cfg.gpu, &job, &w->cancel, &res)
                         : kern_search(m->cfg.impl, &job, &w->cancel, &res);
            atomic_fetch_add(&m->hashes, res.tried);
            if (cap)
                pace_refund(m, job.count, res.tried, cost);
            if (rc == 0) {
                put_le32(work + HDR_NONCE_OFF, res.nonce);
                memcpy(work + HDR_TIME_OFF, job.header + HDR_TIME_OFF, 4);
                hand_in(w, gen, work, len);
                return;
            }
            if (rc != SG_ENOTFOUND) {
                if (rc != SG_ECANCELED)
                    log_error(m->cfg.log, "miner: nonce search failed: %s",
                              sg_strerror(rc));
                return;
            }
            at += job.count;
            if (atomic_load(&w->cancel))
                return;
        }
        put_le32(job.header + HDR_TIME_OFF, get_le32(job.header + HDR_TIME_OFF) + 1);
    }
}

/* SCHED_IDLE needs no privilege; a kernel or seccomp filter that refuses
 * it leaves nice, which on Linux is per thread (per task id). */
static void lower_priority(void)
{
    struct sched_param sp = { .sched_priority = 0 };
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), MINER_NICE);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t gen = 0;
    uint8_t *work = NULL;
    size_t len = 0;
    uint8_t target[32];

    /* Named so that tools (scripts/bench_net.sh) can tell mining time
     * from the rest of the daemon's. */
    pthread_setname_np(pthread_self(), "sg-miner");
    if (!w->m->cfg.keep_priority)
        lower_priority();
    while (take_work(w, &gen, &work, &len, target) == 0) {
        if (!atomic_load(&w->cancel))
            search(w, gen, work, len, target);
    }
    free(work);
    return NULL;
}

/* ---- loop side ----------------------------------------------------------- */

static void on_async(uv_async_t *h)
{
    miner *m = h->data;
    found_block *fb;

    pthread_mutex_lock(&m->mu);
    fb = m->found_head;
    m->found_head = m->found_tail = NULL;
    pthread_mutex_unlock(&m->mu);
    while (fb) {
        found_block *next = fb->next;
        if (m->cfg.on_found)
            m->cfg.on_found(m->cfg.ctx, fb->bytes, fb->len);
        free(fb);
        fb = next;
    }
}

int miner_set_work(miner *m, const uint8_t *block, size_t len)
{
    proto_header h;
    u256 target;
    uint8_t *copy;

    if (len < 80)
        return SG_EINVAL;
    proto_header_decode(block, &h);
    if (pow_bits_to_target(h.bits, &target) != 0)
        return SG_EINVAL;
    copy = malloc(len);
    if (!copy)
        return SG_ENOMEM;
    memcpy(copy, block, len);
    pthread_mutex_lock(&m->mu);
    free(m->work);
    m->work = copy;
    m->work_len = len;
    u256_to_hash(&target, m->target);
    m->gen++;
    m->working = 1;
    cancel_all(m);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

void miner_pause(miner *m)
{
    pthread_mutex_lock(&m->mu);
    m->gen++;
    m->working = 0;
    cancel_all(m);
    pthread_mutex_unlock(&m->mu);
}

int miner_is_working(const miner *m)
{
    miner *mm = (miner *)m;
    pthread_mutex_lock(&mm->mu);
    int w = mm->working;
    pthread_mutex_unlock(&mm->mu);
    return w;
}

void miner_tick(miner *m, uint64_t now_ms)
{
    m->rate_ms[m->rate_next] = now_ms;
    m->rate_hashes[m->rate_next] = atomic_load(&m->hashes);
    m->rate_next = (m->rate_next + 1) % MINER_RATE_WINDOW;
    if (m->rate_n < MINER_RATE_WINDOW)
        m->rate_n++;
}

uint64_t miner_hashrate(const miner *m)
{
    if (m->rate_n < 2)
        return 0;
    unsigned newest = (m->rate_next + MINER_RATE_WINDOW - 1) % MINER_RATE_WINDOW;
    unsigned oldest = m->rate_n < MINER_RATE_WINDOW ? 0 : m->rate_next;
    uint64_t dt = m->rate_ms[newest] - m->rate_ms[oldest];
    uint64_t dh = m->rate_hashes[newest] - m->rate_hashes[oldest];
    return dt ? dh * 1000 / dt : 0;
}

void miner_set_hashrate(miner *m, uint64_t hashes_per_s)
{
    if (hashes_per_s > MINER_HASHRATE_MAX)
        hashes_per_s = MINER_HASHRATE_MAX;
    pthread_mutex_lock(&m->mu);
    /* Grants queued at the old rate no longer delay the new one. */
    m->pace_next_ns = 0;
    atomic_store(&m->cap, hashes_per_s);
    pthread_mutex_unlock(&m->mu);
}

uint64_t miner_hashrate_cap(const miner *m)
{
    return atomic_load(&((miner *)m)->cap);
}

uint64_t miner_hashes(const miner *m)
{
    return atomic_load(&((miner *)m)->hashes);
}

uint64_t miner_blocks_found(const miner *m)
{
    return atomic_load(&((miner *)m)->blocks);
}

static void stop_workers(miner *m)
{
    pthread_mutex_lock(&m->mu);
    m->quit = 1;
    cancel_all(m);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    for (unsigned i = 0; i < m->cfg.threads; i++)
        if (m->workers[i].started)
            pthread_join(m->workers[i].thread, NULL);
}

static void destroy(miner *m)
{
    found_block *fb = m->found_head;
    while (fb) {
        found_block *next = fb->next;
        free(fb);
        fb = next;
    }
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m->work);
    free(m->workers);
    free(m);
}

static void on_async_closed(uv_handle_t *h)
{
    miner *m = h->data;
    void (*cb)(void *) = m->close_cb;
    void *arg = m->close_arg;
    destroy(m);
    if (cb)
        cb(arg);
}

void miner_close(miner *m, void (*cb)(void *arg), void *arg)
{
    stop_workers(m);
    m->close_cb = cb;
    m->close_arg = arg;
    uv_close((uv_handle_t *)&m->async, on_async_closed);
}

int miner_new(miner **out, const miner_config *cfg)
{
    miner *m;
    int rc = SG_ENOMEM;

    *out = NULL;
    if (!cfg->loop || cfg->threads == 0 || cfg->threads > MINER_MAX_THREADS)
        return SG_EINVAL;
    m = calloc(1, sizeof *m);
    if (!m)
        return SG_ENOMEM;
    m->cfg = *cfg;
    m->workers = calloc(cfg->threads, sizeof *m->workers);
    if (!m->workers) {
        free(m);
        return SG_ENOMEM;
    }
    atomic_init(&m->cap, cfg->hashrate > MINER_HASHRATE_MAX ? MINER_HASHRATE_MAX
                                                              : cfg->hashrate);
    pthread_mutex_init(&m->mu, NULL);
    /* Capped workers wait with deadlines on the clock the bucket reads. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (uv_async_init(cfg->loop, &m->async, on_async) != 0) {
        destroy(m);
        return SG_EINVAL;
    }
    m->async.data = m;
    for (unsigned i = 0; i < cfg->threads; i++) {
        worker *w = &m->workers[i];
        w->m = m;
        w->index = i;
        atomic_init(&w->cancel, 0);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            goto fail;
        w->started = 1;
    }
    *out = m;
    return 0;
fail:
    stop_workers(m);
    m->close_cb = NULL;
    uv_close((uv_handle_t *)&m->async, on_async_closed);
    return rc;
}
