/* Unit tests for proto/msg.c: every message round-trips byte for byte, and
 * every decoder refuses truncation, trailing bytes, counts over the caps and
 * bad enum values. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "proto/msg.h"
#include "testutil.h"

/* A decoder and its free, behind one signature for the generic checks. */
typedef struct {
    const char *name;
    size_t size;
    int (*dec)(const uint8_t *in, size_t len, void *m);
    void (*free)(void *m);
} codec;

#define DEC(name, type)                                                     \
    static int dec_##name(const uint8_t *in, size_t len, void *m)          \
    {                                                                       \
        return proto_##name##_decode(in, len, (type *)m);                   \
    }
#define FREE(name, type)                                                    \
    static void free_##name(void *m) { proto_##name##_free((type *)m); }
static void free_none(void *m) { (void)m; }

DEC(hello, proto_hello)
DEC(auth, proto_auth)
DEC(ping, proto_ping)
DEC(inv, proto_inv)
DEC(locator, proto_locator)
DEC(headers, proto_headers)
DEC(addr, proto_addr)
DEC(stats, proto_stats)
DEC(log_sub, proto_log_sub)
DEC(log_line, proto_log_line)
DEC(reject, proto_reject)
DEC(store_read, proto_store_read)
DEC(store_data, proto_store_data)
DEC(mining, proto_mining)
DEC(txs, proto_txs)
FREE(txs, proto_txs)
FREE(inv, proto_inv)
FREE(locator, proto_locator)
FREE(headers, proto_headers)
FREE(addr, proto_addr)
FREE(stats, proto_stats)

#define CODEC(name, type, fr) {#name, sizeof(type), dec_##name, fr}
static const codec c_hello = CODEC(hello, proto_hello, free_none);
static const codec c_auth = CODEC(auth, proto_auth, free_none);
static const codec c_ping = CODEC(ping, proto_ping, free_none);
static const codec c_inv = CODEC(inv, proto_inv, free_inv);
static const codec c_locator = CODEC(locator, proto_locator, free_locator);
static const codec c_headers = CODEC(headers, proto_headers, free_headers);
static const codec c_addr = CODEC(addr, proto_addr, free_addr);
static const codec c_stats = CODEC(stats, proto_stats, free_stats);
static const codec c_log_sub = CODEC(log_sub, proto_log_sub, free_none);
static const codec c_log_line = CODEC(log_line, proto_log_line, free_none);
static const codec c_reject = CODEC(reject, proto_reject, free_none);
static const codec c_store_read = CODEC(store_read, proto_store_read, free_none);
static const codec c_store_data = CODEC(store_data, proto_store_data, free_none);
static const codec c_mining = CODEC(mining, proto_mining, free_none);
static const codec c_txs = CODEC(txs, proto_txs, free_txs);

static int try_decode(const codec *c, const uint8_t *in, size_t len)
{
    /* Decode from a buffer of exactly len bytes so ASan sees overreads. */
    uint8_t *buf = malloc(len ? len : 1);
    void *m = calloc(1, c->size);
    int rc;

    memcpy(buf, in, len);
    rc = c->dec(buf, len, m);
    c->free(m);
    free(m);
    free(buf);
    return rc;
}

/* Every proper prefix is truncated, one more byte is trailing. */
static void assert_rejects_damaged(const codec *c, const uint8_t *enc,
                                   size_t len)
{
    uint8_t *more = malloc(len + 1);

    for (size_t k = 0; k < len; k++)
        ck_assert_msg(try_decode(c, enc, k) == SG_ETRUNC,
                      "%s: prefix %zu of %zu not refused", c->name, k, len);
    memcpy(more, enc, len);
    more[len] = 0;
    ck_assert_int_eq(try_decode(c, more, len + 1), SG_ETRAILING);
    ck_assert_int_eq(try_decode(c, enc, len), 0);
    free(more);
}

/* Decoding enc into m and encoding m again gives enc back. */
#define ROUND_TRIP(name, m, enc, len)                                       \
    do {                                                                    \
        uint8_t *again_;                                                    \
        size_t len2_;                                                       \
        ck_assert_int_eq(proto_##name##_decode(enc, len, m), 0);            \
        ck_assert_int_eq(proto_##name##_encode(m, &again_, &len2_), 0);     \
        ck_assert_uint_eq(len, len2_);                                      \
        ck_assert_mem_eq(enc, again_, len);                                 \
        free(again_);                                                       \
    } while (0)

START_TEST(type_names)
{
    static const uint8_t known[] = {
        PROTO_MSG_HELLO, PROTO_MSG_AUTH, PROTO_MSG_SEALED, PROTO_MSG_PING,
        PROTO_MSG_PONG, PROTO_MSG_INV, PROTO_MSG_GETDATA, PROTO_MSG_NOTFOUND,
        PROTO_MSG_TX, PROTO_MSG_BLOCK, PROTO_MSG_GETHEADERS,
        PROTO_MSG_HEADERS, PROTO_MSG_GETBLOCKS, PROTO_MSG_ADDR,
        PROTO_MSG_GETADDR, PROTO_MSG_TXS, PROTO_MSG_STATS_REQ, PROTO_MSG_STATS,
        PROTO_MSG_LOG_SUB, PROTO_MSG_LOG_LINE, PROTO_MSG_SHUTDOWN,
        PROTO_MSG_REJECT, PROTO_MSG_STORE_READ, PROTO_MSG_STORE_DATA,
        PROTO_MSG_TXLAT_REQ, PROTO_MSG_TXLAT, PROTO_MSG_MINING,
        PROTO_MSG_MINING_ACK, PROTO_MSG_PARTITION, PROTO_MSG_PARTITION_ACK,
        PROTO_MSG_HASHRATE, PROTO_MSG_HASHRATE_ACK, PROTO_MSG_ADVERSARY,
        PROTO_MSG_ADVERSARY_ACK};
    int count = 0;

    for (size_t i = 0; i < sizeof known; i++) {
        ck_assert(proto_msg_type_known(known[i]));
        ck_assert_str_ne(proto_msg_type_name(known[i]), "UNKNOWN");
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(proto_msg_type_name(known[i]),
                             proto_msg_type_name(known[j]));
    }
    for (int t = 0; t < 256; t++)
        count += proto_msg_type_known((uint8_t)t);
    ck_assert_int_eq(count, (int)sizeof known);
    ck_assert(!proto_msg_type_known(0));
    ck_assert(!proto_msg_type_known(4));
    ck_assert(!proto_msg_type_known(255));
    ck_assert_str_eq(proto_msg_type_name(0), "UNKNOWN");
    ck_assert_str_eq(proto_msg_type_name(PROTO_MSG_GETHEADERS), "GETHEADERS");
}
END_TEST

START_TEST(empty_payload)
{
    static const uint8_t b[1] = {0};
    ck_assert_int_eq(proto_empty_decode(NULL, 0), 0);
    ck_assert_int_eq(proto_empty_decode(b, 1), SG_ETRAILING);
}
END_TEST

static void make_hello(proto_hello *h, uint64_t *seed)
{
    memset(h, 0, sizeof *h);
    h->version = PROTO_VERSION;
    h->link = PROTO_LINK_CONTROL;
    h->role = 3;
    tu_fill(h->chain_id, 32, seed);
    tu_fill(h->identity, 32, seed);
    tu_fill(h->kx_pub, 32, seed);
    tu_fill(h->challenge, 32, seed);
    h->listen_port = 9333;
    strcpy(h->name, "prosumer-17");
}

START_TEST(hello)
{
    uint64_t seed = 1;
    proto_hello h, back;
    uint8_t *enc;
    size_t len;

    make_hello(&h, &seed);
    ck_assert_int_eq(proto_hello_encode(&h, &enc, &len), 0);
    ck_assert_uint_eq(len, 4 + 1 + 1 + 4 * 32 + 2 + 2 + strlen(h.name));
    ROUND_TRIP(hello, &back, enc, len);
    ck_assert_mem_eq(&h, &back, sizeof h);
    assert_rejects_damaged(&c_hello, enc, len);

    enc[4] = 2; /* link */
    ck_assert_int_eq(try_decode(&c_hello, enc, len), SG_EINVAL);
    enc[4] = PROTO_LINK_PEER;
    ck_assert_int_eq(try_decode(&c_hello, enc, len), 0);
    enc[len - 3] = 0; /* NUL inside the name */
    ck_assert_int_eq(try_decode(&c_hello, enc, len), SG_EINVAL);
    free(enc);

    /* Name at the cap, and one over it both ways. */
    memset(h.name, 'n', PROTO_NAME_MAX);
    h.name[PROTO_NAME_MAX] = '\0';
    ck_assert_int_eq(proto_hello_encode(&h, &enc, &len), 0);
    ROUND_TRIP(hello, &back, enc, len);
    ck_assert_str_eq(back.name, h.name);
    size_t at = len - PROTO_NAME_MAX - 2;
    uint8_t *big = malloc(len + 1);
    memcpy(big, enc, len);
    big[len] = 'n';
    big[at] = PROTO_NAME_MAX + 1;
    ck_assert_int_eq(try_decode(&c_hello, big, len + 1), SG_ETOOBIG);
    free(big);
    free(enc);

    h.name[PROTO_NAME_MAX] = 'n'; /* unterminated, over the cap */
    ck_assert_int_eq(proto_hello_encode(&h, &enc, &len), SG_ETOOBIG);
    h.name[PROTO_NAME_MAX] = '\0';
    h.link = 7;
    ck_assert_int_eq(proto_hello_encode(&h, &enc, &len), SG_EINVAL);
    ck_assert_ptr_null(enc);
}
END_TEST

START_TEST(auth_and_ping)
{
    uint64_t seed = 2;
    proto_auth a, aback;
    proto_ping p = {0x1122334455667788ull}, pback;
    uint8_t *enc;
    size_t len;

    tu_fill(a.mac, 32, &seed);
    tu_fill(a.sig, 64, &seed);
    ck_assert_int_eq(proto_auth_encode(&a, &enc, &len), 0);
    ck_assert_uint_eq(len, 96);
    ROUND_TRIP(auth, &aback, enc, len);
    ck_assert_mem_eq(&a, &aback, sizeof a);
    assert_rejects_damaged(&c_auth, enc, len);
    free(enc);

    ck_assert_int_eq(proto_ping_encode(&p, &enc, &len), 0);
    ck_assert_uint_eq(len, 8);
    ck_assert_uint_eq(enc[0], 0x88);
    ROUND_TRIP(ping, &pback, enc, len);
    ck_assert_uint_eq(pback.nonce, p.nonce);
    assert_rejects_damaged(&c_ping, enc, len);
    free(enc);
}
END_TEST

START_TEST(inv)
{
    uint64_t seed = 3;
    proto_inv m = {0}, back;
    uint8_t *enc;
    size_t len;

    m.n = 4;
    m.items = calloc(m.n, sizeof *m.items);
    for (uint32_t i = 0; i < m.n; i++) {
        m.items[i].kind = i % 2 ? PROTO_INV_BLOCK : PROTO_INV_TX;
        tu_fill(m.items[i].hash, 32, &seed);
    }
    ck_assert_int_eq(proto_inv_encode(&m, &enc, &len), 0);
    ck_assert_uint_eq(len, 4 + 4 * 33);
    ROUND_TRIP(inv, &back, enc, len);
    ck_assert_uint_eq(back.n, 4);
    ck_assert_mem_eq(back.items, m.items, 4 * sizeof *m.items);
    proto_inv_free(&back);
    assert_rejects_damaged(&c_inv, enc, len);

    static const uint8_t bad_kinds[] = {0, 3, 255};
    for (size_t i = 0; i < sizeof bad_kinds; i++) {
        enc[4 + 2 * 33] = bad_kinds[i];
        ck_assert_int_eq(try_decode(&c_inv, enc, len), SG_EINVAL);
    }
    free(enc);

    m.items[1].kind = 0;
    ck_assert_int_eq(proto_inv_encode(&m, &enc, &len), SG_EINVAL);
    proto_inv_free(&m);

    /* Exactly at the cap round-trips; one over is refused both ways. */
    m.n = PROTO_INV_MAX + 1;
    m.items = calloc(m.n, sizeof *m.items);
    for (uint32_t i = 0; i < m.n; i++)
        m.items[i].kind = PROTO_INV_TX;
    ck_assert_int_eq(proto_inv_encode(&m, &enc, &len), SG_ETOOBIG);
    m.n = PROTO_INV_MAX;
    ck_assert_int_eq(proto_inv_encode(&m, &enc, &len), 0);
    ROUND_TRIP(inv, &back, enc, len);
    proto_inv_free(&back);
    enc = realloc(enc, len + 33);
    enc[len] = PROTO_INV_TX;
    memset(enc + len + 1, 0, 32);
    proto_le32_put(enc, PROTO_INV_MAX + 1);
    ck_assert_int_eq(try_decode(&c_inv, enc, len + 33), SG_ETOOBIG);
    /* A large count in a 4-byte input is truncation, not an allocation. */
    proto_le32_put(enc, PROTO_INV_MAX);
    ck_assert_int_eq(try_decode(&c_inv, enc, 4), SG_ETRUNC);
    free(enc);
    proto_inv_free(&m);

    /* Empty list. */
    ck_assert_int_eq(proto_inv_encode(&m, &enc, &len), 0);
    ck_assert_uint_eq(len, 4);
    ROUND_TRIP(inv, &back, enc, len);
    ck_assert_ptr_null(back.items);
    free(enc);
}
END_TEST

START_TEST(locator)
{
    uint64_t seed = 4;
    proto_locator m = {0}, back;
    uint8_t *enc;
    size_t len;

    m.n = 5;
    m.hashes = calloc(m.n, 32);
    tu_fill((uint8_t *)m.hashes, 5 * 32, &seed);
    tu_fill(m.stop, 32, &seed);
    ck_assert_int_eq(proto_locator_encode(&m, &enc, &len), 0);
    ck_assert_uint_eq(len, 4 + 6 * 32);
    ROUND_TRIP(locator, &back, enc, len);
    ck_assert_uint_eq(back.n, 5);
    ck_assert_mem_eq(back.hashes, m.hashes, 5 * 32);
    ck_assert_mem_eq(back.stop, m.stop, 32);
    proto_locator_free(&back);
    assert_rejects_damaged(&c_locator, enc, len);
    free(enc);
    proto_locator_free(&m);

    m.n = PROTO_LOCATOR_MAX + 1;
    m.hashes = calloc(m.n, 32);
    ck_assert_int_eq(proto_locator_encode(&m, &enc, &len), SG_ETOOBIG);
    m.n = PROTO_LOCATOR_MAX;
    ck_assert_int_eq(proto_locator_encode(&m, &enc, &len), 0);
    ROUND_TRIP(locator, &back, enc, len);
    proto_locator_free(&back);
    enc = realloc(enc, len + 32);
    memset(enc + len, 0, 32);
    proto_le32_put(enc, PROTO_LOCATOR_MAX + 1);
    ck_assert_int_eq(try_decode(&c_locator, enc, len + 32), SG_ETOOBIG);
    free(enc);
    proto_locator_free(&m);

    /* No hashes, only the stop hash. */
    ck_assert_int_eq(proto_locator_encode(&m, &enc, &len), 0);
    ck_assert_uint_eq(len, 36);
    assert_rejects_damaged(&c_locator, enc, len);
    free(enc);
}
END_TEST

START_TEST(headers)
{
    uint64_t seed = 5;
    proto_headers m = {0}, back;
    uint8_t *enc;
    size_t len;

    m.n = 3;
    m.headers = calloc(m.n, sizeof *m.headers);
    for (uint32_t i = 0; i < m.n; i++) {
        m.headers[i].version = (uint32_t)tu_rand(&seed);
        tu_fill(m.headers[i].prev, 32, &seed);
        tu_fill(m.headers[i].merkle, 32, &seed);
        m.headers[i].time = (uint32_t)tu_rand(&seed);
        m.headers[i].bits = (uint32_t)tu_rand(&seed);
        m.headers[i].nonce = (uint32_t)tu_rand(&seed);
    }
    ck_assert_int_eq(proto_headers_encode(&m, &enc, &len), 0);
    ck_assert_uint_eq(len, 4 + 3 * 80);
    ROUND_TRIP(headers, &back, enc, len);
    ck_assert_mem_eq(back.headers, m.headers, 3 * sizeof *m.headers);
    proto_headers_free(&back);
    assert_rejects_damaged(&c_headers, enc, len);
    free(enc);
    proto_headers_free(&m);

    m.n = PROTO_HEADERS_MAX + 1;
    m.headers = calloc(m.n, sizeof *m.headers);
    ck_assert_int_eq(proto_headers_encode(&m, &enc, &len), SG_ETOOBIG);
    m.n = PROTO_HEADERS_MAX;
    ck_assert_int_eq(proto_headers_encode(&m, &enc, &len), 0);
    ROUND_TRIP(headers, &back, enc, len);
    proto_headers_free(&back);
    enc = realloc(enc, len + 80);
    memset(enc + len, 0, 80);
    proto_le32_put(enc, PROTO_HEADERS_MAX + 1);
    ck_assert_int_eq(try_decode(&c_headers, enc, len + 80), SG_ETOOBIG);
    free(enc);
    proto_headers_free(&m);
}
END_TEST

START_TEST(addr)
{
    uint64_t seed = 6;
    proto_addr m = {0}, back;
    uint8_t *enc;
    size_t len;

    m.n = 2;
    m.items = calloc(m.n, sizeof *m.items);
    m.items[0].family = 4;
    m.items[0].addr[0] = 10;
    m.items[0].addr[3] = 7;
    m.items[0].port = 9333;
    m.items[1].family = 6;
    tu_fill(m.items[1].addr, 16, &seed);
    m.items[1].port = 65535;
    ck_assert_int_eq(proto_addr_encode(&m, &enc, &len), 0);
    ck_assert_uint_eq(len, 4 + 2 * 19);
    ROUND_TRIP(addr, &back, enc, len);
    ck_assert_mem_eq(back.items, m.items, 2 * sizeof *m.items);
    proto_addr_free(&back);
    assert_rejects_damaged(&c_addr, enc, len);

    static const uint8_t bad_families[] = {0, 5, 46};
    for (size_t i = 0; i < sizeof bad_families; i++) {
        enc[4 + 19] = bad_families[i];
        ck_assert_int_eq(try_decode(&c_addr, enc, len), SG_EINVAL);
    }
    free(enc);
    m.items[0].family = 0;
    ck_assert_int_eq(proto_addr_encode(&m, &enc, &len), SG_EINVAL);
    proto_addr_free(&m);

    m.n = PROTO_ADDR_MAX + 1;
    m.items = calloc(m.n, sizeof *m.items);
    for (uint32_t i = 0; i < m.n; i++)
        m.items[i].family = 4;
    ck_assert_int_eq(proto_addr_encode(&m, &enc, &len), SG_ETOOBIG);
    m.n = PROTO_ADDR_MAX;
    ck_assert_int_eq(proto_addr_encode(&m, &enc, &len), 0);
    ROUND_TRIP(addr, &back, enc, len);
    proto_addr_free(&back);
    enc = realloc(enc, len + 19);
    memset(enc + len, 0, 19);
    enc[len] = 4;
    proto_le32_put(enc, PROTO_ADDR_MAX + 1);
    ck_assert_int_eq(try_decode(&c_addr, enc, len + 19), SG_ETOOBIG);
    free(enc);
    proto_addr_free(&m);
}
END_TEST

static void make_stats(proto_stats *m, uint32_t n)
{
    m->n = n;
    m->items = calloc(n, sizeof *m->items);
    for (uint32_t i = 0; i < n; i++) {
        proto_stat *s = &m->items[i];
        snprintf(s->key, sizeof s->key, "key%u", i);
        s->kind = i % 2 ? PROTO_STAT_STR : PROTO_STAT_INT;
        if (s->kind == PROTO_STAT_INT)
            s->i = i == 0 ? INT64_MIN : -(int64_t)i * 1000;
        else
            snprintf(s->s, sizeof s->s, "value %u", i);
    }
}

START_TEST(stats)
{
    proto_stats m = {0}, back;
    uint8_t *enc;
    size_t len;

    make_stats(&m, 4);
    memset(m.items[3].s, 0, sizeof m.items[3].s); /* empty strings are fine */
    ck_assert_int_eq(proto_stats_encode(&m, &enc, &len), 0);
    ROUND_TRIP(stats, &back, enc, len);
    ck_assert_uint_eq(back.n, 4);
    ck_assert_mem_eq(back.items, m.items, 4 * sizeof *m.items);
    ck_assert(back.items[0].i == INT64_MIN);
    proto_stats_free(&back);
    assert_rejects_damaged(&c_stats, enc, len);

    /* First entry: u16 len, "key0", then its kind byte. */
    enc[4 + 2 + 4] = 2;
    ck_assert_int_eq(try_decode(&c_stats, enc, len), SG_EINVAL);
    enc[4 + 2 + 4] = PROTO_STAT_INT;
    enc[4] = PROTO_STAT_KEY_MAX + 1; /* key length over its cap */
    ck_assert_int_eq(try_decode(&c_stats, enc, len), SG_ETOOBIG);
    free(enc);

    m.items[1].kind = 9;
    ck_assert_int_eq(proto_stats_encode(&m, &enc, &len), SG_EINVAL);
    m.items[1].kind = PROTO_STAT_STR;
    memset(m.items[1].key, 'k', PROTO_STAT_KEY_MAX + 1);
    ck_assert_int_eq(proto_stats_encode(&m, &enc, &len), SG_ETOOBIG);
    m.items[1].key[PROTO_STAT_KEY_MAX] = '\0';
    memset(m.items[1].s, 's', PROTO_STAT_STR_MAX + 1);
    ck_assert_int_eq(proto_stats_encode(&m, &enc, &len), SG_ETOOBIG);
    m.items[1].s[PROTO_STAT_STR_MAX] = '\0';
    ck_assert_int_eq(proto_stats_encode(&m, &enc, &len), 0);
    ROUND_TRIP(stats, &back, enc, len);
    ck_assert_str_eq(back.items[1].key, m.items[1].key);
    ck_assert_str_eq(back.items[1].s, m.items[1].s);
    proto_stats_free(&back);
    free(enc);
    proto_stats_free(&m);

    make_stats(&m, PROTO_STATS_MAX + 1);
    ck_assert_int_eq(proto_stats_encode(&m, &enc, &len), SG_ETOOBIG);
    m.n = PROTO_STATS_MAX;
    ck_assert_int_eq(proto_stats_encode(&m, &enc, &len), 0);
    ROUND_TRIP(stats, &back, enc, len);
    proto_stats_free(&back);
    static const uint8_t extra[] = {0, 0, PROTO_STAT_STR, 0, 0};
    enc = realloc(enc, len + sizeof extra);
    memcpy(enc + len, extra, sizeof extra);
    proto_le32_put(enc, PROTO_STATS_MAX + 1);
    ck_assert_int_eq(try_decode(&c_stats, enc, len + sizeof extra), SG_ETOOBIG);
    free(enc);
    proto_stats_free(&m);
}
END_TEST

START_TEST(log_sub_line_reject)
{
    proto_log_sub sub = {4}, sback;
    proto_log_line line, lback;
    proto_reject rej, rback;
    uint8_t *enc;
    size_t len;

    ck_assert_int_eq(proto_log_sub_encode(&sub, &enc, &len), 0);
    ck_assert_uint_eq(len, 1);
    ROUND_TRIP(log_sub, &sback, enc, len);
    ck_assert_uint_eq(sback.min_level, 4);
    assert_rejects_damaged(&c_log_sub, enc, len);
    free(enc);

    memset(&line, 0, sizeof line);
    line.level = 2;
    line.time_ms = 1700000000123ull;
    strcpy(line.text, "block 12 accepted");
    ck_assert_int_eq(proto_log_line_encode(&line, &enc, &len), 0);
    ROUND_TRIP(log_line, &lback, enc, len);
    ck_assert_mem_eq(&line, &lback, sizeof line);
    assert_rejects_damaged(&c_log_line, enc, len);
    free(enc);
    memset(line.text, 'x', PROTO_LOG_LINE_MAX);
    ck_assert_int_eq(proto_log_line_encode(&line, &enc, &len), 0);
    ck_assert_uint_eq(len, 1 + 8 + 2 + PROTO_LOG_LINE_MAX);
    ROUND_TRIP(log_line, &lback, enc, len);
    enc = realloc(enc, len + 1);
    enc[len] = 'x';
    enc[9] = (uint8_t)(PROTO_LOG_LINE_MAX + 1);
    enc[10] = (uint8_t)((PROTO_LOG_LINE_MAX + 1) >> 8);
    ck_assert_int_eq(try_decode(&c_log_line, enc, len + 1), SG_ETOOBIG);
    free(enc);
    line.text[PROTO_LOG_LINE_MAX] = 'x';
    ck_assert_int_eq(proto_log_line_encode(&line, &enc, &len), SG_ETOOBIG);

    memset(&rej, 0, sizeof rej);
    rej.code = 3;
    strcpy(rej.reason, "bad proof of work");
    ck_assert_int_eq(proto_reject_encode(&rej, &enc, &len), 0);
    ROUND_TRIP(reject, &rback, enc, len);
    ck_assert_mem_eq(&rej, &rback, sizeof rej);
    assert_rejects_damaged(&c_reject, enc, len);
    enc[1] = (uint8_t)(PROTO_REASON_MAX + 1);
    enc[2] = (uint8_t)((PROTO_REASON_MAX + 1) >> 8);
    ck_assert_int_eq(try_decode(&c_reject, enc, len), SG_ETOOBIG);
    enc[1] = (uint8_t)strlen(rej.reason);
    enc[2] = 0;
    enc[5] = '\0';
    ck_assert_int_eq(try_decode(&c_reject, enc, len), SG_EINVAL);
    free(enc);
    memset(rej.reason, 'r', PROTO_REASON_MAX + 1);
    ck_assert_int_eq(proto_reject_encode(&rej, &enc, &len), SG_ETOOBIG);
}
END_TEST

/* STORE_DATA's bytes are the rest of the payload, so a prefix is only
 * truncated inside the two sizes; past them it is shorter data, which
 * must still lie inside the file it names. */
START_TEST(store_read_data)
{
    proto_store_read rq = { 0x0102030405060708ull, PROTO_STORE_READ_MAX }, rqb;
    proto_store_data d, db;
    uint8_t bytes[300], *enc, *big;
    size_t len;

    ck_assert_int_eq(proto_store_read_encode(&rq, &enc, &len), 0);
    ck_assert_uint_eq(len, 12);
    ROUND_TRIP(store_read, &rqb, enc, len);
    ck_assert_uint_eq(rqb.offset, rq.offset);
    ck_assert_uint_eq(rqb.max, rq.max);
    assert_rejects_damaged(&c_store_read, enc, len);
    free(enc);

    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 7);
    d = (proto_store_data){ .offset = 1000, .file_size = 1300, .len = 300, .data = bytes };
    ck_assert_int_eq(proto_store_data_encode(&d, &enc, &len), 0);
    ck_assert_uint_eq(len, 16 + 300);
    ROUND_TRIP(store_data, &db, enc, len);
    ck_assert_uint_eq(db.offset, 1000);
    ck_assert_uint_eq(db.file_size, 1300);
    ck_assert_uint_eq(db.len, 300);
    ck_assert_mem_eq(db.data, bytes, 300);
    for (size_t k = 0; k < 16; k++)
        ck_assert_int_eq(try_decode(&c_store_data, enc, k), SG_ETRUNC);
    ck_assert_int_eq(try_decode(&c_store_data, enc, 16), 0);
    big = malloc(len + 1);
    memcpy(big, enc, len);
    big[len] = 0;                  /* one byte past the file's end */
    ck_assert_int_eq(try_decode(&c_store_data, big, len + 1), SG_EINVAL);
    free(big);
    enc[8] = 0xff;                 /* file_size < offset: only when empty */
    enc[9] = 0;
    ck_assert_int_eq(try_decode(&c_store_data, enc, 16), 0);
    ck_assert_int_eq(try_decode(&c_store_data, enc, 17), SG_EINVAL);
    memset(enc, 0xff, 8);          /* offset + len would wrap */
    memset(enc + 8, 0xff, 8);
    ck_assert_int_eq(try_decode(&c_store_data, enc, len), SG_EINVAL);
    free(enc);

    /* Empty: at the end of the file. */
    d = (proto_store_data){ .offset = 1300, .file_size = 1300 };
    ck_assert_int_eq(proto_store_data_encode(&d, &enc, &len), 0);
    ROUND_TRIP(store_data, &db, enc, len);
    ck_assert_uint_eq(db.len, 0);
    free(enc);

    /* The cap, both ways. */
    big = calloc(1, 16 + PROTO_STORE_READ_MAX + 1);
    d = (proto_store_data){ .offset = 0, .file_size = UINT64_MAX, .len = PROTO_STORE_READ_MAX,
                            .data = big };
    ck_assert_int_eq(proto_store_data_encode(&d, &enc, &len), 0);
    free(enc);
    d.len++;
    ck_assert_int_eq(proto_store_data_encode(&d, &enc, &len), SG_ETOOBIG);
    d.offset = 5;                  /* past the end: only empty */
    d.file_size = 4;
    d.len = 0;
    ck_assert_int_eq(proto_store_data_encode(&d, &enc, &len), 0);
    free(enc);
    d.len = 1;
    ck_assert_int_eq(proto_store_data_encode(&d, &enc, &len), SG_EINVAL);
    memset(big + 8, 0xff, 8);
    ck_assert_int_eq(try_decode(&c_store_data, big, 16 + PROTO_STORE_READ_MAX), 0);
    ck_assert_int_eq(try_decode(&c_store_data, big, 16 + PROTO_STORE_READ_MAX + 1), SG_ETOOBIG);
    free(big);
}
END_TEST

/* MINING and MINING_ACK share one byte: 0 or 1, nothing else either way. */
START_TEST(mining)
{
    proto_mining m, back;
    uint8_t *enc, bad[1];
    size_t len;

    for (uint8_t on = 0; on <= 1; on++) {
        m.on = on;
        ck_assert_int_eq(proto_mining_encode(&m, &enc, &len), 0);
        ck_assert_uint_eq(len, 1);
        ck_assert_uint_eq(enc[0], on);
        ROUND_TRIP(mining, &back, enc, len);
        ck_assert_uint_eq(back.on, on);
        assert_rejects_damaged(&c_mining, enc, len);
        free(enc);
    }
    for (int v = 2; v < 256; v++) {
        bad[0] = (uint8_t)v;
        back.on = 7;
        ck_assert_int_eq(proto_mining_decode(bad, 1, &back), SG_EINVAL);
        ck_assert_uint_eq(back.on, 0);
        m.on = (uint8_t)v;
        enc = NULL;
        ck_assert_int_eq(proto_mining_encode(&m, &enc, &len), SG_EINVAL);
        ck_assert_ptr_null(enc);
    }
    ck_assert_str_eq(proto_msg_type_name(PROTO_MSG_MINING), "MINING");
    ck_assert_str_eq(proto_msg_type_name(PROTO_MSG_MINING_ACK), "MINING_ACK");
}
END_TEST

/* TXS: transactions back to back, each the same bytes as its TX
 * encoding; damage, an empty list and one over the cap are refused. */
START_TEST(txs)
{
    uint64_t seed = 9;
    proto_tx t[3];
    const proto_tx *ptrs[3] = { &t[0], &t[1], &t[2] };
    proto_txs back;
    uint8_t *enc, *one;
    size_t len, one_len, off = 4;

    memset(t, 0, sizeof t);
    for (int i = 0; i < 3; i++) {
        t[i].version = PROTO_TX_VERSION;
        t[i].kind = PROTO_TX_TRANSFER;
        tu_fill(t[i].from, 32, &seed);
        t[i].nonce = (uint64_t)i * 7;
        tu_fill(t[i].u.pay.to, 32, &seed);
        t[i].u.pay.amount = 1000u + (uint64_t)i;
        tu_fill(t[i].sig, 64, &seed);
    }
    ck_assert_int_eq(proto_txs_encode(ptrs, 3, &enc, &len), 0);
    ck_assert_uint_eq(proto_le32_get(enc), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(proto_tx_encode(&t[i], &one, &one_len), 0);
        ck_assert_uint_le(off + one_len, len);
        ck_assert_mem_eq(enc + off, one, one_len);
        off += one_len;
        free(one);
    }
    ck_assert_uint_eq(off, len);
    ck_assert_int_eq(proto_txs_decode(enc, len, &back), 0);
    ck_assert_uint_eq(back.n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(back.txs[i].nonce, t[i].nonce);
        ck_assert_mem_eq(back.txs[i].sig, t[i].sig, 64);
    }
    proto_txs_free(&back);
    assert_rejects_damaged(&c_txs, enc, len);
    /* A count claiming more than the bytes hold, and an empty list. */
    proto_le32_put(enc, 4);
    ck_assert_int_ne(try_decode(&c_txs, enc, len), 0);
    proto_le32_put(enc, 0);
    ck_assert_int_eq(try_decode(&c_txs, enc, 4), SG_EINVAL);
    proto_le32_put(enc, PROTO_TXS_MAX + 1);
    ck_assert_int_eq(try_decode(&c_txs, enc, len), SG_ETOOBIG);
    free(enc);
    enc = NULL;
    ck_assert_int_eq(proto_txs_encode(ptrs, 0, &enc, &len), SG_EINVAL);
    ck_assert_ptr_null(enc);
    ck_assert_int_eq(proto_txs_encode(ptrs, PROTO_TXS_MAX + 1, &enc, &len), SG_ETOOBIG);
    ck_assert_str_eq(proto_msg_type_name(PROTO_MSG_TXS), "TXS");
}
END_TEST

/* PARTITION: a bounded list of non-empty names; HASHRATE a u64;
 * ADVERSARY a non-empty role name; PARTITION_ACK a u32. */
START_TEST(scenario_control)
{
    proto_partition m = { 0, NULL }, back;
    char names[3][PROTO_NAME_MAX + 1] = { "p1", "c2", "op" };
    uint8_t *enc = NULL, *big;
    size_t len;
    uint32_t v;

    m.n = 3;
    m.names = names;
    ck_assert_int_eq(proto_partition_encode(&m, &enc, &len), 0);
    ck_assert_int_eq(proto_partition_decode(enc, len, &back), 0);
    ck_assert_uint_eq(back.n, 3);
    ck_assert_str_eq(back.names[1], "c2");
    proto_partition_free(&back);
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_ne(proto_partition_decode(enc, cut, &back), 0);
    big = malloc(len + 1);
    memcpy(big, enc, len);
    big[len] = 0;
    ck_assert_int_eq(proto_partition_decode(big, len + 1, &back), SG_ETRAILING);
    ck_assert_ptr_null(back.names);
    free(big);
    free(enc);
    /* Heal: no names. */
    m.n = 0;
    ck_assert_int_eq(proto_partition_encode(&m, &enc, &len), 0);
    ck_assert_int_eq(proto_partition_decode(enc, len, &back), 0);
    ck_assert_uint_eq(back.n, 0);
    free(enc);
    /* An empty name is refused both ways; so is a count over the cap. */
    names[1][0] = '\0';
    m.n = 3;
    ck_assert_int_eq(proto_partition_encode(&m, &enc, &len), SG_EINVAL);
    uint8_t empty_name[] = { 1, 0, 0, 0, 0, 0, 0 };   /* one byte over: no short cut */
    ck_assert_int_eq(proto_partition_decode(empty_name, sizeof empty_name, &back), SG_EINVAL);
    uint8_t too_many[] = { 0xff, 0xff, 0, 0 };
    ck_assert_int_eq(proto_partition_decode(too_many, sizeof too_many, &back), SG_ETOOBIG);

    ck_assert_int_eq(proto_u32_encode(7, &enc, &len), 0);
    ck_assert_int_eq(proto_u32_decode(enc, len, &v), 0);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_ne(proto_u32_decode(enc, len - 1, &v), 0);
    free(enc);

    proto_hashrate h = { 20000000 }, hb;
    ck_assert_int_eq(proto_hashrate_encode(&h, &enc, &len), 0);
    ck_assert_uint_eq(len, 8);
    ck_assert_int_eq(proto_hashrate_decode(enc, len, &hb), 0);
    ck_assert_uint_eq(hb.rate, 20000000);
    ck_assert_int_ne(proto_hashrate_decode(enc, 7, &hb), 0);
    free(enc);

    proto_adversary a, ab;
    memset(&a, 0, sizeof a);
    strcpy(a.role, "selfish");
    ck_assert_int_eq(proto_adversary_encode(&a, &enc, &len), 0);
    ck_assert_int_eq(proto_adversary_decode(enc, len, &ab), 0);
    ck_assert_str_eq(ab.role, "selfish");
    free(enc);
    a.role[0] = '\0';
    ck_assert_int_eq(proto_adversary_encode(&a, &enc, &len), SG_EINVAL);
    uint8_t no_role[] = { 0, 0 };
    ck_assert_int_eq(proto_adversary_decode(no_role, 2, &ab), SG_EINVAL);
    ck_assert_str_eq(proto_msg_type_name(PROTO_MSG_PARTITION), "PARTITION");
    ck_assert_str_eq(proto_msg_type_name(PROTO_MSG_ADVERSARY_ACK), "ADVERSARY_ACK");
    ck_assert_int_eq(PROTO_MSG_HASHRATE, 44);
    ck_assert_int_eq(PROTO_MSG_ADVERSARY, 46);
}
END_TEST

Suite *msg_suite(void)
{
    Suite *s = suite_create("msg");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, type_names);
    tcase_add_test(tc, empty_payload);
    tcase_add_test(tc, hello);
    tcase_add_test(tc, auth_and_ping);
    tcase_add_test(tc, inv);
    tcase_add_test(tc, locator);
    tcase_add_test(tc, headers);
    tcase_add_test(tc, addr);
    tcase_add_test(tc, stats);
    tcase_add_test(tc, log_sub_line_reject);
    tcase_add_test(tc, store_read_data);
    tcase_add_test(tc, mining);
    tcase_add_test(tc, txs);
    tcase_add_test(tc, scenario_control);
    suite_add_tcase(s, tc);
    return s;
}
