/*
 * sim.h - one simulation run from parsed options to the summary: run
 * directory, database, daemons, supervision, live statistics, storage and
 * the orderly stop (see docs in launcher/main.c's usage and rundir.h).
 */
#ifndef LAUNCHER_SIM_H
#define LAUNCHER_SIM_H

#include "opts.h"

/* Returns the process exit status: 0 after a clean stop (duration reached,
 * Ctrl-C or SIGTERM), 2 for bad input found before anything started (one
 * line on stderr), 1 for a failure during the run. */
int sim_run(launcher_opts *o, const char *argv0);

#endif
