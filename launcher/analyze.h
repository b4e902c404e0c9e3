/*
 * analyze.h - `launcher analyze`: what a run's database says about its
 * perturbations.  For every scenario event (table events) the time until
 * every node of the run shared one tip again, from the per-node samples
 * (node_stats.tip, one round of samples per launcher tick, all stamped
 * with the tick's start): the first round stamped after the event in
 * which every node of the run answered with the same tip.  The figure is
 * therefore exact to one tick (about a second) and never early; a stopped
 * or dead node answers in no round, so its event recovers only once it
 * is back and caught up.  -1: the nodes never agreed again in the run.
 *
 * Reads only; the result owns its rows.
 */
#ifndef LAUNCHER_ANALYZE_H
#define LAUNCHER_ANALYZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "launcher/db/db.h"

typedef struct {
    int64_t seq, t_ms, at_ms, line;
    char what[DB_WORD_MAX], target[DB_TARGET_MAX], arg[DB_NAME_MAX];
    char outcome[DB_OUTCOME_MAX];
    int64_t recovery_ms;            /* -1: no agreement after it */
    int split;                      /* some round after it, before recovery, disagreed */
} analyze_event;

typedef struct {
    analyze_event *ev;              /* owned, in seq order */
    size_t n;
    size_t nodes;                   /* nodes of the run (runs.operators + ...) */
    size_t rounds, agreed;          /* sample rounds, and those on one tip */
    int have_tips;                  /* node_stats.tip exists (newer databases) */
    int oom;                        /* while reading */
} analyze_result;

/* Fills out from the run's rows.  0, or SG_EIO (err: the query's failure),
 * SG_ENOMEM. */
int analyze_run(db_reader *r, const char *run_id, analyze_result *out, char *err,
                size_t cap);
void analyze_free(analyze_result *a);
/* The table `launcher analyze` prints. */
void analyze_print(FILE *f, const analyze_result *a, const char *run_id);

/* `launcher analyze [--run DIR]`: argv[0] is "analyze".  Exit status. */
int analyze_main(int argc, char **argv);

#endif
