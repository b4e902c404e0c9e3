/*
 * frame.h - length-prefixed frames and a streaming deframer.
 *
 * A frame is: u32 little-endian length L, then L bytes of which the first
 * is the message type and the rest the payload.  L counts the type byte, so
 * L == 0 is malformed; L > PROTO_FRAME_MAX is refused from the header alone,
 * before anything is allocated.
 *
 * The deframer knows nothing of sockets: feed it bytes in any split and it
 * calls back once per whole frame.  The payload pointer passed to the
 * callback is valid only during the callback; it points into the fed bytes
 * when a whole frame lay there (no copy), else into the deframer's own
 * buffer.  A callback returning non-zero stops delivery and
 * proto_deframer_feed returns that value; the unread rest of the input is
 * dropped, so like a framing error it is sticky: every later feed returns it
 * (the connection is to be dropped).  The callback must not free or feed the
 * deframer it is called from.
 * Memory held is bounded by the largest frame accepted (max_frame).
 */
#ifndef PROTO_FRAME_H
#define PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_FRAME_MAX (4u * 1024 * 1024)
#define PROTO_FRAME_HDR 4

typedef int (*proto_frame_cb)(void *ctx, uint8_t type,
                              const uint8_t *payload, size_t len);

typedef struct {
    proto_frame_cb cb;
    void *ctx;
    uint32_t max_frame;  /* <= PROTO_FRAME_MAX */
    uint8_t hdr[PROTO_FRAME_HDR];
    size_t hdr_have;
    uint8_t *body;       /* owned; type + payload of the frame in progress */
    uint32_t body_len;
    uint32_t body_have;
    int err;             /* sticky */
} proto_deframer;

void proto_deframer_init(proto_deframer *d, uint32_t max_frame,
                         proto_frame_cb cb, void *ctx);
/* Returns 0, a negative SG_E* framing error, or the callback's non-zero. */
int proto_deframer_feed(proto_deframer *d, const void *bytes, size_t len);
void proto_deframer_free(proto_deframer *d);

/* Writes a whole frame into a new buffer (caller frees with free()). */
int proto_frame_build(uint8_t type, const void *payload, size_t len,
                      uint8_t **out, size_t *out_len);

#endif
