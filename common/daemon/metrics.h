/*
 * metrics.h - Prometheus text exposition of a daemon's statistics and a
 * minimal HTTP/1.0 responder for it on a libuv loop.
 *
 * metrics_format turns the stats a daemon serves over control (daemon.h
 * lists them) into the Prometheus text format 0.0.4: one HELP and one TYPE
 * line per family, samples labelled node="NAME",role="ROLE" (taken from the
 * "name" and "role" stats), counters named *_total, durations in seconds,
 * energy in Wh, money in micro-units.  Stats it does not know are skipped
 * so new stats never make malformed output.
 *
 * The server answers GET /metrics (200), any other GET (404) and any other
 * method (405), then closes the connection.  A request is read up to
 * METRICS_REQ_MAX bytes (431 beyond); a connection idle for
 * METRICS_IDLE_MS, or beyond METRICS_CONN_MAX open at once, is closed.
 * Only the loop's thread may call these functions.
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/msg.h"

#define METRICS_REQ_MAX 2048
#define METRICS_IDLE_MS 5000
#define METRICS_CONN_MAX 16

/* Formats n stats into *out (malloc'd, NUL-terminated, caller frees) and
 * its length into *len.  0 or SG_ENOMEM. */
int metrics_format(const proto_stat *items, size_t n, char **out, size_t *len);

/* A histogram family in Prometheus form: NAME_bucket{le=...} cumulative
 * counts (the +Inf bucket last), NAME_sum (seconds) and NAME_count.  The
 * observations are integer milliseconds; bounds print as exact decimal
 * seconds.  Borrowed for the call only. */
typedef struct {
    const char *name;                /* the family, e.g. sg_tx_inclusion_latency_seconds */
    const char *help;
    size_t n;                        /* finite buckets */
    const uint64_t *bounds_ms;       /* n upper bounds, ascending */
    const uint64_t *counts;          /* n + 1 cumulative counts; [n] is +Inf = count */
    uint64_t sum_ms;
} metrics_histogram;

/* metrics_format followed by nh histograms, labelled like the rest. */
int metrics_format_ex(const proto_stat *items, size_t n, const metrics_histogram *h,
                      size_t nh, char **out, size_t *len);

/* Fills *body (malloc'd, caller's to free) with the exposition text. */
typedef int (*metrics_render_fn)(void *ctx, char **body, size_t *len);

typedef struct metrics_server metrics_server;

/* Listens on listen ("HOST:PORT", "[V6]:PORT"; port 0 picks one).  The
 * server is owned by the caller until metrics_server_close.  0, SG_EINVAL
 * (address), SG_EIO (bind/listen; uv error in *uv_err if not NULL) or
 * SG_ENOMEM. */
int metrics_server_start(metrics_server **out, uv_loop_t *loop, const char *listen,
                         metrics_render_fn render, void *ctx, int *uv_err);

/* The bound port (useful after port 0). */
uint16_t metrics_server_port(const metrics_server *ms);

/* Closes the listener and every open connection; the memory is freed once
 * libuv has closed the last handle (uv_run returns after that).  NULL is
 * a no-op. */
void metrics_server_close(metrics_server *ms);

#endif
