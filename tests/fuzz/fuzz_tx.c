/* Fuzzes the transaction decoder: refusals use the documented codes;
 * whatever is accepted re-encodes to the same bytes, and so does a deep
 * copy of it. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/block.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_tx tx, copy;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = proto_tx_decode(data, size, &tx);

    if (rc != 0) {
        fuzz_check_refusal(rc);
        proto_tx_free(&tx); /* must be safe after a refusal */
        return 0;
    }
    if (size > PROTO_TX_MAX_SIZE)
        abort();
    rc = proto_tx_encode(&tx, &out, &len);
    fuzz_check_same(rc, out, len, data, size);
    if (proto_tx_copy(&copy, &tx) != 0)
        abort();
    proto_tx_free(&tx);
    rc = proto_tx_encode(&copy, &out, &len);
    fuzz_check_same(rc, out, len, data, size);
    proto_tx_free(&copy);
    return 0;
}
