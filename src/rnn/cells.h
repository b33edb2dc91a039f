/*
 * What the drivers (recurrence.template.c, blas_path.template.c) know of a
 * cell: its layout, as data. Everything particular to a cell (this table, its
 * gate math, its state update and its backward step) is in its own file:
 * cell_lstm.h, cell_gru.h, cell_rnn.h.
 *
 * A cell's weights have G gate blocks of H columns: Wx (D, G*H), Wh (H, G*H).
 * A training forward keeps a cache of CW blocks of H per (n, t); the backward
 * overwrites its gate blocks with dA (the gradient at the pre-activations)
 * and leaves h_{t-1} in one block, the operand of dWh.
 *
 * A step is one or more products of a left operand (h_{t-1}, or r * h_{t-1}
 * for the GRU of the book) with some gate blocks of Wh, each followed by the
 * cell's epilogue for the columns it produced. The backward step mirrors it:
 * products of dA blocks with blocks of Wh^T, each followed by an epilogue.
 */
#ifndef GATEDRNN_CELLS_H
#define GATEDRNN_CELLS_H

#include "gatedrnn.h"

/* dA blocks [a0, a0 + n) paired with the weight blocks [w0, w0 + n). */
typedef struct gr_blocks {
    int a0, w0, n;
} gr_blocks;

/* One product of a backward step, or of a weight gradient: up to two block
 * ranges, summed. */
typedef struct gr_block_sum {
    int count;
    gr_blocks range[2];
} gr_block_sum;

enum { GR_OPERAND_H_PREV = 0, GR_OPERAND_R_H = 1 };

typedef struct gr_cell_layout {
    const char *name;
    int gates;             /* G */
    int cache_width;       /* CW */
    int bias_rows;         /* 1, or 2 (input and recurrent biases) */
    int has_c;             /* the LSTM's cell state c */
    int dA_in_cache;       /* dA overwrites the cache's gate blocks; else a workspace of G*H */
    int h_prev_block;      /* the cache block holding h_{t-1} after the backward */
    int r_h;               /* keeps r * h_{t-1} (N, T, H) for dWh in the backward's workspace */
    /* forward: product p multiplies operand fwd[p].operand by the gate blocks
     * [q0, q0 + nq) of Wh */
    int fwd_products;
    struct {
        int q0, nq, operand;
    } fwd[2];
    /* backward: product p gives the epilogue of step t part of dh_t (p = 0,
     * from dA_{t+1}) or a later quantity of step t (p = 1, from dA_t) */
    int bwd_products;
    gr_block_sum bwd[2];
    /* dWh: each term is operand^T @ dA blocks, into the given columns of dWh */
    int dwh_terms;
    struct {
        int operand;
        gr_blocks blocks;
    } dwh[2];
    /* db: row k is the column sums of dA blocks db[k] */
    gr_block_sum db[2];
} gr_cell_layout;

const gr_cell_layout *gr_cell(int cell);  /* NULL for an unknown cell */

/* The dA column that column `out` (of G*H) of a bias row summed by `sum`
 * comes from, or (size_t)-1 if none does. */
static inline size_t gr_db_column(const gr_block_sum *sum, size_t out, size_t H)
{
    const size_t block = out / H;
    for (int r = 0; r < sum->count; r++) {
        const gr_blocks b = sum->range[r];
        if (block >= (size_t)b.w0 && block < (size_t)(b.w0 + b.n))
            return out + ((size_t)b.a0 - (size_t)b.w0) * H;
    }
    return (size_t)-1;
}

/* The run of columns [out, end) of a bias row, end <= limit, whose dA columns
 * are consecutive (*from, the dA column of `out`), or that no range covers
 * (*from == (size_t)-1: zeros): db sums a run with one contiguous loop. */
static inline size_t gr_db_run(const gr_block_sum *sum, size_t out, size_t limit, size_t H,
                               size_t *from)
{
    *from = gr_db_column(sum, out, H);
    size_t end = (out / H + 1) * H;  // ranges are whole blocks of H
    while (end < limit) {
        size_t next = gr_db_column(sum, end, H);
        if (next != (*from == (size_t)-1 ? (size_t)-1 : *from + (end - out))) break;
        end += H;
    }
    return end < limit ? end : limit;
}

#endif /* GATEDRNN_CELLS_H */
