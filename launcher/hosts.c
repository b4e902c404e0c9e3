/*
 * hosts.c - the hosts file and the remote shell; see hosts.h.
 */
#include "hosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/base/units.h"

static int valid_word(const char *s)
{
    /* Names and addresses end up in shell words and "HOST:PORT". */
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr("._-", *s)))
            return 0;
    return 1;
}

static int parse_line(host_entry *e, char *line, int lineno, char *err, size_t cap)
{
    char *save = NULL, *w[4];
    int nw = 0;
    for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
        if (nw == 3) {
            snprintf(err, cap, "hosts line %d: too many fields; write 'name [address] [slots]'",
                     lineno);
            return SG_EINVAL;
        }
        w[nw++] = t;
    }
    memset(e, 0, sizeof *e);
    e->slots = 1;
    /* A last all-digit field is the slot count. */
    if (nw >= 2 && strspn(w[nw - 1], "0123456789") == strlen(w[nw - 1])) {
        uint64_t v;
        if (units_parse_u64(w[nw - 1], strlen(w[nw - 1]), 1, HOSTS_SLOTS_MAX, &v) != 0) {
            snprintf(err, cap, "hosts line %d: slots '%s' must be from 1 to %d", lineno,
                     w[nw - 1], HOSTS_SLOTS_MAX);
            return SG_EINVAL;
        }
        e->slots = (uint32_t)v;
        nw--;
    }
    if (nw > 2) {
        snprintf(err, cap, "hosts line %d: '%s' is not a slot count; write 'name [address] "
                 "[slots]'", lineno, w[2]);
        return SG_EINVAL;
    }
    const char *addr = nw == 2 ? w[1] : w[0];
    if (strlen(w[0]) >= HOSTS_NAME_MAX || strlen(addr) >= HOSTS_NAME_MAX ||
        !valid_word(w[0]) || !valid_word(addr)) {
        snprintf(err, cap, "hosts line %d: name and address take letters, digits, '.', '-' "
                 "and '_' (up to %d)", lineno, HOSTS_NAME_MAX - 1);
        return SG_EINVAL;
    }
    snprintf(e->name, sizeof e->name, "%s", w[0]);
    snprintf(e->addr, sizeof e->addr, "%s", addr);
    e->local = strcmp(e->name, "localhost") == 0 || strcmp(e->addr, "127.0.0.1") == 0;
    return 0;
}

int hosts_parse(host_list *hl, const char *text, char *err, size_t errcap)
{
    char line[512];
    int lineno = 0, rc = 0;
    memset(hl, 0, sizeof *hl);
    while (*text) {
        size_t len = strcspn(text, "\n");
        lineno++;
        if (len >= sizeof line) {
            snprintf(err, errcap, "hosts line %d: longer than %zu characters", lineno,
                     sizeof line - 1);
            rc = SG_EINVAL;
            goto fail;
        }
        memcpy(line, text, len);
        line[len] = '\0';
        text += len + (text[len] == '\n');
        line[strcspn(line, "#")] = '\0';
        if (strspn(line, " \t\r") == strlen(line))
            continue;
        if (hl->n == HOSTS_MAX) {
            snprintf(err, errcap, "hosts: more than %d hosts", HOSTS_MAX);
            rc = SG_EINVAL;
            goto fail;
        }
        host_entry e;
        rc = parse_line(&e, line, lineno, err, errcap);
        if (rc != 0)
            goto fail;
        for (size_t i = 0; i < hl->n; i++)
            if (strcmp(hl->h[i].name, e.name) == 0) {
                snprintf(err, errcap, "hosts line %d: host '%s' is listed twice; give each "
                         "host once with its slots", lineno, e.name);
                rc = SG_EINVAL;
                goto fail;
            }
        host_entry *nh = realloc(hl->h, (hl->n + 1) * sizeof *nh);
        if (!nh) {
            rc = SG_ENOMEM;
            snprintf(err, errcap, "hosts: out of memory");
            goto fail;
        }
        hl->h = nh;
        hl->h[hl->n++] = e;
    }
    if (hl->n == 0) {
        snprintf(err, errcap, "hosts: no host listed; write one 'name [address] [slots]' a line");
        rc = SG_EINVAL;
        goto fail;
    }
    return 0;
fail:
    hosts_free(hl);
    return rc;
}

int hosts_load(host_list *hl, const char *path, char *err, size_t errcap)
{
    char *text = NULL, e2[256];
    size_t len = 0;
    int rc;
    memset(hl, 0, sizeof *hl);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "--hosts %s: %s; give a readable hosts file", path,
                 strerror(errno));
        return SG_EINVAL;
    }
    FILE *m = open_memstream(&text, &len);
    int c;
    if (!m) {
        fclose(f);
        return SG_ENOMEM;
    }
    while ((c = fgetc(f)) != EOF && len < 1000000 && c != '\0')
        fputc(c, m);
    int bad = ferror(f);
    fclose(f);
    if (fclose(m) != 0 || bad) {
        free(text);
        snprintf(err, errcap, "--hosts %s: read error", path);
        return SG_EIO;
    }
    rc = hosts_parse(hl, text, e2, sizeof e2);
    free(text);
    if (rc != 0)
        snprintf(err, errcap, "--hosts %s: %s", path, e2);
    return rc;
}

void hosts_free(host_list *hl)
{
    free(hl->h);
    hl->h = NULL;
    hl->n = 0;
}

void hosts_assign(const host_list *hl, size_t n, size_t *out)
{
    size_t *count = calloc(hl->n, sizeof *count);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; count && k < hl->n; k++)
            /* count[k]/slots[k] < count[best]/slots[best], in integers */
            if ((uint64_t)count[k] * hl->h[best].slots <
                (uint64_t)count[best] * hl->h[k].slots)
                best = k;
        out[i] = best;
        if (count)
            count[best]++;
    }
    free(count);
}

int hosts_quote(char *out, size_t cap, const char *s)
{
    size_t o = strlen(out);
    if (o + 1 >= cap)
        return SG_ETOOBIG;
    out[o++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t pl = piece ? 4 : 1;
        if (o + pl + 2 > cap)
            return SG_ETOOBIG;
        if (piece)
            memcpy(out + o, piece, 4);
        else
            out[o] = *s;
        o += pl;
    }
    out[o++] = '\'';
    out[o] = '\0';
    return 0;
}

int hosts_shell_cmd(char *out, size_t cap, const char *tmpl, const host_entry *h)
{
    size_t o;
    if (cap < 8)
        return SG_ETOOBIG;
    snprintf(out, cap, "exec ");
    if (!h->local) {
        for (const char *p = tmpl; *p;) {
            if (strncmp(p, "{host}", 6) == 0) {
                if (hosts_quote(out, cap, h->name) != 0)
                    return SG_ETOOBIG;
                p += 6;
                continue;
            }
            o = strlen(out);
            if (o + 2 > cap)
                return SG_ETOOBIG;
            out[o] = *p++;
            out[o + 1] = '\0';
        }
        o = strlen(out);
        if (o + 2 > cap)
            return SG_ETOOBIG;
        out[o] = ' ';
        out[o + 1] = '\0';
    }
    o = strlen(out);
    if (o + 6 > cap)
        return SG_ETOOBIG;
    memcpy(out + o, "sh -s", 6);
    return 0;
}

int hosts_run(const char *tmpl, const host_entry *h, const char *script, char *out,
              size_t outcap)
{
    char tmp[] = "/tmp/sg-hosts-XXXXXX", cmd[2048];
    int rc = SG_EIO, fd = mkstemp(tmp);
    size_t len = strlen(script), got = 0;
    if (outcap)
        out[0] = '\0';
    if (fd < 0)
        return SG_EIO;
    if (write(fd, script, len) != (ssize_t)len ||
        hosts_shell_cmd(cmd, sizeof cmd - sizeof tmp - 16, tmpl, h) != 0)
        goto out;
    strcat(cmd, " <");
    strcat(cmd, tmp);
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p)
        goto out;
    char buf[512];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, p)) > 0)
        for (size_t i = 0; i < r && got + 1 < outcap; i++)
            out[got++] = buf[i];
    if (outcap)
        out[got] = '\0';
    int st = pclose(p);
    rc = st < 0 ? SG_EIO : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
out:
    close(fd);
    unlink(tmp);
    return rc;
}

/* The first line of s, for an error message. */
static void first_line(char *dst, size_t cap, const char *s)
{
    size_t l = strcspn(s, "\n");
    snprintf(dst, cap, "%.*s", (int)(l < cap ? l : cap - 1), s);
}

int hosts_probe_bins(const char *tmpl, const host_entry *h, const char *const *bins,
                     size_t nb, char *out, size_t outcap, const char **missing)
{
    char script[4096] = "";
    size_t o = 0;
    *missing = NULL;
    for (size_t i = 0; i < nb; i++) {
        char q[1100] = "";
        if (hosts_quote(q, 1024, bins[i]) != 0)
            return SG_ETOOBIG;
        o += (size_t)snprintf(script + o, sizeof script - o,
                              "test -x %s || { echo sg-missing %s; exit 0; }\n", q, q);
        if (o >= sizeof script)
            return SG_ETOOBIG;
    }
    snprintf(script + o, sizeof script - o, "echo sg-ok\n");
    int rc = hosts_run(tmpl, h, script, out, outcap);
    const char *miss = strstr(out, "sg-missing ");
    if (rc == 0 && miss)
        *missing = miss + 11;
    return rc;
}

int hosts_check(const char *tmpl, const host_entry *h, const char *const *bins, size_t nb,
                char *err, size_t errcap)
{
    char out[1024], line[256];
    const char *missing;
    int rc = hosts_probe_bins(tmpl, h, bins, nb, out, sizeof out, &missing);
    if (rc == SG_ETOOBIG)
        return rc;
    if (rc == 0 && missing) {
        first_line(line, sizeof line, missing);
        snprintf(err, errcap, "host %s: %s is missing or not executable there; install the "
                 "binaries at the same path on every host", h->name, line);
        return SG_ENOTFOUND;
    }
    if (rc != 0 || !strstr(out, "sg-ok")) {
        first_line(line, sizeof line, out);
        snprintf(err, errcap, "host %s is unreachable through '%s' (exit %d: %s); check the "
                 "hosts file and --remote-shell", h->name, tmpl, rc, line[0] ? line : "no output");
        return SG_EIO;
    }
    return 0;
}

/* Appends one file as a quoted here-document.  Keys and genesis are text
 * lines, so a delimiter line can not occur in them. */
static int push_one(FILE *s, const char *local, const char *remote)
{
    char qr[4200] = "", line[4096];
    FILE *in = fopen(local, "r");
    if (!in)
        return SG_EIO;
    if (hosts_quote(qr, sizeof qr - 8, remote) != 0) {
        fclose(in);
        return SG_ETOOBIG;
    }
    fprintf(s, "cat >%s.tmp <<'SG_HOSTS_EOF' || exit 1\n", qr);
    int last_nl = 1;
    while (fgets(line, sizeof line, in)) {
        fputs(line, s);
        last_nl = line[strlen(line) - 1] == '\n';
    }
    int bad = ferror(in);
    fclose(in);
    fprintf(s, "%sSG_HOSTS_EOF\nmv -f %s.tmp %s || exit 1\n", last_nl ? "" : "\n", qr, qr);
    return bad ? SG_EIO : 0;
}

int hosts_push(const char *tmpl, const host_entry *h, const char *const *dirs, size_t nd,
               const char *const *local, const char *const *remote, size_t nf,
               char *err, size_t errcap)
{
    char *script = NULL, out[1024], line[256], q[4200];
    size_t len = 0;
    int rc = 0;
    FILE *s = open_memstream(&script, &len);
    if (!s)
        return SG_ENOMEM;
    fprintf(s, "umask 077\n");
    for (size_t i = 0; rc == 0 && i < nd; i++) {
        q[0] = '\0';
        rc = hosts_quote(q, sizeof q, dirs[i]);
        fprintf(s, "mkdir -p %s || exit 1\n", q);
    }
    for (size_t i = 0; rc == 0 && i < nf; i++)
        rc = push_one(s, local[i], remote[i]);
    fprintf(s, "echo sg-ok\n");
    if (fclose(s) != 0 && rc == 0)
        rc = SG_EIO;
    if (rc != 0) {
        snprintf(err, errcap, "host %s: cannot read the run's keys and genesis: %s", h->name,
                 sg_strerror(rc));
        goto out;
    }
    rc = hosts_run(tmpl, h, script, out, sizeof out);
    if (rc != 0 || !strstr(out, "sg-ok")) {
        first_line(line, sizeof line, out);
        snprintf(err, errcap, "host %s: copying keys and genesis failed (exit %d: %s)",
                 h->name, rc, line[0] ? line : "no output");
        rc = SG_EIO;
    }
out:
    free(script);
    return rc;
}
