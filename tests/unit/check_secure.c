/* The secure session alone: two state machines wired to each other in
 * memory, no sockets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/base/err.h"
#include "common/link/secure.h"
#include "testutil.h"

#define MAX_MSGS 64

typedef struct {
    uint8_t *wire;            /* bytes this side sent, not yet delivered */
    size_t len, cap;
    int ready;
    int n_msgs;
    uint8_t types[MAX_MSGS];
    uint8_t *payloads[MAX_MSGS];
    size_t lens[MAX_MSGS];
} side;

typedef struct {
    sec_session *s;
    side io;
} end;

static int on_out(void *ctx, uint8_t *frame, size_t len)
{
    side *sd = ctx;
    if (sd->len + len > sd->cap) {
        sd->cap = (sd->len + len) * 2;
        sd->wire = realloc(sd->wire, sd->cap);
        ck_assert_ptr_nonnull(sd->wire);
    }
    memcpy(sd->wire + sd->len, frame, len);
    sd->len += len;
    free(frame);
    return 0;
}

static int on_ready(void *ctx)
{
    ((side *)ctx)->ready++;
    return 0;
}

static int on_msg(void *ctx, uint8_t type, const uint8_t *payload, size_t len)
{
    side *sd = ctx;
    ck_assert_int_lt(sd->n_msgs, MAX_MSGS);
    /* Sealed messages are only delivered after the ready callback. */
    ck_assert_int_eq(sd->ready, 1);
    sd->types[sd->n_msgs] = type;
    sd->payloads[sd->n_msgs] = malloc(len ? len : 1);
    if (len)
        memcpy(sd->payloads[sd->n_msgs], payload, len);
    sd->lens[sd->n_msgs] = len;
    sd->n_msgs++;
    return 0;
}

static const sec_callbacks cbs = { on_out, on_ready, on_msg };

static void make_config(sec_config *c, const uint8_t key[32],
                        const uint8_t chain[32], const char *name,
                        uint8_t link)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->cluster_key, key, 32);
    memcpy(c->chain_id, chain, 32);
    crypto_sign_keypair(c->identity_pk, c->identity_sk);
    c->link = link;
    c->role = 2;
    c->listen_port = 9000;
    strcpy(c->name, name);
}

static void end_init(end *e, const sec_config *c, int initiator)
{
    memset(e, 0, sizeof(*e));
    ck_assert_int_eq(sec_new(&e->s, c, initiator, &cbs, &e->io), 0);
}

static void end_free(end *e)
{
    sec_free(e->s);
    free(e->io.wire);
    for (int i = 0; i < e->io.n_msgs; i++)
        free(e->io.payloads[i]);
}

/* Hands what `from` sent to `to` in pieces of 1..chunk bytes (0: all at
 * once); returns the first non-zero sec_feed result. */
static int deliver(end *from, end *to, size_t chunk, uint64_t *rng)
{
    size_t off = 0, len = from->io.len;
    uint8_t *bytes = from->io.wire;
    int rc = 0;

    from->io.wire = NULL;
    from->io.len = from->io.cap = 0;
    while (off < len && rc == 0) {
        size_t k = chunk ? 1 + tu_rand(rng) % chunk : len;
        if (k > len - off)
            k = len - off;
        rc = sec_feed(to->s, bytes + off, k);
        off += k;
    }
    free(bytes);
    return rc;
}

/* Runs the exchange until both are quiet; *ra and *rb are the feed
 * results seen by a and b. */
static void pump(end *a, end *b, size_t chunk, int *ra, int *rb)
{
    uint64_t rng = 7;
    *ra = *rb = 0;
    while ((a->io.len && *rb == 0) || (b->io.len && *ra == 0)) {
        if (a->io.len && *rb == 0)
            *rb = deliver(a, b, chunk, &rng);
        if (b->io.len && *ra == 0)
            *ra = deliver(b, a, chunk, &rng);
    }
}

typedef struct {
    uint8_t key[32], chain[32];
    sec_config ca, cb;
    end a, b;                  /* a initiates */
} pair;

static void pair_connect(pair *p, size_t chunk)
{
    int ra, rb;
    randombytes_buf(p->key, 32);
    randombytes_buf(p->chain, 32);
    make_config(&p->ca, p->key, p->chain, "alice", PROTO_LINK_PEER);
    make_config(&p->cb, p->key, p->chain, "bob", PROTO_LINK_PEER);
    end_init(&p->a, &p->ca, 1);
    end_init(&p->b, &p->cb, 0);
    ck_assert_int_eq(sec_start(p->a.s), 0);
    ck_assert_int_eq(sec_start(p->b.s), 0);
    pump(&p->a, &p->b, chunk, &ra, &rb);
    ck_assert_int_eq(ra, 0);
    ck_assert_int_eq(rb, 0);
    ck_assert_int_eq(sec_get_state(p->a.s), SEC_READY);
    ck_assert_int_eq(sec_get_state(p->b.s), SEC_READY);
}

static void pair_free(pair *p)
{
    end_free(&p->a);
    end_free(&p->b);
}

START_TEST(test_handshake_and_messages)
{
    pair p;
    uint8_t big[100000];
    uint64_t rng = 11;
    int ra, rb;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    /* Split into tiny random pieces to exercise the deframer too. */
    pair_connect(&p, 7);
    ck_assert_int_eq(p.a.io.ready, 1);
    ck_assert_int_eq(p.b.io.ready, 1);
    ck_assert_str_eq(sec_peer_hello(p.a.s)->name, "bob");
    ck_assert_str_eq(sec_peer_hello(p.b.s)->name, "alice");
    ck_assert_mem_eq(sec_peer_hello(p.b.s)->identity, p.ca.identity_pk, 32);
    ck_assert_mem_eq(sec_peer_hello(p.a.s)->identity, p.cb.identity_pk, 32);
    ck_assert_uint_eq(sec_peer_hello(p.b.s)->listen_port, 9000);
    ck_assert_int_eq(sec_link(p.b.s), PROTO_LINK_PEER);
    ck_assert(sec_is_initiator(p.a.s));
    ck_assert(!sec_is_initiator(p.b.s));

    tu_fill(big, sizeof(big), &rng);
    ck_assert_int_eq(sec_send(p.a.s, PROTO_MSG_INV, "hello", 5), 0);
    ck_assert_int_eq(sec_send(p.a.s, PROTO_MSG_GETADDR, NULL, 0), 0);
    ck_assert_int_eq(sec_send(p.a.s, PROTO_MSG_BLOCK, big, sizeof(big)), 0);
    ck_assert_int_eq(sec_send(p.b.s, PROTO_MSG_TX, "abc", 3), 0);
    pump(&p.a, &p.b, 1000, &ra, &rb);
    ck_assert_int_eq(ra, 0);
    ck_assert_int_eq(rb, 0);
    ck_assert_int_eq(p.b.io.n_msgs, 3);
    ck_assert_int_eq(p.b.io.types[0], PROTO_MSG_INV);
    ck_assert_uint_eq(p.b.io.lens[0], 5);
    ck_assert_mem_eq(p.b.io.payloads[0], "hello", 5);
    ck_assert_int_eq(p.b.io.types[1], PROTO_MSG_GETADDR);
    ck_assert_uint_eq(p.b.io.lens[1], 0);
    ck_assert_int_eq(p.b.io.types[2], PROTO_MSG_BLOCK);
    ck_assert_uint_eq(p.b.io.lens[2], sizeof(big));
    ck_assert_mem_eq(p.b.io.payloads[2], big, sizeof(big));
    ck_assert_int_eq(p.a.io.n_msgs, 1);
    ck_assert_int_eq(p.a.io.types[0], PROTO_MSG_TX);
    ck_assert_mem_eq(p.a.io.payloads[0], "abc", 3);
    ck_assert_uint_eq(sec_tx_count(p.a.s), 3);
    ck_assert_uint_eq(sec_rx_count(p.b.s), 3);
    pair_free(&p);
}
END_TEST

START_TEST(test_control_link_and_send_rules)
{
    uint8_t key[32], chain[32];
    sec_config ca, cb;
    end a, b;
    int ra, rb;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    randombytes_buf(key, 32);
    randombytes_buf(chain, 32);
    make_config(&ca, key, chain, "ctl", PROTO_LINK_CONTROL);
    make_config(&cb, key, chain, "node", PROTO_LINK_PEER);
    end_init(&a, &ca, 1);
    end_init(&b, &cb, 0);
    /* Nothing may be sealed before the handshake. */
    ck_assert_int_eq(sec_send(a.s, PROTO_MSG_PING, "12345678", 8), SG_EPROTO);
    sec_start(a.s);
    sec_start(b.s);
    pump(&a, &b, 0, &ra, &rb);
    ck_assert_int_eq(ra | rb, 0);
    ck_assert_int_eq(sec_link(b.s), PROTO_LINK_CONTROL);
    ck_assert_int_eq(sec_link(a.s), PROTO_LINK_CONTROL);
    /* Handshake types cannot be sealed; oversize is refused but harmless. */
    ck_assert_int_eq(sec_send(a.s, PROTO_MSG_HELLO, NULL, 0), SG_EINVAL);
    ck_assert_int_eq(sec_send(a.s, PROTO_MSG_SEALED, NULL, 0), SG_EINVAL);
    ck_assert_int_eq(sec_send(a.s, 200, NULL, 0), SG_EINVAL);
    ck_assert_int_eq(sec_send(a.s, PROTO_MSG_BLOCK, NULL, SEC_PAYLOAD_MAX + 1),
                     SG_ETOOBIG);
    ck_assert_int_eq(sec_send(a.s, PROTO_MSG_STATS_REQ, NULL, 0), 0);
    pump(&a, &b, 0, &ra, &rb);
    ck_assert_int_eq(ra | rb, 0);
    ck_assert_int_eq(b.io.n_msgs, 1);
    ck_assert_int_eq(b.io.types[0], PROTO_MSG_STATS_REQ);
    end_free(&a);
    end_free(&b);
}
END_TEST

START_TEST(test_wrong_cluster_key)
{
    uint8_t k1[32], k2[32], chain[32];
    sec_config ca, cb;
    end a, b;
    int ra, rb;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    randombytes_buf(k1, 32);
    randombytes_buf(k2, 32);
    randombytes_buf(chain, 32);
    make_config(&ca, k1, chain, "a", PROTO_LINK_PEER);
    make_config(&cb, k2, chain, "b", PROTO_LINK_PEER);
    end_init(&a, &ca, 1);
    end_init(&b, &cb, 0);
    sec_start(a.s);
    sec_start(b.s);
    pump(&a, &b, 0, &ra, &rb);
    ck_assert_int_eq(ra, SG_EAUTH);
    ck_assert_int_eq(rb, SG_EAUTH);
    ck_assert_int_eq(sec_get_state(a.s), SEC_FAILED);
    ck_assert_int_eq(sec_get_state(b.s), SEC_FAILED);
    ck_assert_ptr_nonnull(strstr(sec_reason(a.s), "mac"));
    ck_assert_int_eq(a.io.ready + b.io.ready, 0);
    /* Sticky: the dead session refuses everything after. */
    ck_assert_int_eq(sec_feed(a.s, "x", 1), SG_EAUTH);
    ck_assert_int_eq(sec_send(a.s, PROTO_MSG_PING, NULL, 0), SG_EAUTH);
    end_free(&a);
    end_free(&b);
}
END_TEST

START_TEST(test_wrong_chain_id)
{
    uint8_t key[32], c1[32], c2[32];
    sec_config ca, cb;
    end a, b;
    int ra, rb;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    randombytes_buf(key, 32);
    randombytes_buf(c1, 32);
    memcpy(c2, c1, 32);
    c2[31] ^= 1;
    make_config(&ca, key, c1, "a", PROTO_LINK_PEER);
    make_config(&cb, key, c2, "b", PROTO_LINK_PEER);
    end_init(&a, &ca, 1);
    end_init(&b, &cb, 0);
    sec_start(a.s);
    sec_start(b.s);
    pump(&a, &b, 0, &ra, &rb);
    ck_assert_int_eq(ra, SG_EAUTH);
    ck_assert_int_eq(rb, SG_EAUTH);
    ck_assert_ptr_nonnull(strstr(sec_reason(b.s), "chain id"));
    end_free(&a);
    end_free(&b);
}
END_TEST

START_TEST(test_wrong_version)
{
    uint8_t key[32], chain[32];
    sec_config cb;
    end b;
    proto_hello h;
    uint8_t *payload, *frame;
    size_t len, flen;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    randombytes_buf(key, 32);
    randombytes_buf(chain, 32);
    make_config(&cb, key, chain, "b", PROTO_LINK_PEER);
    end_init(&b, &cb, 0);
    sec_start(b.s);
    memset(&h, 0, sizeof(h));
    h.version = PROTO_VERSION + 1;
    memcpy(h.chain_id, chain, 32);
    strcpy(h.name, "future");
    ck_assert_int_eq(proto_hello_encode(&h, &payload, &len), 0);
    ck_assert_int_eq(proto_frame_build(PROTO_MSG_HELLO, payload, len, &frame,
                                       &flen), 0);
    ck_assert_int_eq(sec_feed(b.s, frame, flen), SG_EAUTH);
    ck_assert_ptr_nonnull(strstr(sec_reason(b.s), "version"));
    free(payload);
    free(frame);
    end_free(&b);
}
END_TEST

/* The frame b receives from a for one sealed message. */
static void sealed_frame(pair *p, uint8_t **out, size_t *len)
{
    ck_assert_int_eq(sec_send(p->a.s, PROTO_MSG_TX, "0123456789", 10), 0);
    *out = p->a.io.wire;
    *len = p->a.io.len;
    p->a.io.wire = NULL;
    p->a.io.len = p->a.io.cap = 0;
}

START_TEST(test_tamper_every_byte)
{
    uint8_t *frame;
    size_t len;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    for (size_t i = 0;; i++) {
        pair p;
        pair_connect(&p, 0);
        sealed_frame(&p, &frame, &len);
        ck_assert_uint_eq(len, PROTO_FRAME_HDR + 2 + 10 + SEC_TAG_BYTES);
        if (i >= len) {
            free(frame);
            pair_free(&p);
            break;
        }
        frame[i] ^= 0x01;
        int rc = sec_feed(p.b.s, frame, len);
        if (i >= PROTO_FRAME_HDR + 1) {
            /* Inner type, payload or tag: the AEAD catches it. */
            ck_assert_int_eq(rc, SG_ECRYPTO);
            ck_assert_int_eq(sec_get_state(p.b.s), SEC_FAILED);
        } else if (i == PROTO_FRAME_HDR) {
            /* Outer type no longer SEALED: a clear-text frame is refused. */
            ck_assert_int_eq(rc, SG_EPROTO);
        } else {
            /* Length field: either refused now or waiting for bytes that
             * will not open either; never a delivered message. */
            if (rc == 0) {
                uint8_t *more;
                size_t mlen;
                sealed_frame(&p, &more, &mlen);
                rc = sec_feed(p.b.s, more, mlen);
                free(more);
            }
            ck_assert(rc == 0 || rc == SG_ECRYPTO || rc == SG_ETOOBIG);
        }
        ck_assert_int_eq(p.b.io.n_msgs, 0);
        free(frame);
        pair_free(&p);
    }
}
END_TEST

START_TEST(test_replay_and_reorder)
{
    pair p;
    uint8_t *f1, *f2;
    size_t l1, l2;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    pair_connect(&p, 0);
    sealed_frame(&p, &f1, &l1);
    ck_assert_int_eq(sec_feed(p.b.s, f1, l1), 0);
    ck_assert_int_eq(p.b.io.n_msgs, 1);
    /* The same bytes again: the receive counter moved on. */
    ck_assert_int_eq(sec_feed(p.b.s, f1, l1), SG_ECRYPTO);
    ck_assert_int_eq(p.b.io.n_msgs, 1);
    ck_assert_ptr_nonnull(strstr(sec_reason(p.b.s), "failed to open"));
    free(f1);
    pair_free(&p);

    /* Reordered: the second frame first. */
    pair_connect(&p, 0);
    sealed_frame(&p, &f1, &l1);
    sealed_frame(&p, &f2, &l2);
    ck_assert_int_eq(sec_feed(p.b.s, f2, l2), SG_ECRYPTO);
    ck_assert_int_eq(p.b.io.n_msgs, 0);
    free(f1);
    free(f2);
    pair_free(&p);

    /* Frames cannot be bounced back to their sender either (keys differ
     * per direction). */
    pair_connect(&p, 0);
    sealed_frame(&p, &f1, &l1);
    ck_assert_int_eq(sec_feed(p.a.s, f1, l1), SG_ECRYPTO);
    free(f1);
    pair_free(&p);
}
END_TEST

START_TEST(test_forged_auth_signature)
{
    uint8_t key[32], chain[32], other_pk[32], other_sk[64];
    sec_config ca, cb;
    end a, b;
    int ra, rb;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    randombytes_buf(key, 32);
    randombytes_buf(chain, 32);
    make_config(&ca, key, chain, "mallory", PROTO_LINK_PEER);
    make_config(&cb, key, chain, "bob", PROTO_LINK_PEER);
    /* Mallory holds the cluster key but claims an identity whose secret
     * key she lacks: her AUTH is signed with another key. */
    crypto_sign_keypair(other_pk, other_sk);
    memcpy(ca.identity_sk, other_sk, 64);
    end_init(&a, &ca, 1);
    end_init(&b, &cb, 0);
    sec_start(a.s);
    sec_start(b.s);
    pump(&a, &b, 0, &ra, &rb);
    ck_assert_int_eq(rb, SG_EAUTH);
    ck_assert_ptr_nonnull(strstr(sec_reason(b.s), "signature"));
    ck_assert_int_eq(b.io.ready, 0);
    end_free(&a);
    end_free(&b);
}
END_TEST

START_TEST(test_reflected_auth)
{
    uint8_t key[32], chain[32];
    sec_config ca;
    end a;

    ck_assert_int_eq(sodium_init() >= 0, 1);
    randombytes_buf(key, 32);
    randombytes_buf(chain, 32);
    make_config(&ca, key, chain, "a", PROTO_LINK_PEER);
    end_init(&a, &ca, 1);
    sec_start(a.s);
    /* A mirror echoes a's HELLO: a answers with its AUTH ... */
    uint8_t *hello = a.io.wire;
    size_t hlen = a.io.len;
    a.io.wire = NULL;
    a.io.len = a.io.cap = 0;
    ck_assert_int_eq(sec_feed(a.s, hello, hlen), 0);
    ck_assert_int_eq(sec_get_state(a.s), SEC_AUTH_WAIT);
    /* ... and echoes that too, but it carries the initiator's tag. */
    uint8_t *auth = a.io.wire;
    size_t alen = a.io.len;
    a.io.wire = NULL;
    a.io.len = a.io.cap = 0;
    ck_assert_int_eq(sec_feed(a.s, auth, alen), SG_EAUTH);
    free(hello);
    free(auth);
    end_free(&a);
}
END_TEST

START_TEST(test_handshake_framing_limits)
{
    uint8_t key[32], chain[32];
    sec_config cb;
    end b;
    uint8_t hdr[5] = { 0, 0, 0, 0, PROTO_MSG_HELLO };
    uint8_t auth_first[4 + 1 + 96];

    ck_assert_int_eq(sodium_init() >= 0, 1);
    randombytes_buf(key, 32);
    randombytes_buf(chain, 32);
    make_config(&cb, key, chain, "b", PROTO_LINK_PEER);

    /* A stranger announcing a big frame before authenticating. */
    end_init(&b, &cb, 0);
    sec_start(b.s);
    proto_le32_put(hdr, SEC_HANDSHAKE_FRAME_MAX + 1);
    ck_assert_int_eq(sec_feed(b.s, hdr, sizeof(hdr)), SG_ETOOBIG);
    ck_assert_int_eq(sec_get_state(b.s), SEC_FAILED);
    end_free(&b);

    /* AUTH before HELLO. */
    end_init(&b, &cb, 0);
    sec_start(b.s);
    memset(auth_first, 0, sizeof(auth_first));
    proto_le32_put(auth_first, 97);
    auth_first[4] = PROTO_MSG_AUTH;
    ck_assert_int_eq(sec_feed(b.s, auth_first, sizeof(auth_first)), SG_EPROTO);
    end_free(&b);

    /* Garbage HELLO payload. */
    end_init(&b, &cb, 0);
    sec_start(b.s);
    auth_first[4] = PROTO_MSG_HELLO;
    ck_assert_int_lt(sec_feed(b.s, auth_first, sizeof(auth_first)), 0);
    ck_assert_int_eq(sec_get_state(b.s), SEC_FAILED);
    end_free(&b);
}
END_TEST

Suite *secure_suite(void)
{
    Suite *s = suite_create("secure");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_handshake_and_messages);
    tcase_add_test(tc, test_control_link_and_send_rules);
    tcase_add_test(tc, test_wrong_cluster_key);
    tcase_add_test(tc, test_wrong_chain_id);
    tcase_add_test(tc, test_wrong_version);
    tcase_add_test(tc, test_tamper_every_byte);
    tcase_add_test(tc, test_replay_and_reorder);
    tcase_add_test(tc, test_forged_auth_signature);
    tcase_add_test(tc, test_reflected_auth);
    tcase_add_test(tc, test_handshake_framing_limits);
    suite_add_tcase(s, tc);
    return s;
}
