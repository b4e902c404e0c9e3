/*
 * store.h - append-only block store: data_dir/blocks.dat.
 *
 * Record: magic "SGB1" (4), u32 LE payload length, first 4 bytes of the
 * payload's sha256d, payload (a block's wire encoding).  store_append
 * returns only after fsync, so a block it wrote survives a crash, unless
 * the owner takes the fsync on itself (store_sync_later): then a record is
 * durable once a store_sync begun after its append has returned, and
 * store_close syncs what is left.  On open, every intact record is
 * replayed in order; a torn or corrupt tail (crash mid-write) is cut off
 * with ftruncate and reported, never fatal.
 */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_RECORD_MAX (4u * 1024 * 1024)

typedef struct store store;

/* Called once per stored block during open; offset identifies the record
 * for store_read.  A non-zero return stops the replay and is returned. */
typedef int (*store_replay_cb)(void *ctx, uint64_t offset,
                               const uint8_t *bytes, size_t len);

typedef struct {
    uint64_t records;        /* intact records replayed */
    uint64_t dropped_bytes;  /* torn tail cut off (0 if clean) */
    uint64_t dropped_at;     /* file offset where the cut was made */
} store_report;

/* Creates data_dir if missing.  Holds an exclusive lock on blocks.dat until
 * store_close: a second store_open on the same directory gets SG_ELOCKED. */
int store_open(store **out, const char *data_dir, store_replay_cb cb,
               void *ctx, store_report *rep);
int store_append(store *s, const uint8_t *bytes, size_t len, uint64_t *offset);
/* From now on store_append writes without fsync; the owner calls
 * store_sync (a daemon: on its thread pool, so its loop never waits for
 * the disk). */
void store_sync_later(store *s);
/* 1 if records were appended since the last call (then store_sync is
 * due), else 0.  Owner's thread. */
int store_sync_due(store *s);
/* fsync: SG_OK or SG_EIO.  The one call that may run on another thread
 * while the owner appends and reads (it touches only the descriptor); the
 * store must not be closed until it returns. */
int store_sync(store *s);
/* Reads one record back; *out is freed with free(). */
int store_read(store *s, uint64_t offset, uint8_t **out, size_t *len);
void store_close(store *s);

#endif
