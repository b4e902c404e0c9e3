/*
 * launcher - starts and supervises a simulation (sim.h), and the helper
 * subcommands: `attach` follows one daemon's log, `status` prints the
 * statistics table of a running run once, `analyze` the recovery from each
 * scenario event (analyze.h), `pow` searches proof of work.
 * This is the edge of the program: the only place that prints usage and
 * picks exit statuses (0 ok, 1 runtime failure, 2 bad input).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/link/ctl.h"
#include "common/base/clock.h"
#include "common/base/err.h"
#include "common/link/loglevel.h"
#include "analyze_adv.h"
#include "analyze.h"
#include "fleet.h"
#include "opts.h"
#include "pow_cmd.h"
#include "report.h"
#include "rundir.h"
#include "sim.h"
#include "view.h"

#define LAUNCHER_VERSION "0.2.0"

typedef struct {
    const char *node;
    const char *run;
    int level;
} sub_args;

/* `attach NODE [--run DIR] [--level L]` and `status [--run DIR]`. */
static int parse_sub(const char *cmd, int argc, char **argv, int want_node, sub_args *a,
                     char *dirbuf, size_t cap)
{
    a->level = LOG_LEVEL_INFO;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (o[0] != '-') {
            if (!want_node || a->node) {
                fprintf(stderr, "launcher %s: unexpected argument '%s' (see launcher --help)\n",
                        cmd, o);
                return 2;
            }
            a->node = o;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "launcher %s: %s expects a value\n", cmd, o);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(o, "--run") == 0) {
            a->run = v;
        } else if (want_node && strcmp(o, "--level") == 0) {
            if (log_level_parse(v, &a->level) != 0) {
                fprintf(stderr, "launcher %s: --level expects debug, info, warn or error, "
                        "got '%s'\n", cmd, v);
                return 2;
            }
        } else {
            fprintf(stderr, "launcher %s: unknown option '%s' (see launcher --help)\n", cmd, o);
            return 2;
        }
    }
    if (want_node && !a->node) {
        fprintf(stderr, "launcher attach: name the node to follow, e.g. launcher attach p1\n");
        return 2;
    }
    if (!a->run) {
        if (rundir_latest(dirbuf, cap) != 0) {
            fprintf(stderr, "launcher %s: no run found under runs/; pass --run DIR\n", cmd);
            return 2;
        }
        a->run = dirbuf;
    }
    return 0;
}

static int cmd_attach(int argc, char **argv)
{
    char dir[PATH_MAX], err[512];
    sub_args a = { 0 };
    fleet f;
    ctl *c = NULL;
    int status = 1;
    if (parse_sub("attach", argc, argv, 1, &a, dir, sizeof dir) != 0)
        return 2;
    if (rundir_load(&f, a.run, err, sizeof err) != 0) {
        fprintf(stderr, "launcher attach: %s\n", err);
        rundir_free(&f);
        return 2;
    }
    size_t i = 0;
    while (i < f.n && strcmp(f.nodes[i].name, a.node) != 0)
        i++;
    if (i == f.n) {
        fprintf(stderr, "launcher attach: no node '%s' in %s (see its nodes.tsv)\n", a.node,
                a.run);
        status = 2;
        goto out;
    }
    int rc = fleet_connect(&f, i, &c, 5000);
    if (rc == 0)
        rc = ctl_log_subscribe(c, (uint8_t)a.level, 5000);
    if (rc != 0) {
        fprintf(stderr, "launcher attach: cannot follow %s on port %u: %s (is the run still "
                "going?)\n", a.node, f.nodes[i].port, sg_strerror(rc));
        goto out;
    }
    for (;;) {
        proto_log_line line;
        rc = ctl_next_log_line(c, &line, -1);
        if (rc != 0)
            break;
        printf("%s\n", line.text);
        fflush(stdout);
    }
    status = rc == SG_ECLOSED ? 0 : 1;
    if (status)
        fprintf(stderr, "launcher attach: %s\n", sg_strerror(rc));
out:
    if (c)
        ctl_close(c);
    rundir_free(&f);
    return status;
}

/* `report [--run DIR]`: (re)writes DIR/report.html from DIR/run.db. */
static int cmd_report(int argc, char **argv)
{
    char dir[PATH_MAX], err[2 * PATH_MAX + 256];
    sub_args a = { 0 };
    if (parse_sub("report", argc, argv, 0, &a, dir, sizeof dir) != 0)
        return 2;
    if (report_write(a.run, err, sizeof err) != 0) {
        fprintf(stderr, "launcher %s\n", err);
        return 1;
    }
    printf("%s/report.html\n", a.run);
    return 0;
}

static int cmd_status(int argc, char **argv)
{
    char dir[PATH_MAX], err[512];
    sub_args a = { 0 };
    fleet f;
    size_t up = 0;
    if (parse_sub("status", argc, argv, 0, &a, dir, sizeof dir) != 0)
        return 2;
    if (rundir_load(&f, a.run, err, sizeof err) != 0) {
        fprintf(stderr, "launcher status: %s\n", err);
        rundir_free(&f);
        return 2;
    }
    /* One look, so waiting longer than the live loop would is fine. */
    f.ctl_timeout_ms = 5000;
    for (size_t i = 0; i < f.n; i++) {
        fleet_node *n = &f.nodes[i];
        n->pid = 1;                 /* not ours: only marks it worth asking */
        if (fleet_poll_stats(&f, i, clock_mono_ms()) == 0)
            up++;
        n->pid = 0;
    }
    view_header h;
    memset(&h, 0, sizeof h);
    h.phase = up ? "running" : "not running";
    h.elapsed_ms = -1;
    printf("run %s: %zu of %zu daemons answering\n", a.run, up, f.n);
    view_table(stdout, &f, &h, 0);
    rundir_free(&f);
    return up ? 0 : 1;
}

/* Started with 0, 1 or 2 closed (`launcher ... <&-`), the next file opened
 * (the database, a control socket) would take that number, and printf or a
 * child's stdin would land in it: hold each with /dev/null first. */
static void std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
            exit(1);
}

int main(int argc, char **argv)
{
    launcher_opts o;
    char err[512];
    std_fds_open();
    if (argc >= 2 && strcmp(argv[1], "pow") == 0)
        return pow_cmd_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "attach") == 0)
        return cmd_attach(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "analyze") == 0)
        return analyze_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    /* Hidden until `launcher analyze` carries this section. */
    if (argc >= 2 && strcmp(argv[1], "analyze-adv") == 0)
        return analyze_adv_main(argc - 1, argv + 1);
    if (launcher_opts_parse(&o, argc, argv, getenv("MYSQL_PWD"), err, sizeof err) != 0) {
        fprintf(stderr, "launcher: %s\n", err);
        return 2;
    }
    if (o.help) {
        fputs(launcher_usage, stdout);
        return 0;
    }
    if (o.version) {
        printf("launcher %s\n", LAUNCHER_VERSION);
        return 0;
    }
    return sim_run(&o, argv[0]);
}
