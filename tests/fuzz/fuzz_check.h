/* Shared by the proto fuzz targets: what a decoder may answer, and the
 * canonical round-trip check (re-encoding accepted bytes gives them back). */
#ifndef SG_FUZZ_CHECK_H
#define SG_FUZZ_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

/* A decoder refuses hostile bytes only with these codes. */
static inline void fuzz_check_refusal(int rc)
{
    if (rc != SG_ETRUNC && rc != SG_ETOOBIG && rc != SG_ETRAILING &&
        rc != SG_EINVAL && rc != SG_ENOMEM)
        abort();
}

/* The encoder must succeed on what the decoder accepted and give back the
 * exact input; takes ownership of out. */
static inline void fuzz_check_same(int rc, uint8_t *out, size_t out_len,
                                   const uint8_t *in, size_t in_len)
{
    if (rc != 0 || out_len != in_len ||
        (in_len > 0 && memcmp(out, in, in_len) != 0))
        abort();
    free(out);
}

#endif
