/* shard_cleaner.h - a shard's log compaction and the storage chores it
 * must not block on: which of its logs to clean and when, where the clean
 * job runs, durable log-start checkpoints for DeleteRecords, and closing
 * the descriptors of segments that left a log.
 *
 * Where compaction runs (sluice.cleaner.mode; measured in bench/, see the
 * README): "thread" (the default) is Kafka's way: each shard has one
 * cleaner thread at nice 19, which runs a job to completion on sealed,
 * immutable files and hands it back through an SPSC ring; the shard only
 * swaps the cleaned segments into its log (pointer moves). "slices" is
 * Redpanda's way: the job runs on the shard itself, at most
 * SHARD_CLEAN_SLICE_US per loop turn, its fsyncs on the shard's io_uring.
 * On this 2-core machine the thread kept produce p99 flat where slices
 * add up to a slice to every request that arrives during one (figures in
 * bench/README.md): the kernel preempts a nice-19 thread as soon as a
 * shard wakes, which a slice cannot do. So the thread is the default and
 * slices stay selectable for machines with spare cores to measure on.
 *
 * Never: blocks the shard loop (every blocking call is on the thread),
 * or lets the thread touch a struct log. */
#ifndef SLUICE_SHARD_CLEANER_H
#define SLUICE_SHARD_CLEANER_H

#include <stdbool.h>
#include <stdint.h>

struct shard;
struct partition;
struct request;

/* Allocates the shard's cleaner (no thread yet: it starts when first
 * needed). 0 or -ENOMEM. */
int shard_cleaner_init(struct shard *s);
/* Takes back every job, closes every retired descriptor, stops the thread. */
void shard_cleaner_close(struct shard *s);

/* Once per loop turn: finished jobs and tasks, the next slice. Cheap when
 * there is nothing to do (a counter check). Returns the work done. A
 * slice's budget is measured on the real monotonic clock (it bounds real
 * time spent), not the turn's injected one. */
int shard_cleaner_do_work(struct shard *s);
/* True while a slice job has work that should keep the loop from sleeping. */
bool shard_cleaner_busy(const struct shard *s);
/* Once per tick: starts a clean of the dirtiest due log, closes retired
 * descriptors no answer refers to any more. */
void shard_cleaner_tick(struct shard *s);

/* Before a partition's log is closed: its job, if any, is aborted at its
 * next safe point and taken back (blocking briefly). */
void shard_cleaner_forget(struct shard *s, struct partition *p);

/* DeleteRecords: writes p's log start checkpoint durably on the cleaner
 * thread; *done (0 meanwhile) becomes 1, or a negative errno, when it is.
 * *done must stay valid until then. Returns 0 or a negative errno. */
int shard_cleaner_persist_start(struct shard *s, struct partition *p, int64_t offset,
                                volatile int *done);

#endif
