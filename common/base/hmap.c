#include "common/base/hmap.h"

#include <stdlib.h>
#include <string.h>
#include "common/base/err.h"

static size_t slot_of(const hmap *m, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)(h * 0x9E3779B97F4A7C15ull >> 17) & (m->cap - 1);
}

void hmap_init(hmap *m)
{
    memset(m, 0, sizeof *m);
}

void hmap_free(hmap *m)
{
    free(m->slots);
    hmap_init(m);
}

static hmap_slot *find(const hmap *m, const uint8_t key[32])
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
        hmap_slot *s = &m->slots[i];
        if (s->val == NULL)
            return NULL;
        if (memcmp(s->key, key, 32) == 0)
            return s;
    }
}

void *hmap_get(const hmap *m, const uint8_t key[32])
{
    hmap_slot *s = find(m, key);
    return s ? s->val : NULL;
}

static void insert_fresh(hmap *m, const uint8_t key[32], void *val)
{
    size_t i = slot_of(m, key);
    while (m->slots[i].val != NULL)
        i = (i + 1) & (m->cap - 1);
    memcpy(m->slots[i].key, key, 32);
    m->slots[i].val = val;
    m->count++;
}

static int grow(hmap *m)
{
    size_t old_cap = m->cap;
    hmap_slot *old = m->slots;
    size_t cap = old_cap ? old_cap * 2 : 16;
    hmap_slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return SG_ENOMEM;
    m->slots = slots;
    m->cap = cap;
    m->count = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].val != NULL)
            insert_fresh(m, old[i].key, old[i].val);
    free(old);
    return SG_OK;
}

int hmap_put(hmap *m, const uint8_t key[32], void *val)
{
    hmap_slot *s = find(m, key);
    if (s != NULL) {
        s->val = val;
        return SG_OK;
    }
    /* Keep the load under 3/4 so probe runs stay short. */
    if ((m->count + 1) * 4 > m->cap * 3) {
        int rc = grow(m);
        if (rc < 0)
            return rc;
    }
    insert_fresh(m, key, val);
    return SG_OK;
}

void *hmap_del(hmap *m, const uint8_t key[32])
{
    hmap_slot *s = find(m, key);
    if (s == NULL)
        return NULL;
    void *val = s->val;
    size_t mask = m->cap - 1;
    size_t hole = (size_t)(s - m->slots);
    /* Backward-shift: pull later members of the probe run into the hole
     * when their home slot does not lie strictly between hole and them. */
    for (size_t j = (hole + 1) & mask; m->slots[j].val != NULL; j = (j + 1) & mask) {
        size_t home = slot_of(m, m->slots[j].key);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].val = NULL;
    m->count--;
    return val;
}

int hmap_next(const hmap *m, size_t *iter, const uint8_t **key, void **val)
{
    for (size_t i = *iter; i < m->cap; i++) {
        if (m->slots[i].val != NULL) {
            *key = m->slots[i].key;
            *val = m->slots[i].val;
            *iter = i + 1;
            return 1;
        }
    }
    *iter = m->cap;
    return 0;
}
