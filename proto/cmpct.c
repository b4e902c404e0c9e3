/*
 * cmpct.c - compact block relay messages; see cmpct.h.
 */
#include "proto/cmpct.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

/* The smallest transaction encoding (block.c's TX_MIN_SIZE: head, the
 * shortest body, signature): refuses a count the bytes cannot hold before
 * anything is allocated. */
#define CMPCT_TX_MIN (1 + 1 + 32 + 8 + 8 + 8 + 4 + PROTO_SIG_SIZE)
#define PREFILLED_MIN (4 + CMPCT_TX_MIN)

/* ---- SENDCMPCT ----------------------------------------------------------- */

int proto_sendcmpct_encode(const proto_sendcmpct *m, uint8_t **out, size_t *len)
{
    proto_wr wr;
    *out = NULL;
    *len = 0;
    if (m->high_bandwidth > 1)
        return SG_EINVAL;
    proto_wr_init(&wr, 9);
    proto_put_u8(&wr, m->high_bandwidth);
    proto_put_u64(&wr, m->version);
    return proto_wr_done(&wr, out, len);
}

int proto_sendcmpct_decode(const uint8_t *in, size_t len, proto_sendcmpct *m)
{
    proto_rd rd;
    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->high_bandwidth = proto_get_u8(&rd);
    m->version = proto_get_u64(&rd);
    int rc = proto_rd_finish(&rd);
    if (rc == 0 && m->high_bandwidth > 1)
        rc = SG_EINVAL;
    return rc;
}

/* ---- CMPCTBLOCK ---------------------------------------------------------- */

static void put_shortid(proto_wr *wr, uint64_t id)
{
    uint8_t b[PROTO_SHORTID_SIZE];
    for (int i = 0; i < PROTO_SHORTID_SIZE; i++)
        b[i] = (uint8_t)(id >> (8 * i));
    proto_put_bytes(wr, b, sizeof b);
}

static uint64_t get_shortid(const uint8_t *b)
{
    uint64_t id = 0;
    for (int i = 0; i < PROTO_SHORTID_SIZE; i++)
        id |= (uint64_t)b[i] << (8 * i);
    return id;
}

/* Indexes strictly increasing and inside a block of `total`. */
static int indexes_ok(const uint32_t *ix, uint32_t n, uint64_t total)
{
    for (uint32_t i = 0; i < n; i++)
        if (ix[i] >= total || (i > 0 && ix[i] <= ix[i - 1]))
            return 0;
    return 1;
}

static int cmpct_shape_ok(const proto_cmpctblock *m)
{
    uint64_t total = (uint64_t)m->n_short + m->n_prefilled;
    if (total > PROTO_BLOCK_MAX_TXS)
        return SG_ETOOBIG;
    if (total == 0 || (m->n_short && !m->short_ids) || (m->n_prefilled && !m->prefilled))
        return SG_EINVAL;
    for (uint32_t i = 0; i < m->n_prefilled; i++) {
        uint32_t v = m->prefilled[i].index;
        if (v >= total || (i > 0 && v <= m->prefilled[i - 1].index))
            return SG_EINVAL;
    }
    return 0;
}

int proto_cmpctblock_encode(const proto_cmpctblock *m, uint8_t **out, size_t *len)
{
    proto_wr wr;
    uint8_t hdr[PROTO_HEADER_SIZE];
    *out = NULL;
    *len = 0;
    int rc = cmpct_shape_ok(m);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < m->n_short; i++)
        if (m->short_ids[i] > PROTO_SHORTID_MASK)
            return SG_EINVAL;
    proto_wr_init(&wr, PROTO_BLOCK_MAX_SIZE);
    proto_header_encode(&m->header, hdr);
    proto_put_bytes(&wr, hdr, sizeof hdr);
    proto_put_u64(&wr, m->nonce);
    proto_put_u32(&wr, m->n_short);
    for (uint32_t i = 0; i < m->n_short; i++)
        put_shortid(&wr, m->short_ids[i]);
    proto_put_u32(&wr, m->n_prefilled);
    for (uint32_t i = 0; i < m->n_prefilled && wr.err == 0; i++) {
        proto_put_u32(&wr, m->prefilled[i].index);
        proto_tx_write(&wr, &m->prefilled[i].tx, 1);
    }
    return proto_wr_done(&wr, out, len);
}

static int read_prefilled(proto_rd *rd, proto_cmpctblock *m, uint32_t n)
{
    if (proto_rd_count(rd, n, PROTO_BLOCK_MAX_TXS, PREFILLED_MIN) != 0)
        return rd->err;
    if (n == 0)
        return 0;
    m->prefilled = calloc(n, sizeof *m->prefilled);
    if (!m->prefilled)
        return SG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        m->prefilled[i].index = proto_get_u32(rd);
        if (proto_tx_read(rd, &m->prefilled[i].tx) != 0)
            return rd->err;
        m->n_prefilled = i + 1;
    }
    return 0;
}

int proto_cmpctblock_decode(const uint8_t *in, size_t len, proto_cmpctblock *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    if (len > PROTO_BLOCK_MAX_SIZE)
        return SG_ETOOBIG;
    proto_rd_init(&rd, in, len);
    const uint8_t *hdr = proto_get_view(&rd, PROTO_HEADER_SIZE);
    if (hdr)
        proto_header_decode(hdr, &m->header);
    m->nonce = proto_get_u64(&rd);
    uint32_t n = proto_get_u32(&rd);
    if ((rc = proto_rd_count(&rd, n, PROTO_BLOCK_MAX_TXS, PROTO_SHORTID_SIZE)) != 0)
        goto fail;
    const uint8_t *ids = proto_get_view(&rd, (size_t)n * PROTO_SHORTID_SIZE);
    if (n > 0) {
        m->short_ids = malloc(sizeof *m->short_ids * n);
        if (!m->short_ids) {
            rc = SG_ENOMEM;
            goto fail;
        }
        for (uint32_t i = 0; i < n; i++)
            m->short_ids[i] = get_shortid(ids + (size_t)i * PROTO_SHORTID_SIZE);
        m->n_short = n;
    }
    if ((rc = read_prefilled(&rd, m, proto_get_u32(&rd))) != 0)
        goto fail;
    if ((rc = proto_rd_finish(&rd)) != 0)
        goto fail;
    if ((rc = cmpct_shape_ok(m)) != 0)
        goto fail;
    return 0;
fail:
    proto_cmpctblock_free(m);
    return rc;
}

void proto_cmpctblock_free(proto_cmpctblock *m)
{
    for (uint32_t i = 0; i < m->n_prefilled; i++)
        proto_tx_free(&m->prefilled[i].tx);
    free(m->prefilled);
    free(m->short_ids);
    memset(m, 0, sizeof *m);
}

/* ---- GETBLOCKTXN --------------------------------------------------------- */

int proto_getblocktxn_encode(const proto_getblocktxn *m, uint8_t **out, size_t *len)
{
    proto_wr wr;
    *out = NULL;
    *len = 0;
    if (m->n > PROTO_BLOCK_MAX_TXS)
        return SG_ETOOBIG;
    if (m->n == 0 || !m->indexes ||
        !indexes_ok(m->indexes, m->n, PROTO_BLOCK_MAX_TXS))
        return SG_EINVAL;
    proto_wr_init(&wr, 32 + 4 + 4 * (size_t)m->n);
    proto_put_bytes(&wr, m->hash, 32);
    proto_put_u32(&wr, m->n);
    for (uint32_t i = 0; i < m->n; i++)
        proto_put_u32(&wr, m->indexes[i]);
    return proto_wr_done(&wr, out, len);
}

int proto_getblocktxn_decode(const uint8_t *in, size_t len, proto_getblocktxn *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    proto_get_bytes(&rd, m->hash, 32);
    uint32_t n = proto_get_u32(&rd);
    if ((rc = proto_rd_count(&rd, n, PROTO_BLOCK_MAX_TXS, 4)) != 0)
        return rc;
    if (n == 0)
        return SG_EINVAL;
    m->indexes = malloc(sizeof *m->indexes * n);
    if (!m->indexes)
        return SG_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        m->indexes[i] = proto_get_u32(&rd);
    m->n = n;
    rc = proto_rd_finish(&rd);
    if (rc == 0 && !indexes_ok(m->indexes, n, PROTO_BLOCK_MAX_TXS))
        rc = SG_EINVAL;
    if (rc != 0)
        proto_getblocktxn_free(m);
    return rc;
}

void proto_getblocktxn_free(proto_getblocktxn *m)
{
    free(m->indexes);
    memset(m, 0, sizeof *m);
}

/* ---- BLOCKTXN ------------------------------------------------------------ */

int proto_blocktxn_encode(const proto_blocktxn *m, uint8_t **out, size_t *len)
{
    proto_wr wr;
    *out = NULL;
    *len = 0;
    if (m->n > PROTO_BLOCK_MAX_TXS)
        return SG_ETOOBIG;
    if (m->n > 0 && !m->txs)
        return SG_EINVAL;
    proto_wr_init(&wr, PROTO_BLOCK_MAX_SIZE);
    proto_put_bytes(&wr, m->hash, 32);
    proto_put_u32(&wr, m->n);
    for (uint32_t i = 0; i < m->n && wr.err == 0; i++)
        proto_tx_write(&wr, &m->txs[i], 1);
    return proto_wr_done(&wr, out, len);
}

int proto_blocktxn_decode(const uint8_t *in, size_t len, proto_blocktxn *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    if (len > PROTO_BLOCK_MAX_SIZE)
        return SG_ETOOBIG;
    proto_rd_init(&rd, in, len);
    proto_get_bytes(&rd, m->hash, 32);
    uint32_t n = proto_get_u32(&rd);
    if ((rc = proto_rd_count(&rd, n, PROTO_BLOCK_MAX_TXS, CMPCT_TX_MIN)) != 0)
        return rc;
    if (n > 0) {
        m->txs = calloc(n, sizeof *m->txs);
        if (!m->txs)
            return SG_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = proto_tx_read(&rd, &m->txs[i])) != 0)
            goto fail;
        m->n = i + 1;
    }
    if ((rc = proto_rd_finish(&rd)) != 0)
        goto fail;
    return 0;
fail:
    proto_blocktxn_free(m);
    return rc;
}

void proto_blocktxn_free(proto_blocktxn *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        proto_tx_free(&m->txs[i]);
    free(m->txs);
    memset(m, 0, sizeof *m);
}
