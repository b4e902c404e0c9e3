#include "common/core/pow.h"

#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "proto/buf.h"

/* ---- u256 ---------------------------------------------------------------- */

void u256_from_hash(u256 *out, const uint8_t h[32])
{
    for (int i = 0; i < 8; i++)
        out->w[i] = proto_le32_get(h + 4 * i);
}

void u256_to_hash(const u256 *a, uint8_t h[32])
{
    for (int i = 0; i < 8; i++)
        proto_le32_put(h + 4 * i, a->w[i]);
}

int u256_cmp(const u256 *a, const u256 *b)
{
    for (int i = 7; i >= 0; i--) {
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    }
    return 0;
}

void u256_add(u256 *out, const u256 *a, const u256 *b)
{
    uint64_t carry = 0;
    u256 r;
    for (int i = 0; i < 8; i++) {
        uint64_t s = (uint64_t)a->w[i] + b->w[i] + carry;
        r.w[i] = (uint32_t)s;
        carry = s >> 32;
    }
    if (carry)
        memset(&r, 0xff, sizeof r);
    *out = r;
}

void u256_hex(const u256 *a, char out[65])
{
    uint8_t le[32];
    u256_to_hash(a, le);
    hash_to_hex_display(le, out);
}

static void u256_set_u32(u256 *a, uint32_t v)
{
    memset(a, 0, sizeof *a);
    a->w[0] = v;
}

static int u256_is_zero(const u256 *a)
{
    uint32_t acc = 0;
    for (int i = 0; i < 8; i++)
        acc |= a->w[i];
    return acc == 0;
}

int u256_bits(const u256 *a)
{
    for (int i = 7; i >= 0; i--) {
        if (a->w[i] != 0)
            return 32 * i + 32 - __builtin_clz(a->w[i]);
    }
    return 0;
}

void u256_shl(u256 *a, unsigned n)
{
    u256 r;
    unsigned limbs = n / 32, bits = n % 32;
    memset(&r, 0, sizeof r);
    for (unsigned i = 0; i + limbs < 8; i++) {
        r.w[i + limbs] |= a->w[i] << bits;
        if (bits != 0 && i + limbs + 1 < 8)
            r.w[i + limbs + 1] |= a->w[i] >> (32 - bits);
    }
    *a = r;
}

void u256_shr(u256 *a, unsigned n)
{
    u256 r;
    unsigned limbs = n / 32, bits = n % 32;
    memset(&r, 0, sizeof r);
    for (unsigned i = limbs; i < 8; i++) {
        r.w[i - limbs] |= a->w[i] >> bits;
        if (bits != 0 && i - limbs >= 1)
            r.w[i - limbs - 1] |= a->w[i] << (32 - bits);
    }
    *a = r;
}

/* a - b, wrapping; callers only use it with a >= b. */
static void u256_sub(u256 *out, const u256 *a, const u256 *b)
{
    int64_t borrow = 0;
    for (int i = 0; i < 8; i++) {
        int64_t d = (int64_t)a->w[i] - b->w[i] - borrow;
        borrow = d < 0;
        out->w[i] = (uint32_t)d;
    }
}

/* Wrapping increment; returns 1 if it wrapped to zero. */
static int u256_inc(u256 *a)
{
    for (int i = 0; i < 8; i++) {
        if (++a->w[i] != 0)
            return 0;
    }
    return 1;
}

/* Long division by shift and subtract (arith_uint256::operator/=): align
 * the divisor's top bit with the numerator's, then walk it back down one
 * bit at a time.  Aligning first means no intermediate exceeds 256 bits.
 * den must be non-zero. */
static void u256_div(u256 *q, const u256 *num, const u256 *den)
{
    u256 n = *num, d = *den;
    int nb = u256_bits(&n), db = u256_bits(&d);
    memset(q, 0, sizeof *q);
    if (db == 0 || db > nb)
        return;
    int shift = nb - db;
    u256_shl(&d, (unsigned)shift);
    for (; shift >= 0; shift--) {
        if (u256_cmp(&n, &d) >= 0) {
            u256_sub(&n, &n, &d);
            q->w[shift / 32] |= 1u << (shift % 32);
        }
        u256_shr(&d, 1);
    }
}

/* ---- compact bits -------------------------------------------------------- */

int pow_bits_to_target(uint32_t bits, u256 *target)
{
    unsigned size = bits >> 24;
    uint32_t word = bits & 0x007fffff;

    if (size <= 3) {
        word >>= 8 * (3 - size);
        u256_set_u32(target, word);
    } else {
        u256_set_u32(target, word);
        u256_shl(target, 8 * (size - 3));
    }
    /* The same two flags SetCompact reports, judged on the shifted word. */
    int negative = word != 0 && (bits & 0x00800000) != 0;
    int overflow = word != 0 && (size > 34 || (word > 0xff && size > 33) ||
                                 (word > 0xffff && size > 32));
    if (negative || overflow) {
        memset(target, 0, sizeof *target);
        return SG_EINVAL;
    }
    return SG_OK;
}

uint32_t pow_target_to_bits(const u256 *target)
{
    unsigned size = ((unsigned)u256_bits(target) + 7) / 8;
    uint32_t compact;

    if (size <= 3) {
        compact = target->w[0] << 8 * (3 - size);
    } else {
        u256 t = *target;
        u256_shr(&t, 8 * (size - 3));
        compact = t.w[0];
    }
    /* The mantissa is signed: keep its top bit clear by giving up a byte. */
    if (compact & 0x00800000) {
        compact >>= 8;
        size++;
    }
    return compact | size << 24;
}

int pow_difficulty_to_bits(int n, uint32_t *bits)
{
    u256 t;
    if (n < 1 || n > 63)
        return SG_EINVAL;
    /* 2^(256-4n) - 1: all ones below bit 256-4n. */
    memset(&t, 0xff, sizeof t);
    u256_shr(&t, (unsigned)(4 * n));
    *bits = pow_target_to_bits(&t);
    return SG_OK;
}

void pow_work(const u256 *target, u256 *work)
{
    /* 2^256 / (target + 1) does not fit in 256 bits as written, so use
     * Bitcoin's identity: ~target / (target + 1) + 1. */
    u256 den = *target, inv;
    if (u256_is_zero(target)) {
        /* 2^256 does not fit; a zero target is never valid anyway, and
         * Bitcoin's GetBlockProof also counts it as no work. */
        memset(work, 0, sizeof *work);
        return;
    }
    if (u256_inc(&den)) {
        /* target = 2^256 - 1: every hash meets it. */
        u256_set_u32(work, 1);
        return;
    }
    for (int i = 0; i < 8; i++)
        inv.w[i] = ~target->w[i];
    u256_div(work, &inv, &den);
    u256_inc(work);
}

/* ---- proof of work ------------------------------------------------------- */

void pow_header_hash(const proto_header *h, uint8_t out[32])
{
    uint8_t raw[PROTO_HEADER_SIZE];
    proto_header_encode(h, raw);
    hash_sha256d(raw, sizeof raw, out);
}

/* A zero target could only be met by an all-zero hash; Bitcoin refuses such
 * bits outright, and so do we. */
static int pow_target_usable(uint32_t bits, u256 *target)
{
    return pow_bits_to_target(bits, target) == SG_OK && !u256_is_zero(target);
}

int pow_check(const proto_header *h)
{
    u256 target, val;
    uint8_t hash[32];

    if (!pow_target_usable(h->bits, &target))
        return SG_EBADPOW;
    pow_header_hash(h, hash);
    u256_from_hash(&val, hash);
    return u256_cmp(&val, &target) <= 0 ? SG_OK : SG_EBADPOW;
}

int pow_search_simple(proto_header *h, uint64_t count)
{
    uint8_t raw[PROTO_HEADER_SIZE], hash[32];
    u256 target, val;
    uint32_t nonce = h->nonce;

    if (!pow_target_usable(h->bits, &target))
        return SG_ENOTFOUND;
    /* Only 2^32 distinct nonces exist; more attempts would repeat them. */
    if (count > UINT64_C(1) << 32)
        count = UINT64_C(1) << 32;
    proto_header_encode(h, raw);
    for (uint64_t i = 0; i < count; i++, nonce++) {
        proto_le32_put(raw + PROTO_HEADER_SIZE - 4, nonce);
        hash_sha256d(raw, sizeof raw, hash);
        u256_from_hash(&val, hash);
        if (u256_cmp(&val, &target) <= 0) {
            h->nonce = nonce;
            return SG_OK;
        }
    }
    return SG_ENOTFOUND;
}
