/*
 * The recurrence driver of the SIMD paths, for any cell (cells.h) and one or
 * two directions (a bidirectional layer runs both in one job): it owns the
 * workspace layout, walks the time steps, issues the products (products.h)
 * and hands their results to the cell's epilogues. Included per TYPE and
 * instruction set.
 *
 * Forward: Wh is packed once per call into group panels (GW hidden units,
 * the gate blocks of a product side by side), so that one tile of a step's
 * product holds every gate of the same units and the cell's epilogue runs on
 * it while it is hot. x_t @ Wx is computed chunk by chunk (about CHUNK_ROWS
 * rows), just before the steps that use it: into the cache's gate blocks in
 * training, into a chunk of scratch in inference (nothing of size T).
 *
 * Backward: Wh^T and Wx^T are packed in column panels (or, with few rows,
 * read in place by dot products). Each step's products give dh_t (and, for
 * the GRU of the book, r's gradient), the epilogues give dA_t; then the
 * weight gradients run one block of K = N*T rows at a time, with dxs and db.
 *
 * Threads split either the batch (a slice of sequences through every step:
 * no synchronization per step) or each step's columns (a phase per product
 * of a step). Every output element is computed by one thread in an order
 * fixed by the sizes: results are bit-identical for any thread count.
 *
 * Sequences of different lengths come packed time-major, longest first
 * (gr_steps, internal.h): step t's rows are then the batch[t] sequences still
 * running, so a step, the input projection and the weight gradients cost
 * what the sequences' real steps cost. Rows are addressed through gr_row()
 * and gr_seq_stride(), which give the (N, T) layout without lengths.
 */

#define KW 512 /* K block of the weight gradients: blocks of xs, h and dA stay in L3 */
#define CHUNK_ROWS 1024 /* rows of the input projection per chunk */
#define DB_COLUMNS 256     /* columns of db per item */
#define DOT_ROWS_DXS 64    /* dxs as dot products when N*T is at most this */
#define DXS_DOT_COLUMNS 48 /* columns of dxs per dot item */

/*
 * Batch slices per direction, or 0: the steps split by columns. Slices read
 * the whole of Wh at each step, so they need enough rows per slice to pay for
 * it, unless Wh stays in L2. Directions come first: each takes its share of
 * the threads. Packed sequences of different lengths leave a slice few rows at
 * its late steps, each still reading all of Wh: slices only while Wh stays in
 * L2 (lengths uniform in 1..T, 2 threads, the Xeon: H = 650, Wh 6.8 MB,
 * columns 41.8 ms against slices 45.2; H = 256, 1 MB, slices 29.0 against
 * 31.5; H = 100, slices 0.97 against 1.32).
 */
static size_t FN(batch_slices)(size_t N, size_t H, size_t G, int nthreads, size_t ndirs,
                               int flags, const gr_steps *steps)
{
    if (flags & GR_FLAG_SPLIT_COLUMNS) return 0;
    const size_t threads = nthreads > (int)ndirs ? (size_t)nthreads / ndirs : 1;
    if (threads == 1) return 1;
    if (flags & GR_FLAG_SPLIT_ROWS) return N < threads ? (N ? N : 1) : threads;
    size_t rows = N / threads, packed_bytes = H * ((H + GW - 1) / GW) * G * GW * sizeof(TYPE);
    if (steps) return rows >= 2 && packed_bytes <= (2u << 20) ? threads : 0;
    return rows >= 2 && (packed_bytes <= (768u << 10) || rows >= 8) ? threads : 0;
}

/* The sequences [*n_lo, *n_hi) of batch slice k: equal counts, or for packed
 * sequences near-equal total lengths (cut). */
static inline void FN(slice_rows)(const gr_steps *steps, const size_t *cut, size_t N, size_t k,
                                  size_t slices, size_t *n_lo, size_t *n_hi)
{
    if (steps) {
        *n_lo = cut[k];
        *n_hi = cut[k + 1];
        return;
    }
    FN(share)(N, (int)k, (int)slices, n_lo, n_hi);
}

/* Items of a phase shared by the directions: direction d takes items
 * [d * per_dir, (d + 1) * per_dir). */
static inline size_t FN(direction_of)(size_t *item, size_t per_dir)
{
    size_t d = *item / per_dir;
    *item %= per_dir;
    return d;
}

/* ---- forward ------------------------------------------------------------ */

typedef struct FN(forward_dir) {
    TYPE *hs, *c, *cache;
    const TYPE *xs, *Wx, *Wh, *b, *h0;  /* xs (rows, D) */
    TYPE *packed;   /* Wh's group panels, product after product */
    TYPE *x_tail;   /* Wx's last column panel, when its last vector is partial */
    TYPE *scratch;  /* inference: a chunk's x @ Wx (N, Tc, G*H) */
    TYPE *r_h;      /* GRU (book): r * h_{t-1} (N, H) */
} FN(forward_dir);

typedef struct FN(forward) {
    int cell;
    const gr_cell_layout *L;
    FN(forward_dir) dir[GR_MAX_DIRECTIONS];
    size_t ndirs;
    size_t N, T, D, H, GH, ldc;  /* ldc: a cache row, CW*H */
    const gr_steps *steps;       /* packed sequences of different lengths, or NULL */
    int pack_h;                  /* Wh packed whole; else only a partial last group */
    /* Product p's units come in groups of width[p] vectors (GW units each):
     * nq * width[p] <= 4 vectors, so that a product of few gates still fills
     * the micro-kernel's tile; groups[p] = ceil(H / (width[p] * GW)). */
    size_t width[2], groups[2], max_groups;
    size_t panel_at[2];          /* product p's panels within `packed` */
    size_t Tc;                   /* time steps per chunk of the input projection */
    size_t slices;               /* batch slices per direction, or 0: split by columns */
    size_t cut[GR_MAX_THREADS + 1];  /* packed sequences: the slices' first sequences */
    size_t nb;                   /* row blocks of N (splitting columns) */
    int train, gemm_only;
} FN(forward);

/* The workspace of one direction; returns its size in bytes (SIZE_MAX on overflow). */
static size_t FN(forward_layout)(const gr_cell_layout *L, size_t N, size_t T, size_t D,
                                 size_t H, int train, FN(forward) *f, size_t off[4])
{
    const size_t G = (size_t)L->gates;
    size_t offset = 0, packed = 0;
    // Packing Wh costs a pass over it, paid back from the second time step.
    // Wx is read in place by the input projection (a plain product).
    f->pack_h = T >= 2;
    f->max_groups = 0;
    for (int p = 0; p < L->fwd_products; p++) {
        const size_t nq = (size_t)L->fwd[p].nq;
        // Wider groups only in packed panels: in place, a tile's vectors are
        // one per gate, H apart.
        f->width[p] = f->pack_h ? 4 / nq : 1;
        const size_t units = f->width[p] * GW;
        f->groups[p] = (H + units - 1) / units;
        f->max_groups = f->groups[p] > f->max_groups ? f->groups[p] : f->max_groups;
        const size_t packed_groups = f->pack_h ? f->groups[p] : H % GW ? 1 : 0;
        f->panel_at[p] = packed;
        packed += packed_groups * H * nq * units;
    }
    off[0] = gr_take(&offset, packed, sizeof(TYPE));
    off[1] = gr_take(&offset, (G * H) % GW ? D * TILE_LD : 0, sizeof(TYPE));
    // The input projection runs in chunks of time steps, about CHUNK_ROWS rows
    // (at least MR per sequence), each just before the steps that use it: the
    // chunk is still in cache then, and inference keeps a chunk of scratch,
    // nothing of size T.
    size_t Tc = N ? (CHUNK_ROWS + N - 1) / N : 1;  // N == 0: nothing to chunk
    Tc = (Tc + MR - 1) / MR * MR;  // whole row blocks per sequence
    f->Tc = FN(min)(T, Tc);
    off[2] = gr_take(&offset, train ? 0 : N * f->Tc * G * H, sizeof(TYPE));
    off[3] = gr_take(&offset, L->r_h ? N * H : 0, sizeof(TYPE));
    return offset;
}

/* Wh's panel of product p for group g: base, row stride and vector stride. */
static inline const TYPE *FN(group_panel)(const FN(forward) *f, const FN(forward_dir) *dir,
                                          int p, size_t g, size_t *ldb, size_t *vs)
{
    const size_t H = f->H, row = (size_t)f->L->fwd[p].nq * f->width[p] * GW;
    if (f->pack_h || (g == f->groups[p] - 1 && H % GW)) {
        *ldb = row;
        *vs = GW;
        return dir->packed + f->panel_at[p] + (f->pack_h ? g * H * row : 0);
    }
    *ldb = f->GH;
    *vs = H;
    return dir->Wh + (size_t)f->L->fwd[p].q0 * H + g * GW;
}

/* The gate row of sequence n at step t: the cache (training), or the chunk's
 * scratch (rows of the chunk at t0, in the order of the cache). */
static inline TYPE *FN(gate_row)(const FN(forward) *f, const FN(forward_dir) *dir, size_t n,
                                 size_t t, size_t t0)
{
    const gr_steps *s = f->steps;
    if (f->train) return dir->cache + gr_row(s, f->T, n, t) * f->ldc;
    const size_t row = s ? s->row[t] - s->row[t0] + n : n * f->Tc + t - t0;
    return dir->scratch + row * f->GH;
}

/* Gate rows from one sequence to the next at one step. */
static inline size_t FN(gate_ld)(const FN(forward) *f)
{
    if (f->train) return gr_seq_stride(f->steps, f->T) * f->ldc;
    return (f->steps ? 1 : f->Tc) * f->GH;
}

/*
 * Product p of step t for rows [n0, n0 + mr) and the units of group g: the
 * left operand (h_{t-1}, or r * h_{t-1}) times those columns of Wh, then the
 * cell's epilogue.
 */
static void FN(step_tile)(const FN(forward) *f, const FN(forward_dir) *dir, size_t t,
                          size_t t0, int p, size_t g, size_t n0, size_t mr)
{
    const size_t U = f->width[p], T = f->T, H = f->H, j = g * U * GW;
    const size_t units = FN(min)(U * GW, H - j), nq = (size_t)f->L->fwd[p].nq;
    // h_{t-1}: h0, or step t-1's rows of hs read in place (T*H apart, or H packed)
    const size_t ld_hs = gr_seq_stride(f->steps, T) * H;
    const TYPE *h_prev = t ? dir->hs + gr_row(f->steps, T, 0, t - 1) * H : dir->h0;
    const size_t ld_h = t ? ld_hs : H;
    const int from_r_h = f->L->fwd[p].operand == GR_OPERAND_R_H;
    const TYPE *A = from_r_h ? dir->r_h : h_prev;
    const size_t ld_a = from_r_h ? H : ld_h;
    size_t ldb, vs;
    const TYPE *B = FN(group_panel)(f, dir, p, g, &ldb, &vs);
    FN(tile_buffer) buf;
    FN(tiles)[nq * U - 1][mr - 1](H, A + n0 * ld_a, ld_a, 1, B, ldb, vs, (TYPE *)buf.v, TILE_LD,
                                  0);

    TYPE *g_rows = FN(gate_row)(f, dir, n0, t, t0) + j;
    const size_t ld_g = FN(gate_ld)(f);
    if (f->gemm_only) {
        const size_t q0 = (size_t)f->L->fwd[p].q0;
        for (size_t i = 0; i < mr; i++)
            for (size_t q = 0; q < nq; q++)
                for (size_t v = 0; v * GW < units; v++)
                    FN(store_n)(g_rows + i * ld_g + (q0 + q) * H + v * GW, buf.v[i][q * U + v],
                                FN(min)(GW, units - v * GW));
        return;
    }
    FN(forward_rows) rows = {
        .g = g_rows,
        .cache = f->train ? g_rows : NULL,
        .h_prev = h_prev + n0 * ld_h + j,
        .h = dir->hs + gr_row(f->steps, T, n0, t) * H + j,
        .c = dir->c ? dir->c + n0 * H + j : NULL,
        .r_h = dir->r_h ? dir->r_h + n0 * H + j : NULL,
        .b = dir->b + j,
        .ld_g = ld_g, .ld_h_prev = ld_h, .ld_h = ld_hs, .acc_row = TILE_LD,
        .rows = mr, .H = H,
    };
    FN(forward_epilogue)(f->cell, p, &rows, (const TYPE *)buf.v, U * GW, units);
}

/*
 * The input projection x_t @ Wx of the chunk at t0 for sequences [n_lo, n_hi):
 * the chunk's tc rows of each sequence are a segment, or, when the chunk is
 * the whole sequence, all the rows are one segment. Packed sequences: the
 * chunk's steps are one block of rows (every sequence: n_lo = 0, n_hi = N).
 */
static FN(product) FN(input_product)(const FN(forward) *f, const FN(forward_dir) *dir,
                                     size_t t0, size_t n_lo, size_t n_hi)
{
    const size_t GH = f->GH, D = f->D, T = f->T, tc = FN(min)(f->Tc, T - t0);
    const size_t ld = f->train ? f->ldc : GH;                   // one gate row to the next
    const size_t ld_seq = FN(gate_ld)(f);                       // one sequence to the next
    TYPE *C = FN(gate_row)(f, dir, n_lo, t0, t0);
    if (f->steps) {
        const size_t r0 = f->steps->row[t0], rows = f->steps->row[t0 + tc] - r0;
        return (FN(product)){rows, D, GH, dir->xs + r0 * D, D, 1, dir->Wx, 0, GH, C, ld,
                             dir->x_tail, 1, 0, 0, 0, D};
    }
    const TYPE *A = dir->xs + (n_lo * T + t0) * D;
    if (tc == T)
        return (FN(product)){(n_hi - n_lo) * T, D, GH, A, D, 1, dir->Wx, 0, GH, C, ld,
                             dir->x_tail, 1, 0, 0, 0, D};
    return (FN(product)){tc, D, GH, A, D, 1, dir->Wx, 0, GH, C, ld, dir->x_tail, n_hi - n_lo,
                         T * D, ld_seq, 0, D};
}

static size_t FN(input_items)(const FN(forward) *f, size_t t0, size_t n_lo, size_t n_hi)
{
    FN(product) p = FN(input_product)(f, &f->dir[0], t0, n_lo, n_hi);
    return FN(product_items)(&p);
}

static void FN(input_item)(const FN(forward) *f, const FN(forward_dir) *dir, size_t t0,
                           size_t n_lo, size_t n_hi, size_t item)
{
    FN(product) p = FN(input_product)(f, dir, t0, n_lo, n_hi);
    FN(product_item)(&p, item);
}

/* Phases: packing (by group, and Wx's tail panel); then one phase of batch
 * slices, or, splitting columns, per chunk the input projection and a phase
 * per product of each step. Packed sequences in slices: per chunk the input
 * projection (a slice's rows of a chunk are not one block), then the slices. */
static size_t FN(forward_items)(const void *ctx, size_t phase)
{
    const FN(forward) *f = ctx;
    if (phase == 0) return f->ndirs * (f->max_groups + 1);
    if (f->slices && !f->steps) return phase == 1 ? f->ndirs * f->slices : 0;
    if (f->slices) {
        const size_t t0 = (phase - 1) / 2 * f->Tc;
        if (t0 >= f->T) return 0;
        return f->ndirs * ((phase - 1) % 2 ? f->slices : FN(input_items)(f, t0, 0, f->N));
    }
    const size_t P = (size_t)f->L->fwd_products, per_chunk = 1 + f->Tc * P;
    const size_t c = (phase - 1) / per_chunk, k = (phase - 1) % per_chunk, t0 = c * f->Tc;
    if (t0 >= f->T) return 0;
    if (k == 0) return f->ndirs * FN(input_items)(f, t0, 0, f->N);
    return (k - 1) / P < FN(min)(f->Tc, f->T - t0) ? f->ndirs * f->groups[(k - 1) % P] : 0;
}

static size_t FN(forward_phases)(const FN(forward) *f)
{
    const size_t P = (size_t)f->L->fwd_products, chunks = (f->T + f->Tc - 1) / f->Tc;
    if (f->slices) return f->steps ? 1 + 2 * chunks : 2;
    return 1 + chunks * (1 + f->Tc * P);
}

/* Every product of step t for rows [n0, n0 + mr): groups in alternating
 * directions on alternating steps, to start with the panels still in L2. */
static void FN(step_rows)(const FN(forward) *f, const FN(forward_dir) *dir, size_t t,
                          size_t t0, int p, size_t n_lo, size_t n_hi)
{
    const size_t running = FN(min)(n_hi, gr_running(f->steps, f->N, t));
    const size_t rows = running > n_lo ? running - n_lo : 0;
    const size_t G = f->groups[p], nb = FN(count_blocks)(rows, MR);
    for (size_t x = 0; x < G; x++) {
        const size_t g = t % 2 ? G - 1 - x : x;
        for (size_t blk = 0; blk < nb; blk++) {
            size_t n0, mr;
            FN(block)(rows, nb, blk, &n0, &mr);
            FN(step_tile)(f, dir, t, t0, p, g, n_lo + n0, mr);
        }
    }
}

/* The steps of the chunk at t0 for sequences [n_lo, n_hi). */
static void FN(chunk_steps)(const FN(forward) *f, const FN(forward_dir) *dir, size_t t0,
                            size_t n_lo, size_t n_hi)
{
    for (size_t t = t0; t < FN(min)(t0 + f->Tc, f->T); t++)
        for (int p = 0; p < f->L->fwd_products; p++) FN(step_rows)(f, dir, t, t0, p, n_lo, n_hi);
}

/* A batch slice: sequences [n_lo, n_hi) through every step. */
static void FN(forward_slice)(const FN(forward) *f, const FN(forward_dir) *dir, size_t n_lo,
                              size_t n_hi)
{
    for (size_t t0 = 0; t0 < f->T; t0 += f->Tc) {
        const size_t items = FN(input_items)(f, t0, n_lo, n_hi);
        for (size_t item = 0; item < items; item++) FN(input_item)(f, dir, t0, n_lo, n_hi, item);
        FN(chunk_steps)(f, dir, t0, n_lo, n_hi);
    }
}

static void FN(pack_forward)(const FN(forward) *f, const FN(forward_dir) *dir, size_t item)
{
    const size_t H = f->H;
    if (item == f->max_groups) {
        if (dir->x_tail)
            FN(pack_panel)(dir->x_tail, dir->Wx, f->D, f->GH, FN(count_panels)(f->GH) - 1);
        return;
    }
    for (int p = 0; p < f->L->fwd_products; p++) {
        if (item >= f->groups[p]) continue;
        if (!f->pack_h && !(item == f->groups[p] - 1 && H % GW)) continue;  // Wh read in place
        const size_t nq = (size_t)f->L->fwd[p].nq, row = nq * f->width[p] * GW;
        TYPE *panel = dir->packed + f->panel_at[p] + (f->pack_h ? item * H * row : 0);
        FN(pack_group)(panel, dir->Wh, H, f->GH, H, item, (size_t)f->L->fwd[p].q0, nq,
                       f->width[p]);
    }
}

static void FN(forward_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(forward) *f = ctx;
    if (phase == 0) {
        const size_t d = FN(direction_of)(&item, f->max_groups + 1);
        FN(pack_forward)(f, &f->dir[d], item);
        return;
    }
    if (f->slices && !f->steps) {
        const size_t d = FN(direction_of)(&item, f->slices);
        size_t n_lo, n_hi;
        FN(share)(f->N, (int)item, (int)f->slices, &n_lo, &n_hi);
        FN(forward_slice)(f, &f->dir[d], n_lo, n_hi);
        return;
    }
    if (f->slices) {  // packed sequences: the chunk's input projection, then its steps
        const size_t t0 = (phase - 1) / 2 * f->Tc;
        if ((phase - 1) % 2 == 0) {
            const size_t d = FN(direction_of)(&item, FN(input_items)(f, t0, 0, f->N));
            FN(input_item)(f, &f->dir[d], t0, 0, f->N, item);
            return;
        }
        const size_t d = FN(direction_of)(&item, f->slices);
        FN(chunk_steps)(f, &f->dir[d], t0, f->cut[item], f->cut[item + 1]);
        return;
    }
    const size_t P = (size_t)f->L->fwd_products, per_chunk = 1 + f->Tc * P;
    const size_t c = (phase - 1) / per_chunk, k = (phase - 1) % per_chunk, t0 = c * f->Tc;
    if (k == 0) {
        const size_t d = FN(direction_of)(&item, FN(input_items)(f, t0, 0, f->N));
        FN(input_item)(f, &f->dir[d], t0, 0, f->N, item);
        return;
    }
    // A group's panel serves every row block (from L2 after the first). Odd
    // steps go through the groups backwards: a step starts with the panels
    // that the last one used last, which may still be in L2.
    const int p = (int)((k - 1) % P);
    const size_t d = FN(direction_of)(&item, f->groups[p]);
    const size_t t = t0 + (k - 1) / P, g = t % 2 ? f->groups[p] - 1 - item : item;
    const size_t running = gr_running(f->steps, f->N, t);
    const size_t blocks = f->steps ? FN(count_blocks)(running, MR) : f->nb;
    for (size_t blk = 0; blk < blocks; blk++) {
        size_t n0, mr;
        FN(block)(running, blocks, blk, &n0, &mr);
        FN(step_tile)(f, &f->dir[d], t, t0, p, g, n0, mr);
    }
}

int FN(gr_simd_forward)(int cell, const gr_forward_io *io, size_t ndirs, size_t N,
                            size_t T, size_t D, size_t H, const gr_steps *steps,
                            void *workspace, size_t workspace_bytes, int flags, int nthreads)
{
    FN(forward) f = {0};
    f.cell = cell;
    f.L = FN(cell_layout)(cell);
    if (!f.L || ndirs < 1 || ndirs > GR_MAX_DIRECTIONS) return GR_ERR_BAD_ARGUMENT;
    const int train = io[0].cache != NULL;
    size_t off[4], dir_bytes;
    const size_t per_dir = FN(forward_layout)(f.L, N, T, D, H, train, &f, off);
    int status = gr_directions_workspace(per_dir, ndirs, workspace, workspace_bytes, &dir_bytes);
    if (status != GR_OK) return status;
    f.ndirs = ndirs;
    f.N = N, f.T = T, f.D = D, f.H = H;
    f.steps = steps;
    f.GH = (size_t)f.L->gates * H;
    f.ldc = (size_t)f.L->cache_width * H;
    f.train = train;
    f.gemm_only = flags & GR_FLAG_GEMM_ONLY;
    for (size_t d = 0; d < ndirs; d++) {
        char *ws = (char *)workspace + d * dir_bytes;
        f.dir[d] = (FN(forward_dir)){
            .hs = io[d].hs, .c = io[d].c, .cache = io[d].cache,
            .xs = io[d].xs, .Wx = io[d].Wx, .Wh = io[d].Wh, .b = io[d].b, .h0 = io[d].h0,
            .packed = (TYPE *)(ws + off[0]),
            .x_tail = (f.GH % GW) ? (TYPE *)(ws + off[1]) : NULL,
            .scratch = (TYPE *)(ws + off[2]),
            .r_h = f.L->r_h ? (TYPE *)(ws + off[3]) : NULL,
        };
    }
    f.slices = FN(batch_slices)(N, H, (size_t)f.L->gates, nthreads, ndirs, flags, steps);
    if (steps && f.slices) gr_steps_cuts(steps, N, T, f.slices, f.cut);
    f.nb = FN(count_blocks)(N, MR);
    FN(plan) plan = {&f, FN(forward_items), FN(forward_run), 0};
    plan.total = FN(count_items)(&plan, FN(forward_phases)(&f));
    gr_run_job(FN(work_job), &plan, nthreads);
    return GR_OK;
}

/* ---- backward ----------------------------------------------------------- */

typedef struct FN(backward_dir) {
    TYPE *dxs, *dWx, *dWh, *db, *dh, *cache, *carry, *dA, *r_h;
    const TYPE *dhs, *xs, *Wx, *Wh, *h0, *c0;
    TYPE *pwh, *pwx;  /* the packed panels of Wh^T and Wx^T: K = G*H rows each */
} FN(backward_dir);

typedef struct FN(backward) {
    int cell;
    const gr_cell_layout *L;
    FN(backward_dir) dir[GR_MAX_DIRECTIONS];
    size_t ndirs;
    size_t N, T, D, H, GH, ldc, ldA;  /* ldA: a dA row (the cache's, or G*H) */
    const gr_steps *steps;            /* packed sequences of different lengths, or NULL */
    size_t rows;                      /* rows of the per-step arrays: N*T, or the packed ones */
    size_t PH, PD;                    /* panels of Wh^T over H and of Wx^T over D */
    int dot_h, dot_x;                 /* dh, dxs as dot products of rows (Wh, Wx unpacked) */
    size_t slices, nb;
    size_t cut[GR_MAX_THREADS + 1];   /* packed sequences: the slices' first sequences */
    size_t kw, nkw;                   /* the weight gradients' blocks of K = N*T */
    int gemm_only;
} FN(backward);

static size_t FN(backward_layout)(const gr_cell_layout *L, size_t N, size_t T, size_t D,
                                  size_t H, size_t rows, FN(backward) *w, size_t off[5])
{
    (void)T;
    const size_t GH = (size_t)L->gates * H;
    size_t offset = 0;
    w->PH = FN(count_panels)(H);
    w->PD = FN(count_panels)(D);
    // With a few rows, packing Wh^T or Wx^T costs more than the products
    // save: they become dot products of rows (a choice by size alone, so
    // that every thread count computes the same sums).
    w->dot_h = N <= DOT_MA;
    w->dot_x = rows <= DOT_ROWS_DXS;
    if (H && GH / (size_t)L->gates != H) return SIZE_MAX;
    off[0] = gr_take(&offset, w->dot_h ? 0 : w->PH * TILE_LD, GH * sizeof(TYPE));
    off[1] = gr_take(&offset, w->dot_x ? 0 : w->PD * TILE_LD, GH * sizeof(TYPE));
    off[2] = gr_take(&offset, L->has_c ? 0 : N * H, sizeof(TYPE));           // carry
    off[3] = gr_take(&offset, L->r_h ? rows * H : 0, sizeof(TYPE));          // r * h_{t-1}
    // dA outside the cache, with room for the last row's vectors to read past it
    off[4] = gr_take(&offset, L->dA_in_cache ? 0 : rows * GH + GR_CACHE_PADDING,
                     sizeof(TYPE));
    return offset;
}

/* acc (mr rows, TILE_LD apart; columns [u0, u0 + width) in nv vectors) =
 * the rows [n0, n0 + mr) of dA at step t, in the block ranges of `sum`, times
 * the matching rows of Wh^T. */
static inline void FN(dh_product)(const FN(backward) *w, const FN(backward_dir) *dir,
                           const gr_block_sum *sum, size_t t, size_t pp, size_t n0, size_t mr,
                           TYPE *acc)
{
    const size_t T = w->T, H = w->H, ld = gr_seq_stride(w->steps, T) * w->ldA;
    size_t u0, width, nv;
    FN(panel)(H, pp, &u0, &width, &nv);
    const TYPE *dA = dir->dA + gr_row(w->steps, T, n0, t) * w->ldA;  // rows ld apart
    for (int r = 0; r < sum->count; r++) {
        const gr_blocks b = sum->range[r];
        const size_t K = (size_t)b.n * H;
        const TYPE *A = dA + (size_t)b.a0 * H;
        if (w->dot_h) {
            FN(tile_buffer) part;
            TYPE *out = r ? (TYPE *)part.v : acc;
            FN(dot_rows)(mr, width, K, A, ld, dir->Wh + u0 * w->GH + (size_t)b.w0 * H, w->GH,
                         out, TILE_LD);
            if (r)
                for (size_t i = 0; i < mr; i++)
                    for (size_t c = 0; c < width; c++) acc[i * TILE_LD + c] += out[i * TILE_LD + c];
        } else {
            const TYPE *B = dir->pwh + pp * w->GH * TILE_LD + (size_t)b.w0 * H * nv * GW;
            FN(tiles)[nv - 1][mr - 1](K, A, ld, 1, B, nv * GW, GW, acc, TILE_LD, r > 0);
        }
    }
}

static inline FN(backward_rows) FN(backward_rows_at)(const FN(backward) *w, const FN(backward_dir) *dir,
                                             size_t n, size_t t, size_t u0)
{
    const size_t T = w->T, H = w->H, row = gr_row(w->steps, T, n, t);
    // The next step's row, where the sequence has one (packed: it may end at t).
    const int next = t + 1 < T && n < gr_running(w->steps, w->N, t + 1);
    return (FN(backward_rows)){
        .cache = dir->cache + row * w->ldc + u0,
        .dA = dir->dA + row * w->ldA + u0,
        .cache_prev = t ? dir->cache + gr_row(w->steps, T, n, t - 1) * w->ldc + u0 : NULL,
        .cache_next = next ? dir->cache + gr_row(w->steps, T, n, t + 1) * w->ldc + u0 : NULL,
        .h0 = dir->h0 + n * H + u0,
        .c0 = dir->c0 ? dir->c0 + n * H + u0 : NULL,
        .dhs = dir->dhs + row * H + u0,
        .carry = dir->carry + n * H + u0,
        .r_h = dir->r_h ? dir->r_h + row * H + u0 : NULL,
        .dh = dir->dh + n * H + u0,
        .H = H,
    };
}

/*
 * Product p of backward step t for rows [n0, n0 + mr) and the units of panel
 * pp, then the cell's epilogue. Product 0 gives dh_t through Wh from dA_{t+1}
 * (at a sequence's last step, T-1 or its length - 1, dh_T from the caller);
 * product 1 uses dA_t.
 */
static void FN(backstep_tile)(const FN(backward) *w, const FN(backward_dir) *dir, size_t t,
                              int p, size_t pp, size_t n0, size_t mr)
{
    const size_t T = w->T, H = w->H;
    size_t u0, width, nv;
    FN(panel)(H, pp, &u0, &width, &nv);
    FN(tile_buffer) buf;
    TYPE *acc = (TYPE *)buf.v;
    if (p == 0) {
        // Rows [n0, n0 + through) go on to step t + 1; the others end at t.
        const size_t next = t + 1 < T ? gr_running(w->steps, w->N, t + 1) : 0;
        const size_t through = next > n0 ? FN(min)(mr, next - n0) : 0;
        if (through) FN(dh_product)(w, dir, &w->L->bwd[0], t + 1, pp, n0, through, acc);
        for (size_t i = through; i < mr; i++)
            memcpy(acc + i * TILE_LD, dir->dh + (n0 + i) * H + u0, width * sizeof(TYPE));
    } else {
        FN(dh_product)(w, dir, &w->L->bwd[p], t, pp, n0, mr, acc);
    }
    for (size_t i = 0; i < mr; i++) {
        if (w->gemm_only) {
            memcpy(dir->dh + (n0 + i) * H + u0, acc + i * TILE_LD, width * sizeof(TYPE));
            continue;
        }
        FN(backward_rows) rows = FN(backward_rows_at)(w, dir, n0 + i, t, u0);
        FN(backward_epilogue)(w->cell, p, &rows, acc + i * TILE_LD, width);
    }
}

/* dh0 through Wh from dA_0 for rows [n0, n0 + mr) and the units of panel pp,
 * then the cell's last epilogue. */
static void FN(first_state_tile)(const FN(backward) *w, const FN(backward_dir) *dir, size_t pp,
                                 size_t n0, size_t mr)
{
    size_t u0, width, nv;
    FN(panel)(w->H, pp, &u0, &width, &nv);
    FN(tile_buffer) buf;
    TYPE *acc = (TYPE *)buf.v;
    FN(dh_product)(w, dir, &w->L->bwd[0], 0, pp, n0, mr, acc);
    for (size_t i = 0; i < mr; i++) {
        if (w->gemm_only) {
            memcpy(dir->dh + (n0 + i) * w->H + u0, acc + i * TILE_LD, width * sizeof(TYPE));
            continue;
        }
        FN(backward_rows) rows = FN(backward_rows_at)(w, dir, n0 + i, 0, u0);
        FN(first_epilogue)(w->cell, &rows, acc + i * TILE_LD, width);
    }
}

/* Sub-phase s of the recurrence (s < T*P: step T-1 - s/P, product s%P; then
 * dh0) for the rows of [n_lo, n_hi) running at that step, and panel pp. A
 * sequence of length 0 keeps dh_T (and dc_T) as its dh0 (and dc0). */
static void FN(recurrence_tile)(const FN(backward) *w, const FN(backward_dir) *dir, size_t s,
                                size_t pp, size_t n_lo, size_t n_hi)
{
    const size_t P = (size_t)w->L->bwd_products;
    const size_t t = s < w->T * P ? w->T - 1 - s / P : 0;
    const size_t running = FN(min)(n_hi, gr_running(w->steps, w->N, t));
    const size_t rows = running > n_lo ? running - n_lo : 0, nb = FN(count_blocks)(rows, MR);
    for (size_t blk = 0; blk < nb; blk++) {
        size_t n0, mr;
        FN(block)(rows, nb, blk, &n0, &mr);
        if (s < w->T * P) FN(backstep_tile)(w, dir, t, (int)(s % P), pp, n_lo + n0, mr);
        else FN(first_state_tile)(w, dir, pp, n_lo + n0, mr);
    }
}

/* A batch slice: sequences [n_lo, n_hi) back through every step. */
static void FN(backward_slice)(const FN(backward) *w, const FN(backward_dir) *dir, size_t n_lo,
                               size_t n_hi)
{
    const size_t steps = w->T * (size_t)w->L->bwd_products;
    for (size_t s = 0; s <= steps; s++)  // the steps' products, then dh0
        for (size_t x = 0; x < w->PH; x++) {
            const size_t pp = s % 2 ? w->PH - 1 - x : x;  // alternate directions, as backward_run
            FN(recurrence_tile)(w, dir, s, pp, n_lo, n_hi);
        }
}

/* db row k, columns [c0, c0 + DB_COLUMNS) of G*H: sums of dA over all N*T rows, in double. */
static void FN(db_item)(const FN(backward) *w, const FN(backward_dir) *dir, size_t item)
{
    const size_t H = w->H, GH = w->GH, NT = w->rows, per_row = (GH + DB_COLUMNS - 1) / DB_COLUMNS;
    const size_t k = item / per_row, c0 = item % per_row * DB_COLUMNS;
    const size_t width = FN(min)(DB_COLUMNS, GH - c0);
    const gr_block_sum *sum = &w->L->db[k];
    double total[DB_COLUMNS] = {0};
    for (size_t c = 0, end, from; c < width; c = end) {
        end = gr_db_run(sum, c0 + c, c0 + width, H, &from) - c0;
        if (from == SIZE_MAX) continue;
        for (size_t r = 0; r < NT; r++) {
            const TYPE *dA_r = dir->dA + r * w->ldA + from - c;  // dA[r, :], shifted to this run
            for (size_t j = c; j < end; j++) total[j] += (double)dA_r[j];
        }
    }
    for (size_t c = 0; c < width; c++) dir->db[k * GH + c0 + c] = w->gemm_only ? 0 : (TYPE)total[c];
}

static size_t FN(db_items)(const FN(backward) *w)
{
    return (size_t)w->L->bias_rows * ((w->GH + DB_COLUMNS - 1) / DB_COLUMNS);
}

/* dxs = dA @ Wx^T as dot products (few rows): items of DXS_DOT_COLUMNS columns. */
static size_t FN(dxs_dot_items)(const FN(backward) *w)
{
    return w->dot_x ? (w->D + DXS_DOT_COLUMNS - 1) / DXS_DOT_COLUMNS : 0;
}

static void FN(dxs_dot_item)(const FN(backward) *w, const FN(backward_dir) *dir, size_t item)
{
    const size_t NT = w->rows, GH = w->GH, d0 = item * DXS_DOT_COLUMNS;
    const size_t width = FN(min)(DXS_DOT_COLUMNS, w->D - d0);
    for (size_t r = 0; r < NT; r += DOT_MA)
        FN(dot_rows)(FN(min)(DOT_MA, NT - r), width, GH, dir->dA + r * w->ldA, w->ldA,
                     dir->Wx + d0 * GH, GH, dir->dxs + r * w->D + d0, w->D);
}

static FN(product) FN(dxs_product)(const FN(backward) *w, const FN(backward_dir) *dir)
{
    const size_t NT = w->rows, GH = w->GH;
    return (FN(product)){w->dot_x ? 0 : NT, GH, w->D, dir->dA, w->ldA, 1, dir->pwx, 1, 0,
                         dir->dxs, w->D, NULL, 1, 0, 0, 0, GH};
}

/* Weight gradient `which` (0: dWx; 1, 2: the terms of dWh) over K block k. */
static FN(product) FN(weight_product)(const FN(backward) *w, const FN(backward_dir) *dir,
                                      int which, size_t k)
{
    const size_t NT = w->rows, H = w->H, GH = w->GH;
    FN(product) p;
    if (which == 0) {
        p = (FN(product)){w->D, NT, GH, dir->xs, 1, w->D, dir->dA, 0, w->ldA, dir->dWx, GH,
                          NULL, 1, 0, 0, 0, NT};
    } else {
        const int operand = w->L->dwh[which - 1].operand;
        const gr_blocks b = w->L->dwh[which - 1].blocks;
        const TYPE *A = operand == GR_OPERAND_R_H ? dir->r_h
                                                  : dir->cache + (size_t)w->L->h_prev_block * H;
        const size_t lda = operand == GR_OPERAND_R_H ? H : w->ldc;
        p = (FN(product)){H, NT, (size_t)b.n * H, A, 1, lda, dir->dA + (size_t)b.a0 * H, 0,
                          w->ldA, dir->dWh + (size_t)b.w0 * H, GH, NULL, 1, 0, 0, 0, NT};
    }
    p.k_lo = k * w->kw;
    p.k_len = FN(min)(w->kw, p.K - p.k_lo);
    return p;
}

static size_t FN(weight_items)(const FN(backward) *w, size_t k)
{
    size_t items = 0;
    for (int which = 0; which <= w->L->dwh_terms; which++) {
        FN(product) p = FN(weight_product)(w, &w->dir[0], which, k);
        items += FN(product_items)(&p);
    }
    return items;
}

/* Items of a weight phase for one direction: the weight gradients' products
 * over K block k, and in the first block dxs and db as well. */
static size_t FN(weight_phase_items)(const FN(backward) *w, size_t k)
{
    size_t items = FN(weight_items)(w, k);
    if (k == 0) {
        FN(product) x = FN(dxs_product)(w, &w->dir[0]);
        items += FN(product_items)(&x) + FN(dxs_dot_items)(w) + FN(db_items)(w);
    }
    return items;
}

static void FN(weight_phase_item)(const FN(backward) *w, const FN(backward_dir) *dir, size_t k,
                                  size_t item)
{
    for (int which = 0; which <= w->L->dwh_terms; which++) {
        FN(product) p = FN(weight_product)(w, dir, which, k);
        size_t items = FN(product_items)(&p);
        if (item < items) {
            FN(product_item)(&p, item);
            return;
        }
        item -= items;
    }
    FN(product) x = FN(dxs_product)(w, dir);
    size_t items = FN(product_items)(&x);
    if (item < items) {
        FN(product_item)(&x, item);
        return;
    }
    item -= items;
    if (item < FN(dxs_dot_items)(w)) {
        FN(dxs_dot_item)(w, dir, item);
        return;
    }
    FN(db_item)(w, dir, item - FN(dxs_dot_items)(w));
}

/*
 * Phases: packing; the recurrence (one phase of slices, or a phase per
 * product of each step and one for dh0); then the weight gradients one block
 * of K = N*T rows at a time (a phase each, adding up), with dxs and db in the
 * first of them.
 */
static size_t FN(recurrence_phases)(const FN(backward) *w)
{
    return w->slices ? 1 : w->T * (size_t)w->L->bwd_products + 1;
}

static size_t FN(backward_items)(const void *ctx, size_t phase)
{
    const FN(backward) *w = ctx;
    const size_t recurrence = FN(recurrence_phases)(w);
    if (phase == 0) return w->ndirs * ((w->dot_h ? 0 : w->PH) + (w->dot_x ? 0 : w->PD));
    if (phase <= recurrence) return w->ndirs * (w->slices ? w->slices : w->PH);
    const size_t k = phase - recurrence - 1;
    return k < w->nkw ? w->ndirs * FN(weight_phase_items)(w, k) : 0;
}

static void FN(backward_run)(const void *ctx, size_t phase, size_t item)
{
    const FN(backward) *w = ctx;
    const size_t recurrence = FN(recurrence_phases)(w);
    if (phase == 0) {
        const size_t ph = w->dot_h ? 0 : w->PH;
        const size_t d = FN(direction_of)(&item, ph + (w->dot_x ? 0 : w->PD));
        const FN(backward_dir) *dir = &w->dir[d];
        if (item < ph) FN(pack_transposed)(dir->pwh, dir->Wh, w->H, w->GH, item, item + 1);
        else FN(pack_transposed)(dir->pwx, dir->Wx, w->D, w->GH, item - ph, item - ph + 1);
        return;
    }
    if (phase <= recurrence) {
        if (w->slices) {
            const size_t d = FN(direction_of)(&item, w->slices);
            size_t n_lo, n_hi;
            FN(slice_rows)(w->steps, w->cut, w->N, item, w->slices, &n_lo, &n_hi);
            FN(backward_slice)(w, &w->dir[d], n_lo, n_hi);
            return;
        }
        // A panel serves every row block; odd phases go through the panels
        // backwards, to start with those still in L2.
        const size_t d = FN(direction_of)(&item, w->PH);
        const size_t s = phase - 1, pp = s % 2 ? w->PH - 1 - item : item;
        FN(recurrence_tile)(w, &w->dir[d], s, pp, 0, w->N);
        return;
    }
    const size_t k = phase - recurrence - 1;
    const size_t d = FN(direction_of)(&item, FN(weight_phase_items)(w, k));
    FN(weight_phase_item)(w, &w->dir[d], k, item);
}

int FN(gr_simd_backward)(int cell, const gr_backward_io *io, size_t ndirs, size_t N,
                             size_t T, size_t D, size_t H, const gr_steps *steps,
                             void *workspace, size_t workspace_bytes, int flags, int nthreads)
{
    FN(backward) w = {0};
    w.cell = cell;
    w.L = FN(cell_layout)(cell);
    if (!w.L || ndirs < 1 || ndirs > GR_MAX_DIRECTIONS) return GR_ERR_BAD_ARGUMENT;
    size_t off[5], dir_bytes;
    const size_t per_dir = FN(backward_layout)(w.L, N, T, D, H, gr_rows(steps, N, T), &w, off);
    int status = gr_directions_workspace(per_dir, ndirs, workspace, workspace_bytes, &dir_bytes);
    if (status != GR_OK) return status;
    const size_t NT = gr_rows(steps, N, T);
    w.ndirs = ndirs;
    w.N = N, w.T = T, w.D = D, w.H = H;
    w.steps = steps;
    w.rows = NT;
    w.GH = (size_t)w.L->gates * H;
    w.ldc = (size_t)w.L->cache_width * H;
    w.ldA = w.L->dA_in_cache ? w.ldc : w.GH;
    w.gemm_only = flags & GR_FLAG_GEMM_ONLY;
    for (size_t d = 0; d < ndirs; d++) {
        char *ws = (char *)workspace + d * dir_bytes;
        const gr_backward_io *a = &io[d];
        TYPE *carry = w.L->has_c ? a->dc : (TYPE *)(ws + off[2]);
        if (!w.L->has_c) memset(carry, 0, N * H * sizeof(TYPE));
        w.dir[d] = (FN(backward_dir)){
            .dxs = a->dxs, .dWx = a->dWx, .dWh = a->dWh, .db = a->db, .dh = a->dh,
            .cache = a->cache, .carry = carry,
            .dA = w.L->dA_in_cache ? a->cache : (TYPE *)(ws + off[4]),
            .r_h = w.L->r_h ? (TYPE *)(ws + off[3]) : NULL,
            .dhs = a->dhs, .xs = a->xs, .Wx = a->Wx, .Wh = a->Wh, .h0 = a->h0, .c0 = a->c0,
            .pwh = (TYPE *)(ws + off[0]), .pwx = (TYPE *)(ws + off[1]),
        };
    }
    w.slices = FN(batch_slices)(N, H, (size_t)w.L->gates, nthreads, ndirs, flags, steps);
    if (steps && w.slices) gr_steps_cuts(steps, N, T, w.slices, w.cut);
    w.nb = FN(count_blocks)(N, MR);
    w.nkw = (NT + KW - 1) / KW;
    w.kw = FN(k_block)(NT, KW);
    FN(plan) plan = {&w, FN(backward_items), FN(backward_run), 0};
    plan.total = FN(count_items)(&plan, FN(recurrence_phases)(&w) + 1 + w.nkw);
    gr_run_job(FN(work_job), &plan, nthreads);
    return GR_OK;
}

/* Bytes of workspace a call needs (SIZE_MAX if the sizes overflow). */
size_t FN(gr_simd_workspace)(int cell, size_t ndirs, int backward, int train, size_t N,
                                 size_t T, size_t D, size_t H, size_t rows)
{
    const gr_cell_layout *L = FN(cell_layout)(cell);
    if (!L) return SIZE_MAX;
    size_t off[5], per_dir;
    if (backward) {
        FN(backward) w;
        per_dir = FN(backward_layout)(L, N, T, D, H, rows, &w, off);
    } else {
        FN(forward) f;
        per_dir = FN(forward_layout)(L, N, T, D, H, train, &f, off);
    }
    return gr_directions_bytes(per_dir, ndirs);
}

/* Threads worth waking: enough work to pay for waking them. */
int FN(gr_simd_threads)(int cell, size_t ndirs, size_t rows, size_t D, size_t H)
{
    const gr_cell_layout *L = FN(cell_layout)(cell);
    double total = 2.0 * (L ? L->gates : 4) * ndirs * rows * (D + H) * H;
    return total < 2e6 ? 1 : 64;
}

#undef KW
#undef CHUNK_ROWS
#undef DB_COLUMNS
#undef DOT_ROWS_DXS
#undef DXS_DOT_COLUMNS
