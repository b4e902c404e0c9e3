/* Fuzzes the CSV profile parser.  Checks: a refusal is SG_EINVAL with a
 * line inside the text (or one past it) or SG_ETOOBIG, and leaves the
 * profile empty; an accepted profile has 1..ENERGY_PROFILE_MAX_SLOTS values
 * each at most ENERGY_PROFILE_MAX_WH, and mapping it onto intervals of
 * several lengths never reads outside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/model/energy.h"
#include "common/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_lines(const uint8_t *data, size_t size)
{
    int n = 0;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            n++;
    return size > 0 && data[size - 1] != '\n' ? n + 1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t minutes[] = { 1, 5, 10, 15, 30, 60, 1440 };
    energy_profile prof;
    chain_params p;
    int bad = -1;
    int rc = energy_profile_parse((const char *)data, size, &prof, &bad);

    if (rc != 0) {
        if (prof.wh != NULL || prof.n != 0)
            abort();
        if (rc == SG_EINVAL && bad >= 1 && bad <= count_lines(data, size) + 1)
            return 0;
        if ((rc == SG_ETOOBIG || rc == SG_ENOMEM) && bad == 0)
            return 0;
        abort();
    }
    if (bad != 0 || prof.n == 0 || prof.n > ENERGY_PROFILE_MAX_SLOTS)
        abort();
    uint64_t max = 0;
    for (size_t i = 0; i < prof.n; i++) {
        if (prof.wh[i] > ENERGY_PROFILE_MAX_WH)
            abort();
        if (prof.wh[i] > max)
            max = prof.wh[i];
    }
    params_init_defaults(&p);
    p.sim_start = 1700006400 + (size % 7) * 300;
    for (size_t m = 0; m < sizeof minutes / sizeof *minutes; m++) {
        p.interval_minutes = minutes[m];
        for (uint64_t k = 0; k < 8; k++) {
            /* An interval of m minutes gets at most m/15 of the largest slot. */
            uint64_t wh = energy_profile_interval_wh(&prof, &p, k);
            if (wh > max * minutes[m] / 15 + 1)
                abort();
        }
    }
    energy_profile_free(&prof);
    return 0;
}
