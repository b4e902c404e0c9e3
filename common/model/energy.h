/*
 * energy.h - the simulated households: PV, load, battery, profiles, and the
 * order each node signs every market interval.
 *
 * Time.  Interval k covers real time [genesis_time * 1000 + k * tick_ms,
 * + tick_ms) and simulated time [sim_start + k * interval_minutes * 60,
 * + interval_minutes * 60).  Every node derives k from the chain
 * parameters (energy_interval_at), never from counting its own ticks, so
 * clock drift cannot shift a node's intervals.  Simulated clock times are
 * read in UTC: "12:00" is 12:00 UTC of the simulated day.
 *
 * Randomness.  Everything comes from the run seed.  A node's stream seed is
 * the first 8 bytes (little-endian) of SHA-256(seed as 8 bytes
 * little-endian || node name); its model draws come from xoshiro256**
 * seeded through splitmix64.  The value for interval k is a pure function
 * of (seeds, k): each interval reseeds its own generator from the node seed
 * and k, so a restarted node computes the same PV, load and price jitter.
 * The day's weather depends only on the run seed and the day number, so
 * all prosumers share it; clouds passing in one interval are shared too,
 * and each node adds its own small noise.  No global state.
 *
 * Numbers.  The models use doubles inside, but each interval's output is
 * rounded to integer Wh and prices are integers; the same inputs give
 * bit-identical outputs (on one libm: another libm could in principle
 * round a value 1 Wh differently, which changes an order a node signs,
 * never a consensus rule).  Battery state is integer Wh.
 *
 * Models.
 *  - PV: capacity drawn per prosumer from [pv_min_w, pv_max_w].  Daylight
 *    is centred on 12:30 and lasts 14 h +- 2 h over the year (longest on
 *    day 172); output follows a Gaussian (sigma = a third of the half day)
 *    shifted to reach zero at sunrise and sunset, so it is exactly zero at
 *    night.  Weather per day: sunny (50 %, 85-100 % of clear sky), partly
 *    cloudy (30 %, 45-75 %, and passing clouds take 0-50 % off an
 *    interval), overcast (20 %, 10-30 %); plus +-5 % per node and interval.
 *  - Load: 250 W night base, a morning peak (07:30, +700 W), a daytime
 *    plateau (13:00, +250 W) and an evening peak (19:00, +1100 W), times a
 *    per-household scale of 60-160 %, times +-15 % noise per interval.
 *  - Battery (ENERGY_BATTERY_*): charges from surplus and discharges for
 *    deficit within max_power_w, between min_pct and max_pct of capacity;
 *    the round-trip loss is taken on charge (stored = drawn * eff / 100).
 *  - Profiles (energy_profile): CSV of Wh per 15-minute slot, used instead
 *    of the built-in curve; slot 0 starts at 00:00 UTC of sim_start's day
 *    and the profile repeats.  Another interval length maps by time: an
 *    interval gets each overlapping slot's Wh in proportion to the overlap
 *    (rounded once, half up).  A profile replaces the curve exactly: no
 *    scale and no noise are applied.
 *
 * The node's decision per interval: net = pv - load; a battery absorbs a
 * surplus or covers a deficit first; a remaining surplus is offered, a
 * remaining deficit bid for, zero means no order.  Prices lie in [feed_in,
 * retail]: a reference (the mid of the band until a clearing price is
 * seen, then an average of recent clearing prices, ref = (3 ref + p) / 4)
 * plus, for a bid, or minus, for an offer, a margin of 2-8 % of the band
 * (seeded jitter) and the node's aggression: a node whose last order went
 * partly to the grid bids up or asks less (+5 % of the band a time, up to
 * 40 %); one fully matched relaxes (-2 %, down to -10 %).  So prices follow
 * supply and demand.
 */
#ifndef SG_ENERGY_H
#define SG_ENERGY_H

#include <stddef.h>
#include <stdint.h>
#include "proto/block.h"
#include "common/core/params.h"

/* ---- random numbers ------------------------------------------------------ */

typedef struct {
    uint64_t s[4];
} energy_rng;

void energy_rng_seed(energy_rng *r, uint64_t seed);
uint64_t energy_rng_next(energy_rng *r);
/* Uniform in [0, 1), 53 bits. */
double energy_rng_unit(energy_rng *r);
/* The node's stream seed (see above).  name is a NUL-terminated string. */
uint64_t energy_node_seed(uint64_t run_seed, const char *name);

/* ---- time ---------------------------------------------------------------- */

/* The market interval running at real time now_ms (unix milliseconds).
 * SG_ETIME before genesis, SG_EINVAL when tick_ms is 0. */
int energy_interval_at(const chain_params *p, uint64_t now_ms, uint64_t *k);
/* Real time (unix ms) at which interval k begins. */
uint64_t energy_interval_real_ms(const chain_params *p, uint64_t k);
/* Simulated time (unix seconds) at which interval k begins. */
uint64_t energy_interval_sim_time(const chain_params *p, uint64_t k);

enum energy_weather { ENERGY_SUNNY = 0, ENERGY_PARTLY_CLOUDY = 1, ENERGY_OVERCAST = 2 };

/* The weather of simulated day `day` (unix seconds / 86400). */
int energy_weather_of_day(uint64_t run_seed, uint64_t day);

/* ---- profiles ------------------------------------------------------------ *
 *
 * Format: one value per line, Wh per 15-minute slot, a non-negative decimal
 * number (a fraction is rounded half up to whole Wh).  A line with commas
 * uses its last field, so "timestamp,value" exports work.  Blank lines and
 * '#' comments are skipped; one header line (a first line that is not a
 * number) is allowed.  CRLF line ends are accepted. */

#define ENERGY_PROFILE_MAX_SLOTS (1u << 22)   /* ~120 years of 15-minute slots */
#define ENERGY_PROFILE_MAX_WH 1000000000u     /* 1 GWh in 15 minutes: surely a typo */

typedef struct {
    uint64_t *wh;      /* owned */
    size_t n;
} energy_profile;

/* SG_EINVAL with *bad_line (1-based) on a bad value; an empty profile is
 * SG_EINVAL with *bad_line = line count + 1.  SG_ETOOBIG over
 * ENERGY_PROFILE_MAX_SLOTS values, SG_ENOMEM; *bad_line is then 0.  On
 * error *p is empty.  bad_line may be NULL. */
int energy_profile_parse(const char *text, size_t len, energy_profile *p, int *bad_line);
/* The same from a file; SG_EIO when it cannot be read, SG_ETOOBIG over 64 MiB. */
int energy_profile_load(const char *path, energy_profile *p, int *bad_line);
void energy_profile_free(energy_profile *p);
/* Wh the profile gives for interval k of a run with parameters p. */
uint64_t energy_profile_interval_wh(const energy_profile *prof, const chain_params *p,
                                    uint64_t k);

/* ---- battery ------------------------------------------------------------- */

#define ENERGY_BATTERY_MIN_PCT 10
#define ENERGY_BATTERY_MAX_PCT 90
#define ENERGY_BATTERY_EFF_PCT 90   /* round trip */

typedef struct {
    uint64_t capacity_wh;
    uint64_t soc_wh;          /* state of charge */
    uint64_t max_power_w;     /* charge and discharge limit */
    uint32_t min_pct, max_pct;
    uint32_t efficiency_pct;  /* 1..100 */
} energy_battery;

/* Defaults: bounds and efficiency above, 0.5 C power, half full. */
void energy_battery_init(energy_battery *b, uint64_t capacity_wh);
/* Runs one interval of `minutes` on the net energy (surplus > 0, deficit
 * < 0) and returns what is left for the market.  *charge_wh is what the
 * battery drew from the surplus (the stored part plus the loss),
 * *discharge_wh what it delivered. */
int64_t energy_battery_step(energy_battery *b, int64_t net_wh, uint32_t minutes,
                            uint64_t *charge_wh, uint64_t *discharge_wh);

/* ---- a node -------------------------------------------------------------- */

#define ENERGY_PV_MIN_W 3000
#define ENERGY_PV_MAX_W 8000

typedef struct {
    int prosumer;                      /* has PV (and possibly a battery) */
    uint64_t pv_min_w, pv_max_w;       /* capacity range; 0,0: the defaults */
    uint64_t battery_wh;               /* 0: no battery; prosumers only */
    const energy_profile *pv_profile;  /* NULL: built-in curve; borrowed */
    const energy_profile *load_profile;
} energy_config;

typedef struct {
    energy_config cfg;        /* profiles borrowed: they outlive the node */
    uint64_t run_seed, seed;
    uint64_t pv_capacity_w;   /* 0 for a consumer */
    uint32_t load_scale_pct;
    int has_battery;
    energy_battery battery;
    uint64_t ref_price;       /* 0 until a clearing price is seen */
    int32_t aggression_pct;
    /* cumulative, for statistics */
    uint64_t produced_wh, consumed_wh, charged_wh, discharged_wh;
} energy_node;

/* One interval's outcome for a node. */
typedef struct {
    uint64_t interval;
    uint64_t pv_wh, load_wh;
    uint64_t charge_wh, discharge_wh, soc_wh;
    uint8_t kind;             /* PROTO_TX_OFFER, PROTO_TX_BID, or 0: no order */
    uint64_t energy_wh;       /* the order's energy */
    uint64_t price;           /* the order's limit price */
} energy_step;

/* SG_EINVAL on a bad config (pv_min_w > pv_max_w, a consumer with PV
 * settings is fine: they are ignored). */
int energy_node_init(energy_node *n, const energy_config *cfg, uint64_t run_seed,
                     const char *name);
/* Pure functions of (node, interval): no state changes. */
uint64_t energy_node_pv_wh(const energy_node *n, const chain_params *p, uint64_t k);
uint64_t energy_node_load_wh(const energy_node *n, const chain_params *p, uint64_t k);
/* Advances the node through interval k (call once per interval, in order):
 * models, battery, and the order to sign.  Updates the cumulative totals. */
void energy_node_step(energy_node *n, const chain_params *p, uint64_t k, energy_step *out);
/* Feeds back a settled interval: its clearing price (0: nothing traded,
 * the reference stays) and, if the node had an order in it, how much it
 * asked for and how much traded peer to peer (both 0 otherwise). */
void energy_node_observe(energy_node *n, uint64_t clearing_price, uint64_t order_wh,
                         uint64_t traded_wh);
/* The same read from a settlement: order_id and order_wh describe the
 * node's order of that interval (NULL and 0: it had none); an order the
 * settlement does not name counts as nothing traded. */
void energy_node_observe_settlement(energy_node *n, const proto_tx *settle,
                                    const uint8_t *order_id, uint64_t order_wh);

#endif
