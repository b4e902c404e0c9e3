#include "common/core/params.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/base/hmap.h"
#include "common/core/asert.h"
#include "common/base/units.h"
#include "common/core/pow.h"

#define PARAMS_FILE_MAX (32u * 1024 * 1024)
#define PARAMS_DEFAULT_DIFFICULTY 4
/* 2024-06-21 00:00 UTC: a midsummer day gives the PV curve something to do. */
#define PARAMS_DEFAULT_SIM_START 1718928000u

enum params_key {
    K_NAME, K_GENESIS_TIME, K_BITS, K_BLOCK_REWARD, K_TICK_MS,
    K_INTERVAL_MINUTES, K_SIM_START, K_MARKET, K_RETAIL_PRICE,
    K_FEED_IN_PRICE, K_SEED, K_OPERATOR, K_BLOCK_INTERVAL, K_HALFLIFE, K_COUNT
};

static const char *const params_key_names[K_COUNT] = {
    "name", "genesis_time", "bits", "block_reward", "tick_ms",
    "interval_minutes", "sim_start", "market", "retail_price",
    "feed_in_price", "seed", "operator", "block_interval_ms", "retarget_halflife_ms",
};

static const char *const params_market_names[PARAMS_N_MARKETS] = {
    [PARAMS_MARKET_UNIFORM] = "uniform",
    [PARAMS_MARKET_PAY_AS_BID] = "pay-as-bid",
    [PARAMS_MARKET_MID] = "mid-market",
};

const char *params_market_name(unsigned rule)
{
    return rule < PARAMS_N_MARKETS ? params_market_names[rule] : "?";
}

int params_market_parse(const char *s, size_t len, uint8_t *rule)
{
    for (size_t i = 0; i < PARAMS_N_MARKETS; i++) {
        if (strlen(params_market_names[i]) == len &&
            memcmp(params_market_names[i], s, len) == 0) {
            *rule = (uint8_t)i;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

void params_init_defaults(chain_params *p)
{
    memset(p, 0, sizeof *p);
    strcpy(p->name, "smartgrid");
    if (pow_difficulty_to_bits(PARAMS_DEFAULT_DIFFICULTY, &p->bits) < 0)
        p->bits = 0;
    p->block_reward = 50000000;
    p->tick_ms = 1000;
    p->interval_minutes = 15;
    p->sim_start = PARAMS_DEFAULT_SIM_START;
    p->market_rule = PARAMS_MARKET_UNIFORM;
    p->retail_price = 300000;
    p->feed_in_price = 80000;
}

void params_free(chain_params *p)
{
    free(p->allocs);
    p->allocs = NULL;
    p->n_allocs = 0;
}

/* ---- text helpers -------------------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* A name must survive a save/load round trip: printable ASCII, no comment
 * character, no surrounding blanks (the parser trims them). */
static int name_ok(const char *s, size_t len)
{
    if (len == 0 || len > PARAMS_NAME_MAX || s[0] == ' ' || s[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '#')
            return 0;
    return 1;
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    return units_parse_u64(s, len, 0, UINT64_MAX, out);
}

static int parse_u32(const char *s, size_t len, uint32_t min, uint32_t *out)
{
    uint64_t v;
    if (units_parse_u64(s, len, min, UINT32_MAX, &v) < 0)
        return SG_EINVAL;
    *out = (uint32_t)v;
    return SG_OK;
}

/* "0x" then 1..8 hex digits, and bits that name a usable (non-zero) target. */
static int parse_bits(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;
    u256 target;
    if (len < 3 || len > 10 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return SG_EINVAL;
    for (size_t i = 2; i < len; i++) {
        int d = hash_hex_digit(s[i]);
        if (d < 0)
            return SG_EINVAL;
        v = v << 4 | (uint32_t)d;
    }
    if (pow_bits_to_target(v, &target) < 0)
        return SG_EINVAL;
    int nonzero = 0;
    for (int i = 0; i < 8; i++)
        nonzero |= target.w[i] != 0;
    if (!nonzero)
        return SG_EINVAL;
    *out = v;
    return SG_OK;
}

static int parse_key32(const char *s, size_t len, uint8_t out[32])
{
    char buf[65];
    if (len != 64)
        return SG_EINVAL;
    memcpy(buf, s, 64);
    buf[64] = '\0';
    return hash_unhex(buf, out, 32);
}

/* Splits off the next blank-separated token; 0 when none is left. */
static int next_token(const char **s, const char *end, const char **tok, size_t *len)
{
    const char *p = *s;
    while (p < end && is_space(*p))
        p++;
    if (p == end)
        return 0;
    *tok = p;
    while (p < end && !is_space(*p))
        p++;
    *len = (size_t)(p - *tok);
    *s = p;
    return 1;
}

/* ---- the parser ---------------------------------------------------------- */

typedef struct {
    chain_params *p;
    int seen[K_COUNT];       /* line that set each key; 0 = default */
    hmap alloc_keys;         /* duplicate pubkeys are refused */
    uint32_t alloc_cap;
    uint64_t alloc_sum;      /* must fit: it is the genesis money supply */
} params_parser;

static int parse_alloc(params_parser *ps, const char *v, const char *end)
{
    chain_params *p = ps->p;
    const char *tok;
    size_t len;
    params_alloc a;

    if (!next_token(&v, end, &tok, &len) || parse_key32(tok, len, a.pubkey) < 0)
        return SG_EINVAL;
    if (!next_token(&v, end, &tok, &len) || parse_u64(tok, len, &a.balance) < 0)
        return SG_EINVAL;
    if (next_token(&v, end, &tok, &len) || hmap_get(&ps->alloc_keys, a.pubkey) != NULL ||
        p->n_allocs >= PARAMS_MAX_ALLOCS ||
        __builtin_add_overflow(ps->alloc_sum, a.balance, &ps->alloc_sum))
        return SG_EINVAL;
    if (p->n_allocs == ps->alloc_cap) {
        uint32_t cap = ps->alloc_cap ? ps->alloc_cap * 2 : 16;
        params_alloc *na = realloc(p->allocs, cap * sizeof *na);
        if (na == NULL)
            return SG_ENOMEM;
        p->allocs = na;
        ps->alloc_cap = cap;
    }
    /* The map's value only marks presence; it must be non-NULL. */
    if (hmap_put(&ps->alloc_keys, a.pubkey, (void *)ps) < 0)
        return SG_ENOMEM;
    p->allocs[p->n_allocs++] = a;
    return SG_OK;
}

/* One "key value" pair; v..end is the value with blanks trimmed. */
static int parse_pair(params_parser *ps, int key, const char *v, const char *end)
{
    chain_params *p = ps->p;
    size_t len = (size_t)(end - v);
    uint64_t u;

    if (key == K_NAME) {
        if (!name_ok(v, len) || memchr(v, '\t', len) != NULL)
            return SG_EINVAL;
        memcpy(p->name, v, len);
        p->name[len] = '\0';
        return SG_OK;
    }
    /* Every other value is one token. */
    for (size_t i = 0; i < len; i++)
        if (is_space(v[i]))
            return SG_EINVAL;
    switch (key) {
    case K_GENESIS_TIME:
        /* The header's time field is 32 bits. */
        if (parse_u64(v, len, &u) < 0 || u > UINT32_MAX)
            return SG_EINVAL;
        p->genesis_time = u;
        return SG_OK;
    case K_BITS:
        return parse_bits(v, len, &p->bits);
    case K_BLOCK_REWARD:
        /* A zero reward admits no valid coinbase, so no block at all. */
        if (parse_u64(v, len, &u) < 0 || u == 0)
            return SG_EINVAL;
        p->block_reward = u;
        return SG_OK;
    case K_TICK_MS:
        return parse_u32(v, len, 1, &p->tick_ms);
    case K_INTERVAL_MINUTES:
        return parse_u32(v, len, 1, &p->interval_minutes);
    case K_SIM_START:
        return parse_u64(v, len, &p->sim_start);
    case K_MARKET:
        return params_market_parse(v, len, &p->market_rule);
    case K_RETAIL_PRICE:
        if (parse_u64(v, len, &u) < 0 || u == 0)
            return SG_EINVAL;
        p->retail_price = u;
        return SG_OK;
    case K_FEED_IN_PRICE:
        return parse_u64(v, len, &p->feed_in_price);
    case K_SEED:
        return parse_u64(v, len, &p->seed);
    case K_BLOCK_INTERVAL:
        return parse_u32(v, len, 0, &p->block_interval_ms);
    case K_HALFLIFE:
        return parse_u32(v, len, 1, &p->retarget_halflife_ms);
    case K_OPERATOR:
        if (parse_key32(v, len, p->operator_key) < 0 || hash_is_zero(p->operator_key))
            return SG_EINVAL;
        return SG_OK;
    default:
        return SG_EINVAL;
    }
}

static int parse_line(params_parser *ps, const char *s, const char *end, int line)
{
    const char *key, *hash;
    size_t klen;

    if (memchr(s, '\0', (size_t)(end - s)) != NULL)
        return SG_EINVAL;
    hash = memchr(s, '#', (size_t)(end - s));
    if (hash != NULL)
        end = hash;
    if (!next_token(&s, end, &key, &klen))
        return SG_OK;                        /* blank or comment only */
    while (s < end && is_space(*s))
        s++;
    while (end > s && is_space(end[-1]))
        end--;
    if (klen == 5 && memcmp(key, "alloc", 5) == 0)
        return parse_alloc(ps, s, end);
    for (int k = 0; k < K_COUNT; k++) {
        if (strlen(params_key_names[k]) != klen || memcmp(params_key_names[k], key, klen) != 0)
            continue;
        if (ps->seen[k] || s == end)
            return SG_EINVAL;
        ps->seen[k] = line;
        return parse_pair(ps, k, s, end);
    }
    return SG_EINVAL;                        /* unknown key */
}

/* A retargeting chain needs a half-life and a start within its limit. */
static int retarget_ok(const chain_params *p)
{
    u256 target, limit;
    if (p->block_interval_ms == 0)
        return 1;
    asert_pow_limit(&limit);
    return p->retarget_halflife_ms > 0 && pow_bits_to_target(p->bits, &target) == SG_OK &&
           u256_cmp(&target, &limit) <= 0;
}

static int later_line(int a, int b)
{
    return a > b ? a : b;
}

int params_parse(const char *text, size_t len, chain_params *p, int *bad_line)
{
    params_parser ps;
    const char *s = text, *end = text + len;
    int line = 0, rc = SG_OK, bad = 0;

    params_init_defaults(p);
    memset(&ps, 0, sizeof ps);
    ps.p = p;
    hmap_init(&ps.alloc_keys);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *eol = nl ? nl : end;
        line++;
        rc = parse_line(&ps, s, eol, line);
        if (rc < 0) {
            bad = line;
            goto out;
        }
        s = nl ? nl + 1 : end;
    }
    rc = SG_EINVAL;
    if (!ps.seen[K_OPERATOR] || !ps.seen[K_BITS]) {
        bad = line + 1;
        goto out;
    }
    /* No order price could satisfy feed_in <= price <= retail otherwise. */
    if (p->feed_in_price > p->retail_price) {
        bad = later_line(ps.seen[K_FEED_IN_PRICE], ps.seen[K_RETAIL_PRICE]);
        goto out;
    }
    if (!retarget_ok(p)) {
        bad = later_line(ps.seen[K_BLOCK_INTERVAL],
                         later_line(ps.seen[K_HALFLIFE], ps.seen[K_BITS]));
        goto out;
    }
    rc = SG_OK;
out:
    hmap_free(&ps.alloc_keys);
    if (rc < 0) {
        params_free(p);
        params_init_defaults(p);
        /* Only text errors carry a line; resource failures do not. */
        if (rc != SG_EINVAL)
            bad = 0;
    }
    if (bad_line != NULL)
        *bad_line = rc < 0 ? bad : 0;
    return rc;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, alloc = 0;
    int rc = SG_OK;

    if (f == NULL)
        return SG_EIO;
    for (;;) {
        if (n == alloc) {
            if (alloc >= PARAMS_FILE_MAX) {
                rc = SG_ETOOBIG;
                goto out;
            }
            alloc = alloc ? alloc * 2 : 4096;
            char *nb = realloc(buf, alloc + 1);
            if (nb == NULL) {
                rc = SG_ENOMEM;
                goto out;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, alloc - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        rc = SG_EIO;
    else if (n > PARAMS_FILE_MAX)
        rc = SG_ETOOBIG;
out:
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return SG_OK;
}

int params_load(const char *path, chain_params *p, int *bad_line)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len);

    if (rc < 0) {
        params_init_defaults(p);
        if (bad_line != NULL)
            *bad_line = 0;
        return rc;
    }
    rc = params_parse(text, len, p, bad_line);
    free(text);
    return rc;
}

/* ---- saving -------------------------------------------------------------- */

static int params_valid(const chain_params *p)
{
    size_t nlen = strnlen(p->name, sizeof p->name);
    u256 target;
    if (nlen > PARAMS_NAME_MAX || !name_ok(p->name, nlen) || memchr(p->name, '\t', nlen))
        return 0;
    if (p->market_rule >= PARAMS_N_MARKETS || p->genesis_time > UINT32_MAX ||
        p->tick_ms == 0 || p->interval_minutes == 0 || p->block_reward == 0 ||
        p->retail_price == 0 || p->feed_in_price > p->retail_price ||
        hash_is_zero(p->operator_key) || p->n_allocs > PARAMS_MAX_ALLOCS || !retarget_ok(p) ||
        (p->n_allocs > 0 && p->allocs == NULL))
        return 0;
    return pow_bits_to_target(p->bits, &target) == SG_OK;
}

static void write_params(FILE *f, const chain_params *p)
{
    char hex[65];
    fprintf(f, "# smart grid chain parameters (genesis)\n");
    fprintf(f, "name %s\n", p->name);
    fprintf(f, "genesis_time %llu\n", (unsigned long long)p->genesis_time);
    fprintf(f, "bits 0x%08x\n", (unsigned)p->bits);
    if (p->block_interval_ms != 0) {
        fprintf(f, "block_interval_ms %u\n", (unsigned)p->block_interval_ms);
        fprintf(f, "retarget_halflife_ms %u\n", (unsigned)p->retarget_halflife_ms);
    }
    fprintf(f, "block_reward %llu\n", (unsigned long long)p->block_reward);
    fprintf(f, "tick_ms %u\n", (unsigned)p->tick_ms);
    fprintf(f, "interval_minutes %u\n", (unsigned)p->interval_minutes);
    fprintf(f, "sim_start %llu\n", (unsigned long long)p->sim_start);
    fprintf(f, "market %s\n", params_market_name(p->market_rule));
    fprintf(f, "retail_price %llu\n", (unsigned long long)p->retail_price);
    fprintf(f, "feed_in_price %llu\n", (unsigned long long)p->feed_in_price);
    fprintf(f, "seed %llu\n", (unsigned long long)p->seed);
    hash_hex(p->operator_key, 32, hex);
    fprintf(f, "operator %s\n", hex);
    for (uint32_t i = 0; i < p->n_allocs; i++) {
        hash_hex(p->allocs[i].pubkey, 32, hex);
        fprintf(f, "alloc %s %llu\n", hex, (unsigned long long)p->allocs[i].balance);
    }
}

/* Written to a temporary name and renamed, so a reader never sees half a
 * genesis file. */
int params_save(const char *path, const chain_params *p)
{
    char *tmp = NULL;
    FILE *f = NULL;
    int rc = SG_EIO;

    if (!params_valid(p))
        return SG_EINVAL;
    size_t plen = strlen(path) + sizeof ".tmp";
    tmp = malloc(plen);
    if (tmp == NULL) {
        rc = SG_ENOMEM;
        goto out;
    }
    snprintf(tmp, plen, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        goto out;
    write_params(f, p);
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
        goto out;
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0)
        goto out;
    rc = SG_OK;
out:
    if (f != NULL)
        fclose(f);
    if (rc < 0 && tmp != NULL)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- genesis ------------------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* sha256d of the canonical encoding, streamed so that no allocation (and so
 * no failure) is needed however many allocations there are.  Layout, all
 * little-endian: "SGGN" u8(1) u16 name_len name u64 genesis_time u32 bits
 * u64 reward u32 tick_ms u32 interval_minutes u64 sim_start u8 market
 * u64 retail u64 feed_in u64 seed operator[32] u32 n_allocs, then
 * pubkey[32] u64 balance per allocation in file order.  A retargeting
 * chain (block_interval_ms > 0) appends u32 block_interval_ms
 * u32 retarget_halflife_ms after the allocations, so fixed-difficulty
 * chains keep the ids they always had. */
static void params_digest(const chain_params *p, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    uint8_t b[4 + 1 + 2 + PARAMS_NAME_MAX + 8 + 4 + 8 + 4 + 4 + 8 + 1 + 8 + 8 + 8 + 32 + 4];
    uint8_t first[32];
    size_t nlen = strnlen(p->name, sizeof p->name), n = 0;

    if (nlen > PARAMS_NAME_MAX)
        nlen = PARAMS_NAME_MAX;
    memcpy(b, "SGGN", 4); n += 4;
    b[n++] = 1;
    put_le(b + n, nlen, 2); n += 2;
    memcpy(b + n, p->name, nlen); n += nlen;
    put_le(b + n, p->genesis_time, 8); n += 8;
    put_le(b + n, p->bits, 4); n += 4;
    put_le(b + n, p->block_reward, 8); n += 8;
    put_le(b + n, p->tick_ms, 4); n += 4;
    put_le(b + n, p->interval_minutes, 4); n += 4;
    put_le(b + n, p->sim_start, 8); n += 8;
    b[n++] = p->market_rule;
    put_le(b + n, p->retail_price, 8); n += 8;
    put_le(b + n, p->feed_in_price, 8); n += 8;
    put_le(b + n, p->seed, 8); n += 8;
    memcpy(b + n, p->operator_key, 32); n += 32;
    put_le(b + n, p->n_allocs, 4); n += 4;

    /* libsodium's SHA-256 is plain C and works before sodium_init, which
     * only picks faster code paths; calling it keeps to the documented use. */
    if (sodium_init() < 0) {
        /* Only feature detection failed; the portable code still runs. */
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, b, n);
    for (uint32_t i = 0; i < p->n_allocs; i++) {
        uint8_t a[40];
        memcpy(a, p->allocs[i].pubkey, 32);
        put_le(a + 32, p->allocs[i].balance, 8);
        crypto_hash_sha256_update(&st, a, sizeof a);
    }
    if (p->block_interval_ms != 0) {
        uint8_t r[8];
        put_le(r, p->block_interval_ms, 4);
        put_le(r + 4, p->retarget_halflife_ms, 4);
        crypto_hash_sha256_update(&st, r, sizeof r);
    }
    crypto_hash_sha256_final(&st, first);
    hash_sha256(first, sizeof first, out);
}

void params_genesis_header(const chain_params *p, proto_header *h)
{
    memset(h, 0, sizeof *h);
    h->version = 1;
    params_digest(p, h->merkle);
    h->time = (uint32_t)p->genesis_time;
    h->bits = p->bits;
    h->nonce = 0;
}

void params_chain_id(const chain_params *p, uint8_t id[32])
{
    proto_header h;
    params_genesis_header(p, &h);
    pow_header_hash(&h, id);
}
