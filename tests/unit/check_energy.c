/* Energy models (PV, load, weather, battery, CSV profiles, market time,
 * order pricing) and the community simulation: 3 prosumers and 5 consumers
 * trading for 1000 intervals through real signed orders, real operator
 * settlements and real ledgers, twice with one seed (identical), with money
 * and energy conserved every interval and forged settlements rejected by
 * every node. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model/energy.h"
#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/ledger.h"
#include "common/core/market.h"
#include "common/core/params.h"
#include "common/core/tx.h"
#include "testutil.h"

#define DAY0 1700006400u   /* 2023-11-15 00:00 UTC */

static chain_params base_params(void)
{
    chain_params p;
    params_init_defaults(&p);
    p.genesis_time = 1800000000;
    p.sim_start = DAY0;
    p.interval_minutes = 15;
    p.tick_ms = 1000;
    p.seed = 12345;
    return p;
}

static double hour_of(const chain_params *p, uint64_t k)
{
    return (double)(energy_interval_sim_time(p, k) % 86400) / 3600.0;
}

/* ---- randomness and time ------------------------------------------------- */

START_TEST(test_rng_and_seeds)
{
    energy_rng a, b;
    energy_rng_seed(&a, 42);
    energy_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(energy_rng_next(&a), energy_rng_next(&b));
    energy_rng_seed(&b, 43);
    ck_assert_uint_ne(energy_rng_next(&a), energy_rng_next(&b));
    for (int i = 0; i < 1000; i++) {
        double u = energy_rng_unit(&a);
        ck_assert(u >= 0.0 && u < 1.0);
    }
    /* The node seed is SHA-256(seed LE || name), first 8 bytes LE. */
    uint8_t buf[8 + 5], h[32];
    uint64_t want = 0;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(0x0102030405060708ull >> (8 * i));
    memcpy(buf + 8, "node1", 5);
    hash_sha256(buf, sizeof buf, h);
    for (int i = 0; i < 8; i++)
        want |= (uint64_t)h[i] << (8 * i);
    ck_assert_uint_eq(energy_node_seed(0x0102030405060708ull, "node1"), want);
    ck_assert_uint_ne(energy_node_seed(1, "node1"), energy_node_seed(1, "node2"));
    ck_assert_uint_ne(energy_node_seed(1, "node1"), energy_node_seed(2, "node1"));
}
END_TEST

START_TEST(test_interval_clock)
{
    chain_params p = base_params();
    uint64_t k = 99;
    uint64_t g = p.genesis_time * 1000;
    ck_assert_int_eq(energy_interval_at(&p, g - 1, &k), SG_ETIME);
    ck_assert_uint_eq(k, 99);
    ck_assert_int_eq(energy_interval_at(&p, g, &k), 0);
    ck_assert_uint_eq(k, 0);
    ck_assert_int_eq(energy_interval_at(&p, g + 999, &k), 0);
    ck_assert_uint_eq(k, 0);
    ck_assert_int_eq(energy_interval_at(&p, g + 1000, &k), 0);
    ck_assert_uint_eq(k, 1);
    p.tick_ms = 250;
    ck_assert_int_eq(energy_interval_at(&p, g + 1000 * 3600, &k), 0);
    ck_assert_uint_eq(k, 14400);
    ck_assert_uint_eq(energy_interval_real_ms(&p, 14400), g + 1000 * 3600);
    ck_assert_uint_eq(energy_interval_sim_time(&p, 4), DAY0 + 3600);
    p.interval_minutes = 60;
    ck_assert_uint_eq(energy_interval_sim_time(&p, 24), DAY0 + 86400);
    p.tick_ms = 0;
    ck_assert_int_eq(energy_interval_at(&p, g, &k), SG_EINVAL);
}
END_TEST

/* ---- models -------------------------------------------------------------- */

static void prosumer(energy_node *n, uint64_t seed, const char *name, uint64_t battery_wh)
{
    energy_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.prosumer = 1;
    cfg.battery_wh = battery_wh;
    ck_assert_int_eq(energy_node_init(n, &cfg, seed, name), 0);
}

static void consumer(energy_node *n, uint64_t seed, const char *name)
{
    energy_config cfg;
    memset(&cfg, 0, sizeof cfg);
    ck_assert_int_eq(energy_node_init(n, &cfg, seed, name), 0);
}

START_TEST(test_pv_zero_at_night)
{
    chain_params p = base_params();
    /* A year and a bit of 15-minute intervals, three prosumers, two seeds. */
    for (uint64_t seed = 1; seed <= 2; seed++) {
        energy_node n[3];
        prosumer(&n[0], seed, "p0", 0);
        prosumer(&n[1], seed, "p1", 0);
        prosumer(&n[2], seed, "p2", 0);
        for (uint64_t day = 0; day < 380; day++) {
            uint64_t noon_sum = 0;
            for (uint64_t q = 0; q < 96; q++) {
                uint64_t k = day * 96 + q;
                double h = hour_of(&p, k) + 0.125;   /* interval middle */
                for (int i = 0; i < 3; i++) {
                    uint64_t wh = energy_node_pv_wh(&n[i], &p, k);
                    if (h >= 21.0 || h <= 4.0)
                        ck_assert_msg(wh == 0, "PV %llu Wh at %.2f h, day %llu",
                                      (unsigned long long)wh, h, (unsigned long long)day);
                    if (h > 11.0 && h < 14.0)
                        noon_sum += wh;
                    /* Never above the capacity's share of the interval
                     * (plus the node's 5 % noise). */
                    ck_assert_uint_le(wh, n[i].pv_capacity_w * 105 / 400 + 1);
                }
            }
            ck_assert_msg(noon_sum > 0, "no PV around noon on day %llu",
                          (unsigned long long)day);
        }
    }
}
END_TEST

START_TEST(test_pv_shape_and_weather)
{
    chain_params p = base_params();
    energy_node n;
    uint64_t by_weather[3] = { 0 }, days[3] = { 0 };
    prosumer(&n, 7, "pv", 0);
    ck_assert_uint_ge(n.pv_capacity_w, ENERGY_PV_MIN_W);
    ck_assert_uint_le(n.pv_capacity_w, ENERGY_PV_MAX_W);
    for (uint64_t day = 0; day < 200; day++) {
        int w = energy_weather_of_day(7, DAY0 / 86400 + day);
        uint64_t total = 0, morning = 0, noon = 0;
        ck_assert(w >= ENERGY_SUNNY && w <= ENERGY_OVERCAST);
        for (uint64_t q = 0; q < 96; q++) {
            uint64_t wh = energy_node_pv_wh(&n, &p, day * 96 + q);
            total += wh;
            if (q >= 48 && q < 52)
                noon += wh;       /* 12:00-13:00 */
            if (q >= 32 && q < 36)
                morning += wh;    /* 08:00-09:00 */
        }
        if (w != ENERGY_PARTLY_CLOUDY)
            ck_assert_uint_gt(noon, morning);   /* the noon peak */
        by_weather[w] += total;
        days[w]++;
    }
    /* Every kind of day happens, and sunny days yield most. */
    for (int w = 0; w < 3; w++)
        ck_assert_uint_gt(days[w], 10);
    ck_assert_uint_gt(by_weather[0] / days[0], by_weather[1] / days[1]);
    ck_assert_uint_gt(by_weather[1] / days[1], by_weather[2] / days[2]);
    /* The day's weather is shared: it depends on the run seed only. */
    ck_assert_int_eq(energy_weather_of_day(7, 19000), energy_weather_of_day(7, 19000));
    energy_node m;
    prosumer(&m, 7, "other", 0);
    ck_assert_uint_ne(m.seed, n.seed);
}
END_TEST

START_TEST(test_load_shape)
{
    chain_params p = base_params();
    energy_node n;
    uint64_t night = 0, evening = 0, morning = 0, day = 0;
    consumer(&n, 3, "c0");
    ck_assert_uint_eq(n.pv_capacity_w, 0);
    ck_assert_uint_ge(n.load_scale_pct, 60);
    ck_assert_uint_le(n.load_scale_pct, 160);
    for (uint64_t d = 0; d < 30; d++)
        for (uint64_t q = 0; q < 96; q++) {
            uint64_t k = d * 96 + q;
            uint64_t wh = energy_node_load_wh(&n, &p, k);
            ck_assert_uint_gt(wh, 0);
            ck_assert_uint_eq(energy_node_pv_wh(&n, &p, k), 0);   /* no PV */
            if (q < 16)
                night += wh;      /* 00:00-04:00 */
            else if (q >= 28 && q < 32)
                morning += wh;    /* 07:00-08:00 */
            else if (q >= 72 && q < 80)
                evening += wh;    /* 18:00-20:00 */
            else if (q >= 44 && q < 52)
                day += wh;        /* 11:00-13:00 */
        }
    /* Per hour: evening peak > morning peak > midday > night. */
    ck_assert_uint_gt(evening / 2, morning);
    ck_assert_uint_gt(morning, day / 2);
    ck_assert_uint_gt(day / 2, night / 4);
    /* Pure functions of (node, interval). */
    ck_assert_uint_eq(energy_node_load_wh(&n, &p, 500), energy_node_load_wh(&n, &p, 500));
}
END_TEST

START_TEST(test_battery)
{
    energy_battery b;
    uint64_t ch, dis;
    energy_battery_init(&b, 10000);   /* 10 kWh: 1000..9000 Wh, 5 kW */
    ck_assert_uint_eq(b.soc_wh, 5000);
    ck_assert_uint_eq(b.max_power_w, 5000);
    /* 15 minutes at 5 kW: at most 1250 Wh drawn, 90 % of it stored. */
    ck_assert_int_eq(energy_battery_step(&b, 3000, 15, &ch, &dis), 1750);
    ck_assert_uint_eq(ch, 1250);
    ck_assert_uint_eq(dis, 0);
    ck_assert_uint_eq(b.soc_wh, 5000 + 1125);
    /* Small surplus: all absorbed. */
    ck_assert_int_eq(energy_battery_step(&b, 100, 15, &ch, &dis), 0);
    ck_assert_uint_eq(b.soc_wh, 6125 + 90);
    /* Fill up to the 90 % bound: room 2785 needs 3095 drawn (ceil). */
    ck_assert_int_eq(energy_battery_step(&b, 5000, 60, &ch, &dis), 5000 - 3095);
    ck_assert_uint_eq(b.soc_wh, 9000);
    ck_assert_int_eq(energy_battery_step(&b, 500, 15, &ch, &dis), 500);
    ck_assert_uint_eq(ch, 0);
    /* Discharge: power-limited, then bounded by 10 %. */
    ck_assert_int_eq(energy_battery_step(&b, -2000, 15, &ch, &dis), -750);
    ck_assert_uint_eq(dis, 1250);
    ck_assert_uint_eq(b.soc_wh, 7750);
    for (int i = 0; i < 10; i++)
        energy_battery_step(&b, -5000, 60, &ch, &dis);
    ck_assert_uint_eq(b.soc_wh, 1000);
    ck_assert_int_eq(energy_battery_step(&b, -300, 15, &ch, &dis), -300);
    ck_assert_uint_eq(dis, 0);
    /* Zero net leaves it alone. */
    ck_assert_int_eq(energy_battery_step(&b, 0, 15, &ch, &dis), 0);
    ck_assert_uint_eq(b.soc_wh, 1000);
}
END_TEST

START_TEST(test_node_orders)
{
    chain_params p = base_params();
    energy_node n, c;
    energy_step s;
    int offers = 0, bids = 0;
    prosumer(&n, 5, "pro", 8000);
    consumer(&c, 5, "con");
    ck_assert(n.has_battery);
    for (uint64_t k = 0; k < 96 * 7; k++) {
        uint64_t soc_before = n.battery.soc_wh;
        energy_node_step(&n, &p, k, &s);
        /* pv + discharge + bought-or-imported == load + charge + offered. */
        uint64_t in = s.pv_wh + s.discharge_wh + (s.kind == PROTO_TX_BID ? s.energy_wh : 0);
        uint64_t out = s.load_wh + s.charge_wh + (s.kind == PROTO_TX_OFFER ? s.energy_wh : 0);
        ck_assert_uint_eq(in, out);
        ck_assert_uint_eq(s.soc_wh, n.battery.soc_wh);
        ck_assert_uint_le(s.soc_wh, 7200);
        ck_assert_uint_ge(s.soc_wh, 800);
        ck_assert(s.charge_wh == 0 || s.discharge_wh == 0);
        ck_assert_uint_ge(s.soc_wh + s.discharge_wh, soc_before);
        if (s.kind != 0) {
            ck_assert_uint_gt(s.energy_wh, 0);
            ck_assert_uint_ge(s.price, p.feed_in_price);
            ck_assert_uint_le(s.price, p.retail_price);
        }
        offers += s.kind == PROTO_TX_OFFER;
        bids += s.kind == PROTO_TX_BID;
        energy_node_step(&c, &p, k, &s);
        ck_assert_uint_eq(s.kind, PROTO_TX_BID);   /* a consumer always buys */
        ck_assert_uint_eq(s.energy_wh, s.load_wh);
    }
    ck_assert_int_gt(offers, 0);
    ck_assert_int_gt(bids, 0);
    ck_assert_uint_gt(n.produced_wh, 0);
    ck_assert_uint_gt(n.charged_wh, 0);
    ck_assert_uint_gt(n.discharged_wh, 0);
}
END_TEST

START_TEST(test_prices_adapt)
{
    chain_params p = base_params();   /* band 80000..300000 */
    energy_node n;
    consumer(&n, 9, "c");
    /* Before any clearing price: around the band's middle, 190000, bids
     * above it by 2-8 % of the band (4400..17600). */
    energy_step s;
    energy_node_step(&n, &p, 40, &s);
    ck_assert_uint_ge(s.price, 190000 + 4400);
    ck_assert_uint_le(s.price, 190000 + 17600);
    /* After clearings at 100000 the reference follows them down. */
    for (int i = 0; i < 30; i++)
        energy_node_observe(&n, 100000, 1000, 1000);
    ck_assert_uint_lt(n.ref_price, 101000);
    ck_assert_int_eq(n.aggression_pct, -10);
    energy_node_step(&n, &p, 41, &s);
    ck_assert_uint_lt(s.price, 120000);
    /* A buyer left short by the market bids up; prices stay in the band. */
    for (int i = 0; i < 20; i++)
        energy_node_observe(&n, 0, 1000, 10);
    ck_assert_int_eq(n.aggression_pct, 40);
    ck_assert_uint_lt(n.ref_price, 101000);   /* no trade: reference unchanged */
    energy_node_step(&n, &p, 42, &s);
    ck_assert_uint_ge(s.price, 100000 + 88000);
    ck_assert_uint_le(s.price, p.retail_price);
    /* Deterministic jitter: the same interval prices the same. */
    energy_step s2;
    energy_node_step(&n, &p, 42, &s2);
    ck_assert_uint_eq(s.price, s2.price);
}
END_TEST

/* ---- profiles ------------------------------------------------------------ */

static const char good_csv[] =
    "# measured PV, Wh per 15 min\r\n"
    "time,wh\r\n"
    "\r\n"
    "00:00,0\r\n"
    "00:15, 12.5 # rounded up\r\n"
    "100\n"
    "  7.49  \n"
    "0.5";

START_TEST(test_profile_parse)
{
    energy_profile prof;
    int bad = -1;
    ck_assert_int_eq(energy_profile_parse(good_csv, strlen(good_csv), &prof, &bad), 0);
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(prof.n, 5);
    ck_assert_uint_eq(prof.wh[0], 0);
    ck_assert_uint_eq(prof.wh[1], 13);
    ck_assert_uint_eq(prof.wh[2], 100);
    ck_assert_uint_eq(prof.wh[3], 7);
    ck_assert_uint_eq(prof.wh[4], 1);
    energy_profile_free(&prof);

    static const struct { const char *text; int line; } bad_files[] = {
        { "10\n20\n3x\n", 3 },
        { "10\n-5\n", 2 },
        { "header\nsecond header\n", 2 },
        { "1\n2\n\n# c\nabc\n", 5 },
        { "1,\n", 1 },
        { "5\n1e3\n", 2 },
        { "5\n99999999999\n", 2 },
        { "", 1 },
        { "# only a comment\n\n", 3 },
        { "wh\n", 2 },
    };
    for (size_t i = 0; i < sizeof bad_files / sizeof *bad_files; i++) {
        bad = -1;
        ck_assert_int_eq(energy_profile_parse(bad_files[i].text, strlen(bad_files[i].text), &prof,
                                              &bad), SG_EINVAL);
        ck_assert_msg(bad == bad_files[i].line, "file %zu: line %d, want %d", i, bad,
                      bad_files[i].line);
        ck_assert_ptr_null(prof.wh);
    }
}
END_TEST

START_TEST(test_profile_file)
{
    char *dir = tu_mkdtemp(), path[512];
    energy_profile prof;
    int bad = -1;
    FILE *f;
    snprintf(path, sizeof path, "%s/load.csv", dir);
    ck_assert_int_eq(energy_profile_load(path, &prof, &bad), SG_EIO);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("wh\n1\n2\n3\n4\n", f);
    fclose(f);
    ck_assert_int_eq(energy_profile_load(path, &prof, &bad), 0);
    ck_assert_uint_eq(prof.n, 4);
    energy_profile_free(&prof);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("1\n2\nthree\n", f);
    fclose(f);
    ck_assert_int_eq(energy_profile_load(path, &prof, &bad), SG_EINVAL);
    ck_assert_int_eq(bad, 3);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_profile_mapping)
{
    static const char text[] = "100\n200\n300\n400\n";
    chain_params p = base_params();
    energy_profile prof;
    ck_assert_int_eq(energy_profile_parse(text, strlen(text), &prof, NULL), 0);
    /* 15-minute intervals: slot by slot, repeating. */
    for (uint64_t k = 0; k < 12; k++)
        ck_assert_uint_eq(energy_profile_interval_wh(&prof, &p, k), 100 * (k % 4 + 1));
    /* 30 minutes: two slots each. */
    p.interval_minutes = 30;
    ck_assert_uint_eq(energy_profile_interval_wh(&prof, &p, 0), 300);
    ck_assert_uint_eq(energy_profile_interval_wh(&prof, &p, 1), 700);
    ck_assert_uint_eq(energy_profile_interval_wh(&prof, &p, 2), 300);
    /* 10 minutes: by time.  [0,10) = 2/3 of 100; [10,20) = 1/3 of 100 + 1/3
     * of 200; [20,30) = 2/3 of 200. */
    p.interval_minutes = 10;
    ck_assert_uint_eq(energy_profile_interval_wh(&prof, &p, 0), 67);
    ck_assert_uint_eq(energy_profile_interval_wh(&prof, &p, 1), 100);
    ck_assert_uint_eq(energy_profile_interval_wh(&prof, &p, 2), 133);
    /* Slot 0 is midnight of sim_start's day: starting at 00:30 reads slot 2. */
    p.interval_minutes = 15;
    p.sim_start = DAY0 + 1800;
    ck_assert_uint_eq(energy_profile_interval_wh(&prof, &p, 0), 300);
    /* A node with profiles uses them instead of its curves. */
    energy_config cfg;
    energy_node n;
    memset(&cfg, 0, sizeof cfg);
    cfg.prosumer = 1;
    cfg.pv_profile = &prof;
    cfg.load_profile = &prof;
    ck_assert_int_eq(energy_node_init(&n, &cfg, 1, "prof"), 0);
    ck_assert_uint_eq(energy_node_pv_wh(&n, &p, 1), 400);
    ck_assert_uint_eq(energy_node_load_wh(&n, &p, 1), 400);
    energy_step s;
    energy_node_step(&n, &p, 1, &s);
    ck_assert_uint_eq(s.kind, 0);   /* balanced: no order */
    energy_profile_free(&prof);
}
END_TEST

/* ---- the community simulation -------------------------------------------- */

enum { N_PRO = 3, N_CON = 5, N_NODES = N_PRO + N_CON, N_REPLICAS = 3 };
#define SIM_BALANCE 1000000000000ull   /* a million units each */

typedef struct {
    chain_params p;
    uint8_t chain_id[32];
    uint8_t op_pk[32], op_sk[64];
    uint8_t pk[N_NODES][32], sk[N_NODES][64];
    energy_node nodes[N_NODES];
    uint64_t nonce[N_NODES], op_nonce;
    ledger *l[N_REPLICAS];    /* independent nodes' ledgers */
    int n_ledgers;
    crypto_hash_sha256_state digest;
} sim;

static void sim_init(sim *s, uint8_t rule, uint64_t seed, int n_ledgers)
{
    ck_assert_int_ge(sodium_init(), 0);
    memset(s, 0, sizeof *s);
    s->p = base_params();
    s->p.market_rule = rule;
    s->p.seed = seed;
    uint8_t kseed[32];
    memset(kseed, 0x0f, sizeof kseed);
    crypto_sign_seed_keypair(s->op_pk, s->op_sk, kseed);
    memcpy(s->p.operator_key, s->op_pk, 32);
    s->p.allocs = calloc(N_NODES + 1, sizeof *s->p.allocs);
    ck_assert_ptr_nonnull(s->p.allocs);
    for (int i = 0; i < N_NODES; i++) {
        char name[16];
        memset(kseed, 0x40 + i, sizeof kseed);
        crypto_sign_seed_keypair(s->pk[i], s->sk[i], kseed);
        memcpy(s->p.allocs[i].pubkey, s->pk[i], 32);
        s->p.allocs[i].balance = SIM_BALANCE;
        snprintf(name, sizeof name, "%s%d", i < N_PRO ? "prosumer" : "consumer", i);
        if (i < N_PRO)
            prosumer(&s->nodes[i], seed, name, i == 0 ? 10000 : 0);   /* one battery */
        else
            consumer(&s->nodes[i], seed, name);
    }
    memcpy(s->p.allocs[N_NODES].pubkey, s->op_pk, 32);
    s->p.allocs[N_NODES].balance = SIM_BALANCE;
    s->p.n_allocs = N_NODES + 1;
    params_chain_id(&s->p, s->chain_id);
    s->n_ledgers = n_ledgers;
    for (int r = 0; r < n_ledgers; r++)
        ck_assert_int_eq(ledger_new(&s->l[r], &s->p), 0);
    crypto_hash_sha256_init(&s->digest);
}

static void sim_free(sim *s)
{
    for (int r = 0; r < s->n_ledgers; r++)
        ledger_free(s->l[r]);
    params_free(&s->p);
}

typedef struct {
    proto_tx txs[N_NODES + 2];
    uint8_t ids[N_NODES + 2][32];
    uint32_t n;
} sim_block;

static void block_push(sim_block *b, const proto_tx *tx)
{
    b->txs[b->n] = *tx;
    ck_assert_int_eq(tx_id(tx, b->ids[b->n]), 0);
    b->n++;
}

static void block_free(sim_block *b)
{
    for (uint32_t i = 0; i < b->n; i++)
        proto_tx_free(&b->txs[i]);
    b->n = 0;
}

static proto_block as_block(sim_block *b)
{
    proto_block pb;
    memset(&pb, 0, sizeof pb);
    pb.n_txs = b->n;
    pb.txs = b->txs;
    return pb;
}

static void digest_tx(sim *s, const uint8_t id[32])
{
    crypto_hash_sha256_update(&s->digest, id, 32);
}

typedef struct {
    uint64_t sold, bought, exp, imp;
} acct_energy;

static acct_energy energy_of(const ledger *l, const uint8_t pk[32])
{
    const ledger_account *a = ledger_account_get(l, pk);
    acct_energy e = { a->sold_wh, a->bought_wh, a->grid_export_wh, a->grid_import_wh };
    return e;
}

/* Every replica must refuse the forged block with SG_ESETTLE and stay put. */
static void expect_forgery_rejected(sim *s, sim_block *b, uint32_t settle_at, uint64_t height,
                                    void (*edit)(proto_tx *tx), const char *what)
{
    proto_tx forged;
    sim_block fb = *b;
    proto_block pb;
    ck_assert_int_eq(proto_tx_copy(&forged, &b->txs[settle_at]), 0);
    edit(&forged);
    ck_assert_int_eq(tx_sign(&forged, s->op_sk, s->chain_id), 0);
    fb.txs[settle_at] = forged;
    ck_assert_int_eq(tx_id(&forged, fb.ids[settle_at]), 0);
    pb = as_block(&fb);
    for (int r = 0; r < s->n_ledgers; r++) {
        uint8_t h0[32], h1[32];
        ck_assert_int_eq(ledger_state_hash(s->l[r], h0), 0);
        int rc = ledger_apply_block(s->l[r], &pb, (const uint8_t (*)[32])fb.ids, NULL, height,
                                    NULL);
        ck_assert_msg(rc == SG_ESETTLE, "%s: node %d got %d", what, r, rc);
        ck_assert_int_eq(ledger_state_hash(s->l[r], h1), 0);
        ck_assert_mem_eq(h0, h1, 32);
    }
    proto_tx_free(&forged);
}

/* The first fill that trades, and one of the other side. */
static proto_fill *trading_fill(proto_tx *tx)
{
    for (uint32_t i = 0; i < tx->u.settle.n_fills; i++)
        if (tx->u.settle.fills[i].traded_wh > 0)
            return &tx->u.settle.fills[i];
    return NULL;
}

static void forge_overfill(proto_tx *tx)
{
    proto_fill *f = trading_fill(tx);
    f->traded_wh += 1;
}

static void forge_price(proto_tx *tx)
{
    for (uint32_t i = 0; i < tx->u.settle.n_fills; i++)
        if (tx->u.settle.fills[i].traded_wh > 0)
            tx->u.settle.fills[i].trade_price -= 1;
    tx->u.settle.clearing_price -= 1;
}

static void forge_missing_grid(proto_tx *tx)
{
    for (uint32_t i = 0; i < tx->u.settle.n_fills; i++)
        if (tx->u.settle.fills[i].grid_wh > 1 ||
            (tx->u.settle.fills[i].grid_wh == 1 && tx->u.settle.fills[i].traded_wh > 0)) {
            tx->u.settle.fills[i].grid_wh -= 1;
            return;
        }
    ck_abort_msg("no grid energy to forge");
}

static int has_trade_and_grid(const proto_tx *tx)
{
    int trade = 0, grid = 0;
    for (uint32_t i = 0; i < tx->u.settle.n_fills; i++) {
        trade |= tx->u.settle.fills[i].traded_wh > 1 && tx->u.settle.fills[i].trade_price > 0;
        grid |= tx->u.settle.fills[i].grid_wh > 1;
    }
    return trade && grid;
}

/* One interval: every node steps its model and signs its order, the
 * operator (on replica 0, trial-applying the orders) collects and clears
 * them, and the block (coinbase, orders, settlement) goes to every replica.
 * Checks conservation of money and energy.  Returns forgeries tried. */
static int sim_interval(sim *s, uint64_t k, int forge)
{
    sim_block b = { .n = 0 };
    energy_step st[N_NODES];
    acct_energy before[N_NODES];
    uint8_t order_ids[N_NODES][32];
    uint64_t height = k + 1, money0, money1;
    ledger_undo *trial = ledger_undo_new();
    ledger_order *book = NULL;
    size_t n_book = 0;
    market_stats ms;
    proto_tx tx;
    int forged = 0;

    ck_assert_ptr_nonnull(trial);
    ck_assert_int_eq(ledger_total_money(s->l[0], &money0), 0);
    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_COINBASE;
    tx.nonce = height;
    memcpy(tx.u.pay.to, s->pk[k % N_NODES], 32);
    tx.u.pay.amount = s->p.block_reward;
    block_push(&b, &tx);
    for (int i = 0; i < N_NODES; i++) {
        before[i] = energy_of(s->l[0], s->pk[i]);
        energy_node_step(&s->nodes[i], &s->p, k, &st[i]);
        if (st[i].kind == 0)
            continue;
        memset(&tx, 0, sizeof tx);
        tx.version = PROTO_TX_VERSION;
        tx.kind = st[i].kind;
        memcpy(tx.from, s->pk[i], 32);
        tx.nonce = s->nonce[i]++;
        tx.u.order.interval = k;
        tx.u.order.energy_wh = st[i].energy_wh;
        tx.u.order.price = st[i].price;
        ck_assert_int_eq(tx_sign(&tx, s->sk[i], s->chain_id), 0);
        block_push(&b, &tx);
        memcpy(order_ids[i], b.ids[b.n - 1], 32);
        digest_tx(s, b.ids[b.n - 1]);
    }
    /* The operator: orders into its ledger on trial, collect, clear, sign. */
    for (uint32_t i = 0; i < b.n; i++)
        ck_assert_int_eq(ledger_apply_tx(s->l[0], &b.txs[i], b.ids[i], height, 1, trial), 0);
    ck_assert_int_eq(market_collect(s->l[0], k, &book, &n_book), 0);
    ck_assert_uint_eq(n_book, b.n - 1);
    ck_assert_int_eq(market_settlement_build(&s->p, k, s->op_nonce++, book, n_book, &tx, &ms), 0);
    ck_assert_int_eq(tx_sign(&tx, s->op_sk, s->chain_id), 0);
    free(book);
    ledger_undo_apply(s->l[0], trial);
    ledger_undo_free(trial);
    block_push(&b, &tx);
    digest_tx(s, b.ids[b.n - 1]);

    /* A forged settlement is refused by every node. */
    if (forge && has_trade_and_grid(&b.txs[b.n - 1])) {
        expect_forgery_rejected(s, &b, b.n - 1, height, forge_overfill, "over-filled order");
        expect_forgery_rejected(s, &b, b.n - 1, height, forge_price, "wrong price");
        expect_forgery_rejected(s, &b, b.n - 1, height, forge_missing_grid, "missing grid");
        forged = 1;
    }
    proto_block pb = as_block(&b);
    uint8_t h0[32], h[32];
    for (int r = 0; r < s->n_ledgers; r++) {
        ck_assert_int_eq(ledger_apply_block(s->l[r], &pb, (const uint8_t (*)[32])b.ids, NULL,
                                            height, NULL), 0);
        ck_assert_int_eq(ledger_state_hash(s->l[r], r == 0 ? h0 : h), 0);
        if (r > 0)
            ck_assert_mem_eq(h0, h, 32);
    }
    ck_assert_uint_eq(ledger_last_settled(s->l[0]), k);

    /* Money: only the coinbase adds any. */
    ck_assert_int_eq(ledger_total_money(s->l[0], &money1), 0);
    ck_assert_uint_eq(money1, money0 + s->p.block_reward);
    /* Energy, per node: pv + import + bought + discharge == load + export +
     * sold + charge; and across nodes sold == bought == traded. */
    uint64_t sold = 0, bought = 0, imp = 0, exp = 0;
    for (int i = 0; i < N_NODES; i++) {
        acct_energy a = energy_of(s->l[0], s->pk[i]);
        uint64_t ds = a.sold - before[i].sold, db = a.bought - before[i].bought;
        uint64_t de = a.exp - before[i].exp, di = a.imp - before[i].imp;
        ck_assert_uint_eq(st[i].pv_wh + di + db + st[i].discharge_wh,
                          st[i].load_wh + de + ds + st[i].charge_wh);
        sold += ds;
        bought += db;
        imp += di;
        exp += de;
        energy_node_observe_settlement(&s->nodes[i], &b.txs[b.n - 1],
                                       st[i].kind ? order_ids[i] : NULL, st[i].energy_wh);
    }
    ck_assert_uint_eq(sold, bought);
    ck_assert_uint_eq(sold, ms.traded_wh);
    ck_assert_uint_eq(imp, ms.grid_import_wh);
    ck_assert_uint_eq(exp, ms.grid_export_wh);
    block_free(&b);
    return forged;
}

/* Runs `intervals` intervals; returns the digest of every order and
 * settlement and of the final state. */
static void sim_run(uint8_t rule, uint64_t seed, uint64_t intervals, int n_ledgers,
                    uint8_t out[32], uint64_t *traded, int *forgeries)
{
    sim s;
    uint8_t state[32];
    int forged = 0;
    sim_init(&s, rule, seed, n_ledgers);
    *traded = 0;
    for (uint64_t k = 0; k < intervals; k++) {
        uint64_t before = 0, after = 0;
        for (int i = 0; i < N_NODES; i++)
            before += ledger_account_get(s.l[0], s.pk[i])->sold_wh;
        /* Forge a few settlements (daytime ones have trades and grid). */
        forged += sim_interval(&s, k, n_ledgers > 1 && forged < 3 && k % 97 == 50);
        for (int i = 0; i < N_NODES; i++)
            after += ledger_account_get(s.l[0], s.pk[i])->sold_wh;
        *traded += after - before;
    }
    ck_assert_int_eq(ledger_state_hash(s.l[0], state), 0);
    crypto_hash_sha256_update(&s.digest, state, 32);
    crypto_hash_sha256_final(&s.digest, out);
    /* Nothing reserved is left behind: every bid was settled. */
    size_t it = 0;
    const uint8_t *key;
    const ledger_account *a;
    while (ledger_account_next(s.l[0], &it, &key, &a))
        ck_assert_uint_eq(a->reserved, 0);
    *forgeries = forged;
    sim_free(&s);
}

START_TEST(test_community_1000_intervals_repeat)
{
    uint8_t d1[32], d2[32], d3[32];
    uint64_t t1, t2, t3;
    int f1, f2, f3;
    sim_run(PARAMS_MARKET_UNIFORM, 2024, 1000, N_REPLICAS, d1, &t1, &f1);
    sim_run(PARAMS_MARKET_UNIFORM, 2024, 1000, 1, d2, &t2, &f2);
    ck_assert_mem_eq(d1, d2, 32);
    ck_assert_uint_eq(t1, t2);
    ck_assert_uint_gt(t1, 0);          /* peers did trade */
    ck_assert_int_eq(f1, 3);           /* forgeries were tried, and refused */
    /* Another seed, another run. */
    sim_run(PARAMS_MARKET_UNIFORM, 2025, 100, 1, d3, &t3, &f3);
    ck_assert_mem_ne(d1, d3, 32);
}
END_TEST

START_TEST(test_community_other_rules)
{
    uint8_t d1[32], d2[32];
    uint64_t t1, t2;
    int f1, f2;
    sim_run(PARAMS_MARKET_PAY_AS_BID, 77, 300, N_REPLICAS, d1, &t1, &f1);
    ck_assert_uint_gt(t1, 0);
    ck_assert_int_gt(f1, 0);
    sim_run(PARAMS_MARKET_MID, 77, 300, N_REPLICAS, d2, &t2, &f2);
    ck_assert_uint_gt(t2, 0);
    ck_assert_int_gt(f2, 0);
    ck_assert_mem_ne(d1, d2, 32);
}
END_TEST

Suite *energy_suite(void)
{
    Suite *s = suite_create("energy");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rng_and_seeds);
    tcase_add_test(tc, test_interval_clock);
    tcase_add_test(tc, test_pv_zero_at_night);
    tcase_add_test(tc, test_pv_shape_and_weather);
    tcase_add_test(tc, test_load_shape);
    tcase_add_test(tc, test_battery);
    tcase_add_test(tc, test_node_orders);
    tcase_add_test(tc, test_prices_adapt);
    tcase_add_test(tc, test_profile_parse);
    tcase_add_test(tc, test_profile_file);
    tcase_add_test(tc, test_profile_mapping);
    suite_add_tcase(s, tc);
    TCase *sim = tcase_create("community");
    tcase_set_timeout(sim, 300);
    tcase_add_test(sim, test_community_1000_intervals_repeat);
    tcase_add_test(sim, test_community_other_rules);
    suite_add_tcase(s, sim);
    return s;
}
