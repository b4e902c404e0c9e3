/*
 * daemon_opts.c - the daemons' command line: one table of options drives
 * both the parsing and the check that a name is an option; see daemon.h.
 */
#include "common/daemon/daemon.h"

#include <stdio.h>
#include <string.h>

#include "common/base/err.h"
#include "common/base/units.h"
#include "common/core/adv_role.h"
#include "common/daemon/miner.h"
#include "common/link/loglevel.h"
#include "kernels/kern.h"
#include "proto/msg.h"

/* Bounds written once: as numbers in the table and in words in its fix. */
#define STR_(x) #x
#define STR(x) STR_(x)

typedef enum {
    T_FLAG,      /* int set to 1; takes no value */
    T_ROLE,      /* sgnode only: prosumer or consumer */
    T_LISTEN,    /* HOST:PORT or "none" (NULL) */
    T_PEER,      /* HOST:PORT, repeatable */
    T_ADDR,      /* HOST:PORT */
    T_STR,       /* lo to hi characters */
    T_U32,       /* a number from lo to hi */
    T_MILLI,     /* a decimal with up to 3 places, in thousandths from lo to hi */
    T_RATE,      /* a rate with an optional k, M or G, from lo to hi */
    T_LEVEL,     /* a log level name */
    T_IMPL,      /* "auto" or a kernel's name */
    T_PORT,      /* a port from lo to hi, on 127.0.0.1 */
    T_ADV,       /* adversary roles, comma-separated (adv_role.h) */
} opt_type;

typedef struct {
    const char *name;
    opt_type type;
    size_t off;                 /* field in daemon_opts */
    uint64_t lo, hi;
    const char *expect;         /* the fix, in words */
} opt_def;

#define F(field) offsetof(daemon_opts, field)

static const opt_def opt_table[] = {
    { "--role", T_ROLE, F(role), 0, 0, "prosumer or consumer" },
    { "--listen", T_LISTEN, F(listen), 0, 0, "HOST:PORT (or 'none')" },
    { "--peer", T_PEER, 0, 0, 0, "HOST:PORT" },
    { "--data-dir", T_STR, F(data_dir), 1, SIZE_MAX, "a file name" },
    { "--key", T_STR, F(key_path), 1, SIZE_MAX, "a file name" },
    { "--cluster-key", T_STR, F(cluster_key_path), 1, SIZE_MAX, "a file name" },
    { "--genesis", T_STR, F(genesis_path), 1, SIZE_MAX, "a file name" },
    { "--log", T_STR, F(log_path), 1, SIZE_MAX, "a file name" },
    { "--log-level", T_LEVEL, F(log_level), 0, 0, "debug, info, warn or error" },
    { "--name", T_STR, F(name), 1, PROTO_NAME_MAX,
      "a name of 1 to " STR(PROTO_NAME_MAX) " characters" },
    { "--mining-threads", T_U32, F(mining_threads), 1, MINER_MAX_THREADS,
      "a thread count from 1 to " STR(MINER_MAX_THREADS) },
    { "--hashrate", T_RATE, F(hashrate), 0, UNITS_HASHRATE_MAX,
      "hashes per second with an optional k, M or G (e.g. 2M, 1.5M; 0 = uncapped; "
      "at most 1000G)" },
    { "--impl", T_IMPL, F(impl), 0, 0, "auto, avx512, avx2, shani, generic, openssl or cuda" },
    { "--reconnect-max-ms", T_U32, F(reconnect_max_ms), 100, 3600000,
      "milliseconds from 100 to 3600000" },
    { "--ban-secs", T_U32, F(ban_secs), 1, 604800, "seconds from 1 to 604800" },
    { "--stall-ms", T_U32, F(stall_ms), 100, 600000, "milliseconds from 100 to 600000" },
    { "--max-block-txs", T_U32, F(max_block_txs), 1, PROTO_BLOCK_MAX_TXS,
      "a transaction count from 1 to " STR(PROTO_BLOCK_MAX_TXS) " (coinbase included)" },
    { "--battery-kwh", T_MILLI, F(battery_wh), 0, 1000000000,
      "kWh from 0 to 1000000 (up to 3 decimals)" },
    { "--pv-profile", T_STR, F(pv_profile_path), 1, SIZE_MAX, "a file name" },
    { "--load-profile", T_STR, F(load_profile_path), 1, SIZE_MAX, "a file name" },
    { "--metrics-port", T_PORT, F(metrics_listen), 0, 65535, "a port from 0 to 65535" },
    { "--metrics-listen", T_ADDR, F(metrics_listen), 0, 0, "HOST:PORT" },
    { "--adversary", T_ADV, F(adversary), 0, 0,
      "ROLE[,ROLE...] with ROLE one of " ADV_ROLE_NAMES },
    { "--spam-rate", T_U32, F(spam_rate), 0, 1000, "transactions per second from 0 to 1000" },
    { "--spam-malformed-after", T_U32, F(spam_malformed_after_s), 0, 86400,
      "seconds from 0 to 86400" },
    { "--double-spend-every", T_U32, F(double_spend_every_s), 1, 86400,
      "seconds from 1 to 86400" },
    { "--use-gpu", T_FLAG, F(use_gpu), 0, 0, NULL },
    { "--no-mine", T_FLAG, F(no_mine), 0, 0, NULL },
    { "--no-discover", T_FLAG, F(no_discover), 0, 0, NULL },
    { "--stop-on-stdin-eof", T_FLAG, F(stop_on_stdin_eof), 0, 0, NULL },
};

static const opt_def *find_opt(const char *name)
{
    for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++)
        if (strcmp(opt_table[i].name, name) == 0)
            return &opt_table[i];
    return NULL;
}

static int hostport_ok(const char *s)
{
    uint16_t port;
    return units_parse_hostport(s, NULL, 0, &port) == 0;
}

/* Strings and numbers; SG_EINVAL when v is not what d expects. */
static int set_plain(daemon_opts *o, const opt_def *d, const char *v)
{
    void *field = (char *)o + d->off;
    uint32_t u;
    size_t len = strlen(v);
    kern_impl ki;
    switch (d->type) {
    case T_ADDR:
        if (!hostport_ok(v))
            return SG_EINVAL;
        *(const char **)field = v;
        return 0;
    case T_STR:
        if (len < d->lo || len > d->hi)
            return SG_EINVAL;
        *(const char **)field = v;
        return 0;
    case T_U32:
        return units_parse_u32(v, (uint32_t)d->lo, (uint32_t)d->hi, (uint32_t *)field);
    case T_MILLI:
        return units_parse_milli(v, d->lo, d->hi, (uint64_t *)field);
    case T_RATE:
        return units_parse_rate(v, d->lo, d->hi, (uint64_t *)field);
    case T_LEVEL:
        return log_level_parse(v, (int *)field);
    case T_IMPL:
        if (strcmp(v, "auto") != 0 && kern_impl_from_name(v, &ki) != 0)
            return SG_EINVAL;
        *(const char **)field = v;
        return 0;
    case T_PORT:
        if (units_parse_u32(v, (uint32_t)d->lo, (uint32_t)d->hi, &u) != 0)
            return SG_EINVAL;
        snprintf(o->metrics_listen_buf, sizeof o->metrics_listen_buf, "127.0.0.1:%u", u);
        *(const char **)field = o->metrics_listen_buf;
        return 0;
    case T_ADV:              /* repeatable: the roles add up */
        if (adv_parse_roles(v, &u) != 0)
            return SG_EINVAL;
        *(unsigned *)field |= u;
        return 0;
    default:
        return SG_EINVAL;
    }
}

/* One option with its value; SG_EINVAL with err set when it is refused. */
static int set_value(daemon_opts *o, int fixed_role, const opt_def *d, const char *v,
                     char *err, size_t cap)
{
    int r;
    switch (d->type) {
    case T_ROLE:
        if (fixed_role) {
            snprintf(err, cap, "--role is not an option of %s", o->prog);
            return SG_EINVAL;
        }
        if (role_parse(v, &r) != 0 || r == ROLE_OPERATOR)
            break;
        o->role = r;
        return 0;
    case T_LISTEN:
        if (strcmp(v, "none") != 0 && !hostport_ok(v))
            break;
        o->listen = strcmp(v, "none") == 0 ? NULL : v;
        return 0;
    case T_PEER:
        if (!hostport_ok(v))
            break;
        if (o->n_peers == DAEMON_MAX_PEERS) {
            snprintf(err, cap, "--peer given more than %d times", DAEMON_MAX_PEERS);
            return SG_EINVAL;
        }
        o->peers[o->n_peers++] = v;
        return 0;
    default:
        if (set_plain(o, d, v) == 0)
            return 0;
    }
    snprintf(err, cap, "%s expects %s, got '%s'", d->name, d->expect, v);
    return SG_EINVAL;
}

static void set_defaults(daemon_opts *o, const char *prog, int fixed_role)
{
    memset(o, 0, sizeof *o);
    o->prog = prog;
    o->role = fixed_role;
    o->listen = DAEMON_DEFAULT_LISTEN;
    o->log_level = LOG_LEVEL_INFO;
    o->mining_threads = 1;
    o->max_block_txs = DAEMON_TEMPLATE_TXS;
    o->impl = "auto";
    o->spam_rate = DAEMON_SPAM_RATE;
    o->spam_malformed_after_s = DAEMON_SPAM_MALFORMED_AFTER_S;
    o->double_spend_every_s = DAEMON_DOUBLE_SPEND_EVERY_S;
}

int daemon_parse_opts(daemon_opts *o, const char *prog, int fixed_role,
                      int argc, char **argv, char *err, size_t errcap)
{
    set_defaults(o, prog, fixed_role);
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *a = argv[i], *eq = strchr(a, '='), *v;
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (strncmp(a, "--", 2) != 0 || nlen >= sizeof name) {
            snprintf(err, errcap, "unexpected argument '%s' (see --help)", a);
            return SG_EINVAL;
        }
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        const opt_def *d = find_opt(name);
        if (!d) {
            snprintf(err, errcap, "unknown option '%s' (see --help)", name);
            return SG_EINVAL;
        }
        if (d->type == T_FLAG) {
            if (eq) {
                snprintf(err, errcap, "%s takes no value", name);
                return SG_EINVAL;
            }
            *(int *)(void *)((char *)o + d->off) = 1;
            continue;
        }
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            snprintf(err, errcap, "%s expects a value", name);
            return SG_EINVAL;
        }
        if (set_value(o, fixed_role, d, v, err, errcap) != 0)
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
    if (o->role != ROLE_PROSUMER && (o->battery_wh || o->pv_profile_path)) {
        snprintf(err, errcap, "%s applies to prosumers only",
                 o->battery_wh ? "--battery-kwh" : "--pv-profile");
        return SG_EINVAL;
    }
    if (o->role == ROLE_OPERATOR &&
        (o->adversary & (ADV_DOUBLE_SPENDER | ADV_MANIPULATOR | ADV_SPAMMER))) {
        snprintf(err, errcap, "--adversary double-spender, manipulator and spammer apply to "
                 "prosumers and consumers, not the operator");
        return SG_EINVAL;
    }
    if (o->role == ROLE_OPERATOR && o->load_profile_path) {
        snprintf(err, errcap, "--load-profile applies to prosumers and consumers only");
        return SG_EINVAL;
    }
    return 0;
}
