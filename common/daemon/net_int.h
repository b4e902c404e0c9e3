/*
 * net_int.h - what the files of the net module share, and nobody else
 * includes: the two structs and the calls between the files.
 *
 *   net.c        the net: config, lifecycle (one teardown), listening and
 *                accepting, the dialing policy, the tick, the control hook
 *   net_conn.c   one connection: its states, its one teardown path, the
 *                secure session's callbacks, input in fair turns, ping,
 *                misbehaviour, per-peer accessors
 *   net_out.c    output batching: frames gathered per peer during a loop
 *                turn and written once at its end; net_send, the turn hook
 *   net_book.c   the address book, bans, and address gossip (ADDR/GETADDR)
 *   net_addr.c   socket addresses: parsing, formatting, comparisons
 *   net_deny.c   partitions: the peer names refused until a heal
 *
 * Everything here runs on the loop's thread.
 */
#ifndef SG_NET_INT_H
#define SG_NET_INT_H

#include "common/daemon/net.h"
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
    int denied;                   /* answered by a denied name: not dialed */
} net_addr;

typedef struct {
    struct sockaddr_storage sa;   /* IP, and port unless whole_ip */
    int whole_ip;
    int by_identity;
    uint8_t identity[32];
    uint64_t until_ms;
} net_ban;

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
    int paused;                   /* net_peer_pause_input: not reading */
    uint8_t *backlog;             /* read but not yet fed (budget spent) */
    size_t backlog_len, backlog_off;
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
    /* Control links: their events and frames go here (net_set_control_hook). */
    net_event_cb on_control;
    net_msg_cb on_control_msg;
    void *control_ctx;
    uint8_t *rbuf;
    net_peer *peers, *peers_tail;
    size_t n_conns, n_outbound, n_ready, n_control, n_backlog;
    size_t n_handshakes_in;       /* inbound connections in HANDSHAKE */
    net_addr *addrs;
    size_t n_addrs;
    net_ban *bans;
    size_t n_bans;
    struct sockaddr_storage listen_sa;
    uint16_t listen_port;
    uint64_t last_getaddr_ms;
    /* Partition (net_deny.c): names refused until the next net_set_denied. */
    char (*deny)[PROTO_NAME_MAX + 1];
    size_t n_deny;
    int started;
    int closing;
    int handles_open;
    void (*close_cb)(void *arg);
    void *close_arg;
};

static inline uint64_t net_now(const net *n) { return uv_now(n->loop); }

/* ---- net.c ------------------------------------------------------------- */

/* Dials every address the policy allows now (after a close, a gossip). */
void net_dial_more(net *n);
/* Called whenever a connection is gone and freed: the net may be done. */
void net_maybe_finish(net *n);
/* The READY peer link with this identity other than skip, or NULL. */
net_peer *net_ready_by_identity(net *n, const uint8_t id[32], const net_peer *skip);

/* ---- net_conn.c -------------------------------------------------------- */

/* A new connection in CONNECTING, linked into n->peers; NULL: no memory. */
net_peer *net_conn_new(net *n, int inbound);
/* The one teardown path: logs why, flushes what was queued, leaves READY
 * (CLOSED event), uv_close; the peer is unlinked and freed in the close
 * callback.  A no-op for a peer already closing. */
void net_conn_close(net_peer *p, int level, const char *why);
/* Opens an outbound connection to a book address. */
void net_conn_dial(net *n, net_addr *a);
/* TCP is up: start the secure handshake. */
void net_conn_start_handshake(net_peer *p);
/* Liveness of one connection, on the tick: handshake and ping timeouts,
 * pings due. */
void net_conn_check(net_peer *p, uint64_t now);
/* A peer's name from its HELLO, or "?". */
const char *net_conn_label(const net_peer *p);

/* ---- net_out.c --------------------------------------------------------- */

/* The session's output: queues one sealed frame for the end of the turn. */
int net_out_frame(void *ctx, uint8_t *frame, size_t len);
/* Hands a peer's queued frames to libuv as one write.  0, SG_ENOMEM, SG_EIO. */
int net_out_flush_peer(net_peer *p);
/* End of a loop turn: the turn hook, then every peer's queued frames. */
void net_out_end_turn(net *n);
/* Bytes queued for a peer that the kernel has not taken. */
size_t net_out_unsent(const net_peer *p);
/* Frees the queue of a peer being freed. */
void net_out_free(net_peer *p);
/* net_send of an encoding's result (rc != 0: nothing sent); frees buf. */
int net_out_send_encoded(net_peer *p, uint8_t type, int rc, uint8_t *buf, size_t len);

/* ---- net_book.c -------------------------------------------------------- */

net_addr *net_book_find(net *n, const struct sockaddr_storage *ss);
/* Adds (or marks persistent) an address; NULL when the book is full. */
net_addr *net_book_add(net *n, const struct sockaddr_storage *ss, int persistent);
/* An outbound connection ended after `up_ms` ready (0: never ready). */
void net_book_after_close(net *n, net_addr *a, uint64_t up_ms);
/* Whether ss is our own listening address. */
int net_book_is_own_listen(const net *n, const struct sockaddr_storage *ss);
void net_ban_expire(net *n, uint64_t now);
/* Bans a misbehaving connection as net.h describes. */
void net_ban_conn(net *n, const net_peer *p);
/* check_port: also match bans of one IP:port (for dials). */
int net_banned_addr(const net *n, const struct sockaddr_storage *ss, int check_port);
int net_banned_identity(const net *n, const uint8_t id[32]);
/* GETADDR from p: answer with our reachable peer links. */
void net_gossip_send_addrs(net_peer *to);
/* ADDR from p: learn what is new and dial if short. */
void net_gossip_learn(net_peer *from, const uint8_t *payload, size_t len);
/* On the tick: ask a random peer for addresses when short of outbound. */
void net_gossip_maybe_ask(net *n, uint64_t now);

/* ---- net_deny.c -------------------------------------------------------- */

/* Whether a peer of this HELLO name is refused (a partition holds). */
int net_deny_has(const net *n, const char *name);

/* ---- net_addr.c -------------------------------------------------------- */

void net_sa_normalize(struct sockaddr_storage *ss);
uint16_t net_sa_port(const struct sockaddr_storage *ss);
void net_sa_set_port(struct sockaddr_storage *ss, uint16_t port);
int net_sa_ip_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
int net_sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
int net_sa_is_loopback(const struct sockaddr_storage *ss);
int net_sa_is_any(const struct sockaddr_storage *ss);
/* A bare host ("1.2.3.4", "::1", "" or "*" for any).  0 or SG_EINVAL. */
int net_parse_host(const char *host, int allow_names, struct sockaddr_storage *out);
void net_sa_from_item(const proto_addr_item *it, struct sockaddr_storage *ss);
void net_sa_to_item(const struct sockaddr_storage *ss, uint16_t port, proto_addr_item *it);

#endif
