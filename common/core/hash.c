/* The SHA256_Init/Update/Final calls are deprecated in OpenSSL 3 but kept,
 * and they are what a daemon needs: the one-shot SHA256() goes through the
 * EVP layer, whose first use loads the configuration and the default
 * provider and so touches about 2 MiB of libcrypto in every process (a
 * daemon's RSS was 8.5 MiB, of which 6 shared library pages), while these
 * run the same SHA-NI/AVX block code directly, without a fetch per call. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "common/core/hash.h"

#include <openssl/sha.h>
#include <string.h>

#include "common/base/err.h"

/* In-memory SHA-256 cannot fail, so these keep the void signatures the
 * header promises. */
void hash_sha256(const void *in, size_t len, uint8_t out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, in, len);
    SHA256_Final(out, &c);
}

void hash_sha256d(const void *in, size_t len, uint8_t out[32])
{
    uint8_t first[32];
    hash_sha256(in, len, first);
    hash_sha256(first, sizeof first, out);
}

static const char hex_digits[] = "0123456789abcdef";

void hash_hex(const uint8_t *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}

void hash_to_hex_display(const uint8_t h[32], char out[65])
{
    uint8_t r[32];
    for (int i = 0; i < 32; i++)
        r[i] = h[31 - i];
    hash_hex(r, 32, out);
}

int hash_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hash_unhex(const char *hex, uint8_t *out, size_t len)
{
    /* Validate everything before writing, so out is untouched on error. */
    if (hex == NULL || strnlen(hex, 2 * len + 1) != 2 * len)
        return SG_EINVAL;
    for (size_t i = 0; i < 2 * len; i++)
        if (hash_hex_digit(hex[i]) < 0)
            return SG_EINVAL;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(hash_hex_digit(hex[2 * i]) << 4 |
                           hash_hex_digit(hex[2 * i + 1]));
    return SG_OK;
}

int hash_from_hex_display(const char *hex, uint8_t h[32])
{
    uint8_t tmp[32];
    int rc = hash_unhex(hex, tmp, sizeof tmp);
    if (rc != SG_OK)
        return rc;
    for (int i = 0; i < 32; i++)
        h[i] = tmp[31 - i];
    return SG_OK;
}
