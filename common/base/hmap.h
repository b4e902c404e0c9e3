/*
 * hmap.h - open-addressing hash map from 32-byte keys (hashes, public keys)
 * to caller-owned values.
 *
 * Keys are copied into the map; values are opaque pointers the map never
 * frees.  Keys are already uniformly random (hashes, Ed25519 keys), so the
 * first 8 bytes serve as the hash.  Deletion uses backward-shift, so there
 * are no tombstones and lookups stay short.  Not thread-safe.
 */
#ifndef SG_HMAP_H
#define SG_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t key[32];
    void *val;         /* NULL marks an empty slot */
} hmap_slot;

typedef struct {
    hmap_slot *slots;  /* owned */
    size_t cap;        /* power of two, or 0 */
    size_t count;
} hmap;

void hmap_init(hmap *m);
void hmap_free(hmap *m);                 /* values are not touched */
void *hmap_get(const hmap *m, const uint8_t key[32]);
/* Inserts or replaces; val must not be NULL.  0 or SG_ENOMEM. */
int hmap_put(hmap *m, const uint8_t key[32], void *val);
/* Removes and returns the value, or NULL if absent. */
void *hmap_del(hmap *m, const uint8_t key[32]);

/* Iteration: for (size_t i = 0; hmap_next(m, &i, &k, &v);) ...  The map
 * must not change during iteration. */
int hmap_next(const hmap *m, size_t *iter, const uint8_t **key, void **val);

#endif
