/* Fuzzes the PARTITION payload decoder (the scenario's list of peer names a
 * daemon must refuse): refusals use the documented codes; whatever is
 * accepted re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/msg.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_partition m;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = proto_partition_decode(data, size, &m);

    if (rc != 0) {
        fuzz_check_refusal(rc);
        return 0;
    }
    rc = proto_partition_encode(&m, &out, &len);
    proto_partition_free(&m);
    fuzz_check_same(rc, out, len, data, size);
    return 0;
}
