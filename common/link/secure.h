/*
 * secure.h - the authenticated, encrypted session between two daemons (or
 * a daemon and a control client), as a byte-level state machine: bytes in
 * through sec_feed, whole frames out through a callback.  It knows no
 * sockets, so it is tested alone and shared by the libuv network layer
 * (net.h) and the blocking control client (ctl.h).
 *
 * Handshake (each side does the same, no round trip is waited for before
 * sending HELLO):
 *   1. HELLO: version, link, role, chain id, Ed25519 identity, a fresh
 *      X25519 key (crypto_kx) and a fresh 32-byte challenge.  The other
 *      side's version and chain id must equal ours.
 *   2. On the other HELLO: T = SHA-256(initiator HELLO payload || responder
 *      HELLO payload).  Session keys come from crypto_kx (client side =
 *      initiator) and are then hashed with crypto_generichash keyed by the
 *      cluster key over (kx key || T), so only holders of the cluster key
 *      can derive them and they are bound to this transcript.
 *   3. AUTH: mac = HMAC-SHA256_clusterkey(T || tag), sig = Ed25519_identity(
 *      T || tag), tag "I" from the initiator, "R" from the responder (so a
 *      side's AUTH cannot be reflected back at it).  The other AUTH must
 *      verify (mac in constant time, sig against its HELLO identity).
 *   4. READY: every frame is PROTO_MSG_SEALED whose payload is the
 *      ChaCha20-Poly1305-IETF ciphertext of (inner type || inner payload).
 *      The nonce is a per-direction u64 counter, little-endian, zero-padded
 *      to 12 bytes, starting at 0 and never sent: a replayed, reordered,
 *      dropped or altered frame fails to open (SG_ECRYPTO).
 *
 * Frames before READY are limited to SEC_HANDSHAKE_FRAME_MAX bytes, so an
 * unauthenticated stranger cannot make us buffer megabytes.
 *
 * Errors are sticky: once sec_feed or sec_send failed the session is dead
 * (state SEC_FAILED) and sec_reason() says why in words for the log.
 *
 * Ownership: the session copies the config (secret keys included, wiped on
 * sec_free).  Frames handed to the out callback are malloc'd and owned by
 * the callback from then on (free() them, also on error).  Payload pointers
 * passed to the msg callback are valid only during the call.  Callbacks
 * must not free the session; a callback returning non-zero stops sec_feed,
 * which returns that value, and the session is then dead (the rest of the
 * input was not consumed).
 */
#ifndef SG_SECURE_H
#define SG_SECURE_H

#include <stddef.h>
#include <stdint.h>
#include "proto/frame.h"
#include "proto/msg.h"

#define SEC_KEY_BYTES 32
#define SEC_TAG_BYTES 16                  /* Poly1305 tag */
#define SEC_HANDSHAKE_FRAME_MAX 1024      /* HELLO and AUTH are far smaller */
/* Largest inner payload one sealed frame carries: a frame's length field
 * counts the SEALED type byte, the inner type byte, payload and tag. */
#define SEC_PAYLOAD_MAX (PROTO_FRAME_MAX - 2 - SEC_TAG_BYTES)

enum sec_state {
    SEC_NEW,         /* sec_start not called yet */
    SEC_HELLO_WAIT,  /* our HELLO sent, waiting for theirs */
    SEC_AUTH_WAIT,   /* our AUTH sent, waiting for theirs */
    SEC_READY,       /* sealed traffic both ways */
    SEC_FAILED,
};

typedef struct {
    uint8_t cluster_key[SEC_KEY_BYTES];
    uint8_t identity_pk[32];     /* Ed25519 */
    uint8_t identity_sk[64];     /* libsodium form (seed || pk) */
    uint8_t chain_id[32];
    uint8_t link;                /* enum proto_link we ask for (initiator) */
    uint8_t role;
    uint16_t listen_port;        /* advertised in HELLO; 0 if none */
    char name[PROTO_NAME_MAX + 1];
    uint32_t max_frame;          /* cap after READY; 0 = PROTO_FRAME_MAX */
} sec_config;

typedef struct {
    /* Takes ownership of one whole frame.  Non-zero fails the session. */
    int (*out)(void *ctx, uint8_t *frame, size_t len);
    /* Optional: the handshake completed; called before any sealed message
     * of the same input is delivered. */
    int (*ready)(void *ctx);
    /* One opened message (never HELLO, AUTH or SEALED). */
    int (*msg)(void *ctx, uint8_t type, const uint8_t *payload, size_t len);
} sec_callbacks;

typedef struct sec_session sec_session;

/* initiator: 1 for the side that connected.  0, SG_EINVAL, SG_ENOMEM or
 * SG_ECRYPTO (libsodium failed to initialise). */
int sec_new(sec_session **out, const sec_config *cfg, int initiator,
            const sec_callbacks *cb, void *ctx);
void sec_free(sec_session *s);
/* Sends our HELLO; call once, before feeding. */
int sec_start(sec_session *s);
/* Feeds received bytes in any split.  Returns 0, a negative SG_E* code
 * (SG_EAUTH: the other side is not one of us: no cluster key, no key for
 * the identity it claims, another chain id or protocol version;
 * SG_ECRYPTO: a sealed frame failed to open; SG_EPROTO: a message wrong for
 * the state; SG_EFRAME/SG_ETOOBIG/SG_ETRUNC...: bad framing or encoding),
 * or a callback's non-zero value.  net.h bans for everything but SG_EAUTH. */
int sec_feed(sec_session *s, const void *bytes, size_t len);
/* Seals one message and hands the frame to the out callback.  Only when
 * READY (else SG_EPROTO); payload up to SEC_PAYLOAD_MAX (else SG_ETOOBIG,
 * and the session stays usable). */
int sec_send(sec_session *s, uint8_t type, const void *payload, size_t len);

enum sec_state sec_get_state(const sec_session *s);
int sec_is_initiator(const sec_session *s);
/* The link the initiator asked for (enum proto_link); valid once the
 * other HELLO arrived (for the initiator: its own request). */
uint8_t sec_link(const sec_session *s);
/* The other side's HELLO, or NULL before it arrived. */
const proto_hello *sec_peer_hello(const sec_session *s);
/* Why the session failed, in words; "" while it has not. */
const char *sec_reason(const sec_session *s);
/* Sealed frames opened / sent so far (their nonce counters). */
uint64_t sec_rx_count(const sec_session *s);
uint64_t sec_tx_count(const sec_session *s);

#endif
