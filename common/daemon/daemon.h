/*
 * daemon.h - the runtime shared by sgnode and sgoperator: options (one
 * table in daemon_opts.c), genesis, the libuv loop, signals, mining control
 * and the wiring of the control channel (control.h: its handlers and the
 * statistics below), plus the tool subcommands (keygen, cluster-key,
 * genesis, ctl; tools.c) that set up and drive a cluster without the
 * launcher.
 *
 * Process behaviour (the edge of the program, so the only place that turns
 * error codes into words and exit statuses):
 *   exit 0   clean shutdown (SIGTERM, SIGINT or a control SHUTDOWN)
 *   exit 1   a runtime failure (cannot bind, data directory locked, ...)
 *   exit 2   bad usage: one line naming the option and what was expected
 * Signals: SIGTERM/SIGINT shut down (miners joined, peers closed, chain
 * closed; a block store fsync in flight is waited for, and the store's
 * close syncs the rest); SIGHUP reopens the log
 * file; SIGUSR1 stops mining and SIGUSR2 starts it again (tests use this to
 * let a cluster settle; both are idempotent, unlike a toggle).  A control
 * MINING request (`ctl mining on|off`) does the same and is answered with
 * the resulting state: the launcher uses it, as it reaches a daemon on
 * another host too.
 *
 * Statistics (control STATS, `ctl stats`; names are stable, integers
 * unless marked str).  Every daemon: name (str), role (str), height, tip
 * (str), chainwork (str), peers, mempool_txs, mempool_bytes, stale_blocks,
 * orphans, reorg_blocks, hashrate (measured), hashrate_cap (hashes/s, 0:
 * none), mining, impl (str), loop_lag_ms_max,
 * loop_lag_ms_avg, its ledger account: balance, reserved, nonce, sold_wh,
 * bought_wh, grid_import_wh, grid_export_wh (cumulative Wh traded peer to
 * peer and with the grid), state_hash (str, the tip ledger's digest),
 * then blocks_mined, uptime_ms, bans, blocks_in_flight, block_stalls,
 * misbehaved, rejected_blocks, rejected_txs (refused from peers as their
 * fault), banned_peers (str: names of the peers it banned), adversary
 * (str: its roles, "" when honest; an adversary adds adv_withheld,
 * adv_published, adv_abandoned, adv_races, adv_overrides, adv_lead,
 * adv_lead_max, adv_forged_blocks: adv.h), cmpct_in, cmpct_redundant,
 * cmpct_rebuilt, cmpct_blocktxn, cmpct_fallback, cmpct_early, cmpct_sent
 * (compact block relay, relay.h), tx_latency_tracked,
 * tx_latency_measured, tx_latency_dropped
 * (its own transactions' inclusion latency, txlat.h; the records go out on
 * TXLAT_REQ), pubkey (str), and the market:
 *   interval               market interval now (from the genesis clock)
 *   last_settled_interval  tip ledger's last settled interval, -1: none
 *   clearing_price         of the last settlement connected (micro/kWh)
 * prosumers and consumers add:
 *   produced_wh, consumed_wh   cumulative PV output and load of the model
 *   battery_wh                 battery state of charge (0: no battery)
 *   orders_submitted           offers and bids signed and relayed
 *   orders_skipped             orders not sent (interval already settled,
 *                              a bid the balance cannot reserve, refused)
 * the operator adds (for the last of its settlements that was mined):
 *   traded_wh                  peer-to-peer Wh of that interval
 *   last_grid_import_wh        Wh bids took from the grid in it
 *   last_grid_export_wh        Wh offers fed into the grid in it
 *   matched_orders             orders with traded_wh > 0 in it
 *   total_traded_wh            peer-to-peer Wh over all its mined ones
 *   settlements_published      signed and relayed (rebuilds included)
 *   settlements_mined          seen in connected blocks
 *   settlements_rebuilt        dropped because they stopped applying
 *
 * Prometheus metrics (--metrics-port N on 127.0.0.1, or --metrics-listen
 * HOST:PORT; off by default): GET /metrics serves the same figures in the
 * text format, names in common/metrics.c.
 *
 * Key files: common/link/keys.h.  Roles: common/core/role.h.
 */
#ifndef SG_DAEMON_H
#define SG_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "common/core/role.h"

#define DAEMON_MAX_PEERS 256          /* --peer options */
#define DAEMON_LAG_TICK_MS 100        /* loop-lag probe period */
#define DAEMON_LAG_WINDOW 100         /* probes kept: 10 s */
#define DAEMON_TX_REBUILD_MS 500      /* new txs refresh the template this often */
#define DAEMON_TEMPLATE_TXS 20000     /* per mined block: PROTO_BLOCK_MAX_TXS, the rules' cap;
                                         the default of --max-block-txs */
#define DAEMON_DEFAULT_LISTEN ":7700"
#define DAEMON_SPAM_RATE 10                /* --spam-rate default, txs/s */
#define DAEMON_SPAM_MALFORMED_AFTER_S 20   /* --spam-malformed-after default */
#define DAEMON_DOUBLE_SPEND_EVERY_S 10     /* --double-spend-every default */

typedef struct {
    const char *prog;                 /* "sgnode" / "sgoperator" for messages */
    int role;                         /* enum role: HELLO.role, stats */
    const char *listen;               /* NULL: do not listen */
    const char *peers[DAEMON_MAX_PEERS];
    size_t n_peers;
    const char *data_dir;
    const char *key_path;             /* NULL: DATA_DIR/identity.key */
    const char *cluster_key_path;
    const char *genesis_path;
    const char *log_path;             /* NULL: stderr */
    int log_level;
    const char *name;                 /* NULL: role and key prefix */
    unsigned mining_threads;
    uint64_t hashrate;                /* --hashrate cap, hashes/s; 0: none */
    const char *impl;                 /* "auto" or a kern_impl name */
    int use_gpu;
    int no_mine;
    int no_discover;                  /* dial only --peer addresses */
    uint32_t reconnect_max_ms;        /* 0: net's default */
    uint32_t ban_secs;                /* 0: net's default */
    uint32_t stall_ms;                /* 0: relay's default */
    uint32_t max_block_txs;           /* per mined block, coinbase included:
                                         1..PROTO_BLOCK_MAX_TXS */
    uint64_t battery_wh;              /* --battery-kwh; prosumers; 0: none */
    const char *pv_profile_path;      /* prosumers; NULL: built-in curve */
    const char *load_profile_path;    /* NULL: built-in curve */
    const char *metrics_listen;       /* Prometheus HOST:PORT; NULL: off */
    char metrics_listen_buf[32];      /* --metrics-port N as 127.0.0.1:N */
    int stop_on_stdin_eof;            /* stop when stdin (a pipe) closes */
    unsigned adversary;               /* --adversary: enum adv_role bits; 0: honest */
    uint32_t spam_rate;               /* spammer: valid transactions per second */
    uint32_t spam_malformed_after_s;  /* spammer: malformed ones from then on; 0: never */
    uint32_t double_spend_every_s;    /* double spender: one conflicting pair this often */
} daemon_opts;

/* Entry point of both daemons.  role 0 (sgnode) takes --role; sgoperator
 * passes ROLE_OPERATOR.  Returns the process exit status. */
int daemon_main(int argc, char **argv, int role);

/* Parses daemon options (argv[0] is skipped).  On a usage error returns
 * SG_EINVAL with a one-line message in err ("--listen expects HOST:PORT,
 * got 'abc'").  Strings point into argv. */
int daemon_parse_opts(daemon_opts *o, const char *prog, int fixed_role,
                      int argc, char **argv, char *err, size_t errcap);

/* The tool subcommands (tools.c); argv[0] is the subcommand's name.  Each
 * returns an exit status and prints its own messages. */
int daemon_tool_keygen(const char *prog, int argc, char **argv);
int daemon_tool_cluster_key(const char *prog, int argc, char **argv);
int daemon_tool_genesis(const char *prog, int argc, char **argv);
int daemon_tool_ctl(const char *prog, int argc, char **argv);

#endif
