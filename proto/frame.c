/*
 * frame.c - length-prefixed frames and the streaming deframer.
 *
 * The deframer has two paths.  When a whole frame lies in the bytes just fed
 * (the common case: many small messages in one socket read) it is delivered
 * straight from the caller's buffer, with no copy and no allocation.  Only a
 * frame split across feeds is assembled in d->body, allocated once its
 * header has been read and vetted, so a peer can make us hold at most one
 * body of at most max_frame bytes.
 */
#include "proto/frame.h"

#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "common/base/err.h"

void proto_deframer_init(proto_deframer *d, uint32_t max_frame,
                         proto_frame_cb cb, void *ctx)
{
    memset(d, 0, sizeof *d);
    if (max_frame == 0 || max_frame > PROTO_FRAME_MAX)
        max_frame = PROTO_FRAME_MAX;
    d->cb = cb;
    d->ctx = ctx;
    d->max_frame = max_frame;
}

void proto_deframer_free(proto_deframer *d)
{
    free(d->body);
    d->body = NULL;
    d->body_len = 0;
    d->body_have = 0;
    d->hdr_have = 0;
}

/* Judges a frame from its length field alone, before any allocation. */
static int check_len(const proto_deframer *d, uint32_t len)
{
    if (len == 0)
        return SG_EFRAME;
    if (len > d->max_frame)
        return SG_ETOOBIG;
    return 0;
}

/* Any stop leaves the rest of the fed bytes unread, so the stream position
 * is lost and the deframer must refuse everything after. */
static int fail(proto_deframer *d, int err)
{
    d->err = err;
    proto_deframer_free(d);
    return err;
}

static int deliver(proto_deframer *d, const uint8_t *frame, uint32_t len)
{
    int rc = d->cb(d->ctx, frame[0], frame + 1, len - 1);
    return rc != 0 ? fail(d, rc) : 0;
}

/* Adds up to n bytes to the frame in progress; *used says how many it took.
 * Returns 0, a framing error or the callback's non-zero. */
static int feed_partial(proto_deframer *d, const uint8_t *p, size_t n,
                        size_t *used)
{
    size_t take;
    int rc;

    *used = 0;
    if (d->hdr_have < PROTO_FRAME_HDR) {
        take = PROTO_FRAME_HDR - d->hdr_have;
        take = take < n ? take : n;
        memcpy(d->hdr + d->hdr_have, p, take);
        d->hdr_have += take;
        *used = take;
        if (d->hdr_have < PROTO_FRAME_HDR)
            return 0;
        d->body_len = proto_le32_get(d->hdr);
        if ((rc = check_len(d, d->body_len)) != 0)
            return fail(d, rc);
        d->body = malloc(d->body_len);
        if (d->body == NULL)
            return fail(d, SG_ENOMEM);
        d->body_have = 0;
        p += take;
        n -= take;
    }
    take = d->body_len - d->body_have;
    take = take < n ? take : n;
    memcpy(d->body + d->body_have, p, take);
    d->body_have += (uint32_t)take;
    *used += take;
    if (d->body_have < d->body_len)
        return 0;

    /* Reset before the callback so the deframer is consistent during it. */
    uint8_t *body = d->body;
    uint32_t len = d->body_len;
    d->body = NULL;
    d->body_len = 0;
    d->body_have = 0;
    d->hdr_have = 0;
    rc = deliver(d, body, len);
    free(body);
    return rc;
}

int proto_deframer_feed(proto_deframer *d, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    int rc;

    if (d->err != 0)
        return d->err;
    while (len > 0) {
        if (d->hdr_have == 0 && len >= PROTO_FRAME_HDR) {
            uint32_t flen = proto_le32_get(p);
            if ((rc = check_len(d, flen)) != 0)
                return fail(d, rc);
            if (len - PROTO_FRAME_HDR >= flen) {
                if ((rc = deliver(d, p + PROTO_FRAME_HDR, flen)) != 0)
                    return rc;
                p += PROTO_FRAME_HDR + (size_t)flen;
                len -= PROTO_FRAME_HDR + (size_t)flen;
                continue;
            }
        }
        size_t used;
        if ((rc = feed_partial(d, p, len, &used)) != 0)
            return rc;
        p += used;
        len -= used;
    }
    return 0;
}

int proto_frame_build(uint8_t type, const void *payload, size_t len,
                      uint8_t **out, size_t *out_len)
{
    uint8_t *f;

    *out = NULL;
    *out_len = 0;
    if (len > PROTO_FRAME_MAX - 1)
        return SG_ETOOBIG;
    f = malloc(PROTO_FRAME_HDR + 1 + len);
    if (f == NULL)
        return SG_ENOMEM;
    proto_le32_put(f, (uint32_t)(len + 1));
    f[PROTO_FRAME_HDR] = type;
    if (len > 0)
        memcpy(f + PROTO_FRAME_HDR + 1, payload, len);
    *out = f;
    *out_len = PROTO_FRAME_HDR + 1 + len;
    return 0;
}
