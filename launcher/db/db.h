/*
 * db.h - the run's SQL store: SQLite by default, MySQL/MariaDB with a host.
 *
 * One db per launcher.  Rows are queued by the db_put_* functions (each row
 * is copied, so the caller's struct may be reused at once; nothing touches
 * the network) and written by db_flush in one transaction, batched into
 * multi-row INSERTs that upsert on the table's key, so a row sent twice
 * (after an outage, or a node re-reporting a block) is stored once.
 *
 * Threads: every function is safe to call from any thread.  The queue has
 * its own lock, held only to copy rows in or out, so a db_put_* never waits
 * on a db_flush that is talking to a slow server.  db_flush calls are
 * serialised among themselves.  With cfg.flush_thread set, db_open starts a
 * worker thread that calls db_flush every flush_ms; the launcher's loop then
 * never blocks on the database.  Without it the caller runs db_flush (e.g.
 * once a second from its loop, or on uv_queue_work).
 *
 * Outages: a failing flush keeps every row, marks the db down and returns
 * SG_EDB; later flushes retry (reconnect) no more often than once a second
 * and return at once in between.  A connect to a dead server gives up after
 * DB_CONNECT_TIMEOUT_S.  Above DB_MEM_ROWS queued rows (cfg.mem_rows),
 * further rows go to the spill file (cfg.spill_path; one text line per row,
 * format in db.c); while it holds rows, new rows go there too, and it is
 * read back in order once the rows in memory are written.  Rows of one
 * table are therefore written in the order they were put (what upserts
 * need), and none is lost; db_close leaves the spill file in place (and
 * says so) if the server is still down, and db_open picks up a spill file
 * left by an earlier process.  Show db_backlog and db_is_up to the user
 * rather than every SG_EDB message: while down, each flush returns one.
 *
 * Money is in micro-units, prices in micro-units per kWh, energy in Wh,
 * times in Unix milliseconds unless named _s.  Strings are NUL-terminated
 * and truncated to their buffer; hashes, txids and public keys are lowercase
 * hex.  Schema: docs/SCHEMA.md.
 */
#ifndef SG_DB_H
#define SG_DB_H

#include <stddef.h>
#include <stdint.h>

#define DB_MEM_ROWS 100000       /* queued rows kept in memory before spilling */
#define DB_CONNECT_TIMEOUT_S 2   /* MySQL connect/read/write timeout */
#define DB_RETRY_MS 1000         /* least time between reconnect attempts */
#define DB_BATCH_ROWS 500        /* rows per multi-row INSERT statement */
#define DB_ERR_MAX 512           /* enough for any message db writes in err */
#define DB_PARAMS_MAX 65536      /* longest db_run.params accepted */

#define DB_RUNID_MAX 40
#define DB_NAME_MAX 64
#define DB_ADV_MAX 64                /* nodes.adversary: role names, comma-separated */
#define DB_BANNED_MAX 256            /* nodes.banned_peers: names, space-separated */
#define DB_HEX_MAX 65            /* 64 hex digits + NUL */
#define DB_WORD_MAX 16           /* role, kind, side, market rule */

typedef struct db db;

typedef struct {
    const char *sqlite_path;   /* used when host is NULL or "" */
    const char *host;          /* MySQL/MariaDB server; NULL or "" = SQLite */
    unsigned port;             /* 0 = 3306 */
    const char *user;          /* NULL = "root" */
    const char *password;      /* NULL = "" */
    const char *name;          /* database; NULL = "smartgrid"; created if missing */
    const char *spill_path;    /* NULL = db.spill beside sqlite_path, or in . */
    int flush_thread;          /* 1: a worker thread flushes every flush_ms */
    unsigned flush_ms;         /* 0 = 1000 */
    size_t mem_rows;           /* 0 = DB_MEM_ROWS; tests spill sooner */
} db_config;

/* One row per run; every other row names its run_id. */
typedef struct {
    char run_id[DB_RUNID_MAX];  /* e.g. "20261125-013000-ab12" */
    int64_t started_at_s;
    int64_t ended_at_s;         /* 0 while running; re-put at the end */
    const char *params;         /* all options as JSON text; copied; may be NULL */
    int64_t seed;
    int64_t prosumers, consumers, operators;
    int64_t difficulty;
    int64_t duration_s;
    int64_t tick_ms;
    char market_rule[DB_WORD_MAX];
    int64_t use_gpu;
    int64_t hosts;              /* machines the nodes were spread over */
    int64_t hashrate_cap;       /* --hashrate default, hashes/s; 0 (NULL): none */
    int64_t block_interval_ms;  /* target; 0 (NULL): a fixed difficulty */
    int64_t retarget_halflife_ms;
} db_run;

/* Upserted: the latest values win. */
typedef struct {
    char run_id[DB_RUNID_MAX];
    char name[DB_NAME_MAX];     /* "p1", "c3", "op" */
    char role[DB_WORD_MAX];     /* "prosumer", "consumer", "operator" */
    char pubkey[DB_HEX_MAX];
    char host[DB_NAME_MAX];
    int64_t port;
    int64_t balance, reserved;
    int64_t sold_wh, bought_wh;
    int64_t grid_import_wh, grid_export_wh;
    int64_t produced_wh, consumed_wh;
    int64_t height;
    int64_t updated_ms;
    int64_t hashrate_cap;       /* this node's --hashrate, hashes/s; 0 (NULL): none */
    /* Money for energy on the best chain as the launcher follows it
     * (ingest.h), apart from block rewards: paid for bought energy (peer
     * to peer and grid import), received for sold energy (peer to peer and
     * feed-in); the operator's account is the grid, which takes every
     * payment and makes every receipt. */
    int64_t energy_paid, energy_received;
    int64_t rewards;             /* coinbases of best-chain blocks */
    /* Experiments (common/core/adv_role.h): the roles it was started with
     * ("selfish,forger"; "" honest); what it refused from peers and whom
     * it banned (its stats rejected_blocks, rejected_txs, banned_peers);
     * a selfish miner's withheld, published and abandoned blocks. */
    char adversary[DB_ADV_MAX];
    int64_t rejected_blocks, rejected_txs;
    char banned_peers[DB_BANNED_MAX];
    int64_t adv_withheld, adv_published, adv_abandoned;
    /* The transaction-side adversary's own counts (common/daemon/adv_tx.h):
     * double-spend pairs sent and decided for the merchant (A) or its
     * colluder (B), wash orders, spam valid and malformed, forged
     * settlements sent. */
    int64_t adv_ds_pairs, adv_ds_won_a, adv_ds_won_b, adv_manip_orders;
    int64_t adv_spam_valid, adv_spam_malformed, adv_forged_settlements;
    int64_t blocks_mined;        /* its stats: its blocks its chain took */
} db_node;

/* Key (run_id, hash).  A re-put updates stale (a reorg can flip it) and
 * keeps the earliest first_seen_ms with its seen_by. */
typedef struct {
    char run_id[DB_RUNID_MAX];
    char hash[DB_HEX_MAX];
    int64_t height;
    char prev_hash[DB_HEX_MAX];
    char miner[DB_HEX_MAX];     /* coinbase recipient pubkey */
    int64_t time_s;             /* header time */
    int64_t n_txs;
    int64_t bits, nonce;
    int64_t first_seen_ms;
    char seen_by[DB_NAME_MAX];  /* node that reported it first */
    int64_t stale;              /* 1: not on the best chain */
} db_block;

/* Key (run_id, txid).  A re-put updates block_hash (reorg: "" = back in
 * the mempool) and keeps the earliest first_seen_ms. */
typedef struct {
    char run_id[DB_RUNID_MAX];
    char txid[DB_HEX_MAX];
    char block_hash[DB_HEX_MAX]; /* "" = not in a best-chain block */
    char kind[DB_WORD_MAX];      /* coinbase transfer offer bid settlement */
    char from_pk[DB_HEX_MAX];    /* "" for coinbase */
    char to_pk[DB_HEX_MAX];      /* "" when the kind has none */
    int64_t nonce;
    int64_t amount;              /* coinbase, transfer */
    int64_t interval;            /* offer, bid, settlement */
    int64_t energy_wh;           /* offer, bid */
    int64_t price;               /* offer/bid limit; settlement clearing */
    int64_t first_seen_ms;
    /* Set only through db_put_txlat: 0 here means "unknown" (SQL NULL) and
     * never overwrites a known value. */
    int64_t broadcast_ms;
    int64_t included_ms;
} db_tx;

/* The creating node's measurement of one of its transactions (txlat.h):
 * broadcast and first inclusion on its own clock.  Written into that
 * transaction's row of `transactions` (created if the block holding it
 * has not been stored yet; the block's row fills in the rest); 0 means
 * unknown.  first_seen_ms: when the launcher received the record (the
 * row keeps the earliest). */
typedef struct {
    char run_id[DB_RUNID_MAX];
    char txid[DB_HEX_MAX];
    int64_t first_seen_ms;
    int64_t broadcast_ms;
    int64_t included_ms;
} db_txlat;

/* One fill of a settlement.  Key (run_id, settle_txid, order_txid). */
typedef struct {
    char run_id[DB_RUNID_MAX];
    int64_t interval;
    char settle_txid[DB_HEX_MAX];
    char order_txid[DB_HEX_MAX];
    char node_pk[DB_HEX_MAX];
    char node_name[DB_NAME_MAX];
    char side[DB_WORD_MAX];      /* "buy" or "sell" */
    int64_t traded_wh;
    int64_t trade_price;
    int64_t grid_wh;
    int64_t amount;              /* money moved for this fill */
} db_trade;

/* One cleared market interval.  Key (run_id, interval). */
typedef struct {
    char run_id[DB_RUNID_MAX];
    int64_t interval;
    int64_t clearing_price;
    int64_t traded_wh;
    int64_t grid_import_wh, grid_export_wh;
    int64_t matched_orders;
    char settle_txid[DB_HEX_MAX];
    char block_hash[DB_HEX_MAX]; /* "" until included */
    int64_t traded_value;        /* money paid peer to peer in it (micro-units) */
    uint64_t wh_price_sum;       /* not stored: sum of traded Wh x price, for
                                    an exact volume-weighted average price */
    int64_t closed_ms;           /* real time the interval ended, Unix ms */
    int64_t settled_ms;          /* the launcher first saw the best-chain block
                                  * carrying the settlement; 0: not (SQL NULL) */
} db_interval;

/* Per node per sample (table node_stats).  Key (run_id, node, t_ms). */
typedef struct {
    char run_id[DB_RUNID_MAX];
    char node[DB_NAME_MAX];
    int64_t t_ms;
    int64_t height;
    int64_t peers;
    int64_t hashrate;            /* hashes per second */
    int64_t mempool;
    int64_t stale;               /* stale blocks seen so far */
    int64_t orphans;
    int64_t balance;
    int64_t loop_lag_ms;
    char tip[DB_HEX_MAX];        /* its best block's hash: whether nodes agree */
    int64_t rejected_blocks;     /* blocks refused from peers so far */
    int64_t rejected_txs;        /* transactions refused as the sender's fault */
} db_node_stat;

/* The run's aggregate time series, about once a second (table
 * simulation_stats, the figures the original simulator stored under these
 * names, in this project's units), from the best chain the launcher follows.
 * Key (run_id, t_ms). */
typedef struct {
    char run_id[DB_RUNID_MAX];
    int64_t t_ms;                    /* wall clock, ms since the epoch */
    int64_t total_energy_traded_wh;  /* peer to peer, settled on the best chain */
    int64_t avg_energy_price;        /* traded-volume-weighted, micro-units per kWh; 0: none yet */
    int64_t block_count;             /* best-chain blocks after genesis (= best height) */
    int64_t transaction_count;       /* transactions in them, coinbases included */
    int64_t stale_blocks;            /* blocks seen that are not on the best chain */
    int64_t trades;                  /* fills with energy traded peer to peer */
    int64_t intervals_settled;
    int64_t grid_import_wh, grid_export_wh;
} db_sim_stat;

/* One scenario event as the launcher applied it (table events; scenario.h).
 * Key (run_id, seq). */
#define DB_TARGET_MAX 256
#define DB_OUTCOME_MAX 256
typedef struct {
    char run_id[DB_RUNID_MAX];
    int64_t seq;                 /* order applied, from 1 */
    int64_t t_ms;                /* wall clock when applied, Unix ms */
    int64_t at_ms;               /* scheduled, from the run's clock start */
    int64_t line;                /* in the scenario file; 0: the launcher's own */
    char what[DB_WORD_MAX];      /* kill stop cont partition heal hashrate mining adversary */
    char target[DB_TARGET_MAX];  /* the nodes, or the groups "p1,p2 | op,c1,.." */
    char arg[DB_NAME_MAX];       /* the rate, on/off, the role; "" */
    char outcome[DB_OUTCOME_MAX];/* "ok", or what failed where */
} db_event;

/* Connects (or opens the file), creates the database and tables if
 * missing.  On failure returns SG_EDB (or SG_ENOMEM/SG_EINVAL) with one line
 * in err naming the problem and the fix, e.g. "MySQL at 127.0.0.1:3306
 * refused user 'root': Access denied ...; check --db-user and --db-password
 * / --db-password-file / MYSQL_PWD"; *out is then NULL.  err may be NULL. */
int db_open(db **out, const db_config *cfg, char *err, size_t errlen);
/* Connects as db_open does, checks that tables of our names in the database
 * are ours (SG_EFOREIGN otherwise: another program's tables are never
 * altered or written) and creates the missing ones, then disconnects.
 * Touches no spill file: the launcher asks before its run directory exists. */
int db_probe(const db_config *cfg, char *err, size_t errlen);

/* Stops the flush thread, flushes what it can (one attempt, ignoring the
 * retry delay), closes.  Returns 0 if nothing was left behind, else SG_EDB
 * with a line in err saying how many rows stay in which spill file.  The
 * rows never written are lost only from this process: the spill file keeps
 * them.  NULL is a no-op. */
int db_close(db *d, char *err, size_t errlen);

/* Queue a copy of the row: 0, SG_EINVAL (empty run_id or key), SG_ETOOBIG
 * (params over DB_PARAMS_MAX), SG_ENOMEM, or SG_EIO if the row had to
 * spill and the spill file failed. */
int db_put_run(db *d, const db_run *r);
int db_put_node(db *d, const db_node *r);
int db_put_block(db *d, const db_block *r);
int db_put_tx(db *d, const db_tx *r);
int db_put_txlat(db *d, const db_txlat *r);
int db_put_trade(db *d, const db_trade *r);
int db_put_interval(db *d, const db_interval *r);
int db_put_node_stat(db *d, const db_node_stat *r);
int db_put_sim_stat(db *d, const db_sim_stat *r);
int db_put_event(db *d, const db_event *r);

/* Writes queued rows (spill file first).  0 when the queue is empty,
 * SG_EDB (message in err, may be NULL) when the server failed or is
 * still inside its retry delay; the rows stay queued. */
int db_flush(db *d, char *err, size_t errlen);

size_t db_backlog(db *d);        /* rows waiting, memory + spill file */
int db_is_up(db *d);             /* 1 unless the last write attempt failed */
const char *db_backend(db *d);   /* "sqlite" or "mysql" */
uint64_t db_written(db *d);      /* rows written since open */

/* ---- reading a run back (the report) ------------------------------------
 *
 * A db_reader is a separate, read-only connection to either backend: the
 * SQLite file (never created or changed) or the MySQL/MariaDB database
 * (never created; no schema change).  Queries are plain SQL both backends
 * accept; every "?1" in the text stands for one string argument (bound by
 * SQLite, quoted and escaped for MySQL).  Each result row reaches fn as
 * text columns (NULL for SQL NULL); db_row_int turns one into an integer.
 * Single-threaded; one query at a time. */
typedef struct db_reader db_reader;
typedef struct {
    int n;                       /* columns */
    const char *const *vals;     /* n values; NULL = SQL NULL; valid during fn */
    const char *const *names;    /* n column names */
} db_row;
typedef void (*db_row_fn)(const db_row *row, void *ctx);

/* cfg: sqlite_path, or host/port/user/password/name as for db_open.
 * SG_EDB (one line in err naming the problem and the fix), SG_ENOMEM. */
int db_reader_open(db_reader **out, const db_config *cfg, char *err, size_t errlen);
/* 0, or SG_EDB with the server's message in err. */
int db_reader_query(db_reader *r, const char *sql, const char *arg, db_row_fn fn,
                    void *ctx, char *err, size_t errlen);
void db_reader_close(db_reader *r);    /* NULL is a no-op */

/* Column i as an integer (decimal text, as both backends give it; a
 * fraction is cut); 0 for NULL or out of range i. */
int64_t db_row_int(const db_row *row, int i);
/* Column i's text, or "" for NULL. */
const char *db_row_text(const db_row *row, int i);

#endif
