/*
 * net_conn.c - one connection of a net: its states (every change in
 * conn_set_state), its one teardown path (net_conn_close, then the handle's
 * close callback frees it), the secure session's callbacks, input fed in
 * fair turns, ping, misbehaviour, and what the daemon may ask of a peer.
 */
#define _GNU_SOURCE
#include "common/daemon/net_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/base/err.h"

/* ---- states ---------------------------------------------------------- */

const char *net_conn_label(const net_peer *p)
{
    const proto_hello *h = p->sec ? sec_peer_hello(p->sec) : NULL;
    return h != NULL && h->name[0] ? h->name : "?";
}

static void on_idle(uv_idle_t *h);

/* n_backlog counts the peers the idle handle must feed: a backlog and not
 * paused; the handle runs while there is one. */
static void idle_ref(net *n, int delta)
{
    if (delta > 0 && n->n_backlog++ == 0)
        uv_idle_start(&n->idle, on_idle);
    else if (delta < 0 && --n->n_backlog == 0)
        uv_idle_stop(&n->idle);
}

static void backlog_clear(net_peer *p)
{
    if (p->backlog == NULL)
        return;
    if (!p->paused)
        idle_ref(p->n, -1);
    free(p->backlog);
    p->backlog = NULL;
    p->backlog_len = p->backlog_off = 0;
}

static void fire(net_peer *p, enum net_event ev)
{
    const net *n = p->n;

    if (p->link == PROTO_LINK_CONTROL) {
        if (n->on_control != NULL)
            n->on_control(n->control_ctx, p, ev);
    } else if (n->cfg.on_peer != NULL) {
        n->cfg.on_peer(n->cfg.ctx, p, ev);
    }
}

/* Every state change goes through here, so the counters, the address book
 * and the daemon's events stay in step with the state. */
static void conn_set_state(net_peer *p, enum net_conn_state to)
{
    net *n = p->n;
    enum net_conn_state from = p->state;
    uint64_t now = net_now(n);

    assert((from == NET_CONN_CONNECTING && to == NET_CONN_HANDSHAKE) ||
           (from == NET_CONN_HANDSHAKE && to == NET_CONN_READY) ||
           (from != NET_CONN_CLOSING && to == NET_CONN_CLOSING));
    p->state = to;
    if (p->inbound && to == NET_CONN_HANDSHAKE)
        n->n_handshakes_in++;
    if (p->inbound && from == NET_CONN_HANDSHAKE)
        n->n_handshakes_in--;
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
            net_book_after_close(n, p->book,
                                 from == NET_CONN_READY ? now - p->ready_ms : 0);
            p->book->conn = NULL;
            p->book = NULL;
        }
        if (from != NET_CONN_READY)
            break;
        if (p->link == PROTO_LINK_CONTROL)
            n->n_control--;
        else
            n->n_ready--;
        fire(p, NET_EV_CLOSED);
        break;
    }
}

/* ---- the one teardown path ------------------------------------------- */

/* Every connection ends here, whatever closed it (an error, a ban, the
 * daemon, net_close): libuv is done with the handle, so unlink and free. */
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
    net_out_free(p);
    free(p);
    net_maybe_finish(n);
}

void net_conn_close(net_peer *p, int level, const char *why)
{
    if (p->state == NET_CONN_CLOSING)
        return;
    log_msg(p->n->cfg.log, level, "closing %s %s (%s): %s",
            p->inbound ? "inbound" : "outbound", p->addr, net_conn_label(p), why);
    /* What was sent before the close goes out as it would have unqueued
     * (a reject, a last answer); a failure here changes nothing. */
    (void)net_out_flush_peer(p);
    conn_set_state(p, NET_CONN_CLOSING);
    uv_close((uv_handle_t *)&p->tcp, on_peer_closed);
}

/* ---- misbehaviour ------------------------------------------------------ */

void net_misbehave(net_peer *p, const char *reason)
{
    net *n = p->n;

    if (p->state == NET_CONN_CLOSING)
        return;
    log_warn(n->cfg.log, "misbehaving %s (%s): %s; banned for %u s", p->addr,
             net_conn_label(p), reason, n->cfg.ban_secs);
    net_ban_conn(n, p);
    net_conn_close(p, LOG_LEVEL_DEBUG, reason);
}

void net_disconnect(net_peer *p, const char *reason)
{
    net_conn_close(p, LOG_LEVEL_INFO, reason);
}

/* ---- ping ------------------------------------------------------------ */

static void send_ping(net_peer *p, uint64_t now)
{
    proto_ping m;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    randombytes_buf(&m.nonce, sizeof(m.nonce));
    rc = proto_ping_encode(&m, &buf, &len);
    if (net_out_send_encoded(p, PROTO_MSG_PING, rc, buf, len) != 0)
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
        net_out_send_encoded(p, PROTO_MSG_PONG, rc, buf, blen);
    } else if (p->ping_outstanding && m.nonce == p->ping_nonce) {
        p->ping_outstanding = 0;
        p->ping_rtt_ms = net_now(p->n) - p->ping_sent_ms;
    }
}

void net_conn_check(net_peer *p, uint64_t now)
{
    const net_config *c = &p->n->cfg;

    if (p->state == NET_CONN_CONNECTING || p->state == NET_CONN_HANDSHAKE) {
        if (now - p->started_ms > c->handshake_timeout_ms)
            net_conn_close(p, LOG_LEVEL_INFO, "handshake timed out");
        return;
    }
    if (p->state != NET_CONN_READY || p->link != PROTO_LINK_PEER)
        return;
    if (p->ping_outstanding) {
        /* Data still arriving (a long block ahead of the PONG) counts as
         * alive too. */
        if (now - p->ping_sent_ms > c->ping_timeout_ms &&
            now - p->last_recv_ms > c->ping_timeout_ms)
            net_conn_close(p, LOG_LEVEL_INFO, "ping timed out");
    } else if (now >= p->next_ping_ms) {
        send_ping(p, now);
    }
}

/* ---- routing: what net handles, what goes up ------------------------- */

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
            net_gossip_send_addrs(p);
        return;
    case PROTO_MSG_ADDR:
        net_gossip_learn(p, payload, len);
        return;
    /* Control-only types: a peer link never carries them (net.h). */
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
    case PROTO_MSG_PARTITION:
    case PROTO_MSG_PARTITION_ACK:
    case PROTO_MSG_HASHRATE:
    case PROTO_MSG_HASHRATE_ACK:
    case PROTO_MSG_ADVERSARY:
    case PROTO_MSG_ADVERSARY_ACK:
        net_misbehave(p, "control message on a peer link");
        return;
    }
    if (c->on_msg != NULL)
        c->on_msg(c->ctx, p, type, payload, len);
}

/* A control link's liveness is the link's business; every other frame is
 * carried to the control hook as it is. */
static void control_msg(net_peer *p, uint8_t type, const uint8_t *payload,
                        size_t len)
{
    net *n = p->n;

    if (type == PROTO_MSG_PING || type == PROTO_MSG_PONG) {
        on_ping(p, type, payload, len);
        return;
    }
    if (n->on_control_msg == NULL) {
        net_conn_close(p, LOG_LEVEL_INFO, "control links are disabled");
        return;
    }
    n->on_control_msg(n->control_ctx, p, type, payload, len);
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

static size_t inbound_peers(const net *n)
{
    size_t k = 0;
    for (const net_peer *q = n->peers; q != NULL; q = q->next)
        k += q->inbound && q->state == NET_CONN_READY && q->link == PROTO_LINK_PEER;
    return k;
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
        net_conn_close(p, LOG_LEVEL_DEBUG, "connected to ourselves");
        return NET_STOP;
    }
    if (net_banned_identity(n, h->identity)) {
        net_conn_close(p, LOG_LEVEL_DEBUG, "identity is banned");
        return NET_STOP;
    }
    if (net_deny_has(n, h->name)) {
        if (p->book != NULL)
            p->book->denied = 1;
        net_conn_close(p, LOG_LEVEL_DEBUG, "partitioned from it");
        return NET_STOP;
    }
    if (n->n_ready >= n->cfg.max_peers ||
        (p->inbound && inbound_peers(n) >= n->cfg.max_inbound)) {
        net_conn_close(p, LOG_LEVEL_INFO, "too many peers");
        return NET_STOP;
    }
    q = net_ready_by_identity(n, h->identity, p);
    loser = q != NULL ? duplicate_loser(n, p, q) : NULL;
    if (loser != NULL)
        net_conn_close(loser, LOG_LEVEL_DEBUG, "duplicate connection");
    if (loser == p)
        return NET_STOP;
    if (p->inbound && h->listen_port != 0) {
        /* Remember who listens there, so we do not dial them twice. */
        ls = p->sa;
        net_sa_set_port(&ls, h->listen_port);
        if ((a = net_book_find(n, &ls)) != NULL) {
            memcpy(a->identity, h->identity, 32);
            a->have_identity = 1;
        }
    }
    log_info(n->cfg.log, "peer %s (%s) ready, %s", p->addr, h->name,
             p->inbound ? "inbound" : "outbound");
    conn_set_state(p, NET_CONN_READY);
    if (p->state == NET_CONN_READY)
        net_out_send_encoded(p, PROTO_MSG_GETADDR, 0, NULL, 0);
    return p->state == NET_CONN_CLOSING ? NET_STOP : 0;
}

static int on_sec_ready(void *ctx)
{
    net_peer *p = ctx;
    net *n = p->n;

    p->link = sec_link(p->sec);
    if (p->link == PROTO_LINK_PEER)
        return ready_peer_link(p);
    if (n->on_control_msg == NULL) {
        net_conn_close(p, LOG_LEVEL_INFO, "control links are disabled");
        return NET_STOP;
    }
    if (n->n_control >= NET_MAX_CONTROL) {
        net_conn_close(p, LOG_LEVEL_INFO, "too many control links");
        return NET_STOP;
    }
    log_debug(n->cfg.log, "control link %s (%s) ready", p->addr, net_conn_label(p));
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
        log_warn(p->n->cfg.log, "refused %s (%s): %s", p->addr, net_conn_label(p),
                 why);
        net_conn_close(p, LOG_LEVEL_DEBUG, why);
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
    while (off < len && p->state != NET_CONN_CLOSING && !p->paused &&
           p->turn_msgs < NET_FRAMES_PER_TURN) {
        size_t k = len - off < NET_FEED_SLICE ? len - off : NET_FEED_SLICE;
        rc = sec_feed(p->sec, data + off, k);
        off += k;
        if (rc != 0 && p->state != NET_CONN_CLOSING)
            on_sec_error(p, rc);
    }
    return off;
}


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
        net_conn_close(p, p->state == NET_CONN_READY && p->link == PROTO_LINK_PEER
                   ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG, why);
        return;
    }
    p->bytes_in += (uint64_t)nread;
    p->last_recv_ms = net_now(p->n);
    used = feed_some(p, (const uint8_t *)buf->base, (size_t)nread);
    if (p->state == NET_CONN_CLOSING || used == (size_t)nread)
        return;
    /* Budget spent or paused: keep the rest for later, stop reading. */
    p->backlog = malloc((size_t)nread - used);
    if (p->backlog == NULL) {
        net_conn_close(p, LOG_LEVEL_ERROR, "out of memory buffering input");
        return;
    }
    memcpy(p->backlog, buf->base + used, (size_t)nread - used);
    p->backlog_len = (size_t)nread - used;
    p->backlog_off = 0;
    uv_read_stop(s);
    if (!p->paused)
        idle_ref(p->n, 1);
}

static void on_idle(uv_idle_t *h)
{
    net *n = h->data;
    net_peer *next;

    /* Peers are freed only in close callbacks, never during this one, so
     * keeping `next` is safe even if callbacks close peers. */
    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        if (p->backlog == NULL || p->paused || p->state == NET_CONN_CLOSING)
            continue;
        p->backlog_off += feed_some(p, p->backlog + p->backlog_off,
                                    p->backlog_len - p->backlog_off);
        if (p->state == NET_CONN_CLOSING || p->backlog_off < p->backlog_len)
            continue;
        backlog_clear(p);
        if (!p->paused && uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0)
            net_conn_close(p, LOG_LEVEL_INFO, "cannot resume reading");
    }
}

void net_peer_pause_input(net_peer *p, int paused)
{
    paused = paused != 0;
    if (p->paused == paused || p->state == NET_CONN_CLOSING)
        return;
    if (paused) {
        if (p->backlog != NULL)
            idle_ref(p->n, -1);
        p->paused = 1;
        if (p->backlog == NULL)
            uv_read_stop((uv_stream_t *)&p->tcp);
        return;
    }
    p->paused = 0;
    if (p->backlog != NULL)
        idle_ref(p->n, 1);        /* the idle handle feeds it, then reads */
    else if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0)
        net_conn_close(p, LOG_LEVEL_INFO, "cannot resume reading");
}

/* ---- creation and handshake ------------------------------------------ */

net_peer *net_conn_new(net *n, int inbound)
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
    p->started_ms = p->last_recv_ms = net_now(n);
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

void net_conn_start_handshake(net_peer *p)
{
    net *n = p->n;
    sec_config sc;
    sec_callbacks cb = { net_out_frame, on_sec_ready, on_sec_msg };
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
        net_conn_close(p, LOG_LEVEL_ERROR, "cannot create a session");
        return;
    }
    conn_set_state(p, NET_CONN_HANDSHAKE);
    uv_tcp_nodelay(&p->tcp, 1);
    if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0) {
        net_conn_close(p, LOG_LEVEL_INFO, "cannot start reading");
        return;
    }
    rc = sec_start(p->sec);
    if (rc != 0 && p->state != NET_CONN_CLOSING)
        net_conn_close(p, LOG_LEVEL_INFO, "cannot send HELLO");
}

static void on_connect(uv_connect_t *req, int status)
{
    net_peer *p = req->data;
    char why[96];

    if (p->state == NET_CONN_CLOSING)
        return;
    if (status < 0) {
        snprintf(why, sizeof(why), "dial failed: %s", uv_strerror(status));
        net_conn_close(p, LOG_LEVEL_DEBUG, why);
        return;
    }
    net_conn_start_handshake(p);
}

void net_conn_dial(net *n, net_addr *a)
{
    net_peer *p = net_conn_new(n, 0);
    char why[96];
    int rc;

    if (p == NULL) {
        a->next_try_ms = net_now(n) + a->backoff_ms;
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
        net_conn_close(p, LOG_LEVEL_DEBUG, why);
    }
}

/* ---- per-peer accessors ----------------------------------------------- */

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
    out->send_queued = net_out_unsent(p);
}

const uint8_t *net_peer_identity(const net_peer *p)
{
    static const uint8_t zero[32];
    const proto_hello *h = p->sec ? sec_peer_hello(p->sec) : NULL;
    return h != NULL ? h->identity : zero;
}

const char *net_peer_addr(const net_peer *p) { return p->addr; }
const char *net_peer_name(const net_peer *p) { return net_conn_label(p); }
uint8_t net_peer_link(const net_peer *p) { return p->link; }
int net_peer_is_inbound(const net_peer *p) { return p->inbound; }
void net_peer_set_data(net_peer *p, void *data) { p->data = data; }
void *net_peer_data(const net_peer *p) { return p->data; }
net *net_peer_net(const net_peer *p) { return p->n; }
