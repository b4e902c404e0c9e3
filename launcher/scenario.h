/*
 * scenario.h - `--scenario FILE`: timed perturbations of a run (README,
 * "Scenarios"), parsed and checked whole before anything starts.
 *
 * One event a line, `at TIME ACTION ARGS`, '#' starts a comment:
 *   kill NODES | stop NODES | cont NODES       signals to the daemons
 *   partition NODES | NODES [| NODES ...]      links between groups cut
 *   heal                                       every cut undone
 *   hashrate NODES RATE                        mining cap (0: none)
 *   mining on|off NODES
 *   adversary NODES ROLE                       an adversary role switched on
 * NODES is a comma-separated list of node names and glob patterns
 * (fnmatch: `c*`, `p[12]`), or `random:PATTERN` for one of the nodes the
 * pattern matches, picked from the run's seed and the line number, so a
 * run repeated with --seed picks the same node.  In a partition `*` stands
 * for every node no other group names.  TIME counts from the run's clock
 * start: `30s`, `1.5s`, `500ms`, `2m`.
 *
 * Parsing is pure (no files but the scenario, no processes): the runner
 * (scen_run.h) applies the events.  A scenario owns its events and their
 * node selections; scen_free releases them.
 */
#ifndef LAUNCHER_SCENARIO_H
#define LAUNCHER_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#define SCEN_EVENTS_MAX 10000
#define SCEN_LINE_MAX 1024
#define SCEN_TEXT_MAX 256           /* the nodes as written, kept for the events table */
#define SCEN_ROLE_MAX 32
#define SCEN_FILE_MAX (1u << 20)

enum scen_what {
    SCEN_KILL, SCEN_STOP, SCEN_CONT, SCEN_PARTITION, SCEN_HEAL, SCEN_HASHRATE,
    SCEN_MINING, SCEN_ADVERSARY,
};

typedef struct {
    int64_t at_ms;                  /* after the run's clock start */
    int what;                       /* enum scen_what */
    int line;                       /* in the file, 1-based */
    /* n_nodes entries: 1 for a chosen node; for a partition the node's
     * group, 1..groups, or 0 in none (linked to every group). */
    uint8_t *sel;
    int groups;
    uint64_t rate;                  /* hashrate: hashes/s, 0 uncapped */
    int on;                         /* mining */
    char role[SCEN_ROLE_MAX + 1];   /* adversary */
    char text[SCEN_TEXT_MAX];       /* the NODES (or groups) as written */
} scen_event;

typedef struct {
    scen_event *ev;                 /* owned; sorted by at_ms, then line */
    size_t n;
    size_t n_nodes;
} scenario;

/* The run's nodes, for matching; names[i] is fleet node i. */
typedef struct {
    const char *const *names;
    size_t n;
    uint64_t seed;                  /* --seed: random: choices */
    int64_t duration_ms;            /* 0: no end; an event later is refused */
} scen_nodes;

/* Parses a scenario's text.  0, or SG_EINVAL with one line in err naming
 * the file (`file`, only for the message), the line, the problem and the
 * fix; SG_ENOMEM.  *s is empty on failure. */
int scen_parse(scenario *s, const char *file, const char *text, const scen_nodes *nodes,
               char *err, size_t cap);
/* Reads FILE (at most SCEN_FILE_MAX bytes) and parses it. */
int scen_load(scenario *s, const char *path, const scen_nodes *nodes, char *err,
              size_t cap);
void scen_free(scenario *s);

/* "kill", "stop", ... as in the file (and the events table). */
const char *scen_what_name(int what);

#endif
