/*
 * analyze_adv.c - the adversaries' effect, from the store; see
 * analyze_adv.h.  Each role's section is one function in the sections[]
 * table; a role's author adds a function and fills its row.
 */
#include "analyze_adv.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/adv_role.h"
#include "launcher/analyze_adv_tx.h"

#define AA_NODES_MAX 1024

typedef struct {
    char name[DB_NAME_MAX];
    char pubkey[DB_HEX_MAX];
    unsigned roles;               /* enum adv_role bits */
    int64_t hashrate_cap;         /* 0: none */
    double hashrate_avg;          /* node_stats samples above 0; 0: none */
    int64_t best_blocks, stale_blocks;
    int64_t rejected_blocks, rejected_txs;
    char banned_peers[DB_BANNED_MAX];
    int64_t withheld, published, abandoned;
} aa_node;

typedef struct {
    db_reader *r;
    const char *run_id;
    aa_node *nodes;
    size_t n;
    int64_t best_total;           /* best-chain blocks but genesis */
    int use_caps;                 /* every node has a cap: shares from caps */
    int failed;
} aa_ctx;

/* ---- loading ----------------------------------------------------------- */

static int64_t ival(const db_row *row, int i)
{
    return i < row->n && row->vals[i] ? strtoll(row->vals[i], NULL, 10) : 0;
}

static const char *sval(const db_row *row, int i)
{
    return i < row->n && row->vals[i] ? row->vals[i] : "";
}

static void row_node(const db_row *row, void *arg)
{
    aa_ctx *c = arg;
    if (c->n == AA_NODES_MAX)
        return;
    aa_node *n = &c->nodes[c->n++];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", sval(row, 0));
    snprintf(n->pubkey, sizeof n->pubkey, "%s", sval(row, 1));
    if (adv_parse_roles(sval(row, 2), &n->roles) != 0)
        n->roles = 0;
    n->hashrate_cap = ival(row, 3);
    n->rejected_blocks = ival(row, 4);
    n->rejected_txs = ival(row, 5);
    snprintf(n->banned_peers, sizeof n->banned_peers, "%s", sval(row, 6));
    n->withheld = ival(row, 7);
    n->published = ival(row, 8);
    n->abandoned = ival(row, 9);
}

static aa_node *by_key(aa_ctx *c, const char *key, int by_name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(by_name ? c->nodes[i].name : c->nodes[i].pubkey, key) == 0)
            return &c->nodes[i];
    return NULL;
}

static void row_blocks(const db_row *row, void *arg)
{
    aa_ctx *c = arg;
    int64_t k = ival(row, 2);
    aa_node *n = by_key(c, sval(row, 0), 0);
    if (ival(row, 1) == 0)
        c->best_total += k;
    if (!n)
        return;
    if (ival(row, 1) == 0)
        n->best_blocks = k;
    else
        n->stale_blocks = k;
}

static void row_rate(const db_row *row, void *arg)
{
    aa_node *n = by_key(arg, sval(row, 0), 1);
    if (n && row->n > 1 && row->vals[1])
        n->hashrate_avg = strtod(row->vals[1], NULL);
}

static int query(aa_ctx *c, const char *sql, db_row_fn fn)
{
    char err[DB_ERR_MAX];
    if (db_reader_query(c->r, sql, c->run_id, fn, c, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "analyze: %s\n", err);
    return SG_EDB;
}

static int load(aa_ctx *c)
{
    int rc = query(c, "SELECT name, pubkey, adversary, COALESCE(hashrate_cap, 0), "
                      "rejected_blocks, rejected_txs, banned_peers, adv_withheld, "
                      "adv_published, adv_abandoned FROM nodes WHERE run_id=?1 ORDER BY name",
                   row_node);
    if (rc == 0)
        rc = query(c, "SELECT miner, stale, COUNT(*) FROM blocks WHERE run_id=?1 AND "
                      "height>0 GROUP BY miner, stale", row_blocks);
    if (rc == 0)
        rc = query(c, "SELECT node, AVG(hashrate) FROM node_stats WHERE run_id=?1 AND "
                      "hashrate>0 GROUP BY node", row_rate);
    c->use_caps = c->n > 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->nodes[i].hashrate_cap <= 0)
            c->use_caps = 0;
    return rc;
}

/* ---- shared figures ---------------------------------------------------- */

double analyze_adv_es_revenue(double a, double g)
{
    double num = a * (1 - a) * (1 - a) * (4 * a + g * (1 - 2 * a)) - a * a * a;
    double den = 1 - a * (1 + (2 - a) * a);
    return den > 0 ? num / den : 1.0;
}

/* Its share of the hash power: the caps when every node has one (what the
 * run fixed), else the measured averages. */
static double hash_share(const aa_ctx *c, const aa_node *n)
{
    double sum = 0, mine = 0;
    for (size_t i = 0; i < c->n; i++) {
        double h = c->use_caps ? (double)c->nodes[i].hashrate_cap : c->nodes[i].hashrate_avg;
        sum += h;
        if (&c->nodes[i] == n)
            mine = h;
    }
    return sum > 0 ? mine / sum : 0;
}

static int banned_by(const aa_node *honest, const char *name)
{
    size_t l = strlen(name);
    for (const char *s = honest->banned_peers; (s = strstr(s, name)) != NULL; s += l)
        if ((s == honest->banned_peers || s[-1] == ' ') && (s[l] == ' ' || s[l] == '\0'))
            return 1;
    return 0;
}

/* "p2 p3" of the honest nodes that banned n; returns how many. */
static size_t list_banners(const aa_ctx *c, const aa_node *n, char *out, size_t cap)
{
    size_t k = 0, used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->n; i++) {
        if (c->nodes[i].roles || !banned_by(&c->nodes[i], n->name))
            continue;
        k++;
        int w = snprintf(out + used, cap - used, "%s%s", used ? " " : "", c->nodes[i].name);
        if (w > 0 && (size_t)w < cap - used)
            used += (size_t)w;
    }
    return k;
}

/* ---- sections, one per role ---------------------------------------------- */

static void section_selfish(aa_ctx *c, const aa_node *n, FILE *out)
{
    double alpha = hash_share(c, n);
    double share = c->best_total ? (double)n->best_blocks / (double)c->best_total : 0;
    fprintf(out, "  hash share (alpha)        %.4f (%s)\n", alpha,
            c->use_caps ? "from the --hashrate caps" : "from measured hash rates");
    fprintf(out, "  best-chain blocks         %" PRId64 " of %" PRId64 " = %.4f%s\n",
            n->best_blocks, c->best_total, share,
            share > alpha ? " (above its hash share)" : " (not above its hash share)");
    int64_t found = 0;
    for (size_t i = 0; i < c->n; i++)
        found += c->nodes[i].best_blocks + c->nodes[i].stale_blocks;
    /* Below alpha when its private branch, ahead of a retargeting
     * schedule, got harder blocks than the public one. */
    fprintf(out, "  its stale blocks          %" PRId64 "; of all blocks found %.4f\n",
            n->stale_blocks, found ? (double)(n->best_blocks + n->stale_blocks) / (double)found
                                   : 0);
    fprintf(out, "  withheld / published / abandoned  %" PRId64 " / %" PRId64 " / %" PRId64 "\n",
            n->withheld, n->published, n->abandoned);
    fprintf(out, "  Eyal-Sirer revenue at alpha %.4f:\n", alpha);
    for (int k = 0; k <= 2; k++) {
        double g = k * 0.5;
        fprintf(out, "    gamma %.1f: %.4f (profitable above alpha %.4f)\n", g,
                analyze_adv_es_revenue(alpha, g), (1 - g) / (3 - 2 * g));
    }
}

static void section_forger(aa_ctx *c, const aa_node *n, FILE *out)
{
    char who[DB_BANNED_MAX * 2];
    size_t k = list_banners(c, n, who, sizeof who);
    fprintf(out, "  its blocks on the best chain  %" PRId64 "\n", n->best_blocks);
    fprintf(out, "  banned by                     %zu honest node(s)%s%s\n", k,
            k ? ": " : "", who);
}

/* The transaction side (analyze_adv_tx.h); a failed query has printed its
 * line and leaves the section short. */
static void section_double_spender(aa_ctx *c, const aa_node *n, FILE *out)
{
    if (analyze_adv_tx_double_spender(c->r, c->run_id, n->name, n->pubkey, out) != 0)
        c->failed = 1;
}

static void section_manipulator(aa_ctx *c, const aa_node *n, FILE *out)
{
    if (analyze_adv_tx_manipulator(c->r, c->run_id, n->name, n->pubkey, out) != 0)
        c->failed = 1;
}

static void section_spammer(aa_ctx *c, const aa_node *n, FILE *out)
{
    if (analyze_adv_tx_spammer(c->r, c->run_id, n->name, n->pubkey, out) != 0)
        c->failed = 1;
}

/* A forger forges blocks and settlements: both parts. */
static void section_forger_all(aa_ctx *c, const aa_node *n, FILE *out)
{
    section_forger(c, n, out);
    if (analyze_adv_tx_forger(c->r, c->run_id, n->name, n->pubkey, out) != 0)
        c->failed = 1;
}

typedef void (*aa_section_fn)(aa_ctx *c, const aa_node *n, FILE *out);

static const struct {
    unsigned role;
    aa_section_fn fn;             /* NULL: no analysis yet */
} sections[] = {
    { ADV_SELFISH, section_selfish },
    { ADV_FORGER, section_forger_all },
    { ADV_DOUBLE_SPENDER, section_double_spender },
    { ADV_MANIPULATOR, section_manipulator },
    { ADV_SPAMMER, section_spammer },
};

/* What every honest node refused and whom it banned. */
static void section_honest(const aa_ctx *c, FILE *out)
{
    fprintf(out, "honest nodes: refused blocks, refused transactions, banned\n");
    for (size_t i = 0; i < c->n; i++) {
        const aa_node *n = &c->nodes[i];
        if (n->roles)
            continue;
        fprintf(out, "  %-8s %6" PRId64 " %6" PRId64 "  %s\n", n->name, n->rejected_blocks,
                n->rejected_txs, n->banned_peers[0] ? n->banned_peers : "-");
    }
}

int analyze_adv_run(db_reader *r, const char *run_id, FILE *out)
{
    aa_ctx c = { .r = r, .run_id = run_id };
    char names[128];
    size_t n_adv = 0;

    c.nodes = calloc(AA_NODES_MAX, sizeof *c.nodes);
    if (!c.nodes)
        return SG_ENOMEM;
    int rc = load(&c);
    if (rc != 0)
        goto out;
    fprintf(out, "adversaries of run %s\n", run_id);
    for (size_t i = 0; i < c.n; i++) {
        const aa_node *n = &c.nodes[i];
        if (!n->roles)
            continue;
        n_adv++;
        fprintf(out, "%s: %s\n", n->name, adv_roles_format(n->roles, names, sizeof names));
        for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++) {
            if (!(n->roles & sections[k].role))
                continue;
            fprintf(out, " %s\n", adv_role_name(sections[k].role));
            if (sections[k].fn)
                sections[k].fn(&c, n, out);
            else
                fprintf(out, "  (no analysis for this role yet)\n");
        }
    }
    if (n_adv == 0)
        fprintf(out, "  none: every node was honest\n");
    section_honest(&c, out);
    if (c.failed)
        rc = SG_EDB;
out:
    free(c.nodes);
    return rc;
}

/* ---- entry points -------------------------------------------------------- */

static void row_count(const db_row *row, void *arg)
{
    *(int64_t *)arg = ival(row, 0);
}

int analyze_adv_count(db_reader *r, const char *run_id)
{
    char err[DB_ERR_MAX];
    int64_t n = 0;
    if (db_reader_query(r, "SELECT COUNT(*) FROM nodes WHERE run_id=?1 AND adversary<>''",
                        run_id, row_count, &n, err, sizeof err) != 0)
        return 0;                   /* a database from before the column */
    return (int)n;
}
