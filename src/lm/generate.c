/*
 * Text generation, one token at a time (gatedrnn.h, gr_lm_*): what the
 * recurrent kernels do not already serve well for a few rows.
 *
 *   scores       the output layer for R rows (1 sample, or a batch of them)
 *                from a weight stored (V, K) row-major: the tied embedding of
 *                BetterRnnlm, or an untied output weight kept transposed. W
 *                is read once, row after row, in blocks that threads claim; a
 *                tile of rows of X against rows of W keeps its sums in
 *                registers, so that 20 rows cost little more traffic than 1.
 *   sample       softmax(scores / temperature) in place and one id per row
 *                drawn from it with a uniform number given by the caller
 *                (whose random stream this stays), optionally among the top k
 *                and without banned ids; redraw searches again with new
 *                uniforms, for the book's rule that a banned id is drawn again.
 *   fingerprint  a hash of the weights a derived table was computed from.
 *
 * generate.template.c holds the per-precision code. Compiled as its own
 * library with FMA contraction on (meson.build): each score is then the same
 * fused sequence whatever tile computes it.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h> /* _mm_getcsr: rows round alike on every thread */
#endif

#include "base/internal.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, CAT(_, SFX))

/* Rows of W per work item of the scores (at K = 650, 83 KB of float32). */
#define GEN_SCORE_ROWS 32
/* Below this many multiply-adds a call of the scores runs on the caller alone. */
#define GEN_THREADED_MIN ((size_t)1 << 18)
/* Below this many elements (rows * V) the rows are sampled on the caller alone. */
#define GEN_SAMPLE_THREADED_MIN ((size_t)1 << 15)
/* Ids whose weights the search passes at once, on their sum. */
#define GEN_SEARCH_BLOCK 64

static int gen_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

#define GR_TEMPLATE "lm/generate.template.c"
#include "base/precisions.h"

/*
 * 64 bits of a hash of n bytes: 64 lanes of 32-bit multiply-xor chains over
 * the words, then the lanes and the tail mixed in order. Not cryptographic:
 * it tells whether weights were changed in place (by training, or by hand)
 * since a table was derived from them.
 */
#define FP_LANES 64  /* four vectors of chains: the multiplies' latency overlaps */
SIMD_CLONES static void fingerprint_lanes(uint32_t *restrict h, const uint32_t *restrict w,
                                          size_t words)
{
    uint32_t acc[FP_LANES];
    memcpy(acc, h, sizeof acc);
    for (size_t i = 0; i + FP_LANES <= words; i += FP_LANES)
        for (int l = 0; l < FP_LANES; l++) acc[l] = (acc[l] ^ w[i + l]) * 0x9E3779B1u;
    memcpy(h, acc, sizeof acc);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    return x ^ (x >> 33);
}

uint64_t gr_lm_fingerprint(const void *data, size_t nbytes)
{
    uint32_t h[FP_LANES];
    for (int l = 0; l < FP_LANES; l++) h[l] = 0x85EBCA6Bu + (uint32_t)l;
    const size_t block = FP_LANES * sizeof(uint32_t), whole = nbytes / block * block;
    // Words read through a copy per chunk: data need not be 4-byte aligned.
    uint32_t words[1024];
    const unsigned char *p = data;
    for (size_t at = 0; at < whole; at += sizeof words) {
        const size_t n = whole - at < sizeof words ? whole - at : sizeof words;
        memcpy(words, p + at, n);
        fingerprint_lanes(h, words, n / sizeof(uint32_t));
    }
    uint64_t x = mix64((uint64_t)nbytes);
    for (int l = 0; l < FP_LANES; l++) x = mix64(x ^ h[l]);
    for (size_t at = whole; at < nbytes; at++) x = mix64(x ^ p[at]);
    return x;
}
