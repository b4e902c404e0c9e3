#include "common/core/tx.h"

#include <sodium.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"

/* The domain tag keeps a transaction signature from ever being valid as a
 * signature over anything else this project signs. */
static const uint8_t tx_sig_tag[4] = { 'S', 'G', 'T', 'X' };

int tx_id(const proto_tx *tx, uint8_t id[32])
{
    proto_wr wr;
    proto_wr_init(&wr, PROTO_TX_MAX_SIZE);
    proto_tx_write(&wr, tx, 1);
    int rc = wr.err;
    if (rc == 0)
        hash_sha256d(wr.p, wr.len, id);
    proto_wr_free(&wr);
    return rc;
}

int tx_sig_message(proto_wr *wr, const proto_tx *tx, const uint8_t chain_id[32])
{
    proto_wr_init(wr, sizeof tx_sig_tag + 32 + PROTO_TX_MAX_SIZE);
    proto_put_bytes(wr, tx_sig_tag, sizeof tx_sig_tag);
    proto_put_bytes(wr, chain_id, 32);
    proto_tx_write(wr, tx, 0);
    return wr->err;
}

static int is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int tx_sign(proto_tx *tx, const uint8_t sk[64], const uint8_t chain_id[32])
{
    proto_wr wr;
    int rc;

    if (sodium_init() < 0)
        return SG_ECRYPTO;
    /* A libsodium secret key ends with its public key: signing for a
     * different `from` would only produce a tx that never verifies. */
    if (tx->kind == PROTO_TX_COINBASE || memcmp(sk + 32, tx->from, 32) != 0)
        return SG_EINVAL;
    rc = tx_sig_message(&wr, tx, chain_id);
    if (rc < 0)
        goto out;
    if (crypto_sign_detached(tx->sig, NULL, wr.p, wr.len, sk) != 0)
        rc = SG_ECRYPTO;
out:
    proto_wr_free(&wr);
    return rc;
}

int tx_verify_sig(const proto_tx *tx, const uint8_t chain_id[32])
{
    proto_wr wr;
    int rc;

    if (tx->kind == PROTO_TX_COINBASE)
        return is_zero(tx->from, 32) && is_zero(tx->sig, 64) ? SG_OK : SG_EBADSIG;
    if (sodium_init() < 0)
        return SG_ECRYPTO;
    rc = tx_sig_message(&wr, tx, chain_id);
    if (rc < 0)
        goto out;
    if (crypto_sign_verify_detached(tx->sig, wr.p, wr.len, tx->from) != 0)
        rc = SG_EBADSIG;
out:
    proto_wr_free(&wr);
    return rc;
}

/* Fills sorted by order id strictly ascending: distinct, and one canonical
 * encoding per settlement.  A fill moving no energy at all is pointless. */
static int tx_check_settle(const proto_tx *tx)
{
    const proto_fill *f = tx->u.settle.fills;
    uint32_t n = tx->u.settle.n_fills;

    if (n > PROTO_SETTLE_MAX_FILLS || (n > 0 && f == NULL))
        return SG_EINVALID;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t sum;
        if (__builtin_add_overflow(f[i].traded_wh, f[i].grid_wh, &sum) || sum == 0)
            return SG_EINVALID;
        if (i > 0 && memcmp(f[i - 1].order, f[i].order, 32) >= 0)
            return SG_EINVALID;
    }
    return SG_OK;
}

int tx_check(const proto_tx *tx)
{
    if (tx->version != PROTO_TX_VERSION)
        return SG_EINVALID;
    switch (tx->kind) {
    case PROTO_TX_COINBASE:
        if (!is_zero(tx->from, 32) || !is_zero(tx->sig, 64) || tx->u.pay.amount == 0)
            return SG_EINVALID;
        return SG_OK;
    case PROTO_TX_TRANSFER:
        return tx->u.pay.amount > 0 ? SG_OK : SG_EINVALID;
    case PROTO_TX_OFFER:
    case PROTO_TX_BID:
        if (tx->u.order.energy_wh == 0 || tx->u.order.price == 0)
            return SG_EINVALID;
        return SG_OK;
    case PROTO_TX_SETTLEMENT:
        return tx_check_settle(tx);
    default:
        return SG_EINVALID;
    }
}
