#define _GNU_SOURCE
#include "common/core/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "proto/buf.h"

#define STORE_MAGIC "SGB1"
#define STORE_HDR 12 /* magic, u32 LE length, 4-byte checksum */

/* One open blocks.dat.  Not thread-safe: the owning event loop is the only
 * caller.  size is the end of the last intact record, which is also the
 * file's length between calls. */
struct store {
    int fd;
    uint64_t size;
    int sync_later;           /* see store_sync_later */
    int unsynced;             /* appended since the last store_sync_due */
};

static void store_checksum(const uint8_t *p, size_t len, uint8_t out[4])
{
    uint8_t h[32];
    hash_sha256d(p, len, h);
    memcpy(out, h, 4);
}

/* Short reads happen (signals, odd filesystems); end of file before n
 * bytes is reported as SG_ETRUNC so callers can tell it from an I/O error. */
static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return SG_EIO;
        if (r == 0)
            return SG_ETRUNC;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return SG_OK;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return SG_EIO;
        p += w;
        n -= (size_t)w;
    }
    return SG_OK;
}

/* Loads and verifies the record at off, which must end at or before end.
 * SG_ECORRUPT for anything that is not a whole, intact record (torn,
 * bad magic, oversized, bad checksum); SG_EIO/SG_ENOMEM otherwise.
 * On success *out is a fresh heap copy of the payload. */
static int store_load(int fd, uint64_t off, uint64_t end, uint8_t **out,
                      size_t *len)
{
    uint8_t hdr[STORE_HDR], sum[4], *payload = NULL;
    uint32_t n;
    int rc;

    if (end < STORE_HDR || off > end - STORE_HDR)
        return SG_ECORRUPT;
    rc = pread_all(fd, hdr, sizeof hdr, off);
    if (rc != SG_OK)
        return rc == SG_ETRUNC ? SG_ECORRUPT : rc;
    n = proto_le32_get(hdr + 4);
    /* Check the declared length before allocating for it. */
    if (memcmp(hdr, STORE_MAGIC, 4) != 0 || n > STORE_RECORD_MAX ||
        n > end - off - STORE_HDR)
        return SG_ECORRUPT;
    payload = malloc(n > 0 ? n : 1);
    if (payload == NULL)
        return SG_ENOMEM;
    rc = pread_all(fd, payload, n, off + STORE_HDR);
    if (rc == SG_ETRUNC)
        rc = SG_ECORRUPT;
    if (rc != SG_OK)
        goto fail;
    store_checksum(payload, n, sum);
    if (memcmp(sum, hdr + 8, 4) != 0) {
        rc = SG_ECORRUPT;
        goto fail;
    }
    *out = payload;
    *len = n;
    return SG_OK;
fail:
    free(payload);
    return rc;
}

/* Replays records from the start; the first one that is not intact and
 * everything after it is cut off.  Records past a bad one cannot be found
 * reliably (the length field that would skip it is itself suspect), and a
 * crash only ever tears the last append, so in practice only the tail goes;
 * a node refetches anything lost from its peers. */
static int store_scan(store *s, uint64_t file_size, store_replay_cb cb,
                      void *ctx, store_report *rep)
{
    uint64_t off = 0;
    int rc = SG_OK;

    while (off < file_size) {
        uint8_t *payload;
        size_t len;
        rc = store_load(s->fd, off, file_size, &payload, &len);
        if (rc == SG_ECORRUPT)
            break;
        if (rc != SG_OK)
            return rc;
        rc = cb != NULL ? cb(ctx, off, payload, len) : SG_OK;
        free(payload);
        if (rc != SG_OK)
            return rc;
        rep->records++;
        off += STORE_HDR + len;
    }
    if (off < file_size) {
        if (ftruncate(s->fd, (off_t)off) != 0 || fsync(s->fd) != 0)
            return SG_EIO;
        rep->dropped_bytes = file_size - off;
        rep->dropped_at = off;
    }
    s->size = off;
    return SG_OK;
}

/* A new file's directory entry is only durable once the directory itself
 * is synced. */
static int fsync_dir(const char *dir)
{
    int rc = SG_OK, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SG_EIO;
    if (fsync(fd) != 0)
        rc = SG_EIO;
    close(fd);
    return rc;
}

int store_open(store **out, const char *data_dir, store_replay_cb cb,
               void *ctx, store_report *rep)
{
    store_report local;
    struct stat st;
    char *path = NULL;
    store *s = NULL;
    int rc;

    if (out == NULL || data_dir == NULL || *data_dir == '\0')
        return SG_EINVAL;
    if (rep == NULL)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
        return SG_EIO;
    if (asprintf(&path, "%s/blocks.dat", data_dir) < 0)
        return SG_ENOMEM;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        rc = SG_ENOMEM;
        goto fail;
    }
    s->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (s->fd < 0 || fstat(s->fd, &st) != 0) {
        rc = SG_EIO;
        goto fail;
    }
    /* Two daemons appending to one blocks.dat would interleave records. */
    if (flock(s->fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? SG_ELOCKED : SG_EIO;
        goto fail;
    }
    if (st.st_size == 0 && (rc = fsync_dir(data_dir)) != SG_OK)
        goto fail;
    rc = store_scan(s, (uint64_t)st.st_size, cb, ctx, rep);
    if (rc != SG_OK)
        goto fail;
    free(path);
    *out = s;
    return SG_OK;
fail:
    if (s != NULL && s->fd >= 0)
        close(s->fd);
    free(s);
    free(path);
    return rc;
}

int store_append(store *s, const uint8_t *bytes, size_t len, uint64_t *offset)
{
    uint8_t hdr[STORE_HDR];
    int rc;

    if (s == NULL || (bytes == NULL && len > 0))
        return SG_EINVAL;
    if (len > STORE_RECORD_MAX)
        return SG_ETOOBIG;
    memcpy(hdr, STORE_MAGIC, 4);
    proto_le32_put(hdr + 4, (uint32_t)len);
    store_checksum(bytes != NULL ? bytes : hdr, len, hdr + 8);
    rc = write_all(s->fd, hdr, sizeof hdr);
    if (rc == SG_OK)
        rc = write_all(s->fd, bytes, len);
    if (rc == SG_OK && !s->sync_later && fsync(s->fd) != 0)
        rc = SG_EIO;
    if (rc != SG_OK) {
        /* Undo a partial record now, or the next append would land after
         * it and be cut off with it at the next open. */
        if (ftruncate(s->fd, (off_t)s->size) == 0)
            (void)fsync(s->fd);
        return rc;
    }
    if (offset != NULL)
        *offset = s->size;
    s->size += STORE_HDR + len;
    s->unsynced = 1;
    return SG_OK;
}

void store_sync_later(store *s)
{
    s->sync_later = 1;
}

int store_sync_due(store *s)
{
    int due = s->unsynced;
    s->unsynced = 0;
    return due;
}

int store_sync(store *s)
{
    return fsync(s->fd) == 0 ? SG_OK : SG_EIO;
}

/* An offset that is not the start of a record reads as SG_ECORRUPT (its
 * bytes fail the magic or checksum test); one at or past the end is
 * SG_ENOTFOUND. */
int store_read(store *s, uint64_t offset, uint8_t **out, size_t *len)
{
    if (s == NULL || out == NULL || len == NULL)
        return SG_EINVAL;
    if (offset >= s->size)
        return SG_ENOTFOUND;
    return store_load(s->fd, offset, s->size, out, len);
}

void store_close(store *s)
{
    if (s == NULL)
        return;
    if (s->sync_later && s->unsynced)
        (void)fsync(s->fd);       /* nothing to tell a failure to, now */
    close(s->fd);
    free(s);
}
