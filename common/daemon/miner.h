/*
 * miner.h - proof-of-work worker threads fed from the daemon's loop.
 *
 * The loop thread builds a block template (the chain is single-threaded)
 * and hands its wire bytes to miner_set_work.  N worker threads each search
 * their own slice of the 32-bit nonce space with kern_search, in chunks of
 * MINER_CHUNK nonces, checking a per-worker cancel flag (the kernels look
 * at it every 2^16 nonces), so new work replaces old within milliseconds.
 * A worker that exhausts its slice bumps the header time by one second and
 * goes on (the slices stay disjoint, so no two workers hash the same
 * header).  A winning block goes back to the loop through a uv_async_t and
 * the found callback runs there; every worker then idles until new work
 * arrives, since the old template is spent.
 *
 * Workers run at lower priority (nice +MINER_NICE on their thread id) so
 * the loop and other processes stay responsive.
 *
 * Threads: miner_set_work, miner_pause, miner_hashrate, miner_tick and
 * miner_close are called on the loop's thread only.
 *
 * Ownership: the miner copies the work it is given.  The bytes passed to
 * the found callback are valid only during the call.  miner_close joins the
 * workers, then closes the async handle and frees the miner once libuv has
 * called back (the loop must keep running until cb).
 */
#ifndef SG_MINER_H
#define SG_MINER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kernels/kern.h"
#include "kernels/kern_gpu.h"
#include "common/daemon/log.h"

#define MINER_MAX_THREADS 256
#define MINER_CHUNK (1u << 20)        /* nonces per kern_search call */
/* A GPU call pays for device set-up each time, so it gets a slice big enough
 * to dwarf that (about 0.1 s at 8 G nonces/s); cancel stays prompt because
 * the kernel checks the flag itself. */
#define MINER_CHUNK_GPU (1ull << 30)
#define MINER_NICE 10
#define MINER_RATE_WINDOW 8           /* hash-rate samples (one per tick) */

typedef struct miner miner;

/* A winning block: full wire bytes, header nonce and time filled in. */
typedef void (*miner_found_cb)(void *ctx, const uint8_t *block, size_t len);

typedef struct {
    uv_loop_t *loop;
    unsigned threads;                 /* 1..MINER_MAX_THREADS */
    kern_impl impl;                   /* must be available */
    const kern_gpu *gpu;              /* impl cuda: opened with a device, and
                                         outliving the miner; else unused */
    logger *log;                      /* may be NULL */
    miner_found_cb on_found;
    void *ctx;
} miner_config;

/* Starts the workers idle.  0, SG_EINVAL or SG_ENOMEM. */
int miner_new(miner **out, const miner_config *cfg);
/* Replaces the work: the bytes of a block template (header first), to be
 * mined against the target its bits encode.  Workers drop what they were
 * doing.  0, SG_EINVAL (too short, bad bits) or SG_ENOMEM. */
int miner_set_work(miner *m, const uint8_t *block, size_t len);
/* Workers stop and wait for the next miner_set_work. */
void miner_pause(miner *m);
int miner_is_working(const miner *m);
/* Records a hash-count sample; call about once a second with a monotonic
 * clock.  The rate is over the last MINER_RATE_WINDOW samples. */
void miner_tick(miner *m, uint64_t now_ms);
/* Hashes per second over the recent window (0 before two samples). */
uint64_t miner_hashrate(const miner *m);
uint64_t miner_hashes(const miner *m);       /* since start */
uint64_t miner_blocks_found(const miner *m);
/* Stops and joins the workers, then closes the async handle; cb(arg) once
 * the miner is freed. */
void miner_close(miner *m, void (*cb)(void *arg), void *arg);

#endif
