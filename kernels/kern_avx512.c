/* kern_avx512.c - 16 nonces per vector with AVX-512F: rotates are one
 * instruction (vprord) and Ch, Maj and the three-way xors one ternary-logic
 * instruction each.  Compiled for the baseline ISA; only these functions
 * carry the target attribute, and kern.c calls them only after CPUID says
 * AVX-512F is there. */
/* GCC's reassociation pass would regroup the rounds' adds (KT_SHORT_CHAIN
 * in sha256_tmpl.h) into a longer dependency chain again; measured 2-10%
 * faster without it on Zen 5. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-reassoc")
#endif

#include "kern_internal.h"

#ifdef KERN_X86
#include <immintrin.h>

#define KERN_AVX512_FN static inline __attribute__((always_inline, target("avx512f")))

#define KT_SHORT_CHAIN 1
#define KT_V __m512i
#define KT_FN kern__h7_avx512
#define KT_ATTR KERN_AVX512_FN
#define KT_C(x) _mm512_set1_epi32((int)(x))
#define KT_ADD(a, b) _mm512_add_epi32(a, b)
#define KERN_X3(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0x96)
#define KT_S0(x) KERN_X3(_mm512_ror_epi32(x, 2), _mm512_ror_epi32(x, 13), _mm512_ror_epi32(x, 22))
#define KT_S1(x) KERN_X3(_mm512_ror_epi32(x, 6), _mm512_ror_epi32(x, 11), _mm512_ror_epi32(x, 25))
#define KT_s0(x) KERN_X3(_mm512_ror_epi32(x, 7), _mm512_ror_epi32(x, 18), _mm512_srli_epi32(x, 3))
#define KT_s1(x) KERN_X3(_mm512_ror_epi32(x, 17), _mm512_ror_epi32(x, 19), _mm512_srli_epi32(x, 10))
#define KT_CH(e, f, g) _mm512_ternarylogic_epi32(e, f, g, 0xca)
#define KT_MAJ(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0xe8)
#include "sha256_tmpl.h"
#undef KERN_X3

/* Byte swap per lane: bytes 3 and 1 from x ror 8, bytes 2 and 0 from x rol 8
 * (AVX-512F has no byte shuffle; this needs no AVX-512BW). */
KERN_AVX512_FN __m512i kern__bswap_avx512(__m512i x)
{
    return _mm512_ternarylogic_epi32(_mm512_ror_epi32(x, 8), _mm512_rol_epi32(x, 8),
                                     _mm512_set1_epi32((int)0xff00ff00u), 0xe4);
}

__attribute__((target("avx512f")))
int kern__scan_avx512(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found)
{
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i t7 = _mm512_set1_epi32((int)p->t7);

    for (uint64_t done = 0; done < n; done += 16) {
        uint32_t base = start + (uint32_t)done;
        __m512i nonce = _mm512_add_epi32(_mm512_set1_epi32((int)base), lanes);
        __m512i h7 = kern__h7_avx512(p, kern__bswap_avx512(nonce));
        __mmask16 m = _mm512_cmple_epu32_mask(kern__bswap_avx512(h7), t7);

        if (m != 0 && kern__confirm(p, base, m, n - (uint32_t)done, found))
            return 1;
    }
    return 0;
}
#endif
