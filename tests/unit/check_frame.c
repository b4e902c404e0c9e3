/* Unit tests for proto/frame.c: frames in any split come out whole and in
 * order; bad headers are refused before anything is allocated. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "proto/buf.h"
#include "proto/frame.h"
#include "testutil.h"

#define MAX_SEEN 512

/* What the callback saw: type and a copy of each payload. */
typedef struct {
    size_t n;
    uint8_t type[MAX_SEEN];
    uint8_t *payload[MAX_SEEN];
    size_t len[MAX_SEEN];
    const uint8_t *ptr[MAX_SEEN];   /* where the payload was */
    size_t stop_at;                 /* return stop_rc on this frame (1-based) */
    int stop_rc;
} seen;

static int record(void *ctx, uint8_t type, const uint8_t *payload, size_t len)
{
    seen *s = ctx;
    ck_assert_uint_lt(s->n, MAX_SEEN);
    s->type[s->n] = type;
    s->len[s->n] = len;
    s->ptr[s->n] = payload;
    s->payload[s->n] = malloc(len ? len : 1);
    if (len > 0)
        memcpy(s->payload[s->n], payload, len);
    s->n++;
    return s->n == s->stop_at ? s->stop_rc : 0;
}

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->payload[i]);
    s->n = 0;
}

/* A stream of n frames with random types and payload sizes 0..max_len. */
typedef struct {
    uint8_t *bytes;
    size_t len;
    size_t n;
    uint8_t type[MAX_SEEN];
    size_t off[MAX_SEEN];    /* payload offset in bytes */
    size_t plen[MAX_SEEN];
} stream;

static void stream_make(stream *st, size_t n, size_t max_len, uint64_t seed)
{
    st->bytes = NULL;
    st->len = 0;
    st->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t plen = tu_rand(&seed) % (max_len + 1);
        uint8_t *payload = malloc(plen ? plen : 1);
        uint8_t *frame;
        size_t flen;

        tu_fill(payload, plen, &seed);
        st->type[i] = (uint8_t)tu_rand(&seed);
        ck_assert_int_eq(proto_frame_build(st->type[i], payload, plen,
                                           &frame, &flen), 0);
        ck_assert_uint_eq(flen, plen + 5);
        st->bytes = realloc(st->bytes, st->len + flen);
        memcpy(st->bytes + st->len, frame, flen);
        st->off[i] = st->len + 5;
        st->plen[i] = plen;
        st->len += flen;
        free(frame);
        free(payload);
    }
}

static void assert_stream_seen(const stream *st, const seen *s, size_t upto)
{
    ck_assert_uint_eq(s->n, upto);
    for (size_t i = 0; i < upto; i++) {
        ck_assert_uint_eq(s->type[i], st->type[i]);
        ck_assert_uint_eq(s->len[i], st->plen[i]);
        if (st->plen[i] > 0)
            ck_assert_mem_eq(s->payload[i], st->bytes + st->off[i],
                             st->plen[i]);
    }
}

START_TEST(frame_build_layout)
{
    uint8_t *f;
    size_t len;
    ck_assert_int_eq(proto_frame_build(7, "abc", 3, &f, &len), 0);
    ck_assert_uint_eq(len, 8);
    ck_assert_uint_eq(proto_le32_get(f), 4);
    ck_assert_uint_eq(f[4], 7);
    ck_assert_mem_eq(f + 5, "abc", 3);
    free(f);

    ck_assert_int_eq(proto_frame_build(9, NULL, 0, &f, &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_uint_eq(proto_le32_get(f), 1);
    free(f);

    f = (uint8_t *)1;
    ck_assert_int_eq(proto_frame_build(1, NULL, PROTO_FRAME_MAX, &f, &len),
                     SG_ETOOBIG);
    ck_assert_ptr_null(f);
}
END_TEST

START_TEST(whole_frames_are_not_copied)
{
    stream st;
    seen s = {0};
    proto_deframer d;

    stream_make(&st, 50, 40, 1);
    proto_deframer_init(&d, PROTO_FRAME_MAX, record, &s);
    ck_assert_int_eq(proto_deframer_feed(&d, st.bytes, st.len), 0);
    assert_stream_seen(&st, &s, 50);
    /* Every payload was handed over in place, never through d->body. */
    for (size_t i = 0; i < 50; i++)
        ck_assert_ptr_eq(s.ptr[i], st.bytes + st.off[i]);
    ck_assert_ptr_null(d.body);
    seen_free(&s);
    proto_deframer_free(&d);
    free(st.bytes);
}
END_TEST

START_TEST(byte_by_byte)
{
    stream st;
    seen s = {0};
    proto_deframer d;

    stream_make(&st, 200, 300, 2);
    proto_deframer_init(&d, PROTO_FRAME_MAX, record, &s);
    for (size_t i = 0; i < st.len; i++)
        ck_assert_int_eq(proto_deframer_feed(&d, st.bytes + i, 1), 0);
    assert_stream_seen(&st, &s, 200);
    ck_assert_ptr_null(d.body);
    ck_assert_uint_eq(d.hdr_have, 0);
    seen_free(&s);
    proto_deframer_free(&d);
    free(st.bytes);
}
END_TEST

START_TEST(random_splits)
{
    stream st;
    uint64_t seed = 0x5eed;

    stream_make(&st, 300, 200, 3);
    for (int round = 0; round < 100; round++) {
        seen s = {0};
        proto_deframer d;
        size_t max_chunk = 1 + tu_rand(&seed) % 700;

        proto_deframer_init(&d, 4096, record, &s);
        for (size_t pos = 0; pos < st.len;) {
            size_t n = 1 + tu_rand(&seed) % max_chunk;
            if (n > st.len - pos)
                n = st.len - pos;
            /* Each chunk in a buffer of its own size, so ASan catches a
             * read beyond it or a pointer kept after the feed. */
            uint8_t *chunk = malloc(n);
            memcpy(chunk, st.bytes + pos, n);
            ck_assert_int_eq(proto_deframer_feed(&d, chunk, n), 0);
            free(chunk);
            pos += n;
        }
        assert_stream_seen(&st, &s, 300);
        seen_free(&s);
        proto_deframer_free(&d);
    }
    free(st.bytes);
}
END_TEST

START_TEST(zero_length_refused)
{
    static const uint8_t hdr[] = {0, 0, 0, 0, 5, 1, 2, 3};
    seen s = {0};
    proto_deframer d;

    proto_deframer_init(&d, PROTO_FRAME_MAX, record, &s);
    ck_assert_int_eq(proto_deframer_feed(&d, hdr, 4), SG_EFRAME);
    ck_assert_ptr_null(d.body);
    ck_assert_uint_eq(s.n, 0);
    proto_deframer_free(&d);

    /* The same, with the header split and followed by bytes. */
    proto_deframer_init(&d, PROTO_FRAME_MAX, record, &s);
    ck_assert_int_eq(proto_deframer_feed(&d, hdr, 2), 0);
    ck_assert_int_eq(proto_deframer_feed(&d, hdr + 2, sizeof hdr - 2),
                     SG_EFRAME);
    ck_assert_ptr_null(d.body);
    ck_assert_uint_eq(s.n, 0);
    proto_deframer_free(&d);
}
END_TEST

START_TEST(oversized_refused_from_header)
{
    static const uint32_t lens[] = {PROTO_FRAME_MAX + 1, 0x7fffffffu,
                                    0xffffffffu};
    seen s = {0};
    proto_deframer d;
    uint8_t hdr[4];

    for (size_t i = 0; i < 3; i++) {
        proto_le32_put(hdr, lens[i]);
        proto_deframer_init(&d, PROTO_FRAME_MAX, record, &s);
        for (int k = 0; k < 3; k++) {
            ck_assert_int_eq(proto_deframer_feed(&d, hdr + k, 1), 0);
            ck_assert_ptr_null(d.body);
        }
        ck_assert_int_eq(proto_deframer_feed(&d, hdr + 3, 1), SG_ETOOBIG);
        ck_assert_ptr_null(d.body);
        ck_assert_uint_eq(s.n, 0);
        proto_deframer_free(&d);
    }

    /* A smaller per-connection limit: max accepted, max + 1 refused. */
    proto_deframer_init(&d, 100, record, &s);
    proto_le32_put(hdr, 100);
    ck_assert_int_eq(proto_deframer_feed(&d, hdr, 4), 0);
    ck_assert_ptr_nonnull(d.body); /* header complete and valid: allocated */
    ck_assert_uint_eq(d.body_len, 100);
    proto_deframer_free(&d);
    proto_deframer_init(&d, 100, record, &s);
    proto_le32_put(hdr, 101);
    ck_assert_int_eq(proto_deframer_feed(&d, hdr, 4), SG_ETOOBIG);
    ck_assert_ptr_null(d.body);
    proto_deframer_free(&d);
}
END_TEST

START_TEST(error_is_sticky)
{
    stream st;
    seen s = {0};
    proto_deframer d;
    static const uint8_t bad[] = {0, 0, 0, 0};

    stream_make(&st, 3, 10, 4);
    proto_deframer_init(&d, PROTO_FRAME_MAX, record, &s);
    ck_assert_int_eq(proto_deframer_feed(&d, st.bytes, st.len), 0);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_int_eq(proto_deframer_feed(&d, bad, 4), SG_EFRAME);
    ck_assert_int_eq(d.err, SG_EFRAME);
    ck_assert_int_eq(proto_deframer_feed(&d, st.bytes, st.len), SG_EFRAME);
    ck_assert_int_eq(proto_deframer_feed(&d, st.bytes, 1), SG_EFRAME);
    ck_assert_uint_eq(s.n, 3);
    seen_free(&s);
    proto_deframer_free(&d);
    free(st.bytes);
}
END_TEST

START_TEST(callback_stops_delivery)
{
    stream st;
    seen s = {0};
    proto_deframer d;

    stream_make(&st, 5, 20, 5);
    s.stop_at = 2;
    s.stop_rc = 7;
    proto_deframer_init(&d, PROTO_FRAME_MAX, record, &s);
    ck_assert_int_eq(proto_deframer_feed(&d, st.bytes, st.len), 7);
    assert_stream_seen(&st, &s, 2);
    ck_assert_int_eq(proto_deframer_feed(&d, st.bytes, st.len), 7);
    ck_assert_uint_eq(s.n, 2);
    seen_free(&s);
    proto_deframer_free(&d);

    /* The same when the stopping frame was assembled across feeds. */
    s.stop_at = 2;
    s.stop_rc = SG_EPROTO;
    proto_deframer_init(&d, PROTO_FRAME_MAX, record, &s);
    for (size_t i = 0; i < st.len; i++) {
        int rc = proto_deframer_feed(&d, st.bytes + i, 1);
        if (rc != 0) {
            ck_assert_int_eq(rc, SG_EPROTO);
            ck_assert_uint_eq(i, st.off[1] + st.plen[1] - 1);
            break;
        }
    }
    assert_stream_seen(&st, &s, 2);
    ck_assert_ptr_null(d.body);
    ck_assert_int_eq(proto_deframer_feed(&d, st.bytes, st.len), SG_EPROTO);
    ck_assert_uint_eq(s.n, 2);
    seen_free(&s);
    proto_deframer_free(&d);
    free(st.bytes);
}
END_TEST

START_TEST(free_mid_frame)
{
    seen s = {0};
    proto_deframer d;

    proto_deframer_init(&d, 0, record, &s); /* 0 means the default cap */
    ck_assert_uint_eq(d.max_frame, PROTO_FRAME_MAX);
    uint8_t hdr[5];
    proto_le32_put(hdr, 1000);
    hdr[4] = 3;
    ck_assert_int_eq(proto_deframer_feed(&d, hdr, sizeof hdr), 0);
    ck_assert_ptr_nonnull(d.body);
    ck_assert_uint_eq(d.body_have, 1);
    proto_deframer_free(&d);
    ck_assert_ptr_null(d.body);
    proto_deframer_free(&d);
    ck_assert_uint_eq(s.n, 0);
}
END_TEST

Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("deframer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, frame_build_layout);
    tcase_add_test(tc, whole_frames_are_not_copied);
    tcase_add_test(tc, byte_by_byte);
    tcase_add_test(tc, random_splits);
    tcase_add_test(tc, zero_length_refused);
    tcase_add_test(tc, oversized_refused_from_header);
    tcase_add_test(tc, error_is_sticky);
    tcase_add_test(tc, callback_stops_delivery);
    tcase_add_test(tc, free_mid_frame);
    suite_add_tcase(s, tc);
    return s;
}
