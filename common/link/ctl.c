#define _GNU_SOURCE
#include "common/link/ctl.h"
#include "common/base/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "common/base/err.h"
#include "common/base/units.h"
#include "common/link/secure.h"

#define CTL_READ_CHUNK 65536

typedef struct ctl_frame {
    struct ctl_frame *next;
    uint8_t *bytes;
    size_t len, off;
} ctl_frame;

typedef struct ctl_line {
    struct ctl_line *next;
    proto_log_line line;
} ctl_line;

struct ctl {
    int fd;
    sec_session *sec;
    int ready;
    int connecting;          /* ctl_open: TCP connect still under way */
    int closed;              /* EOF from the daemon */
    int err;                 /* sticky */
    ctl_frame *out_head, *out_tail;
    proto_stats stats;
    int have_stats;
    ctl_line *log_head, *log_tail;
    /* The STORE_READ in progress: where its answer goes. */
    int sr_waiting, sr_done;
    uint64_t sr_offset, sr_size;
    uint8_t *sr_buf;
    size_t sr_cap, sr_got;
    proto_txlat txlat;       /* a TXLAT reply not yet handed out */
    int have_txlat;
    /* MINING requests sent and acks seen: the daemon answers in order, so
     * the ack that makes them equal answers the latest request, even after
     * an earlier one timed out. */
    uint64_t mining_sent, mining_acked;
    uint8_t mining_on;       /* the state the last ack reported */
    /* ctl_call: the answer type awaited (0: none) and its copy. */
    uint8_t call_type;
    int call_done;
    uint8_t *call_ans;
    size_t call_len;
    size_t log_n;
    uint64_t log_dropped;
    uint8_t rbuf[CTL_READ_CHUNK];
};

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
}

/* Milliseconds left for poll(): -1 forever, 0 when passed. */
static int remaining(int64_t deadline)
{
    int64_t left;
    if (deadline < 0)
        return -1;
    left = deadline - clock_mono_ms();
    return left <= 0 ? 0 : (int)(left > 1000000 ? 1000000 : left);
}

/* ---- session callbacks ---------------------------------------------- */

static int on_out(void *ctx, uint8_t *frame, size_t len)
{
    ctl *c = ctx;
    ctl_frame *f = malloc(sizeof(*f));
    if (f == NULL) {
        free(frame);
        return SG_ENOMEM;
    }
    f->next = NULL;
    f->bytes = frame;
    f->len = len;
    f->off = 0;
    if (c->out_tail != NULL)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
    return 0;
}

static int on_ready(void *ctx)
{
    ((ctl *)ctx)->ready = 1;
    return 0;
}

static int keep_log_line(ctl *c, const uint8_t *payload, size_t len)
{
    ctl_line *l = malloc(sizeof(*l));
    int rc;

    if (l == NULL)
        return SG_ENOMEM;
    rc = proto_log_line_decode(payload, len, &l->line);
    if (rc != 0) {
        free(l);
        return rc;
    }
    if (c->log_n >= CTL_LOG_QUEUE_MAX) {
        ctl_line *old = c->log_head;
        c->log_head = old->next;
        if (c->log_head == NULL)
            c->log_tail = NULL;
        free(old);
        c->log_n--;
        c->log_dropped++;
    }
    l->next = NULL;
    if (c->log_tail != NULL)
        c->log_tail->next = l;
    else
        c->log_head = l;
    c->log_tail = l;
    c->log_n++;
    return 0;
}

/* A STORE_DATA must answer the read asked for and fit where it goes. */
static int take_store_data(ctl *c, const uint8_t *payload, size_t len)
{
    proto_store_data d;

    if (proto_store_data_decode(payload, len, &d) != 0)
        return SG_EPROTO;
    if (!c->sr_waiting)
        return 0;              /* the answer to a read that timed out */
    if (d.offset != c->sr_offset || d.len > c->sr_cap)
        return SG_EPROTO;
    if (d.len > 0)
        memcpy(c->sr_buf, d.data, d.len);
    c->sr_got = d.len;
    c->sr_size = d.file_size;
    c->sr_waiting = 0;
    c->sr_done = 1;
    return 0;
}

/* A TXLAT reply; one arriving while an earlier one waits (the answer to a
 * timed-out request) is appended, so no record is lost. */
static int take_txlat(ctl *c, const uint8_t *payload, size_t len)
{
    proto_txlat m;
    proto_txlat_rec *items;

    if (proto_txlat_decode(payload, len, &m) != 0)
        return SG_EPROTO;
    if (!c->have_txlat) {
        c->txlat = m;
        c->have_txlat = 1;
        return 0;
    }
    items = m.n ? realloc(c->txlat.items, (c->txlat.n + (size_t)m.n) * sizeof *items) : NULL;
    if (m.n && !items) {
        proto_txlat_free(&m);
        return SG_ENOMEM;
    }
    if (m.n) {
        memcpy(items + c->txlat.n, m.items, m.n * sizeof *items);
        c->txlat.items = items;
        c->txlat.n += m.n;
    }
    c->txlat.dropped = m.dropped;
    c->txlat.left = m.left;
    proto_txlat_free(&m);
    return 0;
}

static int take_mining_ack(ctl *c, const uint8_t *payload, size_t len)
{
    proto_mining m;

    if (proto_mining_decode(payload, len, &m) != 0)
        return SG_EPROTO;
    if (c->mining_acked == c->mining_sent)
        return SG_EPROTO;      /* an answer to nothing we asked */
    c->mining_acked++;
    c->mining_on = m.on;
    return 0;
}

static int on_msg(void *ctx, uint8_t type, const uint8_t *payload, size_t len)
{
    ctl *c = ctx;

    switch (type) {
    case PROTO_MSG_PING:
        /* Answer with the same nonce: the payload is the PING's. */
        return sec_send(c->sec, PROTO_MSG_PONG, payload, len);
    case PROTO_MSG_STATS:
        proto_stats_free(&c->stats);
        c->have_stats = 0;
        if (proto_stats_decode(payload, len, &c->stats) != 0)
            return SG_EPROTO;
        c->have_stats = 1;
        return 0;
    case PROTO_MSG_LOG_LINE:
        return keep_log_line(c, payload, len) == 0 ? 0 : SG_EPROTO;
    case PROTO_MSG_TXLAT:
        return take_txlat(c, payload, len);
    case PROTO_MSG_STORE_DATA:
        return take_store_data(c, payload, len);
    case PROTO_MSG_MINING_ACK:
        return take_mining_ack(c, payload, len);
    }
    if (c->call_type != 0 && type == c->call_type && !c->call_done) {
        c->call_ans = len ? malloc(len) : NULL;
        if (len && !c->call_ans)
            return SG_ENOMEM;
        if (len)
            memcpy(c->call_ans, payload, len);
        c->call_len = len;
        c->call_done = 1;
    }
    return 0;   /* anything else is for newer clients; ignore it */
}

/* ---- socket I/O ------------------------------------------------------- */

static int fail(ctl *c, int err)
{
    if (c->err == 0)
        c->err = err;
    return c->err;
}

static int flush(ctl *c, int64_t deadline)
{
    struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

    while (c->out_head != NULL) {
        ctl_frame *f = c->out_head;
        ssize_t w = send(c->fd, f->bytes + f->off, f->len - f->off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = poll(&pfd, 1, remaining(deadline));
            if (rc == 0)
                return SG_ETIMEOUT;
            if (rc < 0 && errno != EINTR)
                return fail(c, SG_EIO);
            continue;
        }
        if (w < 0)
            return fail(c, errno == EPIPE || errno == ECONNRESET ? SG_ECLOSED
                                                                 : SG_EIO);
        f->off += (size_t)w;
        if (f->off == f->len) {
            c->out_head = f->next;
            if (c->out_head == NULL)
                c->out_tail = NULL;
            free(f->bytes);
            free(f);
        }
    }
    return 0;
}

/* Reads once (waiting up to the deadline) and feeds the session. */
static int pump(ctl *c, int64_t deadline)
{
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    ssize_t r;
    int rc;

    rc = poll(&pfd, 1, remaining(deadline));
    if (rc == 0)
        return SG_ETIMEOUT;
    if (rc < 0)
        return errno == EINTR ? 0 : fail(c, SG_EIO);
    r = recv(c->fd, c->rbuf, sizeof(c->rbuf), 0);
    if (r == 0 || (r < 0 && errno == ECONNRESET)) {
        c->closed = 1;
        return fail(c, SG_ECLOSED);
    }
    if (r < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : fail(c, SG_EIO);
    rc = sec_feed(c->sec, c->rbuf, (size_t)r);
    if (rc != 0)
        return fail(c, rc < 0 ? rc : SG_EPROTO);
    return flush(c, deadline);   /* PONGs queued while feeding */
}

static int send_msg(ctl *c, uint8_t type, const void *payload, size_t len,
                    int64_t deadline)
{
    int rc;
    if (c->err != 0)
        return c->err;
    rc = sec_send(c->sec, type, payload, len);
    if (rc != 0)
        return rc == SG_ETOOBIG || rc == SG_EINVAL ? rc : fail(c, rc);
    return flush(c, deadline);
}

/* ---- connecting --------------------------------------------------------- */

static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
    struct pollfd pfd;
    int fd, soerr = 0;
    socklen_t sl = sizeof(soerr);

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS)
        goto fail;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, remaining(deadline)) <= 0)
        goto fail;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

static int dial(const char *host, uint16_t port, int64_t deadline)
{
    struct addrinfo hints, *res = NULL;
    char port_s[8];
    int fd = -1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port_s, sizeof(port_s), "%u", port);
    if (getaddrinfo(host, port_s, &hints, &res) != 0)
        return -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline);
    freeaddrinfo(res);
    return fd;
}

static int make_session(ctl *c, const ctl_auth *auth)
{
    sec_config sc;
    sec_callbacks cb = { on_out, on_ready, on_msg };
    int rc;

    memset(&sc, 0, sizeof(sc));
    memcpy(sc.cluster_key, auth->cluster_key, 32);
    memcpy(sc.chain_id, auth->chain_id, 32);
    if (auth->identity_sk != NULL) {
        memcpy(sc.identity_sk, auth->identity_sk, 64);
        crypto_sign_ed25519_sk_to_pk(sc.identity_pk, sc.identity_sk);
    } else {
        crypto_sign_keypair(sc.identity_pk, sc.identity_sk);
    }
    sc.link = PROTO_LINK_CONTROL;
    snprintf(sc.name, sizeof(sc.name), "%s", auth->name ? auth->name : "ctl");
    rc = sec_new(&c->sec, &sc, 1, &cb, c);
    sodium_memzero(&sc, sizeof(sc));
    return rc;
}

int ctl_connect(ctl **out, const char *host, uint16_t port,
                const ctl_auth *auth, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    ctl *c;
    int rc;

    *out = NULL;
    if (host == NULL || auth == NULL || auth->cluster_key == NULL ||
        auth->chain_id == NULL)
        return SG_EINVAL;
    if (sodium_init() < 0)
        return SG_ECRYPTO;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SG_ENOMEM;
    c->fd = -1;
    c->fd = dial(host, port, deadline);
    if (c->fd < 0) {
        rc = SG_EIO;
        goto fail;
    }
    if ((rc = make_session(c, auth)) != 0 || (rc = sec_start(c->sec)) != 0 ||
        (rc = flush(c, deadline)) != 0)
        goto fail;
    while (!c->ready) {
        rc = pump(c, deadline);
        /* A daemon that refuses us just hangs up after its AUTH failed. */
        if (rc == SG_ECLOSED && sec_get_state(c->sec) != SEC_READY)
            rc = SG_EAUTH;
        if (rc != 0)
            goto fail;
    }
    *out = c;
    return 0;
fail:
    ctl_close(c);
    return rc;
}

int ctl_connect_addr(ctl **out, const char *hostport, const ctl_auth *auth,
                     int timeout_ms)
{
    char host[256];
    uint16_t port;

    *out = NULL;
    if (units_parse_hostport(hostport, host, sizeof(host), &port) != 0 ||
        host[0] == '\0' || port == 0)
        return SG_EINVAL;
    return ctl_connect(out, host, port, auth, timeout_ms);
}

/* ---- the non-blocking side (ctl.h) ------------------------------------- */

int ctl_open(ctl **out, const char *ip, uint16_t port, const ctl_auth *auth)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    ctl *c;
    int rc;

    *out = NULL;
    if (ip == NULL || auth == NULL || auth->cluster_key == NULL || auth->chain_id == NULL)
        return SG_EINVAL;
    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        return SG_EINVAL;
    }
    if (sodium_init() < 0)
        return SG_ECRYPTO;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SG_ENOMEM;
    rc = SG_EIO;
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        goto fail;
    if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS)
        goto fail;
    if ((rc = make_session(c, auth)) != 0)
        goto fail;
    c->connecting = 1;
    *out = c;
    return 0;
fail:
    ctl_close(c);
    return rc;
}

int ctl_fd(const ctl *c) { return c->fd; }

short ctl_events(const ctl *c)
{
    return (short)(POLLIN | (c->connecting || c->out_head != NULL ? POLLOUT : 0));
}

int ctl_is_ready(const ctl *c) { return c->ready && c->err == 0; }

/* The TCP connect of ctl_open has ended: start the handshake, or fail. */
static int finish_connect(ctl *c)
{
    struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
    int soerr = 0;
    socklen_t sl = sizeof(soerr);

    if (poll(&pfd, 1, 0) <= 0)
        return 0;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)
        return fail(c, SG_EIO);
    c->connecting = 0;
    return sec_start(c->sec) != 0 ? fail(c, SG_EIO) : 0;
}

int ctl_step(ctl *c)
{
    int64_t now = deadline_of(0);
    int rc;

    if (c->err != 0)
        return c->err;
    if (c->connecting && (rc = finish_connect(c)) != 0)
        return rc;
    if (c->connecting)
        return 0;
    rc = flush(c, now);
    while (rc == 0)
        rc = pump(c, now);
    /* A daemon that refuses us just hangs up after its AUTH failed. */
    if (rc == SG_ECLOSED && !c->ready)
        return fail(c, SG_EAUTH);
    return rc == SG_ETIMEOUT ? 0 : rc;
}

int ctl_post(ctl *c, uint8_t type)
{
    int rc;
    if (c->err != 0)
        return c->err;
    if (!c->ready)
        return SG_EINVAL;
    if (type == PROTO_MSG_STATS_REQ) {
        proto_stats_free(&c->stats);
        c->have_stats = 0;
    }
    rc = send_msg(c, type, NULL, 0, deadline_of(0));
    return rc == SG_ETIMEOUT ? 0 : rc;     /* left queued: ctl_step sends it */
}

int ctl_post_mining(ctl *c, int on)
{
    proto_mining m = { on ? 1 : 0 };
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc;

    if (c->err != 0)
        return c->err;
    if (!c->ready)
        return SG_EINVAL;
    rc = proto_mining_encode(&m, &enc, &len);
    if (rc == 0) {
        rc = send_msg(c, PROTO_MSG_MINING, enc, len, deadline_of(0));
        if (rc == 0 || rc == SG_ETIMEOUT) {
            c->mining_sent++;
            rc = 0;
        }
    }
    free(enc);
    return rc;
}

int ctl_mining_state(const ctl *c)
{
    return c->mining_acked == c->mining_sent ? c->mining_on : -1;
}

int ctl_take_stats(ctl *c, proto_stats *out)
{
    if (!c->have_stats)
        return 0;
    *out = c->stats;
    memset(&c->stats, 0, sizeof(c->stats));
    c->have_stats = 0;
    return 1;
}

int ctl_take_txlat(ctl *c, proto_txlat *out)
{
    if (!c->have_txlat)
        return 0;
    *out = c->txlat;
    memset(&c->txlat, 0, sizeof(c->txlat));
    c->have_txlat = 0;
    return 1;
}

void ctl_close(ctl *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    sec_free(c->sec);
    while (c->out_head != NULL) {
        ctl_frame *f = c->out_head;
        c->out_head = f->next;
        free(f->bytes);
        free(f);
    }
    while (c->log_head != NULL) {
        ctl_line *l = c->log_head;
        c->log_head = l->next;
        free(l);
    }
    proto_stats_free(&c->stats);
    proto_txlat_free(&c->txlat);
    free(c->call_ans);
    free(c);
}

/* ---- requests ----------------------------------------------------------- */

int ctl_stats(ctl *c, proto_stats *out, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    int rc;

    memset(out, 0, sizeof(*out));
    proto_stats_free(&c->stats);
    c->have_stats = 0;
    rc = send_msg(c, PROTO_MSG_STATS_REQ, NULL, 0, deadline);
    while (rc == 0 && !c->have_stats)
        rc = pump(c, deadline);
    if (rc != 0)
        return rc;
    *out = c->stats;     /* hand the owned list over */
    memset(&c->stats, 0, sizeof(c->stats));
    c->have_stats = 0;
    return 0;
}

int ctl_log_subscribe(ctl *c, uint8_t min_level, int timeout_ms)
{
    proto_log_sub m = { min_level };
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = proto_log_sub_encode(&m, &buf, &len);
    if (rc == 0)
        rc = send_msg(c, PROTO_MSG_LOG_SUB, buf, len, deadline_of(timeout_ms));
    free(buf);
    return rc;
}

int ctl_next_log_line(ctl *c, proto_log_line *out, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    ctl_line *l;
    int rc = 0;

    /* Lines already received are returned even after the link closed. */
    while (c->log_head == NULL) {
        if (c->err != 0)
            return c->err;
        if ((rc = pump(c, deadline)) != 0 && c->log_head == NULL)
            return rc;
    }
    l = c->log_head;
    c->log_head = l->next;
    if (c->log_head == NULL)
        c->log_tail = NULL;
    c->log_n--;
    *out = l->line;
    free(l);
    return 0;
}

int ctl_shutdown(ctl *c, int wait_ms)
{
    int64_t deadline = deadline_of(wait_ms);
    int rc = send_msg(c, PROTO_MSG_SHUTDOWN, NULL, 0, deadline);

    if (rc != 0 || wait_ms == 0)
        return rc;
    while ((rc = pump(c, deadline)) == 0)
        ;
    return rc == SG_ECLOSED ? 0 : rc;
}

int ctl_store_read(ctl *c, uint64_t offset, uint8_t *buf, size_t cap, size_t *got,
                   uint64_t *file_size, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    proto_store_read rq = { offset, cap > PROTO_STORE_READ_MAX ? PROTO_STORE_READ_MAX
                                                               : (uint32_t)cap };
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc;

    *got = 0;
    if ((rc = proto_store_read_encode(&rq, &enc, &len)) != 0)
        return rc;
    c->sr_waiting = 1;
    c->sr_done = 0;
    c->sr_offset = offset;
    c->sr_buf = buf;
    c->sr_cap = rq.max;
    rc = send_msg(c, PROTO_MSG_STORE_READ, enc, len, deadline);
    free(enc);
    while (rc == 0 && !c->sr_done)
        rc = pump(c, deadline);
    c->sr_waiting = 0;
    c->sr_buf = NULL;
    if (rc != 0)
        return rc;
    *got = c->sr_got;
    if (file_size)
        *file_size = c->sr_size;
    return 0;
}

int ctl_txlat(ctl *c, proto_txlat *out, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!c->have_txlat)
        rc = send_msg(c, PROTO_MSG_TXLAT_REQ, NULL, 0, deadline);
    while (rc == 0 && !c->have_txlat)
        rc = pump(c, deadline);
    if (rc != 0)
        return rc;
    *out = c->txlat;     /* hand the owned list over */
    memset(&c->txlat, 0, sizeof(c->txlat));
    c->have_txlat = 0;
    return 0;
}

int ctl_mining(ctl *c, int on, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    proto_mining m = { on ? 1 : 0 };
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = proto_mining_encode(&m, &enc, &len);

    if (rc == 0) {
        rc = send_msg(c, PROTO_MSG_MINING, enc, len, deadline);
        /* A timed-out flush leaves the request queued: it will be answered. */
        if (rc == 0 || rc == SG_ETIMEOUT)
            c->mining_sent++;
    }
    free(enc);
    if (rc != 0)
        return rc;
    while (c->mining_acked != c->mining_sent)
        if ((rc = pump(c, deadline)) != 0)
            return rc;
    return c->mining_on == m.on ? 0 : SG_EPROTO;
}

int ctl_call(ctl *c, uint8_t type, const void *payload, size_t len, uint8_t ack_type,
             uint8_t **ack, size_t *ack_len, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    int rc;

    *ack = NULL;
    *ack_len = 0;
    free(c->call_ans);
    c->call_ans = NULL;
    c->call_done = 0;
    c->call_type = ack_type;
    rc = send_msg(c, type, payload, len, deadline);
    while (rc == 0 && !c->call_done)
        rc = pump(c, deadline);
    c->call_type = 0;
    if (rc != 0)
        return rc;
    *ack = c->call_ans;
    *ack_len = c->call_len;
    c->call_ans = NULL;
    return 0;
}

int ctl_adversary(ctl *c, const char *role, int timeout_ms)
{
    proto_adversary m = { 0 };
    uint8_t *enc = NULL, *ack = NULL;
    size_t len = 0, alen = 0;

    if (strlen(role) > PROTO_ROLE_NAME_MAX)
        return SG_EINVAL;
    snprintf(m.role, sizeof m.role, "%s", role);
    int rc = proto_adversary_encode(&m, &enc, &len);
    if (rc == 0)
        rc = ctl_call(c, PROTO_MSG_ADVERSARY, enc, len, PROTO_MSG_ADVERSARY_ACK, &ack, &alen,
                      timeout_ms);
    if (rc == 0)
        rc = alen != 1 ? SG_EPROTO : ack[0] == 1 ? 0 : SG_EINVAL;
    free(enc);
    free(ack);
    return rc;
}

int ctl_send(ctl *c, uint8_t type, const void *payload, size_t len,
             int timeout_ms)
{
    return send_msg(c, type, payload, len, deadline_of(timeout_ms));
}

const proto_hello *ctl_server_hello(const ctl *c)
{
    return sec_peer_hello(c->sec);
}

uint64_t ctl_log_dropped(const ctl *c) { return c->log_dropped; }
