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

/* A settlement of ours published and not yet spent by the tip. */
typedef struct {
    uint64_t interval;
    uint64_t nonce;
    uint8_t txid[32];
    market_stats stats;
} agent_pending;

struct agent {
    agent_config cfg;
    energy_node node;
    int started;
    uint64_t next_interval;            /* household: next to step */
    agent_order recent[AGENT_RECENT_ORDERS];   /* by interval % size */
    agent_stats st;
    /* operator: settlements in flight, consecutive nonces, intervals
     * increasing */
    agent_pending pend[AGENT_MAX_PENDING];
    size_t n_pend;
    uint8_t checked_tip[32];           /* tip they were last found to apply on */
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

/* The account's next nonce: past the ledger's and past the run of its own
 * transactions the mempool already holds. */
static int next_nonce(agent *a, uint64_t *out)
{
    const ledger_account *acct = ledger_account_get(chain_ledger(a->cfg.chain), a->cfg.pk);
    /* From the pool's per-account index: scanning the whole pool cost
     * milliseconds a tick once it held tens of thousands of transfers. */
    *out = mempool_next_nonce(chain_mempool(a->cfg.chain), a->cfg.pk, acct ? acct->nonce : 0);
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

/* Settlements in flight whose nonce the tip has used are done with (mined,
 * or a stale copy of ours took the nonce): forget them; settlement_seen
 * has counted the mined ones. */
static void pending_forget_used(agent *a)
{
    const ledger_account *acct = ledger_account_get(chain_ledger(a->cfg.chain), a->cfg.pk);
    uint64_t nonce = acct ? acct->nonce : 0;
    size_t used = 0;

    while (used < a->n_pend && a->pend[used].nonce < nonce)
        used++;
    if (used == 0)
        return;
    memmove(a->pend, a->pend + used, (a->n_pend - used) * sizeof a->pend[0]);
    a->n_pend -= used;
}

/* Drops pending settlements from index i on, from the mempool too: one
 * that stopped applying takes every later one with it, as their nonces
 * no longer follow. */
static void pending_drop_from(agent *a, size_t i, int why)
{
    mempool *mp = chain_mempool(a->cfg.chain);

    log_info(a->cfg.log, "settlement of interval %llu no longer applies (%s); rebuilding "
             "it and %zu later", (unsigned long long)a->pend[i].interval,
             why == SG_ENOTFOUND ? "left the mempool" : sg_strerror(why), a->n_pend - i - 1);
    for (size_t k = i; k < a->n_pend; k++)
        mempool_remove(mp, a->pend[k].txid);
    a->st.settlements_rebuilt += a->n_pend - i;
    a->n_pend = i;
}

/* Applies the pending settlements in nonce order on the tip ledger,
 * journalled in u, and drops the first that fails with all after it.
 * 0, or SG_ENOMEM (nothing dropped: cannot tell now). */
static int pending_apply(agent *a, ledger_undo *u)
{
    const chain_entry *tip = chain_tip(a->cfg.chain);
    ledger *l = chain_ledger(a->cfg.chain);
    mempool *mp = chain_mempool(a->cfg.chain);

    for (size_t i = 0; i < a->n_pend; i++) {
        const proto_tx *tx = mempool_get(mp, a->pend[i].txid);
        int rc = tx ? ledger_apply_tx(l, tx, a->pend[i].txid, (uint64_t)tip->height + 1, 0, u)
                    : SG_ENOTFOUND;
        if (rc == SG_ENOMEM)
            return rc;
        if (rc != 0) {
            pending_drop_from(a, i, rc);
            break;
        }
    }
    memcpy(a->checked_tip, tip->hash, 32);
    return 0;
}

/* Whether the pending chain was found to apply on this tip and is still
 * all in the mempool. */
static int pending_known_good(agent *a)
{
    mempool *mp = chain_mempool(a->cfg.chain);

    if (memcmp(a->checked_tip, chain_tip(a->cfg.chain)->hash, 32) != 0)
        return 0;
    for (size_t i = 0; i < a->n_pend; i++)
        if (!mempool_has(mp, a->pend[i].txid))
            return 0;
    return 1;
}

/* The oldest interval with open orders in l, after `after` (UINT64_MAX:
 * none), whose grace period is over. */
static int settle_target(agent *a, const ledger *l, uint64_t after, uint64_t now_ms,
                         uint64_t *k)
{
    const chain_params *p = a->cfg.params;
    const ledger_order *o;
    size_t it = 0;
    int found = 0;

    while (ledger_order_next(l, &it, &o))
        if ((after == UINT64_MAX || o->interval > after) && (!found || o->interval < *k)) {
            *k = o->interval;
            found = 1;
        }
    return found && now_ms >= energy_interval_real_ms(p, *k + 1) +
                                  p->tick_ms / AGENT_SETTLE_GRACE_DIV;
}

static uint64_t pending_last(const agent *a)
{
    return a->n_pend ? a->pend[a->n_pend - 1].interval : UINT64_MAX;
}

/* Our own transactions at or past `nonce` that no pending entry owns (a
 * settlement a reorg put back, one given up) would block the nonces new
 * settlements take. */
static void drop_own_from(agent *a, uint64_t nonce)
{
    mempool *mp = chain_mempool(a->cfg.chain);
    uint8_t ids[16][32];
    size_t n;

    do {
        size_t it = 0;
        const uint8_t *id;
        n = 0;
        while (n < 16 && mempool_next(mp, &it, &id)) {
            const proto_tx *tx = mempool_get(mp, id);
            if (tx && tx->nonce >= nonce && memcmp(tx->from, a->cfg.pk, 32) == 0)
                memcpy(ids[n++], id, 32);
        }
        for (size_t i = 0; i < n; i++)
            mempool_remove(mp, ids[i]);
    } while (n == 16);
}

/* Builds and signs the settlement of interval k on l (the tip with the
 * pending chain applied, so the account nonce is the next free one) and
 * applies it there, so the next one builds on it.  One that cannot apply
 * (the grid account short of money for feed-in) is not made: it would
 * only sit in every mempool. */
static int build_next(agent *a, ledger *l, ledger_undo *u, uint64_t k, proto_tx *tx,
                      agent_pending *pe)
{
    const ledger_account *acct = ledger_account_get(l, a->cfg.pk);
    ledger_order *orders = NULL;
    size_t n = 0;
    int rc = market_collect(l, k, &orders, &n);

    if (rc != 0)
        return rc;
    pe->interval = k;
    pe->nonce = acct ? acct->nonce : 0;
    rc = market_settlement_build(a->cfg.params, k, pe->nonce, orders, n, tx, &pe->stats);
    free(orders);
    if (rc != 0)
        return rc;
    rc = tx_sign(tx, a->cfg.sk, chain_id(a->cfg.chain));
    if (rc == 0)
        rc = tx_id(tx, pe->txid);
    if (rc == 0)
        rc = ledger_apply_tx(l, tx, pe->txid, (uint64_t)chain_tip(a->cfg.chain)->height + 1,
                             0, u);
    if (rc != 0)
        proto_tx_free(tx);
    return rc;
}

/* Every interval whose grace is over, in order, each on the one before:
 * built on the tip with the pending chain applied (rolled back before
 * anything is submitted, as the mempool checks nonces on the tip).  The
 * new ones applied on the tip pending_apply checked, so checked_tip
 * still holds. */
static int publish_due(agent *a, uint64_t now_ms, ledger_undo *u)
{
    ledger *l = chain_ledger(a->cfg.chain);
    proto_tx txs[AGENT_MAX_PENDING];
    agent_pending made[AGENT_MAX_PENDING];
    size_t n = 0;
    uint64_t k;
    int rc = 0, build_rc = 0;

    while (a->n_pend + n < AGENT_MAX_PENDING &&
           settle_target(a, l, n ? made[n - 1].interval : pending_last(a), now_ms, &k)) {
        if ((build_rc = build_next(a, l, u, k, &txs[n], &made[n])) != 0)
            break;                     /* those before it still go out */
        n++;
    }
    ledger_undo_apply(l, u);
    if (n > 0)
        drop_own_from(a, made[0].nonce);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = a->cfg.submit(a->cfg.submit_ctx, &txs[i], made[i].txid);
        proto_tx_free(&txs[i]);
        if (rc != 0)
            continue;                  /* the later ones' nonces would not follow */
        a->pend[a->n_pend++] = made[i];
        a->st.settlements_published++;
        log_info(a->cfg.log, "settlement of interval %llu published (nonce %llu): %u offers, "
                 "%u bids, %llu Wh traded at %llu", (unsigned long long)made[i].interval,
                 (unsigned long long)made[i].nonce, made[i].stats.offers, made[i].stats.bids,
                 (unsigned long long)made[i].stats.traded_wh,
                 (unsigned long long)made[i].stats.clearing_price);
    }
    return rc != 0 ? rc : build_rc;
}

static int operator_tick(agent *a, uint64_t now_ms)
{
    ledger_undo *u;
    uint64_t k;
    int rc;

    pending_forget_used(a);
    if (pending_known_good(a) &&
        (a->n_pend == AGENT_MAX_PENDING ||
         !settle_target(a, chain_ledger(a->cfg.chain), pending_last(a), now_ms, &k)))
        return 0;
    if (!(u = ledger_undo_new()))
        return SG_ENOMEM;
    rc = pending_apply(a, u);
    if (rc == 0)
        rc = publish_due(a, now_ms, u);
    else
        ledger_undo_apply(chain_ledger(a->cfg.chain), u);
    ledger_undo_free(u);
    return rc;
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
    if (tx_id(tx, id) != 0)
        return;
    for (size_t i = 0; i < a->n_pend; i++) {
        const market_stats *ms = &a->pend[i].stats;
        if (a->pend[i].interval != k || memcmp(id, a->pend[i].txid, 32) != 0)
            continue;
        a->st.settlements_mined++;
        a->st.traded_wh = ms->traded_wh;
        a->st.grid_import_wh = ms->grid_import_wh;
        a->st.grid_export_wh = ms->grid_export_wh;
        a->st.matched_orders = ms->matched_orders;
        a->st.total_traded_wh += ms->traded_wh;
        return;
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
