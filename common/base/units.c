#include "common/base/units.h"

#include <string.h>

#include "common/base/err.h"

int units_parse_u64(const char *s, size_t len, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v = 0;
    if (s == NULL || len == 0)
        return SG_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return SG_EINVAL;
    }
    if (v < lo || v > hi)
        return SG_EINVAL;
    *out = v;
    return 0;
}

int units_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (s == NULL || units_parse_u64(s, strlen(s), lo, hi, &v) != 0)
        return SG_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

int units_parse_milli(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t whole, frac = 0, v;
    int nfrac = 0;
    size_t n = strspn(s, "0123456789");
    const char *c = s + n;

    /* Bounding the whole part by hi keeps the arithmetic below far from
     * overflow. */
    if (units_parse_u64(s, n, 0, hi / 1000 + 1, &whole) != 0)
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

int units_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    const char *h = s;
    uint64_t p;
    if (colon == NULL)
        return SG_EINVAL;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hl < 2 || s[hl - 1] != ']')
            return SG_EINVAL;
        h = s + 1;
        hl -= 2;
    }
    if (units_parse_u64(colon + 1, strlen(colon + 1), 0, 65535, &p) != 0)
        return SG_EINVAL;
    if (host != NULL) {
        if (hl >= cap)
            return SG_EINVAL;
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    *port = (uint16_t)p;
    return 0;
}
