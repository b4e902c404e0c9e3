/*
 * msg.c - encoders and decoders for the message payloads.
 *
 * Every decoder starts by zeroing its struct and, on any failure, frees what
 * it allocated and zeroes it again, so the struct is always safe to *_free.
 * Encoders refuse what decoders refuse (counts over caps, bad enum values,
 * over-long strings), which keeps the encoding canonical.
 */
#include "proto/msg.h"

#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "common/base/err.h"

/* A payload must fit in one frame together with its type byte. */
#define MSG_CAP (PROTO_FRAME_MAX - 1)
#define INV_ITEM_SIZE (1 + 32)
#define ADDR_ITEM_SIZE (1 + 16 + 2)
/* Empty key, kind, empty string: the shortest stat entry. */
#define STAT_MIN_SIZE (2 + 1 + 2)

static void wr_fail(proto_wr *wr, int err)
{
    if (wr->err == 0)
        wr->err = err;
}

static void rd_fail(proto_rd *rd, int err)
{
    if (rd->err == 0)
        rd->err = err;
}

/* The start every list decoder shares: the u32 count, checked against its
 * cap and against the bytes left (each item needs at least wire_size), so a
 * short message can never make us allocate a large array.  Returns the
 * zeroed array (NULL for an empty list or on error) and sets *rc. */
static void *get_list(proto_rd *rd, uint32_t max, size_t wire_size,
                      size_t elem_size, uint32_t *n, int *rc)
{
    void *items = NULL;

    *n = proto_get_u32(rd);
    *rc = proto_rd_count(rd, *n, max, wire_size);
    if (*rc == 0 && *n > 0 && (items = calloc(*n, elem_size)) == NULL)
        *rc = SG_ENOMEM;
    if (*rc != 0)
        *n = 0;
    return items;
}

static const char unknown_type[] = "UNKNOWN";

int proto_msg_type_known(uint8_t type)
{
    return proto_msg_type_name(type) != unknown_type;
}

const char *proto_msg_type_name(uint8_t type)
{
    switch (type) {
    case PROTO_MSG_HELLO: return "HELLO";
    case PROTO_MSG_AUTH: return "AUTH";
    case PROTO_MSG_SEALED: return "SEALED";
    case PROTO_MSG_PING: return "PING";
    case PROTO_MSG_PONG: return "PONG";
    case PROTO_MSG_INV: return "INV";
    case PROTO_MSG_GETDATA: return "GETDATA";
    case PROTO_MSG_NOTFOUND: return "NOTFOUND";
    case PROTO_MSG_TX: return "TX";
    case PROTO_MSG_BLOCK: return "BLOCK";
    case PROTO_MSG_GETHEADERS: return "GETHEADERS";
    case PROTO_MSG_HEADERS: return "HEADERS";
    case PROTO_MSG_GETBLOCKS: return "GETBLOCKS";
    case PROTO_MSG_ADDR: return "ADDR";
    case PROTO_MSG_GETADDR: return "GETADDR";
    case PROTO_MSG_TXS: return "TXS";
    case PROTO_MSG_STATS_REQ: return "STATS_REQ";
    case PROTO_MSG_STATS: return "STATS";
    case PROTO_MSG_LOG_SUB: return "LOG_SUB";
    case PROTO_MSG_LOG_LINE: return "LOG_LINE";
    case PROTO_MSG_SHUTDOWN: return "SHUTDOWN";
    case PROTO_MSG_REJECT: return "REJECT";
    case PROTO_MSG_STORE_READ: return "STORE_READ";
    case PROTO_MSG_STORE_DATA: return "STORE_DATA";
    case PROTO_MSG_TXLAT_REQ: return "TXLAT_REQ";
    case PROTO_MSG_TXLAT: return "TXLAT";
    case PROTO_MSG_MINING: return "MINING";
    case PROTO_MSG_MINING_ACK: return "MINING_ACK";
    case PROTO_MSG_PARTITION: return "PARTITION";
    case PROTO_MSG_PARTITION_ACK: return "PARTITION_ACK";
    case PROTO_MSG_HASHRATE: return "HASHRATE";
    case PROTO_MSG_HASHRATE_ACK: return "HASHRATE_ACK";
    case PROTO_MSG_ADVERSARY: return "ADVERSARY";
    case PROTO_MSG_ADVERSARY_ACK: return "ADVERSARY_ACK";
    }
    return unknown_type;
}

int proto_empty_decode(const uint8_t *in, size_t len)
{
    (void)in;
    return len == 0 ? 0 : SG_ETRAILING;
}

/* ---- HELLO, AUTH, PING/PONG: fixed layouts ---- */

int proto_hello_encode(const proto_hello *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->link != PROTO_LINK_PEER && m->link != PROTO_LINK_CONTROL)
        wr_fail(&wr, SG_EINVAL);
    proto_put_u32(&wr, m->version);
    proto_put_u8(&wr, m->link);
    proto_put_u8(&wr, m->role);
    proto_put_bytes(&wr, m->chain_id, 32);
    proto_put_bytes(&wr, m->identity, 32);
    proto_put_bytes(&wr, m->kx_pub, 32);
    proto_put_bytes(&wr, m->challenge, 32);
    proto_put_u16(&wr, m->listen_port);
    proto_put_str_max(&wr, m->name, PROTO_NAME_MAX);
    return proto_wr_done(&wr, out, len);
}

int proto_hello_decode(const uint8_t *in, size_t len, proto_hello *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->version = proto_get_u32(&rd);
    m->link = proto_get_u8(&rd);
    if (m->link != PROTO_LINK_PEER && m->link != PROTO_LINK_CONTROL)
        rd_fail(&rd, SG_EINVAL);
    m->role = proto_get_u8(&rd);
    proto_get_bytes(&rd, m->chain_id, 32);
    proto_get_bytes(&rd, m->identity, 32);
    proto_get_bytes(&rd, m->kx_pub, 32);
    proto_get_bytes(&rd, m->challenge, 32);
    m->listen_port = proto_get_u16(&rd);
    proto_get_str(&rd, m->name, PROTO_NAME_MAX);
    if ((rc = proto_rd_finish(&rd)) != 0)
        memset(m, 0, sizeof *m);
    return rc;
}

int proto_auth_encode(const proto_auth *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    proto_put_bytes(&wr, m->mac, 32);
    proto_put_bytes(&wr, m->sig, 64);
    return proto_wr_done(&wr, out, len);
}

int proto_auth_decode(const uint8_t *in, size_t len, proto_auth *m)
{
    proto_rd rd;
    int rc;

    proto_rd_init(&rd, in, len);
    proto_get_bytes(&rd, m->mac, 32);
    proto_get_bytes(&rd, m->sig, 64);
    if ((rc = proto_rd_finish(&rd)) != 0)
        memset(m, 0, sizeof *m);
    return rc;
}

int proto_ping_encode(const proto_ping *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    proto_put_u64(&wr, m->nonce);
    return proto_wr_done(&wr, out, len);
}

int proto_ping_decode(const uint8_t *in, size_t len, proto_ping *m)
{
    proto_rd rd;
    int rc;

    proto_rd_init(&rd, in, len);
    m->nonce = proto_get_u64(&rd);
    if ((rc = proto_rd_finish(&rd)) != 0)
        m->nonce = 0;
    return rc;
}

/* ---- INV, GETDATA, NOTFOUND ---- */

static int inv_kind_ok(uint8_t kind)
{
    return kind == PROTO_INV_TX || kind == PROTO_INV_BLOCK;
}

int proto_inv_encode(const proto_inv *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->n > PROTO_INV_MAX)
        wr_fail(&wr, SG_ETOOBIG);
    else if (m->n > 0 && m->items == NULL)
        wr_fail(&wr, SG_EINVAL);
    proto_put_u32(&wr, m->n);
    for (uint32_t i = 0; i < m->n && wr.err == 0; i++) {
        if (!inv_kind_ok(m->items[i].kind))
            wr_fail(&wr, SG_EINVAL);
        proto_put_u8(&wr, m->items[i].kind);
        proto_put_bytes(&wr, m->items[i].hash, 32);
    }
    return proto_wr_done(&wr, out, len);
}

int proto_inv_decode(const uint8_t *in, size_t len, proto_inv *m)
{
    proto_rd rd;
    uint32_t n;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->items = get_list(&rd, PROTO_INV_MAX, INV_ITEM_SIZE,
                        sizeof *m->items, &n, &rc);
    if (rc != 0)
        goto fail;
    m->n = n;
    for (uint32_t i = 0; i < n; i++) {
        m->items[i].kind = proto_get_u8(&rd);
        if (!inv_kind_ok(m->items[i].kind))
            rd_fail(&rd, SG_EINVAL);
        proto_get_bytes(&rd, m->items[i].hash, 32);
    }
    if ((rc = proto_rd_finish(&rd)) == 0)
        return 0;
fail:
    proto_inv_free(m);
    return rc;
}

void proto_inv_free(proto_inv *m)
{
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* No transaction encodes in fewer bytes than its signature: a bound for
 * the count check before anything is allocated. */
#define TXS_ITEM_MIN (PROTO_SIG_SIZE + 1)

int proto_txs_encode(const proto_tx *const *txs, uint32_t n, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (n == 0 || n > PROTO_TXS_MAX)
        wr_fail(&wr, n ? SG_ETOOBIG : SG_EINVAL);
    proto_put_u32(&wr, n);
    for (uint32_t i = 0; i < n && wr.err == 0; i++)
        proto_tx_write(&wr, txs[i], 1);
    return proto_wr_done(&wr, out, len);
}

int proto_txs_decode(const uint8_t *in, size_t len, proto_txs *m)
{
    proto_rd rd;
    uint32_t n;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->txs = get_list(&rd, PROTO_TXS_MAX, TXS_ITEM_MIN, sizeof *m->txs, &n, &rc);
    if (rc == 0 && n == 0)
        rc = SG_EINVAL;
    if (rc != 0)
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = proto_tx_read(&rd, &m->txs[i])) != 0)
            goto fail;
        m->n = i + 1;
    }
    if ((rc = proto_rd_finish(&rd)) == 0)
        return 0;
fail:
    proto_txs_free(m);
    return rc;
}

void proto_txs_free(proto_txs *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        proto_tx_free(&m->txs[i]);
    free(m->txs);
    memset(m, 0, sizeof *m);
}

/* ---- GETHEADERS, GETBLOCKS ---- */

int proto_locator_encode(const proto_locator *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->n > PROTO_LOCATOR_MAX)
        wr_fail(&wr, SG_ETOOBIG);
    else if (m->n > 0 && m->hashes == NULL)
        wr_fail(&wr, SG_EINVAL);
    proto_put_u32(&wr, m->n);
    if (wr.err == 0)
        proto_put_bytes(&wr, m->hashes, (size_t)m->n * 32);
    proto_put_bytes(&wr, m->stop, 32);
    return proto_wr_done(&wr, out, len);
}

int proto_locator_decode(const uint8_t *in, size_t len, proto_locator *m)
{
    proto_rd rd;
    uint32_t n;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->hashes = get_list(&rd, PROTO_LOCATOR_MAX, 32, 32, &n, &rc);
    if (rc != 0)
        goto fail;
    m->n = n;
    proto_get_bytes(&rd, m->hashes, (size_t)n * 32);
    proto_get_bytes(&rd, m->stop, 32);
    if ((rc = proto_rd_finish(&rd)) == 0)
        return 0;
fail:
    proto_locator_free(m);
    return rc;
}

void proto_locator_free(proto_locator *m)
{
    free(m->hashes);
    memset(m, 0, sizeof *m);
}

/* ---- HEADERS ---- */

int proto_headers_encode(const proto_headers *m, uint8_t **out, size_t *len)
{
    proto_wr wr;
    uint8_t h[PROTO_HEADER_SIZE];

    proto_wr_init(&wr, MSG_CAP);
    if (m->n > PROTO_HEADERS_MAX)
        wr_fail(&wr, SG_ETOOBIG);
    else if (m->n > 0 && m->headers == NULL)
        wr_fail(&wr, SG_EINVAL);
    proto_put_u32(&wr, m->n);
    for (uint32_t i = 0; i < m->n && wr.err == 0; i++) {
        proto_header_encode(&m->headers[i], h);
        proto_put_bytes(&wr, h, sizeof h);
    }
    return proto_wr_done(&wr, out, len);
}

int proto_headers_decode(const uint8_t *in, size_t len, proto_headers *m)
{
    proto_rd rd;
    uint32_t n;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->headers = get_list(&rd, PROTO_HEADERS_MAX, PROTO_HEADER_SIZE,
                          sizeof *m->headers, &n, &rc);
    if (rc != 0)
        goto fail;
    m->n = n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *h = proto_get_view(&rd, PROTO_HEADER_SIZE);
        if (h == NULL)
            break;
        proto_header_decode(h, &m->headers[i]);
    }
    if ((rc = proto_rd_finish(&rd)) == 0)
        return 0;
fail:
    proto_headers_free(m);
    return rc;
}

void proto_headers_free(proto_headers *m)
{
    free(m->headers);
    memset(m, 0, sizeof *m);
}

/* ---- ADDR ---- */

static int addr_family_ok(uint8_t family)
{
    return family == 4 || family == 6;
}

int proto_addr_encode(const proto_addr *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->n > PROTO_ADDR_MAX)
        wr_fail(&wr, SG_ETOOBIG);
    else if (m->n > 0 && m->items == NULL)
        wr_fail(&wr, SG_EINVAL);
    proto_put_u32(&wr, m->n);
    for (uint32_t i = 0; i < m->n && wr.err == 0; i++) {
        const proto_addr_item *a = &m->items[i];
        if (!addr_family_ok(a->family))
            wr_fail(&wr, SG_EINVAL);
        proto_put_u8(&wr, a->family);
        proto_put_bytes(&wr, a->addr, 16);
        proto_put_u16(&wr, a->port);
    }
    return proto_wr_done(&wr, out, len);
}

int proto_addr_decode(const uint8_t *in, size_t len, proto_addr *m)
{
    proto_rd rd;
    uint32_t n;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->items = get_list(&rd, PROTO_ADDR_MAX, ADDR_ITEM_SIZE,
                        sizeof *m->items, &n, &rc);
    if (rc != 0)
        goto fail;
    m->n = n;
    for (uint32_t i = 0; i < n; i++) {
        proto_addr_item *a = &m->items[i];
        a->family = proto_get_u8(&rd);
        if (!addr_family_ok(a->family))
            rd_fail(&rd, SG_EINVAL);
        proto_get_bytes(&rd, a->addr, 16);
        a->port = proto_get_u16(&rd);
    }
    if ((rc = proto_rd_finish(&rd)) == 0)
        return 0;
fail:
    proto_addr_free(m);
    return rc;
}

void proto_addr_free(proto_addr *m)
{
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* ---- STATS ---- */

static void write_stat(proto_wr *wr, const proto_stat *s)
{
    proto_put_str_max(wr, s->key, PROTO_STAT_KEY_MAX);
    proto_put_u8(wr, s->kind);
    if (s->kind == PROTO_STAT_INT)
        proto_put_u64(wr, (uint64_t)s->i);
    else if (s->kind == PROTO_STAT_STR)
        proto_put_str_max(wr, s->s, PROTO_STAT_STR_MAX);
    else
        wr_fail(wr, SG_EINVAL);
}

int proto_stats_encode(const proto_stats *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->n > PROTO_STATS_MAX)
        wr_fail(&wr, SG_ETOOBIG);
    else if (m->n > 0 && m->items == NULL)
        wr_fail(&wr, SG_EINVAL);
    proto_put_u32(&wr, m->n);
    for (uint32_t i = 0; i < m->n && wr.err == 0; i++)
        write_stat(&wr, &m->items[i]);
    return proto_wr_done(&wr, out, len);
}

static void read_stat(proto_rd *rd, proto_stat *s)
{
    proto_get_str(rd, s->key, PROTO_STAT_KEY_MAX);
    s->kind = proto_get_u8(rd);
    if (rd->err != 0)
        return;
    if (s->kind == PROTO_STAT_INT)
        s->i = (int64_t)proto_get_u64(rd);
    else if (s->kind == PROTO_STAT_STR)
        proto_get_str(rd, s->s, PROTO_STAT_STR_MAX);
    else
        rd_fail(rd, SG_EINVAL);
}

int proto_stats_decode(const uint8_t *in, size_t len, proto_stats *m)
{
    proto_rd rd;
    uint32_t n;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->items = get_list(&rd, PROTO_STATS_MAX, STAT_MIN_SIZE,
                        sizeof *m->items, &n, &rc);
    if (rc != 0)
        goto fail;
    m->n = n;
    for (uint32_t i = 0; i < n && rd.err == 0; i++)
        read_stat(&rd, &m->items[i]);
    if ((rc = proto_rd_finish(&rd)) == 0)
        return 0;
fail:
    proto_stats_free(m);
    return rc;
}

void proto_stats_free(proto_stats *m)
{
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* ---- LOG_SUB, LOG_LINE, REJECT ---- */

int proto_log_sub_encode(const proto_log_sub *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    proto_put_u8(&wr, m->min_level);
    return proto_wr_done(&wr, out, len);
}

int proto_log_sub_decode(const uint8_t *in, size_t len, proto_log_sub *m)
{
    proto_rd rd;
    int rc;

    proto_rd_init(&rd, in, len);
    m->min_level = proto_get_u8(&rd);
    if ((rc = proto_rd_finish(&rd)) != 0)
        m->min_level = 0;
    return rc;
}

int proto_log_line_encode(const proto_log_line *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    proto_put_u8(&wr, m->level);
    proto_put_u64(&wr, m->time_ms);
    proto_put_str_max(&wr, m->text, PROTO_LOG_LINE_MAX);
    return proto_wr_done(&wr, out, len);
}

int proto_log_line_decode(const uint8_t *in, size_t len, proto_log_line *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->level = proto_get_u8(&rd);
    m->time_ms = proto_get_u64(&rd);
    proto_get_str(&rd, m->text, PROTO_LOG_LINE_MAX);
    if ((rc = proto_rd_finish(&rd)) != 0)
        memset(m, 0, sizeof *m);
    return rc;
}

int proto_reject_encode(const proto_reject *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    proto_put_u8(&wr, m->code);
    proto_put_str_max(&wr, m->reason, PROTO_REASON_MAX);
    return proto_wr_done(&wr, out, len);
}

int proto_reject_decode(const uint8_t *in, size_t len, proto_reject *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->code = proto_get_u8(&rd);
    proto_get_str(&rd, m->reason, PROTO_REASON_MAX);
    if ((rc = proto_rd_finish(&rd)) != 0)
        memset(m, 0, sizeof *m);
    return rc;
}

/* ---- STORE_READ / STORE_DATA: a daemon's block store over control ---- */

int proto_store_read_encode(const proto_store_read *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    proto_put_u64(&wr, m->offset);
    proto_put_u32(&wr, m->max);
    return proto_wr_done(&wr, out, len);
}

int proto_store_read_decode(const uint8_t *in, size_t len, proto_store_read *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->offset = proto_get_u64(&rd);
    m->max = proto_get_u32(&rd);
    if ((rc = proto_rd_finish(&rd)) != 0)
        memset(m, 0, sizeof *m);
    return rc;
}

/* The bytes must lie inside the file they claim to come from (an empty
 * answer past the end says the file is shorter than asked). */
static int store_data_valid(uint64_t offset, uint64_t file_size, uint64_t len)
{
    if (len > PROTO_STORE_READ_MAX)
        return SG_ETOOBIG;
    if (len > 0 && (offset > file_size || len > file_size - offset))
        return SG_EINVAL;
    return 0;
}

int proto_store_data_encode(const proto_store_data *m, uint8_t **out, size_t *len)
{
    proto_wr wr;
    int rc = store_data_valid(m->offset, m->file_size, m->len);

    if (rc != 0) {
        *out = NULL;
        *len = 0;
        return rc;
    }
    proto_wr_init(&wr, MSG_CAP);
    proto_put_u64(&wr, m->offset);
    proto_put_u64(&wr, m->file_size);
    proto_put_bytes(&wr, m->data, m->len);
    return proto_wr_done(&wr, out, len);
}

int proto_store_data_decode(const uint8_t *in, size_t len, proto_store_data *m)
{
    proto_rd rd;
    size_t n;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->offset = proto_get_u64(&rd);
    m->file_size = proto_get_u64(&rd);
    n = proto_rd_left(&rd);
    if ((rc = rd.err) == 0)
        rc = store_data_valid(m->offset, m->file_size, n);
    if (rc == 0) {
        m->len = (uint32_t)n;
        m->data = proto_get_view(&rd, n);
        rc = proto_rd_finish(&rd);
    }
    if (rc != 0)
        memset(m, 0, sizeof *m);
    return rc;
}

/* ---- TXLAT: transaction inclusion latency records ---- */

#define TXLAT_REC_SIZE (32 + 8 + 8)

int proto_txlat_encode(const proto_txlat *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->n > PROTO_TXLAT_MAX)
        wr_fail(&wr, SG_ETOOBIG);
    else if (m->n > 0 && m->items == NULL)
        wr_fail(&wr, SG_EINVAL);
    proto_put_u64(&wr, m->dropped);
    proto_put_u32(&wr, m->left);
    proto_put_u32(&wr, m->n);
    for (uint32_t i = 0; i < m->n && wr.err == 0; i++) {
        const proto_txlat_rec *r = &m->items[i];
        if (r->included_ms < r->broadcast_ms)
            wr_fail(&wr, SG_EINVAL);
        proto_put_bytes(&wr, r->txid, 32);
        proto_put_u64(&wr, r->broadcast_ms);
        proto_put_u64(&wr, r->included_ms);
    }
    return proto_wr_done(&wr, out, len);
}

int proto_txlat_decode(const uint8_t *in, size_t len, proto_txlat *m)
{
    proto_rd rd;
    uint32_t n;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->dropped = proto_get_u64(&rd);
    m->left = proto_get_u32(&rd);
    m->items = get_list(&rd, PROTO_TXLAT_MAX, TXLAT_REC_SIZE, sizeof *m->items, &n, &rc);
    if (rc != 0)
        goto fail;
    m->n = n;
    for (uint32_t i = 0; i < n; i++) {
        proto_txlat_rec *r = &m->items[i];
        proto_get_bytes(&rd, r->txid, 32);
        r->broadcast_ms = proto_get_u64(&rd);
        r->included_ms = proto_get_u64(&rd);
        if (r->included_ms < r->broadcast_ms)
            rd_fail(&rd, SG_EINVAL);
    }
    if ((rc = proto_rd_finish(&rd)) == 0)
        return 0;
fail:
    proto_txlat_free(m);
    return rc;
}

void proto_txlat_free(proto_txlat *m)
{
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* ---- MINING / MINING_ACK: pause and resume a daemon's miner ---- */

int proto_mining_encode(const proto_mining *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->on > 1)
        wr_fail(&wr, SG_EINVAL);
    proto_put_u8(&wr, m->on);
    return proto_wr_done(&wr, out, len);
}

int proto_mining_decode(const uint8_t *in, size_t len, proto_mining *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->on = proto_get_u8(&rd);
    if (m->on > 1)
        rd_fail(&rd, SG_EINVAL);
    if ((rc = proto_rd_finish(&rd)) != 0)
        m->on = 0;
    return rc;
}

/* ---- PARTITION, HASHRATE, ADVERSARY: scenario control ---- */

int proto_partition_encode(const proto_partition *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->n > PROTO_PARTITION_MAX)
        wr_fail(&wr, SG_ETOOBIG);
    proto_put_u32(&wr, m->n);
    for (uint32_t i = 0; i < m->n && wr.err == 0; i++) {
        if (m->names[i][0] == '\0')
            wr_fail(&wr, SG_EINVAL);
        proto_put_str_max(&wr, m->names[i], PROTO_NAME_MAX);
    }
    return proto_wr_done(&wr, out, len);
}

int proto_partition_decode(const uint8_t *in, size_t len, proto_partition *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    m->names = get_list(&rd, PROTO_PARTITION_MAX, 2 + 1, sizeof *m->names, &m->n, &rc);
    for (uint32_t i = 0; i < m->n && rd.err == 0; i++) {
        proto_get_str(&rd, m->names[i], PROTO_NAME_MAX);
        if (rd.err == 0 && m->names[i][0] == '\0')
            rd_fail(&rd, SG_EINVAL);
    }
    if (rc == 0)
        rc = proto_rd_finish(&rd);
    if (rc != 0)
        proto_partition_free(m);
    return rc;
}

void proto_partition_free(proto_partition *m)
{
    free(m->names);
    memset(m, 0, sizeof *m);
}

int proto_u32_encode(uint32_t v, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    proto_put_u32(&wr, v);
    return proto_wr_done(&wr, out, len);
}

int proto_u32_decode(const uint8_t *in, size_t len, uint32_t *v)
{
    proto_rd rd;
    int rc;

    proto_rd_init(&rd, in, len);
    *v = proto_get_u32(&rd);
    if ((rc = proto_rd_finish(&rd)) != 0)
        *v = 0;
    return rc;
}

int proto_hashrate_encode(const proto_hashrate *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    proto_put_u64(&wr, m->rate);
    return proto_wr_done(&wr, out, len);
}

int proto_hashrate_decode(const uint8_t *in, size_t len, proto_hashrate *m)
{
    proto_rd rd;
    int rc;

    proto_rd_init(&rd, in, len);
    m->rate = proto_get_u64(&rd);
    if ((rc = proto_rd_finish(&rd)) != 0)
        m->rate = 0;
    return rc;
}

int proto_adversary_encode(const proto_adversary *m, uint8_t **out, size_t *len)
{
    proto_wr wr;

    proto_wr_init(&wr, MSG_CAP);
    if (m->role[0] == '\0')
        wr_fail(&wr, SG_EINVAL);
    proto_put_str_max(&wr, m->role, PROTO_ROLE_NAME_MAX);
    return proto_wr_done(&wr, out, len);
}

int proto_adversary_decode(const uint8_t *in, size_t len, proto_adversary *m)
{
    proto_rd rd;
    int rc;

    memset(m, 0, sizeof *m);
    proto_rd_init(&rd, in, len);
    proto_get_str(&rd, m->role, PROTO_ROLE_NAME_MAX);
    if (rd.err == 0 && m->role[0] == '\0')
        rd_fail(&rd, SG_EINVAL);
    if ((rc = proto_rd_finish(&rd)) != 0)
        memset(m, 0, sizeof *m);
    return rc;
}
