/*
 * rundir.h - the run directory: everything a run needs on disk, written
 * before any daemon starts, and read back by `launcher attach/status`.
 *
 * Layout of DIR (runs/<yyyymmdd-hhmmss>-<4 hex>/ unless --run-dir):
 *   cluster.key            the cluster's shared key (0600)
 *   keys/NAME.key          one identity per daemon (0600)
 *   genesis.txt            chain parameters and initial balances
 *   nodes.tsv              "name role port pubkey address" per daemon, operator first
 *   run.json               every parameter of the run (no password)
 *   scenario.txt           a copy of the --scenario file, when one was given
 *   data/NAME/             each daemon's data directory (blocks.dat)
 *   logs/NAME.log          each daemon's log; logs/NAME.out its stdout/stderr
 *   run.db                 the SQLite database (without --db-host)
 */
#ifndef LAUNCHER_RUNDIR_H
#define LAUNCHER_RUNDIR_H

#include <stddef.h>

#include "common/core/params.h"
#include "fleet.h"
#include "opts.h"

/* Fills f->nodes (operator, prosumers p1.., consumers c1..) with names,
 * roles, ports and paths under dir; allocates f->nodes. */
int rundir_plan(fleet *f, const launcher_opts *o, const char *dir);
/* Creates dir and writes keys, genesis (params filled here and kept by
 * the caller: free with params_free), nodes.tsv and run.json (json_out
 * gets a malloc'd copy of run.json's text).  One line in err on failure. */
int rundir_create(fleet *f, const launcher_opts *o, const char *dir, const char *run_id,
                  chain_params *params, char **json_out, char *err, size_t errcap);
/* Loads a run made by rundir_create: nodes.tsv, cluster key, chain id. */
int rundir_load(fleet *f, const char *dir, char *err, size_t errcap);
/* The newest directory under runs/ into out. */
int rundir_latest(char *out, size_t cap);
void rundir_free(fleet *f);

#endif
