/*
 * Sequences of different lengths (gr_forward/gr_backward with lengths): the
 * paths run them packed time-major, longest first (gr_steps, internal.h), so
 * that every product covers the steps that really run. This file makes that
 * layout from the lengths and moves the caller's arrays into it and back:
 * (N, T, width) arrays row by row, reversing each sequence's real steps for
 * a reversed direction, and (N, width) states by the sorted order. The
 * arrays' element type does not matter here: rows are copied as bytes.
 */
#include <string.h>

#include "base/internal.h"
#include "rnn/sequences.h"

size_t gr_sequences_bytes(size_t N, size_t T)
{
    size_t offset = 0;
    gr_take(&offset, N, sizeof(size_t));      // order
    gr_take(&offset, T, sizeof(size_t));      // batch
    gr_take(&offset, T + 1, sizeof(size_t));  // row
    return offset;
}

/*
 * Sorts the sequences by length, longest first, keeping the caller's order
 * among equal lengths (a counting sort: lengths are at most T), and counts
 * the sequences running at each step. Returns the steps that run at all (the
 * longest length); s->row[that] is the sum of the lengths.
 */
size_t gr_sequences_make(gr_sequences *s, void *memory, const int64_t *lengths, size_t N,
                         size_t T)
{
    size_t offset = 0;
    char *base = memory;
    s->order = (size_t *)(base + gr_take(&offset, N, sizeof(size_t)));
    size_t *batch = (size_t *)(base + gr_take(&offset, T, sizeof(size_t)));
    size_t *row = (size_t *)(base + gr_take(&offset, T + 1, sizeof(size_t)));
    s->lengths = lengths;
    s->N = N;
    s->T = T;
    // batch[t] = sequences longer than t: first count each length in batch[len - 1].
    memset(batch, 0, T * sizeof(size_t));
    for (size_t n = 0; n < N; n++)
        if (lengths[n] > 0) batch[lengths[n] - 1]++;
    for (size_t t = T; t-- > 1;) batch[t - 1] += batch[t];
    // Sequence n goes after every longer one and every equal one before it:
    // row[len] starts as the place of the first sequence of length len.
    size_t longest = 0;
    for (size_t len = 0; len <= T; len++) row[len] = len < T ? batch[len] : 0;
    for (size_t n = 0; n < N; n++) {
        const size_t len = (size_t)lengths[n];
        s->order[row[len]++] = n;
        longest = len > longest ? len : longest;
    }
    row[0] = 0;
    for (size_t t = 0; t < T; t++) row[t + 1] = row[t] + batch[t];
    s->steps = (gr_steps){batch, row};
    s->longest = longest;
    return longest;
}

void gr_steps_cuts(const gr_steps *s, size_t N, size_t T, size_t slices, size_t *cut)
{
    const size_t total = s->row[T];
    size_t k = 1, done = 0, length = T;
    cut[0] = 0;
    for (size_t i = 0; i < N; i++) {
        while (length > 0 && s->batch[length - 1] <= i) length--;  // sequence i's length
        while (k < slices && done * slices >= k * total) cut[k++] = i;
        done += length;
    }
    while (k <= slices) cut[k++] = N;
}

/* The step of sequence n's (N, T) array that packed step t holds. */
static inline size_t source_step(const gr_sequences *s, size_t n, size_t t, int reversed)
{
    return reversed ? (size_t)s->lengths[n] - 1 - t : t;
}

void gr_sequences_gather(const gr_sequences *s, void *packed, const void *src, size_t row_bytes,
                         int reversed)
{
    const size_t T = s->T;
    for (size_t i = 0; i < s->N; i++) {
        const size_t n = s->order[i];
        for (size_t t = 0; t < (size_t)s->lengths[n]; t++)
            memcpy((char *)packed + (s->steps.row[t] + i) * row_bytes,
                   (const char *)src + (n * T + source_step(s, n, t, reversed)) * row_bytes,
                   row_bytes);
    }
}

void gr_sequences_scatter(const gr_sequences *s, void *dst, const void *packed, size_t row_bytes,
                          int reversed)
{
    const size_t T = s->T;
    for (size_t i = 0; i < s->N; i++) {
        const size_t n = s->order[i], len = (size_t)s->lengths[n];
        char *seq = (char *)dst + n * T * row_bytes;
        for (size_t t = 0; t < len; t++)
            memcpy(seq + source_step(s, n, t, reversed) * row_bytes,
                   (const char *)packed + (s->steps.row[t] + i) * row_bytes, row_bytes);
        memset(seq + len * row_bytes, 0, (T - len) * row_bytes);  // the steps that did not run
    }
}

void gr_sequences_sort(const gr_sequences *s, void *sorted, const void *src, size_t row_bytes)
{
    for (size_t i = 0; i < s->N; i++)
        memcpy((char *)sorted + i * row_bytes, (const char *)src + s->order[i] * row_bytes,
               row_bytes);
}

void gr_sequences_unsort(const gr_sequences *s, void *dst, const void *sorted, size_t row_bytes)
{
    for (size_t i = 0; i < s->N; i++)
        memcpy((char *)dst + s->order[i] * row_bytes, (const char *)sorted + i * row_bytes,
               row_bytes);
}

void gr_sequences_last(const gr_sequences *s, void *h, const void *packed, const void *h0,
                       size_t row_bytes)
{
    for (size_t i = 0; i < s->N; i++) {
        const size_t n = s->order[i], len = (size_t)s->lengths[n];
        const char *from = len ? (const char *)packed + (s->steps.row[len - 1] + i) * row_bytes
                               : (const char *)h0 + n * row_bytes;
        memcpy((char *)h + n * row_bytes, from, row_bytes);
    }
}
