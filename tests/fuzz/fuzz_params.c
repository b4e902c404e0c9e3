/* Fuzzes the genesis parameter parser with the input written out as a
 * genesis file.  Checks: params_load and params_parse agree; a refusal is
 * SG_EINVAL with a line inside the file (or one past it) or SG_ETOOBIG;
 * whatever is accepted saves, reloads to the same fields and chain id, and
 * starts a ledger holding exactly the allocated money. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/core/ledger.h"
#include "common/core/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_in[4096], fuzz_out[4096 + 16];

static void fuzz_cleanup(void)
{
    unlink(fuzz_in);
    unlink(fuzz_out);
}

/* One pair of scratch files per process, removed at exit. */
static void fuzz_paths(void)
{
    const char *dir = getenv("TMPDIR");
    int fd;
    if (fuzz_in[0] != '\0')
        return;
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    snprintf(fuzz_in, sizeof fuzz_in, "%s/fuzz_params.XXXXXX", dir);
    if ((fd = mkstemp(fuzz_in)) < 0)
        abort();
    close(fd);
    snprintf(fuzz_out, sizeof fuzz_out, "%s.saved", fuzz_in);
    atexit(fuzz_cleanup);
}

static void write_input(const uint8_t *data, size_t size)
{
    FILE *f = fopen(fuzz_in, "wb");
    if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
}

static int count_lines(const uint8_t *data, size_t size)
{
    int n = 0;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            n++;
    return size > 0 && data[size - 1] != '\n' ? n + 1 : n;
}

static void check_same(const chain_params *a, const chain_params *b)
{
    uint8_t ida[32], idb[32];
    if (strcmp(a->name, b->name) != 0 || a->genesis_time != b->genesis_time ||
        a->bits != b->bits || a->block_reward != b->block_reward || a->tick_ms != b->tick_ms ||
        a->interval_minutes != b->interval_minutes || a->sim_start != b->sim_start ||
        a->market_rule != b->market_rule || a->retail_price != b->retail_price ||
        a->feed_in_price != b->feed_in_price || a->seed != b->seed ||
        memcmp(a->operator_key, b->operator_key, 32) != 0 || a->n_allocs != b->n_allocs)
        abort();
    for (uint32_t i = 0; i < a->n_allocs; i++)
        if (memcmp(&a->allocs[i], &b->allocs[i], sizeof a->allocs[i]) != 0)
            abort();
    params_chain_id(a, ida);
    params_chain_id(b, idb);
    if (memcmp(ida, idb, 32) != 0)
        abort();
}

static void check_ledger(const chain_params *p)
{
    ledger *l;
    uint64_t total = 0, sum = 0;
    uint8_t h[32];
    for (uint32_t i = 0; i < p->n_allocs; i++)
        sum += p->allocs[i].balance;     /* the parser refuses an overflow */
    if (ledger_new(&l, p) != 0)
        abort();
    if (ledger_total_money(l, &total) != 0 || total != sum || ledger_state_hash(l, h) != 0)
        abort();
    ledger_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chain_params p, q, r;
    int bad = -1, bad_mem = -1, rc, rc_mem;

    fuzz_paths();
    write_input(data, size);
    rc = params_load(fuzz_in, &p, &bad);
    rc_mem = params_parse((const char *)data, size, &q, &bad_mem);
    if (rc != rc_mem || bad != bad_mem)
        abort();
    params_free(&q);
    if (rc != 0) {
        if (rc != SG_EINVAL || bad < 1 || bad > count_lines(data, size) + 1 || p.n_allocs != 0)
            abort();
        params_free(&p);
        return 0;
    }
    if (bad != 0 || params_save(fuzz_out, &p) != 0 || params_load(fuzz_out, &r, &bad) != 0)
        abort();
    check_same(&p, &r);
    check_ledger(&p);
    params_free(&r);
    params_free(&p);
    return 0;
}
