#define _GNU_SOURCE
#include "common/daemon/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/err.h"

struct logger {
    pthread_mutex_t mu;
    char name[LOG_NAME_MAX + 1];
    char *path;           /* owned; NULL = stderr */
    int fd;
    int level;            /* file threshold */
    int hook_level;
    log_hook_cb hook;
    void *hook_ctx;
};

static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int log_open(logger **out, const char *name, const char *path, int level)
{
    logger *lg;
    int err;

    *out = NULL;
    if (name == NULL || level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_OFF)
        return SG_EINVAL;
    lg = calloc(1, sizeof(*lg));
    if (lg == NULL)
        return SG_ENOMEM;
    pthread_mutex_init(&lg->mu, NULL);
    snprintf(lg->name, sizeof(lg->name), "%s", name);
    lg->level = level;
    lg->hook_level = LOG_LEVEL_OFF;
    lg->fd = STDERR_FILENO;
    if (path != NULL) {
        lg->path = strdup(path);
        if (lg->path == NULL) {
            err = SG_ENOMEM;
            goto fail;
        }
        lg->fd = open_append(path);
        if (lg->fd < 0) {
            err = SG_EIO;
            goto fail;
        }
    }
    *out = lg;
    return 0;
fail:
    pthread_mutex_destroy(&lg->mu);
    free(lg->path);
    free(lg);
    return err;
}

void log_close(logger *lg)
{
    if (lg == NULL)
        return;
    if (lg->path != NULL)
        close(lg->fd);
    pthread_mutex_destroy(&lg->mu);
    free(lg->path);
    free(lg);
}

int log_reopen(logger *lg)
{
    int fd, old;

    if (lg == NULL || lg->path == NULL)
        return 0;
    fd = open_append(lg->path);
    if (fd < 0)
        return SG_EIO;
    pthread_mutex_lock(&lg->mu);
    old = lg->fd;
    lg->fd = fd;
    pthread_mutex_unlock(&lg->mu);
    close(old);
    return 0;
}

void log_set_level(logger *lg, int level)
{
    if (lg == NULL)
        return;
    __atomic_store_n(&lg->level, level, __ATOMIC_RELAXED);
}

int log_get_level(const logger *lg)
{
    return lg == NULL ? LOG_LEVEL_OFF : __atomic_load_n(&lg->level, __ATOMIC_RELAXED);
}

void log_set_hook(logger *lg, int min_level, log_hook_cb cb, void *ctx)
{
    if (lg == NULL)
        return;
    pthread_mutex_lock(&lg->mu);
    lg->hook = cb;
    lg->hook_ctx = ctx;
    __atomic_store_n(&lg->hook_level, cb == NULL ? LOG_LEVEL_OFF : min_level,
                     __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lg->mu);
}

void log_set_hook_level(logger *lg, int min_level)
{
    if (lg == NULL)
        return;
    pthread_mutex_lock(&lg->mu);
    if (lg->hook != NULL)
        __atomic_store_n(&lg->hook_level, min_level, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lg->mu);
}

int log_enabled(const logger *lg, int level)
{
    /* Racy reads are fine here: a stale answer only costs one line. */
    if (lg == NULL)
        return 0;
    return level >= __atomic_load_n(&lg->level, __ATOMIC_RELAXED) ||
           level >= __atomic_load_n(&lg->hook_level, __ATOMIC_RELAXED);
}

uint64_t log_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t log_format(char *out, size_t cap, uint64_t time_ms, int level,
                  const char *name, const char *msg)
{
    time_t secs = (time_t)(time_ms / 1000);
    struct tm tm;
    size_t n, limit;
    int w;

    if (cap > LOG_LINE_MAX + 1)
        cap = LOG_LINE_MAX + 1;
    gmtime_r(&secs, &tm);
    w = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ %s %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (unsigned)(time_ms % 1000),
                 log_level_name(level), name);
    n = w < 0 ? 0 : (size_t)w;
    if (n >= cap)
        n = cap - 1;
    /* Copy the message byte by byte so control characters cannot forge a
     * second line or an escape sequence in someone's terminal. */
    limit = cap - 1;
    for (const unsigned char *p = (const unsigned char *)msg; *p && n < limit; p++)
        out[n++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
    out[n] = '\0';
    return n;
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;   /* nowhere to report a failing log; drop the line */
        p += w;
        len -= (size_t)w;
    }
}

void log_vmsg(logger *lg, int level, const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX + 1];
    char line[LOG_LINE_MAX + 2];
    uint64_t now;
    size_t len;

    if (!log_enabled(lg, level))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    now = log_now_ms();
    len = log_format(line, LOG_LINE_MAX + 1, now, level, lg->name, msg);
    line[len] = '\n';
    pthread_mutex_lock(&lg->mu);
    if (level >= __atomic_load_n(&lg->level, __ATOMIC_RELAXED))
        write_all(lg->fd, line, len + 1);
    if (lg->hook != NULL &&
        level >= __atomic_load_n(&lg->hook_level, __ATOMIC_RELAXED)) {
        line[len] = '\0';
        lg->hook(lg->hook_ctx, level, now, line, len);
    }
    pthread_mutex_unlock(&lg->mu);
}

void log_msg(logger *lg, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lg, level, fmt, ap);
    va_end(ap);
}
