/*
 * gatedrnn: recurrent layers (LSTM, GRU, plain RNN; one or two directions),
 * forward and backward over whole sequences.
 *
 * Legend
 *   N  batch size        T  time steps
 *   D  input size        H  hidden size
 *   G  gate blocks       CW cache blocks (per cell, below)
 *
 * Every array is C-contiguous, row-major:
 *   xs (N, T, D)   Wx (D, G*H)   Wh (H, G*H)   b (bias rows, G*H)   h0, c0 (N, H)
 *   hs (N, T, H)   cache (N, T, CW*H)
 *   lengths (N,) int64 in [0, T], or NULL: sequences of different lengths.
 *   Sequence n runs its first lengths[n] steps only: hs (and dxs) are zero
 *   past them, its last state is the state after them, and its gradients
 *   come from them alone. The cache then holds sum(lengths) rows of CW*H.
 *
 * Cells and their gate orders along G*H:
 *   LSTM (G 4, CW 5): f, g, i, o.   A = x Wx + h Wh + b
 *     f, i, o = sigmoid, g = tanh;  c = f c_prev + g i;  h = o tanh(c)
 *     PyTorch and Keras order their gates i, f, g, o.
 *   GRU (G 3, CW 4): z, r, h~ (the book's);  b (3H,)
 *     z, r = sigmoid(x Wx + h Wh + b);  h~ = tanh(x Wx_h + (r h) Wh_h + b_h)
 *     h_next = (1 - z) h + z h~.  PyTorch and Keras write z h + (1 - z) h~
 *     (their z is 1 - ours) and PyTorch orders its gates r, z, n.
 *   GRU reset after (G 3, CW 5): as cuDNN, PyTorch, Keras;  b (2, 3H): input, recurrent
 *     z, r = sigmoid(x Wx + b0 + h Wh + b1);  h~ = tanh(x Wx_h + b0_h + r (h Wh_h + b1_h))
 *   RNN (G 1, CW 1): h = tanh(x Wx + h Wh + b);  RNN relu: h = max(x Wx + h Wh + b, 0)
 *
 * The kernels allocate nothing and never call Python: the caller owns every
 * buffer, and BLAS arrives as function pointers (SciPy's cython_blas).
 */
#ifndef GATEDRNN_H
#define GATEDRNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fortran BLAS ?gemm as SciPy's cython_blas declares it (plain int sizes). */
typedef void (*gr_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                            float *alpha, float *a, int *lda, float *b, int *ldb,
                            float *beta, float *c, int *ldc);
typedef void (*gr_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                            double *alpha, double *a, int *lda, double *b, int *ldb,
                            double *beta, double *c, int *ldc);

typedef struct gr_blas {
    gr_sgemm_fn sgemm;
    gr_dgemm_fn dgemm;
} gr_blas;

enum gr_status {
    GR_OK = 0,
    GR_ERR_NULL_ARGUMENT = 1,   /* a required pointer is NULL */
    GR_ERR_TOO_LARGE = 2,       /* a size or leading dimension overflows BLAS int or size_t */
    GR_ERR_NO_BLAS = 3,         /* the gemm pointer for this dtype is missing */
    GR_ERR_NO_PATH = 4,         /* the kernel path asked for is not in this build or CPU */
    GR_ERR_WORKSPACE = 5,       /* the workspace is smaller than gr_workspace() says */
    GR_ERR_BAD_ARGUMENT = 6,    /* an unknown cell, or a direction count other than 1 or 2 */
};

/* A message for a status, for the bindings' exceptions. */
const char *gr_strerror(int status);

/*
 * GR_OK if the kernels can take these sizes (any cell), else GR_ERR_TOO_LARGE:
 * the check every kernel runs first, exported so that callers can run it
 * before they allocate the buffers.
 */
int gr_check_sizes(size_t N, size_t T, size_t D, size_t H);

/*
 * Softmax cross-entropy over the rows of x (R, V), for the language model:
 *   loss    out (R): -log softmax(x[r])[target[r]], computed as
 *           log(sum exp(x[r] - max)) - (x[r, target[r]] - max)
 *   out     out (R, V) or NULL: scale[r] * softmax(x[r]); may be x itself
 *   target  (R): ids in [0, V), checked by the caller
 *   scale   (R): row factors (e.g. 1/count, or 0 for ignored rows); unused if out is NULL
 */
int gr_softmax_xent_f32(float *out, double *loss, const float *x, const int64_t *target,
                        const float *scale, size_t R, size_t V);
int gr_softmax_xent_f64(double *out, double *loss, const double *x, const int64_t *target,
                        const double *scale, size_t R, size_t V);

/*
 * Paths: one API over several implementations.
 *
 *   GR_PATH_BLAS     one BLAS gemm per product of a time step
 *   GR_PATH_GENERIC  packed-weight kernels with the cell's epilogue fused
 *                    into the recurrent product, threaded; portable C
 *   GR_PATH_AVX2     the same, compiled for AVX2 + FMA
 *   GR_PATH_AVX512   the same, compiled for AVX-512 (F, DQ, BW, VL)
 *
 * GR_PATH_AUTO picks the best path this build and CPU support. All paths
 * compute the same function (up to rounding) with the same buffer layouts.
 * The SIMD paths run on gr_get_num_threads() threads (fewer for small
 * problems), and give bit-identical results for any thread count.
 */
enum gr_path {
    GR_PATH_AUTO = -1,
    GR_PATH_BLAS = 0,
    GR_PATH_GENERIC = 1,
    GR_PATH_AVX2 = 2,
    GR_PATH_AVX512 = 3,
};
#define GR_NUM_PATHS 4

int gr_path_available(int path);   /* 1 if this build and CPU can run it */
int gr_path_best(void);            /* what GR_PATH_AUTO means here */
const char *gr_path_name(int path);

/* Threads of the SIMD paths: n >= 1, or n <= 0 for the default
 * (GATEDRNN_NUM_THREADS, else OMP_NUM_THREADS, else the usable CPUs).
 * gr_set_num_threads returns the previous count in effect. */
int gr_set_num_threads(int n);
int gr_get_num_threads(void);

/* flags: GR_FLAG_GEMM_ONLY runs only the matrix products of the path, with
 * the same shapes and order, for benchmarks (the results are meaningless).
 * GR_FLAG_SPLIT_ROWS / _COLUMNS force how the SIMD paths share a time step
 * among threads (by sequences, or by gate columns with a sync per step);
 * by default they choose by size. GR_FLAG_ALL_THREADS offers a call every
 * thread in effect even when it is too small to pay for waking them, so
 * that tests run the threaded code on small problems. For tests and
 * benchmarks. */
enum {
    GR_FLAG_GEMM_ONLY = 1,
    GR_FLAG_SPLIT_ROWS = 2,
    GR_FLAG_SPLIT_COLUMNS = 4,
    GR_FLAG_ALL_THREADS = 8,
};

/* The product engine of the SIMD paths' plain products (gr_matmul,
 * gr_affine_xent) and of the recurrences' large products: GR_ENGINE_AUTO
 * (each product on the engine that measured faster at its shape),
 * GR_ENGINE_PANELS (the first engine: packed panels of B, A read in place)
 * or GR_ENGINE_GOTO (five loops around a micro-kernel: packed A and B, blocks
 * from the caches). For benchmarks and tests that compare them: set it
 * between calls, never while one runs. Returns the previous choice. */
enum gr_engine { GR_ENGINE_AUTO = 0, GR_ENGINE_PANELS = 1, GR_ENGINE_GOTO = 2 };
int gr_set_product_engine(int engine);

/* The Goto engine's blocking of a plain product (M, K) @ (K, N) on a SIMD
 * path, for tests and benchmarks: out[] = {MR, NR, KC (the largest K block
 * on this machine), kc (this product's K blocks' length), K blocks, MC
 * (slivers of MR rows per item), NC (panels of NR columns per item), row
 * blocks, column blocks, phased (1: a phase per K block)}. */
#define GR_GEMM_BLOCKING_FIELDS 10
int gr_gemm_blocking(int path, int double_precision, size_t M, size_t N, size_t K,
                     size_t out[GR_GEMM_BLOCKING_FIELDS]);

/* How many jobs so far had a worker thread take part (not the caller alone):
 * lets tests check that a call really ran on several threads. */
size_t gr_jobs_shared(void);

enum gr_cell {
    GR_CELL_LSTM = 0,
    GR_CELL_GRU = 1,              /* reset before: the book's */
    GR_CELL_GRU_RESET_AFTER = 2,  /* cuDNN, PyTorch, Keras */
    GR_CELL_RNN = 3,              /* tanh */
    GR_CELL_RNN_RELU = 4,         /* max(., 0), as nn.RNN(nonlinearity='relu') */
};
#define GR_NUM_CELLS 5
#define GR_MAX_DIRECTIONS 2

int gr_cell_gates(int cell);        /* G, or 0 for an unknown cell */
int gr_cell_cache_width(int cell);  /* CW */
int gr_cell_bias_rows(int cell);    /* rows of b: 1, or 2 for GRU reset after */

/* The backward may read (never use) up to this many elements past the end of
 * the cache: allocate them, for every path. */
#define GR_CACHE_PADDING 16

/* One direction of a forward call. Pointers are float or double, as the call. */
typedef struct gr_forward_io {
    void *hs;          /* out (N, T, H); h_T is hs[:, T-1] without lengths */
    void *h;           /* out (N, H) or NULL: each sequence's last h */
    void *c;           /* LSTM: in/out (N, H), c0 in, c_T out; else NULL */
    void *cache;       /* training: out (N, T, CW*H), kept for the backward;
                          inference: NULL (nothing is kept) */
    const void *xs, *Wx, *Wh, *b, *h0;
    int reversed;      /* with lengths: the direction reads each sequence from
                          its last real step back to its first (a bidirectional
                          layer's second); hs comes back in time order */
} gr_forward_io;

/* One direction of a backward call, over the cache of its forward (from any
 * path). The cache is consumed: its gate blocks become dA. */
typedef struct gr_backward_io {
    void *dxs;         /* out (N, T, D) */
    void *dWx, *dWh, *db;  /* out: overwritten, not accumulated */
    void *dh;          /* in/out (N, H): dh_T (the gradient at the last h) in, dh0 out */
    void *dc;          /* LSTM: in/out (N, H): dc_T in, dc0 out; else NULL */
    void *cache;       /* in/out: the forward's cache */
    const void *dhs;   /* (N, T, H) */
    const void *xs, *Wx, *Wh, *h0, *c0;  /* as the forward saw them; c0 LSTM only */
    int reversed;      /* as the forward's */
} gr_backward_io;

/*
 * Bytes of workspace a call needs (SIZE_MAX if the sizes overflow), for a
 * forward (backward == 0; train says whether a cache is kept) or a backward,
 * of `ndirs` directions, in float (double_precision == 0) or double. It holds
 * the packed weights and the products' scratch; in inference on the SIMD
 * paths a chunk of pre-activations of about max(1024, 6N) rows: nothing of
 * size T. With lengths (or a reversed direction) it also holds the packed
 * copies of the per-step arrays, sum(lengths) rows each.
 */
size_t gr_workspace(int cell, int ndirs, int path, int double_precision, int backward,
                    int train, size_t N, size_t T, size_t D, size_t H, const int64_t *lengths);

/* T steps of `cell` over each of the `ndirs` directions (the directions are
 * independent). A bidirectional layer passes its second one reversed, or,
 * with lengths, marks it `reversed` (which also works without lengths, as if
 * every length were T). */
int gr_forward(int cell, int double_precision, const gr_forward_io *dirs, int ndirs,
               size_t N, size_t T, size_t D, size_t H, const int64_t *lengths,
               void *workspace, size_t workspace_bytes, int path, int flags,
               const gr_blas *blas);
int gr_backward(int cell, int double_precision, const gr_backward_io *dirs, int ndirs,
                size_t N, size_t T, size_t D, size_t H, const int64_t *lengths,
                void *workspace, size_t workspace_bytes, int path, int flags,
                const gr_blas *blas);

/*
 * C (M, N) = A (M, K) @ B (K, N), C = bias + A @ B with a bias row of N
 * (not NULL), or C += A @ B with accumulate (bias unused), on a SIMD
 * path's packed-product engine and thread pool (the language model's affine
 * products). A[i, k] = A[i*a_rs + k*a_cs]; B is row-major and contiguous, or,
 * with b_transposed, B^T (N, K) is; C rows are ldc apart. The BLAS path has
 * no such entry (GR_ERR_NO_PATH): its callers use their BLAS. Results are
 * bit-identical for any thread count.
 */
size_t gr_matmul_workspace(int path, int double_precision, size_t M, size_t N, size_t K,
                           int b_transposed);
int gr_matmul(int path, int double_precision, size_t M, size_t N, size_t K, const void *A,
              size_t a_rs, size_t a_cs, const void *B, int b_transposed, void *C, size_t ldc,
              int accumulate, const void *bias, void *workspace, size_t workspace_bytes,
              int flags);

/*
 * The evaluation loss of the language model's output layer, without its
 * scores in memory: loss[r] = logsumexp(s[r, :]) - s[r, target[r]] for
 * s = A @ B + bias (bias a row of N, or NULL), A and B as gr_matmul takes
 * them, every target in [0, N) (the caller checks). The scores exist only
 * tile by tile; the same result for any thread count. SIMD paths only
 * (GR_ERR_NO_PATH on the BLAS path).
 */
size_t gr_affine_xent_workspace(int path, int double_precision, size_t M, size_t N, size_t K,
                                int b_transposed);
int gr_affine_xent(int path, int double_precision, size_t M, size_t N, size_t K, const void *A,
                   size_t a_rs, size_t a_cs, const void *B, int b_transposed, const void *bias,
                   const int64_t *target, double *loss, void *workspace, size_t workspace_bytes,
                   int flags);

/*
 * The machine's limits, the yardstick of every speed claim.
 *
 * gr_cache_sizes: the bytes of the L1 data cache, L2 and L3 (bytes[0..2])
 * and how many CPUs share each (shared_by[0..2]; either may be NULL), as the
 * product engine blocks for them. Read once, from Linux's sysfs, else cpuid,
 * else typical sizes; returns where they came from (enum gr_cache_source).
 *
 * gr_fma_peak: a register-only loop of independent multiply-add chains (no
 * memory traffic; enough chains to cover the FMA latency) compiled for a SIMD
 * path, run on up to nthreads threads of the pool at once. Thread t runs
 * `iterations` steps and reports flops[t] (2 per lane per multiply-add) and
 * seconds[t], both 0 for a thread that took no part; *wall is the whole
 * job's seconds. The arrays hold nthreads entries (nthreads <= 64).
 */
enum gr_cache_source {
    GR_CACHES_ASSUMED = 0,
    GR_CACHES_FROM_SYSFS = 1,
    GR_CACHES_FROM_CPUID = 2,
};
int gr_cache_sizes(size_t bytes[3], int shared_by[3]);
int gr_fma_peak(int path, int double_precision, int nthreads, size_t iterations, double *flops,
                double *seconds, double *wall);

/*
 * The book's optimizers and clip_grads (common/optimizer.py, common/util.py)
 * as NumPy evaluates them: each statement of the book's update rounds where
 * NumPy rounds, so that the results are bit-identical (src/book_updates.c).
 * Hyperparameters arrive as doubles and are cast to TYPE, as NumPy casts a
 * Python float (NEP 50); eps = (TYPE)1e-7. Per element, in TYPE unless noted:
 *   GR_BOOK_SGD       {lr}                       p -= lr g
 *   GR_BOOK_MOMENTUM  {momentum, lr}             v = momentum v - lr g;  p += v
 *   GR_BOOK_NESTEROV  {momentum, lr, momentum^2, (1 + momentum) lr}
 *                     v = v momentum - lr g;  p += momentum^2 v;  p -= ((1 + momentum) lr) g
 *   GR_BOOK_ADAGRAD   {lr}                       h += g g;  p -= lr g / (sqrt(h) + eps)
 *   GR_BOOK_RMSPROP   {decay, 1 - decay, lr}     h = h decay + ((1 - decay) g) g;
 *                                                p -= lr g / (sqrt(h) + eps)
 *   GR_BOOK_ADAM      {1 - beta1, 1 - beta2, lr_t}
 *                     m += (1 - beta1) (g - m);  v += (1 - beta2) (g g - v);
 *                     p -= lr_t m / (sqrt(v) + eps), with lr_t m and the
 *                     division in double and p - q rounded once to TYPE (lr_t
 *                     is a NumPy float64); with GR_BOOK_NUMPY1 in TYPE
 *                     (NumPy 1's value-based casting takes lr_t as TYPE)
 * The (1 - x) and products of hyperparameters are the caller's, computed in
 * double as Python computes them. The state is state[0] (v, h, or Adam's m)
 * and state[1] (Adam's v). Arrays are updated in the order given, so an array
 * listed twice is updated twice; within one entry param, grad and the states
 * must not overlap. Large calls run on gr_get_num_threads() threads (split in
 * chunks of elements; the same results for any thread count).
 */
enum gr_book_rule {
    GR_BOOK_SGD = 0,
    GR_BOOK_MOMENTUM = 1,
    GR_BOOK_NESTEROV = 2,
    GR_BOOK_ADAGRAD = 3,
    GR_BOOK_RMSPROP = 4,
    GR_BOOK_ADAM = 5,
};
#define GR_BOOK_NUM_RULES 6
#define GR_BOOK_MAX_HYPER 4

/* flags of gr_book_update: GR_FLAG_ALL_THREADS (above), and */
enum { GR_BOOK_NUMPY1 = 16 };

/* One array of an update: pointers to n elements of the call's precision. */
typedef struct gr_book_array {
    void *param;         /* in/out */
    const void *grad;
    void *state[2];      /* in/out: the rule's state arrays; NULL where unused */
    size_t n;
} gr_book_array;

int gr_book_update(int rule, int double_precision, const gr_book_array *arrays, size_t count,
                   const double *hyper, int flags);

/* np.sum(a ** 2) for a contiguous a of n elements, to the bit: each square
 * rounded to TYPE, summed in TYPE by NumPy's pairwise summation (blocks of at
 * most 128 elements in 8 accumulators, halves split at multiples of 8). */
float gr_book_sum_squares_f32(const float *a, size_t n);
double gr_book_sum_squares_f64(const double *a, size_t n);

/*
 * sum(a ** 2) over `count` arrays of float32 or float64 (mixed), in double
 * precision, on gr_get_num_threads() threads when large: clip_grads' norm.
 * `partials` holds gr_sum_squares_partials() doubles (the chunks' sums, added
 * in order: the same result for any thread count). flags: GR_FLAG_ALL_THREADS.
 */
typedef struct gr_sum_array {
    const void *data;
    size_t n;
    int double_precision;
} gr_sum_array;

size_t gr_sum_squares_partials(const gr_sum_array *arrays, size_t count);
int gr_sum_squares(const gr_sum_array *arrays, size_t count, double *partials,
                   size_t partials_len, double *total, int flags);

/*
 * Text generation, a token at a time for R rows (src/lm/generate.c):
 *
 * gr_lm_scores: Y (R, V) = X (R, K) @ W^T + bias, for W (V, K) row-major
 * (the tied embedding, or an output weight stored transposed) and bias (V)
 * or NULL. W is read once; a row's scores are the same whatever R is.
 *
 * gr_lm_sample: for each row r of the scores P (R, V), in place:
 *   - banned ids (banned[j] != 0; banned may be NULL) become -inf when
 *     top_k > 0 or inv_temperature == 0 (otherwise the caller redraws them);
 *   - inv_temperature == 0: ids[r] is the first id of the highest score;
 *   - else, with top_k > 0 and top_k < allowed (the ids not banned), scores
 *     below the top_k-th highest become -inf (ties with it are kept); then
 *     P[r, j] = exp((P[r, j] - max) * inv_temperature), totals[r] their sum
 *     (double), and ids[r] the id whose cumulative weight first exceeds
 *     u[r] * totals[r] (u in [0, 1)): numpy.random.choice's inverse
 *     distribution function. An id of weight 0 is never drawn.
 *   ids[r] = -1 where the scores hold NaN or are not finite at their maximum.
 * gr_lm_redraw: ids[rows[k]] drawn again from the weights and totals that
 * gr_lm_sample left, with uniforms u[k], for count rows of R.
 *
 * gr_lm_fingerprint: a 64-bit hash of n bytes (not cryptographic), to tell
 * whether weights changed since a table was derived from them.
 */
typedef struct gr_lm_sampling {
    double inv_temperature;   /* 1 / temperature; 0: greedy */
    size_t top_k;             /* 0: every id */
    size_t allowed;           /* ids not banned */
    const uint8_t *banned;    /* (V) or NULL */
} gr_lm_sampling;

int gr_lm_scores_f32(float *Y, const float *X, const float *W, const float *bias, size_t R,
                     size_t V, size_t K, int flags);
int gr_lm_scores_f64(double *Y, const double *X, const double *W, const double *bias, size_t R,
                     size_t V, size_t K, int flags);
int gr_lm_sample_f32(float *P, double *totals, int64_t *ids, const double *u,
                     const gr_lm_sampling *s, size_t R, size_t V, int flags);
int gr_lm_sample_f64(double *P, double *totals, int64_t *ids, const double *u,
                     const gr_lm_sampling *s, size_t R, size_t V, int flags);
int gr_lm_redraw_f32(const float *P, const double *totals, int64_t *ids, const double *u,
                     const int64_t *rows, size_t count, size_t R, size_t V);
int gr_lm_redraw_f64(const double *P, const double *totals, int64_t *ids, const double *u,
                     const int64_t *rows, size_t count, size_t R, size_t V);
uint64_t gr_lm_fingerprint(const void *data, size_t nbytes);

#ifdef __cplusplus
}
#endif

#endif /* GATEDRNN_H */
