#include "common/core/merkle.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"

/* Note Bitcoin's known quirk (CVE-2012-2459): because an odd last entry is
 * paired with itself, [a, b, c] and [a, b, c, c] share a root.  The root
 * alone therefore does not fix the transaction list; block validation must
 * also refuse duplicate txids, which it does for replay protection anyway. */
int merkle_root(const uint8_t (*leaves)[32], size_t n, uint8_t root[32])
{
    uint8_t (*level)[32];

    if (n == 0) {
        memset(root, 0, 32);
        return SG_OK;
    }
    if (n == 1) {
        memcpy(root, leaves[0], 32);
        return SG_OK;
    }
    if (n > SIZE_MAX / 64)
        return SG_ENOMEM;
    /* One scratch level, reduced in place: pair i is written to slot i,
     * which is never ahead of the slots still to be read. */
    level = malloc(n * 32);
    if (level == NULL)
        return SG_ENOMEM;
    memcpy(level, leaves, n * 32);
    while (n > 1) {
        size_t out = 0;
        for (size_t i = 0; i < n; i += 2) {
            uint8_t pair[64];
            memcpy(pair, level[i], 32);
            memcpy(pair + 32, level[i + 1 < n ? i + 1 : i], 32);
            hash_sha256d(pair, sizeof pair, level[out++]);
        }
        n = out;
    }
    memcpy(root, level[0], 32);
    free(level);
    return SG_OK;
}
