/*
 * The book's optimizers and clip_grads' sum of squares (gatedrnn.h,
 * gr_book_update and gr_book_sum_squares_*), bit-identical to NumPy's
 * evaluation of the book's expressions: book_updates.template.c per precision,
 * and here the driver that splits a call into chunks for the thread pool.
 *
 * Compiled with -ffp-contract=off and without fast-math (meson.build): a fused
 * multiply-add or a reassociation would round differently from NumPy.
 */
#include <math.h>
#include <stddef.h>

#include "base/internal.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, CAT(_, SFX))

#define GR_TEMPLATE "lm/book_updates.template.c"
#include "base/precisions.h"

/* Elements per work item: small enough to share a few arrays among threads,
 * large enough that claiming an item costs nothing next to it. */
#define BOOK_CHUNK ((size_t)8192)
/* Below this many elements in a call, waking other threads costs more than
 * they save (unless GR_FLAG_ALL_THREADS). */
#define BOOK_THREADED_MIN ((size_t)1 << 17)

typedef struct book_job {
    int rule, double_precision, flags;
    const gr_book_array *arrays;
    size_t count;
    const double *hyper;
    size_t items;  /* chunks over all arrays */
} book_job;

static size_t chunks_of(size_t n) { return (n + BOOK_CHUNK - 1) / BOOK_CHUNK; }

/*
 * Items are the arrays' chunks in order. An array's items wait for every
 * item of the arrays before it: an array listed twice (or a grad that is an
 * earlier param) sees the earlier update, as in the book's loop. Each chunk is
 * computed the same way on any thread.
 */
static void book_job_run(void *ctx, gr_team *team, int tid, int nthreads)
{
    (void)tid, (void)nthreads;
    const book_job *job = ctx;
    size_t a = 0, first = 0;  /* array a's items are first .. first + chunks - 1 */
    for (size_t item = gr_claim(team); item < job->items; item = gr_claim(team)) {
        while (item >= first + chunks_of(job->arrays[a].n)) {
            first += chunks_of(job->arrays[a].n);
            a++;
        }
        gr_wait_done(team, first);
        const gr_book_array *array = &job->arrays[a];
        const size_t lo = (item - first) * BOOK_CHUNK;
        const size_t hi = array->n - lo < BOOK_CHUNK ? array->n : lo + BOOK_CHUNK;
        if (job->double_precision)
            book_rule_f64(job->rule, array, lo, hi, job->hyper, job->flags);
        else
            book_rule_f32(job->rule, array, lo, hi, job->hyper, job->flags);
        gr_item_done(team);
    }
}

/* How many state arrays each rule reads and writes. */
static const int book_states[GR_BOOK_NUM_RULES] = {
    [GR_BOOK_SGD] = 0, [GR_BOOK_MOMENTUM] = 1, [GR_BOOK_NESTEROV] = 1,
    [GR_BOOK_ADAGRAD] = 1, [GR_BOOK_RMSPROP] = 1, [GR_BOOK_ADAM] = 2,
};

int gr_book_update(int rule, int double_precision, const gr_book_array *arrays, size_t count,
                   const double *hyper, int flags)
{
    if (rule < 0 || rule >= GR_BOOK_NUM_RULES) return GR_ERR_BAD_ARGUMENT;
    if (count == 0) return GR_OK;
    if (!arrays || !hyper) return GR_ERR_NULL_ARGUMENT;
    size_t items = 0, elements = 0;
    for (size_t k = 0; k < count; k++) {
        const gr_book_array *a = &arrays[k];
        if (a->n == 0) continue;
        if (!a->param || !a->grad) return GR_ERR_NULL_ARGUMENT;
        for (int s = 0; s < book_states[rule]; s++)
            if (!a->state[s]) return GR_ERR_NULL_ARGUMENT;
        items += chunks_of(a->n);
        elements += a->n;
    }
    book_job job = {rule, double_precision != 0, flags, arrays, count, hyper, items};
    int nthreads = 1;
    if (elements >= BOOK_THREADED_MIN || (flags & GR_FLAG_ALL_THREADS)) {
        nthreads = gr_threads_in_effect();
        if ((size_t)nthreads > items) nthreads = (int)items;
    }
    gr_run_job(book_job_run, &job, nthreads);
    return GR_OK;
}
