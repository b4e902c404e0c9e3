/*
 * fleet.c - spawning, reaping, stopping and polling the daemons; see
 * fleet.h.
 */
#include "fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/daemon.h"
#include "../common/err.h"

int64_t fleet_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fleet_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

extern char **environ;

/* The launcher's environment without MYSQL_PWD: the daemons never need the
 * database password.  Built before fork (the child may only make
 * async-signal-safe calls: the database thread may hold malloc's lock). */
static char **child_env(void)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "MYSQL_PWD=", 10) != 0)
            env[k++] = environ[i];
    return env;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(const char *exe, char **argv, char **envp, const char *out_path,
                       pid_t parent)
{
    sigset_t none;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* The launcher may have died between fork and prctl. */
    if (getppid() != parent)
        _exit(1);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0)
        _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execve(exe, argv, envp);
    _exit(127);
}

int fleet_spawn(fleet *f, size_t i, int64_t now_ms)
{
    fleet_node *n = &f->nodes[i];
    char listen[32], peer[32], peer2[32], threads[16];
    const char *argv[40];
    int k = 0;
    int is_op = n->role == DAEMON_ROLE_OPERATOR;
    const char *exe = is_op ? f->sgoperator : f->sgnode;

    snprintf(listen, sizeof listen, "127.0.0.1:%u", n->port);
    snprintf(peer, sizeof peer, "127.0.0.1:%u", f->nodes[0].port);
    snprintf(threads, sizeof threads, "%u", f->mining_threads);
    argv[k++] = exe;
    if (!is_op) {
        argv[k++] = "--role";
        argv[k++] = daemon_role_name(n->role);
    }
    const char *common[] = {
        "--genesis", f->genesis_path, "--cluster-key", f->cluster_key_path,
        "--data-dir", n->data_dir, "--key", n->key_path, "--listen", listen,
        "--log", n->log_path, "--log-level", f->log_level, "--name", n->name,
        "--mining-threads", threads, "--reconnect-max-ms", "2000",
    };
    for (size_t j = 0; j < sizeof common / sizeof common[0]; j++)
        argv[k++] = common[j];
    if (!is_op) {
        /* The operator and the previous node: a connected graph even
         * before address gossip adds links. */
        argv[k++] = "--peer";
        argv[k++] = peer;
        if (i > 1) {
            snprintf(peer2, sizeof peer2, "127.0.0.1:%u", f->nodes[i - 1].port);
            argv[k++] = "--peer";
            argv[k++] = peer2;
        }
        if (n->role == DAEMON_ROLE_PROSUMER && f->battery_kwh) {
            argv[k++] = "--battery-kwh";
            argv[k++] = f->battery_kwh;
        }
        if (n->role == DAEMON_ROLE_PROSUMER && f->pv_profile) {
            argv[k++] = "--pv-profile";
            argv[k++] = f->pv_profile;
        }
        if (f->load_profile) {
            argv[k++] = "--load-profile";
            argv[k++] = f->load_profile;
        }
    }
    if (f->use_gpu)
        argv[k++] = "--use-gpu";
    argv[k] = NULL;

    char **envp = child_env();
    if (!envp)
        return SG_ENOMEM;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_exec(exe, (char **)argv, envp, n->out_path, parent);
    free(envp);
    if (pid < 0)
        return SG_EIO;
    /* Also from the parent, so a signal sent at once finds the group. */
    setpgid(pid, pid);
    n->pid = pid;
    n->started_ms = now_ms;
    n->restart_at_ms = 0;
    return 0;
}

int fleet_reap(fleet *f, fleet_exit_cb cb, void *ctx)
{
    int exited = 0;
    for (size_t i = 0; i < f->n; i++) {
        fleet_node *n = &f->nodes[i];
        int status;
        if (n->pid <= 0)
            continue;
        pid_t r = waitpid(n->pid, &status, WNOHANG);
        if (r != n->pid)
            continue;
        n->pid = 0;
        n->last_status = status;
        if (n->c) {
            ctl_close(n->c);
            n->c = NULL;
        }
        exited++;
        if (cb)
            cb(ctx, n);
    }
    return exited;
}

void fleet_signal_all(fleet *f, int sig)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->nodes[i].pid > 0)
            kill(f->nodes[i].pid, sig);
}

static size_t running(const fleet *f)
{
    size_t r = 0;
    for (size_t i = 0; i < f->n; i++)
        r += f->nodes[i].pid > 0;
    return r;
}

int fleet_stop_all(fleet *f, int grace_ms)
{
    int killed = 0;
    fleet_close_ctl(f);
    fleet_signal_all(f, SIGTERM);
    int64_t deadline = fleet_now_ms() + grace_ms;
    while (running(f) > 0 && fleet_now_ms() < deadline) {
        fleet_reap(f, NULL, NULL);
        if (running(f) > 0) {
            struct timespec ts = { 0, 50 * 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    for (size_t i = 0; i < f->n; i++) {
        fleet_node *n = &f->nodes[i];
        if (n->pid <= 0)
            continue;
        kill(n->pid, SIGKILL);
        waitpid(n->pid, &n->last_status, 0);
        n->pid = 0;
        killed++;
    }
    return killed;
}

int fleet_connect(const fleet *f, size_t i, ctl **out, int timeout_ms)
{
    ctl_auth auth = { .cluster_key = f->cluster_key, .chain_id = f->chain_id,
                      .name = "launcher" };
    return ctl_connect(out, "127.0.0.1", f->nodes[i].port, &auth, timeout_ms);
}

static void take_stats(fleet_node *n, const proto_stats *ps)
{
    static const struct { const char *key; size_t off; } ints[] = {
#define S(k, field) { k, offsetof(fleet_stats, field) }
        S("height", height), S("peers", peers), S("hashrate", hashrate),
        S("balance", balance), S("reserved", reserved), S("sold_wh", sold_wh),
        S("bought_wh", bought_wh), S("grid_import_wh", grid_import_wh),
        S("grid_export_wh", grid_export_wh), S("stale_blocks", stale),
        S("orphans", orphans), S("mempool_txs", mempool),
        S("loop_lag_ms_max", lag_ms), S("mining", mining),
        S("blocks_mined", blocks_mined), S("produced_wh", produced_wh),
        S("consumed_wh", consumed_wh),
#undef S
    };
    for (uint32_t i = 0; i < ps->n; i++) {
        const proto_stat *s = &ps->items[i];
        if (s->kind == PROTO_STAT_STR) {
            if (strcmp(s->key, "tip") == 0)
            {
                size_t l = strnlen(s->s, sizeof n->st.tip - 1);
                memcpy(n->st.tip, s->s, l);
                n->st.tip[l] = '\0';
            }
            continue;
        }
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
            if (strcmp(s->key, ints[k].key) == 0)
                *(int64_t *)(void *)((char *)&n->st + ints[k].off) = s->i;
    }
}

int fleet_poll_stats(fleet *f, size_t i, int64_t now_ms)
{
    fleet_node *n = &f->nodes[i];
    proto_stats ps;
    int rc;
    int tmo = f->ctl_timeout_ms > 0 ? f->ctl_timeout_ms : FLEET_CTL_TIMEOUT_MS;
    if (n->pid <= 0)
        return SG_ECLOSED;
    if (!n->c) {
        if (now_ms < n->ctl_retry_ms)
            return SG_ETIMEOUT;
        rc = fleet_connect(f, i, &n->c, tmo);
        if (rc != 0) {
            n->c = NULL;
            n->ctl_retry_ms = now_ms + 1000;
            return rc;
        }
    }
    rc = ctl_stats(n->c, &ps, tmo);
    if (rc != 0) {
        ctl_close(n->c);
        n->c = NULL;
        n->ctl_retry_ms = now_ms + 1000;
        return rc;
    }
    take_stats(n, &ps);
    proto_stats_free(&ps);
    n->have_stats = 1;
    n->stats_ms = now_ms;
    return 0;
}

void fleet_close_ctl(fleet *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->nodes[i].c) {
            ctl_close(f->nodes[i].c);
            f->nodes[i].c = NULL;
        }
}
