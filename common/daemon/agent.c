/*
 * agent.c - a node's market participant; see agent.h.
 */
#include "common/daemon/agent.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/mempool.h"
#include "common/core/tx.h"

typedef struct {
    int used;
    uint64_t interval;
    uint8_t txid[32];
    uint64_t energy_wh;
} agent_order;

struct agent {
    agent_config cfg;
    energy_node node;
    int started;
    uint64_t next_interval;            /* household: next to step */
    agent_order recent[AGENT_RECENT_ORDERS];   /* by interval % size */
    agent_stats st;
    /* operator: the one settlement pending */
    int pending;
    uint64_t pend_interval;
    uint8_t pend_txid[32];
    market_stats pend_stats;
    uint8_t checked_tip[32];           /* tip it was last found to apply on */
};

int agent_new(agent **out, const agent_config *cfg)
{
    *out = NULL;
    if ((cfg->role != AGENT_HOUSEHOLD && cfg->role != AGENT_OPERATOR) || !cfg->params ||
        !cfg->chain || !cfg->sk || !cfg->pk || !cfg->submit)
        return SG_EINVAL;
    if (cfg->role == AGENT_OPERATOR && memcmp(cfg->pk, cfg->params->operator_key, 32))
        return SG_EINVAL;
    agent *a = calloc(1, sizeof *a);
    if (!a)
        return SG_ENOMEM;
    a->cfg = *cfg;
    if (cfg->role == AGENT_HOUSEHOLD &&
        energy_node_init(&a->node, &cfg->energy, cfg->params->seed,
                         cfg->name ? cfg->name : "") != 0) {
        free(a);
        return SG_EINVAL;
    }
    a->st.last_settled_interval = -1;
    *out = a;
    return 0;
}

void agent_free(agent *a)
{
    free(a);
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The account's next nonce: past the ledger's and past the run of its own
 * transactions the mempool already holds. */
static int next_nonce(agent *a, uint64_t *out)
{
    const ledger_account *acct = ledger_account_get(chain_ledger(a->cfg.chain), a->cfg.pk);
    mempool *mp = chain_mempool(a->cfg.chain);
    uint64_t nonce = acct ? acct->nonce : 0;
    uint64_t mine[MEMPOOL_NONCE_WINDOW];
    size_t n = 0, it = 0;
    const uint8_t *id;

    while (n < MEMPOOL_NONCE_WINDOW && mempool_next(mp, &it, &id)) {
        const proto_tx *tx = mempool_get(mp, id);
        if (tx && memcmp(tx->from, a->cfg.pk, 32) == 0 && tx->nonce >= nonce)
            mine[n++] = tx->nonce;
    }
    qsort(mine, n, sizeof mine[0], u64_cmp);
    for (size_t i = 0; i < n && mine[i] <= nonce; i++)
        if (mine[i] == nonce)
            nonce++;
    *out = nonce;
    return 0;
}

static int sign_and_submit(agent *a, proto_tx *tx, uint8_t txid[32])
{
    int rc = tx_sign(tx, a->cfg.sk, chain_id(a->cfg.chain));
    if (rc == 0)
        rc = a->cfg.submit(a->cfg.submit_ctx, tx, txid);
    return rc;
}

/* ---- household ----------------------------------------------------------- */

/* A bid must be able to reserve its worst case, else the template would
 * skip it and every later nonce of the account would wait behind it. */
static int bid_affordable(agent *a, uint64_t energy_wh)
{
    const ledger_account *acct = ledger_account_get(chain_ledger(a->cfg.chain), a->cfg.pk);
    uint64_t cost;
    if (ledger_cost(energy_wh, a->cfg.params->retail_price, &cost) != 0)
        return 0;
    return acct && acct->balance >= cost;
}

static int submit_order(agent *a, const energy_step *s)
{
    uint64_t last = ledger_last_settled(chain_ledger(a->cfg.chain));
    proto_tx tx;
    uint8_t txid[32];
    int rc;

    if ((last != UINT64_MAX && s->interval <= last) ||
        (s->kind == PROTO_TX_BID && !bid_affordable(a, s->energy_wh))) {
        a->st.orders_skipped++;
        return 0;
    }
    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = s->kind;
    memcpy(tx.from, a->cfg.pk, 32);
    tx.u.order.interval = s->interval;
    tx.u.order.energy_wh = s->energy_wh;
    tx.u.order.price = s->price;
    next_nonce(a, &tx.nonce);
    rc = sign_and_submit(a, &tx, txid);
    if (rc != 0) {
        a->st.orders_skipped++;
        return rc;
    }
    agent_order *o = &a->recent[s->interval % AGENT_RECENT_ORDERS];
    o->used = 1;
    o->interval = s->interval;
    memcpy(o->txid, txid, 32);
    o->energy_wh = s->energy_wh;
    a->st.orders_submitted++;
    log_debug(a->cfg.log, "%s for interval %llu: %llu Wh at %llu", s->kind == PROTO_TX_BID
              ? "bid" : "offer", (unsigned long long)s->interval,
              (unsigned long long)s->energy_wh, (unsigned long long)s->price);
    return 0;
}

static int household_tick(agent *a, uint64_t k)
{
    energy_step s;

    if (!a->started) {
        a->started = 1;
        a->next_interval = k;
    }
    if (k < a->next_interval)
        return 0;
    if (k - a->next_interval > AGENT_MAX_CATCHUP)
        a->next_interval = k - AGENT_MAX_CATCHUP;
    while (a->next_interval < k)
        energy_node_step(&a->node, a->cfg.params, a->next_interval++, &s);
    energy_node_step(&a->node, a->cfg.params, k, &s);
    a->next_interval = k + 1;
    a->st.battery_wh = s.soc_wh;
    return s.kind ? submit_order(a, &s) : 0;
}

/* ---- operator ------------------------------------------------------------ */

/* Whether a settlement applies on the tip: 0 or the rule it breaks
 * (tried and rolled back; the result is cached per tip). */
static int settlement_applies(agent *a, const proto_tx *tx, const uint8_t txid[32])
{
    const chain_entry *tip = chain_tip(a->cfg.chain);
    ledger *l = chain_ledger(a->cfg.chain);
    ledger_undo *u;
    int rc;

    if (memcmp(a->checked_tip, tip->hash, 32) == 0)
        return 0;
    u = ledger_undo_new();
    if (!u)
        return SG_ENOMEM;
    rc = ledger_apply_tx(l, tx, txid, (uint64_t)tip->height + 1, 0, u);
    ledger_undo_apply(l, u);
    ledger_undo_free(u);
    if (rc == 0)
        memcpy(a->checked_tip, tip->hash, 32);
    return rc;
}

/* Resolves the pending settlement; returns 1 while it should be waited
 * for. */
static int pending_wait(agent *a)
{
    mempool *mp = chain_mempool(a->cfg.chain);
    uint64_t last = ledger_last_settled(chain_ledger(a->cfg.chain));
    const proto_tx *tx;
    int rc = SG_ENOTFOUND;

    if (!a->pending)
        return 0;
    if (last != UINT64_MAX && last >= a->pend_interval) {
        a->pending = 0;                /* mined (agent_block_connected counted it) */
        return 0;
    }
    tx = mempool_get(mp, a->pend_txid);
    if (tx) {
        rc = settlement_applies(a, tx, a->pend_txid);
        if (rc == 0 || rc == SG_ENOMEM)
            return 1;                  /* applies, or cannot tell now */
        mempool_remove(mp, a->pend_txid);
    }
    log_info(a->cfg.log, "settlement of interval %llu no longer applies (%s); rebuilding",
             (unsigned long long)a->pend_interval,
             rc == SG_ENOTFOUND ? "left the mempool" : sg_strerror(rc));
    a->pending = 0;
    a->st.settlements_rebuilt++;
    return 0;
}

/* The oldest interval with open orders whose grace period is over. */
static int settle_target(agent *a, uint64_t now_ms, uint64_t *k)
{
    const chain_params *p = a->cfg.params;
    const ledger *l = chain_ledger(a->cfg.chain);
    const ledger_order *o;
    size_t it = 0;
    int found = 0;

    while (ledger_order_next(l, &it, &o))
        if (!found || o->interval < *k) {
            *k = o->interval;
            found = 1;
        }
    return found && now_ms >= energy_interval_real_ms(p, *k + 1) +
                                  p->tick_ms / AGENT_SETTLE_GRACE_DIV;
}

/* Our own stale transactions would block the nonce the new settlement
 * takes. */
static void drop_own_pending(agent *a)
{
    mempool *mp = chain_mempool(a->cfg.chain);
    size_t it = 0;
    const uint8_t *id;
    uint8_t ids[16][32];
    size_t n = 0;

    while (n < 16 && mempool_next(mp, &it, &id)) {
        const proto_tx *tx = mempool_get(mp, id);
        if (tx && memcmp(tx->from, a->cfg.pk, 32) == 0)
            memcpy(ids[n++], id, 32);
    }
    for (size_t i = 0; i < n; i++)
        mempool_remove(mp, ids[i]);
}

static int operator_tick(agent *a, uint64_t now_ms)
{
    const ledger *l = chain_ledger(a->cfg.chain);
    const ledger_account *acct;
    ledger_order *orders = NULL;
    size_t n = 0;
    proto_tx tx;
    market_stats ms;
    uint64_t k = 0;
    int rc;

    if (pending_wait(a) || !settle_target(a, now_ms, &k))
        return 0;
    rc = market_collect(l, k, &orders, &n);
    if (rc != 0)
        return rc;
    drop_own_pending(a);
    acct = ledger_account_get(l, a->cfg.pk);
    rc = market_settlement_build(a->cfg.params, k, acct ? acct->nonce : 0, orders, n,
                                 &tx, &ms);
    free(orders);
    if (rc != 0)
        return rc;
    /* One that cannot apply now (the grid account short of money for
     * feed-in) is not published: it would only sit in every mempool. */
    memset(a->checked_tip, 0, sizeof a->checked_tip);
    rc = tx_sign(&tx, a->cfg.sk, chain_id(a->cfg.chain));
    if (rc == 0)
        rc = tx_id(&tx, a->pend_txid);
    if (rc == 0)
        rc = settlement_applies(a, &tx, a->pend_txid);
    if (rc == 0)
        rc = a->cfg.submit(a->cfg.submit_ctx, &tx, a->pend_txid);
    proto_tx_free(&tx);
    if (rc != 0)
        return rc;
    a->pending = 1;
    a->pend_interval = k;
    a->pend_stats = ms;
    a->st.settlements_published++;
    log_info(a->cfg.log, "settlement of interval %llu published: %u offers, %u bids, "
             "%llu Wh traded at %llu", (unsigned long long)k, ms.offers, ms.bids,
             (unsigned long long)ms.traded_wh, (unsigned long long)ms.clearing_price);
    return 0;
}

/* ---- common -------------------------------------------------------------- */

int agent_tick(agent *a, uint64_t now_ms)
{
    uint64_t k;
    int rc = energy_interval_at(a->cfg.params, now_ms, &k);
    if (rc == SG_ETIME)
        return 0;                      /* before genesis: no market yet */
    if (rc != 0)
        return rc;
    a->st.interval = k;
    return a->cfg.role == AGENT_OPERATOR ? operator_tick(a, now_ms) : household_tick(a, k);
}

static void settlement_seen(agent *a, const proto_tx *tx)
{
    uint64_t k = tx->u.settle.interval;
    uint8_t id[32];

    a->st.clearing_price = tx->u.settle.clearing_price;
    if (a->cfg.role == AGENT_HOUSEHOLD) {
        const agent_order *o = &a->recent[k % AGENT_RECENT_ORDERS];
        int mine = o->used && o->interval == k;
        energy_node_observe_settlement(&a->node, tx, mine ? o->txid : NULL,
                                       mine ? o->energy_wh : 0);
        return;
    }
    if (a->pending && k == a->pend_interval && tx_id(tx, id) == 0 &&
        memcmp(id, a->pend_txid, 32) == 0) {
        a->st.settlements_mined++;
        a->st.traded_wh = a->pend_stats.traded_wh;
        a->st.grid_import_wh = a->pend_stats.grid_import_wh;
        a->st.grid_export_wh = a->pend_stats.grid_export_wh;
        a->st.matched_orders = a->pend_stats.matched_orders;
        a->st.total_traded_wh += a->pend_stats.traded_wh;
    }
}

void agent_block_connected(agent *a, const proto_block *b)
{
    for (uint32_t i = 0; i < b->n_txs; i++)
        if (b->txs[i].kind == PROTO_TX_SETTLEMENT)
            settlement_seen(a, &b->txs[i]);
}

void agent_get_stats(const agent *a, agent_stats *out)
{
    uint64_t last = ledger_last_settled(chain_ledger(a->cfg.chain));
    *out = a->st;
    out->last_settled_interval = last == UINT64_MAX ? -1 : (int64_t)last;
    out->produced_wh = a->node.produced_wh;
    out->consumed_wh = a->node.consumed_wh;
}
