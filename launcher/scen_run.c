/*
 * scen_run.c - a scenario's events applied to the fleet (scen_run.h).
 */
#include "scen_run.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/err.h"
#include "proto/msg.h"

/* A growing one-line text, cut where it no longer fits. */
typedef struct {
    char *p;
    size_t cap, len;
} line_buf;

static void addf(line_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(line_buf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->len + 1 >= b->cap)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

int scen_run_init(scen_run *r, scenario *sc, const char *run_id, db *d, scen_note_fn note,
                  void *note_ctx)
{
    size_t n = sc->n_nodes ? sc->n_nodes : 1;
    memset(r, 0, sizeof *r);
    r->stopped = calloc(n, 1);
    r->group = calloc(n, 1);
    r->sent_pid = calloc(n, sizeof *r->sent_pid);
    if (!r->stopped || !r->group || !r->sent_pid) {
        scen_run_free(r);
        return SG_ENOMEM;
    }
    r->sc = *sc;
    memset(sc, 0, sizeof *sc);
    r->run_id = run_id;
    r->d = d;
    r->note = note;
    r->note_ctx = note_ctx;
    return 0;
}

void scen_run_free(scen_run *r)
{
    scen_free(&r->sc);
    free(r->stopped);
    free(r->group);
    free(r->sent_pid);
    memset(r, 0, sizeof *r);
}

int scen_run_is_stopped(const scen_run *r, size_t i)
{
    return r->stopped && i < r->sc.n_nodes && r->stopped[i];
}

static void record(scen_run *r, int64_t at_ms, int line, const char *what, const char *target,
                   const char *arg, const char *outcome)
{
    db_event e;
    char note[600];
    memset(&e, 0, sizeof e);
    snprintf(e.run_id, sizeof e.run_id, "%s", r->run_id);
    e.seq = ++r->seq;
    e.t_ms = clock_wall_ms();
    e.at_ms = at_ms;
    e.line = line;
    snprintf(e.what, sizeof e.what, "%s", what);
    snprintf(e.target, sizeof e.target, "%s", target);
    snprintf(e.arg, sizeof e.arg, "%s", arg);
    snprintf(e.outcome, sizeof e.outcome, "%s", outcome);
    if (r->d)
        db_put_event(r->d, &e);
    if (r->note) {
        snprintf(note, sizeof note, "scenario at %.1f s: %s %s%s%s: %s",
                 (double)at_ms / 1000.0, what, target, arg[0] ? " " : "", arg, outcome);
        r->note(r->note_ctx, note);
    }
}

/* ---- control requests, each on a link of its own ------------------------- */

/* Sends one request to node i and returns its answer's payload. */
static int call(fleet *f, size_t i, uint8_t type, const uint8_t *pl, size_t len,
                uint8_t ack_type, uint8_t **ans, size_t *ans_len)
{
    ctl *c = NULL;
    int rc = fleet_connect(f, i, &c, SCEN_CTL_TIMEOUT_MS);
    if (rc == 0)
        rc = ctl_call(c, type, pl, len, ack_type, ans, ans_len, SCEN_CTL_TIMEOUT_MS);
    ctl_close(c);
    return rc;
}

/* Node i's deny-set: every node in another group (none after a heal). */
static int send_partition(scen_run *r, fleet *f, size_t i)
{
    proto_partition m = { 0, NULL };
    uint8_t *enc = NULL, *ans = NULL;
    size_t len = 0, alen = 0;
    uint32_t now = 0;
    int rc = 0;
    if (r->group[i] && !(m.names = calloc(f->n, sizeof *m.names)))
        return SG_ENOMEM;
    for (size_t k = 0; r->group[i] && k < f->n; k++)
        if (r->group[k] && r->group[k] != r->group[i])
            snprintf(m.names[m.n++], sizeof m.names[0], "%s", f->nodes[k].name);
    rc = proto_partition_encode(&m, &enc, &len);
    if (rc == 0)
        rc = call(f, i, PROTO_MSG_PARTITION, enc, len, PROTO_MSG_PARTITION_ACK, &ans, &alen);
    if (rc == 0 && (proto_u32_decode(ans, alen, &now) != 0 || now != m.n))
        rc = SG_EPROTO;
    if (rc == 0)
        r->sent_pid[i] = f->nodes[i].pid;
    free(enc);
    free(ans);
    free(m.names);
    return rc;
}

static int send_hashrate(fleet *f, size_t i, uint64_t rate)
{
    proto_hashrate m = { rate }, ack;
    uint8_t *enc = NULL, *ans = NULL;
    size_t len = 0, alen = 0;
    int rc = proto_hashrate_encode(&m, &enc, &len);
    if (rc == 0)
        rc = call(f, i, PROTO_MSG_HASHRATE, enc, len, PROTO_MSG_HASHRATE_ACK, &ans, &alen);
    if (rc == 0 && (proto_hashrate_decode(ans, alen, &ack) != 0 || ack.rate != rate))
        rc = SG_EPROTO;
    if (rc == 0)
        f->nodes[i].hashrate = rate;   /* a restart keeps the scenario's cap */
    free(enc);
    free(ans);
    return rc;
}

/* 1: on, 0: refused, else an SG_E* code. */
static int send_adversary(fleet *f, size_t i, const char *role)
{
    proto_adversary m;
    uint8_t *enc = NULL, *ans = NULL;
    size_t len = 0, alen = 0;
    memset(&m, 0, sizeof m);
    snprintf(m.role, sizeof m.role, "%s", role);
    int rc = proto_adversary_encode(&m, &enc, &len);
    if (rc == 0)
        rc = call(f, i, PROTO_MSG_ADVERSARY, enc, len, PROTO_MSG_ADVERSARY_ACK, &ans, &alen);
    if (rc == 0)
        rc = alen == 1 && ans[0] <= 1 ? ans[0] : SG_EPROTO;
    free(enc);
    free(ans);
    return rc;
}

/* ---- one event ------------------------------------------------------------ */

static int do_signal(scen_run *r, fleet *f, size_t i, int what, line_buf *out)
{
    static const int sig[] = { [SCEN_KILL] = SIGKILL, [SCEN_STOP] = SIGSTOP,
                               [SCEN_CONT] = SIGCONT };
    fleet_node *n = &f->nodes[i];
    if (n->pid <= 0) {
        addf(out, "%s: not running; ", n->name);
        return -1;
    }
    if (kill(n->pid, sig[what]) != 0) {
        addf(out, "%s: %s; ", n->name, strerror(errno));
        return -1;
    }
    /* A killed daemon's replacement runs; a stopped one must be continued. */
    r->stopped[i] = what == SCEN_STOP;
    return 0;
}

static int do_node(scen_run *r, fleet *f, size_t i, const scen_event *ev, line_buf *out)
{
    const char *name = f->nodes[i].name;
    int rc;
    switch (ev->what) {
    case SCEN_KILL:
    case SCEN_STOP:
    case SCEN_CONT:
        return do_signal(r, f, i, ev->what, out);
    case SCEN_HASHRATE:
        rc = f->nodes[i].pid > 0 ? send_hashrate(f, i, ev->rate) : SG_ECLOSED;
        break;
    case SCEN_MINING:
        if (f->nodes[i].pid <= 0) {
            rc = SG_ECLOSED;
            break;
        }
        fleet_set_mining_range(f, i, i + 1, ev->on, SCEN_CTL_TIMEOUT_MS);
        rc = f->nodes[i].mining_rc;
        break;
    case SCEN_ADVERSARY:
        rc = f->nodes[i].pid > 0 ? send_adversary(f, i, ev->role) : SG_ECLOSED;
        if (rc == 1)
            return 0;
        if (rc == 0) {
            addf(out, "%s: the daemon refused the role; ", name);
            return -1;
        }
        if (rc == SG_ECLOSED && f->nodes[i].pid > 0) {
            addf(out, "%s: the daemon dropped the request (it does not know ADVERSARY); ",
                 name);
            return -1;
        }
        break;
    default:
        return 0;
    }
    if (rc != 0)
        addf(out, "%s: %s; ", name, rc == SG_ECLOSED && f->nodes[i].pid <= 0
                                        ? "not running" : sg_strerror(rc));
    return rc ? -1 : 0;
}

/* partition and heal: every running node gets its set. */
static int do_partition(scen_run *r, fleet *f, const scen_event *ev, line_buf *out)
{
    int bad = 0;
    for (size_t i = 0; i < f->n; i++)
        r->group[i] = ev->what == SCEN_PARTITION ? ev->sel[i] : 0;
    r->partitioned = ev->what == SCEN_PARTITION;
    for (size_t i = 0; i < f->n; i++) {
        r->sent_pid[i] = 0;
        if (f->nodes[i].pid <= 0 || r->stopped[i]) {
            /* Sent when it answers again (scen_run_poll). */
            continue;
        }
        int rc = send_partition(r, f, i);
        if (rc != 0) {
            addf(out, "%s: %s; ", f->nodes[i].name, sg_strerror(rc));
            bad++;
        }
    }
    return bad ? -1 : 0;
}

static void describe(const scen_event *ev, const fleet *f, char *target, size_t tcap,
                     char *arg, size_t acap)
{
    line_buf t = { target, tcap, 0 };
    target[0] = arg[0] = '\0';
    if (ev->what == SCEN_PARTITION) {
        for (int g = 1; g <= ev->groups; g++) {
            addf(&t, "%s", g > 1 ? " | " : "");
            for (size_t i = 0, k = 0; i < f->n; i++)
                if (ev->sel[i] == g)
                    addf(&t, "%s%s", k++ ? "," : "", f->nodes[i].name);
        }
    } else if (ev->what == SCEN_HEAL) {
        addf(&t, "*");
    } else {
        for (size_t i = 0, k = 0; i < f->n; i++)
            if (ev->sel[i])
                addf(&t, "%s%s", k++ ? "," : "", f->nodes[i].name);
    }
    if (ev->what == SCEN_HASHRATE)
        snprintf(arg, acap, "%llu", (unsigned long long)ev->rate);
    else if (ev->what == SCEN_MINING)
        snprintf(arg, acap, "%s", ev->on ? "on" : "off");
    else if (ev->what == SCEN_ADVERSARY)
        snprintf(arg, acap, "%s", ev->role);
}

static void apply(scen_run *r, fleet *f, const scen_event *ev)
{
    char outcome[DB_OUTCOME_MAX], target[DB_TARGET_MAX], arg[DB_NAME_MAX];
    line_buf out = { outcome, sizeof outcome, 0 };
    int failed = 0;
    outcome[0] = '\0';
    if (ev->what == SCEN_PARTITION || ev->what == SCEN_HEAL) {
        failed = do_partition(r, f, ev, &out) != 0;
    } else {
        for (size_t i = 0; i < f->n && i < r->sc.n_nodes; i++)
            if (ev->sel[i] && do_node(r, f, i, ev, &out) != 0)
                failed = 1;
    }
    if (!failed)
        snprintf(outcome, sizeof outcome, "ok");
    else if (out.len >= 2 && outcome[out.len - 2] == ';')
        outcome[out.len - 2] = '\0';
    describe(ev, f, target, sizeof target, arg, sizeof arg);
    record(r, ev->at_ms, ev->line, scen_what_name(ev->what), target, arg, outcome);
}

/* A node that came back (restart, continue) while a partition holds. */
static void resend_partition(scen_run *r, fleet *f, int64_t elapsed_ms)
{
    char outcome[160];
    for (size_t i = 0; r->partitioned && i < f->n; i++) {
        const fleet_node *n = &f->nodes[i];
        if (n->pid <= 0 || r->stopped[i] || !n->have_stats || r->sent_pid[i] == n->pid)
            continue;
        int rc = send_partition(r, f, i);
        snprintf(outcome, sizeof outcome, "%s", rc == 0 ? "ok" : sg_strerror(rc));
        if (rc != 0)
            r->sent_pid[i] = n->pid;  /* tried; not again every tick */
        record(r, elapsed_ms, 0, "partition", n->name, "again after restart", outcome);
    }
}

int scen_run_poll(scen_run *r, fleet *f, int64_t elapsed_ms)
{
    int applied = 0;
    while (r->next < r->sc.n && r->sc.ev[r->next].at_ms <= elapsed_ms) {
        apply(r, f, &r->sc.ev[r->next++]);
        applied++;
    }
    resend_partition(r, f, elapsed_ms);
    return applied;
}

void scen_run_finish(scen_run *r, fleet *f, int64_t elapsed_ms)
{
    char target[DB_TARGET_MAX], outcome[DB_OUTCOME_MAX];
    line_buf t = { target, sizeof target, 0 }, out = { outcome, sizeof outcome, 0 };
    int any = 0, failed = 0;
    target[0] = outcome[0] = '\0';
    for (size_t i = 0; i < f->n && i < r->sc.n_nodes; i++) {
        if (!r->stopped[i])
            continue;
        addf(&t, "%s%s", any++ ? "," : "", f->nodes[i].name);
        failed |= do_signal(r, f, i, SCEN_CONT, &out) != 0;
    }
    if (any)
        record(r, elapsed_ms, 0, "cont", target, "end of run", failed ? outcome : "ok");
    if (r->partitioned) {
        scen_event heal = { .at_ms = elapsed_ms, .what = SCEN_HEAL };
        outcome[0] = '\0';
        out.len = 0;
        failed = do_partition(r, f, &heal, &out) != 0;
        record(r, elapsed_ms, 0, "heal", "*", "end of run", failed ? outcome : "ok");
    }
}

int scen_check_remote(const scenario *sc, const char *file, const uint8_t *remote,
                      const char *const *names, char *err, size_t cap)
{
    for (size_t k = 0; k < sc->n; k++) {
        const scen_event *ev = &sc->ev[k];
        if (ev->what != SCEN_KILL && ev->what != SCEN_STOP && ev->what != SCEN_CONT)
            continue;
        for (size_t i = 0; i < sc->n_nodes; i++) {
            if (!ev->sel[i] || !remote[i])
                continue;
            snprintf(err, cap, "scenario %s line %d: %s %s is not possible: %s runs on "
                     "another host, where the launcher's signal reaches only the remote "
                     "shell; use 'mining off' or a partition for it, or place it locally",
                     file, ev->line, scen_what_name(ev->what), names[i], names[i]);
            return SG_EINVAL;
        }
    }
    return 0;
}
