/* Fuzzes the streaming deframer.  Byte 0 of the input picks the frame cap
 * and the largest chunk; the rest is the stream.  The stream is fed twice:
 * in chunks whose sizes are read from the stream itself, and in one piece.
 * Both runs must deliver the same frames and end the same way; the frames,
 * rebuilt, must be exactly the stream bytes consumed; errors are sticky. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STOP_TYPE 0xff /* a callback may stop delivery: this type does */

typedef struct {
    uint8_t *p;
    size_t len;
} sink;

static int collect(void *ctx, uint8_t type, const uint8_t *payload, size_t len)
{
    sink *s = ctx;
    uint8_t *f, *np;
    size_t flen;

    if (proto_frame_build(type, payload, len, &f, &flen) != 0)
        abort();
    np = realloc(s->p, s->len + flen);
    if (np == NULL)
        abort();
    memcpy(np + s->len, f, flen);
    s->p = np;
    s->len += flen;
    free(f);
    return type == STOP_TYPE ? 1 : 0;
}

/* Feeds stream in chunks of 1..max_chunk bytes (0: all at once); returns
 * the first non-zero feed result and the bytes still held in *pending. */
static int feed_all(const uint8_t *stream, size_t len, uint32_t max_frame,
                    size_t max_chunk, sink *s, size_t *pending)
{
    proto_deframer d;
    size_t pos = 0;
    int rc = 0;

    proto_deframer_init(&d, max_frame, collect, s);
    while (pos < len && rc == 0) {
        size_t n = max_chunk ? 1 + stream[pos] % max_chunk : len - pos;
        if (n > len - pos)
            n = len - pos;
        /* A buffer of exactly n bytes, so ASan sees reads beyond it and
         * any pointer kept after the feed. */
        uint8_t *chunk = malloc(n);
        if (chunk == NULL)
            abort();
        memcpy(chunk, stream + pos, n);
        rc = proto_deframer_feed(&d, chunk, n);
        free(chunk);
        pos += n;
    }
    if (rc != 0 && proto_deframer_feed(&d, stream, len) != rc)
        abort();
    *pending = d.hdr_have + d.body_have;
    proto_deframer_free(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sink split = {NULL, 0}, whole = {NULL, 0};
    size_t pend_split, pend_whole;
    uint32_t max_frame;
    int rc_split, rc_whole;

    if (size < 1)
        return 0;
    max_frame = (data[0] & 0x80) ? PROTO_FRAME_MAX : 4096;
    rc_split = feed_all(data + 1, size - 1, max_frame, 1 + (data[0] & 0x7f),
                        &split, &pend_split);
    rc_whole = feed_all(data + 1, size - 1, max_frame, 0, &whole, &pend_whole);

    if (rc_split != rc_whole || split.len != whole.len ||
        (split.len > 0 && memcmp(split.p, whole.p, split.len) != 0))
        abort();
    if (rc_split != 0 && rc_split != 1 && rc_split != SG_EFRAME &&
        rc_split != SG_ETOOBIG && rc_split != SG_ENOMEM)
        abort();
    if (split.len > size - 1 ||
        (split.len > 0 && memcmp(split.p, data + 1, split.len) != 0))
        abort();
    if (rc_split == 0 &&
        (split.len + pend_split != size - 1 || pend_split != pend_whole))
        abort();
    free(split.p);
    free(whole.p);
    return 0;
}
