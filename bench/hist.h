/* hist.h - a log-linear latency histogram in the manner of HdrHistogram.
 *
 * Written here because Debian has no HdrHistogram C library: values (in
 * nanoseconds) fall into 2^HIST_SUB_BITS linear sub-buckets per power of
 * two, so any recorded value is reported within 1/2^HIST_SUB_BITS (0.8%)
 * of itself, from 1 ns up to 2^HIST_MAX_MAGNITUDE ns (about 78 hours; larger
 * values are clamped and counted in `clamped`). Recording is a few
 * instructions and no allocation: one histogram per thread, merged at the
 * end with hist_merge().
 */
#ifndef SLUICE_BENCH_HIST_H
#define SLUICE_BENCH_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS 7
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
#define HIST_MAX_MAGNITUDE 48
#define HIST_BUCKETS ((HIST_MAX_MAGNITUDE - HIST_SUB_BITS + 1) * HIST_SUB_COUNT)

struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t min;              /* exact, ns (UINT64_MAX when empty) */
    uint64_t max;              /* exact, ns */
    uint64_t clamped;          /* values above the range */
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t ns);
void hist_merge(struct hist *dst, const struct hist *src);

/* The smallest recorded value v such that at least pct percent of the
 * values are <= v, reported as the highest value of its bucket (so a
 * percentile never understates); 100 gives the exact max, 0 the min. */
uint64_t hist_percentile(const struct hist *h, double pct);

/* Writes the percentile distribution as CSV lines "percentile,latency_us"
 * at log-spaced points (50, 75, 90, 95, 99, 99.5, 99.9, ... up to the last
 * point the count can resolve, then 100), the form HdrHistogram's plots use. */
void hist_write_csv(const struct hist *h, FILE *f);

#endif
