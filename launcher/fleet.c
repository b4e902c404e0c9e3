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

/* In the child, between fork and exec: only async-signal-safe calls.
 * in_fd >= 0 becomes stdin (the remote shell's script), else /dev/null. */
static void child_exec(const char *exe, char **argv, char **envp, const char *out_path,
                       pid_t parent, int in_fd)
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
    int in = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0)
        _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execve(exe, argv, envp);
    _exit(127);
}

const char *fleet_addr(const fleet *f, size_t i)
{
    return f->nodes[i].addr[0] ? f->nodes[i].addr : "127.0.0.1";
}

int fleet_is_remote(const fleet *f, size_t i)
{
    const fleet_node *n = &f->nodes[i];
    return f->hosts && n->host >= 0 && (size_t)n->host < f->n_hosts &&
           !f->hosts[n->host].local;
}

int fleet_remote_path(const fleet *f, const char *p, char *out, size_t cap)
{
    size_t l = f->local_dir ? strlen(f->local_dir) : 0;
    int n;
    if (f->remote_dir && l && strncmp(p, f->local_dir, l) == 0 && (p[l] == '/' || !p[l]))
        n = snprintf(out, cap, "%s%s", f->remote_dir, p + l);
    else
        n = snprintf(out, cap, "%s", p);
    return n < 0 || (size_t)n >= cap ? SG_ETOOBIG : 0;
}

/* The script the remote shell runs for argv: the daemon replaces the
 * remote sh, its output goes to the remote copy of out_path. */
static char *remote_script(const fleet *f, const char *out_path, char **argv)
{
    size_t cap = 8192;
    char *s = malloc(cap), p[PATH_MAX];
    if (!s)
        return NULL;
    snprintf(s, cap, "exec");
    for (int k = 0; argv[k]; k++) {
        if (strlen(s) + 2 >= cap)
            goto fail;
        strcat(s, " ");
        if (fleet_remote_path(f, argv[k], p, sizeof p) != 0 || hosts_quote(s, cap, p) != 0)
            goto fail;
    }
    if (strlen(s) + 20 >= cap)
        goto fail;
    strcat(s, " </dev/null >>");
    if (fleet_remote_path(f, out_path, p, sizeof p) != 0 || hosts_quote(s, cap, p) != 0 ||
        strlen(s) + 8 >= cap)
        goto fail;
    strcat(s, " 2>&1\n");
    return s;
fail:
    free(s);
    return NULL;
}

/* A pipe holding the whole script, its write end closed: the child's stdin. */
static int script_pipe(const char *script)
{
    int fds[2];
    size_t len = strlen(script);
    if (len > 60000 || pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    if (write(fds[1], script, len) != (ssize_t)len) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    close(fds[1]);
    return fds[0];
}

int fleet_spawn(fleet *f, size_t i, int64_t now_ms)
{
    fleet_node *n = &f->nodes[i];
    char listen[96], peer[96], peer2[96], threads[16];
    const char *argv[40];
    int k = 0;
    int is_op = n->role == DAEMON_ROLE_OPERATOR;
    const char *exe = is_op ? f->sgoperator : f->sgnode;

    snprintf(listen, sizeof listen, "%s:%u", fleet_addr(f, i), n->port);
    snprintf(peer, sizeof peer, "%s:%u", fleet_addr(f, 0), f->nodes[0].port);
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
            snprintf(peer2, sizeof peer2, "%s:%u", fleet_addr(f, i - 1), f->nodes[i - 1].port);
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

    int in_fd = -1;
    char shcmd[1024];
    const char *sh_argv[] = { "sh", "-c", shcmd, NULL };
    if (fleet_is_remote(f, i)) {
        char *script = remote_script(f, n->out_path, (char **)argv);
        if (!script || hosts_shell_cmd(shcmd, sizeof shcmd, f->remote_shell,
                                       &f->hosts[n->host]) != 0) {
            free(script);
            return SG_ETOOBIG;
        }
        in_fd = script_pipe(script);
        free(script);
        if (in_fd < 0)
            return SG_EIO;
        exe = "/bin/sh";
        memcpy(argv, sh_argv, sizeof sh_argv);
    }
    char **envp = child_env();
    if (!envp) {
        if (in_fd >= 0)
            close(in_fd);
        return SG_ENOMEM;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_exec(exe, (char **)argv, envp, n->out_path, parent, in_fd);
    free(envp);
    if (in_fd >= 0)
        close(in_fd);
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

/* A daemon behind ssh outlives a signal to the ssh client: ask it. */
static void shutdown_remote(fleet *f)
{
    for (size_t i = 0; i < f->n; i++) {
        ctl *c = NULL;
        if (f->nodes[i].pid <= 0 || !fleet_is_remote(f, i))
            continue;
        if (fleet_connect(f, i, &c, FLEET_CTL_TIMEOUT_MS) == 0) {
            ctl_shutdown(c, 0);
            ctl_close(c);
        }
    }
}

int fleet_stop_all(fleet *f, int grace_ms)
{
    int killed = 0;
    fleet_close_ctl(f);
    shutdown_remote(f);
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
    return ctl_connect(out, fleet_addr(f, i), f->nodes[i].port, &auth, timeout_ms);
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
