/*
 * params.h - chain parameters and the genesis block.
 *
 * The launcher writes a genesis file; every daemon loads it (--genesis), so
 * all nodes agree on difficulty, reward, market prices, the operator's key
 * and the initial balances.  The file is text, one "key value" per line,
 * '#' comments; "alloc PUBKEYHEX AMOUNT" lines repeat.  block_interval_ms
 * and retarget_halflife_ms may be left out (a fixed difficulty, as files
 * written before retargeting existed); a non-zero interval needs a
 * half-life and a genesis target within asert_pow_limit.  The genesis block
 * commits to all of it: its merkle field is sha256d of the canonical
 * binary encoding of the parameters, so its hash (the chain id) differs
 * whenever any parameter does.
 */
#ifndef SG_PARAMS_H
#define SG_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include "proto/block.h"

#define PARAMS_MAX_ALLOCS 100000
#define PARAMS_NAME_MAX 64

enum params_market { PARAMS_MARKET_UNIFORM = 0, PARAMS_MARKET_PAY_AS_BID = 1,
                     PARAMS_MARKET_MID = 2, PARAMS_N_MARKETS = 3 };
/* The rules' names in the genesis file and on command lines, spelled out
 * for messages; params.c holds the one table (params_market_name). */
#define PARAMS_MARKET_CHOICES "uniform|pay-as-bid|mid-market"
#define PARAMS_MARKET_EXPECT "uniform, pay-as-bid or mid-market"

typedef struct {
    uint8_t pubkey[32];
    uint64_t balance;          /* micro-units */
} params_alloc;

typedef struct {
    char name[PARAMS_NAME_MAX + 1];
    uint64_t genesis_time;     /* unix seconds; also market clock origin */
    uint32_t bits;             /* genesis bits: the fixed or the starting target */
    uint32_t block_interval_ms; /* target block interval; 0 = fixed difficulty */
    uint32_t retarget_halflife_ms; /* asert.h; > 0 when block_interval_ms is */
    uint64_t block_reward;     /* micro-units per block */
    uint32_t tick_ms;          /* real time of one market interval */
    uint32_t interval_minutes; /* simulated time of one market interval */
    uint64_t sim_start;        /* unix seconds of simulated time at interval 0 */
    uint8_t market_rule;       /* enum params_market */
    uint64_t retail_price;     /* micro-units per kWh, grid sells */
    uint64_t feed_in_price;    /* micro-units per kWh, grid buys */
    uint64_t seed;
    uint8_t operator_key[32];  /* signs settlements; its account is the grid */
    uint32_t n_allocs;
    params_alloc *allocs;      /* owned */
} chain_params;

void params_init_defaults(chain_params *p);
void params_free(chain_params *p);
/* On a parse error returns SG_EINVAL and sets *bad_line (1-based; for a
 * missing required key, the line count + 1).  p needs no initialisation; on
 * return (success or not) it may be passed to params_free.  Other errors:
 * SG_EIO (cannot read), SG_ETOOBIG (file over 32 MiB), SG_ENOMEM; *bad_line
 * is then 0.  bad_line may be NULL. */
int params_load(const char *path, chain_params *p, int *bad_line);
/* The same parser on text in memory (len bytes, no NUL needed). */
int params_parse(const char *text, size_t len, chain_params *p, int *bad_line);
int params_save(const char *path, const chain_params *p);
/* Builds the genesis block (no transactions, nonce 0, no PoW required). */
/* "uniform", "pay-as-bid", "mid-market"; "?" for another number. */
const char *params_market_name(unsigned rule);
/* The len bytes at s as one of those names (exact case); 0 or SG_EINVAL. */
int params_market_parse(const char *s, size_t len, uint8_t *rule);

void params_genesis_header(const chain_params *p, proto_header *h);
void params_chain_id(const chain_params *p, uint8_t id[32]);

#endif
