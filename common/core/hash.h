/*
 * hash.h - SHA-256 and double SHA-256 through OpenSSL, and hex helpers.
 *
 * Hashes are kept in internal (wire) byte order, as Bitcoin does; block
 * explorers display them reversed, which hash_to_hex_display does.
 */
#ifndef SG_HASH_H
#define SG_HASH_H

#include <stddef.h>
#include <stdint.h>

void hash_sha256(const void *in, size_t len, uint8_t out[32]);
void hash_sha256d(const void *in, size_t len, uint8_t out[32]);

/* out holds 2*len + 1 chars, byte order as in memory. */
void hash_hex(const uint8_t *in, size_t len, char *out);
/* out holds 65 chars: the 32 bytes reversed (explorer order). */
void hash_to_hex_display(const uint8_t h[32], char out[65]);
/* Parses explorer-order hex into internal order.  0 or SG_EINVAL. */
int hash_from_hex_display(const char *hex, uint8_t h[32]);
/* The value of one hex digit (either case), or -1. */
int hash_hex_digit(char c);
/* Parses exactly 2*len hex digits in memory order.  0 or SG_EINVAL. */
int hash_unhex(const char *hex, uint8_t *out, size_t len);

static inline int hash_is_zero(const uint8_t h[32])
{
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= h[i];
    return acc == 0;
}

#endif
