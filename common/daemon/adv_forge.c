/*
 * adv_forge.c - the block forger; see adv.h.  Its blocks carry real proof
 * of work over a coinbase that pays too much, so the honest side's
 * contextual coinbase rule is what refuses them, or (odd peers) a nonce
 * that misses the target, refused by the context-free PoW check.
 */
#include "common/daemon/adv_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/merkle.h"
#include "common/core/pow.h"
#include "common/core/tx.h"
#include "proto/msg.h"

static int on(const adv *a)
{
    return a && (a->cfg.roles & ADV_FORGER) != 0;
}

int adv_forge_template(adv *a, proto_block *b)
{
    if (!on(a) || b->n_txs == 0)
        return 0;
    uint8_t (*ids)[32] = malloc(sizeof *ids * b->n_txs);
    if (!ids)
        return SG_ENOMEM;
    /* Over the reward by a different amount each time: a fresh template
     * after each find, not the same block found again. */
    b->txs[0].u.pay.amount += 1 + a->forge_seq++ % 1000;
    int rc = 0;
    for (uint32_t i = 0; i < b->n_txs && rc == 0; i++)
        rc = tx_id(&b->txs[i], ids[i]);
    if (rc == 0)
        rc = merkle_root((const uint8_t (*)[32])ids, b->n_txs, b->header.merkle);
    free(ids);
    return rc;
}

typedef struct {
    adv *a;
    const uint8_t *good_pow, *bad_pow;   /* both with the bad coinbase */
    size_t len;
    size_t sent;
} forge_send;

static void send_one(void *ctx, net_peer *p, size_t i)
{
    forge_send *fs = ctx;
    if (net_send(p, PROTO_MSG_BLOCK, i % 2 == 0 ? fs->good_pow : fs->bad_pow, fs->len) == 0)
        fs->sent++;
}

int adv_forge_found(adv *a, const uint8_t *bytes, size_t len)
{
    proto_header h;
    char hex[65];
    uint8_t hash[32];

    if (!on(a) || len < PROTO_HEADER_SIZE)
        return on(a);
    uint8_t *bad = malloc(len);
    if (!bad)
        return 1;                    /* nothing sent this time */
    memcpy(bad, bytes, len);
    proto_header_decode(bad, &h);
    do
        h.nonce++;
    while (pow_check(&h) == 0);
    proto_header_encode(&h, bad);
    forge_send fs = { .a = a, .good_pow = bytes, .bad_pow = bad, .len = len };
    if (a->cfg.relay)
        relay_each_peer(a->cfg.relay, send_one, &fs);
    free(bad);
    a->st.forged_blocks += fs.sent;
    proto_header_decode(bytes, &h);
    pow_header_hash(&h, hash);
    hash_to_hex_display(hash, hex);
    log_warn(a->cfg.log, "forger: sent forged block %s (coinbase over the "
             "reward; odd peers a bad proof of work) to %zu peer(s)", hex, fs.sent);
    return 1;
}
