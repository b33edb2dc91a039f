/*
 * Sequences of different lengths in the packed layout the paths run
 * (sequences.c; gr_steps in internal.h).
 */
#ifndef GATEDRNN_SEQUENCES_H
#define GATEDRNN_SEQUENCES_H

#include <stddef.h>
#include <stdint.h>

#include "base/internal.h"

typedef struct gr_sequences {
    const int64_t *lengths;  /* (N,), the caller's */
    size_t *order;           /* (N,): order[i] is the sequence in packed position i */
    gr_steps steps;          /* the batch and first row of each step */
    size_t N, T, longest;
} gr_sequences;

/* Bytes of memory gr_sequences_make needs. */
size_t gr_sequences_bytes(size_t N, size_t T);
/* The layout of these lengths (each in [0, T]), in `memory`; returns the longest. */
size_t gr_sequences_make(gr_sequences *s, void *memory, const int64_t *lengths, size_t N,
                         size_t T);
/* (N, T, .) rows of the caller's to packed rows, and back (the steps past a
 * sequence's length are zeroed); reversed: the direction that reads each
 * sequence from its last real step. */
void gr_sequences_gather(const gr_sequences *s, void *packed, const void *src, size_t row_bytes,
                         int reversed);
void gr_sequences_scatter(const gr_sequences *s, void *dst, const void *packed, size_t row_bytes,
                          int reversed);
/* (N, .) states to the sorted order, and back. */
void gr_sequences_sort(const gr_sequences *s, void *sorted, const void *src, size_t row_bytes);
void gr_sequences_unsort(const gr_sequences *s, void *dst, const void *sorted, size_t row_bytes);
/* h (N, .): each sequence's last packed row, or its h0 row if it has no step. */
void gr_sequences_last(const gr_sequences *s, void *h, const void *packed, const void *h0,
                       size_t row_bytes);

#endif /* GATEDRNN_SEQUENCES_H */
