/*
 * keys.c - identity and cluster key files; see keys.h.
 */
#include "common/link/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/core/hash.h"

/* Reads exactly nbytes as 2*nbytes hex digits and an optional newline. */
static int read_hex_file(const char *path, uint8_t *out, size_t nbytes)
{
    char buf[300];
    FILE *f = fopen(path, "r");
    if (!f)
        return SG_EIO;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr)
        return SG_EIO;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n != nbytes * 2)
        return SG_EINVAL;
    return hash_unhex(buf, out, nbytes) == 0 ? 0 : SG_EINVAL;
}

/* Creates path (failing if it exists) with mode 0600 and the hex of bytes. */
static int write_hex_file(const char *path, const uint8_t *bytes, size_t nbytes)
{
    char hex[300];
    int rc = SG_EIO;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return SG_EIO;
    hash_hex(bytes, nbytes, hex);
    size_t len = strlen(hex);
    hex[len++] = '\n';
    if (write(fd, hex, len) == (ssize_t)len && fsync(fd) == 0)
        rc = 0;
    sodium_memzero(hex, sizeof hex);
    if (close(fd) != 0)
        rc = SG_EIO;
    if (rc != 0)
        unlink(path);
    return rc;
}

int keys_identity_create(const char *path, uint8_t sk[64], uint8_t pk[32])
{
    if (sodium_init() < 0)
        return SG_EIO;
    crypto_sign_keypair(pk, sk);
    return write_hex_file(path, sk, 64);
}

int keys_identity_load(const char *path, uint8_t sk[64], uint8_t pk[32], int *created)
{
    uint8_t seed[32], check_pk[32], check_sk[64];
    *created = 0;
    if (sodium_init() < 0)
        return SG_EIO;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        *created = 1;
        return keys_identity_create(path, sk, pk);
    }
    int rc = read_hex_file(path, sk, 64);
    if (rc != 0)
        return rc;
    /* The public half must be the seed's: a hand-edited file would
     * otherwise sign with one key and advertise another. */
    memcpy(seed, sk, 32);
    crypto_sign_seed_keypair(check_pk, check_sk, seed);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(check_sk, sizeof check_sk);
    if (memcmp(check_pk, sk + 32, 32) != 0)
        return SG_EINVAL;
    memcpy(pk, sk + 32, 32);
    return 0;
}

int keys_cluster_load(const char *path, uint8_t key[32])
{
    return read_hex_file(path, key, 32);
}

int keys_cluster_create(const char *path, uint8_t key[32])
{
    if (sodium_init() < 0)
        return SG_EIO;
    randombytes_buf(key, 32);
    return write_hex_file(path, key, 32);
}
