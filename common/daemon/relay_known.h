/*
 * relay_known.h - the hashes a peer is known to have (it announced them or
 * we sent them), each with a few flag bits: a set with first-in first-out
 * eviction, so memory stays bounded however much the peer announces.
 *
 * Compact because there is one per peer link: a hash is kept as 62 bits of
 * a SipHash under a random key of the set's own (crypto_shorthash), so an
 * outsider cannot make two hashes collide in it, in an open-addressing
 * table and a ring that both grow on demand up to the set's bound.  At the
 * relay's bound (RELAY_KNOWN_MAX, 2048 entries) that is 48 KiB, against
 * about 450 KiB for 4096 32-byte keys in an hmap with a ring of them as
 * before; an idle link costs nothing.  A collision
 * (odds about 2^-50 per lookup at the bound) makes a hash look known: at
 * worst one announcement to that peer is skipped.
 *
 * Ownership: the set owns its two arrays; relay_known_free releases them.
 * Not thread-safe.
 */
#ifndef SG_RELAY_KNOWN_H
#define SG_RELAY_KNOWN_H

#include <stdint.h>

typedef struct {
    uint64_t *slots;                  /* key | flags; 0: empty */
    uint64_t *ring;                   /* keys, oldest at head */
    uint32_t cap, ring_cap, head, count, max;
    uint8_t salt[16];
} relay_known;

/* An empty set holding at most max (>= 1) entries; allocates nothing. */
void relay_known_init(relay_known *k, uint32_t max);
void relay_known_free(relay_known *k);
/* The flags marked for h (bits 0-1), 0 when h is not in the set. */
unsigned relay_known_flags(const relay_known *k, const uint8_t h[32]);
/* Adds flags (1..3) to h's, inserting it (evicting the oldest entry at the
 * bound).  Out of memory: h is simply not remembered. */
void relay_known_mark(relay_known *k, const uint8_t h[32], unsigned flags);

#endif
