/* Fuzzes the block decoder: refusals use the documented codes; whatever is
 * accepted re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/block.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_block b;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = proto_block_decode(data, size, &b);

    if (rc != 0) {
        fuzz_check_refusal(rc);
        if (b.txs != NULL || b.n_txs != 0)
            abort(); /* a refused block holds nothing */
        proto_block_free(&b);
        return 0;
    }
    if (b.n_txs > PROTO_BLOCK_MAX_TXS)
        abort();
    rc = proto_block_encode(&b, &out, &len);
    fuzz_check_same(rc, out, len, data, size);
    proto_block_free(&b);
    return 0;
}
