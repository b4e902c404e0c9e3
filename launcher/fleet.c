/*
 * fleet.c - spawning, reaping, stopping and polling the daemons; see
 * fleet.h.
 */
#define _GNU_SOURCE
#include "fleet.h"
#include "common/core/adv_role.h"
#include "common/base/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/core/role.h"
#include "common/base/err.h"

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

/* Closes every descriptor from `from` up, so that a daemon inherits none
 * of the launcher's (database connections, other nodes' pipes, whatever the
 * launcher itself inherited) and holds only 0-2 and what it opens itself.
 * close_range where the kernel has it, else one by one. */
static void close_from(int from)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0)
        return;
#endif
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                   ? (long)rl.rlim_cur : 65536;
    for (long fd = from; fd < max; fd++)
        close((int)fd);
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
    int in = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (in < 0 || out < 0)
        _exit(127);
    /* Moved above 2 first: with 0-2 closed in the launcher, the pipe or the
     * file may itself be 0, 1 or 2, and dup2 onto it would clobber it (or,
     * onto itself, keep its close-on-exec flag). */
    int hin = fcntl(in, F_DUPFD_CLOEXEC, 3), hout = fcntl(out, F_DUPFD_CLOEXEC, 3);
    if (hin < 0 || hout < 0 || dup2(hin, 0) < 0 || dup2(hout, 1) < 0 || dup2(hout, 2) < 0)
        _exit(127);
    close_from(3);
    execve(exe, argv, envp);
    _exit(127);
}

const char *fleet_addr(const fleet *f, size_t i)
{
    return f->nodes[i].addr[0] ? f->nodes[i].addr : "127.0.0.1";
}

const char *fleet_host_name(const fleet *f, size_t i)
{
    const fleet_node *n = &f->nodes[i];
    if (!f->hosts || n->host < 0 || (size_t)n->host >= f->n_hosts)
        return NULL;
    return f->hosts[n->host].name;
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
 * remote sh and keeps its stdin (the launcher's pipe, for
 * --stop-on-stdin-eof), its output goes to the remote copy of out_path. */
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
    strcat(s, " >>");
    if (fleet_remote_path(f, out_path, p, sizeof p) != 0 || hosts_quote(s, cap, p) != 0 ||
        strlen(s) + 8 >= cap)
        goto fail;
    strcat(s, " 2>&1\n");
    return s;
fail:
    free(s);
    return NULL;
}

/* A pipe holding the whole script: fds[0] becomes the child's stdin, fds[1]
 * stays with the fleet (close-on-exec, so no other child holds it) until
 * the daemon is to stop.  The script fits the pipe's buffer, so the write
 * never blocks. */
static int script_pipe(const char *script, int fds[2])
{
    size_t len = strlen(script);
    if (len > 60000 || pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    if (write(fds[1], script, len) != (ssize_t)len) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    return 0;
}

static void close_stdin(fleet_node *n)
{
    if (!n->stdin_open)
        return;
    close(n->stdin_fd);
    n->stdin_open = 0;
}

size_t fleet_bootstrap_peer(size_t i)
{
    if (i < 2)
        return 0;
    /* Knuth's multiplicative hash: fixed per node (a restarted daemon
     * dials the same), spread evenly over the nodes before it. */
    return (size_t)(((uint64_t)i * 2654435761u) >> 8) % (i - 1);
}

int fleet_spawn(fleet *f, size_t i, int64_t now_ms)
{
    fleet_node *n = &f->nodes[i];
    char listen[96], peer[96], peer2[96], threads[16], rate[24], adv[64];
    const char *argv[48];
    int k = 0;
    int is_op = n->role == ROLE_OPERATOR;
    const char *exe = is_op ? f->sgoperator : f->sgnode;

    snprintf(listen, sizeof listen, "%s:%u", fleet_addr(f, i), n->port);
    snprintf(threads, sizeof threads, "%u", f->mining_threads);
    argv[k++] = exe;
    if (!is_op) {
        argv[k++] = "--role";
        argv[k++] = role_name(n->role);
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
        /* The previous node and one earlier node spread by a hash: a
         * connected graph of small diameter even before address gossip
         * adds links, and no node that every newcomer dials (with the
         * operator as everyone's peer, 200 daemons ran 200 key exchanges
         * on it at once and timed them out). */
        size_t j = fleet_bootstrap_peer(i);
        snprintf(peer, sizeof peer, "%s:%u", fleet_addr(f, i - 1), f->nodes[i - 1].port);
        argv[k++] = "--peer";
        argv[k++] = peer;
        if (j != i - 1) {
            snprintf(peer2, sizeof peer2, "%s:%u", fleet_addr(f, j), f->nodes[j].port);
            argv[k++] = "--peer";
            argv[k++] = peer2;
        }
        if (n->role == ROLE_PROSUMER && f->battery_kwh) {
            argv[k++] = "--battery-kwh";
            argv[k++] = f->battery_kwh;
        }
        if (n->role == ROLE_PROSUMER && f->pv_profile) {
            argv[k++] = "--pv-profile";
            argv[k++] = f->pv_profile;
        }
        if (f->load_profile) {
            argv[k++] = "--load-profile";
            argv[k++] = f->load_profile;
        }
    }
    if (n->hashrate) {
        snprintf(rate, sizeof rate, "%llu", (unsigned long long)n->hashrate);
        argv[k++] = "--hashrate";
        argv[k++] = rate;
    }
    if (n->adversary) {
        argv[k++] = "--adversary";
        argv[k++] = adv_roles_format(n->adversary, adv, sizeof adv);
    }
    if (f->use_gpu)
        argv[k++] = "--use-gpu";
    if (f->no_mine)
        argv[k++] = "--no-mine";
    if (fleet_is_remote(f, i))
        argv[k++] = "--stop-on-stdin-eof";
    argv[k] = NULL;

    int in_fd = -1, pfd[2] = { -1, -1 };
    char shcmd[1024];
    const char *sh_argv[] = { "sh", "-c", shcmd, NULL };
    if (fleet_is_remote(f, i)) {
        char *script = remote_script(f, n->out_path, (char **)argv);
        if (!script || hosts_shell_cmd(shcmd, sizeof shcmd, f->remote_shell,
                                       &f->hosts[n->host]) != 0) {
            free(script);
            return SG_ETOOBIG;
        }
        int prc = script_pipe(script, pfd);
        free(script);
        if (prc != 0)
            return SG_EIO;
        in_fd = pfd[0];
        exe = "/bin/sh";
        memcpy(argv, sh_argv, sizeof sh_argv);
    }
    char **envp = child_env();
    if (!envp) {
        if (in_fd >= 0) {
            close(in_fd);
            close(pfd[1]);
        }
        return SG_ENOMEM;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_exec(exe, (char **)argv, envp, n->out_path, parent, in_fd);
    int fork_errno = errno;
    free(envp);
    if (in_fd >= 0)
        close(in_fd);
    if (pid < 0) {
        if (pfd[1] >= 0)
            close(pfd[1]);
        errno = fork_errno;
        return SG_EIO;
    }
    close_stdin(n);
    if (pfd[1] >= 0) {
        n->stdin_fd = pfd[1];
        n->stdin_open = 1;
    }
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
        close_stdin(n);
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
    for (size_t i = 0; i < f->n; i++)
        close_stdin(&f->nodes[i]);   /* the EOF that --stop-on-stdin-eof waits for */
    fleet_signal_all(f, SIGTERM);
    int64_t deadline = clock_mono_ms() + grace_ms;
    while (running(f) > 0 && clock_mono_ms() < deadline) {
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
        close_stdin(n);
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

/* Joins a daemon's peer_names parts; what does not fit is left out. */
static void add_peer_names(fleet_stats *st, const char *part)
{
    size_t have = strlen(st->peer_names), l = strlen(part);
    if (l == 0 || have + 1 + l >= sizeof st->peer_names)
        return;
    if (have)
        st->peer_names[have++] = ' ';
    memcpy(st->peer_names + have, part, l + 1);
}

void fleet_take_stats(fleet_node *n, const proto_stats *ps)
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
        S("consumed_wh", consumed_wh), S("rejected_blocks", rejected_blocks),
        S("rejected_txs", rejected_txs), S("adv_withheld", adv_withheld),
        S("adv_published", adv_published), S("adv_abandoned", adv_abandoned),
        S("adv_ds_pairs", adv_ds_pairs), S("adv_ds_won_a", adv_ds_won_a),
        S("adv_ds_won_b", adv_ds_won_b), S("adv_manip_orders", adv_manip_orders),
        S("adv_spam_valid", adv_spam_valid), S("adv_spam_malformed", adv_spam_malformed),
        S("adv_forged_settlements", adv_forged_settlements),
#undef S
    };
    n->st.peer_names[0] = '\0';
    for (uint32_t i = 0; i < ps->n; i++) {
        const proto_stat *s = &ps->items[i];
        if (s->kind == PROTO_STAT_STR && strncmp(s->key, "peer_names", 10) == 0) {
            add_peer_names(&n->st, s->s);
            continue;
        }
        if (s->kind == PROTO_STAT_STR) {
            if (strcmp(s->key, "banned_peers") == 0)
                snprintf(n->st.banned_peers, sizeof n->st.banned_peers, "%s", s->s);
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

static int ctl_timeout(const fleet *f)
{
    return f->ctl_timeout_ms > 0 ? f->ctl_timeout_ms : FLEET_CTL_TIMEOUT_MS;
}

/* Node i's control link, connected when needed; a failed attempt is not
 * repeated for a second. */
static int node_ctl(fleet *f, size_t i, int64_t now_ms)
{
    fleet_node *n = &f->nodes[i];
    int rc;
    if (n->pid <= 0)
        return SG_ECLOSED;
    if (n->c)
        /* One fleet_poll_round opened and has not finished yet. */
        return ctl_is_ready(n->c) ? 0 : SG_ETIMEOUT;
    if (now_ms < n->ctl_retry_ms)
        return SG_ETIMEOUT;
    rc = fleet_connect(f, i, &n->c, ctl_timeout(f));
    if (rc != 0) {
        n->c = NULL;
        n->ctl_retry_ms = now_ms + 1000;
    }
    return rc;
}

/* After a failed request the link is in an unknown state: drop it. */
static int drop_ctl(fleet_node *n, int rc, int64_t now_ms)
{
    ctl_close(n->c);
    n->c = NULL;
    n->stats_asked = n->txlat_asked = 0;
    n->ctl_retry_ms = now_ms + 1000;
    return rc;
}

int fleet_store_read(fleet *f, size_t i, uint64_t offset, uint8_t *buf, size_t cap,
                     int64_t now_ms)
{
    size_t got = 0;
    int rc = node_ctl(f, i, now_ms);
    if (rc != 0)
        return rc;
    if (cap > PROTO_STORE_READ_MAX)
        cap = PROTO_STORE_READ_MAX;
    rc = ctl_store_read(f->nodes[i].c, offset, buf, cap, &got, NULL, ctl_timeout(f));
    if (rc != 0)
        return drop_ctl(&f->nodes[i], rc, now_ms);
    return (int)got;
}

int fleet_poll_stats(fleet *f, size_t i, int64_t now_ms)
{
    fleet_node *n = &f->nodes[i];
    proto_stats ps;
    int rc = node_ctl(f, i, now_ms);
    if (rc != 0)
        return rc;
    rc = ctl_stats(n->c, &ps, ctl_timeout(f));
    if (rc != 0)
        return drop_ctl(n, rc, now_ms);
    fleet_take_stats(n, &ps);
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

/* The last non-empty line of path (at most cap-1 bytes of it), "" when
 * there is none. */
static void last_line(const char *path, char *out, size_t cap)
{
    char buf[1024];
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t n = end > 0 ? pread(fd, buf, (size_t)(end - from), from) : 0;
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    const char *l = strrchr(buf, '\n') ? strrchr(buf, '\n') + 1 : buf;
    size_t len = strnlen(l, cap - 1);
    memcpy(out, l, len);
    out[len] = '\0';
}

void fleet_exit_message(const fleet *f, size_t i, const char *middle, char *out, size_t cap)
{
    const fleet_node *n = &f->nodes[i];
    const char *host = fleet_host_name(f, i);
    int st = n->last_status, remote = fleet_is_remote(f, i);
    char said[200];
    /* Through ssh the daemon's own words stay on its host; what is here is
     * the transport's (ssh's errors), or all of it on a shared directory. */
    last_line(n->out_path, said, sizeof said);
    snprintf(out, cap, "%s%s%s died (%s %d)%s; see %s%s%s%s%s", n->name,
             host ? " on host " : "", host ? host : "",
             WIFSIGNALED(st) ? "signal" : "exit status",
             WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), middle ? middle : "",
             n->log_path, remote ? " on " : "", remote ? host : "", said[0] ? ": " : "", said);
}
