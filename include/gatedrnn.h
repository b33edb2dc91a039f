/*
 * gatedrnn: LSTM forward and backward over whole sequences.
 *
 * Legend
 *   N  batch size        T  time steps
 *   D  input size        H  hidden size
 *
 * Every array is C-contiguous, row-major:
 *   xs (N, T, D)   Wx (D, 4H)   Wh (H, 4H)   b (4H)   h0, c0 (N, H)
 *   hs (N, T, H)   gates (N, T, 4H)   cs (N, T, H)
 *
 * Gate order along the 4H axis is f, g, i, o:
 *   A = x @ Wx + h_prev @ Wh + b
 *   f = sigmoid(A[:, 0:H])    g = tanh(A[:, H:2H])
 *   i = sigmoid(A[:, 2H:3H])  o = sigmoid(A[:, 3H:4H])
 *   c = f * c_prev + g * i    h = o * tanh(c)
 * PyTorch and Keras order their gates i, f, g, o.
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
    GR_ERR_WORKSPACE = 5,       /* the workspace is smaller than gr_lstm_workspace() says */
};

/* A message for a status, for the bindings' exceptions. */
const char *gr_strerror(int status);

/*
 * GR_OK if the kernels can take these sizes, else GR_ERR_TOO_LARGE: the check
 * every kernel runs first, exported so that callers can run it before they
 * allocate the buffers.
 */
int gr_check_sizes(size_t N, size_t T, size_t D, size_t H);

/*
 * Forward over T steps.
 *   hs      out (N, T, H)
 *   c_state in/out (N, H): c0 on entry, c_T on return
 *   gates   out (N, T, 4H): activated gates; also the scratch for A
 *   cs      out (N, T, H) or NULL: the cell states, kept for backward
 *   h0      (N, H)
 * h_T is hs[:, T-1, :]. With cs == NULL nothing is kept for backward.
 */
int gr_lstm_forward_f32(float *hs, float *c_state, float *gates, float *cs,
                        const float *xs, const float *Wx, const float *Wh,
                        const float *b, const float *h0,
                        size_t N, size_t T, size_t D, size_t H, const gr_blas *blas);
int gr_lstm_forward_f64(double *hs, double *c_state, double *gates, double *cs,
                        const double *xs, const double *Wx, const double *Wh,
                        const double *b, const double *h0,
                        size_t N, size_t T, size_t D, size_t H, const gr_blas *blas);

/*
 * Backward over T steps, consuming the forward cache.
 *   dxs     out (N, T, D)
 *   dWx, dWh, db  out (D, 4H), (H, 4H), (4H): overwritten, not accumulated
 *   dh      in/out (N, H): dh_T on entry (the gradient at the last h), dh0 on return
 *   dc      in/out (N, H): dc_T on entry, dc0 on return
 *   h_prev  scratch (N, T, H): receives h_{t-1} for every step
 *   gates   in (N, T, 4H): the forward's activated gates; overwritten with dA
 *   cs, xs, Wx, Wh, h0, c0: as the forward saw them
 *   dhs     in (N, T, H)
 */
int gr_lstm_backward_f32(float *dxs, float *dWx, float *dWh, float *db,
                         float *dh, float *dc, float *h_prev, float *gates,
                         const float *cs, const float *dhs, const float *xs,
                         const float *Wx, const float *Wh,
                         const float *h0, const float *c0,
                         size_t N, size_t T, size_t D, size_t H, const gr_blas *blas);
int gr_lstm_backward_f64(double *dxs, double *dWx, double *dWh, double *db,
                         double *dh, double *dc, double *h_prev, double *gates,
                         const double *cs, const double *dhs, const double *xs,
                         const double *Wx, const double *Wh,
                         const double *h0, const double *c0,
                         size_t N, size_t T, size_t D, size_t H, const gr_blas *blas);

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
 * The fast entry points: one API over several implementations ("paths").
 *
 *   GR_PATH_BLAS     the kernels above: one BLAS gemm per time step
 *   GR_PATH_GENERIC  packed-weight kernels with the gate nonlinearities fused
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

/* How many jobs so far had a worker thread take part (not the caller alone):
 * lets tests check that a call really ran on several threads. */
size_t gr_jobs_shared(void);

/* The SIMD backward may read (never use) up to this many elements past the
 * end of `gates`: allocate them, for every path. */
#define GR_GATES_PADDING 16

/*
 * Bytes of workspace a call needs (SIZE_MAX if the sizes overflow), for a
 * forward (backward == 0; train says whether gates and cs are kept) or a
 * backward, in float (double_precision == 0) or double. The workspace holds
 * the packed weights, and in inference a chunk of pre-activations of about
 * max(1024, 6N) x 4H values: nothing of size T.
 */
size_t gr_lstm_workspace(int path, int double_precision, int backward, int train,
                         size_t N, size_t T, size_t D, size_t H);

/*
 * Forward over T steps, as gr_lstm_forward_*, on `path`. Training passes
 * gates (N, T, 4H) and cs (N, T, H), both kept for backward; inference passes
 * NULL for both. c_state is c0 on entry, c_T on return.
 */
int gr_lstm_forward_ex_f32(float *hs, float *c_state, float *gates, float *cs,
                           const float *xs, const float *Wx, const float *Wh,
                           const float *b, const float *h0,
                           size_t N, size_t T, size_t D, size_t H,
                           void *workspace, size_t workspace_bytes, int path, int flags,
                           const gr_blas *blas);
int gr_lstm_forward_ex_f64(double *hs, double *c_state, double *gates, double *cs,
                           const double *xs, const double *Wx, const double *Wh,
                           const double *b, const double *h0,
                           size_t N, size_t T, size_t D, size_t H,
                           void *workspace, size_t workspace_bytes, int path, int flags,
                           const gr_blas *blas);

/*
 * Backward over T steps, as gr_lstm_backward_*, on `path`; the forward's
 * cache may come from any path. It consumes the cache: gates becomes dA and
 * cs the hidden states h_{t-1} (cs[n, 0] = h0[n]). gates must have
 * GR_GATES_PADDING readable elements past its end.
 */
int gr_lstm_backward_ex_f32(float *dxs, float *dWx, float *dWh, float *db,
                            float *dh, float *dc, float *gates, float *cs,
                            const float *dhs, const float *xs,
                            const float *Wx, const float *Wh,
                            const float *h0, const float *c0,
                            size_t N, size_t T, size_t D, size_t H,
                            void *workspace, size_t workspace_bytes, int path, int flags,
                            const gr_blas *blas);
int gr_lstm_backward_ex_f64(double *dxs, double *dWx, double *dWh, double *db,
                            double *dh, double *dc, double *gates, double *cs,
                            const double *dhs, const double *xs,
                            const double *Wx, const double *Wh,
                            const double *h0, const double *c0,
                            size_t N, size_t T, size_t D, size_t H,
                            void *workspace, size_t workspace_bytes, int path, int flags,
                            const gr_blas *blas);

#ifdef __cplusplus
}
#endif

#endif /* GATEDRNN_H */
