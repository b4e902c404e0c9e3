/* kern_generic.c - portable C: one nonce at a time through the same round
 * code the CUDA kernel runs (sha256_tmpl.h, scalar instance). */
#include "kern_internal.h"

int kern__scan_generic(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t nonce = start + i;
        uint32_t h7 = kern_sha256d_h7(p, kern_bswap32(nonce));

        if (kern_bswap32(h7) <= p->t7 && kern__confirm(p, nonce, 1, 1, found))
            return 1;
    }
    return 0;
}
