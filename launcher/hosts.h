/*
 * hosts.h - spreading a run's daemons over LAN hosts (--hosts FILE).
 *
 * The hosts file has one host a line, "name [address] [slots]", with '#'
 * starting a comment.  The address defaults to the name and the slots to
 * 1.  Daemons are spread in proportion to the slots, the operator on the
 * first host.  A host named "localhost" or with address 127.0.0.1 runs its
 * daemons directly; every other host is reached through the remote shell
 * template (--remote-shell, "{host}" replaced by the host's name), which
 * gets "sh -s" appended and the script to run on its standard input, so
 * the same script works through ssh (which re-parses its arguments) and
 * through `ip netns exec` (which does not).
 *
 * A host_list owns its array; free it with hosts_free.
 */
#ifndef LAUNCHER_HOSTS_H
#define LAUNCHER_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#define HOSTS_MAX 256
#define HOSTS_NAME_MAX 64
#define HOSTS_SLOTS_MAX 100000
#define HOSTS_DEFAULT_SHELL "ssh -o BatchMode=yes {host}"

typedef struct {
    char name[HOSTS_NAME_MAX];
    char addr[HOSTS_NAME_MAX];       /* what daemons listen on and peers dial */
    uint32_t slots;
    int local;                       /* runs without the remote shell */
} host_entry;

typedef struct {
    host_entry *h;
    size_t n;
} host_list;

/* Parses a hosts file's text.  On bad input returns SG_EINVAL with one
 * line in err naming the line and the fix. */
int hosts_parse(host_list *hl, const char *text, char *err, size_t errcap);
/* Reads and parses path; err names the file. */
int hosts_load(host_list *hl, const char *path, char *err, size_t errcap);
void hosts_free(host_list *hl);

/* out[i] = the host index of daemon i of n (0 is the operator, always on
 * host 0); the others go where count/slots is lowest, first host first. */
void hosts_assign(const host_list *hl, size_t n, size_t *out);

/* Appends s to out (of cap bytes, NUL-terminated) as one single-quoted
 * shell word.  SG_ETOOBIG if it does not fit. */
int hosts_quote(char *out, size_t cap, const char *s);
/* The local shell command that runs a script (given on its stdin) on host:
 * "exec TEMPLATE sh -s", "{host}" replaced by the quoted host name.  A
 * local host gets "exec sh -s". */
int hosts_shell_cmd(char *out, size_t cap, const char *tmpl, const host_entry *h);

/* Runs script on h through tmpl and waits for it; its output (stdout and
 * stderr, the first outcap-1 bytes) goes to out.  Returns the exit status
 * (0..255; 128+N for a signal) or SG_EIO when it could not be started. */
int hosts_run(const char *tmpl, const host_entry *h, const char *script, char *out,
              size_t outcap);
/* Runs a script on h through tmpl that tests each of bins for being
 * executable there and then prints "sg-ok"; its output goes to out.
 * Returns hosts_run's status, or SG_ETOOBIG when the paths do not fit;
 * with 0, *missing points into out at the first missing binary's name,
 * or is NULL.  Without "sg-ok" in out the shell never ran the script. */
int hosts_probe_bins(const char *tmpl, const host_entry *h, const char *const *bins,
                     size_t nb, char *out, size_t outcap, const char **missing);
/* Whether h answers through tmpl and has every bins[i] executable.  0, or
 * SG_EIO (unreachable) / SG_ENOTFOUND (missing binary) with err naming the
 * host. */
int hosts_check(const char *tmpl, const host_entry *h, const char *const *bins, size_t nb,
                char *err, size_t errcap);
/* Creates dirs[0..nd) (0700) on h and copies the local text files
 * local[i] to remote[i] there (0600), each through a temporary name and
 * mv, so a filesystem shared with h never shows a truncated file. */
int hosts_push(const char *tmpl, const host_entry *h, const char *const *dirs, size_t nd,
               const char *const *local, const char *const *remote, size_t nf,
               char *err, size_t errcap);

#endif
