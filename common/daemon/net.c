#define _GNU_SOURCE
#include "common/daemon/net.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/base/err.h"
#include "common/link/secure.h"

/* Bytes handed to the session at a time, so the per-turn message budget is
 * checked often: a slice holds at most ~46 minimal sealed frames. */
#define NET_FEED_SLICE 1024
/* Returned from session callbacks to stop feeding a closing peer. */
#define NET_STOP 1

typedef struct {
    struct sockaddr_storage sa;
    int persistent;               /* bootstrap: always redialed */
    int self;                     /* turned out to be us */
    net_peer *conn;               /* connection dialed to it, if any */
    uint8_t identity[32];         /* who answered there last time */
    int have_identity;
    uint64_t next_try_ms;
    uint32_t backoff_ms;
    uint32_t failures;
} net_addr;

typedef struct {
    struct sockaddr_storage sa;   /* IP, and port unless whole_ip */
    int whole_ip;
    int by_identity;
    uint8_t identity[32];
    uint64_t until_ms;
} net_ban;

typedef struct log_item {
    struct log_item *next;
    int level;
    uint64_t time_ms;
    size_t len;
    char text[];
} log_item;

/* One uv_write of every frame a peer was sent in one loop iteration. */
typedef struct {
    uv_write_t req;
    uv_buf_t *bufs;               /* owned, with each frame */
    unsigned n_bufs;
    size_t len;
} net_write;

struct net_peer {
    net *n;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    enum net_conn_state state;
    int inbound;
    uint8_t link;
    sec_session *sec;
    struct sockaddr_storage sa;
    char addr[NET_ADDR_STR_MAX];
    net_addr *book;               /* outbound: the address dialed */
    void *data;
    uint64_t started_ms, ready_ms, last_recv_ms;
    uint64_t next_ping_ms, ping_sent_ms, ping_rtt_ms, ping_nonce;
    int ping_outstanding;
    size_t send_queued;           /* bytes of writes not yet completed */
    uv_buf_t *outq;               /* sealed frames not yet handed to libuv */
    unsigned n_outq, cap_outq;
    size_t outq_bytes;
    uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
    unsigned turn_msgs;           /* messages in the current read turn */
    uint8_t *backlog;             /* read but not yet fed (budget spent) */
    size_t backlog_len, backlog_off;
    int log_level;                /* control: streamed lines at or above */
    net_peer *prev, *next;        /* n->peers, freed only in close_cb */
};

struct net {
    uv_loop_t *loop;
    net_config cfg;
    char *name;
    char *listen;
    uv_tcp_t listener;
    int listener_init;
    uv_timer_t tick;
    uv_idle_t idle;
    /* End of a loop turn, before the loop sleeps (prepare) and after it
     * handled I/O (check): the turn hook, then the frames peers were sent
     * during the turn go out, one write per peer. */
    uv_prepare_t prepare;
    uv_check_t check;
    void (*turn_hook)(void *arg);
    void *turn_arg;
    int corked;                   /* some peer has frames in outq */
    uv_async_t async;
    uint8_t *rbuf;
    net_peer *peers, *peers_tail;
    size_t n_conns, n_outbound, n_ready, n_control, n_backlog;
    net_addr *addrs;
    size_t n_addrs;
    net_ban *bans;
    size_t n_bans;
    struct sockaddr_storage listen_sa;
    uint16_t listen_port;
    uint64_t last_getaddr_ms;
    int started;
    int closing;
    int handles_open;
    void (*close_cb)(void *arg);
    void *close_arg;
    pthread_mutex_t log_mu;       /* guards the queue below: any thread */
    log_item *log_head, *log_tail;
    size_t log_n;
    uint64_t log_dropped;
};

/* ---- socket addresses ------------------------------------------------ */

static void sa_normalize(struct sockaddr_storage *ss)
{
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    struct sockaddr_in s4;

    if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
        return;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = s6->sin6_port;
    memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &s4, sizeof(s4));
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static int sa_ip_equal(const struct sockaddr_storage *a,
                       const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

static int sa_equal(const struct sockaddr_storage *a,
                    const struct sockaddr_storage *b)
{
    return sa_ip_equal(a, b) && sa_port(a) == sa_port(b);
}

static int sa_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
}

static int sa_is_any(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    if (*s == '\0')
        return SG_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return SG_EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return SG_EINVAL;
    }
    *port = (uint16_t)v;
    return 0;
}

static int parse_host(const char *host, int allow_names,
                      struct sockaddr_storage *out)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
    struct addrinfo hints, *res = NULL;

    memset(out, 0, sizeof(*out));
    if (*host == '\0' || strcmp(host, "*") == 0) {
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        return 0;
    }
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        return 0;
    }
    if (!allow_names)
        return SG_EINVAL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return SG_EINVAL;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int net_parse_addr(const char *s, int allow_names,
                   struct sockaddr_storage *out)
{
    char buf[256];
    char *host, *port_s, *colon;
    uint16_t port;

    if (s == NULL || strlen(s) >= sizeof(buf))
        return SG_EINVAL;
    strcpy(buf, s);
    if (buf[0] == '[') {
        char *end = strchr(buf, ']');
        if (end == NULL || end[1] != ':')
            return SG_EINVAL;
        *end = '\0';
        host = buf + 1;
        port_s = end + 2;
    } else {
        colon = strrchr(buf, ':');
        if (colon == NULL || strchr(buf, ':') != colon)
            return SG_EINVAL;   /* bare IPv6 needs brackets */
        *colon = '\0';
        host = buf;
        port_s = colon + 1;
    }
    if (parse_port(port_s, &port) != 0 || parse_host(host, allow_names, out) != 0)
        return SG_EINVAL;
    sa_normalize(out);
    sa_set_port(out, port);
    return 0;
}

void net_format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    const struct sockaddr_storage *ss = (const struct sockaddr_storage *)sa;

    if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip,
                  sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, sa_port(ss));
    } else if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip,
                  sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, sa_port(ss));
    } else {
        snprintf(out, cap, "?");
    }
}

static void item_to_sa(const proto_addr_item *it, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (it->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, it->addr, 16);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, it->addr, 4);
    }
    sa_normalize(ss);
    sa_set_port(ss, it->port);
}

static void sa_to_item(const struct sockaddr_storage *ss, uint16_t port,
                       proto_addr_item *it)
{
    memset(it, 0, sizeof(*it));
    if (ss->ss_family == AF_INET6) {
        it->family = 6;
        memcpy(it->addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else {
        it->family = 4;
        memcpy(it->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
    it->port = port;
}

/* ---- limits and small helpers --------------------------------------- */

static uint32_t or_default(uint32_t v, uint32_t def) { return v ? v : def; }

static uint64_t now_ms(const net *n) { return uv_now(n->loop); }

static size_t conn_cap(const net *n)
{
    return (size_t)n->cfg.max_peers + NET_MAX_CONTROL;
}

static const char *peer_label(const net_peer *p)
{
    const proto_hello *h = p->sec ? sec_peer_hello(p->sec) : NULL;
    return h != NULL && h->name[0] ? h->name : "?";
}

static int is_own_listen(const net *n, const struct sockaddr_storage *ss)
{
    if (n->listen_port == 0 || sa_port(ss) != n->listen_port)
        return 0;
    if (sa_ip_equal(ss, &n->listen_sa))
        return 1;
    return sa_is_any(&n->listen_sa) && sa_is_loopback(ss);
}

static net_peer *ready_by_identity(net *n, const uint8_t id[32],
                                   const net_peer *skip)
{
    for (net_peer *q = n->peers; q != NULL; q = q->next)
        if (q != skip && q->state == NET_CONN_READY &&
            q->link == PROTO_LINK_PEER &&
            memcmp(sec_peer_hello(q->sec)->identity, id, 32) == 0)
            return q;
    return NULL;
}

/* ---- bans ------------------------------------------------------------- */

static void ban_expire(net *n, uint64_t now)
{
    size_t j = 0;
    for (size_t i = 0; i < n->n_bans; i++)
        if (n->bans[i].until_ms > now)
            n->bans[j++] = n->bans[i];
    n->n_bans = j;
}

static net_ban *ban_slot(net *n)
{
    size_t soonest = 0;
    if (n->n_bans < NET_BAN_MAX) {
        memset(&n->bans[n->n_bans], 0, sizeof(net_ban));
        return &n->bans[n->n_bans++];
    }
    for (size_t i = 1; i < n->n_bans; i++)
        if (n->bans[i].until_ms < n->bans[soonest].until_ms)
            soonest = i;
    memset(&n->bans[soonest], 0, sizeof(net_ban));
    return &n->bans[soonest];
}

static void ban_addr(net *n, const struct sockaddr_storage *ss, int whole_ip,
                     uint16_t port)
{
    net_ban *b = ban_slot(n);
    b->sa = *ss;
    sa_set_port(&b->sa, whole_ip ? 0 : port);
    b->whole_ip = whole_ip;
    b->until_ms = now_ms(n) + (uint64_t)n->cfg.ban_secs * 1000;
}

static void ban_identity(net *n, const uint8_t id[32])
{
    net_ban *b = ban_slot(n);
    b->by_identity = 1;
    memcpy(b->identity, id, 32);
    b->until_ms = now_ms(n) + (uint64_t)n->cfg.ban_secs * 1000;
}

/* check_port: also match bans of one IP:port (for dials). */
static int banned_addr(const net *n, const struct sockaddr_storage *ss,
                       int check_port)
{
    uint64_t now = now_ms(n);
    for (size_t i = 0; i < n->n_bans; i++) {
        const net_ban *b = &n->bans[i];
        if (b->by_identity || b->until_ms <= now || !sa_ip_equal(&b->sa, ss))
            continue;
        if (b->whole_ip || (check_port && sa_port(&b->sa) == sa_port(ss)))
            return 1;
    }
    return 0;
}

static int banned_identity(const net *n, const uint8_t id[32])
{
    uint64_t now = now_ms(n);
    for (size_t i = 0; i < n->n_bans; i++)
        if (n->bans[i].by_identity && n->bans[i].until_ms > now &&
            memcmp(n->bans[i].identity, id, 32) == 0)
            return 1;
    return 0;
}

/* ---- address book ------------------------------------------------------ */

static net_addr *book_find(net *n, const struct sockaddr_storage *ss)
{
    for (size_t i = 0; i < n->n_addrs; i++)
        if (sa_equal(&n->addrs[i].sa, ss))
            return &n->addrs[i];
    return NULL;
}

static net_addr *book_add(net *n, const struct sockaddr_storage *ss,
                          int persistent)
{
    net_addr *a = book_find(n, ss);
    if (a != NULL) {
        a->persistent |= persistent;
        return a;
    }
    if (n->n_addrs < NET_ADDR_BOOK_MAX) {
        a = &n->addrs[n->n_addrs++];
    } else {
        /* Full: reuse the learned address that failed most, if any did. */
        for (size_t i = 0; i < n->n_addrs; i++) {
            net_addr *c = &n->addrs[i];
            if (!c->persistent && c->conn == NULL && c->failures > 0 &&
                (a == NULL || c->failures > a->failures))
                a = c;
        }
        if (a == NULL)
            return NULL;
    }
    memset(a, 0, sizeof(*a));
    a->sa = *ss;
    a->persistent = persistent;
    a->backoff_ms = n->cfg.backoff_min_ms;
    return a;
}

/* An outbound connection ended after `up_ms` ready (0: never ready). */
static void book_after_close(net *n, net_addr *a, uint64_t up_ms)
{
    uint32_t delay;

    if (up_ms >= (uint64_t)NET_STABLE_SECS * 1000) {
        a->backoff_ms = n->cfg.backoff_min_ms;
        a->failures = 0;
    } else {
        a->failures++;
    }
    delay = a->backoff_ms;
    a->next_try_ms = now_ms(n) + delay + randombytes_uniform(delay / 2 + 1);
    a->backoff_ms = delay >= n->cfg.backoff_max_ms / 2 ? n->cfg.backoff_max_ms
                                                       : delay * 2;
}

/* ---- connection state -------------------------------------------------- */

static void update_hook_level(net *n);

static void backlog_clear(net_peer *p)
{
    if (p->backlog == NULL)
        return;
    free(p->backlog);
    p->backlog = NULL;
    p->backlog_len = p->backlog_off = 0;
    if (--p->n->n_backlog == 0)
        uv_idle_stop(&p->n->idle);
}

static void fire(net_peer *p, enum net_event ev)
{
    const net_config *c = &p->n->cfg;
    net_event_cb cb = p->link == PROTO_LINK_CONTROL ? c->on_control : c->on_peer;
    if (cb != NULL)
        cb(c->ctx, p, ev);
}

/* Every state change goes through here, so the counters, the address book
 * and the daemon's events stay in step with the state. */
static void conn_set_state(net_peer *p, enum net_conn_state to)
{
    net *n = p->n;
    enum net_conn_state from = p->state;
    uint64_t now = now_ms(n);

    assert((from == NET_CONN_CONNECTING && to == NET_CONN_HANDSHAKE) ||
           (from == NET_CONN_HANDSHAKE && to == NET_CONN_READY) ||
           (from != NET_CONN_CLOSING && to == NET_CONN_CLOSING));
    p->state = to;
    switch (to) {
    case NET_CONN_CONNECTING:
        break;
    case NET_CONN_HANDSHAKE:
        break;
    case NET_CONN_READY:
        p->ready_ms = now;
        p->next_ping_ms = now + n->cfg.ping_ms;
        if (p->link == PROTO_LINK_CONTROL)
            n->n_control++;
        else
            n->n_ready++;
        fire(p, NET_EV_READY);
        break;
    case NET_CONN_CLOSING:
        n->n_conns--;
        if (!p->inbound)
            n->n_outbound--;
        backlog_clear(p);
        if (p->book != NULL) {
            book_after_close(n, p->book,
                             from == NET_CONN_READY ? now - p->ready_ms : 0);
            p->book->conn = NULL;
            p->book = NULL;
        }
        if (from != NET_CONN_READY)
            break;
        if (p->link == PROTO_LINK_CONTROL) {
            n->n_control--;
            if (p->log_level != LOG_LEVEL_OFF) {
                p->log_level = LOG_LEVEL_OFF;
                update_hook_level(n);
            }
        } else {
            n->n_ready--;
        }
        fire(p, NET_EV_CLOSED);
        break;
    }
}

static void maybe_finish(net *n)
{
    if (!n->closing || n->handles_open > 0 || n->peers != NULL)
        return;
    void (*cb)(void *) = n->close_cb;
    void *arg = n->close_arg;
    while (n->log_head != NULL) {
        log_item *it = n->log_head;
        n->log_head = it->next;
        free(it);
    }
    pthread_mutex_destroy(&n->log_mu);
    free(n->rbuf);
    free(n->addrs);
    free(n->bans);
    free(n->name);
    free(n->listen);
    sodium_memzero(&n->cfg, sizeof(n->cfg));
    free(n);
    if (cb != NULL)
        cb(arg);
}

static void free_bufs(uv_buf_t *bufs, unsigned n);

static void on_peer_closed(uv_handle_t *h)
{
    net_peer *p = h->data;
    net *n = p->n;

    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        n->peers = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    else
        n->peers_tail = p->prev;
    sec_free(p->sec);
    free(p->backlog);
    free_bufs(p->outq, p->n_outq);
    free(p);
    maybe_finish(n);
}

static int flush_peer(net_peer *p);

static void peer_close(net_peer *p, int level, const char *why)
{
    if (p->state == NET_CONN_CLOSING)
        return;
    log_msg(p->n->cfg.log, level, "closing %s %s (%s): %s",
            p->inbound ? "inbound" : "outbound", p->addr, peer_label(p), why);
    /* What was sent before the close goes out as it would have unqueued
     * (a reject, a last answer); a failure here changes nothing. */
    (void)flush_peer(p);
    conn_set_state(p, NET_CONN_CLOSING);
    uv_close((uv_handle_t *)&p->tcp, on_peer_closed);
}

static net_peer *peer_new(net *n, int inbound)
{
    net_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    if (uv_tcp_init(n->loop, &p->tcp) != 0) {
        free(p);
        return NULL;
    }
    p->n = n;
    p->tcp.data = p;
    p->connect_req.data = p;
    p->inbound = inbound;
    p->state = NET_CONN_CONNECTING;
    p->link = PROTO_LINK_PEER;
    p->log_level = LOG_LEVEL_OFF;
    p->started_ms = p->last_recv_ms = now_ms(n);
    p->prev = n->peers_tail;
    if (n->peers_tail != NULL)
        n->peers_tail->next = p;
    else
        n->peers = p;
    n->peers_tail = p;
    n->n_conns++;
    if (!inbound)
        n->n_outbound++;
    return p;
}

/* ---- output ------------------------------------------------------------ */

static void free_bufs(uv_buf_t *bufs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(bufs[i].base);
    free(bufs);
}

static void on_write(uv_write_t *req, int status)
{
    net_write *w = (net_write *)req;
    net_peer *p = req->data;
    char why[96];

    p->send_queued -= w->len;
    if (status == 0)
        p->bytes_out += w->len;
    free_bufs(w->bufs, w->n_bufs);
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        snprintf(why, sizeof(why), "write failed: %s", uv_strerror(status));
        peer_close(p, LOG_LEVEL_INFO, why);
    }
}

/* Bytes libuv holds for the socket because the kernel would not take them:
 * what a slow reader makes pile up (unlike send_queued, it does not count
 * writes that went through but whose callbacks are still to run). */
static size_t unsent(const net_peer *p)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&p->tcp) + p->outq_bytes;
}

/* Hands the frames queued this turn to libuv as one write (one writev
 * instead of a syscall per frame); they live until on_write. */
static int flush_peer(net_peer *p)
{
    net_write *w;
    int rc;

    if (p->n_outq == 0)
        return 0;
    w = malloc(sizeof(*w));
    if (w == NULL)
        return SG_ENOMEM;
    w->bufs = p->outq;
    w->n_bufs = p->n_outq;
    w->len = p->outq_bytes;
    w->req.data = p;
    p->outq = NULL;
    p->n_outq = p->cap_outq = 0;
    p->outq_bytes = 0;
    rc = uv_write(&w->req, (uv_stream_t *)&p->tcp, w->bufs, w->n_bufs, on_write);
    if (rc != 0) {
        free_bufs(w->bufs, w->n_bufs);
        free(w);
        return SG_EIO;
    }
    p->send_queued += w->len;
    return 0;
}

static void flush_all(net *n)
{
    net_peer *next;

    if (!n->corked)
        return;
    n->corked = 0;
    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        if (p->n_outq > 0 && p->state != NET_CONN_CLOSING && flush_peer(p) != 0)
            peer_close(p, LOG_LEVEL_INFO, "write refused");
    }
}

static int outq_push(net_peer *p, uint8_t *frame, size_t len)
{
    if (p->n_outq == p->cap_outq) {
        unsigned cap = p->cap_outq ? p->cap_outq * 2 : 8;
        uv_buf_t *q = realloc(p->outq, cap * sizeof(*q));
        if (q == NULL)
            return SG_ENOMEM;
        p->outq = q;
        p->cap_outq = cap;
    }
    p->outq[p->n_outq++] = uv_buf_init((char *)frame, (unsigned)len);
    p->outq_bytes += len;
    p->n->corked = 1;
    return 0;
}

/* The session's output: queue one frame, written at the end of this loop
 * turn (flush_all) together with the others for this peer. */
static int on_sec_out(void *ctx, uint8_t *frame, size_t len)
{
    net_peer *p = ctx;

    if (p->state == NET_CONN_CLOSING) {
        free(frame);
        return SG_ECLOSED;
    }
    if (unsent(p) + len > p->n->cfg.send_buf_max) {
        free(frame);
        peer_close(p, LOG_LEVEL_WARN, "send buffer over its limit (peer too slow)");
        return SG_EFULL;
    }
    if (outq_push(p, frame, len) != 0) {
        free(frame);
        peer_close(p, LOG_LEVEL_ERROR, "out of memory queueing a frame");
        return SG_ENOMEM;
    }
    return 0;
}

int net_send(net_peer *p, uint8_t type, const void *payload, size_t len)
{
    int rc;
    assert(p != NULL && (payload != NULL || len == 0));
    if (p->state != NET_CONN_READY)
        return SG_ECLOSED;
    if (len > p->n->cfg.max_frame)
        return SG_ETOOBIG;
    rc = sec_send(p->sec, type, payload, len);
    if (rc == 0)
        p->msgs_out++;
    return rc;
}

size_t net_broadcast(net *n, net_peer *except, uint8_t type,
                     const void *payload, size_t len)
{
    size_t sent = 0;
    for (net_peer *p = n->peers; p != NULL; p = p->next)
        if (p != except && p->state == NET_CONN_READY &&
            p->link == PROTO_LINK_PEER &&
            net_send(p, type, payload, len) == 0)
            sent++;
    return sent;
}

static int send_encoded(net_peer *p, uint8_t type, int rc, uint8_t *buf,
                        size_t len)
{
    if (rc == 0)
        rc = net_send(p, type, buf, len);
    free(buf);
    return rc;
}

int net_send_stats(net_peer *p, const proto_stats *st)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = proto_stats_encode(st, &buf, &len);
    return send_encoded(p, PROTO_MSG_STATS, rc, buf, len);
}

/* ---- misbehaviour ------------------------------------------------------ */

void net_misbehave(net_peer *p, const char *reason)
{
    net *n = p->n;
    const proto_hello *h = p->sec ? sec_peer_hello(p->sec) : NULL;

    if (p->state == NET_CONN_CLOSING)
        return;
    log_warn(n->cfg.log, "misbehaving %s (%s): %s; banned for %u s", p->addr,
             peer_label(p), reason, n->cfg.ban_secs);
    if (p->state == NET_CONN_READY && h != NULL) {
        ban_identity(n, h->identity);
        if (h->listen_port != 0)
            ban_addr(n, &p->sa, 0, h->listen_port);
        if (!sa_is_loopback(&p->sa))
            ban_addr(n, &p->sa, 1, 0);
    } else {
        ban_addr(n, &p->sa, 1, 0);
    }
    peer_close(p, LOG_LEVEL_DEBUG, reason);
}

void net_disconnect(net_peer *p, const char *reason)
{
    peer_close(p, LOG_LEVEL_INFO, reason);
}

/* ---- messages handled inside net --------------------------------------- */

static void send_ping(net_peer *p, uint64_t now)
{
    proto_ping m;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    randombytes_buf(&m.nonce, sizeof(m.nonce));
    rc = proto_ping_encode(&m, &buf, &len);
    if (send_encoded(p, PROTO_MSG_PING, rc, buf, len) != 0)
        return;
    p->ping_nonce = m.nonce;
    p->ping_outstanding = 1;
    p->ping_sent_ms = now;
    p->next_ping_ms = now + p->n->cfg.ping_ms;
}

static void on_ping(net_peer *p, uint8_t type, const uint8_t *payload,
                    size_t len)
{
    proto_ping m;
    uint8_t *buf = NULL;
    size_t blen = 0;
    int rc;

    if (proto_ping_decode(payload, len, &m) != 0) {
        net_misbehave(p, "malformed PING/PONG");
        return;
    }
    if (type == PROTO_MSG_PING) {
        rc = proto_ping_encode(&m, &buf, &blen);
        send_encoded(p, PROTO_MSG_PONG, rc, buf, blen);
    } else if (p->ping_outstanding && m.nonce == p->ping_nonce) {
        p->ping_outstanding = 0;
        p->ping_rtt_ms = now_ms(p->n) - p->ping_sent_ms;
    }
}

static void send_addrs(net_peer *to)
{
    net *n = to->n;
    proto_addr m = { 0, NULL };
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    m.items = calloc(n->n_ready ? n->n_ready : 1, sizeof(*m.items));
    if (m.items == NULL)
        return;
    for (net_peer *q = n->peers; q && m.n < PROTO_ADDR_MAX && m.n < n->n_ready;
         q = q->next) {
        const proto_hello *h;
        if (q == to || q->state != NET_CONN_READY || q->link != PROTO_LINK_PEER)
            continue;
        h = sec_peer_hello(q->sec);
        /* Our loopback peers are unreachable for a peer on another host. */
        if (h->listen_port == 0 ||
            (sa_is_loopback(&q->sa) && !sa_is_loopback(&to->sa)))
            continue;
        sa_to_item(&q->sa, h->listen_port, &m.items[m.n++]);
    }
    rc = proto_addr_encode(&m, &buf, &len);
    send_encoded(to, PROTO_MSG_ADDR, rc, buf, len);
    free(m.items);
}

static void dial_more(net *n);

static void learn_addrs(net_peer *from, const uint8_t *payload, size_t len)
{
    net *n = from->n;
    proto_addr m;
    struct sockaddr_storage ss;

    if (proto_addr_decode(payload, len, &m) != 0) {
        net_misbehave(from, "malformed ADDR");
        return;
    }
    for (uint32_t i = 0; i < m.n; i++) {
        item_to_sa(&m.items[i], &ss);
        if (m.items[i].port == 0 || sa_is_any(&ss) || is_own_listen(n, &ss) ||
            (sa_is_loopback(&ss) && !sa_is_loopback(&from->sa)))
            continue;
        book_add(n, &ss, 0);
    }
    proto_addr_free(&m);
    dial_more(n);
}

static void peer_msg(net_peer *p, uint8_t type, const uint8_t *payload,
                     size_t len)
{
    const net_config *c = &p->n->cfg;

    switch (type) {
    case PROTO_MSG_PING:
    case PROTO_MSG_PONG:
        on_ping(p, type, payload, len);
        return;
    case PROTO_MSG_GETADDR:
        if (proto_empty_decode(payload, len) != 0)
            net_misbehave(p, "malformed GETADDR");
        else
            send_addrs(p);
        return;
    case PROTO_MSG_ADDR:
        learn_addrs(p, payload, len);
        return;
    case PROTO_MSG_STATS_REQ:
    case PROTO_MSG_STATS:
    case PROTO_MSG_LOG_SUB:
    case PROTO_MSG_LOG_LINE:
    case PROTO_MSG_SHUTDOWN:
    case PROTO_MSG_STORE_READ:
    case PROTO_MSG_STORE_DATA:
    case PROTO_MSG_TXLAT_REQ:
    case PROTO_MSG_TXLAT:
    case PROTO_MSG_MINING:
    case PROTO_MSG_MINING_ACK:
        net_misbehave(p, "control message on a peer link");
        return;
    }
    if (c->on_msg != NULL)
        c->on_msg(c->ctx, p, type, payload, len);
}

static void control_msg(net_peer *p, uint8_t type, const uint8_t *payload,
                        size_t len)
{
    const net_config *c = &p->n->cfg;
    proto_log_sub sub;

    switch (type) {
    case PROTO_MSG_PING:
    case PROTO_MSG_PONG:
        on_ping(p, type, payload, len);
        return;
    case PROTO_MSG_LOG_SUB:
        if (c->log_stream == NULL)
            break;
        if (proto_log_sub_decode(payload, len, &sub) != 0) {
            net_misbehave(p, "malformed LOG_SUB");
            return;
        }
        p->log_level = sub.min_level > LOG_LEVEL_ERROR ? LOG_LEVEL_OFF
                                                       : sub.min_level;
        update_hook_level(p->n);
        return;
    }
    c->on_control_msg(c->ctx, p, type, payload, len);
}

/* ---- session callbacks ------------------------------------------------- */

static int on_sec_msg(void *ctx, uint8_t type, const uint8_t *payload,
                      size_t len)
{
    net_peer *p = ctx;

    p->msgs_in++;
    p->turn_msgs++;
    if (p->link == PROTO_LINK_CONTROL)
        control_msg(p, type, payload, len);
    else
        peer_msg(p, type, payload, len);
    return p->state == NET_CONN_CLOSING ? NET_STOP : 0;
}

/* Of two links to one identity keep the one opened by the smaller identity;
 * both ends compute the same answer.  Returns the one to drop, or NULL. */
static net_peer *duplicate_loser(net *n, net_peer *p, net_peer *q)
{
    const uint8_t *theirs = sec_peer_hello(p->sec)->identity;
    int ours_smaller = memcmp(n->cfg.identity_pk, theirs, 32) < 0;

    if (p->inbound == q->inbound)
        /* Same direction: only the dialing side chooses (the newer goes);
         * the accepting side waits for it rather than guess. */
        return p->inbound ? NULL : p;
    if (ours_smaller)
        return p->inbound ? p : q;   /* keep the one we opened */
    return p->inbound ? q : p;       /* keep the one they opened */
}

static int ready_peer_link(net_peer *p)
{
    net *n = p->n;
    const proto_hello *h = sec_peer_hello(p->sec);
    net_peer *q, *loser;
    net_addr *a;
    struct sockaddr_storage ls;

    if (p->book != NULL) {
        memcpy(p->book->identity, h->identity, 32);
        p->book->have_identity = 1;
    }
    if (memcmp(h->identity, n->cfg.identity_pk, 32) == 0) {
        if (p->book != NULL)
            p->book->self = 1;
        peer_close(p, LOG_LEVEL_DEBUG, "connected to ourselves");
        return NET_STOP;
    }
    if (banned_identity(n, h->identity)) {
        peer_close(p, LOG_LEVEL_DEBUG, "identity is banned");
        return NET_STOP;
    }
    if (n->n_ready >= n->cfg.max_peers) {
        peer_close(p, LOG_LEVEL_INFO, "too many peers");
        return NET_STOP;
    }
    q = ready_by_identity(n, h->identity, p);
    loser = q != NULL ? duplicate_loser(n, p, q) : NULL;
    if (loser != NULL)
        peer_close(loser, LOG_LEVEL_DEBUG, "duplicate connection");
    if (loser == p)
        return NET_STOP;
    if (p->inbound && h->listen_port != 0) {
        /* Remember who listens there, so we do not dial them twice. */
        ls = p->sa;
        sa_set_port(&ls, h->listen_port);
        if ((a = book_find(n, &ls)) != NULL) {
            memcpy(a->identity, h->identity, 32);
            a->have_identity = 1;
        }
    }
    log_info(n->cfg.log, "peer %s (%s) ready, %s", p->addr, h->name,
             p->inbound ? "inbound" : "outbound");
    conn_set_state(p, NET_CONN_READY);
    if (p->state == NET_CONN_READY)
        send_encoded(p, PROTO_MSG_GETADDR, 0, NULL, 0);
    return p->state == NET_CONN_CLOSING ? NET_STOP : 0;
}

static int on_sec_ready(void *ctx)
{
    net_peer *p = ctx;
    net *n = p->n;

    p->link = sec_link(p->sec);
    if (p->link == PROTO_LINK_PEER)
        return ready_peer_link(p);
    if (n->cfg.on_control_msg == NULL) {
        peer_close(p, LOG_LEVEL_INFO, "control links are disabled");
        return NET_STOP;
    }
    if (n->n_control >= NET_MAX_CONTROL) {
        peer_close(p, LOG_LEVEL_INFO, "too many control links");
        return NET_STOP;
    }
    log_debug(n->cfg.log, "control link %s (%s) ready", p->addr, peer_label(p));
    conn_set_state(p, NET_CONN_READY);
    return p->state == NET_CONN_CLOSING ? NET_STOP : 0;
}

static void on_sec_error(net_peer *p, int rc)
{
    const char *why = p->sec ? sec_reason(p->sec) : "";
    char buf[160];

    if (*why == '\0') {
        snprintf(buf, sizeof(buf), "session error: %s", sg_strerror(rc));
        why = buf;
    }
    if (rc == SG_EAUTH) {
        /* Not one of us (or of our chain): refuse, but see net.h on bans. */
        log_warn(p->n->cfg.log, "refused %s (%s): %s", p->addr, peer_label(p),
                 why);
        peer_close(p, LOG_LEVEL_DEBUG, why);
    } else {
        net_misbehave(p, why);
    }
}

/* ---- input ------------------------------------------------------------- */

/* Feeds up to the per-turn message budget; returns the bytes consumed. */
static size_t feed_some(net_peer *p, const uint8_t *data, size_t len)
{
    size_t off = 0;
    int rc;

    p->turn_msgs = 0;
    while (off < len && p->state != NET_CONN_CLOSING &&
           p->turn_msgs < NET_FRAMES_PER_TURN) {
        size_t k = len - off < NET_FEED_SLICE ? len - off : NET_FEED_SLICE;
        rc = sec_feed(p->sec, data + off, k);
        off += k;
        if (rc != 0 && p->state != NET_CONN_CLOSING)
            on_sec_error(p, rc);
    }
    return off;
}

static void on_idle(uv_idle_t *h);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    net_peer *p = h->data;
    (void)suggested;
    /* One buffer per net: libuv calls alloc, read, read_cb in turn, and
     * read_cb consumes or copies everything before returning. */
    *buf = uv_buf_init((char *)p->n->rbuf, NET_READ_CHUNK);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    net_peer *p = s->data;
    size_t used;
    char why[96];

    if (nread == 0 || p->state == NET_CONN_CLOSING)
        return;
    if (nread < 0) {
        snprintf(why, sizeof(why), "%s", nread == UV_EOF
                 ? "closed by the other side" : uv_strerror((int)nread));
        peer_close(p, p->state == NET_CONN_READY && p->link == PROTO_LINK_PEER
                   ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG, why);
        return;
    }
    p->bytes_in += (uint64_t)nread;
    p->last_recv_ms = now_ms(p->n);
    used = feed_some(p, (const uint8_t *)buf->base, (size_t)nread);
    if (p->state == NET_CONN_CLOSING || used == (size_t)nread)
        return;
    /* Budget spent: keep the rest for the next turn, stop reading. */
    p->backlog = malloc((size_t)nread - used);
    if (p->backlog == NULL) {
        peer_close(p, LOG_LEVEL_ERROR, "out of memory buffering input");
        return;
    }
    memcpy(p->backlog, buf->base + used, (size_t)nread - used);
    p->backlog_len = (size_t)nread - used;
    p->backlog_off = 0;
    uv_read_stop(s);
    if (p->n->n_backlog++ == 0)
        uv_idle_start(&p->n->idle, on_idle);
}

static void on_idle(uv_idle_t *h)
{
    net *n = h->data;
    net_peer *next;

    /* Peers are freed only in close callbacks, never during this one, so
     * keeping `next` is safe even if callbacks close peers. */
    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        if (p->backlog == NULL || p->state == NET_CONN_CLOSING)
            continue;
        p->backlog_off += feed_some(p, p->backlog + p->backlog_off,
                                    p->backlog_len - p->backlog_off);
        if (p->state == NET_CONN_CLOSING || p->backlog_off < p->backlog_len)
            continue;
        backlog_clear(p);
        if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0)
            peer_close(p, LOG_LEVEL_INFO, "cannot resume reading");
    }
}

/* ---- connections ------------------------------------------------------- */

static void start_handshake(net_peer *p)
{
    net *n = p->n;
    sec_config sc;
    sec_callbacks cb = { on_sec_out, on_sec_ready, on_sec_msg };
    int rc;

    memset(&sc, 0, sizeof(sc));
    memcpy(sc.cluster_key, n->cfg.cluster_key, 32);
    memcpy(sc.identity_pk, n->cfg.identity_pk, 32);
    memcpy(sc.identity_sk, n->cfg.identity_sk, 64);
    memcpy(sc.chain_id, n->cfg.chain_id, 32);
    sc.link = PROTO_LINK_PEER;
    sc.role = n->cfg.role;
    sc.listen_port = n->listen_port;
    snprintf(sc.name, sizeof(sc.name), "%s", n->name);
    sc.max_frame = n->cfg.max_frame;
    rc = sec_new(&p->sec, &sc, !p->inbound, &cb, p);
    sodium_memzero(&sc, sizeof(sc));
    if (rc != 0) {
        peer_close(p, LOG_LEVEL_ERROR, "cannot create a session");
        return;
    }
    conn_set_state(p, NET_CONN_HANDSHAKE);
    uv_tcp_nodelay(&p->tcp, 1);
    if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0) {
        peer_close(p, LOG_LEVEL_INFO, "cannot start reading");
        return;
    }
    rc = sec_start(p->sec);
    if (rc != 0 && p->state != NET_CONN_CLOSING)
        peer_close(p, LOG_LEVEL_INFO, "cannot send HELLO");
}

static void on_connect(uv_connect_t *req, int status)
{
    net_peer *p = req->data;
    char why[96];

    if (p->state == NET_CONN_CLOSING)
        return;
    if (status < 0) {
        snprintf(why, sizeof(why), "dial failed: %s", uv_strerror(status));
        peer_close(p, LOG_LEVEL_DEBUG, why);
        return;
    }
    start_handshake(p);
}

static void dial(net *n, net_addr *a)
{
    net_peer *p = peer_new(n, 0);
    char why[96];
    int rc;

    if (p == NULL) {
        a->next_try_ms = now_ms(n) + a->backoff_ms;
        return;
    }
    p->sa = a->sa;
    net_format_addr((struct sockaddr *)&p->sa, p->addr, sizeof(p->addr));
    p->book = a;
    a->conn = p;
    log_debug(n->cfg.log, "dialing %s", p->addr);
    rc = uv_tcp_connect(&p->connect_req, &p->tcp, (struct sockaddr *)&p->sa,
                        on_connect);
    if (rc != 0) {
        snprintf(why, sizeof(why), "dial failed: %s", uv_strerror(rc));
        peer_close(p, LOG_LEVEL_DEBUG, why);
    }
}

static void dial_more(net *n)
{
    uint64_t now = now_ms(n);

    if (n->closing || !n->started)
        return;
    for (size_t i = 0; i < n->n_addrs; i++) {
        net_addr *a = &n->addrs[i];
        if (n->n_conns >= conn_cap(n) || n->n_ready >= n->cfg.max_peers)
            return;
        if (a->conn != NULL || a->self || a->next_try_ms > now)
            continue;
        if (!a->persistent && (n->cfg.no_discovery ||
                               n->n_outbound >= n->cfg.outbound_target))
            continue;
        if (is_own_listen(n, &a->sa)) {
            a->self = 1;
            continue;
        }
        if (banned_addr(n, &a->sa, 1))
            continue;
        if (a->have_identity && (banned_identity(n, a->identity) ||
                                 ready_by_identity(n, a->identity, NULL))) {
            /* Already connected to whoever listens there; look again
             * later in case that link drops. */
            a->next_try_ms = now + n->cfg.backoff_min_ms;
            continue;
        }
        dial(n, a);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    net *n = server->data;
    net_peer *p;
    int len = sizeof(struct sockaddr_storage);

    if (status < 0) {
        log_warn(n->cfg.log, "accept failed: %s", uv_strerror(status));
        return;
    }
    p = peer_new(n, 1);
    if (p == NULL) {
        log_error(n->cfg.log, "out of memory accepting a connection");
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&p->tcp) != 0 ||
        uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&p->sa, &len) != 0) {
        snprintf(p->addr, sizeof(p->addr), "?");
        peer_close(p, LOG_LEVEL_DEBUG, "accept failed");
        return;
    }
    sa_normalize(&p->sa);
    net_format_addr((struct sockaddr *)&p->sa, p->addr, sizeof(p->addr));
    if (n->closing) {
        peer_close(p, LOG_LEVEL_DEBUG, "shutting down");
        return;
    }
    if (banned_addr(n, &p->sa, 0)) {
        peer_close(p, LOG_LEVEL_DEBUG, "address is banned");
        return;
    }
    if (n->n_conns > conn_cap(n)) {
        peer_close(p, LOG_LEVEL_INFO, "too many connections");
        return;
    }
    start_handshake(p);
}

/* ---- timers ------------------------------------------------------------ */

static void check_peer(net_peer *p, uint64_t now)
{
    const net_config *c = &p->n->cfg;

    if (p->state == NET_CONN_CONNECTING || p->state == NET_CONN_HANDSHAKE) {
        if (now - p->started_ms > c->handshake_timeout_ms)
            peer_close(p, LOG_LEVEL_INFO, "handshake timed out");
        return;
    }
    if (p->state != NET_CONN_READY || p->link != PROTO_LINK_PEER)
        return;
    if (p->ping_outstanding) {
        /* Data still arriving (a long block ahead of the PONG) counts as
         * alive too. */
        if (now - p->ping_sent_ms > c->ping_timeout_ms &&
            now - p->last_recv_ms > c->ping_timeout_ms)
            peer_close(p, LOG_LEVEL_INFO, "ping timed out");
    } else if (now >= p->next_ping_ms) {
        send_ping(p, now);
    }
}

static void maybe_getaddr(net *n, uint64_t now)
{
    net_peer *p;

    if (n->n_outbound >= n->cfg.outbound_target || n->n_ready == 0 ||
        now - n->last_getaddr_ms < (uint64_t)NET_GETADDR_SECS * 1000)
        return;
    n->last_getaddr_ms = now;
    p = net_peer_first(n);
    for (uint32_t skip = randombytes_uniform((uint32_t)n->n_ready); p && skip;
         skip--)
        p = net_peer_next(p);
    if (p != NULL)
        send_encoded(p, PROTO_MSG_GETADDR, 0, NULL, 0);
}

static void on_tick(uv_timer_t *t)
{
    net *n = t->data;
    uint64_t now = now_ms(n);
    net_peer *next;

    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        if (p->state != NET_CONN_CLOSING)
            check_peer(p, now);
    }
    ban_expire(n, now);
    dial_more(n);
    maybe_getaddr(n, now);
}

/* ---- log streaming ------------------------------------------------------ */

static void update_hook_level(net *n)
{
    int min = LOG_LEVEL_OFF;
    if (n->cfg.log_stream == NULL || n->closing)
        return;
    for (net_peer *p = n->peers; p != NULL; p = p->next)
        if (p->state == NET_CONN_READY && p->log_level < min)
            min = p->log_level;
    log_set_hook_level(n->cfg.log_stream, min);
}

/* The logger's hook: any thread, logger lock held.  Queue and wake the
 * loop; the lines are sent from on_async on the loop's thread. */
static void on_log_line(void *ctx, int level, uint64_t time_ms,
                        const char *line, size_t len)
{
    net *n = ctx;
    log_item *it = NULL;

    pthread_mutex_lock(&n->log_mu);
    if (n->log_n < NET_LOG_QUEUE_MAX)
        it = malloc(sizeof(*it) + len + 1);
    if (it != NULL) {
        it->next = NULL;
        it->level = level;
        it->time_ms = time_ms;
        it->len = len;
        memcpy(it->text, line, len + 1);
        if (n->log_tail != NULL)
            n->log_tail->next = it;
        else
            n->log_head = it;
        n->log_tail = it;
        n->log_n++;
    } else {
        n->log_dropped++;
    }
    pthread_mutex_unlock(&n->log_mu);
    uv_async_send(&n->async);
}

static void stream_line(net *n, const log_item *it)
{
    proto_log_line m;
    uint8_t *buf = NULL;
    size_t len = 0;

    m.level = (uint8_t)it->level;
    m.time_ms = it->time_ms;
    snprintf(m.text, sizeof(m.text), "%s", it->text);
    if (proto_log_line_encode(&m, &buf, &len) != 0)
        return;
    for (net_peer *p = n->peers; p != NULL; p = p->next)
        if (p->state == NET_CONN_READY && p->link == PROTO_LINK_CONTROL &&
            it->level >= p->log_level &&
            unsent(p) < NET_CONTROL_LOG_BACKLOG)
            net_send(p, PROTO_MSG_LOG_LINE, buf, len);
    free(buf);
}

static void on_async(uv_async_t *h)
{
    net *n = h->data;
    log_item *it, *head;

    pthread_mutex_lock(&n->log_mu);
    head = n->log_head;
    n->log_head = n->log_tail = NULL;
    n->log_n = 0;
    pthread_mutex_unlock(&n->log_mu);
    while ((it = head) != NULL) {
        head = it->next;
        if (!n->closing)
            stream_line(n, it);
        free(it);
    }
}

/* ---- lifecycle ---------------------------------------------------------- */

static int copy_config(net *n, const net_config *cfg)
{
    n->cfg = *cfg;
    n->cfg.bootstrap = NULL;
    n->cfg.n_bootstrap = 0;
    n->name = strdup(cfg->name != NULL ? cfg->name : "");
    n->listen = cfg->listen != NULL ? strdup(cfg->listen) : NULL;
    n->cfg.name = n->name;
    n->cfg.listen = n->listen;
    if (n->name == NULL || (cfg->listen != NULL && n->listen == NULL))
        return SG_ENOMEM;
    n->cfg.max_peers = or_default(cfg->max_peers, NET_MAX_PEERS);
    n->cfg.outbound_target = or_default(cfg->outbound_target, NET_OUTBOUND_TARGET);
    n->cfg.ping_ms = or_default(cfg->ping_ms, NET_PING_SECS * 1000);
    n->cfg.ping_timeout_ms = or_default(cfg->ping_timeout_ms,
                                        NET_PING_TIMEOUT_SECS * 1000);
    n->cfg.handshake_timeout_ms = or_default(cfg->handshake_timeout_ms,
                                             NET_HANDSHAKE_TIMEOUT_SECS * 1000);
    n->cfg.backoff_min_ms = or_default(cfg->backoff_min_ms, NET_BACKOFF_MIN_MS);
    n->cfg.backoff_max_ms = or_default(cfg->backoff_max_ms, NET_BACKOFF_MAX_MS);
    n->cfg.ban_secs = or_default(cfg->ban_secs, NET_BAN_SECS);
    n->cfg.send_buf_max = or_default(cfg->send_buf_max, NET_SEND_BUF_MAX);
    n->cfg.max_frame = or_default(cfg->max_frame, NET_FRAME_MAX);
    if (n->cfg.max_frame > NET_FRAME_MAX ||
        n->cfg.max_frame < SEC_HANDSHAKE_FRAME_MAX ||
        n->cfg.send_buf_max < n->cfg.max_frame + PROTO_FRAME_HDR ||
        n->cfg.backoff_min_ms > n->cfg.backoff_max_ms ||
        strlen(n->name) > PROTO_NAME_MAX)
        return SG_EINVAL;
    return 0;
}

static void end_turn(net *n)
{
    if (n->turn_hook != NULL && !n->closing)
        n->turn_hook(n->turn_arg);
    flush_all(n);
}

static void on_prepare(uv_prepare_t *h) { end_turn(h->data); }
static void on_check(uv_check_t *h) { end_turn(h->data); }

int net_new(net **out, uv_loop_t *loop, const net_config *cfg)
{
    struct sockaddr_storage ss;
    net *n;
    int rc;

    *out = NULL;
    if (loop == NULL || cfg == NULL || (cfg->n_bootstrap && !cfg->bootstrap))
        return SG_EINVAL;
    if (sodium_init() < 0)
        return SG_ECRYPTO;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return SG_ENOMEM;
    n->loop = loop;
    rc = copy_config(n, cfg);
    if (rc != 0)
        goto fail;
    rc = SG_ENOMEM;
    n->rbuf = malloc(NET_READ_CHUNK);
    n->addrs = calloc(NET_ADDR_BOOK_MAX, sizeof(*n->addrs));
    n->bans = calloc(NET_BAN_MAX, sizeof(*n->bans));
    if (n->rbuf == NULL || n->addrs == NULL || n->bans == NULL)
        goto fail;
    rc = SG_EINVAL;
    if (n->listen != NULL && net_parse_addr(n->listen, 1, &n->listen_sa) != 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_bootstrap; i++) {
        if (net_parse_addr(cfg->bootstrap[i], 1, &ss) != 0 ||
            book_add(n, &ss, 1) == NULL)
            goto fail;
    }
    /* uv_async_init is the only handle init that can fail: do it first,
     * so that a failure leaves nothing registered with the loop. */
    if (uv_async_init(loop, &n->async, on_async) != 0) {
        rc = SG_EIO;
        goto fail;
    }
    pthread_mutex_init(&n->log_mu, NULL);
    uv_timer_init(loop, &n->tick);
    uv_idle_init(loop, &n->idle);
    uv_prepare_init(loop, &n->prepare);
    uv_check_init(loop, &n->check);
    n->async.data = n->tick.data = n->idle.data = n;
    n->prepare.data = n->check.data = n;
    n->handles_open = 5;
    uv_prepare_start(&n->prepare, on_prepare);
    uv_check_start(&n->check, on_check);
    *out = n;
    return 0;
fail:
    free(n->rbuf);
    free(n->addrs);
    free(n->bans);
    free(n->name);
    free(n->listen);
    sodium_memzero(&n->cfg, sizeof(n->cfg));
    free(n);
    return rc;
}

int net_start(net *n)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int rc;

    if (n->closing || n->started)
        return SG_EINVAL;
    if (n->listen != NULL) {
        if ((rc = uv_tcp_init(n->loop, &n->listener)) != 0)
            goto fail;
        n->listener_init = 1;
        n->handles_open++;
        n->listener.data = n;
        if ((rc = uv_tcp_bind(&n->listener, (struct sockaddr *)&n->listen_sa, 0)) != 0 ||
            (rc = uv_listen((uv_stream_t *)&n->listener, 128, on_connection)) != 0 ||
            (rc = uv_tcp_getsockname(&n->listener, (struct sockaddr *)&ss, &len)) != 0)
            goto fail;
        n->listen_port = sa_port(&ss);
        sa_set_port(&n->listen_sa, n->listen_port);
        log_info(n->cfg.log, "listening on %s (port %u)", n->listen, n->listen_port);
    }
    if (n->cfg.log_stream != NULL)
        log_set_hook(n->cfg.log_stream, LOG_LEVEL_OFF, on_log_line, n);
    uv_timer_start(&n->tick, on_tick, NET_TICK_MS, NET_TICK_MS);
    n->last_getaddr_ms = now_ms(n);   /* READY links ask first anyway */
    n->started = 1;
    dial_more(n);
    return 0;
fail:
    log_error(n->cfg.log, "cannot listen on %s: %s", n->listen, uv_strerror(rc));
    return SG_EIO;
}

static void on_handle_closed(uv_handle_t *h)
{
    net *n = h->data;
    n->handles_open--;
    maybe_finish(n);
}

void net_close(net *n, void (*cb)(void *arg), void *arg)
{
    net_peer *next;

    assert(n != NULL);
    if (n->closing)
        return;
    if (n->cfg.log_stream != NULL && n->started)
        log_set_hook(n->cfg.log_stream, LOG_LEVEL_OFF, NULL, NULL);
    n->closing = 1;
    n->close_cb = cb;
    n->close_arg = arg;
    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        peer_close(p, LOG_LEVEL_DEBUG, "shutting down");
    }
    if (n->listener_init)
        uv_close((uv_handle_t *)&n->listener, on_handle_closed);
    uv_close((uv_handle_t *)&n->tick, on_handle_closed);
    uv_close((uv_handle_t *)&n->idle, on_handle_closed);
    uv_close((uv_handle_t *)&n->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&n->check, on_handle_closed);
    uv_close((uv_handle_t *)&n->async, on_handle_closed);
}

void net_set_turn_hook(net *n, void (*fn)(void *arg), void *arg)
{
    n->turn_hook = fn;
    n->turn_arg = arg;
}

int net_add_peer(net *n, const char *hostport)
{
    struct sockaddr_storage ss;
    if (net_parse_addr(hostport, 1, &ss) != 0)
        return SG_EINVAL;
    if (book_add(n, &ss, 1) == NULL)
        return SG_EFULL;
    dial_more(n);
    return 0;
}

/* ---- accessors ---------------------------------------------------------- */

uint16_t net_listen_port(const net *n) { return n->listen_port; }
size_t net_peer_count(const net *n) { return n->n_ready; }
size_t net_outbound_count(const net *n) { return n->n_outbound; }
size_t net_control_count(const net *n) { return n->n_control; }
size_t net_addr_count(const net *n) { return n->n_addrs; }

size_t net_ban_count(const net *n)
{
    size_t c = 0;
    uint64_t now = now_ms(n);
    for (size_t i = 0; i < n->n_bans; i++)
        c += n->bans[i].until_ms > now;
    return c;
}

int net_is_banned(net *n, const char *addr)
{
    struct sockaddr_storage ss;

    if (parse_host(addr, 0, &ss) == 0) {
        sa_normalize(&ss);
        return banned_addr(n, &ss, 0);
    }
    if (net_parse_addr(addr, 0, &ss) != 0)
        return 0;
    return banned_addr(n, &ss, 1);
}

static net_peer *next_ready_peer(net_peer *p)
{
    while (p != NULL &&
           (p->state != NET_CONN_READY || p->link != PROTO_LINK_PEER))
        p = p->next;
    return p;
}

net_peer *net_peer_first(net *n) { return next_ready_peer(n->peers); }
net_peer *net_peer_next(net_peer *p) { return next_ready_peer(p->next); }

void net_peer_get_info(const net_peer *p, net_peer_info *out)
{
    const proto_hello *h = p->sec ? sec_peer_hello(p->sec) : NULL;

    memset(out, 0, sizeof(*out));
    out->state = p->state;
    out->link = p->link;
    out->inbound = p->inbound;
    snprintf(out->addr, sizeof(out->addr), "%s", p->addr);
    if (h != NULL) {
        snprintf(out->name, sizeof(out->name), "%s", h->name);
        out->role = h->role;
        memcpy(out->identity, h->identity, 32);
        out->listen_port = h->listen_port;
    }
    out->connected_ms = p->started_ms;
    out->ping_rtt_ms = p->ping_rtt_ms;
    out->bytes_in = p->bytes_in;
    out->bytes_out = p->bytes_out;
    out->msgs_in = p->msgs_in;
    out->msgs_out = p->msgs_out;
    out->send_queued = unsent(p);
}

const uint8_t *net_peer_identity(const net_peer *p)
{
    static const uint8_t zero[32];
    const proto_hello *h = p->sec ? sec_peer_hello(p->sec) : NULL;
    return h != NULL ? h->identity : zero;
}

const char *net_peer_addr(const net_peer *p) { return p->addr; }
const char *net_peer_name(const net_peer *p) { return peer_label(p); }
uint8_t net_peer_link(const net_peer *p) { return p->link; }
int net_peer_is_inbound(const net_peer *p) { return p->inbound; }
void net_peer_set_data(net_peer *p, void *data) { p->data = data; }
void *net_peer_data(const net_peer *p) { return p->data; }
net *net_peer_net(const net_peer *p) { return p->n; }
