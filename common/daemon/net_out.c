/*
 * net_out.c - output batching: the session's sealed frames are gathered
 * per peer during a loop turn and handed to libuv at the turn's end as one
 * write (one writev, not a syscall per frame); net_send and the turn hook.
 */
#include "common/daemon/net_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/base/err.h"

/* One uv_write of every frame a peer was sent in one loop iteration. */
typedef struct {
    uv_write_t req;
    uv_buf_t *bufs;               /* owned, with each frame */
    unsigned n_bufs;
    size_t len;
} net_write;

static void free_bufs(uv_buf_t *bufs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(bufs[i].base);
    free(bufs);
}

static void on_write(uv_write_t *req, int status)
{
    net_write *w = (net_write *)req;
    net_peer *p = req->data;
    char why[96];

    p->send_queued -= w->len;
    if (status == 0)
        p->bytes_out += w->len;
    free_bufs(w->bufs, w->n_bufs);
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        snprintf(why, sizeof(why), "write failed: %s", uv_strerror(status));
        net_conn_close(p, LOG_LEVEL_INFO, why);
    }
}

/* Bytes libuv holds for the socket because the kernel would not take them:
 * what a slow reader makes pile up (unlike send_queued, it does not count
 * writes that went through but whose callbacks are still to run). */
size_t net_out_unsent(const net_peer *p)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&p->tcp) + p->outq_bytes;
}

/* Hands the frames queued this turn to libuv as one write (one writev
 * instead of a syscall per frame); they live until on_write. */
int net_out_flush_peer(net_peer *p)
{
    net_write *w;
    int rc;

    if (p->n_outq == 0)
        return 0;
    w = malloc(sizeof(*w));
    if (w == NULL)
        return SG_ENOMEM;
    w->bufs = p->outq;
    w->n_bufs = p->n_outq;
    w->len = p->outq_bytes;
    w->req.data = p;
    p->outq = NULL;
    p->n_outq = p->cap_outq = 0;
    p->outq_bytes = 0;
    rc = uv_write(&w->req, (uv_stream_t *)&p->tcp, w->bufs, w->n_bufs, on_write);
    if (rc != 0) {
        free_bufs(w->bufs, w->n_bufs);
        free(w);
        return SG_EIO;
    }
    p->send_queued += w->len;
    return 0;
}

static void flush_all(net *n)
{
    net_peer *next;

    if (!n->corked)
        return;
    n->corked = 0;
    for (net_peer *p = n->peers; p != NULL; p = next) {
        next = p->next;
        if (p->n_outq > 0 && p->state != NET_CONN_CLOSING && net_out_flush_peer(p) != 0)
            net_conn_close(p, LOG_LEVEL_INFO, "write refused");
    }
}

static int outq_push(net_peer *p, uint8_t *frame, size_t len)
{
    if (p->n_outq == p->cap_outq) {
        unsigned cap = p->cap_outq ? p->cap_outq * 2 : 8;
        uv_buf_t *q = realloc(p->outq, cap * sizeof(*q));
        if (q == NULL)
            return SG_ENOMEM;
        p->outq = q;
        p->cap_outq = cap;
    }
    p->outq[p->n_outq++] = uv_buf_init((char *)frame, (unsigned)len);
    p->outq_bytes += len;
    p->n->corked = 1;
    return 0;
}

/* The session's output: queue one frame, written at the end of this loop
 * turn (flush_all) together with the others for this peer. */
int net_out_frame(void *ctx, uint8_t *frame, size_t len)
{
    net_peer *p = ctx;

    if (p->state == NET_CONN_CLOSING) {
        free(frame);
        return SG_ECLOSED;
    }
    if (net_out_unsent(p) + len > p->n->cfg.send_buf_max) {
        free(frame);
        net_conn_close(p, LOG_LEVEL_WARN, "send buffer over its limit (peer too slow)");
        return SG_EFULL;
    }
    if (outq_push(p, frame, len) != 0) {
        free(frame);
        net_conn_close(p, LOG_LEVEL_ERROR, "out of memory queueing a frame");
        return SG_ENOMEM;
    }
    return 0;
}

int net_send(net_peer *p, uint8_t type, const void *payload, size_t len)
{
    int rc;
    assert(p != NULL && (payload != NULL || len == 0));
    if (p->state != NET_CONN_READY)
        return SG_ECLOSED;
    if (len > p->n->cfg.max_frame)
        return SG_ETOOBIG;
    rc = sec_send(p->sec, type, payload, len);
    if (rc == 0)
        p->msgs_out++;
    return rc;
}

int net_flush(net_peer *p)
{
    if (p->state != NET_CONN_READY || p->n_outq == 0)
        return 0;
    if (net_out_flush_peer(p) != 0) {
        net_conn_close(p, LOG_LEVEL_INFO, "write refused");
        return SG_EIO;
    }
    return 0;
}

size_t net_broadcast(net *n, net_peer *except, uint8_t type,
                     const void *payload, size_t len)
{
    size_t sent = 0;
    for (net_peer *p = n->peers; p != NULL; p = p->next)
        if (p != except && p->state == NET_CONN_READY &&
            p->link == PROTO_LINK_PEER &&
            net_send(p, type, payload, len) == 0)
            sent++;
    return sent;
}

int net_out_send_encoded(net_peer *p, uint8_t type, int rc, uint8_t *buf,
                         size_t len)
{
    if (rc == 0)
        rc = net_send(p, type, buf, len);
    free(buf);
    return rc;
}

void net_out_end_turn(net *n)
{
    if (n->turn_hook != NULL && !n->closing)
        n->turn_hook(n->turn_arg);
    flush_all(n);
}

void net_set_turn_hook(net *n, void (*fn)(void *arg), void *arg)
{
    n->turn_hook = fn;
    n->turn_arg = arg;
}

void net_out_free(net_peer *p)
{
    free_bufs(p->outq, p->n_outq);
    p->outq = NULL;
    p->n_outq = p->cap_outq = 0;
}

size_t net_peer_send_queued(const net_peer *p) { return net_out_unsent(p); }
