/*
 * net.h - a daemon's peer-to-peer and control connections on its libuv
 * loop: listening, dialing, the secure handshake (secure.h), sealed
 * messages in and out, ping/pong liveness, address gossip, reconnection
 * with backoff and bans.  Control links are authenticated here and their
 * frames carried to the control hook (control.h answers them).
 *
 * The daemon owns the uv_loop_t and runs it; net never blocks and never
 * starts threads.  Every call must be made on the loop's thread.
 *
 * Connections.  Each connection is a net_peer with an explicit state
 * (enum net_conn_state, transitions in one place in net_conn.c).  Only READY
 * connections are seen by the daemon: on_peer(READY) when a peer link is
 * authenticated, on_msg for each message it sends, on_peer(CLOSED) when it
 * goes (whatever the cause, also during net_close).  Control links (HELLO
 * link = PROTO_LINK_CONTROL, e.g. ctl.h clients) go to the control hook
 * instead (net_set_control_hook: its event and message callbacks); they
 * are never counted, pinged or gossiped as peers, and control-only messages
 * arriving on a peer link are treated as misbehaviour, so a peer can never,
 * say, shut a node down.  PING, PONG, ADDR and GETADDR are handled inside
 * net and never reach the daemon.
 *
 * Ownership.  net_peer pointers stay valid until their CLOSED event returns
 * (for control links: the control hook's CLOSED); the daemon may keep one
 * pointer of its own per peer with net_peer_set_data.  Payloads passed to callbacks
 * are valid only during the call.  net_send copies the payload (sealed into
 * a new buffer that lives until libuv's write completes).  Callbacks may
 * call any net function, net_misbehave, net_disconnect and net_close
 * included; the peer is then closed after the callback returns and no
 * further message of it is delivered.
 *
 * Misbehaviour.  A framing error, oversized frame, sealed frame that fails
 * to open (tampered, replayed) or message wrong for the state calls
 * net_misbehave automatically; the daemon calls it for bad blocks and
 * transactions.  It logs the reason, closes that connection at once and
 * bans for NET_BAN_SECS: the remote IP (incoming connections from it are
 * closed on accept, dials to it skipped), and, for an authenticated peer,
 * its identity and listen address.  An authenticated peer on a loopback
 * address is banned by identity and listen address only, not by IP: on a
 * single-host simulation every node shares 127.0.0.1 (Bitcoin Core spares
 * local peers likewise).  A peer that fails authentication (no cluster key,
 * other chain or version) is disconnected and logged but not banned: it is
 * typically a stale daemon of an earlier run on a reused port, and banning
 * its address would ban the whole host.  Other peers are never affected.
 *
 * Degree.  A node keeps NET_OUTBOUND_TARGET outbound links (bootstrap
 * peers count; they are all kept even beyond it) and accepts at most
 * NET_MAX_INBOUND inbound ones and NET_MAX_HANDSHAKES_IN inbound
 * handshakes at once: further connections are closed on accept, before
 * any key exchange.  Addresses learned by gossip are tried from a random
 * place in the book, so nodes that learned the same list do not all dial
 * its first entries.
 *
 * Reconnection.  Bootstrap peers are dialed at start and always redialed
 * when they drop; addresses learned by gossip are dialed while fewer than
 * the outbound target are open.  Redials wait an exponential backoff from
 * NET_BACKOFF_MIN_MS to NET_BACKOFF_MAX_MS plus up to half again of random
 * jitter; a connection that stayed up NET_STABLE_SECS resets the backoff.
 * A connection to ourselves is detected by identity after the handshake and
 * its address is never dialed again.  Of two connections to one identity
 * the one opened by the smaller identity survives (both ends agree).
 *
 * Fairness.  A read callback processes at most NET_FRAMES_PER_TURN messages
 * of a peer; the rest of what it read waits (reading from that peer paused)
 * for the next loop turn, so one peer flooding small frames cannot starve
 * the others or the timers.
 */
#ifndef SG_NET_H
#define SG_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "common/daemon/log.h"
#include "proto/frame.h"
#include "proto/msg.h"

/* Limits.  Config fields of the same name override these when non-zero. */
#define NET_MAX_PEERS 64                 /* authenticated peer links */
#define NET_MAX_CONTROL 16               /* control links at once */
#define NET_OUTBOUND_TARGET 8            /* gossip dials stop here */
/* Inbound connections at once (any state, control links apart): what
 * bounds a node's degree when many dial it, as Bitcoin caps inbound. */
#define NET_MAX_INBOUND 32
/* Inbound handshakes under way at once; a connection beyond is closed on
 * accept, before any key exchange, and its dialer retries after its
 * backoff.  A node that every newcomer dials at once would otherwise run
 * hundreds of key exchanges together and time them all out. */
#define NET_MAX_HANDSHAKES_IN 8
#define NET_FRAME_MAX PROTO_FRAME_MAX    /* one frame, header excluded */
#define NET_INV_MAX PROTO_INV_MAX        /* inventory entries per message */
#define NET_READ_CHUNK (64u * 1024)      /* one socket read */
/* Bytes held per peer on the receive side: one partial frame plus one
 * read not yet processed. */
#define NET_RECV_BUF_MAX (NET_FRAME_MAX + NET_READ_CHUNK)
/* Bytes queued for a peer but not yet written; above it the peer is too
 * slow and is dropped (not banned). */
#define NET_SEND_BUF_MAX (16u * 1024 * 1024)
#define NET_FRAMES_PER_TURN 64
#define NET_ADDR_BOOK_MAX 1024
#define NET_BAN_MAX 1024
#define NET_BAN_SECS 600
#define NET_PING_SECS 15
#define NET_PING_TIMEOUT_SECS 45
#define NET_HANDSHAKE_TIMEOUT_SECS 10
#define NET_BACKOFF_MIN_MS 500
#define NET_BACKOFF_MAX_MS 60000
#define NET_STABLE_SECS 10
#define NET_GETADDR_SECS 60              /* re-ask for addresses when short */
#define NET_TICK_MS 200                  /* timeouts, pings, dials */
#define NET_ADDR_STR_MAX 64              /* "[v6]:port" with NUL */

enum net_conn_state {
    NET_CONN_CONNECTING,   /* outbound TCP connect under way */
    NET_CONN_HANDSHAKE,    /* TCP up, secure handshake under way */
    NET_CONN_READY,        /* authenticated; sealed messages flow */
    NET_CONN_CLOSING,      /* uv_close called; freed in its callback */
};

enum net_event { NET_EV_READY = 1, NET_EV_CLOSED = 2 };

typedef struct net net;
typedef struct net_peer net_peer;

typedef void (*net_event_cb)(void *ctx, net_peer *p, enum net_event ev);
typedef void (*net_msg_cb)(void *ctx, net_peer *p, uint8_t type,
                           const uint8_t *payload, size_t len);

typedef struct {
    const char *listen;            /* "HOST:PORT", "[V6]:PORT", ":PORT";
                                      port 0 = any; NULL = do not listen */
    const char *const *bootstrap;  /* "HOST:PORT" peers always kept */
    size_t n_bootstrap;
    uint8_t identity_pk[32];
    uint8_t identity_sk[64];
    uint8_t cluster_key[32];
    uint8_t chain_id[32];
    uint8_t role;                  /* advertised in HELLO */
    const char *name;              /* advertised in HELLO, <= PROTO_NAME_MAX */
    logger *log;                   /* net's own messages; may be NULL */

    void *ctx;                     /* passed to the peer callbacks */
    net_event_cb on_peer;          /* peer links; may be NULL */
    net_msg_cb on_msg;             /* peer links; may be NULL */

    /* Overrides; 0 = the NET_* default.  Tests shorten the timers. */
    uint32_t max_peers;
    uint32_t max_inbound;
    uint32_t max_handshakes_in;
    uint32_t outbound_target;
    uint32_t ping_ms;
    uint32_t ping_timeout_ms;
    uint32_t handshake_timeout_ms;
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    uint32_t ban_secs;
    uint32_t send_buf_max;
    uint32_t max_frame;            /* <= NET_FRAME_MAX */
    /* Non-zero: dial only the configured (bootstrap, net_add_peer) peers,
     * never addresses learned by gossip, so the topology is exactly the
     * one given (experiments, partition tests). */
    uint8_t no_discovery;
} net_config;

typedef struct {
    enum net_conn_state state;
    uint8_t link;                  /* enum proto_link */
    int inbound;
    char addr[NET_ADDR_STR_MAX];   /* remote address as connected */
    char name[PROTO_NAME_MAX + 1]; /* from HELLO ("" before it) */
    uint8_t role;
    uint8_t identity[32];          /* zero before the handshake */
    uint16_t listen_port;          /* from HELLO */
    uint64_t connected_ms;         /* uv_now when the TCP link opened */
    uint64_t ping_rtt_ms;          /* last round trip, 0 if none yet */
    uint64_t bytes_in, bytes_out;
    uint64_t msgs_in, msgs_out;
    size_t send_queued;            /* bytes the kernel has not taken yet */
} net_peer_info;

/* Copies the config (strings included) and prepares the loop's handles.
 * 0, SG_EINVAL (bad config, unparsable or unresolvable address) or
 * SG_ENOMEM.  Hostnames are resolved here, once, with the system resolver. */
int net_new(net **out, uv_loop_t *loop, const net_config *cfg);
/* Listens and starts dialing.  0, SG_EIO (bind/listen failed) or SG_EINVAL.
 * After a failure the net must still be closed with net_close. */
int net_start(net *n);
/* Closes every connection and handle; once libuv has called back for all
 * of them, frees the net and calls cb(arg) (cb may be NULL).  The loop must
 * keep running until then.  Safe to call from a net callback. */
void net_close(net *n, void (*cb)(void *arg), void *arg);

/* The bound port (useful with port 0), or 0 if not listening. */
uint16_t net_listen_port(const net *n);
/* Adds an address kept like a bootstrap peer.  0, SG_EINVAL, SG_EFULL. */
int net_add_peer(net *n, const char *hostport);

/* Seals and queues one message to a READY connection.  0, SG_ECLOSED (not
 * ready), SG_ETOOBIG (payload over the frame cap), SG_EINVAL (HELLO, AUTH,
 * SEALED or an unknown type) or SG_EFULL (send buffer over its limit: the
 * peer has been dropped as too slow). */
int net_send(net_peer *p, uint8_t type, const void *payload, size_t len);
/* Writes what p was sent so far now instead of at the end of the loop
 * turn (libuv tries the write at once): for a block forwarded before this
 * turn goes on to validate and store it.  0 or SG_EIO (p is then closed). */
int net_flush(net_peer *p);
/* Sends to every READY peer link except `except` (may be NULL); returns
 * how many it was queued for. */
size_t net_broadcast(net *n, net_peer *except, uint8_t type,
                     const void *payload, size_t len);
/* Calls fn(arg) at the end of every loop turn: after the turn's network
 * input was handled, and before the loop waits for more (uv_check and
 * uv_prepare), so a caller can gather what it sends while a batch of
 * messages comes in and send it as one message, with no added delay.  One
 * hook per net; fn NULL removes it; nothing is called once net_close
 * began.  (Frames themselves are also gathered per peer during a turn and
 * written at its end with one writev.) */
void net_set_turn_hook(net *n, void (*fn)(void *arg), void *arg);
/* Where control links go: on_event(ctx, p, READY/CLOSED) and on_msg(ctx,
 * p, type, ...) for every frame but PING and PONG, with the ownership and
 * reentrancy rules of the peer callbacks.  While on_msg is NULL (the
 * default) control links are refused.  Set it before net_start; all NULL
 * removes it. */
void net_set_control_hook(net *n, net_event_cb on_event, net_msg_cb on_msg,
                          void *ctx);

/* Partition: the peer names (HELLO names) this daemon must not be linked
 * to, replacing the earlier set; count 0 heals.  Links to them close now;
 * later links are refused once the handshake names the peer, inbound and
 * outbound alike (not a ban: nothing else is affected), and an address a
 * denied peer answered at is not dialed again.  Any change makes every
 * book address due for a dial at once with a fresh backoff, so links come
 * back after a heal even with a bounded peer degree.  0 or SG_ENOMEM
 * (the old set stays). */
int net_set_denied(net *n, const char *const *names, size_t count);
size_t net_denied_count(const net *n);

/* Logs the reason, disconnects and bans as described above. */
void net_misbehave(net_peer *p, const char *reason);
/* Closes without a ban (logged at info level). */
void net_disconnect(net_peer *p, const char *reason);
/* Misbehaviour found after the fact (a signature checked on another
 * thread), when the link may be gone: bans the identity as net_misbehave
 * would, and a READY link with that identity, if any, gets net_misbehave. */
void net_misbehave_identity(net *n, const uint8_t identity[32], const char *reason);
/* Stops (paused non-zero) or resumes handing a peer's messages to on_msg;
 * its socket is not read meanwhile, so TCP slows the sender down.  For a
 * daemon whose work queue is full.  A few messages read in the same slice
 * may still be delivered after the pause; nothing is lost. */
void net_peer_pause_input(net_peer *p, int paused);

/* Iterates READY peer links (not control links):
 *   for (net_peer *p = net_peer_first(n); p; p = net_peer_next(p)) ...
 * Closing the current peer during the loop is allowed. */
net_peer *net_peer_first(net *n);
net_peer *net_peer_next(net_peer *p);
size_t net_peer_count(const net *n);       /* READY peer links */
size_t net_outbound_count(const net *n);   /* dialing or connected out */
size_t net_control_count(const net *n);    /* READY control links */
size_t net_ban_count(const net *n);        /* bans in force */
/* Whether new connections from this address ("IP" or "IP:PORT") would be
 * refused; for tests and status pages. */
int net_is_banned(net *n, const char *addr);
/* Learned and configured addresses known. */
size_t net_addr_count(const net *n);

void net_peer_get_info(const net_peer *p, net_peer_info *out);
/* The peer's HELLO.identity (valid once READY). */
const uint8_t *net_peer_identity(const net_peer *p);
const char *net_peer_addr(const net_peer *p);
const char *net_peer_name(const net_peer *p);
uint8_t net_peer_link(const net_peer *p);
int net_peer_is_inbound(const net_peer *p);
/* Bytes queued for p that the kernel has not taken yet (send_queued of
 * net_peer_info), e.g. to skip optional output to a slow reader. */
size_t net_peer_send_queued(const net_peer *p);
void net_peer_set_data(net_peer *p, void *data);
void *net_peer_data(const net_peer *p);
net *net_peer_net(const net_peer *p);

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (any address) into a socket address.
 * Numeric hosts only unless allow_names, which resolves with getaddrinfo
 * (blocking).  IPv4-mapped IPv6 addresses become IPv4.  0 or SG_EINVAL. */
int net_parse_addr(const char *s, int allow_names,
                   struct sockaddr_storage *out);
/* "1.2.3.4:5" or "[::1]:5" into out (NET_ADDR_STR_MAX bytes). */
void net_format_addr(const struct sockaddr *sa, char *out, size_t cap);

#endif
