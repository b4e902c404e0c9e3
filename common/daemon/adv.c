/*
 * adv.c - the adversary module's life cycle, roles and figures; the
 * behaviours are in adv_selfish.c and adv_forge.c.  See adv.h.
 */
#include "common/daemon/adv_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

int adv_new(adv **out, const adv_config *cfg)
{
    adv *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a)
        return SG_ENOMEM;
    a->cfg = *cfg;
    *out = a;
    return 0;
}

void adv_free(adv *a)
{
    free(a);
}

void adv_set_relay(adv *a, relay *r)
{
    a->cfg.relay = r;
}

unsigned adv_roles(const adv *a)
{
    return a->cfg.roles;
}

void adv_enable(adv *a, unsigned mask)
{
    char names[128];
    unsigned added = mask & ~a->cfg.roles;
    if (!added)
        return;
    a->cfg.roles |= added;
    log_warn(a->cfg.log, "adversary: now %s", adv_roles_format(a->cfg.roles, names,
                                                              sizeof names));
}

void adv_get_stats(const adv *a, adv_stats *out)
{
    *out = a->st;
    out->lead = (uint32_t)a->priv.n;
}
