/*
 * clock.h - the two clocks every room reads: monotonic for timeouts and
 * intervals (never jumps with the wall clock), and the wall clock for
 * timestamps that leave the process (block times, database rows).
 */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (the clock uv_hrtime reads too). */
int64_t clock_mono_ms(void);
/* Seconds on CLOCK_MONOTONIC, for rates measured over short spans. */
double clock_mono_s(void);
/* Milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);

#endif
