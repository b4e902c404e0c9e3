/*
 * bench_txinject - signed transfers for the throughput and propagation
 * benchmarks (scripts/bench_net.sh tx, prop), sent to one daemon over the
 * peer protocol.
 *
 *   bench_txinject keys --count K [--first F]
 *       prints the public keys of senders F..F+K-1 (hex, one a line; F
 *       defaults to 0) for the genesis' --alloc; the keys are derived from
 *       fixed seeds, so both modes agree.
 *   bench_txinject send --connect IP:PORT --cluster-key FILE --genesis FILE
 *                       --count K --per N [--first F]
 *       signs N transfers per sender F..F+K-1 (nonces 0..N-1, N <= 256, the
 *       mempool's nonce window) before connecting, then sends them round by
 *       round (nonce 0 of every sender, then nonce 1, ...) as fast as the
 *       socket takes them, and stays connected for --linger-ms (default
 *       60000) reading what the daemon sends, so the link is not dropped
 *       before the transfers are relayed.  Prints "start=TIME" (UTC, ms)
 *       as the first transfer goes out, then "sign_s=... send_s=...".
 *
 * Exit status 0, 1 when the daemon refused or dropped the link, 2 on usage.
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

#include "common/daemon/daemon.h"
#include "common/link/keys.h"
#include "common/base/clock.h"
#include "common/base/err.h"
#include "common/core/params.h"
#include "common/link/secure.h"
#include "common/core/tx.h"
#include "proto/msg.h"

typedef struct {
    int fd;
    int ready;
    int dead;
} client;

static void sender_key(unsigned i, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32] = { 's', 'g', 'b', 'e', 'n', 'c', 'h' };
    seed[28] = (uint8_t)(i >> 24);
    seed[29] = (uint8_t)(i >> 16);
    seed[30] = (uint8_t)(i >> 8);
    seed[31] = (uint8_t)i;
    crypto_sign_seed_keypair(pk, sk, seed);
}

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
    int rc = write_all(c->fd, frame, len);
    free(frame);
    if (rc != 0)
        c->dead = 1;
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

/* Reads what is there (waiting up to wait_ms for the first bytes). */
static void drain(client *c, sec_session *s, int wait_ms)
{
    uint8_t buf[65536];
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    while (!c->dead && poll(&pfd, 1, wait_ms) > 0) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || sec_feed(s, buf, (size_t)n) != 0) {
            c->dead = 1;
            return;
        }
        wait_ms = 0;
    }
}

static int dial(const char *hostport)
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
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Signs count * per transfers, round-major; each a malloc'd encoding. */
static int sign_all(unsigned first, unsigned count, unsigned per,
                    const uint8_t chain_id[32], proto_wr *enc)
{
    uint8_t (*pk)[32] = malloc((size_t)count * 32);
    uint8_t (*sk)[64] = malloc((size_t)count * 64);
    int rc = pk && sk ? 0 : SG_ENOMEM;

    for (unsigned i = 0; rc == 0 && i < count; i++)
        sender_key(first + i, pk[i], sk[i]);
    for (unsigned r = 0; rc == 0 && r < per; r++) {
        for (unsigned i = 0; rc == 0 && i < count; i++) {
            proto_tx tx;
            memset(&tx, 0, sizeof tx);
            tx.version = PROTO_TX_VERSION;
            tx.kind = PROTO_TX_TRANSFER;
            memcpy(tx.from, pk[i], 32);
            tx.nonce = r;
            memcpy(tx.u.pay.to, pk[(i + 1) % count], 32);
            tx.u.pay.amount = 1;
            rc = tx_sign(&tx, sk[i], chain_id);
            proto_wr *w = &enc[(size_t)r * count + i];
            proto_wr_init(w, PROTO_TX_MAX_SIZE);
            if (rc == 0) {
                proto_tx_write(w, &tx, 1);
                rc = w->err;
            }
        }
    }
    free(pk);
    free(sk);
    return rc;
}

static int handshake(client *c, sec_session **s, const uint8_t ckey[32],
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
    snprintf(cfg.name, sizeof cfg.name, "txinject");
    if (sec_new(s, &cfg, 1, &cb, c) != 0 || sec_start(*s) != 0)
        return -1;
    double deadline = clock_mono_s() + 10;
    while (!c->ready && !c->dead && clock_mono_s() < deadline)
        drain(c, *s, 100);
    return c->ready ? 0 : -1;
}

/* "start=YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, the daemons' log format) just
 * before the first transfer goes out: the benchmark times the network
 * from here, not from before the signing. */
static void print_start(void)
{
    struct timespec ts;
    struct tm tm;
    char buf[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("start=%s.%03ldZ\n", buf, ts.tv_nsec / 1000000);
    fflush(stdout);
}

static int send_mode(const char *connect_to, const char *ckey_path, const char *genesis,
                     unsigned first, unsigned count, unsigned per, int linger_ms)
{
    uint8_t ckey[32], chain_id[32];
    chain_params p;
    int bad_line = 0, rc = 1;
    size_t total = (size_t)count * per, sent = 0;
    proto_wr *enc = calloc(total, sizeof *enc);
    client c = { .fd = -1 };
    sec_session *s = NULL;

    if (!enc || keys_cluster_load(ckey_path, ckey) != 0 ||
        params_load(genesis, &p, &bad_line) != 0) {
        fprintf(stderr, "bench_txinject: cannot load the cluster key or genesis\n");
        goto out;
    }
    params_chain_id(&p, chain_id);
    double t0 = clock_mono_s();
    if (sign_all(first, count, per, chain_id, enc) != 0) {
        fprintf(stderr, "bench_txinject: signing failed\n");
        goto out;
    }
    double t1 = clock_mono_s();
    c.fd = dial(connect_to);
    if (c.fd < 0 || handshake(&c, &s, ckey, chain_id) != 0) {
        fprintf(stderr, "bench_txinject: cannot connect to %s\n", connect_to);
        goto out;
    }
    double t2 = clock_mono_s();
    print_start();
    for (; sent < total && !c.dead; sent++) {
        if (sec_send(s, PROTO_MSG_TX, enc[sent].p, enc[sent].len) != 0)
            break;
        if (sent % 64 == 63)
            drain(&c, s, 0);
    }
    double t3 = clock_mono_s();
    printf("sign_s=%.2f sent=%zu send_s=%.2f\n", t1 - t0, sent, t3 - t2);
    fflush(stdout);
    for (double end = clock_mono_s() + linger_ms / 1000.0; !c.dead && clock_mono_s() < end;)
        drain(&c, s, 200);
    rc = sent == total ? 0 : 1;
out:
    if (s)
        sec_free(s);
    if (c.fd >= 0)
        close(c.fd);
    for (size_t i = 0; enc && i < total; i++)
        proto_wr_free(&enc[i]);
    free(enc);
    return rc;
}

int main(int argc, char **argv)
{
    const char *connect_to = NULL, *ckey_path = NULL, *genesis = NULL;
    unsigned count = 0, per = 1, first = 0;
    int linger_ms = 60000;

    if (argc < 2 || sodium_init() < 0)
        goto usage;
    for (int i = 2; i < argc; i++) {
        int v = i + 1 < argc;
        if (strcmp(argv[i], "--connect") == 0 && v) connect_to = argv[++i];
        else if (strcmp(argv[i], "--cluster-key") == 0 && v) ckey_path = argv[++i];
        else if (strcmp(argv[i], "--genesis") == 0 && v) genesis = argv[++i];
        else if (strcmp(argv[i], "--count") == 0 && v) count = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--per") == 0 && v) per = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--first") == 0 && v) first = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--linger-ms") == 0 && v) linger_ms = atoi(argv[++i]);
        else goto usage;
    }
    if (count == 0 || count > 100000 || first > 100000)
        goto usage;
    if (strcmp(argv[1], "keys") == 0) {
        for (unsigned i = 0; i < count; i++) {
            uint8_t pk[32], sk[64];
            char hex[65];
            sender_key(first + i, pk, sk);
            sodium_bin2hex(hex, sizeof hex, pk, 32);
            printf("%s\n", hex);
        }
        return 0;
    }
    if (strcmp(argv[1], "send") == 0 && connect_to && ckey_path && genesis &&
        per >= 1 && per <= 256)
        return send_mode(connect_to, ckey_path, genesis, first, count, per, linger_ms);
usage:
    fprintf(stderr, "usage: bench_txinject keys --count K [--first F]\n"
            "       bench_txinject send --connect IP:PORT --cluster-key FILE "
            "--genesis FILE --count K --per N [--first F] [--linger-ms N]\n");
    return 2;
}
