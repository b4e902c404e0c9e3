/*
 * metrics.c - Prometheus exposition and its HTTP/1.0 responder; see
 * metrics.h.
 *
 * A connection owns two handles (the socket and an idle timer) and is
 * freed in the close callback of the second; the server is freed once its
 * listener and every connection are gone, so closing it mid-request is
 * safe.  Connections sit on a list so closing the server reaches each.
 */
#include "common/daemon/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/base/units.h"

/* ---- exposition ---------------------------------------------------------- */

enum { M_GAUGE, M_COUNTER };

typedef struct {
    const char *stat;            /* key in the daemon's stats */
    const char *name;            /* metric family */
    int type;
    int milli;                   /* stat in ms, metric in seconds */
    const char *help;
} metric_def;

static const metric_def defs[] = {
    { "height", "sg_block_height", M_GAUGE, 0, "Height of the best chain tip." },
    { "peers", "sg_peers", M_GAUGE, 0, "Connected peers." },
    { "mempool_txs", "sg_mempool_transactions", M_GAUGE, 0, "Transactions in the mempool." },
    { "mempool_bytes", "sg_mempool_bytes", M_GAUGE, 0, "Encoded size of the mempool in bytes." },
    { "stale_blocks", "sg_stale_blocks_total", M_COUNTER, 0,
      "Blocks known that are not on the best chain." },
    { "orphans", "sg_orphan_blocks", M_GAUGE, 0, "Blocks held waiting for their parent." },
    { "reorg_blocks", "sg_reorg_blocks_total", M_COUNTER, 0,
      "Blocks disconnected by reorganisations." },
    { "hashrate", "sg_hashrate_hashes_per_second", M_GAUGE, 0, "Mining hash rate." },
    { "mining", "sg_mining", M_GAUGE, 0, "1 while mining is switched on." },
    { "loop_lag_ms_avg", "sg_loop_lag_seconds", M_GAUGE, 1,
      "Average event loop lag over the last 10 seconds." },
    { "loop_lag_ms_max", "sg_loop_lag_max_seconds", M_GAUGE, 1,
      "Largest event loop lag over the last 10 seconds." },
    { "balance", "sg_balance_microunits", M_GAUGE, 0, "Account balance in micro-units." },
    { "reserved", "sg_reserved_microunits", M_GAUGE, 0,
      "Balance reserved by open bids, micro-units." },
    { "nonce", "sg_account_nonce", M_GAUGE, 0, "Account nonce on the best chain." },
    { "sold_wh", "sg_sold_energy_wh_total", M_COUNTER, 0, "Energy sold peer to peer, Wh." },
    { "bought_wh", "sg_bought_energy_wh_total", M_COUNTER, 0,
      "Energy bought peer to peer, Wh." },
    { "grid_import_wh", "sg_grid_import_wh_total", M_COUNTER, 0,
      "Energy taken from the grid, Wh." },
    { "grid_export_wh", "sg_grid_export_wh_total", M_COUNTER, 0,
      "Energy fed into the grid, Wh." },
    { "blocks_mined", "sg_blocks_mined_total", M_COUNTER, 0,
      "Blocks this node mined that were accepted." },
    { "uptime_ms", "sg_uptime_seconds", M_GAUGE, 1, "Seconds since the daemon started." },
    { "bans", "sg_banned_peers", M_GAUGE, 0, "Addresses currently banned." },
    { "blocks_in_flight", "sg_blocks_in_flight", M_GAUGE, 0, "Blocks requested, not received." },
    { "block_stalls", "sg_block_stalls_total", M_COUNTER, 0,
      "Block requests re-sent after a stall." },
    { "misbehaved", "sg_misbehaviour_total", M_COUNTER, 0, "Peer misbehaviour events." },
    { "rejected_blocks", "sg_rejected_blocks_total", M_COUNTER, 0,
      "Blocks from peers refused for breaking a rule." },
    { "rejected_txs", "sg_rejected_transactions_total", M_COUNTER, 0,
      "Transactions from peers refused as the sender's fault." },
    { "cmpct_in", "sg_cmpct_blocks_received_total", M_COUNTER, 0,
      "Compact blocks received of blocks new here." },
    { "cmpct_redundant", "sg_cmpct_redundant_total", M_COUNTER, 0,
      "Compact blocks received of blocks already here or being rebuilt." },
    { "cmpct_rebuilt", "sg_cmpct_rebuilt_total", M_COUNTER, 0,
      "Compact blocks rebuilt from the mempool with no round trip." },
    { "cmpct_blocktxn", "sg_cmpct_blocktxn_total", M_COUNTER, 0,
      "Compact blocks rebuilt after asking for missing transactions." },
    { "cmpct_fallback", "sg_cmpct_fallback_total", M_COUNTER, 0,
      "Compact blocks given up for a request of the whole block." },
    { "cmpct_early", "sg_cmpct_early_relayed_total", M_COUNTER, 0,
      "Blocks forwarded before their validation." },
    { "cmpct_sent", "sg_cmpct_sent_total", M_COUNTER, 0, "Compact blocks sent." },
    { "interval", "sg_market_interval", M_GAUGE, 0, "Current market interval." },
    { "last_settled_interval", "sg_market_last_settled_interval", M_GAUGE, 0,
      "Last settled market interval on the best chain, -1 if none." },
    { "clearing_price", "sg_clearing_price_microunits_per_kwh", M_GAUGE, 0,
      "Clearing price of the last settlement connected." },
    { "produced_wh", "sg_produced_energy_wh_total", M_COUNTER, 0, "PV energy produced, Wh." },
    { "consumed_wh", "sg_consumed_energy_wh_total", M_COUNTER, 0,
      "Household energy consumed, Wh." },
    { "battery_wh", "sg_battery_charge_wh", M_GAUGE, 0, "Battery state of charge, Wh." },
    { "orders_submitted", "sg_orders_submitted_total", M_COUNTER, 0,
      "Offers and bids signed and relayed." },
    { "orders_skipped", "sg_orders_skipped_total", M_COUNTER, 0, "Orders not sent." },
    { "traded_wh", "sg_last_settlement_traded_wh", M_GAUGE, 0,
      "Peer-to-peer energy of the last mined settlement, Wh." },
    { "last_grid_import_wh", "sg_last_settlement_grid_import_wh", M_GAUGE, 0,
      "Grid import of the last mined settlement, Wh." },
    { "last_grid_export_wh", "sg_last_settlement_grid_export_wh", M_GAUGE, 0,
      "Grid export of the last mined settlement, Wh." },
    { "matched_orders", "sg_last_settlement_matched_orders", M_GAUGE, 0,
      "Orders filled by the last mined settlement." },
    { "total_traded_wh", "sg_traded_energy_wh_total", M_COUNTER, 0,
      "Peer-to-peer energy over all mined settlements, Wh." },
    { "settlements_published", "sg_settlements_published_total", M_COUNTER, 0,
      "Settlements signed and relayed." },
    { "settlements_mined", "sg_settlements_mined_total", M_COUNTER, 0,
      "Settlements seen in connected blocks." },
    { "tx_latency_tracked", "sg_tx_latency_tracked_total", M_COUNTER, 0,
      "Own transactions whose inclusion latency is being measured." },
    { "tx_latency_dropped", "sg_tx_latency_dropped_total", M_COUNTER, 0,
      "Own transactions evicted before inclusion, or records lost before collection." },
    { "settlements_rebuilt", "sg_settlements_rebuilt_total", M_COUNTER, 0,
      "Settlements dropped because they stopped applying." },
};

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Label values escape backslash, double quote and newline (the format's
 * rule); anything else passes as is. */
static void escape_label(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 3 < cap; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

static const proto_stat *find_stat(const proto_stat *items, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].key, key) == 0)
            return &items[i];
    return NULL;
}

static const char *str_stat(const proto_stat *items, size_t n, const char *key)
{
    const proto_stat *s = find_stat(items, n, key);
    return s && s->kind == PROTO_STAT_STR ? s->s : "";
}

static void emit_value(sbuf *b, const metric_def *d, int64_t v)
{
    if (!d->milli) {
        sb_printf(b, "%lld\n", (long long)v);
        return;
    }
    /* Integer milliseconds printed as exact decimal seconds. */
    const char *sign = v < 0 ? "-" : "";
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    sb_printf(b, "%s%llu.%03llu\n", sign, (unsigned long long)(a / 1000),
              (unsigned long long)(a % 1000));
}

/* Milliseconds as the shortest exact decimal seconds: 250 -> 0.25. */
static void ms_to_seconds(uint64_t ms, char *out, size_t cap)
{
    int len = snprintf(out, cap, "%llu.%03llu", (unsigned long long)(ms / 1000),
                       (unsigned long long)(ms % 1000));
    while (len > 0 && out[len - 1] == '0')
        out[--len] = '\0';
    if (len > 0 && out[len - 1] == '.')
        out[--len] = '\0';
}

static void emit_histogram(sbuf *b, const metrics_histogram *h, const char *labels)
{
    char le[32], sum[32];

    sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
    for (size_t i = 0; i < h->n; i++) {
        ms_to_seconds(h->bounds_ms[i], le, sizeof le);
        sb_printf(b, "%s_bucket{%s,le=\"%s\"} %llu\n", h->name, labels, le,
                  (unsigned long long)h->counts[i]);
    }
    ms_to_seconds(h->sum_ms, sum, sizeof sum);
    sb_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %s\n%s_count{%s} %llu\n",
              h->name, labels, (unsigned long long)h->counts[h->n], h->name, labels,
              sum[0] ? sum : "0", h->name, labels, (unsigned long long)h->counts[h->n]);
}

int metrics_format(const proto_stat *items, size_t n, char **out, size_t *len)
{
    return metrics_format_ex(items, n, NULL, 0, out, len);
}

int metrics_format_ex(const proto_stat *items, size_t n, const metrics_histogram *h,
                      size_t nh, char **out, size_t *len)
{
    char node[2 * PROTO_STAT_STR_MAX + 1], role[2 * PROTO_STAT_STR_MAX + 1];
    char impl[2 * PROTO_STAT_STR_MAX + 1], labels[8 * PROTO_STAT_STR_MAX];
    sbuf b = { .cap = 4096 };

    b.p = malloc(b.cap);
    if (!b.p)
        return SG_ENOMEM;
    b.p[0] = '\0';
    escape_label(str_stat(items, n, "name"), node, sizeof node);
    escape_label(str_stat(items, n, "role"), role, sizeof role);
    escape_label(str_stat(items, n, "impl"), impl, sizeof impl);
    snprintf(labels, sizeof labels, "node=\"%s\",role=\"%s\"", node, role);

    sb_printf(&b, "# HELP sg_node_info Constant 1, labelled with the node's identity.\n"
                  "# TYPE sg_node_info gauge\nsg_node_info{%s,impl=\"%s\"} 1\n",
              labels, impl);
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        const metric_def *d = &defs[i];
        const proto_stat *s = find_stat(items, n, d->stat);
        if (!s || s->kind != PROTO_STAT_INT)
            continue;
        sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n%s{%s} ", d->name, d->help, d->name,
                  d->type == M_COUNTER ? "counter" : "gauge", d->name, labels);
        emit_value(&b, d, s->i);
    }
    for (size_t i = 0; i < nh; i++)
        emit_histogram(&b, &h[i], labels);
    if (b.failed) {
        free(b.p);
        return SG_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---- HTTP responder ------------------------------------------------------ */

struct metrics_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    metrics_render_fn render;
    void *ctx;
    int closing;
    unsigned open_conns;         /* connections not yet freed */
    struct mconn *conns;         /* every connection not yet freed */
    int listener_open;
    uint16_t port;
};

typedef struct mconn {
    metrics_server *ms;
    struct mconn *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    int handles;                 /* open handles of this connection */
    int responded;
    size_t used;
    char *resp;
    char req[METRICS_REQ_MAX];
} mconn;

static void server_maybe_free(metrics_server *ms)
{
    if (ms->closing && !ms->listener_open && ms->open_conns == 0)
        free(ms);
}

static void conn_handle_closed(uv_handle_t *h)
{
    mconn *c = h->data;
    if (--c->handles > 0)
        return;
    metrics_server *ms = c->ms;
    if (c->prev)
        c->prev->next = c->next;
    else
        ms->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->resp);
    free(c);
    ms->open_conns--;
    server_maybe_free(ms);
}

static void conn_close(mconn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) {
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    }
}

/* Closing a socket with unread request bytes (an oversized request) makes
 * the kernel send RST, which can destroy the response before the client
 * reads it; so the write side is shut down and the rest of the request is
 * drained until the client closes or the idle timer fires. */
static void on_written(uv_write_t *w, int status)
{
    mconn *c = w->data;
    c->sreq.data = c;
    if (status != 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, NULL) != 0)
        conn_close(c);
}

static void respond(mconn *c, const char *status, const char *body, size_t blen)
{
    sbuf b = { .cap = blen + 256 };
    c->responded = 1;
    c->used = 0;                 /* the buffer now only drains; see on_written */
    b.p = malloc(b.cap);
    if (!b.p) {
        conn_close(c);
        return;
    }
    sb_printf(&b, "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, blen);
    if (!b.failed && blen) {
        if (b.cap - b.len < blen + 1) {
            b.failed = 1;
        } else {
            memcpy(b.p + b.len, body, blen);
            b.len += blen;
        }
    }
    if (b.failed) {
        free(b.p);
        conn_close(c);
        return;
    }
    c->resp = b.p;
    uv_buf_t buf = uv_buf_init(c->resp, (unsigned)b.len);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        conn_close(c);
}

static void handle_request(mconn *c)
{
    static const char not_found[] = "not found: only /metrics is served\n";
    static const char bad_method[] = "method not allowed\n";
    const char *p = c->req;

    if (strncmp(p, "GET ", 4) != 0) {
        respond(c, "405 Method Not Allowed", bad_method, sizeof bad_method - 1);
        return;
    }
    p += 4;
    size_t plen = strcspn(p, " ?\r\n");
    if (plen != 8 || strncmp(p, "/metrics", 8) != 0) {
        respond(c, "404 Not Found", not_found, sizeof not_found - 1);
        return;
    }
    char *body = NULL;
    size_t blen = 0;
    if (c->ms->closing || c->ms->render(c->ms->ctx, &body, &blen) != 0) {
        respond(c, "503 Service Unavailable", "unavailable\n", 12);
        return;
    }
    respond(c, "200 OK", body, blen);
    free(body);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    mconn *c = h->data;
    (void)suggested;
    /* One byte kept for the terminating NUL. */
    buf->base = c->req + c->used;
    buf->len = sizeof c->req - 1 - c->used;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    mconn *c = s->data;
    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->responded)
        return;
    c->used += (size_t)nread;
    c->req[c->used] = '\0';
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
        handle_request(c);
    } else if (c->used >= sizeof c->req - 1) {
        static const char big[] = "request too large\n";
        respond(c, "431 Request Header Fields Too Large", big, sizeof big - 1);
    }
}

static void on_idle(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_connection(uv_stream_t *srv, int status)
{
    metrics_server *ms = srv->data;
    if (status != 0 || ms->closing)
        return;
    mconn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->ms = ms;
    uv_tcp_init(ms->loop, &c->tcp);
    uv_timer_init(ms->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    ms->open_conns++;
    c->next = ms->conns;
    if (c->next)
        c->next->prev = c;
    ms->conns = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0 || ms->open_conns > METRICS_CONN_MAX) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_idle, METRICS_IDLE_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
    char host[256];
    uint16_t port;
    if (units_parse_hostport(s, host, sizeof host, &port) != 0)
        return SG_EINVAL;
    if (host[0] == '\0')
        snprintf(host, sizeof host, "0.0.0.0");
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return SG_EINVAL;
}

static void on_listener_closed(uv_handle_t *h)
{
    metrics_server *ms = h->data;
    ms->listener_open = 0;
    server_maybe_free(ms);
}

int metrics_server_start(metrics_server **out, uv_loop_t *loop, const char *listen,
                         metrics_render_fn render, void *ctx, int *uv_err)
{
    struct sockaddr_storage ss;
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    int rc;

    memset(&ss, 0, sizeof ss);
    if (parse_listen(listen, &ss) != 0)
        return SG_EINVAL;
    metrics_server *ms = calloc(1, sizeof *ms);
    if (!ms)
        return SG_ENOMEM;
    ms->loop = loop;
    ms->render = render;
    ms->ctx = ctx;
    uv_tcp_init(loop, &ms->listener);
    ms->listener.data = ms;
    ms->listener_open = 1;
    rc = uv_tcp_bind(&ms->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ms->listener, 16, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&ms->listener, (struct sockaddr *)&bound, &blen);
    if (rc != 0) {
        if (uv_err)
            *uv_err = rc;
        metrics_server_close(ms);
        return SG_EIO;
    }
    ms->port = ntohs(bound.ss_family == AF_INET6
                         ? ((struct sockaddr_in6 *)&bound)->sin6_port
                         : ((struct sockaddr_in *)&bound)->sin_port);
    *out = ms;
    return 0;
}

uint16_t metrics_server_port(const metrics_server *ms)
{
    return ms->port;
}

void metrics_server_close(metrics_server *ms)
{
    if (!ms || ms->closing)
        return;
    ms->closing = 1;
    for (mconn *c = ms->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&ms->listener, on_listener_closed);
}
