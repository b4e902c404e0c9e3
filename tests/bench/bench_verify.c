/*
 * bench_verify - Ed25519 signature checks per second: the ceiling for
 * transaction throughput, since every transfer a daemon accepts is verified
 * once (tx_verify_sig, libsodium's crypto_sign_verify_detached underneath).
 *
 * Two rows per thread count: "raw" verifies one fixed 128-byte message
 * (the library call alone); "tx_verify_sig" verifies a signed transfer the
 * way the daemon does (encoding + domain tag + verify).  Rates are given per
 * second of wall time and per second of CPU time the threads received (on
 * a shared machine the wall rate also measures the neighbours).
 *
 * usage: bench_verify [SECONDS [single]]   (per measurement; default 2)
 *   single: only tx_verify_sig on one thread, as one line
 *   "verify_cpu_rate=N verify_wall_rate=N" (scripts/bench_net.sh tx takes
 *   the bound of its run from it).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/core/tx.h"

typedef struct {
    int use_tx;
    double seconds;
    const proto_tx *tx;
    const uint8_t *chain_id;
    const uint8_t *pk;
    const uint8_t *msg;
    const uint8_t *sig;
    unsigned long done;
    double cpu_s;
    int bad;
} worker;

static double now_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
    worker *w = arg;
    double c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
    double end = now_s(CLOCK_MONOTONIC) + w->seconds;

    /* Check the clock every 64 verifications (~3 ms): cheap, still exact
     * enough for a 2-s measurement. */
    while (now_s(CLOCK_MONOTONIC) < end) {
        for (int i = 0; i < 64; i++) {
            int rc = w->use_tx ? tx_verify_sig(w->tx, w->chain_id)
                               : crypto_sign_verify_detached(w->sig, w->msg, 128, w->pk);
            if (rc != 0)
                w->bad++;
        }
        w->done += 64;
    }
    w->cpu_s = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

static int measure(worker *tmpl, unsigned threads, double *wall_rate, double *cpu_rate)
{
    pthread_t th[64];
    worker w[64];
    double t0 = now_s(CLOCK_MONOTONIC);
    unsigned long total = 0;
    double cpu = 0;
    int bad = 0;

    for (unsigned i = 0; i < threads; i++) {
        w[i] = *tmpl;
        if (pthread_create(&th[i], NULL, work, &w[i]) != 0)
            return -1;
    }
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += w[i].done;
        cpu += w[i].cpu_s;
        bad += w[i].bad;
    }
    double wall = now_s(CLOCK_MONOTONIC) - t0;
    *wall_rate = (double)total / wall;
    *cpu_rate = cpu > 0 ? (double)total / cpu : 0;
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    uint8_t pk[32], sk[64], to_pk[32], to_sk[64], chain_id[32];
    uint8_t msg[128], sig[64];
    proto_tx tx;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    if (seconds <= 0 || sodium_init() < 0)
        return 2;
    if (ncpu < 1)
        ncpu = 1;
    if (ncpu > 64)
        ncpu = 64;
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(to_pk, to_sk);
    randombytes_buf(chain_id, sizeof chain_id);
    randombytes_buf(msg, sizeof msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);

    memset(&tx, 0, sizeof tx);
    tx.version = PROTO_TX_VERSION;
    tx.kind = PROTO_TX_TRANSFER;
    memcpy(tx.from, pk, 32);
    tx.nonce = 1;
    memcpy(tx.u.pay.to, to_pk, 32);
    tx.u.pay.amount = 12345;
    if (tx_sign(&tx, sk, chain_id) != 0) {
        fprintf(stderr, "bench_verify: tx_sign failed\n");
        return 1;
    }

    if (argc > 2 && strcmp(argv[2], "single") == 0) {
        worker tmpl = { .use_tx = 1, .seconds = seconds, .tx = &tx, .chain_id = chain_id };
        double wr, cr;
        if (measure(&tmpl, 1, &wr, &cr) != 0) {
            fprintf(stderr, "bench_verify: a verification failed\n");
            return 1;
        }
        printf("verify_cpu_rate=%.0f verify_wall_rate=%.0f\n", cr, wr);
        return 0;
    }
    printf("| check         | threads | verifies/s (wall) | per thread | per CPU-s |\n");
    printf("|---------------|---------|-------------------|------------|-----------|\n");
    for (int use_tx = 0; use_tx <= 1; use_tx++) {
        unsigned counts[2] = { 1, (unsigned)ncpu };
        for (int k = 0; k < (ncpu > 1 ? 2 : 1); k++) {
            unsigned t = counts[k];
            worker tmpl = { .use_tx = use_tx, .seconds = seconds, .tx = &tx,
                            .chain_id = chain_id, .pk = pk, .msg = msg, .sig = sig };
            double wr, cr;
            if (measure(&tmpl, t, &wr, &cr) != 0) {
                fprintf(stderr, "bench_verify: a verification failed\n");
                return 1;
            }
            printf("| %-13s | %7u | %17.0f | %10.0f | %9.0f |\n",
                   use_tx ? "tx_verify_sig" : "raw", t, wr, wr / t, cr);
            fflush(stdout);
        }
    }
    return 0;
}
