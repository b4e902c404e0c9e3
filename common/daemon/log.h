/*
 * log.h - a daemon's logger: timestamped lines to a file (or stderr), with
 * a hook that lets the daemon stream each new line to control clients.
 *
 * A line reads "YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL name: message" (UTC).  The
 * message is truncated to LOG_LINE_MAX bytes of line in all, and control
 * characters in it (a peer-supplied name with a newline, say) become '?',
 * so one call is always exactly one line.
 *
 * Levels grow with severity, so "min level" reads naturally: a line is
 * written if its level >= the logger's level, and handed to the hook if its
 * level >= the hook's level (the two are independent, so a control client
 * can ask for debug lines while the file keeps info and up).
 *
 * A logger may be used from several threads (miner workers log too): each
 * line is formatted into a local buffer and written with one write(2) on
 * an O_APPEND descriptor, under the logger's mutex.  The hook is called
 * under that mutex as well, on whichever thread logged, so that
 * log_set_hook(NULL) returning means no call is still running; a hook must
 * therefore be quick and must not log.
 *
 * Every function accepts a NULL logger and then does nothing, so modules
 * can take an optional logger without testing for it.
 */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "common/link/loglevel.h"   /* enum log_level, names, parse */

/* Longest line, timestamp to last message byte, without the newline.  The
 * same bound as a streamed line's text (proto/msg.h PROTO_LOG_LINE_MAX). */
#define LOG_LINE_MAX 4000
#define LOG_NAME_MAX 64

typedef struct logger logger;

/* Called with each line at or above the hook's level.  `line` is the whole
 * formatted line without newline, valid only during the call. */
typedef void (*log_hook_cb)(void *ctx, int level, uint64_t time_ms,
                            const char *line, size_t len);

/* Opens (creates, appends to) path, or logs to stderr when path is NULL.
 * name is the daemon's name shown on every line.  0, SG_EINVAL, SG_ENOMEM or
 * SG_EIO (errno set). */
int log_open(logger **out, const char *name, const char *path, int level);
void log_close(logger *lg);
/* Opens the path again and swaps descriptors: after logrotate renamed the
 * file, new lines go to a fresh file at the old name.  A no-op for stderr.
 * On failure the old descriptor stays in use and SG_EIO is returned. */
int log_reopen(logger *lg);
void log_set_level(logger *lg, int level);
int log_get_level(const logger *lg);
/* Installs (or with cb NULL removes) the one hook. */
void log_set_hook(logger *lg, int min_level, log_hook_cb cb, void *ctx);
/* Changes the hook's threshold only (e.g. as subscribers come and go). */
void log_set_hook_level(logger *lg, int min_level);
/* Whether a line at this level would go anywhere; lets callers skip costly
 * argument preparation for debug lines. */
int log_enabled(const logger *lg, int level);

void log_msg(logger *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(logger *lg, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_error(lg, ...) log_msg((lg), LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) log_msg((lg), LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(lg, ...) log_msg((lg), LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_msg((lg), LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Formats one line (no newline) into out, NUL-terminated, and returns its
 * length.  cap must be at least 64; longer content is cut to cap - 1 (and
 * to LOG_LINE_MAX).  Exposed so tests and tools produce identical lines. */
size_t log_format(char *out, size_t cap, uint64_t time_ms, int level,
                  const char *name, const char *msg);
/* Wall-clock milliseconds since the Unix epoch. */
uint64_t log_now_ms(void);

#endif
