/*
 * pow.h - targets, compact bits, chainwork and the proof-of-work check.
 *
 * Integers only.  A 256-bit number is u256, eight 32-bit limbs, least
 * significant first; a hash read as a number is little-endian over its 32
 * bytes (Bitcoin's rule: the displayed hash, reversed, is the number).
 */
#ifndef SG_POW_H
#define SG_POW_H

#include <stdint.h>
#include "proto/block.h"

typedef struct { uint32_t w[8]; } u256;

void u256_from_hash(u256 *out, const uint8_t h[32]);
void u256_to_hash(const u256 *a, uint8_t h[32]);
int u256_cmp(const u256 *a, const u256 *b);
/* a + b; saturates at 2^256 - 1 (cannot happen for real chainwork). */
void u256_add(u256 *out, const u256 *a, const u256 *b);
/* Number of significant bits (0 for zero). */
int u256_bits(const u256 *a);
/* Shifts in place; shifts of 256 or more give zero, as arith_uint256 does. */
void u256_shl(u256 *a, unsigned n);
void u256_shr(u256 *a, unsigned n);
/* Display as 64 hex digits, most significant first; out holds 65 chars. */
void u256_hex(const u256 *a, char out[65]);

/* Compact "bits" <-> target, exactly as Bitcoin's SetCompact/GetCompact.
 * pow_bits_to_target returns SG_EINVAL for negative or overflowing bits. */
int pow_bits_to_target(uint32_t bits, u256 *target);
uint32_t pow_target_to_bits(const u256 *target);

/* --difficulty N (N leading zero hex digits, 1..63) -> 2^(256-4N) - 1, then
 * rounded down to what compact bits can express (bits are what the header
 * carries).  SG_EINVAL for N out of range. */
int pow_difficulty_to_bits(int n, uint32_t *bits);

/* Expected hashes to meet target: 2^256 / (target + 1). */
void pow_work(const u256 *target, u256 *work);

/* sha256d of the 80-byte header. */
void pow_header_hash(const proto_header *h, uint8_t out[32]);
/* 0 if the header's hash is at or below the target its bits encode;
 * SG_EBADPOW if not, or if bits are malformed. */
int pow_check(const proto_header *h);

/* Plain nonce search for tests and tools (the fast miners are in kernels/):
 * tries nonces from h->nonce for up to `count` attempts; 0 and h->nonce set
 * when found, SG_ENOTFOUND otherwise. */
int pow_search_simple(proto_header *h, uint64_t count);

#endif
