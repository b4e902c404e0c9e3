/* Fuzzes the secure session's receiving side as a stranger sees it: bytes
 * fed in pieces (the first input byte picks the piece size) to a fresh
 * responder.  Whatever arrives, every feed answers 0 or a documented code,
 * an error leaves the session failed for good, and the session never gets
 * to READY or delivers a message (that would need the cluster key). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/base/err.h"
#include "common/link/secure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int out_cb(void *ctx, uint8_t *frame, size_t len)
{
    (void)ctx;
    (void)len;
    free(frame);
    return 0;
}

static int ready_cb(void *ctx)
{
    (void)ctx;
    abort();
}

static int msg_cb(void *ctx, uint8_t type, const uint8_t *p, size_t len)
{
    (void)ctx; (void)type; (void)p; (void)len;
    abort();
}

static int allowed(int rc)
{
    switch (rc) {
    case SG_EAUTH: case SG_EPROTO: case SG_EFRAME: case SG_ETOOBIG:
    case SG_ETRUNC: case SG_ETRAILING: case SG_EINVAL: case SG_ENOMEM:
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sec_callbacks cb = { out_cb, ready_cb, msg_cb };
    uint8_t seed[32];
    sec_config cfg;
    sec_session *s;
    size_t piece;
    int rc = 0;

    if (size == 0 || sodium_init() < 0)
        return 0;
    piece = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    memset(&cfg, 0, sizeof(cfg));
    memset(cfg.cluster_key, 0x11, 32);       /* chain id stays all zero */
    memset(seed, 0x22, 32);
    crypto_sign_seed_keypair(cfg.identity_pk, cfg.identity_sk, seed);
    cfg.link = PROTO_LINK_PEER;
    strcpy(cfg.name, "fuzz");
    if (sec_new(&s, &cfg, 0, &cb, NULL) != 0 || sec_start(s) != 0)
        abort();
    for (size_t off = 0; off < size && rc == 0; off += piece) {
        size_t k = size - off < piece ? size - off : piece;
        rc = sec_feed(s, data + off, k);
    }
    if (rc != 0 && (!allowed(rc) || sec_get_state(s) != SEC_FAILED ||
                    sec_feed(s, "x", 1) != rc || sec_reason(s)[0] == '\0'))
        abort();
    if (sec_get_state(s) == SEC_READY)
        abort();
    sec_free(s);
    return 0;
}
