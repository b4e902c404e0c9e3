/*
 * control.h - a daemon's end of the control channel: every message a
 * control link (ctl.h clients: the launcher, `ctl`, tests) may send is
 * routed and answered here, and the statistics both STATS and the
 * Prometheus page show are assembled here.
 *
 *   STATS_REQ   the figures listed in daemon.h, in that order
 *   LOG_SUB     stream each new log line at or above a level to this link
 *   STORE_READ  up to PROTO_STORE_READ_MAX bytes of DATA_DIR/blocks.dat
 *   TXLAT_REQ   drain up to PROTO_TXLAT_MAX latency records (txlat.h)
 *   MINING      pause or resume mining; answered with the resulting state
 *   ADVERSARY   switch an adversarial role on (payload: its name, adv_role.h);
 *               answered by ADVERSARY_ACK, one byte: 1 on, 0 unknown role
 *   PARTITION   the peer names to refuse (net_set_denied; empty: heal);
 *               answered with how many are refused now
 *   HASHRATE    set the mining cap; answered with the cap now
 *   SHUTDOWN    stop the daemon (no answer: the link closes with it)
 * Anything else, or a malformed request, closes that link (a malformed
 * LOG_SUB is misbehaviour and bans, as it always was).  The net carries a
 * control link's frames here (net_set_control_hook); PING/PONG stay in net.
 *
 * Log streaming.  With log_stream set, control takes that logger's hook
 * (one control per logger): lines may come from any thread (miner workers
 * log); they are queued under a mutex, the loop woken with a uv_async, and
 * sent from the loop's thread.  A subscriber more than
 * CONTROL_LOG_BACKLOG bytes behind skips lines rather than queue them.
 *
 * Ownership.  The config's modules (chain, relay, agent, txlat) and
 * strings are borrowed and must outlive the control.  The net must be
 * closed before control_close (the daemon calls it from net_close's
 * callback): control never touches it again then, and a net left running
 * would carry frames to a freed control.  Everything runs on the loop's
 * thread except the logger hook.
 */
#ifndef SG_CONTROL_H
#define SG_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/core/chain.h"
#include "common/daemon/adv.h"
#include "common/daemon/adv_tx.h"
#include "common/daemon/agent.h"
#include "common/daemon/log.h"
#include "common/daemon/net.h"
#include "common/daemon/relay.h"
#include "common/daemon/txlat.h"
#include "proto/msg.h"

/* Log lines are skipped, not queued, for a control client this far behind. */
#define CONTROL_LOG_BACKLOG (1u * 1024 * 1024)
#define CONTROL_LOG_QUEUE_MAX 1024     /* lines between two loop turns */

typedef struct control control;

/* Figures only the daemon's runtime knows, asked for at each STATS. */
typedef struct {
    int mining;                        /* wanted (signals, MINING, --no-mine) */
    uint64_t hashrate;
    uint64_t hashrate_cap;           /* 0: uncapped */
    const char *impl;                  /* kern_impl_name */
    uint64_t loop_lag_ms_max, loop_lag_ms_avg;
    uint64_t reorg_blocks;
    uint64_t blocks_mined;
    uint64_t uptime_ms;
} control_runtime;

typedef struct {
    uv_loop_t *loop;
    net *net;                          /* control links; NULL: none (tests) */
    chain *chain;
    relay *relay;                      /* NULL: its figures read 0 (tests) */
    agent *agent;                      /* NULL: no market figures */
    txlat *txlat;                      /* NULL: no latency records */
    adv *adv;                          /* NULL: ADVERSARY is answered 0 */
    adv_tx *adv_tx;                    /* NULL: no transaction-side adversary figures */
    const char *name;
    const char *role;                  /* "prosumer", "consumer", "operator" */
    int operator_role;                 /* market figures of the operator */
    const uint8_t *pk;                 /* 32 bytes: the ledger account shown */
    const char *data_dir;              /* where blocks.dat is */
    logger *log;                       /* control's own messages */
    logger *log_stream;                /* NULL: LOG_SUB is refused */

    void *ctx;                         /* passed to the three below */
    void (*runtime)(void *ctx, control_runtime *out);
    /* Applies MINING and returns the resulting state (0/1). */
    int (*set_mining)(void *ctx, int on);
    /* Applies HASHRATE (0: uncapped) and returns the cap now; NULL: the
     * request is answered with 0 and changes nothing. */
    uint64_t (*set_hashrate)(void *ctx, uint64_t rate);
    void (*shutdown)(void *ctx, const char *why);
} control_config;

/* One answer to a request (control_handle). */
typedef struct {
    uint8_t type;                      /* 0: nothing to send */
    uint8_t *payload;                  /* malloc'ed; the caller frees it */
    size_t len;
    const char *drop;                  /* non-NULL: close the link, why */
} control_answer;

/* Installs the control hook on cfg->net and, with log_stream, the logger
 * hook.  0 or SG_ENOMEM / SG_EIO (the uv_async could not be set up). */
int control_new(control **out, const control_config *cfg);
/* Removes the logger hook and frees the control once libuv closed its
 * handle (the loop must run on).  The net is closed already (see above).
 * NULL is a no-op. */
void control_close(control *c);

/* Answers one request (every type above but LOG_SUB, which belongs to a
 * link) without touching any socket; `from` names the client in log lines.
 * The network side is control's hook: it sends the answer or drops. */
void control_handle(control *c, const char *from, uint8_t type,
                    const uint8_t *payload, size_t len, control_answer *out);

/* The statistics, in daemon.h's order, into items[PROTO_STATS_MAX];
 * returns how many. */
uint32_t control_stats(control *c, proto_stat *items);
/* A metrics_render_fn (metrics.h): the same figures and the latency
 * histogram as Prometheus text; ctx is the control. */
int control_render_metrics(void *ctx, char **body, size_t *len);

#endif
