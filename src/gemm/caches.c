/*
 * The data caches that the product engine blocks for (blocking.h): the sizes
 * of L1d, L2 and L3 and how many CPUs share each, read once at run time from
 * Linux's sysfs (/sys/devices/system/cpu/cpu0/cache), else from the CPU
 * itself (cpuid leaf 4 on Intel, 0x8000001D on AMD), else typical sizes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* Used when neither sysfs nor cpuid answers: a small core of the last decade. */
static const size_t fallback_bytes[3] = {32u << 10, 512u << 10, 8u << 20};

/* The first line of a sysfs file, or 0 if it cannot be read. */
static int read_line(const char *path, char *line, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(line, (int)size, f) != NULL;
    fclose(f);
    return ok;
}

/* CPUs in a list such as "0-3,8-11" (shared_cpu_list). */
static int count_cpus(const char *list)
{
    int count = 0;
    for (const char *p = list; *p && *p != '\n';) {
        unsigned lo, hi;
        int used = 0;
        if (sscanf(p, "%u-%u%n", &lo, &hi, &used) == 2 && hi >= lo) count += (int)(hi - lo + 1);
        else if (sscanf(p, "%u%n", &lo, &used) == 1) count += 1;
        else break;
        p += used;
        if (*p == ',') p++;
    }
    return count;
}

static int from_sysfs(size_t bytes[3], int shared_by[3])
{
    int found = 0;
    for (int index = 0; index < 16; index++) {
        char path[96], line[256];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
        if (!read_line(path, line, sizeof line)) break;
        int level = atoi(line);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", index);
        if (level < 1 || level > 3 || !read_line(path, line, sizeof line)
            || strncmp(line, "Instruction", 11) == 0)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
        if (!read_line(path, line, sizeof line)) continue;
        char unit = 0;
        unsigned long value = 0;
        if (sscanf(line, "%lu%c", &value, &unit) < 1 || value == 0) continue;
        bytes[level - 1] = value << (unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : 0);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/shared_cpu_list",
                 index);
        int cpus = read_line(path, line, sizeof line) ? count_cpus(line) : 1;
        shared_by[level - 1] = cpus >= 1 ? cpus : 1;
        found |= 1 << (level - 1);
    }
    return found == 7;
}

static int from_cpuid(size_t bytes[3], int shared_by[3])
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax, ebx, ecx, edx, leaf = 4;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return 0;
    if (eax < 4) {  // AMD: the cache topology leaf, when the CPU has it
        if (!__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) || eax < 0x8000001Du) return 0;
        leaf = 0x8000001Du;
    }
    int found = 0;
    for (unsigned sub = 0; sub < 16; sub++) {
        if (!__get_cpuid_count(leaf, sub, &eax, &ebx, &ecx, &edx)) return 0;
        const unsigned type = eax & 31, level = (eax >> 5) & 7;
        if (type == 0) break;
        if (type == 2 || level < 1 || level > 3) continue;  // instructions
        const size_t ways = (ebx >> 22) + 1, partitions = ((ebx >> 12) & 1023) + 1;
        const size_t line = (ebx & 4095) + 1, sets = (size_t)ecx + 1;
        bytes[level - 1] = ways * partitions * line * sets;
        shared_by[level - 1] = (int)((eax >> 14) & 4095) + 1;
        found |= 1 << (level - 1);
    }
    return (found & 3) == 3;  // some CPUs have no L3
#else
    (void)bytes, (void)shared_by;
    return 0;
#endif
}

/* Whether the sizes below were read: 0 not yet, else the source + 1. Stored
 * with release order after them, loaded with acquire before reading them. */
#if defined(__STDC_NO_ATOMICS__)
static int known = 0;
#define LOAD_KNOWN() known
#define STORE_KNOWN(v) (known = (v))
#else
#include <stdatomic.h>
static atomic_int known = 0;
#define LOAD_KNOWN() atomic_load_explicit(&known, memory_order_acquire)
#define STORE_KNOWN(v) atomic_store_explicit(&known, (v), memory_order_release)
#endif
static size_t cache_bytes[3];
static int cache_shared_by[3];

int gr_cache_sizes(size_t bytes[3], int shared_by[3])
{
    int source = LOAD_KNOWN() - 1;
    if (source < 0) {
        // Threads that race here read the same values and store the same.
        size_t b[3] = {0, 0, 0};
        int s[3] = {1, 1, 1};
        source = GR_CACHES_FROM_SYSFS;
        if (!from_sysfs(b, s)) {
            memset(b, 0, sizeof b);
            s[0] = s[1] = s[2] = 1;
            source = GR_CACHES_FROM_CPUID;
            if (!from_cpuid(b, s)) source = GR_CACHES_ASSUMED;
        }
        for (int level = 0; level < 3; level++) {
            if (source == GR_CACHES_ASSUMED || b[level] == 0) b[level] = fallback_bytes[level];
            cache_bytes[level] = b[level];
            cache_shared_by[level] = s[level];
        }
        STORE_KNOWN(source + 1);
    }
    for (int level = 0; level < 3; level++) {
        if (bytes) bytes[level] = cache_bytes[level];
        if (shared_by) shared_by[level] = cache_shared_by[level];
    }
    return source;
}
