/*
 * evilpeer - a raw TCP client that misbehaves towards a daemon, for the
 * integration tests.  One scenario per run:
 *
 *   garbage   a frame of an unknown type, before any handshake
 *   oversize  a frame header announcing ~4 GiB
 *   tamper    a valid handshake, then a sealed frame with one byte flipped
 *   badpow    a valid handshake, then a block whose hash misses the target
 *   badbits   a valid handshake, then a block on genesis meeting its own
 *             bits, which are twice as easy as the retarget rule's (or twice
 *             as hard where easier would pass the limit)
 *   badtime   a valid handshake, then a block on genesis whose time is not
 *             above the median of its ancestors (genesis's time)
 *   future    a valid handshake, then a block on genesis stamped an hour
 *             ahead: early, not invalid, so the daemon must keep the link
 *   honest    a valid handshake, then nothing wrong (the control case: the
 *             daemon must keep the link open)
 *
 * It then waits up to --wait-ms for the daemon to close the connection.
 * Exit status: 0 when the daemon behaved as it should (closed the link for
 * the misbehaving scenarios, kept it open for honest), 1 when it did not,
 * 2 for usage or setup errors.  --from IP binds the client to a local
 * address first (127.0.0.2 on loopback), so bans of our IP cannot touch the
 * honest nodes on 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/core/asert.h"
#include "common/core/chain.h"
#include "common/base/clock.h"
#include "common/daemon/daemon.h"
#include "common/link/keys.h"
#include "common/base/err.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/link/secure.h"
#include "proto/frame.h"

typedef struct {
    int fd;
    int ready;
    int capture;                 /* keep the next frame instead of sending */
    uint8_t *captured;
    size_t captured_len;
} client;

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int on_out(void *ctx, uint8_t *frame, size_t len)
{
    client *c = ctx;
    if (c->capture) {
        c->capture = 0;
        c->captured = frame;
        c->captured_len = len;
        return 0;
    }
    int rc = write_all(c->fd, frame, len);
    free(frame);
    return rc == 0 ? 0 : SG_EIO;
}

static int on_ready(void *ctx)
{
    ((client *)ctx)->ready = 1;
    return 0;
}

static int on_msg(void *ctx, uint8_t type, const uint8_t *p, size_t len)
{
    (void)ctx; (void)type; (void)p; (void)len;
    return 0;
}

/* Reads (feeding the session if any) until the peer closes or the time is
 * up.  Returns 1 if it closed, 0 if not; stops early once *stop_flag. */
static int wait_closed(client *c, sec_session *s, int wait_ms, const int *stop_flag)
{
    int64_t deadline = clock_mono_ms() + wait_ms;
    uint8_t buf[65536];
    for (;;) {
        if (stop_flag && *stop_flag)
            return 0;
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return 1;
        if (n > 0 && s && sec_feed(s, buf, (size_t)n) != 0)
            return 1;            /* they sent something we cannot open */
    }
}

static int dial(const char *hostport, const char *from)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    struct sockaddr_in sa = { .sin_family = AF_INET };
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return -1;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (from) {
        struct sockaddr_in me = { .sin_family = AF_INET };
        if (inet_pton(AF_INET, from, &me.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&me, sizeof me) != 0) {
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int handshake(client *c, sec_session **out, const uint8_t ckey[32],
                     const uint8_t chain_id[32])
{
    sec_config cfg;
    sec_callbacks cb = { .out = on_out, .ready = on_ready, .msg = on_msg };
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.cluster_key, ckey, 32);
    memcpy(cfg.chain_id, chain_id, 32);
    crypto_sign_keypair(cfg.identity_pk, cfg.identity_sk);
    cfg.link = PROTO_LINK_PEER;
    cfg.role = ROLE_CONSUMER;
    snprintf(cfg.name, sizeof cfg.name, "evilpeer");
    if (sec_new(out, &cfg, 1, &cb, c) != 0 || sec_start(*out) != 0)
        return -1;
    if (wait_closed(c, *out, 10000, &c->ready) || !c->ready) {
        fprintf(stderr, "evilpeer: handshake did not complete\n");
        return -1;
    }
    return 0;
}

/* A block on the genesis with every field right except the proof of work. */
static int bad_pow_block(const chain_params *p, uint8_t **bytes, size_t *len)
{
    chain_config cc = { .params = p };
    chain *ch;
    proto_block b;
    uint8_t pk[32] = { 1 };
    chain_load_report rep;
    int rc = chain_open(&ch, &cc, &rep);
    if (rc != 0)
        return rc;
    rc = chain_template(ch, pk, (uint64_t)time(NULL), 0, &b);
    chain_free(ch);
    if (rc != 0)
        return rc;
    while (pow_check(&b.header) == 0)
        b.header.nonce++;
    rc = proto_block_encode(&b, bytes, len);
    proto_block_free(&b);
    return rc;
}

/* A block on the genesis with every field right, then `how` spoils one
 * rule and the proof of work is redone for the bits it ends up with. */
enum spoil { SPOIL_BITS, SPOIL_TIME, SPOIL_FUTURE };

static int spoiled_block(const chain_params *p, enum spoil how, uint8_t **bytes, size_t *len)
{
    chain_config cc = { .params = p };
    chain *ch;
    proto_block b;
    uint8_t pk[32] = { 2 };
    chain_load_report rep;
    u256 target, limit;
    int rc = chain_open(&ch, &cc, &rep);
    if (rc != 0)
        return rc;
    rc = chain_template(ch, pk, (uint64_t)time(NULL), 0, &b);
    chain_free(ch);
    if (rc != 0)
        return rc;
    if (how == SPOIL_BITS) {
        pow_bits_to_target(b.header.bits, &target);
        asert_pow_limit(&limit);
        u256_shl(&target, 1);
        if (u256_cmp(&target, &limit) > 0)
            u256_shr(&target, 2);
        b.header.bits = pow_target_to_bits(&target);
    } else if (how == SPOIL_TIME) {
        b.header.time = (uint32_t)p->genesis_time;
    } else {
        b.header.time = (uint32_t)time(NULL) + 3600;
    }
    b.header.nonce = 0;
    rc = pow_search_simple(&b.header, UINT64_C(1) << 32);
    if (rc == 0)
        rc = proto_block_encode(&b, bytes, len);
    proto_block_free(&b);
    return rc;
}

static int send_block(sec_session *s, int rc, uint8_t *blk, size_t len)
{
    if (rc != 0)
        return -1;
    rc = sec_send(s, PROTO_MSG_BLOCK, blk, len);
    free(blk);
    return rc == 0 ? 0 : -1;
}

static int misbehave(client *c, sec_session **s, const char *what,
                     const uint8_t ckey[32], const chain_params *p)
{
    uint8_t chain_id[32];
    params_chain_id(p, chain_id);
    if (strcmp(what, "garbage") == 0) {
        static const uint8_t junk[] = { 12, 0, 0, 0, 0xee, 'n', 'o', 't', ' ',
                                        'a', ' ', 'f', 'r', 'a', 'm', 'e' };
        return write_all(c->fd, junk, sizeof junk);
    }
    if (strcmp(what, "oversize") == 0) {
        static const uint8_t hdr[] = { 0xf0, 0xff, 0xff, 0xff, PROTO_MSG_HELLO, 0 };
        return write_all(c->fd, hdr, sizeof hdr);
    }
    if (handshake(c, s, ckey, chain_id) != 0)
        return -1;
    if (strcmp(what, "honest") == 0)
        return 0;
    if (strcmp(what, "tamper") == 0) {
        uint8_t getaddr = 0;
        c->capture = 1;
        if (sec_send(*s, PROTO_MSG_GETADDR, &getaddr, 0) != 0 || !c->captured)
            return -1;
        c->captured[c->captured_len - 3] ^= 0x20;   /* inside the tag */
        int rc = write_all(c->fd, c->captured, c->captured_len);
        free(c->captured);
        return rc;
    }
    if (strcmp(what, "badpow") == 0) {
        uint8_t *blk;
        size_t len;
        if (bad_pow_block(p, &blk, &len) != 0)
            return -1;
        int rc = sec_send(*s, PROTO_MSG_BLOCK, blk, len);
        free(blk);
        return rc == 0 ? 0 : -1;
    }
    uint8_t *blk = NULL;
    size_t len = 0;
    static const char *const spoils[] = { "badbits", "badtime", "future" };
    for (int k = 0; k < 3; k++)
        if (strcmp(what, spoils[k]) == 0) {
            int rc = spoiled_block(p, (enum spoil)k, &blk, &len);
            return send_block(*s, rc, blk, len);
        }
    fprintf(stderr, "evilpeer: unknown scenario '%s'\n", what);
    return -1;
}

int main(int argc, char **argv)
{
    const char *connect_to = NULL, *ckey_path = NULL, *genesis = NULL, *from = NULL;
    const char *what = NULL;
    int wait_ms = 10000, bad_line = 0;
    uint8_t ckey[32];
    chain_params p;
    client c = { .fd = -1 };
    sec_session *s = NULL;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--connect") == 0 && v) connect_to = argv[++i];
        else if (strcmp(argv[i], "--cluster-key") == 0 && v) ckey_path = argv[++i];
        else if (strcmp(argv[i], "--genesis") == 0 && v) genesis = argv[++i];
        else if (strcmp(argv[i], "--from") == 0 && v) from = argv[++i];
        else if (strcmp(argv[i], "--wait-ms") == 0 && v) wait_ms = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !what) what = argv[i];
        else {
            fprintf(stderr, "evilpeer: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!connect_to || !ckey_path || !genesis || !what) {
        fprintf(stderr, "usage: evilpeer --connect IP:PORT --cluster-key FILE --genesis FILE "
                "[--from IP] [--wait-ms N] "
                "garbage|oversize|tamper|badpow|badbits|badtime|future|honest\n");
        return 2;
    }
    if (sodium_init() < 0 || keys_cluster_load(ckey_path, ckey) != 0 ||
        params_load(genesis, &p, &bad_line) != 0) {
        fprintf(stderr, "evilpeer: cannot load the cluster key or genesis\n");
        return 2;
    }
    c.fd = dial(connect_to, from);
    if (c.fd < 0) {
        fprintf(stderr, "evilpeer: cannot connect to %s: %s\n", connect_to, strerror(errno));
        params_free(&p);
        return 2;
    }
    int status = 2;
    if (misbehave(&c, &s, what, ckey, &p) == 0) {
        int closed = wait_closed(&c, s, wait_ms, NULL);
        /* An early block is no offence. */
        int honest = strcmp(what, "honest") == 0 || strcmp(what, "future") == 0;
        printf("evilpeer %s: the daemon %s the connection\n", what,
               closed ? "closed" : "kept");
        status = closed != honest ? 0 : 1;
    } else {
        fprintf(stderr, "evilpeer %s: could not carry out the scenario\n", what);
    }
    sec_free(s);
    close(c.fd);
    params_free(&p);
    return status;
}
