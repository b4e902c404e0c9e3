/* Inventory gossip and block sync between in-process nodes: chains, nets
 * and relays on one libuv loop over real loopback sockets
 * (common/relay.h). */
#define _GNU_SOURCE
#include <check.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "common/core/cblock.h"
#include "common/core/chain.h"
#include "common/core/merkle.h"
#include "common/base/clock.h"
#include "common/base/err.h"
#include "common/daemon/net.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/daemon/relay.h"
#include "common/daemon/relay_int.h"
#include "proto/cmpct.h"
#include "common/core/tx.h"
#include "testutil.h"

#define MAX_NODES 5

typedef struct node {
    chain *c;
    net *n;
    relay *r;
    char name[16];
    uint64_t block_inv_items;    /* block hashes announced to this node */
    uint64_t tx_inv_msgs;        /* INV messages holding txids, received */
    uint64_t tx_inv_items;       /* txids announced to this node */
    uint64_t getblocks;          /* GETBLOCKS received */
    uint64_t tx_frames;          /* TX and TXS messages received */
    int silent;                  /* drops GETDATA: a peer that stalls */
    int hb_asked;                /* last SENDCMPCT received: 1 high-bandwidth */
    uint64_t sendcmpct;          /* SENDCMPCT messages received */
    int closed;
} node;

typedef struct {
    uv_loop_t loop;
    uv_timer_t poll;
    chain_params params;
    uint8_t cluster_key[32];
    uint8_t alloc_sk[64], alloc_pk[32];
    uint32_t stall_ms;
    int no_discovery;            /* exactly the links world_add makes */
    int async;                   /* signatures checked on the thread pool */
    node nodes[MAX_NODES];
    int n_nodes;
    int (*cond)(void *);
    void *cond_arg;
    uint64_t deadline_ms;
    int met;
} world;

static void on_peer(void *ctx, net_peer *p, enum net_event ev)
{
    relay_peer_event(((node *)ctx)->r, p, ev);
}

static void on_msg(void *ctx, net_peer *p, uint8_t type, const uint8_t *pl, size_t len)
{
    node *nd = ctx;
    if (type == PROTO_MSG_INV) {
        proto_inv inv;
        if (proto_inv_decode(pl, len, &inv) == 0) {
            uint32_t txs = 0;
            for (uint32_t i = 0; i < inv.n; i++) {
                if (inv.items[i].kind == PROTO_INV_BLOCK)
                    nd->block_inv_items++;
                else if (inv.items[i].kind == PROTO_INV_TX)
                    txs++;
            }
            nd->tx_inv_items += txs;
            nd->tx_inv_msgs += txs > 0;
            proto_inv_free(&inv);
        }
    }
    if (type == PROTO_MSG_GETBLOCKS)
        nd->getblocks++;
    if (type == PROTO_MSG_TX || type == PROTO_MSG_TXS)
        nd->tx_frames++;
    if (type == PROTO_MSG_SENDCMPCT) {
        proto_sendcmpct m;
        if (proto_sendcmpct_decode(pl, len, &m) == 0) {
            nd->hb_asked = m.high_bandwidth;
            nd->sendcmpct++;
        }
    }
    if (nd->silent && type == PROTO_MSG_GETDATA)
        return;
    relay_peer_msg(nd->r, p, type, pl, len);
}

static void world_init(world *w)
{
    memset(w, 0, sizeof *w);
    ck_assert_int_ge(sodium_init(), 0);
    ck_assert_int_eq(uv_loop_init(&w->loop), 0);
    uv_timer_init(&w->loop, &w->poll);
    w->poll.data = w;
    randombytes_buf(w->cluster_key, 32);
    crypto_sign_keypair(w->alloc_pk, w->alloc_sk);
    params_init_defaults(&w->params);
    w->params.genesis_time = (uint64_t)time(NULL) - 3600;
    ck_assert_int_eq(pow_difficulty_to_bits(1, &w->params.bits), 0);
    w->params.allocs = calloc(1, sizeof *w->params.allocs);
    ck_assert_ptr_nonnull(w->params.allocs);
    memcpy(w->params.allocs[0].pubkey, w->alloc_pk, 32);
    w->params.allocs[0].balance = 1000000000;
    w->params.n_allocs = 1;
}

/* Starts a node listening on an ephemeral port, dialing `peer` if >= 0. */
static node *world_add(world *w, int peer)
{
    node *nd = &w->nodes[w->n_nodes];
    chain_config cc = { .params = &w->params };
    chain_load_report rep;
    net_config nc;
    char boot[32];
    const char *boots[1] = { boot };

    snprintf(nd->name, sizeof nd->name, "n%d", w->n_nodes);
    ck_assert_int_eq(chain_open(&nd->c, &cc, &rep), 0);
    memset(&nc, 0, sizeof nc);
    nc.listen = "127.0.0.1:0";
    crypto_sign_keypair(nc.identity_pk, nc.identity_sk);
    memcpy(nc.cluster_key, w->cluster_key, 32);
    memcpy(nc.chain_id, chain_id(nd->c), 32);
    nc.role = 1;
    nc.name = nd->name;
    nc.ctx = nd;
    nc.on_peer = on_peer;
    nc.on_msg = on_msg;
    nc.backoff_max_ms = 1000;
    nc.no_discovery = (uint8_t)w->no_discovery;
    if (peer >= 0) {
        snprintf(boot, sizeof boot, "127.0.0.1:%u", net_listen_port(w->nodes[peer].n));
        nc.bootstrap = boots;
        nc.n_bootstrap = 1;
    }
    ck_assert_int_eq(net_new(&nd->n, &w->loop, &nc), 0);
    relay_config rc = { .chain = nd->c, .net = nd->n, .stall_ms = w->stall_ms,
                        .loop = w->async ? &w->loop : NULL };
    ck_assert_int_eq(relay_new(&nd->r, &rc), 0);
    ck_assert_int_eq(net_start(nd->n), 0);
    w->n_nodes++;
    return nd;
}

static void on_poll(uv_timer_t *t)
{
    world *w = t->data;
    for (int i = 0; i < w->n_nodes; i++)
        if (!w->nodes[i].closed)
            relay_tick(w->nodes[i].r, (uint64_t)clock_mono_ms());
    if (w->cond(w->cond_arg)) {
        w->met = 1;
        uv_stop(&w->loop);
    } else if ((uint64_t)clock_mono_ms() > w->deadline_ms) {
        uv_stop(&w->loop);
    }
}

/* Runs the loop until cond holds (1) or ms pass (0). */
static int run_until(world *w, int (*cond)(void *), void *arg, uint64_t ms)
{
    w->cond = cond;
    w->cond_arg = arg;
    w->met = 0;
    w->deadline_ms = (uint64_t)clock_mono_ms() + ms;
    uv_timer_start(&w->poll, on_poll, 20, 20);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&w->poll);
    return w->met;
}

static void on_net_closed(void *arg)
{
    ((node *)arg)->closed = 1;
}

static void world_free(world *w)
{
    for (int i = 0; i < w->n_nodes; i++)
        if (w->nodes[i].n)
            net_close(w->nodes[i].n, on_net_closed, &w->nodes[i]);
    uv_close((uv_handle_t *)&w->poll, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < w->n_nodes; i++) {
        ck_assert_int_eq(w->nodes[i].closed, 1);
        relay_free(w->nodes[i].r);
        chain_free(w->nodes[i].c);
    }
    ck_assert_int_eq(uv_loop_close(&w->loop), 0);
    params_free(&w->params);
}

/* Mines one block on nd's tip and submits it through its relay. */
static void mine_one(node *nd, uint8_t tag)
{
    proto_block b;
    uint8_t miner[32], *bytes;
    size_t len;
    chain_result res;

    memset(miner, tag, 32);
    ck_assert_int_eq(chain_template(nd->c, miner, (uint64_t)time(NULL), 100, &b), 0);
    ck_assert_int_eq(pow_search_simple(&b.header, 1u << 24), 0);
    ck_assert_int_eq(proto_block_encode(&b, &bytes, &len), 0);
    proto_block_free(&b);
    ck_assert_int_eq(relay_submit_block(nd->r, bytes, len, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    free(bytes);
}

typedef struct { node *a, *b; } pair;

static int same_tip(void *arg)
{
    pair *p = arg;
    return memcmp(chain_tip(p->a->c)->hash, chain_tip(p->b->c)->hash, 32) == 0;
}

static int linked(void *arg)
{
    pair *p = arg;
    return net_peer_count(p->a->n) >= 1 && net_peer_count(p->b->n) >= 1;
}

/* More than two GETBLOCKS batches: the sync must ask again after each full
 * batch, and only ever keep RELAY_BLOCKS_IN_FLIGHT requests per peer. */
START_TEST(test_sync_in_batches)
{
    world w;
    world_init(&w);
    node *a = world_add(&w, -1);
    for (int i = 0; i < 2 * RELAY_SYNC_BATCH + 37; i++)
        mine_one(a, 1);
    ck_assert_uint_eq(chain_tip(a->c)->height, 2 * RELAY_SYNC_BATCH + 37);
    node *b = world_add(&w, 0);
    pair p = { a, b };
    ck_assert_int_eq(run_until(&w, same_tip, &p, 60000), 1);

    relay_stats st;
    relay_get_stats(b->r, &st);
    ck_assert_uint_eq(st.blocks_in, 2 * RELAY_SYNC_BATCH + 37);
    ck_assert_uint_eq(st.blocks_requested, 2 * RELAY_SYNC_BATCH + 37);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.misbehaved, 0);
    /* Nothing b received was announced back to a. */
    ck_assert_uint_eq(a->block_inv_items, 0);
    world_free(&w);
}
END_TEST

/* A new block travels as a compact block, across a middle node, and is
 * never announced back to where it came from. */
START_TEST(test_new_block_gossip)
{
    world w;
    world_init(&w);
    node *a = world_add(&w, -1);
    node *b = world_add(&w, 0);
    node *c = world_add(&w, 1);
    pair ab = { a, b }, bc = { b, c }, ac = { a, c };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);
    ck_assert_int_eq(run_until(&w, linked, &bc, 20000), 1);
    for (int i = 0; i < 5; i++) {
        mine_one(a, 2);
        ck_assert_int_eq(run_until(&w, same_tip, &ac, 20000), 1);
    }
    mine_one(c, 3);
    ck_assert_int_eq(run_until(&w, same_tip, &ac, 20000), 1);
    ck_assert_uint_eq(chain_tip(b->c)->height, 6);
    relay_stats sa, sc;
    relay_get_stats(a->r, &sa);
    relay_get_stats(c->r, &sc);
    /* a only ever received c's block, c only a's five (as compact
     * blocks: with three peers or fewer, all are high-bandwidth). */
    ck_assert_uint_eq(sa.blocks_in + sa.cmpct_in, 1);
    ck_assert_uint_eq(sc.blocks_in + sc.cmpct_in, 5);
    ck_assert_uint_eq(sc.cmpct_rebuilt, 5);
    ck_assert_uint_eq(sc.misbehaved, 0);
    world_free(&w);
}
END_TEST

static void make_transfer(world *w, node *nd, uint64_t nonce, proto_tx *tx)
{
    memset(tx, 0, sizeof *tx);
    tx->version = PROTO_TX_VERSION;
    tx->kind = PROTO_TX_TRANSFER;
    memcpy(tx->from, w->alloc_pk, 32);
    tx->nonce = nonce;
    memset(tx->u.pay.to, 0x42, 32);
    tx->u.pay.amount = 1000;
    ck_assert_int_eq(tx_sign(tx, w->alloc_sk, chain_id(nd->c)), 0);
}

static void send_tx(node *from, const proto_tx *tx)
{
    uint8_t *bytes;
    size_t len;
    ck_assert_int_eq(proto_tx_encode(tx, &bytes, &len), 0);
    net_peer *p = net_peer_first(from->n);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(net_send(p, PROTO_MSG_TX, bytes, len), 0);
    free(bytes);
}

typedef struct { node *nd; size_t want; } pool_want;

static int pool_has(void *arg)
{
    pool_want *pw = arg;
    return mempool_count(chain_mempool(pw->nd->c)) >= pw->want;
}

static int peers_zero(void *arg)
{
    return net_peer_count(((node *)arg)->n) == 0;
}

/* Transactions: a valid one is relayed; a stateful refusal (nonce far
 * ahead) is not the sender's fault; a bad signature gets it dropped. */
static void tx_relay_and_misbehaviour(int async)
{
    world w;
    proto_tx tx;
    uint8_t txid[32];
    world_init(&w);
    w.async = async;
    node *a = world_add(&w, -1);
    node *b = world_add(&w, 0);
    pair ab = { a, b };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);

    make_transfer(&w, a, 0, &tx);
    ck_assert_int_eq(relay_submit_tx(a->r, &tx, txid), 0);
    pool_want pw = { b, 1 };
    ck_assert_int_eq(run_until(&w, pool_has, &pw, 20000), 1);
    ck_assert_int_eq(mempool_has(chain_mempool(b->c), txid), 1);

    make_transfer(&w, b, MEMPOOL_NONCE_WINDOW + 50, &tx);
    send_tx(b, &tx);
    run_until(&w, peers_zero, a, 1000);
    ck_assert_uint_eq(net_peer_count(a->n), 1);
    relay_stats st;
    relay_get_stats(a->r, &st);
    ck_assert_uint_eq(st.misbehaved, 0);

    make_transfer(&w, b, 1, &tx);
    tx.sig[10] ^= 1;
    send_tx(b, &tx);
    ck_assert_int_eq(run_until(&w, peers_zero, a, 20000), 1);
    relay_get_stats(a->r, &st);
    ck_assert_uint_eq(st.misbehaved, 1);
    ck_assert_uint_ge(net_ban_count(a->n), 1);
    world_free(&w);
}

START_TEST(test_tx_relay_and_misbehaviour)
{
    tx_relay_and_misbehaviour(0);
}
END_TEST

/* The same with signatures checked on the thread pool. */
START_TEST(test_tx_relay_and_misbehaviour_async)
{
    tx_relay_and_misbehaviour(1);
}
END_TEST

/* Occupies every thread of libuv's pool until *release is set. */
typedef struct {
    uv_work_t req;
    atomic_int *release;
} blocker;

static void block_work(uv_work_t *req)
{
    blocker *b = req->data;
    while (!atomic_load(b->release))
        usleep(1000);
}

static void block_done(uv_work_t *req, int status)
{
    (void)req;
    (void)status;
}

static int banned(void *arg)
{
    return net_ban_count(((node *)arg)->n) >= 1;
}

/* A bad signature whose verdict comes after its sender hung up still gets
 * the sender banned (by identity): the pool is held busy until the link
 * is gone. */
START_TEST(test_bad_sig_after_sender_gone)
{
    enum { MAX_POOL = 128 };
    world w;
    proto_tx tx;
    atomic_int release = 0;
    blocker bl[MAX_POOL];
    const char *env = getenv("UV_THREADPOOL_SIZE");
    int pool = env ? atoi(env) : 4;
    if (pool < 1 || pool > MAX_POOL)
        pool = pool < 1 ? 1 : MAX_POOL;
    world_init(&w);
    w.async = 1;
    w.no_discovery = 1;
    node *a = world_add(&w, -1);
    node *b = world_add(&w, 0);
    pair ab = { a, b };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);
    for (int i = 0; i < pool; i++) {
        bl[i].release = &release;
        bl[i].req.data = &bl[i];
        ck_assert_int_eq(uv_queue_work(&w.loop, &bl[i].req, block_work, block_done), 0);
    }
    make_transfer(&w, b, 0, &tx);
    tx.sig[3] ^= 4;
    send_tx(b, &tx);
    /* b stops dialing a and closes its link once the frame is out. */
    net_close(b->n, on_net_closed, b);
    ck_assert_int_eq(run_until(&w, peers_zero, a, 20000), 1);
    relay_stats st;
    relay_get_stats(a->r, &st);
    ck_assert_uint_eq(st.misbehaved, 0);
    ck_assert_uint_eq(st.txs_verifying, 1);
    atomic_store(&release, 1);
    ck_assert_int_eq(run_until(&w, banned, a, 20000), 1);
    relay_get_stats(a->r, &st);
    ck_assert_uint_eq(st.misbehaved, 1);
    ck_assert_uint_eq(st.txs_verifying, 0);
    ck_assert_uint_eq(mempool_count(chain_mempool(a->c)), 0);
    /* world_free closes b's net again: mark it done already. */
    b->n = NULL;
    world_free(&w);
}
END_TEST

/* Transactions made or received in one loop turn are announced to each
 * peer in one INV, not one INV each, and never back to their source. */
START_TEST(test_tx_inv_batched)
{
    enum { N = 50 };
    world w;
    proto_tx tx;
    uint8_t txid[32];
    world_init(&w);
    w.no_discovery = 1;
    node *a = world_add(&w, -1);
    node *b = world_add(&w, 0);
    node *c = world_add(&w, 1);
    pair ab = { a, b }, bc = { b, c };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);
    ck_assert_int_eq(run_until(&w, linked, &bc, 20000), 1);
    for (uint64_t i = 0; i < N; i++) {
        make_transfer(&w, a, i, &tx);
        ck_assert_int_eq(relay_submit_tx(a->r, &tx, txid), 0);
    }
    pool_want pw = { c, N };
    ck_assert_int_eq(run_until(&w, pool_has, &pw, 20000), 1);
    ck_assert_uint_eq(mempool_count(chain_mempool(b->c)), N);
    ck_assert_uint_eq(b->tx_inv_items, N);
    ck_assert_uint_eq(b->tx_inv_msgs, 1);
    ck_assert_uint_eq(c->tx_inv_items, N);
    ck_assert_uint_lt(c->tx_inv_msgs, N);
    /* Each GETDATA c sent came back as one frame, not one per transfer. */
    ck_assert_uint_le(c->tx_frames, c->tx_inv_msgs);
    ck_assert_uint_eq(a->tx_inv_items, 0);
    world_free(&w);
}
END_TEST

static int has_flights(void *arg)
{
    relay_stats st;
    relay_get_stats(((node *)arg)->r, &st);
    return st.in_flight == RELAY_BLOCKS_IN_FLIGHT;
}

static int no_flights(void *arg)
{
    relay_stats st;
    relay_get_stats(((node *)arg)->r, &st);
    return st.in_flight == 0;
}

/* Requests a peer leaves unanswered go to another peer after the stall
 * time. */
START_TEST(test_stall_reissue)
{
    world w;
    char addr[32];
    world_init(&w);
    w.stall_ms = 800;
    node *s = world_add(&w, -1);
    node *a = world_add(&w, -1);
    for (int i = 0; i < 20; i++)
        mine_one(s, 4);
    /* a gets the same blocks, so both can serve them. */
    pair sa = { s, a };
    net_add_peer(a->n, (snprintf(addr, sizeof addr, "127.0.0.1:%u",
                                 net_listen_port(s->n)), addr));
    ck_assert_int_eq(run_until(&w, same_tip, &sa, 30000), 1);
    s->silent = 1;
    node *c = world_add(&w, 0);     /* knows only s at first */
    ck_assert_int_eq(run_until(&w, has_flights, c, 20000), 1);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", net_listen_port(a->n));
    ck_assert_int_eq(net_add_peer(c->n, addr), 0);
    pair ca = { c, a };
    ck_assert_int_eq(run_until(&w, same_tip, &ca, 30000), 1);
    ck_assert_int_eq(run_until(&w, no_flights, c, 30000), 1);
    relay_stats st;
    relay_get_stats(c->r, &st);
    ck_assert_uint_ge(st.stalls, 1);
    ck_assert_uint_eq(chain_tip(c->c)->height, 20);
    world_free(&w);
}
END_TEST

static int never(void *arg)
{
    (void)arg;
    return 0;
}

/* Two branches of equal work, each two blocks deep: the nodes exchange
 * them, each keeps its own tip (ties keep the first seen), and the sync
 * exchange ends instead of asking back and forth for ever. */
START_TEST(test_tie_settles)
{
    world w;
    char addr[32];
    world_init(&w);
    node *a = world_add(&w, -1);
    node *b = world_add(&w, -1);
    mine_one(a, 5);
    mine_one(a, 5);
    mine_one(b, 6);
    mine_one(b, 6);
    uint8_t tip_a[32], tip_b[32];
    memcpy(tip_a, chain_tip(a->c)->hash, 32);
    memcpy(tip_b, chain_tip(b->c)->hash, 32);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", net_listen_port(a->n));
    ck_assert_int_eq(net_add_peer(b->n, addr), 0);
    pair ab = { a, b };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);
    run_until(&w, never, NULL, 2000);
    ck_assert_ptr_nonnull(chain_lookup(a->c, tip_b));
    ck_assert_ptr_nonnull(chain_lookup(b->c, tip_a));
    ck_assert_mem_eq(chain_tip(a->c)->hash, tip_a, 32);
    ck_assert_mem_eq(chain_tip(b->c)->hash, tip_b, 32);
    ck_assert_uint_le(a->getblocks, 4);
    ck_assert_uint_le(b->getblocks, 4);
    /* One more block on a's branch settles it everywhere. */
    mine_one(a, 5);
    ck_assert_int_eq(run_until(&w, same_tip, &ab, 20000), 1);
    world_free(&w);
}
END_TEST

typedef struct { node *nd; uint64_t pauses; } pause_want;

static int verify_paused(void *arg)
{
    pause_want *pw = arg;
    relay_stats st;
    relay_get_stats(pw->nd->r, &st);
    return st.verify_pauses >= pw->pauses;
}

/* More transactions than the check queue may hold: the receiver pauses its
 * sender (the pool is held busy until it has), holds at most the mark plus
 * what one read brought, and once the pool runs again resumes and takes
 * every one, in order per sender. */
START_TEST(test_verify_backpressure)
{
    enum { SENDERS = 14, PER = 250, MAX_POOL = 128 };
    world w;
    proto_tx tx;
    uint8_t txid[32], to[32];
    atomic_int release = 0;
    blocker bl[MAX_POOL];
    const char *env = getenv("UV_THREADPOOL_SIZE");
    int pool = env ? atoi(env) : 4;
    if (pool < 1 || pool > MAX_POOL)
        pool = pool < 1 ? 1 : MAX_POOL;
    world_init(&w);
    w.async = 1;
    w.no_discovery = 1;
    node *a = world_add(&w, -1);
    node *b = world_add(&w, 0);
    pair ab = { a, b };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);
    for (int i = 0; i < pool; i++) {
        bl[i].release = &release;
        bl[i].req.data = &bl[i];
        ck_assert_int_eq(uv_queue_work(&w.loop, &bl[i].req, block_work, block_done), 0);
    }
    /* Unfunded senders: the mempool checks nonces, not balances. */
    memset(to, 0x42, 32);
    for (int s = 0; s < SENDERS; s++) {
        uint8_t pk[32], sk[64], seed[32];
        memset(seed, 0x70 + s, 32);
        crypto_sign_seed_keypair(pk, sk, seed);
        for (uint64_t k = 0; k < PER; k++) {
            ck_assert_int_eq(tu_transfer(&tx, pk, sk, to, k, 1, chain_id(b->c)), 0);
            ck_assert_int_eq(relay_submit_tx(b->r, &tx, txid), 0);
            proto_tx_free(&tx);
        }
    }
    pause_want pw = { a, 1 };
    ck_assert_int_eq(run_until(&w, verify_paused, &pw, 30000), 1);
    relay_stats st;
    relay_get_stats(a->r, &st);
    ck_assert_uint_ge(st.txs_verifying, RELAY_VERIFY_HIGH);
    ck_assert_uint_lt(st.txs_verifying, SENDERS * PER);
    ck_assert_uint_eq(mempool_count(chain_mempool(a->c)), 0);
    /* Still paused a while later: nothing more is read. */
    run_until(&w, never, NULL, 300);
    relay_stats st2;
    relay_get_stats(a->r, &st2);
    ck_assert_uint_eq(st2.txs_verifying, st.txs_verifying);
    atomic_store(&release, 1);
    pool_want want = { a, SENDERS * PER };
    ck_assert_int_eq(run_until(&w, pool_has, &want, 60000), 1);
    relay_get_stats(a->r, &st);
    ck_assert_uint_eq(st.txs_verifying, 0);
    ck_assert_uint_eq(st.misbehaved, 0);
    ck_assert_uint_eq(net_peer_count(a->n), 1);
    world_free(&w);
}
END_TEST

/* A transaction the receiver never saw: the compact block is rebuilt after
 * one GETBLOCKTXN round trip, and passed on across a middle node. */
START_TEST(test_cmpct_missing_tx)
{
    world w;
    proto_tx tx;
    uint8_t txid[32];
    world_init(&w);
    w.no_discovery = 1;
    node *a = world_add(&w, -1);
    node *b = world_add(&w, 0);
    node *c = world_add(&w, 1);
    pair ab = { a, b }, bc = { b, c }, ac = { a, c };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);
    ck_assert_int_eq(run_until(&w, linked, &bc, 20000), 1);
    /* Into a's mempool only: not announced. */
    make_transfer(&w, a, 0, &tx);
    ck_assert_int_eq(chain_submit_tx(a->c, &tx, txid), 0);
    mine_one(a, 7);
    ck_assert_uint_eq(chain_tip(a->c)->n_txs, 2);
    ck_assert_int_eq(run_until(&w, same_tip, &ac, 20000), 1);
    relay_stats sb, sc;
    relay_get_stats(b->r, &sb);
    relay_get_stats(c->r, &sc);
    ck_assert_uint_eq(sb.cmpct_in, 1);
    ck_assert_uint_eq(sb.cmpct_blocktxn, 1);
    ck_assert_uint_eq(sb.cmpct_rebuilt, 0);
    ck_assert_uint_eq(sb.blocks_in, 0);
    /* c got the block from b, which had asked a for the missing one. */
    ck_assert_uint_eq(sc.cmpct_in, 1);
    ck_assert_uint_eq(sc.cmpct_blocktxn, 1);
    ck_assert_uint_eq(sb.misbehaved + sc.misbehaved, 0);
    world_free(&w);
}
END_TEST

/* A block on nd's tip holding a transfer of more than the sender has: its
 * header and proof of work are valid, its transactions are not. */
static void mine_invalid(world *w, node *nd, proto_block *b)
{
    uint8_t miner[32], ids[2][32];
    memset(miner, 8, 32);
    ck_assert_int_eq(chain_template(nd->c, miner, (uint64_t)time(NULL), 100, b), 0);
    ck_assert_uint_eq(b->n_txs, 1);
    proto_tx *txs = realloc(b->txs, 2 * sizeof *txs);
    ck_assert_ptr_nonnull(txs);
    b->txs = txs;
    make_transfer(w, nd, 0, &b->txs[1]);
    b->txs[1].u.pay.amount = 2000000000;
    ck_assert_int_eq(tx_sign(&b->txs[1], w->alloc_sk, chain_id(nd->c)), 0);
    b->n_txs = 2;
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(tx_id(&b->txs[i], ids[i]), 0);
    ck_assert_int_eq(merkle_root((const uint8_t (*)[32])ids, 2, b->header.merkle), 0);
    ck_assert_int_eq(pow_search_simple(&b->header, 1u << 24), 0);
}

/* CMPCTBLOCK from nd's first peer link, every transaction prefilled. */
static void send_cmpct(node *nd, const proto_block *b)
{
    proto_prefilled pre[2];
    proto_cmpctblock m = { .header = b->header, .nonce = 1, .n_prefilled = b->n_txs,
                           .prefilled = pre };
    uint8_t *buf;
    size_t len;
    for (uint32_t i = 0; i < b->n_txs; i++) {
        pre[i].index = i;
        pre[i].tx = b->txs[i];
    }
    ck_assert_int_eq(proto_cmpctblock_encode(&m, &buf, &len), 0);
    ck_assert_int_eq(net_send(net_peer_first(nd->n), PROTO_MSG_CMPCTBLOCK, buf, len), 0);
    free(buf);
}

typedef struct { node *nd; uint64_t want; } cmpct_want;

static int cmpct_seen(void *arg)
{
    cmpct_want *cw = arg;
    relay_stats st;
    relay_get_stats(cw->nd->r, &st);
    return st.cmpct_in >= cw->want;
}

/* An invalid block whose header checks out is forwarded before it is
 * validated, and nobody is punished for it: not a (its maker; BIP152
 * spares high-bandwidth senders) and above all not b, which only passed
 * it on.  A compact block whose proof of work fails is never forwarded
 * and gets its sender dropped. */
START_TEST(test_cmpct_early_relay_invalid)
{
    world w;
    proto_block bad;
    world_init(&w);
    w.no_discovery = 1;
    node *a = world_add(&w, -1);
    node *b = world_add(&w, 0);
    node *c = world_add(&w, 1);
    pair ab = { a, b }, bc = { b, c };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);
    ck_assert_int_eq(run_until(&w, linked, &bc, 20000), 1);
    mine_invalid(&w, a, &bad);
    send_cmpct(a, &bad);
    cmpct_want cw = { c, 1 };
    ck_assert_int_eq(run_until(&w, cmpct_seen, &cw, 20000), 1);
    run_until(&w, never, NULL, 500);
    relay_stats sb, sc;
    relay_get_stats(b->r, &sb);
    relay_get_stats(c->r, &sc);
    ck_assert_uint_eq(sb.cmpct_early, 1);
    ck_assert_uint_eq(sb.misbehaved, 0);
    ck_assert_uint_eq(sc.misbehaved, 0);
    ck_assert_uint_eq(net_peer_count(b->n), 2);
    ck_assert_uint_eq(net_peer_count(c->n), 1);
    ck_assert_uint_eq(chain_tip(b->c)->height, 0);
    ck_assert_uint_eq(chain_tip(c->c)->height, 0);

    /* Proof of work broken: b drops a and passes nothing on. */
    do
        bad.header.nonce++;
    while (pow_check(&bad.header) == 0);
    send_cmpct(a, &bad);
    ck_assert_int_eq(run_until(&w, peers_zero, a, 20000), 1);
    relay_get_stats(b->r, &sb);
    relay_get_stats(c->r, &sc);
    ck_assert_uint_eq(sb.misbehaved, 1);
    ck_assert_uint_eq(sc.cmpct_in + sc.cmpct_redundant, 1);
    proto_block_free(&bad);
    world_free(&w);
}
END_TEST

typedef struct { node **v; int n; uint64_t want; } many;

static int all_asked(void *arg)
{
    many *m = arg;
    for (int i = 0; i < m->n; i++)
        if (m->v[i]->sendcmpct < m->want)
            return 0;
    return 1;
}

static int hb_count(node **v, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += v[i]->hb_asked;
    return k;
}

/* A node with four peers asks three for high-bandwidth mode; a peer that
 * then gives it a new tip first (by INV, being low-bandwidth) takes the
 * place of the one that did so longest ago. */
START_TEST(test_cmpct_hb_choice)
{
    world w;
    world_init(&w);
    w.no_discovery = 1;
    node *a = world_add(&w, -1);
    node *v[4];
    for (int i = 0; i < 4; i++)
        v[i] = world_add(&w, 0);
    many m = { v, 4, 1 };
    ck_assert_int_eq(run_until(&w, all_asked, &m, 20000), 1);
    ck_assert_int_eq(hb_count(v, 4), RELAY_CMPCT_HB);
    node *low = NULL;
    for (int i = 0; i < 4; i++)
        if (!v[i]->hb_asked)
            low = v[i];
    ck_assert_ptr_nonnull(low);
    mine_one(low, 9);
    pair al = { a, low };
    ck_assert_int_eq(run_until(&w, same_tip, &al, 20000), 1);
    relay_stats st;
    relay_get_stats(a->r, &st);
    ck_assert_uint_eq(st.blocks_in, 1);        /* whole, after its INV */
    m.want = 2;
    m.n = 1;
    m.v = &low;
    ck_assert_int_eq(run_until(&w, all_asked, &m, 20000), 1);
    ck_assert_int_eq(low->hb_asked, 1);
    run_until(&w, never, NULL, 300);
    ck_assert_int_eq(hb_count(v, 4), RELAY_CMPCT_HB);
    world_free(&w);
}
END_TEST

static net_peer *peer_named(node *nd, const char *name)
{
    for (net_peer *p = net_peer_first(nd->n); p; p = net_peer_next(p))
        if (strcmp(net_peer_name(p), name) == 0)
            return p;
    return NULL;
}

/* b may stay linked to c (learned by gossip): wait for the ban itself. */
static int misbehaved_once(void *arg)
{
    relay_stats st;
    relay_get_stats(((node *)arg)->r, &st);
    return st.misbehaved == 1;
}

typedef struct { node *b, *c; uint8_t idb[32], idc[32]; } split_want;

static int split_seen(void *arg)
{
    split_want *sw = arg;
    return mempool_has(chain_mempool(sw->b->c), sw->idb) &&
           mempool_has(chain_mempool(sw->c->c), sw->idc);
}

/* relay_send_tx_to (the double spender's tool): two transfers with one
 * nonce, each to one peer only; each peer keeps the one it got and refuses
 * the other when it is relayed on (a duplicate nonce: nobody's fault, no
 * ban).  Then a settlement not from the operator, sent the same way, gets
 * the sender banned (the mempool's SG_ESETTLE is the sender's fault). */
START_TEST(test_send_tx_to_one_peer)
{
    world w;
    proto_tx tb, tc, forged;
    relay_stats st;
    world_init(&w);
    node *a = world_add(&w, -1);
    node *b = world_add(&w, 0);
    node *c = world_add(&w, 0);
    pair ab = { a, b }, ac = { a, c };
    ck_assert_int_eq(run_until(&w, linked, &ab, 20000), 1);
    ck_assert_int_eq(run_until(&w, linked, &ac, 20000), 1);
    net_peer *pb = peer_named(a, "n1"), *pc = peer_named(a, "n2");
    ck_assert_ptr_nonnull(pb);
    ck_assert_ptr_nonnull(pc);

    make_transfer(&w, a, 0, &tb);
    tc = tb;
    memset(tc.u.pay.to, 0x43, 32);
    ck_assert_int_eq(tx_sign(&tc, w.alloc_sk, chain_id(a->c)), 0);
    split_want sw = { b, c, { 0 }, { 0 } };
    ck_assert_int_eq(tx_id(&tb, sw.idb), 0);
    ck_assert_int_eq(tx_id(&tc, sw.idc), 0);
    ck_assert_int_eq(relay_send_tx_to(a->r, pb, &tb), 0);
    ck_assert_int_eq(relay_send_tx_to(a->r, pc, &tc), 0);
    ck_assert_int_eq(run_until(&w, split_seen, &sw, 20000), 1);
    run_until(&w, never, NULL, 500);    /* let relaying on happen */
    ck_assert_int_eq(mempool_has(chain_mempool(b->c), sw.idc), 0);
    ck_assert_int_eq(mempool_has(chain_mempool(c->c), sw.idb), 0);
    relay_get_stats(b->r, &st);
    ck_assert_uint_eq(st.misbehaved, 0);
    relay_get_stats(c->r, &st);
    ck_assert_uint_eq(st.misbehaved, 0);

    memset(&forged, 0, sizeof forged);
    forged.version = PROTO_TX_VERSION;
    forged.kind = PROTO_TX_SETTLEMENT;
    memcpy(forged.from, w.alloc_pk, 32);   /* not the operator */
    forged.nonce = 1;
    ck_assert_int_eq(tx_sign(&forged, w.alloc_sk, chain_id(a->c)), 0);
    ck_assert_int_eq(relay_send_tx_to(a->r, pb, &forged), 0);
    ck_assert_int_eq(run_until(&w, misbehaved_once, b, 20000), 1);
    relay_get_stats(b->r, &st);
    ck_assert_uint_eq(st.rejected_txs, 1);
    ck_assert_ptr_null(peer_named(b, "n0"));
    world_free(&w);
}
END_TEST

Suite *relay_suite(void)
{
    Suite *s = suite_create("relay");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sync_in_batches);
    tcase_add_test(tc, test_new_block_gossip);
    tcase_add_test(tc, test_tx_relay_and_misbehaviour);
    tcase_add_test(tc, test_tx_relay_and_misbehaviour_async);
    tcase_add_test(tc, test_bad_sig_after_sender_gone);
    tcase_add_test(tc, test_verify_backpressure);
    tcase_add_test(tc, test_tx_inv_batched);
    tcase_add_test(tc, test_stall_reissue);
    tcase_add_test(tc, test_tie_settles);
    tcase_add_test(tc, test_cmpct_missing_tx);
    tcase_add_test(tc, test_cmpct_early_relay_invalid);
    tcase_add_test(tc, test_cmpct_hb_choice);
    tcase_add_test(tc, test_send_tx_to_one_peer);
    suite_add_tcase(s, tc);
    return s;
}
