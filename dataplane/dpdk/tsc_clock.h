/* tsc_clock.h - wall-clock nanoseconds from the TSC, for receive
 * timestamps when the port has no clock of its own.
 *
 * One read of the TSC (rte_rdtsc, ~10 ns) instead of a clock_gettime per
 * burst. The TSC's rate is measured against CLOCK_REALTIME over the whole
 * life of the clock, and tsc_clock_recalibrate (once a second, off the hot
 * path) re-anchors it: the rate from the longest baseline, the offset
 * slewed towards CLOCK_REALTIME by at most 1 us a second (a step of the
 * wall clock by more than 1 ms is followed at once, forwards only), so
 * it never goes backwards. One per shard; not shared. */
#ifndef SLUICE_DPDK_TSC_CLOCK_H
#define SLUICE_DPDK_TSC_CLOCK_H

#include <stdint.h>
#include <time.h>

#include <rte_cycles.h>

struct tsc_clock {
    uint64_t tsc0;            /* anchor */
    int64_t ns0;
    double ns_per_tick;
    uint64_t base_tsc;        /* the start, for the rate */
    int64_t base_ns;
    int64_t last;             /* the last value handed out */
};

static inline int64_t tsc_clock_realtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void tsc_clock_init(struct tsc_clock *c)
{
    c->base_tsc = c->tsc0 = rte_rdtsc();
    c->base_ns = c->ns0 = c->last = tsc_clock_realtime();
    c->ns_per_tick = 1e9 / (double)rte_get_tsc_hz();
}

static inline int64_t tsc_clock_ns(struct tsc_clock *c, uint64_t tsc)
{
    int64_t ns = c->ns0 + (int64_t)((double)(tsc - c->tsc0) * c->ns_per_tick);
    if (ns < c->last)
        ns = c->last;
    c->last = ns;
    return ns;
}

static inline void tsc_clock_recalibrate(struct tsc_clock *c)
{
    uint64_t tsc = rte_rdtsc();
    int64_t real = tsc_clock_realtime();
    int64_t est = tsc_clock_ns(c, tsc);
    if (tsc - c->base_tsc > rte_get_tsc_hz() / 2)
        c->ns_per_tick = (double)(real - c->base_ns) / (double)(tsc - c->base_tsc);
    int64_t step = real - est;
    if (step > 1000 && step <= 1000000)
        step = 1000;
    if (step < -1000 && step >= -1000000)
        step = -1000;
    c->tsc0 = tsc;
    c->ns0 = est + step;
    if (c->ns0 < c->last)
        c->ns0 = c->last;
}

#endif
