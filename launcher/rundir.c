/*
 * rundir.c - writing and reading the run directory; see rundir.h.
 */
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/core/role.h"
#include "common/link/keys.h"
#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/asert.h"
#include "common/core/pow.h"

#define OPERATOR_FUNDS_FACTOR 100    /* the grid pays feed-in out of this */

static int path_fmt(char *out, size_t cap, const char *dir, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, a, b);
    return n < 0 || (size_t)n >= cap ? SG_ETOOBIG : 0;
}

int rundir_plan(fleet *f, const launcher_opts *o, const char *dir)
{
    size_t n = 1 + (size_t)o->prosumers + o->consumers;
    f->nodes = calloc(n, sizeof *f->nodes);
    if (!f->nodes)
        return SG_ENOMEM;
    f->n = n;
    for (size_t i = 0; i < n; i++) {
        fleet_node *nd = &f->nodes[i];
        if (i == 0) {
            nd->role = ROLE_OPERATOR;
            snprintf(nd->name, sizeof nd->name, "op");
        } else if (i <= o->prosumers) {
            nd->role = ROLE_PROSUMER;
            snprintf(nd->name, sizeof nd->name, "p%zu", i);
        } else {
            nd->role = ROLE_CONSUMER;
            snprintf(nd->name, sizeof nd->name, "c%zu", i - o->prosumers);
        }
        nd->port = (uint16_t)(o->base_port + i);
        nd->hashrate = launcher_opts_hashrate(o, nd->name);
        nd->adversary = launcher_opts_adversary(o, nd->name);
        nd->backoff_ms = FLEET_BACKOFF_MIN_MS;
        if (path_fmt(nd->key_path, PATH_MAX, dir, "keys/", nd->name) ||
            path_fmt(nd->data_dir, PATH_MAX, dir, "data/", nd->name) ||
            path_fmt(nd->log_path, PATH_MAX, dir, "logs/", nd->name) ||
            path_fmt(nd->out_path, PATH_MAX, dir, "logs/", nd->name))
            return SG_ETOOBIG;
        strcat(nd->key_path, ".key");
        strcat(nd->log_path, ".log");
        strcat(nd->out_path, ".out");
    }
    if (f->hosts) {
        /* --hosts: each daemon listens on its host's address. */
        size_t *at = calloc(n, sizeof *at);
        if (!at)
            return SG_ENOMEM;
        hosts_assign(&(host_list){ .h = (host_entry *)f->hosts, .n = f->n_hosts }, n, at);
        for (size_t i = 0; i < n; i++) {
            f->nodes[i].host = (int)at[i];
            snprintf(f->nodes[i].addr, sizeof f->nodes[i].addr, "%s", f->hosts[at[i]].addr);
        }
        free(at);
    }
    if (path_fmt(f->cluster_key_path, PATH_MAX, dir, "cluster.key", "") ||
        path_fmt(f->genesis_path, PATH_MAX, dir, "genesis.txt", ""))
        return SG_ETOOBIG;
    return 0;
}

static int mkdirs(const char *dir, char *err, size_t cap)
{
    static const char *const subs[] = { "", "/keys", "/data", "/logs" };
    char p[PATH_MAX];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", dir, subs[i]);
        if (mkdir(p, 0700) != 0 && !(i > 0 && errno == EEXIST)) {
            snprintf(err, cap, "cannot create run directory %s: %s; pick a new --run-dir",
                     p, strerror(errno));
            return SG_EIO;
        }
    }
    return 0;
}

/* report.c reads run.json back with jansson, so strings are escaped as JSON
 * wants them (and must be UTF-8, as paths and names here are). */
static void json_str(FILE *f, const char *key, const char *v, int comma)
{
    fprintf(f, "  \"%s\": \"", key);
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fprintf(f, "\"%s\n", comma ? "," : "");
}

static void json_u(FILE *f, const char *key, unsigned long long v)
{
    fprintf(f, "  \"%s\": %llu,\n", key, v);
}

static void json_str_or_null(FILE *f, const char *key, const char *v)
{
    if (v)
        json_str(f, key, v, 1);
    else
        fprintf(f, "  \"%s\": null,\n", key);
}

static char *run_json(const fleet *fl, const launcher_opts *o, const char *dir,
                      const char *run_id)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "{\n");
    json_str(f, "run_id", run_id, 1);
    json_str(f, "run_dir", dir, 1);
    json_u(f, "prosumers", o->prosumers);
    json_u(f, "consumers", o->consumers);
    json_u(f, "operators", o->operators);
    json_u(f, "difficulty", o->difficulty);
    json_u(f, "block_interval_ms", o->block_interval_ms);
    json_u(f, "retarget_halflife_ms", o->retarget_halflife_ms ? o->retarget_halflife_ms
                 : o->block_interval_ms ? asert_default_halflife_ms(o->block_interval_ms) : 0);
    json_u(f, "duration", o->duration);
    fprintf(f, "  \"use_gpu\": %s,\n", o->use_gpu ? "true" : "false");
    json_str(f, "db_host", o->db_host, 1);
    json_u(f, "db_port", o->db_port);
    json_str(f, "db_user", o->db_user, 1);
    json_str(f, "db_name", o->db_name, 1);
    json_u(f, "seed", o->seed);
    json_u(f, "base_port", o->base_port);
    json_u(f, "tick_ms", o->tick_ms);
    fprintf(f, "  \"tick\": %u.%03u,\n", o->tick_ms / 1000, o->tick_ms % 1000);
    json_u(f, "interval_minutes", o->interval_minutes);
    json_u(f, "sim_start", o->sim_start);
    if (o->battery_given)
        fprintf(f, "  \"battery_kwh\": %llu.%03llu,\n",
                (unsigned long long)(o->battery_wh / 1000),
                (unsigned long long)(o->battery_wh % 1000));
    else
        fprintf(f, "  \"battery_kwh\": null,\n");
    json_str_or_null(f, "pv_profile", o->pv_profile);
    json_str_or_null(f, "load_profile", o->load_profile);
    json_str(f, "market", params_market_name(o->market_rule), 1);
    json_u(f, "retail_price", o->retail_price);
    json_u(f, "feed_in_price", o->feed_in_price);
    json_u(f, "block_reward", o->block_reward);
    json_u(f, "initial_balance", o->initial_balance);
    json_u(f, "operator_balance", o->initial_balance * OPERATOR_FUNDS_FACTOR);
    json_u(f, "mining_threads", o->mining_threads);
    json_u(f, "hashrate", o->hashrate);
    json_str(f, "log_level", o->log_level, 1);
    json_str_or_null(f, "scenario", o->scenario);
    fprintf(f, "  \"nodes\": [\n");
    for (size_t i = 0; i < fl->n; i++) {
        char pk[65];
        hash_hex(fl->nodes[i].pk, 32, pk);
        fprintf(f, "    {\"name\": \"%s\", \"role\": \"%s\", \"port\": %u, \"pubkey\": \"%s\", "
                "\"hashrate\": %llu}%s\n", fl->nodes[i].name, role_name(fl->nodes[i].role),
                fl->nodes[i].port, pk, (unsigned long long)fl->nodes[i].hashrate,
                i + 1 < fl->n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f)
        return SG_EIO;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? SG_EIO : 0;
}

static int write_nodes_tsv(const fleet *fl, const char *dir)
{
    char *buf = NULL, pk[65];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return SG_ENOMEM;
    for (size_t i = 0; i < fl->n; i++) {
        hash_hex(fl->nodes[i].pk, 32, pk);
        fprintf(f, "%s\t%s\t%u\t%s\t%s\n", fl->nodes[i].name,
                role_name(fl->nodes[i].role), fl->nodes[i].port, pk,
                fleet_addr(fl, i));
    }
    if (fclose(f) != 0) {
        free(buf);
        return SG_EIO;
    }
    int rc = write_file(dir, "nodes.tsv", buf);
    free(buf);
    return rc;
}

static int make_genesis(fleet *fl, const launcher_opts *o, chain_params *p)
{
    params_init_defaults(p);
    p->genesis_time = (uint64_t)time(NULL);
    if (pow_difficulty_to_bits((int)o->difficulty, &p->bits) != 0)
        return SG_EINVAL;
    p->block_interval_ms = o->block_interval_ms;
    p->retarget_halflife_ms = o->retarget_halflife_ms;
    if (p->block_interval_ms != 0 && p->retarget_halflife_ms == 0)
        p->retarget_halflife_ms = asert_default_halflife_ms(p->block_interval_ms);
    p->block_reward = o->block_reward;
    p->tick_ms = o->tick_ms;
    p->sim_start = o->sim_start;
    p->interval_minutes = o->interval_minutes;
    p->market_rule = o->market_rule;
    p->retail_price = o->retail_price;
    p->feed_in_price = o->feed_in_price;
    p->seed = o->seed;
    memcpy(p->operator_key, fl->nodes[0].pk, 32);
    p->allocs = calloc(fl->n, sizeof *p->allocs);
    if (!p->allocs)
        return SG_ENOMEM;
    for (size_t i = 0; i < fl->n; i++) {
        memcpy(p->allocs[i].pubkey, fl->nodes[i].pk, 32);
        p->allocs[i].balance = i == 0 ? o->initial_balance * OPERATOR_FUNDS_FACTOR
                                      : o->initial_balance;
    }
    p->n_allocs = (uint32_t)fl->n;
    return params_save(fl->genesis_path, p);
}

/* --scenario: a copy beside the run, so the run directory alone repeats
 * the experiment (with run.json's seed). */
static int copy_scenario(const char *from, const char *dir)
{
    char p[PATH_MAX], buf[4096];
    size_t n;
    int bad = 0;
    snprintf(p, sizeof p, "%s/scenario.txt", dir);
    FILE *in = fopen(from, "r"), *out = in ? fopen(p, "w") : NULL;
    if (!in || !out) {
        if (in)
            fclose(in);
        return SG_EIO;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        bad |= fwrite(buf, 1, n, out) != n;
    bad |= ferror(in);
    fclose(in);
    bad |= fclose(out) != 0;
    return bad ? SG_EIO : 0;
}

int rundir_create(fleet *f, const launcher_opts *o, const char *dir, const char *run_id,
                  chain_params *params, char **json_out, char *err, size_t errcap)
{
    uint8_t sk[64];
    int rc = mkdirs(dir, err, errcap);
    if (rc != 0)
        return rc;
    params_init_defaults(params);
    rc = keys_cluster_create(f->cluster_key_path, f->cluster_key);
    for (size_t i = 0; rc == 0 && i < f->n; i++)
        rc = keys_identity_create(f->nodes[i].key_path, sk, f->nodes[i].pk);
    memset(sk, 0, sizeof sk);
    if (rc != 0) {
        snprintf(err, errcap, "cannot write keys in %s: %s", dir, strerror(errno));
        return rc;
    }
    rc = make_genesis(f, o, params);
    if (rc != 0) {
        snprintf(err, errcap, "cannot write %s: %s", f->genesis_path, sg_strerror(rc));
        return rc;
    }
    params_chain_id(params, f->chain_id);
    *json_out = run_json(f, o, dir, run_id);
    if (!*json_out || write_file(dir, "run.json", *json_out) != 0 ||
        write_nodes_tsv(f, dir) != 0) {
        snprintf(err, errcap, "cannot write run.json / nodes.tsv in %s: %s", dir,
                 strerror(errno));
        return SG_EIO;
    }
    if (o->scenario && copy_scenario(o->scenario, dir) != 0) {
        snprintf(err, errcap, "cannot copy --scenario %s into %s: %s", o->scenario, dir,
                 strerror(errno));
        return SG_EIO;
    }
    return 0;
}

static int load_nodes(fleet *f, const char *dir)
{
    char p[PATH_MAX], line[256], name[sizeof f->nodes[0].name], role[32], pk[80], addr[64];
    unsigned port;
    int r;
    snprintf(p, sizeof p, "%s/nodes.tsv", dir);
    FILE *in = fopen(p, "r");
    if (!in)
        return SG_EIO;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, in)) {
        /* The fifth field, the address, came with --hosts. */
        addr[0] = '\0';
        if (sscanf(line, "%31s %31s %u %79s %63s", name, role, &port, pk, addr) < 4 ||
            role_parse(role, &r) != 0 ||
            port == 0 || port > 65535) {
            rc = SG_EINVAL;
            break;
        }
        fleet_node *nn = realloc(f->nodes, (f->n + 1) * sizeof *nn);
        if (!nn) {
            rc = SG_ENOMEM;
            break;
        }
        f->nodes = nn;
        fleet_node *nd = &f->nodes[f->n++];
        memset(nd, 0, sizeof *nd);
        snprintf(nd->name, sizeof nd->name, "%s", name);
        nd->role = r;
        nd->port = (uint16_t)port;
        snprintf(nd->addr, sizeof nd->addr, "%s", addr);
        if (strlen(pk) != 64 || hash_unhex(pk, nd->pk, 32) != 0)
            rc = SG_EINVAL;
    }
    fclose(in);
    return rc != 0 ? rc : f->n == 0 ? SG_EINVAL : 0;
}

int rundir_load(fleet *f, const char *dir, char *err, size_t errcap)
{
    chain_params p;
    int bad_line = 0;
    memset(f, 0, sizeof *f);
    if (load_nodes(f, dir) != 0) {
        snprintf(err, errcap, "%s/nodes.tsv is missing or malformed; give the directory of "
                 "a run with --run", dir);
        return SG_EINVAL;
    }
    snprintf(f->cluster_key_path, PATH_MAX, "%s/cluster.key", dir);
    snprintf(f->genesis_path, PATH_MAX, "%s/genesis.txt", dir);
    if (keys_cluster_load(f->cluster_key_path, f->cluster_key) != 0) {
        snprintf(err, errcap, "cannot read %s", f->cluster_key_path);
        return SG_EIO;
    }
    int rc = params_load(f->genesis_path, &p, &bad_line);
    if (rc == 0)
        params_chain_id(&p, f->chain_id);
    params_free(&p);
    if (rc != 0) {
        snprintf(err, errcap, "cannot load %s: %s", f->genesis_path, sg_strerror(rc));
        return rc;
    }
    return 0;
}

int rundir_latest(char *out, size_t cap)
{
    DIR *d = opendir("runs");
    struct dirent *e;
    char best[256] = "";
    if (!d)
        return SG_ENOTFOUND;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof best)
            continue;
        if (strcmp(e->d_name, best) > 0)
            strcpy(best, e->d_name);
    }
    closedir(d);
    if (!best[0])
        return SG_ENOTFOUND;
    return (size_t)snprintf(out, cap, "runs/%s", best) >= cap ? SG_ETOOBIG : 0;
}

void rundir_free(fleet *f)
{
    fleet_close_ctl(f);
    free(f->nodes);
    f->nodes = NULL;
    f->n = 0;
}
