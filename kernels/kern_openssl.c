/* kern_openssl.c - the naive baseline: two EVP digests per nonce, no
 * midstate.  It is here to measure the others against and to be obviously
 * right, not to be fast.
 *
 * Deliberately naive also in passing EVP_sha256(): OpenSSL 3 then looks the
 * algorithm up on every digest, under a lock, so this loop runs about half
 * as fast as one with the EVP_MD fetched once, and threads running it queue
 * on that lock.  docs/BENCHMARKS.md gives both figures. */
#include <string.h>
#include <openssl/evp.h>

#include "common/base/err.h"
#include "kern_internal.h"

int kern__scan_openssl(const kern_prep *p, uint32_t start, uint32_t n, uint32_t *found)
{
    uint8_t header[80], d1[32], d2[32];

    memcpy(header, p->header, sizeof header);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t nonce = start + i;

        header[76] = (uint8_t)nonce;
        header[77] = (uint8_t)(nonce >> 8);
        header[78] = (uint8_t)(nonce >> 16);
        header[79] = (uint8_t)(nonce >> 24);
        if (EVP_Digest(header, sizeof header, d1, NULL, EVP_sha256(), NULL) != 1 ||
            EVP_Digest(d1, sizeof d1, d2, NULL, EVP_sha256(), NULL) != 1)
            return SG_ENOMEM;
        if (kern_hash_meets(d2, p->target)) {
            *found = nonce;
            return 1;
        }
    }
    return 0;
}
