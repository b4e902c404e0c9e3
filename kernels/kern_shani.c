/* kern_shani.c - the SHA extensions (sha256rnds2: two rounds per
 * instruction), several nonces interleaved.
 *
 * One nonce's rounds form a single dependency chain, so one stream leaves
 * the SHA unit idle most of the time; KERN_SHANI_WAYS independent nonces in
 * flight fill it.  State is in the instructions' ABEF/CDGH layout (lane 3
 * down to lane 0: A B E F and C D G H).  Like the vector kernels this starts
 * from the midstate with rounds 0-1 of the header's second block done once
 * per call, folds K + W for the constant padding words, and stops the second
 * hash after round 61: word 7 is IV7 + e after round 60, which after round
 * 61 sits in lane 0 (F) of ABEF. */
#include "kern_internal.h"

#ifdef KERN_X86
#include <immintrin.h>

#define KERN_SHANI_WAYS 4
#define KERN_SHANI_FN static inline __attribute__((always_inline, target("sha,sse4.1")))
#define KERN_EACH(j) _Pragma("GCC unroll 8") for (int j = 0; j < KERN_SHANI_WAYS; j++)

typedef struct {
    __m128i abef[KERN_SHANI_WAYS], cdgh[KERN_SHANI_WAYS];
} kern_sn_state;

/* What every nonce of a call shares. */
typedef struct {
    __m128i abef2, cdgh2;       /* state before round 2 of block two */
    __m128i mid_abef, mid_cdgh; /* the midstate, added after block two */
    __m128i iv_abef, iv_cdgh;
    __m128i k[16];              /* round constants, four per vector */
    __m128i kw1[4];             /* K + W for block two, words 4-15 (index 1-3) */
    __m128i kw2[4];             /* K + W for the second hash, words 8-15 (2-3) */
    uint32_t kw2c;              /* K2 + W2 */
} kern_sn_ctx;

KERN_SHANI_FN __m128i kern_sn_pack_abef(const uint32_t s[8])
{
    return _mm_set_epi32((int)s[0], (int)s[1], (int)s[4], (int)s[5]);
}

KERN_SHANI_FN __m128i kern_sn_pack_cdgh(const uint32_t s[8])
{
    return _mm_set_epi32((int)s[2], (int)s[3], (int)s[6], (int)s[7]);
}

KERN_SHANI_FN __m128i kern_sn_k4(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return _mm_set_epi32((int)d, (int)c, (int)b, (int)a);
}

KERN_SHANI_FN void kern_sn_ctx_init(kern_sn_ctx *c, const kern_prep *p)
{
    static const uint32_t iv[8] = {KERN_IV_0, KERN_IV_1, KERN_IV_2, KERN_IV_3,
                                   KERN_IV_4, KERN_IV_5, KERN_IV_6, KERN_IV_7};
    uint32_t s[8];

    for (int i = 0; i < 8; i++)
        s[i] = p->mid[i];
    kern_round(s, KERN_K_0 + p->w0);
    kern_round(s, KERN_K_1 + p->w1);
    c->abef2 = kern_sn_pack_abef(s);
    c->cdgh2 = kern_sn_pack_cdgh(s);
    c->mid_abef = kern_sn_pack_abef(p->mid);
    c->mid_cdgh = kern_sn_pack_cdgh(p->mid);
    c->iv_abef = kern_sn_pack_abef(iv);
    c->iv_cdgh = kern_sn_pack_cdgh(iv);
    c->kw2c = KERN_K_2 + p->w2;

    c->k[0] = kern_sn_k4(KERN_K_0, KERN_K_1, KERN_K_2, KERN_K_3);
    c->k[1] = kern_sn_k4(KERN_K_4, KERN_K_5, KERN_K_6, KERN_K_7);
    c->k[2] = kern_sn_k4(KERN_K_8, KERN_K_9, KERN_K_10, KERN_K_11);
    c->k[3] = kern_sn_k4(KERN_K_12, KERN_K_13, KERN_K_14, KERN_K_15);
    c->k[4] = kern_sn_k4(KERN_K_16, KERN_K_17, KERN_K_18, KERN_K_19);
    c->k[5] = kern_sn_k4(KERN_K_20, KERN_K_21, KERN_K_22, KERN_K_23);
    c->k[6] = kern_sn_k4(KERN_K_24, KERN_K_25, KERN_K_26, KERN_K_27);
    c->k[7] = kern_sn_k4(KERN_K_28, KERN_K_29, KERN_K_30, KERN_K_31);
    c->k[8] = kern_sn_k4(KERN_K_32, KERN_K_33, KERN_K_34, KERN_K_35);
    c->k[9] = kern_sn_k4(KERN_K_36, KERN_K_37, KERN_K_38, KERN_K_39);
    c->k[10] = kern_sn_k4(KERN_K_40, KERN_K_41, KERN_K_42, KERN_K_43);
    c->k[11] = kern_sn_k4(KERN_K_44, KERN_K_45, KERN_K_46, KERN_K_47);
    c->k[12] = kern_sn_k4(KERN_K_48, KERN_K_49, KERN_K_50, KERN_K_51);
    c->k[13] = kern_sn_k4(KERN_K_52, KERN_K_53, KERN_K_54, KERN_K_55);
    c->k[14] = kern_sn_k4(KERN_K_56, KERN_K_57, KERN_K_58, KERN_K_59);
    c->k[15] = kern_sn_k4(KERN_K_60, KERN_K_61, KERN_K_62, KERN_K_63);

    /* Block two pads with 0x80000000, ten zeros and the length 640. */
    c->kw1[1] = kern_sn_k4(KERN_K_4 + 0x80000000u, KERN_K_5, KERN_K_6, KERN_K_7);
    c->kw1[2] = c->k[2];
    c->kw1[3] = kern_sn_k4(KERN_K_12, KERN_K_13, KERN_K_14, KERN_K_15 + 640u);
    /* The second hash: 0x80000000, six zeros, the length 256. */
    c->kw2[2] = kern_sn_k4(KERN_K_8 + 0x80000000u, KERN_K_9, KERN_K_10, KERN_K_11);
    c->kw2[3] = kern_sn_k4(KERN_K_12, KERN_K_13, KERN_K_14, KERN_K_15 + 256u);
}

/* Four rounds on every stream; kw holds K + W for them. */
KERN_SHANI_FN void kern_sn_quad(kern_sn_state *s, const __m128i *kw)
{
    KERN_EACH(j) s->cdgh[j] = _mm_sha256rnds2_epu32(s->cdgh[j], s->abef[j], kw[j]);
    KERN_EACH(j) s->abef[j] = _mm_sha256rnds2_epu32(s->abef[j], s->cdgh[j],
                                                    _mm_shuffle_epi32(kw[j], 0x0e));
}

KERN_SHANI_FN void kern_sn_quad_same(kern_sn_state *s, __m128i kw)
{
    __m128i v[KERN_SHANI_WAYS];

    KERN_EACH(j) v[j] = kw;
    kern_sn_quad(s, v);
}

/* Message words 4g..4g+3 from the four previous vectors (m[0] oldest),
 * then the window moves on; returns K + W for the group in kw. */
KERN_SHANI_FN void kern_sn_sched(__m128i m[4][KERN_SHANI_WAYS], __m128i k, __m128i *kw)
{
    KERN_EACH(j) {
        __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(m[0][j], m[1][j]),
                                  _mm_alignr_epi8(m[3][j], m[2][j], 4));
        __m128i w = _mm_sha256msg2_epu32(t, m[3][j]);

        m[0][j] = m[1][j];
        m[1][j] = m[2][j];
        m[2][j] = m[3][j];
        m[3][j] = w;
        kw[j] = _mm_add_epi32(w, k);
    }
}

/* Rounds 16-63 (groups 4-15) of either hash; the last group stops after
 * rounds 60-61 when `whole` is 0. */
KERN_SHANI_FN void kern_sn_rest(const kern_sn_ctx *c, kern_sn_state *s,
                                __m128i m[4][KERN_SHANI_WAYS], int whole)
{
    __m128i kw[KERN_SHANI_WAYS];

    _Pragma("GCC unroll 12") for (int g = 4; g < 15; g++) {
        kern_sn_sched(m, c->k[g], kw);
        kern_sn_quad(s, kw);
    }
    kern_sn_sched(m, c->k[15], kw);
    KERN_EACH(j) s->cdgh[j] = _mm_sha256rnds2_epu32(s->cdgh[j], s->abef[j], kw[j]);
    if (whole) {
        KERN_EACH(j) s->abef[j] = _mm_sha256rnds2_epu32(s->abef[j], s->cdgh[j],
                                                        _mm_shuffle_epi32(kw[j], 0x0e));
    }
}

/* ABEF/CDGH -> words 0-3 and 4-7 in lane order (the next message). */
KERN_SHANI_FN void kern_sn_unshuffle(__m128i abef, __m128i cdgh, __m128i *lo, __m128i *hi)
{
    __m128i t1 = _mm_shuffle_epi32(abef, 0x1b);
    __m128i t2 = _mm_shuffle_epi32(cdgh, 0xb1);

    *lo = _mm_blend_epi16(t1, t2, 0xf0);
    *hi = _mm_alignr_epi8(t2, t1, 8);
}

/* Word 7 of sha256d for the nonces whose message word 3 is w3[j]. */
KERN_SHANI_FN void kern_sn_h7(const kern_sn_ctx *c, const uint32_t *w3, const kern_prep *p,
                              uint32_t *h7)
{
    kern_sn_state s;
    __m128i m[4][KERN_SHANI_WAYS], kw[KERN_SHANI_WAYS];

    /* Block two from round 2: only word 3 varies. */
    KERN_EACH(j) {
        kw[j] = _mm_set_epi32(0, 0, (int)(KERN_K_3 + w3[j]), (int)c->kw2c);
        s.abef[j] = _mm_sha256rnds2_epu32(c->cdgh2, c->abef2, kw[j]);
        s.cdgh[j] = c->abef2;
        m[0][j] = _mm_set_epi32((int)w3[j], (int)p->w2, (int)p->w1, (int)p->w0);
        m[1][j] = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
        m[2][j] = _mm_setzero_si128();
        m[3][j] = _mm_set_epi32(640, 0, 0, 0);
    }
    kern_sn_quad_same(&s, c->kw1[1]);
    kern_sn_quad_same(&s, c->kw1[2]);
    kern_sn_quad_same(&s, c->kw1[3]);
    kern_sn_rest(c, &s, m, 1);

    /* The first digest is the second hash's words 0-7. */
    KERN_EACH(j) {
        kern_sn_unshuffle(_mm_add_epi32(s.abef[j], c->mid_abef),
                          _mm_add_epi32(s.cdgh[j], c->mid_cdgh), &m[0][j], &m[1][j]);
        m[2][j] = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
        m[3][j] = _mm_set_epi32(256, 0, 0, 0);
        s.abef[j] = c->iv_abef;
        s.cdgh[j] = c->iv_cdgh;
        kw[j] = _mm_add_epi32(m[0][j], c->k[0]);
    }
    kern_sn_quad(&s, kw);
    KERN_EACH(j) kw[j] = _mm_add_epi32(m[1][j], c->k[1]);
    kern_sn_quad(&s, kw);
    kern_sn_quad_same(&s, c->kw2[2]);
    kern_sn_quad_same(&s, c->kw2[3]);
    kern_sn_rest(c, &s, m, 0);
    /* After round 61 the new ABEF is in cdgh; its lane 0 (F) is e61. */
    KERN_EACH(j) h7[j] = (uint32_t)_mm_cvtsi128_si32(s.cdgh[j]) + KERN_IV_7;
}

__attribute__((target("sha,sse4.1")))
int kern__scan_shani(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found)
{
    kern_sn_ctx c;

    kern_sn_ctx_init(&c, p);
    for (uint64_t done = 0; done < n; done += KERN_SHANI_WAYS) {
        uint32_t base = start + (uint32_t)done, w3[KERN_SHANI_WAYS], h7[KERN_SHANI_WAYS];
        uint32_t mask = 0;

        KERN_EACH(j) w3[j] = kern_bswap32(base + (uint32_t)j);
        kern_sn_h7(&c, w3, p, h7);
        KERN_EACH(j) mask |= (uint32_t)(kern_bswap32(h7[j]) <= p->t7) << j;
        if (mask != 0 && kern__confirm(p, base, mask, n - (uint32_t)done, found))
            return 1;
    }
    return 0;
}
#endif
