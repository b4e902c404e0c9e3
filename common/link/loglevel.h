/*
 * loglevel.h - log levels: the numbers a control client sends in LOG_SUB
 * and reads in LOG_LINE (so they never change), and their names on command
 * lines (daemons' --log-level, `ctl log --level`, the launcher's
 * --log-level and `attach --level`).  The logger itself is
 * common/daemon/log.h; this is what a client needs without it.
 */
#ifndef SG_LOGLEVEL_H
#define SG_LOGLEVEL_H

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
    LOG_LEVEL_OFF = 4,   /* as a threshold: nothing passes */
};

/* "ERROR", "WARN", "INFO", "DEBUG" ("?" for anything else). */
const char *log_level_name(int level);
/* Accepts those names in any case (and "warning"); 0 or SG_EINVAL. */
int log_level_parse(const char *s, int *level);

#endif
