/*
 * Packing for the product engine (gemm.h), per TYPE and instruction set:
 *   - slivers of A: GEMM_MR rows side by side for each k, so that the
 *     micro-kernel's broadcasts read one contiguous stream;
 *   - panels of B: GEMM_NR columns side by side for each k, from a row-major
 *     B or from B^T, so that a panel is one contiguous block that stays in L1.
 * Rows past M and columns past N are zeros. Transposes run in registers
 * (products.h's zips), partial vectors through load_n/store_n.
 */

/* r[i][l] <- r[l][i]: log2(GW) rounds of zips pairing row i with row i + GW/2. */
static inline void FN(transpose_in_registers)(V r[GW])
{
    V t[GW];
    for (int round = 0; (1 << round) < GW; round++) {
        _Pragma("GCC unroll 16") for (int i = 0; i < GW / 2; i++) {
            t[2 * i] = ZIP_LO(r[i], r[i + GW / 2]);
            t[2 * i + 1] = ZIP_HI(r[i], r[i + GW / 2]);
        }
        memcpy(r, t, sizeof t);
    }
}

/*
 * dst[k*ldd + i] = src[i*lds + k] for i < rows, k < cols (both <= GW): a
 * block of up to GW rows and GW columns, transposed; lanes i >= rows of each
 * stored vector are zeros, and `lanes` of them are stored (rows <= lanes <= GW).
 */
static inline void FN(transpose_block_n)(const TYPE *src, size_t lds, size_t rows, size_t cols,
                                         TYPE *dst, size_t ldd, size_t lanes)
{
    V r[GW];
    _Pragma("GCC unroll 16") for (int i = 0; i < GW; i++)
        r[i] = (size_t)i < rows ? FN(load_n)(src + (size_t)i * lds, cols) : (V){0};
    FN(transpose_in_registers)(r);
    for (size_t k = 0; k < cols; k++) FN(store_n)(dst + k * ldd, r[k], lanes);
}

/*
 * Slivers of `rows` rows of A: sliver s at dst + s*stride holds
 * dst[s*stride + k*GEMM_MR + i] = A[(s*GEMM_MR + i)*rs + k*cs] for k < kc,
 * i < GEMM_MR (zeros for rows past `rows`). A read down its columns (rs ==
 * 1) goes k by k across the slivers, so that each of its rows (a page apart,
 * maybe) is read once; a row-major one (cs == 1) is transposed in blocks of
 * GW x GW; other strides go element by element.
 */
static void FN(pack_slivers)(TYPE *dst, size_t stride, const TYPE *A, size_t rs, size_t cs,
                             size_t rows, size_t kc)
{
    const size_t slivers = (rows + GEMM_MR - 1) / GEMM_MR;
    if (rs == 1) {
        for (size_t k = 0; k < kc; k++)
            for (size_t s = 0; s < slivers; s++)
                for (size_t i0 = 0; i0 < GEMM_MR; i0 += GW) {
                    const size_t r = s * GEMM_MR + i0, n = r < rows ? FN(min)(GW, rows - r) : 0;
                    const size_t lanes = FN(min)(GW, GEMM_MR - i0);
                    FN(store_n)(dst + s * stride + k * GEMM_MR + i0,
                                n ? FN(load_n)(A + k * cs + r, FN(min)(n, lanes)) : (V){0}, lanes);
                }
        return;
    }
    for (size_t s = 0; s < slivers; s++) {
        const TYPE *a = A + s * GEMM_MR * rs;
        const size_t mr = FN(min)(GEMM_MR, rows - s * GEMM_MR);
        TYPE *d = dst + s * stride;
        if (cs == 1) {
            for (size_t k0 = 0; k0 < kc; k0 += GW)
                for (size_t i0 = 0; i0 < GEMM_MR; i0 += GW)
                    FN(transpose_block_n)(a + i0 * rs + k0, rs, i0 < mr ? FN(min)(GW, mr - i0) : 0,
                                          FN(min)(GW, kc - k0), d + k0 * GEMM_MR + i0, GEMM_MR,
                                          FN(min)(GW, GEMM_MR - i0));
        } else {
            for (size_t k = 0; k < kc; k++)
                for (size_t i = 0; i < GEMM_MR; i++) d[k * GEMM_MR + i] = i < mr ? a[i * rs + k * cs] : 0;
        }
    }
}

/* Rows of B a panel's packing fetches ahead: a row-major B's rows may be a
 * page or more apart, beyond the reach of the hardware prefetcher. */
#define GEMM_PACK_AHEAD 8

/*
 * A panel of B: dst[k*GEMM_NR + j] = B[k, j] for k < kc, j < width (zeros
 * for j >= width), where B[k, j] = B[k*ldb + j], or, with transposed,
 * B[j*ldb + k] (B^T row-major, rows ldb apart).
 */
static void FN(pack_panel_b)(TYPE *dst, const TYPE *B, size_t ldb, int transposed, size_t kc,
                             size_t width)
{
    if (!transposed) {
        for (size_t k = 0; k < kc; k++) {
            const TYPE *b_k = B + k * ldb;
            if (k + GEMM_PACK_AHEAD < kc)
                for (size_t j = 0; j < width; j += 64 / sizeof(TYPE))
                    __builtin_prefetch(b_k + GEMM_PACK_AHEAD * ldb + j);
            _Pragma("GCC unroll 4") for (int v = 0; v < GEMM_NV; v++) {
                const size_t j = (size_t)v * GW, n = j < width ? FN(min)(GW, width - j) : 0;
                FN(store)(dst + k * GEMM_NR + j, n ? FN(load_n)(b_k + j, n) : (V){0});
            }
        }
        return;
    }
    for (int v = 0; v < GEMM_NV; v++) {
        const size_t j = (size_t)v * GW, rows = j < width ? FN(min)(GW, width - j) : 0;
        for (size_t k0 = 0; k0 < kc; k0 += GW)
            FN(transpose_block_n)(B + j * ldb + k0, ldb, rows, FN(min)(GW, kc - k0),
                                  dst + k0 * GEMM_NR + j, GEMM_NR, GW);
    }
}
