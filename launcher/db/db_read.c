/*
 * db_read.c - read-only queries over either backend (the report); see the
 * db_reader part of db.h.  Separate from the writer on purpose: it opens
 * its own connection, creates nothing and never touches the write queue.
 */
#include <mysql.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/db/db_int.h"
#include "common/base/err.h"

#define DBR_COLS_MAX 64          /* columns a report query returns at most */

struct db_reader {
    sqlite3 *lite;               /* one of the two */
    MYSQL *my;
};

static int lite_open(db_reader *r, const char *path, char *err, size_t errlen)
{
    int src = sqlite3_open_v2(path, &r->lite, SQLITE_OPEN_READONLY, NULL);
    if (src != SQLITE_OK) {
        db__errf(err, errlen, "cannot open %s: %s", path,
                 r->lite ? sqlite3_errmsg(r->lite) : sqlite3_errstr(src));
        return SG_EDB;
    }
    sqlite3_busy_timeout(r->lite, 5000);
    return 0;
}

static int my_open(db_reader *r, const db_config *cfg, char *err, size_t errlen)
{
    unsigned timeout = DB_CONNECT_TIMEOUT_S * 5;    /* report queries scan whole runs */
    unsigned port = cfg->port ? cfg->port : 3306;
    const char *user = cfg->user ? cfg->user : "root";
    const char *name = cfg->name && cfg->name[0] ? cfg->name : "smartgrid";

    if ((r->my = mysql_init(NULL)) == NULL) {
        db__errf(err, errlen, "MySQL: out of memory");
        return SG_ENOMEM;
    }
    mysql_options(r->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(r->my, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(r->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(r->my, cfg->host, user, cfg->password ? cfg->password : "", name,
                           port, NULL, 0) == NULL) {
        db__errf(err, errlen, "MySQL at %s:%u, user '%s', database '%s': %s; check that "
                 "the server runs and the password (launcher report reads it from MYSQL_PWD)",
                 cfg->host, port, user, name, mysql_error(r->my));
        return SG_EDB;
    }
    return 0;
}

int db_reader_open(db_reader **out, const db_config *cfg, char *err, size_t errlen)
{
    db_reader *r = calloc(1, sizeof *r);
    int rc;

    *out = NULL;
    if (r == NULL)
        return SG_ENOMEM;
    if (cfg->host && cfg->host[0])
        rc = my_open(r, cfg, err, errlen);
    else if (cfg->sqlite_path)
        rc = lite_open(r, cfg->sqlite_path, err, errlen);
    else
        rc = SG_EINVAL;
    if (rc != 0) {
        db_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void db_reader_close(db_reader *r)
{
    if (r == NULL)
        return;
    if (r->lite)
        sqlite3_close(r->lite);
    if (r->my)
        mysql_close(r->my);
    free(r);
}

static int lite_query(db_reader *r, const char *sql, const char *arg, db_row_fn fn,
                      void *ctx, char *err, size_t errlen)
{
    const char *vals[DBR_COLS_MAX], *names[DBR_COLS_MAX];
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(r->lite, sql, -1, &st, NULL);

    if (src != SQLITE_OK) {
        db__errf(err, errlen, "SQLite: %s", sqlite3_errmsg(r->lite));
        return SG_EDB;
    }
    if (arg && sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int n = sqlite3_column_count(st);
    db_row row = { n > DBR_COLS_MAX ? DBR_COLS_MAX : n, vals, names };
    for (int i = 0; i < row.n; i++)
        names[i] = sqlite3_column_name(st, i);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < row.n; i++)
            vals[i] = (const char *)sqlite3_column_text(st, i);
        fn(&row, ctx);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        db__errf(err, errlen, "SQLite: %s", sqlite3_errmsg(r->lite));
        return SG_EDB;
    }
    return 0;
}

/* The statement with every ?1 replaced by arg as a quoted literal. */
static int my_expand(db_reader *r, const char *sql, const char *arg, db__sb *b)
{
    size_t alen = arg ? strlen(arg) : 0;
    char *lit = malloc(2 * alen + 3);
    if (lit == NULL)
        return SG_ENOMEM;
    lit[0] = '\'';
    unsigned long n = arg ? mysql_real_escape_string(r->my, lit + 1, arg, (unsigned long)alen)
                          : 0;
    lit[n + 1] = '\'';
    lit[n + 2] = '\0';
    for (const char *p = sql; *p;) {
        const char *q = strstr(p, "?1");
        if (q == NULL) {
            db__sb_add(b, p);
            break;
        }
        db__sb_addn(b, p, (size_t)(q - p));
        db__sb_add(b, lit);
        p = q + 2;
    }
    free(lit);
    return b->oom ? SG_ENOMEM : 0;
}

static int my_query(db_reader *r, const char *sql, const char *arg, db_row_fn fn,
                    void *ctx, char *err, size_t errlen)
{
    const char *names[DBR_COLS_MAX];
    db__sb b = { 0 };
    MYSQL_RES *res = NULL;
    MYSQL_ROW mrow;
    int rc = my_expand(r, sql, arg, &b);

    if (rc != 0)
        goto out;
    if (mysql_real_query(r->my, b.p, (unsigned long)b.len) != 0 ||
        (res = mysql_store_result(r->my)) == NULL) {
        db__errf(err, errlen, "MySQL: %s", mysql_error(r->my));
        rc = SG_EDB;
        goto out;
    }
    unsigned nf = mysql_num_fields(res);
    MYSQL_FIELD *fields = mysql_fetch_fields(res);
    db_row row = { nf > DBR_COLS_MAX ? DBR_COLS_MAX : (int)nf, NULL, names };
    for (int i = 0; i < row.n; i++)
        names[i] = fields[i].name;
    while ((mrow = mysql_fetch_row(res)) != NULL) {
        row.vals = (const char *const *)mrow;
        fn(&row, ctx);
    }
out:
    if (res)
        mysql_free_result(res);
    db__sb_free(&b);
    return rc;
}

int db_reader_query(db_reader *r, const char *sql, const char *arg, db_row_fn fn,
                    void *ctx, char *err, size_t errlen)
{
    return r->my ? my_query(r, sql, arg, fn, ctx, err, errlen)
                 : lite_query(r, sql, arg, fn, ctx, err, errlen);
}

int64_t db_row_int(const db_row *row, int i)
{
    if (i < 0 || i >= row->n || row->vals[i] == NULL)
        return 0;
    return strtoll(row->vals[i], NULL, 10);
}

const char *db_row_text(const db_row *row, int i)
{
    if (i < 0 || i >= row->n || row->vals[i] == NULL)
        return "";
    return row->vals[i];
}
