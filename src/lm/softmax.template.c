/*
 * Softmax cross-entropy over the rows of a score matrix, for one precision.
 * blas_path.template.c includes it at its end, for the exp_nonpositive of
 * vector_math.h on one-lane vectors.
 *
 * Reductions run in LANES independent accumulators, so that gcc vectorizes
 * them without reassociating (no -ffast-math needed).
 */
#ifndef GR_SOFTMAX_LANES
#define GR_SOFTMAX_LANES 16
#endif

/* max(x[0:n]); n >= 1. NaN in x is not propagated (the exp passes map it). */
static inline TYPE CAT(row_max_, SFX)(const TYPE *restrict x, size_t n)
{
    TYPE acc[GR_SOFTMAX_LANES];
    size_t j = 0;
    for (int l = 0; l < GR_SOFTMAX_LANES; l++) acc[l] = x[0];
    for (; j + GR_SOFTMAX_LANES <= n; j += GR_SOFTMAX_LANES)
        for (int l = 0; l < GR_SOFTMAX_LANES; l++)
            acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    TYPE m = acc[0];
    for (int l = 1; l < GR_SOFTMAX_LANES; l++) m = acc[l] > m ? acc[l] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* sum(exp(x[0:n] - m)), writing each exp to out when out != NULL. */
static inline double CAT(row_exp_sum_, SFX)(TYPE *restrict out, const TYPE *restrict x,
                                            TYPE m, size_t n)
{
    TYPE acc[GR_SOFTMAX_LANES] = {0};
    size_t j = 0;
    if (out) {
        for (; j + GR_SOFTMAX_LANES <= n; j += GR_SOFTMAX_LANES)
            for (int l = 0; l < GR_SOFTMAX_LANES; l++) {
                TYPE e = FN(exp_nonpositive)(x[j + l] - m);
                out[j + l] = e;
                acc[l] += e;
            }
    } else {
        for (; j + GR_SOFTMAX_LANES <= n; j += GR_SOFTMAX_LANES)
            for (int l = 0; l < GR_SOFTMAX_LANES; l++)
                acc[l] += FN(exp_nonpositive)(x[j + l] - m);
    }
    double sum = 0;
    for (int l = 0; l < GR_SOFTMAX_LANES; l++) sum += (double)acc[l];
    for (; j < n; j++) {
        TYPE e = FN(exp_nonpositive)(x[j] - m);
        if (out) out[j] = e;
        sum += (double)e;
    }
    return sum;
}

SIMD_CLONES static void CAT(softmax_xent_rows_, SFX)(TYPE *out, double *restrict loss,
                                                     const TYPE *x, const int64_t *target,
                                                     const TYPE *scale, size_t R, size_t V)
{
    for (size_t r = 0; r < R; r++) {
        const TYPE *x_r = x + r * V;                 // x[r, :]
        TYPE *out_r = out ? out + r * V : NULL;      // out[r, :]; may alias x_r
        TYPE m = CAT(row_max_, SFX)(x_r, V);
        TYPE picked = x_r[target[r]] - m;            // read before out_r overwrites it
        double sum = CAT(row_exp_sum_, SFX)(out_r, x_r, m, V);
        loss[r] = log(sum) - (double)picked;
        if (out_r) {
            TYPE s = (TYPE)((double)scale[r] / sum);
            for (size_t j = 0; j < V; j++) out_r[j] *= s;
        }
    }
}

/* Rows per work item, and the least work (R * V) worth waking the pool for. */
#ifndef GR_SOFTMAX_ROWS_PER_ITEM
#define GR_SOFTMAX_ROWS_PER_ITEM 8
#define GR_SOFTMAX_THREADED_MIN ((size_t)1 << 16)
#endif

typedef struct CAT(softmax_job_, SFX) {
    TYPE *out;
    double *loss;
    const TYPE *x, *scale;
    const int64_t *target;
    size_t R, V, items;
#if defined(__x86_64__)
    unsigned csr; /* the caller's MXCSR, for every thread: rows round alike */
#endif
} CAT(softmax_job_, SFX);

/* Items of GR_SOFTMAX_ROWS_PER_ITEM rows: each row is computed alone, the
 * same way on any thread. */
static void CAT(softmax_job_run_, SFX)(void *ctx, gr_team *team, int tid, int nthreads)
{
    (void)tid, (void)nthreads;
    const CAT(softmax_job_, SFX) *j = ctx;
#if defined(__x86_64__)
    const unsigned saved = _mm_getcsr();
    _mm_setcsr(j->csr);
#endif
    for (size_t item = gr_claim(team); item < j->items; item = gr_claim(team)) {
        const size_t r0 = item * GR_SOFTMAX_ROWS_PER_ITEM;
        const size_t rows = j->R - r0 < GR_SOFTMAX_ROWS_PER_ITEM ? j->R - r0
                                                                  : GR_SOFTMAX_ROWS_PER_ITEM;
        CAT(softmax_xent_rows_, SFX)(j->out ? j->out + r0 * j->V : NULL, j->loss + r0,
                                     j->x + r0 * j->V, j->target + r0,
                                     j->scale ? j->scale + r0 : NULL, rows, j->V);
        gr_item_done(team);
    }
#if defined(__x86_64__)
    _mm_setcsr(saved);
#endif
}

/*
 * For each of the R rows of x (R, V):
 *   loss[r] = log(sum_j exp(x[r, j] - max_r)) - (x[r, target[r]] - max_r)
 *           = -log softmax(x[r])[target[r]]
 *   out[r, :] = scale[r] * softmax(x[r])         (when out != NULL)
 * out may be x itself (in place) or NULL (the loss only; scale is then unused).
 * Every target must lie in [0, V); the caller checks. The shift by the row
 * maximum keeps every exp argument <= 0, so nothing overflows. Large calls
 * run on the kernels' thread pool, rows shared out in items.
 */
int CAT(gr_softmax_xent_, SFX)(TYPE *out, double *loss, const TYPE *x, const int64_t *target,
                               const TYPE *scale, size_t R, size_t V)
{
    if (R == 0) return GR_OK;
    if (!loss || !x || !target || V == 0 || (out && !scale)) return GR_ERR_NULL_ARGUMENT;
    size_t total;
    if (!mul_ok(R, V, &total)) return GR_ERR_TOO_LARGE;
    CAT(softmax_job_, SFX) job = {out, loss, x, out ? scale : NULL, target, R, V,
                                  (R + GR_SOFTMAX_ROWS_PER_ITEM - 1) / GR_SOFTMAX_ROWS_PER_ITEM};
#if defined(__x86_64__)
    job.csr = _mm_getcsr();
#endif
    int nthreads = total >= GR_SOFTMAX_THREADED_MIN ? gr_threads_in_effect() : 1;
    if ((size_t)nthreads > job.items) nthreads = (int)job.items;
    gr_run_job(CAT(softmax_job_run_, SFX), &job, nthreads);
    return GR_OK;
}
