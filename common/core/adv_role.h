/*
 * adv_role.h - the names of the adversarial behaviours a daemon can be
 * asked for (`--adversary ROLE[,ROLE...]`, the control message ADVERSARY,
 * the launcher's `--adversary NODE=ROLE` and the nodes.adversary column,
 * which stores the bit mask).  Here rather than in common/daemon so the
 * launcher can check a role name before it starts anything; the daemon's
 * runtime of these roles is common/daemon/adv.h.
 */
#ifndef SG_ADV_ROLE_H
#define SG_ADV_ROLE_H

#include <stddef.h>

enum adv_role {
    ADV_SELFISH = 1,          /* withholds its blocks (Eyal and Sirer) */
    ADV_DOUBLE_SPENDER = 2,
    ADV_MANIPULATOR = 4,      /* price manipulation */
    ADV_SPAMMER = 8,
    ADV_FORGER = 16,          /* sends blocks with bad PoW or coinbase */
};
#define ADV_ROLE_ALL 31u

/* "selfish,forger" (a comma-separated list, each name once or more) into
 * *mask (OR of enum adv_role).  0, or SG_EINVAL for an empty list or an
 * unknown name (*mask untouched). */
int adv_parse_roles(const char *s, unsigned *mask);
/* The name of one role bit ("selfish", "double-spender", "manipulator",
 * "spammer", "forger"); NULL for anything else. */
const char *adv_role_name(unsigned bit);
/* Every role of mask as a comma-separated list into out ("" for 0);
 * returns out. */
char *adv_roles_format(unsigned mask, char *out, size_t cap);

/* The role names in words, for usage lines and error messages. */
#define ADV_ROLE_NAMES "selfish, double-spender, manipulator, spammer or forger"

#endif
