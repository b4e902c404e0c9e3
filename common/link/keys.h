/*
 * keys.h - the key files a cluster is set up with: each daemon's identity
 * and the shared cluster key that admits it.  The daemons read them, their
 * keygen and cluster-key tools and the launcher's run directory write them.
 *
 * The identity is 128 hex digits (a libsodium Ed25519 secret key, seed then
 * public key) and a newline, created with mode 0600 when missing; the
 * cluster key is 64 hex digits and a newline and is never created
 * implicitly (sgnode cluster-key makes one).
 */
#ifndef SG_KEYS_H
#define SG_KEYS_H

#include <stdint.h>

/* Reads the identity key, or creates it (mode 0600, parent directory must
 * exist) when the file does not exist.  *created says which.  0, SG_EIO
 * (errno set) or SG_EINVAL (malformed file, or a public half that does not
 * match the seed). */
int keys_identity_load(const char *path, uint8_t sk[64], uint8_t pk[32], int *created);
/* Writes a fresh identity key; SG_EIO if the file exists already. */
int keys_identity_create(const char *path, uint8_t sk[64], uint8_t pk[32]);
/* Reads a cluster key file.  0, SG_EIO or SG_EINVAL. */
int keys_cluster_load(const char *path, uint8_t key[32]);
/* Writes a fresh random cluster key (mode 0600); SG_EIO if it exists. */
int keys_cluster_create(const char *path, uint8_t key[32]);

#endif
