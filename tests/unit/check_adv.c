/* The mining-side adversaries (common/daemon/adv.h) against an honest
 * node, in process over loopback: the selfish miner's withholding, its
 * override, race and win, and its giving way to a longer public chain;
 * the forger's block refused and its sender banned. */
#define _GNU_SOURCE
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "common/base/clock.h"
#include "common/core/chain.h"
#include "common/core/params.h"
#include "common/core/pow.h"
#include "common/daemon/adv.h"
#include "common/daemon/net.h"
#include "common/daemon/relay.h"

typedef struct {
    chain *c;
    net *n;
    relay *r;
    adv *a;                      /* NULL: honest */
    char name[8];
    int closed;
} node;

typedef struct {
    uv_loop_t loop;
    uv_timer_t poll;
    chain_params params;
    uint8_t cluster_key[32];
    node nodes[2];
    int n_nodes;
    int (*cond)(void *);
    uint64_t deadline_ms;
    int met;
} world;

static void on_peer(void *ctx, net_peer *p, enum net_event ev)
{
    relay_peer_event(((node *)ctx)->r, p, ev);
}

static void on_msg(void *ctx, net_peer *p, uint8_t type, const uint8_t *pl, size_t len)
{
    relay_peer_msg(((node *)ctx)->r, p, type, pl, len);
}

static int hidden(void *ctx, const uint8_t h[32])
{
    return adv_selfish_hidden(((node *)ctx)->a, h);
}

static void peer_block(void *ctx, const chain_result *res)
{
    adv_selfish_peer_block(((node *)ctx)->a, res);
}

static void world_init(world *w)
{
    memset(w, 0, sizeof *w);
    ck_assert_int_ge(sodium_init(), 0);
    ck_assert_int_eq(uv_loop_init(&w->loop), 0);
    uv_timer_init(&w->loop, &w->poll);
    w->poll.data = w;
    randombytes_buf(w->cluster_key, 32);
    params_init_defaults(&w->params);
    w->params.genesis_time = (uint64_t)time(NULL) - 3600;
    ck_assert_int_eq(pow_difficulty_to_bits(1, &w->params.bits), 0);
}

/* A node with the given adversary roles (0: honest), dialing node 0 when
 * it is not node 0. */
static node *world_add(world *w, unsigned roles)
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
    nc.no_discovery = 1;
    if (w->n_nodes > 0) {
        snprintf(boot, sizeof boot, "127.0.0.1:%u", net_listen_port(w->nodes[0].n));
        nc.bootstrap = boots;
        nc.n_bootstrap = 1;
    }
    ck_assert_int_eq(net_new(&nd->n, &w->loop, &nc), 0);
    relay_config rc = { .chain = nd->c, .net = nd->n, .ctx = nd };
    if (roles) {
        adv_config ac = { .chain = nd->c, .roles = roles };
        ck_assert_int_eq(adv_new(&nd->a, &ac), 0);
        rc.hidden = hidden;
        rc.on_peer_block = peer_block;
    }
    ck_assert_int_eq(relay_new(&nd->r, &rc), 0);
    if (nd->a)
        adv_set_relay(nd->a, nd->r);
    ck_assert_int_eq(net_start(nd->n), 0);
    w->n_nodes++;
    return nd;
}

static void on_poll(uv_timer_t *t)
{
    world *w = t->data;
    for (int i = 0; i < w->n_nodes; i++)
        relay_tick(w->nodes[i].r, (uint64_t)clock_mono_ms());
    if (w->cond(w)) {
        w->met = 1;
        uv_stop(&w->loop);
    } else if ((uint64_t)clock_mono_ms() > w->deadline_ms) {
        uv_stop(&w->loop);
    }
}

static int run_until(world *w, int (*cond)(void *), uint64_t ms)
{
    w->cond = cond;
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
        net_close(w->nodes[i].n, on_net_closed, &w->nodes[i]);
    uv_close((uv_handle_t *)&w->poll, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < w->n_nodes; i++) {
        ck_assert_int_eq(w->nodes[i].closed, 1);
        relay_free(w->nodes[i].r);
        adv_free(w->nodes[i].a);
        chain_free(w->nodes[i].c);
    }
    ck_assert_int_eq(uv_loop_close(&w->loop), 0);
    params_free(&w->params);
}

/* A block on nd's tip, paying a key made of tag; the forger's template is
 * forged as the daemon's would be.  Wire bytes in *bytes. */
static void make_block(node *nd, uint8_t tag, uint8_t **bytes, size_t *len)
{
    proto_block b;
    uint8_t miner[32];
    memset(miner, tag, 32);
    ck_assert_int_eq(chain_template(nd->c, miner, (uint64_t)time(NULL), 100, &b), 0);
    ck_assert_int_eq(adv_forge_template(nd->a, &b), 0);
    ck_assert_int_eq(pow_search_simple(&b.header, 1u << 24), 0);
    ck_assert_int_eq(proto_block_encode(&b, bytes, len), 0);
    proto_block_free(&b);
}

/* Mines one block at nd the way the daemon's on_found does. */
static void mine(node *nd, uint8_t tag)
{
    uint8_t *bytes;
    size_t len;
    chain_result res;
    make_block(nd, tag, &bytes, &len);
    if (nd->a)
        ck_assert_int_eq(adv_selfish_submit(nd->a, bytes, len, &res), 0);
    else
        ck_assert_int_eq(relay_submit_block(nd->r, bytes, len, &res), 0);
    ck_assert_int_eq(res.outcome, CHAIN_NEW_TIP);
    free(bytes);
}

static int linked(void *arg)
{
    world *w = arg;
    return net_peer_count(w->nodes[0].n) >= 1 && net_peer_count(w->nodes[1].n) >= 1;
}

static int same_tip(void *arg)
{
    world *w = arg;
    return memcmp(chain_tip(w->nodes[0].c)->hash, chain_tip(w->nodes[1].c)->hash, 32) == 0;
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static uint32_t height(const node *nd)
{
    return chain_tip(nd->c)->height;
}

/* Waits until want_at has block want_hash. */
static const uint8_t *want_hash;
static node *want_at;
static int has_block(void *arg)
{
    (void)arg;
    return chain_lookup(want_at->c, want_hash) != NULL;
}

START_TEST(test_selfish)
{
    world w;
    adv_stats st;
    uint8_t tip[32];

    world_init(&w);
    node *s = world_add(&w, ADV_SELFISH);
    node *h = world_add(&w, 0);
    ck_assert_int_eq(run_until(&w, linked, 20000), 1);

    /* Two blocks withheld: the honest node hears of neither. */
    mine(s, 1);
    mine(s, 1);
    run_until(&w, never, 500);
    ck_assert_uint_eq(height(s), 2);
    ck_assert_uint_eq(height(h), 0);
    adv_get_stats(s->a, &st);
    ck_assert_uint_eq(st.withheld, 2);
    ck_assert_uint_eq(st.lead, 2);

    /* An honest block makes the lead 1: everything is published and the
     * honest node reorganises onto the selfish chain. */
    mine(h, 2);
    ck_assert_int_eq(run_until(&w, same_tip, 20000), 1);
    ck_assert_uint_eq(height(h), 2);
    adv_get_stats(s->a, &st);
    ck_assert_uint_eq(st.published, 2);
    ck_assert_uint_eq(st.overrides, 1);
    ck_assert_uint_eq(st.lead, 0);

    /* Lead 1, then an honest block at the same height: a race; each
     * keeps its own (first seen), and the selfish find that follows is
     * published at once and wins. */
    mine(s, 1);
    memcpy(tip, chain_tip(s->c)->hash, 32);
    mine(h, 2);
    want_hash = tip;
    want_at = h;
    ck_assert_int_eq(run_until(&w, has_block, 20000), 1);
    adv_get_stats(s->a, &st);
    ck_assert_uint_eq(st.races, 1);
    ck_assert_mem_eq(chain_tip(s->c)->hash, tip, 32);
    ck_assert_mem_ne(chain_tip(h->c)->hash, tip, 32);
    mine(s, 1);
    ck_assert_int_eq(run_until(&w, same_tip, 20000), 1);
    ck_assert_uint_eq(height(h), 4);
    adv_get_stats(s->a, &st);
    ck_assert_uint_eq(st.overrides, 2);

    /* A long lead is released block by block as the public catches up
     * (lead 3 -> one published per honest block). */
    mine(s, 1);
    mine(s, 1);
    mine(s, 1);
    mine(h, 2);
    memcpy(tip, chain_tip(h->c)->hash, 32);
    want_hash = tip;
    want_at = s;
    ck_assert_int_eq(run_until(&w, has_block, 20000), 1);
    adv_get_stats(s->a, &st);
    ck_assert_uint_eq(st.lead, 2);
    ck_assert_uint_eq(height(h), 5);
    ck_assert_uint_eq(height(s), 7);

    /* The honest chain overtakes a fresh lead of 1: a race (published),
     * then a second honest block: the selfish node gives way. */
    mine(h, 2);                    /* lead 1: everything out, s wins */
    ck_assert_int_eq(run_until(&w, same_tip, 20000), 1);
    ck_assert_uint_eq(height(h), 7);
    mine(s, 1);
    mine(h, 2);
    run_until(&w, never, 300);
    mine(h, 2);
    ck_assert_int_eq(run_until(&w, same_tip, 20000), 1);
    ck_assert_uint_eq(height(s), 9);
    adv_get_stats(s->a, &st);
    ck_assert_uint_eq(st.lead, 0);
    relay_stats rs;
    relay_get_stats(h->r, &rs);
    ck_assert_uint_eq(rs.rejected_blocks, 0);
    ck_assert_uint_eq(rs.misbehaved, 0);
    world_free(&w);
}
END_TEST

static int banned(void *arg)
{
    world *w = arg;
    relay_stats rs;
    relay_get_stats(w->nodes[0].r, &rs);
    return rs.rejected_blocks >= 1 && net_peer_count(w->nodes[0].n) == 0;
}

START_TEST(test_forger)
{
    world w;
    uint8_t *bytes;
    size_t len;
    adv_stats st;

    world_init(&w);
    node *h = world_add(&w, 0);
    node *f = world_add(&w, ADV_FORGER);
    ck_assert_int_eq(run_until(&w, linked, 20000), 1);
    make_block(f, 3, &bytes, &len);
    ck_assert_int_eq(adv_forge_found(f->a, bytes, len), 1);
    free(bytes);
    ck_assert_int_eq(run_until(&w, banned, 20000), 1);
    ck_assert_uint_eq(height(h), 0);
    ck_assert_uint_eq(height(f), 0);
    ck_assert_str_eq(relay_banned_names(h->r), "n1");
    adv_get_stats(f->a, &st);
    ck_assert_uint_eq(st.forged_blocks, 1);
    /* An honest node's miner is untouched by the forger's code. */
    ck_assert_int_eq(adv_forge_found(h->a, bytes, 0), 0);
    world_free(&w);
}
END_TEST

Suite *adv_suite(void)
{
    Suite *s = suite_create("adv");
    TCase *tc = tcase_create("mining");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_selfish);
    tcase_add_test(tc, test_forger);
    suite_add_tcase(s, tc);
    return s;
}
