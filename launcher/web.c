/*
 * web.c - the live page's HTTP server; see web.h.
 *
 * /events streams are MHD callback responses that never end: a stream
 * with nothing new to send suspends its connection (so the server thread
 * does not spin on it) and puts itself on the waiting list; web_publish
 * resumes every waiting stream.  The check and the suspension happen
 * under the mutex, and so does taking the waiting list, so a snapshot
 * published in between cannot be missed; the resumes themselves happen
 * after the mutex is released, so the main thread never holds it while it
 * waits for one of libmicrohttpd's locks (no lock-order cycle with the
 * server thread, which suspends under it).  A suspended connection is not
 * processed, so it cannot close before it is resumed.  A slow reader gets
 * the newest snapshot when it is ready for more, not a backlog.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/base/err.h"
#include "web_assets.h"

typedef struct stream stream;

struct web {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    char *snap;                      /* the latest snapshot; NULL before the first */
    size_t snap_len;
    uint64_t seq;                    /* bumped by every publish */
    stream *waiting;                 /* suspended streams */
    unsigned n_streams;
    int stopping;
    char url[96];
};

struct stream {
    web *w;
    struct MHD_Connection *conn;
    uint64_t seq;                    /* of the snapshot last sent */
    char *buf;                       /* the event being sent */
    size_t len, off;
    stream *next;                    /* on w->waiting */
};

static const char csp[] = "default-src 'self'; base-uri 'none'; form-action 'none'; "
                          "frame-ancestors 'none'";

static void add_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!r)
        return MHD_NO;
    add_headers(r, type);
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    return reply(c, code, "text/plain; charset=utf-8", text, strlen(text),
                 MHD_RESPMEM_PERSISTENT);
}

/* ---- /events ------------------------------------------------------------ */

/* "data: JSON\n\n" of the current snapshot; called under the mutex. */
static int stream_take(stream *st)
{
    web *w = st->w;
    size_t n = w->snap_len + 8;
    st->buf = malloc(n);
    if (!st->buf)
        return SG_ENOMEM;
    memcpy(st->buf, "data: ", 6);
    memcpy(st->buf + 6, w->snap, w->snap_len);
    st->buf[6 + w->snap_len] = '\n';
    st->buf[7 + w->snap_len] = '\n';
    st->len = n;
    st->off = 0;
    st->seq = w->seq;
    return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    stream *st = cls;
    web *w = st->w;
    (void)pos;
    if (st->off == st->len) {
        free(st->buf);
        st->buf = NULL;
        st->len = st->off = 0;
        pthread_mutex_lock(&w->mu);
        if (w->stopping) {
            pthread_mutex_unlock(&w->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (!w->snap || w->seq == st->seq) {
            st->next = w->waiting;
            w->waiting = st;
            MHD_suspend_connection(st->conn);
            pthread_mutex_unlock(&w->mu);
            return 0;
        }
        int rc = stream_take(st);
        pthread_mutex_unlock(&w->mu);
        if (rc != 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->len - st->off < max ? st->len - st->off : max;
    memcpy(out, st->buf + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    web *w = st->w;
    pthread_mutex_lock(&w->mu);
    for (stream **p = &w->waiting; *p; p = &(*p)->next)
        if (*p == st) {
            *p = st->next;
            break;
        }
    w->n_streams--;
    pthread_mutex_unlock(&w->mu);
    free(st->buf);
    free(st);
}

static enum MHD_Result serve_events(web *w, struct MHD_Connection *c)
{
    stream *st = calloc(1, sizeof *st);
    if (!st)
        return MHD_NO;
    st->w = w;
    st->conn = c;
    pthread_mutex_lock(&w->mu);
    int full = w->n_streams >= WEB_STREAMS_MAX;
    if (!full)
        w->n_streams++;
    pthread_mutex_unlock(&w->mu);
    if (full) {
        free(st);
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "too many live streams\n");
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st,
                                          stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    add_headers(r, "text/event-stream");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- routes ------------------------------------------------------------- */

static enum MHD_Result serve_snapshot(web *w, struct MHD_Connection *c)
{
    char *copy = NULL;
    size_t len = 0;
    pthread_mutex_lock(&w->mu);
    if (w->snap && (copy = malloc(w->snap_len)) != NULL) {
        memcpy(copy, w->snap, w->snap_len);
        len = w->snap_len;
    }
    pthread_mutex_unlock(&w->mu);
    if (!copy)
        return reply(c, MHD_HTTP_OK, "application/json", "{}", 2, MHD_RESPMEM_PERSISTENT);
    return reply(c, MHD_HTTP_OK, "application/json", copy, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_len, void **con_cls)
{
    web *w = cls;
    static const struct { const char *path, *type; const unsigned char *body; size_t len; }
        files[] = {
            { "/", "text/html; charset=utf-8", web_index_html, sizeof web_index_html },
            { "/app.js", "text/javascript; charset=utf-8", web_app_js, sizeof web_app_js },
            { "/app.css", "text/css; charset=utf-8", web_app_css, sizeof web_app_css },
            { "/favicon.ico", "image/svg+xml", web_icon_svg, sizeof web_icon_svg },
        };
    (void)version;
    (void)upload;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET: this page only shows\n");
    if (*upload_len)
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "a GET carries no body\n");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (strcmp(url, files[i].path) == 0)
            return reply(c, MHD_HTTP_OK, files[i].type, files[i].body, files[i].len,
                         MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/snapshot.json") == 0)
        return serve_snapshot(w, c);
    if (strcmp(url, "/events") == 0)
        return serve_events(w, c);
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- life --------------------------------------------------------------- */

int web_start(web **out, const char *addr, uint16_t port, char *err, size_t cap)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    web *w;

    if (!addr || !*addr)
        addr = "127.0.0.1";
    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, cap, "--web-listen: '%s' is not a numeric IPv4 or IPv6 address", addr);
        return SG_EINVAL;
    }
    w = calloc(1, sizeof *w);
    if (!w)
        return SG_ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    snprintf(w->url, sizeof w->url, ss.ss_family == AF_INET6 ? "http://[%s]:%u/" :
             "http://%s:%u/", addr, port);
    errno = 0;
    w->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, w,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONN_LIMIT,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WEB_CONN_PER_IP,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_CONN_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_CONN_MEMORY,
                            MHD_OPTION_END);
    if (!w->d) {
        int e = errno;
        snprintf(err, cap, "--web: cannot listen on %s port %u (%s); pick another port "
                 "with --web PORT", addr, port, e ? strerror(e) : "libmicrohttpd refused");
        pthread_mutex_destroy(&w->mu);
        free(w);
        return SG_EIO;
    }
    *out = w;
    return 0;
}

const char *web_url(const web *w)
{
    return w->url;
}

/* Empties the waiting list into conns (at most WEB_STREAMS_MAX, as
 * streams are); called under the mutex. */
static size_t take_waiting(web *w, struct MHD_Connection **conns)
{
    size_t n = 0;
    for (stream *st = w->waiting; st && n < WEB_STREAMS_MAX; st = st->next)
        conns[n++] = st->conn;
    w->waiting = NULL;
    return n;
}

void web_publish(web *w, const char *json, size_t len)
{
    struct MHD_Connection *conns[WEB_STREAMS_MAX];
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return;                      /* the page keeps the previous one */
    memcpy(copy, json, len);
    pthread_mutex_lock(&w->mu);
    free(w->snap);
    w->snap = copy;
    w->snap_len = len;
    w->seq++;
    size_t n = take_waiting(w, conns);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++)
        MHD_resume_connection(conns[i]);
}

void web_stop(web *w)
{
    struct MHD_Connection *conns[WEB_STREAMS_MAX];
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    size_t n = take_waiting(w, conns);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++)
        MHD_resume_connection(conns[i]);
    MHD_stop_daemon(w->d);
    free(w->snap);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
