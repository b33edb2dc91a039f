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

#ifdef __cplusplus
}
#endif

#endif /* GATEDRNN_H */
