/*
 * cblock.c - compact blocks: short ids, compact form, rebuilding; see
 * cblock.h.
 */
#include "common/core/cblock.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/merkle.h"
#include "common/core/tx.h"

enum { SLOT_EMPTY = 0, SLOT_FILLED = 1, SLOT_AMBIGUOUS = 2 };

void cblock_key(const proto_header *h, uint64_t nonce, uint8_t key[CBLOCK_KEY_SIZE])
{
    uint8_t buf[PROTO_HEADER_SIZE + 8], digest[32];
    proto_header_encode(h, buf);
    for (int i = 0; i < 8; i++)
        buf[PROTO_HEADER_SIZE + i] = (uint8_t)(nonce >> (8 * i));
    hash_sha256(buf, sizeof buf, digest);
    memcpy(key, digest, CBLOCK_KEY_SIZE);
}

uint64_t cblock_shortid(const uint8_t key[CBLOCK_KEY_SIZE], const uint8_t txid[32])
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t v = 0;
    crypto_shorthash(out, txid, 32, key);
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)out[i] << (8 * i);
    return v & PROTO_SHORTID_MASK;
}

int cblock_build(const proto_block *b, const uint8_t (*txids)[32], uint64_t nonce,
                 proto_cmpctblock *out)
{
    uint8_t key[CBLOCK_KEY_SIZE];
    int rc;

    memset(out, 0, sizeof *out);
    if (b->n_txs == 0)
        return SG_EINVAL;
    out->header = b->header;
    out->nonce = nonce;
    out->prefilled = calloc(1, sizeof *out->prefilled);
    if (b->n_txs > 1)
        out->short_ids = malloc(sizeof *out->short_ids * (b->n_txs - 1));
    if (!out->prefilled || (b->n_txs > 1 && !out->short_ids)) {
        rc = SG_ENOMEM;
        goto fail;
    }
    if ((rc = proto_tx_copy(&out->prefilled[0].tx, &b->txs[0])) != 0)
        goto fail;
    out->n_prefilled = 1;
    cblock_key(&b->header, nonce, key);
    for (uint32_t i = 1; i < b->n_txs; i++)
        out->short_ids[i - 1] = cblock_shortid(key, txids[i]);
    out->n_short = b->n_txs - 1;
    return 0;
fail:
    proto_cmpctblock_free(out);
    return rc;
}

int cblock_build_bytes(const uint8_t *bytes, size_t len, uint64_t nonce,
                       proto_cmpctblock *out)
{
    proto_block b;
    uint8_t (*ids)[32] = NULL;
    int rc = proto_block_decode(bytes, len, &b);

    memset(out, 0, sizeof *out);
    if (rc != 0)
        return rc;
    ids = malloc(sizeof *ids * (b.n_txs ? b.n_txs : 1));
    if (!ids) {
        rc = SG_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < b.n_txs && rc == 0; i++)
        rc = tx_id(&b.txs[i], ids[i]);
    if (rc == 0)
        rc = cblock_build(&b, (const uint8_t (*)[32])ids, nonce, out);
out:
    free(ids);
    proto_block_free(&b);
    return rc;
}

/* ---- rebuilding ---------------------------------------------------------- */

/* Open addressing from a short id to the slot it stands for. */
typedef struct {
    uint64_t *keys;               /* short id + 1; 0 = free */
    uint32_t *slots;
    size_t mask;
} sid_table;

static int sid_init(sid_table *t, uint32_t n)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)n)
        cap *= 2;
    t->keys = calloc(cap, sizeof *t->keys);
    t->slots = malloc(cap * sizeof *t->slots);
    t->mask = cap - 1;
    return t->keys && t->slots ? 0 : SG_ENOMEM;
}

static void sid_free(sid_table *t)
{
    free(t->keys);
    free(t->slots);
}

static size_t sid_pos(const sid_table *t, uint64_t sid)
{
    /* Short ids are SipHash output: their low bits are already uniform. */
    size_t i = (size_t)sid & t->mask;
    while (t->keys[i] != 0 && t->keys[i] != sid + 1)
        i = (i + 1) & t->mask;
    return i;
}

/* SG_EDUP when the id is in already. */
static int sid_put(sid_table *t, uint64_t sid, uint32_t slot)
{
    size_t i = sid_pos(t, sid);
    if (t->keys[i] != 0)
        return SG_EDUP;
    t->keys[i] = sid + 1;
    t->slots[i] = slot;
    return 0;
}

static int sid_get(const sid_table *t, uint64_t sid, uint32_t *slot)
{
    size_t i = sid_pos(t, sid);
    if (t->keys[i] == 0)
        return 0;
    *slot = t->slots[i];
    return 1;
}

/* txid: known already (a mempool key), or NULL to hash the encoding. */
static int slot_set(cblock_partial *pb, uint32_t i, const proto_tx *tx, const uint8_t *txid)
{
    int rc = proto_tx_encode(tx, &pb->bytes[i], &pb->lens[i]);
    if (rc != 0)
        return rc;
    if (txid)
        memcpy(pb->txids[i], txid, 32);
    else
        hash_sha256d(pb->bytes[i], pb->lens[i], pb->txids[i]);
    pb->state[i] = SLOT_FILLED;
    return 0;
}

static void slot_clear(cblock_partial *pb, uint32_t i, uint8_t state)
{
    free(pb->bytes[i]);
    pb->bytes[i] = NULL;
    pb->lens[i] = 0;
    memset(pb->txids[i], 0, 32);
    pb->state[i] = state;
}

/* Places the prefilled transactions and indexes the short ids by the
 * positions they stand for. */
static int place_listed(cblock_partial *pb, const proto_cmpctblock *cb, sid_table *t)
{
    uint32_t next_pre = 0, next_sid = 0;
    for (uint32_t i = 0; i < pb->n; i++) {
        int rc;
        if (next_pre < cb->n_prefilled && cb->prefilled[next_pre].index == i)
            rc = slot_set(pb, i, &cb->prefilled[next_pre++].tx, NULL);
        else
            rc = sid_put(t, cb->short_ids[next_sid++], i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Every mempool transaction whose short id the block lists; a second
 * match for one slot makes it ambiguous (asked for). */
static int match_pool(cblock_partial *pb, const sid_table *t, const uint8_t key[16],
                      const mempool *mp)
{
    size_t iter = 0;
    const uint8_t *txid;
    uint32_t slot;
    while (mempool_next(mp, &iter, &txid)) {
        if (!sid_get(t, cblock_shortid(key, txid), &slot))
            continue;
        if (pb->state[slot] == SLOT_AMBIGUOUS)
            continue;
        if (pb->state[slot] == SLOT_FILLED) {
            if (memcmp(pb->txids[slot], txid, 32) != 0) {
                slot_clear(pb, slot, SLOT_AMBIGUOUS);
                pb->n_from_pool--;
            }
            continue;
        }
        const proto_tx *tx = mempool_get(mp, txid);
        if (!tx)
            continue;
        int rc = slot_set(pb, slot, tx, txid);
        if (rc != 0)
            return rc;
        pb->n_from_pool++;
    }
    return 0;
}

int cblock_partial_init(cblock_partial *pb, const proto_cmpctblock *cb, const mempool *mp)
{
    sid_table t = { 0 };
    uint8_t key[CBLOCK_KEY_SIZE];
    int rc;

    memset(pb, 0, sizeof *pb);
    pb->header = cb->header;
    pb->n = proto_cmpctblock_count(cb);
    if (pb->n == 0 || pb->n > PROTO_BLOCK_MAX_TXS)
        return SG_EINVAL;
    pb->txids = calloc(pb->n, sizeof *pb->txids);
    pb->bytes = calloc(pb->n, sizeof *pb->bytes);
    pb->lens = calloc(pb->n, sizeof *pb->lens);
    pb->state = calloc(pb->n, 1);
    if (!pb->txids || !pb->bytes || !pb->lens || !pb->state) {
        rc = SG_ENOMEM;
        goto fail;
    }
    if ((rc = sid_init(&t, cb->n_short)) != 0)
        goto fail;
    if ((rc = place_listed(pb, cb, &t)) != 0)
        goto fail;
    cblock_key(&cb->header, cb->nonce, key);
    if (cb->n_short > 0 && (rc = match_pool(pb, &t, key, mp)) != 0)
        goto fail;
    for (uint32_t i = 0; i < pb->n; i++)
        pb->n_missing += pb->state[i] != SLOT_FILLED;
    sid_free(&t);
    return 0;
fail:
    sid_free(&t);
    cblock_partial_free(pb);
    return rc;
}

uint32_t cblock_partial_missing(const cblock_partial *pb, uint32_t *out)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < pb->n; i++)
        if (pb->state[i] != SLOT_FILLED)
            out[k++] = i;
    return k;
}

int cblock_partial_fill(cblock_partial *pb, const proto_tx *txs, uint32_t n)
{
    if (n != pb->n_missing)
        return SG_EINVAL;
    uint32_t k = 0;
    for (uint32_t i = 0; i < pb->n && k < n; i++) {
        if (pb->state[i] == SLOT_FILLED)
            continue;
        int rc = slot_set(pb, i, &txs[k++], NULL);
        if (rc != 0)
            return rc;
        pb->n_missing--;
    }
    return 0;
}

int cblock_partial_finish(const cblock_partial *pb, uint8_t **out, size_t *len)
{
    uint8_t root[32], hdr[PROTO_HEADER_SIZE];
    proto_wr wr;

    *out = NULL;
    *len = 0;
    if (pb->n_missing > 0 || pb->n == 0)
        return SG_EINVAL;
    int rc = merkle_root((const uint8_t (*)[32])pb->txids, pb->n, root);
    if (rc < 0)
        return rc;
    if (memcmp(root, pb->header.merkle, 32) != 0)
        return SG_EMERKLE;
    proto_wr_init(&wr, PROTO_BLOCK_MAX_SIZE);
    proto_header_encode(&pb->header, hdr);
    proto_put_bytes(&wr, hdr, sizeof hdr);
    proto_put_u32(&wr, pb->n);
    for (uint32_t i = 0; i < pb->n && wr.err == 0; i++)
        proto_put_bytes(&wr, pb->bytes[i], pb->lens[i]);
    return proto_wr_done(&wr, out, len);
}

void cblock_partial_free(cblock_partial *pb)
{
    if (pb->bytes)
        for (uint32_t i = 0; i < pb->n; i++)
            free(pb->bytes[i]);
    free(pb->bytes);
    free(pb->txids);
    free(pb->lens);
    free(pb->state);
    memset(pb, 0, sizeof *pb);
}
