/*
 * net.c - the net itself: its config and lifecycle (one teardown, net_free,
 * whether net_new fails or net_close finishes), listening and accepting,
 * the dialing policy over the address book, the tick that drives timeouts,
 * pings, bans and dials, the control hook, and the net's figures.  One
 * connection's life is in net_conn.c; the map of files is in net_int.h.
 */
#define _GNU_SOURCE
#include "common/daemon/net_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/base/err.h"

static uint32_t or_default(uint32_t v, uint32_t def) { return v ? v : def; }

static size_t conn_cap(const net *n)
{
    return (size_t)n->cfg.max_peers + NET_MAX_CONTROL;
}

net_peer *net_ready_by_identity(net *n, const uint8_t id[32],
                                const net_peer *skip)
{
    for (net_peer *q = n->peers; q != NULL; q = q->next)
        if (q != skip && q->state == NET_CONN_READY &&
            q->link == PROTO_LINK_PEER &&
            memcmp(sec_peer_hello(q->sec)->identity, id, 32) == 0)
            return q;
    return NULL;
}

/* ---- dialing and accepting -------------------------------------------- */

static size_t inbound_count(const net *n)
{
    return n->n_conns - n->n_outbound;
}

/* Bootstrap addresses first, then the others from a random place in the
 * book: nodes that learned the same addresses in the same order (gossip
 * from the same few peers) would otherwise all dial the first ones. */
void net_dial_more(net *n)
{
    uint64_t now = net_now(n);
    size_t start;

    if (n->closing || !n->started || n->n_addrs == 0)
        return;
    start = randombytes_uniform((uint32_t)n->n_addrs);
    for (size_t k = 0; k < 2 * n->n_addrs; k++) {
        size_t i = k < n->n_addrs ? k : (start + k) % n->n_addrs;
        net_addr *a = &n->addrs[i];
        if (n->n_conns >= conn_cap(n) || n->n_ready >= n->cfg.max_peers)
            return;
        if ((k < n->n_addrs) != (a->persistent != 0))
            continue;
        if (a->conn != NULL || a->self || a->denied || a->next_try_ms > now)
            continue;
        if (!a->persistent && (n->cfg.no_discovery ||
                               n->n_outbound >= n->cfg.outbound_target))
            continue;
        if (net_book_is_own_listen(n, &a->sa)) {
            a->self = 1;
            continue;
        }
        if (net_banned_addr(n, &a->sa, 1))
            continue;
        if (a->have_identity && (net_banned_identity(n, a->identity) ||
                                 net_ready_by_identity(n, a->identity, NULL))) {
            /* Already connected to whoever listens there; look again
             * later in case that link drops. */
            a->next_try_ms = now + n->cfg.backoff_min_ms;
            continue;
        }
        net_conn_dial(n, a);
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
    p = net_conn_new(n, 1);
    if (p == NULL) {
        log_error(n->cfg.log, "out of memory accepting a connection");
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&p->tcp) != 0 ||
        uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&p->sa, &len) != 0) {
        snprintf(p->addr, sizeof(p->addr), "?");
        net_conn_close(p, LOG_LEVEL_DEBUG, "accept failed");
        return;
    }
    net_sa_normalize(&p->sa);
    net_format_addr((struct sockaddr *)&p->sa, p->addr, sizeof(p->addr));
    if (n->closing) {
        net_conn_close(p, LOG_LEVEL_DEBUG, "shutting down");
        return;
    }
    if (net_banned_addr(n, &p->sa, 0)) {
        net_conn_close(p, LOG_LEVEL_DEBUG, "address is banned");
        return;
    }
    /* Before any key exchange; this one is counted in n_conns already.
     * The control reserve keeps the launcher's links possible. */
    if (n->n_conns > conn_cap(n) ||
        inbound_count(n) > n->cfg.max_inbound + NET_MAX_CONTROL) {
        net_conn_close(p, LOG_LEVEL_DEBUG, "too many connections");
        return;
    }
    if (n->n_handshakes_in >= n->cfg.max_handshakes_in) {
        net_conn_close(p, LOG_LEVEL_DEBUG, "too many handshakes under way");
        return;
    }
    net_conn_start_handshake(p);
}

/* ---- timers ------------------------------------------------------------ */

static void on_tick(uv_timer_t *t)
{
    net *n = t->data;
    uint64_t now = net_now(n);
    net_peer *next;

    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        if (p->state != NET_CONN_CLOSING)
            net_conn_check(p, now);
    }
    net_ban_expire(n, now);
    net_dial_more(n);
    net_gossip_maybe_ask(n, now);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The one teardown of the net's own memory: after a failed net_new, or
 * once net_close has seen every handle and connection closed. */
static void net_free(net *n)
{
    free(n->rbuf);
    free(n->addrs);
    free(n->bans);
    free(n->deny);
    free(n->name);
    free(n->listen);
    sodium_memzero(&n->cfg, sizeof(n->cfg));
    free(n);
}

void net_maybe_finish(net *n)
{
    void (*cb)(void *) = n->close_cb;
    void *arg = n->close_arg;

    if (!n->closing || n->handles_open > 0 || n->peers != NULL)
        return;
    net_free(n);
    if (cb != NULL)
        cb(arg);
}

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
    n->cfg.max_inbound = or_default(cfg->max_inbound, NET_MAX_INBOUND);
    n->cfg.max_handshakes_in = or_default(cfg->max_handshakes_in, NET_MAX_HANDSHAKES_IN);
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

static void on_prepare(uv_prepare_t *h) { net_out_end_turn(h->data); }
static void on_check(uv_check_t *h) { net_out_end_turn(h->data); }

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
            net_book_add(n, &ss, 1) == NULL)
            goto fail;
    }
    /* None of these inits can fail (libuv only fills the handle in), so a
     * failure above leaves nothing registered with the loop. */
    uv_timer_init(loop, &n->tick);
    uv_idle_init(loop, &n->idle);
    uv_prepare_init(loop, &n->prepare);
    uv_check_init(loop, &n->check);
    n->tick.data = n->idle.data = n;
    n->prepare.data = n->check.data = n;
    n->handles_open = 4;
    uv_prepare_start(&n->prepare, on_prepare);
    uv_check_start(&n->check, on_check);
    *out = n;
    return 0;
fail:
    net_free(n);
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
        n->listen_port = net_sa_port(&ss);
        net_sa_set_port(&n->listen_sa, n->listen_port);
        log_info(n->cfg.log, "listening on %s (port %u)", n->listen, n->listen_port);
    }
    uv_timer_start(&n->tick, on_tick, NET_TICK_MS, NET_TICK_MS);
    n->last_getaddr_ms = net_now(n);   /* READY links ask first anyway */
    n->started = 1;
    net_dial_more(n);
    return 0;
fail:
    log_error(n->cfg.log, "cannot listen on %s: %s", n->listen, uv_strerror(rc));
    return SG_EIO;
}

static void on_handle_closed(uv_handle_t *h)
{
    net *n = h->data;
    n->handles_open--;
    net_maybe_finish(n);
}

void net_close(net *n, void (*cb)(void *arg), void *arg)
{
    net_peer *next;

    assert(n != NULL);
    if (n->closing)
        return;
    n->closing = 1;
    n->close_cb = cb;
    n->close_arg = arg;
    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        net_conn_close(p, LOG_LEVEL_DEBUG, "shutting down");
    }
    if (n->listener_init)
        uv_close((uv_handle_t *)&n->listener, on_handle_closed);
    uv_close((uv_handle_t *)&n->tick, on_handle_closed);
    uv_close((uv_handle_t *)&n->idle, on_handle_closed);
    uv_close((uv_handle_t *)&n->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&n->check, on_handle_closed);
}

void net_set_control_hook(net *n, net_event_cb on_event, net_msg_cb on_msg,
                          void *ctx)
{
    n->on_control = on_event;
    n->on_control_msg = on_msg;
    n->control_ctx = ctx;
}

int net_add_peer(net *n, const char *hostport)
{
    struct sockaddr_storage ss;
    if (net_parse_addr(hostport, 1, &ss) != 0)
        return SG_EINVAL;
    if (net_book_add(n, &ss, 1) == NULL)
        return SG_EFULL;
    net_dial_more(n);
    return 0;
}

/* ---- accessors ---------------------------------------------------------- */

uint16_t net_listen_port(const net *n) { return n->listen_port; }
size_t net_peer_count(const net *n) { return n->n_ready; }
size_t net_outbound_count(const net *n) { return n->n_outbound; }
size_t net_control_count(const net *n) { return n->n_control; }

static net_peer *next_ready_peer(net_peer *p)
{
    while (p != NULL &&
           (p->state != NET_CONN_READY || p->link != PROTO_LINK_PEER))
        p = p->next;
    return p;
}

net_peer *net_peer_first(net *n) { return next_ready_peer(n->peers); }
net_peer *net_peer_next(net_peer *p) { return next_ready_peer(p->next); }
