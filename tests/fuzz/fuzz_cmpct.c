/* Fuzzes the compact block decoders (SENDCMPCT, CMPCTBLOCK, GETBLOCKTXN,
 * BLOCKTXN; the first byte picks one): refusals use the documented codes,
 * leave nothing owned, and whatever is accepted re-encodes to the same
 * bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/cmpct.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sendcmpct(const uint8_t *d, size_t n)
{
    proto_sendcmpct m;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = proto_sendcmpct_decode(d, n, &m);
    if (rc != 0) {
        fuzz_check_refusal(rc);
        return;
    }
    rc = proto_sendcmpct_encode(&m, &out, &len);
    fuzz_check_same(rc, out, len, d, n);
}

static void cmpctblock(const uint8_t *d, size_t n)
{
    proto_cmpctblock m;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = proto_cmpctblock_decode(d, n, &m);
    if (rc != 0) {
        fuzz_check_refusal(rc);
        if (m.short_ids || m.prefilled || m.n_short || m.n_prefilled)
            abort();
        return;
    }
    if (proto_cmpctblock_count(&m) == 0 || proto_cmpctblock_count(&m) > PROTO_BLOCK_MAX_TXS)
        abort();
    rc = proto_cmpctblock_encode(&m, &out, &len);
    fuzz_check_same(rc, out, len, d, n);
    proto_cmpctblock_free(&m);
}

static void getblocktxn(const uint8_t *d, size_t n)
{
    proto_getblocktxn m;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = proto_getblocktxn_decode(d, n, &m);
    if (rc != 0) {
        fuzz_check_refusal(rc);
        if (m.indexes || m.n)
            abort();
        return;
    }
    rc = proto_getblocktxn_encode(&m, &out, &len);
    fuzz_check_same(rc, out, len, d, n);
    proto_getblocktxn_free(&m);
}

static void blocktxn(const uint8_t *d, size_t n)
{
    proto_blocktxn m;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = proto_blocktxn_decode(d, n, &m);
    if (rc != 0) {
        fuzz_check_refusal(rc);
        if (m.txs || m.n)
            abort();
        return;
    }
    rc = proto_blocktxn_encode(&m, &out, &len);
    fuzz_check_same(rc, out, len, d, n);
    proto_blocktxn_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] & 3) {
    case 0: sendcmpct(data + 1, size - 1); break;
    case 1: cmpctblock(data + 1, size - 1); break;
    case 2: getblocktxn(data + 1, size - 1); break;
    default: blocktxn(data + 1, size - 1); break;
    }
    return 0;
}
