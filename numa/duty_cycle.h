/* duty_cycle.h - how long a thread's loop turns take: a histogram one
 * thread records into and any thread may read (Aeron's duty cycle
 * tracker, as a distribution rather than a maximum).
 *
 * A shard records every turn that did work (an idle turn of the spin
 * strategy is not a turn of work and would drown the tail); the control
 * thread, metrics and the shutdown report read it while the shard runs.
 *
 * Buckets are log-linear: 2^DUTY_SUB_BITS linear sub-buckets per power of
 * two nanoseconds, so a recorded duration is reported within 12.5% above
 * itself, up to 2^DUTY_MAX_MAGNITUDE ns (~18 minutes; longer is clamped).
 * bucket i covers (duty_cycle_bucket_upper_ns(i - 1), duty_cycle_bucket_upper_ns(i)].
 *
 * Threads: exactly one thread records (no read-modify-write needed: each
 * counter is loaded and stored by its only writer, relaxed); any number
 * read, relaxed too. A reader's snapshot is consistent per counter, not
 * across counters: total may differ from the sum of the buckets by the
 * turns recorded while it read, which is fine for a histogram of
 * millions of turns. Nothing allocates; the struct is embedded. */
#ifndef SLUICE_NUMA_DUTY_CYCLE_H
#define SLUICE_NUMA_DUTY_CYCLE_H

#include <stdatomic.h>
#include <stdint.h>

#define DUTY_SUB_BITS 3
#define DUTY_SUB_COUNT (1u << DUTY_SUB_BITS)
#define DUTY_MAX_MAGNITUDE 40
#define DUTY_BUCKETS ((DUTY_MAX_MAGNITUDE - DUTY_SUB_BITS + 1) * DUTY_SUB_COUNT)

struct duty_cycle {
    _Atomic uint64_t counts[DUTY_BUCKETS];
    _Atomic uint64_t total;        /* turns recorded */
    _Atomic uint64_t sum_ns;       /* their total duration */
    _Atomic uint64_t max_ns;       /* the longest, exact */
    _Atomic uint64_t over_1ms;     /* turns longer than 1 ms, exact */
};

/* A plain copy for reading, made with duty_cycle_read(). */
struct duty_cycle_view {
    uint64_t counts[DUTY_BUCKETS];
    uint64_t total, sum_ns, max_ns, over_1ms;
};

void duty_cycle_init(struct duty_cycle *d);

/* The recording thread only. */
void duty_cycle_record(struct duty_cycle *d, uint64_t ns);

/* Any thread. */
void duty_cycle_read(const struct duty_cycle *d, struct duty_cycle_view *out);

/* The upper bound of bucket i (inclusive), in ns. */
uint64_t duty_cycle_bucket_upper_ns(unsigned i);

/* The smallest bucket bound b such that at least pct percent of the turns
 * took <= b (so a percentile never understates); 100 gives the exact max;
 * 0 when nothing was recorded. */
uint64_t duty_cycle_percentile(const struct duty_cycle_view *v, double pct);

#endif
