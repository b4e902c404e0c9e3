/* The network layer over real TCP on 127.0.0.1: several nets on one libuv
 * loop, hand-made clients (raw sockets, or the secure module by hand) in
 * threads, and the blocking ctl client.  Every wait is bounded, and every
 * test ends with uv_loop_close() == 0, i.e. no handle left open. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sodium.h>
#include <uv.h>

#include "common/link/ctl.h"
#include "common/base/err.h"
#include "common/daemon/log.h"
#include "common/daemon/net.h"
#include "common/link/secure.h"
#include "testutil.h"

/* Waits, running the loop, until cond holds; fails the test after ms. */
#define WAIT(w, cond, ms)                                                  \
    do {                                                                   \
        uint64_t dl_ = uv_now((w)->loop) + (ms);                           \
        while (!(cond) && uv_now((w)->loop) < dl_)                         \
            uv_run((w)->loop, UV_RUN_ONCE);                                \
        ck_assert_msg((cond), "timed out waiting for: %s", #cond);         \
    } while (0)

/* Runs the loop for ms regardless. */
static void spin(uv_loop_t *loop, uint64_t ms)
{
    uint64_t dl = uv_now(loop) + ms;
    while (uv_now(loop) < dl)
        uv_run(loop, UV_RUN_ONCE);
}

typedef struct {
    uv_loop_t *loop;
    char *dir;
    uint8_t key[32];
    uint8_t chain[32];
    int closed;
} world;

typedef struct {
    world *w;
    const char *name;
    net *n;
    logger *lg;
    char logpath[512];
    uint8_t pk[32], sk[64];
    int ready_ev, closed_ev;
    int msgs;
    uint8_t last_type;
    uint8_t last_payload[64];
    size_t last_len;
    net_peer *last_peer;
    uint32_t seq_next;        /* flood: next expected counter */
    int seq_errors;
    int ctl_ready, ctl_closed, stats_reqs, shutdowns, log_subs;
    int close_on_shutdown;    /* net_close from inside the callback */
} tnode;

static void world_init(world *w)
{
    ck_assert_int_ge(sodium_init(), 0);
    memset(w, 0, sizeof(*w));
    w->loop = malloc(sizeof(uv_loop_t));
    ck_assert_int_eq(uv_loop_init(w->loop), 0);
    w->dir = tu_mkdtemp();
    randombytes_buf(w->key, 32);
    randombytes_buf(w->chain, 32);
}

static void world_end(world *w)
{
    /* Let pending close callbacks run; anything still open is a leak. */
    for (int i = 0; i < 10; i++)
        uv_run(w->loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(w->loop), 0);
    free(w->loop);
    tu_rmtree(w->dir);
}

static void on_peer(void *ctx, net_peer *p, enum net_event ev)
{
    tnode *t = ctx;
    if (ev == NET_EV_READY)
        t->ready_ev++;
    else
        t->closed_ev++;
    ck_assert_int_eq(net_peer_link(p), PROTO_LINK_PEER);
}

static void on_msg(void *ctx, net_peer *p, uint8_t type,
                   const uint8_t *payload, size_t len)
{
    tnode *t = ctx;
    t->msgs++;
    t->last_type = type;
    t->last_peer = p;
    t->last_len = len < sizeof(t->last_payload) ? len : sizeof(t->last_payload);
    memcpy(t->last_payload, payload, t->last_len);
    if (type == PROTO_MSG_TX && len == 4) {
        uint32_t v = proto_le32_get(payload);
        if (v != t->seq_next)
            t->seq_errors++;
        t->seq_next = v + 1;
    }
}

static void on_control(void *ctx, net_peer *p, enum net_event ev)
{
    tnode *t = ctx;
    ck_assert_int_eq(net_peer_link(p), PROTO_LINK_CONTROL);
    if (ev == NET_EV_READY)
        t->ctl_ready++;
    else
        t->ctl_closed++;
}

static void on_net_closed(void *arg)
{
    ((world *)arg)->closed++;
}

static void on_control_msg(void *ctx, net_peer *p, uint8_t type,
                           const uint8_t *payload, size_t len)
{
    tnode *t = ctx;
    proto_stat items[2];
    proto_stats st = { 2, items };
    uint8_t *buf = NULL;
    size_t blen = 0;

    (void)payload;
    (void)len;
    if (type == PROTO_MSG_STATS_REQ) {
        t->stats_reqs++;
        memset(items, 0, sizeof(items));
        strcpy(items[0].key, "height");
        items[0].kind = PROTO_STAT_INT;
        items[0].i = 42;
        strcpy(items[1].key, "name");
        items[1].kind = PROTO_STAT_STR;
        snprintf(items[1].s, sizeof(items[1].s), "%s", t->name);
        ck_assert_int_eq(proto_stats_encode(&st, &buf, &blen), 0);
        ck_assert_int_eq(net_send(p, PROTO_MSG_STATS, buf, blen), 0);
        free(buf);
    } else if (type == PROTO_MSG_LOG_SUB) {
        t->log_subs++;            /* carried as it is: net has no log */
    } else if (type == PROTO_MSG_SHUTDOWN) {
        t->shutdowns++;
        if (t->close_on_shutdown)
            net_close(t->n, on_net_closed, t->w);
        else
            net_disconnect(p, "shutdown requested");
    }
}

typedef struct {
    const char *listen;           /* NULL: "127.0.0.1:0" */
    const char *const *boot;
    size_t n_boot;
    const uint8_t *key;           /* NULL: the world's */
    uint32_t ping_ms, ping_timeout_ms;
    const uint8_t *pk, *sk;       /* NULL: fresh identity */
    uint32_t max_peers, max_frame, send_buf_max;
    uint32_t max_inbound, max_handshakes_in;
} node_opts;

static void node_start(world *w, tnode *t, const char *name,
                       const node_opts *o)
{
    net_config c;

    memset(t, 0, sizeof(*t));
    t->w = w;
    t->name = name;
    snprintf(t->logpath, sizeof(t->logpath), "%s/%s.log", w->dir, name);
    ck_assert_int_eq(log_open(&t->lg, name, t->logpath, LOG_LEVEL_DEBUG), 0);
    if (o->pk != NULL) {
        memcpy(t->pk, o->pk, 32);
        memcpy(t->sk, o->sk, 64);
    } else {
        crypto_sign_keypair(t->pk, t->sk);
    }
    memset(&c, 0, sizeof(c));
    c.listen = o->listen ? o->listen : "127.0.0.1:0";
    c.bootstrap = o->boot;
    c.n_bootstrap = o->n_boot;
    memcpy(c.identity_pk, t->pk, 32);
    memcpy(c.identity_sk, t->sk, 64);
    memcpy(c.cluster_key, o->key ? o->key : w->key, 32);
    memcpy(c.chain_id, w->chain, 32);
    c.role = 1;
    c.name = name;
    c.log = t->lg;
    c.ctx = t;
    c.on_peer = on_peer;
    c.on_msg = on_msg;
    c.backoff_min_ms = 100;
    c.backoff_max_ms = 800;
    c.handshake_timeout_ms = 1500;
    c.ping_ms = o->ping_ms;
    c.ping_timeout_ms = o->ping_timeout_ms;
    c.max_peers = o->max_peers;
    c.max_inbound = o->max_inbound;
    c.max_handshakes_in = o->max_handshakes_in;
    c.max_frame = o->max_frame;
    c.send_buf_max = o->send_buf_max;
    ck_assert_int_eq(net_new(&t->n, w->loop, &c), 0);
    net_set_control_hook(t->n, on_control, on_control_msg, t);
    ck_assert_int_eq(net_start(t->n), 0);
    ck_assert_uint_ne(net_listen_port(t->n), 0);
}

/* Closes the nets given and waits for all of them. */
static void nodes_stop(world *w, tnode **ts, int n)
{
    int want = w->closed + n;
    for (int i = 0; i < n; i++)
        net_close(ts[i]->n, on_net_closed, w);
    WAIT(w, w->closed == want, 5000);
    for (int i = 0; i < n; i++) {
        log_close(ts[i]->lg);
        ts[i]->lg = NULL;
    }
}

static int log_has(const tnode *t, const char *needle)
{
    FILE *f = fopen(t->logpath, "r");
    char line[LOG_LINE_MAX + 2];
    int found = 0;
    if (f == NULL)
        return 0;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static net_peer *peer_with(net *n, const uint8_t id[32])
{
    for (net_peer *p = net_peer_first(n); p != NULL; p = net_peer_next(p))
        if (memcmp(net_peer_identity(p), id, 32) == 0)
            return p;
    return NULL;
}

static char *addr_of(const tnode *t, char *buf, size_t cap)
{
    snprintf(buf, cap, "127.0.0.1:%u", net_listen_port(t->n));
    return buf;
}

/* ---- honest links -------------------------------------------------- */

START_TEST(test_handshake_and_messages)
{
    world w;
    tnode a, b;
    node_opts oa = { 0 }, ob = { 0 };
    char addr[64];
    const char *boot[1];
    net_peer_info info;

    world_init(&w);
    node_start(&w, &a, "alpha", &oa);
    boot[0] = addr_of(&a, addr, sizeof(addr));
    ob.boot = boot;
    ob.n_boot = 1;
    node_start(&w, &b, "beta", &ob);
    WAIT(&w, net_peer_count(a.n) == 1 && net_peer_count(b.n) == 1, 5000);
    ck_assert_int_eq(a.ready_ev, 1);
    ck_assert_int_eq(b.ready_ev, 1);
    ck_assert_uint_eq(net_outbound_count(b.n), 1);

    net_peer *pa = peer_with(a.n, b.pk), *pb = peer_with(b.n, a.pk);
    ck_assert_ptr_nonnull(pa);
    ck_assert_ptr_nonnull(pb);
    ck_assert(net_peer_is_inbound(pa));
    ck_assert(!net_peer_is_inbound(pb));
    ck_assert_str_eq(net_peer_name(pa), "beta");
    net_peer_get_info(pb, &info);
    ck_assert_str_eq(info.name, "alpha");
    ck_assert_int_eq(info.state, NET_CONN_READY);
    ck_assert_uint_eq(info.listen_port, net_listen_port(a.n));
    ck_assert_str_eq(info.addr, addr);

    ck_assert_int_eq(net_send(pb, PROTO_MSG_INV, "from-b", 6), 0);
    WAIT(&w, a.msgs == 1, 5000);
    ck_assert_int_eq(a.last_type, PROTO_MSG_INV);
    ck_assert_mem_eq(a.last_payload, "from-b", 6);
    ck_assert_ptr_eq(a.last_peer, pa);
    ck_assert_uint_eq(net_broadcast(a.n, NULL, PROTO_MSG_TX, "from-a", 6), 1);
    ck_assert_uint_eq(net_broadcast(a.n, pa, PROTO_MSG_TX, "nobody", 6), 0);
    WAIT(&w, b.msgs == 1, 5000);
    ck_assert_int_eq(b.last_type, PROTO_MSG_TX);
    ck_assert_mem_eq(b.last_payload, "from-a", 6);
    /* Handshake and handled-inside types are not for the daemon to send
     * or see. */
    ck_assert_int_eq(net_send(pb, PROTO_MSG_HELLO, NULL, 0), SG_EINVAL);
    uint8_t *huge = calloc(1, NET_FRAME_MAX + 1);
    ck_assert_int_eq(net_send(pb, PROTO_MSG_BLOCK, huge, NET_FRAME_MAX + 1),
                     SG_ETOOBIG);
    free(huge);
    ck_assert(log_has(&b, "ready, outbound"));

    tnode *all[] = { &a, &b };
    nodes_stop(&w, all, 2);
    /* CLOSED is delivered for every READY peer, also while closing. */
    ck_assert_int_eq(a.closed_ev, 1);
    ck_assert_int_eq(b.closed_ev, 1);
    world_end(&w);
}
END_TEST

START_TEST(test_wrong_cluster_key_refused)
{
    world w;
    tnode a, b;
    node_opts oa = { 0 }, ob = { 0 };
    uint8_t other[32];
    char addr[64];
    const char *boot[1];

    world_init(&w);
    randombytes_buf(other, 32);
    node_start(&w, &a, "alpha", &oa);
    boot[0] = addr_of(&a, addr, sizeof(addr));
    ob.boot = boot;
    ob.n_boot = 1;
    ob.key = other;
    node_start(&w, &b, "stranger", &ob);
    WAIT(&w, log_has(&a, "refused") && log_has(&b, "refused"), 5000);
    ck_assert(log_has(&a, "no cluster key"));
    spin(w.loop, 300);
    ck_assert_uint_eq(net_peer_count(a.n), 0);
    ck_assert_uint_eq(net_peer_count(b.n), 0);
    ck_assert_int_eq(a.ready_ev + b.ready_ev, 0);
    /* Refused, not banned (see net.h). */
    ck_assert_uint_eq(net_ban_count(a.n), 0);
    tnode *all[] = { &a, &b };
    nodes_stop(&w, all, 2);
    world_end(&w);
}
END_TEST

/* ---- hand-made clients ---------------------------------------------- */

enum bad_mode {
    BAD_GARBAGE,       /* random bytes instead of a HELLO */
    BAD_OVERSIZE_PRE,  /* frame length over the handshake cap */
    BAD_TAMPER,        /* valid handshake, then a sealed frame altered */
    BAD_OVERSIZE,      /* valid handshake, then a frame over NET_FRAME_MAX */
    BAD_REPLAY,        /* valid handshake, then a sealed frame sent twice */
    BAD_CONTROL_MSG,   /* valid peer handshake, then SHUTDOWN on a peer link */
    BAD_MODES
};

typedef struct {
    uint16_t port;
    uint8_t key[32], chain[32];
    int mode;
    uint8_t pk[32], sk[64];
    /* results */
    int handshake_rc;
    int first_eof;            /* the node hung up on us */
    int second_eof;           /* the reconnection was closed */
    size_t second_bytes;      /* bytes received on the reconnection */
    int second_ready;         /* our side finished the handshake again */
    volatile int done;
} bad_client;

typedef struct {
    int fd;
    int tamper;               /* flip a byte of the next sealed frame */
    uint8_t *last;            /* copy of the last frame sent */
    size_t last_len;
    int ready;
    int werr;
} wire;

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int wire_out(void *ctx, uint8_t *frame, size_t len)
{
    wire *wr = ctx;
    if (wr->tamper && frame[PROTO_FRAME_HDR] == PROTO_MSG_SEALED) {
        frame[len - 3] ^= 0x40;
        wr->tamper = 0;
    }
    free(wr->last);
    wr->last = malloc(len);
    memcpy(wr->last, frame, len);
    wr->last_len = len;
    if (write_all(wr->fd, frame, len) != 0)
        wr->werr = 1;
    free(frame);
    return 0;
}

static int wire_ready(void *ctx)
{
    ((wire *)ctx)->ready = 1;
    return 0;
}

static int wire_msg(void *ctx, uint8_t type, const uint8_t *p, size_t len)
{
    (void)ctx; (void)type; (void)p; (void)len;
    return 0;   /* a rude peer: PINGs go unanswered */
}

static int raw_connect(uint16_t port)
{
    struct sockaddr_in sa;
    struct timeval tv = { 5, 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until the other side closes (1) or 5 s pass (0); counts bytes and,
 * with a session, feeds them to it. */
static int until_eof(int fd, sec_session *s, size_t *bytes)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 1;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return 0;
        if (bytes != NULL)
            *bytes += (size_t)r;
        if (s != NULL)
            sec_feed(s, buf, (size_t)r);
    }
}

static int client_session(bad_client *bc, wire *wr, sec_session **out)
{
    sec_config c;
    sec_callbacks cb = { wire_out, wire_ready, wire_msg };
    uint8_t buf[4096];
    int rc;

    memset(&c, 0, sizeof(c));
    memcpy(c.cluster_key, bc->key, 32);
    memcpy(c.chain_id, bc->chain, 32);
    memcpy(c.identity_pk, bc->pk, 32);
    memcpy(c.identity_sk, bc->sk, 64);
    c.link = PROTO_LINK_PEER;
    strcpy(c.name, "rogue");
    if ((rc = sec_new(out, &c, 1, &cb, wr)) != 0 || (rc = sec_start(*out)) != 0)
        return rc;
    while (!wr->ready) {
        ssize_t r = recv(wr->fd, buf, sizeof(buf), 0);
        if (r <= 0)
            return SG_ECLOSED;
        if ((rc = sec_feed(*out, buf, (size_t)r)) != 0)
            return rc;
    }
    return 0;
}

static void misbehave_once(bad_client *bc, wire *wr, sec_session *s)
{
    uint8_t junk[64];
    uint8_t hdr[PROTO_FRAME_HDR + 1];

    switch (bc->mode) {
    case BAD_GARBAGE:
        memset(junk, 0xA5, sizeof(junk));
        write_all(wr->fd, junk, sizeof(junk));
        break;
    case BAD_OVERSIZE_PRE:
        proto_le32_put(hdr, SEC_HANDSHAKE_FRAME_MAX + 1);
        hdr[PROTO_FRAME_HDR] = PROTO_MSG_HELLO;
        write_all(wr->fd, hdr, sizeof(hdr));
        break;
    case BAD_TAMPER:
        wr->tamper = 1;
        sec_send(s, PROTO_MSG_INV, "tampered", 8);
        break;
    case BAD_OVERSIZE:
        proto_le32_put(hdr, NET_FRAME_MAX + 1);
        hdr[PROTO_FRAME_HDR] = PROTO_MSG_SEALED;
        write_all(wr->fd, hdr, sizeof(hdr));
        break;
    case BAD_REPLAY:
        sec_send(s, PROTO_MSG_INV, "once", 4);
        write_all(wr->fd, wr->last, wr->last_len);
        break;
    case BAD_CONTROL_MSG:
        sec_send(s, PROTO_MSG_SHUTDOWN, NULL, 0);
        break;
    }
}

static int needs_handshake(int mode)
{
    return mode != BAD_GARBAGE && mode != BAD_OVERSIZE_PRE;
}

static void *bad_client_main(void *arg)
{
    bad_client *bc = arg;
    wire wr = { .fd = -1 };
    sec_session *s = NULL;

    wr.fd = raw_connect(bc->port);
    if (wr.fd < 0)
        goto out;
    if (needs_handshake(bc->mode)) {
        bc->handshake_rc = client_session(bc, &wr, &s);
        if (bc->handshake_rc != 0)
            goto out;
    }
    misbehave_once(bc, &wr, s);
    bc->first_eof = until_eof(wr.fd, NULL, NULL);
    close(wr.fd);
    sec_free(s);
    s = NULL;
    free(wr.last);
    memset(&wr, 0, sizeof(wr));

    /* Come back, same identity: a banned address is closed before any
     * byte; a banned identity right after the handshake. */
    wr.fd = raw_connect(bc->port);
    if (wr.fd < 0) {
        bc->second_eof = 1;
        goto out;
    }
    if (needs_handshake(bc->mode)) {
        sec_config c;
        sec_callbacks cb = { wire_out, wire_ready, wire_msg };
        memset(&c, 0, sizeof(c));
        memcpy(c.cluster_key, bc->key, 32);
        memcpy(c.chain_id, bc->chain, 32);
        memcpy(c.identity_pk, bc->pk, 32);
        memcpy(c.identity_sk, bc->sk, 64);
        c.link = PROTO_LINK_PEER;
        sec_new(&s, &c, 1, &cb, &wr);
        sec_start(s);
    }
    bc->second_eof = until_eof(wr.fd, s, &bc->second_bytes);
    bc->second_ready = wr.ready;
out:
    if (wr.fd >= 0)
        close(wr.fd);
    sec_free(s);
    free(wr.last);
    __atomic_store_n(&bc->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

START_TEST(test_misbehaving_client_banned)
{
    world w;
    tnode a, b;
    node_opts oa = { 0 }, ob = { 0 };
    char addr[64];
    const char *boot[1];
    bad_client bc;
    pthread_t th;
    int mode = _i;

    world_init(&w);
    node_start(&w, &a, "alpha", &oa);
    boot[0] = addr_of(&a, addr, sizeof(addr));
    ob.boot = boot;
    ob.n_boot = 1;
    node_start(&w, &b, "beta", &ob);
    WAIT(&w, net_peer_count(a.n) == 1 && net_peer_count(b.n) == 1, 5000);

    memset(&bc, 0, sizeof(bc));
    bc.port = net_listen_port(a.n);
    memcpy(bc.key, w.key, 32);
    memcpy(bc.chain, w.chain, 32);
    crypto_sign_keypair(bc.pk, bc.sk);
    bc.mode = mode;
    ck_assert_int_eq(pthread_create(&th, NULL, bad_client_main, &bc), 0);
    WAIT(&w, __atomic_load_n(&bc.done, __ATOMIC_SEQ_CST), 20000);
    pthread_join(th, NULL);

    ck_assert_int_eq(bc.handshake_rc, 0);
    ck_assert_msg(bc.first_eof, "misbehaving client was not disconnected");
    ck_assert_msg(bc.second_eof, "banned client was not refused");
    ck_assert(log_has(&a, "misbehaving"));
    ck_assert_uint_gt(net_ban_count(a.n), 0);
    if (needs_handshake(mode)) {
        /* A loopback peer is banned by identity, not by IP: the second
         * handshake completes on its side, then the node hangs up. */
        ck_assert(!net_is_banned(a.n, "127.0.0.1"));
        WAIT(&w, log_has(&a, "identity is banned"), 5000);
        ck_assert_int_eq(a.ready_ev, 2);   /* beta, and the rogue once */
    } else {
        ck_assert(net_is_banned(a.n, "127.0.0.1"));
        ck_assert_uint_eq(bc.second_bytes, 0);   /* not even a HELLO */
        ck_assert_int_eq(a.ready_ev, 1);
    }
    switch (mode) {
    case BAD_TAMPER:
    case BAD_REPLAY:
        ck_assert(log_has(&a, "failed to open"));
        break;
    case BAD_OVERSIZE:
    case BAD_OVERSIZE_PRE:
        ck_assert(log_has(&a, "size limit"));
        break;
    case BAD_CONTROL_MSG:
        ck_assert(log_has(&a, "control message on a peer link"));
        ck_assert_int_eq(a.shutdowns, 0);
        break;
    }
    /* The rogue's bad message never reached the daemon (a replay's first,
     * genuine copy did). */
    int base = mode == BAD_REPLAY ? 1 : 0;
    ck_assert_int_eq(a.msgs, base);

    /* The honest link is untouched. */
    ck_assert_uint_eq(net_peer_count(a.n), 1);
    net_peer *pb = peer_with(b.n, a.pk);
    ck_assert_ptr_nonnull(pb);
    ck_assert_int_eq(net_send(pb, PROTO_MSG_INV, "still-ok", 8), 0);
    WAIT(&w, a.msgs == base + 1, 5000);
    ck_assert_mem_eq(a.last_payload, "still-ok", 8);

    tnode *all[] = { &a, &b };
    nodes_stop(&w, all, 2);
    world_end(&w);
}
END_TEST

/* A peer that authenticates and then never answers PING is dropped (not
 * banned); one that connects and says nothing hits the handshake timeout. */
typedef struct {
    uint16_t port;
    uint8_t key[32], chain[32];
    int silent_after_handshake;
    int handshake_rc;
    int eof;
    volatile int done;
} quiet_client;

static void *quiet_client_main(void *arg)
{
    quiet_client *qc = arg;
    bad_client bc;
    wire wr = { .fd = -1 };
    sec_session *s = NULL;

    memset(&bc, 0, sizeof(bc));
    memcpy(bc.key, qc->key, 32);
    memcpy(bc.chain, qc->chain, 32);
    crypto_sign_keypair(bc.pk, bc.sk);
    wr.fd = raw_connect(qc->port);
    if (wr.fd >= 0) {
        if (qc->silent_after_handshake)
            qc->handshake_rc = client_session(&bc, &wr, &s);
        qc->eof = until_eof(wr.fd, s, NULL);
        close(wr.fd);
    }
    sec_free(s);
    free(wr.last);
    __atomic_store_n(&qc->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

START_TEST(test_ping_and_handshake_timeouts)
{
    world w;
    tnode a;
    node_opts oa = { 0 };
    quiet_client qc;
    pthread_t th;

    world_init(&w);
    oa.ping_ms = 200;
    oa.ping_timeout_ms = 600;
    node_start(&w, &a, "alpha", &oa);
    for (int silent = 1; silent >= 0; silent--) {
        memset(&qc, 0, sizeof(qc));
        qc.port = net_listen_port(a.n);
        memcpy(qc.key, w.key, 32);
        memcpy(qc.chain, w.chain, 32);
        qc.silent_after_handshake = silent;
        ck_assert_int_eq(pthread_create(&th, NULL, quiet_client_main, &qc), 0);
        WAIT(&w, __atomic_load_n(&qc.done, __ATOMIC_SEQ_CST), 15000);
        pthread_join(th, NULL);
        ck_assert_int_eq(qc.handshake_rc, 0);
        ck_assert(qc.eof);
    }
    ck_assert(log_has(&a, "ping timed out"));
    ck_assert(log_has(&a, "handshake timed out"));
    ck_assert_uint_eq(net_ban_count(a.n), 0);
    tnode *all[] = { &a };
    nodes_stop(&w, all, 1);
    world_end(&w);
}
END_TEST

/* Thousands of small frames in one burst: all delivered, in order, over
 * several loop turns (the per-turn budget), and the link survives. */
typedef struct {
    uint16_t port;
    uint8_t key[32], chain[32];
    uint32_t count;
    int no_read;              /* after the handshake, never read again */
    int rc;
    volatile int sent;
    volatile int stop;
} flood_client;

static void *flood_main(void *arg)
{
    flood_client *fc = arg;
    bad_client bc;
    wire wr = { .fd = -1 };
    sec_session *s = NULL;
    uint8_t v[4];

    memset(&bc, 0, sizeof(bc));
    memcpy(bc.key, fc->key, 32);
    memcpy(bc.chain, fc->chain, 32);
    crypto_sign_keypair(bc.pk, bc.sk);
    wr.fd = raw_connect(fc->port);
    if (wr.fd < 0) {
        fc->rc = -1;
        goto out;
    }
    fc->rc = client_session(&bc, &wr, &s);
    if (fc->rc != 0)
        goto out;
    for (uint32_t i = 0; i < fc->count && fc->rc == 0; i++) {
        proto_le32_put(v, i);
        fc->rc = sec_send(s, PROTO_MSG_TX, v, 4);
    }
    __atomic_store_n(&fc->sent, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&fc->stop, __ATOMIC_SEQ_CST)) {
        uint8_t buf[4096];
        ssize_t r = fc->no_read ? 0 : recv(wr.fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0)
            sec_feed(s, buf, (size_t)r);
        else
            usleep(10000);
    }
out:
    if (wr.fd >= 0)
        close(wr.fd);
    sec_free(s);
    free(wr.last);
    __atomic_store_n(&fc->sent, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

START_TEST(test_flood_is_processed_in_turns)
{
    world w;
    tnode a;
    node_opts oa = { 0 };
    flood_client fc;
    pthread_t th;

    world_init(&w);
    node_start(&w, &a, "alpha", &oa);
    memset(&fc, 0, sizeof(fc));
    fc.port = net_listen_port(a.n);
    memcpy(fc.key, w.key, 32);
    memcpy(fc.chain, w.chain, 32);
    fc.count = 5000;
    ck_assert_int_eq(pthread_create(&th, NULL, flood_main, &fc), 0);
    WAIT(&w, a.msgs == 5000 || fc.rc != 0, 20000);
    ck_assert_int_eq(fc.rc, 0);
    ck_assert_int_eq(a.seq_errors, 0);
    ck_assert_uint_eq(a.seq_next, 5000);
    ck_assert_uint_eq(net_peer_count(a.n), 1);
    ck_assert_uint_eq(net_ban_count(a.n), 0);
    __atomic_store_n(&fc.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    WAIT(&w, net_peer_count(a.n) == 0, 5000);
    tnode *all[] = { &a };
    nodes_stop(&w, all, 1);
    world_end(&w);
}
END_TEST

/* A peer that stops reading is dropped once NET_SEND_BUF_MAX (here made
 * small) of unsent bytes pile up; it is not banned. */
START_TEST(test_slow_peer_dropped)
{
    world w;
    tnode a;
    node_opts oa = { 0 };
    flood_client fc;
    pthread_t th;
    static uint8_t block[4000];
    int rc = 0;
    long sends = 0;

    world_init(&w);
    oa.max_frame = 4096;
    oa.send_buf_max = 16384;
    node_start(&w, &a, "alpha", &oa);
    memset(&fc, 0, sizeof(fc));
    fc.port = net_listen_port(a.n);
    memcpy(fc.key, w.key, 32);
    memcpy(fc.chain, w.chain, 32);
    fc.no_read = 1;
    ck_assert_int_eq(pthread_create(&th, NULL, flood_main, &fc), 0);
    WAIT(&w, net_peer_count(a.n) == 1 || fc.rc != 0, 10000);
    ck_assert_int_eq(fc.rc, 0);
    net_peer *p = net_peer_first(a.n);
    ck_assert_int_eq(net_send(p, PROTO_MSG_TX, block, 4096), SG_ETOOBIG);
    while (rc == 0 && sends < 1000000) {
        rc = net_send(p, PROTO_MSG_TX, block, sizeof(block));
        sends++;
        if (sends % 64 == 0)
            uv_run(w.loop, UV_RUN_NOWAIT);
    }
    ck_assert_int_eq(rc, SG_EFULL);
    WAIT(&w, net_peer_count(a.n) == 0, 5000);
    ck_assert(log_has(&a, "too slow"));
    ck_assert_uint_eq(net_ban_count(a.n), 0);
    __atomic_store_n(&fc.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    tnode *all[] = { &a };
    nodes_stop(&w, all, 1);
    world_end(&w);
}
END_TEST

START_TEST(test_max_peers)
{
    world w;
    tnode a, b, c;
    node_opts oa = { 0 }, ob = { 0 }, oc = { 0 };
    char addr[64];
    const char *boot[1];

    world_init(&w);
    oa.max_peers = 1;
    node_start(&w, &a, "alpha", &oa);
    boot[0] = addr_of(&a, addr, sizeof(addr));
    ob.boot = oc.boot = boot;
    ob.n_boot = oc.n_boot = 1;
    node_start(&w, &b, "beta", &ob);
    WAIT(&w, net_peer_count(a.n) == 1, 5000);
    node_start(&w, &c, "gamma", &oc);
    WAIT(&w, log_has(&a, "too many peers"), 5000);
    spin(w.loop, 500);
    ck_assert_uint_eq(net_peer_count(a.n), 1);
    ck_assert_ptr_nonnull(peer_with(a.n, b.pk));
    ck_assert_int_eq(a.ready_ev, 1);
    ck_assert_uint_eq(net_ban_count(a.n), 0);
    tnode *all[] = { &a, &b, &c };
    nodes_stop(&w, all, 3);
    world_end(&w);
}
END_TEST

/* Whether the other side closed fd (a read returns 0 at once). */
static int closed_by_peer(int fd)
{
    char b[256];
    ssize_t r;
    while ((r = recv(fd, b, sizeof b, MSG_DONTWAIT)) > 0)
        ;
    return r == 0;
}

/* Inbound handshakes beyond the cap are closed on accept, before any key
 * exchange, and one finishing makes room; inbound peer links beyond their
 * cap are refused after the handshake, outbound ones unaffected. */
START_TEST(test_inbound_caps)
{
    world w;
    tnode a, b, c;
    node_opts oa = { 0 }, ob = { 0 }, oc = { 0 };
    char addr[64];
    const char *boot[1];
    int fd[4];

    world_init(&w);
    oa.max_handshakes_in = 2;
    oa.max_inbound = 1;
    node_start(&w, &a, "alpha", &oa);
    for (int i = 0; i < 2; i++) {
        fd[i] = raw_connect(net_listen_port(a.n));
        ck_assert_int_ge(fd[i], 0);
    }
    spin(w.loop, 200);
    fd[2] = raw_connect(net_listen_port(a.n));
    ck_assert_int_ge(fd[2], 0);
    WAIT(&w, log_has(&a, "too many handshakes under way"), 5000);
    spin(w.loop, 100);
    ck_assert(closed_by_peer(fd[2]));
    ck_assert(!closed_by_peer(fd[0]));
    ck_assert(!closed_by_peer(fd[1]));
    /* One silent client goes: room for one more. */
    close(fd[0]);
    spin(w.loop, 200);
    fd[3] = raw_connect(net_listen_port(a.n));
    ck_assert_int_ge(fd[3], 0);
    spin(w.loop, 200);
    ck_assert(!closed_by_peer(fd[3]));
    for (int i = 1; i < 4; i++)
        close(fd[i]);
    spin(w.loop, 200);

    boot[0] = addr_of(&a, addr, sizeof(addr));
    ob.boot = oc.boot = boot;
    ob.n_boot = oc.n_boot = 1;
    node_start(&w, &b, "beta", &ob);
    WAIT(&w, net_peer_count(a.n) == 1, 5000);
    node_start(&w, &c, "gamma", &oc);
    WAIT(&w, log_has(&a, "too many peers"), 5000);
    spin(w.loop, 300);
    ck_assert_uint_eq(net_peer_count(a.n), 1);
    ck_assert_ptr_nonnull(peer_with(a.n, b.pk));
    ck_assert_uint_eq(net_ban_count(a.n), 0);
    tnode *all[] = { &a, &b, &c };
    nodes_stop(&w, all, 3);
    world_end(&w);
}
END_TEST

/* ---- gossip, reconnection, duplicates ------------------------------- */

START_TEST(test_address_gossip)
{
    world w;
    tnode a, b, c;
    node_opts oa = { 0 }, ob = { 0 }, oc = { 0 };
    char addr_a[64], addr_b[64];
    const char *boot_b[1], *boot_c[1];

    world_init(&w);
    node_start(&w, &a, "alpha", &oa);
    boot_b[0] = addr_of(&a, addr_a, sizeof(addr_a));
    ob.boot = boot_b;
    ob.n_boot = 1;
    node_start(&w, &b, "beta", &ob);
    WAIT(&w, net_peer_count(b.n) == 1, 5000);
    /* C knows only B; B knows A: C must find A through B's ADDR. */
    boot_c[0] = addr_of(&b, addr_b, sizeof(addr_b));
    oc.boot = boot_c;
    oc.n_boot = 1;
    node_start(&w, &c, "gamma", &oc);
    WAIT(&w, peer_with(c.n, a.pk) != NULL && peer_with(c.n, b.pk) != NULL,
         10000);
    WAIT(&w, peer_with(a.n, c.pk) != NULL, 5000);
    ck_assert_uint_eq(net_peer_count(a.n), 2);
    ck_assert_uint_eq(net_peer_count(b.n), 2);
    ck_assert_uint_eq(net_peer_count(c.n), 2);
    ck_assert_uint_ge(net_addr_count(c.n), 2);
    tnode *all[] = { &a, &b, &c };
    nodes_stop(&w, all, 3);
    world_end(&w);
}
END_TEST

START_TEST(test_reconnect_after_restart)
{
    world w;
    tnode a, b;
    node_opts oa = { 0 }, ob = { 0 };
    char addr[64], listen[64];
    const char *boot[1];
    uint8_t pk[32], sk[64];

    world_init(&w);
    crypto_sign_keypair(pk, sk);
    oa.pk = pk;
    oa.sk = sk;
    node_start(&w, &a, "alpha", &oa);
    boot[0] = addr_of(&a, addr, sizeof(addr));
    ob.boot = boot;
    ob.n_boot = 1;
    node_start(&w, &b, "beta", &ob);
    WAIT(&w, net_peer_count(b.n) == 1, 5000);

    /* Alpha goes away ... */
    tnode *ta[] = { &a };
    nodes_stop(&w, ta, 1);
    WAIT(&w, net_peer_count(b.n) == 0, 5000);
    ck_assert_int_eq(b.closed_ev, 1);
    spin(w.loop, 500);   /* a few refused redials in between */

    /* ... and comes back on the same port. */
    snprintf(listen, sizeof(listen), "%s", addr);
    oa.listen = listen;
    node_start(&w, &a, "alpha", &oa);
    WAIT(&w, net_peer_count(b.n) == 1 && net_peer_count(a.n) == 1, 10000);
    ck_assert_ptr_nonnull(peer_with(b.n, pk));
    ck_assert_int_eq(b.ready_ev, 2);
    tnode *all[] = { &a, &b };
    nodes_stop(&w, all, 2);
    world_end(&w);
}
END_TEST

/* A partition cuts the links to the names denied, keeps them cut while
 * the denied peer redials (its bootstrap), leaves other links alone, and
 * a heal brings the link back at once. */
START_TEST(test_partition_and_heal)
{
    world w;
    tnode a, b, c;
    node_opts oa = { 0 }, ob = { 0 };
    char addr[64];
    const char *boot[1];
    const char *deny[] = { "beta" };

    world_init(&w);
    node_start(&w, &a, "alpha", &oa);
    boot[0] = addr_of(&a, addr, sizeof(addr));
    ob.boot = boot;
    ob.n_boot = 1;
    node_start(&w, &b, "beta", &ob);
    node_start(&w, &c, "gamma", &ob);
    WAIT(&w, net_peer_count(a.n) == 2, 5000);

    ck_assert_int_eq(net_set_denied(a.n, deny, 1), 0);
    ck_assert_uint_eq(net_denied_count(a.n), 1);
    WAIT(&w, net_peer_count(b.n) == 0 && net_peer_count(a.n) == 1, 5000);
    /* Beta keeps redialing (backoff 100..800 ms) and is refused each time. */
    spin(w.loop, 1500);
    ck_assert_uint_eq(net_peer_count(a.n), 1);
    ck_assert_uint_eq(net_peer_count(c.n), 1);
    ck_assert(log_has(&a, "partitioned from it"));
    ck_assert_uint_eq(net_ban_count(a.n), 0);

    ck_assert_int_eq(net_set_denied(a.n, NULL, 0), 0);
    WAIT(&w, net_peer_count(a.n) == 2 && net_peer_count(b.n) == 1, 5000);
    tnode *all[] = { &a, &b, &c };
    nodes_stop(&w, all, 3);
    world_end(&w);
}
END_TEST

START_TEST(test_duplicate_links_settle)
{
    world w;
    tnode a, b;
    node_opts oa = { 0 }, ob = { 0 };
    char addr_a[64], addr_b[64], listen_a[64];
    const char *boot_a[1], *boot_b[1];
    uv_tcp_t probe;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    struct sockaddr_in any;

    world_init(&w);
    /* Reserve a port for A so that B can be told about it first. */
    uv_tcp_init(w.loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &any);
    ck_assert_int_eq(uv_tcp_bind(&probe, (struct sockaddr *)&any, 0), 0);
    uv_tcp_getsockname(&probe, (struct sockaddr *)&ss, &len);
    snprintf(addr_a, sizeof(addr_a), "127.0.0.1:%u",
             ntohs(((struct sockaddr_in *)&ss)->sin_port));
    uv_close((uv_handle_t *)&probe, NULL);
    spin(w.loop, 10);

    /* Both dial each other at once. */
    boot_b[0] = addr_a;
    ob.boot = boot_b;
    ob.n_boot = 1;
    node_start(&w, &b, "beta", &ob);
    boot_a[0] = addr_of(&b, addr_b, sizeof(addr_b));
    snprintf(listen_a, sizeof(listen_a), "%s", addr_a);
    oa.listen = listen_a;
    oa.boot = boot_a;
    oa.n_boot = 1;
    node_start(&w, &a, "alpha", &oa);
    WAIT(&w, net_peer_count(a.n) == 1 && net_peer_count(b.n) == 1, 10000);
    /* One link survives and stays; nobody keeps redialing. */
    spin(w.loop, 2000);
    ck_assert_uint_eq(net_peer_count(a.n), 1);
    ck_assert_uint_eq(net_peer_count(b.n), 1);
    int ra = a.ready_ev, rb = b.ready_ev;
    spin(w.loop, 1500);
    ck_assert_int_eq(a.ready_ev, ra);
    ck_assert_int_eq(b.ready_ev, rb);
    ck_assert_int_le(a.ready_ev, 2);
    net_peer *pa = peer_with(a.n, b.pk), *pb = peer_with(b.n, a.pk);
    ck_assert_ptr_nonnull(pa);
    ck_assert_ptr_nonnull(pb);
    /* The same TCP link seen from both ends. */
    ck_assert_int_ne(net_peer_is_inbound(pa), net_peer_is_inbound(pb));
    tnode *all[] = { &a, &b };
    nodes_stop(&w, all, 2);
    world_end(&w);
}
END_TEST

/* ---- control channel ------------------------------------------------ */

typedef struct {
    uint16_t port;
    uint8_t key[32], chain[32];
    int bad_key_rc;
    int connect_rc, stats_rc, sub_rc, shutdown_rc;
    int64_t height;
    char name[PROTO_STAT_STR_MAX + 1];
    char server_name[PROTO_NAME_MAX + 1];
    volatile int asked;       /* the link is up and has been used */
    volatile int checked;     /* the test saw it: go on to SHUTDOWN */
    volatile int done;
} ctl_client;

static void *ctl_main(void *arg)
{
    ctl_client *cc = arg;
    uint8_t wrong[32];
    ctl_auth auth = { cc->key, cc->chain, NULL, "test-ctl" };
    ctl_auth bad = { wrong, cc->chain, NULL, "intruder" };
    ctl *c = NULL;
    proto_stats st;

    memcpy(wrong, cc->key, 32);
    wrong[0] ^= 0xff;
    cc->bad_key_rc = ctl_connect(&c, "127.0.0.1", cc->port, &bad, 5000);
    ctl_close(c);
    c = NULL;

    char hostport[32];
    snprintf(hostport, sizeof(hostport), "127.0.0.1:%u", cc->port);
    cc->connect_rc = ctl_connect_addr(&c, hostport, &auth, 5000);
    if (cc->connect_rc != 0)
        goto out;
    snprintf(cc->server_name, sizeof(cc->server_name), "%s",
             ctl_server_hello(c)->name);
    cc->stats_rc = ctl_stats(c, &st, 5000);
    if (cc->stats_rc == 0) {
        for (uint32_t i = 0; i < st.n; i++) {
            if (strcmp(st.items[i].key, "height") == 0)
                cc->height = st.items[i].i;
            if (strcmp(st.items[i].key, "name") == 0)
                snprintf(cc->name, sizeof(cc->name), "%s", st.items[i].s);
        }
        proto_stats_free(&st);
    }
    cc->sub_rc = ctl_log_subscribe(c, LOG_LEVEL_INFO, 5000);
    __atomic_store_n(&cc->asked, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 1500 && !__atomic_load_n(&cc->checked, __ATOMIC_SEQ_CST); i++)
        usleep(10 * 1000);
    cc->shutdown_rc = ctl_shutdown(c, 5000);
out:
    ctl_close(c);
    __atomic_store_n(&cc->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

START_TEST(test_control_link)
{
    world w;
    tnode a;
    node_opts oa = { 0 };
    ctl_client cc;
    pthread_t th;

    world_init(&w);
    node_start(&w, &a, "alpha", &oa);
    a.close_on_shutdown = 1;
    memset(&cc, 0, sizeof(cc));
    cc.port = net_listen_port(a.n);
    memcpy(cc.key, w.key, 32);
    memcpy(cc.chain, w.chain, 32);
    ck_assert_int_eq(pthread_create(&th, NULL, ctl_main, &cc), 0);
    WAIT(&w, __atomic_load_n(&cc.asked, __ATOMIC_SEQ_CST) && a.log_subs == 1, 15000);
    ck_assert_uint_eq(net_control_count(a.n), 1);
    ck_assert_uint_eq(net_peer_count(a.n), 0);   /* not a peer */
    __atomic_store_n(&cc.checked, 1, __ATOMIC_SEQ_CST);
    WAIT(&w, __atomic_load_n(&cc.done, __ATOMIC_SEQ_CST), 15000);
    pthread_join(th, NULL);

    ck_assert_int_eq(cc.bad_key_rc, SG_EAUTH);
    ck_assert_int_eq(cc.connect_rc, 0);
    ck_assert_str_eq(cc.server_name, "alpha");
    ck_assert_int_eq(cc.stats_rc, 0);
    ck_assert_int_eq(cc.height, 42);
    ck_assert_str_eq(cc.name, "alpha");
    ck_assert_int_eq(cc.sub_rc, 0);
    ck_assert_int_eq(cc.shutdown_rc, 0);
    ck_assert_int_eq(a.stats_reqs, 1);
    ck_assert_int_eq(a.shutdowns, 1);
    /* SHUTDOWN closed the whole net from inside its callback. */
    WAIT(&w, w.closed == 1, 5000);
    ck_assert_int_eq(a.ctl_closed, 1);
    ck_assert_int_eq(a.ctl_ready, 1);
    ck_assert_int_eq(a.ready_ev, 0);
    log_close(a.lg);
    world_end(&w);
}
END_TEST

/* ---- addresses and configuration ------------------------------------ */

START_TEST(test_parse_addr)
{
    struct sockaddr_storage ss;
    char out[NET_ADDR_STR_MAX];

    ck_assert_int_eq(net_parse_addr("127.0.0.1:9000", 0, &ss), 0);
    net_format_addr((struct sockaddr *)&ss, out, sizeof(out));
    ck_assert_str_eq(out, "127.0.0.1:9000");
    ck_assert_int_eq(net_parse_addr("[::1]:65535", 0, &ss), 0);
    net_format_addr((struct sockaddr *)&ss, out, sizeof(out));
    ck_assert_str_eq(out, "[::1]:65535");
    ck_assert_int_eq(net_parse_addr("[::ffff:10.1.2.3]:7", 0, &ss), 0);
    net_format_addr((struct sockaddr *)&ss, out, sizeof(out));
    ck_assert_str_eq(out, "10.1.2.3:7");      /* mapped becomes IPv4 */
    ck_assert_int_eq(net_parse_addr(":8333", 0, &ss), 0);
    net_format_addr((struct sockaddr *)&ss, out, sizeof(out));
    ck_assert_str_eq(out, "0.0.0.0:8333");
    ck_assert_int_eq(net_parse_addr("localhost:1", 1, &ss), 0);
    ck_assert_int_eq(net_parse_addr("localhost:1", 0, &ss), SG_EINVAL);
    ck_assert_int_eq(net_parse_addr("::1:80", 0, &ss), SG_EINVAL);
    ck_assert_int_eq(net_parse_addr("1.2.3.4", 0, &ss), SG_EINVAL);
    ck_assert_int_eq(net_parse_addr("1.2.3.4:65536", 0, &ss), SG_EINVAL);
    ck_assert_int_eq(net_parse_addr("1.2.3.4:-1", 0, &ss), SG_EINVAL);
    ck_assert_int_eq(net_parse_addr("1.2.3.4:", 0, &ss), SG_EINVAL);
    ck_assert_int_eq(net_parse_addr("[::1:80", 0, &ss), SG_EINVAL);
    ck_assert_int_eq(net_parse_addr(NULL, 0, &ss), SG_EINVAL);
}
END_TEST

START_TEST(test_ipv6_link_and_bad_config)
{
    world w;
    tnode a, b;
    node_opts oa = { 0 }, ob = { 0 };
    char addr[64];
    const char *boot[1];
    net_config c;
    net *n = NULL;
    uv_tcp_t t6;
    struct sockaddr_in6 s6;

    world_init(&w);
    /* Skip the IPv6 half where the host has no ::1. */
    uv_tcp_init(w.loop, &t6);
    uv_ip6_addr("::1", 0, &s6);
    int have_v6 = uv_tcp_bind(&t6, (struct sockaddr *)&s6, 0) == 0;
    uv_close((uv_handle_t *)&t6, NULL);
    spin(w.loop, 10);
    if (have_v6) {
        oa.listen = "[::1]:0";
        node_start(&w, &a, "alpha", &oa);
        snprintf(addr, sizeof(addr), "[::1]:%u", net_listen_port(a.n));
        boot[0] = addr;
        ob.listen = "[::1]:0";
        ob.boot = boot;
        ob.n_boot = 1;
        node_start(&w, &b, "beta", &ob);
        WAIT(&w, net_peer_count(a.n) == 1 && net_peer_count(b.n) == 1, 5000);
        ck_assert_str_eq(net_peer_addr(peer_with(b.n, a.pk)), addr);
        tnode *all[] = { &a, &b };
        nodes_stop(&w, all, 2);
    }

    memset(&c, 0, sizeof(c));
    c.name = "x";
    c.listen = "nonsense";
    ck_assert_int_eq(net_new(&n, w.loop, &c), SG_EINVAL);
    c.listen = "127.0.0.1:0";
    c.max_frame = NET_FRAME_MAX + 1;
    ck_assert_int_eq(net_new(&n, w.loop, &c), SG_EINVAL);
    c.max_frame = 0;
    c.name = "a-name-much-longer-than-sixty-four-bytes-a-name-much-longer-than-64";
    ck_assert_int_eq(net_new(&n, w.loop, &c), SG_EINVAL);
    ck_assert_ptr_null(n);
    world_end(&w);
}
END_TEST

Suite *net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_parse_addr);
    tcase_add_test(tc, test_handshake_and_messages);
    tcase_add_test(tc, test_wrong_cluster_key_refused);
    tcase_add_loop_test(tc, test_misbehaving_client_banned, 0, BAD_MODES);
    tcase_add_test(tc, test_ping_and_handshake_timeouts);
    tcase_add_test(tc, test_flood_is_processed_in_turns);
    tcase_add_test(tc, test_slow_peer_dropped);
    tcase_add_test(tc, test_max_peers);
    tcase_add_test(tc, test_inbound_caps);
    tcase_add_test(tc, test_address_gossip);
    tcase_add_test(tc, test_reconnect_after_restart);
    tcase_add_test(tc, test_partition_and_heal);
    tcase_add_test(tc, test_duplicate_links_settle);
    tcase_add_test(tc, test_control_link);
    tcase_add_test(tc, test_ipv6_link_and_bad_config);
    suite_add_tcase(s, tc);
    return s;
}
