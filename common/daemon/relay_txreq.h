/*
 * relay_txreq.h - which transaction was asked of which peer, so a
 * transaction several peers announce at once is fetched from one of them
 * (in the manner of Bitcoin Core's TxRequestTracker, much simplified).
 *
 * Without it every peer whose INV came in before the transaction did was
 * sent a GETDATA: with 50 daemons on one host each transaction reached
 * each daemon 2.85 times on average, and the copies took the CPU that
 * blocks crossing the host needed (docs/BENCHMARKS.md).
 *
 * An announcement of a transaction nobody was asked for (or whose request
 * is older than the timeout) is answered "ask this peer now"; one that
 * comes while another peer's request is still young is kept as an
 * alternative (up to RELAY_TXREQ_ALTS per transaction).  Once the
 * transaction arrives, from anyone, or is refused, relay_txreq_done
 * forgets it.  A request that timed out, was answered NOTFOUND or went to
 * a peer that closed passes to the next alternative at the next
 * relay_txreq_expire; with none left it is forgotten (a later
 * announcement starts over).  Peers are named by a number the caller
 * never reuses, so a closed peer's requests cannot be mistaken for a new
 * peer's.
 *
 * Bounded: at most `max` transactions tracked; beyond that an
 * announcement is answered "ask now" untracked, which is what the relay
 * did before.  Ownership: the tracker owns its entries.  Not thread-safe
 * (the daemon's loop).
 */
#ifndef SG_RELAY_TXREQ_H
#define SG_RELAY_TXREQ_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_TXREQ_ALTS 4

typedef struct relay_txreq relay_txreq;

/* 0, SG_EINVAL (max or timeout 0) or SG_ENOMEM. */
int relay_txreq_new(relay_txreq **out, size_t max, uint64_t timeout_ms);
void relay_txreq_free(relay_txreq *t);       /* NULL is a no-op */

/* peer announced txid at now_ms: 1 if it should be asked now (the request
 * is recorded as its), 0 if another peer's request is pending (this peer
 * is kept as an alternative). */
int relay_txreq_announced(relay_txreq *t, uint64_t peer, const uint8_t txid[32],
                          uint64_t now_ms);
/* The transaction came in (or was refused): forget it. */
void relay_txreq_done(relay_txreq *t, const uint8_t txid[32]);
/* peer answered NOTFOUND for txid, or (relay_txreq_peer_gone) closed:
 * its requests go to their alternatives at the next expire. */
void relay_txreq_notfound(relay_txreq *t, uint64_t peer, const uint8_t txid[32]);
void relay_txreq_peer_gone(relay_txreq *t, uint64_t peer);

/* Asks an alternative peer for txid: 0 if the request went out, > 0 if
 * that peer is gone (the next alternative is tried), < 0 if the
 * transaction is wanted no more (it is forgotten). */
typedef int (*relay_txreq_ask_cb)(void *ctx, uint64_t peer, const uint8_t txid[32]);
/* Every request older than the timeout (or failed) goes to its next
 * alternative through ask, which becomes the asked peer; those with no
 * alternative left are forgotten.  Returns how many were asked again. */
size_t relay_txreq_expire(relay_txreq *t, uint64_t now_ms, relay_txreq_ask_cb ask,
                          void *ctx);
/* Transactions tracked now. */
size_t relay_txreq_count(const relay_txreq *t);

#endif
