/* Fuzzes the 80-byte block header codec: every 80-byte input decodes and
 * encodes back to itself; other sizes are not headers. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/block.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_header h;
    uint8_t *out;

    if (size != PROTO_HEADER_SIZE)
        return 0;
    proto_header_decode(data, &h);
    out = malloc(PROTO_HEADER_SIZE);
    if (out == NULL)
        abort();
    proto_header_encode(&h, out);
    fuzz_check_same(0, out, PROTO_HEADER_SIZE, data, size);
    return 0;
}
