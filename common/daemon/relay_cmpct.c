/*
 * relay_cmpct.c - compact block relay: high-bandwidth announcements,
 * rebuilding from the mempool, GETBLOCKTXN round trips, early relay; the
 * design is in relay_int.h.
 */
#include "common/daemon/relay_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/clock.h"
#include "common/base/err.h"
#include "common/core/cblock.h"
#include "common/core/hash.h"
#include "proto/cmpct.h"

/* A block waiting for the transactions we asked its sender for. */
typedef struct {
    uint8_t hash[32];
    cblock_partial pb;
    uint8_t *raw;                     /* the CMPCTBLOCK as received, to forward */
    size_t raw_len;
    uint64_t since_ms;
} cmpct_pending;

typedef struct {
    net_peer *np;
    int hb;                           /* it wants CMPCTBLOCK unasked */
    int asked;                        /* we asked it to send them so */
    uint64_t delivered;               /* stamp of the last new tip it gave us */
    cmpct_pending *pend;              /* at most one round trip per peer */
} cmpct_peer;

/* The block GETBLOCKTXN answers came from last: the peers ask about the
 * same new block at about the same time, so it is read and decoded once. */
typedef struct {
    uint8_t hash[32];
    proto_block b;                    /* n_txs 0: empty */
} served_block;

struct relay_cmpct {
    relay *r;
    chain *chain;
    net *net;
    logger *log;
    uint32_t stall_ms;
    cmpct_peer **peers;
    size_t n_peers, cap_peers;
    relay_stats st;                   /* only the cmpct_* fields */
    served_block served;
    uint64_t stamp;                   /* counts new tips delivered by peers */
};

static cmpct_peer *find(const relay_cmpct *cm, const net_peer *p)
{
    for (size_t i = 0; i < cm->n_peers; i++)
        if (cm->peers[i]->np == p)
            return cm->peers[i];
    return NULL;
}

static void pending_free(cmpct_pending *pd)
{
    if (!pd)
        return;
    cblock_partial_free(&pd->pb);
    free(pd->raw);
    free(pd);
}

static int pending_has(const relay_cmpct *cm, const uint8_t h[32])
{
    for (size_t i = 0; i < cm->n_peers; i++)
        if (cm->peers[i]->pend && memcmp(cm->peers[i]->pend->hash, h, 32) == 0)
            return 1;
    return 0;
}

/* ---- peers --------------------------------------------------------------- */

/* SENDCMPCT: high-bandwidth (1) or only inventory (0) from this peer. */
static void ask_mode(cmpct_peer *cp, int hb)
{
    proto_sendcmpct m = { .high_bandwidth = (uint8_t)hb, .version = PROTO_CMPCT_VERSION };
    uint8_t *buf;
    size_t len;
    if (proto_sendcmpct_encode(&m, &buf, &len) == 0) {
        net_send(cp->np, PROTO_MSG_SENDCMPCT, buf, len);
        free(buf);
    }
    cp->asked = hb;
}

static size_t n_asked(const relay_cmpct *cm)
{
    size_t n = 0;
    for (size_t i = 0; i < cm->n_peers; i++)
        n += cm->peers[i]->asked != 0;
    return n;
}

/* The peer (asked or not, as `asked` says) that delivered a new tip most
 * (newest) or least (!newest) recently. */
static cmpct_peer *by_delivery(const relay_cmpct *cm, int asked, int newest)
{
    cmpct_peer *best = NULL;
    for (size_t i = 0; i < cm->n_peers; i++) {
        cmpct_peer *cp = cm->peers[i];
        if (cp->asked != asked)
            continue;
        if (!best || (newest ? cp->delivered > best->delivered
                             : cp->delivered < best->delivered))
            best = cp;
    }
    return best;
}

void relay_cmpct_peer_ready(relay_cmpct *cm, net_peer *p)
{
    if (cm->n_peers == cm->cap_peers) {
        size_t cap = cm->cap_peers ? cm->cap_peers * 2 : 16;
        cmpct_peer **v = realloc(cm->peers, cap * sizeof *v);
        if (!v)
            return;                   /* it simply gets INVs */
        cm->peers = v;
        cm->cap_peers = cap;
    }
    cmpct_peer *cp = calloc(1, sizeof *cp);
    if (!cp)
        return;
    cp->np = p;
    size_t asked = n_asked(cm);
    cm->peers[cm->n_peers++] = cp;
    ask_mode(cp, asked < RELAY_CMPCT_HB);
}

void relay_cmpct_peer_closed(relay_cmpct *cm, net_peer *p)
{
    for (size_t i = 0; i < cm->n_peers; i++) {
        if (cm->peers[i]->np != p)
            continue;
        int was_asked = cm->peers[i]->asked;
        pending_free(cm->peers[i]->pend);
        free(cm->peers[i]);
        cm->peers[i] = cm->peers[--cm->n_peers];
        cmpct_peer *next = was_asked ? by_delivery(cm, 0, 1) : NULL;
        if (next)
            ask_mode(next, 1);
        return;
    }
}

void relay_cmpct_delivered(relay_cmpct *cm, net_peer *p)
{
    cmpct_peer *cp = find(cm, p);
    if (!cp)
        return;
    cp->delivered = ++cm->stamp;
    if (cp->asked)
        return;
    if (n_asked(cm) >= RELAY_CMPCT_HB) {
        cmpct_peer *old = by_delivery(cm, 1, 0);
        if (old)
            ask_mode(old, 0);
    }
    ask_mode(cp, 1);
}

/* ---- sending ------------------------------------------------------------- */

/* The compact block to every high-bandwidth peer but `from` not known to
 * have it.  now: written at once, all sealed first and then written one
 * after another (a write wakes its reader, which on a busy host may take
 * the CPU before the next is sealed); else at the end of the loop turn.
 * Returns how many got it. */
static size_t forward(relay_cmpct *cm, net_peer *from, const uint8_t h[32],
                      const uint8_t *raw, size_t len, int now)
{
    size_t n = 0;
    for (net_peer *p = net_peer_first(cm->net); p; p = net_peer_next(p)) {
        cmpct_peer *cp = find(cm, p);
        if (p == from || !cp || !cp->hb || relay_peer_knows(cm->r, p, h))
            continue;
        relay_peer_mark_sent(cm->r, p, h);
        if (net_send(p, PROTO_MSG_CMPCTBLOCK, raw, len) == 0)
            n++;
    }
    if (now && n > 0)
        for (net_peer *p = net_peer_first(cm->net); p; p = net_peer_next(p))
            net_flush(p);
    cm->st.cmpct_sent += n;
    return n;
}

static int wants_announcement(relay_cmpct *cm, const uint8_t h[32])
{
    for (net_peer *p = net_peer_first(cm->net); p; p = net_peer_next(p)) {
        cmpct_peer *cp = find(cm, p);
        if (cp && cp->hb && !relay_peer_knows(cm->r, p, h))
            return 1;
    }
    return 0;
}

void relay_cmpct_announce(relay_cmpct *cm, const uint8_t h[32])
{
    uint8_t *bytes = NULL, *raw = NULL;
    size_t len, raw_len;
    proto_cmpctblock cb;
    uint64_t nonce;

    if (!wants_announcement(cm, h))
        return;
    if (chain_block_bytes(cm->chain, h, &bytes, &len) != 0)
        return;                       /* the INV still goes out */
    randombytes_buf(&nonce, sizeof nonce);
    if (cblock_build_bytes(bytes, len, nonce, &cb) == 0) {
        if (proto_cmpctblock_encode(&cb, &raw, &raw_len) == 0)
            forward(cm, NULL, h, raw, raw_len, 0);
        proto_cmpctblock_free(&cb);
    }
    free(raw);
    free(bytes);
}

/* ---- receiving ----------------------------------------------------------- */

static void fall_back(relay_cmpct *cm, net_peer *p, const uint8_t h[32], int why)
{
    char hex[65];
    hash_to_hex_display(h, hex);
    log_info(cm->log, "compact block %.16s from %s not rebuilt (%s); asking for it whole",
             hex, net_peer_name(p), sg_strerror(why));
    cm->st.cmpct_fallback++;
    relay_request_block(cm->r, p, h);
}

/* Every transaction is in: forward (if it extends our tip), then into the
 * chain.  p may be gone when this returns. */
static void complete(relay_cmpct *cm, net_peer *p, const uint8_t h[32],
                     const cblock_partial *pb, const uint8_t *raw, size_t raw_len)
{
    uint8_t *bytes;
    size_t len;
    int rc = cblock_partial_finish(pb, &bytes, &len);
    if (rc != 0) {
        fall_back(cm, p, h, rc);
        return;
    }
    if (memcmp(pb->header.prev, chain_tip(cm->chain)->hash, 32) == 0 &&
        forward(cm, p, h, raw, raw_len, 1) > 0)
        cm->st.cmpct_early++;
    relay_block_in(cm->r, p, bytes, len, 1);
    free(bytes);
}

static void ask_missing(relay_cmpct *cm, cmpct_peer *cp, const uint8_t h[32],
                        cblock_partial *pb, const uint8_t *raw, size_t raw_len)
{
    proto_getblocktxn m = { .n = pb->n_missing };
    cmpct_pending *pd = calloc(1, sizeof *pd);
    uint8_t *buf = NULL;
    size_t len;
    int rc = SG_ENOMEM;

    memcpy(m.hash, h, 32);
    m.indexes = malloc(sizeof *m.indexes * pb->n_missing);
    if (!pd || !m.indexes || !(pd->raw = malloc(raw_len)))
        goto fail;
    cblock_partial_missing(pb, m.indexes);
    if ((rc = proto_getblocktxn_encode(&m, &buf, &len)) != 0)
        goto fail;
    if ((rc = net_send(cp->np, PROTO_MSG_GETBLOCKTXN, buf, len)) != 0)
        goto fail;
    if (cp->pend) {                   /* its earlier block: ask for it whole */
        cmpct_pending *old = cp->pend;
        cp->pend = NULL;
        fall_back(cm, cp->np, old->hash, SG_EFULL);
        pending_free(old);
    }
    memcpy(pd->hash, h, 32);
    pd->pb = *pb;
    memset(pb, 0, sizeof *pb);        /* now pd's */
    memcpy(pd->raw, raw, raw_len);
    pd->raw_len = raw_len;
    pd->since_ms = (uint64_t)clock_mono_ms();
    cp->pend = pd;
    free(buf);
    free(m.indexes);
    return;
fail:
    free(buf);
    free(m.indexes);
    pending_free(pd);
    if (rc != SG_ECLOSED && rc != SG_EFULL)
        fall_back(cm, cp->np, h, rc);
}

/* A copy of a block we have or are rebuilding (another peer was faster,
 * the usual case with three high-bandwidth peers): judged by its header
 * alone, so the rest is not even decoded. */
static int redundant(relay_cmpct *cm, net_peer *p, const uint8_t *pl, size_t len)
{
    proto_header hdr;
    uint8_t h[32];
    if (len < PROTO_HEADER_SIZE)
        return 0;
    proto_header_decode(pl, &hdr);
    pow_header_hash(&hdr, h);
    if (!chain_lookup(cm->chain, h) && !pending_has(cm, h))
        return 0;
    relay_peer_mark_theirs(cm->r, p, h);
    cm->st.cmpct_redundant++;
    return 1;
}

static void on_cmpctblock(relay_cmpct *cm, cmpct_peer *cp, const uint8_t *pl, size_t len)
{
    proto_cmpctblock cb;
    cblock_partial pb = { 0 };
    uint8_t h[32];
    net_peer *p = cp->np;

    if (redundant(cm, p, pl, len))
        return;
    int rc = proto_cmpctblock_decode(pl, len, &cb);
    if (rc != 0) {
        relay_misbehave(cm->r, p, "bad CMPCTBLOCK", rc);
        return;
    }
    pow_header_hash(&cb.header, h);
    relay_peer_mark_theirs(cm->r, p, h);
    cm->st.cmpct_in++;
    rc = chain_check_header(cm->chain, &cb.header, (uint64_t)time(NULL));
    if (rc == SG_ENOTFOUND) {
        relay_request_block(cm->r, p, h);   /* an orphan: the sync fills the gap */
        goto out;
    }
    if (rc == SG_EFUTURE) {
        log_warn(cm->log, "compact block from %s is ahead of our clock; ignored for now",
                 net_peer_name(p));
        goto out;
    }
    if (rc < 0) {
        relay_misbehave(cm->r, p, "compact block with a bad header", rc);
        goto out;
    }
    rc = cblock_partial_init(&pb, &cb, chain_mempool(cm->chain));
    if (rc != 0) {
        fall_back(cm, p, h, rc);
        goto out;
    }
    if (pb.n_missing == 0) {
        cm->st.cmpct_rebuilt++;
        complete(cm, p, h, &pb, pl, len);
    } else {
        ask_missing(cm, cp, h, &pb, pl, len);
    }
out:
    cblock_partial_free(&pb);
    proto_cmpctblock_free(&cb);
}

static void on_blocktxn(relay_cmpct *cm, cmpct_peer *cp, const uint8_t *pl, size_t len)
{
    proto_blocktxn m;
    net_peer *p = cp->np;
    int rc = proto_blocktxn_decode(pl, len, &m);

    if (rc != 0) {
        relay_misbehave(cm->r, p, "bad BLOCKTXN", rc);
        return;
    }
    cmpct_pending *pd = cp->pend;
    if (!pd || memcmp(pd->hash, m.hash, 32) != 0)
        goto out;                     /* late: we gave up on it */
    cp->pend = NULL;
    if (chain_lookup(cm->chain, pd->hash))
        goto done;                    /* it came whole another way */
    rc = cblock_partial_fill(&pd->pb, m.txs, m.n);
    if (rc == SG_EINVAL) {
        relay_misbehave(cm->r, p, "BLOCKTXN does not answer GETBLOCKTXN", rc);
        goto done;
    }
    if (rc != 0) {
        fall_back(cm, p, pd->hash, rc);
        goto done;
    }
    cm->st.cmpct_blocktxn++;
    complete(cm, p, pd->hash, &pd->pb, pd->raw, pd->raw_len);
done:
    pending_free(pd);
out:
    proto_blocktxn_free(&m);
}

/* The block to answer GETBLOCKTXN from, or NULL.  A block found invalid
 * after we forwarded it is served too: the asker rebuilds it, finds it
 * invalid itself and is done with it. */
static const proto_block *served(relay_cmpct *cm, const uint8_t h[32])
{
    served_block *sb = &cm->served;
    uint8_t *bytes;
    size_t len;
    if (sb->b.n_txs > 0 && memcmp(sb->hash, h, 32) == 0)
        return &sb->b;
    if (chain_block_bytes_any(cm->chain, h, &bytes, &len) != 0)
        return NULL;
    proto_block_free(&sb->b);
    int rc = proto_block_decode(bytes, len, &sb->b);
    free(bytes);
    if (rc != 0 || sb->b.n_txs == 0) {
        proto_block_free(&sb->b);
        return NULL;
    }
    memcpy(sb->hash, h, 32);
    return &sb->b;
}

static void on_getblocktxn(relay_cmpct *cm, cmpct_peer *cp, const uint8_t *pl, size_t len)
{
    proto_getblocktxn m;
    proto_blocktxn ans = { .n = 0 };
    uint8_t *buf = NULL;
    size_t blen;
    net_peer *p = cp->np;
    int rc = proto_getblocktxn_decode(pl, len, &m);

    if (rc != 0) {
        relay_misbehave(cm->r, p, "bad GETBLOCKTXN", rc);
        return;
    }
    const proto_block *b = served(cm, m.hash);
    if (!b) {
        /* Not here (a local failure kept it out): the asker falls back to
         * the whole block. */
        proto_inv_item it = { .kind = PROTO_INV_BLOCK };
        proto_inv inv = { .n = 1, .items = &it };
        memcpy(it.hash, m.hash, 32);
        if (proto_inv_encode(&inv, &buf, &blen) == 0)
            net_send(p, PROTO_MSG_NOTFOUND, buf, blen);
        goto out;
    }
    if (m.indexes[m.n - 1] >= b->n_txs) {
        relay_misbehave(cm->r, p, "GETBLOCKTXN index past the block", SG_EINVAL);
        goto out;
    }
    ans.txs = malloc(sizeof *ans.txs * m.n);
    if (!ans.txs)
        goto out;
    memcpy(ans.hash, m.hash, 32);
    for (uint32_t i = 0; i < m.n; i++)
        ans.txs[i] = b->txs[m.indexes[i]];   /* shallow: the cache owns them */
    ans.n = m.n;
    if (proto_blocktxn_encode(&ans, &buf, &blen) == 0)
        net_send(p, PROTO_MSG_BLOCKTXN, buf, blen);
out:
    free(ans.txs);
    free(buf);
    proto_getblocktxn_free(&m);
}

static void on_sendcmpct(relay_cmpct *cm, cmpct_peer *cp, const uint8_t *pl, size_t len)
{
    proto_sendcmpct m;
    int rc = proto_sendcmpct_decode(pl, len, &m);
    if (rc != 0) {
        relay_misbehave(cm->r, cp->np, "bad SENDCMPCT", rc);
        return;
    }
    if (m.version == PROTO_CMPCT_VERSION)   /* another version: INVs as before */
        cp->hb = m.high_bandwidth;
}

void relay_cmpct_msg(relay_cmpct *cm, net_peer *p, uint8_t type,
                     const uint8_t *pl, size_t len)
{
    cmpct_peer *cp = find(cm, p);
    if (!cp)
        return;                       /* no memory for it at READY */
    switch (type) {
    case PROTO_MSG_SENDCMPCT: on_sendcmpct(cm, cp, pl, len); break;
    case PROTO_MSG_CMPCTBLOCK: on_cmpctblock(cm, cp, pl, len); break;
    case PROTO_MSG_GETBLOCKTXN: on_getblocktxn(cm, cp, pl, len); break;
    case PROTO_MSG_BLOCKTXN: on_blocktxn(cm, cp, pl, len); break;
    default: break;
    }
}

/* ---- timers, stats, life cycle ------------------------------------------- */

/* A round trip that came to nothing: forgotten once the block arrived
 * another way; after the stall time, the whole block is asked for (from
 * the same peer, which has it; the ordinary request then moves to another
 * peer if that one stalls too). */
void relay_cmpct_tick(relay_cmpct *cm, uint64_t now_ms)
{
    for (size_t i = 0; i < cm->n_peers; i++) {
        cmpct_peer *cp = cm->peers[i];
        cmpct_pending *pd = cp->pend;
        if (!pd)
            continue;
        if (chain_lookup(cm->chain, pd->hash)) {
            cp->pend = NULL;
            pending_free(pd);
        } else if (now_ms - pd->since_ms > cm->stall_ms) {
            cp->pend = NULL;
            fall_back(cm, cp->np, pd->hash, SG_ETIMEOUT);
            pending_free(pd);
        }
    }
}

void relay_cmpct_stats(const relay_cmpct *cm, relay_stats *out)
{
    out->cmpct_in = cm->st.cmpct_in;
    out->cmpct_redundant = cm->st.cmpct_redundant;
    out->cmpct_rebuilt = cm->st.cmpct_rebuilt;
    out->cmpct_blocktxn = cm->st.cmpct_blocktxn;
    out->cmpct_fallback = cm->st.cmpct_fallback;
    out->cmpct_early = cm->st.cmpct_early;
    out->cmpct_sent = cm->st.cmpct_sent;
}

int relay_cmpct_new(relay_cmpct **out, relay *r, const relay_config *cfg)
{
    relay_cmpct *cm = calloc(1, sizeof *cm);
    *out = NULL;
    if (!cm)
        return SG_ENOMEM;
    cm->r = r;
    cm->chain = cfg->chain;
    cm->net = cfg->net;
    cm->log = cfg->log;
    cm->stall_ms = cfg->stall_ms ? cfg->stall_ms : RELAY_STALL_MS;
    *out = cm;
    return 0;
}

void relay_cmpct_free(relay_cmpct *cm)
{
    if (!cm)
        return;
    for (size_t i = 0; i < cm->n_peers; i++) {
        pending_free(cm->peers[i]->pend);
        free(cm->peers[i]);
    }
    free(cm->peers);
    proto_block_free(&cm->served.b);
    free(cm);
}
