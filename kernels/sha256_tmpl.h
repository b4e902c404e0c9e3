/*
 * sha256_tmpl.h - the nonce function of the miners, written once and
 * instantiated per lane type: scalar (generic C and the CUDA kernel, via
 * sha256_core.h), AVX2 and AVX-512.  No include guard: each inclusion makes
 * one function and then undefines its parameters.
 *
 * The includer defines
 *   KT_V               the lane type (uint32_t, __m256i, __m512i)
 *   KT_FN, KT_ATTR     the function's name and qualifiers
 *   KT_C(x)            a uint32_t broadcast to every lane
 *   KT_ADD, KT_S0, KT_S1, KT_s0, KT_s1, KT_CH, KT_MAJ   the SHA-256 operations
 *   KT_SHORT_CHAIN     optionally, to group each round's adds for latency
 * and gets
 *   KT_ATTR KT_V KT_FN(const kern_prep *p, KT_V w3);
 * which returns, per lane, word 7 of sha256d(header with nonce) where the
 * lane's w3 is the byte-swapped nonce.
 *
 * Why it is fast: everything that does not depend on the nonce comes from
 * kern_prep (rounds 0-2 of the header's second block, most of round 3,
 * schedule words 16 and 17); rounds whose message word is a constant add
 * one folded K + W; schedule words built from zero words skip those terms;
 * the second hash starts from the IV, so its round 0 is one add; and only
 * word 7 is produced, so the second hash stops after round 60 (word 7 is
 * IV7 + e after round 60) and rounds 57-60 skip the new a, which nothing
 * reads.  Candidates are confirmed with kern_sha256d_full.
 *
 * State indexing: at round i, working variable k (a = 0 ... h = 7) lives in
 * kt_s[(k - i) & 7], so rounds rename instead of moving eight values.
 */

#define KT_X(i, k) kt_s[((k) - (i)) & 7]

/* Round constant i as a KT_V; an instance may supply its own. */
#ifndef KT_K
#define KT_K(i) KT_C(KERN_K(i))
#endif

/*
 * Round i, kw = K[i] + W[i].  Two groupings of the same sums.  The textbook
 * one, T1 = (h + kw) + (S1(e) + Ch(e,f,g)), e' = d + T1, needs the fewest
 * adds.  With KT_SHORT_CHAIN, and u = (h + kw) + Ch(e,f,g),
 *     e' = (d + u) + S1(e)          a' = ((u + Maj(a,b,c)) + S0(a)) + S1(e)
 * costs one more add but puts four dependent steps between e and e' instead
 * of five (S1 is two).  Where a vector op takes two cycles (512-bit ops on
 * Zen 5) that chain sets the speed: +20% for AVX-512 there, while AVX2 and
 * scalar code, bound by op count, lose 5-10%.  (Three steps are possible
 * with two more adds; measured no faster.)  A compiler that reassociates
 * adds can undo the grouping; kern_avx512.c stops GCC from doing so.
 */
#ifdef KT_SHORT_CHAIN
#define KT_RND(i, kw)                                                          \
    do {                                                                       \
        KT_V kt_u = KT_ADD(KT_ADD(KT_X(i, 7), (kw)),                           \
                           KT_CH(KT_X(i, 4), KT_X(i, 5), KT_X(i, 6)));         \
        KT_V kt_s1 = KT_S1(KT_X(i, 4));                                        \
        KT_X(i, 7) = KT_ADD(KT_ADD(KT_ADD(kt_u, KT_MAJ(KT_X(i, 0), KT_X(i, 1), KT_X(i, 2))), \
                                   KT_S0(KT_X(i, 0))),                         \
                            kt_s1);                                            \
        KT_X(i, 3) = KT_ADD(KT_ADD(KT_X(i, 3), kt_u), kt_s1);                  \
    } while (0)
#define KT_RNDE(i, kw)                                                         \
    do {                                                                       \
        KT_V kt_u = KT_ADD(KT_ADD(KT_X(i, 7), (kw)),                           \
                           KT_CH(KT_X(i, 4), KT_X(i, 5), KT_X(i, 6)));         \
        KT_X(i, 3) = KT_ADD(KT_ADD(KT_X(i, 3), kt_u), KT_S1(KT_X(i, 4)));      \
    } while (0)
#else
#define KT_RND(i, kw)                                                          \
    do {                                                                       \
        KT_V kt_t1 = KT_ADD(KT_ADD(KT_X(i, 7), (kw)),                          \
                            KT_ADD(KT_S1(KT_X(i, 4)),                          \
                                   KT_CH(KT_X(i, 4), KT_X(i, 5), KT_X(i, 6)))); \
        KT_X(i, 3) = KT_ADD(KT_X(i, 3), kt_t1);                                \
        KT_X(i, 7) = KT_ADD(kt_t1, KT_ADD(KT_S0(KT_X(i, 0)),                   \
                                          KT_MAJ(KT_X(i, 0), KT_X(i, 1), KT_X(i, 2)))); \
    } while (0)
/* Round i computing only the new e (for rounds whose new a nobody reads). */
#define KT_RNDE(i, kw)                                                         \
    do {                                                                       \
        KT_V kt_t1 = KT_ADD(KT_ADD(KT_X(i, 7), (kw)),                          \
                            KT_ADD(KT_S1(KT_X(i, 4)),                          \
                                   KT_CH(KT_X(i, 4), KT_X(i, 5), KT_X(i, 6)))); \
        KT_X(i, 3) = KT_ADD(KT_X(i, 3), kt_t1);                                \
    } while (0)
#endif

/* Round i with a message word that varies (w) or a constant K + W (c). */
#define KT_RW(i, w) KT_RND(i, KT_ADD(KT_K(i), (w)))
#define KT_RWE(i, w) KT_RNDE(i, KT_ADD(KT_K(i), (w)))
#define KT_RC(i, c) KT_RND(i, KT_C(c))

/* The general schedule step. */
#define KT_W(x, n)                                                             \
    x[n] = KT_ADD(KT_ADD(KT_s1(x[(n) - 2]), x[(n) - 7]),                       \
                  KT_ADD(KT_s0(x[(n) - 15]), x[(n) - 16]))

KT_ATTR KT_V KT_FN(const kern_prep *p, KT_V w3)
{
    KT_V kt_s[8], x[64], y[61];

    /* First hash, second block: state after round 3 (which added w3). */
    KT_X(4, 0) = KT_ADD(KT_C(p->a4c), w3);
    KT_X(4, 1) = KT_C(p->s3[0]);
    KT_X(4, 2) = KT_C(p->s3[1]);
    KT_X(4, 3) = KT_C(p->s3[2]);
    KT_X(4, 4) = KT_ADD(KT_C(p->e4c), w3);
    KT_X(4, 5) = KT_C(p->s3[4]);
    KT_X(4, 6) = KT_C(p->s3[5]);
    KT_X(4, 7) = KT_C(p->s3[6]);

    /* Words 4-15 are padding: 0x80000000, ten zeros, the length 640. */
    KT_RC(4, KERN_K_4 + 0x80000000u);
    KT_RC(5, KERN_K_5);
    KT_RC(6, KERN_K_6);
    KT_RC(7, KERN_K_7);
    KT_RC(8, KERN_K_8);
    KT_RC(9, KERN_K_9);
    KT_RC(10, KERN_K_10);
    KT_RC(11, KERN_K_11);
    KT_RC(12, KERN_K_12);
    KT_RC(13, KERN_K_13);
    KT_RC(14, KERN_K_14);
    KT_RC(15, KERN_K_15 + 640u);
    KT_RND(16, KT_C(p->kw16));
    KT_RND(17, KT_C(p->kw17));

    /* Words 18-32: terms from zero words dropped, constant terms folded. */
    x[18] = KT_ADD(KT_C(p->w18c), KT_s0(w3));
    KT_RW(18, x[18]);
    x[19] = KT_ADD(KT_C(p->w19c), w3);
    KT_RW(19, x[19]);
    x[20] = KT_ADD(KT_s1(x[18]), KT_C(0x80000000u));
    KT_RW(20, x[20]);
    x[21] = KT_s1(x[19]);
    KT_RW(21, x[21]);
    x[22] = KT_ADD(KT_s1(x[20]), KT_C(640u));
    KT_RW(22, x[22]);
    x[23] = KT_ADD(KT_s1(x[21]), KT_C(p->w16));
    KT_RW(23, x[23]);
    x[24] = KT_ADD(KT_s1(x[22]), KT_C(p->w17));
    KT_RW(24, x[24]);
    x[25] = KT_ADD(KT_s1(x[23]), x[18]);
    KT_RW(25, x[25]);
    x[26] = KT_ADD(KT_s1(x[24]), x[19]);
    KT_RW(26, x[26]);
    x[27] = KT_ADD(KT_s1(x[25]), x[20]);
    KT_RW(27, x[27]);
    x[28] = KT_ADD(KT_s1(x[26]), x[21]);
    KT_RW(28, x[28]);
    x[29] = KT_ADD(KT_s1(x[27]), x[22]);
    KT_RW(29, x[29]);
    x[30] = KT_ADD(KT_ADD(KT_s1(x[28]), x[23]), KT_C(kern_s0(640u)));
    KT_RW(30, x[30]);
    x[31] = KT_ADD(KT_ADD(KT_s1(x[29]), x[24]), KT_C(p->w31c));
    KT_RW(31, x[31]);
    x[32] = KT_ADD(KT_ADD(KT_s1(x[30]), x[25]), KT_C(p->w32c));
    KT_RW(32, x[32]);
    x[33] = KT_ADD(KT_ADD(KT_s1(x[31]), x[26]), KT_ADD(KT_s0(x[18]), KT_C(p->w17)));
    KT_RW(33, x[33]);
    KT_W(x, 34);
    KT_RW(34, x[34]);
    KT_W(x, 35);
    KT_RW(35, x[35]);
    KT_W(x, 36);
    KT_RW(36, x[36]);
    KT_W(x, 37);
    KT_RW(37, x[37]);
    KT_W(x, 38);
    KT_RW(38, x[38]);
    KT_W(x, 39);
    KT_RW(39, x[39]);
    KT_W(x, 40);
    KT_RW(40, x[40]);
    KT_W(x, 41);
    KT_RW(41, x[41]);
    KT_W(x, 42);
    KT_RW(42, x[42]);
    KT_W(x, 43);
    KT_RW(43, x[43]);
    KT_W(x, 44);
    KT_RW(44, x[44]);
    KT_W(x, 45);
    KT_RW(45, x[45]);
    KT_W(x, 46);
    KT_RW(46, x[46]);
    KT_W(x, 47);
    KT_RW(47, x[47]);
    KT_W(x, 48);
    KT_RW(48, x[48]);
    KT_W(x, 49);
    KT_RW(49, x[49]);
    KT_W(x, 50);
    KT_RW(50, x[50]);
    KT_W(x, 51);
    KT_RW(51, x[51]);
    KT_W(x, 52);
    KT_RW(52, x[52]);
    KT_W(x, 53);
    KT_RW(53, x[53]);
    KT_W(x, 54);
    KT_RW(54, x[54]);
    KT_W(x, 55);
    KT_RW(55, x[55]);
    KT_W(x, 56);
    KT_RW(56, x[56]);
    KT_W(x, 57);
    KT_RW(57, x[57]);
    KT_W(x, 58);
    KT_RW(58, x[58]);
    KT_W(x, 59);
    KT_RW(59, x[59]);
    KT_W(x, 60);
    KT_RW(60, x[60]);
    KT_W(x, 61);
    KT_RW(61, x[61]);
    KT_W(x, 62);
    KT_RW(62, x[62]);
    KT_W(x, 63);
    KT_RW(63, x[63]);

    /* The first digest is the second hash's message words 0-7. */
    y[0] = KT_ADD(KT_C(p->mid[0]), kt_s[0]);
    y[1] = KT_ADD(KT_C(p->mid[1]), kt_s[1]);
    y[2] = KT_ADD(KT_C(p->mid[2]), kt_s[2]);
    y[3] = KT_ADD(KT_C(p->mid[3]), kt_s[3]);
    y[4] = KT_ADD(KT_C(p->mid[4]), kt_s[4]);
    y[5] = KT_ADD(KT_C(p->mid[5]), kt_s[5]);
    y[6] = KT_ADD(KT_C(p->mid[6]), kt_s[6]);
    y[7] = KT_ADD(KT_C(p->mid[7]), kt_s[7]);

    /* Second hash: round 0 from the IV is one add of y[0]. */
    KT_X(1, 0) = KT_ADD(KT_C(p->h2a1c), y[0]);
    KT_X(1, 1) = KT_C(KERN_IV_0);
    KT_X(1, 2) = KT_C(KERN_IV_1);
    KT_X(1, 3) = KT_C(KERN_IV_2);
    KT_X(1, 4) = KT_ADD(KT_C(p->h2e1c), y[0]);
    KT_X(1, 5) = KT_C(KERN_IV_4);
    KT_X(1, 6) = KT_C(KERN_IV_5);
    KT_X(1, 7) = KT_C(KERN_IV_6);
    KT_RW(1, y[1]);
    KT_RW(2, y[2]);
    KT_RW(3, y[3]);
    KT_RW(4, y[4]);
    KT_RW(5, y[5]);
    KT_RW(6, y[6]);
    KT_RW(7, y[7]);
    /* Words 8-15: 0x80000000, six zeros, the length 256. */
    KT_RC(8, KERN_K_8 + 0x80000000u);
    KT_RC(9, KERN_K_9);
    KT_RC(10, KERN_K_10);
    KT_RC(11, KERN_K_11);
    KT_RC(12, KERN_K_12);
    KT_RC(13, KERN_K_13);
    KT_RC(14, KERN_K_14);
    KT_RC(15, KERN_K_15 + 256u);

    y[16] = KT_ADD(KT_s0(y[1]), y[0]);
    KT_RW(16, y[16]);
    y[17] = KT_ADD(KT_ADD(KT_C(kern_s1(256u)), KT_s0(y[2])), y[1]);
    KT_RW(17, y[17]);
    y[18] = KT_ADD(KT_ADD(KT_s1(y[16]), KT_s0(y[3])), y[2]);
    KT_RW(18, y[18]);
    y[19] = KT_ADD(KT_ADD(KT_s1(y[17]), KT_s0(y[4])), y[3]);
    KT_RW(19, y[19]);
    y[20] = KT_ADD(KT_ADD(KT_s1(y[18]), KT_s0(y[5])), y[4]);
    KT_RW(20, y[20]);
    y[21] = KT_ADD(KT_ADD(KT_s1(y[19]), KT_s0(y[6])), y[5]);
    KT_RW(21, y[21]);
    y[22] = KT_ADD(KT_ADD(KT_s1(y[20]), KT_C(256u)), KT_ADD(KT_s0(y[7]), y[6]));
    KT_RW(22, y[22]);
    y[23] = KT_ADD(KT_ADD(KT_s1(y[21]), y[16]), KT_ADD(KT_C(kern_s0(0x80000000u)), y[7]));
    KT_RW(23, y[23]);
    y[24] = KT_ADD(KT_ADD(KT_s1(y[22]), y[17]), KT_C(0x80000000u));
    KT_RW(24, y[24]);
    y[25] = KT_ADD(KT_s1(y[23]), y[18]);
    KT_RW(25, y[25]);
    y[26] = KT_ADD(KT_s1(y[24]), y[19]);
    KT_RW(26, y[26]);
    y[27] = KT_ADD(KT_s1(y[25]), y[20]);
    KT_RW(27, y[27]);
    y[28] = KT_ADD(KT_s1(y[26]), y[21]);
    KT_RW(28, y[28]);
    y[29] = KT_ADD(KT_s1(y[27]), y[22]);
    KT_RW(29, y[29]);
    y[30] = KT_ADD(KT_ADD(KT_s1(y[28]), y[23]), KT_C(kern_s0(256u)));
    KT_RW(30, y[30]);
    y[31] = KT_ADD(KT_ADD(KT_s1(y[29]), y[24]), KT_ADD(KT_s0(y[16]), KT_C(256u)));
    KT_RW(31, y[31]);
    KT_W(y, 32);
    KT_RW(32, y[32]);
    KT_W(y, 33);
    KT_RW(33, y[33]);
    KT_W(y, 34);
    KT_RW(34, y[34]);
    KT_W(y, 35);
    KT_RW(35, y[35]);
    KT_W(y, 36);
    KT_RW(36, y[36]);
    KT_W(y, 37);
    KT_RW(37, y[37]);
    KT_W(y, 38);
    KT_RW(38, y[38]);
    KT_W(y, 39);
    KT_RW(39, y[39]);
    KT_W(y, 40);
    KT_RW(40, y[40]);
    KT_W(y, 41);
    KT_RW(41, y[41]);
    KT_W(y, 42);
    KT_RW(42, y[42]);
    KT_W(y, 43);
    KT_RW(43, y[43]);
    KT_W(y, 44);
    KT_RW(44, y[44]);
    KT_W(y, 45);
    KT_RW(45, y[45]);
    KT_W(y, 46);
    KT_RW(46, y[46]);
    KT_W(y, 47);
    KT_RW(47, y[47]);
    KT_W(y, 48);
    KT_RW(48, y[48]);
    KT_W(y, 49);
    KT_RW(49, y[49]);
    KT_W(y, 50);
    KT_RW(50, y[50]);
    KT_W(y, 51);
    KT_RW(51, y[51]);
    KT_W(y, 52);
    KT_RW(52, y[52]);
    KT_W(y, 53);
    KT_RW(53, y[53]);
    KT_W(y, 54);
    KT_RW(54, y[54]);
    KT_W(y, 55);
    KT_RW(55, y[55]);
    KT_W(y, 56);
    KT_RW(56, y[56]);
    /* From here the new a is never read: e after round 60 is all we need. */
    KT_W(y, 57);
    KT_RWE(57, y[57]);
    KT_W(y, 58);
    KT_RWE(58, y[58]);
    KT_W(y, 59);
    KT_RWE(59, y[59]);
    KT_W(y, 60);
    KT_RWE(60, y[60]);
    return KT_ADD(KT_X(61, 4), KT_C(KERN_IV_7));
}

#undef KT_X
#undef KT_K
#undef KT_RND
#undef KT_RNDE
#undef KT_RW
#undef KT_RWE
#undef KT_RC
#undef KT_W
#undef KT_V
#undef KT_FN
#undef KT_ATTR
#undef KT_C
#undef KT_ADD
#undef KT_S0
#undef KT_S1
#undef KT_s0
#undef KT_s1
#undef KT_CH
#undef KT_MAJ
#undef KT_SHORT_CHAIN
