/*
 * web.h - the live web page of a run (--web PORT): a small read-only HTTP
 * server on its own thread (libmicrohttpd, epoll, one internal thread)
 * that serves the page, its script and style from the binary, the latest
 * snapshot as /snapshot.json and a Server-Sent Events stream of snapshots
 * at /events.
 *
 * Threads: the launcher's main loop only calls web_publish, which copies
 * the snapshot under the server's mutex and wakes the suspended streams;
 * the HTTP thread only reads snapshots.  No request changes the run:
 * GET and HEAD only (others 405), unknown paths 404.  Connections are
 * bounded in number (in all and per address), in idle time and in the
 * memory a request may use (a huge header is answered 431 and dropped),
 * so a bad client costs the server thread at most, never the run.
 */
#ifndef LAUNCHER_WEB_H
#define LAUNCHER_WEB_H

#include <stddef.h>
#include <stdint.h>

#define WEB_CONN_LIMIT 512           /* connections at once */
#define WEB_CONN_PER_IP 256          /* from one address (tests share 127.0.0.1) */
#define WEB_CONN_TIMEOUT_S 10        /* idle connections close after this */
#define WEB_CONN_MEMORY (32 * 1024)  /* a request's headers must fit in this */
#define WEB_STREAMS_MAX 32           /* /events streams at once; more get 503 */

typedef struct web web;

/* Listens on addr:port (addr: numeric IPv4 or IPv6; NULL or "" is
 * 127.0.0.1) and starts the server thread.  0, or SG_EIO with a line in
 * err naming the address and the fix. */
int web_start(web **out, const char *addr, uint16_t port, char *err, size_t cap);
/* The page's URL (for the start line). */
const char *web_url(const web *w);
/* Replaces the snapshot (JSON text of len bytes, one line; copied) and
 * sends it to every open stream.  Called from the main loop. */
void web_publish(web *w, const char *json, size_t len);
/* Ends the streams, stops the thread, frees w (NULL is fine). */
void web_stop(web *w);

#endif
