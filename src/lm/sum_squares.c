/*
 * clip_grads' sum of squares over a list of arrays, float32 and float64
 * mixed, in double precision, on the kernels' thread pool (gatedrnn.h,
 * gr_sum_squares). It used to be BLAS's dsdot/ddot, whose worker threads
 * then spun beside our pool for a while after every clip.
 *
 * Each array is cut into chunks of SUMSQ_CHUNK elements; a chunk's partial
 * sum is computed the same way on any thread and the partials are added in
 * order at the end, so the result does not depend on the thread count.
 */
#include <stddef.h>

#include "base/internal.h"

#define SUMSQ_CHUNK ((size_t)32768)
/* Below this many elements the caller sums alone (unless GR_FLAG_ALL_THREADS). */
#define SUMSQ_THREADED_MIN ((size_t)1 << 17)
#define SUMSQ_LANES 16 /* independent accumulators: a vectorizable order */

/* sum(a[i]^2) for i < n in double, in fixed lanes (the order of the sum), one
 * definition per element type; compiled for baseline x86-64, AVX2 and AVX-512
 * (GCC target_clones, internal.h). */
#define DEFINE_SQUARES(NAME, TYPE)                                                        \
    SIMD_CLONES static double NAME(const TYPE *restrict a, size_t n)                      \
    {                                                                                     \
        double acc[SUMSQ_LANES] = {0};                                                    \
        size_t i = 0;                                                                     \
        for (; i + SUMSQ_LANES <= n; i += SUMSQ_LANES)                                    \
            for (int l = 0; l < SUMSQ_LANES; l++)                                         \
                acc[l] += (double)a[i + l] * (double)a[i + l];                            \
        for (int l = 0; i < n; i++, l++) acc[l] += (double)a[i] * (double)a[i];           \
        double total = 0;                                                                 \
        for (int l = 0; l < SUMSQ_LANES; l++) total += acc[l];                            \
        return total;                                                                     \
    }
DEFINE_SQUARES(squares_f32, float)
DEFINE_SQUARES(squares_f64, double)

static size_t chunks_of(size_t n) { return (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK; }

size_t gr_sum_squares_partials(const gr_sum_array *arrays, size_t count)
{
    size_t items = 0;
    for (size_t k = 0; k < count; k++) items += chunks_of(arrays[k].n);
    return items;
}

typedef struct sumsq_job {
    const gr_sum_array *arrays;
    double *partials;
    size_t items;
} sumsq_job;

static void sumsq_job_run(void *ctx, gr_team *team, int tid, int nthreads)
{
    (void)tid, (void)nthreads;
    const sumsq_job *job = ctx;
    size_t a = 0, first = 0;  /* array a's items are first .. first + chunks - 1 */
    for (size_t item = gr_claim(team); item < job->items; item = gr_claim(team)) {
        while (item >= first + chunks_of(job->arrays[a].n)) {
            first += chunks_of(job->arrays[a].n);
            a++;
        }
        const gr_sum_array *array = &job->arrays[a];
        const size_t lo = (item - first) * SUMSQ_CHUNK;
        const size_t n = array->n - lo < SUMSQ_CHUNK ? array->n - lo : SUMSQ_CHUNK;
        job->partials[item] = array->double_precision
                                  ? squares_f64((const double *)array->data + lo, n)
                                  : squares_f32((const float *)array->data + lo, n);
        gr_item_done(team);
    }
}

int gr_sum_squares(const gr_sum_array *arrays, size_t count, double *partials,
                   size_t partials_len, double *total, int flags)
{
    if (!total || (count && !arrays)) return GR_ERR_NULL_ARGUMENT;
    size_t items = 0, elements = 0;
    for (size_t k = 0; k < count; k++) {
        if (arrays[k].n && !arrays[k].data) return GR_ERR_NULL_ARGUMENT;
        items += chunks_of(arrays[k].n);
        elements += arrays[k].n;
    }
    if (partials_len < items || (items && !partials)) return GR_ERR_WORKSPACE;
    sumsq_job job = {arrays, partials, items};
    int nthreads = 1;
    if (elements >= SUMSQ_THREADED_MIN || (flags & GR_FLAG_ALL_THREADS)) {
        nthreads = gr_threads_in_effect();
        if ((size_t)nthreads > items) nthreads = items ? (int)items : 1;
    }
    if (items) gr_run_job(sumsq_job_run, &job, nthreads);
    double sum = 0;
    for (size_t k = 0; k < items; k++) sum += partials[k];
    *total = sum;
    return GR_OK;
}
