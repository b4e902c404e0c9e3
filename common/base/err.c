#include "common/base/err.h"

const char *sg_strerror(int err)
{
    switch (err) {
    case SG_OK: return "success";
    case SG_ENOMEM: return "out of memory";
    case SG_EINVAL: return "invalid argument";
    case SG_ETRUNC: return "truncated input";
    case SG_ETOOBIG: return "length or count over its limit";
    case SG_ETRAILING: return "trailing bytes after a complete message";
    case SG_EFRAME: return "bad frame header";
    case SG_EIO: return "I/O error";
    case SG_ECORRUPT: return "stored data is corrupt";
    case SG_EBADSIG: return "bad signature";
    case SG_EBADPOW: return "proof of work does not meet the target, or wrong bits";
    case SG_EMERKLE: return "merkle root mismatch";
    case SG_ETIME: return "block time out of range";
    case SG_ECOINBASE: return "bad coinbase";
    case SG_EBALANCE: return "insufficient balance";
    case SG_ENONCE: return "wrong account nonce";
    case SG_ESETTLE: return "settlement breaks a market rule";
    case SG_EORDER: return "invalid energy order";
    case SG_EDUP: return "already known";
    case SG_EORPHAN: return "parent block unknown";
    case SG_EINVALID: return "fails a consensus rule";
    case SG_EFULL: return "pool or buffer full";
    case SG_ENOTFOUND: return "not found";
    case SG_EAUTH: return "authentication failed";
    case SG_ECRYPTO: return "decryption failed";
    case SG_EPROTO: return "protocol violation";
    case SG_ECLOSED: return "connection closed";
    case SG_ETIMEOUT: return "timed out";
    case SG_ECANCELED: return "canceled";
    case SG_EUNSUPPORTED: return "not supported by this build or machine";
    case SG_EDB: return "database error";
    case SG_ELOCKED: return "data directory is in use by another process";
    case SG_EFOREIGN: return "a database table of that name was made by another program";
    case SG_EFUTURE: return "block time too far in the future";
    }
    return "unknown error";
}
