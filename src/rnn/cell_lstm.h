/*
 * The LSTM cell: gates f, g, i, o along 4H (the book's order; PyTorch and
 * Keras use i, f, g, o).
 *   A = x Wx + h Wh + b,   f, i, o = sigmoid(A_f, A_i, A_o),   g = tanh(A_g)
 *   c_t = f c_{t-1} + g i,   h_t = o tanh(c_t)
 * Cache per (n, t): f, g, i, o, c_t. The backward overwrites the gates with
 * dA and c_t with h_{t-1} (as soon as steps t and t + 1 have read it), the
 * operand of dWh. carry is dc.
 */
#ifndef GR_LSTM_LAYOUT
#define GR_LSTM_LAYOUT
static const gr_cell_layout gr_lstm_layout = {
    .name = "LSTM", .gates = 4, .cache_width = 5, .bias_rows = 1, .has_c = 1,
    .dA_in_cache = 1, .h_prev_block = 4,
    .fwd_products = 1, .fwd = {{0, 4, GR_OPERAND_H_PREV}},
    .bwd_products = 1, .bwd = {{1, {{0, 0, 4}}}},
    .dwh_terms = 1, .dwh = {{GR_OPERAND_H_PREV, {0, 0, 4}}},
    .db = {{1, {{0, 0, 4}}}},
};
#endif

static inline void FN(lstm_forward)(const FN(forward_rows) *r, const TYPE *acc, size_t acc_ld,
                                    size_t units)
{
    const size_t H = r->H;
    FOR_EACH_VECTOR(u, n, units) {
        V bias[4];
        for (int q = 0; q < 4; q++) bias[q] = FN(load_n)(r->b + q * H + u, n);
        for (size_t i = 0; i < r->rows; i++) {
            const TYPE *acc_i = acc + i * r->acc_row + u;
            TYPE *g = r->g + i * r->ld_g + u, *c_i = r->c + i * H + u;
            V a[4];
            for (int q = 0; q < 4; q++)
                a[q] = FN(load_n)(acc_i + q * acc_ld, n) + FN(load_n)(g + q * H, n) + bias[q];
            V f = FN(sigmoid)(a[0]), gg = FN(tanh)(a[1]);
            V ig = FN(sigmoid)(a[2]), o = FN(sigmoid)(a[3]);
            V c = f * FN(load_n)(c_i, n) + gg * ig;
            V h = o * FN(tanh)(c);
            if (r->cache) {
                FN(store_n)(g, f, n);
                FN(store_n)(g + H, gg, n);
                FN(store_n)(g + 2 * H, ig, n);
                FN(store_n)(g + 3 * H, o, n);
                FN(store_n)(g + 4 * H, c, n);
            }
            FN(store_n)(c_i, c, n);
            FN(store_n)(r->h + i * r->ld_h + u, h, n);
        }
    }
}

/* acc: dh_t through Wh (dA_{t+1} Wh^T). */
static inline void FN(lstm_backward)(const FN(backward_rows) *r, const TYPE *acc, size_t units)
{
    const size_t H = r->H;
    FOR_EACH_VECTOR(u, n, units) {
        TYPE *a = r->cache + u;  // gates in, dA out
        V dh = FN(load_n)(acc + u, n) + FN(load_n)(r->dhs + u, n);
        V f = FN(load_n)(a, n), g = FN(load_n)(a + H, n);
        V i = FN(load_n)(a + 2 * H, n), o = FN(load_n)(a + 3 * H, n);
        V tanh_c = FN(tanh)(FN(load_n)(a + 4 * H, n));
        V c_prev = r->cache_prev ? FN(load_n)(r->cache_prev + 4 * H + u, n)
                                 : FN(load_n)(r->c0 + u, n);
        V ds = FN(load_n)(r->carry + u, n) + dh * o * ((TYPE)1 - tanh_c * tanh_c);
        FN(store_n)(a, ds * c_prev * f * ((TYPE)1 - f), n);
        FN(store_n)(a + H, ds * i * ((TYPE)1 - g * g), n);
        FN(store_n)(a + 2 * H, ds * g * i * ((TYPE)1 - i), n);
        FN(store_n)(a + 3 * H, dh * tanh_c * o * ((TYPE)1 - o), n);
        FN(store_n)(r->carry + u, ds * f, n);
        // h_t, the operand of dWh at step t + 1, goes where c_{t+1} was:
        // steps t + 1 and t + 2, which read it, are done.
        if (r->cache_next) FN(store_n)(r->cache_next + 4 * H + u, o * tanh_c, n);
    }
}

/* acc: dh0 = dA_0 Wh^T; h0 becomes the operand of dWh at step 0. */
static inline void FN(lstm_first)(const FN(backward_rows) *r, const TYPE *acc, size_t units)
{
    FOR_EACH_VECTOR(u, n, units) {
        FN(store_n)(r->dh + u, FN(load_n)(acc + u, n), n);
        FN(store_n)(r->cache + 4 * r->H + u, FN(load_n)(r->h0 + u, n), n);
    }
}
