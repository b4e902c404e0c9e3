/*
 * report.h - the run report: DIR/report.html, one self-contained file
 * (inline SVG and CSS, no scripts, no network) drawn from the run's store:
 * the MySQL/MariaDB database DIR/run.json names (a --db-host run; the
 * password from the caller or MYSQL_PWD), else the SQLite file DIR/run.db.
 * The run is the one DIR/run.json names, else the newest in the store.
 * Written at the end of every run and on demand by `launcher report --run
 * DIR`.  The store is only read, through db_reader (db.h).
 *
 * Charts, each with axes, units, labels and a legend: clearing price and
 * traded energy per market interval, grid import/export per interval,
 * offered surplus and bid deficit per interval with PV and load totals per
 * household, block interval histogram, best and stale blocks per miner,
 * hash rate per node over time, transaction latency histogram.
 */
#ifndef LAUNCHER_REPORT_H
#define LAUNCHER_REPORT_H

#include <stddef.h>

#include "launcher/db/db.h"

/* Writes DIR/report.html (through a temporary file and rename, so a
 * reader never sees half a report).  db_password: for a MySQL run (NULL:
 * MYSQL_PWD or none).  0, or SG_EIO / SG_ENOTFOUND / SG_ENOMEM with one
 * line in err. */
int report_write_ex(const char *dir, const char *db_password, char *err, size_t errcap);
/* Opens the run's store as the report does (run.json's database, else
 * DIR/run.db) and names the run (run.json's, else the newest): for other
 * readers of a finished run (`launcher analyze`).  *out is closed with
 * db_reader_close.  0, or an SG_E* code with one line in err. */
int report_open_run(const char *dir, const char *db_password, db_reader **out,
                    char *run_id, size_t idcap, char *err, size_t errcap);
/* report_write_ex with no password given. */
int report_write(const char *dir, char *err, size_t errcap);

#endif
