#include "common/core/role.h"

#include <string.h>

#include "common/base/err.h"

static const char *const role_names[] = {
    [ROLE_PROSUMER] = "prosumer",
    [ROLE_CONSUMER] = "consumer",
    [ROLE_OPERATOR] = "operator",
};

const char *role_name(int role)
{
    return role >= ROLE_PROSUMER && role <= ROLE_OPERATOR ? role_names[role] : "?";
}

int role_parse(const char *s, int *role)
{
    for (int r = ROLE_PROSUMER; s && r <= ROLE_OPERATOR; r++)
        if (strcmp(s, role_names[r]) == 0) {
            *role = r;
            return 0;
        }
    return SG_EINVAL;
}
