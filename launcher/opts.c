/*
 * opts.c - the launcher's option table; see opts.h.
 */
#include "opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/model/energy.h"
#include "common/base/err.h"
#include "common/link/loglevel.h"
#include "common/core/asert.h"
#include "common/core/params.h"
#include "common/base/units.h"
#include "common/core/adv_role.h"

const char launcher_usage[] =
    "usage: launcher [options]          run a simulation (Ctrl-C stops it cleanly)\n"
    "       launcher attach NODE [--run DIR] [--level debug|info|warn|error]\n"
    "                                     (NODE: op, p1..pN prosumers, c1..cN consumers)\n"
    "       launcher status [--run DIR]\n"
    "       launcher report [--run DIR]   (re)writes DIR/report.html (SQLite or MySQL runs;\n"
    "                                     MySQL: the server in run.json, password from MYSQL_PWD)\n"
    "       launcher analyze [--run DIR]  each scenario event and how long until every node\n"
    "                                     shared one tip again (from the run's database)\n"
    "       launcher pow --help\n"
    "topology and chain:\n"
    "  --prosumers N (3)  --consumers N (5)  --operators N (1, the only value supported)\n"
    "  --difficulty N (4; leading zero hex digits, 1..63; the starting difficulty)\n"
    "  --block-interval SEC (2; target seconds between blocks, retargeted every block;\n"
    "    0 = a fixed difficulty)  --retarget-halflife SEC (3 block intervals)\n"
    "  --block-reward N (50000000)\n"
    "  --duration S (300; 0 = until Ctrl-C)  --use-gpu  --mining-threads N (1)\n"
    "  --hashrate RATE (every node's cap in hashes/s: 2M, 1.5M, 250k; 0 = none, the\n"
    "    default)  --hashrate NODE=RATE (one node's: op, p1.., c1..; repeatable)\n"
    "  --seed N (default from the clock; printed at start, kept in run.json)\n"
    "  --initial-balance N (1000000000 per node)\n"
    "market:\n"
    "  --tick SEC (1, longer when a host would check over 5000 orders a core a\n"
    "    second; real seconds per market interval, 0.1..3600, e.g. 0.5;\n"
    "    --tick-ms N is the same in milliseconds)  --interval-minutes N (15)\n"
    "  --start-time T (simulated clock at interval 0; YYYY-MM-DD, YYYY-MM-DDTHH:MM UTC,\n"
    "    or unix seconds; default today 00:00 UTC)\n"
    "  --market " PARAMS_MARKET_CHOICES "\n"
    "  --retail-price N (300000 per kWh)  --feed-in-price N (80000 per kWh)\n"
    "households:\n"
    "  --battery-kwh KWH (per prosumer, up to 3 decimals; default: no battery)\n"
    "  --pv-profile FILE (prosumers' PV)  --load-profile FILE (prosumers' and consumers' load):\n"
    "    Wh per 15-minute slot, one a line (a CSV's last field), from 00:00 UTC of the\n"
    "    start day, repeating; default: the built-in curves\n"
    "database (default: SQLite file run.db in the run directory):\n"
    "  --db-host HOST ('' = SQLite)  --db-port N (3306)  --db-user U (root)\n"
    "  --db-password P ('')  --db-password-file FILE  (or the MYSQL_PWD environment variable)\n"
    "  --db-name NAME (smartgrid)\n"
    "run:\n"
    "  --run-dir DIR (runs/<time>-<id>)  --base-port N (30300)  --log-level L (info)\n"
    "  --bin-dir DIR (where sgnode and sgoperator are; default: next to launcher)\n"
    "  --scenario FILE (timed events: kill, stop/cont, partition/heal, hashrate, mining,\n"
    "    adversary; checked before anything starts; see README, Scenarios)\n"
    "hosts (spread the daemons over LAN hosts):\n"
    "  --hosts FILE (one host a line: 'name [address] [slots]', '#' comments; the operator\n"
    "    on the first; daemons listen on their host's address)\n"
    "  --remote-shell TEMPLATE ('ssh -o BatchMode=yes {host}'; runs 'sh -s' on the host)\n"
    "  --remote-dir DIR (the run directory on remote hosts; default: the same path;\n"
    "    binaries sit at the same paths on every host)\n"
    "  --placement local|hosts|slurm (default: hosts with --hosts, else slurm inside a\n"
    "    Slurm allocation (SLURM_JOB_ID set), else local; slurm: one srun step a daemon)\n"
    "experiments (off by default):\n"
    "  --adversary NODE=ROLE[,ROLE...] (repeatable; ROLE: selfish, double-spender,\n"
    "    manipulator, spammer, forger): that daemon runs with --adversary ROLE\n"
    "live web page (off by default):\n"
    "  --web PORT (serves the run's page at http://127.0.0.1:PORT/)\n"
    "  --web-listen HOST:PORT (the same on another address, e.g. 0.0.0.0:8080;\n"
    "    read-only, no authentication: only on networks you trust)\n"
    "  --quiet  --help  --version\n";

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    return units_parse_u64(s, strlen(s), lo, hi, out);
}

/* n digits at s, as a number; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

#define LOPTS_TIME_MAX 253402300799ull   /* 9999-12-31T23:59:59Z */

/* YYYY-MM-DD, YYYY-MM-DDTHH:MM (UTC) or unix seconds. */
static int parse_start_time(const char *s, uint64_t *out)
{
    size_t len = strlen(s);
    if (len > 0 && strspn(s, "0123456789") == len)
        return parse_u64(s, 0, LOPTS_TIME_MAX, out);
    if ((len != 10 && len != 16) || s[4] != '-' || s[7] != '-')
        return SG_EINVAL;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = 0, mi = 0;
    if (len == 16) {
        if (s[10] != 'T' || s[13] != ':')
            return SG_EINVAL;
        h = digits(s + 11, 2);
        mi = digits(s + 14, 2);
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59)
        return SG_EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    time_t t = timegm(&tm);
    /* timegm normalises 02-30 to 03-02: a changed day means no such date. */
    if (t < 0 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        return SG_EINVAL;
    *out = (uint64_t)t;
    return 0;
}

typedef enum {
    T_U32, T_U64, T_STR, T_MARKET, T_LEVEL, T_PWFILE, T_TICK, T_TICKMS, T_TIME, T_KWH,
    T_PROFILE, T_HASHRATE, T_SECMS, T_WEBLISTEN, T_ADVERSARY
} opt_type;

typedef struct {
    const char *name;
    opt_type type;
    size_t off;                 /* field in launcher_opts */
    uint64_t lo, hi;
    const char *expect;         /* the fix, in words */
} opt_def;

#define F(field) offsetof(launcher_opts, field)

static const opt_def opt_table[] = {
    { "--prosumers", T_U32, F(prosumers), 0, LOPTS_MAX_NODES, "a count from 0 to 500" },
    { "--consumers", T_U32, F(consumers), 0, LOPTS_MAX_NODES, "a count from 0 to 500" },
    { "--operators", T_U32, F(operators), 1, 1,
      "1 (only one operator is supported)" },
    { "--difficulty", T_U32, F(difficulty), 1, 63,
      "a number of leading zero hex digits from 1 to 63" },
    { "--block-interval", T_SECMS, F(block_interval_ms), 0, 86400000,
      "seconds from 0 (fixed difficulty) to 86400 (up to 3 decimals, e.g. 0.5)" },
    { "--retarget-halflife", T_SECMS, F(retarget_halflife_ms), 1, 86400000,
      "seconds from 0.001 to 86400 (up to 3 decimals)" },
    { "--duration", T_U32, F(duration), 0, 365u * 86400, "seconds (0 = until Ctrl-C)" },
    { "--db-host", T_STR, F(db_host), 0, 0, "a host name ('' for SQLite)" },
    { "--db-port", T_U32, F(db_port), 1, 65535, "a port from 1 to 65535" },
    { "--db-user", T_STR, F(db_user), 1, 0, "a user name" },
    { "--db-password", T_STR, F(db_password), 0, 0, "a password" },
    { "--db-password-file", T_PWFILE, 0, 0, 0, "a readable file" },
    { "--db-name", T_STR, F(db_name), 1, 0, "a database name" },
    { "--seed", T_U64, F(seed), 0, UINT64_MAX, "a non-negative integer" },
    { "--run-dir", T_STR, F(run_dir), 1, 0, "a directory name" },
    { "--base-port", T_U32, F(base_port), 1024, 65000, "a port from 1024 to 65000" },
    { "--tick", T_TICK, F(tick_ms), 100, 3600000,
      "seconds from 0.1 to 3600 (up to 3 decimals, e.g. 0.5)" },
    { "--tick-ms", T_TICKMS, F(tick_ms), 100, 3600000, "milliseconds from 100 to 3600000" },
    { "--start-time", T_TIME, F(sim_start), 0, 0,
      "a date YYYY-MM-DD, YYYY-MM-DDTHH:MM (UTC) or unix seconds" },
    { "--battery-kwh", T_KWH, F(battery_wh), 0, 1000000000,
      "kWh from 0 to 1000000 (up to 3 decimals)" },
    { "--pv-profile", T_PROFILE, F(pv_profile), 0, 0, "a readable profile file" },
    { "--load-profile", T_PROFILE, F(load_profile), 0, 0, "a readable profile file" },
    { "--interval-minutes", T_U32, F(interval_minutes), 1, 1440,
      "minutes from 1 to 1440" },
    { "--market", T_MARKET, F(market_rule), 0, 0, PARAMS_MARKET_EXPECT },
    { "--retail-price", T_U64, F(retail_price), 1, 1000000000000ull,
      "micro-units per kWh from 1 to 10^12" },
    { "--feed-in-price", T_U64, F(feed_in_price), 0, 1000000000000ull,
      "micro-units per kWh from 0 to 10^12" },
    { "--block-reward", T_U64, F(block_reward), 1, 1000000000000000ull,
      "micro-units from 1 to 10^15" },
    { "--initial-balance", T_U64, F(initial_balance), 0, 1000000000000000ull,
      "micro-units from 0 to 10^15" },
    { "--mining-threads", T_U32, F(mining_threads), 1, 256, "a thread count from 1 to 256" },
    { "--hashrate", T_HASHRATE, F(hashrate), 0, UNITS_HASHRATE_MAX,
      "RATE or NODE=RATE, RATE in hashes per second with an optional k, M or G "
      "(e.g. 2M, p1=1.5M; 0 = uncapped; at most 1000G)" },
    { "--adversary", T_ADVERSARY, 0, 0, 0,
      "NODE=ROLE[,ROLE...] with ROLE one of " ADV_ROLE_NAMES " (e.g. p1=selfish)" },
    { "--log-level", T_LEVEL, F(log_level), 0, 0, "debug, info, warn or error" },
    { "--bin-dir", T_STR, F(bin_dir), 1, 0, "a directory name" },
    { "--hosts", T_STR, F(hosts_file), 1, 0, "a hosts file" },
    { "--scenario", T_STR, F(scenario), 1, 0, "a scenario file (README, Scenarios)" },
    { "--remote-shell", T_STR, F(remote_shell), 1, 0,
      "a command prefix with {host}, e.g. 'ssh -o BatchMode=yes {host}'" },
    { "--remote-dir", T_STR, F(remote_dir), 1, 0, "an absolute directory path" },
    { "--placement", T_STR, F(placement), 1, 0, "local, hosts or slurm" },
    { "--web", T_U32, F(web_port), 1, 65535, "a port from 1 to 65535" },
    { "--web-listen", T_WEBLISTEN, F(web_listen), 0, 0,
      "HOST:PORT with a numeric IPv4 address or [IPv6] and a port from 1 to 65535 "
      "(e.g. 0.0.0.0:8080)" },
};

static void set_defaults(launcher_opts *o, const char *env_pwd)
{
    memset(o, 0, sizeof *o);
    o->prosumers = 3;
    o->consumers = 5;
    o->operators = 1;
    o->difficulty = 4;
    o->block_interval_ms = ASERT_DEFAULT_INTERVAL_MS;
    o->duration = 300;
    o->db_host = "";
    o->db_port = 3306;
    o->db_user = "root";
    o->db_password = env_pwd ? env_pwd : "";
    o->db_name = "smartgrid";
    o->base_port = 30300;
    o->tick_ms = 1000;
    o->sim_start = (uint64_t)time(NULL) / 86400 * 86400;
    o->interval_minutes = 15;
    o->market_rule = PARAMS_MARKET_UNIFORM;
    o->retail_price = 300000;
    o->feed_in_price = 80000;
    o->block_reward = 50000000;
    o->initial_balance = 1000000000;
    o->mining_threads = 1;
    o->log_level = "info";
    o->remote_shell = "ssh -o BatchMode=yes {host}";
}

/* The first line of the file, without its newline. */
static int read_pw_file(launcher_opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return SG_EIO;
    char *s = fgets(o->pwbuf, sizeof o->pwbuf, f);
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr)
        return SG_EIO;
    if (!s)
        o->pwbuf[0] = '\0';
    o->pwbuf[strcspn(o->pwbuf, "\r\n")] = '\0';
    o->db_password = o->pwbuf;
    return 0;
}

/* Loads the profile to check it (the daemons load it again) and keeps its
 * absolute path, since the daemons run from another directory. */
static int check_profile(launcher_opts *o, const opt_def *d, const char *v,
                         char *err, size_t cap)
{
    energy_profile prof;
    int bad_line = 0;
    int rc = energy_profile_load(v, &prof, &bad_line);
    int e = errno;
    if (rc == SG_EINVAL && bad_line) {
        snprintf(err, cap, "%s %s: line %d: expected Wh per 15-minute slot (a non-negative "
                 "number; the profile needs at least one)", d->name, v, bad_line);
        return SG_EINVAL;
    }
    if (rc != 0) {
        snprintf(err, cap, "%s %s: %s; give a readable file of Wh per 15-minute slot",
                 d->name, v, rc == SG_EIO ? strerror(e) : sg_strerror(rc));
        return SG_EINVAL;
    }
    energy_profile_free(&prof);
    char *abs = d->off == F(pv_profile) ? o->pv_abs : o->load_abs;
    if (!realpath(v, abs)) {
        snprintf(err, cap, "%s %s: %s; give a readable file of Wh per 15-minute slot",
                 d->name, v, strerror(errno));
        return SG_EINVAL;
    }
    *(const char **)(void *)((char *)o + d->off) = abs;
    return 0;
}

/* "op", or p/c and a number without leading zeros: a name the topology
 * may have (launcher_opts_parse checks it has). */
static int node_name_ok(const char *s, size_t len)
{
    if (len == 2 && strncmp(s, "op", 2) == 0)
        return 1;
    if (len < 2 || len >= sizeof ((lopts_node_rate *)0)->node || (s[0] != 'p' && s[0] != 'c') ||
        s[1] == '0')
        return 0;
    for (size_t i = 1; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* --hashrate RATE or NODE=RATE; a node named again gets the new rate. */
static int set_hashrate(launcher_opts *o, const opt_def *d, const char *v)
{
    const char *eq = strchr(v, '=');
    uint64_t rate;
    if (units_parse_rate(eq ? eq + 1 : v, d->lo, d->hi, &rate) != 0)
        return SG_EINVAL;
    if (!eq) {
        o->hashrate = rate;
        return 0;
    }
    size_t len = (size_t)(eq - v), i;
    if (!node_name_ok(v, len))
        return SG_EINVAL;
    for (i = 0; i < o->n_node_rates; i++)
        if (strlen(o->node_rates[i].node) == len && strncmp(o->node_rates[i].node, v, len) == 0)
            break;
    if (i == LOPTS_MAX_NODE_RATES)
        return SG_EINVAL;
    if (i == o->n_node_rates) {
        memcpy(o->node_rates[i].node, v, len);
        o->node_rates[i].node[len] = '\0';
        o->n_node_rates++;
    }
    o->node_rates[i].rate = rate;
    return 0;
}

/* --adversary NODE=ROLE[,ROLE]; a node named again adds roles. */
static int set_adversary(launcher_opts *o, const char *v)
{
    const char *eq = strchr(v, '=');
    unsigned roles;
    size_t i, len;
    if (!eq || adv_parse_roles(eq + 1, &roles) != 0)
        return SG_EINVAL;
    len = (size_t)(eq - v);
    if (!node_name_ok(v, len))
        return SG_EINVAL;
    for (i = 0; i < o->n_node_advs; i++)
        if (strlen(o->node_advs[i].node) == len && strncmp(o->node_advs[i].node, v, len) == 0)
            break;
    if (i == LOPTS_MAX_NODE_RATES)
        return SG_EINVAL;
    if (i == o->n_node_advs) {
        memcpy(o->node_advs[i].node, v, len);
        o->node_advs[i].node[len] = '\0';
        o->n_node_advs++;
    }
    o->node_advs[i].roles |= roles;
    return 0;
}

unsigned launcher_opts_adversary(const launcher_opts *o, const char *node)
{
    for (size_t i = 0; i < o->n_node_advs; i++)
        if (strcmp(o->node_advs[i].node, node) == 0)
            return o->node_advs[i].roles;
    return 0;
}

int launcher_opts_split_hostport(const char *v, char *host, size_t cap, uint32_t *port)
{
    const char *colon = strrchr(v, ':');
    const char *h = v, *he = colon;
    uint64_t p;
    unsigned char tmp[16];
    if (!colon || parse_u64(colon + 1, 1, 65535, &p) != 0)
        return SG_EINVAL;
    if (*h == '[') {
        if (he - h < 2 || he[-1] != ']')
            return SG_EINVAL;
        h++;
        he--;
    }
    if ((size_t)(he - h) >= cap)
        return SG_EINVAL;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    if (inet_pton(v[0] == '[' ? AF_INET6 : AF_INET, host, tmp) != 1)
        return SG_EINVAL;
    *port = (uint32_t)p;
    return 0;
}

uint64_t launcher_opts_hashrate(const launcher_opts *o, const char *node)
{
    for (size_t i = 0; i < o->n_node_rates; i++)
        if (strcmp(o->node_rates[i].node, node) == 0)
            return o->node_rates[i].rate;
    return o->hashrate;
}

/* Every --hashrate NODE=RATE names a node of the topology. */
static int check_node_rates(const launcher_opts *o, char *err, size_t cap)
{
    for (size_t i = 0; i < o->n_node_rates + o->n_node_advs; i++) {
        int is_rate = i < o->n_node_rates;
        const char *n = is_rate ? o->node_rates[i].node
                                : o->node_advs[i - o->n_node_rates].node;
        unsigned long k = strtoul(n + 1, NULL, 10);
        if (strcmp(n, "op") == 0 || (n[0] == 'p' && k <= o->prosumers) ||
            (n[0] == 'c' && k <= o->consumers))
            continue;
        char ps[32] = "", cs[32] = "";
        if (o->prosumers)
            snprintf(ps, sizeof ps, ", p1..p%u", o->prosumers);
        if (o->consumers)
            snprintf(cs, sizeof cs, ", c1..c%u", o->consumers);
        snprintf(err, cap, "%s %s=...: this run has no node %s (its nodes are op%s%s); "
                 "name one of those or change --prosumers/--consumers",
                 is_rate ? "--hashrate" : "--adversary", n, n, ps, cs);
        return SG_EINVAL;
    }
    return 0;
}

static int set_value(launcher_opts *o, const opt_def *d, const char *v,
                     char *err, size_t cap)
{
    char *field = (char *)o + d->off;
    uint64_t u;
    int lvl;
    switch (d->type) {
    case T_U32:
    case T_U64:
        if (parse_u64(v, d->lo, d->hi, &u) != 0)
            goto bad;
        if (d->type == T_U32)
            *(uint32_t *)(void *)field = (uint32_t)u;
        else
            *(uint64_t *)(void *)field = u;
        if (d->off == F(seed))
            o->seed_given = 1;
        return 0;
    case T_STR:
        if (d->lo && *v == '\0')
            goto bad;
        *(const char **)(void *)field = v;
        return 0;
    case T_MARKET:
        if (params_market_parse(v, strlen(v), &o->market_rule) != 0)
            goto bad;
        return 0;
    case T_LEVEL:
        if (log_level_parse(v, &lvl) != 0)
            goto bad;
        o->log_level = v;
        return 0;
    case T_PWFILE:
        if (read_pw_file(o, v) != 0) {
            snprintf(err, cap, "--db-password-file: cannot read '%s' (%s); give a readable "
                     "file whose first line is the password", v, strerror(errno));
            return SG_EINVAL;
        }
        return 0;
    case T_TICK:
    case T_TICKMS:
        if (o->tick_opt && strcmp(o->tick_opt, d->name) != 0) {
            snprintf(err, cap, "--tick and --tick-ms both given; give one (--tick SEC, "
                     "e.g. --tick 0.5)");
            return SG_EINVAL;
        }
        if (d->type == T_TICK ? units_parse_milli(v, d->lo, d->hi, &u) != 0
                              : parse_u64(v, d->lo, d->hi, &u) != 0)
            goto bad;
        o->tick_ms = (uint32_t)u;
        o->tick_opt = d->name;
        return 0;
    case T_TIME:
        if (parse_start_time(v, &o->sim_start) != 0)
            goto bad;
        return 0;
    case T_KWH:
        if (units_parse_milli(v, d->lo, d->hi, &o->battery_wh) != 0)
            goto bad;
        o->battery_given = 1;
        return 0;
    case T_SECMS:
        if (units_parse_milli(v, d->lo, d->hi, &u) != 0)
            goto bad;
        *(uint32_t *)(void *)field = (uint32_t)u;
        return 0;
    case T_PROFILE:
        if (*v == '\0')
            goto bad;
        return check_profile(o, d, v, err, cap);
    case T_HASHRATE:
        if (set_hashrate(o, d, v) != 0)
            goto bad;
        return 0;
    case T_ADVERSARY:
        if (set_adversary(o, v) != 0)
            goto bad;
        return 0;
    case T_WEBLISTEN:
        if (launcher_opts_split_hostport(v, o->web_addr, sizeof o->web_addr, &o->web_port) != 0)
            goto bad;
        o->web_listen = v;
        return 0;
    }
bad:
    snprintf(err, cap, "%s expects %s, got '%s'", d->name, d->expect, v);
    return SG_EINVAL;
}

static const opt_def *find_opt(const char *name)
{
    for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++)
        if (strcmp(opt_table[i].name, name) == 0)
            return &opt_table[i];
    return NULL;
}

static int set_flag(launcher_opts *o, const char *name)
{
    int *flag = strcmp(name, "--use-gpu") == 0 ? &o->use_gpu
              : strcmp(name, "--quiet") == 0 ? &o->quiet
              : strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ? &o->help
              : strcmp(name, "--version") == 0 ? &o->version : NULL;
    if (!flag)
        return SG_ENOTFOUND;
    *flag = 1;
    return 0;
}

/* --placement names a mode, and agrees with --hosts. */
static int check_placement(const launcher_opts *o, char *err, size_t cap)
{
    const char *p = o->placement;
    if (!p)
        return 0;
    if (strcmp(p, "local") != 0 && strcmp(p, "hosts") != 0 && strcmp(p, "slurm") != 0) {
        snprintf(err, cap, "--placement expects local, hosts or slurm, got '%s'", p);
        return SG_EINVAL;
    }
    if (o->hosts_file && strcmp(p, "hosts") != 0) {
        snprintf(err, cap, "--hosts goes with --placement hosts, not '%s'; drop one of them",
                 p);
        return SG_EINVAL;
    }
    if (!o->hosts_file && strcmp(p, "hosts") == 0) {
        snprintf(err, cap, "--placement hosts needs --hosts FILE");
        return SG_EINVAL;
    }
    return 0;
}

uint32_t launcher_auto_tick_ms(uint64_t households, uint64_t daemons, uint64_t cores)
{
    if (cores == 0)
        cores = 1;
    uint64_t budget = cores * LOPTS_CHECKS_PER_CORE;
    uint64_t ms = (households * daemons * 1000 + budget - 1) / budget;
    ms = (ms + 99) / 100 * 100;
    return ms < 1000 ? 1000 : ms > 3600000 ? 3600000 : (uint32_t)ms;
}

int launcher_opts_parse(launcher_opts *o, int argc, char **argv,
                        const char *env_pwd, char *err, size_t errcap)
{
    set_defaults(o, env_pwd);
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *a = argv[i], *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (a[0] != '-' || nlen >= sizeof name) {
            snprintf(err, errcap, "unexpected argument '%s'; options start with -- "
                     "(see launcher --help)", a);
            return SG_EINVAL;
        }
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        if (set_flag(o, name) == 0) {
            if (eq) {
                snprintf(err, errcap, "%s takes no value; drop '%s'", name, eq);
                return SG_EINVAL;
            }
            continue;
        }
        const opt_def *d = find_opt(name);
        if (!d) {
            snprintf(err, errcap, "unknown option '%s' (see launcher --help)", name);
            return SG_EINVAL;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                snprintf(err, errcap, "%s expects %s; give a value", name, d->expect);
                return SG_EINVAL;
            }
            v = argv[++i];
        }
        if (set_value(o, d, v, err, errcap) != 0)
            return SG_EINVAL;
    }
    if (o->remote_dir && o->remote_dir[0] != '/') {
        snprintf(err, errcap, "--remote-dir expects an absolute directory path, got '%s'",
                 o->remote_dir);
        return SG_EINVAL;
    }
    if (check_placement(o, err, errcap) != 0)
        return SG_EINVAL;
    if (o->feed_in_price > o->retail_price) {
        snprintf(err, errcap, "--feed-in-price (%llu) is above --retail-price (%llu); "
                 "the grid must not buy dearer than it sells",
                 (unsigned long long)o->feed_in_price, (unsigned long long)o->retail_price);
        return SG_EINVAL;
    }
    if (check_node_rates(o, err, errcap) != 0)
        return SG_EINVAL;
    if ((uint64_t)o->base_port + o->prosumers + o->consumers + 1 > 65535) {
        snprintf(err, errcap, "--base-port %u leaves no room for %u daemons; use a lower port",
                 o->base_port, o->prosumers + o->consumers + 1);
        return SG_EINVAL;
    }
    return 0;
}
