#include "common/link/secure.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/base/err.h"
#include "proto/buf.h"

_Static_assert(SEC_TAG_BYTES == crypto_aead_chacha20poly1305_ietf_ABYTES,
               "tag size");
_Static_assert(SEC_KEY_BYTES == crypto_aead_chacha20poly1305_ietf_KEYBYTES,
               "key size");
_Static_assert(crypto_kx_SESSIONKEYBYTES == 32, "kx key size");
_Static_assert(crypto_auth_hmacsha256_KEYBYTES == SEC_KEY_BYTES, "mac key");

struct sec_session {
    sec_config cfg;
    sec_callbacks cb;
    void *ctx;
    int initiator;
    enum sec_state state;
    int err;
    const char *reason;
    proto_deframer dfr;
    uint8_t kx_pk[crypto_kx_PUBLICKEYBYTES];
    uint8_t kx_sk[crypto_kx_SECRETKEYBYTES];
    uint8_t *my_hello;            /* our HELLO payload, until T is known */
    size_t my_hello_len;
    proto_hello peer;
    int have_peer;
    uint8_t transcript[32];       /* T */
    uint8_t key_rx[SEC_KEY_BYTES];
    uint8_t key_tx[SEC_KEY_BYTES];
    uint64_t n_rx;
    uint64_t n_tx;
};

static int fail(sec_session *s, int err, const char *reason)
{
    if (s->state != SEC_FAILED) {
        s->state = SEC_FAILED;
        s->err = err;
        s->reason = reason;
    }
    return s->err;
}

static int emit(sec_session *s, uint8_t type, const uint8_t *payload,
                size_t len)
{
    uint8_t *frame;
    size_t flen;
    int err = proto_frame_build(type, payload, len, &frame, &flen);
    if (err != 0)
        return err;
    return s->cb.out(s->ctx, frame, flen);
}

static int on_frame(void *ctx, uint8_t type, const uint8_t *payload,
                    size_t len);

int sec_new(sec_session **out, const sec_config *cfg, int initiator,
            const sec_callbacks *cb, void *ctx)
{
    sec_session *s;

    *out = NULL;
    if (cfg == NULL || cb == NULL || cb->out == NULL || cb->msg == NULL ||
        cfg->max_frame > PROTO_FRAME_MAX ||
        (cfg->max_frame != 0 && cfg->max_frame < SEC_HANDSHAKE_FRAME_MAX) ||
        (cfg->link != PROTO_LINK_PEER && cfg->link != PROTO_LINK_CONTROL))
        return SG_EINVAL;
    if (sodium_init() < 0)
        return SG_ECRYPTO;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SG_ENOMEM;
    s->cfg = *cfg;
    s->cfg.name[PROTO_NAME_MAX] = '\0';
    if (s->cfg.max_frame == 0)
        s->cfg.max_frame = PROTO_FRAME_MAX;
    s->cb = *cb;
    s->ctx = ctx;
    s->initiator = initiator != 0;
    s->state = SEC_NEW;
    s->reason = "";
    proto_deframer_init(&s->dfr, SEC_HANDSHAKE_FRAME_MAX, on_frame, s);
    crypto_kx_keypair(s->kx_pk, s->kx_sk);
    *out = s;
    return 0;
}

void sec_free(sec_session *s)
{
    if (s == NULL)
        return;
    proto_deframer_free(&s->dfr);
    free(s->my_hello);
    sodium_memzero(s, sizeof(*s));
    free(s);
}

int sec_start(sec_session *s)
{
    proto_hello h;
    int err;

    assert(s->state == SEC_NEW);
    memset(&h, 0, sizeof(h));
    h.version = PROTO_VERSION;
    h.link = s->initiator ? s->cfg.link : PROTO_LINK_PEER;
    h.role = s->cfg.role;
    memcpy(h.chain_id, s->cfg.chain_id, 32);
    memcpy(h.identity, s->cfg.identity_pk, 32);
    memcpy(h.kx_pub, s->kx_pk, 32);
    randombytes_buf(h.challenge, sizeof(h.challenge));
    h.listen_port = s->cfg.listen_port;
    memcpy(h.name, s->cfg.name, sizeof(h.name));
    err = proto_hello_encode(&h, &s->my_hello, &s->my_hello_len);
    if (err != 0)
        return fail(s, err, "cannot encode HELLO");
    s->state = SEC_HELLO_WAIT;
    err = emit(s, PROTO_MSG_HELLO, s->my_hello, s->my_hello_len);
    if (err != 0)
        return fail(s, err, "cannot send HELLO");
    return 0;
}

/* Session keys from crypto_kx, then keyed by the cluster key and bound to
 * the transcript: a stranger who completes the key exchange still cannot
 * derive them. */
static int derive_keys(sec_session *s)
{
    uint8_t rx[32], tx[32];
    crypto_generichash_state st;
    int rc;

    if (s->initiator)
        rc = crypto_kx_client_session_keys(rx, tx, s->kx_pk, s->kx_sk,
                                           s->peer.kx_pub);
    else
        rc = crypto_kx_server_session_keys(rx, tx, s->kx_pk, s->kx_sk,
                                           s->peer.kx_pub);
    if (rc != 0)
        return SG_EAUTH;
    crypto_generichash_init(&st, s->cfg.cluster_key, SEC_KEY_BYTES, 32);
    crypto_generichash_update(&st, rx, 32);
    crypto_generichash_update(&st, s->transcript, 32);
    crypto_generichash_final(&st, s->key_rx, 32);
    crypto_generichash_init(&st, s->cfg.cluster_key, SEC_KEY_BYTES, 32);
    crypto_generichash_update(&st, tx, 32);
    crypto_generichash_update(&st, s->transcript, 32);
    crypto_generichash_final(&st, s->key_tx, 32);
    sodium_memzero(rx, sizeof(rx));
    sodium_memzero(tx, sizeof(tx));
    sodium_memzero(s->kx_sk, sizeof(s->kx_sk));
    return 0;
}

static void transcript(sec_session *s, const uint8_t *theirs, size_t len)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    if (s->initiator) {
        crypto_hash_sha256_update(&st, s->my_hello, s->my_hello_len);
        crypto_hash_sha256_update(&st, theirs, len);
    } else {
        crypto_hash_sha256_update(&st, theirs, len);
        crypto_hash_sha256_update(&st, s->my_hello, s->my_hello_len);
    }
    crypto_hash_sha256_final(&st, s->transcript);
    free(s->my_hello);
    s->my_hello = NULL;
}

/* What an AUTH signs and MACs: T || role tag. */
static void auth_input(const sec_session *s, int from_initiator,
                       uint8_t out[33])
{
    memcpy(out, s->transcript, 32);
    out[32] = from_initiator ? 'I' : 'R';
}

static int send_auth(sec_session *s)
{
    proto_auth a;
    uint8_t in[33];
    uint8_t *p;
    size_t len;
    int err;

    auth_input(s, s->initiator, in);
    crypto_auth_hmacsha256(a.mac, in, sizeof(in), s->cfg.cluster_key);
    crypto_sign_detached(a.sig, NULL, in, sizeof(in), s->cfg.identity_sk);
    err = proto_auth_encode(&a, &p, &len);
    if (err != 0)
        return err;
    err = emit(s, PROTO_MSG_AUTH, p, len);
    free(p);
    return err;
}

static int on_hello(sec_session *s, const uint8_t *payload, size_t len)
{
    int err = proto_hello_decode(payload, len, &s->peer);
    if (err != 0)
        return fail(s, err, "malformed HELLO");
    if (s->peer.version != PROTO_VERSION)
        return fail(s, SG_EAUTH, "protocol version mismatch");
    if (sodium_memcmp(s->peer.chain_id, s->cfg.chain_id, 32) != 0)
        return fail(s, SG_EAUTH, "chain id mismatch (another chain)");
    if (!s->initiator && s->peer.link != PROTO_LINK_PEER &&
        s->peer.link != PROTO_LINK_CONTROL)
        return fail(s, SG_EPROTO, "unknown link type in HELLO");
    s->have_peer = 1;
    transcript(s, payload, len);
    err = derive_keys(s);
    if (err != 0)
        return fail(s, err, "bad key exchange public key");
    s->state = SEC_AUTH_WAIT;
    err = send_auth(s);
    if (err != 0)
        return fail(s, err, "cannot send AUTH");
    return 0;
}

static int on_auth(sec_session *s, const uint8_t *payload, size_t len)
{
    proto_auth a;
    uint8_t in[33];
    int err = proto_auth_decode(payload, len, &a);
    if (err != 0)
        return fail(s, err, "malformed AUTH");
    auth_input(s, !s->initiator, in);
    if (crypto_auth_hmacsha256_verify(a.mac, in, sizeof(in),
                                      s->cfg.cluster_key) != 0)
        return fail(s, SG_EAUTH, "AUTH mac does not verify (no cluster key)");
    if (crypto_sign_verify_detached(a.sig, in, sizeof(in),
                                    s->peer.identity) != 0)
        return fail(s, SG_EAUTH, "AUTH signature does not verify");
    s->state = SEC_READY;
    /* Authenticated: from here on frames may be as large as configured. */
    s->dfr.max_frame = s->cfg.max_frame;
    if (s->cb.ready != NULL) {
        err = s->cb.ready(s->ctx);
        if (err != 0)
            return fail(s, err, "stopped by the ready callback");
    }
    return 0;
}

static void nonce_of(uint64_t n, uint8_t nonce[12])
{
    memset(nonce, 0, 12);
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(n >> (8 * i));
}

static int inner_type_ok(uint8_t type)
{
    return proto_msg_type_known(type) && type != PROTO_MSG_HELLO &&
           type != PROTO_MSG_AUTH && type != PROTO_MSG_SEALED;
}

static int on_sealed(sec_session *s, const uint8_t *c, size_t clen)
{
    uint8_t nonce[12];
    uint8_t *m;
    unsigned long long mlen;
    int err;

    if (clen < 1 + SEC_TAG_BYTES)
        return fail(s, SG_ECRYPTO, "sealed frame too short");
    if (s->n_rx == UINT64_MAX)
        return fail(s, SG_ECRYPTO, "receive nonce exhausted");
    m = malloc(clen);
    if (m == NULL)
        return fail(s, SG_ENOMEM, "out of memory opening a frame");
    nonce_of(s->n_rx, nonce);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(m, &mlen, NULL, c, clen,
                                                  NULL, 0, nonce,
                                                  s->key_rx) != 0) {
        free(m);
        return fail(s, SG_ECRYPTO,
                    "sealed frame failed to open (tampered, replayed or reordered)");
    }
    s->n_rx++;
    if (!inner_type_ok(m[0])) {
        free(m);
        return fail(s, SG_EPROTO, "unknown or forbidden inner message type");
    }
    err = s->cb.msg(s->ctx, m[0], m + 1, (size_t)mlen - 1);
    free(m);
    if (err != 0)
        return fail(s, err, "stopped by the message callback");
    return 0;
}

static int on_frame(void *ctx, uint8_t type, const uint8_t *payload,
                    size_t len)
{
    sec_session *s = ctx;

    switch (s->state) {
    case SEC_HELLO_WAIT:
        if (type != PROTO_MSG_HELLO)
            return fail(s, SG_EPROTO, "expected HELLO");
        return on_hello(s, payload, len);
    case SEC_AUTH_WAIT:
        if (type != PROTO_MSG_AUTH)
            return fail(s, SG_EPROTO, "expected AUTH");
        return on_auth(s, payload, len);
    case SEC_READY:
        if (type != PROTO_MSG_SEALED)
            return fail(s, SG_EPROTO, "clear-text message after handshake");
        return on_sealed(s, payload, len);
    case SEC_NEW:
    case SEC_FAILED:
        break;
    }
    return fail(s, SG_EPROTO, "data in a dead session");
}

int sec_feed(sec_session *s, const void *bytes, size_t len)
{
    int err;

    assert(s->state != SEC_NEW);
    if (s->state == SEC_FAILED)
        return s->err;
    err = proto_deframer_feed(&s->dfr, bytes, len);
    if (err != 0 && s->state != SEC_FAILED)
        fail(s, err, err == SG_ETOOBIG ? "frame over the size limit"
                                       : "bad framing");
    return err;
}

int sec_send(sec_session *s, uint8_t type, const void *payload, size_t len)
{
    uint8_t nonce[12];
    uint8_t *frame;
    unsigned long long clen;
    size_t flen;
    int err;

    if (s->state != SEC_READY)
        return s->state == SEC_FAILED ? s->err : SG_EPROTO;
    if (!inner_type_ok(type))
        return SG_EINVAL;
    if (len > SEC_PAYLOAD_MAX || len + 2 + SEC_TAG_BYTES > s->cfg.max_frame)
        return SG_ETOOBIG;
    if (s->n_tx == UINT64_MAX)
        return fail(s, SG_ECRYPTO, "send nonce exhausted");
    flen = PROTO_FRAME_HDR + 2 + len + SEC_TAG_BYTES;
    frame = malloc(flen);
    if (frame == NULL)
        return SG_ENOMEM;
    proto_le32_put(frame, (uint32_t)(flen - PROTO_FRAME_HDR));
    frame[PROTO_FRAME_HDR] = PROTO_MSG_SEALED;
    frame[PROTO_FRAME_HDR + 1] = type;
    if (len > 0)
        memcpy(frame + PROTO_FRAME_HDR + 2, payload, len);
    nonce_of(s->n_tx, nonce);
    /* libsodium encrypts in place when c == m. */
    crypto_aead_chacha20poly1305_ietf_encrypt(
        frame + PROTO_FRAME_HDR + 1, &clen, frame + PROTO_FRAME_HDR + 1,
        1 + len, NULL, 0, NULL, nonce, s->key_tx);
    assert(clen == 1 + len + SEC_TAG_BYTES);
    s->n_tx++;
    err = s->cb.out(s->ctx, frame, flen);
    if (err != 0)
        return fail(s, err, "output refused a frame");
    return 0;
}

enum sec_state sec_get_state(const sec_session *s) { return s->state; }
int sec_is_initiator(const sec_session *s) { return s->initiator; }

uint8_t sec_link(const sec_session *s)
{
    if (s->initiator)
        return s->cfg.link;
    return s->have_peer ? s->peer.link : PROTO_LINK_PEER;
}

const proto_hello *sec_peer_hello(const sec_session *s)
{
    return s->have_peer ? &s->peer : NULL;
}

const char *sec_reason(const sec_session *s) { return s->reason; }
uint64_t sec_rx_count(const sec_session *s) { return s->n_rx; }
uint64_t sec_tx_count(const sec_session *s) { return s->n_tx; }
