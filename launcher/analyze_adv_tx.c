/*
 * analyze_adv_tx.c - the transaction-side adversaries' sections; see
 * analyze_adv_tx.h.  Queries take the run id as ?1; the node's name and
 * public key go into the text only after they were checked to be what the
 * launcher writes (a plain name, 64 hex digits).
 */
#include "analyze_adv_tx.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

#define AT_SQL_MAX 2048
#define AT_COLS 8

/* The first row of a query as integers (NULL: 0) and as doubles. */
typedef struct {
    int got;
    int64_t i[AT_COLS];
    double d[AT_COLS];
} at_row;

static void take_row(const db_row *row, void *arg)
{
    at_row *out = arg;
    if (out->got++)
        return;
    for (int k = 0; k < row->n && k < AT_COLS; k++) {
        const char *v = row->vals[k];
        out->i[k] = v ? strtoll(v, NULL, 10) : 0;
        out->d[k] = v ? strtod(v, NULL) : 0;
    }
}

static int one_row(db_reader *r, const char *run_id, const char *sql, at_row *out)
{
    char err[DB_ERR_MAX];
    memset(out, 0, sizeof *out);
    if (db_reader_query(r, sql, run_id, take_row, out, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "analyze: %s\n", err);
    return SG_EDB;
}

static int plain_name(const char *s)
{
    if (!*s || strlen(s) >= DB_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    return 1;
}

static int hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int checked(const char *name, const char *pubkey)
{
    if (plain_name(name) && hex64(pubkey))
        return 1;
    fprintf(stderr, "analyze: node '%s' has no usable name or public key\n", name);
    return 0;
}

/* ---- who banned it -------------------------------------------------------- */

typedef struct {
    const char *name;
    char who[512];
    size_t n;
} at_banners;

static void take_banner(const db_row *row, void *arg)
{
    at_banners *b = arg;
    const char *node = row->n > 0 && row->vals[0] ? row->vals[0] : "";
    const char *list = row->n > 1 && row->vals[1] ? row->vals[1] : "";
    size_t l = strlen(b->name);

    for (const char *s = list; (s = strstr(s, b->name)) != NULL; s += l) {
        if ((s != list && s[-1] != ' ') || (s[l] != ' ' && s[l] != '\0'))
            continue;
        size_t used = strlen(b->who);
        snprintf(b->who + used, sizeof b->who - used, "%s%s", used ? " " : "", node);
        b->n++;
        return;
    }
}

/* Honest nodes (no adversary role) whose banned_peers names `name`. */
static int print_banners(db_reader *r, const char *run_id, const char *name, FILE *out)
{
    at_banners b = { .name = name };
    char err[DB_ERR_MAX];

    if (db_reader_query(r, "SELECT name, banned_peers FROM nodes WHERE run_id=?1 AND "
                           "COALESCE(adversary, '')='' ORDER BY name", run_id, take_banner, &b,
                        err, sizeof err) != 0) {
        fprintf(stderr, "analyze: %s\n", err);
        return SG_EDB;
    }
    fprintf(out, "  banned by                 %zu honest node(s)%s%s\n", b.n, b.n ? ": " : "",
            b.who);
    return 0;
}

static int print_honest_refusals(db_reader *r, const char *run_id, FILE *out)
{
    at_row t;
    int rc = one_row(r, run_id, "SELECT COALESCE(SUM(rejected_txs), 0) FROM nodes WHERE "
                                "run_id=?1 AND COALESCE(adversary, '')=''", &t);
    if (rc == 0)
        fprintf(out, "  transactions honest nodes refused as the sender's fault  %" PRId64 "\n",
                t.i[0]);
    return rc;
}

/* ---- double spender --------------------------------------------------------- */

int analyze_adv_tx_double_spender(db_reader *r, const char *run_id, const char *name,
                                  const char *pubkey, FILE *out)
{
    char sql[AT_SQL_MAX];
    at_row c, t, l;
    int rc;

    if (!checked(name, pubkey))
        return 0;
    snprintf(sql, sizeof sql, "SELECT adv_ds_pairs, adv_ds_won_a, adv_ds_won_b FROM nodes "
                              "WHERE run_id=?1 AND name='%s'", name);
    if ((rc = one_row(r, run_id, sql, &c)) < 0)
        return rc;
    /* Its transfers of the pairs' amount to someone else, on the best chain:
     * per nonce at most one (the ledger's rule); to a node = A. */
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*), COUNT(DISTINCT t.nonce), "
             "SUM(CASE WHEN n.name IS NOT NULL THEN 1 ELSE 0 END) FROM transactions t "
             "LEFT JOIN nodes n ON n.run_id=t.run_id AND n.pubkey=t.to_pk "
             "WHERE t.run_id=?1 AND t.kind='transfer' AND t.from_pk='%s' AND t.to_pk<>'%s' "
             "AND t.amount=1000000 AND t.block_hash<>''", pubkey, pubkey);
    if ((rc = one_row(r, run_id, sql, &t)) < 0)
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*), AVG(included_ms - broadcast_ms), MAX(included_ms - broadcast_ms) "
             "FROM transactions WHERE run_id=?1 AND kind='transfer' AND from_pk='%s' AND "
             "to_pk<>'%s' AND amount=1000000 AND block_hash<>'' AND included_ms IS NOT NULL "
             "AND broadcast_ms IS NOT NULL", pubkey, pubkey);
    if ((rc = one_row(r, run_id, sql, &l)) < 0)
        return rc;
    fprintf(out, "  conflicting pairs sent    %" PRId64 "; decided for the merchant (A) %" PRId64
            ", for its colluder (B) %" PRId64 "\n", c.i[0], c.i[1], c.i[2]);
    fprintf(out, "  on the best chain         %" PRId64 " transfer(s) over %" PRId64
            " nonce(s)%s; %" PRId64 " to a node (A), %" PRId64 " elsewhere (B)\n", t.i[0],
            t.i[1], t.i[0] == t.i[1] ? " (never both of a pair)" : " (BOTH OF A PAIR!)",
            t.i[2], t.i[0] - t.i[2]);
    if (l.i[0] > 0)
        fprintf(out, "  broadcast to block        avg %.0f ms, max %" PRId64 " ms (%" PRId64
                " measured)\n", l.d[1], l.i[2], l.i[0]);
    return 0;
}

/* ---- manipulator ------------------------------------------------------------ */

int analyze_adv_tx_manipulator(db_reader *r, const char *run_id, const char *name,
                               const char *pubkey, FILE *out)
{
    /* Runs of the same seed in which no node was a manipulator. */
    static const char *const baseline =
        "SELECT b.run_id FROM runs b JOIN runs a ON a.run_id=?1 AND b.seed=a.seed "
        "WHERE b.run_id<>a.run_id AND NOT EXISTS (SELECT 1 FROM nodes n WHERE "
        "n.run_id=b.run_id AND n.adversary LIKE '%manipulator%')";
    char sql[AT_SQL_MAX];
    at_row c, me, base, pair;
    int rc;

    if (!checked(name, pubkey))
        return 0;
    snprintf(sql, sizeof sql, "SELECT adv_manip_orders FROM nodes WHERE run_id=?1 AND "
                              "name='%s'", name);
    if ((rc = one_row(r, run_id, sql, &c)) < 0 ||
        (rc = one_row(r, run_id, "SELECT COUNT(*), AVG(clearing_price), MIN(clearing_price) "
                                 "FROM market_intervals WHERE run_id=?1 AND traded_wh>0",
                      &me)) < 0)
        return rc;
    snprintf(sql, sizeof sql, "SELECT COUNT(DISTINCT m.run_id), COUNT(*), AVG(m.clearing_price) "
                              "FROM market_intervals m WHERE m.traded_wh>0 AND m.run_id IN (%s)",
             baseline);
    if ((rc = one_row(r, run_id, sql, &base)) < 0)
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*), AVG(x.clearing_price), AVG(m.clearing_price), "
             "SUM(CASE WHEN x.clearing_price<m.clearing_price THEN 1 ELSE 0 END), "
             "SUM(CASE WHEN x.clearing_price>m.clearing_price THEN 1 ELSE 0 END) "
             "FROM market_intervals x JOIN market_intervals m ON m.interval_no=x.interval_no "
             "WHERE x.run_id=?1 AND x.traded_wh>0 AND m.traded_wh>0 AND m.run_id IN (%s)",
             baseline);
    if ((rc = one_row(r, run_id, sql, &pair)) < 0)
        return rc;
    fprintf(out, "  wash orders signed        %" PRId64 "\n", c.i[0]);
    fprintf(out, "  clearing price (traded)   avg %.0f, min %" PRId64 " over %" PRId64
            " interval(s)\n", me.d[1], me.i[2], me.i[0]);
    if (base.i[0] == 0) {
        fprintf(out, "  no run of the same seed without a manipulator to compare with\n");
        return 0;
    }
    fprintf(out, "  same seed, no manipulator avg %.0f over %" PRId64 " interval(s) of %" PRId64
            " run(s): shift %+.0f\n", base.d[2], base.i[1], base.i[0], me.d[1] - base.d[2]);
    if (pair.i[0] > 0)
        fprintf(out, "  paired by interval        %" PRId64 " pair(s): avg %.0f against %.0f "
                "(%+.0f); lower in %" PRId64 ", higher in %" PRId64 "\n", pair.i[0], pair.d[1],
                pair.d[2], pair.d[1] - pair.d[2], pair.i[3], pair.i[4]);
    return 0;
}

/* ---- spammer ------------------------------------------------------------------- */

int analyze_adv_tx_spammer(db_reader *r, const char *run_id, const char *name,
                           const char *pubkey, FILE *out)
{
    char sql[AT_SQL_MAX];
    at_row c, s, m;
    int rc;

    if (!checked(name, pubkey))
        return 0;
    snprintf(sql, sizeof sql, "SELECT adv_spam_valid, adv_spam_malformed FROM nodes WHERE "
                              "run_id=?1 AND name='%s'", name);
    if ((rc = one_row(r, run_id, sql, &c)) < 0)
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT SUM(CASE WHEN kind='transfer' AND from_pk='%s' AND to_pk='%s' AND amount=1 "
             "THEN 1 ELSE 0 END), SUM(CASE WHEN kind<>'coinbase' THEN 1 ELSE 0 END), "
             "COUNT(DISTINCT CASE WHEN kind='transfer' AND from_pk='%s' AND to_pk='%s' AND "
             "amount=1 THEN block_hash END) FROM transactions WHERE run_id=?1 AND "
             "block_hash<>''", pubkey, pubkey, pubkey, pubkey);
    if ((rc = one_row(r, run_id, sql, &s)) < 0 ||
        (rc = one_row(r, run_id, "SELECT COUNT(*), MAX(interval_no) FROM market_intervals "
                                 "WHERE run_id=?1 AND settled_ms IS NOT NULL", &m)) < 0)
        return rc;
    fprintf(out, "  valid spam sent           %" PRId64 "; on the best chain %" PRId64
            " in %" PRId64 " block(s), %.1f%% of its transactions (coinbases aside)\n", c.i[0],
            s.i[0], s.i[2], s.i[1] ? 100.0 * (double)s.i[0] / (double)s.i[1] : 0.0);
    fprintf(out, "  malformed sent            %" PRId64 "\n", c.i[1]);
    if ((rc = print_banners(r, run_id, name, out)) < 0 ||
        (rc = print_honest_refusals(r, run_id, out)) < 0)
        return rc;
    fprintf(out, "  market intervals settled  %" PRId64 " (the last: %" PRId64 ")\n", m.i[0],
            m.i[1]);
    return 0;
}

/* ---- forger (settlements) ---------------------------------------------------- */

int analyze_adv_tx_forger(db_reader *r, const char *run_id, const char *name,
                          const char *pubkey, FILE *out)
{
    char sql[AT_SQL_MAX];
    at_row c, s;
    int rc;

    if (!checked(name, pubkey))
        return 0;
    snprintf(sql, sizeof sql, "SELECT adv_forged_settlements FROM nodes WHERE run_id=?1 AND "
                              "name='%s'", name);
    if ((rc = one_row(r, run_id, sql, &c)) < 0)
        return rc;
    /* Any stored block, stale ones too: the launcher keeps every one. */
    if ((rc = one_row(r, run_id, "SELECT COUNT(*) FROM transactions t WHERE t.run_id=?1 AND "
                                 "t.kind='settlement' AND NOT EXISTS (SELECT 1 FROM nodes n "
                                 "WHERE n.run_id=t.run_id AND n.role='operator' AND "
                                 "n.pubkey=t.from_pk)", &s)) < 0)
        return rc;
    fprintf(out, "  forged settlements sent   %" PRId64 "\n", c.i[0]);
    fprintf(out, "  settlements not from the operator in any block  %" PRId64 "%s\n", s.i[0],
            s.i[0] ? " (A FORGERY GOT IN!)" : "");
    /* Who banned it: the block part's lines (analyze_adv.c) say it. */
    return print_honest_refusals(r, run_id, out);
}
