/*
 * The book's optimizer rules and clip_grads' sum of squares, for one
 * precision (book_updates.c includes this per TYPE).
 *
 * Each rule is one pass over elements [lo, hi) of one array, reading p, g and
 * the state and writing p and the state. The body of each loop is the book's
 * statements in order, one rounding per NumPy operation: every intermediate
 * is stored in a TYPE (or double) variable, which C11 rounds to its type, and
 * this file is compiled without FMA contraction or fast-math, so that nothing
 * is fused or reassociated. Hyperparameters are cast to TYPE once, as NumPy
 * casts a Python float to the array's dtype.
 */

#if IS_FLOAT
#define SQRT sqrtf
#else
#define SQRT sqrt
#endif

/* eps of the book's sqrt(h) + 1e-7: the Python float 1e-7 cast to TYPE. */
#define BOOK_EPS ((TYPE)1e-7)

static void FN(book_sgd)(TYPE *restrict p, const TYPE *restrict g, size_t lo, size_t hi,
                         const double *hyper)
{
    const TYPE lr = (TYPE)hyper[0];
    for (size_t i = lo; i < hi; i++) {
        const TYPE step = lr * g[i];
        p[i] = p[i] - step;
    }
}

static void FN(book_momentum)(TYPE *restrict p, const TYPE *restrict g, TYPE *restrict v,
                              size_t lo, size_t hi, const double *hyper)
{
    const TYPE momentum = (TYPE)hyper[0], lr = (TYPE)hyper[1];
    for (size_t i = lo; i < hi; i++) {
        const TYPE kept = momentum * v[i];
        const TYPE step = lr * g[i];
        const TYPE v_new = kept - step;
        v[i] = v_new;
        p[i] = p[i] + v_new;
    }
}

static void FN(book_nesterov)(TYPE *restrict p, const TYPE *restrict g, TYPE *restrict v,
                              size_t lo, size_t hi, const double *hyper)
{
    const TYPE momentum = (TYPE)hyper[0], lr = (TYPE)hyper[1];
    const TYPE momentum2 = (TYPE)hyper[2], lr_g = (TYPE)hyper[3];
    for (size_t i = lo; i < hi; i++) {
        TYPE v_new = v[i] * momentum;
        const TYPE step = lr * g[i];
        v_new = v_new - step;
        v[i] = v_new;
        const TYPE ahead = momentum2 * v_new;
        TYPE p_new = p[i] + ahead;
        const TYPE step_g = lr_g * g[i];
        p[i] = p_new - step_g;
    }
}

static void FN(book_adagrad)(TYPE *restrict p, const TYPE *restrict g, TYPE *restrict h,
                             size_t lo, size_t hi, const double *hyper)
{
    const TYPE lr = (TYPE)hyper[0];
    for (size_t i = lo; i < hi; i++) {
        const TYPE g2 = g[i] * g[i];
        const TYPE h_new = h[i] + g2;
        h[i] = h_new;
        const TYPE step = lr * g[i];
        const TYPE denominator = SQRT(h_new) + BOOK_EPS;
        const TYPE quotient = step / denominator;
        p[i] = p[i] - quotient;
    }
}

static void FN(book_rmsprop)(TYPE *restrict p, const TYPE *restrict g, TYPE *restrict h,
                             size_t lo, size_t hi, const double *hyper)
{
    const TYPE decay = (TYPE)hyper[0], keep = (TYPE)hyper[1], lr = (TYPE)hyper[2];
    for (size_t i = lo; i < hi; i++) {
        TYPE h_new = h[i] * decay;
        TYPE added = keep * g[i];   // ((1 - decay) g) g, left to right
        added = added * g[i];
        h_new = h_new + added;
        h[i] = h_new;
        const TYPE step = lr * g[i];
        const TYPE denominator = SQRT(h_new) + BOOK_EPS;
        const TYPE quotient = step / denominator;
        p[i] = p[i] - quotient;
    }
}

/* Adam's moments at one element: m += (1 - beta1) (g - m), v += (1 - beta2)
 * (g g - v); returns sqrt(v) + eps and leaves the new m in *m_new. */
static inline TYPE FN(book_adam_moments)(TYPE g, TYPE *m, TYPE *v, TYPE one_minus_beta1,
                                         TYPE one_minus_beta2, TYPE *m_new)
{
    TYPE dm = g - *m;
    dm = one_minus_beta1 * dm;
    *m_new = *m + dm;
    *m = *m_new;
    TYPE dv = g * g;
    dv = dv - *v;
    dv = one_minus_beta2 * dv;
    const TYPE v_new = *v + dv;
    *v = v_new;
    return SQRT(v_new) + BOOK_EPS;
}

static void FN(book_adam)(TYPE *restrict p, const TYPE *restrict g, TYPE *restrict m,
                          TYPE *restrict v, size_t lo, size_t hi, const double *hyper,
                          int numpy1)
{
    const TYPE one_minus_beta1 = (TYPE)hyper[0], one_minus_beta2 = (TYPE)hyper[1];
    const double lr_t = hyper[2];
    if (IS_FLOAT && numpy1) {
        // NumPy 1: the float64 scalar lr_t takes the array's dtype.
        const TYPE lr_t_cast = (TYPE)lr_t;
        for (size_t i = lo; i < hi; i++) {
            TYPE m_new;
            const TYPE denominator = FN(book_adam_moments)(g[i], &m[i], &v[i], one_minus_beta1,
                                                           one_minus_beta2, &m_new);
            TYPE quotient = lr_t_cast * m_new;
            quotient = quotient / denominator;
            p[i] = p[i] - quotient;
        }
        return;
    }
    // NumPy 2: lr_t m is float64 and so is the quotient; p -= q computes
    // p - q in float64 and rounds it once into p.
    for (size_t i = lo; i < hi; i++) {
        TYPE m_new;
        const TYPE denominator = FN(book_adam_moments)(g[i], &m[i], &v[i], one_minus_beta1,
                                                       one_minus_beta2, &m_new);
        double quotient = lr_t * (double)m_new;
        quotient = quotient / (double)denominator;
        p[i] = (TYPE)((double)p[i] - quotient);
    }
}

/* Elements [lo, hi) of one array under `rule`. */
static void FN(book_rule)(int rule, const gr_book_array *a, size_t lo, size_t hi,
                          const double *hyper, int flags)
{
    TYPE *p = a->param;
    const TYPE *g = a->grad;
    TYPE *s0 = a->state[0], *s1 = a->state[1];
    switch (rule) {
    case GR_BOOK_SGD: FN(book_sgd)(p, g, lo, hi, hyper); break;
    case GR_BOOK_MOMENTUM: FN(book_momentum)(p, g, s0, lo, hi, hyper); break;
    case GR_BOOK_NESTEROV: FN(book_nesterov)(p, g, s0, lo, hi, hyper); break;
    case GR_BOOK_ADAGRAD: FN(book_adagrad)(p, g, s0, lo, hi, hyper); break;
    case GR_BOOK_RMSPROP: FN(book_rmsprop)(p, g, s0, lo, hi, hyper); break;
    case GR_BOOK_ADAM: FN(book_adam)(p, g, s0, s1, lo, hi, hyper, flags & GR_BOOK_NUMPY1); break;
    default: break;  // rejected by gr_book_update
    }
}

/*
 * NumPy's pairwise summation (pairwise_sum in numpy/_core/src/umath/
 * loops_utils.h.src), over the squares: fewer than 8 terms are added in
 * order; up to 128 go to 8 running sums combined as ((0+1)+(2+3))+((4+5)+(6+7))
 * and the remainder added after; more are split in two at a multiple of 8.
 */
#define BOOK_PAIRWISE_BLOCK 128

static TYPE FN(book_pairwise_squares)(const TYPE *a, size_t n)
{
    if (n < 8) {
        TYPE sum = -(TYPE)0;
        for (size_t i = 0; i < n; i++) {
            const TYPE square = a[i] * a[i];
            sum = sum + square;
        }
        return sum;
    }
    if (n <= BOOK_PAIRWISE_BLOCK) {
        TYPE r[8];
        for (int k = 0; k < 8; k++) r[k] = a[k] * a[k];
        size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int k = 0; k < 8; k++) {
                const TYPE square = a[i + k] * a[i + k];
                r[k] = r[k] + square;
            }
        TYPE sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) {
            const TYPE square = a[i] * a[i];
            sum = sum + square;
        }
        return sum;
    }
    size_t half = n / 2;
    half -= half % 8;
    const TYPE left = FN(book_pairwise_squares)(a, half);
    return left + FN(book_pairwise_squares)(a + half, n - half);
}

/* np.sum adds the pairwise sum to the reduction's initial value 0. */
TYPE CAT(gr_book_sum_squares_, SFX)(const TYPE *a, size_t n)
{
    if (n == 0 || !a) return 0;
    return (TYPE)0 + FN(book_pairwise_squares)(a, n);
}

#undef SQRT
#undef BOOK_EPS
#undef BOOK_PAIRWISE_BLOCK
