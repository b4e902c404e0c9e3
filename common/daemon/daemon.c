/*
 * daemon.c - the daemon runtime: one libuv loop carrying the net, the
 * relay, the miner's hand-off, the control channel (control.h, wired here:
 * it answers control links itself and asks the runtime for its figures,
 * mining and shutdown through three callbacks), timers and signals; see
 * daemon.h.
 *
 * Shutdown is a chain of close callbacks so nothing is freed while libuv
 * still refers to it: timers and signal handles, then the miner (workers
 * joined), then the net (every peer closed, CLOSED events delivered to the
 * relay and the control), then the control, the relay and the chain.
 * uv_run returns once the last handle is gone.
 */
#include "common/daemon/daemon.h"
#include "common/base/clock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include "common/daemon/adv.h"
#include "common/daemon/adv_tx.h"
#include "common/daemon/agent.h"
#include "common/daemon/control.h"
#include "common/core/chain.h"
#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/link/keys.h"
#include "common/daemon/log.h"
#include "common/daemon/metrics.h"
#include "common/daemon/miner.h"
#include "common/daemon/net.h"
#include "common/core/params.h"
#include "common/daemon/relay.h"
#include "common/daemon/txlat.h"

enum { SIG_TERM, SIG_INT, SIG_HUP, SIG_USR1, SIG_USR2, SIG_COUNT };
static const int sig_nums[SIG_COUNT] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };

typedef struct {
    daemon_opts o;
    char name[PROTO_NAME_MAX + 1];
    char key_path[4096];
    uint8_t sk[64], pk[32];
    uint8_t cluster_key[32];
    chain_params params;
    logger *log;
    uv_loop_t loop;
    chain *chain;
    net *net;
    relay *relay;
    miner *miner;
    agent *agent;                /* the market role; NULL until running */
    adv *adv;                    /* adversarial roles (all off unless asked) */
    control *control;            /* control links; NULL until running */
    metrics_server *metrics;     /* --metrics-port; NULL: off */
    txlat *txlat;                /* inclusion latency of our own transactions */
    adv_tx *adv_tx;              /* transaction-side adversary; NULL: operator */
    uv_pipe_t stdin_pipe;        /* --stop-on-stdin-eof */
    int stdin_open;
    char stdin_buf[256];
    energy_profile pv_profile, load_profile;
    int agent_rc;                /* last agent_tick error, logged once */
    kern_impl impl;
    kern_gpu gpu;                     /* open only when mining on the GPU */
    uv_timer_t timer;
    uv_work_t sync_req;          /* the block store's fsync, on the pool */
    int sync_busy, sync_rc, sync_errno;
    int free_after_sync;         /* shutdown waits for sync_req */
    uv_signal_t sigs[SIG_COUNT];
    int handles_open;
    int stopping;
    int mining;                  /* wanted (SIGUSR1/2, control MINING, --no-mine) */
    int tx_dirty;
    uint64_t last_build_ms;
    uint64_t start_ms;
    uint64_t blocks_mined;       /* ours, accepted */
    uint64_t reorgs;
    /* Loop lag probes. */
    uint64_t lag_expect_ms;
    uint32_t lag[DAEMON_LAG_WINDOW];
    unsigned lag_n, lag_next;
    unsigned ticks;
} daemon;

/* ---- mining -------------------------------------------------------------- */

static void rebuild_work(daemon *d)
{
    proto_block b;
    uint8_t *bytes;
    size_t len;

    if (d->stopping || !d->miner || !d->mining)
        return;
    d->tx_dirty = 0;
    d->last_build_ms = (uint64_t)clock_mono_ms();
    int rc = chain_template(d->chain, d->pk, (uint64_t)time(NULL),
                            d->o.max_block_txs, &b);
    if (rc == 0) {
        rc = adv_forge_template(d->adv, &b);
        if (rc == 0)
            rc = proto_block_encode(&b, &bytes, &len);
        proto_block_free(&b);
    }
    if (rc == 0) {
        rc = miner_set_work(d->miner, bytes, len);
        free(bytes);
    }
    if (rc != 0)
        log_error(d->log, "cannot build mining work: %s", sg_strerror(rc));
}

static void set_mining(daemon *d, int on)
{
    if (!d->miner || d->mining == on)
        return;
    d->mining = on;
    log_info(d->log, "mining %s", on ? "started" : "stopped");
    if (on)
        rebuild_work(d);
    else
        miner_pause(d->miner);
}

static void on_found(void *ctx, const uint8_t *block, size_t len)
{
    daemon *d = ctx;
    chain_result res;
    char hex[65];

    if (d->stopping)
        return;
    if (adv_forge_found(d->adv, block, len)) {
        rebuild_work(d);
        return;
    }
    int rc = adv_selfish_submit(d->adv, block, len, &res);
    hash_to_hex_display(res.hash, hex);
    if (rc != 0) {
        log_error(d->log, "mined block %s refused: %s", hex, sg_strerror(rc));
    } else if (res.outcome == CHAIN_NEW_TIP || res.outcome == CHAIN_SIDE) {
        d->blocks_mined++;
        log_info(d->log, "mined block %s at height %u%s", hex,
                 chain_lookup(d->chain, res.hash)->height,
                 res.outcome == CHAIN_SIDE ? " (stale: another branch leads)" : "");
    }
    /* The miner idles after a find; its template is spent either way. */
    rebuild_work(d);
}

static void on_tip(void *ctx)
{
    rebuild_work(ctx);
}

static void on_tx(void *ctx)
{
    ((daemon *)ctx)->tx_dirty = 1;
}

static void on_peer_block(void *ctx, const chain_result *res)
{
    adv_selfish_peer_block(((daemon *)ctx)->adv, res);
}

static int on_hidden(void *ctx, const uint8_t hash[32])
{
    return adv_selfish_hidden(((daemon *)ctx)->adv, hash);
}

/* ---- market -------------------------------------------------------------- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int agent_submit(void *ctx, const proto_tx *tx, uint8_t txid[32])
{
    daemon *d = ctx;
    int rc = relay_submit_tx(d->relay, tx, txid);
    if (rc == 0)
        d->tx_dirty = 1;
    if (rc == 0 && d->txlat && txlat_broadcast(d->txlat, txid, wall_ms()) != 0)
        log_warn(d->log, "out of memory tracking a transaction's latency");
    return rc;
}

static int start_agent(daemon *d)
{
    agent_config ac = {
        .role = d->o.role == ROLE_OPERATOR ? AGENT_OPERATOR : AGENT_HOUSEHOLD,
        .params = &d->params, .chain = d->chain, .sk = d->sk, .pk = d->pk,
        .name = d->name, .submit = agent_submit, .submit_ctx = d, .log = d->log,
        .energy = {
            .prosumer = d->o.role == ROLE_PROSUMER,
            .battery_wh = d->o.battery_wh,
            .pv_profile = d->o.pv_profile_path ? &d->pv_profile : NULL,
            .load_profile = d->o.load_profile_path ? &d->load_profile : NULL,
        },
    };
    return agent_new(&d->agent, &ac);
}

static void on_adv_tx(void *ctx)
{
    ((daemon *)ctx)->tx_dirty = 1;
}

/* Households only (the options refuse the operator these roles).  Made
 * even with none on, so the control channel can switch one on later. */
static int start_adv_tx(daemon *d)
{
    adv_tx_config ac = {
        .roles = d->o.adversary, .params = &d->params, .chain = d->chain,
        .relay = d->relay, .net = d->net, .txlat = d->txlat, .sk = d->sk, .pk = d->pk,
        .log = d->log, .spam_rate = d->o.spam_rate,
        .spam_malformed_after_s = d->o.spam_malformed_after_s,
        .double_spend_every_s = d->o.double_spend_every_s, .on_tx = on_adv_tx, .ctx = d,
    };
    if (d->o.role == ROLE_OPERATOR)
        return 0;
    return adv_tx_new(&d->adv_tx, &ac);
}

static void market_tick(daemon *d)
{
    int rc = agent_tick(d->agent, wall_ms());
    if (rc != 0 && rc != d->agent_rc)
        log_warn(d->log, "market: %s", sg_strerror(rc));
    d->agent_rc = rc;
}

/* ---- chain events -------------------------------------------------------- */

static void on_connect(void *ctx, const chain_entry *e, const proto_block *b,
                       const uint8_t (*txids)[32])
{
    daemon *d = ctx;
    char hex[65];
    if (!d->relay)
        return;                  /* replay of the store at start */
    if (d->agent)
        agent_block_connected(d->agent, b);
    if (d->txlat)
        txlat_block(d->txlat, txids, b->n_txs, wall_ms());
    if (d->adv_tx)
        adv_tx_block_connected(d->adv_tx, b, wall_ms());
    hash_to_hex_display(e->hash, hex);
    log_info(d->log, "block %s accepted at height %u (%u txs)", hex, e->height, e->n_txs);
}

static void on_disconnect(void *ctx, const chain_entry *e, const proto_block *b,
                          const uint8_t (*txids)[32])
{
    daemon *d = ctx;
    char hex[65];
    (void)b;
    (void)txids;
    hash_to_hex_display(e->hash, hex);
    d->reorgs++;
    log_info(d->log, "reorg: block %s at height %u disconnected", hex, e->height);
}

static void shutdown_begin(daemon *d, const char *why);

/* ---- the control channel's view of the runtime ------------------------- */

static void lag_figures(const daemon *d, uint64_t *max, uint64_t *avg)
{
    uint64_t sum = 0;
    *max = 0;
    for (unsigned i = 0; i < d->lag_n; i++) {
        sum += d->lag[i];
        if (d->lag[i] > *max)
            *max = d->lag[i];
    }
    *avg = d->lag_n ? sum / d->lag_n : 0;
}

static void on_control_figures(void *ctx, control_runtime *out)
{
    daemon *d = ctx;
    out->mining = d->mining;
    out->hashrate = d->miner ? miner_hashrate(d->miner) : 0;
    out->hashrate_cap = d->miner ? miner_hashrate_cap(d->miner) : 0;
    out->impl = kern_impl_name(d->impl);
    lag_figures(d, &out->loop_lag_ms_max, &out->loop_lag_ms_avg);
    out->reorg_blocks = d->reorgs;
    out->blocks_mined = d->blocks_mined;
    out->uptime_ms = (uint64_t)clock_mono_ms() - d->start_ms;
}

static int on_control_mining(void *ctx, int on)
{
    daemon *d = ctx;
    set_mining(d, on);
    return d->mining;
}

static uint64_t on_control_hashrate(void *ctx, uint64_t rate)
{
    daemon *d = ctx;
    if (!d->miner)
        return 0;
    miner_set_hashrate(d->miner, rate);
    return miner_hashrate_cap(d->miner);
}

static void on_control_shutdown(void *ctx, const char *why)
{
    shutdown_begin(ctx, why);
}

/* ---- peer callbacks -------------------------------------------------------- */

static void on_peer(void *ctx, net_peer *p, enum net_event ev)
{
    daemon *d = ctx;
    if (d->relay)
        relay_peer_event(d->relay, p, ev);
}

static void on_msg(void *ctx, net_peer *p, uint8_t type, const uint8_t *pl, size_t len)
{
    daemon *d = ctx;
    if (d->relay && !d->stopping)
        relay_peer_msg(d->relay, p, type, pl, len);
}

static int start_metrics(daemon *d)
{
    int uv_err = 0;
    if (!d->o.metrics_listen)
        return 0;
    int rc = metrics_server_start(&d->metrics, &d->loop, d->o.metrics_listen,
                                  control_render_metrics, d->control, &uv_err);
    if (rc != 0) {
        log_error(d->log, "cannot serve metrics on %s: %s", d->o.metrics_listen,
                  uv_err ? uv_strerror(uv_err) : sg_strerror(rc));
        return rc;
    }
    log_info(d->log, "metrics on http://%s/metrics (port %u)", d->o.metrics_listen,
             metrics_server_port(d->metrics));
    return 0;
}

/* ---- --stop-on-stdin-eof ------------------------------------------------ */

/* A launcher that started us through a remote shell keeps our stdin open
 * for our lifetime; when it dies, even by SIGKILL, ssh or `ip netns exec`
 * passes the EOF on, and we stop instead of running on unsupervised. */
static void on_stdin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    daemon *d = h->data;
    (void)suggested;
    *buf = uv_buf_init(d->stdin_buf, sizeof d->stdin_buf);
}

static void on_stdin_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    daemon *d = s->data;
    (void)buf;
    if (nread >= 0)
        return;                  /* whatever arrives is ignored */
    uv_read_stop(s);
    log_info(d->log, "standard input %s (--stop-on-stdin-eof)",
             nread == UV_EOF ? "closed" : uv_strerror((int)nread));
    shutdown_begin(d, "standard input closed");
}

static int watch_stdin(daemon *d)
{
    int uv_err;
    if (!d->o.stop_on_stdin_eof)
        return 0;
    uv_pipe_init(&d->loop, &d->stdin_pipe, 0);
    d->stdin_pipe.data = d;
    d->stdin_open = 1;
    uv_err = uv_pipe_open(&d->stdin_pipe, 0);
    if (uv_err == 0)
        uv_err = uv_read_start((uv_stream_t *)&d->stdin_pipe, on_stdin_alloc, on_stdin_read);
    if (uv_err != 0) {
        log_error(d->log, "--stop-on-stdin-eof: cannot watch standard input: %s (it must "
                  "be a pipe or a socket)", uv_strerror(uv_err));
        return SG_EIO;
    }
    return 0;
}

/* ---- the block store's fsync ----------------------------------------------- */

/* Blocks are connected and relayed before they reach the disk: the fsync
 * runs on the thread pool, one at a time, covering every block stored
 * before it began, so the loop never waits for the disk (on a host of 50
 * daemons a block's fsync took 7.6 ms at the median, each daemon's in its
 * turn).  A block lost to a machine crash before its fsync is fetched from
 * the peers again at the next start, like any block the node lacks. */
static void sync_work(uv_work_t *req)
{
    daemon *d = req->data;
    d->sync_rc = chain_sync(d->chain);
    d->sync_errno = errno;
}

static void on_net_closed(void *arg);

static void sync_done(uv_work_t *req, int status)
{
    daemon *d = req->data;
    d->sync_busy = 0;
    if (status == 0 && d->sync_rc < 0 && !d->stopping) {
        log_error(d->log, "fsync of the block store failed: %s (disk full or failing?); "
                  "stopping, blocks not on disk are fetched again at the next start",
                  strerror(d->sync_errno));
        shutdown_begin(d, "block store fsync failed");
    }
    if (d->free_after_sync) {
        d->free_after_sync = 0;
        on_net_closed(d);
    }
}

static void sync_blocks(daemon *d)
{
    if (d->sync_busy || !chain_sync_due(d->chain))
        return;
    d->sync_req.data = d;
    if (uv_queue_work(&d->loop, &d->sync_req, sync_work, sync_done) == 0)
        d->sync_busy = 1;
}

/* ---- timer: loop lag, relay, hash rate, template refresh ------------------ */

static void on_timer(uv_timer_t *t)
{
    daemon *d = t->data;
    uint64_t now = (uint64_t)clock_mono_ms();
    uint64_t late = now > d->lag_expect_ms ? now - d->lag_expect_ms : 0;

    d->lag[d->lag_next] = late > UINT32_MAX ? UINT32_MAX : (uint32_t)late;
    d->lag_next = (d->lag_next + 1) % DAEMON_LAG_WINDOW;
    if (d->lag_n < DAEMON_LAG_WINDOW)
        d->lag_n++;
    d->lag_expect_ms = now + DAEMON_LAG_TICK_MS;
    if (d->stopping)
        return;
    sync_blocks(d);
    d->ticks++;
    if (d->ticks % 2 == 0)
        relay_tick(d->relay, now);
    if (d->ticks % 10 == 0 && d->miner)
        miner_tick(d->miner, now);
    if (d->ticks % 2 == 1 && d->agent)
        market_tick(d);
    if (d->ticks % 2 == 1 && d->adv_tx) {
        /* Roles switched on by a control ADVERSARY land in d->adv. */
        adv_tx_set_roles(d->adv_tx, adv_roles(d->adv), wall_ms());
        adv_tx_tick(d->adv_tx, wall_ms());
    }
    if (d->tx_dirty && now - d->last_build_ms >= DAEMON_TX_REBUILD_MS)
        rebuild_work(d);
}

/* ---- signals ------------------------------------------------------------- */

static void on_signal(uv_signal_t *h, int signum)
{
    daemon *d = h->data;
    if (signum == SIGTERM || signum == SIGINT) {
        log_info(d->log, "%s received", signum == SIGTERM ? "SIGTERM" : "SIGINT");
        shutdown_begin(d, "signal");
    } else if (signum == SIGHUP) {
        if (log_reopen(d->log) != 0)
            log_error(d->log, "SIGHUP: cannot reopen the log file: %s", strerror(errno));
        else
            log_info(d->log, "log file reopened");
    } else if (signum == SIGUSR1) {
        set_mining(d, 0);
    } else if (signum == SIGUSR2) {
        set_mining(d, 1);
    }
}

/* ---- shutdown ------------------------------------------------------------ */

static void on_net_closed(void *arg)
{
    daemon *d = arg;
    d->net = NULL;
    if (d->sync_busy) {                /* the chain is in use on the pool */
        d->free_after_sync = 1;
        return;
    }
    control_close(d->control);
    d->control = NULL;
    agent_free(d->agent);
    d->agent = NULL;
    adv_tx_free(d->adv_tx);
    d->adv_tx = NULL;
    txlat_free(d->txlat);
    d->txlat = NULL;
    relay_free(d->relay);
    d->relay = NULL;
    adv_free(d->adv);
    d->adv = NULL;
    chain_free(d->chain);
    d->chain = NULL;
    log_info(d->log, "stopped");
}

static void on_miner_closed(void *arg)
{
    daemon *d = arg;
    d->miner = NULL;
    net_close(d->net, on_net_closed, d);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void shutdown_begin(daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info(d->log, "shutting down (%s)", why);
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, on_handle_closed);
    metrics_server_close(d->metrics);
    d->metrics = NULL;
    if (d->stdin_open) {
        d->stdin_open = 0;
        uv_close((uv_handle_t *)&d->stdin_pipe, on_handle_closed);
    }
    for (int i = 0; i < SIG_COUNT; i++)
        uv_close((uv_handle_t *)&d->sigs[i], on_handle_closed);
    if (d->miner)
        miner_close(d->miner, on_miner_closed, d);
    else
        on_miner_closed(d);
}

/* ---- start-up ------------------------------------------------------------ */

static int mkdir_p(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return SG_EINVAL;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return SG_EIO;
        buf[i] = c;
    }
    return 0;
}

/* The GPU kernel library is opened only when asked for, so a CPU-mining
 * daemon never maps the CUDA runtime.  0, or SG_ENOTFOUND with the reason
 * in why. */
static int open_gpu(daemon *d, char *why, size_t cap)
{
    if (kern_gpu_open(&d->gpu, NULL, why, cap) != 0)
        return SG_ENOTFOUND;
    if (!kern_gpu_available(&d->gpu)) {
        snprintf(why, cap, "%.400s loaded, but the CUDA runtime sees no device", d->gpu.path);
        kern_gpu_close(&d->gpu);
        return SG_ENOTFOUND;
    }
    log_info(d->log, "mining on CUDA device 0: %s", d->gpu.device);
    d->impl = KERN_IMPL_CUDA;
    d->o.mining_threads = 1;
    return 0;
}

/* --use-gpu without a usable device is a warning; --impl cuda without one
 * is an error. */
static int pick_impl(daemon *d)
{
    char why[512];

    if (d->o.use_gpu) {
        if (open_gpu(d, why, sizeof why) == 0)
            return 0;
        d->impl = kern_impl_best();
        log_warn(d->log, "--use-gpu: no usable CUDA device (%s); mining on the CPU with %s",
                 why, kern_impl_name(d->impl));
        return 0;
    }
    if (strcmp(d->o.impl, "auto") == 0) {
        d->impl = kern_impl_best();
        return 0;
    }
    kern_impl_from_name(d->o.impl, &d->impl);
    if (d->impl == KERN_IMPL_CUDA) {
        if (open_gpu(d, why, sizeof why) == 0)
            return 0;
        fprintf(stderr, "%s: --impl cuda: no usable CUDA device (%s)\n", d->o.prog, why);
        return SG_EUNSUPPORTED;
    }
    if (!kern_impl_available(d->impl)) {
        fprintf(stderr, "%s: --impl %s is not available on this machine or build\n",
                d->o.prog, d->o.impl);
        return SG_EUNSUPPORTED;
    }
    return 0;
}

/* A --pv-profile / --load-profile file (none: nothing to do); prints one
 * line on failure. */
static int load_profile(daemon *d, const char *opt, const char *path, energy_profile *p)
{
    int bad_line = 0;
    if (!path)
        return 0;
    int rc = energy_profile_load(path, p, &bad_line);
    if (rc == 0)
        return 0;
    if (rc == SG_EINVAL && bad_line)
        fprintf(stderr, "%s: %s %s: line %d: expected Wh per 15-minute slot (a "
                "non-negative number; the profile needs at least one)\n", d->o.prog, opt,
                path, bad_line);
    else
        fprintf(stderr, "%s: %s %s: %s\n", d->o.prog, opt, path,
                rc == SG_EIO ? strerror(errno) : sg_strerror(rc));
    return rc;
}

/* Keys, genesis and log: everything that can fail for a usage reason.
 * Returns an exit status (0 to go on). */
static int load_inputs(daemon *d)
{
    int bad_line = 0, created = 0, rc;
    char hex[65];

    rc = params_load(d->o.genesis_path, &d->params, &bad_line);
    if (rc != 0) {
        fprintf(stderr, "%s: --genesis %s: %s%s%.0d\n", d->o.prog, d->o.genesis_path,
                rc == SG_EIO ? strerror(errno) : sg_strerror(rc),
                bad_line ? " at line " : "", bad_line);
        return 2;
    }
    rc = keys_cluster_load(d->o.cluster_key_path, d->cluster_key);
    if (rc != 0) {
        fprintf(stderr, "%s: --cluster-key %s: %s (expected 64 hex digits; make one with "
                "'%s cluster-key --out FILE')\n", d->o.prog, d->o.cluster_key_path,
                rc == SG_EIO ? strerror(errno) : "malformed", d->o.prog);
        return 2;
    }
    if (mkdir_p(d->o.data_dir) != 0) {
        fprintf(stderr, "%s: --data-dir %s: %s\n", d->o.prog, d->o.data_dir, strerror(errno));
        return 1;
    }
    if (d->o.key_path)
        snprintf(d->key_path, sizeof d->key_path, "%s", d->o.key_path);
    else
        snprintf(d->key_path, sizeof d->key_path, "%s/identity.key", d->o.data_dir);
    rc = keys_identity_load(d->key_path, d->sk, d->pk, &created);
    if (rc != 0) {
        fprintf(stderr, "%s: --key %s: %s (expected 128 hex digits)\n", d->o.prog,
                d->key_path, rc == SG_EIO ? strerror(errno) : "malformed key");
        return 2;
    }
    hash_hex(d->pk, 32, hex);
    if (d->o.role == ROLE_OPERATOR && memcmp(d->pk, d->params.operator_key, 32)) {
        char want[65];
        hash_hex(d->params.operator_key, 32, want);
        fprintf(stderr, "%s: --key %s holds %s, but the genesis operator key is %s\n",
                d->o.prog, d->key_path, hex, want);
        return 2;
    }
    if (load_profile(d, "--pv-profile", d->o.pv_profile_path, &d->pv_profile) != 0 ||
        load_profile(d, "--load-profile", d->o.load_profile_path, &d->load_profile) != 0)
        return 2;
    if (d->o.name)
        snprintf(d->name, sizeof d->name, "%s", d->o.name);
    else
        snprintf(d->name, sizeof d->name, "%s-%.8s", role_name(d->o.role), hex);
    rc = log_open(&d->log, d->name, d->o.log_path, d->o.log_level);
    if (rc != 0) {
        fprintf(stderr, "%s: --log %s: %s\n", d->o.prog, d->o.log_path, strerror(errno));
        return 2;
    }
    if (created)
        log_info(d->log, "created identity key %s", d->key_path);
    return 0;
}

static int open_chain(daemon *d)
{
    chain_config cc = {
        .params = &d->params, .data_dir = d->o.data_dir,
        .on_connect = on_connect, .on_disconnect = on_disconnect, .cb_ctx = d,
        .sync_later = 1,
    };
    chain_load_report rep = { 0 };
    char hex[65];
    int rc = chain_open(&d->chain, &cc, &rep);
    if (rc != 0) {
        const char *why = rc == SG_ELOCKED ? "the data directory is in use by another process"
                                           : sg_strerror(rc);
        log_error(d->log, "cannot open the chain in %s: %s", d->o.data_dir, why);
        if (d->o.log_path)
            fprintf(stderr, "%s: cannot open the chain in %s: %s\n", d->o.prog,
                    d->o.data_dir, why);
        return rc;
    }
    hash_to_hex_display(chain_tip(d->chain)->hash, hex);
    log_info(d->log, "chain loaded: %llu stored blocks, height %u, tip %s%s",
             (unsigned long long)rep.blocks_loaded, chain_tip(d->chain)->height, hex,
             rep.dropped_bytes ? " (torn tail cut from the store)" : "");
    if (rep.rejected)
        log_warn(d->log, "%llu stored blocks no longer validate",
                 (unsigned long long)rep.rejected);
    return 0;
}

static int open_net(daemon *d)
{
    net_config nc;
    memset(&nc, 0, sizeof nc);
    nc.listen = d->o.listen;
    nc.bootstrap = d->o.peers;
    nc.n_bootstrap = d->o.n_peers;
    memcpy(nc.identity_pk, d->pk, 32);
    memcpy(nc.identity_sk, d->sk, 64);
    memcpy(nc.cluster_key, d->cluster_key, 32);
    memcpy(nc.chain_id, chain_id(d->chain), 32);
    nc.role = (uint8_t)d->o.role;
    nc.name = d->name;
    nc.log = d->log;
    nc.ctx = d;
    nc.on_peer = on_peer;
    nc.on_msg = on_msg;
    nc.backoff_max_ms = d->o.reconnect_max_ms;
    nc.ban_secs = d->o.ban_secs;
    nc.no_discovery = (uint8_t)d->o.no_discover;
    int rc = net_new(&d->net, &d->loop, &nc);
    memset(nc.identity_sk, 0, sizeof nc.identity_sk);
    if (rc != 0)
        log_error(d->log, "cannot set up the network: %s", sg_strerror(rc));
    return rc;
}

static int start_control(daemon *d)
{
    control_config cc = {
        .loop = &d->loop, .net = d->net, .chain = d->chain, .relay = d->relay,
        .agent = d->agent, .txlat = d->txlat, .adv = d->adv, .adv_tx = d->adv_tx,
        .name = d->name,
        .role = role_name(d->o.role), .operator_role = d->o.role == ROLE_OPERATOR,
        .pk = d->pk, .data_dir = d->o.data_dir, .log = d->log, .log_stream = d->log,
        .ctx = d, .runtime = on_control_figures, .set_mining = on_control_mining,
        .set_hashrate = on_control_hashrate, .shutdown = on_control_shutdown,
    };
    return control_new(&d->control, &cc);
}

static int start_runtime(daemon *d)
{
    relay_config rc_cfg = {
        .chain = d->chain, .net = d->net, .log = d->log, .loop = &d->loop,
        .stall_ms = d->o.stall_ms,
        .on_tip = on_tip, .on_tx = on_tx, .on_peer_block = on_peer_block,
        .hidden = on_hidden, .ctx = d,
    };
    adv_config ac = { .chain = d->chain, .log = d->log, .roles = d->o.adversary };
    miner_config mc = {
        .loop = &d->loop, .threads = d->o.mining_threads, .impl = d->impl, .gpu = &d->gpu,
        .log = d->log, .on_found = on_found, .ctx = d, .hashrate = d->o.hashrate,
    };
    int rc = adv_new(&d->adv, &ac);
    if (rc == 0)
        rc = relay_new(&d->relay, &rc_cfg);
    if (rc == 0)
        adv_set_relay(d->adv, d->relay);
    if (rc == 0)
        rc = txlat_new(&d->txlat, TXLAT_PENDING_MAX, TXLAT_DONE_MAX);
    if (rc == 0)
        rc = start_agent(d);
    if (rc == 0)
        rc = start_adv_tx(d);
    if (rc == 0)
        rc = miner_new(&d->miner, &mc);
    if (rc == 0)
        rc = start_control(d);
    if (rc != 0) {
        log_error(d->log, "cannot start: %s", sg_strerror(rc));
        return rc;
    }
    rc = net_start(d->net);
    if (rc != 0) {
        /* net logged the cause; the terminal gets a pointer to it. */
        if (d->o.log_path)
            fprintf(stderr, "%s: cannot listen on %s (the reason is in %s)\n", d->o.prog,
                    d->o.listen ? d->o.listen : "-", d->o.log_path);
        return rc;
    }
    rc = start_metrics(d);
    if (rc != 0)
        return rc;
    uv_timer_init(&d->loop, &d->timer);
    d->timer.data = d;
    d->lag_expect_ms = (uint64_t)clock_mono_ms() + DAEMON_LAG_TICK_MS;
    uv_timer_start(&d->timer, on_timer, DAEMON_LAG_TICK_MS, DAEMON_LAG_TICK_MS);
    for (int i = 0; i < SIG_COUNT; i++) {
        uv_signal_init(&d->loop, &d->sigs[i]);
        d->sigs[i].data = d;
        uv_signal_start(&d->sigs[i], on_signal, sig_nums[i]);
    }
    d->handles_open = 1;
    rc = watch_stdin(d);
    if (rc != 0)
        return rc;
    char capped[48] = "";
    if (d->o.hashrate)
        snprintf(capped, sizeof capped, ", capped at %llu hashes/s",
                 (unsigned long long)d->o.hashrate);
    log_info(d->log, "%s %s started: listening on %s (port %u), %zu bootstrap peers, "
             "mining %s with %u thread(s) of %s%s", d->o.prog, role_name(d->o.role),
             d->o.listen ? d->o.listen : "nothing", net_listen_port(d->net), d->o.n_peers,
             d->o.no_mine ? "off" : "on", d->o.mining_threads, kern_impl_name(d->impl),
             capped);
    if (d->o.adversary) {
        char names[128];
        log_warn(d->log, "adversary: %s", adv_roles_format(d->o.adversary, names,
                                                           sizeof names));
    }
    set_mining(d, !d->o.no_mine);
    return 0;
}

/* A failure after the loop's handles exist: close what was opened and let
 * the loop finish the close callbacks. */
static void abort_runtime(daemon *d)
{
    if (d->handles_open) {
        shutdown_begin(d, "start-up failed");
    } else {
        d->stopping = 1;
        if (d->miner)
            miner_close(d->miner, on_miner_closed, d);
        else if (d->net)
            net_close(d->net, on_net_closed, d);
        else
            on_net_closed(d);
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
}

static void usage(const char *prog, int fixed_role)
{
    printf("usage: %s %s--genesis FILE --cluster-key FILE --data-dir DIR [options]\n"
           "  --listen HOST:PORT|none  (default %s)   --peer HOST:PORT (repeatable)\n"
           "  --key FILE (default DATA_DIR/identity.key, created if missing)\n"
           "  --log FILE  --log-level debug|info|warn|error  --name NAME\n"
           "  --mining-threads N  --impl auto|avx512|avx2|shani|generic|openssl|cuda\n"
           "  --hashrate RATE (cap on hashes/s, all threads: 2M, 1.5M, 250k; 0 = none)\n"
           "  --use-gpu  --no-mine  --no-discover (dial only --peer addresses)\n"
           "  --adversary ROLE[,ROLE...] (experiments: selfish, double-spender,\n"
           "    manipulator, spammer, forger; off by default)\n"
           "  --spam-rate N (spammer: valid transactions a second, default %d)\n"
           "  --spam-malformed-after S (spammer: malformed ones after S s, 0 never; default %d)\n"
           "  --double-spend-every S (double spender: a conflicting pair every S s; default %d)\n"
           "  --reconnect-max-ms N  --ban-secs N  --stall-ms N\n"
           "  --max-block-txs N (transactions per mined block, coinbase included; 1 to %d,\n"
           "    default %d)\n"
           "  --metrics-port N (Prometheus on 127.0.0.1, off by default)  --metrics-listen HOST:PORT\n"
           "  --stop-on-stdin-eof (stop when standard input, a pipe, closes: a launcher's\n"
           "    remote daemons end with it)\n"
           "%s"
           "signals: TERM/INT stop, HUP reopens the log, USR1 stops and USR2 starts mining\n"
           "tools: %s keygen --out FILE | cluster-key --out FILE | genesis ... | ctl ...\n",
           prog, fixed_role ? "" : "--role prosumer|consumer ", DAEMON_DEFAULT_LISTEN,
           DAEMON_SPAM_RATE, DAEMON_SPAM_MALFORMED_AFTER_S, DAEMON_DOUBLE_SPEND_EVERY_S,
           PROTO_BLOCK_MAX_TXS, DAEMON_TEMPLATE_TXS,
           fixed_role ? "" : "market: --battery-kwh KWH (prosumers)  --pv-profile FILE "
                             "(prosumers)\n  --load-profile FILE (Wh per 15-minute slot, "
                             "one a line; a CSV's last field)\n", prog);
}

static int run_daemon(daemon *d)
{
    int status = 1;
    if (pick_impl(d) != 0)
        return 2;
    if (uv_loop_init(&d->loop) != 0) {
        log_error(d->log, "cannot initialise the event loop");
        return 1;
    }
    d->start_ms = (uint64_t)clock_mono_ms();
    if (open_chain(d) != 0)
        goto out;
    if (open_net(d) != 0 || start_runtime(d) != 0) {
        abort_runtime(d);
        goto out;
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    status = 0;
out:
    if (d->chain)
        chain_free(d->chain);
    uv_loop_close(&d->loop);
    return status;
}

int daemon_main(int argc, char **argv, int role)
{
    const char *prog = role == ROLE_OPERATOR ? "sgoperator" : "sgnode";
    char err[512];
    int status;

    if (argc >= 2 && argv[1][0] != '-') {
        if (strcmp(argv[1], "keygen") == 0)
            return daemon_tool_keygen(prog, argc - 1, argv + 1);
        if (strcmp(argv[1], "cluster-key") == 0)
            return daemon_tool_cluster_key(prog, argc - 1, argv + 1);
        if (strcmp(argv[1], "genesis") == 0)
            return daemon_tool_genesis(prog, argc - 1, argv + 1);
        if (strcmp(argv[1], "ctl") == 0)
            return daemon_tool_ctl(prog, argc - 1, argv + 1);
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(prog, role);
        return 0;
    }
    daemon *d = calloc(1, sizeof *d);
    if (!d) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    if (daemon_parse_opts(&d->o, prog, role, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        free(d);
        return 2;
    }
    /* A peer vanishing mid-write must be an error code, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    status = load_inputs(d);
    if (status == 0)
        status = run_daemon(d);
    log_close(d->log);
    energy_profile_free(&d->pv_profile);
    energy_profile_free(&d->load_profile);
    params_free(&d->params);
    kern_gpu_close(&d->gpu);
    memset(d->sk, 0, sizeof d->sk);
    free(d);
    return status;
}
