/*
 * The GRU cell: gates z, r, h~ along 3H (the book's order), and
 *   h_t = (1 - z) h_{t-1} + z h~
 * PyTorch and Keras write h_t = z h_{t-1} + (1 - z) h~ (their z is 1 - ours)
 * and PyTorch orders its gates r, z, n.
 *
 * Two variants:
 *   reset before (the book's): b (3H,),
 *     z, r = sigmoid(x Wx_zr + h_{t-1} Wh_zr + b_zr),
 *     h~ = tanh(x Wx_h + (r h_{t-1}) Wh_h + b_h): two dependent products a step;
 *     cache per (n, t): z, r, h~, h_t.
 *   reset after (cuDNN, PyTorch, Keras): b (2, 3H), input and recurrent biases,
 *     z, r = sigmoid(x Wx_zr + b0_zr + h_{t-1} Wh_zr + b1_zr),
 *     h~ = tanh(x Wx_h + b0_h + r (h_{t-1} Wh_h + b1_h)): one product a step;
 *     cache per (n, t): z, r, h~, hn = h_{t-1} Wh_h + b1_h, h_t.
 * The backward overwrites the gates with dA (for reset after, dA at x Wx in
 * blocks 0-2 and at hn in block 3) and h_t with h_{t-1}, the operand of dWh.
 * carry is the part of dh_{t-1} that does not pass through Wh.
 */
#ifndef GR_GRU_LAYOUTS
#define GR_GRU_LAYOUTS
static const gr_cell_layout gr_gru_layout = {
    .name = "GRU", .gates = 3, .cache_width = 4, .bias_rows = 1, .dA_in_cache = 1,
    .h_prev_block = 3, .r_h = 1,
    .fwd_products = 2, .fwd = {{0, 2, GR_OPERAND_H_PREV}, {2, 1, GR_OPERAND_R_H}},
    // dh_t through Wh_zr from dA_{t+1}; then r's gradient through Wh_h from dA_t
    .bwd_products = 2, .bwd = {{1, {{0, 0, 2}}}, {1, {{2, 2, 1}}}},
    .dwh_terms = 2, .dwh = {{GR_OPERAND_H_PREV, {0, 0, 2}}, {GR_OPERAND_R_H, {2, 2, 1}}},
    .db = {{1, {{0, 0, 3}}}},
};

static const gr_cell_layout gr_gru_reset_after_layout = {
    .name = "GRU (reset after)", .gates = 3, .cache_width = 5, .bias_rows = 2,
    .dA_in_cache = 1, .h_prev_block = 4,
    .fwd_products = 1, .fwd = {{0, 3, GR_OPERAND_H_PREV}},
    .bwd_products = 1, .bwd = {{2, {{0, 0, 2}, {3, 2, 1}}}},
    .dwh_terms = 2, .dwh = {{GR_OPERAND_H_PREV, {0, 0, 2}}, {GR_OPERAND_H_PREV, {3, 2, 1}}},
    .db = {{1, {{0, 0, 3}}}, {2, {{0, 0, 2}, {3, 2, 1}}}},
};
#endif

/* h_{t-1}: the cache's h block of step t - 1, or h0. */
static inline V FN(gru_h_prev)(const FN(backward_rows) *r, size_t block, size_t u, size_t n)
{
    return r->cache_prev ? FN(load_n)(r->cache_prev + block * r->H + u, n)
                         : FN(load_n)(r->h0 + u, n);
}

/* Reset before, product 0 (h_{t-1} Wh_zr): z and r, then r h_{t-1}. */
static inline void FN(gru_forward_gates)(const FN(forward_rows) *r, const TYPE *acc,
                                         size_t acc_ld, size_t units)
{
    const size_t H = r->H;
    FOR_EACH_VECTOR(u, n, units) {
        V bz = FN(load_n)(r->b + u, n), br = FN(load_n)(r->b + H + u, n);
        for (size_t i = 0; i < r->rows; i++) {
            const TYPE *acc_i = acc + i * r->acc_row + u;
            TYPE *g = r->g + i * r->ld_g + u;
            V z = FN(sigmoid)(FN(load_n)(acc_i, n) + FN(load_n)(g, n) + bz);
            V rg = FN(sigmoid)(FN(load_n)(acc_i + acc_ld, n) + FN(load_n)(g + H, n) + br);
            FN(store_n)(g, z, n);  // kept for product 1, in inference too
            FN(store_n)(g + H, rg, n);
            FN(store_n)(r->r_h + i * H + u, rg * FN(load_n)(r->h_prev + i * r->ld_h_prev + u, n),
                        n);
        }
    }
}

/* Reset before, product 1 ((r h_{t-1}) Wh_h): h~ and h_t. */
static inline void FN(gru_forward_state)(const FN(forward_rows) *r, const TYPE *acc,
                                         size_t acc_ld, size_t units)
{
    (void)acc_ld;
    const size_t H = r->H;
    FOR_EACH_VECTOR(u, n, units) {
        V bh = FN(load_n)(r->b + 2 * H + u, n);
        for (size_t i = 0; i < r->rows; i++) {
            TYPE *g = r->g + i * r->ld_g + u;
            V z = FN(load_n)(g, n), h_prev = FN(load_n)(r->h_prev + i * r->ld_h_prev + u, n);
            V h_hat = FN(tanh)(FN(load_n)(acc + i * r->acc_row + u, n)
                               + FN(load_n)(g + 2 * H, n) + bh);
            V h = ((TYPE)1 - z) * h_prev + z * h_hat;
            if (r->cache) {
                FN(store_n)(g + 2 * H, h_hat, n);
                FN(store_n)(g + 3 * H, h, n);
            }
            FN(store_n)(r->h + i * r->ld_h + u, h, n);
        }
    }
}

/* Reset after, the one product (h_{t-1} Wh). */
static inline void FN(gru_after_forward)(const FN(forward_rows) *r, const TYPE *acc,
                                         size_t acc_ld, size_t units)
{
    const size_t H = r->H;
    const TYPE *b1 = r->b + 3 * H;  // the recurrent bias
    FOR_EACH_VECTOR(u, n, units) {
        V b_in[3], b_rec[3];
        for (int q = 0; q < 3; q++) {
            b_in[q] = FN(load_n)(r->b + q * H + u, n);
            b_rec[q] = FN(load_n)(b1 + q * H + u, n);
        }
        for (size_t i = 0; i < r->rows; i++) {
            const TYPE *acc_i = acc + i * r->acc_row + u;
            TYPE *g = r->g + i * r->ld_g + u;
            V ax[3], ah[3];
            for (int q = 0; q < 3; q++) {
                ax[q] = FN(load_n)(g + q * H, n) + b_in[q];
                ah[q] = FN(load_n)(acc_i + q * acc_ld, n) + b_rec[q];
            }
            V z = FN(sigmoid)(ax[0] + ah[0]), rg = FN(sigmoid)(ax[1] + ah[1]);
            V h_hat = FN(tanh)(ax[2] + rg * ah[2]);
            V h = ((TYPE)1 - z) * FN(load_n)(r->h_prev + i * r->ld_h_prev + u, n) + z * h_hat;
            if (r->cache) {
                FN(store_n)(g, z, n);
                FN(store_n)(g + H, rg, n);
                FN(store_n)(g + 2 * H, h_hat, n);
                FN(store_n)(g + 3 * H, ah[2], n);
                FN(store_n)(g + 4 * H, h, n);
            }
            FN(store_n)(r->h + i * r->ld_h + u, h, n);
        }
    }
}

/* Reset before, backward product 0: acc is dh_t through Wh_zr (from dA_{t+1}).
 * dA_z and dA_h~ (at h~'s pre-activation), and the carry dh_t (1 - z). */
static inline void FN(gru_backward_state)(const FN(backward_rows) *r, const TYPE *acc, size_t units)
{
    const size_t H = r->H;
    FOR_EACH_VECTOR(u, n, units) {
        TYPE *a = r->cache + u;
        V dh = FN(load_n)(acc + u, n) + FN(load_n)(r->carry + u, n) + FN(load_n)(r->dhs + u, n);
        V z = FN(load_n)(a, n), h_hat = FN(load_n)(a + 2 * H, n);
        V h_prev = FN(gru_h_prev)(r, 3, u, n);
        FN(store_n)(a, dh * (h_hat - h_prev) * z * ((TYPE)1 - z), n);
        FN(store_n)(a + 2 * H, dh * z * ((TYPE)1 - h_hat * h_hat), n);
        FN(store_n)(r->carry + u, dh * ((TYPE)1 - z), n);
    }
}

/* Reset before, backward product 1: acc is dA_h~ Wh_h^T, the gradient at r h_{t-1}.
 * dA_r, the carry, r h_{t-1} for dWh, and h_{t-1} into this step's h block. */
static inline void FN(gru_backward_gates)(const FN(backward_rows) *r, const TYPE *acc, size_t units)
{
    const size_t H = r->H;
    FOR_EACH_VECTOR(u, n, units) {
        TYPE *a = r->cache + u;
        V d_rh = FN(load_n)(acc + u, n), rg = FN(load_n)(a + H, n);
        V h_prev = FN(gru_h_prev)(r, 3, u, n);
        FN(store_n)(a + H, d_rh * h_prev * rg * ((TYPE)1 - rg), n);
        FN(store_n)(r->carry + u, FN(load_n)(r->carry + u, n) + rg * d_rh, n);
        FN(store_n)(r->r_h + u, rg * h_prev, n);
        FN(store_n)(a + 3 * H, h_prev, n);
    }
}

/* Reset after: acc is dh_t through Wh (from dA_{t+1}). */
static inline void FN(gru_after_backward)(const FN(backward_rows) *r, const TYPE *acc, size_t units)
{
    const size_t H = r->H;
    FOR_EACH_VECTOR(u, n, units) {
        TYPE *a = r->cache + u;
        V dh = FN(load_n)(acc + u, n) + FN(load_n)(r->carry + u, n) + FN(load_n)(r->dhs + u, n);
        V z = FN(load_n)(a, n), rg = FN(load_n)(a + H, n);
        V h_hat = FN(load_n)(a + 2 * H, n), hn = FN(load_n)(a + 3 * H, n);
        V h_prev = FN(gru_h_prev)(r, 4, u, n);
        V dt = dh * z * ((TYPE)1 - h_hat * h_hat);  // at h~'s pre-activation
        FN(store_n)(a, dh * (h_hat - h_prev) * z * ((TYPE)1 - z), n);
        FN(store_n)(a + H, dt * hn * rg * ((TYPE)1 - rg), n);
        FN(store_n)(a + 2 * H, dt, n);
        FN(store_n)(a + 3 * H, dt * rg, n);  // at hn
        FN(store_n)(a + 4 * H, h_prev, n);
        FN(store_n)(r->carry + u, dh * ((TYPE)1 - z), n);
    }
}

/* Both variants: acc is dh0 through Wh; the carry adds the rest. */
static inline void FN(gru_first)(const FN(backward_rows) *r, const TYPE *acc, size_t units)
{
    FOR_EACH_VECTOR(u, n, units)
        FN(store_n)(r->dh + u, FN(load_n)(acc + u, n) + FN(load_n)(r->carry + u, n), n);
}
