/*
 * adv_int.h - the adversary module's private state, shared by its files:
 * adv.c (life cycle, roles, stats), adv_selfish.c, adv_forge.c.  Nothing
 * outside common/daemon/adv*.c includes it.
 */
#ifndef SG_ADV_INT_H
#define SG_ADV_INT_H

#include "common/daemon/adv.h"

/* The selfish miner's private branch: withheld blocks on our active
 * chain, oldest first, and the highest block height the public has. */
typedef struct {
    uint8_t hash[ADV_PRIVATE_MAX][32];
    uint32_t height[ADV_PRIVATE_MAX];
    size_t n;
    uint32_t pub_height;
    int race;                         /* our published tip ties a public one */
    uint8_t race_hash[32];            /* ... this one, while it is our tip */
} adv_private;

struct adv {
    adv_config cfg;
    adv_stats st;
    adv_private priv;
    uint64_t forge_seq;               /* makes each forged template new */
};

#endif
