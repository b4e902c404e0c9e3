/*
 * net_book.c - whom a net knows: the address book (bootstrap and learned
 * addresses, each with its backoff), bans (by IP, IP:port or identity),
 * and address gossip (GETADDR answered with our reachable peer links, ADDR
 * learned into the book); see net.h for the policies.
 */
#include "common/daemon/net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/base/err.h"

/* ---- bans ------------------------------------------------------------- */

void net_ban_expire(net *n, uint64_t now)
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
    net_sa_set_port(&b->sa, whole_ip ? 0 : port);
    b->whole_ip = whole_ip;
    b->until_ms = net_now(n) + (uint64_t)n->cfg.ban_secs * 1000;
}

static void ban_identity(net *n, const uint8_t id[32])
{
    net_ban *b = ban_slot(n);
    b->by_identity = 1;
    memcpy(b->identity, id, 32);
    b->until_ms = net_now(n) + (uint64_t)n->cfg.ban_secs * 1000;
}

/* check_port: also match bans of one IP:port (for dials). */
int net_banned_addr(const net *n, const struct sockaddr_storage *ss,
                    int check_port)
{
    uint64_t now = net_now(n);
    for (size_t i = 0; i < n->n_bans; i++) {
        const net_ban *b = &n->bans[i];
        if (b->by_identity || b->until_ms <= now || !net_sa_ip_equal(&b->sa, ss))
            continue;
        if (b->whole_ip || (check_port && net_sa_port(&b->sa) == net_sa_port(ss)))
            return 1;
    }
    return 0;
}

int net_banned_identity(const net *n, const uint8_t id[32])
{
    uint64_t now = net_now(n);
    for (size_t i = 0; i < n->n_bans; i++)
        if (n->bans[i].by_identity && n->bans[i].until_ms > now &&
            memcmp(n->bans[i].identity, id, 32) == 0)
            return 1;
    return 0;
}

/* Bans a misbehaving connection; see net.h for why loopback peers keep
 * their IP. */
void net_ban_conn(net *n, const net_peer *p)
{
    const proto_hello *h = p->sec ? sec_peer_hello(p->sec) : NULL;

    if (p->state == NET_CONN_READY && h != NULL) {
        ban_identity(n, h->identity);
        if (h->listen_port != 0)
            ban_addr(n, &p->sa, 0, h->listen_port);
        if (!net_sa_is_loopback(&p->sa))
            ban_addr(n, &p->sa, 1, 0);
    } else {
        ban_addr(n, &p->sa, 1, 0);
    }
}

void net_misbehave_identity(net *n, const uint8_t identity[32], const char *reason)
{
    net_peer *p = net_ready_by_identity(n, identity, NULL);
    char hex[17];

    if (p != NULL) {
        net_misbehave(p, reason);
        return;
    }
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", identity[i]);
    log_warn(n->cfg.log, "misbehaving peer %s... (gone): %s; banned for %u s", hex,
             reason, n->cfg.ban_secs);
    ban_identity(n, identity);
}

/* ---- address book ------------------------------------------------------ */

net_addr *net_book_find(net *n, const struct sockaddr_storage *ss)
{
    for (size_t i = 0; i < n->n_addrs; i++)
        if (net_sa_equal(&n->addrs[i].sa, ss))
            return &n->addrs[i];
    return NULL;
}

net_addr *net_book_add(net *n, const struct sockaddr_storage *ss,
                       int persistent)
{
    net_addr *a = net_book_find(n, ss);
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

int net_book_is_own_listen(const net *n, const struct sockaddr_storage *ss)
{
    if (n->listen_port == 0 || net_sa_port(ss) != n->listen_port)
        return 0;
    if (net_sa_ip_equal(ss, &n->listen_sa))
        return 1;
    return net_sa_is_any(&n->listen_sa) && net_sa_is_loopback(ss);
}

/* An outbound connection ended after `up_ms` ready (0: never ready). */
void net_book_after_close(net *n, net_addr *a, uint64_t up_ms)
{
    uint32_t delay;

    if (up_ms >= (uint64_t)NET_STABLE_SECS * 1000) {
        a->backoff_ms = n->cfg.backoff_min_ms;
        a->failures = 0;
    } else {
        a->failures++;
    }
    delay = a->backoff_ms;
    a->next_try_ms = net_now(n) + delay + randombytes_uniform(delay / 2 + 1);
    a->backoff_ms = delay >= n->cfg.backoff_max_ms / 2 ? n->cfg.backoff_max_ms
                                                       : delay * 2;
}

/* ---- address gossip ------------------------------------------------------ */

void net_gossip_send_addrs(net_peer *to)
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
            (net_sa_is_loopback(&q->sa) && !net_sa_is_loopback(&to->sa)))
            continue;
        net_sa_to_item(&q->sa, h->listen_port, &m.items[m.n++]);
    }
    rc = proto_addr_encode(&m, &buf, &len);
    net_out_send_encoded(to, PROTO_MSG_ADDR, rc, buf, len);
    free(m.items);
}

void net_gossip_learn(net_peer *from, const uint8_t *payload, size_t len)
{
    net *n = from->n;
    proto_addr m;
    struct sockaddr_storage ss;

    if (proto_addr_decode(payload, len, &m) != 0) {
        net_misbehave(from, "malformed ADDR");
        return;
    }
    for (uint32_t i = 0; i < m.n; i++) {
        net_sa_from_item(&m.items[i], &ss);
        if (m.items[i].port == 0 || net_sa_is_any(&ss) ||
            net_book_is_own_listen(n, &ss) ||
            (net_sa_is_loopback(&ss) && !net_sa_is_loopback(&from->sa)))
            continue;
        net_book_add(n, &ss, 0);
    }
    proto_addr_free(&m);
    net_dial_more(n);
}

void net_gossip_maybe_ask(net *n, uint64_t now)
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
        net_out_send_encoded(p, PROTO_MSG_GETADDR, 0, NULL, 0);
}

/* ---- figures ------------------------------------------------------------- */

size_t net_addr_count(const net *n) { return n->n_addrs; }

size_t net_ban_count(const net *n)
{
    size_t c = 0;
    uint64_t now = net_now(n);
    for (size_t i = 0; i < n->n_bans; i++)
        c += n->bans[i].until_ms > now;
    return c;
}

int net_is_banned(net *n, const char *addr)
{
    struct sockaddr_storage ss;

    if (net_parse_host(addr, 0, &ss) == 0) {
        net_sa_normalize(&ss);
        return net_banned_addr(n, &ss, 0);
    }
    if (net_parse_addr(addr, 0, &ss) != 0)
        return 0;
    return net_banned_addr(n, &ss, 1);
}
