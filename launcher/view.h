/*
 * view.h - live statistics: a refreshing table for a terminal, one plain
 * line per refresh otherwise.  Display only: nothing here is consensus, so
 * rates may be computed in floating point.
 */
#ifndef LAUNCHER_VIEW_H
#define LAUNCHER_VIEW_H

#include <stdint.h>
#include <stdio.h>

#include "fleet.h"
#include "ingest.h"

#define VIEW_EVENTS 5

typedef struct {
    int64_t elapsed_ms;              /* < 0: a one-off snapshot (status) */
    uint32_t duration_s;             /* 0: until Ctrl-C */
    const char *phase;               /* "connecting", "running", "stopping" */
    ingest_stats ist;                /* ist.blocks == 0: no ingest (status) */
    const ingest *ing;               /* money per node; NULL: none (status) */
    double tx_per_s;
    uint64_t restarts;
    uint32_t block_interval_ms;      /* target; 0: a fixed difficulty */
    const char *events[VIEW_EVENTS]; /* newest last; NULL entries skipped */
} view_header;

/* The whole table; clear = 1 redraws the terminal from the top. */
void view_table(FILE *out, const fleet *f, const view_header *h, int clear);
/* One line: elapsed, height, blocks, stale, tx/s, price, energy. */
void view_line(FILE *out, const fleet *f, const view_header *h);

#endif
