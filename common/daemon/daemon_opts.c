/*
 * daemon_opts.c - daemon options, key files and the tool subcommands
 * (keygen, cluster-key, genesis, ctl); see daemon.h.
 */
#include "common/daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/link/ctl.h"
#include "common/core/asert.h"
#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/daemon/log.h"
#include "common/daemon/miner.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/base/units.h"
#include "kernels/kern.h"

const char *daemon_role_name(int role)
{
    switch (role) {
    case DAEMON_ROLE_PROSUMER: return "prosumer";
    case DAEMON_ROLE_CONSUMER: return "consumer";
    case DAEMON_ROLE_OPERATOR: return "operator";
    default: return "?";
    }
}

/* ---- option parsing ------------------------------------------------------ */

/* "HOST:PORT", "[V6]:PORT" or ":PORT" with a numeric port. */
static int hostport_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon || colon[1] == '\0')
        return 0;
    if (s[0] == '[' && (colon == s || colon[-1] != ']'))
        return 0;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return *end == '\0' && errno == 0 && port >= 0 && port <= 65535;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    if (!s || *s == '\0' || *s == '-')
        return SG_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || v < lo || v > hi)
        return SG_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s == '\0' || *s == '-')
        return SG_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0)
        return SG_EINVAL;
    *out = v;
    return 0;
}


/* Splits "--opt=value" or "--opt value".  Returns the option's value, or
 * NULL with err set when it is missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *eq,
                             const char *opt, char *err, size_t errcap)
{
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc) {
        snprintf(err, errcap, "%s expects a value", opt);
        return NULL;
    }
    return argv[++*i];
}

static int bad(char *err, size_t cap, const char *opt, const char *what,
               const char *got)
{
    snprintf(err, cap, "%s expects %s, got '%s'", opt, what, got);
    return SG_EINVAL;
}

static int parse_role(const char *v, int *role)
{
    if (strcmp(v, "prosumer") == 0)
        *role = DAEMON_ROLE_PROSUMER;
    else if (strcmp(v, "consumer") == 0)
        *role = DAEMON_ROLE_CONSUMER;
    else
        return SG_EINVAL;
    return 0;
}

/* One option with a value; SG_ENOTFOUND if the name is none of these. */
static int set_valued(daemon_opts *o, int fixed_role, const char *opt,
                      const char *v, char *err, size_t cap)
{
    uint32_t u;
    if (strcmp(opt, "--role") == 0) {
        if (fixed_role) {
            snprintf(err, cap, "--role is not an option of %s", o->prog);
            return SG_EINVAL;
        }
        return parse_role(v, &o->role) ? bad(err, cap, opt, "prosumer or consumer", v) : 0;
    }
    if (strcmp(opt, "--listen") == 0) {
        if (strcmp(v, "none") == 0)
            o->listen = NULL;
        else if (!hostport_ok(v))
            return bad(err, cap, opt, "HOST:PORT (or 'none')", v);
        else
            o->listen = v;
        return 0;
    }
    if (strcmp(opt, "--peer") == 0) {
        if (!hostport_ok(v))
            return bad(err, cap, opt, "HOST:PORT", v);
        if (o->n_peers == DAEMON_MAX_PEERS) {
            snprintf(err, cap, "--peer given more than %d times", DAEMON_MAX_PEERS);
            return SG_EINVAL;
        }
        o->peers[o->n_peers++] = v;
        return 0;
    }
    if (strcmp(opt, "--log-level") == 0)
        return log_level_parse(v, &o->log_level)
                   ? bad(err, cap, opt, "debug, info, warn or error", v) : 0;
    if (strcmp(opt, "--name") == 0) {
        if (*v == '\0' || strlen(v) > PROTO_NAME_MAX)
            return bad(err, cap, opt, "a name of 1 to 64 characters", v);
        o->name = v;
        return 0;
    }
    if (strcmp(opt, "--mining-threads") == 0) {
        if (parse_u32(v, 1, MINER_MAX_THREADS, &u) != 0)
            return bad(err, cap, opt, "a thread count from 1 to 256", v);
        o->mining_threads = u;
        return 0;
    }
    if (strcmp(opt, "--impl") == 0) {
        kern_impl ki;
        if (strcmp(v, "auto") != 0 && kern_impl_from_name(v, &ki) != 0)
            return bad(err, cap, opt, "auto, avx512, avx2, shani, generic, openssl or cuda", v);
        o->impl = v;
        return 0;
    }
    if (strcmp(opt, "--reconnect-max-ms") == 0) {
        if (parse_u32(v, 100, 3600000, &u) != 0)
            return bad(err, cap, opt, "milliseconds from 100 to 3600000", v);
        o->reconnect_max_ms = u;
        return 0;
    }
    if (strcmp(opt, "--ban-secs") == 0) {
        if (parse_u32(v, 1, 86400 * 7, &u) != 0)
            return bad(err, cap, opt, "seconds from 1 to 604800", v);
        o->ban_secs = u;
        return 0;
    }
    if (strcmp(opt, "--stall-ms") == 0) {
        if (parse_u32(v, 100, 600000, &u) != 0)
            return bad(err, cap, opt, "milliseconds from 100 to 600000", v);
        o->stall_ms = u;
        return 0;
    }
    if (strcmp(opt, "--max-block-txs") == 0) {
        if (parse_u32(v, 1, PROTO_BLOCK_MAX_TXS, &u) != 0) {
            char what[64];
            snprintf(what, sizeof what, "a transaction count from 1 to %d (coinbase included)",
                     PROTO_BLOCK_MAX_TXS);
            return bad(err, cap, opt, what, v);
        }
        o->max_block_txs = u;
        return 0;
    }
    if (strcmp(opt, "--metrics-port") == 0) {
        if (parse_u32(v, 0, 65535, &u) != 0)
            return bad(err, cap, opt, "a port from 0 to 65535", v);
        snprintf(o->metrics_listen_buf, sizeof o->metrics_listen_buf, "127.0.0.1:%u", u);
        o->metrics_listen = o->metrics_listen_buf;
        return 0;
    }
    if (strcmp(opt, "--metrics-listen") == 0) {
        if (!hostport_ok(v))
            return bad(err, cap, opt, "HOST:PORT", v);
        o->metrics_listen = v;
        return 0;
    }
    if (strcmp(opt, "--battery-kwh") == 0) {
        if (units_parse_milli(v, 0, 1000000000, &o->battery_wh) != 0)
            return bad(err, cap, opt, "kWh from 0 to 1000000 (up to 3 decimals)", v);
        return 0;
    }
    const char **path = strcmp(opt, "--data-dir") == 0 ? &o->data_dir
                      : strcmp(opt, "--key") == 0 ? &o->key_path
                      : strcmp(opt, "--cluster-key") == 0 ? &o->cluster_key_path
                      : strcmp(opt, "--genesis") == 0 ? &o->genesis_path
                      : strcmp(opt, "--log") == 0 ? &o->log_path
                      : strcmp(opt, "--pv-profile") == 0 ? &o->pv_profile_path
                      : strcmp(opt, "--load-profile") == 0 ? &o->load_profile_path : NULL;
    if (!path)
        return SG_ENOTFOUND;
    if (*v == '\0')
        return bad(err, cap, opt, "a file name", v);
    *path = v;
    return 0;
}

static const char *const valued_opts[] = {
    "--role", "--listen", "--peer", "--data-dir", "--key", "--cluster-key",
    "--genesis", "--log", "--log-level", "--name", "--mining-threads", "--impl",
    "--reconnect-max-ms", "--ban-secs", "--stall-ms", "--battery-kwh", "--pv-profile",
    "--load-profile", "--metrics-port", "--metrics-listen", "--max-block-txs", NULL,
};

static int is_valued(const char *name)
{
    for (int i = 0; valued_opts[i]; i++)
        if (strcmp(valued_opts[i], name) == 0)
            return 1;
    return 0;
}

int daemon_parse_opts(daemon_opts *o, const char *prog, int fixed_role,
                      int argc, char **argv, char *err, size_t errcap)
{
    memset(o, 0, sizeof *o);
    o->prog = prog;
    o->role = fixed_role;
    o->listen = DAEMON_DEFAULT_LISTEN;
    o->data_dir = NULL;
    o->log_level = LOG_LEVEL_INFO;
    o->mining_threads = 1;
    o->max_block_txs = DAEMON_TEMPLATE_TXS;
    o->impl = "auto";
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *a = argv[i], *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (strncmp(a, "--", 2) != 0 || nlen >= sizeof name) {
            snprintf(err, errcap, "unexpected argument '%s' (see --help)", a);
            return SG_EINVAL;
        }
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        int *flag = strcmp(name, "--use-gpu") == 0 ? &o->use_gpu
                  : strcmp(name, "--no-mine") == 0 ? &o->no_mine
                  : strcmp(name, "--no-discover") == 0 ? &o->no_discover
                  : strcmp(name, "--stop-on-stdin-eof") == 0 ? &o->stop_on_stdin_eof : NULL;
        if (flag) {
            if (eq) {
                snprintf(err, errcap, "%s takes no value", name);
                return SG_EINVAL;
            }
            *flag = 1;
            continue;
        }
        if (!is_valued(name)) {
            snprintf(err, errcap, "unknown option '%s' (see --help)", name);
            return SG_EINVAL;
        }
        const char *v = opt_value(argc, argv, &i, eq, name, err, errcap);
        if (!v)
            return SG_EINVAL;
        int rc = set_valued(o, fixed_role, name, v, err, errcap);
        if (rc != 0)
            return SG_EINVAL;
    }
    if (o->role == 0) {
        snprintf(err, errcap, "--role is required (prosumer or consumer)");
        return SG_EINVAL;
    }
    if (!o->genesis_path) {
        snprintf(err, errcap, "--genesis FILE is required (make one with '%s genesis')",
                 prog);
        return SG_EINVAL;
    }
    if (!o->cluster_key_path) {
        snprintf(err, errcap, "--cluster-key FILE is required (make one with '%s "
                 "cluster-key --out FILE')", prog);
        return SG_EINVAL;
    }
    if (!o->data_dir) {
        snprintf(err, errcap, "--data-dir DIR is required");
        return SG_EINVAL;
    }
    if (o->role != DAEMON_ROLE_PROSUMER && (o->battery_wh || o->pv_profile_path)) {
        snprintf(err, errcap, "%s applies to prosumers only",
                 o->battery_wh ? "--battery-kwh" : "--pv-profile");
        return SG_EINVAL;
    }
    if (o->role == DAEMON_ROLE_OPERATOR && o->load_profile_path) {
        snprintf(err, errcap, "--load-profile applies to prosumers and consumers only");
        return SG_EINVAL;
    }
    return 0;
}

/* ---- key files ----------------------------------------------------------- */

/* Reads exactly nbytes as 2*nbytes hex digits and an optional newline. */
static int read_hex_file(const char *path, uint8_t *out, size_t nbytes)
{
    char buf[300];
    FILE *f = fopen(path, "r");
    if (!f)
        return SG_EIO;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr)
        return SG_EIO;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n != nbytes * 2)
        return SG_EINVAL;
    return hash_unhex(buf, out, nbytes) == 0 ? 0 : SG_EINVAL;
}

/* Creates path (failing if it exists) with mode 0600 and the hex of bytes. */
static int write_hex_file(const char *path, const uint8_t *bytes, size_t nbytes)
{
    char hex[300];
    int rc = SG_EIO;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return SG_EIO;
    hash_hex(bytes, nbytes, hex);
    size_t len = strlen(hex);
    hex[len++] = '\n';
    if (write(fd, hex, len) == (ssize_t)len && fsync(fd) == 0)
        rc = 0;
    sodium_memzero(hex, sizeof hex);
    if (close(fd) != 0)
        rc = SG_EIO;
    if (rc != 0)
        unlink(path);
    return rc;
}

int daemon_identity_create(const char *path, uint8_t sk[64], uint8_t pk[32])
{
    if (sodium_init() < 0)
        return SG_EIO;
    crypto_sign_keypair(pk, sk);
    return write_hex_file(path, sk, 64);
}

int daemon_identity_load(const char *path, uint8_t sk[64], uint8_t pk[32],
                         int *created)
{
    uint8_t seed[32], check_pk[32], check_sk[64];
    *created = 0;
    if (sodium_init() < 0)
        return SG_EIO;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        *created = 1;
        return daemon_identity_create(path, sk, pk);
    }
    int rc = read_hex_file(path, sk, 64);
    if (rc != 0)
        return rc;
    /* The public half must be the seed's: a hand-edited file would
     * otherwise sign with one key and advertise another. */
    memcpy(seed, sk, 32);
    crypto_sign_seed_keypair(check_pk, check_sk, seed);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(check_sk, sizeof check_sk);
    if (memcmp(check_pk, sk + 32, 32) != 0)
        return SG_EINVAL;
    memcpy(pk, sk + 32, 32);
    return 0;
}

int daemon_cluster_key_load(const char *path, uint8_t key[32])
{
    return read_hex_file(path, key, 32);
}

int daemon_cluster_key_create(const char *path, uint8_t key[32])
{
    if (sodium_init() < 0)
        return SG_EIO;
    randombytes_buf(key, 32);
    return write_hex_file(path, key, 32);
}

/* ---- tools --------------------------------------------------------------- */

static const char *find_out(const char *prog, const char *tool, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc && i + 2 == argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--out=", 6) == 0 && i + 1 == argc && argv[i][6])
            return argv[i] + 6;
    }
    fprintf(stderr, "%s %s: usage: %s %s --out FILE\n", prog, tool, prog, tool);
    return NULL;
}

int daemon_tool_keygen(const char *prog, int argc, char **argv)
{
    uint8_t sk[64], pk[32];
    char hex[65];
    const char *out = find_out(prog, "keygen", argc, argv);
    if (!out)
        return 2;
    if (daemon_identity_create(out, sk, pk) != 0) {
        fprintf(stderr, "%s keygen: cannot create %s: %s\n", prog, out,
                errno == EEXIST ? "file exists" : strerror(errno));
        return 1;
    }
    sodium_memzero(sk, sizeof sk);
    hash_hex(pk, 32, hex);
    printf("%s\n", hex);
    return 0;
}

int daemon_tool_cluster_key(const char *prog, int argc, char **argv)
{
    uint8_t key[32];
    const char *out = find_out(prog, "cluster-key", argc, argv);
    if (!out)
        return 2;
    if (daemon_cluster_key_create(out, key) != 0) {
        fprintf(stderr, "%s cluster-key: cannot create %s: %s\n", prog, out,
                errno == EEXIST ? "file exists" : strerror(errno));
        return 1;
    }
    sodium_memzero(key, sizeof key);
    return 0;
}

static int add_alloc(chain_params *p, const char *v)
{
    const char *eq = strchr(v, '=');
    char hex[65];
    uint64_t amount;
    if (!eq || eq - v != 64 || parse_u64(eq + 1, &amount) != 0)
        return SG_EINVAL;
    memcpy(hex, v, 64);
    hex[64] = '\0';
    if (p->n_allocs >= PARAMS_MAX_ALLOCS)
        return SG_EFULL;
    params_alloc *na = realloc(p->allocs, sizeof *na * (p->n_allocs + 1));
    if (!na)
        return SG_ENOMEM;
    p->allocs = na;
    if (hash_unhex(hex, na[p->n_allocs].pubkey, 32) != 0)
        return SG_EINVAL;
    na[p->n_allocs++].balance = amount;
    return 0;
}

/* The market's genesis parameters; SG_ENOTFOUND for another option. */
static int genesis_market_opt(chain_params *p, const char *opt, const char *v)
{
    static const char *const rules[] = { "uniform", "pay-as-bid", "mid-market" };
    uint32_t u;
    if (strcmp(opt, "--tick-ms") == 0)
        return parse_u32(v, 1, 86400000, &p->tick_ms);
    if (strcmp(opt, "--interval-minutes") == 0)
        return parse_u32(v, 1, 1440, &p->interval_minutes);
    if (strcmp(opt, "--start-time") == 0)
        return parse_u64(v, &p->sim_start);
    if (strcmp(opt, "--retail-price") == 0)
        return parse_u64(v, &p->retail_price) == 0 && p->retail_price > 0 ? 0 : SG_EINVAL;
    if (strcmp(opt, "--feed-in-price") == 0)
        return parse_u64(v, &p->feed_in_price);
    if (strcmp(opt, "--seed") == 0)
        return parse_u64(v, &p->seed);
    if (strcmp(opt, "--market") != 0)
        return SG_ENOTFOUND;
    for (u = 0; u < sizeof rules / sizeof rules[0]; u++)
        if (strcmp(v, rules[u]) == 0) {
            p->market_rule = (uint8_t)u;
            return 0;
        }
    return SG_EINVAL;
}

#define GENESIS_RETARGET_MAX_MS 86400000u

/* Seconds with up to 3 decimals, kept in ms.  A half-life of 0 stands
 * for "not given": daemon_tool_genesis then picks the default for the
 * interval. */
static int genesis_retarget_opt(chain_params *p, const char *opt, const char *v)
{
    uint64_t ms;
    int interval = strcmp(opt, "--block-interval") == 0;
    if (units_parse_milli(v, interval ? 0 : 1, GENESIS_RETARGET_MAX_MS, &ms) != 0)
        return SG_EINVAL;
    if (interval)
        p->block_interval_ms = (uint32_t)ms;
    else
        p->retarget_halflife_ms = (uint32_t)ms;
    return 0;
}

static int genesis_opt(chain_params *p, const char *opt, const char *v,
                       int *have_op, const char **out)
{
    uint32_t u;
    if (strcmp(opt, "--out") == 0) {
        *out = v;
    } else if (strcmp(opt, "--operator-key") == 0) {
        if (strlen(v) != 64 || hash_unhex(v, p->operator_key, 32) != 0)
            return SG_EINVAL;
        *have_op = 1;
    } else if (strcmp(opt, "--difficulty") == 0) {
        if (parse_u32(v, 1, 63, &u) != 0 || pow_difficulty_to_bits((int)u, &p->bits) != 0)
            return SG_EINVAL;
    } else if (strcmp(opt, "--alloc") == 0) {
        return add_alloc(p, v) == 0 ? 0 : SG_EINVAL;
    } else if (strcmp(opt, "--time") == 0) {
        return parse_u64(v, &p->genesis_time);
    } else if (strcmp(opt, "--name") == 0) {
        if (strlen(v) == 0 || strlen(v) > PARAMS_NAME_MAX)
            return SG_EINVAL;
        strcpy(p->name, v);
    } else if (strcmp(opt, "--block-reward") == 0) {
        return parse_u64(v, &p->block_reward);
    } else if (strcmp(opt, "--block-interval") == 0 || strcmp(opt, "--retarget-halflife") == 0) {
        return genesis_retarget_opt(p, opt, v);
    } else {
        return genesis_market_opt(p, opt, v);
    }
    return 0;
}

int daemon_tool_genesis(const char *prog, int argc, char **argv)
{
    static const char *const expect[][2] = {
        { "--out", "a file name" }, { "--operator-key", "64 hex digits" },
        { "--difficulty", "a number from 1 to 63" },
        { "--alloc", "PUBKEYHEX=AMOUNT (64 hex digits, micro-units)" },
        { "--time", "unix seconds" }, { "--name", "a name of 1 to 64 characters" },
        { "--block-reward", "micro-units" },
        { "--tick-ms", "milliseconds from 1 to 86400000" },
        { "--interval-minutes", "minutes from 1 to 1440" },
        { "--start-time", "unix seconds (simulated time of interval 0)" },
        { "--market", "uniform, pay-as-bid or mid-market" },
        { "--retail-price", "micro-units per kWh above 0" },
        { "--feed-in-price", "micro-units per kWh" }, { "--seed", "a number" },
        { "--block-interval", "seconds from 0 (fixed difficulty) to 86400, up to 3 decimals" },
        { "--retarget-halflife", "seconds from 0.001 to 86400, up to 3 decimals" },
    };
    chain_params p;
    const char *out = NULL;
    int have_op = 0, status = 2;

    params_init_defaults(&p);
    p.genesis_time = (uint64_t)time(NULL);
    p.block_interval_ms = ASERT_DEFAULT_INTERVAL_MS;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = v ? genesis_opt(&p, opt, v, &have_op, &out) : SG_ENOTFOUND;
        if (rc == SG_ENOTFOUND) {
            fprintf(stderr, "%s genesis: unknown option or missing value '%s'\n", prog, opt);
            goto out;
        }
        if (rc != 0) {
            const char *what = "a valid value";
            for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++)
                if (strcmp(expect[k][0], opt) == 0)
                    what = expect[k][1];
            fprintf(stderr, "%s genesis: %s expects %s, got '%s'\n", prog, opt, what, v);
            goto out;
        }
        i++;
    }
    if (!out || !have_op) {
        fprintf(stderr, "%s genesis: usage: %s genesis --out FILE --operator-key PUBHEX "
                "[--difficulty N] [--alloc PUBHEX=AMOUNT]... [--time UNIX] [--name NAME] "
                "[--block-reward N] [--tick-ms MS] [--interval-minutes N] "
                "[--start-time UNIX] [--market uniform|pay-as-bid|mid-market] "
                "[--retail-price N] [--feed-in-price N] [--seed N] "
                "[--block-interval SEC (2; 0 = fixed difficulty)] [--retarget-halflife SEC]\n",
                prog, prog);
        goto out;
    }
    if (p.block_interval_ms != 0 && p.retarget_halflife_ms == 0)
        p.retarget_halflife_ms = asert_default_halflife_ms(p.block_interval_ms);
    if (p.feed_in_price > p.retail_price) {
        fprintf(stderr, "%s genesis: --feed-in-price %llu is above --retail-price %llu\n",
                prog, (unsigned long long)p.feed_in_price,
                (unsigned long long)p.retail_price);
        goto out;
    }
    if (params_save(out, &p) != 0) {
        fprintf(stderr, "%s genesis: cannot write %s: %s\n", prog, out, strerror(errno));
        status = 1;
        goto out;
    }
    status = 0;
out:
    params_free(&p);
    return status;
}

/* ---- ctl ----------------------------------------------------------------- */

static int ctl_print_stats(ctl *c, int timeout_ms)
{
    proto_stats st;
    int rc = ctl_stats(c, &st, timeout_ms);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < st.n; i++) {
        const proto_stat *s = &st.items[i];
        if (s->kind == PROTO_STAT_INT)
            printf("%s=%lld\n", s->key, (long long)s->i);
        else
            printf("%s=%s\n", s->key, s->s);
    }
    fflush(stdout);
    proto_stats_free(&st);
    return 0;
}

static int ctl_follow_log(ctl *c, int level, int timeout_ms)
{
    proto_log_line line;
    int rc = ctl_log_subscribe(c, (uint8_t)level, timeout_ms);
    if (rc != 0)
        return rc;
    for (;;) {
        rc = ctl_next_log_line(c, &line, -1);
        if (rc == SG_ECLOSED)
            return 0;
        if (rc != 0)
            return rc;
        printf("%s\n", line.text);
        fflush(stdout);
    }
}

typedef struct {
    const char *connect, *cluster_key, *genesis, *cmd;
    int level;
    uint32_t timeout_ms;
    uint64_t offset;                 /* store-read */
    const char *mining;              /* mining: "on" or "off" */
} ctl_args;

/* mining on|off: prints the state the daemon confirmed, as `stats` would. */
static int ctl_set_mining(ctl *c, int on, int timeout_ms)
{
    int rc = ctl_mining(c, on, timeout_ms);
    if (rc == 0) {
        printf("mining=%d\n", on);
        fflush(stdout);
    }
    return rc;
}

/* store-read: the daemon's blocks.dat from offset to its size at the first
 * answer, raw on stdout (tests compare it with the file). */
static int ctl_dump_store(ctl *c, uint64_t offset, int timeout_ms)
{
    uint8_t *buf = malloc(PROTO_STORE_READ_MAX);
    uint64_t size = 0, end = UINT64_MAX;
    size_t got = 0;
    int rc = buf ? 0 : SG_ENOMEM;

    while (rc == 0 && offset < end) {
        rc = ctl_store_read(c, offset, buf, PROTO_STORE_READ_MAX, &got, &size, timeout_ms);
        if (rc != 0 || got == 0)
            break;
        if (end == UINT64_MAX)
            end = size;
        if (got > end - offset)
            got = (size_t)(end - offset);
        if (fwrite(buf, 1, got, stdout) != got)
            rc = SG_EIO;
        offset += got;
    }
    free(buf);
    return rc != 0 || fflush(stdout) == 0 ? rc : SG_EIO;
}

static int parse_ctl_args(const char *prog, int argc, char **argv, ctl_args *a)
{
    a->level = LOG_LEVEL_INFO;
    a->timeout_ms = 10000;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (o[0] != '-') {
            if (a->cmd && strcmp(a->cmd, "mining") == 0 && !a->mining) {
                a->mining = o;
                continue;
            }
            if (a->cmd) {
                fprintf(stderr, "%s ctl: one command at a time, got '%s'\n", prog, o);
                return SG_EINVAL;
            }
            a->cmd = o;
            continue;
        }
        if (!v) {
            fprintf(stderr, "%s ctl: %s expects a value\n", prog, o);
            return SG_EINVAL;
        }
        i++;
        if (strcmp(o, "--connect") == 0 && hostport_ok(v))
            a->connect = v;
        else if (strcmp(o, "--cluster-key") == 0)
            a->cluster_key = v;
        else if (strcmp(o, "--genesis") == 0)
            a->genesis = v;
        else if (strcmp(o, "--level") == 0 && log_level_parse(v, &a->level) == 0)
            ;
        else if (strcmp(o, "--timeout-ms") == 0 &&
                 parse_u32(v, 1, 3600000, &a->timeout_ms) == 0)
            ;
        else if (strcmp(o, "--offset") == 0 && parse_u64(v, &a->offset) == 0)
            ;
        else {
            fprintf(stderr, "%s ctl: bad option %s '%s'\n", prog, o, v);
            return SG_EINVAL;
        }
    }
    if (!a->connect || !a->cluster_key || !a->genesis || !a->cmd ||
        (strcmp(a->cmd, "stats") && strcmp(a->cmd, "shutdown") && strcmp(a->cmd, "log") &&
         strcmp(a->cmd, "store-read") && strcmp(a->cmd, "mining")) ||
        (strcmp(a->cmd, "mining") == 0 &&
         (!a->mining || (strcmp(a->mining, "on") && strcmp(a->mining, "off"))))) {
        fprintf(stderr, "%s ctl: usage: %s ctl --connect HOST:PORT --cluster-key FILE "
                "--genesis FILE [--timeout-ms N] stats|shutdown|log [--level L]|store-read "
                "[--offset N] (blocks.dat from N, raw on stdout)|mining on|off\n", prog, prog);
        return SG_EINVAL;
    }
    return 0;
}

int daemon_tool_ctl(const char *prog, int argc, char **argv)
{
    ctl_args a = { 0 };
    chain_params p;
    uint8_t ckey[32], chain_id[32];
    ctl *c = NULL;
    int bad_line = 0, rc;

    if (parse_ctl_args(prog, argc, argv, &a) != 0)
        return 2;
    if (daemon_cluster_key_load(a.cluster_key, ckey) != 0) {
        fprintf(stderr, "%s ctl: cannot read cluster key %s\n", prog, a.cluster_key);
        return 2;
    }
    rc = params_load(a.genesis, &p, &bad_line);
    if (rc != 0) {
        fprintf(stderr, "%s ctl: cannot load genesis %s: %s (line %d)\n", prog, a.genesis,
                sg_strerror(rc), bad_line);
        params_free(&p);
        return 2;
    }
    params_chain_id(&p, chain_id);
    params_free(&p);
    ctl_auth auth = { .cluster_key = ckey, .chain_id = chain_id, .name = "ctl" };
    rc = ctl_connect_addr(&c, a.connect, &auth, (int)a.timeout_ms);
    if (rc != 0) {
        fprintf(stderr, "%s ctl: cannot connect to %s: %s\n", prog, a.connect, sg_strerror(rc));
        return 1;
    }
    if (strcmp(a.cmd, "stats") == 0)
        rc = ctl_print_stats(c, (int)a.timeout_ms);
    else if (strcmp(a.cmd, "shutdown") == 0)
        rc = ctl_shutdown(c, (int)a.timeout_ms);
    else if (strcmp(a.cmd, "store-read") == 0)
        rc = ctl_dump_store(c, a.offset, (int)a.timeout_ms);
    else if (strcmp(a.cmd, "mining") == 0)
        rc = ctl_set_mining(c, strcmp(a.mining, "on") == 0, (int)a.timeout_ms);
    else
        rc = ctl_follow_log(c, a.level, (int)a.timeout_ms);
    ctl_close(c);
    if (rc != 0) {
        fprintf(stderr, "%s ctl: %s failed: %s\n", prog, a.cmd, sg_strerror(rc));
        return 1;
    }
    return 0;
}
