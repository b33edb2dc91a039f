/* The fast entry points for one precision; fast.c includes this once per TYPE. */

int CAT(gr_lstm_forward_ex_, SFX)(TYPE *hs, TYPE *c_state, TYPE *gates, TYPE *cs,
                                  const TYPE *xs, const TYPE *Wx, const TYPE *Wh,
                                  const TYPE *b, const TYPE *h0,
                                  size_t N, size_t T, size_t D, size_t H,
                                  void *workspace, size_t workspace_bytes, int path, int flags,
                                  const gr_blas *blas)
{
    const int train = cs != NULL;
    if (path == GR_PATH_AUTO) path = gr_path_best();
    if (!gr_path_available(path)) return GR_ERR_NO_PATH;
    if (path == GR_PATH_BLAS) {
        if (flags & GR_FLAG_GEMM_ONLY) return GR_ERR_NO_PATH;
        size_t need = gr_lstm_workspace(path, IS_DOUBLE, 0, train, N, T, D, H);
        if (need == SIZE_MAX) return GR_ERR_TOO_LARGE;
        if (!train && (workspace_bytes < need || (need && !workspace))) return GR_ERR_WORKSPACE;
        // Inference: the workspace is the scratch for the pre-activations.
        return CAT(gr_lstm_forward_, SFX)(hs, c_state, train ? gates : (TYPE *)workspace, cs,
                                          xs, Wx, Wh, b, h0, N, T, D, H, blas);
    }
    if (!sizes_fit(N, T, D, H)) return GR_ERR_TOO_LARGE;
    if (N == 0 || T == 0 || H == 0) return GR_OK;
    if (!hs || !c_state || !Wh || !b || !h0 || (D > 0 && (!xs || !Wx)) || (train && !gates))
        return GR_ERR_NULL_ARGUMENT;
    const simd_path *p = IS_DOUBLE ? &paths_f64[path] : &paths_f32[path];
    gr_forward_args args = {
        .hs = hs, .c_state = c_state, .gates = gates, .cs = cs,
        .xs = xs, .Wx = Wx, .Wh = Wh, .b = b, .h0 = h0,
        .N = N, .T = T, .D = D, .H = H,
        .workspace = workspace, .workspace_bytes = workspace_bytes,
        .train = train, .flags = flags, .nthreads = threads_for(p, flags, 0, N, T, D, H),
    };
    return p->forward(&args);
}

int CAT(gr_lstm_backward_ex_, SFX)(TYPE *dxs, TYPE *dWx, TYPE *dWh, TYPE *db,
                                   TYPE *dh, TYPE *dc, TYPE *gates, TYPE *cs,
                                   const TYPE *dhs, const TYPE *xs,
                                   const TYPE *Wx, const TYPE *Wh,
                                   const TYPE *h0, const TYPE *c0,
                                   size_t N, size_t T, size_t D, size_t H,
                                   void *workspace, size_t workspace_bytes, int path, int flags,
                                   const gr_blas *blas)
{
    if (path == GR_PATH_AUTO) path = gr_path_best();
    if (!gr_path_available(path)) return GR_ERR_NO_PATH;
    if (path == GR_PATH_BLAS && (flags & GR_FLAG_GEMM_ONLY)) return GR_ERR_NO_PATH;
    if (path == GR_PATH_BLAS || N == 0 || T == 0 || H == 0) {
        // The BLAS kernels (which also define the empty cases) take h_{t-1}
        // scratch from the workspace.
        size_t need = gr_lstm_workspace(GR_PATH_BLAS, IS_DOUBLE, 1, 1, N, T, D, H);
        if (need == SIZE_MAX) return GR_ERR_TOO_LARGE;
        TYPE *h_prev = (TYPE *)workspace;
        if (N == 0 || T == 0 || H == 0) {
            static TYPE nothing[1];
            h_prev = nothing;
        } else if (workspace_bytes < need || !workspace) {
            return GR_ERR_WORKSPACE;
        }
        return CAT(gr_lstm_backward_, SFX)(dxs, dWx, dWh, db, dh, dc, h_prev, gates, cs, dhs,
                                           xs, Wx, Wh, h0, c0, N, T, D, H, blas);
    }
    if (!sizes_fit(N, T, D, H)) return GR_ERR_TOO_LARGE;
    if (!dWh || !db || !dh || !dc || !gates || !cs || !dhs || !Wh || !h0 || !c0
        || (D > 0 && (!dxs || !dWx || !xs || !Wx)))
        return GR_ERR_NULL_ARGUMENT;
    const simd_path *p = IS_DOUBLE ? &paths_f64[path] : &paths_f32[path];
    gr_backward_args args = {
        .dxs = dxs, .dWx = dWx, .dWh = dWh, .db = db, .dh = dh, .dc = dc,
        .gates = gates, .cs = cs, .dhs = dhs, .xs = xs, .Wx = Wx, .Wh = Wh,
        .h0 = h0, .c0 = c0, .N = N, .T = T, .D = D, .H = H,
        .workspace = workspace, .workspace_bytes = workspace_bytes,
        .flags = flags, .nthreads = threads_for(p, flags, 1, N, T, D, H),
    };
    return p->backward(&args);
}
