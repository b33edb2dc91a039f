/*
 * The products that the recurrence driver issues inside its own phases (the
 * input projection, the weight gradients, dxs), described by FN(product)
 * (products.h), on one of the two engines: products.h's panels, or gemm.h's
 * five loops run as items over all of K (no phase of their own: the driver's
 * phase is the product's). Included per TYPE and instruction set after both.
 */

/*
 * Whether product p runs on the Goto engine: only when gr_set_product_engine
 * asks for it. Inside the driver's phases the Goto engine cannot pack A in a
 * phase of its own, and reads it in place; measured so on a 2-core Xeon
 * (Emerald Rapids, AVX-512; process CPU time, medians of 7 rounds, the
 * machine shared), TimeLSTM forward+backward with the driver's products on
 * it took 1.13-1.17x the first engine's time at (20, 35, 100, 100), 1.03-1.05x
 * at (20, 35, 256, 256), 1.09x at (64, 35, 256, 256) and 0.98-1.01x at
 * (20, 35, 650, 650) (the weight gradients alone on it: 1.17, 1.05, 0.98x).
 * So by default they stay on the first engine. A B packed in the first
 * engine's panels (dxs's Wx^T) stays there in any case.
 */
static int FN(product_on_goto)(const FN(product) *p)
{
    return !p->packed && gr_product_engine() == GR_ENGINE_GOTO;
}

/* The same product for gemm.h, blocked for items over all of its K rows. */
static FN(gemm) FN(product_as_gemm)(const FN(product) *p)
{
    FN(gemm) g = {
        .M = p->M, .N = p->ncols, .k_lo = p->k_lo, .k_len = p->k_len,
        .A = p->A, .rs = p->rs, .cs = p->cs, .B = p->B, .ldb = p->ldb,
        .C = p->C, .ldc = p->ldc, .segments = p->segments, .seg_a = p->seg_a,
        .seg_c = p->seg_c, .accumulate = p->accumulate, .bias = p->bias,
    };
    FN(gemm_plan)(&g, 0);
    return g;
}

static size_t FN(product_items)(const FN(product) *p)
{
    if (!FN(product_on_goto)(p)) return FN(panels_items)(p);
    FN(gemm) g = FN(product_as_gemm)(p);
    return FN(gemm_items)(&g);
}

static void FN(product_item)(const FN(product) *p, size_t item)
{
    if (!FN(product_on_goto)(p)) {
        FN(panels_item)(p, item);
        return;
    }
    FN(gemm) g = FN(product_as_gemm)(p);
    FN(gemm_item)(&g, item);
}
