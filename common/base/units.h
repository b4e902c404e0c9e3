/*
 * units.h - parsing what users type: unsigned integers, decimal quantities
 * in integer thousandths (kWh -> Wh, seconds -> ms), rates with a k/M/G
 * suffix (hashes per second) and HOST:PORT addresses.  The daemons' and the
 * launcher's command lines, the genesis file and the control client all
 * parse through here, so every one of them accepts exactly the same
 * spellings.
 */
#ifndef SG_UNITS_H
#define SG_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* The len bytes at s as a decimal number in [lo, hi]: digits only (no
 * sign, blank, prefix or exponent; leading zeros are fine), len > 0.  0, or
 * SG_EINVAL when malformed, too large or outside the bounds (*out is then
 * left alone).  Length-bounded, so it reads tokens inside a larger text. */
int units_parse_u64(const char *s, size_t len, uint64_t lo, uint64_t hi, uint64_t *out);
/* The same for a NUL-terminated string and a 32-bit field. */
int units_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

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
/* "HOST:PORT", "[V6]:PORT" or ":PORT" (empty host: every address), the
 * port a number from 0 to 65535.  The host, brackets removed, is copied to
 * host (cap bytes with the NUL) unless host is NULL.  0, or SG_EINVAL when
 * malformed or the host does not fit.  Callers add their own rules (a
 * client needs a host and a port above 0). */
int units_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port);

#endif
