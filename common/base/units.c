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

int units_parse_rate(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v = 0;
    int nfrac = -1;              /* decimals seen; -1: no point */
    const char *c = s;

    /* Every digit is scaled by the suffix later; stopping once the digits
     * alone pass hi keeps v below 10 * hi + 9, far from overflow for any
     * hi a caller would give (up to 10^18). */
    for (; (*c >= '0' && *c <= '9') || (*c == '.' && nfrac < 0); c++) {
        if (*c == '.') {
            if (c == s)
                return SG_EINVAL;
            nfrac = 0;
            continue;
        }
        v = v * 10 + (uint64_t)(*c - '0');
        if (nfrac >= 0)
            nfrac++;
        if (v > hi)
            return SG_EINVAL;
    }
    if (c == s || nfrac == 0)
        return SG_EINVAL;
    int zeros = *c == 'k' || *c == 'K' ? 3 : *c == 'M' ? 6 : *c == 'G' ? 9 : 0;
    if (zeros)
        c++;
    if (*c != '\0' || nfrac > zeros)
        return SG_EINVAL;
    for (int i = nfrac < 0 ? 0 : nfrac; i < zeros; i++) {
        if (v > hi / 10)
            return SG_EINVAL;
        v *= 10;
    }
    if (v < lo || v > hi)
        return SG_EINVAL;
    *out = v;
    return 0;
}
