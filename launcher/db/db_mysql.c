/*
 * db_mysql.c - the MySQL/MariaDB backend (MariaDB Connector/C or
 * libmysqlclient).  Each flush batch is one transaction of multi-row
 * INSERT ... ON DUPLICATE KEY UPDATE statements, DB_BATCH_ROWS rows each,
 * grouped per table in put order.  A failed statement drops the connection;
 * the next flush reconnects.  Connect, read and write time out after
 * DB_CONNECT_TIMEOUT_S so a dead server costs a flush seconds, not minutes.
 */
#include <mysql.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "launcher/db/db_int.h"
#include "common/base/err.h"

/* Server error numbers (mysqld_error.h / errmsg.h), named for the hints. */
#define MY_ER_DBACCESS_DENIED 1044
#define MY_ER_ACCESS_DENIED 1045
#define MY_ER_DUP_FIELDNAME 1060
#define MY_CR_CONNECTION_ERROR 2002
#define MY_CR_CONN_HOST_ERROR 2003
#define MY_CR_UNKNOWN_HOST 2005

struct db__mysql {
    MYSQL *h;
    char *host, *user, *password, *name;
    unsigned port;
};

static pthread_once_t my_once = PTHREAD_ONCE_INIT;

/* The client library's own global init is not thread-safe: do it once. */
static void my_library_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

static void my_err(db *d, MYSQL *h, const char *what, char *err, size_t errlen)
{
    db__mysql *m = d->my;
    unsigned no = mysql_errno(h);
    const char *msg = mysql_error(h);

    if (no == MY_ER_ACCESS_DENIED)
        db__errf(err, errlen, "MySQL at %s:%u refused user '%s': %s; check "
                 "--db-user and --db-password / --db-password-file / MYSQL_PWD",
                 m->host, m->port, m->user, msg);
    else if (no == MY_ER_DBACCESS_DENIED)
        db__errf(err, errlen, "MySQL at %s:%u: user '%s' may not use database "
                 "'%s': %s; grant it the rights or choose another --db-name",
                 m->host, m->port, m->user, m->name, msg);
    else if (no == MY_CR_CONNECTION_ERROR || no == MY_CR_CONN_HOST_ERROR ||
             no == MY_CR_UNKNOWN_HOST)
        db__errf(err, errlen, "MySQL at %s:%u is not reachable: %s; check "
                 "--db-host and --db-port and that the server is running",
                 m->host, m->port, msg);
    else
        db__errf(err, errlen, "MySQL at %s:%u: %s: %s (error %u)", m->host,
                 m->port, what, msg, no);
}

static int my_exec(db *d, const char *sql, size_t len, const char *what,
                   char *err, size_t errlen)
{
    if (mysql_real_query(d->my->h, sql, (unsigned long)len) != 0) {
        my_err(d, d->my->h, what, err, errlen);
        return SG_EDB;
    }
    return 0;
}

static void create_sql(const db__table *t, db__sb *b)
{
    db__sb_addf(b, "CREATE TABLE IF NOT EXISTS `%s` (", t->name);
    for (int i = 0; i < t->ncols; i++) {
        const db__col *c = &t->cols[i];
        if (db__nullable(c))
            db__sb_addf(b, "`%s` BIGINT NULL DEFAULT NULL, ", c->name);
        else if (c->type == DBC_INT)
            db__sb_addf(b, "`%s` BIGINT NOT NULL DEFAULT 0, ", c->name);
        else if (c->type == DBC_STR)
            db__sb_addf(b, "`%s` VARCHAR(%u) NOT NULL DEFAULT '', ", c->name,
                        (unsigned)c->size - 1);
        else
            db__sb_addf(b, "`%s` MEDIUMTEXT NULL, ", c->name);
    }
    db__sb_add(b, "PRIMARY KEY (");
    for (int i = 0, k = 0; i < t->ncols; i++) {
        if (t->cols[i].upd == DBU_KEY)
            db__sb_addf(b, "%s`%s`", k++ ? ", " : "", t->cols[i].name);
    }
    db__sb_add(b, ")");
    for (const char *const *ix = t->indexes; *ix != NULL; ix++) {
        const char *colon = strchr(*ix, ':');
        db__sb_add(b, ", KEY `");
        db__sb_addn(b, *ix, (size_t)(colon - *ix));
        db__sb_addf(b, "` (%s)", colon + 1);
    }
    db__sb_add(b, ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
}

/* A database made before a late column existed gets it added (MySQL
 * has no ADD COLUMN IF NOT EXISTS; "duplicate column" means it is there). */
static int my_add_columns(db *d, db__sb *b, char *err, size_t errlen)
{
    for (int t = 0; t < DB_T_COUNT; t++) {
        const db__table *tb = &db__tables[t];
        for (int i = 0; i < tb->ncols && !tb->alias; i++) {
            if (!tb->cols[i].late)
                continue;
            b->len = 0;
            if (tb->cols[i].type == DBC_STR)
                db__sb_addf(b, "ALTER TABLE `%s` ADD COLUMN `%s` VARCHAR(%u) NOT NULL "
                            "DEFAULT ''", tb->name, tb->cols[i].name,
                            (unsigned)tb->cols[i].size - 1);
            else
                db__sb_addf(b, "ALTER TABLE `%s` ADD COLUMN `%s` BIGINT %s", tb->name,
                            tb->cols[i].name, db__nullable(&tb->cols[i])
                                                  ? "NULL DEFAULT NULL" : "NOT NULL DEFAULT 0");
            if (b->oom)
                return SG_ENOMEM;
            if (mysql_real_query(d->my->h, b->p, (unsigned long)b->len) != 0 &&
                mysql_errno(d->my->h) != MY_ER_DUP_FIELDNAME) {
                my_err(d, d->my->h, "adding a column", err, errlen);
                return SG_EDB;
            }
        }
    }
    return 0;
}

/* Whether the column list of one existing table (a result of
 * information_schema.COLUMNS) holds every column this launcher created it
 * with; late columns may be missing: the migration adds them.  Returns the
 * name of the first missing column, NULL when none is. */
static const char *my_missing_column(const db__table *tb, MYSQL_RES *res)
{
    for (int i = 0; i < tb->ncols; i++) {
        if (tb->cols[i].late)
            continue;
        int found = 0;
        mysql_data_seek(res, 0);
        for (MYSQL_ROW row; !found && (row = mysql_fetch_row(res)) != NULL;)
            found = row[0] != NULL && strcasecmp(row[0], tb->cols[i].name) == 0;
        if (!found)
            return tb->cols[i].name;
    }
    return NULL;
}

/* Whether table t of the database has a column of that name. */
static int my_has_column(db *d, db__sb *b, const char *t, const char *col, int *yes,
                         char *err, size_t errlen)
{
    b->len = 0;
    db__sb_addf(b, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' "
                "AND TABLE_NAME = '%s' AND COLUMN_NAME = '%s'", d->my->name, t, col);
    if (b->oom)
        return SG_ENOMEM;
    if (my_exec(d, b->p, b->len, "reading the existing tables", err, errlen) != 0)
        return SG_EDB;
    MYSQL_RES *res = mysql_store_result(d->my->h);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    *yes = row != NULL && row[0] != NULL && strcmp(row[0], "0") != 0;
    if (res)
        mysql_free_result(res);
    return res ? 0 : SG_EDB;
}

/* Versions before node_stats kept the per-node samples in
 * simulation_stats (it has a `node` column); they move to node_stats, so
 * simulation_stats can hold the run's aggregates as the original did. */
static int my_move_node_samples(db *d, db__sb *b, char *err, size_t errlen)
{
    int old_layout = 0, have_node_stats = 0;
    int rc = my_has_column(d, b, "simulation_stats", "node", &old_layout, err, errlen);
    if (rc == 0 && old_layout)
        rc = my_has_column(d, b, "node_stats", "node", &have_node_stats, err, errlen);
    if (rc != 0 || !old_layout || have_node_stats)
        return rc;
    b->len = 0;
    db__sb_add(b, "RENAME TABLE simulation_stats TO node_stats");
    return b->oom ? SG_ENOMEM : my_exec(d, b->p, b->len, "moving per-node samples to node_stats",
                                       err, errlen);
}

/* A database with tables of our names that another program made (the
 * original simulator uses the same --db-name and table names) must never be
 * altered or written: every insert would fail, look like an outage and
 * spool the whole run.  Checked before anything is created. */
static int my_check_foreign(db *d, db__sb *b, char *err, size_t errlen)
{
    for (int t = 0; t < DB_T_COUNT; t++) {
        const db__table *tb = &db__tables[t];
        if (tb->alias)
            continue;
        b->len = 0;
        db__sb_addf(b, "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s'", d->my->name, tb->name);
        if (b->oom)
            return SG_ENOMEM;
        if (my_exec(d, b->p, b->len, "reading the existing tables", err, errlen) != 0)
            return SG_EDB;
        MYSQL_RES *res = mysql_store_result(d->my->h);
        if (res == NULL) {
            my_err(d, d->my->h, "reading the existing tables", err, errlen);
            return SG_EDB;
        }
        const char *missing = mysql_num_rows(res) > 0 ? my_missing_column(tb, res) : NULL;
        mysql_free_result(res);
        if (missing != NULL) {
            db__errf(err, errlen, "MySQL: table `%s` in database `%s` was not made by this "
                     "launcher (it has no column `%s`) and is left untouched; give another "
                     "--db-name, e.g. --db-name %s_sim", tb->name, d->my->name, missing,
                     d->my->name);
            return SG_EFOREIGN;
        }
    }
    return 0;
}

static int my_schema(db *d, char *err, size_t errlen)
{
    db__sb b = { 0 };
    int rc = 0;

    db__sb_addf(&b, "CREATE DATABASE IF NOT EXISTS `%s`", d->my->name);
    if (!b.oom)
        rc = my_exec(d, b.p, b.len, "creating the database", err, errlen);
    if (rc == 0 && mysql_select_db(d->my->h, d->my->name) != 0) {
        my_err(d, d->my->h, "selecting the database", err, errlen);
        rc = SG_EDB;
    }
    if (rc == 0)
        rc = my_move_node_samples(d, &b, err, errlen);
    if (rc == 0)
        rc = my_check_foreign(d, &b, err, errlen);
    for (int t = 0; t < DB_T_COUNT && rc == 0 && !b.oom; t++) {
        if (db__tables[t].alias)
            continue;
        b.len = 0;
        create_sql(&db__tables[t], &b);
        if (!b.oom)
            rc = my_exec(d, b.p, b.len, "creating tables", err, errlen);
    }
    if (rc == 0 && !b.oom)
        rc = my_add_columns(d, &b, err, errlen);
    if (rc == 0 && b.oom)
        rc = SG_ENOMEM;
    db__sb_free(&b);
    return rc;
}

int db__my_reconnect(db *d, char *err, size_t errlen)
{
    db__mysql *m = d->my;
    unsigned timeout = DB_CONNECT_TIMEOUT_S;

    pthread_once(&my_once, my_library_init);
    db__my_disconnect(d);
    if ((m->h = mysql_init(NULL)) == NULL) {
        db__errf(err, errlen, "MySQL: out of memory");
        return SG_ENOMEM;
    }
    mysql_options(m->h, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m->h, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m->h, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    /* MYSQL_OPT_RECONNECT stays off (the default): a silent reconnect
     * mid-transaction would lose the open batch; we reconnect ourselves. */
    mysql_options(m->h, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(m->h, m->host, m->user, m->password, NULL, m->port,
                           NULL, 0) == NULL) {
        my_err(d, m->h, "connecting", err, errlen);
        db__my_disconnect(d);
        return SG_EDB;
    }
    int rc = my_schema(d, err, errlen);
    if (rc != 0)
        db__my_disconnect(d);
    return rc;
}

int db__my_open(db *d, const db_config *cfg, char *err, size_t errlen)
{
    db__mysql *m = calloc(1, sizeof *m);
    if (m == NULL)
        return SG_ENOMEM;
    d->my = m;
    m->port = cfg->port ? cfg->port : 3306;
    m->host = strdup(cfg->host);
    m->user = strdup(cfg->user ? cfg->user : "root");
    m->password = strdup(cfg->password ? cfg->password : "");
    m->name = strdup(cfg->name && cfg->name[0] ? cfg->name : "smartgrid");
    if (!m->host || !m->user || !m->password || !m->name) {
        db__errf(err, errlen, "MySQL: out of memory");
        return SG_ENOMEM;
    }
    if (strpbrk(m->name, "`'\\") != NULL) {
        db__errf(err, errlen, "MySQL: database name '%s' may not contain ` ' or \\; "
                 "choose another --db-name", m->name);
        return SG_EINVAL;
    }
    return db__my_reconnect(d, err, errlen);
}

int db__my_connected(db *d)
{
    return d->my != NULL && d->my->h != NULL;
}

static int add_value(db *d, db__sb *b, const db__row *r, const db__col *c)
{
    if (db__nullable(c) && db__col_int(r, c) == 0) {
        db__sb_add(b, "NULL");
        return b->oom ? SG_ENOMEM : 0;
    }
    if (c->type == DBC_INT) {
        db__sb_addf(b, "%lld", (long long)db__col_int(r, c));
        return b->oom ? SG_ENOMEM : 0;
    }
    const char *s = db__col_str(r, c);
    if (s == NULL) {
        db__sb_add(b, "NULL");
        return b->oom ? SG_ENOMEM : 0;
    }
    size_t n = strlen(s);
    char *esc = malloc(2 * n + 1);
    if (esc == NULL)
        return SG_ENOMEM;
    unsigned long len = mysql_real_escape_string(d->my->h, esc, s,
                                                 (unsigned long)n);
    db__sb_add(b, "'");
    db__sb_addn(b, esc, len);
    db__sb_add(b, "'");
    free(esc);
    return b->oom ? SG_ENOMEM : 0;
}

static void update_sql(const db__table *t, db__sb *b)
{
    const char *min_col = NULL, *key = NULL;
    int sets = 0;

    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].upd == DBU_MIN)
            min_col = t->cols[i].name;
        if (t->cols[i].upd == DBU_KEY && key == NULL)
            key = t->cols[i].name;
    }
    db__sb_add(b, " ON DUPLICATE KEY UPDATE ");
    /* Column order puts WITHMIN before MIN: assignments run left to right
     * and must compare against the old first_seen_ms. */
    for (int i = 0; i < t->ncols; i++) {
        const char *n = t->cols[i].name, *sep = sets ? ", " : "";
        switch (t->cols[i].upd) {
        case DBU_SET:
        case DBU_NULLSET:
            db__sb_addf(b, "%s`%s` = VALUES(`%s`)", sep, n, n);
            sets++;
            break;
        case DBU_MIN:
            db__sb_addf(b, "%s`%s` = LEAST(`%s`, VALUES(`%s`))", sep, n, n, n);
            sets++;
            break;
        case DBU_KNOWN:
            db__sb_addf(b, "%s`%s` = COALESCE(VALUES(`%s`), `%s`)", sep, n, n, n);
            sets++;
            break;
        case DBU_WITHMIN:
            db__sb_addf(b, "%s`%s` = IF(VALUES(`%s`) < `%s`, VALUES(`%s`), `%s`)",
                        sep, n, min_col, min_col, n, n);
            sets++;
            break;
        default:
            break;
        }
    }
    if (sets == 0)
        db__sb_addf(b, "`%s` = `%s`", key, key);
}

/* One multi-row INSERT for up to DB_BATCH_ROWS rows of table t, starting
 * at *from; advances *from past the rows it took. */
static int insert_batch(db *d, int t, const db__row **from, db__sb *b)
{
    const db__table *tb = &db__tables[t];
    int rows = 0, rc = 0;

    b->len = 0;
    db__sb_addf(b, "INSERT INTO `%s` (", tb->name);
    for (int i = 0; i < tb->ncols; i++)
        db__sb_addf(b, "%s`%s`", i ? ", " : "", tb->cols[i].name);
    db__sb_add(b, ") VALUES ");
    const db__row *r = *from;
    for (; r != NULL && rows < DB_BATCH_ROWS && rc == 0; r = r->next) {
        if (r->table != t)
            continue;
        db__sb_add(b, rows++ ? ",(" : "(");
        for (int i = 0; i < tb->ncols && rc == 0; i++) {
            if (i)
                db__sb_add(b, ",");
            rc = add_value(d, b, r, &tb->cols[i]);
        }
        db__sb_add(b, ")");
    }
    *from = r;
    if (rc == 0 && rows == 0)
        return 1;  /* nothing of this table left */
    update_sql(tb, b);
    return rc != 0 ? rc : b->oom ? SG_ENOMEM : 0;
}

int db__my_write(db *d, db__row *rows, char *err, size_t errlen)
{
    db__sb b = { 0 };
    int rc = my_exec(d, "START TRANSACTION", 17, "starting a transaction",
                     err, errlen);
    for (int t = 0; t < DB_T_COUNT && rc == 0; t++) {
        const db__row *from = rows;
        while (rc == 0 && from != NULL) {
            int brc = insert_batch(d, t, &from, &b);
            if (brc == 1)
                break;
            if (brc != 0) {
                db__errf(err, errlen, "MySQL: out of memory building a batch");
                rc = brc;
                break;
            }
            rc = my_exec(d, b.p, b.len, db__tables[t].name, err, errlen);
        }
    }
    if (rc == 0)
        rc = my_exec(d, "COMMIT", 6, "committing", err, errlen);
    if (rc != 0 && d->my->h != NULL)
        mysql_real_query(d->my->h, "ROLLBACK", 8);
    db__sb_free(&b);
    return rc;
}

void db__my_disconnect(db *d)
{
    if (d->my != NULL && d->my->h != NULL) {
        mysql_close(d->my->h);
        d->my->h = NULL;
    }
}

void db__my_close(db *d)
{
    if (d->my == NULL)
        return;
    db__my_disconnect(d);
    free(d->my->host);
    free(d->my->user);
    free(d->my->password);
    free(d->my->name);
    free(d->my);
    d->my = NULL;
}
