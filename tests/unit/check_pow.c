#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/core/hash.h"
#include "common/core/pow.h"
#include "proto/block.h"
#include "testutil.h"

/* ---- hash.c ---------------------------------------------------------------- */

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char hex[2 * 64 + 1];
    ck_assert_uint_le(n, 64);
    hash_hex(p, n, hex);
    ck_assert_str_eq(hex, want);
}

START_TEST(test_sha256_vectors)
{
    uint8_t h[32];
    /* FIPS 180-2 examples. */
    hash_sha256("abc", 3, h);
    assert_hex(h, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hash_sha256("", 0, h);
    assert_hex(h, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hash_sha256d("", 0, h);
    assert_hex(h, 32, "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456");
}
END_TEST

/* The raw 80 genesis header bytes, hashed without any encoder in the way. */
static const char genesis_raw[] =
    "01000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a"
    "29ab5f49" "ffff001d" "1dac2b7c";

START_TEST(test_sha256d_raw_genesis)
{
    uint8_t raw[80], h[32];
    char disp[65];
    ck_assert_int_eq(hash_unhex(genesis_raw, raw, sizeof raw), SG_OK);
    hash_sha256d(raw, sizeof raw, h);
    hash_to_hex_display(h, disp);
    ck_assert_str_eq(disp, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
}
END_TEST

START_TEST(test_hex_helpers)
{
    uint8_t h[32], back[32], b[3];
    char disp[65];
    const char *s = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
    ck_assert_int_eq(hash_from_hex_display(s, h), SG_OK);
    /* Internal order is reversed: the leading zeros are the last bytes. */
    ck_assert_uint_eq(h[0], 0x6f);
    ck_assert_uint_eq(h[31], 0x00);
    hash_to_hex_display(h, disp);
    ck_assert_str_eq(disp, s);
    /* Upper case accepted, output lower case. */
    ck_assert_int_eq(hash_from_hex_display(
        "000000000019D6689C085AE165831E934FF763AE46A2A6C172B3F1B60A8CE26F", back), SG_OK);
    ck_assert_mem_eq(back, h, 32);

    memset(back, 0x77, sizeof back);
    ck_assert_int_eq(hash_from_hex_display("00", back), SG_EINVAL);
    ck_assert_int_eq(hash_from_hex_display(
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f0", back), SG_EINVAL);
    ck_assert_int_eq(hash_from_hex_display(
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26g", back), SG_EINVAL);
    ck_assert_uint_eq(back[0], 0x77);  /* untouched on error */

    ck_assert_int_eq(hash_unhex("a1B2c3", b, 3), SG_OK);
    ck_assert_uint_eq(b[0], 0xa1);
    ck_assert_uint_eq(b[1], 0xb2);
    ck_assert_uint_eq(b[2], 0xc3);
    ck_assert_int_eq(hash_unhex("a1b2c", b, 3), SG_EINVAL);
    ck_assert_int_eq(hash_unhex("a1b2c3d4", b, 3), SG_EINVAL);
    ck_assert_int_eq(hash_unhex(" 1b2c3", b, 3), SG_EINVAL);
    assert_hex(b, 3, "a1b2c3");

    memset(h, 0, sizeof h);
    ck_assert(hash_is_zero(h));
    h[17] = 1;
    ck_assert(!hash_is_zero(h));
}
END_TEST

/* ---- real Bitcoin headers ----------------------------------------------- */

typedef struct {
    const char *name;
    uint32_t version;
    const char *prev, *merkle;
    uint32_t time, bits, nonce;
    const char *hash, *target;
} vector;

static const vector vectors[] = {
    { "genesis", 1,
      "0000000000000000000000000000000000000000000000000000000000000000",
      "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
      1231006505, 0x1d00ffff, 2083236893,
      "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
      "00000000ffff0000000000000000000000000000000000000000000000000000" },
    { "block 1", 1,
      "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
      "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098",
      1231469665, 0x1d00ffff, 2573394689u,
      "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
      "00000000ffff0000000000000000000000000000000000000000000000000000" },
    { "block 2", 1,
      "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
      "9b0fc92260312ce44e74ef369f5c66bbb85848f2eddd5a7a1cde251e54ccfdd5",
      1231469744, 0x1d00ffff, 1639830024,
      "000000006a625f06636b8bb6ac7b960a8d03705d1ace08b1a19da3fdcc99ddbd",
      "00000000ffff0000000000000000000000000000000000000000000000000000" },
    { "block 100000", 1,
      "000000000002d01c1fccc21636b607dfd930d31d01c3a62104612a1719011250",
      "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766",
      1293623863, 0x1b04864c, 274148111,
      "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506",
      "000000000004864c000000000000000000000000000000000000000000000000" },
};
#define N_VECTORS (sizeof vectors / sizeof vectors[0])

static void vector_header(const vector *v, proto_header *h)
{
    memset(h, 0, sizeof *h);
    h->version = v->version;
    ck_assert_int_eq(hash_from_hex_display(v->prev, h->prev), SG_OK);
    ck_assert_int_eq(hash_from_hex_display(v->merkle, h->merkle), SG_OK);
    h->time = v->time;
    h->bits = v->bits;
    h->nonce = v->nonce;
}

START_TEST(test_header_hash)
{
    const vector *v = &vectors[_i];
    proto_header h;
    uint8_t hash[32];
    char disp[65];
    vector_header(v, &h);
    pow_header_hash(&h, hash);
    hash_to_hex_display(hash, disp);
    ck_assert_msg(strcmp(disp, v->hash) == 0, "%s: got %s", v->name, disp);
}
END_TEST

START_TEST(test_header_target)
{
    const vector *v = &vectors[_i];
    u256 t;
    char hex[65];
    ck_assert_int_eq(pow_bits_to_target(v->bits, &t), SG_OK);
    u256_hex(&t, hex);
    ck_assert_str_eq(hex, v->target);
    ck_assert_uint_eq(pow_target_to_bits(&t), v->bits);
}
END_TEST

START_TEST(test_header_pow_check)
{
    const vector *v = &vectors[_i];
    proto_header h;
    vector_header(v, &h);
    ck_assert_int_eq(pow_check(&h), SG_OK);
    /* Any single flipped nonce bit must miss the target. */
    for (int bit = 0; bit < 32; bit++) {
        proto_header bad = h;
        bad.nonce ^= 1u << bit;
        ck_assert_msg(pow_check(&bad) == SG_EBADPOW, "%s: bit %d", v->name, bit);
    }
}
END_TEST

START_TEST(test_encoder_matches_raw_genesis)
{
    proto_header h;
    uint8_t raw[80], enc[PROTO_HEADER_SIZE];
    vector_header(&vectors[0], &h);
    proto_header_encode(&h, enc);
    ck_assert_int_eq(hash_unhex(genesis_raw, raw, sizeof raw), SG_OK);
    ck_assert_mem_eq(enc, raw, 80);
}
END_TEST

START_TEST(test_pow_check_bad_bits)
{
    proto_header h;
    vector_header(&vectors[0], &h);
    /* bits are hashed too, so each change below is a fresh hash: a target
     * 2^40 times harder than the hash's own is simply not met. */
    h.bits = 0x1c00ffff;
    ck_assert_int_eq(pow_check(&h), SG_EBADPOW);
    /* Negative, overflowing and zero targets are refused outright. */
    h.bits = 0x1d80ffff;
    ck_assert_int_eq(pow_check(&h), SG_EBADPOW);
    h.bits = 0xff123456;
    ck_assert_int_eq(pow_check(&h), SG_EBADPOW);
    h.bits = 0x01003456;
    ck_assert_int_eq(pow_check(&h), SG_EBADPOW);
    h.bits = 0;
    ck_assert_int_eq(pow_check(&h), SG_EBADPOW);
    /* A target near 2^256 is met (this particular hash is below it). */
    h.bits = 0x2100ffff;
    ck_assert_int_eq(pow_check(&h), SG_OK);
}
END_TEST

/* ---- compact bits: Bitcoin Core's arith_uint256 tests -------------------- */

typedef struct {
    uint32_t bits;
    int rc;
    const char *target;   /* NULL when rc != 0 */
    uint32_t back;        /* pow_target_to_bits(target) */
} compact_case;

static const compact_case compact_cases[] = {
    { 0x00000000, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x00123456, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x01003456, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x02000056, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x03000000, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x04000000, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x00923456, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x01803456, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x02800056, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x03800000, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x04800000, SG_OK, "0000000000000000000000000000000000000000000000000000000000000000", 0 },
    { 0x01123456, SG_OK, "0000000000000000000000000000000000000000000000000000000000000012", 0x01120000 },
    { 0x02123456, SG_OK, "0000000000000000000000000000000000000000000000000000000000001234", 0x02123400 },
    { 0x03123456, SG_OK, "0000000000000000000000000000000000000000000000000000000000123456", 0x03123456 },
    { 0x04123456, SG_OK, "0000000000000000000000000000000000000000000000000000000012345600", 0x04123456 },
    { 0x05009234, SG_OK, "0000000000000000000000000000000000000000000000000000000092340000", 0x05009234 },
    { 0x20123456, SG_OK, "1234560000000000000000000000000000000000000000000000000000000000", 0x20123456 },
    { 0x1d00ffff, SG_OK, "00000000ffff0000000000000000000000000000000000000000000000000000", 0x1d00ffff },
    { 0x1b04864c, SG_OK, "000000000004864c000000000000000000000000000000000000000000000000", 0x1b04864c },
    /* Largest sizes that still fit. */
    { 0x220000ff, SG_OK, "ff00000000000000000000000000000000000000000000000000000000000000", 0x2100ff00 },
    { 0x2100ff00, SG_OK, "ff00000000000000000000000000000000000000000000000000000000000000", 0x2100ff00 },
    { 0x2000ffff, SG_OK, "00ffff0000000000000000000000000000000000000000000000000000000000", 0x2000ffff },
    /* Sign bit set with a non-zero mantissa: negative. */
    { 0x01fedcba, SG_EINVAL, NULL, 0 },
    { 0x04923456, SG_EINVAL, NULL, 0 },
    { 0x1d80ffff, SG_EINVAL, NULL, 0 },
    /* Overflow: the value needs more than 256 bits. */
    { 0xff123456, SG_EINVAL, NULL, 0 },
    { 0x23000001, SG_EINVAL, NULL, 0 },
    { 0x22000100, SG_EINVAL, NULL, 0 },
    { 0x21010000, SG_EINVAL, NULL, 0 },
    { 0x2200ff00, SG_EINVAL, NULL, 0 },
};
#define N_COMPACT (sizeof compact_cases / sizeof compact_cases[0])

START_TEST(test_compact)
{
    const compact_case *c = &compact_cases[_i];
    u256 t;
    char hex[65];
    int rc = pow_bits_to_target(c->bits, &t);
    ck_assert_msg(rc == c->rc, "bits %08x: rc %d", c->bits, rc);
    if (c->rc != SG_OK)
        return;
    u256_hex(&t, hex);
    ck_assert_msg(strcmp(hex, c->target) == 0, "bits %08x: %s", c->bits, hex);
    ck_assert_msg(pow_target_to_bits(&t) == c->back, "bits %08x: back %08x",
                  c->bits, pow_target_to_bits(&t));
}
END_TEST

/* Small targets go through the size <= 3 branch of GetCompact. */
START_TEST(test_target_to_bits_small)
{
    u256 t;
    memset(&t, 0, sizeof t);
    t.w[0] = 0x80;
    ck_assert_uint_eq(pow_target_to_bits(&t), 0x02008000);
    t.w[0] = 0x12;
    ck_assert_uint_eq(pow_target_to_bits(&t), 0x01120000);
    t.w[0] = 0x123456;
    ck_assert_uint_eq(pow_target_to_bits(&t), 0x03123456);
    t.w[0] = 0;
    ck_assert_uint_eq(pow_target_to_bits(&t), 0);
}
END_TEST

/* ---- difficulty ------------------------------------------------------------ */

static int leading_zero_digits(const char *hex)
{
    int n = 0;
    while (hex[n] == '0')
        n++;
    return n;
}

START_TEST(test_difficulty_leading_zeros)
{
    /* 1..10 as asked, and on to 63 since the rule must hold everywhere. */
    for (int n = 1; n <= 63; n++) {
        uint32_t bits;
        u256 t, ideal;
        char hex[65];
        ck_assert_int_eq(pow_difficulty_to_bits(n, &bits), SG_OK);
        ck_assert_int_eq(pow_bits_to_target(bits, &t), SG_OK);
        u256_hex(&t, hex);
        ck_assert_msg(leading_zero_digits(hex) == n, "n=%d bits=%08x %s", n, bits, hex);
        /* Rounded down, never up: target <= 2^(256-4n) - 1. */
        memset(&ideal, 0, sizeof ideal);
        for (int b = 0; b < 256 - 4 * n; b++)
            ideal.w[b / 32] |= 1u << (b % 32);
        ck_assert_int_le(u256_cmp(&t, &ideal), 0);
    }
}
END_TEST

START_TEST(test_difficulty_known_bits)
{
    uint32_t bits = 0;
    ck_assert_int_eq(pow_difficulty_to_bits(1, &bits), SG_OK);
    ck_assert_uint_eq(bits, 0x200fffff);
    ck_assert_int_eq(pow_difficulty_to_bits(2, &bits), SG_OK);
    ck_assert_uint_eq(bits, 0x2000ffff);
    ck_assert_int_eq(pow_difficulty_to_bits(4, &bits), SG_OK);
    ck_assert_uint_eq(bits, 0x1f00ffff);
    /* Eight zero hex digits is Bitcoin's difficulty 1. */
    ck_assert_int_eq(pow_difficulty_to_bits(8, &bits), SG_OK);
    ck_assert_uint_eq(bits, 0x1d00ffff);
    ck_assert_int_eq(pow_difficulty_to_bits(63, &bits), SG_OK);
    ck_assert_uint_eq(bits, 0x010f0000);
    bits = 0x12345678;
    ck_assert_int_eq(pow_difficulty_to_bits(0, &bits), SG_EINVAL);
    ck_assert_int_eq(pow_difficulty_to_bits(64, &bits), SG_EINVAL);
    ck_assert_int_eq(pow_difficulty_to_bits(-3, &bits), SG_EINVAL);
    ck_assert_uint_eq(bits, 0x12345678);
}
END_TEST

/* ---- work and u256 ------------------------------------------------------- */

static void u256_parse(u256 *a, const char *hex)
{
    uint8_t h[32];
    ck_assert_int_eq(hash_from_hex_display(hex, h), SG_OK);
    u256_from_hash(a, h);
}

static void assert_work(const char *target, const char *want)
{
    u256 t, w;
    char hex[65];
    u256_parse(&t, target);
    pow_work(&t, &w);
    u256_hex(&w, hex);
    ck_assert_msg(strcmp(hex, want) == 0, "work(%s) = %s", target, hex);
}

START_TEST(test_work_known)
{
    u256 t, w;
    char hex[65];
    /* Chainwork of one difficulty-1 block. */
    ck_assert_int_eq(pow_bits_to_target(0x1d00ffff, &t), SG_OK);
    pow_work(&t, &w);
    u256_hex(&w, hex);
    ck_assert_str_eq(hex, "0000000000000000000000000000000000000000000000000000000100010001");
    ck_assert_int_eq(pow_bits_to_target(0x1b04864c, &t), SG_OK);
    pow_work(&t, &w);
    u256_hex(&w, hex);
    ck_assert_str_eq(hex, "000000000000000000000000000000000000000000000000000038946224e37e");
    /* Expected values from Python's exact 2**256 // (t + 1). */
    assert_work("000000000000000000000000000000000000000000000000000000000009f767",
                "000019afac91e6fc1a4028bc9baf6453d1a1c09b1ee8291cee76877603043133");
    assert_work("000000000000000000000000000000000000000c5bc8fbbcbde5c0994164d839",
                "00000000000000000000000014b6e4c8efd0925a719bed343f0d8994820d3098");
    assert_work("0000000000000087ec1d7da0a6eb8c9ebd69fe29d76d4330f1446beab0c11fde",
                "00000000000000000000000000000000000000000000000001e228612668d9f2");
    assert_work("06a3209ca62332553fc1ea36f17fd374c6a5387777330bdbd7210dff076ce2ef",
                "0000000000000000000000000000000000000000000000000000000000000026");
    /* Edges: every hash meets the maximum target; half of them meet 2^255-1. */
    assert_work("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "0000000000000000000000000000000000000000000000000000000000000001");
    assert_work("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "0000000000000000000000000000000000000000000000000000000000000002");
    assert_work("0000000000000000000000000000000000000000000000000000000000000000",
                "0000000000000000000000000000000000000000000000000000000000000000");
}
END_TEST

/* 2^(256-4n) - 1 needs exactly 16^n hashes: an exact check of the divider
 * at every scale. */
START_TEST(test_work_powers_of_16)
{
    for (int n = 1; n <= 63; n++) {
        u256 t, w, want;
        memset(&t, 0, sizeof t);
        for (int b = 0; b < 256 - 4 * n; b++)
            t.w[b / 32] |= 1u << (b % 32);
        pow_work(&t, &w);
        memset(&want, 0, sizeof want);
        want.w[(4 * n) / 32] = 1u << ((4 * n) % 32);
        ck_assert_msg(u256_cmp(&w, &want) == 0, "n=%d", n);
    }
}
END_TEST

START_TEST(test_u256_add_cmp)
{
    u256 a, b, r;
    char hex[65];
    u256_parse(&a, "00000000000000000000000000000000000000000000000000000000ffffffff");
    u256_parse(&b, "0000000000000000000000000000000000000000000000000000000000000001");
    u256_add(&r, &a, &b);
    u256_hex(&r, hex);
    ck_assert_str_eq(hex, "0000000000000000000000000000000000000000000000000000000100000000");
    /* Carry across every limb. */
    u256_parse(&a, "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    u256_add(&r, &a, &b);
    u256_hex(&r, hex);
    ck_assert_str_eq(hex, "0100000000000000000000000000000000000000000000000000000000000000");
    /* Chainwork sums: three difficulty-1 blocks. */
    u256_parse(&a, "0000000000000000000000000000000000000000000000000000000100010001");
    u256_add(&r, &a, &a);
    u256_add(&r, &r, &a);
    u256_hex(&r, hex);
    ck_assert_str_eq(hex, "0000000000000000000000000000000000000000000000000000000300030003");
    /* Saturation instead of wrapping. */
    u256_parse(&a, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00");
    u256_parse(&b, "0000000000000000000000000000000000000000000000000000000000000100");
    u256_add(&r, &a, &b);
    u256_hex(&r, hex);
    ck_assert_str_eq(hex, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    /* out may alias an input. */
    u256_parse(&a, "0000000000000000000000000000000000000000000000000000000000000005");
    u256_add(&a, &a, &a);
    ck_assert_uint_eq(a.w[0], 10);

    /* cmp orders by the most significant limb first. */
    u256_parse(&a, "0000000100000000000000000000000000000000000000000000000000000000");
    u256_parse(&b, "00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    ck_assert_int_gt(u256_cmp(&a, &b), 0);
    ck_assert_int_lt(u256_cmp(&b, &a), 0);
    ck_assert_int_eq(u256_cmp(&a, &a), 0);
    u256_parse(&a, "0000000000000000000000000000000000000000000000000000000000000002");
    u256_parse(&b, "0000000000000000000000000000000000000000000000000000000000000003");
    ck_assert_int_lt(u256_cmp(&a, &b), 0);
}
END_TEST

START_TEST(test_u256_hash_round_trip)
{
    uint8_t h[32], back[32];
    u256 a;
    uint64_t seed = 42;
    tu_fill(h, sizeof h, &seed);
    u256_from_hash(&a, h);
    /* Little-endian: byte 0 is the low byte of limb 0. */
    ck_assert_uint_eq(a.w[0] & 0xff, h[0]);
    ck_assert_uint_eq(a.w[7] >> 24, h[31]);
    u256_to_hash(&a, back);
    ck_assert_mem_eq(back, h, 32);
}
END_TEST

/* ---- search ------------------------------------------------------------- */

START_TEST(test_search_finds_genesis_nonce)
{
    proto_header h;
    vector_header(&vectors[0], &h);
    uint32_t real = h.nonce;
    h.nonce = real - 3000;
    ck_assert_int_eq(pow_search_simple(&h, 5000), SG_OK);
    ck_assert_uint_eq(h.nonce, real);
    ck_assert_int_eq(pow_check(&h), SG_OK);
}
END_TEST

START_TEST(test_search_gives_up)
{
    proto_header h;
    vector_header(&vectors[0], &h);
    uint32_t start = h.nonce - 3000;
    h.nonce = start;
    /* Stops one short of the real nonce. */
    ck_assert_int_eq(pow_search_simple(&h, 3000), SG_ENOTFOUND);
    ck_assert_uint_eq(h.nonce, start);
    ck_assert_int_eq(pow_search_simple(&h, 0), SG_ENOTFOUND);
}
END_TEST

START_TEST(test_search_easy_difficulty)
{
    proto_header h;
    uint8_t hash[32];
    char disp[65];
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.time = 1700000000;
    ck_assert_int_eq(pow_difficulty_to_bits(3, &h.bits), SG_OK);
    /* 16^3 expected tries; a million leaves no realistic chance of a miss. */
    ck_assert_int_eq(pow_search_simple(&h, 1000000), SG_OK);
    ck_assert_int_eq(pow_check(&h), SG_OK);
    pow_header_hash(&h, hash);
    hash_to_hex_display(hash, disp);
    ck_assert_int_ge(leading_zero_digits(disp), 3);
}
END_TEST

Suite *pow_suite(void)
{
    Suite *s = suite_create("pow");
    TCase *tc = tcase_create("hash");
    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_sha256d_raw_genesis);
    tcase_add_test(tc, test_hex_helpers);
    suite_add_tcase(s, tc);

    tc = tcase_create("bitcoin_headers");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_header_hash, 0, N_VECTORS);
    tcase_add_loop_test(tc, test_header_target, 0, N_VECTORS);
    tcase_add_loop_test(tc, test_header_pow_check, 0, N_VECTORS);
    tcase_add_test(tc, test_encoder_matches_raw_genesis);
    tcase_add_test(tc, test_pow_check_bad_bits);
    suite_add_tcase(s, tc);

    tc = tcase_create("compact");
    tcase_add_loop_test(tc, test_compact, 0, N_COMPACT);
    tcase_add_test(tc, test_target_to_bits_small);
    tcase_add_test(tc, test_difficulty_leading_zeros);
    tcase_add_test(tc, test_difficulty_known_bits);
    suite_add_tcase(s, tc);

    tc = tcase_create("work");
    tcase_add_test(tc, test_work_known);
    tcase_add_test(tc, test_work_powers_of_16);
    tcase_add_test(tc, test_u256_add_cmp);
    tcase_add_test(tc, test_u256_hash_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("search");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_search_finds_genesis_nonce);
    tcase_add_test(tc, test_search_gives_up);
    tcase_add_test(tc, test_search_easy_difficulty);
    suite_add_tcase(s, tc);
    return s;
}
