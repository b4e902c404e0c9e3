/*
 * units.h - parsing user-given decimal quantities into integers: thousandths
 * (kWh -> Wh, seconds -> ms) and rates with a k/M/G suffix (hashes per
 * second), shared by the daemons' and the launcher's command lines so both
 * accept exactly the same spellings.
 */
#ifndef SG_UNITS_H
#define SG_UNITS_H

#include <stdint.h>

/* "13.5" -> 13500: digits, optionally a point and 1 to 3 decimals, nothing
 * else (no sign, no exponent).  0, or SG_EINVAL when malformed or outside
 * [lo, hi] (bounds in thousandths). */
int units_parse_milli(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* "2M" -> 2000000, "1.5M" -> 1500000, "250k", "3G", "500": digits,
 * optionally a point and decimals, then optionally k (or K, 10^3), M
 * (10^6) or G (10^9); nothing else.  The value must be a whole number (no
 * more decimals than the suffix has zeros).  0, or SG_EINVAL when
 * malformed or outside [lo, hi]; *out untouched on error. */
int units_parse_rate(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* The largest hash rate cap the command lines take: 1000G, above any
 * device. */
#define UNITS_HASHRATE_MAX 1000000000000ull

#endif
