/*
 * sigcache.c - verified signatures, bounded, oldest out first; see
 * sigcache.h.
 *
 * The keys live twice: in a hash set for lookups and in a ring that
 * remembers insertion order for eviction.  Before the cache first fills,
 * the ring is a plain growing array (no eviction has moved its head), so
 * memory follows use up to the bound.
 */
#include "common/core/sigcache.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/base/hmap.h"
#include "common/core/tx.h"

#define SIGCACHE_KEY_BYTES 32

struct sigcache {
    uint8_t salt[crypto_generichash_KEYBYTES];
    hmap set;                     /* key -> non-NULL marker */
    uint8_t (*ring)[32];          /* insertion order, head oldest */
    size_t cap, head, count, max;
    sigcache_stats st;
};

int sigcache_new(sigcache **out, size_t max_entries)
{
    *out = NULL;
    if (max_entries == 0)
        return SG_EINVAL;
    if (sodium_init() < 0)
        return SG_ECRYPTO;
    sigcache *sc = calloc(1, sizeof *sc);
    if (sc == NULL)
        return SG_ENOMEM;
    randombytes_buf(sc->salt, sizeof sc->salt);
    hmap_init(&sc->set);
    sc->max = max_entries;
    *out = sc;
    return SG_OK;
}

void sigcache_free(sigcache *sc)
{
    if (sc == NULL)
        return;
    hmap_free(&sc->set);
    free(sc->ring);
    sodium_memzero(sc->salt, sizeof sc->salt);
    free(sc);
}

/* Keyed hash of what crypto_sign_verify_detached is given. */
static void salted_key(const uint8_t salt[crypto_generichash_KEYBYTES], const proto_wr *msg,
                       const uint8_t sig[64], uint8_t key[SIGCACHE_KEY_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, salt, crypto_generichash_KEYBYTES, SIGCACHE_KEY_BYTES);
    crypto_generichash_update(&st, msg->p, msg->len);
    crypto_generichash_update(&st, sig, 64);
    crypto_generichash_final(&st, key, SIGCACHE_KEY_BYTES);
}

static void cache_key(const sigcache *sc, const proto_wr *msg, const uint8_t sig[64],
                      uint8_t key[SIGCACHE_KEY_BYTES])
{
    salted_key(sc->salt, msg, sig, key);
}

static int ring_reserve(sigcache *sc)
{
    if (sc->count < sc->cap || sc->cap == sc->max)
        return SG_OK;
    size_t cap = sc->cap ? sc->cap * 2 : 256;
    if (cap > sc->max)
        cap = sc->max;
    void *r = realloc(sc->ring, cap * sizeof *sc->ring);
    if (r == NULL)
        return SG_ENOMEM;
    sc->ring = r;
    sc->cap = cap;
    return SG_OK;
}

static void remember(sigcache *sc, const uint8_t key[SIGCACHE_KEY_BYTES])
{
    if (sc->count == sc->max) {
        hmap_del(&sc->set, sc->ring[sc->head]);
        sc->head = (sc->head + 1) % sc->max;
        sc->count--;
        sc->st.evicted++;
    }
    if (ring_reserve(sc) < 0 || hmap_put(&sc->set, key, sc) < 0)
        return;
    memcpy(sc->ring[(sc->head + sc->count) % sc->cap], key, SIGCACHE_KEY_BYTES);
    sc->count++;
}

int sigcache_verify(sigcache *sc, const proto_tx *tx, const uint8_t chain_id[32])
{
    if (sc == NULL || tx->kind == PROTO_TX_COINBASE)
        return tx_verify_sig(tx, chain_id);
    proto_wr msg;
    uint8_t key[SIGCACHE_KEY_BYTES];
    int rc = tx_sig_message(&msg, tx, chain_id);
    if (rc < 0)
        goto out;
    cache_key(sc, &msg, tx->sig, key);
    if (hmap_get(&sc->set, key) != NULL) {
        sc->st.hits++;
        goto out;
    }
    sc->st.misses++;
    if (crypto_sign_verify_detached(tx->sig, msg.p, msg.len, tx->from) != 0) {
        rc = SG_EBADSIG;
        goto out;
    }
    remember(sc, key);
out:
    proto_wr_free(&msg);
    return rc;
}

void sigcache_get_keyer(const sigcache *sc, sigcache_keyer *out)
{
    _Static_assert(sizeof out->salt == crypto_generichash_KEYBYTES, "salt size");
    memcpy(out->salt, sc->salt, sizeof out->salt);
}

int sigcache_check_detached(const sigcache_keyer *k, const proto_tx *tx,
                            const uint8_t chain_id[32], uint8_t key[32])
{
    proto_wr msg;
    memset(key, 0, SIGCACHE_KEY_BYTES);
    if (tx->kind == PROTO_TX_COINBASE)
        return SG_EINVAL;
    int rc = tx_sig_message(&msg, tx, chain_id);
    if (rc < 0)
        goto out;
    salted_key(k->salt, &msg, tx->sig, key);
    if (crypto_sign_verify_detached(tx->sig, msg.p, msg.len, tx->from) != 0)
        rc = SG_EBADSIG;
out:
    proto_wr_free(&msg);
    return rc;
}

void sigcache_add(sigcache *sc, const uint8_t key[32])
{
    if (hmap_get(&sc->set, key) == NULL)
        remember(sc, key);
}

void sigcache_get_stats(const sigcache *sc, sigcache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (sc == NULL)
        return;
    *out = sc->st;
    out->entries = sc->count;
}
