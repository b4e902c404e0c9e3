/*
 * relay_int.h - private to the relay module: what relay.c (inventory, sync,
 * requests in flight) and relay_cmpct.c (compact block relay) lend each
 * other.  Nothing outside common/daemon/relay*.c includes it.
 *
 * Compact block relay (relay_cmpct.c).  Each node asks RELAY_CMPCT_HB
 * peers for high-bandwidth mode (SENDCMPCT 1; the others get SENDCMPCT 0):
 * those send it each new block as a CMPCTBLOCK (proto/cmpct.h,
 * common/core/cblock.h) as soon as the block's header checks out, with no
 * INV/GETDATA round trip; the others announce by INV once they validated
 * it, as before.  As in BIP152, the chosen ones are the peers that most
 * recently gave us a new tip first: a peer that does so and is not chosen
 * replaces the chosen one that did so longest ago, and one that closes is
 * replaced by the best of the rest, so the fastest paths stay
 * high-bandwidth.  Every peer high-bandwidth was tried first and measured
 * worse (bench_net.sh prop 10 30 6 on 2 cores at load average 6, shared
 * with other work: 6 / 13 / 42 ms p50 / p90 / p99 against 4 / 7 / 8 ms by
 * INV): every node forwarded every block to all its peers before
 * validating it, and each redundant copy woke a daemon in exactly the
 * window the block's own validation needed the CPU.  With three, a node
 * gets at most three unsolicited copies; a compact block is about 6 bytes
 * a transaction, so bandwidth was never the reason.
 *
 * Receiving.  A CMPCTBLOCK whose header fails (PoW, bits, time) is the
 * sender's fault; one whose parent we lack is fetched whole the ordinary
 * way (it becomes an orphan and the sync fills the gap).  Otherwise the
 * block is rebuilt from the mempool; what is missing is asked for by index
 * (GETBLOCKTXN, one block per peer at a time); a collision, an answer
 * that does not rebuild the merkle root or no answer within the stall
 * time falls back to GETDATA of the whole block from the same peer (which
 * has it), an ordinary request from then on.  The round trip
 * is deliberately not an ordinary request in flight: a stall would move it
 * to any other peer, most of which do not have a block that new yet.
 *
 * Early relay.  A rebuilt block whose parent is our tip is forwarded, the
 * CMPCTBLOCK bytes exactly as received (the short ids depend only on its
 * header and nonce), to every high-bandwidth peer not known to have it,
 * and written to the socket at once (net_flush), before the chain checks
 * its transactions and stores it.  A block that then fails is not its
 * sender's fault (BIP152): we forwarded it too, so our peers must not ban
 * us for it, and they do not, since none punishes a failure after the
 * header checked out.  A block with a bad header or PoW is never forwarded.
 * The whole block (GETDATA) is only ever served once valid; GETBLOCKTXN is
 * answered for a block found invalid after we forwarded it too, so the
 * peers it went to can rebuild it and find it invalid themselves (the last
 * block answered from is kept decoded: peers ask about the same new
 * block at once).  Blocks mined here are announced once accepted, like
 * any new tip.
 */
#ifndef SG_RELAY_INT_H
#define SG_RELAY_INT_H

#include "common/daemon/relay.h"

typedef struct relay_cmpct relay_cmpct;

#define RELAY_CMPCT_HB 3              /* high-bandwidth peers a node asks for */

/* ---- lent by relay.c ----------------------------------------------------- */

int relay_peer_knows(relay *r, net_peer *p, const uint8_t h[32]);
void relay_peer_mark_sent(relay *r, net_peer *p, const uint8_t h[32]);
void relay_peer_mark_theirs(relay *r, net_peer *p, const uint8_t h[32]);
void relay_misbehave(relay *r, net_peer *p, const char *what, int rc);
/* A whole block from p into the chain, then announced as usual.  spare:
 * its header checked out before we asked for or rebuilt the rest, so a
 * failure of its transactions is logged, not held against p. */
void relay_block_in(relay *r, net_peer *p, const uint8_t *bytes, size_t len, int spare);
/* Ask p for the whole block (GETDATA, with stall re-issue) unless it is
 * asked for already. */
void relay_request_block(relay *r, net_peer *p, const uint8_t h[32]);

/* ---- relay_cmpct.c ------------------------------------------------------- */

int relay_cmpct_new(relay_cmpct **out, relay *r, const relay_config *cfg);
void relay_cmpct_free(relay_cmpct *cm);
void relay_cmpct_peer_ready(relay_cmpct *cm, net_peer *p);
void relay_cmpct_peer_closed(relay_cmpct *cm, net_peer *p);
/* p gave us a block that became the tip (the first copy): it may become
 * one of our high-bandwidth peers. */
void relay_cmpct_delivered(relay_cmpct *cm, net_peer *p);
/* SENDCMPCT, CMPCTBLOCK, GETBLOCKTXN, BLOCKTXN from p. */
void relay_cmpct_msg(relay_cmpct *cm, net_peer *p, uint8_t type,
                     const uint8_t *pl, size_t len);
/* A new tip: CMPCTBLOCK to every high-bandwidth peer not known to have it
 * (they are then marked, so the INV that follows skips them). */
void relay_cmpct_announce(relay_cmpct *cm, const uint8_t h[32]);
void relay_cmpct_tick(relay_cmpct *cm, uint64_t now_ms);
/* Fills the cmpct_* fields. */
void relay_cmpct_stats(const relay_cmpct *cm, relay_stats *out);

#endif
