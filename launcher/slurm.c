/*
 * slurm.c - the allocation as a host list; see slurm.h.
 */
#define _GNU_SOURCE
#include "slurm.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/err.h"

#define SLURM_STEP_FLAGS "--nodes=1 --ntasks=1 --overlap --cpu-bind=none " \
                         "--kill-on-bad-exit=0 --quiet -w {host}"

void slurm_env_get(slurm_env *e)
{
    e->job_id = getenv("SLURM_JOB_ID");
    e->nodelist = getenv("SLURM_JOB_NODELIST");
    e->cpus_per_node = getenv("SLURM_JOB_CPUS_PER_NODE");
}

int slurm_wanted(const char *placement, const char *hosts_file, const slurm_env *e)
{
    if (placement)
        return strcmp(placement, "slurm") == 0;
    return !hosts_file && e->job_id && e->job_id[0];
}

int slurm_expand_cpus(const char *s, uint32_t *out, size_t n)
{
    size_t got = 0;
    while (*s) {
        char *end;
        unsigned long cpus = strtoul(s, &end, 10), times = 1;
        if (end == s || cpus < 1 || cpus > HOSTS_SLOTS_MAX)
            return SG_EINVAL;
        s = end;
        if (strncmp(s, "(x", 2) == 0) {
            times = strtoul(s + 2, &end, 10);
            if (end == s + 2 || *end != ')' || times < 1)
                return SG_EINVAL;
            s = end + 1;
        }
        if (times > n - got)
            return SG_EINVAL;
        for (unsigned long k = 0; k < times; k++)
            out[got++] = (uint32_t)cpus;
        if (*s == ',' && s[1])
            s++;
        else if (*s)
            return SG_EINVAL;
    }
    return got == n ? 0 : SG_EINVAL;
}

/* Whether name is an executable file in a directory of PATH. */
static int in_path(const char *name)
{
    const char *p = getenv("PATH");
    char buf[4096];
    while (p && *p) {
        size_t l = strcspn(p, ":");
        if (l > 0 && l + strlen(name) + 2 <= sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)l, p, name);
            if (access(buf, X_OK) == 0)
                return 1;
        }
        p += l + (p[l] == ':');
    }
    return 0;
}

/* Runs cmd (a shell line) and keeps its stdout in *out (malloc'd). */
static int capture(const char *cmd, char **out)
{
    size_t len = 0;
    FILE *m = open_memstream(out, &len), *p;
    char buf[4096];
    size_t r;
    if (!m)
        return SG_ENOMEM;
    p = popen(cmd, "r");
    if (!p) {
        fclose(m);
        free(*out);
        *out = NULL;
        return SG_EIO;
    }
    while ((r = fread(buf, 1, sizeof buf, p)) > 0 && len < 4000000)
        fwrite(buf, 1, r, m);
    int st = pclose(p);
    fclose(m);
    return st == 0 ? 0 : SG_EIO;
}

/* One node name a line into hl (all remote, one slot each). */
static int take_names(host_list *hl, const char *text, char *err, size_t cap)
{
    memset(hl, 0, sizeof *hl);
    while (*text) {
        size_t l = strcspn(text, "\n");
        if (l == 0 || l >= HOSTS_NAME_MAX) {
            text += l + (text[l] == '\n');
            if (l == 0)
                continue;
            snprintf(err, cap, "slurm node name longer than %d characters", HOSTS_NAME_MAX - 1);
            return SG_EINVAL;
        }
        if (hl->n == HOSTS_MAX) {
            snprintf(err, cap, "the allocation has more than %d nodes; ask for fewer",
                     HOSTS_MAX);
            return SG_EINVAL;
        }
        host_entry *nh = realloc(hl->h, (hl->n + 1) * sizeof *nh);
        if (!nh)
            return SG_ENOMEM;
        hl->h = nh;
        memset(&hl->h[hl->n], 0, sizeof hl->h[hl->n]);
        memcpy(hl->h[hl->n].name, text, l);   /* l < HOSTS_NAME_MAX: NUL-terminated */
        hl->h[hl->n].slots = 1;
        hl->n++;
        text += l + (text[l] == '\n');
    }
    return 0;
}

/* The NodeAddr of every node, from `scontrol -o show node LIST`. */
static int node_addrs(host_list *hl, const char *qlist, char *err, size_t cap)
{
    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof cmd, "scontrol -o show node %s 2>/dev/null", qlist);
    if (capture(cmd, &out) != 0) {
        free(out);
        snprintf(err, cap, "'scontrol show node' failed; is slurmctld reachable from here?");
        return SG_EIO;
    }
    for (char *l = out; l && *l;) {
        char *nl = strchr(l, '\n'), *nm = strstr(l, "NodeName="), *ad = strstr(l, " NodeAddr=");
        if (nl)
            *nl = '\0';
        for (size_t i = 0; nm && ad && i < hl->n; i++) {
            size_t len = strlen(hl->h[i].name);
            if (strncmp(nm + 9, hl->h[i].name, len) == 0 && nm[9 + len] == ' ')
                snprintf(hl->h[i].addr, HOSTS_NAME_MAX, "%.*s",
                         (int)strcspn(ad + 10, " "), ad + 10);
        }
        l = nl ? nl + 1 : NULL;
    }
    free(out);
    return 0;
}

/* Each node's address as IPv4, which is what daemons listen on and the
 * launcher dials.  A loopback address is kept only when every node has one
 * (a cluster on one machine): otherwise the others could not reach it. */
static int resolve_addrs(host_list *hl, char *err, size_t cap)
{
    int loop = 0;
    for (size_t i = 0; i < hl->n; i++) {
        host_entry *h = &hl->h[i];
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
        const char *name = h->addr[0] ? h->addr : h->name;
        if (getaddrinfo(name, NULL, &hints, &ai) != 0) {
            snprintf(err, cap, "slurm node %s: its address %s does not resolve here; fix the "
                     "node's NodeAddr or the name service", h->name, name);
            return SG_EINVAL;
        }
        struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ai->ai_addr;
        inet_ntop(AF_INET, &sin->sin_addr, h->addr, HOSTS_NAME_MAX);
        loop += (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
        freeaddrinfo(ai);
    }
    for (size_t i = 0; loop && (size_t)loop < hl->n && i < hl->n; i++)
        if (strncmp(hl->h[i].addr, "127.", 4) == 0) {
            snprintf(err, cap, "slurm node %s resolves to %s here, which the other nodes "
                     "cannot reach; give it a routable NodeAddr or fix /etc/hosts",
                     hl->h[i].name, hl->h[i].addr);
            return SG_EINVAL;
        }
    return 0;
}

static int job_id_ok(const char *id)
{
    return id && id[0] && strspn(id, "0123456789") == strlen(id) && strlen(id) < 20;
}

int slurm_hosts(const slurm_env *e, host_list *hl, char *tmpl, size_t cap, char *err,
                size_t errcap)
{
    char qlist[4100] = "", cmd[4200], *names = NULL;
    uint32_t *cpus = NULL;
    int rc = SG_EINVAL;
    memset(hl, 0, sizeof *hl);
    if (!job_id_ok(e->job_id) || !e->nodelist || !e->nodelist[0]) {
        snprintf(err, errcap, "--placement slurm: not inside a Slurm allocation "
                 "(SLURM_JOB_ID and SLURM_JOB_NODELIST unset); run under salloc or sbatch");
        return SG_EINVAL;
    }
    if (!in_path("srun") || !in_path("scontrol")) {
        snprintf(err, errcap, "--placement slurm: %s not found in PATH; install Slurm's "
                 "client commands (slurm-client) or fix PATH",
                 in_path("srun") ? "scontrol" : "srun");
        return SG_ENOTFOUND;
    }
    if (hosts_quote(qlist, sizeof qlist, e->nodelist) != 0) {
        snprintf(err, errcap, "SLURM_JOB_NODELIST is too long");
        return SG_ETOOBIG;
    }
    snprintf(cmd, sizeof cmd, "scontrol show hostnames %s", qlist);
    if (capture(cmd, &names) != 0) {
        snprintf(err, errcap, "'scontrol show hostnames %s' failed; is SLURM_JOB_NODELIST "
                 "a Slurm host list?", e->nodelist);
        rc = SG_EIO;
        goto out;
    }
    if ((rc = take_names(hl, names, err, errcap)) != 0)
        goto out;
    rc = SG_EINVAL;
    if (hl->n == 0) {
        snprintf(err, errcap, "SLURM_JOB_NODELIST '%s' names no node", e->nodelist);
        goto out;
    }
    cpus = calloc(hl->n, sizeof *cpus);
    if (!cpus) {
        rc = SG_ENOMEM;
        goto out;
    }
    if (e->cpus_per_node && slurm_expand_cpus(e->cpus_per_node, cpus, hl->n) != 0) {
        snprintf(err, errcap, "SLURM_JOB_CPUS_PER_NODE '%s' does not give CPUs for the %zu "
                 "nodes of SLURM_JOB_NODELIST", e->cpus_per_node, hl->n);
        goto out;
    }
    for (size_t i = 0; i < hl->n; i++)
        hl->h[i].slots = e->cpus_per_node ? cpus[i] : 1;
    if ((rc = node_addrs(hl, qlist, err, errcap)) != 0 ||
        (rc = resolve_addrs(hl, err, errcap)) != 0)
        goto out;
    if ((size_t)snprintf(tmpl, cap, "srun --jobid=%s " SLURM_STEP_FLAGS, e->job_id) >= cap) {
        rc = SG_ETOOBIG;
        goto out;
    }
    rc = 0;
out:
    free(names);
    free(cpus);
    if (rc != 0)
        hosts_free(hl);
    return rc;
}

/* The last line of s that srun wrote ("srun: error: ..."), else the
 * first line. */
static void srun_words(char *dst, size_t cap, const char *s)
{
    const char *w = NULL;
    for (const char *p = strstr(s, "srun: error:"); p; p = strstr(p + 1, "srun: error:"))
        w = p;
    if (!w)
        w = s;
    size_t l = strcspn(w, "\n");
    snprintf(dst, cap, "%.*s", (int)(l < cap ? l : cap - 1), w);
}

int slurm_check(const char *tmpl, const host_entry *h, const char *const *bins, size_t nb,
                char *err, size_t errcap)
{
    char out[2048], line[400];
    const char *missing;
    int rc = hosts_probe_bins(tmpl, h, bins, nb, out, sizeof out, &missing);
    if (rc == SG_ETOOBIG)
        return rc;
    if (rc == 0 && missing) {
        srun_words(line, sizeof line, missing);
        snprintf(err, errcap, "slurm node %s: %s is missing or not executable there; put "
                 "the binaries on a file system every node mounts at the same path",
                 h->name, line);
        return SG_ENOTFOUND;
    }
    if (rc != 0 || !strstr(out, "sg-ok")) {
        srun_words(line, sizeof line, out);
        snprintf(err, errcap, "slurm node %s: a job step failed to start (exit %d: %s)",
                 h->name, rc, line[0] ? line : "no output");
        return SG_EIO;
    }
    return 0;
}

int slurm_job_running(const char *job_id)
{
    char cmd[128], *out = NULL;
    if (!job_id_ok(job_id))
        return 0;
    snprintf(cmd, sizeof cmd, "scontrol -o show job %s 2>&1", job_id);
    int rc = capture(cmd, &out);
    int running;
    if (out && strstr(out, "Invalid job id"))
        running = 0;
    else if (rc != 0 || !out || !strstr(out, "JobState="))
        running = SG_EIO;
    else
        running = strstr(out, "JobState=RUNNING") || strstr(out, "JobState=PENDING") ||
                  strstr(out, "JobState=CONFIGURING");
    free(out);
    return running;
}
