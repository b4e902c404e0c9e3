/*
 * buf.c - bounds-checked little-endian reader and capped writer.
 *
 * Errors are sticky on both sides so a codec can read or write a whole
 * structure and test the error once at the end; the first error wins.
 */
#include "proto/buf.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

#define WR_MIN_ALLOC 64

static void rd_fail(proto_rd *rd, int err)
{
    if (rd->err == 0)
        rd->err = err;
}

static void wr_fail(proto_wr *wr, int err)
{
    if (wr->err == 0)
        wr->err = err;
}

void proto_rd_init(proto_rd *rd, const void *p, size_t len)
{
    rd->p = p;
    rd->len = len;
    rd->pos = 0;
    rd->err = 0;
}

size_t proto_rd_left(const proto_rd *rd)
{
    return rd->len - rd->pos;
}

const uint8_t *proto_get_view(proto_rd *rd, size_t n)
{
    if (rd->err != 0)
        return NULL;
    if (n > proto_rd_left(rd)) {
        rd_fail(rd, SG_ETRUNC);
        return NULL;
    }
    const uint8_t *v = rd->p + rd->pos;
    rd->pos += n;
    return v;
}

void proto_get_bytes(proto_rd *rd, void *out, size_t n)
{
    const uint8_t *v = proto_get_view(rd, n);
    if (n == 0)
        return;
    if (v == NULL)
        memset(out, 0, n);
    else
        memcpy(out, v, n);
}

/* Reads n <= 8 little-endian bytes; 0 after any error. */
static uint64_t get_le(proto_rd *rd, size_t n)
{
    const uint8_t *v = proto_get_view(rd, n);
    uint64_t x = 0;
    if (v == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        x |= (uint64_t)v[i] << (8 * i);
    return x;
}

uint8_t proto_get_u8(proto_rd *rd)
{
    return (uint8_t)get_le(rd, 1);
}

uint16_t proto_get_u16(proto_rd *rd)
{
    return (uint16_t)get_le(rd, 2);
}

uint32_t proto_get_u32(proto_rd *rd)
{
    return (uint32_t)get_le(rd, 4);
}

uint64_t proto_get_u64(proto_rd *rd)
{
    return get_le(rd, 8);
}

void proto_get_str(proto_rd *rd, char *out, size_t max)
{
    uint16_t n = proto_get_u16(rd);
    const uint8_t *v;

    out[0] = '\0';
    if (rd->err != 0)
        return;
    /* Refuse from the length alone: the bytes need not even be present. */
    if (n > max) {
        rd_fail(rd, SG_ETOOBIG);
        return;
    }
    v = proto_get_view(rd, n);
    if (v == NULL || n == 0)
        return;
    /* A NUL inside would make the C string differ from the wire bytes, so
     * re-encoding would not give the input back. */
    if (memchr(v, '\0', n) != NULL) {
        rd_fail(rd, SG_EINVAL);
        return;
    }
    memcpy(out, v, n);
    out[n] = '\0';
}

int proto_rd_count(proto_rd *rd, uint32_t n, uint32_t max, size_t min_item)
{
    if (rd->err != 0)
        return rd->err;
    if (n > max)
        rd_fail(rd, SG_ETOOBIG);
    else if (min_item != 0 && n > proto_rd_left(rd) / min_item)
        rd_fail(rd, SG_ETRUNC);
    return rd->err;
}

int proto_rd_finish(const proto_rd *rd)
{
    if (rd->err != 0)
        return rd->err;
    return rd->pos == rd->len ? 0 : SG_ETRAILING;
}

void proto_wr_init(proto_wr *wr, size_t cap)
{
    wr->p = NULL;
    wr->len = 0;
    wr->alloc = 0;
    wr->cap = cap;
    wr->err = 0;
}

/* Makes room for n more bytes: doubling keeps appends amortised O(1), the
 * cap keeps a hostile or buggy caller from growing it without bound. */
static int wr_reserve(proto_wr *wr, size_t n)
{
    size_t want, a;
    uint8_t *np;

    if (wr->err != 0)
        return wr->err;
    if (n > wr->cap - wr->len) {
        wr_fail(wr, SG_ETOOBIG);
        return wr->err;
    }
    want = wr->len + n;
    if (want <= wr->alloc)
        return 0;
    a = wr->alloc ? wr->alloc : WR_MIN_ALLOC;
    while (a < want)
        a = a > wr->cap / 2 ? wr->cap : a * 2;
    if (a > wr->cap)
        a = wr->cap;
    np = realloc(wr->p, a);
    if (np == NULL) {
        wr_fail(wr, SG_ENOMEM);
        return wr->err;
    }
    wr->p = np;
    wr->alloc = a;
    return 0;
}

void proto_put_bytes(proto_wr *wr, const void *p, size_t n)
{
    if (wr_reserve(wr, n) != 0 || n == 0)
        return;
    memcpy(wr->p + wr->len, p, n);
    wr->len += n;
}

static void put_le(proto_wr *wr, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    proto_put_bytes(wr, b, n);
}

void proto_put_u8(proto_wr *wr, uint8_t v)
{
    put_le(wr, v, 1);
}

void proto_put_u16(proto_wr *wr, uint16_t v)
{
    put_le(wr, v, 2);
}

void proto_put_u32(proto_wr *wr, uint32_t v)
{
    put_le(wr, v, 4);
}

void proto_put_u64(proto_wr *wr, uint64_t v)
{
    put_le(wr, v, 8);
}

void proto_put_str_max(proto_wr *wr, const char *s, size_t max)
{
    size_t n;

    if (max > UINT16_MAX)
        max = UINT16_MAX;
    n = strnlen(s, max + 1);
    if (n > max) {
        wr_fail(wr, SG_ETOOBIG);
        return;
    }
    proto_put_u16(wr, (uint16_t)n);
    proto_put_bytes(wr, s, n);
}

void proto_put_str(proto_wr *wr, const char *s)
{
    proto_put_str_max(wr, s, UINT16_MAX);
}

uint8_t *proto_wr_take(proto_wr *wr, size_t *len)
{
    uint8_t *p = wr->p;

    *len = 0;
    if (wr->err != 0) {
        proto_wr_free(wr);
        return NULL;
    }
    /* An empty encoding still yields a buffer, so NULL always means error. */
    if (p == NULL && (p = malloc(1)) == NULL) {
        wr_fail(wr, SG_ENOMEM);
        return NULL;
    }
    *len = wr->len;
    wr->p = NULL;
    wr->len = 0;
    wr->alloc = 0;
    return p;
}

int proto_wr_done(proto_wr *wr, uint8_t **out, size_t *len)
{
    *out = proto_wr_take(wr, len);
    if (*out != NULL)
        return 0;
    int err = wr->err;
    proto_wr_free(wr);
    return err != 0 ? err : SG_ENOMEM;
}

void proto_wr_free(proto_wr *wr)
{
    free(wr->p);
    wr->p = NULL;
    wr->len = 0;
    wr->alloc = 0;
}
