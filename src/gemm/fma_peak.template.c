/*
 * The FMA peak of one SIMD path and precision (simd_path.template.c includes
 * this per TYPE and ISA): a loop of independent multiply-add chains held in
 * registers, with no memory traffic, run on the pool's threads at once. Every
 * speed figure of the products is a fraction of it.
 */
#ifndef FMA_CHAINS
/* Independent chains: more than the FMA units times their latency (2 x 4
 * cycles on the x86 cores we know), as many as the registers hold beside the
 * two operands. The generic path has no FMA: a multiply and an add a step. */
#if VBYTES == 64
#define FMA_CHAINS 24
#else
#define FMA_CHAINS 12
#endif
/* The chains stay in registers: the compiler may neither drop nor fold them. */
#if defined(__x86_64__) || defined(__i386__)
#if defined(__AVX512F__)
#define KEEP_IN_REGISTER(v) __asm__ volatile("" : "+v"(v))
#else
#define KEEP_IN_REGISTER(v) __asm__ volatile("" : "+x"(v))
#endif
#elif defined(__aarch64__)
#define KEEP_IN_REGISTER(v) __asm__ volatile("" : "+w"(v))
#else
#define KEEP_IN_REGISTER(v) ((void)0)
#endif
#endif

/* Read at run time, so that the compiler knows nothing of the operands. */
static volatile TYPE FN(fma_factor) = (TYPE)0.9999;

typedef struct FN(peak_job) {
    size_t iterations;
    double *flops, *seconds;
    TYPE sink[64];  /* each thread's sum of its chains: the results are used */
} FN(peak_job);

/* acc = acc * m + c on every chain, `iterations` times; each tends to c / (1 - m) = 1,
 * so that no value overflows or turns denormal. */
static TYPE FN(fma_chains)(size_t iterations)
{
    const TYPE m_scalar = FN(fma_factor);
    const V m = FN(splat)(m_scalar), c = FN(splat)(1 - m_scalar);
    V acc[FMA_CHAINS];
    _Pragma("GCC unroll 32") for (int i = 0; i < FMA_CHAINS; i++) acc[i] = c * (TYPE)i;
    for (size_t n = 0; n < iterations; n++) {
        _Pragma("GCC unroll 32") for (int i = 0; i < FMA_CHAINS; i++) {
            acc[i] = acc[i] * m + c;
            KEEP_IN_REGISTER(acc[i]);
        }
    }
    V sum = acc[0];
    _Pragma("GCC unroll 32") for (int i = 1; i < FMA_CHAINS; i++) sum += acc[i];
    return FN(vsum)(sum);
}

static void FN(peak_run)(void *ctx, gr_team *team, int tid, int nthreads)
{
    (void)team, (void)nthreads;
    FN(peak_job) *job = ctx;
    const double start = gr_seconds();
    job->sink[tid] = FN(fma_chains)(job->iterations);
    job->seconds[tid] = gr_seconds() - start;
    job->flops[tid] = 2.0 * FMA_CHAINS * GW * (double)job->iterations;
}

int FN(gr_simd_fma_peak)(int nthreads, size_t iterations, double *flops, double *seconds)
{
    FN(peak_job) job = {iterations, flops, seconds, {0}};
    gr_run_job(FN(peak_run), &job, nthreads);
    return GR_OK;
}
