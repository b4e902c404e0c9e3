/* Fuzzes the STORE_READ and STORE_DATA payload decoders (the first byte
 * picks which, even: STORE_READ): refusals use the documented codes; what
 * is accepted re-encodes to the same bytes, and STORE_DATA's bytes never
 * reach past the file size they claim. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/msg.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = NULL;
    size_t len = 0;
    int rc;

    if (size == 0)
        return 0;
    if (data[0] % 2 == 0) {
        proto_store_read m;
        rc = proto_store_read_decode(data + 1, size - 1, &m);
        if (rc != 0) {
            fuzz_check_refusal(rc);
            return 0;
        }
        rc = proto_store_read_encode(&m, &out, &len);
    } else {
        proto_store_data m;
        rc = proto_store_data_decode(data + 1, size - 1, &m);
        if (rc != 0) {
            fuzz_check_refusal(rc);
            return 0;
        }
        if (m.len > PROTO_STORE_READ_MAX ||
            (m.len > 0 && (m.offset > m.file_size || m.len > m.file_size - m.offset)))
            abort();
        rc = proto_store_data_encode(&m, &out, &len);
    }
    fuzz_check_same(rc, out, len, data + 1, size - 1);
    return 0;
}
