#define _GNU_SOURCE
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/core/tx.h"

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *path;
    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (asprintf(&path, "%s/sgtest.XXXXXX", base) < 0)
        abort();
    if (mkdtemp(path) == NULL)
        abort();
    return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

void tu_rmtree(char *path)
{
    if (path == NULL)
        return;
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}

uint64_t tu_rand(uint64_t *state)
{
    /* splitmix64: tiny, good enough for test data, fully reproducible. */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tu_fill(uint8_t *p, size_t n, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)tu_rand(state);
}

void tu_unhex(const char *hex, uint8_t *out, size_t len)
{
    if (strlen(hex) != 2 * len)
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            abort();
        out[i] = (uint8_t)v;
    }
}

int tu_transfer(proto_tx *out, const uint8_t from_pk[32], const uint8_t from_sk[64],
                const uint8_t to_pk[32], uint64_t nonce, uint64_t amount,
                const uint8_t chain_id[32])
{
    memset(out, 0, sizeof *out);
    out->version = PROTO_TX_VERSION;
    out->kind = PROTO_TX_TRANSFER;
    memcpy(out->from, from_pk, 32);
    out->nonce = nonce;
    memcpy(out->u.pay.to, to_pk, 32);
    out->u.pay.amount = amount;
    return tx_sign(out, from_sk, chain_id);
}
