/*
 * sim.c - a whole run; see sim.h.
 *
 * One thread and one poll loop: a signalfd delivers SIGINT, SIGTERM and
 * SIGCHLD (blocked otherwise, so no handler and no global flag), and a tick
 * once a second reaps and restarts daemons, polls their statistics, reads
 * new blocks from their stores, queues database rows and redraws the view.
 * The database flushes on its own thread (db.h), so a slow server never
 * stalls supervision.
 */
#include "sim.h"
#include "common/core/adv_role.h"
#include "common/base/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/core/role.h"
#include "launcher/db/db.h"
#include "common/base/err.h"
#include "common/core/hash.h"
#include "fleet.h"
#include "hosts.h"
#include "ingest.h"
#include "report.h"
#include "rundir.h"
#include "scen_run.h"
#include "scenario.h"
#include "slurm.h"
#include "view.h"
#include "web.h"
#include "web_snap.h"

#define SIM_TICK_MS 1000
#define SIM_POLL_WAIT_MS 1000        /* a poll round waits this long for answers */
#define SIM_CONNECT_WAIT_MS 60000    /* all daemons connected, or go on anyway */
#define SIM_SETTLE_MS 12000          /* per shutdown step waiting for one tip */
#define SIM_STOP_GRACE_MS 10000      /* SIGTERM to SIGKILL, plus per daemon: */
#define SIM_STOP_GRACE_PER_MS 100    /* 200 daemons stopping at once share the CPU */
#define SIM_INGEST_BATCH 5000        /* records per store per tick */
#define SIM_RAMP_FACTOR 2            /* miners switched on per stage: 1, 2, 4, ... */
#define SIM_RAMP_STAGE_MS 60000      /* a stage's longest wait for a quiet chain */
#define SIM_RAMP_POLL_MS 250

typedef struct {
    launcher_opts *o;
    fleet f;
    chain_params params;
    int have_params;
    char dir[PATH_MAX], db_path[PATH_MAX], run_id[DB_RUNID_MAX];
    int64_t sim_stat_ms;             /* wall time of the last simulation_stats row */
    char battery_kwh[32];           /* --battery-kwh as the daemons get it */
    char *json;
    db *db;
    ingest *ing;
    int sfd;
    int tty;
    const char *phase;
    int64_t clock0_ms;              /* 0 until every daemon is connected */
    int64_t wall0_s;
    int interrupts;
    uint64_t restarts;
    char events[VIEW_EVENTS][192];
    int n_events;
    int db_warned;
    int stopping;                   /* daemon exits are expected */
    int64_t settle_target;
    host_list hosts;                /* --hosts or the Slurm nodes (empty without) */
    slurm_env slurm;                /* the allocation, when the run goes through Slurm */
    char slurm_tmpl[SLURM_TMPL_MAX]; /* its srun template; "" when it does not */
    int slurm_over;                 /* the job has ended: nothing restarts */
    web *web;                       /* --web: the live page (NULL: none) */
    web_snap *wsnap;
    scenario sc;                    /* --scenario, parsed in preflight */
    scen_run scen;                  /* applying it, once the run has an id */
    int have_scen;
} sim;

static void sim_event(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void publish_web(sim *s, int64_t now);

static void scen_note(void *ctx, const char *line)
{
    sim_event(ctx, "%s", line);
}

static void sim_event(sim *s, const char *fmt, ...)
{
    char line[640];                 /* whole on a line of its own; cut in the table */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s->n_events == VIEW_EVENTS) {
        memmove(s->events[0], s->events[1], sizeof s->events[0] * (VIEW_EVENTS - 1));
        s->n_events--;
    }
    size_t len = strnlen(line, sizeof s->events[0] - 1);
    memcpy(s->events[s->n_events], line, len);
    s->events[s->n_events++][len] = '\0';
    /* In a terminal the table shows it; otherwise it is a line of its own. */
    if (!s->tty && !s->o->quiet)
        printf("launcher: %s\n", line);
    else if (s->o->quiet)
        fprintf(stderr, "launcher: %s\n", line);
}

/* ---- checks before anything starts ---------------------------------------- */

static int port_free(uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    int one = 1, ok;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int find_binaries(sim *s, const char *argv0)
{
    char self[PATH_MAX], dirbuf[PATH_MAX];
    const char *dir = s->o->bin_dir;
    if (!dir) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            snprintf(self, sizeof self, "%s", argv0);
        else
            self[n] = '\0';
        snprintf(dirbuf, sizeof dirbuf, "%s", self);
        dir = dirname(dirbuf);
    }
    if ((size_t)snprintf(s->f.sgnode, PATH_MAX, "%s/sgnode", dir) >= PATH_MAX ||
        (size_t)snprintf(s->f.sgoperator, PATH_MAX, "%s/sgoperator", dir) >= PATH_MAX)
        return SG_ETOOBIG;
    if (access(s->f.sgnode, X_OK) != 0 || access(s->f.sgoperator, X_OK) != 0) {
        fprintf(stderr, "launcher: cannot find sgnode and sgoperator in %s; run make, or "
                "pass --bin-dir DIR\n", dir);
        return SG_ENOTFOUND;
    }
    return 0;
}

static void make_run_id(sim *s)
{
    time_t now = time(NULL);
    struct tm tm;
    unsigned char r[2];
    char stamp[32];
    FILE *u = fopen("/dev/urandom", "r");
    if (!u || fread(r, 1, 2, u) != 2) {
        r[0] = (unsigned char)getpid();
        r[1] = (unsigned char)(getpid() >> 8);
    }
    if (u)
        fclose(u);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(s->run_id, sizeof s->run_id, "%s-%02x%02x", stamp, r[0], r[1]);
}

/* The spill file (rows kept through a database outage) belongs to the run,
 * in its directory, never in the working directory. */
static int open_db(sim *s, char *err, size_t cap)
{
    char spill[PATH_MAX + 16];
    snprintf(spill, sizeof spill, "%s/db.spill", s->dir);
    db_config c = {
        .sqlite_path = s->db_path, .host = s->o->db_host, .port = s->o->db_port,
        .user = s->o->db_user, .password = s->o->db_password, .name = s->o->db_name,
        .flush_thread = 1, .flush_ms = 1000, .spill_path = spill,
    };
    return db_open(&s->db, &c, err, cap);
}

/* Before any file is made: the server answers, the credentials work and the
 * database holds no tables of our names that another program made. */
static int probe_db(sim *s, char *err, size_t cap)
{
    db_config c = {
        .host = s->o->db_host, .port = s->o->db_port, .user = s->o->db_user,
        .password = s->o->db_password, .name = s->o->db_name,
    };
    return db_probe(&c, err, cap);
}

/* Whether something accepts connections at addr:port (a remote host's
 * port is in use when it does). */
static int port_answers(const char *addr, uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
        return 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), ok = 0;
    if (fd < 0)
        return 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        ok = 1;
    } else if (errno == EINPROGRESS) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int e = 0;
        socklen_t el = sizeof e;
        if (poll(&p, 1, 1000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0)
            ok = e == 0;
    }
    close(fd);
    return ok;
}

/* --hosts: every host that gets a daemon answers, has the binaries, and
 * has the run's ports free on its address. */
static int check_hosts(sim *s)
{
    char err[512];
    size_t n = 1 + (size_t)s->o->prosumers + s->o->consumers;
    size_t *at = calloc(n, sizeof *at);
    const char *bins[] = { s->f.sgnode, s->f.sgoperator };
    int status = 0;
    if (!at)
        return 1;
    hosts_assign(&s->hosts, n, at);
    for (size_t k = 0; k < s->hosts.n && status == 0; k++) {
        const host_entry *h = &s->hosts.h[k];
        int used = 0;
        for (size_t i = 0; i < n; i++)
            used |= at[i] == k;
        if (!used || h->local)
            continue;
        int rc = s->slurm_tmpl[0] ? slurm_check(s->slurm_tmpl, h, bins, 2, err, sizeof err)
                                  : hosts_check(s->f.remote_shell, h, bins, 2, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "launcher: %s\n", err);
            status = 2;
        }
    }
    for (size_t i = 0; i < n && status == 0; i++) {
        const host_entry *h = &s->hosts.h[at[i]];
        uint16_t port = (uint16_t)(s->o->base_port + i);
        if (h->local ? !port_free(port) : port_answers(h->addr, port)) {
            fprintf(stderr, "launcher: host %s: port %u on %s is in use; pick another "
                    "--base-port (the run needs %zu ports from %u)\n", h->name, port,
                    h->addr, n, s->o->base_port);
            status = 2;
        }
    }
    free(at);
    return status;
}

/* --hosts: the hosts file, and the paths the fleet hands to remote hosts. */
static int load_hosts(sim *s)
{
    char err[512];
    slurm_env_get(&s->slurm);
    if (slurm_wanted(s->o->placement, s->o->hosts_file, &s->slurm)) {
        /* Slurm: the allocation's nodes, one srun step a daemon (slurm.h). */
        if (slurm_hosts(&s->slurm, &s->hosts, s->slurm_tmpl, sizeof s->slurm_tmpl, err,
                        sizeof err) != 0) {
            fprintf(stderr, "launcher: %s\n", err);
            return 2;
        }
    } else if (!s->o->hosts_file) {
        return 0;
    } else if (hosts_load(&s->hosts, s->o->hosts_file, err, sizeof err) != 0) {
        fprintf(stderr, "launcher: %s\n", err);
        return 2;
    }
    s->f.hosts = s->hosts.h;
    s->f.n_hosts = s->hosts.n;
    s->f.remote_shell = s->slurm_tmpl[0] ? s->slurm_tmpl : s->o->remote_shell;
    s->f.remote_dir = s->o->remote_dir;
    return 0;
}

/* --hosts: the run directory's path is handed to other hosts, so it is
 * absolute; local_dir is what --remote-dir replaces. */
static int absolute_dir(sim *s)
{
    char cwd[PATH_MAX], tmp[PATH_MAX];
    if (!s->f.hosts || s->dir[0] == '/')
        goto out;
    if (!getcwd(cwd, sizeof cwd) ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/%s", cwd, s->dir) >= sizeof tmp)
        return SG_ETOOBIG;
    memcpy(s->dir, tmp, sizeof tmp);
out:
    s->f.local_dir = s->dir;
    return 0;
}

/* --hosts: keys, cluster key and genesis to every remote host that runs a
 * daemon (only its own daemons' keys). */
static int push_hosts(sim *s)
{
    char err[512], dirs[4][PATH_MAX], rem[PATH_MAX], sub[PATH_MAX];
    static const char *const subs[] = { "", "/keys", "/data", "/logs" };
    size_t cap = s->f.n + 2, nf;
    const char **loc = calloc(cap, sizeof *loc), *dp[4];
    char (*rp)[PATH_MAX] = calloc(cap, sizeof *rp);
    const char **rpp = calloc(cap, sizeof *rpp);
    int rc = SG_ENOMEM;
    if (!loc || !rp || !rpp)
        goto out;
    for (size_t k = 0; k < s->hosts.n; k++) {
        const host_entry *h = &s->hosts.h[k];
        nf = 0;
        loc[nf++] = s->f.cluster_key_path;
        loc[nf++] = s->f.genesis_path;
        for (size_t i = 0; i < s->f.n; i++)
            if (s->f.nodes[i].host == (int)k)
                loc[nf++] = s->f.nodes[i].key_path;
        if (h->local || nf == 2)
            continue;
        rc = SG_ETOOBIG;
        for (size_t j = 0; j < nf; j++) {
            if (fleet_remote_path(&s->f, loc[j], rp[j], PATH_MAX) != 0)
                goto out;
            rpp[j] = rp[j];
        }
        if (fleet_remote_path(&s->f, s->dir, rem, sizeof rem) != 0)
            goto out;
        for (size_t j = 0; j < 4; j++) {
            if ((size_t)snprintf(sub, sizeof sub, "%s%s", rem, subs[j]) >= sizeof sub)
                goto out;
            memcpy(dirs[j], sub, sizeof sub);
            dp[j] = dirs[j];
        }
        rc = hosts_push(s->f.remote_shell, h, dp, 4, loc, rpp, nf, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "launcher: %s\n", err);
            goto out;
        }
    }
    rc = 0;
out:
    free(loc);
    free(rp);
    free(rpp);
    return rc;
}

/* --scenario: parsed and checked against the run's nodes (named as
 * rundir.c names them) and their placement. */
static int load_scenario(sim *s)
{
    size_t n = 1 + (size_t)s->o->prosumers + s->o->consumers;
    char (*names)[32] = calloc(n, sizeof *names), err[640];
    const char **np = calloc(n, sizeof *np);
    size_t *at = calloc(n, sizeof *at);
    uint8_t *remote = calloc(n, 1);
    int status = 1;
    if (!names || !np || !at || !remote)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (i == 0)
            snprintf(names[i], sizeof names[i], "op");
        else if (i <= s->o->prosumers)
            snprintf(names[i], sizeof names[i], "p%zu", i);
        else
            snprintf(names[i], sizeof names[i], "c%zu", i - s->o->prosumers);
        np[i] = names[i];
    }
    if (s->hosts.n) {
        hosts_assign(&s->hosts, n, at);
        for (size_t i = 0; i < n; i++)
            remote[i] = !s->hosts.h[at[i]].local;
    }
    scen_nodes nd = { np, n, s->o->seed, (int64_t)s->o->duration * 1000 };
    status = 2;
    if (scen_load(&s->sc, s->o->scenario, &nd, err, sizeof err) != 0 ||
        scen_check_remote(&s->sc, s->o->scenario, remote, np, err, sizeof err) != 0) {
        fprintf(stderr, "launcher: %s\n", err);
        goto out;
    }
    status = 0;
out:
    free(names);
    free(np);
    free(at);
    free(remote);
    return status;
}

/* No --tick: the default tick stretched so the busiest host can check
 * every order (launcher_auto_tick_ms); said aloud when it is not 1 s. */
static int pick_tick(sim *s)
{
    size_t n = 1 + (size_t)s->o->prosumers + s->o->consumers;
    uint64_t households = n - 1, worst = 0, busy = n, cores = 0;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (s->o->tick_opt)
        return 0;
    if (s->hosts.n == 0) {
        cores = online > 0 ? (uint64_t)online : 1;
        worst = launcher_auto_tick_ms(households, n, cores);
    } else {
        size_t *at = calloc(n, sizeof *at);
        if (!at)
            return 1;
        hosts_assign(&s->hosts, n, at);
        for (size_t k = 0; k < s->hosts.n; k++) {
            uint64_t here = 0, slots = s->hosts.h[k].slots ? s->hosts.h[k].slots : 1;
            for (size_t i = 0; i < n; i++)
                here += at[i] == k;
            uint64_t t = launcher_auto_tick_ms(households, here, slots);
            if (here && t >= worst) {
                worst = t;
                busy = here;
                cores = slots;
            }
        }
        free(at);
    }
    s->o->tick_ms = (uint32_t)worst;
    if (worst > 1000)
        fprintf(stderr, "launcher: tick %u.%u s, not 1 s: %llu households' orders checked "
                "by %llu daemons on %llu cores stay under %u a core a second "
                "(--tick 1 to insist)\n", (unsigned)(worst / 1000), (unsigned)(worst % 1000 / 100),
                (unsigned long long)households, (unsigned long long)busy,
                (unsigned long long)cores, LOPTS_CHECKS_PER_CORE);
    return 0;
}

/* Everything that can be refused as bad input, before any file is made. */
static int preflight(sim *s, const char *argv0)
{
    char err[DB_ERR_MAX];
    struct stat st;
    if (find_binaries(s, argv0) != 0 || load_hosts(s) != 0)
        return 2;
    if (pick_tick(s) != 0)
        return 1;
    if (s->o->scenario && load_scenario(s) != 0)
        return 2;
    if (s->o->run_dir && stat(s->o->run_dir, &st) == 0) {
        fprintf(stderr, "launcher: --run-dir %s exists already; give a new directory\n",
                s->o->run_dir);
        return 2;
    }
    if (s->o->db_host[0] && probe_db(s, err, sizeof err) != 0) {
        fprintf(stderr, "launcher: %s\n", err);
        return 2;
    }
    if (s->f.hosts)
        return check_hosts(s);
    for (uint32_t i = 0; i < 1 + s->o->prosumers + s->o->consumers; i++) {
        uint16_t port = (uint16_t)(s->o->base_port + i);
        if (!port_free(port)) {
            fprintf(stderr, "launcher: port %u on 127.0.0.1 is in use; pick another "
                    "--base-port (the run needs %u ports from %u)\n", port,
                    1 + s->o->prosumers + s->o->consumers, s->o->base_port);
            return 2;
        }
    }
    return 0;
}

/* ---- the run -------------------------------------------------------------- */

/* Ingest's reader for a daemon on another host, whose blocks.dat is not
 * here: the bytes come over the fleet's control link (STORE_READ). */
static int read_remote_store(void *ctx, size_t i, uint64_t offset, uint8_t *buf, size_t cap)
{
    return fleet_store_read(ctx, i, offset, buf, cap, clock_mono_ms());
}

static int setup(sim *s)
{
    char err[DB_ERR_MAX];
    int rc;
    make_run_id(s);
    if (s->o->run_dir) {
        snprintf(s->dir, sizeof s->dir, "%s", s->o->run_dir);
    } else {
        if (mkdir("runs", 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "launcher: cannot create runs/: %s; pass --run-dir DIR\n",
                    strerror(errno));
            return 2;
        }
        snprintf(s->dir, sizeof s->dir, "runs/%s", s->run_id);
    }
    if (absolute_dir(s) != 0) {
        fprintf(stderr, "launcher: run directory path too long; use a shorter --run-dir\n");
        return 2;
    }
    if ((size_t)snprintf(s->db_path, sizeof s->db_path, "%s/run.db", s->dir) >=
            sizeof s->db_path || rundir_plan(&s->f, s->o, s->dir) != 0) {
        fprintf(stderr, "launcher: run directory path too long; use a shorter --run-dir\n");
        return 2;
    }
    s->have_params = 1;
    rc = rundir_create(&s->f, s->o, s->dir, s->run_id, &s->params, &s->json, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "launcher: %s\n", err);
        return 2;
    }
    if (s->f.hosts && push_hosts(s) != 0)
        return 1;
    if (open_db(s, err, sizeof err) != 0) {
        fprintf(stderr, "launcher: %s\n", err);
        return 1;
    }
    if (ingest_new(&s->ing, &s->params, s->db, s->run_id) != 0)
        return 1;
    if (s->o->scenario) {
        if (scen_run_init(&s->scen, &s->sc, s->run_id, s->db, scen_note, s) != 0)
            return 1;
        s->have_scen = 1;
    }
    /* Before the table takes the screen: the seed repeats the run. */
    printf("launcher: run %s in %s, seed %llu\n", s->run_id, s->dir,
           (unsigned long long)s->o->seed);
    fflush(stdout);
    for (size_t i = 0; i < s->f.n; i++) {
        const fleet_node *n = &s->f.nodes[i];
        rc = fleet_is_remote(&s->f, i)
                 ? ingest_add_remote_node(s->ing, n->name, n->pk, read_remote_store, &s->f, i)
                 : ingest_add_node(s->ing, n->name, n->pk, n->data_dir);
        if (rc != 0)
            return 1;
    }
    return 0;
}

static void put_run(sim *s, int64_t ended_s)
{
    db_run r;
    memset(&r, 0, sizeof r);
    memcpy(r.run_id, s->run_id, sizeof r.run_id);
    r.started_at_s = s->wall0_s;
    r.ended_at_s = ended_s;
    r.params = s->json;
    r.seed = (int64_t)s->o->seed;
    r.prosumers = s->o->prosumers;
    r.consumers = s->o->consumers;
    r.operators = s->o->operators;
    r.difficulty = s->o->difficulty;
    r.duration_s = s->o->duration;
    r.tick_ms = s->o->tick_ms;
    snprintf(r.market_rule, sizeof r.market_rule, "%s", params_market_name(s->o->market_rule));
    r.use_gpu = s->o->use_gpu;
    r.hosts = s->hosts.n ? (int)s->hosts.n : 1;
    r.hashrate_cap = (int64_t)s->o->hashrate;
    r.block_interval_ms = s->params.block_interval_ms;
    r.retarget_halflife_ms = s->params.retarget_halflife_ms;
    db_put_run(s->db, &r);
}

static void put_node(sim *s, const fleet_node *n, int64_t wall_ms)
{
    db_node r;
    memset(&r, 0, sizeof r);
    memcpy(r.run_id, s->run_id, sizeof r.run_id);
    snprintf(r.name, sizeof r.name, "%s", n->name);
    snprintf(r.role, sizeof r.role, "%s", role_name(n->role));
    hash_hex(n->pk, 32, r.pubkey);
    snprintf(r.host, sizeof r.host, "%s", fleet_addr(&s->f, (size_t)(n - s->f.nodes)));
    r.port = n->port;
    r.balance = n->st.balance;
    r.reserved = n->st.reserved;
    r.sold_wh = n->st.sold_wh;
    r.bought_wh = n->st.bought_wh;
    r.grid_import_wh = n->st.grid_import_wh;
    r.grid_export_wh = n->st.grid_export_wh;
    r.produced_wh = n->st.produced_wh;
    r.consumed_wh = n->st.consumed_wh;
    r.height = n->st.height;
    r.updated_ms = wall_ms;
    r.hashrate_cap = (int64_t)n->hashrate;
    ingest_money m;
    ingest_node_money(s->ing, n->pk, &m);
    r.energy_paid = (int64_t)m.energy_paid;
    r.energy_received = (int64_t)m.energy_received;
    r.rewards = (int64_t)m.rewards;
    adv_roles_format(n->adversary, r.adversary, sizeof r.adversary);
    r.rejected_blocks = n->st.rejected_blocks;
    r.rejected_txs = n->st.rejected_txs;
    snprintf(r.banned_peers, sizeof r.banned_peers, "%s", n->st.banned_peers);
    r.adv_withheld = n->st.adv_withheld;
    r.adv_published = n->st.adv_published;
    r.adv_abandoned = n->st.adv_abandoned;
    r.adv_ds_pairs = n->st.adv_ds_pairs;
    r.adv_ds_won_a = n->st.adv_ds_won_a;
    r.adv_ds_won_b = n->st.adv_ds_won_b;
    r.adv_manip_orders = n->st.adv_manip_orders;
    r.adv_spam_valid = n->st.adv_spam_valid;
    r.adv_spam_malformed = n->st.adv_spam_malformed;
    r.adv_forged_settlements = n->st.adv_forged_settlements;
    r.blocks_mined = n->st.blocks_mined;
    db_put_node(s->db, &r);
}

/* Node i's transaction latency records into `transactions`: what its
 * control link brought since the last call (fleet_poll_round asks). */
static void put_txlat(sim *s, size_t i, int64_t wall_ms)
{
    proto_txlat m;
    db_txlat r;

    while (fleet_take_txlat(&s->f, i, &m)) {
        for (uint32_t k = 0; k < m.n; k++) {
            memset(&r, 0, sizeof r);
            snprintf(r.run_id, sizeof r.run_id, "%s", s->run_id);
            hash_to_hex_display(m.items[k].txid, r.txid);
            r.first_seen_ms = wall_ms;
            r.broadcast_ms = (int64_t)m.items[k].broadcast_ms;
            r.included_ms = (int64_t)m.items[k].included_ms;
            db_put_txlat(s->db, &r);
        }
        proto_txlat_free(&m);
    }
}

static void put_stat(sim *s, const fleet_node *n, int64_t wall_ms)
{
    db_node_stat r;
    memset(&r, 0, sizeof r);
    memcpy(r.run_id, s->run_id, sizeof r.run_id);
    snprintf(r.node, sizeof r.node, "%s", n->name);
    r.t_ms = wall_ms;
    r.height = n->st.height;
    r.peers = n->st.peers;
    r.hashrate = n->st.hashrate;
    r.mempool = n->st.mempool;
    r.stale = n->st.stale;
    r.orphans = n->st.orphans;
    r.balance = n->st.balance;
    r.loop_lag_ms = n->st.lag_ms;
    r.rejected_blocks = n->st.rejected_blocks;
    r.rejected_txs = n->st.rejected_txs;
    snprintf(r.tip, sizeof r.tip, "%s", n->st.tip);
    db_put_node_stat(s->db, &r);
}

/* The run's aggregate sample: the original's four figures and what else is
 * network-wide, from the best chain the launcher follows. */
static void put_sim_stat(sim *s, int64_t wall_ms)
{
    ingest_stats st;
    db_sim_stat r;
    ingest_get_stats(s->ing, &st);
    memset(&r, 0, sizeof r);
    memcpy(r.run_id, s->run_id, sizeof r.run_id);
    r.t_ms = wall_ms;
    r.total_energy_traded_wh = (int64_t)st.traded_wh;
    r.avg_energy_price = (int64_t)ingest_avg_price(&st);
    r.block_count = (int64_t)st.best_height;
    r.transaction_count = (int64_t)st.txs;
    r.stale_blocks = (int64_t)st.stale;
    r.trades = (int64_t)st.trades;
    r.intervals_settled = (int64_t)st.intervals;
    r.grid_import_wh = (int64_t)st.grid_import_wh;
    r.grid_export_wh = (int64_t)st.grid_export_wh;
    db_put_sim_stat(s->db, &r);
}

static void on_exit_cb(void *ctx, fleet_node *n)
{
    sim *s = ctx;
    int64_t now = clock_mono_ms();
    char note[64], msg[600];
    if (s->stopping)
        return;
    if (now - n->started_ms >= FLEET_STABLE_MS)
        n->backoff_ms = FLEET_BACKOFF_MIN_MS;
    n->restart_at_ms = now + n->backoff_ms;
    snprintf(note, sizeof note, "; restart %u in %u ms", n->restarts + 1, n->backoff_ms);
    fleet_exit_message(&s->f, (size_t)(n - s->f.nodes), note, msg, sizeof msg);
    sim_event(s, "%s", msg);
    n->backoff_ms = n->backoff_ms * 2 > FLEET_BACKOFF_MAX_MS ? FLEET_BACKOFF_MAX_MS
                                                            : n->backoff_ms * 2;
    n->have_stats = 0;
}

/* Slurm: a daemon's step also ends when the job does (scancel, time
 * limit); then no restart can start and the run stops instead. */
static int job_gone(sim *s)
{
    if (!s->slurm_over && (!s->slurm_tmpl[0] || slurm_job_running(s->slurm.job_id) != 0))
        return 0;
    if (!s->slurm_over)
        sim_event(s, "the Slurm job %s has ended; stopping", s->slurm.job_id);
    s->slurm_over = 1;
    s->interrupts++;
    return 1;
}

static void restart_due(sim *s, int64_t now)
{
    int checked = 0;
    for (size_t i = 0; i < s->f.n; i++) {
        fleet_node *n = &s->f.nodes[i];
        if (n->pid > 0 || n->restart_at_ms == 0 || now < n->restart_at_ms)
            continue;
        if (!checked++ && job_gone(s))
            return;
        if (fleet_spawn(&s->f, i, now) == 0) {
            n->restarts++;
            s->restarts++;
        } else {
            n->restart_at_ms = now + n->backoff_ms;
        }
    }
}

/* Waits for signals until `until` (monotonic ms); SIGCHLD reaps at once. */
static void wait_until(sim *s, int64_t until)
{
    for (;;) {
        int64_t now = clock_mono_ms();
        if (now >= until)
            return;
        struct pollfd p = { .fd = s->sfd, .events = POLLIN };
        int r = poll(&p, 1, (int)(until - now));
        if (r <= 0)
            continue;
        struct signalfd_siginfo si;
        while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo != SIGCHLD)
                s->interrupts++;
            else if (fleet_reap(&s->f, on_exit_cb, s) > 0)
                publish_web(s, clock_mono_ms());
        }
        if (s->interrupts)
            return;
    }
}

static void fill_header(sim *s, int64_t now, view_header *out)
{
    view_header h;
    memset(&h, 0, sizeof h);
    h.elapsed_ms = s->clock0_ms > 0 ? now - s->clock0_ms : 0;
    h.duration_s = s->o->duration;
    h.phase = s->phase;
    h.restarts = s->restarts;
    h.block_interval_ms = s->params.block_interval_ms;
    ingest_get_stats(s->ing, &h.ist);
    h.ing = s->ing;
    if (h.elapsed_ms > 0)
        h.tx_per_s = (double)h.ist.txs * 1000.0 / (double)h.elapsed_ms;
    for (int i = 0; i < s->n_events; i++)
        h.events[i] = s->events[i];
    *out = h;
}

/* --web: the page's snapshot, on every tick and at once when a daemon
 * exits. */
static void publish_web(sim *s, int64_t now)
{
    view_header h;
    size_t len = 0;
    if (!s->web)
        return;
    fill_header(s, now, &h);
    char *json = web_snap_build(s->wsnap, &s->f, s->ing, &h, s->run_id, now, clock_wall_ms(),
                                &len);
    if (json)
        web_publish(s->web, json, len);
    free(json);
}

static void render(sim *s, int64_t now)
{
    view_header h;
    fill_header(s, now, &h);
    publish_web(s, now);
    if (s->o->quiet)
        return;
    if (s->tty)
        view_table(stdout, &s->f, &h, 1);
    else
        view_line(stdout, &s->f, &h);
}

static void tick(sim *s, int show)
{
    int64_t now = clock_mono_ms(), wall = clock_wall_ms();
    fleet_reap(&s->f, on_exit_cb, s);
    restart_due(s, now);
    if (s->have_scen && s->clock0_ms > 0 && !s->stopping)
        scen_run_poll(&s->scen, &s->f, now - s->clock0_ms);
    /* A stopped daemon cannot answer: waiting for it would cost the whole
     * wait every tick. */
    for (size_t i = 0; i < s->f.n; i++)
        s->f.nodes[i].hold = s->have_scen && scen_run_is_stopped(&s->scen, i);
    /* Every daemon at once, each answer taken as it comes: one slow
     * daemon costs the tick at most SIM_POLL_WAIT_MS, not each the next. */
    fleet_poll_round(&s->f, now, SIM_POLL_WAIT_MS, 1);
    for (size_t i = 0; i < s->f.n; i++) {
        if (s->f.nodes[i].fresh) {
            put_stat(s, &s->f.nodes[i], wall);
            put_node(s, &s->f.nodes[i], wall);
        }
        put_txlat(s, i, wall);
    }
    /* Stamped when read, not when the tick began: the stats round trips
     * above can take a while, and first_seen_ms / settled_ms say when. */
    int rc = ingest_poll(s->ing, clock_wall_ms(), SIM_INGEST_BATCH);
    if (rc < 0)
        sim_event(s, "storing blocks failed: %s", sg_strerror(rc));
    if (wall - s->sim_stat_ms >= SIM_TICK_MS - 100) {
        put_sim_stat(s, wall);
        s->sim_stat_ms = wall;
    }
    if (!db_is_up(s->db) && !s->db_warned) {
        s->db_warned = 1;
        sim_event(s, "database unreachable; %zu rows wait and are written when it returns",
                  db_backlog(s->db));
    } else if (db_is_up(s->db) && s->db_warned) {
        s->db_warned = 0;
        sim_event(s, "database back");
    }
    if (show)
        render(s, now);
}

static int all_connected(const sim *s)
{
    for (size_t i = 0; i < s->f.n; i++) {
        const fleet_node *n = &s->f.nodes[i];
        if (!n->have_stats || (s->f.n > 1 && n->st.peers < 1))
            return 0;
    }
    return 1;
}

/* Ticks until done(s) or the deadline or a signal; 1 if done. */
static int tick_until(sim *s, int (*done)(const sim *), int64_t deadline, int step_ms)
{
    for (;;) {
        tick(s, 1);
        if (done && done(s))
            return 1;
        int64_t now = clock_mono_ms();
        if (now >= deadline || s->interrupts)
            return 0;
        wait_until(s, now + step_ms < deadline ? now + step_ms : deadline);
    }
}

static int spawn_all(sim *s)
{
    int64_t now = clock_mono_ms();
    for (size_t i = 0; i < s->f.n; i++) {
        int rc = fleet_spawn(&s->f, i, now);
        if (rc == 0)
            continue;
        const char *host = fleet_host_name(&s->f, i);
        fprintf(stderr, "launcher: cannot start %s%s%s: %s\n", s->f.nodes[i].name,
                host ? " on host " : "", host ? host : "",
                rc == SG_EIO ? strerror(errno) : rc == SG_ETOOBIG
                    ? "its command line or paths are too long (use a shorter --run-dir)"
                    : sg_strerror(rc));
        return 1;
    }
    return 0;
}

/* ---- stopping ------------------------------------------------------------- */

static int all_idle(const sim *s)
{
    for (size_t i = 1; i < s->f.n; i++)
        if (s->f.nodes[i].pid > 0 && (!s->f.nodes[i].have_stats || s->f.nodes[i].st.mining))
            return 0;
    return 1;
}

static int64_t max_node_height(const sim *s)
{
    int64_t m = 0;
    for (size_t i = 0; i < s->f.n; i++)
        if (s->f.nodes[i].have_stats && s->f.nodes[i].st.height > m)
            m = s->f.nodes[i].st.height;
    return m;
}

static int operator_passed(const sim *s)
{
    return s->f.nodes[0].have_stats && s->f.nodes[0].st.height > s->settle_target;
}

/* Every running daemon on one tip, and the launcher has read that block. */
static int one_tip(const sim *s)
{
    char best[65];
    ingest_best_tip(s->ing, best);
    for (size_t i = 0; i < s->f.n; i++) {
        const fleet_node *n = &s->f.nodes[i];
        if (n->pid > 0 && (!n->have_stats || strcmp(n->st.tip, best) != 0))
            return 0;
    }
    return 1;
}

/* Asks nodes [from, to) to stop mining over their control links, one path
 * for local and remote daemons: a signal would reach a remote daemon's
 * transport (ssh) instead, kill it and count as the daemon dying.  A node
 * that does not confirm is named; settling then waits out its step. */
static void stop_mining(sim *s, size_t from, size_t to)
{
    fleet_set_mining_range(&s->f, from, to, 0, FLEET_CTL_TIMEOUT_MS);
    for (size_t i = from; i < to; i++) {
        int rc = s->f.nodes[i].mining_rc;
        if (rc != 0 && rc != SG_ECLOSED)
            sim_event(s, "cannot stop mining on %s: %s", s->f.nodes[i].name, sg_strerror(rc));
    }
}

/* On a retargeting chain blocks are seconds apart, so the tips usually
 * agree once the in-flight blocks have landed (one interval later); then
 * there is no tie to break and the operator need not mine alone.  At a
 * fixed difficulty blocks come too fast for that: always mine. */
static int tie_possible(sim *s)
{
    if (s->o->block_interval_ms == 0)
        return 1;
    tick_until(s, NULL, clock_mono_ms() + s->o->block_interval_ms, 250);
    return !one_tip(s);
}

/* How long the operator may take for its block: alone it needs about n
 * block intervals on a retargeting chain. */
static int64_t operator_step_ms(const sim *s)
{
    int64_t alone = 3 * (int64_t)s->f.n * s->o->block_interval_ms;
    return alone > SIM_SETTLE_MS ? alone : SIM_SETTLE_MS;
}

/* Mining stops in two steps so that every node ends on the same tip: a tie
 * between two blocks found at once would otherwise stand (ties keep the
 * first seen).  The operator mines alone until it passes every height seen
 * (unless no tie is possible), then stops too.  Each step is bounded; a
 * second Ctrl-C skips the rest. */
static void settle(sim *s)
{
    int64_t step = SIM_SETTLE_MS;
    /* Before the requests, which may block a while: a second Ctrl-C sent
     * meanwhile must count. */
    s->interrupts = 0;
    stop_mining(s, 1, s->f.n);
    tick_until(s, all_idle, clock_mono_ms() + step, 250);
    if (s->interrupts)
        return;
    if (tie_possible(s)) {
        s->settle_target = max_node_height(s);
        tick_until(s, operator_passed, clock_mono_ms() + operator_step_ms(s), 250);
    }
    stop_mining(s, 0, 1);
    if (s->interrupts)
        return;
    if (!tick_until(s, one_tip, clock_mono_ms() + step, 250) && !s->interrupts)
        sim_event(s, "daemons did not agree on one tip within %lld ms; final balances are "
                  "each node's own view", (long long)step);
}

/* What the original's users watched (energy traded, its average price,
 * trades, blocks, transactions), the stale rate, and where to look next. */
static void summary(sim *s, int killed, int64_t ran_ms, int have_report)
{
    ingest_stats st;
    ingest_get_stats(s->ing, &st);
    printf("run %s: %.1f s, best height %llu, %llu blocks (%llu stale, stale rate %.1f %%), "
           "%llu transactions, %llu market intervals settled, %llu restarts%s\n",
           s->run_id, (double)ran_ms / 1000.0, (unsigned long long)st.best_height,
           (unsigned long long)st.blocks, (unsigned long long)st.stale,
           (double)ingest_stale_permille(&st) / 10.0, (unsigned long long)st.txs,
           (unsigned long long)st.intervals, (unsigned long long)s->restarts,
           killed ? " (some daemons needed SIGKILL)" : "");
    if (st.traded_wh > 0)
        printf("energy traded peer to peer %.3f kWh in %llu trades at an average %.4f per kWh; "
               "grid import %.3f kWh, export %.3f kWh\n", (double)st.traded_wh / 1000.0,
               (unsigned long long)st.trades, (double)ingest_avg_price(&st) / 1e6,
               (double)st.grid_import_wh / 1000.0, (double)st.grid_export_wh / 1000.0);
    else
        printf("no energy traded peer to peer; grid import %.3f kWh, export %.3f kWh\n",
               (double)st.grid_import_wh / 1000.0, (double)st.grid_export_wh / 1000.0);
    /* Money for energy apart from block rewards, on the best chain. */
    printf("%-6s %14s %14s %14s\n", "node", "energy paid", "energy recv", "rewards");
    for (size_t i = 0; i < s->f.n; i++) {
        ingest_money m;
        ingest_node_money(s->ing, s->f.nodes[i].pk, &m);
        printf("%-6s %14.6f %14.6f %14.6f\n", s->f.nodes[i].name,
               (double)m.energy_paid / 1e6, (double)m.energy_received / 1e6,
               (double)m.rewards / 1e6);
    }
    printf("run directory %s; database: %s\n", s->dir,
           s->o->db_host[0] ? "MySQL" : s->db_path);
    if (have_report)
        printf("report: %s/report.html\n", s->dir);
    fflush(stdout);
}

static int stop_grace_ms(const sim *s)
{
    return SIM_STOP_GRACE_MS + SIM_STOP_GRACE_PER_MS * (int)s->f.n;
}

static int finish(sim *s)
{
    char err[DB_ERR_MAX];
    int64_t ran_ms = s->clock0_ms > 0 ? clock_mono_ms() - s->clock0_ms : 0;
    int status = 0;
    s->phase = "stopping";
    /* Stopped daemons and a partition would keep the tips apart. */
    if (s->have_scen)
        scen_run_finish(&s->scen, &s->f, clock_mono_ms() - s->clock0_ms);
    settle(s);
    int64_t wall = clock_wall_ms();
    fleet_poll_round(&s->f, clock_mono_ms(), SIM_POLL_WAIT_MS, 1);
    for (size_t i = 0; i < s->f.n; i++)
        put_txlat(s, i, wall);
    /* Daemons on other hosts are read over their control links, so their
     * stores are drained while they still run (mining has stopped); the
     * local files once more after the stop. */
    while (ingest_poll(s->ing, wall, SIM_INGEST_BATCH) > 0)
        ;
    s->stopping = 1;
    int killed = fleet_stop_all(&s->f, stop_grace_ms(s));
    while (ingest_poll(s->ing, wall, SIM_INGEST_BATCH) > 0)
        ;
    /* After the last blocks are read: the money columns come from them. */
    for (size_t i = 0; i < s->f.n; i++)
        if (s->f.nodes[i].have_stats)
            put_node(s, &s->f.nodes[i], wall);
    put_run(s, wall / 1000);
    if (db_close(s->db, err, sizeof err) != 0) {
        fprintf(stderr, "launcher: %s\n", err);
        status = 1;
    }
    s->db = NULL;
    /* From SQLite, or from MySQL when --db-host is set (run.json says). */
    char rerr[2 * PATH_MAX + 256];
    int have_report = report_write_ex(s->dir, s->o->db_password, rerr, sizeof rerr) == 0;
    if (!have_report)
        fprintf(stderr, "launcher: %s\n", rerr);
    if (!s->o->quiet && s->tty)
        render(s, clock_mono_ms());
    summary(s, killed, ran_ms, have_report);
    return status;
}

static int block_signals(sim *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return SG_EIO;
    signal(SIGPIPE, SIG_IGN);
    /* A shell starts background jobs with SIGINT ignored; the signalfd
     * must see it all the same. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    s->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return s->sfd < 0 ? SG_EIO : 0;
}

/* Ticks until no new block has come for `quiet_ms` (after at least one
 * did), the deadline, or a signal. */
static void wait_quiet_chain(sim *s, int64_t quiet_ms, int64_t deadline)
{
    int64_t h0 = max_node_height(s), last = clock_mono_ms();
    int moved = 0;
    for (;;) {
        tick(s, 1);
        int64_t now = clock_mono_ms(), h = max_node_height(s);
        if (h != h0) {
            h0 = h;
            last = now;
            moved = 1;
        } else if (moved && now - last >= quiet_ms) {
            return;
        }
        if (now >= deadline || s->interrupts)
            return;
        wait_until(s, now + SIM_RAMP_POLL_MS);
    }
}

/* A retargeting chain starts at --difficulty, usually far easier than the
 * fleet's equilibrium: with every miner on, blocks would come within
 * milliseconds of each other for dozens of heights, and nearly every one
 * would fork.  So the daemons start with mining off (fleet.no_mine) and are
 * switched on over their control links in stages of 1, 2, 4, ... miners: a
 * lone miner cannot fork, and each later stage only has to climb one
 * doubling from a chain already near one block per interval.  A stage ends
 * once no block has come for one block interval (the interval is near the
 * target then), or after SIM_RAMP_STAGE_MS, or at `end`. */
static void ramp_up(sim *s, int64_t end)
{
    size_t on = 0, want = 1;
    while (!s->interrupts) {
        if (want > s->f.n)
            want = s->f.n;
        fleet_set_mining_range(&s->f, on, want, 1, FLEET_CTL_TIMEOUT_MS);
        for (; on < want; on++) {
            int rc = s->f.nodes[on].mining_rc;
            if (rc != 0 && rc != SG_ECLOSED)
                sim_event(s, "cannot start mining on %s", s->f.nodes[on].name);
        }
        if (on == s->f.n)
            break;
        int64_t deadline = clock_mono_ms() + SIM_RAMP_STAGE_MS;
        wait_quiet_chain(s, s->o->block_interval_ms, deadline < end ? deadline : end);
        if (clock_mono_ms() >= end)
            break;
        want *= SIM_RAMP_FACTOR;
    }
    /* Restarted daemons mine at once from now on. */
    s->f.no_mine = 0;
}

static int run(sim *s)
{
    int64_t start = clock_mono_ms();
    s->wall0_s = time(NULL);
    put_run(s, 0);
    if (spawn_all(s) != 0)
        return 1;
    s->phase = "connecting";
    if (!tick_until(s, all_connected, start + SIM_CONNECT_WAIT_MS, 250) && !s->interrupts)
        sim_event(s, "not every daemon connected within %d s; starting the clock anyway",
                  SIM_CONNECT_WAIT_MS / 1000);
    s->clock0_ms = clock_mono_ms();
    int64_t end = s->o->duration ? s->clock0_ms + (int64_t)s->o->duration * 1000 : INT64_MAX;
    if (s->f.no_mine) {
        s->phase = "ramping";
        ramp_up(s, end);
    }
    s->phase = "running";
    int64_t next = s->clock0_ms;
    while (!s->interrupts) {
        tick(s, 1);
        next += SIM_TICK_MS;
        int64_t now = clock_mono_ms();
        if (now >= end)
            break;
        if (next < now)
            next = now;
        wait_until(s, next < end ? next : end);
    }
    return finish(s);
}

/* --web: listening before anything starts, so a taken port is refused
 * like any bad option; the server thread inherits the blocked signals. */
static int start_web(sim *s)
{
    char err[256];
    s->wsnap = calloc(1, sizeof *s->wsnap);
    if (!s->wsnap)
        return 1;
    if (web_start(&s->web, s->o->web_listen ? s->o->web_addr : NULL,
                  (uint16_t)s->o->web_port, err, sizeof err) != 0) {
        fprintf(stderr, "launcher: %s\n", err);
        return 2;
    }
    printf("launcher: live page at %s\n", web_url(s->web));
    fflush(stdout);
    return 0;
}

int sim_run(launcher_opts *o, const char *argv0)
{
    sim s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.sfd = -1;
    s.f.log_level = o->log_level;
    s.f.mining_threads = o->mining_threads;
    s.f.use_gpu = o->use_gpu;
    s.f.no_mine = o->block_interval_ms != 0;
    if (o->battery_given) {
        snprintf(s.battery_kwh, sizeof s.battery_kwh, "%llu.%03llu",
                 (unsigned long long)(o->battery_wh / 1000),
                 (unsigned long long)(o->battery_wh % 1000));
        s.f.battery_kwh = s.battery_kwh;
    }
    s.f.pv_profile = o->pv_profile;
    s.f.load_profile = o->load_profile;
    s.tty = isatty(STDOUT_FILENO);
    s.phase = "starting";
    if (!o->seed_given)
        o->seed = ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
    /* Blocked before preflight: with --db-host it starts the database's
     * flush thread, which inherits the mask; a SIGINT a thread leaves
     * unblocked would kill the launcher instead of reaching the signalfd. */
    int status = block_signals(&s) == 0 ? preflight(&s, argv0) : 1;
    if (status == 0 && o->web_port)
        status = start_web(&s);
    if (status == 0)
        status = setup(&s);
    if (status == 0) {
        status = run(&s);
    } else if (s.f.n) {
        fleet_stop_all(&s.f, stop_grace_ms(&s));
    }
    if (s.db)
        db_close(s.db, NULL, 0);
    web_stop(s.web);
    free(s.wsnap);
    scen_run_free(&s.scen);
    scen_free(&s.sc);
    ingest_free(s.ing);
    rundir_free(&s.f);
    hosts_free(&s.hosts);
    if (s.have_params)
        params_free(&s.params);
    free(s.json);
    if (s.sfd >= 0)
        close(s.sfd);
    return status;
}
