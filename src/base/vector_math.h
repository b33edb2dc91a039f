/*
 * exp, sigmoid and tanh on lanes (lanes_vector.h or lanes_scalar.h), written
 * once for every path and precision. libm's exp does not vectorize; this one
 * is plain arithmetic accurate to a few ulps, and never overflows or produces
 * a denormal.
 *
 * exp(x) for x <= 0: x = k ln2 + r with |r| <= ln2/2, a Taylor polynomial in
 * r, and 2^k put into the exponent bits. Below EXP_MIN the result is 0 (no
 * denormals; exp(-inf) = 0 as in NumPy, so that 0 * inf gives NaN where the
 * spec's does): the argument is clamped there before the shift, NaN too, so
 * that k stays in [EXP_MIN / ln2, 0] and the shift is defined, and the
 * results put NaN back.
 */

/* Splits x as k ln2 + r, returning r and setting *two_to_k. */
static inline V FN(exp_reduce)(V x, V *two_to_k)
{
    const V lowest = FN(splat)(EXP_MIN), magic = FN(splat)(ROUNDING_MAGIC);
    V clamped = FN(select)(FN(mask_ge)(x, lowest), x, lowest);
    // The rounding constant leaves k in the low mantissa bits: k is read as
    // an integer without a conversion.
    V shifted = clamped * (TYPE)1.4426950408889634 + magic;
    IV k_int = FN(bits)(shifted) - FN(bits)(magic);
    V k = shifted - magic;
    *two_to_k = FN(from_bits)((k_int + EXP_BIAS) << MANTISSA_BITS);
    return (clamped - k * LN2_HI) - k * LN2_LO;
}

/* The Taylor series of exp(r) from its term of degree `first`, divided by r^first. */
static inline V FN(exp_series)(V r, int first)
{
    static const TYPE inverse_factorials[EXP_DEGREE + 1] = EXP_COEFFICIENTS;
    V poly = FN(splat)(inverse_factorials[EXP_DEGREE]);
#pragma GCC unroll 16
    for (int d = EXP_DEGREE - 1; d >= first; d--) poly = poly * r + inverse_factorials[d];
    return poly;
}

/* result where x is a number, x (NaN) where it is not. */
static inline V FN(keep_nan)(V x, V result) { return FN(select)(FN(mask_isnum)(x), result, x); }

static inline V FN(exp_nonpositive)(V x)
{
    V two_to_k, r = FN(exp_reduce)(x, &two_to_k);
    IV in_range = FN(mask_ge)(x, FN(splat)(EXP_MIN));
    V e = FN(select)(in_range, FN(exp_series)(r, 0) * two_to_k, FN(splat)(0));
    return FN(keep_nan)(x, e);
}

/* exp(x) - 1 for x <= 0, as 2^k (exp(r) - 1) + (2^k - 1): no cancellation near 0. */
static inline V FN(expm1_nonpositive)(V x)
{
    V two_to_k, r = FN(exp_reduce)(x, &two_to_k);
    IV in_range = FN(mask_ge)(x, FN(splat)(EXP_MIN));
    V em1 = two_to_k * (FN(exp_series)(r, 1) * r) + (two_to_k - (TYPE)1);
    return FN(keep_nan)(x, FN(select)(in_range, em1, FN(splat)(-1)));
}

/* 1 / (1 + exp(-x)), from exp(-|x|) so that nothing overflows. */
static inline V FN(sigmoid)(V x)
{
    V e = FN(exp_nonpositive)(FN(neg_abs)(x));
    V r = FN(recip)((TYPE)1 + e);
    return FN(select)(FN(mask_ge)(x, FN(splat)(0)), r, e * r);
}

/* tanh(|x|) = -m / (2 + m) with m = expm1(-2|x|), with the sign of x:
 * accurate relative to the result for small |x|, where (1 - e) / (1 + e)
 * would cancel. */
static inline V FN(tanh)(V x)
{
    V m = FN(expm1_nonpositive)(FN(neg_abs)(x + x));
    V t = -m * FN(recip)((TYPE)2 + m);
    return FN(select)(FN(mask_lt)(x, FN(splat)(0)), -t, t);
}
