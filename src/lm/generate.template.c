/*
 * Text generation's per-token kernels, for one precision (generate.c
 * includes this per TYPE): the output layer's scores of a few rows, and one
 * id drawn per row of scores. Plain C whose lane loops GCC vectorizes in
 * each of the SIMD_CLONES (baseline x86-64, AVX2, AVX-512).
 */
#include "base/lanes_scalar.h"
#include "base/vector_math.h"
#undef GW
#undef V
#undef IV

#if IS_FLOAT
#define UTYPE uint32_t
#else
#define UTYPE uint64_t
#endif

/* Lanes of a dot product's accumulators: one 64-byte vector. */
#define DOT_LANES (64 / TYPE_BYTES)
#define DOT_ROWS 4   /* rows of X per tile */
#define DOT_COLS 4   /* rows of W per tile */

#if defined(__GNUC__)
/* GCC's (and Clang's) vectors: a tile's 16 sums stay in registers. */
typedef TYPE FN(lanes) __attribute__((vector_size(64)));
#define ZERO_LANES(v) ((v) = (FN(lanes)){0})
#define LOAD_LANES(v, p) memcpy(&(v), (p), sizeof(v))
#else
typedef struct FN(lanes) { TYPE x[DOT_LANES]; } FN(lanes);
#define ZERO_LANES(v) memset(&(v), 0, sizeof(v))
#define LOAD_LANES(v, p) memcpy(&(v), (p), sizeof(v))
#endif

/* Vectors go by pointer: by value, a 64-byte vector's ABI differs between
 * the clones' instruction sets (GCC's -Wpsabi). */
static inline __attribute__((always_inline)) void FN(lanes_fma)(FN(lanes) *acc,
                                                                const FN(lanes) *x,
                                                                const FN(lanes) *w)
{
#if defined(__GNUC__)
    *acc += *x * *w;
#else
    for (int l = 0; l < DOT_LANES; l++) acc->x[l] += x->x[l] * w->x[l];
#endif
}

/* The sum of the lanes, as a fixed tree: each half added to the other half. */
#if defined(__GNUC__)
typedef TYPE FN(lanes32) __attribute__((vector_size(32)));
typedef TYPE FN(lanes16) __attribute__((vector_size(16)));
static inline TYPE FN(lanes_sum)(const FN(lanes) *v)
{
    FN(lanes32) a, b;
    memcpy(&a, v, 32);
    memcpy(&b, (const char *)v + 32, 32);
    a += b;
    FN(lanes16) c, d;
    memcpy(&c, &a, 16);
    memcpy(&d, (char *)&a + 16, 16);
    c += d;
    TYPE e[16 / TYPE_BYTES];
    memcpy(e, &c, 16);
#if IS_FLOAT
    return (e[0] + e[2]) + (e[1] + e[3]);
#else
    return e[0] + e[1];
#endif
}
#else
static inline TYPE FN(lanes_sum)(const FN(lanes) *v)
{
    FN(lanes) a = *v;
    for (int half = DOT_LANES / 2; half > 0; half /= 2)
        for (int l = 0; l < half; l++) a.x[l] += a.x[l + half];
    return a.x[0];
}
#endif

/*
 * The partial last vector of k for a row x of K >= DOT_LANES: the whole
 * vector x[K - DOT_LANES : K] with the lanes already summed in the whole
 * vectors before it zeroed, to multiply the same vector of a row of W.
 */
static inline void FN(tail_lanes)(FN(lanes) *v, const TYPE *x, size_t K)
{
    TYPE t[DOT_LANES];
    const size_t skip = DOT_LANES - K % DOT_LANES;
    for (size_t l = 0; l < DOT_LANES; l++) t[l] = l >= skip ? x[K - DOT_LANES + l] : 0;
    memcpy(v, t, sizeof *v);
}

/*
 * Y[i*ldy + j] = bias[j] + sum_k X[i*ldx + k] W[j*K + k] for i < ma, j < nb
 * (ma <= DOT_ROWS, nb <= DOT_COLS; bias may be NULL); xt[i] is
 * tail_lanes(X row i) when K % DOT_LANES and K >= DOT_LANES. Each sum runs in
 * DOT_LANES accumulators over the vectors of k (the partial last one as
 * xt), then a fixed tree over the lanes (a K below DOT_LANES: in order): the
 * same arithmetic for every element whatever the tile's shape, so that a
 * row's scores do not depend on the rows computed beside it.
 */
static inline __attribute__((always_inline)) void FN(dot_tile)(
    size_t K, const TYPE *restrict X, size_t ldx, const FN(lanes) *restrict xt,
    const TYPE *restrict W, const TYPE *restrict bias, TYPE *restrict Y, size_t ldy,
    const int ma, const int nb)
{
    FN(lanes) acc[DOT_ROWS][DOT_COLS], x[DOT_ROWS], w[DOT_COLS];
    for (int i = 0; i < ma; i++)
        for (int j = 0; j < nb; j++) ZERO_LANES(acc[i][j]);
    const size_t k_full = K / DOT_LANES * DOT_LANES;
    for (size_t k = 0; k < k_full; k += DOT_LANES) {
        for (int i = 0; i < ma; i++) LOAD_LANES(x[i], X + i * ldx + k);
        for (int j = 0; j < nb; j++) LOAD_LANES(w[j], W + j * K + k);
        for (int i = 0; i < ma; i++)
            for (int j = 0; j < nb; j++) FN(lanes_fma)(&acc[i][j], &x[i], &w[j]);
    }
    if (k_full < K && k_full > 0) {
        for (int j = 0; j < nb; j++) LOAD_LANES(w[j], W + j * K + K - DOT_LANES);
        for (int i = 0; i < ma; i++)
            for (int j = 0; j < nb; j++) FN(lanes_fma)(&acc[i][j], &xt[i], &w[j]);
    }
    for (int i = 0; i < ma; i++)
        for (int j = 0; j < nb; j++) {
            TYPE s = FN(lanes_sum)(&acc[i][j]);
            if (k_full == 0)
                for (size_t k = 0; k < K; k++) s += X[i * ldx + k] * W[j * K + k];
            Y[i * ldy + j] = bias ? bias[j] + s : s;
        }
}

/* Tiles of every shape, their sizes constants once inlined. */
static inline __attribute__((always_inline)) void FN(dot_any)(
    size_t K, const TYPE *X, size_t ldx, const FN(lanes) *xt, const TYPE *W, const TYPE *bias,
    TYPE *Y, size_t ldy, int ma, int nb)
{
#define DOT_CASE(MA, NB) \
    case (MA - 1) * DOT_COLS + NB - 1: \
        FN(dot_tile)(K, X, ldx, xt, W, bias, Y, ldy, MA, NB); \
        break;
    switch ((ma - 1) * DOT_COLS + nb - 1) {
        DOT_CASE(1, 1) DOT_CASE(1, 2) DOT_CASE(1, 3) DOT_CASE(1, 4)
        DOT_CASE(2, 1) DOT_CASE(2, 2) DOT_CASE(2, 3) DOT_CASE(2, 4)
        DOT_CASE(3, 1) DOT_CASE(3, 2) DOT_CASE(3, 3) DOT_CASE(3, 4)
        DOT_CASE(4, 1) DOT_CASE(4, 2) DOT_CASE(4, 3) DOT_CASE(4, 4)
    default: break;
    }
#undef DOT_CASE
}

/* Y[:, j0:j1] for rows j0 .. j1 - 1 of W: every row of X against them. */
SIMD_CLONES static void FN(scores_block)(const TYPE *X, size_t R, size_t K, const TYPE *W,
                                         const TYPE *bias, TYPE *Y, size_t V, size_t j0,
                                         size_t j1)
{
    for (size_t i = 0; i < R; i += DOT_ROWS) {
        const int ma = (int)(R - i < DOT_ROWS ? R - i : DOT_ROWS);
        FN(lanes) xt[DOT_ROWS];
        if (K % DOT_LANES && K >= DOT_LANES)
            for (int r = 0; r < ma; r++) FN(tail_lanes)(&xt[r], X + (i + r) * K, K);
        for (size_t j = j0; j < j1; j += DOT_COLS) {
            const int nb = (int)(j1 - j < DOT_COLS ? j1 - j : DOT_COLS);
            FN(dot_any)(K, X + i * K, K, xt, W + j * K, bias ? bias + j : NULL, Y + i * V + j,
                        V, ma, nb);
        }
    }
}

typedef struct FN(scores_job) {
    TYPE *Y;
    const TYPE *X, *W, *bias;
    size_t R, V, K, items;
#if defined(__x86_64__)
    unsigned csr; /* the caller's MXCSR, for every thread */
#endif
} FN(scores_job);

static void FN(scores_job_run)(void *ctx, gr_team *team, int tid, int nthreads)
{
    (void)tid, (void)nthreads;
    const FN(scores_job) *s = ctx;
#if defined(__x86_64__)
    const unsigned saved = _mm_getcsr();
    _mm_setcsr(s->csr);
#endif
    for (size_t item = gr_claim(team); item < s->items; item = gr_claim(team)) {
        const size_t j0 = item * GEN_SCORE_ROWS;
        const size_t j1 = j0 + GEN_SCORE_ROWS < s->V ? j0 + GEN_SCORE_ROWS : s->V;
        FN(scores_block)(s->X, s->R, s->K, s->W, s->bias, s->Y, s->V, j0, j1);
        gr_item_done(team);
    }
#if defined(__x86_64__)
    _mm_setcsr(saved);
#endif
}

int CAT(gr_lm_scores_, SFX)(TYPE *Y, const TYPE *X, const TYPE *W, const TYPE *bias, size_t R,
                            size_t V, size_t K, int flags)
{
    if (R == 0 || V == 0) return GR_OK;
    if (!Y || !W || (K && !X)) return GR_ERR_NULL_ARGUMENT;
    size_t work;
    if (!gen_mul_ok(R, V, &work) || !gen_mul_ok(work, K, &work)) return GR_ERR_TOO_LARGE;
    FN(scores_job) job = {.Y = Y, .X = X, .W = W, .bias = bias, .R = R, .V = V, .K = K,
                          .items = (V + GEN_SCORE_ROWS - 1) / GEN_SCORE_ROWS};
#if defined(__x86_64__)
    job.csr = _mm_getcsr();
#endif
    int nthreads = work >= GEN_THREADED_MIN || (flags & GR_FLAG_ALL_THREADS)
                       ? gr_threads_in_effect() : 1;
    if ((size_t)nthreads > job.items) nthreads = (int)job.items;
    gr_run_job(FN(scores_job_run), &job, nthreads);
    return GR_OK;
}

/* ---- drawing an id from a row of scores ----------------------------------- */

/* The order of TYPE values as unsigned integers (NaN excluded by the caller). */
static inline UTYPE FN(order_key)(TYPE x)
{
    UTYPE u;
    memcpy(&u, &x, sizeof u);
    const UTYPE sign = (UTYPE)1 << (8 * TYPE_BYTES - 1);
    return u & sign ? ~u : u | sign;
}

static inline TYPE FN(from_order_key)(UTYPE k)
{
    const UTYPE sign = (UTYPE)1 << (8 * TYPE_BYTES - 1);
    UTYPE u = k & sign ? k & ~sign : ~k;
    TYPE x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The k-th largest of z[0:V] (1 <= k <= V), by radix selection on the order
 * keys, a byte at a time from the top: no copy of the row. */
static TYPE FN(kth_largest)(const TYPE *z, size_t V, size_t k)
{
    UTYPE prefix = 0, mask = 0;
    size_t remaining = k;
    for (int shift = 8 * TYPE_BYTES - 8; shift >= 0; shift -= 8) {
        size_t hist[256] = {0};
        for (size_t j = 0; j < V; j++) {
            const UTYPE key = FN(order_key)(z[j]);
            if ((key & mask) == prefix) hist[(key >> shift) & 255]++;
        }
        int d = 255;
        for (; d > 0 && hist[d] < remaining; d--) remaining -= hist[d];
        prefix |= (UTYPE)d << shift;
        mask |= (UTYPE)255 << shift;
    }
    return FN(from_order_key)(prefix);
}

/* max(z) over z[0:V], V >= 1; a NaN is passed over (the exp pass then meets it). */
SIMD_CLONES static TYPE FN(row_max)(const TYPE *restrict z, size_t V)
{
    TYPE m = z[0];
    size_t j = 0;
#if defined(__GNUC__)
    if (V >= DOT_LANES) {
        typedef ITYPE FN(mask) __attribute__((vector_size(64)));
        FN(lanes) acc, x;
        LOAD_LANES(acc, z);
        for (j = DOT_LANES; j + DOT_LANES <= V; j += DOT_LANES) {
            LOAD_LANES(x, z + j);
            const FN(mask) up = x > acc;   // a select in bits: C has no vector ?:
            acc = (FN(lanes))((up & (FN(mask))x) | (~up & (FN(mask))acc));
        }
        TYPE a[DOT_LANES];
        memcpy(a, &acc, sizeof a);
        for (int l = 0; l < DOT_LANES; l++) m = a[l] > m ? a[l] : m;
    }
#endif
    for (; j < V; j++) m = z[j] > m ? z[j] : m;
    return m;
}

/* z[j] = exp((z[j] - m) * inv_t) in place; returns their sum, accumulated in
 * double: the search's running sum must reach it, to the last digits, where
 * u is near 1 and many small weights sit close together. */
SIMD_CLONES static double FN(exp_in_place)(TYPE *restrict z, size_t V, TYPE m, TYPE inv_t)
{
    double acc[DOT_LANES] = {0};
    size_t j = 0;
    for (; j + DOT_LANES <= V; j += DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) {
            const TYPE e = FN(exp_nonpositive)((z[j + l] - m) * inv_t);
            z[j + l] = e;
            acc[l] += (double)e;
        }
    double sum = 0;
    for (int l = 0; l < DOT_LANES; l++) sum += acc[l];
    for (; j < V; j++) {
        z[j] = FN(exp_nonpositive)((z[j] - m) * inv_t);
        sum += (double)z[j];
    }
    return sum;
}

/*
 * The id whose cumulative weight first exceeds u * total: the inverse of the
 * distribution function, as numpy.random.choice(p=...) finds it
 * (searchsorted(cumsum(p) / sum(p), u, side='right')). Whole blocks are
 * passed on their sums; an id of weight 0 is never returned.
 */
SIMD_CLONES static int64_t FN(search)(const TYPE *e, size_t V, double total, double u)
{
    const double target = u * total;
    double s = 0;
    size_t j = 0;
    for (; j + GEN_SEARCH_BLOCK <= V; j += GEN_SEARCH_BLOCK) {
        double lanes[8] = {0};   // a block's sum in 8 lanes: a vectorizable order
        for (size_t l = 0; l < GEN_SEARCH_BLOCK; l += 8)
            for (int k = 0; k < 8; k++) lanes[k] += (double)e[j + l + k];
        const double block = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
                             + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        if (s + block > target) break;
        s += block;
    }
    for (; j < V; j++) {
        s += (double)e[j];
        if (s > target && e[j] > 0) return (int64_t)j;
    }
    // Rounding left the running sum at or below target: the last id of weight > 0.
    for (j = V; j-- > 0;)
        if (e[j] > 0) return (int64_t)j;
    return -1;
}

/* One row: see gr_lm_sample. */
SIMD_CLONES static int64_t FN(sample_row)(TYPE *z, double *total, double u,
                                          const gr_lm_sampling *s, size_t V)
{
    const int greedy = s->inv_temperature == 0;
    if (s->banned && (greedy || s->top_k))
        for (size_t j = 0; j < V; j++)
            if (s->banned[j]) z[j] = (TYPE)-INFINITY;
    const TYPE m = FN(row_max)(z, V);
    *total = 0;
    if (!isfinite(m)) return -1;
    if (greedy) {
        int64_t first = -1;
        for (size_t j = 0; j < V; j++) {
            if (z[j] != z[j]) return -1;
            if (first < 0 && z[j] == m) first = (int64_t)j;
        }
        return first;
    }
    if (s->top_k && s->top_k < s->allowed) {
        const TYPE threshold = FN(kth_largest)(z, V, s->top_k);
        for (size_t j = 0; j < V; j++)
            if (z[j] < threshold) z[j] = (TYPE)-INFINITY;
    }
    const double sum = FN(exp_in_place)(z, V, m, (TYPE)s->inv_temperature);
    *total = sum;
    if (!(sum > 0) || !isfinite(sum)) return -1;   // a NaN score makes the sum NaN
    return FN(search)(z, V, sum, u);
}

typedef struct FN(sample_job) {
    TYPE *P;
    double *totals;
    int64_t *ids;
    const double *u;
    const gr_lm_sampling *s;
    size_t R, V;
#if defined(__x86_64__)
    unsigned csr;
#endif
} FN(sample_job);

static void FN(sample_job_run)(void *ctx, gr_team *team, int tid, int nthreads)
{
    (void)tid, (void)nthreads;
    const FN(sample_job) *j = ctx;
#if defined(__x86_64__)
    const unsigned saved = _mm_getcsr();
    _mm_setcsr(j->csr);
#endif
    for (size_t r = gr_claim(team); r < j->R; r = gr_claim(team)) {
        j->ids[r] = FN(sample_row)(j->P + r * j->V, j->totals + r, j->u ? j->u[r] : 0, j->s,
                                   j->V);
        gr_item_done(team);
    }
#if defined(__x86_64__)
    _mm_setcsr(saved);
#endif
}

int CAT(gr_lm_sample_, SFX)(TYPE *P, double *totals, int64_t *ids, const double *u,
                            const gr_lm_sampling *s, size_t R, size_t V, int flags)
{
    if (R == 0) return GR_OK;
    if (!P || !totals || !ids || !s || V == 0 || (!u && s->inv_temperature != 0))
        return GR_ERR_NULL_ARGUMENT;
    if (!(s->inv_temperature >= 0) || s->top_k > V) return GR_ERR_BAD_ARGUMENT;
    size_t work;
    if (!gen_mul_ok(R, V, &work)) return GR_ERR_TOO_LARGE;
    FN(sample_job) job = {.P = P, .totals = totals, .ids = ids, .u = u, .s = s, .R = R, .V = V};
#if defined(__x86_64__)
    job.csr = _mm_getcsr();
#endif
    int nthreads = R > 1 && (work >= GEN_SAMPLE_THREADED_MIN || (flags & GR_FLAG_ALL_THREADS))
                       ? gr_threads_in_effect() : 1;
    if ((size_t)nthreads > R) nthreads = (int)R;
    gr_run_job(FN(sample_job_run), &job, nthreads);
    return GR_OK;
}

int CAT(gr_lm_redraw_, SFX)(const TYPE *P, const double *totals, int64_t *ids, const double *u,
                            const int64_t *rows, size_t count, size_t R, size_t V)
{
    if (count == 0) return GR_OK;
    if (!P || !totals || !ids || !u || !rows) return GR_ERR_NULL_ARGUMENT;
    for (size_t k = 0; k < count; k++)
        if (rows[k] < 0 || (size_t)rows[k] >= R) return GR_ERR_BAD_ARGUMENT;
    for (size_t k = 0; k < count; k++) {
        const size_t r = (size_t)rows[k];
        ids[r] = totals[r] > 0 ? FN(search)(P + r * V, V, totals[r], u[k]) : -1;
    }
    return GR_OK;
}

#undef ZERO_LANES
#undef LOAD_LANES
#undef DOT_LANES
#undef DOT_ROWS
#undef DOT_COLS
#undef UTYPE
