/*
 * fleet.h - the daemons of one run: their files, processes and latest
 * statistics.
 *
 * A fleet owns its node array.  Children are started with fork/exec in
 * their own process group (a Ctrl-C in the terminal reaches only the
 * launcher, which then stops them in order) and with PR_SET_PDEATHSIG =
 * SIGTERM, so a launcher killed outright still takes its daemons down.
 * That signal reaches only the launcher's own child, which for a daemon on
 * another host is the remote shell's transport (the ssh client): so remote
 * daemons run with --stop-on-stdin-eof, and the fleet holds the write end
 * of each one's stdin pipe for the daemon's lifetime.  When the launcher
 * dies, even by SIGKILL, the kernel closes it, ssh (or `ip netns exec`,
 * which hands the pipe over directly) passes the EOF on, and the daemon
 * stops.  Statistics and, for remote daemons, block-store bytes come over
 * the control channel (ctl.h): the run loop's poll and mining switches
 * (fleet_poll.c) ask every daemon at once over kept-open links and wait
 * for the answers together; the other calls are one blocking request per
 * node with a short timeout.
 */
#ifndef LAUNCHER_FLEET_H
#define LAUNCHER_FLEET_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/link/ctl.h"
#include "hosts.h"

#define FLEET_BACKOFF_MIN_MS 500
#define FLEET_BACKOFF_MAX_MS 30000
#define FLEET_STABLE_MS 30000        /* a daemon up this long earns a fresh backoff */
#define FLEET_CTL_TIMEOUT_MS 1500
#define FLEET_OPEN_MAX_MS 15000      /* a control link not ready by then is redialed */
#define FLEET_ANSWER_MAX_MS 30000    /* a stats request unanswered that long: redial */
#define FLEET_PEER_NAMES_MAX 2048

typedef struct {
    int64_t height, peers, hashrate, balance, reserved;
    int64_t sold_wh, bought_wh, grid_import_wh, grid_export_wh;
    int64_t stale, orphans, mempool, lag_ms, mining, blocks_mined;
    int64_t produced_wh, consumed_wh;
    int64_t rejected_blocks, rejected_txs;       /* refused from peers */
    int64_t adv_withheld, adv_published, adv_abandoned; /* a selfish miner's */
    /* The transaction-side adversary's (common/daemon/adv_tx.h). */
    int64_t adv_ds_pairs, adv_ds_won_a, adv_ds_won_b, adv_manip_orders;
    int64_t adv_spam_valid, adv_spam_malformed, adv_forged_settlements;
    char banned_peers[256];          /* names it banned, space-separated */
    char tip[65];
    /* Names of the connected peers, space-separated (the daemon's
     * peer_names stats joined); "" from a daemon that does not send them. */
    char peer_names[FLEET_PEER_NAMES_MAX];
} fleet_stats;

typedef struct {
    char name[32];
    int role;                        /* enum role (common/core/role.h) */
    uint16_t port;
    char addr[HOSTS_NAME_MAX];       /* listens and is dialled here; "" = 127.0.0.1 */
    int host;                        /* index in fleet.hosts (when that is set) */
    uint64_t hashrate;               /* its --hashrate cap, hashes/s; 0: none */
    unsigned adversary;              /* --adversary NODE=ROLE bits; 0: honest */
    uint8_t pk[32];
    char key_path[PATH_MAX];
    char data_dir[PATH_MAX];
    char log_path[PATH_MAX];
    char out_path[PATH_MAX];         /* the daemon's stdout and stderr */
    pid_t pid;                       /* 0: not running */
    int stdin_fd;                    /* remote: its stdin's write end, when stdin_open */
    int stdin_open;
    int64_t started_ms;
    int64_t restart_at_ms;           /* 0: no restart pending */
    uint32_t backoff_ms;
    uint32_t restarts;
    int last_status;                 /* wait status of the last exit */
    ctl *c;
    int64_t ctl_retry_ms;
    int64_t opened_ms;               /* when c was opened */
    int stats_asked, txlat_asked;    /* requests on c not yet answered */
    int64_t asked_ms;                /* when stats were asked */
    int fresh;                       /* stats answered in the last poll round */
    int hold;                        /* not asked nor waited for (SIGSTOPped) */
    int mining_posted, mining_rc;    /* fleet_set_mining_range's state */
    int have_stats;
    int64_t stats_ms;
    fleet_stats st;
} fleet_node;

typedef struct {
    fleet_node *nodes;               /* owned; nodes[0] is the operator */
    size_t n;
    char sgnode[PATH_MAX], sgoperator[PATH_MAX];
    char cluster_key_path[PATH_MAX], genesis_path[PATH_MAX];
    uint8_t cluster_key[32], chain_id[32];
    const char *log_level;
    unsigned mining_threads;
    int use_gpu;
    int no_mine;                 /* spawn with mining off (the ramp, sim.c) */
    const char *battery_kwh;         /* prosumers' --battery-kwh (NULL: none) */
    const char *pv_profile;          /* prosumers' --pv-profile (NULL: none) */
    const char *load_profile;        /* prosumers' and consumers' --load-profile */
    int ctl_timeout_ms;              /* 0: FLEET_CTL_TIMEOUT_MS */
    /* --hosts: daemons on a host that is not local start through the remote
     * shell (hosts.h) with their run-directory paths moved from local_dir
     * to remote_dir; the launcher's child is then the shell's transport
     * (with `ip netns exec` the daemon itself, with ssh the ssh client), so
     * the stop path also asks each remote daemon to shut down over the
     * control channel, and mining is paused over it for every node. */
    const host_entry *hosts;         /* not owned; NULL without --hosts */
    size_t n_hosts;
    const char *remote_shell;
    const char *local_dir, *remote_dir;  /* absolute; remote_dir NULL: same */
} fleet;

/* The address node i listens on and is dialled at. */
const char *fleet_addr(const fleet *f, size_t i);
/* Whether node i runs through the remote shell. */
int fleet_is_remote(const fleet *f, size_t i);
/* The name of node i's host, NULL without --hosts. */
const char *fleet_host_name(const fleet *f, size_t i);
/* p with a leading local_dir replaced by remote_dir (copied otherwise). */
int fleet_remote_path(const fleet *f, const char *p, char *out, size_t cap);

/* The earlier node that node i >= 1 dials besides node i - 1 (may be
 * i - 1 itself): a pseudo-random index below i - 1 fixed per i. */
size_t fleet_bootstrap_peer(size_t i);
/* Starts node i (argv built from the fleet's paths).  0, or SG_EIO with
 * errno set, SG_ETOOBIG (paths too long) or SG_ENOMEM. */
int fleet_spawn(fleet *f, size_t i, int64_t now_ms);
/* Reaps exited children without blocking.  For each one that exited, calls
 * cb (may be NULL).  Returns how many exited. */
typedef void (*fleet_exit_cb)(void *ctx, fleet_node *n);
int fleet_reap(fleet *f, fleet_exit_cb cb, void *ctx);
/* Sends sig to every running daemon. */
void fleet_signal_all(fleet *f, int sig);
/* SIGTERM, wait up to grace_ms, then SIGKILL; reaps everything.  Returns
 * how many needed SIGKILL. */
int fleet_stop_all(fleet *f, int grace_ms);
/* Fetches stats from node i; connects when needed.  0 or an SG_E* code
 * (the connection is dropped and retried no sooner than a second later). */
int fleet_poll_stats(fleet *f, size_t i, int64_t now_ms);
/* One poll round over every running node at once (fleet_poll.c): opens
 * missing control links in the background, asks each ready link for stats
 * (and, with want_txlat, latency records) unless an earlier request is
 * still unanswered, and waits up to wait_ms for the answers.  Nodes that
 * answered have `fresh` set and their stats updated; a late answer is
 * taken in a later round.  Links that fail, never become ready
 * (FLEET_OPEN_MAX_MS) or leave stats unanswered (FLEET_ANSWER_MAX_MS) are
 * dropped and redialed no sooner than a second later. */
void fleet_poll_round(fleet *f, int64_t now_ms, int wait_ms, int want_txlat);
/* Node i's latency records that arrived (asked for by fleet_poll_round):
 * 1 and *out filled (freed with proto_txlat_free), or 0. */
int fleet_take_txlat(fleet *f, size_t i, proto_txlat *out);
/* Stops (on = 0) or starts (on = 1) mining on nodes [from, to) at once
 * over their control links (connecting when needed), which reach local and
 * remote daemons alike; a local daemon whose link does not answer within
 * wait_ms gets SIGUSR1/SIGUSR2 instead.  Each node's result goes
 * to its mining_rc: 0 once confirmed (or the signal went out), SG_ECLOSED
 * when not running, SG_EPROTO when it reported the other state,
 * SG_ETIMEOUT when a remote one did not answer. */
void fleet_set_mining_range(fleet *f, size_t from, size_t to, int on, int wait_ms);
/* Takes one STATS answer into n->st. */
void fleet_take_stats(fleet_node *n, const proto_stats *ps);
void fleet_close_ctl(fleet *f);
/* Reads up to cap bytes of node i's block store from offset over its
 * control link (connecting when needed, like fleet_poll_stats).  Returns
 * the count (fewer than cap only at the end of the store) or an SG_E*
 * code: SG_ECLOSED when the daemon is not running. */
int fleet_store_read(fleet *f, size_t i, uint64_t offset, uint8_t *buf, size_t cap,
                     int64_t now_ms);
/* One line about node i's exit, naming its host and log, with the last
 * line it printed when that is readable here:
 * "NAME[ on host HOST] died (exit status N|signal N)MIDDLE; see LOG[ on
 * HOST][: LAST LINE]"; middle may be NULL. */
void fleet_exit_message(const fleet *f, size_t i, const char *middle, char *out,
                        size_t cap);
/* Connects a control client to node i (for attach). */
int fleet_connect(const fleet *f, size_t i, ctl **out, int timeout_ms);

#endif
