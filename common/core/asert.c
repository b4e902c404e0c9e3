#include "common/core/asert.h"

#include <string.h>

/* Doublings beyond which the result is the limit or 1 whatever the target:
 * a target has at most 256 bits, the factor 17.  Clamping the exponent
 * there keeps every later step in small integers without changing any
 * result. */
#define ASERT_MAX_SHIFT 320

/* 320-bit scratch for target * factor * 2^shift before the clamp. */
#define WIDE_LIMBS 10
typedef struct { uint32_t w[WIDE_LIMBS]; } wide;

static int wide_bits(const wide *a)
{
    for (int i = WIDE_LIMBS - 1; i >= 0; i--)
        if (a->w[i] != 0)
            return 32 * i + 32 - __builtin_clz(a->w[i]);
    return 0;
}

static void wide_shift(wide *a, int64_t n)
{
    wide r;
    memset(&r, 0, sizeof r);
    if (n >= 0) {
        unsigned limbs = (unsigned)(n / 32), bits = (unsigned)(n % 32);
        for (unsigned i = 0; i + limbs < WIDE_LIMBS; i++) {
            r.w[i + limbs] |= a->w[i] << bits;
            if (bits != 0 && i + limbs + 1 < WIDE_LIMBS)
                r.w[i + limbs + 1] |= a->w[i] >> (32 - bits);
        }
    } else if (-n < 32 * WIDE_LIMBS) {
        unsigned limbs = (unsigned)(-n / 32), bits = (unsigned)(-n % 32);
        for (unsigned i = limbs; i < WIDE_LIMBS; i++) {
            r.w[i - limbs] |= a->w[i] >> bits;
            if (bits != 0 && i > limbs)
                r.w[i - limbs - 1] |= a->w[i] << (32 - bits);
        }
    }
    *a = r;
}

void asert_pow_limit(u256 *out)
{
    memset(out, 0xff, sizeof *out);
    u256_shr(out, 4);
}

/* 65536 * 2^(frac / 65536), the spec's cubic; the sum stays below 2^64
 * for every frac < 2^16. */
static uint32_t asert_factor(uint32_t frac)
{
    uint64_t f = frac;
    uint64_t s = UINT64_C(195766423245049) * f + UINT64_C(971821376) * f * f +
                 UINT64_C(5127) * f * f * f + (UINT64_C(1) << 47);
    return 65536u + (uint32_t)(s >> 48);
}

void asert_target(const u256 *anchor_target, const u256 *pow_limit, int64_t time_diff,
                  int64_t height_diff, uint32_t spacing, uint32_t halflife, u256 *out)
{
    const __int128 cap = (__int128)ASERT_MAX_SHIFT << ASERT_FRAC_BITS;
    __int128 num = (__int128)time_diff - (__int128)spacing * height_diff;
    /* C division truncates toward zero, as the reference's does. */
    __int128 e = halflife != 0 ? num * 65536 / (__int128)halflife : 0;
    if (e > cap)
        e = cap;
    if (e < -cap)
        e = -cap;
    int64_t exponent = (int64_t)e;
    /* Floor split: exponent = shifts * 65536 + frac with 0 <= frac < 65536
     * (the reference's arithmetic right shift). */
    int64_t shifts = exponent >= 0 ? exponent / 65536 : -((-exponent + 65535) / 65536);
    uint32_t frac = (uint32_t)(exponent - shifts * 65536);
    uint32_t factor = asert_factor(frac);

    wide v;
    uint64_t carry = 0;
    memset(&v, 0, sizeof v);
    for (int i = 0; i < 8; i++) {
        uint64_t p = (uint64_t)anchor_target->w[i] * factor + carry;
        v.w[i] = (uint32_t)p;
        carry = p >> 32;
    }
    v.w[8] = (uint32_t)carry;
    shifts -= ASERT_FRAC_BITS;
    if (shifts > 0 && wide_bits(&v) + shifts > 256) {
        *out = *pow_limit;                 /* past 2^256: the limit anyway */
        return;
    }
    wide_shift(&v, shifts);
    if (wide_bits(&v) > 256) {
        *out = *pow_limit;
        return;
    }
    memcpy(out->w, v.w, sizeof out->w);
    if (u256_bits(out) == 0) {
        memset(out, 0, sizeof *out);
        out->w[0] = 1;                     /* 0 is no target; 1 is the hardest */
    } else if (u256_cmp(out, pow_limit) > 0) {
        *out = *pow_limit;
    }
}

uint32_t asert_next_bits(const chain_params *p, uint32_t parent_height, uint32_t parent_time)
{
    u256 anchor, limit, next;
    if (p->block_interval_ms == 0 || pow_bits_to_target(p->bits, &anchor) < 0)
        return p->bits;
    asert_pow_limit(&limit);
    int64_t time_diff = ((int64_t)parent_time - (int64_t)p->genesis_time) * 1000;
    asert_target(&anchor, &limit, time_diff, (int64_t)parent_height, p->block_interval_ms,
                 p->retarget_halflife_ms, &next);
    return pow_target_to_bits(&next);
}

uint32_t asert_default_halflife_ms(uint32_t interval_ms)
{
    uint64_t h = (uint64_t)interval_ms * ASERT_DEFAULT_HALFLIFE_INTERVALS;
    return h > UINT32_MAX ? UINT32_MAX : (uint32_t)h;
}
