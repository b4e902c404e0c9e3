/*
 * buf.h - bounds-checked byte reader and writer.
 *
 * All integers on the wire are little-endian, as in Bitcoin.  Hashes are
 * raw 32-byte strings in internal (wire) order.
 *
 * proto_rd reads from a caller-owned buffer that must outlive the reader.
 * Any read past the end sets rd->err = SG_ETRUNC and every later read
 * returns zeros, so a decoder may read a whole structure and check the
 * error once (proto_rd_finish also rejects trailing bytes).
 *
 * proto_wr owns a heap buffer grown up to `cap` bytes; exceeding the cap
 * sets wr->err = SG_ETOOBIG.  proto_wr_free releases it; proto_wr_take hands
 * the buffer to the caller, who frees it with free().
 */
#ifndef PROTO_BUF_H
#define PROTO_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err;
} proto_rd;

typedef struct {
    uint8_t *p;
    size_t len;
    size_t alloc;
    size_t cap;
    int err;
} proto_wr;

void proto_rd_init(proto_rd *rd, const void *p, size_t len);
uint8_t proto_get_u8(proto_rd *rd);
uint16_t proto_get_u16(proto_rd *rd);
uint32_t proto_get_u32(proto_rd *rd);
uint64_t proto_get_u64(proto_rd *rd);
/* Copies n bytes into out (zeros on error). */
void proto_get_bytes(proto_rd *rd, void *out, size_t n);
/* Points into the reader's buffer without copying; NULL on error. */
const uint8_t *proto_get_view(proto_rd *rd, size_t n);
/* u16 length then bytes; rejects length > max (SG_ETOOBIG, judged from the
 * length alone) and embedded NUL (SG_EINVAL); out must hold max + 1 bytes
 * and is NUL-terminated ("" on error). */
void proto_get_str(proto_rd *rd, char *out, size_t max);
size_t proto_rd_left(const proto_rd *rd);
/* Vets a list count just read, before the caller allocates for it: sets and
 * returns SG_ETOOBIG if n > max, SG_ETRUNC if n items of at least min_item
 * bytes each cannot fit in what is left; else returns rd->err (0). */
int proto_rd_count(proto_rd *rd, uint32_t n, uint32_t max, size_t min_item);
/* 0 if no error and every byte consumed; SG_ETRAILING if bytes remain. */
int proto_rd_finish(const proto_rd *rd);

void proto_wr_init(proto_wr *wr, size_t cap);
void proto_put_u8(proto_wr *wr, uint8_t v);
void proto_put_u16(proto_wr *wr, uint16_t v);
void proto_put_u32(proto_wr *wr, uint32_t v);
void proto_put_u64(proto_wr *wr, uint64_t v);
void proto_put_bytes(proto_wr *wr, const void *p, size_t n);
/* u16 length then the bytes of a NUL-terminated string. */
void proto_put_str(proto_wr *wr, const char *s);
/* The same, but SG_ETOOBIG if s is longer than max; reads at most max + 1
 * bytes of s, so a fixed char[max + 1] field need not be terminated. */
void proto_put_str_max(proto_wr *wr, const char *s, size_t max);
uint8_t *proto_wr_take(proto_wr *wr, size_t *len);
void proto_wr_free(proto_wr *wr);
/* Ends an encoding: on wr->err frees the buffer, sets *out = NULL, *len = 0
 * and returns the error; else hands the buffer over (never NULL, even when
 * empty) and returns 0. */
int proto_wr_done(proto_wr *wr, uint8_t **out, size_t *len);

/* Fixed-width little-endian helpers for code that works on raw arrays. */
static inline void proto_le32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t proto_le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
           (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
