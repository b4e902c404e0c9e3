/*
 * db_schema.c - the one description of every table both backends create.
 * Column order here is column order in SQL and in spill-file lines; append
 * new columns at the end of a table so old spill files still read.
 */
#include <stddef.h>

#include "launcher/db/db_int.h"

#define KEYS(st, f, n) { n, DBC_STR, DBU_KEY, sizeof(((st *)0)->f), offsetof(st, f), 0 }
#define KEYI(st, f, n) { n, DBC_INT, DBU_KEY, 0, offsetof(st, f), 0 }
#define STR(st, f, u) { #f, DBC_STR, u, sizeof(((st *)0)->f), offsetof(st, f), 0 }
#define INT(st, f, u) { #f, DBC_INT, u, 0, offsetof(st, f), 0 }
#define INTN(st, f, n, u) { n, DBC_INT, u, 0, offsetof(st, f), 0 }
/* A column appended after databases with the table existed. */
#define LATE(st, f, u) { #f, DBC_INT, u, 0, offsetof(st, f), 1 }
/* The same for a string column ('' in older rows). */
#define LATES(st, f, u) { #f, DBC_STR, u, sizeof(((st *)0)->f), offsetof(st, f), 1 }
#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const db__col run_cols[] = {
    KEYS(db_run, run_id, "run_id"),
    INT(db_run, started_at_s, DBU_SET),
    INT(db_run, ended_at_s, DBU_SET),
    { "params", DBC_TEXT, DBU_SET, 0, offsetof(db_run, params), 0 },
    INT(db_run, seed, DBU_SET),
    INT(db_run, prosumers, DBU_SET),
    INT(db_run, consumers, DBU_SET),
    INT(db_run, operators, DBU_SET),
    INT(db_run, difficulty, DBU_SET),
    INT(db_run, duration_s, DBU_SET),
    INT(db_run, tick_ms, DBU_SET),
    STR(db_run, market_rule, DBU_SET),
    INT(db_run, use_gpu, DBU_SET),
    INT(db_run, hosts, DBU_SET),
    LATE(db_run, hashrate_cap, DBU_KNOWN),
    LATE(db_run, block_interval_ms, DBU_KNOWN),
    LATE(db_run, retarget_halflife_ms, DBU_KNOWN),
};
static const char *const run_idx[] = { "runs_started:started_at_s", NULL };

static const db__col node_cols[] = {
    KEYS(db_node, run_id, "run_id"),
    KEYS(db_node, name, "name"),
    STR(db_node, role, DBU_SET),
    STR(db_node, pubkey, DBU_SET),
    STR(db_node, host, DBU_SET),
    INT(db_node, port, DBU_SET),
    INT(db_node, balance, DBU_SET),
    INT(db_node, reserved, DBU_SET),
    INT(db_node, sold_wh, DBU_SET),
    INT(db_node, bought_wh, DBU_SET),
    INT(db_node, grid_import_wh, DBU_SET),
    INT(db_node, grid_export_wh, DBU_SET),
    INT(db_node, produced_wh, DBU_SET),
    INT(db_node, consumed_wh, DBU_SET),
    INT(db_node, height, DBU_SET),
    INT(db_node, updated_ms, DBU_SET),
    LATE(db_node, hashrate_cap, DBU_KNOWN),
    LATE(db_node, energy_paid, DBU_SET),
    LATE(db_node, energy_received, DBU_SET),
    LATE(db_node, rewards, DBU_SET),
    LATES(db_node, adversary, DBU_SET),
    LATE(db_node, rejected_blocks, DBU_SET),
    LATE(db_node, rejected_txs, DBU_SET),
    LATES(db_node, banned_peers, DBU_SET),
    LATE(db_node, adv_withheld, DBU_SET),
    LATE(db_node, adv_published, DBU_SET),
    LATE(db_node, adv_abandoned, DBU_SET),
    LATE(db_node, blocks_mined, DBU_SET),
    LATE(db_node, adv_ds_pairs, DBU_SET),
    LATE(db_node, adv_ds_won_a, DBU_SET),
    LATE(db_node, adv_ds_won_b, DBU_SET),
    LATE(db_node, adv_manip_orders, DBU_SET),
    LATE(db_node, adv_spam_valid, DBU_SET),
    LATE(db_node, adv_spam_malformed, DBU_SET),
    LATE(db_node, adv_forged_settlements, DBU_SET),
};
static const char *const node_idx[] = { "nodes_pubkey:run_id,pubkey", NULL };

/* seen_by (WITHMIN) must come before first_seen_ms (MIN): MySQL evaluates
 * ON DUPLICATE KEY UPDATE assignments left to right. */
static const db__col block_cols[] = {
    KEYS(db_block, run_id, "run_id"),
    KEYS(db_block, hash, "hash"),
    INT(db_block, height, DBU_KEEP),
    STR(db_block, prev_hash, DBU_KEEP),
    STR(db_block, miner, DBU_KEEP),
    INT(db_block, time_s, DBU_KEEP),
    INT(db_block, n_txs, DBU_KEEP),
    INT(db_block, bits, DBU_KEEP),
    INT(db_block, nonce, DBU_KEEP),
    STR(db_block, seen_by, DBU_WITHMIN),
    INT(db_block, first_seen_ms, DBU_MIN),
    INT(db_block, stale, DBU_SET),
};
static const char *const block_idx[] = {
    "blocks_height:run_id,height", "blocks_stale:run_id,stale",
    "blocks_miner:run_id,miner", NULL
};

/* A txid fixes the content, so SET and KEEP agree on it; SET lets the
 * block's row fill a row a latency record (txlat_cols) created first. */
static const db__col tx_cols[] = {
    KEYS(db_tx, run_id, "run_id"),
    KEYS(db_tx, txid, "txid"),
    STR(db_tx, block_hash, DBU_SET),
    STR(db_tx, kind, DBU_SET),
    STR(db_tx, from_pk, DBU_SET),
    STR(db_tx, to_pk, DBU_SET),
    INT(db_tx, nonce, DBU_SET),
    INT(db_tx, amount, DBU_SET),
    INTN(db_tx, interval, "interval_no", DBU_SET),
    INT(db_tx, energy_wh, DBU_SET),
    INT(db_tx, price, DBU_SET),
    INT(db_tx, first_seen_ms, DBU_MIN),
    LATE(db_tx, broadcast_ms, DBU_KNOWN),
    LATE(db_tx, included_ms, DBU_KNOWN),
};
static const char *const tx_idx[] = {
    "transactions_block:run_id,block_hash", "transactions_kind:run_id,kind",
    "transactions_from:run_id,from_pk", NULL
};

/* The latency columns of `transactions`, written on their own. */
static const db__col txlat_cols[] = {
    KEYS(db_txlat, run_id, "run_id"),
    KEYS(db_txlat, txid, "txid"),
    INT(db_txlat, first_seen_ms, DBU_MIN),
    LATE(db_txlat, broadcast_ms, DBU_KNOWN),
    LATE(db_txlat, included_ms, DBU_KNOWN),
};
static const char *const txlat_idx[] = { NULL };

static const db__col trade_cols[] = {
    KEYS(db_trade, run_id, "run_id"),
    KEYS(db_trade, settle_txid, "settle_txid"),
    KEYS(db_trade, order_txid, "order_txid"),
    INTN(db_trade, interval, "interval_no", DBU_SET),
    STR(db_trade, node_pk, DBU_SET),
    STR(db_trade, node_name, DBU_SET),
    STR(db_trade, side, DBU_SET),
    INT(db_trade, traded_wh, DBU_SET),
    INT(db_trade, trade_price, DBU_SET),
    INT(db_trade, grid_wh, DBU_SET),
    INT(db_trade, amount, DBU_SET),
};
static const char *const trade_idx[] = {
    "trades_node:run_id,node_name", "trades_interval:run_id,interval_no", NULL
};

static const db__col interval_cols[] = {
    KEYS(db_interval, run_id, "run_id"),
    KEYI(db_interval, interval, "interval_no"),
    INT(db_interval, clearing_price, DBU_SET),
    INT(db_interval, traded_wh, DBU_SET),
    INT(db_interval, grid_import_wh, DBU_SET),
    INT(db_interval, grid_export_wh, DBU_SET),
    INT(db_interval, matched_orders, DBU_SET),
    STR(db_interval, settle_txid, DBU_SET),
    STR(db_interval, block_hash, DBU_SET),
    LATE(db_interval, traded_value, DBU_KNOWN),
    LATE(db_interval, closed_ms, DBU_SET),
    LATE(db_interval, settled_ms, DBU_NULLSET),
};
static const char *const interval_idx[] = { NULL };

static const db__col node_stat_cols[] = {
    KEYS(db_node_stat, run_id, "run_id"),
    KEYS(db_node_stat, node, "node"),
    KEYI(db_node_stat, t_ms, "t_ms"),
    INT(db_node_stat, height, DBU_KEEP),
    INT(db_node_stat, peers, DBU_KEEP),
    INT(db_node_stat, hashrate, DBU_KEEP),
    INT(db_node_stat, mempool, DBU_KEEP),
    INT(db_node_stat, stale, DBU_KEEP),
    INT(db_node_stat, orphans, DBU_KEEP),
    INT(db_node_stat, balance, DBU_KEEP),
    INT(db_node_stat, loop_lag_ms, DBU_KEEP),
    LATES(db_node_stat, tip, DBU_KEEP),
    LATE(db_node_stat, rejected_blocks, DBU_KEEP),
    LATE(db_node_stat, rejected_txs, DBU_KEEP),
};
static const char *const node_stat_idx[] = { "node_stats_t:run_id,t_ms", NULL };

static const db__col sim_stat_cols[] = {
    KEYS(db_sim_stat, run_id, "run_id"),
    KEYI(db_sim_stat, t_ms, "t_ms"),
    INT(db_sim_stat, total_energy_traded_wh, DBU_SET),
    INT(db_sim_stat, avg_energy_price, DBU_SET),
    INT(db_sim_stat, block_count, DBU_SET),
    INT(db_sim_stat, transaction_count, DBU_SET),
    INT(db_sim_stat, stale_blocks, DBU_SET),
    INT(db_sim_stat, trades, DBU_SET),
    INT(db_sim_stat, intervals_settled, DBU_SET),
    INT(db_sim_stat, grid_import_wh, DBU_SET),
    INT(db_sim_stat, grid_export_wh, DBU_SET),
};
static const char *const sim_stat_idx[] = { NULL };

static const db__col event_cols[] = {
    KEYS(db_event, run_id, "run_id"),
    KEYI(db_event, seq, "seq"),
    INT(db_event, t_ms, DBU_SET),
    INT(db_event, at_ms, DBU_SET),
    INT(db_event, line, DBU_SET),
    STR(db_event, what, DBU_SET),
    STR(db_event, target, DBU_SET),
    STR(db_event, arg, DBU_SET),
    STR(db_event, outcome, DBU_SET),
};
static const char *const event_idx[] = { "events_t:run_id,t_ms", NULL };

const db__table db__tables[DB_T_COUNT] = {
    [DB_T_RUN] = { "runs", run_cols, NCOLS(run_cols), run_idx },
    [DB_T_NODE] = { "nodes", node_cols, NCOLS(node_cols), node_idx },
    [DB_T_BLOCK] = { "blocks", block_cols, NCOLS(block_cols), block_idx },
    [DB_T_TX] = { "transactions", tx_cols, NCOLS(tx_cols), tx_idx },
    [DB_T_TRADE] = { "trades", trade_cols, NCOLS(trade_cols), trade_idx },
    [DB_T_INTERVAL] = { "market_intervals", interval_cols, NCOLS(interval_cols),
                        interval_idx },
    [DB_T_NODE_STAT] = { "node_stats", node_stat_cols, NCOLS(node_stat_cols),
                         node_stat_idx },
    [DB_T_TXLAT] = { "transactions", txlat_cols, NCOLS(txlat_cols), txlat_idx, 1 },
    [DB_T_SIM_STAT] = { "simulation_stats", sim_stat_cols, NCOLS(sim_stat_cols),
                        sim_stat_idx },
    [DB_T_EVENT] = { "events", event_cols, NCOLS(event_cols), event_idx },
};
