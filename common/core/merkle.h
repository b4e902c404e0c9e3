/*
 * merkle.h - merkle root by Bitcoin's rule: pairwise sha256d of 64-byte
 * concatenations, an odd last entry paired with itself, a single leaf is
 * its own root.  An empty list has the all-zero root.
 */
#ifndef SG_MERKLE_H
#define SG_MERKLE_H

#include <stddef.h>
#include <stdint.h>

/* leaves: n txids in internal order.  0 or SG_ENOMEM. */
int merkle_root(const uint8_t (*leaves)[32], size_t n, uint8_t root[32]);

#endif
