/*
 * adv_role.c - adversary role names; see adv_role.h.
 */
#include "common/core/adv_role.h"

#include <stdio.h>
#include <string.h>

#include "common/base/err.h"

static const char *const names[] = {
    "selfish", "double-spender", "manipulator", "spammer", "forger",
};
#define N_NAMES (sizeof names / sizeof names[0])

const char *adv_role_name(unsigned bit)
{
    for (unsigned i = 0; i < N_NAMES; i++)
        if (bit == 1u << i)
            return names[i];
    return NULL;
}

static int one_role(const char *s, size_t len, unsigned *bit)
{
    for (unsigned i = 0; i < N_NAMES; i++)
        if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0) {
            *bit = 1u << i;
            return 0;
        }
    return SG_EINVAL;
}

int adv_parse_roles(const char *s, unsigned *mask)
{
    unsigned m = 0, bit;
    if (!s || !*s)
        return SG_EINVAL;
    for (;;) {
        size_t len = strcspn(s, ",");
        if (one_role(s, len, &bit) != 0)
            return SG_EINVAL;
        m |= bit;
        if (s[len] == '\0')
            break;
        s += len + 1;
    }
    *mask = m;
    return 0;
}

char *adv_roles_format(unsigned mask, char *out, size_t cap)
{
    size_t used = 0;
    if (cap == 0)
        return out;
    out[0] = '\0';
    for (unsigned i = 0; i < N_NAMES; i++) {
        if (!(mask & (1u << i)))
            continue;
        int w = snprintf(out + used, cap - used, "%s%s", used ? "," : "", names[i]);
        if (w < 0 || (size_t)w >= cap - used) {
            out[used] = '\0';       /* whole names only */
            break;
        }
        used += (size_t)w;
    }
    return out;
}
