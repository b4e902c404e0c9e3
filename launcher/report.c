/*
 * report.c - DIR/report.html from DIR/run.db; see report.h.
 *
 * Every chart is a small data model (series of points, or categories of
 * grouped bars) filled by one SQL query and drawn by one of two SVG
 * renderers, so axes, ticks, labels and legends look the same everywhere.
 * Floating point is fine here: the report is presentation, never hashed,
 * signed or validated.
 */
#include "report.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "launcher/db/db.h"
#include "common/base/err.h"
#include "analyze.h"

#define RP_SERIES_MAX 24
#define RP_CATS_MAX 64
#define RP_W 760
#define RP_H 320
#define RP_ML 78                     /* margins: room for tick labels and axis titles */
#define RP_MR 170                    /* legend column */
#define RP_MT 16
#define RP_MB 56
#define RP_MARKS_MAX 64              /* scenario events drawn on a time chart */

static const char *const palette[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

typedef struct {
    char name[64];
    double *x, *y;
    size_t n, cap;
} rp_series;

typedef struct {
    const char *id, *title, *xlabel, *ylabel, *about;
    int bars;                        /* grouped bars over cats, else lines */
    rp_series s[RP_SERIES_MAX];
    size_t ns;
    char cats[RP_CATS_MAX][32];
    size_t ncats;
    char note[512];
    int failed;                      /* out of memory */
    /* Time charts: the run's scenario events, as dashed vertical lines. */
    struct { double x; char label[48]; } marks[RP_MARKS_MAX];
    size_t nmarks;
} rp_chart;

static rp_series *series_get(rp_chart *c, const char *name)
{
    for (size_t i = 0; i < c->ns; i++)
        if (strcmp(c->s[i].name, name) == 0)
            return &c->s[i];
    if (c->ns == RP_SERIES_MAX)
        return NULL;
    rp_series *s = &c->s[c->ns++];
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

static void series_add(rp_chart *c, const char *name, double x, double y)
{
    rp_series *s = series_get(c, name);
    if (!s)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (nx)
            s->x = nx;
        double *ny = nx ? realloc(s->y, cap * sizeof *ny) : NULL;
        if (!ny) {
            c->failed = 1;
            return;
        }
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

static void chart_free(rp_chart *c)
{
    for (size_t i = 0; i < c->ns; i++) {
        free(c->s[i].x);
        free(c->s[i].y);
    }
}

static const char css[] =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:980px}"
    "h1{font-size:22px}h2{font-size:17px;margin:28px 0 4px}p{margin:4px 0 8px}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px;"
    "text-align:left;font-size:13px}pre{font-size:12px;white-space:pre-wrap}"
    "svg{background:#fff;border:1px solid #ddd}";

/* Inside each <svg> so a chart copied out of the page keeps its look. */
static const char svg_css[] =
    "text{font-family:sans-serif}"
    ".grid{stroke:#e4e4e4}.axisline{stroke:#444}.tick{font-size:11px;fill:#333}"
    ".axis{font-size:12px;fill:#111}.series{fill:none;stroke-width:1.5}"
    ".mark{stroke:#555;stroke-dasharray:4 3}.marktext{font-size:10px;fill:#555}";

/* ---- drawing ------------------------------------------------------------- */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A tick step of 1, 2 or 5 times a power of ten giving about n ticks. */
static double nice_step(double range, int n)
{
    if (range <= 0)
        return 1;
    double raw = range / n, mag = pow(10, floor(log10(raw)));
    double r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

static void fmt_num(double v, char *buf, size_t cap)
{
    double a = fabs(v);
    if (a >= 1e9)
        snprintf(buf, cap, "%gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, cap, "%gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, cap, "%gk", v / 1e3);
    else
        snprintf(buf, cap, "%g", fabs(v) < 1e-12 ? 0.0 : v);
}

typedef struct {
    double x0, x1, y0, y1;
} rp_box;

static double px(const rp_box *b, double x)
{
    return RP_ML + (x - b->x0) / (b->x1 - b->x0) * (RP_W - RP_ML - RP_MR);
}

static double py(const rp_box *b, double y)
{
    return RP_H - RP_MB - (y - b->y0) / (b->y1 - b->y0) * (RP_H - RP_MT - RP_MB);
}

/* The y axis with ticks and grid lines; y0/y1 are widened to ticks. */
static void y_axis(FILE *f, rp_box *b, const char *label)
{
    double step = nice_step(b->y1 - b->y0, 5);
    char num[32];
    b->y0 = floor(b->y0 / step) * step;
    b->y1 = ceil(b->y1 / step) * step;
    if (b->y1 <= b->y0)
        b->y1 = b->y0 + step;
    for (double v = b->y0; v <= b->y1 + step / 2; v += step) {
        fmt_num(v, num, sizeof num);
        fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                   "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                RP_ML, py(b, v), RP_W - RP_MR, py(b, v), RP_ML - 6, py(b, v) + 4, num);
    }
    fprintf(f, "<text class=\"axis\" transform=\"translate(16,%d) rotate(-90)\" "
               "text-anchor=\"middle\">", (RP_H - RP_MB + RP_MT) / 2);
    esc(f, label);
    fprintf(f, "</text>\n<line class=\"axisline\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
               "<line class=\"axisline\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
            RP_ML, RP_MT, RP_ML, RP_H - RP_MB, RP_ML, RP_H - RP_MB, RP_W - RP_MR, RP_H - RP_MB);
}

static void x_title(FILE *f, const char *label)
{
    fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
            (RP_ML + RP_W - RP_MR) / 2, RP_H - 10);
    esc(f, label);
    fputs("</text>\n", f);
}

static void legend(FILE *f, const rp_chart *c)
{
    for (size_t i = 0; i < c->ns; i++) {
        int y = RP_MT + 8 + (int)i * 18;
        fprintf(f, "<rect class=\"key\" x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" "
                   "fill=\"%s\"/><text class=\"tick\" x=\"%d\" y=\"%d\">",
                RP_W - RP_MR + 14, y, palette[i % 10], RP_W - RP_MR + 32, y + 10);
        esc(f, c->s[i].name);
        fputs("</text>\n", f);
    }
}

/* Scenario events: a dashed line each, labels staggered so that events
 * close together stay readable, the whole text in a tooltip. */
static void draw_marks(FILE *f, const rp_chart *c, const rp_box *b)
{
    for (size_t i = 0; i < c->nmarks; i++) {
        double x = px(b, c->marks[i].x);
        fprintf(f, "<g class=\"event\"><title>");
        esc(f, c->marks[i].label);
        fprintf(f, " at %.1f s</title><line class=\"mark\" x1=\"%.1f\" y1=\"%d\" "
                   "x2=\"%.1f\" y2=\"%d\"/><text class=\"marktext\" x=\"%.1f\" "
                   "y=\"%d\">", c->marks[i].x, x, RP_MT, x, RP_H - RP_MB, x + 2,
                RP_MT + 10 + (int)(i % 4) * 11);
        esc(f, c->marks[i].label);
        fputs("</text></g>\n", f);
    }
}

static void draw_lines(FILE *f, const rp_chart *c)
{
    rp_box b = { INFINITY, -INFINITY, 0, -INFINITY };
    char num[32];
    for (size_t i = 0; i < c->nmarks; i++) {
        b.x0 = fmin(b.x0, c->marks[i].x);
        b.x1 = fmax(b.x1, c->marks[i].x);
    }
    for (size_t i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i].n; k++) {
            b.x0 = fmin(b.x0, c->s[i].x[k]);
            b.x1 = fmax(b.x1, c->s[i].x[k]);
            b.y0 = fmin(b.y0, c->s[i].y[k]);
            b.y1 = fmax(b.y1, c->s[i].y[k]);
        }
    if (b.x1 <= b.x0)
        b.x1 = b.x0 + 1;
    y_axis(f, &b, c->ylabel);
    double step = nice_step(b.x1 - b.x0, 6);
    for (double v = ceil(b.x0 / step) * step; v <= b.x1 + step * 1e-9; v += step) {
        fmt_num(v, num, sizeof num);
        fprintf(f, "<line class=\"axisline\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                px(&b, v), RP_H - RP_MB, px(&b, v), RP_H - RP_MB + 5, px(&b, v),
                RP_H - RP_MB + 18, num);
    }
    x_title(f, c->xlabel);
    for (size_t i = 0; i < c->ns; i++) {
        const rp_series *s = &c->s[i];
        const char *col = palette[i % 10];
        fprintf(f, "<polyline class=\"series\" stroke=\"%s\" points=\"", col);
        for (size_t k = 0; k < s->n; k++)
            fprintf(f, "%s%.1f,%.1f", k ? " " : "", px(&b, s->x[k]), py(&b, s->y[k]));
        fputs("\"/>\n", f);
        /* Markers on at most ~200 points per series keep the file small. */
        size_t every = s->n / 200 + 1;
        for (size_t k = 0; k < s->n; k += every)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>",
                    px(&b, s->x[k]), py(&b, s->y[k]), col);
        fputc('\n', f);
    }
    draw_marks(f, c, &b);
}

static void draw_bars(FILE *f, const rp_chart *c)
{
    rp_box b = { 0, (double)c->ncats, 0, 0 };
    for (size_t i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i].n; k++)
            b.y1 = fmax(b.y1, c->s[i].y[k]);
    y_axis(f, &b, c->ylabel);
    double group = (double)(RP_W - RP_ML - RP_MR) / (double)c->ncats;
    double bw = group * 0.8 / (double)(c->ns ? c->ns : 1);
    size_t every = c->ncats / 16 + 1;
    for (size_t k = 0; k < c->ncats; k += every) {
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
                RP_ML + group * ((double)k + 0.5), RP_H - RP_MB + 16);
        esc(f, c->cats[k]);
        fputs("</text>\n", f);
    }
    x_title(f, c->xlabel);
    for (size_t i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i].n; k++) {
            double x = RP_ML + group * (c->s[i].x[k] + 0.1) + bw * (double)i;
            double top = py(&b, c->s[i].y[k]);
            fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\" fill=\"%s\"><title>", x, top, bw,
                    RP_H - RP_MB - top, palette[i % 10]);
            esc(f, c->s[i].name);
            fprintf(f, " %s: %g</title></rect>\n", c->cats[(size_t)c->s[i].x[k]],
                    c->s[i].y[k]);
        }
}

static void draw_chart(FILE *f, const rp_chart *c)
{
    size_t points = 0;
    for (size_t i = 0; i < c->ns; i++)
        points += c->s[i].n;
    fprintf(f, "<section>\n<h2>");
    esc(f, c->title);
    fputs("</h2>\n<p>", f);
    esc(f, c->about);
    if (c->note[0]) {
        fputs(" ", f);
        esc(f, c->note);
    }
    fputs("</p>\n", f);
    if (points == 0) {
        fprintf(f, "<p class=\"empty\" id=\"%s\">No data for this chart in this run.</p>\n"
                   "</section>\n", c->id);
        return;
    }
    fprintf(f, "<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n<title>", c->id, RP_W,
            RP_H, RP_W, RP_H);
    esc(f, c->title);
    fprintf(f, "</title>\n<style>%s</style>\n", svg_css);
    if (c->bars)
        draw_bars(f, c);
    else
        draw_lines(f, c);
    legend(f, c);
    fputs("</svg>\n</section>\n", f);
}

/* ---- queries ------------------------------------------------------------- */

typedef struct {
    db_reader *db;
    char run_id[64];
    char err[2 * PATH_MAX + 128];
} rp_ctx;

/* Runs sql with ?1 = run id and calls row() per result row.  The queries
 * are plain SQL that SQLite and MySQL/MariaDB both accept. */
static int query(rp_ctx *r, const char *sql, db_row_fn row, void *arg)
{
    char err[DB_ERR_MAX];
    if (db_reader_query(r->db, sql, r->run_id, row, arg, err, sizeof err) != 0) {
        snprintf(r->err, sizeof r->err, "query failed: %s", err);
        return SG_EIO;
    }
    return 0;
}

/* Column i as a double (integers and MySQL's DECIMAL sums alike). */
static double col_d(const db_row *row, int i)
{
    return (double)db_row_int(row, i);
}

typedef struct {
    rp_chart *price, *traded, *grid;
} market_charts;

static void row_market(const db_row *st, void *arg)
{
    market_charts *m = arg;
    double k = col_d(st, 0);
    series_add(m->price, "clearing price", k, col_d(st, 1) / 1e6);
    series_add(m->traded, "traded peer to peer", k, col_d(st, 2));
    series_add(m->grid, "grid import", k, col_d(st, 3));
    series_add(m->grid, "grid export", k, col_d(st, 4));
}

static void row_orders(const db_row *st, void *arg)
{
    rp_chart *c = arg;
    double k = col_d(st, 0);
    series_add(c, "offered surplus", k, col_d(st, 1));
    series_add(c, "bid deficit", k, col_d(st, 2));
}

/* Category charts: column 0 names the category, the others are series. */
typedef struct {
    rp_chart *c;
    const char *names[4];
} cat_rows;

static void row_cats(const db_row *st, void *arg)
{
    cat_rows *cr = arg;
    rp_chart *c = cr->c;
    if (c->ncats == RP_CATS_MAX)
        return;
    const char *name = st->vals[0];
    snprintf(c->cats[c->ncats], sizeof c->cats[0], "%s", name ? name : "?");
    for (int i = 0; i < 4 && cr->names[i]; i++)
        series_add(c, cr->names[i], (double)c->ncats, col_d(st, i + 1));
    c->ncats++;
}

/* (series name, ms, value) rows: one line per name, x in seconds. */
static void row_timeline(const db_row *st, void *arg)
{
    rp_chart *c = arg;
    const char *name = st->vals[0];
    series_add(c, name ? name : "?", col_d(st, 1) / 1000.0, col_d(st, 2));
}

typedef struct {
    int64_t *v;
    size_t n, cap;
    int failed;
} int_list;

static void row_int(const db_row *st, void *arg)
{
    int_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        int64_t *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            l->failed = 1;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    int64_t v = db_row_int(st, 0);
    l->v[l->n++] = v < 0 ? 0 : v;    /* first sightings by different nodes */
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A histogram of values in ms over at most 20 bins of a nice width. */
static void histogram(rp_chart *c, int_list *l, const char *series)
{
    if (l->n == 0)
        return;
    qsort(l->v, l->n, sizeof l->v[0], cmp_i64);
    int64_t max = l->v[l->n - 1];
    /* The top 1 % stays out of the range so one straggler cannot squash
     * every other bar into the first bin; it lands in the last one. */
    int64_t hi = l->v[(l->n - 1) * 99 / 100];
    if (hi == 0)
        hi = max;                /* else every value would share one bin */
    double w = nice_step((double)(hi + 1), 20);
    if (w < 1)
        w = 1;                   /* the values are whole milliseconds */
    size_t nb = (size_t)ceil((double)(hi + 1) / w);
    if (nb < 1)
        nb = 1;
    if (nb > 20)
        nb = 20;
    double counts[21] = { 0 };
    for (size_t i = 0; i < l->n; i++) {
        size_t k = (size_t)((double)l->v[i] / w);
        counts[k >= nb ? nb - 1 : k]++;
    }
    for (size_t k = 0; k < nb; k++) {
        if (k + 1 == nb && max >= (int64_t)((double)nb * w))
            snprintf(c->cats[k], sizeof c->cats[0], "%g+", (double)k * w);
        else
            snprintf(c->cats[k], sizeof c->cats[0], "%g", (double)k * w);
        series_add(c, series, (double)k, counts[k]);
    }
    c->ncats = nb;
    snprintf(c->note, sizeof c->note, "%zu values; median %lld ms, 99th percentile %lld ms, "
             "max %lld ms. Bars are labelled with the start of their bin (width %g ms).",
             l->n, (long long)l->v[l->n / 2], (long long)hi, (long long)max, w);
}

/* ---- the page ------------------------------------------------------------ */

/* Unix seconds as UTC, "running" for 0 (a run not yet ended). */
static void utc_time(int64_t s, char *out, size_t cap)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (s == 0 || !gmtime_r(&t, &tm))
        snprintf(out, cap, "running");
    else
        strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static void row_params(const db_row *st, void *arg)
{
    FILE *f = arg;
    char when[32];
    fputs("<table>\n", f);
    for (int i = 0; i < st->n; i++) {
        const char *name = st->names[i], *v = db_row_text(st, i);
        if (strcmp(name, "params") == 0)
            continue;
        fputs("<tr><th>", f);
        if (strcmp(name, "started_at_s") == 0 || strcmp(name, "ended_at_s") == 0) {
            utc_time(db_row_int(st, i), when, sizeof when);
            esc(f, name[0] == 's' ? "started_utc" : "ended_utc");
            v = when;
        } else {
            esc(f, name);
        }
        fputs("</th><td>", f);
        esc(f, v);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<details><summary>every launcher option (JSON)</summary><pre>", f);
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->names[i], "params") == 0)
            esc(f, db_row_text(st, i));
    fputs("</pre></details>\n", f);
}

static void row_summary(const db_row *st, void *arg)
{
    rp_chart *c = arg;
    int64_t total = db_row_int(st, 0), stale = db_row_int(st, 1);
    snprintf(c->note, sizeof c->note, "%lld blocks seen, %lld stale: stale-block rate %.1f %%.",
             (long long)total, (long long)stale,
             total ? 100.0 * (double)stale / (double)total : 0.0);
}

/* Whether the run's database has the measured latency columns (runs
 * stored before they existed do not). */
static void row_none(const db_row *st, void *arg)
{
    (void)st;
    (void)arg;
}

static int has_columns(rp_ctx *r, const char *probe)
{
    char err[DB_ERR_MAX];
    return db_reader_query(r->db, probe, NULL, row_none, NULL, err, sizeof err) == 0;
}

typedef struct {
    rp_chart *c;
    double sum, max;
    size_t n;
} lag_rows;

static void row_lag(const db_row *st, void *arg)
{
    lag_rows *l = arg;
    double s = col_d(st, 1) / 1000.0;
    series_add(l->c, "interval end to settlement", col_d(st, 0), s);
    l->sum += s;
    l->max = l->n++ ? fmax(l->max, s) : s;
}

/* (seconds, what, nodes) of a scenario event on a time chart. */
static void row_mark(const db_row *st, void *arg)
{
    rp_chart *c = arg;
    if (c->nmarks == RP_MARKS_MAX)
        return;
    c->marks[c->nmarks].x = col_d(st, 0) / 1000.0;
    snprintf(c->marks[c->nmarks].label, sizeof c->marks[0].label, "%s %s",
             db_row_text(st, 1), db_row_text(st, 2));
    c->nmarks++;
}

/* The scenario's events on chart c, x from the first row of `origin`. */
static int chart_marks(rp_ctx *r, rp_chart *c, const char *origin)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT t_ms - (SELECT MIN(t_ms) FROM %s WHERE run_id=?1), "
             "what, target FROM events WHERE run_id=?1 ORDER BY seq", origin);
    return query(r, sql, row_mark, c);
}

static void row_money(const db_row *st, void *arg)
{
    cat_rows *cr = arg;
    rp_chart *c = cr->c;
    if (c->ncats == RP_CATS_MAX)
        return;
    snprintf(c->cats[c->ncats], sizeof c->cats[0], "%s", st->vals[0] ? st->vals[0] : "?");
    for (int i = 0; i < 3; i++)
        series_add(c, cr->names[i], (double)c->ncats, col_d(st, i + 1) / 1e6);
    c->ncats++;
}

static int charts(rp_ctx *r, FILE *f)
{
    static const char *both[] = { "best chain", "stale" };
    rp_chart c[13];
    memset(c, 0, sizeof c);
    c[0] = (rp_chart){ .id = "chart-price", .title = "Clearing price per market interval",
        .xlabel = "market interval (number)", .ylabel = "price (money units per kWh)",
        .about = "The uniform/pay-as-bid/mid-market price of each settled interval." };
    c[1] = (rp_chart){ .id = "chart-traded", .title = "Energy traded peer to peer per interval",
        .xlabel = "market interval (number)", .ylabel = "energy (Wh)",
        .about = "Energy matched between households by each settlement." };
    c[2] = (rp_chart){ .id = "chart-grid", .title = "Grid import and export per interval",
        .xlabel = "market interval (number)", .ylabel = "energy (Wh)",
        .about = "Energy bids took from the grid and offers fed into it instead of trading." };
    c[3] = (rp_chart){ .id = "chart-community", .title = "Community PV surplus and load deficit",
        .xlabel = "market interval (number)", .ylabel = "energy (Wh)",
        .about = "Sum over households of the offered surplus (PV minus load, after the "
                 "battery) and the bid deficit (load minus PV) per interval, from the "
                 "signed orders. Gross PV and load per interval are not stored; their run "
                 "totals per household follow." };
    c[4] = (rp_chart){ .id = "chart-pvload", .title = "PV produced and load consumed per household",
        .xlabel = "household", .ylabel = "energy over the run (Wh)", .bars = 1,
        .about = "Cumulative model output at the end of the run." };
    c[5] = (rp_chart){ .id = "chart-blockint", .title = "Block interval histogram (best chain)",
        .xlabel = "time between a block and its parent by their header times (s)",
        .ylabel = "blocks", .bars = 1,
        .about = "Header time of each best-chain block minus that of its parent, in the "
                 "whole seconds the headers carry. The difficulty rule steers the mean "
                 "towards --block-interval; block finding is memoryless, so the intervals "
                 "spread out exponentially around it." };
    c[6] = (rp_chart){ .id = "chart-stale", .title = "Best-chain and stale blocks per miner",
        .xlabel = "miner", .ylabel = "blocks", .bars = 1,
        .about = "Blocks above genesis that stayed on the best chain or went stale." };
    c[7] = (rp_chart){ .id = "chart-hashrate", .title = "Hash rate per node",
        .xlabel = "time since the first sample (s)", .ylabel = "hash rate (hashes per second)",
        .about = "Each daemon's measured mining rate, sampled about once a second." };
    int measured = has_columns(r, "SELECT broadcast_ms, included_ms FROM transactions "
                                  "WHERE 1=0");
    int lagged = has_columns(r, "SELECT settled_ms, closed_ms FROM market_intervals WHERE 1=0");
    int paid = has_columns(r, "SELECT energy_paid, energy_received, rewards FROM nodes "
                              "WHERE 1=0");
    c[8] = (rp_chart){ .id = "chart-latency", .title = "Transaction latency",
        .xlabel = "broadcast to first inclusion (ms)", .ylabel = "transactions", .bars = 1,
        .about = measured
            ? "Measured by the node that created each transaction (orders and settlements), "
              "on its own clock: from broadcasting it to a block holding it first "
              "connecting to that node's chain (a block that later went stale counts). "
              "Transactions evicted from a node's bounded tracker, or never mined, are "
              "not shown (see sg_tx_latency_dropped_total)."
            : "This run's database predates measured latency: first-seen time of the "
              "including best-chain block minus the stored first-seen time of the "
              "transaction, as the launcher saw them." };
    c[9] = (rp_chart){ .id = "chart-settlelag", .title = "Settlement lag per market interval",
        .xlabel = "market interval (number)", .ylabel = "lag (s)",
        .about = "From the end of each interval to the launcher first seeing the best-chain "
                 "block that carries its settlement (market_intervals.settled_ms - "
                 "closed_ms; the launcher reads the block stores a few times a second). "
                 "Intervals whose settlement is not on the best chain are not shown." };
    c[10] = (rp_chart){ .id = "chart-money", .title = "Money for energy and block rewards per node",
        .xlabel = "node", .ylabel = "money units over the run", .bars = 1,
        .about = "On the best chain: paid for energy bought (peer to peer and grid import) "
                 "and received for energy sold (peer to peer and feed-in), apart from block "
                 "rewards. The operator's account is the grid: it takes every payment and "
                 "makes every receipt." };
    c[11] = (rp_chart){ .id = "chart-totals", .title = "The run over time",
        .xlabel = "time since the first sample (s)", .ylabel = "energy so far (Wh)",
        .about = "The run's aggregates (simulation_stats), about once a second: energy "
                 "traded peer to peer and taken from or fed into the grid, settled on the "
                 "best chain so far." };
    c[12] = (rp_chart){ .id = "chart-tips", .title = "Distinct tips among the nodes",
        .xlabel = "time since the first sample (s)", .ylabel = "tips (count)",
        .about = "How many different best blocks the nodes that answered reported in each "
                 "round of samples (node_stats.tip): 1 when they agree. A partition shows "
                 "as a plateau above 1 until the heal. Dashed lines: scenario events." };
    int totals = has_columns(r, "SELECT total_energy_traded_wh FROM simulation_stats WHERE 1=0");
    int tips = has_columns(r, "SELECT tip FROM node_stats WHERE 1=0");
    int events = has_columns(r, "SELECT seq, what, target FROM events WHERE 1=0");
    lag_rows lr = { &c[9], 0, 0, 0 };
    cat_rows money = { &c[10], { "energy paid", "energy received", "block rewards", NULL } };
    market_charts mc = { &c[0], &c[1], &c[2] };
    cat_rows pv = { &c[4], { "PV produced", "load consumed", NULL, NULL } };
    cat_rows stale = { &c[6], { both[0], both[1], NULL, NULL } };
    int_list bi = { 0 }, lat = { 0 };
    int rc = query(r, "SELECT interval_no, clearing_price, traded_wh, grid_import_wh, "
                      "grid_export_wh FROM market_intervals WHERE run_id=?1 "
                      "ORDER BY interval_no", row_market, &mc);
    if (rc == 0)
        rc = query(r, "SELECT interval_no, SUM(CASE WHEN kind='offer' THEN energy_wh ELSE 0 END),"
                      " SUM(CASE WHEN kind='bid' THEN energy_wh ELSE 0 END) FROM transactions "
                      "WHERE run_id=?1 AND kind IN ('offer','bid') GROUP BY interval_no "
                      "ORDER BY interval_no", row_orders, &c[3]);
    if (rc == 0)
        rc = query(r, "SELECT name, produced_wh, consumed_wh FROM nodes WHERE run_id=?1 "
                      "AND role<>'operator' ORDER BY role DESC, name", row_cats, &pv);
    if (rc == 0)
        rc = query(r, "SELECT b.time_s - p.time_s FROM blocks b JOIN blocks p "
                      "ON p.run_id=b.run_id AND p.hash=b.prev_hash WHERE b.run_id=?1 "
                      "AND b.stale=0 AND p.stale=0", row_int, &bi);
    if (rc == 0)
        rc = query(r, "SELECT MAX(COALESCE(n.name, SUBSTR(b.miner,1,8))), SUM(b.stale=0), "
                      "SUM(b.stale=1) FROM blocks b LEFT JOIN nodes n ON n.run_id=b.run_id "
                      "AND n.pubkey=b.miner WHERE b.run_id=?1 AND b.height>0 "
                      "GROUP BY b.miner ORDER BY 1", row_cats, &stale);
    if (rc == 0)
        rc = query(r, "SELECT COUNT(*), COALESCE(SUM(stale),0) FROM blocks WHERE run_id=?1 "
                      "AND height>0", row_summary, &c[6]);
    if (rc == 0)
        rc = query(r, "SELECT node, t_ms - (SELECT MIN(t_ms) FROM node_stats WHERE "
                      "run_id=?1), hashrate FROM node_stats WHERE run_id=?1 "
                      "ORDER BY node, t_ms", row_timeline, &c[7]);
    if (rc == 0 && measured)
        rc = query(r, "SELECT included_ms - broadcast_ms FROM transactions WHERE run_id=?1 "
                      "AND included_ms IS NOT NULL AND broadcast_ms IS NOT NULL",
                   row_int, &lat);
    else if (rc == 0)
        rc = query(r, "SELECT b.first_seen_ms - t.first_seen_ms FROM transactions t JOIN "
                      "blocks b ON b.run_id=t.run_id AND b.hash=t.block_hash "
                      "WHERE t.run_id=?1 AND t.kind<>'coinbase'", row_int, &lat);
    if (rc == 0 && lagged)
        rc = query(r, "SELECT interval_no, settled_ms - closed_ms FROM market_intervals "
                      "WHERE run_id=?1 AND settled_ms IS NOT NULL ORDER BY interval_no",
                   row_lag, &lr);
    if (rc == 0 && totals)
        rc = query(r, "SELECT s.name, t_ms - (SELECT MIN(t_ms) FROM simulation_stats WHERE "
                      "run_id=?1), CASE s.k WHEN 0 THEN total_energy_traded_wh WHEN 1 THEN "
                      "grid_import_wh ELSE grid_export_wh END FROM simulation_stats, (SELECT "
                      "0 AS k, 'traded peer to peer' AS name UNION ALL SELECT 1, 'grid import' "
                      "UNION ALL SELECT 2, 'grid export') s WHERE run_id=?1 ORDER BY s.k, t_ms",
                   row_timeline, &c[11]);
    if (rc == 0 && paid)
        rc = query(r, "SELECT name, energy_paid, energy_received, rewards FROM nodes "
                      "WHERE run_id=?1 ORDER BY role DESC, name", row_money, &money);
    if (rc == 0 && tips)
        rc = query(r, "SELECT 'distinct tips', t_ms - (SELECT MIN(t_ms) FROM node_stats WHERE "
                      "run_id=?1), COUNT(DISTINCT tip) FROM node_stats WHERE run_id=?1 "
                      "AND tip<>'' GROUP BY t_ms ORDER BY t_ms", row_timeline, &c[12]);
    if (rc == 0 && events)
        rc = chart_marks(r, &c[7], "node_stats");
    if (rc == 0 && events)
        rc = chart_marks(r, &c[12], "node_stats");
    if (rc == 0 && events && totals)
        rc = chart_marks(r, &c[11], "simulation_stats");
    if (lr.n)
        snprintf(c[9].note, sizeof c[9].note, "%zu intervals settled; mean lag %.1f s, "
                 "max %.1f s.", lr.n, lr.sum / (double)lr.n, lr.max);
    if (rc == 0) {
        histogram(&c[5], &bi, "blocks");
        histogram(&c[8], &lat, "transactions");
        int failed = bi.failed || lat.failed;
        for (int i = 0; i < 13; i++)
            failed |= c[i].failed;
        if (failed) {
            snprintf(r->err, sizeof r->err, "out of memory");
            rc = SG_ENOMEM;
        }
    }
    for (int i = 0; i < 13; i++) {
        if (rc == 0)
            draw_chart(f, &c[i]);
        chart_free(&c[i]);
    }
    free(bi.v);
    free(lat.v);
    return rc;
}

/* The scenario's events with the time until the nodes shared one tip
 * again (analyze.h); nothing for a run without a scenario. */
static int events_section(rp_ctx *r, FILE *f)
{
    analyze_result a;
    char err[DB_ERR_MAX];
    if (analyze_run(r->db, r->run_id, &a, err, sizeof err) != 0) {
        snprintf(r->err, sizeof r->err, "%s", err);
        return SG_EIO;
    }
    if (a.n) {
        fputs("<section>\n<h2>Scenario events</h2>\n<p>Each event as the launcher applied "
              "it (table events) and the seconds until every node answered with the same "
              "tip again: the first round of samples after the event in which all did "
              "(exact to one sample round, about a second; never early). Split: some round "
              "in between disagreed.</p>\n<table id=\"events\">\n<tr><th>at (s)</th>"
              "<th>event</th><th>nodes</th><th>argument</th><th>one tip after (s)</th>"
              "<th>split</th><th>outcome</th></tr>\n", f);
        for (size_t i = 0; i < a.n; i++) {
            const analyze_event *e = &a.ev[i];
            fprintf(f, "<tr><td>%.1f</td><td>", (double)e->at_ms / 1000.0);
            esc(f, e->what);
            fputs("</td><td>", f);
            esc(f, e->target);
            fputs("</td><td>", f);
            esc(f, e->arg);
            if (e->recovery_ms < 0)
                fputs("</td><td>never", f);
            else
                fprintf(f, "</td><td>%.1f", (double)e->recovery_ms / 1000.0);
            fprintf(f, "</td><td>%s</td><td>", e->split ? "yes" : "no");
            esc(f, e->outcome);
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n</section>\n", f);
    }
    analyze_free(&a);
    return 0;
}

static int write_page(rp_ctx *r, FILE *f)
{
    /* The policy forbids every fetch and every script: a browser refuses
     * (and reports in its console) anything that would make the page
     * depend on more than this one file. */
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\"/>\n<title>Run ", f);
    esc(f, r->run_id);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Smart grid run ", css);
    esc(f, r->run_id);
    fputs("</h1>\n<h2>Parameters</h2>\n", f);
    int rc = query(r, "SELECT run_id, started_at_s, ended_at_s, seed, prosumers, consumers, "
                      "operators, difficulty, duration_s, tick_ms, market_rule, use_gpu, hosts, "
                      "params FROM runs WHERE run_id=?1", row_params, f);
    if (rc == 0)
        rc = events_section(r, f);
    if (rc == 0)
        rc = charts(r, f);
    fputs("</body>\n</html>\n", f);
    return rc;
}

static void row_run_id(const db_row *st, void *arg)
{
    rp_ctx *r = arg;
    if (!r->run_id[0])
        snprintf(r->run_id, sizeof r->run_id, "%s", db_row_text(st, 0));
}

/* The run named by run.json, or else the newest run in the database. */
static int pick_run(rp_ctx *r, const char *want)
{
    char err[DB_ERR_MAX];
    int rc = want[0]
        ? db_reader_query(r->db, "SELECT run_id FROM runs WHERE run_id=?1", want, row_run_id,
                          r, err, sizeof err)
        : db_reader_query(r->db, "SELECT run_id FROM runs ORDER BY started_at_s DESC LIMIT 1",
                          NULL, row_run_id, r, err, sizeof err);
    if (rc != 0) {
        snprintf(r->err, sizeof r->err, "not a run database: %s", err);
        return SG_EIO;
    }
    if (!r->run_id[0]) {
        snprintf(r->err, sizeof r->err, "the database holds no run%s%s", want[0] ? " " : "",
                 want);
        return SG_ENOTFOUND;
    }
    return 0;
}

typedef struct {
    json_t *root;               /* owned; NULL: no run.json */
    const char *run_id, *host, *user, *name;   /* into root; "" when absent */
    unsigned port;              /* 0 when absent: the client's default */
} run_info;

/* A top-level string of run.json; "" when absent. */
static const char *json_str_field(const json_t *root, const char *key)
{
    const char *v = json_string_value(json_object_get(root, key));
    return v ? v : "";
}

/* run.json of the run directory (rundir.c writes it), if there is one:
 * older runs, or a directory of copied files, may lack it.  Integers are
 * read as doubles, since a --seed above 2^63 is no JSON integer jansson
 * takes; only db_port is used, and a double holds it exactly. */
static int read_run_json(const char *dir, run_info *ri, char *err, size_t cap)
{
    char path[PATH_MAX];
    json_error_t je;
    memset(ri, 0, sizeof *ri);
    ri->run_id = ri->host = ri->user = ri->name = "";
    snprintf(path, sizeof path, "%s/run.json", dir);
    if (access(path, F_OK) != 0)
        return 0;
    ri->root = json_load_file(path, JSON_DECODE_INT_AS_REAL, &je);
    if (!json_is_object(ri->root)) {
        if (ri->root)
            snprintf(err, cap, "%s: not a JSON object; fix it or move it away", path);
        else
            snprintf(err, cap, "%s: line %d: %s; fix it or move it away", path, je.line,
                     je.text);
        json_decref(ri->root);
        ri->root = NULL;
        return SG_EINVAL;
    }
    ri->run_id = json_str_field(ri->root, "run_id");
    ri->host = json_str_field(ri->root, "db_host");
    ri->user = json_str_field(ri->root, "db_user");
    ri->name = json_str_field(ri->root, "db_name");
    double port = json_number_value(json_object_get(ri->root, "db_port"));
    if (port < 0 || port > 65535 || port != (unsigned)port) {
        snprintf(err, cap, "%s: db_port is not a port number; fix it", path);
        return SG_EINVAL;
    }
    ri->port = (unsigned)port;
    return 0;
}

/* Opens the run's store: MySQL/MariaDB when run.json names a --db-host,
 * else DIR/run.db. */
static int open_store(rp_ctx *r, const char *dir, const run_info *ri, const char *password)
{
    char db_path[PATH_MAX], err[DB_ERR_MAX];
    db_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(db_path, sizeof db_path, "%s/run.db", dir);
    if (ri->host[0]) {
        cfg.host = ri->host;
        cfg.port = ri->port;
        cfg.user = ri->user[0] ? ri->user : NULL;
        cfg.name = ri->name[0] ? ri->name : NULL;
        cfg.password = password ? password : getenv("MYSQL_PWD");
    } else {
        cfg.sqlite_path = db_path;
    }
    if (db_reader_open(&r->db, &cfg, err, sizeof err) != 0) {
        snprintf(r->err, sizeof r->err, "%s", err);
        return SG_EIO;
    }
    return 0;
}

int report_open_run(const char *dir, const char *db_password, db_reader **out,
                    char *run_id, size_t idcap, char *err, size_t errcap)
{
    run_info ri;
    rp_ctx r;
    memset(&r, 0, sizeof r);
    *out = NULL;
    int rc = read_run_json(dir, &ri, r.err, sizeof r.err);
    if (rc == 0)
        rc = open_store(&r, dir, &ri, db_password);
    if (rc == 0)
        rc = pick_run(&r, ri.run_id);
    json_decref(ri.root);
    if (rc != 0) {
        db_reader_close(r.db);
        if (err)
            snprintf(err, errcap, "%s", r.err);
        return rc;
    }
    snprintf(run_id, idcap, "%s", r.run_id);
    *out = r.db;
    return 0;
}

int report_write(const char *dir, char *err, size_t errcap)
{
    return report_write_ex(dir, NULL, err, errcap);
}

int report_write_ex(const char *dir, const char *db_password, char *err, size_t errcap)
{
    char tmp[PATH_MAX], out[PATH_MAX];
    run_info ri;
    rp_ctx r;
    FILE *f = NULL;
    int rc;

    memset(&r, 0, sizeof r);
    snprintf(tmp, sizeof tmp, "%s/report.html.tmp", dir);
    snprintf(out, sizeof out, "%s/report.html", dir);
    rc = read_run_json(dir, &ri, r.err, sizeof r.err);
    if (rc == 0)
        rc = open_store(&r, dir, &ri, db_password);
    if (rc == 0)
        rc = pick_run(&r, ri.run_id);
    if (rc != 0)
        goto out;
    f = fopen(tmp, "w");
    if (!f) {
        snprintf(r.err, sizeof r.err, "cannot write %s", tmp);
        rc = SG_EIO;
        goto out;
    }
    rc = write_page(&r, f);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(r.err, sizeof r.err, "cannot write %s", tmp);
        rc = SG_EIO;
    }
    f = NULL;
    if (rc == 0 && rename(tmp, out) != 0) {
        snprintf(r.err, sizeof r.err, "cannot rename %s to %s", tmp, out);
        rc = SG_EIO;
    }
    if (rc != 0)
        remove(tmp);
out:
    db_reader_close(r.db);
    json_decref(ri.root);
    if (rc != 0 && err)
        snprintf(err, errcap, "report: %s", r.err);
    return rc;
}
