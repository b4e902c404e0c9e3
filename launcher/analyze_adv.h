/*
 * analyze_adv.h - what the adversaries of a run did, from its store alone
 * (the nodes table's adversary, rejected_*, banned_peers and adv_* columns,
 * best-chain blocks by miner, node_stats hash rates), as plain text.
 *
 * One section per adversary role a node was started with, in the order of
 * the table in analyze_adv.c (a role without a section yet says so), then
 * what honest nodes refused and whom they banned.  Mining side:
 *   selfish  its share of best-chain blocks against its hash share (the
 *            --hashrate caps, else the measured average), and Eyal and
 *            Sirer's predicted relative revenue for that alpha at gamma 0,
 *            0.5 and 1, with the profitability threshold (1-g)/(3-2g);
 *   forger   its blocks on the best chain (0 when honest nodes held), who
 *            banned it, how many blocks each honest node refused.
 *
 * Ownership: the reader is borrowed; nothing is written to the store.
 */
#ifndef LAUNCHER_ANALYZE_ADV_H
#define LAUNCHER_ANALYZE_ADV_H

#include <stdio.h>

#include "launcher/db/db.h"

/* Writes the analysis of run run_id to out.  0 (also for a run without
 * adversaries: it says so), SG_EDB with one line on stderr, SG_ENOMEM. */
int analyze_adv_run(db_reader *r, const char *run_id, FILE *out);

/* Eyal and Sirer's relative revenue of a selfish pool with hash share
 * alpha (0..0.5) and tie share gamma (0..1):
 *   R = [a(1-a)^2(4a + g(1-2a)) - a^3] / [1 - a(1 + (2-a)a)]. */
double analyze_adv_es_revenue(double alpha, double gamma);

/* Nodes of the run started as adversaries; 0 also for a database from
 * before nodes.adversary.  `launcher analyze` adds this analysis when
 * there are any. */
int analyze_adv_count(db_reader *r, const char *run_id);

/* `launcher analyze-adv --run-dir DIR` (hidden; `launcher analyze` shows
 * the same after its own figures): the store and run as the report finds
 * them (report_open_run).  Returns an exit status. */
int analyze_adv_main(int argc, char **argv);

#endif
