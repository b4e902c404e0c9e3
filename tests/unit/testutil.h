/* Helpers shared by the unit tests. */
#ifndef SG_TESTUTIL_H
#define SG_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

/* A fresh directory under $TMPDIR (or /tmp); removed by tu_rmtree. */
char *tu_mkdtemp(void);
/* rm -rf of a directory this test made; frees path. */
void tu_rmtree(char *path);
/* Deterministic bytes from a seed, for reproducible "random" tests. */
void tu_fill(uint8_t *p, size_t n, uint64_t *state);
uint64_t tu_rand(uint64_t *state);
/* Parses hex into out; aborts the test process on bad input. */
void tu_unhex(const char *hex, uint8_t *out, size_t len);
/* A transfer of amount from from_pk (signed with from_sk, 64 bytes) to
 * to_pk with the given nonce on chain_id; returns tx_sign's code. */
int tu_transfer(proto_tx *out, const uint8_t from_pk[32], const uint8_t from_sk[64],
                const uint8_t to_pk[32], uint64_t nonce, uint64_t amount,
                const uint8_t chain_id[32]);

#endif
