/* The control channel (common/daemon/control.h): each handler through
 * control_handle, with no socket; then one real control link (net + ctl
 * client in a thread) for the hook, log streaming and SHUTDOWN. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "common/base/err.h"
#include "common/core/chain.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/daemon/control.h"
#include "common/daemon/log.h"
#include "common/daemon/net.h"
#include "common/daemon/txlat.h"
#include "common/link/ctl.h"
#include "testutil.h"

typedef struct {
    uv_loop_t loop;
    char *dir;
    chain_params params;
    chain *chain;
    logger *lg;
    char logpath[512];
    uint8_t pk[32];
    control *c;
    net *n;
    int mining;                   /* what set_mining leaves */
    int refuse_mining;            /* set_mining leaves it off */
    int mining_calls;
    uint64_t cap;                 /* what set_hashrate leaves */
    int shutdowns;
    const char *shutdown_why;
    int net_closed;
    adv *adv;                     /* NULL: none (most tests) */
} fixture;

static void fig(void *ctx, control_runtime *out)
{
    fixture *f = ctx;
    out->mining = f->mining;
    out->hashrate = 1234;
    out->impl = "generic";
    out->loop_lag_ms_max = 7;
    out->loop_lag_ms_avg = 3;
    out->reorg_blocks = 5;
    out->blocks_mined = 9;
    out->uptime_ms = 4242;
}

static int set_mining(void *ctx, int on)
{
    fixture *f = ctx;
    f->mining_calls++;
    f->mining = f->refuse_mining ? 0 : on;
    return f->mining;
}

static uint64_t set_hashrate(void *ctx, uint64_t rate)
{
    fixture *f = ctx;
    f->cap = rate;
    return f->cap;
}

static void on_net_closed(void *arg)
{
    fixture *f = arg;
    f->net_closed = 1;
    control_close(f->c);     /* as the daemon does: after the net */
    f->c = NULL;
}

static void do_shutdown(void *ctx, const char *why)
{
    fixture *f = ctx;
    f->shutdowns++;
    f->shutdown_why = why;
    if (f->n != NULL)
        net_close(f->n, on_net_closed, f);
}

static void fixture_init(fixture *f)
{
    chain_config cc;
    chain_load_report rep;

    memset(f, 0, sizeof *f);
    ck_assert_int_ge(sodium_init(), 0);
    ck_assert_int_eq(uv_loop_init(&f->loop), 0);
    f->dir = tu_mkdtemp();
    params_init_defaults(&f->params);
    f->params.genesis_time = (uint64_t)time(NULL) - 3600;
    ck_assert_int_eq(pow_difficulty_to_bits(1, &f->params.bits), 0);
    memset(&cc, 0, sizeof cc);
    cc.params = &f->params;
    ck_assert_int_eq(chain_open(&f->chain, &cc, &rep), 0);
    snprintf(f->logpath, sizeof f->logpath, "%s/control.log", f->dir);
    ck_assert_int_eq(log_open(&f->lg, "ctl-test", f->logpath, LOG_LEVEL_DEBUG), 0);
    randombytes_buf(f->pk, 32);
}

static void control_start(fixture *f, txlat *tl, int stream)
{
    control_config cfg = {
        .loop = &f->loop, .net = f->n, .chain = f->chain, .txlat = tl,
        .name = "alpha", .role = "prosumer", .pk = f->pk, .data_dir = f->dir,
        .log = f->lg, .log_stream = stream ? f->lg : NULL, .ctx = f,
        .runtime = fig, .set_mining = set_mining, .set_hashrate = set_hashrate,
        .shutdown = do_shutdown,
        .adv = f->adv,
    };
    ck_assert_int_eq(control_new(&f->c, &cfg), 0);
}

static void fixture_end(fixture *f)
{
    control_close(f->c);
    for (int i = 0; i < 10; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&f->loop), 0);
    chain_free(f->chain);
    log_close(f->lg);
    params_free(&f->params);
    tu_rmtree(f->dir);
}

static const proto_stat *stat_find(const proto_stats *st, const char *key)
{
    for (uint32_t i = 0; i < st->n; i++)
        if (strcmp(st->items[i].key, key) == 0)
            return &st->items[i];
    return NULL;
}

/* ---- handlers without sockets ------------------------------------------- */

START_TEST(test_stats)
{
    fixture f;
    control_answer a;
    proto_stats st;
    proto_stat items[PROTO_STATS_MAX];
    static const char *const head[] = {
        "name", "role", "height", "tip", "chainwork", "peers", "mempool_txs",
        "mempool_bytes", "stale_blocks", "orphans", "reorg_blocks", "hashrate", "hashrate_cap",
        "mining", "impl", "loop_lag_ms_max", "loop_lag_ms_avg", "balance",
    };

    fixture_init(&f);
    control_start(&f, NULL, 0);
    f.mining = 1;
    uint32_t n = control_stats(f.c, items);
    ck_assert_uint_ge(n, sizeof head / sizeof head[0]);
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        ck_assert_str_eq(items[i].key, head[i]);

    control_handle(f.c, "test", PROTO_MSG_STATS_REQ, NULL, 0, &a);
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(a.type, PROTO_MSG_STATS);
    ck_assert_int_eq(proto_stats_decode(a.payload, a.len, &st), 0);
    free(a.payload);
    ck_assert_uint_eq(st.n, n);
    ck_assert_str_eq(stat_find(&st, "name")->s, "alpha");
    ck_assert_str_eq(stat_find(&st, "role")->s, "prosumer");
    ck_assert_int_eq(stat_find(&st, "height")->i, 0);
    ck_assert_int_eq(stat_find(&st, "hashrate")->i, 1234);
    ck_assert_int_eq(stat_find(&st, "mining")->i, 1);
    ck_assert_str_eq(stat_find(&st, "impl")->s, "generic");
    ck_assert_int_eq(stat_find(&st, "reorg_blocks")->i, 5);
    ck_assert_int_eq(stat_find(&st, "blocks_mined")->i, 9);
    ck_assert_int_eq(stat_find(&st, "uptime_ms")->i, 4242);
    ck_assert_int_eq(stat_find(&st, "loop_lag_ms_max")->i, 7);
    ck_assert_ptr_null(stat_find(&st, "tx_latency_tracked"));   /* no txlat */
    proto_stats_free(&st);

    /* A STATS_REQ carries nothing; one that does is refused. */
    control_handle(f.c, "test", PROTO_MSG_STATS_REQ, (const uint8_t *)"x", 1, &a);
    ck_assert_int_eq(a.type, 0);
    ck_assert_str_eq(a.drop, "unexpected control message");

    char *body = NULL;
    size_t blen = 0;
    ck_assert_int_eq(control_render_metrics(f.c, &body, &blen), 0);
    ck_assert_ptr_nonnull(strstr(body, "sg_tx_inclusion_latency_seconds"));
    free(body);
    fixture_end(&f);
}
END_TEST

static void ask_store(fixture *f, uint64_t offset, uint32_t max, control_answer *a)
{
    proto_store_read rq = { offset, max };
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(proto_store_read_encode(&rq, &buf, &len), 0);
    control_handle(f->c, "test", PROTO_MSG_STORE_READ, buf, len, a);
    free(buf);
}

START_TEST(test_store_read)
{
    fixture f;
    control_answer a;
    proto_store_data d;
    uint8_t bytes[100];
    char path[600];
    FILE *fp;

    fixture_init(&f);
    control_start(&f, NULL, 0);
    /* No store yet: the link is closed with the reason. */
    ask_store(&f, 0, 10, &a);
    ck_assert_int_eq(a.type, 0);
    ck_assert_str_eq(a.drop, "cannot open the block store");

    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)i;
    snprintf(path, sizeof path, "%s/blocks.dat", f.dir);
    ck_assert_ptr_nonnull(fp = fopen(path, "wb"));
    ck_assert_uint_eq(fwrite(bytes, 1, sizeof bytes, fp), sizeof bytes);
    fclose(fp);

    ask_store(&f, 10, 50, &a);
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(a.type, PROTO_MSG_STORE_DATA);
    ck_assert_int_eq(proto_store_data_decode(a.payload, a.len, &d), 0);
    ck_assert_uint_eq(d.offset, 10);
    ck_assert_uint_eq(d.file_size, 100);
    ck_assert_uint_eq(d.len, 50);
    ck_assert_mem_eq(d.data, bytes + 10, 50);
    free(a.payload);

    ask_store(&f, 90, 50, &a);        /* cut at the end */
    ck_assert_int_eq(proto_store_data_decode(a.payload, a.len, &d), 0);
    ck_assert_uint_eq(d.len, 10);
    free(a.payload);

    ask_store(&f, 100, 50, &a);       /* at the end: nothing, not an error */
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(proto_store_data_decode(a.payload, a.len, &d), 0);
    ck_assert_uint_eq(d.len, 0);
    ck_assert_uint_eq(d.file_size, 100);
    free(a.payload);

    control_handle(f.c, "test", PROTO_MSG_STORE_READ, (const uint8_t *)"x", 1, &a);
    ck_assert_str_eq(a.drop, "malformed STORE_READ");
    fixture_end(&f);
}
END_TEST

static int ask_mining(fixture *f, int on)
{
    proto_mining rq = { (uint8_t)on }, ack;
    control_answer a;
    uint8_t *buf = NULL;
    size_t len = 0;

    ck_assert_int_eq(proto_mining_encode(&rq, &buf, &len), 0);
    control_handle(f->c, "test", PROTO_MSG_MINING, buf, len, &a);
    free(buf);
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(a.type, PROTO_MSG_MINING_ACK);
    ck_assert_int_eq(proto_mining_decode(a.payload, a.len, &ack), 0);
    free(a.payload);
    return ack.on;
}

START_TEST(test_mining_and_shutdown)
{
    fixture f;
    control_answer a;

    fixture_init(&f);
    control_start(&f, NULL, 0);
    ck_assert_int_eq(ask_mining(&f, 1), 1);
    ck_assert_int_eq(ask_mining(&f, 0), 0);
    f.refuse_mining = 1;              /* the ack is the state, not the wish */
    ck_assert_int_eq(ask_mining(&f, 1), 0);
    ck_assert_int_eq(f.mining_calls, 3);
    control_handle(f.c, "test", PROTO_MSG_MINING, NULL, 0, &a);
    ck_assert_str_eq(a.drop, "malformed MINING");
    ck_assert_int_eq(f.mining_calls, 3);

    control_handle(f.c, "test", PROTO_MSG_SHUTDOWN, NULL, 0, &a);
    ck_assert_int_eq(a.type, 0);
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(f.shutdowns, 1);
    ck_assert_str_eq(f.shutdown_why, "control request");

    control_handle(f.c, "test", PROTO_MSG_BLOCK, NULL, 0, &a);
    ck_assert_str_eq(a.drop, "unexpected control message");
    /* Without log_stream LOG_SUB is not served. */
    uint8_t lvl = LOG_LEVEL_INFO;
    control_handle(f.c, "test", PROTO_MSG_LOG_SUB, &lvl, 1, &a);
    ck_assert_str_eq(a.drop, "unexpected control message");
    fixture_end(&f);
}
END_TEST

static int ask_adversary(fixture *f, const char *role)
{
    control_answer a;
    proto_adversary m = { 0 };
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(m.role, sizeof m.role, "%s", role);
    ck_assert_int_eq(proto_adversary_encode(&m, &buf, &len), 0);
    control_handle(f->c, "test", PROTO_MSG_ADVERSARY, buf, len, &a);
    free(buf);
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(a.type, PROTO_MSG_ADVERSARY_ACK);
    ck_assert_uint_eq(a.len, 1);
    int on = a.payload[0];
    free(a.payload);
    return on;
}

/* ADVERSARY switches a role on at run time; the stats name it. */
START_TEST(test_adversary)
{
    fixture f;
    control_answer a;
    proto_stat items[PROTO_STATS_MAX];

    fixture_init(&f);
    adv_config ac = { .chain = f.chain, .log = f.lg };
    ck_assert_int_eq(adv_new(&f.adv, &ac), 0);
    control_start(&f, NULL, 0);
    uint32_t n = control_stats(f.c, items);
    proto_stats st = { .n = n, .items = items };
    ck_assert_str_eq(stat_find(&st, "adversary")->s, "");
    ck_assert_ptr_null(stat_find(&st, "adv_withheld"));
    ck_assert_int_eq(ask_adversary(&f, "selfish"), 1);
    ck_assert_int_eq(ask_adversary(&f, "bribe"), 0);
    ck_assert_int_eq(ask_adversary(&f, "forger"), 1);
    ck_assert_uint_eq(adv_roles(f.adv), ADV_SELFISH | ADV_FORGER);
    st.n = control_stats(f.c, items);
    ck_assert_str_eq(stat_find(&st, "adversary")->s, "selfish,forger");
    ck_assert_int_eq(stat_find(&st, "adv_withheld")->i, 0);
    ck_assert_int_eq(stat_find(&st, "rejected_blocks")->i, 0);
    ck_assert_str_eq(stat_find(&st, "banned_peers")->s, "");
    control_handle(f.c, "test", PROTO_MSG_ADVERSARY, NULL, 0, &a);
    ck_assert_str_eq(a.drop, "malformed ADVERSARY");
    fixture_end(&f);
    adv_free(f.adv);
}
END_TEST

/* HASHRATE reaches the daemon's callback and is answered with the cap;
 * PARTITION without a net is answered with nothing refused; malformed
 * requests drop the link. */
START_TEST(test_scenario_requests)
{
    fixture f;
    control_answer a;
    uint8_t *buf = NULL;
    size_t len = 0;
    proto_hashrate h = { 2500000 }, ack;
    char names[1][PROTO_NAME_MAX + 1] = { "p1" };
    proto_partition pm = { 1, names };
    uint32_t now = 99;

    fixture_init(&f);
    control_start(&f, NULL, 0);
    ck_assert_int_eq(proto_hashrate_encode(&h, &buf, &len), 0);
    control_handle(f.c, "test", PROTO_MSG_HASHRATE, buf, len, &a);
    free(buf);
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(a.type, PROTO_MSG_HASHRATE_ACK);
    ck_assert_int_eq(proto_hashrate_decode(a.payload, a.len, &ack), 0);
    ck_assert_uint_eq(ack.rate, 2500000);
    ck_assert_uint_eq(f.cap, 2500000);
    free(a.payload);
    control_handle(f.c, "test", PROTO_MSG_HASHRATE, NULL, 0, &a);
    ck_assert_str_eq(a.drop, "malformed HASHRATE");

    ck_assert_int_eq(proto_partition_encode(&pm, &buf, &len), 0);
    control_handle(f.c, "test", PROTO_MSG_PARTITION, buf, len, &a);
    free(buf);
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(a.type, PROTO_MSG_PARTITION_ACK);
    ck_assert_int_eq(proto_u32_decode(a.payload, a.len, &now), 0);
    ck_assert_uint_eq(now, 0);
    free(a.payload);
    control_handle(f.c, "test", PROTO_MSG_PARTITION, (const uint8_t *)"x", 1, &a);
    ck_assert_str_eq(a.drop, "malformed PARTITION");
    fixture_end(&f);
}
END_TEST

START_TEST(test_txlat)
{
    fixture f;
    control_answer a;
    proto_txlat m;
    txlat *tl;
    uint8_t id1[32], id2[32];

    fixture_init(&f);
    ck_assert_int_eq(txlat_new(&tl, 16, 16), 0);
    control_start(&f, tl, 0);
    randombytes_buf(id1, 32);
    randombytes_buf(id2, 32);
    ck_assert_int_eq(txlat_broadcast(tl, id1, 1000), 0);
    ck_assert_int_eq(txlat_broadcast(tl, id2, 1000), 0);
    ck_assert_int_eq(txlat_included(tl, id1, 1500), 1);

    control_handle(f.c, "test", PROTO_MSG_TXLAT_REQ, NULL, 0, &a);
    ck_assert_ptr_null(a.drop);
    ck_assert_int_eq(a.type, PROTO_MSG_TXLAT);
    ck_assert_int_eq(proto_txlat_decode(a.payload, a.len, &m), 0);
    free(a.payload);
    ck_assert_uint_eq(m.n, 1);
    ck_assert_mem_eq(m.items[0].txid, id1, 32);
    ck_assert_uint_eq(m.items[0].broadcast_ms, 1000);
    ck_assert_uint_eq(m.items[0].included_ms, 1500);
    ck_assert_uint_eq(m.left, 0);
    proto_txlat_free(&m);

    control_handle(f.c, "test", PROTO_MSG_TXLAT_REQ, NULL, 0, &a);   /* drained */
    ck_assert_int_eq(proto_txlat_decode(a.payload, a.len, &m), 0);
    free(a.payload);
    ck_assert_uint_eq(m.n, 0);
    proto_txlat_free(&m);
    fixture_end(&f);
    txlat_free(tl);
}
END_TEST

/* ---- one real control link -------------------------------------------------- */

typedef struct {
    uint16_t port;
    uint8_t key[32], chain[32];
    int connect_rc, stats_rc, sub_rc, line_rc, shutdown_rc;
    int64_t hashrate;
    char name[PROTO_STAT_STR_MAX + 1];
    int got_info_line, got_debug_line;
    volatile int subscribed;
    volatile int done;
} client;

static void *client_main(void *arg)
{
    client *cc = arg;
    ctl_auth auth = { cc->key, cc->chain, NULL, "test-ctl" };
    ctl *c = NULL;
    proto_stats st;
    proto_log_line line;
    char hostport[32];

    snprintf(hostport, sizeof hostport, "127.0.0.1:%u", cc->port);
    cc->connect_rc = ctl_connect_addr(&c, hostport, &auth, 5000);
    if (cc->connect_rc != 0)
        goto out;
    cc->stats_rc = ctl_stats(c, &st, 5000);
    if (cc->stats_rc == 0) {
        const proto_stat *s = stat_find(&st, "hashrate");
        cc->hashrate = s ? s->i : -1;
        s = stat_find(&st, "name");
        snprintf(cc->name, sizeof cc->name, "%s", s ? s->s : "");
        proto_stats_free(&st);
    }
    cc->sub_rc = ctl_log_subscribe(c, LOG_LEVEL_INFO, 5000);
    __atomic_store_n(&cc->subscribed, 1, __ATOMIC_SEQ_CST);
    /* The test logs an info and a debug line every few ms from now on. */
    for (int i = 0; i < 200 && !cc->got_info_line; i++) {
        cc->line_rc = ctl_next_log_line(c, &line, 5000);
        if (cc->line_rc != 0)
            break;
        if (strstr(line.text, "info for subscribers") && line.level == LOG_LEVEL_INFO)
            cc->got_info_line = 1;
        if (strstr(line.text, "debug noise"))
            cc->got_debug_line = 1;
    }
    cc->shutdown_rc = ctl_shutdown(c, 5000);
out:
    ctl_close(c);
    __atomic_store_n(&cc->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void log_some(uv_timer_t *t)
{
    fixture *f = t->data;
    log_debug(f->lg, "debug noise");
    log_info(f->lg, "info for subscribers");
}

#define WAIT(loop, cond, ms)                                               \
    do {                                                                   \
        uint64_t dl_ = uv_now(loop) + (ms);                                \
        while (!(cond) && uv_now(loop) < dl_)                              \
            uv_run((loop), UV_RUN_ONCE);                                   \
        ck_assert_msg((cond), "timed out waiting for: %s", #cond);         \
    } while (0)

START_TEST(test_link_stream_and_shutdown)
{
    fixture f;
    client cc;
    net_config nc;
    pthread_t th;
    uv_timer_t timer;

    fixture_init(&f);
    memset(&cc, 0, sizeof cc);
    memset(&nc, 0, sizeof nc);
    nc.listen = "127.0.0.1:0";
    crypto_sign_keypair(nc.identity_pk, nc.identity_sk);
    randombytes_buf(cc.key, 32);
    memcpy(nc.cluster_key, cc.key, 32);
    memcpy(nc.chain_id, chain_id(f.chain), 32);
    memcpy(cc.chain, chain_id(f.chain), 32);
    nc.role = 1;
    nc.name = "alpha";
    nc.log = f.lg;
    ck_assert_int_eq(net_new(&f.n, &f.loop, &nc), 0);
    control_start(&f, NULL, 1);
    ck_assert_int_eq(net_start(f.n), 0);
    cc.port = net_listen_port(f.n);
    uv_timer_init(&f.loop, &timer);
    timer.data = &f;

    ck_assert_int_eq(pthread_create(&th, NULL, client_main, &cc), 0);
    WAIT(&f.loop, __atomic_load_n(&cc.subscribed, __ATOMIC_SEQ_CST), 15000);
    ck_assert_uint_eq(net_control_count(f.n), 1);
    uv_timer_start(&timer, log_some, 20, 20);
    WAIT(&f.loop, __atomic_load_n(&cc.done, __ATOMIC_SEQ_CST), 15000);
    pthread_join(th, NULL);
    uv_close((uv_handle_t *)&timer, NULL);

    ck_assert_int_eq(cc.connect_rc, 0);
    ck_assert_int_eq(cc.stats_rc, 0);
    ck_assert_int_eq(cc.hashrate, 1234);
    ck_assert_str_eq(cc.name, "alpha");
    ck_assert_int_eq(cc.sub_rc, 0);
    ck_assert_int_eq(cc.line_rc, 0);
    ck_assert(cc.got_info_line);
    ck_assert(!cc.got_debug_line);
    ck_assert_int_eq(cc.shutdown_rc, 0);
    ck_assert_int_eq(f.shutdowns, 1);
    /* SHUTDOWN closed the net, whose callback closed the control. */
    WAIT(&f.loop, f.net_closed, 5000);
    ck_assert_ptr_null(f.c);
    fixture_end(&f);
}
END_TEST

Suite *control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_store_read);
    tcase_add_test(tc, test_mining_and_shutdown);
    tcase_add_test(tc, test_adversary);
    tcase_add_test(tc, test_scenario_requests);
    tcase_add_test(tc, test_txlat);
    tcase_add_test(tc, test_link_stream_and_shutdown);
    suite_add_tcase(s, tc);
    return s;
}
