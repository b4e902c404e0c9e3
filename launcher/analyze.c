/*
 * analyze.c - perturbation recovery times from a run's database; see
 * analyze.h.
 */
#include "analyze.h"
#include "analyze_adv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "report.h"
#include "rundir.h"

/* The rounds of samples, folded as they stream in (ordered by t_ms). */
typedef struct {
    int64_t t;                      /* the round being read */
    size_t count;                   /* samples in it */
    int same;                       /* all with the first's tip, none empty */
    char tip[DB_HEX_MAX];
    int64_t *times;                 /* every finished round's time ... */
    uint8_t *ok;                    /* ... and whether it agreed */
    size_t n, cap;
    size_t nodes;
    int oom;
} rounds;

static void round_close(rounds *r)
{
    if (r->count == 0)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        int64_t *t = realloc(r->times, cap * sizeof *t);
        if (t)
            r->times = t;
        uint8_t *o = t ? realloc(r->ok, cap) : NULL;
        if (!t || !o) {
            r->oom = 1;
            return;
        }
        r->ok = o;
        r->cap = cap;
    }
    r->times[r->n] = r->t;
    r->ok[r->n++] = r->same && r->count >= r->nodes;
    r->count = 0;
}

static void row_sample(const db_row *row, void *arg)
{
    rounds *r = arg;
    int64_t t = db_row_int(row, 0);
    const char *tip = db_row_text(row, 1);
    if (r->count && t != r->t)
        round_close(r);
    if (r->count == 0) {
        r->t = t;
        r->same = tip[0] != '\0';
        snprintf(r->tip, sizeof r->tip, "%s", tip);
    } else if (strcmp(tip, r->tip) != 0) {
        r->same = 0;
    }
    r->count++;
}

static void row_nodes(const db_row *row, void *arg)
{
    *(size_t *)arg = (size_t)db_row_int(row, 0);
}

static void row_event(const db_row *row, void *arg)
{
    analyze_result *a = arg;
    analyze_event *g, *e;
    if (a->n % 64 == 0) {
        if (a->oom || !(g = realloc(a->ev, (a->n + 64) * sizeof *g))) {
            a->oom = 1;
            return;
        }
        a->ev = g;
    }
    e = &a->ev[a->n++];
    memset(e, 0, sizeof *e);
    e->seq = db_row_int(row, 0);
    e->t_ms = db_row_int(row, 1);
    e->at_ms = db_row_int(row, 2);
    e->line = db_row_int(row, 3);
    snprintf(e->what, sizeof e->what, "%s", db_row_text(row, 4));
    snprintf(e->target, sizeof e->target, "%s", db_row_text(row, 5));
    snprintf(e->arg, sizeof e->arg, "%s", db_row_text(row, 6));
    snprintf(e->outcome, sizeof e->outcome, "%s", db_row_text(row, 7));
    e->recovery_ms = -1;
}

static void row_probe(const db_row *row, void *arg)
{
    (void)row;
    (void)arg;
}

/* For each event, the first agreeing round stamped after it. */
static void recoveries(analyze_result *a, const rounds *r)
{
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) {
        analyze_event *e = &a->ev[i];
        while (k < r->n && r->times[k] <= e->t_ms)
            k++;
        for (size_t j = k; j < r->n; j++) {
            if (r->ok[j]) {
                e->recovery_ms = r->times[j] - e->t_ms;
                break;
            }
            e->split = 1;
        }
    }
}

int analyze_run(db_reader *db, const char *run_id, analyze_result *out, char *err,
                size_t cap)
{
    rounds r;
    char qerr[DB_ERR_MAX];
    int rc;
    memset(out, 0, sizeof *out);
    memset(&r, 0, sizeof r);
    rc = db_reader_query(db, "SELECT operators + prosumers + consumers FROM runs "
                         "WHERE run_id=?1", run_id, row_nodes, &out->nodes, qerr, sizeof qerr);
    if (rc == 0 && db_reader_query(db, "SELECT seq FROM events WHERE 1=0", NULL, row_probe,
                                   NULL, qerr, sizeof qerr) != 0) {
        /* A database from before scenarios: no events, nothing to say. */
        return 0;
    }
    if (rc == 0)
        rc = db_reader_query(db, "SELECT seq, t_ms, at_ms, line, what, target, arg, outcome "
                             "FROM events WHERE run_id=?1 ORDER BY seq", run_id, row_event,
                             out, qerr, sizeof qerr);
    out->have_tips = rc == 0 && db_reader_query(db, "SELECT tip FROM node_stats WHERE 1=0",
                                                NULL, row_probe, NULL, qerr,
                                                sizeof qerr) == 0;
    r.nodes = out->nodes;
    if (rc == 0 && out->have_tips)
        rc = db_reader_query(db, "SELECT t_ms, tip FROM node_stats WHERE run_id=?1 "
                             "ORDER BY t_ms, node", run_id, row_sample, &r, qerr, sizeof qerr);
    if (rc != 0) {
        snprintf(err, cap, "query failed: %s", qerr);
        rc = SG_EIO;
    } else {
        round_close(&r);
        if (r.oom || out->oom) {
            snprintf(err, cap, "out of memory");
            rc = SG_ENOMEM;
        }
    }
    if (rc == 0) {
        out->rounds = r.n;
        for (size_t i = 0; i < r.n; i++)
            out->agreed += r.ok[i];
        recoveries(out, &r);
    }
    free(r.times);
    free(r.ok);
    if (rc != 0)
        analyze_free(out);
    return rc;
}

void analyze_free(analyze_result *a)
{
    free(a->ev);
    memset(a, 0, sizeof *a);
}

void analyze_print(FILE *f, const analyze_result *a, const char *run_id)
{
    fprintf(f, "run %s: %zu nodes, %zu sample rounds, %zu of them on one tip\n", run_id,
            a->nodes, a->rounds, a->agreed);
    fprintf(f, "one tip: seconds from the event until the first sample round after it in "
            "which every node answered with the same tip; split: some round in between "
            "did not\n");
    if (!a->have_tips)
        fprintf(f, "(this database has no per-node tips: recovery times unknown)\n");
    if (a->n == 0) {
        fprintf(f, "no scenario events in this run\n");
        return;
    }
    fprintf(f, "%4s %9s %-10s %-28s %-16s %12s %6s  %s\n", "seq", "at (s)", "event", "nodes",
            "argument", "one tip (s)", "split", "outcome");
    for (size_t i = 0; i < a->n; i++) {
        const analyze_event *e = &a->ev[i];
        char rec[32];
        if (e->recovery_ms < 0)
            snprintf(rec, sizeof rec, "never");
        else
            snprintf(rec, sizeof rec, "%.1f", (double)e->recovery_ms / 1000.0);
        fprintf(f, "%4lld %9.1f %-10s %-28s %-16s %12s %6s  %s\n", (long long)e->seq,
                (double)e->at_ms / 1000.0, e->what, e->target, e->arg, rec,
                e->split ? "yes" : "no", e->outcome);
    }
}

int analyze_main(int argc, char **argv)
{
    char dir[PATH_MAX], err[2 * PATH_MAX + 256], run_id[DB_RUNID_MAX];
    const char *run = NULL;
    db_reader *db = NULL;
    analyze_result a;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--run") == 0 && i + 1 < argc) {
            run = argv[++i];
        } else {
            fprintf(stderr, "launcher analyze: unexpected '%s'; usage: launcher analyze "
                    "[--run DIR]\n", argv[i]);
            return 2;
        }
    }
    if (!run) {
        if (rundir_latest(dir, sizeof dir) != 0) {
            fprintf(stderr, "launcher analyze: no run found under runs/; pass --run DIR\n");
            return 2;
        }
        run = dir;
    }
    if (report_open_run(run, NULL, &db, run_id, sizeof run_id, err, sizeof err) != 0) {
        fprintf(stderr, "launcher analyze: %s\n", err);
        return 1;
    }
    int rc = analyze_run(db, run_id, &a, err, sizeof err);
    if (rc != 0) {
        db_reader_close(db);
        fprintf(stderr, "launcher analyze: %s\n", err);
        return 1;
    }
    analyze_print(stdout, &a, run_id);
    analyze_free(&a);
    /* The adversaries' effect (analyze_adv.h), in runs that had any. */
    if (analyze_adv_count(db, run_id) > 0) {
        fputc('\n', stdout);
        rc = analyze_adv_run(db, run_id, stdout);
    }
    db_reader_close(db);
    return rc == 0 ? 0 : 1;
}

/* The hidden `launcher analyze-adv --run-dir DIR` (analyze_adv.h); here,
 * with the other reader of a finished run's store. */
int analyze_adv_main(int argc, char **argv)
{
    char run_id[DB_RUNID_MAX], err[2 * PATH_MAX + 256];
    const char *dir = NULL;
    db_reader *r = NULL;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--run-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
    if (!dir) {
        fprintf(stderr, "launcher analyze-adv: --run-dir DIR is required\n");
        return 2;
    }
    if (report_open_run(dir, NULL, &r, run_id, sizeof run_id, err, sizeof err) != 0) {
        fprintf(stderr, "launcher analyze-adv: %s\n", err);
        return 1;
    }
    int rc = analyze_adv_run(r, run_id, stdout);
    db_reader_close(r);
    return rc == 0 ? 0 : 1;
}
