/*
 * control.c - the control channel of a daemon (control.h): the hook the
 * net carries control links' frames to, the handlers, the statistics, and
 * log lines streamed to subscribers.
 */
#define _GNU_SOURCE
#include "common/daemon/control.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/daemon/metrics.h"

typedef struct log_item {
    struct log_item *next;
    int level;
    uint64_t time_ms;
    size_t len;
    char text[];
} log_item;

/* A READY control link and the level it subscribed to (OFF: none). */
typedef struct {
    net_peer *p;
    int log_level;
} control_link;

struct control {
    control_config cfg;
    uv_async_t async;             /* wakes the loop for queued log lines */
    int closing;
    control_link links[NET_MAX_CONTROL];
    size_t n_links;
    pthread_mutex_t log_mu;       /* guards the queue below: any thread */
    log_item *log_head, *log_tail;
    size_t log_n;
    uint64_t log_dropped;
    /* The ledger's digest changes only with the tip: computed once per tip
     * (it sorts the whole state, and every daemon is asked each second). */
    uint8_t state_tip[32];
    char state_hex[65];
};

/* ---- statistics ---------------------------------------------------------- */

typedef struct {
    proto_stat *items;            /* PROTO_STATS_MAX */
    uint32_t n;
} stat_buf;

static void stat_int(stat_buf *sb, const char *k, int64_t v)
{
    if (sb->n == PROTO_STATS_MAX)
        return;
    proto_stat *s = &sb->items[sb->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", k);
    s->kind = PROTO_STAT_INT;
    s->i = v;
}

static void stat_str(stat_buf *sb, const char *k, const char *v)
{
    if (sb->n == PROTO_STATS_MAX)
        return;
    proto_stat *s = &sb->items[sb->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", k);
    s->kind = PROTO_STAT_STR;
    snprintf(s->s, sizeof s->s, "%s", v);
}

static int64_t clamp64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void stats_wallet(control *c, stat_buf *sb)
{
    ledger *l = chain_ledger(c->cfg.chain);
    const chain_entry *tip = chain_tip(c->cfg.chain);
    const ledger_account *a = ledger_account_get(l, c->cfg.pk);
    ledger_account zero = { 0 };
    uint8_t sh[32];

    if (!a)
        a = &zero;
    stat_int(sb, "balance", clamp64(a->balance));
    stat_int(sb, "reserved", clamp64(a->reserved));
    stat_int(sb, "nonce", clamp64(a->nonce));
    stat_int(sb, "sold_wh", clamp64(a->sold_wh));
    stat_int(sb, "bought_wh", clamp64(a->bought_wh));
    stat_int(sb, "grid_import_wh", clamp64(a->grid_import_wh));
    stat_int(sb, "grid_export_wh", clamp64(a->grid_export_wh));
    if (memcmp(c->state_tip, tip->hash, 32) != 0 || c->state_hex[0] == '\0') {
        c->state_hex[0] = '\0';
        if (ledger_state_hash(l, sh) == 0) {
            hash_hex(sh, 32, c->state_hex);
            memcpy(c->state_tip, tip->hash, 32);
        }
    }
    if (c->state_hex[0] != '\0')
        stat_str(sb, "state_hash", c->state_hex);
}

static void stats_market(control *c, stat_buf *sb)
{
    agent_stats as;
    if (!c->cfg.agent)
        return;
    agent_get_stats(c->cfg.agent, &as);
    stat_int(sb, "interval", clamp64(as.interval));
    stat_int(sb, "last_settled_interval", as.last_settled_interval);
    stat_int(sb, "clearing_price", clamp64(as.clearing_price));
    if (!c->cfg.operator_role) {
        stat_int(sb, "produced_wh", clamp64(as.produced_wh));
        stat_int(sb, "consumed_wh", clamp64(as.consumed_wh));
        stat_int(sb, "battery_wh", clamp64(as.battery_wh));
        stat_int(sb, "orders_submitted", clamp64(as.orders_submitted));
        stat_int(sb, "orders_skipped", clamp64(as.orders_skipped));
        return;
    }
    stat_int(sb, "traded_wh", clamp64(as.traded_wh));
    stat_int(sb, "last_grid_import_wh", clamp64(as.grid_import_wh));
    stat_int(sb, "last_grid_export_wh", clamp64(as.grid_export_wh));
    stat_int(sb, "matched_orders", as.matched_orders);
    stat_int(sb, "total_traded_wh", clamp64(as.total_traded_wh));
    stat_int(sb, "settlements_published", clamp64(as.settlements_published));
    stat_int(sb, "settlements_mined", clamp64(as.settlements_mined));
    stat_int(sb, "settlements_rebuilt", clamp64(as.settlements_rebuilt));
}

static void stats_txlat(control *c, stat_buf *sb)
{
    txlat_stats ts;
    if (!c->cfg.txlat)
        return;
    txlat_get_stats(c->cfg.txlat, &ts);
    stat_int(sb, "tx_latency_tracked", clamp64(ts.tracked));
    stat_int(sb, "tx_latency_measured", clamp64(ts.measured));
    stat_int(sb, "tx_latency_dropped", clamp64(ts.dropped_pending + ts.dropped_records));
}

/* The adversary's figures (adv.h); "adversary" is "" on an honest node. */
static void stats_adv(control *c, stat_buf *sb)
{
    adv_stats as;
    char names[128] = "";
    unsigned roles = c->cfg.adv ? adv_roles(c->cfg.adv) : 0;

    stat_str(sb, "adversary", adv_roles_format(roles, names, sizeof names));
    if (!roles)
        return;
    adv_get_stats(c->cfg.adv, &as);
    stat_int(sb, "adv_withheld", clamp64(as.withheld));
    stat_int(sb, "adv_published", clamp64(as.published));
    stat_int(sb, "adv_abandoned", clamp64(as.abandoned));
    stat_int(sb, "adv_races", clamp64(as.races));
    stat_int(sb, "adv_overrides", clamp64(as.overrides));
    stat_int(sb, "adv_lead", as.lead);
    stat_int(sb, "adv_lead_max", as.lead_max);
    stat_int(sb, "adv_forged_blocks", clamp64(as.forged_blocks));
}

/* The transaction-side adversary's own account of what it did (adv_tx.h),
 * only while one of its roles is on. */
static void stats_adv_tx(control *c, stat_buf *sb)
{
    adv_tx_stats st;
    char hex[65];

    if (!c->cfg.adv_tx || !(adv_tx_roles(c->cfg.adv_tx) & ADV_TX_ROLES))
        return;
    adv_tx_get_stats(c->cfg.adv_tx, &st);
    stat_int(sb, "adv_ds_pairs", clamp64(st.ds_pairs));
    stat_int(sb, "adv_ds_won_a", clamp64(st.ds_won_a));
    stat_int(sb, "adv_ds_won_b", clamp64(st.ds_won_b));
    stat_int(sb, "adv_ds_decide_ms_max", clamp64(st.ds_decide_ms_max));
    hash_to_hex_display(st.ds_last_a, hex);
    stat_str(sb, "adv_ds_last_a", hex);
    hash_to_hex_display(st.ds_last_b, hex);
    stat_str(sb, "adv_ds_last_b", hex);
    stat_int(sb, "adv_manip_orders", clamp64(st.manip_orders));
    stat_int(sb, "adv_spam_valid", clamp64(st.spam_valid));
    stat_int(sb, "adv_spam_malformed", clamp64(st.spam_malformed));
    stat_int(sb, "adv_forged_settlements", clamp64(st.forged_settlements));
}

/* The names (from HELLO) of the connected peers, space-separated, so the
 * launcher can draw the links: "peer_names", then "peer_names_2".. when
 * one string stat cannot hold them all.  A name with a space or a control
 * byte is left out (names the launcher gives never have one). */
#define PEER_NAMES_PARTS 8

static void stats_peer_names(control *c, stat_buf *sb)
{
    char buf[PROTO_STAT_STR_MAX + 1], key[PROTO_STAT_KEY_MAX + 1];
    size_t len = 0;
    int part = 1;

    buf[0] = '\0';
    for (net_peer *p = net_peer_first(c->cfg.net); p; p = net_peer_next(p)) {
        const char *nm = net_peer_name(p);
        size_t l = strlen(nm);
        int ok = l > 0 && l < PROTO_STAT_STR_MAX;
        for (size_t k = 0; ok && k < l; k++)
            ok = (unsigned char)nm[k] > ' ' && nm[k] != 0x7f;
        if (!ok)
            continue;
        if (len && len + 1 + l > PROTO_STAT_STR_MAX) {
            snprintf(key, sizeof key, part == 1 ? "peer_names" : "peer_names_%d", part);
            stat_str(sb, key, buf);
            if (++part > PEER_NAMES_PARTS)
                return;
            len = 0;
        }
        if (len)
            buf[len++] = ' ';
        memcpy(buf + len, nm, l + 1);
        len += l;
    }
    snprintf(key, sizeof key, part == 1 ? "peer_names" : "peer_names_%d", part);
    stat_str(sb, key, buf);
}

uint32_t control_stats(control *c, proto_stat *items)
{
    const chain_entry *tip = chain_tip(c->cfg.chain);
    mempool *mp = chain_mempool(c->cfg.chain);
    stat_buf sb = { items, 0 };
    control_runtime rt = { 0 };
    relay_stats rs = { 0 };
    char hex[65];

    if (c->cfg.runtime)
        c->cfg.runtime(c->cfg.ctx, &rt);
    stat_str(&sb, "name", c->cfg.name);
    stat_str(&sb, "role", c->cfg.role);
    stat_int(&sb, "height", tip->height);
    hash_to_hex_display(tip->hash, hex);
    stat_str(&sb, "tip", hex);
    u256_hex(&tip->chainwork, hex);
    stat_str(&sb, "chainwork", hex);
    stat_int(&sb, "peers", c->cfg.net ? (int64_t)net_peer_count(c->cfg.net) : 0);
    stat_int(&sb, "mempool_txs", (int64_t)mempool_count(mp));
    stat_int(&sb, "mempool_bytes", (int64_t)mempool_bytes(mp));
    stat_int(&sb, "stale_blocks", clamp64(chain_stale_count(c->cfg.chain)));
    stat_int(&sb, "orphans", (int64_t)chain_orphan_count(c->cfg.chain));
    stat_int(&sb, "reorg_blocks", clamp64(rt.reorg_blocks));
    stat_int(&sb, "hashrate", clamp64(rt.hashrate));
    stat_int(&sb, "hashrate_cap", clamp64(rt.hashrate_cap));
    stat_int(&sb, "mining", rt.mining);
    stat_str(&sb, "impl", rt.impl ? rt.impl : "?");
    stat_int(&sb, "loop_lag_ms_max", clamp64(rt.loop_lag_ms_max));
    stat_int(&sb, "loop_lag_ms_avg", clamp64(rt.loop_lag_ms_avg));
    stats_wallet(c, &sb);
    stat_int(&sb, "blocks_mined", clamp64(rt.blocks_mined));
    stat_int(&sb, "uptime_ms", clamp64(rt.uptime_ms));
    stat_int(&sb, "bans", c->cfg.net ? (int64_t)net_ban_count(c->cfg.net) : 0);
    if (c->cfg.relay)
        relay_get_stats(c->cfg.relay, &rs);
    stat_int(&sb, "blocks_in_flight", (int64_t)rs.in_flight);
    stat_int(&sb, "block_stalls", clamp64(rs.stalls));
    stat_int(&sb, "misbehaved", clamp64(rs.misbehaved));
    stat_int(&sb, "rejected_blocks", clamp64(rs.rejected_blocks));
    stat_int(&sb, "rejected_txs", clamp64(rs.rejected_txs));
    stat_str(&sb, "banned_peers", c->cfg.relay ? relay_banned_names(c->cfg.relay) : "");
    stats_adv(c, &sb);
    /* Every Ed25519 check this daemon ran: on the thread pool for
     * transactions from peers, on the loop for the rest (the signature
     * cache's misses). */
    sigcache_stats ss;
    chain_sigcache_stats(c->cfg.chain, &ss);
    stat_int(&sb, "txs_in", clamp64(rs.txs_in));
    stat_int(&sb, "txs_dup", clamp64(rs.txs_dup));
    stat_int(&sb, "sig_checks", clamp64(rs.txs_checked + ss.misses));
    stat_int(&sb, "cmpct_in", clamp64(rs.cmpct_in));
    stat_int(&sb, "cmpct_redundant", clamp64(rs.cmpct_redundant));
    stat_int(&sb, "cmpct_rebuilt", clamp64(rs.cmpct_rebuilt));
    stat_int(&sb, "cmpct_blocktxn", clamp64(rs.cmpct_blocktxn));
    stat_int(&sb, "cmpct_fallback", clamp64(rs.cmpct_fallback));
    stat_int(&sb, "cmpct_early", clamp64(rs.cmpct_early));
    stat_int(&sb, "cmpct_sent", clamp64(rs.cmpct_sent));
    stats_adv_tx(c, &sb);
    stats_txlat(c, &sb);
    hash_hex(c->cfg.pk, 32, hex);
    stat_str(&sb, "pubkey", hex);
    stats_market(c, &sb);
    if (c->cfg.net)
        stats_peer_names(c, &sb);
    return sb.n;
}

int control_render_metrics(void *ctx, char **body, size_t *len)
{
    control *c = ctx;
    proto_stat *items = malloc(PROTO_STATS_MAX * sizeof *items);
    txlat_stats ts = { 0 };
    int rc;

    if (!items)
        return SG_ENOMEM;
    uint32_t n = control_stats(c, items);
    if (c->cfg.txlat)
        txlat_get_stats(c->cfg.txlat, &ts);
    metrics_histogram h = {
        .name = "sg_tx_inclusion_latency_seconds",
        .help = "Seconds from broadcasting an own transaction to a block holding it "
                "first connecting here.",
        .n = TXLAT_BUCKETS, .bounds_ms = txlat_bounds_ms, .counts = ts.counts,
        .sum_ms = ts.sum_ms,
    };
    rc = metrics_format_ex(items, n, &h, 1, body, len);
    free(items);
    return rc;
}

/* ---- handlers ------------------------------------------------------------ */

static void answer_stats(control *c, control_answer *out)
{
    proto_stats st = { 0, NULL };

    st.items = malloc(PROTO_STATS_MAX * sizeof *st.items);
    if (!st.items) {
        out->drop = "out of memory for stats";
        return;
    }
    st.n = control_stats(c, st.items);
    /* As before the split: an answer that cannot be encoded is skipped,
     * the link stays. */
    if (proto_stats_encode(&st, &out->payload, &out->len) == 0)
        out->type = PROTO_MSG_STATS;
    free(st.items);
}

/* STORE_READ: the launcher follows a daemon's blocks.dat over the control
 * link where it cannot read the file (another host).  Read on the loop:
 * at most PROTO_STORE_READ_MAX bytes from the page cache, once a second
 * per launcher, and the loop is the only writer, so no record is
 * half-written while this runs. */
static void answer_store_read(control *c, const uint8_t *pl, size_t len,
                              control_answer *out)
{
    uv_loop_t *loop = c->cfg.loop;
    proto_store_read rq;
    proto_store_data ans = { 0 };
    char path[4200];
    uv_fs_t req;
    uint8_t *buf = NULL;
    const char *why = NULL;
    int fd = -1;

    if (proto_store_read_decode(pl, len, &rq) != 0) {
        out->drop = "malformed STORE_READ";
        return;
    }
    snprintf(path, sizeof path, "%s/blocks.dat", c->cfg.data_dir);
    /* Synchronous uv_fs calls (no callback): see above for why. */
    fd = uv_fs_open(loop, &req, path, O_RDONLY | O_CLOEXEC, 0, NULL);
    uv_fs_req_cleanup(&req);
    int st_rc = fd < 0 ? fd : uv_fs_fstat(loop, &req, fd, NULL);
    ans.file_size = st_rc == 0 ? req.statbuf.st_size : 0;
    if (fd >= 0)
        uv_fs_req_cleanup(&req);
    if (st_rc != 0) {
        why = "cannot open the block store";
        goto out;
    }
    ans.offset = rq.offset;
    if (rq.offset < ans.file_size) {
        uint64_t left = ans.file_size - rq.offset;
        size_t want = rq.max > PROTO_STORE_READ_MAX ? PROTO_STORE_READ_MAX : rq.max;
        if (want > left)
            want = (size_t)left;
        if (want > 0 && !(buf = malloc(want))) {
            why = "out of memory for STORE_READ";
            goto out;
        }
        uv_buf_t ub = uv_buf_init((char *)buf, (unsigned)want);
        int n = want > 0 ? uv_fs_read(loop, &req, fd, &ub, 1, (int64_t)rq.offset, NULL) : 0;
        if (want > 0)
            uv_fs_req_cleanup(&req);
        if (n < 0) {
            why = "cannot read the block store";
            goto out;
        }
        ans.len = (uint32_t)n;
        ans.data = buf;
    }
    if (proto_store_data_encode(&ans, &out->payload, &out->len) != 0)
        why = "cannot answer STORE_READ";
    else
        out->type = PROTO_MSG_STORE_DATA;
out:
    if (why) {
        log_warn(c->cfg.log, "%s (%s)", why, path);
        out->drop = why;
    }
    if (fd >= 0) {
        uv_fs_close(loop, &req, fd, NULL);
        uv_fs_req_cleanup(&req);
    }
    free(buf);
}

/* Drains up to PROTO_TXLAT_MAX latency records into one TXLAT reply. */
static void answer_txlat(control *c, control_answer *out)
{
    proto_txlat m = { 0 };
    txlat_record *recs = NULL;
    txlat_stats ts;
    int rc = SG_ENOMEM;

    if (c->cfg.txlat) {
        recs = malloc(PROTO_TXLAT_MAX * sizeof *recs);
        m.items = malloc(PROTO_TXLAT_MAX * sizeof *m.items);
        if (!recs || !m.items)
            goto out;
        m.n = (uint32_t)txlat_drain(c->cfg.txlat, recs, PROTO_TXLAT_MAX);
        for (uint32_t i = 0; i < m.n; i++) {
            memcpy(m.items[i].txid, recs[i].txid, 32);
            m.items[i].broadcast_ms = recs[i].broadcast_ms;
            m.items[i].included_ms = recs[i].included_ms;
        }
        txlat_get_stats(c->cfg.txlat, &ts);
        m.dropped = ts.dropped_pending + ts.dropped_records;
        m.left = ts.waiting > UINT32_MAX ? UINT32_MAX : (uint32_t)ts.waiting;
    }
    rc = proto_txlat_encode(&m, &out->payload, &out->len);
out:
    if (rc == 0)
        out->type = PROTO_MSG_TXLAT;
    else
        out->drop = "cannot answer TXLAT_REQ";
    free(m.items);
    free(recs);
}

/* MINING: how the launcher pauses and resumes a daemon on any host (its
 * signals reach only its own child, which for a remote daemon is the
 * transport, ssh); the same path as SIGUSR1/SIGUSR2.  The ack carries the
 * state after the request. */
static void answer_mining(control *c, const char *from, const uint8_t *pl,
                          size_t len, control_answer *out)
{
    proto_mining rq, ack;

    if (proto_mining_decode(pl, len, &rq) != 0) {
        out->drop = "malformed MINING";
        return;
    }
    log_debug(c->cfg.log, "control client %s asks to %s mining", from,
              rq.on ? "start" : "stop");
    ack.on = c->cfg.set_mining ? (c->cfg.set_mining(c->cfg.ctx, rq.on) ? 1 : 0) : 0;
    if (proto_mining_encode(&ack, &out->payload, &out->len) != 0)
        out->drop = "cannot answer MINING";
    else
        out->type = PROTO_MSG_MINING_ACK;
}

/* ADVERSARY: a role switched on at run time (a scenario's event, `ctl
 * adversary ROLE`); the ack says whether it is on. */
static void answer_adversary(control *c, const char *from, const uint8_t *pl,
                             size_t len, control_answer *out)
{
    proto_adversary rq;
    unsigned mask = 0;

    if (proto_adversary_decode(pl, len, &rq) != 0) {
        out->drop = "malformed ADVERSARY";
        return;
    }
    int ok = c->cfg.adv && adv_parse_roles(rq.role, &mask) == 0;
    if (ok) {
        log_info(c->cfg.log, "control client %s switches on adversary %s", from, rq.role);
        adv_enable(c->cfg.adv, mask);
    }
    out->payload = malloc(1);
    if (!out->payload) {
        out->drop = "cannot answer ADVERSARY";
        return;
    }
    out->payload[0] = ok ? 1 : 0;
    out->len = 1;
    out->type = PROTO_MSG_ADVERSARY_ACK;
}

/* PARTITION: a scenario's cut (the launcher sends every node the names on
 * the other side); net refuses those links until the next PARTITION. */
static void answer_partition(control *c, const char *from, const uint8_t *pl,
                             size_t len, control_answer *out)
{
    proto_partition rq;
    const char **names = NULL;
    uint32_t now = 0;
    int rc;

    if (proto_partition_decode(pl, len, &rq) != 0) {
        out->drop = "malformed PARTITION";
        return;
    }
    log_info(c->cfg.log, "control client %s: partition from %u peer names", from, rq.n);
    rc = rq.n && !(names = malloc(rq.n * sizeof *names)) ? SG_ENOMEM : 0;
    for (uint32_t i = 0; rc == 0 && i < rq.n; i++)
        names[i] = rq.names[i];
    if (rc == 0 && c->cfg.net)
        rc = net_set_denied(c->cfg.net, names, rq.n);
    if (c->cfg.net)
        now = (uint32_t)net_denied_count(c->cfg.net);
    if (rc != 0 || proto_u32_encode(now, &out->payload, &out->len) != 0)
        out->drop = "cannot answer PARTITION";
    else
        out->type = PROTO_MSG_PARTITION_ACK;
    free(names);
    proto_partition_free(&rq);
}

/* HASHRATE: a scenario's change of one miner's cap at run time. */
static void answer_hashrate(control *c, const char *from, const uint8_t *pl,
                            size_t len, control_answer *out)
{
    proto_hashrate rq, ack = { 0 };

    if (proto_hashrate_decode(pl, len, &rq) != 0) {
        out->drop = "malformed HASHRATE";
        return;
    }
    log_info(c->cfg.log, "control client %s sets the hash rate cap to %llu/s", from,
             (unsigned long long)rq.rate);
    if (c->cfg.set_hashrate)
        ack.rate = c->cfg.set_hashrate(c->cfg.ctx, rq.rate);
    if (proto_hashrate_encode(&ack, &out->payload, &out->len) != 0)
        out->drop = "cannot answer HASHRATE";
    else
        out->type = PROTO_MSG_HASHRATE_ACK;
}

void control_handle(control *c, const char *from, uint8_t type,
                    const uint8_t *pl, size_t len, control_answer *out)
{
    memset(out, 0, sizeof *out);
    if (type == PROTO_MSG_STATS_REQ && proto_empty_decode(pl, len) == 0) {
        answer_stats(c, out);
    } else if (type == PROTO_MSG_SHUTDOWN) {
        log_info(c->cfg.log, "shutdown requested by control client %s", from);
        if (c->cfg.shutdown)
            c->cfg.shutdown(c->cfg.ctx, "control request");
    } else if (type == PROTO_MSG_STORE_READ) {
        answer_store_read(c, pl, len, out);
    } else if (type == PROTO_MSG_TXLAT_REQ && proto_empty_decode(pl, len) == 0) {
        answer_txlat(c, out);
    } else if (type == PROTO_MSG_MINING) {
        answer_mining(c, from, pl, len, out);
    } else if (type == PROTO_MSG_ADVERSARY) {
        answer_adversary(c, from, pl, len, out);
    } else if (type == PROTO_MSG_PARTITION) {
        answer_partition(c, from, pl, len, out);
    } else if (type == PROTO_MSG_HASHRATE) {
        answer_hashrate(c, from, pl, len, out);
    } else {
        out->drop = "unexpected control message";
    }
}

/* ---- log streaming -------------------------------------------------------- */

static void update_hook_level(control *c)
{
    int min = LOG_LEVEL_OFF;
    if (c->cfg.log_stream == NULL || c->closing)
        return;
    for (size_t i = 0; i < c->n_links; i++)
        if (c->links[i].log_level < min)
            min = c->links[i].log_level;
    log_set_hook_level(c->cfg.log_stream, min);
}

/* The logger's hook: any thread, logger lock held.  Queue and wake the
 * loop; the lines are sent from on_async on the loop's thread. */
static void on_log_line(void *ctx, int level, uint64_t time_ms,
                        const char *line, size_t len)
{
    control *c = ctx;
    log_item *it = NULL;

    pthread_mutex_lock(&c->log_mu);
    if (c->log_n < CONTROL_LOG_QUEUE_MAX)
        it = malloc(sizeof(*it) + len + 1);
    if (it != NULL) {
        it->next = NULL;
        it->level = level;
        it->time_ms = time_ms;
        it->len = len;
        memcpy(it->text, line, len + 1);
        if (c->log_tail != NULL)
            c->log_tail->next = it;
        else
            c->log_head = it;
        c->log_tail = it;
        c->log_n++;
    } else {
        c->log_dropped++;
    }
    pthread_mutex_unlock(&c->log_mu);
    uv_async_send(&c->async);
}

static void stream_line(control *c, const log_item *it)
{
    proto_log_line m;
    uint8_t *buf = NULL;
    size_t len = 0;

    m.level = (uint8_t)it->level;
    m.time_ms = it->time_ms;
    snprintf(m.text, sizeof(m.text), "%s", it->text);
    if (proto_log_line_encode(&m, &buf, &len) != 0)
        return;
    for (size_t i = 0; i < c->n_links; i++) {
        const control_link *l = &c->links[i];
        if (it->level >= l->log_level &&
            net_peer_send_queued(l->p) < CONTROL_LOG_BACKLOG)
            net_send(l->p, PROTO_MSG_LOG_LINE, buf, len);
    }
    free(buf);
}

static void free_items(log_item *it)
{
    while (it != NULL) {
        log_item *next = it->next;
        free(it);
        it = next;
    }
}

static void on_async(uv_async_t *h)
{
    control *c = h->data;
    log_item *head;

    pthread_mutex_lock(&c->log_mu);
    head = c->log_head;
    c->log_head = c->log_tail = NULL;
    c->log_n = 0;
    pthread_mutex_unlock(&c->log_mu);
    for (const log_item *it = head; it != NULL && !c->closing; it = it->next)
        stream_line(c, it);
    free_items(head);
}

/* ---- the net's control hook ----------------------------------------------- */

static control_link *link_of(control *c, const net_peer *p)
{
    for (size_t i = 0; i < c->n_links; i++)
        if (c->links[i].p == p)
            return &c->links[i];
    return NULL;
}

static void on_link(void *ctx, net_peer *p, enum net_event ev)
{
    control *c = ctx;
    control_link *l = link_of(c, p);

    log_debug(c->cfg.log, "control client %s (%s) %s", net_peer_name(p), net_peer_addr(p),
              ev == NET_EV_READY ? "connected" : "left");
    if (ev == NET_EV_READY && l == NULL && c->n_links < NET_MAX_CONTROL) {
        c->links[c->n_links++] = (control_link){ p, LOG_LEVEL_OFF };
    } else if (ev == NET_EV_CLOSED && l != NULL) {
        int subscribed = l->log_level != LOG_LEVEL_OFF;
        *l = c->links[--c->n_links];
        if (subscribed)
            update_hook_level(c);
    }
}

static void subscribe(control *c, net_peer *p, const uint8_t *pl, size_t len)
{
    control_link *l = link_of(c, p);
    proto_log_sub sub;

    if (proto_log_sub_decode(pl, len, &sub) != 0) {
        net_misbehave(p, "malformed LOG_SUB");
        return;
    }
    if (l == NULL)
        return;
    l->log_level = sub.min_level > LOG_LEVEL_ERROR ? LOG_LEVEL_OFF : sub.min_level;
    update_hook_level(c);
}

static void on_link_msg(void *ctx, net_peer *p, uint8_t type,
                        const uint8_t *pl, size_t len)
{
    control *c = ctx;
    control_answer ans;
    char why[96];
    int rc;

    if (type == PROTO_MSG_LOG_SUB && c->cfg.log_stream != NULL) {
        subscribe(c, p, pl, len);
        return;
    }
    control_handle(c, net_peer_addr(p), type, pl, len, &ans);
    if (ans.type != 0 && (rc = net_send(p, ans.type, ans.payload, ans.len)) != 0 &&
        !ans.drop) {
        snprintf(why, sizeof why, "cannot answer %s", proto_msg_type_name(type));
        log_warn(c->cfg.log, "%s to %s: %s", why, net_peer_addr(p), sg_strerror(rc));
        ans.drop = why;
    }
    if (ans.drop)
        net_disconnect(p, ans.drop);
    free(ans.payload);
}

/* ---- lifecycle ------------------------------------------------------------ */

int control_new(control **out, const control_config *cfg)
{
    control *c = calloc(1, sizeof *c);

    *out = NULL;
    if (!c)
        return SG_ENOMEM;
    c->cfg = *cfg;
    if (uv_async_init(cfg->loop, &c->async, on_async) != 0) {
        free(c);
        return SG_EIO;
    }
    c->async.data = c;
    pthread_mutex_init(&c->log_mu, NULL);
    if (cfg->net)
        net_set_control_hook(cfg->net, on_link, on_link_msg, c);
    if (cfg->log_stream)
        log_set_hook(cfg->log_stream, LOG_LEVEL_OFF, on_log_line, c);
    *out = c;
    return 0;
}

static void on_async_closed(uv_handle_t *h)
{
    control *c = h->data;
    free_items(c->log_head);
    pthread_mutex_destroy(&c->log_mu);
    free(c);
}

void control_close(control *c)
{
    if (!c || c->closing)
        return;
    /* After log_set_hook(NULL) returns no hook call is running, so no
     * other thread touches the queue or the async handle again. */
    if (c->cfg.log_stream)
        log_set_hook(c->cfg.log_stream, LOG_LEVEL_OFF, NULL, NULL);
    c->closing = 1;
    uv_close((uv_handle_t *)&c->async, on_async_closed);
}
