/*
 * adv_selfish.c - the selfish miner (Eyal and Sirer's strategy); see
 * adv.h.  The private branch is the run of withheld blocks at the end of
 * our active chain; the chain's fork choice stays the honest one, so
 * "adopt the public chain" is simply noticing that our tip is no longer
 * our newest withheld block.
 */
#include "common/daemon/adv_int.h"

#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"

static int on(const adv *a)
{
    return a && (a->cfg.roles & ADV_SELFISH) != 0;
}

static int find_private(const adv_private *p, const uint8_t h[32])
{
    for (size_t i = 0; i < p->n; i++)
        if (memcmp(p->hash[i], h, 32) == 0)
            return (int)i;
    return -1;
}

int adv_selfish_hidden(const adv *a, const uint8_t hash[32])
{
    return on(a) && find_private(&a->priv, hash) >= 0;
}

/* Releases the withheld blocks at or below `height`, oldest first. */
static void publish_upto(adv *a, uint32_t height, const char *why)
{
    adv_private *p = &a->priv;
    size_t k = 0;
    char hex[65];

    while (k < p->n && p->height[k] <= height)
        k++;
    if (k == 0)
        return;
    if (a->cfg.relay)
        relay_announce_blocks(a->cfg.relay, (const uint8_t (*)[32])p->hash, k);
    if (p->height[k - 1] > p->pub_height)
        p->pub_height = p->height[k - 1];
    hash_to_hex_display(p->hash[k - 1], hex);
    log_info(a->cfg.log, "selfish: published %zu block(s) up to %s at height %u (%s), "
             "%zu still withheld", k, hex, p->height[k - 1], why, p->n - k);
    a->st.published += k;
    memmove(p->hash, p->hash + k, sizeof p->hash[0] * (p->n - k));
    memmove(p->height, p->height + k, sizeof p->height[0] * (p->n - k));
    p->n -= k;
}

/* Our chain gave way to a public branch: the private one is lost. */
static void sync_with_tip(adv *a)
{
    adv_private *p = &a->priv;
    const chain_entry *tip = chain_tip(a->cfg.chain);

    if (p->race && memcmp(tip->hash, p->race_hash, 32) != 0)
        p->race = 0;
    if (p->n == 0 || memcmp(tip->hash, p->hash[p->n - 1], 32) == 0)
        return;
    log_info(a->cfg.log, "selfish: the public chain overtook us at height %u; %zu "
             "withheld block(s) abandoned", tip->height, p->n);
    a->st.abandoned += p->n;
    p->n = 0;
    p->race = 0;
}

int adv_selfish_submit(adv *a, const uint8_t *bytes, size_t len, chain_result *res)
{
    adv_private *p = &a->priv;
    if (!on(a))
        return relay_submit_block(a->cfg.relay, bytes, len, res);
    sync_with_tip(a);
    int rc = relay_submit_block_withheld(a->cfg.relay, bytes, len, res);
    if (rc != 0 || res->outcome != CHAIN_NEW_TIP)
        return rc;                    /* a stale find is no secret worth keeping */
    const chain_entry *e = chain_lookup(a->cfg.chain, res->hash);
    if (p->n == 0 && e->height - 1 > p->pub_height)
        p->pub_height = e->height - 1;   /* its parent is public */
    if (p->n == ADV_PRIVATE_MAX)
        publish_upto(a, p->height[0], "too many withheld");
    memcpy(p->hash[p->n], res->hash, 32);
    p->height[p->n++] = e->height;
    a->st.withheld++;
    if (p->n > a->st.lead_max)
        a->st.lead_max = (uint32_t)p->n;
    if (p->race) {
        /* Eyal-Sirer: a find during a race wins it; tell everyone. */
        p->race = 0;
        a->st.overrides++;
        publish_upto(a, UINT32_MAX, "won the race");
        return rc;
    }
    log_info(a->cfg.log, "selfish: withholding block at height %u (lead %u over %u)",
             e->height, e->height - p->pub_height, p->pub_height);
    return rc;
}

void adv_selfish_peer_block(adv *a, const chain_result *res)
{
    adv_private *p = &a->priv;
    int raised = 0;

    if (!on(a))
        return;
    const chain_entry *e = chain_lookup(a->cfg.chain, res->hash);
    const chain_entry *tip = chain_tip(a->cfg.chain);
    if (e && e->height > p->pub_height) {
        p->pub_height = e->height;
        raised = 1;
    }
    /* Orphans adopted with it count too, when they made our tip. */
    if (find_private(p, tip->hash) < 0 && tip->height > p->pub_height) {
        p->pub_height = tip->height;
        raised = 1;
    }
    sync_with_tip(a);
    if (p->n == 0 || !raised)
        return;
    int64_t lead = (int64_t)p->height[p->n - 1] - (int64_t)p->pub_height;
    if (lead == 0) {
        publish_upto(a, UINT32_MAX, "race");
        p->race = 1;
        memcpy(p->race_hash, tip->hash, 32);
        a->st.races++;
    } else if (lead < 0) {
        /* Shorter but heavier (per-block difficulty): nothing to wait for. */
        publish_upto(a, UINT32_MAX, "heavier branch");
    } else if (lead == 1) {
        publish_upto(a, UINT32_MAX, "override");
        a->st.overrides++;
    } else {
        publish_upto(a, p->pub_height, "matching the public height");
    }
}
