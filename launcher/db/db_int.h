/*
 * db_int.h - internals shared by db.c (queue, spill file, schema) and the
 * two backends db_sqlite.c and db_mysql.c.  Not for other modules.
 *
 * The schema is one table of column descriptors (db__tables): each backend
 * derives its CREATE TABLE, its upsert and its parameter binding from it,
 * and the spill file its line format, so the two backends cannot drift.
 */
#ifndef SG_DB_INT_H
#define SG_DB_INT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "launcher/db/db.h"

enum db__type {
    DBC_INT,   /* int64_t */
    DBC_STR,   /* char[size], NUL-terminated */
    DBC_TEXT,  /* const char *, owned by the queued row; may be NULL */
};

/* What an upsert does to an existing row's column. */
enum db__upd {
    DBU_KEY,      /* part of the primary key */
    DBU_SET,      /* the new value wins */
    DBU_KEEP,     /* the first value stays */
    DBU_MIN,      /* the smaller value stays (first_seen_ms) */
    DBU_WITHMIN,  /* follows the DBU_MIN column of its table (seen_by) */
    DBU_KNOWN,    /* DBC_INT, nullable: 0 is stored as NULL, and a NULL never
                   * replaces a known value; added to older tables on open */
    DBU_NULLSET,  /* DBC_INT, nullable: 0 is stored as NULL, the new value
                   * wins (NULL too); added to older tables on open */
};

typedef struct {
    const char *name;
    uint8_t type;    /* enum db__type */
    uint8_t upd;     /* enum db__upd */
    uint16_t size;   /* DBC_STR: buffer size including the NUL */
    size_t off;      /* offset in the row struct */
    uint8_t late;    /* appended after tables existed: added to older tables
                      * on open, optional at the end of a spill line */
} db__col;

/* 0 in such a column is written as SQL NULL. */
static inline int db__nullable(const db__col *c)
{
    return c->type == DBC_INT && (c->upd == DBU_KNOWN || c->upd == DBU_NULLSET);
}

typedef struct {
    const char *name;
    const db__col *cols;
    int ncols;
    const char *const *indexes;  /* "name:col,col" each; NULL-terminated */
    int alias;                   /* writes some columns of an earlier table of
                                  * the same name: not created on its own */
} db__table;

enum {
    DB_T_RUN, DB_T_NODE, DB_T_BLOCK, DB_T_TX, DB_T_TRADE, DB_T_INTERVAL,
    DB_T_NODE_STAT, DB_T_TXLAT, DB_T_SIM_STAT, DB_T_EVENT, DB_T_COUNT
};

extern const db__table db__tables[DB_T_COUNT];

typedef struct db__row {
    struct db__row *next;
    int table;
    union {
        db_run run;         /* run.params is a malloc'd copy */
        db_node node;
        db_block block;
        db_tx tx;
        db_trade trade;
        db_interval interval;
        db_node_stat node_stat;
        db_sim_stat sim_stat;
        db_txlat txlat;
        db_event event;
    } u;
} db__row;

typedef struct db__sqlite db__sqlite;
typedef struct db__mysql db__mysql;

struct db {
    int is_mysql;
    db__sqlite *lite;
    db__mysql *my;

    pthread_mutex_t qlock;      /* head..tail, counts, spill file */
    db__row *head, *tail;
    size_t mem_rows;
    size_t mem_max;             /* spill above this many rows in memory */
    size_t in_flight;           /* rows taken by a flush not yet written */
    char *spill_path;
    FILE *spill;                /* append handle; NULL until first spill */
    uint64_t spill_rows;        /* rows in the file after spill_off */
    uint64_t spill_off;         /* read position of the next unread row */
    uint64_t spill_bad;         /* unreadable lines skipped */

    int up;                     /* written under flock and qlock */

    pthread_mutex_t flock;      /* one flush at a time; guards the rest */
    int64_t last_fail_ms;
    uint64_t written;           /* under qlock */
    char last_err[DB_ERR_MAX];

    pthread_t thread;
    int have_thread;
    int stop;
    unsigned flush_ms;
    pthread_cond_t wake;        /* with qlock */
};

/* Growable string for SQL text. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} db__sb;

void db__sb_add(db__sb *b, const char *s);
void db__sb_addn(db__sb *b, const char *s, size_t n);
void db__sb_addf(db__sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void db__sb_free(db__sb *b);

const void *db__row_data(const db__row *r);
int64_t db__col_int(const db__row *r, const db__col *c);
const char *db__col_str(const db__row *r, const db__col *c); /* may be NULL */
void db__errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Backends.  open: connect and create the schema.  write: the rows, in one
 * transaction, all or nothing.  close: drop the connection (may be called
 * on a dead one; open may be called again after). */
int db__lite_open(db *d, const char *path, char *err, size_t errlen);
int db__lite_write(db *d, db__row *rows, char *err, size_t errlen);
void db__lite_close(db *d);

int db__my_open(db *d, const db_config *cfg, char *err, size_t errlen);
int db__my_reconnect(db *d, char *err, size_t errlen);
int db__my_connected(db *d);
int db__my_write(db *d, db__row *rows, char *err, size_t errlen);
void db__my_disconnect(db *d);   /* keeps the settings for a reconnect */
void db__my_close(db *d);        /* frees everything */

#endif
