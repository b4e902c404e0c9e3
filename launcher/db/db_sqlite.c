/*
 * db_sqlite.c - the SQLite backend: one file, WAL mode, one prepared upsert
 * per table, every flush batch in one BEGIN IMMEDIATE ... COMMIT.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/db/db_int.h"
#include "common/base/err.h"

struct db__sqlite {
    sqlite3 *h;
    sqlite3_stmt *ins[DB_T_COUNT];
};

static void create_sql(const db__table *t, db__sb *b)
{
    db__sb_addf(b, "CREATE TABLE IF NOT EXISTS \"%s\" (", t->name);
    for (int i = 0; i < t->ncols; i++) {
        const db__col *c = &t->cols[i];
        db__sb_addf(b, "\"%s\" %s, ", c->name,
                    db__nullable(c)      ? "INTEGER"
                    : c->type == DBC_INT ? "INTEGER NOT NULL DEFAULT 0"
                    : c->type == DBC_STR ? "TEXT NOT NULL DEFAULT ''"
                                         : "TEXT");
    }
    db__sb_add(b, "PRIMARY KEY (");
    for (int i = 0, k = 0; i < t->ncols; i++) {
        if (t->cols[i].upd == DBU_KEY)
            db__sb_addf(b, "%s\"%s\"", k++ ? ", " : "", t->cols[i].name);
    }
    db__sb_add(b, "));\n");
    for (const char *const *ix = t->indexes; *ix != NULL; ix++) {
        const char *colon = strchr(*ix, ':');
        db__sb_add(b, "CREATE INDEX IF NOT EXISTS \"");
        db__sb_addn(b, *ix, (size_t)(colon - *ix));
        db__sb_addf(b, "\" ON \"%s\" (%s);\n", t->name, colon + 1);
    }
}

static void upsert_sql(const db__table *t, db__sb *b)
{
    const char *min_col = NULL;
    int sets = 0;

    db__sb_addf(b, "INSERT INTO \"%s\" (", t->name);
    for (int i = 0; i < t->ncols; i++)
        db__sb_addf(b, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
    db__sb_add(b, ") VALUES (");
    for (int i = 0; i < t->ncols; i++)
        db__sb_add(b, i ? ", ?" : "?");
    db__sb_add(b, ") ON CONFLICT (");
    for (int i = 0, k = 0; i < t->ncols; i++) {
        if (t->cols[i].upd == DBU_KEY)
            db__sb_addf(b, "%s\"%s\"", k++ ? ", " : "", t->cols[i].name);
        if (t->cols[i].upd == DBU_MIN)
            min_col = t->cols[i].name;
    }
    db__sb_add(b, ") DO ");
    for (int i = 0; i < t->ncols; i++) {
        const char *n = t->cols[i].name;
        const char *pre = sets ? ", " : "UPDATE SET ";
        switch (t->cols[i].upd) {
        case DBU_SET:
        case DBU_NULLSET:
            db__sb_addf(b, "%s\"%s\" = excluded.\"%s\"", pre, n, n);
            sets++;
            break;
        case DBU_MIN:
            db__sb_addf(b, "%s\"%s\" = MIN(\"%s\", excluded.\"%s\")", pre, n, n, n);
            sets++;
            break;
        case DBU_KNOWN:
            db__sb_addf(b, "%s\"%s\" = COALESCE(excluded.\"%s\", \"%s\")", pre, n, n, n);
            sets++;
            break;
        case DBU_WITHMIN:
            db__sb_addf(b, "%s\"%s\" = CASE WHEN excluded.\"%s\" < \"%s\" "
                        "THEN excluded.\"%s\" ELSE \"%s\" END",
                        pre, n, min_col, min_col, n, n);
            sets++;
            break;
        default:
            break;
        }
    }
    if (sets == 0)
        db__sb_add(b, "NOTHING");
}

static int lite_fail(db *d, int rc, const char *what, char *err, size_t errlen)
{
    db__errf(err, errlen, "SQLite: %s: %s", what,
             d->lite->h ? sqlite3_errmsg(d->lite->h) : sqlite3_errstr(rc));
    return SG_EDB;
}

/* A file made before a late column existed gets it added; "duplicate
 * column" just means it is there already. */
static int lite_add_columns(db *d, db__sb *b, char *err, size_t errlen)
{
    for (int t = 0; t < DB_T_COUNT; t++) {
        const db__table *tb = &db__tables[t];
        for (int i = 0; i < tb->ncols && !tb->alias; i++) {
            if (!tb->cols[i].late)
                continue;
            b->len = 0;
            db__sb_addf(b, "ALTER TABLE \"%s\" ADD COLUMN \"%s\" %s", tb->name,
                        tb->cols[i].name, tb->cols[i].type == DBC_STR
                                              ? "TEXT NOT NULL DEFAULT ''"
                                          : db__nullable(&tb->cols[i]) ? "INTEGER"
                                          : "INTEGER NOT NULL DEFAULT 0");
            if (b->oom)
                return SG_ENOMEM;
            int src = sqlite3_exec(d->lite->h, b->p, NULL, NULL, NULL);
            if (src != SQLITE_OK &&
                !strstr(sqlite3_errmsg(d->lite->h), "duplicate column"))
                return lite_fail(d, src, "adding a column", err, errlen);
        }
    }
    return 0;
}

static int lite_schema(db *d, char *err, size_t errlen)
{
    db__sb b = { 0 };
    int rc = SG_OK;

    db__sb_add(&b, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;\n");
    for (int t = 0; t < DB_T_COUNT; t++)
        if (!db__tables[t].alias)
            create_sql(&db__tables[t], &b);
    if (b.oom) {
        rc = SG_ENOMEM;
        goto out;
    }
    int src = sqlite3_exec(d->lite->h, b.p, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = lite_fail(d, src, "creating tables", err, errlen);
        goto out;
    }
    if ((rc = lite_add_columns(d, &b, err, errlen)) != 0)
        goto out;
    for (int t = 0; t < DB_T_COUNT; t++) {
        b.len = 0;
        upsert_sql(&db__tables[t], &b);
        if (b.oom) {
            rc = SG_ENOMEM;
            goto out;
        }
        src = sqlite3_prepare_v2(d->lite->h, b.p, -1, &d->lite->ins[t], NULL);
        if (src != SQLITE_OK) {
            rc = lite_fail(d, src, "preparing insert", err, errlen);
            goto out;
        }
    }
out:
    db__sb_free(&b);
    return rc;
}

int db__lite_open(db *d, const char *path, char *err, size_t errlen)
{
    d->lite = calloc(1, sizeof *d->lite);
    if (d->lite == NULL)
        return SG_ENOMEM;
    int src = sqlite3_open_v2(path, &d->lite->h,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                              SQLITE_OPEN_FULLMUTEX, NULL);
    if (src != SQLITE_OK) {
        db__errf(err, errlen, "SQLite: cannot open %s: %s", path,
                 d->lite->h ? sqlite3_errmsg(d->lite->h) : sqlite3_errstr(src));
        return SG_EDB;
    }
    /* Readers (sqlite3 shell during a run) may hold the file briefly. */
    sqlite3_busy_timeout(d->lite->h, 5000);
    return lite_schema(d, err, errlen);
}

static int bind_row(sqlite3_stmt *st, const db__row *r)
{
    const db__table *t = &db__tables[r->table];
    int rc = SQLITE_OK;
    for (int i = 0; i < t->ncols && rc == SQLITE_OK; i++) {
        const db__col *c = &t->cols[i];
        if (db__nullable(c) && db__col_int(r, c) == 0) {
            rc = sqlite3_bind_null(st, i + 1);
        } else if (c->type == DBC_INT) {
            rc = sqlite3_bind_int64(st, i + 1, db__col_int(r, c));
        } else {
            const char *s = db__col_str(r, c);
            rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_STATIC)
                   : sqlite3_bind_null(st, i + 1);
        }
    }
    return rc;
}

int db__lite_write(db *d, db__row *rows, char *err, size_t errlen)
{
    sqlite3 *h = d->lite->h;
    int src = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (src != SQLITE_OK)
        return lite_fail(d, src, "begin", err, errlen);
    for (const db__row *r = rows; r != NULL; r = r->next) {
        sqlite3_stmt *st = d->lite->ins[r->table];
        src = bind_row(st, r);
        if (src == SQLITE_OK)
            src = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (src != SQLITE_OK) {
            int rc = lite_fail(d, src, db__tables[r->table].name, err, errlen);
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    src = sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        int rc = lite_fail(d, src, "commit", err, errlen);
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return 0;
}

void db__lite_close(db *d)
{
    if (d->lite == NULL)
        return;
    for (int t = 0; t < DB_T_COUNT; t++)
        sqlite3_finalize(d->lite->ins[t]);
    sqlite3_close(d->lite->h);
    free(d->lite);
    d->lite = NULL;
}
