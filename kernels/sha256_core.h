/*
 * sha256_core.h - SHA-256 round code shared by the CPU kernels and the CUDA
 * kernel.
 *
 * Compiles as plain C (every function `static inline`) and as CUDA
 * (`__host__ __device__ __forceinline__`), so the code the GPU runs is also
 * built and unit-tested on machines without one (tests/unit/check_kernels.c
 * compares it with OpenSSL).  No tables: round constants are literals, so
 * device code needs no __constant__ memory and unrolled rounds get them as
 * immediates.
 *
 * Word order: SHA-256 reads its input as big-endian 32-bit words.  The
 * header's nonce is little-endian on the wire, so the message word that
 * carries nonce N is kern_bswap32(N).
 */
#ifndef KERN_SHA256_CORE_H
#define KERN_SHA256_CORE_H

#include <stdint.h>

#ifdef __CUDACC__
#define KERN_HD static __host__ __device__ __forceinline__
#else
#define KERN_HD static inline
#endif

#define KERN_K_0 0x428a2f98u
#define KERN_K_1 0x71374491u
#define KERN_K_2 0xb5c0fbcfu
#define KERN_K_3 0xe9b5dba5u
#define KERN_K_4 0x3956c25bu
#define KERN_K_5 0x59f111f1u
#define KERN_K_6 0x923f82a4u
#define KERN_K_7 0xab1c5ed5u
#define KERN_K_8 0xd807aa98u
#define KERN_K_9 0x12835b01u
#define KERN_K_10 0x243185beu
#define KERN_K_11 0x550c7dc3u
#define KERN_K_12 0x72be5d74u
#define KERN_K_13 0x80deb1feu
#define KERN_K_14 0x9bdc06a7u
#define KERN_K_15 0xc19bf174u
#define KERN_K_16 0xe49b69c1u
#define KERN_K_17 0xefbe4786u
#define KERN_K_18 0x0fc19dc6u
#define KERN_K_19 0x240ca1ccu
#define KERN_K_20 0x2de92c6fu
#define KERN_K_21 0x4a7484aau
#define KERN_K_22 0x5cb0a9dcu
#define KERN_K_23 0x76f988dau
#define KERN_K_24 0x983e5152u
#define KERN_K_25 0xa831c66du
#define KERN_K_26 0xb00327c8u
#define KERN_K_27 0xbf597fc7u
#define KERN_K_28 0xc6e00bf3u
#define KERN_K_29 0xd5a79147u
#define KERN_K_30 0x06ca6351u
#define KERN_K_31 0x14292967u
#define KERN_K_32 0x27b70a85u
#define KERN_K_33 0x2e1b2138u
#define KERN_K_34 0x4d2c6dfcu
#define KERN_K_35 0x53380d13u
#define KERN_K_36 0x650a7354u
#define KERN_K_37 0x766a0abbu
#define KERN_K_38 0x81c2c92eu
#define KERN_K_39 0x92722c85u
#define KERN_K_40 0xa2bfe8a1u
#define KERN_K_41 0xa81a664bu
#define KERN_K_42 0xc24b8b70u
#define KERN_K_43 0xc76c51a3u
#define KERN_K_44 0xd192e819u
#define KERN_K_45 0xd6990624u
#define KERN_K_46 0xf40e3585u
#define KERN_K_47 0x106aa070u
#define KERN_K_48 0x19a4c116u
#define KERN_K_49 0x1e376c08u
#define KERN_K_50 0x2748774cu
#define KERN_K_51 0x34b0bcb5u
#define KERN_K_52 0x391c0cb3u
#define KERN_K_53 0x4ed8aa4au
#define KERN_K_54 0x5b9cca4fu
#define KERN_K_55 0x682e6ff3u
#define KERN_K_56 0x748f82eeu
#define KERN_K_57 0x78a5636fu
#define KERN_K_58 0x84c87814u
#define KERN_K_59 0x8cc70208u
#define KERN_K_60 0x90befffau
#define KERN_K_61 0xa4506cebu
#define KERN_K_62 0xbef9a3f7u
#define KERN_K_63 0xc67178f2u
#define KERN_K(i) KERN_K_##i

#define KERN_IV_0 0x6a09e667u
#define KERN_IV_1 0xbb67ae85u
#define KERN_IV_2 0x3c6ef372u
#define KERN_IV_3 0xa54ff53au
#define KERN_IV_4 0x510e527fu
#define KERN_IV_5 0x9b05688cu
#define KERN_IV_6 0x1f83d9abu
#define KERN_IV_7 0x5be0cd19u

KERN_HD uint32_t kern_ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

KERN_HD uint32_t kern_bswap32(uint32_t x)
{
    return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
}

KERN_HD uint32_t kern_S0(uint32_t x) { return kern_ror(x, 2) ^ kern_ror(x, 13) ^ kern_ror(x, 22); }
KERN_HD uint32_t kern_S1(uint32_t x) { return kern_ror(x, 6) ^ kern_ror(x, 11) ^ kern_ror(x, 25); }
KERN_HD uint32_t kern_s0(uint32_t x) { return kern_ror(x, 7) ^ kern_ror(x, 18) ^ (x >> 3); }
KERN_HD uint32_t kern_s1(uint32_t x) { return kern_ror(x, 17) ^ kern_ror(x, 19) ^ (x >> 10); }
KERN_HD uint32_t kern_ch(uint32_t e, uint32_t f, uint32_t g) { return ((f ^ g) & e) ^ g; }
KERN_HD uint32_t kern_maj(uint32_t a, uint32_t b, uint32_t c) { return (a & b) | (c & (a | b)); }

KERN_HD uint32_t kern_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

KERN_HD void kern_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One round on an explicit state; used by the plain compression and by the
 * precomputation below. */
KERN_HD void kern_round(uint32_t s[8], uint32_t kw)
{
    uint32_t t1 = s[7] + kern_S1(s[4]) + kern_ch(s[4], s[5], s[6]) + kw;
    uint32_t t2 = kern_S0(s[0]) + kern_maj(s[0], s[1], s[2]);
    s[7] = s[6];
    s[6] = s[5];
    s[5] = s[4];
    s[4] = s[3] + t1;
    s[3] = s[2];
    s[2] = s[1];
    s[1] = s[0];
    s[0] = t1 + t2;
}

/* The full compression function: st += compress(st, w[0..15]).  Plain and
 * unhurried; the fast paths are the nonce functions below. */
KERN_HD void kern_sha256_compress(uint32_t st[8], const uint32_t win[16])
{
    const uint32_t k[64] = {
        KERN_K_0, KERN_K_1, KERN_K_2, KERN_K_3, KERN_K_4, KERN_K_5, KERN_K_6, KERN_K_7,
        KERN_K_8, KERN_K_9, KERN_K_10, KERN_K_11, KERN_K_12, KERN_K_13, KERN_K_14, KERN_K_15,
        KERN_K_16, KERN_K_17, KERN_K_18, KERN_K_19, KERN_K_20, KERN_K_21, KERN_K_22, KERN_K_23,
        KERN_K_24, KERN_K_25, KERN_K_26, KERN_K_27, KERN_K_28, KERN_K_29, KERN_K_30, KERN_K_31,
        KERN_K_32, KERN_K_33, KERN_K_34, KERN_K_35, KERN_K_36, KERN_K_37, KERN_K_38, KERN_K_39,
        KERN_K_40, KERN_K_41, KERN_K_42, KERN_K_43, KERN_K_44, KERN_K_45, KERN_K_46, KERN_K_47,
        KERN_K_48, KERN_K_49, KERN_K_50, KERN_K_51, KERN_K_52, KERN_K_53, KERN_K_54, KERN_K_55,
        KERN_K_56, KERN_K_57, KERN_K_58, KERN_K_59, KERN_K_60, KERN_K_61, KERN_K_62, KERN_K_63,
    };
    uint32_t w[64], s[8];
    int i;

    for (i = 0; i < 16; i++)
        w[i] = win[i];
    for (i = 16; i < 64; i++)
        w[i] = kern_s1(w[i - 2]) + w[i - 7] + kern_s0(w[i - 15]) + w[i - 16];
    for (i = 0; i < 8; i++)
        s[i] = st[i];
    for (i = 0; i < 64; i++)
        kern_round(s, k[i] + w[i]);
    for (i = 0; i < 8; i++)
        st[i] += s[i];
}

/*
 * Everything about a search that does not depend on the nonce, computed once
 * per job.  The header's first 64 bytes give the midstate; of the second
 * block only word 3 (the nonce) varies, so rounds 0-2 and most of round 3,
 * and the parts of the message schedule that involve only constant words,
 * are done here.  Field names give the round or schedule word they serve.
 */
typedef struct kern_prep {
    uint32_t mid[8];        /* state after the header's first 64 bytes */
    uint32_t w0, w1, w2;    /* block two words 0-2: merkle tail, time, bits */
    uint32_t s3[8];         /* state before round 3 of block two */
    uint32_t a4c, e4c;      /* round 3's new a and e, less the nonce word */
    uint32_t kw16, kw17;    /* K + W for rounds 16 and 17 (constant words) */
    uint32_t w16, w17;      /* schedule words 16 and 17 */
    uint32_t w18c, w19c;    /* words 18 and 19 less their nonce terms */
    uint32_t w31c, w32c;    /* constant parts of words 31 and 32 */
    uint32_t h2a1c, h2e1c;  /* second hash, round 0's new a and e less W0 */
    uint32_t t7;            /* the target's most significant 32 bits */
    uint8_t target[32];     /* little-endian 256-bit number */
    uint8_t header[80];     /* as given (the openssl baseline hashes it whole) */
} kern_prep;

KERN_HD void kern_prep_init(kern_prep *p, const uint8_t header[80], const uint8_t target[32])
{
    uint32_t w[16], s[8], t1, t2;
    int i;

    p->mid[0] = KERN_IV_0; p->mid[1] = KERN_IV_1; p->mid[2] = KERN_IV_2; p->mid[3] = KERN_IV_3;
    p->mid[4] = KERN_IV_4; p->mid[5] = KERN_IV_5; p->mid[6] = KERN_IV_6; p->mid[7] = KERN_IV_7;
    for (i = 0; i < 16; i++)
        w[i] = kern_load_be32(header + 4 * i);
    kern_sha256_compress(p->mid, w);

    p->w0 = kern_load_be32(header + 64);
    p->w1 = kern_load_be32(header + 68);
    p->w2 = kern_load_be32(header + 72);
    for (i = 0; i < 8; i++)
        s[i] = p->mid[i];
    kern_round(s, KERN_K_0 + p->w0);
    kern_round(s, KERN_K_1 + p->w1);
    kern_round(s, KERN_K_2 + p->w2);
    for (i = 0; i < 8; i++)
        p->s3[i] = s[i];
    t1 = s[7] + kern_S1(s[4]) + kern_ch(s[4], s[5], s[6]) + KERN_K_3;
    t2 = kern_S0(s[0]) + kern_maj(s[0], s[1], s[2]);
    p->e4c = s[3] + t1;
    p->a4c = t1 + t2;

    /* Block two: w3 nonce, w4 0x80000000, w5..w14 zero, w15 640 (bits). */
    p->w16 = kern_s0(p->w1) + p->w0;
    p->w17 = kern_s1(640u) + kern_s0(p->w2) + p->w1;
    p->kw16 = KERN_K_16 + p->w16;
    p->kw17 = KERN_K_17 + p->w17;
    p->w18c = kern_s1(p->w16) + p->w2;
    p->w19c = kern_s1(p->w17) + kern_s0(0x80000000u);
    p->w31c = kern_s0(p->w16) + 640u;
    p->w32c = kern_s0(p->w17) + p->w16;

    /* Second hash, round 0 from the IV: only W0 varies. */
    t1 = KERN_IV_7 + kern_S1(KERN_IV_4) + kern_ch(KERN_IV_4, KERN_IV_5, KERN_IV_6) + KERN_K_0;
    t2 = kern_S0(KERN_IV_0) + kern_maj(KERN_IV_0, KERN_IV_1, KERN_IV_2);
    p->h2e1c = KERN_IV_3 + t1;
    p->h2a1c = t1 + t2;

    for (i = 0; i < 32; i++)
        p->target[i] = target[i];
    for (i = 0; i < 80; i++)
        p->header[i] = header[i];
    p->t7 = ((uint32_t)target[31] << 24) | ((uint32_t)target[30] << 16) |
            ((uint32_t)target[29] << 8) | target[28];
}

/* The full double hash of the header with `nonce`, in internal byte order
 * (the order OpenSSL's digest of the digest comes out in). */
KERN_HD void kern_sha256d_full(const kern_prep *p, uint32_t nonce, uint8_t out[32])
{
    uint32_t w[16], st[8];
    int i;

    for (i = 0; i < 8; i++)
        st[i] = p->mid[i];
    for (i = 0; i < 16; i++)
        w[i] = 0;
    w[0] = p->w0;
    w[1] = p->w1;
    w[2] = p->w2;
    w[3] = kern_bswap32(nonce);
    w[4] = 0x80000000u;
    w[15] = 640u;
    kern_sha256_compress(st, w);

    for (i = 0; i < 8; i++)
        w[i] = st[i];
    for (i = 8; i < 16; i++)
        w[i] = 0;
    w[8] = 0x80000000u;
    w[15] = 256u;
    st[0] = KERN_IV_0; st[1] = KERN_IV_1; st[2] = KERN_IV_2; st[3] = KERN_IV_3;
    st[4] = KERN_IV_4; st[5] = KERN_IV_5; st[6] = KERN_IV_6; st[7] = KERN_IV_7;
    kern_sha256_compress(st, w);
    for (i = 0; i < 8; i++)
        kern_store_be32(out + 4 * i, st[i]);
}

/* hash <= target, both little-endian 256-bit numbers. */
KERN_HD int kern_hash_meets(const uint8_t hash[32], const uint8_t target[32])
{
    int i;

    for (i = 31; i >= 0; i--) {
        if (hash[i] != target[i])
            return hash[i] < target[i];
    }
    return 1;
}

/* Scalar instance of the fast nonce function (sha256_tmpl.h): the final
 * state word 7 of the double hash for message word w3 = bswap(nonce).  Its
 * byte-swap is the hash's top 32 bits as a number, which is all a
 * candidate filter needs; kern_sha256d_full confirms candidates. */
#define KT_V uint32_t
#define KT_FN kern_sha256d_h7
#define KT_ATTR KERN_HD
#define KT_C(x) ((uint32_t)(x))
#define KT_ADD(a, b) ((a) + (b))
#define KT_S0(x) kern_S0(x)
#define KT_S1(x) kern_S1(x)
#define KT_s0(x) kern_s0(x)
#define KT_s1(x) kern_s1(x)
#define KT_CH(e, f, g) kern_ch(e, f, g)
#define KT_MAJ(a, b, c) kern_maj(a, b, c)
#include "sha256_tmpl.h"

#endif
