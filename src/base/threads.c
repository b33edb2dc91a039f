/*
 * A small pool of worker threads for the fast kernels.
 *
 * One job runs at a time: gr_run_job() signals n - 1 workers and runs the job
 * on the caller too. Inside a job the work is a sequence of items in phases
 * (internal.h): threads claim items from one counter and wait only for the
 * items of earlier phases to be done, never for a thread to arrive. So a
 * thread that the OS keeps off its core (another process, or BLAS threads
 * spinning after a NumPy call) slows the job by its own share at most, and a
 * worker that never got to start is called off. Every item is computed the
 * same way whichever thread runs it: results do not depend on the thread
 * count or on timing.
 *
 * Waiting threads spin briefly (items take microseconds), then yield; idle
 * workers spin for 0.1 ms, yield their core for 2 ms, then sleep on a
 * condition variable, so an idle pool costs no CPU. The thread count is gr_set_num_threads(), else GATEDRNN_NUM_THREADS,
 * else OMP_NUM_THREADS, else the CPUs this process may run on. Without POSIX
 * threads every job runs on the caller alone.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity */
#endif

#include <stdlib.h>
#include <time.h>

#include "base/internal.h"

#if defined(__STDC_NO_ATOMICS__) || defined(_WIN32) || defined(GATEDRNN_NO_THREADS)
#define GR_HAVE_THREADS 0
#else
#define GR_HAVE_THREADS 1
#endif

static gr_setting requested_threads = 0; /* 0: the default */

#if GR_HAVE_THREADS

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long a thread spins before it yields or sleeps, in nanoseconds. */
#define SPIN_NS 50000         /* waiting for items: then sched_yield() between checks */
#define IDLE_SPIN_NS 100000   /* an idle worker spins this long, */
#define IDLE_YIELD_NS 2000000 /* then yields its core between checks, then sleeps */

struct gr_team {
    atomic_size_t next;  /* the next item to claim */
    atomic_size_t done;  /* items finished */
};

enum { SLOT_IDLE, SLOT_POSTED, SLOT_RUNNING, SLOT_CALLED_OFF };

/* Worker tid starts a job when go changes and it wins state POSTED -> RUNNING. */
static struct {
    atomic_uint go;
    atomic_int state;
    char pad[64 - sizeof(atomic_uint) - sizeof(atomic_int)];
} slot[GR_MAX_THREADS];

static struct {
    pthread_mutex_t job_lock;    /* held by the caller of the running job */
    pthread_mutex_t sleep_lock;  /* with `wake`, for idle workers */
    pthread_cond_t wake;
    atomic_int sleepers;
    atomic_int finished;         /* workers done with the current job */
    int nworkers;                /* workers started so far (tids 1 .. nworkers) */
    gr_job_fn job;
    void *ctx;
    int job_threads;
    gr_team team;
} pool = {
    .job_lock = PTHREAD_MUTEX_INITIALIZER,
    .sleep_lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Jobs in which a worker took part, for the tests (gr_jobs_shared). */
static atomic_size_t jobs_shared;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spin, then yield the core, until *counter >= target. */
static void wait_until(atomic_size_t *counter, size_t target)
{
    uint64_t start = 0;
    unsigned spins = 0;
    while (atomic_load_explicit(counter, memory_order_acquire) < target) {
        CPU_RELAX();
        if ((++spins & 63) == 0) {
            if (!start) start = now_ns();
            else if (now_ns() - start > SPIN_NS) sched_yield();
        }
    }
}

/* After fork() the child has no workers: start again from none. */
static void forget_workers_after_fork(void)
{
    pthread_mutex_init(&pool.job_lock, NULL);
    pthread_mutex_init(&pool.sleep_lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    atomic_store(&pool.sleepers, 0);
    pool.nworkers = 0;
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, forget_workers_after_fork); }

static void *worker_main(void *arg)
{
    const int tid = (int)(intptr_t)arg;
    atomic_uint *go = &slot[tid].go;
    unsigned seen = 0;  /* ensure_workers() zeroed go before starting this thread */
    for (;;) {
        const uint64_t idle_since = now_ns();
        unsigned spins = 0;
        int yielding = 0;
        while (atomic_load_explicit(go, memory_order_acquire) == seen) {
            if (!yielding) {
                CPU_RELAX();
                if ((++spins & 255) == 0 && now_ns() - idle_since > IDLE_SPIN_NS) yielding = 1;
                continue;
            }
            // Waking a sleeping thread can take a millisecond on a virtual
            // machine; a yielding one answers at once and gives way to any
            // other thread that wants the core.
            sched_yield();
            if ((++spins & 15) == 0 && now_ns() - idle_since > IDLE_YIELD_NS) {
                pthread_mutex_lock(&pool.sleep_lock);
                atomic_fetch_add(&pool.sleepers, 1);
                while (atomic_load(go) == seen)
                    pthread_cond_wait(&pool.wake, &pool.sleep_lock);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.sleep_lock);
            }
        }
        seen = atomic_load(go);
        // The job's fields hold from POSTED until this thread reports back.
        int posted = SLOT_POSTED;
        if (!atomic_compare_exchange_strong(&slot[tid].state, &posted, SLOT_RUNNING))
            continue;  // called off: the caller finished without us
        pool.job(pool.ctx, &pool.team, tid, pool.job_threads);
        atomic_store(&slot[tid].state, SLOT_IDLE);
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
    }
    return NULL;
}

/* Start workers up to tid n - 1; returns how many threads can take part. */
static int ensure_workers(int n)
{
    pthread_once(&atfork_once, register_atfork);
    while (pool.nworkers < n - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        atomic_store(&slot[pool.nworkers + 1].go, 0);
        atomic_store(&slot[pool.nworkers + 1].state, SLOT_IDLE);
        int failed = pthread_create(&thread, &attr, worker_main,
                                    (void *)(intptr_t)(pool.nworkers + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;
        pool.nworkers++;
    }
    return pool.nworkers + 1 < n ? pool.nworkers + 1 : n;
}

size_t gr_claim(gr_team *team)
{
    return atomic_fetch_add_explicit(&team->next, 1, memory_order_relaxed);
}

void gr_item_done(gr_team *team) { atomic_fetch_add_explicit(&team->done, 1, memory_order_release); }

void gr_wait_done(gr_team *team, size_t items) { wait_until(&team->done, items); }

void gr_run_job(gr_job_fn job, void *ctx, int nthreads)
{
    if (nthreads > GR_MAX_THREADS) nthreads = GR_MAX_THREADS;
    if (nthreads <= 1 || pthread_mutex_trylock(&pool.job_lock) != 0) {
        gr_team alone = {0};
        job(ctx, &alone, 0, 1);
        return;
    }
    nthreads = ensure_workers(nthreads);
    pool.job = job;
    pool.ctx = ctx;
    pool.job_threads = nthreads;
    atomic_store(&pool.team.next, 0);
    atomic_store(&pool.team.done, 0);
    atomic_store(&pool.finished, 0);
    for (int tid = 1; tid < nthreads; tid++) {
        atomic_store(&slot[tid].state, SLOT_POSTED);
        atomic_fetch_add(&slot[tid].go, 1);  /* seq_cst: ordered before reading sleepers */
    }
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    job(ctx, &pool.team, 0, nthreads);
    int running = 0;
    for (int tid = 1; tid < nthreads; tid++) {
        int posted = SLOT_POSTED;
        if (!atomic_compare_exchange_strong(&slot[tid].state, &posted, SLOT_CALLED_OFF))
            running++;
    }
    uint64_t start = 0;
    unsigned spins = 0;
    while (atomic_load_explicit(&pool.finished, memory_order_acquire) < running) {
        CPU_RELAX();
        if ((++spins & 63) == 0) {
            if (!start) start = now_ns();
            else if (now_ns() - start > SPIN_NS) sched_yield();
        }
    }
    if (running) atomic_fetch_add_explicit(&jobs_shared, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool.job_lock);
}

size_t gr_jobs_shared(void) { return atomic_load_explicit(&jobs_shared, memory_order_relaxed); }

static int default_threads(void)
{
    static const char *const names[] = {"GATEDRNN_NUM_THREADS", "OMP_NUM_THREADS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        if (value && *value) {
            long n = strtol(value, NULL, 10);  /* "4,2" (OpenMP's nesting list) reads 4 */
            if (n >= 1) return n < GR_MAX_THREADS ? (int)n : GR_MAX_THREADS;
        }
    }
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n >= 1) return n < GR_MAX_THREADS ? n : GR_MAX_THREADS;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n < GR_MAX_THREADS ? (int)n : GR_MAX_THREADS;
}

#else /* no threads: every job runs on the caller */

struct gr_team {
    size_t next;
};

size_t gr_claim(gr_team *team) { return team->next++; }
void gr_item_done(gr_team *team) { (void)team; }
void gr_wait_done(gr_team *team, size_t items) { (void)team, (void)items; }

void gr_run_job(gr_job_fn job, void *ctx, int nthreads)
{
    (void)nthreads;
    gr_team alone = {0};
    job(ctx, &alone, 0, 1);
}

static int default_threads(void) { return 1; }

size_t gr_jobs_shared(void) { return 0; }

#endif /* GR_HAVE_THREADS */

double gr_seconds(void)
{
#if defined(CLOCK_MONOTONIC) && GR_HAVE_THREADS
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
#else
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
#endif
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int gr_threads_in_effect(void)
{
    static gr_setting fallback = 0;  /* the default, read from the environment once */
    int n = gr_setting_load(&requested_threads);
    if (n > 0) return n;
    n = gr_setting_load(&fallback);
    if (!n) {
        n = default_threads();
        gr_setting_store(&fallback, n);
    }
    return n;
}

int gr_set_num_threads(int n)
{
    int previous = gr_threads_in_effect();
#if GR_HAVE_THREADS
    gr_setting_store(&requested_threads, n <= 0 ? 0 : n < GR_MAX_THREADS ? n : GR_MAX_THREADS);
#else
    gr_setting_store(&requested_threads, n <= 0 ? 0 : 1);
#endif
    return previous;
}

int gr_get_num_threads(void) { return gr_threads_in_effect(); }
