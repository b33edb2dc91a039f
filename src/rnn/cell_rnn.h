/*
 * The plain RNN cell: h_t = tanh(x Wx + h_{t-1} Wh + b), one gate block, or
 * with relu (PyTorch's nn.RNN(nonlinearity='relu')) max(., 0) for tanh; both
 * have the one layout below.
 * Cache per (n, t): h_t. Its dA goes to a workspace (the cache has no room);
 * the backward moves h_t to step t + 1's row as soon as step t + 1 is done, so
 * that row t holds h_{t-1}, the operand of dWh.
 */
#ifndef GR_RNN_LAYOUT
#define GR_RNN_LAYOUT
static const gr_cell_layout gr_rnn_layout = {
    .name = "RNN", .gates = 1, .cache_width = 1, .bias_rows = 1, .dA_in_cache = 0,
    .h_prev_block = 0,
    .fwd_products = 1, .fwd = {{0, 1, GR_OPERAND_H_PREV}},
    .bwd_products = 1, .bwd = {{1, {{0, 0, 1}}}},
    .dwh_terms = 1, .dwh = {{GR_OPERAND_H_PREV, {0, 0, 1}}},
    .db = {{1, {{0, 0, 1}}}},
};
#endif

/* relu as a select, so that NaN passes through as np.maximum(a, 0) lets it. */
static inline V FN(relu)(V a)
{
    V zero = FN(splat)(0);
    return FN(select)(FN(mask_lt)(a, zero), zero, a);
}

/* relu is a compile-time constant at every call: each cell gets its own loop. */
static inline void FN(rnn_forward)(const FN(forward_rows) *r, const TYPE *acc, size_t units,
                                   int relu)
{
    FOR_EACH_VECTOR(u, n, units) {
        V bias = FN(load_n)(r->b + u, n);
        for (size_t i = 0; i < r->rows; i++) {
            TYPE *g = r->g + i * r->ld_g + u;
            V a = FN(load_n)(acc + i * r->acc_row + u, n) + FN(load_n)(g, n) + bias;
            V h = relu ? FN(relu)(a) : FN(tanh)(a);
            if (r->cache) FN(store_n)(g, h, n);
            FN(store_n)(r->h + i * r->ld_h + u, h, n);
        }
    }
}

/* acc: dh_t through Wh (dA_{t+1} Wh^T). relu's slope is 1 where h > 0, else
 * 0, multiplied in (not selected) so that a NaN dh stays NaN, as in the spec. */
static inline void FN(rnn_backward)(const FN(backward_rows) *r, const TYPE *acc, size_t units,
                                    int relu)
{
    FOR_EACH_VECTOR(u, n, units) {
        V h = FN(load_n)(r->cache + u, n);
        V dh = FN(load_n)(acc + u, n) + FN(load_n)(r->dhs + u, n);
        V zero = FN(splat)(0), one = FN(splat)(1);
        V slope = relu ? FN(select)(FN(mask_lt)(zero, h), one, zero) : one - h * h;
        FN(store_n)(r->dA + u, dh * slope, n);
        if (r->cache_next) FN(store_n)(r->cache_next + u, h, n);
    }
}

/* acc: dh0 = dA_0 Wh^T; h0 becomes the operand of dWh at step 0. */
static inline void FN(rnn_first)(const FN(backward_rows) *r, const TYPE *acc, size_t units)
{
    FOR_EACH_VECTOR(u, n, units) {
        FN(store_n)(r->dh + u, FN(load_n)(acc + u, n), n);
        FN(store_n)(r->cache + u, FN(load_n)(r->h0 + u, n), n);
    }
}
