/* duty_cycle.c - the loop-turn histogram (see duty_cycle.h). */
#include "numa/duty_cycle.h"

#include <string.h>

void duty_cycle_init(struct duty_cycle *d)
{
    for (unsigned i = 0; i < DUTY_BUCKETS; i++)
        atomic_init(&d->counts[i], 0);
    atomic_init(&d->total, 0);
    atomic_init(&d->sum_ns, 0);
    atomic_init(&d->max_ns, 0);
    atomic_init(&d->over_1ms, 0);
}

/* Values below 2^DUTY_SUB_BITS map to themselves; a value whose highest
 * bit is at m >= DUTY_SUB_BITS keeps its top DUTY_SUB_BITS + 1 bits. */
static unsigned bucket_of(uint64_t v)
{
    if (v < DUTY_SUB_COUNT)
        return (unsigned)v;
    unsigned m = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = m - DUTY_SUB_BITS;
    return (shift + 1) * DUTY_SUB_COUNT + (unsigned)(v >> shift) - DUTY_SUB_COUNT;
}

uint64_t duty_cycle_bucket_upper_ns(unsigned i)
{
    if (i < DUTY_SUB_COUNT)
        return i;
    unsigned shift = i / DUTY_SUB_COUNT - 1;
    uint64_t sub = i % DUTY_SUB_COUNT + DUTY_SUB_COUNT;
    return ((sub + 1) << shift) - 1;
}

/* Only this thread writes c: a relaxed load and store is an increment no
 * reader can see torn, without a locked instruction. */
static void bump(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

void duty_cycle_record(struct duty_cycle *d, uint64_t ns)
{
    uint64_t limit = (1ull << DUTY_MAX_MAGNITUDE) - 1;
    if (ns > limit)
        ns = limit;
    bump(&d->counts[bucket_of(ns)], 1);
    bump(&d->total, 1);
    bump(&d->sum_ns, ns);
    if (ns > 1000000)
        bump(&d->over_1ms, 1);
    if (ns > atomic_load_explicit(&d->max_ns, memory_order_relaxed))
        atomic_store_explicit(&d->max_ns, ns, memory_order_relaxed);
}

void duty_cycle_read(const struct duty_cycle *d, struct duty_cycle_view *out)
{
    /* relaxed: counters only, no other memory is published through them */
    for (unsigned i = 0; i < DUTY_BUCKETS; i++)
        out->counts[i] = atomic_load_explicit(&d->counts[i], memory_order_relaxed);
    out->total = atomic_load_explicit(&d->total, memory_order_relaxed);
    out->sum_ns = atomic_load_explicit(&d->sum_ns, memory_order_relaxed);
    out->max_ns = atomic_load_explicit(&d->max_ns, memory_order_relaxed);
    out->over_1ms = atomic_load_explicit(&d->over_1ms, memory_order_relaxed);
}

uint64_t duty_cycle_percentile(const struct duty_cycle_view *v, double pct)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < DUTY_BUCKETS; i++)
        total += v->counts[i];
    if (total == 0)
        return 0;
    if (pct >= 100.0)
        return v->max_ns;
    uint64_t want = (uint64_t)(pct / 100.0 * (double)total + 0.999999);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < DUTY_BUCKETS; i++) {
        seen += v->counts[i];
        if (seen >= want) {
            uint64_t upper = duty_cycle_bucket_upper_ns(i);
            return upper < v->max_ns ? upper : v->max_ns;
        }
    }
    return v->max_ns;
}
