/*
 * fleet_poll.c - the fleet's control links driven all at once from one
 * thread: a poll round asks every daemon for its stats (and transaction
 * latency records) and waits for all the answers together, and mining is
 * switched on or off for many nodes the same way.  With 200 daemons on two
 * cores a daemon may take a while to be scheduled; asked one after the
 * other, those waits add up to minutes, asked together they overlap.
 * See fleet.h.
 */
#define _GNU_SOURCE
#include "fleet.h"
#include "common/base/clock.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

/* mining_rc while a node's answer is awaited (results are 0 or < 0). */
#define MINING_PENDING 1

static void drop_link(fleet_node *n, int64_t now_ms)
{
    ctl_close(n->c);
    n->c = NULL;
    n->ctl_retry_ms = now_ms + 1000;
    n->stats_asked = n->txlat_asked = 0;
}

/* Starts node i's link if it has none and may try now.  A numeric address
 * connects in the background; a host name (--hosts) the blocking way. */
static void open_link(fleet *f, size_t i, int64_t now_ms)
{
    fleet_node *n = &f->nodes[i];
    ctl_auth auth = { .cluster_key = f->cluster_key, .chain_id = f->chain_id,
                      .name = "launcher" };
    int rc;

    if (n->c || n->pid <= 0 || now_ms < n->ctl_retry_ms)
        return;
    n->stats_asked = n->txlat_asked = 0;
    n->opened_ms = now_ms;
    rc = ctl_open(&n->c, fleet_addr(f, i), n->port, &auth);
    if (rc == SG_EINVAL)
        rc = fleet_connect(f, i, &n->c, f->ctl_timeout_ms > 0 ? f->ctl_timeout_ms
                                                             : FLEET_CTL_TIMEOUT_MS);
    if (rc != 0) {
        n->c = NULL;
        n->ctl_retry_ms = now_ms + 1000;
    }
}

/* Requests for a ready link that has none outstanding. */
static void ask(fleet_node *n, int want_txlat, int64_t now_ms)
{
    int rc = 0;
    if (!n->c || !ctl_is_ready(n->c))
        return;
    if (!n->stats_asked && (rc = ctl_post(n->c, PROTO_MSG_STATS_REQ)) == 0) {
        n->stats_asked = 1;
        n->asked_ms = now_ms;
    }
    if (rc == 0 && want_txlat && !n->txlat_asked &&
        (rc = ctl_post(n->c, PROTO_MSG_TXLAT_REQ)) == 0)
        n->txlat_asked = 1;
    if (rc != 0)
        drop_link(n, now_ms);
}

typedef int (*settled_fn)(const fleet_node *n);

/* Steps every link that is not settled until all are or the deadline
 * passes; what arrives is picked up by the callers' settled checks through
 * after_step.  Links that fail are dropped. */
static void wait_links(fleet *f, int64_t deadline, settled_fn settled,
                       void (*after_step)(fleet *f, size_t i, void *arg), void *arg)
{
    struct pollfd *pfd = calloc(f->n ? f->n : 1, sizeof *pfd);
    size_t *idx = calloc(f->n ? f->n : 1, sizeof *idx);
    if (!pfd || !idx)
        goto out;
    for (;;) {
        size_t k = 0;
        int64_t now = clock_mono_ms();
        for (size_t i = 0; i < f->n; i++) {
            fleet_node *n = &f->nodes[i];
            if (!n->c || settled(n))
                continue;
            pfd[k] = (struct pollfd){ .fd = ctl_fd(n->c), .events = ctl_events(n->c) };
            idx[k++] = i;
        }
        if (k == 0 || now >= deadline)
            break;
        int r = poll(pfd, k, (int)(deadline - now));
        if (r <= 0)
            continue;
        for (size_t j = 0; j < k; j++) {
            fleet_node *n = &f->nodes[idx[j]];
            if (!pfd[j].revents)
                continue;
            if (ctl_step(n->c) != 0) {
                drop_link(n, clock_mono_ms());
                continue;
            }
            after_step(f, idx[j], arg);
        }
    }
out:
    free(pfd);
    free(idx);
}

/* ---- stats ---------------------------------------------------------------- */

static int stats_settled(const fleet_node *n)
{
    return n->fresh || n->hold;
}

static void stats_step(fleet *f, size_t i, void *arg)
{
    fleet_node *n = &f->nodes[i];
    int64_t now = clock_mono_ms();
    proto_stats ps;

    ask(n, *(const int *)arg, now);
    if (n->c && ctl_take_stats(n->c, &ps)) {
        fleet_take_stats(n, &ps);
        proto_stats_free(&ps);
        n->have_stats = 1;
        n->stats_ms = now;
        n->fresh = 1;
        n->stats_asked = 0;
    }
}

void fleet_poll_round(fleet *f, int64_t now_ms, int wait_ms, int want_txlat)
{
    int want = want_txlat != 0;
    for (size_t i = 0; i < f->n; i++) {
        fleet_node *n = &f->nodes[i];
        n->fresh = 0;
        if (n->hold)
            continue;
        if (n->c && n->pid <= 0)
            drop_link(n, now_ms);
        /* A link that never became ready, or a daemon that has not
         * answered for long: start over. */
        if (n->c && ((!ctl_is_ready(n->c) && now_ms - n->opened_ms > FLEET_OPEN_MAX_MS) ||
                     (n->stats_asked && now_ms - n->asked_ms > FLEET_ANSWER_MAX_MS)))
            drop_link(n, now_ms);
        open_link(f, i, now_ms);
        ask(n, want_txlat, now_ms);
        /* Answers that came since the last round. */
        if (n->c && ctl_step(n->c) != 0)
            drop_link(n, now_ms);
        else
            stats_step(f, i, &want);
    }
    wait_links(f, now_ms + wait_ms, stats_settled, stats_step, &want);
}

int fleet_take_txlat(fleet *f, size_t i, proto_txlat *out)
{
    fleet_node *n = &f->nodes[i];
    memset(out, 0, sizeof *out);
    if (!n->c || !ctl_take_txlat(n->c, out))
        return 0;
    n->txlat_asked = 0;
    return 1;
}

/* ---- mining --------------------------------------------------------------- */

static int mining_settled(const fleet_node *n)
{
    return n->mining_rc != MINING_PENDING;
}

static void mining_step(fleet *f, size_t i, void *arg)
{
    fleet_node *n = &f->nodes[i];
    int on = *(const int *)arg;
    (void)f;
    if (n->mining_rc != MINING_PENDING || !n->c)
        return;
    if (!n->mining_posted && ctl_is_ready(n->c)) {
        if (ctl_post_mining(n->c, on) != 0) {
            drop_link(n, clock_mono_ms());
            return;
        }
        n->mining_posted = 1;
    }
    int st = n->mining_posted ? ctl_mining_state(n->c) : -1;
    if (st >= 0)
        n->mining_rc = st == on ? 0 : SG_EPROTO;
}

void fleet_set_mining_range(fleet *f, size_t from, size_t to, int on, int wait_ms)
{
    int64_t now = clock_mono_ms();
    for (size_t i = from; i < to && i < f->n; i++) {
        fleet_node *n = &f->nodes[i];
        n->mining_posted = 0;
        n->mining_rc = n->pid > 0 ? MINING_PENDING : SG_ECLOSED;
        if (n->pid <= 0)
            continue;
        open_link(f, i, now);
        mining_step(f, i, &on);
    }
    wait_links(f, now + wait_ms, mining_settled, mining_step, &on);
    for (size_t i = from; i < to && i < f->n; i++) {
        fleet_node *n = &f->nodes[i];
        if (n->mining_rc != MINING_PENDING)
            continue;
        n->mining_rc = SG_ETIMEOUT;
        /* A local daemon whose link did not answer gets the signal (its
         * pid is the daemon); a remote one's pid is its transport (ssh),
         * which a USR1 would kill. */
        if (n->pid > 0 && !fleet_is_remote(f, (size_t)i) &&
            kill(n->pid, on ? SIGUSR2 : SIGUSR1) == 0)
            n->mining_rc = 0;
    }
}
