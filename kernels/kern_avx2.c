/* kern_avx2.c - 8 nonces per vector with AVX2.  No rotate instruction, so
 * each rotate is two shifts and an or.  Only these functions carry the
 * target attribute; kern.c calls them after CPUID says AVX2 is there. */
#include "kern_internal.h"

#ifdef KERN_X86
#include <immintrin.h>

#define KERN_AVX2_FN static inline __attribute__((always_inline, target("avx2")))

#define KERN_ROR(x, n) _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - (n)))
#define KERN_X3(a, b, c) _mm256_xor_si256(_mm256_xor_si256(a, b), c)

#define KT_V __m256i
#define KT_FN kern__h7_avx2
#define KT_ATTR KERN_AVX2_FN
#define KT_C(x) _mm256_set1_epi32((int)(x))
#define KT_ADD(a, b) _mm256_add_epi32(a, b)
#define KT_S0(x) KERN_X3(KERN_ROR(x, 2), KERN_ROR(x, 13), KERN_ROR(x, 22))
#define KT_S1(x) KERN_X3(KERN_ROR(x, 6), KERN_ROR(x, 11), KERN_ROR(x, 25))
#define KT_s0(x) KERN_X3(KERN_ROR(x, 7), KERN_ROR(x, 18), _mm256_srli_epi32(x, 3))
#define KT_s1(x) KERN_X3(KERN_ROR(x, 17), KERN_ROR(x, 19), _mm256_srli_epi32(x, 10))
#define KT_CH(e, f, g) _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256(f, g), e), g)
#define KT_MAJ(a, b, c) \
    _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(c, _mm256_or_si256(a, b)))
#include "sha256_tmpl.h"
#undef KERN_ROR
#undef KERN_X3

KERN_AVX2_FN __m256i kern__bswap_avx2(__m256i x)
{
    const __m256i rev = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                                         3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    return _mm256_shuffle_epi8(x, rev);
}

__attribute__((target("avx2")))
int kern__scan_avx2(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i t7 = _mm256_set1_epi32((int)p->t7);

    for (uint64_t done = 0; done < n; done += 8) {
        uint32_t base = start + (uint32_t)done;
        __m256i nonce = _mm256_add_epi32(_mm256_set1_epi32((int)base), lanes);
        __m256i h7 = kern__bswap_avx2(kern__h7_avx2(p, kern__bswap_avx2(nonce)));
        /* Unsigned h7 <= t7 is max(h7, t7) == t7 (AVX2 compares are signed). */
        __m256i le = _mm256_cmpeq_epi32(_mm256_max_epu32(h7, t7), t7);
        uint32_t m = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(le));

        if (m != 0 && kern__confirm(p, base, m, n - (uint32_t)done, found))
            return 1;
    }
    return 0;
}
#endif
