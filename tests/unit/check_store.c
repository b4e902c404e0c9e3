#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/store.h"
#include "testutil.h"

#define NREC 12
#define HDR 12

/* What a replay delivered, kept for comparison. */
typedef struct {
    size_t n;
    uint64_t off[64];
    size_t len[64];
    uint8_t *data[64];
    size_t stop_at;   /* return stop_rc on this record (1-based); 0 = never */
    int stop_rc;
} seen;

static int collect(void *ctx, uint64_t offset, const uint8_t *bytes, size_t len)
{
    seen *v = ctx;
    ck_assert_uint_lt(v->n, 64);
    if (v->stop_at != 0 && v->n + 1 == v->stop_at)
        return v->stop_rc;
    v->off[v->n] = offset;
    v->len[v->n] = len;
    v->data[v->n] = malloc(len > 0 ? len : 1);
    ck_assert_ptr_nonnull(v->data[v->n]);
    memcpy(v->data[v->n], bytes, len);
    v->n++;
    return 0;
}

static void seen_free(seen *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->data[i]);
    memset(v, 0, sizeof *v);
}

/* Records of varied sizes, including empty and one over 64 KiB. */
typedef struct {
    size_t n;
    uint64_t off[64];
    size_t len[64];
    uint8_t *data[64];
    char *dir;
    char *file;
} fixture;

static size_t rec_len(size_t i)
{
    static const size_t lens[] = { 80, 0, 1, 300, 5000, 7, 100000, 81, 12, 13, 4096, 250 };
    return lens[i % (sizeof lens / sizeof lens[0])];
}

static void fx_append(fixture *f, store *s, size_t len, uint64_t seed)
{
    size_t i = f->n++;
    f->len[i] = len;
    f->data[i] = malloc(len > 0 ? len : 1);
    ck_assert_ptr_nonnull(f->data[i]);
    tu_fill(f->data[i], len, &seed);
    ck_assert_int_eq(store_append(s, f->data[i], len, &f->off[i]), SG_OK);
}

static void fx_setup(fixture *f, size_t nrec)
{
    store *s;
    store_report rep;
    memset(f, 0, sizeof *f);
    f->dir = tu_mkdtemp();
    /* A data_dir that does not exist yet: store_open must create it. */
    ck_assert_int_ge(asprintf(&f->file, "%s/data/blocks.dat", f->dir), 0);
    char *data;
    ck_assert_int_ge(asprintf(&data, "%s/data", f->dir), 0);
    ck_assert_int_eq(store_open(&s, data, NULL, NULL, &rep), SG_OK);
    free(data);
    ck_assert_uint_eq(rep.records, 0);
    ck_assert_uint_eq(rep.dropped_bytes, 0);
    for (size_t i = 0; i < nrec; i++)
        fx_append(f, s, rec_len(i), 1000 + i);
    store_close(s);
}

static void fx_teardown(fixture *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->data[i]);
    free(f->file);
    tu_rmtree(f->dir);
}

static char *fx_datadir(const fixture *f)
{
    char *p;
    ck_assert_int_ge(asprintf(&p, "%s/data", f->dir), 0);
    return p;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void append_raw(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void flip_byte(const char *path, uint64_t off)
{
    uint8_t b;
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x01;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* Opens, replays and asserts the first `want` records came back exactly. */
static store *reopen_expect(const fixture *f, size_t want, store_report *rep)
{
    store *s;
    seen v;
    char *data = fx_datadir(f);
    memset(&v, 0, sizeof v);
    ck_assert_int_eq(store_open(&s, data, collect, &v, rep), SG_OK);
    free(data);
    ck_assert_uint_eq(rep->records, want);
    ck_assert_uint_eq(v.n, want);
    for (size_t i = 0; i < want; i++) {
        ck_assert_uint_eq(v.off[i], f->off[i]);
        ck_assert_uint_eq(v.len[i], f->len[i]);
        ck_assert_mem_eq(v.data[i], f->data[i], f->len[i]);
    }
    seen_free(&v);
    return s;
}

START_TEST(test_append_reopen_replays_in_order)
{
    fixture f;
    store_report rep;
    fx_setup(&f, NREC);
    /* Offsets are the running sum of record sizes. */
    uint64_t expect = 0;
    for (size_t i = 0; i < f.n; i++) {
        ck_assert_uint_eq(f.off[i], expect);
        expect += HDR + f.len[i];
    }
    ck_assert_uint_eq(file_size(f.file), expect);
    store *s = reopen_expect(&f, NREC, &rep);
    ck_assert_uint_eq(rep.dropped_bytes, 0);
    ck_assert_uint_eq(file_size(f.file), expect);
    store_close(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_store_read)
{
    fixture f;
    store_report rep;
    uint8_t *out;
    size_t len;
    fx_setup(&f, NREC);
    store *s = reopen_expect(&f, NREC, &rep);
    /* Backwards, to show reads are positional, not sequential. */
    for (size_t i = f.n; i-- > 0;) {
        ck_assert_int_eq(store_read(s, f.off[i], &out, &len), SG_OK);
        ck_assert_uint_eq(len, f.len[i]);
        ck_assert_mem_eq(out, f.data[i], len);
        free(out);
    }
    /* Not a record start: magic or checksum fails. */
    ck_assert_int_eq(store_read(s, f.off[3] + 1, &out, &len), SG_ECORRUPT);
    uint64_t end = f.off[f.n - 1] + HDR + f.len[f.n - 1];
    ck_assert_int_eq(store_read(s, end, &out, &len), SG_ENOTFOUND);
    ck_assert_int_eq(store_read(s, end + 1000, &out, &len), SG_ENOTFOUND);
    store_close(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_read_after_append_same_handle)
{
    fixture f;
    store_report rep;
    uint8_t *out;
    size_t len;
    fx_setup(&f, 2);
    store *s = reopen_expect(&f, 2, &rep);
    fx_append(&f, s, 333, 77);
    ck_assert_int_eq(store_read(s, f.off[2], &out, &len), SG_OK);
    ck_assert_uint_eq(len, 333);
    ck_assert_mem_eq(out, f.data[2], len);
    free(out);
    store_close(s);
    fx_teardown(&f);
}
END_TEST

/* With the fsync left to the owner: store_sync_due says when one is
 * owed, once per batch of appends, and the records are there on reopen. */
START_TEST(test_sync_later)
{
    fixture f;
    store_report rep;
    fx_setup(&f, 2);
    store *s = reopen_expect(&f, 2, &rep);
    store_sync_later(s);
    ck_assert_int_eq(store_sync_due(s), 0);
    fx_append(&f, s, 100, 1);
    fx_append(&f, s, 200, 2);
    ck_assert_int_eq(store_sync_due(s), 1);
    ck_assert_int_eq(store_sync_due(s), 0);
    ck_assert_int_eq(store_sync(s), SG_OK);
    fx_append(&f, s, 300, 3);                 /* left for store_close */
    store_close(s);
    s = reopen_expect(&f, 5, &rep);
    ck_assert_uint_eq(rep.dropped_bytes, 0);
    store_close(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_append_limits)
{
    fixture f;
    store_report rep;
    fx_setup(&f, 1);
    store *s = reopen_expect(&f, 1, &rep);
    uint8_t *big = calloc(1, STORE_RECORD_MAX + 1);
    ck_assert_ptr_nonnull(big);
    uint64_t before = file_size(f.file), off;
    ck_assert_int_eq(store_append(s, big, STORE_RECORD_MAX + 1, &off), SG_ETOOBIG);
    ck_assert_uint_eq(file_size(f.file), before);
    ck_assert_int_eq(store_append(s, NULL, 5, &off), SG_EINVAL);
    /* Exactly the cap is allowed and survives a reopen. */
    big[0] = 0x5a;
    big[STORE_RECORD_MAX - 1] = 0xa5;
    f.data[f.n] = big;
    f.len[f.n] = STORE_RECORD_MAX;
    ck_assert_int_eq(store_append(s, big, STORE_RECORD_MAX, &f.off[f.n]), SG_OK);
    f.n++;
    store_close(s);
    s = reopen_expect(&f, 2, &rep);
    ck_assert_uint_eq(rep.dropped_bytes, 0);
    store_close(s);
    fx_teardown(&f);
}
END_TEST

/* After recovery the store must accept appends at the cut and keep them. */
static void check_recovered(fixture *f, size_t keep, uint64_t dropped)
{
    store_report rep;
    store *s = reopen_expect(f, keep, &rep);
    uint64_t cut = f->off[keep];
    ck_assert_uint_eq(rep.dropped_at, cut);
    ck_assert_uint_eq(rep.dropped_bytes, dropped);
    ck_assert_uint_eq(file_size(f->file), cut);
    /* Forget the lost records; a fresh one must land exactly at the cut. */
    for (size_t i = keep; i < f->n; i++)
        free(f->data[i]);
    f->n = keep;
    fx_append(f, s, 444, 4242);
    ck_assert_uint_eq(f->off[keep], cut);
    store_close(s);
    s = reopen_expect(f, keep + 1, &rep);
    ck_assert_uint_eq(rep.dropped_bytes, 0);
    store_close(s);
}

START_TEST(test_torn_last_record_in_payload)
{
    fixture f;
    fx_setup(&f, NREC);
    uint64_t last = f.off[NREC - 1];
    uint64_t cut = last + HDR + f.len[NREC - 1] / 2;
    ck_assert_int_eq(truncate(f.file, (off_t)cut), 0);
    check_recovered(&f, NREC - 1, cut - last);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_torn_last_record_in_header)
{
    fixture f;
    fx_setup(&f, NREC);
    uint64_t last = f.off[NREC - 1];
    ck_assert_int_eq(truncate(f.file, (off_t)(last + 6)), 0);
    check_recovered(&f, NREC - 1, 6);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_bad_checksum_last_record)
{
    fixture f;
    fx_setup(&f, NREC);
    uint64_t last = f.off[NREC - 1], size = file_size(f.file);
    flip_byte(f.file, last + 8);    /* the checksum itself */
    check_recovered(&f, NREC - 1, size - last);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_bad_payload_last_record)
{
    fixture f;
    fx_setup(&f, NREC);
    uint64_t last = f.off[NREC - 1], size = file_size(f.file);
    flip_byte(f.file, size - 1);    /* payload no longer matches */
    check_recovered(&f, NREC - 1, size - last);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_short_garbage_tail)
{
    fixture f;
    fx_setup(&f, NREC);
    uint64_t size = file_size(f.file);
    append_raw(f.file, "SGB1\x01\x02\x03", 7);  /* shorter than a header */
    f.off[NREC] = size;                          /* where the cut will be */
    check_recovered(&f, NREC, 7);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_bad_magic_tail)
{
    fixture f;
    fx_setup(&f, NREC);
    uint64_t size = file_size(f.file);
    uint8_t junk[40];
    memset(junk, 0, sizeof junk);
    memcpy(junk, "XGB1", 4);
    junk[4] = 8;                                 /* plausible length */
    append_raw(f.file, junk, sizeof junk);
    f.off[NREC] = size;
    check_recovered(&f, NREC, sizeof junk);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_oversized_length_tail)
{
    fixture f;
    fx_setup(&f, NREC);
    uint64_t size = file_size(f.file);
    uint8_t junk[HDR + 20];
    memset(junk, 0x33, sizeof junk);
    memcpy(junk, "SGB1", 4);
    uint32_t n = STORE_RECORD_MAX + 1;
    junk[4] = (uint8_t)n; junk[5] = (uint8_t)(n >> 8);
    junk[6] = (uint8_t)(n >> 16); junk[7] = (uint8_t)(n >> 24);
    append_raw(f.file, junk, sizeof junk);
    f.off[NREC] = size;
    check_recovered(&f, NREC, sizeof junk);
    fx_teardown(&f);
}
END_TEST

/* Every possible crash point of a small file: the replay must keep exactly
 * the records wholly before the cut and drop the rest. */
START_TEST(test_every_truncation_point)
{
    fixture f;
    fx_setup(&f, 0);
    store *s;
    store_report rep;
    char *data = fx_datadir(&f);
    ck_assert_int_eq(store_open(&s, data, NULL, NULL, &rep), SG_OK);
    for (size_t i = 0; i < 5; i++)
        fx_append(&f, s, 3 + 5 * i, 500 + i);
    store_close(s);
    uint64_t total = file_size(f.file);
    uint8_t *image = malloc(total);
    ck_assert_ptr_nonnull(image);
    int fd = open(f.file, O_RDONLY);
    ck_assert_int_eq(read(fd, image, total), (ssize_t)total);
    close(fd);

    for (uint64_t cut = 0; cut <= total; cut++) {
        fd = open(f.file, O_WRONLY | O_TRUNC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, image, cut), (ssize_t)cut);
        close(fd);
        size_t keep = 0;
        while (keep < f.n && f.off[keep] + HDR + f.len[keep] <= cut)
            keep++;
        uint64_t good = keep == 0 ? 0 : f.off[keep - 1] + HDR + f.len[keep - 1];
        s = reopen_expect(&f, keep, &rep);
        ck_assert_uint_eq(rep.dropped_bytes, cut - good);
        if (cut > good)
            ck_assert_uint_eq(rep.dropped_at, good);
        ck_assert_uint_eq(file_size(f.file), good);
        store_close(s);
    }
    free(image);
    free(data);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_callback_stops_replay)
{
    fixture f;
    store *s = NULL;
    store_report rep;
    seen v;
    fx_setup(&f, NREC);
    uint64_t size = file_size(f.file);
    char *data = fx_datadir(&f);
    memset(&v, 0, sizeof v);
    v.stop_at = 4;
    v.stop_rc = SG_EINVALID;
    ck_assert_int_eq(store_open(&s, data, collect, &v, &rep), SG_EINVALID);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(v.n, 3);
    /* Stopping is the caller's choice, not corruption: nothing is cut. */
    ck_assert_uint_eq(file_size(f.file), size);
    seen_free(&v);
    free(data);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_open_errors)
{
    store *s;
    store_report rep;
    char *dir = tu_mkdtemp(), *deep;
    ck_assert_int_eq(store_open(&s, "", NULL, NULL, &rep), SG_EINVAL);
    /* Only one level is created. */
    ck_assert_int_ge(asprintf(&deep, "%s/a/b", dir), 0);
    ck_assert_int_eq(store_open(&s, deep, NULL, NULL, &rep), SG_EIO);
    free(deep);
    /* A NULL report is allowed. */
    ck_assert_int_eq(store_open(&s, dir, NULL, NULL, NULL), SG_OK);
    store_close(s);
    tu_rmtree(dir);
}
END_TEST

/* A second daemon pointed at the same data directory must be refused, not
 * allowed to interleave its records with the first one's. */
START_TEST(test_second_open_is_locked_out)
{
    char *dir = tu_mkdtemp();
    store *a = NULL, *b = NULL;
    ck_assert_int_eq(store_open(&a, dir, NULL, NULL, NULL), SG_OK);
    ck_assert_int_eq(store_open(&b, dir, NULL, NULL, NULL), SG_ELOCKED);
    ck_assert_ptr_null(b);
    store_close(a);
    ck_assert_int_eq(store_open(&b, dir, NULL, NULL, NULL), SG_OK);
    store_close(b);
    tu_rmtree(dir);
}
END_TEST

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_append_reopen_replays_in_order);
    tcase_add_test(tc, test_store_read);
    tcase_add_test(tc, test_read_after_append_same_handle);
    tcase_add_test(tc, test_sync_later);
    tcase_add_test(tc, test_append_limits);
    tcase_add_test(tc, test_callback_stops_replay);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_second_open_is_locked_out);
    suite_add_tcase(s, tc);

    tc = tcase_create("recovery");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_torn_last_record_in_payload);
    tcase_add_test(tc, test_torn_last_record_in_header);
    tcase_add_test(tc, test_bad_checksum_last_record);
    tcase_add_test(tc, test_bad_payload_last_record);
    tcase_add_test(tc, test_short_garbage_tail);
    tcase_add_test(tc, test_bad_magic_tail);
    tcase_add_test(tc, test_oversized_length_tail);
    tcase_add_test(tc, test_every_truncation_point);
    suite_add_tcase(s, tc);
    return s;
}
