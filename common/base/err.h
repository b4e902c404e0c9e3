/*
 * err.h - the project's error codes.
 *
 * Every function that can fail returns 0 (SG_OK) or one of these negative
 * codes; words are attached only at the edge (a daemon's main, the CLI) with
 * sg_strerror().  This is the one leaf header every room may include, proto/
 * too: it knows nothing but numbers.
 */
#ifndef SG_ERR_H
#define SG_ERR_H

enum sg_err {
    SG_OK = 0,
    SG_ENOMEM = -1,      /* allocation failed */
    SG_EINVAL = -2,      /* caller passed something malformed */
    SG_ETRUNC = -3,      /* input ended before the structure did */
    SG_ETOOBIG = -4,     /* a length or count over its cap */
    SG_ETRAILING = -5,   /* bytes left after a complete structure */
    SG_EFRAME = -6,      /* bad frame header (zero length, unknown type) */
    SG_EIO = -7,         /* read/write/fsync failed; errno has detail */
    SG_ECORRUPT = -8,    /* stored data failed its checksum */
    SG_EBADSIG = -9,     /* Ed25519 signature does not verify */
    SG_EBADPOW = -10,    /* header hash above target, or wrong bits */
    SG_EMERKLE = -11,    /* merkle root does not match the transactions */
    SG_ETIME = -12,      /* block time outside the allowed window */
    SG_ECOINBASE = -13,  /* missing, misplaced or wrong-amount coinbase */
    SG_EBALANCE = -14,   /* a balance would go negative */
    SG_ENONCE = -15,     /* account nonce does not match (replay or gap) */
    SG_ESETTLE = -16,    /* settlement breaks a market rule */
    SG_EORDER = -17,     /* offer/bid invalid (interval closed, zero amount) */
    SG_EDUP = -18,       /* already known (block, tx) */
    SG_EORPHAN = -19,    /* parent unknown; held for later */
    SG_EINVALID = -20,   /* block or tx fails a consensus rule not named above */
    SG_EFULL = -21,      /* a bounded pool or buffer is full */
    SG_ENOTFOUND = -22,  /* looked-up item does not exist */
    SG_EAUTH = -23,      /* peer failed authentication */
    SG_ECRYPTO = -24,    /* AEAD decryption failed (tampered or replayed) */
    SG_EPROTO = -25,     /* message valid as bytes but wrong for the state */
    SG_ECLOSED = -26,    /* the other side went away */
    SG_ETIMEOUT = -27,   /* a deadline passed */
    SG_ECANCELED = -28,  /* work stopped on request */
    SG_EUNSUPPORTED = -29, /* feature absent from this build or machine */
    SG_EDB = -30,        /* database refused or failed */
    SG_ELOCKED = -31,    /* data directory held by another process */
    SG_EFOREIGN = -32,   /* a database table another program made */
    SG_EFUTURE = -33,    /* block time too far ahead of our clock (not invalid) */
};

/* A static, human-readable description; never NULL. */
const char *sg_strerror(int err);

#endif
