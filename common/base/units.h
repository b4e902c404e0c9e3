/*
 * units.h - parsing user-given decimal quantities into integer thousandths
 * (kWh -> Wh, seconds -> ms), shared by the daemons' and the launcher's
 * command lines so both accept exactly the same spellings.
 */
#ifndef SG_UNITS_H
#define SG_UNITS_H

#include <stdint.h>

/* "13.5" -> 13500: digits, optionally a point and 1 to 3 decimals, nothing
 * else (no sign, no exponent).  0, or SG_EINVAL when malformed or outside
 * [lo, hi] (bounds in thousandths). */
int units_parse_milli(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

#endif
