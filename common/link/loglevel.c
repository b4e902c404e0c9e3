#include "common/link/loglevel.h"

#include <stddef.h>
#include <strings.h>

#include "common/base/err.h"

const char *log_level_name(int level)
{
    switch (level) {
    case LOG_LEVEL_DEBUG: return "DEBUG";
    case LOG_LEVEL_INFO: return "INFO";
    case LOG_LEVEL_WARN: return "WARN";
    case LOG_LEVEL_ERROR: return "ERROR";
    }
    return "?";
}

int log_level_parse(const char *s, int *level)
{
    static const struct { const char *name; int level; } names[] = {
        { "debug", LOG_LEVEL_DEBUG }, { "info", LOG_LEVEL_INFO },
        { "warn", LOG_LEVEL_WARN }, { "warning", LOG_LEVEL_WARN },
        { "error", LOG_LEVEL_ERROR },
    };
    for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *level = names[i].level;
            return 0;
        }
    }
    return SG_EINVAL;
}
