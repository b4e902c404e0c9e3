/*
 * report.h - the run report: DIR/report.html, one self-contained file
 * (inline SVG and CSS, no scripts, no network) drawn from the run's SQLite
 * database DIR/run.db.  Written at the end of every run and on demand by
 * `launcher report --run DIR`.  Runs stored in MySQL/MariaDB are not
 * reported yet (the report reads SQLite only).
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

/* Writes DIR/report.html for the newest run in DIR/run.db (through a
 * temporary file and rename, so a reader never sees half a report).
 * 0, or SG_EIO / SG_ENOTFOUND / SG_ENOMEM with one line in err. */
int report_write(const char *dir, char *err, size_t errcap);

#endif
