/*
 * scen_run.h - applying a parsed scenario (scenario.h) to a running
 * fleet, from the launcher's run loop, and recording every event in the
 * `events` table.
 *
 *   kill, stop, cont   SIGKILL, SIGSTOP, SIGCONT to the local daemon
 *                      (refused at validation for a daemon on another
 *                      host: the launcher's child there is the remote
 *                      shell's transport, not the daemon); a killed daemon
 *                      is restarted by the launcher's usual policy
 *   partition, heal    PARTITION over a control link of its own to every
 *                      running node: the names in the other groups (heal:
 *                      none); a node restarted while a partition holds is
 *                      sent its set again once it answers, and that is
 *                      recorded too
 *   hashrate           HASHRATE over the control link; the new cap is also
 *                      the one a restart gets
 *   mining             MINING, as the launcher's ramp does
 *   adversary          ADVERSARY with the role's name; ack 1 = on
 * At the end of the run (scen_run_finish) stopped daemons are continued
 * and a partition is healed, so the run can settle on one tip.
 *
 * Ownership: the runner owns the scenario given to scen_run_init and its
 * own arrays; the fleet and db are borrowed for each call.  One thread.
 */
#ifndef LAUNCHER_SCEN_RUN_H
#define LAUNCHER_SCEN_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "launcher/db/db.h"
#include "scenario.h"

#define SCEN_CTL_TIMEOUT_MS 3000

typedef void (*scen_note_fn)(void *ctx, const char *line);

typedef struct {
    scenario sc;                    /* owned */
    size_t next;                    /* first event not yet applied */
    int64_t seq;                    /* last events row written */
    uint8_t *stopped;               /* n_nodes: SIGSTOPped by us */
    uint8_t *group;                 /* n_nodes: partition group now, 0 none */
    pid_t *sent_pid;                /* n_nodes: the process the set went to */
    int partitioned;
    const char *run_id;             /* borrowed */
    db *d;                          /* borrowed */
    scen_note_fn note;
    void *note_ctx;
} scen_run;

/* Takes the scenario over (*sc is emptied).  0 or SG_ENOMEM. */
int scen_run_init(scen_run *r, scenario *sc, const char *run_id, db *d, scen_note_fn note,
                  void *note_ctx);
void scen_run_free(scen_run *r);

/* Applies every event due `elapsed_ms` after the run's clock start, and
 * re-sends the partition to restarted nodes.  Returns how many events it
 * applied. */
int scen_run_poll(scen_run *r, fleet *f, int64_t elapsed_ms);
/* Whether node i is stopped by the scenario (not worth polling). */
int scen_run_is_stopped(const scen_run *r, size_t i);
/* Continues stopped daemons and heals a partition. */
void scen_run_finish(scen_run *r, fleet *f, int64_t elapsed_ms);

/* The events of a file that need the daemon's own process (kill, stop,
 * cont) on a node for which `remote` is set: SG_EINVAL with one line in
 * err naming the line and the fix. */
int scen_check_remote(const scenario *sc, const char *file, const uint8_t *remote,
                      const char *const *names, char *err, size_t cap);

#endif
