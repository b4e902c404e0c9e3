/*
 * asert.h - per-block difficulty adjustment: absolutely scheduled
 * exponential moving target, in the integer form of Bitcoin Cash's
 * aserti3-2d (2020-11-15 upgrade).
 *
 *   target = anchor_target * 2^((time_diff - spacing * height_diff) / halflife)
 *
 * The exponent is a 16.16 fixed-point number computed with one truncating
 * division (__int128, so no input can overflow it); 2^frac is the spec's
 * cubic 65536 + ((195766423245049 f + 971821376 f^2 + 5127 f^3 + 2^47) >> 48),
 * which is within 0.013 % of the real curve; the product is formed in 288
 * bits and clamped to [1, pow_limit].  Integers only, so every node
 * computes the same bits.
 *
 * On this chain the anchor is the genesis block: the block at height h + 1
 * on a parent at height h with time t has
 *   time_diff = (t - genesis_time) * 1000   (ms; header times are seconds)
 *   height_diff = h, spacing = block_interval_ms, halflife = halflife_ms,
 * so block 1 carries the genesis bits and every later block's bits depend
 * only on its parent (a miner cannot ease its own block with its own
 * timestamp; the time rules in chain.h bound what it can do to the next).
 * Being absolutely scheduled, the chain's height tracks
 * (now - genesis_time) / interval plus a constant; errors never accumulate.
 *
 * Half-life default: 3 block intervals (6 s at the default 2 s).  The
 * default run starts at difficulty 4 (2^16 hashes a block) while nine
 * daemons on two cores make some 2^26 hashes/s together, so the
 * equilibrium at 2 s is 2^11..2^12 harder than the start.  While blocks
 * come far faster than the interval, each block raises the difficulty by
 * 2^(interval / halflife): 2^(1/3) here, so about 35 blocks cover 12
 * doublings (5 intervals would need 60, 10 intervals 120).  Shorter
 * half-lives settle faster but let chance move the next target more: the
 * exponent's spread at equilibrium is about sqrt(interval / (2 halflife))
 * doublings, 0.4 at 3 intervals.  The ramp's forks are the launcher's
 * business (launcher/sim.c switches miners on in stages), not the rule's.
 */
#ifndef SG_ASERT_H
#define SG_ASERT_H

#include <stdint.h>
#include "common/core/params.h"
#include "common/core/pow.h"

/* The exponent's fraction bits (16.16 fixed point). */
#define ASERT_FRAC_BITS 16
/* Defaults of the tools that write genesis files (the file format's own
 * default is 0: a fixed difficulty, as files without the keys had). */
#define ASERT_DEFAULT_INTERVAL_MS 2000u
#define ASERT_DEFAULT_HALFLIFE_INTERVALS 3u

/* The easiest target a retargeting chain allows: 2^252 - 1 (--difficulty 1). */
void asert_pow_limit(u256 *out);

/* The published algorithm on any units (seconds or ms, as long as the
 * three time quantities share them).  halflife must be non-zero (0 gives the
 * anchor, clamped).  Result in [1, pow_limit]. */
void asert_target(const u256 *anchor_target, const u256 *pow_limit, int64_t time_diff,
                  int64_t height_diff, uint32_t spacing, uint32_t halflife, u256 *out);

/* Bits every block at parent_height + 1 on that parent must carry: the
 * genesis bits when p->block_interval_ms is 0 (fixed difficulty), else the
 * rule above. */
uint32_t asert_next_bits(const chain_params *p, uint32_t parent_height, uint32_t parent_time);

/* The half-life the tools pick when none is given. */
uint32_t asert_default_halflife_ms(uint32_t interval_ms);

#endif
