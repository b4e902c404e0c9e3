/*
 * tools.c - the daemons' tool subcommands: keygen, cluster-key, genesis and
 * ctl, which set up and drive a cluster without the launcher; see daemon.h.
 */
#include "common/daemon/daemon.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/err.h"
#include "common/core/adv_role.h"
#include "common/base/units.h"
#include "common/core/asert.h"
#include "common/core/hash.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/link/ctl.h"
#include "common/link/keys.h"
#include "common/link/loglevel.h"

/* Any unsigned 64-bit number: amounts, times, seeds, offsets. */
static int parse_u64(const char *s, uint64_t *out)
{
    return units_parse_u64(s, strlen(s), 0, UINT64_MAX, out);
}

static int hostport_ok(const char *s)
{
    uint16_t port;
    return units_parse_hostport(s, NULL, 0, &port) == 0;
}

/* ---- keys ---------------------------------------------------------------- */

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
    if (keys_identity_create(out, sk, pk) != 0) {
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
    if (keys_cluster_create(out, key) != 0) {
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
    if (strcmp(opt, "--tick-ms") == 0)
        return units_parse_u32(v, 1, 86400000, &p->tick_ms);
    if (strcmp(opt, "--interval-minutes") == 0)
        return units_parse_u32(v, 1, 1440, &p->interval_minutes);
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
    return params_market_parse(v, strlen(v), &p->market_rule);
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
        if (units_parse_u32(v, 1, 63, &u) != 0 || pow_difficulty_to_bits((int)u, &p->bits) != 0)
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
        { "--market", PARAMS_MARKET_EXPECT },
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
                "[--start-time UNIX] [--market " PARAMS_MARKET_CHOICES "] "
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
    const char *arg;                 /* mining: "on" or "off"; adversary: a role */
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
            if (a->cmd && (!strcmp(a->cmd, "mining") || !strcmp(a->cmd, "adversary")) &&
                !a->arg) {
                a->arg = o;
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
                 units_parse_u32(v, 1, 3600000, &a->timeout_ms) == 0)
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
         strcmp(a->cmd, "store-read") && strcmp(a->cmd, "mining") &&
         strcmp(a->cmd, "adversary")) ||
        (strcmp(a->cmd, "mining") == 0 &&
         (!a->arg || (strcmp(a->arg, "on") && strcmp(a->arg, "off")))) ||
        (strcmp(a->cmd, "adversary") == 0 && !a->arg)) {
        fprintf(stderr, "%s ctl: usage: %s ctl --connect HOST:PORT --cluster-key FILE "
                "--genesis FILE [--timeout-ms N] stats|shutdown|log [--level L]|store-read "
                "[--offset N] (blocks.dat from N, raw on stdout)|mining on|off|adversary "
                "ROLE (switch a role on: " ADV_ROLE_NAMES ")\n", prog, prog);
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
    if (keys_cluster_load(a.cluster_key, ckey) != 0) {
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
        rc = ctl_set_mining(c, strcmp(a.arg, "on") == 0, (int)a.timeout_ms);
    else if (strcmp(a.cmd, "adversary") == 0)
        rc = ctl_adversary(c, a.arg, (int)a.timeout_ms);
    else
        rc = ctl_follow_log(c, a.level, (int)a.timeout_ms);
    ctl_close(c);
    if (rc != 0) {
        fprintf(stderr, "%s ctl: %s failed: %s\n", prog, a.cmd, sg_strerror(rc));
        return 1;
    }
    return 0;
}
