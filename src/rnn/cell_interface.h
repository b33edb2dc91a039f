/*
 * The interface between the drivers and a cell's epilogues, for one TYPE and
 * one set of lanes (included per precision, after lanes_*.h and
 * vector_math.h). A driver runs the products of a step; an epilogue takes
 * their result for some rows and units and does the rest of the step: gate
 * nonlinearities and the state update forward, gate gradients backward.
 *
 * Every row pointer below is already at the first unit of the call: an
 * epilogue reads and writes units [0, units) of each, with gate (or cache)
 * block q at offset q * H.
 */

/* Rows [n0, n0 + rows) at step t, forward: row i of an array at its pointer
 * plus i times its stride (c and r_h are (N, H): stride H). */
typedef struct FN(forward_rows) {
    TYPE *g;             /* G blocks: x_t @ Wx in; activated gates out */
    TYPE *cache;         /* training: the cache rows (n, t), of which g is the
                            start; NULL in inference (nothing kept) */
    const TYPE *h_prev;  /* h_{t-1} */
    TYPE *h;             /* hs[n, t] out */
    TYPE *c;             /* LSTM: c_{t-1} in, c_t out */
    TYPE *r_h;           /* GRU (book): r * h_{t-1}, the left operand of its second product */
    const TYPE *b;       /* bias row 0; row 1 (when there are two) at b + G * H */
    size_t ld_g, ld_h_prev, ld_h, acc_row;  /* strides of g (and cache), h_prev, h, acc */
    size_t rows, H;
} FN(forward_rows);

/* A forward epilogue is
 *   void epilogue(const FN(forward_rows) *rows, const TYPE *acc, size_t acc_ld, size_t units)
 * with acc the step's product for these rows and units: row i's gate block q
 * of the product at acc + i * acc_row + q * acc_ld. Its loops go over the
 * units outside (biases are loaded once) and the rows inside. */

/* Sequence n at step t, backward. */
typedef struct FN(backward_rows) {
    TYPE *cache;              /* the cache row (n, t): activations in */
    TYPE *dA;                 /* dA row (n, t) out (the cache itself for most cells) */
    const TYPE *cache_prev;   /* the cache row (n, t - 1); NULL at t = 0 */
    TYPE *cache_next;         /* the cache row (n, t + 1); NULL at t = T - 1 */
    const TYPE *h0, *c0;      /* the initial state */
    const TYPE *dhs;          /* dhs[n, t] */
    TYPE *carry;              /* the part of dh_{t-1} (or dc) that passes by Wh */
    TYPE *r_h;                /* GRU (book): r_t * h_{t-1} out, an operand of dWh */
    TYPE *dh;                 /* the last epilogue (t = -1): dh0 out */
    size_t H;
} FN(backward_rows);

/* A backward epilogue is
 *   void epilogue(const FN(backward_rows) *rows, const TYPE *acc, size_t units)
 * with acc the product for these units (dh_t through Wh, or a later quantity
 * of the step). cell_dispatch.h picks the epilogue for a cell and product. */

/* Loops of an epilogue over its units, a vector (of up to GW) at a time. */
#define FOR_EACH_VECTOR(u, n, units) \
    for (size_t u = 0, n = FN(min)(GW, (units)); u < (units); u += GW, n = FN(min)(GW, (units) - u))
