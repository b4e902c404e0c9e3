/*
 * opts.h - the launcher's command line: one table of options with their
 * defaults, parsed without side effects beyond reading a password file.
 *
 * Every string in launcher_opts points into argv, the environment or the
 * struct's own pwbuf, so the struct lives as long as argv does.
 */
#ifndef LAUNCHER_OPTS_H
#define LAUNCHER_OPTS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define LOPTS_MAX_NODES 500          /* per role; ports and pids stay sane */
#define LOPTS_PW_MAX 256
#define LOPTS_MAX_NODE_RATES (2 * LOPTS_MAX_NODES + 1)

/* --hashrate NODE=RATE: one node's cap. */
typedef struct {
    char node[8];                    /* "op", "p1".., "c1.." */
    uint64_t rate;                   /* hashes/s; 0: uncapped */
} lopts_node_rate;

/* --adversary NODE=ROLE: one node's adversarial roles. */
typedef struct {
    char node[8];
    unsigned roles;                  /* enum adv_role bits (common/core/adv_role.h) */
} lopts_node_adv;

typedef struct {
    uint32_t prosumers;              /* --prosumers (3) */
    uint32_t consumers;              /* --consumers (5) */
    uint32_t operators;              /* --operators (1; only 1 is accepted) */
    uint32_t difficulty;             /* --difficulty (4), 1..63: the starting target */
    uint32_t block_interval_ms;      /* --block-interval SEC (2 s; 0 = fixed difficulty) */
    uint32_t retarget_halflife_ms;   /* --retarget-halflife SEC (0: asert's default) */
    uint32_t duration;               /* --duration (300 s; 0 = until Ctrl-C) */
    int use_gpu;                     /* --use-gpu */
    const char *db_host;             /* --db-host ("" = SQLite in the run dir) */
    uint32_t db_port;                /* --db-port (3306) */
    const char *db_user;             /* --db-user (root) */
    const char *db_password;         /* --db-password / file / MYSQL_PWD ("") */
    const char *db_name;             /* --db-name (smartgrid) */
    uint64_t seed;                   /* --seed (default: from the clock) */
    int seed_given;
    const char *run_dir;             /* --run-dir (NULL: runs/<time>-<id>) */
    uint32_t base_port;              /* --base-port (30300) */
    uint32_t tick_ms;                /* --tick SEC (1) or its alias --tick-ms (1000) */
    uint64_t sim_start;              /* --start-time (today 00:00 UTC), unix seconds */
    uint64_t battery_wh;             /* --battery-kwh per prosumer (0 = none) */
    int battery_given;
    const char *pv_profile;          /* --pv-profile: absolute path in pv_abs, or NULL */
    const char *load_profile;        /* --load-profile: absolute path in load_abs, or NULL */
    uint32_t interval_minutes;       /* --interval-minutes (15) */
    uint8_t market_rule;             /* --market uniform|pay-as-bid|mid-market */
    uint64_t retail_price;           /* --retail-price (300000 per kWh) */
    uint64_t feed_in_price;          /* --feed-in-price (80000 per kWh) */
    uint64_t block_reward;           /* --block-reward (50000000) */
    uint64_t initial_balance;        /* --initial-balance (1000000000 per node) */
    uint32_t mining_threads;         /* --mining-threads (1 per daemon) */
    uint64_t hashrate;               /* --hashrate RATE: every node's cap (0 = none) */
    lopts_node_rate node_rates[LOPTS_MAX_NODE_RATES]; /* --hashrate NODE=RATE, */
    size_t n_node_rates;             /* one per node (the last given wins) */
    lopts_node_adv node_advs[LOPTS_MAX_NODE_RATES]; /* --adversary NODE=ROLE, one per */
    size_t n_node_advs;              /* node (its roles add up) */
    const char *log_level;           /* --log-level (info) for the daemons */
    const char *bin_dir;             /* --bin-dir (directory of the launcher) */
    const char *hosts_file;          /* --hosts FILE (NULL: every daemon on 127.0.0.1) */
    const char *scenario;            /* --scenario FILE (NULL: none) */
    const char *remote_shell;        /* --remote-shell ("ssh -o BatchMode=yes {host}") */
    const char *remote_dir;          /* --remote-dir (NULL: the run dir's own path) */
    const char *placement;           /* --placement local|hosts|slurm (NULL: hosts with
                                      * --hosts, else slurm inside an allocation, else local) */
    uint32_t web_port;               /* --web PORT, or --web-listen's port (0: no page) */
    const char *web_listen;          /* --web-listen HOST:PORT (NULL: 127.0.0.1) */
    char web_addr[64];               /* --web-listen's host, brackets removed */
    int quiet;                       /* --quiet */
    int help, version;
    char pwbuf[LOPTS_PW_MAX];        /* the password file's first line */
    const char *tick_opt;            /* which of --tick / --tick-ms set tick_ms */
    char pv_abs[PATH_MAX], load_abs[PATH_MAX];
} launcher_opts;

/* Fills o from argv[1..argc) (argv[0] is the program).  env_pwd is the
 * value of MYSQL_PWD (NULL if unset); --db-password and --db-password-file
 * override it.  The profile files are read and checked here (and resolved
 * to absolute paths), so a bad one stops the launcher before anything
 * starts.  On bad input returns SG_EINVAL with one line in err naming the
 * problem and the fix. */
/* Orders one core may check each second before the market's own traffic
 * crowds out the chain.  A tenth of the ~20k Ed25519 checks a core does:
 * each order also costs every daemon its relay (announcements, frames,
 * the kernel's TCP), about twice the check again, and at 5000 the 200-daemon
 * run on 2 cores left the miners and block relay no CPU (20 % stale blocks;
 * docs/BENCHMARKS.md). */
#define LOPTS_CHECKS_PER_CORE 2000
/* The default tick when --tick is not given: every household posts an
 * order a tick and every daemon checks every order, so a host with
 * `daemons` of the run's daemons on `cores` cores checks households x
 * daemons orders a tick.  The tick is stretched (from 1 s, in whole
 * tenths) until that is at most LOPTS_CHECKS_PER_CORE a core a second:
 * 1 s up to about 60 daemons on 2 cores, 10 s for 200. */
uint32_t launcher_auto_tick_ms(uint64_t households, uint64_t daemons, uint64_t cores);

int launcher_opts_parse(launcher_opts *o, int argc, char **argv,
                        const char *env_pwd, char *err, size_t errcap);

/* The hash rate cap of the node named `node` (hashes/s, 0: none): its
 * own --hashrate NODE=RATE, else the --hashrate default. */
uint64_t launcher_opts_hashrate(const launcher_opts *o, const char *node);

/* The adversarial roles of the node named `node` (0: honest). */
unsigned launcher_opts_adversary(const launcher_opts *o, const char *node);

/* "HOST:PORT" or "[V6]:PORT" (numeric addresses) into host and port;
 * SG_EINVAL if malformed. */
int launcher_opts_split_hostport(const char *v, char *host, size_t cap, uint32_t *port);

/* The usage text. */
extern const char launcher_usage[];

#endif
