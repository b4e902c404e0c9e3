/* Fuzzes the TXS payload decoder (several transactions in one frame):
 * refusals use the documented codes; whatever is accepted re-encodes to
 * the same bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/msg.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_txs m;
    const proto_tx **ptrs;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = proto_txs_decode(data, size, &m);

    if (rc != 0) {
        fuzz_check_refusal(rc);
        proto_txs_free(&m); /* must be safe after a refusal */
        return 0;
    }
    if (m.n == 0 || m.n > PROTO_TXS_MAX || (ptrs = malloc(sizeof *ptrs * m.n)) == NULL)
        abort();
    for (uint32_t i = 0; i < m.n; i++)
        ptrs[i] = &m.txs[i];
    rc = proto_txs_encode(ptrs, m.n, &out, &len);
    fuzz_check_same(rc, out, len, data, size);
    free(ptrs);
    proto_txs_free(&m);
    return 0;
}
