/*
 * Which epilogue follows product p of a step of each cell: switches, so that
 * the compiler inlines a cell's epilogue into the drivers' loops. Included
 * per precision after the cell files. A new cell adds its cases here.
 */

static inline const gr_cell_layout *FN(cell_layout)(int cell)
{
    switch (cell) {
    case GR_CELL_LSTM: return &gr_lstm_layout;
    case GR_CELL_GRU: return &gr_gru_layout;
    case GR_CELL_GRU_RESET_AFTER: return &gr_gru_reset_after_layout;
    case GR_CELL_RNN:
    case GR_CELL_RNN_RELU: return &gr_rnn_layout;
    default: return NULL;
    }
}

static inline void FN(forward_epilogue)(int cell, int p, const FN(forward_rows) *rows,
                                        const TYPE *acc, size_t acc_ld, size_t units)
{
    switch (cell) {
    case GR_CELL_LSTM: FN(lstm_forward)(rows, acc, acc_ld, units); break;
    case GR_CELL_GRU:
        if (p == 0) FN(gru_forward_gates)(rows, acc, acc_ld, units);
        else FN(gru_forward_state)(rows, acc, acc_ld, units);
        break;
    case GR_CELL_GRU_RESET_AFTER: FN(gru_after_forward)(rows, acc, acc_ld, units); break;
    case GR_CELL_RNN: FN(rnn_forward)(rows, acc, units, 0); break;
    case GR_CELL_RNN_RELU: FN(rnn_forward)(rows, acc, units, 1); break;
    default: break;
    }
}

static inline void FN(backward_epilogue)(int cell, int p, const FN(backward_rows) *rows,
                                         const TYPE *acc, size_t units)
{
    switch (cell) {
    case GR_CELL_LSTM: FN(lstm_backward)(rows, acc, units); break;
    case GR_CELL_GRU:
        if (p == 0) FN(gru_backward_state)(rows, acc, units);
        else FN(gru_backward_gates)(rows, acc, units);
        break;
    case GR_CELL_GRU_RESET_AFTER: FN(gru_after_backward)(rows, acc, units); break;
    case GR_CELL_RNN: FN(rnn_backward)(rows, acc, units, 0); break;
    case GR_CELL_RNN_RELU: FN(rnn_backward)(rows, acc, units, 1); break;
    default: break;
    }
}

/* After the product that gives dh0: dh0, and the cache ready for dWh. */
static inline void FN(first_epilogue)(int cell, const FN(backward_rows) *rows, const TYPE *acc,
                                      size_t units)
{
    switch (cell) {
    case GR_CELL_LSTM: FN(lstm_first)(rows, acc, units); break;
    case GR_CELL_GRU:
    case GR_CELL_GRU_RESET_AFTER: FN(gru_first)(rows, acc, units); break;
    case GR_CELL_RNN:
    case GR_CELL_RNN_RELU: FN(rnn_first)(rows, acc, units); break;
    default: break;
    }
}
