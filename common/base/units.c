#include "common/base/units.h"

#include "common/base/err.h"

int units_parse_milli(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t whole = 0, frac = 0, v;
    int nfrac = 0;
    const char *c = s;

    /* Stopping as soon as the whole part passes hi keeps the arithmetic
     * below far from overflow. */
    for (; *c >= '0' && *c <= '9'; c++) {
        whole = whole * 10 + (uint64_t)(*c - '0');
        if (whole > hi / 1000 + 1)
            return SG_EINVAL;
    }
    if (c == s)
        return SG_EINVAL;
    if (*c == '.') {
        for (c++; *c >= '0' && *c <= '9' && nfrac < 3; c++, nfrac++)
            frac = frac * 10 + (uint64_t)(*c - '0');
        if (nfrac == 0)
            return SG_EINVAL;
    }
    if (*c != '\0')
        return SG_EINVAL;
    while (nfrac++ < 3)
        frac *= 10;
    v = whole * 1000 + frac;
    if (v < lo || v > hi)
        return SG_EINVAL;
    *out = v;
    return 0;
}
