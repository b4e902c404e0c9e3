/*
 * tx.h - transaction identity, signatures and stateless checks.
 *
 * txid = sha256d of the full encoding (signature included; Ed25519 as
 * libsodium verifies it is not malleable).  A signature covers
 * "SGTX" || chain_id || encoding-without-signature, so a transaction cannot
 * be replayed on another chain (chain_id is the genesis block hash).
 */
#ifndef SG_TX_H
#define SG_TX_H

#include <stdint.h>
#include "proto/block.h"

int tx_id(const proto_tx *tx, uint8_t id[32]);
/* sk is a libsodium Ed25519 secret key (64 bytes); sets tx->sig. */
int tx_sign(proto_tx *tx, const uint8_t sk[64], const uint8_t chain_id[32]);
/* The exact bytes a signature covers: "SGTX" || chain_id || encoding
 * without the signature (`from`, the public key, included).  Initialises
 * wr; the caller frees it with proto_wr_free whatever the result. */
int tx_sig_message(proto_wr *wr, const proto_tx *tx, const uint8_t chain_id[32]);
/* 0 or SG_EBADSIG.  Coinbase must carry an all-zero signature and from. */
int tx_verify_sig(const proto_tx *tx, const uint8_t chain_id[32]);
/* Rules needing no state: version, known kind, non-zero amounts, sorted
 * distinct settlement fills, overflow-free sums.  0 or SG_EINVALID. */
int tx_check(const proto_tx *tx);

#endif
