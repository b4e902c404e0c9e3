/*
 * net_deny.c - partitions: the set of peer names a daemon refuses to be
 * linked to until a heal (net.h, net_set_denied).  Names, not addresses:
 * the launcher knows its nodes by name, and on loopback every node shares
 * one IP, so the cut is drawn where the handshake names the peer.
 */
#include "common/daemon/net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"

int net_deny_has(const net *n, const char *name)
{
    for (size_t i = 0; i < n->n_deny; i++)
        if (strcmp(n->deny[i], name) == 0)
            return 1;
    return 0;
}

/* Whether p is a READY peer link to a denied name. */
static int link_denied(const net *n, const net_peer *p)
{
    return p->state == NET_CONN_READY && p->link == PROTO_LINK_PEER &&
           net_deny_has(n, net_conn_label(p));
}

int net_set_denied(net *n, const char *const *names, size_t count)
{
    char (*set)[PROTO_NAME_MAX + 1] = NULL;
    net_peer *next;

    if (count > 0 && (set = calloc(count, sizeof *set)) == NULL)
        return SG_ENOMEM;
    for (size_t i = 0; i < count; i++)
        snprintf(set[i], sizeof set[i], "%s", names[i]);
    free(n->deny);
    n->deny = set;
    n->n_deny = count;
    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        if (link_denied(n, p))
            net_conn_close(p, LOG_LEVEL_INFO, "partitioned from it");
    }
    /* Who answers where may differ now: every address is due again. */
    for (size_t i = 0; i < n->n_addrs; i++) {
        n->addrs[i].denied = 0;
        n->addrs[i].next_try_ms = 0;
        n->addrs[i].backoff_ms = n->cfg.backoff_min_ms;
        n->addrs[i].failures = 0;
    }
    if (count)
        log_info(n->cfg.log, "partition: %zu peer names refused", count);
    else
        log_info(n->cfg.log, "partition healed");
    net_dial_more(n);
    return 0;
}

size_t net_denied_count(const net *n) { return n->n_deny; }
