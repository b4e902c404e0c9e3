/*
 * scenario.c - the scenario file's grammar (scenario.h): lines into
 * events, every node pattern resolved against the run's nodes, errors as
 * one line naming the line and the fix.
 */
#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/core/adv_role.h"
#include "common/base/err.h"
#include "common/base/units.h"

#define MAX_GROUPS 16

static const char *const what_names[] = {
    [SCEN_KILL] = "kill", [SCEN_STOP] = "stop", [SCEN_CONT] = "cont",
    [SCEN_PARTITION] = "partition", [SCEN_HEAL] = "heal", [SCEN_HASHRATE] = "hashrate",
    [SCEN_MINING] = "mining", [SCEN_ADVERSARY] = "adversary",
};
#define N_WHAT ((int)(sizeof what_names / sizeof what_names[0]))

const char *scen_what_name(int what)
{
    return what >= 0 && what < N_WHAT ? what_names[what] : "?";
}

/* One line's context for error messages. */
typedef struct {
    const char *file;
    int line;
    char *err;
    size_t cap;
    const scen_nodes *nodes;
} lctx;

static int bad(lctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(lctx *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->err)
        snprintf(c->err, c->cap, "scenario %s line %d: %s", c->file, c->line, msg);
    return SG_EINVAL;
}

/* "30s", "1.5s", "500ms", "2m" into milliseconds. */
static int parse_time(const char *t, int64_t *out)
{
    char num[32];
    size_t len = strlen(t);
    uint64_t v, mul;
    if (len > 2 && strcmp(t + len - 2, "ms") == 0) {
        if (units_parse_u64(t, len - 2, 0, 1000ull * 86400 * 365, &v) != 0)
            return SG_EINVAL;
        *out = (int64_t)v;
        return 0;
    }
    if (len < 2 || len - 1 >= sizeof num || (t[len - 1] != 's' && t[len - 1] != 'm'))
        return SG_EINVAL;
    mul = t[len - 1] == 'm' ? 60 : 1;
    memcpy(num, t, len - 1);
    num[len - 1] = '\0';
    if (units_parse_milli(num, 0, 1000ull * 86400 * 365, &v) != 0)
        return SG_EINVAL;
    *out = (int64_t)(v * mul);
    return 0;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void trim(char **s, char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* One item of a NODES list (a name, a pattern or random:PATTERN) marks
 * sel[i] = val for what it matches; returns the count or SG_EINVAL. */
static int select_item(lctx *c, const char *item, uint8_t *sel, uint8_t val)
{
    const scen_nodes *nd = c->nodes;
    const char *pat = item;
    int random = strncmp(item, "random:", 7) == 0, hits = 0;
    if (random)
        pat = item + 7;
    if (!*pat)
        return bad(c, "empty node name; name nodes like p1, c2, op, or patterns like c*");
    for (size_t i = 0; i < nd->n; i++)
        hits += fnmatch(pat, nd->names[i], 0) == 0;
    if (hits == 0)
        return bad(c, "no node matches '%s'; the run's nodes are op, p1.., c1.. "
                   "(see --prosumers and --consumers)", pat);
    /* random: the k-th match, k from the seed and the line alone, so the
     * same run (same --seed, same file) picks the same node. */
    uint64_t k = random ? mix64(nd->seed ^ mix64((uint64_t)c->line)) % (uint64_t)hits : 0;
    int n = 0;
    for (size_t i = 0; i < nd->n; i++) {
        if (fnmatch(pat, nd->names[i], 0) != 0)
            continue;
        if (!random || k-- == 0) {
            sel[i] = val;
            n++;
            if (random)
                break;
        }
    }
    return n;
}

/* "p1,c*,random:p*" (spaces allowed around items). */
static int select_list(lctx *c, char *s, char *e, uint8_t *sel, uint8_t val, int *star)
{
    int total = 0;
    trim(&s, &e);
    if (s == e)
        return bad(c, "no nodes named; list names or patterns, e.g. p1,p2 or c*");
    while (s < e) {
        char *comma = memchr(s, ',', (size_t)(e - s)), *ie = comma ? comma : e, *is = s;
        char item[96];
        trim(&is, &ie);
        if ((size_t)(ie - is) >= sizeof item)
            return bad(c, "node pattern too long");
        memcpy(item, is, (size_t)(ie - is));
        item[ie - is] = '\0';
        if (star && strcmp(item, "*") == 0) {
            *star = 1;
        } else {
            int rc = select_item(c, item, sel, val);
            if (rc < 0)
                return rc;
            total += rc;
        }
        s = comma ? comma + 1 : e;
    }
    return total;
}

/* "A | B | *": each node in at most one group; '*' is everyone else. */
static int parse_groups(lctx *c, char *s, scen_event *ev)
{
    size_t n = c->nodes->n;
    uint8_t *mark = calloc(n ? n : 1, 1);
    int star_group = 0, rc = 0;
    if (!mark)
        return SG_ENOMEM;
    for (int g = 1; rc == 0; g++) {
        char *bar = strchr(s, '|'), *e = bar ? bar : s + strlen(s);
        int star = 0;
        if (g > MAX_GROUPS) {
            rc = bad(c, "more than %d groups; split the nodes into fewer", MAX_GROUPS);
            break;
        }
        memset(mark, 0, n);
        rc = select_list(c, s, e, mark, 1, &star);
        if (rc < 0)
            break;
        if (star && star_group) {
            rc = bad(c, "'*' in two groups; it may stand in one group only");
            break;
        }
        if (star)
            star_group = g;
        for (size_t i = 0; i < n && rc >= 0; i++) {
            if (!mark[i])
                continue;
            if (ev->sel[i])
                rc = bad(c, "node %s is in two groups; name each node in one group",
                         c->nodes->names[i]);
            ev->sel[i] = (uint8_t)g;
        }
        if (rc < 0)
            break;
        rc = 0;
        ev->groups = g;
        if (!bar)
            break;
        s = bar + 1;
    }
    if (rc == 0 && ev->groups < 2)
        rc = bad(c, "a partition needs at least two groups, e.g. "
                 "'partition p1,p2 | *'");
    for (size_t i = 0; rc == 0 && star_group && i < n; i++)
        if (!ev->sel[i])
            ev->sel[i] = (uint8_t)star_group;
    for (int g = 1; rc == 0 && g <= ev->groups; g++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            k += ev->sel[i] == g;
        if (k == 0)
            rc = bad(c, "group %d of the partition has no node ('*' found none left)", g);
    }
    free(mark);
    return rc;
}

static int parse_role(lctx *c, const char *r, scen_event *ev)
{
    size_t len = strlen(r);
    if (len == 0 || len > SCEN_ROLE_MAX || !islower((unsigned char)r[0]))
        return bad(c, "adversary role '%s' is not a role name; give one like selfish", r);
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)r[i]) && !isdigit((unsigned char)r[i]) &&
            r[i] != '-' && r[i] != '_')
            return bad(c, "adversary role '%s' is not a role name; give one like selfish", r);
    unsigned mask;
    if (adv_parse_roles(r, &mask) != 0)
        return bad(c, "adversary role '%s' is not a role name; give one of " ADV_ROLE_NAMES, r);
    memcpy(ev->role, r, len + 1);
    return 0;
}

/* The words after the action: NODES [ARG], with ARG the last word. */
static int split_last(lctx *c, char *rest, char **last, const char *usage)
{
    char *e = rest + strlen(rest);
    while (e > rest && isspace((unsigned char)e[-1]))
        *--e = '\0';
    char *sp = e;
    while (sp > rest && !isspace((unsigned char)sp[-1]))
        sp--;
    if (sp == rest)
        return bad(c, "expected %s", usage);
    sp[-1] = '\0';
    *last = sp;
    return 0;
}

static void keep_text(scen_event *ev, const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    snprintf(ev->text, sizeof ev->text, "%s", s);
    size_t n = strlen(ev->text);
    while (n > 0 && isspace((unsigned char)ev->text[n - 1]))
        ev->text[--n] = '\0';
}

/* ACTION and its arguments; rest is the text after the action word. */
static int parse_action(lctx *c, const char *act, char *rest, scen_event *ev)
{
    char *arg = NULL;
    int rc;
    for (ev->what = 0; ev->what < N_WHAT; ev->what++)
        if (strcmp(act, what_names[ev->what]) == 0)
            break;
    switch (ev->what) {
    case SCEN_KILL:
    case SCEN_STOP:
    case SCEN_CONT:
        keep_text(ev, rest);
        rc = select_list(c, rest, rest + strlen(rest), ev->sel, 1, NULL);
        return rc < 0 ? rc : 0;
    case SCEN_PARTITION:
        keep_text(ev, rest);
        return parse_groups(c, rest, ev);
    case SCEN_HEAL:
        for (const char *p = rest; *p; p++)
            if (!isspace((unsigned char)*p))
                return bad(c, "heal takes no arguments; it undoes every partition");
        snprintf(ev->text, sizeof ev->text, "*");
        return 0;
    case SCEN_HASHRATE:
        if ((rc = split_last(c, rest, &arg, "hashrate NODES RATE, e.g. hashrate p3 20M")))
            return rc;
        if (units_parse_rate(arg, 0, UINT64_MAX / 2, &ev->rate) != 0)
            return bad(c, "hash rate '%s' is not a rate; give hashes/s like 20M, 1.5k "
                       "or 0 (uncapped)", arg);
        keep_text(ev, rest);
        rc = select_list(c, rest, rest + strlen(rest), ev->sel, 1, NULL);
        return rc < 0 ? rc : 0;
    case SCEN_MINING: {
        char *s = rest;
        while (isspace((unsigned char)*s))
            s++;
        size_t w = strcspn(s, " \t");
        if (w == 2 && strncmp(s, "on", 2) == 0)
            ev->on = 1;
        else if (!(w == 3 && strncmp(s, "off", 3) == 0))
            return bad(c, "expected 'mining on NODES' or 'mining off NODES'");
        keep_text(ev, s + w);
        rc = select_list(c, s + w, s + strlen(s), ev->sel, 1, NULL);
        return rc < 0 ? rc : 0;
    }
    case SCEN_ADVERSARY:
        if ((rc = split_last(c, rest, &arg, "adversary NODE ROLE, e.g. adversary p3 selfish")) ||
            (rc = parse_role(c, arg, ev)))
            return rc;
        keep_text(ev, rest);
        rc = select_list(c, rest, rest + strlen(rest), ev->sel, 1, NULL);
        return rc < 0 ? rc : 0;
    }
    return bad(c, "unknown action '%s'; use kill, stop, cont, partition, heal, hashrate, "
               "mining or adversary", act);
}

/* One line (comment stripped); *ev filled when it holds an event. */
static int parse_line(lctx *c, char *line, scen_event *ev, int *have)
{
    char *hash = strchr(line, '#'), *save = NULL, *w_at, *w_time, *w_act, *rest;
    int64_t at;
    *have = 0;
    if (hash)
        *hash = '\0';
    w_at = strtok_r(line, " \t\r", &save);
    if (!w_at)
        return 0;
    if (strcmp(w_at, "at") != 0)
        return bad(c, "a line starts with 'at TIME', e.g. 'at 30s kill p2'");
    w_time = strtok_r(NULL, " \t\r", &save);
    if (!w_time || parse_time(w_time, &at) != 0)
        return bad(c, "'%s' is not a time; write 30s, 1.5s, 500ms or 2m",
                   w_time ? w_time : "");
    if (c->nodes->duration_ms > 0 && at >= c->nodes->duration_ms)
        return bad(c, "at %s is not before the run's end (--duration %lld s); move the "
                   "event earlier or lengthen the run", w_time,
                   (long long)(c->nodes->duration_ms / 1000));
    w_act = strtok_r(NULL, " \t\r", &save);
    if (!w_act)
        return bad(c, "no action after the time; e.g. 'at %s kill p2'", w_time);
    rest = save ? save : w_act + strlen(w_act);
    for (char *p = rest; *p; p++)
        if (*p == '\r')
            *p = ' ';
    ev->at_ms = at;
    ev->line = c->line;
    int rc = parse_action(c, w_act, rest, ev);
    *have = rc == 0;
    return rc;
}

void scen_free(scenario *s)
{
    for (size_t i = 0; s->ev && i < s->n; i++)
        free(s->ev[i].sel);
    free(s->ev);
    memset(s, 0, sizeof *s);
}

static int cmp_event(const void *a, const void *b)
{
    const scen_event *x = a, *y = b;
    if (x->at_ms != y->at_ms)
        return x->at_ms < y->at_ms ? -1 : 1;
    return x->line - y->line;
}

int scen_parse(scenario *s, const char *file, const char *text, const scen_nodes *nodes,
               char *err, size_t cap)
{
    lctx c = { file, 0, err, cap, nodes };
    char line[SCEN_LINE_MAX];
    int rc = 0, have;
    memset(s, 0, sizeof *s);
    s->n_nodes = nodes->n;
    for (const char *p = text; *p && rc == 0;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        c.line++;
        if (len >= sizeof line) {
            rc = bad(&c, "line longer than %d bytes; split it", SCEN_LINE_MAX - 1);
            break;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (nl != NULL);
        if (s->n == SCEN_EVENTS_MAX) {
            rc = bad(&c, "more than %d events; split the experiment", SCEN_EVENTS_MAX);
            break;
        }
        scen_event ev = { 0 };
        if (!(ev.sel = calloc(nodes->n ? nodes->n : 1, 1)))
            rc = SG_ENOMEM;
        if (rc == 0 && s->n % 64 == 0) {
            scen_event *g = realloc(s->ev, (s->n + 64) * sizeof *g);
            if (!g)
                rc = SG_ENOMEM;
            else
                s->ev = g;
        }
        if (rc == 0)
            rc = parse_line(&c, line, &ev, &have);
        if (rc == 0 && have)
            s->ev[s->n++] = ev;
        else
            free(ev.sel);
    }
    if (rc == SG_ENOMEM && err)
        snprintf(err, cap, "scenario %s: out of memory", file);
    if (rc != 0) {
        scen_free(s);
        return rc;
    }
    if (s->n)
        qsort(s->ev, s->n, sizeof *s->ev, cmp_event);
    return 0;
}

int scen_load(scenario *s, const char *path, const scen_nodes *nodes, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    int rc;
    memset(s, 0, sizeof *s);
    if (!f) {
        snprintf(err, cap, "cannot read --scenario %s: %s; give an existing file", path,
                 strerror(errno));
        return SG_EINVAL;
    }
    buf = malloc(SCEN_FILE_MAX + 1);
    if (buf)
        len = fread(buf, 1, SCEN_FILE_MAX + 1, f);
    fclose(f);
    if (!buf) {
        snprintf(err, cap, "scenario %s: out of memory", path);
        return SG_ENOMEM;
    }
    if (len > SCEN_FILE_MAX) {
        free(buf);
        snprintf(err, cap, "scenario %s is over %u bytes; split the experiment", path,
                 SCEN_FILE_MAX);
        return SG_EINVAL;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        snprintf(err, cap, "scenario %s is not a text file; give the events one a line", path);
        return SG_EINVAL;
    }
    rc = scen_parse(s, path, buf, nodes, err, cap);
    free(buf);
    return rc;
}
