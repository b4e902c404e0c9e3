/*
 * view.c - the statistics table and plain lines; see view.h.
 */
#include "view.h"

#include <math.h>

#include "common/core/role.h"

static void fmt_rate(char *out, size_t cap, int64_t hps)
{
    if (hps >= 1000000000)
        snprintf(out, cap, "%.2f GH/s", (double)hps / 1e9);
    else if (hps >= 1000000)
        snprintf(out, cap, "%.2f MH/s", (double)hps / 1e6);
    else if (hps >= 1000)
        snprintf(out, cap, "%.1f kH/s", (double)hps / 1e3);
    else
        snprintf(out, cap, "%lld H/s", (long long)hps);
}

static void fmt_elapsed(char *out, size_t cap, const view_header *h)
{
    long long s = h->elapsed_ms / 1000;
    if (h->elapsed_ms < 0)
        snprintf(out, cap, "snapshot");
    else if (h->duration_s)
        snprintf(out, cap, "%llds/%us", s, h->duration_s);
    else
        snprintf(out, cap, "%llds/until Ctrl-C", s);
}

/* Money units per kWh from micro-units per kWh; "-" when nothing traded. */
static void fmt_price(char *out, size_t cap, uint64_t micro_per_kwh, uint64_t traded_wh)
{
    if (traded_wh == 0)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%.4f", (double)micro_per_kwh / 1e6);
}

/* The compact target as --difficulty counts: leading zero hex digits of
 * a hash that just meets it, with a fraction (for the screen only). */
static double bits_hex_digits(uint32_t bits)
{
    uint32_t mant = bits & 0x007fffff;
    int exp = (int)(bits >> 24);
    if (mant == 0)
        return 0;
    return (256.0 - (log2((double)mant) + 8.0 * (exp - 3))) / 4.0;
}

/* The chain's pace, so the difficulty rule is never silent. */
static void print_pace(FILE *out, const view_header *h)
{
    char target[48];
    if (h->block_interval_ms)
        snprintf(target, sizeof target, "target block interval %.3g s",
                 h->block_interval_ms / 1000.0);
    else
        snprintf(target, sizeof target, "fixed difficulty");
    fprintf(out, "%s  tip target 0x%08x = difficulty %.2f (hex digits)\n", target,
            (unsigned)h->ist.best_bits, bits_hex_digits(h->ist.best_bits));
}

/* The run's totals, as the original's users watched them. */
static void print_totals(FILE *out, const view_header *h)
{
    const ingest_stats *st = &h->ist;
    char avg[32], last[32];
    fmt_price(avg, sizeof avg, ingest_avg_price(st), st->traded_wh);
    fmt_price(last, sizeof last, st->last_price, st->last_traded_wh);
    fprintf(out, "blocks %llu (best height %llu, stale %llu = %.1f %%)  transactions %llu "
            "(%.1f/s)  trades %llu  intervals settled %llu\n",
            (unsigned long long)st->blocks, (unsigned long long)st->best_height,
            (unsigned long long)st->stale, (double)ingest_stale_permille(st) / 10.0,
            (unsigned long long)st->txs, h->tx_per_s, (unsigned long long)st->trades,
            (unsigned long long)st->intervals);
    fprintf(out, "energy traded %.3f kWh  average price %s/kWh  last interval %s/kWh  "
            "grid import %.3f kWh  export %.3f kWh\n",
            (double)st->traded_wh / 1000.0, avg, last, (double)st->grid_import_wh / 1000.0,
            (double)st->grid_export_wh / 1000.0);
}

static int64_t max_height(const fleet *f)
{
    int64_t m = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->nodes[i].have_stats && f->nodes[i].st.height > m)
            m = f->nodes[i].st.height;
    return m;
}

void view_table(FILE *out, const fleet *f, const view_header *h, int clear)
{
    char el[48], rate[32];
    fmt_elapsed(el, sizeof el, h);
    if (clear)
        fputs("\033[H\033[J", out);
    fprintf(out, "smart grid run  %s  [%s]  restarts %llu\n", el, h->phase,
            (unsigned long long)h->restarts);
    if (h->ist.blocks) {
        print_totals(out, h);
        print_pace(out, h);
    }
    fprintf(out, "%-6s %-9s %7s %5s %12s %16s %10s %10s %6s %4s", "node", "role", "height",
            "peers", "hashrate", "balance", "sold kWh", "bought kWh", "stale", "up");
    /* Money for energy apart from block rewards, on the launcher's best
     * chain (ingest.h), so a node's columns add up across nodes. */
    if (h->ing)
        fprintf(out, " %13s %13s %13s", "energy paid", "energy recv", "rewards");
    fputc('\n', out);
    for (size_t i = 0; i < f->n; i++) {
        const fleet_node *n = &f->nodes[i];
        if (!n->have_stats) {
            fprintf(out, "%-6s %-9s %7s\n", n->name, role_name(n->role),
                    n->pid > 0 || !clear ? "-" : "down");
            continue;
        }
        fmt_rate(rate, sizeof rate, n->st.hashrate);
        fprintf(out, "%-6s %-9s %7lld %5lld %12s %16.6f %10.3f %10.3f %6lld %4s", n->name,
                role_name(n->role), (long long)n->st.height, (long long)n->st.peers,
                rate, (double)n->st.balance / 1e6, (double)n->st.sold_wh / 1000.0,
                (double)n->st.bought_wh / 1000.0, (long long)n->st.stale,
                n->pid > 0 ? "yes" : (n->c ? "yes" : "no"));
        if (h->ing) {
            ingest_money m;
            ingest_node_money(h->ing, n->pk, &m);
            fprintf(out, " %13.6f %13.6f %13.6f", (double)m.energy_paid / 1e6,
                    (double)m.energy_received / 1e6, (double)m.rewards / 1e6);
        }
        fputc('\n', out);
    }
    for (int i = 0; i < VIEW_EVENTS; i++)
        if (h->events[i])
            fprintf(out, "  %s\n", h->events[i]);
    fflush(out);
}

void view_line(FILE *out, const fleet *f, const view_header *h)
{
    char el[48];
    int64_t hashrate = 0;
    size_t up = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->nodes[i].pid > 0)
            up++;
        if (f->nodes[i].have_stats)
            hashrate += f->nodes[i].st.hashrate;
    }
    fmt_elapsed(el, sizeof el, h);
    fprintf(out, "t=%s phase=%s up=%zu/%zu height=%lld best=%llu blocks=%llu stale=%llu "
            "txs=%llu tx/s=%.1f trades=%llu hashrate=%lld price=%llu avg_price=%llu "
            "traded_wh=%llu grid_import_wh=%llu grid_export_wh=%llu restarts=%llu "
            "target_ms=%u bits=0x%08x difficulty=%.2f\n",
            el, h->phase, up, f->n, (long long)max_height(f),
            (unsigned long long)h->ist.best_height, (unsigned long long)h->ist.blocks,
            (unsigned long long)h->ist.stale, (unsigned long long)h->ist.txs, h->tx_per_s,
            (unsigned long long)h->ist.trades, (long long)hashrate,
            (unsigned long long)h->ist.last_price,
            (unsigned long long)ingest_avg_price(&h->ist), (unsigned long long)h->ist.traded_wh,
            (unsigned long long)h->ist.grid_import_wh,
            (unsigned long long)h->ist.grid_export_wh, (unsigned long long)h->restarts,
            h->block_interval_ms, (unsigned)h->ist.best_bits, bits_hex_digits(h->ist.best_bits));
    fflush(out);
}
