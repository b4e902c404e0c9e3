/*
 * relay.c - inventory gossip and block sync; see relay.h.
 */
#include "common/daemon/relay.h"
#include "common/daemon/relay_known.h"
#include "common/daemon/relay_txreq.h"
#include "common/daemon/relay_int.h"
#include "common/base/clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/base/hmap.h"
#include "common/core/tx.h"
#include "common/daemon/txverify.h"

/* Hashes a peer is known to have, each with how we know (KNOWN_* bits):
 * a bounded set with first-in first-out eviction (relay_known.h). */
enum { KNOWN_SENT = 1, KNOWN_THEIRS = 2 };

typedef relay_known known_set;

typedef struct {
    uint8_t hash[32];
    uint64_t since_ms;
} flight;

typedef struct relay_peer {
    net_peer *np;
    known_set known;                  /* what it announced or we sent it */
    flight flights[RELAY_BLOCKS_IN_FLIGHT];
    size_t n_flights;
    uint8_t (*fetch)[32];             /* queued block hashes to request */
    size_t fetch_head, fetch_len, fetch_cap;
    uint8_t batch_last[32];           /* last hash of a full sync batch */
    int batch_pending;
    int want_getblocks;
    uint64_t getblocks_ms;            /* when we last sent GETBLOCKS */
    proto_inv_item *tx_inv;           /* txids to announce, <= PROTO_INV_MAX */
    uint32_t n_tx_inv, cap_tx_inv;
    int tx_inv_queued;                /* on the relay's list of such peers */
    int paused;                       /* input paused: check queue full */
    uint8_t id[32];                   /* its identity, for late verdicts */
    uint64_t seq;                     /* never reused: relay_txreq's name for it */
} relay_peer;

struct relay {
    relay_config cfg;
    hmap in_flight;                   /* block hash -> relay_peer asked */
    relay_stats st;
    size_t n_tx_inv_peers;            /* peers with tx announcements queued */
    char banned[RELAY_BANNED_NAMES_MAX + 1];
    txv *tv;                          /* signature checks; NULL: at once */
    size_t n_paused;                  /* peers paused by the check queue */
    relay_cmpct *cmpct;               /* compact block relay (relay_cmpct.c) */
    uint8_t inv_tip[32];              /* a tip the INVs of the next tick announce */
    int inv_due;
    relay_txreq *txreq;               /* one GETDATA per announced transaction */
    uint64_t peer_seq;
};

/* ---- known set ----------------------------------------------------------- */

static int known_init(known_set *k)
{
    relay_known_init(k, RELAY_KNOWN_MAX);
    return 0;
}

static void known_free(known_set *k)
{
    relay_known_free(k);
}

static unsigned known_flags(const known_set *k, const uint8_t h[32])
{
    return relay_known_flags(k, h);
}

static int known_has(const known_set *k, const uint8_t h[32])
{
    return known_flags(k, h) != 0;
}

static void known_mark(known_set *k, const uint8_t h[32], unsigned flags)
{
    relay_known_mark(k, h, flags);
}

static void known_add(known_set *k, const uint8_t h[32])
{
    known_mark(k, h, KNOWN_SENT);
}

/* ---- per-peer state ------------------------------------------------------ */


static relay_peer *peer_of(net_peer *p)
{
    return net_peer_data(p);
}

static int is_hidden(const relay *r, const uint8_t h[32])
{
    return r->cfg.hidden && r->cfg.hidden(r->cfg.ctx, h);
}

static void mark_theirs(relay_peer *rp, const uint8_t h[32])
{
    known_mark(&rp->known, h, KNOWN_THEIRS);
}

static void rpeer_free(relay_peer *rp)
{
    known_free(&rp->known);
    free(rp->tx_inv);
    free(rp->fetch);
    free(rp);
}

static int fetch_has(const relay_peer *rp, const uint8_t h[32])
{
    for (size_t i = 0; i < rp->fetch_len; i++)
        if (memcmp(rp->fetch[rp->fetch_head + i], h, 32) == 0)
            return 1;
    return 0;
}

static int fetch_push(relay_peer *rp, const uint8_t h[32])
{
    if (rp->fetch_len >= RELAY_FETCH_MAX)
        return SG_EFULL;
    if (rp->fetch_head > 0 && rp->fetch_head + rp->fetch_len == rp->fetch_cap) {
        memmove(rp->fetch, rp->fetch + rp->fetch_head,
                sizeof *rp->fetch * rp->fetch_len);
        rp->fetch_head = 0;
    }
    if (rp->fetch_head + rp->fetch_len == rp->fetch_cap) {
        size_t cap = rp->fetch_cap ? rp->fetch_cap * 2 : 64;
        void *n = realloc(rp->fetch, sizeof *rp->fetch * cap);
        if (!n)
            return SG_ENOMEM;
        rp->fetch = n;
        rp->fetch_cap = cap;
    }
    memcpy(rp->fetch[rp->fetch_head + rp->fetch_len++], h, 32);
    return 0;
}

static void fetch_pop(relay_peer *rp, uint8_t h[32])
{
    memcpy(h, rp->fetch[rp->fetch_head], 32);
    rp->fetch_head++;
    rp->fetch_len--;
    if (rp->fetch_len == 0)
        rp->fetch_head = 0;
}

static int flight_find(const relay_peer *rp, const uint8_t h[32])
{
    for (size_t i = 0; i < rp->n_flights; i++)
        if (memcmp(rp->flights[i].hash, h, 32) == 0)
            return (int)i;
    return -1;
}

static void flight_remove_at(relay *r, relay_peer *rp, size_t i)
{
    if (hmap_get(&r->in_flight, rp->flights[i].hash) == rp)
        hmap_del(&r->in_flight, rp->flights[i].hash);
    rp->flights[i] = rp->flights[--rp->n_flights];
}

/* The block arrived (or was refused): no longer outstanding anywhere. */
static void flight_done(relay *r, const uint8_t h[32])
{
    relay_peer *owner = hmap_get(&r->in_flight, h);
    if (!owner)
        return;
    int i = flight_find(owner, h);
    if (i >= 0)
        flight_remove_at(r, owner, (size_t)i);
    else
        hmap_del(&r->in_flight, h);
}

/* ---- sending ------------------------------------------------------------- */

static void send_inv_items(net_peer *p, uint8_t type, const proto_inv_item *items,
                           uint32_t n)
{
    proto_inv inv = { .n = n, .items = (proto_inv_item *)items };
    uint8_t *buf;
    size_t len;
    if (n == 0 || proto_inv_encode(&inv, &buf, &len) != 0)
        return;
    net_send(p, type, buf, len);
    free(buf);
}

static void send_getblocks(relay *r, relay_peer *rp)
{
    uint8_t loc[PROTO_LOCATOR_MAX][32];
    proto_locator m = { 0 };
    uint8_t *buf;
    size_t len;

    m.n = (uint32_t)chain_locator(r->cfg.chain, loc, PROTO_LOCATOR_MAX);
    m.hashes = loc;
    if (proto_locator_encode(&m, &buf, &len) != 0)
        return;
    net_send(rp->np, PROTO_MSG_GETBLOCKS, buf, len);
    free(buf);
    rp->getblocks_ms = (uint64_t)clock_mono_ms();
    rp->want_getblocks = 0;
    log_debug(r->cfg.log, "getblocks to %s (tip height %u)", net_peer_name(rp->np),
              chain_tip(r->cfg.chain)->height);
}

static void maybe_getblocks(relay *r, relay_peer *rp)
{
    if ((uint64_t)clock_mono_ms() - rp->getblocks_ms >= RELAY_GETBLOCKS_MIN_MS)
        send_getblocks(r, rp);
    else
        rp->want_getblocks = 1;
}

static int block_wanted(relay *r, const uint8_t h[32])
{
    return chain_lookup(r->cfg.chain, h) == NULL &&
           hmap_get(&r->in_flight, h) == NULL;
}

/* Requests queued blocks from this peer while it has free slots. */
static void pump(relay *r, relay_peer *rp)
{
    proto_inv_item items[RELAY_BLOCKS_IN_FLIGHT];
    uint32_t n = 0;
    uint64_t now = (uint64_t)clock_mono_ms();

    while (rp->n_flights < RELAY_BLOCKS_IN_FLIGHT && rp->fetch_len > 0) {
        uint8_t h[32];
        fetch_pop(rp, h);
        if (!block_wanted(r, h))
            continue;
        if (hmap_put(&r->in_flight, h, rp) != 0)
            break;
        flight *f = &rp->flights[rp->n_flights++];
        memcpy(f->hash, h, 32);
        f->since_ms = now;
        items[n].kind = PROTO_INV_BLOCK;
        memcpy(items[n].hash, h, 32);
        n++;
    }
    r->st.blocks_requested += n;
    send_inv_items(rp->np, PROTO_MSG_GETDATA, items, n);
}

/* The end of a full sync batch is in: ask for the next batch. */
static void batch_check(relay *r, relay_peer *rp, const uint8_t h[32])
{
    if (rp->batch_pending && memcmp(rp->batch_last, h, 32) == 0) {
        rp->batch_pending = 0;
        send_getblocks(r, rp);
    }
}

/* INV of h to every peer not known to have it. */
static void inv_to_peers(relay *r, const uint8_t h[32])
{
    proto_inv_item it = { .kind = PROTO_INV_BLOCK };
    memcpy(it.hash, h, 32);
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p)) {
        relay_peer *rp = peer_of(p);
        if (!rp || known_has(&rp->known, h))
            continue;
        known_add(&rp->known, h);
        send_inv_items(p, PROTO_MSG_INV, &it, 1);
    }
}

/* The tip goes to the high-bandwidth peers at once (a compact block) and
 * to the rest by INV: at once when it is ours (mined here: nobody else
 * has it, and only the few peers that chose us as high-bandwidth got the
 * compact block), else at the next tick, when most of them have had it
 * from their own high-bandwidth peers and said so, and the INVs still sent
 * do not wake daemons while the compact blocks cross the host and want
 * the CPU (measured: bench_net.sh prop 50, docs/BENCHMARKS.md). */
static void announce_block(relay *r, const uint8_t h[32], int ours)
{
    if (is_hidden(r, h))
        return;
    relay_cmpct_announce(r->cmpct, h);
    if (ours) {
        inv_to_peers(r, h);
        return;
    }
    memcpy(r->inv_tip, h, 32);
    r->inv_due = 1;
}

/* The INVs announce_block left for the tick; only for the tip still (a
 * peer that lacks the blocks under a newer tip asks for them). */
static void announce_due_tip(relay *r)
{
    if (!r->inv_due)
        return;
    r->inv_due = 0;
    if (memcmp(r->inv_tip, chain_tip(r->cfg.chain)->hash, 32) == 0)
        inv_to_peers(r, r->inv_tip);
}

static void flush_tx_inv(relay *r, relay_peer *rp)
{
    if (rp->n_tx_inv > 0)
        send_inv_items(rp->np, PROTO_MSG_INV, rp->tx_inv, rp->n_tx_inv);
    rp->n_tx_inv = 0;
    if (rp->tx_inv_queued) {
        rp->tx_inv_queued = 0;
        r->n_tx_inv_peers--;
    }
}

/* The transactions that came in during this loop iteration go out as one
 * INV per peer instead of one INV each. */
static void flush_all_tx_inv(relay *r)
{
    if (r->n_tx_inv_peers == 0)
        return;
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p)) {
        relay_peer *rp = peer_of(p);
        if (rp && rp->tx_inv_queued)
            flush_tx_inv(r, rp);
    }
}

static int tx_inv_grow(relay_peer *rp)
{
    uint32_t cap = rp->cap_tx_inv ? rp->cap_tx_inv * 2 : 16;
    if (cap > PROTO_INV_MAX)
        cap = PROTO_INV_MAX;
    proto_inv_item *v = realloc(rp->tx_inv, sizeof *v * cap);
    if (!v)
        return SG_ENOMEM;
    rp->tx_inv = v;
    rp->cap_tx_inv = cap;
    return 0;
}

/* The net's turn hook: what this turn gathered goes out, transactions to
 * check to the pool, announcements to the peers. */
static void end_turn(void *arg)
{
    relay *r = arg;
    if (r->tv)
        txv_flush(r->tv);
    flush_all_tx_inv(r);
}

/* Queued, not sent: see flush_all_tx_inv. */
static void announce_tx(relay *r, const uint8_t txid[32])
{
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p)) {
        relay_peer *rp = peer_of(p);
        if (!rp || known_has(&rp->known, txid))
            continue;
        if (rp->n_tx_inv == rp->cap_tx_inv && tx_inv_grow(rp) != 0)
            continue;                 /* not announced: only slower spread */
        known_add(&rp->known, txid);
        proto_inv_item *it = &rp->tx_inv[rp->n_tx_inv++];
        it->kind = PROTO_INV_TX;
        memcpy(it->hash, txid, 32);
        if (!rp->tx_inv_queued) {
            rp->tx_inv_queued = 1;
            r->n_tx_inv_peers++;
        }
        if (rp->n_tx_inv == PROTO_INV_MAX)
            flush_tx_inv(r, rp);
    }
}

/* The launcher stores who honest nodes banned (an adversary's effect);
 * net's ban list holds identities, not names. */
static void note_banned(relay *r, const char *name)
{
    size_t len = strlen(r->banned), nlen = strlen(name);
    if (nlen == 0)
        return;
    for (const char *s = r->banned; (s = strstr(s, name)) != NULL; s += nlen)
        if ((s == r->banned || s[-1] == ' ') && (s[nlen] == ' ' || s[nlen] == '\0'))
            return;
    if (len + (len ? 1 : 0) + nlen > RELAY_BANNED_NAMES_MAX)
        return;
    snprintf(r->banned + len, sizeof r->banned - len, "%s%s", len ? " " : "", name);
}

static void misbehave(relay *r, net_peer *p, const char *what, int rc)
{
    char reason[128];
    snprintf(reason, sizeof reason, "%s: %s", what, sg_strerror(rc));
    r->st.misbehaved++;
    note_banned(r, net_peer_name(p));
    net_misbehave(p, reason);
}

/* ---- peer events --------------------------------------------------------- */

static void announce_mempool(relay *r, relay_peer *rp)
{
    proto_inv_item *items = malloc(sizeof *items * RELAY_MEMPOOL_INV_MAX);
    mempool *mp = chain_mempool(r->cfg.chain);
    const uint8_t *id;
    size_t it = 0;
    uint32_t n = 0;

    if (!items)
        return;
    while (n < RELAY_MEMPOOL_INV_MAX && mempool_next(mp, &it, &id)) {
        items[n].kind = PROTO_INV_TX;
        memcpy(items[n].hash, id, 32);
        known_add(&rp->known, id);
        n++;
    }
    send_inv_items(rp->np, PROTO_MSG_INV, items, n);
    free(items);
}

static void on_ready(relay *r, net_peer *p)
{
    relay_peer *rp = calloc(1, sizeof *rp);
    if (!rp || known_init(&rp->known) != 0) {
        if (rp)
            rpeer_free(rp);
        net_disconnect(p, "out of memory for peer state");
        return;
    }
    rp->np = p;
    rp->seq = ++r->peer_seq;
    memcpy(rp->id, net_peer_identity(p), 32);
    net_peer_set_data(p, rp);
    log_debug(r->cfg.log, "relay: peer %s (%s) ready, %s", net_peer_name(p), net_peer_addr(p),
             net_peer_is_inbound(p) ? "inbound" : "outbound");
    relay_cmpct_peer_ready(r->cmpct, p);
    send_getblocks(r, rp);
    announce_mempool(r, rp);
}

/* Requests a peer had outstanding go to other peers with free slots. */
static void reissue(relay *r, relay_peer *from, const uint8_t h[32])
{
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p)) {
        relay_peer *rp = peer_of(p);
        if (!rp || rp == from || rp->n_flights >= RELAY_BLOCKS_IN_FLIGHT)
            continue;
        if (fetch_push(rp, h) == 0)
            pump(r, rp);
        return;
    }
}

static void on_closed(relay *r, net_peer *p)
{
    relay_peer *rp = peer_of(p);
    if (!rp)
        return;
    net_peer_set_data(p, NULL);
    relay_cmpct_peer_closed(r->cmpct, p);
    if (rp->tx_inv_queued)
        r->n_tx_inv_peers--;
    if (rp->paused)
        r->n_paused--;
    if (r->tv)
        txv_forget(r->tv, rp);
    relay_txreq_peer_gone(r->txreq, rp->seq);
    while (rp->n_flights > 0) {
        uint8_t h[32];
        memcpy(h, rp->flights[0].hash, 32);
        flight_remove_at(r, rp, 0);
        if (block_wanted(r, h))
            reissue(r, rp, h);
    }
    log_debug(r->cfg.log, "relay: peer %s (%s) gone", net_peer_name(p), net_peer_addr(p));
    rpeer_free(rp);
}

void relay_peer_event(relay *r, net_peer *p, enum net_event ev)
{
    if (ev == NET_EV_READY)
        on_ready(r, p);
    else if (ev == NET_EV_CLOSED)
        on_closed(r, p);
}

/* ---- messages ------------------------------------------------------------ */

static void on_inv(relay *r, relay_peer *rp, const uint8_t *pl, size_t len)
{
    proto_inv inv;
    proto_inv_item *want = NULL;
    uint32_t n_want = 0, n_blocks = 0;
    const uint8_t *last_block = NULL;
    uint64_t now = (uint64_t)clock_mono_ms();
    int rc = proto_inv_decode(pl, len, &inv);

    if (rc != 0) {
        misbehave(r, rp->np, "bad INV", rc);
        return;
    }
    want = malloc(sizeof *want * (inv.n ? inv.n : 1));
    if (!want)
        goto out;
    for (uint32_t i = 0; i < inv.n; i++) {
        const proto_inv_item *it = &inv.items[i];
        mark_theirs(rp, it->hash);
        if (it->kind == PROTO_INV_TX) {
            if (!mempool_has(chain_mempool(r->cfg.chain), it->hash) &&
                !(r->tv && txv_has(r->tv, it->hash)) &&
                relay_txreq_announced(r->txreq, rp->seq, it->hash, now))
                want[n_want++] = *it;
        } else if (it->kind == PROTO_INV_BLOCK) {
            n_blocks++;
            last_block = it->hash;
            if (block_wanted(r, it->hash) && !fetch_has(rp, it->hash))
                fetch_push(rp, it->hash);
        } else {
            misbehave(r, rp->np, "bad INV", SG_EINVAL);
            goto out;
        }
    }
    /* Announcements carry one tip; several block hashes at once are an
     * answer to GETBLOCKS, so once its last block is in, ask again: the
     * next answer is empty when we have everything.  (Counting on a full
     * batch alone would stall when the peer left out hashes we had
     * announced to it.) */
    if (n_blocks > 1 && last_block) {
        memcpy(rp->batch_last, last_block, 32);
        rp->batch_pending = 1;
        /* Everything in the batch already on our chain: go on at once
         * (our locator has moved past it).  Known blocks off our chain
         * (a branch with no more work than ours) end the exchange, or two
         * peers at a tie would ask each other for ever. */
        const chain_entry *e = chain_lookup(r->cfg.chain, last_block);
        if (e) {
            rp->batch_pending = 0;
            if (e->active)
                send_getblocks(r, rp);
        }
    }
    send_inv_items(rp->np, PROTO_MSG_GETDATA, want, n_want);
    pump(r, rp);
out:
    free(want);
    proto_inv_free(&inv);
}

static int serve_block(relay *r, relay_peer *rp, const uint8_t h[32])
{
    net_peer_info info;
    uint8_t *bytes;
    size_t len;

    net_peer_get_info(rp->np, &info);
    if (info.send_queued > RELAY_SEND_BACKLOG_MAX)
        return SG_EFULL;
    const chain_entry *e = chain_lookup(r->cfg.chain, h);
    if (!e || e->status != CHAIN_ENTRY_VALID || is_hidden(r, h))
        return SG_ENOTFOUND;
    int rc = chain_block_bytes(r->cfg.chain, h, &bytes, &len);
    if (rc != 0)
        return rc;
    rc = net_send(rp->np, PROTO_MSG_BLOCK, bytes, len);
    free(bytes);
    if (rc == 0) {
        known_add(&rp->known, h);
        r->st.blocks_served++;
    }
    return rc;
}

/* The transactions one GETDATA asks for, gathered for one TXS frame (one
 * TX when there is only one), instead of one sealed frame each. */
typedef struct {
    const proto_tx *txs[RELAY_TXS_BATCH];
    const uint8_t *ids[RELAY_TXS_BATCH];
    uint32_t n;
    size_t bytes;                     /* about what they encode to */
} tx_answer;

static int send_txs(relay_peer *rp, tx_answer *a)
{
    uint8_t *bytes;
    size_t len;
    int rc = 0;
    if (a->n == 0)
        return 0;
    if (a->n == 1)
        rc = proto_tx_encode(a->txs[0], &bytes, &len);
    else
        rc = proto_txs_encode(a->txs, a->n, &bytes, &len);
    if (rc == 0) {
        rc = net_send(rp->np, a->n == 1 ? PROTO_MSG_TX : PROTO_MSG_TXS, bytes, len);
        free(bytes);
    }
    for (uint32_t i = 0; rc == 0 && i < a->n; i++)
        known_add(&rp->known, a->ids[i]);
    a->n = 0;
    a->bytes = 0;
    return rc;
}

/* The mempool's entries stay put until the loop turn ends (nothing removes
 * them while a GETDATA is answered), so pointers are gathered, not copies. */
static int serve_tx(relay *r, relay_peer *rp, tx_answer *a, const uint8_t h[32])
{
    const proto_tx *tx = mempool_get(chain_mempool(r->cfg.chain), h);
    if (!tx)
        return SG_ENOTFOUND;
    a->txs[a->n] = tx;
    a->ids[a->n] = h;
    a->n++;
    /* A settlement may be large: keep a frame well under its cap. */
    a->bytes += 256 + (tx->kind == PROTO_TX_SETTLEMENT ? (size_t)tx->u.settle.n_fills * 64 : 0);
    if (a->n == RELAY_TXS_BATCH || a->bytes >= RELAY_TXS_BYTES)
        return send_txs(rp, a);
    return 0;
}

static void on_getdata(relay *r, relay_peer *rp, const uint8_t *pl, size_t len)
{
    proto_inv inv;
    proto_inv_item *missing = NULL;
    tx_answer *answer = NULL;
    uint32_t n_missing = 0;
    int rc = proto_inv_decode(pl, len, &inv);

    if (rc != 0) {
        misbehave(r, rp->np, "bad GETDATA", rc);
        return;
    }
    missing = malloc(sizeof *missing * (inv.n ? inv.n : 1));
    answer = malloc(sizeof *answer);
    if (!missing || !answer)
        goto out;
    answer->n = 0;
    answer->bytes = 0;
    for (uint32_t i = 0; i < inv.n; i++) {
        const proto_inv_item *it = &inv.items[i];
        if (it->kind == PROTO_INV_BLOCK)
            rc = serve_block(r, rp, it->hash);
        else if (it->kind == PROTO_INV_TX)
            rc = serve_tx(r, rp, answer, it->hash);
        else
            rc = SG_EINVAL;
        if (rc == SG_ECLOSED || rc == SG_EFULL)
            goto out;             /* dropped as too slow */
        if (rc != 0)
            missing[n_missing++] = *it;
    }
    if (send_txs(rp, answer) == 0)
        send_inv_items(rp->np, PROTO_MSG_NOTFOUND, missing, n_missing);
out:
    free(answer);
    free(missing);
    proto_inv_free(&inv);
}

static void on_notfound(relay *r, relay_peer *rp, const uint8_t *pl, size_t len)
{
    proto_inv inv;
    int rc = proto_inv_decode(pl, len, &inv);
    if (rc != 0) {
        misbehave(r, rp->np, "bad NOTFOUND", rc);
        return;
    }
    for (uint32_t i = 0; i < inv.n; i++) {
        if (inv.items[i].kind == PROTO_INV_TX)
            relay_txreq_notfound(r->txreq, rp->seq, inv.items[i].hash);
        int k = flight_find(rp, inv.items[i].hash);
        if (k >= 0) {
            uint8_t h[32];
            memcpy(h, inv.items[i].hash, 32);
            flight_remove_at(r, rp, (size_t)k);
            reissue(r, rp, h);
        }
    }
    proto_inv_free(&inv);
    pump(r, rp);
}

static void on_getblocks(relay *r, relay_peer *rp, uint8_t type,
                         const uint8_t *pl, size_t len)
{
    proto_locator loc;
    uint8_t (*hashes)[32] = NULL;
    int rc = proto_locator_decode(pl, len, &loc);

    if (rc != 0) {
        misbehave(r, rp->np, type == PROTO_MSG_GETBLOCKS ? "bad GETBLOCKS"
                                                         : "bad GETHEADERS", rc);
        return;
    }
    size_t max = type == PROTO_MSG_GETBLOCKS ? RELAY_SYNC_BATCH : PROTO_HEADERS_MAX;
    hashes = malloc(sizeof *hashes * max);
    if (!hashes)
        goto out;
    size_t n = chain_after_locator(r->cfg.chain, (const uint8_t (*)[32])loc.hashes,
                                   loc.n, loc.stop, hashes, max);
    if (type == PROTO_MSG_GETBLOCKS) {
        proto_inv_item *items = malloc(sizeof *items * (n ? n : 1));
        uint32_t k = 0;
        if (!items)
            goto out;
        /* An explicit request gets what we announced before, too; only
         * what the peer itself announced is left out. */
        for (size_t i = 0; i < n; i++) {
            if (is_hidden(r, hashes[i]))
                break;
            if (known_flags(&rp->known, hashes[i]) & KNOWN_THEIRS)
                continue;
            items[k].kind = PROTO_INV_BLOCK;
            memcpy(items[k].hash, hashes[i], 32);
            known_add(&rp->known, hashes[i]);
            k++;
        }
        send_inv_items(rp->np, PROTO_MSG_INV, items, k);
        free(items);
    } else {
        proto_headers hm = { .n = 0 };
        uint8_t *buf;
        size_t blen;
        hm.headers = malloc(sizeof *hm.headers * (n ? n : 1));
        if (!hm.headers)
            goto out;
        for (size_t i = 0; i < n && !is_hidden(r, hashes[i]); i++) {
            const chain_entry *e = chain_lookup(r->cfg.chain, hashes[i]);
            if (e)
                hm.headers[hm.n++] = e->header;
        }
        if (proto_headers_encode(&hm, &buf, &blen) == 0) {
            net_send(rp->np, PROTO_MSG_HEADERS, buf, blen);
            free(buf);
        }
        free(hm.headers);
    }
out:
    free(hashes);
    proto_locator_free(&loc);
}

static int is_local_failure(int rc)
{
    return rc == SG_ENOMEM || rc == SG_EIO || rc == SG_EFULL;
}

static void after_block(relay *r, const chain_result *res, relay_peer *from)
{
    if (res->outcome == CHAIN_NEW_TIP) {
        const chain_entry *tip = chain_tip(r->cfg.chain);
        if (from)
            relay_cmpct_delivered(r->cmpct, from->np);
        announce_block(r, tip->hash, from == NULL);    /* unless hidden */
        if (r->cfg.on_tip)
            r->cfg.on_tip(r->cfg.ctx);
    } else if (res->outcome == CHAIN_ORPHANED && from) {
        r->st.orphans++;
        log_debug(r->cfg.log, "orphan block from %s, asking for its parents",
                  net_peer_name(from->np));
        maybe_getblocks(r, from);
    }
}

static void block_in(relay *r, relay_peer *rp, const uint8_t *pl, size_t len, int spare)
{
    chain_result res;
    int rc;

    memset(&res, 0, sizeof res);
    rc = chain_submit_block(r->cfg.chain, pl, len, (uint64_t)time(NULL), &res);
    if (rc == 0 || !is_local_failure(rc)) {
        /* res.hash is set once the block decoded; a block that did not
         * decode has no hash worth tracking. */
        if (!hash_is_zero(res.hash)) {
            mark_theirs(rp, res.hash);
            flight_done(r, res.hash);
        }
    }
    if (rc < 0) {
        if (is_local_failure(rc)) {
            log_error(r->cfg.log, "storing a block from %s failed: %s",
                      net_peer_name(rp->np), sg_strerror(rc));
            return;
        }
        if (res.connected > 0 || res.disconnected > 0)
            after_block(r, &(chain_result){ .outcome = CHAIN_NEW_TIP }, NULL);
        if (rc == SG_EFUTURE) {
            /* Early, not invalid: clocks differ; a later announcement of
             * the same block is fetched again. */
            log_warn(r->cfg.log, "block from %s is ahead of our clock; ignored for now",
                     net_peer_name(rp->np));
            return;
        }
        if (spare) {
            log_warn(r->cfg.log, "block from %s broke a rule after its header checked out "
                     "(%s); not held against it (compact block relay)",
                     net_peer_name(rp->np), sg_strerror(rc));
            return;
        }
        r->st.rejected_blocks++;
        misbehave(r, rp->np, "invalid block", rc);
        return;
    }
    after_block(r, &res, rp);
    if (r->cfg.on_peer_block && (res.outcome == CHAIN_NEW_TIP || res.outcome == CHAIN_SIDE))
        r->cfg.on_peer_block(r->cfg.ctx, &res);
    batch_check(r, rp, res.hash);
    pump(r, rp);
}

static void on_block(relay *r, relay_peer *rp, const uint8_t *pl, size_t len)
{
    r->st.blocks_in++;
    block_in(r, rp, pl, len, 0);
}

/* SG_ESETTLE here is the mempool's stateless rule (a settlement not from
 * the operator), which no honest node would relay. */
static int tx_fault_is_senders(int rc)
{
    return rc == SG_EBADSIG || rc == SG_EINVALID || rc == SG_ECOINBASE ||
           rc == SG_ETOOBIG || rc == SG_EINVAL || rc == SG_ESETTLE;
}

/* A transaction's fate once its signature is known (rc: the check's
 * verdict, or the mempool's): announced, or charged to its sender (rp, or
 * its identity when the link is gone), or only logged. */
static void tx_outcome(relay *r, relay_peer *rp, const uint8_t id[32],
                       const uint8_t txid[32], int rc)
{
    if (rc == 0) {
        announce_tx(r, txid);
        if (r->cfg.on_tx)
            r->cfg.on_tx(r->cfg.ctx);
    } else if (tx_fault_is_senders(rc)) {
        r->st.rejected_txs++;
        if (rp) {
            misbehave(r, rp->np, "invalid transaction", rc);
        } else {
            char reason[128];
            snprintf(reason, sizeof reason, "invalid transaction: %s", sg_strerror(rc));
            r->st.misbehaved++;
            net_misbehave_identity(r->cfg.net, id, reason);
        }
    } else {
        log_debug(r->cfg.log, "tx from %s not taken: %s",
                  rp ? net_peer_name(rp->np) : "a peer now gone", sg_strerror(rc));
    }
}

/* Paused peers read again once the check queue has room. */
static void maybe_resume(relay *r)
{
    if (r->n_paused == 0 || txv_pending(r->tv) >= RELAY_VERIFY_LOW)
        return;
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p)) {
        relay_peer *rp = peer_of(p);
        if (rp && rp->paused) {
            rp->paused = 0;
            r->n_paused--;
            net_peer_pause_input(p, 0);
        }
    }
}

/* txverify's verdict, on the loop, in arrival order. */
static void on_tx_checked(void *ctx, txv_item *it)
{
    relay *r = ctx;
    int rc = it->rc;
    r->st.txs_checked++;
    if (rc == 0)
        rc = chain_admit_verified_tx(r->cfg.chain, &it->tx, it->txid, it->key);
    tx_outcome(r, it->from, it->from_id, it->txid, rc);
    maybe_resume(r);
}

static void to_check(relay *r, relay_peer *rp, proto_tx *tx, const uint8_t txid[32])
{
    /* What the mempool would refuse anyway is not worth a check. */
    int rc = chain_precheck_tx(r->cfg.chain, tx, txid);
    if (rc != 0) {
        proto_tx_free(tx);
        tx_outcome(r, rp, rp->id, txid, rc);
        return;
    }
    if (txv_submit(r->tv, tx, txid, rp, rp->id) != 0)
        return;                       /* no memory: as if never sent */
    if (txv_pending(r->tv) >= RELAY_VERIFY_HIGH && !rp->paused) {
        rp->paused = 1;
        r->n_paused++;
        r->st.verify_pauses++;
        net_peer_pause_input(rp->np, 1);
    }
}

/* One transaction a peer sent (taken: freed or passed on). */
static void take_tx(relay *r, relay_peer *rp, proto_tx *tx)
{
    uint8_t txid[32];
    int rc = tx_id(tx, txid);
    if (rc != 0) {
        proto_tx_free(tx);
        misbehave(r, rp->np, "bad TX", rc);
        return;
    }
    mark_theirs(rp, txid);
    relay_txreq_done(r->txreq, txid);
    if (mempool_has(chain_mempool(r->cfg.chain), txid) ||
        (r->tv && txv_has(r->tv, txid))) {
        r->st.txs_dup++;
        proto_tx_free(tx);
        return;
    }
    if (r->tv) {
        to_check(r, rp, tx, txid);
        return;
    }
    rc = chain_admit_tx(r->cfg.chain, tx, txid);
    proto_tx_free(tx);
    tx_outcome(r, rp, rp->id, txid, rc);
}

static void on_tx(relay *r, relay_peer *rp, const uint8_t *pl, size_t len)
{
    proto_tx tx;
    int rc = proto_tx_decode(pl, len, &tx);

    r->st.txs_in++;
    if (rc != 0) {
        misbehave(r, rp->np, "bad TX", rc);
        return;
    }
    take_tx(r, rp, &tx);
}

static void on_txs(relay *r, relay_peer *rp, const uint8_t *pl, size_t len)
{
    proto_txs m;
    net_peer *np = rp->np;
    int rc = proto_txs_decode(pl, len, &m);

    if (rc != 0) {
        misbehave(r, np, "bad TXS", rc);
        return;
    }
    r->st.txs_in += m.n;
    /* A transaction found at fault closes the peer, whose state goes with
     * it: the rest are dropped then. */
    for (uint32_t i = 0; i < m.n && peer_of(np) == rp; i++)
        take_tx(r, rp, &m.txs[i]);
    proto_txs_free(&m);
}

void relay_peer_msg(relay *r, net_peer *p, uint8_t type,
                    const uint8_t *payload, size_t len)
{
    relay_peer *rp = peer_of(p);
    if (!rp)
        return;
    if (log_enabled(r->cfg.log, LOG_LEVEL_DEBUG))
        log_debug(r->cfg.log, "%s from %s (%zu bytes)", proto_msg_type_name(type),
                  net_peer_name(p), len);
    switch (type) {
    case PROTO_MSG_INV: on_inv(r, rp, payload, len); break;
    case PROTO_MSG_GETDATA: on_getdata(r, rp, payload, len); break;
    case PROTO_MSG_NOTFOUND: on_notfound(r, rp, payload, len); break;
    case PROTO_MSG_BLOCK: on_block(r, rp, payload, len); break;
    case PROTO_MSG_TX: on_tx(r, rp, payload, len); break;
    case PROTO_MSG_TXS: on_txs(r, rp, payload, len); break;
    case PROTO_MSG_GETBLOCKS:
    case PROTO_MSG_GETHEADERS: on_getblocks(r, rp, type, payload, len); break;
    case PROTO_MSG_HEADERS:
        break;                    /* never asked for; harmless */
    case PROTO_MSG_SENDCMPCT:
    case PROTO_MSG_CMPCTBLOCK:
    case PROTO_MSG_GETBLOCKTXN:
    case PROTO_MSG_BLOCKTXN: relay_cmpct_msg(r->cmpct, p, type, payload, len); break;
    case PROTO_MSG_REJECT: {
        proto_reject rj;
        if (proto_reject_decode(payload, len, &rj) == 0)
            log_info(r->cfg.log, "%s rejected something: %s", net_peer_name(p),
                     rj.reason);
        break;
    }
    default:
        misbehave(r, p, proto_msg_type_name(type), SG_EPROTO);
        break;
    }
}

/* ---- timers and local submissions --------------------------------------- */

/* relay_txreq_expire's way to ask another announcer. */
static int ask_again(void *ctx, uint64_t peer, const uint8_t txid[32])
{
    relay *r = ctx;
    proto_inv_item it = { .kind = PROTO_INV_TX };
    if (mempool_has(chain_mempool(r->cfg.chain), txid) || (r->tv && txv_has(r->tv, txid)))
        return -1;
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p)) {
        relay_peer *rp = peer_of(p);
        if (rp && rp->seq == peer) {
            memcpy(it.hash, txid, 32);
            send_inv_items(p, PROTO_MSG_GETDATA, &it, 1);
            return 0;
        }
    }
    return 1;
}

void relay_tick(relay *r, uint64_t now_ms)
{
    uint64_t now = now_ms;
    end_turn(r);
    announce_due_tip(r);
    relay_txreq_expire(r->txreq, now, ask_again, r);
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p)) {
        relay_peer *rp = peer_of(p);
        if (!rp)
            continue;
        for (size_t i = 0; i < rp->n_flights;) {
            /* It came some other way (an orphan adopted, say). */
            if (chain_lookup(r->cfg.chain, rp->flights[i].hash)) {
                flight_remove_at(r, rp, i);
                continue;
            }
            if (now - rp->flights[i].since_ms < r->cfg.stall_ms) {
                i++;
                continue;
            }
            uint8_t h[32];
            memcpy(h, rp->flights[i].hash, 32);
            flight_remove_at(r, rp, i);
            r->st.stalls++;
            log_info(r->cfg.log, "block request to %s stalled, asking elsewhere",
                     net_peer_name(p));
            reissue(r, rp, h);
        }
        if (rp->want_getblocks && now - rp->getblocks_ms >= RELAY_GETBLOCKS_MIN_MS)
            send_getblocks(r, rp);
        pump(r, rp);
    }
    relay_cmpct_tick(r->cmpct, now);
}

int relay_submit_block(relay *r, const uint8_t *bytes, size_t len,
                       chain_result *res)
{
    memset(res, 0, sizeof *res);
    int rc = chain_submit_block(r->cfg.chain, bytes, len, (uint64_t)time(NULL), res);
    if (rc == 0)
        after_block(r, res, NULL);
    return rc;
}

int relay_submit_block_withheld(relay *r, const uint8_t *bytes, size_t len,
                                chain_result *res)
{
    memset(res, 0, sizeof *res);
    int rc = chain_submit_block(r->cfg.chain, bytes, len, (uint64_t)time(NULL), res);
    if (rc == 0 && res->outcome == CHAIN_NEW_TIP && r->cfg.on_tip)
        r->cfg.on_tip(r->cfg.ctx);
    return rc;
}

void relay_announce_blocks(relay *r, const uint8_t (*hashes)[32], size_t n)
{
    proto_inv_item *items = malloc(sizeof *items * (n ? n : 1));
    if (!items)
        return;                   /* unannounced; no longer hidden, a GETBLOCKS finds them */
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p)) {
        relay_peer *rp = peer_of(p);
        uint32_t k = 0;
        if (!rp)
            continue;
        for (size_t i = 0; i < n && k < PROTO_INV_MAX; i++) {
            if (known_has(&rp->known, hashes[i]))
                continue;
            known_add(&rp->known, hashes[i]);
            items[k].kind = PROTO_INV_BLOCK;
            memcpy(items[k].hash, hashes[i], 32);
            k++;
        }
        send_inv_items(p, PROTO_MSG_INV, items, k);
    }
    free(items);
}

void relay_each_peer(relay *r, void (*fn)(void *ctx, net_peer *p, size_t i), void *ctx)
{
    size_t i = 0;
    for (net_peer *p = net_peer_first(r->cfg.net); p; p = net_peer_next(p))
        if (peer_of(p))
            fn(ctx, p, i++);
}

const char *relay_banned_names(const relay *r)
{
    return r->banned;
}

int relay_submit_tx(relay *r, const proto_tx *tx, uint8_t txid[32])
{
    int rc = chain_submit_tx(r->cfg.chain, tx, txid);
    if (rc == 0)
        announce_tx(r, txid);
    return rc;
}

int relay_send_tx_to(relay *r, net_peer *p, const proto_tx *tx)
{
    relay_peer *rp = peer_of(p);
    uint8_t *bytes = NULL, txid[32];
    size_t len = 0;
    int rc;

    (void)r;
    if ((rc = tx_id(tx, txid)) < 0 || (rc = proto_tx_encode(tx, &bytes, &len)) < 0)
        return rc;
    rc = net_send(p, PROTO_MSG_TX, bytes, len);
    free(bytes);
    if (rc == 0 && rp)
        known_add(&rp->known, txid);
    return rc;
}

void relay_get_stats(const relay *r, relay_stats *out)
{
    *out = r->st;
    out->in_flight = r->in_flight.count;
    out->txs_verifying = r->tv ? txv_pending(r->tv) : 0;
    relay_cmpct_stats(r->cmpct, out);
}

/* ---- lent to relay_cmpct.c (relay_int.h) --------------------------------- */

int relay_peer_knows(relay *r, net_peer *p, const uint8_t h[32])
{
    (void)r;
    relay_peer *rp = peer_of(p);
    return rp && known_has(&rp->known, h);
}

void relay_peer_mark_sent(relay *r, net_peer *p, const uint8_t h[32])
{
    (void)r;
    relay_peer *rp = peer_of(p);
    if (rp)
        known_add(&rp->known, h);
}

void relay_peer_mark_theirs(relay *r, net_peer *p, const uint8_t h[32])
{
    (void)r;
    relay_peer *rp = peer_of(p);
    if (rp)
        mark_theirs(rp, h);
}

void relay_misbehave(relay *r, net_peer *p, const char *what, int rc)
{
    misbehave(r, p, what, rc);
}

void relay_block_in(relay *r, net_peer *p, const uint8_t *bytes, size_t len, int spare)
{
    relay_peer *rp = peer_of(p);
    if (rp)
        block_in(r, rp, bytes, len, spare);
}

void relay_request_block(relay *r, net_peer *p, const uint8_t h[32])
{
    relay_peer *rp = peer_of(p);
    if (!rp)
        return;
    if (block_wanted(r, h) && !fetch_has(rp, h))
        fetch_push(rp, h);
    pump(r, rp);
}

/* ---- life cycle ---------------------------------------------------------- */

int relay_new(relay **out, const relay_config *cfg)
{
    relay *r;
    *out = NULL;
    if (!cfg->chain || !cfg->net)
        return SG_EINVAL;
    r = calloc(1, sizeof *r);
    if (!r)
        return SG_ENOMEM;
    r->cfg = *cfg;
    if (r->cfg.stall_ms == 0)
        r->cfg.stall_ms = RELAY_STALL_MS;
    hmap_init(&r->in_flight);
    if (relay_txreq_new(&r->txreq, CHAIN_MEMPOOL_TXS, RELAY_TX_ASK_MS) != 0) {
        free(r);
        return SG_ENOMEM;
    }
    if (cfg->loop) {
        txv_config vc = { .loop = cfg->loop, .on_done = on_tx_checked, .ctx = r };
        chain_sig_keyer(cfg->chain, &vc.keyer);
        memcpy(vc.chain_id, chain_id(cfg->chain), 32);
        if (txv_new(&r->tv, &vc) != 0) {
            relay_txreq_free(r->txreq);
            free(r);
            return SG_ENOMEM;
        }
    }
    if (relay_cmpct_new(&r->cmpct, r, &r->cfg) != 0) {
        txv_free(r->tv);
        relay_txreq_free(r->txreq);
        free(r);
        return SG_ENOMEM;
    }
    net_set_turn_hook(r->cfg.net, end_turn, r);
    *out = r;
    return 0;
}

void relay_free(relay *r)
{
    if (!r)
        return;
    txv_free(r->tv);
    hmap_free(&r->in_flight);
    relay_cmpct_free(r->cmpct);
    relay_txreq_free(r->txreq);
    free(r);
}
