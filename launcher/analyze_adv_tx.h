/*
 * analyze_adv_tx.h - the transaction-side adversaries' effect on a run
 * (common/daemon/adv_tx.h), from its store alone, as plain text: one
 * section per role, for the adversary node `name` with public key
 * `pubkey` (both as the nodes table has them).  analyze_adv.c calls them
 * from its table of sections.
 *
 *   double spender  pairs sent and for whom they were decided (its own
 *                   count), its transfers on the best chain: never two with
 *                   one nonce, how many went to a node (the merchant, A) or
 *                   elsewhere (its colluder, B), and how long the winner
 *                   took from broadcast to a block (its latency records);
 *   manipulator     the average clearing price of the run's intervals that
 *                   traded against the runs of the same seed with no
 *                   manipulator, overall and over the intervals both have
 *                   (paired by interval number: same seed, same start,
 *                   same households' model); the direction of the shift;
 *   spammer         its valid spam (self-transfers of one micro-unit) on
 *                   the best chain and its share of the transactions there,
 *                   malformed ones it sent, who banned it, and whether the
 *                   market still settled;
 *   forger          its settlements in any stored block (honest nodes
 *                   keep them out: 0), forged ones it sent, what honest
 *                   nodes refused (analyze_adv.c's block part says who
 *                   banned it).
 *
 * Each returns 0, or SG_EDB with one line on stderr.  The reader is
 * borrowed; nothing is written.
 */
#ifndef LAUNCHER_ANALYZE_ADV_TX_H
#define LAUNCHER_ANALYZE_ADV_TX_H

#include <stdio.h>

#include "launcher/db/db.h"

int analyze_adv_tx_double_spender(db_reader *r, const char *run_id, const char *name,
                                  const char *pubkey, FILE *out);
int analyze_adv_tx_manipulator(db_reader *r, const char *run_id, const char *name,
                               const char *pubkey, FILE *out);
int analyze_adv_tx_spammer(db_reader *r, const char *run_id, const char *name,
                           const char *pubkey, FILE *out);
int analyze_adv_tx_forger(db_reader *r, const char *run_id, const char *name,
                          const char *pubkey, FILE *out);

#endif
