/*
 * ctl.h - the blocking control-channel client used by the launcher, tools
 * and tests: plain POSIX sockets, no event loop, one thread.
 *
 * It connects to a daemon's ordinary listening port and runs the same
 * secure handshake as peers (secure.h) with HELLO.link = PROTO_LINK_CONTROL,
 * so it needs the cluster key and the chain id.  Its identity may be a
 * stored Ed25519 key or a fresh one per connection.
 *
 * Every call takes a timeout in milliseconds (negative: wait forever) and
 * returns 0 or a negative SG_E* code: SG_ETIMEOUT when the deadline
 * passed, SG_ECLOSED when the daemon closed the link, SG_EAUTH when it
 * refused us, SG_EIO for socket errors (errno has detail).  After any error
 * but SG_ETIMEOUT the connection is dead; ctl_close it.
 *
 * Log lines the daemon streams while the client waits for something else
 * (a stats reply) are kept, up to CTL_LOG_QUEUE_MAX lines (older ones are
 * dropped and counted), and returned by later ctl_next_log_line calls.
 */
#ifndef SG_CTL_H
#define SG_CTL_H

#include <stddef.h>
#include <stdint.h>
#include "proto/msg.h"

#define CTL_LOG_QUEUE_MAX 4096

typedef struct ctl ctl;

typedef struct {
    const uint8_t *cluster_key;    /* 32 bytes */
    const uint8_t *chain_id;       /* 32 bytes */
    const uint8_t *identity_sk;    /* 64 bytes (libsodium), NULL: ephemeral */
    const char *name;              /* shown in the daemon's log; NULL "ctl" */
} ctl_auth;

/* host: name or address (IPv4/IPv6).  Waits for the handshake to finish. */
int ctl_connect(ctl **out, const char *host, uint16_t port,
                const ctl_auth *auth, int timeout_ms);
/* Same with "HOST:PORT" / "[V6]:PORT". */
int ctl_connect_addr(ctl **out, const char *hostport, const ctl_auth *auth,
                     int timeout_ms);
void ctl_close(ctl *c);

/* Asks for the daemon's statistics; *out is freed with proto_stats_free. */
int ctl_stats(ctl *c, proto_stats *out, int timeout_ms);
/* Starts streaming lines at or above min_level (enum log_level, loglevel.h; a value
 * above LOG_LEVEL_ERROR stops the stream). */
int ctl_log_subscribe(ctl *c, uint8_t min_level, int timeout_ms);
/* Next streamed line, oldest first. */
int ctl_next_log_line(ctl *c, proto_log_line *out, int timeout_ms);
/* Asks the daemon to shut down.  With wait_ms > 0 also waits that long for
 * the daemon to close the link and returns 0 only once it has (SG_ETIMEOUT
 * otherwise); with wait_ms == 0 returns once the request is sent. */
int ctl_shutdown(ctl *c, int wait_ms);

/* Reads the daemon's block store (blocks.dat, store.h) from offset: up to
 * cap bytes (the daemon sends at most PROTO_STORE_READ_MAX) go to buf,
 * *got says how many, *file_size the store's size when they were read
 * (file_size may be NULL).  *got == 0: offset is at or past the end.  The
 * bytes may end inside a record still being written; callers check the
 * record checksums, as with the file itself. */
int ctl_store_read(ctl *c, uint64_t offset, uint8_t *buf, size_t cap, size_t *got,
                   uint64_t *file_size, int timeout_ms);

/* Drains the daemon's transaction latency records (txlat.h): the ones
 * measured since the last call, at most PROTO_TXLAT_MAX; out->left more
 * wait (call again).  A reply that arrived after an earlier call timed out
 * is returned first, without a new request.  *out is freed with
 * proto_txlat_free. */
int ctl_txlat(ctl *c, proto_txlat *out, int timeout_ms);

/* Asks the daemon to stop (on = 0) or start (on = 1) mining, like
 * SIGUSR1/SIGUSR2 but over the link, so it reaches a daemon on any host,
 * and waits for its MINING_ACK.  0 once the daemon reports that state
 * (asking for the state it is in already is fine), SG_EPROTO if it reports
 * the other.  After SG_ETIMEOUT the request may still take effect; asking
 * again is safe. */
int ctl_mining(ctl *c, int on, int timeout_ms);

/* Switches an adversary role on in the daemon (ADVERSARY, role as in
 * common/core/adv_role.h) and waits for its ack: 0 once on, SG_EINVAL if
 * the daemon refused the name. */
int ctl_adversary(ctl *c, const char *role, int timeout_ms);
/* One request and its answer: sends type with the payload and waits for
 * the first message of ack_type, whose payload goes to *ack (malloc'ed,
 * freed by the caller; NULL when empty) and *ack_len.  For requests a
 * client sends one at a time on its own link (the scenario's PARTITION,
 * HASHRATE, ADVERSARY); SG_ECLOSED when the daemon drops the link instead,
 * as one that does not know the request does. */
int ctl_call(ctl *c, uint8_t type, const void *payload, size_t len, uint8_t ack_type,
             uint8_t **ack, size_t *ack_len, int timeout_ms);

/* Any other control message, for daemon-specific extensions. */
int ctl_send(ctl *c, uint8_t type, const void *payload, size_t len,
             int timeout_ms);

/* The non-blocking side, for one thread that talks to many daemons
 * (the launcher's poll): ctl_open starts a connection to a numeric address
 * and returns at once; the caller polls ctl_fd for ctl_events and calls
 * ctl_step when it is ready (or whenever it likes): ctl_step does what can
 * be done without blocking (finishes the TCP connect and the handshake,
 * writes what is queued, reads and feeds what has arrived) and returns 0
 * or an error after which the link is dead.  Requests are queued with
 * ctl_post (STATS_REQ, TXLAT_REQ: no payload) or ctl_post_mining once
 * ctl_is_ready; their answers are picked up with ctl_take_* (1: taken,
 * 0: none yet) or ctl_mining_state (the state the daemon acknowledged for
 * the latest request, -1 while one is unanswered).  The blocking calls
 * above may be used on the same link once it is ready. */
int ctl_open(ctl **out, const char *ip, uint16_t port, const ctl_auth *auth);
int ctl_fd(const ctl *c);
short ctl_events(const ctl *c);
int ctl_step(ctl *c);
int ctl_is_ready(const ctl *c);
int ctl_post(ctl *c, uint8_t type);
int ctl_post_mining(ctl *c, int on);
int ctl_mining_state(const ctl *c);
int ctl_take_stats(ctl *c, proto_stats *out);
int ctl_take_txlat(ctl *c, proto_txlat *out);
/* The daemon's HELLO (name, role, identity). */
const proto_hello *ctl_server_hello(const ctl *c);
/* Streamed lines dropped because nobody read them in time. */
uint64_t ctl_log_dropped(const ctl *c);

#endif
