/*
 * web_snap.h - the live page's snapshot: the run as one line of JSON
 * (jansson), built on the launcher's main loop from the fleet, the ingest
 * index and the view header the terminal shows.  It keeps the market's
 * recent intervals itself, so a page opened late still draws its charts.
 * Display only; single-threaded (web.h carries the text across threads).
 */
#ifndef LAUNCHER_WEB_SNAP_H
#define LAUNCHER_WEB_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "ingest.h"
#include "view.h"

#define WEB_SNAP_SERIES 240          /* market intervals kept for the charts */
#define WEB_SNAP_BLOCKS 12           /* recent best-chain blocks */
#define WEB_SNAP_STALE_MS 3500       /* stats older than this: "unresponsive" */

typedef struct {
    uint64_t interval;               /* count of settled intervals at this point */
    int64_t t_ms;
    uint64_t price, traded_wh, import_wh, export_wh;
} web_snap_point;

typedef struct {
    web_snap_point pts[WEB_SNAP_SERIES]; /* ring */
    size_t n, head;
    uint64_t seen_intervals, seen_import, seen_export;
} web_snap;

/* One line of JSON (malloc'd, *len without the NUL), or NULL without
 * memory.  ing may be NULL (before the run is set up). */
char *web_snap_build(web_snap *ws, const fleet *f, const ingest *ing, const view_header *h,
                     const char *run_id, int64_t now_mono_ms, int64_t wall_ms, size_t *len);

#endif
