/*
 * web_snap.c - the live page's snapshot; see web_snap.h.
 */
#include "web_snap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/core/hash.h"
#include "common/core/role.h"

/* jansson's integers are signed 64-bit; counters here never get near. */
static json_t *ju(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static const char *node_state(const fleet_node *n, int64_t now)
{
    if (n->pid <= 0)
        return "down";
    if (!n->have_stats)
        return n->restarts ? "restarting" : "starting";
    return now - n->stats_ms > WEB_SNAP_STALE_MS ? "unresponsive" : "up";
}

/* The peer names the daemon reported, as a JSON array. */
static json_t *links_of(const fleet_node *n)
{
    json_t *a = json_array();
    const char *p = n->st.peer_names;
    while (a && *p) {
        size_t l = strcspn(p, " ");
        if (l)
            json_array_append_new(a, json_stringn(p, l));
        p += l;
        p += *p == ' ';
    }
    return a;
}

static json_t *node_json(const fleet *f, size_t i, int64_t now)
{
    const fleet_node *n = &f->nodes[i];
    const char *host = fleet_host_name(f, i);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I}", "name", n->name, "role",
                          role_name(n->role), "state", node_state(n, now), "host",
                          host ? host : "local", "port", (int)n->port, "addr", fleet_addr(f, i),
                          "restarts", (json_int_t)n->restarts);
    if (!o || !n->have_stats)
        return o;
    json_object_set_new(o, "height", json_integer(n->st.height));
    json_object_set_new(o, "tip", json_string(n->st.tip));
    json_object_set_new(o, "peers", json_integer(n->st.peers));
    json_object_set_new(o, "links", links_of(n));
    json_object_set_new(o, "hashrate", json_integer(n->st.hashrate));
    json_object_set_new(o, "balance", json_integer(n->st.balance));
    json_object_set_new(o, "sold_wh", json_integer(n->st.sold_wh));
    json_object_set_new(o, "bought_wh", json_integer(n->st.bought_wh));
    json_object_set_new(o, "stale", json_integer(n->st.stale));
    json_object_set_new(o, "mempool", json_integer(n->st.mempool));
    json_object_set_new(o, "mining", json_integer(n->st.mining));
    json_object_set_new(o, "blocks_mined", json_integer(n->st.blocks_mined));
    json_object_set_new(o, "lag_ms", json_integer(n->st.lag_ms));
    return o;
}

/* The tips the nodes that answer are on, with who follows each. */
static json_t *tips_json(const fleet *f, const char *best)
{
    json_t *tips = json_array();
    for (size_t i = 0; tips && i < f->n; i++) {
        const fleet_node *n = &f->nodes[i];
        json_t *t = NULL;
        if (!n->have_stats || n->pid <= 0 || !n->st.tip[0])
            continue;
        for (size_t k = 0; k < json_array_size(tips) && !t; k++) {
            json_t *c = json_array_get(tips, k);
            if (strcmp(json_string_value(json_object_get(c, "tip")), n->st.tip) == 0)
                t = c;
        }
        if (!t) {
            t = json_pack("{s:s, s:I, s:b, s:[]}", "tip", n->st.tip, "height",
                          (json_int_t)n->st.height, "best", strcmp(n->st.tip, best) == 0,
                          "nodes");
            if (!t || json_array_append_new(tips, t) != 0)
                continue;
        }
        json_array_append_new(json_object_get(t, "nodes"), json_string(n->name));
    }
    return tips;
}

static const char *miner_name(const fleet *f, const char *pk_hex)
{
    char hex[65];
    for (size_t i = 0; i < f->n; i++) {
        hash_hex(f->nodes[i].pk, 32, hex);
        if (strcmp(hex, pk_hex) == 0)
            return f->nodes[i].name;
    }
    return "?";
}

static json_t *blocks_json(const fleet *f, const ingest *ing)
{
    const db_block *rows[WEB_SNAP_BLOCKS + 1];
    json_t *a = json_array();
    size_t n = ing ? ingest_recent_best(ing, rows, WEB_SNAP_BLOCKS + 1) : 0;
    for (size_t i = 0; a && i < n && i < WEB_SNAP_BLOCKS; i++) {
        const db_block *b = rows[i];
        json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:s}", "height",
                              (json_int_t)b->height, "hash", b->hash, "miner",
                              miner_name(f, b->miner), "txs", (json_int_t)b->n_txs, "time_s",
                              (json_int_t)b->time_s, "seen_ms", (json_int_t)b->first_seen_ms,
                              "seen_by", b->seen_by);
        /* From the miners' header times (whole seconds): the launcher
         * reads stores once a second, so its own arrival times would
         * bunch blocks together. */
        if (o && i + 1 < n)
            json_object_set_new(o, "interval_s", json_integer(b->time_s - rows[i + 1]->time_s));
        json_array_append_new(a, o);
    }
    return a;
}

/* A point per tick in which intervals settled: the newest one's price
 * and traded energy, and the grid energy of all of them. */
static void track_market(web_snap *ws, const ingest_stats *st, int64_t wall_ms)
{
    if (st->intervals <= ws->seen_intervals) {
        ws->seen_intervals = st->intervals;  /* a reorg may lower it */
        return;
    }
    web_snap_point *p = &ws->pts[(ws->head + ws->n) % WEB_SNAP_SERIES];
    if (ws->n == WEB_SNAP_SERIES)
        ws->head = (ws->head + 1) % WEB_SNAP_SERIES;
    else
        ws->n++;
    p->interval = st->intervals;
    p->t_ms = wall_ms;
    p->price = st->last_price;
    p->traded_wh = st->last_traded_wh;
    p->import_wh = st->grid_import_wh > ws->seen_import ? st->grid_import_wh - ws->seen_import : 0;
    p->export_wh = st->grid_export_wh > ws->seen_export ? st->grid_export_wh - ws->seen_export : 0;
    ws->seen_intervals = st->intervals;
    ws->seen_import = st->grid_import_wh;
    ws->seen_export = st->grid_export_wh;
}

static json_t *market_json(const web_snap *ws, const ingest_stats *st)
{
    json_t *series = json_array();
    for (size_t i = 0; series && i < ws->n; i++) {
        const web_snap_point *p = &ws->pts[(ws->head + i) % WEB_SNAP_SERIES];
        json_array_append_new(series, json_pack("[o, o, o, o, o]", ju(p->interval),
                                                ju(p->price), ju(p->traded_wh),
                                                ju(p->import_wh), ju(p->export_wh)));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "intervals",
                     ju(st->intervals), "last_price", ju(st->last_price), "last_traded_wh",
                     ju(st->last_traded_wh), "avg_price", ju(ingest_avg_price(st)),
                     "traded_wh", ju(st->traded_wh), "grid_import_wh", ju(st->grid_import_wh),
                     "grid_export_wh", ju(st->grid_export_wh), "trades", ju(st->trades),
                     "series", series ? series : json_array());
}

char *web_snap_build(web_snap *ws, const fleet *f, const ingest *ing, const view_header *h,
                     const char *run_id, int64_t now_mono_ms, int64_t wall_ms, size_t *len)
{
    const ingest_stats *st = &h->ist;
    char best[65] = "";
    json_t *nodes = json_array(), *events = json_array(), *root;
    char *out = NULL;

    if (ing)
        ingest_best_tip(ing, best);
    track_market(ws, st, wall_ms);
    for (size_t i = 0; nodes && i < f->n; i++)
        json_array_append_new(nodes, node_json(f, i, now_mono_ms));
    for (int i = 0; events && i < VIEW_EVENTS; i++)
        if (h->events[i])
            json_array_append_new(events, json_string(h->events[i]));
    root = json_pack("{s:s, s:s, s:I, s:I, s:i, s:I, s:f}", "run", run_id, "phase",
                     h->phase ? h->phase : "", "t_ms", (json_int_t)wall_ms, "elapsed_ms",
                     (json_int_t)h->elapsed_ms, "duration_s", (int)h->duration_s, "restarts",
                     (json_int_t)h->restarts, "tx_per_s", h->tx_per_s);
    if (!root)
        goto out;
    json_object_set_new(root, "chain",
                        json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "best_height",
                                  ju(st->best_height), "blocks", ju(st->blocks), "stale",
                                  ju(st->stale), "stale_permille", ju(ingest_stale_permille(st)),
                                  "txs", ju(st->txs), "trades", ju(st->trades), "best_tip",
                                  best));
    json_object_set_new(root, "tips", tips_json(f, best));
    json_object_set_new(root, "blocks", blocks_json(f, ing));
    json_object_set_new(root, "market", market_json(ws, st));
    json_object_set(root, "nodes", nodes);
    json_object_set(root, "events", events);
    out = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (out)
        *len = strlen(out);
out:
    json_decref(root);
    json_decref(nodes);
    json_decref(events);
    return out;
}
