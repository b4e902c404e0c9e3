/*
 * db.c - the queue in front of the database: rows in memory, then in the
 * spill file, written in order by db_flush through one of the backends.
 *
 * Spill line: the table index, then each column (db__tables order), all
 * separated by tabs, ended by '\n'.  Integers in decimal; strings with
 * '\\', tab and newline escaped as \\, \t, \n; a NULL text as \N.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "launcher/db/db_int.h"
#include "common/base/clock.h"
#include "common/base/err.h"

#define DB_TAKE_ROWS 2000       /* rows per transaction */

/* ---- small helpers ---------------------------------------------------- */

void db__errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void sb_grow(db__sb *b, size_t extra)
{
    if (b->oom || b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

void db__sb_addn(db__sb *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void db__sb_add(db__sb *b, const char *s)
{
    db__sb_addn(b, s, strlen(s));
}

void db__sb_addf(db__sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        db__sb_addn(b, tmp, (size_t)n);
        return;
    }
    sb_grow(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void db__sb_free(db__sb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

const void *db__row_data(const db__row *r)
{
    return &r->u;
}

int64_t db__col_int(const db__row *r, const db__col *c)
{
    int64_t v;
    memcpy(&v, (const char *)db__row_data(r) + c->off, sizeof v);
    return v;
}

const char *db__col_str(const db__row *r, const db__col *c)
{
    const char *base = (const char *)db__row_data(r) + c->off;
    if (c->type == DBC_STR)
        return base;
    const char *p;
    memcpy(&p, base, sizeof p);
    return p;
}

static void row_free(db__row *r)
{
    if (r == NULL)
        return;
    if (r->table == DB_T_RUN)
        free((char *)r->u.run.params);
    free(r);
}

static void rows_free(db__row *r)
{
    while (r != NULL) {
        db__row *next = r->next;
        row_free(r);
        r = next;
    }
}

/* ---- spill file ------------------------------------------------------- */

static void put_escaped(db__sb *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            db__sb_add(b, "\\\\");
        else if (*s == '\t')
            db__sb_add(b, "\\t");
        else if (*s == '\n')
            db__sb_add(b, "\\n");
        else
            db__sb_addn(b, s, 1);
    }
}

static int spill_encode(const db__row *r, db__sb *b)
{
    const db__table *t = &db__tables[r->table];
    db__sb_addf(b, "%d", r->table);
    for (int i = 0; i < t->ncols; i++) {
        const db__col *c = &t->cols[i];
        db__sb_add(b, "\t");
        if (c->type == DBC_INT) {
            db__sb_addf(b, "%lld", (long long)db__col_int(r, c));
        } else {
            const char *s = db__col_str(r, c);
            if (s == NULL)
                db__sb_add(b, "\\N");
            else
                put_escaped(b, s);
        }
    }
    db__sb_add(b, "\n");
    return b->oom ? SG_ENOMEM : 0;
}

/* Unescapes field [s, e) in place into a fresh string; NULL on \N. */
static int field_text(const char *s, const char *e, char **out)
{
    *out = NULL;
    if (e - s == 2 && s[0] == '\\' && s[1] == 'N')
        return 0;
    char *p = malloc((size_t)(e - s) + 1);
    if (p == NULL)
        return SG_ENOMEM;
    size_t n = 0;
    for (; s < e; s++) {
        char ch = *s;
        if (ch == '\\') {
            if (++s == e)
                goto bad;
            ch = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == '\\' ? '\\' : 0;
            if (ch == 0)
                goto bad;
        }
        p[n++] = ch;
    }
    p[n] = '\0';
    *out = p;
    return 0;
bad:
    free(p);
    return SG_ECORRUPT;
}

static int field_set(db__row *r, const db__col *c, const char *s, const char *e)
{
    char *base = (char *)&r->u + c->off;
    if (c->type == DBC_INT) {
        char num[32], *end;
        if (e - s == 0 || e - s >= (long)sizeof num)
            return SG_ECORRUPT;
        memcpy(num, s, (size_t)(e - s));
        num[e - s] = '\0';
        errno = 0;
        long long v = strtoll(num, &end, 10);
        if (errno != 0 || *end != '\0')
            return SG_ECORRUPT;
        int64_t v64 = v;
        memcpy(base, &v64, sizeof v64);
        return 0;
    }
    char *txt;
    int rc = field_text(s, e, &txt);
    if (rc != 0)
        return rc;
    if (c->type == DBC_TEXT) {
        memcpy(base, &txt, sizeof txt);
        return 0;
    }
    if (txt == NULL || strlen(txt) >= c->size) {
        free(txt);
        return SG_ECORRUPT;
    }
    memcpy(base, txt, strlen(txt) + 1);
    free(txt);
    return 0;
}

/* Parses one line (without its '\n') into a fresh row. */
static int spill_decode(const char *line, size_t len, db__row **out)
{
    const char *e = line + len, *s = line, *tab;
    *out = NULL;
    if (len < 1 || line[0] < '0' || line[0] >= '0' + DB_T_COUNT ||
        (len > 1 && line[1] != '\t'))
        return SG_ECORRUPT;
    db__row *r = calloc(1, sizeof *r);
    if (r == NULL)
        return SG_ENOMEM;
    r->table = line[0] - '0';
    const db__table *t = &db__tables[r->table];
    s = line + 1;
    for (int i = 0; i < t->ncols; i++) {
        if (s == e && t->cols[i].late)
            break;              /* a line from before the column existed */
        if (s >= e || *s != '\t')
            goto bad;
        s++;
        tab = memchr(s, '\t', (size_t)(e - s));
        if (tab == NULL)
            tab = e;
        int rc = field_set(r, &t->cols[i], s, tab);
        if (rc != 0) {
            row_free(r);
            return rc;
        }
        s = tab;
    }
    if (s != e)
        goto bad;
    *out = r;
    return 0;
bad:
    row_free(r);
    return SG_ECORRUPT;
}

static int spill_open(db *d)
{
    if (d->spill != NULL)
        return 0;
    d->spill = fopen(d->spill_path, "a");
    return d->spill == NULL ? SG_EIO : 0;
}

/* Caller holds qlock. */
static int spill_append(db *d, const db__row *r)
{
    db__sb b = { 0 };
    int rc = spill_encode(r, &b);
    if (rc == 0)
        rc = spill_open(d);
    if (rc == 0 && (fwrite(b.p, 1, b.len, d->spill) != b.len ||
                    fflush(d->spill) != 0))
        rc = SG_EIO;
    db__sb_free(&b);
    if (rc == 0)
        d->spill_rows++;
    return rc;
}

/* Moves up to max rows from the spill file into the (empty) memory queue;
 * empties the file once every row has been read.  Caller holds qlock. */
static int spill_load(db *d, size_t max)
{
    FILE *f = fopen(d->spill_path, "r");
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    if (f == NULL || fseeko(f, (off_t)d->spill_off, SEEK_SET) != 0) {
        rc = SG_EIO;
        goto out;
    }
    for (size_t n = 0; n < max && d->spill_rows > 0; n++) {
        ssize_t len = getline(&line, &cap, f);
        if (len <= 0) {
            d->spill_rows = 0;  /* the file holds fewer rows than counted */
            break;
        }
        d->spill_off += (uint64_t)len;
        d->spill_rows--;
        if (line[len - 1] == '\n')
            len--;
        db__row *r;
        rc = spill_decode(line, (size_t)len, &r);
        if (rc == SG_ENOMEM)
            goto out;
        if (rc != 0) {
            d->spill_bad++;
            rc = 0;
            continue;
        }
        if (d->tail)
            d->tail->next = r;
        else
            d->head = r;
        d->tail = r;
        d->mem_rows++;
    }
    if (d->spill_rows == 0) {
        if (spill_open(d) != 0 || ftruncate(fileno(d->spill), 0) != 0)
            rc = SG_EIO;
        d->spill_off = 0;
    }
out:
    free(line);
    if (f != NULL)
        fclose(f);
    return rc;
}

/* Counts the rows of a spill file left by an earlier process and makes sure
 * it ends with a newline, so a torn last line cannot glue onto the next. */
static int spill_recover(db *d)
{
    FILE *f = fopen(d->spill_path, "r");
    int ch, last = '\n';
    if (f == NULL)
        return errno == ENOENT ? 0 : SG_EIO;
    while ((ch = getc(f)) != EOF) {
        if (ch == '\n')
            d->spill_rows++;
        last = ch;
    }
    fclose(f);
    if (last != '\n') {
        d->spill_rows++;
        if (spill_open(d) != 0 || fputc('\n', d->spill) == EOF ||
            fflush(d->spill) != 0)
            return SG_EIO;
    }
    return 0;
}

/* Leaves every waiting row in the spill file, oldest first: the rows in
 * memory, then the unread part of the old file.  Written to a temporary
 * file and renamed, so a failure leaves the old file whole.  Caller holds
 * qlock. */
static int spill_rewrite(db *d)
{
    char *tmp = NULL;
    FILE *out = NULL, *in = NULL;
    db__sb b = { 0 };
    uint64_t rows = 0;
    int rc = SG_EIO;

    if (asprintf(&tmp, "%s.tmp", d->spill_path) < 0)
        return SG_ENOMEM;
    if ((out = fopen(tmp, "w")) == NULL)
        goto out;
    for (db__row *r = d->head; r != NULL; r = r->next, rows++) {
        b.len = 0;
        if (spill_encode(r, &b) != 0 || fwrite(b.p, 1, b.len, out) != b.len)
            goto out;
    }
    if (d->spill_rows > 0) {
        char buf[65536];
        size_t n;
        if ((in = fopen(d->spill_path, "r")) == NULL ||
            fseeko(in, (off_t)d->spill_off, SEEK_SET) != 0)
            goto out;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
            if (fwrite(buf, 1, n, out) != n)
                goto out;
        }
        if (ferror(in))
            goto out;
    }
    if (fflush(out) != 0 || fsync(fileno(out)) != 0 ||
        rename(tmp, d->spill_path) != 0)
        goto out;
    if (d->spill != NULL) {  /* it points at the replaced file */
        fclose(d->spill);
        d->spill = NULL;
    }
    d->spill_rows += rows;
    d->spill_off = 0;
    rc = 0;
out:
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        fclose(out);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    db__sb_free(&b);
    return rc;
}

/* ---- queue ------------------------------------------------------------ */

static int enqueue(db *d, db__row *r)
{
    int rc = 0;
    pthread_mutex_lock(&d->qlock);
    if (d->spill_rows > 0 || d->mem_rows >= d->mem_max) {
        rc = spill_append(d, r);
        row_free(r);
    } else {
        r->next = NULL;
        if (d->tail)
            d->tail->next = r;
        else
            d->head = r;
        d->tail = r;
        d->mem_rows++;
    }
    pthread_mutex_unlock(&d->qlock);
    return rc;
}

static int put(db *d, int table, const void *row, size_t size, const char *key)
{
    if (d == NULL || row == NULL || ((const char *)row)[0] == '\0' ||
        key[0] == '\0')
        return SG_EINVAL;
    db__row *r = calloc(1, sizeof *r);
    if (r == NULL)
        return SG_ENOMEM;
    r->table = table;
    memcpy(&r->u, row, size);
    /* Fixed buffers may arrive unterminated; the schema relies on NULs. */
    const db__table *t = &db__tables[table];
    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].type == DBC_STR)
            ((char *)&r->u)[t->cols[i].off + t->cols[i].size - 1] = '\0';
    }
    /* The queued row owns its params; the caller keeps its own. */
    if (table == DB_T_RUN && r->u.run.params != NULL &&
        (r->u.run.params = strdup(r->u.run.params)) == NULL) {
        free(r);
        return SG_ENOMEM;
    }
    return enqueue(d, r);
}

int db_put_run(db *d, const db_run *r)
{
    if (r == NULL)
        return SG_EINVAL;
    if (r->params != NULL && strlen(r->params) > DB_PARAMS_MAX)
        return SG_ETOOBIG;
    return put(d, DB_T_RUN, r, sizeof *r, r->run_id);
}

int db_put_node(db *d, const db_node *r)
{
    return r ? put(d, DB_T_NODE, r, sizeof *r, r->name) : SG_EINVAL;
}

int db_put_block(db *d, const db_block *r)
{
    return r ? put(d, DB_T_BLOCK, r, sizeof *r, r->hash) : SG_EINVAL;
}

int db_put_tx(db *d, const db_tx *r)
{
    return r ? put(d, DB_T_TX, r, sizeof *r, r->txid) : SG_EINVAL;
}

int db_put_txlat(db *d, const db_txlat *r)
{
    return r ? put(d, DB_T_TXLAT, r, sizeof *r, r->txid) : SG_EINVAL;
}

int db_put_trade(db *d, const db_trade *r)
{
    return r ? put(d, DB_T_TRADE, r, sizeof *r, r->settle_txid) : SG_EINVAL;
}

int db_put_interval(db *d, const db_interval *r)
{
    return r ? put(d, DB_T_INTERVAL, r, sizeof *r, r->run_id) : SG_EINVAL;
}

int db_put_node_stat(db *d, const db_node_stat *r)
{
    return r ? put(d, DB_T_NODE_STAT, r, sizeof *r, r->node) : SG_EINVAL;
}

int db_put_event(db *d, const db_event *r)
{
    return r ? put(d, DB_T_EVENT, r, sizeof *r, r->run_id) : SG_EINVAL;
}

int db_put_sim_stat(db *d, const db_sim_stat *r)
{
    return r ? put(d, DB_T_SIM_STAT, r, sizeof *r, r->run_id) : SG_EINVAL;
}

/* Detaches up to max rows from the front, refilling from the spill file
 * when memory is empty.  NULL when nothing waits. */
static int take(db *d, size_t max, db__row **out, size_t *n)
{
    int rc = 0;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&d->qlock);
    if (d->head == NULL && d->spill_rows > 0)
        rc = spill_load(d, max);
    db__row *first = d->head, *last = NULL;
    for (db__row *r = d->head; r != NULL && *n < max; r = r->next) {
        last = r;
        (*n)++;
    }
    if (last != NULL) {
        d->head = last->next;
        if (d->head == NULL)
            d->tail = NULL;
        last->next = NULL;
        d->mem_rows -= *n;
        d->in_flight = *n;
        *out = first;
    }
    pthread_mutex_unlock(&d->qlock);
    return rc;
}

/* Puts rows a failed write took back at the front, in their order. */
static void give_back(db *d, db__row *rows)
{
    size_t n = 0;
    db__row *last = rows;
    if (rows == NULL)
        return;
    for (n = 1; last->next != NULL; n++)
        last = last->next;
    pthread_mutex_lock(&d->qlock);
    last->next = d->head;
    d->head = rows;
    if (d->tail == NULL)
        d->tail = last;
    d->mem_rows += n;
    d->in_flight = 0;
    pthread_mutex_unlock(&d->qlock);
}

static void written(db *d, db__row *rows, size_t n)
{
    rows_free(rows);
    pthread_mutex_lock(&d->qlock);
    d->in_flight = 0;
    d->written += n;
    pthread_mutex_unlock(&d->qlock);
}

/* ---- flushing --------------------------------------------------------- */

static int backend_ready(db *d, char *err, size_t errlen)
{
    if (!d->is_mysql || db__my_connected(d))
        return 0;
    return db__my_reconnect(d, err, errlen);
}

static int backend_write(db *d, db__row *rows, char *err, size_t errlen)
{
    return d->is_mysql ? db__my_write(d, rows, err, errlen)
                       : db__lite_write(d, rows, err, errlen);
}

/* up is read under qlock: db_is_up must not wait out a slow flush. */
static void set_up(db *d, int up)
{
    pthread_mutex_lock(&d->qlock);
    d->up = up;
    pthread_mutex_unlock(&d->qlock);
}

static int mark_down(db *d, int rc, const char *msg)
{
    set_up(d, 0);
    d->last_fail_ms = clock_mono_ms();
    snprintf(d->last_err, sizeof d->last_err, "%s", msg);
    if (d->is_mysql)
        db__my_disconnect(d);
    return rc;
}

/* Caller holds flock.  force ignores the retry delay (db_close).  Writes
 * at most what waited on entry, so rows put faster than the server takes
 * them cannot keep one call (and db_close) going for ever. */
static int flush_locked(db *d, int force, char *err, size_t errlen)
{
    char msg[DB_ERR_MAX] = "";
    size_t budget = db_backlog(d), n;
    db__row *rows;
    int rc;

    if (!d->up && !force && clock_mono_ms() - d->last_fail_ms < DB_RETRY_MS) {
        db__errf(err, errlen, "%s (retrying)", d->last_err);
        return SG_EDB;
    }
    if ((rc = backend_ready(d, msg, sizeof msg)) != 0)
        goto fail;
    while (budget > 0) {
        if ((rc = take(d, DB_TAKE_ROWS, &rows, &n)) != 0) {
            give_back(d, rows);
            snprintf(msg, sizeof msg, "spill file %s unreadable: %s",
                     d->spill_path, sg_strerror(rc));
            return mark_down(d, rc, msg);
        }
        if (rows == NULL)
            break;
        if ((rc = backend_write(d, rows, msg, sizeof msg)) != 0) {
            give_back(d, rows);
            goto fail;
        }
        written(d, rows, n);
        budget -= n < budget ? n : budget;
    }
    set_up(d, 1);
    return 0;
fail:
    db__errf(err, errlen, "%s", msg);
    return mark_down(d, rc, msg);
}

int db_flush(db *d, char *err, size_t errlen)
{
    if (d == NULL)
        return SG_EINVAL;
    pthread_mutex_lock(&d->flock);
    int rc = flush_locked(d, 0, err, errlen);
    pthread_mutex_unlock(&d->flock);
    return rc;
}

static void *flush_main(void *arg)
{
    db *d = arg;
    pthread_mutex_lock(&d->qlock);
    while (!d->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += d->flush_ms / 1000;
        ts.tv_nsec += (long)(d->flush_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&d->wake, &d->qlock, &ts);
        if (d->stop)
            break;
        pthread_mutex_unlock(&d->qlock);
        db_flush(d, NULL, 0);
        pthread_mutex_lock(&d->qlock);
    }
    pthread_mutex_unlock(&d->qlock);
    return NULL;
}

/* ---- open / close ----------------------------------------------------- */

size_t db_backlog(db *d)
{
    if (d == NULL)
        return 0;
    pthread_mutex_lock(&d->qlock);
    size_t n = d->mem_rows + d->in_flight + (size_t)d->spill_rows;
    pthread_mutex_unlock(&d->qlock);
    return n;
}

int db_is_up(db *d)
{
    if (d == NULL)
        return 0;
    pthread_mutex_lock(&d->qlock);
    int up = d->up;
    pthread_mutex_unlock(&d->qlock);
    return up;
}

const char *db_backend(db *d)
{
    return d != NULL && d->is_mysql ? "mysql" : "sqlite";
}

uint64_t db_written(db *d)
{
    if (d == NULL)
        return 0;
    pthread_mutex_lock(&d->qlock);
    uint64_t n = d->written;
    pthread_mutex_unlock(&d->qlock);
    return n;
}

static void db_free(db *d)
{
    if (d->is_mysql)
        db__my_close(d);
    else
        db__lite_close(d);
    rows_free(d->head);
    if (d->spill != NULL)
        fclose(d->spill);
    free(d->spill_path);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->qlock);
    pthread_mutex_destroy(&d->flock);
    free(d);
}

/* Next to the SQLite file (the run directory) even in MySQL mode, where
 * the launcher still names it; else the working directory.  The launcher
 * names the spill path itself. */
static char *spill_default(const db_config *cfg)
{
    char *p = NULL;
    if (cfg->spill_path != NULL && cfg->spill_path[0] != '\0')
        return strdup(cfg->spill_path);
    const char *base = cfg->sqlite_path ? cfg->sqlite_path : "";
    const char *slash = strrchr(base, '/');
    int dirlen = slash ? (int)(slash - base) : 1;
    if (asprintf(&p, "%.*s/db.spill", dirlen, slash ? base : ".") < 0)
        return NULL;
    return p;
}

static db *db_alloc(const db_config *cfg)
{
    db *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    pthread_mutex_init(&d->qlock, NULL);
    pthread_mutex_init(&d->flock, NULL);
    pthread_cond_init(&d->wake, NULL);
    d->is_mysql = cfg->host != NULL && cfg->host[0] != '\0';
    d->up = 1;
    d->flush_ms = cfg->flush_ms ? cfg->flush_ms : 1000;
    d->mem_max = cfg->mem_rows ? cfg->mem_rows : DB_MEM_ROWS;
    d->spill_path = spill_default(cfg);
    if (d->spill_path == NULL) {
        db_free(d);
        return NULL;
    }
    return d;
}

int db_open(db **out, const db_config *cfg, char *err, size_t errlen)
{
    db *d = NULL;
    int rc;

    *out = NULL;
    if (cfg == NULL || ((cfg->host == NULL || cfg->host[0] == '\0') &&
                        (cfg->sqlite_path == NULL || cfg->sqlite_path[0] == '\0'))) {
        db__errf(err, errlen, "no database: give an SQLite path or a MySQL host");
        return SG_EINVAL;
    }
    if ((d = db_alloc(cfg)) == NULL) {
        db__errf(err, errlen, "out of memory opening the database");
        return SG_ENOMEM;
    }
    rc = d->is_mysql ? db__my_open(d, cfg, err, errlen)
                     : db__lite_open(d, cfg->sqlite_path, err, errlen);
    if (rc != 0)
        goto fail;
    if ((rc = spill_recover(d)) != 0) {
        db__errf(err, errlen, "cannot read spill file %s: %s", d->spill_path,
                 strerror(errno));
        goto fail;
    }
    if (cfg->flush_thread) {
        if (pthread_create(&d->thread, NULL, flush_main, d) != 0) {
            db__errf(err, errlen, "cannot start the database flush thread");
            rc = SG_ENOMEM;
            goto fail;
        }
        d->have_thread = 1;
    }
    *out = d;
    return 0;
fail:
    db_free(d);
    return rc;
}

int db_probe(const db_config *cfg, char *err, size_t errlen)
{
    db *d = db_alloc(cfg);
    if (d == NULL) {
        db__errf(err, errlen, "out of memory opening the database");
        return SG_ENOMEM;
    }
    int rc = d->is_mysql ? db__my_open(d, cfg, err, errlen)
                         : db__lite_open(d, cfg->sqlite_path, err, errlen);
    db_free(d);
    return rc;
}

int db_close(db *d, char *err, size_t errlen)
{
    char msg[DB_ERR_MAX] = "";
    int rc;

    if (d == NULL)
        return 0;
    if (d->have_thread) {
        pthread_mutex_lock(&d->qlock);
        d->stop = 1;
        pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->qlock);
        pthread_join(d->thread, NULL);
    }
    pthread_mutex_lock(&d->flock);
    rc = flush_locked(d, 1, msg, sizeof msg);
    pthread_mutex_unlock(&d->flock);
    if (rc != 0) {
        pthread_mutex_lock(&d->qlock);
        int src = spill_rewrite(d);
        size_t kept = (size_t)d->spill_rows;
        pthread_mutex_unlock(&d->qlock);
        if (src != 0)
            db__errf(err, errlen, "%s; could not save the rows to %s: rows lost",
                     msg, d->spill_path);
        else
            db__errf(err, errlen, "%s; %zu rows kept in %s for the next run",
                     msg, kept, d->spill_path);
        rc = SG_EDB;
    } else {
        /* Nothing waits: an empty spill file would only puzzle a reader. */
        if (d->spill_rows == 0)
            unlink(d->spill_path);
        if (d->spill_bad > 0)
            db__errf(err, errlen, "%llu unreadable lines skipped in %s",
                     (unsigned long long)d->spill_bad, d->spill_path);
    }
    db_free(d);
    return rc;
}
