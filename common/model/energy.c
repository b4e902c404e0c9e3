#include "common/model/energy.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

/* Stream labels: each kind of draw gets its own generator, so adding a
 * draw to one model never shifts another's numbers. */
enum {
    STREAM_INIT = 1,
    STREAM_PV = 2,
    STREAM_LOAD = 3,
    STREAM_PRICE = 4,
    STREAM_WEATHER = 5,
    STREAM_CLOUDS = 6,
};

#define SLOT_SECONDS 900u
#define PROFILE_MAX_FILE (64u * 1024 * 1024)

/* ---- random numbers ------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void energy_rng_seed(energy_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t energy_rng_next(energy_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double energy_rng_unit(energy_rng *r)
{
    return (double)(energy_rng_next(r) >> 11) * 0x1.0p-53;
}

/* [lo, hi) */
static double rng_range(energy_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * energy_rng_unit(r);
}

uint64_t energy_node_seed(uint64_t run_seed, const char *name)
{
    crypto_hash_sha256_state st;
    uint8_t le[8], h[32];
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(run_seed >> (8 * i));
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, le, sizeof le);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_final(&st, h);
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)h[i] << (8 * i);
    return v;
}

/* A generator for one (seed, stream, index) triple. */
static void rng_for(energy_rng *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    uint64_t a = splitmix64(&x);
    uint64_t y = index;
    energy_rng_seed(r, a ^ splitmix64(&y));
}

/* ---- time ---------------------------------------------------------------- */

int energy_interval_at(const chain_params *p, uint64_t now_ms, uint64_t *k)
{
    uint64_t origin = p->genesis_time * 1000;

    if (p->tick_ms == 0)
        return SG_EINVAL;
    if (now_ms < origin)
        return SG_ETIME;
    *k = (now_ms - origin) / p->tick_ms;
    return SG_OK;
}

uint64_t energy_interval_real_ms(const chain_params *p, uint64_t k)
{
    return p->genesis_time * 1000 + k * p->tick_ms;
}

uint64_t energy_interval_sim_time(const chain_params *p, uint64_t k)
{
    return p->sim_start + k * (uint64_t)p->interval_minutes * 60;
}

int energy_weather_of_day(uint64_t run_seed, uint64_t day)
{
    energy_rng r;
    rng_for(&r, run_seed, STREAM_WEATHER, day);
    uint64_t v = energy_rng_next(&r) % 100;
    return v < 50 ? ENERGY_SUNNY : v < 80 ? ENERGY_PARTLY_CLOUDY : ENERGY_OVERCAST;
}

/* Hours since 00:00 UTC of the middle of interval k, and its day number. */
static double interval_mid_hour(const chain_params *p, uint64_t k, uint64_t *day)
{
    uint64_t t = energy_interval_sim_time(p, k);
    uint64_t half = (uint64_t)p->interval_minutes * 30;
    t += half;
    *day = t / 86400;
    return (double)(t % 86400) / 3600.0;
}

/* ---- PV ------------------------------------------------------------------ */

/* Clear-sky output as a fraction of capacity at hour h of day `day`. */
static double clear_sky(double h, uint64_t day)
{
    /* Day of year from 2000-01-01 (unix day 10957), tropical year. */
    double doy = fmod((double)day - 10957.0, 365.2425);
    double half_day = 7.0 + 1.0 * cos(2.0 * M_PI * (doy - 172.0) / 365.2425);
    double noon = 12.5, x = h - noon;
    double sigma = half_day / 3.0;
    double edge = exp(-(half_day * half_day) / (2.0 * sigma * sigma));

    if (x <= -half_day || x >= half_day)
        return 0.0;
    double g = (exp(-(x * x) / (2.0 * sigma * sigma)) - edge) / (1.0 - edge);
    return g > 0.0 ? g : 0.0;
}

/* The shared weather factor of interval k on `day`. */
static double weather_factor(uint64_t run_seed, uint64_t day, uint64_t k)
{
    energy_rng rd, rk;
    rng_for(&rd, run_seed, STREAM_WEATHER, day);
    (void)energy_rng_next(&rd);   /* the draw energy_weather_of_day made */
    rng_for(&rk, run_seed, STREAM_CLOUDS, k);
    switch (energy_weather_of_day(run_seed, day)) {
    case ENERGY_SUNNY:
        return rng_range(&rd, 0.85, 1.0);
    case ENERGY_PARTLY_CLOUDY:
        return rng_range(&rd, 0.45, 0.75) * (1.0 - rng_range(&rk, 0.0, 0.5));
    default:
        return rng_range(&rd, 0.10, 0.30);
    }
}

/* Absurd configurations (a petawatt roof) saturate instead of overflowing. */
#define WH_CAP 1e15

static uint64_t round_wh(double wh)
{
    if (!(wh > 0.0))
        return 0;
    return wh >= WH_CAP ? (uint64_t)WH_CAP : (uint64_t)llround(wh);
}

uint64_t energy_node_pv_wh(const energy_node *n, const chain_params *p, uint64_t k)
{
    energy_rng r;
    uint64_t day;
    double h, frac;

    if (!n->cfg.prosumer)
        return 0;
    if (n->cfg.pv_profile != NULL)
        return energy_profile_interval_wh(n->cfg.pv_profile, p, k);
    h = interval_mid_hour(p, k, &day);
    frac = clear_sky(h, day);
    if (frac == 0.0)
        return 0;
    rng_for(&r, n->seed, STREAM_PV, k);
    frac *= weather_factor(n->run_seed, day, k) * rng_range(&r, 0.95, 1.05);
    return round_wh((double)n->pv_capacity_w * frac * p->interval_minutes / 60.0);
}

/* ---- load ---------------------------------------------------------------- */

static double bump(double h, double centre, double sigma)
{
    double x = h - centre;
    return exp(-(x * x) / (2.0 * sigma * sigma));
}

uint64_t energy_node_load_wh(const energy_node *n, const chain_params *p, uint64_t k)
{
    energy_rng r;
    uint64_t day;
    double h, w;

    if (n->cfg.load_profile != NULL)
        return energy_profile_interval_wh(n->cfg.load_profile, p, k);
    h = interval_mid_hour(p, k, &day);
    w = 250.0 + 700.0 * bump(h, 7.5, 1.2) + 250.0 * bump(h, 13.0, 3.0) +
        1100.0 * bump(h, 19.0, 1.8);
    rng_for(&r, n->seed, STREAM_LOAD, k);
    w *= (double)n->load_scale_pct / 100.0 * rng_range(&r, 0.85, 1.15);
    return round_wh(w * p->interval_minutes / 60.0);
}

/* ---- profiles ------------------------------------------------------------ */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* A non-negative decimal, rounded half up to whole Wh. */
static int parse_wh(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0, round_up = 0;

    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s++ - '0');
        if (v > ENERGY_PROFILE_MAX_WH)
            return SG_EINVAL;
        digits++;
    }
    if (s < end && *s == '.') {
        s++;
        if (s < end && *s >= '0' && *s <= '9')
            round_up = *s >= '5';
        while (s < end && *s >= '0' && *s <= '9') {
            s++;
            digits++;
        }
    }
    if (digits == 0 || s != end)
        return SG_EINVAL;
    *out = v + (uint64_t)round_up;
    return *out > ENERGY_PROFILE_MAX_WH ? SG_EINVAL : SG_OK;
}

static int profile_push(energy_profile *p, size_t *cap, uint64_t v)
{
    if (p->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 128;
        uint64_t *nw;
        if (p->n >= ENERGY_PROFILE_MAX_SLOTS)
            return SG_ETOOBIG;
        nw = realloc(p->wh, nc * sizeof *nw);
        if (nw == NULL)
            return SG_ENOMEM;
        p->wh = nw;
        *cap = nc;
    }
    p->wh[p->n++] = v;
    return SG_OK;
}

static int has_letter(const char *s, const char *e)
{
    for (; s < e; s++)
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
            return 1;
    return 0;
}

/* One line without its '\n': 1 a value in *v, 0 nothing (blank, comment,
 * header), or SG_EINVAL.  *content counts the lines that were not blank. */
static int profile_line(const char *s, const char *e, int *content, uint64_t *v)
{
    const char *hash = memchr(s, '#', (size_t)(e - s));
    const char *field = s, *comma;

    if (hash != NULL)
        e = hash;
    while (s < e && is_blank(*s))
        s++;
    if (s == e)
        return 0;
    (*content)++;
    while ((comma = memchr(field, ',', (size_t)(e - field))) != NULL)
        field = comma + 1;
    while (field < e && is_blank(*field))
        field++;
    while (e > field && is_blank(e[-1]))
        e--;
    if (parse_wh(field, e, v) == SG_OK)
        return 1;
    /* The first line with words in it may be a header. */
    return *content == 1 && has_letter(s, e) ? 0 : SG_EINVAL;
}

int energy_profile_parse(const char *text, size_t len, energy_profile *p, int *bad_line)
{
    const char *s = text, *end = text + len;
    size_t cap = 0;
    int line = 0, content = 0, rc = SG_OK, bad = 0;

    memset(p, 0, sizeof *p);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *eol = nl ? nl : end;
        uint64_t v;
        line++;
        int r = profile_line(s, eol, &content, &v);
        if (r < 0) {
            rc = r;
            bad = line;
            goto fail;
        }
        if (r == 1 && (rc = profile_push(p, &cap, v)) < 0)
            goto fail;
        s = nl ? nl + 1 : end;
    }
    if (p->n == 0) {
        rc = SG_EINVAL;
        bad = line + 1;
        goto fail;
    }
    if (bad_line != NULL)
        *bad_line = 0;
    return SG_OK;
fail:
    energy_profile_free(p);
    if (bad_line != NULL)
        *bad_line = bad;
    return rc;
}

int energy_profile_load(const char *path, energy_profile *p, int *bad_line)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = SG_OK;

    memset(p, 0, sizeof *p);
    if (bad_line != NULL)
        *bad_line = 0;
    if (f == NULL)
        return SG_EIO;
    /* Read in growing chunks: the size is known only at the end for pipes. */
    while (!feof(f)) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 64 * 1024;
            char *nb;
            if (cap > PROFILE_MAX_FILE) {
                rc = SG_ETOOBIG;
                goto out;
            }
            if ((nb = realloc(buf, nc)) == NULL) {
                rc = SG_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = nc;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (ferror(f)) {
            rc = SG_EIO;
            goto out;
        }
    }
    if (len > PROFILE_MAX_FILE) {
        rc = SG_ETOOBIG;
        goto out;
    }
    rc = energy_profile_parse(buf ? buf : "", len, p, bad_line);
out:
    free(buf);
    fclose(f);
    return rc;
}

void energy_profile_free(energy_profile *p)
{
    if (p == NULL)
        return;
    free(p->wh);
    p->wh = NULL;
    p->n = 0;
}

uint64_t energy_profile_interval_wh(const energy_profile *prof, const chain_params *p,
                                    uint64_t k)
{
    uint64_t day0 = p->sim_start - p->sim_start % 86400;
    uint64_t t = energy_interval_sim_time(p, k) - day0;
    uint64_t t_end = t + (uint64_t)p->interval_minutes * 60;
    unsigned __int128 num = 0;

    if (prof->n == 0)
        return 0;
    while (t < t_end) {
        uint64_t slot = t / SLOT_SECONDS;
        uint64_t slot_end = (slot + 1) * SLOT_SECONDS;
        uint64_t upto = slot_end < t_end ? slot_end : t_end;
        num += (unsigned __int128)prof->wh[slot % prof->n] * (upto - t);
        t = upto;
    }
    return (uint64_t)((num + SLOT_SECONDS / 2) / SLOT_SECONDS);
}

/* ---- battery ------------------------------------------------------------- */

void energy_battery_init(energy_battery *b, uint64_t capacity_wh)
{
    memset(b, 0, sizeof *b);
    b->capacity_wh = capacity_wh;
    b->min_pct = ENERGY_BATTERY_MIN_PCT;
    b->max_pct = ENERGY_BATTERY_MAX_PCT;
    b->efficiency_pct = ENERGY_BATTERY_EFF_PCT;
    b->max_power_w = capacity_wh / 2;
    b->soc_wh = capacity_wh / 2;
}

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

int64_t energy_battery_step(energy_battery *b, int64_t net_wh, uint32_t minutes,
                            uint64_t *charge_wh, uint64_t *discharge_wh)
{
    uint64_t step = b->max_power_w * minutes / 60;
    uint64_t lo = b->capacity_wh / 100 * b->min_pct + b->capacity_wh % 100 * b->min_pct / 100;
    uint64_t hi = b->capacity_wh / 100 * b->max_pct + b->capacity_wh % 100 * b->max_pct / 100;
    uint32_t eff = b->efficiency_pct ? b->efficiency_pct : 1;

    *charge_wh = 0;
    *discharge_wh = 0;
    if (net_wh > 0 && b->soc_wh < hi) {
        uint64_t room = hi - b->soc_wh;
        /* Drawing `need` stores at most `room` after the loss (energy.h). */
        uint64_t need = (room * 100 + eff - 1) / eff;
        uint64_t take = min3((uint64_t)net_wh, step, need);
        b->soc_wh += take * eff / 100;
        *charge_wh = take;
        return net_wh - (int64_t)take;
    }
    if (net_wh < 0 && b->soc_wh > lo) {
        uint64_t give = min3((uint64_t)-net_wh, step, b->soc_wh - lo);
        b->soc_wh -= give;
        *discharge_wh = give;
        return net_wh + (int64_t)give;
    }
    return net_wh;
}

/* ---- a node -------------------------------------------------------------- */

int energy_node_init(energy_node *n, const energy_config *cfg, uint64_t run_seed,
                     const char *name)
{
    energy_rng r;
    uint64_t lo, hi;

    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    lo = cfg->pv_min_w || cfg->pv_max_w ? cfg->pv_min_w : ENERGY_PV_MIN_W;
    hi = cfg->pv_min_w || cfg->pv_max_w ? cfg->pv_max_w : ENERGY_PV_MAX_W;
    if (cfg->prosumer && lo > hi)
        return SG_EINVAL;
    n->run_seed = run_seed;
    n->seed = energy_node_seed(run_seed, name);
    rng_for(&r, n->seed, STREAM_INIT, 0);
    if (cfg->prosumer)
        n->pv_capacity_w = hi - lo == UINT64_MAX ? energy_rng_next(&r)
                                                 : lo + energy_rng_next(&r) % (hi - lo + 1);
    n->load_scale_pct = 60 + (uint32_t)(energy_rng_next(&r) % 101);
    if (cfg->prosumer && cfg->battery_wh > 0) {
        n->has_battery = 1;
        energy_battery_init(&n->battery, cfg->battery_wh);
    }
    return SG_OK;
}

/* The limit price for an order of `kind` in interval k (see energy.h). */
static uint64_t order_price(const energy_node *n, const chain_params *p, uint64_t k, int kind)
{
    __int128 lo = p->feed_in_price, hi = p->retail_price;
    __int128 band = hi > lo ? hi - lo : 0;
    __int128 ref = n->ref_price ? (__int128)n->ref_price : lo + band / 2;
    __int128 delta, v;
    energy_rng r;

    rng_for(&r, n->seed, STREAM_PRICE, k);
    delta = band * (__int128)(2 + energy_rng_next(&r) % 7) / 100 +
            band * n->aggression_pct / 100;
    v = kind == PROTO_TX_BID ? ref + delta : ref - delta;
    return (uint64_t)(v < lo ? lo : v > hi ? hi : v);
}

void energy_node_step(energy_node *n, const chain_params *p, uint64_t k, energy_step *out)
{
    int64_t net;

    memset(out, 0, sizeof *out);
    out->interval = k;
    out->pv_wh = energy_node_pv_wh(n, p, k);
    out->load_wh = energy_node_load_wh(n, p, k);
    net = (int64_t)out->pv_wh - (int64_t)out->load_wh;
    if (n->has_battery) {
        net = energy_battery_step(&n->battery, net, p->interval_minutes, &out->charge_wh,
                                  &out->discharge_wh);
        out->soc_wh = n->battery.soc_wh;
    }
    if (net > 0) {
        out->kind = PROTO_TX_OFFER;
        out->energy_wh = (uint64_t)net;
    } else if (net < 0) {
        out->kind = PROTO_TX_BID;
        out->energy_wh = (uint64_t)-net;
    }
    if (out->kind != 0)
        out->price = order_price(n, p, k, out->kind);
    n->produced_wh += out->pv_wh;
    n->consumed_wh += out->load_wh;
    n->charged_wh += out->charge_wh;
    n->discharged_wh += out->discharge_wh;
}

void energy_node_observe(energy_node *n, uint64_t clearing_price, uint64_t order_wh,
                         uint64_t traded_wh)
{
    if (clearing_price > 0)
        n->ref_price = n->ref_price
                           ? (uint64_t)((3 * (unsigned __int128)n->ref_price + clearing_price) / 4)
                           : clearing_price;
    if (order_wh == 0)
        return;
    if (traded_wh < order_wh)
        n->aggression_pct = n->aggression_pct + 5 > 40 ? 40 : n->aggression_pct + 5;
    else
        n->aggression_pct = n->aggression_pct - 2 < -10 ? -10 : n->aggression_pct - 2;
}

void energy_node_observe_settlement(energy_node *n, const proto_tx *settle,
                                    const uint8_t *order_id, uint64_t order_wh)
{
    uint64_t traded = 0;

    if (settle->kind != PROTO_TX_SETTLEMENT)
        return;
    for (uint32_t i = 0; order_id != NULL && i < settle->u.settle.n_fills; i++)
        if (memcmp(settle->u.settle.fills[i].order, order_id, 32) == 0)
            traded = settle->u.settle.fills[i].traded_wh;
    energy_node_observe(n, settle->u.settle.clearing_price, order_id ? order_wh : 0, traded);
}
