/*
 * adv_tx.c - the transaction-side adversary roles; see adv_tx.h.
 */
#include "common/daemon/adv_tx.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/market.h"
#include "common/core/mempool.h"
#include "common/core/tx.h"
#include "common/core/adv_role.h"
#include "common/model/energy.h"

/* A conflicting pair sent and not decided yet. */
typedef struct {
    uint64_t nonce;
    uint64_t sent_ms;
    uint8_t a[32], b[32];
} ds_pair;

typedef struct {
    uint8_t sk[64], pk[32];
} adv_key;

struct adv_tx {
    adv_tx_config cfg;
    adv_tx_stats st;
    adv_key ds_colluder, seller, buyer;
    uint64_t ds_next_ms;              /* next pair due; 0: at the first tick */
    ds_pair ds[ADV_DS_PENDING];
    size_t n_ds;
    int ds_no_halves_logged;
    uint64_t manip_interval;          /* last interval wash-traded, +1; 0: none */
    uint64_t spam_last_ms;
    uint64_t spam_on_ms;              /* when the spammer was switched on */
    uint64_t spam_malformed_ms;       /* last malformed round */
    double spam_credit;               /* transactions owed at the set rate */
    uint64_t forge_interval;          /* last interval forged in, +1; 0: none */
};

/* ---- keys and nonces ----------------------------------------------------- */

static void derive_key(const uint8_t sk[64], const char *label, adv_key *k)
{
    uint8_t seed[32];
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, sizeof seed);
    crypto_generichash_update(&st, (const unsigned char *)label, strlen(label));
    crypto_generichash_update(&st, sk, 64);
    crypto_generichash_final(&st, seed, sizeof seed);
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    sodium_memzero(seed, sizeof seed);
}

void adv_tx_derive_pk(const uint8_t sk[64], const char *label, uint8_t pk[32])
{
    adv_key k;
    derive_key(sk, label, &k);
    memcpy(pk, k.pk, 32);
    sodium_memzero(&k, sizeof k);
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The account's next free nonce: past the ledger's and the run of its
 * transactions the mempool holds (the household agent does the same, so
 * the two never pick one nonce for the same account). */
static uint64_t next_nonce(adv_tx *a, const uint8_t pk[32], size_t *held)
{
    const ledger_account *acct = ledger_account_get(chain_ledger(a->cfg.chain), pk);
    mempool *mp = chain_mempool(a->cfg.chain);
    uint64_t nonce = acct ? acct->nonce : 0, base = nonce;
    uint64_t mine[MEMPOOL_NONCE_WINDOW];
    size_t n = 0, it = 0;
    const uint8_t *id;

    while (n < MEMPOOL_NONCE_WINDOW && mempool_next(mp, &it, &id)) {
        const proto_tx *tx = mempool_get(mp, id);
        if (tx && memcmp(tx->from, pk, 32) == 0 && tx->nonce >= nonce)
            mine[n++] = tx->nonce;
    }
    qsort(mine, n, sizeof mine[0], u64_cmp);
    for (size_t i = 0; i < n && mine[i] <= nonce; i++)
        if (mine[i] == nonce)
            nonce++;
    if (held)
        *held = (size_t)(nonce - base);
    return nonce;
}

static void tx_init(proto_tx *tx, uint8_t kind, const uint8_t from[32], uint64_t nonce)
{
    memset(tx, 0, sizeof *tx);
    tx->version = PROTO_TX_VERSION;
    tx->kind = kind;
    memcpy(tx->from, from, 32);
    tx->nonce = nonce;
}

/* Signs and puts tx into our mempool, announced like any of ours. */
static int submit(adv_tx *a, proto_tx *tx, const uint8_t sk[64], uint8_t txid[32])
{
    int rc = tx_sign(tx, sk, chain_id(a->cfg.chain));
    if (rc == 0)
        rc = relay_submit_tx(a->cfg.relay, tx, txid);
    if (rc == 0 && a->cfg.on_tx)
        a->cfg.on_tx(a->cfg.ctx);
    return rc;
}

/* ---- double spender ------------------------------------------------------ */

static size_t ready_peers(adv_tx *a, net_peer **v, size_t cap)
{
    size_t n = 0;
    for (net_peer *p = net_peer_first(a->cfg.net); p && n < cap; p = net_peer_next(p))
        v[n++] = p;
    return n;
}

static void ds_remember(adv_tx *a, uint64_t nonce, uint64_t now_ms, const uint8_t ida[32],
                        const uint8_t idb[32])
{
    if (a->n_ds == ADV_DS_PENDING) {  /* the oldest is forgotten, undecided */
        memmove(a->ds, a->ds + 1, (ADV_DS_PENDING - 1) * sizeof a->ds[0]);
        a->n_ds--;
    }
    ds_pair *d = &a->ds[a->n_ds++];
    d->nonce = nonce;
    d->sent_ms = now_ms;
    memcpy(d->a, ida, 32);
    memcpy(d->b, idb, 32);
    memcpy(a->st.ds_last_a, ida, 32);
    memcpy(a->st.ds_last_b, idb, 32);
}

/* 1 when a pair went out, else 0 (tried again at the next tick). */
static int double_spend(adv_tx *a, uint64_t now_ms)
{
    net_peer *peers[NET_MAX_PEERS];
    size_t n = ready_peers(a, peers, NET_MAX_PEERS), half = (n + 1) / 2;
    proto_tx ta, tb;
    uint8_t ida[32], idb[32];
    int rc;

    if (n < 2) {
        if (!a->ds_no_halves_logged)
            log_info(a->cfg.log, "double spender: %zu peer(s), no two halves to deceive yet", n);
        a->ds_no_halves_logged = 1;
        return 0;
    }
    a->ds_no_halves_logged = 0;
    uint64_t nonce = next_nonce(a, a->cfg.pk, NULL);
    tx_init(&ta, PROTO_TX_TRANSFER, a->cfg.pk, nonce);
    ta.u.pay.amount = ADV_DS_AMOUNT;
    memcpy(ta.u.pay.to, net_peer_identity(peers[0]), 32);
    tb = ta;
    memcpy(tb.u.pay.to, a->ds_colluder.pk, 32);
    const uint8_t *cid = chain_id(a->cfg.chain);
    if ((rc = tx_sign(&ta, a->cfg.sk, cid)) < 0 || (rc = tx_sign(&tb, a->cfg.sk, cid)) < 0 ||
        (rc = tx_id(&ta, ida)) < 0 || (rc = tx_id(&tb, idb)) < 0)
        goto fail;
    /* A in our own pool, unannounced: our own orders then take later
     * nonces, and our mining works for the merchant's half. */
    if ((rc = chain_submit_tx(a->cfg.chain, &ta, ida)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        relay_send_tx_to(a->cfg.relay, peers[i], i < half ? &ta : &tb);
    if (a->cfg.txlat) {
        txlat_broadcast(a->cfg.txlat, ida, now_ms);
        txlat_broadcast(a->cfg.txlat, idb, now_ms);
    }
    if (a->cfg.on_tx)
        a->cfg.on_tx(a->cfg.ctx);
    ds_remember(a, nonce, now_ms, ida, idb);
    a->st.ds_pairs++;
    char ha[65], hb[65];
    hash_to_hex_display(ida, ha);
    hash_to_hex_display(idb, hb);
    log_warn(a->cfg.log, "double spender: nonce %llu: %s to %s and %zu more peer(s), %s to "
             "%zu peer(s)", (unsigned long long)nonce, ha, net_peer_name(peers[0]), half - 1,
             hb, n - half);
    return 1;
fail:
    log_warn(a->cfg.log, "double spender: cannot make a pair: %s", sg_strerror(rc));
    return 1;                         /* not again before the next period */
}

/* A connected block spending one of our pairs' nonce decides it. */
static void ds_block(adv_tx *a, const proto_block *b, uint64_t now_ms)
{
    for (uint32_t i = 1; i < b->n_txs && a->n_ds > 0; i++) {
        const proto_tx *tx = &b->txs[i];
        uint8_t id[32];
        if (memcmp(tx->from, a->cfg.pk, 32) != 0 || tx_id(tx, id) != 0)
            continue;
        for (size_t j = 0; j < a->n_ds; j++) {
            ds_pair *d = &a->ds[j];
            if (d->nonce != tx->nonce)
                continue;
            int won_a = memcmp(id, d->a, 32) == 0, won_b = memcmp(id, d->b, 32) == 0;
            uint64_t took = now_ms > d->sent_ms ? now_ms - d->sent_ms : 0;
            a->st.ds_won_a += won_a;
            a->st.ds_won_b += won_b;
            if (took > a->st.ds_decide_ms_max)
                a->st.ds_decide_ms_max = took;
            log_warn(a->cfg.log, "double spender: nonce %llu decided after %llu ms for %s",
                     (unsigned long long)d->nonce, (unsigned long long)took,
                     won_a ? "A (the merchant)" : won_b ? "B (the colluder)" : "neither");
            memmove(d, d + 1, (a->n_ds - j - 1) * sizeof *d);
            a->n_ds--;
            break;
        }
    }
}

/* ---- price manipulator ---------------------------------------------------- */

static int wash_order(adv_tx *a, const adv_key *k, uint8_t kind, uint64_t interval,
                      uint64_t wh)
{
    proto_tx tx;
    uint8_t id[32];

    tx_init(&tx, kind, k->pk, next_nonce(a, k->pk, NULL));
    tx.u.order.interval = interval;
    tx.u.order.energy_wh = wh;
    tx.u.order.price = a->cfg.params->feed_in_price;
    int rc = submit(a, &tx, k->sk, id);
    if (rc == 0)
        a->st.manip_orders++;
    return rc;
}

/* The buyer's bid must reserve its energy at retail: one transfer, again
 * only once it is spent and none is waiting. */
static int fund_buyer(adv_tx *a, int *funded)
{
    const ledger_account *b = ledger_account_get(chain_ledger(a->cfg.chain), a->buyer.pk);
    uint64_t need;
    proto_tx tx;
    uint8_t id[32];

    *funded = 0;
    if (ledger_cost(ADV_MANIP_BID_WH, a->cfg.params->retail_price, &need) < 0)
        return SG_ETOOBIG;
    if (b && b->balance >= need) {
        *funded = 1;
        return 0;
    }
    /* A transfer of ours to the buyer may be waiting for a block. */
    mempool *mp = chain_mempool(a->cfg.chain);
    size_t it = 0;
    const uint8_t *tid;
    while (mempool_next(mp, &it, &tid)) {
        const proto_tx *t = mempool_get(mp, tid);
        if (t && t->kind == PROTO_TX_TRANSFER && memcmp(t->from, a->cfg.pk, 32) == 0 &&
            memcmp(t->u.pay.to, a->buyer.pk, 32) == 0)
            return 0;
    }
    tx_init(&tx, PROTO_TX_TRANSFER, a->cfg.pk, next_nonce(a, a->cfg.pk, NULL));
    memcpy(tx.u.pay.to, a->buyer.pk, 32);
    tx.u.pay.amount = ADV_MANIP_FUND;
    return submit(a, &tx, a->cfg.sk, id);
}

static void manipulate(adv_tx *a, uint64_t k)
{
    int funded, rc;

    if (a->manip_interval == k + 1)
        return;
    if ((rc = fund_buyer(a, &funded)) < 0 || !funded) {
        if (rc < 0)
            log_warn(a->cfg.log, "manipulator: cannot fund the buyer: %s", sg_strerror(rc));
        return;                       /* no wash trade without its buyer */
    }
    a->manip_interval = k + 1;
    if ((rc = wash_order(a, &a->seller, PROTO_TX_OFFER, k, ADV_MANIP_OFFER_WH)) < 0 ||
        (rc = wash_order(a, &a->buyer, PROTO_TX_BID, k, ADV_MANIP_BID_WH)) < 0)
        log_warn(a->cfg.log, "manipulator: wash order for interval %llu refused: %s",
                 (unsigned long long)k, sg_strerror(rc));
    else
        log_info(a->cfg.log, "manipulator: wash trade for interval %llu at %llu",
                 (unsigned long long)k, (unsigned long long)a->cfg.params->feed_in_price);
}

/* ---- spammer --------------------------------------------------------------- */

static void spam_valid(adv_tx *a, uint64_t now_ms)
{
    uint64_t dt = a->spam_last_ms && now_ms > a->spam_last_ms ? now_ms - a->spam_last_ms : 0;
    size_t held = 0;

    a->spam_last_ms = now_ms;
    a->spam_credit += (double)a->cfg.spam_rate * (double)dt / 1000.0;
    if (a->spam_credit > a->cfg.spam_rate)
        a->spam_credit = a->cfg.spam_rate;     /* a stalled loop does not burst */
    while (a->spam_credit >= 1.0) {
        uint64_t nonce = next_nonce(a, a->cfg.pk, &held);
        if (held >= ADV_SPAM_WINDOW)
            break;                    /* the pool's nonce window is the limit */
        proto_tx tx;
        uint8_t id[32];
        tx_init(&tx, PROTO_TX_TRANSFER, a->cfg.pk, nonce);
        memcpy(tx.u.pay.to, a->cfg.pk, 32);
        tx.u.pay.amount = 1;
        if (submit(a, &tx, a->cfg.sk, id) != 0)
            break;
        a->spam_credit -= 1.0;
        a->st.spam_valid++;
    }
}

/* A transfer whose signature no longer verifies, to every peer: honest
 * peers ban us for it. */
static void spam_malformed(adv_tx *a, uint64_t now_ms)
{
    proto_tx tx;

    if (now_ms - a->spam_malformed_ms < 1000)
        return;
    a->spam_malformed_ms = now_ms;
    tx_init(&tx, PROTO_TX_TRANSFER, a->cfg.pk, next_nonce(a, a->cfg.pk, NULL));
    memcpy(tx.u.pay.to, a->cfg.pk, 32);
    tx.u.pay.amount = 1;
    if (tx_sign(&tx, a->cfg.sk, chain_id(a->cfg.chain)) < 0)
        return;
    tx.sig[0] ^= 0x01;
    for (net_peer *p = net_peer_first(a->cfg.net); p; p = net_peer_next(p))
        if (relay_send_tx_to(a->cfg.relay, p, &tx) == 0) {
            a->st.spam_malformed++;
            log_warn(a->cfg.log, "spammer: malformed transaction to %s", net_peer_name(p));
        }
}

static void spam(adv_tx *a, uint64_t now_ms)
{
    if (a->cfg.spam_malformed_after_s &&
        now_ms - a->spam_on_ms >= (uint64_t)a->cfg.spam_malformed_after_s * 1000)
        spam_malformed(a, now_ms);
    spam_valid(a, now_ms);
}

/* ---- forger ---------------------------------------------------------------- */

/* What an honest settlement of the first open interval would be, from our
 * own tip: the operator's fields and fills, not signed.  SG_ENOTFOUND when
 * no interval before k has open orders. */
static int honest_settlement(adv_tx *a, uint64_t k, proto_tx *tx)
{
    ledger *l = chain_ledger(a->cfg.chain);
    uint64_t last = ledger_last_settled(l), from = last == UINT64_MAX ? 0 : last + 1;
    const ledger_account *op = ledger_account_get(l, a->cfg.params->operator_key);
    ledger_order *orders = NULL;
    size_t n = 0;
    int rc = SG_ENOTFOUND;

    for (uint64_t i = from; i < k && rc == SG_ENOTFOUND; i++) {
        if ((rc = market_collect(l, i, &orders, &n)) < 0)
            return rc;
        rc = n ? market_settlement_build(a->cfg.params, i, op ? op->nonce : 0, orders, n, tx,
                                         NULL)
               : SG_ENOTFOUND;
        free(orders);
        orders = NULL;
    }
    return rc;
}

/* The operator's own settlement from our mempool, copied. */
static int operator_settlement(adv_tx *a, proto_tx *tx)
{
    mempool *mp = chain_mempool(a->cfg.chain);
    size_t it = 0;
    const uint8_t *id;

    while (mempool_next(mp, &it, &id)) {
        const proto_tx *t = mempool_get(mp, id);
        if (t && t->kind == PROTO_TX_SETTLEMENT &&
            memcmp(t->from, a->cfg.params->operator_key, 32) == 0)
            return proto_tx_copy(tx, t);
    }
    return SG_ENOTFOUND;
}

/* Raises every trade price and the clearing price by a tenth of the band:
 * the sellers (of whom a forger might be one) would get more. */
static void alter_prices(const chain_params *p, proto_tx *tx)
{
    uint64_t up = (p->retail_price - p->feed_in_price) / 10 + 1;
    tx->u.settle.clearing_price += up;
    for (uint32_t i = 0; i < tx->u.settle.n_fills; i++)
        if (tx->u.settle.fills[i].traded_wh > 0)
            tx->u.settle.fills[i].trade_price += up;
}

/* Ours: the honest settlement's fills with the prices raised, from our
 * own account, signed by us (only the operator may settle). */
static int forged_own(adv_tx *a, uint64_t k, proto_tx *tx)
{
    int rc = honest_settlement(a, k, tx);
    if (rc < 0)
        return rc;
    memcpy(tx->from, a->cfg.pk, 32);
    tx->nonce = next_nonce(a, a->cfg.pk, NULL);
    alter_prices(a->cfg.params, tx);
    if ((rc = tx_sign(tx, a->cfg.sk, chain_id(a->cfg.chain))) < 0)
        proto_tx_free(tx);
    return rc;
}

/* Theirs: the operator's pooled settlement with the prices raised and its
 * signature kept (it no longer verifies). */
static int forged_theirs(adv_tx *a, proto_tx *tx)
{
    int rc = operator_settlement(a, tx);
    if (rc == 0)
        alter_prices(a->cfg.params, tx);
    return rc;
}

/* Peers in even position get ours, odd ones theirs (ours when there is no
 * operator's settlement to tamper with), so one round meets both rules. */
static void forge(adv_tx *a, uint64_t k)
{
    proto_tx own, theirs;
    size_t i = 0;

    if (a->forge_interval == k + 1)
        return;
    memset(&own, 0, sizeof own);
    memset(&theirs, 0, sizeof theirs);
    /* Ours first: the operator's alone would get us banned before ours
     * was ever seen. */
    if (forged_own(a, k, &own) != 0)
        return;                       /* nothing to forge from yet: next tick */
    int have_theirs = forged_theirs(a, &theirs) == 0;
    a->forge_interval = k + 1;
    for (net_peer *p = net_peer_first(a->cfg.net); p; p = net_peer_next(p), i++) {
        int use_own = i % 2 == 0 || !have_theirs;
        const proto_tx *tx = use_own ? &own : &theirs;
        if (relay_send_tx_to(a->cfg.relay, p, tx) != 0)
            continue;
        a->st.forged_settlements++;
        log_warn(a->cfg.log, "forger: settlement of interval %llu (%s) to %s",
                 (unsigned long long)tx->u.settle.interval,
                 use_own ? "signed by us" : "the operator's, prices raised", net_peer_name(p));
    }
    proto_tx_free(&own);
    proto_tx_free(&theirs);
}

/* ---- life cycle and entry points ------------------------------------------ */

int adv_tx_new(adv_tx **out, const adv_tx_config *cfg)
{
    *out = NULL;
    if (!cfg->params || !cfg->chain || !cfg->relay || !cfg->net || !cfg->sk || !cfg->pk ||
        cfg->double_spend_every_s == 0)
        return SG_EINVAL;
    if (sodium_init() < 0)
        return SG_ECRYPTO;
    adv_tx *a = calloc(1, sizeof *a);
    if (!a)
        return SG_ENOMEM;
    a->cfg = *cfg;
    derive_key(cfg->sk, ADV_KEY_DS_COLLUDER, &a->ds_colluder);
    derive_key(cfg->sk, ADV_KEY_MANIP_SELLER, &a->seller);
    derive_key(cfg->sk, ADV_KEY_MANIP_BUYER, &a->buyer);
    *out = a;
    return 0;
}

void adv_tx_free(adv_tx *a)
{
    if (!a)
        return;
    sodium_memzero(a, sizeof *a);
    free(a);
}

void adv_tx_set_roles(adv_tx *a, unsigned roles, uint64_t now_ms)
{
    if ((roles & ADV_SPAMMER) && !(a->cfg.roles & ADV_SPAMMER))
        a->spam_on_ms = now_ms;
    a->cfg.roles = roles;
}

unsigned adv_tx_roles(const adv_tx *a)
{
    return a->cfg.roles;
}

void adv_tx_tick(adv_tx *a, uint64_t now_ms)
{
    uint64_t k;
    unsigned r = a->cfg.roles;

    if (energy_interval_at(a->cfg.params, now_ms, &k) != 0)
        return;                       /* before genesis */
    if (r & ADV_SPAMMER) {
        if (a->spam_on_ms == 0)
            a->spam_on_ms = now_ms;
        spam(a, now_ms);
    }
    if ((r & ADV_DOUBLE_SPENDER) && now_ms >= a->ds_next_ms && double_spend(a, now_ms))
        a->ds_next_ms = now_ms + (uint64_t)a->cfg.double_spend_every_s * 1000;
    if (r & ADV_MANIPULATOR)
        manipulate(a, k);
    if (r & ADV_FORGER)
        forge(a, k);
}

void adv_tx_block_connected(adv_tx *a, const proto_block *b, uint64_t now_ms)
{
    if (a->n_ds > 0)
        ds_block(a, b, now_ms);
}

void adv_tx_get_stats(const adv_tx *a, adv_tx_stats *out)
{
    *out = a->st;
}
