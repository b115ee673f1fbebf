/* hist.c - the log-linear latency histogram (see hist.h). */
#include "hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Values below 2^HIST_SUB_BITS map to themselves; a value with its highest
 * bit at position m >= HIST_SUB_BITS keeps its top HIST_SUB_BITS+1 bits. */
static unsigned bucket_of(uint64_t v)
{
    if (v < HIST_SUB_COUNT)
        return (unsigned)v;
    unsigned m = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = m - HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) - HIST_SUB_COUNT;
    return (shift + 1) * HIST_SUB_COUNT + sub;
}

/* The highest value that falls into bucket b. */
static uint64_t bucket_high(unsigned b)
{
    if (b < HIST_SUB_COUNT)
        return b;
    unsigned shift = b / HIST_SUB_COUNT - 1;
    uint64_t sub = b % HIST_SUB_COUNT + HIST_SUB_COUNT;
    return ((sub + 1) << shift) - 1;
}

void hist_record(struct hist *h, uint64_t ns)
{
    uint64_t limit = (1ull << HIST_MAX_MAGNITUDE) - 1;

    if (ns > limit) {
        h->clamped++;
        ns = limit;
    }
    h->counts[bucket_of(ns)]++;
    h->total++;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->clamped += src->clamped;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
    if (h->total == 0)
        return 0;
    if (pct <= 0)
        return h->min;
    if (pct >= 100)
        return h->max;
    /* rank = ceil(pct% of total), at least 1; a fraction under 1e-9 is
     * floating-point noise (99.9% of 10000 must be 9990, not 9991) */
    double want = pct * (double)h->total / 100.0;
    uint64_t rank = (uint64_t)want;
    if (want - (double)rank > 1e-9 || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bucket_high(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

void hist_write_csv(const struct hist *h, FILE *f)
{
    static const double points[] = {
        0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.995,
        99.999, 99.9995, 99.9999,
    };

    fprintf(f, "percentile,latency_us\n");
    if (h->total == 0)
        return;
    for (unsigned i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        /* stop where fewer than 10 samples lie above the point */
        if (points[i] > 0 && (100.0 - points[i]) / 100.0 * (double)h->total < 10)
            break;
        fprintf(f, "%g,%.3f\n", points[i], (double)hist_percentile(h, points[i]) / 1e3);
    }
    fprintf(f, "100,%.3f\n", (double)h->max / 1e3);
}
