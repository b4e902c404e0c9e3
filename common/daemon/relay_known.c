/*
 * relay_known.c - a peer's known-inventory set; see relay_known.h.
 */
#include "common/daemon/relay_known.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define FLAG_BITS 3u
#define MIN_CAP 64u

static uint64_t key_of(const relay_known *k, const uint8_t h[32])
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(out, h, 32, k->salt);
    memcpy(&v, out, sizeof v);
    v &= ~(uint64_t)FLAG_BITS;
    return v ? v : FLAG_BITS + 1;
}

static uint32_t home(const relay_known *k, uint64_t key)
{
    return (uint32_t)(key >> 2) & (k->cap - 1);
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t find(const relay_known *k, uint64_t key)
{
    uint32_t i = home(k, key);
    while (k->slots[i] != 0 && (k->slots[i] & ~(uint64_t)FLAG_BITS) != key)
        i = (i + 1) & (k->cap - 1);
    return i;
}

void relay_known_init(relay_known *k, uint32_t max)
{
    memset(k, 0, sizeof *k);
    k->max = max ? max : 1;
    randombytes_buf(k->salt, sizeof k->salt);
}

void relay_known_free(relay_known *k)
{
    free(k->slots);
    free(k->ring);
    k->slots = k->ring = NULL;
    k->cap = k->ring_cap = k->head = k->count = 0;
}

unsigned relay_known_flags(const relay_known *k, const uint8_t h[32])
{
    if (k->count == 0)
        return 0;
    return (unsigned)(k->slots[find(k, key_of(k, h))] & FLAG_BITS);
}

/* Backward-shift deletion: no tombstones, lookups stay short. */
static void remove_key(relay_known *k, uint64_t key)
{
    uint32_t mask = k->cap - 1, i = find(k, key), j = i;
    if (k->slots[i] == 0)
        return;
    for (;;) {
        j = (j + 1) & mask;
        if (k->slots[j] == 0)
            break;
        uint32_t h = home(k, k->slots[j] & ~(uint64_t)FLAG_BITS);
        if (((j - h) & mask) >= ((j - i) & mask)) {
            k->slots[i] = k->slots[j];
            i = j;
        }
    }
    k->slots[i] = 0;
}

/* Room for one more entry: the table kept at most half full, the ring as
 * long as the entries; both capped by the bound. */
static int grow(relay_known *k)
{
    if ((k->count + 1) * 2 > k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : MIN_CAP;
        uint64_t *old = k->slots, *slots = calloc(cap, sizeof *slots);
        uint32_t old_cap = k->cap;
        if (!slots)
            return -1;
        k->slots = slots;
        k->cap = cap;
        for (uint32_t i = 0; i < old_cap; i++)
            if (old[i])
                k->slots[find(k, old[i] & ~(uint64_t)FLAG_BITS)] = old[i];
        free(old);
    }
    if (k->count == k->ring_cap) {
        uint32_t cap = k->ring_cap ? k->ring_cap * 2 : MIN_CAP / 2;
        uint64_t *ring;
        if (cap > k->max)
            cap = k->max;
        if (!(ring = malloc((size_t)cap * sizeof *ring)))
            return -1;
        for (uint32_t i = 0; i < k->count; i++)
            ring[i] = k->ring[(k->head + i) % k->ring_cap];
        free(k->ring);
        k->ring = ring;
        k->ring_cap = cap;
        k->head = 0;
    }
    return 0;
}

void relay_known_mark(relay_known *k, const uint8_t h[32], unsigned flags)
{
    uint64_t key = key_of(k, h);
    flags &= FLAG_BITS;
    if (k->count > 0) {
        uint32_t i = find(k, key);
        if (k->slots[i] != 0) {
            k->slots[i] |= flags;
            return;
        }
    }
    if (k->count == k->max) {
        remove_key(k, k->ring[k->head]);
        k->head = (k->head + 1) % k->ring_cap;
        k->count--;
    }
    if (grow(k) != 0)
        return;
    k->slots[find(k, key)] = key | flags;
    k->ring[(k->head + k->count) % k->ring_cap] = key;
    k->count++;
}
