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
 * A cap (miner_config.hashrate, miner_set_hashrate) limits the node's
 * rate, all workers together: each search call is then a grant of about
 * MINER_PACE_SLICE_MS worth of nonces at the cap from one token bucket,
 * and grants are laid end to end on the monotonic clock, so a worker
 * sleeps until its grant's turn (a cancel wakes it at once).  A machine too
 * slow or too busy for the cap simply hashes slower; a spell of falling
 * behind earns at most MINER_PACE_BURST_MS of catch-up.  miner_hashrate
 * reports what was really hashed.
 *
 * Workers run under SCHED_IDLE (only on a CPU nothing else wants) so they
 * never delay the loop; where the kernel refuses that, at nice
 * +MINER_NICE on their thread id.
 *
 * Threads: miner_set_work, miner_pause, miner_set_hashrate,
 * miner_hashrate, miner_tick and miner_close are called on the loop's
 * thread only.
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

#include "common/base/units.h"
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
#define MINER_PACE_SLICE_MS 10        /* a capped search call: this long at the cap */
#define MINER_PACE_MIN_SLICE 64       /* nonces; tiny caps still fill a vector */
#define MINER_PACE_BURST_MS 50        /* catch-up a late or idle node may claim */
#define MINER_HASHRATE_MAX UNITS_HASHRATE_MAX
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
    uint64_t hashrate;                /* cap, hashes/s, all workers; 0: none */
    int keep_priority;                /* 1: no SCHED_IDLE (tests timing the cap) */
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
/* Caps the rate at hashes/s (0: uncapped, at most MINER_HASHRATE_MAX),
 * from the next search call on. */
void miner_set_hashrate(miner *m, uint64_t hashes_per_s);
uint64_t miner_hashrate_cap(const miner *m);
/* Hashes per second over the recent window (0 before two samples). */
uint64_t miner_hashrate(const miner *m);
uint64_t miner_hashes(const miner *m);       /* since start */
uint64_t miner_blocks_found(const miner *m);
/* Stops and joins the workers, then closes the async handle; cb(arg) once
 * the miner is freed. */
void miner_close(miner *m, void (*cb)(void *arg), void *arg);

#endif
