/* histogram.h - a fixed-bucket histogram in Prometheus's shape: one count
 * per upper bound (le), a +Inf count, the sum and the largest value seen.
 *
 * Written by exactly one thread (a shard records into its own), with
 * plain stores: nobody else reads the memory while it is written. Other
 * threads see copies, handed over through the SPSC rings (whose
 * release/acquire pairs order them). Recording is a short scan of at most
 * HIST_BOUNDS_MAX bounds and two adds: no lock, no allocation, no syscall.
 *
 * Bounds are set once (hist_init) from a static table: latency bounds in
 * nanoseconds (exported as seconds, Prometheus's base unit), or sizes. */
#ifndef SLUICE_METRICS_HISTOGRAM_H
#define SLUICE_METRICS_HISTOGRAM_H

#include <stdint.h>

#define HIST_BOUNDS_MAX 24

struct hist_bounds {
    int n;
    uint64_t le[HIST_BOUNDS_MAX];   /* ascending */
    double scale;                   /* exported value = raw * scale */
};

/* 10 us .. 10 s, the Prometheus client defaults widened down to the
 * microseconds a broker on one box lives in, and up to show a stall. */
extern const struct hist_bounds hist_latency_ns;
/* 1, 2, 4 .. 65536: records per group commit. */
extern const struct hist_bounds hist_pow2;

struct hist {
    const struct hist_bounds *b;
    uint64_t count[HIST_BOUNDS_MAX + 1];   /* [n] is the +Inf bucket */
    uint64_t sum;
    uint64_t max;
};

static inline void hist_init(struct hist *h, const struct hist_bounds *b)
{
    *h = (struct hist){ .b = b };
}

static inline void hist_record(struct hist *h, uint64_t v)
{
    int i = 0;
    if (!h->b)
        return;
    while (i < h->b->n && v > h->b->le[i])
        i++;
    h->count[i]++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

static inline uint64_t hist_total(const struct hist *h)
{
    uint64_t n = 0;
    for (int i = 0; h->b && i <= h->b->n; i++)
        n += h->count[i];
    return n;
}

/* Adds src's counts into dst (same bounds; dst takes src's if unset). */
static inline void hist_merge(struct hist *dst, const struct hist *src)
{
    if (!src->b)
        return;
    if (!dst->b)
        dst->b = src->b;
    for (int i = 0; i <= src->b->n; i++)
        dst->count[i] += src->count[i];
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}

#endif
