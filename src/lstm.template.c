/*
 * LSTM kernels for one precision. lstm.c includes this file once per TYPE with
 *   TYPE        float or double
 *   SFX         f32 or f64 (the name suffix)
 *   GEMM_FIELD  the gr_blas member for this TYPE
 *   UINT, MANTISSA_BITS, EXP_BIAS   the IEEE layout of TYPE
 *   EXP_*, LN2_*, ROUNDING_MAGIC  the constants of exp_nonpositive()
 */

/*
 * Row-major C (m, n) = alpha * op(A) (m, k) @ op(B) (k, n) + beta * C.
 * A column-major BLAS sees each row-major matrix transposed, so this is
 * C^T = op(B)^T @ op(A)^T: swap the operands and keep each one's flag.
 * Sizes were checked against INT_MAX by check_sizes() before any call.
 */
static void CAT(gemm_rowmajor_, SFX)(const gr_blas *blas, char trans_a, char trans_b,
                                     size_t m, size_t n, size_t k, TYPE alpha,
                                     const TYPE *A, size_t lda, const TYPE *B, size_t ldb,
                                     TYPE beta, TYPE *C, size_t ldc)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        /* BLAS rejects a zero leading dimension; the product is empty anyway. */
        for (size_t r = 0; r < m; r++) {
            TYPE *c_r = C + r * ldc;  // C[r, :]
            for (size_t j = 0; j < n; j++) c_r[j] = (beta == 0) ? 0 : beta * c_r[j];
        }
        return;
    }
    int im = (int)m, in = (int)n, ik = (int)k;
    int ilda = (int)lda, ildb = (int)ldb, ildc = (int)ldc;
    blas->GEMM_FIELD(&trans_b, &trans_a, &in, &im, &ik, &alpha, (TYPE *)B, &ildb,
                     (TYPE *)A, &ilda, &beta, C, &ildc);
}

/*
 * exp(x) for x <= 0. libm's exp does not vectorize, so this one is plain
 * arithmetic: x = k*ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to
 * within an ulp, and 2^k placed straight into the exponent bits. Arguments
 * below EXP_MIN are raised to it, so that no result is denormal (denormals
 * slow every later multiply); NaN passes through.
 *
 * expm1_reduced_ does the shared part: it returns exp(r) - 1, the series
 * without its leading 1 (so accurate relative to itself however small r is),
 * and sets *two_to_k.
 */
static inline TYPE CAT(expm1_reduced_, SFX)(TYPE x, TYPE *two_to_k)
{
    static const TYPE inverse_factorials[EXP_DEGREE + 1] = EXP_COEFFICIENTS;
    TYPE clamped = x > EXP_MIN ? x : EXP_MIN;   // also maps NaN to EXP_MIN
    // k = round(x / ln2); adding and subtracting ROUNDING_MAGIC rounds to an
    // integer without a float-to-int conversion, which gcc would not vectorize.
    TYPE k = (clamped * (TYPE)1.4426950408889634 + ROUNDING_MAGIC) - ROUNDING_MAGIC;
    TYPE r = (clamped - k * LN2_HI) - k * LN2_LO;
    TYPE poly = inverse_factorials[EXP_DEGREE];
#pragma GCC unroll 16
    for (int d = EXP_DEGREE - 1; d >= 1; d--) poly = poly * r + inverse_factorials[d];
    UINT bits = (UINT)((int32_t)k + EXP_BIAS) << MANTISSA_BITS;
    memcpy(two_to_k, &bits, sizeof *two_to_k);
    return poly * r;
}

static inline TYPE CAT(exp_nonpositive_, SFX)(TYPE x)
{
    TYPE two_to_k;
    TYPE result = ((TYPE)1 + CAT(expm1_reduced_, SFX)(x, &two_to_k)) * two_to_k;
    return x == x ? result : x;
}

/* exp(x) - 1 for x <= 0 = 2^k (exp(r) - 1) + (2^k - 1); exact reduction when k == 0. */
static inline TYPE CAT(expm1_nonpositive_, SFX)(TYPE x)
{
    TYPE two_to_k;
    TYPE em = CAT(expm1_reduced_, SFX)(x, &two_to_k);
    TYPE result = two_to_k * em + (two_to_k - (TYPE)1);
    return x == x ? result : x;
}

/* 1 / (1 + exp(-x)), from exp(-|x|) so that nothing overflows. */
static inline TYPE CAT(sigmoid_, SFX)(TYPE x)
{
    TYPE e = CAT(exp_nonpositive_, SFX)(x < 0 ? x : -x);
    TYPE r = (TYPE)1 / ((TYPE)1 + e);
    return x >= 0 ? r : e * r;
}

/*
 * tanh(|x|) = -m / (2 + m) with m = expm1(-2|x|): accurate relative to the
 * result for small |x| too, where (1 - e) / (1 + e) with e = exp(-2|x|)
 * cancels (an error of ~ulp(1) / |x|).
 */
static inline TYPE CAT(tanh_, SFX)(TYPE x)
{
    TYPE m = CAT(expm1_nonpositive_, SFX)(x < 0 ? 2 * x : -2 * x);
    TYPE t = -m / ((TYPE)2 + m);
    return x < 0 ? -t : t;
}

/* One time step's gate nonlinearities and state update, for all N rows. */
SIMD_CLONES static void CAT(forward_step_, SFX)(TYPE *restrict hs, TYPE *restrict c_state,
                                    TYPE *restrict gates, TYPE *restrict cs,
                                    const TYPE *restrict b,
                                    size_t t, size_t N, size_t T, size_t H)
{
    for (size_t n = 0; n < N; n++) {
        TYPE *a = gates + (n * T + t) * 4 * H;    // A[n, t, :] in, activated gates out
        TYPE *c = c_state + n * H;                // c_{t-1}[n] in, c_t[n] out
        TYPE *h = hs + (n * T + t) * H;           // hs[n, t, :]
        for (size_t j = 0; j < H; j++) {
            TYPE f = CAT(sigmoid_, SFX)(a[j] + b[j]);
            TYPE g = CAT(tanh_, SFX)(a[H + j] + b[H + j]);
            TYPE i = CAT(sigmoid_, SFX)(a[2 * H + j] + b[2 * H + j]);
            TYPE o = CAT(sigmoid_, SFX)(a[3 * H + j] + b[3 * H + j]);
            TYPE c_next = f * c[j] + g * i;
            a[j] = f;
            a[H + j] = g;
            a[2 * H + j] = i;
            a[3 * H + j] = o;
            c[j] = c_next;
            h[j] = o * CAT(tanh_, SFX)(c_next);
        }
        if (cs) memcpy(cs + (n * T + t) * H, c, H * sizeof(TYPE));  // cs[n, t, :]
    }
}

int CAT(gr_lstm_forward_, SFX)(TYPE *hs, TYPE *c_state, TYPE *gates, TYPE *cs,
                               const TYPE *xs, const TYPE *Wx, const TYPE *Wh,
                               const TYPE *b, const TYPE *h0,
                               size_t N, size_t T, size_t D, size_t H, const gr_blas *blas)
{
    // hs: (N, T, H)   c_state: (N, H)   gates: (N, T, 4H)   cs: (N, T, H) or NULL
    // xs: (N, T, D)   Wx: (D, 4H)   Wh: (H, 4H)   b: (4H)   h0: (N, H)
    int status = check_sizes(N, T, D, H);
    if (status != GR_OK) return status;
    if (N == 0 || T == 0 || H == 0) return GR_OK;
    if (!blas || !blas->GEMM_FIELD) return GR_ERR_NO_BLAS;
    if (!hs || !c_state || !gates || !Wh || !b || !h0 || (D > 0 && (!xs || !Wx)))
        return GR_ERR_NULL_ARGUMENT;

    const size_t H4 = 4 * H;
    // The input projection of every (n, t) row at once: gates = xs @ Wx.
    CAT(gemm_rowmajor_, SFX)(blas, 'N', 'N', N * T, H4, D, 1, xs, D, Wx, H4, 0, gates, H4);

    for (size_t t = 0; t < T; t++) {
        // h_{t-1} is h0, or hs[:, t-1, :] read in place with row stride T*H.
        const TYPE *h_prev = t ? hs + (t - 1) * H : h0;
        size_t ld_h_prev = t ? T * H : H;
        CAT(gemm_rowmajor_, SFX)(blas, 'N', 'N', N, H4, H, 1, h_prev, ld_h_prev, Wh, H4,
                                 1, gates + t * H4, T * H4);
        CAT(forward_step_, SFX)(hs, c_state, gates, cs, b, t, N, T, H);
    }
    return GR_OK;
}

/* One time step's pre-activation gradient dA_t, written over that step's gates. */
SIMD_CLONES static void CAT(backward_step_, SFX)(TYPE *restrict dh, TYPE *restrict dc,
                                     TYPE *restrict h_prev, TYPE *restrict gates,
                                     const TYPE *restrict cs, const TYPE *restrict dhs,
                                     const TYPE *restrict c0,
                                     size_t t, size_t N, size_t T, size_t H)
{
    for (size_t n = 0; n < N; n++) {
        TYPE *a = gates + (n * T + t) * 4 * H;               // gates[n, t, :] in, dA out
        const TYPE *c_t = cs + (n * T + t) * H;              // c_t[n]
        const TYPE *c_before = t ? c_t - H : c0 + n * H;     // c_{t-1}[n]
        const TYPE *dh_out = dhs + (n * T + t) * H;          // dhs[n, t, :]
        // h_t is needed for dWh at step t+1; recomputed here, not cached. The
        // last step's h_t goes to slot 0, which h0 overwrites after the loop.
        TYPE *h_t = h_prev + (n * T + (t + 1) % T) * H;
        TYPE *dh_n = dh + n * H;
        TYPE *dc_n = dc + n * H;
        for (size_t j = 0; j < H; j++) {
            TYPE f = a[j], g = a[H + j], i = a[2 * H + j], o = a[3 * H + j];
            TYPE tanh_c = CAT(tanh_, SFX)(c_t[j]);
            h_t[j] = o * tanh_c;
            TYPE dh_j = dh_out[j] + dh_n[j];
            TYPE ds = dc_n[j] + dh_j * o * (1 - tanh_c * tanh_c);
            dc_n[j] = ds * f;
            a[j] = ds * c_before[j] * f * (1 - f);
            a[H + j] = ds * i * (1 - g * g);
            a[2 * H + j] = ds * g * i * (1 - i);
            a[3 * H + j] = dh_j * tanh_c * o * (1 - o);
        }
    }
}

int CAT(gr_lstm_backward_, SFX)(TYPE *dxs, TYPE *dWx, TYPE *dWh, TYPE *db,
                                TYPE *dh, TYPE *dc, TYPE *h_prev, TYPE *gates,
                                const TYPE *cs, const TYPE *dhs, const TYPE *xs,
                                const TYPE *Wx, const TYPE *Wh,
                                const TYPE *h0, const TYPE *c0,
                                size_t N, size_t T, size_t D, size_t H, const gr_blas *blas)
{
    // dxs: (N, T, D)   dWx: (D, 4H)   dWh: (H, 4H)   db: (4H)
    // dh, dc: (N, H)   h_prev: (N, T, H)   gates: (N, T, 4H), dA on return
    // cs, dhs: (N, T, H)   xs: (N, T, D)   h0, c0: (N, H)
    int status = check_sizes(N, T, D, H);
    if (status != GR_OK) return status;
    const size_t H4 = 4 * H;
    if (N == 0 || T == 0 || H == 0) {
        // An empty sequence has zero weight gradients and passes dh, dc through;
        // with H == 0 (but N, T, D > 0) nothing reaches xs, so dxs is zero too.
        if (dxs) memset(dxs, 0, N * T * D * sizeof(TYPE));
        if (dWx) memset(dWx, 0, D * H4 * sizeof(TYPE));
        if (dWh) memset(dWh, 0, H * H4 * sizeof(TYPE));
        if (db) memset(db, 0, H4 * sizeof(TYPE));
        return GR_OK;
    }
    if (!blas || !blas->GEMM_FIELD) return GR_ERR_NO_BLAS;
    if (!dWh || !db || !dh || !dc || !h_prev || !gates || !cs || !dhs || !Wh || !h0
        || !c0 || (D > 0 && (!dxs || !dWx || !xs || !Wx)))
        return GR_ERR_NULL_ARGUMENT;

    for (size_t t = T; t-- > 0;) {
        CAT(backward_step_, SFX)(dh, dc, h_prev, gates, cs, dhs, c0, t, N, T, H);
        // dh_{t-1} = dA_t @ Wh^T, with dA_t read in place (row stride T*4H).
        CAT(gemm_rowmajor_, SFX)(blas, 'N', 'T', N, H, H4, 1, gates + t * H4, T * H4,
                                 Wh, H4, 0, dh, H);
    }
    for (size_t n = 0; n < N; n++)
        memcpy(h_prev + n * T * H, h0 + n * H, H * sizeof(TYPE));  // h_prev[n, 0, :] = h0[n]

    // The weight and input gradients as three products over all N*T rows.
    const size_t NT = N * T;
    CAT(gemm_rowmajor_, SFX)(blas, 'N', 'T', NT, D, H4, 1, gates, H4, Wx, H4, 0, dxs, D);
    CAT(gemm_rowmajor_, SFX)(blas, 'T', 'N', D, H4, NT, 1, xs, D, gates, H4, 0, dWx, H4);
    CAT(gemm_rowmajor_, SFX)(blas, 'T', 'N', H, H4, NT, 1, h_prev, H, gates, H4, 0, dWh, H4);

    // db in double, since float32 sums over thousands of rows lose digits;
    // columns go in blocks so the rows are read in order.
    enum { DB_BLOCK = 256 };
    for (size_t j0 = 0; j0 < H4; j0 += DB_BLOCK) {
        size_t width = H4 - j0 < DB_BLOCK ? H4 - j0 : DB_BLOCK;
        double sum[DB_BLOCK] = {0};
        for (size_t r = 0; r < NT; r++) {
            const TYPE *dA_r = gates + r * H4 + j0;  // dA[r, j0:j0+width]
            for (size_t j = 0; j < width; j++) sum[j] += (double)dA_r[j];
        }
        for (size_t j = 0; j < width; j++) db[j0 + j] = (TYPE)sum[j];
    }
    return GR_OK;
}
